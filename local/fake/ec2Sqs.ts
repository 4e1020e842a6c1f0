/** FakeAwsState's EC2 (DescribeInstances, EC2 instances only: i-) and SQS (SendMessage to the queues it holds). */
import { createHash, randomUUID } from "crypto";
import { apiError, raise } from "../awsErrors";
import {
    describeInstancesOutput,
    Ec2Filter,
    ec2FilterViolation,
    matchesEc2Filter,
    unknownInstanceIds,
} from "../ec2Rules";
import type { FakeAwsState } from "../fakeAws";
import { queueDoesNotExist, sendMessageViolation } from "../sqsRules";
import { OpHandler } from "../wire/handlers";

export function fakeEc2Handlers(s: FakeAwsState): Record<string, OpHandler> {
    return { DescribeInstances: (i) => describeInstances(s, i) };
}

function describeInstances(s: FakeAwsState, i: any): unknown {
    const ids: string[] = i.InstanceIds ?? [];
    const filters: Ec2Filter[] = i.Filters ?? [];
    raise(unknownInstanceIds(ids, (id) => s.instances.has(id)));
    raise(ec2FilterViolation(filters));
    const views = [...s.instances.values()]
        .filter((x) => x.id.startsWith("i-"))
        .map((x) => ({ instanceId: x.id, state: "running", tags: x.tags, privateIpAddress: x.privateIp }));
    return describeInstancesOutput(
        views.filter(
            (v) => (ids.length === 0 || ids.includes(v.instanceId)) && filters.every((f) => matchesEc2Filter(f, v)),
        ),
    );
}

export function fakeSqsHandlers(s: FakeAwsState): Record<string, OpHandler> {
    return { SendMessage: (i) => sendMessage(s, i) };
}

function sendMessage(s: FakeAwsState, i: any): unknown {
    const q = s.queues.get(i.QueueUrl);
    if (!q) throw apiError(queueDoesNotExist());
    // A FIFO queue's name ends in .fifo (SQS requires it).
    raise(sendMessageViolation(String(i.QueueUrl).endsWith(".fifo"), i));
    const messageId = randomUUID();
    q.push({
        body: i.MessageBody,
        messageId,
        ...(i.DelaySeconds !== undefined ? { delaySeconds: i.DelaySeconds } : {}),
        ...(i.MessageGroupId !== undefined
            ? { groupId: i.MessageGroupId, deduplicationId: i.MessageDeduplicationId }
            : {}),
    });
    return { MessageId: messageId, MD5OfMessageBody: createHash("md5").update(i.MessageBody, "utf8").digest("hex") };
}
