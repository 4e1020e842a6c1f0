/**
 * The key rules of the policy pack: one set of functions that the components, the policy pack,
 * the Lambda and `pka check-key` all judge keys with, so a key is judged the same way
 * everywhere. The defaults, the checking of configured rules (a policy pack config, a
 * component's `keyRules`) and the judging of a key or of a key described by type and size.
 */
import {
    EC2_IMPORT_RSA_BITS,
    EC2_IMPORT_RSA_BITS_ALLOWED,
    KNOWN_CURVES,
    KNOWN_KEY_TYPES,
    KeyInfo,
    KeyRules,
    MAX_RSA_BITS,
    RSA_FLOOR_BITS,
    SECURITY_KEY_TYPES,
    EC_BITS,
} from "./types";

export const DEFAULT_KEY_RULES: KeyRules = Object.freeze({
    allowedTypes: Object.freeze([...KNOWN_KEY_TYPES]) as unknown as string[],
    minRsaBits: 3072,
    allowedCurves: Object.freeze([...KNOWN_CURVES]) as unknown as string[],
    ec2ImportRsaBits: 4096,
    requirePassphrase: true,
}) as KeyRules;

/** Where a key is judged: imported into EC2, a service account's, and the label its refusals start with. */
export interface KeyJudgeContext {
    ec2Import?: boolean;
    /** A non-interactive service account's key: it may lack a passphrase, and it cannot be a security key. */
    service?: boolean;
    /** Leave the passphrase to another rule (the policy pack's ssh-key-passphrase, with its own service accounts). */
    noPassphraseRule?: boolean;
    label?: string;
}

// ---------------------------------------------------------------------------------------------
// Names

const TYPE_NAMES: Record<string, string> = {
    "ssh-ed25519": "ed25519",
    "ssh-rsa": "rsa",
    "ssh-dss": "dsa",
    dss: "dsa",
    "sk-ssh-ed25519@openssh.com": "sk-ed25519",
    // ssh-keygen -t name
    "ed25519-sk": "sk-ed25519",
};

/** Why a service account's key cannot be a security key. */
const SK_SERVICE =
    "a security key needs a person to touch the authenticator at each login, which a non-interactive service account cannot do";

function normalizeType(t: string): { type: string; curve?: string } {
    const lower = String(t).trim().toLowerCase();
    if (TYPE_NAMES[lower]) return { type: TYPE_NAMES[lower] };
    const ec = /^(sk-)?ecdsa-sha2-(nistp\d+)/.exec(lower);
    if (ec) return { type: ec[1] ? "sk-ecdsa" : "ecdsa", curve: ec[2] };
    // A security key's ecdsa is always P-256 (OpenSSH has no other sk-ecdsa type); ecdsa-sk is ssh-keygen -t's name.
    if (lower === "sk-ecdsa" || lower === "ecdsa-sk") return { type: "sk-ecdsa", curve: "nistp256" };
    return { type: lower };
}

/** "P256", "P-256", "prime256v1", "secp256r1", "nistp256" -> "nistp256". */
export function normalizeCurve(c: string): string {
    const lower = String(c).trim().toLowerCase().replace(/[-_ ]/g, "");
    const m = /^(?:nistp|p|secp|prime)(\d+)(?:r1|v1)?$/.exec(lower);
    return m ? `nistp${m[1]}` : lower;
}

/** Why a type or curve is never allowed, whatever the rules say. */
const NEVER: Record<string, string> = {
    dsa: "DSA is limited to 1024 bits and was removed from OpenSSH 10.0",
    rsa1: "SSH protocol 1 keys are insecure and no longer supported by OpenSSH",
    nistp224: "P-224 gives less than 128-bit security and OpenSSH does not support it",
};

/** @internal "a, b or c". */
export function words(list: readonly string[]): string {
    return list.length <= 1 ? list.join("") : `${list.slice(0, -1).join(", ")} or ${list[list.length - 1]}`;
}

// ---------------------------------------------------------------------------------------------
// Configured rules

/**
 * The rules in force. Whatever the caller passed, nothing outside KNOWN_KEY_TYPES/KNOWN_CURVES is
 * allowed and RSA never goes below RSA_FLOOR_BITS: checkKeyRules refuses such rules where they are
 * configured, and this keeps judging safe for rules that never went through it.
 */
function mergeRules(rules?: Partial<KeyRules>): KeyRules {
    const r: KeyRules = { ...DEFAULT_KEY_RULES };
    for (const [k, v] of Object.entries(rules ?? {})) {
        if (v !== undefined) (r as unknown as Record<string, unknown>)[k] = v;
    }
    r.allowedTypes = r.allowedTypes.map((t) => normalizeType(t).type).filter((t) => KNOWN_KEY_TYPES.includes(t));
    r.allowedCurves = r.allowedCurves.map(normalizeCurve).filter((c) => KNOWN_CURVES.includes(c));
    r.minRsaBits = Number.isFinite(r.minRsaBits)
        ? Math.max(r.minRsaBits, RSA_FLOOR_BITS)
        : DEFAULT_KEY_RULES.minRsaBits;
    return r;
}

type FieldName = (field: keyof KeyRules) => string;

/** A configured list of types or curves, each normalized and known. */
function checkList(
    v: unknown,
    k: "allowedTypes" | "allowedCurves",
    known: readonly string[],
    norm: (v: string) => string,
    what: string,
    name: FieldName,
): string[] | undefined {
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
        throw new Error(`${name(k)} must be an array of strings; accepted: any of ${known.join(", ")}`);
    }
    return v.map((x: string) => {
        const n = norm(x);
        if (known.includes(n)) return n;
        const shown = JSON.stringify(String(x).slice(0, 40));
        const why = NEVER[n] ? `, which is never allowed (${NEVER[n]})` : `, which is not ${what} the rules know`;
        throw new Error(`${name(k)} lists ${shown}${why}; accepted: any of ${known.join(", ")}`);
    });
}

function checkMinRsaBits(v: unknown, name: FieldName): number | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !Number.isInteger(v) || v < RSA_FLOOR_BITS || v > MAX_RSA_BITS) {
        throw new Error(
            `${name("minRsaBits")} must be an integer between ${RSA_FLOOR_BITS} and ${MAX_RSA_BITS} (RSA-${RSA_FLOOR_BITS} is the weakest NIST accepts through 2030); got ${JSON.stringify(v)}`,
        );
    }
    return v;
}

function checkEc2ImportRsaBits(v: unknown, name: FieldName): number | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !EC2_IMPORT_RSA_BITS_ALLOWED.includes(v)) {
        throw new Error(
            `${name("ec2ImportRsaBits")} must be ${words(EC2_IMPORT_RSA_BITS_ALLOWED.map(String))}: the RSA sizes EC2 imports (${EC2_IMPORT_RSA_BITS.join(", ")}) at or above the ${RSA_FLOOR_BITS}-bit floor; got ${JSON.stringify(v)}`,
        );
    }
    return v;
}

/**
 * Checks configured key rules (a policy pack config, a component's `keyRules`) and returns them
 * normalized. A config may tighten the rules, never re-allow what is never allowed: dsa, rsa1,
 * unknown types, ecdsa P-224 or unknown curves, RSA below RSA_FLOOR_BITS, an EC2 import size
 * EC2 does not take or below the floor. `name(field)` says how the caller's user wrote the field
 * (e.g. "policy config: 'ssh-key-algorithm.minRsaBits'"); every error starts with it.
 */
export function checkKeyRules(rules: Partial<KeyRules>, name: FieldName): Partial<KeyRules> {
    const out: Partial<KeyRules> = {};
    const typeOf = (t: string) => normalizeType(t).type;
    const types = checkList(rules.allowedTypes, "allowedTypes", KNOWN_KEY_TYPES, typeOf, "a key type", name);
    if (types) out.allowedTypes = types;
    const curves = checkList(
        rules.allowedCurves,
        "allowedCurves",
        KNOWN_CURVES,
        normalizeCurve,
        "an ecdsa curve",
        name,
    );
    if (curves) out.allowedCurves = curves;
    const minRsa = checkMinRsaBits(rules.minRsaBits, name);
    if (minRsa !== undefined) out.minRsaBits = minRsa;
    const ec2 = checkEc2ImportRsaBits(rules.ec2ImportRsaBits, name);
    if (ec2 !== undefined) out.ec2ImportRsaBits = ec2;
    const pass = rules.requirePassphrase as unknown;
    if (pass !== undefined) {
        if (typeof pass !== "boolean") throw new Error(`${name("requirePassphrase")} must be true or false`);
        out.requirePassphrase = pass;
    }
    return out;
}

/**
 * The key rules from a policy pack config (`pulumi preview --policy-pack-config cfg.json`):
 * `{ "ssh-key-algorithm": { allowedTypes, minRsaBits, allowedCurves, ec2ImportRsaBits },
 *    "ssh-key-passphrase": { requirePassphrase } }`. Other keys (enforcementLevel, other rules)
 * are ignored. Throws an Error naming the field and what it accepts on a bad value, including one
 * that would re-allow what is never allowed (see checkKeyRules).
 */
export function keyRulesFromPolicyConfig(config: unknown): Partial<KeyRules> {
    if (config === undefined || config === null) return {};
    if (typeof config !== "object" || Array.isArray(config)) {
        throw new Error("policy config: must be a JSON object keyed by rule name");
    }
    const c = config as Record<string, unknown>;
    const section = (name: string): Record<string, unknown> => {
        const v = c[name];
        if (v === undefined || typeof v === "string") return {}; // "mandatory"/"advisory"/"disabled" short form
        if (typeof v !== "object" || v === null || Array.isArray(v))
            throw new Error(`policy config: '${name}' must be an object`);
        return v as Record<string, unknown>;
    };
    const alg = section("ssh-key-algorithm");
    const pass = section("ssh-key-passphrase");
    // Other keys in a section (enforcementLevel, ...) are the pack's business, not the rules'.
    const picked: Record<string, unknown> = {
        allowedTypes: alg.allowedTypes,
        allowedCurves: alg.allowedCurves,
        minRsaBits: alg.minRsaBits,
        ec2ImportRsaBits: alg.ec2ImportRsaBits,
        requirePassphrase: pass.requirePassphrase,
    };
    const rule = (k: keyof KeyRules) => (k === "requirePassphrase" ? "ssh-key-passphrase" : "ssh-key-algorithm");
    return checkKeyRules(picked as Partial<KeyRules>, (k) => `policy config: '${rule(k)}.${k}'`);
}

// ---------------------------------------------------------------------------------------------
// Judging keys

/**
 * The RSA sizes a key imported into EC2 may have: sizes EC2 imports, at or above both the floor and
 * `ec2ImportRsaBits` (a minimum: 4096 allows 4096 only, 2048 allows 2048 and 4096).
 */
function ec2RsaSizes(r: KeyRules): number[] {
    return EC2_IMPORT_RSA_BITS.filter((b) => b >= RSA_FLOOR_BITS && b >= r.ec2ImportRsaBits);
}

function ec2RsaSizesInWords(r: KeyRules): string {
    const sizes = ec2RsaSizes(r);
    return sizes.length === 1 ? `exactly ${sizes[0]}` : sizes.join(" or ");
}

/** What the rules accept, in words: used in every refusal. */
export function describeAccepted(
    rules?: Partial<KeyRules>,
    ctx: { ec2Import?: boolean; service?: boolean } = {},
): string {
    const r = mergeRules(rules);
    const parts: string[] = [];
    const sk: string[] = [];
    for (const t of r.allowedTypes) {
        if (ctx.ec2Import && t !== "rsa" && t !== "ed25519") continue;
        if (ctx.service && SECURITY_KEY_TYPES.includes(t)) continue;
        if (t === "sk-ecdsa" && !r.allowedCurves.includes("nistp256")) continue;
        if (t === "rsa")
            parts.push(ctx.ec2Import ? `rsa of ${ec2RsaSizesInWords(r)} bits` : `rsa of at least ${r.minRsaBits} bits`);
        else if (t === "ecdsa") parts.push(`ecdsa (${r.allowedCurves.join(", ")})`);
        else if (SECURITY_KEY_TYPES.includes(t)) sk.push(t);
        else parts.push(t);
    }
    if (sk.length) parts.push(`a security key (${sk.join(", ")})`);
    if (parts.length === 0) return "no key type (the rules allow none)";
    return parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(", ")} or ${parts[parts.length - 1]}`;
}

/** The refusal of an RSA size, if any. */
function rsaViolation(
    bits: number | undefined,
    r: KeyRules,
    ctx: KeyJudgeContext,
    label: string,
    accepted: string,
): string | undefined {
    if (bits === undefined || !Number.isFinite(bits)) return `${label}: the RSA key size is not given; ${accepted}.`;
    if (ctx.ec2Import) {
        if (ec2RsaSizes(r).includes(bits)) return undefined;
        return `${label}: rsa-${bits} is not allowed for EC2 import, which takes rsa 1024/2048/4096 and ed25519; our rule needs rsa of ${ec2RsaSizesInWords(r)} bits (or ed25519).`;
    }
    if (bits < r.minRsaBits) {
        return `${label}: rsa-${bits} is too small (the rules require at least ${r.minRsaBits} bits); ${accepted}.`;
    }
    return undefined;
}

/** The refusal of an ecdsa curve, if any. */
function ecdsaViolation(curve: string | undefined, r: KeyRules, label: string, accepted: string): string | undefined {
    if (!curve) return `${label}: the ecdsa curve is not given; ${accepted}.`;
    if (r.allowedCurves.includes(curve)) return undefined;
    return `${label}: ecdsa curve ${curve} is not allowed${NEVER[curve] ? ` (${NEVER[curve]})` : ""}; ${accepted}.`;
}

/**
 * The same rules for a key described only by algorithm and size: tls.PrivateKey, keygen
 * options, an aws.ec2.KeyPair before its key exists. Returns violation messages ([] = allowed).
 */
export function judgeKeySpec(
    spec: { type: string; bits?: number; curve?: string },
    rules?: Partial<KeyRules>,
    ctx: KeyJudgeContext = {},
): string[] {
    const r = mergeRules(rules);
    const label = ctx.label ?? "key";
    const norm = normalizeType(spec.type);
    const type = norm.type;
    // An ecdsa key described only by its size (256/384/521) names its curve that way.
    const curve =
        spec.curve !== undefined
            ? normalizeCurve(spec.curve)
            : (norm.curve ?? (type === "ecdsa" && spec.bits ? EC_BITS[spec.bits] : undefined));
    const accepted = `expected ${describeAccepted(r, ctx)}`;
    const size = type === "rsa" && spec.bits ? `-${spec.bits}` : type === "ecdsa" && curve ? ` ${curve}` : "";
    if (ctx.service && SECURITY_KEY_TYPES.includes(type)) {
        return [`${label}: a service account's key cannot be a security key (${type}): ${SK_SERVICE}; ${accepted}.`];
    }
    if (!r.allowedTypes.includes(type)) {
        // A type the rules could allow but whose allowedTypes leave out: say which setting refuses it.
        const setting = KNOWN_KEY_TYPES.includes(type)
            ? ` (allowedTypes lists ${r.allowedTypes.join(", ") || "none"})`
            : "";
        return [
            `${label}: ${type}${size} keys are not allowed${NEVER[type] ? ` (${NEVER[type]})` : ""}; ${accepted}${setting}.`,
        ];
    }
    if (ctx.ec2Import && type !== "rsa" && type !== "ed25519") {
        return [`${label}: EC2 can import only rsa and ed25519 keys, not ${type}${size}; ${accepted}.`];
    }
    const violation =
        type === "rsa"
            ? rsaViolation(spec.bits, r, ctx, label, accepted)
            : type === "ecdsa" || type === "sk-ecdsa"
              ? ecdsaViolation(curve, r, label, accepted)
              : undefined;
    return violation === undefined ? [] : [violation];
}

/**
 * Judge a parsed key by the rules. ctx.ec2Import: the key is imported into EC2 (rsa of exactly
 * ec2ImportRsaBits or ed25519). ctx.service: a non-interactive service account's key, which
 * may be stored without a passphrase and cannot be a security key (sk-). Returns violation
 * messages ([] = allowed).
 */
export function judgeKey(info: KeyInfo, rules?: Partial<KeyRules>, ctx: KeyJudgeContext = {}): string[] {
    const r = mergeRules(rules);
    const label = ctx.label ?? "key";
    const out = judgeKeySpec({ type: info.type, bits: info.bits, curve: info.curve }, r, ctx);
    if (info.isPrivate && !info.encrypted && r.requirePassphrase && !ctx.service && !ctx.noPassphraseRule) {
        out.push(
            `${label}: this private key has no passphrase; a person's private key must be passphrase-protected (ssh-keygen -p -f KEY), only a non-interactive service account's key may be stored without one.`,
        );
    }
    return out;
}
