/**
 * The detail sections of bench/RESULTS.md, one per bench, each a heading, a markdown table (or why
 * the measurement did not run) and what the numbers mean.
 */
import { seconds } from "../cli/localFleet";
import type { BurstResult } from "./burst";
import { BenchResults, or, table } from "./report";
import type { TimingRow } from "./timing";

/** Every bench's section, in the order of the report. */
export function detailSections(r: BenchResults): string[] {
    const { timing, burst, access, hostsT, capacity, calls, keygen, fleet, plugin } = r;
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
    return details;
}
