/**
 * Conformance with AWS's own published service models (botocore's service-2.json, the models the
 * AWS CLI and boto3 ship), not with this repository's fakes:
 *
 * 1. The validator (test/support/awsModels.ts) refuses deliberately broken copies of real requests,
 *    so every other test here can fail.
 * 2. Resources: PkaFleet (with its SshKeyPair, SetupDocument and Provisioner children) and a
 *    standalone Provisioner run under Pulumi mocks with the longest names and the largest specs
 *    their args accept and every optional feature on. Every created AWS resource is mapped to the
 *    request the Pulumi AWS provider (terraform-provider-aws through the bridge) makes to create
 *    it, in the model's shape, and validated. A resource type without a mapping fails the test;
 *    non-AWS types are skipped by name.
 * 3. The Lambda's requests: the real bundled Lambda runs against the local fleet's endpoint
 *    (simulated hosts: no root, no sshd), through launches, a late agent, a failing host (DLQ), an
 *    untagged instance, a push of the largest spec and a forged spec; every request it sent (the
 *    endpoint records them decoded into the SDK's input shape) is validated.
 * 4. Every (pattern, value) pair checked above is run again in java.util.regex (full match), and
 *    the JavaScript verdicts must equal Java's.
 *
 * Where the model lacks a limit AWS documents (SQS QueueName, EC2 KeyName, Lambda Timeout, ...),
 * awsModels.ts DOCUMENTED_LIMITS adds it, citing the page; such problems say "[documented: ...]".
 */
import { sshPublicKeyFromSpki } from "../core/certAuthorityPlan";
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { execFileSync } from "child_process";
import * as pulumi from "@pulumi/pulumi";
import type * as FleetModule from "../components";
import type * as ProvisionerModule from "../components";
import { validateAccessSpec } from "../core/accessSpec";
import { AccessSpec } from "../core/accessSpecTypes";
import { documentParameters } from "../core/document";
import { ALL_TRIGGERS } from "../core/events";
import { buildAccessSpec } from "../core/fleetSpec";
import { generateKey } from "../core/keygen";
import { provisionerCodePath } from "../core/lambdaBundle";
import { AwsMocks, Created, peek, settle, unsecret, watch } from "./support/awsMocks";
import {
    botocoreInfo,
    botocoreProblem,
    CheckedPattern,
    collectPatterns,
    loadModel,
    validateRequest,
} from "./support/awsModels";
import { requireReal } from "./support/env";
import { javaMatches, RegexPair, showVerdict, Verdict } from "./support/regexEngines";
import { patience } from "./support/patience";

// ---------------------------------------------------------------------------------------------
// Where the mocks say "placeholder", real-length values: the longest partition and one of the
// longest region names in use (GovCloud), a 12-digit account, and the provider's auto-names.

const PARTITION = "aws-us-gov";
const REGION = "us-gov-west-1";
const ACCOUNT = "123456789012";
/** The AWS provider's auto-name suffix: `-` and 7 random hex digits (pulumi-terraform-bridge AutoName; pulumi-aws SetAutonaming(255, "-")). */
const AUTONAME = "abcdef1";

/** Every (pattern, value) pair checked by any validation in this file, for the Java cross-check. */
const PATTERNS: CheckedPattern[] = [];
const onPattern = collectPatterns(PATTERNS);

function requireBotocore(ctx: Mocha.Context): void {
    requireReal(ctx, { commands: ["python3"] });
    const problem = botocoreProblem();
    if (problem === undefined) return;
    if (process.env.CI === "true") throw new Error(`CI must run this test but ${problem}`);
    console.log(`      skipped: ${problem}`);
    ctx.skip();
}

// ---------------------------------------------------------------------------------------------
// Mocks that answer like AWS in GovCloud: physical names as the provider auto-names them, full ARNs and URLs.

/** The input holding the physical name of each auto-named type (pulumi-aws: `name` unless said otherwise). */
const AUTONAMED: Record<string, string> = {
    "aws:sqs/queue:Queue": "name",
    "aws:cloudwatch/eventRule:EventRule": "name",
    "aws:cloudwatch/eventTarget:EventTarget": "targetId", // pulumi-aws resources.go: "target_id": tfbridge.AutoName("targetId", 255, "-")
    "aws:iam/role:Role": "name",
    "aws:iam/rolePolicy:RolePolicy": "name",
    "aws:cloudwatch/logGroup:LogGroup": "name",
    "aws:lambda/function:Function": "name",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "name",
    "aws:ssm/document:Document": "name",
    "aws:ssm/parameter:Parameter": "name",
    "aws:ec2/keyPair:KeyPair": "keyName",
};

class GovCloudMocks extends AwsMocks {
    /** `type::name` -> the physical name the provider gives the resource. */
    readonly physical = new Map<string, string>();
    /** AWS resources the AWS mocks refused (as AWS would): their requests are validated too. */
    readonly refused: Created[] = [];

    physicalName(c: { type: string; name: string }): string | undefined {
        return this.physical.get(`${c.type}::${c.name}`);
    }

    newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, any> } {
        const i = args.inputs ?? {};
        const field = AUTONAMED[args.type];
        // pulumi-aws resources.go appends .fifo to a FIFO queue's auto-name (AWS requires it; the 80 characters count it).
        const fifo = args.type === "aws:sqs/queue:Queue" && i.fifoQueue === true ? ".fifo" : "";
        const name: string = field ? (i[field] ?? `${args.name}-${AUTONAME}${fifo}`) : args.name;
        if (field) this.physical.set(`${args.type}::${args.name}`, name);
        let r: { id: string | undefined; state: Record<string, any> };
        try {
            r = super.newResource(args);
        } catch (e) {
            if (args.type.startsWith("aws:"))
                this.refused.push({ type: args.type, name: args.name, inputs: i, id: "" });
            throw e;
        }
        if (!args.type.startsWith("aws:") || r instanceof Promise) return r;
        const arn = (service: string, resource: string, region = REGION) =>
            `arn:${PARTITION}:${service}:${region}:${ACCOUNT}:${resource}`;
        let state: Record<string, any> = {};
        let id = r.id;
        switch (args.type) {
            case "aws:sqs/queue:Queue":
                id = `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`;
                state = { name, arn: arn("sqs", name), url: id };
                break;
            case "aws:cloudwatch/eventRule:EventRule":
                state = { name, arn: arn("events", `rule/${name}`) };
                break;
            case "aws:cloudwatch/eventTarget:EventTarget":
                state = { targetId: name };
                break;
            case "aws:iam/role:Role":
                state = {
                    name,
                    arn: `arn:${PARTITION}:iam::${ACCOUNT}:role/${name}`,
                    uniqueId: "AROA3XFRBF535PLBIFPI4",
                };
                break;
            case "aws:iam/rolePolicy:RolePolicy":
                state = { name };
                break;
            case "aws:cloudwatch/logGroup:LogGroup":
                state = { name, arn: arn("logs", `log-group:${name}`) };
                break;
            case "aws:lambda/function:Function":
                state = {
                    name,
                    arn: arn("lambda", `function:${name}`),
                    qualifiedArn: arn("lambda", `function:${name}:$LATEST`),
                    version: "$LATEST",
                };
                break;
            case "aws:cloudwatch/metricAlarm:MetricAlarm":
                state = { name, arn: arn("cloudwatch", `alarm:${name}`) };
                break;
            case "aws:kms/key:Key":
                state = {
                    keyId: "1234abcd-12ab-34cd-56ef-1234567890ab",
                    arn: arn("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab"),
                };
                break;
            case "aws:kms/grant:Grant":
                state = { grantId: "0c237476b39f8bc44e45212e08498fbe3151305030726c0590dd8d3e9f3d6a60" };
                break;
            case "aws:ssm/document:Document":
                state = {
                    name,
                    arn: arn("ssm", `document/${name}`),
                    latestVersion: "1",
                    defaultVersion: "1",
                    documentVersion: "1",
                };
                break;
            case "aws:ssm/parameter:Parameter":
                state = { name, arn: arn("ssm", `parameter${name.startsWith("/") ? "" : "/"}${name}`) };
                break;
            case "aws:ec2/keyPair:KeyPair":
                state = {
                    keyName: name,
                    arn: arn("ec2", `key-pair/${name}`),
                    keyPairId: "key-0123456789abcdef0",
                    fingerprint: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
                };
                break;
            case "aws:lambda/eventSourceMapping:EventSourceMapping":
                id = "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE";
                state = { uuid: id, functionArn: i.functionName };
                break;
            case "aws:ssm/association:Association":
                state = { associationId: "8dfe3659-4309-493a-8755-0123456789ab" };
                break;
        }
        return { id, state: { ...r.state, ...state } };
    }

    call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
        const base = super.call(args);
        switch (args.token) {
            case "aws:kms/getPublicKey:getPublicKey":
                return base;
            case "aws:index/getCallerIdentity:getCallerIdentity":
                return {
                    accountId: ACCOUNT,
                    arn: `arn:${PARTITION}:iam::${ACCOUNT}:user/deployer`,
                    userId: "AIDA3XFRBF535PLBIFPI4",
                };
            case "aws:index/getRegion:getRegion":
                return { name: REGION, region: REGION, id: REGION };
            case "aws:index/getPartition:getPartition":
                return { partition: PARTITION, dnsSuffix: "amazonaws.com", id: PARTITION };
        }
        throw new Error(`unmocked call ${args.token}`);
    }
}

// ---------------------------------------------------------------------------------------------
// Created resource -> the provider's API requests.

interface ApiRequest {
    service: string;
    operation: string;
    input: Record<string, unknown>;
}

interface MapContext {
    /** The physical name (inputs or the provider's auto-name). */
    physical: string;
    /** The Lambda deployment package's bytes for `code` archives (the mocks do not carry archive contents). */
    codeBytes: Buffer;
}

interface Mapper {
    /** The provider file the mapping follows (terraform-provider-aws, internal/service/...). */
    source: string;
    /** The Pulumi inputs the mapping understands; any other input set fails the test (a new arg needs its mapping). */
    known: string[];
    map: (i: Record<string, any>, ctx: MapContext) => ApiRequest[];
}

/**
 * JSON as Go's encoding/json re-marshals it (the provider's structure.NormalizeJsonString: keys
 * sorted, compact, `<` `>` `&` U+2028 U+2029 escaped unless `html` is false).
 */
function goJson(text: string, html = true): string {
    const sort = (v: any): any =>
        Array.isArray(v)
            ? v.map(sort)
            : v && typeof v === "object"
              ? Object.fromEntries(
                    Object.keys(v)
                        .sort()
                        .map((k) => [k, sort(v[k])]),
                )
              : v;
    const s = JSON.stringify(sort(JSON.parse(text)));
    return html
        ? s
              .replace(/</g, "\\u003c")
              .replace(/>/g, "\\u003e")
              .replace(/&/g, "\\u0026")
              .replace(/\u2028/g, "\\u2028")
              .replace(/\u2029/g, "\\u2029")
        : s;
}

const tagList = (tags: Record<string, string> | undefined) =>
    tags && Object.keys(tags).length ? { Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) } : {};
const nonEmpty = (s: unknown): s is string => typeof s === "string" && s !== "";
const opt = <T>(k: string, v: T | undefined | null | ""): Record<string, T> =>
    v === undefined || v === null || v === "" ? {} : { [k]: v as T };

/** Where a mapping comes from: terraform-provider-aws (the AWS provider's upstream) at internal/service/<file>, and pulumi-aws for the auto-names. */
const TF = (file: string) => `hashicorp/terraform-provider-aws internal/service/${file}`;

const MAPPERS: Record<string, Mapper> = {
    "aws:sqs/queue:Queue": {
        // queue.go resourceQueueCreate: CreateQueue{QueueName, Tags, Attributes}; attrmap.go ResourceDataToAPIAttributesCreate
        // sends every non-computed int (its schema Default when unset: delay 0, max size 262144, retention 345600, wait 0,
        // visibility 30; consts.go), true booleans (and sqs_managed_sse_enabled when configured), non-empty strings, the
        // JSON ones normalized (StateFunc structure.NormalizeJsonString).
        source: TF("sqs/queue.go, internal/attrmap/attrmap.go, sqs/consts.go"),
        known: [
            "name",
            "delaySeconds",
            "maxMessageSize",
            "messageRetentionSeconds",
            "receiveWaitTimeSeconds",
            "visibilityTimeoutSeconds",
            "redrivePolicy",
            "redriveAllowPolicy",
            "policy",
            "sqsManagedSseEnabled",
            "kmsMasterKeyId",
            "kmsDataKeyReusePeriodSeconds",
            "fifoQueue",
            "contentBasedDeduplication",
            "tags",
        ],
        map: (i, ctx) => [
            {
                service: "sqs",
                operation: "CreateQueue",
                input: {
                    QueueName: ctx.physical,
                    Attributes: {
                        DelaySeconds: String(i.delaySeconds ?? 0),
                        MaximumMessageSize: String(i.maxMessageSize ?? 262_144),
                        MessageRetentionPeriod: String(i.messageRetentionSeconds ?? 345_600),
                        ReceiveMessageWaitTimeSeconds: String(i.receiveWaitTimeSeconds ?? 0),
                        VisibilityTimeout: String(i.visibilityTimeoutSeconds ?? 30),
                        ...opt("RedrivePolicy", nonEmpty(i.redrivePolicy) ? goJson(i.redrivePolicy) : undefined),
                        ...opt(
                            "RedriveAllowPolicy",
                            nonEmpty(i.redriveAllowPolicy) ? goJson(i.redriveAllowPolicy) : undefined,
                        ),
                        ...opt("Policy", nonEmpty(i.policy) ? goJson(i.policy) : undefined),
                        ...(i.sqsManagedSseEnabled !== undefined
                            ? { SqsManagedSseEnabled: String(i.sqsManagedSseEnabled) }
                            : {}),
                        ...opt("KmsMasterKeyId", i.kmsMasterKeyId),
                        ...(i.kmsDataKeyReusePeriodSeconds && !i.sqsManagedSseEnabled
                            ? { KmsDataKeyReusePeriodSeconds: String(i.kmsDataKeyReusePeriodSeconds) }
                            : {}),
                        ...(i.fifoQueue ? { FifoQueue: "true" } : {}),
                        ...(i.contentBasedDeduplication ? { ContentBasedDeduplication: "true" } : {}),
                    },
                    ...(i.tags && Object.keys(i.tags).length ? { tags: i.tags } : {}),
                },
            },
        ],
    },
    "aws:sqs/queuePolicy:QueuePolicy": {
        // queue_policy.go resourceQueuePolicyUpsert: SetQueueAttributes{Attributes: {Policy}, QueueUrl}
        source: TF("sqs/queue_policy.go"),
        known: ["queueUrl", "policy"],
        map: (i) => [
            {
                service: "sqs",
                operation: "SetQueueAttributes",
                input: { QueueUrl: i.queueUrl, Attributes: { Policy: i.policy } },
            },
        ],
    },
    "aws:cloudwatch/eventRule:EventRule": {
        // rule.go resourceRuleCreate/expandPutRuleInput: Name, Description and RoleArn and ScheduleExpression when set,
        // EventBusName (schema Default "default"), EventPattern re-marshalled (ruleEventPatternJSONDecoder: Go's
        // json.Marshal, <>& unescaped), State only when state or is_enabled is configured, Tags.
        source: TF("events/rule.go"),
        known: [
            "name",
            "description",
            "eventBusName",
            "eventPattern",
            "roleArn",
            "scheduleExpression",
            "isEnabled",
            "state",
            "tags",
            "forceDestroy",
        ],
        map: (i, ctx) => [
            {
                service: "events",
                operation: "PutRule",
                input: {
                    Name: ctx.physical,
                    ...opt("Description", i.description),
                    EventBusName: i.eventBusName ?? "default",
                    ...opt("EventPattern", nonEmpty(i.eventPattern) ? goJson(i.eventPattern, false) : undefined),
                    ...opt("RoleArn", i.roleArn),
                    ...opt("ScheduleExpression", i.scheduleExpression),
                    ...opt(
                        "State",
                        i.state ?? (i.isEnabled === undefined ? undefined : i.isEnabled ? "ENABLED" : "DISABLED"),
                    ),
                    ...tagList(i.tags),
                },
            },
        ],
    },
    "aws:cloudwatch/eventTarget:EventTarget": {
        // target.go resourceTargetCreate/expandPutTargetsInput: one Target {Arn, Id, Input, InputPath, RoleArn,
        // RetryPolicy (both fields, 0 when unset: expandRetryPolicyParameters), DeadLetterConfig, SqsParameters};
        // Rule; EventBusName (schema Default "default").
        source: TF("events/target.go"),
        known: [
            "rule",
            "targetId",
            "arn",
            "input",
            "inputPath",
            "roleArn",
            "deadLetterConfig",
            "retryPolicy",
            "eventBusName",
            "sqsTarget",
            "forceDestroy",
        ],
        map: (i, ctx) => [
            {
                service: "events",
                operation: "PutTargets",
                input: {
                    Rule: i.rule,
                    EventBusName: i.eventBusName ?? "default",
                    Targets: [
                        {
                            Arn: i.arn,
                            Id: ctx.physical,
                            ...opt("Input", i.input),
                            ...opt("InputPath", i.inputPath),
                            ...opt("RoleArn", i.roleArn),
                            ...(i.retryPolicy
                                ? {
                                      RetryPolicy: {
                                          MaximumEventAgeInSeconds: i.retryPolicy.maximumEventAgeInSeconds ?? 0,
                                          MaximumRetryAttempts: i.retryPolicy.maximumRetryAttempts ?? 0,
                                      },
                                  }
                                : {}),
                            ...(i.deadLetterConfig
                                ? { DeadLetterConfig: { ...opt("Arn", i.deadLetterConfig.arn) } }
                                : {}),
                            ...(i.sqsTarget
                                ? { SqsParameters: { ...opt("MessageGroupId", i.sqsTarget.messageGroupId) } }
                                : {}),
                        },
                    ],
                },
            },
        ],
    },
    "aws:iam/role:Role": {
        // role.go resourceRoleCreate: AssumeRolePolicyDocument (structure.NormalizeJsonString), Path (Default "/"),
        // RoleName, Tags, Description when set, MaxSessionDuration (Default 3600), PermissionsBoundary when set.
        source: TF("iam/role.go"),
        known: [
            "name",
            "assumeRolePolicy",
            "path",
            "description",
            "maxSessionDuration",
            "permissionsBoundary",
            "tags",
            "forceDetachPolicies",
        ],
        map: (i, ctx) => [
            {
                service: "iam",
                operation: "CreateRole",
                input: {
                    AssumeRolePolicyDocument: goJson(i.assumeRolePolicy),
                    Path: i.path ?? "/",
                    RoleName: ctx.physical,
                    ...tagList(i.tags),
                    ...opt("Description", i.description),
                    MaxSessionDuration: i.maxSessionDuration ?? 3600,
                    ...opt("PermissionsBoundary", i.permissionsBoundary),
                },
            },
        ],
    },
    "aws:iam/rolePolicy:RolePolicy": {
        // role_policy.go resourceRolePolicyPut: PutRolePolicy{PolicyDocument (normalized), PolicyName, RoleName}
        source: TF("iam/role_policy.go"),
        known: ["name", "role", "policy"],
        map: (i, ctx) => [
            {
                service: "iam",
                operation: "PutRolePolicy",
                input: { PolicyDocument: goJson(i.policy), PolicyName: ctx.physical, RoleName: i.role },
            },
        ],
    },
    "aws:cloudwatch/logGroup:LogGroup": {
        // group.go resourceGroupCreate: CreateLogGroup{logGroupClass (omitted when empty), logGroupName, tags, kmsKeyId},
        // then PutRetentionPolicy when retention_in_days is set (and the class is not DELIVERY).
        source: TF("logs/group.go"),
        known: ["name", "retentionInDays", "kmsKeyId", "logGroupClass", "skipDestroy", "tags"],
        map: (i, ctx) => [
            {
                service: "logs",
                operation: "CreateLogGroup",
                input: {
                    logGroupName: ctx.physical,
                    ...opt("logGroupClass", i.logGroupClass),
                    ...opt("kmsKeyId", i.kmsKeyId),
                    ...(i.tags && Object.keys(i.tags).length ? { tags: i.tags } : {}),
                },
            },
            ...(i.retentionInDays && i.logGroupClass !== "DELIVERY"
                ? [
                      {
                          service: "logs",
                          operation: "PutRetentionPolicy",
                          input: { logGroupName: ctx.physical, retentionInDays: i.retentionInDays },
                      },
                  ]
                : []),
        ],
    },
    "aws:lambda/function:Function": {
        // function.go resourceFunctionCreate: Code.ZipFile (the bridge zips the archive to `filename`), Description
        // (always), FunctionName, MemorySize (Default 128), PackageType (Default Zip), Publish (Default false), Role,
        // Tags, Timeout (Default 3), Environment when it has variables, Handler and Runtime (Zip), LoggingConfig
        // (expandLoggingConfig: the non-empty fields), Architectures/KMSKeyArn/Layers/TracingConfig when set; then
        // PutFunctionConcurrency when reserved_concurrent_executions >= 0 (Default -1).
        source: TF("lambda/function.go"),
        known: [
            "name",
            "description",
            "runtime",
            "handler",
            "code",
            "role",
            "timeout",
            "memorySize",
            "environment",
            "loggingConfig",
            "tags",
            "architectures",
            "publish",
            "packageType",
            "kmsKeyArn",
            "layers",
            "tracingConfig",
            "reservedConcurrentExecutions",
            "sourceCodeHash",
        ],
        map: (i, ctx) => {
            const vars = i.environment?.variables;
            const lc = i.loggingConfig;
            return [
                {
                    service: "lambda",
                    operation: "CreateFunction",
                    input: {
                        Code: { ZipFile: ctx.codeBytes },
                        Description: i.description ?? "",
                        FunctionName: ctx.physical,
                        MemorySize: i.memorySize ?? 128,
                        PackageType: i.packageType ?? "Zip",
                        Publish: i.publish ?? false,
                        Role: i.role,
                        ...(i.tags && Object.keys(i.tags).length ? { Tags: i.tags } : {}),
                        Timeout: i.timeout ?? 3,
                        ...(vars && Object.keys(vars).length ? { Environment: { Variables: vars } } : {}),
                        ...((i.packageType ?? "Zip") === "Zip" ? { Handler: i.handler, Runtime: i.runtime } : {}),
                        ...(lc
                            ? {
                                  LoggingConfig: {
                                      ...opt("ApplicationLogLevel", lc.applicationLogLevel),
                                      ...opt("LogFormat", lc.logFormat),
                                      ...opt("LogGroup", lc.logGroup),
                                      ...opt("SystemLogLevel", lc.systemLogLevel),
                                  },
                              }
                            : {}),
                        ...(i.architectures?.length ? { Architectures: i.architectures } : {}),
                        ...opt("KMSKeyArn", i.kmsKeyArn),
                        ...(i.layers?.length ? { Layers: i.layers } : {}),
                        ...(i.tracingConfig ? { TracingConfig: { Mode: i.tracingConfig.mode } } : {}),
                    },
                },
                ...(typeof i.reservedConcurrentExecutions === "number" && i.reservedConcurrentExecutions >= 0
                    ? [
                          {
                              service: "lambda",
                              operation: "PutFunctionConcurrency",
                              input: {
                                  FunctionName: ctx.physical,
                                  ReservedConcurrentExecutions: i.reservedConcurrentExecutions,
                              },
                          },
                      ]
                    : []),
            ];
        },
    },
    "aws:lambda/eventSourceMapping:EventSourceMapping": {
        // event_source_mapping.go resourceEventSourceMappingCreate: Enabled (Default true), FunctionName, Tags, and
        // GetOk fields: BatchSize, EventSourceArn, FunctionResponseTypes, MaximumBatchingWindowInSeconds (omitted
        // when 0), ScalingConfig.
        source: TF("lambda/event_source_mapping.go"),
        known: [
            "eventSourceArn",
            "functionName",
            "batchSize",
            "maximumBatchingWindowInSeconds",
            "functionResponseTypes",
            "scalingConfig",
            "enabled",
            "tags",
        ],
        map: (i) => [
            {
                service: "lambda",
                operation: "CreateEventSourceMapping",
                input: {
                    Enabled: i.enabled ?? true,
                    FunctionName: i.functionName,
                    ...(i.tags && Object.keys(i.tags).length ? { Tags: i.tags } : {}),
                    ...opt("BatchSize", i.batchSize || undefined),
                    ...opt("EventSourceArn", i.eventSourceArn),
                    ...(i.functionResponseTypes?.length ? { FunctionResponseTypes: i.functionResponseTypes } : {}),
                    ...opt("MaximumBatchingWindowInSeconds", i.maximumBatchingWindowInSeconds || undefined),
                    ...(i.scalingConfig?.maximumConcurrency
                        ? { ScalingConfig: { MaximumConcurrency: i.scalingConfig.maximumConcurrency } }
                        : {}),
                },
            },
        ],
    },
    "aws:cloudwatch/metricAlarm:MetricAlarm": {
        // metric_alarm.go expandPutMetricAlarmInput: AlarmName, ComparisonOperator, EvaluationPeriods, Tags,
        // TreatMissingData (Default "missing"), ActionsEnabled (Default true), AlarmActions when non-empty, and the
        // GetOk fields; Threshold unless threshold_metric_id.
        source: TF("cloudwatch/metric_alarm.go"),
        known: [
            "name",
            "alarmDescription",
            "namespace",
            "metricName",
            "dimensions",
            "statistic",
            "period",
            "evaluationPeriods",
            "threshold",
            "comparisonOperator",
            "treatMissingData",
            "alarmActions",
            "okActions",
            "insufficientDataActions",
            "actionsEnabled",
            "datapointsToAlarm",
            "unit",
            "tags",
        ],
        map: (i, ctx) => [
            {
                service: "monitoring",
                operation: "PutMetricAlarm",
                input: {
                    AlarmName: ctx.physical,
                    ComparisonOperator: i.comparisonOperator,
                    EvaluationPeriods: i.evaluationPeriods,
                    ...tagList(i.tags),
                    TreatMissingData: i.treatMissingData ?? "missing",
                    ActionsEnabled: i.actionsEnabled ?? true,
                    ...(i.alarmActions?.length ? { AlarmActions: i.alarmActions } : {}),
                    ...(i.okActions?.length ? { OKActions: i.okActions } : {}),
                    ...(i.insufficientDataActions?.length
                        ? { InsufficientDataActions: i.insufficientDataActions }
                        : {}),
                    ...opt("AlarmDescription", i.alarmDescription),
                    ...opt("DatapointsToAlarm", i.datapointsToAlarm || undefined),
                    ...(i.dimensions && Object.keys(i.dimensions).length
                        ? { Dimensions: Object.entries(i.dimensions).map(([Name, Value]) => ({ Name, Value })) }
                        : {}),
                    ...opt("MetricName", i.metricName),
                    ...opt("Namespace", i.namespace),
                    ...opt("Period", i.period || undefined),
                    ...opt("Statistic", i.statistic),
                    Threshold: i.threshold ?? 0,
                    ...opt("Unit", i.unit),
                },
            },
        ],
    },
    "aws:lambda/invocation:Invocation": {
        // invocation.go invoke/buildInput: Invoke{FunctionName, InvocationType RequestResponse, Payload, Qualifier
        // (Default $LATEST)}; with lifecycle_scope CRUD the payload is the input object plus
        // {<terraform_key, Default "tf">: {action: "create", prev_input: null}}, re-marshalled by Go (keys sorted).
        source: TF("lambda/invocation.go"),
        known: ["functionName", "input", "qualifier", "triggers", "lifecycleScope", "terraformKey", "tenantId"],
        map: (i) => {
            const crud = (i.lifecycleScope ?? "CREATE_ONLY") !== "CREATE_ONLY";
            const payload = crud
                ? goJson(
                      JSON.stringify({
                          ...JSON.parse(i.input),
                          [i.terraformKey ?? "tf"]: { action: "create", prev_input: null },
                      }),
                  )
                : i.input;
            return [
                {
                    service: "lambda",
                    operation: "Invoke",
                    input: {
                        FunctionName: i.functionName,
                        InvocationType: "RequestResponse",
                        Payload: Buffer.from(payload),
                        Qualifier: i.qualifier ?? "$LATEST",
                        ...opt("TenantId", i.tenantId),
                    },
                },
            ];
        },
    },
    "aws:ssm/document:Document": {
        // document.go resourceDocumentCreate: CreateDocument{Content, DocumentFormat (Default JSON), DocumentType, Name,
        // Tags, TargetType and VersionName when set}
        source: TF("ssm/document.go"),
        known: ["name", "content", "documentType", "documentFormat", "tags", "targetType", "versionName"],
        map: (i, ctx) => [
            {
                service: "ssm",
                operation: "CreateDocument",
                input: {
                    Content: i.content,
                    DocumentFormat: i.documentFormat ?? "JSON",
                    DocumentType: i.documentType,
                    Name: ctx.physical,
                    ...tagList(i.tags),
                    ...opt("TargetType", i.targetType),
                    ...opt("VersionName", i.versionName),
                },
            },
        ],
    },
    "aws:ssm/parameter:Parameter": {
        // parameter.go resourceParameterCreate: PutParameter{AllowedPattern (always, "" when unset), Name, Overwrite
        // (false on create), Type, Value (insecure_value when set), DataType/Description/Tier when set, KeyId for a
        // SecureString, Tags (when not overwriting)}
        source: TF("ssm/parameter.go"),
        known: [
            "name",
            "type",
            "value",
            "insecureValue",
            "description",
            "tier",
            "dataType",
            "allowedPattern",
            "keyId",
            "overwrite",
            "tags",
        ],
        map: (i, ctx) => [
            {
                service: "ssm",
                operation: "PutParameter",
                input: {
                    AllowedPattern: i.allowedPattern ?? "",
                    Name: ctx.physical,
                    Overwrite: i.overwrite ?? false,
                    Type: i.type,
                    Value: nonEmpty(i.insecureValue) ? i.insecureValue : i.value,
                    ...opt("DataType", i.dataType),
                    ...opt("Description", i.description),
                    ...(i.type === "SecureString" ? opt("KeyId", i.keyId) : {}),
                    ...opt("Tier", i.tier),
                    ...(i.overwrite ? {} : tagList(i.tags)),
                },
            },
        ],
    },
    "aws:ssm/association:Association": {
        // association.go resourceAssociationCreate: CreateAssociation{Name, Targets, Parameters (each value a
        // one-item list), and the GetOk fields}
        source: TF("ssm/association.go"),
        known: [
            "name",
            "associationName",
            "targets",
            "scheduleExpression",
            "parameters",
            "complianceSeverity",
            "maxConcurrency",
            "maxErrors",
            "applyOnlyAtCronInterval",
            "documentVersion",
            "syncCompliance",
            "tags",
        ],
        map: (i) => [
            {
                service: "ssm",
                operation: "CreateAssociation",
                input: {
                    Name: i.name,
                    ...opt("AssociationName", i.associationName),
                    ...(i.targets?.length
                        ? { Targets: i.targets.map((t: any) => ({ Key: t.key, Values: t.values })) }
                        : {}),
                    ...opt("ScheduleExpression", i.scheduleExpression),
                    ...(i.parameters
                        ? { Parameters: Object.fromEntries(Object.entries(i.parameters).map(([k, v]) => [k, [v]])) }
                        : {}),
                    ...opt("ComplianceSeverity", i.complianceSeverity),
                    ...opt("MaxConcurrency", i.maxConcurrency),
                    ...opt("MaxErrors", i.maxErrors),
                    ...opt("DocumentVersion", i.documentVersion),
                    ...(i.applyOnlyAtCronInterval ? { ApplyOnlyAtCronInterval: true } : {}),
                    ...opt("SyncCompliance", i.syncCompliance),
                    ...tagList(i.tags),
                },
            },
        ],
    },
    "aws:ec2/keyPair:KeyPair": {
        // ec2_key_pair.go resourceKeyPairCreate: ImportKeyPair{KeyName, PublicKeyMaterial, TagSpecifications}
        source: TF("ec2/ec2_key_pair.go"),
        known: ["keyName", "publicKey", "tags"],
        map: (i, ctx) => [
            {
                service: "ec2",
                operation: "ImportKeyPair",
                input: {
                    KeyName: ctx.physical,
                    PublicKeyMaterial: Buffer.from(i.publicKey),
                    ...(i.tags && Object.keys(i.tags).length
                        ? { TagSpecifications: [{ ResourceType: "key-pair", ...tagList(i.tags) }] }
                        : {}),
                },
            },
        ],
    },
};

/** KMS's tag list: TagKey/TagValue, not Key/Value. */
const kmsTags = (tags: Record<string, string> | undefined) =>
    tags && Object.keys(tags).length
        ? { Tags: Object.entries(tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })) }
        : {};
Object.assign(MAPPERS, {
    "aws:kms/key:Key": {
        // key.go resourceKeyCreate: CreateKey{BypassPolicyLockoutSafetyCheck, KeySpec (customer_master_key_spec),
        // KeyUsage, Description and Policy when set, MultiRegion, Tags}
        source: TF("kms/key.go"),
        known: ["description", "customerMasterKeySpec", "keyUsage", "deletionWindowInDays", "policy", "tags"],
        map: (i) => [
            {
                service: "kms",
                operation: "CreateKey",
                input: {
                    BypassPolicyLockoutSafetyCheck: false,
                    KeySpec: i.customerMasterKeySpec ?? "SYMMETRIC_DEFAULT",
                    KeyUsage: i.keyUsage ?? "ENCRYPT_DECRYPT",
                    ...opt("Description", i.description),
                    ...opt("Policy", i.policy === undefined ? undefined : goJson(i.policy, false)),
                    MultiRegion: false,
                    ...kmsTags(i.tags),
                },
            },
        ],
    },
    "aws:kms/grant:Grant": {
        // grant.go resourceGrantCreate: CreateGrant{GranteePrincipal, KeyId, Operations, Name/RetiringPrincipal/GrantTokens when set}
        source: TF("kms/grant.go"),
        known: ["keyId", "granteePrincipal", "operations", "name", "retiringPrincipal", "grantCreationTokens"],
        map: (i) => [
            {
                service: "kms",
                operation: "CreateGrant",
                input: {
                    GranteePrincipal: i.granteePrincipal,
                    KeyId: i.keyId,
                    Operations: i.operations,
                    ...opt("Name", i.name),
                    ...opt("RetiringPrincipal", i.retiringPrincipal),
                },
            },
        ],
    },
} satisfies Record<string, Mapper>);

/** Types that are not AWS resources, skipped by name: Pulumi's own, this package's components and its dynamic provider, the non-AWS providers. */
const NOT_AWS = ["pulumi:", "pulumi-nodejs:dynamic", "pka-fleet:", "tls:", "random:", "command:"];

function deepUnsecret(v: any): any {
    const u = unsecret(v);
    if (Array.isArray(u)) return u.map(deepUnsecret);
    if (u && typeof u === "object" && !(u instanceof Uint8Array))
        return Object.fromEntries(Object.entries(u).map(([k, x]) => [k, deepUnsecret(x)]));
    return u;
}

interface Mapped {
    resource: string;
    requests: ApiRequest[];
    /** Problems of the mapping itself (an unmapped type, an input the mapping does not know). */
    unmapped: string[];
    skipped?: boolean;
}

function mapCreated(c: Created, mocks: GovCloudMocks, codeBytes: Buffer): Mapped {
    const resource = `${c.type} ${c.name}`;
    if (NOT_AWS.some((p) => c.type.startsWith(p))) return { resource, requests: [], unmapped: [], skipped: true };
    const m = MAPPERS[c.type];
    if (!m)
        return {
            resource,
            requests: [],
            unmapped: [
                `${resource}: no mapping to the provider's API requests (add one to MAPPERS in test/aws-models.test.ts, from the provider's source)`,
            ],
        };
    const inputs = deepUnsecret(c.inputs ?? {});
    const extra = Object.keys(inputs).filter(
        (k) => inputs[k] !== undefined && !k.startsWith("__") && !m.known.includes(k),
    );
    const unmapped = extra.map(
        (k) =>
            `${resource}: the mapping does not know the input \`${k}\` (${m.source}: add what the provider sends for it)`,
    );
    const physical = mocks.physicalName(c) ?? c.name;
    return { resource, requests: m.map(inputs, { physical, codeBytes }), unmapped };
}

interface CheckResult {
    resources: number;
    skipped: number;
    requests: number;
    byOperation: Record<string, number>;
    problems: string[];
}

/** Set AWS_MODELS_DUMP to a directory to get every mapped request there as JSON (one file per deployment). */
function dump(label: string, requests: { resource: string; request: ApiRequest }[]): void {
    const dir = process.env.AWS_MODELS_DUMP;
    if (!dir) return;
    fs.mkdirSync(dir, { recursive: true });
    const replacer = (_k: string, v: any) =>
        v && v.type === "Buffer" && Array.isArray(v.data) ? `<${v.data.length} bytes>` : v;
    fs.writeFileSync(
        path.join(dir, `${label.replace(/[^A-Za-z0-9]+/g, "-")}.json`),
        JSON.stringify(requests, replacer, 2),
    );
}

function checkCreated(mocks: GovCloudMocks, codeBytes: Buffer, label = "resources"): CheckResult {
    const out: CheckResult = { resources: 0, skipped: 0, requests: 0, byOperation: {}, problems: [] };
    const all: { resource: string; request: ApiRequest }[] = [];
    for (const e of mocks.errors) out.problems.push(`the AWS mocks refused: ${e}`);
    for (const c of [...mocks.created, ...mocks.refused]) {
        const m = mapCreated(c, mocks, codeBytes);
        if (m.skipped) {
            out.skipped++;
            continue;
        }
        out.resources++;
        out.problems.push(...m.unmapped);
        for (const r of m.requests) {
            all.push({ resource: m.resource, request: r });
            out.requests++;
            const key = `${r.service} ${r.operation}`;
            out.byOperation[key] = (out.byOperation[key] ?? 0) + 1;
            out.problems.push(
                ...validateRequest(r.service, r.operation, r.input, { onPattern }).map(
                    (p) => `${m.resource} -> ${r.service} ${p}`,
                ),
            );
        }
    }
    dump(label, all);
    return out;
}

const summary = (byOperation: Record<string, number>) =>
    Object.entries(byOperation)
        .sort()
        .map(([k, n]) => `${k} x${n}`)
        .join(", ");

// ---------------------------------------------------------------------------------------------
// The longest and largest args the components accept.

const ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789";
/** `n` characters cycling through `alphabet`, starting with `first`. */
const fill = (n: number, alphabet = ALNUM, first = "") =>
    (first + Array.from({ length: n }, (_, i) => alphabet[i % alphabet.length]).join("")).slice(0, n);
/** Key comments: KEY_ERE's comment class, 100 characters (MAX_COMMENT_LENGTH). */
const comment = (seed: string) =>
    `${seed}@`
        .concat(fill(100, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@+:=/-"))
        .slice(0, 100);
/** The characters every service's tag patterns allow (IAM, SSM, Logs: [\p{L}\p{Z}\p{N}_.:/=+\-@]). */
const TAG_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.:/=+-@";
/** PkaFleet's targetTag character set (TAG_TEXT): letters, digits, space and + - . : / @ _. */
const TARGET_TAG_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 +-.:/@_";

/** The largest `n` in [lo, hi] for which `ok(n)` holds (ok monotone: true up to some n). */
function largest(lo: number, hi: number, ok: (n: number) => boolean): number {
    if (!ok(lo)) throw new Error(`even ${lo} is refused`);
    while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (ok(mid)) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

const keyCache: string[] = [];
/** The n-th distinct ed25519 public key, with a 100-character comment. */
function key(n: number): string {
    while (keyCache.length <= n)
        keyCache.push(generateKey({ type: "ed25519", comment: comment(`k${keyCache.length}`) }).publicKey);
    return keyCache[n];
}

/** A 32-character user name (USER_NAME_PATTERN's longest), distinct per n. */
const userName = (n: number, prefix = "u") =>
    `${prefix}${String(n).padStart(4, "0")}`.concat(fill(32, "abcdefghijklmnopqrstuvwxyz0123456789_-")).slice(0, 32);

/** 49 tags of 128-character keys and 256-character values: with PkaFleet's own pka-fleet:fleet tag, the 50 IAM allows. */
function maxTags(count = 49): Record<string, string> {
    return Object.fromEntries(
        Array.from({ length: count }, (_, i) => [
            `${String(i).padStart(2, "0")}${fill(126, TAG_CHARS)}`,
            fill(256, TAG_CHARS, String(i)),
        ]),
    );
}

/** The longest drift schedule within PutRule's ScheduleExpression limit (256) that pka-fleet accepts: a cron with a long year list. */
function longestSchedule(accepts: (s: string) => boolean, max = 256): string {
    const head =
        "cron(0,30 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23 ? * MON,TUE,WED,THU,FRI,SAT,SUN ";
    let years = "2026";
    for (let y = 2027; `${head}${years},${y})`.length <= max; y++) years += `,${y}`;
    const cron = `${head}${years})`;
    for (const s of [cron, "cron(0 3 ? * MON-FRI *)", "rate(1 day)"]) if (accepts(s)) return s;
    throw new Error("no drift schedule accepted");
}

/** A 100-character key option string of allowed options (keyOptions: restrict, no-*, expiry-time, command). */
const KEY_OPTIONS = 'no-agent-forwarding,no-port-forwarding,no-pty,no-user-rc,no-x11-forwarding,expiry-time="20991231"';

/** A host CA's public key as KMS would give it (ECC_NIST_P256). */
const HOST_CA_LINE = sshPublicKeyFromSpki(
    require("crypto")
        .generateKeyPairSync("ec", { namedCurve: "prime256v1" })
        .publicKey.export({ format: "der", type: "spki" }),
    "host-ca",
);

function fleetArgs(
    fillers: number,
    extra: Partial<FleetModule.PkaFleetArgs> = {},
    ec2KeyName = fill(255, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."),
): FleetModule.PkaFleetArgs {
    return {
        fleetName: fill(32, "abcdefghijklmnopqrstuvwxyz0123456789-", "f"),
        targetTag: { key: fill(128, TARGET_TAG_CHARS, "K"), value: fill(256, TARGET_TAG_CHARS, "V") },
        fallbackPublicKey: key(0),
        triggers: [...ALL_TRIGGERS],
        logRetentionDays: 3653,
        keyRules: {
            allowedTypes: ["ed25519", "ecdsa", "rsa"],
            minRsaBits: 3072,
            allowedCurves: ["nistp256", "nistp384", "nistp521"],
            ec2ImportRsaBits: 4096,
            requirePassphrase: true,
        },
        tags: maxTags(),
        revokeOnDestroy: true,
        hostCertificates: {
            kmsKeyArn: "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            caPublicKey: HOST_CA_LINE,
            validity: "400d",
            hostPatterns: ["i-*", "*.compute.internal", "!bastion.example.com"],
        },
        users: [
            // The central server's service account: a generated key, registered in EC2 under the longest key name AWS takes.
            {
                name: "svc_user",
                sudo: "nopasswd",
                service: true,
                generateKey: { keyType: "ed25519", comment: comment("svc") },
                ec2KeyName,
                identityFile: `~/.ssh/${fill(240, "abcdefghijklmnopqrstuvwxyz0123456789._-")}`,
            },
            // A person: passphrase, PuTTY key, options, source addresses, an adopted account, another EC2 key pair.
            {
                name: userName(0, "p"),
                sudo: "nopasswd",
                generateKey: {
                    keyType: "ed25519",
                    passphrase: pulumi.secret("correct horse battery staple"),
                    ppk: true,
                    comment: comment("person"),
                },
                ec2KeyName: `${ec2KeyName.slice(0, 254)}2`,
                keyOptions: KEY_OPTIONS,
                fromCidrs: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "2001:db8::/32"],
                adopt: true,
            },
            // A key known only at deployment (an Output).
            { name: userName(0, "o"), publicKeys: [pulumi.output(key(1))] },
            // A user without a key of its own: the fallback key.
            { name: userName(0, "n") },
            ...Array.from({ length: fillers }, (_, n) => ({
                name: userName(n),
                sudo: (n % 2 ? "none" : "nopasswd") as "none" | "nopasswd",
                publicKeys: [key(n + 2)],
                keyOptions: KEY_OPTIONS,
            })),
        ],
        ...extra,
    };
}

/** The largest `fillers` PkaFleet's plan accepts (the spec and document within SSM's 64 KB), less a margin for generated keys' real comments. */
function largestFleetFillers(
    mod: typeof FleetModule,
    name: string,
    stack: string,
    extra: Partial<FleetModule.PkaFleetArgs> = {},
): number {
    const planned = largest(0, 400, (n) => {
        try {
            mod.planFleet(name, fleetArgs(n, extra), stack);
            return true;
        } catch (e) {
            if (!/64|KB|bytes|parameters/i.test((e as Error).message)) throw e;
            return false;
        }
    });
    // The plan sizes generated and Output keys with a short probe comment; their real ones are up to
    // 100 characters (3 such keys here), so keep 2 filler users (~330 bytes each) of margin.
    return Math.max(0, planned - 2);
}

// ---------------------------------------------------------------------------------------------
// The Lambda's requests: the local fleet with simulated hosts.

/** The largest spec the document takes: the fleet's service account plus filler users until documentParameters refuses. */
function largestSpec(serviceKey: string): AccessSpec {
    const build = (n: number) =>
        validateAccessSpec({
            users: [
                { name: "svc_user", sudo: "nopasswd", keys: [serviceKey] },
                ...Array.from({ length: n }, (_, i) => ({
                    name: userName(i),
                    sudo: i % 2 ? "none" : "nopasswd",
                    keys: [key(i + 2)],
                    keyOptions: KEY_OPTIONS,
                })),
            ],
        });
    const n = largest(0, 400, (k) => {
        try {
            documentParameters(build(k));
            return true;
        } catch {
            return false;
        }
    });
    return build(n);
}

/** Builds the Lambda bundle from the current sources (as test/local-fleet.test.ts does). */
function buildBundle(): string {
    const root = path.resolve(__dirname, "..");
    execFileSync(process.execPath, [path.join(root, "scripts", "bundle-lambda.js")], { cwd: root, stdio: "ignore" });
    const p = provisionerCodePath();
    if (!fs.existsSync(p)) throw new Error(`${p} was not built`);
    return p;
}

// ---------------------------------------------------------------------------------------------

describe("AWS's published service models (botocore) accept what pka-fleet sends", function () {
    this.timeout(180_000);

    before(function () {
        requireBotocore(this);
        const { version, dir } = botocoreInfo();
        console.log(
            `      botocore ${version} (${dir}): ${["sqs", "events", "iam", "logs", "lambda", "monitoring", "ssm", "ec2"].map((s) => `${s} ${loadModel(s).apiVersion}`).join(", ")}`,
        );
    });

    describe("the validator refuses broken copies (so these tests can fail)", () => {
        const target = {
            Rule: "web-provisioner-running-abcdef1",
            EventBusName: "default",
            Targets: [
                {
                    Id: "pka-provisioner-queue",
                    Arn: `arn:${PARTITION}:sqs:${REGION}:${ACCOUNT}:web-provisioner-queue-abcdef1`,
                },
            ],
        };
        const fn = {
            FunctionName: "web-provisioner-fn-abcdef1",
            Runtime: "nodejs22.x",
            Role: `arn:${PARTITION}:iam::${ACCOUNT}:role/web-provisioner-role-abcdef1`,
            Handler: "provisioner.handler",
            Code: { ZipFile: Buffer.from("PK\u0003\u0004") },
            Timeout: 60,
            MemorySize: 256,
        };

        it("valid requests have no problem", () => {
            assert.deepStrictEqual(validateRequest("events", "PutTargets", target), []);
            assert.deepStrictEqual(validateRequest("lambda", "CreateFunction", fn), []);
            assert.deepStrictEqual(validateRequest("sqs", "CreateQueue", { QueueName: "q".repeat(80) }), []);
        });

        it("a 65-character EventBridge target id", () => {
            const p = validateRequest("events", "PutTargets", {
                ...target,
                Targets: [{ ...target.Targets[0], Id: "t".repeat(65) }],
            });
            assert.deepStrictEqual(p, ["PutTargets Targets[0].Id: length 65 > max 64"]);
        });

        it("a missing required member", () => {
            const { Rule: _rule, ...noRule } = target;
            assert.deepStrictEqual(validateRequest("events", "PutTargets", noRule), [
                "PutTargets Rule: required member missing",
            ]);
            const { Role: _role, ...noRole } = fn;
            assert.deepStrictEqual(validateRequest("lambda", "CreateFunction", noRole), [
                "CreateFunction Role: required member missing",
            ]);
        });

        it("an invalid enum value (Runtime nodejs99.x)", () => {
            const p = validateRequest("lambda", "CreateFunction", { ...fn, Runtime: "nodejs99.x" });
            assert.strictEqual(p.length, 1, p.join("\n"));
            assert.match(p[0], /^CreateFunction Runtime: "nodejs99\.x" is not one of Runtime's values \(.*nodejs22\.x/);
        });

        it("an 81-character queue name (a limit AWS documents; botocore's SQS model has none)", () => {
            const p = validateRequest("sqs", "CreateQueue", { QueueName: "q".repeat(81) });
            assert.strictEqual(p.length, 1, p.join("\n"));
            assert.match(
                p[0],
                /^CreateQueue QueueName: .*\(81 characters\) is not 1-80 .*\[documented: Amazon SQS API Reference, CreateQueue/,
            );
            assert.deepStrictEqual(
                validateRequest("sqs", "CreateQueue", { QueueName: "q".repeat(81) }, { modelOnly: true }),
                [],
                "botocore's SQS model gained a QueueName limit: the documented one is redundant now",
            );
        });

        it("a pattern mismatch, an unknown member, a wrong type, a list over its maximum, an out-of-range integer", () => {
            assert.deepStrictEqual(validateRequest("events", "PutRule", { Name: "has space" }), [
                'PutRule Name: "has space" does not match the pattern [\\.\\-_A-Za-z0-9]+',
            ]);
            const unknown = validateRequest("events", "PutTargets", {
                ...target,
                Targets: [{ ...target.Targets[0], Ids: "x" }],
            });
            assert.strictEqual(unknown.length, 1, unknown.join("\n"));
            assert.match(unknown[0], /^PutTargets Targets\[0\]\.Ids: not a member of Target \(members: Id, Arn, /);
            assert.deepStrictEqual(validateRequest("lambda", "CreateFunction", { ...fn, MemorySize: "256" }), [
                'CreateFunction MemorySize: expected a whole number (integer); got string "256"',
            ]);
            assert.deepStrictEqual(
                validateRequest("monitoring", "PutMetricAlarm", {
                    AlarmName: "a",
                    AlarmActions: Array.from(
                        { length: 6 },
                        (_, i) => `arn:${PARTITION}:sns:${REGION}:${ACCOUNT}:t${i}`,
                    ),
                }),
                ["PutMetricAlarm AlarmActions: items 6 > max 5"],
            );
            assert.deepStrictEqual(
                validateRequest("events", "PutTargets", {
                    ...target,
                    Targets: [{ ...target.Targets[0], RetryPolicy: { MaximumRetryAttempts: 186 } }],
                }),
                ["PutTargets Targets[0].RetryPolicy.MaximumRetryAttempts: value 186 > max 185"],
            );
        });

        it("the patterns' JavaScript verdicts are collected for the Java cross-check", () => {
            const pairs: CheckedPattern[] = [];
            validateRequest("events", "PutTargets", target, { onPattern: collectPatterns(pairs) });
            assert.deepStrictEqual(
                pairs.map((p) => [p.path, p.input, p.js]),
                [
                    ["PutTargets Rule", target.Rule, true],
                    ["PutTargets EventBusName", "default", true],
                    ["PutTargets Targets[0].Id", "pka-provisioner-queue", true],
                ],
            );
        });
    });

    describe("resources: every AWS request the provider makes for PkaFleet and the Provisioner", () => {
        let codeBytes: Buffer;
        before(() => {
            const p = provisionerCodePath();
            if (!fs.existsSync(p)) buildBundle();
            codeBytes = fs.readFileSync(p);
        });

        async function deploy(
            stack: string,
            build: (mods: {
                fleet: typeof FleetModule;
                provisioner: typeof ProvisionerModule;
            }) => pulumi.Output<unknown>[],
        ): Promise<GovCloudMocks> {
            const mocks = new GovCloudMocks();
            watch(mocks);
            await pulumi.runtime.setMocks(mocks, "pka-fleet", stack, false);
            const fleet = await import("../components");
            const provisioner = await import("../components");
            for (const o of build({ fleet, provisioner })) await peek(o, 60_000);
            await settle(mocks);
            return mocks;
        }

        function report(what: string, r: CheckResult): void {
            console.log(
                `      ${what}: ${r.resources} AWS resources (${r.skipped} non-AWS skipped) -> ${r.requests} requests: ${summary(r.byOperation)}`,
            );
            assert.deepStrictEqual(
                r.problems,
                [],
                `${r.problems.length} problem(s) against botocore ${botocoreInfo().version}:\n${r.problems.join("\n")}`,
            );
        }

        it("PkaFleet: the longest resource name and fleetName, the largest spec, every option on", async () => {
            const stack = "production-eu-sovereign-payments-platform";
            let args!: FleetModule.PkaFleetArgs;
            let name = "";
            const mocks = await deploy(stack, ({ fleet }) => {
                const len = largest(1, 200, (n) => fleet.fleetResourceNameProblem("r".repeat(n)) === undefined);
                name = fill(len, "abcdefghijklmnopqrstuvwxyz0123456789-", "w");
                const probe = fleetArgs(0);
                const schedule = longestSchedule((s) => {
                    try {
                        fleet.planFleet(name, { ...probe, driftCorrectionSchedule: s }, stack);
                        return true;
                    } catch {
                        return false;
                    }
                });
                const fillers = largestFleetFillers(fleet, name, stack, { driftCorrectionSchedule: schedule });
                args = fleetArgs(fillers, { driftCorrectionSchedule: schedule });
                console.log(
                    `      resource name ${name.length} characters, fleetName ${args.fleetName!.length}, ${args.users.length} users, drift schedule ${schedule.length} characters, ${Object.keys(args.tags!).length} tags`,
                );
                const f = new fleet.PkaFleet(name, args);
                // The host CA in KMS beside it (CreateKey with its policy).
                const ca = new fleet.SshCertificateAuthority("host-ca", {
                    kind: "host",
                    kms: { deletionWindowInDays: 7 },
                });
                return [f.accessSpecHash, f.queueUrl, f.documentName, f.privateKeys, ca.publicKey];
            });
            const r = checkCreated(mocks, codeBytes, "PkaFleet longest");
            assert.ok(
                r.byOperation["ec2 ImportKeyPair"] === 2 &&
                    r.byOperation["ssm PutParameter"] >= 2 &&
                    r.byOperation["kms CreateKey"] === 1 &&
                    r.byOperation["kms CreateGrant"] === 1 &&
                    r.byOperation["ssm CreateDocument"] === 2,
                `every feature on: ${summary(r.byOperation)}`,
            );
            report("PkaFleet", r);
        });

        it("PkaFleet: the most access parameters (keys known only at deployment reserve the most slots)", async () => {
            const mocks = await deploy("prod", ({ fleet }) => {
                const base = fleetArgs(0);
                // Each Output key reserves an RSA-16384's bytes: add them until the plan refuses (ACCESS_MAX_CHUNKS).
                const withOutputs = (n: number): FleetModule.PkaFleetArgs => ({
                    ...base,
                    users: [
                        ...base.users,
                        {
                            name: userName(0, "m"),
                            publicKeys: Array.from({ length: n }, (_, i) => pulumi.output(key(i + 2))),
                        },
                    ],
                });
                // The plan reserves room for keys up to RSA-16384; the real (ed25519) keys must also fit
                // SSM's 64 KB command once they resolve, or the deploy refuses them (and nothing resolves).
                const resolvedFits = (plan: ReturnType<typeof fleet.planFleet>) => {
                    const standIn = (name: string, j: number) =>
                        name === userName(0, "m") ? key(j + 2) : name === userName(0, "o") ? key(1) : key(0);
                    const keysByUser = plan.users.map((u) => [
                        ...u.plainKeys,
                        ...Array.from({ length: u.pendingKeys }, (_, j) => standIn(u.name, j)),
                    ]);
                    documentParameters(buildAccessSpec(plan, keysByUser));
                    return true;
                };
                const n = largest(0, 400, (k) => {
                    try {
                        return resolvedFits(fleet.planFleet("many", withOutputs(k), "prod"));
                    } catch {
                        return false;
                    }
                });
                const plan = fleet.planFleet("many", withOutputs(n), "prod");
                console.log(`      ${n} keys known only at deployment: ${plan.slots} access parameters`);
                const f = new fleet.PkaFleet("many", withOutputs(n));
                return [f.accessSpecHash, f.queueUrl];
            });
            report("PkaFleet (most parameters)", checkCreated(mocks, codeBytes, "PkaFleet most parameters"));
        });

        it("Provisioner: the longest resource name, every limit at its maximum, every option on", async () => {
            const mocks = await deploy("prod", ({ provisioner }) => {
                const len = largest(1, 200, (n) => provisioner.provisionerNameProblem("p".repeat(n)) === undefined);
                const name = fill(len, "abcdefghijklmnopqrstuvwxyz0123456789-", "p");
                const documentName = fill(
                    128,
                    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
                    "d",
                );
                const fleetName = fill(32, "abcdefghijklmnopqrstuvwxyz0123456789-", "f");
                const schedule = longestSchedule((s) => provisioner.driftScheduleError(s) === undefined);
                console.log(
                    `      resource name ${name.length} characters, document name ${documentName.length}, drift schedule ${schedule.length}`,
                );
                const p = new provisioner.Provisioner(name, {
                    documentName,
                    // No documentArn: region, account and partition come from the provider (the GovCloud calls above).
                    targetTag: { key: fill(128, TARGET_TAG_CHARS, "K"), value: fill(256, TARGET_TAG_CHARS, "V") },
                    accessParameterPath: `/pka/${fleetName}/access`,
                    knownHostsPath: `/pka/${fleetName}/known_hosts`,
                    accessSpecHash: "0123456789abcdef".repeat(4),
                    triggers: [...ALL_TRIGGERS],
                    batchSize: 10_000,
                    batchingWindowSeconds: 300,
                    maxReceiveCount: 1000,
                    maxAttempts: 20,
                    maximumConcurrency: 1000,
                    logRetentionDays: 3653,
                    timeoutSeconds: 900,
                    memorySize: 10_240,
                    alarmActions: Array.from(
                        { length: 5 },
                        (_, i) =>
                            `arn:${PARTITION}:sns:${REGION}:${ACCOUNT}:${fill(256, "abcdefghijklmnopqrstuvwxyz0123456789-_", String(i))}`,
                    ),
                    keyRules: {
                        allowedTypes: ["ed25519", "ecdsa", "rsa"],
                        minRsaBits: 3072,
                        allowedCurves: ["nistp256", "nistp384", "nistp521"],
                        ec2ImportRsaBits: 4096,
                        requirePassphrase: true,
                    },
                    tags: maxTags(50),
                    fleetName,
                    driftCorrectionSchedule: schedule,
                    revokeOnDestroy: true,
                });
                return [p.queueUrl, p.dlqUrl, p.functionArn, p.roleArn, p.alarmName, p.ruleNames];
            });
            report("Provisioner", checkCreated(mocks, codeBytes, "Provisioner longest"));
        });

        it("a resource type without a mapping fails (new resources cannot slip by)", () => {
            const mocks = new GovCloudMocks();
            const m = mapCreated(
                { type: "aws:lambda/permission:Permission", name: "x", inputs: {}, id: "x" },
                mocks,
                Buffer.alloc(0),
            );
            assert.deepStrictEqual(m.unmapped, [
                "aws:lambda/permission:Permission x: no mapping to the provider's API requests (add one to MAPPERS in test/aws-models.test.ts, from the provider's source)",
            ]);
            const n = mapCreated(
                { type: "aws:sqs/queue:Queue", name: "q", inputs: { fifoThroughputLimit: "perQueue" }, id: "q" },
                mocks,
                Buffer.alloc(0),
            );
            assert.match(n.unmapped.join("\n"), /does not know the input `fifoThroughputLimit`/);
            assert.strictEqual(
                mapCreated(
                    { type: "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey", name: "k", inputs: {}, id: "k" },
                    mocks,
                    Buffer.alloc(0),
                ).skipped,
                true,
            );
        });
    });

    describe("the Lambda's requests to SSM, SQS and EC2 (local fleet, simulated hosts)", () => {
        it("every request the real bundled Lambda sent in a fleet's life conforms", async function () {
            const { LocalFleet } = await import("../local/fleet");
            buildBundle();
            const LATE = 1;
            const FAILING = 3;
            const fleet = await LocalFleet.create({
                hosts: 6,
                simulated: true,
                fleetName: fill(32, "abcdefghijklmnopqrstuvwxyz0123456789-", "f"),
                visibilityTimeoutMs: 1000,
                maxReceiveCount: 20,
                maxAttempts: 2,
                // Online after the first look (the batching window is the deployed 5 s): it waits in a wait message.
                agentDelayMs: (i) => (i === LATE ? 8000 : 0),
                failingHosts: [FAILING],
                knobs: { throttle: { ratePerSecond: 25 } },
            });
            try {
                const started = Date.now();
                fleet.launchAll();
                // An instance without the fleet's tag: the Lambda checks its tags (ec2:DescribeInstances) and skips it.
                const stranger = fleet.endpoint.addInstance({
                    tags: { Name: "not-in-the-fleet" },
                    runner: async () => ({ exitCode: 0, stdout: "", stderr: "" }),
                });
                fleet.endpoint.launch(stranger.instanceId, 0);
                await fleet.settle(60_000, (h) => h.provisionedAt !== undefined || h.result === "dead-lettered");
                assert.ok(
                    fleet.hosts.filter((h) => h.index !== FAILING).every((h) => h.provisionedAt !== undefined),
                    `not provisioned: ${fleet.hosts
                        .filter((h) => !h.provisionedAt)
                        .map((h) => h.name)
                        .join(", ")}`,
                );
                assert.strictEqual(fleet.hosts[FAILING].result, "dead-lettered");

                // The largest spec the document takes, pushed to every host.
                await fleet.deploySpec(largestSpec(fleet.publicKey));
                await fleet.settlePush(fleet.push("rotation"), 60_000);

                // A parameter writer's forged spec (no deploy): refused, and the refusal dead-lettered.
                const deployed = fleet.spec;
                fleet.storeSpec(
                    validateAccessSpec({
                        users: [...deployed.users, { name: "mallory", sudo: "nopasswd", keys: [key(399)] }],
                    }),
                    Date.now() - 600_000,
                );
                fleet.push("forged");
                const end = Date.now() + patience(30_000);
                while (
                    Date.now() < end &&
                    !fleet.dlq.peek().some((m) => JSON.parse(m.body).reason === "access-spec-refused")
                )
                    await new Promise((r) => setTimeout(r, 100));
                const refused = fleet.dlq.peek().some((m) => JSON.parse(m.body).reason === "access-spec-refused");
                fleet.storeSpec(deployed);
                console.log(
                    `      forged spec ${refused ? "refused and dead-lettered" : "not dead-lettered within 30 s"}`,
                );
                console.log(
                    `      fleet run ${((Date.now() - started) / 1000).toFixed(1)} s, ${fleet.lambdaInvocations} Lambda invocations`,
                );
            } finally {
                await fleet.stop();
            }

            const requests = fleet.endpoint.requests;
            const byOperation: Record<string, number> = {};
            const problems: string[] = [];
            for (const r of requests) {
                const k = `${r.service} ${r.action}`;
                byOperation[k] = (byOperation[k] ?? 0) + 1;
                // The EC2 Query protocol's envelope (Action, Version) is not part of the operation's input.
                const input =
                    r.service === "ec2"
                        ? Object.fromEntries(Object.entries(r.input).filter(([x]) => x !== "Action" && x !== "Version"))
                        : r.input;
                problems.push(
                    ...validateRequest(r.service, r.action, input, { onPattern }).map((p) => `${r.service} ${p}`),
                );
            }
            console.log(`      ${requests.length} requests: ${summary(byOperation)}`);
            for (const op of [
                "ssm SendCommand",
                "ssm GetCommandInvocation",
                "ssm ListCommandInvocations",
                "ssm DescribeInstanceInformation",
                "ssm GetParametersByPath",
                "ssm GetParameters",
                "ssm PutParameter",
                "sqs SendMessage",
                "ec2 DescribeInstances",
            ]) {
                assert.ok(
                    byOperation[op] > 0,
                    `the scenarios never made the Lambda call ${op}: ${summary(byOperation)}`,
                );
            }
            // A wait message (to the wait queue, a FIFO queue: its group and a deduplication id, no per-message delay) is among the requests the models checked.
            assert.ok(
                requests.some(
                    (r) =>
                        r.action === "SendMessage" &&
                        String(r.input.QueueUrl).endsWith(".fifo") &&
                        typeof r.input.MessageGroupId === "string" &&
                        typeof r.input.MessageDeduplicationId === "string" &&
                        r.input.DelaySeconds === undefined &&
                        String(r.input.MessageBody).includes('"pka-fleet.wait"'),
                ),
                "no wait message was validated",
            );
            // One problem per operation and member is enough to read; the count says how many.
            const distinct = [...new Set(problems)];
            assert.deepStrictEqual(
                distinct,
                [],
                `${problems.length} problem(s) (${distinct.length} distinct) against botocore ${botocoreInfo().version}:\n${distinct.slice(0, 40).join("\n")}`,
            );
        });
    });

    describe("inputs pka-fleet passes through unchecked: refused before any resource exists when AWS would refuse them", () => {
        /** Builds a fleet with `args` under the GovCloud mocks: the problems AWS's model finds in the provider's requests, or the plan's refusal. */
        async function attempt(
            build: (mods: {
                fleet: typeof FleetModule;
                provisioner: typeof ProvisionerModule;
            }) => pulumi.Output<unknown>[],
        ): Promise<{ refused?: string; problems: string[] }> {
            const mocks = new GovCloudMocks();
            watch(mocks);
            await pulumi.runtime.setMocks(mocks, "pka-fleet", "prod", false);
            const fleet = await import("../components");
            const provisioner = await import("../components");
            let outputs: pulumi.Output<unknown>[];
            try {
                outputs = build({ fleet, provisioner });
            } catch (e) {
                return { refused: (e as Error).message, problems: [] };
            }
            // Outputs of a refused resource never resolve: wait for the registrations to stop instead.
            void outputs;
            await settle(mocks, 500);
            return { problems: checkCreated(mocks, fs.readFileSync(provisionerCodePath()), "probe").problems };
        }

        function expectRefused(what: string, r: { refused?: string; problems: string[] }): void {
            assert.ok(
                r.refused !== undefined,
                `pka-fleet accepts ${what}, and AWS refuses what the provider then sends:\n${r.problems.join("\n") || "(no problem found either: the probe is wrong)"}`,
            );
        }

        it("ec2KeyName of 256 characters (EC2 ImportKeyPair KeyName: up to 255 ASCII characters)", async () => {
            expectRefused(
                "an ec2KeyName of 256 characters",
                await attempt(({ fleet }) => {
                    const f = new fleet.PkaFleet("web", {
                        fleetName: "web",
                        users: [
                            {
                                name: "svc_user",
                                sudo: "nopasswd",
                                service: true,
                                generateKey: { keyType: "ed25519" },
                                ec2KeyName: "k".repeat(256),
                            },
                        ],
                    });
                    return [f.accessSpecHash, f.queueUrl];
                }),
            );
        });

        it("50 tags of its own (PkaFleet adds pka-fleet:fleet: 51 tags, over the 50 IAM CreateRole and AWS's tagging take)", async () => {
            const r = await attempt(({ fleet }) => {
                const f = new fleet.PkaFleet("web", {
                    fleetName: "web",
                    users: [{ name: "carol", publicKeys: [key(0)] }],
                    tags: maxTags(50),
                });
                return [f.accessSpecHash, f.queueUrl];
            });
            // The AWS mocks refuse the first tagged children (document, parameters), so the role is never
            // registered: the model's verdict on the role PkaFleet would create, with the same 51 tags.
            const role = validateRequest(
                "iam",
                "CreateRole",
                {
                    RoleName: "web-provisioner-role-abcdef1",
                    AssumeRolePolicyDocument: "{}",
                    ...tagList({ ...maxTags(50), "pka-fleet:fleet": "web" }),
                },
                { modelOnly: true },
            );
            expectRefused("50 user tags", {
                ...r,
                problems: [...r.problems, ...role.map((p) => `aws:iam/role:Role web-provisioner-role -> iam ${p}`)],
            });
        });

        it("a drift schedule of 257 characters (EventBridge PutRule ScheduleExpression: at most 256)", async () => {
            expectRefused(
                "a 257-character driftCorrectionSchedule",
                await attempt(({ fleet }) => {
                    // A rate's value is any positive integer to pka-fleet: 246 digits make 257 characters.
                    const s = `rate(${"9".repeat(246)} days)`;
                    assert.strictEqual(s.length, 257);
                    const f = new fleet.PkaFleet("web", {
                        fleetName: "web",
                        users: [{ name: "carol", publicKeys: [key(0)] }],
                        driftCorrectionSchedule: s,
                    });
                    return [f.accessSpecHash, f.queueUrl];
                }),
            );
        });

        it("6 alarm actions (CloudWatch PutMetricAlarm AlarmActions: at most 5)", async () => {
            expectRefused(
                "6 alarmActions",
                await attempt(({ provisioner }) => {
                    const p = new provisioner.Provisioner("web", {
                        documentName: "web-setup",
                        targetTag: { key: "pka-fleet", value: "web" },
                        accessParameterPath: "/pka/web/access",
                        accessSpecHash: "0123456789abcdef".repeat(4),
                        alarmActions: Array.from(
                            { length: 6 },
                            (_, i) => `arn:${PARTITION}:sns:${REGION}:${ACCOUNT}:ops-${i}`,
                        ),
                    });
                    return [p.queueUrl, p.alarmName];
                }),
            );
        });
    });

    describe("java.util.regex agrees with the JavaScript verdicts on every pattern checked", () => {
        it("every (pattern, value) pair collected above has the same verdict in Java (full match)", async function () {
            requireReal(this, { commands: ["java", "javac"] });
            assert.ok(PATTERNS.length > 0, "no pattern was checked: the tests above did not run");
            const pairs: RegexPair[] = PATTERNS.map((p) => ({ pattern: p.pattern, input: p.input }));
            const java: Verdict[] = await javaMatches(pairs);
            const differ = PATTERNS.map((p, i) => ({ p, j: java[i] })).filter(
                ({ p, j }) => JSON.stringify(p.js) !== JSON.stringify(j),
            );
            console.log(
                `      ${PATTERNS.length} distinct (pattern, value) pairs, ${new Set(PATTERNS.map((p) => p.pattern)).size} patterns: ${PATTERNS.length - differ.length} agree`,
            );
            assert.deepStrictEqual(
                differ.map(
                    ({ p, j }) =>
                        `${p.path}: /${p.pattern}/ on ${JSON.stringify(p.input.length > 80 ? `${p.input.slice(0, 80)}...` : p.input)}: JavaScript ${showVerdict(p.js as Verdict)}, Java ${showVerdict(j)}`,
                ),
                [],
            );
        });
    });
});
