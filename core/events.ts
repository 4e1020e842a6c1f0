/**
 * The events the provisioner reacts to: the EventBridge patterns the Provisioner deploys
 * (exported constants, so the rules, the local fleet's bus and the tests use the same objects)
 * and the parser the Lambda applies to each SQS record body.
 *
 * Event shapes: EC2 User Guide "State change events for Amazon EC2 instances"
 * (monitoring-instance-state-changes); Systems Manager User Guide "Amazon EventBridge event
 * examples for Systems Manager" (monitoring-systems-manager-event-examples). Samples are kept
 * in test/fixtures/events/.
 */
import { WAIT_DETAIL_TYPE, WAIT_MAX_INSTANCES, WAIT_SOURCE, WaitEntry } from "./waitEvent";

// Moved to waitEvent.ts; re-exported for lambda/provisioner.ts.
export { WAIT_MAX_INSTANCES, waitEvent } from "./waitEvent";

/**
 * What provisions an instance (PkaFleet's and the Provisioner's `triggers`). The command-result rule
 * is always on: retries and host keys need it.
 */
export const Trigger = {
    /** EC2 "state running": waits for the SSM agent through redelivery, never drops the instance. */
    InstanceRunning: "instanceRunning",
    /** SSM instance association state change: the agent is online (also covers instances that were stopped; any association but our own document's). */
    AssociationChange: "associationChange",
    /** `pka-fleet` push events: a deploy that changes the access spec re-provisions every online tagged instance (rotation, revocation, backfill). */
    Push: "push",
} as const;
export type Trigger = (typeof Trigger)[keyof typeof Trigger];

/** Every trigger, in order: the default `triggers`. */
export const ALL_TRIGGERS: readonly Trigger[] = Object.freeze(Object.values(Trigger));

/** Our own events (deploy-time backfill, rotation, revocation) carry this `source`. */
export const PUSH_SOURCE = "pka-fleet";
export const PUSH_DETAIL_TYPE = "PKA Fleet Access Push";

/** The AWS detail-types the provisioner reacts to (EC2 state change, State Manager association, Run Command result). */
export const EC2_RUNNING_DETAIL_TYPE = "EC2 Instance State-change Notification";
export const SSM_ASSOCIATION_DETAIL_TYPE = "EC2 State Manager Instance Association State Change";
export const COMMAND_RESULT_DETAIL_TYPE = "EC2 Command Invocation Status-change Notification";

/** EC2 says an instance is running. The SSM agent may not be online yet: the Lambda waits via redelivery. */
export const EC2_RUNNING_PATTERN = {
    source: ["aws.ec2"],
    "detail-type": [EC2_RUNNING_DETAIL_TYPE],
    detail: { state: ["running"] },
} as const;

/**
 * State Manager reports an association run on an instance: its agent is online and takes commands.
 * Only EC2 instance ids (`i-`): hybrid managed nodes (`mi-`) cannot carry the EC2 fleet tag.
 */
export const SSM_ASSOCIATION_PATTERN = {
    source: ["aws.ssm"],
    "detail-type": [SSM_ASSOCIATION_DETAIL_TYPE],
    detail: { "instance-id": [{ prefix: "i-" }] },
} as const;

/**
 * The association rule the Provisioner deploys: SSM_ASSOCIATION_PATTERN minus runs of our own
 * document: an association someone made with the fleet's own document has just applied a spec
 * (pka-fleet itself creates none: drift correction is a scheduled push), and re-sending would
 * double each of its runs.
 */
export function associationPattern(documentName: string) {
    return {
        ...SSM_ASSOCIATION_PATTERN,
        detail: { ...SSM_ASSOCIATION_PATTERN.detail, "document-name": [{ "anything-but": documentName }] },
    };
}

/** Terminal statuses of a command invocation that the Lambda acts on. */
export const COMMAND_TERMINAL_STATUSES = ["Success", "Failed", "TimedOut", "Cancelled"] as const;
export const COMMAND_FAILED_STATUSES: readonly string[] = ["Failed", "TimedOut", "Cancelled"];

/** Run Command results, for our document only (its name is known at deploy time). */
export function commandResultPattern(documentName: string) {
    return {
        source: ["aws.ssm"],
        "detail-type": [COMMAND_RESULT_DETAIL_TYPE],
        detail: { "document-name": [documentName], status: [...COMMAND_TERMINAL_STATUSES] },
    };
}

/** Our push events, any fleet's: the part every fleet's push rule shares. */
export const PUSH_PATTERN = {
    source: [PUSH_SOURCE],
    "detail-type": [PUSH_DETAIL_TYPE],
} as const;

/**
 * The push rule of one fleet: pushes that name this fleet in `detail.fleet`, or that name no fleet
 * (a push for every fleet in the account and region). A push naming another fleet never reaches
 * this fleet's queue, so several fleets (and several stacks of one program) share one event bus.
 */
export function pushPattern(fleet: string) {
    return { ...PUSH_PATTERN, detail: { fleet: [fleet, { exists: false }] } };
}

/** The detail of a push event. */
export interface PushDetail {
    /** The fleet this push is for (PkaFleet's fleetName, the Provisioner's `fleetName`); absent: every fleet. */
    fleet?: string;
    /** Why: "access-spec-changed" (deploy), "rotation", "revocation", "manual". Informational. */
    reason?: string;
    /** accessSpecHash of the spec the sender expects the parameter to hold (hex). */
    specHash?: string;
    /** Only these instances; default: every online tagged instance. */
    instanceIds?: string[];
}

/**
 * A push event as it travels through EventBridge, or as the Provisioner's deploy-time Invocation
 * sends it. Without `time` the event is deterministic (same detail, same JSON): the Invocation's
 * input must not change between deploys unless the spec hash does.
 */
export function pushEvent(detail: PushDetail, time?: Date): Record<string, unknown> {
    return {
        version: "0",
        id: `pka-push-${(detail.specHash ?? "manual").slice(0, 16)}`,
        "detail-type": PUSH_DETAIL_TYPE,
        source: PUSH_SOURCE,
        ...(time ? { time: time.toISOString().replace(/\.\d{3}Z$/, "Z") } : {}),
        resources: [],
        detail,
    };
}

/** The reason a scheduled drift-correction push carries (the Provisioner's `driftCorrectionSchedule` rule). */
export const DRIFT_REASON = "drift-correction";

/**
 * The constant Input of the drift-correction schedule rule's queue target: a push of the pinned
 * spec to every online tagged instance of `fleet`. It names no spec hash: the Lambda serves the
 * spec it pins, so the rule never changes when the spec does (no versions, no extra runs).
 */
export function driftPushInput(fleet: string): string {
    return JSON.stringify(pushEvent({ fleet, reason: DRIFT_REASON }));
}

/** The eventSource of the offboarding Invocation's record (a direct invocation, never from SQS). */
export const OFFBOARD_EVENT_SOURCE = "pka-fleet:destroy";
/** The reason its push carries. */
export const OFFBOARD_REASON = "fleet-destroyed";

/**
 * The input of the Provisioner's offboarding `aws.lambda.Invocation` (lifecycleScope CRUD): the
 * provider adds `tf: { action: "create" | "update" | "delete", prev_input }`. The Lambda does
 * nothing on create and update; on delete it revokes every user of the fleet from its online
 * tagged instances, but only when the fleet's deployed marker parameter is gone (a destroy), not
 * when the Invocation alone is replaced. Constant per fleet: it never re-invokes on a spec change.
 */
export function offboardInvocationInput(fleet: string): string {
    return JSON.stringify({
        Records: [
            {
                messageId: "pka-offboard",
                eventSource: OFFBOARD_EVENT_SOURCE,
                body: JSON.stringify(pushEvent({ fleet, reason: OFFBOARD_REASON })),
            },
        ],
    });
}

export type QueuedEvent =
    | { kind: "instance-running"; instanceId: string; eventId?: string }
    | { kind: "association"; instanceId: string; status?: string; documentName?: string; eventId?: string }
    | {
          kind: "command-result";
          instanceId: string;
          commandId: string;
          status: string;
          documentName: string;
          eventId?: string;
      }
    | { kind: "push"; specHash?: string; instanceIds?: string[]; reason?: string; fleet?: string; eventId?: string }
    | { kind: "wait"; instances: WaitEntry[]; eventId?: string };

export type QueuedEventErrorReason =
    "not-json" | "not-an-event" | "unknown-event" | "unwanted-state" | "missing-instance-id" | "invalid-field";

/** A record that can never succeed: the Lambda logs it with its messageId and acknowledges it. */
export class QueuedEventError extends Error {
    constructor(
        readonly reason: QueuedEventErrorReason,
        message: string,
    ) {
        super(message);
        this.name = "QueuedEventError";
    }
}

/** EC2 instance ids as the SSM API accepts them (i- plus 8 or 17 characters), and hybrid managed nodes (mi-). */
export const INSTANCE_ID_RE = /^(i-(\w{8}|\w{17})|mi-\w{17})$/;
const COMMAND_ID_RE = /^[0-9a-fA-F-]{36}$/;
const SPEC_HASH_RE = /^[0-9a-f]{8,64}$/;
/** A fleet name in a push (the Provisioner's `fleetName`: PkaFleet's fleet name or a tag value). */
const FLEET_RE = /^[A-Za-z0-9 +\-.:/@_]{1,256}$/;

function obj(v: unknown): Record<string, unknown> | undefined {
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function instanceIdOf(detail: Record<string, unknown>, what: string): string {
    const id = detail["instance-id"];
    if (id === undefined || id === null || id === "")
        throw new QueuedEventError("missing-instance-id", `${what} has no detail.instance-id`);
    if (typeof id !== "string" || !INSTANCE_ID_RE.test(id))
        throw new QueuedEventError("invalid-field", `${what} has an invalid detail.instance-id`);
    return id;
}

/** Parses one SQS record body (an EventBridge event). Throws QueuedEventError for a record that cannot succeed. */
export function parseQueuedEvent(body: string): QueuedEvent {
    let ev: unknown;
    try {
        ev = JSON.parse(body);
    } catch {
        throw new QueuedEventError("not-json", "record body is not JSON");
    }
    const e = obj(ev);
    if (!e || typeof e.source !== "string" || typeof e["detail-type"] !== "string") {
        throw new QueuedEventError("not-an-event", "record body is not an EventBridge event (no source/detail-type)");
    }
    const detail = obj(e.detail);
    const eventId = typeof e.id === "string" ? e.id : undefined;
    const type = `${e.source} / ${e["detail-type"]}`;
    if (!detail) throw new QueuedEventError("not-an-event", `${type} has no detail object`);

    if (e.source === "aws.ec2" && e["detail-type"] === EC2_RUNNING_DETAIL_TYPE) {
        const instanceId = instanceIdOf(detail, type);
        if (detail.state !== "running")
            throw new QueuedEventError(
                "unwanted-state",
                `${type} for state ${JSON.stringify(detail.state)}, not running`,
            );
        return { kind: "instance-running", instanceId, eventId };
    }
    if (e.source === "aws.ssm" && e["detail-type"] === SSM_ASSOCIATION_DETAIL_TYPE) {
        const instanceId = instanceIdOf(detail, type);
        const status = typeof detail.status === "string" ? detail.status : undefined;
        const documentName =
            typeof detail["document-name"] === "string" ? (detail["document-name"] as string) : undefined;
        return { kind: "association", instanceId, status, documentName, eventId };
    }
    if (e.source === "aws.ssm" && e["detail-type"] === COMMAND_RESULT_DETAIL_TYPE)
        return commandResultEvent(detail, type, eventId);
    if (e.source === PUSH_SOURCE) return pushEventOf(detail, type, eventId);
    if (e.source === WAIT_SOURCE && e["detail-type"] === WAIT_DETAIL_TYPE) return waitEventOf(detail, type, eventId);
    throw new QueuedEventError("unknown-event", `unknown event ${type}`);
}

/** An SSM command result (`type` names the event in messages). */
function commandResultEvent(detail: Record<string, unknown>, type: string, eventId: string | undefined): QueuedEvent {
    const instanceId = instanceIdOf(detail, type);
    const commandId = detail["command-id"];
    const status = detail.status;
    const documentName = detail["document-name"];
    if (typeof commandId !== "string" || !COMMAND_ID_RE.test(commandId))
        throw new QueuedEventError("invalid-field", `${type} has an invalid detail.command-id`);
    if (typeof status !== "string" || !status)
        throw new QueuedEventError("invalid-field", `${type} has no detail.status`);
    if (typeof documentName !== "string" || !documentName)
        throw new QueuedEventError("invalid-field", `${type} has no detail.document-name`);
    return { kind: "command-result", instanceId, commandId, status, documentName, eventId };
}

/** A pka-fleet push (`type` names the event in messages). */
function pushEventOf(detail: Record<string, unknown>, type: string, eventId: string | undefined): QueuedEvent {
    const specHash = detail.specHash;
    const ids = detail.instanceIds;
    if (specHash !== undefined && (typeof specHash !== "string" || !SPEC_HASH_RE.test(specHash))) {
        throw new QueuedEventError("invalid-field", `${type} has an invalid detail.specHash`);
    }
    if (
        ids !== undefined &&
        (!Array.isArray(ids) || !ids.every((i) => typeof i === "string" && INSTANCE_ID_RE.test(i)))
    ) {
        throw new QueuedEventError("invalid-field", `${type} has an invalid detail.instanceIds`);
    }
    const fleet = detail.fleet;
    if (fleet !== undefined && (typeof fleet !== "string" || !FLEET_RE.test(fleet)))
        throw new QueuedEventError("invalid-field", `${type} has an invalid detail.fleet`);
    const reason = typeof detail.reason === "string" ? detail.reason.slice(0, 64) : undefined;
    return {
        kind: "push",
        specHash: specHash as string | undefined,
        instanceIds: ids as string[] | undefined,
        reason,
        ...(fleet !== undefined ? { fleet: fleet as string } : {}),
        eventId,
    };
}

/** A wait-queue event: the instances whose agents are awaited (`type` names the event in messages). */
function waitEventOf(detail: Record<string, unknown>, type: string, eventId: string | undefined): QueuedEvent {
    const list = detail.instances;
    if (!Array.isArray(list) || list.length === 0 || list.length > WAIT_MAX_INSTANCES) {
        throw new QueuedEventError(
            "invalid-field",
            `${type} needs detail.instances: 1-${WAIT_MAX_INSTANCES} [instance-id, since-ms] entries`,
        );
    }
    const instances: WaitEntry[] = [];
    const ms = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
    for (const item of list) {
        const [id, since, next, held] = Array.isArray(item) && item.length >= 2 && item.length <= 4 ? item : [];
        if (
            typeof id !== "string" ||
            !INSTANCE_ID_RE.test(id) ||
            !ms(since) ||
            (next !== undefined && !ms(next)) ||
            (held !== undefined && !ms(held))
        ) {
            throw new QueuedEventError(
                "invalid-field",
                `${type} has an invalid detail.instances entry (want [instance-id, since-ms], optionally followed by next-ms and held-ms)`,
            );
        }
        instances.push({ instanceId: id, since, ...(next ? { next } : {}), ...(held !== undefined ? { held } : {}) });
    }
    return { kind: "wait", instances, eventId };
}

/** The document name in an event may be a name or an ARN; compare by name. */
export function sameDocument(a: string, b: string): boolean {
    const name = (s: string) => (s.startsWith("arn:") ? s.slice(s.lastIndexOf("/") + 1) : s);
    return name(a) === name(b);
}

/** One EventBridge rule of the Provisioner: deployed as `<name>-<key>`, described as `pka-fleet: <description>`. */
export interface ProvisionerRule {
    readonly key: string;
    readonly description: string;
    /** What the pattern depends on: the setup document's name, the fleet's name, or nothing (a constant). */
    readonly uses: "documentName" | "fleet" | "nothing";
    /** The rule's event pattern for the setup document's name and the fleet's name. */
    readonly pattern: (documentName: string, fleet: string) => object;
}

/**
 * The Provisioner's EventBridge rules for `triggers`, in deploy order: running, association, results
 * (always: retries and host keys need it), push. The local fleet's bus uses the same list.
 */
export function provisionerRules(triggers: readonly Trigger[]): ProvisionerRule[] {
    const rules: ProvisionerRule[] = [];
    if (triggers.includes("instanceRunning"))
        rules.push({
            key: "running",
            description: "EC2 instance entered running",
            uses: "nothing",
            pattern: () => EC2_RUNNING_PATTERN,
        });
    if (triggers.includes("associationChange"))
        rules.push({
            key: "association",
            description: "SSM agent online (association state change)",
            uses: "documentName",
            pattern: (d) => associationPattern(d),
        });
    rules.push({
        key: "results",
        description: "Results of the setup document",
        uses: "documentName",
        pattern: (d) => commandResultPattern(d),
    });
    if (triggers.includes("push"))
        rules.push({
            key: "push",
            description: "pka-fleet push events",
            uses: "fleet",
            pattern: (_d, fleet) => pushPattern(fleet),
        });
    return rules;
}
