/**
 * The SSM Command document that sets up SSH access on a host, and the SendCommand parameters
 * that carry an access spec to it. `SetupDocument` deploys renderDocumentJson(); `pka document`
 * prints it; the provisioner sends documentParameters(spec).
 */
import { AccessSpec, AccessSpecError, firstBadManifestLine, renderManifest } from "./accessSpec";
import { sha256Hex } from "./accessStore";
import { scriptLines } from "./script.sh";

export const DOCUMENT_SCHEMA_VERSION = "2.2";
/** Parameter carrying the access manifest, base64 (the script reads $SSM_AccessSpec). */
export const SPEC_PARAMETER = "AccessSpec";
/** Parameter carrying the manifest's hex sha256 (the script refuses a truncated or altered spec). */
export const SPEC_SHA_PARAMETER = "AccessSpecSha256";
/** Canonical, padded base64; no length bound here because Go's regexp refuses repeat counts over 1000. */
export const SPEC_ALLOWED_PATTERN = "^(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$";
export const SHA_ALLOWED_PATTERN = "^[0-9a-f]{64}$";
/** SSM's limit for a command: document content plus run-time parameters. */
export const MAX_COMMAND_BYTES = 64 * 1024;
/** The script refuses a longer AccessSpec value (matches its MAX_B64). */
export const MAX_SPEC_BASE64 = 65536;
export const STEP_NAME = "configureSshAccess";
export const STEP_TIMEOUT_SECONDS = 300;

/** ListCommandInvocations (Details) keeps this much of a plugin's output (SSM API Reference, CommandPlugin `Output`); GetCommandInvocation keeps 24,000 characters of stdout. */
export const LISTED_OUTPUT_LIMIT = 2500;
/** How aws:runShellScript joins stderr to stdout in a plugin's output. */
export const PLUGIN_ERROR_MARK = "\n----------ERROR-------\n";

/** A plugin's `Output` as ListCommandInvocations (Details) lists it: stdout, then the error mark and stderr when there is any, cut at LISTED_OUTPUT_LIMIT. */
export function listedPluginOutput(stdout: string, stderr: string): string {
    return (stderr ? `${stdout}${PLUGIN_ERROR_MARK}${stderr}` : stdout).slice(0, LISTED_OUTPUT_LIMIT);
}

export function renderDocument(): object {
    return {
        schemaVersion: DOCUMENT_SCHEMA_VERSION,
        description:
            "pka-fleet: creates the access spec's users (no usable password), their sudoers.d drop-ins, and a managed " +
            "block in ~/.ssh/authorized_keys; revokes users and keys dropped from the spec; prints the host keys. " +
            "Parameters arrive as environment variables only (ENV_VAR); get them with `pka document-params --spec FILE`.",
        parameters: {
            [SPEC_PARAMETER]: {
                type: "String",
                description: "The access spec in the pka-fleet manifest format, base64. Build it with `pka document-params`.",
                interpolationType: "ENV_VAR",
                allowedPattern: SPEC_ALLOWED_PATTERN,
            },
            [SPEC_SHA_PARAMETER]: {
                type: "String",
                description: "Hex sha256 of the decoded AccessSpec; the script refuses a spec that does not match.",
                interpolationType: "ENV_VAR",
                allowedPattern: SHA_ALLOWED_PATTERN,
            },
        },
        mainSteps: [
            {
                action: "aws:runShellScript",
                name: STEP_NAME,
                precondition: { StringEquals: ["platformType", "Linux"] },
                inputs: { timeoutSeconds: String(STEP_TIMEOUT_SECONDS), runCommand: scriptLines() },
            },
        ],
    };
}

let cachedJson: string | undefined;

/** The document as the exact JSON text deployed (compact: the 64 KB budget is shared with the parameters). */
export function renderDocumentJson(): string {
    if (cachedJson === undefined) {
        cachedJson = JSON.stringify(renderDocument());
        // The agent substitutes double-brace parameter references in the text even with ENV_VAR.
        if (cachedJson.includes("{{")) throw new Error("the setup document must not contain '{{'");
    }
    return cachedJson;
}

/** Bytes SSM counts for a command: the document content plus the parameters (as JSON). */
export function commandBytes(parameters: Record<string, string[]>): number {
    return Buffer.byteLength(renderDocumentJson()) + Buffer.byteLength(JSON.stringify(parameters));
}

/** The largest AccessSpec base64 value that still fits the 64 KB budget. */
export function maxSpecBase64Length(): number {
    const overhead = commandBytes({ [SPEC_PARAMETER]: [""], [SPEC_SHA_PARAMETER]: ["0".repeat(64)] });
    const room = Math.min(MAX_COMMAND_BYTES - overhead, MAX_SPEC_BASE64);
    return room - (room % 4);
}

/**
 * The SendCommand `Parameters` for a validated spec: { AccessSpec: [base64], AccessSpecSha256: [hex] }.
 * Throws AccessSpecError when the spec cannot be carried (over the 64 KB budget) or would be
 * refused by the script.
 */
export function documentParameters(spec: AccessSpec): Record<string, string[]> {
    const manifest = renderManifest(spec);
    const bad = firstBadManifestLine(manifest);
    if (bad) {
        throw new AccessSpecError("", `the spec renders a line the host script would refuse (manifest line ${bad}); validate it with validateAccessSpec first`);
    }
    const b64 = Buffer.from(manifest, "utf8").toString("base64");
    const params = {
        [SPEC_PARAMETER]: [b64],
        [SPEC_SHA_PARAMETER]: [sha256Hex(manifest)],
    };
    const size = commandBytes(params);
    if (size > MAX_COMMAND_BYTES || b64.length > MAX_SPEC_BASE64) {
        const keys = spec.users.reduce((n, u) => n + u.keys.length, 0);
        throw new AccessSpecError(
            "",
            `the access spec (${spec.users.length} users, ${keys} keys) makes the command ${size} bytes, over SSM's ` +
                `${MAX_COMMAND_BYTES}-byte limit for document plus parameters by ${size - MAX_COMMAND_BYTES}; the spec may ` +
                `use at most ${maxSpecBase64Length()} base64 characters (${Math.floor((maxSpecBase64Length() * 3) / 4)} bytes of manifest): ` +
                `drop keys, prefer ed25519 over RSA keys (about 10x smaller), or split the fleet into several specs`,
        );
    }
    return params;
}
