/**
 * Each rule's configuration: its JSON schema (what `--policy-pack-config` may set, shown by
 * `pulumi policy` tooling) and the defaults the rule applies itself, so a rule behaves the same
 * whether the engine filled the defaults in or not (direct calls, older CLIs). config.ts
 * validates a config against these.
 */
import type { PolicyConfigSchema } from "@pulumi/policy";
import {
    DEFAULT_KEY_RULES,
    EC2_IMPORT_RSA_BITS,
    EC2_IMPORT_RSA_BITS_ALLOWED,
    KNOWN_CURVES,
    KNOWN_KEY_TYPES,
    MAX_RSA_BITS,
    RSA_FLOOR_BITS,
} from "../core/keys";
import { DEFAULT_DEPRECATED_RUNTIMES as CORE_DEPRECATED_RUNTIMES } from "../core/runtimes";

/** A rule's config schema: an object with exactly these properties (unknown fields are errors). */
export type RuleConfigSchema = PolicyConfigSchema & { additionalProperties: false };

/** A rule's name, schema and defaults: what its `configSchema` is and what `readConfig` fills in. */
export interface RuleConfig<T extends object> {
    name: string;
    schema: RuleConfigSchema;
    defaults: T;
}

const stringList = (description: string, def: readonly string[]) => ({
    type: "array" as const,
    items: { type: "string" as const },
    description,
    default: [...def],
});

/** `asOf` fields: an ISO 8601 date (or date and time); a typo must not silently mean "today". */
export const AS_OF_PATTERN = "^\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:?\\d{2})?)?$";
// ---- ssh-key-algorithm ----
export interface KeyAlgorithmConfig {
    allowedTypes: string[];
    minRsaBits: number;
    allowedCurves: string[];
    ec2ImportRsaBits: number;
}
export const KEY_ALGORITHM_DEFAULTS: KeyAlgorithmConfig = {
    allowedTypes: [...DEFAULT_KEY_RULES.allowedTypes],
    minRsaBits: DEFAULT_KEY_RULES.minRsaBits,
    allowedCurves: [...DEFAULT_KEY_RULES.allowedCurves],
    ec2ImportRsaBits: DEFAULT_KEY_RULES.ec2ImportRsaBits,
};
/** Derived from core/keys.ts, so the schema accepts exactly what keyRulesFromPolicyConfig (checkKeyRules) accepts. */
export const KEY_ALGORITHM_SCHEMA: RuleConfigSchema = {
    additionalProperties: false,
    properties: {
        allowedTypes: {
            ...stringList(
                `Key types allowed: any of ${KNOWN_KEY_TYPES.join(", ")} (sk-ed25519 and sk-ecdsa are FIDO2 security keys, OpenSSH 8.2+; dsa and rsa1 are never accepted).`,
                KEY_ALGORITHM_DEFAULTS.allowedTypes,
            ),
            items: { type: "string", enum: [...KNOWN_KEY_TYPES] },
        },
        minRsaBits: {
            type: "integer",
            minimum: RSA_FLOOR_BITS,
            maximum: MAX_RSA_BITS,
            description: `Smallest RSA modulus accepted, in bits (${RSA_FLOOR_BITS}-${MAX_RSA_BITS}: RSA below ${RSA_FLOOR_BITS} is never accepted).`,
            default: KEY_ALGORITHM_DEFAULTS.minRsaBits,
        },
        allowedCurves: {
            ...stringList(
                "ECDSA curves allowed (OpenSSH names; P-224 is never accepted).",
                KEY_ALGORITHM_DEFAULTS.allowedCurves,
            ),
            items: { type: "string", enum: [...KNOWN_CURVES] },
        },
        ec2ImportRsaBits: {
            type: "integer",
            enum: [...EC2_IMPORT_RSA_BITS_ALLOWED],
            description: `Smallest RSA size for keys imported into EC2 (aws.ec2.KeyPair), among the sizes EC2 accepts (${EC2_IMPORT_RSA_BITS.join(", ")} bits; below ${RSA_FLOOR_BITS} is never accepted): ${EC2_IMPORT_RSA_BITS_ALLOWED.join(" or ")}. 4096 allows 4096 only; 2048 allows 2048 and 4096.`,
            default: KEY_ALGORITHM_DEFAULTS.ec2ImportRsaBits,
        },
    },
};

// ---- ssh-key-passphrase ----
export interface KeyPassphraseConfig {
    requirePassphrase: boolean;
    serviceAccountUsers: string[];
    serviceAccountPatterns: string[];
}
export const KEY_PASSPHRASE_DEFAULTS: KeyPassphraseConfig = {
    requirePassphrase: DEFAULT_KEY_RULES.requirePassphrase,
    serviceAccountUsers: ["svc_user"],
    serviceAccountPatterns: ["(^|[-_.])(svc|service|ci|bot|automation|deploy|deployer)([-_.@]|$)"],
};
export const KEY_PASSPHRASE_SCHEMA: RuleConfigSchema = {
    additionalProperties: false,
    properties: {
        requirePassphrase: {
            type: "boolean",
            description:
                "A person's private key must be passphrase-protected (false turns the check off, as in `pka check-key`).",
            default: true,
        },
        serviceAccountUsers: stringList(
            "Users (or key resource names) that are non-interactive service accounts: their private keys may be unencrypted.",
            KEY_PASSPHRASE_DEFAULTS.serviceAccountUsers,
        ),
        serviceAccountPatterns: stringList(
            "Regular expressions; a user or key resource name matching one is a service account.",
            KEY_PASSPHRASE_DEFAULTS.serviceAccountPatterns,
        ),
    },
};

// ---- ssh-private-key-secret ----
export interface PrivateKeySecretConfig {
    ignore: string[];
}
export const PRIVATE_KEY_SECRET_DEFAULTS: PrivateKeySecretConfig = { ignore: [] };
export const PRIVATE_KEY_SECRET_SCHEMA: RuleConfigSchema = {
    additionalProperties: false,
    properties: {
        ignore: stringList(
            "Properties not to judge, as `<type token>:<property path>` globs, e.g. `aws:ssm/parameter:Parameter:value`.",
            PRIVATE_KEY_SECRET_DEFAULTS.ignore,
        ),
    },
};

// ---- ssh-key-max-age ----
export interface KeyMaxAgeConfig {
    maxAgeDays: number;
    asOf?: string;
}
export const KEY_MAX_AGE_DEFAULTS: KeyMaxAgeConfig = { maxAgeDays: 365 };
export const KEY_MAX_AGE_SCHEMA: RuleConfigSchema = {
    additionalProperties: false,
    properties: {
        maxAgeDays: {
            type: "integer",
            minimum: 1,
            description: "Oldest a key may be, in days, before it must be rotated.",
            default: 365,
        },
        asOf: {
            type: "string",
            pattern: AS_OF_PATTERN,
            description: "Judge ages as of this date (ISO 8601) instead of today; for reproducible CI runs.",
        },
    },
};

// ---- no-sudoers-append ----
export interface NoSudoersAppendConfig {
    protectedFiles: string[];
    requireVisudoForSudoersD: boolean;
}
export const NO_SUDOERS_APPEND_DEFAULTS: NoSudoersAppendConfig = {
    protectedFiles: ["/etc/sudoers"],
    requireVisudoForSudoersD: true,
};
export const NO_SUDOERS_APPEND_SCHEMA: RuleConfigSchema = {
    additionalProperties: false,
    properties: {
        protectedFiles: stringList(
            "Files a script must never write directly.",
            NO_SUDOERS_APPEND_DEFAULTS.protectedFiles,
        ),
        requireVisudoForSudoersD: {
            type: "boolean",
            description:
                "A script that writes into /etc/sudoers.d/ must also check with `visudo -c` (a broken drop-in disables sudo for everyone).",
            default: true,
        },
    },
};

// ---- ssm-document-injection ----
export interface DocumentInjectionConfig {
    shellActions: string[];
    shellDocuments: string[];
    forbiddenCharacters: string;
}
/** What a strict allowedPattern must not be able to match: shell and PowerShell metacharacters, quotes and line breaks. */
export const DEFAULT_FORBIDDEN_CHARACTERS = "`$;&|<>()\\\"'\n\r*?[]{}!#~";
export const DOCUMENT_INJECTION_DEFAULTS: DocumentInjectionConfig = {
    shellActions: ["aws:runShellScript", "aws:runPowerShellScript"],
    shellDocuments: ["AWS-RunShellScript", "AWS-RunPowerShellScript"],
    forbiddenCharacters: DEFAULT_FORBIDDEN_CHARACTERS,
};
export const DOCUMENT_INJECTION_SCHEMA: RuleConfigSchema = {
    additionalProperties: false,
    properties: {
        shellActions: stringList(
            "Document step actions whose runCommand is shell text.",
            DOCUMENT_INJECTION_DEFAULTS.shellActions,
        ),
        shellDocuments: stringList(
            "Documents whose `commands` parameter is shell text (for associations and Automation aws:runCommand steps).",
            DOCUMENT_INJECTION_DEFAULTS.shellDocuments,
        ),
        forbiddenCharacters: {
            type: "string",
            description: "Characters a strict allowedPattern must not be able to match.",
            default: DEFAULT_FORBIDDEN_CHARACTERS,
        },
    },
};

// ---- provisioner-least-privilege ----
export interface LeastPrivilegeConfig {
    actions: string[];
    shellDocuments: string[];
    tagConditionKeys: string[];
    broadManagedPolicies: string[];
}
export const LEAST_PRIVILEGE_DEFAULTS: LeastPrivilegeConfig = {
    actions: ["ssm:SendCommand"],
    shellDocuments: ["AWS-RunShellScript", "AWS-RunPowerShellScript"],
    tagConditionKeys: ["ssm:resourceTag/", "aws:ResourceTag/"],
    broadManagedPolicies: ["AdministratorAccess", "PowerUserAccess", "AmazonSSMFullAccess"],
};
export const LEAST_PRIVILEGE_SCHEMA: RuleConfigSchema = {
    additionalProperties: false,
    properties: {
        actions: stringList("Actions that run commands on instances.", LEAST_PRIVILEGE_DEFAULTS.actions),
        shellDocuments: stringList("Documents that run arbitrary shell text.", LEAST_PRIVILEGE_DEFAULTS.shellDocuments),
        tagConditionKeys: stringList(
            "Condition key prefixes that scope instances by tag.",
            LEAST_PRIVILEGE_DEFAULTS.tagConditionKeys,
        ),
        broadManagedPolicies: stringList(
            "AWS managed policies (by name) that grant those actions on everything.",
            LEAST_PRIVILEGE_DEFAULTS.broadManagedPolicies,
        ),
    },
};

// ---- lambda-runtime-supported ----
export interface LambdaRuntimeConfig {
    deprecatedRuntimes: string[];
    useDeprecationCalendar: boolean;
    asOf?: string;
}
/** Runtimes AWS had deprecated by the pack's release (core/runtimes.ts, shared with the Provisioner); the calendar adds later ones as their dates pass. */
export const DEFAULT_DEPRECATED_RUNTIMES: string[] = [...CORE_DEPRECATED_RUNTIMES];
export const LAMBDA_RUNTIME_DEFAULTS: LambdaRuntimeConfig = {
    deprecatedRuntimes: DEFAULT_DEPRECATED_RUNTIMES,
    useDeprecationCalendar: true,
};
export const LAMBDA_RUNTIME_SCHEMA: RuleConfigSchema = {
    additionalProperties: false,
    properties: {
        deprecatedRuntimes: stringList("Runtime identifiers that are refused.", DEFAULT_DEPRECATED_RUNTIMES),
        useDeprecationCalendar: {
            type: "boolean",
            description: "Also refuse runtimes whose AWS deprecation date (built-in calendar) has passed.",
            default: true,
        },
        asOf: {
            type: "string",
            pattern: AS_OF_PATTERN,
            description: "Judge deprecation dates as of this date (ISO 8601) instead of today.",
        },
    },
};

// ---- ssh-certificate-validity ----
export interface CertificateValidityConfig {
    maxUserValidity: string;
    maxHostValidity: string;
    forbiddenPrincipals: string[];
}
export const CERTIFICATE_VALIDITY_DEFAULTS: CertificateValidityConfig = {
    maxUserValidity: "24h",
    maxHostValidity: "400d",
    forbiddenPrincipals: ["root"],
};
/** ssh-keygen's time format (sshd_config(5) TIME FORMATS), as core/certs parseDuration reads it. */
export const DURATION_PATTERN = "^([0-9]{1,9}[smhdwSMHDW]?)+$";
export const CERTIFICATE_VALIDITY_SCHEMA: RuleConfigSchema = {
    additionalProperties: false,
    properties: {
        maxUserValidity: {
            type: "string",
            pattern: DURATION_PATTERN,
            description:
                "Longest validity of a user certificate, and of what a user CA is meant to sign (SshCertificateAuthority maxValidity): 90s, 30m, 8h, 7d, 2w.",
            default: CERTIFICATE_VALIDITY_DEFAULTS.maxUserValidity,
        },
        maxHostValidity: {
            type: "string",
            pattern: DURATION_PATTERN,
            description: "Longest validity of a host certificate, and of what a host CA is meant to sign.",
            default: CERTIFICATE_VALIDITY_DEFAULTS.maxHostValidity,
        },
        forbiddenPrincipals: stringList(
            "Principals no certificate and no access spec's users[].principals may name (a certificate for root logs in as root wherever root's AuthorizedPrincipalsFile or name matches).",
            CERTIFICATE_VALIDITY_DEFAULTS.forbiddenPrincipals,
        ),
    },
};

// ---------------------------------------------------------------------------------------------
// The pack's rules

export const KEY_ALGORITHM: RuleConfig<KeyAlgorithmConfig> = {
    name: "ssh-key-algorithm",
    schema: KEY_ALGORITHM_SCHEMA,
    defaults: KEY_ALGORITHM_DEFAULTS,
};
export const KEY_PASSPHRASE: RuleConfig<KeyPassphraseConfig> = {
    name: "ssh-key-passphrase",
    schema: KEY_PASSPHRASE_SCHEMA,
    defaults: KEY_PASSPHRASE_DEFAULTS,
};
export const PRIVATE_KEY_SECRET: RuleConfig<PrivateKeySecretConfig> = {
    name: "ssh-private-key-secret",
    schema: PRIVATE_KEY_SECRET_SCHEMA,
    defaults: PRIVATE_KEY_SECRET_DEFAULTS,
};
export const KEY_MAX_AGE: RuleConfig<KeyMaxAgeConfig> = {
    name: "ssh-key-max-age",
    schema: KEY_MAX_AGE_SCHEMA,
    defaults: KEY_MAX_AGE_DEFAULTS,
};
export const NO_SUDOERS_APPEND: RuleConfig<NoSudoersAppendConfig> = {
    name: "no-sudoers-append",
    schema: NO_SUDOERS_APPEND_SCHEMA,
    defaults: NO_SUDOERS_APPEND_DEFAULTS,
};
export const DOCUMENT_INJECTION: RuleConfig<DocumentInjectionConfig> = {
    name: "ssm-document-injection",
    schema: DOCUMENT_INJECTION_SCHEMA,
    defaults: DOCUMENT_INJECTION_DEFAULTS,
};
export const LEAST_PRIVILEGE: RuleConfig<LeastPrivilegeConfig> = {
    name: "provisioner-least-privilege",
    schema: LEAST_PRIVILEGE_SCHEMA,
    defaults: LEAST_PRIVILEGE_DEFAULTS,
};
export const CERTIFICATE_VALIDITY: RuleConfig<CertificateValidityConfig> = {
    name: "ssh-certificate-validity",
    schema: CERTIFICATE_VALIDITY_SCHEMA,
    defaults: CERTIFICATE_VALIDITY_DEFAULTS,
};
export const LAMBDA_RUNTIME: RuleConfig<LambdaRuntimeConfig> = {
    name: "lambda-runtime-supported",
    schema: LAMBDA_RUNTIME_SCHEMA,
    defaults: LAMBDA_RUNTIME_DEFAULTS,
};

/** Every rule of the pack, in the pack's order (policy/index.ts serves a policy for each, by these names and schemas). */
export const PACK_RULES: readonly RuleConfig<object>[] = [
    KEY_ALGORITHM,
    KEY_PASSPHRASE,
    PRIVATE_KEY_SECRET,
    KEY_MAX_AGE,
    NO_SUDOERS_APPEND,
    DOCUMENT_INJECTION,
    LEAST_PRIVILEGE,
    LAMBDA_RUNTIME,
    CERTIFICATE_VALIDITY,
];
