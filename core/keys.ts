/**
 * Key material: parsing, fingerprints and the key rules of the policy pack. Pure (no @pulumi
 * imports): the components, the policy pack, the Lambda and the CLI all import this one module,
 * so a key is judged the same way everywhere. Generation and encryption are in core/keygen.ts
 * (which re-exports this module): they need sshpk, and the Lambda, which only parses public
 * keys, must not carry it (its bundle has no sshpk; test/bundle-lambda.test.ts).
 *
 * Public keys are parsed by our own strict SSH wire-format reader, not by sshpk: that gives
 * exact error messages, bounded work on hostile input, and keys sshpk cannot read at all
 * (P-224, security keys, rsa1) still come back as a KeyInfo that the rules can refuse with a
 * reason. sshpk is only used where this repository's tests show it works: OpenSSH private keys
 * (bcrypt/aes256-ctr) and turning PKCS8 into OpenSSH. Encrypted PEM/PKCS8 goes through
 * node:crypto, never sshpk, because sshpk throws a second, uncaught exception after a wrong
 * passphrase on those formats.
 */
import * as crypto from "crypto";
import type * as Sshpk from "sshpk";

/**
 * sshpk, loaded on first use: here only decrypting an encrypted OpenSSH private key needs it. A
 * lazy require (not an import) keeps it out of bundles that never parse a private key with a
 * passphrase: esbuild drops the require along with the unused function.
 */
function sshpkLib(): typeof Sshpk {
    return require("sshpk");
}

// ---------------------------------------------------------------------------------------------
// Types and errors

/** The input is not a (valid, readable) key. The CLI exits 2 on it. `input` is the label. */
export class KeyError extends Error {
    readonly input: string;
    constructor(input: string, message: string) {
        super(message.startsWith(`${input}:`) ? message : `${input}: ${message}`);
        this.name = "KeyError";
        this.input = input;
    }
}

/** An encrypted private key whose public part cannot be read without its passphrase (PEM/PKCS8). */
export class KeyEncryptedError extends KeyError {
    constructor(input: string, message: string) {
        super(input, message);
        this.name = "KeyEncryptedError";
    }
}

export interface KeyInfo {
    /** "ed25519" | "ecdsa" | "rsa" | "dsa" | "rsa1" | "sk-ed25519" | "sk-ecdsa" */
    type: "ed25519" | "ecdsa" | "rsa" | "dsa" | "rsa1" | string;
    /** RSA/DSA modulus bits; 256 for ed25519; the curve size for ecdsa. */
    bits: number;
    /** ecdsa only: "nistp256" | "nistp384" | "nistp521" | "nistp224" */
    curve?: string;
    /** "SHA256:..." exactly as `ssh-keygen -l` prints it. */
    fingerprint: string;
    /** The comment ("" when the format has none or it is encrypted). */
    comment: string;
    /** "type base64 comment" (or "type base64" without a comment): one line, no options. */
    publicKey: string;
    isPrivate: boolean;
    encrypted: boolean;
    format: "ssh" | "openssh" | "pem" | "pkcs8" | "ppk";
}

export interface KeyRules {
    /** Key types allowed. Default ["ed25519", "ecdsa", "rsa"]. */
    allowedTypes: string[];
    /** Smallest RSA modulus. Default 3072 (NIST SP 800-57 beyond 2030, BSI TR-02102 >= 3000); never below 2048. */
    minRsaBits: number;
    /** ecdsa curves allowed. Default ["nistp256", "nistp384", "nistp521"]. */
    allowedCurves: string[];
    /** Smallest RSA size for a key imported into EC2 (which accepts 1024/2048/4096): 2048 (2048 or 4096 pass) or 4096 (only 4096). Default 4096. */
    ec2ImportRsaBits: number;
    /** A person's private key must be passphrase-protected. Default true. */
    requirePassphrase: boolean;
}

/**
 * Every key type the rules can allow (rule names). A config or `keyRules` argument may narrow
 * this list, never widen it: dsa, rsa1, security-key and unknown types are refused whatever the
 * rules say.
 */
export const KNOWN_KEY_TYPES: readonly string[] = Object.freeze(["ed25519", "ecdsa", "rsa"]);
/** Every ecdsa curve the rules can allow (OpenSSH names); never nistp224. */
export const KNOWN_CURVES: readonly string[] = Object.freeze(["nistp256", "nistp384", "nistp521"]);
/**
 * The public key types pka-fleet installs, by their SSH wire names: the one list that the access
 * spec, the on-host script's grammar and the host-key parser derive theirs from.
 */
export const INSTALLABLE_KEY_TYPES: readonly string[] = Object.freeze(["ssh-ed25519", ...KNOWN_CURVES.map((c) => `ecdsa-sha2-${c}`), "ssh-rsa"]);
/** No rule may allow RSA below this: RSA-2048 is the weakest NIST SP 800-131A accepts through 2030. */
export const RSA_FLOOR_BITS = 2048;

export const DEFAULT_KEY_RULES: KeyRules = Object.freeze({
    allowedTypes: Object.freeze([...KNOWN_KEY_TYPES]) as unknown as string[],
    minRsaBits: 3072,
    allowedCurves: Object.freeze([...KNOWN_CURVES]) as unknown as string[],
    ec2ImportRsaBits: 4096,
    requirePassphrase: true,
}) as KeyRules;

/** Key sizes EC2 ImportKeyPair accepts for RSA (EC2 User Guide); ed25519 is the only other type. */
export const EC2_IMPORT_RSA_BITS: readonly number[] = [1024, 2048, 4096];
/** The EC2 import sizes at or above RSA_FLOOR_BITS: what `ec2ImportRsaBits` may be. */
export const EC2_IMPORT_RSA_BITS_ALLOWED: readonly number[] = EC2_IMPORT_RSA_BITS.filter((b) => b >= RSA_FLOOR_BITS);

/** Largest key text we read at all: a 16384-bit RSA private key in any format is below 16 KB. */
export const MAX_KEY_TEXT = 32 * 1024;
/** Largest public key line: an RSA-16384 line is about 2.8 KB. */
export const MAX_PUBLIC_LINE = 8 * 1024;
/** Largest RSA/DSA modulus we parse; bigger ones only cost time and OpenSSH refuses them. */
export const MAX_RSA_BITS = 16384;

const ACCEPTED_LINE = "one OpenSSH public key line such as 'ssh-ed25519 AAAAC3Nza... comment'";

// ---------------------------------------------------------------------------------------------
// SSH wire format

/** @internal SSH wire-format reader, shared with core/ppk.ts. */
export class WireReader {
    private off = 0;
    constructor(private readonly buf: Buffer, private readonly what: string, private readonly label: string) {}
    private fail(detail: string): never {
        throw new KeyError(this.label, `${this.what} is truncated or corrupt (${detail}); expected ${ACCEPTED_LINE}`);
    }
    u32(): number {
        if (this.off + 4 > this.buf.length) this.fail("ends inside a length field");
        const v = this.buf.readUInt32BE(this.off);
        this.off += 4;
        return v;
    }
    u8(): number {
        if (this.off + 1 > this.buf.length) this.fail("ends inside a byte field");
        return this.buf[this.off++];
    }
    bytes(): Buffer {
        const n = this.u32();
        if (n > this.buf.length - this.off) this.fail(`a field claims ${n} bytes but only ${this.buf.length - this.off} remain`);
        const v = this.buf.subarray(this.off, this.off + n);
        this.off += n;
        return v;
    }
    str(): string {
        return this.bytes().toString("latin1");
    }
    /** Unsigned mpint as minimal big-endian bytes (no sign byte). */
    mpint(): Buffer {
        const b = this.bytes();
        if (b.length > 0 && b[0] & 0x80) this.fail("a negative integer");
        let i = 0;
        while (i < b.length && b[i] === 0) i++;
        return b.subarray(i);
    }
    raw(n: number): Buffer {
        if (n > this.buf.length - this.off) this.fail("ends early");
        const v = this.buf.subarray(this.off, this.off + n);
        this.off += n;
        return v;
    }
    remaining(): number {
        return this.buf.length - this.off;
    }
    rest(): Buffer {
        const v = this.buf.subarray(this.off);
        this.off = this.buf.length;
        return v;
    }
    end(): void {
        if (this.off !== this.buf.length) this.fail(`${this.buf.length - this.off} unexpected bytes after the key`);
    }
}

/** @internal SSH wire helpers shared with core/ppk.ts. */
export function sshString(b: Buffer | string): Buffer {
    const body = typeof b === "string" ? Buffer.from(b, "utf8") : b;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    return Buffer.concat([len, body]);
}

/** @internal An unsigned big-endian integer as an SSH mpint. */
export function sshMpint(unsigned: Buffer): Buffer {
    let i = 0;
    while (i < unsigned.length && unsigned[i] === 0) i++;
    let b = unsigned.subarray(i);
    if (b.length > 0 && b[0] & 0x80) b = Buffer.concat([Buffer.alloc(1), b]);
    return sshString(b);
}

function bitLength(unsigned: Buffer): number {
    let i = 0;
    while (i < unsigned.length && unsigned[i] === 0) i++;
    if (i === unsigned.length) return 0;
    return (unsigned.length - i - 1) * 8 + (32 - Math.clz32(unsigned[i]));
}

function toBigInt(unsigned: Buffer): bigint {
    return unsigned.length === 0 ? 0n : BigInt("0x" + unsigned.toString("hex"));
}

/** @internal The ecdsa curves by OpenSSH name (core/keygen.ts generates with nodeName). */
export const CURVES: Record<string, { bits: number; coord: number; nodeName: string; jwk?: string; oid: string }> = {
    nistp224: { bits: 224, coord: 28, nodeName: "secp224r1", oid: "1.3.132.0.33" },
    nistp256: { bits: 256, coord: 32, nodeName: "prime256v1", jwk: "P-256", oid: "1.2.840.10045.3.1.7" },
    nistp384: { bits: 384, coord: 48, nodeName: "secp384r1", jwk: "P-384", oid: "1.3.132.0.34" },
    nistp521: { bits: 521, coord: 66, nodeName: "secp521r1", jwk: "P-521", oid: "1.3.132.0.35" },
};

const EC_BITS: Record<number, string> = { 224: "nistp224", 256: "nistp256", 384: "nistp384", 521: "nistp521" };

function b64url(b: Buffer): string {
    return b.toString("base64url");
}

/** What a public key blob says about itself. */
interface BlobInfo {
    wireType: string;
    type: string;
    bits: number;
    curve?: string;
    blob: Buffer;
}

/** Public key blob types whose parts we know. Anything else is refused with its name. */
export const SSH_KEY_TYPES = [
    ...INSTALLABLE_KEY_TYPES,
    // Read only so that the rules can refuse them with a reason.
    "ecdsa-sha2-nistp224",
    "ssh-dss",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

function checkEcPoint(curve: string, q: Buffer, r: WireReader, label: string): void {
    const c = CURVES[curve];
    if (!c) throw new KeyError(label, `ecdsa curve '${curve}' is unknown; expected nistp256, nistp384 or nistp521`);
    if (q.length !== 1 + 2 * c.coord || q[0] !== 0x04) {
        throw new KeyError(label, `the ecdsa ${curve} point is malformed (${q.length} bytes, expected ${1 + 2 * c.coord} starting with 0x04); the key is truncated or corrupt`);
    }
    if (c.jwk) {
        try {
            crypto.createPublicKey({
                key: { kty: "EC", crv: c.jwk, x: b64url(q.subarray(1, 1 + c.coord)), y: b64url(q.subarray(1 + c.coord)) },
                format: "jwk",
            });
        } catch {
            throw new KeyError(label, `the ecdsa ${curve} point is not on the curve; the key is corrupt`);
        }
    }
    void r;
}

/** Parse a public key blob (RFC 4253 wire format) strictly: every byte accounted for. */
function parseBlob(blob: Buffer, label: string, what = "the key data"): BlobInfo {
    const r = new WireReader(blob, what, label);
    const wireType = r.str();
    if (/-cert-v01@openssh\.com$/.test(wireType)) {
        throw new KeyError(label, `is an OpenSSH certificate (${wireType}), not a key; give the plain public key (${wireType.replace("-cert-v01@openssh.com", "")})`);
    }
    let info: BlobInfo;
    switch (wireType) {
        case "ssh-ed25519": {
            const pk = r.bytes();
            if (pk.length !== 32) throw new KeyError(label, `the ed25519 key is ${pk.length} bytes, expected 32; the key is truncated or corrupt`);
            info = { wireType, type: "ed25519", bits: 256, blob };
            break;
        }
        case "sk-ssh-ed25519@openssh.com": {
            const pk = r.bytes();
            if (pk.length !== 32) throw new KeyError(label, `the ed25519 key is ${pk.length} bytes, expected 32; the key is truncated or corrupt`);
            r.str();
            info = { wireType, type: "sk-ed25519", bits: 256, blob };
            break;
        }
        case "ssh-rsa": {
            const e = r.mpint();
            const n = r.mpint();
            const bits = bitLength(n);
            if (bits > MAX_RSA_BITS) throw new KeyError(label, `the RSA modulus has ${bits} bits, more than the ${MAX_RSA_BITS} we read; use ed25519 or rsa 3072/4096`);
            if (bits < 512 || (n[n.length - 1] & 1) === 0) throw new KeyError(label, `the RSA modulus is invalid (${bits} bits); the key is truncated or corrupt`);
            if (e.length === 0 || (e[e.length - 1] & 1) === 0 || (e.length === 1 && e[0] < 3) || e.length > 8) {
                throw new KeyError(label, "the RSA public exponent is invalid; the key is corrupt");
            }
            info = { wireType, type: "rsa", bits, blob };
            break;
        }
        case "ssh-dss": {
            const p = r.mpint();
            r.mpint();
            r.mpint();
            r.mpint();
            const bits = bitLength(p);
            if (bits > MAX_RSA_BITS) throw new KeyError(label, `the DSA modulus has ${bits} bits, more than we read`);
            info = { wireType, type: "dsa", bits, blob };
            break;
        }
        case "ecdsa-sha2-nistp224":
        case "ecdsa-sha2-nistp256":
        case "ecdsa-sha2-nistp384":
        case "ecdsa-sha2-nistp521":
        case "sk-ecdsa-sha2-nistp256@openssh.com": {
            const expected = wireType.replace(/^(sk-)?ecdsa-sha2-/, "").replace("@openssh.com", "");
            const curve = r.str();
            if (curve !== expected) {
                throw new KeyError(label, `the key data names curve '${curve}' but its type is ${wireType}; the key is corrupt`);
            }
            const q = r.bytes();
            checkEcPoint(curve, q, r, label);
            const sk = wireType.startsWith("sk-");
            if (sk) r.str();
            info = { wireType, type: sk ? "sk-ecdsa" : "ecdsa", bits: CURVES[curve].bits, curve, blob };
            break;
        }
        default:
            throw new KeyError(
                label,
                `key type '${wireType.slice(0, 60).replace(/[^\x20-\x7e]/g, "?")}' is not supported; expected ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa`,
            );
    }
    r.end();
    return info;
}

/** "SHA256:..." exactly as `ssh-keygen -l` prints it: unpadded base64 of SHA-256 of the blob. */
export function fingerprintOfBlob(blob: Buffer): string {
    return "SHA256:" + crypto.createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

function infoFromBlob(b: BlobInfo, extra: { comment: string; isPrivate: boolean; encrypted: boolean; format: KeyInfo["format"] }): KeyInfo {
    const comment = extra.comment;
    const line = `${b.wireType} ${b.blob.toString("base64")}${comment ? " " + comment : ""}`;
    const info: KeyInfo = {
        type: b.type,
        bits: b.bits,
        fingerprint: fingerprintOfBlob(b.blob),
        comment,
        publicKey: line,
        isPrivate: extra.isPrivate,
        encrypted: extra.encrypted,
        format: extra.format,
    };
    if (b.curve) info.curve = b.curve;
    return info;
}

function cleanComment(comment: string, label: string): string {
    // A comment ends up in authorized_keys and in terminals: no control characters.
    if (/[\x00-\x1f\x7f]/.test(comment)) throw new KeyError(label, "the key comment contains control characters; use a plain one-line comment");
    return comment.trim();
}

// ---------------------------------------------------------------------------------------------
// OpenSSH public key lines

const STRICT_B64 = /^[A-Za-z0-9+/]+={0,2}$/;

function decodeBase64(text: string, label: string, what: string): Buffer {
    if (!STRICT_B64.test(text) || text.length % 4 !== 0) {
        const why = text.length % 4 !== 0 ? "its length is not a multiple of 4: truncated?" : "it has characters outside base64";
        throw new KeyError(label, `${what} is not valid base64 (${why}); expected ${ACCEPTED_LINE}`);
    }
    return Buffer.from(text, "base64");
}

function looksPrivate(text: string): boolean {
    return /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text) || /^PuTTY-User-Key-File-\d+:/m.test(text);
}

const KEY_TYPE_TOKEN = /(?:^|[\s,"])((?:ssh-(?:ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-[a-z0-9-]+@openssh\.com)(?:-cert-v01@openssh\.com)?)\s+AAAA/;

/**
 * Exactly one OpenSSH public key line ("type base64 [comment]"); a trailing newline is
 * tolerated, nothing else. Throws KeyError naming `label`.
 */
export function parsePublicKey(line: string, label = "key"): KeyInfo {
    if (typeof line !== "string") throw new KeyError(label, `must be a string holding ${ACCEPTED_LINE}; got ${line === null ? "null" : typeof line}`);
    if (line.length > MAX_PUBLIC_LINE) {
        throw new KeyError(label, `is ${line.length} characters, more than a public key line can be (${MAX_PUBLIC_LINE}); expected ${ACCEPTED_LINE}`);
    }
    if (looksPrivate(line)) {
        throw new KeyError(label, "is a PRIVATE key; give its public key instead (the .pub file, or the output of `ssh-keygen -y -f KEYFILE`), and keep the private key secret");
    }
    const text = line.replace(/^\uFEFF/, "").replace(/[ \t]*\n$/, "").trim();
    if (text === "") throw new KeyError(label, `is empty; expected ${ACCEPTED_LINE}`);
    if (/[\r\n]/.test(text)) {
        throw new KeyError(label, `contains a line break or carriage return; expected ${ACCEPTED_LINE}, one key per entry`);
    }
    if (/[\x00-\x08\x0b-\x1f\x7f]/.test(text)) throw new KeyError(label, `contains control characters; expected ${ACCEPTED_LINE}`);
    if (/^-----BEGIN/.test(text) || /^---- BEGIN SSH2/.test(text)) {
        throw new KeyError(label, `is a PEM/RFC 4716 block; expected ${ACCEPTED_LINE} (convert with \`ssh-keygen -i -f FILE\`)`);
    }

    const tokens = text.split(/[ \t]+/);
    const first = tokens[0];
    if (!SSH_KEY_TYPES.includes(first) && !/^(ssh|ecdsa|sk)-/.test(first)) {
        const m = KEY_TYPE_TOKEN.exec(text);
        if (m && m.index > 0) {
            const opt = first.split(/[=,]/)[0].slice(0, 40).replace(/[^\x20-\x7e]/g, "?");
            throw new KeyError(
                label,
                `starts with authorized_keys options ('${opt}'...) before the key type ${m[1]}; give only the key here: options belong in keyOptions`,
            );
        }
        if (/^\d+$/.test(first) && tokens.length >= 3 && /^\d+$/.test(tokens[1]) && /^\d+$/.test(tokens[2])) {
            return parseRsa1(tokens, label);
        }
        if (/^AAAA/.test(first)) {
            throw new KeyError(label, `has no key type before its base64 data; expected ${ACCEPTED_LINE}`);
        }
        throw new KeyError(label, `is not an OpenSSH public key; expected ${ACCEPTED_LINE}`);
    }
    if (tokens.length < 2) throw new KeyError(label, `has the key type '${first.slice(0, 40)}' but no key data; expected ${ACCEPTED_LINE}`);
    const blob = decodeBase64(tokens[1], label, "the key data");
    const b = parseBlob(blob, label);
    if (b.wireType !== first) {
        throw new KeyError(label, `says '${first.slice(0, 40)}' but the key data is a ${b.wireType} key (type prefix mismatch); expected ${ACCEPTED_LINE} with matching type`);
    }
    const afterType = text.slice(first.length).replace(/^[ \t]+/, "");
    const comment = cleanComment(afterType.slice(tokens[1].length), label);
    return infoFromBlob(b, { comment, isPrivate: false, encrypted: false, format: "ssh" });
}

/** SSH protocol 1 "bits e n comment": read only to refuse it with a reason. */
function parseRsa1(tokens: string[], label: string): KeyInfo {
    const [bitsText, eText, nText] = tokens;
    if (nText.length > 6000) throw new KeyError(label, "the rsa1 modulus is too long");
    const n = BigInt(nText);
    const e = BigInt(eText);
    const nHex = n.toString(16);
    const nBuf = Buffer.from(nHex.length % 2 ? "0" + nHex : nHex, "hex");
    const eHex = e.toString(16);
    const eBuf = Buffer.from(eHex.length % 2 ? "0" + eHex : eHex, "hex");
    const comment = cleanComment(tokens.slice(3).join(" "), label);
    const bits = Number(bitsText) || bitLength(nBuf);
    return {
        type: "rsa1",
        bits,
        // What OpenSSH 7.x printed for rsa1: the hash of the modulus then the exponent.
        fingerprint: fingerprintOfBlob(Buffer.concat([nBuf, eBuf])),
        comment,
        publicKey: `${bitsText} ${eText} ${nText}${comment ? " " + comment : ""}`,
        isPrivate: false,
        encrypted: false,
        format: "ssh",
    };
}

// ---------------------------------------------------------------------------------------------
// Any format

function pemBody(text: string, begin: string, label: string): { headers: Record<string, string>; der: Buffer } {
    const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
    const end = begin.replace("BEGIN", "END");
    if (lines[0] !== begin || lines[lines.length - 1] !== end) {
        throw new KeyError(label, `must hold exactly one '${begin}' block and nothing else around it`);
    }
    const headers: Record<string, string> = {};
    let i = 1;
    while (i < lines.length - 1 && /^[A-Za-z-]+:/.test(lines[i])) {
        const [k, ...v] = lines[i].split(":");
        headers[k.trim()] = v.join(":").trim();
        i++;
    }
    const b64 = lines.slice(i, lines.length - 1).join("");
    if (b64 === "") throw new KeyError(label, `the '${begin}' block is empty`);
    return { headers, der: decodeBase64(b64, label, `the '${begin}' block`) };
}

/**
 * Parse any supported key: an OpenSSH public line, RFC 4716 public key, PEM/SPKI public key,
 * OpenSSH private key, PEM (PKCS#1/SEC1) or PKCS#8 private key, or a PuTTY .ppk (v2/v3).
 *
 * Encrypted keys: OpenSSH and PPK keys carry their public part in the clear, so they are read
 * without a passphrase (`encrypted: true`); with `passphrase` it is checked (OpenSSH, PPK v2;
 * PPK v3 needs Argon2, which is async: use `decryptPpk` from core/ppk.ts). An encrypted PEM or
 * PKCS#8 key hides everything, so it needs the passphrase (KeyEncryptedError without it).
 */
export function parseKey(text: string | Buffer, opts: { passphrase?: string; label?: string } = {}): KeyInfo {
    const label = opts.label ?? "key";
    const s = keyText(text, label);
    if (s.includes("-----BEGIN OPENSSH PRIVATE KEY-----")) return parseOpensshPrivate(s, opts.passphrase, label).info;
    if (/^PuTTY-User-Key-File-/.test(s)) return parsePpk(s, opts.passphrase, label).info;
    if (s.startsWith("---- BEGIN SSH2 PUBLIC KEY ----")) return parseRfc4716(s, label);
    const m = /^-----BEGIN ([A-Z0-9 ]+)-----/.exec(s);
    if (m) return parsePemKey(s, m[1], opts.passphrase, label).info;
    const lines = s.split(/\r?\n/).filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));
    if (lines.length > 1) {
        throw new KeyError(label, `holds ${lines.length} lines; expected a single key (${ACCEPTED_LINE}, or one private key file)`);
    }
    return parsePublicKey(lines[0] ?? "", label);
}

/** @internal Key text checked and trimmed (shared with core/keygen.ts). */
export function keyText(text: string | Buffer, label: string): string {
    if (typeof text !== "string" && !Buffer.isBuffer(text)) {
        throw new KeyError(label, `must be key text (string or Buffer); got ${text === null ? "null" : typeof text}`);
    }
    if (text.length > MAX_KEY_TEXT) {
        throw new KeyError(label, `is ${text.length} bytes, more than any SSH key file (${MAX_KEY_TEXT}); expected an OpenSSH, PEM, PKCS#8 or PuTTY key`);
    }
    const s = (Buffer.isBuffer(text) ? text.toString("utf8") : text).replace(/^\uFEFF/, "");
    if (/[\x00-\x08\x0e-\x1f\x7f\ufffd]/.test(s)) {
        throw new KeyError(label, "is binary data, not key text; expected an OpenSSH, PEM, PKCS#8 or PuTTY key (DER must be converted to PEM)");
    }
    return s.trim();
}

function parseRfc4716(s: string, label: string): KeyInfo {
    const lines = s.split(/\r?\n/).map((l) => l.trim());
    const endIdx = lines.indexOf("---- END SSH2 PUBLIC KEY ----");
    if (endIdx < 0 || lines.slice(endIdx + 1).some((l) => l !== "")) throw new KeyError(label, "the RFC 4716 block has no END line or text after it");
    let comment = "";
    const body: string[] = [];
    let i = 1;
    while (i < endIdx) {
        let l = lines[i];
        if (/^[A-Za-z-]+:/.test(l)) {
            while (l.endsWith("\\") && i + 1 < endIdx) l = l.slice(0, -1) + lines[++i];
            const [k, ...v] = l.split(":");
            if (k.toLowerCase() === "comment") comment = v.join(":").trim().replace(/^"(.*)"$/, "$1");
        } else if (l !== "") body.push(l);
        i++;
    }
    const blob = decodeBase64(body.join(""), label, "the RFC 4716 key data");
    return infoFromBlob(parseBlob(blob, label), { comment: cleanComment(comment, label), isPrivate: false, encrypted: false, format: "ssh" });
}

// ---- OpenSSH private keys

/** @internal the decoded parts of an OpenSSH private key. */
export interface OpensshPrivate {
    info: KeyInfo;
    /** Present when the key was readable (unencrypted, or decrypted with the passphrase). */
    plain?: { wireType: string; publicBlob: Buffer; fields: Buffer[]; comment: string };
}

const OPENSSH_MAGIC = Buffer.from("openssh-key-v1\0", "latin1");

/** @internal */
export function parseOpensshPrivate(s: string, passphrase: string | undefined, label: string): OpensshPrivate {
    const { der } = pemBody(s, "-----BEGIN OPENSSH PRIVATE KEY-----", label);
    if (!der.subarray(0, OPENSSH_MAGIC.length).equals(OPENSSH_MAGIC)) throw new KeyError(label, "is not an openssh-key-v1 private key (bad magic)");
    const r = new WireReader(der.subarray(OPENSSH_MAGIC.length), "the private key file", label);
    const cipher = r.str();
    const kdf = r.str();
    r.bytes();
    const nkeys = r.u32();
    if (nkeys !== 1) throw new KeyError(label, `holds ${nkeys} keys; expected exactly one`);
    const pub = parseBlob(r.bytes(), label, "the private key's public part");
    const section = r.bytes();
    r.end();
    const encrypted = cipher !== "none";
    if (encrypted && kdf !== "bcrypt") throw new KeyError(label, `is encrypted with an unknown KDF '${kdf.slice(0, 30)}'; expected bcrypt (ssh-keygen's)`);

    let plainSection: Buffer | undefined;
    if (!encrypted) {
        plainSection = section;
    } else if (passphrase !== undefined) {
        let k: Sshpk.PrivateKey;
        try {
            k = sshpkLib().parsePrivateKey(s, "openssh", { passphrase, filename: label });
        } catch (e) {
            if (e instanceof Error && /passphrase|decrypt/i.test(e.message)) {
                throw new KeyError(label, "the passphrase is wrong (the private key did not decrypt); give the passphrase the key was encrypted with");
            }
            throw new KeyError(label, `could not be decrypted (${cipher}): the key is corrupt or uses an unsupported cipher; aes256-ctr and aes128-ctr are read`);
        }
        const again = (k.toString("openssh") as string);
        const inner = parseOpensshPrivate(again, undefined, label);
        if (!inner.plain || !inner.plain.publicBlob.equals(pub.blob)) throw new KeyError(label, "decrypts to a different key than its public part: corrupt");
        const comment = inner.plain.comment;
        return { info: infoFromBlob(pub, { comment, isPrivate: true, encrypted: true, format: "openssh" }), plain: inner.plain };
    }
    if (!plainSection) {
        return { info: infoFromBlob(pub, { comment: "", isPrivate: true, encrypted: true, format: "openssh" }) };
    }
    const pr = new WireReader(plainSection, "the private key section", label);
    const c1 = pr.u32();
    const c2 = pr.u32();
    if (c1 !== c2) throw new KeyError(label, "the private key section fails its check: corrupt");
    const wireType = pr.str();
    if (wireType !== pub.wireType) throw new KeyError(label, `the private part is ${wireType.slice(0, 40)} but the public part is ${pub.wireType}: corrupt`);
    const fields: Buffer[] = [];
    let rebuilt: Buffer;
    switch (wireType) {
        case "ssh-ed25519": {
            const pk = pr.bytes();
            const sk = pr.bytes();
            if (sk.length !== 64 || !sk.subarray(32).equals(pk) || !ed25519PublicOf(sk.subarray(0, 32)).equals(pk)) {
                throw new KeyError(label, "the ed25519 private key is corrupt (it does not match its public key)");
            }
            fields.push(pk, sk);
            rebuilt = Buffer.concat([sshString(wireType), sshString(pk)]);
            break;
        }
        case "ssh-rsa": {
            const [n, e, d, iqmp, p, q] = [pr.mpint(), pr.mpint(), pr.mpint(), pr.mpint(), pr.mpint(), pr.mpint()];
            if (toBigInt(p) * toBigInt(q) !== toBigInt(n)) throw new KeyError(label, "the RSA private key is corrupt (p*q != n)");
            fields.push(n, e, d, iqmp, p, q);
            rebuilt = Buffer.concat([sshString(wireType), sshMpint(e), sshMpint(n)]);
            break;
        }
        case "ssh-dss": {
            const [p, q, g, y, x] = [pr.mpint(), pr.mpint(), pr.mpint(), pr.mpint(), pr.mpint()];
            fields.push(p, q, g, y, x);
            rebuilt = Buffer.concat([sshString(wireType), sshMpint(p), sshMpint(q), sshMpint(g), sshMpint(y)]);
            break;
        }
        default: {
            if (/^ecdsa-sha2-/.test(wireType)) {
                const curve = pr.bytes();
                const qpt = pr.bytes();
                const d = pr.mpint();
                const c = CURVES[curve.toString("latin1")];
                if (!c) throw new KeyError(label, "the ecdsa private key names an unknown curve: corrupt");
                let derived: Buffer | undefined;
                try {
                    const ecdh = crypto.createECDH(c.nodeName);
                    ecdh.setPrivateKey(d);
                    derived = ecdh.getPublicKey();
                } catch {
                    derived = undefined;
                }
                if (!derived || !derived.equals(qpt)) throw new KeyError(label, "the ecdsa private key is corrupt (it does not match its public key)");
                fields.push(curve, qpt, d);
                rebuilt = Buffer.concat([sshString(wireType), sshString(curve), sshString(qpt)]);
                break;
            }
            // Security-key and other private formats: judged by their public part only.
            return { info: infoFromBlob(pub, { comment: "", isPrivate: true, encrypted: false, format: "openssh" }) };
        }
    }
    if (!rebuilt.equals(pub.blob)) throw new KeyError(label, "the private part does not match the public part: corrupt");
    const commentRaw = pr.bytes().toString("utf8");
    const pad = pr.rest();
    for (let i = 0; i < pad.length; i++) if (pad[i] !== i + 1) throw new KeyError(label, "the private key section has bad padding: corrupt");
    const comment = cleanComment(commentRaw, label);
    return {
        info: infoFromBlob(pub, { comment, isPrivate: true, encrypted: false, format: "openssh" }),
        plain: { wireType, publicBlob: pub.blob, fields, comment },
    };
}

const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

function ed25519PublicOf(seed: Buffer): Buffer {
    const key = crypto.createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
    const spki = crypto.createPublicKey(key).export({ type: "spki", format: "der" });
    return spki.subarray(spki.length - 32);
}

// ---- PEM, PKCS#8, SPKI (through node:crypto)

interface Der {
    tag: number;
    body: Buffer;
    next: number;
}

function derRead(buf: Buffer, off: number, label: string): Der {
    const fail = (): never => {
        throw new KeyError(label, "the DER structure is truncated or corrupt");
    };
    if (off + 2 > buf.length) fail();
    const tag = buf[off];
    let len = buf[off + 1];
    let p = off + 2;
    if (len & 0x80) {
        const n = len & 0x7f;
        if (n === 0 || n > 3 || p + n > buf.length) fail();
        len = 0;
        for (let i = 0; i < n; i++) len = len * 256 + buf[p + i];
        p += n;
    }
    if (p + len > buf.length) fail();
    return { tag, body: buf.subarray(p, p + len), next: p + len };
}

function derChildren(body: Buffer, label: string): Der[] {
    const out: Der[] = [];
    let off = 0;
    while (off < body.length) {
        const d = derRead(body, off, label);
        out.push(d);
        off = d.next;
    }
    return out;
}

/** The SSH public blob of a node KeyObject (public or private). */
function blobOfKeyObject(key: crypto.KeyObject, label: string): BlobInfo {
    const pub = key.type === "private" ? crypto.createPublicKey(key) : key;
    const spki = pub.export({ type: "spki", format: "der" });
    switch (pub.asymmetricKeyType) {
        case "ed25519": {
            const blob = Buffer.concat([sshString("ssh-ed25519"), sshString(spki.subarray(spki.length - 32))]);
            return parseBlob(blob, label);
        }
        case "rsa": {
            const jwk = pub.export({ format: "jwk" });
            const n = Buffer.from(String(jwk.n), "base64url");
            const e = Buffer.from(String(jwk.e), "base64url");
            return parseBlob(Buffer.concat([sshString("ssh-rsa"), sshMpint(e), sshMpint(n)]), label);
        }
        case "ec": {
            const named = pub.asymmetricKeyDetails?.namedCurve ?? "";
            const curve = Object.keys(CURVES).find((c) => CURVES[c].nodeName === named);
            if (!curve) {
                throw new KeyError(label, `is an EC key on curve '${named}', which SSH does not use; expected ecdsa nistp256, nistp384 or nistp521, or ed25519`);
            }
            const q = spki.subarray(spki.length - (1 + 2 * CURVES[curve].coord));
            const wireType = `ecdsa-sha2-${curve}`;
            return parseBlob(Buffer.concat([sshString(wireType), sshString(curve), sshString(q)]), label);
        }
        case "dsa": {
            const [algo, bits] = derChildren(derRead(spki, 0, label).body, label);
            const params = derChildren(derChildren(algo.body, label)[1].body, label).map((d) => d.body);
            const y = derRead(bits.body, 1, label).body;
            return parseBlob(Buffer.concat([sshString("ssh-dss"), ...[...params, y].map(sshMpint)]), label);
        }
        default:
            throw new KeyError(label, `is a ${pub.asymmetricKeyType} key, which SSH does not use; expected ed25519, ecdsa or rsa`);
    }
}

/** @internal */
export function parsePemKey(s: string, kind: string, passphrase: string | undefined, label: string): { info: KeyInfo; key: crypto.KeyObject } {
    const begin = `-----BEGIN ${kind}-----`;
    const known: Record<string, { private: boolean; format: KeyInfo["format"] }> = {
        "RSA PRIVATE KEY": { private: true, format: "pem" },
        "EC PRIVATE KEY": { private: true, format: "pem" },
        "DSA PRIVATE KEY": { private: true, format: "pem" },
        "PRIVATE KEY": { private: true, format: "pkcs8" },
        "ENCRYPTED PRIVATE KEY": { private: true, format: "pkcs8" },
        "PUBLIC KEY": { private: false, format: "pem" },
        "RSA PUBLIC KEY": { private: false, format: "pem" },
    };
    const k = known[kind];
    if (!k) {
        throw new KeyError(label, `is a PEM '${kind.slice(0, 40)}' block, not a key; expected an OpenSSH, PEM (RSA/EC/DSA PRIVATE KEY, PUBLIC KEY), PKCS#8 or PuTTY key`);
    }
    const { headers } = pemBody(s, begin, label);
    const encrypted = kind === "ENCRYPTED PRIVATE KEY" || /ENCRYPTED/.test(headers["Proc-Type"] ?? "");
    if (encrypted && passphrase === undefined) {
        throw new KeyEncryptedError(
            label,
            `is an encrypted ${k.format === "pkcs8" ? "PKCS#8" : "PEM"} private key: its type and size cannot be read without the passphrase; give the passphrase, or judge its public key (.pub) instead`,
        );
    }
    let key: crypto.KeyObject;
    try {
        key = k.private
            ? crypto.createPrivateKey({ key: s, format: "pem", passphrase: encrypted ? passphrase : undefined })
            : crypto.createPublicKey({ key: s, format: "pem" });
    } catch (e) {
        if (encrypted) throw new KeyError(label, "the passphrase is wrong or the encrypted key is corrupt; give the passphrase the key was encrypted with");
        const why = e instanceof Error ? e.message.replace(/^error:[0-9A-F]+:/, "").slice(0, 80) : "unreadable";
        throw new KeyError(label, `is not a readable ${kind} (${why}); expected a valid PEM or PKCS#8 key`);
    }
    const b = blobOfKeyObject(key, label);
    return { info: infoFromBlob(b, { comment: "", isPrivate: k.private, encrypted, format: k.format }), key };
}

// ---- PuTTY .ppk (reading; writing lives in core/ppk.ts)

/** @internal the parsed text of a .ppk file. */
export interface PpkFile {
    version: 2 | 3;
    algorithm: string;
    encryption: "none" | "aes256-cbc";
    comment: string;
    publicBlob: Buffer;
    privateBlob: Buffer;
    mac: Buffer;
    kdf?: { flavour: "Argon2id" | "Argon2i" | "Argon2d"; memory: number; passes: number; parallelism: number; salt: Buffer };
}

/** @internal */
export function readPpkFile(s: string, label: string): PpkFile {
    const lines = s.split(/\r?\n/);
    let i = 0;
    const take = (name: string): string => {
        const line = lines[i++] ?? "";
        const prefix = `${name}: `;
        if (!line.startsWith(prefix)) throw new KeyError(label, `is not a valid PuTTY key file: expected '${name}:' on line ${i}`);
        return line.slice(prefix.length);
    };
    const block = (name: string): Buffer => {
        const n = Number(take(name));
        if (!Number.isInteger(n) || n < 0 || n > 1024) throw new KeyError(label, `is not a valid PuTTY key file: bad ${name} count`);
        const text = lines.slice(i, i + n).map((l) => l.trim()).join("");
        i += n;
        return decodeBase64(text, label, `the PuTTY ${name.replace("-Lines", "").toLowerCase()} data`);
    };
    const head = /^PuTTY-User-Key-File-(\d+): (.*)$/.exec(lines[i++] ?? "");
    if (!head) throw new KeyError(label, "is not a valid PuTTY key file");
    const version = Number(head[1]);
    if (version !== 2 && version !== 3) {
        throw new KeyError(label, `is a PuTTY key file version ${version}; versions 2 and 3 are read (convert with a current puttygen)`);
    }
    const algorithm = head[2].trim();
    const encryption = take("Encryption");
    if (encryption !== "none" && encryption !== "aes256-cbc") throw new KeyError(label, `uses PuTTY encryption '${encryption.slice(0, 30)}'; expected none or aes256-cbc`);
    const comment = take("Comment");
    const publicBlob = block("Public-Lines");
    let kdf: PpkFile["kdf"];
    if (version === 3 && encryption !== "none") {
        const flavour = take("Key-Derivation");
        if (flavour !== "Argon2id" && flavour !== "Argon2i" && flavour !== "Argon2d") throw new KeyError(label, `uses an unknown key derivation '${flavour.slice(0, 30)}'`);
        const memory = Number(take("Argon2-Memory"));
        const passes = Number(take("Argon2-Passes"));
        const parallelism = Number(take("Argon2-Parallelism"));
        const saltHex = take("Argon2-Salt");
        // Bounded work: refuse parameters that would make reading the file a denial of service
        // (PuTTY writes 8 MiB and ~20 passes; we allow up to 256 MiB and 256 passes).
        if (!(memory >= 8 && memory <= 1 << 18 && passes >= 1 && passes <= 256 && parallelism >= 1 && parallelism <= 64) || !/^([0-9a-f]{2}){1,64}$/i.test(saltHex)) {
            throw new KeyError(label, "has out-of-range Argon2 parameters (at most 256 MiB and 256 passes are read)");
        }
        kdf = { flavour, memory, passes, parallelism, salt: Buffer.from(saltHex, "hex") };
    }
    const privateBlob = block("Private-Lines");
    const macHex = take("Private-MAC");
    if (!/^[0-9a-f]+$/i.test(macHex)) throw new KeyError(label, "has a malformed Private-MAC line");
    if (lines.slice(i).some((l) => l.trim() !== "")) throw new KeyError(label, "has text after the Private-MAC line");
    return { version: version as 2 | 3, algorithm, encryption, comment, publicBlob, privateBlob, mac: Buffer.from(macHex, "hex"), kdf };
}

/** @internal the data PuTTY's MAC covers (same layout in v2 and v3). */
export function ppkMacData(f: { algorithm: string; encryption: string; comment: string; publicBlob: Buffer }, privatePlain: Buffer): Buffer {
    return Buffer.concat([sshString(f.algorithm), sshString(f.encryption), sshString(f.comment), sshString(f.publicBlob), sshString(privatePlain)]);
}

/** @internal the fixed text in the MAC key of PuTTY v2 files, encrypted or not. */
export const PPK_MAC_KEY_TEXT = "putty-private-key-file-mac-key";

/** @internal PuTTY v2 key derivation: aes256-cbc key from SHA-1 of [0,0,0,n]+passphrase, zero IV, SHA-1 MAC key. */
export function ppkV2Keys(passphrase: string): { key: Buffer; iv: Buffer; macKey: Buffer } {
    const h = (n: number) => crypto.createHash("sha1").update(Buffer.from([0, 0, 0, n])).update(passphrase, "utf8").digest();
    return {
        key: Buffer.concat([h(0), h(1)]).subarray(0, 32),
        iv: Buffer.alloc(16),
        macKey: crypto.createHash("sha1").update(PPK_MAC_KEY_TEXT).update(passphrase, "utf8").digest(),
    };
}

/** @internal the MAC key of an unencrypted .ppk: empty for v3, SHA-1 of the fixed text for v2. */
export function ppkUnencryptedMacKey(version: 2 | 3): Buffer {
    return version === 3 ? Buffer.alloc(0) : crypto.createHash("sha1").update(PPK_MAC_KEY_TEXT).digest();
}

/** @internal aes256-cbc decryption of a .ppk private blob (no padding removal; PuTTY pads itself). */
export function ppkDecryptBlob(blob: Buffer, key: Buffer, iv: Buffer): Buffer {
    const d = crypto.createDecipheriv("aes-256-cbc", key, iv);
    d.setAutoPadding(false);
    return Buffer.concat([d.update(blob), d.final()]);
}

/** @internal PuTTY's MAC check (HMAC-SHA-256 for v3, HMAC-SHA-1 for v2); a mismatch is a KeyError saying `wrongMsg`. */
export function checkPpkMac(f: PpkFile, plain: Buffer, macKey: Buffer, label: string, wrongMsg: string): void {
    const mac = crypto.createHmac(f.version === 3 ? "sha256" : "sha1", macKey).update(ppkMacData(f, plain)).digest();
    if (mac.length !== f.mac.length || !crypto.timingSafeEqual(mac, f.mac)) throw new KeyError(label, wrongMsg);
}

/** @internal */
export const PPK_CORRUPT_MAC = "fails its PuTTY MAC check: the file is corrupt or was edited";
/** @internal */
export const PPK_WRONG_PASSPHRASE = "the passphrase is wrong (PuTTY MAC check failed); give the passphrase the key was saved with";

function parsePpk(s: string, passphrase: string | undefined, label: string): { info: KeyInfo; file: PpkFile; privatePlain?: Buffer } {
    const f = readPpkFile(s, label);
    const b = parseBlob(f.publicBlob, label, "the PuTTY public data");
    if (b.wireType !== f.algorithm) throw new KeyError(label, `says ${f.algorithm.slice(0, 40)} but its public data is ${b.wireType}: corrupt`);
    const comment = cleanComment(f.comment, label);
    const encrypted = f.encryption !== "none";
    const info = infoFromBlob(b, { comment, isPrivate: true, encrypted, format: "ppk" });
    let plain: Buffer | undefined;
    if (!encrypted) {
        plain = f.privateBlob;
        checkPpkMac(f, plain, ppkUnencryptedMacKey(f.version), label, PPK_CORRUPT_MAC);
    } else if (passphrase !== undefined && f.version === 2) {
        if (f.privateBlob.length % 16 !== 0) throw new KeyError(label, "has encrypted data of a bad length: corrupt");
        const k = ppkV2Keys(passphrase);
        plain = ppkDecryptBlob(f.privateBlob, k.key, k.iv);
        checkPpkMac(f, plain, k.macKey, label, PPK_WRONG_PASSPHRASE);
    }
    return { info, file: f, privatePlain: plain };
}

// ---------------------------------------------------------------------------------------------
// Rules

const TYPE_NAMES: Record<string, string> = {
    "ssh-ed25519": "ed25519",
    "ssh-rsa": "rsa",
    "ssh-dss": "dsa",
    dss: "dsa",
    "sk-ssh-ed25519@openssh.com": "sk-ed25519",
};

function normalizeType(t: string): { type: string; curve?: string } {
    const lower = String(t).trim().toLowerCase();
    if (TYPE_NAMES[lower]) return { type: TYPE_NAMES[lower] };
    const ec = /^(sk-)?ecdsa-sha2-(nistp\d+)/.exec(lower);
    if (ec) return { type: ec[1] ? "sk-ecdsa" : "ecdsa", curve: ec[2] };
    return { type: lower };
}

/** "P256", "P-256", "prime256v1", "secp256r1", "nistp256" -> "nistp256". */
export function normalizeCurve(c: string): string {
    const lower = String(c).trim().toLowerCase().replace(/[-_ ]/g, "");
    const m = /^(?:nistp|p|secp|prime)(\d+)(?:r1|v1)?$/.exec(lower);
    return m ? `nistp${m[1]}` : lower;
}

/**
 * The rules in force. Whatever the caller passed, nothing outside KNOWN_KEY_TYPES/KNOWN_CURVES is
 * allowed and RSA never goes below RSA_FLOOR_BITS: checkKeyRules refuses such rules where they are
 * configured, and this keeps judging safe for rules that never went through it.
 */
function mergeRules(rules?: Partial<KeyRules>): KeyRules {
    const r: KeyRules = { ...DEFAULT_KEY_RULES };
    for (const [k, v] of Object.entries(rules ?? {})) if (v !== undefined) (r as unknown as Record<string, unknown>)[k] = v;
    r.allowedTypes = r.allowedTypes.map((t) => normalizeType(t).type).filter((t) => KNOWN_KEY_TYPES.includes(t));
    r.allowedCurves = r.allowedCurves.map(normalizeCurve).filter((c) => KNOWN_CURVES.includes(c));
    r.minRsaBits = Number.isFinite(r.minRsaBits) ? Math.max(r.minRsaBits, RSA_FLOOR_BITS) : DEFAULT_KEY_RULES.minRsaBits;
    return r;
}

/** Why a type or curve is never allowed, whatever the rules say. */
const NEVER: Record<string, string> = {
    dsa: "DSA is limited to 1024 bits and was removed from OpenSSH 10.0",
    rsa1: "SSH protocol 1 keys are insecure and no longer supported by OpenSSH",
    nistp224: "P-224 gives less than 128-bit security and OpenSSH does not support it",
};

function words(list: readonly string[]): string {
    return list.length <= 1 ? list.join("") : `${list.slice(0, -1).join(", ")} or ${list[list.length - 1]}`;
}

/**
 * Checks configured key rules (a policy pack config, a component's `keyRules`) and returns them
 * normalized. A config may tighten the rules, never re-allow what is never allowed: dsa, rsa1,
 * unknown types, ecdsa P-224 or unknown curves, RSA below RSA_FLOOR_BITS, an EC2 import size
 * EC2 does not take or below the floor. `name(field)` says how the caller's user wrote the field
 * (e.g. "policy config: 'ssh-key-algorithm.minRsaBits'"); every error starts with it.
 */
export function checkKeyRules(rules: Partial<KeyRules>, name: (field: keyof KeyRules) => string): Partial<KeyRules> {
    const out: Partial<KeyRules> = {};
    const list = (k: "allowedTypes" | "allowedCurves", known: readonly string[], norm: (v: string) => string, what: string): string[] | undefined => {
        const v = rules[k] as unknown;
        if (v === undefined) return undefined;
        if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw new Error(`${name(k)} must be an array of strings; accepted: any of ${known.join(", ")}`);
        return v.map((x: string) => {
            const n = norm(x);
            if (known.includes(n)) return n;
            const shown = JSON.stringify(String(x).slice(0, 40));
            const why = NEVER[n] ? `, which is never allowed (${NEVER[n]})` : `, which is not ${what} the rules know`;
            throw new Error(`${name(k)} lists ${shown}${why}; accepted: any of ${known.join(", ")}`);
        });
    };
    const types = list("allowedTypes", KNOWN_KEY_TYPES, (t) => normalizeType(t).type, "a key type");
    if (types) out.allowedTypes = types;
    const curves = list("allowedCurves", KNOWN_CURVES, normalizeCurve, "an ecdsa curve");
    if (curves) out.allowedCurves = curves;
    const minRsa = rules.minRsaBits as unknown;
    if (minRsa !== undefined) {
        if (typeof minRsa !== "number" || !Number.isInteger(minRsa) || minRsa < RSA_FLOOR_BITS || minRsa > MAX_RSA_BITS) {
            throw new Error(
                `${name("minRsaBits")} must be an integer between ${RSA_FLOOR_BITS} and ${MAX_RSA_BITS} (RSA-${RSA_FLOOR_BITS} is the weakest NIST accepts through 2030); got ${JSON.stringify(minRsa)}`,
            );
        }
        out.minRsaBits = minRsa;
    }
    const ec2 = rules.ec2ImportRsaBits as unknown;
    if (ec2 !== undefined) {
        if (typeof ec2 !== "number" || !EC2_IMPORT_RSA_BITS_ALLOWED.includes(ec2)) {
            throw new Error(
                `${name("ec2ImportRsaBits")} must be ${words(EC2_IMPORT_RSA_BITS_ALLOWED.map(String))}: the RSA sizes EC2 imports (${EC2_IMPORT_RSA_BITS.join(", ")}) at or above the ${RSA_FLOOR_BITS}-bit floor; got ${JSON.stringify(ec2)}`,
            );
        }
        out.ec2ImportRsaBits = ec2;
    }
    const pass = rules.requirePassphrase as unknown;
    if (pass !== undefined) {
        if (typeof pass !== "boolean") throw new Error(`${name("requirePassphrase")} must be true or false`);
        out.requirePassphrase = pass;
    }
    return out;
}

/**
 * The RSA sizes a key imported into EC2 may have: sizes EC2 imports, at or above both the floor and
 * `ec2ImportRsaBits` (a minimum: 4096 allows 4096 only, 2048 allows 2048 and 4096).
 */
function ec2RsaSizes(r: KeyRules): number[] {
    return EC2_IMPORT_RSA_BITS.filter((b) => b >= RSA_FLOOR_BITS && b >= r.ec2ImportRsaBits);
}

function ec2RsaSizesInWords(r: KeyRules): string {
    const sizes = ec2RsaSizes(r);
    return sizes.length === 1 ? `exactly ${sizes[0]}` : sizes.join(" or ");
}

/** What the rules accept, in words: used in every refusal. */
export function describeAccepted(rules?: Partial<KeyRules>, ctx: { ec2Import?: boolean } = {}): string {
    const r = mergeRules(rules);
    const parts: string[] = [];
    for (const t of r.allowedTypes) {
        if (ctx.ec2Import && t !== "rsa" && t !== "ed25519") continue;
        if (t === "rsa") parts.push(ctx.ec2Import ? `rsa of ${ec2RsaSizesInWords(r)} bits` : `rsa of at least ${r.minRsaBits} bits`);
        else if (t === "ecdsa") parts.push(`ecdsa (${r.allowedCurves.join(", ")})`);
        else parts.push(t);
    }
    if (parts.length === 0) return "no key type (the rules allow none)";
    return parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(", ")} or ${parts[parts.length - 1]}`;
}

/**
 * The same rules for a key described only by algorithm and size: tls.PrivateKey, keygen
 * options, an aws.ec2.KeyPair before its key exists. Returns violation messages ([] = allowed).
 */
export function judgeKeySpec(
    spec: { type: string; bits?: number; curve?: string },
    rules?: Partial<KeyRules>,
    ctx: { ec2Import?: boolean; service?: boolean; label?: string } = {},
): string[] {
    const r = mergeRules(rules);
    const label = ctx.label ?? "key";
    const norm = normalizeType(spec.type);
    const type = norm.type;
    // An ecdsa key described only by its size (256/384/521) names its curve that way.
    const curve = spec.curve !== undefined ? normalizeCurve(spec.curve) : norm.curve ?? (type === "ecdsa" && spec.bits ? EC_BITS[spec.bits] : undefined);
    const accepted = `expected ${describeAccepted(r, ctx)}`;
    const size = type === "rsa" && spec.bits ? `-${spec.bits}` : type === "ecdsa" && curve ? ` ${curve}` : "";
    const out: string[] = [];
    if (!r.allowedTypes.includes(type)) {
        out.push(`${label}: ${type}${size} keys are not allowed${NEVER[type] ? ` (${NEVER[type]})` : ""}; ${accepted}.`);
        return out;
    }
    if (ctx.ec2Import && type !== "rsa" && type !== "ed25519") {
        out.push(`${label}: EC2 can import only rsa and ed25519 keys, not ${type}${size}; ${accepted}.`);
        return out;
    }
    if (type === "rsa") {
        if (spec.bits === undefined || !Number.isFinite(spec.bits)) {
            out.push(`${label}: the RSA key size is not given; ${accepted}.`);
        } else if (ctx.ec2Import) {
            if (!ec2RsaSizes(r).includes(spec.bits)) {
                out.push(
                    `${label}: rsa-${spec.bits} is not allowed for EC2 import, which takes rsa 1024/2048/4096 and ed25519; our rule needs rsa of ${ec2RsaSizesInWords(r)} bits (or ed25519).`,
                );
            }
        } else if (spec.bits < r.minRsaBits) {
            out.push(`${label}: rsa-${spec.bits} is too small (the rules require at least ${r.minRsaBits} bits); ${accepted}.`);
        }
    }
    if (type === "ecdsa") {
        if (!curve) out.push(`${label}: the ecdsa curve is not given; ${accepted}.`);
        else if (!r.allowedCurves.includes(curve)) out.push(`${label}: ecdsa curve ${curve} is not allowed${NEVER[curve] ? ` (${NEVER[curve]})` : ""}; ${accepted}.`);
    }
    return out;
}

/**
 * Judge a parsed key by the rules. ctx.ec2Import: the key is imported into EC2 (rsa of exactly
 * ec2ImportRsaBits or ed25519). ctx.service: a non-interactive service account's key, which
 * may be stored without a passphrase. Returns violation messages ([] = allowed).
 */
export function judgeKey(info: KeyInfo, rules?: Partial<KeyRules>, ctx: { ec2Import?: boolean; service?: boolean; label?: string } = {}): string[] {
    const r = mergeRules(rules);
    const label = ctx.label ?? "key";
    const out = judgeKeySpec({ type: info.type, bits: info.bits, curve: info.curve }, r, ctx);
    if (info.isPrivate && !info.encrypted && r.requirePassphrase && !ctx.service) {
        out.push(
            `${label}: this private key has no passphrase; a person's private key must be passphrase-protected (ssh-keygen -p -f KEY), only a non-interactive service account's key may be stored without one.`,
        );
    }
    return out;
}

/**
 * The key rules from a policy pack config (`pulumi preview --policy-pack-config cfg.json`):
 * `{ "ssh-key-algorithm": { allowedTypes, minRsaBits, allowedCurves, ec2ImportRsaBits },
 *    "ssh-key-passphrase": { requirePassphrase } }`. Other keys (enforcementLevel, other rules)
 * are ignored. Throws an Error naming the field and what it accepts on a bad value, including one
 * that would re-allow what is never allowed (see checkKeyRules).
 */
export function keyRulesFromPolicyConfig(config: unknown): Partial<KeyRules> {
    if (config === undefined || config === null) return {};
    if (typeof config !== "object" || Array.isArray(config)) throw new Error("policy config: must be a JSON object keyed by rule name");
    const c = config as Record<string, unknown>;
    const section = (name: string): Record<string, unknown> => {
        const v = c[name];
        if (v === undefined || typeof v === "string") return {}; // "mandatory"/"advisory"/"disabled" short form
        if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`policy config: '${name}' must be an object`);
        return v as Record<string, unknown>;
    };
    const alg = section("ssh-key-algorithm");
    const pass = section("ssh-key-passphrase");
    // Other keys in a section (enforcementLevel, ...) are the pack's business, not the rules'.
    const picked: Record<string, unknown> = {
        allowedTypes: alg.allowedTypes,
        allowedCurves: alg.allowedCurves,
        minRsaBits: alg.minRsaBits,
        ec2ImportRsaBits: alg.ec2ImportRsaBits,
        requirePassphrase: pass.requirePassphrase,
    };
    return checkKeyRules(picked as Partial<KeyRules>, (k) => `policy config: '${k === "requirePassphrase" ? "ssh-key-passphrase" : "ssh-key-algorithm"}.${k}'`);
}

// ---------------------------------------------------------------------------------------------
// Key specs and conversion (generation and encryption: core/keygen.ts)

/** Resolve keygen options to a concrete spec (defaults: ed25519; ecdsa nistp256; rsa 4096). Throws Error on a bad option. */
export function resolveKeySpec(opts: { type?: string; bits?: number; curve?: string }): { type: "ed25519" | "ecdsa" | "rsa"; bits: number; curve?: string } {
    const type = opts.type ?? "ed25519";
    switch (type) {
        case "ed25519":
            if (opts.bits !== undefined && opts.bits !== 256) throw new Error(`bits: ed25519 keys are always 256 bits; got ${opts.bits}`);
            if (opts.curve !== undefined) throw new Error("curve: only ecdsa keys take a curve");
            return { type, bits: 256 };
        case "ecdsa": {
            let curve = opts.curve !== undefined ? normalizeCurve(opts.curve) : undefined;
            if (opts.bits !== undefined) {
                const fromBits = opts.bits === 224 ? undefined : EC_BITS[opts.bits];
                if (!fromBits) throw new Error(`bits: ecdsa keys are 256, 384 or 521 bits; got ${opts.bits}`);
                if (curve && curve !== fromBits) throw new Error(`curve: ${curve} does not have ${opts.bits} bits`);
                curve = fromBits;
            }
            curve = curve ?? "nistp256";
            if (!KNOWN_CURVES.includes(curve)) throw new Error(`curve: expected ${words(KNOWN_CURVES)}; got ${String(opts.curve).slice(0, 30)}`);
            return { type, bits: CURVES[curve].bits, curve };
        }
        case "rsa": {
            const bits = opts.bits ?? 4096;
            if (bits !== 3072 && bits !== 4096) throw new Error(`bits: rsa keys are generated with 3072 or 4096 bits; got ${bits}`);
            if (opts.curve !== undefined) throw new Error("curve: only ecdsa keys take a curve");
            return { type, bits };
        }
        default:
            throw new Error(`type: expected ed25519, ecdsa or rsa; got '${String(type).slice(0, 30)}'`);
    }
}

/** The OpenSSH public key line of a private key (no passphrase needed for OpenSSH and PPK files). */
export function publicKeyOf(privateKeyText: string, passphrase?: string): string {
    return parseKey(privateKeyText, { passphrase, label: "private key" }).publicKey;
}
