/**
 * Shared plumbing for the policy rules: how values arrive from the engine (unknowns during
 * preview, secrets unwrapped by @pulumi/policy), walking properties, naming resources in
 * messages, and decoding the text formats the rules read (JSON/YAML documents, user data).
 */
import * as zlib from "zlib";
import * as YAML from "yaml";

/**
 * The engine's markers for values not known during preview (the same strings as the Go engine's
 * `UnknownStringValue` & co. and @pulumi/policy's proxy module). A rule must treat such a value
 * as "cannot judge yet", never as text, and never crash on it.
 */
export const UNKNOWN_VALUES: ReadonlySet<string> = new Set([
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7", // boolean
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421", // number
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9", // string
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2", // array
    "030794c1-ac77-496b-92df-f27374a8bd58", // asset
    "e48ece36-62e2-4504-bad9-02848725956a", // archive
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff", // object
]);

export function isUnknown(v: unknown): boolean {
    return typeof v === "string" && UNKNOWN_VALUES.has(v);
}

/** Property-name key of @pulumi/policy's proxies that returns the proxied object. */
const PROXY_TARGET = "__getSpecialProxyTarget";

/**
 * @pulumi/policy hands rules an "unknown-checking" proxy that throws when a property holding an
 * unknown is read. The rules want to see unknowns and skip them, so they read the plain object
 * underneath. Plain objects (rules called directly) pass through unchanged.
 */
export function unwrap<T>(value: T): T {
    let v: any = value;
    for (let i = 0; i < 4 && v !== null && typeof v === "object"; i++) {
        const target = v[PROXY_TARGET];
        if (target === undefined || target === v) break;
        v = target;
    }
    return v;
}

/** A known string, or undefined (absent, unknown, or not a string). */
export function str(v: unknown): string | undefined {
    return typeof v === "string" && !isUnknown(v) ? v : undefined;
}

/** A known finite number (numbers also arrive as numeric strings from some providers). */
export function num(v: unknown): number | undefined {
    if (typeof v === "number" && Number.isFinite(v)) return v;
    if (typeof v === "string" && /^\d+$/.test(v)) return Number(v);
    return undefined;
}

export function isObject(v: unknown): v is Record<string, unknown> {
    return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** `aws:ssm/document:Document` -> `aws.ssm.Document`; `tls:index/privateKey:PrivateKey` -> `tls.PrivateKey`. */
export function shortType(type: string): string {
    if (type === "pulumi:pulumi:Stack") return "stack";
    if (type === "pulumi-nodejs:dynamic:Resource") return "dynamic resource";
    const parts = type.split(":");
    if (parts.length !== 3) return type;
    const [pkg, mod, name] = parts;
    const module = mod.split("/")[0];
    return module === "index" || module === "" ? `${pkg}.${name}` : `${pkg}.${module}.${name}`;
}

/** How a message names a resource: `aws.ssm.Document "setup"`. */
export function describe(r: { type: string; name: string }): string {
    return r.type === "pulumi:pulumi:Stack" ? `the stack "${r.name}"` : `${shortType(r.type)} "${r.name}"`;
}

/** Joins a property path for messages: ["users", 0, "keys"] -> `users[0].keys`. */
export function pathString(path: ReadonlyArray<string | number>): string {
    let out = "";
    for (const p of path) {
        if (typeof p === "number") out += `[${p}]`;
        else out += out === "" ? p : `.${p}`;
    }
    return out;
}

/**
 * Calls `visit` for every known string in `value`, depth first, with its path. Unknowns are
 * skipped; `skip(path)` can prune a subtree (used for secret values).
 */
export function walkStrings(
    value: unknown,
    visit: (path: (string | number)[], text: string) => void,
    skip?: (path: (string | number)[]) => boolean,
    path: (string | number)[] = [],
    depth = 0,
): void {
    if (depth > 64) return;
    if (skip && path.length > 0 && skip(path)) return;
    if (typeof value === "string") {
        if (!isUnknown(value)) visit(path, value);
        return;
    }
    if (Array.isArray(value)) {
        value.forEach((v, i) => walkStrings(v, visit, skip, [...path, i], depth + 1));
        return;
    }
    if (isObject(value)) {
        for (const k of Object.keys(value)) walkStrings(value[k], visit, skip, [...path, k], depth + 1);
    }
}

/** Parses a JSON or YAML document; undefined when it is neither (or not an object). */
export function parseDocument(text: string, format?: string): Record<string, unknown> | undefined {
    const tryJson = (): unknown => {
        try {
            return JSON.parse(text);
        } catch {
            return undefined;
        }
    };
    const tryYaml = (): unknown => {
        try {
            return YAML.parse(text);
        } catch {
            return undefined;
        }
    };
    const fmt = (format ?? "").toUpperCase();
    const parsed = fmt === "YAML" ? (tryYaml() ?? tryJson()) : (tryJson() ?? tryYaml());
    return isObject(parsed) ? parsed : undefined;
}

/** Parses a JSON value given either as text or already as an object (IAM policies come both ways). */
export function parseJsonish(v: unknown): unknown {
    if (typeof v === "string") {
        if (isUnknown(v)) return undefined;
        try {
            return JSON.parse(v);
        } catch {
            return undefined;
        }
    }
    return v;
}

/**
 * User data as the instance would see it: plain text, or base64 (LaunchTemplate, userDataBase64),
 * possibly gzip-compressed (cloud-init accepts that). Returns the decoded text and the original.
 */
export function decodeUserData(v: unknown, assumeBase64: boolean): string[] {
    const text = str(v);
    if (text === undefined || text === "") return [];
    const out = [text];
    const compact = text.replace(/\s+/g, "");
    if ((assumeBase64 || /^[A-Za-z0-9+/]+={0,2}$/.test(compact)) && compact.length % 4 === 0 && compact.length >= 8) {
        let buf = Buffer.from(compact, "base64");
        if (buf[0] === 0x1f && buf[1] === 0x8b) {
            try {
                buf = zlib.gunzipSync(buf);
            } catch {
                return out;
            }
        }
        const decoded = buf.toString("utf8");
        // Only believe the decoding if it produced text, not noise from a plain string that happened to be base64-shaped.
        if (decoded.length > 0 && !/[\x00-\x08\x0e-\x1f]/.test(decoded)) out.push(decoded);
    }
    return out;
}

/** IAM-style glob (`*`, `?`), case-insensitive when asked (actions are, ARNs are not). */
export function globMatch(pattern: string, value: string, caseInsensitive = false): boolean {
    const re =
        "^" +
        pattern
            .replace(/[.+^${}()|[\]\\]/g, "\\$&")
            .replace(/\*/g, ".*")
            .replace(/\?/g, ".") +
        "$";
    return new RegExp(re, caseInsensitive ? "is" : "s").test(value);
}

/** Always an array: IAM and SSM accept a single value where a list is expected. */
export function asList(v: unknown): unknown[] {
    if (v === undefined || v === null) return [];
    return Array.isArray(v) ? v : [v];
}

/** Today's date for age and deprecation rules, overridable by a rule's `asOf` config (reproducible CI). */
export function analysisDate(asOf?: string): Date {
    if (asOf) {
        const d = new Date(asOf);
        if (!Number.isNaN(d.getTime())) return d;
    }
    return new Date();
}
