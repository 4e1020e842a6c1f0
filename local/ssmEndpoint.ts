/**
 * The local AWS endpoint of the local fleet: one HTTP server on 127.0.0.1 (random port) that
 * speaks the subset of the AWS protocols the provisioner Lambda uses, so the real bundled Lambda
 * runs unchanged with `AWS_ENDPOINT_URL_SSM` / `_EC2` / `_SQS` pointing here:
 *
 * - SSM, JSON 1.1 (`X-Amz-Target: AmazonSSM.<Action>`): SendCommand, GetCommandInvocation,
 *   ListCommandInvocations, DescribeInstanceInformation, PutParameter, GetParameter, GetParameters,
 *   GetParametersByPath, DeleteParameter, StartSession (the `AWS-StartSSHSession` tunnel: its stream
 *   is the instance's sshd, which the central server's session-manager-plugin stand-in connects to);
 * - EC2, Query/XML (`Action=DescribeInstances`): instance-id, tag:<key>, tag-key and
 *   instance-state-name filters;
 * - SQS, JSON 1.0 (`X-Amz-Target: AmazonSQS.<Action>`): SendMessage, GetQueueUrl on local queues.
 *
 * It behaves like the services where the Lambda's correctness depends on it: SendCommand takes at
 * most 50 instance ids, knows the document, checks every parameter against the document's
 * `allowedPattern` and answers `InvalidInstanceId` for an instance whose agent is not online;
 * the command runs on each target asynchronously (as the agent would), GetCommandInvocation says
 * `InvocationDoesNotExist` for a while after the send (eventual consistency) and truncates output
 * to 24,000/8,000 characters; every action has its own token bucket when throttling is on, and a
 * throttled call gets `ThrottlingException: Rate exceeded` in the exact JSON error shape. It also
 * emits the events the services emit (EC2 state change on launch, an association run when the
 * agent comes online, Run Command status changes) onto the local event bus.
 */
import { createHash, randomUUID } from "crypto";
import { EventEmitter } from "events";
import { COMMAND_RESULT_DETAIL_TYPE, EC2_RUNNING_DETAIL_TYPE, SSM_ASSOCIATION_DETAIL_TYPE } from "../core/events";
import { listedPluginOutput } from "../core/document";
import type { LocalEventBus } from "./eventBus";
import { AwsApiError, CallContext, FakeAwsServer, HandlerTable, OpHandler, startFakeAwsServer } from "./fakeAws";
import { LOCAL_ACCOUNT_ID, LOCAL_REGION, LocalQueue, QueueSendError } from "./queue";

export const SSM_OUTPUT_LIMIT = 24_000;
export const SSM_ERROR_LIMIT = 8_000;
export const SEND_COMMAND_MAX_INSTANCES = 50;
const STANDARD_PARAMETER_BYTES = 4096;

/** What a document run on a host produced. */
export interface RunResult {
    exitCode: number;
    stdout: string;
    stderr: string;
}

/** Runs a document on one host the way the agent does. */
export type DocumentRunner = (run: { instanceId: string; documentName: string; document: SsmDocument; parameters: Record<string, string[]>; agentVersion: string }) => Promise<RunResult>;
/** The agent version instances report unless told otherwise (the first that passes ENV_VAR parameters). */
export const DEFAULT_AGENT_VERSION = "3.3.2746.0";

export interface SsmDocumentParameter {
    type: "String" | "StringList" | string;
    description?: string;
    default?: string | string[];
    allowedPattern?: string;
    allowedValues?: string[];
    interpolationType?: string;
}

export interface SsmDocument {
    schemaVersion: string;
    parameters?: Record<string, SsmDocumentParameter>;
    mainSteps: unknown[];
    [k: string]: unknown;
}

/** AWS-RunShellScript as far as parameter checking goes (the naive design sends it). */
export const AWS_RUN_SHELL_SCRIPT: SsmDocument = {
    schemaVersion: "2.2",
    description: "Run a shell script.",
    parameters: {
        commands: { type: "StringList", description: "(Required) Specify a shell script or a command to run." },
        workingDirectory: { type: "String", default: "", description: "(Optional) The path to the working directory on your instance." },
        executionTimeout: { type: "String", default: "3600", allowedPattern: "([1-9][0-9]{0,4})|(1[0-6][0-9]{4})|(17[0-1][0-9]{3})|(172[0-7][0-9]{2})|(172800)" },
    },
    mainSteps: [{ action: "aws:runShellScript", name: "runShellScript", inputs: { runCommand: "{{ commands }}" } }],
};

export interface LocalInstance {
    readonly instanceId: string;
    readonly tags: Record<string, string>;
    state: "pending" | "running" | "stopped" | "terminated";
    launchedAt?: number;
    /** When the agent is scheduled to register (launch + the late-agent knob). */
    agentDueAt?: number;
    /** When the agent registered; undefined until then. */
    agentOnlineAt?: number;
    /** The document always fails here (knob), with this reason on stderr. */
    failing?: string;
    runner: DocumentRunner;
    /** What DescribeInstanceInformation reports as AgentVersion; older than 3.3.2746.0 passes no ENV_VAR parameters. */
    agentVersion: string;
    ipAddress: string;
    computerName: string;
    /** Where the instance's sshd listens, for Session Manager's SSH tunnel (StartSession). */
    sshEndpoint?: { host: string; port: number };
}

export interface Invocation {
    commandId: string;
    instanceId: string;
    documentName: string;
    comment: string;
    requestedAt: number;
    startedAt?: number;
    endedAt?: number;
    status: "Pending" | "InProgress" | "Success" | "Failed" | "TimedOut" | "Cancelled";
    responseCode: number;
    stdout: string;
    stderr: string;
}

export interface Parameter {
    name: string;
    type: "String" | "StringList" | "SecureString";
    value: string;
    version: number;
    lastModified: number;
}

export interface ThrottleKnob {
    /** Requests per second per action (AWS throttles each API separately). */
    ratePerSecond: number;
    /** Bucket size; default = ratePerSecond. */
    burst?: number;
    /** Only these actions (e.g. ["SendCommand"]); default every action. */
    actions?: string[];
}

export interface EndpointKnobs {
    throttle?: ThrottleKnob;
    /** GetCommandInvocation answers InvocationDoesNotExist for this long after SendCommand (ms). Default 300. */
    invocationVisibleAfterMs?: number;
    /** Delay before the agent picks a command up (ms), or a function of the instance for a distribution. Default 20. */
    agentPickupMs?: number | ((instanceId: string) => number);
    /**
     * A State Manager association targeting the instance: when its agent comes online, the
     * association runs and its "EC2 State Manager Instance Association State Change" event is
     * emitted, naming this document. Default: none (a Provisioner deploys no association, so
     * nothing but the EC2 event says an instance exists).
     */
    associationDocument?: string;
    /** The Provisioner's IAM condition (ssm:resourceTag/<key> = value): one untagged id denies the whole SendCommand. */
    requiredTag?: { key: string; value: string };
    /** The same condition per caller (access key id -> tag): each fleet's Lambda role has its own. Wins over requiredTag. */
    requiredTagByAccessKey?: Record<string, { key: string; value: string }>;
    /** IAM not yet propagated: these operations answer AccessDeniedException this many more times. */
    denyNext?: Record<string, number>;
}

export interface LocalSsmEndpointOptions {
    bus?: LocalEventBus;
    knobs?: EndpointKnobs;
    /** Queues reachable through SQS SendMessage, by name. */
    queues?: LocalQueue[];
}

const ApiError = AwsApiError;

class TokenBucket {
    private tokens: number;
    private last = Date.now();
    constructor(
        private readonly rate: number,
        private readonly size: number,
    ) {
        this.tokens = size;
    }
    take(): boolean {
        const now = Date.now();
        this.tokens = Math.min(this.size, this.tokens + ((now - this.last) / 1000) * this.rate);
        this.last = now;
        if (this.tokens < 1) return false;
        this.tokens -= 1;
        return true;
    }
}

function epochSeconds(ms: number): number {
    return ms / 1000;
}

/** Java-flavoured allowedPattern as AWS applies it: the whole value must match. */
function fullMatch(pattern: string, value: string): boolean {
    let re: RegExp;
    try {
        re = new RegExp(`^(?:${pattern})$`, "u");
    } catch {
        re = new RegExp(`^(?:${pattern})$`);
    }
    return re.test(value);
}

export interface EndpointStats {
    calls: Record<string, number>;
    throttled: Record<string, number>;
    errors: Record<string, number>;
    /** Instance ids accepted by SendCommand, per call. */
    sendCommandInstances: number[];
}

export class LocalSsmEndpoint extends EventEmitter {
    readonly instances = new Map<string, LocalInstance>();
    readonly documents = new Map<string, SsmDocument>([["AWS-RunShellScript", AWS_RUN_SHELL_SCRIPT]]);
    readonly parameters = new Map<string, Parameter>();
    readonly invocations = new Map<string, Invocation>(); // key commandId/instanceId
    readonly queues = new Map<string, LocalQueue>();
    readonly knobs: EndpointKnobs;
    readonly stats: EndpointStats = { calls: {}, throttled: {}, errors: {}, sendCommandInstances: [] };
    /** Every request as decoded off the wire (service, operation, input in the SDK's shape), for the conformance test. */
    readonly requests: { service: string; action: string; input: Record<string, unknown> }[] = [];
    private readonly bus?: LocalEventBus;
    private readonly buckets = new Map<string, TokenBucket>();
    private readonly timers = new Set<NodeJS.Timeout>();
    private readonly running = new Set<Promise<void>>();
    private server?: FakeAwsServer;
    private closed = false;
    url = "";

    constructor(opts: LocalSsmEndpointOptions = {}) {
        super();
        this.bus = opts.bus;
        this.knobs = { ...(opts.knobs ?? {}) };
        for (const q of opts.queues ?? []) this.queues.set(q.name, q);
        this.setMaxListeners(1000);
    }

    // ------------------------------------------------------------------ lifecycle

    /** Serves the handler table through local/fakeAws.ts's wire layer (JSON 1.0/1.1 by X-Amz-Target, EC2 Query/XML). */
    async start(): Promise<string> {
        this.server = await startFakeAwsServer(this.handlerTable());
        this.url = this.server.url;
        return this.url;
    }

    /** Stops the server and waits for the document runs in flight. */
    async stop(): Promise<void> {
        this.closed = true;
        for (const t of this.timers) clearTimeout(t);
        this.timers.clear();
        await Promise.allSettled([...this.running]);
        if (this.server) {
            const s = this.server;
            this.server = undefined;
            await s.close();
        }
    }

    /** The environment the Lambda needs to reach this endpoint through the SDK's default resolution. */
    lambdaEnv(): Record<string, string> {
        return {
            AWS_ENDPOINT_URL_SSM: this.url,
            AWS_ENDPOINT_URL_EC2: this.url,
            AWS_ENDPOINT_URL_SQS: this.url,
            AWS_REGION: LOCAL_REGION,
            AWS_DEFAULT_REGION: LOCAL_REGION,
            AWS_ACCESS_KEY_ID: "AKIDLOCALFLEET",
            AWS_SECRET_ACCESS_KEY: "local-fleet-dummy-secret",
            AWS_SESSION_TOKEN: "local-fleet-dummy-token",
        };
    }

    setThrottle(knob: ThrottleKnob | undefined): void {
        this.knobs.throttle = knob;
        this.buckets.clear();
    }

    private later(ms: number, f: () => void): void {
        if (this.closed) return;
        const t = setTimeout(() => {
            this.timers.delete(t);
            if (!this.closed) f();
        }, Math.max(0, ms));
        this.timers.add(t);
    }

    // ------------------------------------------------------------------ the "cloud" side

    addDocument(name: string, document: SsmDocument): void {
        this.documents.set(name, document);
    }

    /** Registers an instance (state pending). `launch` makes it run. */
    addInstance(i: { instanceId?: string; tags: Record<string, string>; runner: DocumentRunner; ipAddress?: string; computerName?: string; sshEndpoint?: { host: string; port: number }; agentVersion?: string }): LocalInstance {
        const instanceId = i.instanceId ?? `i-${randomUUID().replace(/-/g, "").slice(0, 17)}`;
        const inst: LocalInstance = {
            instanceId,
            tags: { ...i.tags },
            state: "pending",
            runner: i.runner,
            agentVersion: i.agentVersion ?? DEFAULT_AGENT_VERSION,
            ipAddress: i.ipAddress ?? "127.0.0.1",
            computerName: i.computerName ?? `ip-127-0-0-1.${instanceId}`,
            ...(i.sshEndpoint ? { sshEndpoint: i.sshEndpoint } : {}),
        };
        this.instances.set(instanceId, inst);
        return inst;
    }

    /**
     * The instance enters `running`: EC2 emits its state change now; the agent registers after
     * `agentDelayMs` (knob: a late agent), and then State Manager's association run emits its event.
     */
    launch(instanceId: string, agentDelayMs = 0): void {
        const inst = this.instance(instanceId);
        inst.state = "running";
        inst.launchedAt = Date.now();
        inst.agentDueAt = inst.launchedAt + agentDelayMs;
        inst.agentOnlineAt = undefined;
        this.emit("launched", inst);
        this.bus?.put({
            source: "aws.ec2",
            detailType: EC2_RUNNING_DETAIL_TYPE,
            resources: [`arn:aws:ec2:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:instance/${instanceId}`],
            detail: { "instance-id": instanceId, state: "running" },
        });
        this.later(agentDelayMs, () => this.agentOnline(inst));
    }

    private agentOnline(inst: LocalInstance): void {
        if (inst.state !== "running") return;
        // Online from the moment the agent registers, not from the scheduled time: Node's timers
        // and Date.now() can disagree by a millisecond, and nothing may see the agent before its event.
        inst.agentOnlineAt = Date.now();
        this.emit("agentOnline", inst);
        if (this.knobs.associationDocument === undefined) return;
        const now = new Date().toISOString();
        this.bus?.put({
            source: "aws.ssm",
            detailType: SSM_ASSOCIATION_DETAIL_TYPE,
            resources: [`arn:aws:ec2:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:instance/${inst.instanceId}`],
            detail: {
                "association-id": randomUUID(),
                "instance-id": inst.instanceId,
                "document-name": this.knobs.associationDocument,
                "document-version": "1",
                targets: JSON.stringify([{ key: "InstanceIds", values: [inst.instanceId] }]),
                "creation-date": now,
                "last-successful-execution-date": now,
                "last-execution-date": now,
                "last-updated-date": now,
                status: "Success",
                "association-status-aggregated-count": '{"Success":1}',
                "schedule-expression": "",
                "association-cwe-version": "1.1",
                "detailed-status": "Success",
                "error-code": "",
                "execution-summary": "1 out of 1 plugin processed, 1 success, 0 failed, 0 timed out, 0 skipped. ",
                "output-url": "",
                "instance-association-cwe-version": "1",
            },
        });
    }

    /** The instance's SSM agent answers pings. */
    isOnline(inst: LocalInstance): boolean {
        return inst.state === "running" && inst.agentOnlineAt !== undefined && inst.agentOnlineAt <= Date.now();
    }

    terminate(instanceId: string): void {
        const inst = this.instance(instanceId);
        inst.state = "terminated";
        this.bus?.put({
            source: "aws.ec2",
            detailType: EC2_RUNNING_DETAIL_TYPE,
            resources: [`arn:aws:ec2:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:instance/${instanceId}`],
            detail: { "instance-id": instanceId, state: "terminated" },
        });
    }

    /** Knob: the document always fails on this host, with `reason` on stderr. */
    setFailing(instanceId: string, reason: string | undefined): void {
        this.instance(instanceId).failing = reason;
    }

    /** Puts a parameter as an operator (or the deploy) would, bypassing throttling. */
    /** Writes a parameter as PutParameter would; `modifiedAt` (ms) backdates it (a write that happened earlier). */
    putParameterDirect(name: string, value: string, type: Parameter["type"] = "String", modifiedAt = Date.now()): void {
        const prev = this.parameters.get(name);
        this.parameters.set(name, { name, type, value, version: (prev?.version ?? 0) + 1, lastModified: modifiedAt });
    }

    deleteParameterDirect(name: string): void {
        this.parameters.delete(name);
    }

    private instance(id: string): LocalInstance {
        const inst = this.instances.get(id);
        if (!inst) throw new Error(`no local instance ${id}`);
        return inst;
    }

    // ------------------------------------------------------------------ wire

    /** One handler per operation, each behind its own token bucket (AWS throttles each API separately). */
    handlerTable(): HandlerTable {
        const guard = (service: string, action: string, fn: OpHandler, code = "ThrottlingException"): OpHandler => {
            const key = service === "ssm" ? action : `${service}:${action}`;
            return async (input: unknown, ctx?: CallContext) => {
                this.requests.push({ service, action, input: (input ?? {}) as Record<string, unknown> });
                try {
                    const deny = this.knobs.denyNext;
                    if (deny && (deny[key] ?? 0) > 0) {
                        deny[key]--;
                        throw new ApiError("AccessDeniedException", `User: arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/provisioner is not authorized to perform: ${service}:${action} because no identity-based policy allows the ${service}:${action} action`);
                    }
                    this.throttle(key, code);
                    return await fn((input ?? {}) as Record<string, unknown>, ctx);
                } catch (err) {
                    this.count(this.stats.errors, `${key}:${(err as Error).name}`);
                    throw err;
                }
            };
        };
        const ssm: Record<string, (i: Record<string, unknown>, ctx?: CallContext) => unknown> = {
            SendCommand: (i, ctx) => this.sendCommand(i, ctx),
            StartSession: (i) => this.startSession(i),
            GetCommandInvocation: (i) => this.getCommandInvocation(i),
            ListCommandInvocations: (i) => this.listCommandInvocations(i),
            DescribeInstanceInformation: (i) => this.describeInstanceInformation(i),
            PutParameter: (i) => this.putParameter(i),
            GetParameter: (i) => this.getParameter(i),
            GetParameters: (i) => this.getParameters(i),
            GetParametersByPath: (i) => this.getParametersByPath(i),
            DeleteParameter: (i) => this.deleteParameter(i),
        };
        const sqs: Record<string, (i: Record<string, unknown>) => unknown> = {
            SendMessage: (i) => this.sqsSendMessage(i),
            GetQueueUrl: (i) => this.sqsGetQueueUrl(i),
        };
        const wrap = (service: string, t: Record<string, (i: Record<string, unknown>, ctx?: CallContext) => unknown>, code?: string) =>
            Object.fromEntries(Object.entries(t).map(([a, f]) => [a, guard(service, a, f as OpHandler, code)]));
        return {
            ssm: wrap("ssm", ssm),
            sqs: wrap("sqs", sqs),
            ec2: wrap("ec2", { DescribeInstances: (i) => this.describeInstances(i) }, "RequestLimitExceeded"),
        };
    }

    private count(m: Record<string, number>, k: string): void {
        m[k] = (m[k] ?? 0) + 1;
    }

    private throttle(action: string, code = "ThrottlingException"): void {
        this.count(this.stats.calls, action);
        const knob = this.knobs.throttle;
        if (!knob || (knob.actions && !knob.actions.includes(action))) return;
        let bucket = this.buckets.get(action);
        if (!bucket) {
            bucket = new TokenBucket(knob.ratePerSecond, knob.burst ?? knob.ratePerSecond);
            this.buckets.set(action, bucket);
        }
        if (!bucket.take()) {
            this.count(this.stats.throttled, action);
            this.emit("throttled", action);
            throw new ApiError(code, "Rate exceeded");
        }
    }

    // ------------------------------------------------------------------ SSM: Run Command

    /**
     * StartSession with `AWS-StartSSHSession`, as `aws ssm start-session` calls it: the target must be a
     * running instance whose agent is online (else TargetNotConnected). The stream (the service's
     * data channel to the agent, which opens the port on the instance) is the instance's sshd here:
     * `StreamUrl` is `tcp://<address>:<port>`, what the local session-manager-plugin connects to.
     */
    private startSession(input: Record<string, unknown>): unknown {
        const target = String(input.Target ?? "");
        if (input.DocumentName !== "AWS-StartSSHSession") throw new ApiError("InvalidDocument", `the local endpoint serves only AWS-StartSSHSession sessions; got ${String(input.DocumentName)}`);
        const port = (input.Parameters as Record<string, string[]> | undefined)?.portNumber?.[0] ?? "22";
        const inst = this.instances.get(target);
        if (!inst || !this.isOnline(inst)) throw new ApiError("TargetNotConnected", `${target} is not connected.`);
        if (port !== "22" || !inst.sshEndpoint) throw new ApiError("InvalidParameters", `nothing listens on port ${port} of ${target}`);
        const sessionId = `pka-local-${randomUUID()}`;
        return { SessionId: sessionId, TokenValue: randomUUID(), StreamUrl: `tcp://${inst.sshEndpoint.host}:${inst.sshEndpoint.port}` };
    }

    /** Makes a queue reachable through SQS SendMessage/GetQueueUrl (another fleet's DLQ in the same account). */
    addQueue(q: LocalQueue): void {
        this.queues.set(q.name, q);
    }

    private sendCommand(input: Record<string, unknown>, ctx?: CallContext): unknown {
        const documentName = input.DocumentName;
        if (typeof documentName !== "string" || !documentName) throw new ApiError("ValidationException", "1 validation error detected: DocumentName must not be null");
        const docKey = documentName.startsWith("arn:") ? documentName.slice(documentName.lastIndexOf("/") + 1) : documentName;
        const document = this.documents.get(docKey);
        if (!document) throw new ApiError("InvalidDocument", `Document with name ${documentName} does not exist.`);
        if (input.Targets !== undefined) throw new ApiError("ValidationException", "the local endpoint supports InstanceIds, not Targets");
        const ids = input.InstanceIds;
        if (!Array.isArray(ids) || ids.length === 0) throw new ApiError("ValidationException", "InstanceIds or Targets must be given");
        if (ids.length > SEND_COMMAND_MAX_INSTANCES) {
            throw new ApiError(
                "ValidationException",
                `1 validation error detected: Value '[${ids.join(", ")}]' at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to ${SEND_COMMAND_MAX_INSTANCES}`,
            );
        }
        if (input.Comment !== undefined && String(input.Comment).length > 100) {
            throw new ApiError("ValidationException", "1 validation error detected: Value at 'comment' failed to satisfy constraint: Member must have length less than or equal to 100");
        }
        if (input.TimeoutSeconds !== undefined && (Number(input.TimeoutSeconds) < 30 || Number(input.TimeoutSeconds) > 2592000)) {
            throw new ApiError("ValidationException", "1 validation error detected: Value at 'timeoutSeconds' failed to satisfy constraint: Member must have value between 30 and 2592000");
        }
        if (Buffer.byteLength(JSON.stringify(input.Parameters ?? {})) > 64 * 1024) throw new ApiError("InvalidParameters", "parameters exceed 64 KB");
        const parameters = this.checkParameters(document, input.Parameters);
        const required = (ctx?.accessKeyId !== undefined ? this.knobs.requiredTagByAccessKey?.[ctx.accessKeyId] : undefined) ?? this.knobs.requiredTag;
        if (required) {
            const denied = ids.map(String).find((id) => this.instances.get(id)?.tags[required.key] !== required.value);
            if (denied) {
                throw new ApiError(
                    "AccessDeniedException",
                    `User: arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/provisioner is not authorized to perform: ssm:SendCommand on resource: arn:aws:ec2:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:instance/${denied}`,
                );
            }
        }
        const unique = [...new Set(ids.map(String))];
        const invalid = unique.filter((id) => {
            const inst = this.instances.get(id);
            return !inst || !this.isOnline(inst);
        });
        if (invalid.length > 0) throw new ApiError("InvalidInstanceId", `Instances [[${invalid.join(", ")}]] not in a valid state for account ${LOCAL_ACCOUNT_ID}`);

        const commandId = randomUUID();
        const requestedAt = Date.now();
        const comment = typeof input.Comment === "string" ? input.Comment : "";
        this.stats.sendCommandInstances.push(unique.length);
        for (const instanceId of unique) {
            const inv: Invocation = { commandId, instanceId, documentName: docKey, comment, requestedAt, status: "Pending", responseCode: -1, stdout: "", stderr: "" };
            this.invocations.set(`${commandId}/${instanceId}`, inv);
            this.emit("commandSent", inv);
            const pickup = this.knobs.agentPickupMs;
            this.later(typeof pickup === "function" ? pickup(instanceId) : (pickup ?? 20), () => this.runInvocation(inv, document, parameters));
        }
        return {
            Command: {
                CommandId: commandId,
                DocumentName: documentName,
                DocumentVersion: "$DEFAULT",
                Comment: comment,
                ExpiresAfter: epochSeconds(requestedAt + 3600_000),
                Parameters: parameters,
                InstanceIds: unique,
                Targets: [],
                RequestedDateTime: epochSeconds(requestedAt),
                Status: "Pending",
                StatusDetails: "Pending",
                MaxConcurrency: "50",
                MaxErrors: "0",
                TargetCount: unique.length,
                CompletedCount: 0,
                ErrorCount: 0,
                DeliveryTimedOutCount: 0,
                TimeoutSeconds: typeof input.TimeoutSeconds === "number" ? input.TimeoutSeconds : 3600,
            },
        };
    }

    /** The API-side parameter checks: known names, String vs StringList, required values, allowedPattern. */
    private checkParameters(document: SsmDocument, raw: unknown): Record<string, string[]> {
        const given = raw === undefined ? {} : raw;
        if (typeof given !== "object" || given === null || Array.isArray(given)) throw new ApiError("InvalidParameters", "Parameters must be a map of lists");
        const declared = document.parameters ?? {};
        const out: Record<string, string[]> = {};
        for (const [name, values] of Object.entries(given as Record<string, unknown>)) {
            const decl = declared[name];
            if (!decl) throw new ApiError("InvalidParameters", `Parameter "${name}" is not defined in the document.`);
            if (!Array.isArray(values) || !values.every((v) => typeof v === "string")) throw new ApiError("InvalidParameters", `Parameter "${name}" must be a list of strings.`);
            if (decl.type === "String" && values.length > 1) throw new ApiError("InvalidParameters", `Parameter "${name}" is a String and takes one value.`);
            for (const v of values as string[]) {
                if (decl.allowedPattern !== undefined && !fullMatch(decl.allowedPattern, v)) {
                    throw new ApiError("InvalidParameters", `Parameter "${name}" "${v.slice(0, 40)}" failed to satisfy constraint: Member must satisfy regular expression pattern: ${decl.allowedPattern}`);
                }
                if (decl.allowedValues && !decl.allowedValues.includes(v)) throw new ApiError("InvalidParameters", `Parameter "${name}" is not one of the allowed values.`);
            }
            out[name] = values as string[];
        }
        for (const [name, decl] of Object.entries(declared)) {
            if (out[name] !== undefined) continue;
            if (decl.default === undefined) throw new ApiError("InvalidParameters", `Parameter "${name}" is required and has no default.`);
            out[name] = Array.isArray(decl.default) ? decl.default : [decl.default];
        }
        return out;
    }

    private runInvocation(inv: Invocation, document: SsmDocument, parameters: Record<string, string[]>): void {
        const inst = this.instances.get(inv.instanceId);
        inv.status = "InProgress";
        inv.startedAt = Date.now();
        this.emitInvocation(inv);
        const work = (async () => {
            let result: RunResult;
            if (!inst || inst.state !== "running") {
                result = { exitCode: 1, stdout: "", stderr: "the instance is no longer running" };
            } else if (inst.failing !== undefined) {
                result = { exitCode: 1, stdout: "", stderr: inst.failing };
            } else {
                try {
                    result = await inst.runner({ instanceId: inv.instanceId, documentName: inv.documentName, document, parameters, agentVersion: inst.agentVersion });
                } catch (err) {
                    result = { exitCode: 1, stdout: "", stderr: `agent: ${(err as Error).message}` };
                }
            }
            inv.responseCode = result.exitCode;
            inv.stdout = result.stdout;
            inv.stderr = result.stderr;
            inv.status = result.exitCode === 0 ? "Success" : "Failed";
            inv.endedAt = Date.now();
            if (!this.closed) this.emitInvocation(inv);
        })();
        this.running.add(work);
        void work.finally(() => this.running.delete(work));
    }

    private emitInvocation(inv: Invocation): void {
        this.emit("invocation", inv);
        this.bus?.put({
            source: "aws.ssm",
            detailType: COMMAND_RESULT_DETAIL_TYPE,
            resources: [`arn:aws:ec2:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:instance/${inv.instanceId}`],
            detail: {
                "command-id": inv.commandId,
                "document-name": inv.documentName,
                "instance-id": inv.instanceId,
                "requested-date-time": new Date(inv.requestedAt).toISOString(),
                status: inv.status,
            },
        });
    }

    private invocationOut(inv: Invocation): Record<string, unknown> {
        const statusDetails = inv.status === "Failed" ? "Failed" : inv.status;
        return {
            CommandId: inv.commandId,
            InstanceId: inv.instanceId,
            Comment: inv.comment,
            DocumentName: inv.documentName,
            DocumentVersion: "$DEFAULT",
            PluginName: "aws:runShellScript",
            ResponseCode: inv.responseCode,
            ExecutionStartDateTime: inv.startedAt ? new Date(inv.startedAt).toISOString() : "",
            ExecutionElapsedTime: inv.startedAt && inv.endedAt ? `PT${((inv.endedAt - inv.startedAt) / 1000).toFixed(3)}S` : "",
            ExecutionEndDateTime: inv.endedAt ? new Date(inv.endedAt).toISOString() : "",
            Status: inv.status,
            StatusDetails: statusDetails,
            StandardOutputContent: inv.stdout.slice(0, SSM_OUTPUT_LIMIT),
            StandardOutputUrl: "",
            StandardErrorContent: inv.stderr.slice(0, SSM_ERROR_LIMIT),
            StandardErrorUrl: "",
        };
    }

    private getCommandInvocation(input: Record<string, unknown>): unknown {
        const inv = this.invocations.get(`${input.CommandId}/${input.InstanceId}`);
        const visibleAfter = this.knobs.invocationVisibleAfterMs ?? 300;
        if (!inv || Date.now() - inv.requestedAt < visibleAfter) throw new ApiError("InvocationDoesNotExist", "");
        return this.invocationOut(inv);
    }

    /**
     * ListCommandInvocations: MaxResults 1-50 a page (default 50), NextToken. With Details, each
     * invocation carries its plugin's result, whose Output is stdout and stderr joined by
     * aws:runShellScript's "----------ERROR-------" line, cut at 2,500 characters as SSM does.
     */
    private listCommandInvocations(input: Record<string, unknown>): unknown {
        const visibleAfter = this.knobs.invocationVisibleAfterMs ?? 300;
        const maxResults = input.MaxResults === undefined ? 50 : Number(input.MaxResults);
        if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > 50) {
            throw new ApiError("ValidationException", "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 50");
        }
        const list = [...this.invocations.values()].filter(
            (i) =>
                (input.CommandId === undefined || i.commandId === input.CommandId) &&
                (input.InstanceId === undefined || i.instanceId === input.InstanceId) &&
                Date.now() - i.requestedAt >= visibleAfter,
        );
        const start = typeof input.NextToken === "string" ? Number(input.NextToken) || 0 : 0;
        const page = list.slice(start, start + maxResults);
        const next = start + maxResults < list.length ? String(start + maxResults) : undefined;
        return {
            CommandInvocations: page.map((i) => ({
                CommandId: i.commandId,
                InstanceId: i.instanceId,
                DocumentName: i.documentName,
                Comment: i.comment,
                RequestedDateTime: epochSeconds(i.requestedAt),
                Status: i.status,
                StatusDetails: i.status,
                ...(input.Details === true
                    ? {
                          CommandPlugins: [
                              {
                                  Name: "runShellScript",
                                  Status: i.status,
                                  StatusDetails: i.status,
                                  ResponseCode: i.responseCode,
                                  Output: listedPluginOutput(i.stdout, i.stderr),
                              },
                          ],
                      }
                    : {}),
            })),
            ...(next ? { NextToken: next } : {}),
        };
    }

    // ------------------------------------------------------------------ SSM: inventory

    private describeInstanceInformation(input: Record<string, unknown>): unknown {
        const filters = (input.Filters ?? []) as { Key?: string; Values?: string[] }[];
        const legacy = (input.InstanceInformationFilterList ?? []) as { key?: string; valueSet?: string[] }[];
        if (filters.length > 0 && legacy.length > 0) {
            throw new ApiError("InvalidFilter", "InstanceInformationFilterList and Filters cannot be used together");
        }
        const all = [
            ...filters.map((f) => ({ key: String(f.Key ?? ""), values: (f.Values ?? []).map(String) })),
            ...legacy.map((f) => ({ key: String(f.key ?? ""), values: (f.valueSet ?? []).map(String) })),
        ];
        const hasTag = all.some((f) => f.key.startsWith("tag:") || f.key === "tag-key");
        const hasOther = all.some((f) => !(f.key.startsWith("tag:") || f.key === "tag-key"));
        if (hasTag && hasOther) {
            // The API reference: tag filters cannot be combined with other filter types.
            throw new ApiError("InvalidFilter", "Tag filters can't be combined with other filter types");
        }
        for (const f of all) {
            if (f.values.length === 0 && f.key !== "tag-key") throw new ApiError("InvalidFilterValue", `Filter ${f.key} needs values`);
            if (f.key === "InstanceIds" && f.values.length > 50) throw new ApiError("InvalidFilterValue", "InstanceIds filter takes at most 50 values");
        }
        const maxResults = typeof input.MaxResults === "number" ? input.MaxResults : 50;
        if (maxResults < 5 || maxResults > 50) throw new ApiError("ValidationException", "MaxResults must be between 5 and 50");

        const registered = [...this.instances.values()].filter((i) => i.agentOnlineAt !== undefined && i.agentOnlineAt <= Date.now());
        // An InstanceIds filter naming an id SSM has never seen fails the whole call (InvalidInstanceId), as SSM does.
        const known = new Set(registered.map((i) => i.instanceId));
        const unknownIds = all.filter((f) => f.key === "InstanceIds" || f.key === "instanceIds").flatMap((f) => f.values).filter((id) => !known.has(id));
        if (unknownIds.length > 0) throw new ApiError("InvalidInstanceId", `Instance ids [${unknownIds.join(", ")}] are not valid managed nodes for account ${LOCAL_ACCOUNT_ID}`);
        const matching = registered.filter((inst) =>
            all.every((f) => {
                const ping = this.isOnline(inst) ? "Online" : "ConnectionLost";
                switch (f.key) {
                    case "InstanceIds":
                    case "instanceIds":
                        return f.values.includes(inst.instanceId);
                    case "PingStatus":
                        return f.values.includes(ping);
                    case "PlatformTypes":
                        return f.values.includes("Linux");
                    case "ResourceType":
                        return f.values.includes("EC2Instance");
                    case "tag-key":
                        return f.values.some((k) => k in inst.tags);
                    default:
                        if (f.key.startsWith("tag:")) return f.values.includes(inst.tags[f.key.slice(4)] ?? "\u0000");
                        throw new ApiError("InvalidInstanceInformationFilterValue", `the local endpoint does not implement the filter ${f.key}`);
                }
            }),
        );
        const start = typeof input.NextToken === "string" ? Number(input.NextToken) || 0 : 0;
        const page = matching.slice(start, start + maxResults);
        const next = start + maxResults < matching.length ? String(start + maxResults) : undefined;
        return {
            InstanceInformationList: page.map((inst) => ({
                InstanceId: inst.instanceId,
                PingStatus: this.isOnline(inst) ? "Online" : "ConnectionLost",
                LastPingDateTime: epochSeconds(Date.now()),
                AgentVersion: inst.agentVersion,
                IsLatestVersion: true,
                PlatformType: "Linux",
                PlatformName: "Debian GNU/Linux",
                PlatformVersion: "12",
                ResourceType: "EC2Instance",
                IPAddress: inst.ipAddress,
                ComputerName: inst.computerName,
            })),
            ...(next ? { NextToken: next } : {}),
        };
    }

    // ------------------------------------------------------------------ SSM: Parameter Store

    private paramOut(p: Parameter): Record<string, unknown> {
        return {
            Name: p.name,
            Type: p.type,
            Value: p.value,
            Version: p.version,
            LastModifiedDate: epochSeconds(p.lastModified),
            ARN: `arn:aws:ssm:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:parameter${p.name.startsWith("/") ? "" : "/"}${p.name}`,
            DataType: "text",
        };
    }

    private putParameter(input: Record<string, unknown>): unknown {
        const name = input.Name;
        const value = input.Value;
        if (typeof name !== "string" || !/^[A-Za-z0-9_.\-/]{1,2048}$/.test(name)) throw new ApiError("ValidationException", "Parameter name is invalid");
        if (typeof value !== "string") throw new ApiError("ValidationException", "Value must be a string");
        const tier = input.Tier === "Advanced" ? "Advanced" : "Standard";
        const limit = tier === "Advanced" ? 8192 : STANDARD_PARAMETER_BYTES;
        if (Buffer.byteLength(value) > limit) {
            throw new ApiError("ValidationException", `Standard tier parameters support a maximum parameter value of ${limit} characters.`);
        }
        const prev = this.parameters.get(name);
        if (prev && input.Overwrite !== true) throw new ApiError("ParameterAlreadyExists", "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.");
        const type = (input.Type as Parameter["type"]) ?? prev?.type ?? "String";
        const p: Parameter = { name, type, value, version: (prev?.version ?? 0) + 1, lastModified: Date.now() };
        this.parameters.set(name, p);
        this.emit("parameter", p);
        return { Version: p.version, Tier: tier };
    }

    private getParameter(input: Record<string, unknown>): unknown {
        const p = this.parameters.get(String(input.Name));
        if (!p) throw new ApiError("ParameterNotFound", "");
        return { Parameter: this.paramOut(p) };
    }

    private getParameters(input: Record<string, unknown>): unknown {
        const names = Array.isArray(input.Names) ? input.Names.map(String) : [];
        if (names.length < 1 || names.length > 10) throw new ApiError("ValidationException", "Names must have 1 to 10 items");
        const found = names.filter((n) => this.parameters.has(n));
        return { Parameters: found.map((n) => this.paramOut(this.parameters.get(n)!)), InvalidParameters: names.filter((n) => !this.parameters.has(n)) };
    }

    private getParametersByPath(input: Record<string, unknown>): unknown {
        const path = String(input.Path ?? "");
        if (!path.startsWith("/")) throw new ApiError("ValidationException", "Path must start with /");
        const maxResults = typeof input.MaxResults === "number" ? input.MaxResults : 10;
        if (maxResults < 1 || maxResults > 10) throw new ApiError("ValidationException", "MaxResults must be between 1 and 10");
        const prefix = path.endsWith("/") ? path : `${path}/`;
        const recursive = input.Recursive === true;
        const all = [...this.parameters.values()]
            .filter((p) => p.name.startsWith(prefix) && (recursive || !p.name.slice(prefix.length).includes("/")))
            .sort((a, b) => (a.name < b.name ? -1 : 1));
        const start = typeof input.NextToken === "string" ? Number(input.NextToken) || 0 : 0;
        const page = all.slice(start, start + maxResults);
        const next = start + maxResults < all.length ? String(start + maxResults) : undefined;
        return { Parameters: page.map((p) => this.paramOut(p)), ...(next ? { NextToken: next } : {}) };
    }

    private deleteParameter(input: Record<string, unknown>): unknown {
        if (!this.parameters.delete(String(input.Name))) throw new ApiError("ParameterNotFound", "");
        return {};
    }

    // ------------------------------------------------------------------ SQS

    private queueByUrl(url: unknown): LocalQueue {
        const name = typeof url === "string" ? url.slice(url.lastIndexOf("/") + 1) : "";
        const q = this.queues.get(name);
        if (!q) throw new ApiError("QueueDoesNotExist", "The specified queue does not exist.");
        return q;
    }

    private sqsSendMessage(input: Record<string, unknown>): unknown {
        const q = this.queueByUrl(input.QueueUrl);
        const body = input.MessageBody;
        if (typeof body !== "string" || body.length === 0) throw new ApiError("InvalidParameterValue", "MessageBody must be a non-empty string");
        if (Buffer.byteLength(body) > 262_144) throw new ApiError("InvalidParameterValue", "Message must be shorter than 262144 bytes.");
        const delay = typeof input.DelaySeconds === "number" ? input.DelaySeconds : undefined;
        if (delay !== undefined && (delay < 0 || delay > 900)) throw new ApiError("InvalidParameterValue", "DelaySeconds must be 0..900");
        const attrs: Record<string, { dataType: "String" | "Number" | "Binary"; stringValue?: string }> = {};
        for (const [k, v] of Object.entries((input.MessageAttributes ?? {}) as Record<string, { DataType?: string; StringValue?: string }>)) {
            attrs[k] = { dataType: (v.DataType as "String") ?? "String", stringValue: v.StringValue };
        }
        const text = (v: unknown) => (typeof v === "string" && v ? v : undefined);
        let id: string;
        try {
            id = q.send(body, {
                ...(delay !== undefined ? { delayMs: delay * 1000 } : {}),
                messageAttributes: attrs,
                groupId: text(input.MessageGroupId),
                deduplicationId: text(input.MessageDeduplicationId),
            });
        } catch (err) {
            if (err instanceof QueueSendError) throw new ApiError(err.code, err.message);
            throw err;
        }
        return { MessageId: id, MD5OfMessageBody: createHash("md5").update(body).digest("hex") };
    }

    private sqsGetQueueUrl(input: Record<string, unknown>): unknown {
        const q = this.queues.get(String(input.QueueName));
        if (!q) throw new ApiError("QueueDoesNotExist", "The specified queue does not exist.");
        return { QueueUrl: q.url };
    }

    // ------------------------------------------------------------------ EC2

    /** DescribeInstances with the filters the Lambda uses; the output in the SDK's shape (fakeAws renders the XML). */
    private describeInstances(i: Record<string, unknown>): unknown {
        const filters = (i.Filters ?? []) as { Name: string; Values: string[] }[];
        const ids = (i.InstanceIds ?? []) as string[];
        const unknownIds = ids.filter((id) => !this.instances.has(id));
        if (unknownIds.length > 0) throw new ApiError("InvalidInstanceID.NotFound", `The instance IDs '${unknownIds.join(", ")}' do not exist`);
        const wildcard = (pattern: string, v: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`).test(v);
        const matching = [...this.instances.values()].filter(
            (inst) =>
                (ids.length === 0 || ids.includes(inst.instanceId)) &&
                filters.every((f) => {
                    if (!f.Values?.length || f.Values.length > 200) throw new ApiError("InvalidParameterValue", `The filter '${f.Name}' needs 1 to 200 values`);
                    if (f.Name === "instance-id") return f.Values.some((v) => wildcard(v, inst.instanceId));
                    if (f.Name === "instance-state-name") return f.Values.includes(inst.state);
                    if (f.Name === "tag-key") return f.Values.some((k) => k in inst.tags);
                    if (f.Name.startsWith("tag:")) {
                        const v = inst.tags[f.Name.slice(4)];
                        return v !== undefined && f.Values.some((p) => wildcard(p, v));
                    }
                    throw new ApiError("InvalidParameterValue", `The filter '${f.Name}' is invalid`);
                }),
        );
        return {
            Reservations: matching.map((inst) => ({
                Instances: [{ InstanceId: inst.instanceId, PrivateIpAddress: inst.ipAddress, Tags: Object.entries(inst.tags).map(([Key, Value]) => ({ Key, Value })) }],
            })),
        };
    }
}
