/**
 * What a Provisioner deploys, as the local fleet and the bench stand it up: its settings (the
 * deployed defaults, core/provisionerDefaults.ts), its queues, its two event source mappings, and
 * its EventBridge rules with the exact patterns components/Provisioner.ts registers.
 */
import { ALL_TRIGGERS, provisionerRules } from "../core/events";
import { FIFO_BATCH_MAX, PROVISIONER_DEFAULTS, queueVisibilitySeconds } from "../core/provisionerDefaults";
import type { LocalEventBus } from "./eventBus";
import { EventSourceMapping } from "./eventSourceMapping";
import { DEFAULT_FLEET_NAME } from "./fleetPlan";
import { LocalQueue } from "./queue";
import type { SqsEvent } from "./sqsRecords";

/** The provisioner settings a local fleet runs: the deployed defaults (core/provisionerDefaults.ts), each overridable. */
export interface LocalProvisionerConfig {
    visibilityTimeoutMs: number;
    maxReceiveCount: number;
    batchSize: number;
    batchingWindowMs: number;
    lambdaConcurrency: number;
    maxAttempts: number;
    functionTimeoutMs: number;
    agentWaitSeconds: number;
    /** The wait queue's visibility timeout: six times the function timeout (it has no batching window). */
    waitVisibilityTimeoutMs: number;
}

export function localProvisionerConfig(opts: Partial<LocalProvisionerConfig> = {}): LocalProvisionerConfig {
    const d = PROVISIONER_DEFAULTS;
    return {
        visibilityTimeoutMs:
            opts.visibilityTimeoutMs ?? queueVisibilitySeconds(d.timeoutSeconds, d.batchingWindowSeconds) * 1000,
        maxReceiveCount: opts.maxReceiveCount ?? d.maxReceiveCount,
        batchSize: opts.batchSize ?? d.batchSize,
        batchingWindowMs: opts.batchingWindowMs ?? d.batchingWindowSeconds * 1000,
        lambdaConcurrency: opts.lambdaConcurrency ?? d.maximumConcurrency,
        maxAttempts: opts.maxAttempts ?? d.maxAttempts,
        functionTimeoutMs: opts.functionTimeoutMs ?? d.timeoutSeconds * 1000,
        agentWaitSeconds: opts.agentWaitSeconds ?? d.agentWaitSeconds,
        waitVisibilityTimeoutMs: opts.waitVisibilityTimeoutMs ?? queueVisibilitySeconds(d.timeoutSeconds, 0) * 1000,
    };
}

/** The Provisioner's queues, as it deploys them: the queue and its DLQ, the wait queue (FIFO) and its DLQ. */
export interface ProvisionerQueues {
    dlq: LocalQueue;
    queue: LocalQueue;
    waitDlq: LocalQueue;
    waitQueue: LocalQueue;
}

/** The queues a Provisioner named `name` deploys with `cfg` (components/Provisioner.ts). */
export function provisionerQueues(name: string, cfg: LocalProvisionerConfig): ProvisionerQueues {
    const dlq = new LocalQueue({ name: `${name}-dlq` });
    const queue = new LocalQueue({
        name,
        visibilityTimeoutMs: cfg.visibilityTimeoutMs,
        maxReceiveCount: cfg.maxReceiveCount,
        deadLetterQueue: dlq,
    });
    const waitDlq = new LocalQueue({ name: `${name}-wait-dlq.fifo`, fifo: true });
    const waitQueue = new LocalQueue({
        name: `${name}-wait.fifo`,
        fifo: true,
        visibilityTimeoutMs: cfg.waitVisibilityTimeoutMs,
        maxReceiveCount: cfg.maxReceiveCount,
        deadLetterQueue: waitDlq,
    });
    return { dlq, queue, waitDlq, waitQueue };
}

/** The Provisioner's two event source mappings: the queue (batches, window, concurrency) and the wait queue (FIFO: 10 a batch, no window). */
export function provisionerMappings(
    q: ProvisionerQueues,
    invoke: (e: SqsEvent) => Promise<unknown>,
    cfg: LocalProvisionerConfig,
): EventSourceMapping[] {
    return [
        new EventSourceMapping({
            queue: q.queue,
            invoke,
            batchSize: cfg.batchSize,
            maximumBatchingWindowMs: cfg.batchingWindowMs,
            maxConcurrency: cfg.lambdaConcurrency,
        }),
        new EventSourceMapping({
            queue: q.waitQueue,
            invoke,
            batchSize: FIFO_BATCH_MAX,
            maximumBatchingWindowMs: 0,
            maxConcurrency: 2,
        }),
    ];
}

/**
 * The EventBridge rules components/Provisioner.ts deploys with every trigger on (its default, and
 * PkaFleet's), in its order and keyed as its rules are named (`<name>-<key>`): core/events.ts
 * provisionerRules, the list the Provisioner maps, for the deployed document name;
 * test/eventBus.test.ts asserts that these deep-equal the eventPattern inputs the Provisioner
 * registers under Pulumi mocks.
 */
export function provisionerRulePatterns(
    documentName: string,
    fleetName: string = DEFAULT_FLEET_NAME,
): { key: string; pattern: object }[] {
    return provisionerRules(ALL_TRIGGERS).map((r) => ({ key: r.key, pattern: r.pattern(documentName, fleetName) }));
}

/** Puts the Provisioner's rules on `bus`, every one targeting `queue` (as every deployed rule targets the provisioner queue). */
export function addProvisionerRules(
    bus: LocalEventBus,
    queue: LocalQueue,
    documentName: string,
    fleetName: string = DEFAULT_FLEET_NAME,
    rulePrefix = "",
): void {
    for (const r of provisionerRulePatterns(documentName, fleetName))
        bus.addRule(`${rulePrefix}${r.key}`, r.pattern, queue);
}
