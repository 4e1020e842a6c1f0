/**
 * The checks on what a certificate may say: validity, principals, key id, critical options and
 * extensions. One home for them: `pka cert issue`, the components and the policy pack judge a
 * certificate by these functions. Each refusal names the input and what would fix it.
 */
import { isIP } from "net";
import { formatAddress, hostBitsSet, ip4Bytes, ip6Bytes, networkBytes } from "../ipAddress";
import { COMMAND_PATTERN } from "../keyOptions";
import { judgeKeySpec } from "../keys/rules";
import type { KeyInfo } from "../keys/types";
import {
    CertificateError,
    CertKind,
    CriticalOptions,
    MAX_KEY_ID_LENGTH,
    MAX_PRINCIPALS,
    USER_EXTENSIONS,
} from "./types";

const UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/**
 * A duration such as `90s`, `30m`, `1h`, `7d`, `2w` or `1h30m` (ssh-keygen's time format,
 * sshd_config(5) "TIME FORMATS"), in seconds. Bare numbers are seconds.
 */
export function parseDuration(text: string, input: string): number {
    const t = String(text).trim();
    if (!/^([0-9]{1,9}[smhdw]?)+$/i.test(t) || !/^[0-9]+$|[smhdw]$/i.test(t)) {
        throw new CertificateError(input, `'${text}' is not a duration; write it as 90s, 30m, 1h, 7d, 2w or 1h30m`);
    }
    let total = 0;
    for (const m of t.matchAll(/([0-9]+)([smhdw]?)/gi)) total += Number(m[1]) * UNITS[(m[2] || "s").toLowerCase()];
    if (total <= 0) throw new CertificateError(input, `'${text}' is zero; a certificate must be valid for some time`);
    return total;
}

/** A duration in words for messages: 86400 -> "24h", 172800 -> "2d", 1209600 -> "2w". */
export function formatDuration(seconds: number): string {
    if (seconds % 604800 === 0 && seconds >= 2 * 604800) return `${seconds / 604800}w`;
    if (seconds % 86400 === 0 && seconds >= 2 * 86400) return `${seconds / 86400}d`;
    if (seconds % 3600 === 0) return `${seconds / 3600}h`;
    if (seconds % 60 === 0) return `${seconds / 60}m`;
    return `${seconds}s`;
}

/** A user principal: the account name an AuthorizedPrincipalsFile line or the login name must equal. */
const USER_PRINCIPAL = /^[a-z_][a-z0-9_.-]{0,31}$/;
/** A host principal: a host name or address, as ssh matches it against the name it connects to. */
const HOST_PRINCIPAL = /^[A-Za-z0-9][A-Za-z0-9.:-]{0,252}$/;

/**
 * The principals, checked. None at all is refused: OpenSSH takes a certificate without principals
 * as valid for every user (or host), which is never what an issuer means.
 */
export function checkPrincipals(principals: readonly string[], kind: CertKind, input = "principals"): string[] {
    if (!Array.isArray(principals) || principals.length === 0) {
        throw new CertificateError(
            input,
            `give at least one principal (a ${kind === "user" ? "user name such as svc_user" : "host name"}): a certificate without principals is valid for every ${kind} in OpenSSH`,
        );
    }
    if (principals.length > MAX_PRINCIPALS) {
        throw new CertificateError(input, `${principals.length} principals; at most ${MAX_PRINCIPALS}`);
    }
    const seen = new Set<string>();
    for (const p of principals) {
        const ok = typeof p === "string" && (kind === "user" ? USER_PRINCIPAL : HOST_PRINCIPAL).test(p);
        if (!ok) {
            throw new CertificateError(
                input,
                kind === "user"
                    ? `principal ${JSON.stringify(p)} is not a user name (^[a-z_][a-z0-9_.-]{0,31}$, as the access spec's users)`
                    : `principal ${JSON.stringify(p)} is not a host name or address (letters, digits, . : -)`,
            );
        }
        if (seen.has(p)) throw new CertificateError(input, `principal '${p}' is given twice`);
        seen.add(p);
    }
    return [...principals];
}

/** A key id: printable ASCII, logged by sshd on every login with the certificate. */
export function checkKeyId(keyId: string, input = "key id"): string {
    if (typeof keyId !== "string" || !/^[\x21-\x7e][\x20-\x7e]*$/.test(keyId) || keyId.length > MAX_KEY_ID_LENGTH) {
        throw new CertificateError(
            input,
            `${JSON.stringify(String(keyId).slice(0, 40))} is not a key id: printable ASCII, 1-${MAX_KEY_ID_LENGTH} characters, not starting with a space`,
        );
    }
    return keyId;
}

/**
 * source-address: addresses and CIDR blocks, no host names and no negation (sshd reads it with
 * addr_match_cidr_list: a bad entry, or a block with host bits set, makes sshd refuse the
 * certificate from everywhere).
 */
export function checkSourceAddress(list: readonly string[], input = "source-address"): string[] {
    if (list.length === 0 || list.length > 64) {
        throw new CertificateError(input, "give 1 to 64 addresses or CIDR blocks, such as 10.0.0.0/8,192.0.2.7");
    }
    for (const entry of list) {
        const slash = entry.indexOf("/");
        const addr = slash < 0 ? entry : entry.slice(0, slash);
        const family = isIP(addr);
        const bitsText = slash < 0 ? String(family === 4 ? 32 : 128) : entry.slice(slash + 1);
        const max = family === 4 ? 32 : 128;
        if (!family || !/^[0-9]{1,3}$/.test(bitsText) || Number(bitsText) > max) {
            throw new CertificateError(
                input,
                `'${entry}' is not an address or CIDR block like 10.0.0.0/8 or 2001:db8::/32 (host names and ! are not allowed here)`,
            );
        }
        const bytes = family === 4 ? ip4Bytes(addr) : ip6Bytes(addr);
        if (hostBitsSet(bytes, Number(bitsText))) {
            const net = formatAddress(networkBytes(bytes, Number(bitsText)), family);
            throw new CertificateError(
                input,
                `'${entry}' has host bits set: sshd refuses the certificate from every address; write ${net}/${bitsText}`,
            );
        }
    }
    return [...list];
}

/** force-command: the same grammar as the key option command="..." (no quotes, no shell metacharacters). */
export function checkForceCommand(command: string, input = "force-command"): string {
    if (typeof command !== "string" || !COMMAND_PATTERN.test(command)) {
        throw new CertificateError(
            input,
            `${JSON.stringify(String(command).slice(0, 60))} is not allowed: 1-256 of letters, digits, space and _ . / : = @ % + , - (the key option command= grammar)`,
        );
    }
    return command;
}

/** The critical options of a certificate of `kind`, checked (host certificates take none). */
export function checkCriticalOptions(o: CriticalOptions, kind: CertKind): CriticalOptions {
    const out: CriticalOptions = {};
    if (kind === "host" && (o.forceCommand !== undefined || o.sourceAddress !== undefined)) {
        throw new CertificateError(
            "critical options",
            "host certificates take no critical options (PROTOCOL.certkeys)",
        );
    }
    if (o.forceCommand !== undefined) out.forceCommand = checkForceCommand(o.forceCommand);
    if (o.sourceAddress !== undefined) out.sourceAddress = checkSourceAddress(o.sourceAddress);
    return out;
}

/** Extensions: user certificates only, each one OpenSSH defines, sorted as the format requires. */
export function checkExtensions(list: readonly string[], kind: CertKind, input = "extensions"): string[] {
    if (kind === "host" && list.length > 0) {
        throw new CertificateError(input, "host certificates take no extensions (PROTOCOL.certkeys)");
    }
    for (const e of list) {
        if (!USER_EXTENSIONS.includes(e)) {
            throw new CertificateError(input, `'${e}' is not an extension; use ${USER_EXTENSIONS.join(", ")}`);
        }
    }
    return [...new Set(list)].sort(compareBytes);
}

/** Byte order, as the format sorts option and extension names. */
export function compareBytes(a: string, b: string): number {
    return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** Why a key cannot be a CA, or undefined: ed25519, ecdsa (nistp256/384/521), or RSA of 3072 bits or more (signing rsa-sha2-512). */
export function caKeyProblem(info: Pick<KeyInfo, "type" | "bits" | "curve">): string | undefined {
    if (info.type === "ed25519") return undefined;
    if (info.type === "ecdsa") return judgeKeySpec(info, undefined, { label: "the CA key", noPassphraseRule: true })[0];
    if (info.type === "rsa")
        return info.bits >= 3072
            ? undefined
            : `an RSA CA of ${info.bits} bits is too weak; use ed25519 (or RSA of 3072 bits or more, signing rsa-sha2-512)`;
    return `a ${info.type} key cannot be a CA; use ed25519 or ecdsa (a CA must be a software key the signer can use unattended)`;
}
