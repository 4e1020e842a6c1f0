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
 * It behaves like the services where the Lambda's correctness depends on it (the rules are
 * local/ssmRules.ts, local/ec2Rules.ts, local/sqsRules.ts, shared with local/fakeAws.ts): SendCommand
 * takes at most 50 instance ids, knows the document, checks every parameter against the document's
 * `allowedPattern` and answers `InvalidInstanceId` for an instance whose agent is not online; the
 * command runs on each target asynchronously (as the agent would), GetCommandInvocation says
 * `InvocationDoesNotExist` for a while after the send (eventual consistency) and truncates output
 * to 24,000/8,000 characters; every action has its own token bucket when throttling is on, and a
 * throttled call gets `ThrottlingException: Rate exceeded` in the exact JSON error shape. It also
 * emits the events the services emit (EC2 state change on launch, an association run when the
 * agent comes online, Run Command status changes) onto the local event bus.
 *
 * This file is the endpoint's face (lifecycle and the "cloud" side); its operations are local/endpoint/.
 */
import { randomUUID } from "crypto";
import { EventEmitter } from "events";
import { LOCAL_REGION } from "./awsAccount";
import { associationRun, ec2StateChange } from "./endpoint/awsEvents";
import { SsmDocument } from "./endpoint/documents";
import { endpointHandlerTable } from "./endpoint/handlerTable";
import { writeParameter } from "./endpoint/parameterStore";
import { EndpointState } from "./endpoint/state";
import {
    DocumentRunner,
    EndpointKnobs,
    EndpointStats,
    Invocation,
    LocalInstance,
    LocalSsmEndpointOptions,
    Parameter,
    ThrottleKnob,
} from "./endpoint/types";
import type { LocalQueue } from "./queue";
import { DEFAULT_AGENT_VERSION } from "./ssmRules";
import { HandlerTable } from "./wire/handlers";
import { FakeAwsServer, startFakeAwsServer } from "./wire/server";

export type { SsmDocument } from "./endpoint/documents";

/** What addInstance takes: the instance's tags and how its agent runs a document; the rest defaults. */
export interface NewInstance {
    instanceId?: string;
    tags: Record<string, string>;
    runner: DocumentRunner;
    ipAddress?: string;
    computerName?: string;
    sshEndpoint?: { host: string; port: number };
    agentVersion?: string;
}

export class LocalSsmEndpoint extends EventEmitter {
    private readonly state: EndpointState;
    private server?: FakeAwsServer;
    url = "";

    constructor(opts: LocalSsmEndpointOptions = {}) {
        super();
        this.state = new EndpointState({ ...(opts.knobs ?? {}) }, this, opts.bus);
        for (const q of opts.queues ?? []) this.state.queues.set(q.name, q);
        this.setMaxListeners(1000);
    }

    get instances(): Map<string, LocalInstance> {
        return this.state.instances;
    }
    get documents(): Map<string, SsmDocument> {
        return this.state.documents;
    }
    get parameters(): Map<string, Parameter> {
        return this.state.parameters;
    }
    /** Keyed `<commandId>/<instanceId>`. */
    get invocations(): Map<string, Invocation> {
        return this.state.invocations;
    }
    get queues(): Map<string, LocalQueue> {
        return this.state.queues;
    }
    get knobs(): EndpointKnobs {
        return this.state.knobs;
    }
    get stats(): EndpointStats {
        return this.state.stats;
    }
    /** Every request as decoded off the wire (service, operation, input in the SDK's shape), for the conformance test. */
    get requests(): { service: string; action: string; input: Record<string, unknown> }[] {
        return this.state.requests;
    }

    // ------------------------------------------------------------------ lifecycle

    /** Serves the handler table through local/wire/ (JSON 1.0/1.1 by X-Amz-Target, EC2 Query/XML). */
    async start(): Promise<string> {
        this.server = await startFakeAwsServer(this.handlerTable());
        this.url = this.server.url;
        return this.url;
    }

    /** Stops the server and waits for the document runs in flight. */
    async stop(): Promise<void> {
        await this.state.close();
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
        this.state.buckets.clear();
    }

    /** One handler per operation, each behind its own token bucket (AWS throttles each API separately). */
    handlerTable(): HandlerTable {
        return endpointHandlerTable(this.state);
    }

    // ------------------------------------------------------------------ the "cloud" side

    addDocument(name: string, document: SsmDocument): void {
        this.documents.set(name, document);
    }

    /** Makes a queue reachable through SQS SendMessage/GetQueueUrl (another fleet's DLQ in the same account). */
    addQueue(q: LocalQueue): void {
        this.queues.set(q.name, q);
    }

    /** Registers an instance (state pending). `launch` makes it run. */
    addInstance(i: NewInstance): LocalInstance {
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
        const inst = this.state.instance(instanceId);
        inst.state = "running";
        inst.launchedAt = Date.now();
        inst.agentDueAt = inst.launchedAt + agentDelayMs;
        inst.agentOnlineAt = undefined;
        this.emit("launched", inst);
        this.state.emitAws(ec2StateChange(instanceId, "running"));
        this.state.later(agentDelayMs, () => this.agentOnline(inst));
    }

    private agentOnline(inst: LocalInstance): void {
        if (inst.state !== "running") return;
        // Online from the moment the agent registers, not from the scheduled time: Node's timers
        // and Date.now() can disagree by a millisecond, and nothing may see the agent before its event.
        inst.agentOnlineAt = Date.now();
        this.emit("agentOnline", inst);
        if (this.knobs.associationDocument !== undefined)
            this.state.emitAws(associationRun(inst.instanceId, this.knobs.associationDocument));
    }

    /** The instance's SSM agent answers pings. */
    isOnline(inst: LocalInstance): boolean {
        return this.state.isOnline(inst);
    }

    terminate(instanceId: string): void {
        this.state.instance(instanceId).state = "terminated";
        this.state.emitAws(ec2StateChange(instanceId, "terminated"));
    }

    /** Knob: the document always fails on this host, with `reason` on stderr. */
    setFailing(instanceId: string, reason: string | undefined): void {
        this.state.instance(instanceId).failing = reason;
    }

    /** Writes a parameter as an operator (or the deploy) would, bypassing throttling; `modifiedAt` (ms) backdates it (a write that happened earlier). */
    putParameterDirect(name: string, value: string, type: Parameter["type"] = "String", modifiedAt = Date.now()): void {
        writeParameter(this.state, name, value, type, modifiedAt);
    }

    deleteParameterDirect(name: string): void {
        this.parameters.delete(name);
    }
}
