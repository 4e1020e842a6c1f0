/**
 * CA signatures with node:crypto, as OpenSSH writes and checks them (RFC 8709 ed25519, RFC 5656
 * ecdsa, RFC 8332 rsa-sha2-256/512). RSA CAs sign with rsa-sha2-512, never SHA-1 `ssh-rsa`,
 * which OpenSSH 8.8 and later refuse for certificates (sshd_config(5) CASignatureAlgorithms).
 */
import * as crypto from "crypto";
import type { OpensshPrivate } from "../keys/privateKey";
import { CURVES } from "../keys/types";
import { WireReader, sshMpint, sshString } from "../keys/wire";
import { CertificateError } from "./types";

const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const EC_HASH: Readonly<Record<string, string>> = { nistp256: "sha256", nistp384: "sha384", nistp521: "sha512" };
const RSA_HASH: Readonly<Record<string, string>> = { "rsa-sha2-256": "sha256", "rsa-sha2-512": "sha512" };

/** A CA that can sign: its public blob and the signature over `data` as the certificate carries it. */
export interface CaSigner {
    publicBlob: Buffer;
    /** The signature algorithm written (ssh-ed25519, ecdsa-sha2-nistp256, rsa-sha2-512). */
    algorithm: string;
    sign(data: Buffer): Buffer;
}

const b64u = (b: Buffer) => b.toString("base64url");
const pad = (b: Buffer, n: number) => (b.length >= n ? b : Buffer.concat([Buffer.alloc(n - b.length), b]));
const big = (b: Buffer) => (b.length ? BigInt("0x" + b.toString("hex")) : 0n);
const unbig = (v: bigint) => {
    const hex = v.toString(16);
    return Buffer.from(hex.length % 2 ? "0" + hex : hex, "hex");
};

/** The signer of a decrypted CA private key; `label` names it in a refusal. */
export function caSigner(plain: NonNullable<OpensshPrivate["plain"]>, label: string): CaSigner {
    const { wireType, publicBlob, fields } = plain;
    if (wireType === "ssh-ed25519") {
        const key = crypto.createPrivateKey({
            key: Buffer.concat([ED25519_PKCS8_PREFIX, fields[1].subarray(0, 32)]),
            format: "der",
            type: "pkcs8",
        });
        const sign = (data: Buffer) =>
            Buffer.concat([sshString("ssh-ed25519"), sshString(crypto.sign(null, data, key))]);
        return { publicBlob, algorithm: "ssh-ed25519", sign };
    }
    if (wireType.startsWith("ecdsa-sha2-")) {
        const curve = fields[0].toString("latin1");
        const c = CURVES[curve];
        if (!c?.jwk || !EC_HASH[curve]) throw new CertificateError(label, `ecdsa curve ${curve} cannot sign here`);
        const q = fields[1];
        const key = crypto.createPrivateKey({
            key: {
                kty: "EC",
                crv: c.jwk,
                x: b64u(q.subarray(1, 1 + c.coord)),
                y: b64u(q.subarray(1 + c.coord)),
                d: b64u(pad(fields[2], c.coord)),
            },
            format: "jwk",
        });
        const sign = (data: Buffer) => {
            const rs = crypto.sign(EC_HASH[curve], data, { key, dsaEncoding: "ieee-p1363" });
            const half = rs.length / 2;
            const inner = Buffer.concat([sshMpint(rs.subarray(0, half)), sshMpint(rs.subarray(half))]);
            return Buffer.concat([sshString(wireType), sshString(inner)]);
        };
        return { publicBlob, algorithm: wireType, sign };
    }
    if (wireType === "ssh-rsa") {
        const [n, e, d, iqmp, p, q] = fields;
        const dv = big(d);
        const jwk = {
            kty: "RSA",
            n: b64u(n),
            e: b64u(e),
            d: b64u(d),
            p: b64u(p),
            q: b64u(q),
            dp: b64u(unbig(dv % (big(p) - 1n))),
            dq: b64u(unbig(dv % (big(q) - 1n))),
            qi: b64u(iqmp),
        };
        const key = crypto.createPrivateKey({ key: jwk, format: "jwk" });
        const sign = (data: Buffer) =>
            Buffer.concat([sshString("rsa-sha2-512"), sshString(crypto.sign("sha512", data, key))]);
        return { publicBlob, algorithm: "rsa-sha2-512", sign };
    }
    throw new CertificateError(label, `a ${wireType} key cannot be a CA here; use ed25519 or ecdsa`);
}

/** The node:crypto public key of a blob (ed25519, ecdsa, rsa), or undefined for other types. */
function publicKeyOfBlob(blob: Buffer): { key: crypto.KeyObject; wireType: string; curve?: string } | undefined {
    const r = new WireReader(blob, "the CA key", "the CA key");
    const wireType = r.str();
    if (wireType === "ssh-ed25519") {
        const x = r.bytes();
        return {
            wireType,
            key: crypto.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: b64u(x) }, format: "jwk" }),
        };
    }
    if (wireType.startsWith("ecdsa-sha2-")) {
        const curve = r.str();
        const q = r.bytes();
        const c = CURVES[curve];
        if (!c?.jwk) return undefined;
        const jwk = { kty: "EC", crv: c.jwk, x: b64u(q.subarray(1, 1 + c.coord)), y: b64u(q.subarray(1 + c.coord)) };
        return { wireType, curve, key: crypto.createPublicKey({ key: jwk, format: "jwk" }) };
    }
    if (wireType === "ssh-rsa") {
        const e = r.mpint();
        const n = r.mpint();
        return {
            wireType,
            key: crypto.createPublicKey({ key: { kty: "RSA", n: b64u(n), e: b64u(e) }, format: "jwk" }),
        };
    }
    return undefined;
}

/**
 * Whether `signature` (as a certificate carries it) is the CA's over `data`, and its algorithm.
 * An `ssh-rsa` (SHA-1) signature counts as invalid: OpenSSH 8.8 and later refuse it.
 */
export function verifySignature(
    caBlob: Buffer,
    signature: Buffer,
    data: Buffer,
): { valid: boolean; algorithm: string } {
    const r = new WireReader(signature, "the certificate's signature", "the certificate");
    const algorithm = r.str();
    const sig = r.bytes();
    r.end();
    let pub: ReturnType<typeof publicKeyOfBlob>;
    try {
        pub = publicKeyOfBlob(caBlob);
    } catch {
        return { valid: false, algorithm };
    }
    if (!pub) return { valid: false, algorithm };
    try {
        if (pub.wireType === "ssh-ed25519") {
            return { valid: algorithm === "ssh-ed25519" && crypto.verify(null, data, pub.key, sig), algorithm };
        }
        if (pub.wireType === "ssh-rsa") {
            const hash = RSA_HASH[algorithm];
            return { valid: hash !== undefined && crypto.verify(hash, data, pub.key, sig), algorithm };
        }
        if (algorithm !== pub.wireType || !pub.curve) return { valid: false, algorithm };
        const sr = new WireReader(sig, "the ecdsa signature", "the certificate");
        const coord = CURVES[pub.curve].coord;
        const rs = Buffer.concat([pad(sr.mpint(), coord), pad(sr.mpint(), coord)]);
        sr.end();
        return {
            valid: crypto.verify(EC_HASH[pub.curve], data, { key: pub.key, dsaEncoding: "ieee-p1363" }, rs),
            algorithm,
        };
    } catch {
        return { valid: false, algorithm };
    }
}
