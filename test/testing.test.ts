/**
 * `pka-fleet/testing`, as a user's unit test uses it: the compiled package (bin/), Pulumi's mocks,
 * real keys checked with the real ssh-keygen; and what plain `setMocks` says without it.
 */
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { requireReal } from "./support/env";
import { patience } from "./support/patience";

const ROOT = path.resolve(__dirname, "..");
const LIB = path.join(ROOT, "bin/components/index.js");
const TESTING = path.join(ROOT, "bin/components/testing.js");

function needBuild(): void {
    for (const f of [LIB, TESTING])
        if (!fs.existsSync(f))
            throw new Error(`${f} is missing: run \`npm run build\` (npm test does) before this test`);
}

/** An Output's value, or its rejection (as a user's `await new Promise(r => o.apply(r))` would see it). */
function value<T>(o: pulumi.Output<T>): Promise<T> {
    return (o as unknown as { promise(): Promise<T> }).promise();
}

const typeAndBlob = (line: unknown) => String(line).split(" ").slice(0, 2).join(" ");

function keygen(args: string[], input?: string): string {
    return execFileSync("ssh-keygen", args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] });
}

describe("pka-fleet/testing: PkaMocks for users' unit tests", function () {
    this.timeout(120000);
    let dir: string;
    before(() => {
        needBuild();
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-testing-"));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("package.json exports ./testing as the compiled module, and importing it creates nothing", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
        assert.strictEqual(pkg.exports["./testing"].default, "./bin/components/testing.js");
        assert.strictEqual(pkg.exports["./testing"].types, "./bin/components/testing.d.ts");
        assert.ok(fs.existsSync(path.join(ROOT, "bin/components/testing.d.ts")));
        const r = spawnSync(
            process.execPath,
            [
                "-e",
                `const t = require(${JSON.stringify(TESTING)}); console.log(typeof t.PkaMocks, Object.keys(require("@pulumi/pulumi").runtime).includes("setMocks"))`,
            ],
            { cwd: ROOT, encoding: "utf8" },
        );
        assert.strictEqual(r.status, 0, r.stderr);
        assert.strictEqual(r.stdout.trim(), "function true");
    });

    it("a generated key resolves to a real key: ssh-keygen reads it with its passphrase, the fingerprint matches, the private key is secret", async function () {
        requireReal(this, { commands: ["ssh-keygen"] });
        const { PkaMocks } = require(TESTING);
        const { SshKeyPair } = require(LIB);
        await pulumi.runtime.setMocks(new PkaMocks(), "user-project", "test", false);
        const k = new SshKeyPair("ops", { generate: { keyType: "ed25519", passphrase: "correct horse", ppk: true } });
        const [pub, fp, priv, ppkText] = await Promise.all([
            value(k.publicKey),
            value(k.fingerprint),
            value(k.privateKey),
            value(k.privateKeyPpk),
        ]);
        assert.ok(await pulumi.isSecret(k.privateKey), "privateKey is secret");
        const file = path.join(dir, "gen");
        fs.writeFileSync(file, String(priv), { mode: 0o600 });
        assert.strictEqual(
            keygen(["-y", "-P", "correct horse", "-f", file]).trim().split(" ").slice(0, 2).join(" "),
            String(pub).split(" ").slice(0, 2).join(" "),
        );
        assert.throws(() => keygen(["-y", "-P", "wrong", "-f", file]), "the key is encrypted with the passphrase");
        fs.writeFileSync(`${file}.pub`, `${pub}\n`);
        assert.strictEqual(keygen(["-l", "-f", `${file}.pub`]).split(" ")[1], fp);
        assert.match(String(ppkText), /^PuTTY-User-Key-File-3: ssh-ed25519/);
    });

    it("an onHost key resolves to a key of the requested type, size and comment (nothing runs on any machine)", async function () {
        requireReal(this, { commands: ["ssh-keygen"] });
        const { PkaMocks } = require(TESTING);
        const { SshKeyPair } = require(LIB);
        await pulumi.runtime.setMocks(new PkaMocks(), "user-project", "test", false);
        const path_ = path.join(dir, "never-written", "pka_web");
        const k = new SshKeyPair("central", {
            onHost: {
                connection: { host: "central.internal", privateKey: "not a key: never used" },
                path: path_,
                keyType: "rsa",
                bits: 3072,
                comment: "ops's key",
            },
        });
        const [pub, type, bits, fp] = await Promise.all([
            value(k.publicKey),
            value(k.keyType),
            value(k.bits),
            value(k.fingerprint),
        ]);
        assert.strictEqual(type, "rsa");
        assert.strictEqual(bits, 3072);
        assert.match(String(pub), /^ssh-rsa AAAA\S+ ops's key$/);
        fs.writeFileSync(path.join(dir, "onhost.pub"), `${pub}\n`);
        assert.match(
            keygen(["-l", "-f", path.join(dir, "onhost.pub")]),
            new RegExp(`^3072 ${String(fp).replace(/[+/]/g, "\\$&")} ops's key \\(RSA\\)`),
        );
        assert.ok(!fs.existsSync(path.dirname(path_)), "the mocks ran nothing: the key path was not created");
    });

    it("a PkaFleet with generated, onHost and given keys resolves its outputs; your own mocks see the AWS resources and their answers are used", async function () {
        requireReal(this, { commands: ["ssh-keygen"] });
        const { PkaMocks } = require(TESTING);
        const { PkaFleet, SshKeyPair } = require(LIB);
        const seen: string[] = [];
        const mine: pulumi.runtime.Mocks = {
            newResource(args) {
                seen.push(args.type);
                const name = args.inputs.name ?? `${args.name}-mine`;
                const arn =
                    args.type === "aws:ssm/document:Document"
                        ? `arn:aws:ssm:eu-north-1:111122223333:document/${name}`
                        : `arn:aws:mine:eu-north-1:111122223333:${name}`;
                const state: Record<string, any> = {
                    ...args.inputs,
                    arn,
                    name,
                    url: `https://queue.example/${args.name}`,
                };
                return { id: `${args.name}-mine`, state };
            },
            call(args) {
                return args.token === "aws:index/getCallerIdentity:getCallerIdentity"
                    ? { accountId: "111122223333" }
                    : args.token === "aws:index/getRegion:getRegion"
                      ? { name: "eu-north-1", region: "eu-north-1" }
                      : { partition: "aws", dnsSuffix: "amazonaws.com" };
            },
        };
        await pulumi.runtime.setMocks(new PkaMocks(mine), "user-project", "test", false);
        const central = new SshKeyPair("central", {
            onHost: { connection: { host: "central.internal", privateKey: "unused" }, path: "/home/ops/.ssh/pka_web" },
        });
        const given =
            keygen(["-q", "-t", "ed25519", "-N", "", "-C", "carol@laptop", "-f", path.join(dir, "carol")]) === ""
                ? fs.readFileSync(path.join(dir, "carol.pub"), "utf8").trim()
                : "";
        const fleet = new PkaFleet("web", {
            fleetName: "web",
            users: [
                { name: "svc_user", sudo: "nopasswd", service: true, publicKeys: [central.publicKey] },
                { name: "deploy", sudo: "nopasswd", service: true, generateKey: { keyType: "ed25519" } },
                { name: "carol", publicKeys: [given] },
            ],
        });
        const [fps, keys, hash, queueUrl] = await Promise.all([
            value(fleet.fingerprints),
            value(fleet.privateKeys),
            value(fleet.accessSpecHash),
            value(fleet.queueUrl),
        ]);
        const fpOf = (pubFile: string) => keygen(["-l", "-f", pubFile]).split(" ")[1];
        assert.deepStrictEqual((fps as Record<string, string[]>).carol, [fpOf(path.join(dir, "carol.pub"))]);
        assert.strictEqual((fps as Record<string, string[]>).svc_user.length, 1);
        assert.deepStrictEqual((fps as Record<string, string[]>).svc_user, [await value(central.fingerprint)]);
        assert.deepStrictEqual(Object.keys(keys as object), ["deploy"]);
        fs.writeFileSync(path.join(dir, "deploy"), (keys as Record<string, string>).deploy, { mode: 0o600 });
        fs.writeFileSync(path.join(dir, "deploy.pub"), keygen(["-y", "-f", path.join(dir, "deploy")]));
        assert.deepStrictEqual((fps as Record<string, string[]>).deploy, [fpOf(path.join(dir, "deploy.pub"))]);
        assert.ok(await pulumi.isSecret(fleet.privateKeys), "privateKeys is secret");
        assert.match(String(hash), /^[0-9a-f]{64}$/);
        assert.match(String(queueUrl), /^https:\/\/queue\.example\//, "your mocks' answer is used");
        for (let last = -1; seen.length !== last;) {
            last = seen.length;
            await new Promise((r) => setTimeout(r, 300));
        }
        for (const t of [
            "aws:ssm/parameter:Parameter",
            "aws:ssm/document:Document",
            "aws:lambda/function:Function",
            "aws:sqs/queue:Queue",
        ])
            assert.ok(seen.includes(t), `your mocks saw ${t} (saw ${[...new Set(seen)].join(", ")})`);
        assert.ok(
            !seen.some((t) => t.startsWith("pulumi-nodejs:dynamic") || t === "command:remote:Command"),
            "PkaMocks answers the keys itself",
        );
    });

    it("an ecdsa onHost key is of the requested curve; the same path on the same host gives the same key; other commands go to your mocks", async function () {
        requireReal(this, { commands: ["ssh-keygen"] });
        const { PkaMocks } = require(TESTING);
        const { SshKeyPair } = require(LIB);
        const command = await import("@pulumi/command");
        const seen: string[] = [];
        const mine: pulumi.runtime.Mocks = {
            newResource(args) {
                seen.push(`${args.type}::${args.name}`);
                return { id: `${args.name}-mine`, state: { ...args.inputs, stdout: "mine" } };
            },
            call(args) {
                seen.push(args.token);
                return { answer: "mine" };
            },
        };
        await pulumi.runtime.setMocks(new PkaMocks(mine), "user-project", "test", false);
        const onHost = {
            connection: { host: "central.internal", privateKey: "unused" },
            path: "/home/ops/.ssh/pka_ec",
            keyType: "ecdsa",
            curve: "nistp384",
            comment: "ec",
        };
        const a = new SshKeyPair("a", { onHost });
        const b = new SshKeyPair("b", { onHost: { ...onHost, comment: "another comment" } });
        const rotated = new SshKeyPair("rotated", { onHost: { ...onHost, rotationTrigger: "2027" } });
        const other = new command.remote.Command("uptime", {
            connection: { host: "central.internal" },
            create: "uptime",
        });
        const [pa, pb, pr, out] = await Promise.all([
            value(a.publicKey),
            value(b.publicKey),
            value(rotated.publicKey),
            value(other.stdout),
        ]);
        fs.writeFileSync(path.join(dir, "ec.pub"), `${pa}\n`);
        assert.match(keygen(["-l", "-f", path.join(dir, "ec.pub")]), /^384 SHA256:\S+ ec \(ECDSA\)$/m);
        assert.strictEqual(
            pa,
            pb,
            "the same path and spec on the same host: the key made first, as the real command keeps an existing key",
        );
        assert.notStrictEqual(typeAndBlob(pr), typeAndBlob(pa), "a new rotation trigger: a new key");
        assert.match(String(pr), /^ecdsa-sha2-nistp384 /);
        assert.strictEqual(out, "mine", "a command that is not SshKeyPair's keygen is yours to answer");
        assert.ok(
            seen.includes("command:remote:Command::uptime") && !seen.some((t) => t.endsWith("-keygen")),
            seen.join(", "),
        );
    });

    it("without other mocks, PkaMocks alone gives a whole PkaFleet ids, names and ARNs", async () => {
        const { PkaMocks } = require(TESTING);
        const { PkaFleet } = require(LIB);
        await pulumi.runtime.setMocks(
            new PkaMocks(undefined, { accountId: "444455556666", region: "eu-west-3" }),
            "user-project",
            "test",
            false,
        );
        const fleet = new PkaFleet("web", {
            fleetName: "web",
            users: [{ name: "deploy", sudo: "nopasswd", service: true, generateKey: {} }],
        });
        const rejected: string[] = [];
        const note = (e: unknown) => rejected.push(String((e as Error)?.message ?? e));
        process.on("unhandledRejection", note);
        const [doc, queue, dlq, access] = await Promise.all([
            value(fleet.documentName),
            value(fleet.queueUrl),
            value(fleet.dlqUrl),
            value(fleet.accessParameterPath),
        ]);
        await new Promise((r) => setTimeout(r, 1500));
        process.off("unhandledRejection", note);
        assert.deepStrictEqual(rejected, [], "no child was refused its inputs");
        assert.ok(typeof doc === "string" && doc.length > 0);
        assert.match(String(queue), /^https:\/\/sqs\.eu-west-3\.amazonaws\.com\/444455556666\//);
        assert.match(String(dlq), /^https:\/\/sqs\.eu-west-3\.amazonaws\.com\/444455556666\//);
        assert.strictEqual(access, "/pka/web/access");
    });

    describe("plain pulumi.runtime.setMocks: a clear error naming the resource and the fix", () => {
        for (const [what, ctor] of [
            ["generate", `new SshKeyPair("k", { generate: { service: true } })`],
            [
                "onHost",
                `new SshKeyPair("k", { onHost: { connection: { host: "h", privateKey: "x" }, path: "/home/ops/.ssh/k" } })`,
            ],
        ] as const) {
            it(`${what}: says the key is missing and points to pka-fleet/testing`, () => {
                needBuild();
                const program = `
                    const pulumi = require("@pulumi/pulumi");
                    const seen = new Set();
                    const note = (e) => seen.add(String(e && e.message || e));
                    process.on("unhandledRejection", note);
                    pulumi.runtime.setMocks({ newResource: (a) => ({ id: a.name + "-id", state: a.inputs }), call: (a) => a.inputs }, "p", "s", false);
                    const { SshKeyPair } = require(${JSON.stringify(LIB)});
                    const k = ${ctor};
                    k.publicKey.promise().then(() => note("resolved"), note);
                    // until the reports stop (1 s without a new one) once there is one; ${patience(3000)} ms at most without any
                    const started = Date.now();
                    let count = 0, quietSince = Date.now();
                    setInterval(() => {
                        if (seen.size !== count) { count = seen.size; quietSince = Date.now(); }
                        if ((count > 0 && Date.now() - quietSince >= 1000) || Date.now() - started > ${patience(3000)}) { console.log(JSON.stringify([...seen])); process.exit(0); }
                    }, 50);`;
                const r = spawnSync(process.execPath, ["-e", program], {
                    cwd: ROOT,
                    encoding: "utf8",
                    timeout: patience(60000),
                });
                assert.strictEqual(r.status, 0, r.stderr);
                const messages: string[] = JSON.parse(r.stdout.trim().split("\n").pop() ?? "[]");
                assert.ok(messages.length > 0, `an error was reported (${r.stdout}${r.stderr})`);
                for (const m of messages) {
                    assert.match(m, /SshKeyPair "k"/, `names the resource: ${m}`);
                    assert.match(m, /PkaMocks from "?pka-fleet\/testing/, `points to the fix: ${m}`);
                    assert.doesNotMatch(m, /got undefined|reading 'trim'/, m);
                }
            });
        }
    });
});
