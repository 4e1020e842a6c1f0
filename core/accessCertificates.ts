/**
 * Certificate mode in the access spec: the user CAs the hosts trust (TrustedUserCAKeys), the KRL
 * they read (RevokedKeys) and each user's principals (AuthorizedPrincipalsFile), validated here
 * for every consumer, as the rest of the spec is in core/accessSpec.ts.
 */
import { AccessCertificates, AccessSpecError } from "./accessSpecTypes";
import { caKeyProblem, checkPrincipals } from "./certs/options";
import { CertificateError } from "./certs/types";
import { parsePublicKey } from "./keys/publicKey";

/** At most this many user CAs (an old and a new one while rotating, and room for a few more). */
export const MAX_USER_CAS = 8;
/** The largest KRL the spec carries, decoded (a KRL of 1,000 serials is about 8 KB). */
export const MAX_KRL_BYTES = 12288;
/** At most this many principals a user. */
export const MAX_USER_PRINCIPALS = 32;
const KRL_MAGIC = Buffer.from("SSHKRL\n\0", "latin1");

function isObject(x: unknown): x is Record<string, unknown> {
    return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** The spec's `certificates`, normalized (CA keys as `type base64`, duplicates dropped), or undefined. */
export function normalizeCertificates(input: unknown, path = "certificates"): AccessCertificates | undefined {
    if (input === undefined) return undefined;
    if (!isObject(input)) throw new AccessSpecError(path, "must be an object { userCaKeys, revokedKeys }");
    for (const k of Object.keys(input)) {
        if (k !== "userCaKeys" && k !== "revokedKeys")
            throw new AccessSpecError(`${path}.${k}`, "unknown field; certificates has only userCaKeys, revokedKeys");
    }
    const list = input.userCaKeys;
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_USER_CAS) {
        throw new AccessSpecError(
            `${path}.userCaKeys`,
            `must list 1 to ${MAX_USER_CAS} user CA public keys (the .pub of the key that signs user certificates)`,
        );
    }
    const userCaKeys: string[] = [];
    list.forEach((k, i) => {
        const p = `${path}.userCaKeys[${i}]`;
        if (typeof k !== "string" || /[\r\n]./.test(k) || /PRIVATE KEY/.test(k))
            throw new AccessSpecError(p, "must be one OpenSSH public key line (the CA's .pub, never its private key)");
        let info;
        try {
            info = parsePublicKey(k.trim(), p);
        } catch (e) {
            throw new AccessSpecError(p, (e as Error).message);
        }
        const problem = caKeyProblem(info);
        if (problem) throw new AccessSpecError(p, problem);
        const line = info.publicKey.split(" ").slice(0, 2).join(" ");
        if (!userCaKeys.includes(line)) userCaKeys.push(line);
    });
    const out: AccessCertificates = { userCaKeys };
    if (input.revokedKeys !== undefined) {
        const r = input.revokedKeys;
        const p = `${path}.revokedKeys`;
        if (typeof r !== "string" || !/^[A-Za-z0-9+/]+={0,2}$/.test(r) || r.length % 4 !== 0)
            throw new AccessSpecError(p, "must be the KRL as base64 (base64 -w0 of the file `pka cert krl` writes)");
        const krl = Buffer.from(r, "base64");
        if (!krl.subarray(0, 8).equals(KRL_MAGIC) || krl.length < 44 || krl.readUInt32BE(8) !== 1)
            throw new AccessSpecError(
                p,
                "is not an OpenSSH KRL (format 1, as `pka cert krl` or `ssh-keygen -k` writes)",
            );
        if (krl.length > MAX_KRL_BYTES)
            throw new AccessSpecError(
                p,
                `is ${krl.length} bytes; at most ${MAX_KRL_BYTES} (revoke by key id or CA instead of many serials)`,
            );
        out.revokedKeys = r;
    }
    return out;
}

/** users[i].principals, checked; they need the spec's certificates. */
export function normalizePrincipals(input: unknown, certificates: boolean, path: string): string[] | undefined {
    if (input === undefined) return undefined;
    if (!certificates)
        throw new AccessSpecError(
            path,
            "needs certificate mode: set the spec's certificates.userCaKeys (the CAs whose certificates name these principals)",
        );
    if (!Array.isArray(input)) throw new AccessSpecError(path, "must be a list of principal names");
    if (input.length > MAX_USER_PRINCIPALS)
        throw new AccessSpecError(path, `has ${input.length} principals; at most ${MAX_USER_PRINCIPALS}`);
    try {
        return checkPrincipals(input as string[], "user", path);
    } catch (e) {
        if (e instanceof CertificateError) throw new AccessSpecError(path, e.message.slice(path.length + 2));
        throw e;
    }
}
