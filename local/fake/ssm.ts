/** FakeAwsState's Systems Manager operations: Run Command, the inventory of managed nodes, Parameter Store. */
import { randomUUID } from "crypto";
import { listedPluginOutput } from "../../core/document";
import { apiError, orThrow, raise } from "../awsErrors";
import type { FakeAwsState, FakeInstance, FakeInvocation } from "../fakeAws";
import {
    completeRunResult,
    DEFAULT_AGENT_VERSION,
    DESCRIBE_INSTANCE_INFORMATION_PAGE,
    documentKey,
    instanceInformationFilters,
    invocationDoesNotExist,
    LIST_COMMAND_INVOCATIONS_PAGE,
    ManagedNodeView,
    matchesInstanceInformationFilter,
    notInValidState,
    pageSize,
    paginate,
    sendCommandIds,
    sendCommandViolation,
    statusDetails,
    tagConditionDenial,
    truncateOutput,
    unknownDocument,
    unknownManagedNodes,
} from "../ssmRules";
import { OpHandler } from "../wire/handlers";
import { getParameters, getParametersByPath, putParameter } from "./parameters";

export function fakeSsmHandlers(s: FakeAwsState): Record<string, OpHandler> {
    return {
        SendCommand: (i) => sendCommand(s, i),
        DescribeInstanceInformation: (i) => describeInstanceInformation(s, i),
        GetCommandInvocation: (i) => getCommandInvocation(s, i),
        ListCommandInvocations: (i) => listCommandInvocations(s, i),
        GetParameters: (i) => getParameters(s, i),
        GetParametersByPath: (i) => getParametersByPath(s, i),
        PutParameter: (i) => putParameter(s, i),
    };
}

/** SendCommand: the shared checks, then each invocation runs (runCommand) before the call returns. */
async function sendCommand(s: FakeAwsState, i: any): Promise<unknown> {
    raise(sendCommandViolation(i));
    const doc: string = i.DocumentName;
    const ids = sendCommandIds(i);
    const name = documentKey(doc);
    if (!s.documents.has(name)) raise(unknownDocument(doc));
    raise(tagConditionDenial(ids, (id) => s.instances.get(id)?.tags, s.requiredTag));
    raise(notInValidState([...new Set(ids)].filter((id) => s.instances.get(id)?.pingStatus !== "Online")));
    const commandId = randomUUID();
    const comment: string = i.Comment ?? "";
    s.commands.push({ commandId, documentName: name, instanceIds: [...ids], comment });
    for (const id of ids)
        await runInvocation(s, {
            commandId,
            instanceId: id,
            documentName: name,
            comment,
            parameters: i.Parameters ?? {},
        });
    return {
        Command: {
            CommandId: commandId,
            DocumentName: name,
            Comment: i.Comment,
            InstanceIds: ids,
            Parameters: i.Parameters,
            Status: "Pending",
            RequestedDateTime: Date.now() / 1000,
            TargetCount: ids.length,
        },
    };
}

async function runInvocation(
    s: FakeAwsState,
    sent: Pick<FakeInvocation, "commandId" | "instanceId" | "documentName" | "comment" | "parameters">,
): Promise<void> {
    const inv: FakeInvocation = {
        ...sent,
        status: "Pending",
        statusDetails: "Pending",
        stdout: "",
        stderr: "",
        responseCode: -1,
        lag: s.invocationLag,
    };
    s.invocations.set(`${inv.commandId}:${inv.instanceId}`, inv);
    const r = completeRunResult(await s.runCommand(inv));
    const out = truncateOutput(r.stdout, r.stderr);
    inv.status = r.status;
    inv.statusDetails = statusDetails(r.status);
    inv.stdout = out.stdout;
    inv.stderr = out.stderr;
    inv.responseCode = r.responseCode;
}

function nodeView(x: FakeInstance): ManagedNodeView {
    return {
        instanceId: x.id,
        pingStatus: x.pingStatus,
        resourceType: x.id.startsWith("mi-") ? "ManagedInstance" : "EC2Instance",
        tags: x.tags,
    };
}

/** DescribeInstanceInformation: the registered agents (a ping status), sorted by id. */
function describeInstanceInformation(s: FakeAwsState, i: any): unknown {
    const max = orThrow(pageSize(i.MaxResults, DESCRIBE_INSTANCE_INFORMATION_PAGE));
    const filters = orThrow(instanceInformationFilters(i));
    const registered = [...s.instances.values()].filter((x) => x.pingStatus !== undefined);
    raise(unknownManagedNodes(filters, new Set(registered.map((x) => x.id))));
    const list = registered
        .filter((x) => filters.every((f) => matchesInstanceInformationFilter(f, nodeView(x))))
        .sort((a, b) => (a.id < b.id ? -1 : 1));
    const { page, nextToken } = paginate(list, i.NextToken, max);
    return {
        InstanceInformationList: page.map((x) => ({
            InstanceId: x.id,
            PingStatus: x.pingStatus,
            AgentVersion: x.agentVersion ?? DEFAULT_AGENT_VERSION,
            ResourceType: nodeView(x).resourceType,
            PlatformType: "Linux",
            LastPingDateTime: Date.now() / 1000,
        })),
        NextToken: nextToken,
    };
}

function getCommandInvocation(s: FakeAwsState, i: any): unknown {
    const inv = s.invocations.get(`${i.CommandId}:${i.InstanceId}`);
    if (!inv || inv.lag > 0) {
        if (inv) inv.lag--;
        throw apiError(invocationDoesNotExist());
    }
    return {
        CommandId: inv.commandId,
        InstanceId: inv.instanceId,
        Comment: inv.comment,
        DocumentName: inv.documentName,
        PluginName: "pka",
        ResponseCode: inv.responseCode,
        Status: inv.status,
        StatusDetails: inv.statusDetails,
        StandardOutputContent: inv.stdout,
        StandardErrorContent: inv.stderr,
    };
}

/** ListCommandInvocations by CommandId, 1-50 a page; Details adds the plugin (Output: stdout, then stderr after aws:runShellScript's ERROR line, cut at 2,500 characters). Lagging invocations are not listed yet. */
function listCommandInvocations(s: FakeAwsState, i: any): unknown {
    const max = orThrow(pageSize(i.MaxResults, LIST_COMMAND_INVOCATIONS_PAGE));
    const all = [...s.invocations.values()].filter(
        (v) =>
            (i.CommandId === undefined || v.commandId === i.CommandId) &&
            (i.InstanceId === undefined || v.instanceId === i.InstanceId) &&
            v.lag <= 0,
    );
    const { page, nextToken } = paginate(all, i.NextToken, max);
    return {
        CommandInvocations: page.map((v) => ({
            CommandId: v.commandId,
            InstanceId: v.instanceId,
            Comment: v.comment,
            DocumentName: v.documentName,
            Status: v.status,
            StatusDetails: v.statusDetails,
            ...(i.Details
                ? {
                      CommandPlugins: [
                          {
                              Name: "pka",
                              Status: v.status,
                              ResponseCode: v.responseCode,
                              Output: listedPluginOutput(v.stdout, v.stderr),
                          },
                      ],
                  }
                : {}),
        })),
        ...(nextToken ? { NextToken: nextToken } : {}),
    };
}
