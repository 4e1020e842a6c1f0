/**
 * A small EventBridge event-pattern matcher, faithful to the documented semantics
 * (EventBridge User Guide, "Content filtering in Amazon EventBridge event patterns" and
 * "Comparison operators for use in event patterns"). The local fleet's event bus and the
 * tests use it to prove that the patterns the Provisioner deploys match what we expect.
 *
 * Why our own: the npm matchers we looked at mishandle `prefix` on hyphenated keys such as
 * `detail-type` and `anything-but: { prefix }`; test/eventPattern.test.ts holds the cases.
 *
 * Semantics implemented:
 * - keys are ANDed; a pattern object mirrors the event's nesting; `$or: [p1, p2, ...]` ORs sub-patterns;
 * - a leaf is an ARRAY of matchers, ORed; a matcher is a literal (string, number, boolean, null:
 *   exact match, numbers compared numerically) or an object with one operator:
 *   prefix, suffix (both also with { "equals-ignore-case": s }), equals-ignore-case, wildcard,
 *   anything-but (value | [values] | { prefix } | { suffix } | { equals-ignore-case } | { wildcard }),
 *   numeric ([op, n, op, n]), exists (true | false), cidr (IPv4);
 * - when the event value is an array, the leaf matches if ANY element matches;
 * - a field missing from the event matches only `{ "exists": false }`.
 * An invalid pattern (a leaf that is not an array, an unknown operator) throws EventPatternError,
 * like PutRule would reject it, instead of silently matching nothing.
 */

export class EventPatternError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "EventPatternError";
    }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isPlainObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** True when `event` matches `pattern` under EventBridge semantics. Throws EventPatternError on an invalid pattern. */
export function matchesPattern(pattern: object, event: object): boolean {
    if (!isPlainObject(pattern)) throw new EventPatternError("an event pattern must be a JSON object");
    return matchObject(pattern, event as Record<string, unknown>, "");
}

function matchObject(pattern: Record<string, unknown>, event: unknown, path: string): boolean {
    for (const [key, sub] of Object.entries(pattern)) {
        const where = path ? `${path}.${key}` : key;
        if (key === "$or") {
            if (!Array.isArray(sub) || sub.length < 2 || !sub.every(isPlainObject)) {
                throw new EventPatternError(`${where}: $or needs an array of at least two pattern objects`);
            }
            if (!sub.some((p) => matchObject(p as Record<string, unknown>, event, path))) return false;
            continue;
        }
        const value = isPlainObject(event) ? event[key] : undefined;
        if (Array.isArray(sub)) {
            if (!matchLeaf(sub, value, where)) return false;
        } else if (isPlainObject(sub)) {
            // Nested pattern: the event field must be an object, or an array of objects of which one matches.
            const candidates = Array.isArray(value) ? value.filter(isPlainObject) : isPlainObject(value) ? [value] : [];
            if (candidates.length === 0) {
                // A nested pattern can still be satisfied by a missing object when all its leaves say exists:false.
                if (!matchObject(sub, {}, where)) return false;
            } else if (!candidates.some((c) => matchObject(sub, c, where))) return false;
        } else {
            throw new EventPatternError(
                `${where}: a pattern value must be an array of matchers or a nested object, got ${JSON.stringify(sub)}`,
            );
        }
    }
    return true;
}

function isLeafValue(v: unknown): boolean {
    return v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean";
}

function matchLeaf(matchers: unknown[], value: unknown, where: string): boolean {
    if (matchers.length === 0)
        throw new EventPatternError(`${where}: an empty matcher array matches nothing; EventBridge rejects it`);
    // Validate every matcher up front so that an invalid pattern fails even when an earlier matcher matches.
    for (const m of matchers) validateMatcher(m, where);
    const present = value !== undefined;
    const leaves: unknown[] = Array.isArray(value) ? value.filter(isLeafValue) : isLeafValue(value) ? [value] : [];
    return matchers.some((m) => {
        if (isPlainObject(m) && "exists" in m) {
            const hasLeaf = present && leaves.length > 0;
            return m.exists === true ? hasLeaf : !present;
        }
        return leaves.some((v) => matchOne(m, v as Json, where));
    });
}

const OPERATORS = new Set([
    "prefix",
    "suffix",
    "equals-ignore-case",
    "wildcard",
    "anything-but",
    "numeric",
    "exists",
    "cidr",
]);

function validateMatcher(m: unknown, where: string): void {
    if (isLeafValue(m)) return;
    if (!isPlainObject(m)) throw new EventPatternError(`${where}: invalid matcher ${JSON.stringify(m)}`);
    const keys = Object.keys(m);
    if (keys.length !== 1 || !OPERATORS.has(keys[0])) {
        throw new EventPatternError(
            `${where}: a matcher object needs exactly one of ${[...OPERATORS].join(", ")}; got ${JSON.stringify(m)}`,
        );
    }
    const op = keys[0];
    const arg = m[op];
    switch (op) {
        case "exists":
            if (typeof arg !== "boolean") throw new EventPatternError(`${where}: exists takes true or false`);
            return;
        case "numeric":
            parseNumeric(arg, where);
            return;
        case "prefix":
        case "suffix":
            if (typeof arg === "string") return;
            if (isPlainObject(arg) && Object.keys(arg).length === 1 && typeof arg["equals-ignore-case"] === "string")
                return;
            throw new EventPatternError(`${where}: ${op} takes a string or { "equals-ignore-case": string }`);
        case "equals-ignore-case":
        case "wildcard":
        case "cidr":
            if (typeof arg !== "string") throw new EventPatternError(`${where}: ${op} takes a string`);
            if (op === "cidr") parseCidr(arg, where);
            return;
        case "anything-but":
            if (isLeafValue(arg) && arg !== null && typeof arg !== "boolean") return;
            if (
                Array.isArray(arg) &&
                arg.length > 0 &&
                arg.every((a) => typeof a === "string" || typeof a === "number")
            )
                return;
            if (isPlainObject(arg) && Object.keys(arg).length === 1) {
                const [inner] = Object.keys(arg);
                const v = arg[inner];
                if ((inner === "prefix" || inner === "suffix") && typeof v === "string") return;
                if (
                    (inner === "equals-ignore-case" || inner === "wildcard") &&
                    (typeof v === "string" ||
                        (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string")))
                )
                    return;
            }
            throw new EventPatternError(`${where}: invalid anything-but ${JSON.stringify(arg)}`);
    }
}

function matchOne(m: unknown, v: Json, where: string): boolean {
    if (!isPlainObject(m)) {
        // Literal: exact match; numbers compare by value (300 equals 3.0e2), never string against number.
        return typeof m === typeof v && (typeof m === "number" ? m === v : m === v);
    }
    const [op] = Object.keys(m);
    const arg = m[op] as Json;
    switch (op) {
        case "prefix":
        case "suffix": {
            if (typeof v !== "string") return false;
            const ignoreCase = isPlainObject(arg);
            const needle = ignoreCase ? String((arg as Record<string, Json>)["equals-ignore-case"]) : String(arg);
            const hay = ignoreCase ? v.toLowerCase() : v;
            const n = ignoreCase ? needle.toLowerCase() : needle;
            return op === "prefix" ? hay.startsWith(n) : hay.endsWith(n);
        }
        case "equals-ignore-case":
            return typeof v === "string" && v.toLowerCase() === String(arg).toLowerCase();
        case "wildcard":
            return typeof v === "string" && wildcardRegExp(String(arg)).test(v);
        case "numeric":
            return typeof v === "number" && parseNumeric(arg, where).every(([o, n]) => compare(v, o, n));
        case "cidr":
            return typeof v === "string" && inCidr(v, String(arg), where);
        case "anything-but":
            return anythingBut(arg, v);
    }
    return false;
}

function anythingBut(arg: Json, v: Json): boolean {
    if (isPlainObject(arg)) {
        const [inner] = Object.keys(arg);
        const x = (arg as Record<string, Json>)[inner];
        if (typeof v !== "string") return false;
        const list = (Array.isArray(x) ? x : [x]).map(String);
        switch (inner) {
            case "prefix":
                return !v.startsWith(list[0]);
            case "suffix":
                return !v.endsWith(list[0]);
            case "equals-ignore-case":
                return !list.some((s) => s.toLowerCase() === v.toLowerCase());
            case "wildcard":
                return !list.some((s) => wildcardRegExp(s).test(v));
        }
        return false;
    }
    const excluded = Array.isArray(arg) ? arg : [arg];
    return !excluded.some((e) => typeof e === typeof v && e === v);
}

type NumOp = "<" | "<=" | "=" | ">" | ">=";

function parseNumeric(arg: unknown, where: string): [NumOp, number][] {
    if (!Array.isArray(arg) || (arg.length !== 2 && arg.length !== 4)) {
        throw new EventPatternError(`${where}: numeric takes [op, n] or [op, n, op, n]`);
    }
    const out: [NumOp, number][] = [];
    for (let i = 0; i < arg.length; i += 2) {
        const op = arg[i];
        const n = arg[i + 1];
        if (!["<", "<=", "=", ">", ">="].includes(op) || typeof n !== "number") {
            throw new EventPatternError(`${where}: invalid numeric comparison ${JSON.stringify(arg)}`);
        }
        out.push([op as NumOp, n]);
    }
    return out;
}

function compare(v: number, op: NumOp, n: number): boolean {
    switch (op) {
        case "<":
            return v < n;
        case "<=":
            return v <= n;
        case "=":
            return v === n;
        case ">":
            return v > n;
        case ">=":
            return v >= n;
    }
}

function wildcardRegExp(w: string): RegExp {
    // `*` matches any run of characters; `\*` is a literal star and `\\` a literal backslash.
    let re = "";
    for (let i = 0; i < w.length; i++) {
        const c = w[i];
        if (c === "\\" && (w[i + 1] === "*" || w[i + 1] === "\\")) {
            re += "\\" + w[++i];
        } else if (c === "*") {
            re += "[\\s\\S]*";
        } else {
            re += c.replace(/[.+?^${}()|[\]\\/-]/g, "\\$&");
        }
    }
    return new RegExp(`^${re}$`);
}

function ipv4ToInt(ip: string): number | undefined {
    const parts = ip.split(".");
    if (parts.length !== 4) return undefined;
    let n = 0;
    for (const p of parts) {
        if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
        n = n * 256 + Number(p);
    }
    return n;
}

function parseCidr(cidr: string, where: string): [number, number] {
    const [ip, bits] = cidr.split("/");
    const base = ipv4ToInt(ip);
    const len = Number(bits);
    if (base === undefined || !/^\d{1,2}$/.test(bits ?? "") || len > 32) {
        throw new EventPatternError(`${where}: cidr supports IPv4 a.b.c.d/n here; got ${cidr}`);
    }
    return [base, len];
}

function inCidr(v: string, cidr: string, where: string): boolean {
    const [base, len] = parseCidr(cidr, where);
    const ip = ipv4ToInt(v);
    if (ip === undefined) return false;
    const size = 2 ** (32 - len);
    return Math.floor(ip / size) === Math.floor(base / size);
}
