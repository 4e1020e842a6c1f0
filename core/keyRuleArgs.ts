/**
 * The `keyRules` argument of PkaFleet and the Provisioner: the policy pack's key rules as a
 * component takes them, checked like a policy pack config.
 */
import { checkKeyRules, KeyRules } from "./keys";

/**
 * Key rules (PkaFleet's and the Provisioner's `keyRules`): the fields of the policy pack's
 * `ssh-key-algorithm` and `ssh-key-passphrase` rules, so a fleet can match a policy config exactly.
 * They can tighten the defaults, never re-allow dsa, rsa1, ecdsa P-224 or RSA below 2048.
 */
export interface FleetKeyRules {
    /** Allowed key types, any of `ed25519`, `ecdsa`, `rsa`. Default `["ed25519", "ecdsa", "rsa"]`. */
    readonly allowedTypes?: string[];
    /** Smallest RSA key in bits, 2048 to 16384. Default `3072`. */
    readonly minRsaBits?: number;
    /** Allowed ecdsa curves, any of `nistp256`, `nistp384`, `nistp521`. Default all three. */
    readonly allowedCurves?: string[];
    /** RSA size of a generated key registered in EC2 (`ec2KeyName`): `2048` or `4096`. Default `4096`. */
    readonly ec2ImportRsaBits?: number;
    /** A person's generated key (a user without `service: true`) needs a passphrase. Default `true`. */
    readonly requirePassphrase?: boolean;
}

/** A `keyRules` argument that is not a valid set of key rules. */
export class KeyRuleArgsError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "KeyRuleArgsError";
    }
}

const KEY_RULE_FIELDS: readonly (keyof KeyRules)[] = [
    "allowedTypes",
    "minRsaBits",
    "allowedCurves",
    "ec2ImportRsaBits",
    "requirePassphrase",
];

/**
 * Checks a component's `keyRules` like a policy pack config (core/keys.ts checkKeyRules) and returns
 * them normalized. Throws a KeyRuleArgsError whose message names `keyRules.<field>` and what it accepts.
 */
export function checkKeyRuleArgs(rules: unknown): Partial<KeyRules> {
    if (rules === undefined) return {};
    if (!rules || typeof rules !== "object" || Array.isArray(rules)) {
        throw new KeyRuleArgsError(`\`keyRules\` must be an object { ${KEY_RULE_FIELDS.join(", ")} }.`);
    }
    const given = rules as Record<string, unknown>;
    for (const k of Object.keys(given)) {
        if (given[k] !== undefined && !(KEY_RULE_FIELDS as string[]).includes(k)) {
            throw new KeyRuleArgsError(
                `\`keyRules.${k}\` is not a key rule; the rules are ${KEY_RULE_FIELDS.join(", ")}.`,
            );
        }
    }
    let out: Partial<KeyRules>;
    try {
        // The same check as a policy pack config: what is never allowed stays refused.
        out = checkKeyRules(given as Partial<KeyRules>, (k) => `\`keyRules.${k}\``);
    } catch (e) {
        throw new KeyRuleArgsError(`${(e as Error).message}.`);
    }
    for (const k of ["allowedTypes", "allowedCurves"] as const) {
        if (out[k]?.length === 0) {
            throw new KeyRuleArgsError(`\`keyRules.${k}\` must not be empty: leave it out for the default.`);
        }
    }
    return out;
}
