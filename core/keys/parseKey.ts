/**
 * Any key text: the one entry point that tells the formats apart (OpenSSH public line, RFC 4716,
 * PEM/SPKI, OpenSSH private, PEM/PKCS#8 private, PuTTY .ppk) and hands it to its reader.
 */
import { parsePpk } from "../ppk/format";
import { parsePemKey } from "./pem";
import { parseOpensshPrivate } from "./privateKey";
import { parsePublicKey, parseRfc4716 } from "./publicKey";
import { ACCEPTED_LINE, KeyError, KeyInfo, MAX_KEY_TEXT } from "./types";

/** @internal Key text checked and trimmed (shared with core/keygen.ts). */
export function keyText(text: string | Buffer, label: string): string {
    if (typeof text !== "string" && !Buffer.isBuffer(text)) {
        throw new KeyError(label, `must be key text (string or Buffer); got ${text === null ? "null" : typeof text}`);
    }
    if (text.length > MAX_KEY_TEXT) {
        throw new KeyError(
            label,
            `is ${text.length} bytes, more than any SSH key file (${MAX_KEY_TEXT}); expected an OpenSSH, PEM, PKCS#8 or PuTTY key`,
        );
    }
    const s = (Buffer.isBuffer(text) ? text.toString("utf8") : text).replace(/^\uFEFF/, "");
    if (/[\x00-\x08\x0e-\x1f\x7f\ufffd]/.test(s)) {
        throw new KeyError(
            label,
            "is binary data, not key text; expected an OpenSSH, PEM, PKCS#8 or PuTTY key (DER must be converted to PEM)",
        );
    }
    return s.trim();
}

/**
 * Parse any supported key: an OpenSSH public line, RFC 4716 public key, PEM/SPKI public key,
 * OpenSSH private key, PEM (PKCS#1/SEC1) or PKCS#8 private key, or a PuTTY .ppk (v2/v3).
 *
 * Encrypted keys: OpenSSH and PPK keys carry their public part in the clear, so they are read
 * without a passphrase (`encrypted: true`); with `passphrase` it is checked (OpenSSH, PPK v2;
 * PPK v3 needs Argon2, which is async: use `decryptPpk` from core/ppk). An encrypted PEM or
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
        throw new KeyError(
            label,
            `holds ${lines.length} lines; expected a single key (${ACCEPTED_LINE}, or one private key file); for an authorized_keys file use 'pka audit FILE', which judges each line`,
        );
    }
    return parsePublicKey(lines[0] ?? "", label);
}

/** The OpenSSH public key line of a private key (no passphrase needed for OpenSSH and PPK files). */
export function publicKeyOf(privateKeyText: string, passphrase?: string): string {
    return parseKey(privateKeyText, { passphrase, label: "private key" }).publicKey;
}
