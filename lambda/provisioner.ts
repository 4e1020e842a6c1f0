/**
 * The provisioner Lambda: SQS batches of EventBridge events in, SSM commands out.
 *
 *   parse each record (malformed: logged with its messageId and acknowledged)
 *   results  -> Success: host keys to <PKA_KNOWN_HOSTS_PATH>/<id>;
 *               Failed/TimedOut/Cancelled: run again (attempt+1) or, past PKA_MAX_ATTEMPTS, dead-letter with the reason
 *   pushes   -> every online tagged instance (or the listed ones)
 *   the rest -> tag filter (ec2:DescribeInstances) -> readiness (DescribeInstanceInformation, Online)
 *            -> dedupe -> SendCommand, <= 50 instance ids a call, backoff with full jitter on throttling
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
import type { EC2Client } from "@aws-sdk/client-ec2";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import {
    DescribeInstanceInformationCommand,
    GetCommandInvocationCommand,
    GetCommandInvocationCommandOutput,
    GetParameterCommand,
    GetParametersCommand,
    GetParametersByPathCommand,
    GetParametersByPathCommandOutput,
    CommandInvocation,
    ListCommandInvocationsCommand,
    PutParameterCommand,
    SendCommandCommand,
    SSMClient,
} from "@aws-sdk/client-ssm";
import { Logger } from "@aws-lambda-powertools/logger";
import { randomUUID } from "crypto";
import { AccessSpec, accessSpecHash, validateAccessSpec } from "../core/accessSpec";
import { joinAccessSpec } from "../core/accessStore";
import { documentParameters, LISTED_OUTPUT_LIMIT, PLUGIN_ERROR_MARK } from "../core/document";
import { COMMAND_FAILED_STATUSES, OFFBOARD_EVENT_SOURCE, parseQueuedEvent, QueuedEvent, QueuedEventError, sameDocument, WAIT_MAX_INSTANCES, waitEvent } from "../core/events";
import { agentTooOld, EXIT_NO_PARAMETERS, MIN_AGENT_VERSION } from "../core/script.sh";
import { FIFO_BATCH_MAX, WAIT_CYCLE_SECONDS, WAIT_GROUP_ID, WAIT_HOLD_SECONDS } from "../core/provisionerDefaults";
import { ProvisionerConfig, readConfig } from "./config";
import { parseHostKeyLines } from "./hostKeys";
import { errorName, realSleep, withBackoff, BackoffOptions, isThrottling, isServerFault } from "./retry";
import { createClients, ec2Lib, SdkRequestHandler } from "./clients";

export interface SQSRecord {
    messageId: string;
    body: string;
    eventSource?: string;
    eventSourceARN?: string;
    attributes?: Record<string, string>;
    [k: string]: unknown;
}
export interface SQSEvent {
    Records: SQSRecord[];
}
export interface SQSBatchResponse {
    batchItemFailures: { itemIdentifier: string }[];
}
export interface LambdaContext {
    getRemainingTimeInMillis?: () => number;
}

/** The subset of a logger the handler uses (Powertools' Logger fits). */
export interface Log {
    debug(message: string, extra?: Record<string, unknown>): void;
    info(message: string, extra?: Record<string, unknown>): void;
    warn(message: string, extra?: Record<string, unknown>): void;
    error(message: string, extra?: Record<string, unknown>): void;
}

export interface ProvisionerDeps {
    ssm: SSMClient;
    /** Created on first use: most batches never need EC2. */
    ec2: () => Promise<EC2Client>;
    sqs: SQSClient;
    /**
     * Carries every request of the SSM, SQS and EC2 clients the handler builds itself (lambda/clients.ts);
     * ignored for a client given here. Default: the SDK's Node HTTP handler.
     */
    requestHandler?: SdkRequestHandler;
    env: Record<string, string | undefined>;
    log: Log;
    sleep: (ms: number) => Promise<void>;
    random: () => number;
    /** The clock the re-read before SendCommand is timed with (ms). */
    now: () => number;
    /** SendCommand Parameters for a spec (core/document.ts). */
    documentParameters: (spec: AccessSpec) => Record<string, string[]>;
    /** Host key lines (`type base64`) from the script's stdout. */
    parseHostKeys: (stdout: string) => string[];
}

/** SendCommand takes at most 50 InstanceIds (SSM API reference). */
export const SEND_COMMAND_MAX_IDS = 50;
/** DescribeInstanceInformation returns at most 50 a page. */
const DII_PAGE = 50;
/** Time an invocation spends writing host keys before it leaves the rest for a later delivery (pinHostKeys). */
const PIN_BUDGET_MS = 10_000;
/** Up to this many instances are checked for readiness by id; more, through one listing of the fleet (filterReady). */
const READY_BY_ID_MAX = 4;
/** Values per ec2:DescribeInstances filter, well under EC2's limit. */
const EC2_FILTER_VALUES = 100;
/**
 * A deploy writes the access parameters and then updates this function's pinned hash, seconds
 * apart. A stored spec that is refused (or unusable) although it has stood for longer than this
 * is not a deploy in progress: it raises the alarm.
 */
export const SPEC_SETTLE_MS = 300_000;
/** Before a SendCommand, the stored spec is read again if its last read is older than this. */
export const RECHECK_AFTER_MS = 1000;
/**
 * The readiness wait. An EC2 "running" event reaches the queue before the instance's SSM Agent has
 * registered (agents come online seconds to minutes after "running"), so the first look usually
 * finds it not Online. Rather than failing the record (it would come back only after the queue's
 * visibility timeout, 6 minutes by default), every instance still waiting is written back to the
 * queue in ONE delayed wait message per delay (core/events.ts waitEvent): the next look at all of
 * them is one record, so SendCommand calls stay near one per 50 instances however the agents
 * spread. While young (WAIT_FAST_MS) an instance is looked at every WAIT_POLL_SECONDS, on a grid
 * shared by every invocation so that their wait messages surface together and merge; older,
 * the delay grows with its age (half of it, 60-900 s) up to PKA_AGENT_WAIT_SECONDS, when it is
 * dead-lettered as `agent-not-online`.
 */
export const WAIT_POLL_SECONDS = 5;
export const WAIT_FAST_MS = 180_000;

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

/** The DLQ message text for an instance whose agent never came online. */
export function agentNotOnlineMessage(instanceId: string, waitedSeconds: number, pingStatus: string): string {
    return (
        `The SSM Agent on ${instanceId} did not come online within ${waitedSeconds} s of the instance's first event (PingStatus ${pingStatus}); nothing was run. ` +
        `Check the instance profile (AmazonSSMManagedInstanceCore or equivalent), the network path to the ssm, ssmmessages and ec2messages endpoints, and that the agent is installed and running; ` +
        `a new running or association event, or the next push, provisions it.`
    );
}

/** Stop starting new SendCommand calls when less than this remains: fail the rest so SQS redelivers them. */
const DEADLINE_MARGIN_MS = 8000;

/**
 * IAM is eventually consistent: "changes are not always immediately visible" (IAM User Guide,
 * Troubleshooting IAM, "Changes that I make are not always immediately visible"). A deploy's push
 * runs in the update that creates the function's role and policy, so it retries access-denied
 * answers for up to this long (and never past the function's own deadline).
 */
export const IAM_PROPAGATION_MS = 120_000;
/** Error names AWS answers a caller its policy does not (yet) allow: SSM/SQS JSON, SQS query, EC2. */
const ACCESS_DENIED = new Set(["AccessDeniedException", "AccessDenied", "UnauthorizedOperation"]);
export function isAccessDenied(err: unknown): boolean {
    return ACCESS_DENIED.has(errorName(err));
}

/** The DLQ message text for an agent too old for ENV_VAR parameters. */
export function agentTooOldMessage(instanceId: string, version: string | undefined): string {
    return (
        `SSM Agent ${version ?? "(version unknown)"} on ${instanceId} is older than ${MIN_AGENT_VERSION}, the first that passes the document's ENV_VAR parameters; ` +
        `nothing was run. Update the agent (aws ssm send-command --document-name AWS-UpdateSSMAgent --instance-ids ${instanceId}); its next association event provisions it.`
    );
}

/** Exactly what commandComment writes: a command without it was not sent by this Lambda. */
const COMMENT_RE = /^pka-fleet attempt=(\d{1,2}) spec=[0-9a-f]{8}$/;

export function commandComment(attempt: number, specHash: string): string {
    return `pka-fleet attempt=${attempt} spec=${specHash.slice(0, 8)}`;
}

export function attemptFromComment(comment: string | undefined): number | undefined {
    const m = comment ? COMMENT_RE.exec(comment) : null;
    return m ? Number(m[1]) : undefined;
}

/** Replaces anything that looks like key material (long base64 runs) before text reaches a log or the DLQ. */
export function redact(text: string): string {
    return text.replace(/[A-Za-z0-9+/]{40,}={0,3}/g, "[redacted]");
}

function chunk<T>(xs: T[], n: number): T[][] {
    const out: T[][] = [];
    for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
    return out;
}

interface Target {
    records: Set<string>;
    attempt: number;
    /** Epoch ms when the instance's first event reached the queue (its SentTimestamp, or a wait entry's `since`). */
    since: number;
    /** From a wait message (core/events.ts WAIT_SOURCE): readiness is looked at first, the tag only once it is online. */
    fromWait: boolean;
    /** Already known to carry the fleet tag (from a tag-filtered listing). */
    tagged: boolean;
    /** Already known to be Online. */
    online: boolean;
    /** Wait queue: epoch ms before which it is not looked at (carried unread). */
    next?: number;
    /** Wait queue: epoch ms since which it is known online, held for a fuller SendCommand. */
    held?: number;
}

/** What one batch did (for logs, tests and the bench). */
export interface BatchStats {
    records: number;
    malformed: number;
    ignored: number;
    /** Skipped by the tag check: untagged, or a managed node outside EC2 (mi-), which it cannot see. */
    untagged: number;
    notReady: number;
    instancesSent: number;
    sendCommandCalls: number;
    throttled: number;
    retriesScheduled: number;
    deadLettered: number;
    knownHostsWritten: number;
    /** Batches whose stored spec was not the pinned one: nothing sent, records retried, alarm raised. */
    specRefused: number;
    /** Command results dropped because GetCommandInvocation did not show our document and comment. */
    forgedResults: number;
    /** Instances dead-lettered at once because their SSM Agent is too old for ENV_VAR parameters. */
    agentTooOld: number;
    /** Access-denied answers retried during a deploy's push (IAM propagation). */
    accessDeniedRetries: number;
    /** Instances written back to the queue in wait messages (agent not online yet). */
    waiting: number;
    waitMessages: number;
    /** Online instances held for a fuller SendCommand (wait queue). */
    held: number;
    /** Instances dead-lettered because their agent never came online within PKA_AGENT_WAIT_SECONDS. */
    agentNotOnline: number;
    /** Host-key parameters left alone because they already held the keys. */
    knownHostsUnchanged: number;
    failedRecords: number;
}

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

export function createHandler(partial: Partial<ProvisionerDeps> = {}) {
    const env = partial.env ?? process.env;
    const clients = partial.ssm && partial.ec2 && partial.sqs ? undefined : createClients(env, { requestHandler: partial.requestHandler });
    const deps: ProvisionerDeps = {
        ssm: partial.ssm ?? clients!.ssm,
        ec2: partial.ec2 ?? clients!.ec2,
        sqs: partial.sqs ?? clients!.sqs,
        env,
        log: partial.log ?? powertoolsLog(),
        sleep: partial.sleep ?? realSleep,
        random: partial.random ?? Math.random,
        now: partial.now ?? Date.now,
        documentParameters: partial.documentParameters ?? documentParameters,
        parseHostKeys: partial.parseHostKeys ?? parseHostKeyLines,
    };
    let lastStats: BatchStats | undefined;

    async function handler(event: SQSEvent, context?: LambdaContext): Promise<SQSBatchResponse> {
        const run = new Batch(deps, readConfig(deps.env), context);
        // A test invocation from the console, or any caller but SQS, may send null or an object
        // without Records: there is nothing to retry, so say so and acknowledge.
        const records: unknown = event === null || typeof event !== "object" ? undefined : (event as { Records?: unknown }).Records;
        if (!Array.isArray(records)) {
            deps.log.error("event is not an SQS batch (no Records array): nothing to provision or retry", {
                event: event === null ? "null" : Array.isArray(event) ? "array" : typeof event,
                records: records === undefined ? "missing" : records === null ? "null" : typeof records,
            });
            lastStats = run.stats;
            return { batchItemFailures: [] };
        }
        if ((records as unknown[]).some((r) => !!r && typeof r === "object" && (r as SQSRecord).eventSource === OFFBOARD_EVENT_SOURCE)) {
            // The Provisioner's offboarding Invocation (lifecycleScope CRUD): never mixed with other work.
            const tf = (event as { tf?: { action?: unknown } }).tf;
            await run.offboard(typeof tf?.action === "string" ? tf.action : undefined);
            lastStats = run.stats;
            return { batchItemFailures: [] };
        }
        const result = await run.process(records as SQSRecord[]);
        lastStats = run.stats;
        deps.log.info("batch done", { ...run.stats });
        // A direct invocation (the Provisioner's deploy-time push) has no queue to redeliver from:
        // fail loudly so `pulumi up` reports it instead of pretending the fleet was provisioned.
        const direct = records.length > 0 && records.every((r) => !r || typeof r !== "object" || (r as SQSRecord).eventSource !== "aws:sqs");
        if (direct && result.batchItemFailures.length > 0) {
            throw new Error(`pka-fleet push failed for ${result.batchItemFailures.length} record(s); see the function's log for the reasons`);
        }
        return result;
    }
    return Object.assign(handler, { stats: () => lastStats });
}

class Batch {
    readonly stats: BatchStats = {
        records: 0, malformed: 0, ignored: 0, untagged: 0, notReady: 0, instancesSent: 0, sendCommandCalls: 0,
        throttled: 0, retriesScheduled: 0, deadLettered: 0, knownHostsWritten: 0, specRefused: 0, forgedResults: 0, agentTooOld: 0, accessDeniedRetries: 0,
        waiting: 0, waitMessages: 0, held: 0, agentNotOnline: 0, knownHostsUnchanged: 0, failedRecords: 0,
    };
    /** Records of this batch that came from the wait queue (a FIFO queue): an instance of theirs that cannot be handled now waits again instead of failing them. */
    private readonly waitRecords = new Set<string>();
    /** Instances whose agent is not online yet: written back to the queue (rearmWaiting) at the end of the batch. */
    private readonly waiting = new Map<string, Target & { pingStatus: string }>();
    /** Online instances whose agent is too old for ENV_VAR (id -> AgentVersion). */
    private readonly oldAgents = new Map<string, string>();
    private readonly startedAt: number;
    private readonly failures = new Set<string>();
    private direct = false;
    /** Newest LastModifiedDate (ms) of the access parameters last read; undefined: none read. */
    private specModifiedAt: number | undefined;
    private readonly targets = new Map<string, Target>();
    private readonly log: Log;

    constructor(
        private readonly deps: ProvisionerDeps,
        private readonly cfg: ProvisionerConfig,
        private readonly context?: LambdaContext,
    ) {
        this.log = deps.log;
        this.startedAt = deps.now();
    }

    /**
     * One AWS call with backoff on throttling; in a direct invocation (a deploy's push or the
     * offboarding), access-denied answers are retried too while IAM propagates (IAM_PROPAGATION_MS,
     * within the function's deadline). From the queue they are not: SQS redelivers the record.
     */
    private async aws<T>(fn: () => Promise<T>, extra: Partial<BackoffOptions> = {}): Promise<T> {
        let delay = 1000;
        for (let attempt = 1; ; attempt++) {
            try {
                return await withBackoff(fn, this.backoff(extra));
            } catch (err) {
                if (!this.direct || !isAccessDenied(err) || attempt >= 16) throw err;
                const elapsed = this.deps.now() - this.startedAt;
                const remaining = this.context?.getRemainingTimeInMillis?.();
                const budget = Math.min(IAM_PROPAGATION_MS - elapsed, remaining === undefined ? Infinity : remaining - DEADLINE_MARGIN_MS);
                if (budget < delay) throw err;
                this.stats.accessDeniedRetries++;
                this.log.warn("access denied in a direct invocation: IAM changes take a while to be visible everywhere; retrying", { error: errorName(err), attempt, delayMs: delay });
                await this.deps.sleep(delay);
                delay = Math.min(delay * 2, 8000);
            }
        }
    }

    private backoff(extra: Partial<BackoffOptions> = {}): BackoffOptions {
        return {
            sleep: this.deps.sleep,
            random: this.deps.random,
            onRetry: (err, attempt, delayMs) => {
                if (isThrottling(err)) this.stats.throttled++;
                this.log.warn("retrying AWS call", { error: errorName(err), attempt, delayMs });
            },
            ...extra,
        };
    }

    private fail(messageId: string, why: string, extra: Record<string, unknown> = {}): void {
        if (!this.failures.has(messageId)) this.log.warn("record will be retried", { messageId, why, ...extra });
        this.failures.add(messageId);
    }

    private addTarget(instanceId: string, messageId: string, attempt: number, known: { tagged?: boolean; online?: boolean; since?: number; fromWait?: boolean; held?: number } = {}): void {
        const now = this.deps.now();
        // Carried unread from a wait message, and now an instance to look at: it is looked at (once).
        const carried = this.waiting.get(instanceId);
        if (carried) {
            this.waiting.delete(instanceId);
            for (const m of carried.records) this.addTarget(instanceId, m, 1, { since: carried.since, fromWait: true });
        }
        const since = Math.min(known.since ?? now, now);
        const t = this.targets.get(instanceId) ?? { records: new Set<string>(), attempt: 0, since, fromWait: known.fromWait === true, tagged: false, online: false };
        t.records.add(messageId);
        t.since = Math.min(t.since, since);
        // Any event but a wait entry (a running or association event) is looked at as new: tag first.
        if (known.fromWait !== true) t.fromWait = false;
        // Several events for one instance in a batch: one command. Keep the highest attempt so the bound holds.
        t.attempt = Math.max(t.attempt, attempt);
        t.tagged ||= known.tagged === true;
        t.online ||= known.online === true;
        if (known.held !== undefined) t.held = Math.min(t.held ?? known.held, known.held);
        this.targets.set(instanceId, t);
    }

    private failTargets(ids: string[], why: string, extra: Record<string, unknown> = {}): void {
        for (const id of ids) {
            const t = this.targets.get(id);
            if (!t) continue;
            if (this.waitQueue() && this.onlyFromWaitQueue(t)) {
                // From the wait queue: failing its record would hold the queue's one message group until the
                // visibility timeout; the instance is looked at again on the next round instead.
                this.log.warn("instance looked at again on the next round", { instanceId: id, why, ...extra });
                this.waiting.set(id, { ...t, held: undefined, next: undefined, pingStatus: `looked at again (${why})` });
                this.targets.delete(id);
                continue;
            }
            for (const m of t.records) this.fail(m, why, { instanceId: id, ...extra });
            this.targets.delete(id);
        }
    }

    async process(records: SQSRecord[]): Promise<SQSBatchResponse> {
        this.stats.records = records.length;
        for (const r of records) if (r && typeof r === "object" && r.eventSource !== "aws:sqs") this.direct = true;
        const results: { messageId: string; ev: Extract<QueuedEvent, { kind: "command-result" }> }[] = [];
        const pushes: { messageId: string; ev: Extract<QueuedEvent, { kind: "push" }> }[] = [];

        for (const r of records) {
            if (!r || typeof r !== "object") {
                this.stats.malformed++;
                this.log.error("malformed record acknowledged", { reason: "not-a-record", record: r === null ? "null" : typeof r });
                continue;
            }
            let ev: QueuedEvent;
            try {
                ev = parseQueuedEvent(typeof r.body === "string" ? r.body : "");
            } catch (err) {
                if (!(err instanceof QueuedEventError)) throw err;
                // It cannot succeed on retry: acknowledge it, loudly.
                this.stats.malformed++;
                this.log.error("malformed record acknowledged", { messageId: r.messageId, reason: err.reason, error: err.message });
                continue;
            }
            if (typeof r.eventSourceARN === "string" && r.eventSourceARN.endsWith(".fifo")) this.waitRecords.add(r.messageId);
            const sent = Number(r.attributes?.SentTimestamp);
            const since = Number.isFinite(sent) && sent > 0 ? sent : undefined;
            switch (ev.kind) {
                case "wait":
                    for (const w of ev.instances) {
                        if (this.waitQueue() && w.held === undefined && w.next !== undefined && w.next > this.deps.now() && !this.targets.has(w.instanceId)) {
                            // Not due yet (an agent long in coming is looked at less often): carried to the next round unread.
                            const c = this.waiting.get(w.instanceId);
                            const records = new Set([...(c?.records ?? []), r.messageId]);
                            this.waiting.set(w.instanceId, { records, attempt: 1, since: Math.min(w.since, c?.since ?? w.since), fromWait: true, tagged: false, online: false, next: w.next, pingStatus: c?.pingStatus ?? "not looked at yet" });
                            continue;
                        }
                        // A held entry's claim (online since) only times its hold: tag and readiness are looked at again.
                        this.addTarget(w.instanceId, r.messageId, 1, { since: w.since, fromWait: true, ...(w.held !== undefined ? { held: w.held } : {}) });
                    }
                    break;
                case "association":
                    if (ev.documentName && sameDocument(ev.documentName, this.cfg.documentName)) {
                        // An association of our own document just applied a spec.
                        this.stats.ignored++;
                        this.log.info("association run of our own document ignored", { messageId: r.messageId, instanceId: ev.instanceId });
                        break;
                    }
                    this.addTarget(ev.instanceId, r.messageId, 1, { since });
                    break;
                case "instance-running":
                    this.addTarget(ev.instanceId, r.messageId, 1, { since });
                    break;
                case "command-result":
                    if (!sameDocument(ev.documentName, this.cfg.documentName)) {
                        this.stats.ignored++;
                        this.log.info("result for another document ignored", { messageId: r.messageId, documentName: ev.documentName });
                    } else results.push({ messageId: r.messageId, ev });
                    break;
                case "push":
                    pushes.push({ messageId: r.messageId, ev });
                    break;
            }
        }

        const pins = await this.handleResults(results);
        const deployPush = await this.expandPushes(pushes);
        if (this.targets.size > 0) await this.provision(deployPush);
        // The wait queue's round: with the group's last messages, stay until the round's end so that every wait
        // message written meanwhile comes with the next one (core/provisionerDefaults.ts WAIT_CYCLE_SECONDS).
        const round = this.waitQueue() && records.length > 0 && records.length < FIFO_BATCH_MAX && records.every((r) => r && this.waitRecords.has(r.messageId));
        if (round && this.waiting.size > 0) await this.untilRoundEnds();
        if (this.waiting.size > 0) await this.rearmWaiting(round);
        // Last: pinning host keys does not hold up access (it is one PutParameter per new host, and throttled).
        if (pins.length > 0) await this.pinHostKeys(pins);

        this.stats.failedRecords = this.failures.size;
        return { batchItemFailures: [...this.failures].map((itemIdentifier) => ({ itemIdentifier })) };
    }

    // ---- offboarding ----------------------------------------------------------------------

    /**
     * The offboarding Invocation's lifecycle call. create/update: nothing (armed). delete: when the
     * Provisioner's deployed marker is gone (a destroy deletes it first; a replaced or removed
     * Invocation leaves it), every online tagged instance gets the empty spec: the script revokes
     * every user it manages there. Fails loudly (so `pulumi destroy` reports it) when a revocation
     * could not be sent or did not succeed in time, naming the instances.
     */
    async offboard(action: string | undefined): Promise<void> {
        this.direct = true;
        if (action !== "delete") {
            if (action === "create" || action === "update") this.log.info("offboarding armed: access is revoked when the fleet is destroyed", { action });
            else this.log.error("offboarding record outside a Pulumi CRUD Invocation (no tf.action): nothing done", {});
            return;
        }
        const marker = this.cfg.deployedMarker;
        if (!marker) {
            this.log.warn("offboarding: PKA_DEPLOYED_MARKER is not set, so a destroy cannot be told from a replacement; nothing revoked", {});
            return;
        }
        try {
            await this.aws(() => this.deps.ssm.send(new GetParameterCommand({ Name: marker })));
            this.log.info("offboarding: the fleet is still deployed (its marker parameter exists); the Invocation was replaced or removed, nothing revoked", { marker });
            return;
        } catch (err) {
            if (errorName(err) !== "ParameterNotFound") throw new Error(`pka-fleet offboarding: cannot read the marker parameter ${marker} (${errorName(err)}); nothing revoked`);
        }
        const empty: AccessSpec = { users: [] };
        const hash = accessSpecHash(empty);
        const parameters = this.deps.documentParameters(empty);
        // An agent too old for ENV_VAR cannot run the document (it never could provision access either): skipped, named.
        const ids = (await this.listOnlineTagged()).filter((id) => !this.oldAgents.has(id));
        for (const [id, version] of this.oldAgents) this.log.warn("offboarding: instance skipped, its SSM Agent is too old to run the document", { instanceId: id, agentVersion: version });
        this.log.info("offboarding: the fleet is destroyed; revoking every user on its online tagged instances", { instances: ids.length });
        const sent: { commandId: string; ids: string[] }[] = [];
        const problems: string[] = [];
        for (const part of chunk(ids.sort(), SEND_COMMAND_MAX_IDS)) {
            try {
                const out = await this.aws(() => {
                    this.stats.sendCommandCalls++;
                    return this.deps.ssm.send(
                        new SendCommandCommand({ DocumentName: this.cfg.documentName, InstanceIds: part, Parameters: parameters, Comment: commandComment(1, hash), TimeoutSeconds: this.cfg.commandTimeoutSeconds }),
                    );
                });
                this.stats.instancesSent += part.length;
                if (out.Command?.CommandId) sent.push({ commandId: out.Command.CommandId, ids: part });
            } catch (err) {
                problems.push(`${part.join(", ")}: SendCommand ${errorName(err)}`);
            }
        }
        // Wait for the runs while the function has time: a destroy that ends should mean access ended.
        const pending = new Map(sent.flatMap((c) => c.ids.map((id) => [id, c.commandId] as const)));
        let delay = 1000;
        while (pending.size > 0) {
            for (const [id, commandId] of [...pending]) {
                let inv: GetCommandInvocationCommandOutput;
                try {
                    inv = await this.getInvocation(commandId, id);
                } catch (err) {
                    if (errorName(err) === "InvocationDoesNotExist") continue;
                    throw err;
                }
                const st = inv.Status ?? "";
                if (st === "Success") pending.delete(id);
                else if (COMMAND_FAILED_STATUSES.includes(st)) {
                    pending.delete(id);
                    problems.push(`${id}: ${st} (exit ${inv.ResponseCode})`);
                }
            }
            const remaining = this.context?.getRemainingTimeInMillis?.();
            if (pending.size === 0 || (remaining !== undefined && remaining < DEADLINE_MARGIN_MS + delay)) break;
            await this.deps.sleep(delay);
            delay = Math.min(delay * 2, 5000);
        }
        for (const id of pending.keys()) problems.push(`${id}: no result before the function's deadline`);
        this.log.info("offboarding done", { instances: ids.length, revoked: ids.length - problems.length, problems: problems.length });
        if (problems.length > 0) {
            throw new Error(
                `pka-fleet offboarding: access could not be confirmed revoked on ${problems.length} instance(s): ${problems.slice(0, 10).join("; ")}` +
                    `${problems.length > 10 ? "; ..." : ""}. Run \`pulumi destroy\` again to retry, or revoke by hand with the empty spec (README, "Destroy and offboarding").`,
            );
        }
    }

    // ---- results --------------------------------------------------------------------------

    private async getInvocation(commandId: string, instanceId: string): Promise<GetCommandInvocationCommandOutput> {
        // Right after a command, GetCommandInvocation can say InvocationDoesNotExist (eventually consistent).
        return this.aws(
            () => this.deps.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId })),
            { maxAttempts: 4, baseMs: 500, retryable: (e) => errorName(e) === "InvocationDoesNotExist" || isThrottling(e) || isServerFault(e) },
        );
    }

    /**
     * The invocation as SSM records it, if it is one of ours: our document (a shared document of
     * another account with the same name is not), and the comment this Lambda writes. An event in
     * the queue can be forged by anyone who can send to it; GetCommandInvocation cannot.
     */
    private async ownInvocation(messageId: string, commandId: string, instanceId: string, listed?: GetCommandInvocationCommandOutput): Promise<GetCommandInvocationCommandOutput | undefined> {
        let inv: GetCommandInvocationCommandOutput;
        try {
            inv = listed ?? (await this.getInvocation(commandId, instanceId));
        } catch (err) {
            if (errorName(err) === "InvocationDoesNotExist") {
                // Still unknown after the retries: a command that does not exist, or one not visible yet.
                this.fail(messageId, "invocation not found", { instanceId, commandId });
                return undefined;
            }
            this.fail(messageId, "cannot read the invocation", { instanceId, commandId, error: errorName(err) });
            return undefined;
        }
        const doc = inv.DocumentName ?? "";
        const ours = doc.startsWith("arn:") ? doc === this.cfg.documentName : sameDocument(doc, this.cfg.documentName);
        if (!ours || !COMMENT_RE.test(inv.Comment ?? "")) {
            this.stats.forgedResults++;
            this.log.warn("command result not acted on: the invocation is not one this provisioner sent", {
                messageId,
                instanceId,
                commandId,
                documentName: doc.slice(0, 200),
                ourDocument: ours,
                ourComment: COMMENT_RE.test(inv.Comment ?? ""),
            });
            return undefined;
        }
        return inv;
    }

    /**
     * The batch's command results. Only terminal outcomes are acted on (the event's status decides
     * whether to look, SSM's what to do). A command's successes are read with one
     * ListCommandInvocations (Details: 50 invocations a page, with the plugin output) instead of one
     * GetCommandInvocation each; failures, a truncated output, or anything the listing does not
     * show yet are read one by one. Returns the host keys to pin (pinHostKeys, last in the batch).
     */
    private async handleResults(results: { messageId: string; ev: Extract<QueuedEvent, { kind: "command-result" }> }[]): Promise<HostKeyPin[]> {
        const terminal: typeof results = [];
        for (const res of results) {
            const { ev, messageId } = res;
            if (ev.status !== "Success" && !COMMAND_FAILED_STATUSES.includes(ev.status)) {
                this.stats.ignored++;
                this.log.debug("non-terminal command status ignored", { messageId, instanceId: ev.instanceId, status: ev.status });
                continue;
            }
            if (ev.status === "Success" && !this.cfg.knownHostsPath) continue;
            terminal.push(res);
        }
        const byCommand = new Map<string, number>();
        for (const { ev } of terminal) if (ev.status === "Success") byCommand.set(ev.commandId, (byCommand.get(ev.commandId) ?? 0) + 1);
        const listed = new Map<string, GetCommandInvocationCommandOutput>();
        for (const [commandId, n] of byCommand) {
            // One success of a command: GetCommandInvocation is one call too, and returns the whole output.
            if (n < 2) continue;
            try {
                await this.listInvocations(commandId, listed);
            } catch (err) {
                this.log.warn("cannot list the command's invocations; reading them one by one", { commandId, error: errorName(err) });
            }
        }
        const pins: HostKeyPin[] = [];
        for (const { messageId, ev } of terminal) {
            const pin = await this.handleResult(messageId, ev, listed.get(`${ev.commandId}/${ev.instanceId}`));
            if (pin) pins.push(pin);
        }
        return pins;
    }

    /** The successful invocations of `commandId` whose whole stdout the listing carries, as GetCommandInvocation would return them. */
    private async listInvocations(commandId: string, into: Map<string, GetCommandInvocationCommandOutput>): Promise<void> {
        let token: string | undefined;
        do {
            const page = await this.aws(() => this.deps.ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId, Details: true, MaxResults: 50, NextToken: token })));
            for (const inv of page.CommandInvocations ?? []) {
                const got = fromListing(inv);
                if (got && inv.InstanceId) into.set(`${commandId}/${inv.InstanceId}`, got);
            }
            token = page.NextToken;
        } while (token);
    }

    /** Writes the host keys that changed: for two or more, what is pinned is read first (GetParameters, 10 names a call), so a re-run of known hosts writes nothing. */
    private async pinHostKeys(pins: HostKeyPin[]): Promise<void> {
        const current = new Map<string, string>();
        const names = [...new Set(pins.map((p) => p.name))];
        // One pin: reading it first would cost as much as writing it.
        for (const part of names.length < 2 ? [] : chunk(names, 10)) {
            try {
                const out = await this.aws(() => this.deps.ssm.send(new GetParametersCommand({ Names: part })));
                for (const p of out.Parameters ?? []) if (p.Name && p.Value !== undefined) current.set(p.Name, p.Value);
            } catch (err) {
                // Unknown: write them all (a write of the same keys is harmless).
                this.log.warn("cannot read the pinned host keys; writing them", { error: errorName(err), parameters: part.length });
            }
        }
        const started = this.deps.now();
        for (const [i, pin] of pins.entries()) {
            if (this.deps.now() - started > PIN_BUDGET_MS) {
                // Throttled for a while: the rest come back with their records (after the visibility timeout) instead of holding this invocation's slot.
                this.log.warn("host keys left for a later delivery: Parameter Store is throttling", { left: pins.length - i });
                for (const p of pins.slice(i)) this.fail(p.messageId, "host keys not pinned yet (throttled)", { instanceId: p.instanceId });
                return;
            }
            const value = pin.keys.join("\n");
            if (current.get(pin.name) === value) {
                this.stats.knownHostsUnchanged++;
                continue;
            }
            try {
                await this.aws(() => this.deps.ssm.send(new PutParameterCommand({ Name: pin.name, Value: value, Type: "String", Overwrite: true })));
                current.set(pin.name, value);
                this.stats.knownHostsWritten++;
                this.log.info("host keys pinned", { instanceId: pin.instanceId, parameter: pin.name, keyTypes: pin.keys.map((k) => k.split(" ")[0]) });
            } catch (err) {
                this.fail(pin.messageId, "cannot write known_hosts parameter", { instanceId: pin.instanceId, error: errorName(err) });
            }
        }
    }

    private async handleResult(messageId: string, ev: Extract<QueuedEvent, { kind: "command-result" }>, listed?: GetCommandInvocationCommandOutput): Promise<HostKeyPin | undefined> {
        const { instanceId, commandId } = ev;
        const inv = await this.ownInvocation(messageId, commandId, instanceId, listed);
        if (!inv) return undefined;
        const status = inv.Status ?? "";
        if (status === "Success") {
            if (!this.cfg.knownHostsPath) return undefined;
            if (!(inv.Comment ?? "").endsWith(` spec=${this.cfg.accessSpecSha256.slice(0, 8)}`)) {
                // A run of an earlier spec (or one replayed): the current spec's runs pin the keys, so an old run cannot roll them back.
                this.stats.ignored++;
                this.log.info("host keys of a run for an earlier spec not pinned", { instanceId, commandId });
                return undefined;
            }
            const keys = this.deps.parseHostKeys(inv.StandardOutputContent ?? "");
            if (keys.length === 0) {
                this.log.warn("command succeeded but printed no host keys; known_hosts not updated", { instanceId, commandId });
                return undefined;
            }
            return { messageId, instanceId, name: `${this.cfg.knownHostsPath}/${instanceId}`, keys };
        }
        if (!COMMAND_FAILED_STATUSES.includes(status)) {
            // The event says it ended, SSM does not (yet: its reads are eventually consistent). Ask again on redelivery;
            // what SSM says then decides (a record that never agrees ends in the DLQ through the redrive policy).
            this.fail(messageId, "the invocation has not ended yet in SSM", { instanceId, commandId, eventStatus: ev.status, status });
            return undefined;
        }
        const attempt = attemptFromComment(inv.Comment) ?? 1;
        if (inv.ResponseCode === EXIT_NO_PARAMETERS) {
            // The agent passed no parameters: it is older than ENV_VAR needs, and every retry would fail the same way.
            this.stats.agentTooOld++;
            const version = await this.agentVersion(instanceId);
            this.log.error("instance dead-lettered: its SSM Agent passed no parameters (too old for ENV_VAR)", { instanceId, commandId, agentVersion: version, attempts: attempt });
            await this.deadLetter(
                {
                    reason: "agent-too-old",
                    instanceId,
                    commandId,
                    documentName: inv.DocumentName,
                    status,
                    responseCode: inv.ResponseCode,
                    attempts: attempt,
                    agentVersion: version,
                    minimumAgentVersion: MIN_AGENT_VERSION,
                    message: agentTooOldMessage(instanceId, version),
                    time: new Date().toISOString(),
                },
                [messageId],
            );
            return undefined;
        }
        if (attempt < this.cfg.maxAttempts) {
            this.stats.retriesScheduled++;
            this.log.warn("command failed; running it again", { instanceId, commandId, status, statusDetails: inv.StatusDetails, attempt });
            this.addTarget(instanceId, messageId, attempt + 1);
            return undefined;
        }
        // Exit 19: the script applied everything but the users it names (their homes or accounts refused it).
        const conflicts = inv.ResponseCode === 19 ? conflictLines(inv.StandardErrorContent ?? "") : undefined;
        const reason = {
            reason: inv.ResponseCode === 19 ? "partial" : "command-failed",
            instanceId,
            commandId,
            documentName: inv.DocumentName,
            status,
            statusDetails: inv.StatusDetails,
            responseCode: inv.ResponseCode,
            attempts: attempt,
            ...(conflicts ? { conflicts } : {}),
            stderrTail: redact((inv.StandardErrorContent ?? "").slice(-1000)),
            time: new Date().toISOString(),
        };
        this.log.error("instance dead-lettered after repeated command failures", { ...reason, stderrTail: undefined });
        await this.deadLetter(reason, [messageId]);
        return undefined;
    }

    /** The instance's AgentVersion as SSM reports it, for a reason; undefined when it cannot be read. */
    private async agentVersion(instanceId: string): Promise<string | undefined> {
        try {
            const page = await this.aws(() =>
                this.deps.ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: "InstanceIds", Values: [instanceId] }], MaxResults: 5 })),
            );
            return page.InstanceInformationList?.[0]?.AgentVersion;
        } catch {
            return undefined; // only for the message: the reason is sent without it
        }
    }

    /** Sends a reason to the DLQ (its alarm is the provisioner's alarm path); a failure to send fails the records. */
    private async deadLetter(reason: Record<string, unknown>, messageIds: string[]): Promise<void> {
        if (!this.cfg.deadLetterQueueUrl) return;
        try {
            await this.aws(
                () => this.deps.sqs.send(new SendMessageCommand({ QueueUrl: this.cfg.deadLetterQueueUrl, MessageBody: JSON.stringify(reason) })),
            );
            this.stats.deadLettered++;
        } catch (err) {
            for (const m of messageIds) this.fail(m, "cannot send to the dead-letter queue", { error: errorName(err), reason: reason.reason });
        }
    }

    // ---- pushes ---------------------------------------------------------------------------

    private async expandPushes(pushes: { messageId: string; ev: Extract<QueuedEvent, { kind: "push" }> }[]): Promise<boolean> {
        let deployPush = false; // a push names the pinned hash
        let online: string[] | undefined;
        for (const { messageId, ev } of pushes) {
            if (ev.specHash && ev.specHash !== this.cfg.accessSpecSha256) {
                // A deploy's push names the hash it pinned; this one names another (a stale or forged push). A direct
                // invocation fails (the deploy reports it); from the queue it is acknowledged: it cannot succeed later.
                this.stats.ignored++;
                this.log.warn("push for a spec other than the pinned one: nothing provisioned for it", {
                    messageId,
                    expected: ev.specHash.slice(0, 8),
                    pinned: this.cfg.accessSpecSha256.slice(0, 8),
                });
                if (this.direct) this.fail(messageId, "push for a spec other than the pinned one");
                continue;
            }
            if (ev.specHash) deployPush = true;
            if (ev.instanceIds) {
                for (const id of new Set(ev.instanceIds)) this.addTarget(id, messageId, 1);
                continue;
            }
            try {
                online ??= await this.listOnlineTagged();
            } catch (err) {
                this.fail(messageId, "cannot list the fleet", { error: errorName(err) });
                continue;
            }
            this.log.info("push", { messageId, reason: ev.reason, instances: online.length });
            for (const id of online) this.addTarget(id, messageId, 1, { tagged: true, online: true });
        }
        return deployPush;
    }

    /** Every Online instance carrying the fleet tag (a tag filter cannot be combined with other filters: PingStatus is checked here). */
    private async listOnlineTagged(): Promise<string[]> {
        return [...(await this.listTagged())].filter(([, s]) => s === "Online").map(([id]) => id);
    }

    /** The PingStatus of every EC2 managed node carrying the fleet tag (AgentVersion noted for the Online ones). */
    private async listTagged(): Promise<Map<string, string>> {
        const out = new Map<string, string>();
        let token: string | undefined;
        do {
            const page = await this.aws(
                () =>
                    this.deps.ssm.send(
                        new DescribeInstanceInformationCommand({
                            Filters: [{ Key: `tag:${this.cfg.tagKey}`, Values: [this.cfg.tagValue] }],
                            MaxResults: DII_PAGE,
                            NextToken: token,
                        }),
                    ),
            );
            for (const i of page.InstanceInformationList ?? []) {
                if (!i.InstanceId?.startsWith("i-")) continue;
                out.set(i.InstanceId, i.PingStatus ?? "Unknown");
                if (i.PingStatus === "Online" && agentTooOld(i.AgentVersion)) this.oldAgents.set(i.InstanceId, i.AgentVersion!);
            }
            token = page.NextToken;
        } while (token);
        return out;
    }

    // ---- provisioning ---------------------------------------------------------------------

    private async loadSpec(): Promise<{ spec: AccessSpec; hash: string }> {
        const params: { name: string; value: string }[] = [];
        this.specModifiedAt = undefined;
        let token: string | undefined;
        do {
            let page: GetParametersByPathCommandOutput;
            try {
                page = await this.aws(
                    () => this.deps.ssm.send(new GetParametersByPathCommand({ Path: this.cfg.accessPath, Recursive: false, WithDecryption: true, NextToken: token })),
                );
            } catch (err) {
                // Throttled or denied: the spec is not known to be bad, only unread.
                throw new SpecReadError(errorName(err));
            }
            for (const p of page.Parameters ?? []) {
                if (p.Name && p.Value !== undefined) params.push({ name: p.Name, value: p.Value });
                const at = p.LastModifiedDate === undefined ? NaN : new Date(p.LastModifiedDate).getTime();
                if (Number.isFinite(at)) this.specModifiedAt = Math.max(this.specModifiedAt ?? 0, at);
            }
            token = page.NextToken;
        } while (token);
        const json = joinAccessSpec(params);
        let parsed: unknown;
        try {
            parsed = JSON.parse(json);
        } catch {
            throw new Error("the stored access spec is not JSON");
        }
        const spec = validateAccessSpec(parsed, this.cfg.keyRules ? { keyRules: this.cfg.keyRules as never } : {});
        return { spec, hash: accessSpecHash(spec) };
    }

    /** `deployPush`: a push in the batch names the pinned hash (a deploy's), so the parameters may briefly read back older. */
    private async provision(deployPush: boolean): Promise<void> {
        let loaded: { spec: AccessSpec; hash: string };
        for (let i = 0; ; i++) {
            try {
                loaded = await this.loadSpec();
            } catch (err) {
                if (err instanceof SpecReadError) {
                    this.log.error("cannot read the access spec: nothing provisioned", { error: err.reason, path: this.cfg.accessPath });
                    this.failTargets([...this.targets.keys()], "cannot read the access spec");
                    return;
                }
                // Invalid, torn or missing spec: never provision; every record that needed it goes back to the queue.
                const message = err instanceof Error ? err.message : String(err);
                const ids = this.targetRecords();
                const alarm = this.mismatchOutlastsDeploy();
                this.log.error("access spec unusable: nothing provisioned", { error: errorName(err), message: redact(message), path: this.cfg.accessPath, alarm });
                this.failTargets([...this.targets.keys()], "access spec unusable");
                if (alarm) await this.deadLetter({ reason: "access-spec-unusable", path: this.cfg.accessPath, error: errorName(err), records: ids.length, time: new Date().toISOString() }, ids);
                return;
            }
            // Only a deploy's push (which names the pinned hash) waits: its parameters may not read back yet.
            if (loaded.hash === this.cfg.accessSpecSha256 || !deployPush || i >= 3) break;
            await this.deps.sleep(1000 * 2 ** i);
        }
        if (loaded.hash !== this.cfg.accessSpecSha256) {
            await this.refuseSpec(loaded.hash);
            return;
        }
        // Every push left names the pinned hash (expandPushes dropped the others), and so the spec loaded here.

        let parameters: Record<string, string[]>;
        try {
            parameters = this.deps.documentParameters(loaded.spec);
        } catch (err) {
            this.log.error("cannot build the command parameters: nothing provisioned", { error: errorName(err), message: redact(String((err as Error).message)) });
            this.failTargets([...this.targets.keys()], "parameters");
            return;
        }

        // New events: the tag first (most running events in an account are not the fleet's). Wait entries were
        // tag-checked when they were new: readiness first, and the tag again only for those now online.
        await this.filterTagged((t) => !t.fromWait);
        await this.filterReady();
        await this.filterTagged((t) => t.fromWait);
        await this.rejectOldAgents();
        if (this.waitQueue()) this.holdForFullerCommands();

        const byAttempt = new Map<number, string[]>();
        for (const [id, t] of this.targets) byAttempt.set(t.attempt, [...(byAttempt.get(t.attempt) ?? []), id]);
        const parts = [...byAttempt].flatMap(([attempt, ids]) => chunk(ids.sort(), SEND_COMMAND_MAX_IDS).map((part) => ({ attempt, part })));
        let checkedAt = this.deps.now();
        for (const [i, { attempt, part }] of parts.entries()) {
            // The checks above take time (and a throttled send more): a deploy may have written a newer spec
            // meanwhile, and an older spec sent after the deploy's own push could land last. Check again once
            // RECHECK_AFTER_MS has passed since the last read (a quick batch costs no extra call).
            let now: "same" | "changed" | "unreadable" = "same";
            if (this.deps.now() - checkedAt >= RECHECK_AFTER_MS) {
                now = await this.specUnchanged(loaded.hash);
                checkedAt = this.deps.now();
            }
            if (now !== "same") {
                const why = now === "changed" ? "the stored spec changed while this batch ran" : "cannot re-read the access spec";
                this.log.warn(`${why}: nothing more sent; the records are retried`, { spec: loaded.hash.slice(0, 8) });
                this.failTargets(parts.slice(i).flatMap((p) => p.part), why);
                return;
            }
            await this.send(part, attempt, loaded.hash, parameters);
        }
    }

    /**
     * The stored spec is not the one the deploy pinned: someone else wrote the parameters, or a
     * deploy is between writing them and updating this function. Nothing is sent; every record
     * goes back to the queue (a deploy's window closes within seconds, and the redelivered record
     * meets the new configuration). The alarm is raised (a DLQ message) when the mismatch
     * outlasts that window (mismatchOutlastsDeploy). The log names the hashes, never the content.
     */
    private async refuseSpec(stored: string): Promise<void> {
        this.stats.specRefused++;
        const ids = this.targetRecords();
        const persistent = this.mismatchOutlastsDeploy();
        const detail = { path: this.cfg.accessPath, storedSpec: stored, pinnedSpec: this.cfg.accessSpecSha256, records: ids.length };
        this.log.error("access spec refused: the stored spec is not the one the deploy pinned (PKA_ACCESS_SPEC_SHA256); nothing sent", { ...detail, alarm: persistent });
        this.failTargets([...this.targets.keys()], "access spec refused");
        if (persistent) await this.deadLetter({ reason: "access-spec-refused", ...detail, time: new Date().toISOString() }, ids);
    }

    private targetRecords(): string[] {
        return [...new Set([...this.targets.values()].flatMap((t) => [...t.records]))];
    }

    /**
     * Not a deploy between its two steps: the stored parameters are older than SPEC_SETTLE_MS (a
     * deploy that wrote them and then failed before updating the function is alarmed too), there
     * are none, or this is a direct invocation (a deploy's push comes after the pin it names).
     */
    private mismatchOutlastsDeploy(): boolean {
        return this.direct || this.specModifiedAt === undefined || Date.now() - this.specModifiedAt > SPEC_SETTLE_MS;
    }

    /** Whether the stored spec is still the one this batch loaded (a deploy may have changed it while the batch ran); unknown when it cannot be read. */
    private async specUnchanged(hash: string): Promise<"same" | "changed" | "unreadable"> {
        try {
            return (await this.loadSpec()).hash === hash ? "same" : "changed";
        } catch (err) {
            return err instanceof SpecReadError ? "unreadable" : "changed";
        }
    }

    private async filterTagged(which: (t: Target) => boolean): Promise<void> {
        const unknown = [...this.targets].filter(([, t]) => !t.tagged && which(t)).map(([id]) => id);
        if (unknown.length === 0) return;
        const tagged = new Set<string>();
        const { DescribeInstancesCommand } = await ec2Lib();
        const ec2 = await this.deps.ec2();
        for (const part of chunk(unknown.filter((id) => id.startsWith("i-")), EC2_FILTER_VALUES)) {
            let token: string | undefined;
            try {
                do {
                    const page = await this.aws(
                        () =>
                            ec2.send(
                                new DescribeInstancesCommand({
                                    Filters: [
                                        { Name: "instance-id", Values: part },
                                        { Name: `tag:${this.cfg.tagKey}`, Values: [this.cfg.tagValue] },
                                    ],
                                    NextToken: token,
                                }),
                            ),
                    );
                    for (const r of page.Reservations ?? []) for (const i of r.Instances ?? []) if (i.InstanceId) tagged.add(i.InstanceId);
                    token = page.NextToken;
                } while (token);
            } catch (err) {
                this.log.error("cannot check instance tags", { error: errorName(err) });
                this.failTargets(part, "tag check failed");
                for (const id of part) tagged.add(id); // already failed; keep out of the untagged path
            }
        }
        for (const id of unknown) {
            if (tagged.has(id)) continue;
            // With an IAM tag condition one untagged id fails the whole SendCommand: skip it here.
            this.stats.untagged++;
            if (id.startsWith("mi-")) {
                // Event parsing accepts hybrid managed nodes (SSM does), but their tags live in SSM,
                // not EC2: the tag check cannot vouch for them, so they are not provisioned.
                this.log.warn("instance skipped: managed nodes outside EC2 (mi-) are not supported; the fleet tag check reads EC2 instance tags only", {
                    instanceId: id,
                    tag: this.cfg.tagKey,
                });
            } else {
                this.log.info("instance skipped: it does not carry the fleet tag", { instanceId: id, tag: this.cfg.tagKey });
            }
            this.targets.delete(id);
        }
    }

    /**
     * Readiness (PingStatus Online). A few instances are looked up by id; more are looked up in one
     * listing of the fleet's managed nodes (DescribeInstanceInformation with the tag filter, 50 a
     * page): an id filter naming an instance whose agent has not registered yet fails the whole call
     * (InvalidInstanceId), so a launch of many instances would cost a split per unregistered one,
     * while the listing costs one call per 50 registered nodes and vouches for the tag as well. A
     * check that fails (throttled past the backoff) leaves the instances waiting, not failed.
     */
    private async filterReady(): Promise<void> {
        const unknown = [...this.targets].filter(([, t]) => !t.online).map(([id]) => id);
        if (unknown.length === 0) return;
        const status = new Map<string, string>();
        if (unknown.length > READY_BY_ID_MAX) {
            try {
                for (const [id, s] of await this.listTagged()) {
                    status.set(id, s);
                    const t = this.targets.get(id);
                    if (t) t.tagged = true;
                }
            } catch (err) {
                this.log.error("cannot check agent readiness", { error: errorName(err) });
                for (const id of unknown) this.waitOrFail(id, "unknown (readiness check failed)");
                return;
            }
        } else {
            for (const part of chunk(unknown, DII_PAGE)) {
                try {
                    await this.describeReady(part, status);
                } catch (err) {
                    this.log.error("cannot check agent readiness", { error: errorName(err) });
                    for (const id of part) this.waitOrFail(id, "unknown (readiness check failed)");
                }
            }
        }
        for (const id of unknown) {
            if (!this.targets.has(id)) continue;
            const s = status.get(id) ?? "NotRegistered";
            if (s === "Online") continue;
            this.stats.notReady++;
            this.waitOrFail(id, s);
        }
    }

    /**
     * PingStatus (and AgentVersion) of `ids`. DescribeInstanceInformation answers InvalidInstanceId
     * for the whole call when one id of an InstanceIds filter is not a managed node SSM knows: the
     * call is split in halves until that id stands alone, so the Online ones of the page go ahead.
     */
    private async describeReady(ids: string[], status: Map<string, string>): Promise<void> {
        let token: string | undefined;
        try {
            do {
                const page = await this.aws(() =>
                    this.deps.ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: "InstanceIds", Values: ids }], MaxResults: DII_PAGE, NextToken: token })),
                );
                for (const i of page.InstanceInformationList ?? []) {
                    if (!i.InstanceId) continue;
                    status.set(i.InstanceId, i.PingStatus ?? "Unknown");
                    if (i.PingStatus === "Online" && agentTooOld(i.AgentVersion)) this.oldAgents.set(i.InstanceId, i.AgentVersion!);
                }
                token = page.NextToken;
            } while (token);
        } catch (err) {
            if (errorName(err) !== "InvalidInstanceId") throw err;
            if (ids.length === 1) {
                status.set(ids[0], "NotManaged");
                return;
            }
            const mid = Math.ceil(ids.length / 2);
            await this.describeReady(ids.slice(0, mid), status);
            await this.describeReady(ids.slice(mid), status);
        }
    }

    /**
     * Online instances whose SSM Agent is older than MIN_AGENT_VERSION would run the document
     * without its parameters (exit 9) on every attempt: nothing is sent to them; each is
     * dead-lettered at once as `agent-too-old`, naming the version and AWS-UpdateSSMAgent. Their
     * records are acknowledged (a failure to dead-letter fails them, so nothing is lost).
     */
    private async rejectOldAgents(): Promise<void> {
        for (const [id, version] of this.oldAgents) {
            const t = this.targets.get(id);
            if (!t) continue;
            this.targets.delete(id);
            this.stats.agentTooOld++;
            const message = agentTooOldMessage(id, version);
            this.log.error("instance dead-lettered: its SSM Agent is too old for ENV_VAR parameters", { instanceId: id, agentVersion: version, minimumAgentVersion: MIN_AGENT_VERSION });
            const sharedElsewhere = (m: string) => [...this.targets.values()].some((o) => o.records.has(m));
            await this.deadLetter(
                { reason: "agent-too-old", instanceId: id, agentVersion: version, minimumAgentVersion: MIN_AGENT_VERSION, message, time: new Date().toISOString() },
                [...t.records].filter((m) => !sharedElsewhere(m)),
            );
        }
    }

    /**
     * Sleeps until WAIT_CYCLE_SECONDS after this invocation started, or sooner, when an instance
     * held for a fuller command reaches WAIT_HOLD_SECONDS then (within the function's deadline).
     */
    private async untilRoundEnds(): Promise<void> {
        let end = this.startedAt + WAIT_CYCLE_SECONDS * 1000;
        for (const t of this.waiting.values()) if (t.held !== undefined) end = Math.min(end, t.held + WAIT_HOLD_SECONDS * 1000);
        const left = end - this.deps.now();
        const remaining = this.context?.getRemainingTimeInMillis?.();
        const ms = Math.min(left, remaining === undefined ? left : remaining - DEADLINE_MARGIN_MS);
        if (ms > 0) await this.deps.sleep(ms);
    }

    /** A target whose every record came from the wait queue (none from an event of its own). */
    private onlyFromWaitQueue(t: Target): boolean {
        return t.fromWait && [...t.records].every((m) => this.waitRecords.has(m));
    }

    /** Wait messages go to the wait queue (PKA_WAIT_QUEUE_URL, FIFO, one message group): not in a direct invocation. */
    private waitQueue(): boolean {
        return this.cfg.waitQueueUrl !== undefined && !this.direct;
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
    private holdForFullerCommands(): void {
        const now = this.deps.now();
        const first = [...this.targets].filter(([, t]) => t.attempt === 1);
        const rest = first.length % SEND_COMMAND_MAX_IDS;
        // Coming soon: an instance still waiting for its agent and young (an agent long in coming, or never, holds nobody up).
        const coming = [...this.waiting.values()].some((t) => t.held === undefined && now - t.since < WAIT_FAST_MS);
        if (rest === 0 || !coming) return;
        const holdable = first.filter(([, t]) => this.onlyFromWaitQueue(t));
        if (holdable.length < rest) return;
        // The youngest are held; the older ones fill the full commands.
        holdable.sort(([a, ta], [b, tb]) => (tb.held ?? now) - (ta.held ?? now) || (a < b ? -1 : 1));
        const hold = holdable.slice(0, rest);
        if (hold.some(([, t]) => now - (t.held ?? now) >= WAIT_HOLD_SECONDS * 1000)) return;
        for (const [id, t] of hold) {
            this.waiting.set(id, { ...t, held: t.held ?? now, next: undefined, pingStatus: "Online" });
            this.targets.delete(id);
        }
        this.stats.held += hold.length;
    }

    /**
     * An instance whose agent is not online (yet): looked at again through a wait message
     * (rearmWaiting). Without a queue to write to, or in a direct invocation, its records fail and
     * come back after the visibility timeout.
     */
    private waitOrFail(id: string, pingStatus: string): void {
        const t = this.targets.get(id);
        if (!t) return;
        if ((this.cfg.queueUrl !== undefined || this.cfg.waitQueueUrl !== undefined) && !this.direct) {
            this.waiting.set(id, { ...t, held: undefined, pingStatus });
            this.targets.delete(id);
        } else {
            this.failTargets([id], "agent not online", { pingStatus });
        }
    }

    /**
     * The instances still waiting for their agent. Each waiting longer than PKA_AGENT_WAIT_SECONDS
     * since its first event is dead-lettered as `agent-not-online`; the rest go back to the queue as
     * wait messages, one per delay (waitDelaySeconds) and per WAIT_MAX_INSTANCES, sent before their
     * records are acknowledged: a send that fails fails those records instead, so SQS redelivers
     * them after the visibility timeout and nothing is lost.
     */
    private async rearmWaiting(round = false): Promise<void> {
        const now = this.deps.now();
        const byDelay = new Map<number, { id: string; t: Target }[]>();
        for (const [id, t] of this.waiting) {
            const age = now - t.since;
            if (t.held === undefined && age >= this.cfg.agentWaitSeconds * 1000) {
                this.stats.agentNotOnline++;
                const waitedSeconds = Math.round(age / 1000);
                this.log.error("instance dead-lettered: its SSM Agent did not come online in time", { instanceId: id, waitedSeconds, pingStatus: t.pingStatus, agentWaitSeconds: this.cfg.agentWaitSeconds });
                await this.deadLetter(
                    {
                        reason: "agent-not-online",
                        instanceId: id,
                        pingStatus: t.pingStatus,
                        waitedSeconds,
                        agentWaitSeconds: this.cfg.agentWaitSeconds,
                        message: agentNotOnlineMessage(id, waitedSeconds, t.pingStatus),
                        time: new Date(now).toISOString(),
                    },
                    [...t.records],
                );
                continue;
            }
            // Young instances (and held ones) go to the wait queue, which takes no per-message delay (a FIFO queue): what
            // another invocation just looked at is written with the time of its next look and carried unread until the
            // aggregator's next round. An instance long in coming is looked at every half of its age: it goes to the main
            // queue with that delay (SendMessage DelaySeconds), so a dead agent costs a few receives an hour, not a round
            // every 5 s (without a main queue URL it is carried in the wait queue until its time).
            const d = waitDelaySeconds(age, now, this.cfg.agentWaitSeconds);
            let delay = this.waitQueue() ? 0 : d;
            if (this.waitQueue() && t.held === undefined) {
                if (d > WAIT_CYCLE_SECONDS && this.cfg.queueUrl) {
                    delay = d;
                    t.next = undefined;
                } else if (t.next === undefined) {
                    if (d > WAIT_CYCLE_SECONDS) t.next = now + d * 1000;
                    else if (!round) t.next = now + WAIT_CYCLE_SECONDS * 1000;
                }
            }
            const group = byDelay.get(delay) ?? [];
            group.push({ id, t });
            byDelay.set(delay, group);
        }
        for (const [delay, group] of byDelay) {
            for (const part of chunk(group.sort((a, b) => (a.id < b.id ? -1 : 1)), WAIT_MAX_INSTANCES)) {
                const body = JSON.stringify(waitEvent(part.map(({ id, t }) => ({ instanceId: id, since: t.since, ...(t.next !== undefined ? { next: t.next } : {}), ...(t.held !== undefined ? { held: t.held } : {}) })), now));
                const message =
                    this.waitQueue() && delay === 0
                        ? { QueueUrl: this.cfg.waitQueueUrl, MessageBody: body, MessageGroupId: WAIT_GROUP_ID, MessageDeduplicationId: randomUUID() }
                        : { QueueUrl: this.cfg.queueUrl, MessageBody: body, DelaySeconds: delay };
                try {
                    await this.aws(() => this.deps.sqs.send(new SendMessageCommand(message)));
                    this.stats.waiting += part.length;
                    this.stats.waitMessages++;
                } catch (err) {
                    this.log.error("cannot write the wait message: its instances' records are retried after the visibility timeout", { error: errorName(err), instances: part.length });
                    for (const { id, t } of part) for (const m of t.records) this.fail(m, "cannot write the wait message", { instanceId: id });
                }
            }
        }
        if (this.stats.waiting > 0) this.log.info("waiting for agents to come online", { instances: this.stats.waiting, held: this.stats.held, messages: this.stats.waitMessages });
    }

    private async send(ids: string[], attempt: number, specHash: string, parameters: Record<string, string[]>): Promise<void> {
        const remaining = this.context?.getRemainingTimeInMillis?.();
        if (remaining !== undefined && remaining < DEADLINE_MARGIN_MS) {
            this.failTargets(ids, "out of time in this invocation");
            return;
        }
        try {
            const out = await this.aws(() => {
                this.stats.sendCommandCalls++;
                return this.deps.ssm.send(
                    new SendCommandCommand({
                        DocumentName: this.cfg.documentName,
                        InstanceIds: ids,
                        Parameters: parameters,
                        Comment: commandComment(attempt, specHash),
                        TimeoutSeconds: this.cfg.commandTimeoutSeconds,
                    }),
                );
            });
            this.stats.instancesSent += ids.length;
            this.log.info("command sent", { commandId: out.Command?.CommandId, instances: ids.length, attempt, spec: specHash.slice(0, 8) });
        } catch (err) {
            const name = errorName(err);
            if (name === "InvalidInstanceId" && ids.length > 1) {
                // One id in the call is not ready (SendCommand rejects the whole call): split to find it.
                const mid = Math.ceil(ids.length / 2);
                await this.send(ids.slice(0, mid), attempt, specHash, parameters);
                await this.send(ids.slice(mid), attempt, specHash, parameters);
                return;
            }
            if (name === "InvalidInstanceId") {
                // Its agent went offline between the readiness check and the send: wait for it again.
                this.stats.notReady++;
                for (const id of ids) this.waitOrFail(id, "InvalidInstanceId");
                return;
            }
            this.log.error("SendCommand failed", { error: name, instances: ids.length, message: redact(String((err as Error).message ?? "")) });
            this.failTargets(ids, `SendCommand failed: ${name}`);
        }
    }
}

interface HostKeyPin {
    messageId: string;
    instanceId: string;
    name: string;
    keys: string[];
}

/**
 * A listed invocation as GetCommandInvocation would give it, when the listing is enough: a
 * Success whose plugin output is whole (shorter than SSM's limit, so no host-key line is cut).
 * Anything else (a failure, whose stderr matters; a long output; several plugins) is read with
 * GetCommandInvocation.
 */
function fromListing(inv: CommandInvocation): GetCommandInvocationCommandOutput | undefined {
    const plugins = inv.CommandPlugins ?? [];
    if (inv.Status !== "Success" || plugins.length !== 1) return undefined;
    const output = plugins[0].Output ?? "";
    if (output.length >= LISTED_OUTPUT_LIMIT - 100) return undefined;
    const cut = output.indexOf(PLUGIN_ERROR_MARK);
    return {
        $metadata: {},
        CommandId: inv.CommandId,
        InstanceId: inv.InstanceId,
        Comment: inv.Comment,
        DocumentName: inv.DocumentName,
        Status: inv.Status,
        StatusDetails: inv.StatusDetails,
        ResponseCode: plugins[0].ResponseCode,
        StandardOutputContent: cut < 0 ? output : output.slice(0, cut),
    };
}

/** Reading the access parameters failed (throttled, denied): nothing is known about the spec. */
class SpecReadError extends Error {
    constructor(readonly reason: string) {
        super(`cannot read the access spec parameters: ${reason}`);
    }
}

/** The PKA-CONFLICT lines of the script's stderr (`PKA-CONFLICT <user> <reason text>`): user names and reasons (redacted, bounded). */
export function conflictLines(stderr: string): { user: string; reason: string }[] {
    const out: { user: string; reason: string }[] = [];
    for (const line of stderr.split("\n")) {
        const m = /^PKA-CONFLICT ([a-z_][a-z0-9_-]{0,31}\$?) (.+)$/.exec(line);
        if (m && out.length < 50) out.push({ user: m[1], reason: redact(m[2].slice(0, 300)) });
    }
    return out;
}

/** The Lambda entry point (bin/lambda/provisioner.js exports it). Clients are created once per container. */
export const handler = createHandler();
