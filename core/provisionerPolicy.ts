/**
 * The IAM documents of the Provisioner: the Lambda role's trust and permissions policies and the
 * queue policies, each scoped to what the handler touches.
 */

/** What the Lambda role's policy names: where the fleet is, its document, tag, paths, log group and queues. */
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
    /** Host certificates: the host-certificate document and where the certificates are recorded (kms:Sign comes from a grant on the key, not from this policy). */
    hostCertificates?: { documentArn: string; path: string };
}

/** The Lambda role's policy: every statement scoped to what the handler touches. */
export function buildProvisionerPolicy(i: ProvisionerPolicyInput): {
    Version: string;
    Statement: Record<string, unknown>[];
} {
    const param = (p: string) => `arn:${i.partition}:ssm:${i.region}:${i.account}:parameter${p}`;
    return {
        Version: "2012-10-17",
        Statement: [
            // AWSLambdaBasicExecutionRole, narrowed to the function's own log group.
            {
                Sid: "Logs",
                Effect: "Allow",
                Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
                Resource: `${i.logGroupArn.replace(/:\*$/, "")}:*`,
            },
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
            {
                Sid: "ReadAccessSpec",
                Effect: "Allow",
                Action: "ssm:GetParametersByPath",
                Resource: param(i.accessParameterPath),
            },
            // Host keys are read first (GetParameters) and written only when they changed.
            {
                Sid: "PinHostKeys",
                Effect: "Allow",
                Action: ["ssm:GetParameters", "ssm:PutParameter"],
                Resource: param(`${i.knownHostsPath}/*`),
            },
            // These support no resource-level permissions (Service Authorization Reference): "*" is the only valid Resource.
            {
                Sid: "DescribeFleet",
                Effect: "Allow",
                Action: [
                    "ssm:DescribeInstanceInformation",
                    "ssm:GetCommandInvocation",
                    "ssm:ListCommandInvocations",
                    "ec2:DescribeInstances",
                ],
                Resource: "*",
            },
            {
                Sid: "ConsumeQueue",
                Effect: "Allow",
                Action: [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:ChangeMessageVisibility",
                ],
                Resource: [i.queueArn, i.waitQueueArn],
            },
            { Sid: "DeadLetter", Effect: "Allow", Action: "sqs:SendMessage", Resource: i.dlqArn },
            // Instances whose agent is not online yet go to the wait queue (one wait message a round); those long in
            // coming to its own queue, delayed (a FIFO queue takes no per-message delay).
            {
                Sid: "WaitForAgents",
                Effect: "Allow",
                Action: "sqs:SendMessage",
                Resource: [i.waitQueueArn, i.queueArn],
            },
            // Host certificates: the host-certificate document (instances: the tagged-instances statement above) and the records.
            ...(i.hostCertificates !== undefined
                ? [
                      {
                          Sid: "SendCommandHostCertificateDocument",
                          Effect: "Allow",
                          Action: "ssm:SendCommand",
                          Resource: i.hostCertificates.documentArn,
                      },
                      {
                          Sid: "RecordHostCertificates",
                          Effect: "Allow",
                          Action: ["ssm:GetParameters", "ssm:PutParameter"],
                          Resource: param(`${i.hostCertificates.path}/*`),
                      },
                  ]
                : []),
            // Offboarding on destroy: whether the fleet is still deployed (the marker exists) or destroyed (it is gone).
            ...(i.deployedMarker !== undefined
                ? [
                      {
                          Sid: "OffboardMarker",
                          Effect: "Allow",
                          Action: "ssm:GetParameter",
                          Resource: param(i.deployedMarker),
                      },
                  ]
                : []),
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
export function eventBridgeQueuePolicy(
    queueArn: string,
    ruleArns: string[],
    exemptPrincipalArns: string[] = [],
): string {
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
        Statement: [
            {
                Sid: "OnlyTheProvisioner",
                Effect: "Deny",
                Principal: "*",
                Action: "sqs:SendMessage",
                Resource: queueArn,
                Condition: { ArnNotEquals: { "aws:PrincipalArn": [roleArn] } },
            },
        ],
    });
}

/** The Lambda role's trust policy: only the Lambda service may assume it. */
export function lambdaAssumeRolePolicy(): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
    });
}
