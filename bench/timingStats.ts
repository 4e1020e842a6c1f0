/**
 * What one simulated launch (bench/timing.ts simulateLaunch) measured: the percentiles of each
 * instance's times, the AWS calls by kind and the Lambda's own counts.
 */
import { percentile } from "../local/stats";
import type { SimulatedProvisioner } from "./timingAws";

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

export function stats(xs: number[]): Stats {
    return xs.length === 0 ? {} : { p50: percentile(xs, 50), p95: percentile(xs, 95), max: Math.max(...xs) };
}

/** When each instance reached each stage of one launch (virtual ms), and the run's own marks. */
export interface LaunchTimes {
    instances: number;
    launchedAt: Map<string, number>;
    onlineAt: Map<string, number>;
    runAt: Map<string, number>;
    accessAt: Map<string, number>;
    pinnedAt: Map<string, number>;
    deadLetteredAt: Map<string, number>;
    /** Dead-lettered instances and their reasons. */
    dl: Map<string, string>;
    t0: number;
    endedAt: number;
    /** performance.now() when the run started (real time). */
    wallStart: number;
}

/** The launch's result from the simulated AWS's counters and the instances' times. */
export function launchResult(w: SimulatedProvisioner, t: LaunchTimes): TimingResult {
    const { endpoint, ids, queue, queues, logCounts } = w;
    const {
        instances: n,
        launchedAt,
        onlineAt,
        runAt,
        accessAt,
        pinnedAt,
        deadLetteredAt,
        dl,
        t0,
        endedAt,
        wallStart,
    } = t;
    const reasons: Record<string, number> = {};
    for (const r of dl.values()) reasons[r] = (reasons[r] ?? 0) + 1;
    const calls = { ...endpoint.stats.calls };
    const totalCalls = Object.values(calls).reduce((a, b) => a + b, 0);
    const throttled = Object.values(endpoint.stats.throttled).reduce((a, b) => a + b, 0);
    const provisioned = ids.filter((id) => accessAt.has(id)).length;
    const RESULT_OPS = ["GetCommandInvocation", "ListCommandInvocations", "GetParameters", "PutParameter"];
    const resultCalls = RESULT_OPS.reduce((a, op) => a + (calls[op] ?? 0), 0);
    const resultAccepted = RESULT_OPS.reduce((a, op) => a + (calls[op] ?? 0) - (endpoint.stats.throttled[op] ?? 0), 0);
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
            ids.filter((id) => accessAt.has(id) && onlineAt.has(id)).map((id) => accessAt.get(id)! - onlineAt.get(id)!),
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
        lambdaInvocations: w.invocations(),
        sqsReceives: queue.stats.received + queues.waitQueue.stats.received,
        virtualMs: endedAt - t0,
        wallMs: Math.round(performance.now() - wallStart),
        log: logCounts,
    };
}
