/**
 * A small fake of the AWS APIs the provisioner Lambda calls: FakeAwsState, the model (instances with
 * tags and agent ping status, documents, parameters, commands and their invocations, queues) with one
 * handler per API operation (local/fake/). Each handler rejects what AWS rejects, with AWS's error
 * codes: the rules are local/ssmRules.ts, local/ec2Rules.ts and local/sqsRules.ts, shared with the
 * local fleet's endpoint (local/ssmEndpoint.ts). Tests plug the handlers into aws-sdk-client-mock;
 * knobs simulate throttling (fixed count or a token bucket on an injectable clock), IAM propagation
 * and eventual consistency.
 *
 * The same handler table is served over the wire protocols by local/wire/ (startFakeAwsServer), so
 * the REAL bundled Lambda reaches it through AWS_ENDPOINT_URL_SSM / _EC2 / _SQS.
 */
import { LocalKms } from "./fake/kms";
import type { CallContext } from "./wire/handlers";
import { INSTANCE_ID_RE } from "../core/events";
import { accessDenied, raise, takeToken, throttled } from "./awsErrors";
import { fakeEc2Handlers, fakeSqsHandlers } from "./fake/ec2Sqs";
import { fakeSsmHandlers } from "./fake/ssm";
import { InvocationStatus, ReportedRun } from "./ssmRules";
import { HandlerTable, OpHandler, ServiceName } from "./wire/handlers";

export { AwsApiError } from "./awsErrors";
export { dispatchAwsRequest } from "./wire/dispatch";
export { startFakeAwsServer } from "./wire/server";

export type PingStatus = "Online" | "ConnectionLost" | "Inactive";
export interface FakeInstance {
    id: string;
    tags: Record<string, string>;
    /** undefined: the agent never registered (DescribeInstanceInformation does not list it). */
    pingStatus?: PingStatus;
    /** PrivateIpAddress DescribeInstances reports (none when unset). */
    privateIp?: string;
    /** AgentVersion DescribeInstanceInformation reports (default 3.3.2746.0). */
    agentVersion?: string;
}

export interface FakeInvocation {
    commandId: string;
    instanceId: string;
    documentName: string;
    comment: string;
    parameters: Record<string, string[]>;
    status: InvocationStatus;
    statusDetails: string;
    stdout: string;
    stderr: string;
    responseCode: number;
    /** GetCommandInvocation says InvocationDoesNotExist this many more times. */
    lag: number;
}

export interface FakeParameter {
    value: string;
    type: string;
    version: number;
    /** What GetParametersByPath reports as LastModifiedDate (ms); unset: the moment it is read. */
    modifiedAt?: number;
}

export interface FakeMessage {
    body: string;
    messageId: string;
    delaySeconds?: number;
    groupId?: string;
    deduplicationId?: string;
}

export interface CallRecord {
    service: ServiceName;
    op: string;
    input: any;
    error?: string;
}

export class FakeAwsState {
    readonly instances = new Map<string, FakeInstance>();
    readonly documents = new Set<string>();
    readonly parameters = new Map<string, FakeParameter>();
    /** KMS (the host CA's key): Sign, as local/fake/kms.ts answers it. */
    readonly kms = new LocalKms();
    readonly invocations = new Map<string, FakeInvocation>();
    readonly commands: { commandId: string; documentName: string; instanceIds: string[]; comment: string }[] = [];
    readonly queues = new Map<string, FakeMessage[]>();
    readonly calls: CallRecord[] = [];
    /** Throw ThrottlingException (EC2: RequestLimitExceeded) on the next N calls of an operation. */
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
    runCommand: (inv: FakeInvocation) => ReportedRun | Promise<ReportedRun> = () => ({ status: "Success" });

    addInstance(id: string, tags: Record<string, string>, pingStatus?: PingStatus): this {
        if (!INSTANCE_ID_RE.test(id)) throw new Error(`bad instance id ${id}`);
        this.instances.set(id, { id, tags, pingStatus });
        return this;
    }

    addQueue(url: string): this {
        this.queues.set(url, []);
        return this;
    }

    /** Runs `fn` as AWS would run operation `service.op`: the IAM and throttling knobs first, then the handler; records the call. */
    async call(service: ServiceName, op: string, input: any, fn: OpHandler): Promise<unknown> {
        const rec: CallRecord = { service, op, input };
        this.calls.push(rec);
        try {
            this.admit(service, op);
            return await fn(input ?? {});
        } catch (err) {
            rec.error = (err as Error).name;
            throw err;
        }
    }

    callsOf(op: string): CallRecord[] {
        return this.calls.filter((c) => c.op === op);
    }

    private admit(service: ServiceName, op: string): void {
        if ((this.denyNext[op] ?? 0) > 0) {
            this.denyNext[op]--;
            raise(accessDenied(`${service}:${op}`));
        }
        if ((this.throttleNext[op] ?? 0) > 0) {
            this.throttleNext[op]--;
            raise(throttled(service));
        }
        const b = this.rateLimit[op];
        if (b && !takeToken(b, b.ratePerSec, b.burst, this.clock())) raise(throttled(service));
    }

    ssmHandlers(): Record<string, OpHandler> {
        return fakeSsmHandlers(this);
    }

    ec2Handlers(): Record<string, OpHandler> {
        return fakeEc2Handlers(this);
    }

    sqsHandlers(): Record<string, OpHandler> {
        return fakeSqsHandlers(this);
    }

    /** All three services' handlers, each wrapped with the knobs and the call log. */
    handlers(): HandlerTable {
        const wrap = (service: ServiceName, table: Record<string, OpHandler>) =>
            Object.fromEntries(
                Object.entries(table).map(([op, fn]) => [
                    op,
                    (input: any, ctx?: any) => this.call(service, op, input, (i) => fn(i, ctx)),
                ]),
            );
        return {
            ssm: wrap("ssm", this.ssmHandlers()),
            ec2: wrap("ec2", this.ec2Handlers()),
            sqs: wrap("sqs", this.sqsHandlers()),
            // Through the wire layer (an SDK request handler), the caller is the signature's access key id.
            kms: wrap("kms", {
                Sign: (input: Record<string, unknown>, ctx?: CallContext) => this.kms.sign(input, ctx?.accessKeyId),
            }),
        };
    }
}
