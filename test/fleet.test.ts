/**
 * PkaFleet under Pulumi mocks that reject what AWS would reject. Exports the mocks for the
 * stack-program test (test/stack.test.ts), which needs the same AWS.
 */
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import type * as FleetModule from "../components/PkaFleet";

// ---------------------------------------------------------------------------------------------
// AWS as mocks: every resource type the package creates, with AWS's own limits; anything else throws.

export interface Created { type: string; name: string; inputs: any; id: string }

const RETENTION = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
const DEPRECATED_RUNTIMES = ["nodejs", "nodejs4.3", "nodejs6.10", "nodejs8.10", "nodejs10.x", "nodejs12.x", "nodejs14.x", "nodejs16.x", "nodejs18.x", "python2.7", "python3.6", "python3.7", "python3.8"];

function reject(type: string, name: string, msg: string): never {
    throw new Error(`AWS would reject ${type} ${name}: ${msg}`);
}

function checkTags(type: string, name: string, tags: any): void {
    if (tags === undefined) return;
    const entries = Object.entries(tags ?? {});
    if (entries.length > 50) reject(type, name, "more than 50 tags");
    for (const [k, v] of entries) {
        if (k.length < 1 || k.length > 128) reject(type, name, `tag key ${JSON.stringify(k)} must be 1-128 characters`);
        if (typeof v !== "string" || v.length > 256) reject(type, name, `tag ${k} value must be a string of at most 256 characters`);
        if (k.toLowerCase().startsWith("aws:")) reject(type, name, `tag key ${k} uses the reserved aws: prefix`);
    }
}

/** An IAM policy document as IAM checks it: JSON, Version, Statement with Effect/Action/Resource (or Principal). */
export function checkPolicy(type: string, name: string, text: unknown, kind: "trust" | "identity", maxBytes: number): void {
    if (typeof text !== "string") reject(type, name, "policy must be a JSON string");
    if (Buffer.byteLength(text) > maxBytes) reject(type, name, `policy is ${Buffer.byteLength(text)} bytes, over ${maxBytes}`);
    let doc: any;
    try {
        doc = JSON.parse(text);
    } catch {
        return reject(type, name, "MalformedPolicyDocument: not JSON");
    }
    if (doc.Version !== "2012-10-17") reject(type, name, 'MalformedPolicyDocument: Version must be "2012-10-17"');
    const st = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
    if (st.length === 0 || st.some((s: any) => !s || typeof s !== "object")) reject(type, name, "MalformedPolicyDocument: Statement missing");
    for (const s of st) {
        if (s.Effect !== "Allow" && s.Effect !== "Deny") reject(type, name, "MalformedPolicyDocument: Effect must be Allow or Deny");
        if (s.Action === undefined && s.NotAction === undefined) reject(type, name, "MalformedPolicyDocument: statement without Action");
        if (kind === "identity" && s.Resource === undefined && s.NotResource === undefined) reject(type, name, "MalformedPolicyDocument: statement without Resource");
        if (kind === "trust" && s.Principal === undefined) reject(type, name, "MalformedPolicyDocument: trust statement without Principal");
        if (kind === "identity" && s.Principal !== undefined) reject(type, name, "MalformedPolicyDocument: identity policy with Principal");
    }
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
/** Mocks receive secret inputs as Pulumi's wire wrapper; the value inside is what AWS gets. */
export function unsecret(v: any): any {
    return v && typeof v === "object" && SECRET_SIG in v ? v.value : v;
}

export class AwsMocks implements pulumi.runtime.Mocks {
    /** Custom (cloud) resources. */
    readonly created: Created[] = [];
    /** Every registration, components included. */
    readonly registered: string[] = [];
    readonly calls: string[] = [];

    /** Refusals, so a test can say why an output never resolved. */
    readonly errors: string[] = [];

    newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, any> } {
        try {
            return this.newResourceChecked(args);
        } catch (e) {
            this.errors.push((e as Error).message);
            throw e;
        }
    }

    private newResourceChecked(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, any> } {
        const { type, name } = args;
        const i = args.inputs ?? {};
        this.registered.push(`${type}::${name}`);
        if (type.startsWith("pka-fleet:index:") || type === "pulumi:pulumi:Stack") return { id: undefined, state: {} };
        const id = `${name}-id`;
        const region = "eu-west-1";
        const account = "123456789012";
        let state: Record<string, any> = { ...i };
        checkTags(type, name, i.tags);
        switch (type) {
            case "pulumi-nodejs:dynamic:Resource":
            case "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey": {
                // SshKeyPair's generated key: run the real provider's create (real key material).
                // eslint-disable-next-line @typescript-eslint/no-var-requires
                const { createKey } = require("../components/keyPairProvider");
                const plain = Object.fromEntries(Object.entries(i).filter(([k]) => k !== "__provider").map(([k, v]) => [k, unsecret(v)]));
                return createKey(plain).then((r: any) => {
                    this.created.push({ type, name, inputs: i, id: r.id });
                    return { id: r.id, state: { ...i, ...r.outs } };
                }, (e: Error) => {
                    this.errors.push(`${type} ${name}: ${e.message}`);
                    throw e;
                }) as any;
            }
            case "aws:ssm/parameter:Parameter": {
                const pname = i.name ?? name;
                if (pname.includes("/") && !pname.startsWith("/")) reject(type, name, `ValidationException: a parameter name with / must be fully qualified (start with /): ${pname}`);
                if (pname.length > 1011) reject(type, name, "parameter name longer than 1011 characters");
                if (pname.split("/").length - 1 > 15) reject(type, name, "HierarchyLevelLimitExceededException: more than 15 levels");
                if (/^\/?(aws|ssm)/i.test(pname)) reject(type, name, "names starting with aws or ssm are reserved");
                if (!["String", "StringList", "SecureString"].includes(i.type)) reject(type, name, `type must be String, StringList or SecureString; got ${i.type}`);
                const max = i.tier === "Advanced" ? 8192 : 4096;
                const value = unsecret(i.value ?? i.insecureValue);
                if ((i.value === undefined) === (i.insecureValue === undefined)) reject(type, name, "exactly one of value and insecureValue");
                if (typeof value !== "string" || value.length === 0) reject(type, name, "value must be a non-empty string");
                if (Buffer.byteLength(value) > max) reject(type, name, `value is ${Buffer.byteLength(value)} bytes, over the ${i.tier ?? "Standard"} tier's ${max}`);
                state = { ...i, arn: `arn:aws:ssm:${region}:${account}:parameter${pname}`, name: pname, version: 1 };
                break;
            }
            case "aws:ssm/document:Document": {
                const content = i.content;
                if (typeof content !== "string" || Buffer.byteLength(content) > 64 * 1024) reject(type, name, "content missing or over 64 KB");
                if ((i.documentFormat ?? "JSON") === "JSON") {
                    let doc: any;
                    try {
                        doc = JSON.parse(content);
                    } catch {
                        reject(type, name, "InvalidDocumentContent: not JSON");
                    }
                    if (i.documentType === "Command" && doc.schemaVersion !== "2.2") reject(type, name, "a Command document here must be schemaVersion 2.2");
                }
                const dname = i.name ?? name;
                if (!/^[a-zA-Z0-9_.-]{3,128}$/.test(dname) || /^(aws|amazon|amzn)/i.test(dname)) reject(type, name, `invalid document name ${dname}`);
                state = { ...i, name: dname, arn: `arn:aws:ssm:${region}:${account}:document/${dname}`, hashType: "Sha256", status: "Active" };
                break;
            }
            case "aws:ssm/association:Association": {
                if (i.scheduleExpression !== undefined && !/^(rate\(.+\)|cron\(.+\))$/.test(i.scheduleExpression)) reject(type, name, "invalid schedule expression");
                for (const [k, v] of Object.entries(i.parameters ?? {})) if (typeof v !== "string") reject(type, name, `parameter ${k} must be a string`);
                if (!Array.isArray(i.targets) || i.targets.length === 0 || i.targets.length > 5) reject(type, name, "targets: 1-5 required");
                state = { ...i, associationId: `${name}-assoc` };
                break;
            }
            case "aws:iam/role:Role":
                checkPolicy(type, name, i.assumeRolePolicy, "trust", 2048);
                if (i.name !== undefined && i.name.length > 64) reject(type, name, "role name longer than 64 characters");
                state = { ...i, arn: `arn:aws:iam::${account}:role/${i.name ?? name}`, name: i.name ?? name };
                break;
            case "aws:iam/rolePolicy:RolePolicy":
                checkPolicy(type, name, i.policy, "identity", 10240);
                break;
            case "aws:iam/policy:Policy":
                checkPolicy(type, name, i.policy, "identity", 6144);
                state = { ...i, arn: `arn:aws:iam::${account}:policy/${i.name ?? name}` };
                break;
            case "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
                if (!/^arn:aws:iam::(aws|\d{12}):policy\//.test(i.policyArn ?? "")) reject(type, name, `policyArn is not a policy ARN: ${i.policyArn}`);
                break;
            case "aws:cloudwatch/logGroup:LogGroup":
                if (i.retentionInDays !== undefined && !RETENTION.includes(i.retentionInDays)) reject(type, name, `retentionInDays ${i.retentionInDays} is not a CloudWatch value`);
                state = { ...i, arn: `arn:aws:logs:${region}:${account}:log-group:${i.name ?? name}`, name: i.name ?? name };
                break;
            case "aws:sqs/queue:Queue":
                if (i.visibilityTimeoutSeconds !== undefined && (i.visibilityTimeoutSeconds < 0 || i.visibilityTimeoutSeconds > 43200)) reject(type, name, "visibilityTimeoutSeconds out of 0-43200");
                if (i.messageRetentionSeconds !== undefined && (i.messageRetentionSeconds < 60 || i.messageRetentionSeconds > 1209600)) reject(type, name, "messageRetentionSeconds out of 60-1209600");
                if (i.redrivePolicy !== undefined) {
                    const r = JSON.parse(i.redrivePolicy);
                    if (!r.deadLetterTargetArn || !(r.maxReceiveCount >= 1 && r.maxReceiveCount <= 1000)) reject(type, name, "redrivePolicy needs deadLetterTargetArn and maxReceiveCount 1-1000");
                }
                state = { ...i, arn: `arn:aws:sqs:${region}:${account}:${i.name ?? name}`, url: `https://sqs.${region}.amazonaws.com/${account}/${i.name ?? name}` };
                break;
            case "aws:sqs/queuePolicy:QueuePolicy":
                checkPolicy(type, name, i.policy, "trust", 20480);
                break;
            case "aws:lambda/function:Function":
                if (DEPRECATED_RUNTIMES.includes(i.runtime)) reject(type, name, `runtime ${i.runtime} is deprecated`);
                if (i.timeout !== undefined && (i.timeout < 1 || i.timeout > 900)) reject(type, name, "timeout out of 1-900");
                if (i.memorySize !== undefined && (i.memorySize < 128 || i.memorySize > 10240)) reject(type, name, "memorySize out of 128-10240");
                for (const [k, v] of Object.entries(i.environment?.variables ?? {})) if (typeof v !== "string") reject(type, name, `environment ${k} must be a string`);
                state = { ...i, arn: `arn:aws:lambda:${region}:${account}:function:${i.name ?? name}`, name: i.name ?? name };
                break;
            case "aws:lambda/eventSourceMapping:EventSourceMapping":
                if (i.batchSize !== undefined && (i.batchSize < 1 || i.batchSize > 10000)) reject(type, name, "batchSize out of range");
                state = { ...i, uuid: `${name}-uuid` };
                break;
            case "aws:lambda/permission:Permission":
            case "aws:lambda/invocation:Invocation":
            case "aws:cloudwatch/eventTarget:EventTarget":
            case "aws:cloudwatch/metricAlarm:MetricAlarm":
                state = { ...i, arn: `arn:aws:${type}:${name}`, result: "{}" };
                break;
            case "aws:cloudwatch/eventRule:EventRule":
                if (i.eventPattern !== undefined) {
                    try {
                        JSON.parse(i.eventPattern);
                    } catch {
                        reject(type, name, "InvalidEventPatternException: not JSON");
                    }
                }
                state = { ...i, arn: `arn:aws:events:${region}:${account}:rule/${i.name ?? name}`, name: i.name ?? name };
                break;
            case "aws:ec2/keyPair:KeyPair":
                if (!/^(ssh-ed25519|ssh-rsa) /.test(i.publicKey ?? "")) reject(type, name, "ImportKeyPair accepts only ed25519 and RSA keys");
                state = { ...i, keyName: i.keyName ?? name, fingerprint: "mock" };
                break;
            case "command:remote:Command":
                reject(type, name, "remote commands are not expected in these tests");
            default:
                throw new Error(`unmocked resource type ${type} (${name}): add it to the AWS mocks with AWS's limits`);
        }
        this.created.push({ type, name, inputs: i, id });
        return { id, state };
    }

    call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
        this.calls.push(args.token);
        switch (args.token) {
            case "aws:index/getCallerIdentity:getCallerIdentity":
                return { accountId: "123456789012", arn: "arn:aws:iam::123456789012:user/test", userId: "AID" };
            case "aws:index/getRegion:getRegion":
                return { name: "eu-west-1", region: "eu-west-1", id: "eu-west-1" };
            case "aws:index/getPartition:getPartition":
                return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
            default:
                throw new Error(`unmocked call ${args.token}`);
        }
    }

    count(type?: string): number {
        return type ? this.created.filter((c) => c.type === type).length : this.created.length;
    }

    inventory(): Record<string, number> {
        const out: Record<string, number> = {};
        for (const c of this.created) out[c.type] = (out[c.type] ?? 0) + 1;
        return Object.fromEntries(Object.entries(out).sort());
    }
}

let currentMocks: AwsMocks | undefined;
/** Makes `peek` report the mocks' refusals when an output never resolves. */
export function watch(m: AwsMocks): AwsMocks {
    currentMocks = m;
    return m;
}

/** Waits until the mocks stop receiving registrations (outputs resolve over several turns). */
export async function settle(m: AwsMocks, quietMs = 300): Promise<void> {
    let last = -1;
    while (m.registered.length !== last) {
        last = m.registered.length;
        await new Promise((r) => setTimeout(r, quietMs));
    }
}

/** Resolves an Output's value and secret-ness; a refused resource makes it fail with AWS's reason, not hang. */
export async function peek<T>(o: pulumi.Output<T>, ms = 20000): Promise<{ value: T; secret: boolean }> {
    let timer: NodeJS.Timeout | undefined;
    const value = await Promise.race([
        new Promise<T>((resolve) => o.apply((v) => { resolve(v); return v; })),
        new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`output did not resolve in ${ms} ms; mock refusals: ${currentMocks?.errors.join(" | ") || "none"}`)), ms);
        }),
    ]).finally(() => clearTimeout(timer));
    return { value, secret: await pulumi.isSecret(o) };
}

// ---------------------------------------------------------------------------------------------

const KEY_CAROL = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqES5zNG9al28zqQu3ZQwKMG8xswUKYWhqvGcMZATU7 carol@laptop";
const KEY_FALLBACK = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINblU2XohvJOn29KcmbMEX1tjfeAoKNrDvIzx2UHMJDj ops-fallback@example.com";
const KEY_DSA = "ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4EddRIpUt9KnC7s5Of2EbdSPO9EAMMeP4C2USZpRV1AIlH7WT2NWPq/xfW6MPbLm1Vs14E7gB00b/JmYLdrmVClpJ+f6AR7ECLCT7up1/63xhv4O1fnxqimFQ8E+4P208UewwI1VBNaFpEy9nXzrith1yrv8iIDGZ3RSAHHAAAAFQCXYFCPFSMLzLKSuYKi64QL8Fgc9QAAAIEA9+GghdabPd7LvKtcNrhXuXmUr7v6OuqC+VdMCz0HgmdRWVeOutRZT+ZxBxCBgLRJFnEj6EwoFhO3zwkyjMim4TwWeotUfI0o4KOuHiuzpnWRbqN/C/ohNWLx+2J6ASQ7zKTxvqhRkImog9/hWuWfBpKLZl6Ae1UlZAFMO/7PSSoAAACAKEAwQpzyyJ1BuSz4bIdjcjGm6tP4d7vmtyn/7xrnDXPUhUvnbmYzRyl5ZmqD9M2eo8vxQhvJhN4Rar/7F6XYjGqbNT5fd1Sd3aBfq0WvSQEHk64JlbD5jE6+W2wqtEPQ1eVhMyrhT41BzcL7/mP7SdZdnb/4cBw2ZABSNNGA8gs= dsa";

/** The happy path: one change per test from here. */
function baseArgs(): FleetModule.PkaFleetArgs {
    return {
        fleetName: "web",
        targetTag: { key: "pka-fleet", value: "web" },
        fallbackPublicKey: KEY_FALLBACK,
        users: [
            { name: "svc_user", sudo: "nopasswd", service: true, generateKey: { keyType: "ed25519" } },
            { name: "alice", sudo: "nopasswd", generateKey: { keyType: "ed25519", passphrase: pulumi.secret("correct horse battery staple"), ppk: true } },
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
        assert.strictEqual(mocks.created.filter((c) => c.type.startsWith("pulumi-nodejs:dynamic")).length, 2, "one generated key per generateKey user");
        assert.strictEqual(inv["aws:ssm/document:Document"], 1);
        assert.ok(inv["aws:ssm/parameter:Parameter"] >= 1);
        assert.strictEqual(inv["aws:ssm/association:Association"], undefined, "drift correction is off by default");
        const params = mocks.created.filter((c) => c.type === "aws:ssm/parameter:Parameter" && c.inputs.name.startsWith("/pka/web/access/"));
        assert.deepStrictEqual(params.map((p) => p.inputs.name), params.map((_, i) => `/pka/web/access/${String(i).padStart(4, "0")}`));
        for (const p of params) {
            assert.strictEqual(p.inputs.type, "String");
            assert.strictEqual(p.inputs.tier, "Standard");
        }
        const { joinAccessSpec } = await import("../core/accessStore");
        const spec = JSON.parse(joinAccessSpec(params.map((p) => ({ name: p.inputs.name, value: p.inputs.insecureValue }))));
        assert.deepStrictEqual(spec.users.map((u: any) => u.name), ["alice", "auditor", "carol", "svc_user"]);
        assert.deepStrictEqual(spec.users.find((u: any) => u.name === "auditor").keys, [KEY_FALLBACK]);
        assert.strictEqual(spec.users.find((u: any) => u.name === "carol").keyOptions, 'from="10.20.0.0/24"');
        const { accessSpecHash } = await import("../core/accessSpec");
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
        assert.ok(parseKey(keys.value.alice, { passphrase: "correct horse battery staple" }).isPrivate, "and opens with her passphrase");
        assert.throws(() => parseKey(keys.value.alice, { passphrase: "wrong" }));
        assert.ok(!parseKey(keys.value.svc_user).encrypted, "a service account's key has no passphrase");
        assert.deepStrictEqual(Object.keys(ppk.value), ["alice"]);
        assert.match(ppk.value.alice, /^PuTTY-User-Key-File-3: ssh-ed25519/);
        const plain = JSON.stringify(mocks.created.filter((c) => !c.type.startsWith("pulumi-nodejs:dynamic")).map((c) => c.inputs));
        assert.ok(!plain.includes("PRIVATE KEY") && !plain.includes("correct horse"), "no private key or passphrase in any AWS resource");
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
        assert.ok(JSON.stringify(mocks.created.map((c) => c.inputs)).includes(hash), "the spec hash reaches a child (push on change)");
        assert.ok(!JSON.stringify(env).includes("PRIVATE KEY"));
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

    it("drift correction: an association on the tag with the spec's document parameters", async () => {
        const fleet = await build({ ...baseArgs(), driftCorrectionSchedule: "rate(1 day)" });
        const assoc = mocks.created.filter((c) => c.type === "aws:ssm/association:Association");
        assert.strictEqual(assoc.length, 1);
        assert.strictEqual(assoc[0].inputs.scheduleExpression, "rate(1 day)");
        assert.deepStrictEqual(assoc[0].inputs.targets, [{ key: "tag:pka-fleet", values: ["web"] }]);
        assert.strictEqual(assoc[0].inputs.name, (await peek(fleet.documentName)).value);
        assert.ok(Object.keys(assoc[0].inputs.parameters).length >= 1);
    });

    it("sshConfig and knownHostsCommand name the fleet's files and paths", async () => {
        const fleet = await build(baseArgs());
        const cfg = (await peek(fleet.sshConfig)).value;
        assert.match(cfg, /^Host i-\* mi-\*$/m);
        assert.match(cfg, /^\s+User svc_user$/m);
        assert.match(cfg, /^\s+IdentityFile ~\/\.ssh\/pka-web-alice$/m);
        assert.match(cfg, /^\s+UserKnownHostsFile ~\/\.ssh\/known_hosts\.pka-web$/m);
        assert.match(cfg, /^\s+StrictHostKeyChecking yes$/m);
        const cmd = (await peek(fleet.knownHostsCommand)).value;
        assert.ok(cmd.includes("--path '/pka/web/known_hosts'"));
        assert.ok(cmd.includes("'Name=tag:pka-fleet,Values=web'"));
    });

    // Bad args: each fails before any resource, with a message naming the input.
    const bad: [string, (a: FleetModule.PkaFleetArgs) => FleetModule.PkaFleetArgs, RegExp][] = [
        ["no users", (a) => ({ ...a, users: [] }), /`users` must list at least one user/],
        ["a bad fleet name", (a) => ({ ...a, fleetName: "Web Fleet" }), /`fleetName`/],
        ["root as a user", (a) => ({ ...a, users: [{ name: "root", publicKeys: [KEY_CAROL] }] }), /`users\[0\]\.name` "root"/],
        ["a user name with shell characters", (a) => ({ ...a, users: [{ name: "a;rm -rf /", publicKeys: [KEY_CAROL] }] }), /`users\[0\]\.name`/],
        ["a duplicate user", (a) => ({ ...a, users: [{ name: "bob", publicKeys: [KEY_CAROL] }, { name: "bob", publicKeys: [KEY_CAROL] }] }), /already users\[0\]/],
        ["a bad sudo mode", (a) => ({ ...a, users: [{ name: "bob", sudo: "all" as any, publicKeys: [KEY_CAROL] }] }), /`users\[0\]\.sudo`/],
        ["a DSA key", (a) => ({ ...a, users: [{ name: "bob", publicKeys: [KEY_DSA] }] }), /`users\[0\]\.publicKeys\[0\]`/],
        ["junk as a key", (a) => ({ ...a, users: [{ name: "bob", publicKeys: ["not a key"] }] }), /`users\[0\]\.publicKeys\[0\]`/],
        ["an option pasted as a key", (a) => ({ ...a, users: [{ name: "bob", publicKeys: [`command="sh" ${KEY_CAROL}`] }] }), /`users\[0\]\.publicKeys\[0\]`/],
        ["a user without key and no fallback", (a) => ({ ...a, fallbackPublicKey: undefined, users: [{ name: "bob" }] }), /users\[0\]\.keys.*fallback/],
        ["a person's generated key without passphrase", (a) => ({ ...a, users: [{ name: "bob", generateKey: { keyType: "ed25519" } }] }), /`users\[0\]\.generateKey\.passphrase` is required/],
        ["an RSA-2048 generated key", (a) => ({ ...a, users: [{ name: "bob", service: true, generateKey: { keyType: "rsa", bits: 2048 } }] }), /`users\[0\]\.generateKey`/],
        ["ecdsa registered in EC2", (a) => ({ ...a, users: [{ name: "bob", service: true, generateKey: { keyType: "ecdsa" }, ec2KeyName: "k" }] }), /`users\[0\]\.generateKey`/],
        ["ec2KeyName without generateKey", (a) => ({ ...a, users: [{ name: "bob", publicKeys: [KEY_CAROL], ec2KeyName: "k" }] }), /`users\[0\]\.ec2KeyName` needs/],
        ["a key option outside the allow-list", (a) => ({ ...a, users: [{ name: "bob", publicKeys: [KEY_CAROL], keyOptions: "environment=\"LD_PRELOAD=/x\"" }] }), /`users\[0\]\.keyOptions`/],
        ["a newline in key options", (a) => ({ ...a, users: [{ name: "bob", publicKeys: [KEY_CAROL], keyOptions: "restrict\nssh-ed25519 AAAA" }] }), /`users\[0\]\.keyOptions`/],
        ["a bad CIDR", (a) => ({ ...a, users: [{ name: "bob", publicKeys: [KEY_CAROL], fromCidrs: ["10.0.0.0/24\" ,command=\"sh"] }] }), /`users\[0\]\.fromCidrs`/],
        ["a bad fallback key", (a) => ({ ...a, fallbackPublicKey: KEY_DSA }), /`fallbackPublicKey`/],
        ["an unknown trigger", (a) => ({ ...a, triggers: ["cron" as any] }), /`triggers\[0\]`/],
        ["no trigger", (a) => ({ ...a, triggers: [] }), /`triggers`/],
        ["a bad schedule", (a) => ({ ...a, driftCorrectionSchedule: "every day" }), /`driftCorrectionSchedule`/],
        ["a schedule under 30 minutes", (a) => ({ ...a, driftCorrectionSchedule: "rate(5 minutes)" }), /`driftCorrectionSchedule`/],
        ["a retention CloudWatch lacks", (a) => ({ ...a, logRetentionDays: 10 }), /`logRetentionDays`/],
        ["an aws: tag key", (a) => ({ ...a, targetTag: { key: "aws:x", value: "y" } }), /`targetTag\.key`/],
        ["a tag value with =", (a) => ({ ...a, targetTag: { key: "k", value: "a=b" } }), /`targetTag\.value`/],
        ["a key rule too weak", (a) => ({ ...a, keyRules: { minRsaBits: 512 } }), /`keyRules\.minRsaBits`/],
    ];
    for (const [what, change, message] of bad) {
        it(`refuses ${what} before creating any resource`, async () => {
            assert.throws(() => new mod.PkaFleet("web", change(baseArgs())), (e: Error) => {
                assert.match(e.message, message);
                assert.ok(!e.message.includes("correct horse"), "no passphrase in errors");
                return true;
            });
            await new Promise((r) => setTimeout(r, 50));
            assert.deepStrictEqual(mocks.registered, [], "no resource (not even the component) may exist after a refusal");
        });
    }
});
