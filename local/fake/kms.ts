/**
 * A local AWS KMS for the host CA: ECC_NIST keys whose private half stays in this object, and Sign
 * as the KMS API Reference describes it (KeyId, Message at most 4096 bytes, MessageType RAW,
 * SigningAlgorithm of the key's spec; DER ECDSA signature back), refusing what KMS refuses: an
 * unknown key, an algorithm the key does not sign with, a message too long, a caller without a
 * grant. MessageType DIGEST is refused too: node:crypto cannot sign a precomputed digest with
 * ECDSA, and the provisioner sends RAW.
 */
import * as crypto from "crypto";
import { KMS_CA_SPECS, KmsCaKeySpec, sshPublicKeyFromSpki } from "../../core/certAuthorityPlan";
import { CURVES } from "../../core/keys/types";
import { AwsApiError } from "../awsErrors";

interface LocalKey {
    spec: KmsCaKeySpec;
    privateKey: crypto.KeyObject;
    /** Access key ids (standing for roles) holding a Sign grant; empty: anyone may sign. */
    grantees: Set<string>;
}

export class LocalKms {
    private readonly keys = new Map<string, LocalKey>();
    /** Sign calls answered (a bench or test counts them). */
    signed = 0;

    constructor(
        private readonly account = "123456789012",
        private readonly region = "us-east-1",
    ) {}

    /** A new key; returns its ARN and its public key as an OpenSSH line (`type base64`). */
    createKey(spec: KmsCaKeySpec = "ECC_NIST_P256", grantees: string[] = []): { arn: string; publicKey: string } {
        const { publicKey, privateKey } = crypto.generateKeyPairSync("ec", {
            namedCurve: CURVES[KMS_CA_SPECS[spec].curve].nodeName,
        });
        const arn = `arn:aws:kms:${this.region}:${this.account}:key/${crypto.randomUUID()}`;
        this.keys.set(arn, { spec, privateKey, grantees: new Set(grantees) });
        return { arn, publicKey: sshPublicKeyFromSpki(publicKey.export({ format: "der", type: "spki" }), "") };
    }

    /** KMS Sign. `caller`: the request's access key id. */
    sign(
        input: Record<string, unknown>,
        caller?: string,
    ): { KeyId: string; Signature: string; SigningAlgorithm: string } {
        const keyId = String(input.KeyId ?? "");
        const key = this.keys.get(keyId);
        if (!key) throw new AwsApiError("NotFoundException", `Key '${keyId}' does not exist`);
        if (key.grantees.size > 0 && (caller === undefined || !key.grantees.has(caller)))
            throw new AwsApiError(
                "AccessDeniedException",
                `User: ${caller ?? "anonymous"} is not authorized to perform: kms:Sign on resource: ${keyId} because no resource-based policy allows the kms:Sign action`,
            );
        const algorithm = String(input.SigningAlgorithm ?? "");
        const spec = KMS_CA_SPECS[key.spec];
        if (algorithm !== spec.signingAlgorithm)
            throw new AwsApiError(
                "InvalidKeyUsageException",
                `${algorithm} is not a signing algorithm of this ${key.spec} key`,
            );
        if ((input.MessageType ?? "RAW") !== "RAW")
            throw new AwsApiError("ValidationException", "the local KMS signs MessageType RAW only");
        const message = Buffer.from(String(input.Message ?? ""), "base64");
        if (message.length < 1 || message.length > 4096)
            throw new AwsApiError(
                "ValidationException",
                `Message is ${message.length} bytes; RAW messages are 1 to 4096 bytes`,
            );
        this.signed++;
        const der = crypto.sign(spec.hash, message, { key: key.privateKey, dsaEncoding: "der" });
        return { KeyId: keyId, Signature: der.toString("base64"), SigningAlgorithm: algorithm };
    }
}
