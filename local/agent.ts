/**
 * Runs an SSM Command document on a sandbox host the way SSM and its agent do: parameters are
 * checked against the document (known names, String/StringList shapes, allowedPattern,
 * allowedValues, defaults, the 64 KB command limit), each `aws:runShellScript` step's runCommand
 * lines become one script file run with `sh` as root, ENV_VAR parameters reach it as
 * `SSM_<name>`, `{{ name }}` references are substituted as text, and the output is cut to what
 * GetCommandInvocation returns (24,000 characters of stdout, 8,000 of stderr).
 */
import { randomBytes } from "crypto";
import * as fs from "fs";
import { MAX_COMMAND_BYTES } from "../core/document";
import { agentTooOld } from "../core/script.sh";
import type { ExecResult } from "./processes";
import type { SandboxHost } from "./sandbox";
import { truncateOutput } from "./ssmRules";

interface DocParameter {
    type?: string;
    default?: unknown;
    allowedPattern?: string;
    allowedValues?: string[];
    interpolationType?: string;
}
interface DocStep {
    action?: string;
    name?: string;
    precondition?: { StringEquals?: [string, string] };
    inputs?: { runCommand?: string[] | string; timeoutSeconds?: string | number; workingDirectory?: string };
}
interface CommandDocument {
    schemaVersion?: string;
    parameters?: Record<string, DocParameter>;
    mainSteps?: DocStep[];
}

/** What SendCommand answers with `InvalidParameters` (or a ValidationException for size). */
export class InvalidParametersError extends Error {
    readonly code: string;
    constructor(message: string, code = "InvalidParameters") {
        super(message);
        this.name = "InvalidParametersError";
        this.code = code;
    }
}

function parseDocument(document: object | string): CommandDocument {
    const doc = (typeof document === "string" ? JSON.parse(document) : document) as CommandDocument;
    if (doc.schemaVersion !== "2.2")
        throw new InvalidParametersError(
            `this runner takes schemaVersion 2.2 documents, not ${doc.schemaVersion}`,
            "InvalidDocument",
        );
    if (!Array.isArray(doc.mainSteps) || doc.mainSteps.length === 0)
        throw new InvalidParametersError("document has no mainSteps", "InvalidDocument");
    return doc;
}

/**
 * SendCommand's checks. Returns every parameter's effective value list (defaults applied).
 */
export function validateCommandParameters(
    document: object | string,
    parameters: Record<string, string[]>,
): Record<string, string[]> {
    const doc = parseDocument(document);
    const declared = doc.parameters ?? {};
    const size =
        Buffer.byteLength(typeof document === "string" ? document : JSON.stringify(document)) +
        Buffer.byteLength(JSON.stringify(parameters));
    if (size > MAX_COMMAND_BYTES) {
        throw new InvalidParametersError(
            `document plus parameters is ${size} bytes, over ${MAX_COMMAND_BYTES}`,
            "ValidationException",
        );
    }
    for (const name of Object.keys(parameters)) {
        if (!Object.prototype.hasOwnProperty.call(declared, name))
            throw new InvalidParametersError(`parameter '${name}' is not declared by the document`);
    }
    const out: Record<string, string[]> = {};
    for (const [name, p] of Object.entries(declared)) {
        let values = parameters[name];
        if (values === undefined) {
            if (p.default === undefined) throw new InvalidParametersError(`parameter '${name}' is required`);
            values = Array.isArray(p.default) ? p.default.map(String) : [String(p.default)];
        }
        if (!Array.isArray(values) || values.some((v) => typeof v !== "string")) {
            throw new InvalidParametersError(`parameter '${name}' must be a list of strings`);
        }
        if ((p.type ?? "String") === "String" && values.length !== 1) {
            throw new InvalidParametersError(`parameter '${name}' is a String and takes exactly one value`);
        }
        for (const v of values) {
            if (p.allowedPattern !== undefined && !new RegExp(p.allowedPattern).test(v)) {
                throw new InvalidParametersError(`parameter '${name}' fails its allowedPattern ${p.allowedPattern}`);
            }
            if (p.allowedValues !== undefined && !p.allowedValues.includes(v)) {
                throw new InvalidParametersError(`parameter '${name}' must be one of ${p.allowedValues.join(", ")}`);
            }
        }
        out[name] = values;
    }
    return out;
}

export interface AgentRunOptions {
    /** Extra environment for the step (the agent's own environment, e.g. a PATH). */
    env?: Record<string, string>;
    /** Skip SendCommand's parameter checks, as a manual run or a broken agent would: the script is on its own. */
    skipParameterValidation?: boolean;
    /** Instance id reported in AWS_SSM_INSTANCE_ID (default the host name). */
    instanceId?: string;
    /**
     * The agent's version. Older than 3.3.2746.0, the agent knows no `interpolationType`: it sets no
     * SSM_<name> variable (the parameters still pass SendCommand's checks), as such an agent does.
     */
    agentVersion?: string;
}

/** True when an agent of `version` passes ENV_VAR parameters (3.3.2746.0 or later); no version: the current agent. */
export function agentPassesEnvVar(version: string | undefined): boolean {
    return !agentTooOld(version);
}

export interface AgentRunResult {
    /** "Success" | "Failed" | "TimedOut" | "Skipped" (precondition false), as GetCommandInvocation. */
    status: "Success" | "Failed" | "TimedOut" | "Skipped";
    /** The script's exit status (-1 when killed). */
    responseCode: number;
    /** stdout/stderr as GetCommandInvocation returns them (truncated). */
    standardOutputContent: string;
    standardErrorContent: string;
    /** Untruncated output, for tests. */
    stdout: string;
    stderr: string;
    /** The exact script file that ran. */
    script: string;
    durationMs: number;
}

/** The step's environment: the agent's own variables, and `SSM_<name>` for each ENV_VAR parameter (none from an agent too old for them). */
function stepEnvironment(
    host: SandboxHost,
    doc: CommandDocument,
    values: Record<string, string[]>,
    opts: AgentRunOptions,
): Record<string, string> {
    const declared = doc.parameters ?? {};
    const env: Record<string, string> = {
        AWS_SSM_INSTANCE_ID: opts.instanceId ?? host.name,
        AWS_SSM_REGION_NAME: "local-1",
        ...(opts.env ?? {}),
    };
    for (const [name, v] of Object.entries(values)) {
        if (!agentPassesEnvVar(opts.agentVersion) && !opts.skipParameterValidation) continue;
        if (declared[name]?.interpolationType === "ENV_VAR" || opts.skipParameterValidation)
            env[`SSM_${name}`] = v.join(",");
    }
    return env;
}

/** An aws:runShellScript step's runCommand lines as one script, `{{ name }}` references substituted as text (the agent does so for every parameter). */
function stepScript(step: DocStep, values: Record<string, string[]>): string {
    if (step.action !== "aws:runShellScript")
        throw new InvalidParametersError(`this runner does not run ${step.action}`, "InvalidDocument");
    const rc = step.inputs?.runCommand ?? [];
    const script = Array.isArray(rc) ? rc.join("\n") : rc;
    return script.replace(/\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g, (m, name: string) =>
        values[name] !== undefined ? values[name].join(",") : m,
    );
}

/** Runs the script as the agent does: a file in a fresh directory under /tmp, run with `sh` as root, killed at the step's timeout. */
async function runScript(
    host: SandboxHost,
    script: string,
    env: Record<string, string>,
    timeoutSeconds: string | number | undefined,
): Promise<ExecResult> {
    const dir = `/tmp/ssm-${randomBytes(6).toString("hex")}`;
    fs.mkdirSync(host.path(dir), { mode: 0o700 });
    fs.writeFileSync(host.path(`${dir}/_script.sh`), script + "\n", { mode: 0o700 });
    const r = await host.exec(["/bin/sh", `${dir}/_script.sh`], {
        env,
        timeoutMs: Number(timeoutSeconds ?? 3600) * 1000,
    });
    fs.rmSync(host.path(dir), { recursive: true, force: true });
    return r;
}

/** Runs every step of the document on the host; stops at the first failing step. */
export async function runDocumentLikeAgent(
    host: SandboxHost,
    document: object | string,
    parameters: Record<string, string[]>,
    opts: AgentRunOptions = {},
): Promise<AgentRunResult> {
    const doc = parseDocument(document);
    const values = opts.skipParameterValidation ? parameters : validateCommandParameters(document, parameters);
    const env = stepEnvironment(host, doc, values, opts);
    let last: AgentRunResult | undefined;
    let stdout = "";
    let stderr = "";
    const started = Date.now();
    for (const step of doc.mainSteps ?? []) {
        const pre = step.precondition?.StringEquals;
        if (pre && pre[0] === "platformType" && pre[1] !== "Linux") {
            last = {
                status: "Skipped",
                responseCode: 0,
                standardOutputContent: "",
                standardErrorContent: "",
                stdout,
                stderr,
                script: "",
                durationMs: 0,
            };
            continue;
        }
        const script = stepScript(step, values);
        const r = await runScript(host, script, env, step.inputs?.timeoutSeconds);
        stdout += r.stdout;
        stderr += r.stderr;
        const status = r.signal ? "TimedOut" : r.code === 0 ? "Success" : "Failed";
        const shown = truncateOutput(stdout, stderr);
        last = {
            status,
            responseCode: r.code ?? -1,
            standardOutputContent: shown.stdout,
            standardErrorContent: shown.stderr,
            stdout,
            stderr,
            script,
            durationMs: Date.now() - started,
        };
        if (status !== "Success") break;
    }
    if (!last) throw new InvalidParametersError("document has no steps", "InvalidDocument");
    return last;
}
