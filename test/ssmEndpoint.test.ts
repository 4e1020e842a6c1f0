import * as assert from "assert";
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import {
    DescribeInstanceInformationCommand,
    GetCommandInvocationCommand,
    ListCommandInvocationsCommand,
    GetParametersByPathCommand,
    PutParameterCommand,
    SendCommandCommand,
    SSMClient,
} from "@aws-sdk/client-ssm";
import { LocalEventBus } from "../local/eventBus";
import { addProvisionerRules } from "../local/fleet";
import { LocalQueue } from "../local/queue";
import { LocalSsmEndpoint, SsmDocument } from "../local/ssmEndpoint";

const DOC: SsmDocument = {
    schemaVersion: "2.2",
    parameters: { users: { type: "String", allowedPattern: "^[a-z_]{1,8}$", interpolationType: "ENV_VAR" } },
    mainSteps: [],
};
const TAG = { key: "pka-fleet", value: "demo" };
const creds = { accessKeyId: "AKIDTEST", secretAccessKey: "test-secret" };

function sleep(ms: number) {
    return new Promise((r) => setTimeout(r, ms));
}

async function error(p: Promise<unknown>): Promise<{ name: string; message: string }> {
    try {
        await p;
    } catch (err) {
        return err as { name: string; message: string };
    }
    throw new Error("the call succeeded; an error was expected");
}

/**
 * These clients must reach the endpoint over HTTP. test/provisioner-lambda.test.ts stubs
 * SSMClient/EC2Client/SQSClient.prototype.send with aws-sdk-client-mock when its module loads, so
 * when mocha loads both files in one process that stub would answer here; the SDK's base Client
 * keeps the real `send` one level up the prototype chain.
 */
function realSend<C extends { send: (...a: never[]) => unknown }>(client: C): C {
    const real = Object.getPrototypeOf(Object.getPrototypeOf(client)).send as C["send"];
    client.send = real.bind(client) as C["send"];
    return client;
}

describe("local SSM endpoint (wire protocol through the real AWS SDK)", () => {
    let endpoint: LocalSsmEndpoint;
    let ssm: SSMClient;
    let ec2: EC2Client;
    let sqs: SQSClient;
    let bus: LocalEventBus;
    let events: LocalQueue;
    let dlq: LocalQueue;

    beforeEach(async () => {
        bus = new LocalEventBus();
        events = new LocalQueue({ name: "events" });
        dlq = new LocalQueue({ name: "pka-dlq" });
        addProvisionerRules(bus, events, "pka-setup");
        endpoint = new LocalSsmEndpoint({
            bus,
            queues: [dlq],
            knobs: { invocationVisibleAfterMs: 150, requiredTag: TAG },
        });
        endpoint.addDocument("pka-setup", DOC);
        const url = await endpoint.start();
        const cfg = { endpoint: url, region: "us-east-1", credentials: creds, maxAttempts: 1 };
        ssm = realSend(new SSMClient(cfg));
        ec2 = realSend(new EC2Client(cfg));
        sqs = realSend(new SQSClient(cfg));
    });
    afterEach(async () => {
        ssm.destroy();
        ec2.destroy();
        sqs.destroy();
        await endpoint.stop();
    });

    function host(output = "ok", tags: Record<string, string> = { [TAG.key]: TAG.value }) {
        return endpoint.addInstance({
            tags,
            runner: async ({ parameters }) => ({ exitCode: 0, stdout: `${output} ${parameters.users[0]}`, stderr: "" }),
        });
    }

    it("runs a command asynchronously, hides the invocation at first, then reports it and emits the AWS events", async () => {
        endpoint.knobs.invocationVisibleAfterMs = 1500;
        // An association targets the instance (a Provisioner deploys none; see the next test).
        endpoint.knobs.associationDocument = "AWS-GatherSoftwareInventory";
        const h = host();
        endpoint.launch(h.instanceId);
        await sleep(20);
        const sent = await ssm.send(
            new SendCommandCommand({
                DocumentName: "pka-setup",
                InstanceIds: [h.instanceId],
                Parameters: { users: ["svc_user"] },
                Comment: "pka-fleet attempt=1",
            }),
        );
        const commandId = sent.Command!.CommandId!;
        const early = await error(
            ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: h.instanceId })),
        );
        assert.strictEqual(early.name, "InvocationDoesNotExist");
        await sleep(1600);
        const inv = await ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: h.instanceId }));
        assert.strictEqual(inv.Status, "Success");
        assert.strictEqual(inv.StandardOutputContent, "ok svc_user");
        assert.strictEqual(inv.Comment, "pka-fleet attempt=1");
        const bodies = events.peek().map((m) => JSON.parse(m.body));
        assert.deepStrictEqual(
            bodies.map((b) => b["detail-type"]),
            [
                "EC2 Instance State-change Notification",
                "EC2 State Manager Instance Association State Change",
                "EC2 Command Invocation Status-change Notification",
            ],
        );
        assert.deepStrictEqual(Object.keys(bodies[2].detail).sort(), [
            "command-id",
            "document-name",
            "instance-id",
            "requested-date-time",
            "status",
        ]);
        assert.strictEqual(bodies[2].detail.status, "Success");
    });

    it("without an association (what a Provisioner deploys) an agent coming online emits nothing: only EC2's running event says the instance exists", async () => {
        const h = host();
        endpoint.launch(h.instanceId, 10);
        await sleep(60);
        assert.ok(endpoint.isOnline(endpoint.instances.get(h.instanceId)!));
        assert.deepStrictEqual(
            events.peek().map((m) => JSON.parse(m.body)["detail-type"]),
            ["EC2 Instance State-change Notification"],
        );
    });

    it("ListCommandInvocations: 1-50 a page with NextToken; Details carries the plugin's ResponseCode and Output (stdout, SSM's ERROR line, stderr; cut at 2,500 characters)", async () => {
        const hs = [host(), host(), host()];
        for (const h of hs) endpoint.launch(h.instanceId);
        await sleep(20);
        endpoint.knobs.invocationVisibleAfterMs = 0;
        const sent = await ssm.send(
            new SendCommandCommand({
                DocumentName: "pka-setup",
                InstanceIds: hs.map((h) => h.instanceId),
                Parameters: { users: ["svc_user"] },
                Comment: "pka-fleet attempt=1",
            }),
        );
        await sleep(200);
        const p1 = await ssm.send(
            new ListCommandInvocationsCommand({ CommandId: sent.Command!.CommandId!, MaxResults: 2, Details: true }),
        );
        assert.strictEqual(p1.CommandInvocations!.length, 2);
        assert.ok(p1.NextToken);
        const p2 = await ssm.send(
            new ListCommandInvocationsCommand({
                CommandId: sent.Command!.CommandId!,
                MaxResults: 2,
                Details: true,
                NextToken: p1.NextToken,
            }),
        );
        assert.deepStrictEqual([p2.CommandInvocations!.length, p2.NextToken], [1, undefined]);
        const plugin = p1.CommandInvocations![0].CommandPlugins![0];
        assert.deepStrictEqual([plugin.ResponseCode, plugin.Output], [0, "ok svc_user"]);
        assert.strictEqual(
            (await ssm.send(new ListCommandInvocationsCommand({ CommandId: sent.Command!.CommandId! })))
                .CommandInvocations![0].CommandPlugins,
            undefined,
        );
        assert.strictEqual(
            (
                await error(
                    ssm.send(
                        new ListCommandInvocationsCommand({ CommandId: sent.Command!.CommandId!, MaxResults: 51 }),
                    ),
                )
            ).name,
            "ValidationException",
        );
    });

    it("truncates standard output to 24,000 characters", async () => {
        const h = host("x".repeat(30_000));
        endpoint.launch(h.instanceId);
        await sleep(20);
        const sent = await ssm.send(
            new SendCommandCommand({
                DocumentName: "pka-setup",
                InstanceIds: [h.instanceId],
                Parameters: { users: ["a"] },
            }),
        );
        await sleep(250);
        const inv = await ssm.send(
            new GetCommandInvocationCommand({ CommandId: sent.Command!.CommandId!, InstanceId: h.instanceId }),
        );
        assert.strictEqual(inv.StandardOutputContent!.length, 24_000);
    });

    it("rejects what SendCommand rejects: 51 ids, an unknown document, a value outside allowedPattern, an unknown parameter, an untagged id, an agent not online", async () => {
        const ids = Array.from({ length: 51 }, () => host().instanceId);
        ids.forEach((id) => endpoint.launch(id));
        await sleep(20);
        assert.strictEqual(
            (
                await error(
                    ssm.send(
                        new SendCommandCommand({
                            DocumentName: "pka-setup",
                            InstanceIds: ids,
                            Parameters: { users: ["a"] },
                        }),
                    ),
                )
            ).name,
            "ValidationException",
        );
        assert.strictEqual(
            (await error(ssm.send(new SendCommandCommand({ DocumentName: "nope", InstanceIds: [ids[0]] })))).name,
            "InvalidDocument",
        );
        const bad = await error(
            ssm.send(
                new SendCommandCommand({
                    DocumentName: "pka-setup",
                    InstanceIds: [ids[0]],
                    Parameters: { users: ["a; rm -rf /"] },
                }),
            ),
        );
        assert.strictEqual(bad.name, "InvalidParameters");
        assert.match(bad.message, /allowedPattern|regular expression/);
        assert.strictEqual(
            (
                await error(
                    ssm.send(
                        new SendCommandCommand({
                            DocumentName: "pka-setup",
                            InstanceIds: [ids[0]],
                            Parameters: { other: ["a"] },
                        }),
                    ),
                )
            ).name,
            "InvalidParameters",
        );
        const untagged = host("ok", { other: "x" });
        endpoint.launch(untagged.instanceId);
        await sleep(20);
        assert.strictEqual(
            (
                await error(
                    ssm.send(
                        new SendCommandCommand({
                            DocumentName: "pka-setup",
                            InstanceIds: [ids[0], untagged.instanceId],
                            Parameters: { users: ["a"] },
                        }),
                    ),
                )
            ).name,
            "AccessDeniedException",
        );
        const late = host();
        endpoint.launch(late.instanceId, 60_000);
        assert.strictEqual(
            (
                await error(
                    ssm.send(
                        new SendCommandCommand({
                            DocumentName: "pka-setup",
                            InstanceIds: [late.instanceId],
                            Parameters: { users: ["a"] },
                        }),
                    ),
                )
            ).name,
            "InvalidInstanceId",
        );
        assert.strictEqual(endpoint.stats.sendCommandInstances.length, 0, "a rejected call ran a command");
    });

    it("lists only registered agents, with PingStatus, and refuses tag filters combined with other filters", async () => {
        const a = host();
        const b = host();
        endpoint.launch(a.instanceId);
        endpoint.launch(b.instanceId, 60_000);
        await sleep(20);
        const byId = await ssm.send(
            new DescribeInstanceInformationCommand({ Filters: [{ Key: "InstanceIds", Values: [a.instanceId] }] }),
        );
        assert.deepStrictEqual(
            byId.InstanceInformationList!.map((i) => [i.InstanceId, i.PingStatus]),
            [[a.instanceId, "Online"]],
        );
        assert.strictEqual(byId.InstanceInformationList![0].AgentVersion, "3.3.2746.0");
        // An id SSM has not registered fails the whole call, as SSM answers it: the Lambda splits such a page.
        const unknown = await error(
            ssm.send(
                new DescribeInstanceInformationCommand({
                    Filters: [{ Key: "InstanceIds", Values: [a.instanceId, b.instanceId] }],
                }),
            ),
        );
        assert.strictEqual(unknown.name, "InvalidInstanceId");
        const byTag = await ssm.send(
            new DescribeInstanceInformationCommand({ Filters: [{ Key: `tag:${TAG.key}`, Values: [TAG.value] }] }),
        );
        assert.strictEqual(byTag.InstanceInformationList!.length, 1);
        const mixed = await error(
            ssm.send(
                new DescribeInstanceInformationCommand({
                    Filters: [
                        { Key: `tag:${TAG.key}`, Values: [TAG.value] },
                        { Key: "PingStatus", Values: ["Online"] },
                    ],
                }),
            ),
        );
        assert.strictEqual(mixed.name, "InvalidFilter");
    });

    it("throttles each action with a token bucket: ThrottlingException, Rate exceeded", async () => {
        endpoint.setThrottle({ ratePerSecond: 2, burst: 2 });
        const call = () => ssm.send(new GetParametersByPathCommand({ Path: "/pka/x" }));
        await call();
        await call();
        const e = await error(call());
        assert.strictEqual(e.name, "ThrottlingException");
        assert.strictEqual(e.message, "Rate exceeded");
        // Another action has its own bucket.
        await ssm.send(new PutParameterCommand({ Name: "/pka/x/a", Value: "v", Type: "String" }));
        assert.strictEqual(endpoint.stats.throttled.GetParametersByPath, 1);
        const ec2e = await (async () => {
            await ec2.send(new DescribeInstancesCommand({})).catch(() => undefined);
            await ec2.send(new DescribeInstancesCommand({})).catch(() => undefined);
            return error(ec2.send(new DescribeInstancesCommand({})));
        })();
        assert.strictEqual(ec2e.name, "RequestLimitExceeded");
    });

    it("stores parameters (4 KB standard tier, no silent overwrite) and pages GetParametersByPath", async () => {
        for (let i = 0; i < 12; i++)
            await ssm.send(
                new PutParameterCommand({
                    Name: `/pka/f/known_hosts/i-${String(i).padStart(17, "0")}`,
                    Value: `v${i}`,
                    Type: "String",
                }),
            );
        assert.strictEqual(
            (
                await error(
                    ssm.send(
                        new PutParameterCommand({
                            Name: "/pka/f/known_hosts/i-00000000000000000",
                            Value: "x",
                            Type: "String",
                        }),
                    ),
                )
            ).name,
            "ParameterAlreadyExists",
        );
        assert.strictEqual(
            (
                await error(
                    ssm.send(new PutParameterCommand({ Name: "/pka/f/big", Value: "x".repeat(4097), Type: "String" })),
                )
            ).name,
            "ValidationException",
        );
        const first = await ssm.send(new GetParametersByPathCommand({ Path: "/pka/f/known_hosts" }));
        assert.strictEqual(first.Parameters!.length, 10);
        const second = await ssm.send(
            new GetParametersByPathCommand({ Path: "/pka/f/known_hosts", NextToken: first.NextToken }),
        );
        assert.strictEqual(second.Parameters!.length, 2);
        assert.strictEqual(second.NextToken, undefined);
    });

    it("answers EC2 DescribeInstances with instance-id and tag filters, and takes SQS SendMessage into a local queue", async () => {
        const a = host();
        const b = host("ok", { other: "x" });
        const out = await ec2.send(
            new DescribeInstancesCommand({
                Filters: [
                    { Name: "instance-id", Values: [a.instanceId, b.instanceId] },
                    { Name: `tag:${TAG.key}`, Values: [TAG.value] },
                ],
            }),
        );
        assert.deepStrictEqual(
            out.Reservations!.flatMap((r) => r.Instances!.map((i) => i.InstanceId)),
            [a.instanceId],
        );
        await sqs.send(
            new SendMessageCommand({ QueueUrl: dlq.url, MessageBody: JSON.stringify({ reason: "command-failed" }) }),
        );
        assert.strictEqual(dlq.depth, 1);
        assert.strictEqual(
            (
                await error(
                    sqs.send(
                        new SendMessageCommand({ QueueUrl: dlq.url.replace("pka-dlq", "nope"), MessageBody: "x" }),
                    ),
                )
            ).name,
            "QueueDoesNotExist",
        );
    });
});
