/** The local endpoint's model: its instances, their command invocations, its parameters, and the knobs that shape its answers. */
import type { LocalEventBus } from "../eventBus";
import type { LocalQueue } from "../queue";
import { InvocationStatus, ProcessExit } from "../ssmRules";
import type { SsmDocument } from "./documents";

/** Runs a document on one host the way the agent does: the process's exit code and output. */
export type DocumentRunner = (run: {
    instanceId: string;
    documentName: string;
    document: SsmDocument;
    parameters: Record<string, string[]>;
    agentVersion: string;
}) => Promise<ProcessExit>;

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
    status: InvocationStatus;
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

/** The visibility knob's default: GetCommandInvocation hides an invocation this long after SendCommand (ms). */
export const DEFAULT_INVOCATION_VISIBLE_AFTER_MS = 300;
/** The agent-pickup knob's default (ms). */
export const DEFAULT_AGENT_PICKUP_MS = 20;

export interface LocalSsmEndpointOptions {
    bus?: LocalEventBus;
    knobs?: EndpointKnobs;
    /** Queues reachable through SQS SendMessage, by name. */
    queues?: LocalQueue[];
}

export interface EndpointStats {
    calls: Record<string, number>;
    throttled: Record<string, number>;
    errors: Record<string, number>;
    /** Instance ids accepted by SendCommand, per call. */
    sendCommandInstances: number[];
}
