/**
 * One batch's state, passed explicitly to every step of the handler: the dependencies and
 * configuration, the instances to provision (targets) and those written back to wait, the
 * records that will be retried, and the batch's statistics. Also the operations every step
 * shares: one AWS call with its retries, failing records and targets, the dead-letter queue.
 */
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import type { ProvisionerConfig } from "../core/lambdaConfig";
import { DEADLINE_MARGIN_MS, IAM_PROPAGATION_MS } from "./constants";
import { BackoffOptions, errorName, isThrottling, withBackoff } from "./retry";
import {
    BatchStats,
    emptyStats,
    KnownTarget,
    LambdaContext,
    Log,
    ProvisionerDeps,
    Target,
    WaitingTarget,
} from "./types";

export interface BatchContext {
    readonly deps: ProvisionerDeps;
    readonly cfg: ProvisionerConfig;
    /** The Lambda's context (its deadline), when the runtime gave one. */
    readonly lambda?: LambdaContext;
    readonly log: Log;
    readonly stats: BatchStats;
    readonly startedAt: number;
    /** Records of this batch that came from the wait queue (a FIFO queue): an instance of theirs that cannot be handled now waits again instead of failing them. */
    readonly waitRecords: Set<string>;
    /** Instances whose agent is not online yet: written back to the queue (rearmWaiting) at the end of the batch. */
    readonly waiting: Map<string, WaitingTarget>;
    /** Online instances whose agent is too old for ENV_VAR (id -> AgentVersion). */
    readonly oldAgents: Map<string, string>;
    /** The records that will be retried (batchItemFailures). */
    readonly failures: Set<string>;
    readonly targets: Map<string, Target>;
    /** A direct invocation (a deploy's push or the offboarding), not a delivery from SQS. */
    direct: boolean;
    /** Newest LastModifiedDate (ms) of the access parameters last read; undefined: none read. */
    specModifiedAt: number | undefined;
}

export function newBatchContext(deps: ProvisionerDeps, cfg: ProvisionerConfig, lambda?: LambdaContext): BatchContext {
    return {
        deps,
        cfg,
        lambda,
        log: deps.log,
        stats: emptyStats(),
        startedAt: deps.now(),
        waitRecords: new Set(),
        waiting: new Map(),
        oldAgents: new Map(),
        failures: new Set(),
        targets: new Map(),
        direct: false,
        specModifiedAt: undefined,
    };
}

/** Milliseconds left before the function's deadline; undefined outside Lambda. */
export function remainingMs(ctx: BatchContext): number | undefined {
    return ctx.lambda?.getRemainingTimeInMillis?.();
}

/** Error names AWS answers a caller its policy does not (yet) allow: SSM/SQS JSON, SQS query, EC2. */
const ACCESS_DENIED = new Set(["AccessDeniedException", "AccessDenied", "UnauthorizedOperation"]);
export function isAccessDenied(err: unknown): boolean {
    return ACCESS_DENIED.has(errorName(err));
}

function backoff(ctx: BatchContext, extra: Partial<BackoffOptions>): BackoffOptions {
    return {
        sleep: ctx.deps.sleep,
        random: ctx.deps.random,
        onRetry: (err, attempt, delayMs) => {
            if (isThrottling(err)) ctx.stats.throttled++;
            ctx.log.warn("retrying AWS call", { error: errorName(err), attempt, delayMs });
        },
        ...extra,
    };
}

/**
 * One AWS call with backoff on throttling; in a direct invocation (a deploy's push or the
 * offboarding), access-denied answers are retried too while IAM propagates (IAM_PROPAGATION_MS,
 * within the function's deadline). From the queue they are not: SQS redelivers the record.
 */
export async function aws<T>(ctx: BatchContext, fn: () => Promise<T>, extra: Partial<BackoffOptions> = {}): Promise<T> {
    let delay = 1000;
    for (let attempt = 1; ; attempt++) {
        try {
            return await withBackoff(fn, backoff(ctx, extra));
        } catch (err) {
            if (!ctx.direct || !isAccessDenied(err) || attempt >= 16) throw err;
            const elapsed = ctx.deps.now() - ctx.startedAt;
            const remaining = remainingMs(ctx);
            const budget = Math.min(
                IAM_PROPAGATION_MS - elapsed,
                remaining === undefined ? Infinity : remaining - DEADLINE_MARGIN_MS,
            );
            if (budget < delay) throw err;
            ctx.stats.accessDeniedRetries++;
            ctx.log.warn(
                "access denied in a direct invocation: IAM changes take a while to be visible everywhere; retrying",
                { error: errorName(err), attempt, delayMs: delay },
            );
            await ctx.deps.sleep(delay);
            delay = Math.min(delay * 2, 8000);
        }
    }
}

/** The record will be retried (reported in batchItemFailures); logged once. */
export function fail(ctx: BatchContext, messageId: string, why: string, extra: Record<string, unknown> = {}): void {
    if (!ctx.failures.has(messageId)) ctx.log.warn("record will be retried", { messageId, why, ...extra });
    ctx.failures.add(messageId);
}

/** Wait messages go to the wait queue (PKA_WAIT_QUEUE_URL, FIFO, one message group): not in a direct invocation. */
export function usesWaitQueue(ctx: BatchContext): boolean {
    return ctx.cfg.waitQueueUrl !== undefined && !ctx.direct;
}

/** A target whose every record came from the wait queue (none from an event of its own). */
export function onlyFromWaitQueue(ctx: BatchContext, t: Target): boolean {
    return t.fromWait && [...t.records].every((m) => ctx.waitRecords.has(m));
}

/** Adds `messageId`'s work on `instanceId` to the batch's targets. */
export function addTarget(
    ctx: BatchContext,
    instanceId: string,
    messageId: string,
    attempt: number,
    known: KnownTarget = {},
): void {
    const now = ctx.deps.now();
    // Carried unread from a wait message, and now an instance to look at: it is looked at (once).
    const carried = ctx.waiting.get(instanceId);
    if (carried) {
        ctx.waiting.delete(instanceId);
        for (const m of carried.records) addTarget(ctx, instanceId, m, 1, { since: carried.since, fromWait: true });
    }
    const since = Math.min(known.since ?? now, now);
    const t = ctx.targets.get(instanceId) ?? {
        records: new Set<string>(),
        attempt: 0,
        since,
        fromWait: known.fromWait === true,
        tagged: false,
        online: false,
    };
    t.records.add(messageId);
    t.since = Math.min(t.since, since);
    // Any event but a wait entry (a running or association event) is looked at as new: tag first.
    if (known.fromWait !== true) t.fromWait = false;
    // Several events for one instance in a batch: one command. Keep the highest attempt so the bound holds.
    t.attempt = Math.max(t.attempt, attempt);
    t.tagged ||= known.tagged === true;
    t.online ||= known.online === true;
    if (known.held !== undefined) t.held = Math.min(t.held ?? known.held, known.held);
    ctx.targets.set(instanceId, t);
}

/** Nothing is sent to `ids` in this batch: their records are retried, or (wait queue) they are looked at again on the next round. */
export function failTargets(ctx: BatchContext, ids: string[], why: string, extra: Record<string, unknown> = {}): void {
    for (const id of ids) {
        const t = ctx.targets.get(id);
        if (!t) continue;
        if (usesWaitQueue(ctx) && onlyFromWaitQueue(ctx, t)) {
            // From the wait queue: failing its record would hold the queue's one message group until the
            // visibility timeout; the instance is looked at again on the next round instead.
            ctx.log.warn("instance looked at again on the next round", { instanceId: id, why, ...extra });
            ctx.waiting.set(id, { ...t, held: undefined, next: undefined, pingStatus: `looked at again (${why})` });
            ctx.targets.delete(id);
            continue;
        }
        for (const m of t.records) fail(ctx, m, why, { instanceId: id, ...extra });
        ctx.targets.delete(id);
    }
}

/** Every target's records, each once. */
export function targetRecords(ctx: BatchContext): string[] {
    return [...new Set([...ctx.targets.values()].flatMap((t) => [...t.records]))];
}

/** Sends a reason to the DLQ (its alarm is the provisioner's alarm path); a failure to send fails the records. */
export async function deadLetter(
    ctx: BatchContext,
    reason: Record<string, unknown>,
    messageIds: string[],
): Promise<void> {
    if (!ctx.cfg.deadLetterQueueUrl) return;
    try {
        await aws(ctx, () =>
            ctx.deps.sqs.send(
                new SendMessageCommand({ QueueUrl: ctx.cfg.deadLetterQueueUrl, MessageBody: JSON.stringify(reason) }),
            ),
        );
        ctx.stats.deadLettered++;
    } catch (err) {
        for (const m of messageIds)
            fail(ctx, m, "cannot send to the dead-letter queue", { error: errorName(err), reason: reason.reason });
    }
}
