/**
 * The package schema and the cross-language plugin (`pulumi package add`):
 *  - Pulumi's TypeScript component analyzer accepts every component (interface args, no unions but
 *    enums, no callbacks, doc comments on every input);
 *  - bin/schema.json is what scripts/build-schema.js builds from the sources now, with secrets and
 *    integers marked and names the SDK generators do not mangle;
 *  - the real run-plugin host, started on this package as the Node language host starts it, serves
 *    exactly bin/schema.json over gRPC from compiled JavaScript (the project's TypeScript and
 *    ts-node hidden, no .ts file loaded, the library not loaded before the first Construct);
 *  - a real gRPC Construct of SshKeyPair and PkaFleet against a fake engine returns the private
 *    keys as secrets.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { AwsMocks } from "./support/awsMocks";
import {
    construct,
    FakeEngine,
    getSchema,
    isWireSecret,
    PluginProcess,
    startFakeEngine,
    startPlugin,
} from "./support/fakeMonitor";

const ROOT = path.resolve(__dirname, "..");
const SCHEMA_FILE = path.join(ROOT, "bin", "schema.json");
const build = require(path.join(ROOT, "scripts", "build-schema.js"));
const COMPONENTS = ["PkaFleet", "Provisioner", "SetupDocument", "SshCertificateAuthority", "SshKeyPair"];
const TOKEN = (c: string) => `pka-fleet:index:${c}`;

/** What each component must expose across languages (a subset check: more is fine). */
const EXPECTED: Record<string, { inputs: string[]; required?: string[]; outputs: string[] }> = {
    SshKeyPair: {
        inputs: ["generate", "onHost", "publicKey", "ec2KeyName"],
        outputs: [
            "publicKey",
            "fingerprint",
            "keyType",
            "bits",
            "createdAt",
            "privateKey",
            "privateKeyPpk",
            "ec2KeyName",
        ],
    },
    SetupDocument: { inputs: ["documentName", "tags"], outputs: ["documentName", "documentArn"] },
    SshCertificateAuthority: {
        inputs: ["kind", "generate", "onHost", "publicKey", "kms", "maxValidity", "hostPatterns"],
        required: ["kind"],
        outputs: [
            "kind",
            "publicKey",
            "fingerprint",
            "keyType",
            "privateKey",
            "maxValidity",
            "maxValiditySeconds",
            "knownHostsLine",
            "kmsKeyArn",
            "kmsSigningAlgorithm",
        ],
    },
    Provisioner: {
        inputs: [
            "documentName",
            "documentArn",
            "targetTag",
            "accessParameterPath",
            "knownHostsPath",
            "accessSpecHash",
            "triggers",
            "logRetentionDays",
            "keyRules",
            "tags",
            "driftCorrectionSchedule",
            "revokeOnDestroy",
        ],
        required: ["documentName", "targetTag", "accessParameterPath", "accessSpecHash"],
        outputs: ["queueUrl", "dlqUrl", "functionName"],
    },
    PkaFleet: {
        inputs: [
            "fleetName",
            "targetTag",
            "users",
            "fallbackPublicKey",
            "triggers",
            "driftCorrectionSchedule",
            "revokeOnDestroy",
            "logRetentionDays",
            "keyRules",
            "tags",
        ],
        required: ["users"],
        outputs: [
            "documentName",
            "queueUrl",
            "dlqUrl",
            "accessParameterPath",
            "knownHostsPath",
            "accessSpecHash",
            "fingerprints",
            "privateKeys",
            "privateKeysPpk",
            "sshConfig",
            "knownHostsCommand",
        ],
    },
};
/** Outputs holding key material: secret at run time, documented "Secret.", marked secret in the schema. */
const SECRET_OUTPUTS: Record<string, string[]> = {
    SshKeyPair: ["privateKey", "privateKeyPpk"],
    PkaFleet: ["privateKeys", "privateKeysPpk"],
    SshCertificateAuthority: ["privateKey"],
};
/** Args fields holding secrets (types of the schema): marked secret. */
const SECRET_FIELDS: Record<string, string[]> = {
    SshKeyPairGenerate: ["passphrase"],
    SshKeyPairConnection: ["privateKey"],
    SshCertificateAuthorityGenerate: ["passphrase"],
};
const DYNAMIC = "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey";

function needBuild(): void {
    if (!fs.existsSync(SCHEMA_FILE) || !fs.existsSync(path.join(ROOT, "bin/components/plugin.js")))
        throw new Error(`${SCHEMA_FILE} or bin/components/plugin.js is missing: run \`npm run build\``);
}

/** Every type node of a schema's properties: `Owner.prop` (`[]` items, `{}` map values) -> node. */
function typeNodes(schema: any): { label: string; node: any }[] {
    const out: { label: string; node: any }[] = [];
    const walk = (label: string, node: any) => {
        if (!node || typeof node !== "object") return;
        out.push({ label, node });
        walk(`${label}[]`, node.items);
        if (typeof node.additionalProperties === "object") walk(`${label}{}`, node.additionalProperties);
    };
    for (const [group, defs] of [
        ["resources", schema.resources],
        ["types", schema.types],
    ] as const) {
        for (const [token, def] of Object.entries<any>(defs ?? {})) {
            for (const key of group === "resources" ? ["properties", "inputProperties"] : ["properties"]) {
                for (const [name, prop] of Object.entries<any>(def[key] ?? {}))
                    walk(`${token.split(":")[2]}.${name}`, prop);
            }
        }
    }
    return out;
}

describe("package schema and cross-language plugin (pulumi package add)", function () {
    this.timeout(300000);
    let analyzer: any;
    const results: Record<string, { error?: string; component?: any }> = {};
    let analyzed: any; // the analyzer's schema, nothing added

    before(() => {
        needBuild();
        const t0 = Date.now();
        // One TypeScript program for all (building it is the slow part: it loads @pulumi/aws's types).
        analyzer = build.createAnalyzer(ROOT, COMPONENTS);
        console.log(
            `      analyzer program: ${analyzer.program.getSourceFiles().length} files in ${Date.now() - t0} ms`,
        );
        for (const name of COMPONENTS) {
            analyzer.components = {};
            analyzer.typeDefinitions = {};
            analyzer.componentNames = new Set([name]);
            try {
                const r = analyzer.analyze();
                results[name] = { component: r.components[name] };
            } catch (e) {
                results[name] = { error: (e as Error).message };
            }
        }
        try {
            analyzed = build.analyzedSchema(analyzer, ROOT, COMPONENTS);
        } catch {
            // reported by the tests below
        }
    });

    for (const name of COMPONENTS) {
        it(`${name}: accepted by the analyzer, with its inputs and outputs`, () => {
            const r = results[name];
            assert.strictEqual(r.error, undefined, `the analyzer refuses ${name}: ${r.error}`);
            const inputs = Object.keys(r.component.inputs);
            const outputs = Object.keys(r.component.outputs);
            for (const i of EXPECTED[name].inputs)
                assert.ok(inputs.includes(i), `${name} input ${i} (has ${inputs.join(", ")})`);
            for (const o of EXPECTED[name].outputs)
                assert.ok(outputs.includes(o), `${name} output ${o} (has ${outputs.join(", ")})`);
            for (const req of EXPECTED[name].required ?? [])
                assert.ok(!r.component.inputs[req].optional, `${name}.${req} is required`);
            for (const [k, p] of Object.entries<any>(r.component.inputs))
                assert.ok(p.description, `${name} input ${k} has a doc comment (it becomes the schema's description)`);
            for (const o of SECRET_OUTPUTS[name] ?? [])
                assert.match(
                    r.component.outputs[o].description ?? "",
                    /^Secret\./,
                    `${name}.${o} is documented as secret`,
                );
        });
    }

    describe("bin/schema.json", () => {
        let schema: any;
        let text: string;
        before(() => {
            needBuild();
            text = fs.readFileSync(SCHEMA_FILE, "utf8");
            schema = JSON.parse(text);
        });

        it("is what scripts/build-schema.js builds from the sources now (else: run npm run build)", () => {
            assert.ok(analyzed, "the analyzer produced no schema (see the component tests above)");
            const fresh = build.buildSchema(ROOT, analyzer).text;
            assert.ok(
                fresh === text,
                `${path.relative(ROOT, SCHEMA_FILE)} is stale (the sources give another schema): run \`npm run build\``,
            );
            assert.strictEqual(
                schema.version,
                JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version,
            );
        });

        it("has every component under pka-fleet:index, enums, shared types", () => {
            assert.deepStrictEqual(Object.keys(schema.resources).sort(), COMPONENTS.map(TOKEN).sort());
            for (const r of Object.values<any>(schema.resources)) assert.strictEqual(r.isComponent, true);
            // Enums come through as schema enums (what Python/Go get as constants).
            assert.deepStrictEqual(schema.types["pka-fleet:index:SudoMode"].enum.map((e: any) => e.value).sort(), [
                "none",
                "nopasswd",
                "password",
            ]);
            // FleetUser's sudoCommands and groups are lists of strings in every language.
            const fleetUser = schema.types["pka-fleet:index:FleetUser"].properties;
            for (const p of ["sudoCommands", "groups"]) {
                assert.deepStrictEqual(fleetUser[p].type, "array", p);
                assert.deepStrictEqual(fleetUser[p].items, { type: "string", plain: true }, p);
            }
            assert.deepStrictEqual(schema.resources[TOKEN("PkaFleet")].requiredInputs, ["users"]);
            // PkaFleet and Provisioner share one key-rules type (every rule) and one trigger enum.
            const fleetIn = schema.resources[TOKEN("PkaFleet")].inputProperties;
            const provIn = schema.resources[TOKEN("Provisioner")].inputProperties;
            assert.strictEqual(fleetIn.keyRules.$ref, provIn.keyRules.$ref);
            assert.deepStrictEqual(
                Object.keys(schema.types[fleetIn.keyRules.$ref.replace("#/types/", "")].properties).sort(),
                ["allowedCurves", "allowedTypes", "ec2ImportRsaBits", "minRsaBits", "requirePassphrase"],
            );
            assert.strictEqual(fleetIn.triggers.items.$ref, provIn.triggers.items.$ref);
            assert.strictEqual(
                schema.types["pka-fleet:index:FleetUser"].properties.generateKey.$ref,
                "#/types/pka-fleet:index:SshKeyPairGenerate",
            );
        });

        it("integers are `integer`: every `number` the analyzer gives, and no `number` left", () => {
            assert.ok(analyzed, "the analyzer produced no schema");
            const numbersAnalyzed = typeNodes(analyzed)
                .filter((n) => n.node.type === "number")
                .map((n) => n.label)
                .sort();
            assert.ok(
                numbersAnalyzed.length > 0,
                "the analyzer gives `number` for TypeScript numbers (else this check proves nothing)",
            );
            const nodes = typeNodes(schema);
            assert.deepStrictEqual(
                nodes.filter((n) => n.node.type === "number").map((n) => n.label),
                [],
                "no `number` in bin/schema.json: classify them in scripts/build-schema.js",
            );
            assert.deepStrictEqual(
                nodes
                    .filter((n) => n.node.type === "integer")
                    .map((n) => n.label)
                    .sort(),
                numbersAnalyzed,
            );
            for (const l of [
                "SshKeyPair.bits",
                "SshKeyPairConnection.port",
                "PkaFleet.logRetentionDays",
                "Provisioner.memorySize",
                "FleetKeyRules.minRsaBits",
            ])
                assert.ok(numbersAnalyzed.includes(l), `${l} is an integer`);
        });

        it('marks the secrets "secret": true, and nothing else differs from the analyzer\'s schema', () => {
            const marked: string[] = [];
            for (const [kind, entries] of [
                ["resources", schema.resources],
                ["types", schema.types],
            ] as const) {
                for (const [token, def] of Object.entries<any>(entries)) {
                    for (const [name, prop] of Object.entries<any>({ ...def.inputProperties, ...def.properties }))
                        if (prop.secret === true) marked.push(`${kind} ${token.split(":")[2]}.${name}`);
                }
            }
            assert.deepStrictEqual(
                marked.sort(),
                [
                    ...Object.entries(SECRET_OUTPUTS).flatMap(([c, outs]) => outs.map((o) => `resources ${c}.${o}`)),
                    ...Object.entries(SECRET_FIELDS).flatMap(([t, fields]) => fields.map((f) => `types ${t}.${f}`)),
                ].sort(),
            );
            // Every property documented "Secret." is marked.
            for (const { label, node } of typeNodes(schema))
                if (/^Secret\./.test(node.description ?? ""))
                    assert.strictEqual(node.secret, true, `${label} is documented "Secret."`);
            // The rest is the analyzer's schema.
            assert.ok(analyzed, "the analyzer produced no schema");
            const undo = JSON.parse(JSON.stringify(schema));
            for (const { node } of typeNodes(undo)) {
                delete node.secret;
                if (node.type === "integer") node.type = "number";
            }
            const sortKeys = (o: any): any =>
                Array.isArray(o)
                    ? o.map(sortKeys)
                    : o && typeof o === "object"
                      ? Object.fromEntries(
                            Object.keys(o)
                                .sort()
                                .map((k) => [k, sortKeys(o[k])]),
                        )
                      : o;
            assert.deepStrictEqual(sortKeys(undo), sortKeys(analyzed));
        });

        it("type names survive the SDK generators: none ends in Args (ArgsArgs), none is named after a component", () => {
            const types = Object.keys(schema.types).map((t) => t.split(":")[2]);
            assert.ok(types.length > 0);
            for (const t of types) {
                assert.ok(!/Args$/.test(t), `type ${t}: the SDKs would name its input class ${t}Args`);
                assert.ok(
                    !COMPONENTS.includes(t) && !COMPONENTS.includes(t.replace(/Args$/, "")),
                    `type ${t} is named after a component`,
                );
            }
        });

        it("build-schema refuses what it cannot classify: an unlisted number, an unmarked documented secret, a mangled type name", () => {
            assert.ok(analyzed, "the analyzer produced no schema");
            const withNumber = JSON.parse(JSON.stringify(analyzed));
            withNumber.types["pka-fleet:index:FleetKeyRules"].properties.maxKeys = {
                type: "number",
                description: "How many.",
            };
            assert.throws(
                () => build.finishSchema(withNumber),
                /FleetKeyRules"\]\.properties\.maxKeys \(FleetKeyRules\.maxKeys\) is a `number`.*INTEGERS/,
            );
            const withSecret = JSON.parse(JSON.stringify(analyzed));
            withSecret.resources[TOKEN("SetupDocument")].properties.signingKey = {
                type: "string",
                description: "Secret. A key.",
            };
            assert.throws(
                () => build.finishSchema(withSecret),
                /SetupDocument"\]\.properties\.signingKey is documented "Secret\." but not marked: add "signingKey" to SECRETS\.SetupDocument/,
            );
            const named = JSON.parse(JSON.stringify(analyzed));
            named.types["pka-fleet:index:FleetUserArgs"] = named.types["pka-fleet:index:FleetUser"];
            assert.throws(() => build.finishSchema(named), /FleetUserArgs: the SDKs add "Args"/);
            // And the unmodified analysis passes.
            assert.ok(build.finishSchema(analyzed).resources);
        });
    });

    describe("the plugin, started by the real run-plugin host", () => {
        let engine: FakeEngine;
        let mocks: AwsMocks;
        let plugin: PluginProcess;
        let schemaMs = 0;
        let servedSchema = "";
        let loadedAtSchema: string[] = [];

        before(async () => {
            needBuild();
            mocks = new AwsMocks();
            engine = await startFakeEngine(mocks);
            // As the Node language host starts it for a Python/YAML stack: in the stack's directory (a
            // scratch one here), with the project's TypeScript and ts-node out of reach.
            plugin = await startPlugin(ROOT, engine.address, { trace: true, hide: ["typescript", "ts-node"] });
            servedSchema = await getSchema(plugin);
            schemaMs = Date.now() - plugin.spawnedAt;
            loadedAtSchema = plugin.loaded();
            console.log(`      spawn to port: ${plugin.startMs} ms; spawn to GetSchema answered: ${schemaMs} ms`);
        });
        after(async () => {
            plugin?.stop();
            await engine?.close();
        });

        it("serves exactly bin/schema.json", () => {
            assert.strictEqual(servedSchema, fs.readFileSync(SCHEMA_FILE, "utf8"));
        });

        it("runs compiled JavaScript: package.json main, no .ts file, not the project's TypeScript or ts-node, the library not before Construct", () => {
            const rel = (f: string) => path.relative(ROOT, f);
            assert.ok(
                loadedAtSchema.includes(path.join(ROOT, "bin/components/plugin.js")),
                `the host loaded bin/components/plugin.js (loaded: ${loadedAtSchema
                    .filter((f) => !f.includes("node_modules"))
                    .map(rel)
                    .join(", ")})`,
            );
            assert.deepStrictEqual(
                loadedAtSchema.filter((f) => /\.[cm]?tsx?$/.test(f)),
                [],
            );
            const own = (m: string) => (f: string) => f.startsWith(path.join(ROOT, "node_modules", m) + path.sep);
            assert.deepStrictEqual(loadedAtSchema.filter(own("typescript")), [], "the project's typescript is hidden");
            assert.deepStrictEqual(loadedAtSchema.filter(own("ts-node")), [], "the project's ts-node is hidden");
            assert.deepStrictEqual(
                loadedAtSchema.filter(own("@pulumi/aws")),
                [],
                "GetSchema does not load @pulumi/aws",
            );
            assert.ok(
                !loadedAtSchema.includes(path.join(ROOT, "bin/components/index.js")),
                "GetSchema does not load the component library",
            );
        });

        it("Construct SshKeyPair (generate): URN and outputs, privateKey secret, the plain passphrase made secret", async () => {
            const t0 = Date.now();
            const res = await construct(plugin, engine, TOKEN("SshKeyPair"), "svc", {
                generate: { keyType: "ed25519", passphrase: "pw for the test" },
            });
            console.log(
                `      first Construct answered ${Date.now() - t0} ms after the request, ${Date.now() - plugin.spawnedAt} ms after spawn (fake engine's own work: ${engine.mockMs} ms)`,
            );
            assert.strictEqual(res.urn, "urn:pulumi:test::pka-fleet-plugin::pka-fleet:index:SshKeyPair::svc");
            const outputs = Object.keys(JSON.parse(servedSchema).resources[TOKEN("SshKeyPair")].properties);
            for (const k of Object.keys(res.state)) assert.ok(outputs.includes(k), `state key ${k} is a schema output`);
            for (const k of ["publicKey", "fingerprint", "keyType", "bits", "createdAt", "privateKey"])
                assert.ok(k in res.state, `state has ${k}`);
            assert.ok(isWireSecret(res.state.privateKey), "privateKey crosses the provider boundary as a secret");
            assert.match(String(res.state.privateKey.value), /BEGIN OPENSSH PRIVATE KEY/);
            assert.strictEqual(typeof res.state.publicKey, "string", "publicKey is plain");
            assert.match(res.state.publicKey, /^ssh-ed25519 /);
            assert.strictEqual(res.state.bits, 256);
            const key = engine.registrations.find((r) => r.type === DYNAMIC && r.name === "svc-key");
            assert.ok(
                key,
                `the generated key was registered (${engine.registrations.map((r) => `${r.type}::${r.name}`).join(", ")})`,
            );
            assert.ok(
                isWireSecret(key.object.passphrase),
                "the plain passphrase reaches the key resource (and state) as a secret",
            );
            assert.strictEqual(key.object.passphrase.value, "pw for the test");
            const registered = engine.outputs.get(res.urn);
            assert.ok(
                registered && isWireSecret(registered.privateKey),
                "the component's registered outputs hold privateKey as a secret",
            );
            // The library is loaded now, compiled.
            const loaded = plugin.loaded();
            assert.ok(loaded.includes(path.join(ROOT, "bin/components/index.js")));
            assert.deepStrictEqual(
                loaded.filter((f) => /\.[cm]?tsx?$/.test(f)),
                [],
            );
        });

        it("Construct PkaFleet: privateKeys secret; a user's plain passphrase made secret", async () => {
            const res = await construct(plugin, engine, TOKEN("PkaFleet"), "xfleet", {
                users: [{ name: "alice", sudo: "nopasswd", generateKey: { passphrase: "plain fleet pass" } }],
            });
            assert.strictEqual(res.urn, "urn:pulumi:test::pka-fleet-plugin::pka-fleet:index:PkaFleet::xfleet");
            assert.ok(isWireSecret(res.state.privateKeys), "privateKeys crosses the provider boundary as a secret");
            assert.match(
                String((res.state.privateKeys.value as Record<string, string>).alice),
                /BEGIN OPENSSH PRIVATE KEY/,
            );
            assert.strictEqual(typeof res.state.sshConfig, "string");
            const key = engine.registrations.find((r) => r.type === DYNAMIC && r.name === "xfleet-alice-key");
            assert.ok(
                key,
                `the fleet's key was registered (${engine.registrations.map((r) => `${r.type}::${r.name}`).join(", ")})`,
            );
            assert.ok(
                isWireSecret(key.object.passphrase),
                "the fleet user's plain passphrase reaches the key resource as a secret",
            );
            assert.ok(
                mocks.created.some(
                    (c) => c.type === "aws:lambda/function:Function" && c.name === "xfleet-provisioner-fn",
                ),
                "the fleet's children were registered with the engine",
            );
        });

        it("an unknown type is refused, naming the types there are", async () => {
            await assert.rejects(construct(plugin, engine, "pka-fleet:index:KeyPair", "x", {}), (e: Error) => {
                assert.match(
                    e.message,
                    /pka-fleet has no component type "pka-fleet:index:KeyPair": the types are .*pka-fleet:index:SshKeyPair/,
                );
                return true;
            });
            await assert.rejects(
                construct(plugin, engine, "other:index:SshKeyPair", "x", {}),
                /has no component type "other:index:SshKeyPair"/,
            );
        });

        it("no engine log at info or above carries key material", () => {
            const leaks = engine.logs.filter(
                (l) => l.severity >= 1 && /PRIVATE KEY|pw for the test|plain fleet pass/.test(l.message),
            );
            assert.deepStrictEqual(
                leaks.map((l) => l.message.slice(0, 80)),
                [],
            );
        });
    });
});
