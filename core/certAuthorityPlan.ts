/**
 * SshCertificateAuthority's plan: its kind (user or host CA), which of its four key sources the
 * args name, the longest validity it is meant to sign, the host patterns of a host CA's
 * `@cert-authority` line, and a KMS key's public key in OpenSSH form. Pure: no resource, no
 * Pulumi; values a program may give as Outputs are `unknown` here.
 */
import * as crypto from "crypto";
import { caKeyProblem, formatDuration, parseDuration } from "./certs/options";
import { CertKind, DEFAULT_MAX_HOST_VALIDITY_SECONDS, DEFAULT_MAX_USER_VALIDITY_SECONDS } from "./certs/types";
import { KeyGenerateInput, KeyOnHostInput, KeyPairPlanError, planSshKeyPair } from "./keyPairPlan";
import { KeyInfo, parsePublicKey } from "./keys";
import { CURVES } from "./keys/types";
import { sshString } from "./keys/wire";

// `as const` objects, so Pulumi's component analyzer makes schema enums of them.
/** Which side trusts the CA: hosts (`TrustedUserCAKeys`) or the central server (`@cert-authority`). */
export const CertificateAuthorityKind = { User: "user", Host: "host" } as const;
export type CertificateAuthorityKind = (typeof CertificateAuthorityKind)[keyof typeof CertificateAuthorityKind];
/** AWS KMS asymmetric key specs that make an OpenSSH CA (ecdsa-sha2-nistp256/384/521). */
export const KmsCaKeySpec = {
    EccNistP256: "ECC_NIST_P256",
    EccNistP384: "ECC_NIST_P384",
    EccNistP521: "ECC_NIST_P521",
} as const;
export type KmsCaKeySpec = (typeof KmsCaKeySpec)[keyof typeof KmsCaKeySpec];

/**
 * Each KMS key spec: its OpenSSH curve and the KMS signing algorithm whose hash is the one
 * RFC 5656 fixes for that curve (AWS KMS Developer Guide, "Asymmetric key specs": ECC_NIST_P256
 * signs ECDSA_SHA_256, P384 ECDSA_SHA_384, P521 ECDSA_SHA_512).
 */
export const KMS_CA_SPECS: Readonly<Record<KmsCaKeySpec, { curve: string; signingAlgorithm: string; hash: string }>> = {
    ECC_NIST_P256: { curve: "nistp256", signingAlgorithm: "ECDSA_SHA_256", hash: "sha256" },
    ECC_NIST_P384: { curve: "nistp384", signingAlgorithm: "ECDSA_SHA_384", hash: "sha384" },
    ECC_NIST_P521: { curve: "nistp521", signingAlgorithm: "ECDSA_SHA_512", hash: "sha512" },
};

/** `kms` as the planner reads it. */
export interface KmsCaInput {
    readonly keySpec?: unknown;
    readonly deletionWindowInDays?: unknown;
}

/** SshCertificateAuthority's args as the planner reads them. */
export interface CertificateAuthorityPlanInput {
    readonly kind?: unknown;
    readonly generate?: KeyGenerateInput;
    readonly onHost?: KeyOnHostInput;
    readonly publicKey?: unknown;
    readonly kms?: KmsCaInput;
    readonly maxValidity?: unknown;
    readonly hostPatterns?: unknown;
}

export type CertificateAuthorityPlan = {
    kind: CertKind;
    /** The longest validity the CA is meant to sign (what the policy pack's ssh-certificate-validity judges). */
    maxValiditySeconds: number;
    /** ssh-keygen's form of it: `24h`, `30d`. */
    maxValidity: string;
    /** A host CA's `@cert-authority` patterns (known_hosts(5)); empty for a user CA. */
    hostPatterns: string[];
} & (
    | { source: "generate" | "onHost" | "publicKey"; info?: KeyInfo }
    | { source: "kms"; keySpec: KmsCaKeySpec; deletionWindowInDays: number }
);

/** A host pattern as known_hosts(5) reads one: `*` and `?` wildcards, `!` negation, `[host]:port`. */
const HOST_PATTERN = /^!?(\[[A-Za-z0-9.*?:_-]{1,253}\]:[0-9]{1,5}|[A-Za-z0-9.*?:_-]{1,253})$/;

/** The `@cert-authority` patterns: at least one that is not a negation, none with a space or comma. */
export function checkHostPatterns(v: unknown, input = "hostPatterns"): string[] {
    if (!Array.isArray(v) || v.length === 0 || v.length > 64) {
        throw new KeyPairPlanError(
            `\`${input}\` must be a list of 1 to 64 host patterns, such as ["*.internal", "i-*"].`,
        );
    }
    for (const p of v) {
        if (typeof p !== "string" || !HOST_PATTERN.test(p)) {
            throw new KeyPairPlanError(
                `\`${input}\`: ${JSON.stringify(p)} is not a known_hosts host pattern (letters, digits, . : _ - and the wildcards * ?, an optional leading !, or [host]:port).`,
            );
        }
    }
    if (v.every((p: string) => p.startsWith("!"))) {
        throw new KeyPairPlanError(`\`${input}\`: only negations match no host; add a pattern such as "*".`);
    }
    return [...v];
}

/** Why a CA key (known now or at deployment) is refused, naming `input`; undefined when it can be a CA. */
export function caKeyRefusal(info: KeyInfo, input: string): string | undefined {
    const p = caKeyProblem(info);
    return p === undefined ? undefined : `\`${input}\` (${info.type} ${info.curve ?? info.bits}) cannot be a CA: ${p}.`;
}

/** Validates the args; throws a KeyPairPlanError naming the input. */
export function planCertificateAuthority(args: CertificateAuthorityPlanInput): CertificateAuthorityPlan {
    const kind = args.kind as CertKind;
    if (kind !== "user" && kind !== "host") {
        throw new KeyPairPlanError(
            `\`kind\` must be "user" (hosts trust it: PkaFleet \`certificates.userCaKeys\`) or "host" (the central server trusts it: \`@cert-authority\`); got ${JSON.stringify(kind)}.`,
        );
    }
    const given = (["generate", "onHost", "publicKey", "kms"] as const).filter(
        (k) => args[k] !== undefined && args[k] !== null,
    );
    if (given.length !== 1) {
        throw new KeyPairPlanError(
            "Give exactly one CA key source: `generate` (a new key kept in stack state as a secret), `onHost` (made by ssh-keygen on " +
                "the central server; the private key never leaves it), `publicKey` (an external CA's public key, e.g. Vault's) or " +
                `\`kms\` (a host CA in AWS KMS that only the provisioner can sign with); got ${given.length ? given.map((g) => `\`${g}\``).join(" and ") : "none"}.`,
        );
    }
    const source = given[0];
    const defaultMax = kind === "user" ? DEFAULT_MAX_USER_VALIDITY_SECONDS : DEFAULT_MAX_HOST_VALIDITY_SECONDS;
    let maxValiditySeconds = defaultMax;
    if (args.maxValidity !== undefined) {
        if (typeof args.maxValidity !== "string") {
            throw new KeyPairPlanError(
                '`maxValidity` must be a duration such as "1h", "24h" or "30d" (a plain string).',
            );
        }
        try {
            maxValiditySeconds = parseDuration(args.maxValidity, "maxValidity");
        } catch (e) {
            throw new KeyPairPlanError(`\`maxValidity\`: ${(e as Error).message.replace(/^maxValidity: /, "")}`);
        }
    }
    let hostPatterns: string[] = [];
    if (kind === "host") hostPatterns = checkHostPatterns(args.hostPatterns ?? ["*"]);
    else if (args.hostPatterns !== undefined) {
        throw new KeyPairPlanError(
            '`hostPatterns` is for a host CA (`kind: "host"`): a user CA has no @cert-authority line.',
        );
    }
    const common = { kind, maxValiditySeconds, maxValidity: formatDuration(maxValiditySeconds), hostPatterns };
    if (source === "kms") {
        if (kind !== "host") {
            throw new KeyPairPlanError(
                '`kms` makes a host CA (`kind: "host"`): the provisioner signs host certificates with it. A user CA is ' +
                    "`generate`, `onHost` or an external CA's `publicKey`, where `pka cert issue` or your signer runs.",
            );
        }
        const keySpec = args.kms!.keySpec ?? "ECC_NIST_P256";
        if (typeof keySpec !== "string" || !(keySpec in KMS_CA_SPECS)) {
            throw new KeyPairPlanError(
                `\`kms.keySpec\` must be one of ${Object.keys(KMS_CA_SPECS).join(", ")} (ecdsa; KMS RSA keys sign PKCS#1 v1.5 only with SHA-256..512, and pka-fleet's CAs are ecdsa in KMS); got ${JSON.stringify(keySpec)}.`,
            );
        }
        const days = args.kms!.deletionWindowInDays ?? 30;
        if (typeof days !== "number" || !Number.isInteger(days) || days < 7 || days > 30) {
            // AWS KMS API Reference, ScheduleKeyDeletion: PendingWindowInDays 7 to 30.
            throw new KeyPairPlanError(
                `\`kms.deletionWindowInDays\` must be a whole number of days from 7 to 30 (KMS's pending window); got ${JSON.stringify(days)}.`,
            );
        }
        return { ...common, source, keySpec: keySpec as KmsCaKeySpec, deletionWindowInDays: days };
    }
    if (source === "generate" && args.generate!.ppk !== undefined) {
        throw new KeyPairPlanError("`generate.ppk`: a CA key is not a login key; PuTTY needs no copy of it.");
    }
    // The key source itself: SshKeyPair's planner (a CA key signs unattended, so no passphrase is required).
    const keyPlan = planSshKeyPair(
        source === "generate"
            ? { generate: { ...args.generate!, service: true } }
            : source === "onHost"
              ? { onHost: args.onHost! }
              : { publicKey: args.publicKey },
    );
    if (keyPlan.source !== "import") {
        const refusal = caKeyRefusal(
            { type: keyPlan.spec.keyType, bits: keyPlan.spec.bits, curve: keyPlan.spec.curve } as KeyInfo,
            source === "generate" ? "generate.keyType" : "onHost.keyType",
        );
        if (refusal) throw new KeyPairPlanError(refusal);
        return { ...common, source };
    }
    if (keyPlan.info) {
        const refusal = caKeyRefusal(keyPlan.info, "publicKey");
        if (refusal) throw new KeyPairPlanError(refusal);
    }
    return { ...common, source: "publicKey", info: keyPlan.info };
}

/** A host CA's known_hosts line for the central server: `@cert-authority PATTERNS KEYTYPE BASE64 COMMENT`. */
export function certAuthorityLine(hostPatterns: readonly string[], publicKey: string): string {
    const info = parsePublicKey(publicKey, "the host CA's public key");
    return `@cert-authority ${hostPatterns.join(",")} ${info.publicKey}`;
}

/**
 * A KMS public key (GetPublicKey's SubjectPublicKeyInfo, DER or PEM) as an OpenSSH public key line
 * (RFC 5656: `ecdsa-sha2-nistpNNN`, string curve, string Q). Throws when it is not a curve KMS_CA_SPECS names.
 */
export function sshPublicKeyFromSpki(spki: Buffer | string, comment: string): string {
    const key =
        typeof spki === "string"
            ? crypto.createPublicKey(
                  spki.includes("BEGIN") ? spki : { key: Buffer.from(spki, "base64"), format: "der", type: "spki" },
              )
            : crypto.createPublicKey({ key: spki, format: "der", type: "spki" });
    const jwk = key.export({ format: "jwk" }) as { kty?: string; crv?: string; x?: string; y?: string };
    const curve = Object.keys(CURVES).find((c) => CURVES[c].jwk !== undefined && CURVES[c].jwk === jwk.crv);
    if (jwk.kty !== "EC" || !curve || !jwk.x || !jwk.y) {
        throw new KeyPairPlanError(
            `the KMS key is ${jwk.kty ?? "?"} ${jwk.crv ?? ""}, not an ECC_NIST key: it cannot be an OpenSSH CA here.`,
        );
    }
    const q = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, "base64url"), Buffer.from(jwk.y, "base64url")]);
    const wireType = `ecdsa-sha2-${curve}`;
    const blob = Buffer.concat([sshString(wireType), sshString(curve), sshString(q)]);
    return `${wireType} ${blob.toString("base64")}${comment ? ` ${comment}` : ""}`;
}
