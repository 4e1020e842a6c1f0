/**
 * PkaFleet under Pulumi mocks that reject what AWS would reject (test/support/awsMocks.ts).
 */
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import type * as FleetModule from "../components/PkaFleet";

import { AwsMocks, peek, recordDependencies, settle, watch } from "./support/awsMocks";
import { generateKey } from "../core/keygen";
import { offboardInvocationInput, parseQueuedEvent } from "../core/events";

const KEY_CAROL = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqES5zNG9al28zqQu3ZQwKMG8xswUKYWhqvGcMZATU7 carol@laptop";
const KEY_FALLBACK =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINblU2XohvJOn29KcmbMEX1tjfeAoKNrDvIzx2UHMJDj ops-fallback@example.com";
const KEY_EC256 = generateKey({ type: "ecdsa", curve: "nistp256", comment: "dave" }).publicKey;
const KEY_DSA =
    "ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4EddRIpUt9KnC7s5Of2EbdSPO9EAMMeP4C2USZpRV1AIlH7WT2NWPq/xfW6MPbLm1Vs14E7gB00b/JmYLdrmVClpJ+f6AR7ECLCT7up1/63xhv4O1fnxqimFQ8E+4P208UewwI1VBNaFpEy9nXzrith1yrv8iIDGZ3RSAHHAAAAFQCXYFCPFSMLzLKSuYKi64QL8Fgc9QAAAIEA9+GghdabPd7LvKtcNrhXuXmUr7v6OuqC+VdMCz0HgmdRWVeOutRZT+ZxBxCBgLRJFnEj6EwoFhO3zwkyjMim4TwWeotUfI0o4KOuHiuzpnWRbqN/C/ohNWLx+2J6ASQ7zKTxvqhRkImog9/hWuWfBpKLZl6Ae1UlZAFMO/7PSSoAAACAKEAwQpzyyJ1BuSz4bIdjcjGm6tP4d7vmtyn/7xrnDXPUhUvnbmYzRyl5ZmqD9M2eo8vxQhvJhN4Rar/7F6XYjGqbNT5fd1Sd3aBfq0WvSQEHk64JlbD5jE6+W2wqtEPQ1eVhMyrhT41BzcL7/mP7SdZdnb/4cBw2ZABSNNGA8gs= dsa";

/** The happy path: one change per test from here. */
function baseArgs(): FleetModule.PkaFleetArgs {
    return {
        fleetName: "web",
        targetTag: { key: "pka-fleet", value: "web" },
        fallbackPublicKey: KEY_FALLBACK,
        users: [
            { name: "svc_user", sudo: "nopasswd", service: true, generateKey: { keyType: "ed25519" } },
            {
                name: "alice",
                sudo: "nopasswd",
                generateKey: {
                    keyType: "ed25519",
                    passphrase: pulumi.secret("correct horse battery staple"),
                    ppk: true,
                },
            },
            { name: "carol", sudo: "none", publicKeys: [KEY_CAROL], fromCidrs: ["10.20.0.0/24"] },
            { name: "auditor" },
        ],
    };
}

describe("PkaFleet (pka-fleet:index:PkaFleet) under AWS mocks", function () {
    this.timeout(120000);
    let mocks: AwsMocks;
    let mod: typeof FleetModule;

    beforeEach(async () => {
        mocks = watch(new AwsMocks());
        await pulumi.runtime.setMocks(mocks, "pka-fleet", "test", false);
        mod = await import("../components/PkaFleet");
    });

    async function build(args: FleetModule.PkaFleetArgs, name = "web"): Promise<FleetModule.PkaFleet> {
        const fleet = new mod.PkaFleet(name, args);
        await peek(fleet.accessSpecHash);
        await peek(fleet.queueUrl);
        await settle(mocks);
        return fleet;
    }

    it("composes key pairs, chunked access parameters, the document and the provisioner", async () => {
        const fleet = await build(baseArgs());
        const inv = mocks.inventory();
        assert.strictEqual(
            mocks.created.filter((c) => c.type.startsWith("pulumi-nodejs:dynamic")).length,
            2,
            "one generated key per generateKey user",
        );
        assert.strictEqual(inv["aws:ssm/document:Document"], 1);
        assert.ok(inv["aws:ssm/parameter:Parameter"] >= 1);
        assert.strictEqual(inv["aws:ssm/association:Association"], undefined, "drift correction is off by default");
        const params = mocks.created.filter(
            (c) => c.type === "aws:ssm/parameter:Parameter" && c.inputs.name.startsWith("/pka/web/access/"),
        );
        assert.deepStrictEqual(
            params.map((p) => p.inputs.name),
            params.map((_, i) => `/pka/web/access/${String(i).padStart(4, "0")}`),
        );
        for (const p of params) {
            assert.strictEqual(p.inputs.type, "String");
            assert.strictEqual(p.inputs.tier, "Standard");
        }
        const { joinAccessSpec } = await import("../core/accessStore");
        const spec = JSON.parse(
            joinAccessSpec(params.map((p) => ({ name: p.inputs.name, value: p.inputs.insecureValue }))),
        );
        assert.deepStrictEqual(
            spec.users.map((u: any) => u.name),
            ["alice", "auditor", "carol", "svc_user"],
        );
        assert.deepStrictEqual(spec.users.find((u: any) => u.name === "auditor").keys, [KEY_FALLBACK]);
        assert.strictEqual(spec.users.find((u: any) => u.name === "carol").keyOptions, 'from="10.20.0.0/24"');
        const { accessSpecHash } = await import("../core/accessSpecJson");
        assert.strictEqual((await peek(fleet.accessSpecHash)).value, accessSpecHash(spec));
        assert.strictEqual((await peek(fleet.accessParameterPath)).value, "/pka/web/access");
        assert.strictEqual((await peek(fleet.knownHostsPath)).value, "/pka/web/known_hosts");
    });

    it("outputs fingerprints per user that match the keys in the spec", async () => {
        const fleet = await build(baseArgs());
        const fp = (await peek(fleet.fingerprints)).value;
        const { parsePublicKey } = await import("../core/keys");
        assert.deepStrictEqual(fp.carol, [parsePublicKey(KEY_CAROL).fingerprint]);
        assert.deepStrictEqual(fp.auditor, [parsePublicKey(KEY_FALLBACK).fingerprint]);
        assert.match(fp.svc_user[0], /^SHA256:[A-Za-z0-9+/]{43}$/);
    });

    it("keeps generated private keys secret, encrypted for a person, and offers PPK on request", async () => {
        const fleet = await build(baseArgs());
        const keys = await peek(fleet.privateKeys);
        const ppk = await peek(fleet.privateKeysPpk);
        assert.ok(keys.secret, "privateKeys must be secret");
        assert.ok(ppk.secret, "privateKeysPpk must be secret");
        assert.deepStrictEqual(Object.keys(keys.value).sort(), ["alice", "svc_user"]);
        const { parseKey } = await import("../core/keys");
        assert.ok(parseKey(keys.value.alice).encrypted, "alice's key is encrypted");
        assert.ok(
            parseKey(keys.value.alice, { passphrase: "correct horse battery staple" }).isPrivate,
            "and opens with her passphrase",
        );
        assert.throws(() => parseKey(keys.value.alice, { passphrase: "wrong" }));
        assert.ok(!parseKey(keys.value.svc_user).encrypted, "a service account's key has no passphrase");
        assert.deepStrictEqual(Object.keys(ppk.value), ["alice"]);
        assert.match(ppk.value.alice, /^PuTTY-User-Key-File-3: ssh-ed25519/);
        const plain = JSON.stringify(
            mocks.created.filter((c) => !c.type.startsWith("pulumi-nodejs:dynamic")).map((c) => c.inputs),
        );
        assert.ok(
            !plain.includes("PRIVATE KEY") && !plain.includes("correct horse"),
            "no private key or passphrase in any AWS resource",
        );
    });

    it("wires the provisioner to the document, the tag, the access path and the spec hash (push on change)", async () => {
        const fleet = await build(baseArgs());
        const hash = (await peek(fleet.accessSpecHash)).value;
        const lambda = mocks.created.find((c) => c.type === "aws:lambda/function:Function");
        assert.ok(lambda, "the provisioner's Lambda");
        const env = lambda!.inputs.environment.variables;
        assert.strictEqual(env.PKA_TARGET_TAG, "pka-fleet=web");
        assert.strictEqual(env.PKA_ACCESS_PARAMETER, "/pka/web/access");
        assert.strictEqual(env.PKA_DOCUMENT_NAME, (await peek(fleet.documentName)).value);
        assert.strictEqual(env.PKA_ACCESS_SPEC_SHA256, hash, "the deploy pins the hash of the spec it writes");
        assert.ok(
            JSON.stringify(mocks.created.map((c) => c.inputs)).includes(hash),
            "the spec hash reaches a child (push on change)",
        );
        assert.ok(!JSON.stringify(env).includes("PRIVATE KEY"));
    });

    it("takes every key rule a policy config has and hands them to the provisioner's Lambda", async () => {
        const keyRules = {
            allowedTypes: ["ed25519", "ecdsa"],
            minRsaBits: 4096,
            allowedCurves: ["nistp384"],
            ec2ImportRsaBits: 4096,
            requirePassphrase: false,
        };
        const args = baseArgs();
        await build({
            ...args,
            keyRules,
            // requirePassphrase false: a person's generated key may go without one
            users: [
                ...args.users.filter((u) => u.name !== "alice"),
                { name: "erin", generateKey: { keyType: "ecdsa", curve: "nistp384" } },
            ],
        });
        const lambda = mocks.created.find((c) => c.type === "aws:lambda/function:Function");
        assert.deepStrictEqual(JSON.parse(lambda!.inputs.environment.variables.PKA_KEY_RULES), keyRules);
    });

    it("a changed key changes the spec hash", async () => {
        const a = await build(baseArgs());
        const h1 = (await peek(a.accessSpecHash)).value;
        const args = baseArgs();
        args.users[2] = { ...args.users[2], publicKeys: [KEY_FALLBACK] };
        mocks = watch(new AwsMocks());
        await pulumi.runtime.setMocks(mocks, "pka-fleet", "test2", false);
        const b = await build(args, "web");
        assert.notStrictEqual((await peek(b.accessSpecHash)).value, h1);
    });

    /** Builds `args` under fresh mocks (a new deploy of the same program) and returns those mocks. */
    async function rebuild(args: FleetModule.PkaFleetArgs): Promise<{ fleet: FleetModule.PkaFleet; mocks: AwsMocks }> {
        mocks = watch(new AwsMocks());
        await pulumi.runtime.setMocks(mocks, "pka-fleet", "test", false);
        const fleet = await build(args);
        return { fleet, mocks };
    }
    const named = (m: AwsMocks, type: string, name: string) => {
        const c = m.created.filter((x) => x.type === type && x.name === name);
        assert.strictEqual(
            c.length,
            1,
            `exactly one ${type} ${name} (have ${m.created
                .filter((x) => x.type === type)
                .map((x) => x.name)
                .join(", ")})`,
        );
        return c[0];
    };
    const withOtherSpec = (a: FleetModule.PkaFleetArgs): FleetModule.PkaFleetArgs => ({
        ...a,
        users: a.users.map((u) => (u.name === "carol" ? { ...u, publicKeys: [KEY_EC256] } : u)),
    });

    it("drift correction: a scheduled EventBridge rule pushes the pinned spec to the queue; no State Manager association; a spec change changes neither", async () => {
        const args = { ...baseArgs(), driftCorrectionSchedule: "rate(1 day)" };
        const a = await rebuild(args);
        assert.strictEqual(a.mocks.errors.length, 0, a.mocks.errors.join("; "));
        assert.strictEqual(
            a.mocks.registered.filter((r) => r.startsWith("aws:ssm/association:Association::")).length,
            0,
            "no association anywhere",
        );
        const rule = named(a.mocks, "aws:cloudwatch/eventRule:EventRule", "web-provisioner-drift");
        assert.strictEqual(rule.inputs.scheduleExpression, "rate(1 day)");
        assert.strictEqual(rule.inputs.eventPattern, undefined);
        assert.strictEqual(rule.inputs.tags["pka-fleet:fleet"], "web");
        const target = named(a.mocks, "aws:cloudwatch/eventTarget:EventTarget", "web-provisioner-drift-target");
        assert.strictEqual(target.inputs.rule, "web-provisioner-drift");
        assert.strictEqual(target.inputs.targetId, "pka-provisioner-queue");
        const queue = named(a.mocks, "aws:sqs/queue:Queue", "web-provisioner-queue");
        assert.strictEqual(target.inputs.arn, `arn:aws:sqs:eu-west-1:123456789012:${queue.inputs.name ?? queue.name}`);
        const ev = JSON.parse(target.inputs.input);
        assert.strictEqual(ev.source, "pka-fleet");
        assert.strictEqual(ev.detail.reason, "drift-correction");
        assert.strictEqual(ev.detail.fleet, "web");
        assert.ok(!("specHash" in ev.detail), "no spec hash in the drift push");
        const parsed = parseQueuedEvent(target.inputs.input);
        assert.deepStrictEqual(
            [parsed.kind, parsed.kind === "push" && parsed.reason, parsed.kind === "push" && parsed.fleet],
            ["push", "drift-correction", "web"],
        );
        const queuePolicy = JSON.parse(
            named(a.mocks, "aws:sqs/queuePolicy:QueuePolicy", "web-provisioner-queue-policy").inputs.policy,
        );
        const ruleArn = "arn:aws:events:eu-west-1:123456789012:rule/web-provisioner-drift";
        assert.ok(
            queuePolicy.Statement[0].Condition.ArnEquals["aws:SourceArn"].includes(ruleArn),
            "the queue policy allows the drift rule",
        );
        assert.ok(
            queuePolicy.Statement[1].Condition.ArnNotEquals["aws:SourceArn"].includes(ruleArn),
            "and does not deny it",
        );
        const h1 = (await peek(a.fleet.accessSpecHash)).value;

        // The same program with another spec: the hash changes, the drift rule and its target do not.
        const b = await rebuild(withOtherSpec(args));
        assert.notStrictEqual((await peek(b.fleet.accessSpecHash)).value, h1, "the spec did change");
        assert.deepStrictEqual(
            named(b.mocks, "aws:cloudwatch/eventRule:EventRule", "web-provisioner-drift").inputs,
            rule.inputs,
        );
        assert.deepStrictEqual(
            named(b.mocks, "aws:cloudwatch/eventTarget:EventTarget", "web-provisioner-drift-target").inputs,
            target.inputs,
        );
    });

    it("drift correction is checked with EventBridge's syntax at PkaFleet too, naming the input", () => {
        for (const bad of ["rate(1 days)", "cron(0 3 * * *)", "cron(0 3 * * * *)", "cron(*/10 * * * ? *)"]) {
            assert.throws(
                () => new mod.PkaFleet("web", { ...baseArgs(), driftCorrectionSchedule: bad }),
                /`driftCorrectionSchedule` must be an EventBridge schedule expression, `rate\(\.\.\.\)` or 6-field `cron\(\.\.\.\)`/,
                bad,
            );
        }
    });

    it("offboarding on destroy: a CRUD Invocation with the fleet's constant input, and a marker parameter that depends on it", async () => {
        mocks = watch(new AwsMocks());
        await pulumi.runtime.setMocks(mocks, "pka-fleet", "test", false);
        const deps = recordDependencies();
        const a = await build(baseArgs());
        assert.strictEqual(mocks.errors.length, 0, mocks.errors.join("; "));
        const off = named(mocks, "aws:lambda/invocation:Invocation", "web-provisioner-offboard");
        assert.strictEqual(off.inputs.lifecycleScope, "CRUD");
        assert.strictEqual(off.inputs.input, offboardInvocationInput("web"));
        const fn = named(mocks, "aws:lambda/function:Function", "web-provisioner-fn");
        assert.strictEqual(off.inputs.functionName, fn.name);
        const marker = named(mocks, "aws:ssm/parameter:Parameter", "web-provisioner-deployed");
        assert.strictEqual(marker.inputs.name, "/pka/web/access-deployed");
        assert.strictEqual(marker.inputs.type, "String");
        assert.ok(
            !marker.inputs.name.startsWith("/pka/web/access/"),
            "never under the access path (the spec's chunks)",
        );
        assert.strictEqual(fn.inputs.environment.variables.PKA_DEPLOYED_MARKER, "/pka/web/access-deployed");
        const policy = JSON.parse(
            named(mocks, "aws:iam/rolePolicy:RolePolicy", "web-provisioner-policy").inputs.policy,
        );
        assert.deepStrictEqual(
            policy.Statement.find((s: any) => s.Sid === "OffboardMarker"),
            {
                Sid: "OffboardMarker",
                Effect: "Allow",
                Action: "ssm:GetParameter",
                Resource: "arn:aws:ssm:eu-west-1:123456789012:parameter/pka/web/access-deployed",
            },
        );
        const markerDeps = deps.get("aws:ssm/parameter:Parameter::web-provisioner-deployed") ?? [];
        assert.ok(
            markerDeps.some((u) => u.endsWith("$aws:lambda/invocation:Invocation::web-provisioner-offboard")),
            `the marker depends on the offboarding Invocation (has ${markerDeps.join(", ")})`,
        );
        const offDeps = deps.get("aws:lambda/invocation:Invocation::web-provisioner-offboard") ?? [];
        for (const n of [
            "aws:lambda/function:Function::web-provisioner-fn",
            "aws:iam/rolePolicy:RolePolicy::web-provisioner-policy",
            "aws:cloudwatch/logGroup:LogGroup::web-provisioner-logs",
        ]) {
            assert.ok(
                offDeps.some((u) => u.endsWith(`$${n}`)),
                `the Invocation depends on ${n} (has ${offDeps.join(", ")})`,
            );
        }
        const h1 = (await peek(a.accessSpecHash)).value;

        // Another spec: the offboarding Invocation and the marker are unchanged (no invocation on a spec change).
        const b = await rebuild(withOtherSpec(baseArgs()));
        assert.notStrictEqual((await peek(b.fleet.accessSpecHash)).value, h1);
        assert.deepStrictEqual(
            named(b.mocks, "aws:lambda/invocation:Invocation", "web-provisioner-offboard").inputs,
            off.inputs,
        );
        assert.deepStrictEqual(
            named(b.mocks, "aws:ssm/parameter:Parameter", "web-provisioner-deployed").inputs,
            marker.inputs,
        );
    });

    it("revokeOnDestroy: false: no offboarding Invocation; the marker stays, so turning it off never revokes", async () => {
        await build({ ...baseArgs(), revokeOnDestroy: false });
        assert.deepStrictEqual(
            mocks.created.filter((c) => c.type === "aws:lambda/invocation:Invocation").map((c) => c.name),
            ["web-provisioner-push"],
        );
        assert.deepStrictEqual(
            mocks.created
                .filter(
                    (c) => c.type === "aws:ssm/parameter:Parameter" && !c.inputs.name.startsWith("/pka/web/access/"),
                )
                .map((c) => c.inputs.name),
            ["/pka/web/access-deployed"],
        );
        const fn = mocks.created.find((c) => c.type === "aws:lambda/function:Function")!;
        assert.strictEqual(fn.inputs.environment.variables.PKA_DEPLOYED_MARKER, "/pka/web/access-deployed");
    });

    it("sshConfig includes the fleet's own host file; knownHostsCommand writes it with the fleet's user, keys and pins (test/ssh-config.test.ts resolves them with ssh -G)", async () => {
        const fleet = await build(baseArgs());
        const cfg = (await peek(fleet.sshConfig)).value;
        assert.deepStrictEqual(
            cfg.split("\n").filter((l) => l.trim() && !l.startsWith("#")),
            ["Match all", "Include ~/.ssh/config.pka-web"],
        );
        assert.ok(!/^Host /m.test(cfg), "no Host pattern that would take another fleet's hosts");
        const cmd = (await peek(fleet.knownHostsCommand)).value;
        assert.ok(cmd.includes("--path '/pka/web/known_hosts'"));
        assert.ok(cmd.includes("'Name=tag:pka-fleet,Values=web'"));
        assert.ok(cmd.includes('"$HOME/.ssh/known_hosts.pka-web"') && cmd.includes('"$HOME/.ssh/config.pka-web"'));
        // The service account is the User; keys the central server holds: generated ones (svc_user first), not carol's or the fallback.
        assert.match(cmd, /^(s=')? {4}User svc_user$/m);
        assert.deepStrictEqual(cmd.match(/^ {4}IdentityFile .*$/gm), [
            "    IdentityFile ~/.ssh/pka-web-svc_user",
            "    IdentityFile ~/.ssh/pka-web-alice",
        ]);
        assert.match(cmd, /^ {4}UserKnownHostsFile ~\/\.ssh\/known_hosts\.pka-web$/m);
        assert.match(cmd, /^ {4}StrictHostKeyChecking yes'; /m);
    });

    it("the default fleet name is the resource name and the stack: paths and tag differ per stack", async () => {
        const args = { ...baseArgs(), fleetName: undefined, targetTag: undefined };
        const fleet = await build(args);
        assert.strictEqual((await peek(fleet.accessParameterPath)).value, "/pka/web-test/access");
        const lambda = mocks.created.find((c) => c.type === "aws:lambda/function:Function");
        assert.strictEqual(lambda!.inputs.environment.variables.PKA_TARGET_TAG, "pka-fleet=web-test");
    });

    for (const [what, name, args, message] of [
        [
            "a default fleet name (resource name and stack) over 32 characters",
            "web-fleet-of-the-payments-team",
            { fleetName: undefined },
            /`fleetName` must match.*default: the resource name and the stack, "web-fleet-of-the-payments-team" and "test"; set `fleetName`/,
        ],
        [
            "a resource name whose children's AWS names would be too long",
            "w".repeat(33),
            {},
            /the resource name "w{33}" is 33 characters: its EventBridge rule would be named `w{33}-provisioner-association-<7 random hex>` \(65 characters\), over AWS's limit of 64; use a resource name of at most 32/,
        ],
    ] as const) {
        it(`refuses ${what} before creating any resource`, async () => {
            assert.throws(
                () => new mod.PkaFleet(name, { ...baseArgs(), ...args }),
                (e: Error) => message.test(e.message) || assert.fail(e.message),
            );
            await new Promise((r) => setTimeout(r, 50));
            assert.deepStrictEqual(mocks.registered, []);
        });
    }

    it("an explicit fleetName keeps its paths in every stack; a 32-character resource name fits every AWS name", async () => {
        const fleet = await build({ ...baseArgs(), fleetName: "web" }, "w".repeat(32));
        assert.strictEqual((await peek(fleet.accessParameterPath)).value, "/pka/web/access");
    });

    // Bad args: each fails before any resource, with a message naming the input.
    const bad: [string, (a: FleetModule.PkaFleetArgs) => FleetModule.PkaFleetArgs, RegExp][] = [
        ["no users", (a) => ({ ...a, users: [] }), /`users` must list at least one user/],
        ["a bad fleet name", (a) => ({ ...a, fleetName: "Web Fleet" }), /`fleetName`/],
        [
            "root as a user",
            (a) => ({ ...a, users: [{ name: "root", publicKeys: [KEY_CAROL] }] }),
            /`users\[0\]\.name` "root"/,
        ],
        [
            "a user name with shell characters",
            (a) => ({ ...a, users: [{ name: "a;rm -rf /", publicKeys: [KEY_CAROL] }] }),
            /`users\[0\]\.name`/,
        ],
        [
            "a duplicate user",
            (a) => ({
                ...a,
                users: [
                    { name: "bob", publicKeys: [KEY_CAROL] },
                    { name: "bob", publicKeys: [KEY_CAROL] },
                ],
            }),
            /already users\[0\]/,
        ],
        [
            "a bad sudo mode",
            (a) => ({ ...a, users: [{ name: "bob", sudo: "all" as any, publicKeys: [KEY_CAROL] }] }),
            /`users\[0\]\.sudo`/,
        ],
        [
            "a DSA key",
            (a) => ({ ...a, users: [{ name: "bob", publicKeys: [KEY_DSA] }] }),
            /`users\[0\]\.publicKeys\[0\]`/,
        ],
        [
            "junk as a key",
            (a) => ({ ...a, users: [{ name: "bob", publicKeys: ["not a key"] }] }),
            /`users\[0\]\.publicKeys\[0\]`/,
        ],
        [
            "an option pasted as a key",
            (a) => ({ ...a, users: [{ name: "bob", publicKeys: [`command="sh" ${KEY_CAROL}`] }] }),
            /`users\[0\]\.publicKeys\[0\]`/,
        ],
        [
            "a user without key and no fallback",
            (a) => ({ ...a, fallbackPublicKey: undefined, users: [{ name: "bob" }] }),
            /`users\[0\]` has no key: give it `publicKeys` or `generateKey`, or set `fallbackPublicKey`/,
        ],
        [
            "a person's generated key without passphrase",
            (a) => ({ ...a, users: [{ name: "bob", generateKey: { keyType: "ed25519" } }] }),
            /`users\[0\]\.generateKey\.passphrase` is required/,
        ],
        [
            "an RSA-2048 generated key",
            (a) => ({ ...a, users: [{ name: "bob", service: true, generateKey: { keyType: "rsa", bits: 2048 } }] }),
            /`users\[0\]\.generateKey\.bits`: rsa keys are generated with 3072 or 4096 bits/,
        ],
        [
            "ecdsa registered in EC2",
            (a) => ({
                ...a,
                users: [{ name: "bob", service: true, generateKey: { keyType: "ecdsa" }, ec2KeyName: "k" }],
            }),
            /`users\[0\]\.generateKey`/,
        ],
        [
            "ec2KeyName without generateKey",
            (a) => ({ ...a, users: [{ name: "bob", publicKeys: [KEY_CAROL], ec2KeyName: "k" }] }),
            /`users\[0\]\.ec2KeyName` needs/,
        ],
        [
            "a key option outside the allow-list",
            (a) => ({
                ...a,
                users: [{ name: "bob", publicKeys: [KEY_CAROL], keyOptions: 'environment="LD_PRELOAD=/x"' }],
            }),
            /`users\[0\]\.keyOptions`/,
        ],
        [
            "a newline in key options",
            (a) => ({
                ...a,
                users: [{ name: "bob", publicKeys: [KEY_CAROL], keyOptions: "restrict\nssh-ed25519 AAAA" }],
            }),
            /`users\[0\]\.keyOptions`/,
        ],
        [
            "a bad CIDR",
            (a) => ({
                ...a,
                users: [{ name: "bob", publicKeys: [KEY_CAROL], fromCidrs: ['10.0.0.0/24" ,command="sh'] }],
            }),
            /`users\[0\]\.fromCidrs`/,
        ],
        ["a bad fallback key", (a) => ({ ...a, fallbackPublicKey: KEY_DSA }), /`fallbackPublicKey`/],
        ["an unknown trigger", (a) => ({ ...a, triggers: ["cron" as any] }), /`triggers\[0\]`/],
        ["no trigger", (a) => ({ ...a, triggers: [] }), /`triggers`/],
        ["a bad schedule", (a) => ({ ...a, driftCorrectionSchedule: "every day" }), /`driftCorrectionSchedule`/],
        [
            "a schedule under 30 minutes",
            (a) => ({ ...a, driftCorrectionSchedule: "rate(5 minutes)" }),
            /`driftCorrectionSchedule` must be an EventBridge schedule expression.*every 5 minutes, more often than every 30/,
        ],
        [
            "a revokeOnDestroy that is not a boolean",
            (a) => ({ ...a, revokeOnDestroy: "no" as any }),
            /`revokeOnDestroy` must be true or false/,
        ],
        ["a retention CloudWatch lacks", (a) => ({ ...a, logRetentionDays: 10 }), /`logRetentionDays`/],
        ["an aws: tag key", (a) => ({ ...a, targetTag: { key: "aws:x", value: "y" } }), /`targetTag\.key`/],
        ["a tag value with =", (a) => ({ ...a, targetTag: { key: "k", value: "a=b" } }), /`targetTag\.value`/],
        [
            "a resource tag with the reserved aws: prefix",
            (a) => ({ ...a, tags: { team: "ops", "AWS:owner": "x" } }),
            /`tags` key "AWS:owner" uses the reserved aws: prefix/,
        ],
        ["a key rule too weak", (a) => ({ ...a, keyRules: { minRsaBits: 512 } }), /`keyRules\.minRsaBits`/],
        [
            "key rules that re-allow dsa",
            (a) => ({ ...a, keyRules: { allowedTypes: ["ed25519", "dsa"] } }),
            /`keyRules\.allowedTypes` lists "dsa", which is never allowed/,
        ],
        [
            "key rules that re-allow P-224",
            (a) => ({ ...a, keyRules: { allowedCurves: ["nistp224"] } }),
            /`keyRules\.allowedCurves` lists "nistp224", which is never allowed/,
        ],
        [
            "RSA below 2048 in the key rules",
            (a) => ({ ...a, keyRules: { minRsaBits: 1024 } }),
            /`keyRules\.minRsaBits` must be an integer between 2048 and 16384/,
        ],
        [
            "an EC2 import size under the floor",
            (a) => ({ ...a, keyRules: { ec2ImportRsaBits: 1024 } }),
            /`keyRules\.ec2ImportRsaBits` must be 2048 or 4096/,
        ],
        [
            "an unknown key rule",
            (a) => ({ ...a, keyRules: { minBits: 4096 } as any }),
            /`keyRules\.minBits` is not a key rule/,
        ],
        [
            "a public key on a curve the fleet's rules drop",
            (a) => ({
                ...a,
                keyRules: { allowedCurves: ["nistp384"] },
                users: [{ name: "dave", publicKeys: [KEY_EC256] }],
            }),
            /`users\[0\]\.publicKeys\[0\]`.*ecdsa curve nistp256 is not allowed/,
        ],
        [
            "a generated key on a curve the fleet's rules drop",
            (a) => ({
                ...a,
                keyRules: { allowedCurves: ["nistp384"] },
                users: [{ name: "bob", service: true, generateKey: { keyType: "ecdsa" } }],
            }),
            /`users\[0\]\.generateKey`.*ecdsa curve nistp256 is not allowed/,
        ],
        [
            "a generated key registered in EC2 at a size EC2 cannot import",
            (a) => ({
                ...a,
                keyRules: { ec2ImportRsaBits: 2048 },
                users: [{ name: "bob", service: true, generateKey: { keyType: "rsa", bits: 3072 }, ec2KeyName: "k" }],
            }),
            /`users\[0\]\.generateKey`.*rsa-3072 is not allowed for EC2 import.*`users\[0\]\.ec2KeyName` is set/,
        ],
    ];
    for (const [what, change, message] of bad) {
        it(`refuses ${what} before creating any resource`, async () => {
            assert.throws(
                () => new mod.PkaFleet("web", change(baseArgs())),
                (e: Error) => {
                    assert.match(e.message, message);
                    assert.ok(!e.message.includes("correct horse"), "no passphrase in errors");
                    return true;
                },
            );
            await new Promise((r) => setTimeout(r, 50));
            assert.deepStrictEqual(
                mocks.registered,
                [],
                "no resource (not even the component) may exist after a refusal",
            );
        });
    }
});
