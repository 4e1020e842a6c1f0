/**
 * The readiness wait (constants.ts WAIT_POLL_SECONDS): instances whose SSM Agent is not online
 * yet, and online ones held for a fuller SendCommand, are written back to the queue in wait
 * messages at the end of the batch instead of failing their records.
 */
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { randomUUID } from "crypto";
import { WAIT_MAX_INSTANCES, waitEvent } from "../core/events";
import { WAIT_CYCLE_SECONDS, WAIT_GROUP_ID, WAIT_HOLD_SECONDS } from "../core/provisionerDefaults";
import { DEADLINE_MARGIN_MS, SEND_COMMAND_MAX_IDS, WAIT_FAST_MS, WAIT_POLL_SECONDS } from "./constants";
import {
    aws,
    BatchContext,
    deadLetter,
    fail,
    failTargets,
    onlyFromWaitQueue,
    remainingMs,
    usesWaitQueue,
} from "./context";
import { agentNotOnlineMessage } from "./messages";
import { chunk } from "./paginate";
import { errorName } from "./retry";
import type { Target, WaitingTarget } from "./types";

/** Delay (whole seconds, SQS DelaySeconds 1-900) of the next look at an instance waiting `ageMs` for its agent. */
export function waitDelaySeconds(ageMs: number, nowMs: number, agentWaitSeconds: number): number {
    const left = Math.max(1, Math.ceil((agentWaitSeconds * 1000 - ageMs) / 1000));
    if (ageMs < WAIT_FAST_MS) {
        // The next multiple of WAIT_POLL_SECONDS on the wall clock (1..WAIT_POLL_SECONDS s away).
        const phase = Math.floor(nowMs / 1000) % WAIT_POLL_SECONDS;
        return Math.min(left, WAIT_POLL_SECONDS - phase);
    }
    return Math.min(left, 900, Math.max(60, Math.ceil(ageMs / 2000)));
}

/**
 * An instance whose agent is not online (yet): looked at again through a wait message
 * (rearmWaiting). Without a queue to write to, or in a direct invocation, its records fail and
 * come back after the visibility timeout.
 */
export function waitOrFail(ctx: BatchContext, id: string, pingStatus: string): void {
    const t = ctx.targets.get(id);
    if (!t) return;
    if ((ctx.cfg.queueUrl !== undefined || ctx.cfg.waitQueueUrl !== undefined) && !ctx.direct) {
        ctx.waiting.set(id, { ...t, held: undefined, pingStatus });
        ctx.targets.delete(id);
    } else {
        failTargets(ctx, [id], "agent not online", { pingStatus });
    }
}

/**
 * Wait queue only: online instances that came through a wait message are sent 50 to a
 * SendCommand. When the first-attempt instances of this round would leave a partial last
 * command and every one of that remainder came from the wait queue, the remainder is held
 * (written back with the time it was first seen online) while other young instances (under
 * WAIT_FAST_MS) are still waiting for their agent and none of the held has waited
 * WAIT_HOLD_SECONDS: the next round fills the command. With nothing else coming, or an
 * instance held long enough, all are sent.
 */
export function holdForFullerCommands(ctx: BatchContext): void {
    const now = ctx.deps.now();
    const first = [...ctx.targets].filter(([, t]) => t.attempt === 1);
    const rest = first.length % SEND_COMMAND_MAX_IDS;
    // Coming soon: an instance still waiting for its agent and young (an agent long in coming, or never, holds nobody up).
    const coming = [...ctx.waiting.values()].some((t) => t.held === undefined && now - t.since < WAIT_FAST_MS);
    if (rest === 0 || !coming) return;
    const holdable = first.filter(([, t]) => onlyFromWaitQueue(ctx, t));
    if (holdable.length < rest) return;
    // The youngest are held; the older ones fill the full commands.
    holdable.sort(([a, ta], [b, tb]) => (tb.held ?? now) - (ta.held ?? now) || (a < b ? -1 : 1));
    const hold = holdable.slice(0, rest);
    if (hold.some(([, t]) => now - (t.held ?? now) >= WAIT_HOLD_SECONDS * 1000)) return;
    for (const [id, t] of hold) {
        ctx.waiting.set(id, { ...t, held: t.held ?? now, next: undefined, pingStatus: "Online" });
        ctx.targets.delete(id);
    }
    ctx.stats.held += hold.length;
}

/**
 * Sleeps until WAIT_CYCLE_SECONDS after this invocation started, or sooner, when an instance
 * held for a fuller command reaches WAIT_HOLD_SECONDS then (within the function's deadline).
 */
export async function untilRoundEnds(ctx: BatchContext): Promise<void> {
    let end = ctx.startedAt + WAIT_CYCLE_SECONDS * 1000;
    for (const t of ctx.waiting.values())
        if (t.held !== undefined) end = Math.min(end, t.held + WAIT_HOLD_SECONDS * 1000);
    const left = end - ctx.deps.now();
    const remaining = remainingMs(ctx);
    const ms = Math.min(left, remaining === undefined ? left : remaining - DEADLINE_MARGIN_MS);
    if (ms > 0) await ctx.deps.sleep(ms);
}

/**
 * The instances still waiting for their agent. Each waiting longer than PKA_AGENT_WAIT_SECONDS
 * since its first event is dead-lettered as `agent-not-online`; the rest go back to the queue as
 * wait messages, one per delay (waitDelaySeconds) and per WAIT_MAX_INSTANCES, sent before their
 * records are acknowledged: a send that fails fails those records instead, so SQS redelivers
 * them after the visibility timeout and nothing is lost.
 */
export async function rearmWaiting(ctx: BatchContext, round = false): Promise<void> {
    const now = ctx.deps.now();
    const byDelay = new Map<number, { id: string; t: Target }[]>();
    for (const [id, t] of ctx.waiting) {
        const age = now - t.since;
        if (t.held === undefined && age >= ctx.cfg.agentWaitSeconds * 1000) {
            await deadLetterNotOnline(ctx, id, t, age, now);
            continue;
        }
        const delay = nextLook(ctx, t, age, now, round);
        const group = byDelay.get(delay) ?? [];
        group.push({ id, t });
        byDelay.set(delay, group);
    }
    for (const [delay, group] of byDelay) {
        for (const part of chunk(
            group.sort((a, b) => (a.id < b.id ? -1 : 1)),
            WAIT_MAX_INSTANCES,
        )) {
            await sendWaitMessage(ctx, delay, part, now);
        }
    }
    if (ctx.stats.waiting > 0) {
        ctx.log.info("waiting for agents to come online", {
            instances: ctx.stats.waiting,
            held: ctx.stats.held,
            messages: ctx.stats.waitMessages,
        });
    }
}

async function deadLetterNotOnline(
    ctx: BatchContext,
    id: string,
    t: WaitingTarget,
    age: number,
    now: number,
): Promise<void> {
    ctx.stats.agentNotOnline++;
    const waitedSeconds = Math.round(age / 1000);
    const { agentWaitSeconds } = ctx.cfg;
    ctx.log.error("instance dead-lettered: its SSM Agent did not come online in time", {
        instanceId: id,
        waitedSeconds,
        pingStatus: t.pingStatus,
        agentWaitSeconds,
    });
    await deadLetter(
        ctx,
        {
            reason: "agent-not-online",
            instanceId: id,
            pingStatus: t.pingStatus,
            waitedSeconds,
            agentWaitSeconds,
            message: agentNotOnlineMessage(id, waitedSeconds, t.pingStatus),
            time: new Date(now).toISOString(),
        },
        [...t.records],
    );
}

/**
 * The DelaySeconds of the wait message `t` goes in (0: the wait queue), setting `t.next`, the
 * time of its next look, when it is carried in the wait queue until then.
 */
function nextLook(ctx: BatchContext, t: Target, age: number, now: number, round: boolean): number {
    // Young instances (and held ones) go to the wait queue, which takes no per-message delay (a FIFO queue): what
    // another invocation just looked at is written with the time of its next look and carried unread until the
    // aggregator's next round. An instance long in coming is looked at every half of its age: it goes to the main
    // queue with that delay (SendMessage DelaySeconds), so a dead agent costs a few receives an hour, not a round
    // every 5 s (without a main queue URL it is carried in the wait queue until its time).
    const d = waitDelaySeconds(age, now, ctx.cfg.agentWaitSeconds);
    if (!usesWaitQueue(ctx)) return d;
    if (t.held !== undefined) return 0;
    if (d > WAIT_CYCLE_SECONDS && ctx.cfg.queueUrl) {
        t.next = undefined;
        return d;
    }
    if (t.next === undefined) {
        if (d > WAIT_CYCLE_SECONDS) t.next = now + d * 1000;
        else if (!round) t.next = now + WAIT_CYCLE_SECONDS * 1000;
    }
    return 0;
}

async function sendWaitMessage(
    ctx: BatchContext,
    delay: number,
    part: { id: string; t: Target }[],
    now: number,
): Promise<void> {
    const entries = part.map(({ id, t }) => ({
        instanceId: id,
        since: t.since,
        ...(t.next !== undefined ? { next: t.next } : {}),
        ...(t.held !== undefined ? { held: t.held } : {}),
    }));
    const body = JSON.stringify(waitEvent(entries, now));
    const message =
        usesWaitQueue(ctx) && delay === 0
            ? {
                  QueueUrl: ctx.cfg.waitQueueUrl,
                  MessageBody: body,
                  MessageGroupId: WAIT_GROUP_ID,
                  MessageDeduplicationId: randomUUID(),
              }
            : { QueueUrl: ctx.cfg.queueUrl, MessageBody: body, DelaySeconds: delay };
    try {
        await aws(ctx, () => ctx.deps.sqs.send(new SendMessageCommand(message)));
        ctx.stats.waiting += part.length;
        ctx.stats.waitMessages++;
    } catch (err) {
        ctx.log.error(
            "cannot write the wait message: its instances' records are retried after the visibility timeout",
            { error: errorName(err), instances: part.length },
        );
        for (const { id, t } of part)
            for (const m of t.records) fail(ctx, m, "cannot write the wait message", { instanceId: id });
    }
}
