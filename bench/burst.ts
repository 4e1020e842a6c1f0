/**
 * Burst: hundreds of instances come up within a few seconds while SSM throttles at 10 requests/s
 * per API, in real time, with the Provisioner's deployed defaults (bench/timing.ts runs realistic
 * agent delays of 15-120 s on a virtual clock; this one keeps the naive design beside us). pka-fleet (EventBridge -> SQS -> the real bundled Lambda: readiness, batching, backoff,
 * redelivery, DLQ) against the naive design (one SendCommand per EC2 event, no readiness wait,
 * two retries), on the same local endpoint model, the same launch schedule and the same agent
 * delays. Hosts are simulated (their document run succeeds at once): this measures the pipeline,
 * not sshd.
 */
import { EC2_RUNNING_PATTERN } from "../core/events";
import { LocalEventBus } from "../local/eventBus";
import { EventSourceMapping } from "../local/eventSourceMapping";
import { LocalFleet } from "../local/fleet";
import { NaiveProvisioner } from "../local/naive";
import { LocalQueue } from "../local/queue";
import { LocalSsmEndpoint } from "../local/ssmEndpoint";
import { percentile } from "../local/stats";

export interface BurstOptions {
    instances?: number;
    /** Launches spread over this window (ms). Default 3000. */
    launchWindowMs?: number;
    /** Each agent registers 0.5 s to this long after launch (ms). Default 4000. */
    maxAgentDelayMs?: number;
    /** SSM throttling, requests/s per API. Default 10. */
    ratePerSecond?: number;
    /** Give up after (ms). Default 240000. */
    timeoutMs?: number;
    seed?: number;
}

export interface BurstResult {
    design: string;
    instances: number;
    sendCommandCalls: number;
    throttled: number;
    provisioned: number;
    deadLettered: number;
    lost: number;
    p50Ms?: number;
    p95Ms?: number;
    wallMs: number;
    apiCalls: number;
}

/** A small seeded PRNG: the same seed, the same launch schedule (both benches). */
export function mulberry32(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

function schedule(o: Required<BurstOptions>): { launchAt: number[]; agentDelay: number[] } {
    const rnd = mulberry32(o.seed);
    const launchAt = Array.from({ length: o.instances }, () => Math.floor(rnd() * o.launchWindowMs));
    const agentDelay = Array.from({ length: o.instances }, () => 500 + Math.floor(rnd() * (o.maxAgentDelayMs - 500)));
    return { launchAt, agentDelay };
}

function sum(m: Record<string, number>): number {
    return Object.values(m).reduce((a, b) => a + b, 0);
}

async function runPka(o: Required<BurstOptions>, log: (s: string) => void): Promise<BurstResult> {
    const { launchAt, agentDelay } = schedule(o);
    const fleet = await LocalFleet.create({
        hosts: o.instances,
        simulated: true,
        fleetName: "burst",
        // The Provisioner's deployed defaults (core/provisionerDefaults.ts): nothing tuned for the bench.
        knobs: { throttle: { ratePerSecond: o.ratePerSecond } },
        agentDelayMs: (i) => agentDelay[i],
    });
    try {
        const t0 = Date.now();
        for (const h of fleet.hosts) {
            setTimeout(() => {
                h.launchedAt = Date.now();
                fleet.endpoint.launch(h.instanceId, agentDelay[h.index]);
            }, launchAt[h.index]);
        }
        await fleet.settle(o.timeoutMs, (h) => h.provisionedAt !== undefined || h.result === "dead-lettered");
        const wallMs = Date.now() - t0;
        const times = fleet.hosts.filter((h) => h.provisionedAt).map((h) => h.provisionedAt! - h.launchedAt!);
        const provisioned = times.length;
        const dead = fleet.hosts.filter((h) => !h.provisionedAt && h.result === "dead-lettered").length;
        const s = fleet.endpoint.stats;
        log(
            `  pka-fleet: ${provisioned}/${o.instances} provisioned in ${(wallMs / 1000).toFixed(1)} s, ${fleet.lambdaInvocations} Lambda invocations`,
        );
        return {
            design: "pka-fleet",
            instances: o.instances,
            sendCommandCalls: s.calls.SendCommand ?? 0,
            throttled: sum(s.throttled),
            provisioned,
            deadLettered: dead,
            lost: o.instances - provisioned - dead,
            p50Ms: percentile(times, 50),
            p95Ms: percentile(times, 95),
            wallMs,
            apiCalls: sum(s.calls),
        };
    } finally {
        await fleet.stop();
    }
}

async function runNaive(o: Required<BurstOptions>, log: (s: string) => void): Promise<BurstResult> {
    const { launchAt, agentDelay } = schedule(o);
    const bus = new LocalEventBus();
    const endpoint = new LocalSsmEndpoint({ bus, knobs: { throttle: { ratePerSecond: o.ratePerSecond } } });
    // EventBridge invokes the naive function asynchronously per event: modelled as a queue drained at once.
    const invocations = new LocalQueue({ name: "naive-async-invocations" });
    bus.addRule("naive-ec2-running", EC2_RUNNING_PATTERN, invocations);
    await endpoint.start();
    const naive = new NaiveProvisioner({ endpoint: endpoint.url });
    const mapping = new EventSourceMapping({
        queue: invocations,
        batchSize: 1,
        maxConcurrency: 50,
        invoke: async (e) => {
            naive.handle(JSON.parse(e.Records[0].body));
            return {};
        },
    });
    mapping.start();
    const launchedAt = new Map<string, number>();
    const provisionedAt = new Map<string, number>();
    endpoint.on("invocation", (inv: { instanceId: string; status: string }) => {
        if (inv.status === "Success" && !provisionedAt.has(inv.instanceId))
            provisionedAt.set(inv.instanceId, Date.now());
    });
    try {
        const ids = Array.from(
            { length: o.instances },
            () =>
                endpoint.addInstance({ tags: {}, runner: async () => ({ exitCode: 0, stdout: "", stderr: "" }) })
                    .instanceId,
        );
        const t0 = Date.now();
        ids.forEach((id, i) =>
            setTimeout(() => {
                launchedAt.set(id, Date.now());
                endpoint.launch(id, agentDelay[i]);
            }, launchAt[i]),
        );
        await new Promise((r) => setTimeout(r, o.launchWindowMs + 100));
        await naive.idle();
        const end = Date.now() + 5000;
        while (
            Date.now() < end &&
            [...naive.outcomes.values()].some((x) => x.sentAt && !provisionedAt.has(x.instanceId))
        )
            await new Promise((r) => setTimeout(r, 50));
        const wallMs = Date.now() - t0;
        const times = [...provisionedAt].map(([id, at]) => at - launchedAt.get(id)!);
        log(
            `  naive: ${provisionedAt.size}/${o.instances} provisioned, ${naive.lost().length} events dropped after their retries`,
        );
        return {
            design: "naive (1 SendCommand per event, no readiness, 2 retries)",
            instances: o.instances,
            sendCommandCalls: endpoint.stats.calls.SendCommand ?? 0,
            throttled: sum(endpoint.stats.throttled),
            provisioned: provisionedAt.size,
            deadLettered: 0,
            lost: o.instances - provisionedAt.size,
            p50Ms: percentile(times, 50),
            p95Ms: percentile(times, 95),
            wallMs,
            apiCalls: sum(endpoint.stats.calls),
        };
    } finally {
        await mapping.stop();
        naive.destroy();
        await endpoint.stop();
    }
}

export async function benchBurst(
    opts: BurstOptions = {},
    log: (s: string) => void = () => undefined,
): Promise<{ options: Required<BurstOptions>; results: BurstResult[] }> {
    const o: Required<BurstOptions> = {
        instances: opts.instances ?? 500,
        launchWindowMs: opts.launchWindowMs ?? 3000,
        maxAgentDelayMs: opts.maxAgentDelayMs ?? 4000,
        ratePerSecond: opts.ratePerSecond ?? 10,
        timeoutMs: opts.timeoutMs ?? 240_000,
        seed: opts.seed ?? 7,
    };
    const naive = await runNaive(o, log);
    const pka = await runPka(o, log);
    return { options: o, results: [pka, naive] };
}
