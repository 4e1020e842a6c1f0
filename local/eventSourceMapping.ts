/**
 * A Lambda event source mapping on a local queue, with the semantics the provisioner relies on:
 * batches of up to N messages gathered for a batching window, concurrent pollers that take at
 * most 10 messages a receive, and ReportBatchItemFailures (the records a batch lists stay on the
 * queue and come back after the visibility timeout). Time is real (milliseconds).
 */
import type { LocalQueue, QueueMessage } from "./queue";
import type { SqsEvent } from "./sqsRecords";

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
    private readonly opts: Required<Omit<EventSourceMappingOptions, "onBatch">> &
        Pick<EventSourceMappingOptions, "onBatch">;
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
        if (opts.queue.fifo && this.opts.batchSize > 10)
            throw new Error(`batchSize must be 1..10 for the FIFO queue ${opts.queue.name}`);
        if (opts.queue.fifo && this.opts.maximumBatchingWindowMs > 0)
            throw new Error(`a batching window is not supported for the FIFO queue ${opts.queue.name}`);
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
            const response = (await invoke(event)) as
                { batchItemFailures?: { itemIdentifier?: unknown }[] } | undefined | null;
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
        onBatch?.(
            { records: msgs.length, failed: failedIds.size, batchError, durationMs: Date.now() - started },
            event,
        );
    }
}
