/**
 * AWS as Pulumi mocks that reject what AWS would reject, shared by the fleet, stack-program,
 * package-entry and analyzer tests.
 */
import * as pulumi from "@pulumi/pulumi";
import { patience } from "./patience";

// ---------------------------------------------------------------------------------------------
// AWS as mocks: every resource type the package creates, with AWS's own limits; anything else throws.

export interface Created {
    type: string;
    name: string;
    inputs: any;
    id: string;
}

const RETENTION = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];
const DEPRECATED_RUNTIMES = [
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "nodejs18.x",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
];

function reject(type: string, name: string, msg: string): never {
    throw new Error(`AWS would reject ${type} ${name}: ${msg}`);
}

function checkTags(type: string, name: string, tags: any): void {
    if (tags === undefined) return;
    const entries = Object.entries(tags ?? {});
    if (entries.length > 50) reject(type, name, "more than 50 tags");
    for (const [k, v] of entries) {
        if (k.length < 1 || k.length > 128) reject(type, name, `tag key ${JSON.stringify(k)} must be 1-128 characters`);
        if (typeof v !== "string" || v.length > 256)
            reject(type, name, `tag ${k} value must be a string of at most 256 characters`);
        if (k.toLowerCase().startsWith("aws:")) reject(type, name, `tag key ${k} uses the reserved aws: prefix`);
    }
}

/** An IAM policy document as IAM checks it: JSON, Version, Statement with Effect/Action/Resource (or Principal). */
export function checkPolicy(
    type: string,
    name: string,
    text: unknown,
    kind: "trust" | "identity",
    maxBytes: number,
): void {
    if (typeof text !== "string") reject(type, name, "policy must be a JSON string");
    if (Buffer.byteLength(text) > maxBytes)
        reject(type, name, `policy is ${Buffer.byteLength(text)} bytes, over ${maxBytes}`);
    let doc: any;
    try {
        doc = JSON.parse(text);
    } catch {
        return reject(type, name, "MalformedPolicyDocument: not JSON");
    }
    if (doc.Version !== "2012-10-17") reject(type, name, 'MalformedPolicyDocument: Version must be "2012-10-17"');
    const st = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
    if (st.length === 0 || st.some((s: any) => !s || typeof s !== "object"))
        reject(type, name, "MalformedPolicyDocument: Statement missing");
    for (const s of st) {
        if (s.Effect !== "Allow" && s.Effect !== "Deny")
            reject(type, name, "MalformedPolicyDocument: Effect must be Allow or Deny");
        if (s.Action === undefined && s.NotAction === undefined)
            reject(type, name, "MalformedPolicyDocument: statement without Action");
        if (kind === "identity" && s.Resource === undefined && s.NotResource === undefined)
            reject(type, name, "MalformedPolicyDocument: statement without Resource");
        if (kind === "trust" && s.Principal === undefined)
            reject(type, name, "MalformedPolicyDocument: trust statement without Principal");
        if (kind === "identity" && s.Principal !== undefined)
            reject(type, name, "MalformedPolicyDocument: identity policy with Principal");
    }
}

/**
 * Why EventBridge would refuse a schedule expression (EventBridge User Guide, "Schedule expressions
 * for rules"), or undefined: `rate(value unit)` with a positive integer and minute(s), hour(s) or
 * day(s), singular exactly when the value is 1; `cron(...)` with six fields (minutes hours
 * day-of-month month day-of-week year), exactly one of day-of-month and day-of-week `?`.
 */
export function eventBridgeScheduleProblem(expr: unknown): string | undefined {
    if (typeof expr !== "string") return "not a string";
    const rate = /^rate\(([1-9]\d*) (minute|minutes|hour|hours|day|days)\)$/.exec(expr);
    if (rate)
        return (rate[1] === "1") === !rate[2].endsWith("s")
            ? undefined
            : "the unit must be singular for 1 and plural otherwise";
    const cron = /^cron\(([^()]*)\)$/.exec(expr);
    if (!cron) return "neither rate(value unit) nor cron(fields)";
    const f = cron[1].trim().split(/\s+/);
    if (f.length !== 6) return `cron needs 6 fields, got ${f.length}`;
    if (!/^[0-9*,\-/]+$/.test(f[0]) || !/^[0-9*,\-/]+$/.test(f[1]) || !/^[0-9*,\-/]+$/.test(f[5]))
        return "minutes, hours and year take digits and * , - / only";
    if ((f[2] === "?") === (f[4] === "?")) return "exactly one of day-of-month and day-of-week must be ?";
    return undefined;
}

/** EventBridge PutTargets Id: 1-64 characters of [.\-_A-Za-z0-9]. */
const TARGET_ID = /^[.\-_A-Za-z0-9]{1,64}$/;
/** EventBridge PutRule Name: 1-64 characters of [.\-_A-Za-z0-9]. */
const RULE_NAME = /^[.\-_A-Za-z0-9]{1,64}$/;
/** SSM PutParameter Name: letters, digits and _ . - / only. */
const PARAMETER_NAME = /^[a-zA-Z0-9_.\-/]+$/;

function isJson(text: unknown): boolean {
    if (typeof text !== "string") return false;
    try {
        JSON.parse(text);
        return true;
    } catch {
        return false;
    }
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
/** Mocks receive secret inputs as Pulumi's wire wrapper; the value inside is what AWS gets. */
export function unsecret(v: any): any {
    return v && typeof v === "object" && SECRET_SIG in v ? v.value : v;
}

export class AwsMocks implements pulumi.runtime.Mocks {
    /** Custom (cloud) resources. */
    readonly created: Created[] = [];
    /** Every registration, components included. */
    readonly registered: string[] = [];
    readonly calls: string[] = [];

    /** Refusals, so a test can say why an output never resolved. */
    readonly errors: string[] = [];
    /** Target ids per rule name: PutTargets ids are unique within a rule. */
    private readonly targetIds = new Map<string, Set<string>>();

    newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, any> } {
        try {
            return this.newResourceChecked(args);
        } catch (e) {
            this.errors.push((e as Error).message);
            throw e;
        }
    }

    private newResourceChecked(args: pulumi.runtime.MockResourceArgs): {
        id: string | undefined;
        state: Record<string, any>;
    } {
        const { type, name } = args;
        const i = args.inputs ?? {};
        this.registered.push(`${type}::${name}`);
        if (type.startsWith("pka-fleet:index:") || type === "pulumi:pulumi:Stack") return { id: undefined, state: {} };
        const id = `${name}-id`;
        const region = "eu-west-1";
        const account = "123456789012";
        let state: Record<string, any> = { ...i };
        checkTags(type, name, i.tags);
        switch (type) {
            case "pulumi-nodejs:dynamic:Resource":
            case "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey": {
                // SshKeyPair's generated key: run the real provider's create (real key material).
                const { createKey } = require("../../components/keyPairProvider");
                const plain = Object.fromEntries(
                    Object.entries(i)
                        .filter(([k]) => k !== "__provider")
                        .map(([k, v]) => [k, unsecret(v)]),
                );
                return createKey(plain).then(
                    (r: any) => {
                        this.created.push({ type, name, inputs: i, id: r.id });
                        return { id: r.id, state: { ...i, ...r.outs } };
                    },
                    (e: Error) => {
                        this.errors.push(`${type} ${name}: ${e.message}`);
                        throw e;
                    },
                ) as any;
            }
            case "aws:ssm/parameter:Parameter": {
                const pname = i.name ?? name;
                if (typeof pname !== "string" || pname.length === 0 || !PARAMETER_NAME.test(pname))
                    reject(
                        type,
                        name,
                        `ValidationException: a parameter name takes only letters, digits and _ . - /; got ${JSON.stringify(pname)}`,
                    );
                if (pname.includes("//") || (pname.length > 1 && pname.endsWith("/")))
                    reject(type, name, `ValidationException: empty level in parameter name ${pname}`);
                if (i.description !== undefined && String(i.description).length > 1024)
                    reject(type, name, "description longer than 1024 characters");
                if (i.tier !== undefined && !["Standard", "Advanced", "Intelligent-Tiering"].includes(i.tier))
                    reject(type, name, `tier must be Standard, Advanced or Intelligent-Tiering; got ${i.tier}`);
                if (pname.includes("/") && !pname.startsWith("/"))
                    reject(
                        type,
                        name,
                        `ValidationException: a parameter name with / must be fully qualified (start with /): ${pname}`,
                    );
                if (pname.length > 1011) reject(type, name, "parameter name longer than 1011 characters");
                if (pname.split("/").length - 1 > 15)
                    reject(type, name, "HierarchyLevelLimitExceededException: more than 15 levels");
                if (/^\/?(aws|ssm)/i.test(pname)) reject(type, name, "names starting with aws or ssm are reserved");
                if (!["String", "StringList", "SecureString"].includes(i.type))
                    reject(type, name, `type must be String, StringList or SecureString; got ${i.type}`);
                const max = i.tier === "Advanced" ? 8192 : 4096;
                const value = unsecret(i.value ?? i.insecureValue);
                if ((i.value === undefined) === (i.insecureValue === undefined))
                    reject(type, name, "exactly one of value and insecureValue");
                if (typeof value !== "string" || value.length === 0)
                    reject(type, name, "value must be a non-empty string");
                if (Buffer.byteLength(value) > max)
                    reject(
                        type,
                        name,
                        `value is ${Buffer.byteLength(value)} bytes, over the ${i.tier ?? "Standard"} tier's ${max}`,
                    );
                state = { ...i, arn: `arn:aws:ssm:${region}:${account}:parameter${pname}`, name: pname, version: 1 };
                break;
            }
            case "aws:ssm/document:Document": {
                const content = i.content;
                if (typeof content !== "string" || Buffer.byteLength(content) > 64 * 1024)
                    reject(type, name, "content missing or over 64 KB");
                if ((i.documentFormat ?? "JSON") === "JSON") {
                    let doc: any;
                    try {
                        doc = JSON.parse(content);
                    } catch {
                        reject(type, name, "InvalidDocumentContent: not JSON");
                    }
                    if (i.documentType === "Command" && doc.schemaVersion !== "2.2")
                        reject(type, name, "a Command document here must be schemaVersion 2.2");
                }
                const dname = i.name ?? name;
                if (!/^[a-zA-Z0-9_.-]{3,128}$/.test(dname) || /^(aws|amazon|amzn)/i.test(dname))
                    reject(type, name, `invalid document name ${dname}`);
                state = {
                    ...i,
                    name: dname,
                    arn: `arn:aws:ssm:${region}:${account}:document/${dname}`,
                    hashType: "Sha256",
                    status: "Active",
                };
                break;
            }
            case "aws:ssm/association:Association": {
                if (i.scheduleExpression !== undefined && !/^(rate\(.+\)|cron\(.+\))$/.test(i.scheduleExpression))
                    reject(type, name, "invalid schedule expression");
                for (const [k, v] of Object.entries(i.parameters ?? {}))
                    if (typeof v !== "string") reject(type, name, `parameter ${k} must be a string`);
                if (!Array.isArray(i.targets) || i.targets.length === 0 || i.targets.length > 5)
                    reject(type, name, "targets: 1-5 required");
                state = { ...i, associationId: `${name}-assoc` };
                break;
            }
            case "aws:iam/role:Role":
                checkPolicy(type, name, i.assumeRolePolicy, "trust", 2048);
                if (i.name !== undefined && i.name.length > 64)
                    reject(type, name, "role name longer than 64 characters");
                state = { ...i, arn: `arn:aws:iam::${account}:role/${i.name ?? name}`, name: i.name ?? name };
                break;
            case "aws:iam/rolePolicy:RolePolicy":
                checkPolicy(type, name, i.policy, "identity", 10240);
                break;
            case "aws:iam/policy:Policy":
                checkPolicy(type, name, i.policy, "identity", 6144);
                state = { ...i, arn: `arn:aws:iam::${account}:policy/${i.name ?? name}` };
                break;
            case "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
                if (!/^arn:aws:iam::(aws|\d{12}):policy\//.test(i.policyArn ?? ""))
                    reject(type, name, `policyArn is not a policy ARN: ${i.policyArn}`);
                break;
            case "aws:cloudwatch/logGroup:LogGroup":
                if (i.retentionInDays !== undefined && !RETENTION.includes(i.retentionInDays))
                    reject(type, name, `retentionInDays ${i.retentionInDays} is not a CloudWatch value`);
                state = {
                    ...i,
                    arn: `arn:aws:logs:${region}:${account}:log-group:${i.name ?? name}`,
                    name: i.name ?? name,
                };
                break;
            case "aws:sqs/queue:Queue":
                if (
                    i.visibilityTimeoutSeconds !== undefined &&
                    (i.visibilityTimeoutSeconds < 0 || i.visibilityTimeoutSeconds > 43200)
                )
                    reject(type, name, "visibilityTimeoutSeconds out of 0-43200");
                if (
                    i.messageRetentionSeconds !== undefined &&
                    (i.messageRetentionSeconds < 60 || i.messageRetentionSeconds > 1209600)
                )
                    reject(type, name, "messageRetentionSeconds out of 60-1209600");
                if (i.redrivePolicy !== undefined) {
                    const r = JSON.parse(i.redrivePolicy);
                    if (!r.deadLetterTargetArn || !(r.maxReceiveCount >= 1 && r.maxReceiveCount <= 1000))
                        reject(type, name, "redrivePolicy needs deadLetterTargetArn and maxReceiveCount 1-1000");
                    // "The dead-letter queue of a FIFO queue must also be a FIFO queue" (and a standard queue's, a standard queue).
                    else if (String(r.deadLetterTargetArn).endsWith(".fifo") !== !!i.fifoQueue)
                        reject(
                            type,
                            name,
                            "a FIFO queue's dead-letter queue must be FIFO, a standard queue's standard",
                        );
                }
                // SQS CreateQueue: a FIFO queue's name ends in .fifo (the provider appends it to an auto-name), a
                // standard queue's does not; ContentBasedDeduplication is a FIFO attribute; DelaySeconds 0-900.
                if (i.name !== undefined && !!i.fifoQueue !== String(i.name).endsWith(".fifo"))
                    reject(type, name, "a FIFO queue's name ends with .fifo, and only a FIFO queue's");
                if (i.contentBasedDeduplication && !i.fifoQueue)
                    reject(type, name, "contentBasedDeduplication is for FIFO queues");
                if (i.delaySeconds !== undefined && (i.delaySeconds < 0 || i.delaySeconds > 900))
                    reject(type, name, "delaySeconds out of 0-900");
                {
                    const qn = i.name ?? (i.fifoQueue ? `${name}.fifo` : name);
                    state = {
                        ...i,
                        name: qn,
                        arn: `arn:aws:sqs:${region}:${account}:${qn}`,
                        url: `https://sqs.${region}.amazonaws.com/${account}/${qn}`,
                    };
                }
                break;
            case "aws:sqs/queuePolicy:QueuePolicy":
                checkPolicy(type, name, i.policy, "trust", 20480);
                break;
            case "aws:lambda/function:Function":
                if (DEPRECATED_RUNTIMES.includes(i.runtime)) reject(type, name, `runtime ${i.runtime} is deprecated`);
                if (i.timeout !== undefined && (i.timeout < 1 || i.timeout > 900))
                    reject(type, name, "timeout out of 1-900");
                if (i.memorySize !== undefined && (i.memorySize < 128 || i.memorySize > 10240))
                    reject(type, name, "memorySize out of 128-10240");
                for (const [k, v] of Object.entries(i.environment?.variables ?? {}))
                    if (typeof v !== "string") reject(type, name, `environment ${k} must be a string`);
                state = {
                    ...i,
                    arn: `arn:aws:lambda:${region}:${account}:function:${i.name ?? name}`,
                    name: i.name ?? name,
                };
                break;
            case "aws:lambda/eventSourceMapping:EventSourceMapping":
                if (i.batchSize !== undefined && (i.batchSize < 1 || i.batchSize > 10000))
                    reject(type, name, "batchSize out of range");
                state = { ...i, uuid: `${name}-uuid` };
                break;
            case "aws:lambda/invocation:Invocation": {
                // The provider (aws_lambda_invocation): input a JSON document; lifecycle_scope CREATE_ONLY or CRUD; with
                // CRUD it adds `<terraformKey>: { action, prev_input }` to the input, so the input must be a JSON object.
                if (typeof i.functionName !== "string" || i.functionName === "")
                    reject(type, name, "functionName is required");
                if (!isJson(i.input)) reject(type, name, "input must be a JSON document");
                const scope = i.lifecycleScope ?? "CREATE_ONLY";
                if (scope !== "CREATE_ONLY" && scope !== "CRUD")
                    reject(type, name, `lifecycleScope must be CREATE_ONLY or CRUD; got ${JSON.stringify(scope)}`);
                const parsed = JSON.parse(i.input);
                if (scope === "CRUD" && (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)))
                    reject(
                        type,
                        name,
                        "with lifecycleScope CRUD the input must be a JSON object (the provider adds its tf key)",
                    );
                if (scope === "CRUD" && (i.terraformKey ?? "tf") in parsed)
                    reject(
                        type,
                        name,
                        `the input already has the key ${i.terraformKey ?? "tf"} the provider adds with lifecycleScope CRUD`,
                    );
                if (Buffer.byteLength(i.input) > 6 * 1024 * 1024)
                    reject(type, name, "input over Lambda's 6 MB synchronous payload");
                state = { ...i, result: "{}" };
                break;
            }
            case "aws:cloudwatch/eventTarget:EventTarget": {
                if (typeof i.rule !== "string" || i.rule === "") reject(type, name, "rule is required");
                if (typeof i.arn !== "string" || !i.arn.startsWith("arn:"))
                    reject(type, name, `arn must be the target's ARN; got ${i.arn}`);
                // Without targetId the provider generates one (a unique id of 26 characters), which fits; an explicit one is checked.
                if (i.targetId !== undefined && !TARGET_ID.test(i.targetId))
                    reject(
                        type,
                        name,
                        `ValidationException: target Id must be 1-64 characters of [.\\-_A-Za-z0-9]; got ${JSON.stringify(i.targetId)}`,
                    );
                const given = [i.input, i.inputPath, i.inputTransformer].filter((x) => x !== undefined).length;
                if (given > 1) reject(type, name, "only one of input, inputPath and inputTransformer");
                if (i.input !== undefined && !isJson(i.input))
                    reject(type, name, "ValidationException: input is not valid JSON");
                if (i.input !== undefined && i.input.length > 8192)
                    reject(type, name, "input longer than 8192 characters");
                const id = i.targetId ?? name;
                const ids = this.targetIds.get(i.rule) ?? new Set<string>();
                if (ids.has(id)) reject(type, name, `rule ${i.rule} already has a target with Id ${id}`);
                if (ids.size >= 5) reject(type, name, `LimitExceededException: rule ${i.rule} already has 5 targets`);
                ids.add(id);
                this.targetIds.set(i.rule, ids);
                state = { ...i, targetId: id, arn: i.arn };
                break;
            }
            case "aws:lambda/permission:Permission":
            case "aws:cloudwatch/metricAlarm:MetricAlarm":
                state = { ...i, arn: `arn:aws:${type}:${name}`, result: "{}" };
                break;
            case "aws:cloudwatch/eventRule:EventRule": {
                const hasPattern = i.eventPattern !== undefined;
                const hasSchedule = i.scheduleExpression !== undefined;
                if (hasPattern === hasSchedule)
                    reject(
                        type,
                        name,
                        "ValidationException: a rule needs exactly one of eventPattern and scheduleExpression",
                    );
                if (hasPattern) {
                    try {
                        JSON.parse(i.eventPattern);
                    } catch {
                        reject(type, name, "InvalidEventPatternException: not JSON");
                    }
                    if (i.eventPattern.length > 4096) reject(type, name, "eventPattern longer than 4096 characters");
                }
                if (hasSchedule) {
                    const why = eventBridgeScheduleProblem(i.scheduleExpression);
                    if (why)
                        reject(
                            type,
                            name,
                            `ValidationException: parameter ScheduleExpression is not valid (${why}): ${JSON.stringify(i.scheduleExpression)}`,
                        );
                    if (i.eventBusName !== undefined && i.eventBusName !== "default")
                        reject(
                            type,
                            name,
                            "ValidationException: scheduled rules are supported only on the default event bus",
                        );
                }
                if (i.description !== undefined && String(i.description).length > 512)
                    reject(type, name, "description longer than 512 characters");
                const rname = i.name ?? name;
                // Without a name the provider auto-names `<resource name>-<7 random hex>`: that is what AWS checks.
                const physical = i.name ?? `${name}-0123abc`;
                if (!RULE_NAME.test(physical))
                    reject(
                        type,
                        name,
                        `ValidationException: rule name must be 1-64 characters of [.\\-_A-Za-z0-9]; got ${JSON.stringify(physical)}`,
                    );
                state = { ...i, arn: `arn:aws:events:${region}:${account}:rule/${rname}`, name: rname };
                break;
            }
            case "aws:ec2/keyPair:KeyPair":
                if (!/^(ssh-ed25519|ssh-rsa) /.test(i.publicKey ?? ""))
                    reject(type, name, "ImportKeyPair accepts only ed25519 and RSA keys");
                state = { ...i, keyName: i.keyName ?? name, fingerprint: "mock" };
                break;
            case "aws:kms/key:Key": {
                // AWS KMS API Reference, CreateKey: KeySpec, KeyUsage and their pairing; Description <= 8192; Policy <= 32768.
                const specs = [
                    "SYMMETRIC_DEFAULT",
                    "RSA_2048",
                    "RSA_3072",
                    "RSA_4096",
                    "ECC_NIST_P256",
                    "ECC_NIST_P384",
                    "ECC_NIST_P521",
                    "ECC_SECG_P256K1",
                    "HMAC_224",
                    "HMAC_256",
                    "HMAC_384",
                    "HMAC_512",
                    "SM2",
                ];
                const spec = i.customerMasterKeySpec ?? "SYMMETRIC_DEFAULT";
                if (!specs.includes(spec)) reject(type, name, `ValidationException: KeySpec ${spec}`);
                const usage = i.keyUsage ?? "ENCRYPT_DECRYPT";
                if (spec.startsWith("ECC_") && usage !== "SIGN_VERIFY" && usage !== "KEY_AGREEMENT")
                    reject(
                        type,
                        name,
                        `ValidationException: an ${spec} key's KeyUsage is SIGN_VERIFY or KEY_AGREEMENT; got ${usage}`,
                    );
                if (i.description !== undefined && String(i.description).length > 8192)
                    reject(type, name, "Description over 8192");
                if (i.deletionWindowInDays !== undefined && (i.deletionWindowInDays < 7 || i.deletionWindowInDays > 30))
                    reject(type, name, "PendingWindowInDays must be 7-30");
                if (i.policy !== undefined) {
                    const pol = unsecret(i.policy);
                    if (Buffer.byteLength(pol) > 32768)
                        reject(type, name, "MalformedPolicyDocumentException: over 32 KB");
                    try {
                        JSON.parse(pol);
                    } catch {
                        reject(type, name, "MalformedPolicyDocumentException: not JSON");
                    }
                }
                state = { ...i, arn: `arn:aws:kms:${region}:${account}:key/${name}-key-id`, keyId: `${name}-key-id` };
                break;
            }
            case "aws:kms/grant:Grant": {
                // AWS KMS API Reference, CreateGrant: KeyId, GranteePrincipal and Operations required; Name [a-zA-Z0-9:/_-]{1,256}.
                const ops = [
                    "Decrypt",
                    "Encrypt",
                    "GenerateDataKey",
                    "GenerateDataKeyWithoutPlaintext",
                    "ReEncryptFrom",
                    "ReEncryptTo",
                    "Sign",
                    "Verify",
                    "GetPublicKey",
                    "CreateGrant",
                    "RetireGrant",
                    "DescribeKey",
                    "GenerateDataKeyPair",
                    "GenerateDataKeyPairWithoutPlaintext",
                    "GenerateMac",
                    "VerifyMac",
                    "DeriveSharedSecret",
                ];
                if (!i.keyId || !i.granteePrincipal) reject(type, name, "KeyId and GranteePrincipal are required");
                if (
                    !Array.isArray(i.operations) ||
                    i.operations.length === 0 ||
                    i.operations.some((o: string) => !ops.includes(o))
                )
                    reject(type, name, `ValidationException: Operations ${JSON.stringify(i.operations)}`);
                if (i.name !== undefined && !/^[a-zA-Z0-9:/_-]{1,256}$/.test(i.name))
                    reject(type, name, "bad grant Name");
                state = { ...i, grantId: `${name}-grant-id`, grantToken: "token" };
                break;
            }
            case "command:remote:Command":
                reject(type, name, "remote commands are not expected in these tests");
            default:
                throw new Error(`unmocked resource type ${type} (${name}): add it to the AWS mocks with AWS's limits`);
        }
        this.created.push({ type, name, inputs: i, id });
        return { id, state };
    }

    call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
        this.calls.push(args.token);
        switch (args.token) {
            case "aws:index/getCallerIdentity:getCallerIdentity":
                return { accountId: "123456789012", arn: "arn:aws:iam::123456789012:user/test", userId: "AID" };
            case "aws:index/getRegion:getRegion":
                return { name: "eu-west-1", region: "eu-west-1", id: "eu-west-1" };
            case "aws:index/getPartition:getPartition":
                return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
            case "aws:kms/getPublicKey:getPublicKey": {
                // A real P-256 key, as KMS returns an ECC_NIST_P256 key's public half.
                const pem = require("crypto")
                    .generateKeyPairSync("ec", { namedCurve: "prime256v1" })
                    .publicKey.export({ format: "pem", type: "spki" })
                    .toString();
                return {
                    id: args.inputs.keyId,
                    keyId: args.inputs.keyId,
                    publicKeyPem: pem,
                    customerMasterKeySpec: "ECC_NIST_P256",
                };
            }
            default:
                throw new Error(`unmocked call ${args.token}`);
        }
    }

    count(type?: string): number {
        return type ? this.created.filter((c) => c.type === type).length : this.created.length;
    }

    inventory(): Record<string, number> {
        const out: Record<string, number> = {};
        for (const c of this.created) out[c.type] = (out[c.type] ?? 0) + 1;
        return Object.fromEntries(Object.entries(out).sort());
    }
}

let currentMocks: AwsMocks | undefined;
/** Makes `peek` report the mocks' refusals when an output never resolves. */
export function watch(m: AwsMocks): AwsMocks {
    currentMocks = m;
    return m;
}

/** Waits until the mocks stop receiving registrations (outputs resolve over several turns). */
export async function settle(m: AwsMocks, quietMs = 300): Promise<void> {
    let last = -1;
    while (m.registered.length !== last) {
        last = m.registered.length;
        await new Promise((r) => setTimeout(r, quietMs));
    }
}

/** Resolves an Output's value and secret-ness; a refused resource makes it fail with AWS's reason, not hang. */
export async function peek<T>(o: pulumi.Output<T>, ms = 20000): Promise<{ value: T; secret: boolean }> {
    let timer: NodeJS.Timeout | undefined;
    const value = await Promise.race([
        new Promise<T>((resolve) =>
            o.apply((v) => {
                resolve(v);
                return v;
            }),
        ),
        new Promise<never>((_, reject) => {
            timer = setTimeout(
                () =>
                    reject(
                        new Error(
                            `output did not resolve in ${patience(ms)} ms; mock refusals: ${currentMocks?.errors.join(" | ") || "none"}`,
                        ),
                    ),
                patience(ms),
            );
        }),
    ]).finally(() => clearTimeout(timer));
    return { value, secret: await pulumi.isSecret(o) };
}

/**
 * The dependencies of every registration from now on, by `type::name` (URNs, as the engine gets
 * them): mocks' newResource does not see dependsOn, so this observes the registration requests of
 * the current mock monitor (call it after setMocks).
 */
export function recordDependencies(): Map<string, string[]> {
    const monitor = pulumi.runtime.getMonitor() as any;
    const deps = new Map<string, string[]>();
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, cb: any) => {
        deps.set(`${req.getType()}::${req.getName()}`, req.getDependenciesList());
        return register(req, cb);
    };
    return deps;
}
