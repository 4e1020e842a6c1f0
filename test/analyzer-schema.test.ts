/**
 * Pulumi's TypeScript component analyzer (what `pulumi package add` runs through the plugin host to
 * give Python/Go/.NET/Java/YAML a schema) over this package, exactly as ComponentProvider.getSchema
 * calls it: Analyzer(<package dir>, "pka-fleet", package.json, component names) then generateSchema.
 * Every component must pass it: interface args, no unions but enums (`as const` objects), no callbacks,
 * no resource references outside @pulumi packages. And the schema the plugin host really serves
 * (run-plugin, GetSchema over gRPC) marks the secrets.
 */
import * as assert from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { AwsMocks, peek, settle, watch } from "./support/awsMocks";
import { pluginPort } from "./support/pluginPort";

const ROOT = path.resolve(__dirname, "..");
const COMPONENTS = ["SshKeyPair", "SetupDocument", "Provisioner", "PkaFleet"];

/** What each component must expose across languages (a subset check: more is fine). */
const EXPECTED: Record<string, { inputs: string[]; required?: string[]; outputs: string[] }> = {
    SshKeyPair: {
        inputs: ["generate", "onHost", "publicKey", "ec2KeyName"],
        outputs: ["publicKey", "fingerprint", "keyType", "bits", "createdAt", "privateKey", "privateKeyPpk", "ec2KeyName"],
    },
    SetupDocument: { inputs: ["documentName", "tags"], outputs: ["documentName", "documentArn"] },
    Provisioner: {
        inputs: ["documentName", "documentArn", "targetTag", "accessParameterPath", "knownHostsPath", "accessSpecHash", "triggers", "logRetentionDays", "keyRules", "tags"],
        required: ["documentName", "targetTag", "accessParameterPath", "accessSpecHash"],
        outputs: ["queueUrl", "dlqUrl", "functionName"],
    },
    PkaFleet: {
        inputs: ["fleetName", "targetTag", "users", "fallbackPublicKey", "triggers", "driftCorrectionSchedule", "logRetentionDays", "keyRules", "tags"],
        required: ["users"],
        outputs: ["documentName", "queueUrl", "dlqUrl", "accessParameterPath", "knownHostsPath", "accessSpecHash", "fingerprints", "privateKeys", "privateKeysPpk", "sshConfig", "knownHostsCommand"],
    },
};
/** Outputs holding key material: secret at run time; documented as such, and marked secret in the served schema. */
const SECRET_OUTPUTS: Record<string, string[]> = { SshKeyPair: ["privateKey", "privateKeyPpk"], PkaFleet: ["privateKeys", "privateKeysPpk"] };
/** Args fields holding secrets (types of the schema): marked secret in the served schema. */
const SECRET_FIELDS: Record<string, string[]> = { SshKeyPairGenerate: ["passphrase"], SshKeyPairConnection: ["privateKey"] };
const DYNAMIC = "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey";
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/**
 * The schema exactly as `pulumi package add` gets it: the Node language host's RunPlugin starts
 * @pulumi/pulumi/cmd/run-plugin (found from the package directory) with the package directory,
 * ts-node type-checks the package, run-plugin requires it, hosts its components and prints a port;
 * the engine then calls GetSchema.
 */
async function servedSchema(timeoutMs = 240000): Promise<any> {
    const pulumiDir = path.dirname(require.resolve("@pulumi/pulumi/package.json", { paths: [ROOT] }));
    const grpc = require(require.resolve("@grpc/grpc-js", { paths: [pulumiDir] }));
    const providerPb = require(path.join(pulumiDir, "proto/provider_pb"));
    const providerGrpc = require(path.join(pulumiDir, "proto/provider_grpc_pb"));
    const runner = require.resolve("@pulumi/pulumi/cmd/run-plugin", { paths: [ROOT] });
    const child = spawn(process.execPath, [runner, ROOT], {
        cwd: ROOT,
        env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "", PULUMI_NODEJS_TYPESCRIPT: "true" },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr!.on("data", (b) => (err += b.toString()));
    try {
        const port = await pluginPort(child, "run-plugin", timeoutMs, () => err);
        const client = new providerGrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
        const req = new providerPb.GetSchemaRequest();
        const text = await new Promise<string>((resolve, reject) =>
            client.getSchema(req, (e: Error | null, resp: any) => (e ? reject(new Error(`GetSchema: ${e.message}\n${err}`)) : resolve(resp.getSchema()))),
        );
        client.close();
        return JSON.parse(text);
    } finally {
        child.kill();
    }
}

describe("component analyzer schema (pulumi package add)", function () {
    this.timeout(300000);
    const { Analyzer } = require("@pulumi/pulumi/provider/experimental/analyzer");
    const { generateSchema } = require("@pulumi/pulumi/provider/experimental/schema");
    const packageJSON = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
    let analyzer: any;
    const results: Record<string, { error?: string; component?: any; types?: any }> = {};

    before(() => {
        const t0 = Date.now();
        // One TypeScript program for all (building it is the slow part: it loads @pulumi/aws's types).
        analyzer = new Analyzer(ROOT, "pka-fleet", packageJSON, new Set(COMPONENTS));
        console.log(`      analyzer program: ${analyzer.program.getSourceFiles().length} files in ${Date.now() - t0} ms`);
        for (const name of COMPONENTS) {
            analyzer.components = {};
            analyzer.typeDefinitions = {};
            analyzer.componentNames = new Set([name]);
            try {
                const r = analyzer.analyze();
                results[name] = { component: r.components[name], types: r.typeDefinitions };
            } catch (e) {
                results[name] = { error: (e as Error).message };
            }
        }
    });

    for (const name of COMPONENTS) {
        it(`${name}: accepted by the analyzer, with its inputs and outputs`, () => {
            const r = results[name];
            assert.strictEqual(r.error, undefined, `the analyzer refuses ${name}: ${r.error}`);
            const inputs = Object.keys(r.component.inputs);
            const outputs = Object.keys(r.component.outputs);
            for (const i of EXPECTED[name].inputs) assert.ok(inputs.includes(i), `${name} input ${i} (has ${inputs.join(", ")})`);
            for (const o of EXPECTED[name].outputs) assert.ok(outputs.includes(o), `${name} output ${o} (has ${outputs.join(", ")})`);
            for (const req of EXPECTED[name].required ?? []) assert.ok(!r.component.inputs[req].optional, `${name}.${req} is required`);
            for (const [k, p] of Object.entries<any>(r.component.inputs)) assert.ok(p.description, `${name} input ${k} has a doc comment (it becomes the schema's description)`);
            for (const o of SECRET_OUTPUTS[name] ?? []) assert.match(r.component.outputs[o].description ?? "", /^Secret\./, `${name}.${o} is documented as secret`);
        });
    }

    it("the package schema has every component under pka-fleet:index", () => {
        for (const name of COMPONENTS) assert.strictEqual(results[name].error, undefined, `${name}: ${results[name].error}`);
        analyzer.components = {};
        analyzer.typeDefinitions = {};
        analyzer.componentNames = new Set(COMPONENTS);
        const { components, typeDefinitions, dependencies } = analyzer.analyze();
        const schema = generateSchema("pka-fleet", packageJSON.version, packageJSON.description, components, typeDefinitions, dependencies);
        assert.deepStrictEqual(Object.keys(schema.resources).sort(), COMPONENTS.map((c) => `pka-fleet:index:${c}`).sort());
        for (const r of Object.values<any>(schema.resources)) assert.strictEqual(r.isComponent, true);
        // Enums come through as schema enums (what Python/Go get as constants).
        assert.deepStrictEqual(schema.types["pka-fleet:index:SudoMode"].enum.map((e: any) => e.value).sort(), ["none", "nopasswd"]);
        assert.deepStrictEqual(schema.resources["pka-fleet:index:PkaFleet"].requiredInputs, ["users"]);
        // PkaFleet and Provisioner share one key-rules type (every rule) and one trigger enum.
        const fleetIn = schema.resources["pka-fleet:index:PkaFleet"].inputProperties;
        const provIn = schema.resources["pka-fleet:index:Provisioner"].inputProperties;
        assert.strictEqual(fleetIn.keyRules.$ref, provIn.keyRules.$ref);
        assert.deepStrictEqual(Object.keys(schema.types[fleetIn.keyRules.$ref.replace("#/types/", "")].properties).sort(), ["allowedCurves", "allowedTypes", "ec2ImportRsaBits", "minRsaBits", "requirePassphrase"]);
        assert.strictEqual(fleetIn.triggers.items.$ref, provIn.triggers.items.$ref);
        fs.mkdirSync(path.join(ROOT, "bin"), { recursive: true });
        fs.writeFileSync(path.join(ROOT, "bin", "schema.json"), JSON.stringify(schema, null, 2));
    });

    it("the plugin host serves the schema with \"secret\": true on the secrets, and nothing else changed", async () => {
        const served = await servedSchema();
        const marked: string[] = [];
        for (const [kind, entries] of [["resources", served.resources], ["types", served.types]] as const) {
            for (const [token, def] of Object.entries<any>(entries)) {
                for (const [name, prop] of Object.entries<any>(def.properties ?? {})) if (prop.secret === true) marked.push(`${kind} ${token.split(":")[2]}.${name}`);
            }
        }
        assert.deepStrictEqual(marked.sort(), [
            ...Object.entries(SECRET_OUTPUTS).flatMap(([c, outs]) => outs.map((o) => `resources ${c}.${o}`)),
            ...Object.entries(SECRET_FIELDS).flatMap(([t, fields]) => fields.map((f) => `types ${t}.${f}`)),
        ].sort());
        // Every output documented as secret is marked; PkaFleet's users generate through the same type.
        for (const [token, def] of Object.entries<any>(served.resources)) {
            for (const [name, prop] of Object.entries<any>(def.properties)) if (/^Secret\./.test(prop.description ?? "")) assert.strictEqual(prop.secret, true, `${token}.${name}`);
        }
        assert.strictEqual(served.types["pka-fleet:index:FleetUser"].properties.generateKey.$ref, "#/types/pka-fleet:index:SshKeyPairGenerate");
        // The rest is the analyzer's schema, untouched.
        analyzer.components = {};
        analyzer.typeDefinitions = {};
        analyzer.componentNames = new Set(COMPONENTS);
        const { components, typeDefinitions, dependencies } = analyzer.analyze();
        const analyzed = JSON.parse(JSON.stringify(generateSchema("pka-fleet", packageJSON.version, packageJSON.description, components, typeDefinitions, dependencies)));
        for (const group of [served.resources, served.types]) for (const def of Object.values<any>(group)) for (const prop of Object.values<any>(def.properties ?? {})) delete prop.secret;
        assert.deepStrictEqual(served, analyzed);
    });

    it("secrets survive the component provider (what other languages receive)", async () => {
        assert.strictEqual(results.SshKeyPair.error, undefined, `SshKeyPair: ${results.SshKeyPair.error}`);
        // Secrecy travels with the values too: a plain string from YAML or Python is made secret by the
        // component before any child or state sees it, and construct returns the outputs still secret.
        const mocks = watch(new AwsMocks());
        await pulumi.runtime.setMocks(mocks, "pka-fleet", "provider", false);
        const { ComponentProvider } = require("@pulumi/pulumi/provider/experimental/provider");
        const lib = require(path.join(ROOT, "components/index.ts"));
        const provider = new ComponentProvider({ name: "pka-fleet", dirname: ROOT, components: COMPONENTS.map((c) => lib[c]) });
        provider.cachedSchema = "{}"; // the analysis above is the schema; skip a second program build
        provider.componentDefinitions = Object.fromEntries(COMPONENTS.map((c) => [c, results[c].component]));
        const res = await provider.construct("svc", "pka-fleet:index:SshKeyPair", { generate: { keyType: "ed25519", passphrase: "pw for the test" } }, {});
        const priv = await peek(res.state.privateKey as pulumi.Output<string>);
        assert.ok(priv.secret, "privateKey crosses the provider boundary as a secret");
        assert.match(priv.value, /BEGIN OPENSSH PRIVATE KEY/);
        assert.strictEqual((await peek(res.state.publicKey as pulumi.Output<string>)).secret, false);
        await settle(mocks);
        const key = mocks.created.find((c) => c.type === DYNAMIC && c.name === "svc-key");
        assert.ok(key, `the generated key was registered (${mocks.registered.join(", ")})`);
        assert.ok(key.inputs.passphrase && typeof key.inputs.passphrase === "object" && SECRET_SIG in key.inputs.passphrase, "the plain passphrase reaches the key resource (and state) as a secret");
        assert.strictEqual(key.inputs.passphrase.value, "pw for the test");
        // PkaFleet hands a user's generateKey to an SshKeyPair child: the same holds through it.
        const fleet = await provider.construct("xfleet", "pka-fleet:index:PkaFleet", { users: [{ name: "alice", sudo: "nopasswd", generateKey: { passphrase: "plain fleet pass" } }] }, {});
        const keys = await peek(fleet.state.privateKeys as pulumi.Output<Record<string, string>>);
        assert.ok(keys.secret, "privateKeys crosses the provider boundary as a secret");
        assert.match(keys.value.alice, /BEGIN OPENSSH PRIVATE KEY/);
        await settle(mocks);
        const fleetKey = mocks.created.find((c) => c.type === DYNAMIC && c.name === "xfleet-alice-key");
        assert.ok(fleetKey, `the fleet's key was registered (${mocks.registered.join(", ")})`);
        assert.ok(SECRET_SIG in (fleetKey.inputs.passphrase ?? {}), "the fleet user's plain passphrase reaches the key resource as a secret");
    });
});
