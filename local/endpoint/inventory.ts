/**
 * DescribeInstanceInformation on the local endpoint: the instances whose agent has registered,
 * with their ping status, under the filters SSM takes (local/ssmRules.ts).
 */
import { orThrow, raise } from "../awsErrors";
import {
    DESCRIBE_INSTANCE_INFORMATION_PAGE,
    instanceInformationFilters,
    ManagedNodeView,
    matchesInstanceInformationFilter,
    pageSize,
    paginate,
    unknownManagedNodes,
} from "../ssmRules";
import { EndpointState } from "./state";
import { LocalInstance } from "./types";

function pingStatus(s: EndpointState, inst: LocalInstance): string {
    return s.isOnline(inst) ? "Online" : "ConnectionLost";
}

function nodeView(s: EndpointState, inst: LocalInstance): ManagedNodeView {
    return {
        instanceId: inst.instanceId,
        pingStatus: pingStatus(s, inst),
        resourceType: "EC2Instance",
        tags: inst.tags,
    };
}

function informationOut(s: EndpointState, inst: LocalInstance): Record<string, unknown> {
    return {
        InstanceId: inst.instanceId,
        PingStatus: pingStatus(s, inst),
        LastPingDateTime: Date.now() / 1000,
        AgentVersion: inst.agentVersion,
        IsLatestVersion: true,
        PlatformType: "Linux",
        PlatformName: "Debian GNU/Linux",
        PlatformVersion: "12",
        ResourceType: "EC2Instance",
        IPAddress: inst.ipAddress,
        ComputerName: inst.computerName,
    };
}

/** The managed nodes SSM lists: their agent has registered. */
export function describeInstanceInformation(s: EndpointState, input: Record<string, unknown>): unknown {
    const filters = orThrow(instanceInformationFilters(input));
    const maxResults = orThrow(pageSize(input.MaxResults, DESCRIBE_INSTANCE_INFORMATION_PAGE));
    const registered = [...s.instances.values()].filter(
        (i) => i.agentOnlineAt !== undefined && i.agentOnlineAt <= Date.now(),
    );
    raise(unknownManagedNodes(filters, new Set(registered.map((i) => i.instanceId))));
    const matching = registered.filter((inst) =>
        filters.every((f) => matchesInstanceInformationFilter(f, nodeView(s, inst))),
    );
    const { page, nextToken } = paginate(matching, input.NextToken, maxResults);
    return {
        InstanceInformationList: page.map((inst) => informationOut(s, inst)),
        ...(nextToken ? { NextToken: nextToken } : {}),
    };
}
