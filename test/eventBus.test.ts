import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { PUSH_DETAIL_TYPE, PUSH_SOURCE } from "../core/events";
import { LocalEventBus } from "../local/eventBus";
import { addProvisionerRules, DOCUMENT_NAME } from "../local/fleet";
import { AwsMocks, settle, watch } from "./support/awsMocks";
import { EventSourceMapping, LocalQueue, QueueSendError, SqsEvent, SqsRecord } from "../local/queue";

function sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
}

async function until(cond: () => boolean, what: string, maxMs = 10_000): Promise<void> {
    const end = Date.now() + maxMs;
    while (!cond()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await sleep(5);
    }
}

/** A consumer that records every record it saw and fails the ones `fail` picks. */
function recorder(fail: (r: SqsRecord) => boolean = () => false) {
    const seen: { record: SqsRecord; at: number; batch: number }[] = [];
    let batch = 0;
    const invoke = async (event: SqsEvent) => {
        const b = batch++;
        for (const record of event.Records) seen.push({ record, at: Date.now(), batch: b });
        return { batchItemFailures: event.Records.filter(fail).map((r) => ({ itemIdentifier: r.messageId })) };
    };
    return { seen, invoke };
}

describe("local queue (SQS semantics)", () => {
    const mappings: EventSourceMapping[] = [];
    afterEach(async () => {
        await Promise.all(mappings.splice(0).map((m) => m.stop()));
    });
    function map(opts: ConstructorParameters<typeof EventSourceMapping>[0]): EventSourceMapping {
        const m = new EventSourceMapping(opts);
        mappings.push(m);
        m.start();
        return m;
    }

    it("delivers every message once, in batches of at most batchSize, and deletes the acknowledged ones", async () => {
        const queue = new LocalQueue({ name: "q", visibilityTimeoutMs: 5_000 });
        for (let i = 0; i < 25; i++) queue.send(JSON.stringify({ n: i }));
        const { seen, invoke } = recorder();
        const sizes: number[] = [];
        map({ queue, invoke, batchSize: 10, maxConcurrency: 1, onBatch: (r) => sizes.push(r.records) });
        await until(() => queue.depth === 0, "the queue to drain");
        assert.strictEqual(seen.length, 25);
        assert.deepStrictEqual(new Set(seen.map((s) => JSON.parse(s.record.body).n)).size, 25);
        assert.ok(
            sizes.every((s) => s >= 1 && s <= 10),
            `batch sizes ${sizes}`,
        );
        assert.ok(sizes.length >= 3);
        const r = seen[0].record;
        assert.strictEqual(r.eventSource, "aws:sqs");
        assert.strictEqual(r.eventSourceARN, queue.arn);
        assert.strictEqual(r.attributes.ApproximateReceiveCount, "1");
        assert.match(r.md5OfBody, /^[0-9a-f]{32}$/);
    });

    it("redelivers a record reported in batchItemFailures only after the visibility timeout, with a higher receive count", async () => {
        const queue = new LocalQueue({ name: "q", visibilityTimeoutMs: 300 });
        const failId = queue.send("fail-once");
        queue.send("ok");
        let failedOnce = false;
        const { seen, invoke } = recorder((r) => {
            if (r.messageId === failId && !failedOnce) {
                failedOnce = true;
                return true;
            }
            return false;
        });
        // The visibility timeout runs from the ReceiveMessage, not from the invoke (which comes
        // later by the receive latency and batching window, more so on a loaded machine).
        const receivedAt: number[] = [];
        const receive = queue.receive.bind(queue);
        queue.receive = (max: number) => {
            const out = receive(max);
            if (out.some((m) => m.messageId === failId)) receivedAt.push(Date.now());
            return out;
        };
        map({ queue, invoke, batchSize: 10 });
        await until(() => queue.depth === 0, "the queue to drain");
        const deliveries = seen.filter((s) => s.record.messageId === failId);
        assert.strictEqual(receivedAt.length, 2);
        assert.strictEqual(deliveries.length, 2);
        assert.strictEqual(deliveries[0].record.attributes.ApproximateReceiveCount, "1");
        assert.strictEqual(deliveries[1].record.attributes.ApproximateReceiveCount, "2");
        assert.notStrictEqual(deliveries[0].record.receiptHandle, deliveries[1].record.receiptHandle);
        assert.ok(
            receivedAt[1] - receivedAt[0] >= 300,
            `received again ${receivedAt[1] - receivedAt[0]} ms after the first receive, before the 300 ms visibility timeout`,
        );
        assert.strictEqual(seen.filter((s) => s.record.body === "ok").length, 1, "the acknowledged record came back");
    });

    it("moves a message that keeps failing to the dead-letter queue after maxReceiveCount receives", async () => {
        const dlq = new LocalQueue({ name: "dlq" });
        const queue = new LocalQueue({ name: "q", visibilityTimeoutMs: 50, maxReceiveCount: 3, deadLetterQueue: dlq });
        const id = queue.send("always-fails", {
            messageAttributes: { reason: { dataType: "String", stringValue: "x" } },
        });
        const { seen, invoke } = recorder(() => true);
        map({ queue, invoke });
        await until(() => dlq.depth === 1, "the dead letter");
        assert.strictEqual(queue.depth, 0);
        assert.strictEqual(seen.length, 3, "received more or fewer times than maxReceiveCount");
        const [dead] = dlq.deadLetters();
        assert.strictEqual(dead.messageId, id);
        assert.strictEqual(dead.body, "always-fails");
        assert.strictEqual(dead.deadLetterSourceArn, queue.arn);
        assert.strictEqual(dead.messageAttributes.reason.stringValue, "x");
        assert.strictEqual(queue.stats.movedToDlq, 1);
    });

    it("fails the whole batch when the handler throws", async () => {
        const queue = new LocalQueue({ name: "q", visibilityTimeoutMs: 100 });
        queue.send("a");
        queue.send("b");
        let calls = 0;
        const seen: string[] = [];
        map({
            queue,
            maxConcurrency: 1,
            invoke: async (e) => {
                seen.push(...e.Records.map((r) => r.body));
                if (calls++ === 0) throw new Error("boom");
                return {};
            },
        });
        await until(() => queue.depth === 0, "the queue to drain");
        assert.deepStrictEqual(seen.sort(), ["a", "a", "b", "b"]);
    });

    it("fails the whole batch when batchItemFailures names a record that is not in it", async () => {
        const queue = new LocalQueue({ name: "q", visibilityTimeoutMs: 100 });
        queue.send("a");
        queue.send("b");
        let calls = 0;
        const errors: string[] = [];
        map({
            queue,
            maxConcurrency: 1,
            invoke: async () =>
                calls++ === 0
                    ? { batchItemFailures: [{ itemIdentifier: "not-a-message-id" }] }
                    : { batchItemFailures: [] },
            onBatch: (r) => r.batchError && errors.push(r.batchError),
        });
        await until(() => queue.depth === 0, "the queue to drain");
        assert.strictEqual(calls, 2);
        assert.strictEqual(errors.length, 1);
        assert.match(errors[0], /not-a-message-id/);
    });

    it("honours a send delay and ignores a stale receipt handle", async () => {
        const queue = new LocalQueue({ name: "q", visibilityTimeoutMs: 50 });
        queue.send("later", { delayMs: 200 });
        assert.strictEqual(queue.receive(10).length, 0, "a delayed message was visible at once");
        await sleep(220);
        const [first] = queue.receive(10);
        assert.ok(first);
        const staleHandle = first.receiptHandle!;
        await sleep(70);
        const [again] = queue.receive(10);
        assert.strictEqual(again.messageId, first.messageId);
        assert.strictEqual(queue.delete(staleHandle), false, "a stale receipt handle deleted the message");
        assert.strictEqual(queue.delete(again.receiptHandle!), true);
        assert.strictEqual(queue.depth, 0);
    });

    it("rejects a redrive policy without a dead-letter queue", () => {
        assert.throws(() => new LocalQueue({ name: "q", maxReceiveCount: 3 }), /deadLetterQueue/);
    });

    describe("a FIFO queue (the wait queue)", () => {
        it("refuses what SQS refuses: a name without .fifo, a standard DLQ, a send without a group or a deduplication id, a per-message delay", () => {
            assert.throws(() => new LocalQueue({ name: "w", fifo: true }), /must end with \.fifo/);
            assert.throws(
                () =>
                    new LocalQueue({
                        name: "w.fifo",
                        fifo: true,
                        maxReceiveCount: 2,
                        deadLetterQueue: new LocalQueue({ name: "d" }),
                    }),
                /must also be a FIFO queue/,
            );
            const q = new LocalQueue({ name: "w.fifo", fifo: true });
            assert.throws(
                () => q.send("x", { deduplicationId: "1" }),
                (e: QueueSendError) => e.code === "MissingParameter",
            );
            assert.throws(
                () => q.send("x", { groupId: "g" }),
                (e: QueueSendError) => e.code === "InvalidParameterValue" && /MessageDeduplicationId/.test(e.message),
            );
            assert.throws(
                () => q.send("x", { groupId: "g", deduplicationId: "1", delayMs: 1000 }),
                (e: QueueSendError) => /DelaySeconds/.test(e.message),
            );
            assert.throws(
                () => new LocalQueue({ name: "s" }).send("x", { deduplicationId: "1" }),
                (e: QueueSendError) => /not valid for this queue type/.test(e.message),
            );
            assert.strictEqual(q.depth, 0, "nothing refused was queued");
        });

        it("a group is received in order and not at all while one of its messages is in flight; other groups flow; a repeated deduplication id is not queued again", () => {
            const q = new LocalQueue({ name: "w.fifo", fifo: true, visibilityTimeoutMs: 60_000 });
            const a1 = q.send("a1", { groupId: "a", deduplicationId: "a1" });
            q.send("a2", { groupId: "a", deduplicationId: "a2" });
            q.send("b1", { groupId: "b", deduplicationId: "b1" });
            assert.strictEqual(
                q.send("a1 again", { groupId: "a", deduplicationId: "a1" }),
                a1,
                "the first send's id, nothing queued",
            );
            assert.strictEqual(q.depth, 3);
            const first = q.receive(1);
            assert.deepStrictEqual(
                first.map((m) => m.body),
                ["a1"],
            );
            // a1 in flight: group a gives nothing (a2 waits behind it); group b flows.
            assert.deepStrictEqual(
                q.receive(10).map((m) => m.body),
                ["b1"],
            );
            assert.deepStrictEqual(q.receive(10), []);
            assert.ok(q.delete(first[0].receiptHandle!));
            assert.deepStrictEqual(
                q.receive(10).map((m) => m.body),
                ["a2"],
            );
            const rec = q.toRecord(first[0]);
            assert.deepStrictEqual(
                [
                    rec.attributes.MessageGroupId,
                    rec.attributes.MessageDeduplicationId,
                    /^\d{20}$/.test(rec.attributes.SequenceNumber ?? ""),
                ],
                ["a", "a1", true],
            );
        });

        it("the event source mapping takes at most 10 a batch and no batching window from a FIFO queue (Lambda's SQS parameters)", () => {
            const queue = new LocalQueue({ name: "w.fifo", fifo: true });
            const invoke = async () => ({ batchItemFailures: [] });
            assert.throws(() => new EventSourceMapping({ queue, invoke, batchSize: 11 }), /1\.\.10/);
            assert.throws(
                () => new EventSourceMapping({ queue, invoke, batchSize: 10, maximumBatchingWindowMs: 1000 }),
                /batching window is not supported/,
            );
        });

        it("messages written while the group's batch is in flight come together in the next batch (how the wait queue's rounds merge)", async () => {
            const queue = new LocalQueue({ name: "w.fifo", fifo: true, visibilityTimeoutMs: 10_000 });
            const batches: string[][] = [];
            let n = 0;
            const invoke = async (e: SqsEvent) => {
                batches.push(e.Records.map((r) => r.body));
                if (n++ === 0) {
                    // While the first batch is in flight, three writers add to the group.
                    for (const w of ["w1", "w2", "w3"]) queue.send(w, { groupId: "g", deduplicationId: w });
                    await sleep(50);
                }
                return { batchItemFailures: [] };
            };
            queue.send("round", { groupId: "g", deduplicationId: "round" });
            map({ queue, invoke, batchSize: 10, maxConcurrency: 2 });
            await until(() => queue.depth === 0 && batches.length >= 2, "both batches");
            assert.deepStrictEqual(batches, [["round"], ["w1", "w2", "w3"]]);
        });
    });
});

describe("local event bus (the Provisioner's exact patterns)", () => {
    function bus() {
        const queue = new LocalQueue({ name: "provisioner" });
        const b = new LocalEventBus();
        addProvisionerRules(b, queue, "pka-setup");
        return { b, queue };
    }

    it("delivers the events the provisioner wants, stamped as EventBridge stamps them, as the SQS message body", () => {
        const { b, queue } = bus();
        const d = b.put({
            source: "aws.ec2",
            detailType: "EC2 Instance State-change Notification",
            detail: { "instance-id": "i-0123456789abcdef0", state: "running" },
        });
        assert.deepStrictEqual(d.matched, ["running"]);
        b.put({
            source: "aws.ssm",
            detailType: "EC2 State Manager Instance Association State Change",
            detail: {
                "instance-id": "i-0123456789abcdef0",
                "document-name": "AWS-GatherSoftwareInventory",
                status: "Success",
            },
        });
        b.put({
            source: "aws.ssm",
            detailType: "EC2 Command Invocation Status-change Notification",
            detail: {
                "instance-id": "i-0123456789abcdef0",
                "command-id": "0b1b2c3d-1111-2222-3333-444455556666",
                "document-name": "pka-setup",
                status: "Failed",
            },
        });
        b.put({ source: PUSH_SOURCE, detailType: PUSH_DETAIL_TYPE, detail: { reason: "rotation" } });
        const bodies = queue.receive(10).map((m) => JSON.parse(m.body));
        assert.strictEqual(bodies.length, 4);
        const first = bodies[0];
        assert.strictEqual(first.version, "0");
        assert.strictEqual(first["detail-type"], "EC2 Instance State-change Notification");
        assert.match(first.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        assert.match(first.id, /^[0-9a-f-]{36}$/);
        assert.strictEqual(first.detail["instance-id"], "i-0123456789abcdef0");
    });

    it("drops what the patterns exclude: another state, another document, a non-terminal status, a hybrid node, our own association, another source", () => {
        const { b, queue } = bus();
        const none = [
            b.put({
                source: "aws.ec2",
                detailType: "EC2 Instance State-change Notification",
                detail: { "instance-id": "i-0123456789abcdef0", state: "stopped" },
            }),
            b.put({
                source: "aws.ssm",
                detailType: "EC2 Command Invocation Status-change Notification",
                detail: {
                    "instance-id": "i-0123456789abcdef0",
                    "command-id": "0b1b2c3d-1111-2222-3333-444455556666",
                    "document-name": "AWS-RunShellScript",
                    status: "Success",
                },
            }),
            b.put({
                source: "aws.ssm",
                detailType: "EC2 Command Invocation Status-change Notification",
                detail: {
                    "instance-id": "i-0123456789abcdef0",
                    "command-id": "0b1b2c3d-1111-2222-3333-444455556666",
                    "document-name": "pka-setup",
                    status: "InProgress",
                },
            }),
            b.put({
                source: "aws.ssm",
                detailType: "EC2 State Manager Instance Association State Change",
                detail: {
                    "instance-id": "mi-0123456789abcdef0",
                    "document-name": "AWS-GatherSoftwareInventory",
                    status: "Success",
                },
            }),
            // our own document's drift-correction association already applied the spec
            b.put({
                source: "aws.ssm",
                detailType: "EC2 State Manager Instance Association State Change",
                detail: { "instance-id": "i-0123456789abcdef0", "document-name": "pka-setup", status: "Success" },
            }),
            b.put({
                source: "custom.app",
                detailType: "EC2 Instance State-change Notification",
                detail: { "instance-id": "i-0123456789abcdef0", state: "running" },
            }),
        ];
        assert.ok(none.every((d) => d.matched.length === 0));
        assert.strictEqual(queue.depth, 0);
        assert.strictEqual(b.stats.unmatched, 6);
    });
});

describe("the local fleet's bus rules are the rules the Provisioner deploys", () => {
    it("deep-equals the eventPattern of every EventRule the Provisioner registers under Pulumi mocks (same document name, default triggers)", async function () {
        this.timeout(60_000);
        const mocks = watch(new AwsMocks());
        await pulumi.runtime.setMocks(mocks, "pka-fleet", "bus-rules", false);
        const { Provisioner } = await import("../components/Provisioner");
        new Provisioner("prov", {
            documentName: DOCUMENT_NAME,
            documentArn: `arn:aws:ssm:eu-west-1:123456789012:document/${DOCUMENT_NAME}`,
            targetTag: { key: "pka-fleet", value: "local" },
            accessParameterPath: "/pka/local/access",
            accessSpecHash: "0".repeat(64),
        });
        await settle(mocks);
        const deployed = mocks.created
            .filter((c) => c.type === "aws:cloudwatch/eventRule:EventRule")
            .map((c) => ({ name: c.name.replace(/^prov-/, ""), pattern: JSON.parse(c.inputs.eventPattern) }));
        assert.strictEqual(
            deployed.length,
            4,
            `the Provisioner registered ${deployed.length} rules: ${mocks.errors.join("; ")}`,
        );

        const local = new LocalEventBus();
        addProvisionerRules(local, new LocalQueue({ name: "provisioner" }), DOCUMENT_NAME);
        // JSON round trip: what PutRule receives is JSON, so compare what the bus matches as JSON too.
        const onBus = local.listRules().map((r) => ({ name: r.name, pattern: JSON.parse(JSON.stringify(r.pattern)) }));
        const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
        assert.deepStrictEqual(onBus.sort(byName), deployed.sort(byName));
        assert.ok(local.listRules().every((r) => r.target.name === "provisioner"));
    });
});
