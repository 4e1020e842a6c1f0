/**
 * The Provisioner's arguments, checked and defaulted before any resource exists: the names Pulumi
 * derives for its children, tags, the Lambda runtime, and every limit AWS sets on what it deploys.
 * Values a program may give as Outputs are checked by the same functions once they are known.
 */
import { isKmsCaKeyLine, KMS_KEY_ARN } from "./certAuthorityKms";
import { HOST_CERT_VALIDITY } from "./lambdaConfig";
import * as fs from "fs";
import { isParameterPath, parameterPathsOverlap } from "./accessStore";
import { ALL_TRIGGERS, Trigger } from "./events";
import { checkKeyRuleArgs, FleetKeyRules } from "./keyRuleArgs";
import { KeyRules } from "./keys";
import { provisionerCodePath } from "./lambdaBundle";
import { PROVISIONER_DEFAULTS, queueVisibilitySeconds } from "./provisionerDefaults";
import { driftScheduleError } from "./provisionerSchedule";
import { defaultNodeRuntime, RUNTIME_CALENDAR, runtimeDeprecation } from "./runtimes";

/** CloudWatch Logs retention values (days): what `logRetentionDays` may be. */
export const RETENTION_DAYS: readonly number[] = Object.freeze([
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
]);

// ---- names ----

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
export const PROVISIONER_AUTONAMES: readonly {
    readonly suffix: string;
    readonly what: string;
    readonly max: number;
}[] = Object.freeze([
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
            const fits = Math.min(
                ...PROVISIONER_AUTONAMES.map((m) => m.max - 1 - m.suffix.length - AUTONAME_SUFFIX_LENGTH),
            );
            return `the resource name "${name}" is ${name.length} characters: its ${n.what} would be named \`${name}-${n.suffix}-<7 random hex>\` (${length} characters), over AWS's limit of ${n.max}; use a resource name of at most ${fits} characters`;
        }
    }
    return undefined;
}

/** The deployed marker parameter of a Provisioner with `revokeOnDestroy` (a sibling of the access path, never under it). */
export function deployedMarkerName(accessParameterPath: string): string {
    return `${accessParameterPath.replace(/\/+$/, "")}-deployed`;
}

// ---- tags and runtime ----

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

/** Node.js runtimes and the day AWS deprecates them: the Node.js part of core/runtimes.ts's calendar, which the policy pack's lambda-runtime-supported rule uses too. */
export const NODE_RUNTIME_DEPRECATION: Readonly<Record<string, string>> = Object.fromEntries(
    Object.entries(RUNTIME_CALENDAR)
        .filter(([r]) => r.startsWith("nodejs"))
        .map(([r, e]) => [r, e.deprecated]),
);

/**
 * Why `runtime` is refused, or undefined. Only Node.js runs the bundle; deprecated runtimes get no
 * security patches. "Deprecated" is the policy pack's default judgement (core/runtimes.ts), so a
 * Provisioner never deploys what `lambda-runtime-supported` would refuse.
 */
export function runtimeProblem(runtime: string, now = new Date()): string | undefined {
    if (!/^nodejs\d+\.x$/.test(runtime)) {
        return `\`runtime\` must be a Node.js runtime such as nodejs22.x (the handler is a JavaScript bundle); got ${runtime}`;
    }
    const dep = runtimeDeprecation(runtime, { now });
    if (dep) {
        return `\`runtime\` ${runtime} is deprecated by AWS${dep.since ? ` since ${dep.since}` : ""}; use ${dep.successor === "nodejs22.x" ? "nodejs22.x or nodejs24.x" : dep.successor}`;
    }
    return undefined;
}

// ---- values known at deployment: checked now when plain, else once they resolve ----

/** Why `accessParameterPath` is refused, or undefined. */
export function accessPathProblem(p: string): string | undefined {
    if (isParameterPath(p)) return undefined;
    return `\`accessParameterPath\` must be a parameter path like /pka/<fleet>/access; got ${p}`;
}

/** Why `knownHostsPath` is refused, or undefined. */
export function knownHostsPathProblem(p: string): string | undefined {
    if (isParameterPath(p)) return undefined;
    return `\`knownHostsPath\` must be a parameter path like /pka/<fleet>/known_hosts; got ${p}`;
}

/** The default `knownHostsPath`: the access path's parent + `/known_hosts`. */
export function defaultKnownHostsPath(accessParameterPath: string): string {
    return `${accessParameterPath.slice(0, accessParameterPath.lastIndexOf("/")) || ""}/known_hosts`;
}

/** The default host-certificate path: the access path's parent + `/host_certificates`. */
export function defaultHostCertificatePath(accessParameterPath: string): string {
    return `${accessParameterPath.slice(0, accessParameterPath.lastIndexOf("/")) || ""}/host_certificates`;
}

/** Why the host-certificate settings cannot be deployed (the Lambda's own reading refuses the same), or undefined. */
export function hostCertificatesProblem(h: {
    kmsKeyArn: string;
    caPublicKey: string;
    path: string;
    knownHostsPath: string;
    accessPath: string;
}): string | undefined {
    if (!KMS_KEY_ARN.test(h.kmsKeyArn))
        return `\`hostCertificates.kmsKeyArn\` must be a KMS key ARN (SshCertificateAuthority \`kmsKeyArn\`); got ${JSON.stringify(h.kmsKeyArn)}`;
    if (!isKmsCaKeyLine(h.caPublicKey.trim(), true))
        return "`hostCertificates.caPublicKey` must be the KMS host CA's public key (`ecdsa-sha2-nistpNNN AAAA...`, SshCertificateAuthority `publicKey`)";
    if (!isParameterPath(h.path))
        return `\`hostCertificates.path\` must be a parameter path like /pka/<fleet>/host_certificates; got ${h.path}`;
    for (const [what, other] of [
        ["knownHostsPath", h.knownHostsPath],
        ["accessParameterPath", h.accessPath],
        ["the deployed marker", deployedMarkerName(h.accessPath)],
    ])
        if (parameterPathsOverlap(h.path, other))
            return `\`hostCertificates.path\` ${h.path} overlaps ${what} ${other}: the Lambda writes under it; use disjoint paths such as /pka/<fleet>/host_certificates`;
    return undefined;
}

/** Why `knownHostsPath` `kh` may not stand beside `accessParameterPath` `ap` (the Lambda writes under `kh`), or undefined. */
export function pathsOverlapProblem(kh: string, ap: string): string | undefined {
    if (parameterPathsOverlap(kh, ap)) {
        return `\`knownHostsPath\` ${kh} overlaps \`accessParameterPath\` ${ap}: the Lambda may write under knownHostsPath, so it could rewrite the access spec; use disjoint paths such as /pka/<fleet>/known_hosts and /pka/<fleet>/access`;
    }
    const marker = deployedMarkerName(ap);
    if (parameterPathsOverlap(kh, marker)) {
        return `\`knownHostsPath\` ${kh} overlaps the deployed marker parameter ${marker} (\`accessParameterPath\` + "-deployed", kept while the fleet is deployed for \`revokeOnDestroy\`): the marker must stand apart from every path the Lambda writes (\`<knownHostsPath>/*\`); use a path such as /pka/<fleet>/known_hosts`;
    }
    return undefined;
}

/** Why `accessSpecHash` is refused, or undefined. */
export function specHashProblem(h: unknown): string | undefined {
    if (typeof h === "string" && /^[0-9a-f]{64}$/.test(h)) return undefined;
    return `\`accessSpecHash\` must be the 64 lower-case hex accessSpecHash of the stored spec; got ${JSON.stringify(h)}`;
}

/** Why `targetTag.key` is refused, or undefined. */
export function tagKeyProblem(k: string): string | undefined {
    if (k && !k.includes("=") && !k.toLowerCase().startsWith("aws:")) return undefined;
    return `\`targetTag.key\` must be a tag key without '=' and not aws:*; got ${JSON.stringify(k)}`;
}

/** Partition, region and account of an SSM document ARN, or the refusal of `documentArn`. */
export function documentArnParts(arn: string): { partition: string; region: string; account: string } | string {
    const [, partition, , region, account] = arn.split(":");
    if (!partition || !region || !account) return `\`documentArn\` is not an SSM document ARN: ${arn}`;
    return { partition, region, account };
}

// ---- the plan ----

/**
 * The Provisioner's args as its planner reads them. Values a program may give as Outputs are
 * `unknown` here: a plain value is checked now, anything else once it is known. `tags` is
 * checked only when it is a plain object (the component passes no Output here).
 */
export interface ProvisionerPlanInput {
    readonly accessParameterPath?: unknown;
    readonly knownHostsPath?: unknown;
    readonly accessSpecHash?: unknown;
    readonly triggers?: readonly Trigger[];
    readonly batchSize?: number;
    readonly batchingWindowSeconds?: number;
    readonly maxReceiveCount?: number;
    readonly maxAttempts?: number;
    readonly agentWaitSeconds?: number;
    readonly maximumConcurrency?: number;
    readonly logRetentionDays?: number;
    readonly runtime?: string;
    readonly timeoutSeconds?: number;
    readonly memorySize?: number;
    readonly codePath?: string;
    readonly alarmActions?: unknown;
    readonly keyRules?: FleetKeyRules;
    readonly tags?: unknown;
    readonly driftCorrectionSchedule?: string;
    readonly revokeOnDestroy?: boolean;
    readonly hostCertificates?: { readonly validitySeconds?: unknown };
}

/** The Provisioner's checked settings, defaults applied: everything it deploys that is known now. */
export interface ProvisionerPlan {
    triggers: readonly Trigger[];
    batchSize: number;
    windowSeconds: number;
    maxReceiveCount: number;
    maxAttempts: number;
    maximumConcurrency: number;
    agentWaitSeconds: number;
    retention: number;
    runtime: string;
    timeout: number;
    memorySize: number;
    keyRules: Partial<KeyRules>;
    /** The drift-correction schedule; undefined: off. */
    schedule?: string;
    revokeOnDestroy: boolean;
    /** The main queue's visibility timeout (s). */
    visibility: number;
    /** The wait queue's visibility timeout (s): no batching window there. */
    waitVisibility: number;
    /** The Lambda bundle. */
    codePath: string;
}

/** A Provisioner argument that cannot be deployed; the message names the input. */
export class ProvisionerArgsError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ProvisionerArgsError";
    }
}

/** The limits of the queue, the event source mapping and the function, in the order they are checked. */
function limitsProblem(p: ProvisionerPlan): string | undefined {
    const int = (v: number, lo: number, hi: number) => Number.isInteger(v) && v >= lo && v <= hi;
    const bad = p.triggers.find((t) => !ALL_TRIGGERS.includes(t));
    if (bad !== undefined) return `\`triggers\` may contain ${ALL_TRIGGERS.join(", ")}; got ${bad}`;
    if (!int(p.batchSize, 1, 10000)) return `\`batchSize\` must be 1-10000; got ${p.batchSize}`;
    if (!int(p.windowSeconds, 0, 300)) return `\`batchingWindowSeconds\` must be 0-300; got ${p.windowSeconds}`;
    if (p.batchSize > 10 && p.windowSeconds < 1) {
        return "`batchingWindowSeconds` must be at least 1 when `batchSize` is over 10 (an SQS event source rule)";
    }
    if (!int(p.maxReceiveCount, 1, 1000)) return `\`maxReceiveCount\` must be 1-1000; got ${p.maxReceiveCount}`;
    if (!int(p.maxAttempts, 1, 20)) return `\`maxAttempts\` must be 1-20; got ${p.maxAttempts}`;
    if (!int(p.agentWaitSeconds, 60, 43200)) {
        return `\`agentWaitSeconds\` must be 60-43200 (seconds); got ${p.agentWaitSeconds}`;
    }
    if (!int(p.maximumConcurrency, 2, 1000)) {
        return `\`maximumConcurrency\` must be 2-1000; got ${p.maximumConcurrency}`;
    }
    if (!RETENTION_DAYS.includes(p.retention)) {
        return `\`logRetentionDays\` must be one of ${RETENTION_DAYS.join(", ")}; got ${p.retention}`;
    }
    const rp = runtimeProblem(p.runtime);
    if (rp) return rp;
    if (!int(p.timeout, 1, 900)) return `\`timeoutSeconds\` must be 1-900; got ${p.timeout}`;
    if (!int(p.memorySize, 128, 10240)) return `\`memorySize\` must be 128-10240; got ${p.memorySize}`;
    return undefined;
}

/** What only the arguments themselves can refuse (name, schedule, bundle, plain paths, hash, tags, alarm actions). */
function argsProblem(name: string, args: ProvisionerPlanInput, p: ProvisionerPlan): string | undefined {
    const nameProblem = provisionerNameProblem(name);
    if (nameProblem) return nameProblem;
    if (p.schedule !== undefined) {
        const bad = driftScheduleError(p.schedule);
        if (bad) return bad;
    }
    if (typeof p.revokeOnDestroy !== "boolean") {
        return `\`revokeOnDestroy\` must be true or false; got ${JSON.stringify(p.revokeOnDestroy)}`;
    }
    if (!fs.existsSync(p.codePath)) {
        return `Provisioner: the Lambda bundle \`codePath\` ${p.codePath} does not exist; run \`npm run build\` (or \`node scripts/bundle-lambda.js\`) in the pka-fleet package, or point \`codePath\` at a built provisioner.js`;
    }
    if (typeof args.knownHostsPath === "string" && typeof args.accessParameterPath === "string") {
        const overlap = pathsOverlapProblem(args.knownHostsPath, args.accessParameterPath);
        if (overlap) return overlap;
    }
    if (typeof args.accessSpecHash === "string") {
        const bad = specHashProblem(args.accessSpecHash);
        if (bad) return bad;
    }
    if (args.accessSpecHash === undefined) {
        return "`accessSpecHash` is required: the accessSpecHash of the spec stored at `accessParameterPath`, pinned in the Lambda so only a deploy can change who has access";
    }
    if (args.tags && typeof args.tags === "object") {
        const problem = tagsProblem(args.tags as Record<string, unknown>);
        if (problem) return `\`tags\` ${problem}`;
    }
    const validity = args.hostCertificates?.validitySeconds;
    if (
        validity !== undefined &&
        (typeof validity !== "number" ||
            !Number.isInteger(validity) ||
            validity < HOST_CERT_VALIDITY.min ||
            validity > HOST_CERT_VALIDITY.max)
    ) {
        return `\`hostCertificates.validitySeconds\` must be a whole number of seconds from ${HOST_CERT_VALIDITY.min} (1 hour) to ${HOST_CERT_VALIDITY.max} (400 days, the policy pack's host bound); got ${JSON.stringify(validity)}`;
    }
    if (Array.isArray(args.alarmActions) && args.alarmActions.length > 5) {
        // CloudWatch API Reference, PutMetricAlarm: AlarmActions takes at most 5.
        return `\`alarmActions\` has ${args.alarmActions.length} ARNs; a CloudWatch alarm takes at most 5`;
    }
    return undefined;
}

/**
 * Checks the Provisioner's args (pure but for the bundle's existence) and applies the defaults.
 * Throws a ProvisionerArgsError naming the input; values known only at deployment are left to the
 * component, which checks them with the functions above once they resolve.
 */
export function planProvisioner(name: string, args: ProvisionerPlanInput): ProvisionerPlan {
    const d = PROVISIONER_DEFAULTS;
    const timeout = args.timeoutSeconds ?? d.timeoutSeconds;
    const windowSeconds = args.batchingWindowSeconds ?? d.batchingWindowSeconds;
    const plan: ProvisionerPlan = {
        triggers: args.triggers ?? ALL_TRIGGERS,
        batchSize: args.batchSize ?? d.batchSize,
        windowSeconds,
        maxReceiveCount: args.maxReceiveCount ?? d.maxReceiveCount,
        maxAttempts: args.maxAttempts ?? d.maxAttempts,
        maximumConcurrency: args.maximumConcurrency ?? d.maximumConcurrency,
        agentWaitSeconds: args.agentWaitSeconds ?? d.agentWaitSeconds,
        retention: args.logRetentionDays ?? 30,
        runtime: args.runtime ?? defaultNodeRuntime(),
        timeout,
        memorySize: args.memorySize ?? d.memorySize,
        keyRules: {},
        schedule: args.driftCorrectionSchedule === "" ? undefined : args.driftCorrectionSchedule,
        revokeOnDestroy: args.revokeOnDestroy ?? true,
        visibility: queueVisibilitySeconds(timeout, windowSeconds),
        waitVisibility: queueVisibilitySeconds(timeout, 0),
        codePath: args.codePath ?? provisionerCodePath(),
    };
    try {
        plan.keyRules = checkKeyRuleArgs(args.keyRules);
    } catch (e) {
        throw new ProvisionerArgsError((e as Error).message);
    }
    const problem = limitsProblem(plan) ?? argsProblem(name, args, plan);
    if (problem) throw new ProvisionerArgsError(problem);
    return plan;
}
