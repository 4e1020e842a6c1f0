/**
 * Disposable hosts with a real sshd, on this machine, for tests and the local fleet.
 *
 * Each host is `unshare --mount --pid --uts --fork --kill-child --mount-proc` with a tmpfs copy of
 * /etc bind-mounted over /etc, and tmpfs on /home, /run, /tmp, /var/log, /var/lib and /var/mail:
 * users, sudoers, host keys and state written inside a host live and die with it, and the real
 * machine is untouched. sshd (Debian's openssh-server) listens on 127.0.0.1:<port> with fresh
 * host keys and `UsePAM no` + `StrictModes yes`, so an account locked with '!' or a key file
 * with loose modes is refused as on a real host (local/sandboxSetup.ts). Needs Linux and root.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { childPid, collect, ExecResult, freePort, killGroup, releasePort } from "./processes";
import { DEFAULT_HOST_KEY_TYPES, HOST_PATH, HostKeyType, unshareArgs } from "./sandboxSetup";

// What the tests import from here.
export { HOST_PATH } from "./sandboxSetup";
export { sshRun } from "./sshClient";

export interface StartHostOptions {
    /** Host name inside the host's UTS namespace (default `pka-host-<n>`). */
    name?: string;
    /** Host key types to generate (default ed25519 and ecdsa; rsa costs ~0.3 s more per host). */
    hostKeyTypes?: HostKeyType[];
    /** Extra sshd_config lines. */
    sshdConfig?: string[];
    /** How long sshd may take to listen (default 10 s). */
    readyTimeoutMs?: number;
}

export interface ExecOptions {
    /** Environment on top of PATH and HOME=/root (the SSM agent's environment is similar). */
    env?: Record<string, string>;
    /** Written to the command's stdin. */
    input?: string | Buffer;
    /** Killed after this long (default 60 s). */
    timeoutMs?: number;
}

const live = new Set<SandboxHost>();
/** Process groups of hosts still starting (not yet in `live`): an interrupt during startup must not leave them behind. */
const starting = new Set<number>();
let exitHookInstalled = false;
let hostCounter = 0;

function installExitHook(): void {
    if (exitHookInstalled) return;
    exitHookInstalled = true;
    // Last line of defence: a crashed test or an interrupted local fleet must not leave sshd behind.
    const killAll = () => {
        for (const h of live) h.kill("SIGKILL");
        for (const pgid of starting) killGroup(pgid);
    };
    process.on("exit", killAll);
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
        process.once(sig, () => {
            killAll();
            process.kill(process.pid, sig);
        });
    }
}

/** Why hosts cannot start here, or undefined when they can. */
export function sandboxUnavailableReason(): string | undefined {
    if (process.platform !== "linux") return "sandbox hosts need Linux";
    if (typeof process.getuid !== "function" || process.getuid() !== 0) return "sandbox hosts need root";
    for (const c of ["/usr/sbin/sshd", "/usr/bin/ssh-keygen"]) if (!fs.existsSync(c)) return `sandbox hosts need ${c}`;
    return undefined;
}

export class SandboxHost {
    /** Process group id (the `unshare` process); killing the group tears the host down. */
    readonly pgid: number;
    /** Host-side pid of the namespace's pid 1 (sshd): nsenter target and /proc/<pid>/root. */
    readonly innerPid: number;
    private logText = "";
    private exited: Promise<void>;

    constructor(
        readonly name: string,
        readonly port: number,
        private readonly child: ChildProcess,
        innerPid: number,
        exited: Promise<void>,
    ) {
        this.pgid = child.pid as number;
        this.innerPid = innerPid;
        this.exited = exited;
        child.stderr?.on("data", (d: Buffer) => {
            this.logText = (this.logText + d.toString()).slice(-65536);
        });
    }

    /** sshd's log (last 64 KB). */
    log(): string {
        return this.logText;
    }

    /** A path inside the host, reachable from this process (through /proc/<pid>/root). */
    path(p: string): string {
        if (!p.startsWith("/")) throw new Error(`sandbox path must be absolute: ${p}`);
        return `/proc/${this.innerPid}/root${p}`;
    }

    readFile(p: string): Buffer {
        return fs.readFileSync(this.path(p));
    }

    /** Runs argv inside the host as root with PATH, HOME=/root and opts.env (like the SSM agent). */
    exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
        const env = { PATH: HOST_PATH, HOME: "/root", ...(opts.env ?? {}) };
        for (const k of Object.keys(env))
            if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`bad environment name ${k}`);
        const args = [
            "-t",
            String(this.innerPid),
            "-m",
            "-p",
            "-u",
            "--",
            "/usr/bin/env",
            "-i",
            ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
            "/bin/sh",
            "-c",
            'cd / && exec "$@"',
            "pka-exec",
            ...argv,
        ];
        return collect("nsenter", args, { timeoutMs: opts.timeoutMs ?? 60000, input: opts.input ?? "" });
    }

    /** Runs a shell snippet inside the host (sh -c). */
    sh(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
        return this.exec(["/bin/sh", "-c", script], opts);
    }

    /** The host's public keys as `type base64` lines (sorted by file name). */
    hostKeys(): string[] {
        const dir = this.path("/etc/ssh");
        return fs
            .readdirSync(dir)
            .filter((f) => /^ssh_host_.*_key\.pub$/.test(f))
            .sort()
            .map((f) => fs.readFileSync(path.join(dir, f), "utf8").trim().split(/\s+/).slice(0, 2).join(" "));
    }

    /** known_hosts lines pinning this host's keys for `[127.0.0.1]:port` (or for `alias` with HostKeyAlias). */
    knownHostsLines(alias?: string): string[] {
        const who = alias ?? `[127.0.0.1]:${this.port}`;
        return this.hostKeys().map((k) => `${who} ${k}`);
    }

    /** Sends a signal to the whole host (process group); used by teardown. */
    kill(signal: NodeJS.Signals): void {
        try {
            process.kill(-this.pgid, signal);
        } catch {
            /* already gone */
        }
    }

    /** Tears the host down: SIGTERM to the process group, SIGKILL after 2 s. Idempotent. */
    async stop(): Promise<void> {
        if (!live.has(this)) return this.exited;
        this.kill("SIGTERM");
        const timer = setTimeout(() => this.kill("SIGKILL"), 2000);
        await this.exited;
        clearTimeout(timer);
        live.delete(this);
        releasePort(this.port);
    }

    get running(): boolean {
        return live.has(this) && this.child.exitCode === null && this.child.signalCode === null;
    }
}

/** Resolves when sshd logs that it listens; rejects when the host exits first or takes longer than `timeoutMs`. */
function listening(child: ChildProcess, name: string, timeoutMs: number): Promise<void> {
    let stderr = "";
    return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`sshd did not listen within ${timeoutMs} ms`)), timeoutMs);
        const onData = (d: Buffer) => {
            stderr += d.toString();
            if (/Server listening on 127\.0\.0\.1 port \d+/.test(stderr)) {
                clearTimeout(timer);
                child.stderr?.off("data", onData);
                resolve();
            }
        };
        child.stderr?.on("data", onData);
        child.once("error", (e) => {
            clearTimeout(timer);
            reject(e);
        });
        child.once("exit", (code, signal) => {
            clearTimeout(timer);
            reject(
                new Error(
                    `host ${name} exited (${code ?? signal}) before sshd listened: ${stderr.trim().slice(-2000)}`,
                ),
            );
        });
    });
}

async function startOnce(opts: StartHostOptions, name: string, port: number): Promise<SandboxHost> {
    const args = unshareArgs(name, port, opts.hostKeyTypes ?? DEFAULT_HOST_KEY_TYPES, opts.sshdConfig ?? []);
    const child = spawn("unshare", args, { detached: true, stdio: ["ignore", "ignore", "pipe"] });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const pgid = child.pid;
    if (pgid !== undefined) starting.add(pgid);
    try {
        await listening(child, name, opts.readyTimeoutMs ?? 10000);
        const inner = childPid(child.pid as number);
        if (!inner) throw new Error(`host ${name}: cannot find the namespace's pid 1`);
        const host = new SandboxHost(name, port, child, inner, exited);
        live.add(host);
        (child.stderr as unknown as net.Socket | null)?.unref?.();
        child.unref();
        return host;
    } catch (e) {
        if (pgid !== undefined) killGroup(pgid);
        await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
        throw e;
    } finally {
        if (pgid !== undefined) starting.delete(pgid);
    }
}

/** Starts one host; retries with another port when the chosen one was taken meanwhile. */
export async function startHost(opts: StartHostOptions = {}): Promise<SandboxHost> {
    const reason = sandboxUnavailableReason();
    if (reason) throw new Error(reason);
    installExitHook();
    const name = opts.name ?? `pka-host-${++hostCounter}`;
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
        const port = await freePort();
        try {
            return await startOnce(opts, name, port);
        } catch (e) {
            releasePort(port);
            lastError = e;
            if (!/Address already in use|Cannot bind/.test(String(e))) break;
        }
    }
    throw lastError;
}

/** Starts n hosts in parallel; if any fails, the others are stopped and the error is thrown. */
export async function startHosts(
    n: number,
    opts: Omit<StartHostOptions, "name"> & { namePrefix?: string } = {},
): Promise<SandboxHost[]> {
    const prefix = opts.namePrefix ?? "pka-host";
    const results = await Promise.allSettled(
        Array.from({ length: n }, (_, i) => startHost({ ...opts, name: `${prefix}-${i + 1}` })),
    );
    const ok = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
    if (failed) {
        await stopHosts(ok);
        throw failed.reason;
    }
    return ok;
}

export async function stopHosts(hosts: SandboxHost[]): Promise<void> {
    await Promise.all(hosts.map((h) => h.stop()));
}

/** Every host still running (for a teardown that must not miss one). */
export function liveHosts(): SandboxHost[] {
    return [...live];
}
