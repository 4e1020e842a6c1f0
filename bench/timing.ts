/**
 * Time to access under the configuration a Provisioner deploys, on a virtual clock.
 *
 * Everything between EC2 and the host runs for real except time: the REAL bundled Lambda
 * (bin/lambda/provisioner.js, or the previous design's bundle built from git), the AWS SDK's own
 * clients (serialization, signing, parsing, retries), the local endpoint's SSM/EC2/SQS semantics
 * (InvalidInstanceId, pagination, the IAM tag condition, 10 requests/s per API), the local
 * EventBridge bus with the Provisioner's exact rule patterns, and the local SQS queue and event
 * source mapping (visibility timeout, redrive, pollers taking at most 10 messages a receive, the
 * batching window, the concurrency cap). The SDK talks to the endpoint through an in-process
 * request handler (local/wire/server.ts inProcessRequestHandler) and @sinonjs/fake-timers replaces
 * Date and the timers, so an hour of a 5,000-instance fleet takes seconds and every run with one
 * seed is the same run.
 *
 * The model of the parts no machine here can run (the numbers are options; `npm run bench -- --help`):
 * - agents register 15-120 s after "running", uniformly: the range of EC2 Linux boots to a
 *   registered SSM Agent (first boot, cloud-init, agent start and registration);
 * - SSM delivers a command to an online agent 0.5-2 s after SendCommand and the document runs for
 *   0.6-1.0 s (the script itself measures about 0.1 s, bench/script.ts; the rest is the agent's
 *   plugin start and the status upload);
 * - launches spread over `launchWindowMs` (a fleet scaling out);
 * - every SSM, EC2 and SQS API answers 10 requests/s (a token bucket per API; beyond it
 *   ThrottlingException/RequestLimitExceeded), far under most published quotas, so it binds.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as FakeTimers from "@sinonjs/fake-timers";
import { mulberry32 } from "./burst";
import { localProvisionerConfig, LocalProvisionerConfig } from "../local/provisioner";
import { simulatedProvisioner, TimingOptions } from "./timingAws";
import { launchResult, TimingResult } from "./timingStats";

export type { TimingOptions } from "./timingAws";
export type { Stats, TimingResult } from "./timingStats";

/** The previous design (before wait messages and listed results): the last commit before them. */
export const BASELINE_COMMIT = "7666ea1371a08033b2ed96e4a33068f1cc4075c2";

/**
 * Builds the previous design's Lambda from git (lambda/ and core/ at BASELINE_COMMIT, bundled as
 * scripts/bundle-lambda.js bundles the current one) and returns the bundle's path; undefined
 * when the repository has no history (an npm tarball).
 */
export function buildBaselineBundle(root: string): string | undefined {
    try {
        execFileSync("git", ["-C", root, "cat-file", "-e", `${BASELINE_COMMIT}^{commit}`], { stdio: "ignore" });
    } catch {
        return undefined;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-baseline-"));
    process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
    const tar = execFileSync("git", ["-C", root, "archive", "--format=tar", BASELINE_COMMIT, "lambda", "core"], {
        maxBuffer: 64 << 20,
    });
    execFileSync("tar", ["-x", "-C", dir], { input: tar });
    fs.symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"));
    const outfile = path.join(dir, "provisioner.js");
    const esbuild = require("esbuild") as typeof import("esbuild");
    esbuild.buildSync({
        entryPoints: [path.join(dir, "lambda", "provisioner.ts")],
        outfile,
        bundle: true,
        platform: "node",
        target: "node20",
        format: "cjs",
        mainFields: ["module", "main"],
        minify: true,
        logLevel: "warning",
    });
    return outfile;
}

/** Runs one fleet launch to its end (every instance accessed or dead-lettered, or the horizon) on a virtual clock. */
export async function simulateLaunch(o: TimingOptions): Promise<TimingResult> {
    const wallStart = performance.now();
    const rnd = mulberry32(o.seed ?? 7);
    const cfg = o.config ?? localProvisionerConfig();
    const agentMin = o.agentMinMs ?? 15_000;
    const agentMax = o.agentMaxMs ?? 120_000;
    const launchWindow = o.launchWindowMs ?? 10_000;
    const horizon = o.horizonMs ?? 3 * 3600_000;
    const never = new Set(o.neverOnline ?? []);
    const n = o.instances;

    const clock = FakeTimers.install({
        now: Date.UTC(2026, 11, 3, 12, 0, 0),
        toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"],
        shouldClearNativeTimers: true,
    });
    try {
        const w = simulatedProvisioner(o, cfg, rnd);
        const { endpoint, dlq, mappings, ids } = w;
        const launchedAt = new Map<string, number>();
        const onlineAt = new Map<string, number>();
        const accessAt = new Map<string, number>();
        endpoint.on("agentOnline", (inst: { instanceId: string }) => onlineAt.set(inst.instanceId, Date.now()));
        const runAt = new Map<string, number>();
        endpoint.on("invocation", (inv: { instanceId: string; status: string }) => {
            if (inv.status === "InProgress" && !runAt.has(inv.instanceId)) runAt.set(inv.instanceId, Date.now());
            if (inv.status === "Success" && !accessAt.has(inv.instanceId)) accessAt.set(inv.instanceId, Date.now());
        });
        const t0 = Date.now();
        for (const m of mappings) m.start();
        ids.forEach((id, i) => {
            const at = Math.floor(rnd() * launchWindow);
            // Never: 20 days (under Node's 2^31-1 ms timer limit, past any horizon).
            const agent = never.has(i) ? 20 * 24 * 3600_000 : agentMin + Math.floor(rnd() * (agentMax - agentMin));
            setTimeout(() => {
                launchedAt.set(id, Date.now());
                endpoint.launch(id, agent);
            }, at);
        });

        const deadLetteredAt = new Map<string, number>();
        const deadLettered = (): Map<string, string> => {
            const by = new Map<string, string>();
            for (const m of dlq.peek()) {
                try {
                    const b = JSON.parse(m.body) as {
                        reason?: string;
                        instanceId?: string;
                        detail?: { "instance-id"?: string };
                    };
                    const id = b.instanceId ?? b.detail?.["instance-id"];
                    if (id && !by.has(id)) {
                        by.set(id, b.reason ?? "redrive (no reason)");
                        // When it reached the DLQ: its send (a reason) or its move by the redrive policy (visible there from then).
                        if (!deadLetteredAt.has(id))
                            deadLetteredAt.set(id, m.deadLetterSourceArn ? m.visibleAt : m.sentTimestamp);
                    }
                } catch {
                    /* not ours */
                }
            }
            return by;
        };
        const pinnedAt = new Map<string, number>();
        endpoint.on("parameter", (p: { name: string }) => {
            const id = p.name.slice(p.name.lastIndexOf("/") + 1);
            if (p.name.startsWith("/pka/timing/known_hosts/") && !pinnedAt.has(id)) pinnedAt.set(id, Date.now());
        });
        let allAccessAt: number | undefined;
        const ended = (): boolean => {
            if (launchedAt.size < n) return false;
            const dl = deadLettered();
            if (!ids.every((id) => accessAt.has(id) || dl.has(id))) return false;
            allAccessAt ??= Date.now();
            // And every host's keys pinned (result handling is counted to its end).
            return ids.every((id) => !accessAt.has(id) || pinnedAt.has(id));
        };
        let lastCheck = 0;
        while (Date.now() - t0 < horizon) {
            await clock.tickAsync(1000);
            if (Date.now() - lastCheck >= 5000) {
                lastCheck = Date.now();
                if (ended()) break;
            }
        }
        const endedAt = allAccessAt ?? Date.now();
        const stopping = Promise.all(mappings.map((m) => m.stop()));
        for (let i = 0; i < 700; i++) await clock.tickAsync(1000);
        await stopping;
        await endpoint.stop();

        const dl = deadLettered();
        return launchResult(w, {
            instances: n,
            launchedAt,
            onlineAt,
            runAt,
            accessAt,
            pinnedAt,
            deadLetteredAt,
            dl,
            t0,
            endedAt,
            wallStart,
        });
    } finally {
        clock.uninstall();
    }
}

export interface TimingRow {
    /** "current": the design before wait messages (built from git); "standard": wait messages on the main queue (no aggregator; this bundle); "new": the wait queue. */
    design: "current" | "standard" | "new";
    scenario: string;
    result: TimingResult;
}

/**
 * The bench: launches of 1, 20, 500 and 5,000 instances, and one instance whose agent never
 * registers, under the deployed defaults, with the previous design's bundle first (when the
 * repository has its history), then this bundle with wait messages on the main queue (the design
 * before the wait queue), then this one as deployed.
 */
export async function benchTiming(
    root: string,
    currentBundle: string,
    log: (s: string) => void = () => undefined,
): Promise<{ rows: TimingRow[]; baseline?: string; config: LocalProvisionerConfig }> {
    const config = localProvisionerConfig();
    const baseline = buildBaselineBundle(root);
    const designs: [TimingRow["design"], string | undefined][] = [
        ["current", baseline],
        ["standard", currentBundle],
        ["new", currentBundle],
    ];
    const rows: TimingRow[] = [];
    for (const [design, bundle] of designs) {
        const standardWaitMessages = design === "standard";
        if (!bundle) {
            log(
                `timing: the previous design (${BASELINE_COMMIT.slice(0, 7)}) is not in this checkout's history; only this design is measured`,
            );
            continue;
        }
        for (const n of [1, 20, 500, 5000]) {
            const result = await simulateLaunch({ instances: n, bundle, config, standardWaitMessages });
            log(
                `timing ${design} ${n}: online->access p95 ${result.onlineToAccess.p95} ms, SendCommand ${result.sendCommandCalls}, lost ${result.lost}, ${result.wallMs} ms wall`,
            );
            rows.push({ design, scenario: `${n} instances`, result });
        }
        const result = await simulateLaunch({
            instances: 2,
            neverOnline: [0],
            bundle,
            config,
            horizonMs: 3 * 3600_000,
            standardWaitMessages,
        });
        rows.push({ design, scenario: "agent never registers (1 of 2)", result });
    }
    return { rows, baseline: baseline ? BASELINE_COMMIT : undefined, config };
}
