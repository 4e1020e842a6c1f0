/**
 * Key revocation lists in OpenSSH's own binary format (PROTOCOL.krl), the file sshd's
 * `RevokedKeys` reads and `ssh-keygen -Q -f` tests. One KRL revokes certificates (by serial or key
 * id, per CA) and keys (by SHA-256 of their blob, which also revokes every certificate of them).
 */
import * as crypto from "crypto";
import { parseBlob } from "../keys/blob";
import { parsePublicKey } from "../keys/publicKey";
import { KeyError } from "../keys/types";
import { sshString } from "../keys/wire";
import { parseCertificateLine } from "./format";
import { checkKeyId } from "./options";
import { CertificateError } from "./types";

export interface Revocations {
    /** Per CA public key line: the serials and key ids revoked. */
    certificates?: { ca: string; serials?: (bigint | number | string)[]; keyIds?: string[] }[];
    /** Public key lines or certificate lines: the key itself is revoked (every certificate of it too). */
    keys?: string[];
    comment?: string;
    /** The KRL's version number (ssh-keygen -k -z); default 1. */
    version?: bigint;
    /** Seconds since the epoch; default now. Not part of any check: a KRL is the same list whenever made. */
    generatedAt?: bigint;
}

const MAGIC = Buffer.from("SSHKRL\n\0", "latin1");
const SECTION_CERTIFICATES = 1;
const SECTION_FINGERPRINT_SHA256 = 5;
const CERT_SERIAL_LIST = 0x20;
const CERT_KEY_ID = 0x23;

const u64 = (v: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    return b;
};
const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    return b;
};
const section = (type: number, data: Buffer) => Buffer.concat([Buffer.from([type]), sshString(data)]);

/** The blob of a public key line or of the key a certificate line certifies. */
function keyBlobOf(line: string, input: string): Buffer {
    const type = line.trim().split(/\s+/)[0] ?? "";
    if (type.endsWith("-cert-v01@openssh.com")) return parseCertificateLine(line, input).keyBlob;
    try {
        const info = parsePublicKey(line, input);
        return parseBlob(Buffer.from(info.publicKey.split(" ")[1], "base64"), input).blob;
    } catch (e) {
        if (e instanceof KeyError) throw new CertificateError(input, e.message.replace(/^[^:]*: /, ""));
        throw e;
    }
}

function serialOf(v: bigint | number | string, input: string): bigint {
    const text = String(v);
    if (!/^[0-9]{1,20}$/.test(text) || BigInt(text) >= 1n << 64n) {
        throw new CertificateError(input, `serial '${text.slice(0, 30)}' is not a number from 0 to 2^64-1`);
    }
    return BigInt(text);
}

/** The KRL, as the bytes sshd's RevokedKeys reads. Sorted and deduplicated as ssh-keygen writes it. */
export function buildKrl(r: Revocations): Buffer {
    const parts: Buffer[] = [
        MAGIC,
        u32(1),
        u64(r.version ?? 1n),
        u64(r.generatedAt ?? BigInt(Math.floor(Date.now() / 1000))),
        u64(0n),
        sshString(""),
        sshString(r.comment ?? ""),
    ];
    (r.certificates ?? []).forEach((c, i) => {
        const input = `revocations.certificates[${i}]`;
        const ca = keyBlobOf(c.ca, `${input}.ca`);
        const sub: Buffer[] = [sshString(ca), sshString("")];
        const serials = [...new Set((c.serials ?? []).map((s) => serialOf(s, `${input}.serials`)))].sort((a, b) =>
            a < b ? -1 : a > b ? 1 : 0,
        );
        if (serials.length) sub.push(section(CERT_SERIAL_LIST, Buffer.concat(serials.map(u64))));
        const ids = [...new Set((c.keyIds ?? []).map((k) => checkKeyId(k, `${input}.keyIds`)))].sort();
        if (ids.length) sub.push(section(CERT_KEY_ID, Buffer.concat(ids.map((k) => sshString(k)))));
        if (serials.length + ids.length === 0)
            throw new CertificateError(input, "revokes nothing; give serials or keyIds");
        parts.push(section(SECTION_CERTIFICATES, Buffer.concat(sub)));
    });
    const hashes = (r.keys ?? []).map((k, i) =>
        crypto
            .createHash("sha256")
            .update(keyBlobOf(k, `revocations.keys[${i}]`))
            .digest(),
    );
    const unique = [...new Map(hashes.map((h) => [h.toString("hex"), h])).values()].sort(Buffer.compare);
    if (unique.length) parts.push(section(SECTION_FINGERPRINT_SHA256, Buffer.concat(unique.map((h) => sshString(h)))));
    return Buffer.concat(parts);
}
