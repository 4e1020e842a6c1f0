/**
 * Setup-document bench: script time on a host (first run, no-change run), sandbox hosts started
 * and logged into per second, and the largest access spec that fits SSM's 64 KB.
 * `benchScript` is what `npm run bench` calls; the measure* functions can be called alone.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AccessSpec, AccessSpecError, AccessUser, validateAccessSpec } from "../core/accessSpec";
import { documentParameters, renderDocumentJson } from "../core/document";
import { generateKey } from "../core/keygen";
import { runDocumentLikeAgent } from "../local/agent";
import { sandboxUnavailableReason, sshRun, startHosts, stopHosts } from "../local/sandbox";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function fits(spec: AccessSpec): boolean {
    try {
        documentParameters(spec);
        return true;
    } catch (e) {
        if (e instanceof AccessSpecError) return false;
        throw e;
    }
}

/** The largest n for which make(n) fits (make must grow with n). */
function largest(make: (n: number) => AccessSpec): number {
    let hi = 1;
    while (fits(make(hi))) hi *= 2;
    let lo = hi / 2;
    while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (fits(make(mid))) lo = mid;
        else hi = mid;
    }
    return lo;
}

export interface SpecCapacity {
    documentBytes: number;
    ed25519UsersOneKeyEach: number;
    rsa4096UsersOneKeyEach: number;
    ed25519KeysForOneUser: number;
    rsa4096KeysForOneUser: number;
}

/** How many users/keys fit in document + parameters <= 64 KB (users named user0..., keyOptions "restrict", 12-character comments). */
export function measureSpecCapacity(): SpecCapacity {
    const ed = Array.from(
        { length: 600 },
        (_, i) => generateKey({ type: "ed25519", comment: `ops-key-${String(i).padStart(4, "0")}` }).publicKey,
    );
    const rsaOne = generateKey({ type: "rsa", bits: 4096, comment: "ops-key-0000" }).publicKey;
    // distinct RSA keys are costly to generate; vary the comment only across users (dedupe is per user)
    const users = (n: number, key: (i: number) => string): AccessSpec => ({
        users: Array.from({ length: n }, (_, i): AccessUser => ({
            name: `user${i}`,
            sudo: "nopasswd",
            keys: [key(i)],
            keyOptions: "restrict",
        })),
    });
    const oneUser = (keys: string[]): AccessSpec => ({
        users: [{ name: "svc_user", sudo: "nopasswd", keys, keyOptions: "restrict" }],
    });
    const rsaKeys = (n: number) =>
        Array.from({ length: n }, (_, i) => {
            // n distinct-looking RSA lines: flip base64 characters in the modulus so the per-user dedupe keeps them
            const [t, b, c] = rsaOne.split(" ");
            const idx = b.length - 10;
            const alt = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            return `${t} ${b.slice(0, idx - 2)}${alt[i % 64]}${alt[Math.floor(i / 64) % 64]}${b.slice(idx)} ${c}`;
        });
    const check = validateAccessSpec(oneUser([ed[0], rsaOne]));
    if (!fits(check)) throw new Error("a two-key spec does not fit");
    return {
        documentBytes: Buffer.byteLength(renderDocumentJson()),
        ed25519UsersOneKeyEach: largest((n) => users(n, (i) => ed[i % ed.length])),
        rsa4096UsersOneKeyEach: largest((n) => users(n, () => rsaOne)),
        ed25519KeysForOneUser: largest((n) =>
            oneUser(
                n <= ed.length
                    ? ed.slice(0, n)
                    : [...ed, ...ed.map((k, i) => k.replace(/ops-key-/, `x${i}-`))].slice(0, n),
            ),
        ),
        rsa4096KeysForOneUser: largest((n) => oneUser(rsaKeys(n))),
    };
}

export interface HostTimings {
    hosts: number;
    startMs: number;
    hostsStartedPerSecond: number;
    scriptFirstRunMsMedian: number;
    scriptNoChangeRunMsMedian: number;
    /** user+sys CPU of the script and everything it ran (load on the machine inflates wall time, hardly this) */
    scriptFirstRunCpuMsMedian: number;
    scriptNoChangeRunCpuMsMedian: number;
    /** processes the script started (fork/clone), when strace is installed */
    scriptFirstRunProcesses?: number;
    scriptNoChangeRunProcesses?: number;
    loginsSequentialPerSecond: number;
    loginsParallelPerSecond: number;
}

/**
 * user+sys CPU ms of the processes this one has waited for (cutime + cstime of /proc/self/stat):
 * a run's nsenter, its sh and everything the script ran. 10 ms ticks; load on the machine inflates
 * wall time, hardly this. NaN off Linux.
 */
function childCpuMs(): number {
    try {
        const stat = fs.readFileSync("/proc/self/stat", "utf8");
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return ((Number(f[13]) + Number(f[14])) * 1000) / 100;
    } catch {
        return NaN;
    }
}

/** Forks (clone/vfork) the script made, run once under strace on a fresh host; undefined without strace. */
async function countProcesses(spec: Record<string, string[]>, doc: string): Promise<[number, number] | undefined> {
    if (!fs.existsSync("/usr/bin/strace")) return undefined;
    const [h] = await startHosts(1, { namePrefix: "pka-bench-strace" });
    try {
        const script = JSON.parse(doc).mainSteps[0].inputs.runCommand.join("\n") + "\n";
        fs.writeFileSync(h.path("/tmp/bench.sh"), script);
        const env = Object.fromEntries(Object.entries(spec).map(([k, v]) => [`SSM_${k}`, v.join(",")]));
        const out: number[] = [];
        for (const run of ["first", "again"]) {
            const r = await h.exec(
                [
                    "strace",
                    "-f",
                    "-qq",
                    "-e",
                    "trace=clone,clone3,fork,vfork",
                    "-e",
                    "signal=none",
                    "-o",
                    `/tmp/trace.${run}`,
                    "/bin/sh",
                    "/tmp/bench.sh",
                ],
                { env },
            );
            if (r.code !== 0) return undefined;
            out.push(
                fs
                    .readFileSync(h.path(`/tmp/trace.${run}`), "utf8")
                    .split("\n")
                    .filter((l) => /\b(clone3?|v?fork)\(/.test(l)).length,
            );
        }
        return [out[0], out[1]];
    } finally {
        await stopHosts([h]);
    }
}

/**
 * Starts n hosts, runs the document twice on each (first run, no-change run), logs in with ssh +
 * sudo -n true. Times are medians over the hosts (run one after the other): wall time as the
 * agent sees it, and the CPU the run used (fair on a busy machine); with strace, the processes.
 */
export async function measureHosts(n = 9): Promise<HostTimings> {
    const why = sandboxUnavailableReason();
    if (why) throw new Error(why);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-bench-"));
    const keyFile = path.join(dir, "id");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", keyFile]);
    const spec = validateAccessSpec({
        users: [
            {
                name: "svc_user",
                sudo: "nopasswd",
                keys: [fs.readFileSync(`${keyFile}.pub`, "utf8")],
                keyOptions: "restrict",
            },
            { name: "auditor", sudo: "none", keys: [generateKey({ type: "ed25519" }).publicKey] },
        ],
    });
    const params = documentParameters(spec);
    const doc = renderDocumentJson();
    const t0 = Date.now();
    const hosts = await startHosts(n, { namePrefix: "pka-bench" });
    const startMs = Date.now() - t0;
    try {
        const first: number[] = [];
        const again: number[] = [];
        const firstCpu: number[] = [];
        const againCpu: number[] = [];
        for (const h of hosts) {
            let c0 = childCpuMs();
            const a = await runDocumentLikeAgent(h, doc, params);
            if (a.responseCode !== 0) throw new Error(`first run failed: ${a.stderr}`);
            first.push(a.durationMs);
            firstCpu.push(childCpuMs() - c0);
            c0 = childCpuMs();
            const b = await runDocumentLikeAgent(h, doc, params);
            if (b.responseCode !== 0 || !/ changes=0 conflicts=0$/m.test(b.stdout))
                throw new Error(`second run changed something: ${b.stdout}`);
            again.push(b.durationMs);
            againCpu.push(childCpuMs() - c0);
        }
        const procs = await countProcesses(params, doc);
        const known = path.join(dir, "known_hosts");
        fs.writeFileSync(known, hosts.flatMap((h) => h.knownHostsLines()).join("\n") + "\n");
        const login = async (h: (typeof hosts)[number]) => {
            const r = await sshRun(h, {
                user: "svc_user",
                identityFile: keyFile,
                knownHostsFile: known,
                command: "sudo -n true",
            });
            if (r.code !== 0) throw new Error(`login to ${h.name} failed: ${r.stderr}`);
        };
        const s0 = Date.now();
        for (const h of hosts) await login(h);
        const seqMs = Date.now() - s0;
        const p0 = Date.now();
        await Promise.all(hosts.map(login));
        const parMs = Date.now() - p0;
        return {
            hosts: n,
            startMs,
            hostsStartedPerSecond: Math.round((n / startMs) * 1000 * 10) / 10,
            scriptFirstRunMsMedian: median(first),
            scriptNoChangeRunMsMedian: median(again),
            scriptFirstRunCpuMsMedian: median(firstCpu),
            scriptNoChangeRunCpuMsMedian: median(againCpu),
            ...(procs ? { scriptFirstRunProcesses: procs[0], scriptNoChangeRunProcesses: procs[1] } : {}),
            loginsSequentialPerSecond: Math.round((n / seqMs) * 1000 * 10) / 10,
            loginsParallelPerSecond: Math.round((n / parMs) * 1000 * 10) / 10,
        };
    } finally {
        await stopHosts(hosts);
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** Everything above, as one measure -> value object for bench/RESULTS.md. */
export async function benchScript(): Promise<Record<string, string | number>> {
    const cap = measureSpecCapacity();
    const out: Record<string, string | number> = {
        "document bytes (of 65536 for document + parameters)": cap.documentBytes,
        "largest spec: ed25519 users, 1 key each": cap.ed25519UsersOneKeyEach,
        "largest spec: rsa-4096 users, 1 key each": cap.rsa4096UsersOneKeyEach,
        "largest spec: ed25519 keys for one user": cap.ed25519KeysForOneUser,
        "largest spec: rsa-4096 keys for one user": cap.rsa4096KeysForOneUser,
    };
    const why = sandboxUnavailableReason();
    if (why) {
        out["host measurements"] = `skipped: ${why}`;
        return out;
    }
    const t = await measureHosts();
    out["sandbox hosts started in parallel"] = `${t.hosts} in ${t.startMs} ms (${t.hostsStartedPerSecond}/s)`;
    out["script first run (median, ms)"] = t.scriptFirstRunMsMedian;
    out["script no-change run (median, ms)"] = t.scriptNoChangeRunMsMedian;
    out["script first run, CPU user+sys (median, ms)"] = t.scriptFirstRunCpuMsMedian;
    out["script no-change run, CPU user+sys (median, ms)"] = t.scriptNoChangeRunCpuMsMedian;
    if (t.scriptFirstRunProcesses !== undefined)
        out["script processes started: first run / no-change run"] =
            `${t.scriptFirstRunProcesses} / ${t.scriptNoChangeRunProcesses}`;
    out["ssh login + sudo -n true, sequential (per s)"] = t.loginsSequentialPerSecond;
    out["ssh login + sudo -n true, parallel (per s)"] = t.loginsParallelPerSecond;
    return out;
}

if (require.main === module) {
    benchScript().then(
        (r) => console.log(r),
        (e) => {
            console.error(e);
            process.exitCode = 1;
        },
    );
}
