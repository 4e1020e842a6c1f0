/**
 * A small fake of the AWS APIs the provisioner Lambda calls, in two layers:
 *
 *  1. FakeAwsState: the model (instances with tags and agent ping status, documents, parameters,
 *     commands and their invocations, queues) with one handler per API operation. Each handler
 *     rejects what AWS rejects (more than 50 InstanceIds, an unknown document, an instance whose
 *     agent is not online, a Comment over 100 characters, MaxResults out of range, tag filters
 *     combined with other filters, an untagged instance when the IAM tag condition is on, ...)
 *     with AWS's error codes. Tests plug the handlers into aws-sdk-client-mock; knobs simulate
 *     throttling (fixed count or a token bucket on an injectable clock) and eventual consistency.
 *
 *  2. startFakeAwsServer(): an HTTP endpoint speaking the wire protocols, so the REAL bundled
 *     Lambda reaches it through AWS_ENDPOINT_URL_SSM / _EC2 / _SQS:
 *       - AWS JSON 1.1 / 1.0 dispatched by the X-Amz-Target header ("AmazonSSM.SendCommand",
 *         "AmazonSQS.SendMessage"): { "__type": code, "message": ... } errors;
 *       - the EC2 Query protocol (form-encoded Action=..., XML responses and errors).
 *     The dispatcher takes any handler table, so the local fleet can extend it (a local SSM that
 *     runs documents on real sshd hosts replaces `runCommand`).
 */
import { createHash, randomUUID } from "crypto";
import * as http from "http";
import { Readable } from "stream";
import { AddressInfo } from "net";
import { INSTANCE_ID_RE } from "../core/events";
import { listedPluginOutput } from "../core/document";
import { checkSqsSend, LOCAL_ACCOUNT_ID, LOCAL_REGION, QueueSendError } from "./queue";

/** An AWS error as the SDK surfaces it (name = error code). */
export class AwsApiError extends Error {
    readonly $fault: "client" | "server";
    readonly $metadata: { httpStatusCode: number };
    constructor(
        readonly code: string,
        message: string,
        readonly status = 400,
    ) {
        super(message);
        this.name = code;
        this.$fault = status >= 500 ? "server" : "client";
        this.$metadata = { httpStatusCode: status };
    }
}

/** Who calls: the access key id of the request's signature (`Credential=<key>/...`), standing in for the caller's role. */
export interface CallContext {
    accessKeyId?: string;
}
/** An operation: the decoded input and, when served over HTTP, the CallContext (left loose so the SDK mocks' handlers fit too). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type OpHandler = (input: any, ctx?: any) => unknown | Promise<unknown>;

/** The access key id a SigV4 `Authorization` header names. */
export function accessKeyOf(authorization: string | string[] | undefined): string | undefined {
    const m = /Credential=([A-Za-z0-9]+)\//.exec(Array.isArray(authorization) ? authorization[0] : authorization ?? "");
    return m?.[1];
}
export type ServiceName = "ssm" | "ec2" | "sqs";
export type HandlerTable = Partial<Record<ServiceName, Record<string, OpHandler>>>;

export type PingStatus = "Online" | "ConnectionLost" | "Inactive";
export interface FakeInstance {
    id: string;
    tags: Record<string, string>;
    /** undefined: the agent never registered (DescribeInstanceInformation does not list it). */
    pingStatus?: PingStatus;
    /** AgentVersion DescribeInstanceInformation reports (default 3.3.2746.0). */
    agentVersion?: string;
}

export interface FakeInvocation {
    commandId: string;
    instanceId: string;
    documentName: string;
    comment: string;
    parameters: Record<string, string[]>;
    status: "Pending" | "InProgress" | "Success" | "Failed" | "TimedOut" | "Cancelled";
    statusDetails: string;
    stdout: string;
    stderr: string;
    responseCode: number;
    /** GetCommandInvocation says InvocationDoesNotExist this many more times. */
    lag: number;
}

export interface RunResult {
    status: FakeInvocation["status"];
    stdout?: string;
    stderr?: string;
    responseCode?: number;
}

export interface CallRecord {
    service: ServiceName;
    op: string;
    input: any;
    error?: string;
}

function validation(msg: string): AwsApiError {
    return new AwsApiError("ValidationException", `1 validation error detected: ${msg}`);
}

export class FakeAwsState {
    readonly instances = new Map<string, FakeInstance>();
    readonly documents = new Set<string>();
    /** modifiedAt (ms): what GetParametersByPath reports as LastModifiedDate; unset: the moment it is read. */
    readonly parameters = new Map<string, { value: string; type: string; version: number; modifiedAt?: number }>();
    readonly invocations = new Map<string, FakeInvocation>();
    readonly commands: { commandId: string; documentName: string; instanceIds: string[]; comment: string }[] = [];
    readonly queues = new Map<string, { body: string; messageId: string; delaySeconds?: number; groupId?: string; deduplicationId?: string }[]>();
    readonly calls: CallRecord[] = [];
    /** Throw ThrottlingException on the next N calls of an operation. */
    readonly throttleNext: Record<string, number> = {};
    /** IAM not yet propagated: throw AccessDeniedException on the next N calls of an operation. */
    readonly denyNext: Record<string, number> = {};
    /** Token bucket per operation on `clock` (ms): { ratePerSec, burst }. */
    readonly rateLimit: Record<string, { ratePerSec: number; burst: number; tokens?: number; at?: number }> = {};
    /** The virtual clock the token buckets use (tests advance it from their injected sleep). */
    clock: () => number = () => Date.now();
    /** GetCommandInvocation answers InvocationDoesNotExist this many times for each new invocation. */
    invocationLag = 0;
    /** Simulates the IAM condition ssm:resourceTag/<key> = value on SendCommand: one untagged id denies the whole call. */
    requiredTag?: { key: string; value: string };
    /** What an invocation does (default: Success, printing nothing). The local fleet runs the real script here. */
    runCommand: (inv: FakeInvocation) => RunResult | Promise<RunResult> = () => ({ status: "Success" });

    addInstance(id: string, tags: Record<string, string>, pingStatus?: PingStatus): this {
        if (!INSTANCE_ID_RE.test(id)) throw new Error(`bad instance id ${id}`);
        this.instances.set(id, { id, tags, pingStatus });
        return this;
    }

    /** Runs `fn` as AWS would run operation `service.op`: throttling knobs first, then the handler; records the call. */
    async call(service: ServiceName, op: string, input: any, fn: OpHandler): Promise<unknown> {
        const rec: CallRecord = { service, op, input };
        this.calls.push(rec);
        try {
            this.throttleCheck(op);
            return await fn(input ?? {});
        } catch (err) {
            rec.error = (err as Error).name;
            throw err;
        }
    }

    callsOf(op: string): CallRecord[] {
        return this.calls.filter((c) => c.op === op);
    }

    private throttleCheck(op: string): void {
        if ((this.denyNext[op] ?? 0) > 0) {
            this.denyNext[op]--;
            throw new AwsApiError("AccessDeniedException", `User: arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/provisioner is not authorized to perform: ${op} because no identity-based policy allows it`);
        }
        if ((this.throttleNext[op] ?? 0) > 0) {
            this.throttleNext[op]--;
            throw new AwsApiError("ThrottlingException", "Rate exceeded");
        }
        const b = this.rateLimit[op];
        if (b) {
            const now = this.clock();
            b.tokens = Math.min(b.burst, (b.tokens ?? b.burst) + ((now - (b.at ?? now)) / 1000) * b.ratePerSec);
            b.at = now;
            if (b.tokens < 1) throw new AwsApiError("ThrottlingException", "Rate exceeded");
            b.tokens -= 1;
        }
    }

    // ---- SSM ------------------------------------------------------------------------------

    ssmHandlers(): Record<string, OpHandler> {
        return {
            SendCommand: (i) => this.sendCommand(i),
            DescribeInstanceInformation: (i) => this.describeInstanceInformation(i),
            GetCommandInvocation: (i) => this.getCommandInvocation(i),
            ListCommandInvocations: (i) => this.listCommandInvocations(i),
            GetParameters: (i) => this.getParameters(i),
            GetParametersByPath: (i) => this.getParametersByPath(i),
            PutParameter: (i) => this.putParameter(i),
        };
    }

    private async sendCommand(i: any): Promise<unknown> {
        const doc: string = i.DocumentName;
        if (!doc) throw validation("Value null at 'documentName' failed to satisfy constraint: Member must not be null");
        const ids: string[] = i.InstanceIds ?? [];
        if (ids.length > 50) {
            throw validation(`Value '[${ids.join(", ")}]' at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to 50`);
        }
        if (ids.length === 0 && !i.Targets) throw validation("InstanceIds or Targets is required");
        if (i.Comment !== undefined && String(i.Comment).length > 100) {
            throw validation("Value at 'comment' failed to satisfy constraint: Member must have length less than or equal to 100");
        }
        if (i.TimeoutSeconds !== undefined && (i.TimeoutSeconds < 30 || i.TimeoutSeconds > 2592000)) {
            throw validation("Value at 'timeoutSeconds' failed to satisfy constraint: Member must have value between 30 and 2592000");
        }
        const name = doc.startsWith("arn:") ? doc.slice(doc.lastIndexOf("/") + 1) : doc;
        if (!this.documents.has(name)) throw new AwsApiError("InvalidDocument", `Document ${doc} does not exist in your account`);
        for (const [k, v] of Object.entries(i.Parameters ?? {})) {
            if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) throw new AwsApiError("InvalidParameters", `parameter ${k} must be a list of strings`);
        }
        if (Buffer.byteLength(JSON.stringify(i.Parameters ?? {})) > 64 * 1024) throw new AwsApiError("InvalidParameters", "parameters exceed 64 KB");
        if (this.requiredTag) {
            const { key, value } = this.requiredTag;
            const bad = ids.find((id) => this.instances.get(id)?.tags[key] !== value);
            if (bad) {
                throw new AwsApiError(
                    "AccessDeniedException",
                    `User: arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/provisioner is not authorized to perform: ssm:SendCommand on resource: arn:aws:ec2:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:instance/${bad} because no identity-based policy allows the ssm:SendCommand action`,
                );
            }
        }
        for (const id of ids) {
            const inst = this.instances.get(id);
            if (!inst || inst.pingStatus !== "Online") throw new AwsApiError("InvalidInstanceId", "Instances not in a valid state for account");
        }
        const commandId = randomUUID();
        this.commands.push({ commandId, documentName: name, instanceIds: [...ids], comment: i.Comment ?? "" });
        for (const id of ids) {
            const inv: FakeInvocation = {
                commandId,
                instanceId: id,
                documentName: name,
                comment: i.Comment ?? "",
                parameters: i.Parameters ?? {},
                status: "Pending",
                statusDetails: "Pending",
                stdout: "",
                stderr: "",
                responseCode: -1,
                lag: this.invocationLag,
            };
            this.invocations.set(`${commandId}:${id}`, inv);
            const r = await this.runCommand(inv);
            inv.status = r.status;
            inv.statusDetails = r.status === "TimedOut" ? "DeliveryTimedOut" : r.status;
            inv.stdout = (r.stdout ?? "").slice(0, 24000);
            inv.stderr = (r.stderr ?? "").slice(0, 8000);
            inv.responseCode = r.responseCode ?? (r.status === "Success" ? 0 : 1);
        }
        return {
            Command: {
                CommandId: commandId,
                DocumentName: name,
                Comment: i.Comment,
                InstanceIds: ids,
                Parameters: i.Parameters,
                Status: "Pending",
                RequestedDateTime: Date.now() / 1000,
                TargetCount: ids.length,
            },
        };
    }

    private describeInstanceInformation(i: any): unknown {
        const max = i.MaxResults ?? 10;
        if (max < 5 || max > 50) throw validation("Value at 'maxResults' failed to satisfy constraint: Member must have value between 5 and 50");
        if (i.Filters && i.InstanceInformationFilterList) throw new AwsApiError("InvalidFilter", "InstanceInformationFilterList and Filters cannot be used together");
        const filters: { Key: string; Values: string[] }[] = i.Filters ?? [];
        const tagFilters = filters.filter((f) => f.Key.startsWith("tag:") || f.Key === "tag-key");
        if (tagFilters.length > 0 && tagFilters.length !== filters.length) {
            throw new AwsApiError("InvalidFilterKey", "Tag filters can't be combined with other filter types");
        }
        let list = [...this.instances.values()].filter((x) => x.pingStatus !== undefined);
        // An InstanceIds filter naming an id SSM does not know as a managed node fails the whole call.
        const unknown = filters.filter((f) => f.Key === "InstanceIds").flatMap((f) => f.Values ?? []).filter((id) => !list.some((x) => x.id === id));
        if (unknown.length > 0) throw new AwsApiError("InvalidInstanceId", `Instance ids [${unknown.join(", ")}] are not valid managed nodes`);
        for (const f of filters) {
            if (!f.Values || f.Values.length === 0 || f.Values.length > 100) throw new AwsApiError("InvalidFilterValue", `filter ${f.Key} needs 1 to 100 values`);
            if (f.Key === "InstanceIds") list = list.filter((x) => f.Values.includes(x.id));
            else if (f.Key === "PingStatus") list = list.filter((x) => f.Values.includes(x.pingStatus!));
            else if (f.Key === "tag-key") list = list.filter((x) => f.Values.some((k) => k in x.tags));
            else if (f.Key.startsWith("tag:")) list = list.filter((x) => f.Values.includes(x.tags[f.Key.slice(4)]));
            else throw new AwsApiError("InvalidFilterKey", `unsupported filter key ${f.Key}`);
        }
        list.sort((a, b) => (a.id < b.id ? -1 : 1));
        const start = i.NextToken ? Number(i.NextToken) : 0;
        const page = list.slice(start, start + max);
        return {
            InstanceInformationList: page.map((x) => ({
                InstanceId: x.id,
                PingStatus: x.pingStatus,
                AgentVersion: x.agentVersion ?? "3.3.2746.0",
                ResourceType: x.id.startsWith("mi-") ? "ManagedInstance" : "EC2Instance",
                PlatformType: "Linux",
                LastPingDateTime: Date.now() / 1000,
            })),
            NextToken: start + max < list.length ? String(start + max) : undefined,
        };
    }

    private getCommandInvocation(i: any): unknown {
        const inv = this.invocations.get(`${i.CommandId}:${i.InstanceId}`);
        if (!inv || inv.lag > 0) {
            if (inv) inv.lag--;
            throw new AwsApiError("InvocationDoesNotExist", "An error occurred (InvocationDoesNotExist)");
        }
        return {
            CommandId: inv.commandId,
            InstanceId: inv.instanceId,
            Comment: inv.comment,
            DocumentName: inv.documentName,
            PluginName: "pka",
            ResponseCode: inv.responseCode,
            Status: inv.status,
            StatusDetails: inv.statusDetails,
            StandardOutputContent: inv.stdout,
            StandardErrorContent: inv.stderr,
        };
    }

    /** ListCommandInvocations by CommandId, 1-50 a page; Details adds the plugin (Output: stdout, then stderr after aws:runShellScript's ERROR line, cut at 2,500 characters). Lagging invocations are not listed yet. */
    private listCommandInvocations(i: any): unknown {
        const max = i.MaxResults ?? 50;
        if (max < 1 || max > 50) throw validation("Value at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50");
        const all = [...this.invocations.values()].filter((v) => (i.CommandId === undefined || v.commandId === i.CommandId) && (i.InstanceId === undefined || v.instanceId === i.InstanceId) && v.lag <= 0);
        const start = i.NextToken ? Number(i.NextToken) : 0;
        const page = all.slice(start, start + max);
        return {
            CommandInvocations: page.map((v) => ({
                CommandId: v.commandId,
                InstanceId: v.instanceId,
                Comment: v.comment,
                DocumentName: v.documentName,
                Status: v.status,
                StatusDetails: v.statusDetails,
                ...(i.Details
                    ? { CommandPlugins: [{ Name: "pka", Status: v.status, ResponseCode: v.responseCode, Output: listedPluginOutput(v.stdout, v.stderr) }] }
                    : {}),
            })),
            ...(start + max < all.length ? { NextToken: String(start + max) } : {}),
        };
    }

    private getParameters(i: any): unknown {
        const names: string[] = i.Names ?? [];
        if (names.length < 1 || names.length > 10) throw validation("Value at 'names' failed to satisfy constraint: Member must have length between 1 and 10");
        const found = names.filter((n) => this.parameters.has(n));
        return {
            Parameters: found.map((n) => ({ Name: n, Type: this.parameters.get(n)!.type, Value: this.parameters.get(n)!.value, Version: this.parameters.get(n)!.version })),
            InvalidParameters: names.filter((n) => !this.parameters.has(n)),
        };
    }

    private getParametersByPath(i: any): unknown {
        const path: string = i.Path;
        if (!path || !path.startsWith("/")) throw validation("Value at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern");
        const max = i.MaxResults ?? 10;
        if (max < 1 || max > 10) throw validation("Value at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10");
        const prefix = path.endsWith("/") ? path : `${path}/`;
        const names = [...this.parameters.keys()]
            .filter((n) => n.startsWith(prefix) && (i.Recursive || !n.slice(prefix.length).includes("/")))
            .sort();
        const start = i.NextToken ? Number(i.NextToken) : 0;
        const page = names.slice(start, start + max);
        return {
            Parameters: page.map((n) => {
                const p = this.parameters.get(n)!;
                return { Name: n, Type: p.type, Value: p.value, Version: p.version, LastModifiedDate: new Date(p.modifiedAt ?? Date.now()) };
            }),
            NextToken: start + max < names.length ? String(start + max) : undefined,
        };
    }

    private putParameter(i: any): unknown {
        if (!i.Name || typeof i.Value !== "string") throw validation("Name and Value are required");
        if (Buffer.byteLength(i.Value) > 4096 && i.Tier !== "Advanced") {
            throw validation("Value at 'value' failed to satisfy constraint: Member must have length less than or equal to 4096");
        }
        const old = this.parameters.get(i.Name);
        if (old && !i.Overwrite) throw new AwsApiError("ParameterAlreadyExists", "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.");
        const version = (old?.version ?? 0) + 1;
        this.parameters.set(i.Name, { value: i.Value, type: i.Type ?? old?.type ?? "String", version, modifiedAt: Date.now() });
        return { Version: version, Tier: "Standard" };
    }

    // ---- EC2 ------------------------------------------------------------------------------

    ec2Handlers(): Record<string, OpHandler> {
        return { DescribeInstances: (i) => this.describeInstances(i) };
    }

    private describeInstances(i: any): { Reservations: { Instances: { InstanceId: string; Tags: { Key: string; Value: string }[] }[] }[] } {
        let list = [...this.instances.values()].filter((x) => x.id.startsWith("i-"));
        if (i.InstanceIds?.length) {
            const missing = i.InstanceIds.find((id: string) => !this.instances.has(id));
            if (missing) throw new AwsApiError("InvalidInstanceID.NotFound", `The instance ID '${missing}' does not exist`);
            list = list.filter((x) => i.InstanceIds.includes(x.id));
        }
        for (const f of (i.Filters ?? []) as { Name: string; Values: string[] }[]) {
            if (!f.Values?.length || f.Values.length > 200) throw new AwsApiError("InvalidParameterValue", `The filter '${f.Name}' needs 1 to 200 values`);
            if (f.Name === "instance-id") list = list.filter((x) => f.Values.includes(x.id));
            else if (f.Name.startsWith("tag:")) list = list.filter((x) => f.Values.includes(x.tags[f.Name.slice(4)]));
            else if (f.Name === "tag-key") list = list.filter((x) => f.Values.some((k) => k in x.tags));
            else throw new AwsApiError("InvalidParameterValue", `The filter '${f.Name}' is invalid`);
        }
        return {
            Reservations: list.map((x) => ({ Instances: [{ InstanceId: x.id, Tags: Object.entries(x.tags).map(([Key, Value]) => ({ Key, Value })) }] })),
        };
    }

    // ---- SQS ------------------------------------------------------------------------------

    addQueue(url: string): this {
        this.queues.set(url, []);
        return this;
    }

    sqsHandlers(): Record<string, OpHandler> {
        return {
            SendMessage: (i) => {
                const q = this.queues.get(i.QueueUrl);
                if (!q) throw new AwsApiError("QueueDoesNotExist", "The specified queue does not exist.");
                if (typeof i.MessageBody !== "string" || i.MessageBody.length === 0) throw new AwsApiError("MissingParameter", "The request must contain the parameter MessageBody.");
                if (Buffer.byteLength(i.MessageBody) > 262144) throw new AwsApiError("InvalidParameterValue", "One or more parameters are invalid. Reason: Message must be shorter than 262144 bytes.");
                // A FIFO queue's name ends in .fifo (SQS requires it).
                try {
                    checkSqsSend(String(i.QueueUrl).endsWith(".fifo"), { groupId: i.MessageGroupId, deduplicationId: i.MessageDeduplicationId, delay: i.DelaySeconds });
                } catch (e) {
                    if (e instanceof QueueSendError) throw new AwsApiError(e.code, e.message);
                    throw e;
                }
                const messageId = randomUUID();
                q.push({
                    body: i.MessageBody,
                    messageId,
                    ...(i.DelaySeconds !== undefined ? { delaySeconds: i.DelaySeconds } : {}),
                    ...(i.MessageGroupId !== undefined ? { groupId: i.MessageGroupId, deduplicationId: i.MessageDeduplicationId } : {}),
                });
                return { MessageId: messageId, MD5OfMessageBody: createHash("md5").update(i.MessageBody, "utf8").digest("hex") };
            },
        };
    }

    /** All three services' handlers, each wrapped with the knobs and the call log. */
    handlers(): HandlerTable {
        const wrap = (service: ServiceName, table: Record<string, OpHandler>) =>
            Object.fromEntries(Object.entries(table).map(([op, fn]) => [op, (input: any) => this.call(service, op, input, fn)]));
        return { ssm: wrap("ssm", this.ssmHandlers()), ec2: wrap("ec2", this.ec2Handlers()), sqs: wrap("sqs", this.sqsHandlers()) };
    }
}

// ---- the HTTP endpoint ------------------------------------------------------------------------

const JSON_TARGET_PREFIXES: Record<string, ServiceName> = { AmazonSSM: "ssm", AmazonSQS: "sqs" };

function xmlEscape(s: string): string {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Decodes EC2 Query parameters (Filter.1.Name, Filter.1.Value.1, InstanceId.1, ...) into the SDK's input shape. */
export function decodeEc2Query(params: URLSearchParams): Record<string, any> {
    const out: Record<string, any> = {};
    const filters: Record<string, { Name?: string; Values: string[] }> = {};
    const ids: string[] = [];
    for (const [k, v] of params) {
        let m: RegExpExecArray | null;
        if ((m = /^Filter\.(\d+)\.Name$/.exec(k))) (filters[m[1]] ??= { Values: [] }).Name = v;
        else if ((m = /^Filter\.(\d+)\.Value\.(\d+)$/.exec(k))) (filters[m[1]] ??= { Values: [] }).Values[Number(m[2]) - 1] = v;
        else if (/^InstanceId\.\d+$/.test(k)) ids.push(v);
        else if (k === "MaxResults") out.MaxResults = Number(v);
        else out[k] = v;
    }
    const f = Object.keys(filters)
        .sort((a, b) => Number(a) - Number(b))
        .map((n) => ({ Name: filters[n].Name!, Values: filters[n].Values.filter((x) => x !== undefined) }));
    if (f.length) out.Filters = f;
    if (ids.length) out.InstanceIds = ids;
    return out;
}

/** Renders an EC2 response as Query-protocol XML (DescribeInstances shape; other actions: flat fields). */
export function renderEc2Xml(action: string, output: any, requestId: string): string {
    let inner = "";
    if (output?.Reservations) {
        inner =
            "<reservationSet>" +
            output.Reservations.map(
                (r: any, n: number) =>
                    `<item><reservationId>r-${String(n).padStart(17, "0")}</reservationId><ownerId>${LOCAL_ACCOUNT_ID}</ownerId><instancesSet>` +
                    r.Instances.map(
                        (i: any) =>
                            `<item><instanceId>${xmlEscape(i.InstanceId)}</instanceId><instanceState><code>16</code><name>running</name></instanceState>` +
                            (i.PrivateIpAddress ? `<privateIpAddress>${xmlEscape(i.PrivateIpAddress)}</privateIpAddress>` : "") +
                            "<tagSet>" +
                            (i.Tags ?? []).map((t: any) => `<item><key>${xmlEscape(t.Key)}</key><value>${xmlEscape(t.Value)}</value></item>`).join("") +
                            "</tagSet></item>",
                    ).join("") +
                    "</instancesSet></item>",
            ).join("") +
            "</reservationSet>";
        if (output.NextToken) inner += `<nextToken>${xmlEscape(output.NextToken)}</nextToken>`;
    }
    return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>${requestId}</requestId>${inner}</${action}Response>`;
}

export interface FakeAwsServer {
    url: string;
    close(): Promise<void>;
}

/** Serves `handlers` over HTTP on 127.0.0.1 (port 0: any free port). */
export async function startFakeAwsServer(handlers: HandlerTable, port = 0): Promise<FakeAwsServer> {
    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c) => chunks.push(c));
        req.on("end", () => {
            void dispatchAwsRequest(handlers, req.headers, Buffer.concat(chunks).toString("utf8")).then(({ status, type, body }) => {
                res.writeHead(status, { "content-type": type, "x-amzn-requestid": randomUUID(), "content-length": Buffer.byteLength(body) });
                res.end(body);
            });
        });
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    const addr = server.address() as AddressInfo;
    return {
        url: `http://127.0.0.1:${addr.port}`,
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
}

/**
 * One request through the wire layer: JSON 1.0/1.1 by X-Amz-Target, else EC2 Query. The HTTP
 * server calls it, and so does an in-process SDK request handler (inProcessRequestHandler), which
 * serves the same bytes without a socket (the bench's virtual clock).
 */
export async function dispatchAwsRequest(handlers: HandlerTable, headers: http.IncomingHttpHeaders, body: string): Promise<{ status: number; type: string; body: string }> {
    const target = headers["x-amz-target"];
    const requestId = randomUUID();
    const ctx: CallContext = { accessKeyId: accessKeyOf(headers.authorization) };
    if (typeof target === "string") {
        const [prefix, op] = target.split(".");
        const service = JSON_TARGET_PREFIXES[prefix];
        const type = service === "sqs" ? "application/x-amz-json-1.0" : "application/x-amz-json-1.1";
        const fn = service ? handlers[service]?.[op] : undefined;
        if (!fn) return { status: 400, type, body: JSON.stringify({ __type: "UnknownOperationException", message: `unknown operation ${target}` }) };
        try {
            const out = await fn(body ? JSON.parse(body) : {}, ctx);
            // AWS JSON protocols carry timestamps as epoch seconds.
            const epoch = function (this: Record<string, unknown>, k: string, v: unknown) {
                return this[k] instanceof Date ? (this[k] as Date).getTime() / 1000 : v;
            };
            return { status: 200, type, body: JSON.stringify(out ?? {}, epoch) };
        } catch (err) {
            const e = err instanceof AwsApiError ? err : new AwsApiError("InternalServerError", String((err as Error)?.message ?? err), 500);
            return { status: e.status, type, body: JSON.stringify({ __type: e.code, message: e.message }) };
        }
    }
    const params = new URLSearchParams(body);
    const action = params.get("Action");
    const fn = action ? handlers.ec2?.[action] : undefined;
    const xmlError = (code: string, message: string, status: number) => ({
        status,
        type: "text/xml",
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`,
    });
    if (!fn) return xmlError("InvalidAction", `The action ${action} is not valid for this web service.`, 400);
    try {
        const out = await fn(decodeEc2Query(params), ctx);
        return { status: 200, type: "text/xml", body: renderEc2Xml(action!, out, requestId) };
    } catch (err) {
        const e = err instanceof AwsApiError ? err : new AwsApiError("InternalError", String((err as Error)?.message ?? err), 500);
        return xmlError(e.code, e.message, e.status);
    }
}

/**
 * An AWS SDK v3 request handler that serves every request from `handlers` in this process, through
 * dispatchAwsRequest: the SDK's own serialization, signing and parsing run as over HTTP, but no
 * socket or timer is involved, so a fake clock (bench/timing.ts) drives everything.
 */
export function inProcessRequestHandler(handlers: HandlerTable) {
    return {
        metadata: { handlerProtocol: "in-process" },
        async handle(request: { headers: Record<string, string>; body?: unknown }): Promise<{ response: { statusCode: number; headers: Record<string, string>; body: Readable } }> {
            const headers: http.IncomingHttpHeaders = {};
            for (const [k, v] of Object.entries(request.headers)) headers[k.toLowerCase()] = v;
            const raw = request.body;
            const body = raw === undefined || raw === null ? "" : typeof raw === "string" ? raw : Buffer.from(raw as Uint8Array).toString("utf8");
            const out = await dispatchAwsRequest(handlers, headers, body);
            // A stream, as the SDK's Node.js HTTP handler returns it.
            return { response: { statusCode: out.status, headers: { "content-type": out.type, "x-amzn-requestid": randomUUID() }, body: Readable.from([Buffer.from(out.body)]) } };
        },
        updateHttpClientConfig(): void {},
        httpHandlerConfigs(): Record<string, never> {
            return {};
        },
        destroy(): void {},
    };
}
