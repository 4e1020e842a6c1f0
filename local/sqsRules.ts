/**
 * What SQS SendMessage refuses (Amazon SQS API Reference, SendMessage; Developer Guide, "Amazon SQS
 * message quotas" and "Amazon SQS delay queues"), once for the local queue and both local fakes.
 */
import { RuleViolation } from "./awsErrors";

/** The largest message body SQS takes (256 KiB). */
export const SQS_MESSAGE_MAX_BYTES = 262_144;
/** DelaySeconds: 0 to 15 minutes. */
export const SQS_DELAY_SECONDS_MAX = 900;

/** A send SQS refuses: `code` is its error code. */
export class QueueSendError extends Error {
    constructor(
        readonly code: string,
        message: string,
    ) {
        super(message);
    }
}

/**
 * What SendMessage refuses by queue type: a FIFO queue wants a MessageGroupId and, without
 * content-based deduplication, a MessageDeduplicationId, and takes no per-message delay; a standard
 * queue takes no deduplication id.
 */
export function queueTypeViolation(
    fifo: boolean,
    m: { groupId?: unknown; deduplicationId?: unknown; delay?: unknown },
): RuleViolation | undefined {
    if (!fifo) {
        if (m.deduplicationId === undefined) return undefined;
        return {
            code: "InvalidParameterValue",
            message: "The request include parameter MessageDeduplicationId that is not valid for this queue type.",
        };
    }
    if (!m.groupId)
        return { code: "MissingParameter", message: "The request must contain the parameter MessageGroupId." };
    if (!m.deduplicationId)
        return {
            code: "InvalidParameterValue",
            message:
                "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
        };
    if (m.delay !== undefined)
        return {
            code: "InvalidParameterValue",
            message:
                "Value for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.",
        };
    return undefined;
}

/** queueTypeViolation as the local queue's send throws it. */
export function checkSqsSend(
    fifo: boolean,
    m: { groupId?: unknown; deduplicationId?: unknown; delay?: unknown },
): void {
    const v = queueTypeViolation(fifo, m);
    if (v) throw new QueueSendError(v.code, v.message);
}

export function queueDoesNotExist(): RuleViolation {
    return { code: "QueueDoesNotExist", message: "The specified queue does not exist." };
}

/** The SendMessage members the rules read, as the request carries them. */
export interface SendMessageRequest {
    MessageBody?: unknown;
    DelaySeconds?: unknown;
    MessageGroupId?: unknown;
    MessageDeduplicationId?: unknown;
}

/** A member given as a non-empty string, else undefined. */
export function textMember(v: unknown): string | undefined {
    return typeof v === "string" && v ? v : undefined;
}

/** Everything SendMessage checks before the queue takes the message: the body, its size, the delay, and the queue type's rules. */
export function sendMessageViolation(fifo: boolean, i: SendMessageRequest): RuleViolation | undefined {
    if (typeof i.MessageBody !== "string" || i.MessageBody.length === 0)
        return { code: "MissingParameter", message: "The request must contain the parameter MessageBody." };
    if (Buffer.byteLength(i.MessageBody) > SQS_MESSAGE_MAX_BYTES) {
        return {
            code: "InvalidParameterValue",
            message: `One or more parameters are invalid. Reason: Message must be shorter than ${SQS_MESSAGE_MAX_BYTES} bytes.`,
        };
    }
    const delay = i.DelaySeconds;
    if (
        delay !== undefined &&
        (typeof delay !== "number" || !Number.isInteger(delay) || delay < 0 || delay > SQS_DELAY_SECONDS_MAX)
    ) {
        return {
            code: "InvalidParameterValue",
            message: `Value ${String(delay)} for parameter DelaySeconds is invalid. Reason: must be between 0 and ${SQS_DELAY_SECONDS_MAX}, if provided.`,
        };
    }
    return queueTypeViolation(fifo, {
        groupId: textMember(i.MessageGroupId),
        deduplicationId: textMember(i.MessageDeduplicationId),
        delay,
    });
}
