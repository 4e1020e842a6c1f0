/**
 * Key generation and private-key encryption (OpenSSH format, bcrypt KDF, aes256-ctr): the part of
 * the key code that needs sshpk. The public surface of core/keys (parsing, fingerprints, the key
 * rules) is re-exported here, so a module that generates keys imports this one module.
 *
 * Kept apart from core/keys for the provisioner Lambda: it judges public keys only, through
 * core/accessSpec -> core/keys, and its bundle must not carry sshpk and its crypto dependencies
 * (tweetnacl, jsbn, ecc-jsbn, bcrypt-pbkdf; about 180 KiB; test/bundle-lambda.test.ts).
 */
import * as crypto from "crypto";
import * as sshpk from "sshpk";
import { keyText, parseKey } from "./keys/parseKey";
import { parsePemKey } from "./keys/pem";
import { parseOpensshPrivate } from "./keys/privateKey";
import { resolveKeySpec } from "./keys/spec";
import { CURVES, KeyEncryptedError, KeyError } from "./keys/types";

// "./keys/index", not "./keys": test/keyPairProvider.test.ts follows the provider's imports to "X.ts" files.
export * from "./keys/index";

export interface GeneratedKey {
    type: "ed25519" | "ecdsa" | "rsa";
    bits: number;
    curve?: string;
    /** "type base64 comment" */
    publicKey: string;
    fingerprint: string;
    /** OpenSSH private key, unencrypted: a secret. */
    privateKey: string;
}

/** A private key in any readable format, decrypted, as an sshpk PrivateKey (never from encrypted PEM: sshpk throws a second, uncaught exception after a wrong passphrase there). */
function sshpkPrivate(text: string, passphrase: string | undefined, label: string): sshpk.PrivateKey {
    const s = keyText(text, label);
    if (s.includes("-----BEGIN OPENSSH PRIVATE KEY-----")) {
        const p = parseOpensshPrivate(s, passphrase, label);
        if (p.info.encrypted && passphrase === undefined)
            throw new KeyEncryptedError(label, "is encrypted; give its passphrase");
        const k = sshpk.parsePrivateKey(
            s,
            "openssh",
            passphrase !== undefined && p.info.encrypted ? { passphrase } : undefined,
        );
        return k;
    }
    const m = /^-----BEGIN ([A-Z0-9 ]+)-----/.exec(s);
    if (m) {
        const { info, key } = parsePemKey(s, m[1], passphrase, label);
        if (!info.isPrivate) throw new KeyError(label, "is a public key; a private key is needed here");
        // Decrypted by node:crypto; sshpk only ever sees an unencrypted PKCS#8.
        return sshpk.parsePrivateKey(key.export({ type: "pkcs8", format: "pem" }) as string, "pkcs8");
    }
    if (/^PuTTY-User-Key-File-/.test(s)) {
        throw new KeyError(
            label,
            "is a PuTTY key; convert it with `puttygen KEY.ppk -O private-openssh -o KEY` first (or use decryptPpk from core/ppk)",
        );
    }
    throw new KeyError(label, "is not a private key; expected an OpenSSH, PEM or PKCS#8 private key");
}

/** Generate a key pair. RSA through node:crypto (sshpk cannot generate RSA). */
export function generateKey(opts: {
    type: "ed25519" | "ecdsa" | "rsa";
    bits?: number;
    curve?: string;
    comment?: string;
}): GeneratedKey {
    const spec = resolveKeySpec(opts);
    const comment = opts.comment ?? "";
    if (/[\x00-\x1f\x7f]/.test(comment)) throw new Error("comment: must be one line without control characters");
    let pair: crypto.KeyPairKeyObjectResult;
    if (spec.type === "ed25519") pair = crypto.generateKeyPairSync("ed25519");
    else if (spec.type === "ecdsa")
        pair = crypto.generateKeyPairSync("ec", { namedCurve: CURVES[spec.curve!].nodeName });
    else pair = crypto.generateKeyPairSync("rsa", { modulusLength: spec.bits, publicExponent: 65537 });
    const k = sshpk.parsePrivateKey(pair.privateKey.export({ type: "pkcs8", format: "pem" }) as string, "pkcs8");
    // sshpk caches the public key: the comment must be set before any toPublic()/fingerprint().
    k.comment = comment;
    const privateKey = k.toString("openssh") as string;
    const info = parseKey(privateKey, { label: "generated key" });
    const out: GeneratedKey = {
        type: spec.type,
        bits: info.bits,
        publicKey: info.publicKey,
        fingerprint: info.fingerprint,
        privateKey,
    };
    if (info.curve) out.curve = info.curve;
    return out;
}

/**
 * Encrypt an OpenSSH (or PEM/PKCS#8) private key with a passphrase: OpenSSH format, bcrypt
 * KDF, aes256-ctr (the one cipher both ssh-keygen and puttygen read; never aes256-gcm).
 */
export function encryptPrivateKey(privateKeyOpenssh: string, passphrase: string): string {
    if (typeof passphrase !== "string" || passphrase.length === 0)
        throw new Error("passphrase: must be a non-empty string");
    const k = sshpkPrivate(privateKeyOpenssh, undefined, "private key");
    return k.toString("openssh", { passphrase, cipher: "aes256-ctr" } as sshpk.Format.WriteOptions) as string;
}

/** Decrypt a private key to unencrypted OpenSSH format (any readable private format). */
export function decryptPrivateKey(privateKeyText: string, passphrase?: string): string {
    return sshpkPrivate(privateKeyText, passphrase, "private key").toString("openssh") as string;
}
