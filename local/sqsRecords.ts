/** The event a Lambda behind an SQS event source mapping receives (AWS Lambda Developer Guide, "Using Lambda with Amazon SQS"). */

/** SQS-shaped record, exactly what a Lambda behind an event source mapping receives. */
export interface SqsRecord {
    messageId: string;
    receiptHandle: string;
    body: string;
    attributes: {
        ApproximateReceiveCount: string;
        SentTimestamp: string;
        SenderId: string;
        ApproximateFirstReceiveTimestamp: string;
        DeadLetterQueueSourceArn?: string;
        MessageGroupId?: string;
        MessageDeduplicationId?: string;
        SequenceNumber?: string;
    };
    messageAttributes: Record<
        string,
        { dataType: string; stringValue?: string; stringListValues: string[]; binaryListValues: string[] }
    >;
    md5OfBody: string;
    eventSource: "aws:sqs";
    eventSourceARN: string;
    awsRegion: string;
}

export interface SqsEvent {
    Records: SqsRecord[];
}
