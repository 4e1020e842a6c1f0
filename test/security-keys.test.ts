/**
 * FIDO2 security keys (sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com): read by
 * our own parser (sshpk knows no sk keys), fingerprinted as `ssh-keygen -l` does, allowed for
 * people by default, refused for service accounts, and installed end to end by the real on-host
 * script into an authorized_keys that a real sshd still reads. The key lines are built here from
 * random bytes (and, for ecdsa, a real P-256 point), as an authenticator would make them.
 */
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { validateAccessSpec } from "../core/accessSpec";
import { AccessSpecError } from "../core/accessSpecTypes";
import { documentParameters, renderDocumentJson } from "../core/document";
import { planFleet } from "../core/fleetPlan";
import { checkDeploySpec, plainKeyInputs } from "../core/fleetSpec";
import { planSshKeyPair } from "../core/keyPairPlan";
import { judgeKey, judgeKeySpec, KeyError, keyRulesFromPolicyConfig, parsePublicKey } from "../core/keys";
import { resolveKeySpec } from "../core/keys/spec";
import { sshString } from "../core/keys/wire";
import { runDocumentLikeAgent } from "../local/agent";
import { SandboxHost, sshRun, startHosts, stopHosts } from "../local/sandbox";
import { sshKeyAlgorithm } from "../policy/keys";
import { ensureBuilt, PKA_CLI } from "./support/built";
import { requireReal } from "./support/env";
import { patience } from "./support/patience";

const ED_TYPE = "sk-ssh-ed25519@openssh.com";
const EC_TYPE = "sk-ecdsa-sha2-nistp256@openssh.com";

function p256Point(): Buffer {
    const { publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    // The SPKI of a P-256 key ends with the 65-byte uncompressed point (0x04 || x || y).
    const q = publicKey.export({ format: "der", type: "spki" }).subarray(-65);
    assert.equal(q[0], 0x04);
    return q;
}

function skEd25519Blob(o: { pk?: Buffer; application?: string | Buffer; extra?: Buffer } = {}): Buffer {
    return Buffer.concat([
        sshString(ED_TYPE),
        sshString(o.pk ?? crypto.randomBytes(32)),
        sshString(o.application ?? "ssh:"),
        o.extra ?? Buffer.alloc(0),
    ]);
}

function skEcdsaBlob(o: { curve?: string; q?: Buffer; application?: string; extra?: Buffer } = {}): Buffer {
    return Buffer.concat([
        sshString(EC_TYPE),
        sshString(o.curve ?? "nistp256"),
        sshString(o.q ?? p256Point()),
        sshString(o.application ?? "ssh:"),
        o.extra ?? Buffer.alloc(0),
    ]);
}

const line = (type: string, blob: Buffer, comment = "alice@yubikey") => `${type} ${blob.toString("base64")} ${comment}`;

const SK_ED = line(ED_TYPE, skEd25519Blob());
const SK_EC = line(EC_TYPE, skEcdsaBlob({ application: "ssh:pka-fleet" }), "alice@nitrokey");

/** `ssh-keygen -l -f` of one line: "bits SHA256:... comment (TYPE)". */
function sshKeygenFingerprint(keyLine: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-sk-"));
    try {
        fs.writeFileSync(path.join(dir, "k.pub"), keyLine + "\n");
        return execFileSync("ssh-keygen", ["-l", "-f", path.join(dir, "k.pub")], { encoding: "utf8" }).trim();
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("security keys: parsing and fingerprints", () => {
    it("reads both sk types: type, size, curve, application and the fingerprint ssh-keygen -l prints", function () {
        requireReal(this, { commands: ["ssh-keygen"] });
        const ed = parsePublicKey(SK_ED);
        assert.equal(ed.type, "sk-ed25519");
        assert.equal(ed.bits, 256);
        assert.equal(ed.curve, undefined);
        assert.equal(ed.application, "ssh:");
        assert.equal(ed.publicKey, SK_ED);
        assert.equal(sshKeygenFingerprint(SK_ED), `256 ${ed.fingerprint} alice@yubikey (ED25519-SK)`);
        const ec = parsePublicKey(SK_EC);
        assert.equal(ec.type, "sk-ecdsa");
        assert.equal(ec.bits, 256);
        assert.equal(ec.curve, "nistp256");
        assert.equal(ec.application, "ssh:pka-fleet");
        assert.equal(sshKeygenFingerprint(SK_EC), `256 ${ec.fingerprint} alice@nitrokey (ECDSA-SK)`);
        assert.match(ed.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    });

    const hostile: [string, string, RegExp][] = [
        [
            "trailing bytes",
            line(ED_TYPE, skEd25519Blob({ extra: Buffer.from([0]) })),
            /1 unexpected bytes after the key/,
        ],
        [
            "trailing bytes (ecdsa)",
            line(EC_TYPE, skEcdsaBlob({ extra: Buffer.alloc(4) })),
            /4 unexpected bytes after the key/,
        ],
        ["a truncated blob", line(ED_TYPE, skEd25519Blob().subarray(0, 60)), /truncated or corrupt/],
        ["no application", line(ED_TYPE, skEd25519Blob().subarray(0, 4 + ED_TYPE.length + 36)), /truncated/],
        [
            "a 31-byte ed25519 key",
            line(ED_TYPE, skEd25519Blob({ pk: crypto.randomBytes(31) })),
            /31 bytes, expected 32/,
        ],
        ["the wrong curve name", line(EC_TYPE, skEcdsaBlob({ curve: "nistp384" })), /names curve 'nistp384'/],
        ["a short point", line(EC_TYPE, skEcdsaBlob({ q: p256Point().subarray(0, 33) })), /33 bytes, expected 65/],
        [
            "a point off the curve",
            line(EC_TYPE, skEcdsaBlob({ q: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]) })),
            /not on the curve/,
        ],
        ["text sk-ed25519, blob sk-ecdsa", line(ED_TYPE, skEcdsaBlob()), /type prefix mismatch/],
        ["text ssh-ed25519, blob sk-ed25519", line("ssh-ed25519", skEd25519Blob()), /type prefix mismatch/],
        [
            "an application not starting with ssh:",
            line(ED_TYPE, skEd25519Blob({ application: "https://evil.example" })),
            /application is 'https:\/\/evil.example', which does not start with "ssh:"/,
        ],
        [
            "an over-long application",
            line(ED_TYPE, skEd25519Blob({ application: "ssh:" + "a".repeat(300) })),
            /application is 304 bytes .*more than the 255/,
        ],
        [
            "an application with a NUL",
            line(EC_TYPE, skEcdsaBlob({ application: "ssh:\0x" })),
            /application \('ssh:\?x'\) holds spaces or non-printable bytes/,
        ],
    ];
    for (const [what, bad, re] of hostile) {
        it(`refuses ${what}: a clear error naming the input, and the whole spec is refused`, () => {
            assert.throws(
                () => parsePublicKey(bad, "alice.pub"),
                (e: Error) => e instanceof KeyError && e.message.startsWith("alice.pub: ") && re.test(e.message),
            );
            // With a good user beside it: nothing of the spec gets to a document.
            assert.throws(
                () =>
                    validateAccessSpec({
                        users: [
                            { name: "bob", sudo: "none", keys: [SK_ED] },
                            { name: "alice", sudo: "none", keys: [SK_EC, bad] },
                        ],
                    }),
                (e: Error) =>
                    e instanceof AccessSpecError && /^users\[1\]\.keys\[1\]: /.test(e.message) && re.test(e.message),
            );
        });
    }
});

describe("security keys: the key rules", () => {
    it("are allowed for a person by default, in the spec and by judgeKey", () => {
        const spec = validateAccessSpec({ users: [{ name: "alice", sudo: "none", keys: [SK_ED, SK_EC] }] });
        assert.equal(spec.users[0].keys.length, 2);
        assert.ok(spec.users[0].keys.every((k) => k.startsWith("sk-")));
        assert.deepEqual(judgeKey(parsePublicKey(SK_ED)), []);
        assert.deepEqual(judgeKey(parsePublicKey(SK_EC)), []);
    });

    it("are refused when allowedTypes leaves them out, naming the type and the setting", () => {
        const keyRules = keyRulesFromPolicyConfig({ "ssh-key-algorithm": { allowedTypes: ["ed25519", "sk-ecdsa"] } });
        assert.throws(
            () => validateAccessSpec({ users: [{ name: "alice", sudo: "none", keys: [SK_ED] }] }, { keyRules }),
            /users\[0\]\.keys\[0\]: sk-ed25519 keys are not allowed; expected ed25519 or a security key \(sk-ecdsa\) \(allowedTypes lists ed25519, sk-ecdsa\)/,
        );
        assert.equal(
            validateAccessSpec({ users: [{ name: "alice", sudo: "none", keys: [SK_EC] }] }, { keyRules }).users.length,
            1,
        );
        // sk-ecdsa is P-256: a rule that drops nistp256 drops it too
        assert.match(
            judgeKey(parsePublicKey(SK_EC), { allowedCurves: ["nistp384"] }).join(),
            /ecdsa curve nistp256 is not allowed/,
        );
        // the ssh-keygen -t names and the wire names are read as the rule names
        assert.deepEqual(keyRulesFromPolicyConfig({ "ssh-key-algorithm": { allowedTypes: ["ed25519-sk", EC_TYPE] } }), {
            allowedTypes: ["sk-ed25519", "sk-ecdsa"],
        });
    });

    it("are refused for a service account, saying why (no person to touch the authenticator)", () => {
        for (const l of [SK_ED, SK_EC]) {
            const v = judgeKey(parsePublicKey(l), undefined, { service: true, label: "svc.pub" });
            assert.equal(v.length, 1);
            assert.match(v[0], /^svc\.pub: a service account's key cannot be a security key \(sk-e/);
            assert.match(v[0], /needs a person to touch the authenticator/);
            assert.doesNotMatch(v[0], /expected .*sk-/, "the accepted types for a service account list no sk type");
        }
        assert.match(
            judgeKeySpec({ type: "ed25519-sk" }, undefined, { service: true }).join(),
            /cannot be a security key/,
        );
    });

    it("PkaFleet: a person may give sk keys; the service account may not", () => {
        const ok = planFleet("f", { users: [{ name: "alice", publicKeys: [SK_ED, SK_EC] }] }, "dev");
        assert.deepEqual(ok.users[0].plainKeys, [SK_ED, SK_EC]);
        assert.throws(
            () => planFleet("f", { users: [{ name: "svc_user", service: true, publicKeys: [SK_EC] }] }, "dev"),
            /`users\[0\]\.publicKeys\[0\]` \(svc_user is a service account\): a service account's key cannot be a security key \(sk-ecdsa\)/,
        );
    });

    it("PkaFleet: a service account's key known only at deployment (an Output) is refused if it is a security key", () => {
        const users = [
            { name: "alice", publicKeys: [{ output: true }] },
            { name: "svc_user", service: true, publicKeys: [{ output: true }] },
        ];
        const plan = planFleet("f", { users }, "dev");
        const late = (svcKey: string) => [
            [{ key: SK_ED, input: "users[0].publicKeys[0]", secret: false }],
            [{ key: svcKey, input: "users[1].publicKeys[0]", secret: false }],
        ];
        assert.throws(
            () => checkDeploySpec(plan, plainKeyInputs(users), late(SK_EC)),
            /`users\[1\]\.publicKeys\[0\]` \(svc_user is a service account\): a service account's key cannot be a security key \(sk-ecdsa\)/,
        );
        const soft = line("ssh-ed25519", Buffer.concat([sshString("ssh-ed25519"), sshString(crypto.randomBytes(32))]));
        const ok = checkDeploySpec(plan, plainKeyInputs(users), late(soft));
        assert.deepEqual(
            ok.spec.users.map((u) => [u.name, u.keys[0].split(" ")[0]]),
            [
                ["alice", ED_TYPE],
                ["svc_user", "ssh-ed25519"],
            ],
        );
    });

    it("cannot be generated (keygen, SshKeyPair, PkaFleet generateKey): the refusal says how to enroll one", () => {
        for (const type of ["sk-ed25519", "ed25519-sk", "ecdsa-sk", ED_TYPE])
            assert.throws(
                () => resolveKeySpec({ type }),
                /type: a security key .* cannot be generated here.*ssh-keygen -t ed25519-sk/,
            );
        assert.throws(
            () => planSshKeyPair({ generate: { keyType: "sk-ed25519" as never, service: true } }),
            /`generate\.keyType`: a security key \(sk-ed25519\) cannot be generated here/,
        );
        // an SshKeyPair importing a person's sk public key is fine (not for EC2, which imports only rsa and ed25519)
        assert.equal(planSshKeyPair({ publicKey: SK_ED }).source, "import");
        assert.throws(
            () => planSshKeyPair({ publicKey: SK_ED, ec2KeyName: "alice" }),
            /EC2 can import only rsa and ed25519 keys, not sk-ed25519/,
        );
    });
});

describe("security keys: the policy pack", () => {
    const args = (props: Record<string, unknown>, config: object) => ({
        type: "aws:ssm/parameter:Parameter",
        name: "access",
        urn: "urn:pulumi:dev::p::aws:ssm/parameter:Parameter::access",
        props,
        opts: {},
        stackTags: new Map(),
        isType: () => false,
        asType: () => undefined,
        getConfig: () => config,
        notApplicable: (): never => {
            throw new Error("notApplicable");
        },
    });
    async function violations(config: object): Promise<string[]> {
        const value = JSON.stringify({ users: [{ name: "alice", sudo: "none", keys: [SK_ED, SK_EC] }] });
        const out: string[] = [];
        const fn = sshKeyAlgorithm.validateResource as (a: unknown, r: (m: string) => void) => void;
        await fn(args({ type: "String", value }, config), (m) => out.push(m));
        // key lines in any text are found too (an SSM document, user data)
        await fn(
            {
                ...args({ userData: `echo '${SK_ED}' >> ~/.ssh/authorized_keys` }, config),
                type: "aws:ec2/instance:Instance",
            },
            (m) => out.push(m),
        );
        return out;
    }
    it("ssh-key-algorithm allows sk keys by default", async () => {
        assert.deepEqual(await violations({}), []);
    });
    it("ssh-key-algorithm denies them when allowedTypes leaves them out", async () => {
        const v = await violations({ allowedTypes: ["ed25519", "ecdsa", "rsa"] });
        assert.ok(
            v.some((m) => /users\[0\]\.keys\[0\] \(user alice\): sk-ed25519 keys are not allowed/.test(m)),
            v.join("\n"),
        );
        assert.ok(
            v.some((m) => /users\[0\]\.keys\[1\] \(user alice\): sk-ecdsa keys are not allowed/.test(m)),
            v.join("\n"),
        );
        assert.ok(
            v.some((m) => /userData: sk-ed25519 keys are not allowed/.test(m)),
            v.join("\n"),
        );
    });
});

describe("security keys: pka check-key", function () {
    let dir = "";
    before(function () {
        this.timeout(patience(180_000));
        ensureBuilt();
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-sk-cli-"));
        fs.writeFileSync(path.join(dir, "ed.pub"), SK_ED + "\n");
        fs.writeFileSync(path.join(dir, "ec.pub"), SK_EC + "\n");
        fs.writeFileSync(path.join(dir, "bad.pub"), line(ED_TYPE, skEd25519Blob({ application: "web:x" })) + "\n");
        fs.writeFileSync(
            path.join(dir, "cfg.json"),
            JSON.stringify({ "ssh-key-algorithm": { allowedTypes: ["ed25519", "rsa"] } }),
        );
    });
    after(() => {
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });
    const pka = (...a: string[]) =>
        spawnSync(process.execPath, [PKA_CLI, "check-key", ...a], { cwd: dir, encoding: "utf8" });

    it("allows them by default, printing type, fingerprint and application", () => {
        const r = pka("ed.pub");
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.match(
            r.stdout,
            new RegExp(
                `^ed\\.pub: sk-ed25519 256 public key ${parsePublicKey(SK_ED).fingerprint.replace(/\+/g, "\\+")} alice@yubikey$`,
                "m",
            ),
        );
        assert.match(r.stdout, /^ed\.pub: allowed$/m);
        const j = JSON.parse(pka("ec.pub", "--json").stdout);
        assert.equal(j.ok, true);
        assert.equal(j.type, "sk-ecdsa");
        assert.equal(j.curve, "nistp256");
        assert.equal(j.application, "ssh:pka-fleet");
    });
    it("refuses them with --service (exit 1, the reason), and when the config leaves them out", () => {
        for (const f of ["ed.pub", "ec.pub"]) {
            const r = pka(f, "--service");
            assert.equal(r.status, 1, r.stdout + r.stderr);
            assert.match(
                r.stdout,
                /violation: .*a service account's key cannot be a security key .*touch the authenticator/,
            );
        }
        const c = pka("ed.pub", "--config", "cfg.json");
        assert.equal(c.status, 1);
        assert.match(c.stdout, /sk-ed25519 keys are not allowed; .*\(allowedTypes lists ed25519, rsa\)/);
    });
    it("a hostile sk key is not a key: exit 2 naming the file", () => {
        const r = pka("bad.pub");
        assert.equal(r.status, 2);
        assert.match(
            r.stderr,
            /pka check-key: bad\.pub: the sk-ssh-ed25519@openssh\.com key's application is 'web:x', which does not start with "ssh:"/,
        );
    });
});

describe("security keys on a real sshd host, installed by the real script", function () {
    let hosts: SandboxHost[] = [];
    let host: SandboxHost;
    let dir = "";
    const NEEDS = { root: true, commands: ["sshd", "ssh", "ssh-keygen", "unshare", "nsenter"] };

    before(async function () {
        requireReal(this, NEEDS);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-sk-host-"));
        hosts = await startHosts(1, { namePrefix: "pka-sk", readyTimeoutMs: patience(10_000) });
        [host] = hosts;
    });
    after(async function () {
        await stopHosts(hosts);
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("sshd offers the sk algorithms for user keys", async () => {
        const r = await host.exec(["sshd", "-T", "-f", "/etc/ssh/sshd_config"]);
        assert.equal(r.code, 0, r.stderr);
        const algs = /^pubkeyacceptedalgorithms (.*)$/m.exec(r.stdout)?.[1].split(",") ?? [];
        assert.ok(algs.includes(ED_TYPE), algs.join(","));
        assert.ok(algs.includes(EC_TYPE), algs.join(","));
    });

    it("the script writes the sk lines; sshd -t passes and a software key in the same file still logs in", async () => {
        const priv = path.join(dir, "alice");
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "alice@laptop", "-f", priv]);
        const soft = fs.readFileSync(`${priv}.pub`, "utf8").trim();
        // the sk lines first: sshd must read past them to the software key
        const spec = validateAccessSpec({ users: [{ name: "alice", sudo: "none", keys: [SK_ED, SK_EC, soft] }] });
        const r = await runDocumentLikeAgent(host, renderDocumentJson(), documentParameters(spec));
        assert.equal(r.responseCode, 0, `script failed: ${r.stderr}\n${r.stdout}`);
        assert.match(r.stdout, /^PKA-USER alice created/m);
        const ak = fs.readFileSync(host.path("/home/alice/.ssh/authorized_keys"), "utf8");
        for (const l of [SK_ED, SK_EC, soft])
            assert.ok(ak.split("\n").includes(l), `authorized_keys holds ${l}\n${ak}`);
        // every line of the file is a key ssh-keygen reads, the sk ones with our fingerprints
        const listed = await host.exec(["ssh-keygen", "-l", "-f", "/home/alice/.ssh/authorized_keys"]);
        assert.equal(listed.code, 0, listed.stderr);
        for (const l of [SK_ED, SK_EC]) assert.ok(listed.stdout.includes(parsePublicKey(l).fingerprint), listed.stdout);
        assert.match(listed.stdout, /\(ED25519-SK\)/);
        assert.match(listed.stdout, /\(ECDSA-SK\)/);
        const t = await host.exec(["sshd", "-t", "-f", "/etc/ssh/sshd_config"]);
        assert.equal(t.code, 0, t.stderr);
        const known = path.join(dir, "known_hosts");
        fs.writeFileSync(known, host.knownHostsLines().join("\n") + "\n");
        const login = await sshRun(host, {
            user: "alice",
            identityFile: priv,
            knownHostsFile: known,
            command: "id -un",
        });
        assert.equal(login.code, 0, `alice's software key should log in: ${login.stderr}\n${host.log().slice(-2000)}`);
        assert.equal(login.stdout.trim(), "alice");
    });
});
