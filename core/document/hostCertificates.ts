/**
 * The host-certificate document: one aws:runShellScript step that installs the certificates the
 * provisioner signed (core/script/hostCertScript.ts). One per fleet, because its script carries
 * the fleet's host CA key: only a deploy changes which CA a host accepts certificates from.
 */
import { hostCertificateScript, MAX_HOST_CERTIFICATES } from "../script/hostCertScript";
import { DOCUMENT_SCHEMA_VERSION, SPEC_ALLOWED_PATTERN } from "./names";

import { HOST_CERTS_PARAMETER, HOST_CERTS_STEP_NAME } from "./hostCertificateParameters";

export { HOST_CERTS_PARAMETER, HOST_CERTS_STEP_NAME, hostCertificateParameters } from "./hostCertificateParameters";

/** The document for the host CA `caPublicKey` (`type base64`, no comment). */
export function renderHostCertificateDocument(caPublicKey: string): object {
    return {
        schemaVersion: DOCUMENT_SCHEMA_VERSION,
        description:
            "pka-fleet: installs host certificates signed by the fleet's host CA for this host's own keys (HostCertificate, " +
            "an sshd_config.d drop-in checked with sshd -t, put back on failure) and reloads sshd. Certificates arrive as an " +
            "environment variable only (ENV_VAR).",
        parameters: {
            [HOST_CERTS_PARAMETER]: {
                type: "String",
                description: `Base64 of up to ${MAX_HOST_CERTIFICATES} OpenSSH host certificate lines; the script installs only those of this host's keys, signed by the document's CA.`,
                interpolationType: "ENV_VAR",
                allowedPattern: SPEC_ALLOWED_PATTERN,
            },
        },
        mainSteps: [
            {
                action: "aws:runShellScript",
                name: HOST_CERTS_STEP_NAME,
                precondition: { StringEquals: ["platformType", "Linux"] },
                inputs: { timeoutSeconds: "120", runCommand: hostCertificateScript(caPublicKey).split("\n") },
            },
        ],
    };
}

/** The document as JSON (what SSM stores); refuses text the agent would substitute (`{{`). */
export function renderHostCertificateDocumentJson(caPublicKey: string): string {
    const json = JSON.stringify(renderHostCertificateDocument(caPublicKey));
    if (json.includes("{{")) throw new Error("the host-certificate document must not contain '{{'");
    return json;
}
