/**
 * The setup document on real hosts: sandboxed sshd (local/sandbox.ts), the document run the way
 * the SSM agent runs it (local/agent.ts), and logins with the real ssh client.
 */
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { validateAccessSpec } from "../core/accessSpec";
import { AccessSpecError } from "../core/accessSpecTypes";
import { documentParameters, renderDocumentJson } from "../core/document";
import { AgentRunResult, runDocumentLikeAgent } from "../local/agent";
import { HOST_PATH, SandboxHost, sshRun, startHosts, stopHosts } from "../local/sandbox";
import { parseHostKeyLines } from "../core/hostKeys";
import { requireReal } from "./support/env";
import { loginKeys } from "./support/loginKeys";
import { patience } from "./support/patience";

const DOC = renderDocumentJson();
const NEEDS = { root: true, commands: ["sshd", "ssh", "ssh-keygen", "sudo", "visudo", "unshare", "nsenter"] };

let dir = "";
const key = loginKeys(() => dir);

interface UserIn {
    name: string;
    sudo?: "nopasswd" | "none";
    keys: string[];
    keyOptions?: string;
}
function paramsFor(users: UserIn[]): Record<string, string[]> {
    return documentParameters(
        validateAccessSpec({ users: users.map((u) => ({ sudo: "none", ...u, keys: u.keys.map((k) => key(k).pub) })) }),
    );
}
async function apply(host: SandboxHost, users: UserIn[], env?: Record<string, string>): Promise<AgentRunResult> {
    return runDocumentLikeAgent(host, DOC, paramsFor(users), { env });
}
async function applyOk(host: SandboxHost, users: UserIn[]): Promise<AgentRunResult> {
    const r = await apply(host, users);
    assert.equal(r.responseCode, 0, `script failed: ${r.stderr}\n${r.stdout}`);
    assert.match(r.stdout, /^PKA-SUMMARY status=ok /m);
    return r;
}

/** Pins the host keys the script printed (the provisioner does the same) and logs in. */
function knownHosts(host: SandboxHost, r: AgentRunResult): string {
    const lines = r.stdout
        .split("\n")
        .filter((l) => l.startsWith("PKA-HOSTKEY "))
        .map((l) => `[127.0.0.1]:${host.port} ${l.slice(12)}`);
    assert.deepEqual(lines, host.knownHostsLines(), "the script printed the host's keys");
    const file = path.join(dir, `known_hosts-${host.name}`);
    fs.writeFileSync(file, lines.join("\n") + "\n");
    return file;
}
let pinned: Record<string, string> = {};
async function login(host: SandboxHost, user: string, k: string, command = "true") {
    return sshRun(host, { user, identityFile: key(k).priv, knownHostsFile: pinned[host.name], command });
}
async function assertLogin(host: SandboxHost, user: string, k: string) {
    const r = await login(host, user, k, "id -un");
    assert.equal(r.code, 0, `${user} with key ${k} should log in: ${r.stderr}`);
    assert.equal(r.stdout.trim(), user);
}
async function assertRefused(host: SandboxHost, user: string, k: string) {
    const r = await login(host, user, k);
    assert.equal(r.code, 255, `${user} with key ${k} should be refused`);
    assert.match(r.stderr, /Permission denied \(publickey\)/);
}
async function assertSudo(host: SandboxHost, user: string, k: string, works: boolean) {
    const r = await login(host, user, k, "sudo -n true");
    if (works) assert.equal(r.code, 0, `sudo for ${user}: ${r.stderr}`);
    else {
        assert.notEqual(r.code, 0, `sudo for ${user} should be refused`);
        assert.notEqual(r.code, 255, `${user} should log in: ${r.stderr}`);
        assert.match(r.stderr, /password is required|not allowed|not in the sudoers/);
    }
}

/** content hash, mode, owner and mtime of every file the script may touch. */
function snapshot(host: SandboxHost): Record<string, string> {
    const out: Record<string, string> = {};
    const add = (p: string) => {
        const real = host.path(p);
        let st: fs.Stats;
        try {
            st = fs.lstatSync(real);
        } catch {
            return;
        }
        const content = st.isFile()
            ? createHash("sha256").update(fs.readFileSync(real)).digest("hex")
            : st.isSymbolicLink()
              ? fs.readlinkSync(real)
              : "dir";
        out[p] = `${content} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.mtimeMs}`;
    };
    const list = (p: string) => {
        try {
            return fs.readdirSync(host.path(p)).map((f) => `${p}/${f}`);
        } catch {
            return [];
        }
    };
    for (const f of [
        "/etc/passwd",
        "/etc/shadow",
        "/etc/group",
        "/etc/gshadow",
        "/etc/sudoers",
        "/etc/sudoers.d",
        "/var/lib/pka-fleet",
    ])
        add(f);
    for (const f of [...list("/etc/sudoers.d"), ...list("/var/lib/pka-fleet")]) add(f);
    for (const h of list("/home")) {
        add(h);
        add(`${h}/.ssh`);
        for (const f of list(`${h}/.ssh`)) add(f);
    }
    return out;
}
/** Only what "nothing changed" must cover: passwd, sudoers, every authorized_keys. */
function accessFiles(host: SandboxHost): Record<string, string> {
    const s = snapshot(host);
    return Object.fromEntries(
        Object.entries(s).filter(([p]) => /^\/etc\/(passwd|shadow|group|sudoers)|authorized_keys$/.test(p)),
    );
}

function block(host: SandboxHost, user: string): string {
    return fs.readFileSync(host.path(`/home/${user}/.ssh/authorized_keys`), "utf8");
}

/** Runs the script directly with the given environment, like an agent that skips validation. */
async function rawRun(host: SandboxHost, env: Record<string, string>, pathOverride?: string): Promise<AgentRunResult> {
    const script = JSON.parse(DOC).mainSteps[0].inputs.runCommand.join("\n");
    const file = `/tmp/raw-${Date.now()}-${Math.random().toString(16).slice(2)}.sh`;
    fs.writeFileSync(host.path(file), script + "\n");
    const r = await host.exec(["/bin/sh", file], { env: { ...env, ...(pathOverride ? { PATH: pathOverride } : {}) } });
    fs.rmSync(host.path(file));
    return {
        status: r.code === 0 ? "Success" : "Failed",
        responseCode: r.code ?? -1,
        standardOutputContent: r.stdout,
        standardErrorContent: r.stderr,
        stdout: r.stdout,
        stderr: r.stderr,
        script,
        durationMs: 0,
    };
}
function manifestEnv(manifest: string): Record<string, string> {
    return {
        SSM_AccessSpec: Buffer.from(manifest, "utf8").toString("base64"),
        SSM_AccessSpecSha256: createHash("sha256").update(manifest, "utf8").digest("hex"),
    };
}
const HEADER = `pka-access 1 ${"0".repeat(64)}`;

/** A PATH of links to every command in /usr/bin and /usr/sbin except `without` (made inside the host). */
function pathWithout(host: SandboxHost, name: string, without: string[]): string {
    const d = `/tmp/path-${name}`;
    fs.mkdirSync(host.path(d), { recursive: true });
    for (const bin of ["/usr/bin", "/usr/sbin"]) {
        for (const f of fs.readdirSync(bin)) {
            if (without.includes(f) || fs.existsSync(host.path(`${d}/${f}`))) continue;
            fs.symlinkSync(`${bin}/${f}`, host.path(`${d}/${f}`));
        }
    }
    return d;
}

describe("setup script on real sshd hosts", function () {
    let hosts: SandboxHost[] = [];
    let a: SandboxHost;
    let b: SandboxHost;
    let realBefore: Record<string, string> = {};
    const realFiles = ["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/sudoers"];

    before(async function () {
        requireReal(this, NEEDS);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-hosts-"));
        realBefore = Object.fromEntries(realFiles.map((f) => [f, fs.readFileSync(f, "utf8")]));
        realBefore["sudoers.d"] = fs.readdirSync("/etc/sudoers.d").sort().join(",");
        realBefore["/home"] = fs.readdirSync("/home").sort().join(",");
        realBefore["state"] = String(fs.existsSync("/var/lib/pka-fleet"));
        hosts = await startHosts(2, { namePrefix: "pka-script", readyTimeoutMs: patience(10_000) });
        [a, b] = hosts;
        pinned = {};
    });

    after(async function () {
        await stopHosts(hosts);
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("a listed key logs in with sudo; sudo none logs in without; an unlisted key is refused", async () => {
        const r = await applyOk(a, [
            { name: "alice", sudo: "nopasswd", keys: ["alice"], keyOptions: "restrict" },
            { name: "bob", sudo: "none", keys: ["bob"] },
        ]);
        assert.match(r.stdout, /^PKA-USER alice created sudo=nopasswd$/m);
        pinned[a.name] = knownHosts(a, r);
        await assertLogin(a, "alice", "alice");
        await assertSudo(a, "alice", "alice", true);
        await assertLogin(a, "bob", "bob");
        await assertSudo(a, "bob", "bob", false);
        await assertRefused(a, "alice", "mallory");
        await assertRefused(a, "bob", "alice");
        // what the contract promises on disk
        const st = (p: string) => fs.statSync(a.path(p));
        const uid = st("/home/alice").uid;
        assert.equal(st("/home/alice/.ssh").mode & 0o777, 0o700);
        assert.equal(st("/home/alice/.ssh/authorized_keys").mode & 0o777, 0o600);
        assert.equal(st("/home/alice/.ssh/authorized_keys").uid, uid);
        assert.equal(st("/etc/sudoers.d/90-pka-alice").mode & 0o777, 0o440);
        assert.ok(!fs.existsSync(a.path("/etc/sudoers.d/90-pka-bob")));
        assert.match(fs.readFileSync(a.path("/etc/shadow"), "utf8"), /^alice:\*:/m);
        assert.equal(
            fs.readFileSync(a.path("/etc/sudoers"), "utf8"),
            realBefore["/etc/sudoers"],
            "never touches /etc/sudoers",
        );
    });

    it("a second run with the same spec changes no file (content, mode, owner, mtime)", async () => {
        const before = snapshot(a);
        const r = await applyOk(a, [
            { name: "alice", sudo: "nopasswd", keys: ["alice"], keyOptions: "restrict" },
            { name: "bob", sudo: "none", keys: ["bob"] },
        ]);
        assert.match(r.stdout, / changes=0 conflicts=0$/m);
        assert.doesNotMatch(r.stdout, /PKA-USER/);
        assert.deepEqual(snapshot(a), before);
    });

    it("keeps a line a person added outside the block, and a key dropped from the spec is refused", async () => {
        const hand = `from="127.0.0.1" ${key("hand").pub}`;
        const added = await a.sh(`printf '%s\\n' '${hand}' >>/home/alice/.ssh/authorized_keys`);
        assert.equal(added.code, 0);
        await assertLogin(a, "alice", "hand");
        await applyOk(a, [
            { name: "alice", sudo: "nopasswd", keys: ["alice2"], keyOptions: "restrict" },
            { name: "bob", sudo: "none", keys: ["bob"] },
        ]);
        await assertRefused(a, "alice", "alice");
        await assertLogin(a, "alice", "alice2");
        await assertLogin(a, "alice", "hand");
        const text = block(a, "alice");
        assert.ok(text.endsWith(`${hand}\n`), text);
        assert.equal(text.split("# BEGIN pka-fleet").length, 2);
    });

    it("sudo nopasswd -> none removes the drop-in; a user dropped from the spec can no longer log in", async () => {
        await applyOk(a, [
            { name: "alice", sudo: "none", keys: ["alice2"] },
            { name: "bob", sudo: "none", keys: ["bob"] },
            { name: "carol", sudo: "nopasswd", keys: ["carol"] },
        ]);
        assert.ok(!fs.existsSync(a.path("/etc/sudoers.d/90-pka-alice")));
        await assertSudo(a, "alice", "alice2", false);
        await assertSudo(a, "carol", "carol", true);
        const r = await applyOk(a, [{ name: "alice", sudo: "nopasswd", keys: ["alice2"] }]);
        assert.match(r.stdout, /^PKA-REVOKED bob$/m);
        assert.match(r.stdout, /^PKA-REVOKED carol$/m);
        await assertRefused(a, "bob", "bob");
        await assertRefused(a, "carol", "carol");
        assert.ok(!fs.existsSync(a.path("/etc/sudoers.d/90-pka-carol")));
        // the accounts stay (files, processes, cron jobs may still belong to them); only access goes
        assert.match(fs.readFileSync(a.path("/etc/passwd"), "utf8"), /^carol:/m);
        assert.equal(fs.readFileSync(a.path("/var/lib/pka-fleet/managed-users"), "utf8"), "alice\n");
        await assertSudo(a, "alice", "alice2", true);
    });

    it("adopts an existing account only when the spec says so, never lifts a '!' lock, and fixes loose modes as the user", async () => {
        const r0 = await a.sh(
            "useradd -m dave && mkdir -m 777 /home/dave/.ssh && touch /home/dave/.ssh/authorized_keys && chown -R dave: /home/dave/.ssh && chmod 666 /home/dave/.ssh/authorized_keys && grep '^dave:' /etc/shadow",
        );
        assert.match(r0.stdout, /^dave:!/);
        const shadowBefore = fs.readFileSync(a.path("/etc/shadow"), "utf8");
        // Not created by pka-fleet and not adopted: left exactly as it is, the other users applied.
        const refused = await apply(a, [
            { name: "alice", sudo: "nopasswd", keys: ["alice2"] },
            { name: "dave", sudo: "nopasswd", keys: ["dave"] },
        ]);
        assert.equal(refused.responseCode, 19, refused.stderr);
        assert.match(refused.stderr, /^PKA-CONFLICT dave exists and was not created by pka-fleet; set adopt: true/m);
        assert.match(refused.stdout, /^PKA-SUMMARY status=partial .* conflicts=1$/m);
        assert.equal(fs.statSync(a.path("/home/dave/.ssh/authorized_keys")).mode & 0o777, 0o666);
        assert.ok(!fs.existsSync(a.path("/etc/sudoers.d/90-pka-dave")));
        assert.equal(fs.readFileSync(a.path("/etc/shadow"), "utf8"), shadowBefore);
        await assertSudo(a, "alice", "alice2", true);
        // Adopted: keys and modes are fixed (as dave), the lock stays and is reported.
        const params = documentParameters(
            validateAccessSpec({
                users: [
                    { name: "alice", sudo: "nopasswd", keys: [key("alice2").pub] },
                    { name: "dave", sudo: "none", keys: [key("dave").pub], adopt: true },
                ],
            }),
        );
        const r = await runDocumentLikeAgent(a, DOC, params);
        assert.equal(r.responseCode, 0, r.stderr);
        assert.match(r.stdout, /^PKA-USER dave adopted sudo=none$/m);
        assert.match(r.stdout, /^PKA-WARN dave password-locked/m);
        assert.match(fs.readFileSync(a.path("/etc/shadow"), "utf8"), /^dave:!/m);
        assert.equal(fs.statSync(a.path("/home/dave/.ssh/authorized_keys")).mode & 0o777, 0o600);
        assert.equal(fs.statSync(a.path("/home/dave/.ssh")).mode & 0o777, 0o700);
        await assertRefused(a, "dave", "dave");
        // Once the lock is lifted by hand, the key the spec gave works.
        assert.equal((await a.sh("usermod -p '*' dave")).code, 0);
        await assertLogin(a, "dave", "dave");
        assert.match(fs.readFileSync(a.path("/var/lib/pka-fleet/managed-users"), "utf8"), /^dave$/m);
    });

    it("refuses hostile values in the TypeScript API with a clear error naming the path", () => {
        const ok = key("alice").pub;
        const hostile: [Record<string, unknown>, string][] = [
            [{ name: "root", keys: [ok] }, "users[0].name"],
            [{ name: "ec2-user", keys: [ok] }, "users[0].name"],
            [{ name: "../../etc/passwd", keys: [ok] }, "users[0].name"],
            [{ name: "/root", keys: [ok] }, "users[0].name"],
            [{ name: "a;reboot", keys: [ok] }, "users[0].name"],
            [{ name: "$(reboot)", keys: [ok] }, "users[0].name"],
            [{ name: "`reboot`", keys: [ok] }, "users[0].name"],
            [{ name: "a\nroot", keys: [ok] }, "users[0].name"],
            [{ name: "-o", keys: [ok] }, "users[0].name"],
            [{ name: "x".repeat(200), keys: [ok] }, "users[0].name"],
            [{ name: "alice", sudo: "ALL=(ALL) ALL", keys: [ok] }, "users[0].sudo"],
            [{ name: "alice", sudo: "nopasswd\nroot ALL=(ALL) NOPASSWD: ALL", keys: [ok] }, "users[0].sudo"],
            [{ name: "alice", keys: [`${ok}\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB evil`] }, "users[0].keys[0]"],
            [{ name: "alice", keys: [`${ok}\r`] }, "users[0].keys[0]"],
            [{ name: "alice", keys: [`command="sh" ${ok}`] }, "users[0].keys[0]"],
            [{ name: "alice", keys: ["ssh-ed25519 $(reboot)"] }, "users[0].keys[0]"],
            [{ name: "alice", keys: ["ssh-ed25519 `reboot`"] }, "users[0].keys[0]"],
            [{ name: "alice", keys: ["ssh-ed25519 AAAA!!!!"] }, "users[0].keys[0]"],
            [{ name: "alice", keys: ["ssh-ed25519 " + "A".repeat(20000)] }, "users[0].keys[0]"],
            [{ name: "alice", keys: [ok.replace("ssh-ed25519", "ssh-dss")] }, "users[0].keys[0]"],
            [{ name: "alice", keys: [ok], keyOptions: "restrict\nssh-ed25519 AAAA" }, "users[0].keyOptions"],
            [{ name: "alice", keys: [ok], keyOptions: 'command="$(reboot)"' }, "users[0].keyOptions"],
            [{ name: "alice", keys: [ok], keyOptions: 'command="`reboot`"' }, "users[0].keyOptions"],
            [{ name: "alice", keys: [ok], keyOptions: 'command="x\\"; reboot; \\""' }, "users[0].keyOptions"],
            [{ name: "alice", keys: [ok], keyOptions: 'environment="LD_PRELOAD=/tmp/x"' }, "users[0].keyOptions"],
            [{ name: "alice", keys: [ok], keyOptions: 'from="*" ssh-ed25519 AAAA' }, "users[0].keyOptions"],
            [{ name: "alice", keys: [ok], keyOptions: 'from="10.0.0.0/8' }, "users[0].keyOptions"],
            [{ name: "alice", keys: [ok], keyOptions: 'from="$(reboot)"' }, "users[0].keyOptions"],
            [{ name: "alice", keys: [ok], keyOptions: 'permitopen="0.0.0.0:22;reboot"' }, "users[0].keyOptions"],
            [{ name: "alice", keys: [ok], keyOptions: "x".repeat(5000) }, "users[0].keyOptions"],
            [{ name: "alice", keys: [ok], keyOptions: 'expiry-time="20301301; reboot"' }, "users[0].keyOptions"],
            [{ name: "alice", keys: [ok], extra: "$(reboot)" }, "users[0].extra"],
        ];
        assert.ok(hostile.length >= 30);
        for (const [u, p] of hostile) {
            assert.throws(
                () => validateAccessSpec({ users: [{ sudo: "none", ...u }] }),
                (e: unknown) =>
                    e instanceof AccessSpecError &&
                    e.path === p &&
                    e.message.startsWith(`${p}: `) &&
                    e.message.length > p.length + 10,
                JSON.stringify(u).slice(0, 80),
            );
        }
    });

    it("the script itself refuses hostile values as the agent would hand them over, changing nothing", async () => {
        const ok = key("alice2").pub;
        const envs: [string, Record<string, string>, number][] = [
            ["no parameters (old agent)", {}, 9],
            ["only the spec", { SSM_AccessSpec: "AAAA" }, 10],
            ["not base64", { SSM_AccessSpec: "$(reboot)", SSM_AccessSpecSha256: "0".repeat(64) }, 10],
            ["backticks", { SSM_AccessSpec: "`reboot`", SSM_AccessSpecSha256: "0".repeat(64) }, 10],
            ["newline in base64", { SSM_AccessSpec: "AAAA\nAAAA", SSM_AccessSpecSha256: "0".repeat(64) }, 10],
            ["option-like value", { SSM_AccessSpec: "--help", SSM_AccessSpecSha256: "0".repeat(64) }, 10],
            ["over-long value", { SSM_AccessSpec: "A".repeat(70000), SSM_AccessSpecSha256: "0".repeat(64) }, 10],
            ["bad sha", { SSM_AccessSpec: "AAAA", SSM_AccessSpecSha256: "$(reboot)" }, 10],
            ["upper-case sha", { SSM_AccessSpec: "AAAA", SSM_AccessSpecSha256: "A".repeat(64) }, 10],
            ["invalid base64 padding", { SSM_AccessSpec: "A===", SSM_AccessSpecSha256: "0".repeat(64) }, 11],
            [
                "sha mismatch (truncated spec)",
                { ...manifestEnv(`${HEADER}\nu alice none\nk alice ${ok}\n`), SSM_AccessSpecSha256: "1".repeat(64) },
                11,
            ],
        ];
        const manifests: [string, string, number][] = [
            ["user root", `${HEADER}\nu root nopasswd\nk root ${ok}\n`, 12],
            ["user ec2-user", `${HEADER}\nu ec2-user none\nk ec2-user ${ok}\n`, 12],
            ["../ in name", `${HEADER}\nu ../etc none\n`, 12],
            ["absolute path name", `${HEADER}\nu /root none\n`, 12],
            ["$() in name", `${HEADER}\nu $(reboot) none\n`, 12],
            ["backtick name", `${HEADER}\nu \`reboot\` none\n`, 12],
            ["sudo spec injection", `${HEADER}\nu alice ALL=(ALL) NOPASSWD: ALL\n`, 12],
            ["CR in key", `${HEADER}\nu alice none\nk alice ${ok}\r\n`, 12],
            ["command injection in key", `${HEADER}\nu alice none\nk alice ssh-ed25519 AAAA$(reboot)\n`, 12],
            ["option injection", `${HEADER}\nu alice none\nk alice environment="LD_PRELOAD=/x" ${ok}\n`, 12],
            ["quote escape in command", `${HEADER}\nu alice none\nk alice command="a\\" ${ok}\n`, 12],
            ["unbalanced quote", `${HEADER}\nu alice none\nk alice from="10.0.0.0/8 ${ok}\n`, 12],
            ["keys of an undeclared user", `${HEADER}\nu alice none\nk mallory ${ok}\n`, 12],
            ["duplicate user", `${HEADER}\nu alice none\nu alice nopasswd\n`, 12],
            ["second header", `${HEADER}\n${HEADER}\nu alice none\n`, 12],
            ["no header", `u alice none\nk alice ${ok}\n`, 12],
            ["no final newline", `${HEADER}\nu alice none`, 12],
            ["NUL byte", `${HEADER}\nu alice none\0\n`, 12],
            ["over-long name", `${HEADER}\nu ${"a".repeat(40)} none\n`, 12],
        ];
        const cases: [string, Record<string, string>, number][] = [
            ...envs,
            ...manifests.map(([n, m, c]) => [n, manifestEnv(m), c] as [string, Record<string, string>, number]),
        ];
        assert.ok(cases.length >= 30, `${cases.length} cases`);
        const before = accessFiles(a);
        for (const [name, env, code] of cases) {
            const r = await rawRun(a, env);
            assert.equal(r.responseCode, code, `${name}: ${r.stderr}`);
            assert.match(r.stderr, new RegExp(`^PKA-ERROR code=${code} `, "m"), name);
        }
        assert.deepEqual(accessFiles(a), before);
        await assertLogin(a, "alice", "alice2");
    });

    it("skips a system account or a symlinked authorized_keys (applying the rest), and refuses missing sudo before changing anything", async () => {
        const prep = await a.sh(
            "useradd -r -M sysacct && useradd -m eve && mkdir -m 700 /home/eve/.ssh && chown eve: /home/eve/.ssh && ln -s /etc/shadow /home/eve/.ssh/authorized_keys",
        );
        assert.equal(prep.code, 0, prep.stderr);
        const base = { name: "alice", sudo: "nopasswd" as const, keys: ["alice2"] };
        const sys = await runDocumentLikeAgent(
            a,
            DOC,
            documentParameters(
                validateAccessSpec({
                    users: [
                        { ...base, keys: [key("alice2").pub] },
                        { name: "sysacct", sudo: "none", keys: [key("bob").pub], adopt: true },
                    ],
                }),
            ),
        );
        assert.equal(sys.responseCode, 19, sys.stderr);
        assert.match(sys.stderr, /^PKA-CONFLICT sysacct is a system account/m);
        assert.match(
            sys.stdout,
            /^PKA-REVOKED dave$/m,
            "dave, adopted before and now left out, is revoked in the same run",
        );
        const shadow = fs.readFileSync(a.path("/etc/shadow"));
        const before = accessFiles(a);
        const link = await runDocumentLikeAgent(
            a,
            DOC,
            documentParameters(
                validateAccessSpec({
                    users: [
                        { ...base, keys: [key("alice2").pub] },
                        { name: "eve", sudo: "nopasswd", keys: [key("bob").pub], adopt: true },
                    ],
                }),
            ),
        );
        assert.equal(link.responseCode, 19, link.stderr);
        assert.match(link.stderr, /^PKA-CONFLICT eve \/home\/eve\/.ssh\/authorized_keys is a symlink/m);
        assert.equal(fs.readlinkSync(a.path("/home/eve/.ssh/authorized_keys")), "/etc/shadow");
        // eve's account is adopted and her sudo rule follows the spec; her keys could not be written
        assert.ok(fs.existsSync(a.path("/etc/sudoers.d/90-pka-eve")));
        fs.rmSync(a.path("/etc/sudoers.d/90-pka-eve"));
        const noSudo = pathWithout(a, "nosudo", ["sudo"]);
        const ns = await apply(a, [base, { name: "frank", sudo: "nopasswd", keys: ["bob"] }], { PATH: noSudo });
        assert.equal(ns.responseCode, 14, ns.stderr);
        assert.match(ns.stderr, /sudo package is not installed/);
        const after = accessFiles(a);
        (delete before["/etc/passwd"], delete after["/etc/passwd"]); // compared below without eve's adoption
        assert.ok(fs.readFileSync(a.path("/etc/shadow")).equals(shadow));
        assert.deepEqual(Object.keys(after).sort(), Object.keys(before).sort());
        await assertSudo(a, "alice", "alice2", true);
    });

    it("a user named like an existing group is reported and skipped; the other users and revocations still apply", async () => {
        const g = await a.sh("groupadd projectx");
        assert.equal(g.code, 0, g.stderr);
        const r = await apply(a, [
            { name: "alice", sudo: "nopasswd", keys: ["alice2"] },
            { name: "projectx", sudo: "nopasswd", keys: ["bob"] },
        ]);
        assert.equal(r.responseCode, 19, r.stderr);
        assert.match(r.stderr, /^PKA-CONFLICT projectx a group named projectx exists/m);
        assert.doesNotMatch(fs.readFileSync(a.path("/etc/passwd"), "utf8"), /^projectx:/m);
        assert.ok(!fs.existsSync(a.path("/etc/sudoers.d/90-pka-projectx")));
        assert.doesNotMatch(
            fs.readFileSync(a.path("/var/lib/pka-fleet/managed-users"), "utf8"),
            /^projectx$/m,
            "a name it could not create is not recorded as its own",
        );
        await assertSudo(a, "alice", "alice2", true);
    });

    it("never installs a drop-in that fails visudo, and sudo keeps working", async () => {
        // The real visudo does reject a broken drop-in (so the check means something)...
        const real = await a.sh(
            "printf 'frank ALL=(ALL NOPASSWD\\n' >/tmp/broken && chmod 440 /tmp/broken && visudo -cf /tmp/broken",
        );
        assert.notEqual(real.code, 0);
        // ...and no spec value can produce one, so a visudo that rejects frank's file stands in.
        const fake = await a.sh(
            'mkdir -p /tmp/fakebin && printf \'#!/bin/sh\\nif grep -q frank "$2"; then echo "syntax error" >&2; exit 1; fi\\nexec /usr/sbin/visudo "$@"\\n\' >/tmp/fakebin/visudo && chmod 755 /tmp/fakebin/visudo',
        );
        assert.equal(fake.code, 0, fake.stderr);
        const before = snapshot(a);
        const r = await apply(
            a,
            [
                { name: "alice", sudo: "nopasswd", keys: ["alice2"] },
                { name: "frank", sudo: "nopasswd", keys: ["bob"] },
            ],
            {
                PATH: `/tmp/fakebin:${HOST_PATH}`,
            },
        );
        assert.equal(r.responseCode, 17, r.stderr);
        assert.match(r.stderr, /visudo/);
        assert.deepEqual(snapshot(a), before);
        assert.ok(!fs.existsSync(a.path("/etc/sudoers.d/90-pka-frank")));
        assert.doesNotMatch(fs.readFileSync(a.path("/etc/passwd"), "utf8"), /^frank:/m);
        await assertSudo(a, "alice", "alice2", true);
    });

    it("8 runs at once on one host leave a valid file with exactly one block (flock, then the mkdir lock)", async () => {
        const r0 = await applyOk(b, [{ name: "gina", sudo: "nopasswd", keys: ["alice"] }]);
        pinned[b.name] = knownHosts(b, r0);
        const variants = [
            ["alice"],
            ["bob"],
            ["carol"],
            ["dave"],
            ["alice", "bob"],
            ["bob", "carol"],
            ["carol", "dave"],
            ["dave", "alice"],
        ];
        const noFlock = pathWithout(b, "noflock", ["flock"]);
        for (const env of [undefined, { PATH: noFlock }]) {
            const results = await Promise.all(
                variants.map((ks) =>
                    runDocumentLikeAgent(b, DOC, paramsFor([{ name: "gina", sudo: "nopasswd", keys: ks }]), { env }),
                ),
            );
            for (const r of results) assert.equal(r.responseCode, 0, r.stderr);
            const text = block(b, "gina");
            assert.equal(text.split("\n").filter((l) => l.startsWith("# BEGIN pka-fleet")).length, 1, text);
            assert.equal(text.split("\n").filter((l) => l.startsWith("# END pka-fleet")).length, 1, text);
            const keyLines = text.split("\n").filter((l) => l.startsWith("ssh-"));
            const match = variants.find(
                (ks) => ks.length === keyLines.length && ks.every((k, i) => keyLines[i] === key(k).pub),
            );
            assert.ok(match, `the block is one of the specs: ${text}`);
            assert.deepEqual(
                fs.readdirSync(b.path("/home/gina/.ssh")),
                ["authorized_keys"],
                "no temp file left behind",
            );
            await assertLogin(b, "gina", match[0]);
        }
        assert.ok(!fs.existsSync(b.path("/var/lib/pka-fleet/lock.d")), "the mkdir lock is released");
    });

    it("without flock, a lock left by a killed run (no pid, or a dead pid) does not block later runs", async () => {
        const noFlock = pathWithout(b, "noflock", ["flock"]);
        const users: UserIn[] = [{ name: "gina", sudo: "nopasswd", keys: ["bob"] }];
        const lock = b.path("/var/lib/pka-fleet/lock.d");
        // A run killed between creating the lock and recording its pid (what the mkdir lock allowed).
        fs.mkdirSync(lock);
        const pidless = await runDocumentLikeAgent(b, DOC, paramsFor(users), { env: { PATH: noFlock } });
        assert.equal(pidless.responseCode, 0, pidless.stderr);
        assert.ok(!fs.existsSync(lock), "the lock is released");
        // A run killed while holding the lock: its pid is dead.
        const dead = await b.sh("sh -c 'echo $$'");
        assert.match(dead.stdout, /^\d+\n$/);
        fs.mkdirSync(lock);
        fs.writeFileSync(`${lock}/pid`, dead.stdout);
        const r = await runDocumentLikeAgent(b, DOC, paramsFor([{ name: "gina", sudo: "nopasswd", keys: ["carol"] }]), {
            env: { PATH: noFlock },
        });
        assert.equal(r.responseCode, 0, r.stderr);
        assert.ok(!fs.existsSync(lock), "the lock is released");
        assert.deepEqual(
            fs.readdirSync(b.path("/var/lib/pka-fleet")).filter((f) => f.startsWith(".lock")),
            [],
            "no temporary lock directory left behind",
        );
        await assertLogin(b, "gina", "carol");
    });

    it("prints the host keys first and at most 50 user lines: 400 users still fit SSM's 24,000-character stdout", async () => {
        // 400 users with 32-character names, a few with keys: uncapped, the PKA-USER lines alone
        // would fill 24,000 characters. The manifest is built by hand to stay within the 64 KB command.
        const names = Array.from({ length: 400 }, (_, i) => `u${String(i).padStart(3, "0")}`.padEnd(32, "x"));
        const bare = key("alice").pub.split(" ").slice(0, 2).join(" ");
        const lines = [
            HEADER,
            ...names.flatMap((n, i) => [`u ${n} none`, ...(i % 100 === 0 ? [`k ${n} ${bare}`] : [])]),
        ];
        const env = manifestEnv(lines.join("\n") + "\n");
        const r = await runDocumentLikeAgent(b, DOC, {
            AccessSpec: [env.SSM_AccessSpec],
            AccessSpecSha256: [env.SSM_AccessSpecSha256],
        });
        assert.equal(r.responseCode, 0, r.stderr);
        assert.ok(r.stdout.length > 0 && r.standardOutputContent.length <= 24000);
        // What the provisioner reads from GetCommandInvocation holds every host key.
        assert.deepEqual(parseHostKeyLines(r.standardOutputContent), [...b.hostKeys()].sort());
        const out = r.stdout.split("\n");
        assert.ok(
            out.findIndex((l) => l.startsWith("PKA-HOSTKEY ")) < out.findIndex((l) => l.startsWith("PKA-USER ")),
            "host keys come first",
        );
        assert.equal(out.filter((l) => /^PKA-(USER|REVOKED) /.test(l)).length, 50);
        assert.match(r.stdout, /^PKA-OMITTED 351 more PKA-USER\/PKA-REVOKED lines$/m); // 400 created + gina revoked
        assert.match(r.stdout, /^PKA-SUMMARY status=ok .* users=400 revoked=1 /m);
        assert.match(fs.readFileSync(b.path("/etc/passwd"), "utf8"), new RegExp(`^${names[399]}:`, "m"));
    });

    it("leaves the real machine untouched", () => {
        for (const f of realFiles) assert.equal(fs.readFileSync(f, "utf8"), realBefore[f], f);
        assert.equal(fs.readdirSync("/etc/sudoers.d").sort().join(","), realBefore["sudoers.d"]);
        assert.equal(fs.readdirSync("/home").sort().join(","), realBefore["/home"]);
        assert.equal(String(fs.existsSync("/var/lib/pka-fleet")), realBefore["state"]);
    });
});
