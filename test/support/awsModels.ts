/**
 * AWS's own published service models (botocore's `data/<service>/<api-version>/service-2.json.gz`,
 * the same Smithy-derived JSON the AWS CLI and boto3 ship) and a validator of request inputs
 * against them, so tests check what pka-fleet sends to AWS against AWS's definition of the API
 * instead of against this repository's own fakes.
 *
 * What validateRequest checks, member by member along the operation's input shape:
 * - structure: every `required` member present (not undefined or null), no member the model does
 *   not define, a union with exactly one member set; a `document` shape takes any JSON value;
 * - string: `min`/`max` length in characters (Unicode code points, as botocore's own
 *   ParamValidator counts with Python's len(), and as Smithy's length trait counts a string),
 *   `enum`, and `pattern` (below);
 * - integer/long: whole numbers within `min`/`max` (and int32 for integer); float/double: finite
 *   numbers within `min`/`max`; boolean: a boolean;
 * - list: `min`/`max` items, each member checked; map: `min`/`max` entries, each key against the
 *   key shape and each value against the value shape;
 * - blob: a Buffer/Uint8Array/string within `min`/`max` bytes; timestamp: a Date, epoch seconds or
 *   an ISO-8601 string.
 *
 * Patterns. The model's `pattern` strings are Java regular expressions (the services validate with
 * java.util.regex), and the services apply them to the whole value (`Matcher.matches()`: AWS's
 * unanchored model patterns such as `[\.\-_A-Za-z0-9]+` only bound a value that way; a whole-value
 * match is also the stricter of the two readings, so a value that passes here passes a find()
 * reading too). They are evaluated here with JavaScript's RegExp, the `u` flag, as `^(?:p)$`. A
 * pattern JavaScript cannot compile is reported as a problem, never skipped. Every (pattern, value)
 * pair checked is passed to `onPattern`, so a test can re-run the pairs in Java
 * (test/support/regexEngines.ts javaMatches) and confirm the JavaScript verdicts.
 *
 * A problem reads `<Operation> <member path>: <what>`, e.g.
 * `PutTargets Targets[0].Id: length 65 > max 64`. Limits AWS documents but the model does not
 * carry (DOCUMENTED_LIMITS below: SQS QueueName, EC2 KeyName, Lambda Timeout, ...) are checked too
 * unless `modelOnly`; those problems end in `[documented: <where AWS says so>]`.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { patience } from "./patience";

export interface BotocoreInfo {
    /** botocore's package directory (its `data/` holds the models). */
    dir: string;
    /** botocore's `__version__` (from its `__init__.py`). */
    version: string;
}

/** Services by the name a caller may know them by (endpoint prefix, marketing name) -> botocore's directory. */
export const SERVICE_ALIASES: Readonly<Record<string, string>> = Object.freeze({
    monitoring: "cloudwatch",
    eventbridge: "events",
    cloudwatchlogs: "logs",
});

function whichPython(): string {
    try {
        return execFileSync("sh", ["-c", "command -v python3"], { encoding: "utf8" }).trim();
    } catch {
        return "not on PATH";
    }
}

let info: BotocoreInfo | undefined;
let infoError: string | undefined;

/** Where botocore is (python3 -c "import botocore"), and its version. Throws with the reason when python3 or botocore is missing. */
export function botocoreInfo(): BotocoreInfo {
    if (info) return info;
    if (infoError) throw new Error(infoError);
    let dir: string;
    try {
        dir = execFileSync("python3", ["-c", "import botocore,os;print(os.path.dirname(botocore.__file__))"], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
            timeout: patience(30_000),
        }).trim();
    } catch (e) {
        const err = e as { stderr?: string; message: string };
        infoError = `python3 (${whichPython()}) cannot import botocore (pip install botocore; Debian's awscli 2 vendors its own copy, which does not count): ${String(
            err.stderr || err.message,
        )
            .trim()
            .split("\n")
            .pop()}`;
        throw new Error(infoError);
    }
    const init = fs.readFileSync(path.join(dir, "__init__.py"), "utf8");
    const m = /^__version__\s*=\s*['"]([^'"]+)['"]/m.exec(init);
    if (!m) {
        infoError = `no __version__ in ${path.join(dir, "__init__.py")}`;
        throw new Error(infoError);
    }
    info = { dir, version: m[1] };
    return info;
}

/** Why botocore's models cannot be used here, or undefined when they can. */
export function botocoreProblem(): string | undefined {
    try {
        botocoreInfo();
        return undefined;
    } catch (e) {
        return (e as Error).message;
    }
}

// ---------------------------------------------------------------------------------------------
// The model's JSON (only what validation reads).

export interface Shape {
    type:
        | "structure"
        | "string"
        | "integer"
        | "long"
        | "float"
        | "double"
        | "boolean"
        | "list"
        | "map"
        | "blob"
        | "timestamp";
    members?: Record<string, { shape: string; location?: string; locationName?: string }>;
    required?: string[];
    union?: boolean;
    document?: boolean;
    member?: { shape: string };
    key?: { shape: string };
    value?: { shape: string };
    min?: number;
    max?: number;
    pattern?: string;
    enum?: string[];
}

export interface ServiceModel {
    /** botocore's service directory name (`events`, `cloudwatch`). */
    service: string;
    apiVersion: string;
    file: string;
    metadata: {
        protocol: string;
        serviceId?: string;
        endpointPrefix?: string;
        apiVersion?: string;
        [k: string]: unknown;
    };
    operations: Record<string, { name: string; input?: { shape: string }; [k: string]: unknown }>;
    shapes: Record<string, Shape>;
}

const models = new Map<string, ServiceModel>();

/** botocore's model of `service` (a botocore name or an alias), the newest api-version directory that has a service-2 file. */
export function loadModel(service: string): ServiceModel {
    const name = SERVICE_ALIASES[service] ?? service;
    const cached = models.get(name);
    if (cached) return cached;
    const base = path.join(botocoreInfo().dir, "data", name);
    if (!fs.existsSync(base))
        throw new Error(`botocore ${botocoreInfo().version} has no model for the service "${service}" (no ${base})`);
    const versions = fs
        .readdirSync(base, { withFileTypes: true })
        .filter((d) => d.isDirectory() && /^\d{4}-\d{2}-\d{2}$/.test(d.name))
        .map((d) => d.name)
        .sort();
    for (const v of versions.reverse()) {
        for (const f of ["service-2.json.gz", "service-2.json"]) {
            const file = path.join(base, v, f);
            if (!fs.existsSync(file)) continue;
            const raw = fs.readFileSync(file);
            const json = JSON.parse((f.endsWith(".gz") ? zlib.gunzipSync(raw) : raw).toString("utf8"));
            const model: ServiceModel = {
                service: name,
                apiVersion: v,
                file,
                metadata: json.metadata,
                operations: json.operations,
                shapes: json.shapes,
            };
            models.set(name, model);
            return model;
        }
    }
    throw new Error(`botocore ${botocoreInfo().version}: no service-2.json(.gz) under ${base}`);
}

// ---------------------------------------------------------------------------------------------
// Patterns.

export type PatternVerdict = boolean | { error: string };

const compiled = new Map<string, RegExp | { error: string }>();

/** The model pattern as a JavaScript RegExp with full-match semantics (`^(?:p)$`, flag `u`), or why it does not compile. */
export function compilePattern(pattern: string): RegExp | { error: string } {
    let r = compiled.get(pattern);
    if (r) return r;
    try {
        r = new RegExp(`^(?:${pattern})$`, "u");
    } catch (e) {
        r = { error: (e as Error).message };
    }
    compiled.set(pattern, r);
    return r;
}

/** Whether `value` as a whole matches `pattern` in JavaScript (u flag), or why the pattern does not compile. */
export function jsFullMatch(pattern: string, value: string): PatternVerdict {
    const r = compilePattern(pattern);
    return r instanceof RegExp ? r.test(value) : r;
}

// ---------------------------------------------------------------------------------------------
// Validation.

export interface ValidateOptions {
    /** Called for every pattern checked: the model's pattern, the value, the member path, the JavaScript verdict. */
    onPattern?: (pattern: string, value: string, path: string, verdict: PatternVerdict) => void;
    /** Only the model's constraints, without DOCUMENTED_LIMITS (default false: both). */
    modelOnly?: boolean;
}

/** One (pattern, value) pair a validation checked, for re-running in Java. */
export interface CheckedPattern {
    pattern: string;
    input: string;
    path: string;
    js: PatternVerdict;
}

/** An onPattern that collects every pair into `into` (deduplicated by pattern and value). */
export function collectPatterns(into: CheckedPattern[]): NonNullable<ValidateOptions["onPattern"]> {
    const seen = new Set(into.map((p) => `${p.pattern}\u0000${p.input}`));
    return (pattern, value, p, js) => {
        const k = `${pattern}\u0000${value}`;
        if (seen.has(k)) return;
        seen.add(k);
        into.push({ pattern, input: value, path: p, js });
    };
}

const codePoints = (s: string): number => {
    let n = 0;
    for (const _ of s) n++;
    return n;
};

/** Quoted for a message, shortened when long. */
function show(v: unknown): string {
    const s =
        typeof v === "string"
            ? JSON.stringify(v)
            : v instanceof Uint8Array
              ? `<${v.length} bytes>`
              : (JSON.stringify(v) ?? String(v));
    return s.length > 120 ? `${s.slice(0, 100)}...(${s.length} characters)` : s;
}

function typeName(v: unknown): string {
    if (v === null) return "null";
    if (Array.isArray(v)) return "array";
    if (v instanceof Uint8Array) return "bytes";
    if (v instanceof Date) return "Date";
    return typeof v;
}

/**
 * The problems AWS's model finds in `input` for `operation` of `service` (empty: none). Throws only
 * when the service or the operation does not exist in the model.
 */
export function validateRequest(
    service: string,
    operation: string,
    input: unknown,
    opts: ValidateOptions = {},
): string[] {
    const model = loadModel(service);
    const op = model.operations[operation];
    if (!op) throw new Error(`botocore's ${model.service} ${model.apiVersion} model has no operation ${operation}`);
    const problems: string[] = [];
    const at = (p: string) => (p ? `${operation} ${p}` : operation);
    if (!op.input) {
        if (
            input !== undefined &&
            input !== null &&
            (typeof input !== "object" || Object.keys(input as object).length > 0)
        )
            problems.push(`${operation}: the operation takes no input; got ${show(input)}`);
        return problems;
    }
    const join = (base: string, member: string) => (base ? `${base}.${member}` : member);

    const check = (shapeName: string, v: unknown, p: string): void => {
        const s = model.shapes[shapeName];
        if (!s) {
            problems.push(`${at(p)}: the model has no shape ${shapeName}`);
            return;
        }
        const bad = (what: string) => problems.push(`${at(p)}: ${what}`);
        const range = (n: number, unit: string) => {
            if (s.min !== undefined && n < s.min) bad(`${unit} ${n} < min ${s.min}`);
            if (s.max !== undefined && n > s.max) bad(`${unit} ${n} > max ${s.max}`);
        };
        switch (s.type) {
            case "structure": {
                if (s.document) return; // any JSON value
                if (!v || typeof v !== "object" || Array.isArray(v) || v instanceof Uint8Array || v instanceof Date)
                    return void bad(`expected a structure (${shapeName}); got ${typeName(v)}`);
                const obj = v as Record<string, unknown>;
                const members = s.members ?? {};
                for (const r of s.required ?? [])
                    if (obj[r] === undefined || obj[r] === null)
                        problems.push(`${at(join(p, r))}: required member missing`);
                const set = Object.keys(obj).filter((k) => obj[k] !== undefined);
                for (const k of set) {
                    if (!(k in members)) {
                        problems.push(
                            `${at(join(p, k))}: not a member of ${shapeName} (members: ${Object.keys(members).join(", ")})`,
                        );
                        continue;
                    }
                    if (obj[k] === null) {
                        if (!(s.required ?? []).includes(k))
                            problems.push(`${at(join(p, k))}: null (leave the member out instead)`);
                        continue;
                    }
                    check(members[k].shape, obj[k], join(p, k));
                }
                if (s.union && set.length !== 1)
                    bad(`a union (${shapeName}) takes exactly one member; got ${set.length}`);
                return;
            }
            case "string": {
                if (typeof v !== "string") return void bad(`expected a string; got ${typeName(v)} ${show(v)}`);
                range(codePoints(v), "length");
                if (s.enum && !s.enum.includes(v))
                    bad(`${show(v)} is not one of ${shapeName}'s values (${s.enum.join(", ")})`);
                if (s.pattern !== undefined) {
                    const verdict = jsFullMatch(s.pattern, v);
                    opts.onPattern?.(s.pattern, v, `${at(p)}`, verdict);
                    if (typeof verdict === "object")
                        bad(`pattern ${s.pattern} does not compile in JavaScript (u flag): ${verdict.error}`);
                    else if (!verdict) bad(`${show(v)} does not match the pattern ${s.pattern}`);
                }
                return;
            }
            case "integer":
            case "long": {
                if (typeof v !== "number" || !Number.isInteger(v))
                    return void bad(`expected a whole number (${s.type}); got ${typeName(v)} ${show(v)}`);
                if (s.type === "integer" && (v < -2147483648 || v > 2147483647))
                    bad(`${v} is outside a 32-bit integer`);
                if (s.type === "long" && !Number.isSafeInteger(v)) bad(`${v} is not a safe integer`);
                range(v, "value");
                return;
            }
            case "float":
            case "double": {
                if (typeof v !== "number" || !Number.isFinite(v))
                    return void bad(`expected a finite number (${s.type}); got ${typeName(v)} ${show(v)}`);
                range(v, "value");
                return;
            }
            case "boolean":
                if (typeof v !== "boolean") bad(`expected a boolean; got ${typeName(v)} ${show(v)}`);
                return;
            case "blob": {
                const bytes =
                    v instanceof Uint8Array ? v.length : typeof v === "string" ? Buffer.byteLength(v) : undefined;
                if (bytes === undefined) return void bad(`expected bytes (blob); got ${typeName(v)}`);
                range(bytes, "size (bytes)");
                return;
            }
            case "timestamp": {
                const ok =
                    v instanceof Date
                        ? !isNaN(v.getTime())
                        : typeof v === "number"
                          ? Number.isFinite(v)
                          : typeof v === "string"
                            ? !isNaN(Date.parse(v))
                            : false;
                if (!ok) bad(`expected a timestamp (Date, epoch seconds or ISO-8601); got ${typeName(v)} ${show(v)}`);
                return;
            }
            case "list": {
                if (!Array.isArray(v)) return void bad(`expected a list; got ${typeName(v)} ${show(v)}`);
                range(v.length, "items");
                v.forEach((item, i) =>
                    item === undefined || item === null
                        ? problems.push(`${at(`${p}[${i}]`)}: ${typeName(item)} list item`)
                        : check(s.member!.shape, item, `${p}[${i}]`),
                );
                return;
            }
            case "map": {
                if (!v || typeof v !== "object" || Array.isArray(v) || v instanceof Uint8Array)
                    return void bad(`expected a map; got ${typeName(v)} ${show(v)}`);
                const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
                range(entries.length, "entries");
                for (const [k, x] of entries) {
                    check(s.key!.shape, k, `${p}{${JSON.stringify(k)}}`);
                    if (x === null) problems.push(`${at(`${p}[${JSON.stringify(k)}]`)}: null map value`);
                    else check(s.value!.shape, x, `${p}[${JSON.stringify(k)}]`);
                }
                return;
            }
            default:
                bad(`shape type ${(s as Shape).type} (${shapeName}) is not validated here`);
        }
    };
    check(op.input.shape, input ?? {}, "");
    if (!opts.modelOnly) problems.push(...documentedProblems(model.service, operation, input));
    return problems;
}

/** The input members `operation` requires and may take (for messages and the mapping table's own checks). */
export function inputMembers(service: string, operation: string): { required: string[]; members: string[] } {
    const model = loadModel(service);
    const op = model.operations[operation];
    if (!op) throw new Error(`botocore's ${model.service} model has no operation ${operation}`);
    if (!op.input) return { required: [], members: [] };
    const s = model.shapes[op.input.shape];
    return { required: s.required ?? [], members: Object.keys(s.members ?? {}) };
}

// ---------------------------------------------------------------------------------------------
// Limits AWS documents that botocore's models do not carry.
//
// botocore's models hold what the Smithy models hold; several limits a service enforces are only in
// its API reference or quotas page (botocore 1.43.11's SQS model has no length or character set on
// CreateQueue's QueueName, the Query-era EC2 model has no constraint at all, Lambda's Timeout has
// only a minimum). These are checked too, each citing where AWS states it, and reported with
// "[documented: ...]" so a problem says whether the model or the documentation is the source.

export interface DocumentedLimit {
    service: string;
    operation: string;
    /** Where AWS states the limit. */
    source: string;
    check: (input: Record<string, any>) => string[];
}

const SQS_ATTRIBUTE_RANGES: Record<string, [number, number]> = {
    DelaySeconds: [0, 900],
    MaximumMessageSize: [1024, 1_048_576],
    MessageRetentionPeriod: [60, 1_209_600],
    ReceiveMessageWaitTimeSeconds: [0, 20],
    VisibilityTimeout: [0, 43_200],
    KmsDataKeyReusePeriodSeconds: [60, 86_400],
};

function sqsAttributeProblems(attrs: Record<string, unknown> | undefined): string[] {
    const out: string[] = [];
    for (const [k, v] of Object.entries(attrs ?? {})) {
        const r = SQS_ATTRIBUTE_RANGES[k];
        if (r) {
            if (typeof v !== "string" || !/^(0|[1-9][0-9]*)$/.test(v) || Number(v) < r[0] || Number(v) > r[1])
                out.push(`Attributes[${JSON.stringify(k)}]: ${JSON.stringify(v)} is not an integer ${r[0]}-${r[1]}`);
        } else if (k === "SqsManagedSseEnabled" || k === "FifoQueue" || k === "ContentBasedDeduplication") {
            if (v !== "true" && v !== "false")
                out.push(`Attributes[${JSON.stringify(k)}]: ${JSON.stringify(v)} is not "true" or "false"`);
        } else if (k === "RedrivePolicy") {
            let p: any;
            try {
                p = JSON.parse(String(v));
            } catch {
                out.push(`Attributes["RedrivePolicy"]: not JSON`);
                continue;
            }
            if (typeof p?.deadLetterTargetArn !== "string" || !/^arn:aws[a-z-]*:sqs:/.test(p.deadLetterTargetArn))
                out.push(`Attributes["RedrivePolicy"].deadLetterTargetArn: not an SQS queue ARN`);
            if (!Number.isInteger(p?.maxReceiveCount) || p.maxReceiveCount < 1 || p.maxReceiveCount > 1000)
                out.push(
                    `Attributes["RedrivePolicy"].maxReceiveCount: ${JSON.stringify(p?.maxReceiveCount)} is not 1-1000`,
                );
        } else if (k === "Policy") {
            try {
                JSON.parse(String(v));
            } catch {
                out.push(`Attributes["Policy"]: not JSON`);
            }
        }
    }
    return out;
}

const jsonProblem = (what: string, v: unknown): string[] => {
    if (v === undefined) return [];
    try {
        JSON.parse(String(v));
        return [];
    } catch {
        return [`${what}: not valid JSON`];
    }
};

/** IAM counts a policy's characters without white space (IAM User Guide, "IAM and AWS STS quotas"). */
const policyChars = (doc: unknown): number => String(doc ?? "").replace(/\s/g, "").length;

/** The characters SQS accepts in a message (SQS API Reference, SendMessage: MessageBody). */
const SQS_MESSAGE_CHARS = /^[\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;

export const DOCUMENTED_LIMITS: readonly DocumentedLimit[] = Object.freeze([
    {
        service: "sqs",
        operation: "CreateQueue",
        source: "Amazon SQS API Reference, CreateQueue: QueueName up to 80 characters of alphanumerics, hyphens and underscores (a FIFO queue's name ends in .fifo); SetQueueAttributes: the attribute ranges",
        check: (i) => [
            ...(typeof i.QueueName === "string" &&
            !/^[A-Za-z0-9_-]{1,80}$/.test(i.QueueName) &&
            !/^[A-Za-z0-9_-]{1,75}\.fifo$/.test(i.QueueName)
                ? [
                      `QueueName: ${JSON.stringify(i.QueueName)} (${i.QueueName.length} characters) is not 1-80 of A-Z a-z 0-9 _ -`,
                  ]
                : []),
            ...sqsAttributeProblems(i.Attributes),
        ],
    },
    {
        service: "sqs",
        operation: "SetQueueAttributes",
        source: "Amazon SQS API Reference, SetQueueAttributes: attribute values",
        check: (i) => sqsAttributeProblems(i.Attributes),
    },
    {
        service: "sqs",
        operation: "SendMessage",
        source: "Amazon SQS API Reference, SendMessage: MessageBody at least 1 character, at most 1 MiB, of #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF",
        check: (i) =>
            typeof i.MessageBody !== "string"
                ? []
                : [
                      ...(i.MessageBody.length === 0 ? ["MessageBody: empty"] : []),
                      ...(Buffer.byteLength(i.MessageBody) > 1_048_576
                          ? [`MessageBody: ${Buffer.byteLength(i.MessageBody)} bytes > 1 MiB`]
                          : []),
                      ...(!SQS_MESSAGE_CHARS.test(i.MessageBody)
                          ? ["MessageBody: a character SQS does not accept"]
                          : []),
                  ],
    },
    {
        service: "lambda",
        operation: "CreateFunction",
        source: "AWS Lambda API Reference, CreateFunction (Timeout at most 900 s; FunctionName 64 characters unless an ARN) and Lambda quotas (environment variables 4 KB in aggregate; 50 MB zipped deployment package through the API)",
        check: (i) => {
            const out: string[] = [];
            if (typeof i.Timeout === "number" && i.Timeout > 900) out.push(`Timeout: ${i.Timeout} > 900`);
            if (typeof i.FunctionName === "string" && !i.FunctionName.startsWith("arn:") && i.FunctionName.length > 64)
                out.push(`FunctionName: ${i.FunctionName.length} characters > 64`);
            const vars = i.Environment?.Variables as Record<string, string> | undefined;
            if (vars) {
                const bytes = Object.entries(vars).reduce(
                    (n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(String(v)),
                    0,
                );
                if (bytes > 4096) out.push(`Environment.Variables: ${bytes} bytes of names and values > 4 KB`);
            }
            const zip = i.Code?.ZipFile;
            if (zip instanceof Uint8Array && zip.length > 50 * 1024 * 1024)
                out.push(`Code.ZipFile: ${zip.length} bytes > 50 MB`);
            return out;
        },
    },
    {
        service: "lambda",
        operation: "Invoke",
        source: "Lambda quotas: invocation payload 6 MB (synchronous); the API Reference: Payload is JSON",
        check: (i) => {
            const p = i.Payload;
            const bytes = p instanceof Uint8Array ? p.length : typeof p === "string" ? Buffer.byteLength(p) : 0;
            return [
                ...(bytes > 6 * 1024 * 1024 ? [`Payload: ${bytes} bytes > 6 MB`] : []),
                ...jsonProblem("Payload", p instanceof Uint8Array ? Buffer.from(p).toString("utf8") : p),
            ];
        },
    },
    {
        service: "logs",
        operation: "PutRetentionPolicy",
        source: "Amazon CloudWatch Logs API Reference, PutRetentionPolicy: retentionInDays one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653",
        check: (i) =>
            [
                1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
            ].includes(i.retentionInDays)
                ? []
                : [`retentionInDays: ${JSON.stringify(i.retentionInDays)} is not a CloudWatch Logs retention value`],
    },
    {
        service: "iam",
        operation: "CreateRole",
        source: "IAM User Guide, IAM and AWS STS quotas: role trust policy 2,048 characters (white space not counted; the default quota)",
        check: (i) => [
            ...jsonProblem("AssumeRolePolicyDocument", i.AssumeRolePolicyDocument),
            ...(policyChars(i.AssumeRolePolicyDocument) > 2048
                ? [`AssumeRolePolicyDocument: ${policyChars(i.AssumeRolePolicyDocument)} characters > 2,048`]
                : []),
        ],
    },
    {
        service: "iam",
        operation: "PutRolePolicy",
        source: "IAM User Guide, IAM and AWS STS quotas: inline role policies 10,240 characters in aggregate per role (white space not counted)",
        check: (i) => [
            ...jsonProblem("PolicyDocument", i.PolicyDocument),
            ...(policyChars(i.PolicyDocument) > 10_240
                ? [`PolicyDocument: ${policyChars(i.PolicyDocument)} characters > 10,240`]
                : []),
        ],
    },
    {
        service: "ec2",
        operation: "ImportKeyPair",
        source: "Amazon EC2 API Reference, ImportKeyPair: KeyName up to 255 ASCII characters; PublicKeyMaterial an OpenSSH ED25519 or RSA public key",
        check: (i) => {
            const out: string[] = [];
            if (
                typeof i.KeyName === "string" &&
                (i.KeyName.length > 255 || i.KeyName.length === 0 || /[^\x00-\x7F]/.test(i.KeyName))
            )
                out.push(`KeyName: ${i.KeyName.length} characters, not 1-255 ASCII characters`);
            const pk =
                i.PublicKeyMaterial instanceof Uint8Array
                    ? Buffer.from(i.PublicKeyMaterial).toString("utf8")
                    : String(i.PublicKeyMaterial ?? "");
            if (!/^(ssh-ed25519|ssh-rsa) [A-Za-z0-9+/]+=*( .*)?$/.test(pk.trim()))
                out.push("PublicKeyMaterial: not an OpenSSH ssh-ed25519 or ssh-rsa public key");
            return out;
        },
    },
    {
        service: "ssm",
        operation: "PutParameter",
        source: "AWS Systems Manager API Reference, PutParameter: a name at most 1011 characters, at most 15 levels, not starting with aws or ssm; a Standard value at most 4 KB, an Advanced one 8 KB",
        check: (i) => {
            const out: string[] = [];
            const name = String(i.Name ?? "");
            if (name.length > 1011) out.push(`Name: ${name.length} characters > 1011`);
            if (name.split("/").length - 1 > 15) out.push(`Name: ${name.split("/").length - 1} levels > 15`);
            if (/^\/?(aws|ssm)/i.test(name)) out.push("Name: starts with aws or ssm (reserved)");
            if (name.includes("/") && !name.startsWith("/")) out.push("Name: a hierarchy must start with /");
            const max = i.Tier === "Advanced" ? 8192 : 4096;
            if (typeof i.Value === "string" && Buffer.byteLength(i.Value) > max)
                out.push(`Value: ${Buffer.byteLength(i.Value)} bytes > ${max} (${i.Tier ?? "Standard"} tier)`);
            return out;
        },
    },
    {
        service: "ssm",
        operation: "CreateDocument",
        source: "AWS Systems Manager quotas: a document at most 64 KB; CreateDocument: names starting with aws, amazon or amzn are reserved",
        check: (i) => [
            ...(typeof i.Content === "string" && Buffer.byteLength(i.Content) > 64 * 1024
                ? [`Content: ${Buffer.byteLength(i.Content)} bytes > 64 KB`]
                : []),
            ...(/^(aws|amazon|amzn)/i.test(String(i.Name ?? ""))
                ? ["Name: starts with aws, amazon or amzn (reserved)"]
                : []),
            ...(i.DocumentFormat === "JSON" || i.DocumentFormat === undefined ? jsonProblem("Content", i.Content) : []),
        ],
    },
    {
        service: "events",
        operation: "PutRule",
        source: "Amazon EventBridge API Reference, PutRule: ScheduleExpression is cron(...) or rate(...); EventPattern is a JSON event pattern",
        check: (i) => [
            ...(i.ScheduleExpression !== undefined && !/^(cron|rate)\(.+\)$/.test(i.ScheduleExpression)
                ? [`ScheduleExpression: ${JSON.stringify(i.ScheduleExpression)} is not cron(...) or rate(...)`]
                : []),
            ...jsonProblem("EventPattern", i.EventPattern),
        ],
    },
    {
        service: "events",
        operation: "PutTargets",
        source: "Amazon EventBridge API Reference, Target: Input is valid JSON text",
        check: (i) =>
            Array.isArray(i.Targets)
                ? i.Targets.flatMap((t: any, n: number) => jsonProblem(`Targets[${n}].Input`, t?.Input))
                : [],
    },
]);

/** The DOCUMENTED_LIMITS problems of one request (`<Operation> <member>: <what> [documented: <source>]`). */
export function documentedProblems(service: string, operation: string, input: unknown): string[] {
    const name = SERVICE_ALIASES[service] ?? service;
    const i = (input && typeof input === "object" ? input : {}) as Record<string, any>;
    return DOCUMENTED_LIMITS.filter(
        (l) => (SERVICE_ALIASES[l.service] ?? l.service) === name && l.operation === operation,
    ).flatMap((l) => l.check(i).map((p) => `${operation} ${p} [documented: ${l.source}]`));
}
