/**
 * The provisioner Lambda: bundle size, module load time (cold processes), and AWS calls per 1,000
 * instances at several SQS batch sizes, with and without SendCommand throttling. The handler runs
 * in-process against the fake AWS model (local/fakeAws.ts) with a virtual clock, so the call counts
 * are exact and the run takes seconds; wall times here are informative only.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import { accessSpecHash, canonicalAccessSpecJson, validateAccessSpec } from "../core/accessSpec";
import { splitAccessSpec } from "../core/accessStore";
import { EC2_RUNNING_DETAIL_TYPE } from "../core/events";
import { provisionerCodePath } from "../core/lambdaBundle";
import { createHandler, Log, SQSRecord } from "../lambda/provisioner";
import { FakeAwsState, ServiceName } from "../local/fakeAws";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqES5zNG9al28zqQu3ZQwKMG8xswUKYWhqvGcMZATU7 bench";

/** Median module load time of the bundle in fresh node processes (ms). */
export function measureLoad(runs = 7): { medianMs: number; minMs: number; maxMs: number } {
    const file = provisionerCodePath();
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
        const out = execFileSync(process.execPath, ["-e", `const t=process.hrtime.bigint();require(${JSON.stringify(file)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`], {
            env: { ...process.env, AWS_REGION: "us-east-1" },
            stdio: ["ignore", "pipe", "ignore"],
        });
        times.push(Number(out.toString()));
    }
    times.sort((a, b) => a - b);
    return { medianMs: times[Math.floor(runs / 2)], minMs: times[0], maxMs: times[runs - 1] };
}

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
export async function runFleet(instances = 1000, batchSize = 50, rate?: { ratePerSec: number; burst: number }): Promise<RunResult> {
    const state = new FakeAwsState();
    state.documents.add("pka-setup");
    state.requiredTag = { key: "pka-fleet", value: "bench" };
    for (let i = 1; i <= instances; i++) state.addInstance(`i-${i.toString(16).padStart(17, "0")}`, { "pka-fleet": "bench" }, "Online");
    const spec = validateAccessSpec({ users: [{ name: "svc_user", sudo: "nopasswd", keys: [KEY] }] });
    for (const p of splitAccessSpec(canonicalAccessSpecJson(spec), "/pka/bench/access")) state.parameters.set(p.name, { value: p.value, type: "String", version: 1 });
    let now = 0;
    state.clock = () => now;
    if (rate) state.rateLimit.SendCommand = { ...rate };
    const quiet: Log = { debug() {}, info() {}, warn() {}, error() {} };
    const handler = createHandler({
        ssm: client(state, "ssm") as never,
        ec2: async () => client(state, "ec2") as never,
        sqs: client(state, "sqs") as never,
        env: { PKA_DOCUMENT_NAME: "pka-setup", PKA_TARGET_TAG: "pka-fleet=bench", PKA_ACCESS_PARAMETER: "/pka/bench/access", PKA_ACCESS_SPEC_SHA256: accessSpecHash(spec) },
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
            body: JSON.stringify({ version: "0", id: `e${i}`, source: "aws.ec2", "detail-type": EC2_RUNNING_DETAIL_TYPE, detail: { "instance-id": id, state: "running" } }),
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
    const rows: Record<string, string | number>[] = [];
    const file = provisionerCodePath();
    if (fs.existsSync(file)) {
        const load = measureLoad();
        rows.push({
            measure: "bundle bin/lambda/provisioner.js",
            value: `${(fs.statSync(file).size / 1024).toFixed(1)} KiB; module load median ${load.medianMs.toFixed(0)} ms (min ${load.minMs.toFixed(0)}, max ${load.maxMs.toFixed(0)}) in fresh node ${process.version} processes`,
        });
    } else rows.push({ measure: "bundle", value: "skipped: run `npm run build` first" });
    rows.push(...(await benchLambdaCalls()));
    return rows;
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
        if (r.awsCalls === 0 || (!rate && r.lost > 0)) throw new Error(`the handler made ${r.awsCalls} AWS calls and lost ${r.lost} of 1,000 instances without a rate limit: the bench harness is broken`);
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
