/**
 * The package as a registry user gets it: `npm pack`, then `npm install` of the tarball in a new
 * project outside this repository (a real copy in node_modules, not a link; no ts-node, no
 * TypeScript), used from plain `node` the way a user's compiled program, Pulumi's dynamic
 * provider host, the `pka` CLI and Pulumi's policy runner use it.
 *
 * One pack and one install for the whole file (in `before`): the install takes most of the time.
 * It uses the npm cache that `npm ci` filled (`--prefer-offline`), and the registry for anything
 * missing there.
 */
import * as assert from "assert";
import { execFileSync, ExecFileSyncOptions, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { requireReal } from "./support/env";
import { CONTRACT_RULES, PolicyServer } from "./support/policyHarness";

const REPO = path.resolve(__dirname, "..");
const PKG = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8"));
const LOCK = JSON.parse(fs.readFileSync(path.join(REPO, "package-lock.json"), "utf8"));

const RULES = CONTRACT_RULES;

/** An environment without this repository's ts-node settings: what a user's shell has. */
function plainEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_NO_WARNINGS: "1" };
    for (const k of Object.keys(env)) if (k.startsWith("TS_NODE_")) delete env[k];
    delete env.NODE_OPTIONS;
    return env;
}

function run(cmd: string, args: string[], opts: ExecFileSyncOptions & { what: string }): string {
    try {
        return execFileSync(cmd, args, {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
            env: plainEnv(),
            ...opts,
        }) as string;
    } catch (e) {
        const err = e as { status?: number; stderr?: string; stdout?: string };
        throw new Error(
            `${opts.what} failed (exit ${err.status}): ${cmd} ${args.join(" ")}\n${err.stderr ?? ""}${err.stdout ?? ""}`,
        );
    }
}

/** Every package folder in a node_modules tree, nested ones included: name -> folders. */
function packagesIn(nodeModules: string, found = new Map<string, string[]>()): Map<string, string[]> {
    if (!fs.existsSync(nodeModules)) return found;
    for (const e of fs.readdirSync(nodeModules)) {
        if (e.startsWith(".")) continue;
        const dirs = e.startsWith("@") ? fs.readdirSync(path.join(nodeModules, e)).map((s) => path.join(e, s)) : [e];
        for (const name of dirs) {
            const dir = path.join(nodeModules, name);
            if (!fs.existsSync(path.join(dir, "package.json"))) continue;
            found.set(name, [...(found.get(name) ?? []), dir]);
            packagesIn(path.join(dir, "node_modules"), found);
        }
    }
    return found;
}

/** Oracle: ssh-keygen's fingerprint of a public key line. */
function keygenFingerprint(publicKey: string, dir: string): string {
    const f = path.join(dir, `fp-${process.hrtime.bigint()}.pub`);
    fs.writeFileSync(f, publicKey.trim() + "\n");
    return run("ssh-keygen", ["-l", "-E", "sha256", "-f", f], { what: "ssh-keygen -l" }).split(" ")[1];
}

/** Oracle: ssh-keygen reads the private key file (no passphrase) and prints its public key; returns type + base64. */
function keygenPublicOf(privateKeyFile: string): string {
    return run("ssh-keygen", ["-y", "-P", "", "-f", privateKeyFile], { what: `ssh-keygen -y -f ${privateKeyFile}` })
        .trim()
        .split(" ")
        .slice(0, 2)
        .join(" ");
}

const typeAndBlob = (line: string) => line.trim().split(" ").slice(0, 2).join(" ");

/**
 * A user's program under Pulumi's mocks, run by plain node in the installed project. The mocks act
 * as the engine does for a dynamic resource: they load the `__provider` text the SDK serialized
 * (`require-from-string(text).handler()`, as @pulumi/pulumi/cmd/dynamic-provider does) and call
 * its create; other resources echo their inputs. Private keys go to mode-600 files, never stdout.
 */
const PROBE = String.raw`"use strict";
const fs = require("fs");
const path = require("path");
const [mode, outDir, givenKey] = process.argv.slice(2);
const pulumi = require("@pulumi/pulumi");
const requireFromString = require(require.resolve("require-from-string", { paths: [path.dirname(require.resolve("@pulumi/pulumi"))] }));
const SECRET = "4dabf18193072939515e22adb298388d";
const unsecret = (v) => (v && typeof v === "object" && SECRET in v ? v.value : v);
const registrations = [];
const providerTexts = [];
pulumi.runtime.setMocks({
    async newResource(a) {
        const assets = a.inputs.code && (await a.inputs.code.assets);
        const code = assets && assets["provisioner.js"];
        registrations.push({ type: a.type, name: a.name, lambdaCode: code ? await code.path : undefined });
        if (!a.custom) return { id: undefined, state: {} };
        if (a.type.startsWith("pulumi-nodejs:dynamic")) {
            const { __provider, ...inputs } = a.inputs;
            providerTexts.push(__provider);
            const provider = requireFromString(__provider).handler();
            const r = await provider.create(Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, unsecret(v)])));
            return { id: r.id, state: { ...a.inputs, ...r.outs } };
        }
        const name = a.inputs.name ?? a.name;
        return { id: a.name + "-id", state: { ...a.inputs, name, arn: "arn:aws:mock:eu-west-1:123456789012:" + name, url: "https://mock.invalid/" + name } };
    },
    call: (a) => a.inputs,
}, "consumer", "test", false);
const value = (o) => new Promise((resolve) => o.apply((v) => resolve(v)));
const writeSecret = (name, text) => { const p = path.join(outDir, name); fs.writeFileSync(p, text, { mode: 0o600 }); return p; };
async function main() {
    const result = { tsNodeResolves: (() => { try { require.resolve("ts-node"); return true; } catch { return false; } })(), tsHook: ".ts" in require.extensions };
    const lib = require("pka-fleet");
    result.entry = require.resolve("pka-fleet");
    result.exports = Object.keys(lib);
    await new Promise((r) => setTimeout(r, 300));
    result.afterImport = registrations.length;
    if (mode === "keypair") {
        const k = new lib.SshKeyPair("k", { generate: { service: true } });
        result.publicKey = await value(k.publicKey);
        result.fingerprint = await value(k.fingerprint);
        result.privateKeySecret = await pulumi.isSecret(k.privateKey);
        result.privateKeyFile = writeSecret("keypair-k", await value(k.privateKey));
        // What pulumi.dynamic.Resource serializes: the closure () => provider (dynamic/index.js).
        const { keyPairProvider: provider } = require("pka-fleet/keyPairProvider");
        result.serializedDirectly = (await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true })).text;
    }
    if (mode === "fleet") {
        const fleet = new lib.PkaFleet("web", { users: [
            { name: "deploy", sudo: "nopasswd", service: true, generateKey: { keyType: "ed25519" } },
            { name: "carol", publicKeys: [givenKey] },
        ] });
        result.fingerprints = await value(fleet.fingerprints);
        result.privateKeysSecret = await pulumi.isSecret(fleet.privateKeys);
        const keys = await value(fleet.privateKeys);
        result.privateKeyFiles = Object.fromEntries(Object.entries(keys).map(([u, t]) => [u, writeSecret("fleet-" + u, t)]));
    }
    await new Promise((r) => setTimeout(r, 300));
    result.registrations = registrations;
    result.providerTexts = providerTexts;
    process.stdout.write(JSON.stringify(result));
}
main().catch((e) => { process.stderr.write(String((e && e.stack) || e)); process.exit(3); });
`;

/** Pulumi's dynamic provider host in a fresh node (cwd: the project): load the text, make the calls. */
const HOST = String.raw`"use strict";
const fs = require("fs");
const path = require("path");
const [textFile, callsJson, outDir] = process.argv.slice(2);
const requireFromString = require(require.resolve("require-from-string", { paths: [path.dirname(require.resolve("@pulumi/pulumi"))] }));
const provider = requireFromString(fs.readFileSync(textFile, "utf8")).handler();
(async () => {
    const calls = JSON.parse(callsJson);
    const created = await provider.create(calls.create);
    const noChange = await provider.diff(created.id, created.outs, calls.create);
    const rotated = await provider.diff(created.id, created.outs, { ...calls.create, rotationTrigger: "rotate" });
    const keyFile = path.join(outDir, "host-created");
    fs.writeFileSync(keyFile, created.outs.privateKey, { mode: 0o600 });
    return { id: created.id, publicKey: created.outs.publicKey, fingerprint: created.outs.fingerprint, keyFile, noChange, rotated };
})().then((r) => process.stdout.write(JSON.stringify(r)), (e) => { process.stderr.write(String((e && e.stack) || e)); process.exit(3); });
`;

describe("the npm tarball installed in another project", function () {
    this.timeout(300_000);
    let work: string;
    let project: string;
    let out: string;
    let tarball: string;
    let entries: string[];
    let packed: Record<string, unknown>;

    before(function () {
        requireReal(this, { commands: ["ssh-keygen", "tar", "npm"] });
        // The tarball ships bin/: build it if an input changed since the last build (what npm test does).
        run(process.execPath, [path.join(REPO, "scripts/build.js"), "--if-stale"], {
            cwd: REPO,
            what: "scripts/build.js --if-stale (the tarball ships bin/)",
        });
        work = fs.mkdtempSync(path.join(os.tmpdir(), "pka-tarball-"));
        out = path.join(work, "out");
        fs.mkdirSync(out, { mode: 0o700 });

        // `npm pack` as `npm publish` does, without its lifecycle scripts: bin/ is current (checked
        // above), and `prepare` would run the whole build again.
        const packJson = run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], {
            cwd: REPO,
            what: "npm pack",
        });
        packed = JSON.parse(packJson.slice(packJson.indexOf("[")))[0];
        tarball = path.join(work, String(packed.filename));
        entries = run("tar", ["-tzf", tarball], { what: `tar -tzf ${tarball}` })
            .split("\n")
            .filter(Boolean)
            .map((e) => e.replace(/^package\//, ""));
        console.log(
            `      tarball: ${packed.filename}, ${(fs.statSync(tarball).size / 1024).toFixed(0)} KiB packed, ` +
                `${(Number(packed.unpackedSize) / 1024).toFixed(0)} KiB unpacked, ${entries.length} files`,
        );

        // The user's project: Pulumi SDK and AWS provider at this repository's locked versions, and the tarball.
        project = path.join(work, "project");
        fs.mkdirSync(project);
        const locked = (name: string) => {
            const v = LOCK.packages?.[`node_modules/${name}`]?.version;
            if (!v) throw new Error(`package-lock.json has no ${name}: run npm install at the repository root`);
            return v;
        };
        fs.writeFileSync(
            path.join(project, "package.json"),
            JSON.stringify(
                {
                    name: "pka-fleet-consumer",
                    version: "1.0.0",
                    private: true,
                    dependencies: {
                        "@pulumi/pulumi": locked("@pulumi/pulumi"),
                        "@pulumi/aws": locked("@pulumi/aws"),
                        "pka-fleet": `file:${tarball}`,
                    },
                },
                null,
                2,
            ),
        );
        const started = Date.now();
        // --ignore-scripts: nothing tested needs an install script (@pulumi/command's would download its
        // plugin through the Pulumi CLI); pka-fleet has none that runs on install.
        run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], {
            cwd: project,
            what: "npm install of the tarball",
        });
        console.log(`      npm install: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    });

    after(() => work && fs.rmSync(work, { recursive: true, force: true }));

    const installed = (...p: string[]) => path.join(project, "node_modules", "pka-fleet", ...p);
    const probe = (mode: string, ...args: string[]) => {
        const script = path.join(project, "probe.js");
        fs.writeFileSync(script, PROBE);
        return JSON.parse(
            run(process.execPath, [script, mode, out, ...args], {
                cwd: project,
                what: `the ${mode} program (plain node)`,
            }),
        );
    };

    describe("npm pack", () => {
        it("ships what a user runs and nothing of the repository's tests, bench, sources or maps", () => {
            const forbidden = entries.filter(
                (e) =>
                    /^bin\/(test|bench)\//.test(e) ||
                    /^(test|bench|scripts|node_modules|\.ci)\//.test(e) ||
                    /(^|\/)fixtures\//.test(e) ||
                    (e.endsWith(".ts") && !e.endsWith(".d.ts")) ||
                    e.endsWith(".map") ||
                    [
                        "bin/index.js",
                        "bin/index.d.ts",
                        "Pulumi.yaml",
                        "Pulumi.example.yaml",
                        "package-lock.json",
                        "tsconfig.json",
                    ].includes(e),
            );
            assert.deepStrictEqual(forbidden, [], "package.json `files` lets these into the tarball");
            assert.ok(
                entries.every((e) => !/(^|\/)tsconfig\.json$/.test(e)),
                "a tsconfig.json in the tarball (Pulumi's runner would load it)",
            );
        });

        it("ships no compiled file whose source is gone (tsc leaves those in bin/)", () => {
            const orphans = entries.filter((e) => {
                const m = /^bin\/(components|core|cli|local|policy)\/(.+)\.(js|d\.ts)$/.exec(e);
                return m !== null && !fs.existsSync(path.join(REPO, m[1], `${m[2]}.ts`));
            });
            assert.deepStrictEqual(orphans, [], "left in bin/ by an earlier build: rm -rf bin && npm run build");
        });

        it("ships every file package.json points at, the Lambda bundle, the plugin manifest and the compiled policy pack", () => {
            const manifest = JSON.parse(fs.readFileSync(installed("package.json"), "utf8"));
            const targets = new Set<string>([
                manifest.main,
                manifest.types,
                ...Object.values<string>(manifest.bin ?? {}),
            ]);
            for (const entry of Object.values<unknown>(manifest.exports ?? {})) {
                for (const t of typeof entry === "string" ? [entry] : Object.values(entry as Record<string, string>))
                    targets.add(t);
            }
            const required = [
                ...[...targets].map((t) => path.posix.normalize(t)),
                "bin/lambda/provisioner.js",
                "PulumiPlugin.yaml",
                "bin/cli/pka.js",
                "bin/policy/index.js",
                "bin/policy/package.json",
                "bin/policy/PulumiPolicy.yaml",
            ];
            const missing = required.filter((f) => !entries.includes(f));
            assert.deepStrictEqual(
                missing,
                [],
                "missing from the tarball (build them, and list them in package.json `files`)",
            );
            assert.match(
                fs.readFileSync(installed("bin/cli/pka.js"), "utf8"),
                /^#!\/usr\/bin\/env node\n/,
                "bin/cli/pka.js needs its shebang",
            );
        });

        it("ships the component schema (bin/schema.json) the plugin serves", () => {
            assert.ok(entries.includes("bin/schema.json"), "bin/schema.json is missing from the tarball");
            const schema = JSON.parse(fs.readFileSync(installed("bin/schema.json"), "utf8"));
            assert.strictEqual(schema.name, PKG.name);
            assert.ok(schema.resources?.["pka-fleet:index:SshKeyPair"], "the schema has SshKeyPair");
        });
    });

    describe("npm install of the tarball", () => {
        it("is a real copy of this version in node_modules, not a link", () => {
            const st = fs.lstatSync(installed());
            assert.ok(
                !st.isSymbolicLink() && st.isDirectory(),
                "node_modules/pka-fleet must be a directory, not a symlink",
            );
            assert.strictEqual(JSON.parse(fs.readFileSync(installed("package.json"), "utf8")).version, PKG.version);
        });

        it("has one @pulumi/pulumi (the locked version) and no ts-node or TypeScript", () => {
            const pkgs = packagesIn(path.join(project, "node_modules"));
            const sdk = pkgs.get("@pulumi/pulumi") ?? [];
            assert.deepStrictEqual(
                sdk.map((d) => path.relative(project, d)),
                [path.join("node_modules", "@pulumi", "pulumi")],
                "copies of @pulumi/pulumi",
            );
            assert.strictEqual(
                JSON.parse(fs.readFileSync(path.join(sdk[0], "package.json"), "utf8")).version,
                LOCK.packages["node_modules/@pulumi/pulumi"].version,
            );
            assert.deepStrictEqual(
                ["ts-node", "typescript"].filter((n) => pkgs.has(n)),
                [],
                "the project must not have ts-node or typescript",
            );
        });
    });

    describe("a user's program, plain node, under mocks", () => {
        it("importing pka-fleet loads the compiled library and creates no resource", () => {
            const r = probe("import");
            assert.strictEqual(r.tsNodeResolves, false, "ts-node resolves in the project");
            assert.strictEqual(r.tsHook, false);
            assert.strictEqual(fs.realpathSync(r.entry), fs.realpathSync(installed("bin/components/index.js")));
            for (const name of ["SshKeyPair", "SetupDocument", "Provisioner", "PkaFleet", "validateAccessSpec"])
                assert.ok(r.exports.includes(name), `pka-fleet exports ${name}`);
            assert.strictEqual(r.afterImport, 0);
            assert.deepStrictEqual(r.registrations, []);
        });

        it("SshKeyPair generate: the serialized provider creates a key that ssh-keygen reads; the output is secret", () => {
            const r = probe("keypair");
            assert.deepStrictEqual(
                r.registrations.map((x: { type: string; name: string }) => `${x.type}::${x.name}`),
                ["pka-fleet:index:SshKeyPair::k", "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey::k-key"],
            );
            assert.strictEqual(r.providerTexts.length, 1);
            // The __provider the SDK sent is the text `pulumi up` stores, and the same as serializing the provider directly.
            assert.strictEqual(r.providerTexts[0], r.serializedDirectly);
            assert.ok(
                r.providerTexts[0].includes('SELF_SPECIFIER: "pka-fleet/keyPairProvider"'),
                "the serialized provider names the package subpath",
            );
            assert.strictEqual(r.privateKeySecret, true, "privateKey must be a secret output");
            assert.strictEqual(keygenPublicOf(r.privateKeyFile), typeAndBlob(r.publicKey));
            assert.strictEqual(keygenFingerprint(r.publicKey, out), r.fingerprint);
            fs.writeFileSync(path.join(out, "provider.js"), r.providerTexts[0]);
        });

        it("the serialized provider in a fresh node (cwd: the project), as Pulumi's dynamic provider host runs it", () => {
            const text = path.join(out, "provider.js");
            assert.ok(fs.existsSync(text), "the SshKeyPair case above writes the serialized provider");
            const host = path.join(project, "host.js");
            fs.writeFileSync(host, HOST);
            const inputs = { keyType: "ed25519", bits: 256, comment: "svc@consumer", ppk: false };
            const r = JSON.parse(
                run(process.execPath, [host, text, JSON.stringify({ create: inputs }), out], {
                    cwd: project,
                    what: "the dynamic provider host (fresh node)",
                }),
            );
            assert.strictEqual(keygenPublicOf(r.keyFile), typeAndBlob(r.publicKey));
            assert.strictEqual(keygenFingerprint(r.publicKey, out), r.fingerprint);
            assert.ok(r.publicKey.endsWith(" svc@consumer"), r.publicKey);
            assert.strictEqual(r.noChange.changes, false, "the same inputs again must be no change (the key stays)");
            assert.deepStrictEqual(r.rotated.replaces, ["rotationTrigger"]);
        });

        it("PkaFleet with a generated and a given key: fingerprints match ssh-keygen, the generated key is secret, the Lambda ships from the package", () => {
            const given = path.join(out, "carol");
            run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "carol@laptop", "-f", given], {
                what: "ssh-keygen (carol's key)",
            });
            const givenLine = fs.readFileSync(`${given}.pub`, "utf8").trim();
            const r = probe("fleet", givenLine);
            assert.deepStrictEqual(r.fingerprints.carol, [keygenFingerprint(givenLine, out)]);
            assert.deepStrictEqual(
                Object.keys(r.privateKeyFiles),
                ["deploy"],
                "only the generated key has a private key",
            );
            assert.strictEqual(r.privateKeysSecret, true);
            const deployPublic = keygenPublicOf(r.privateKeyFiles.deploy);
            assert.deepStrictEqual(r.fingerprints.deploy, [keygenFingerprint(deployPublic, out)]);
            const types = r.registrations.map((x: { type: string }) => x.type);
            assert.strictEqual(
                types.filter((t: string) => t === "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey").length,
                1,
            );
            for (const t of [
                "pka-fleet:index:PkaFleet",
                "pka-fleet:index:SetupDocument",
                "pka-fleet:index:Provisioner",
                "aws:ssm/document:Document",
                "aws:lambda/function:Function",
            ]) {
                assert.ok(types.includes(t), `PkaFleet registers ${t}`);
            }
            const lambda = r.registrations.find((x: { type: string }) => x.type === "aws:lambda/function:Function");
            assert.strictEqual(
                fs.realpathSync(lambda.lambdaCode),
                fs.realpathSync(installed("bin/lambda/provisioner.js")),
            );
            assert.ok(fs.statSync(lambda.lambdaCode).size > 0);
        });
    });

    describe("the pka CLI (npx pka)", () => {
        it("keygen writes a key ssh-keygen reads, and check-key allows its public key", () => {
            const prefix = path.join(out, "cli-k");
            run("npx", ["--no", "pka", "keygen", "--type", "ed25519", "--out", prefix], {
                cwd: project,
                what: "npx pka keygen",
            });
            assert.strictEqual(fs.statSync(prefix).mode & 0o777, 0o600);
            const pub = fs.readFileSync(`${prefix}.pub`, "utf8");
            assert.strictEqual(keygenPublicOf(prefix), typeAndBlob(pub));
            const report = run("npx", ["--no", "pka", "check-key", `${prefix}.pub`], {
                cwd: project,
                what: "npx pka check-key",
            });
            assert.ok(report.includes(keygenFingerprint(pub, out)), report);
        });

        it("audit judges an authorized_keys file line by line", () => {
            const prefix = path.join(out, "cli-k");
            const file = path.join(out, "cli-authorized_keys");
            const pub = fs.readFileSync(`${prefix}.pub`, "utf8").trim();
            fs.writeFileSync(file, `restrict ${pub}\nenvironment="A=b" ${pub}\n`);
            const r = spawnSync("npx", ["--no", "pka", "audit", file], { cwd: project, encoding: "utf8" });
            assert.strictEqual(r.status, 1, r.stderr);
            assert.match(r.stdout, /:1 hand-added allowed ed25519 256 SHA256:/);
            assert.match(r.stdout, /:2 hand-added violation .*\n    - options: option 'environment' is not allowed/);
        });

        it("cert issue signs a key with a CA made by pka keygen, and ssh-keygen -L reads the certificate", () => {
            const ca = path.join(out, "cli-k");
            const user = path.join(out, "cli-cert-user");
            execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", user]);
            const args = ["--ca", ca, "--key", `${user}.pub`, "--principal", "svc_user", "--validity", "1h"];
            run("npx", ["--no", "pka", "cert", "issue", ...args], { cwd: project, what: "npx pka cert issue" });
            const listed = execFileSync("ssh-keygen", ["-L", "-f", `${user}-cert.pub`], { encoding: "utf8" });
            assert.match(listed, /user certificate[\s\S]*Principals: \n\s+svc_user\n/);
            const shown = spawnSync("npx", ["--no", "pka", "cert", "show", `${user}-cert.pub`], {
                cwd: project,
                encoding: "utf8",
            });
            assert.strictEqual(shown.status, 0, shown.stderr);
            assert.match(shown.stdout, /verdict: +ok/);
        });

        it("--version names the installed package's version", () => {
            const { version } = JSON.parse(fs.readFileSync(installed("package.json"), "utf8"));
            // npx reads options before the command as its own (`npx pka --version` prints npm's
            // version): after `--` they are the command's.
            const v = run("npx", ["--no", "--", "pka", "--version"], { cwd: project, what: "npx -- pka --version" });
            assert.strictEqual(v, `pka-fleet ${version}\n`);
            const word = run("npx", ["--no", "pka", "version"], { cwd: project, what: "npx pka version" });
            assert.strictEqual(word, `pka-fleet ${version}\n`);
        });
    });

    describe("the policy pack from the installed package", () => {
        let server: PolicyServer | undefined;
        const packDir = () => installed("bin", "policy");
        after(async () => server?.stop());

        it("resolves @pulumi/policy and its @pulumi/pulumi to the project's single copies", () => {
            const sdk = path.join(project, "node_modules", "@pulumi", "pulumi", "package.json");
            const policyPkg = require.resolve("@pulumi/policy/package.json", { paths: [packDir()] });
            assert.strictEqual(policyPkg, path.join(project, "node_modules", "@pulumi", "policy", "package.json"));
            assert.strictEqual(
                require.resolve("@pulumi/pulumi/package.json", { paths: [path.dirname(policyPkg)] }),
                sdk,
            );
            assert.strictEqual(
                require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [packDir()] }),
                path.join(path.dirname(sdk), "cmd", "run-policy-pack", "index.js"),
            );
            const manifest = JSON.parse(fs.readFileSync(path.join(packDir(), "package.json"), "utf8"));
            assert.strictEqual(manifest.main, "index.js");
            assert.ok(fs.existsSync(path.join(packDir(), "PulumiPolicy.yaml")));
        });

        it("Pulumi's run-policy-pack serves it (no TypeScript): its 9 rules, this version, and a rule that fires", async () => {
            server = await PolicyServer.start(90_000, packDir());
            const info = await server.getAnalyzerInfo();
            assert.strictEqual(info.name, "pka-fleet");
            assert.strictEqual(info.version, PKG.version);
            assert.deepStrictEqual(info.policies.map((p) => p.name).sort(), [...RULES].sort());
            const rsa = path.join(out, "rsa2048");
            run("ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", "admin@laptop", "-f", rsa], {
                what: "ssh-keygen (rsa-2048)",
            });
            const diags = await server.analyze({
                type: "aws:ec2/keyPair:KeyPair",
                name: "legacy",
                properties: { keyName: "legacy", publicKey: fs.readFileSync(`${rsa}.pub`, "utf8").trim() },
            });
            const algorithm = diags.filter((d) => d.policyName === "ssh-key-algorithm");
            assert.strictEqual(algorithm.length, 1, JSON.stringify(diags));
            assert.strictEqual(algorithm[0].enforcementLevel, "mandatory");
            assert.match(algorithm[0].message, /2048/);
        });
    });
});
