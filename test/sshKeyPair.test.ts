/**
 * SshKeyPair under Pulumi mocks. The mocks act like the real backends where they can:
 * - the dynamic key resource runs the provider text Pulumi serialized (as the engine would);
 * - the remote.Command runs its `create` command through real `sh` on this machine (the
 *   "central server"), with real ssh-keygen, in a temp dir;
 * - aws.ec2.KeyPair refuses what EC2 ImportKeyPair refuses (only ed25519 and rsa 1024/2048/4096);
 * - any other resource or call fails the test.
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type * as SshKeyPairModule from "../components";
import type { GeneratedKeyState } from "../components/keyPairProvider";
import { requireReal } from "./support/env";

const DYNAMIC = "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey";
const requireFromString = require(
    require.resolve("require-from-string", { paths: [path.dirname(require.resolve("@pulumi/pulumi"))] }),
);

/** Every resource registration the program made, in order. */
const created: pulumi.runtime.MockResourceArgs[] = [];
/** The inputs of each registration as the engine receives them (secrets still wrapped), by `type::name`. */
const wireInputs = new Map<string, any>();
/** State the dynamic provider produced, by resource name (what the engine would store). */
const keyState = new Map<string, GeneratedKeyState>();

/** The size of an RSA key's modulus from its wire format (so the EC2 mock does not trust our parser). */
function rsaBits(b64: string): number {
    const buf = Buffer.from(b64, "base64");
    let off = 0;
    const next = () => {
        const n = buf.readUInt32BE(off);
        const v = buf.subarray(off + 4, off + 4 + n);
        off += 4 + n;
        return v;
    };
    next(); // type
    next(); // e
    let n = next();
    while (n.length && n[0] === 0) n = n.subarray(1);
    return n.length ? (n.length - 1) * 8 + (32 - Math.clz32(n[0])) : 0;
}

/** EC2 ImportKeyPair: ed25519, or RSA of 1024/2048/4096 bits (AWS EC2 API Reference, ImportKeyPair); anything else is an API error. */
function ec2ImportError(publicKey: unknown): string | undefined {
    const [type, b64] = String(publicKey ?? "").split(" ");
    if (type === "ssh-ed25519") return undefined;
    if (type === "ssh-rsa" && [1024, 2048, 4096].includes(rsaBits(b64 ?? ""))) return undefined;
    return "InvalidKey.Format: Key is not in valid OpenSSH public key format";
}

/** Secret inputs reach mocks wrapped; providers see plain values (the engine unwraps them). */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
function unwrapSecrets(v: any): any {
    if (Array.isArray(v)) return v.map(unwrapSecrets);
    if (v && typeof v === "object") {
        if (v["4dabf18193072939515e22adb298388d"] === SECRET_SIG) return unwrapSecrets(v.value);
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
    }
    return v;
}

const mocks: pulumi.runtime.Mocks = {
    async newResource(raw) {
        const args = { ...raw, inputs: unwrapSecrets(raw.inputs) };
        created.push(args);
        wireInputs.set(`${raw.type}::${raw.name}`, raw.inputs);
        if (!args.custom) return { id: undefined, state: args.inputs };
        switch (args.type) {
            case DYNAMIC: {
                // What the engine does: load the serialized provider and call create().
                const provider = requireFromString(args.inputs.__provider).handler();
                const { __provider, ...inputs } = args.inputs;
                const r = await provider.create(inputs);
                keyState.set(args.name, r.outs);
                return { id: r.id, state: r.outs };
            }
            case "command:remote:Command": {
                assert.ok(args.inputs.connection?.host, "remote.Command needs connection.host");
                const stdout = execFileSync("sh", ["-c", args.inputs.create], {
                    encoding: "utf8",
                    stdio: ["ignore", "pipe", "pipe"],
                });
                return { id: `${args.name}-id`, state: { ...args.inputs, stdout, stderr: "" } };
            }
            case "aws:ec2/keyPair:KeyPair": {
                const err = ec2ImportError(args.inputs.publicKey);
                if (err) throw new Error(err);
                return {
                    id: args.inputs.keyName,
                    state: {
                        ...args.inputs,
                        arn: `arn:aws:ec2:us-east-1:123456789012:key-pair/${args.inputs.keyName}`,
                    },
                };
            }
            default:
                throw new Error(`unmocked resource ${args.type}`);
        }
    },
    call(args) {
        throw new Error(`unmocked call ${args.token}`);
    },
};

/** Whether a registered input value is Pulumi's secret wrapper, and what it holds. */
function wireSecret(v: any): { secret: boolean; value: unknown } {
    return v && typeof v === "object" && v["4dabf18193072939515e22adb298388d"] === SECRET_SIG
        ? { secret: true, value: v.value }
        : { secret: false, value: v };
}

/** The resolved value of an Output (rejects when the Output fails). */
function value<T>(o: pulumi.Output<T>): Promise<T> {
    return (o as any).promise();
}

let mod: typeof SshKeyPairModule;
let tmp: string;
let n = 0;
const uniq = (base: string) => `${base}-${++n}`;

function write(name: string, text: string): string {
    const p = path.join(tmp, name);
    fs.writeFileSync(p, text, { mode: 0o600 });
    return p;
}
const keygenFingerprint = (line: string) =>
    execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", write(uniq("fp") + ".pub", line + "\n")], {
        encoding: "utf8",
    }).split(" ")[1];
const keygenPublic = (priv: string, pass: string) =>
    execFileSync("ssh-keygen", ["-y", "-P", pass, "-f", write(uniq("k"), priv)], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
    })
        .split(" ")
        .slice(0, 2)
        .join(" ");
const typeAndBlob = (line: string) => line.split(" ").slice(0, 2).join(" ");

/** A fresh real key made by ssh-keygen (a key nobody here wrote). */
function sshKeygen(type: string, bits?: number): string {
    const p = path.join(tmp, uniq("gen"));
    execFileSync("ssh-keygen", [
        "-q",
        "-t",
        type,
        ...(bits ? ["-b", String(bits)] : []),
        "-N",
        "",
        "-C",
        "ops@example",
        "-f",
        p,
    ]);
    return fs.readFileSync(p + ".pub", "utf8").trim();
}

function registeredUrns(): string[] {
    return [...(pulumi.runtime.getMonitor() as any).getRegisteredResources().keys()];
}

/**
 * Constructs a SshKeyPair and returns the error it threw and the types of the child resources it
 * constructed. Transformations run synchronously inside each child's constructor, so this sees
 * every child even though mock registrations happen later.
 */
function construct(name: string, args: SshKeyPairModule.SshKeyPairArgs): { error: unknown; children: string[] } {
    const children: string[] = [];
    const spy: pulumi.ResourceTransformation = (a) => {
        if (a.type !== "pka-fleet:index:SshKeyPair") children.push(a.type);
        return undefined;
    };
    try {
        new mod.SshKeyPair(name, args, { transformations: [spy] });
    } catch (error) {
        return { error, children };
    }
    return { error: undefined, children };
}

describe("SshKeyPair component (mocks)", function () {
    let ED25519: string;
    before(async function () {
        requireReal(this, { commands: ["ssh-keygen"] });
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pka-skp-"));
        await pulumi.runtime.setMocks(mocks, "pka", "test", false);
        mod = await import("../components");
        ED25519 = sshKeygen("ed25519");
    });
    after(() => tmp && fs.rmSync(tmp, { recursive: true, force: true }));

    describe("generate", () => {
        it("generates an ed25519 key by default, kept in a dynamic resource; the private key is secret, the rest is not", async () => {
            const k = new mod.SshKeyPair(uniq("gen"), { generate: { service: true } });
            const [pub, fp, type, bits, createdAt, priv] = await Promise.all([
                value(k.publicKey),
                value(k.fingerprint),
                value(k.keyType),
                value(k.bits),
                value(k.createdAt),
                value(k.privateKey),
            ]);
            assert.ok(pub.startsWith("ssh-ed25519 "));
            assert.strictEqual(fp, keygenFingerprint(pub));
            assert.deepStrictEqual([type, bits], ["ed25519", 256]);
            assert.ok(!Number.isNaN(Date.parse(createdAt!)));
            assert.strictEqual(keygenPublic(priv!, ""), typeAndBlob(pub));
            assert.strictEqual(await pulumi.isSecret(k.privateKey), true);
            assert.strictEqual(await pulumi.isSecret(k.privateKeyPpk), true);
            assert.strictEqual(await pulumi.isSecret(k.publicKey), false);
            assert.strictEqual(await pulumi.isSecret(k.fingerprint), false);
            assert.strictEqual(await value(k.privateKeyPpk), undefined);
        });

        it("the comment defaults to the resource name", async () => {
            const name = uniq("named");
            const k = new mod.SshKeyPair(name, { generate: { service: true } });
            assert.ok((await value(k.publicKey)).endsWith(` ${name}`));
        });

        it("sends Pulumi's own serialization of the provider, and the passphrase only as a secret", async () => {
            const name = uniq("gen");
            const k = new mod.SshKeyPair(name, { generate: { passphrase: "pw-123456" } });
            await value(k.publicKey);
            const reg = created.find((r) => r.type === DYNAMIC && r.name === `${name}-key`)!;
            // dynamic/index.js: serializeFunction(() => provider, { allowSecrets: true })
            const provider = require("../components/keyPairProvider").keyPairProvider;
            const sf = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
            assert.strictEqual(reg.inputs.__provider, sf.text);
            assert.ok(
                registeredUrns().some((u) => u.endsWith(`pka-fleet:index:SshKeyPair$${DYNAMIC}::${name}-key`)),
                "child of the component",
            );
        });

        it("a plain passphrase (what YAML or Python send) reaches the key resource, and so state, only as a secret", async () => {
            for (const passphrase of ["plain pass 1", pulumi.secret("secret pass 2"), pulumi.output("output pass 3")]) {
                const name = uniq("pass");
                const k = new mod.SshKeyPair(name, { generate: { passphrase } });
                await value(k.publicKey);
                const sent = wireSecret(wireInputs.get(`${DYNAMIC}::${name}-key`)?.passphrase);
                assert.ok(sent.secret, `passphrase ${JSON.stringify(sent.value)} is sent as a secret`);
                assert.match(String(sent.value), /^(plain|secret|output) pass [123]$/);
                assert.strictEqual(await pulumi.isSecret(k.privateKey), true);
            }
            const none = uniq("nopass");
            await value(new mod.SshKeyPair(none, { generate: { service: true } }).publicKey);
            assert.strictEqual(
                wireInputs.get(`${DYNAMIC}::${none}-key`)?.passphrase,
                undefined,
                "no passphrase, none sent",
            );
            assert.strictEqual(
                wireSecret(wireInputs.get(`${DYNAMIC}::${none}-key`)?.comment).secret,
                false,
                "the comment stays visible",
            );
        });

        it("with a passphrase and ppk: the private key decrypts with ssh-keygen -y -P, the PPK is secret and present", async () => {
            const k = new mod.SshKeyPair(uniq("pp"), {
                generate: { passphrase: pulumi.secret("s3cret pass"), ppk: true },
            });
            const [pub, priv, ppkText] = await Promise.all([
                value(k.publicKey),
                value(k.privateKey),
                value(k.privateKeyPpk),
            ]);
            assert.strictEqual(keygenPublic(priv!, "s3cret pass"), typeAndBlob(pub));
            assert.throws(() => keygenPublic(priv!, ""), /Command failed/);
            assert.ok(ppkText!.startsWith("PuTTY-User-Key-File-3: ssh-ed25519"));
            assert.ok(ppkText!.includes("Encryption: aes256-cbc"));
            assert.strictEqual(await pulumi.isSecret(k.privateKeyPpk), true);
        });

        it("a second program run against the same state keeps the key; a passphrase change updates, a type change replaces", async () => {
            const args = (extra: object = {}) => ({ generate: { comment: "svc", service: true, ...extra } });
            const run1 = new mod.SshKeyPair("stable", args());
            await value(run1.publicKey);
            const state = keyState.get("stable-key")!;
            const provider = require("../components/keyPairProvider")
                .keyPairProvider as pulumi.dynamic.ResourceProvider;
            // The next run's inputs for the same resource, as the program registers them.
            const nextInputs = async (extra: object) => {
                const name = uniq("stable");
                await value(new mod.SshKeyPair(name, args(extra)).publicKey);
                const { __provider, ...inputs } = created.filter(
                    (r) => r.type === DYNAMIC && r.name === `${name}-key`,
                )[0].inputs;
                return inputs;
            };
            const same = await provider.diff!("id", state, await nextInputs({}));
            assert.deepStrictEqual([same.changes, same.replaces], [false, []]);
            const newPass = await nextInputs({ passphrase: "two-pass" });
            const passDiff = await provider.diff!("id", state, newPass);
            assert.deepStrictEqual([passDiff.changes, passDiff.replaces], [true, []]);
            const updated = (await provider.update!("id", state, newPass)).outs as GeneratedKeyState;
            assert.strictEqual(updated.fingerprint, state.fingerprint);
            assert.strictEqual(keygenPublic(updated.privateKey, "two-pass"), typeAndBlob(state.publicKey));
            const typeDiff = await provider.diff!("id", state, await nextInputs({ keyType: "ecdsa" }));
            assert.deepStrictEqual([typeDiff.changes, typeDiff.replaces], [true, ["keyType", "curve"]]);
        });
    });

    describe("onHost (this machine plays the central server)", () => {
        const connection = {
            host: "central.example",
            user: "ops",
            port: 2222,
            privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-read-by-mocks\n-----END OPENSSH PRIVATE KEY-----",
        };

        it("runs ssh-keygen there once: the second run keeps the key, only the public key comes back", async () => {
            const keyPath = path.join(tmp, "central", "svc_user_key");
            const comment = `it's "svc" $(touch ${tmp}/pwned) \`id\``;
            const a = new mod.SshKeyPair(uniq("host"), { onHost: { connection, path: keyPath, comment } });
            const [pub, fp, type, priv] = await Promise.all([
                value(a.publicKey),
                value(a.fingerprint),
                value(a.keyType),
                value(a.privateKey),
            ]);
            assert.strictEqual(typeAndBlob(pub), typeAndBlob(fs.readFileSync(keyPath + ".pub", "utf8")));
            assert.strictEqual(keygenFingerprint(pub), fp);
            assert.strictEqual(type, "ed25519");
            assert.strictEqual(priv, undefined);
            assert.ok(pub.endsWith(` ${comment}`), "the comment arrives literally");
            assert.ok(!fs.existsSync(path.join(tmp, "pwned")), "nothing in the comment ran");
            assert.ok(fs.readFileSync(keyPath, "utf8").includes("PRIVATE KEY"), "the private key stays on the server");
            assert.strictEqual(fs.statSync(keyPath).mode & 0o077, 0);

            const reg = created.filter((r) => r.type === "command:remote:Command").pop()!;
            // @pulumi/command adds its own dial defaults (dialErrorLimit, perDialTimeout); ours pass as given.
            const { host, user, port } = reg.inputs.connection;
            assert.deepStrictEqual({ host, user, port }, { host: "central.example", user: "ops", port: 2222 });
            assert.ok(reg.inputs.connection.privateKey, "the login key is passed");
            const stdout = execFileSync("sh", ["-c", reg.inputs.create], { encoding: "utf8" });
            assert.strictEqual(
                stdout.trim(),
                fs.readFileSync(keyPath + ".pub", "utf8").trim(),
                "stdout is exactly the public key",
            );
            assert.ok(!/PRIVATE|BEGIN/.test(stdout));

            const b = new mod.SshKeyPair(uniq("host"), { onHost: { connection, path: keyPath, comment } });
            assert.strictEqual(await value(b.fingerprint), fp);
        });

        it("the login private key (a plain string from any language) reaches remote.Command only inside a secret", async () => {
            // The component wraps privateKey; @pulumi/command marks the whole connection secret as well.
            const name = uniq("hostsecret");
            const k = new mod.SshKeyPair(name, {
                onHost: { connection, path: path.join(tmp, "central-secret", "id") },
            });
            await value(k.publicKey);
            const sent = wireSecret(wireInputs.get(`command:remote:Command::${name}-keygen`)?.connection);
            assert.ok(sent.secret, `the connection is sent as a secret: ${JSON.stringify(sent.value)?.slice(0, 80)}`);
            assert.strictEqual(unwrapSecrets(sent.value).privateKey, connection.privateKey);
        });

        it("a new rotation trigger moves the old key aside and makes a new one", async () => {
            const keyPath = path.join(tmp, "central2", "id");
            const fp1 = await value(
                new mod.SshKeyPair(uniq("rot"), { onHost: { connection, path: keyPath, rotationTrigger: "2025-01" } })
                    .fingerprint,
            );
            const fp2 = await value(
                new mod.SshKeyPair(uniq("rot"), { onHost: { connection, path: keyPath, rotationTrigger: "2025-07" } })
                    .fingerprint,
            );
            assert.notStrictEqual(fp2, fp1);
            const aside = fs
                .readdirSync(path.dirname(keyPath))
                .filter((f) => /^id\.rotated-\d{8}T\d{6}Z\.pub$/.test(f));
            assert.strictEqual(aside.length, 1);
            assert.strictEqual(
                keygenFingerprint(fs.readFileSync(path.join(path.dirname(keyPath), aside[0]), "utf8").trim()),
                fp1,
            );
            const fp3 = await value(
                new mod.SshKeyPair(uniq("rot"), { onHost: { connection, path: keyPath, rotationTrigger: "2025-07" } })
                    .fingerprint,
            );
            assert.strictEqual(fp3, fp2, "same trigger, same key");
        });

        it("the command it builds is shellcheck-clean POSIX sh", function () {
            requireReal(this, { commands: ["shellcheck"] });
            const cmd = mod.onHostCommand({
                keyType: "ecdsa",
                bits: 384,
                curve: "nistp384",
                path: "/srv/keys/svc_user/id_ecdsa",
                comment: 'it\'s \\ "quoted"',
            } as any);
            const inner = execFileSync("sh", ["-c", `printf '%s' ${cmd.slice("sh -c ".length)}`], { encoding: "utf8" });
            execFileSync("shellcheck", ["-s", "sh", "-"], { input: inner });
        });

        it("registers an rsa-4096 key made there with EC2", async () => {
            const name = uniq("hostec2");
            const k = new mod.SshKeyPair(name, {
                onHost: { connection, path: path.join(tmp, "central3", "id"), keyType: "rsa" },
                ec2KeyName: "fleet-rsa",
            });
            assert.deepStrictEqual(
                [await value(k.keyType), await value(k.bits), await value(k.ec2KeyName)],
                ["rsa", 4096, "fleet-rsa"],
            );
            const reg = created.find((r) => r.type === "aws:ec2/keyPair:KeyPair" && r.name === `${name}-ec2`)!;
            assert.strictEqual(reg.inputs.publicKey, await value(k.publicKey));
        });
    });

    describe("publicKey (import)", () => {
        it("takes an existing key, reports what ssh-keygen reports, and registers it with EC2 as a child", async () => {
            const name = uniq("imp");
            const k = new mod.SshKeyPair(name, { publicKey: ED25519, ec2KeyName: "ops-key" });
            assert.strictEqual(await value(k.publicKey), ED25519);
            assert.strictEqual(await value(k.fingerprint), keygenFingerprint(ED25519));
            assert.deepStrictEqual([await value(k.keyType), await value(k.bits)], ["ed25519", 256]);
            assert.strictEqual(await value(k.privateKey), undefined);
            assert.strictEqual(await value(k.createdAt), undefined);
            assert.strictEqual(await value(k.ec2KeyName), "ops-key");
            const reg = created.find((r) => r.type === "aws:ec2/keyPair:KeyPair" && r.name === `${name}-ec2`)!;
            assert.deepStrictEqual(reg.inputs, { keyName: "ops-key", publicKey: ED25519 });
            assert.ok(
                registeredUrns().some((u) =>
                    u.endsWith(`pka-fleet:index:SshKeyPair$aws:ec2/keyPair:KeyPair::${name}-ec2`),
                ),
                "child of the component",
            );
        });

        it("without ec2KeyName, registers nothing with EC2", async () => {
            const name = uniq("imp");
            const k = new mod.SshKeyPair(name, { publicKey: ED25519 });
            assert.strictEqual(await value(k.ec2KeyName), undefined);
            assert.ok(!created.some((r) => r.name === `${name}-ec2`));
        });

        it("checks a key that is known only at deployment when it resolves", async () => {
            const k = new mod.SshKeyPair(uniq("late"), {
                publicKey: pulumi.output("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI broken"),
            });
            await assert.rejects(value(k.fingerprint), /publicKey/);
        });

        it("the EC2 mock refuses what EC2 refuses (so the component's early checks matter)", async () => {
            const aws = await import("@pulumi/aws");
            const kp = new aws.ec2.KeyPair(uniq("raw"), { publicKey: sshKeygen("ecdsa") });
            await assert.rejects(value(kp.keyName), /InvalidKey.Format/);
            const ok = new aws.ec2.KeyPair(uniq("raw"), { keyName: "k", publicKey: ED25519 });
            assert.strictEqual(await value(ok.keyName), "k");
        });
    });

    describe("bad args fail before any child resource exists, naming the inputs", () => {
        const connection = { host: "h", privateKey: "k" };
        const cases: [string, () => SshKeyPairModule.SshKeyPairArgs, RegExp][] = [
            ["no source", () => ({}), /exactly one key source: `generate`.*`onHost`.*`publicKey`.*got none/],
            ["two sources", () => ({ generate: {}, publicKey: ED25519 }), /got `generate` and `publicKey`/],
            [
                "three sources",
                () => ({ generate: {}, onHost: { connection, path: "/k" }, publicKey: ED25519 }),
                /got `generate` and `onHost` and `publicKey`/,
            ],
            ["a truncated key", () => ({ publicKey: ED25519.slice(0, 40) }), /publicKey/],
            ["a private key as publicKey", () => ({ publicKey: "-----BEGIN OPENSSH PRIVATE KEY-----" }), /publicKey/],
            ["option injection in publicKey", () => ({ publicKey: `command="sh" ${ED25519}` }), /publicKey/],
            ["rsa-2048 import", () => ({ publicKey: sshKeygen("rsa", 2048) }), /publicKey.*rsa-2048/],
            [
                "rsa-3072 import with ec2KeyName",
                () => ({ publicKey: sshKeygen("rsa", 3072), ec2KeyName: "x" }),
                /EC2.*ec2KeyName/,
            ],
            [
                "ecdsa import with ec2KeyName",
                () => ({ publicKey: sshKeygen("ecdsa"), ec2KeyName: "x" }),
                /EC2 can import only rsa and ed25519.*ec2KeyName/,
            ],
            [
                "ecdsa generate with ec2KeyName",
                () => ({ generate: { keyType: "ecdsa" }, ec2KeyName: "x" }),
                /`generate`.*EC2 can import only rsa and ed25519.*`ec2KeyName`/,
            ],
            [
                "ecdsa onHost with ec2KeyName",
                () => ({ onHost: { connection, path: "/srv/k", keyType: "ecdsa" }, ec2KeyName: "x" }),
                /`onHost`.*EC2 can import only/,
            ],
            [
                "rsa-3072 generate with ec2KeyName",
                () => ({ generate: { keyType: "rsa", bits: 3072 }, ec2KeyName: "x" }),
                /rsa-3072 is not allowed for EC2 import/,
            ],
            [
                "rsa-2048 generate",
                () => ({ generate: { keyType: "rsa", bits: 2048 } }),
                /`generate.bits`: rsa keys are generated with 3072 or 4096 bits; got 2048/,
            ],
            [
                "an unknown keyType",
                () => ({ generate: { keyType: "dsa" as any } }),
                /`generate.keyType`: expected ed25519, ecdsa or rsa; got 'dsa'/,
            ],
            [
                "a curve on ed25519",
                () => ({ generate: { curve: "nistp256" } }),
                /`generate.curve`: only ecdsa keys take a curve/,
            ],
            [
                "bits that contradict the curve",
                () => ({ generate: { keyType: "ecdsa", curve: "nistp384", bits: 256 } }),
                /`generate.curve`: nistp384 does not have 256 bits/,
            ],
            [
                "ecdsa on P-224",
                () => ({ generate: { keyType: "ecdsa", curve: "nistp224" as any } }),
                /`generate.curve`: expected nistp256, nistp384 or nistp521/,
            ],
            [
                "bits on ed25519",
                () => ({ onHost: { connection, path: "/srv/k", bits: 4096 } }),
                /`onHost.bits`: ed25519 keys are always 256 bits/,
            ],
            [
                "a person's key without a passphrase (the rule PkaFleet applies)",
                () => ({ generate: {} }),
                /`generate.passphrase` is required: a person's private key must be passphrase-protected\. Set a passphrase, or set `generate.service: true`/,
            ],
            ["an empty passphrase", () => ({ generate: { passphrase: "" } }), /`generate.passphrase` is required/],
            [
                "a comment with a newline",
                () => ({ generate: { comment: "a\nssh-rsa AAAA evil" } }),
                /`generate.comment` must be one line/,
            ],
            [
                "a hostile onHost path",
                () => ({ onHost: { connection, path: "/tmp/x; rm -rf /" } }),
                /`onHost.path` must be an absolute path/,
            ],
            ["a relative onHost path", () => ({ onHost: { connection, path: "keys/id" } }), /`onHost.path`/],
            [
                "a .. in the onHost path",
                () => ({ onHost: { connection, path: "/srv/../etc/shadow" } }),
                /`onHost.path`/,
            ],
            ["$(...) in the onHost path", () => ({ onHost: { connection, path: "/srv/$(reboot)" } }), /`onHost.path`/],
            [
                "no onHost host",
                () => ({ onHost: { connection: { host: "", privateKey: "k" }, path: "/srv/k" } }),
                /`onHost.connection.host` is required/,
            ],
        ];
        for (const [what, args, message] of cases) {
            it(`refuses ${what}`, () => {
                const name = uniq("bad");
                const { error, children } = construct(name, args());
                assert.ok(error instanceof pulumi.ResourceError, `expected a ResourceError, got ${error}`);
                assert.match((error as Error).message, new RegExp(`SshKeyPair "${name}"`));
                assert.match((error as Error).message, message);
                assert.deepStrictEqual(children, [], "no child resource");
            });
        }

        it("the spy sees children when there are some (so the checks above can fail)", () => {
            assert.deepStrictEqual(construct(uniq("ok"), { publicKey: ED25519, ec2KeyName: "x" }).children, [
                "aws:ec2/keyPair:KeyPair",
            ]);
            assert.deepStrictEqual(
                construct(uniq("ok"), { onHost: { connection, path: path.join(tmp, "spy", "id") } }).children,
                ["command:remote:Command"],
            );
        });

        it("never echoes a passphrase or a private key in an error", () => {
            assert.throws(
                () =>
                    new mod.SshKeyPair(uniq("bad"), {
                        generate: { passphrase: "TOP-SECRET-PASS" },
                        publicKey: ED25519,
                    }),
                (e: Error) => {
                    return !e.message.includes("TOP-SECRET-PASS") && /got `generate` and `publicKey`/.test(e.message);
                },
            );
        });

        it("refuses a hostile path in the command builder itself, before any command text exists", () => {
            assert.throws(
                () => mod.onHostCommand({ keyType: "ed25519", bits: 256, path: "/tmp/x; rm -rf /", comment: "c" }),
                /`onHost.path`/,
            );
            assert.throws(
                () => mod.onHostCommand({ keyType: "ed25519", bits: 256, path: "/tmp/x\n/y", comment: "c" }),
                /`onHost.path`/,
            );
        });
    });
});
