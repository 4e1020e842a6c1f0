import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { Trigger } from "../core/events";
import { FleetKeyRules } from "../core/keyRuleArgs";
import {
    accessPathProblem,
    defaultHostCertificatePath,
    defaultKnownHostsPath,
    hostCertificatesProblem,
    documentArnParts,
    knownHostsPathProblem,
    pathsOverlapProblem,
    planProvisioner,
    specHashProblem,
    tagKeyProblem,
} from "../core/provisionerPlan";
import { withoutComment } from "../core/certAuthorityKms";
import { tryPlan } from "./errors";
import { lambdaFunction, offboarding, pushOnChange } from "./provisionerLambda";
import { allRules, CheckedInputs, dlqAlarms, eventRules, queues, ruleTargets, Wiring } from "./provisionerWiring";

/** Host certificates: what the Lambda signs them with (a KMS host CA) and installs them by. */
export interface ProvisionerHostCertificates {
    /** The host-certificate Command document (PkaFleet makes it: core/document/hostCertificates.ts). Required. */
    readonly documentName: pulumi.Input<string>;
    /** Its ARN, for the IAM statement. Default: built from the name, the region and the account. */
    readonly documentArn?: pulumi.Input<string>;
    /** The host CA's KMS key ARN (SshCertificateAuthority `kmsKeyArn`); the role gets a grant to Sign with it. Required. */
    readonly kmsKeyArn: pulumi.Input<string>;
    /** The CA's public key line (SshCertificateAuthority `publicKey`). Required. */
    readonly caPublicKey: pulumi.Input<string>;
    /** Parameter Store path where each host's certificate is recorded. Default: the access path's parent + `/host_certificates`. */
    readonly path?: pulumi.Input<string>;
    /** How long each certificate is valid, in seconds (3600 to 400 days); renewed past half. Default 30 days. */
    readonly validitySeconds?: number;
}

/** The tag that marks the fleet's instances. */
export interface ProvisionerTargetTag {
    /** Tag key (also the IAM condition key `ssm:resourceTag/<key>`). Required. */
    readonly key: pulumi.Input<string>;
    /** Tag value. Required. */
    readonly value: pulumi.Input<string>;
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
    /** Host certificates signed after each host's keys are pinned (a KMS host CA). Default: none. */
    readonly hostCertificates?: ProvisionerHostCertificates;
}

/**

/** The inputs that may be Outputs; a plain value was checked by the plan already, an Output is checked here when it resolves. */
function checkedInputs(owner: Provisioner, args: ProvisionerArgs): CheckedInputs {
    const check = (problem: string | undefined) => {
        if (problem) throw new pulumi.ResourceError(problem, owner);
    };
    const accessPath = pulumi.output(args.accessParameterPath).apply((p) => {
        check(accessPathProblem(p));
        return p;
    });
    const knownHostsPath = pulumi
        .all([args.knownHostsPath ?? accessPath.apply(defaultKnownHostsPath), accessPath])
        .apply(([p, ap]) => {
            check(knownHostsPathProblem(p));
            check(pathsOverlapProblem(p, ap));
            return p;
        });
    const specHash = pulumi.output(args.accessSpecHash).apply((h) => {
        check(specHashProblem(h));
        return h;
    });
    const tagKey = pulumi.output(args.targetTag.key).apply((k) => {
        check(tagKeyProblem(k));
        return k;
    });
    const documentName = pulumi.output(args.documentName);
    // Region, account and partition: from the document ARN when given (no provider call), else from the provider.
    const where: CheckedInputs["where"] = args.documentArn
        ? pulumi.output(args.documentArn).apply((arn) => {
              const parts = documentArnParts(arn);
              if (typeof parts === "string") throw new pulumi.ResourceError(parts, owner);
              return parts;
          })
        : pulumi
              .all([
                  aws.getPartitionOutput({}, { parent: owner }),
                  aws.getRegionOutput({}, { parent: owner }),
                  aws.getCallerIdentityOutput({}, { parent: owner }),
              ])
              .apply(([p, r, c]) => ({
                  partition: p.partition,
                  region: String(r.region ?? r.name),
                  account: c.accountId,
              }));
    const documentArn = args.documentArn
        ? pulumi.output(args.documentArn)
        : pulumi
              .all([where, documentName])
              .apply(([w, n]) => `arn:${w.partition}:ssm:${w.region}:${w.account}:document/${n}`);
    const fleet = pulumi.output(args.fleetName ?? args.targetTag.value);
    const hc = args.hostCertificates;
    const hostCertificates = hc
        ? pulumi
              .all([
                  hc.documentName,
                  hc.documentArn ??
                      pulumi
                          .all([where, hc.documentName])
                          .apply(([w, n]) => `arn:${w.partition}:ssm:${w.region}:${w.account}:document/${n}`),
                  hc.kmsKeyArn,
                  hc.caPublicKey,
                  hc.path ?? accessPath.apply(defaultHostCertificatePath),
                  knownHostsPath,
                  accessPath,
              ])
              .apply(([documentName, documentArn, kmsKeyArn, caPublicKey, path, kh, ap]) => {
                  check(hostCertificatesProblem({ kmsKeyArn, caPublicKey, path, knownHostsPath: kh, accessPath: ap }));
                  return {
                      documentName,
                      documentArn,
                      kmsKeyArn,
                      caPublicKey: withoutComment(caPublicKey),
                      path,
                      validitySeconds: hc.validitySeconds,
                  };
              })
        : undefined;
    return {
        hostCertificates,
        accessPath,
        knownHostsPath,
        specHash,
        tagKey,
        tagValue: pulumi.output(args.targetTag.value),
        documentName,
        documentArn,
        where,
        fleet,
    };
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
        // Plain values are checked before anything registers (an Output tags map is checked by no one: AWS does).
        const planned = tryPlan(() =>
            planProvisioner(name, { ...args, tags: pulumi.Output.isInstance(args.tags) ? undefined : args.tags }),
        );
        super("pka-fleet:index:Provisioner", name, {}, opts);
        if (planned.problem !== undefined) throw new pulumi.ResourceError(planned.problem, this);
        // ComponentResourceOptions.dependsOn is Input<Input<Resource>[]> | Input<Resource>: a
        // resource, a list, or an Output/Promise of either (with Outputs/Promises inside a list).
        // pulumi.output resolves every form (it keeps Resources as they are), so the function and
        // the push wait on exactly what the caller passed, however it was passed.
        const callerDependsOn: pulumi.Output<pulumi.Resource[]> = pulumi
            .output(
                (opts?.dependsOn ?? []) as
                    pulumi.Input<pulumi.Input<pulumi.Resource>[]> | pulumi.Input<pulumi.Resource>,
            )
            .apply((d) => (Array.isArray(d) ? d : [d]) as pulumi.Resource[]);
        const w: Wiring = {
            name,
            owner: this,
            child: { parent: this },
            plan: planned.plan,
            tags: args.tags,
            inputs: checkedInputs(this, args),
            callerDependsOn,
        };

        const q = queues(w);
        const rules = eventRules(w);
        const role = ruleTargets(w, q, rules);
        const lambda = lambdaFunction(w, q, role, !!args.keyRules);
        const alarm = dlqAlarms(w, q, args.alarmActions);
        if (w.plan.triggers.includes("push")) pushOnChange(w, lambda);
        offboarding(w, lambda);

        this.queueUrl = q.queue.url;
        this.queueArn = q.queue.arn;
        this.dlqUrl = q.dlq.url;
        this.dlqArn = q.dlq.arn;
        this.waitQueueUrl = q.waitQueue.url;
        this.waitDlqUrl = q.waitDlq.url;
        this.functionName = lambda.fn.name;
        this.functionArn = lambda.fn.arn;
        this.roleArn = role.arn;
        this.ruleNames = pulumi.all(allRules(rules).map((r) => r.name));
        this.alarmName = alarm.name;
        this.logGroupName = lambda.logGroup.name;
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
