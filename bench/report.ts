/**
 * What `npm run bench` writes (bench/index.ts runs the measurements): the machine it ran on, the
 * markdown tables, the summary table of every measurement and the whole bench/RESULTS.md report.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import { seconds } from "../cli/localFleet";
import type { AccessResult } from "./access";
import type { benchBurst } from "./burst";
import type { benchFleet } from "./fleet";
import type { benchKeygen } from "./keygen";
import type { benchLambdaCalls, LoadTimes } from "./lambda";
import type { PluginBench } from "./plugin";
import type { HostTimings, SpecCapacity } from "./script";
import type { benchTiming } from "./timing";

export const log = (s: string) => process.stdout.write(`${s}\n`);

export function table(header: string[], rows: (string | number)[][]): string {
    return [
        `| ${header.join(" | ")} |`,
        `|${header.map(() => "---").join("|")}|`,
        ...rows.map((r) => `| ${r.join(" | ")} |`),
    ].join("\n");
}

function sh(cmd: string, args: string[]): string | undefined {
    try {
        return execFileSync(cmd, args, { stdio: ["ignore", "pipe", "ignore"] })
            .toString()
            .trim();
    } catch {
        return undefined;
    }
}

export function machine(): string {
    const nproc = sh("nproc", []) ?? String(os.availableParallelism?.() ?? os.cpus().length);
    const kernel = sh("uname", ["-srm"]) ?? `${os.type()} ${os.release()}`;
    const distro = (() => {
        try {
            return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(fs.readFileSync("/etc/os-release", "utf8"))?.[1];
        } catch {
            return undefined;
        }
    })();
    const sshd = sh("sh", ["-c", "/usr/sbin/sshd -V 2>&1 || ssh -V 2>&1"])?.split("\n")[0];
    return [
        `nproc ${nproc} (${os.cpus()[0]?.model ?? "?"})`,
        `memory ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
        `kernel ${kernel}`,
        distro ? `${distro}` : undefined,
        `node ${process.version}`,
        sshd ? sshd : undefined,
        `date ${new Date().toISOString()}`,
    ]
        .filter(Boolean)
        .join(", ");
}

export type Outcome<T> = { ok: true; value: T; ms: number } | { ok: false; skipped: boolean; reason: string };

export function or<T>(o: Outcome<T>, f: (v: T) => string): string {
    return o.ok ? f(o.value) : o.reason;
}

/** Every measurement's outcome, as bench/index.ts ran them. */
export interface BenchResults {
    timing: Outcome<Awaited<ReturnType<typeof benchTiming>>>;
    burst: Outcome<Awaited<ReturnType<typeof benchBurst>>>;
    access: Outcome<AccessResult>;
    hostsT: Outcome<HostTimings>;
    capacity: Outcome<SpecCapacity>;
    bundle: Outcome<{ bytes: number; load: LoadTimes }>;
    calls: Outcome<Awaited<ReturnType<typeof benchLambdaCalls>>>;
    keygen: Outcome<Awaited<ReturnType<typeof benchKeygen>>>;
    fleet: Outcome<Awaited<ReturnType<typeof benchFleet>>>;
    plugin: Outcome<PluginBench>;
}

/** The summary table: one row per headline number. */
export function summaryTable(r: BenchResults): string {
    const { timing, burst, access, hostsT, capacity, bundle, keygen, fleet, plugin } = r;
    const burstRow = (design: string) =>
        or(burst, (b) => {
            const r = b.results.find((x) => x.design.startsWith(design))!;
            return `${r.sendCommandCalls} SendCommand calls, ${r.throttled} throttled responses, ${r.provisioned}/${r.instances} provisioned, ${r.lost} lost, p50 ${seconds(r.p50Ms)}, p95 ${seconds(r.p95Ms)}`;
        });
    const timingRow = (design: string, scenario: string) =>
        or(timing, (t) => {
            const row = t.rows.find((x) => x.design === design && x.scenario === scenario);
            if (!row) return "not measured (no git history)";
            const r = row.result;
            return `agent online to access p95 ${seconds(r.onlineToAccess.p95)}, launch to access p95 ${seconds(r.launchToAccess.p95)}; ${r.sendCommandCalls} SendCommand calls; ${r.lost} lost`;
        });
    const keyMs = (type: string) => or(keygen, (k) => `${k.find((x) => x.type === type)?.ms ?? "?"} ms`);
    const fleet200 = or(fleet, (rows) => {
        const r = rows.find((x) => x.users === 200)!;
        return `${seconds(r.mocksRunMs)} (${r.resources} resources, ${r.accessParameters} access parameters, ${r.generatedKeys} generated keys)`;
    });
    const summary = table(
        ["measurement", "result"],
        [
            [
                "time to access, 500 instances, deployed defaults, SSM/EC2 at 10 req/s: this design",
                timingRow("new", "500 instances"),
            ],
            ["time to access, 5,000 instances, same: this design", timingRow("new", "5000 instances")],
            ["time to access, 500 instances, same: previous design", timingRow("current", "500 instances")],
            [
                "burst, pka-fleet (500 instances in 3 s, real time, deployed defaults, SSM at 10 req/s)",
                burstRow("pka-fleet"),
            ],
            ["burst, naive design (same run)", burstRow("naive")],
            [
                "time to access, 20 real sshd hosts (event to `ssh ... sudo -n true`)",
                or(
                    access,
                    (a) =>
                        `${a.withAccess}/${a.hosts} hosts, p50 ${seconds(a.p50Ms)}, p95 ${seconds(a.p95Ms)}, max ${seconds(a.maxMs)}`,
                ),
            ],
            ["setup script, first run (median of 6 real hosts)", or(hostsT, (t) => `${t.scriptFirstRunMsMedian} ms`)],
            [
                "setup script, no-change run (median of 6 real hosts)",
                or(hostsT, (t) => `${t.scriptNoChangeRunMsMedian} ms`),
            ],
            ["Lambda bundle size", or(bundle, (b) => `${(b.bytes / 1024).toFixed(1)} KiB (bin/lambda/provisioner.js)`)],
            [
                "Lambda bundle module load (fresh node processes)",
                or(
                    bundle,
                    (b) =>
                        `median ${b.load.medianMs.toFixed(0)} ms, p95 ${b.load.p95Ms.toFixed(0)} ms over ${b.load.runs} runs (min ${b.load.minMs.toFixed(0)}, max ${b.load.maxMs.toFixed(0)})`,
                ),
            ],
            [
                "key generation: ed25519 / ecdsa nistp256 / rsa 3072 / rsa 4096",
                [keyMs("ed25519"), keyMs("ecdsa nistp256"), keyMs("rsa 3072"), keyMs("rsa 4096")].join(" / "),
            ],
            [
                "key generation: ed25519 + passphrase / PPK v3 with passphrase",
                [
                    keyMs("ed25519 + passphrase (OpenSSH, bcrypt 16 rounds)"),
                    keyMs("PPK v3 with passphrase (Argon2id 8 MiB x 21)"),
                ].join(" / "),
            ],
            ["PkaFleet mocks run, 200 users", fleet200],
            [
                "plugin (`pulumi package add`, every preview/up of another language): spawn to GetSchema answered (median of 3)",
                or(plugin, (p) => `${seconds(p.schemaMedianMs)}`),
            ],
            [
                "plugin: spawn to the first Construct answered (SshKeyPair, ed25519; median of 3)",
                or(plugin, (p) => `${seconds(p.constructMedianMs)}`),
            ],
            [
                "plugin, old path (ts-node over the sources, stock ComponentProvider): GetSchema / first Construct",
                or(plugin, (p) =>
                    !p.old
                        ? "not measured"
                        : "error" in p.old
                          ? `failed: ${p.old.error}`
                          : `${seconds(p.old.schemaMs)} / ${seconds(p.old.constructMs)}`,
                ),
            ],
            [
                "largest access spec in 64 KB (document + parameters)",
                or(
                    capacity,
                    (c) =>
                        `${c.ed25519UsersOneKeyEach} users with 1 ed25519 key each; ${c.rsa4096UsersOneKeyEach} with 1 rsa-4096 key each; 1 user: ${c.ed25519KeysForOneUser} ed25519 or ${c.rsa4096KeysForOneUser} rsa-4096 keys`,
                ),
            ],
        ],
    );
    return summary;
}

/** bench/RESULTS.md: the machine, the summary, each bench's detail and any failures. */
export function renderReport(m: string, summary: string, details: string[], failures: string[]): string {
    return (
        `# pka-fleet bench results\n\nMachine: ${m}\n\nProduced by \`npm run bench\` (bench/index.ts).\n\n## Summary\n\n${summary}\n\n${details.join("\n\n")}\n` +
        (failures.length ? `\n## Failures\n\n${failures.map((f) => `- ${f}`).join("\n")}\n` : "")
    );
}
