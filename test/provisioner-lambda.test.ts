/**
 * The provisioner Lambda against a recorded AWS: aws-sdk-client-mock routes every SDK call to the
 * fake in local/fakeAws.ts, which rejects what AWS rejects (> 50 InstanceIds, unknown document,
 * an agent that is not online, an untagged instance under the IAM tag condition, MaxResults out
 * of range, tag filters mixed with other filters, ...). Any call the fake does not know fails.
 * The last block runs the REAL bundle (bin/lambda/provisioner.js) in a child process against the
 * fake served over HTTP (AWS_ENDPOINT_URL_SSM / _EC2 / _SQS).
 */
import * as assert from "assert";
import { spawn, execFileSync } from "child_process";
import * as path from "path";
import { mockClient } from "aws-sdk-client-mock";
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import {
    DescribeInstanceInformationCommand,
    GetCommandInvocationCommand,
    GetParametersByPathCommand,
    GetParametersCommand,
    ListCommandInvocationsCommand,
    PutParameterCommand,
    SendCommandCommand,
    SSMClient,
} from "@aws-sdk/client-ssm";
import { accessSpecHash, canonicalAccessSpecJson } from "../core/accessSpecJson";
import { documentParameters } from "../core/document";
import { pushEvent } from "../core/events";
import { waitEvent, WAIT_SOURCE } from "../core/waitEvent";
import { FakeAwsState, startFakeAwsServer, AwsApiError } from "../local/fakeAws";
import {
    createHandler,
    Log,
    SEND_COMMAND_MAX_IDS,
    SPEC_SETTLE_MS,
    WAIT_FAST_MS,
    waitDelaySeconds,
} from "../lambda/provisioner";
import {
    associationEvent,
    DLQ_URL,
    DOC,
    ENV,
    FORGED_KEY,
    FORGED_SPEC,
    LONG_AGO,
    hostKeyOutput,
    instanceId,
    KNOWN_HOSTS,
    makeFleet,
    record,
    resultEvent,
    runningEvent,
    SPEC,
    storeSpec,
    TAG,
    USER_KEY,
} from "./support/provisionerFixture";

// The stubs replace the clients' `send` on their prototypes, so they are installed only while this
// file's mocked suite runs (before/after), never at load time: other files in the same mocha run
// use the real clients against local endpoints.
const stubSsm = () => mockClient(SSMClient);
const stubEc2 = () => mockClient(EC2Client);
const stubSqs = () => mockClient(SQSClient);
let ssmMock: ReturnType<typeof stubSsm>;
let ec2Mock: ReturnType<typeof stubEc2>;
let sqsMock: ReturnType<typeof stubSqs>;

interface Harness {
    fleet: FakeAwsState;
    logs: { level: string; message: string; extra: Record<string, unknown> }[];
    sleeps: number[];
    handler: ReturnType<typeof createHandler>;
    /** Moves the virtual clock (what a slow AWS call would take). */
    advance: (ms: number) => void;
}

/** Wires the mocks to `fleet` and builds a handler with instant, recorded sleeps on a virtual clock. */
function harness(fleet: FakeAwsState, env: Record<string, string> = ENV): Harness {
    ssmMock.reset();
    ec2Mock.reset();
    sqsMock.reset();
    const unmocked = (input: unknown) =>
        Promise.reject(new Error(`unmocked AWS call ${JSON.stringify(input).slice(0, 80)}`));
    ssmMock.onAnyCommand().callsFake(unmocked);
    ec2Mock.onAnyCommand().callsFake(unmocked);
    sqsMock.onAnyCommand().callsFake(unmocked);
    const h = fleet.handlers();
    ssmMock.on(SendCommandCommand).callsFake(h.ssm!.SendCommand);
    ssmMock.on(DescribeInstanceInformationCommand).callsFake(h.ssm!.DescribeInstanceInformation);
    ssmMock.on(GetCommandInvocationCommand).callsFake(h.ssm!.GetCommandInvocation);
    ssmMock.on(GetParametersByPathCommand).callsFake(h.ssm!.GetParametersByPath);
    ssmMock.on(GetParametersCommand).callsFake(h.ssm!.GetParameters);
    ssmMock.on(ListCommandInvocationsCommand).callsFake(h.ssm!.ListCommandInvocations);
    ssmMock.on(PutParameterCommand).callsFake(h.ssm!.PutParameter);
    ec2Mock.on(DescribeInstancesCommand).callsFake(h.ec2!.DescribeInstances);
    sqsMock.on(SendMessageCommand).callsFake(h.sqs!.SendMessage);

    let now = 0;
    fleet.clock = () => now;
    const logs: Harness["logs"] = [];
    const log: Log = Object.fromEntries(
        ["debug", "info", "warn", "error"].map((level) => [
            level,
            (message: string, extra: Record<string, unknown> = {}) => logs.push({ level, message, extra }),
        ]),
    ) as unknown as Log;
    const sleeps: number[] = [];
    const ec2 = new EC2Client({ region: "us-east-1" });
    const handler = createHandler({
        ssm: new SSMClient({ region: "us-east-1" }),
        ec2: async () => ec2,
        sqs: new SQSClient({ region: "us-east-1" }),
        env,
        log,
        sleep: async (ms) => {
            sleeps.push(ms);
            now += ms;
        },
        random: () => 0.5,
        now: () => now,
    });
    return { fleet, logs, sleeps, handler, advance: (ms: number) => void (now += ms) };
}

/** Installs the SDK stubs for the calling describe block only (before/after). */
function useStubbedClients(): void {
    before(() => {
        ssmMock = stubSsm();
        ec2Mock = stubEc2();
        sqsMock = stubSqs();
    });
    after(() => {
        ssmMock.restore();
        ec2Mock.restore();
        sqsMock.restore();
    });
}

const sent = (f: FakeAwsState) => f.commands.flatMap((c) => c.instanceIds);
const failedIds = (r: { batchItemFailures: { itemIdentifier: string }[] }) =>
    r.batchItemFailures.map((f) => f.itemIdentifier).sort();

describe("provisioner Lambda (mocked AWS)", () => {
    useStubbedClients();

    it("the fake rejects what AWS rejects", async () => {
        const f = makeFleet({ tagged: 60 });
        const ids = Array.from({ length: 51 }, (_, i) => instanceId(i + 1));
        const h = f.handlers().ssm!;
        await assert.rejects(
            async () => h.SendCommand({ DocumentName: DOC, InstanceIds: ids }),
            /ValidationException|at 'instanceIds' failed/,
        );
        await assert.rejects(
            async () => h.SendCommand({ DocumentName: "AWS-RunShellScript", InstanceIds: ids.slice(0, 2) }),
            (e: AwsApiError) => e.name === "InvalidDocument",
        );
        await assert.rejects(
            async () => h.DescribeInstanceInformation({ MaxResults: 51 }),
            (e: AwsApiError) => e.name === "ValidationException",
        );
        await assert.rejects(
            async () =>
                h.DescribeInstanceInformation({
                    Filters: [
                        { Key: "tag:a", Values: ["b"] },
                        { Key: "PingStatus", Values: ["Online"] },
                    ],
                }),
            /can't be combined/,
        );
        f.addInstance("i-0000000000000ffff", { other: "x" }, "Online");
        await assert.rejects(
            async () => h.SendCommand({ DocumentName: DOC, InstanceIds: [instanceId(1), "i-0000000000000ffff"] }),
            (e: AwsApiError) => e.name === "AccessDeniedException",
        );
    });

    it("instance running: tag check, readiness, one SendCommand with the real document parameters", async () => {
        const { fleet, handler } = harness(makeFleet({ tagged: 1 }));
        const res = await handler({ Records: [record(runningEvent(instanceId(1)))] });
        assert.deepStrictEqual(res.batchItemFailures, []);
        assert.strictEqual(fleet.commands.length, 1);
        const call = fleet.callsOf("SendCommand")[0].input;
        assert.deepStrictEqual(call.InstanceIds, [instanceId(1)]);
        assert.strictEqual(call.DocumentName, DOC);
        assert.deepStrictEqual(call.Parameters, documentParameters(SPEC));
        assert.strictEqual(call.Comment, `pka-fleet attempt=1 spec=${accessSpecHash(SPEC).slice(0, 8)}`);
        assert.strictEqual(fleet.callsOf("DescribeInstances").length, 1);
        const gp = fleet.callsOf("GetParametersByPath")[0].input;
        assert.strictEqual(gp.WithDecryption, true);
    });

    it("association state change (agent online) provisions the instance", async () => {
        const { fleet, handler } = harness(makeFleet({ tagged: 1 }));
        const res = await handler({ Records: [record(associationEvent(instanceId(1)))] });
        assert.deepStrictEqual(res.batchItemFailures, []);
        assert.deepStrictEqual(sent(fleet), [instanceId(1)]);
    });

    it("120 tagged instances -> 3 SendCommand calls of at most 50 ids; duplicates collapse", async () => {
        const { fleet, handler } = harness(makeFleet({ tagged: 120 }));
        const records = Array.from({ length: 120 }, (_, i) => record(runningEvent(instanceId(i + 1))));
        // The same instances again through association events: deduplicated within the batch.
        records.push(...Array.from({ length: 30 }, (_, i) => record(associationEvent(instanceId(i + 1)))));
        const res = await handler({ Records: records });
        assert.deepStrictEqual(res.batchItemFailures, []);
        assert.strictEqual(fleet.callsOf("SendCommand").length, 3);
        assert.deepStrictEqual(
            fleet.commands.map((c) => c.instanceIds.length),
            [50, 50, 20],
        );
        assert.ok(fleet.commands.every((c) => c.instanceIds.length <= SEND_COMMAND_MAX_IDS));
        assert.deepStrictEqual(new Set(sent(fleet)).size, 120);
        assert.strictEqual(sent(fleet).length, 120);
        assert.strictEqual(fleet.callsOf("DescribeInstances").length, 2, "100 ids per tag-check call");
        assert.strictEqual(fleet.callsOf("DescribeInstanceInformation").length, 3, "50 ids per readiness call");
    });

    it("throttling twice then success: provisioned, nothing dropped, backoff with jitter", async () => {
        const { fleet, handler, sleeps } = harness(makeFleet({ tagged: 3 }));
        fleet.throttleNext.SendCommand = 2;
        const res = await handler({ Records: [1, 2, 3].map((n) => record(runningEvent(instanceId(n)))) });
        assert.deepStrictEqual(res.batchItemFailures, []);
        assert.strictEqual(fleet.callsOf("SendCommand").length, 3);
        assert.deepStrictEqual(
            fleet.callsOf("SendCommand").map((c) => c.error),
            ["ThrottlingException", "ThrottlingException", undefined],
        );
        assert.deepStrictEqual(sent(fleet).sort(), [1, 2, 3].map(instanceId));
        // Full jitter with random()=0.5: half of 100 ms, then half of 200 ms.
        assert.deepStrictEqual(sleeps, [50, 100]);
        assert.strictEqual(handler.stats()?.throttled, 2);
    });

    it("throttling past the bound: the records go back to the queue, none is acknowledged", async () => {
        const { fleet, handler } = harness(makeFleet({ tagged: 2 }));
        fleet.throttleNext.SendCommand = 100;
        const recs = [record(runningEvent(instanceId(1))), record(runningEvent(instanceId(2)))];
        const res = await handler({ Records: recs });
        assert.deepStrictEqual(failedIds(res), recs.map((r) => r.messageId).sort());
        assert.strictEqual(fleet.commands.length, 0);
        assert.strictEqual(fleet.callsOf("SendCommand").length, 6, "bounded attempts");
    });

    it("agent not online (lost or never registered): item failure, no command", async () => {
        const fleet = makeFleet({ tagged: 1, offline: 1 });
        fleet.addInstance("i-00000000000000abc", { [TAG.key]: TAG.value }); // running, agent not registered yet
        const { handler, logs } = harness(fleet);
        const ok = record(runningEvent(instanceId(1)));
        const lost = record(runningEvent(instanceId(2)));
        const fresh = record(runningEvent("i-00000000000000abc"));
        const res = await handler({ Records: [ok, lost, fresh] });
        assert.deepStrictEqual(failedIds(res), [lost.messageId, fresh.messageId].sort());
        assert.deepStrictEqual(sent(fleet), [instanceId(1)]);
        assert.ok(logs.some((l) => l.extra.pingStatus === "ConnectionLost"));
    });

    it("untagged instances: no command (one would deny the whole call), acknowledged and logged", async () => {
        const { fleet, handler, logs } = harness(makeFleet({ tagged: 1, untagged: 1 }));
        const recs = [record(runningEvent(instanceId(1))), record(runningEvent(instanceId(2)))];
        const res = await handler({ Records: recs });
        assert.deepStrictEqual(res.batchItemFailures, []);
        assert.deepStrictEqual(sent(fleet), [instanceId(1)]);
        assert.ok(!fleet.calls.some((c) => c.error === "AccessDeniedException"));
        assert.ok(
            logs.some((l) => /does not carry the fleet tag/.test(l.message) && l.extra.instanceId === instanceId(2)),
        );
    });

    it("an event that is not an SQS batch (null, no Records, Records not a list) is logged and acknowledged: nothing to retry", async () => {
        const { fleet, handler, logs } = harness(makeFleet({ tagged: 1 }));
        for (const ev of [null, undefined, {}, { Records: null }, { Records: "x" }, "text", []]) {
            const res = await handler(ev as never);
            assert.deepStrictEqual(res, { batchItemFailures: [] }, JSON.stringify(ev));
        }
        assert.strictEqual(logs.filter((l) => l.level === "error" && /not an SQS batch/.test(l.message)).length, 7);
        assert.deepStrictEqual(sent(fleet), []);
        // a null entry among real records is a malformed record; the rest go on
        const res = await handler({ Records: [null as never, record(runningEvent(instanceId(1)))] });
        assert.deepStrictEqual(res.batchItemFailures, []);
        assert.deepStrictEqual(sent(fleet), [instanceId(1)]);
        assert.ok(logs.some((l) => l.message === "malformed record acknowledged" && l.extra.reason === "not-a-record"));
    });

    it("a managed node outside EC2 (mi-) is skipped with the real reason, not as untagged", async () => {
        const { fleet, handler, logs } = harness(makeFleet({ tagged: 1 }));
        const hybrid = "mi-0123456789abcdef0";
        const res = await handler({ Records: [record(runningEvent(hybrid)), record(runningEvent(instanceId(1)))] });
        assert.deepStrictEqual(res.batchItemFailures, []);
        assert.deepStrictEqual(sent(fleet), [instanceId(1)]);
        assert.ok(
            logs.some(
                (l) =>
                    /managed nodes outside EC2 \(mi-\) are not supported/.test(l.message) &&
                    l.extra.instanceId === hybrid,
            ),
        );
        assert.ok(!logs.some((l) => /does not carry the fleet tag/.test(l.message) && l.extra.instanceId === hybrid));
        assert.strictEqual(handler.stats()!.untagged, 1);
    });

    it("malformed records are acknowledged and logged with their messageId; the batch goes on", async () => {
        const { fleet, handler, logs } = harness(makeFleet({ tagged: 1 }));
        const bad = [
            record("this is not json", "bad-json"),
            record({ source: "aws.s3", "detail-type": "Object Created", detail: {} }, "bad-kind"),
            record({ ...runningEvent(instanceId(1)), detail: { state: "running" } }, "bad-id"),
            record(runningEvent(instanceId(1), "stopped"), "bad-state"),
        ];
        const res = await handler({ Records: [...bad, record(runningEvent(instanceId(1)))] });
        assert.deepStrictEqual(res.batchItemFailures, []);
        assert.deepStrictEqual(sent(fleet), [instanceId(1)]);
        const logged = logs
            .filter((l) => l.message === "malformed record acknowledged")
            .map((l) => [l.extra.messageId, l.extra.reason]);
        assert.deepStrictEqual(logged, [
            ["bad-json", "not-json"],
            ["bad-kind", "unknown-event"],
            ["bad-id", "missing-instance-id"],
            ["bad-state", "unwanted-state"],
        ]);
    });

    it("invalid stored spec: no command, a loud error, the records fail for retry/DLQ", async () => {
        const fleet = makeFleet({ tagged: 2 });
        storeSpec(fleet, JSON.stringify({ users: [{ name: "root", sudo: "nopasswd", keys: [USER_KEY] }] }));
        const { handler, logs } = harness(fleet);
        const recs = [record(runningEvent(instanceId(1))), record(runningEvent(instanceId(2)))];
        const res = await handler({ Records: recs });
        assert.deepStrictEqual(failedIds(res), recs.map((r) => r.messageId).sort());
        assert.strictEqual(fleet.callsOf("SendCommand").length, 0);
        const err = logs.find((l) => l.level === "error" && /access spec unusable/.test(l.message));
        assert.ok(err, "error logged");
        assert.strictEqual(err!.extra.error, "AccessSpecError");
    });

    it("torn or missing spec: nothing provisioned", async () => {
        const fleet = makeFleet({ tagged: 1 });
        const [p] = [...fleet.parameters.entries()];
        fleet.parameters.set(p[0], { ...p[1], value: p[1].value.replace("0/1", "0/2") });
        const { handler } = harness(fleet);
        const res = await handler({ Records: [record(runningEvent(instanceId(1)))] });
        assert.strictEqual(res.batchItemFailures.length, 1);
        assert.strictEqual(fleet.callsOf("SendCommand").length, 0);
    });

    it("an unknown document (AWS rejects SendCommand): records fail, error logged", async () => {
        const { fleet, handler, logs } = harness(makeFleet({ tagged: 1 }), {
            ...ENV,
            PKA_DOCUMENT_NAME: "not-deployed",
        });
        const res = await handler({ Records: [record(runningEvent(instanceId(1)))] });
        assert.strictEqual(res.batchItemFailures.length, 1);
        assert.strictEqual(fleet.commands.length, 0);
        assert.ok(logs.some((l) => l.level === "error" && l.extra.error === "InvalidDocument"));
    });

    it("push: every online tagged instance (paginated listing), offline and untagged ones skipped", async () => {
        const { fleet, handler } = harness(makeFleet({ tagged: 70, offline: 3, untagged: 5 }));
        const res = await handler({
            Records: [record(pushEvent({ reason: "access-spec-changed", specHash: accessSpecHash(SPEC) }))],
        });
        assert.deepStrictEqual(res.batchItemFailures, []);
        assert.strictEqual(new Set(sent(fleet)).size, 70);
        assert.deepStrictEqual(
            fleet.commands.map((c) => c.instanceIds.length),
            [50, 20],
        );
        const listing = fleet.callsOf("DescribeInstanceInformation");
        assert.ok(listing.length >= 2 && listing.every((c) => c.input.Filters[0].Key === `tag:${TAG.key}`));
        assert.strictEqual(
            fleet.callsOf("DescribeInstances").length,
            0,
            "the tag-filtered listing already proves the tag",
        );
    });

    it("a push for a spec other than the pinned one (stale or forged) is acknowledged at once: nothing waits, nothing sent for it", async () => {
        const { fleet, handler, logs, sleeps } = harness(makeFleet({ tagged: 2 }));
        const push = record(pushEvent({ specHash: "f".repeat(64) }));
        const res = await handler({ Records: [push, record(runningEvent(instanceId(1)))] });
        assert.deepStrictEqual(res.batchItemFailures, [], "it cannot succeed later: not redelivered (no DLQ noise)");
        assert.deepStrictEqual(sleeps, [], "no waiting for a spec that will never be pinned");
        assert.ok(logs.some((l) => l.level === "warn" && /push for a spec other than the pinned one/.test(l.message)));
        assert.deepStrictEqual(sent(fleet), [instanceId(1)], "the other record still provisions with the stored spec");
    });

    it("a deploy's push while the parameters still read back the old spec: re-read with backoff, then provisioned", async () => {
        const fleet = makeFleet({ tagged: 1 });
        storeSpec(fleet, canonicalAccessSpecJson(FORGED_SPEC));
        const { handler, sleeps } = harness(fleet);
        // The new chunks become visible after two reads.
        let reads = 0;
        const h = fleet.handlers();
        ssmMock.on(GetParametersByPathCommand).callsFake((i: unknown) => {
            if (++reads === 2) storeSpec(fleet, canonicalAccessSpecJson(SPEC));
            return h.ssm!.GetParametersByPath(i as never);
        });
        const direct = { ...record(pushEvent({ specHash: accessSpecHash(SPEC) })), eventSource: "pka-fleet:deploy" };
        const res = await handler({ Records: [direct] });
        assert.deepStrictEqual(res.batchItemFailures, []);
        assert.ok(sleeps.length >= 1);
        assert.deepStrictEqual(fleet.callsOf("SendCommand")[0].input.Parameters, documentParameters(SPEC));
    });

    it("a deploy that writes a newer spec while a batch runs: the batch sends nothing more with the older one", async () => {
        const fleet = makeFleet({ tagged: 120 });
        const { handler, logs, advance } = harness(fleet);
        const h = fleet.handlers();
        let sends = 0;
        ssmMock.on(SendCommandCommand).callsFake((i: unknown) => {
            // The first call of 50 ids takes 2 s; meanwhile the deploy writes the next spec.
            if (++sends === 1) {
                storeSpec(fleet, canonicalAccessSpecJson(FORGED_SPEC));
                advance(2000);
            }
            return h.ssm!.SendCommand(i as never);
        });
        const recs = Array.from({ length: 120 }, (_, i) => record(runningEvent(instanceId(i + 1))));
        const res = await handler({ Records: recs });
        assert.strictEqual(fleet.commands.length, 1, "one call of 50 before the change, none after");
        assert.strictEqual(
            res.batchItemFailures.length,
            70,
            "the other 70 records are retried (and meet the new configuration)",
        );
        assert.ok(logs.some((l) => /stored spec changed while this batch ran/.test(l.message)));
    });

    it("a direct invocation (deploy-time push) throws when something failed, so the deploy reports it", async () => {
        const fleet = makeFleet({ tagged: 1 });
        fleet.throttleNext.SendCommand = 100;
        const { handler } = harness(fleet);
        const direct = { ...record(pushEvent({ specHash: accessSpecHash(SPEC) })), eventSource: "pka-fleet:deploy" };
        await assert.rejects(handler({ Records: [direct] }), /push failed for 1 record/);
    });

    it("failed result: run again with attempt+1, then dead-letter with the reason after PKA_MAX_ATTEMPTS", async () => {
        const fleet = makeFleet({ tagged: 1 });
        fleet.runCommand = () => ({ status: "Failed", stderr: "pka: visudo refused the drop-in\n", responseCode: 1 });
        const { handler } = harness(fleet);
        const id = instanceId(1);
        await handler({ Records: [record(runningEvent(id))] });
        for (let attempt = 1; attempt <= 3; attempt++) {
            const last = fleet.commands[fleet.commands.length - 1];
            assert.strictEqual(last.comment.split(" ")[1], `attempt=${attempt}`);
            const res = await handler({ Records: [record(resultEvent(id, last.commandId, "Failed"))] });
            assert.deepStrictEqual(res.batchItemFailures, []);
        }
        assert.strictEqual(fleet.commands.length, 3, "three runs, no fourth");
        const dlq = fleet.queues.get(DLQ_URL)!;
        assert.strictEqual(dlq.length, 1);
        const reason = JSON.parse(dlq[0].body);
        assert.deepStrictEqual(
            [reason.reason, reason.instanceId, reason.status, reason.attempts, reason.responseCode],
            ["command-failed", id, "Failed", 3, 1],
        );
        assert.match(reason.stderrTail, /visudo refused/);
    });

    it("success result: host keys read (after InvocationDoesNotExist) and pinned in <known_hosts>/<id>", async () => {
        const fleet = makeFleet({ tagged: 1 });
        const hk = hostKeyOutput();
        fleet.runCommand = () => ({ status: "Success", stdout: hk.stdout });
        fleet.invocationLag = 2;
        const { handler, logs } = harness(fleet);
        const id = instanceId(1);
        await handler({ Records: [record(runningEvent(id))] });
        const res = await handler({ Records: [record(resultEvent(id, fleet.commands[0].commandId, "Success"))] });
        assert.deepStrictEqual(res.batchItemFailures, []);
        assert.strictEqual(fleet.callsOf("GetCommandInvocation").length, 3);
        const p = fleet.parameters.get(`${KNOWN_HOSTS}/${id}`);
        assert.ok(p, "known_hosts parameter written");
        assert.strictEqual(p!.value, hk.lines.join("\n"));
        assert.strictEqual(fleet.callsOf("PutParameter")[0].input.Overwrite, true);
        // No key material in any log entry.
        const all = JSON.stringify(logs);
        assert.ok(
            !all.includes(hk.lines[0].split(" ")[1]) && !all.includes(USER_KEY.split(" ")[1]),
            "no key material in logs",
        );
    });

    it("a result whose invocation never appears fails the record for redelivery", async () => {
        const fleet = makeFleet({ tagged: 1 });
        const { handler } = harness(fleet);
        const r = record(resultEvent(instanceId(1), "e8d3c0e4-71f7-4491-898f-c9b35bee5f3b", "Success"));
        const res = await handler({ Records: [r] });
        assert.deepStrictEqual(failedIds(res), [r.messageId]);
        assert.strictEqual(fleet.callsOf("GetCommandInvocation").length, 4);
    });

    it("results for another document are ignored", async () => {
        const { fleet, handler } = harness(makeFleet({ tagged: 1 }));
        const res = await handler({
            Records: [
                record(
                    resultEvent(instanceId(1), "e8d3c0e4-71f7-4491-898f-c9b35bee5f3b", "Failed", "AWS-RunShellScript"),
                ),
            ],
        });
        assert.deepStrictEqual(res.batchItemFailures, []);
        assert.strictEqual(fleet.calls.length, 0);
    });

    describe("root of trust: only the spec the deploy pinned is ever sent", () => {
        const noForgedMaterial = (logs: unknown, fleet: FakeAwsState) => {
            const text = JSON.stringify(logs) + JSON.stringify([...fleet.queues.values()]);
            assert.ok(
                !text.includes(FORGED_KEY.split(" ")[1]),
                "the refused spec's keys appear in no log and no DLQ message",
            );
            assert.ok(!text.includes("mallory"), "nor its user names");
        };

        for (const [what, ev] of [
            ["instance running", (id: string) => runningEvent(id)],
            ["association change", (id: string) => associationEvent(id)],
            ["push", () => pushEvent({ reason: "forged" })],
        ] as const) {
            it(`a spec rewritten by a parameter writer (valid, hash recomputed) is refused on ${what}: nothing sent, records retried, content never logged`, async () => {
                const fleet = makeFleet({ tagged: 2 });
                storeSpec(fleet, canonicalAccessSpecJson(FORGED_SPEC));
                const { handler, logs } = harness(fleet);
                const r = record(ev(instanceId(1)));
                const res = await handler({ Records: [r] });
                assert.deepStrictEqual(failedIds(res), [r.messageId], "the record goes back to the queue");
                assert.strictEqual(fleet.callsOf("SendCommand").length, 0, "no command with the forged spec");
                assert.strictEqual(handler.stats()!.specRefused, 1);
                const refusal = logs.find((l) => l.message.startsWith("access spec refused"));
                assert.ok(refusal, JSON.stringify(logs));
                assert.deepStrictEqual(
                    [refusal.level, refusal.extra.storedSpec, refusal.extra.pinnedSpec],
                    ["error", accessSpecHash(FORGED_SPEC), accessSpecHash(SPEC)],
                );
                // First receive: maybe a deploy between writing the parameters and updating the function; no alarm yet.
                assert.strictEqual(fleet.queues.get(DLQ_URL)!.length, 0);
                noForgedMaterial(logs, fleet);
            });
        }

        it("a refusal that outlasts a deploy's window (parameters older than SPEC_SETTLE_MS) raises the alarm: a DLQ message access-spec-refused", async () => {
            const fleet = makeFleet({ tagged: 1 });
            storeSpec(fleet, canonicalAccessSpecJson(FORGED_SPEC), undefined, Date.now() - SPEC_SETTLE_MS - 1000);
            const { handler, logs } = harness(fleet);
            const r = record(runningEvent(instanceId(1)));
            const res = await handler({ Records: [r] });
            assert.deepStrictEqual(failedIds(res), [r.messageId]);
            assert.strictEqual(fleet.callsOf("SendCommand").length, 0);
            const dlq = fleet.queues.get(DLQ_URL)!;
            assert.strictEqual(dlq.length, 1);
            const reason = JSON.parse(dlq[0].body);
            assert.deepStrictEqual(
                [reason.reason, reason.storedSpec, reason.pinnedSpec, reason.path],
                ["access-spec-refused", accessSpecHash(FORGED_SPEC), accessSpecHash(SPEC), "/pka/prod/access"],
            );
            noForgedMaterial(logs, fleet);
        });

        it("a deploy's push meeting a forged spec fails the deploy and alarms at once", async () => {
            const fleet = makeFleet({ tagged: 1 });
            storeSpec(fleet, canonicalAccessSpecJson(FORGED_SPEC));
            const { handler, sleeps } = harness(fleet);
            const direct = {
                ...record(pushEvent({ specHash: accessSpecHash(SPEC) })),
                eventSource: "pka-fleet:deploy",
            };
            await assert.rejects(handler({ Records: [direct] }), /push failed for 1 record/);
            assert.strictEqual(fleet.callsOf("SendCommand").length, 0);
            assert.ok(sleeps.length >= 3, "it waited for a lagging parameter first");
            assert.strictEqual(JSON.parse(fleet.queues.get(DLQ_URL)![0].body).reason, "access-spec-refused");
        });

        it("the writer cannot make the forged spec match: a push naming its hash provisions nothing", async () => {
            const fleet = makeFleet({ tagged: 1 });
            storeSpec(fleet, canonicalAccessSpecJson(FORGED_SPEC));
            const { handler } = harness(fleet);
            await handler({ Records: [record(pushEvent({ specHash: accessSpecHash(FORGED_SPEC) }))] });
            assert.strictEqual(fleet.callsOf("SendCommand").length, 0);
        });

        it("a torn or invalid spec that has stood past a deploy's window alarms too (access-spec-unusable); a fresh one is only retried", async () => {
            for (const [modifiedAt, alarms] of [
                [undefined, 0],
                [Date.now() - SPEC_SETTLE_MS - 1000, 1],
            ] as const) {
                const fleet = makeFleet({ tagged: 1 });
                storeSpec(
                    fleet,
                    JSON.stringify({ users: [{ name: "root", sudo: "nopasswd", keys: [USER_KEY] }] }),
                    undefined,
                    modifiedAt,
                );
                const { handler } = harness(fleet);
                const res = await handler({ Records: [record(runningEvent(instanceId(1)))] });
                assert.strictEqual(res.batchItemFailures.length, 1);
                const dlq = fleet.queues.get(DLQ_URL)!.map((m) => JSON.parse(m.body).reason);
                assert.deepStrictEqual(dlq, alarms ? ["access-spec-unusable"] : []);
            }
        });

        it("after the deploy that pins the new spec, the same spec is served", async () => {
            const fleet = makeFleet({ tagged: 1 });
            storeSpec(fleet, canonicalAccessSpecJson(FORGED_SPEC));
            const { handler } = harness(fleet, { ...ENV, PKA_ACCESS_SPEC_SHA256: accessSpecHash(FORGED_SPEC) });
            const res = await handler({ Records: [record(runningEvent(instanceId(1)))] });
            assert.deepStrictEqual(res.batchItemFailures, []);
            assert.deepStrictEqual(fleet.callsOf("SendCommand")[0].input.Parameters, documentParameters(FORGED_SPEC));
        });

        it("no pin, a malformed pin, or host keys written among the spec chunks: the function refuses to start", async () => {
            const { PKA_ACCESS_SPEC_SHA256: _, ...unpinned } = ENV;
            void _;
            for (const [env, re] of [
                [unpinned, /PKA_ACCESS_SPEC_SHA256 is required/],
                [{ ...ENV, PKA_ACCESS_SPEC_SHA256: "abc" }, /PKA_ACCESS_SPEC_SHA256 must be 64 lower-case hex/],
                [
                    { ...ENV, PKA_KNOWN_HOSTS_PATH: "/pka/prod/access/kh" },
                    /PKA_KNOWN_HOSTS_PATH \/pka\/prod\/access\/kh overlaps PKA_ACCESS_PARAMETER/,
                ],
            ] as const) {
                const fleet = makeFleet({ tagged: 1 });
                const { handler } = harness(fleet, env as Record<string, string>);
                await assert.rejects(handler({ Records: [record(runningEvent(instanceId(1)))] }), re);
                assert.strictEqual(fleet.calls.length, 0, "no AWS call at all");
            }
        });
    });

    describe("forged results: acted on only for a command of our document that we sent", () => {
        function forge(
            fleet: FakeAwsState,
            o: {
                documentName: string;
                comment: string;
                status: "Success" | "Failed";
                stdout?: string;
                responseCode?: number;
            },
        ) {
            const commandId = "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f";
            fleet.invocations.set(`${commandId}:${instanceId(1)}`, {
                commandId,
                instanceId: instanceId(1),
                documentName: o.documentName,
                comment: o.comment,
                parameters: {},
                status: o.status,
                statusDetails: o.status,
                stdout: o.stdout ?? "",
                stderr: "",
                responseCode: o.responseCode ?? (o.status === "Success" ? 0 : 1),
                lag: 0,
            });
            return commandId;
        }

        it("host keys printed by someone's AWS-RunShellScript, announced as our document's result, are not pinned", async () => {
            const fleet = makeFleet({ tagged: 1 });
            const hk = hostKeyOutput();
            const commandId = forge(fleet, {
                documentName: "AWS-RunShellScript",
                comment: "pka-fleet attempt=1 spec=00000000",
                status: "Success",
                stdout: hk.stdout,
            });
            const { handler, logs } = harness(fleet);
            const res = await handler({ Records: [record(resultEvent(instanceId(1), commandId, "Success", DOC))] });
            assert.deepStrictEqual(res.batchItemFailures, []);
            assert.strictEqual(fleet.callsOf("PutParameter").length, 0, "no known_hosts write");
            assert.strictEqual(handler.stats()!.forgedResults, 1);
            assert.ok(
                logs.some(
                    (l) =>
                        l.message.startsWith("command result not acted on") &&
                        l.extra.documentName === "AWS-RunShellScript",
                ),
            );
        });

        it("a run of our document that we did not send (no comment of ours): neither pinned, retried nor dead-lettered", async () => {
            for (const comment of ["", "manual run", "pka-fleet attempt=1", "xpka-fleet attempt=1 spec=00000000"]) {
                for (const status of ["Success", "Failed"] as const) {
                    const fleet = makeFleet({ tagged: 1 });
                    const commandId = forge(fleet, {
                        documentName: DOC,
                        comment,
                        status,
                        stdout: hostKeyOutput().stdout,
                    });
                    const { handler } = harness(fleet);
                    const res = await handler({ Records: [record(resultEvent(instanceId(1), commandId, status))] });
                    assert.deepStrictEqual(res.batchItemFailures, [], `${comment}/${status}`);
                    assert.deepStrictEqual(
                        [
                            fleet.callsOf("PutParameter").length,
                            fleet.callsOf("SendCommand").length,
                            fleet.queues.get(DLQ_URL)!.length,
                        ],
                        [0, 0, 0],
                        `${comment}/${status}`,
                    );
                }
            }
        });

        it("a shared document of another account with our document's name is not ours", async () => {
            const fleet = makeFleet({ tagged: 1 });
            const commandId = forge(fleet, {
                documentName: `arn:aws:ssm:us-east-1:999999999999:document/${DOC}`,
                comment: "pka-fleet attempt=1 spec=00000000",
                status: "Success",
                stdout: hostKeyOutput().stdout,
            });
            const { handler } = harness(fleet);
            await handler({ Records: [record(resultEvent(instanceId(1), commandId, "Success"))] });
            assert.strictEqual(fleet.callsOf("PutParameter").length, 0);
        });

        it("the event's status is not believed: a 'Failed' event for a command SSM says succeeded schedules no rerun", async () => {
            const fleet = makeFleet({ tagged: 1 });
            const commandId = forge(fleet, {
                documentName: DOC,
                comment: "pka-fleet attempt=1 spec=00000000",
                status: "Success",
                stdout: hostKeyOutput().stdout,
            });
            const { handler } = harness(fleet, { ...ENV, PKA_KNOWN_HOSTS_PATH: "" });
            await handler({ Records: [record(resultEvent(instanceId(1), commandId, "Failed"))] });
            assert.strictEqual(fleet.callsOf("SendCommand").length, 0);
        });

        it("a result event ahead of SSM (the invocation still InProgress): retried, and acted on once SSM agrees", async () => {
            const fleet = makeFleet({ tagged: 1 });
            const hk = hostKeyOutput();
            const commandId = forge(fleet, {
                documentName: DOC,
                comment: `pka-fleet attempt=1 spec=${accessSpecHash(SPEC).slice(0, 8)}`,
                status: "Success",
                stdout: hk.stdout,
            });
            const inv = fleet.invocations.get(`${commandId}:${instanceId(1)}`)!;
            inv.status = "InProgress";
            const { handler } = harness(fleet);
            const r = record(resultEvent(instanceId(1), commandId, "Success"));
            assert.deepStrictEqual(failedIds(await handler({ Records: [r] })), [r.messageId], "back to the queue");
            assert.strictEqual(fleet.callsOf("PutParameter").length, 0);
            inv.status = "Success";
            assert.deepStrictEqual((await handler({ Records: [r] })).batchItemFailures, []);
            assert.strictEqual(fleet.parameters.get(`${KNOWN_HOSTS}/${instanceId(1)}`)?.value, hk.lines.join("\n"));
        });

        it("a replayed result of a run for an earlier spec cannot roll the pinned host keys back", async () => {
            const fleet = makeFleet({ tagged: 1 });
            const commandId = forge(fleet, {
                documentName: DOC,
                comment: "pka-fleet attempt=1 spec=0123abcd",
                status: "Success",
                stdout: hostKeyOutput().stdout,
            });
            const { handler } = harness(fleet);
            await handler({ Records: [record(resultEvent(instanceId(1), commandId, "Success"))] });
            assert.strictEqual(fleet.callsOf("PutParameter").length, 0);
        });

        it("exit 19 (partial): dead-lettered as partial with the conflicting users and reasons", async () => {
            const fleet = makeFleet({ tagged: 1 });
            fleet.runCommand = () => ({
                status: "Failed",
                responseCode: 19,
                stderr: "PKA-CONFLICT bob authorized_keys is a directory or another non-regular file\nPKA-CONFLICT carol exists and was not created by pka-fleet; set adopt: true for this user to manage it\npka: applied to every user but: bob carol\n",
            });
            const { handler } = harness(fleet, { ...ENV, PKA_MAX_ATTEMPTS: "1" });
            await handler({ Records: [record(runningEvent(instanceId(1)))] });
            await handler({ Records: [record(resultEvent(instanceId(1), fleet.commands[0].commandId, "Failed"))] });
            const reason = JSON.parse(fleet.queues.get(DLQ_URL)![0].body);
            assert.strictEqual(reason.reason, "partial");
            assert.deepStrictEqual(
                reason.conflicts.map((c: { user: string }) => c.user),
                ["bob", "carol"],
            );
            assert.match(reason.conflicts[1].reason, /set adopt: true/);
        });
    });

    it("an agent that drops between the readiness check and SendCommand: the call is split, only that record fails", async () => {
        const fleet = makeFleet({ tagged: 4 });
        const { handler } = harness(fleet);
        const dii = fleet.handlers().ssm!.DescribeInstanceInformation;
        ssmMock.on(DescribeInstanceInformationCommand).callsFake(async (input) => {
            const out = await dii(input);
            fleet.instances.get(instanceId(3))!.pingStatus = "ConnectionLost";
            return out;
        });
        const recs = [1, 2, 3, 4].map((n) => record(runningEvent(instanceId(n))));
        const res = await handler({ Records: recs });
        assert.deepStrictEqual(failedIds(res), [recs[2].messageId]);
        assert.deepStrictEqual(sent(fleet).sort(), [1, 2, 4].map(instanceId));
    });

    it("a missing or bad configuration fails the whole invocation loudly", async () => {
        const { handler } = harness(makeFleet({ tagged: 1 }), { ...ENV, PKA_TARGET_TAG: "novalue" });
        await assert.rejects(
            handler({ Records: [record(runningEvent(instanceId(1)))] }),
            /PKA_TARGET_TAG must be key=value/,
        );
    });

    it("measured: a burst of 1,000 new instances against a throttling SendCommand (token bucket 5/s, burst 10)", async () => {
        const fleet = makeFleet({ tagged: 1000 });
        fleet.rateLimit.SendCommand = { ratePerSec: 5, burst: 10 };
        const { handler } = harness(fleet);
        // SQS semantics: batches of 50; failed records come back in a later round.
        let queue = Array.from({ length: 1000 }, (_, i) => record(runningEvent(instanceId(i + 1))));
        let rounds = 0;
        while (queue.length > 0 && rounds < 20) {
            rounds++;
            const next: typeof queue = [];
            for (let i = 0; i < queue.length; i += 50) {
                const batch = queue.slice(i, i + 50);
                const res = await handler({ Records: batch });
                const failed = new Set(failedIds(res));
                next.push(...batch.filter((r) => failed.has(r.messageId)));
            }
            queue = next;
        }
        const calls = fleet.callsOf("SendCommand");
        const throttled = calls.filter((c) => c.error === "ThrottlingException").length;
        const ok = calls.filter((c) => !c.error).length;
        console.log(
            `      burst: 1000 instances, ${calls.length} SendCommand calls (${ok} accepted, ${throttled} throttled), ${rounds} round(s), every instance provisioned once`,
        );
        assert.strictEqual(queue.length, 0, "no record left behind");
        assert.strictEqual(new Set(sent(fleet)).size, 1000);
        assert.strictEqual(sent(fleet).length, 1000, "no instance got two commands");
        assert.strictEqual(ok, 20, "20 accepted calls per 1,000 instances");
        assert.ok(throttled > 0, "the bucket did throttle");
    });
});

describe("provisioner Lambda: conditions AWS documents", () => {
    useStubbedClients();
    const dlq = (f: FakeAwsState) => (f.queues.get(DLQ_URL) ?? []).map((m) => JSON.parse(m.body));

    it("DescribeInstanceInformation InvalidInstanceId for one unregistered id: the page is split and its Online instances go ahead", async () => {
        const fleet = makeFleet({ tagged: 3 });
        // Tagged and running in EC2, but its agent never registered: SSM does not know the id.
        fleet.addInstance("i-0000000000000beef", { [TAG.key]: TAG.value });
        const { handler } = harness(fleet);
        const ids = [...Array.from({ length: 3 }, (_, i) => instanceId(i + 1)), "i-0000000000000beef"];
        const records = ids.map((id) => record(runningEvent(id)));
        const res = await handler({ Records: records });
        // A few instances are looked up by id; the fake answers like SSM: one unknown id fails the whole call...
        assert.ok(fleet.callsOf("DescribeInstanceInformation").some((c) => c.error === "InvalidInstanceId"));
        // ...and every registered instance was still provisioned; only the unregistered one's record comes back.
        assert.deepStrictEqual(new Set(sent(fleet)), new Set(ids.slice(0, 3)));
        assert.deepStrictEqual(failedIds(res), [records[3].messageId]);
        assert.ok(
            fleet.callsOf("DescribeInstanceInformation").length <= 2 * Math.ceil(Math.log2(4)) + 2,
            "a binary split, not one call per id",
        );
    });

    it("many instances (more than 4) are checked in one listing of the fleet: an unregistered id costs nothing, and the listing vouches for the tag", async () => {
        const fleet = makeFleet({ tagged: 40 });
        fleet.addInstance("i-0000000000000beef", { [TAG.key]: TAG.value });
        const { handler } = harness(fleet);
        const ids = [...Array.from({ length: 40 }, (_, i) => instanceId(i + 1)), "i-0000000000000beef"];
        const records = ids.map((id) => record(runningEvent(id)));
        const res = await handler({ Records: records });
        const dii = fleet.callsOf("DescribeInstanceInformation");
        assert.ok(!dii.some((c) => c.error === "InvalidInstanceId"), "no id filter, so no InvalidInstanceId");
        assert.ok(dii.length <= 2, `one listing (40 registered: one page), got ${dii.length} calls`);
        assert.deepStrictEqual(new Set(sent(fleet)), new Set(ids.slice(0, 40)));
        assert.deepStrictEqual(failedIds(res), [records[40].messageId]);
    });

    it("an agent older than 3.3.2746.0 is dead-lettered at once as agent-too-old, naming its version and AWS-UpdateSSMAgent; nothing is sent to it", async () => {
        const fleet = makeFleet({ tagged: 3 });
        fleet.instances.get(instanceId(2))!.agentVersion = "3.2.582.0";
        const { handler } = harness(fleet);
        const records = [1, 2, 3].map((n) => record(runningEvent(instanceId(n))));
        const res = await handler({ Records: records });
        assert.deepStrictEqual(res.batchItemFailures, [], "acknowledged: a retry would fail the same way");
        assert.deepStrictEqual(sent(fleet).sort(), [instanceId(1), instanceId(3)]);
        const [msg] = dlq(fleet);
        assert.strictEqual(msg.reason, "agent-too-old");
        assert.strictEqual(msg.instanceId, instanceId(2));
        assert.strictEqual(msg.agentVersion, "3.2.582.0");
        assert.match(msg.message, /3\.2\.582\.0.*older than 3\.3\.2746\.0.*AWS-UpdateSSMAgent/);
        assert.strictEqual(handler.stats()!.agentTooOld, 1);
    });

    it("a push skips old agents the same way (the tag listing carries AgentVersion)", async () => {
        const fleet = makeFleet({ tagged: 2 });
        fleet.instances.get(instanceId(1))!.agentVersion = "2.3.1319.0";
        const { handler } = harness(fleet);
        const res = await handler({ Records: [record(pushEvent({ reason: "rotation" }))] });
        assert.deepStrictEqual(res.batchItemFailures, []);
        assert.deepStrictEqual(sent(fleet), [instanceId(2)]);
        assert.deepStrictEqual(
            dlq(fleet).map((m) => [m.reason, m.instanceId]),
            [["agent-too-old", instanceId(1)]],
        );
    });

    it("exit 9 (the agent passed no parameters) is dead-lettered at its first failure as agent-too-old, not retried", async () => {
        const fleet = makeFleet({ tagged: 1 });
        fleet.runCommand = () => ({
            status: "Failed",
            responseCode: 9,
            stderr: "PKA-ERROR code=9 SSM_AccessSpec and SSM_AccessSpecSha256 are not set\n",
        });
        const { handler } = harness(fleet);
        await handler({ Records: [record(runningEvent(instanceId(1)))] });
        const cmd = fleet.commands[0];
        const res = await handler({ Records: [record(resultEvent(instanceId(1), cmd.commandId, "Failed"))] });
        assert.deepStrictEqual(res.batchItemFailures, []);
        assert.strictEqual(fleet.commands.length, 1, "no second run");
        const [msg] = dlq(fleet);
        assert.strictEqual(msg.reason, "agent-too-old");
        assert.strictEqual(msg.responseCode, 9);
        assert.strictEqual(msg.attempts, 1);
        assert.match(msg.message, /AWS-UpdateSSMAgent/);
    });

    it("first deploy: the push retries AccessDenied while IAM propagates, then provisions; from the queue it does not wait", async () => {
        const fleet = makeFleet({ tagged: 2 });
        fleet.denyNext.GetParametersByPath = 3;
        fleet.denyNext.SendCommand = 2;
        const { handler, sleeps, logs } = harness(fleet);
        const direct = { ...record(pushEvent({ specHash: accessSpecHash(SPEC) })), eventSource: "pka-fleet:deploy" };
        const res = await handler({ Records: [direct] }, { getRemainingTimeInMillis: () => 55_000 });
        assert.deepStrictEqual(res.batchItemFailures, []);
        assert.deepStrictEqual(sent(fleet).sort(), [instanceId(1), instanceId(2)]);
        assert.strictEqual(handler.stats()!.accessDeniedRetries, 5);
        assert.ok(sleeps.length >= 5 && logs.some((l) => /IAM changes take a while/.test(l.message)));

        // From SQS the record is simply redelivered later: no waiting on a denial inside the batch.
        const f2 = makeFleet({ tagged: 1 });
        f2.denyNext.GetParametersByPath = 1;
        const h2 = harness(f2);
        const r2 = await h2.handler({ Records: [record(runningEvent(instanceId(1)))] });
        assert.strictEqual(r2.batchItemFailures.length, 1);
        assert.strictEqual(h2.handler.stats()!.accessDeniedRetries, 0);
    });

    it("first deploy: a denial that outlasts IAM_PROPAGATION_MS fails the push loudly (pulumi up reports it)", async () => {
        const fleet = makeFleet({ tagged: 1 });
        fleet.denyNext.GetParametersByPath = 1000;
        const { handler } = harness(fleet);
        const direct = { ...record(pushEvent({ specHash: accessSpecHash(SPEC) })), eventSource: "pka-fleet:deploy" };
        await assert.rejects(
            handler({ Records: [direct] }, { getRemainingTimeInMillis: () => 900_000 }),
            /push failed/,
        );
        assert.ok(handler.stats()!.accessDeniedRetries >= 5 && handler.stats()!.accessDeniedRetries <= 16);
    });

    it("removing an instance's fleet tag: later pushes skip it (it keeps what it has until revoked by hand)", async () => {
        const fleet = makeFleet({ tagged: 2 });
        const { handler } = harness(fleet);
        fleet.instances.get(instanceId(1))!.tags = { team: "moved" };
        await handler({ Records: [record(pushEvent({ reason: "rotation" }))] });
        await handler({ Records: [record(runningEvent(instanceId(1)))] });
        assert.deepStrictEqual(
            sent(fleet),
            [instanceId(2)],
            "the untagged instance gets no command: neither the revocation nor anything else",
        );
    });
});

describe("provisioner Lambda: the real bundle over HTTP", function () {
    const root = path.resolve(__dirname, "..");
    const bundle = path.join(root, "bin", "lambda", "provisioner.js");

    before(function () {
        execFileSync(process.execPath, [path.join(root, "scripts", "bundle-lambda.js")], { cwd: root, stdio: "pipe" });
    });

    function runBundle(
        env: Record<string, string>,
        event: object,
    ): Promise<{ code: number; stdout: string; stderr: string }> {
        const script = `
            const { handler } = require(${JSON.stringify(bundle)});
            handler(JSON.parse(process.env.EVENT), { getRemainingTimeInMillis: () => 60000 })
                .then((r) => { process.stdout.write("RESULT " + JSON.stringify(r) + "\\n"); })
                .catch((e) => { process.stdout.write("ERROR " + e.message + "\\n"); process.exitCode = 1; });`;
        const clean = Object.fromEntries(
            Object.entries(process.env).filter(([k]) => !k.startsWith("AWS_") && !k.startsWith("PKA_")),
        );
        return new Promise((resolve) => {
            const child = spawn(process.execPath, ["-e", script], {
                env: { ...clean, ...env, EVENT: JSON.stringify(event) },
            });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d) => (stdout += d));
            child.stderr.on("data", (d) => (stderr += d));
            child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
        });
    }

    it("provisions, skips, fails and pins through AWS_ENDPOINT_URL_SSM/_EC2/_SQS with the SDK's own wire protocols", async () => {
        const fleet = makeFleet({ tagged: 1, offline: 1, untagged: 1 });
        const hk = hostKeyOutput();
        fleet.runCommand = () => ({ status: "Success", stdout: hk.stdout });
        // A failed earlier run at the last attempt, to be dead-lettered through SQS's JSON protocol.
        const failedCmd = "0b7c3a8e-1f2d-4c5b-9a6e-7d8f9e0a1b2c";
        fleet.invocations.set(`${failedCmd}:${instanceId(1)}`, {
            commandId: failedCmd,
            instanceId: instanceId(1),
            documentName: DOC,
            comment: "pka-fleet attempt=3 spec=00000000",
            parameters: {},
            status: "Failed",
            statusDetails: "Failed",
            stdout: "",
            stderr: "boom",
            responseCode: 2,
            lag: 0,
        });
        const server = await startFakeAwsServer(fleet.handlers());
        try {
            const okId = instanceId(1);
            const recs = [
                record(runningEvent(okId), "ok"),
                record(runningEvent(instanceId(2)), "offline"),
                record(runningEvent(instanceId(3)), "untagged"),
                record("{oops", "malformed"),
                record(resultEvent(okId, failedCmd, "Failed"), "dead"),
            ];
            const out = await runBundle(
                {
                    ...ENV,
                    AWS_REGION: "us-east-1",
                    AWS_ACCESS_KEY_ID: "AKIDFAKEFAKEFAKE",
                    AWS_SECRET_ACCESS_KEY: "fake-secret",
                    AWS_ENDPOINT_URL_SSM: server.url,
                    AWS_ENDPOINT_URL_EC2: server.url,
                    AWS_ENDPOINT_URL_SQS: server.url,
                    POWERTOOLS_DEV: "false",
                },
                { Records: recs },
            );
            const line = out.stdout.split("\n").find((l) => l.startsWith("RESULT ") || l.startsWith("ERROR "));
            assert.ok(line?.startsWith("RESULT "), `bundle failed: ${line}\n${out.stderr.slice(0, 2000)}`);
            const result = JSON.parse(line!.slice(7));
            assert.deepStrictEqual(result, { batchItemFailures: [{ itemIdentifier: "offline" }] });
            assert.deepStrictEqual(sent(fleet), [okId]);
            assert.deepStrictEqual(fleet.callsOf("SendCommand")[0].input.Parameters, documentParameters(SPEC));
            assert.strictEqual(fleet.queues.get(DLQ_URL)!.length, 1, "dead-lettered over SQS JSON 1.0");

            // The command's own result, through a second invocation: host keys pinned.
            const out2 = await runBundle(
                {
                    ...ENV,
                    AWS_REGION: "us-east-1",
                    AWS_ACCESS_KEY_ID: "AKIDFAKEFAKEFAKE",
                    AWS_SECRET_ACCESS_KEY: "fake-secret",
                    AWS_ENDPOINT_URL_SSM: server.url,
                    AWS_ENDPOINT_URL_EC2: server.url,
                    AWS_ENDPOINT_URL_SQS: server.url,
                },
                { Records: [record(resultEvent(okId, fleet.commands[0].commandId, "Success"))] },
            );
            assert.ok(out2.stdout.includes('RESULT {"batchItemFailures":[]}'), out2.stdout + out2.stderr);
            assert.strictEqual(fleet.parameters.get(`${KNOWN_HOSTS}/${okId}`)?.value, hk.lines.join("\n"));

            // Structured JSON logs, with the malformed record's id, and no key material.
            // Powertools writes info to stdout and warn/error to stderr; Lambda sends both to the log group.
            const logs = [out.stdout, out.stderr, out2.stdout, out2.stderr]
                .join("\n")
                .split("\n")
                .filter((l) => l.startsWith("{"))
                .map((l) => JSON.parse(l));
            assert.ok(
                logs.some((l) => l.message === "malformed record acknowledged" && l.messageId === "malformed"),
                JSON.stringify(logs).slice(0, 1500),
            );
            assert.ok(
                logs.length > 3 &&
                    logs.every((l) => l.service === "pka-fleet-provisioner" && typeof l.level === "string"),
                JSON.stringify(logs).slice(0, 1500),
            );
            const text = out.stdout + out2.stdout + out.stderr + out2.stderr;
            assert.ok(
                !text.includes(USER_KEY.split(" ")[1]) && !text.includes(hk.lines[0].split(" ")[1]),
                "no key material in logs",
            );
            assert.ok(fleet.calls.every((c) => c.service !== "ec2" || c.op === "DescribeInstances"));
            assert.ok(canonicalAccessSpecJson(SPEC).length > 0);
        } finally {
            await server.close();
        }
    });

    it("the real bundle refuses a forged spec (valid, hash recomputed) and a forged result, over the wire", async () => {
        const fleet = makeFleet({ tagged: 1 });
        fleet.documents.add("AWS-RunShellScript");
        // Written long enough ago that no deploy is in progress: the refusal alarms.
        storeSpec(fleet, canonicalAccessSpecJson(FORGED_SPEC), undefined, LONG_AGO());
        // The forger's own command: AWS-RunShellScript printing host-key lines, announced in the queue as ours.
        const hk = hostKeyOutput();
        const forgedCmd = "6a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d";
        fleet.invocations.set(`${forgedCmd}:${instanceId(1)}`, {
            commandId: forgedCmd,
            instanceId: instanceId(1),
            documentName: "AWS-RunShellScript",
            comment: "pka-fleet attempt=1 spec=00000000",
            parameters: {},
            status: "Success",
            statusDetails: "Success",
            stdout: hk.stdout,
            stderr: "",
            responseCode: 0,
            lag: 0,
        });
        const server = await startFakeAwsServer(fleet.handlers());
        try {
            const env = {
                ...ENV,
                AWS_REGION: "us-east-1",
                AWS_ACCESS_KEY_ID: "AKIDFAKEFAKEFAKE",
                AWS_SECRET_ACCESS_KEY: "fake-secret",
                AWS_ENDPOINT_URL_SSM: server.url,
                AWS_ENDPOINT_URL_EC2: server.url,
                AWS_ENDPOINT_URL_SQS: server.url,
            };
            const again = record(runningEvent(instanceId(1)), "again");
            const out = await runBundle(env, {
                Records: [
                    record(runningEvent(instanceId(1)), "new"),
                    again,
                    record(resultEvent(instanceId(1), forgedCmd, "Success"), "forged"),
                ],
            });
            const line = out.stdout.split("\n").find((l) => l.startsWith("RESULT ") || l.startsWith("ERROR "));
            assert.ok(line?.startsWith("RESULT "), `bundle failed: ${line}\n${out.stderr.slice(0, 2000)}`);
            assert.deepStrictEqual(JSON.parse(line!.slice(7)), {
                batchItemFailures: [{ itemIdentifier: "new" }, { itemIdentifier: "again" }],
            });
            assert.strictEqual(fleet.callsOf("SendCommand").length, 0, "nothing sent with the forged spec");
            assert.strictEqual(fleet.callsOf("PutParameter").length, 0, "no host key pinned from the forged result");
            const dlq = fleet.queues.get(DLQ_URL)!.map((m) => JSON.parse(m.body));
            assert.deepStrictEqual(
                dlq.map((m) => m.reason),
                ["access-spec-refused"],
                "the alarm path got the refusal",
            );
            const text = out.stdout + out.stderr + JSON.stringify(dlq);
            assert.ok(
                !text.includes(FORGED_KEY.split(" ")[1]) && !text.includes("mallory"),
                "the refused spec's content is never logged",
            );
            const logs = [out.stdout, out.stderr]
                .join("\n")
                .split("\n")
                .filter((l) => l.startsWith("{"))
                .map((l) => JSON.parse(l));
            assert.ok(
                logs.some((l) => l.level === "ERROR" && String(l.message).startsWith("access spec refused")),
                JSON.stringify(logs).slice(0, 1500),
            );
            assert.ok(
                logs.some((l) => String(l.message).startsWith("command result not acted on")),
                JSON.stringify(logs).slice(0, 1500),
            );
        } finally {
            await server.close();
        }
    });
});

describe("provisioner Lambda: waiting for agents through wait messages, and results read by the command", () => {
    useStubbedClients();
    const QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/pka-queue";
    const WENV = { ...ENV, PKA_QUEUE_URL: QUEUE_URL, PKA_AGENT_WAIT_SECONDS: "600" };
    const sentAt = (r: ReturnType<typeof record>, ms: number) => ({
        ...r,
        attributes: { ...r.attributes, SentTimestamp: String(ms) },
    });
    const waits = (f: FakeAwsState) =>
        (f.queues.get(QUEUE_URL) ?? []).map((m) => ({ ...JSON.parse(m.body), delaySeconds: m.delaySeconds }));

    function fleetWithQueue(tagged: number, unregistered: string[] = []) {
        const fleet = makeFleet({ tagged }).addQueue(QUEUE_URL);
        for (const id of unregistered) fleet.addInstance(id, { [TAG.key]: TAG.value });
        return fleet;
    }

    it("instances whose agent is not online are acknowledged and written back as ONE delayed wait message (not failed to wait out the visibility timeout)", async () => {
        const late = Array.from({ length: 6 }, (_, i) => `i-00000000000000a${i.toString(16)}0`.slice(0, 19));
        const fleet = fleetWithQueue(2, late);
        const { handler } = harness(fleet, WENV);
        const records = [...late, instanceId(1), instanceId(2)].map((id) => sentAt(record(runningEvent(id)), 0));
        const res = await handler({ Records: records });
        assert.deepStrictEqual(
            res.batchItemFailures,
            [],
            "every record acknowledged: the late ones live on in the wait message",
        );
        assert.deepStrictEqual(new Set(sent(fleet)), new Set([instanceId(1), instanceId(2)]));
        const w = waits(fleet);
        assert.strictEqual(w.length, 1, "one message for all of them");
        assert.strictEqual(w[0].source, WAIT_SOURCE);
        assert.deepStrictEqual(new Set(w[0].detail.instances.map((e: [string, number]) => e[0])), new Set(late));
        assert.ok(w[0].delaySeconds >= 1 && w[0].delaySeconds <= 5, `delay ${w[0].delaySeconds}`);
        assert.strictEqual(handler.stats()!.waiting, 6);
    });

    it("a wait message's instances that are now online are sent in one command (tag re-checked); the rest wait again; since is kept", async () => {
        const fleet = fleetWithQueue(5, ["i-0000000000000beef"]);
        const { handler } = harness(fleet, WENV);
        const ids = [1, 2, 3, 4, 5].map(instanceId);
        const body = waitEvent(
            [...ids, "i-0000000000000beef"].map((id) => ({ instanceId: id, since: 0 })),
            0,
        );
        const res = await handler({ Records: [record(body)] });
        assert.deepStrictEqual(res.batchItemFailures, []);
        assert.strictEqual(fleet.commands.length, 1, "one SendCommand for the five");
        assert.deepStrictEqual(new Set(sent(fleet)), new Set(ids));
        const w = waits(fleet);
        assert.deepStrictEqual(
            w.map((m) => m.detail.instances),
            [[["i-0000000000000beef", 0]]],
        );
    });

    it("a forged wait entry for an instance without the fleet tag is not sent (the tag is checked once it is online)", async () => {
        const fleet = fleetWithQueue(0);
        fleet.addInstance(instanceId(9), { other: "x" });
        fleet.instances.get(instanceId(9))!.pingStatus = "Online";
        const { handler } = harness(fleet, WENV);
        const res = await handler({ Records: [record(waitEvent([{ instanceId: instanceId(9), since: 0 }], 0))] });
        assert.deepStrictEqual(res.batchItemFailures, []);
        assert.deepStrictEqual([fleet.commands.length, waits(fleet).length], [0, 0]);
        assert.strictEqual(handler.stats()!.untagged, 1);
    });

    it("past PKA_AGENT_WAIT_SECONDS an instance is dead-lettered as agent-not-online with the time it waited, and acknowledged", async () => {
        const fleet = fleetWithQueue(0, ["i-0000000000000beef"]);
        const h = harness(fleet, WENV);
        h.advance(601_000);
        const res = await h.handler({
            Records: [record(waitEvent([{ instanceId: "i-0000000000000beef", since: 0 }], 0))],
        });
        assert.deepStrictEqual(res.batchItemFailures, []);
        const [msg] = (fleet.queues.get(DLQ_URL) ?? []).map((m) => JSON.parse(m.body));
        assert.deepStrictEqual(
            [msg.reason, msg.instanceId, msg.waitedSeconds, msg.agentWaitSeconds],
            ["agent-not-online", "i-0000000000000beef", 601, 600],
        );
        assert.match(msg.message, /did not come online within 601 s.*AmazonSSMManagedInstanceCore/);
        assert.strictEqual(waits(fleet).length, 0);
    });

    it("a wait message that cannot be written fails its records (SQS redelivers them: nothing is lost)", async () => {
        const fleet = makeFleet({ tagged: 0 }); // no such queue: SendMessage answers QueueDoesNotExist
        fleet.addInstance("i-0000000000000beef", { [TAG.key]: TAG.value });
        const { handler } = harness(fleet, WENV);
        const r = record(runningEvent("i-0000000000000beef"));
        const res = await handler({ Records: [r] });
        assert.deepStrictEqual(failedIds(res), [r.messageId]);
    });

    it("the wait schedule: every 5 s on a shared grid while young, then half the age (60-900 s); never past the agent wait; a never-online agent is looked at far fewer times than polling would", () => {
        for (let now = 0; now < 10_000; now += 137) {
            const d = waitDelaySeconds(10_000, now, 3600);
            assert.ok(d >= 1 && d <= 5 && (Math.floor(now / 1000) + d) % 5 === 0, `grid at ${now}: ${d}`);
        }
        assert.strictEqual(waitDelaySeconds(WAIT_FAST_MS, 0, 3600), 90);
        assert.strictEqual(waitDelaySeconds(3_000_000, 0, 3600), 600);
        assert.strictEqual(waitDelaySeconds(3_599_000, 0, 3600), 1);
        let age = 5000;
        let looks = 1;
        while (age < 3600_000) {
            age += waitDelaySeconds(age, age, 3600) * 1000 + 5000; // + the batching window
            looks++;
        }
        assert.ok(looks <= 40, `${looks} looks in an hour`);
    });

    it("a command's successes: one ListCommandInvocations for all, host keys read 10 names a call and written only where they changed", async () => {
        const fleet = makeFleet({ tagged: 3 });
        const { handler } = harness(fleet);
        await handler({ Records: [1, 2, 3].map((n) => record(runningEvent(instanceId(n)))) });
        const cmd = fleet.commands[0];
        const hk = hostKeyOutput();
        for (const n of [1, 2, 3])
            Object.assign(fleet.invocations.get(`${cmd.commandId}:${instanceId(n)}`)!, {
                status: "Success",
                statusDetails: "Success",
                responseCode: 0,
                stdout: hk.stdout,
                lag: 0,
            });
        const results = () => [1, 2, 3].map((n) => record(resultEvent(instanceId(n), cmd.commandId, "Success")));
        const res = await handler({ Records: results() });
        assert.deepStrictEqual(res.batchItemFailures, []);
        assert.deepStrictEqual(
            ["ListCommandInvocations", "GetCommandInvocation", "GetParameters", "PutParameter"].map(
                (op) => fleet.callsOf(op).length,
            ),
            [1, 0, 1, 3],
        );
        assert.strictEqual(fleet.parameters.get(`${KNOWN_HOSTS}/${instanceId(2)}`)!.value, hk.lines.join("\n"));
        // The same keys again (a push re-ran the hosts): nothing written.
        await handler({ Records: results() });
        assert.deepStrictEqual([fleet.callsOf("GetParameters").length, fleet.callsOf("PutParameter").length], [2, 3]);
        assert.strictEqual(handler.stats()!.knownHostsUnchanged, 3);
    });

    it("a listed output at SSM's 2,500-character cut, or a failure, is read with GetCommandInvocation (a cut host-key line is never pinned)", async () => {
        const fleet = makeFleet({ tagged: 2 });
        const { handler } = harness(fleet);
        await handler({ Records: [1, 2].map((n) => record(runningEvent(instanceId(n)))) });
        const cmd = fleet.commands[0];
        const hk = hostKeyOutput();
        const long = `${"PKA-CHANGED x\n".repeat(200)}${hk.stdout}`;
        for (const n of [1, 2])
            Object.assign(fleet.invocations.get(`${cmd.commandId}:${instanceId(n)}`)!, {
                status: "Success",
                statusDetails: "Success",
                responseCode: 0,
                stdout: long,
                lag: 0,
            });
        await handler({ Records: [1, 2].map((n) => record(resultEvent(instanceId(n), cmd.commandId, "Success"))) });
        assert.deepStrictEqual(
            [
                fleet.callsOf("ListCommandInvocations").length,
                fleet.callsOf("GetCommandInvocation").length,
                fleet.callsOf("PutParameter").length,
            ],
            [1, 2, 2],
        );
        assert.strictEqual(fleet.parameters.get(`${KNOWN_HOSTS}/${instanceId(1)}`)!.value, hk.lines.join("\n"));
    });

    it("a listed invocation of another document or without our comment is not acted on (the listing is checked like GetCommandInvocation)", async () => {
        const fleet = makeFleet({ tagged: 2 });
        const commandId = "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f";
        for (const n of [1, 2]) {
            fleet.invocations.set(`${commandId}:${instanceId(n)}`, {
                commandId,
                instanceId: instanceId(n),
                documentName: "AWS-RunShellScript",
                comment: "pka-fleet attempt=1 spec=00000000",
                parameters: {},
                status: "Success",
                statusDetails: "Success",
                stdout: hostKeyOutput().stdout,
                stderr: "",
                responseCode: 0,
                lag: 0,
            });
        }
        const { handler } = harness(fleet);
        const res = await handler({
            Records: [1, 2].map((n) => record(resultEvent(instanceId(n), commandId, "Success"))),
        });
        assert.deepStrictEqual(res.batchItemFailures, []);
        assert.deepStrictEqual(
            [
                fleet.callsOf("ListCommandInvocations").length,
                fleet.callsOf("PutParameter").length,
                handler.stats()!.forgedResults,
            ],
            [1, 0, 2],
        );
    });
});

describe("provisioner Lambda: the wait queue (FIFO, one message group: one aggregator fills each SendCommand)", () => {
    useStubbedClients();
    const WAIT_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/pka-wait.fifo";
    const WAIT_ARN = "arn:aws:sqs:us-east-1:123456789012:pka-wait.fifo";
    const WENV = { ...ENV, PKA_WAIT_QUEUE_URL: WAIT_URL, PKA_AGENT_WAIT_SECONDS: "600" };
    /** A record as the wait queue's event source mapping delivers it. */
    const fromWait = (body: object) => ({
        ...record(body),
        eventSourceARN: WAIT_ARN,
        attributes: { ApproximateReceiveCount: "1", MessageGroupId: "pka-fleet-wait" },
    });
    const written = (f: FakeAwsState) =>
        (f.queues.get(WAIT_URL) ?? []).map((m) => ({ ...m, event: JSON.parse(m.body) }));
    const entries = (f: FakeAwsState) => written(f).flatMap((m) => m.event.detail.instances as (string | number)[][]);
    const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => instanceId(from + i));

    function fleet(online: number, unregistered: string[] = []) {
        const f = makeFleet({ tagged: online }).addQueue(WAIT_URL);
        for (const id of unregistered) f.addInstance(id, { [TAG.key]: TAG.value });
        return f;
    }
    const LATE = ["i-00000000000000aa1", "i-00000000000000aa2"];

    it("instances whose agent is not online go to the wait queue in one message: its group, a deduplication id, no per-message delay (a FIFO queue refuses one)", async () => {
        const f = fleet(0, LATE);
        const { handler } = harness(f, WENV);
        const res = await handler({ Records: LATE.map((id) => record(runningEvent(id))) });
        assert.deepStrictEqual(res.batchItemFailures, []);
        const w = written(f);
        assert.strictEqual(w.length, 1);
        assert.deepStrictEqual(
            [w[0].groupId, typeof w[0].deduplicationId, w[0].delaySeconds],
            ["pka-fleet-wait", "string", undefined],
        );
        assert.strictEqual(
            (f.queues.get("https://sqs.us-east-1.amazonaws.com/123456789012/pka-queue") ?? []).length,
            0,
            "nothing written to the main queue",
        );
        // Looked at just now by this invocation: the aggregator's next round looks again, not this instant.
        for (const e of entries(f))
            assert.ok(typeof e[2] === "number" && e[2] >= 5000, `next look written: ${JSON.stringify(e)}`);
    });

    it("a round of the aggregator: 60 found online while others still wait: one full command of 50, the 10 youngest held with the time they were seen online", async () => {
        const online = ids(1, 60);
        const f = fleet(60, LATE);
        const h = harness(f, WENV);
        const res = await h.handler({
            Records: [
                fromWait(
                    waitEvent(
                        [...online, ...LATE].map((id) => ({ instanceId: id, since: 0 })),
                        0,
                    ),
                ),
            ],
        });
        assert.deepStrictEqual(res.batchItemFailures, []);
        assert.deepStrictEqual(
            f.commands.map((c) => c.instanceIds.length),
            [50],
        );
        const held = entries(f).filter((e) => e.length === 4);
        assert.strictEqual(held.length, 10);
        assert.deepStrictEqual(new Set(held.map((e) => e[0])), new Set(online.filter((id) => !sent(f).includes(id))));
        assert.ok(
            held.every((e) => typeof e[3] === "number"),
            "held since a time",
        );
        assert.deepStrictEqual(
            new Set(
                entries(f)
                    .filter((e) => e.length < 4)
                    .map((e) => e[0]),
            ),
            new Set(LATE),
            "the late agents wait",
        );
        assert.strictEqual(h.handler.stats()!.held, 10);
    });

    it("the round's invocation stays until 5 s after it started before it writes the rest, so that wait messages written meanwhile come with the next one", async () => {
        const f = fleet(0, LATE);
        const h = harness(f, WENV);
        await h.handler({
            Records: [
                fromWait(
                    waitEvent(
                        LATE.map((id) => ({ instanceId: id, since: 0 })),
                        0,
                    ),
                ),
            ],
        });
        assert.ok(
            h.sleeps.some((ms) => ms > 4000 && ms <= 5000),
            `slept until the round's end: ${h.sleeps}`,
        );
        assert.strictEqual(written(f).length, 1);
        // A full batch (10 records: more may be queued behind it) does not wait.
        const g = fleet(0, LATE);
        const h2 = harness(g, WENV);
        await h2.handler({
            Records: Array.from({ length: 10 }, () =>
                fromWait(
                    waitEvent(
                        LATE.map((id) => ({ instanceId: id, since: 0 })),
                        0,
                    ),
                ),
            ),
        });
        assert.deepStrictEqual(
            h2.sleeps.filter((ms) => ms > 1000),
            [],
            "no round wait with a full batch",
        );
        assert.strictEqual(written(g).length, 1, "ten messages merged into one");
        assert.deepStrictEqual(new Set(entries(g).map((e) => e[0])), new Set(LATE));
    });

    it("held instances are sent once one of them has been held 8 s, or when nothing else is waiting", async () => {
        const online = ids(1, 10);
        const f = fleet(10, LATE);
        const h = harness(f, WENV);
        h.advance(20_000);
        // Held since 12 s ago: sent now, though others still wait.
        await h.handler({
            Records: [
                fromWait(
                    waitEvent(
                        [
                            ...online.map((id) => ({ instanceId: id, since: 0, held: 8_000 })),
                            ...LATE.map((id) => ({ instanceId: id, since: 0 })),
                        ],
                        0,
                    ),
                ),
            ],
        });
        assert.deepStrictEqual(new Set(sent(f)), new Set(online));
        // Young held ones, and nobody else waiting: nothing can fill the command, so it goes now.
        const g = fleet(10);
        const h2 = harness(g, WENV);
        h2.advance(20_000);
        await h2.handler({
            Records: [
                fromWait(
                    waitEvent(
                        online.map((id) => ({ instanceId: id, since: 0, held: 19_000 })),
                        0,
                    ),
                ),
            ],
        });
        assert.deepStrictEqual(new Set(sent(g)), new Set(online));
        assert.strictEqual(written(g).length, 0);
    });

    it("an agent long in coming (waiting over 3 minutes) holds nobody up: the partial command goes at once", async () => {
        const online = ids(1, 10);
        const f = fleet(10, LATE);
        const h = harness(f, WENV);
        h.advance(400_000);
        await h.handler({
            Records: [
                fromWait(
                    waitEvent(
                        [
                            ...online.map((id) => ({ instanceId: id, since: 390_000 })),
                            ...LATE.map((id) => ({ instanceId: id, since: 0 })),
                        ],
                        0,
                    ),
                ),
            ],
        });
        assert.deepStrictEqual(new Set(sent(f)), new Set(online));
        assert.strictEqual(h.handler.stats()!.held, 0);
    });

    it("a held entry is only a claim: an instance without the fleet tag, or not online, is not sent for it", async () => {
        const f = fleet(0, LATE);
        f.addInstance(instanceId(9), { other: "x" }, "Online");
        f.addInstance(instanceId(10), { [TAG.key]: TAG.value }, "ConnectionLost");
        const h = harness(f, WENV);
        h.advance(60_000);
        await h.handler({
            Records: [
                fromWait(
                    waitEvent(
                        [instanceId(9), instanceId(10)].map((id) => ({ instanceId: id, since: 0, held: 1 })),
                        0,
                    ),
                ),
            ],
        });
        assert.deepStrictEqual(f.commands, []);
        assert.strictEqual(h.handler.stats()!.untagged, 1);
        assert.deepStrictEqual(
            entries(f).map((e) => e[0]),
            [instanceId(10)],
            "the tagged one waits for its agent again",
        );
    });

    it("an instance long in coming (over 3 minutes) goes to the main queue with a delay of half its age; young ones stay in the wait queue", async () => {
        const MAIN = "https://sqs.us-east-1.amazonaws.com/123456789012/pka-queue";
        const f = fleet(0, LATE).addQueue(MAIN);
        const h = harness(f, { ...WENV, PKA_QUEUE_URL: MAIN, PKA_AGENT_WAIT_SECONDS: "3600" });
        h.advance(400_000);
        await h.handler({
            Records: [
                fromWait(
                    waitEvent(
                        [
                            { instanceId: LATE[0], since: 0 },
                            { instanceId: LATE[1], since: 390_000 },
                        ],
                        0,
                    ),
                ),
            ],
        });
        const delayed = (f.queues.get(MAIN) ?? []).map((m) => ({
            delay: m.delaySeconds,
            ids: JSON.parse(m.body).detail.instances.map((e: unknown[]) => e[0]),
        }));
        assert.deepStrictEqual(
            delayed.map((m) => m.ids),
            [[LATE[0]]],
            "only the old one goes to the main queue",
        );
        // About 400 s old (plus the round's 5 s): looked at again in half that.
        assert.ok(delayed[0].delay! >= 200 && delayed[0].delay! <= 203, `delay ${delayed[0].delay}`);
        assert.deepStrictEqual(
            entries(f).map((e) => e[0]),
            [LATE[1]],
            "the young one waits in the wait queue",
        );
    });

    it("an entry not due yet (an agent long in coming) is carried unread: no readiness call for it", async () => {
        const f = fleet(0, LATE);
        const h = harness(f, WENV);
        h.advance(300_000);
        await h.handler({
            Records: [
                fromWait(
                    waitEvent(
                        LATE.map((id) => ({ instanceId: id, since: 0, next: 400_000 })),
                        0,
                    ),
                ),
            ],
        });
        assert.strictEqual(f.calls.filter((c) => c.op === "DescribeInstanceInformation").length, 0);
        assert.deepStrictEqual(
            entries(f)
                .map((e) => [e[0], e[2]])
                .sort(),
            LATE.map((id) => [id, 400_000]),
        );
    });

    it("an instance of a wait record that cannot be handled now (a failed tag check) waits again instead of failing the record, which would hold the queue's one group", async () => {
        const f = fleet(0);
        f.addInstance(instanceId(3), { [TAG.key]: TAG.value }, "Online");
        f.addInstance(instanceId(4), { [TAG.key]: TAG.value }, "Online");
        const h = harness(f, WENV);
        f.denyNext.DescribeInstances = 10;
        const res = await h.handler({
            Records: [
                fromWait(
                    waitEvent(
                        [instanceId(3)].map((id) => ({ instanceId: id, since: 0 })),
                        0,
                    ),
                ),
            ],
        });
        assert.deepStrictEqual(res.batchItemFailures, []);
        assert.deepStrictEqual(
            entries(f).map((e) => e[0]),
            [instanceId(3)],
        );
    });
});
