/**
 * The plain parts of a private key, and writing them as an unencrypted OpenSSH private key file
 * (PROTOCOL.key in the OpenSSH sources): what a .ppk is converted to.
 */
import * as crypto from "crypto";
import { sshMpint, sshString } from "../keys/wire";

/** @internal The plain parts of a private key, in OpenSSH private-section order. */
export interface KeyParts {
    wireType: string;
    publicBlob: Buffer;
    /** ed25519: [pk, seed||pk]; ecdsa: [curve, Q, d]; rsa: [n, e, d, iqmp, p, q]; dsa: [p, q, g, y, x] */
    fields: Buffer[];
    comment: string;
}

/** Which private-section fields are strings rather than mpints. */
function isStringField(wireType: string, i: number): boolean {
    if (wireType === "ssh-ed25519") return true;
    if (wireType.startsWith("ecdsa-")) return i < 2;
    return false;
}

/** @internal An unencrypted OpenSSH private key file from its parts. */
export function encodeOpenssh(k: KeyParts): string {
    const check = crypto.randomBytes(4);
    const fields = k.fields.map((b, i) => (isStringField(k.wireType, i) ? sshString(b) : sshMpint(b)));
    let section = Buffer.concat([check, check, sshString(k.wireType), ...fields, sshString(k.comment)]);
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
