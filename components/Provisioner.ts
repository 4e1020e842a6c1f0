import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { isParameterPath, parameterPathsOverlap } from "../core/accessStore";
import { ALL_TRIGGERS, driftPushInput, offboardInvocationInput, Trigger, provisionerRules, pushEvent } from "../core/events";
import { checkKeyRules, KeyRules } from "../core/keys";
import { provisionerCodePath } from "../core/lambdaBundle";
import { FIFO_BATCH_MAX, PROVISIONER_DEFAULTS, queueVisibilitySeconds } from "../core/provisionerDefaults";
import { defaultNodeRuntime, RUNTIME_CALENDAR, runtimeDeprecation } from "../core/runtimes";

/** What provisions an instance (PkaFleet's and the Provisioner's `triggers`), from core/events.ts. */
export { Trigger, ALL_TRIGGERS } from "../core/events";
/** Where the bundled handler is (the default `codePath`), from core/lambdaBundle.ts. */
export { provisionerCodePath } from "../core/lambdaBundle";
/** The same enum under the name PkaFleet's args have always used. */
export const FleetTrigger = Trigger;
export type FleetTrigger = Trigger;

/** CloudWatch Logs retention values (days): what `logRetentionDays` may be. */
export const RETENTION_DAYS: readonly number[] = Object.freeze([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]);

/** The tag that marks the fleet's instances. */
export interface ProvisionerTargetTag {
    /** Tag key (also the IAM condition key `ssm:resourceTag/<key>`). Required. */
    readonly key: pulumi.Input<string>;
    /** Tag value. Required. */
    readonly value: pulumi.Input<string>;
}

/**
 * Key rules (PkaFleet's and the Provisioner's `keyRules`): the fields of the policy pack's
 * `ssh-key-algorithm` and `ssh-key-passphrase` rules, so a fleet can match a policy config exactly.
 * They can tighten the defaults, never re-allow dsa, rsa1, ecdsa P-224 or RSA below 2048.
 */
export interface FleetKeyRules {
    /** Allowed key types, any of `ed25519`, `ecdsa`, `rsa`. Default `["ed25519", "ecdsa", "rsa"]`. */
    readonly allowedTypes?: string[];
    /** Smallest RSA key in bits, 2048 to 16384. Default `3072`. */
    readonly minRsaBits?: number;
    /** Allowed ecdsa curves, any of `nistp256`, `nistp384`, `nistp521`. Default all three. */
    readonly allowedCurves?: string[];
    /** RSA size of a generated key registered in EC2 (`ec2KeyName`): `2048` or `4096`. Default `4096`. */
    readonly ec2ImportRsaBits?: number;
    /** A person's generated key (a user without `service: true`) needs a passphrase. Default `true`. */
    readonly requirePassphrase?: boolean;
}
/** The same interface under the name the Provisioner's args used. */
export type ProvisionerKeyRules = FleetKeyRules;

const KEY_RULE_FIELDS: readonly (keyof KeyRules)[] = ["allowedTypes", "minRsaBits", "allowedCurves", "ec2ImportRsaBits", "requirePassphrase"];

/**
 * Checks a component's `keyRules` like a policy pack config (core/keys.ts checkKeyRules) and returns
 * them normalized. Throws an Error whose message names `keyRules.<field>` and what it accepts.
 */
export function checkKeyRuleArgs(rules: unknown): Partial<KeyRules> {
    if (rules === undefined) return {};
    if (!rules || typeof rules !== "object" || Array.isArray(rules)) throw new Error(`\`keyRules\` must be an object { ${KEY_RULE_FIELDS.join(", ")} }.`);
    const given = rules as Record<string, unknown>;
    for (const k of Object.keys(given)) {
        if (given[k] !== undefined && !(KEY_RULE_FIELDS as string[]).includes(k)) throw new Error(`\`keyRules.${k}\` is not a key rule; the rules are ${KEY_RULE_FIELDS.join(", ")}.`);
    }
    let out: Partial<KeyRules>;
    try {
        // The same check as a policy pack config: what is never allowed stays refused.
        out = checkKeyRules(given as Partial<KeyRules>, (k) => `\`keyRules.${k}\``);
    } catch (e) {
        throw new Error(`${(e as Error).message}.`);
    }
    for (const k of ["allowedTypes", "allowedCurves"] as const) {
        if (out[k]?.length === 0) throw new Error(`\`keyRules.${k}\` must not be empty: leave it out for the default.`);
    }
    return out;
}

export interface ProvisionerArgs {
    /** Name of the SSM Command document to run (SetupDocument.documentName). Required. */
    readonly documentName: pulumi.Input<string>;
    /** ARN of that document, for the IAM statement. Default: built from the document name, the region and the account. */
    readonly documentArn?: pulumi.Input<string>;
    /** Only instances with this tag are provisioned (checked by the Lambda AND enforced by the role's IAM condition). Required. */
    readonly targetTag: ProvisionerTargetTag;
    /** Parameter Store path of the access spec chunks (core/accessStore.ts), e.g. `/pka/<fleet>/access`. Required. */
    readonly accessParameterPath: pulumi.Input<string>;
    /** Parameter Store path for pinned host keys, one parameter per instance; must not overlap accessParameterPath. Default: the access path's parent + `/known_hosts`. */
    readonly knownHostsPath?: pulumi.Input<string>;
    /**
     * accessSpecHash (core/accessSpec.ts) of the spec this deploy stores at accessParameterPath. Required: the Lambda
     * serves only a spec with this hash (it is pinned in the function's configuration), so whoever can write the
     * parameters but not deploy cannot grant access. A change also re-provisions every online tagged instance in the
     * same deploy (with the `push` trigger).
     */
    readonly accessSpecHash: pulumi.Input<string>;
    /** Which events provision. Default: all of `instanceRunning`, `associationChange`, `push`. */
    readonly triggers?: Trigger[];
    /** SQS records per Lambda batch (1-10000). Default `50`. */
    readonly batchSize?: number;
    /** Seconds SQS gathers records before invoking (0-300; >= 1 when batchSize > 10). Default `5`. */
    readonly batchingWindowSeconds?: number;
    /** Receives before a record goes to the DLQ (a record that keeps failing; a slow agent waits through wait messages instead, see agentWaitSeconds). Default `10`. */
    readonly maxReceiveCount?: number;
    /** Command runs per instance before it is dead-lettered with the reason (1-20). Default `3`. */
    readonly maxAttempts?: number;
    /**
     * Seconds an instance's SSM Agent may take to come online after its first event (60-43200). Until then
     * the Lambda looks again through its wait queue (a FIFO queue: every 5 s for the first 3 minutes, then
     * less often); past it the instance is dead-lettered as `agent-not-online`. Default `3600`.
     */
    readonly agentWaitSeconds?: number;
    /** Maximum concurrent Lambda invocations from the queue (2-1000): bounds the SendCommand burst. Default `5`. */
    readonly maximumConcurrency?: number;
    /** Log retention in days (a CloudWatch Logs value). Default `30`. */
    readonly logRetentionDays?: number;
    /** Lambda runtime, a supported Node.js one. Default: the newest Node.js runtime AWS has not deprecated (`nodejs24.x` in 2026-11). Deprecated runtimes are refused. */
    readonly runtime?: string;
    /** Lambda timeout in seconds (1-900). Default `60`. */
    readonly timeoutSeconds?: number;
    /** Lambda memory in MB. Default `256`. */
    readonly memorySize?: number;
    /** The bundled handler (one CommonJS file). Default: `bin/lambda/provisioner.js` of this package (`npm run build`). */
    readonly codePath?: string;
    /** ARNs notified when the DLQ holds messages (SNS topics ...). Default: none. */
    readonly alarmActions?: pulumi.Input<pulumi.Input<string>[]>;
    /** Key rules the Lambda re-validates the spec with. Default: the policy pack's. */
    readonly keyRules?: FleetKeyRules;
    /** Tags on every taggable child. Default: none. */
    readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /**
     * The fleet's name in push events: the push rule takes pushes whose `detail.fleet` is this name, or that
     * name no fleet, so fleets sharing an account's event bus never receive each other's pushes.
     * Default: `targetTag.value`.
     */
    readonly fleetName?: pulumi.Input<string>;
    /**
     * Drift correction: on this EventBridge schedule expression, `rate(...)` or 6-field `cron(...)` (UTC), at least
     * 30 minutes apart, e.g. `"rate(1 day)"`, a scheduled rule pushes the pinned spec to every online tagged instance
     * (through the queue, like any push). The rule's event names no spec hash (the Lambda serves the spec it pins), so
     * a spec change never changes the rule: it does not run an extra time per deploy. Default: off.
     */
    readonly driftCorrectionSchedule?: string;
    /**
     * Offboarding: when the Provisioner is destroyed (`pulumi destroy`, or removed from the program), its Lambda
     * revokes every user it manages on the fleet's online tagged instances before the function is deleted; the
     * destroy fails, naming the instances, when a revocation does not succeed. A marker parameter
     * `<accessParameterPath>-deployed` tells a destroy from a mere replacement. Default `true`.
     */
    readonly revokeOnDestroy?: boolean;
}

/**
 * The Provisioner's children that AWS names: Pulumi auto-names each `<name>-<suffix>-<7 random hex>`
 * (`-` plus 7 characters: the AWS provider's auto-naming), and AWS refuses a name over its limit, so a
 * long resource name fails only in the middle of a deploy. Limits, from AWS's documentation:
 * SQS CreateQueue QueueName 80 characters; EventBridge PutRule Name 64; IAM CreateRole RoleName 64;
 * IAM PutRolePolicy PolicyName 128; CloudWatch Logs CreateLogGroup logGroupName 512; Lambda
 * CreateFunction FunctionName 64; CloudWatch PutMetricAlarm AlarmName 255. EventBridge target ids
 * (PutTargets Id, 64) are set explicitly, not auto-named; so is the deployed marker parameter's name
 * (`<accessParameterPath>-deployed`); Lambda invocations have no name.
 */
export const PROVISIONER_AUTONAMES: readonly { readonly suffix: string; readonly what: string; readonly max: number }[] = Object.freeze([
    { suffix: "queue", what: "SQS queue", max: 80 },
    { suffix: "dlq", what: "SQS queue", max: 80 },
    // FIFO queues: the provider appends ".fifo" to the auto-name, and AWS counts it in the 80.
    { suffix: "wait", what: "SQS FIFO queue", max: 75 },
    { suffix: "wait-dlq", what: "SQS FIFO queue", max: 75 },
    { suffix: "running", what: "EventBridge rule", max: 64 },
    { suffix: "association", what: "EventBridge rule", max: 64 },
    { suffix: "results", what: "EventBridge rule", max: 64 },
    { suffix: "push", what: "EventBridge rule", max: 64 },
    { suffix: "drift", what: "EventBridge rule", max: 64 },
    { suffix: "role", what: "IAM role", max: 64 },
    { suffix: "policy", what: "IAM role policy", max: 128 },
    { suffix: "logs", what: "CloudWatch log group", max: 512 },
    { suffix: "fn", what: "Lambda function", max: 64 },
    { suffix: "dlq-alarm", what: "CloudWatch alarm", max: 255 },
    { suffix: "wait-dlq-alarm", what: "CloudWatch alarm", max: 255 },
]);
/** Characters Pulumi's auto-naming adds to a resource name: `-` and 7 random hex digits. */
export const AUTONAME_SUFFIX_LENGTH = 8;
/** The EventBridge target id of every Provisioner rule (PutTargets Id: 1-64 of `[.\-_A-Za-z0-9]`, unique per rule). */
export const QUEUE_TARGET_ID = "pka-provisioner-queue";

/** Why AWS would refuse a name Pulumi derives from the resource name `name`, or undefined. */
export function provisionerNameProblem(name: string): string | undefined {
    for (const n of PROVISIONER_AUTONAMES) {
        const length = name.length + 1 + n.suffix.length + AUTONAME_SUFFIX_LENGTH;
        if (length > n.max) {
            const fits = Math.min(...PROVISIONER_AUTONAMES.map((m) => m.max - 1 - m.suffix.length - AUTONAME_SUFFIX_LENGTH));
            return `the resource name "${name}" is ${name.length} characters: its ${n.what} would be named \`${name}-${n.suffix}-<7 random hex>\` (${length} characters), over AWS's limit of ${n.max}; use a resource name of at most ${fits} characters`;
        }
    }
    return undefined;
}

/** The shortest interval `driftCorrectionSchedule` may have, in minutes. */
export const DRIFT_MIN_INTERVAL_MINUTES = 30;

/** The values a cron field's part list selects in [lo, hi] (`*`, `n`, `a-b`, `x/step`, comma lists), or undefined. */
function cronFieldValues(field: string, lo: number, hi: number): number[] | undefined {
    const out = new Set<number>();
    const num = (s: string): number | undefined => (/^\d{1,2}$/.test(s) && Number(s) >= lo && Number(s) <= hi ? Number(s) : undefined);
    for (const part of field.split(",")) {
        const m = /^(\*|\d{1,2}|\d{1,2}-\d{1,2})(?:\/(\d{1,2}))?$/.exec(part);
        if (!m) return undefined;
        let from: number | undefined;
        let to: number | undefined;
        if (m[1] === "*") [from, to] = [lo, hi];
        else if (m[1].includes("-")) [from, to] = m[1].split("-").map(num);
        else [from, to] = [num(m[1]), m[2] !== undefined ? hi : num(m[1])];
        const step = m[2] === undefined ? 1 : Number(m[2]);
        if (from === undefined || to === undefined || from > to || step < 1) return undefined;
        for (let v = from; v <= to; v += step) out.add(v);
    }
    return [...out].sort((a, b) => a - b);
}

/**
 * Why `expr` is not an EventBridge schedule expression at least 30 minutes apart, or undefined.
 * EventBridge (User Guide, "Schedule expressions for rules"): `rate(value unit)` with a positive
 * integer and minute(s)/hour(s)/day(s), singular exactly when the value is 1; `cron(Minutes Hours
 * Day-of-month Month Day-of-week Year)`, six fields, one of Day-of-month and Day-of-week `?`. A
 * cron's minutes must be at least 30 apart around the hour (a single minute fires once an hour).
 */
/** Tags as AWS takes them (Tagging AWS resources): at most `max`, keys 1-128 characters without aws:, values up to 256. */
export function tagsProblem(tags: Record<string, unknown>, max = 50): string | undefined {
    const entries = Object.entries(tags);
    if (entries.length > max) return `has ${entries.length} tags; at most ${max}`;
    for (const [k, v] of entries) {
        if (k.length < 1 || k.length > 128) return `key ${JSON.stringify(k.slice(0, 40))} must be 1 to 128 characters`;
        if (k.toLowerCase().startsWith("aws:")) return `key ${JSON.stringify(k)} uses the reserved aws: prefix`;
        if (typeof v === "string" && v.length > 256) return `value of ${JSON.stringify(k)} is over 256 characters`;
    }
    return undefined;
}

export function scheduleProblem(expr: unknown): string | undefined {
    if (typeof expr !== "string") return "it is not a string";
    // EventBridge API Reference, PutRule: ScheduleExpression is at most 256 characters.
    if (expr.length > 256) return `it is ${expr.length} characters; EventBridge takes at most 256`;
    const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expr);
    if (rate) {
        const value = Number(rate[1]);
        if (!/^[1-9]\d*$/.test(rate[1])) return "a rate's value must be a positive integer";
        if ((value === 1) !== !rate[2].endsWith("s")) return `EventBridge wants the unit ${value === 1 ? "singular for a value of 1" : "plural for a value over 1"} (rate(1 day), rate(2 days))`;
        const minutes = value * (rate[2].startsWith("minute") ? 1 : rate[2].startsWith("hour") ? 60 : 1440);
        if (minutes < DRIFT_MIN_INTERVAL_MINUTES) return `it runs every ${minutes} minute${minutes === 1 ? "" : "s"}, more often than every ${DRIFT_MIN_INTERVAL_MINUTES}`;
        return undefined;
    }
    if (/^rate\(/.test(expr)) return "a rate is `rate(<positive integer> minute|minutes|hour|hours|day|days)`";
    const cron = /^cron\((.*)\)$/.exec(expr);
    if (!cron) return "it is neither rate(...) nor cron(...)";
    const fields = cron[1].trim().split(/\s+/);
    if (fields.length !== 6) return `a cron has 6 fields (minutes hours day-of-month month day-of-week year); this one has ${fields.length}`;
    const [minute, hour, dom, month, dow, year] = fields;
    const ok: [string, string, RegExp][] = [
        ["hours", hour, /^[0-9*,\-/]+$/],
        ["day-of-month", dom, /^([0-9*,\-/LW]+|\?)$/],
        ["month", month, /^[0-9A-Za-z*,\-/]+$/],
        ["day-of-week", dow, /^([0-9A-Za-z*,\-/L#]+|\?)$/],
        ["year", year, /^[0-9*,\-/]+$/],
    ];
    for (const [what, v, re] of ok) if (!re.test(v)) return `its ${what} field ${JSON.stringify(v)} is not valid`;
    if ((dom === "?") === (dow === "?")) return "exactly one of its day-of-month and day-of-week fields must be `?`";
    const minutes = cronFieldValues(minute, 0, 59);
    if (!minutes || minutes.length === 0) return `its minutes field ${JSON.stringify(minute)} is not a list of minutes 0-59 (n, a-b, */step, a,b)`;
    const gaps = minutes.map((m, i) => (i + 1 < minutes.length ? minutes[i + 1] : minutes[0] + 60) - m);
    const gap = Math.min(...gaps);
    if (gap < DRIFT_MIN_INTERVAL_MINUTES) return `its minutes ${minutes.length > 12 ? `${minutes.slice(0, 4).join(",")},...` : minutes.join(",")} are ${gap} minute${gap === 1 ? "" : "s"} apart, less than ${DRIFT_MIN_INTERVAL_MINUTES}`;
    if (!cronFieldValues(hour, 0, 23)) return `its hours field ${JSON.stringify(hour)} is not a list of hours 0-23`;
    return undefined;
}

/** The refusal of a `driftCorrectionSchedule` value, naming the input, or undefined when it is valid. */
export function driftScheduleError(expr: unknown, input = "driftCorrectionSchedule"): string | undefined {
    const why = scheduleProblem(expr);
    if (why === undefined) return undefined;
    return `\`${input}\` must be an EventBridge schedule expression, \`rate(...)\` or 6-field \`cron(...)\` (UTC), at least ${DRIFT_MIN_INTERVAL_MINUTES} minutes apart, such as "rate(1 day)", "rate(30 minutes)" or "cron(0 3 * * ? *)": ${why}; got ${JSON.stringify(expr)}`;
}

/** The deployed marker parameter of a Provisioner with `revokeOnDestroy` (a sibling of the access path, never under it). */
export function deployedMarkerName(accessParameterPath: string): string {
    return `${accessParameterPath.replace(/\/+$/, "")}-deployed`;
}

/** Node.js runtimes and the day AWS deprecates them: the Node.js part of core/runtimes.ts's calendar, which the policy pack's lambda-runtime-supported rule uses too. */
export const NODE_RUNTIME_DEPRECATION: Readonly<Record<string, string>> = Object.fromEntries(
    Object.entries(RUNTIME_CALENDAR).filter(([r]) => r.startsWith("nodejs")).map(([r, e]) => [r, e.deprecated]),
);

/**
 * Why `runtime` is refused, or undefined. Only Node.js runs the bundle; deprecated runtimes get no
 * security patches. "Deprecated" is the policy pack's default judgement (core/runtimes.ts), so a
 * Provisioner never deploys what `lambda-runtime-supported` would refuse.
 */
export function runtimeProblem(runtime: string, now = new Date()): string | undefined {
    if (!/^nodejs\d+\.x$/.test(runtime)) return `\`runtime\` must be a Node.js runtime such as nodejs22.x (the handler is a JavaScript bundle); got ${runtime}`;
    const dep = runtimeDeprecation(runtime, { now });
    if (dep) return `\`runtime\` ${runtime} is deprecated by AWS${dep.since ? ` since ${dep.since}` : ""}; use ${dep.successor === "nodejs22.x" ? "nodejs22.x or nodejs24.x" : dep.successor}`;
    return undefined;
}

export interface ProvisionerPolicyInput {
    partition: string;
    region: string;
    account: string;
    documentArn: string;
    tagKey: string;
    tagValue: string;
    accessParameterPath: string;
    knownHostsPath: string;
    logGroupArn: string;
    queueArn: string;
    dlqArn: string;
    /** The wait queue (FIFO): the Lambda consumes it and writes its wait messages there. */
    waitQueueArn: string;
    /** The deployed marker parameter (revokeOnDestroy), which the offboarding reads; undefined: no offboarding. */
    deployedMarker?: string;
}

/** The Lambda role's policy: every statement scoped to what the handler touches. */
export function buildProvisionerPolicy(i: ProvisionerPolicyInput): { Version: string; Statement: Record<string, unknown>[] } {
    const param = (p: string) => `arn:${i.partition}:ssm:${i.region}:${i.account}:parameter${p}`;
    return {
        Version: "2012-10-17",
        Statement: [
            // AWSLambdaBasicExecutionRole, narrowed to the function's own log group.
            { Sid: "Logs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: `${i.logGroupArn.replace(/:\*$/, "")}:*` },
            // SendCommand authorizes the document and every instance: our document only ...
            { Sid: "SendCommandDocument", Effect: "Allow", Action: "ssm:SendCommand", Resource: i.documentArn },
            // ... and only instances carrying the fleet tag (one untagged id denies the whole call: the Lambda filters first).
            {
                Sid: "SendCommandTaggedInstances",
                Effect: "Allow",
                Action: "ssm:SendCommand",
                Resource: `arn:${i.partition}:ec2:${i.region}:${i.account}:instance/*`,
                Condition: { StringEquals: { [`ssm:resourceTag/${i.tagKey}`]: i.tagValue } },
            },
            { Sid: "ReadAccessSpec", Effect: "Allow", Action: "ssm:GetParametersByPath", Resource: param(i.accessParameterPath) },
            // Host keys are read first (GetParameters) and written only when they changed.
            { Sid: "PinHostKeys", Effect: "Allow", Action: ["ssm:GetParameters", "ssm:PutParameter"], Resource: param(`${i.knownHostsPath}/*`) },
            // These support no resource-level permissions (Service Authorization Reference): "*" is the only valid Resource.
            {
                Sid: "DescribeFleet",
                Effect: "Allow",
                Action: ["ssm:DescribeInstanceInformation", "ssm:GetCommandInvocation", "ssm:ListCommandInvocations", "ec2:DescribeInstances"],
                Resource: "*",
            },
            { Sid: "ConsumeQueue", Effect: "Allow", Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"], Resource: [i.queueArn, i.waitQueueArn] },
            { Sid: "DeadLetter", Effect: "Allow", Action: "sqs:SendMessage", Resource: i.dlqArn },
            // Instances whose agent is not online yet go to the wait queue (one wait message a round); those long in
            // coming to its own queue, delayed (a FIFO queue takes no per-message delay).
            { Sid: "WaitForAgents", Effect: "Allow", Action: "sqs:SendMessage", Resource: [i.waitQueueArn, i.queueArn] },
            // Offboarding on destroy: whether the fleet is still deployed (the marker exists) or destroyed (it is gone).
            ...(i.deployedMarker !== undefined ? [{ Sid: "OffboardMarker", Effect: "Allow", Action: "ssm:GetParameter", Resource: param(i.deployedMarker) }] : []),
        ],
    };
}

/**
 * Queue policy: EventBridge may send for our rules (aws:SourceArn), and nobody else may send at
 * all. Within one account an identity policy alone allows sqs:SendMessage (the queue policy need
 * not), so the Allow is not enough: an explicit Deny refuses every sender whose request is not
 * from one of our rules. `exemptPrincipalArns` (the Lambda's role, for the DLQ) are let through;
 * aws:SourceArn and aws:PrincipalArn are global condition keys (IAM User Guide, "AWS global
 * condition context keys"), and a negated operator is true when its key is absent, so a caller
 * with no source ARN is denied.
 */
export function eventBridgeQueuePolicy(queueArn: string, ruleArns: string[], exemptPrincipalArns: string[] = []): string {
    const notOurs: Record<string, Record<string, string[]>> = { ArnNotEquals: { "aws:SourceArn": ruleArns } };
    if (exemptPrincipalArns.length > 0) notOurs.ArnNotEquals["aws:PrincipalArn"] = exemptPrincipalArns;
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "OurRulesOnly",
                Effect: "Allow",
                Principal: { Service: "events.amazonaws.com" },
                Action: "sqs:SendMessage",
                Resource: queueArn,
                Condition: { ArnEquals: { "aws:SourceArn": ruleArns } },
            },
            {
                Sid: "NoOtherSender",
                Effect: "Deny",
                Principal: "*",
                Action: "sqs:SendMessage",
                Resource: queueArn,
                Condition: notOurs,
            },
        ],
    });
}

/**
 * The wait queue's policy: only the Lambda's role may send (an explicit Deny for every other
 * principal; aws:PrincipalArn is a global condition key). Nothing else ever writes there.
 */
export function ownRoleOnlyQueuePolicy(queueArn: string, roleArn: string): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Sid: "OnlyTheProvisioner", Effect: "Deny", Principal: "*", Action: "sqs:SendMessage", Resource: queueArn, Condition: { ArnNotEquals: { "aws:PrincipalArn": [roleArn] } } }],
    });
}

/**
 * The event-driven provisioner: EventBridge rules -> SQS queue (+ DLQ and an alarm) -> the bundled
 * Lambda -> SSM SendCommand on the fleet's tagged instances, with results fed back for retries,
 * dead-lettering and host-key pinning; when `accessSpecHash` changes, a push in the same deploy;
 * optionally a scheduled drift-correction push; and, on destroy, the revocation of the fleet's users
 * (`revokeOnDestroy`).
 */
export class Provisioner extends pulumi.ComponentResource {
    declare public readonly queueUrl: pulumi.Output<string>;
    declare public readonly queueArn: pulumi.Output<string>;
    declare public readonly dlqUrl: pulumi.Output<string>;
    declare public readonly dlqArn: pulumi.Output<string>;
    /** The wait queue (FIFO, one message group): instances whose SSM Agent is not online yet. */
    declare public readonly waitQueueUrl: pulumi.Output<string>;
    declare public readonly waitDlqUrl: pulumi.Output<string>;
    declare public readonly functionName: pulumi.Output<string>;
    declare public readonly functionArn: pulumi.Output<string>;
    declare public readonly roleArn: pulumi.Output<string>;
    declare public readonly ruleNames: pulumi.Output<string[]>;
    declare public readonly alarmName: pulumi.Output<string>;
    declare public readonly logGroupName: pulumi.Output<string>;

    constructor(name: string, args: ProvisionerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pka-fleet:index:Provisioner", name, {}, opts);

        // ---- validate first, naming the inputs ----
        const triggers = args.triggers ?? ALL_TRIGGERS;
        const d = PROVISIONER_DEFAULTS;
        const batchSize = args.batchSize ?? d.batchSize;
        const windowSeconds = args.batchingWindowSeconds ?? d.batchingWindowSeconds;
        const maxReceiveCount = args.maxReceiveCount ?? d.maxReceiveCount;
        const maxAttempts = args.maxAttempts ?? d.maxAttempts;
        const maximumConcurrency = args.maximumConcurrency ?? d.maximumConcurrency;
        const agentWaitSeconds = args.agentWaitSeconds ?? d.agentWaitSeconds;
        const retention = args.logRetentionDays ?? 30;
        const runtime = args.runtime ?? defaultNodeRuntime();
        const timeout = args.timeoutSeconds ?? d.timeoutSeconds;
        const memorySize = args.memorySize ?? d.memorySize;
        const fail = (msg: string): never => {
            throw new pulumi.ResourceError(msg, this);
        };
        let keyRules: Partial<KeyRules> = {};
        try {
            keyRules = checkKeyRuleArgs(args.keyRules);
        } catch (e) {
            fail((e as Error).message);
        }
        const bad = triggers.find((t) => !ALL_TRIGGERS.includes(t));
        if (bad !== undefined) fail(`\`triggers\` may contain ${ALL_TRIGGERS.join(", ")}; got ${bad}`);
        if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10000) fail(`\`batchSize\` must be 1-10000; got ${batchSize}`);
        if (!Number.isInteger(windowSeconds) || windowSeconds < 0 || windowSeconds > 300) fail(`\`batchingWindowSeconds\` must be 0-300; got ${windowSeconds}`);
        if (batchSize > 10 && windowSeconds < 1) fail("`batchingWindowSeconds` must be at least 1 when `batchSize` is over 10 (an SQS event source rule)");
        if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1 || maxReceiveCount > 1000) fail(`\`maxReceiveCount\` must be 1-1000; got ${maxReceiveCount}`);
        if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 20) fail(`\`maxAttempts\` must be 1-20; got ${maxAttempts}`);
        if (!Number.isInteger(agentWaitSeconds) || agentWaitSeconds < 60 || agentWaitSeconds > 43200) fail(`\`agentWaitSeconds\` must be 60-43200 (seconds); got ${agentWaitSeconds}`);
        if (!Number.isInteger(maximumConcurrency) || maximumConcurrency < 2 || maximumConcurrency > 1000) fail(`\`maximumConcurrency\` must be 2-1000; got ${maximumConcurrency}`);
        if (!RETENTION_DAYS.includes(retention)) fail(`\`logRetentionDays\` must be one of ${RETENTION_DAYS.join(", ")}; got ${retention}`);
        const rp = runtimeProblem(runtime);
        if (rp) fail(rp);
        if (!Number.isInteger(timeout) || timeout < 1 || timeout > 900) fail(`\`timeoutSeconds\` must be 1-900; got ${timeout}`);
        if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10240) fail(`\`memorySize\` must be 128-10240; got ${memorySize}`);
        const nameProblem = provisionerNameProblem(name);
        if (nameProblem) fail(nameProblem);
        const schedule = args.driftCorrectionSchedule === "" ? undefined : args.driftCorrectionSchedule;
        if (schedule !== undefined) {
            const bad = driftScheduleError(schedule);
            if (bad) fail(bad);
        }
        const revokeOnDestroy = args.revokeOnDestroy ?? true;
        if (typeof revokeOnDestroy !== "boolean") fail(`\`revokeOnDestroy\` must be true or false; got ${JSON.stringify(revokeOnDestroy)}`);
        const visibility = queueVisibilitySeconds(timeout, windowSeconds);
        const codePath = args.codePath ?? provisionerCodePath();
        if (!fs.existsSync(codePath)) {
            throw new pulumi.ResourceError(`Provisioner: the Lambda bundle \`codePath\` ${codePath} does not exist; run \`npm run build\` (or \`node scripts/bundle-lambda.js\`) in the pka-fleet package, or point \`codePath\` at a built provisioner.js`, this);
        }

        const accessPath = pulumi.output(args.accessParameterPath).apply((p) => {
            if (!isParameterPath(p)) fail(`\`accessParameterPath\` must be a parameter path like /pka/<fleet>/access; got ${p}`);
            return p;
        });
        const overlap = (kh: string, ap: string) => {
            if (parameterPathsOverlap(kh, ap)) {
                fail(`\`knownHostsPath\` ${kh} overlaps \`accessParameterPath\` ${ap}: the Lambda may write under knownHostsPath, so it could rewrite the access spec; use disjoint paths such as /pka/<fleet>/known_hosts and /pka/<fleet>/access`);
            }
            const marker = deployedMarkerName(ap);
            if (parameterPathsOverlap(kh, marker)) {
                fail(`\`knownHostsPath\` ${kh} overlaps the deployed marker parameter ${marker} (\`accessParameterPath\` + "-deployed", kept while the fleet is deployed for \`revokeOnDestroy\`): the marker must stand apart from every path the Lambda writes (\`<knownHostsPath>/*\`); use a path such as /pka/<fleet>/known_hosts`);
            }
        };
        // Plain strings are checked now, before any child is registered; Outputs when they resolve.
        if (typeof args.knownHostsPath === "string" && typeof args.accessParameterPath === "string") overlap(args.knownHostsPath, args.accessParameterPath);
        const checkHash = (h: unknown) => {
            if (typeof h !== "string" || !/^[0-9a-f]{64}$/.test(h)) fail(`\`accessSpecHash\` must be the 64 lower-case hex accessSpecHash of the stored spec; got ${JSON.stringify(h)}`);
        };
        if (typeof args.accessSpecHash === "string") checkHash(args.accessSpecHash);
        if (args.accessSpecHash === undefined) fail("`accessSpecHash` is required: the accessSpecHash of the spec stored at `accessParameterPath`, pinned in the Lambda so only a deploy can change who has access");
        const knownHostsPath = pulumi
            .all([args.knownHostsPath ?? accessPath.apply((p) => `${p.slice(0, p.lastIndexOf("/")) || ""}/known_hosts`), accessPath])
            .apply(([p, ap]) => {
                if (!isParameterPath(p)) fail(`\`knownHostsPath\` must be a parameter path like /pka/<fleet>/known_hosts; got ${p}`);
                overlap(p, ap);
                return p;
            });
        const specHash = pulumi.output(args.accessSpecHash).apply((h) => {
            checkHash(h);
            return h;
        });
        const tagKey = pulumi.output(args.targetTag.key).apply((k) => {
            if (!k || k.includes("=") || k.toLowerCase().startsWith("aws:")) fail(`\`targetTag.key\` must be a tag key without '=' and not aws:*; got ${JSON.stringify(k)}`);
            return k;
        });
        const tagValue = pulumi.output(args.targetTag.value);
        const documentName = pulumi.output(args.documentName);
        // Region, account and partition: from the document ARN when given (no provider call), else from the provider.
        const where: pulumi.Output<{ partition: string; region: string; account: string }> = args.documentArn
            ? pulumi.output(args.documentArn).apply((arn) => {
                  const [, partition, , region, account] = arn.split(":");
                  if (!partition || !region || !account) fail(`\`documentArn\` is not an SSM document ARN: ${arn}`);
                  return { partition, region, account };
              })
            : pulumi
                  .all([aws.getPartitionOutput({}, { parent: this }), aws.getRegionOutput({}, { parent: this }), aws.getCallerIdentityOutput({}, { parent: this })])
                  .apply(([p, r, c]) => ({ partition: p.partition, region: String(r.region ?? r.name), account: c.accountId }));
        const documentArn = args.documentArn
            ? pulumi.output(args.documentArn)
            : pulumi.all([where, documentName]).apply(([w, n]) => `arn:${w.partition}:ssm:${w.region}:${w.account}:document/${n}`);
        const tags = args.tags;
        if (tags && typeof tags === "object" && !pulumi.Output.isInstance(tags)) {
            const problem = tagsProblem(tags as Record<string, unknown>);
            if (problem) fail(`\`tags\` ${problem}`);
        }
        if (Array.isArray(args.alarmActions) && args.alarmActions.length > 5) {
            // CloudWatch API Reference, PutMetricAlarm: AlarmActions takes at most 5.
            fail(`\`alarmActions\` has ${args.alarmActions.length} ARNs; a CloudWatch alarm takes at most 5`);
        }
        const child = { parent: this };

        // ---- queues ----
        const dlq = new aws.sqs.Queue(`${name}-dlq`, { messageRetentionSeconds: 1209600, sqsManagedSseEnabled: true, tags }, child);
        const queue = new aws.sqs.Queue(
            `${name}-queue`,
            {
                visibilityTimeoutSeconds: visibility,
                messageRetentionSeconds: 345600,
                sqsManagedSseEnabled: true,
                redrivePolicy: dlq.arn.apply((arn) => JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount })),
                tags,
            },
            child,
        );

        // The wait queue: FIFO with one message group, so one invocation at a time looks at every instance whose
        // agent is not online yet and fills each SendCommand (core/provisionerDefaults.ts WAIT_CYCLE_SECONDS).
        // A FIFO queue's dead-letter queue must be FIFO too.
        const waitDlq = new aws.sqs.Queue(`${name}-wait-dlq`, { fifoQueue: true, messageRetentionSeconds: 1209600, sqsManagedSseEnabled: true, tags }, child);
        const waitQueue = new aws.sqs.Queue(
            `${name}-wait`,
            {
                fifoQueue: true,
                contentBasedDeduplication: false,
                visibilityTimeoutSeconds: queueVisibilitySeconds(timeout, 0),
                messageRetentionSeconds: 345600,
                sqsManagedSseEnabled: true,
                redrivePolicy: waitDlq.arn.apply((arn) => JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount })),
                tags,
            },
            child,
        );

        // ---- rules -> queue ----
        // Each pattern depends only on what it uses (a constant stays a plain value).
        const fleet = pulumi.output(args.fleetName ?? args.targetTag.value);
        const patterns = provisionerRules(triggers).map((r) => ({
            ...r,
            pattern:
                r.uses === "nothing" ? pulumi.output(r.pattern("", "")) : r.uses === "fleet" ? fleet.apply((f) => r.pattern("", f)) : documentName.apply((d) => r.pattern(d, "")),
        }));
        const rules = patterns.map(
            (p) => new aws.cloudwatch.EventRule(`${name}-${p.key}`, { description: `pka-fleet: ${p.description}`, eventPattern: p.pattern.apply((x) => JSON.stringify(x)), tags }, child),
        );
        // Drift correction: a scheduled rule whose target sends a constant push (no spec hash: the Lambda
        // serves the spec it pins), so a spec change never updates the rule or its target.
        const driftRule =
            schedule === undefined
                ? undefined
                : new aws.cloudwatch.EventRule(`${name}-drift`, { description: "pka-fleet: drift correction: push the pinned spec to every online tagged instance", scheduleExpression: schedule, tags }, child);
        const allRules = driftRule ? [...rules, driftRule] : rules;
        const ruleArns = pulumi.all(allRules.map((r) => r.arn));
        const role = new aws.iam.Role(
            `${name}-role`,
            {
                assumeRolePolicy: JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
                }),
                tags,
            },
            child,
        );
        const queuePolicy = new aws.sqs.QueuePolicy(`${name}-queue-policy`, { queueUrl: queue.url, policy: pulumi.all([queue.arn, ruleArns, role.arn]).apply(([q, r, roleArn]) => eventBridgeQueuePolicy(q, r, [roleArn])) }, child);
        new aws.sqs.QueuePolicy(`${name}-wait-policy`, { queueUrl: waitQueue.url, policy: pulumi.all([waitQueue.arn, role.arn]).apply(([q, roleArn]) => ownRoleOnlyQueuePolicy(q, roleArn)) }, child);
        // Events EventBridge cannot deliver (after its retries) land in the same DLQ instead of being dropped; the Lambda
        // (its role) sends the reasons of what it gives up on.
        const dlqPolicy = new aws.sqs.QueuePolicy(
            `${name}-dlq-policy`,
            { queueUrl: dlq.url, policy: pulumi.all([dlq.arn, ruleArns, role.arn]).apply(([q, r, roleArn]) => eventBridgeQueuePolicy(q, r, [roleArn])) },
            child,
        );
        // Every rule's one target: the queue. The id is explicit (PutTargets Id: at most 64 characters, unique
        // within its rule only, so every rule uses the same one).
        const queueTarget = (key: string, rule: aws.cloudwatch.EventRule, input?: pulumi.Input<string>) =>
            new aws.cloudwatch.EventTarget(
                `${name}-${key}-target`,
                {
                    rule: rule.name,
                    targetId: QUEUE_TARGET_ID,
                    arn: queue.arn,
                    ...(input !== undefined ? { input } : {}),
                    deadLetterConfig: { arn: dlq.arn },
                    retryPolicy: { maximumEventAgeInSeconds: 86400, maximumRetryAttempts: 185 },
                },
                { parent: this, dependsOn: [queuePolicy, dlqPolicy] },
            );
        rules.forEach((r, i) => queueTarget(patterns[i].key, r));
        if (driftRule) queueTarget("drift", driftRule, fleet.apply(driftPushInput));

        // ---- the Lambda ----
        const logGroup = new aws.cloudwatch.LogGroup(`${name}-logs`, { retentionInDays: retention, tags }, child);
        const rolePolicy = new aws.iam.RolePolicy(
            `${name}-policy`,
            {
                role: role.name,
                policy: pulumi
                    .all([where, documentArn, tagKey, tagValue, accessPath, knownHostsPath, logGroup.arn, pulumi.all([queue.arn, dlq.arn, waitQueue.arn])])
                    .apply(([w, doc, k, v, ap, kh, lg, [q, d, wq]]) =>
                        JSON.stringify(
                            buildProvisionerPolicy({
                                ...w,
                                documentArn: doc,
                                tagKey: k,
                                tagValue: v,
                                accessParameterPath: ap,
                                knownHostsPath: kh,
                                logGroupArn: lg,
                                queueArn: q,
                                dlqArn: d,
                                waitQueueArn: wq,
                                deployedMarker: deployedMarkerName(ap),
                            }),
                        ),
                    ),
            },
            child,
        );
        // What the component itself waits for (the access parameters the caller writes).
        // ComponentResourceOptions.dependsOn is Input<Input<Resource>[]> | Input<Resource>: a
        // resource, a list, or an Output/Promise of either (with Outputs/Promises inside a list).
        // pulumi.output resolves every form (it keeps Resources as they are), so the function and
        // the push wait on exactly what the caller passed, however it was passed.
        const callerDependsOn: pulumi.Output<pulumi.Resource[]> = pulumi
            .output((opts?.dependsOn ?? []) as pulumi.Input<pulumi.Input<pulumi.Resource>[]> | pulumi.Input<pulumi.Resource>)
            .apply((d) => (Array.isArray(d) ? d : [d]) as pulumi.Resource[]);
        const variables: Record<string, pulumi.Input<string>> = {
            PKA_DOCUMENT_NAME: documentName,
            PKA_TARGET_TAG: pulumi.interpolate`${tagKey}=${tagValue}`,
            PKA_ACCESS_PARAMETER: accessPath,
            PKA_ACCESS_SPEC_SHA256: specHash,
            PKA_KNOWN_HOSTS_PATH: knownHostsPath,
            PKA_DEAD_LETTER_QUEUE_URL: dlq.url,
            PKA_MAX_ATTEMPTS: String(maxAttempts),
            PKA_WAIT_QUEUE_URL: waitQueue.url,
            PKA_QUEUE_URL: queue.url,
            PKA_AGENT_WAIT_SECONDS: String(agentWaitSeconds),
        };
        if (args.keyRules) variables.PKA_KEY_RULES = JSON.stringify(keyRules);
        // The marker's name, not the marker resource: the marker is created after the offboarding Invocation, which needs the function.
        const markerName = pulumi.all([accessPath, knownHostsPath]).apply(([ap]) => deployedMarkerName(ap));
        variables.PKA_DEPLOYED_MARKER = markerName;
        const fn = new aws.lambda.Function(
            `${name}-fn`,
            {
                description: "pka-fleet provisioner: SQS batches of EventBridge events -> SSM SendCommand on tagged instances",
                runtime,
                handler: "provisioner.handler",
                code: new pulumi.asset.AssetArchive({ "provisioner.js": new pulumi.asset.FileAsset(codePath) }),
                role: role.arn,
                timeout,
                memorySize,
                environment: { variables },
                loggingConfig: { logFormat: "JSON", logGroup: logGroup.name },
                tags,
            },
            // After what the caller waits for (the access parameters it writes): the new pin goes live once the spec it names is stored.
            { parent: this, dependsOn: callerDependsOn.apply((d) => [rolePolicy, logGroup, ...d]) },
        );
        const mapping = new aws.lambda.EventSourceMapping(
            `${name}-mapping`,
            {
                eventSourceArn: queue.arn,
                functionName: fn.arn,
                batchSize,
                maximumBatchingWindowInSeconds: windowSeconds,
                functionResponseTypes: ["ReportBatchItemFailures"],
                scalingConfig: { maximumConcurrency },
            },
            { parent: this, dependsOn: [rolePolicy] },
        );

        // The wait queue: batches of at most 10 and no batching window (Lambda's SQS parameters for FIFO queues).
        new aws.lambda.EventSourceMapping(
            `${name}-wait-mapping`,
            { eventSourceArn: waitQueue.arn, functionName: fn.arn, batchSize: FIFO_BATCH_MAX, functionResponseTypes: ["ReportBatchItemFailures"] },
            { parent: this, dependsOn: [rolePolicy] },
        );

        // An alarm on each dead-letter queue: any message there is an instance or an event given up on.
        const dlqAlarm = (suffix: string, queueName: pulumi.Output<string>, alarmDescription: string) =>
            new aws.cloudwatch.MetricAlarm(
                `${name}-${suffix}`,
                {
                    alarmDescription,
                    namespace: "AWS/SQS",
                    metricName: "ApproximateNumberOfMessagesVisible",
                    dimensions: { QueueName: queueName },
                    statistic: "Maximum",
                    period: 300,
                    evaluationPeriods: 1,
                    threshold: 0,
                    comparisonOperator: "GreaterThanThreshold",
                    treatMissingData: "notBreaching",
                    alarmActions: args.alarmActions ?? [],
                    tags,
                },
                child,
            );
        dlqAlarm("wait-dlq-alarm", waitDlq.name, "pka-fleet: wait messages could not be handled (messages in the wait queue's dead-letter queue): instances may be waiting for access");
        const alarm = dlqAlarm("dlq-alarm", dlq.name, "pka-fleet: instances or events could not be provisioned (messages in the dead-letter queue)");

        // ---- push on change: the same deploy re-provisions every online tagged instance ----
        if (triggers.includes("push")) {
            const hash = pulumi.all([specHash, fleet]);
            const pushDependsOn = callerDependsOn.apply((d) => [fn, mapping, rolePolicy, ...d]);
            new aws.lambda.Invocation(
                `${name}-push`,
                {
                    functionName: fn.name,
                    // SQS-shaped, so the handler takes one code path; eventSource marks it as direct (no redelivery: it throws on failure).
                    input: hash.apply(([h, f]) =>
                        JSON.stringify({
                            Records: [{ messageId: `pka-push-${h.slice(0, 16)}`, eventSource: "pka-fleet:deploy", body: JSON.stringify(pushEvent({ reason: "access-spec-changed", specHash: h, fleet: f })) }],
                        }),
                    ),
                    triggers: { accessSpecHash: specHash },
                },
                { parent: this, dependsOn: pushDependsOn },
            );
        }

        // ---- offboarding on destroy ----
        // A CRUD Invocation: the provider invokes the function on create and update (nothing to do) and, when the
        // Invocation is deleted, with tf.action "delete": then the function revokes every user on the fleet's online
        // tagged instances, but only if the marker below is gone. The marker depends on the Invocation, so a
        // destroy deletes the marker first and the Invocation after it; a replaced Invocation leaves the marker
        // in place, and nothing is revoked. The Invocation waits on the function, its role policy (still needed
        // while its delete runs) and its log group, so those are deleted after it. Its input is constant per
        // fleet: a spec change never invokes it.
        // The marker exists whether or not revokeOnDestroy is on: turning it off deletes only the Invocation, whose
        // delete then finds the marker standing and revokes nothing.
        const offboard = revokeOnDestroy
            ? new aws.lambda.Invocation(
                  `${name}-offboard`,
                  { functionName: fn.name, lifecycleScope: "CRUD", input: fleet.apply(offboardInvocationInput) },
                  { parent: this, dependsOn: [fn, rolePolicy, logGroup] },
              )
            : undefined;
        {
            new aws.ssm.Parameter(
                `${name}-deployed`,
                {
                    name: markerName,
                    type: "String",
                    tier: "Standard",
                    insecureValue: fleet.apply((f) => `pka-fleet ${f}: the provisioner is deployed (deleting this parameter arms the revocation on destroy; do not edit)`),
                    description: "pka-fleet: exists while the provisioner is deployed; the offboarding revokes access on destroy only once it is gone (revokeOnDestroy)",
                    tags,
                },
                { parent: this, dependsOn: offboard ? [offboard] : [] },
            );
        }

        this.queueUrl = queue.url;
        this.queueArn = queue.arn;
        this.dlqUrl = dlq.url;
        this.dlqArn = dlq.arn;
        this.waitQueueUrl = waitQueue.url;
        this.waitDlqUrl = waitDlq.url;
        this.functionName = fn.name;
        this.functionArn = fn.arn;
        this.roleArn = role.arn;
        this.ruleNames = pulumi.all(allRules.map((r) => r.name));
        this.alarmName = alarm.name;
        this.logGroupName = logGroup.name;
        this.registerOutputs({
            queueUrl: this.queueUrl,
            queueArn: this.queueArn,
            dlqUrl: this.dlqUrl,
            dlqArn: this.dlqArn,
            waitQueueUrl: this.waitQueueUrl,
            waitDlqUrl: this.waitDlqUrl,
            functionName: this.functionName,
            functionArn: this.functionArn,
            roleArn: this.roleArn,
            ruleNames: this.ruleNames,
            alarmName: this.alarmName,
            logGroupName: this.logGroupName,
        });
    }
}
