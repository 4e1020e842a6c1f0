/**
 * A local SQS queue with the semantics the provisioner relies on: a visibility timeout, a
 * delivery delay, receipt handles (only the latest deletes), a redrive policy that moves a message
 * to the dead-letter queue when it is received more than `maxReceiveCount` times, and FIFO queues
 * (deduplication for 5 minutes, one batch of a message group in flight at a time). Time is real
 * (milliseconds), so tests shorten the timeouts instead of faking a clock. What SendMessage refuses
 * is local/sqsRules.ts; the Lambda event source mapping polling a queue is local/eventSourceMapping.ts.
 */
import { createHash, randomUUID } from "crypto";
import { EventEmitter } from "events";
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from "./awsAccount";
import { SqsRecord } from "./sqsRecords";
import { checkSqsSend } from "./sqsRules";

export { EventSourceMapping } from "./eventSourceMapping";
export type { SqsEvent, SqsRecord } from "./sqsRecords";
export { QueueSendError } from "./sqsRules";

export interface MessageAttributeValue {
    dataType: "String" | "Number" | "Binary";
    stringValue?: string;
}

/** One message as the queue keeps it. */
export interface QueueMessage {
    readonly messageId: string;
    readonly body: string;
    readonly messageAttributes: Record<string, MessageAttributeValue>;
    readonly sentTimestamp: number;
    firstReceiveTimestamp?: number;
    receiveCount: number;
    /** Epoch ms from which the message can be received again. */
    visibleAt: number;
    /** The handle of the latest receive; only that handle deletes the message (as in SQS). */
    receiptHandle?: string;
    /** Set when the redrive policy moved the message here from another queue. */
    deadLetterSourceArn?: string;
    /** FIFO: the message group (messages of a group are received in order, one batch of a group in flight at a time). */
    groupId?: string;
    deduplicationId?: string;
    sequenceNumber?: string;
}

export interface LocalQueueOptions {
    name: string;
    /** Default 30 s, as SQS. */
    visibilityTimeoutMs?: number;
    /** With `deadLetterQueue`: a message received more than this many times goes there. */
    maxReceiveCount?: number;
    deadLetterQueue?: LocalQueue;
    /** A FIFO queue (its name must end in `.fifo`): MessageGroupId and MessageDeduplicationId on every send, no per-message delay. */
    fifo?: boolean;
    /** The queue's DelaySeconds (ms): every message is invisible this long after it is sent. Default 0. */
    delayMs?: number;
}

/** SQS keeps a FIFO queue's deduplication ids for 5 minutes (Amazon SQS Developer Guide, "Exactly-once processing in Amazon SQS"). */
export const FIFO_DEDUPLICATION_MS = 300_000;

export class LocalQueue extends EventEmitter {
    readonly name: string;
    readonly arn: string;
    readonly url: string;
    readonly visibilityTimeoutMs: number;
    readonly maxReceiveCount?: number;
    readonly deadLetterQueue?: LocalQueue;
    readonly fifo: boolean;
    readonly delayMs: number;
    private readonly messages = new Map<string, QueueMessage>();
    /** FIFO: deduplication id -> [message id, expiry]. */
    private readonly dedup = new Map<string, [string, number]>();
    private sequence = 0n;
    private readonly deadLettered: QueueMessage[] = [];
    /** Counters for reports and benches. */
    readonly stats = { sent: 0, received: 0, deleted: 0, redelivered: 0, movedToDlq: 0 };

    constructor(opts: LocalQueueOptions) {
        super();
        if (opts.maxReceiveCount !== undefined && !opts.deadLetterQueue) {
            throw new Error(`queue ${opts.name}: maxReceiveCount needs a deadLetterQueue`);
        }
        if (opts.maxReceiveCount !== undefined && opts.maxReceiveCount < 1) {
            throw new Error(`queue ${opts.name}: maxReceiveCount must be at least 1`);
        }
        if (opts.fifo && !opts.name.endsWith(".fifo"))
            throw new Error(`queue ${opts.name}: a FIFO queue's name must end with .fifo`);
        if (opts.fifo && opts.deadLetterQueue && !opts.deadLetterQueue.fifo)
            throw new Error(`queue ${opts.name}: the dead-letter queue of a FIFO queue must also be a FIFO queue`);
        this.fifo = opts.fifo === true;
        this.delayMs = Math.max(0, opts.delayMs ?? 0);
        this.name = opts.name;
        this.arn = `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${opts.name}`;
        this.url = `https://sqs.${LOCAL_REGION}.amazonaws.com/${LOCAL_ACCOUNT_ID}/${opts.name}`;
        this.visibilityTimeoutMs = opts.visibilityTimeoutMs ?? 30_000;
        this.maxReceiveCount = opts.maxReceiveCount;
        this.deadLetterQueue = opts.deadLetterQueue;
        this.setMaxListeners(100);
    }

    /**
     * SendMessage. Returns the message id. A FIFO queue refuses (QueueSendError) a send without a
     * group or a deduplication id and any per-message delay (SQS: "FIFO queues don't support
     * per-message delays, only per-queue delays"); a deduplication id seen in the last 5 minutes
     * is accepted and not delivered again.
     */
    send(
        body: string,
        opts: {
            delayMs?: number;
            messageAttributes?: Record<string, MessageAttributeValue>;
            groupId?: string;
            deduplicationId?: string;
        } = {},
    ): string {
        const now = Date.now();
        checkSqsSend(this.fifo, { groupId: opts.groupId, deduplicationId: opts.deduplicationId, delay: opts.delayMs });
        if (this.fifo) {
            for (const [k, [, expires]] of this.dedup) if (expires <= now) this.dedup.delete(k);
            const seen = this.dedup.get(opts.deduplicationId!);
            if (seen) return seen[0];
        }
        const msg: QueueMessage = {
            messageId: randomUUID(),
            body,
            messageAttributes: { ...(opts.messageAttributes ?? {}) },
            sentTimestamp: now,
            receiveCount: 0,
            visibleAt: now + Math.max(0, opts.delayMs ?? this.delayMs),
            ...(this.fifo
                ? {
                      groupId: opts.groupId,
                      deduplicationId: opts.deduplicationId,
                      sequenceNumber: String(++this.sequence).padStart(20, "0"),
                  }
                : {}),
        };
        if (this.fifo) this.dedup.set(opts.deduplicationId!, [msg.messageId, now + FIFO_DEDUPLICATION_MS]);
        this.messages.set(msg.messageId, msg);
        this.stats.sent++;
        this.notify(msg.visibleAt);
        return msg.messageId;
    }

    /** Used by the redrive policy: the message keeps its id, body and attributes. */
    private acceptDeadLetter(msg: QueueMessage, sourceArn: string): void {
        const now = Date.now();
        const moved: QueueMessage = {
            messageId: msg.messageId,
            body: msg.body,
            messageAttributes: msg.messageAttributes,
            sentTimestamp: msg.sentTimestamp,
            receiveCount: msg.receiveCount,
            visibleAt: now,
            deadLetterSourceArn: sourceArn,
            ...(msg.groupId !== undefined
                ? { groupId: msg.groupId, deduplicationId: msg.deduplicationId, sequenceNumber: msg.sequenceNumber }
                : {}),
        };
        this.messages.set(moved.messageId, moved);
        this.deadLettered.push(moved);
        this.stats.sent++;
        this.notify(now);
    }

    /**
     * ReceiveMessage: up to `max` visible messages, oldest first. Each becomes invisible for
     * the visibility timeout. A message already received `maxReceiveCount` times is moved to
     * the dead-letter queue instead of being returned (SQS applies the redrive on receive).
     */
    receive(max: number): QueueMessage[] {
        const now = Date.now();
        const out: QueueMessage[] = [];
        // FIFO: a group whose oldest message is in flight or not visible yet gives nothing (order within a group).
        const blocked = new Set<string>();
        for (const msg of this.messages.values()) {
            if (out.length >= max) break;
            if (msg.groupId !== undefined && blocked.has(msg.groupId)) continue;
            if (msg.visibleAt > now) {
                if (msg.groupId !== undefined) blocked.add(msg.groupId);
                continue;
            }
            if (
                this.maxReceiveCount !== undefined &&
                this.deadLetterQueue &&
                msg.receiveCount >= this.maxReceiveCount
            ) {
                this.messages.delete(msg.messageId);
                this.stats.movedToDlq++;
                this.deadLetterQueue.acceptDeadLetter(msg, this.arn);
                this.emit("deadLettered", msg);
                continue;
            }
            if (msg.receiveCount > 0) this.stats.redelivered++;
            msg.receiveCount++;
            msg.firstReceiveTimestamp ??= now;
            msg.visibleAt = now + this.visibilityTimeoutMs;
            msg.receiptHandle = randomUUID();
            out.push(msg);
        }
        this.stats.received += out.length;
        // Messages now in flight become visible again at their timeout: wake the pollers then.
        if (out.length > 0) this.notify(now + this.visibilityTimeoutMs);
        return out;
    }

    /** DeleteMessage: only the latest receipt handle counts, as in SQS. */
    delete(receiptHandle: string): boolean {
        for (const msg of this.messages.values()) {
            if (msg.receiptHandle === receiptHandle) {
                this.messages.delete(msg.messageId);
                this.stats.deleted++;
                this.emit("deleted", msg);
                if (this.messages.size === 0) this.emit("drained");
                return true;
            }
        }
        return false;
    }

    /** ChangeMessageVisibility. */
    changeVisibility(receiptHandle: string, timeoutMs: number): boolean {
        for (const msg of this.messages.values()) {
            if (msg.receiptHandle === receiptHandle) {
                msg.visibleAt = Date.now() + Math.max(0, timeoutMs);
                this.notify(msg.visibleAt);
                return true;
            }
        }
        return false;
    }

    /** All messages (visible, delayed and in flight). */
    get depth(): number {
        return this.messages.size;
    }

    /** Messages received and not yet deleted nor visible again. */
    get inFlight(): number {
        const now = Date.now();
        let n = 0;
        for (const m of this.messages.values()) if (m.receiveCount > 0 && m.visibleAt > now) n++;
        return n;
    }

    /** A snapshot of the messages, oldest first. */
    peek(): QueueMessage[] {
        return [...this.messages.values()].map((m) => ({ ...m }));
    }

    /** Messages that arrived through a redrive policy. */
    deadLetters(): QueueMessage[] {
        return this.deadLettered.map((m) => ({ ...m }));
    }

    /** Epoch ms at which the next message becomes visible, or undefined when empty. */
    nextVisibleAt(): number | undefined {
        let next: number | undefined;
        for (const m of this.messages.values()) if (next === undefined || m.visibleAt < next) next = m.visibleAt;
        return next;
    }

    toRecord(msg: QueueMessage): SqsRecord {
        const attributes: SqsRecord["attributes"] = {
            ApproximateReceiveCount: String(msg.receiveCount),
            SentTimestamp: String(msg.sentTimestamp),
            SenderId: "AIDAIENQZJOLO23YVJ4VO",
            ApproximateFirstReceiveTimestamp: String(msg.firstReceiveTimestamp ?? Date.now()),
        };
        if (msg.deadLetterSourceArn) attributes.DeadLetterQueueSourceArn = msg.deadLetterSourceArn;
        if (msg.groupId !== undefined) {
            attributes.MessageGroupId = msg.groupId;
            attributes.MessageDeduplicationId = msg.deduplicationId;
            attributes.SequenceNumber = msg.sequenceNumber;
        }
        const messageAttributes: SqsRecord["messageAttributes"] = {};
        for (const [k, v] of Object.entries(msg.messageAttributes)) {
            messageAttributes[k] = {
                dataType: v.dataType,
                stringValue: v.stringValue,
                stringListValues: [],
                binaryListValues: [],
            };
        }
        return {
            messageId: msg.messageId,
            receiptHandle: msg.receiptHandle ?? "",
            body: msg.body,
            attributes,
            messageAttributes,
            md5OfBody: createHash("md5").update(msg.body).digest("hex"),
            eventSource: "aws:sqs",
            eventSourceARN: this.arn,
            awsRegion: LOCAL_REGION,
        };
    }

    private notify(at: number): void {
        this.emit("visible", at);
    }
}
