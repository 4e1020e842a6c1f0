/**
 * `npm run bench`: every measurement, called explicitly (nothing discovered, nothing silently
 * skipped), printed as one summary table and written to bench/RESULTS.md with the machine it ran
 * on, followed by each bench's detail. A measurement that cannot run here (no root for real hosts)
 * says why in its row; one that fails says so and makes the run exit 1.
 *
 *   burst          bench/burst.ts   500 instances within 3 s, real time, deployed defaults, SSM at 10/s: pka-fleet vs the naive design
 *   timing         bench/timing.ts  time to access under the deployed defaults, virtual clock: 1 / 20 / 500 / 5,000 instances, previous design then this one
 *   access         bench/access.ts  time to access on 20 real sshd hosts
 *   script         bench/script.ts  script first / no-change run on real hosts; largest spec in 64 KB
 *   lambda         bench/lambda.ts  bundle size and load time; AWS calls per 1,000 instances
 *   keygen         bench/keygen.ts  key generation times
 *   fleet          bench/fleet.ts   PkaFleet mocks run with 1, 10 and 200 users
 *   plugin         bench/plugin.ts  cross-language plugin: spawn to GetSchema and to the first Construct (and the old ts-node path)
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { seconds } from "../cli/localFleet";
import { provisionerCodePath } from "../core/lambdaBundle";
import { packageRoot } from "../local/packageRoot";
import { sandboxUnavailableReason } from "../local/sandbox";
import { AccessResult, benchAccess } from "./access";
import { benchBurst, BurstResult } from "./burst";
import { benchTiming, TimingRow } from "./timing";
import { benchFleet } from "./fleet";
import { benchKeygen } from "./keygen";
import { benchLambdaCalls, measureLoad } from "./lambda";
import { benchPlugin, PluginBench } from "./plugin";
import { HostTimings, measureHosts, measureSpecCapacity, SpecCapacity } from "./script";

const log = (s: string) => process.stdout.write(`${s}\n`);

function table(header: string[], rows: (string | number)[][]): string {
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

function machine(): string {
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

type Outcome<T> = { ok: true; value: T; ms: number } | { ok: false; skipped: boolean; reason: string };

const failures: string[] = [];

async function measure<T>(
    name: string,
    fn: () => Promise<T> | T,
    skipIf?: () => string | undefined,
): Promise<Outcome<T>> {
    const why = skipIf?.();
    if (why) {
        log(`${name}: skipped: ${why}`);
        return { ok: false, skipped: true, reason: `skipped: ${why}` };
    }
    log(`${name} ...`);
    const t0 = Date.now();
    try {
        const value = await fn();
        log(`${name}: done in ${seconds(Date.now() - t0)}`);
        return { ok: true, value, ms: Date.now() - t0 };
    } catch (err) {
        const reason = `failed: ${(err as Error).message.split("\n")[0]}`;
        failures.push(`${name}: ${reason}`);
        log(`${name}: ${reason}`);
        return { ok: false, skipped: false, reason };
    }
}

function or<T>(o: Outcome<T>, f: (v: T) => string): string {
    return o.ok ? f(o.value) : o.reason;
}

async function main(): Promise<void> {
    const m = machine();
    log(`machine: ${m}`);
    const noHosts = () => sandboxUnavailableReason();

    const timing = await measure(
        "time to access under the deployed defaults (virtual clock; previous design, then this one)",
        () => benchTiming(packageRoot(), provisionerCodePath(), (s) => log(s)),
    );
    const burst = await measure(
        "burst: 500 instances within 3 s, SSM throttled at 10 requests/s per API, deployed defaults (naive, then pka-fleet)",
        () => benchBurst({}, (s) => log(s)),
    );
    const access = await measure<AccessResult>("time to access: 20 real sshd hosts", () => benchAccess(20), noHosts);
    const hostsT = await measure<HostTimings>(
        "script: first and no-change run on 6 real hosts",
        () => measureHosts(6),
        noHosts,
    );
    const capacity = await measure<SpecCapacity>("largest access spec within 64 KB", () => measureSpecCapacity());
    const bundle = await measure("Lambda bundle size and load time", () => {
        const file = provisionerCodePath();
        if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\``);
        return { bytes: fs.statSync(file).size, load: measureLoad() };
    });
    const calls = await measure("Lambda: AWS calls per 1,000 instances by batch size and rate limit", () =>
        benchLambdaCalls(),
    );
    const keygen = await measure("key generation", () => benchKeygen());
    const fleet = await measure("PkaFleet mocks run (1, 10, 200 users)", () => benchFleet());
    const plugin = await measure<PluginBench>(
        "cross-language plugin: spawn to GetSchema and to the first Construct (3 fresh processes; then the old ts-node path once)",
        () => benchPlugin(),
    );

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

    const details: string[] = [];
    details.push(
        `## Time to access under the deployed defaults (virtual clock)\n\n` +
            or(timing, (t) => {
                const c = t.config;
                const head =
                    `Deployed defaults (core/provisionerDefaults.ts), run by both designs: batches of ${c.batchSize} records gathered for ${c.batchingWindowMs / 1000} s, ${c.lambdaConcurrency} concurrent batches, ` +
                    `queue visibility timeout ${c.visibilityTimeoutMs / 1000} s (6 x the ${c.functionTimeoutMs / 1000} s function timeout + the window), ${c.maxReceiveCount} receives, ${c.maxAttempts} attempts, agent wait ${c.agentWaitSeconds} s. ` +
                    `"current" is the previous design (${t.baseline ? t.baseline.slice(0, 7) : "not in this checkout"}: a record whose agent is not online is failed and comes back after the visibility timeout; one GetCommandInvocation and one PutParameter per result); ` +
                    `"standard" is this bundle with its wait messages on the main queue (PKA_QUEUE_URL, per-message delays: what the wait queue replaced; concurrent batches each send what came online); ` +
                    `"new" is this one as deployed (the wait queue: one aggregator, commands filled to 50 while more are coming; listed results, host keys written only when changed). Agents register 15-120 s after "running" (uniform), SSM delivers in 0.5-2 s, the document runs 0.6-1.0 s, ` +
                    `launches spread over 10 s, every SSM and EC2 API answers 10 requests/s. Access = the document succeeded on the host; pinned = its host keys are in Parameter Store.\n\n`;
                const pct = (s: { p50?: number; p95?: number; max?: number }) =>
                    s.p50 === undefined ? "-" : `${seconds(s.p50)} / ${seconds(s.p95)} / ${seconds(s.max)}`;
                return (
                    head +
                    table(
                        [
                            "design",
                            "scenario",
                            "launch to access p50 / p95 / max",
                            "agent online to access p50 / p95 / max",
                            "agent online to run p95",
                            "launch to pinned p95",
                            "to DLQ",
                            "lost",
                            "SendCommand calls (bound 1.2 x ceil(N/50))",
                            "result calls / instance: answered (with throttled)",
                            "all AWS calls (throttled)",
                            "SQS receives",
                            "Lambda invocations",
                            "DLQ reasons",
                            "wall",
                        ],
                        t.rows.map((row: TimingRow) => {
                            const r = row.result;
                            const n = r.instances;
                            return [
                                row.design,
                                row.scenario,
                                pct(r.launchToAccess),
                                pct(r.onlineToAccess),
                                r.onlineToRun.p95 === undefined ? "-" : seconds(r.onlineToRun.p95),
                                r.launchToPinned.p95 === undefined ? "-" : seconds(r.launchToPinned.p95),
                                r.launchToDeadLetter.max === undefined ? "-" : seconds(r.launchToDeadLetter.max),
                                r.lost,
                                `${r.sendCommandCalls} (${(1.2 * Math.ceil(n / 50)).toFixed(1)})`,
                                `${r.resultAcceptedPerInstance.toFixed(2)} (${r.resultCallsPerInstance.toFixed(2)})`,
                                `${r.totalCalls} (${r.throttled})`,
                                r.sqsReceives,
                                r.lambdaInvocations,
                                Object.entries(r.deadLetterReasons)
                                    .map(([k, v]) => `${k}: ${v}`)
                                    .join(", ") || "-",
                                seconds(r.wallMs),
                            ];
                        }),
                    )
                );
            }),
    );
    details.push(
        `## Burst: 500 instances launched within 3 s, agents online 0.5-4 s after launch, SSM throttling at 10 requests/s per API, the deployed defaults\n\n` +
            or(burst, (b) =>
                table(
                    [
                        "design",
                        "SendCommand calls",
                        "throttled responses",
                        "provisioned",
                        "dead-lettered",
                        "lost",
                        "p50 to provisioned",
                        "p95 to provisioned",
                        "all AWS calls",
                        "wall time",
                    ],
                    b.results.map((r: BurstResult) => [
                        r.design,
                        r.sendCommandCalls,
                        r.throttled,
                        `${r.provisioned}/${r.instances}`,
                        r.deadLettered,
                        r.lost,
                        seconds(r.p50Ms),
                        seconds(r.p95Ms),
                        r.apiCalls,
                        seconds(r.wallMs),
                    ]),
                ),
            ) +
            "\n\nReal time: simulated hosts (the document run succeeds at once), the real bundled Lambda in child processes, the real local endpoint, bus and queue, the same launch schedule and agent delays for both designs. " +
            "Provisioned = the document ran successfully on the instance. The naive design's retries are compressed from AWS's ~1 and ~2 minutes to 1 and 2 s.",
    );
    details.push(
        `## Time to access on the local fleet (real sshd hosts), from the EC2 "running" event to a working \`ssh ... sudo -n true\`\n\n` +
            or(access, (a) =>
                table(
                    ["hosts", "with access", "p50", "p95", "max", "Lambda invocations", "SendCommand calls"],
                    [
                        [
                            a.hosts,
                            a.withAccess,
                            seconds(a.p50Ms),
                            seconds(a.p95Ms),
                            seconds(a.maxMs),
                            a.lambdaInvocations,
                            a.sendCommandCalls,
                        ],
                    ],
                ),
            ),
    );
    details.push(
        `## Setup script on real hosts\n\n` +
            or(hostsT, (t) =>
                table(
                    ["measure", "value"],
                    [
                        [
                            "sandbox hosts started in parallel",
                            `${t.hosts} in ${t.startMs} ms (${t.hostsStartedPerSecond}/s)`,
                        ],
                        ["script first run (median, ms)", t.scriptFirstRunMsMedian],
                        [
                            "script no-change run (median, ms; the script reports changes=0)",
                            t.scriptNoChangeRunMsMedian,
                        ],
                        ["ssh login + sudo -n true, sequential (per s)", t.loginsSequentialPerSecond],
                        ["ssh login + sudo -n true, parallel (per s)", t.loginsParallelPerSecond],
                    ],
                ),
            ),
    );
    details.push(
        `## Largest access spec within SSM's 64 KB (document + parameters; users named user0..., keyOptions "restrict")\n\n` +
            or(capacity, (c) =>
                table(
                    ["measure", "value"],
                    [
                        ["document bytes", c.documentBytes],
                        ["ed25519 users, 1 key each", c.ed25519UsersOneKeyEach],
                        ["rsa-4096 users, 1 key each", c.rsa4096UsersOneKeyEach],
                        ["ed25519 keys for one user", c.ed25519KeysForOneUser],
                        ["rsa-4096 keys for one user", c.rsa4096KeysForOneUser],
                    ],
                ),
            ),
    );
    details.push(
        `## Lambda: AWS calls per 1,000 instances (handler in-process against the fake AWS model, virtual clock)\n\n` +
            or(calls, (rows) =>
                table(
                    ["case", "result"],
                    rows.map((r) => [r.measure, r.value]),
                ),
            ),
    );
    details.push(
        `## Key generation (median of several runs)\n\n` +
            or(keygen, (rows) =>
                table(
                    ["key", "ms"],
                    rows.map((r) => [r.type, r.ms]),
                ),
            ),
    );
    details.push(
        `## PkaFleet under Pulumi mocks (construct + every output resolved)\n\n` +
            or(fleet, (rows) =>
                table(
                    ["users", "resources", "components", "access parameters", "generated keys", "mocks run"],
                    rows.map((r) => [
                        r.users,
                        r.resources,
                        r.components,
                        r.accessParameters,
                        r.generatedKeys,
                        seconds(r.mocksRunMs),
                    ]),
                ),
            ),
    );

    details.push(
        `## Cross-language plugin start-up (real run-plugin host, fake engine; each run a fresh process)\n\n` +
            or(plugin, (p) =>
                table(
                    [
                        "path",
                        "spawn to GetSchema answered",
                        "spawn to first Construct answered",
                        "the Construct request",
                        "fake engine's own work",
                    ],
                    [
                        ...p.runs.map((r, i) => [
                            `compiled plugin, run ${i + 1}`,
                            `${r.schemaMs} ms`,
                            `${r.constructMs} ms`,
                            `${r.constructRequestMs} ms`,
                            `${r.engineMs} ms`,
                        ]),
                        p.old && !("error" in p.old)
                            ? [
                                  "old: ts-node + analyzer over the sources",
                                  `${p.old.schemaMs} ms`,
                                  `${p.old.constructMs} ms`,
                                  `${p.old.constructRequestMs} ms`,
                                  `${p.old.engineMs} ms`,
                              ]
                            : [
                                  "old: ts-node + analyzer over the sources",
                                  p.old ? `failed: ${p.old.error}` : "not measured",
                                  "",
                                  "",
                                  "",
                              ],
                    ],
                ),
            ) +
            "\n\nConstruct is sent right after GetSchema, as the engine does for a YAML stack; it builds SshKeyPair generating an ed25519 key (the key's dynamic provider runs on the engine's side, here in the bench process).",
    );

    const report =
        `# pka-fleet bench results\n\nMachine: ${m}\n\nProduced by \`npm run bench\` (bench/index.ts).\n\n## Summary\n\n${summary}\n\n${details.join("\n\n")}\n` +
        (failures.length ? `\n## Failures\n\n${failures.map((f) => `- ${f}`).join("\n")}\n` : "");
    const file = path.join(packageRoot(), "bench", "RESULTS.md");
    fs.writeFileSync(file, report);
    log("");
    log(`Machine: ${m}`);
    log("");
    log(summary);
    log("");
    log(`details written to ${file}`);
    if (failures.length) throw new Error(`${failures.length} measurement(s) failed:\n${failures.join("\n")}`);
}

main().then(
    () => process.exit(0),
    (err) => {
        process.stderr.write(`bench: ${(err as Error).message ?? err}\n`);
        process.exit(1);
    },
);
