/**
 * Reading a PuTTY .ppk private key (v2 or v3, encrypted or not) into an unencrypted OpenSSH
 * private key, per PuTTY's manual, appendix C ("PPK file format") and sshpubk.c.
 */
import { parseKey } from "../keys/parseKey";
import { KeyError } from "../keys/types";
import { WireReader } from "../keys/wire";
import { argon2 } from "./argon2";
import {
    PPK_CORRUPT_MAC,
    PPK_WRONG_PASSPHRASE,
    PpkFile,
    checkPpkMac,
    ppkDecryptBlob,
    ppkUnencryptedMacKey,
    ppkV2Keys,
    readPpkFile,
} from "./format";
import { encodeOpenssh } from "./openssh";

/** The private blob in the clear, its MAC checked (v3 derives its keys with Argon2, v2 with SHA-1). */
async function plainPrivateBlob(f: PpkFile, passphrase: string | undefined, label: string): Promise<Buffer> {
    if (f.encryption === "none") {
        checkPpkMac(f, f.privateBlob, ppkUnencryptedMacKey(f.version), label, PPK_CORRUPT_MAC);
        return f.privateBlob;
    }
    if (passphrase === undefined) throw new KeyError(label, "is an encrypted PuTTY key; give its passphrase");
    if (f.privateBlob.length % 16 !== 0) throw new KeyError(label, "has encrypted data of a bad length: corrupt");
    let keys: { key: Buffer; iv: Buffer; macKey: Buffer };
    if (f.version === 3) {
        const k = f.kdf!;
        const derived = await argon2(k.flavour, {
            password: passphrase,
            salt: k.salt,
            passes: k.passes,
            memory: k.memory,
            parallelism: k.parallelism,
        });
        keys = { key: derived.subarray(0, 32), iv: derived.subarray(32, 48), macKey: derived.subarray(48, 80) };
    } else {
        keys = ppkV2Keys(passphrase);
    }
    const plain = ppkDecryptBlob(f.privateBlob, keys.key, keys.iv);
    checkPpkMac(f, plain, keys.macKey, label, PPK_WRONG_PASSPHRASE);
    return plain;
}

function readMpint(b: Buffer, label: string): { value: Buffer; rest: Buffer } {
    if (b.length < 4) throw new KeyError(label, "the PuTTY private data is truncated");
    const n = b.readUInt32BE(0);
    if (n > b.length - 4) throw new KeyError(label, "the PuTTY private data is truncated");
    let v = b.subarray(4, 4 + n);
    while (v.length > 0 && v[0] === 0) v = v.subarray(1);
    return { value: v, rest: b.subarray(4 + n) };
}

/** The fields after the type name in a public blob (already validated by parseKey). */
function publicFields(blob: Buffer, label: string): Buffer[] {
    const parts: Buffer[] = [];
    const r = new WireReader(blob, "the PuTTY public data", label);
    r.str();
    while (r.remaining() > 0) parts.push(r.bytes());
    return parts;
}

/** The OpenSSH private-section fields from PuTTY's public and private blobs. */
function opensshFields(algorithm: string, pubFields: Buffer[], plain: Buffer, label: string): Buffer[] {
    let rest = plain;
    const next = (): Buffer => {
        const r = readMpint(rest, label);
        rest = r.rest;
        return r.value;
    };
    switch (algorithm) {
        case "ssh-ed25519": {
            // Older PuTTY wrote the little-endian scalar without its high zero bytes.
            const n = plain.length >= 4 ? plain.readUInt32BE(0) : -1;
            if (n < 0 || n > 32 || plain.length < 4 + n)
                throw new KeyError(label, "the ed25519 private key is corrupt");
            const seedLe = plain.subarray(4, 4 + n);
            const seed = Buffer.concat([seedLe, Buffer.alloc(32 - n)]);
            return [pubFields[0], Buffer.concat([seed, pubFields[0]])];
        }
        case "ssh-rsa": {
            const [d, p, q, iqmp] = [next(), next(), next(), next()];
            const [e, n] = pubFields;
            return [n, e, d, iqmp, p, q];
        }
        case "ssh-dss":
            return [...pubFields, next()];
        default:
            if (!/^ecdsa-sha2-/.test(algorithm)) throw new KeyError(label, `${algorithm} PuTTY keys are not supported`);
            return [pubFields[0], pubFields[1], next()];
    }
}

/**
 * Read a PuTTY .ppk (v2 or v3, encrypted or not) and return the key as an unencrypted
 * OpenSSH private key. A wrong passphrase is a KeyError (PuTTY's MAC check), never a crash.
 */
export async function decryptPpk(ppkText: string, passphrase?: string, label = "key"): Promise<string> {
    const f = readPpkFile(
        String(ppkText)
            .replace(/^\uFEFF/, "")
            .trim(),
        label,
    );
    const pub = parseKey(`${f.algorithm} ${f.publicBlob.toString("base64")}`, { label });
    const plain = await plainPrivateBlob(f, passphrase, label);
    const blob = f.publicBlob;
    const fields = opensshFields(f.algorithm, publicFields(blob, label), plain, label);
    const openssh = encodeOpenssh({ wireType: f.algorithm, publicBlob: blob, fields, comment: f.comment });
    // Re-read our own output: checks p*q = n and that the private part matches the public one.
    const check = parseKey(openssh, { label });
    if (check.fingerprint !== pub.fingerprint) {
        throw new KeyError(label, "the PuTTY private key does not match its public key: corrupt");
    }
    return openssh;
}
