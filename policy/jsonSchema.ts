/** The subset of JSON Schema the rules' config schemas use, and the check of a value against it. */
import type { PolicyConfigJSONSchema } from "@pulumi/policy/schema";
import { shown } from "./messages";

/** The schema keywords the rules' schemas use and the validator implements; any other is a fault in the pack. */
const SCHEMA_KEYWORDS = new Set(["type", "items", "enum", "minimum", "maximum", "pattern", "description", "default"]);

/** Why `value` does not fit `schema` (a JSON-schema subset), or undefined when it does. */
export function valueProblem(schema: PolicyConfigJSONSchema, value: unknown, where: string): string | undefined {
    for (const k of Object.keys(schema))
        if (!SCHEMA_KEYWORDS.has(k))
            throw new Error(
                `pka-fleet policy pack: the schema of '${where}' uses '${k}', which its config validator does not implement`,
            );
    const at = `policy config: '${where}'`;
    if (schema.type !== undefined) {
        const types = Array.isArray(schema.type) ? schema.type : [schema.type];
        if (!types.some((t) => hasType(value, t)))
            return `${at} must be ${types.map(typeWord).join(" or ")}; got ${shown(value)}`;
    }
    if (schema.enum !== undefined && !schema.enum.some((e) => e === value))
        return `${at} must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}; got ${shown(value)}`;
    if (typeof value === "number") {
        if (schema.minimum !== undefined && value < schema.minimum)
            return `${at} must be at least ${schema.minimum}; got ${value}`;
        if (schema.maximum !== undefined && value > schema.maximum)
            return `${at} must be at most ${schema.maximum}; got ${value}`;
    }
    if (typeof value === "string" && schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) {
        return `${at} must match ${schema.pattern}; got ${shown(value)}`;
    }
    if (
        Array.isArray(value) &&
        schema.items !== undefined &&
        typeof schema.items === "object" &&
        !Array.isArray(schema.items)
    ) {
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

const typeWord = (t: string): string =>
    ({ integer: "an integer", array: "an array", object: "an object", null: "null" })[t] ?? `a ${t}`;
