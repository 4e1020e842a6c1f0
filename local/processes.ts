/** Child processes as the sandbox hosts use them: run to completion, find a namespace's pid 1, kill a group, pick a free port. */
import { spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";

export interface ExecResult {
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
}

/**
 * Runs a command to completion, collecting its output; SIGKILL after timeoutMs. With `input` the
 * command's stdin is a pipe that gets it (then closes); without, stdin is /dev/null.
 */
export function collect(
    cmd: string,
    args: string[],
    opts: { timeoutMs: number; input?: string | Buffer; env?: NodeJS.ProcessEnv },
): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
        const p = spawn(cmd, args, {
            stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
            env: opts.env ?? process.env,
        });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        p.stdout?.on("data", (d: Buffer) => out.push(d));
        p.stderr?.on("data", (d: Buffer) => err.push(d));
        const timer = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs);
        p.on("error", (e) => {
            clearTimeout(timer);
            reject(e);
        });
        p.on("close", (code, signal) => {
            clearTimeout(timer);
            resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
        });
        if (p.stdin) {
            p.stdin.on("error", () => undefined);
            p.stdin.end(opts.input);
        }
    });
}

/** SIGKILL to a whole process group (gone already: nothing). */
export function killGroup(pgid: number): void {
    try {
        process.kill(-pgid, "SIGKILL");
    } catch {
        /* already gone */
    }
}

/** The first child of `parent` (a namespace's pid 1, under `unshare --fork`). */
export function childPid(parent: number): number | undefined {
    try {
        const kids = fs
            .readFileSync(`/proc/${parent}/task/${parent}/children`, "utf8")
            .trim()
            .split(/\s+/)
            .filter(Boolean);
        if (kids.length) return Number(kids[0]);
    } catch {
        /* fall back to scanning /proc */
    }
    for (const e of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(e)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${e}/stat`, "utf8");
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            if (ppid === parent) return Number(e);
        } catch {
            /* gone */
        }
    }
    return undefined;
}

/** Ports handed out and not yet released: two hosts starting at once never get the same one. */
const portsInUse = new Set<number>();

/** A port free on 127.0.0.1 now, not handed out to another host. */
export async function freePort(): Promise<number> {
    for (;;) {
        const port = await new Promise<number>((resolve, reject) => {
            const srv = net.createServer();
            srv.once("error", reject);
            srv.listen(0, "127.0.0.1", () => {
                const p = (srv.address() as net.AddressInfo).port;
                srv.close(() => resolve(p));
            });
        });
        if (!portsInUse.has(port)) {
            portsInUse.add(port);
            return port;
        }
    }
}

export function releasePort(port: number): void {
    portsInUse.delete(port);
}
