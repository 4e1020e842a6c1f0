/** The local endpoint's EC2 (DescribeInstances) and SQS (SendMessage, GetQueueUrl on the account's local queues). */
import { createHash } from "crypto";
import { apiError, raise } from "../awsErrors";
import {
    describeInstancesOutput,
    Ec2Filter,
    ec2FilterViolation,
    matchesEc2Filter,
    unknownInstanceIds,
} from "../ec2Rules";
import type { LocalQueue, MessageAttributeValue } from "../queue";
import { queueDoesNotExist, sendMessageViolation, textMember } from "../sqsRules";
import { EndpointState } from "./state";

/** DescribeInstances with the filters the Lambda uses; the output in the SDK's shape (local/wire/ec2Query.ts renders the XML). */
export function describeInstances(s: EndpointState, i: Record<string, unknown>): unknown {
    const filters = (i.Filters ?? []) as Ec2Filter[];
    const ids = (i.InstanceIds ?? []) as string[];
    raise(unknownInstanceIds(ids, (id) => s.instances.has(id)));
    raise(ec2FilterViolation(filters));
    const views = [...s.instances.values()]
        .filter((inst) => ids.length === 0 || ids.includes(inst.instanceId))
        .map((inst) => ({
            instanceId: inst.instanceId,
            state: inst.state,
            tags: inst.tags,
            privateIpAddress: inst.ipAddress,
        }));
    return describeInstancesOutput(views.filter((v) => filters.every((f) => matchesEc2Filter(f, v))));
}

function queueByUrl(s: EndpointState, url: unknown): LocalQueue {
    const name = typeof url === "string" ? url.slice(url.lastIndexOf("/") + 1) : "";
    const q = s.queues.get(name);
    if (!q) throw apiError(queueDoesNotExist());
    return q;
}

function messageAttributes(raw: unknown): Record<string, MessageAttributeValue> {
    const attrs: Record<string, MessageAttributeValue> = {};
    for (const [k, v] of Object.entries((raw ?? {}) as Record<string, { DataType?: string; StringValue?: string }>)) {
        attrs[k] = { dataType: (v.DataType as "String") ?? "String", stringValue: v.StringValue };
    }
    return attrs;
}

export function sqsSendMessage(s: EndpointState, input: Record<string, unknown>): unknown {
    const q = queueByUrl(s, input.QueueUrl);
    raise(sendMessageViolation(q.fifo, input));
    const body = String(input.MessageBody);
    const delay = input.DelaySeconds as number | undefined;
    const id = q.send(body, {
        ...(delay !== undefined ? { delayMs: delay * 1000 } : {}),
        messageAttributes: messageAttributes(input.MessageAttributes),
        groupId: textMember(input.MessageGroupId),
        deduplicationId: textMember(input.MessageDeduplicationId),
    });
    return { MessageId: id, MD5OfMessageBody: createHash("md5").update(body).digest("hex") };
}

export function sqsGetQueueUrl(s: EndpointState, input: Record<string, unknown>): unknown {
    const q = s.queues.get(String(input.QueueName));
    if (!q) throw apiError(queueDoesNotExist());
    return { QueueUrl: q.url };
}
