/**
 * The provisioner Lambda's types: the SQS event it takes (aws-lambda's types, loosened where a
 * direct invocation sends less), its dependencies, the per-instance work of a batch and the
 * batch's statistics.
 */
import type { EC2Client } from "@aws-sdk/client-ec2";
import type { KMSClient } from "@aws-sdk/client-kms";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { SSMClient } from "@aws-sdk/client-ssm";
import type {
    Context,
    SQSBatchResponse,
    SQSEvent as AwsSQSEvent,
    SQSRecord as AwsSQSRecord,
    SQSRecordAttributes,
} from "aws-lambda";
import type { AccessSpec } from "../core/accessSpec";
import type { QueuedEvent } from "../core/events";
import type { SdkRequestHandler } from "./clients";

export type { SQSBatchResponse };

/**
 * A record as the handler reads it: an SQS record with only `messageId` and `body` required. The
 * Provisioner's direct invocations (the deploy's push, the offboarding) send no more than that.
 */
export type SQSRecord = Pick<AwsSQSRecord, "messageId" | "body"> &
    Partial<Omit<AwsSQSRecord, "messageId" | "body" | "attributes">> & { attributes?: Partial<SQSRecordAttributes> };

/** An SQS batch (or a direct invocation shaped like one). */
export type SQSEvent = Omit<AwsSQSEvent, "Records"> & { Records: SQSRecord[] };

/** The part of the Lambda context the handler reads (tests pass only this). */
export type LambdaContext = Partial<Pick<Context, "getRemainingTimeInMillis">>;

/** The subset of a logger the handler uses (Powertools' Logger fits). */
export interface Log {
    debug(message: string, extra?: Record<string, unknown>): void;
    info(message: string, extra?: Record<string, unknown>): void;
    warn(message: string, extra?: Record<string, unknown>): void;
    error(message: string, extra?: Record<string, unknown>): void;
}

export interface ProvisionerDeps {
    ssm: SSMClient;
    /** Created on first use: most batches never need EC2. */
    ec2: () => Promise<EC2Client>;
    /** Created on first use: only host certificates need KMS. */
    kms: () => Promise<KMSClient>;
    sqs: SQSClient;
    /**
     * Carries every request of the SSM, SQS and EC2 clients the handler builds itself (lambda/clients.ts);
     * ignored for a client given here. Default: the SDK's Node HTTP handler.
     */
    requestHandler?: SdkRequestHandler;
    env: Record<string, string | undefined>;
    log: Log;
    sleep: (ms: number) => Promise<void>;
    random: () => number;
    /** The clock the re-read before SendCommand is timed with (ms). */
    now: () => number;
    /** SendCommand Parameters for a spec (core/document.ts). */
    documentParameters: (spec: AccessSpec) => Record<string, string[]>;
    /** Host key lines (`type base64`) from the script's stdout. */
    parseHostKeys: (stdout: string) => string[];
}

/** An instance this batch may send a command to. */
export interface Target {
    records: Set<string>;
    attempt: number;
    /** Epoch ms when the instance's first event reached the queue (its SentTimestamp, or a wait entry's `since`). */
    since: number;
    /** From a wait message (core/events.ts WAIT_SOURCE): readiness is looked at first, the tag only once it is online. */
    fromWait: boolean;
    /** Already known to carry the fleet tag (from a tag-filtered listing). */
    tagged: boolean;
    /** Already known to be Online. */
    online: boolean;
    /** Wait queue: epoch ms before which it is not looked at (carried unread). */
    next?: number;
    /** Wait queue: epoch ms since which it is known online, held for a fuller SendCommand. */
    held?: number;
}

/** An instance written back to the queue at the end of the batch (its agent is not online yet, or it is held). */
export type WaitingTarget = Target & { pingStatus: string };

/** What addTarget knows of an instance besides its record. */
export interface KnownTarget {
    tagged?: boolean;
    online?: boolean;
    since?: number;
    fromWait?: boolean;
    held?: number;
}

export type CommandResultEvent = Extract<QueuedEvent, { kind: "command-result" }>;
export type PushEvent = Extract<QueuedEvent, { kind: "push" }>;

/** A parsed event with the record it came in. */
export interface Queued<E> {
    messageId: string;
    ev: E;
}

/** What one batch did (for logs, tests and the bench). */
export interface BatchStats {
    records: number;
    malformed: number;
    ignored: number;
    /** Skipped by the tag check: untagged, or a managed node outside EC2 (mi-), which it cannot see. */
    untagged: number;
    notReady: number;
    instancesSent: number;
    sendCommandCalls: number;
    throttled: number;
    retriesScheduled: number;
    deadLettered: number;
    knownHostsWritten: number;
    /** Batches whose stored spec was not the pinned one: nothing sent, records retried, alarm raised. */
    specRefused: number;
    /** Command results dropped because GetCommandInvocation did not show our document and comment. */
    forgedResults: number;
    /** Instances dead-lettered at once because their SSM Agent is too old for ENV_VAR parameters. */
    agentTooOld: number;
    /** Access-denied answers retried during a deploy's push (IAM propagation). */
    accessDeniedRetries: number;
    /** Instances written back to the queue in wait messages (agent not online yet). */
    waiting: number;
    waitMessages: number;
    /** Online instances held for a fuller SendCommand (wait queue). */
    held: number;
    /** Instances dead-lettered because their agent never came online within PKA_AGENT_WAIT_SECONDS. */
    agentNotOnline: number;
    /** Host-key parameters left alone because they already held the keys. */
    knownHostsUnchanged: number;
    /** Host certificates signed and sent; hosts whose recorded certificate was still current; kms:Sign calls. */
    hostCertsIssued: number;
    hostCertsCurrent: number;
    kmsSignCalls: number;
    failedRecords: number;
}

export function emptyStats(): BatchStats {
    return {
        records: 0,
        malformed: 0,
        ignored: 0,
        untagged: 0,
        notReady: 0,
        instancesSent: 0,
        sendCommandCalls: 0,
        throttled: 0,
        retriesScheduled: 0,
        deadLettered: 0,
        knownHostsWritten: 0,
        specRefused: 0,
        forgedResults: 0,
        agentTooOld: 0,
        accessDeniedRetries: 0,
        waiting: 0,
        waitMessages: 0,
        held: 0,
        agentNotOnline: 0,
        knownHostsUnchanged: 0,
        hostCertsIssued: 0,
        hostCertsCurrent: 0,
        kmsSignCalls: 0,
        failedRecords: 0,
    };
}
