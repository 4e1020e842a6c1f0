/**
 * The SSM Command document that sets up SSH access on a host, exactly as `SetupDocument` deploys
 * it and `pka document` prints it: one aws:runShellScript step running the setup script, and the
 * two ENV_VAR parameters that carry the access spec.
 */
import { scriptLines } from "../script/setupScript";
import {
    DOCUMENT_SCHEMA_VERSION,
    SHA_ALLOWED_PATTERN,
    SPEC_ALLOWED_PATTERN,
    SPEC_PARAMETER,
    SPEC_SHA_PARAMETER,
    STEP_NAME,
    STEP_TIMEOUT_SECONDS,
} from "./names";

export * from "./names";

/** The document as an object; renderDocumentJson() is its deployed text. */
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
                description:
                    "The access spec in the pka-fleet manifest format, base64. Build it with `pka document-params`.",
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
