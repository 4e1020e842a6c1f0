/**
 * One SQS batch, in order: parse each record (malformed: logged with its messageId and
 * acknowledged), act on the command results, expand the pushes to the fleet's instances,
 * provision the targets, write back the instances still waiting, and pin host keys last.
 */
import { parseQueuedEvent, QueuedEvent, QueuedEventError, sameDocument } from "../core/events";
import { FIFO_BATCH_MAX } from "../core/provisionerDefaults";
import { addTarget, BatchContext, fail, usesWaitQueue } from "./context";
import { listOnlineTagged } from "./fleet";
import { certifyHosts } from "./hostCerts";
import { pinHostKeys } from "./hostKeys";
import { provision } from "./provision";
import { handleResults } from "./results";
import { errorName } from "./retry";
import type { CommandResultEvent, PushEvent, Queued, SQSBatchResponse, SQSRecord } from "./types";
import { rearmWaiting, untilRoundEnds } from "./wait";

type WaitEvent = Extract<QueuedEvent, { kind: "wait" }>;

export async function processBatch(ctx: BatchContext, records: SQSRecord[]): Promise<SQSBatchResponse> {
    ctx.stats.records = records.length;
    for (const r of records) if (r && typeof r === "object" && r.eventSource !== "aws:sqs") ctx.direct = true;
    const results: Queued<CommandResultEvent>[] = [];
    const pushes: Queued<PushEvent>[] = [];
    for (const r of records) {
        const ev = parseRecord(ctx, r);
        if (!ev) continue;
        if (ev.kind === "command-result") results.push({ messageId: r.messageId, ev });
        else if (ev.kind === "push") pushes.push({ messageId: r.messageId, ev });
        else routeEvent(ctx, r, ev);
    }

    const pins = await handleResults(ctx, results);
    const deployPush = await expandPushes(ctx, pushes);
    if (ctx.targets.size > 0) await provision(ctx, deployPush);
    // The wait queue's round: with the group's last messages, stay until the round's end so that every wait
    // message written meanwhile comes with the next one (core/provisionerDefaults.ts WAIT_CYCLE_SECONDS).
    const round =
        usesWaitQueue(ctx) &&
        records.length > 0 &&
        records.length < FIFO_BATCH_MAX &&
        records.every((r) => r && ctx.waitRecords.has(r.messageId));
    if (round && ctx.waiting.size > 0) await untilRoundEnds(ctx);
    if (ctx.waiting.size > 0) await rearmWaiting(ctx, round);
    // Last: pinning host keys does not hold up access (it is one PutParameter per new host, and throttled).
    if (pins.length > 0) await pinHostKeys(ctx, pins);
    // Then their certificates (host CA configured): signed for the keys just pinned.
    if (pins.length > 0)
        await certifyHosts(
            ctx,
            pins.filter((p) => !ctx.failures.has(p.messageId)),
        );

    ctx.stats.failedRecords = ctx.failures.size;
    return { batchItemFailures: [...ctx.failures].map((itemIdentifier) => ({ itemIdentifier })) };
}

/**
 * The record's event, or undefined when it is malformed (it cannot succeed on retry: acknowledged,
 * loudly) or a result for another document (ignored). Notes the records of the wait queue.
 */
function parseRecord(ctx: BatchContext, r: SQSRecord): QueuedEvent | undefined {
    if (!r || typeof r !== "object") {
        ctx.stats.malformed++;
        ctx.log.error("malformed record acknowledged", {
            reason: "not-a-record",
            record: r === null ? "null" : typeof r,
        });
        return undefined;
    }
    let ev: QueuedEvent;
    try {
        ev = parseQueuedEvent(typeof r.body === "string" ? r.body : "");
    } catch (err) {
        if (!(err instanceof QueuedEventError)) throw err;
        // It cannot succeed on retry: acknowledge it, loudly.
        ctx.stats.malformed++;
        ctx.log.error("malformed record acknowledged", {
            messageId: r.messageId,
            reason: err.reason,
            error: err.message,
        });
        return undefined;
    }
    if (typeof r.eventSourceARN === "string" && r.eventSourceARN.endsWith(".fifo")) ctx.waitRecords.add(r.messageId);
    if (ev.kind === "command-result" && !sameDocument(ev.documentName, ctx.cfg.documentName)) {
        ctx.stats.ignored++;
        ctx.log.info("result for another document ignored", { messageId: r.messageId, documentName: ev.documentName });
        return undefined;
    }
    return ev;
}

/** An instance event (running, association) or a wait message: its instances become targets. */
function routeEvent(ctx: BatchContext, r: SQSRecord, ev: Exclude<QueuedEvent, CommandResultEvent | PushEvent>): void {
    const sent = Number(r.attributes?.SentTimestamp);
    const since = Number.isFinite(sent) && sent > 0 ? sent : undefined;
    switch (ev.kind) {
        case "wait":
            addWaitEntries(ctx, r.messageId, ev);
            break;
        case "association":
            if (ev.documentName && sameDocument(ev.documentName, ctx.cfg.documentName)) {
                // An association of our own document just applied a spec.
                ctx.stats.ignored++;
                ctx.log.info("association run of our own document ignored", {
                    messageId: r.messageId,
                    instanceId: ev.instanceId,
                });
                break;
            }
            addTarget(ctx, ev.instanceId, r.messageId, 1, { since });
            break;
        case "instance-running":
            addTarget(ctx, ev.instanceId, r.messageId, 1, { since });
            break;
    }
}

function addWaitEntries(ctx: BatchContext, messageId: string, ev: WaitEvent): void {
    for (const w of ev.instances) {
        if (
            usesWaitQueue(ctx) &&
            w.held === undefined &&
            w.next !== undefined &&
            w.next > ctx.deps.now() &&
            !ctx.targets.has(w.instanceId)
        ) {
            // Not due yet (an agent long in coming is looked at less often): carried to the next round unread.
            const c = ctx.waiting.get(w.instanceId);
            const records = new Set([...(c?.records ?? []), messageId]);
            ctx.waiting.set(w.instanceId, {
                records,
                attempt: 1,
                since: Math.min(w.since, c?.since ?? w.since),
                fromWait: true,
                tagged: false,
                online: false,
                next: w.next,
                pingStatus: c?.pingStatus ?? "not looked at yet",
            });
            continue;
        }
        // A held entry's claim (online since) only times its hold: tag and readiness are looked at again.
        addTarget(ctx, w.instanceId, messageId, 1, {
            since: w.since,
            fromWait: true,
            ...(w.held !== undefined ? { held: w.held } : {}),
        });
    }
}

/** The pushes' instances become targets; returns whether a push names the pinned hash (a deploy's push). */
async function expandPushes(ctx: BatchContext, pushes: Queued<PushEvent>[]): Promise<boolean> {
    let deployPush = false; // a push names the pinned hash
    let online: string[] | undefined;
    for (const { messageId, ev } of pushes) {
        if (ev.specHash && ev.specHash !== ctx.cfg.accessSpecSha256) {
            // A deploy's push names the hash it pinned; this one names another (a stale or forged push). A direct
            // invocation fails (the deploy reports it); from the queue it is acknowledged: it cannot succeed later.
            ctx.stats.ignored++;
            ctx.log.warn("push for a spec other than the pinned one: nothing provisioned for it", {
                messageId,
                expected: ev.specHash.slice(0, 8),
                pinned: ctx.cfg.accessSpecSha256.slice(0, 8),
            });
            if (ctx.direct) fail(ctx, messageId, "push for a spec other than the pinned one");
            continue;
        }
        if (ev.specHash) deployPush = true;
        if (ev.instanceIds) {
            for (const id of new Set(ev.instanceIds)) addTarget(ctx, id, messageId, 1);
            continue;
        }
        try {
            online ??= await listOnlineTagged(ctx);
        } catch (err) {
            fail(ctx, messageId, "cannot list the fleet", { error: errorName(err) });
            continue;
        }
        ctx.log.info("push", { messageId, reason: ev.reason, instances: online.length });
        for (const id of online) addTarget(ctx, id, messageId, 1, { tagged: true, online: true });
    }
    return deployPush;
}
