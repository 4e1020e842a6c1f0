/**
 * The SendCommand parameters that carry an access spec to the document (the provisioner sends
 * documentParameters(spec)), and the 64 KB budget SSM gives document and parameters together.
 */
import { AccessSpec, AccessSpecError } from "../accessSpecTypes";
import { sha256Hex } from "../accessStore";
import { firstBadManifestLine, renderManifest } from "./manifest";
import { SPEC_PARAMETER, SPEC_SHA_PARAMETER } from "./names";
import { documentJsonBytes } from "./size";

/** SSM's limit for a command: document content plus run-time parameters. */
export const MAX_COMMAND_BYTES = 64 * 1024;
/** The script refuses a longer AccessSpec value (matches its MAX_B64). */
export const MAX_SPEC_BASE64 = 65536;

/** Bytes SSM counts for a command: the document content plus the parameters (as JSON). */
export function commandBytes(parameters: Record<string, string[]>): number {
    return documentJsonBytes() + Buffer.byteLength(JSON.stringify(parameters));
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
        throw new AccessSpecError(
            "",
            `the spec renders a line the host script would refuse (manifest line ${bad}); validate it with validateAccessSpec first`,
        );
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
