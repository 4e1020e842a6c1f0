/**
 * The Provisioner's children, one function per part: here the queues, the rules with their targets
 * and the alarms; the Lambda, the push and the offboarding are in provisionerLambda.ts. Each takes
 * the Provisioner's checked plan and inputs (Wiring); the Provisioner calls them in order.
 */
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { driftPushInput, provisionerRules } from "../core/events";
import { ProvisionerPlan, QUEUE_TARGET_ID } from "../core/provisionerPlan";
import { eventBridgeQueuePolicy, lambdaAssumeRolePolicy, ownRoleOnlyQueuePolicy } from "../core/provisionerPolicy";

/** The Provisioner's inputs that may be Outputs, each checked once it is known. */
export interface CheckedInputs {
    accessPath: pulumi.Output<string>;
    knownHostsPath: pulumi.Output<string>;
    specHash: pulumi.Output<string>;
    tagKey: pulumi.Output<string>;
    tagValue: pulumi.Output<string>;
    documentName: pulumi.Output<string>;
    documentArn: pulumi.Output<string>;
    /** Region, account and partition. */
    where: pulumi.Output<{ partition: string; region: string; account: string }>;
    /** The fleet's name in push events. */
    fleet: pulumi.Output<string>;
    /** Host certificates, checked (the CA key without its comment). */
    hostCertificates?: pulumi.Output<{
        documentName: string;
        documentArn: string;
        kmsKeyArn: string;
        caPublicKey: string;
        path: string;
        validitySeconds?: number;
    }>;
}

/** What every part of the Provisioner is built from. */
export interface Wiring {
    name: string;
    owner: pulumi.ComponentResource;
    child: { parent: pulumi.ComponentResource };
    plan: ProvisionerPlan;
    tags: pulumi.Input<Record<string, pulumi.Input<string>>> | undefined;
    inputs: CheckedInputs;
    /** What the caller's `dependsOn` names (the access parameters it writes), however it was passed. */
    callerDependsOn: pulumi.Output<pulumi.Resource[]>;
}

export interface Queues {
    dlq: aws.sqs.Queue;
    queue: aws.sqs.Queue;
    waitDlq: aws.sqs.Queue;
    waitQueue: aws.sqs.Queue;
}

/** The queue and its DLQ; the wait queue (FIFO) and its DLQ. */
export function queues({ name, child, tags, plan }: Wiring): Queues {
    const dlq = new aws.sqs.Queue(
        `${name}-dlq`,
        { messageRetentionSeconds: 1209600, sqsManagedSseEnabled: true, tags },
        child,
    );
    const queue = new aws.sqs.Queue(
        `${name}-queue`,
        {
            visibilityTimeoutSeconds: plan.visibility,
            messageRetentionSeconds: 345600,
            sqsManagedSseEnabled: true,
            redrivePolicy: dlq.arn.apply((arn) =>
                JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: plan.maxReceiveCount }),
            ),
            tags,
        },
        child,
    );
    // The wait queue: FIFO with one message group, so one invocation at a time looks at every instance whose
    // agent is not online yet and fills each SendCommand (core/provisionerDefaults.ts WAIT_CYCLE_SECONDS).
    // A FIFO queue's dead-letter queue must be FIFO too.
    const waitDlq = new aws.sqs.Queue(
        `${name}-wait-dlq`,
        { fifoQueue: true, messageRetentionSeconds: 1209600, sqsManagedSseEnabled: true, tags },
        child,
    );
    const waitQueue = new aws.sqs.Queue(
        `${name}-wait`,
        {
            fifoQueue: true,
            contentBasedDeduplication: false,
            visibilityTimeoutSeconds: plan.waitVisibility,
            messageRetentionSeconds: 345600,
            sqsManagedSseEnabled: true,
            redrivePolicy: waitDlq.arn.apply((arn) =>
                JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: plan.maxReceiveCount }),
            ),
            tags,
        },
        child,
    );
    return { dlq, queue, waitDlq, waitQueue };
}

/** The rules that feed the queue, by key (one per trigger, the command results), and the drift schedule's rule. */
export interface Rules {
    byKey: { key: string; rule: aws.cloudwatch.EventRule }[];
    drift?: aws.cloudwatch.EventRule;
}

/** The EventBridge rules: one per trigger and the command results, and the drift-correction schedule. */
export function eventRules({ name, child, tags, plan, inputs }: Wiring): Rules {
    const { fleet, documentName } = inputs;
    // Each pattern depends only on what it uses (a constant stays a plain value).
    const patterns = provisionerRules(plan.triggers).map((r) => ({
        ...r,
        pattern:
            r.uses === "nothing"
                ? pulumi.output(r.pattern("", ""))
                : r.uses === "fleet"
                  ? fleet.apply((f) => r.pattern("", f))
                  : documentName.apply((d) => r.pattern(d, "")),
    }));
    const byKey = patterns.map((p) => ({
        key: p.key,
        rule: new aws.cloudwatch.EventRule(
            `${name}-${p.key}`,
            {
                description: `pka-fleet: ${p.description}`,
                eventPattern: p.pattern.apply((x) => JSON.stringify(x)),
                tags,
            },
            child,
        ),
    }));
    // Drift correction: a scheduled rule whose target sends a constant push (no spec hash: the Lambda
    // serves the spec it pins), so a spec change never updates the rule or its target.
    const drift =
        plan.schedule === undefined
            ? undefined
            : new aws.cloudwatch.EventRule(
                  `${name}-drift`,
                  {
                      description: "pka-fleet: drift correction: push the pinned spec to every online tagged instance",
                      scheduleExpression: plan.schedule,
                      tags,
                  },
                  child,
              );
    return { byKey, drift };
}

/** Every rule, the drift schedule's last. */
export function allRules({ byKey, drift }: Rules): aws.cloudwatch.EventRule[] {
    const rules = byKey.map((r) => r.rule);
    return drift ? [...rules, drift] : rules;
}

/** The Lambda's role, the queue policies (only our rules and the role may send) and each rule's target, the queue. */
export function ruleTargets(w: Wiring, { queue, dlq, waitQueue }: Queues, rules: Rules): aws.iam.Role {
    const { name, child, tags } = w;
    const { fleet } = w.inputs;
    const ruleArns = pulumi.all(allRules(rules).map((r) => r.arn));
    const role = new aws.iam.Role(`${name}-role`, { assumeRolePolicy: lambdaAssumeRolePolicy(), tags }, child);
    const queuePolicy = new aws.sqs.QueuePolicy(
        `${name}-queue-policy`,
        {
            queueUrl: queue.url,
            policy: pulumi
                .all([queue.arn, ruleArns, role.arn])
                .apply(([q, r, roleArn]) => eventBridgeQueuePolicy(q, r, [roleArn])),
        },
        child,
    );
    new aws.sqs.QueuePolicy(
        `${name}-wait-policy`,
        {
            queueUrl: waitQueue.url,
            policy: pulumi.all([waitQueue.arn, role.arn]).apply(([q, roleArn]) => ownRoleOnlyQueuePolicy(q, roleArn)),
        },
        child,
    );
    // Events EventBridge cannot deliver (after its retries) land in the same DLQ instead of being dropped; the Lambda
    // (its role) sends the reasons of what it gives up on.
    const dlqPolicy = new aws.sqs.QueuePolicy(
        `${name}-dlq-policy`,
        {
            queueUrl: dlq.url,
            policy: pulumi
                .all([dlq.arn, ruleArns, role.arn])
                .apply(([q, r, roleArn]) => eventBridgeQueuePolicy(q, r, [roleArn])),
        },
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
            { parent: w.owner, dependsOn: [queuePolicy, dlqPolicy] },
        );
    for (const r of rules.byKey) queueTarget(r.key, r.rule);
    if (rules.drift) queueTarget("drift", rules.drift, fleet.apply(driftPushInput));
    return role;
}

/** An alarm on each dead-letter queue: any message there is an instance or an event given up on. Returns the main DLQ's. */
export function dlqAlarms(
    w: Wiring,
    { dlq, waitDlq }: Queues,
    alarmActions: pulumi.Input<pulumi.Input<string>[]> | undefined,
): aws.cloudwatch.MetricAlarm {
    const dlqAlarm = (suffix: string, queueName: pulumi.Output<string>, alarmDescription: string) =>
        new aws.cloudwatch.MetricAlarm(
            `${w.name}-${suffix}`,
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
                alarmActions: alarmActions ?? [],
                tags: w.tags,
            },
            w.child,
        );
    dlqAlarm(
        "wait-dlq-alarm",
        waitDlq.name,
        "pka-fleet: wait messages could not be handled (messages in the wait queue's dead-letter queue): instances may be waiting for access",
    );
    return dlqAlarm(
        "dlq-alarm",
        dlq.name,
        "pka-fleet: instances or events could not be provisioned (messages in the dead-letter queue)",
    );
}
