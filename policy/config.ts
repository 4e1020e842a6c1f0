/**
 * Each rule's configuration: its JSON schema (what `--policy-pack-config` may set, shown by
 * `pulumi policy` tooling) and the defaults the rule applies itself, so a rule behaves the same
 * whether the engine filled the defaults in or not (direct calls, older CLIs); and the one
 * validator of a policy pack config, used by the pack (its gRPC Configure call and every rule's
 * getConfig) and by `pka check-key --config`.
 *
 * Why the pack validates itself: the Pulumi CLI checks each known rule's properties against the
 * `properties`/`required` of its configSchema (pkg/resource/analyzer/config.go,
 * ReconcilePolicyPackConfig), but @pulumi/policy publishes only those two members, so
 * `additionalProperties: false` never reaches the CLI: a misspelled field passes it, and a
 * misspelled rule name is never looked at. Other engines and the automation API may check
 * nothing at all.
 */
import type { PolicyConfigSchema } from "@pulumi/policy";
import type { PolicyConfigJSONSchema } from "@pulumi/policy/schema";
import { DEFAULT_KEY_RULES, EC2_IMPORT_RSA_BITS, EC2_IMPORT_RSA_BITS_ALLOWED, KNOWN_CURVES, KNOWN_KEY_TYPES, keyRulesFromPolicyConfig, MAX_RSA_BITS, RSA_FLOOR_BITS } from "../core/keys";
import { DEFAULT_DEPRECATED_RUNTIMES as CORE_DEPRECATED_RUNTIMES } from "../core/runtimes";

/** A rule's config schema: an object with exactly these properties (unknown fields are errors). */
export type RuleConfigSchema = PolicyConfigSchema & { additionalProperties: false };

/** A rule's name, schema and defaults: what its `configSchema` is and what `readConfig` fills in. */
export interface RuleConfig<T extends object> {
    name: string;
    schema: RuleConfigSchema;
    defaults: T;
}

/**
 * Reads a rule's config over its defaults (an absent field keeps the default), after checking it
 * with the same validator as Configure: a field the rule does not have, or a value its schema
 * refuses, throws a PolicyConfigError naming it. Configure already refused such a config when
 * the pack could hook it; this is the check that holds when it could not.
 */
export function readConfig<T extends object>(args: { getConfig<U extends object>(): U }, rule: RuleConfig<T>): T {
    // The pack's server returns {} for a rule without config; an error here is a real fault and
    // must surface (a silently ignored --policy-pack-config would pass what it meant to refuse).
    const given = (args.getConfig<Record<string, unknown>>() ?? {}) as Record<string, unknown>;
    const props: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(given)) if (k !== "enforcementLevel" && v !== undefined) props[k] = v;
    const problems = sectionProblems(rule.name, rule.schema, props);
    if (problems.length > 0) throw new PolicyConfigError(problems);
    return { ...rule.defaults, ...props } as T;
}

const stringList = (description: string, def: readonly string[]) => ({
    type: "array" as const,
    items: { type: "string" as const },
    description,
    default: [...def],
});

/** `asOf` fields: an ISO 8601 date (or date and time); a typo must not silently mean "today". */
const AS_OF_PATTERN = "^\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:?\\d{2})?)?$";

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
            ...stringList(`Key types allowed: any of ${KNOWN_KEY_TYPES.join(", ")} (dsa and rsa1 are never accepted).`, KEY_ALGORITHM_DEFAULTS.allowedTypes),
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
            ...stringList("ECDSA curves allowed (OpenSSH names; P-224 is never accepted).", KEY_ALGORITHM_DEFAULTS.allowedCurves),
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
            description: "A person's private key must be passphrase-protected (false turns the check off, as in `pka check-key`).",
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
        maxAgeDays: { type: "integer", minimum: 1, description: "Oldest a key may be, in days, before it must be rotated.", default: 365 },
        asOf: { type: "string", pattern: AS_OF_PATTERN, description: "Judge ages as of this date (ISO 8601) instead of today; for reproducible CI runs." },
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
        protectedFiles: stringList("Files a script must never write directly.", NO_SUDOERS_APPEND_DEFAULTS.protectedFiles),
        requireVisudoForSudoersD: {
            type: "boolean",
            description: "A script that writes into /etc/sudoers.d/ must also check with `visudo -c` (a broken drop-in disables sudo for everyone).",
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
        shellActions: stringList("Document step actions whose runCommand is shell text.", DOCUMENT_INJECTION_DEFAULTS.shellActions),
        shellDocuments: stringList("Documents whose `commands` parameter is shell text (for associations and Automation aws:runCommand steps).", DOCUMENT_INJECTION_DEFAULTS.shellDocuments),
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
        tagConditionKeys: stringList("Condition key prefixes that scope instances by tag.", LEAST_PRIVILEGE_DEFAULTS.tagConditionKeys),
        broadManagedPolicies: stringList("AWS managed policies (by name) that grant those actions on everything.", LEAST_PRIVILEGE_DEFAULTS.broadManagedPolicies),
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
        asOf: { type: "string", pattern: AS_OF_PATTERN, description: "Judge deprecation dates as of this date (ISO 8601) instead of today." },
    },
};

// ---------------------------------------------------------------------------------------------
// The pack's rules and the validator of a whole policy pack config

export const KEY_ALGORITHM: RuleConfig<KeyAlgorithmConfig> = { name: "ssh-key-algorithm", schema: KEY_ALGORITHM_SCHEMA, defaults: KEY_ALGORITHM_DEFAULTS };
export const KEY_PASSPHRASE: RuleConfig<KeyPassphraseConfig> = { name: "ssh-key-passphrase", schema: KEY_PASSPHRASE_SCHEMA, defaults: KEY_PASSPHRASE_DEFAULTS };
export const PRIVATE_KEY_SECRET: RuleConfig<PrivateKeySecretConfig> = { name: "ssh-private-key-secret", schema: PRIVATE_KEY_SECRET_SCHEMA, defaults: PRIVATE_KEY_SECRET_DEFAULTS };
export const KEY_MAX_AGE: RuleConfig<KeyMaxAgeConfig> = { name: "ssh-key-max-age", schema: KEY_MAX_AGE_SCHEMA, defaults: KEY_MAX_AGE_DEFAULTS };
export const NO_SUDOERS_APPEND: RuleConfig<NoSudoersAppendConfig> = { name: "no-sudoers-append", schema: NO_SUDOERS_APPEND_SCHEMA, defaults: NO_SUDOERS_APPEND_DEFAULTS };
export const DOCUMENT_INJECTION: RuleConfig<DocumentInjectionConfig> = { name: "ssm-document-injection", schema: DOCUMENT_INJECTION_SCHEMA, defaults: DOCUMENT_INJECTION_DEFAULTS };
export const LEAST_PRIVILEGE: RuleConfig<LeastPrivilegeConfig> = { name: "provisioner-least-privilege", schema: LEAST_PRIVILEGE_SCHEMA, defaults: LEAST_PRIVILEGE_DEFAULTS };
export const LAMBDA_RUNTIME: RuleConfig<LambdaRuntimeConfig> = { name: "lambda-runtime-supported", schema: LAMBDA_RUNTIME_SCHEMA, defaults: LAMBDA_RUNTIME_DEFAULTS };

/** Every rule of the pack, in the pack's order (policy/index.ts serves a policy for each, by these names and schemas). */
export const PACK_RULES: readonly RuleConfig<object>[] = [KEY_ALGORITHM, KEY_PASSPHRASE, PRIVATE_KEY_SECRET, KEY_MAX_AGE, NO_SUDOERS_APPEND, DOCUMENT_INJECTION, LEAST_PRIVILEGE, LAMBDA_RUNTIME];

export type EnforcementLevel = "advisory" | "mandatory" | "remediate" | "disabled";
export const ENFORCEMENT_LEVELS: readonly EnforcementLevel[] = ["advisory", "mandatory", "remediate", "disabled"];
/** Pulumi's name for every policy of a pack: it sets their enforcementLevel and nothing else. */
export const ALL = "all";

/** A rule as the validator sees it: the served policies' `{ name, configSchema }` fit too. */
export interface RuleShape {
    name: string;
    schema?: PolicyConfigSchema;
    configSchema?: PolicyConfigSchema;
}
const schemaOf = (r: RuleShape): PolicyConfigSchema => r.schema ?? r.configSchema ?? { properties: {} };

/** A config the validator refused: one message per problem, each naming the rule/field and the fix. */
export class PolicyConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(problems.join("\n"));
        this.name = "PolicyConfigError";
    }
}

/** A validated rule's settings: its enforcementLevel if the config set one, and its fields. */
export interface RuleSettings {
    enforcementLevel?: EnforcementLevel;
    properties: Record<string, unknown>;
}

export interface PackConfig {
    /** `all`'s enforcementLevel, when given. */
    all?: EnforcementLevel;
    /** The configured rules (every key is a rule of the pack). */
    rules: Record<string, RuleSettings>;
}

/**
 * Validates a policy pack config in the form of `--policy-pack-config FILE`: rule name -> an
 * enforcement level, or an object `{ enforcementLevel?, ...fields }`; `all` -> a level (or
 * `{ enforcementLevel }`). Every problem is collected; a rule name or field the pack does not
 * have is an error with a did-you-mean. Throws PolicyConfigError.
 */
export function validatePackConfig(config: unknown, rules: readonly RuleShape[] = PACK_RULES): PackConfig {
    if (config === undefined || config === null) return { rules: {} };
    if (typeof config !== "object" || Array.isArray(config)) throw new PolicyConfigError(["policy config: must be a JSON object keyed by rule name"]);
    const problems: string[] = [];
    const out: PackConfig = { rules: {} };
    const names = rules.map((r) => r.name);
    for (const [name, value] of Object.entries(config as Record<string, unknown>)) {
        const rule = rules.find((r) => r.name === name);
        if (!rule && name !== ALL) {
            problems.push(unknownRuleProblem(name, rules));
            continue;
        }
        let level: unknown;
        let props: Record<string, unknown> = {};
        if (typeof value === "string") level = value;
        else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
            ({ enforcementLevel: level, ...props } = value as Record<string, unknown>);
        } else {
            problems.push(`policy config: '${name}' must be an enforcement level (${words(ENFORCEMENT_LEVELS)}) or an object of its fields; got ${shown(value)}`);
            continue;
        }
        if (level !== undefined && !ENFORCEMENT_LEVELS.includes(level as EnforcementLevel)) {
            problems.push(`policy config: '${typeof value === "string" ? name : `${name}.enforcementLevel`}' must be ${words(ENFORCEMENT_LEVELS)}; got ${shown(level)}`);
            level = undefined;
        }
        if (name === ALL) {
            for (const k of Object.keys(props)) {
                const owners = rules.filter((r) => k in schemaOf(r).properties).map((r) => r.name);
                problems.push(
                    `policy config: '${ALL}' sets only enforcementLevel (of every rule); '${ALL}.${k}' ` +
                        (owners.length ? `belongs in the rule it configures: ${owners.map((o) => `"${o}": { "${k}": ... }`).join(" or ")}` : `is not a field of any rule (rules: ${names.join(", ")})`),
                );
            }
            if (level !== undefined) out.all = level as EnforcementLevel;
            continue;
        }
        problems.push(...sectionProblems(name, schemaOf(rule!), props, rules));
        out.rules[name] = { ...(level !== undefined ? { enforcementLevel: level as EnforcementLevel } : {}), properties: props };
    }
    if (problems.length > 0) throw new PolicyConfigError(problems);
    return out;
}

/**
 * A rule's level under a validated config, as the Pulumi CLI reconciles it: the rule's own
 * enforcementLevel, else `all`'s, else the rule's default.
 */
export function enforcementLevelOf(config: PackConfig, rule: string, defaultLevel: EnforcementLevel): EnforcementLevel {
    return config.rules[rule]?.enforcementLevel ?? config.all ?? defaultLevel;
}

/**
 * Problems of one rule's fields (no enforcementLevel here): unknown fields, values the schema
 * refuses. Every schema is taken as closed, as the pack's all are (`additionalProperties: false`).
 */
export function sectionProblems(rule: string, schema: PolicyConfigSchema, props: Record<string, unknown>, rules: readonly RuleShape[] = PACK_RULES): string[] {
    const problems: string[] = [];
    const fields = Object.keys(schema.properties);
    for (const [field, value] of Object.entries(props)) {
        const prop = schema.properties[field];
        if (prop === undefined) {
            problems.push(unknownFieldProblem(rule, field, fields, rules));
            continue;
        }
        const problem = FIELD_CHECKS[rule]?.(field, value) ?? valueProblem(prop, value, `${rule}.${field}`);
        if (problem) problems.push(problem);
    }
    for (const field of schema.required ?? []) if (!(field in props)) problems.push(`policy config: '${rule}.${field}' is required`);
    return problems;
}

/** Checks beyond the schema, with the messages the rules' own code gives. */
const FIELD_CHECKS: Record<string, (field: string, value: unknown) => string | undefined> = {
    // The key rules read their config through keyRulesFromPolicyConfig (as `pka check-key` does),
    // whose messages say why a value is never allowed (dsa, P-224, RSA below 2048).
    [KEY_ALGORITHM.name]: (field, value) => keyRuleProblem(KEY_ALGORITHM.name, field, value),
    [KEY_PASSPHRASE.name]: (field, value) => {
        if (field === "serviceAccountPatterns" && Array.isArray(value)) {
            for (const [i, p] of value.entries()) {
                if (typeof p !== "string") continue;
                try {
                    new RegExp(p, "i");
                } catch (e) {
                    return `policy config: '${KEY_PASSPHRASE.name}.serviceAccountPatterns[${i}]' ${shown(p)} is not a valid regular expression (${(e as Error).message})`;
                }
            }
        }
        return keyRuleProblem(KEY_PASSPHRASE.name, field, value);
    },
    [KEY_MAX_AGE.name]: (field, value) => asOfProblem(KEY_MAX_AGE.name, field, value),
    [LAMBDA_RUNTIME.name]: (field, value) => asOfProblem(LAMBDA_RUNTIME.name, field, value),
};

function keyRuleProblem(rule: string, field: string, value: unknown): string | undefined {
    try {
        keyRulesFromPolicyConfig({ [rule]: { [field]: value } });
        return undefined;
    } catch (e) {
        return (e as Error).message;
    }
}

function asOfProblem(rule: string, field: string, value: unknown): string | undefined {
    if (field !== "asOf" || typeof value !== "string" || !new RegExp(AS_OF_PATTERN).test(value)) return undefined; // the schema says why
    return Number.isNaN(new Date(value).getTime()) ? `policy config: '${rule}.asOf' must be an ISO 8601 date (2026-01-31); got ${shown(value)}` : undefined;
}

/** The schema keywords the rules' schemas use and the validator implements; any other is a fault in the pack. */
const SCHEMA_KEYWORDS = new Set(["type", "items", "enum", "minimum", "maximum", "pattern", "description", "default"]);

/** Why `value` does not fit `schema` (a JSON-schema subset), or undefined when it does. */
export function valueProblem(schema: PolicyConfigJSONSchema, value: unknown, where: string): string | undefined {
    for (const k of Object.keys(schema)) if (!SCHEMA_KEYWORDS.has(k)) throw new Error(`pka-fleet policy pack: the schema of '${where}' uses '${k}', which its config validator does not implement`);
    const at = `policy config: '${where}'`;
    if (schema.type !== undefined) {
        const types = Array.isArray(schema.type) ? schema.type : [schema.type];
        if (!types.some((t) => hasType(value, t))) return `${at} must be ${types.map(typeWord).join(" or ")}; got ${shown(value)}`;
    }
    if (schema.enum !== undefined && !schema.enum.some((e) => e === value)) return `${at} must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}; got ${shown(value)}`;
    if (typeof value === "number") {
        if (schema.minimum !== undefined && value < schema.minimum) return `${at} must be at least ${schema.minimum}; got ${value}`;
        if (schema.maximum !== undefined && value > schema.maximum) return `${at} must be at most ${schema.maximum}; got ${value}`;
    }
    if (typeof value === "string" && schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) {
        return `${at} must match ${schema.pattern}; got ${shown(value)}`;
    }
    if (Array.isArray(value) && schema.items !== undefined && typeof schema.items === "object" && !Array.isArray(schema.items)) {
        for (const [i, v] of value.entries()) {
            const p = valueProblem(schema.items, v, `${where}[${i}]`);
            if (p) return p;
        }
    }
    return undefined;
}

function hasType(v: unknown, t: string): boolean {
    switch (t) {
        case "integer":
            return typeof v === "number" && Number.isInteger(v);
        case "number":
            return typeof v === "number" && Number.isFinite(v);
        case "array":
            return Array.isArray(v);
        case "object":
            return v !== null && typeof v === "object" && !Array.isArray(v);
        case "null":
            return v === null;
        default:
            return typeof v === t;
    }
}

const typeWord = (t: string): string => ({ integer: "an integer", array: "an array", object: "an object", null: "null" })[t] ?? `a ${t}`;

function shown(v: unknown): string {
    const s = JSON.stringify(v) ?? String(v);
    return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function words(list: readonly string[]): string {
    return list.length <= 1 ? list.join("") : `${list.slice(0, -1).join(", ")} or ${list[list.length - 1]}`;
}

function unknownRuleProblem(name: string, rules: readonly RuleShape[]): string {
    const names = rules.map((r) => r.name);
    const owners = rules.filter((r) => name in schemaOf(r).properties).map((r) => r.name);
    const hint = owners.length
        ? `; '${name}' is a field of ${owners.join(" and ")}: write { "${owners[0]}": { "${name}": ... } }`
        : didYouMean(name, [...names, ALL]);
    return `policy config: '${name}' is not a rule of this pack${hint} (rules: ${names.join(", ")}; and '${ALL}', which sets every rule's enforcementLevel)`;
}

function unknownFieldProblem(rule: string, field: string, fields: string[], rules: readonly RuleShape[]): string {
    const close = didYouMean(field, [...fields, "enforcementLevel"]);
    const owners = close ? [] : rules.filter((r) => r.name !== rule && field in schemaOf(r).properties).map((r) => r.name);
    const hint = close || (owners.length ? `; it is a field of ${owners.join(" and ")}` : "");
    return `policy config: '${rule}.${field}' is not a field of ${rule}${hint} (fields: enforcementLevel, ${fields.join(", ")})`;
}

/** `; did you mean 'x'?` for the closest candidate within a small edit distance, else "". */
export function didYouMean(given: string, candidates: readonly string[]): string {
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const c of candidates) {
        const d = editDistance(given.toLowerCase(), c.toLowerCase());
        if (d < bestDistance) [best, bestDistance] = [c, d];
    }
    return best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 4)) ? `; did you mean '${best}'?` : "";
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions. */
function editDistance(a: string, b: string): number {
    const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 0; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
            const cost = a[i - 1] === b[j - 1] ? 0 : 1;
            d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.length][b.length];
}
