/**
 * How a refusal reaches the user: once, naming the component and the input as the user wrote it.
 *
 * Values known only at deployment (Outputs) are measured the way `pulumi up` reports them: the
 * program runs under Pulumi's own runner (@pulumi/pulumi/cmd/run `run()`) in a fresh node, with the
 * handler the language host installs (cmd/run/index.js: an error object is reported once, by
 * identity), and every report (`log.error(message, resource)`) is recorded with the URN of the
 * resource it is attached to.
 */
import * as assert from "assert";
import { spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import sshpk = require("sshpk");
import { AwsMocks, settle } from "./support/awsMocks";
import { exampleConfig, runStackProgramAsync, StackRun } from "./support/stackRun";
import { patience } from "./support/patience";

const ROOT = path.resolve(__dirname, "..");
const KEY_CAROL = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqES5zNG9al28zqQu3ZQwKMG8xswUKYWhqvGcMZATU7 carol@laptop";
const KEY_FALLBACK =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINblU2XohvJOn29KcmbMEX1tjfeAoKNrDvIzx2UHMJDj ops-fallback@example.com";
const KEY_DSA =
    "ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4EddRIpUt9KnC7s5Of2EbdSPO9EAMMeP4C2USZpRV1AIlH7WT2NWPq/xfW6MPbLm1Vs14E7gB00b/JmYLdrmVClpJ+f6AR7ECLCT7up1/63xhv4O1fnxqimFQ8E+4P208UewwI1VBNaFpEy9nXzrith1yrv8iIDGZ3RSAHHAAAAFQCXYFCPFSMLzLKSuYKi64QL8Fgc9QAAAIEA9+GghdabPd7LvKtcNrhXuXmUr7v6OuqC+VdMCz0HgmdRWVeOutRZT+ZxBxCBgLRJFnEj6EwoFhO3zwkyjMim4TwWeotUfI0o4KOuHiuzpnWRbqN/C/ohNWLx+2J6ASQ7zKTxvqhRkImog9/hWuWfBpKLZl6Ae1UlZAFMO/7PSSoAAACAKEAwQpzyyJ1BuSz4bIdjcjGm6tP4d7vmtyn/7xrnDXPUhUvnbmYzRyl5ZmqD9M2eo8vxQhvJhN4Rar/7F6XYjGqbNT5fd1Sd3aBfq0WvSQEHk64JlbD5jE6+W2wqtEPQ1eVhMyrhT41BzcL7/mP7SdZdnb/4cBw2ZABSNNGA8gs= dsa";

interface Report {
    message: string;
    urn?: string;
}
interface Run {
    reports: Report[];
    inventory: Record<string, number>;
}

const CHILD = `
global.describe = () => undefined;
// Node 20.20's util.inspect(error, { colors: true }) never returns on a stack line holding
// "node_modules/@scope/file" (a file straight under a scope folder): markNodeModules loops, growing a
// string until RangeError, ~30 s and 3 GB later. run()'s uncaughtHandler inspects each error it
// reports that way (for its tracing span, after log.error), and ts-node's source-map support maps
// @pulumi/pulumi's own JavaScript frames to such paths (node_modules/@pulumi/output.ts). So the
// dependencies' frames stay the JavaScript that ran; the repository's TypeScript is mapped as before.
require("@cspotcode/source-map-support").install({
    environment: "node",
    retrieveSourceMap: (source) => (/[\\\\/]node_modules[\\\\/]/.test(source) ? { url: source, map: '{"version":3,"sources":[],"names":[],"mappings":""}' } : null),
});
const path = require("path");
const pulumi = require("@pulumi/pulumi");
const log = require("@pulumi/pulumi/log");
const { AwsMocks, settle } = require(path.join(process.env.PKA_ROOT, "test/support/awsMocks.ts"));
(async () => {
    const mocks = new AwsMocks();
    await pulumi.runtime.setMocks(mocks, "pka-fleet", "test", false);
    const runIndex = require.resolve("@pulumi/pulumi/cmd/run/index.js");
    require.cache[runIndex] = { id: runIndex, filename: runIndex, loaded: true, exports: { nodeJSProcessExitedAfterLoggingUserActionableMessage: 32 } };
    const reports = [];
    log.error = (message, resource) => { reports.push({ message: String(message), resource }); };
    const { run } = require("@pulumi/pulumi/cmd/run/run.js");
    // What cmd/run/index.js passes: each error object is reported once.
    const logged = new Set();
    // As cmd/run/index.js: a rejected run() becomes an unhandled rejection, which run()'s handler reports.
    let ran = false;
    run({ _: [process.env.PKA_ENTRY], pwd: process.env.PKA_ROOT }, () => {}, (e) => logged.add(e), (e) => logged.has(e)).then(() => { ran = true; });
    await new Promise((r) => setTimeout(r, 500));
    await settle(mocks, 500);
    await new Promise((r) => setTimeout(r, 1000));
    const out = [];
    for (const r of reports) {
        const urn = r.resource ? await Promise.race([r.resource.urn.promise(), new Promise((res) => setTimeout(() => res("(not registered)"), 2000))]) : undefined;
        out.push({ message: r.message, urn });
    }
    process.stdout.write("\\n@@RESULT@@" + JSON.stringify({ reports: out, inventory: mocks.inventory(), ran }) + "\\n");
    process.exit(0);
})();
`;

/** Runs `program` (TypeScript; `ROOT` is the repository) like `pulumi up` in a fresh node and returns what it reported. Several run at once. */
async function runProgram(program: string): Promise<Run> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-deploy-errors-"));
    try {
        const entry = path.join(dir, "index.ts");
        fs.writeFileSync(entry, `const ROOT = ${JSON.stringify(ROOT)};\n${program}`);
        const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", CHILD], {
            cwd: ROOT,
            env: {
                ...process.env,
                TS_NODE_TRANSPILE_ONLY: "true",
                PKA_ROOT: ROOT,
                PKA_ENTRY: entry,
                NODE_PATH: path.join(ROOT, "node_modules"),
                PULUMI_CONFIG: "{}",
            },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        const killer = setTimeout(() => child.kill("SIGKILL"), patience(180000));
        const status = await new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
        clearTimeout(killer);
        const line = stdout.split("\n").find((l) => l.startsWith("@@RESULT@@"));
        if (!line) throw new Error(`the program runner printed no result (exit ${status}): ${stderr.slice(0, 4000)}`);
        return JSON.parse(line.slice("@@RESULT@@".length));
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

const count = (text: string, part: string) => text.split(part).length - 1;
/** An RSA-2048 public key line (pka-fleet generates no such key, and refuses it). */
const rsa2048 = () =>
    sshpk
        .parseKey(
            crypto
                .generateKeyPairSync("rsa", { modulusLength: 2048 })
                .publicKey.export({ type: "spki", format: "pem" }) as string,
            "pem",
        )
        .toString("ssh");

describe("errors name the resource and the input as written, once", function () {
    this.timeout(300000);

    describe("a value known only at deployment (an Output), as `pulumi up` reports it", () => {
        let bad: Run;
        let secret: Run;
        let pair: Run;
        before(async () => {
            const fleet = (users: string) => `
                const pulumi = require("@pulumi/pulumi");
                const { PkaFleet } = require(ROOT + "/components/PkaFleet");
                const late = (v: string, secret = false) => secret ? pulumi.secret(Promise.resolve(v)) : pulumi.output(Promise.resolve(v));
                const fleet = new PkaFleet("web", {
                    fleetName: "web",
                    fallbackPublicKey: ${JSON.stringify(KEY_FALLBACK)},
                    users: ${users},
                });
                export const hash = fleet.accessSpecHash;
                export const fingerprints = fleet.fingerprints;`;
            // Many children consume the spec: parameters, document, provisioner (its Lambda), association.
            [bad, secret, pair] = await Promise.all([
                runProgram(
                    fleet(`[
                { name: "svc_user", sudo: "nopasswd", service: true, generateKey: { keyType: "ed25519" } },
                { name: "carol", publicKeys: [${JSON.stringify(KEY_CAROL)}, late("not a key")] },
                { name: "auditor" },
            ]`),
                ),
                // A secret value that is not a key: its text must not appear in the report.
                runProgram(fleet(`[{ name: "carol", publicKeys: [late("ssh-TopSecretPass99", true)] }]`)),
                runProgram(`
                const pulumi = require("@pulumi/pulumi");
                const { PkaFleet } = require(ROOT + "/components/PkaFleet");
                const { SshKeyPair } = require(ROOT + "/components/SshKeyPair");
                const ops = new SshKeyPair("ops", { publicKey: pulumi.output(Promise.resolve("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI truncated")), ec2KeyName: "ops" });
                const fleet = new PkaFleet("web", { fleetName: "web", users: [{ name: "ops", publicKeys: [ops.publicKey] }] });
                export const hash = fleet.accessSpecHash;`),
            ]);
        });

        it("is reported once, attached to the PkaFleet, naming the input as written", () => {
            assert.strictEqual(
                bad.reports.length,
                1,
                `one report, not one per child: ${JSON.stringify(bad.reports, null, 1)}`,
            );
            const [r] = bad.reports;
            assert.match(r.urn ?? "", /\$pka-fleet:index:PkaFleet::web$/, "attached to the component");
            assert.match(
                r.message,
                /^PkaFleet "web": `users\[1\]\.publicKeys\[1\]`: is not an OpenSSH public key; expected /,
            );
            assert.strictEqual(count(r.message, "users[1].publicKeys[1]"), 1, "the input once");
            assert.doesNotMatch(
                r.message,
                /error serializing|insecureValue|keys\[|\n\s+at /,
                "no child's property, no spec-internal path, no stack",
            );
        });

        it("creates none of the fleet's resources that the refused spec would have fed (only the generated key exists)", () => {
            assert.deepStrictEqual(bad.inventory, { "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey": 1 });
        });

        it("never quotes a secret value: only where it is", () => {
            assert.strictEqual(secret.reports.length, 1, JSON.stringify(secret.reports));
            const m = secret.reports[0].message;
            assert.match(
                m,
                /^PkaFleet "web": `users\[0\]\.publicKeys\[0\]`: has the key type '<secret>' but no key data/,
            );
            assert.match(m, /The value is secret/);
            assert.ok(!m.includes("TopSecretPass99"), m);
        });

        it("a key pair's own refusal is reported once, attached to the SshKeyPair, and the fleet that takes its key says nothing more", () => {
            assert.strictEqual(pair.reports.length, 1, JSON.stringify(pair.reports));
            assert.match(pair.reports[0].urn ?? "", /\$pka-fleet:index:SshKeyPair::ops$/);
            assert.match(pair.reports[0].message, /^SshKeyPair "ops": `publicKey`: /);
            assert.doesNotMatch(pair.reports[0].message, /error serializing|`publicKey`.*`publicKey`/);
        });
    });

    describe("a secret refused in process: the quote is redacted only when the value is secret", () => {
        // The same text, plain and secret: the plain one is quoted (so the redaction is what hides the secret one).
        for (const secret of [false, true]) {
            it(`${secret ? "secret" : "plain"} Output key`, async () => {
                const mocks = new AwsMocks();
                await pulumi.runtime.setMocks(mocks, "pka-fleet", "test", false);
                const { PkaFleet } = await import("../components/PkaFleet");
                const k = pulumi.output(Promise.resolve("ssh-hunter2hunter2"));
                const fleet = new PkaFleet("web", {
                    fleetName: "web",
                    users: [{ name: "carol", publicKeys: [secret ? pulumi.secret(k) : k] }],
                });
                const swallow = () => undefined;
                process.on("unhandledRejection", swallow);
                try {
                    await assert.rejects((fleet.accessSpecHash as any).promise(), (e: Error) => {
                        assert.ok(pulumi.ResourceError.isInstance(e), "a ResourceError");
                        assert.match(e.message, /^PkaFleet "web": `users\[0\]\.publicKeys\[0\]`: has the key type '/);
                        assert.strictEqual(e.message.includes("hunter2"), !secret, e.message);
                        return true;
                    });
                    await settle(mocks);
                } finally {
                    process.off("unhandledRejection", swallow);
                }
            });
        }
    });

    describe("refusals before any resource: the component and the input once, no stutter", () => {
        let mod: typeof import("../components/PkaFleet");
        before(async () => {
            await pulumi.runtime.setMocks(new AwsMocks(), "pka-fleet", "test", false);
            mod = await import("../components/PkaFleet");
        });
        const base = { fleetName: "web", users: [{ name: "carol", publicKeys: [KEY_CAROL] }] };
        const cases: [string, any, string, RegExp][] = [
            [
                "a DSA fallback key",
                { ...base, fallbackPublicKey: KEY_DSA },
                "`fallbackPublicKey`",
                /: dsa keys are not allowed/,
            ],
            [
                "an RSA-2048 key",
                { ...base, users: [{ name: "bob", publicKeys: [rsa2048()] }] },
                "`users[0].publicKeys[0]`",
                /: rsa-2048 is too small/,
            ],
            [
                "ecdsa registered with EC2",
                {
                    ...base,
                    users: [
                        base.users[0],
                        { name: "bob", service: true, generateKey: { keyType: "ecdsa" }, ec2KeyName: "k" },
                    ],
                },
                "`users[1].generateKey`",
                / \(ecdsa nistp256\): EC2 can import only rsa and ed25519.*\(`users\[1\]\.ec2KeyName` is set\.\)$/,
            ],
            [
                "an RSA-2048 generated key",
                { ...base, users: [{ name: "bob", service: true, generateKey: { keyType: "rsa", bits: 2048 } }] },
                "`users[0].generateKey.bits`",
                /: rsa keys are generated with 3072 or 4096 bits/,
            ],
            [
                "a key option outside the allow-list",
                { ...base, users: [{ name: "bob", publicKeys: [KEY_CAROL], keyOptions: 'tunnel="0"' }] },
                "`users[0].keyOptions`",
                /: option 'tunnel' is not allowed/,
            ],
            [
                "a duplicate user",
                {
                    ...base,
                    users: [
                        { name: "bob", publicKeys: [KEY_CAROL] },
                        { name: "bob", publicKeys: [KEY_CAROL] },
                    ],
                },
                "`users[1].name`",
                /: 'bob' is already users\[0\]/,
            ],
            [
                "root as a user",
                { ...base, users: [{ name: "root", publicKeys: [KEY_CAROL] }] },
                "`users[0].name`",
                / "root" is a system account/,
            ],
            [
                "a user without a key",
                { ...base, users: [{ name: "bob" }] },
                "`users[0]`",
                / has no key: give it `publicKeys` or `generateKey`, or set `fallbackPublicKey`/,
            ],
            [
                "a person's generated key without passphrase",
                { ...base, users: [{ name: "bob", generateKey: {} }] },
                "`users[0].generateKey.passphrase`",
                / is required: a person.s private key must be passphrase-protected\. Set a passphrase, or set `users\[0\]\.service: true`/,
            ],
        ];
        for (const [what, args, input, rest] of cases) {
            it(`${what}: PkaFleet "web": ${input}...`, () => {
                assert.throws(
                    () => new mod.PkaFleet("web", args),
                    (e: Error) => {
                        assert.ok(
                            pulumi.RunError.isInstance(e),
                            "a RunError: Pulumi prints its message without a stack",
                        );
                        assert.ok(e.message.startsWith(`PkaFleet "web": ${input}`), e.message);
                        assert.match(e.message.slice(`PkaFleet "web": ${input}`.length), rest);
                        assert.strictEqual(
                            count(e.message, input.replace(/`$/, "")),
                            1,
                            `the input once: ${e.message}`,
                        );
                        assert.strictEqual(
                            count(e.message, "`generate`"),
                            0,
                            `no SshKeyPair arg name inside a fleet's message: ${e.message}`,
                        );
                        return true;
                    },
                );
            });
        }
    });

    describe("the stack program (index.ts) names the config key the user wrote", () => {
        // Each run is its own fresh node: they go at once, and each test checks its own.
        let noPassphrase: StackRun;
        let strayPassphrase: StackRun;
        let dsa: StackRun;
        let awsTag: StackRun;
        before(async () => {
            const open = exampleConfig();
            delete open.config["pka-fleet:keyPassphrases"];
            const stray = exampleConfig();
            stray.config["pka-fleet:keyPassphrases"] = JSON.stringify({
                alice: "correct horse battery staple",
                alcie: "tr0ub4dor&3",
            });
            const withDsa = exampleConfig();
            const users = JSON.parse(withDsa.config["pka-fleet:users"]);
            users[2].publicKeys.push(KEY_DSA);
            withDsa.config["pka-fleet:users"] = JSON.stringify(users);
            const tag = exampleConfig();
            tag.config["pka-fleet:targetTagKey"] = "aws:reserved";
            [noPassphrase, strayPassphrase, dsa, awsTag] = await Promise.all([
                runStackProgramAsync("index.ts", open.config, []),
                runStackProgramAsync("index.ts", stray.config, stray.secretKeys),
                runStackProgramAsync("index.ts", withDsa.config, withDsa.secretKeys),
                runStackProgramAsync("index.ts", tag.config, tag.secretKeys),
            ]);
        });

        it("a person's generated key without a passphrase: config `pka-fleet:keyPassphrases.alice`", () => {
            const r = noPassphrase;
            assert.match(
                r.error ?? "",
                /config `pka-fleet:keyPassphrases\.alice` is required: config `pka-fleet:users`\[1\] \(alice\) has a generateKey and is a person.*pulumi config set --secret --path 'keyPassphrases\.alice'/,
            );
            assert.doesNotMatch(r.error ?? "", /generateKey\.passphrase/, "not a field this config refuses");
            assert.deepStrictEqual(r.inventory, {});
        });

        it("a passphrase under a name no generated key has: the key is named, the value never", () => {
            const r = strayPassphrase;
            assert.match(
                r.error ?? "",
                /config `pka-fleet:keyPassphrases\.alcie` names no user of config `pka-fleet:users` with a generateKey/,
            );
            assert.ok(
                !(r.error ?? "").includes("tr0ub4dor") && !(r.error ?? "").includes("correct horse"),
                "no passphrase in the error",
            );
        });

        it("PkaFleet's refusals in config terms, without a stack trace", () => {
            const r = dsa;
            assert.match(r.error ?? "", /^config `pka-fleet:users`\[2\]\.publicKeys\[1\]: dsa keys are not allowed/);
            assert.doesNotMatch(r.error ?? "", /PkaFleet "|`users\[/, "no PkaFleet arg names");

            assert.match(awsTag.error ?? "", /^config `pka-fleet:targetTagKey` must not start with `aws:`/);
        });
    });
});
