/**
 * PuTTY .ppk private keys, format version 3, for Windows users of PuTTY and WinSCP.
 *
 * Written by us because sshpk's 'putty' output puts the private key into Public-Lines
 * (sshpk 1.18). Layout per PuTTY's manual, appendix C ("PPK file format") and sshpubk.c:
 * MAC = HMAC-SHA-256 over string(algorithm) string(encryption) string(comment)
 * string(public blob) string(padded private blob); with a passphrase, Argon2id gives
 * 80 bytes = aes256-cbc key (32) | IV (16) | MAC key (32); without, the MAC key is empty.
 * Argon2 comes from hash-wasm (a maintained WebAssembly build), so this module is async.
 */
import * as crypto from "crypto";
import { argon2d, argon2i, argon2id } from "hash-wasm";
import {
    KeyError,
    PPK_CORRUPT_MAC,
    PPK_WRONG_PASSPHRASE,
    WireReader,
    checkPpkMac,
    decryptPrivateKey,
    parseKey,
    parseOpensshPrivate,
    ppkDecryptBlob,
    ppkMacData,
    ppkUnencryptedMacKey,
    ppkV2Keys,
    readPpkFile,
    sshMpint,
    sshString,
} from "./keygen";

/**
 * The Argon2 parameters we write: PuTTY's defaults (Argon2id, 8192 KiB, parallelism 1, 16-byte
 * salt). PuTTY calibrates passes to 100 ms; puttygen 0.78 chose 21 on our CI machine, and a
 * fixed value keeps key files reproducible in cost across machines.
 */
export const PPK_ARGON2 = Object.freeze({ flavour: "Argon2id" as const, memory: 8192, passes: 21, parallelism: 1, saltBytes: 16 });

/** The plain parts of a private key, in OpenSSH private-section order. */
interface KeyParts {
    wireType: string;
    publicBlob: Buffer;
    /** ed25519: [pk, seed||pk]; ecdsa: [curve, Q, d]; rsa: [n, e, d, iqmp, p, q]; dsa: [p, q, g, y, x] */
    fields: Buffer[];
    comment: string;
}

function opensshParts(privateKeyText: string, passphrase: string | undefined, label: string): KeyParts {
    let text = privateKeyText;
    if (!/-----BEGIN OPENSSH PRIVATE KEY-----/.test(text)) text = decryptPrivateKey(text, passphrase);
    let p = parseOpensshPrivate(text.trim(), undefined, label);
    if (p.info.encrypted) {
        if (passphrase === undefined) throw new KeyError(label, "is encrypted; give its passphrase to convert it");
        p = parseOpensshPrivate(text.trim(), passphrase, label);
    }
    if (!p.plain) throw new KeyError(label, `is a ${p.info.type} key, which cannot be written as a PuTTY key; use ed25519, ecdsa or rsa`);
    return p.plain;
}

/** PuTTY's private blob for each key type (sshpubk.c / the ssh_key private_blob methods). */
function ppkPrivateBlob(k: KeyParts, label: string): Buffer {
    const f = k.fields;
    switch (k.wireType) {
        case "ssh-ed25519":
            // The private scalar as PuTTY keeps it: the 32-byte seed, little-endian, fixed length.
            return sshString(f[1].subarray(0, 32));
        case "ssh-rsa":
            return Buffer.concat([sshMpint(f[2]), sshMpint(f[4]), sshMpint(f[5]), sshMpint(f[3])]);
        case "ssh-dss":
            return sshMpint(f[4]);
        default:
            if (/^ecdsa-sha2-nistp(256|384|521)$/.test(k.wireType)) return sshMpint(f[2]);
            throw new KeyError(label, `${k.wireType} keys cannot be written as PuTTY keys; use ed25519, ecdsa or rsa`);
    }
}

async function argon2(flavour: string, opts: { password: string; salt: Buffer; passes: number; memory: number; parallelism: number }): Promise<Buffer> {
    const fn = flavour === "Argon2id" ? argon2id : flavour === "Argon2i" ? argon2i : argon2d;
    const out = await fn({
        password: Buffer.from(opts.password, "utf8"),
        salt: opts.salt,
        iterations: opts.passes,
        parallelism: opts.parallelism,
        memorySize: opts.memory,
        hashLength: 80,
        outputType: "binary",
    });
    return Buffer.from(out);
}

function base64Lines(b: Buffer): string[] {
    const s = b.toString("base64");
    const out: string[] = [];
    for (let i = 0; i < s.length; i += 64) out.push(s.slice(i, i + 64));
    return out;
}

/**
 * A PuTTY PPK v3 private key file from a private key (OpenSSH; PEM/PKCS#8 are converted).
 * With `passphrase`, the file is encrypted (aes256-cbc, Argon2id); an encrypted input key is
 * decrypted with the same passphrase. `comment` defaults to the key's own comment.
 */
export async function toPpk(privateKeyOpenssh: string, opts: { passphrase?: string; comment?: string } = {}): Promise<string> {
    const label = "private key";
    if (opts.passphrase !== undefined && (typeof opts.passphrase !== "string" || opts.passphrase === "")) {
        throw new Error("passphrase: must be a non-empty string (omit it for an unencrypted .ppk)");
    }
    const parts = opensshParts(privateKeyOpenssh, opts.passphrase, label);
    const comment = opts.comment ?? parts.comment;
    if (/[\r\n\x00]/.test(comment)) throw new Error("comment: must be one line");
    const priv = ppkPrivateBlob(parts, label);
    const encryption = opts.passphrase !== undefined ? "aes256-cbc" : "none";

    const header = [`PuTTY-User-Key-File-3: ${parts.wireType}`, `Encryption: ${encryption}`, `Comment: ${comment}`];
    const pubLines = base64Lines(parts.publicBlob);
    const out = [...header, `Public-Lines: ${pubLines.length}`, ...pubLines];

    let stored: Buffer;
    let mac: Buffer;
    const f = { algorithm: parts.wireType, encryption, comment, publicBlob: parts.publicBlob };
    if (opts.passphrase === undefined) {
        stored = priv;
        mac = crypto.createHmac("sha256", Buffer.alloc(0)).update(ppkMacData(f, priv)).digest();
    } else {
        // Padding as PuTTY writes it: bytes of SHA-1 of the unpadded blob (no known plaintext).
        const padLen = (16 - (priv.length % 16)) % 16;
        const padded = Buffer.concat([priv, crypto.createHash("sha1").update(priv).digest().subarray(0, padLen)]);
        const salt = crypto.randomBytes(PPK_ARGON2.saltBytes);
        const keys = await argon2(PPK_ARGON2.flavour, { password: opts.passphrase, salt, passes: PPK_ARGON2.passes, memory: PPK_ARGON2.memory, parallelism: PPK_ARGON2.parallelism });
        mac = crypto.createHmac("sha256", keys.subarray(48, 80)).update(ppkMacData(f, padded)).digest();
        const c = crypto.createCipheriv("aes-256-cbc", keys.subarray(0, 32), keys.subarray(32, 48));
        c.setAutoPadding(false);
        stored = Buffer.concat([c.update(padded), c.final()]);
        out.push(
            `Key-Derivation: ${PPK_ARGON2.flavour}`,
            `Argon2-Memory: ${PPK_ARGON2.memory}`,
            `Argon2-Passes: ${PPK_ARGON2.passes}`,
            `Argon2-Parallelism: ${PPK_ARGON2.parallelism}`,
            `Argon2-Salt: ${salt.toString("hex")}`,
        );
    }
    const privLines = base64Lines(stored);
    out.push(`Private-Lines: ${privLines.length}`, ...privLines, `Private-MAC: ${mac.toString("hex")}`);
    return out.join("\n") + "\n";
}

/** An unencrypted OpenSSH private key file from its parts. */
function encodeOpenssh(k: KeyParts): string {
    const check = crypto.randomBytes(4);
    let section = Buffer.concat([check, check, sshString(k.wireType), ...k.fields.map((b, i) => (isStringField(k.wireType, i) ? sshString(b) : sshMpint(b))), sshString(k.comment)]);
    const pad: number[] = [];
    for (let i = 1; (section.length + pad.length) % 8 !== 0; i++) pad.push(i);
    section = Buffer.concat([section, Buffer.from(pad)]);
    const body = Buffer.concat([
        Buffer.from("openssh-key-v1\0", "latin1"),
        sshString("none"),
        sshString("none"),
        sshString(Buffer.alloc(0)),
        Buffer.from([0, 0, 0, 1]),
        sshString(k.publicBlob),
        sshString(section),
    ]);
    const lines = body.toString("base64").match(/.{1,70}/g) ?? [];
    return ["-----BEGIN OPENSSH PRIVATE KEY-----", ...lines, "-----END OPENSSH PRIVATE KEY-----", ""].join("\n");
}

function isStringField(wireType: string, i: number): boolean {
    if (wireType === "ssh-ed25519") return true;
    if (wireType.startsWith("ecdsa-")) return i < 2;
    return false;
}

function readMpint(b: Buffer, label: string): { value: Buffer; rest: Buffer } {
    if (b.length < 4) throw new KeyError(label, "the PuTTY private data is truncated");
    const n = b.readUInt32BE(0);
    if (n > b.length - 4) throw new KeyError(label, "the PuTTY private data is truncated");
    let v = b.subarray(4, 4 + n);
    while (v.length > 0 && v[0] === 0) v = v.subarray(1);
    return { value: v, rest: b.subarray(4 + n) };
}

/**
 * Read a PuTTY .ppk (v2 or v3, encrypted or not) and return the key as an unencrypted
 * OpenSSH private key. A wrong passphrase is a KeyError (PuTTY's MAC check), never a crash.
 */
export async function decryptPpk(ppkText: string, passphrase?: string, label = "key"): Promise<string> {
    const f = readPpkFile(String(ppkText).replace(/^\uFEFF/, "").trim(), label);
    const pub = parseKey(`${f.algorithm} ${f.publicBlob.toString("base64")}`, { label });
    let plain: Buffer;
    if (f.encryption === "none") {
        plain = f.privateBlob;
        checkPpkMac(f, plain, ppkUnencryptedMacKey(f.version), label, PPK_CORRUPT_MAC);
    } else {
        if (passphrase === undefined) throw new KeyError(label, "is an encrypted PuTTY key; give its passphrase");
        if (f.privateBlob.length % 16 !== 0) throw new KeyError(label, "has encrypted data of a bad length: corrupt");
        let keys: { key: Buffer; iv: Buffer; macKey: Buffer };
        if (f.version === 3) {
            const k = f.kdf!;
            const derived = await argon2(k.flavour, { password: passphrase, salt: k.salt, passes: k.passes, memory: k.memory, parallelism: k.parallelism });
            keys = { key: derived.subarray(0, 32), iv: derived.subarray(32, 48), macKey: derived.subarray(48, 80) };
        } else {
            keys = ppkV2Keys(passphrase);
        }
        plain = ppkDecryptBlob(f.privateBlob, keys.key, keys.iv);
        checkPpkMac(f, plain, keys.macKey, label, PPK_WRONG_PASSPHRASE);
    }
    const blob = f.publicBlob;
    let rest = plain;
    const pr = {
        next(): Buffer {
            const r = readMpint(rest, label);
            rest = r.rest;
            return r.value;
        },
    };
    let fields: Buffer[];
    // The public parts come from the public blob (already validated by parseKey above).
    const pubFields = (() => {
        const parts: Buffer[] = [];
        const r = new WireReader(blob, "the PuTTY public data", label);
        r.str();
        while (r.remaining() > 0) parts.push(r.bytes());
        return parts;
    })();
    switch (f.algorithm) {
        case "ssh-ed25519": {
            // Older PuTTY wrote the little-endian scalar without its high zero bytes.
            const n = plain.length >= 4 ? plain.readUInt32BE(0) : -1;
            if (n < 0 || n > 32 || plain.length < 4 + n) throw new KeyError(label, "the ed25519 private key is corrupt");
            const seedLe = plain.subarray(4, 4 + n);
            const seed = Buffer.concat([seedLe, Buffer.alloc(32 - n)]);
            fields = [pubFields[0], Buffer.concat([seed, pubFields[0]])];
            break;
        }
        case "ssh-rsa": {
            const [d, p, q, iqmp] = [pr.next(), pr.next(), pr.next(), pr.next()];
            const [e, n] = pubFields;
            fields = [n, e, d, iqmp, p, q];
            break;
        }
        case "ssh-dss":
            fields = [...pubFields, pr.next()];
            break;
        default:
            if (!/^ecdsa-sha2-/.test(f.algorithm)) throw new KeyError(label, `${f.algorithm} PuTTY keys are not supported`);
            fields = [pubFields[0], pubFields[1], pr.next()];
    }
    const openssh = encodeOpenssh({ wireType: f.algorithm, publicBlob: blob, fields, comment: f.comment });
    // Re-read our own output: checks p*q = n and that the private part matches the public one.
    const check = parseKey(openssh, { label });
    if (check.fingerprint !== pub.fingerprint) throw new KeyError(label, "the PuTTY private key does not match its public key: corrupt");
    return openssh;
}
