/**
 * A certificate up to its signature: the request checked (the key to certify by the key rules,
 * principals, validity, key id, critical options, extensions) and encoded for a CA known by its
 * public key. Signing is the caller's: issueCertificate with a private key here, the provisioner
 * with AWS KMS. Pure apart from the clock and the random nonce and serial.
 */
import * as crypto from "crypto";
import { judgeKey, judgeKeySpec } from "../keys/rules";
import { parseBlob } from "../keys/blob";
import { parsePublicKey } from "../keys/publicKey";
import { KeyError, KeyInfo, KeyRules } from "../keys/types";
import { encodeBody, parseCertificateBlob } from "./format";
import {
    caKeyProblem,
    checkCriticalOptions,
    checkExtensions,
    checkKeyId,
    checkPrincipals,
    formatDuration,
} from "./options";
import {
    BACKDATE_SECONDS,
    CertificateError,
    CertificateInfo,
    CertKind,
    CriticalOptions,
    DEFAULT_MAX_HOST_VALIDITY_SECONDS,
    DEFAULT_MAX_USER_VALIDITY_SECONDS,
    DEFAULT_USER_EXTENSIONS,
} from "./types";

export interface IssueRequest {
    /** The CA's OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`). */
    caPrivateKey: string;
    /** Its passphrase, when it has one. */
    caPassphrase?: string;
    /** The public key to certify: one OpenSSH public key line. */
    publicKey: string;
    /** "user" (default) or "host". */
    kind?: CertKind;
    principals: string[];
    /** How long from now the certificate is valid. */
    validitySeconds: number;
    /** The longest validity allowed (default 24h for users, 400d for hosts: the policy pack's defaults). */
    maxValiditySeconds?: number;
    keyId?: string;
    /** Default: 63 random bits (unique enough to revoke by serial in a KRL). */
    serial?: bigint;
    critical?: CriticalOptions;
    /** User certificates: default permit-pty only. */
    extensions?: string[];
    /** The key rules the certified key must pass (the policy pack's ssh-key-algorithm; default its defaults). */
    keyRules?: Partial<KeyRules>;
    /** The certified key is a non-interactive service account's (no security key). */
    service?: boolean;
    /** The clock (tests); default now. */
    now?: Date;
}

export interface IssuedCertificate {
    /** The certificate line, as ssh-keygen writes KEY-cert.pub. */
    line: string;
    info: CertificateInfo;
    /** The CA's public key line (for TrustedUserCAKeys or @cert-authority). */
    caPublicKey: string;
}

/** What a signer outside this process (AWS KMS) signs, and how the certificate is completed. */
export interface PreparedCertificate {
    /** The certificate up to its signature: the bytes the CA signs. */
    body: Buffer;
    /** The certificate from the CA's signature over `body` (string algorithm, string signature); verifies it. */
    finish(signature: Buffer): IssuedCertificate;
}

/**
 * Checks a request and encodes the certificate for `caPublicKey` without signing it: for a CA
 * whose private key is elsewhere (KMS). The same checks as issueCertificate.
 */
export function prepareCertificate(
    req: Omit<IssueRequest, "caPrivateKey" | "caPassphrase"> & { caPublicKey: string },
): PreparedCertificate {
    const kind: CertKind = req.kind ?? "user";
    if (kind !== "user" && kind !== "host") throw new CertificateError("kind", `'${String(kind)}' is not user or host`);
    let caInfo: KeyInfo;
    let subject: KeyInfo;
    try {
        caInfo = parsePublicKey(req.caPublicKey, "the CA key");
        subject = parsePublicKey(req.publicKey, "the key to certify");
    } catch (e) {
        throw asCertificateError(e);
    }
    const caProblem = caKeyProblem(caInfo);
    if (caProblem) throw new CertificateError("the CA key", caProblem);
    if (kind === "host" && subject.type.startsWith("sk-"))
        throw new CertificateError("the key to certify", "a host key cannot be a security key");
    // A certificate must not launder a key the rules refuse in authorized_keys.
    const keyProblems =
        kind === "user"
            ? judgeKey(subject, req.keyRules, {
                  label: "the key to certify",
                  service: req.service,
                  noPassphraseRule: true,
              })
            : judgeKeySpec(subject, req.keyRules, { label: "the key to certify", noPassphraseRule: true });
    if (keyProblems.length)
        throw new CertificateError("the key to certify", keyProblems.join(" ").replace(/^the key to certify: /, ""));
    const principals = checkPrincipals(req.principals, kind);
    const max =
        req.maxValiditySeconds ??
        (kind === "user" ? DEFAULT_MAX_USER_VALIDITY_SECONDS : DEFAULT_MAX_HOST_VALIDITY_SECONDS);
    if (!Number.isInteger(req.validitySeconds) || req.validitySeconds <= 0) {
        throw new CertificateError("validity", "must be a positive number of seconds");
    }
    if (req.validitySeconds > max) {
        throw new CertificateError(
            "validity",
            `${formatDuration(req.validitySeconds)} is longer than the maximum of ${formatDuration(max)} for a ${kind} certificate; issue a shorter one and renew it`,
        );
    }
    const now = BigInt(Math.floor((req.now ?? new Date()).getTime() / 1000));
    const subjectBlob = parseBlob(Buffer.from(subject.publicKey.split(" ")[1], "base64"), "the key to certify");
    const caBlob = parseBlob(Buffer.from(caInfo.publicKey.split(" ")[1], "base64"), "the CA key").blob;
    if (caBlob.equals(subjectBlob.blob)) {
        throw new CertificateError("the key to certify", "is the CA key itself; certify another key");
    }
    const serial = req.serial ?? crypto.randomBytes(8).readBigUInt64BE() >> 1n;
    if (serial < 0n || serial >= 1n << 64n) throw new CertificateError("serial", "must be 0 to 2^64-1");
    const body = encodeBody({
        keyBlob: subjectBlob.blob,
        nonce: crypto.randomBytes(32),
        serial,
        kind,
        keyId: checkKeyId(req.keyId ?? `${principals.join(",")}:${subject.fingerprint}`),
        principals,
        validAfter: now - BigInt(BACKDATE_SECONDS),
        validBefore: now + BigInt(req.validitySeconds),
        critical: checkCriticalOptions(req.critical ?? {}, kind),
        extensions: checkExtensions(req.extensions ?? (kind === "user" ? [...DEFAULT_USER_EXTENSIONS] : []), kind),
        caBlob,
    });
    return {
        body,
        finish(sig: Buffer): IssuedCertificate {
            const certBlob = Buffer.concat([body, Buffer.alloc(4), sig]);
            certBlob.writeUInt32BE(sig.length, body.length);
            const info = parseCertificateBlob(certBlob);
            if (!info.signatureValid) {
                throw new CertificateError(
                    "the CA's signature",
                    "does not verify over the certificate (a signer that is not the CA key?)",
                );
            }
            const comment = subject.comment ? ` ${subject.comment}` : "";
            return {
                line: `${info.certType} ${certBlob.toString("base64")}${comment}`,
                info,
                caPublicKey: `${caInfo.publicKey.split(" ").slice(0, 2).join(" ")}`,
            };
        },
    };
}

/** A key parser's refusal as a CertificateError naming the same input. */
export function asCertificateError(e: unknown): unknown {
    if (e instanceof KeyError) return new CertificateError(e.message.split(":")[0], e.message.replace(/^[^:]*: /, ""));
    return e;
}
