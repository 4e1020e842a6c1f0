/**
 * The wait queue's events, the provisioner's own readiness wait: instances whose SSM Agent was not
 * online yet, written by the Lambda to its own queue with a delay (SendMessage DelaySeconds), one
 * message for many instances, so the next look at all of them is one record (and one batch of
 * SendCommand calls) instead of one redelivery per instance after the visibility timeout. `since`
 * is when the instance's first event reached the queue (ms): the wait ends with a dead-letter
 * reason once it exceeds the agent wait. Anyone who can send to the queue can write one, as they
 * can any event: an entry is only ever a reason to look (tag, readiness and the pinned spec decide).
 */

export const WAIT_SOURCE = "pka-fleet.wait";
export const WAIT_DETAIL_TYPE = "PKA Fleet Readiness Wait";
/** Entries per wait message: about 40 bytes each, far under SQS's 256 KiB message limit. */
export const WAIT_MAX_INSTANCES = 4000;

export interface WaitEntry {
    instanceId: string;
    /** Epoch ms: when the instance's first event reached the queue. */
    since: number;
    /** Epoch ms before which the instance is not looked at again (an agent long in coming is looked at less often). */
    next?: number;
    /** Epoch ms since which its agent is known online: held for a fuller SendCommand (the wait queue's aggregator). */
    held?: number;
}

/** A wait entry as a wait message carries it: `[id, since]`, `[id, since, next]` or `[id, since, next or 0, held]`. */
function waitEntryTuple(e: WaitEntry): (string | number)[] {
    if (e.held !== undefined) return [e.instanceId, e.since, e.next ?? 0, e.held];
    if (e.next !== undefined) return [e.instanceId, e.since, e.next];
    return [e.instanceId, e.since];
}

/** The wait message for `entries` (an EventBridge-shaped event the Lambda parses back). */
export function waitEvent(entries: WaitEntry[], now = Date.now()): Record<string, unknown> {
    if (entries.length === 0 || entries.length > WAIT_MAX_INSTANCES)
        throw new Error(`a wait message holds 1-${WAIT_MAX_INSTANCES} instances; got ${entries.length}`);
    return {
        version: "0",
        id: `pka-wait-${now}-${entries[0].instanceId}`,
        source: WAIT_SOURCE,
        "detail-type": WAIT_DETAIL_TYPE,
        time: new Date(now).toISOString(),
        detail: { instances: entries.map(waitEntryTuple) },
    };
}
