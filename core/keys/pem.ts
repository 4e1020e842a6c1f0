/**
 * PEM blocks (RFC 7468, with the Proc-Type header of RFC 1421), and the PEM (PKCS#1/SEC1), PKCS#8 and SPKI keys in them, read through
 * node:crypto: never sshpk, because sshpk throws a second, uncaught exception after a wrong
 * passphrase on encrypted PEM and PKCS#8.
 */
import * as crypto from "crypto";
import { BlobInfo, decodeBase64, infoFromBlob, parseBlob } from "./blob";
import { CURVES, KeyEncryptedError, KeyError, KeyInfo } from "./types";
import { sshMpint, sshString } from "./wire";

/** @internal The headers and DER body of the one PEM block `text` must be. */
export function pemBody(text: string, begin: string, label: string): { headers: Record<string, string>; der: Buffer } {
    const lines = text
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l !== "");
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

// ---------------------------------------------------------------------------------------------
// PEM, PKCS#8, SPKI (through node:crypto)

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

function ecBlob(pub: crypto.KeyObject, spki: Buffer, label: string): BlobInfo {
    const named = pub.asymmetricKeyDetails?.namedCurve ?? "";
    const curve = Object.keys(CURVES).find((c) => CURVES[c].nodeName === named);
    if (!curve) {
        throw new KeyError(
            label,
            `is an EC key on curve '${named}', which SSH does not use; expected ecdsa nistp256, nistp384 or nistp521, or ed25519`,
        );
    }
    const q = spki.subarray(spki.length - (1 + 2 * CURVES[curve].coord));
    const wireType = `ecdsa-sha2-${curve}`;
    return parseBlob(Buffer.concat([sshString(wireType), sshString(curve), sshString(q)]), label);
}

/** DSA's p, q, g come from the SPKI's algorithm parameters, y from its bit string. */
function dsaBlob(spki: Buffer, label: string): BlobInfo {
    const [algo, bits] = derChildren(derRead(spki, 0, label).body, label);
    const params = derChildren(derChildren(algo.body, label)[1].body, label).map((d) => d.body);
    const y = derRead(bits.body, 1, label).body;
    return parseBlob(Buffer.concat([sshString("ssh-dss"), ...[...params, y].map(sshMpint)]), label);
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
        case "ec":
            return ecBlob(pub, spki, label);
        case "dsa":
            return dsaBlob(spki, label);
        default:
            throw new KeyError(
                label,
                `is a ${pub.asymmetricKeyType} key, which SSH does not use; expected ed25519, ecdsa or rsa`,
            );
    }
}

/** The PEM block types read, by the word after BEGIN. */
const PEM_KINDS: Record<string, { private: boolean; format: KeyInfo["format"] }> = {
    "RSA PRIVATE KEY": { private: true, format: "pem" },
    "EC PRIVATE KEY": { private: true, format: "pem" },
    "DSA PRIVATE KEY": { private: true, format: "pem" },
    "PRIVATE KEY": { private: true, format: "pkcs8" },
    "ENCRYPTED PRIVATE KEY": { private: true, format: "pkcs8" },
    "PUBLIC KEY": { private: false, format: "pem" },
    "RSA PUBLIC KEY": { private: false, format: "pem" },
};

/** The block as a node KeyObject; any failure is a KeyError (a wrong passphrase says so). */
function pemKeyObject(
    s: string,
    kind: string,
    isPrivate: boolean,
    passphrase: string | undefined,
    encrypted: boolean,
    label: string,
): crypto.KeyObject {
    try {
        return isPrivate
            ? crypto.createPrivateKey({ key: s, format: "pem", passphrase: encrypted ? passphrase : undefined })
            : crypto.createPublicKey({ key: s, format: "pem" });
    } catch (e) {
        if (encrypted) {
            throw new KeyError(
                label,
                "the passphrase is wrong or the encrypted key is corrupt; give the passphrase the key was encrypted with",
            );
        }
        const why = e instanceof Error ? e.message.replace(/^error:[0-9A-F]+:/, "").slice(0, 80) : "unreadable";
        throw new KeyError(label, `is not a readable ${kind} (${why}); expected a valid PEM or PKCS#8 key`);
    }
}

/** @internal A PEM (PKCS#1/SEC1), PKCS#8 or SPKI key; an encrypted one needs `passphrase` (KeyEncryptedError). */
export function parsePemKey(
    s: string,
    kind: string,
    passphrase: string | undefined,
    label: string,
): { info: KeyInfo; key: crypto.KeyObject } {
    const k = PEM_KINDS[kind];
    if (!k) {
        throw new KeyError(
            label,
            `is a PEM '${kind.slice(0, 40)}' block, not a key; expected an OpenSSH, PEM (RSA/EC/DSA PRIVATE KEY, PUBLIC KEY), PKCS#8 or PuTTY key`,
        );
    }
    const { headers } = pemBody(s, `-----BEGIN ${kind}-----`, label);
    const encrypted = kind === "ENCRYPTED PRIVATE KEY" || /ENCRYPTED/.test(headers["Proc-Type"] ?? "");
    if (encrypted && passphrase === undefined) {
        throw new KeyEncryptedError(
            label,
            `is an encrypted ${k.format === "pkcs8" ? "PKCS#8" : "PEM"} private key: its type and size cannot be read without the passphrase; give the passphrase, or judge its public key (.pub) instead`,
        );
    }
    const key = pemKeyObject(s, kind, k.private, passphrase, encrypted, label);
    const b = blobOfKeyObject(key, label);
    return { info: infoFromBlob(b, { comment: "", isPrivate: k.private, encrypted, format: k.format }), key };
}
