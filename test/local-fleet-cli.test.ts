/**
 * `pka local-fleet` as `npm start` runs it (the built CLI, in its own process): both fleets end to
 * end, and Ctrl-C at two moments leaving no process and no temporary file behind.
 */
import * as assert from "assert";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { packageRoot } from "../local/fleet";
import { ensureBuilt, PKA_CLI } from "./support/built";
import { requireReal } from "./support/env";
import { patience, stallTimer } from "./support/patience";

/** Every live descendant of `root` (pid -> command name), from /proc. */
function descendants(root: number): Map<number, string> {
    const parent = new Map<number, number>();
    const comm = new Map<number, string>();
    for (const e of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(e)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${e}/stat`, "utf8");
            const close = stat.lastIndexOf(")");
            const [state, ppid] = stat.slice(close + 2).split(" ");
            if (state === "Z") continue;
            parent.set(Number(e), Number(ppid));
            comm.set(Number(e), stat.slice(stat.indexOf("(") + 1, close));
        } catch {
            /* gone */
        }
    }
    const out = new Map<number, string>();
    let grew = true;
    while (grew) {
        grew = false;
        for (const [pid, ppid] of parent) {
            if (!out.has(pid) && (ppid === root || out.has(ppid))) {
                out.set(pid, comm.get(pid)!);
                grew = true;
            }
        }
    }
    return out;
}

function alive(pids: Iterable<number>): number[] {
    return [...pids].filter((pid) => {
        try {
            return !/^\d+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
        } catch {
            return false;
        }
    });
}

/**
 * Runs the built `pka local-fleet --hosts 2` in its own process group, waits for a line
 * matching `when`, then sends SIGINT to the group as a terminal's Ctrl-C does.
 */
async function interruptLocalFleet(
    when: RegExp,
    tmp: string,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string; seen: Map<number, string> }> {
    const root = packageRoot();
    const child: ChildProcess = spawn(process.execPath, [PKA_CLI, "local-fleet", "--hosts", "2"], {
        cwd: root,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        // Its own TMPDIR: whatever the run leaves in it was left by this run.
        env: { ...process.env, TMPDIR: tmp },
    });
    let output = "";
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) =>
        child.once("exit", (code, signal) => r([code, signal])),
    );
    const seen = new Map<number, string>();
    try {
        await new Promise<void>((resolve, reject) => {
            // progress-based: only 60 s (scaled) without any output is a hang; a slow fleet keeps printing
            const timer = stallTimer(60_000, () =>
                reject(
                    new Error(`no line matching ${when}, and no output for ${patience(60_000) / 1000} s:\n${output}`),
                ),
            );
            const onData = (d: Buffer) => {
                output += d.toString();
                timer.progress();
                if (when.test(output)) {
                    timer.clear();
                    resolve();
                }
            };
            child.stdout!.on("data", onData);
            child.stderr!.on("data", (d: Buffer) => {
                output += d.toString();
                timer.progress();
            });
            void exited.then(([code]) =>
                reject(new Error(`pka local-fleet exited (${code}) before ${when}:\n${output}`)),
            );
        });
        for (const [pid, name] of descendants(child.pid!)) seen.set(pid, name);
        process.kill(-child.pid!, "SIGINT");
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<never>((_, rej) => {
            timer = setTimeout(
                () => rej(new Error(`still running ${patience(30_000) / 1000} s after SIGINT:\n${output}`)),
                patience(30_000),
            );
        });
        try {
            const [code, signal] = await Promise.race([exited, late]);
            return { code, signal, output, seen };
        } finally {
            clearTimeout(timer);
        }
    } finally {
        if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
    }
}

/** Runs the built `pka local-fleet` with `args`; its exit status and everything it printed. */
function runLocalFleet(args: string[]): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve) => {
        const child = spawn(process.execPath, [PKA_CLI, "local-fleet", ...args], {
            cwd: packageRoot(),
            env: { ...process.env },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
        child.on("exit", (code) => resolve({ code, out }));
    });
}

describe("pka local-fleet, the built CLI (real sshd, real Lambda bundle)", function () {
    this.timeout(120_000);

    describe("pka local-fleet --fleets 2 (what npm start runs)", () => {
        it("provisions both fleets, runs the README's central-server commands and reaches every host both ways, each refusing the other fleet's key", async function () {
            requireReal(this, { root: true, commands: ["sshd", "ssh", "unshare", "nsenter", "jq", "aws"] });
            ensureBuilt();
            const r = await runLocalFleet(["--fleets", "2", "--hosts", "2"]);
            assert.strictEqual(r.code, 0, r.out);
            const rows = r.out.split("\n").filter((l) => /^\| web-(dev|prod) /.test(l));
            assert.strictEqual(rows.length, 4, r.out);
            for (const row of rows)
                assert.match(row, /\| ok +\| ok +\| ok \(127\.0\.1[01]\.\d\) +\| refused \(1\) +\|$/, row);
            assert.match(r.out, /central\$ sh -c "\$\(pulumi stack output -s prod knownHostsCommand\)"/);
            assert.match(
                r.out,
                /every host refused the other fleets' keys: yes; an unpinned host gets no fleet's settings: yes/,
            );
            // pka audit of one host's authorized_keys, as the script wrote it: the managed block, judged allowed.
            assert.match(
                r.out,
                /^pka audit web-\w+-\d:~svc_user\/\.ssh\/authorized_keys\n\S+:2 managed allowed ed25519 256 SHA256:\S+ svc_user@pka-web-\w+\n\S+: 1 keys \(1 managed, 0 hand-added\): 1 allowed, 0 violations, 0 lines not keys$/m,
            );
        });
    });

    describe("pka local-fleet --certificates (npm start -- --certificates)", () => {
        it("each fleet trusts its own user CA: an operator's key alone is refused, with a 1 h certificate it logs in and sudo runs", async function () {
            requireReal(this, { root: true, commands: ["sshd", "ssh", "unshare", "nsenter", "jq", "aws"] });
            ensureBuilt();
            const r = await runLocalFleet(["--fleets", "2", "--hosts", "2", "--certificates"]);
            assert.strictEqual(r.code, 0, r.out);
            assert.match(r.out, /in one account, 2 hosts each, certificate mode\n/);
            for (const fleet of ["web-dev", "web-prod"]) {
                assert.match(
                    r.out,
                    new RegExp(
                        `^certificate mode, fleet ${fleet}: user CA ssh-ed25519 \\S+, a 1 h certificate for principal svc_user$`,
                        "m",
                    ),
                );
                const hosts = r.out
                    .split("\n")
                    .filter((l) => l.startsWith(`  ${fleet}-`) && l.includes("operator key alone"));
                assert.strictEqual(hosts.length, 2, r.out);
                for (const l of hosts)
                    assert.match(l, /: operator key alone refused; with the certificate ssh ok, sudo -n true ok$/, l);
            }
        });
    });

    describe("Ctrl-C", () => {
        before(function () {
            requireReal(this, { root: true, commands: ["sshd", "ssh", "unshare", "nsenter"] });
            ensureBuilt();
        });

        for (const [phase, when] of [
            ["with the hosts up", /launched 2 instances/],
            ["while the hosts are starting", /starting 2 hosts/],
        ] as const) {
            it(`SIGINT ${phase}: exit status 130, no sshd or unshare left from the run, no temporary files`, async () => {
                const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pka-ctrl-c-"));
                let r: Awaited<ReturnType<typeof interruptLocalFleet>>;
                try {
                    r = await interruptLocalFleet(when, tmp);
                    assert.deepStrictEqual(fs.readdirSync(tmp), [], "temporary files were left behind");
                } finally {
                    fs.rmSync(tmp, { recursive: true, force: true });
                }
                assert.strictEqual(r.code, 130, r.output);
                assert.match(r.output, /SIGINT: stopping/);
                if (phase === "with the hosts up") {
                    assert.ok(
                        [...r.seen.values()].filter((c) => c === "sshd").length >= 2,
                        `the hosts' sshd were not running before the SIGINT: ${[...r.seen.values()].join(" ")}`,
                    );
                }
                const left = alive(r.seen.keys());
                assert.deepStrictEqual(
                    left.map((pid) => `${pid} ${r.seen.get(pid)}`),
                    [],
                    "processes of the interrupted run are still alive",
                );
            });
        }
    });
});
