/**
 * Several fleets, and several stacks of one program, in one AWS account: every name PkaFleet,
 * the Provisioner and the SetupDocument give AWS, under the AWS mocks, for two fleets x two
 * stacks, must be distinct and within AWS's limits; each fleet's push rule takes only its own
 * pushes; the repo's stack program (index.ts) defaults the same way.
 *
 * Names Pulumi auto-names are modelled as the AWS provider makes them: `<resource name>-` and 7
 * random hex digits (pulumi-terraform-bridge AutoName: separator "-", 7 random characters).
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type * as FleetModule from "../components/PkaFleet";
import { matchesPattern } from "../core/eventPattern";
import { pushEvent } from "../core/events";
import { AwsMocks, Created, peek, settle, watch } from "./support/awsMocks";
import { patience } from "./support/patience";

/**
 * AWS's documented limits on the names the package creates:
 * - Lambda CreateFunction FunctionName: 1-64 characters (the name alone; 140 counts an ARN).
 * - IAM CreateRole RoleName: 1-64; IAM PutRolePolicy PolicyName: 1-128 (IAM User Guide, IAM quotas).
 * - EventBridge PutRule Name: 1-64 of [.\-_A-Za-z0-9]; PutTargets Target Id: 1-64 of [.\-_A-Za-z0-9], unique per rule.
 * - SQS CreateQueue QueueName: up to 80 characters of alphanumerics, - and _ (a FIFO queue's .fifo suffix counts).
 * - CloudWatch Logs CreateLogGroup logGroupName: 1-512; CloudWatch PutMetricAlarm AlarmName: 1-255.
 * - SSM CreateDocument Name: ^[a-zA-Z0-9_\-.]{3,128}$.
 * - SSM PutParameter Name: at most 1011 characters (2048 with the ARN prefix), at most 15 levels.
 * - EC2 ImportKeyPair KeyName: up to 255 ASCII characters.
 */
const LIMITS: Record<string, { field: string; max: number; pattern?: RegExp; autonamed: boolean; scope?: string }> = {
    "aws:lambda/function:Function": { field: "name", max: 64, pattern: /^[A-Za-z0-9_-]+$/, autonamed: true },
    "aws:iam/role:Role": { field: "name", max: 64, pattern: /^[\w+=,.@-]+$/, autonamed: true },
    "aws:iam/rolePolicy:RolePolicy": {
        field: "name",
        max: 128,
        pattern: /^[\w+=,.@-]+$/,
        autonamed: true,
        scope: "role",
    },
    "aws:cloudwatch/eventRule:EventRule": { field: "name", max: 64, pattern: /^[.\-_A-Za-z0-9]+$/, autonamed: true },
    "aws:cloudwatch/eventTarget:EventTarget": {
        field: "targetId",
        max: 64,
        pattern: /^[.\-_A-Za-z0-9]+$/,
        autonamed: true,
        scope: "rule",
    },
    "aws:sqs/queue:Queue": { field: "name", max: 80, pattern: /^[A-Za-z0-9_-]+$/, autonamed: true },
    "aws:cloudwatch/logGroup:LogGroup": { field: "name", max: 512, pattern: /^[.\-_/#A-Za-z0-9]+$/, autonamed: true },
    "aws:cloudwatch/metricAlarm:MetricAlarm": { field: "name", max: 255, autonamed: true },
    "aws:ssm/document:Document": { field: "name", max: 128, pattern: /^[a-zA-Z0-9_\-.]{3,128}$/, autonamed: true },
    "aws:ssm/parameter:Parameter": { field: "name", max: 1011, pattern: /^\/[a-zA-Z0-9_.\-/]+$/, autonamed: false },
    "aws:ec2/keyPair:KeyPair": { field: "keyName", max: 255, autonamed: true },
};

interface PhysicalName {
    stack: string;
    type: string;
    resource: string;
    name: string;
    /** For names unique only within a parent (a rule's targets, a role's inline policies). */
    scope?: string;
}

/** The name AWS gets for a created resource: the input, or the provider's auto-name. */
function physicalNames(stack: string, created: Created[]): PhysicalName[] {
    const out: PhysicalName[] = [];
    for (const c of created) {
        const limit = LIMITS[c.type];
        if (!limit) continue;
        const given = c.inputs[limit.field];
        if (given === undefined && !limit.autonamed) continue; // no name at all
        const name = given ?? `${c.name}-${randomBytes(4).toString("hex").slice(0, 7)}`;
        const scope = limit.scope === "rule" ? c.inputs.rule : limit.scope === "role" ? c.inputs.role : undefined;
        out.push({
            stack,
            type: c.type,
            resource: c.name,
            name: String(name),
            ...(scope ? { scope: `${stack}/${scope}` } : {}),
        });
    }
    return out;
}

const KEY_CAROL = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqES5zNG9al28zqQu3ZQwKMG8xswUKYWhqvGcMZATU7 carol@laptop";

function fleetArgs(ec2KeyName: string, more: Partial<FleetModule.PkaFleetArgs> = {}): FleetModule.PkaFleetArgs {
    return {
        users: [
            { name: "svc_user", sudo: "nopasswd", service: true, generateKey: { keyType: "ed25519" }, ec2KeyName },
            { name: "carol", publicKeys: [KEY_CAROL] },
        ],
        driftCorrectionSchedule: "rate(1 day)",
        ...more,
    };
}

/** One stack of a program with the given fleets, under fresh mocks. */
async function deployStack(
    stack: string,
    fleets: { name: string; args: FleetModule.PkaFleetArgs }[],
): Promise<{ mocks: AwsMocks; fleets: FleetModule.PkaFleet[] }> {
    const mocks = watch(new AwsMocks());
    await pulumi.runtime.setMocks(mocks, "pka-fleet", stack, false);
    const mod = await import("../components/PkaFleet");
    const built = fleets.map((f) => new mod.PkaFleet(f.name, f.args));
    for (const f of built) {
        await peek(f.accessSpecHash);
        await peek(f.queueUrl);
    }
    await settle(mocks);
    assert.deepStrictEqual(mocks.errors, [], "AWS would refuse a resource");
    return { mocks, fleets: built };
}

describe("several fleets and several stacks of one program in one account", function () {
    this.timeout(180_000);
    const stacks = ["dev", "prod"];
    const deployed: { stack: string; mocks: AwsMocks; fleets: FleetModule.PkaFleet[] }[] = [];

    before(async () => {
        for (const stack of stacks) {
            // ec2KeyName is an account-wide name the program chooses: it names the stack itself.
            const d = await deployStack(stack, [
                { name: "web", args: fleetArgs(`web-${stack}-svc`) },
                { name: "api", args: fleetArgs(`api-${stack}-svc`) },
            ]);
            deployed.push({ stack, ...d });
        }
    });

    const all = () => deployed.flatMap((d) => physicalNames(d.stack, d.mocks.created));

    it("the default fleet names differ per fleet and per stack, and so do paths, tags and central-server files", async () => {
        const names: string[] = [];
        for (const d of deployed) for (const f of d.fleets) names.push((await peek(f.accessParameterPath)).value);
        assert.deepStrictEqual(names, [
            "/pka/web-dev/access",
            "/pka/api-dev/access",
            "/pka/web-prod/access",
            "/pka/api-prod/access",
        ]);
        const tags = deployed.flatMap((d) =>
            d.mocks.created
                .filter((c) => c.type === "aws:lambda/function:Function")
                .map((c) => c.inputs.environment.variables.PKA_TARGET_TAG),
        );
        assert.deepStrictEqual(tags, [
            "pka-fleet=web-dev",
            "pka-fleet=api-dev",
            "pka-fleet=web-prod",
            "pka-fleet=api-prod",
        ]);
        const configs: string[] = [];
        for (const d of deployed)
            for (const f of d.fleets)
                configs.push(...(await peek(f.sshConfig)).value.split("\n").filter((l) => l.startsWith("Include ")));
        assert.strictEqual(new Set(configs).size, 4, configs.join("\n"));
    });

    it("every physical name is within AWS's limit and character set", () => {
        const names = all();
        const types = new Set(names.map((n) => n.type));
        for (const t of Object.keys(LIMITS))
            assert.ok(types.has(t), `no ${t} was created: the check would prove nothing for it`);
        for (const n of names) {
            const l = LIMITS[n.type];
            assert.ok(
                n.name.length <= l.max,
                `${n.type} ${n.resource}: "${n.name}" is ${n.name.length} characters, over ${l.max}`,
            );
            if (l.pattern) assert.match(n.name, l.pattern, `${n.type} ${n.resource}`);
        }
    });

    it("no two resources of a type share a name in the account (targets within their rule, inline policies within their role)", () => {
        const seen = new Map<string, PhysicalName>();
        for (const n of all()) {
            const key = `${n.type} ${n.scope ?? "account"} ${n.name}`;
            assert.ok(
                !seen.has(key),
                `${n.stack}/${n.resource} and ${seen.get(key)?.stack}/${seen.get(key)?.resource} are both ${n.type} "${n.name}"`,
            );
            seen.set(key, n);
        }
        // Every SSM parameter name (access chunks and deployed markers): distinct without any random part.
        const fixed = all().filter((n) => !LIMITS[n.type].autonamed);
        assert.strictEqual(new Set(fixed.map((n) => n.name)).size, fixed.length);
        assert.deepStrictEqual(
            fixed.filter((n) => n.name.endsWith("-deployed")).map((n) => n.name),
            [
                "/pka/web-dev/access-deployed",
                "/pka/api-dev/access-deployed",
                "/pka/web-prod/access-deployed",
                "/pka/api-prod/access-deployed",
            ],
        );
        // Drift correction is on: a schedule rule per fleet, no State Manager association.
        for (const d of deployed) {
            assert.strictEqual(
                d.mocks.registered.filter((r) => r.startsWith("aws:ssm/association:Association::")).length,
                0,
            );
            assert.deepStrictEqual(
                d.mocks.created
                    .filter(
                        (c) =>
                            c.type === "aws:cloudwatch/eventRule:EventRule" &&
                            c.inputs.scheduleExpression !== undefined,
                    )
                    .map((c) => c.name),
                ["web-provisioner-drift", "api-provisioner-drift"],
            );
        }
    });

    it("each fleet's push rule takes its own pushes and pushes for every fleet, never another fleet's", async () => {
        const rules = deployed.flatMap((d) =>
            d.mocks.created
                .filter((c) => c.type === "aws:cloudwatch/eventRule:EventRule" && /-provisioner-push$/.test(c.name))
                .map((c) => ({ stack: d.stack, name: c.name, pattern: JSON.parse(c.inputs.eventPattern) })),
        );
        assert.strictEqual(rules.length, 4);
        const fleetNames = ["web-dev", "api-dev", "web-prod", "api-prod"];
        for (const [i, target] of fleetNames.entries()) {
            const ev = pushEvent({ fleet: target, reason: "manual" });
            assert.deepStrictEqual(
                rules.map((r) => matchesPattern(r.pattern, ev)),
                fleetNames.map((_, j) => j === i),
                `a push for ${target}`,
            );
        }
        const everyFleet = pushEvent({ reason: "manual" });
        assert.ok(
            rules.every((r) => matchesPattern(r.pattern, everyFleet)),
            "a push naming no fleet is for every fleet",
        );
        // The deploy's own push and the offboarding (direct invocations) name their fleet too, and so does the drift push.
        const fleetsOf = (suffix: string) =>
            deployed
                .flatMap((d) =>
                    d.mocks.created.filter(
                        (c) => c.type === "aws:lambda/invocation:Invocation" && c.name.endsWith(suffix),
                    ),
                )
                .map((c) => JSON.parse(JSON.parse(c.inputs.input).Records[0].body).detail.fleet);
        assert.deepStrictEqual(fleetsOf("-provisioner-push"), fleetNames);
        assert.deepStrictEqual(fleetsOf("-provisioner-offboard"), fleetNames);
        const drift = deployed.flatMap((d) =>
            d.mocks.created.filter(
                (c) =>
                    c.type === "aws:cloudwatch/eventTarget:EventTarget" && c.name.endsWith("-provisioner-drift-target"),
            ),
        );
        assert.deepStrictEqual(
            drift.map((c) => JSON.parse(c.inputs.input).detail.fleet),
            fleetNames,
        );
    });

    it("the other rules of a fleet are its own too: results and association rules name its own document", () => {
        for (const d of deployed) {
            const docs = d.mocks.created.filter((c) => c.type === "aws:ssm/document:Document").map((c) => c.name);
            const results = d.mocks.created.filter(
                (c) => c.type === "aws:cloudwatch/eventRule:EventRule" && /-provisioner-results$/.test(c.name),
            );
            assert.strictEqual(results.length, 2);
            for (const r of results) {
                const fleet = r.name.replace(/-provisioner-results$/, "");
                assert.deepStrictEqual(JSON.parse(r.inputs.eventPattern).detail["document-name"].length, 1);
                assert.ok(docs.includes(`${fleet}-document-document`), `${r.name} belongs to ${fleet}`);
            }
        }
    });
});

describe("the longest names allowed", function () {
    this.timeout(120_000);

    it("a 32-character resource name and a 32-character fleetName: every AWS name fits, the tightest exactly", async () => {
        const resource = "r".repeat(32);
        const fleetName = "f".repeat(32);
        const { mocks } = await deployStack("a-very-long-stack-name-for-production", [
            { name: resource, args: fleetArgs("k".repeat(100), { fleetName }) },
        ]);
        const names = physicalNames("long", mocks.created);
        let tightest = { room: Infinity, what: "" };
        for (const n of names) {
            const l = LIMITS[n.type];
            assert.ok(n.name.length <= l.max, `${n.type}: "${n.name}" (${n.name.length}) over ${l.max}`);
            if (l.max - n.name.length < tightest.room)
                tightest = { room: l.max - n.name.length, what: `${n.type} ${n.name}` };
        }
        assert.strictEqual(
            tightest.room,
            0,
            `the tightest name has ${tightest.room} characters to spare: ${tightest.what}`,
        );
        console.log(`      tightest: ${tightest.what} (${tightest.what.split(" ")[1].length} characters, the limit)`);
        const longest = (t: string) => Math.max(...names.filter((n) => n.type === t).map((n) => n.name.length));
        console.log(
            `      longest: ${Object.keys(LIMITS)
                .map((t) => `${t.split(":").pop()} ${longest(t)}/${LIMITS[t].max}`)
                .join(", ")}`,
        );
    });

    it("one character more is refused before anything exists, naming the resource name; a default fleet name over 32 names fleetName", async () => {
        const mocks = watch(new AwsMocks());
        await pulumi.runtime.setMocks(mocks, "pka-fleet", "prod", false);
        const { PkaFleet } = await import("../components/PkaFleet");
        assert.throws(
            () => new PkaFleet("r".repeat(33), fleetArgs("k", { fleetName: "web" })),
            /resource name "r{33}" is 33 characters.*at most 32/,
        );
        assert.throws(
            () => new PkaFleet("web-of-the-payments-platform", fleetArgs("k")),
            /`fleetName` must match .*"web-of-the-payments-platform" and "prod"; set `fleetName`.*got "web-of-the-payments-platform-prod"/,
        );
        await new Promise((r) => setTimeout(r, 50));
        assert.deepStrictEqual(mocks.registered, []);
    });

    it("a stack name with other characters is normalized into the default fleet name", async () => {
        const { defaultFleetName, planFleet } = await import("../core/fleetPlan");
        assert.strictEqual(defaultFleetName("Web", "org/Prod_EU.1"), "web-org-prod-eu-1");
        assert.strictEqual(
            planFleet("Web", fleetArgs("k"), "org/Prod_EU.1").accessPath,
            "/pka/web-org-prod-eu-1/access",
        );
        assert.strictEqual(
            planFleet("web", { ...fleetArgs("k"), fleetName: "web" }, "prod").accessPath,
            "/pka/web/access",
            "an explicit fleetName keeps today's paths",
        );
    });
});

describe("the repo's stack program (index.ts) defaults per stack", function () {
    this.timeout(180_000);
    const ROOT = path.resolve(__dirname, "..");
    /** Runs index.ts under the AWS mocks in stack `stack` with `config` (no fleetName, no targetTagValue). */
    function run(stack: string): Record<string, string> {
        const child = `
            const pulumi = require("@pulumi/pulumi");
            const { AwsMocks, settle } = require(${JSON.stringify(path.join(ROOT, "test/support/awsMocks"))});
            (async () => {
                const mocks = new AwsMocks();
                await pulumi.runtime.setMocks(mocks, "pka-fleet", ${JSON.stringify(stack)}, false);
                const program = require(${JSON.stringify(path.join(ROOT, "index.ts"))});
                const get = (o) => new Promise((r) => pulumi.output(o).apply((v) => { r(v); return v; }));
                const out = { accessParameterPath: await get(program.accessParameterPath), knownHostsPath: await get(program.knownHostsPath) };
                await settle(mocks);
                const fn = mocks.created.find((c) => c.type === "aws:lambda/function:Function");
                out.tag = fn.inputs.environment.variables.PKA_TARGET_TAG;
                out.errors = mocks.errors.join(" | ");
                process.stdout.write("@@" + JSON.stringify(out) + "\\n");
                process.exit(0);
            })().catch((e) => { process.stdout.write("@@" + JSON.stringify({ error: String(e && e.stack || e) }) + "\\n"); process.exit(0); });`;
        const config = {
            "pka-fleet:users": JSON.stringify([
                { name: "svc_user", sudo: "nopasswd", service: true, generateKey: { keyType: "ed25519" } },
            ]),
        };
        const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", child], {
            cwd: ROOT,
            env: {
                ...process.env,
                TS_NODE_TRANSPILE_ONLY: "true",
                PULUMI_CONFIG: JSON.stringify(config),
                PULUMI_CONFIG_SECRET_KEYS: "[]",
            },
            encoding: "utf8",
            timeout: patience(120_000),
        });
        const line = (r.stdout ?? "").split("\n").find((l) => l.startsWith("@@"));
        assert.ok(line, `no result: ${r.stderr}`);
        return JSON.parse(line!.slice(2));
    }

    it("without fleetName in config, dev and prod get main-dev and main-prod: paths and tag", () => {
        const dev = run("dev");
        const prod = run("prod");
        assert.strictEqual(dev.error, undefined, dev.error);
        assert.deepStrictEqual(
            [dev.accessParameterPath, dev.knownHostsPath, dev.tag],
            ["/pka/main-dev/access", "/pka/main-dev/known_hosts", "pka-fleet=main-dev"],
        );
        assert.deepStrictEqual([prod.accessParameterPath, prod.tag], ["/pka/main-prod/access", "pka-fleet=main-prod"]);
        assert.strictEqual(dev.errors, "");
    });
});
