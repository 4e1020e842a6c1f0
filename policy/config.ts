/**
 * The one validator of a policy pack config, used by the pack (its gRPC Configure call and every
 * rule's getConfig) and by `pka check-key --config`; the rules' schemas and defaults are in
 * ruleConfig.ts.
 *
 * Why the pack validates itself: the Pulumi CLI checks each known rule's properties against the
 * `properties`/`required` of its configSchema (pkg/resource/analyzer/config.go,
 * ReconcilePolicyPackConfig), but @pulumi/policy publishes only those two members, so
 * `additionalProperties: false` never reaches the CLI: a misspelled field passes it, and a
 * misspelled rule name is never looked at. Other engines and the automation API may check
 * nothing at all.
 */
import type { PolicyConfigSchema } from "@pulumi/policy";
import { keyRulesFromPolicyConfig } from "../core/keys";
import { valueProblem } from "./jsonSchema";
import { didYouMean, shown, words } from "./messages";
import {
    AS_OF_PATTERN,
    KEY_ALGORITHM,
    KEY_MAX_AGE,
    KEY_PASSPHRASE,
    LAMBDA_RUNTIME,
    PACK_RULES,
    RuleConfig,
} from "./ruleConfig";

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
    if (typeof config !== "object" || Array.isArray(config))
        throw new PolicyConfigError(["policy config: must be a JSON object keyed by rule name"]);
    const problems: string[] = [];
    const out: PackConfig = { rules: {} };
    for (const [name, value] of Object.entries(config as Record<string, unknown>)) {
        const rule = rules.find((r) => r.name === name);
        if (!rule && name !== ALL) {
            problems.push(unknownRuleProblem(name, rules));
            continue;
        }
        const entry = readEntry(name, value, problems);
        if (!entry) continue;
        if (name === ALL) {
            problems.push(...allFieldProblems(Object.keys(entry.props), rules));
            if (entry.level !== undefined) out.all = entry.level;
            continue;
        }
        problems.push(...sectionProblems(name, schemaOf(rule!), entry.props, rules));
        out.rules[name] = {
            ...(entry.level !== undefined ? { enforcementLevel: entry.level } : {}),
            properties: entry.props,
        };
    }
    if (problems.length > 0) throw new PolicyConfigError(problems);
    return out;
}

/**
 * One entry of a config: its enforcement level (a string entry, or the object's enforcementLevel)
 * and its fields. A bad level is a problem (and no level); an entry of another shape is a problem
 * and undefined.
 */
function readEntry(
    name: string,
    value: unknown,
    problems: string[],
): { level?: EnforcementLevel; props: Record<string, unknown> } | undefined {
    let level: unknown;
    let props: Record<string, unknown> = {};
    if (typeof value === "string") level = value;
    else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        ({ enforcementLevel: level, ...props } = value as Record<string, unknown>);
    } else {
        problems.push(
            `policy config: '${name}' must be an enforcement level (${words(ENFORCEMENT_LEVELS)}) or an object of its fields; got ${shown(value)}`,
        );
        return undefined;
    }
    if (level !== undefined && !ENFORCEMENT_LEVELS.includes(level as EnforcementLevel)) {
        problems.push(
            `policy config: '${typeof value === "string" ? name : `${name}.enforcementLevel`}' must be ${words(ENFORCEMENT_LEVELS)}; got ${shown(level)}`,
        );
        level = undefined;
    }
    return { level: level as EnforcementLevel | undefined, props };
}

/** `all` sets only enforcementLevel: each other field of it is a problem, naming the rule it belongs to. */
function allFieldProblems(fields: string[], rules: readonly RuleShape[]): string[] {
    const names = rules.map((r) => r.name);
    return fields.map((k) => {
        const owners = rules.filter((r) => k in schemaOf(r).properties).map((r) => r.name);
        return (
            `policy config: '${ALL}' sets only enforcementLevel (of every rule); '${ALL}.${k}' ` +
            (owners.length
                ? `belongs in the rule it configures: ${owners.map((o) => `"${o}": { "${k}": ... }`).join(" or ")}`
                : `is not a field of any rule (rules: ${names.join(", ")})`)
        );
    });
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
export function sectionProblems(
    rule: string,
    schema: PolicyConfigSchema,
    props: Record<string, unknown>,
    rules: readonly RuleShape[] = PACK_RULES,
): string[] {
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
    for (const field of schema.required ?? [])
        if (!(field in props)) problems.push(`policy config: '${rule}.${field}' is required`);
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
    return Number.isNaN(new Date(value).getTime())
        ? `policy config: '${rule}.asOf' must be an ISO 8601 date (2026-01-31); got ${shown(value)}`
        : undefined;
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
    const owners = close
        ? []
        : rules.filter((r) => r.name !== rule && field in schemaOf(r).properties).map((r) => r.name);
    const hint = close || (owners.length ? `; it is a field of ${owners.join(" and ")}` : "");
    return `policy config: '${rule}.${field}' is not a field of ${rule}${hint} (fields: enforcementLevel, ${fields.join(", ")})`;
}
