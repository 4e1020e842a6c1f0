/**
 * The events EC2 and Systems Manager emit onto the default bus, in their shapes (Amazon EventBridge
 * User Guide, "Amazon EC2 events"; AWS Systems Manager User Guide, "Monitoring Systems Manager events
 * with Amazon EventBridge"): an instance's state change, a State Manager association run, and a Run
 * Command invocation's status change.
 */
import { COMMAND_RESULT_DETAIL_TYPE, EC2_RUNNING_DETAIL_TYPE, SSM_ASSOCIATION_DETAIL_TYPE } from "../../core/events";
import { randomUUID } from "crypto";
import { instanceArn } from "../awsAccount";
import type { PutEventEntry } from "../eventBus";
import { Invocation } from "./types";

/** "EC2 Instance State-change Notification". */
export function ec2StateChange(instanceId: string, state: "running" | "terminated"): PutEventEntry {
    return {
        source: "aws.ec2",
        detailType: EC2_RUNNING_DETAIL_TYPE,
        resources: [instanceArn(instanceId)],
        detail: { "instance-id": instanceId, state },
    };
}

/** "EC2 State Manager Instance Association State Change": the association running `documentName` on the instance succeeded. */
export function associationRun(instanceId: string, documentName: string): PutEventEntry {
    const now = new Date().toISOString();
    return {
        source: "aws.ssm",
        detailType: SSM_ASSOCIATION_DETAIL_TYPE,
        resources: [instanceArn(instanceId)],
        detail: {
            "association-id": randomUUID(),
            "instance-id": instanceId,
            "document-name": documentName,
            "document-version": "1",
            targets: JSON.stringify([{ key: "InstanceIds", values: [instanceId] }]),
            "creation-date": now,
            "last-successful-execution-date": now,
            "last-execution-date": now,
            "last-updated-date": now,
            status: "Success",
            "association-status-aggregated-count": '{"Success":1}',
            "schedule-expression": "",
            "association-cwe-version": "1.1",
            "detailed-status": "Success",
            "error-code": "",
            "execution-summary": "1 out of 1 plugin processed, 1 success, 0 failed, 0 timed out, 0 skipped. ",
            "output-url": "",
            "instance-association-cwe-version": "1",
        },
    };
}

/** "EC2 Command Invocation Status-change Notification". */
export function commandStatusChange(inv: Invocation): PutEventEntry {
    return {
        source: "aws.ssm",
        detailType: COMMAND_RESULT_DETAIL_TYPE,
        resources: [instanceArn(inv.instanceId)],
        detail: {
            "command-id": inv.commandId,
            "document-name": inv.documentName,
            "instance-id": inv.instanceId,
            "requested-date-time": new Date(inv.requestedAt).toISOString(),
            status: inv.status,
        },
    };
}
