/**
 * The provisioner Lambda: SQS batches of EventBridge events in, SSM commands out. This is the
 * bundle's entry (scripts/bundle-lambda.js); the work is in the modules beside it:
 *
 *   parse each record (malformed: logged with its messageId and acknowledged)      batch.ts
 *   results  -> Success: host keys to <PKA_KNOWN_HOSTS_PATH>/<id>;                 results.ts, hostKeys.ts
 *               then (host CA set) a host certificate, signed in KMS, sent with the host-certificate document   hostCerts.ts
 *               Failed/TimedOut/Cancelled: run again (attempt+1) or, past PKA_MAX_ATTEMPTS, dead-letter with the reason
 *   pushes   -> every online tagged instance (or the listed ones)                   batch.ts
 *   the rest -> tag filter (ec2:DescribeInstances) -> readiness (DescribeInstanceInformation, Online)   fleet.ts
 *            -> dedupe -> SendCommand, <= 50 instance ids a call, backoff with full jitter on throttling   provision.ts
 *   agents not online yet -> wait messages back to the queue                       wait.ts
 *
 * Only the records whose work failed are returned in batchItemFailures; SQS redelivers them after
 * the visibility timeout, and the redrive policy ends in the DLQ. Logs are structured JSON and
 * never carry key material (no spec, no parameters, no command output).
 *
 * Trust: the spec is served only if its accessSpecHash is the one the deploy pinned in
 * PKA_ACCESS_SPEC_SHA256 (the parameters are writable by more principals than the deploy); a
 * result is acted on only after GetCommandInvocation confirms our document and our comment (the
 * queue's message body is not evidence of anything).
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { documentParameters } from "../core/document/parameters";
import { OFFBOARD_EVENT_SOURCE } from "../core/events";
import { parseHostKeyLines } from "../core/hostKeys";
import { readConfig } from "../core/lambdaConfig";
import { processBatch } from "./batch";
import { createClients } from "./clients";
import { BatchContext, newBatchContext } from "./context";
import { offboard } from "./offboard";
import { realSleep } from "./retry";
import type { BatchStats, LambdaContext, Log, ProvisionerDeps, SQSBatchResponse, SQSEvent, SQSRecord } from "./types";

export type { BatchStats, LambdaContext, Log, ProvisionerDeps, SQSBatchResponse, SQSEvent, SQSRecord } from "./types";
export {
    IAM_PROPAGATION_MS,
    RECHECK_AFTER_MS,
    SEND_COMMAND_MAX_IDS,
    SPEC_SETTLE_MS,
    WAIT_FAST_MS,
    WAIT_POLL_SECONDS,
} from "./constants";
export { isAccessDenied } from "./context";
export {
    agentNotOnlineMessage,
    agentTooOldMessage,
    attemptFromComment,
    commandComment,
    conflictLines,
    redact,
} from "./messages";
export { waitDelaySeconds } from "./wait";

/** Structured JSON logs through Powertools (one line per entry, Lambda request id attached by the runtime). */
function powertoolsLog(): Log {
    const l = new Logger({ serviceName: "pka-fleet-provisioner" });
    return {
        debug: (m, x) => l.debug(m, x ?? {}),
        info: (m, x) => l.info(m, x ?? {}),
        warn: (m, x) => l.warn(m, x ?? {}),
        error: (m, x) => l.error(m, x ?? {}),
    };
}

/** The dependencies `partial` leaves out, from the environment (clients) and the defaults. */
function resolveDeps(partial: Partial<ProvisionerDeps>): ProvisionerDeps {
    const env = partial.env ?? process.env;
    const clients =
        partial.ssm && partial.ec2 && partial.sqs && partial.kms
            ? undefined
            : createClients(env, { requestHandler: partial.requestHandler });
    return {
        ssm: partial.ssm ?? clients!.ssm,
        ec2: partial.ec2 ?? clients!.ec2,
        kms: partial.kms ?? clients!.kms,
        sqs: partial.sqs ?? clients!.sqs,
        env,
        log: partial.log ?? powertoolsLog(),
        sleep: partial.sleep ?? realSleep,
        random: partial.random ?? Math.random,
        now: partial.now ?? Date.now,
        documentParameters: partial.documentParameters ?? documentParameters,
        parseHostKeys: partial.parseHostKeys ?? parseHostKeyLines,
    };
}

/** A handler over `partial`'s dependencies (the rest from the environment); `stats()` tells what the last batch did. */
export function createHandler(partial: Partial<ProvisionerDeps> = {}) {
    const deps = resolveDeps(partial);
    let lastStats: BatchStats | undefined;

    async function handler(event: SQSEvent, context?: LambdaContext): Promise<SQSBatchResponse> {
        const ctx = newBatchContext(deps, readConfig(deps.env), context);
        const { result, direct } = await handle(ctx, event);
        lastStats = ctx.stats;
        // A direct invocation (the Provisioner's deploy-time push) has no queue to redeliver from:
        // fail loudly so `pulumi up` reports it instead of pretending the fleet was provisioned.
        if (direct && result.batchItemFailures.length > 0) {
            throw new Error(
                `pka-fleet push failed for ${result.batchItemFailures.length} record(s); see the function's log for the reasons`,
            );
        }
        return result;
    }
    return Object.assign(handler, { stats: () => lastStats });
}

/** The event's work; `direct`: a batch of direct records (no queue to redeliver from). */
async function handle(ctx: BatchContext, event: SQSEvent): Promise<{ result: SQSBatchResponse; direct: boolean }> {
    // A test invocation from the console, or any caller but SQS, may send null or an object
    // without Records: there is nothing to retry, so say so and acknowledge.
    const records: unknown =
        event === null || typeof event !== "object" ? undefined : (event as { Records?: unknown }).Records;
    if (!Array.isArray(records)) {
        ctx.log.error("event is not an SQS batch (no Records array): nothing to provision or retry", {
            event: event === null ? "null" : Array.isArray(event) ? "array" : typeof event,
            records: records === undefined ? "missing" : records === null ? "null" : typeof records,
        });
        return { result: { batchItemFailures: [] }, direct: false };
    }
    if (
        (records as unknown[]).some(
            (r) => !!r && typeof r === "object" && (r as SQSRecord).eventSource === OFFBOARD_EVENT_SOURCE,
        )
    ) {
        // The Provisioner's offboarding Invocation (lifecycleScope CRUD): never mixed with other work.
        const tf = (event as { tf?: { action?: unknown } }).tf;
        await offboard(ctx, typeof tf?.action === "string" ? tf.action : undefined);
        return { result: { batchItemFailures: [] }, direct: false };
    }
    const result = await processBatch(ctx, records as SQSRecord[]);
    ctx.log.info("batch done", { ...ctx.stats });
    const direct =
        records.length > 0 &&
        records.every((r) => !r || typeof r !== "object" || (r as SQSRecord).eventSource !== "aws:sqs");
    return { result, direct };
}

/** The Lambda entry point (bin/lambda/provisioner.js exports it). Clients are created once per container. */
export const handler = createHandler();
