/**
 * The provisioner Lambda: bundle size, module load time (cold processes), and AWS calls per 1,000
 * instances at several SQS batch sizes, with and without SendCommand throttling. The handler runs
 * in-process against the fake AWS model (local/fakeAws.ts) with a virtual clock, so the call counts
 * are exact and the run takes seconds; wall times here are informative only.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { accessSpecHash, canonicalAccessSpecJson, validateAccessSpec } from "../core/accessSpec";
import { splitAccessSpec } from "../core/accessStore";
import { EC2_RUNNING_DETAIL_TYPE } from "../core/events";
import { provisionerCodePath } from "../core/lambdaBundle";
import { createHandler, Log, SQSRecord } from "../lambda/provisioner";
import { FakeAwsState } from "../local/fakeAws";
import { ServiceName } from "../local/wire/handlers";
import { packageRoot } from "../local/packageRoot";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqES5zNG9al28zqQu3ZQwKMG8xswUKYWhqvGcMZATU7 bench";

/** Fewest fresh processes a load-time figure is taken over (the issue asks for >= 15). */
export const MIN_LOAD_RUNS = 15;

export interface LoadTimes {
    runs: number;
    medianMs: number;
    p95Ms: number;
    minMs: number;
    maxMs: number;
}

/**
 * Module load time of the bundle: `require` of it in a fresh node process, repeated `runs` times
 * (at least MIN_LOAD_RUNS). Figures only, never asserted: a shared machine makes them noisy.
 */
export function measureLoad(runs = MIN_LOAD_RUNS, file = provisionerCodePath()): LoadTimes {
    const n = Math.max(runs, MIN_LOAD_RUNS);
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
        const out = execFileSync(
            process.execPath,
            [
                "-e",
                `const t=process.hrtime.bigint();require(${JSON.stringify(file)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`,
            ],
            {
                env: { ...process.env, AWS_REGION: "us-east-1" },
                stdio: ["ignore", "pipe", "ignore"],
            },
        );
        times.push(Number(out.toString()));
    }
    times.sort((a, b) => a - b);
    // Nearest-rank percentiles.
    const rank = (p: number) => times[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))];
    return { runs: n, medianMs: rank(0.5), p95Ms: rank(0.95), minMs: times[0], maxMs: times[n - 1] };
}

/**
 * The bundle's largest contributors by package (this repository's folders as "core", "lambda"),
 * from esbuild's metafile of a fresh build into a temporary directory (bin/ is not touched).
 */
export function bundleContributors(top = 10): { bytes: number; contributors: { name: string; bytes: number }[] } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-bench-bundle-"));
    try {
        const outfile = path.join(dir, "provisioner.js");
        const meta = path.join(dir, "meta.json");
        execFileSync(
            process.execPath,
            [path.join(packageRoot(), "scripts", "bundle-lambda.js"), "--outfile", outfile, "--metafile", meta],
            { stdio: ["ignore", "ignore", "pipe"] },
        );
        const metafile = JSON.parse(fs.readFileSync(meta, "utf8")) as {
            outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
        };
        const totals = new Map<string, number>();
        for (const [file, info] of Object.entries(Object.values(metafile.outputs)[0].inputs)) {
            const parts = file.replace(/^.*node_modules\//, "").split("/");
            const name = parts.slice(0, parts[0].startsWith("@") ? 2 : 1).join("/");
            totals.set(name, (totals.get(name) ?? 0) + info.bytesInOutput);
        }
        const contributors = [...totals]
            .sort((a, b) => b[1] - a[1])
            .slice(0, top)
            .map(([name, bytes]) => ({ name, bytes }));
        return { bytes: fs.statSync(outfile).size, contributors };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/**
 * The operation a command stands for. The bundle is minified (class names are mangled there), so
 * it comes from the command's operation schema: `[9, namespace, "SendCommand", ...]` in SDK v3.
 */
function operationOf(cmd: { constructor: { name: string }; schema?: unknown }): string {
    const schema = cmd.schema as unknown[] | { name?: unknown } | undefined;
    if (Array.isArray(schema) && typeof schema[2] === "string") return schema[2];
    if (schema && !Array.isArray(schema) && typeof schema.name === "string") return schema.name;
    return cmd.constructor.name.replace(/Command$/, "");
}

/** A duck-typed SDK client that routes each command to the fake. */
function client(state: FakeAwsState, service: ServiceName) {
    const table = state.handlers()[service]!;
    return {
        send: (cmd: { constructor: { name: string }; input: unknown; schema?: unknown }) => {
            const op = operationOf(cmd);
            const fn = table[op];
            if (!fn) return Promise.reject(new Error(`bench fake: no ${service}.${op}`));
            return fn(cmd.input);
        },
    };
}

export interface RunResult {
    instances: number;
    batchSize: number;
    rateLimit: string;
    sendCommandCalls: number;
    accepted: number;
    throttled: number;
    awsCalls: number;
    rounds: number;
    provisioned: number;
    lost: number;
}

/** 1,000 (by default) new instances arrive as EC2 running events; SQS batches of `batchSize`; failed records come back next round. */
export async function runFleet(
    instances = 1000,
    batchSize = 50,
    rate?: { ratePerSec: number; burst: number },
): Promise<RunResult> {
    const state = new FakeAwsState();
    state.documents.add("pka-setup");
    state.requiredTag = { key: "pka-fleet", value: "bench" };
    for (let i = 1; i <= instances; i++)
        state.addInstance(`i-${i.toString(16).padStart(17, "0")}`, { "pka-fleet": "bench" }, "Online");
    const spec = validateAccessSpec({ users: [{ name: "svc_user", sudo: "nopasswd", keys: [KEY] }] });
    for (const p of splitAccessSpec(canonicalAccessSpecJson(spec), "/pka/bench/access"))
        state.parameters.set(p.name, { value: p.value, type: "String", version: 1 });
    let now = 0;
    state.clock = () => now;
    if (rate) state.rateLimit.SendCommand = { ...rate };
    const quiet: Log = { debug() {}, info() {}, warn() {}, error() {} };
    const handler = createHandler({
        ssm: client(state, "ssm") as never,
        ec2: async () => client(state, "ec2") as never,
        sqs: client(state, "sqs") as never,
        env: {
            PKA_DOCUMENT_NAME: "pka-setup",
            PKA_TARGET_TAG: "pka-fleet=bench",
            PKA_ACCESS_PARAMETER: "/pka/bench/access",
            PKA_ACCESS_SPEC_SHA256: accessSpecHash(spec),
        },
        log: quiet,
        sleep: async (ms) => {
            now += ms;
        },
    });
    let queue: SQSRecord[] = Array.from({ length: instances }, (_, i) => {
        const id = `i-${(i + 1).toString(16).padStart(17, "0")}`;
        return {
            messageId: `m${i}`,
            eventSource: "aws:sqs",
            body: JSON.stringify({
                version: "0",
                id: `e${i}`,
                source: "aws.ec2",
                "detail-type": EC2_RUNNING_DETAIL_TYPE,
                detail: { "instance-id": id, state: "running" },
            }),
        };
    });
    let rounds = 0;
    while (queue.length > 0 && rounds < 50) {
        rounds++;
        const next: SQSRecord[] = [];
        for (let i = 0; i < queue.length; i += batchSize) {
            const batch = queue.slice(i, i + batchSize);
            const res = await handler({ Records: batch });
            const failed = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
            next.push(...batch.filter((r) => failed.has(r.messageId)));
        }
        queue = next;
        now += 30000; // the visibility timeout passes before redelivery
    }
    const sc = state.callsOf("SendCommand");
    const provisioned = new Set(state.commands.flatMap((c) => c.instanceIds)).size;
    return {
        instances,
        batchSize,
        rateLimit: rate ? `${rate.ratePerSec}/s, burst ${rate.burst}` : "none",
        sendCommandCalls: sc.length,
        accepted: sc.filter((c) => !c.error).length,
        throttled: sc.filter((c) => c.error === "ThrottlingException").length,
        awsCalls: state.calls.length,
        rounds,
        provisioned,
        lost: instances - provisioned,
    };
}

/** The bench runner's entry: one row per measurement. */
export async function benchLambda(): Promise<Record<string, string | number>[]> {
    return [...benchLambdaBundle(), ...(await benchLambdaCalls())];
}

/** Bundle size, module load (median and p95 over fresh processes) and the largest contributors: one row each, printed, never asserted. */
export function benchLambdaBundle(runs = MIN_LOAD_RUNS): { measure: string; value: string }[] {
    const file = provisionerCodePath();
    if (!fs.existsSync(file)) return [{ measure: "bundle", value: "skipped: run `npm run build` first" }];
    const bytes = fs.statSync(file).size;
    const load = measureLoad(runs, file);
    const { contributors } = bundleContributors();
    return [
        {
            measure: "bundle bin/lambda/provisioner.js",
            value: `${bytes} bytes (${(bytes / 1000).toFixed(1)} KB, ${kib(bytes)})`,
        },
        {
            measure: `bundle module load (require in ${load.runs} fresh node ${process.version} processes)`,
            value: `median ${load.medianMs.toFixed(1)} ms, p95 ${load.p95Ms.toFixed(1)} ms (min ${load.minMs.toFixed(1)}, max ${load.maxMs.toFixed(1)})`,
        },
        {
            measure: "bundle top contributors (bytes in the output)",
            value: contributors.map((c) => `${c.name} ${kib(c.bytes)}`).join(", "),
        },
    ];
}

/** The SQS batch sizes and SendCommand rate limits the call-count bench covers. */
export const FLEET_CASES: readonly (readonly [number, { ratePerSec: number; burst: number } | undefined])[] = [
    [10, undefined],
    [50, undefined],
    [100, undefined],
    [50, { ratePerSec: 5, burst: 10 }],
    [100, { ratePerSec: 2, burst: 4 }],
];

/** AWS calls per 1,000 instances for each of FLEET_CASES, one row each. */
export async function benchLambdaCalls(): Promise<{ measure: string; value: string }[]> {
    const rows: { measure: string; value: string }[] = [];
    for (const [batch, rate] of FLEET_CASES) {
        const r = await runFleet(1000, batch, rate);
        // Not a measurement but a broken harness: the handler reached none of the fake's operations.
        if (r.awsCalls === 0 || (!rate && r.lost > 0))
            throw new Error(
                `the handler made ${r.awsCalls} AWS calls and lost ${r.lost} of 1,000 instances without a rate limit: the bench harness is broken`,
            );
        rows.push({
            measure: `1,000 instances, SQS batch ${batch}, SendCommand rate limit ${r.rateLimit}`,
            value: `${r.accepted} accepted SendCommand calls (+${r.throttled} throttled), ${r.awsCalls} AWS calls in all, ${r.rounds} round(s), ${r.provisioned} provisioned, ${r.lost} lost`,
        });
    }
    return rows;
}

if (require.main === module) {
    benchLambda().then((rows) => rows.forEach((r) => console.log(`${r.measure}: ${r.value}`)));
}
