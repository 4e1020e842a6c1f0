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
import { EC2Client } from "@aws-sdk/client-ec2";
import { SQSClient } from "@aws-sdk/client-sqs";
import { SSMClient } from "@aws-sdk/client-ssm";
import { accessSpecHash, validateAccessSpec } from "../core/accessSpec";
import { canonicalAccessSpecJson } from "../core/accessSpec";
import { splitAccessSpec } from "../core/accessStore";
import { renderDocument } from "../core/document";
import { mulberry32 } from "./burst";
import type { SsmDocument } from "../local/endpoint/documents";
import { LocalEventBus } from "../local/eventBus";
import {
    addProvisionerRules,
    localProvisionerConfig,
    LocalProvisionerConfig,
    provisionerMappings,
    provisionerQueues,
} from "../local/provisioner";
import type { SqsEvent } from "../local/sqsRecords";
import { LocalSsmEndpoint } from "../local/ssmEndpoint";
import { percentile } from "../local/stats";
import { inProcessRequestHandler } from "../local/wire/server";

export interface TimingOptions {
    instances: number;
    /** The bundle to run (bin/lambda/provisioner.js or the previous design's). */
    bundle: string;
    /** Agents register uniformly in [agentMinMs, agentMaxMs] after "running". Default 15-120 s. */
    agentMinMs?: number;
    agentMaxMs?: number;
    /** Launches spread over this window (ms). Default 10 s. */
    launchWindowMs?: number;
    /** Host indexes whose agent never registers (they must end in the DLQ with a reason). */
    neverOnline?: number[];
    /** Requests/s per API. Default 10. */
    ratePerSecond?: number;
    /** The provisioner configuration (default: what a Provisioner deploys). */
    config?: LocalProvisionerConfig;
    /** Give up after this much virtual time (ms). Default 3 h. */
    horizonMs?: number;
    seed?: number;
    /** Leave PKA_WAIT_QUEUE_URL and PKA_QUEUE_URL unset: a record whose agent is not online is failed and redelivered after the visibility timeout. */
    withoutWaitMessages?: boolean;
    /** Wait messages on the standard queue (PKA_QUEUE_URL, per-message delays), as before the wait queue: no single aggregator. */
    standardWaitMessages?: boolean;
}

export interface TimingResult {
    instances: number;
    provisioned: number;
    deadLettered: number;
    /** Dead-letter messages that name the instance and a reason. */
    deadLetterReasons: Record<string, number>;
    lost: number;
    launchToAccess: Stats;
    onlineToAccess: Stats;
    /** Agent online until the document starts on the host (the look, any hold, SendCommand and the agent's pickup). */
    onlineToRun: Stats;
    /** Launch until the host's keys are pinned in Parameter Store (what StrictHostKeyChecking logins need). */
    launchToPinned: Stats;
    pinned: number;
    /** Launch until the instance's DLQ message (an agent that never registers). */
    launchToDeadLetter: Stats;
    /** Accepted SendCommand calls (each up to 50 instances), and every attempt including throttled ones. */
    sendCommandCalls: number;
    sendCommandAttempts: number;
    /** Every AWS request by API, including throttled ones. */
    calls: Record<string, number>;
    throttled: number;
    totalCalls: number;
    /** Result handling: GetCommandInvocation + ListCommandInvocations + GetParameters + PutParameter, per provisioned instance. */
    resultCallsPerInstance: number;
    /** The same, counting only the calls AWS answered (not the throttled attempts). */
    resultAcceptedPerInstance: number;
    lambdaInvocations: number;
    sqsReceives: number;
    /** Virtual ms from the first launch until the last instance ended (access or DLQ). */
    virtualMs: number;
    /** Real ms the simulation took. */
    wallMs: number;
    /** The Lambda's log lines by level and message, counted (what went wrong, if anything). */
    log: Record<string, number>;
}

export interface Stats {
    p50?: number;
    p95?: number;
    max?: number;
}

/** The APIs the Lambda calls that are throttled in the model (the endpoint's keys: SSM actions by name, others prefixed). */
const THROTTLED_ACTIONS = [
    "SendCommand",
    "GetCommandInvocation",
    "ListCommandInvocations",
    "DescribeInstanceInformation",
    "GetParametersByPath",
    "GetParameters",
    "GetParameter",
    "PutParameter",
    "ec2:DescribeInstances",
];

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

function stats(xs: number[]): Stats {
    return xs.length === 0 ? {} : { p50: percentile(xs, 50), p95: percentile(xs, 95), max: Math.max(...xs) };
}

const HOST_KEYS =
    "PKA-HOSTKEY ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqVYzTm6vTuoU0c7YbM6yZCg6rJ8q0kYt3DNt2mO8Yw\n" +
    "PKA-HOSTKEY ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WsHFVUGUlUtsdw=\n";

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
        const tag = { key: "pka-fleet", value: "timing" };
        const bus = new LocalEventBus();
        const endpoint = new LocalSsmEndpoint({
            bus,
            knobs: {
                // Every SSM and EC2 API; SQS standard queues have nearly unlimited throughput (Amazon SQS Developer Guide, "Amazon SQS quotas").
                throttle: { ratePerSecond: o.ratePerSecond ?? 10, actions: THROTTLED_ACTIONS },
                requiredTag: tag,
                agentPickupMs: () => 500 + Math.floor(rnd() * 1500),
            },
        });
        const documentName = "pka-fleet-timing-setup";
        endpoint.addDocument(documentName, renderDocument() as SsmDocument);
        const spec = validateAccessSpec({
            users: [
                {
                    name: "svc_user",
                    sudo: "nopasswd",
                    keys: [
                        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqVYzTm6vTuoU0c7YbM6yZCg6rJ8q0kYt3DNt2mO8Yw svc_user@pka-timing",
                    ],
                },
            ],
        });
        const accessPath = "/pka/timing/access";
        for (const p of splitAccessSpec(canonicalAccessSpecJson(spec), accessPath))
            endpoint.putParameterDirect(p.name, p.value);
        const queues = provisionerQueues("timing-provisioner", cfg);
        const { dlq, queue } = queues;
        for (const q of Object.values(queues)) endpoint.addQueue(q);
        addProvisionerRules(bus, queue, documentName, "timing");

        const requestHandler = inProcessRequestHandler(endpoint.handlerTable());
        const common = {
            region: "us-east-1",
            endpoint: "http://in-process.local",
            maxAttempts: 1,
            credentials: { accessKeyId: "AKIDTIMING", secretAccessKey: "timing" },
            requestHandler,
        };
        const ssm = new SSMClient(common);
        const sqs = new SQSClient({ ...common, useQueueUrlAsEndpoint: false });
        const ec2 = new EC2Client(common);
        const env: Record<string, string> = {
            PKA_DOCUMENT_NAME: documentName,
            PKA_TARGET_TAG: `${tag.key}=${tag.value}`,
            PKA_ACCESS_PARAMETER: accessPath,
            PKA_ACCESS_SPEC_SHA256: accessSpecHash(spec),
            PKA_KNOWN_HOSTS_PATH: "/pka/timing/known_hosts",
            PKA_DEAD_LETTER_QUEUE_URL: dlq.url,
            PKA_MAX_ATTEMPTS: String(cfg.maxAttempts),
            ...(o.withoutWaitMessages
                ? {}
                : o.standardWaitMessages
                  ? { PKA_QUEUE_URL: queue.url }
                  : { PKA_WAIT_QUEUE_URL: queues.waitQueue.url, PKA_QUEUE_URL: queue.url }),
            PKA_AGENT_WAIT_SECONDS: String(cfg.agentWaitSeconds),
            AWS_REGION: "us-east-1",
        };
        const mod = require(o.bundle) as {
            createHandler: (deps: Record<string, unknown>) => (e: unknown, c: unknown) => Promise<unknown>;
        };
        const logCounts: Record<string, number> = {};
        const count = (level: string) => (m: string, x?: Record<string, unknown>) => {
            const k = `${level} ${m}${x && typeof x.why === "string" ? `: ${x.why}` : ""}`;
            logCounts[k] = (logCounts[k] ?? 0) + 1;
            // The batches' own counters, summed (held, waiting, notReady, ...).
            if (m === "batch done" && x)
                for (const [f, v] of Object.entries(x))
                    if (typeof v === "number" && v > 0) logCounts[`batch ${f}`] = (logCounts[`batch ${f}`] ?? 0) + v;
        };
        const quiet = { debug() {}, info: count("info"), warn: count("warn"), error: count("error") };
        const handler = mod.createHandler({
            ssm,
            sqs,
            ec2: async () => ec2,
            env,
            log: quiet,
            random: rnd,
            sleep: (ms: number) => new Promise((r) => setTimeout(r, ms)),
        });
        let invocations = 0;
        // The function's deadline, as Lambda enforces it: past it the batch fails (its records come back after the visibility timeout).
        const invoke = (event: SqsEvent): Promise<unknown> => {
            invocations++;
            const from = event.Records[0]?.eventSourceARN.split(":").pop() ?? "?";
            logCounts[`invocations from ${from}`] = (logCounts[`invocations from ${from}`] ?? 0) + 1;
            logCounts[`records from ${from}`] = (logCounts[`records from ${from}`] ?? 0) + event.Records.length;
            const deadline = Date.now() + cfg.functionTimeoutMs;
            let timer: ReturnType<typeof setTimeout> | undefined;
            const timeout = new Promise((_, reject) => {
                timer = setTimeout(() => reject(new Error("Task timed out")), cfg.functionTimeoutMs);
            });
            return Promise.race([
                handler(event, { getRemainingTimeInMillis: () => deadline - Date.now() }),
                timeout,
            ]).finally(() => clearTimeout(timer));
        };
        const mappings = provisionerMappings(queues, invoke, cfg);

        // The fleet.
        const launchedAt = new Map<string, number>();
        const onlineAt = new Map<string, number>();
        const accessAt = new Map<string, number>();
        const ids: string[] = [];
        for (let i = 0; i < n; i++) {
            const inst = endpoint.addInstance({
                instanceId: `i-${(0x1000000000000 + i).toString(16).padStart(17, "0")}`,
                tags: { [tag.key]: tag.value },
                runner: async () => {
                    await new Promise((r) => setTimeout(r, 600 + Math.floor(rnd() * 400)));
                    return { exitCode: 0, stdout: `PKA-OK\n${HOST_KEYS}`, stderr: "" };
                },
            });
            ids.push(inst.instanceId);
        }
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
        const reasons: Record<string, number> = {};
        for (const r of dl.values()) reasons[r] = (reasons[r] ?? 0) + 1;
        const calls = { ...endpoint.stats.calls };
        const totalCalls = Object.values(calls).reduce((a, b) => a + b, 0);
        const throttled = Object.values(endpoint.stats.throttled).reduce((a, b) => a + b, 0);
        const provisioned = ids.filter((id) => accessAt.has(id)).length;
        const RESULT_OPS = ["GetCommandInvocation", "ListCommandInvocations", "GetParameters", "PutParameter"];
        const resultCalls = RESULT_OPS.reduce((a, op) => a + (calls[op] ?? 0), 0);
        const resultAccepted = RESULT_OPS.reduce(
            (a, op) => a + (calls[op] ?? 0) - (endpoint.stats.throttled[op] ?? 0),
            0,
        );
        return {
            instances: n,
            provisioned,
            deadLettered: dl.size,
            deadLetterReasons: reasons,
            lost: ids.filter((id) => !accessAt.has(id) && !dl.has(id)).length,
            launchToAccess: stats(
                ids.filter((id) => accessAt.has(id)).map((id) => accessAt.get(id)! - launchedAt.get(id)!),
            ),
            onlineToAccess: stats(
                ids
                    .filter((id) => accessAt.has(id) && onlineAt.has(id))
                    .map((id) => accessAt.get(id)! - onlineAt.get(id)!),
            ),
            onlineToRun: stats(
                ids.filter((id) => runAt.has(id) && onlineAt.has(id)).map((id) => runAt.get(id)! - onlineAt.get(id)!),
            ),
            launchToPinned: stats(
                ids.filter((id) => pinnedAt.has(id)).map((id) => pinnedAt.get(id)! - launchedAt.get(id)!),
            ),
            pinned: pinnedAt.size,
            launchToDeadLetter: stats([...deadLetteredAt].map(([id, at]) => at - launchedAt.get(id)!)),
            sendCommandCalls: endpoint.stats.sendCommandInstances.length,
            sendCommandAttempts: calls.SendCommand ?? 0,
            calls,
            throttled,
            totalCalls,
            resultCallsPerInstance: provisioned ? resultCalls / provisioned : 0,
            resultAcceptedPerInstance: provisioned ? resultAccepted / provisioned : 0,
            lambdaInvocations: invocations,
            sqsReceives: queue.stats.received + queues.waitQueue.stats.received,
            virtualMs: endedAt - t0,
            wallMs: Math.round(performance.now() - wallStart),
            log: logCounts,
        };
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
