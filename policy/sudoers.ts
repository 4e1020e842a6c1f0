/**
 * The no-sudoers-append rule: never write /etc/sudoers directly (one bad line locks every admin
 * out of sudo); drop-ins in /etc/sudoers.d/ must be checked with `visudo -c` first.
 */
import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { readConfig } from "./config";
import { scriptsOfResource } from "./documents";
import { NO_SUDOERS_APPEND, NO_SUDOERS_APPEND_DEFAULTS } from "./ruleConfig";
import { describe } from "./util";

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
                out.push(
                    `installs a /etc/sudoers.d/ file without checking it with \`visudo -cf\` (\`${lineAt(script, m.index)}\`)`,
                );
                break;
            }
        }
    }
    return out;
}

export const noSudoersAppend: ResourceValidationPolicy = {
    name: NO_SUDOERS_APPEND.name,
    description:
        "Checks whether SSM documents, associations, EC2 user data or commands write /etc/sudoers directly (or install a sudoers.d drop-in without a visudo check).",
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
