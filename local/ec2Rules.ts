/**
 * EC2 DescribeInstances as both local fakes answer it (Amazon EC2 API Reference, DescribeInstances):
 * InstanceIds that do not exist fail the call, each filter takes 1 to 200 values, `*` and `?` are
 * wildcards in instance-id and tag values, and a filter name EC2 does not know is invalid.
 */
import { RuleViolation } from "./awsErrors";

export interface Ec2Filter {
    Name: string;
    Values: string[];
}

/** What the filters and the output see of an instance. */
export interface Ec2InstanceView {
    instanceId: string;
    state: string;
    tags: Record<string, string>;
    privateIpAddress?: string;
}

/** InvalidInstanceID.NotFound for the ids that do not exist; nothing when all do. */
export function unknownInstanceIds(ids: readonly string[], exists: (id: string) => boolean): RuleViolation | undefined {
    const unknown = ids.filter((id) => !exists(id));
    if (unknown.length === 0) return undefined;
    const message =
        unknown.length === 1
            ? `The instance ID '${unknown[0]}' does not exist`
            : `The instance IDs '${unknown.join(", ")}' do not exist`;
    return { code: "InvalidInstanceID.NotFound", message };
}

const KNOWN_FILTERS = new Set(["instance-id", "instance-state-name", "tag-key"]);

export function ec2FilterViolation(filters: readonly Ec2Filter[]): RuleViolation | undefined {
    for (const f of filters) {
        if (!f.Values?.length || f.Values.length > 200)
            return { code: "InvalidParameterValue", message: `The filter '${f.Name}' needs 1 to 200 values` };
        if (!KNOWN_FILTERS.has(f.Name) && !f.Name.startsWith("tag:"))
            return { code: "InvalidParameterValue", message: `The filter '${f.Name}' is invalid` };
    }
    return undefined;
}

function wildcard(pattern: string, v: string): boolean {
    const re = pattern
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, ".*")
        .replace(/\?/g, ".");
    return new RegExp(`^${re}$`).test(v);
}

/** Whether the instance passes one (validated) filter. */
export function matchesEc2Filter(f: Ec2Filter, inst: Ec2InstanceView): boolean {
    if (f.Name === "instance-id") return f.Values.some((v) => wildcard(v, inst.instanceId));
    if (f.Name === "instance-state-name") return f.Values.includes(inst.state);
    if (f.Name === "tag-key") return f.Values.some((k) => k in inst.tags);
    const v = inst.tags[f.Name.slice("tag:".length)];
    return v !== undefined && f.Values.some((p) => wildcard(p, v));
}

/** DescribeInstances' output in the SDK's shape: one reservation per instance. */
export function describeInstancesOutput(instances: readonly Ec2InstanceView[]): {
    Reservations: { Instances: Record<string, unknown>[] }[];
} {
    return {
        Reservations: instances.map((inst) => ({
            Instances: [
                {
                    InstanceId: inst.instanceId,
                    ...(inst.privateIpAddress
                        ? {
                              PrivateIpAddress: inst.privateIpAddress,
                              // EC2's private DNS name of that address (us-east-1's form, ip-A-B-C-D.ec2.internal).
                              PrivateDnsName: `ip-${inst.privateIpAddress.replace(/\./g, "-")}.ec2.internal`,
                          }
                        : {}),
                    Tags: Object.entries(inst.tags).map(([Key, Value]) => ({ Key, Value })),
                },
            ],
        })),
    };
}
