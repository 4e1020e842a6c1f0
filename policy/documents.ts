/**
 * What runs as root on the hosts: the shell text of SSM documents, associations, maintenance
 * window tasks, EC2 user data and command resources, for the rules that judge it
 * (no-sudoers-append in sudoers.ts, ssm-document-injection in documentInjection.ts, and the key
 * rules, which look for private keys in it).
 */
import { decodeUserData, isObject, parseDocument, pathString, str, unwrap, walkStrings } from "./util";

/** A piece of shell text and where it came from, for messages. */
export interface Script {
    where: string;
    text: string;
}

/** Every string of a parsed structure; arrays of strings (runCommand lines) joined into one script. */
function scriptsOf(value: unknown, prefix: string): Script[] {
    const out: Script[] = [];
    const visit = (v: unknown, path: (string | number)[]): void => {
        if (Array.isArray(v) && v.length > 0 && v.every((e) => typeof e === "string")) {
            out.push({ where: `${prefix}${pathString(path)}`, text: (v as string[]).join("\n") });
            return;
        }
        if (Array.isArray(v)) v.forEach((e, i) => visit(e, [...path, i]));
        else if (isObject(v)) for (const k of Object.keys(v)) visit(v[k], [...path, k]);
        else if (typeof v === "string")
            walkStrings(v, (_p, text) => out.push({ where: `${prefix}${pathString(path)}`, text }));
    };
    visit(value, []);
    return out;
}

/** The shell text a resource would run on hosts, whatever its type ([] for types that run none). */
export function scriptsOfResource(type: string, rawProps: unknown): Script[] {
    const props = unwrap(rawProps) as Record<string, unknown>;
    if (!isObject(props)) return [];
    switch (type) {
        case "aws:ssm/document:Document": {
            const content = str(props.content);
            if (content === undefined) return [];
            const doc = parseDocument(content, str(props.documentFormat));
            return doc ? scriptsOf(doc, "content.") : [{ where: "content", text: content }];
        }
        case "aws:ssm/association:Association":
            return scriptsOf(props.parameters, "parameters.");
        case "aws:ssm/maintenanceWindowTask:MaintenanceWindowTask":
            return scriptsOf(props.taskInvocationParameters, "taskInvocationParameters.");
        case "aws:ec2/instance:Instance":
            return [
                ...decodeUserData(props.userData, false).map((text) => ({ where: "userData", text })),
                ...decodeUserData(props.userDataBase64, true).map((text) => ({ where: "userDataBase64", text })),
            ];
        case "aws:ec2/launchTemplate:LaunchTemplate":
            return decodeUserData(props.userData, true).map((text) => ({ where: "userData", text }));
        case "aws:ec2/spotInstanceRequest:SpotInstanceRequest":
            return decodeUserData(props.userData, false).map((text) => ({ where: "userData", text }));
        case "command:remote:Command":
        case "command:local:Command":
            return ["create", "update", "delete"].flatMap((k) =>
                str(props[k]) ? [{ where: k, text: str(props[k])! }] : [],
            );
        default:
            return [];
    }
}
