/**
 * A host CA in AWS KMS: the key policy that lets no one sign, so that only a grant (the one a
 * fleet's provisioner role gets) can; and the OpenSSH signature from what KMS Sign returns.
 */
import { KMS_CA_SPECS, KmsCaKeySpec } from "./certAuthorityPlan";
import { sshMpint, sshString } from "./keys/wire";

/**
 * What the account's administrators may do with the key: manage it, read its public key, create
 * and revoke grants. Not kms:Sign: a key policy that gives the account `kms:*` lets any IAM policy
 * in the account grant Sign (AWS KMS Developer Guide, "Default key policy": "Allows access to the
 * AWS account and enables IAM policies"), which would make every admin role a signer of host
 * identity. Signing comes only from grants (`aws.kms.Grant`, operation Sign), which a fleet
 * creates for its provisioner role and which CloudTrail logs (CreateGrant).
 */
export const KMS_CA_ADMIN_ACTIONS: readonly string[] = Object.freeze([
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:CreateGrant",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:EnableKey",
    "kms:GetKeyPolicy",
    "kms:GetPublicKey",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
]);

/** The key policy of a host CA key in `accountId` (`partition` aws, aws-cn, aws-us-gov). */
export function kmsCaKeyPolicy(partition: string, accountId: string): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "AdministerButNotSign",
                Effect: "Allow",
                Principal: { AWS: `arn:${partition}:iam::${accountId}:root` },
                Action: [...KMS_CA_ADMIN_ACTIONS],
                Resource: "*",
            },
        ],
    });
}

/** A KMS key ARN (AWS KMS Developer Guide, "Key identifiers": arn:<partition>:kms:<region>:<account>:key/<key id>). */
export const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]{1,64}$/;
/** A KMS host CA's public key line, `ecdsa-sha2-nistpNNN BASE64` (a comment allowed when `comment`). */
export function isKmsCaKeyLine(line: string, comment: boolean): boolean {
    return (
        comment
            ? /^ecdsa-sha2-nistp(256|384|521) [A-Za-z0-9+/]+={0,2}( .*)?$/
            : /^ecdsa-sha2-nistp(256|384|521) [A-Za-z0-9+/]+={0,2}$/
    ).test(line);
}
/** A public key line without its comment (`type base64`): what a script or a certificate names. */
export function withoutComment(line: string): string {
    return line.trim().split(/\s+/).slice(0, 2).join(" ");
}

/** Reads a DER length at `i`; returns [length, next index]. */
function derLength(der: Buffer, i: number): [number, number] {
    const first = der[i];
    if (first < 0x80) return [first, i + 1];
    const n = first & 0x7f;
    if (n < 1 || n > 2) throw new Error("KMS signature: bad DER length");
    let len = 0;
    for (let k = 0; k < n; k++) len = (len << 8) | der[i + 1 + k];
    return [len, i + 1 + n];
}

/**
 * KMS Sign's ECDSA signature (DER `SEQUENCE { r INTEGER, s INTEGER }`, AWS KMS API Reference,
 * Sign: "ECDSA ... as defined in ANSI X9.62-2005") as a certificate carries it: string
 * `ecdsa-sha2-nistpNNN`, string (mpint r, mpint s) (RFC 5656 section 3.1.2).
 */
export function sshSignatureFromKmsDer(der: Buffer, keySpec: KmsCaKeySpec): Buffer {
    const wireType = `ecdsa-sha2-${KMS_CA_SPECS[keySpec].curve}`;
    if (der[0] !== 0x30) throw new Error("KMS signature: not a DER SEQUENCE");
    const [seqLen, body] = derLength(der, 1);
    if (body + seqLen !== der.length) throw new Error("KMS signature: DER length does not match");
    const ints: Buffer[] = [];
    let i = body;
    for (let k = 0; k < 2; k++) {
        if (der[i] !== 0x02) throw new Error("KMS signature: expected an INTEGER");
        const [len, start] = derLength(der, i + 1);
        let v = der.subarray(start, start + len);
        while (v.length > 1 && v[0] === 0) v = v.subarray(1);
        ints.push(v);
        i = start + len;
    }
    if (i !== der.length) throw new Error("KMS signature: trailing bytes");
    return Buffer.concat([sshString(wireType), sshString(Buffer.concat([sshMpint(ints[0]), sshMpint(ints[1])]))]);
}
