/**
 * The Command documents the local endpoint knows, and SendCommand's checks of a command's
 * parameters against its document (AWS Systems Manager User Guide, "Data elements and parameters":
 * declared names only, a String takes one value, `allowedPattern` must match the whole value,
 * `allowedValues`, and a parameter without a default is required).
 */
import { RuleViolation } from "../awsErrors";

export interface SsmDocumentParameter {
    type: "String" | "StringList" | string;
    description?: string;
    default?: string | string[];
    allowedPattern?: string;
    allowedValues?: string[];
    interpolationType?: string;
}

export interface SsmDocument {
    schemaVersion: string;
    parameters?: Record<string, SsmDocumentParameter>;
    mainSteps: unknown[];
    [k: string]: unknown;
}

/** AWS-RunShellScript as far as parameter checking goes (the naive design sends it). */
export const AWS_RUN_SHELL_SCRIPT: SsmDocument = {
    schemaVersion: "2.2",
    description: "Run a shell script.",
    parameters: {
        commands: { type: "StringList", description: "(Required) Specify a shell script or a command to run." },
        workingDirectory: {
            type: "String",
            default: "",
            description: "(Optional) The path to the working directory on your instance.",
        },
        executionTimeout: {
            type: "String",
            default: "3600",
            allowedPattern: "([1-9][0-9]{0,4})|(1[0-6][0-9]{4})|(17[0-1][0-9]{3})|(172[0-7][0-9]{2})|(172800)",
        },
    },
    mainSteps: [{ action: "aws:runShellScript", name: "runShellScript", inputs: { runCommand: "{{ commands }}" } }],
};

/** Java-flavoured allowedPattern as AWS applies it: the whole value must match. */
function fullMatch(pattern: string, value: string): boolean {
    let re: RegExp;
    try {
        re = new RegExp(`^(?:${pattern})$`, "u");
    } catch {
        re = new RegExp(`^(?:${pattern})$`);
    }
    return re.test(value);
}

const invalid = (message: string): RuleViolation => ({ code: "InvalidParameters", message });

function valueViolation(name: string, decl: SsmDocumentParameter, values: string[]): RuleViolation | undefined {
    if (decl.type === "String" && values.length > 1)
        return invalid(`Parameter "${name}" is a String and takes one value.`);
    for (const v of values) {
        if (decl.allowedPattern !== undefined && !fullMatch(decl.allowedPattern, v)) {
            return invalid(
                `Parameter "${name}" "${v.slice(0, 40)}" failed to satisfy constraint: Member must satisfy regular expression pattern: ${decl.allowedPattern}`,
            );
        }
        if (decl.allowedValues && !decl.allowedValues.includes(v))
            return invalid(`Parameter "${name}" is not one of the allowed values.`);
    }
    return undefined;
}

/**
 * The command's parameters checked against the document, defaults applied; the input's shape (a map
 * of string lists within 64 KB) is local/ssmRules.ts sendCommandViolation's.
 */
export function documentParameters(
    document: SsmDocument,
    given: Record<string, string[]> = {},
): Record<string, string[]> | RuleViolation {
    const declared = document.parameters ?? {};
    const out: Record<string, string[]> = {};
    for (const [name, values] of Object.entries(given)) {
        const decl = declared[name];
        if (!decl) return invalid(`Parameter "${name}" is not defined in the document.`);
        const v = valueViolation(name, decl, values);
        if (v) return v;
        out[name] = values;
    }
    for (const [name, decl] of Object.entries(declared)) {
        if (out[name] !== undefined) continue;
        if (decl.default === undefined) return invalid(`Parameter "${name}" is required and has no default.`);
        out[name] = Array.isArray(decl.default) ? decl.default : [decl.default];
    }
    return out;
}
