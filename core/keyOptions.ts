/**
 * The grammar of keyOptions: the authorized_keys options a spec may set (sshd(8), "AUTHORIZED_KEYS
 * FILE FORMAT"), each checked against an allow-list and returned in canonical form.
 */
import { isIP } from "net";
import { AccessSpecError } from "./accessSpecTypes";
import { formatAddress, hostBitsSet, ip4Bytes, ip6Bytes, networkBytes } from "./ipAddress";

/** Flags allowed in keyOptions, lower-case -> the spelling written to authorized_keys. */
const OPTION_FLAGS: Readonly<Record<string, string>> = {
    restrict: "restrict",
    "no-agent-forwarding": "no-agent-forwarding",
    "no-port-forwarding": "no-port-forwarding",
    "no-pty": "no-pty",
    "no-user-rc": "no-user-rc",
    "no-x11-forwarding": "no-X11-forwarding",
    // Re-enable what restrict turns off (sshd(8)); the sk ones apply to security-key keys.
    "agent-forwarding": "agent-forwarding",
    "port-forwarding": "port-forwarding",
    pty: "pty",
    "user-rc": "user-rc",
    "x11-forwarding": "X11-forwarding",
    "no-touch-required": "no-touch-required",
    "verify-required": "verify-required",
};
const OPTION_VALUES = ["from", "command", "expiry-time", "permitopen", "permitlisten"];
/** Options sshd may take more than once (each a further allowed destination or listener). */
const REPEATABLE = new Set(["permitopen", "permitlisten"]);
/**
 * Options sshd knows that a spec may not set, each with the reason (sshd(8), "AUTHORIZED_KEYS FILE
 * FORMAT"): what it would do, and what to do instead.
 */
const REFUSED_REASONS: Readonly<Record<string, string>> = {
    environment:
        "it sets variables in the login's environment (sshd honours it only with PermitUserEnvironment, and " +
        "variables such as LD_PRELOAD or BASH_ENV run code before any forced command); set them in the " +
        "command's script on the host instead",
    tunnel:
        "it forces a tun(4) device, a network-level tunnel (PermitTunnel) pka-fleet does not manage; " +
        "use port-forwarding with permitopen/permitlisten to allow specific forwards",
    "cert-authority":
        "it makes the key a certificate authority that may sign keys for this account, a trust " +
        "pka-fleet's key lines do not grant; give the user's own public keys",
    principals:
        "it only has meaning on a cert-authority line, which pka-fleet does not write; give the user's own public keys",
};
/** The capabilities restrict turns off and a flag of the same name turns back on (sshd(8)). */
const CAPABILITIES = ["agent-forwarding", "port-forwarding", "pty", "user-rc", "x11-forwarding"];
export const MAX_KEY_OPTIONS_LENGTH = 1024;
/** The characters a forced command may use: no shell metacharacters, quotes or backslashes. */
/** command="..." (and a certificate's force-command): no quotes, no shell metacharacters. */
export const COMMAND_PATTERN = /^[A-Za-z0-9 _.\/:=@%+,-]{1,256}$/;
const HOST_PATTERN = /^[A-Za-z0-9*?-]+(\.[A-Za-z0-9*?-]+)*$/;

function splitOptions(text: string, path: string): string[] {
    const out: string[] = [];
    let cur = "";
    let quoted = false;
    for (const ch of text) {
        if (ch === '"') quoted = !quoted;
        if (ch === "," && !quoted) {
            out.push(cur);
            cur = "";
        } else cur += ch;
    }
    if (quoted) throw new AccessSpecError(path, 'unbalanced double quote: every value must be written as name="value"');
    out.push(cur);
    return out;
}

function checkFrom(value: string, path: string): void {
    if (value.length > 512) throw new AccessSpecError(path, `from="..." is longer than 512 characters`);
    if (!/^[A-Za-z0-9.:\/*?!,-]+$/.test(value)) {
        throw new AccessSpecError(path, `from="${value}" may use only letters, digits and . : / * ? ! , -`);
    }
    for (const raw of value.split(",")) {
        const neg = raw.startsWith("!") ? "!" : "";
        const p = raw.slice(neg.length);
        if (p === "")
            throw new AccessSpecError(
                path,
                `from="${value}" has an empty pattern; separate patterns with single commas`,
            );
        if (p.includes("/")) checkCidr(raw, neg, p, path);
        else if (!isIP(p) && !HOST_PATTERN.test(p)) {
            throw new AccessSpecError(
                path,
                `from= pattern '${raw}' is neither an address, a CIDR block nor a host name pattern (letters, digits, . - * ?)`,
            );
        }
    }
}

/** One from= CIDR block `p` (`raw` with its `neg` "!" taken off). */
function checkCidr(raw: string, neg: string, p: string, path: string): void {
    const slash = p.indexOf("/");
    const addr = p.slice(0, slash);
    const bitsText = p.slice(slash + 1);
    const family = isIP(addr);
    const max = family === 4 ? 32 : family === 6 ? 128 : 0;
    if (!max || !/^[0-9]{1,3}$/.test(bitsText) || Number(bitsText) > max) {
        throw new AccessSpecError(
            path,
            `from= pattern '${raw}' is not a CIDR block like 10.0.0.0/8 or 2001:db8::/32 (prefix length 0-32 for IPv4, 0-128 for IPv6)`,
        );
    }
    // sshd's addr_match_list (addr_pton_cidr) calls a block whose address has bits set past the
    // prefix an error, and then refuses the key from every address ("invalid from criteria"),
    // even one another entry allows: the key would stop working (seen with OpenSSH 9.2).
    const bits = Number(bitsText);
    const bytes = family === 4 ? ip4Bytes(addr) : ip6Bytes(addr);
    if (hostBitsSet(bytes, bits)) {
        const net = formatAddress(networkBytes(bytes, bits), family);
        throw new AccessSpecError(
            path,
            `from= CIDR '${raw}' has host bits set (its address is not the first of the /${bits} block): sshd rejects ` +
                `the entry, and with it the key, from every address; write the network address ${neg}${net}/${bits}`,
        );
    }
}

/** A port as sshd's permitopen/permitlisten read it: 1-65535, or * for any. */
const PORT_PATTERN = /^(\*|[1-9][0-9]{0,4})$/;
/** A host name (letters, digits, - and .), for permitopen a literal one (sshd does no matching there). */
const LITERAL_HOST = /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/;

/**
 * permitopen="host:port" and permitlisten="[host:]port" (sshd(8)): host a name, an IPv4 address,
 * an IPv6 address in brackets or *; for permitlisten the name may hold the wildcards * and ?
 * (ssh_config(5) PATTERNS) and the host may be left out (it then means localhost); port 1-65535
 * or *. No spaces, quotes or other characters: the value is one token.
 */
function checkForward(name: string, value: string, path: string): void {
    const listen = name === "permitlisten";
    const form = listen ? "[host:]port" : "host:port";
    const example = listen ? 'permitlisten="localhost:8080" or permitlisten="8080"' : 'permitopen="db.internal:5432"';
    const bad = (what: string) =>
        new AccessSpecError(
            path,
            `${name}="${value}": ${what}; write ${form}, e.g. ${example}, [::1]:22 for IPv6, * for any port`,
        );
    if (value.length > 300) throw bad("is longer than 300 characters");
    const colon = value.lastIndexOf(":");
    if (colon < 0 && !listen) throw bad("has no port");
    const host = colon < 0 ? undefined : value.slice(0, colon);
    const port = value.slice(colon + 1);
    if (!PORT_PATTERN.test(port) || Number(port) > 65535)
        throw bad(
            `port '${port}' is not 1-65535 or *` +
                (/^[a-z]/i.test(port)
                    ? " (a service name is read from each host's /etc/services: give the number)"
                    : ""),
        );
    if (host === undefined || host === "*") return;
    if (host.startsWith("[") && host.endsWith("]")) {
        if (isIP(host.slice(1, -1)) !== 6) throw bad(`'${host}' is not an IPv6 address in brackets`);
        return;
    }
    if (isIP(host) === 4) return;
    if (host.includes(":")) throw bad(`an IPv6 address must be in brackets, as [${host}]`);
    const hostOk = listen ? HOST_PATTERN.test(host) : LITERAL_HOST.test(host);
    if (!hostOk || host.length > 255) {
        throw bad(
            `host '${host}' is not a host name (letters, digits, - and .${listen ? ", with * and ? as wildcards" : "; sshd matches it literally"}), an IPv4 address, [IPv6] or *`,
        );
    }
}

/** The largest offset from UTC of any time zone (UTC+14, Line Islands): a local time is this far from UTC at most. */
const MAX_UTC_OFFSET_HOURS = 14;

function checkExpiry(value: string, path: string, now: Date | undefined): void {
    const m = /^([0-9]{4})([0-9]{2})([0-9]{2})(?:([0-9]{2})([0-9]{2})([0-9]{2})?)?(Z?)$/.exec(value);
    const bad = () =>
        new AccessSpecError(path, `expiry-time="${value}" must be YYYYMMDD[HHMM[SS]][Z], a real date and time`);
    if (!m) throw bad();
    const [y, mo, d, h = "00", mi = "00", s = "00"] = m.slice(1, 7).map((x) => x ?? undefined) as string[];
    const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
    if (
        date.getUTCFullYear() !== Number(y) ||
        date.getUTCMonth() !== Number(mo) - 1 ||
        date.getUTCDate() !== Number(d) ||
        Number(h) > 23 ||
        Number(mi) > 59 ||
        Number(s) > 59
    ) {
        throw bad();
    }
    if (now !== undefined) checkNotPast(value, date, m[7] === "Z", path, now);
}

/** An expiry-time (`date`, read as UTC) that sshd would already refuse at `now`. */
function checkNotPast(value: string, date: Date, utc: boolean, path: string, now: Date): void {
    // sshd refuses the key once the time is past (valid_before < now, in whole seconds).
    const nowSeconds = Math.floor(now.getTime() / 1000);
    const at = date.getTime() / 1000;
    const fix = "remove the key (or its user) from the spec, or set a later expiry-time";
    if (utc) {
        if (at < nowSeconds) {
            throw new AccessSpecError(
                path,
                `expiry-time="${value}" (${isoSeconds(date)}) is already past (now ${isoSeconds(now)}): sshd would refuse the key on every host; ${fix}`,
            );
        }
    } else if (at + MAX_UTC_OFFSET_HOURS * 3600 < nowSeconds) {
        // Without Z, sshd reads the time in the host's own time zone, which the deploy cannot know:
        // only a time past in every zone is certainly past.
        throw new AccessSpecError(
            path,
            `expiry-time="${value}" is past in every time zone (more than ${MAX_UTC_OFFSET_HOURS} hours before now, ${isoSeconds(now)}; ` +
                `without Z sshd reads it in the host's local time): sshd would refuse the key on every host; ${fix}`,
        );
    }
}

/** `now` is the caller's, not the spec's: a bad one is a programming error, not an AccessSpecError. */
export function checkNow(now: unknown, fn: string): void {
    if (now !== undefined && !(now instanceof Date && Number.isFinite(now.getTime()))) {
        throw new TypeError(`${fn}: \`now\` must be a valid Date (the time of the deploy); got ${String(now)}`);
    }
}

function isoSeconds(d: Date): string {
    return d.toISOString().replace(/\.[0-9]{3}Z$/, "Z");
}

/**
 * Validates keyOptions against the allow-list and returns it in canonical form (flags in their
 * OpenSSH spelling, order kept). Anything not provably inert in authorized_keys is refused.
 * With `now`, an expiry-time already past is refused too (see ValidateAccessSpecOptions.now).
 */
export function normalizeKeyOptions(text: string, path = "keyOptions", now?: Date): string | undefined {
    checkNow(now, "normalizeKeyOptions");
    if (typeof text !== "string") throw new AccessSpecError(path, 'must be a string such as "restrict"');
    if (/[\x00-\x1f\x7f]/.test(text)) {
        throw new AccessSpecError(
            path,
            "contains a control character (newline, carriage return, tab, ...); options are one line",
        );
    }
    if (text.length > MAX_KEY_OPTIONS_LENGTH)
        throw new AccessSpecError(path, `is longer than ${MAX_KEY_OPTIONS_LENGTH} characters`);
    if (/[^\x20-\x7e]/.test(text)) throw new AccessSpecError(path, "contains a non-ASCII character");
    if (text.trim() === "") return undefined;
    if (text.includes("\\"))
        throw new AccessSpecError(path, "contains a backslash; escaped quotes are not accepted in option values");
    const seen = new Set<string>();
    const out: string[] = [];
    for (const token of splitOptions(text, path)) {
        const eq = token.indexOf("=");
        const name = (eq < 0 ? token : token.slice(0, eq)).toLowerCase();
        const option = eq < 0 ? flagOption(token, name, path) : valueOption(token, eq, name, path, now);
        const key = REPEATABLE.has(name) ? option : name;
        if (seen.has(key))
            throw new AccessSpecError(path, `option '${REPEATABLE.has(name) ? option : name}' appears twice`);
        seen.add(key);
        out.push(option);
    }
    checkContradictions(out, path);
    return out.join(",");
}

/**
 * Options that undo each other or have no effect as written, refused rather than guessed at:
 * sshd applies them in order (restrict turns off what came before it), so `pty,restrict` grants
 * no pty, `pty,no-pty` is ambiguous to a reader, and permitopen/permitlisten limit forwarding
 * that restrict or no-port-forwarding has turned off (they do not turn it on).
 */
function checkContradictions(options: string[], path: string): void {
    const names = options.map((o) => o.split("=")[0].toLowerCase());
    const restrictAt = names.indexOf("restrict");
    for (const c of CAPABILITIES) {
        const on = names.indexOf(c);
        if (on >= 0 && names.includes(`no-${c}`)) {
            throw new AccessSpecError(
                path,
                `'${OPTION_FLAGS[c]}' and 'no-${OPTION_FLAGS[c]}' contradict each other; keep one`,
            );
        }
        if (on >= 0 && on < restrictAt) {
            throw new AccessSpecError(
                path,
                `'${OPTION_FLAGS[c]}' before 'restrict' has no effect (restrict turns off what precedes it); write restrict first`,
            );
        }
    }
    const forwardingOff =
        names.includes("no-port-forwarding") || (restrictAt >= 0 && !names.includes("port-forwarding"));
    const limit = names.find((n) => REPEATABLE.has(n));
    if (limit && forwardingOff) {
        throw new AccessSpecError(
            path,
            `${limit}="..." has no effect while port forwarding is off (${names.includes("no-port-forwarding") ? "no-port-forwarding" : "restrict"}): ` +
                `it limits forwarding, it does not allow it; add port-forwarding after restrict (and drop no-port-forwarding)`,
        );
    }
}

/** A flag option (`token`, lower-cased `name`) in its OpenSSH spelling. */
function flagOption(token: string, name: string, path: string): string {
    const flag = OPTION_FLAGS[name];
    if (!flag) {
        const why = REFUSED_REASONS[name];
        throw new AccessSpecError(
            path,
            `option '${token}' is not allowed${why ? `: ${why}` : ""}; allowed: ${Object.values(OPTION_FLAGS).join(", ")}, ` +
                OPTION_VALUES.map((v) => `${v}="..."`).join(", "),
        );
    }
    return flag;
}

/** An option with a value (`token`, its `=` at `eq`, lower-cased `name`), checked, as name="value". */
function valueOption(token: string, eq: number, name: string, path: string, now: Date | undefined): string {
    if (!OPTION_VALUES.includes(name)) {
        const why = REFUSED_REASONS[name];
        throw new AccessSpecError(
            path,
            `option '${token.slice(0, eq)}' is not allowed${why ? `: ${why}` : ""}; allowed with a value: ${OPTION_VALUES.join(", ")}`,
        );
    }
    const raw = token.slice(eq + 1);
    if (raw.length < 2 || !raw.startsWith('"') || !raw.endsWith('"') || raw.slice(1, -1).includes('"')) {
        throw new AccessSpecError(
            path,
            `option '${name}' must be written ${name}="value" with nothing after the closing quote`,
        );
    }
    const value = raw.slice(1, -1);
    if (name === "from") checkFrom(value, path);
    else if (name === "command") {
        if (!COMMAND_PATTERN.test(value)) {
            throw new AccessSpecError(
                path,
                `command="${value}" may use only letters, digits, space and _ . / : = @ % + , - (1-256 characters); put anything more complex in a script on the host and name the script`,
            );
        }
    } else if (name === "expiry-time") checkExpiry(value, path, now);
    else checkForward(name, value, path);
    return `${name}="${value}"`;
}
