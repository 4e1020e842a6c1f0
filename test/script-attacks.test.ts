/**
 * The setup script against a hostile managed user, on real sshd hosts: while the script runs, a
 * second process AS that user (test/support/attacker.ts) swaps ~/.ssh and authorized_keys for
 * symlinks to root's files or other accounts' keys (timed by inotify, by polling /proc, or in a
 * tight loop), puts FIFOs and directories in their place, and steals the descriptors of every
 * process she owns. Every test asserts effects, never messages: no file outside her home changes
 * owner, mode or content; nothing of root's ends up in her home; the central server's account
 * and an account pka-fleet does not manage still log in; revocations land.
 *
 * PKA_RACE_REPS sets the runs per race (default 25; the figures in the README come from 200).
 */
import { strict as assert } from "assert";
import { createHash } from "crypto";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { validateAccessSpec } from "../core/accessSpec";
import { documentParameters, renderDocumentJson } from "../core/document";
import { AgentRunResult, runDocumentLikeAgent } from "../local/agent";
import { SandboxHost, sshRun, startHosts, stopHosts } from "../local/sandbox";
import { parseHostKeyLines } from "../core/hostKeys";
import { Attacker } from "./support/attacker";
import { requireReal } from "./support/env";
import { patience } from "./support/patience";

const DOC = renderDocumentJson();
const NEEDS = {
    root: true,
    commands: [
        "sshd",
        "ssh",
        "ssh-keygen",
        "sudo",
        "visudo",
        "unshare",
        "nsenter",
        "setpriv",
        "inotifywait",
        "python3",
        "node",
    ],
};
const REPS = Math.max(1, Number(process.env.PKA_RACE_REPS ?? 25));

let dir = "";
const keys: Record<string, { priv: string; pub: string }> = {};
function key(name: string): { priv: string; pub: string } {
    if (!keys[name]) {
        const priv = path.join(dir, name);
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `${name}@test`, "-f", priv]);
        keys[name] = { priv, pub: fs.readFileSync(`${priv}.pub`, "utf8").trim() };
    }
    return keys[name];
}

interface U {
    name: string;
    sudo?: "nopasswd" | "none";
    keys: string[];
}
function params(users: U[]): Record<string, string[]> {
    return documentParameters(
        validateAccessSpec({ users: users.map((u) => ({ sudo: "none", ...u, keys: u.keys.map((k) => key(k).pub) })) }),
    );
}
const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

describe("setup script against a hostile user, on real sshd hosts", function () {
    this.timeout(600000);
    let hosts: SandboxHost[] = [];
    let h: SandboxHost;
    let knownHosts = "";
    let central = "central";
    let mallory = { uid: 0, gid: 0 };
    const tally: string[] = [];

    const spec = (malloryKeys: string[] | undefined, malloryExtra: Partial<U> = {}): U[] => [
        { name: "svc_user", sudo: "nopasswd", keys: [central] },
        ...(malloryKeys ? [{ name: "mallory", sudo: "none" as const, keys: malloryKeys, ...malloryExtra }] : []),
    ];
    const run = (users: U[]): Promise<AgentRunResult> => runDocumentLikeAgent(h, DOC, params(users));

    /** Files an attack must never change: content, mode and owner (not mtime). */
    const PROTECTED_DIRS = [
        "/etc/ssh",
        "/etc/sudoers.d",
        "/home/svc_user/.ssh",
        "/home/ec2-user/.ssh",
        "/var/lib/pka-fleet",
    ];
    const PROTECTED_FILES = [
        "/etc/shadow",
        "/etc/gshadow",
        "/etc/passwd",
        "/etc/group",
        "/etc/sudoers",
        "/home/secret",
        "/home/svc_user",
        "/home/ec2-user",
    ];
    function protectedState(): Record<string, string> {
        const out: Record<string, string> = {};
        const add = (p: string) => {
            const st = fs.lstatSync(h.path(p));
            const content = st.isFile()
                ? sha(fs.readFileSync(h.path(p)))
                : st.isSymbolicLink()
                  ? `link:${fs.readlinkSync(h.path(p))}`
                  : st.isDirectory()
                    ? "dir"
                    : "other";
            out[p] = `${content} ${st.mode.toString(8)} ${st.uid}:${st.gid} nlink=${st.nlink}`;
        };
        for (const f of PROTECTED_FILES) add(f);
        for (const d of PROTECTED_DIRS) {
            add(d);
            // the lock file's own mtime aside, nothing in these directories may change
            for (const f of fs.readdirSync(h.path(d))) add(`${d}/${f}`);
        }
        return out;
    }

    function walk(p: string, visit: (p: string, st: fs.Stats) => void): void {
        let st: fs.Stats;
        try {
            st = fs.lstatSync(h.path(p));
        } catch {
            return;
        }
        visit(p, st);
        if (st.isDirectory()) for (const e of fs.readdirSync(h.path(p))) walk(`${p === "/" ? "" : p}/${e}`, visit);
    }

    /** What must hold after any attack. */
    async function assertNoHarm(before: Record<string, string>, what: string): Promise<void> {
        assert.deepEqual(protectedState(), before, `${what}: a protected file changed`);
        // nothing outside her home (and /tmp, where she may write) is hers
        for (const top of ["/etc", "/home", "/var/lib", "/run"]) {
            walk(top, (p, st) => {
                if (p === "/home/mallory" || p.startsWith("/home/mallory/")) return;
                assert.notEqual(st.uid, mallory.uid, `${what}: ${p} became mallory's`);
            });
        }
        // nothing of root's or of another account ended up in her home
        const secrets = [
            fs.readFileSync(h.path("/etc/shadow"), "utf8").split("\n")[0],
            "PRIVATE KEY",
            "TOPSECRET",
            key(central).pub.split(" ")[1],
            key("ec2").pub.split(" ")[1],
        ];
        walk("/home/mallory", (p, st) => {
            assert.equal(st.uid, mallory.uid, `${what}: ${p} in her home is not hers`);
            if (!st.isFile()) return;
            const text = fs.readFileSync(h.path(p), "latin1");
            for (const s of secrets)
                assert.ok(
                    !text.includes(s),
                    `${what}: ${p} holds root's or another account's data (${s.slice(0, 20)})`,
                );
        });
        const login = async (user: string, k: string, command: string) =>
            sshRun(h, { user, identityFile: key(k).priv, knownHostsFile: knownHosts, command });
        const c = await login("svc_user", central, "sudo -n true && id -un");
        assert.equal(c.code, 0, `${what}: the central server's account must still log in and sudo: ${c.stderr}`);
        const e = await login("ec2-user", "ec2", "id -un");
        assert.equal(e.code, 0, `${what}: an account pka-fleet does not manage must still log in: ${e.stderr}`);
    }

    /** A run under attack: only mallory may be reported, and the host keys printed are the host's own. */
    function assertRunHeld(r: AgentRunResult, what: string): void {
        assert.ok(r.responseCode === 0 || r.responseCode === 19, `${what}: exit ${r.responseCode}: ${r.stderr}`);
        for (const l of r.stderr.split("\n").filter((x) => x.startsWith("PKA-CONFLICT ")))
            assert.match(l, /^PKA-CONFLICT mallory /, `${what}: ${l}`);
        assert.deepEqual(
            parseHostKeyLines(r.standardOutputContent),
            [...h.hostKeys()].sort(),
            `${what}: the output holds exactly the host's keys`,
        );
    }

    /** mallory's home as a fresh account has it (test setup, as root). */
    async function resetMallory(): Promise<void> {
        const r = await h.sh("rm -rf /home/mallory/.ssh /home/mallory/.ssh.real /home/mallory/ak.real");
        assert.equal(r.code, 0, r.stderr);
        const g = await run(spec(["m1"]));
        assert.equal(g.responseCode, 0, g.stderr);
    }

    before(async function () {
        requireReal(this, NEEDS);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-attacks-"));
        hosts = await startHosts(1, { namePrefix: "pka-attack", readyTimeoutMs: patience(10_000) });
        [h] = hosts;
        // An account pka-fleet does not manage (the AMI's default user), and a root-only file in /home.
        const prep = await h.sh(
            `useradd -m -p '*' ec2-user && mkdir -m 700 /home/ec2-user/.ssh && printf '%s\\n' '${key("ec2").pub}' >/home/ec2-user/.ssh/authorized_keys && ` +
                "chmod 600 /home/ec2-user/.ssh/authorized_keys && chown -R ec2-user: /home/ec2-user/.ssh && printf 'TOPSECRET\\n' >/home/secret && chmod 600 /home/secret",
        );
        assert.equal(prep.code, 0, prep.stderr);
        const r = await run(spec(["m1"]));
        assert.equal(r.responseCode, 0, r.stderr);
        knownHosts = path.join(dir, "known_hosts");
        fs.writeFileSync(knownHosts, h.knownHostsLines().join("\n") + "\n");
        const ent = fs
            .readFileSync(h.path("/etc/passwd"), "utf8")
            .split("\n")
            .find((l) => l.startsWith("mallory:"))!
            .split(":");
        mallory = { uid: Number(ent[2]), gid: Number(ent[3]) };
    });

    after(async function () {
        if (tally.length)
            console.log(`      attack tally (${REPS} runs per race):\n${tally.map((t) => `        ${t}`).join("\n")}`);
        await stopHosts(hosts);
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    const SSH_TARGETS = ["/home/svc_user/.ssh", "/home/ec2-user/.ssh", "/etc/ssh", "/etc"];
    const AK_TARGETS = [
        "/etc/shadow",
        "/etc/ssh/ssh_host_ed25519_key",
        "/home/svc_user/.ssh/authorized_keys",
        "/home/ec2-user/.ssh/authorized_keys",
        "/home/secret",
        "/etc/sudoers.d/90-pka-svc_user",
    ];

    for (const [mode, targets, label] of [
        ["inotify-ssh", SSH_TARGETS, "~/.ssh swapped for a symlink on each inotify event"],
        ["inotify-ak", AK_TARGETS, "authorized_keys swapped for a symlink on each inotify event"],
        ["proc", [...AK_TARGETS, ...SSH_TARGETS], "swaps timed by polling /proc for the script's commands"],
        ["flip", [...AK_TARGETS, ...SSH_TARGETS], "double flips in a tight loop (symlink, FIFO, directory)"],
    ] as const) {
        it(`${label}: nothing outside her home is read, written or chowned (${REPS} runs)`, async () => {
            await resetMallory();
            const before = protectedState();
            const attacker = new Attacker(h, mallory.uid, mallory.gid);
            await attacker.start(mode, "/home/mallory", [...targets]);
            const codes: Record<number, number> = {};
            for (let i = 0; i < REPS; i++) {
                // Her keys change on every run, so every run rewrites her file.
                const r = await run(spec([i % 2 ? "m1" : "m2"]));
                assertRunHeld(r, `${mode} run ${i}`);
                codes[r.responseCode] = (codes[r.responseCode] ?? 0) + 1;
            }
            const report = await attacker.finish();
            assert.ok(report, "the attacker ran to the end");
            assert.ok((report.flips ?? 0) > 0, `the attacker acted during the runs: ${JSON.stringify(report)}`);
            tally.push(
                `${mode}: ${report.flips} flips on ${report.events ?? "-"} events; exits ${JSON.stringify(codes)}`,
            );
            await assertNoHarm(before, mode);
        });
    }

    it(`two runs at once while she flips (${REPS} pairs): both hold, the file ends with one block of the last spec`, async () => {
        await resetMallory();
        const before = protectedState();
        const attacker = new Attacker(h, mallory.uid, mallory.gid);
        await attacker.start("flip", "/home/mallory", [...AK_TARGETS, ...SSH_TARGETS]);
        const codes: Record<number, number> = {};
        for (let i = 0; i < REPS; i++) {
            // Two deliveries racing (an event and a push): different specs, the same host.
            const rs = await Promise.all([run(spec(["m1"])), run(spec(["m2"]))]);
            rs.forEach((r, j) => {
                assertRunHeld(r, `pair ${i} run ${j}`);
                codes[r.responseCode] = (codes[r.responseCode] ?? 0) + 1;
            });
        }
        const report = await attacker.finish();
        assert.ok(report && (report.flips ?? 0) > 0, `the attacker acted during the runs: ${JSON.stringify(report)}`);
        tally.push(`two runs at once under flips: ${report.flips} flips; exits ${JSON.stringify(codes)}`);
        await assertNoHarm(before, "two runs");
        // Once she stops, one more run repairs her own file: exactly one managed block.
        await h.sh("rm -rf /home/mallory/.ssh /home/mallory/.ssh.real /home/mallory/ak.real");
        const r = await run(spec(["m2"]));
        assert.equal(r.responseCode, 0, r.stderr);
        const text = fs.readFileSync(h.path("/home/mallory/.ssh/authorized_keys"), "utf8");
        assert.equal(text.split("\n").filter((l) => l.startsWith("# BEGIN pka-fleet")).length, 1, text);
        assert.ok(text.includes(key("m2").pub.split(" ")[1]) && !text.includes(key("m1").pub.split(" ")[1]), text);
    });

    it(`a thief of every descriptor she owns gets no lock and no output of the script (${REPS} runs)`, async () => {
        await resetMallory();
        const before = protectedState();
        const thief = new Attacker(h, mallory.uid, mallory.gid);
        await thief.start("fds", "/home/mallory");
        for (let i = 0; i < REPS; i++) {
            const r = await run(spec([i % 2 ? "m1" : "m2"]));
            assertRunHeld(r, `fd thief run ${i}`);
            // not timed (a loaded machine is slow): a run that waited on a lock she held would end
            // in exit 16, and the thief's report below shows she never held a descriptor of the state directory
            assert.notEqual(r.responseCode, 16, "no run waits on a lock she holds");
            assert.doesNotMatch(r.stdout, /Forged/, "nothing she wrote reaches the command output");
        }
        const report = await thief.finish();
        assert.ok(
            report && (report.stolen ?? 0) > 0,
            `the thief stole descriptors of her helper processes: ${JSON.stringify(report ?? thief.ended)}`,
        );
        for (const t of report.targets ?? []) {
            assert.ok(!t.startsWith("/var/lib/pka-fleet"), `she got a descriptor of the state directory: ${t}`);
            assert.ok(!/^\/tmp\/ssm-/.test(t), `she got a descriptor of the agent's files: ${t}`);
        }
        const kinds = [
            ...new Set(
                (report.targets ?? []).map((t) =>
                    t.replace(/^\/tmp\/tmp\.[A-Za-z0-9]+\//, "/tmp/<run>/").replace(/^pipe:\[\d+\]$/, "pipe"),
                ),
            ),
        ].sort();
        tally.push(`fds: ${report.stolen} descriptors stolen, pointing at ${JSON.stringify(kinds)}`);
        await assertNoHarm(before, "fd thief");
    });

    it("a hard link to a root-only file is refused; the file stays root's, unchanged and unread", async () => {
        await resetMallory();
        // A kernel with fs.protected_hardlinks=0 lets her make this link; root makes it here.
        const r0 = await h.sh(
            "rm -f /home/mallory/.ssh/authorized_keys && ln /home/secret /home/mallory/.ssh/authorized_keys",
        );
        assert.equal(r0.code, 0, r0.stderr);
        const before = protectedState();
        const r = await run(spec(["m2"]));
        assert.equal(r.responseCode, 19, r.stderr);
        assert.match(
            r.stderr,
            /^PKA-CONFLICT mallory \/home\/mallory\/.ssh\/authorized_keys has more than one hard link/m,
        );
        assert.deepEqual(protectedState(), before);
        assert.equal(fs.readFileSync(h.path("/home/secret"), "utf8"), "TOPSECRET\n");
        fs.rmSync(h.path("/home/mallory/.ssh/authorized_keys"));
        // A link to a file of her own is refused too: the script never writes through a second name.
        const asHer = `setpriv --reuid=${mallory.uid} --regid=${mallory.gid} --clear-groups --`;
        const r1 = await h.sh(
            `${asHer} sh -c 'printf "notes\\n" >/home/mallory/notes && ln /home/mallory/notes /home/mallory/.ssh/authorized_keys'`,
        );
        assert.equal(r1.code, 0, r1.stderr);
        const r2 = await run(spec(["m1"]));
        assert.equal(r2.responseCode, 19, r2.stderr);
        assert.match(r2.stderr, /^PKA-CONFLICT mallory .*has more than one hard link/m);
        assert.equal(fs.readFileSync(h.path("/home/mallory/notes"), "utf8"), "notes\n");
        fs.rmSync(h.path("/home/mallory/.ssh/authorized_keys"));
        fs.rmSync(h.path("/home/mallory/notes"));
    });

    for (const what of ["a directory", "a FIFO"]) {
        it(`${what} in place of authorized_keys costs only her: the rotation lands, then her revocation`, async () => {
            await resetMallory();
            const make = what === "a FIFO" ? "mkfifo" : "mkdir";
            const asHer = `setpriv --reuid=${mallory.uid} --regid=${mallory.gid} --clear-groups --`;
            const r0 = await h.sh(
                `${asHer} sh -c 'rm -f /home/mallory/.ssh/authorized_keys && ${make} /home/mallory/.ssh/authorized_keys'`,
            );
            assert.equal(r0.code, 0, r0.stderr);
            // The central key is rotated in the same deploy: it lands although her home is broken.
            const old = central;
            central = what === "a FIFO" ? "central-fifo" : "central-dir";
            const r = await run(spec(["m2"]));
            assert.equal(r.responseCode, 19, r.stderr);
            // not timed (a loaded machine is slow): held up by her FIFO, her helper would be killed after HOME_TIMEOUT and say so
            assert.doesNotMatch(r.stderr, /did not finish within/, `the run is not held up by her ${what}`);
            assert.match(r.stderr, /^PKA-CONFLICT mallory .*authorized_keys is not a regular file/m);
            const rotated = await sshRun(h, {
                user: "svc_user",
                identityFile: key(central).priv,
                knownHostsFile: knownHosts,
                command: "true",
            });
            assert.equal(rotated.code, 0, rotated.stderr);
            const stale = await sshRun(h, {
                user: "svc_user",
                identityFile: key(old).priv,
                knownHostsFile: knownHosts,
                command: "true",
            });
            assert.equal(stale.code, 255, "the rotated-out key no longer logs in");
            // Her revocation lands whatever her home holds.
            const rv = await run(spec(undefined));
            assert.equal(rv.responseCode, 0, rv.stderr);
            assert.match(rv.stdout, /^PKA-REVOKED mallory$/m);
            const m = await sshRun(h, {
                user: "mallory",
                identityFile: key("m1").priv,
                knownHostsFile: knownHosts,
                command: "true",
            });
            assert.equal(m.code, 255);
            // and back, for the next test
            await h.sh(`${asHer} sh -c 'rm -rf /home/mallory/.ssh/authorized_keys'`);
            const back = await run(spec(["m1"]));
            assert.equal(back.responseCode, 0, back.stderr);
            assert.match(back.stdout, /^PKA-USER mallory restored sudo=none$/m);
            const again = await sshRun(h, {
                user: "mallory",
                identityFile: key("m1").priv,
                knownHostsFile: knownHosts,
                command: "true",
            });
            assert.equal(again.code, 0, `a re-granted account logs in again: ${again.stderr}`);
        });
    }

    it("revocation under attack: no key of hers logs in (the spec's or one she appended), no sudo, no process of hers left", async () => {
        await resetMallory();
        const granted = await run(spec(["m1"], { sudo: "nopasswd" }));
        assert.equal(granted.responseCode, 0, granted.stderr);
        // A key of her own outside the managed block, and a process that keeps flipping her files.
        const asHer = `setpriv --reuid=${mallory.uid} --regid=${mallory.gid} --clear-groups --`;
        const add = await h.sh(
            `${asHer} sh -c "printf '%s\\n' '${key("hand").pub}' >>/home/mallory/.ssh/authorized_keys"`,
        );
        assert.equal(add.code, 0, add.stderr);
        const login = (k: string, command = "true") =>
            sshRun(h, { user: "mallory", identityFile: key(k).priv, knownHostsFile: knownHosts, command });
        assert.equal((await login("hand", "sudo -n true")).code, 0, "before: her own key and sudo work");
        const attacker = new Attacker(h, mallory.uid, mallory.gid);
        await attacker.start("flip", "/home/mallory", [...AK_TARGETS]);
        const before = protectedState();
        const r = await run(spec(undefined));
        assertRunHeld(r, "revocation");
        assert.equal(r.responseCode, 0, r.stderr);
        await attacker.finish();
        assert.equal(await attacker.alive(), false, "her processes are gone");
        for (const k of ["m1", "hand"]) {
            const l = await login(k);
            assert.equal(l.code, 255, `key ${k} must not log in after the revocation: ${l.stdout}`);
        }
        assert.ok(!fs.existsSync(h.path("/etc/sudoers.d/90-pka-mallory")), "her sudo rule is gone");
        const su = await h.sh("sudo -n -l -U mallory");
        assert.doesNotMatch(su.stdout, /NOPASSWD/, su.stdout);
        const shadow = fs
            .readFileSync(h.path("/etc/shadow"), "utf8")
            .split("\n")
            .find((l) => l.startsWith("mallory:"))!
            .split(":");
        assert.match(shadow[1], /^!/, "password locked");
        assert.equal(shadow[7], "1", "account expired");
        // Only her own entries changed: the sudoers drop-in went, the state moved her to revoked-users.
        const after = protectedState();
        for (const k of Object.keys(before)) {
            if (
                /90-pka-mallory|managed-users|revoked-users|\/etc\/shadow$|\/etc\/sudoers\.d$|\/var\/lib\/pka-fleet$/.test(
                    k,
                )
            )
                continue;
            assert.equal(after[k], before[k], k);
        }
        assert.match(fs.readFileSync(h.path("/var/lib/pka-fleet/revoked-users"), "utf8"), /^mallory$/m);
        const again = await run(spec(undefined));
        assert.equal(again.responseCode, 0, again.stderr);
        assert.match(again.stdout, / changes=0 conflicts=0$/m, "a revocation, once applied, is stable");
    });
});
