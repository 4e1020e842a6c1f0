/**
 * A certificate in words (what `pka cert show` prints, close to `ssh-keygen -L`), and whether it
 * would be accepted now: signature, validity window and the bounds pka-fleet holds it to.
 */
import { fingerprintOfBlob } from "../keys/blob";
import { formatDuration } from "./options";
import { CertificateInfo, DEFAULT_MAX_HOST_VALIDITY_SECONDS, DEFAULT_MAX_USER_VALIDITY_SECONDS } from "./types";

const FOREVER = (1n << 64n) - 1n;

function when(t: bigint): string {
    if (t === FOREVER) return "forever";
    return new Date(Number(t) * 1000).toISOString().replace(/\.000Z$/, "Z");
}

/** Why the certificate is not acceptable at `now` under `maxValiditySeconds`, one reason a line (empty: acceptable). */
export function certificateProblems(info: CertificateInfo, now: Date, maxValiditySeconds?: number): string[] {
    const out: string[] = [];
    const t = BigInt(Math.floor(now.getTime() / 1000));
    if (!info.signatureValid) {
        out.push(
            info.signatureAlgorithm === "ssh-rsa"
                ? "signed with ssh-rsa (SHA-1), which OpenSSH 8.8 and later refuse; re-issue it with an ed25519 or ecdsa CA"
                : "the CA's signature does not verify: the certificate was altered or is not this CA's",
        );
    }
    if (t < info.validAfter) out.push(`not valid yet (from ${when(info.validAfter)})`);
    if (t >= info.validBefore) out.push(`expired at ${when(info.validBefore)}`);
    if (info.principals.length === 0) out.push("has no principals: OpenSSH takes it for every principal");
    const max =
        maxValiditySeconds ??
        (info.kind === "user" ? DEFAULT_MAX_USER_VALIDITY_SECONDS : DEFAULT_MAX_HOST_VALIDITY_SECONDS);
    if (info.validBefore === FOREVER || info.validBefore - info.validAfter > BigInt(max) + 300n) {
        out.push(`is valid for longer than the maximum of ${formatDuration(max)} for a ${info.kind} certificate`);
    }
    return out;
}

/** The certificate as text, one field a line. */
export function describeCertificate(info: CertificateInfo, label: string, now: Date): string {
    const problems = certificateProblems(info, now);
    const lines = [
        `${label}:`,
        `  type:        ${info.certType} ${info.kind} certificate`,
        `  key:         ${fingerprintOfBlob(info.keyBlob)}`,
        `  signing CA:  ${fingerprintOfBlob(info.caBlob)} (using ${info.signatureAlgorithm})`,
        `  key id:      ${JSON.stringify(info.keyId)}`,
        `  serial:      ${info.serial}`,
        `  valid:       from ${when(info.validAfter)} to ${when(info.validBefore)}`,
        `  principals:  ${info.principals.join(", ") || "(none: any)"}`,
        `  critical:    ${
            [
                info.critical.forceCommand !== undefined ? `force-command ${info.critical.forceCommand}` : "",
                info.critical.sourceAddress ? `source-address ${info.critical.sourceAddress.join(",")}` : "",
            ]
                .filter(Boolean)
                .join("; ") || "(none)"
        }`,
        `  extensions:  ${info.extensions.join(", ") || "(none)"}`,
        `  verdict:     ${problems.length ? "REFUSED: " + problems.join("; ") : "ok (signature verifies, valid now)"}`,
    ];
    return lines.join("\n") + "\n";
}
