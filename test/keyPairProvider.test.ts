/**
 * The dynamic provider behind SshKeyPair's `generate` source, called directly (create, diff,
 * update as the engine calls them), judged by real ssh-keygen/puttygen, and serialized exactly
 * as Pulumi serializes dynamic providers, then run in a fresh `node` that has nothing of ours
 * loaded: from this repository (TypeScript sources) and from an installed `pka-fleet` package.
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";
import * as pulumi from "@pulumi/pulumi";
import {
    diffKey,
    GeneratedKeyInputs,
    GeneratedKeyState,
    keyPairProvider,
    PROVIDER_SUBPATH,
} from "../components/keyPairProvider";
import { requireReal } from "./support/env";

const REPO = path.resolve(__dirname, "..");
let tmp: string;

function file(name: string, text: string): string {
    const p = path.join(tmp, name);
    fs.writeFileSync(p, text, { mode: 0o600 });
    return p;
}

/** Oracle: ssh-keygen's own fingerprint of a public key line. */
function keygenFingerprint(publicKey: string): string {
    const out = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", file("fp.pub", publicKey + "\n")], {
        encoding: "utf8",
    });
    return out.split(" ")[1];
}

/** Oracle: ssh-keygen decrypts the private key with `passphrase` and prints its public key (type + base64). */
function keygenPublic(privateKey: string, passphrase: string): string {
    const out = execFileSync("ssh-keygen", ["-y", "-P", passphrase, "-f", file("k", privateKey)], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
    });
    return out.trim().split(" ").slice(0, 2).join(" ");
}

const typeAndBlob = (line: string) => line.split(" ").slice(0, 2).join(" ");

const BASE: GeneratedKeyInputs = { keyType: "ed25519", bits: 256, comment: "svc@central", ppk: false };

/** What Pulumi's dynamic/index.js does for every dynamic resource (serializeFunctionMaybeSecret). */
async function serializeLikePulumi(provider: pulumi.dynamic.ResourceProvider): Promise<string> {
    const sf = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
    return sf.text;
}

/**
 * Loads a serialized provider the way Pulumi's dynamic provider host does
 * (`requireFromString(text).handler()`, with the program directory as cwd) in a fresh node,
 * and calls `create`. Returns the create result.
 */
function createInFreshNode(
    providerText: string,
    inputs: GeneratedKeyInputs,
    cwd: string,
): { id: string; outs: GeneratedKeyState };
function createInFreshNode(
    providerText: string,
    inputs: GeneratedKeyInputs[],
    cwd: string,
): { id: string; outs: GeneratedKeyState }[];
function createInFreshNode(providerText: string, inputs: GeneratedKeyInputs | GeneratedKeyInputs[], cwd: string): any {
    const rfs = require.resolve("require-from-string", { paths: [path.dirname(require.resolve("@pulumi/pulumi"))] });
    const script = `
        const text = require("fs").readFileSync(process.argv[1], "utf8");
        const provider = require(${JSON.stringify(rfs)})(text).handler();
        const inputs = JSON.parse(process.argv[2]);
        (Array.isArray(inputs) ? Promise.all(inputs.map((i) => provider.create(i))) : provider.create(inputs)).then(
            (r) => process.stdout.write(JSON.stringify(r)),
            (e) => { process.stderr.write(String(e && e.stack || e)); process.exit(3); });`;
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_NO_WARNINGS: "1" };
    delete env.TS_NODE_TRANSPILE_ONLY;
    delete env.NODE_OPTIONS;
    const out = execFileSync(
        process.execPath,
        ["-e", script, file("provider.js", providerText), JSON.stringify(inputs)],
        { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    return JSON.parse(out);
}

/** One provider method call, as the engine's dynamic provider host makes it. */
type Call = { method: "diff" | "update"; olds: GeneratedKeyState; news: GeneratedKeyInputs };

/** Loads a serialized provider as createInFreshNode does and makes the calls in order; returns their results. */
function callInFreshNode(providerText: string, calls: Call[], cwd: string): any[] {
    const rfs = require.resolve("require-from-string", { paths: [path.dirname(require.resolve("@pulumi/pulumi"))] });
    const script = `
        const text = require("fs").readFileSync(process.argv[1], "utf8");
        const provider = require(${JSON.stringify(rfs)})(text).handler();
        (async () => {
            const out = [];
            for (const c of JSON.parse(process.argv[2])) out.push(await provider[c.method]("id", c.olds, c.news));
            return out;
        })().then((r) => process.stdout.write(JSON.stringify(r)), (e) => { process.stderr.write(String(e && e.stack || e)); process.exit(3); });`;
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_NO_WARNINGS: "1" };
    delete env.TS_NODE_TRANSPILE_ONLY;
    delete env.NODE_OPTIONS;
    const out = execFileSync(
        process.execPath,
        ["-e", script, file("provider-calls.js", providerText), JSON.stringify(calls)],
        { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    return JSON.parse(out);
}

/**
 * The serialized provider's diff and update, run where the engine runs them: no change for the
 * same inputs, a replacement for a new rotation trigger, an update that keeps the key.
 */
function assertDiffAndUpdate(providerText: string, cwd: string): void {
    const { outs } = createInFreshNode(providerText, BASE, cwd);
    const [same, rotated, renamed, updated] = callInFreshNode(
        providerText,
        [
            { method: "diff", olds: outs, news: BASE },
            { method: "diff", olds: outs, news: { ...BASE, rotationTrigger: "2026-q1" } },
            { method: "diff", olds: outs, news: { ...BASE, comment: "renamed" } },
            { method: "update", olds: outs, news: { ...BASE, comment: "renamed" } },
        ],
        cwd,
    );
    assert.deepStrictEqual({ changes: same.changes, replaces: same.replaces }, { changes: false, replaces: [] });
    assert.deepStrictEqual(
        { changes: rotated.changes, replaces: rotated.replaces },
        { changes: true, replaces: ["rotationTrigger"] },
    );
    assert.deepStrictEqual({ changes: renamed.changes, replaces: renamed.replaces }, { changes: true, replaces: [] });
    assert.strictEqual(updated.outs.fingerprint, outs.fingerprint);
    assert.ok(updated.outs.publicKey.endsWith(" renamed"), updated.outs.publicKey);
}

/** The serialized text uses no module-level `exports` (a free `exports` is undefined in the provider host). */
function assertSelfContained(providerText: string): void {
    const stray = providerText.split("\n").filter((l) => /\bexports\./.test(l) && !/^exports\.handler = /.test(l));
    assert.deepStrictEqual(
        stray,
        [],
        "the serialized provider reads this module's exports: use a local binding (see keyPairProvider.ts)",
    );
    assert.ok(
        !/require\("pka-fleet/.test(providerText),
        "the serialized provider requires the package at load: it must load it only in create/update",
    );
}

function assertValidKey(outs: GeneratedKeyState, type: string): void {
    assert.strictEqual(outs.keyType, type);
    assert.ok(outs.publicKey.startsWith(type === "ecdsa" ? "ecdsa-sha2-" : `ssh-${type}`), outs.publicKey);
    assert.strictEqual(keygenFingerprint(outs.publicKey), outs.fingerprint);
    assert.strictEqual(keygenPublic(outs.privateKey, ""), typeAndBlob(outs.publicKey));
}

describe("SshKeyPair dynamic provider", function () {
    before(function () {
        requireReal(this, { commands: ["ssh-keygen"] });
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pka-kpp-"));
    });
    after(() => tmp && fs.rmSync(tmp, { recursive: true, force: true }));

    describe("create / diff / update as the engine calls them", () => {
        let first: GeneratedKeyState;
        before(async () => {
            first = (await keyPairProvider.create!(BASE)).outs;
        });

        it("creates a key that ssh-keygen reads, unencrypted without a passphrase, with its creation time", () => {
            assertValidKey(first, "ed25519");
            assert.ok(first.publicKey.endsWith(" svc@central"));
            assert.ok(!Number.isNaN(Date.parse(first.createdAt)));
            assert.strictEqual(first.privateKeyPpk, undefined);
        });

        it("a second run with the same inputs is no change: the key in state stays", async () => {
            const d = await keyPairProvider.diff!("id", first, {
                ...BASE,
                __provider: "a different serialization",
            } as any);
            assert.deepStrictEqual({ changes: d.changes, replaces: d.replaces }, { changes: false, replaces: [] });
        });

        it("treats absent and empty passphrase/trigger alike (no spurious diff)", () => {
            const d = diffKey(first, { ...BASE, passphrase: "", rotationTrigger: "" });
            assert.strictEqual(d.changes, false);
        });

        for (const [field, value] of [
            ["keyType", "rsa"],
            ["bits", 4096],
            ["curve", "nistp384"],
            ["rotationTrigger", "2025-q3"],
        ] as const) {
            it(`replaces the key when ${field} changes`, () => {
                const d = diffKey(first, { ...BASE, [field]: value });
                assert.deepStrictEqual(
                    { changes: d.changes, replaces: d.replaces },
                    { changes: true, replaces: [field] },
                );
            });
        }

        for (const [field, value] of [
            ["passphrase", "new secret"],
            ["comment", "other"],
            ["ppk", true],
        ] as const) {
            it(`updates (no replacement) when ${field} changes`, () => {
                const d = diffKey(first, { ...BASE, [field]: value });
                assert.deepStrictEqual({ changes: d.changes, replaces: d.replaces }, { changes: true, replaces: [] });
            });
        }

        it("a passphrase change re-encrypts the same key: ssh-keygen -y -P decrypts it, the old passphrase does not", async () => {
            const withPass = (await keyPairProvider.update!("id", first, { ...BASE, passphrase: "correct horse" }))
                .outs as GeneratedKeyState;
            assert.strictEqual(withPass.fingerprint, first.fingerprint);
            assert.strictEqual(withPass.createdAt, first.createdAt);
            assert.strictEqual(withPass.publicKey, first.publicKey);
            assert.ok(withPass.privateKey.includes("BEGIN OPENSSH PRIVATE KEY"));
            assert.strictEqual(keygenPublic(withPass.privateKey, "correct horse"), typeAndBlob(first.publicKey));
            assert.throws(() => keygenPublic(withPass.privateKey, ""), /Command failed/);

            const changed = (await keyPairProvider.update!("id", withPass, { ...BASE, passphrase: "battery staple" }))
                .outs as GeneratedKeyState;
            assert.strictEqual(changed.fingerprint, first.fingerprint);
            assert.strictEqual(keygenPublic(changed.privateKey, "battery staple"), typeAndBlob(first.publicKey));
            assert.throws(() => keygenPublic(changed.privateKey, "correct horse"), /Command failed/);

            const removed = (await keyPairProvider.update!("id", changed, BASE)).outs as GeneratedKeyState;
            assert.strictEqual(removed.passphrase, undefined);
            assert.strictEqual(keygenPublic(removed.privateKey, ""), typeAndBlob(first.publicKey));
        });

        it("a comment change keeps the key and changes the comment in both key files", async () => {
            const outs = (await keyPairProvider.update!("id", first, { ...BASE, comment: "renamed" }))
                .outs as GeneratedKeyState;
            assert.strictEqual(outs.fingerprint, first.fingerprint);
            assert.ok(outs.publicKey.endsWith(" renamed"), outs.publicKey);
            const fromPrivate = execFileSync("ssh-keygen", ["-y", "-P", "", "-f", file("c", outs.privateKey)], {
                encoding: "utf8",
            });
            assert.ok(fromPrivate.trim().endsWith(" renamed"), fromPrivate);
        });

        it("opting in to PPK adds a PuTTY key of the same key that puttygen reads with the passphrase", async function () {
            requireReal(this, { commands: ["puttygen"] });
            const outs = (await keyPairProvider.update!("id", first, { ...BASE, ppk: true, passphrase: "pp" }))
                .outs as GeneratedKeyState;
            assert.ok(outs.privateKeyPpk?.startsWith("PuTTY-User-Key-File-3: ssh-ed25519"));
            const fp = execFileSync(
                "puttygen",
                [file("k.ppk", outs.privateKeyPpk!), "-O", "fingerprint", "--old-passphrase", file("pass", "pp\n")],
                { encoding: "utf8" },
            );
            assert.ok(fp.includes(first.fingerprint), `${fp} vs ${first.fingerprint}`);
            const off = (await keyPairProvider.update!("id", outs, { ...BASE, passphrase: "pp" }))
                .outs as GeneratedKeyState;
            assert.strictEqual(off.privateKeyPpk, undefined);
        });

        it("generates ecdsa on the requested curve", async () => {
            const outs = (await keyPairProvider.create!({ ...BASE, keyType: "ecdsa", bits: 384, curve: "nistp384" }))
                .outs as GeneratedKeyState;
            assertValidKey(outs, "ecdsa");
            assert.ok(outs.publicKey.startsWith("ecdsa-sha2-nistp384 "));
        });
    });

    describe("serialized as Pulumi serializes it, run in a fresh node", () => {
        let text: string;
        before(async () => {
            text = await serializeLikePulumi(keyPairProvider);
        });

        it("captures no copy of the key code (core/keys breaks when copied by value), only where to load it", () => {
            assert.ok(
                !/generateKey\s*\(|parseOpensshPrivate|BEGIN OPENSSH/.test(text),
                "core/keys was serialized by value",
            );
            assert.ok(
                text.includes(JSON.stringify(path.join(REPO, "components", "keyPairProvider.ts"))),
                "the module path is captured",
            );
        });

        it("from this repository (TypeScript sources, run from another directory): create() gives valid keys", () => {
            const [ed, rsa] = createInFreshNode(text, [BASE, { ...BASE, keyType: "rsa", bits: 3072 }], os.tmpdir());
            assertValidKey(ed.outs, "ed25519");
            assertValidKey(rsa.outs, "rsa");
        });

        it("diff and update work serialized too (they run on every later preview and up)", () => {
            assertSelfContained(text);
            assertDiffAndUpdate(text, os.tmpdir());
        });

        it("the package exports the subpath the serialized provider resolves", () => {
            const pkg = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8"));
            const entry = pkg.exports?.[`./${PROVIDER_SUBPATH}`];
            assert.strictEqual(
                entry?.default,
                "./bin/components/keyPairProvider.js",
                `package.json exports["./${PROVIDER_SUBPATH}"]`,
            );
            assert.strictEqual(entry?.types, "./bin/components/keyPairProvider.d.ts");
            assert.ok(
                pkg.files.some((f: string) => "bin/components/keyPairProvider.js".startsWith(f)),
                "package.json files ships the module",
            );
        });

        it("from an installed pka-fleet package, also after the project directory moved", function () {
            const proj = installedProject(path.join(tmp, "proj"));
            const serialize = `
                // The package's "exports" hide deep paths; the module is the file the package entry loads.
                const { keyPairProvider } = require(require("path").resolve("node_modules/pka-fleet/bin/components/keyPairProvider.js"));
                require("@pulumi/pulumi").runtime.serializeFunction(() => keyPairProvider, { allowSecrets: true })
                    .then((sf) => process.stdout.write(sf.text));`;
            const installedText = execFileSync(process.execPath, ["-e", serialize], {
                cwd: proj,
                encoding: "utf8",
                stdio: ["ignore", "pipe", "pipe"],
                env: { ...process.env, NODE_NO_WARNINGS: "1" },
            });
            assert.ok(
                installedText.includes(`SELF_SPECIFIER: "pka-fleet/${PROVIDER_SUBPATH}"`),
                "the package subpath is captured",
            );
            assert.ok(!/parseOpensshPrivate/.test(installedText));
            assertSelfContained(installedText);
            assertValidKey(createInFreshNode(installedText, BASE, proj).outs, "ed25519");
            assertDiffAndUpdate(installedText, proj);

            const moved = path.join(tmp, "moved");
            fs.renameSync(proj, moved);
            assertValidKey(createInFreshNode(installedText, BASE, moved).outs, "ed25519");
            fs.mkdirSync(path.join(moved, "sub"));
            assertValidKey(createInFreshNode(installedText, BASE, path.join(moved, "sub")).outs, "ed25519");
            // Nothing to load from: a clear error, not a wrong key.
            assert.throws(
                () => createInFreshNode(installedText, BASE, os.tmpdir()),
                /cannot find the SshKeyPair provider module.*"pka-fleet\/keyPairProvider" does not resolve/s,
            );
        });

        it("from a linked package (node_modules/pka-fleet a symlink, as npm link makes it), also after the link moved", function () {
            // The package lives outside the project; node_modules holds only a link to it.
            const pkgHome = path.join(installedProject(path.join(tmp, "linked-src")), "node_modules", "pka-fleet");
            const proj = path.join(tmp, "linked-proj");
            fs.mkdirSync(path.join(proj, "node_modules"), { recursive: true });
            for (const e of fs.readdirSync(path.join(REPO, "node_modules"))) {
                if (e !== ".bin" && e !== "pka-fleet")
                    fs.symlinkSync(path.join(REPO, "node_modules", e), path.join(proj, "node_modules", e));
            }
            fs.symlinkSync(pkgHome, path.join(proj, "node_modules", "pka-fleet"), "dir");
            const serialize = `
                const { keyPairProvider: provider } = require("pka-fleet/${PROVIDER_SUBPATH}");
                require("@pulumi/pulumi").runtime.serializeFunction(() => provider, { allowSecrets: true })
                    .then((sf) => process.stdout.write(sf.text));`;
            const linkedText = execFileSync(process.execPath, ["-e", serialize], {
                cwd: proj,
                encoding: "utf8",
                stdio: ["ignore", "pipe", "pipe"],
                env: { ...process.env, NODE_NO_WARNINGS: "1" },
            });
            // Node loads a linked package from its real path, outside node_modules: the name comes from its package.json.
            assert.ok(
                linkedText.includes(`SELF_SPECIFIER: "pka-fleet/${PROVIDER_SUBPATH}"`),
                "the package subpath is captured",
            );
            assertSelfContained(linkedText);
            assertValidKey(createInFreshNode(linkedText, BASE, proj).outs, "ed25519");
            // The linked checkout moves (npm link again from the new place): neither captured path exists, the link resolves.
            const movedHome = path.join(tmp, "linked-elsewhere");
            fs.renameSync(path.dirname(path.dirname(pkgHome)), movedHome);
            fs.unlinkSync(path.join(proj, "node_modules", "pka-fleet"));
            fs.symlinkSync(
                path.join(movedHome, "node_modules", "pka-fleet"),
                path.join(proj, "node_modules", "pka-fleet"),
                "dir",
            );
            assertValidKey(createInFreshNode(linkedText, BASE, proj).outs, "ed25519");
            assertDiffAndUpdate(linkedText, proj);
        });
    });
});

/**
 * A project with pka-fleet installed as a package: node_modules/pka-fleet/{package.json,bin/...}
 * (our sources compiled to CommonJS as `npm run build` does), its dependencies beside it.
 */
function installedProject(proj: string): string {
    const nm = path.join(proj, "node_modules");
    fs.mkdirSync(nm, { recursive: true });
    for (const e of fs.readdirSync(path.join(REPO, "node_modules"))) {
        if (e !== ".bin" && e !== "pka-fleet") fs.symlinkSync(path.join(REPO, "node_modules", e), path.join(nm, e));
    }
    const pkg = path.join(nm, "pka-fleet");
    fs.mkdirSync(pkg);
    fs.copyFileSync(path.join(REPO, "package.json"), path.join(pkg, "package.json"));
    const todo = ["components/keyPairProvider.ts"];
    const done = new Set<string>();
    while (todo.length) {
        const rel = todo.pop()!;
        if (done.has(rel)) continue;
        done.add(rel);
        const src = fs.readFileSync(path.join(REPO, rel), "utf8");
        for (const m of src.matchAll(/from\s+"(\.\.?\/[^"]+)"/g)) todo.push(path.join(path.dirname(rel), m[1]) + ".ts");
        const js = ts.transpileModule(src, {
            compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
        }).outputText;
        const out = path.join(pkg, "bin", rel.replace(/\.ts$/, ".js"));
        fs.mkdirSync(path.dirname(out), { recursive: true });
        fs.writeFileSync(out, js);
    }
    return proj;
}
