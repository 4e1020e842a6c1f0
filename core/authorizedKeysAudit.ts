/**
 * Judges every line of an authorized_keys file the way a host holds it: the key by the key rules
 * (the policy pack's ssh-key-algorithm rule, the same code as `pka check-key`), its options by the
 * access spec's allow-list (normalizeKeyOptions), and where it sits: inside pka-fleet's managed
 * block or outside it (added by hand or by another tool). Pure: `pka audit` and the local fleet
 * read the file and print the result.
 */
import { AccessSpecError } from "./accessSpecTypes";
import { normalizeKeyOptions } from "./keyOptions";
import { KeyError, KeyRules, judgeKeySpec, parsePublicKey } from "./keys";
import { SSH_KEY_TYPES } from "./keys/types";
import { BLOCK_BEGIN, BLOCK_END } from "./managedBlock";

export type AuditRegion = "managed" | "hand-added";
export type AuditVerdict = "allowed" | "violation" | "not-a-key";

export interface AuditLine {
    /** 1-based line number in the file. */
    line: number;
    region: AuditRegion;
    verdict: AuditVerdict;
    /** Why the line is not allowed (empty when allowed). */
    reasons: string[];
    /** Worth a look, but not a violation (a duplicate key, say). */
    notes: string[];
    type?: string;
    bits?: number;
    fingerprint?: string;
    comment?: string;
    /** The line's options as written ("" when none). */
    options?: string;
}

export interface AuditReport {
    lines: AuditLine[];
    /** Problems of the file as a whole (an unclosed managed block, markers out of order). */
    fileProblems: string[];
    counts: { keys: number; allowed: number; violations: number; notKeys: number; managed: number; handAdded: number };
}

export interface AuditOptions {
    rules?: Partial<KeyRules>;
    /** The file belongs to a service account: no security keys (they need a person's touch). */
    service?: boolean;
    /** Judge expiry-time against this moment (default: now). */
    now?: Date;
    /** The key rule's enforcement level (the policy config's): advisory findings become notes. */
    keyRuleLevel?: "mandatory" | "advisory" | "disabled";
}

/** authorized_keys larger than this is refused before it is read (sshd reads lines of at most 8 KiB). */
export const MAX_AUTHORIZED_KEYS_BYTES = 1024 * 1024;

/** Control characters and non-ASCII shown as \xNN, so a hostile comment cannot drive the terminal. */
export function printable(s: string): string {
    return s.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/**
 * A line split as sshd splits it (auth2-pubkeyfile.c): a line that starts with a key type has no
 * options; otherwise the options run to the first space or tab outside double quotes.
 */
export function splitAuthorizedKeysLine(text: string): { options: string; key: string } | undefined {
    const first = text.split(/[ \t]/, 1)[0];
    if (SSH_KEY_TYPES.includes(first) || /^(ssh|ecdsa|sk)-[A-Za-z0-9@.-]+$/.test(first))
        return { options: "", key: text };
    let quoted = false;
    for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (c === '"') quoted = !quoted;
        else if (!quoted && (c === " " || c === "\t"))
            return { options: text.slice(0, i), key: text.slice(i).replace(/^[ \t]+/, "") };
    }
    return undefined; // options with no key after them, or an unclosed quote
}

function judgeLine(text: string, n: number, region: AuditRegion, o: AuditOptions): AuditLine {
    const base = { line: n, region, reasons: [] as string[], notes: [] as string[] };
    const parts = splitAuthorizedKeysLine(text);
    if (!parts || parts.key === "") {
        return {
            ...base,
            verdict: "not-a-key",
            reasons: ["is not an authorized_keys line: expected [options] type base64 [comment] (an unclosed quote?)"],
        };
    }
    let info;
    try {
        info = parsePublicKey(parts.key, `line ${n}`);
    } catch (e) {
        if (!(e instanceof KeyError)) throw e;
        return { ...base, verdict: "not-a-key", options: parts.options, reasons: [e.message] };
    }
    const level = o.keyRuleLevel ?? "mandatory";
    const found =
        level === "disabled"
            ? []
            : judgeKeySpec({ type: info.type, bits: info.bits, curve: info.curve }, o.rules ?? {}, {
                  service: o.service,
                  label: `line ${n}`,
              });
    const reasons = level === "advisory" ? [] : found;
    if (level === "advisory") base.notes.push(...found.map((f) => `advisory: ${f}`));
    if (parts.options !== "") {
        try {
            normalizeKeyOptions(parts.options, "options", o.now ?? new Date());
        } catch (e) {
            if (!(e instanceof AccessSpecError)) throw e;
            reasons.push(e.message);
        }
    }
    return {
        ...base,
        verdict: reasons.length ? "violation" : "allowed",
        reasons,
        type: info.type,
        bits: info.bits,
        fingerprint: info.fingerprint,
        comment: info.comment,
        options: parts.options,
    };
}

/** Every line of `text` (an authorized_keys file) judged; comments and blank lines are skipped. */
export function auditAuthorizedKeys(text: string, o: AuditOptions = {}): AuditReport {
    const lines: AuditLine[] = [];
    const fileProblems: string[] = [];
    let region: AuditRegion = "hand-added";
    let begun = 0;
    const firstSeen = new Map<string, number>();
    text.split("\n").forEach((raw, i) => {
        const n = i + 1;
        const l = raw.replace(/\r$/, "");
        if (l === BLOCK_BEGIN) {
            if (region === "managed")
                fileProblems.push(`line ${n}: a second BEGIN marker inside the managed block (line ${begun})`);
            region = "managed";
            begun = n;
            return;
        }
        if (l === BLOCK_END) {
            if (region !== "managed") fileProblems.push(`line ${n}: an END marker with no BEGIN before it`);
            region = "hand-added";
            return;
        }
        if (/^[ \t]*(#|$)/.test(l)) return;
        const judged = judgeLine(l, n, region, o);
        if (judged.fingerprint) {
            const before = firstSeen.get(judged.fingerprint);
            if (before !== undefined) judged.notes.push(`the same key as line ${before}`);
            else firstSeen.set(judged.fingerprint, n);
        }
        lines.push(judged);
    });
    if ((region as AuditRegion) === "managed")
        fileProblems.push(`line ${begun}: the managed block is never closed (no END marker)`);
    const count = (f: (l: AuditLine) => boolean) => lines.filter(f).length;
    return {
        lines,
        fileProblems,
        counts: {
            keys: count((l) => l.verdict !== "not-a-key"),
            allowed: count((l) => l.verdict === "allowed"),
            violations: count((l) => l.verdict === "violation"),
            notKeys: count((l) => l.verdict === "not-a-key"),
            managed: count((l) => l.region === "managed" && l.verdict !== "not-a-key"),
            handAdded: count((l) => l.region === "hand-added" && l.verdict !== "not-a-key"),
        },
    };
}

/** The report as `pka audit` prints it: one line per key line, then a summary. */
export function formatAudit(report: AuditReport, label: string): string {
    const out: string[] = [];
    for (const l of report.lines) {
        const what = l.type ? `${l.type} ${l.bits} ${l.fingerprint}${l.comment ? ` ${printable(l.comment)}` : ""}` : "";
        const head = `${label}:${l.line} ${l.region} ${l.verdict}${what ? ` ${what}` : ""}`;
        out.push(head);
        for (const r of l.reasons) out.push(`    - ${printable(r)}`);
        for (const r of l.notes) out.push(`    note: ${printable(r)}`);
    }
    for (const p of report.fileProblems) out.push(`${label}: ${p}`);
    const c = report.counts;
    out.push(
        `${label}: ${c.keys} keys (${c.managed} managed, ${c.handAdded} hand-added): ${c.allowed} allowed, ${c.violations} violations, ${c.notKeys} lines not keys`,
    );
    return out.join("\n") + "\n";
}
