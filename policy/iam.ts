/**
 * provisioner-least-privilege: whoever can call ssm:SendCommand with a shell document on an
 * instance is root there. The provisioner needs it only for its own document and only on the
 * fleet's tagged instances; anything wider turns the Lambda's role into root on every instance.
 */
import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { readConfig } from "./config";
import { LEAST_PRIVILEGE, LEAST_PRIVILEGE_DEFAULTS, LeastPrivilegeConfig } from "./ruleConfig";
import { asList, describe, globMatch, isObject, isUnknown, parseJsonish, str, unwrap } from "./util";

// Probe ARNs: a statement covers "every document" when its Resource matches a document name
// nobody would write into a policy, and "every instance" when it matches an arbitrary instance.
const PROBE_DOCUMENT = { service: "ssm", resource: "document/pka-probe-Zq9x7-ArbitraryDocument" };
const PROBE_INSTANCE = { service: "ec2", resource: "instance/i-0a1b2c3d4e5f60718" };
const PROBE_MANAGED_INSTANCE = { service: "ssm", resource: "managed-instance/mi-0a1b2c3d4e5f60718" };

/** Whether an IAM Resource pattern matches the probe (partition, region and account ignored: any value counts). */
function covers(pattern: string, probe: { service: string; resource: string }): boolean {
    if (pattern === "*") return true;
    const parts = pattern.split(":");
    if (parts.length < 6 || parts[0] !== "arn")
        return globMatch(pattern, `arn:aws:${probe.service}:us-east-1:123456789012:${probe.resource}`);
    const resource = parts.slice(5).join(":");
    return globMatch(parts[2], probe.service) && globMatch(resource, probe.resource);
}

/** Whether the statement's Resource / NotResource admits the probe. */
function admits(stmt: Record<string, unknown>, probe: { service: string; resource: string }): string | undefined {
    const get = (k: string) => stmt[k] ?? stmt[k.toLowerCase()];
    if (get("NotResource") !== undefined) {
        const excluded = asList(get("NotResource")).filter((p): p is string => typeof p === "string" && !isUnknown(p));
        return excluded.some((p) => covers(p, probe)) ? undefined : `NotResource ${JSON.stringify(get("NotResource"))}`;
    }
    for (const p of asList(get("Resource"))) {
        if (typeof p === "string" && !isUnknown(p) && covers(p, probe)) return JSON.stringify(p);
    }
    return undefined;
}

function grantsAction(stmt: Record<string, unknown>, action: string): boolean {
    const get = (k: string) => stmt[k] ?? stmt[k.toLowerCase()];
    const patterns = (v: unknown) => asList(v).filter((p): p is string => typeof p === "string" && !isUnknown(p));
    if (get("NotAction") !== undefined) return !patterns(get("NotAction")).some((p) => globMatch(p, action, true));
    return patterns(get("Action")).some((p) => globMatch(p, action, true));
}

/** Whether the statement only applies to resources carrying a tag (a positive, non-IfExists tag condition). */
function hasTagCondition(stmt: Record<string, unknown>, cfg: LeastPrivilegeConfig): boolean {
    const cond = stmt.Condition ?? stmt.condition;
    if (!isObject(cond)) return false;
    for (const [operator, block] of Object.entries(cond)) {
        if (/Not/i.test(operator) || /IfExists$/i.test(operator) || operator === "Null" || !isObject(block)) continue;
        for (const key of Object.keys(block)) {
            if (cfg.tagConditionKeys.some((prefix) => key.toLowerCase().startsWith(prefix.toLowerCase()))) return true;
        }
    }
    return false;
}

/** What a policy document grants too widely: one message fragment per statement and action. */
export function policyProblems(policy: unknown, cfg: LeastPrivilegeConfig = LEAST_PRIVILEGE_DEFAULTS): string[] {
    const doc = parseJsonish(policy);
    if (!isObject(doc)) return [];
    const out: string[] = [];
    asList(doc.Statement ?? doc.statement).forEach((stmt, i) => {
        if (!isObject(stmt)) return;
        const effect = stmt.Effect ?? stmt.effect;
        if (typeof effect !== "string" || effect.toLowerCase() !== "allow") return;
        const sid = typeof stmt.Sid === "string" ? ` (Sid "${stmt.Sid}")` : "";
        const at = `statement ${i}${sid}`;
        for (const action of cfg.actions) {
            if (!grantsAction(stmt, action)) continue;
            const anyDoc = admits(stmt, PROBE_DOCUMENT);
            if (anyDoc !== undefined) {
                out.push(
                    `${at} allows ${action} with every document (Resource ${anyDoc}), including AWS-RunShellScript, which runs any shell text as root`,
                );
            } else {
                for (const shellDoc of cfg.shellDocuments) {
                    const hit = admits(stmt, { service: "ssm", resource: `document/${shellDoc}` });
                    if (hit !== undefined)
                        out.push(
                            `${at} allows ${action} with ${shellDoc} (Resource ${hit}), which runs any shell text as root`,
                        );
                }
            }
            const anyInstance = admits(stmt, PROBE_INSTANCE) ?? admits(stmt, PROBE_MANAGED_INSTANCE);
            if (anyInstance !== undefined && !hasTagCondition(stmt, cfg)) {
                out.push(
                    `${at} allows ${action} on every instance (Resource ${anyInstance}) without a tag condition (${cfg.tagConditionKeys.map((k) => `${k}<key>`).join(" or ")})`,
                );
            }
        }
    });
    return out;
}

const ADVICE =
    "Grant ssm:SendCommand in two statements: one on the fleet's own document ARN (arn:aws:ssm:<region>:<account>:document/<name>), " +
    "one on arn:aws:ec2:<region>:<account>:instance/* with a Condition StringEquals on ssm:resourceTag/<fleet tag>.";

function managedPolicyName(arn: string): string {
    return arn.slice(arn.lastIndexOf("/") + 1);
}

export const provisionerLeastPrivilege: ResourceValidationPolicy = {
    name: LEAST_PRIVILEGE.name,
    description:
        "Checks whether IAM policies allow ssm:SendCommand on any document (`*`), on AWS-RunShellScript, or on all instances without a tag condition.",
    enforcementLevel: "mandatory",
    configSchema: LEAST_PRIVILEGE.schema,
    validateResource: (args: ResourceValidationArgs, reportViolation) => {
        const cfg = readConfig(args, LEAST_PRIVILEGE);
        const props = unwrap(args.props) as Record<string, unknown>;
        if (!isObject(props)) return;
        const documents: { where: string; policy: unknown }[] = [];
        const managed: string[] = [];
        switch (args.type) {
            case "aws:iam/policy:Policy":
            case "aws:iam/rolePolicy:RolePolicy":
            case "aws:iam/userPolicy:UserPolicy":
            case "aws:iam/groupPolicy:GroupPolicy":
                documents.push({ where: "policy", policy: props.policy });
                break;
            case "aws:iam/role:Role":
                asList(props.inlinePolicies).forEach((p, i) => {
                    if (isObject(p))
                        documents.push({
                            where: `inline policy ${str(p.name) ? `"${p.name}"` : `#${i}`}`,
                            policy: p.policy,
                        });
                });
                managed.push(...asList(props.managedPolicyArns).filter((a): a is string => str(a) !== undefined));
                break;
            case "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
            case "aws:iam/userPolicyAttachment:UserPolicyAttachment":
            case "aws:iam/groupPolicyAttachment:GroupPolicyAttachment":
            case "aws:iam/policyAttachment:PolicyAttachment":
                if (str(props.policyArn)) managed.push(str(props.policyArn)!);
                break;
            case "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive":
                managed.push(...asList(props.policyArns).filter((a): a is string => str(a) !== undefined));
                break;
            default:
                return;
        }
        for (const d of documents) {
            for (const p of policyProblems(d.policy, cfg))
                reportViolation(`${describe(args)}: ${d.where} ${p}. ${ADVICE}`);
        }
        for (const arn of managed) {
            const name = managedPolicyName(arn);
            if (arn.includes(":aws:policy/") && cfg.broadManagedPolicies.includes(name)) {
                reportViolation(
                    `${describe(args)} attaches the AWS managed policy ${name}, which allows ${cfg.actions.join(", ")} with every document on every instance. ` +
                        `Attach a policy of your own instead. ${ADVICE}`,
                );
            }
        }
    },
};
