/**
 * Reading Run Command's results on the local endpoint: GetCommandInvocation says
 * InvocationDoesNotExist for a while after the send (eventual consistency) and truncates the output
 * to 24,000/8,000 characters; ListCommandInvocations pages 1-50 invocations and, with Details,
 * carries each one's plugin result.
 */
import { listedPluginOutput } from "../../core/document";
import { apiError, orThrow } from "../awsErrors";
import {
    invocationDoesNotExist,
    LIST_COMMAND_INVOCATIONS_PAGE,
    pageSize,
    paginate,
    statusDetails,
    truncateOutput,
} from "../ssmRules";
import { EndpointState } from "./state";
import { DEFAULT_INVOCATION_VISIBLE_AFTER_MS, Invocation } from "./types";

function visible(s: EndpointState, inv: Invocation): boolean {
    return Date.now() - inv.requestedAt >= (s.knobs.invocationVisibleAfterMs ?? DEFAULT_INVOCATION_VISIBLE_AFTER_MS);
}

function iso(ms: number | undefined): string {
    return ms ? new Date(ms).toISOString() : "";
}

function invocationOut(inv: Invocation): Record<string, unknown> {
    const out = truncateOutput(inv.stdout, inv.stderr);
    return {
        CommandId: inv.commandId,
        InstanceId: inv.instanceId,
        Comment: inv.comment,
        DocumentName: inv.documentName,
        DocumentVersion: "$DEFAULT",
        PluginName: "aws:runShellScript",
        ResponseCode: inv.responseCode,
        ExecutionStartDateTime: iso(inv.startedAt),
        ExecutionElapsedTime:
            inv.startedAt && inv.endedAt ? `PT${((inv.endedAt - inv.startedAt) / 1000).toFixed(3)}S` : "",
        ExecutionEndDateTime: iso(inv.endedAt),
        Status: inv.status,
        StatusDetails: statusDetails(inv.status),
        StandardOutputContent: out.stdout,
        StandardOutputUrl: "",
        StandardErrorContent: out.stderr,
        StandardErrorUrl: "",
    };
}

export function getCommandInvocation(s: EndpointState, input: Record<string, unknown>): unknown {
    const inv = s.invocations.get(`${input.CommandId}/${input.InstanceId}`);
    if (!inv || !visible(s, inv)) throw apiError(invocationDoesNotExist());
    return invocationOut(inv);
}

function listedOut(inv: Invocation, details: boolean): Record<string, unknown> {
    return {
        CommandId: inv.commandId,
        InstanceId: inv.instanceId,
        DocumentName: inv.documentName,
        Comment: inv.comment,
        RequestedDateTime: inv.requestedAt / 1000,
        Status: inv.status,
        StatusDetails: statusDetails(inv.status),
        ...(details
            ? {
                  CommandPlugins: [
                      {
                          Name: "runShellScript",
                          Status: inv.status,
                          StatusDetails: statusDetails(inv.status),
                          ResponseCode: inv.responseCode,
                          Output: listedPluginOutput(inv.stdout, inv.stderr),
                      },
                  ],
              }
            : {}),
    };
}

/**
 * ListCommandInvocations: MaxResults 1-50 a page (default 50), NextToken. With Details, each
 * invocation carries its plugin's result, whose Output is stdout and stderr joined by
 * aws:runShellScript's "----------ERROR-------" line, cut at 2,500 characters as SSM does.
 */
export function listCommandInvocations(s: EndpointState, input: Record<string, unknown>): unknown {
    const maxResults = orThrow(pageSize(input.MaxResults, LIST_COMMAND_INVOCATIONS_PAGE));
    const list = [...s.invocations.values()].filter(
        (i) =>
            (input.CommandId === undefined || i.commandId === input.CommandId) &&
            (input.InstanceId === undefined || i.instanceId === input.InstanceId) &&
            visible(s, i),
    );
    const { page, nextToken } = paginate(list, input.NextToken, maxResults);
    return {
        CommandInvocations: page.map((i) => listedOut(i, input.Details === true)),
        ...(nextToken ? { NextToken: nextToken } : {}),
    };
}
