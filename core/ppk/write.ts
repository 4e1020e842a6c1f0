/**
 * Writing PuTTY .ppk private keys, format version 3, for Windows users of PuTTY and WinSCP.
 *
 * Written by us because sshpk's 'putty' output puts the private key into Public-Lines
 * (sshpk 1.18). Layout per PuTTY's manual, appendix C ("PPK file format") and sshpubk.c:
 * MAC = HMAC-SHA-256 over string(algorithm) string(encryption) string(comment)
 * string(public blob) string(padded private blob); with a passphrase, Argon2id gives
 * 80 bytes = aes256-cbc key (32) | IV (16) | MAC key (32); without, the MAC key is empty.
 */
import * as crypto from "crypto";
import { decryptPrivateKey } from "../keygen";
import { parseOpensshPrivate } from "../keys/privateKey";
import { KeyError } from "../keys/types";
import { sshMpint, sshString } from "../keys/wire";
import { argon2 } from "./argon2";
import { ppkMacData } from "./format";
import { KeyParts } from "./openssh";

/**
 * The Argon2 parameters we write: PuTTY's defaults (Argon2id, 8192 KiB, parallelism 1, 16-byte
 * salt). PuTTY calibrates passes to 100 ms; puttygen 0.78 chose 21 on our CI machine, and a
 * fixed value keeps key files reproducible in cost across machines.
 */
export const PPK_ARGON2 = Object.freeze({
    flavour: "Argon2id" as const,
    memory: 8192,
    passes: 21,
    parallelism: 1,
    saltBytes: 16,
});

/** The parts of an OpenSSH private key (PEM/PKCS#8 are converted first), decrypted with `passphrase`. */
function opensshParts(privateKeyText: string, passphrase: string | undefined, label: string): KeyParts {
    let text = privateKeyText;
    if (!/-----BEGIN OPENSSH PRIVATE KEY-----/.test(text)) text = decryptPrivateKey(text, passphrase);
    let p = parseOpensshPrivate(text.trim(), undefined, label);
    if (p.info.encrypted) {
        if (passphrase === undefined) throw new KeyError(label, "is encrypted; give its passphrase to convert it");
        p = parseOpensshPrivate(text.trim(), passphrase, label);
    }
    if (!p.plain) {
        throw new KeyError(
            label,
            `is a ${p.info.type} key, which cannot be written as a PuTTY key; use ed25519, ecdsa or rsa`,
        );
    }
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

function base64Lines(b: Buffer): string[] {
    const s = b.toString("base64");
    const out: string[] = [];
    for (let i = 0; i < s.length; i += 64) out.push(s.slice(i, i + 64));
    return out;
}

type MacFields = { algorithm: string; encryption: string; comment: string; publicBlob: Buffer };

/** The private blob padded, MACed and encrypted under an Argon2id key, and the header lines naming its parameters. */
async function encryptBlob(
    priv: Buffer,
    passphrase: string,
    f: MacFields,
): Promise<{ stored: Buffer; mac: Buffer; kdfLines: string[] }> {
    // Padding as PuTTY writes it: bytes of SHA-1 of the unpadded blob (no known plaintext).
    const padLen = (16 - (priv.length % 16)) % 16;
    const padded = Buffer.concat([priv, crypto.createHash("sha1").update(priv).digest().subarray(0, padLen)]);
    const salt = crypto.randomBytes(PPK_ARGON2.saltBytes);
    const { flavour, memory, passes, parallelism } = PPK_ARGON2;
    const keys = await argon2(flavour, { password: passphrase, salt, passes, memory, parallelism });
    const mac = crypto.createHmac("sha256", keys.subarray(48, 80)).update(ppkMacData(f, padded)).digest();
    const c = crypto.createCipheriv("aes-256-cbc", keys.subarray(0, 32), keys.subarray(32, 48));
    c.setAutoPadding(false);
    const stored = Buffer.concat([c.update(padded), c.final()]);
    const kdfLines = [
        `Key-Derivation: ${flavour}`,
        `Argon2-Memory: ${memory}`,
        `Argon2-Passes: ${passes}`,
        `Argon2-Parallelism: ${parallelism}`,
        `Argon2-Salt: ${salt.toString("hex")}`,
    ];
    return { stored, mac, kdfLines };
}

/**
 * A PuTTY PPK v3 private key file from a private key (OpenSSH; PEM/PKCS#8 are converted).
 * With `passphrase`, the file is encrypted (aes256-cbc, Argon2id); an encrypted input key is
 * decrypted with the same passphrase. `comment` defaults to the key's own comment.
 */
export async function toPpk(
    privateKeyOpenssh: string,
    opts: { passphrase?: string; comment?: string } = {},
): Promise<string> {
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

    const f: MacFields = { algorithm: parts.wireType, encryption, comment, publicBlob: parts.publicBlob };
    let stored: Buffer;
    let mac: Buffer;
    if (opts.passphrase === undefined) {
        stored = priv;
        mac = crypto.createHmac("sha256", Buffer.alloc(0)).update(ppkMacData(f, priv)).digest();
    } else {
        const e = await encryptBlob(priv, opts.passphrase, f);
        ({ stored, mac } = e);
        out.push(...e.kdfLines);
    }
    const privLines = base64Lines(stored);
    out.push(`Private-Lines: ${privLines.length}`, ...privLines, `Private-MAC: ${mac.toString("hex")}`);
    return out.join("\n") + "\n";
}
