/**
 * The Provisioner component under Pulumi mocks: the children it creates, the IAM policy statement by
 * statement, the queue/DLQ/redrive/alarm wiring, the event source mapping, the runtime refusal,
 * and the push Invocation keyed on the spec hash. Unmocked resource types and calls fail.
 */
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import type * as ProvisionerModule from "../components";
import {
    associationPattern,
    commandResultPattern,
    DRIFT_REASON,
    EC2_RUNNING_PATTERN,
    offboardInvocationInput,
    parseQueuedEvent,
    pushPattern,
} from "../core/events";
import { defaultNodeRuntime } from "../core/runtimes";
import { AwsMocks, recordDependencies } from "./support/awsMocks";
import { patience, waitUntil } from "./support/patience";

interface Created {
    type: string;
    name: string;
    inputs: Record<string, any>;
}

const REGION = "eu-west-1";
const ACCOUNT = "123456789012";

class Mocks implements pulumi.runtime.Mocks {
    readonly created: Created[] = [];
    readonly calls: string[] = [];
    /** AWS's limits (test/support/awsMocks.ts): every resource must pass them; the answers are this class's own. */
    private readonly aws = new AwsMocks();
    newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, any> } {
        const i = args.inputs ?? {};
        if (args.type.startsWith("pka-fleet:index:")) return { id: undefined, state: {} };
        this.aws.newResource(args);
        this.created.push({ type: args.type, name: args.name, inputs: i });
        // The provider's auto-name (a FIFO queue's ends in .fifo: the provider appends it, as AWS requires).
        const n = i.name ?? `${args.name}-x${args.type === "aws:sqs/queue:Queue" && i.fifoQueue ? ".fifo" : ""}`;
        switch (args.type) {
            case "aws:sqs/queue:Queue":
                return {
                    id: n,
                    state: {
                        ...i,
                        name: n,
                        arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${n}`,
                        url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${n}`,
                    },
                };
            case "aws:cloudwatch/eventRule:EventRule":
                return { id: n, state: { ...i, name: n, arn: `arn:aws:events:${REGION}:${ACCOUNT}:rule/${n}` } };
            case "aws:cloudwatch/logGroup:LogGroup":
                return { id: n, state: { ...i, name: n, arn: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${n}` } };
            case "aws:iam/role:Role":
                return { id: n, state: { ...i, name: n, arn: `arn:aws:iam::${ACCOUNT}:role/${n}` } };
            case "aws:lambda/function:Function":
                return { id: n, state: { ...i, name: n, arn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${n}` } };
            case "aws:cloudwatch/metricAlarm:MetricAlarm":
                return { id: n, state: { ...i, name: n, arn: `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${n}` } };
            case "aws:ssm/parameter:Parameter":
                return {
                    id: n,
                    state: { ...i, name: n, arn: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${n}`, version: 1 },
                };
            case "aws:sqs/queuePolicy:QueuePolicy":
            case "aws:iam/rolePolicy:RolePolicy":
            case "aws:cloudwatch/eventTarget:EventTarget":
            case "aws:lambda/eventSourceMapping:EventSourceMapping":
            case "aws:lambda/invocation:Invocation":
                return { id: `${args.name}-id`, state: { ...i, result: "{}" } };
            default:
                throw new Error(`unmocked resource type ${args.type}`);
        }
    }
    call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
        this.calls.push(args.token);
        switch (args.token) {
            case "aws:index/getCallerIdentity:getCallerIdentity":
                return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/t`, userId: "AID" };
            case "aws:index/getRegion:getRegion":
                return { name: REGION, region: REGION, id: REGION };
            case "aws:index/getPartition:getPartition":
                return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
        }
        throw new Error(`unmocked call ${args.token}`);
    }
    of(type: string): Created[] {
        return this.created.filter((c) => c.type === type);
    }
    one(type: string, name?: string): Created {
        const c = this.of(type).filter((x) => name === undefined || x.name === name);
        assert.strictEqual(c.length, 1, `exactly one ${type}${name ? ` named ${name}` : ""}`);
        return c[0];
    }
}

function resolve<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((r) => o.apply((v) => (r(v), v)));
}

const DOC_ARN = `arn:aws:ssm:${REGION}:${ACCOUNT}:document/pka-setup`;

/** A request to an SQS queue, as IAM sees it: who, the request context, and whether the caller's own identity policy allows the action. */
interface Request {
    principal: { service?: string; arn?: string };
    context: Record<string, string>;
    identityAllows: boolean;
}

/**
 * IAM's evaluation of one resource policy within one account (IAM User Guide, "Policy evaluation
 * logic"): an explicit Deny wins; else an Allow from the resource policy or from the identity
 * policy is enough. Conditions: every operator and key must match (AND); ArnEquals needs the key
 * present; a negated operator (ArnNotEquals) is true when the key is absent ("Condition operators":
 * negated matching operators). Principal "*" matches anyone.
 */
function evaluate(policy: { Statement: any[] }, action: string, resource: string, req: Request): boolean {
    const arnMatch = (pattern: string, v: string) =>
        new RegExp(
            `^${pattern
                .split("*")
                .map((x) => x.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
                .join(".*")}$`,
        ).test(v);
    const principalMatches = (p: any) =>
        p === "*" ||
        (p.Service !== undefined && [p.Service].flat().includes(req.principal.service)) ||
        (p.AWS !== undefined && [p.AWS].flat().includes(req.principal.arn));
    const conditionHolds = (c: Record<string, Record<string, string | string[]>> = {}) =>
        Object.entries(c).every(([op, keys]) =>
            Object.entries(keys).every(([k, vals]) => {
                const v = req.context[k];
                const any = v !== undefined && [vals].flat().some((x) => arnMatch(x, v));
                if (op === "ArnEquals" || op === "ArnLike") return any;
                if (op === "ArnNotEquals" || op === "ArnNotLike") return !any;
                throw new Error(`operator ${op} not modelled`);
            }),
        );
    const applies = (s: any) =>
        principalMatches(s.Principal) &&
        [s.Action].flat().includes(action) &&
        [s.Resource].flat().some((r: string) => arnMatch(r, resource)) &&
        conditionHolds(s.Condition);
    if (policy.Statement.some((s) => s.Effect === "Deny" && applies(s))) return false;
    return req.identityAllows || policy.Statement.some((s) => s.Effect === "Allow" && applies(s));
}

function baseArgs(): ProvisionerModule.ProvisionerArgs {
    return {
        documentName: "pka-setup",
        documentArn: DOC_ARN,
        targetTag: { key: "pka-fleet", value: "web" },
        accessParameterPath: "/pka/web/access",
        accessSpecHash: "a".repeat(64),
    };
}

describe("Provisioner component (pka-fleet:index:Provisioner) under mocks", function () {
    let mocks: Mocks;
    let mod: typeof ProvisionerModule;

    beforeEach(async () => {
        mocks = new Mocks();
        await pulumi.runtime.setMocks(mocks, "pka-fleet", "test", false);
        mod = await import("../components");
    });

    async function build(
        args: Partial<ProvisionerModule.ProvisionerArgs> = {},
        opts?: pulumi.ComponentResourceOptions,
    ) {
        const p = new mod.Provisioner("web", { ...baseArgs(), ...args }, opts);
        await resolve(pulumi.all([p.queueUrl, p.dlqUrl, p.functionArn, p.roleArn, p.alarmName, p.ruleNames]));
        // Let the remaining registrations (policies, targets, invocation) reach the mocks.
        await new Promise((r) => setTimeout(r, 50));
        return p;
    }

    it("creates the documented children and outputs", async () => {
        const p = await build();
        const inventory: Record<string, number> = {};
        for (const c of mocks.created) inventory[c.type] = (inventory[c.type] ?? 0) + 1;
        assert.deepStrictEqual(inventory, {
            "aws:sqs/queue:Queue": 4,
            "aws:cloudwatch/eventRule:EventRule": 4,
            "aws:cloudwatch/eventTarget:EventTarget": 4,
            "aws:sqs/queuePolicy:QueuePolicy": 3,
            "aws:cloudwatch/logGroup:LogGroup": 1,
            "aws:iam/role:Role": 1,
            "aws:iam/rolePolicy:RolePolicy": 1,
            "aws:lambda/function:Function": 1,
            "aws:lambda/eventSourceMapping:EventSourceMapping": 2,
            "aws:cloudwatch/metricAlarm:MetricAlarm": 2,
            "aws:lambda/invocation:Invocation": 2,
            "aws:ssm/parameter:Parameter": 1,
        });
        assert.deepStrictEqual(
            mocks
                .of("aws:lambda/invocation:Invocation")
                .map((c) => c.name)
                .sort(),
            ["web-offboard", "web-push"],
        );
        assert.deepStrictEqual(
            mocks.of("aws:ssm/parameter:Parameter").map((c) => c.name),
            ["web-deployed"],
        );
        assert.strictEqual((await resolve(p.ruleNames)).length, 4);
        assert.match(await resolve(p.queueUrl), /^https:\/\/sqs\./);
        assert.match(await resolve(p.dlqArn), /^arn:aws:sqs:/);
        assert.match(await resolve(p.waitQueueUrl), /\/web-wait-x\.fifo$/);
        assert.match(await resolve(p.waitDlqUrl), /\/web-wait-dlq-x\.fifo$/);
        assert.deepStrictEqual(mocks.calls, [], "the document ARN gives region/account without provider calls");
    });

    it("IAM: SendCommand only on our document and on tagged instances; nothing '*' that can be narrowed", async () => {
        await build();
        const policy = JSON.parse(mocks.one("aws:iam/rolePolicy:RolePolicy").inputs.policy);
        const by = Object.fromEntries(policy.Statement.map((s: any) => [s.Sid, s]));
        const logGroupArn = mocks.one("aws:cloudwatch/logGroup:LogGroup");
        assert.deepStrictEqual(Object.keys(by).sort(), [
            "ConsumeQueue",
            "DeadLetter",
            "DescribeFleet",
            "Logs",
            "OffboardMarker",
            "PinHostKeys",
            "ReadAccessSpec",
            "SendCommandDocument",
            "SendCommandTaggedInstances",
            "WaitForAgents",
        ]);
        assert.deepStrictEqual(by.OffboardMarker, {
            Sid: "OffboardMarker",
            Effect: "Allow",
            Action: "ssm:GetParameter",
            Resource: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/pka/web/access-deployed`,
        });
        assert.deepStrictEqual(by.Logs.Action, ["logs:CreateLogStream", "logs:PutLogEvents"]);
        assert.strictEqual(by.Logs.Resource, `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${logGroupArn.name}-x:*`);
        assert.deepStrictEqual(
            [by.SendCommandDocument.Action, by.SendCommandDocument.Resource],
            ["ssm:SendCommand", DOC_ARN],
        );
        assert.deepStrictEqual(by.SendCommandTaggedInstances, {
            Sid: "SendCommandTaggedInstances",
            Effect: "Allow",
            Action: "ssm:SendCommand",
            Resource: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/*`,
            Condition: { StringEquals: { "ssm:resourceTag/pka-fleet": "web" } },
        });
        assert.deepStrictEqual(
            [by.ReadAccessSpec.Action, by.ReadAccessSpec.Resource],
            ["ssm:GetParametersByPath", `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/pka/web/access`],
        );
        assert.deepStrictEqual(
            [by.PinHostKeys.Action, by.PinHostKeys.Resource],
            [
                ["ssm:GetParameters", "ssm:PutParameter"],
                `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/pka/web/known_hosts/*`,
            ],
        );
        assert.deepStrictEqual(by.DescribeFleet.Action, [
            "ssm:DescribeInstanceInformation",
            "ssm:GetCommandInvocation",
            "ssm:ListCommandInvocations",
            "ec2:DescribeInstances",
        ]);
        // Wait messages go to the wait queue, and only there.
        assert.deepStrictEqual(
            [by.WaitForAgents.Action, by.WaitForAgents.Resource],
            [
                "sqs:SendMessage",
                [`arn:aws:sqs:${REGION}:${ACCOUNT}:web-wait-x.fifo`, `arn:aws:sqs:${REGION}:${ACCOUNT}:web-queue-x`],
            ],
        );
        assert.deepStrictEqual(by.ConsumeQueue.Resource, [
            `arn:aws:sqs:${REGION}:${ACCOUNT}:web-queue-x`,
            `arn:aws:sqs:${REGION}:${ACCOUNT}:web-wait-x.fifo`,
        ]);
        assert.deepStrictEqual(by.ConsumeQueue.Action, [
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ChangeMessageVisibility",
        ]);
        assert.deepStrictEqual(
            [by.DeadLetter.Action, by.DeadLetter.Resource.includes("web-dlq")],
            ["sqs:SendMessage", true],
        );
        // The only "*" resource is the statement of actions without resource-level permissions.
        const stars = policy.Statement.filter(
            (s: any) =>
                JSON.stringify(s.Resource).includes("*") &&
                !String(s.Resource).endsWith("/*") &&
                !String(s.Resource).endsWith(":*"),
        );
        assert.deepStrictEqual(
            stars.map((s: any) => s.Sid),
            ["DescribeFleet"],
        );
        for (const s of policy.Statement) {
            const actions = [s.Action].flat();
            if (actions.includes("ssm:SendCommand")) assert.notStrictEqual(s.Resource, "*", "SendCommand never on *");
            assert.ok(!actions.some((a: string) => a.endsWith(":*") || a === "*"), `no wildcard actions in ${s.Sid}`);
        }
        const trust = JSON.parse(mocks.one("aws:iam/role:Role").inputs.assumeRolePolicy);
        assert.deepStrictEqual(trust.Statement[0].Principal, { Service: "lambda.amazonaws.com" });
    });

    it("rules carry the exact patterns from core/events and target the queue with the DLQ as their dead-letter", async () => {
        await build();
        const key = (p: any) => p["detail-type"][0];
        const patterns = mocks
            .of("aws:cloudwatch/eventRule:EventRule")
            .map((r) => JSON.parse(r.inputs.eventPattern))
            .sort((a, b) => key(a).localeCompare(key(b)));
        const expected = [
            EC2_RUNNING_PATTERN,
            associationPattern("pka-setup"),
            commandResultPattern("pka-setup"),
            pushPattern("web"),
        ].map((p) => JSON.parse(JSON.stringify(p)));
        assert.deepStrictEqual(
            patterns,
            expected.sort((a, b) => key(a).localeCompare(key(b))),
        );
        for (const t of mocks.of("aws:cloudwatch/eventTarget:EventTarget")) {
            assert.match(t.inputs.arn, /web-queue/);
            assert.match(t.inputs.deadLetterConfig.arn, /web-dlq/);
            assert.strictEqual(t.inputs.retryPolicy.maximumRetryAttempts, 185);
        }
    });

    it("queue policies allow only EventBridge, only from our rules (aws:SourceArn)", async () => {
        await build();
        const ruleArns = mocks
            .of("aws:cloudwatch/eventRule:EventRule")
            .map((r) => `arn:aws:events:${REGION}:${ACCOUNT}:rule/${r.name}-x`)
            .sort();
        assert.strictEqual(ruleArns.length, 4);
        for (const qp of mocks.of("aws:sqs/queuePolicy:QueuePolicy").filter((q) => q.name !== "web-wait-policy")) {
            const [st] = JSON.parse(qp.inputs.policy).Statement;
            assert.deepStrictEqual(st.Principal, { Service: "events.amazonaws.com" });
            assert.strictEqual(st.Action, "sqs:SendMessage");
            assert.deepStrictEqual(Object.keys(st.Condition), ["ArnEquals"]);
            assert.deepStrictEqual([...st.Condition.ArnEquals["aws:SourceArn"]].sort(), ruleArns);
        }
    });

    it("queue policies: in the same account, an identity policy allowing sqs:SendMessage still cannot send (explicit Deny); our rules and the Lambda's role (wait messages, the DLQ) can", async () => {
        await build();
        const ruleArns = mocks
            .of("aws:cloudwatch/eventRule:EventRule")
            .map((r) => `arn:aws:events:${REGION}:${ACCOUNT}:rule/${r.name}-x`);
        const roleArn = `arn:aws:iam::${ACCOUNT}:role/web-role-x`;
        const [queuePolicy, dlqPolicy, waitPolicy] = ["web-queue-policy", "web-dlq-policy", "web-wait-policy"].map(
            (n) => JSON.parse(mocks.of("aws:sqs/queuePolicy:QueuePolicy").find((q) => q.name === n)!.inputs.policy),
        );
        const q = `arn:aws:sqs:${REGION}:${ACCOUNT}:web-queue-x`;
        const d = `arn:aws:sqs:${REGION}:${ACCOUNT}:web-dlq-x`;
        const w = `arn:aws:sqs:${REGION}:${ACCOUNT}:web-wait-x.fifo`;
        const admin = {
            principal: { arn: `arn:aws:iam::${ACCOUNT}:role/Admin` },
            context: { "aws:PrincipalArn": `arn:aws:iam::${ACCOUNT}:role/Admin` },
            identityAllows: true,
        };
        const cases: [string, any, string, Request, boolean][] = [
            [
                "our rule -> queue",
                queuePolicy,
                q,
                {
                    principal: { service: "events.amazonaws.com" },
                    context: { "aws:SourceArn": ruleArns[0] },
                    identityAllows: false,
                },
                true,
            ],
            [
                "another rule (same account) -> queue",
                queuePolicy,
                q,
                {
                    principal: { service: "events.amazonaws.com" },
                    context: { "aws:SourceArn": `arn:aws:events:${REGION}:${ACCOUNT}:rule/forged` },
                    identityAllows: false,
                },
                false,
            ],
            ["an admin with sqs:* -> queue", queuePolicy, q, admin, false],
            // Its wait messages for instances long in coming go to the queue, delayed (the FIFO wait queue takes no per-message delay).
            [
                "the Lambda's role -> queue (delayed wait messages)",
                queuePolicy,
                q,
                { principal: { arn: roleArn }, context: { "aws:PrincipalArn": roleArn }, identityAllows: true },
                true,
            ],
            [
                "the Lambda's role -> wait queue (its wait messages)",
                waitPolicy,
                w,
                { principal: { arn: roleArn }, context: { "aws:PrincipalArn": roleArn }, identityAllows: true },
                true,
            ],
            ["an admin with sqs:* -> wait queue", waitPolicy, w, admin, false],
            [
                "our rule -> wait queue",
                waitPolicy,
                w,
                {
                    principal: { service: "events.amazonaws.com" },
                    context: { "aws:SourceArn": ruleArns[0] },
                    identityAllows: true,
                },
                false,
            ],
            [
                "another role -> wait queue",
                waitPolicy,
                w,
                {
                    principal: { arn: `arn:aws:iam::${ACCOUNT}:role/web-role-y` },
                    context: { "aws:PrincipalArn": `arn:aws:iam::${ACCOUNT}:role/web-role-y` },
                    identityAllows: true,
                },
                false,
            ],
            [
                "another role -> queue",
                queuePolicy,
                q,
                {
                    principal: { arn: `arn:aws:iam::${ACCOUNT}:role/web-role-y` },
                    context: { "aws:PrincipalArn": `arn:aws:iam::${ACCOUNT}:role/web-role-y` },
                    identityAllows: true,
                },
                false,
            ],
            [
                "the Lambda's role -> DLQ",
                dlqPolicy,
                d,
                { principal: { arn: roleArn }, context: { "aws:PrincipalArn": roleArn }, identityAllows: true },
                true,
            ],
            [
                "our rule -> DLQ (undeliverable events)",
                dlqPolicy,
                d,
                {
                    principal: { service: "events.amazonaws.com" },
                    context: { "aws:SourceArn": ruleArns[1] },
                    identityAllows: false,
                },
                true,
            ],
            ["an admin with sqs:* -> DLQ", dlqPolicy, d, admin, false],
        ];
        for (const [what, policy, resource, req, allowed] of cases) {
            assert.strictEqual(evaluate(policy, "sqs:SendMessage", resource, req), allowed, what);
        }
    });

    it("queue: redrive to the DLQ after maxReceiveCount, visibility >= 6x the Lambda timeout; alarm on DLQ depth", async () => {
        await build({ maxReceiveCount: 7, timeoutSeconds: 90, batchingWindowSeconds: 10 });
        const queueNamed = (n: string) => mocks.of("aws:sqs/queue:Queue").find((q) => q.name === n)!;
        const [dlq, queue] = [queueNamed("web-dlq"), queueNamed("web-queue")];
        assert.match(dlq.name, /-dlq$/);
        assert.deepStrictEqual(JSON.parse(queue.inputs.redrivePolicy), {
            deadLetterTargetArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:web-dlq-x`,
            maxReceiveCount: 7,
        });
        const fn = mocks.one("aws:lambda/function:Function");
        assert.strictEqual(fn.inputs.timeout, 90);
        assert.ok(
            queue.inputs.visibilityTimeoutSeconds >= 6 * 90,
            `visibility ${queue.inputs.visibilityTimeoutSeconds}`,
        );
        assert.strictEqual(dlq.inputs.messageRetentionSeconds, 1209600);
        const alarms = mocks.of("aws:cloudwatch/metricAlarm:MetricAlarm");
        const alarmOn = (q: string) => alarms.find((a) => a.inputs.dimensions?.QueueName === q)!;
        for (const q of ["web-dlq-x", "web-wait-dlq-x.fifo"]) {
            const alarm = alarmOn(q);
            assert.ok(alarm, `an alarm on ${q}`);
            assert.deepStrictEqual(
                [
                    alarm.inputs.namespace,
                    alarm.inputs.metricName,
                    alarm.inputs.threshold,
                    alarm.inputs.comparisonOperator,
                ],
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", 0, "GreaterThanThreshold"],
            );
        }
        // The wait queue: FIFO (one message group: one aggregator), its own FIFO DLQ after as many receives, visibility >= 6x the timeout.
        const [waitQueue, waitDlq] = [queueNamed("web-wait"), queueNamed("web-wait-dlq")];
        assert.deepStrictEqual(
            [
                waitQueue.inputs.fifoQueue,
                waitDlq.inputs.fifoQueue,
                waitQueue.inputs.contentBasedDeduplication,
                waitQueue.inputs.delaySeconds,
            ],
            [true, true, false, undefined],
        );
        assert.deepStrictEqual(JSON.parse(waitQueue.inputs.redrivePolicy), {
            deadLetterTargetArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:web-wait-dlq-x.fifo`,
            maxReceiveCount: 7,
        });
        assert.ok(
            waitQueue.inputs.visibilityTimeoutSeconds >= 6 * 90,
            `wait visibility ${waitQueue.inputs.visibilityTimeoutSeconds}`,
        );
    });

    it("Lambda: asset archive of the bundle, the newest supported Node.js runtime, env config without secrets; mapping with ReportBatchItemFailures", async () => {
        await build({ batchSize: 40, batchingWindowSeconds: 3, maximumConcurrency: 4, keyRules: { minRsaBits: 4096 } });
        const fn = mocks.one("aws:lambda/function:Function");
        assert.strictEqual(fn.inputs.runtime, defaultNodeRuntime());
        assert.strictEqual(fn.inputs.handler, "provisioner.handler");
        // An asset archive (not a CallbackFunction's serialized closure) of the package's bundle.
        assert.strictEqual(fn.inputs.code.__pulumiArchive, true);
        assert.ok(
            mod.provisionerCodePath().endsWith(require("path").join("bin", "lambda", "provisioner.js")),
            mod.provisionerCodePath(),
        );
        assert.deepStrictEqual(fn.inputs.environment.variables, {
            PKA_DOCUMENT_NAME: "pka-setup",
            PKA_TARGET_TAG: "pka-fleet=web",
            PKA_ACCESS_PARAMETER: "/pka/web/access",
            PKA_ACCESS_SPEC_SHA256: "a".repeat(64),
            PKA_KNOWN_HOSTS_PATH: "/pka/web/known_hosts",
            PKA_DEAD_LETTER_QUEUE_URL: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/web-dlq-x`,
            PKA_MAX_ATTEMPTS: "3",
            PKA_KEY_RULES: '{"minRsaBits":4096}',
            PKA_DEPLOYED_MARKER: "/pka/web/access-deployed",
            PKA_WAIT_QUEUE_URL: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/web-wait-x.fifo`,
            PKA_QUEUE_URL: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/web-queue-x`,
            PKA_AGENT_WAIT_SECONDS: "3600",
        });
        assert.strictEqual(fn.inputs.loggingConfig.logGroup, "web-logs-x");
        const [m, wm] = ["web-mapping", "web-wait-mapping"].map((n) =>
            mocks.of("aws:lambda/eventSourceMapping:EventSourceMapping").find((x) => x.name === n)!,
        );
        assert.deepStrictEqual(
            [
                m.inputs.batchSize,
                m.inputs.maximumBatchingWindowInSeconds,
                m.inputs.functionResponseTypes,
                m.inputs.scalingConfig,
                m.inputs.eventSourceArn,
            ],
            [
                40,
                3,
                ["ReportBatchItemFailures"],
                { maximumConcurrency: 4 },
                `arn:aws:sqs:${REGION}:${ACCOUNT}:web-queue-x`,
            ],
        );
        // The wait queue's mapping: FIFO, so batches of at most 10 and no batching window (Lambda's SQS parameters).
        assert.deepStrictEqual(
            [
                wm.inputs.batchSize,
                wm.inputs.maximumBatchingWindowInSeconds,
                wm.inputs.functionResponseTypes,
                wm.inputs.eventSourceArn,
            ],
            [10, undefined, ["ReportBatchItemFailures"], `arn:aws:sqs:${REGION}:${ACCOUNT}:web-wait-x.fifo`],
        );
        assert.strictEqual(mocks.one("aws:cloudwatch/logGroup:LogGroup").inputs.retentionInDays, 30);
    });

    it("deploys PROVISIONER_DEFAULTS, and the local fleet and the bench run exactly those (one configuration)", async () => {
        const { PROVISIONER_DEFAULTS: d } = await import("../core/provisionerDefaults");
        const { localProvisionerConfig } = await import("../local/fleet");
        await build();
        const queue = mocks.of("aws:sqs/queue:Queue").find((q) => q.name === "web-queue")!;
        const waitQueue = mocks.of("aws:sqs/queue:Queue").find((q) => q.name === "web-wait")!;
        const fn = mocks.one("aws:lambda/function:Function");
        const m = mocks.of("aws:lambda/eventSourceMapping:EventSourceMapping").find((x) => x.name === "web-mapping")!;
        const deployed = {
            visibilityTimeoutMs: queue.inputs.visibilityTimeoutSeconds * 1000,
            maxReceiveCount: JSON.parse(queue.inputs.redrivePolicy).maxReceiveCount,
            batchSize: m.inputs.batchSize,
            batchingWindowMs: m.inputs.maximumBatchingWindowInSeconds * 1000,
            lambdaConcurrency: m.inputs.scalingConfig.maximumConcurrency,
            maxAttempts: Number(fn.inputs.environment.variables.PKA_MAX_ATTEMPTS),
            functionTimeoutMs: fn.inputs.timeout * 1000,
            agentWaitSeconds: Number(fn.inputs.environment.variables.PKA_AGENT_WAIT_SECONDS),
            waitVisibilityTimeoutMs: waitQueue.inputs.visibilityTimeoutSeconds * 1000,
        };
        assert.deepStrictEqual(
            deployed,
            localProvisionerConfig(),
            "the local fleet's defaults (pka local-fleet, bench/timing.ts) are the deployed ones",
        );
        assert.deepStrictEqual(
            [
                deployed.batchSize,
                deployed.batchingWindowMs,
                deployed.maxReceiveCount,
                deployed.lambdaConcurrency,
                deployed.functionTimeoutMs,
                deployed.visibilityTimeoutMs,
            ],
            [
                d.batchSize,
                d.batchingWindowSeconds * 1000,
                d.maxReceiveCount,
                d.maximumConcurrency,
                d.timeoutSeconds * 1000,
                (6 * d.timeoutSeconds + d.batchingWindowSeconds) * 1000,
            ],
        );
        // PKA_COMMAND_TIMEOUT_SECONDS is left to the Lambda's default, which is the deployed one.
        assert.strictEqual(fn.inputs.environment.variables.PKA_COMMAND_TIMEOUT_SECONDS, undefined);
        const { readConfig } = await import("../core/lambdaConfig");
        const read = readConfig(fn.inputs.environment.variables);
        assert.strictEqual(read.commandTimeoutSeconds, d.commandTimeoutSeconds);
        assert.strictEqual(
            read.waitQueueUrl,
            `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/web-wait-x.fifo`,
            "the Lambda takes the deployed wait queue's URL",
        );
    });

    it("refuses deprecated or non-Node runtimes and invalid settings, naming the input", async () => {
        assert.throws(
            () => new mod.Provisioner("a", { ...baseArgs(), runtime: "nodejs18.x" }),
            /`runtime` nodejs18.x is deprecated/,
        );
        assert.throws(
            () => new mod.Provisioner("b", { ...baseArgs(), runtime: "nodejs20.x" }),
            /`runtime` nodejs20.x is deprecated by AWS since 2026-04-30/,
        );
        assert.throws(() => new mod.Provisioner("c", { ...baseArgs(), runtime: "python3.12" }), /Node.js runtime/);
        assert.throws(
            () => new mod.Provisioner("d", { ...baseArgs(), batchSize: 20, batchingWindowSeconds: 0 }),
            /batchingWindowSeconds/,
        );
        assert.throws(() => new mod.Provisioner("e", { ...baseArgs(), logRetentionDays: 2 }), /logRetentionDays/);
        assert.throws(
            () => new mod.Provisioner("f", { ...baseArgs(), triggers: ["everything" as never] }),
            /`triggers`/,
        );
        assert.strictEqual(mod.runtimeProblem("nodejs24.x"), undefined);
        assert.strictEqual(mod.runtimeProblem("nodejs22.x", new Date("2027-05-01")) !== undefined, true);
    });

    it("the default runtime moves forward with AWS's deprecation calendar instead of expiring", () => {
        assert.strictEqual(defaultNodeRuntime(new Date("2026-11-21")), "nodejs24.x");
        assert.strictEqual(defaultNodeRuntime(new Date("2025-01-01")), "nodejs24.x");
        assert.throws(
            () => defaultNodeRuntime(new Date("2028-05-01")),
            /set `runtime` explicitly or upgrade pka-fleet/,
        );
        for (const d of ["2026-11-21", "2027-05-01", "2028-01-01"]) {
            assert.strictEqual(
                mod.runtimeProblem(defaultNodeRuntime(new Date(d)), new Date(d)),
                undefined,
                `default on ${d} is accepted`,
            );
        }
    });

    it("push: an Invocation carrying an SQS-shaped push event keyed on the spec hash", async () => {
        await build();
        const inv = mocks.one("aws:lambda/invocation:Invocation", "web-push");
        assert.deepStrictEqual(inv.inputs.triggers, { accessSpecHash: "a".repeat(64) });
        const input = JSON.parse(inv.inputs.input);
        assert.strictEqual(input.Records.length, 1);
        assert.strictEqual(input.Records[0].eventSource, "pka-fleet:deploy");
        const ev = JSON.parse(input.Records[0].body);
        assert.deepStrictEqual(
            [ev.source, ev.detail.specHash, ev.detail.reason],
            ["pka-fleet", "a".repeat(64), "access-spec-changed"],
        );
        const first = inv.inputs.input;

        // Same hash: same input (no re-invocation). Another hash: another input and trigger.
        mocks = new Mocks();
        await pulumi.runtime.setMocks(mocks, "pka-fleet", "test", false);
        await build();
        assert.strictEqual(mocks.one("aws:lambda/invocation:Invocation", "web-push").inputs.input, first);
        mocks = new Mocks();
        await pulumi.runtime.setMocks(mocks, "pka-fleet", "test", false);
        await build({ accessSpecHash: "b".repeat(64) });
        const other = mocks.one("aws:lambda/invocation:Invocation", "web-push");
        assert.notStrictEqual(other.inputs.input, first);
        assert.deepStrictEqual(other.inputs.triggers, { accessSpecHash: "b".repeat(64) });
    });

    it("accessSpecHash is required and must be a 64-hex hash; knownHostsPath must not overlap the access path; both refused before any child", async () => {
        assert.throws(
            () => new mod.Provisioner("nohash", { ...baseArgs(), accessSpecHash: undefined as never }),
            /`accessSpecHash` is required: .*pinned in the Lambda/,
        );
        assert.throws(
            () => new mod.Provisioner("badhash", { ...baseArgs(), accessSpecHash: "A".repeat(64) }),
            /`accessSpecHash` must be the 64 lower-case hex/,
        );
        for (const kh of ["/pka/web/access", "/pka/web/access/known", "/pka/web", "/pka/web/access/"]) {
            assert.throws(
                () => new mod.Provisioner(`ov${kh.length}`, { ...baseArgs(), knownHostsPath: kh }),
                /`knownHostsPath` .* overlaps `accessParameterPath` \/pka\/web\/access/,
                kh,
            );
        }
        await new Promise((r) => setTimeout(r, 50));
        assert.deepStrictEqual(mocks.created, [], "a refused input creates no child");
        // Disjoint siblings are fine, including a common prefix that is not a path boundary.
        await build({ knownHostsPath: "/pka/web/accessx" });
        assert.strictEqual(
            mocks.one("aws:lambda/function:Function").inputs.environment.variables.PKA_KNOWN_HOSTS_PATH,
            "/pka/web/accessx",
        );
    });

    it("no push without the push trigger; triggers select the rules; the hash is still pinned", async () => {
        await build({ triggers: ["associationChange"] });
        assert.strictEqual(
            mocks.one("aws:lambda/function:Function").inputs.environment.variables.PKA_ACCESS_SPEC_SHA256,
            "a".repeat(64),
        );
        assert.deepStrictEqual(
            mocks.of("aws:lambda/invocation:Invocation").map((c) => c.name),
            ["web-offboard"],
            "only the offboarding Invocation",
        );
        const patterns = mocks
            .of("aws:cloudwatch/eventRule:EventRule")
            .map((r) => JSON.parse(r.inputs.eventPattern)["detail-type"][0]);
        assert.deepStrictEqual(patterns, [
            "EC2 State Manager Instance Association State Change",
            "EC2 Command Invocation Status-change Notification",
        ]);
    });

    it("keyRules: every key rule is checked like a policy config before any child, naming keyRules.<field>", async () => {
        const cases: [Record<string, unknown>, RegExp][] = [
            [{ allowedTypes: ["ed25519", "dsa"] }, /`keyRules.allowedTypes` lists "dsa", which is never allowed/],
            [{ minRsaBits: 1024 }, /`keyRules.minRsaBits` must be an integer between 2048 and 16384/],
            [{ allowedCurves: ["nistp224"] }, /`keyRules.allowedCurves` lists "nistp224", which is never allowed/],
            [{ ec2ImportRsaBits: 1024 }, /`keyRules.ec2ImportRsaBits` must be 2048 or 4096/],
            [{ requirePassphrase: "yes" }, /`keyRules.requirePassphrase` must be true or false/],
            [{ allowedCurves: [] }, /`keyRules.allowedCurves` must not be empty/],
            [
                { minRsa: 4096 },
                /`keyRules.minRsa` is not a key rule; the rules are allowedTypes, minRsaBits, allowedCurves, ec2ImportRsaBits, requirePassphrase/,
            ],
        ];
        for (const [i, [keyRules, re]] of cases.entries()) {
            assert.throws(
                () => new mod.Provisioner(`kr${i}`, { ...baseArgs(), keyRules: keyRules as never }),
                re,
                JSON.stringify(keyRules),
            );
        }
        await new Promise((r) => setTimeout(r, 50));
        assert.deepStrictEqual(mocks.created, [], "a refused keyRules creates no child");
        // Every rule reaches the Lambda, normalized as the policy pack normalizes a config.
        await build({
            keyRules: {
                allowedTypes: ["ED25519", "ecdsa"],
                allowedCurves: ["P-384"],
                minRsaBits: 4096,
                ec2ImportRsaBits: 4096,
                requirePassphrase: false,
            },
        });
        const env = mocks.one("aws:lambda/function:Function").inputs.environment.variables;
        assert.deepStrictEqual(JSON.parse(env.PKA_KEY_RULES), {
            allowedTypes: ["ed25519", "ecdsa"],
            allowedCurves: ["nistp384"],
            minRsaBits: 4096,
            ec2ImportRsaBits: 4096,
            requirePassphrase: false,
        });
    });

    it("push: waits on a resource the caller passes in dependsOn, also as an Output or a Promise", async () => {
        // The mocks' newResource does not see dependsOn: observe the registration requests themselves.
        const deps = recordDependencies();
        const aws = await import("@pulumi/aws");
        const forms: [string, (q: pulumi.Resource) => pulumi.ComponentResourceOptions["dependsOn"]][] = [
            ["plain", (q) => q],
            ["list", (q) => [q]],
            ["output", (q) => pulumi.output(q)],
            ["output-list", (q) => pulumi.output([q])],
            ["list-of-outputs", (q) => [pulumi.output(q)]],
            ["promise", (q) => Promise.resolve([q])],
        ];
        for (const [form, dependsOn] of forms) {
            const param = new aws.sqs.Queue(`caller-${form}`, {});
            const urn = await resolve(param.urn);
            const p = new mod.Provisioner(`w-${form}`, baseArgs(), { dependsOn: dependsOn(param) });
            await resolve(pulumi.all([p.functionArn, p.queueUrl]));
            const key = `aws:lambda/invocation:Invocation::w-${form}-push`;
            await waitUntil(() => deps.has(key), 2000, 10);
            const pushDeps = deps.get(key);
            assert.ok(pushDeps, `the push Invocation of w-${form} was registered`);
            assert.ok(
                pushDeps.includes(urn),
                `dependsOn as ${form}: the push depends on ${urn} (has ${pushDeps.join(", ")})`,
            );
            assert.ok(
                pushDeps.some((u) => u.endsWith(`::w-${form}-fn`)),
                `the push still waits on its function (has ${pushDeps.join(", ")})`,
            );
            // The function (and so its new pin) waits on the caller too: the pin goes live after the spec it names is stored.
            const fnDeps = deps.get(`aws:lambda/function:Function::w-${form}-fn`) ?? [];
            assert.ok(
                fnDeps.includes(urn),
                `dependsOn as ${form}: the function depends on ${urn} (has ${fnDeps.join(", ")})`,
            );
        }
    });

    it("without documentArn, region/account/partition come from the provider", async () => {
        await build({ documentArn: undefined });
        const policy = JSON.parse(mocks.one("aws:iam/rolePolicy:RolePolicy").inputs.policy);
        assert.strictEqual(policy.Statement.find((s: any) => s.Sid === "SendCommandDocument").Resource, DOC_ARN);
        assert.ok(mocks.calls.includes("aws:index/getCallerIdentity:getCallerIdentity"));
    });
    describe("drift correction (driftCorrectionSchedule): a scheduled rule, no State Manager association", () => {
        const RULE = "aws:cloudwatch/eventRule:EventRule";
        const TARGET = "aws:cloudwatch/eventTarget:EventTarget";

        it("is off by default: no schedule rule", async () => {
            await build();
            assert.ok(
                mocks
                    .of(RULE)
                    .every((r) => r.inputs.scheduleExpression === undefined && r.inputs.eventPattern !== undefined),
            );
            assert.strictEqual(
                mocks.of(RULE).find((r) => r.name === "web-drift"),
                undefined,
            );
        });

        it("a schedule rule whose queue target sends a constant push of the pinned spec: reason drift-correction, the fleet, no spec hash", async () => {
            const p = await build({
                driftCorrectionSchedule: "rate(1 day)",
                fleetName: "web-fleet",
                tags: { team: "ops" },
            });
            const rule = mocks.one(RULE, "web-drift");
            assert.deepStrictEqual(
                [rule.inputs.scheduleExpression, rule.inputs.eventPattern, rule.inputs.description, rule.inputs.tags],
                [
                    "rate(1 day)",
                    undefined,
                    "pka-fleet: drift correction: push the pinned spec to every online tagged instance",
                    { team: "ops" },
                ],
            );
            const target = mocks.one(TARGET, "web-drift-target");
            assert.strictEqual(target.inputs.rule, "web-drift-x");
            assert.strictEqual(
                target.inputs.targetId,
                mod.QUEUE_TARGET_ID,
                "an explicit id: EventBridge target ids are at most 64 characters",
            );
            assert.ok(mod.QUEUE_TARGET_ID.length <= 64);
            assert.strictEqual(target.inputs.arn, `arn:aws:sqs:${REGION}:${ACCOUNT}:web-queue-x`);
            assert.deepStrictEqual(target.inputs.deadLetterConfig, {
                arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:web-dlq-x`,
            });
            assert.deepStrictEqual(target.inputs.retryPolicy, {
                maximumEventAgeInSeconds: 86400,
                maximumRetryAttempts: 185,
            });
            const ev = JSON.parse(target.inputs.input);
            assert.deepStrictEqual(
                [ev.source, ev["detail-type"], ev.detail],
                ["pka-fleet", "PKA Fleet Access Push", { fleet: "web-fleet", reason: DRIFT_REASON }],
            );
            assert.ok(!("specHash" in ev.detail), "no spec hash: the Lambda serves the spec it pins");
            // The Lambda parses it as a push of its own fleet.
            assert.deepStrictEqual(parseQueuedEvent(target.inputs.input), {
                kind: "push",
                specHash: undefined,
                instanceIds: undefined,
                reason: DRIFT_REASON,
                fleet: "web-fleet",
                eventId: ev.id,
            });
            // Every other rule's target is event-driven (no input of its own); all share the one id (unique per rule).
            for (const t of mocks.of(TARGET)) assert.strictEqual(t.inputs.targetId, mod.QUEUE_TARGET_ID);
            assert.deepStrictEqual(
                mocks
                    .of(TARGET)
                    .filter((t) => t.inputs.input !== undefined)
                    .map((t) => t.name),
                ["web-drift-target"],
            );
            assert.ok((await resolve(p.ruleNames)).includes("web-drift-x"), "ruleNames lists the drift rule");
        });

        it("the queue and DLQ policies let the drift rule send (aws:SourceArn), and still nobody else", async () => {
            await build({ driftCorrectionSchedule: "cron(0 3 * * ? *)" });
            const drift = `arn:aws:events:${REGION}:${ACCOUNT}:rule/web-drift-x`;
            for (const qp of mocks.of("aws:sqs/queuePolicy:QueuePolicy").filter((q) => q.name !== "web-wait-policy")) {
                const policy = JSON.parse(qp.inputs.policy);
                const [allow, deny] = policy.Statement;
                assert.ok(
                    allow.Condition.ArnEquals["aws:SourceArn"].includes(drift),
                    `${qp.name} allows the drift rule`,
                );
                assert.ok(
                    deny.Condition.ArnNotEquals["aws:SourceArn"].includes(drift),
                    `${qp.name} does not deny the drift rule`,
                );
                assert.strictEqual(
                    allow.Condition.ArnEquals["aws:SourceArn"].length,
                    5,
                    "the four event rules and the drift rule",
                );
                const resource =
                    qp.name === "web-queue-policy"
                        ? `arn:aws:sqs:${REGION}:${ACCOUNT}:web-queue-x`
                        : `arn:aws:sqs:${REGION}:${ACCOUNT}:web-dlq-x`;
                assert.strictEqual(
                    evaluate(policy, "sqs:SendMessage", resource, {
                        principal: { service: "events.amazonaws.com" },
                        context: { "aws:SourceArn": drift },
                        identityAllows: false,
                    }),
                    true,
                    qp.name,
                );
            }
        });

        it("a spec change changes neither the rule nor its target (no extra run per deploy, nothing versioned)", async () => {
            const inputsOf = () => [mocks.one(RULE, "web-drift").inputs, mocks.one(TARGET, "web-drift-target").inputs];
            await build({ driftCorrectionSchedule: "rate(12 hours)" });
            const first = inputsOf();
            const push = mocks.one("aws:lambda/invocation:Invocation", "web-push").inputs.input;
            mocks = new Mocks();
            await pulumi.runtime.setMocks(mocks, "pka-fleet", "test", false);
            await build({ driftCorrectionSchedule: "rate(12 hours)", accessSpecHash: "b".repeat(64) });
            assert.notStrictEqual(
                mocks.one("aws:lambda/invocation:Invocation", "web-push").inputs.input,
                push,
                "the spec did change (the push says so)",
            );
            assert.deepStrictEqual(inputsOf(), first);
        });

        it("the schedule is checked by the Provisioner itself, naming the input, before any child", async () => {
            const refused: [string, RegExp][] = [
                ["every day", /neither rate\(\.\.\.\) nor cron\(\.\.\.\)/],
                ["rate(5 minutes)", /every 5 minutes, more often than every 30/],
                ["rate(29 minutes)", /every 29 minutes/],
                ["rate(1 days)", /singular for a value of 1/],
                ["rate(2 hour)", /plural for a value over 1/],
                ["rate(0 hours)", /positive integer/],
                ["rate(1 week)", /rate\(<positive integer> minute\|minutes\|hour\|hours\|day\|days\)/],
                ["cron(0 3 * * *)", /6 fields .* this one has 5/],
                ["cron(0 3 * * * *)", /exactly one of its day-of-month and day-of-week fields must be `\?`/],
                ["cron(0 3 ? * ? *)", /exactly one of its day-of-month and day-of-week/],
                ["cron(*/15 * * * ? *)", /minutes 0,15,30,45 are 15 minutes apart, less than 30/],
                ["cron(* * * * ? *)", /minutes 0,1,2,3,\.\.\. are 1 minute apart/],
                ["cron(10,50 * * * ? *)", /20 minutes apart/],
                ["cron(61 3 * * ? *)", /minutes field "61"/],
                ["cron(0 25 * * ? *)", /hours field "25"/],
                ["cron(0 3 * * ? *); rm -rf /", /neither rate/],
            ];
            for (const [i, [schedule, why]] of refused.entries()) {
                assert.throws(
                    () => new mod.Provisioner(`s${i}`, { ...baseArgs(), driftCorrectionSchedule: schedule }),
                    (e: Error) => {
                        assert.match(
                            e.message,
                            /^`driftCorrectionSchedule` must be an EventBridge schedule expression, `rate\(\.\.\.\)` or 6-field `cron\(\.\.\.\)` \(UTC\), at least 30 minutes apart/,
                            schedule,
                        );
                        assert.match(e.message, why, schedule);
                        assert.ok(e.message.endsWith(`got ${JSON.stringify(schedule)}`), e.message);
                        return true;
                    },
                );
            }
            await new Promise((r) => setTimeout(r, 50));
            assert.deepStrictEqual(mocks.created, [], "a refused schedule creates no child");
            for (const ok of [
                "rate(30 minutes)",
                "rate(1 hour)",
                "rate(2 hours)",
                "rate(1 day)",
                "rate(7 days)",
                "cron(0 3 * * ? *)",
                "cron(0 3 ? * * *)",
                "cron(0,30 * * * ? *)",
                "cron(15 */6 ? * MON-FRI *)",
                "cron(0 0 1 * ? 2026-2030)",
                "cron(0/30 8-18 ? * 2#1 *)",
            ]) {
                assert.strictEqual(mod.scheduleProblem(ok), undefined, ok);
            }
        });

        it("the drift rule's name is checked up front like every auto-named child", () => {
            assert.ok(
                mod.PROVISIONER_AUTONAMES.some(
                    (n) => n.suffix === "drift" && n.what === "EventBridge rule" && n.max === 64,
                ),
            );
            const fits = Math.min(
                ...mod.PROVISIONER_AUTONAMES.map((m) => m.max - 1 - m.suffix.length - mod.AUTONAME_SUFFIX_LENGTH),
            );
            assert.strictEqual(mod.provisionerNameProblem("p".repeat(fits)), undefined);
            assert.match(mod.provisionerNameProblem("p".repeat(fits + 1)) ?? "", /EventBridge rule would be named/);
            // The drift rule alone: 64 - "-drift" - "-<7 hex>" = 50 characters at most.
            assert.strictEqual("p".repeat(50).length + "-drift".length + mod.AUTONAME_SUFFIX_LENGTH, 64);
        });
    });

    describe("offboarding on destroy (revokeOnDestroy, default true)", () => {
        const INVOCATION = "aws:lambda/invocation:Invocation";
        const PARAMETER = "aws:ssm/parameter:Parameter";

        it("a CRUD Invocation with the fleet's constant offboarding input, on the Provisioner's function", async () => {
            await build({ fleetName: "web-fleet" });
            const off = mocks.one(INVOCATION, "web-offboard");
            assert.strictEqual(off.inputs.lifecycleScope, "CRUD");
            assert.strictEqual(off.inputs.functionName, "web-fn-x");
            assert.strictEqual(off.inputs.input, offboardInvocationInput("web-fleet"));
            assert.strictEqual(off.inputs.triggers, undefined, "nothing re-invokes it");
            const ev = JSON.parse(JSON.parse(off.inputs.input).Records[0].body);
            assert.deepStrictEqual([ev.detail.fleet, ev.detail.specHash], ["web-fleet", undefined]);
        });

        it("its input does not change with the spec (a spec change never invokes it)", async () => {
            await build();
            const first = mocks.one(INVOCATION, "web-offboard").inputs;
            const marker = mocks.one(PARAMETER, "web-deployed").inputs;
            mocks = new Mocks();
            await pulumi.runtime.setMocks(mocks, "pka-fleet", "test", false);
            await build({ accessSpecHash: "c".repeat(64) });
            assert.deepStrictEqual(mocks.one(INVOCATION, "web-offboard").inputs, first);
            assert.deepStrictEqual(mocks.one(PARAMETER, "web-deployed").inputs, marker);
        });

        it("the marker parameter is a sibling of the access path and depends on the Invocation; the Invocation on the function, its role policy and log group", async () => {
            const deps = recordDependencies();
            await build({ tags: { team: "ops" } });
            const marker = mocks.one(PARAMETER, "web-deployed");
            assert.deepStrictEqual(
                [marker.inputs.name, marker.inputs.type, marker.inputs.tier, marker.inputs.tags],
                ["/pka/web/access-deployed", "String", "Standard", { team: "ops" }],
            );
            assert.match(
                marker.inputs.insecureValue,
                /^pka-fleet web: the provisioner is deployed \(deleting this parameter arms the revocation on destroy; do not edit\)$/,
            );
            await waitUntil(() => deps.has(`${PARAMETER}::web-deployed`), 2000, 10);
            const markerDeps = deps.get(`${PARAMETER}::web-deployed`) ?? [];
            assert.ok(
                markerDeps.some((u) => u.endsWith(`$${INVOCATION}::web-offboard`)),
                `a destroy deletes the marker before the Invocation (marker depends on ${markerDeps.join(", ")})`,
            );
            const offDeps = deps.get(`${INVOCATION}::web-offboard`) ?? [];
            for (const [type, n] of [
                ["aws:lambda/function:Function", "web-fn"],
                ["aws:iam/rolePolicy:RolePolicy", "web-policy"],
                ["aws:cloudwatch/logGroup:LogGroup", "web-logs"],
            ]) {
                assert.ok(
                    offDeps.some((u) => u.endsWith(`$${type}::${n}`)),
                    `the Invocation's delete runs while ${n} exists (it depends on ${offDeps.join(", ")})`,
                );
            }
            // The function does not wait on the marker (the marker waits on the function's Invocation: no cycle).
            assert.ok(deps.has("aws:lambda/function:Function::web-fn"));
            assert.ok(
                !(deps.get("aws:lambda/function:Function::web-fn") ?? []).some((u) => u.endsWith("::web-deployed")),
            );
        });

        it("the Lambda gets the marker's name and may read only that parameter", async () => {
            await build({ accessParameterPath: "/teams/a/web/access", knownHostsPath: "/teams/a/web/hosts" });
            const env = mocks.one("aws:lambda/function:Function").inputs.environment.variables;
            assert.strictEqual(env.PKA_DEPLOYED_MARKER, "/teams/a/web/access-deployed");
            assert.strictEqual(mocks.one(PARAMETER).inputs.name, env.PKA_DEPLOYED_MARKER);
            const policy = JSON.parse(mocks.one("aws:iam/rolePolicy:RolePolicy").inputs.policy);
            const st = policy.Statement.filter((s: any) => [s.Action].flat().includes("ssm:GetParameter"));
            assert.deepStrictEqual(st, [
                {
                    Sid: "OffboardMarker",
                    Effect: "Allow",
                    Action: "ssm:GetParameter",
                    Resource: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/teams/a/web/access-deployed`,
                },
            ]);
            // The marker is outside every path the Lambda may write.
            const pin = policy.Statement.find((s: any) => s.Sid === "PinHostKeys").Resource;
            assert.ok(!st[0].Resource.startsWith(pin.replace(/\*$/, "")));
        });

        it("revokeOnDestroy false: no offboarding Invocation; the marker, its variable and GetParameter stay (turning it off deletes only the Invocation, whose delete then finds the marker and revokes nothing)", async () => {
            await build({ revokeOnDestroy: false });
            assert.deepStrictEqual(
                mocks.of(INVOCATION).map((c) => c.name),
                ["web-push"],
            );
            assert.deepStrictEqual(
                mocks.of(PARAMETER).map((c) => c.inputs.name),
                ["/pka/web/access-deployed"],
            );
            assert.strictEqual(
                mocks.one("aws:lambda/function:Function").inputs.environment.variables.PKA_DEPLOYED_MARKER,
                "/pka/web/access-deployed",
            );
            const sids = JSON.parse(mocks.one("aws:iam/rolePolicy:RolePolicy").inputs.policy).Statement.map(
                (s: any) => s.Sid,
            );
            assert.ok(sids.includes("OffboardMarker"), sids.join(", "));
        });

        it("refuses a knownHostsPath on the marker and a revokeOnDestroy that is not a boolean, before any child", async () => {
            for (const kh of ["/pka/web/access-deployed", "/pka/web/access-deployed/hosts"]) {
                assert.throws(
                    () => new mod.Provisioner(`m${kh.length}`, { ...baseArgs(), knownHostsPath: kh }),
                    /`knownHostsPath` .* overlaps the deployed marker parameter \/pka\/web\/access-deployed/,
                    kh,
                );
            }
            assert.throws(
                () => new mod.Provisioner("r", { ...baseArgs(), revokeOnDestroy: "yes" as never }),
                /`revokeOnDestroy` must be true or false; got "yes"/,
            );
            await new Promise((r) => setTimeout(r, 50));
            assert.deepStrictEqual(mocks.created, []);
            // The marker exists without offboarding too: the overlap is refused either way.
            assert.throws(
                () =>
                    new mod.Provisioner("off", {
                        ...baseArgs(),
                        knownHostsPath: "/pka/web/access-deployed",
                        revokeOnDestroy: false,
                    }),
                /overlaps the deployed marker parameter/,
            );
        });

        it("the marker check also holds when the paths are Outputs", async () => {
            const p = new mod.Provisioner("late", {
                ...baseArgs(),
                accessParameterPath: pulumi.output("/pka/web/access"),
                knownHostsPath: pulumi.output("/pka/web/access-deployed"),
            });
            const error = await new Promise<Error | undefined>((done) => {
                process.once("unhandledRejection", (e) => done(e as Error));
                resolve(p.functionArn).then(() => done(undefined));
                setTimeout(() => done(undefined), patience(3000));
            });
            assert.match(String(error?.message), /overlaps the deployed marker parameter/);
            assert.deepStrictEqual(mocks.of(PARAMETER), [], "no marker is written");
        });
    });

    describe("the AWS mocks refuse what AWS refuses for these resources", () => {
        const aws = () => new AwsMocks();
        const res = (type: string, inputs: Record<string, unknown>, name = "r") =>
            ({ type, name, inputs, custom: true }) as unknown as pulumi.runtime.MockResourceArgs;
        const queue = `arn:aws:sqs:${REGION}:${ACCOUNT}:q`;

        it("Invocation: lifecycleScope CREATE_ONLY or CRUD; JSON input, an object with CRUD", () => {
            const inv = (i: Record<string, unknown>) =>
                aws().newResource(res("aws:lambda/invocation:Invocation", { functionName: "f", input: "{}", ...i }));
            inv({});
            inv({ lifecycleScope: "CRUD", input: offboardInvocationInput("web") });
            inv({ lifecycleScope: "CREATE_ONLY", input: "[1]" });
            assert.throws(() => inv({ lifecycleScope: "ALWAYS" }), /lifecycleScope must be CREATE_ONLY or CRUD/);
            assert.throws(() => inv({ lifecycleScope: "crud" }), /lifecycleScope must be CREATE_ONLY or CRUD/);
            assert.throws(() => inv({ input: "not json" }), /input must be a JSON document/);
            assert.throws(() => inv({ lifecycleScope: "CRUD", input: "[1]" }), /must be a JSON object/);
            assert.throws(() => inv({ lifecycleScope: "CRUD", input: '{"tf":1}' }), /already has the key tf/);
            assert.throws(() => inv({ functionName: undefined }), /functionName is required/);
        });

        it("EventRule: exactly one of eventPattern and scheduleExpression; EventBridge's schedule syntax; scheduled rules on the default bus", () => {
            const rule = (i: Record<string, unknown>, name?: string) =>
                aws().newResource(res("aws:cloudwatch/eventRule:EventRule", i, name));
            rule({ eventPattern: "{}" });
            for (const ok of [
                "rate(1 minute)",
                "rate(5 minutes)",
                "rate(1 day)",
                "cron(0 3 * * ? *)",
                "cron(0/5 8-17 ? * MON-FRI *)",
            ])
                rule({ scheduleExpression: ok });
            assert.throws(() => rule({}), /exactly one of eventPattern and scheduleExpression/);
            assert.throws(
                () => rule({ eventPattern: "{}", scheduleExpression: "rate(1 day)" }),
                /exactly one of eventPattern and scheduleExpression/,
            );
            for (const bad of [
                "rate(1 days)",
                "rate(2 day)",
                "rate(0 minutes)",
                "rate(1 week)",
                "cron(0 3 * * *)",
                "cron(0 3 * * * *)",
                "daily",
            ]) {
                assert.throws(() => rule({ scheduleExpression: bad }), /ScheduleExpression is not valid/, bad);
            }
            assert.throws(
                () => rule({ scheduleExpression: "rate(1 day)", eventBusName: "custom" }),
                /only on the default event bus/,
            );
            assert.throws(() => rule({ eventPattern: "{" }), /not JSON/);
            assert.throws(
                () => rule({ eventPattern: "{}" }, "n".repeat(57)),
                /rule name must be 1-64 characters/,
                "an auto-name over 64",
            );
            rule({ eventPattern: "{}" }, "n".repeat(56));
        });

        it("EventTarget: an explicit id of 1-64 [.\\-_A-Za-z0-9], unique within its rule; JSON input; at most 5 targets", () => {
            const m = aws();
            const target = (i: Record<string, unknown>, name = "t") =>
                m.newResource(res("aws:cloudwatch/eventTarget:EventTarget", { rule: "r1", arn: queue, ...i }, name));
            target({ targetId: "pka-provisioner-queue" });
            target({ targetId: "pka-provisioner-queue", rule: "r2", input: '{"a":1}' });
            assert.throws(
                () => target({ targetId: "pka-provisioner-queue" }, "t2"),
                /already has a target with Id pka-provisioner-queue/,
            );
            assert.throws(() => target({ targetId: "x".repeat(65) }), /target Id must be 1-64/);
            assert.throws(() => target({ targetId: "a b" }), /target Id must be 1-64/);
            assert.throws(() => target({ targetId: "in", input: "{x" }), /input is not valid JSON/);
            assert.throws(
                () => target({ targetId: "both", input: "{}", inputPath: "$.detail" }),
                /only one of input, inputPath and inputTransformer/,
            );
            for (let i = 0; i < 4; i++) target({ targetId: `t${i}`, rule: "r3" });
            target({ targetId: "t4", rule: "r3" });
            assert.throws(() => target({ targetId: "t5", rule: "r3" }), /already has 5 targets/);
        });

        it("Parameter: SSM's name characters, no empty level, a tier SSM has", () => {
            const param = (name: string, more: Record<string, unknown> = {}) =>
                aws().newResource(
                    res("aws:ssm/parameter:Parameter", { name, type: "String", insecureValue: "v", ...more }),
                );
            param("/pka/web/access-deployed");
            for (const bad of [
                "/pka/web/access deployed",
                "/pka/web/äccess",
                "/pka//web",
                "/pka/web/",
                "pka/web",
                "/aws/x",
                "/ssm-x",
            ])
                assert.throws(() => param(bad), /AWS would reject/, bad);
            assert.throws(() => param("/pka/x", { tier: "Premium" }), /tier must be/);
            assert.throws(() => param("/pka/x", { description: "d".repeat(1025) }), /description longer than 1024/);
        });
    });
});
