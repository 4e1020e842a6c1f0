/** What a message on the provisioner's DLQ says about a host: its instance id and why it is there. */

export interface DeadLetter {
    instanceId?: string;
    reason: string;
}

/**
 * The Lambda's own dead letters name the instance and a reason (with a message, or the status and
 * attempts of the failed command); a message the redrive policy moved is the event itself.
 * Undefined for a body that is not JSON (or is null).
 */
export function readDeadLetter(body: string, receiveCount: number): DeadLetter | undefined {
    let m: any;
    try {
        m = JSON.parse(body);
    } catch {
        return undefined;
    }
    if (m === null) return undefined;
    if (typeof m.instanceId === "string" && typeof m.message === "string")
        return { instanceId: m.instanceId, reason: `${m.reason}: ${m.message}` };
    if (typeof m.instanceId === "string") {
        const tail = m.stderrTail ? `: ${String(m.stderrTail).trim().split("\n").pop()}` : "";
        return {
            instanceId: m.instanceId,
            reason: `${m.reason ?? "dead-lettered"}: ${m.status ?? ""} after ${m.attempts ?? "?"} attempts${tail}`,
        };
    }
    return {
        instanceId: m.detail?.["instance-id"],
        reason: `redrive: received ${receiveCount} times (${m["detail-type"] ?? "event"}) without success`,
    };
}
