/**
 * The OpenSSH certificate wire format (PROTOCOL.certkeys): a certificate is the certified key's
 * fields between a nonce and the CA's statements, signed by the CA. Written and read here, every
 * byte accounted for; what `ssh-keygen -L` prints of ours is what we meant (test/certs.test.ts).
 */
import { parseBlob } from "../keys/blob";
import { KeyError } from "../keys/types";
import { WireReader, sshString } from "../keys/wire";
import { compareBytes } from "./options";
import { verifySignature } from "./sign";
import { CertificateError, CertificateInfo, CertKind, CriticalOptions } from "./types";

/** Certificate type by certified key type, and how many wire fields each key type has. */
const CERT_TYPES: ReadonlyArray<[keyType: string, certType: string, fields: number]> = [
    ["ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com", 1],
    ["ssh-rsa", "ssh-rsa-cert-v01@openssh.com", 2],
    ["ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256-cert-v01@openssh.com", 2],
    ["ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384-cert-v01@openssh.com", 2],
    ["ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521-cert-v01@openssh.com", 2],
    ["sk-ssh-ed25519@openssh.com", "sk-ssh-ed25519-cert-v01@openssh.com", 2],
    ["sk-ecdsa-sha2-nistp256@openssh.com", "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com", 3],
];

/** The certificate type for a key type, e.g. ssh-ed25519 -> ssh-ed25519-cert-v01@openssh.com. */
export function certTypeOf(keyType: string, input = "the key"): string {
    const t = CERT_TYPES.find((c) => c.at(0) === keyType);
    if (!t)
        throw new CertificateError(
            input,
            `a ${keyType} key cannot be certified; use ed25519, ecdsa, rsa or a security key`,
        );
    return t[1];
}

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

/** What a new certificate says; every field already checked (core/certs/options.ts). */
export interface CertificateBody {
    keyBlob: Buffer;
    nonce: Buffer;
    serial: bigint;
    kind: CertKind;
    keyId: string;
    principals: string[];
    validAfter: bigint;
    validBefore: bigint;
    critical: CriticalOptions;
    /** Sorted. */
    extensions: string[];
    caBlob: Buffer;
}

function criticalBytes(o: CriticalOptions): Buffer {
    const pairs: [string, string][] = [];
    if (o.forceCommand !== undefined) pairs.push(["force-command", o.forceCommand]);
    if (o.sourceAddress !== undefined) pairs.push(["source-address", o.sourceAddress.join(",")]);
    pairs.sort((a, b) => compareBytes(a[0], b[0]));
    return Buffer.concat(pairs.map(([n, v]) => Buffer.concat([sshString(n), sshString(sshString(v))])));
}

/** The signed part of a certificate: everything before the signature. */
export function encodeBody(b: CertificateBody): Buffer {
    const r = new WireReader(b.keyBlob, "the key to certify", "the key");
    const keyType = r.str();
    const keyFields = r.rest();
    return Buffer.concat([
        sshString(certTypeOf(keyType)),
        sshString(b.nonce),
        keyFields,
        u64(b.serial),
        u32(b.kind === "user" ? 1 : 2),
        sshString(b.keyId),
        sshString(Buffer.concat(b.principals.map((p) => sshString(p)))),
        u64(b.validAfter),
        u64(b.validBefore),
        sshString(criticalBytes(b.critical)),
        sshString(Buffer.concat(b.extensions.map((e) => Buffer.concat([sshString(e), sshString("")])))),
        sshString(""),
        sshString(b.caBlob),
    ]);
}

function readList(data: Buffer, what: string): string[] {
    const r = new WireReader(data, what, "the certificate");
    const out: string[] = [];
    while (r.remaining() > 0) out.push(r.bytes().toString("utf8"));
    return out;
}

function readOptions(data: Buffer, what: string): [string, Buffer][] {
    const r = new WireReader(data, what, "the certificate");
    const out: [string, Buffer][] = [];
    while (r.remaining() > 0) out.push([r.str(), r.bytes()]);
    return out;
}

function readCritical(data: Buffer): CriticalOptions {
    const out: CriticalOptions = {};
    for (const [name, value] of readOptions(data, "the critical options")) {
        const inner = new WireReader(value, `critical option ${name}`, "the certificate");
        const text = inner.bytes().toString("utf8");
        inner.end();
        if (name === "force-command") out.forceCommand = text;
        else if (name === "source-address") out.sourceAddress = text.split(",");
        // sshd refuses a certificate with a critical option it does not know; so do we.
        else
            throw new CertificateError("the certificate", `carries the unknown critical option '${name.slice(0, 40)}'`);
    }
    return out;
}

/** Decodes a certificate blob and checks its CA signature (`signatureValid`). */
export function parseCertificateBlob(blob: Buffer, label = "the certificate"): CertificateInfo {
    try {
        const r = new WireReader(blob, "the certificate", label);
        const certType = r.str();
        const t = CERT_TYPES.find((c) => c[1] === certType);
        if (!t) throw new CertificateError(label, `'${certType.slice(0, 60)}' is not an OpenSSH certificate type`);
        r.bytes(); // nonce
        const fields: Buffer[] = [];
        for (let i = 0; i < t[2]; i++) fields.push(r.bytes());
        const keyBlob = Buffer.concat([sshString(t[0]), ...fields.map((f) => sshString(f))]);
        parseBlob(keyBlob, label, "the certified key");
        const serial = r.raw(8).readBigUInt64BE();
        const kindNumber = r.u32();
        if (kindNumber !== 1 && kindNumber !== 2)
            throw new CertificateError(label, `has type ${kindNumber}; expected 1 (user) or 2 (host)`);
        const keyId = r.bytes().toString("utf8");
        const principals = readList(r.bytes(), "the principals");
        const validAfter = r.raw(8).readBigUInt64BE();
        const validBefore = r.raw(8).readBigUInt64BE();
        const critical = readCritical(r.bytes());
        const extensions = readOptions(r.bytes(), "the extensions").map(([n]) => n);
        r.bytes(); // reserved
        const caBlob = r.bytes();
        parseBlob(caBlob, label, "the CA key");
        const signed = blob.subarray(0, blob.length - r.remaining());
        const signature = r.bytes();
        r.end();
        const v = verifySignature(caBlob, signature, signed);
        return {
            certType,
            keyType: t[0],
            keyBlob,
            serial,
            kind: kindNumber === 1 ? "user" : "host",
            keyId,
            principals,
            validAfter,
            validBefore,
            critical,
            extensions,
            caBlob,
            signatureAlgorithm: v.algorithm,
            signatureValid: v.valid,
            blob,
        };
    } catch (e) {
        if (e instanceof KeyError) throw new CertificateError(label, e.message.replace(/^[^:]*: /, ""));
        throw e;
    }
}

/** Decodes a certificate line (`ssh-ed25519-cert-v01@openssh.com AAAA... comment`). */
export function parseCertificateLine(line: string, label = "the certificate"): CertificateInfo & { comment: string } {
    const m = /^\s*(\S+)\s+([A-Za-z0-9+/]+={0,2})(?:\s+(.*?))?\s*$/.exec(line);
    if (!m || !m[1].endsWith("-cert-v01@openssh.com")) {
        throw new CertificateError(
            label,
            "is not an OpenSSH certificate line ('ssh-ed25519-cert-v01@openssh.com AAAA... comment')",
        );
    }
    const info = parseCertificateBlob(Buffer.from(m[2], "base64"), label);
    if (info.certType !== m[1]) throw new CertificateError(label, `says ${m[1]} but holds a ${info.certType}`);
    return { ...info, comment: m[3] ?? "" };
}
