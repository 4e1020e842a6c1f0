/**
 * Whether an SSM parameter's allowedPattern is strict: whether a value that passes it could
 * still end a quoted string, start a command, expand a variable or break a line in shell text.
 */

function printable(c: string): string {
    return c === "\n" ? "\\n" : c === "\r" ? "\\r" : c;
}

const DIGITS = "0123456789";
const WORD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";
const SPACE = " \t\n\r\f\v";

/** The characters an escape `\c` matches ("ANY": nearly every character; "": none, an assertion). */
function escapeClass(c: string): string | "ANY" {
    switch (c) {
        case "d":
            return DIGITS;
        case "w":
            return WORD;
        case "s":
            return SPACE;
        case "D":
        case "W":
        case "S":
            return "ANY";
        case "n":
            return "\n";
        case "r":
            return "\r";
        case "t":
            return "\t";
        case "b":
        case "B":
        case "A":
        case "z":
        case "Z":
            return "";
        default:
            return c;
    }
}

/** What a pattern can match so far: its characters, whether it can match nearly any, its group depth. */
interface Scan {
    admitted: Set<string>;
    any: boolean;
    depth: number;
}

/**
 * Why `pattern` is not a strict allowedPattern, or undefined when it is. Strict means: anchored
 * (`^` first, an unescaped `$` last, no top-level `|` that would escape the anchors), and the
 * characters it can match (literals, escapes, ranges and classes; `.`, `\S`, `\W`, `\D` and
 * negated classes match nearly anything) include none of `forbidden`. A value that passes such a
 * pattern cannot end a quoted string, start a command, expand a variable or break a line.
 */
export function strictPatternProblem(pattern: string | undefined, forbidden: string): string | undefined {
    if (pattern === undefined || pattern === "") return "it has no allowedPattern";
    const endsWithDollar =
        pattern.endsWith("$") && (pattern.length - 1 - pattern.replace(/\\*\$$/, "").length) % 2 === 0;
    if (!pattern.startsWith("^") || !endsWithDollar)
        return `its allowedPattern ${JSON.stringify(pattern)} is not anchored with ^...$`;
    const body = pattern.slice(1, -1);
    const scan: Scan = { admitted: new Set<string>(), any: false, depth: 0 };
    for (let i = 0; i < body.length; i++) {
        const c = body[i];
        if (c === "\\") {
            i = readEscape(body, i, scan);
        } else if (c === "[") {
            const end = readClass(body, i, forbidden, scan.admitted);
            if (end === undefined)
                return `its allowedPattern ${JSON.stringify(pattern)} has an unterminated character class`;
            i = end;
        } else if (c === ".") {
            scan.any = true;
        } else if (c === "(") {
            scan.depth++;
            if (body[i + 1] === "?") {
                // (?:  (?=  (?!  (?<=  (?<!  (?<name>
                const m = /^\?(?:[:=!]|<[=!]|<[A-Za-z_]\w*>)/.exec(body.slice(i + 1));
                if (m) i += m[0].length;
            }
        } else if (c === ")") {
            scan.depth--;
        } else if (c === "|") {
            if (scan.depth === 0)
                return `its allowedPattern ${JSON.stringify(pattern)} has a top-level | that escapes the ^...$ anchors`;
        } else if (c === "{" && /^\{\d+(,\d*)?\}/.test(body.slice(i))) {
            i += /^\{\d+(,\d*)?\}/.exec(body.slice(i))![0].length - 1;
        } else if (c === "*" || c === "+" || c === "?" || c === "^" || c === "$") {
            // quantifiers and anchors admit no characters themselves
        } else {
            scan.admitted.add(c);
        }
    }
    if (scan.any) return `its allowedPattern ${JSON.stringify(pattern)} matches any character (., \\S, \\W or \\D)`;
    const bad = [...forbidden].filter((f) => scan.admitted.has(f));
    if (bad.length > 0)
        return `its allowedPattern ${JSON.stringify(pattern)} admits ${bad.map((b) => JSON.stringify(printable(b))).join(" ")}`;
    return undefined;
}

/** The escape at body[i] (a backslash) into `scan`; returns the index of its last character. */
function readEscape(body: string, i: number, scan: Scan): number {
    const e = body[++i] ?? "\\";
    if (e === "x" && /^[0-9a-fA-F]{2}/.test(body.slice(i + 1))) {
        scan.admitted.add(String.fromCharCode(parseInt(body.slice(i + 1, i + 3), 16)));
        return i + 2;
    }
    if (e === "u" && /^[0-9a-fA-F]{4}/.test(body.slice(i + 1))) {
        scan.admitted.add(String.fromCharCode(parseInt(body.slice(i + 1, i + 5), 16)));
        return i + 4;
    }
    const cls = escapeClass(e);
    if (cls === "ANY") scan.any = true;
    else for (const x of cls) scan.admitted.add(x);
    return i;
}

/**
 * The character class opening at body[i] into `admitted` (a negated class admits every forbidden
 * character it does not list); returns the index of its `]`, undefined when it has none.
 */
function readClass(body: string, i: number, forbidden: string, admitted: Set<string>): number | undefined {
    let j = i + 1;
    const negated = body[j] === "^";
    if (negated) j++;
    const cls = classMembers(body, j);
    if (cls.end >= body.length) return undefined;
    if (negated || cls.any) {
        // A negated class admits every character it does not list.
        for (const f of forbidden) if (!cls.members.has(f) || cls.any) admitted.add(f);
    } else {
        for (const m of cls.members) admitted.add(m);
    }
    return cls.end;
}

/** The members of a class from its first member at body[j] up to its `]` (`end`; body.length when there is none). */
function classMembers(body: string, j: number): { members: Set<string>; any: boolean; end: number } {
    const members = new Set<string>();
    let any = false;
    let first = true;
    let prev: string | undefined;
    while (j < body.length && (body[j] !== "]" || first)) {
        first = false;
        const ch = body[j];
        if (ch === "\\") {
            const cls = escapeClass(body[++j] ?? "\\");
            j++;
            if (cls === "ANY") any = true;
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
            for (let code = prev.charCodeAt(0); code <= hi.charCodeAt(0); code++)
                members.add(String.fromCharCode(code));
            prev = undefined;
            continue;
        }
        members.add(ch);
        prev = ch;
        j++;
    }
    return { members, any, end: j };
}
