/**
 * Public key blobs (RFC 4253 section 6.6 wire format), read strictly, every byte accounted for;
 * their SHA-256 fingerprint as `ssh-keygen -l` prints it, and the KeyInfo every format's reader
 * returns. Our own reader, not sshpk: exact error messages, bounded work on hostile input, and
 * keys sshpk cannot read at all (P-224, security keys) still come back as a KeyInfo that the
 * rules can refuse with a reason.
 */
import * as crypto from "crypto";
import { ACCEPTED_LINE, CURVES, KeyError, KeyInfo, MAX_RSA_BITS, MAX_SK_APPLICATION } from "./types";
import { WireReader, bitLength } from "./wire";

// ---------------------------------------------------------------------------------------------
// Key blobs

/** @internal What a public key blob says about itself. */
export interface BlobInfo {
    wireType: string;
    type: string;
    bits: number;
    curve?: string;
    application?: string;
    blob: Buffer;
}

type BlobParts = { type: string; bits: number; curve?: string; application?: string };
type BlobReader = (r: WireReader, wireType: string, label: string) => BlobParts;

function checkEcPoint(curve: string, q: Buffer, label: string): void {
    const c = CURVES[curve];
    if (!c) throw new KeyError(label, `ecdsa curve '${curve}' is unknown; expected nistp256, nistp384 or nistp521`);
    if (q.length !== 1 + 2 * c.coord || q[0] !== 0x04) {
        throw new KeyError(
            label,
            `the ecdsa ${curve} point is malformed (${q.length} bytes, expected ${1 + 2 * c.coord} starting with 0x04); the key is truncated or corrupt`,
        );
    }
    if (!c.jwk) return;
    const x = q.subarray(1, 1 + c.coord).toString("base64url");
    const y = q.subarray(1 + c.coord).toString("base64url");
    try {
        crypto.createPublicKey({ key: { kty: "EC", crv: c.jwk, x, y }, format: "jwk" });
    } catch {
        throw new KeyError(label, `the ecdsa ${curve} point is not on the curve; the key is corrupt`);
    }
}

function readEd25519(r: WireReader, label: string): void {
    const pk = r.bytes();
    if (pk.length !== 32) {
        throw new KeyError(
            label,
            `the ed25519 key is ${pk.length} bytes, expected 32; the key is truncated or corrupt`,
        );
    }
}

/**
 * A security key's application, the blob's last string (OpenSSH PROTOCOL.u2f): the FIDO relying
 * party the authenticator made the key for. OpenSSH makes and uses ssh keys only for an
 * application starting with "ssh:" (ssh-keygen(1) `-O application`), so any other is refused.
 */
function readSkApplication(r: WireReader, wireType: string, label: string): string {
    const raw = r.bytes();
    const shown = raw
        .subarray(0, 40)
        .toString("latin1")
        .replace(/[^\x20-\x7e]/g, "?");
    if (raw.length > MAX_SK_APPLICATION) {
        throw new KeyError(
            label,
            `the ${wireType} key's application is ${raw.length} bytes ('${shown}...'), more than the ${MAX_SK_APPLICATION} a security key's application can be; the key is corrupt`,
        );
    }
    const app = raw.toString("latin1");
    if (!/^[\x21-\x7e]*$/.test(app)) {
        throw new KeyError(
            label,
            `the ${wireType} key's application ('${shown}') holds spaces or non-printable bytes; the key is corrupt`,
        );
    }
    if (!app.startsWith("ssh:")) {
        throw new KeyError(
            label,
            `the ${wireType} key's application is '${shown}', which does not start with "ssh:"; OpenSSH uses a security key only for an "ssh:" application: enroll it with \`ssh-keygen -t ed25519-sk\` (default "ssh:") or \`-O application=ssh:NAME\``,
        );
    }
    return app;
}

function readRsa(r: WireReader, _wireType: string, label: string): BlobParts {
    const e = r.mpint();
    const n = r.mpint();
    const bits = bitLength(n);
    if (bits > MAX_RSA_BITS) {
        throw new KeyError(
            label,
            `the RSA modulus has ${bits} bits, more than the ${MAX_RSA_BITS} we read; use ed25519 or rsa 3072/4096`,
        );
    }
    if (bits < 512 || (n[n.length - 1] & 1) === 0) {
        throw new KeyError(label, `the RSA modulus is invalid (${bits} bits); the key is truncated or corrupt`);
    }
    if (e.length === 0 || (e[e.length - 1] & 1) === 0 || (e.length === 1 && e[0] < 3) || e.length > 8) {
        throw new KeyError(label, "the RSA public exponent is invalid; the key is corrupt");
    }
    return { type: "rsa", bits };
}

function readDsa(r: WireReader, _wireType: string, label: string): BlobParts {
    const p = r.mpint();
    r.mpint();
    r.mpint();
    r.mpint();
    const bits = bitLength(p);
    if (bits > MAX_RSA_BITS) throw new KeyError(label, `the DSA modulus has ${bits} bits, more than we read`);
    return { type: "dsa", bits };
}

function readEcdsa(r: WireReader, wireType: string, label: string): BlobParts {
    const expected = wireType.replace(/^(sk-)?ecdsa-sha2-/, "").replace("@openssh.com", "");
    const curve = r.str();
    if (curve !== expected) {
        throw new KeyError(
            label,
            `the key data names curve '${curve}' but its type is ${wireType}; the key is corrupt`,
        );
    }
    checkEcPoint(curve, r.bytes(), label);
    if (!wireType.startsWith("sk-")) return { type: "ecdsa", bits: CURVES[curve].bits, curve };
    const application = readSkApplication(r, wireType, label);
    return { type: "sk-ecdsa", bits: CURVES[curve].bits, curve, application };
}

/** How each key type's blob continues after its name. */
const BLOB_READERS = new Map<string, BlobReader>([
    [
        "ssh-ed25519",
        (r, _w, label) => {
            readEd25519(r, label);
            return { type: "ed25519", bits: 256 };
        },
    ],
    [
        "sk-ssh-ed25519@openssh.com",
        (r, w, label) => {
            readEd25519(r, label);
            return { type: "sk-ed25519", bits: 256, application: readSkApplication(r, w, label) };
        },
    ],
    ["ssh-rsa", readRsa],
    ["ssh-dss", readDsa],
    ["ecdsa-sha2-nistp224", readEcdsa],
    ["ecdsa-sha2-nistp256", readEcdsa],
    ["ecdsa-sha2-nistp384", readEcdsa],
    ["ecdsa-sha2-nistp521", readEcdsa],
    ["sk-ecdsa-sha2-nistp256@openssh.com", readEcdsa],
]);

/** @internal Parse a public key blob (RFC 4253 wire format) strictly: every byte accounted for. */
export function parseBlob(blob: Buffer, label: string, what = "the key data"): BlobInfo {
    const r = new WireReader(blob, what, label);
    const wireType = r.str();
    if (/-cert-v01@openssh\.com$/.test(wireType)) {
        throw new KeyError(
            label,
            `is an OpenSSH certificate (${wireType}), not a key; give the plain public key (${wireType.replace("-cert-v01@openssh.com", "")})`,
        );
    }
    const read = BLOB_READERS.get(wireType);
    if (!read) {
        throw new KeyError(
            label,
            `key type '${wireType.slice(0, 60).replace(/[^\x20-\x7e]/g, "?")}' is not supported; expected ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa or a security key (sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com)`,
        );
    }
    const parts = read(r, wireType, label);
    r.end();
    const info: BlobInfo = { wireType, type: parts.type, bits: parts.bits, blob };
    if (parts.curve) info.curve = parts.curve;
    if (parts.application !== undefined) info.application = parts.application;
    return info;
}

// ---------------------------------------------------------------------------------------------
// Fingerprints and KeyInfo

/** "SHA256:..." exactly as `ssh-keygen -l` prints it: unpadded base64 of SHA-256 of the blob. */
export function fingerprintOfBlob(blob: Buffer): string {
    return "SHA256:" + crypto.createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/** @internal The KeyInfo of a parsed blob. */
export function infoFromBlob(
    b: BlobInfo,
    extra: { comment: string; isPrivate: boolean; encrypted: boolean; format: KeyInfo["format"] },
): KeyInfo {
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
    if (b.application !== undefined) info.application = b.application;
    return info;
}

/** @internal A key comment, trimmed; control characters are refused. */
export function cleanComment(comment: string, label: string): string {
    // A comment ends up in authorized_keys and in terminals: no control characters.
    if (/[\x00-\x1f\x7f]/.test(comment)) {
        throw new KeyError(label, "the key comment contains control characters; use a plain one-line comment");
    }
    return comment.trim();
}

const STRICT_B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** @internal Strict base64 (no whitespace, padded); `what` names the data in the refusal. */
export function decodeBase64(text: string, label: string, what: string): Buffer {
    if (!STRICT_B64.test(text) || text.length % 4 !== 0) {
        const why =
            text.length % 4 !== 0
                ? "its length is not a multiple of 4: truncated?"
                : "it has characters outside base64";
        throw new KeyError(label, `${what} is not valid base64 (${why}); expected ${ACCEPTED_LINE}`);
    }
    return Buffer.from(text, "base64");
}
