/**
 * A hostile managed user, for the attack tests: programs run AS that user (setpriv, her uid, no
 * capabilities) inside a sandbox host while the setup script runs, doing the worst she can to her
 * own home and to the processes she owns. Each reports what it did, so a test can tell an attack
 * that held from one that never happened.
 */
import { SandboxHost } from "../../local/sandbox";
import { patience } from "./patience";

/**
 * node ATTACKER_JS MODE HOME STOPFILE OUTFILE TARGET...
 * Modes (each flips a path to a symlink at one of the TARGETs, or to a FIFO or a directory, then
 * puts it back a moment later):
 *   inotify-ssh / inotify-ak   on every inotify event in her home or ~/.ssh (inotifywait: open,
 *                              access, create, move, attrib), flip ~/.ssh / ~/.ssh/authorized_keys
 *   proc                       poll /proc for a process whose command line names her home or the
 *                              helper, and flip (alternating ~/.ssh and authorized_keys)
 *   flip                       flip and restore both paths in a tight loop (double flips), also to
 *                              a FIFO and a directory
 * Writes {flips, events} as JSON to OUTFILE when STOPFILE appears (or after 240 s).
 */
export const ATTACKER_JS = String.raw`
const fs = require("fs"), cp = require("child_process");
const [mode, home, stopFile, outFile, ...targets] = process.argv.slice(2);
const ssh = home + "/.ssh", ak = ssh + "/authorized_keys", sshReal = home + "/.ssh.real", akReal = home + "/ak.real";
let flips = 0, events = 0, ti = 0, busy = false, kind = 0;
const deadline = Date.now() + ${patience(240000)}; // a safety net: the test stops it
const target = () => targets[ti++ % targets.length];
const quiet = (f) => { try { f(); return true; } catch { return false; } };
function flipSsh() { if (quiet(() => fs.renameSync(ssh, sshReal)) && quiet(() => fs.symlinkSync(target(), ssh))) flips++; }
function restoreSsh() { quiet(() => fs.unlinkSync(ssh)); quiet(() => fs.rmdirSync(ssh)); quiet(() => fs.renameSync(sshReal, ssh)); }
function flipAk(how) {
    if (!quiet(() => fs.renameSync(ak, akReal))) return;
    const ok = how === "fifo" ? quiet(() => cp.execFileSync("mkfifo", [ak])) : how === "dir" ? quiet(() => fs.mkdirSync(ak)) : quiet(() => fs.symlinkSync(target(), ak));
    if (ok) flips++;
}
function restoreAk() { quiet(() => fs.unlinkSync(ak)); quiet(() => fs.rmdirSync(ak)); quiet(() => fs.renameSync(akReal, ak)); }
function flipOnce(which) {
    if (busy) return;
    busy = true;
    if (which === "ssh") flipSsh(); else flipAk("link");
    setTimeout(() => { if (which === "ssh") restoreSsh(); else restoreAk(); busy = false; }, Math.floor(Math.random() * 3));
}
function finish() {
    restoreSsh(); restoreAk();
    fs.writeFileSync(outFile, JSON.stringify({ flips, events }));
    process.exit(0);
}
setInterval(() => { if (fs.existsSync(stopFile) || Date.now() > deadline) finish(); }, 20);
if (mode === "inotify-ssh" || mode === "inotify-ak") {
    const w = cp.spawn("inotifywait", ["-m", "-e", "open,access,create,moved_to,attrib,close_write", "--format", "%e %f", home, ssh], { stdio: ["ignore", "pipe", "pipe"] });
    let ready = false;
    w.stderr.on("data", (d) => { if (!ready && String(d).includes("Watches established")) { ready = true; fs.writeFileSync(outFile + ".ready", "1"); } });
    w.stdout.on("data", (d) => { events += String(d).split("\n").length - 1; flipOnce(mode === "inotify-ssh" ? "ssh" : "ak"); });
} else if (mode === "proc") {
    fs.writeFileSync(outFile + ".ready", "1");
    const me = String(process.pid);
    const poll = () => {
        for (const p of fs.readdirSync("/proc")) {
            if (p === me || !/^[0-9]+$/.test(p)) continue;
            let cmd = "";
            try { cmd = fs.readFileSync("/proc/" + p + "/cmdline", "latin1"); } catch { continue; }
            if (cmd.includes(home) || cmd.includes("pka-home")) { events++; flipOnce(kind++ % 2 ? "ssh" : "ak"); }
        }
        setImmediate(poll);
    };
    poll();
} else if (mode === "flip") {
    fs.writeFileSync(outFile + ".ready", "1");
    const hows = ["link", "fifo", "dir", "link"];
    const loop = () => {
        for (let i = 0; i < 20; i++) {
            flipSsh(); restoreSsh();
            flipAk(hows[(kind++) % hows.length]); restoreAk();
        }
        setImmediate(loop);
    };
    loop();
} else { console.error("unknown mode " + mode); process.exit(2); }
`;

/**
 * python3 FD_THIEF_PY UID STOPFILE OUTFILE
 * Steals a copy of every descriptor of every process of her uid (pidfd_getfd, as a user may on a
 * kernel without Yama) and uses it: writes forged PKA-HOSTKEY lines into anything writable (the
 * agent's output, were it there) and takes a shared flock on anything lockable (the run lock, were
 * it there). Records what each stolen descriptor pointed at.
 */
export const FD_THIEF_PY = String.raw`
import ctypes, fcntl, json, os, sys, time
uid, stop, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
libc = ctypes.CDLL(None, use_errno=True)
SYS_pidfd_open, SYS_pidfd_getfd = 434, 438
me = os.getpid()
seen, stolen, held, held_at = set(), 0, [], set()
open(out + ".ready", "w").write("1")
deadline = time.time() + ${patience(240000) / 1000}
while not os.path.exists(stop) and time.time() < deadline:
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == me:
            continue
        try:
            if os.stat("/proc/" + p).st_uid != uid:
                continue
            pidfd = libc.syscall(SYS_pidfd_open, int(p), 0)
            if pidfd < 0:
                continue
            for fd in os.listdir("/proc/%s/fd" % p):
                n = libc.syscall(SYS_pidfd_getfd, pidfd, int(fd), 0)
                if n < 0:
                    continue
                stolen += 1
                try:
                    where = os.readlink("/proc/self/fd/%d" % n)
                except OSError:
                    where = "?"
                seen.add(where)
                try:
                    # one held copy per file is enough to block a run that locks it
                    if where not in held_at:
                        fcntl.flock(n, fcntl.LOCK_SH | fcntl.LOCK_NB)
                        held.append(n)
                        held_at.add(where)
                except OSError:
                    pass
                try:
                    os.write(n, b"\nPKA-HOSTKEY ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIForgedForgedForgedForgedForgedForgedForged0\n")
                except OSError:
                    pass
                if n not in held:
                    os.close(n)
            os.close(pidfd)
        except OSError:
            continue
json.dump({"stolen": stolen, "targets": sorted(seen)}, open(out, "w"))
`;

export interface AttackReport {
    flips?: number;
    events?: number;
    stolen?: number;
    targets?: string[];
}

/** A hostile process of `uid` in `host`, started and stopped by the test. */
export class Attacker {
    private done: Promise<{ code: number | null; stderr: string }> | undefined;
    /** How the process ended (its stderr tells why a report is missing). */
    ended: { code: number | null; stderr: string } | undefined;
    private readonly id = `${Date.now()}-${Math.random().toString(16).slice(2)}`;
    constructor(
        private readonly host: SandboxHost,
        private readonly uid: number,
        private readonly gid: number,
    ) {}

    private get out(): string {
        return `/tmp/attack-${this.id}.json`;
    }
    private get stop(): string {
        return `/tmp/attack-${this.id}.stop`;
    }

    /** Starts `node ATTACKER_JS mode ...` or the fd thief (`mode` "fds") and waits until it is watching. */
    async start(mode: string, home: string, targets: string[] = []): Promise<void> {
        const fs = await import("fs");
        const prog = mode === "fds" ? `/tmp/attack-${this.id}.py` : `/tmp/attack-${this.id}.js`;
        fs.writeFileSync(this.host.path(prog), mode === "fds" ? FD_THIEF_PY : ATTACKER_JS, { mode: 0o644 });
        const asHer = ["setpriv", `--reuid=${this.uid}`, `--regid=${this.gid}`, "--clear-groups", "--"];
        const argv =
            mode === "fds"
                ? [...asHer, "python3", prog, String(this.uid), this.stop, this.out]
                : [...asHer, "node", prog, mode, home, this.stop, this.out, ...targets];
        this.done = this.host.exec(argv, { timeoutMs: patience(300000) });
        const ready = this.host.path(`${this.out}.ready`);
        const t0 = Date.now();
        while (!fs.existsSync(ready)) {
            if (Date.now() - t0 > patience(20000))
                throw new Error(
                    `attacker ${mode} did not start: ${JSON.stringify(await Promise.race([this.done, Promise.resolve("still running")]))}`,
                );
            await new Promise((r) => setTimeout(r, 20));
        }
    }

    /** Stops it and returns its report; undefined when it was killed (as a revocation does). */
    async finish(): Promise<AttackReport | undefined> {
        const fs = await import("fs");
        fs.writeFileSync(this.host.path(this.stop), "");
        this.ended = await this.done;
        try {
            return JSON.parse(fs.readFileSync(this.host.path(this.out), "utf8")) as AttackReport;
        } catch {
            return undefined;
        }
    }

    /** Whether the process is still running (a revocation kills it). */
    async alive(): Promise<boolean> {
        const r = await this.host.sh(`pgrep -u ${this.uid} -f 'attack-${this.id}' >/dev/null`);
        return r.code === 0;
    }
}
