import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { isParameterPath, parameterPathsOverlap } from "../core/accessStore";
import { ALL_TRIGGERS, Trigger, provisionerRules, pushEvent } from "../core/events";
import { checkKeyRules, KeyRules } from "../core/keys";
import { provisionerCodePath } from "../core/lambdaBundle";
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
    /** Receives before a record goes to the DLQ: with the visibility timeout, the longest wait for a slow agent. Default `10`. */
    readonly maxReceiveCount?: number;
    /** Command runs per instance before it is dead-lettered with the reason (1-20). Default `3`. */
    readonly maxAttempts?: number;
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
}

/**
 * The Provisioner's children that AWS names: Pulumi auto-names each `<name>-<suffix>-<7 random hex>`
 * (`-` plus 7 characters: the AWS provider's auto-naming), and AWS refuses a name over its limit, so a
 * long resource name fails only in the middle of a deploy. Limits, from AWS's documentation:
 * SQS CreateQueue QueueName 80 characters; EventBridge PutRule Name 64; IAM CreateRole RoleName 64;
 * IAM PutRolePolicy PolicyName 128; CloudWatch Logs CreateLogGroup logGroupName 512; Lambda
 * CreateFunction FunctionName 64; CloudWatch PutMetricAlarm AlarmName 255. EventBridge target ids
 * (PutTargets Id, 64) are set explicitly, not auto-named.
 */
export const PROVISIONER_AUTONAMES: readonly { readonly suffix: string; readonly what: string; readonly max: number }[] = Object.freeze([
    { suffix: "queue", what: "SQS queue", max: 80 },
    { suffix: "dlq", what: "SQS queue", max: 80 },
    { suffix: "running", what: "EventBridge rule", max: 64 },
    { suffix: "association", what: "EventBridge rule", max: 64 },
    { suffix: "results", what: "EventBridge rule", max: 64 },
    { suffix: "push", what: "EventBridge rule", max: 64 },
    { suffix: "role", what: "IAM role", max: 64 },
    { suffix: "policy", what: "IAM role policy", max: 128 },
    { suffix: "logs", what: "CloudWatch log group", max: 512 },
    { suffix: "fn", what: "Lambda function", max: 64 },
    { suffix: "dlq-alarm", what: "CloudWatch alarm", max: 255 },
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
            { Sid: "PinHostKeys", Effect: "Allow", Action: "ssm:PutParameter", Resource: param(`${i.knownHostsPath}/*`) },
            // These three support no resource-level permissions (Service Authorization Reference): "*" is the only valid Resource.
            { Sid: "DescribeFleet", Effect: "Allow", Action: ["ssm:DescribeInstanceInformation", "ssm:GetCommandInvocation", "ec2:DescribeInstances"], Resource: "*" },
            { Sid: "ConsumeQueue", Effect: "Allow", Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"], Resource: i.queueArn },
            { Sid: "DeadLetter", Effect: "Allow", Action: "sqs:SendMessage", Resource: i.dlqArn },
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
 * The event-driven provisioner: EventBridge rules -> SQS queue (+ DLQ and an alarm) -> the bundled
 * Lambda -> SSM SendCommand on the fleet's tagged instances, with results fed back for retries,
 * dead-lettering and host-key pinning; and, when `accessSpecHash` changes, a push in the same deploy.
 */
export class Provisioner extends pulumi.ComponentResource {
    declare public readonly queueUrl: pulumi.Output<string>;
    declare public readonly queueArn: pulumi.Output<string>;
    declare public readonly dlqUrl: pulumi.Output<string>;
    declare public readonly dlqArn: pulumi.Output<string>;
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
        const batchSize = args.batchSize ?? 50;
        const windowSeconds = args.batchingWindowSeconds ?? 5;
        const maxReceiveCount = args.maxReceiveCount ?? 10;
        const maxAttempts = args.maxAttempts ?? 3;
        const maximumConcurrency = args.maximumConcurrency ?? 5;
        const retention = args.logRetentionDays ?? 30;
        const runtime = args.runtime ?? defaultNodeRuntime();
        const timeout = args.timeoutSeconds ?? 60;
        const memorySize = args.memorySize ?? 256;
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
        if (!Number.isInteger(maximumConcurrency) || maximumConcurrency < 2 || maximumConcurrency > 1000) fail(`\`maximumConcurrency\` must be 2-1000; got ${maximumConcurrency}`);
        if (!RETENTION_DAYS.includes(retention)) fail(`\`logRetentionDays\` must be one of ${RETENTION_DAYS.join(", ")}; got ${retention}`);
        const rp = runtimeProblem(runtime);
        if (rp) fail(rp);
        if (!Number.isInteger(timeout) || timeout < 1 || timeout > 900) fail(`\`timeoutSeconds\` must be 1-900; got ${timeout}`);
        if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10240) fail(`\`memorySize\` must be 128-10240; got ${memorySize}`);
        const nameProblem = provisionerNameProblem(name);
        if (nameProblem) fail(nameProblem);
        // AWS: the queue's visibility timeout at least 6x the function timeout (plus the batching window).
        const visibility = 6 * timeout + windowSeconds;
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
        const ruleArns = pulumi.all(rules.map((r) => r.arn));
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
        const queuePolicy = new aws.sqs.QueuePolicy(`${name}-queue-policy`, { queueUrl: queue.url, policy: pulumi.all([queue.arn, ruleArns]).apply(([q, r]) => eventBridgeQueuePolicy(q, r)) }, child);
        // Events EventBridge cannot deliver (after its retries) land in the same DLQ instead of being dropped; the Lambda
        // (its role) sends the reasons of what it gives up on.
        const dlqPolicy = new aws.sqs.QueuePolicy(
            `${name}-dlq-policy`,
            { queueUrl: dlq.url, policy: pulumi.all([dlq.arn, ruleArns, role.arn]).apply(([q, r, roleArn]) => eventBridgeQueuePolicy(q, r, [roleArn])) },
            child,
        );
        rules.forEach(
            (r, i) =>
                new aws.cloudwatch.EventTarget(
                    `${name}-${patterns[i].key}-target`,
                    { rule: r.name, targetId: QUEUE_TARGET_ID, arn: queue.arn, deadLetterConfig: { arn: dlq.arn }, retryPolicy: { maximumEventAgeInSeconds: 86400, maximumRetryAttempts: 185 } },
                    { parent: this, dependsOn: [queuePolicy, dlqPolicy] },
                ),
        );

        // ---- the Lambda ----
        const logGroup = new aws.cloudwatch.LogGroup(`${name}-logs`, { retentionInDays: retention, tags }, child);
        const rolePolicy = new aws.iam.RolePolicy(
            `${name}-policy`,
            {
                role: role.name,
                policy: pulumi
                    .all([where, documentArn, tagKey, tagValue, accessPath, knownHostsPath, logGroup.arn, pulumi.all([queue.arn, dlq.arn])])
                    .apply(([w, doc, k, v, ap, kh, lg, [q, d]]) =>
                        JSON.stringify(buildProvisionerPolicy({ ...w, documentArn: doc, tagKey: k, tagValue: v, accessParameterPath: ap, knownHostsPath: kh, logGroupArn: lg, queueArn: q, dlqArn: d })),
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
        };
        if (args.keyRules) variables.PKA_KEY_RULES = JSON.stringify(keyRules);
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

        const alarm = new aws.cloudwatch.MetricAlarm(
            `${name}-dlq-alarm`,
            {
                alarmDescription: "pka-fleet: instances or events could not be provisioned (messages in the dead-letter queue)",
                namespace: "AWS/SQS",
                metricName: "ApproximateNumberOfMessagesVisible",
                dimensions: { QueueName: dlq.name },
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

        this.queueUrl = queue.url;
        this.queueArn = queue.arn;
        this.dlqUrl = dlq.url;
        this.dlqArn = dlq.arn;
        this.functionName = fn.name;
        this.functionArn = fn.arn;
        this.roleArn = role.arn;
        this.ruleNames = pulumi.all(rules.map((r) => r.name));
        this.alarmName = alarm.name;
        this.logGroupName = logGroup.name;
        this.registerOutputs({
            queueUrl: this.queueUrl,
            queueArn: this.queueArn,
            dlqUrl: this.dlqUrl,
            dlqArn: this.dlqArn,
            functionName: this.functionName,
            functionArn: this.functionArn,
            roleArn: this.roleArn,
            ruleNames: this.ruleNames,
            alarmName: this.alarmName,
            logGroupName: this.logGroupName,
        });
    }
}
