/**
 * The Provisioner's Lambda: its role policy and environment, the function and its event source
 * mappings, the push on change and the offboarding on destroy.
 */
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { offboardInvocationInput, pushEvent } from "../core/events";
import { lambdaEnvironment } from "../core/lambdaConfig";
import { FIFO_BATCH_MAX } from "../core/provisionerDefaults";
import { deployedMarkerName } from "../core/provisionerPlan";
import { buildProvisionerPolicy } from "../core/provisionerPolicy";
import type { Queues, Wiring } from "./provisionerWiring";

export interface Lambda {
    logGroup: aws.cloudwatch.LogGroup;
    rolePolicy: aws.iam.RolePolicy;
    fn: aws.lambda.Function;
    mapping: aws.lambda.EventSourceMapping;
    /** The deployed marker parameter's name. */
    markerName: pulumi.Output<string>;
}

/** The checked host-certificate settings, or an Output of undefined. */
function hostCertificatesOf(
    w: Wiring,
): pulumi.Output<pulumi.Unwrap<NonNullable<Wiring["inputs"]["hostCertificates"]>> | undefined> {
    return w.inputs.hostCertificates ?? pulumi.output(undefined);
}

/** The Lambda role's policy document, once every ARN it names is known. */
function rolePolicyDocument(
    w: Wiring,
    { queue, dlq, waitQueue }: Queues,
    logGroup: aws.cloudwatch.LogGroup,
): pulumi.Output<string> {
    const { where, documentArn, tagKey, tagValue, accessPath, knownHostsPath } = w.inputs;
    return pulumi
        .all([
            where,
            documentArn,
            tagKey,
            tagValue,
            accessPath,
            knownHostsPath,
            logGroup.arn,
            pulumi.all([queue.arn, dlq.arn, waitQueue.arn, hostCertificatesOf(w)]),
        ])
        .apply(([wh, doc, k, v, ap, kh, lg, [q, d, wq, hc]]) =>
            JSON.stringify(
                buildProvisionerPolicy({
                    ...wh,
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
                    hostCertificates: hc ? { documentArn: hc.documentArn, path: hc.path } : undefined,
                }),
            ),
        );
}

/** The Lambda's environment (the PKA_* configuration the handler reads). */
function lambdaVariables(
    w: Wiring,
    { queue, dlq, waitQueue }: Queues,
    markerName: pulumi.Output<string>,
    keyRulesGiven: boolean,
): pulumi.Output<Record<string, string>> {
    const { documentName, tagKey, tagValue, accessPath, specHash, knownHostsPath } = w.inputs;
    return pulumi
        .all([
            documentName,
            tagKey,
            tagValue,
            accessPath,
            specHash,
            knownHostsPath,
            pulumi.all([dlq.url, waitQueue.url, queue.url, hostCertificatesOf(w)]),
            markerName,
        ])
        .apply(
            ([
                documentName,
                tagKey,
                tagValue,
                accessPath,
                accessSpecSha256,
                knownHostsPath,
                [dlqUrl, waitUrl, queueUrl, hc],
                marker,
            ]) =>
                lambdaEnvironment({
                    documentName,
                    tagKey,
                    tagValue,
                    accessPath,
                    accessSpecSha256,
                    knownHostsPath,
                    deadLetterQueueUrl: dlqUrl,
                    maxAttempts: w.plan.maxAttempts,
                    waitQueueUrl: waitUrl,
                    queueUrl,
                    agentWaitSeconds: w.plan.agentWaitSeconds,
                    deployedMarker: marker,
                    keyRules: keyRulesGiven ? w.plan.keyRules : undefined,
                    hostCertificates: hc
                        ? {
                              documentName: hc.documentName,
                              kmsKeyArn: hc.kmsKeyArn,
                              caPublicKey: hc.caPublicKey,
                              path: hc.path,
                              validitySeconds: hc.validitySeconds,
                          }
                        : undefined,
                }),
        );
}

/** The log group, the role's policy, the function and its two event source mappings. */
export function lambdaFunction(w: Wiring, q: Queues, role: aws.iam.Role, keyRulesGiven: boolean): Lambda {
    const { name, child, tags, plan } = w;
    const logGroup = new aws.cloudwatch.LogGroup(`${name}-logs`, { retentionInDays: plan.retention, tags }, child);
    const rolePolicy = new aws.iam.RolePolicy(
        `${name}-policy`,
        { role: role.name, policy: rolePolicyDocument(w, q, logGroup) },
        child,
    );
    // Host certificates: the role may sign with the host CA through a grant, the only way the key's policy allows (core/certAuthorityKms.ts).
    const grant = w.inputs.hostCertificates
        ? new aws.kms.Grant(
              `${name}-host-ca-grant`,
              { keyId: w.inputs.hostCertificates.kmsKeyArn, granteePrincipal: role.arn, operations: ["Sign"] },
              child,
          )
        : undefined;
    // The marker's name, not the marker resource: the marker is created after the offboarding Invocation, which needs the function.
    const markerName = pulumi
        .all([w.inputs.accessPath, w.inputs.knownHostsPath])
        .apply(([ap]) => deployedMarkerName(ap));
    const fn = new aws.lambda.Function(
        `${name}-fn`,
        {
            description:
                "pka-fleet provisioner: SQS batches of EventBridge events -> SSM SendCommand on tagged instances",
            runtime: plan.runtime,
            handler: "provisioner.handler",
            code: new pulumi.asset.AssetArchive({ "provisioner.js": new pulumi.asset.FileAsset(plan.codePath) }),
            role: role.arn,
            timeout: plan.timeout,
            memorySize: plan.memorySize,
            environment: { variables: lambdaVariables(w, q, markerName, keyRulesGiven) },
            loggingConfig: { logFormat: "JSON", logGroup: logGroup.name },
            tags,
        },
        // After what the caller waits for (the access parameters it writes): the new pin goes live once the spec it names is stored.
        {
            parent: w.owner,
            dependsOn: w.callerDependsOn.apply((d) => [rolePolicy, logGroup, ...(grant ? [grant] : []), ...d]),
        },
    );
    const mapping = new aws.lambda.EventSourceMapping(
        `${name}-mapping`,
        {
            eventSourceArn: q.queue.arn,
            functionName: fn.arn,
            batchSize: plan.batchSize,
            maximumBatchingWindowInSeconds: plan.windowSeconds,
            functionResponseTypes: ["ReportBatchItemFailures"],
            scalingConfig: { maximumConcurrency: plan.maximumConcurrency },
        },
        { parent: w.owner, dependsOn: [rolePolicy] },
    );
    // The wait queue: batches of at most 10 and no batching window (Lambda's SQS parameters for FIFO queues).
    new aws.lambda.EventSourceMapping(
        `${name}-wait-mapping`,
        {
            eventSourceArn: q.waitQueue.arn,
            functionName: fn.arn,
            batchSize: FIFO_BATCH_MAX,
            functionResponseTypes: ["ReportBatchItemFailures"],
        },
        { parent: w.owner, dependsOn: [rolePolicy] },
    );
    return { logGroup, rolePolicy, fn, mapping, markerName };
}

/** Push on change: the same deploy re-provisions every online tagged instance. */
export function pushOnChange(w: Wiring, { fn, mapping, rolePolicy }: Lambda): void {
    const { specHash, fleet } = w.inputs;
    const hash = pulumi.all([specHash, fleet]);
    const pushDependsOn = w.callerDependsOn.apply((d) => [fn, mapping, rolePolicy, ...d]);
    new aws.lambda.Invocation(
        `${w.name}-push`,
        {
            functionName: fn.name,
            // SQS-shaped, so the handler takes one code path; eventSource marks it as direct (no redelivery: it throws on failure).
            input: hash.apply(([h, f]) =>
                JSON.stringify({
                    Records: [
                        {
                            messageId: `pka-push-${h.slice(0, 16)}`,
                            eventSource: "pka-fleet:deploy",
                            body: JSON.stringify(pushEvent({ reason: "access-spec-changed", specHash: h, fleet: f })),
                        },
                    ],
                }),
            ),
            triggers: { accessSpecHash: specHash },
        },
        { parent: w.owner, dependsOn: pushDependsOn },
    );
}

/**
 * Offboarding on destroy. A CRUD Invocation: the provider invokes the function on create and update (nothing
 * to do) and, when the Invocation is deleted, with tf.action "delete": then the function revokes every user on
 * the fleet's online tagged instances, but only if the marker below is gone. The marker depends on the
 * Invocation, so a destroy deletes the marker first and the Invocation after it; a replaced Invocation leaves
 * the marker in place, and nothing is revoked. The Invocation waits on the function, its role policy (still
 * needed while its delete runs) and its log group, so those are deleted after it. Its input is constant per
 * fleet: a spec change never invokes it. The marker exists whether or not revokeOnDestroy is on: turning it
 * off deletes only the Invocation, whose delete then finds the marker standing and revokes nothing.
 */
export function offboarding(w: Wiring, { fn, rolePolicy, logGroup, markerName }: Lambda): void {
    const { fleet } = w.inputs;
    const offboard = w.plan.revokeOnDestroy
        ? new aws.lambda.Invocation(
              `${w.name}-offboard`,
              { functionName: fn.name, lifecycleScope: "CRUD", input: fleet.apply(offboardInvocationInput) },
              { parent: w.owner, dependsOn: [fn, rolePolicy, logGroup] },
          )
        : undefined;
    new aws.ssm.Parameter(
        `${w.name}-deployed`,
        {
            name: markerName,
            type: "String",
            tier: "Standard",
            insecureValue: fleet.apply(
                (f) =>
                    `pka-fleet ${f}: the provisioner is deployed (deleting this parameter arms the revocation on destroy; do not edit)`,
            ),
            description:
                "pka-fleet: exists while the provisioner is deployed; the offboarding revokes access on destroy only once it is gone (revokeOnDestroy)",
            tags: w.tags,
        },
        { parent: w.owner, dependsOn: offboard ? [offboard] : [] },
    );
}
