/**
 * The Provisioner component under Pulumi mocks: the children it creates, the IAM policy statement by
 * statement, the queue/DLQ/redrive/alarm wiring, the event source mapping, the runtime refusal,
 * and the push Invocation keyed on the spec hash. Unmocked resource types and calls fail.
 */
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import type * as ProvisionerModule from "../components/Provisioner";
import { associationPattern, commandResultPattern, EC2_RUNNING_PATTERN, pushPattern } from "../core/events";
import { defaultNodeRuntime } from "../core/runtimes";

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
    newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, any> } {
        const i = args.inputs ?? {};
        if (args.type.startsWith("pka-fleet:index:")) return { id: undefined, state: {} };
        this.created.push({ type: args.type, name: args.name, inputs: i });
        const n = i.name ?? `${args.name}-x`;
        switch (args.type) {
            case "aws:sqs/queue:Queue":
                return { id: n, state: { ...i, name: n, arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${n}`, url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${n}` } };
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
    one(type: string): Created {
        const c = this.of(type);
        assert.strictEqual(c.length, 1, `exactly one ${type}`);
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
    const arnMatch = (pattern: string, v: string) => new RegExp(`^${pattern.split("*").map((x) => x.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`).test(v);
    const principalMatches = (p: any) => p === "*" || (p.Service !== undefined && [p.Service].flat().includes(req.principal.service)) || (p.AWS !== undefined && [p.AWS].flat().includes(req.principal.arn));
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
    const applies = (s: any) => principalMatches(s.Principal) && [s.Action].flat().includes(action) && [s.Resource].flat().some((r: string) => arnMatch(r, resource)) && conditionHolds(s.Condition);
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
        mod = await import("../components/Provisioner");
    });

    async function build(args: Partial<ProvisionerModule.ProvisionerArgs> = {}, opts?: pulumi.ComponentResourceOptions) {
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
            "aws:sqs/queue:Queue": 2,
            "aws:cloudwatch/eventRule:EventRule": 4,
            "aws:cloudwatch/eventTarget:EventTarget": 4,
            "aws:sqs/queuePolicy:QueuePolicy": 2,
            "aws:cloudwatch/logGroup:LogGroup": 1,
            "aws:iam/role:Role": 1,
            "aws:iam/rolePolicy:RolePolicy": 1,
            "aws:lambda/function:Function": 1,
            "aws:lambda/eventSourceMapping:EventSourceMapping": 1,
            "aws:cloudwatch/metricAlarm:MetricAlarm": 1,
            "aws:lambda/invocation:Invocation": 1,
        });
        assert.strictEqual((await resolve(p.ruleNames)).length, 4);
        assert.match(await resolve(p.queueUrl), /^https:\/\/sqs\./);
        assert.match(await resolve(p.dlqArn), /^arn:aws:sqs:/);
        assert.deepStrictEqual(mocks.calls, [], "the document ARN gives region/account without provider calls");
    });

    it("IAM: SendCommand only on our document and on tagged instances; nothing '*' that can be narrowed", async () => {
        await build();
        const policy = JSON.parse(mocks.one("aws:iam/rolePolicy:RolePolicy").inputs.policy);
        const by = Object.fromEntries(policy.Statement.map((s: any) => [s.Sid, s]));
        const logGroupArn = mocks.one("aws:cloudwatch/logGroup:LogGroup");
        assert.deepStrictEqual(Object.keys(by).sort(), ["ConsumeQueue", "DeadLetter", "DescribeFleet", "Logs", "PinHostKeys", "ReadAccessSpec", "SendCommandDocument", "SendCommandTaggedInstances"]);
        assert.deepStrictEqual(by.Logs.Action, ["logs:CreateLogStream", "logs:PutLogEvents"]);
        assert.strictEqual(by.Logs.Resource, `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${logGroupArn.name}-x:*`);
        assert.deepStrictEqual([by.SendCommandDocument.Action, by.SendCommandDocument.Resource], ["ssm:SendCommand", DOC_ARN]);
        assert.deepStrictEqual(by.SendCommandTaggedInstances, {
            Sid: "SendCommandTaggedInstances",
            Effect: "Allow",
            Action: "ssm:SendCommand",
            Resource: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/*`,
            Condition: { StringEquals: { "ssm:resourceTag/pka-fleet": "web" } },
        });
        assert.deepStrictEqual([by.ReadAccessSpec.Action, by.ReadAccessSpec.Resource], ["ssm:GetParametersByPath", `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/pka/web/access`]);
        assert.deepStrictEqual([by.PinHostKeys.Action, by.PinHostKeys.Resource], ["ssm:PutParameter", `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/pka/web/known_hosts/*`]);
        assert.deepStrictEqual(by.DescribeFleet.Action, ["ssm:DescribeInstanceInformation", "ssm:GetCommandInvocation", "ec2:DescribeInstances"]);
        assert.match(by.ConsumeQueue.Resource, /^arn:aws:sqs:.*web-queue/);
        assert.deepStrictEqual(by.ConsumeQueue.Action, ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]);
        assert.deepStrictEqual([by.DeadLetter.Action, by.DeadLetter.Resource.includes("web-dlq")], ["sqs:SendMessage", true]);
        // The only "*" resource is the statement of actions without resource-level permissions.
        const stars = policy.Statement.filter((s: any) => JSON.stringify(s.Resource).includes("*") && !String(s.Resource).endsWith("/*") && !String(s.Resource).endsWith(":*"));
        assert.deepStrictEqual(stars.map((s: any) => s.Sid), ["DescribeFleet"]);
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
        const patterns = mocks.of("aws:cloudwatch/eventRule:EventRule").map((r) => JSON.parse(r.inputs.eventPattern)).sort((a, b) => key(a).localeCompare(key(b)));
        const expected = [EC2_RUNNING_PATTERN, associationPattern("pka-setup"), commandResultPattern("pka-setup"), pushPattern("web")].map((p) => JSON.parse(JSON.stringify(p)));
        assert.deepStrictEqual(patterns, expected.sort((a, b) => key(a).localeCompare(key(b))));
        for (const t of mocks.of("aws:cloudwatch/eventTarget:EventTarget")) {
            assert.match(t.inputs.arn, /web-queue/);
            assert.match(t.inputs.deadLetterConfig.arn, /web-dlq/);
            assert.strictEqual(t.inputs.retryPolicy.maximumRetryAttempts, 185);
        }
    });

    it("queue policies allow only EventBridge, only from our rules (aws:SourceArn)", async () => {
        await build();
        const ruleArns = mocks.of("aws:cloudwatch/eventRule:EventRule").map((r) => `arn:aws:events:${REGION}:${ACCOUNT}:rule/${r.name}-x`).sort();
        assert.strictEqual(ruleArns.length, 4);
        for (const qp of mocks.of("aws:sqs/queuePolicy:QueuePolicy")) {
            const [st] = JSON.parse(qp.inputs.policy).Statement;
            assert.deepStrictEqual(st.Principal, { Service: "events.amazonaws.com" });
            assert.strictEqual(st.Action, "sqs:SendMessage");
            assert.deepStrictEqual(Object.keys(st.Condition), ["ArnEquals"]);
            assert.deepStrictEqual([...st.Condition.ArnEquals["aws:SourceArn"]].sort(), ruleArns);
        }
    });

    it("queue policies: in the same account, an identity policy allowing sqs:SendMessage still cannot send (explicit Deny); our rules and, for the DLQ, the Lambda's role can", async () => {
        await build();
        const ruleArns = mocks.of("aws:cloudwatch/eventRule:EventRule").map((r) => `arn:aws:events:${REGION}:${ACCOUNT}:rule/${r.name}-x`);
        const roleArn = `arn:aws:iam::${ACCOUNT}:role/web-role-x`;
        const [queuePolicy, dlqPolicy] = ["web-queue-policy", "web-dlq-policy"].map((n) => JSON.parse(mocks.of("aws:sqs/queuePolicy:QueuePolicy").find((q) => q.name === n)!.inputs.policy));
        const q = `arn:aws:sqs:${REGION}:${ACCOUNT}:web-queue-x`;
        const d = `arn:aws:sqs:${REGION}:${ACCOUNT}:web-dlq-x`;
        const admin = { principal: { arn: `arn:aws:iam::${ACCOUNT}:role/Admin` }, context: { "aws:PrincipalArn": `arn:aws:iam::${ACCOUNT}:role/Admin` }, identityAllows: true };
        const cases: [string, any, string, Request, boolean][] = [
            ["our rule -> queue", queuePolicy, q, { principal: { service: "events.amazonaws.com" }, context: { "aws:SourceArn": ruleArns[0] }, identityAllows: false }, true],
            ["another rule (same account) -> queue", queuePolicy, q, { principal: { service: "events.amazonaws.com" }, context: { "aws:SourceArn": `arn:aws:events:${REGION}:${ACCOUNT}:rule/forged` }, identityAllows: false }, false],
            ["an admin with sqs:* -> queue", queuePolicy, q, admin, false],
            ["the Lambda's role -> queue", queuePolicy, q, { principal: { arn: roleArn }, context: { "aws:PrincipalArn": roleArn }, identityAllows: true }, false],
            ["the Lambda's role -> DLQ", dlqPolicy, d, { principal: { arn: roleArn }, context: { "aws:PrincipalArn": roleArn }, identityAllows: true }, true],
            ["our rule -> DLQ (undeliverable events)", dlqPolicy, d, { principal: { service: "events.amazonaws.com" }, context: { "aws:SourceArn": ruleArns[1] }, identityAllows: false }, true],
            ["an admin with sqs:* -> DLQ", dlqPolicy, d, admin, false],
        ];
        for (const [what, policy, resource, req, allowed] of cases) {
            assert.strictEqual(evaluate(policy, "sqs:SendMessage", resource, req), allowed, what);
        }
    });

    it("queue: redrive to the DLQ after maxReceiveCount, visibility >= 6x the Lambda timeout; alarm on DLQ depth", async () => {
        await build({ maxReceiveCount: 7, timeoutSeconds: 90, batchingWindowSeconds: 10 });
        const [dlq, queue] = mocks.of("aws:sqs/queue:Queue");
        assert.match(dlq.name, /-dlq$/);
        assert.deepStrictEqual(JSON.parse(queue.inputs.redrivePolicy), { deadLetterTargetArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:web-dlq-x`, maxReceiveCount: 7 });
        const fn = mocks.one("aws:lambda/function:Function");
        assert.strictEqual(fn.inputs.timeout, 90);
        assert.ok(queue.inputs.visibilityTimeoutSeconds >= 6 * 90, `visibility ${queue.inputs.visibilityTimeoutSeconds}`);
        assert.strictEqual(dlq.inputs.messageRetentionSeconds, 1209600);
        const alarm = mocks.one("aws:cloudwatch/metricAlarm:MetricAlarm");
        assert.deepStrictEqual(
            [alarm.inputs.namespace, alarm.inputs.metricName, alarm.inputs.dimensions, alarm.inputs.threshold, alarm.inputs.comparisonOperator],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", { QueueName: "web-dlq-x" }, 0, "GreaterThanThreshold"],
        );
    });

    it("Lambda: asset archive of the bundle, the newest supported Node.js runtime, env config without secrets; mapping with ReportBatchItemFailures", async () => {
        await build({ batchSize: 40, batchingWindowSeconds: 3, maximumConcurrency: 4, keyRules: { minRsaBits: 4096 } });
        const fn = mocks.one("aws:lambda/function:Function");
        assert.strictEqual(fn.inputs.runtime, defaultNodeRuntime());
        assert.strictEqual(fn.inputs.handler, "provisioner.handler");
        // An asset archive (not a CallbackFunction's serialized closure) of the package's bundle.
        assert.strictEqual(fn.inputs.code.__pulumiArchive, true);
        assert.ok(mod.provisionerCodePath().endsWith(require("path").join("bin", "lambda", "provisioner.js")), mod.provisionerCodePath());
        assert.deepStrictEqual(fn.inputs.environment.variables, {
            PKA_DOCUMENT_NAME: "pka-setup",
            PKA_TARGET_TAG: "pka-fleet=web",
            PKA_ACCESS_PARAMETER: "/pka/web/access",
            PKA_ACCESS_SPEC_SHA256: "a".repeat(64),
            PKA_KNOWN_HOSTS_PATH: "/pka/web/known_hosts",
            PKA_DEAD_LETTER_QUEUE_URL: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/web-dlq-x`,
            PKA_MAX_ATTEMPTS: "3",
            PKA_KEY_RULES: '{"minRsaBits":4096}',
        });
        assert.strictEqual(fn.inputs.loggingConfig.logGroup, "web-logs-x");
        const m = mocks.one("aws:lambda/eventSourceMapping:EventSourceMapping");
        assert.deepStrictEqual(
            [m.inputs.batchSize, m.inputs.maximumBatchingWindowInSeconds, m.inputs.functionResponseTypes, m.inputs.scalingConfig, m.inputs.eventSourceArn],
            [40, 3, ["ReportBatchItemFailures"], { maximumConcurrency: 4 }, `arn:aws:sqs:${REGION}:${ACCOUNT}:web-queue-x`],
        );
        assert.strictEqual(mocks.one("aws:cloudwatch/logGroup:LogGroup").inputs.retentionInDays, 30);
    });

    it("refuses deprecated or non-Node runtimes and invalid settings, naming the input", async () => {
        assert.throws(() => new mod.Provisioner("a", { ...baseArgs(), runtime: "nodejs18.x" }), /`runtime` nodejs18.x is deprecated/);
        assert.throws(() => new mod.Provisioner("b", { ...baseArgs(), runtime: "nodejs20.x" }), /`runtime` nodejs20.x is deprecated by AWS since 2026-04-30/);
        assert.throws(() => new mod.Provisioner("c", { ...baseArgs(), runtime: "python3.12" }), /Node.js runtime/);
        assert.throws(() => new mod.Provisioner("d", { ...baseArgs(), batchSize: 20, batchingWindowSeconds: 0 }), /batchingWindowSeconds/);
        assert.throws(() => new mod.Provisioner("e", { ...baseArgs(), logRetentionDays: 2 }), /logRetentionDays/);
        assert.throws(() => new mod.Provisioner("f", { ...baseArgs(), triggers: ["everything" as never] }), /`triggers`/);
        assert.strictEqual(mod.runtimeProblem("nodejs24.x"), undefined);
        assert.strictEqual(mod.runtimeProblem("nodejs22.x", new Date("2027-05-01")) !== undefined, true);
    });

    it("the default runtime moves forward with AWS's deprecation calendar instead of expiring", () => {
        assert.strictEqual(defaultNodeRuntime(new Date("2026-11-21")), "nodejs24.x");
        assert.strictEqual(defaultNodeRuntime(new Date("2025-01-01")), "nodejs24.x");
        assert.throws(() => defaultNodeRuntime(new Date("2028-05-01")), /set `runtime` explicitly or upgrade pka-fleet/);
        for (const d of ["2026-11-21", "2027-05-01", "2028-01-01"]) {
            assert.strictEqual(mod.runtimeProblem(defaultNodeRuntime(new Date(d)), new Date(d)), undefined, `default on ${d} is accepted`);
        }
    });

    it("push: an Invocation carrying an SQS-shaped push event keyed on the spec hash", async () => {
        await build();
        const inv = mocks.one("aws:lambda/invocation:Invocation");
        assert.deepStrictEqual(inv.inputs.triggers, { accessSpecHash: "a".repeat(64) });
        const input = JSON.parse(inv.inputs.input);
        assert.strictEqual(input.Records.length, 1);
        assert.strictEqual(input.Records[0].eventSource, "pka-fleet:deploy");
        const ev = JSON.parse(input.Records[0].body);
        assert.deepStrictEqual([ev.source, ev.detail.specHash, ev.detail.reason], ["pka-fleet", "a".repeat(64), "access-spec-changed"]);
        const first = inv.inputs.input;

        // Same hash: same input (no re-invocation). Another hash: another input and trigger.
        mocks = new Mocks();
        await pulumi.runtime.setMocks(mocks, "pka-fleet", "test", false);
        await build();
        assert.strictEqual(mocks.one("aws:lambda/invocation:Invocation").inputs.input, first);
        mocks = new Mocks();
        await pulumi.runtime.setMocks(mocks, "pka-fleet", "test", false);
        await build({ accessSpecHash: "b".repeat(64) });
        const other = mocks.one("aws:lambda/invocation:Invocation");
        assert.notStrictEqual(other.inputs.input, first);
        assert.deepStrictEqual(other.inputs.triggers, { accessSpecHash: "b".repeat(64) });
    });

    it("accessSpecHash is required and must be a 64-hex hash; knownHostsPath must not overlap the access path; both refused before any child", async () => {
        assert.throws(() => new mod.Provisioner("nohash", { ...baseArgs(), accessSpecHash: undefined as never }), /`accessSpecHash` is required: .*pinned in the Lambda/);
        assert.throws(() => new mod.Provisioner("badhash", { ...baseArgs(), accessSpecHash: "A".repeat(64) }), /`accessSpecHash` must be the 64 lower-case hex/);
        for (const kh of ["/pka/web/access", "/pka/web/access/known", "/pka/web", "/pka/web/access/"]) {
            assert.throws(() => new mod.Provisioner(`ov${kh.length}`, { ...baseArgs(), knownHostsPath: kh }), /`knownHostsPath` .* overlaps `accessParameterPath` \/pka\/web\/access/, kh);
        }
        await new Promise((r) => setTimeout(r, 50));
        assert.deepStrictEqual(mocks.created, [], "a refused input creates no child");
        // Disjoint siblings are fine, including a common prefix that is not a path boundary.
        await build({ knownHostsPath: "/pka/web/accessx" });
        assert.strictEqual(mocks.one("aws:lambda/function:Function").inputs.environment.variables.PKA_KNOWN_HOSTS_PATH, "/pka/web/accessx");
    });

    it("no push without the push trigger; triggers select the rules; the hash is still pinned", async () => {
        await build({ triggers: ["associationChange"] });
        assert.strictEqual(mocks.one("aws:lambda/function:Function").inputs.environment.variables.PKA_ACCESS_SPEC_SHA256, "a".repeat(64));
        assert.strictEqual(mocks.of("aws:lambda/invocation:Invocation").length, 0);
        const patterns = mocks.of("aws:cloudwatch/eventRule:EventRule").map((r) => JSON.parse(r.inputs.eventPattern)["detail-type"][0]);
        assert.deepStrictEqual(patterns, ["EC2 State Manager Instance Association State Change", "EC2 Command Invocation Status-change Notification"]);
    });

    it("keyRules: every key rule is checked like a policy config before any child, naming keyRules.<field>", async () => {
        const cases: [Record<string, unknown>, RegExp][] = [
            [{ allowedTypes: ["ed25519", "dsa"] }, /`keyRules.allowedTypes` lists "dsa", which is never allowed/],
            [{ minRsaBits: 1024 }, /`keyRules.minRsaBits` must be an integer between 2048 and 16384/],
            [{ allowedCurves: ["nistp224"] }, /`keyRules.allowedCurves` lists "nistp224", which is never allowed/],
            [{ ec2ImportRsaBits: 1024 }, /`keyRules.ec2ImportRsaBits` must be 2048 or 4096/],
            [{ requirePassphrase: "yes" }, /`keyRules.requirePassphrase` must be true or false/],
            [{ allowedCurves: [] }, /`keyRules.allowedCurves` must not be empty/],
            [{ minRsa: 4096 }, /`keyRules.minRsa` is not a key rule; the rules are allowedTypes, minRsaBits, allowedCurves, ec2ImportRsaBits, requirePassphrase/],
        ];
        for (const [i, [keyRules, re]] of cases.entries()) {
            assert.throws(() => new mod.Provisioner(`kr${i}`, { ...baseArgs(), keyRules: keyRules as never }), re, JSON.stringify(keyRules));
        }
        await new Promise((r) => setTimeout(r, 50));
        assert.deepStrictEqual(mocks.created, [], "a refused keyRules creates no child");
        // Every rule reaches the Lambda, normalized as the policy pack normalizes a config.
        await build({ keyRules: { allowedTypes: ["ED25519", "ecdsa"], allowedCurves: ["P-384"], minRsaBits: 4096, ec2ImportRsaBits: 4096, requirePassphrase: false } });
        const env = mocks.one("aws:lambda/function:Function").inputs.environment.variables;
        assert.deepStrictEqual(JSON.parse(env.PKA_KEY_RULES), { allowedTypes: ["ed25519", "ecdsa"], allowedCurves: ["nistp384"], minRsaBits: 4096, ec2ImportRsaBits: 4096, requirePassphrase: false });
    });

    it("push: waits on a resource the caller passes in dependsOn, also as an Output or a Promise", async () => {
        // The mocks' newResource does not see dependsOn: observe the registration requests themselves.
        const monitor = pulumi.runtime.getMonitor() as any;
        const deps = new Map<string, string[]>();
        const register = monitor.registerResource.bind(monitor);
        monitor.registerResource = (req: any, cb: any) => {
            deps.set(`${req.getType()}::${req.getName()}`, req.getDependenciesList());
            return register(req, cb);
        };
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
            for (let i = 0; i < 200 && !deps.has(key); i++) await new Promise((r) => setTimeout(r, 10));
            const pushDeps = deps.get(key);
            assert.ok(pushDeps, `the push Invocation of w-${form} was registered`);
            assert.ok(pushDeps.includes(urn), `dependsOn as ${form}: the push depends on ${urn} (has ${pushDeps.join(", ")})`);
            assert.ok(pushDeps.some((u) => u.endsWith(`::w-${form}-fn`)), `the push still waits on its function (has ${pushDeps.join(", ")})`);
            // The function (and so its new pin) waits on the caller too: the pin goes live after the spec it names is stored.
            const fnDeps = deps.get(`aws:lambda/function:Function::w-${form}-fn`) ?? [];
            assert.ok(fnDeps.includes(urn), `dependsOn as ${form}: the function depends on ${urn} (has ${fnDeps.join(", ")})`);
        }
    });

    it("without documentArn, region/account/partition come from the provider", async () => {
        await build({ documentArn: undefined });
        const policy = JSON.parse(mocks.one("aws:iam/rolePolicy:RolePolicy").inputs.policy);
        assert.strictEqual(policy.Statement.find((s: any) => s.Sid === "SendCommandDocument").Resource, DOC_ARN);
        assert.ok(mocks.calls.includes("aws:index/getCallerIdentity:getCallerIdentity"));
    });
});
