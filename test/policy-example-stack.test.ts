/**
 * The policy pack on this repository's own example stack, end to end: the stack program (root
 * index.ts with Pulumi.example.yaml) runs under the AWS mocks in a fresh node, every resource it
 * registers is captured as the engine would describe it to an analyzer (the Stack with its
 * exports, the components with their registered outputs, the dynamic key resources, every AWS
 * resource; inputs as sent, outputs with additionalSecretOutputs applied; secrets in the engine's
 * wire encoding), and the pack's real gRPC Analyzer server judges them with Analyze (each
 * resource's inputs) and AnalyzeStack (every resource's outputs).
 *
 * The example stack must get no mandatory violation; the same stack with one deliberate mistake
 * must get one, from the right rule, so the zero-violation verdict is not vacuous.
 */
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as sshpk from "sshpk";
import { parse as parseYaml } from "yaml";
import { joinAccessSpec, splitAccessSpec } from "../core/accessStore";
import { DEFAULT_DEPRECATED_RUNTIMES, RUNTIME_CALENDAR } from "../core/runtimes";
import { generateKey } from "../core/keygen";
import { diffKey, GeneratedKeyState, updateKey } from "../components/keyPairProvider";
import { runtimeProblem } from "../core/provisionerPlan";
import { lambdaRuntimeSupported } from "../policy/lambda";
import { AnalyzerResourceSpec, CONTRACT_RULES, Diagnostic, PolicyServer, verdict } from "./support/policyHarness";
import { CapturedResource, exampleConfig, runStackProgram, StackRun } from "./support/stackRun";

const ROOT = path.resolve(__dirname, "..");
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

const RULES = CONTRACT_RULES;

function isSecret(v: unknown): v is { value: unknown } {
    return v !== null && typeof v === "object" && (v as Record<string, unknown>)[SECRET_SIG] === SECRET_VALUE;
}

function toSpec(r: CapturedResource): AnalyzerResourceSpec {
    return {
        type: r.type,
        name: r.name,
        urn: r.urn,
        parent: r.parent || undefined,
        inputs: r.inputs,
        properties: r.outputs,
        additionalSecretOutputs: r.additionalSecretOutputs,
    };
}

function table(diags: Diagnostic[]): string {
    const v = verdict(diags);
    const rows = RULES.map(
        (rule) =>
            `| ${rule.padEnd(28)} | ${(v[rule]?.level ?? "-").padEnd(9)} | ${String(v[rule]?.count ?? 0).padStart(10)} |`,
    );
    return [
        "| rule                         | level     | violations |",
        "| ---------------------------- | --------- | ---------: |",
        ...rows,
    ].join("\n");
}

const mandatory = (diags: Diagnostic[]) =>
    diags.filter((d) => d.enforcementLevel === "mandatory").map((d) => `${d.policyName}: ${d.message}`);

/** A deep copy of the captured stack with `edit` applied to the resource named `name` (inputs and outputs alike). */
function inject(
    resources: CapturedResource[],
    name: string,
    edit: (props: Record<string, unknown>) => void,
): AnalyzerResourceSpec[] {
    const copy: CapturedResource[] = JSON.parse(JSON.stringify(resources));
    const r = copy.find((x) => x.name === name);
    assert.ok(r, `the example stack has a resource named ${name}`);
    edit(r.inputs);
    edit(r.outputs);
    return copy.map(toSpec);
}

function rsa2048Line(comment: string): string {
    const k = sshpk.parseKey(
        crypto
            .generateKeyPairSync("rsa", { modulusLength: 2048 })
            .publicKey.export({ type: "spki", format: "pem" }) as string,
        "pem",
    );
    k.comment = comment;
    return k.toString("ssh");
}

describe("policy pack on the repository's own example stack (gRPC Analyze + AnalyzeStack)", function () {
    this.timeout(240_000);
    let server: PolicyServer;
    let run: StackRun;
    let resources: CapturedResource[];

    before(async function () {
        // The pack compiles (type-checked ts-node) while the stack program runs in its own node.
        const starting = PolicyServer.start();
        starting.catch(() => undefined);
        const project = parseYaml(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"));
        const { config, secretKeys } = exampleConfig();
        run = runStackProgram(project.main, config, secretKeys, { capture: true });
        server = await starting;
        assert.strictEqual(run.error, undefined, `the example stack runs under mocks: ${run.error}`);
        resources = run.resources ?? [];
    });
    after(async () => {
        await server?.stop();
    });

    it("captures every resource the example stack registers: the Stack, the components, the dynamic keys, every AWS resource", () => {
        const byType = (t: string) => resources.filter((r) => r.type === t);
        assert.strictEqual(byType("pulumi:pulumi:Stack").length, 1);
        for (const [type, n] of Object.entries(run.components)) assert.strictEqual(byType(type).length, n, type);
        for (const [type, n] of Object.entries(run.inventory)) assert.strictEqual(byType(type).length, n, type);
        assert.strictEqual(
            resources.length,
            1 +
                Object.values(run.components).reduce((a, b) => a + b, 0) +
                Object.values(run.inventory).reduce((a, b) => a + b, 0),
        );
        for (const r of resources)
            if (r.type !== "pulumi:pulumi:Stack")
                assert.ok(
                    resources.some((p) => p.urn === r.parent),
                    `${r.name} has its parent captured`,
                );

        // The private keys arrive as the engine sends them: secret values, never plain strings.
        const keys = resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic"));
        assert.deepStrictEqual(keys.map((k) => k.name).sort(), ["web-alice-key", "web-svc_user-key"]);
        for (const k of keys) {
            assert.ok(isSecret(k.outputs.privateKey), `${k.name}.privateKey is a secret output`);
            assert.match(String((k.outputs.privateKey as { value: unknown }).value), /BEGIN OPENSSH PRIVATE KEY/);
            assert.match(String(k.outputs.publicKey), /^ssh-ed25519 /);
        }
        const alice = keys.find((k) => k.name === "web-alice-key")!;
        assert.ok(isSecret(alice.inputs.passphrase) && isSecret(alice.outputs.privateKeyPpk));
        const stack = byType("pulumi:pulumi:Stack")[0];
        assert.ok(
            isSecret(stack.outputs.privateKeys) && isSecret(stack.outputs.privateKeysPpk),
            "the stack's private key exports are secret",
        );
        for (const c of byType("pka-fleet:index:SshKeyPair"))
            assert.ok(isSecret(c.outputs.privateKey), `${c.name}.privateKey (component output) is secret`);
    });

    it("has no mandatory violation (default config); advisory ones are printed", async () => {
        await server.configure({});
        const diags = await server.analyzeAll(resources.map(toSpec));
        const advisory = diags.filter((d) => d.enforcementLevel !== "mandatory");
        console.log(
            `\n      example stack verdict (${resources.length} resources, default config):\n${table(diags).replace(/^/gm, "      ")}`,
        );
        for (const d of advisory) console.log(`      advisory ${d.policyName}: ${d.message}`);
        assert.deepStrictEqual(mandatory(diags), []);
        for (const d of diags)
            assert.doesNotMatch(d.message, /BEGIN OPENSSH PRIVATE KEY|PuTTY-User-Key-File|correct horse/);
    });

    it("a service account named like no service account (service: true in the config) passes too", async () => {
        // The rule cannot guess from the name "central"; the generated key carries the stack's `service` flag.
        const { config, secretKeys } = exampleConfig();
        const users = JSON.parse(config["pka-fleet:users"]);
        assert.strictEqual(users[0].name, "svc_user");
        Object.assign(users[0], { name: "central", ec2KeyName: "pka-web-central" });
        config["pka-fleet:users"] = JSON.stringify(users);
        const renamed = runStackProgram("index.ts", config, secretKeys, { capture: true });
        assert.strictEqual(renamed.error, undefined);
        const gen = renamed.resources!.find((r) => r.name === "web-central-key")!;
        assert.strictEqual(gen.inputs.service, true);
        assert.strictEqual(
            renamed.resources!.find((r) => r.name === "web-alice-key")!.inputs.service,
            undefined,
            "a person's key is not marked",
        );
        await server.configure({});
        assert.deepStrictEqual(mandatory(await server.analyzeAll(renamed.resources!.map(toSpec))), []);
        // Without the flag the same key is refused, at the generator (Analyze) and the SshKeyPair (AnalyzeStack).
        const unflagged = renamed.resources!.map((r) => {
            const c: CapturedResource = JSON.parse(JSON.stringify(r));
            delete c.inputs.service;
            delete c.outputs.service;
            return toSpec(c);
        });
        const m = mandatory(await server.analyzeAll(unflagged));
        assert.strictEqual(m.length, 2, m.join("\n"));
        assert.ok(
            m.every((x) => x.startsWith("ssh-key-passphrase: ")),
            m.join("\n"),
        );
    });

    describe("with one deliberate mistake injected, the pack refuses it", () => {
        before(async () => {
            await server.configure({});
        });

        it("the provisioner's Lambda on nodejs18.x: lambda-runtime-supported", async () => {
            const diags = await server.analyzeAll(
                inject(resources, "web-provisioner-fn", (p) => (p.runtime = "nodejs18.x")),
            );
            const m = mandatory(diags);
            assert.ok(m.length >= 1 && m.every((x) => x.startsWith("lambda-runtime-supported: ")), m.join("\n"));
            assert.match(m[0], /aws\.lambda\.Function "web-provisioner-fn" uses the runtime nodejs18\.x/);
        });

        it("an RSA-2048 key for carol in the access spec parameter: ssh-key-algorithm", async () => {
            const diags = await server.analyzeAll(
                inject(resources, "web-access-0", (p) => {
                    const chunk = String(p.insecureValue);
                    const spec = JSON.parse(joinAccessSpec([{ name: String(p.name), value: chunk }]));
                    spec.users
                        .find((u: { name: string }) => u.name === "carol")
                        .keys.push(rsa2048Line("carol@old-laptop"));
                    const chunks = splitAccessSpec(JSON.stringify(spec), "/pka/web/access");
                    assert.strictEqual(chunks.length, 1);
                    p.insecureValue = chunks[0].value;
                }),
            );
            const m = mandatory(diags);
            assert.ok(m.length >= 1 && m.every((x) => x.startsWith("ssh-key-algorithm: ")), m.join("\n"));
            assert.ok(
                m.some((x) => /carol/.test(x) && /2048/.test(x)),
                m.join("\n"),
            );
        });

        it("svc_user's EC2 key pair swapped for an RSA-2048 key: ssh-key-algorithm", async () => {
            const line = rsa2048Line("svc_user@pka-web");
            const diags = await server.analyzeAll(inject(resources, "web-svc_user-ec2", (p) => (p.publicKey = line)));
            const m = mandatory(diags);
            assert.ok(m.length >= 1 && m.every((x) => x.startsWith("ssh-key-algorithm: ")), m.join("\n"));
            assert.ok(
                m.some((x) => /aws\.ec2\.KeyPair "web-svc_user-ec2"/.test(x)),
                m.join("\n"),
            );
        });

        it("the privateKeys stack output exported in plain text: ssh-private-key-secret", async () => {
            const diags = await server.analyzeAll(
                inject(resources, "pka-fleet-example", (p) => {
                    if (isSecret(p.privateKeys)) p.privateKeys = p.privateKeys.value;
                }),
            );
            const m = mandatory(diags);
            assert.ok(m.length >= 1 && m.every((x) => x.startsWith("ssh-private-key-secret: ")), m.join("\n"));
            assert.ok(
                m.some((x) => /privateKeys/.test(x)),
                m.join("\n"),
            );
            for (const d of diags) assert.doesNotMatch(d.message, /BEGIN OPENSSH PRIVATE KEY/);
        });
    });
});

describe("one rule, one place: what the Provisioner refuses and what the pack refuses", () => {
    it("a Node.js runtime is refused by Provisioner.runtimeProblem exactly when lambda-runtime-supported reports it", () => {
        const runtimes = [
            ...new Set([...Object.keys(RUNTIME_CALENDAR), ...DEFAULT_DEPRECATED_RUNTIMES, "nodejs26.x"]),
        ].filter((r) => /^nodejs\d+\.x$/.test(r));
        assert.ok(runtimes.includes("nodejs18.x") && runtimes.includes("nodejs22.x"));
        for (const when of ["2026-11-21", "2027-05-01", "2028-05-01"]) {
            for (const runtime of runtimes) {
                const reported: string[] = [];
                const args = {
                    type: "aws:lambda/function:Function",
                    name: "fn",
                    props: { runtime },
                    getConfig: () => ({ asOf: when }),
                } as any;
                (lambdaRuntimeSupported.validateResource as (a: unknown, r: (m: string) => void) => void)(args, (m) =>
                    reported.push(m),
                );
                assert.strictEqual(
                    runtimeProblem(runtime, new Date(when)) !== undefined,
                    reported.length === 1,
                    `${runtime} as of ${when}`,
                );
            }
        }
    });
});

describe("the generated key's service flag (what ssh-key-passphrase reads)", () => {
    const made = generateKey({ type: "ed25519", comment: "central@pka-web" });
    const state: GeneratedKeyState = {
        keyType: "ed25519",
        bits: 256,
        comment: "central@pka-web",
        ppk: false,
        publicKey: made.publicKey,
        fingerprint: "SHA256:x",
        privateKey: made.privateKey,
        createdAt: "2026-01-01T00:00:00.000Z",
    };
    const inputs = { keyType: "ed25519" as const, bits: 256, comment: "central@pka-web", ppk: false };

    it("adding it to an existing key is an update that keeps the key and its encoding, never a replacement", async () => {
        const d = diffKey(state, { ...inputs, service: true });
        assert.deepStrictEqual([d.changes, d.replaces], [true, []]);
        const { outs } = await updateKey(state, { ...inputs, service: true });
        assert.deepStrictEqual(outs, { ...state, service: true });
        assert.deepStrictEqual(diffKey(outs as GeneratedKeyState, { ...inputs, service: true }).changes, false);
    });
    it("absent and false are the same (keys made before the flag existed see no diff)", () => {
        assert.strictEqual(diffKey(state, inputs).changes, false);
        assert.strictEqual(diffKey(state, { ...inputs, service: false }).changes, false);
    });
});
