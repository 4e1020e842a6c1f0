/**
 * OpenSSH private keys (PROTOCOL.key in the OpenSSH sources: "openssh-key-v1", bcrypt KDF), read
 * by our wire-format reader; every private part is checked against its public part. sshpk is
 * used only to decrypt an encrypted key, and loaded lazily.
 */
import * as crypto from "crypto";
import type * as Sshpk from "sshpk";
import { BlobInfo, cleanComment, infoFromBlob, parseBlob } from "./blob";
import { pemBody } from "./pem";
import { CURVES, KeyError, KeyInfo } from "./types";
import { WireReader, sshMpint, sshString, toBigInt } from "./wire";

/**
 * sshpk, loaded on first use: here only decrypting an encrypted OpenSSH private key needs it. A
 * lazy require (not an import) keeps it out of bundles that never parse a private key with a
 * passphrase: esbuild drops the require along with the unused function.
 */
function sshpkLib(): typeof Sshpk {
    return require("sshpk");
}

/** @internal the decoded parts of an OpenSSH private key. */
export interface OpensshPrivate {
    info: KeyInfo;
    /** Present when the key was readable (unencrypted, or decrypted with the passphrase). */
    plain?: { wireType: string; publicBlob: Buffer; fields: Buffer[]; comment: string };
}

/** The fields of a private section and the public blob they rebuild. */
interface PrivateFields {
    fields: Buffer[];
    rebuilt: Buffer;
}

const OPENSSH_MAGIC = Buffer.from("openssh-key-v1\0", "latin1");
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

function ed25519PublicOf(seed: Buffer): Buffer {
    const key = crypto.createPrivateKey({
        key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
        format: "der",
        type: "pkcs8",
    });
    const spki = crypto.createPublicKey(key).export({ type: "spki", format: "der" });
    return spki.subarray(spki.length - 32);
}

/** The outer layer of the file: cipher, KDF, the one public key and the (maybe encrypted) private section. */
function readOpensshContainer(s: string, label: string): { cipher: string; pub: BlobInfo; section: Buffer } {
    const { der } = pemBody(s, "-----BEGIN OPENSSH PRIVATE KEY-----", label);
    if (!der.subarray(0, OPENSSH_MAGIC.length).equals(OPENSSH_MAGIC)) {
        throw new KeyError(label, "is not an openssh-key-v1 private key (bad magic)");
    }
    const r = new WireReader(der.subarray(OPENSSH_MAGIC.length), "the private key file", label);
    const cipher = r.str();
    const kdf = r.str();
    r.bytes();
    const nkeys = r.u32();
    if (nkeys !== 1) throw new KeyError(label, `holds ${nkeys} keys; expected exactly one`);
    const pub = parseBlob(r.bytes(), label, "the private key's public part");
    const section = r.bytes();
    r.end();
    if (cipher !== "none" && kdf !== "bcrypt") {
        throw new KeyError(
            label,
            `is encrypted with an unknown KDF '${kdf.slice(0, 30)}'; expected bcrypt (ssh-keygen's)`,
        );
    }
    return { cipher, pub, section };
}

/** An encrypted key decrypted by sshpk, then read again as an unencrypted one. */
function decryptOpenssh(s: string, passphrase: string, cipher: string, pub: BlobInfo, label: string): OpensshPrivate {
    let k: Sshpk.PrivateKey;
    try {
        k = sshpkLib().parsePrivateKey(s, "openssh", { passphrase, filename: label });
    } catch (e) {
        if (e instanceof Error && /passphrase|decrypt/i.test(e.message)) {
            throw new KeyError(
                label,
                "the passphrase is wrong (the private key did not decrypt); give the passphrase the key was encrypted with",
            );
        }
        throw new KeyError(
            label,
            `could not be decrypted (${cipher}): the key is corrupt or uses an unsupported cipher; aes256-ctr and aes128-ctr are read`,
        );
    }
    const inner = parseOpensshPrivate(k.toString("openssh") as string, undefined, label);
    if (!inner.plain || !inner.plain.publicBlob.equals(pub.blob)) {
        throw new KeyError(label, "decrypts to a different key than its public part: corrupt");
    }
    const comment = inner.plain.comment;
    return {
        info: infoFromBlob(pub, { comment, isPrivate: true, encrypted: true, format: "openssh" }),
        plain: inner.plain,
    };
}

function privateEd25519(pr: WireReader, wireType: string, label: string): PrivateFields {
    const pk = pr.bytes();
    const sk = pr.bytes();
    if (sk.length !== 64 || !sk.subarray(32).equals(pk) || !ed25519PublicOf(sk.subarray(0, 32)).equals(pk)) {
        throw new KeyError(label, "the ed25519 private key is corrupt (it does not match its public key)");
    }
    return { fields: [pk, sk], rebuilt: Buffer.concat([sshString(wireType), sshString(pk)]) };
}

function privateRsa(pr: WireReader, wireType: string, label: string): PrivateFields {
    const [n, e, d, iqmp, p, q] = [pr.mpint(), pr.mpint(), pr.mpint(), pr.mpint(), pr.mpint(), pr.mpint()];
    if (toBigInt(p) * toBigInt(q) !== toBigInt(n))
        throw new KeyError(label, "the RSA private key is corrupt (p*q != n)");
    return { fields: [n, e, d, iqmp, p, q], rebuilt: Buffer.concat([sshString(wireType), sshMpint(e), sshMpint(n)]) };
}

function privateDsa(pr: WireReader, wireType: string): PrivateFields {
    const [p, q, g, y, x] = [pr.mpint(), pr.mpint(), pr.mpint(), pr.mpint(), pr.mpint()];
    const rebuilt = Buffer.concat([sshString(wireType), sshMpint(p), sshMpint(q), sshMpint(g), sshMpint(y)]);
    return { fields: [p, q, g, y, x], rebuilt };
}

function privateEcdsa(pr: WireReader, wireType: string, label: string): PrivateFields {
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
    if (!derived || !derived.equals(qpt)) {
        throw new KeyError(label, "the ecdsa private key is corrupt (it does not match its public key)");
    }
    return { fields: [curve, qpt, d], rebuilt: Buffer.concat([sshString(wireType), sshString(curve), sshString(qpt)]) };
}

/** The private fields by key type; undefined for security-key and other private formats. */
function privateFields(pr: WireReader, wireType: string, label: string): PrivateFields | undefined {
    switch (wireType) {
        case "ssh-ed25519":
            return privateEd25519(pr, wireType, label);
        case "ssh-rsa":
            return privateRsa(pr, wireType, label);
        case "ssh-dss":
            return privateDsa(pr, wireType);
        default:
            return /^ecdsa-sha2-/.test(wireType) ? privateEcdsa(pr, wireType, label) : undefined;
    }
}

/** An unencrypted private section: check ints, the key's fields, comment and padding. */
function readPrivateSection(section: Buffer, pub: BlobInfo, label: string): OpensshPrivate {
    const pr = new WireReader(section, "the private key section", label);
    const c1 = pr.u32();
    const c2 = pr.u32();
    if (c1 !== c2) throw new KeyError(label, "the private key section fails its check: corrupt");
    const wireType = pr.str();
    if (wireType !== pub.wireType) {
        throw new KeyError(
            label,
            `the private part is ${wireType.slice(0, 40)} but the public part is ${pub.wireType}: corrupt`,
        );
    }
    const parts = privateFields(pr, wireType, label);
    // Security-key and other private formats: judged by their public part only.
    if (!parts)
        return { info: infoFromBlob(pub, { comment: "", isPrivate: true, encrypted: false, format: "openssh" }) };
    if (!parts.rebuilt.equals(pub.blob))
        throw new KeyError(label, "the private part does not match the public part: corrupt");
    const commentRaw = pr.bytes().toString("utf8");
    const pad = pr.rest();
    for (let i = 0; i < pad.length; i++) {
        if (pad[i] !== i + 1) throw new KeyError(label, "the private key section has bad padding: corrupt");
    }
    const comment = cleanComment(commentRaw, label);
    return {
        info: infoFromBlob(pub, { comment, isPrivate: true, encrypted: false, format: "openssh" }),
        plain: { wireType, publicBlob: pub.blob, fields: parts.fields, comment },
    };
}

/**
 * @internal An OpenSSH private key. Encrypted without `passphrase`: only its public part
 * (`encrypted: true`, no `plain`); with it, decrypted and checked.
 */
export function parseOpensshPrivate(s: string, passphrase: string | undefined, label: string): OpensshPrivate {
    const { cipher, pub, section } = readOpensshContainer(s, label);
    if (cipher === "none") return readPrivateSection(section, pub, label);
    if (passphrase !== undefined) return decryptOpenssh(s, passphrase, cipher, pub, label);
    return { info: infoFromBlob(pub, { comment: "", isPrivate: true, encrypted: true, format: "openssh" }) };
}
