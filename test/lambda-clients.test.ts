/**
 * lambda/clients.ts: the SDK clients the handler builds itself. Credentials come from the
 * environment (fromEnv), and an injected requestHandler carries the requests of all three
 * clients (SSM, SQS, EC2), also when createHandler builds them.
 */
import { strict as assert } from "assert";
import { DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { GetParameterCommand, PutParameterCommand } from "@aws-sdk/client-ssm";
import { createClients, SdkRequestHandler } from "../lambda/clients";
import { recordingHandler, Seen, useSdkEnvironment } from "./support/wireHandler";
import { createHandler, Log } from "../lambda/provisioner";
import { DLQ_URL, ENV, instanceId, makeFleet, record, runningEvent } from "./support/provisionerFixture";

const CREDS = {
    AWS_ACCESS_KEY_ID: "AKIDCLIENTSTEST",
    AWS_SECRET_ACCESS_KEY: "clients-test-secret",
    AWS_SESSION_TOKEN: "clients-test-token",
    AWS_REGION: "us-east-1",
};
const quiet: Log = { debug() {}, info() {}, warn() {}, error() {} };

describe("lambda/clients: the SDK clients the handler builds", () => {
    useSdkEnvironment(CREDS);

    it("an injected requestHandler carries SSM, SQS and EC2 requests, signed with the environment's credentials", async () => {
        const fleet = makeFleet({ tagged: 1 });
        const seen: Seen[] = [];
        const clients = createClients({}, { requestHandler: recordingHandler(fleet, seen) });
        await clients.ssm.send(
            new PutParameterCommand({ Name: "/probe", Value: "v", Type: "String", Overwrite: true }),
        );
        assert.equal(fleet.parameters.get("/probe")?.value, "v");
        await clients.sqs.send(new SendMessageCommand({ QueueUrl: DLQ_URL, MessageBody: "{}" }));
        const ec2 = await clients.ec2();
        assert.strictEqual(await clients.ec2(), ec2, "one EC2 client, created on first use");
        const d = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId(1)] }));
        assert.ok(
            d.Reservations?.some((r) => r.Instances?.some((i) => i.InstanceId === instanceId(1))),
            JSON.stringify(d).slice(0, 300),
        );
        assert.deepStrictEqual(
            seen.map((s) => s.target ?? s.action),
            ["AmazonSSM.PutParameter", "AmazonSQS.SendMessage", "DescribeInstances"],
        );
        assert.deepStrictEqual(
            seen.map((s) => s.hostname),
            ["ssm.us-east-1.amazonaws.com", "sqs.us-east-1.amazonaws.com", "ec2.us-east-1.amazonaws.com"],
        );
        for (const s of seen) {
            assert.match(s.authorization, /^AWS4-HMAC-SHA256 Credential=AKIDCLIENTSTEST\//);
            assert.equal(s.token, "clients-test-token");
        }
        assert.equal(fleet.queues.get(DLQ_URL)?.length, 1);
    });

    it("no credentials in the environment: a call fails naming the environment (no other credential source is tried)", async () => {
        const fleet = makeFleet({});
        const seen: Seen[] = [];
        const key = process.env.AWS_ACCESS_KEY_ID;
        delete process.env.AWS_ACCESS_KEY_ID;
        try {
            const clients = createClients({}, { requestHandler: recordingHandler(fleet, seen) });
            await assert.rejects(
                clients.ssm.send(new GetParameterCommand({ Name: "/probe" })),
                /environment variable credentials/,
            );
            assert.equal(seen.length, 0);
        } finally {
            process.env.AWS_ACCESS_KEY_ID = key;
        }
    });

    it("createHandler({ requestHandler }) builds its clients with it: a running event goes out through it", async () => {
        const fleet = makeFleet({ tagged: 1 });
        const seen: Seen[] = [];
        const handler = createHandler({
            requestHandler: recordingHandler(fleet, seen),
            env: ENV,
            log: quiet,
            sleep: async () => {},
        });
        const res = await handler(
            { Records: [record(runningEvent(instanceId(1)), "r1")] },
            { getRemainingTimeInMillis: () => 60_000 },
        );
        assert.deepStrictEqual(res, { batchItemFailures: [] });
        const ops = seen.map((s) => s.target ?? s.action);
        assert.ok(ops.includes("DescribeInstances"), ops.join(", "));
        assert.ok(ops.includes("AmazonSSM.SendCommand"), ops.join(", "));
        assert.deepStrictEqual(
            fleet.commands.flatMap((c) => c.instanceIds),
            [instanceId(1)],
        );
    });

    it("the bundle (modeled errors unregistered) still gives the handler each error's name and fault: throttling and a server fault are retried, a client error is not", async () => {
        const bundle = require("../bin/lambda/provisioner.js") as typeof import("../lambda/provisioner");
        const fleet = makeFleet({ tagged: 1 });
        fleet.throttleNext.SendCommand = 2;
        const seen: Seen[] = [];
        const warnings: string[] = [];
        let failFirstSend = true;
        const inner = recordingHandler(fleet, seen);
        // One more failure before the throttling: a modeled server error (HTTP 500), which SSM sends as JSON.
        const handlerWith500: SdkRequestHandler = {
            async handle(request, o) {
                const target = String((request.headers as Record<string, string>)["x-amz-target"] ?? "");
                if (failFirstSend && target === "AmazonSSM.SendCommand") {
                    failFirstSend = false;
                    return {
                        response: {
                            statusCode: 500,
                            headers: { "content-type": "application/x-amz-json-1.1" },
                            body: Buffer.from(JSON.stringify({ __type: "InternalServerError", message: "try again" })),
                        } as never,
                    };
                }
                return inner.handle(request, o);
            },
        };
        const handler = bundle.createHandler({
            requestHandler: handlerWith500,
            env: ENV,
            log: { ...quiet, warn: (m, x) => warnings.push(`${m} ${JSON.stringify(x)}`) },
            sleep: async () => {},
        });
        const res = await handler(
            { Records: [record(runningEvent(instanceId(1)), "r1")] },
            { getRemainingTimeInMillis: () => 60_000 },
        );
        assert.deepStrictEqual(res, { batchItemFailures: [] });
        assert.equal(handler.stats()?.throttled, 2, warnings.join("\n"));
        assert.ok(
            warnings.some((w) => w.includes('"error":"InternalServerError"')),
            warnings.join("\n"),
        );
        assert.ok(
            warnings.some((w) => w.includes('"error":"ThrottlingException"')),
            warnings.join("\n"),
        );
        assert.deepStrictEqual(
            fleet.commands.flatMap((c) => c.instanceIds),
            [instanceId(1)],
        );
        // A client error (HTTP 400) is not retried: the record fails with the error's own name.
        const fleet2 = makeFleet({ tagged: 1 });
        fleet2.documents.clear();
        const errors: string[] = [];
        const h2 = bundle.createHandler({
            requestHandler: recordingHandler(fleet2, []),
            env: ENV,
            log: { ...quiet, error: (m, x) => errors.push(`${m} ${JSON.stringify(x)}`) },
            sleep: async () => {},
        });
        const r2 = await h2(
            { Records: [record(runningEvent(instanceId(1)), "r2")] },
            { getRemainingTimeInMillis: () => 60_000 },
        );
        assert.deepStrictEqual(r2, { batchItemFailures: [{ itemIdentifier: "r2" }] });
        assert.ok(
            errors.some((e) => /SendCommand failed .*"error":"InvalidDocument"/.test(e)),
            errors.join("\n"),
        );
        assert.equal(h2.stats()?.throttled, 0);
    });
});
