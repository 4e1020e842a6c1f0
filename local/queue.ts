/**
 * A local SQS queue and a Lambda event source mapping with the semantics the provisioner
 * relies on: batches of up to N messages, a visibility timeout, redelivery of the records a
 * batch reports in `batchItemFailures` once that timeout has passed, and a redrive policy that
 * moves a message to the dead-letter queue when it is received more than `maxReceiveCount`
 * times. Time is real (milliseconds), so tests shorten the timeouts instead of faking a clock.
 */
import { createHash, randomUUID } from "crypto";
import { EventEmitter } from "events";

export const LOCAL_ACCOUNT_ID = "123456789012";
export const LOCAL_REGION = "us-east-1";

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

/** A send SQS refuses: `code` is its error code. */
export class QueueSendError extends Error {
    constructor(
        readonly code: string,
        message: string,
    ) {
        super(message);
    }
}

/**
 * What SQS SendMessage refuses by queue type (SQS API Reference, SendMessage; Developer Guide,
 * "Amazon SQS delay queues"): a FIFO queue wants a MessageGroupId and, without content-based
 * deduplication, a MessageDeduplicationId, and takes no per-message delay; a standard queue takes no
 * deduplication id. Throws QueueSendError with SQS's code. Both local fakes check sends with it.
 */
export function checkSqsSend(fifo: boolean, m: { groupId?: unknown; deduplicationId?: unknown; delay?: unknown }): void {
    if (fifo) {
        if (!m.groupId) throw new QueueSendError("MissingParameter", "The request must contain the parameter MessageGroupId.");
        if (!m.deduplicationId) throw new QueueSendError("InvalidParameterValue", "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly");
        if (m.delay !== undefined) throw new QueueSendError("InvalidParameterValue", "Value for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.");
    } else if (m.deduplicationId !== undefined) {
        throw new QueueSendError("InvalidParameterValue", "The request include parameter MessageDeduplicationId that is not valid for this queue type.");
    }
}

/** SQS-shaped record, exactly what a Lambda behind an event source mapping receives. */
export interface SqsRecord {
    messageId: string;
    receiptHandle: string;
    body: string;
    attributes: {
        ApproximateReceiveCount: string;
        SentTimestamp: string;
        SenderId: string;
        ApproximateFirstReceiveTimestamp: string;
        DeadLetterQueueSourceArn?: string;
        MessageGroupId?: string;
        MessageDeduplicationId?: string;
        SequenceNumber?: string;
    };
    messageAttributes: Record<string, { dataType: string; stringValue?: string; stringListValues: string[]; binaryListValues: string[] }>;
    md5OfBody: string;
    eventSource: "aws:sqs";
    eventSourceARN: string;
    awsRegion: string;
}

export interface SqsEvent {
    Records: SqsRecord[];
}

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
        if (opts.fifo && !opts.name.endsWith(".fifo")) throw new Error(`queue ${opts.name}: a FIFO queue's name must end with .fifo`);
        if (opts.fifo && opts.deadLetterQueue && !opts.deadLetterQueue.fifo) throw new Error(`queue ${opts.name}: the dead-letter queue of a FIFO queue must also be a FIFO queue`);
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
    send(body: string, opts: { delayMs?: number; messageAttributes?: Record<string, MessageAttributeValue>; groupId?: string; deduplicationId?: string } = {}): string {
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
            ...(this.fifo ? { groupId: opts.groupId, deduplicationId: opts.deduplicationId, sequenceNumber: String(++this.sequence).padStart(20, "0") } : {}),
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
            ...(msg.groupId !== undefined ? { groupId: msg.groupId, deduplicationId: msg.deduplicationId, sequenceNumber: msg.sequenceNumber } : {}),
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
            if (this.maxReceiveCount !== undefined && this.deadLetterQueue && msg.receiveCount >= this.maxReceiveCount) {
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
            messageAttributes[k] = { dataType: v.dataType, stringValue: v.stringValue, stringListValues: [], binaryListValues: [] };
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

/** ReceiveMessage returns at most 10 messages (SQS API reference, MaxNumberOfMessages). */
export const SQS_RECEIVE_MAX = 10;
/** What one ReceiveMessage round trip takes a poller (ms): concurrent pollers interleave. */
export const RECEIVE_LATENCY_MS = 10;

export interface BatchResult {
    records: number;
    failed: number;
    /** The handler threw or answered with an identifier that is not in the batch. */
    batchError?: string;
    durationMs: number;
}

export interface EventSourceMappingOptions {
    queue: LocalQueue;
    /** The Lambda: receives `{ Records }`, answers `{ batchItemFailures }` (ReportBatchItemFailures). */
    invoke: (event: SqsEvent) => Promise<unknown>;
    /** Default 10, as SQS's default for Lambda. */
    batchSize?: number;
    /** Default 0: invoke as soon as a message is visible. */
    maximumBatchingWindowMs?: number;
    /** Concurrent batches in flight. Default 2. */
    maxConcurrency?: number;
    onBatch?: (result: BatchResult, event: SqsEvent) => void;
}

/**
 * Polls a queue and invokes a function with batches, as Lambda's SQS event source mapping
 * does with `FunctionResponseTypes: ["ReportBatchItemFailures"]`: records listed in
 * `batchItemFailures` stay on the queue and come back after the visibility timeout; the rest
 * are deleted. A handler that throws, or lists an identifier that is not in the batch, fails
 * the whole batch (Lambda's documented behaviour).
 */
export class EventSourceMapping {
    private readonly opts: Required<Omit<EventSourceMappingOptions, "onBatch">> & Pick<EventSourceMappingOptions, "onBatch">;
    private running = false;
    private readonly loops: Promise<void>[] = [];
    private wake: (() => void)[] = [];
    private timer?: NodeJS.Timeout;
    private readonly onVisible = (at: number) => this.schedule(at);
    readonly stats = { batches: 0, records: 0, failedRecords: 0, batchErrors: 0 };

    constructor(opts: EventSourceMappingOptions) {
        this.opts = {
            batchSize: 10,
            maximumBatchingWindowMs: 0,
            maxConcurrency: 2,
            ...opts,
        };
        if (this.opts.batchSize < 1 || this.opts.batchSize > 10_000) throw new Error("batchSize must be 1..10000");
        // Lambda's SQS parameters: for FIFO queues the batch size is at most 10 and a batching window is not supported.
        if (opts.queue.fifo && this.opts.batchSize > 10) throw new Error(`batchSize must be 1..10 for the FIFO queue ${opts.queue.name}`);
        if (opts.queue.fifo && this.opts.maximumBatchingWindowMs > 0) throw new Error(`a batching window is not supported for the FIFO queue ${opts.queue.name}`);
    }

    start(): void {
        if (this.running) return;
        this.running = true;
        this.opts.queue.on("visible", this.onVisible);
        for (let i = 0; i < this.opts.maxConcurrency; i++) this.loops.push(this.loop());
    }

    /** Stops polling and waits for the batches in flight to finish. */
    async stop(): Promise<void> {
        if (!this.running) return;
        this.running = false;
        this.opts.queue.off("visible", this.onVisible);
        if (this.timer) clearTimeout(this.timer);
        this.wakeAll();
        await Promise.all(this.loops.splice(0));
    }

    private schedule(at: number): void {
        const delay = at - Date.now();
        if (delay <= 0) {
            this.wakeAll();
            return;
        }
        // One timer for the earliest future visibility is enough: each wake re-checks the queue.
        if (this.timer && this.timerAt !== undefined && this.timerAt <= at) return;
        if (this.timer) clearTimeout(this.timer);
        this.timerAt = at;
        this.timer = setTimeout(() => {
            this.timer = undefined;
            this.timerAt = undefined;
            this.wakeAll();
            const next = this.opts.queue.nextVisibleAt();
            if (next !== undefined && next > Date.now()) this.schedule(next);
        }, delay + 1);
    }
    private timerAt?: number;

    private wakeAll(): void {
        const w = this.wake.splice(0);
        for (const f of w) f();
    }

    private sleepUntilWoken(maxMs?: number): Promise<void> {
        return new Promise((resolve) => {
            let t: NodeJS.Timeout | undefined;
            const done = () => {
                if (t) clearTimeout(t);
                resolve();
            };
            this.wake.push(done);
            if (maxMs !== undefined) t = setTimeout(done, maxMs);
        });
    }

    /**
     * One poller. As Lambda's pollers do, each ReceiveMessage takes at most 10 messages (SQS's
     * limit); with a batching window the poller keeps receiving until the batch is full or the
     * window has passed since its first message. Each receive takes RECEIVE_LATENCY_MS, so
     * concurrent pollers share what becomes visible at once, as they do on AWS.
     */
    private async loop(): Promise<void> {
        const { queue, batchSize, maximumBatchingWindowMs } = this.opts;
        while (this.running) {
            const msgs = queue.receive(Math.min(SQS_RECEIVE_MAX, batchSize));
            if (msgs.length === 0) {
                const next = queue.nextVisibleAt();
                if (next !== undefined) this.schedule(next);
                // A bounded sleep also covers a wake lost between receive and wait.
                await this.sleepUntilWoken(1000);
                continue;
            }
            const deadline = Date.now() + maximumBatchingWindowMs;
            while (msgs.length < batchSize && this.running) {
                await new Promise((r) => setTimeout(r, RECEIVE_LATENCY_MS));
                const more = queue.receive(Math.min(SQS_RECEIVE_MAX, batchSize - msgs.length));
                msgs.push(...more);
                if (more.length > 0) continue;
                const left = deadline - Date.now();
                if (left <= 0) break;
                const next = queue.nextVisibleAt();
                if (next !== undefined && next <= Date.now() + left) this.schedule(next);
                await this.sleepUntilWoken(left);
            }
            await this.deliver(msgs);
        }
    }

    private async deliver(msgs: QueueMessage[]): Promise<void> {
        const { queue, invoke, onBatch } = this.opts;
        const event: SqsEvent = { Records: msgs.map((m) => queue.toRecord(m)) };
        const started = Date.now();
        let batchError: string | undefined;
        let failedIds = new Set<string>();
        try {
            const response = (await invoke(event)) as { batchItemFailures?: { itemIdentifier?: unknown }[] } | undefined | null;
            const failures = response && Array.isArray(response.batchItemFailures) ? response.batchItemFailures : [];
            const ids = new Set(event.Records.map((r) => r.messageId));
            for (const f of failures) {
                const id = f && typeof f.itemIdentifier === "string" ? f.itemIdentifier : "";
                if (!ids.has(id)) {
                    batchError = `batchItemFailures names '${String(id)}', which is not in the batch`;
                    break;
                }
                failedIds.add(id);
            }
        } catch (err) {
            batchError = err instanceof Error ? err.message : String(err);
        }
        if (batchError !== undefined) failedIds = new Set(event.Records.map((r) => r.messageId));
        for (const r of event.Records) if (!failedIds.has(r.messageId)) queue.delete(r.receiptHandle);
        this.stats.batches++;
        this.stats.records += msgs.length;
        this.stats.failedRecords += failedIds.size;
        if (batchError !== undefined) this.stats.batchErrors++;
        onBatch?.({ records: msgs.length, failed: failedIds.size, batchError, durationMs: Date.now() - started }, event);
    }
}
