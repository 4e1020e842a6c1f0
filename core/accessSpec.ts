/**
 * The access spec: which users exist on the fleet's hosts, their sudo mode, their SSH keys and
 * the options on those keys. Validated and normalized here, once, for every consumer (component,
 * CLI, Lambda); the on-host script re-validates what it receives, but it only ever receives
 * values that passed this module.
 */
import { isIP } from "net";
import { sha256Hex } from "./accessStore";
import { INSTALLABLE_KEY_TYPES, judgeKey, KeyRules, parsePublicKey } from "./keys";

export type SudoMode = "nopasswd" | "none";

export interface AccessUser {
    /** Login name, `^[a-z_][a-z0-9_-]{0,31}$`, not a system or cloud-init default account nor a stock group name. */
    name: string;
    /** `nopasswd`: full sudo without password through /etc/sudoers.d/90-pka-<name>; `none`: no sudo. */
    sudo: SudoMode;
    /** OpenSSH public key lines (`type base64 [comment]`), no options. */
    keys: string[];
    /** authorized_keys options for every key of this user, from the allow-list. */
    keyOptions?: string;
    /**
     * Take over an account that already exists on a host and that pka-fleet did not create. Without
     * it such an account is left alone and reported: a name clash must never hand a stranger's
     * account (its files, its groups, its processes) to whoever holds the spec's keys.
     */
    adopt?: boolean;
}

export interface AccessSpec {
    users: AccessUser[];
}

export interface ValidateAccessSpecOptions {
    /** Key rules (defaults: the policy pack's). */
    keyRules?: Partial<KeyRules>;
    /** Organization-level keys given to every user that lists no key of its own. */
    fallbackKeys?: string[];
    /**
     * The time of the deploy: an `expiry-time` already past then is refused (with `Z` compared in UTC;
     * without, sshd reads it in the host's local time zone, so only one past in every zone, more than
     * 14 hours ago). Default: no such check, for whoever re-validates a deployed spec later (the Lambda
     * must keep serving a spec whose keys have since expired; sshd then just refuses those keys).
     */
    now?: Date;
}

/** A spec that must not be deployed. `path` names the offending value, e.g. `users[2].keys[0]`. */
export class AccessSpecError extends Error {
    readonly path: string;
    constructor(path: string, message: string) {
        super(path && !message.startsWith(`${path}:`) ? `${path}: ${message}` : message);
        this.name = "AccessSpecError";
        this.path = path;
    }
}

export const USER_NAME_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;

/** Marker lines around the block of authorized_keys this package owns. */
export const BLOCK_BEGIN = "# BEGIN pka-fleet managed block (do not edit: pka-fleet rewrites it)";
export const BLOCK_END = "# END pka-fleet managed block";

const SYSTEM_REASON = "is a system account: giving it an SSH login would hand out a service's identity";
const CLOUD_INIT_REASON =
    "is an AMI's default login user: cloud-init writes the EC2 key pair into its authorized_keys and " +
    "owns its sudo rule, so managing it here would fight cloud-init; use a dedicated user such as svc_user";

const GROUP_REASON =
    "is a group on stock Debian, Ubuntu or Amazon Linux images (or one that common packages add): useradd fails " +
    "where the group exists (it cannot create the user's own group), so the user would be missing there; choose another name";

/**
 * Group names of stock images that are not also account names listed above: Debian's base-passwd
 * (group.master), systemd's sysusers basic.conf, Fedora's setup package (the base of Amazon Linux
 * 2023), cloud-init's default-user groups (Debian: netdev, plugdev; Ubuntu: lxd) and the groups of
 * common packages (openssh-client _ssh, formerly ssh; cron's crontab; ssl-cert; docker).
 */
const GROUP_NAMES = [
    "users", "sudo", "staff", "wheel", "audio", "video", "plugdev", "netdev", "lxd", "docker", "input", "render",
    "kvm", "sgx", "clock", "disk", "tty", "dialout", "dip", "cdrom", "floppy", "tape", "fax", "voice", "shadow",
    "utmp", "utempter", "src", "sasl", "nogroup", "kmem", "mem", "lock", "crontab", "ssh", "_ssh", "ssh_keys",
    "ssl-cert",
];

/**
 * Names refused with the reason why. The script refuses the same names (RESERVED_ERE) except the
 * group names, and any existing account below UID_MIN.
 */
export const RESERVED_USER_NAMES: Readonly<Record<string, string>> = Object.freeze({
    ...Object.fromEntries(
        [
            "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy",
            "www-data", "backup", "list", "irc", "gnats", "nobody", "nfsnobody", "sshd", "messagebus",
            "adm", "halt", "shutdown", "operator", "ftp", "polkitd", "chrony", "dbus", "rpc", "rpcuser",
            "tss", "systemd-network", "systemd-resolve", "systemd-timesync", "systemd-coredump", "_apt",
            "ec2-instance-connect",
        ].map((n) => [n, SYSTEM_REASON]),
    ),
    "ssm-user": "is the SSM agent's Session Manager account: the agent creates it and owns its sudo rule",
    ...Object.fromEntries(
        ["ec2-user", "ubuntu", "admin", "centos", "fedora", "rocky", "almalinux", "cloud-user"].map((n) => [
            n,
            CLOUD_INIT_REASON,
        ]),
    ),
    ...Object.fromEntries(GROUP_NAMES.map((n) => [n, GROUP_REASON])),
});

/** Checks a user name; returns the reason it is refused, or undefined. */
export function userNameProblem(name: string): string | undefined {
    if (!USER_NAME_PATTERN.test(name)) {
        return "must match ^[a-z_][a-z0-9_-]{0,31}$ (lower-case letter or _ first, then up to 31 of a-z 0-9 _ -)";
    }
    if (Object.prototype.hasOwnProperty.call(RESERVED_USER_NAMES, name)) return `'${name}' ${RESERVED_USER_NAMES[name]}`;
    if (name.startsWith("systemd-")) return `'${name}' ${SYSTEM_REASON}`;
    return undefined;
}

// ---------------------------------------------------------------------------------------------
// Key options

/** Flags allowed in keyOptions, lower-case -> the spelling written to authorized_keys. */
const OPTION_FLAGS: Readonly<Record<string, string>> = {
    restrict: "restrict",
    "no-agent-forwarding": "no-agent-forwarding",
    "no-port-forwarding": "no-port-forwarding",
    "no-pty": "no-pty",
    "no-user-rc": "no-user-rc",
    "no-x11-forwarding": "no-X11-forwarding",
};
const OPTION_VALUES = ["from", "command", "expiry-time"];
export const MAX_KEY_OPTIONS_LENGTH = 1024;
/** The characters a forced command may use: no shell metacharacters, quotes or backslashes. */
const COMMAND_PATTERN = /^[A-Za-z0-9 _.\/:=@%+,-]{1,256}$/;
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
        if (p === "") throw new AccessSpecError(path, `from="${value}" has an empty pattern; separate patterns with single commas`);
        const slash = p.indexOf("/");
        if (slash >= 0) {
            const addr = p.slice(0, slash);
            const bitsText = p.slice(slash + 1);
            const family = isIP(addr);
            const max = family === 4 ? 32 : family === 6 ? 128 : 0;
            if (!max || !/^[0-9]{1,3}$/.test(bitsText) || Number(bitsText) > max) {
                throw new AccessSpecError(path, `from= pattern '${raw}' is not a CIDR block like 10.0.0.0/8 or 2001:db8::/32 (prefix length 0-32 for IPv4, 0-128 for IPv6)`);
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
        } else if (!isIP(p) && !HOST_PATTERN.test(p)) {
            throw new AccessSpecError(path, `from= pattern '${raw}' is neither an address, a CIDR block nor a host name pattern (letters, digits, . - * ?)`);
        }
    }
}

/** The 4 bytes of a dotted-quad address (checked by isIP first). */
function ip4Bytes(addr: string): number[] {
    return addr.split(".").map(Number);
}

/** The 16 bytes of an IPv6 address (checked by isIP first): `::` expanded, an IPv4 tail read as its 4 bytes. */
function ip6Bytes(addr: string): number[] {
    let text = addr;
    let tail: number[] = [];
    if (text.includes(".")) {
        const cut = text.lastIndexOf(":");
        tail = ip4Bytes(text.slice(cut + 1));
        text = text.slice(0, cut); // "::ffff:1.2.3.4" -> "::ffff", "1::1.2.3.4" -> "1:"
        if (text.endsWith(":")) text += ":";
    }
    const parse = (part: string) => (part ? part.split(":").map((h) => parseInt(h, 16)) : []);
    let groups: number[];
    if (text.includes("::")) {
        const [left, right] = text.split("::").map(parse);
        groups = [...left, ...Array(8 - tail.length / 2 - left.length - right.length).fill(0), ...right];
    } else groups = parse(text);
    return [...groups.flatMap((g) => [g >> 8, g & 0xff]), ...tail];
}

function hostBitsSet(bytes: number[], bits: number): boolean {
    return bytes.some((b, i) => (b & ~prefixMask(i, bits) & 0xff) !== 0);
}

function networkBytes(bytes: number[], bits: number): number[] {
    return bytes.map((b, i) => b & prefixMask(i, bits));
}

/** The mask of byte `i` for a prefix of `bits` bits. */
function prefixMask(i: number, bits: number): number {
    const inByte = Math.min(Math.max(bits - i * 8, 0), 8);
    return (0xff << (8 - inByte)) & 0xff;
}

/** An address in its usual text: dotted quad, or RFC 5952 IPv6 (longest zero run as `::`; IPv4-mapped as ::ffff:a.b.c.d). */
function formatAddress(bytes: number[], family: number): string {
    if (family === 4) return bytes.join(".");
    const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
    if (mapped) return `::ffff:${bytes.slice(12).join(".")}`;
    const groups: number[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(bytes[i] * 256 + bytes[i + 1]);
    // RFC 5952: the longest run of two or more zero groups becomes `::` (the first of equal runs)
    let best = { start: -1, len: 1 };
    for (let i = 0; i < groups.length; i++) {
        let j = i;
        while (j < groups.length && groups[j] === 0) j++;
        if (j - i > best.len) best = { start: i, len: j - i };
        i = j;
    }
    const hex = (g: number[]) => g.map((x) => x.toString(16)).join(":");
    return best.start < 0 ? hex(groups) : `${hex(groups.slice(0, best.start))}::${hex(groups.slice(best.start + best.len))}`;
}

/** The largest offset from UTC of any time zone (UTC+14, Line Islands): a local time is this far from UTC at most. */
const MAX_UTC_OFFSET_HOURS = 14;

function checkExpiry(value: string, path: string, now: Date | undefined): void {
    const m = /^([0-9]{4})([0-9]{2})([0-9]{2})(?:([0-9]{2})([0-9]{2})([0-9]{2})?)?(Z?)$/.exec(value);
    const bad = () => new AccessSpecError(path, `expiry-time="${value}" must be YYYYMMDD[HHMM[SS]][Z], a real date and time`);
    if (!m) throw bad();
    const [y, mo, d, h = "00", mi = "00", s = "00"] = m.slice(1, 7).map((x) => x ?? undefined) as string[];
    const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
    if (
        date.getUTCFullYear() !== Number(y) || date.getUTCMonth() !== Number(mo) - 1 || date.getUTCDate() !== Number(d) ||
        Number(h) > 23 || Number(mi) > 59 || Number(s) > 59
    ) {
        throw bad();
    }
    if (now === undefined) return;
    // sshd refuses the key once the time is past (valid_before < now, in whole seconds).
    const nowSeconds = Math.floor(now.getTime() / 1000);
    const at = date.getTime() / 1000;
    const fix = "remove the key (or its user) from the spec, or set a later expiry-time";
    if (m[7] === "Z") {
        if (at < nowSeconds) {
            throw new AccessSpecError(path, `expiry-time="${value}" (${isoSeconds(date)}) is already past (now ${isoSeconds(now)}): sshd would refuse the key on every host; ${fix}`);
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
function checkNow(now: unknown, fn: string): void {
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
    if (typeof text !== "string") throw new AccessSpecError(path, "must be a string such as \"restrict\"");
    if (/[\x00-\x1f\x7f]/.test(text)) {
        throw new AccessSpecError(path, "contains a control character (newline, carriage return, tab, ...); options are one line");
    }
    if (text.length > MAX_KEY_OPTIONS_LENGTH) throw new AccessSpecError(path, `is longer than ${MAX_KEY_OPTIONS_LENGTH} characters`);
    if (/[^\x20-\x7e]/.test(text)) throw new AccessSpecError(path, "contains a non-ASCII character");
    if (text.trim() === "") return undefined;
    if (text.includes("\\")) throw new AccessSpecError(path, "contains a backslash; escaped quotes are not accepted in option values");
    const seen = new Set<string>();
    const out: string[] = [];
    for (const token of splitOptions(text, path)) {
        const eq = token.indexOf("=");
        const name = (eq < 0 ? token : token.slice(0, eq)).toLowerCase();
        if (seen.has(name)) throw new AccessSpecError(path, `option '${name}' appears twice`);
        seen.add(name);
        if (eq < 0) {
            const flag = OPTION_FLAGS[name];
            if (!flag) {
                throw new AccessSpecError(
                    path,
                    `option '${token}' is not allowed; allowed: ${Object.values(OPTION_FLAGS).join(", ")}, from="...", command="...", expiry-time="..."`,
                );
            }
            out.push(flag);
            continue;
        }
        if (!OPTION_VALUES.includes(name)) {
            throw new AccessSpecError(path, `option '${token.slice(0, eq)}' is not allowed; allowed with a value: from, command, expiry-time`);
        }
        const raw = token.slice(eq + 1);
        if (raw.length < 2 || !raw.startsWith('"') || !raw.endsWith('"') || raw.slice(1, -1).includes('"')) {
            throw new AccessSpecError(path, `option '${name}' must be written ${name}="value" with nothing after the closing quote`);
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
        } else checkExpiry(value, path, now);
        out.push(`${name}="${value}"`);
    }
    return out.join(",");
}

// ---------------------------------------------------------------------------------------------
// Keys

const COMMENT_UNSAFE = /[^A-Za-z0-9._@+:=\/-]/g;
export const MAX_COMMENT_LENGTH = 100;

/** The key's comment reduced to characters that are inert everywhere it is written (authorized_keys, logs, sh). */
export function safeComment(comment: string): string {
    return comment.trim().replace(/\s+/g, "_").replace(COMMENT_UNSAFE, "_").slice(0, MAX_COMMENT_LENGTH);
}

function normalizeKey(input: unknown, path: string, rules: Partial<KeyRules> | undefined): { id: string; line: string } {
    if (typeof input !== "string") throw new AccessSpecError(path, "must be a string: an OpenSSH public key line");
    let line = input;
    if (/PRIVATE KEY-----|PuTTY-User-Key-File/.test(line)) {
        throw new AccessSpecError(path, "is a PRIVATE key; give its public key (the .pub file) and keep the private key secret");
    }
    // One trailing newline is what reading a .pub file gives; anything else is a second line.
    if (line.endsWith("\n")) line = line.slice(0, -1);
    if (/[\x00-\x1f\x7f]/.test(line)) {
        throw new AccessSpecError(path, "contains a control character (newline, carriage return, ...); give exactly one key line");
    }
    if (line.length > 16384) throw new AccessSpecError(path, "is longer than 16384 characters");
    let info;
    try {
        info = parsePublicKey(line.trim(), path);
    } catch (e) {
        throw new AccessSpecError(path, (e as Error).message);
    }
    if (info.isPrivate) throw new AccessSpecError(path, "is a private key; give the public key (the .pub file)");
    const violations = judgeKey(info, rules, { label: path });
    if (violations.length) throw new AccessSpecError(path, violations.join("; "));
    const [type, blob] = info.publicKey.split(" ");
    if (!INSTALLABLE_KEY_TYPES.includes(type) || !/^[A-Za-z0-9+\/]+={0,2}$/.test(blob ?? "")) {
        throw new AccessSpecError(path, `key type '${type}' cannot be installed; use ${INSTALLABLE_KEY_TYPES.join(", ")}`);
    }
    const comment = safeComment(info.comment ?? "");
    return { id: `${type} ${blob}`, line: comment ? `${type} ${blob} ${comment}` : `${type} ${blob}` };
}

function normalizeKeyList(list: unknown, path: string, rules: Partial<KeyRules> | undefined): string[] {
    if (list === undefined) return [];
    if (!Array.isArray(list)) throw new AccessSpecError(path, "must be an array of OpenSSH public key lines");
    const seen = new Set<string>();
    const out: string[] = [];
    list.forEach((k, j) => {
        const key = normalizeKey(k, `${path}[${j}]`, rules);
        // The same key twice (perhaps with another comment) is one key: the first comment wins.
        if (!seen.has(key.id)) {
            seen.add(key.id);
            out.push(key.line);
        }
    });
    return out;
}

// ---------------------------------------------------------------------------------------------
// The spec

const USER_FIELDS = ["name", "sudo", "keys", "keyOptions", "adopt"];
const SPEC_FIELDS = ["users", "fallbackKeys"];

function isObject(x: unknown): x is Record<string, unknown> {
    return typeof x === "object" && x !== null && !Array.isArray(x);
}

/**
 * Validates an access spec (parsed JSON or an object built in code) and returns it normalized:
 * users sorted by name, keys as `type base64 comment` with duplicates removed, fallback keys given
 * to users without keys, keyOptions canonical. Throws AccessSpecError naming the offending path.
 */
export function validateAccessSpec(input: unknown, opts: ValidateAccessSpecOptions = {}): AccessSpec {
    checkNow(opts.now, "validateAccessSpec");
    if (!isObject(input)) throw new AccessSpecError("", 'the access spec must be an object: { "users": [ ... ] }');
    for (const k of Object.keys(input)) {
        if (!SPEC_FIELDS.includes(k)) throw new AccessSpecError(k, `unknown field; the spec has only ${SPEC_FIELDS.join(", ")}`);
    }
    if (!Array.isArray(input.users)) throw new AccessSpecError("users", "must be an array of users ({ name, sudo, keys, keyOptions })");
    const fallback = [
        ...normalizeKeyList(opts.fallbackKeys, "fallbackKeys (option)", opts.keyRules),
        ...normalizeKeyList(input.fallbackKeys, "fallbackKeys", opts.keyRules),
    ].filter((line, i, all) => all.findIndex((o) => keyId(o) === keyId(line)) === i);

    const names = new Map<string, number>();
    const users: AccessUser[] = input.users.map((u: unknown, i: number): AccessUser => {
        const p = `users[${i}]`;
        if (!isObject(u)) throw new AccessSpecError(p, "must be an object { name, sudo, keys, keyOptions }");
        for (const k of Object.keys(u)) {
            if (!USER_FIELDS.includes(k)) throw new AccessSpecError(`${p}.${k}`, `unknown field; a user has only ${USER_FIELDS.join(", ")}`);
        }
        if (typeof u.name !== "string") throw new AccessSpecError(`${p}.name`, "is required: the login name");
        const problem = userNameProblem(u.name);
        if (problem) throw new AccessSpecError(`${p}.name`, problem);
        if (names.has(u.name)) throw new AccessSpecError(`${p}.name`, `'${u.name}' is already users[${names.get(u.name)}]; each user appears once`);
        names.set(u.name, i);
        const sudo = u.sudo ?? "none";
        if (sudo !== "nopasswd" && sudo !== "none") throw new AccessSpecError(`${p}.sudo`, 'must be "nopasswd" or "none"');
        let keys = normalizeKeyList(u.keys, `${p}.keys`, opts.keyRules);
        if (keys.length === 0) keys = fallback;
        if (keys.length === 0) {
            throw new AccessSpecError(`${p}.keys`, "is empty and no fallbackKeys are set; give the user a key, or set fallbackKeys");
        }
        const keyOptions = u.keyOptions === undefined ? undefined : normalizeKeyOptions(u.keyOptions as string, `${p}.keyOptions`, opts.now);
        if (u.adopt !== undefined && typeof u.adopt !== "boolean") throw new AccessSpecError(`${p}.adopt`, "must be true or false (default false)");
        const user: AccessUser = keyOptions === undefined ? { name: u.name, sudo, keys } : { name: u.name, sudo, keys, keyOptions };
        if (u.adopt === true) user.adopt = true;
        return user;
    });
    users.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { users };
}

function keyId(line: string): string {
    return line.split(" ").slice(0, 2).join(" ");
}

/** The canonical JSON of a (validated) spec: fixed field order, no whitespace. */
export function canonicalAccessSpecJson(spec: AccessSpec): string {
    // `adopt` appears only when true, so a spec without it hashes as it always did.
    return JSON.stringify({
        users: spec.users.map((u) => ({
            name: u.name,
            sudo: u.sudo,
            keys: [...u.keys],
            ...(u.keyOptions === undefined ? {} : { keyOptions: u.keyOptions }),
            ...(u.adopt === true ? { adopt: true } : {}),
        })),
    });
}

/** Hex sha256 of the canonical JSON. */
export function accessSpecHash(spec: AccessSpec): string {
    return sha256Hex(canonicalAccessSpecJson(spec));
}

/** The authorized_keys lines of one user, in order. */
export function authorizedKeysLines(user: AccessUser): string[] {
    return user.keys.map((k) => (user.keyOptions ? `${user.keyOptions} ${k}` : k));
}

/** The managed block exactly as the script writes it (markers included, trailing newline). */
export function renderManagedBlock(user: AccessUser): string {
    return [BLOCK_BEGIN, ...authorizedKeysLines(user), BLOCK_END, ""].join("\n");
}

/** Version of the line format the script reads (see renderManifest). */
export const MANIFEST_VERSION = 1;

// The manifest's line grammar as POSIX EREs that mean the same in JavaScript. The script checks
// every line against exactly these (they are interpolated into its text), and documentParameters
// checks them here too, so TypeScript and sh cannot drift apart.
export const NAME_ERE = "[a-z_][a-z0-9_-]{0,31}";
export const OPTION_ERE =
    "(restrict|no-agent-forwarding|no-port-forwarding|no-pty|no-user-rc|no-X11-forwarding|" +
    'from="[A-Za-z0-9.:/*?!,-]{1,512}"|command="[A-Za-z0-9 _./:=@%+,-]{1,256}"|' +
    'expiry-time="[0-9]{8}([0-9]{4}([0-9]{2})?)?Z?")';
export const KEY_ERE = `(${INSTALLABLE_KEY_TYPES.join("|")}) [A-Za-z0-9+/]+={0,2}( [A-Za-z0-9._@+:=/-]{1,100})?`;
export const HEADER_ERE = `pka-access ${MANIFEST_VERSION} [0-9a-f]{64}`;
export const USER_LINE_ERE = `u ${NAME_ERE} (nopasswd|none)( adopt)?`;
export const KEY_LINE_ERE = `k ${NAME_ERE} (${OPTION_ERE}(,${OPTION_ERE})* )?${KEY_ERE}`;
/**
 * Reserved names as one ERE alternation (whole-name match), for the script. Not the group names: the
 * script also drops reserved names from its record of the accounts it created, and an account it
 * made where no such group existed (a user "wheel" on Debian, "sudo" on Amazon Linux) must still be
 * revoked when the spec drops it; where the group exists the script refuses that one user itself.
 */
export const RESERVED_ERE = `(${Object.keys(RESERVED_USER_NAMES).filter((n) => RESERVED_USER_NAMES[n] !== GROUP_REASON).join("|")}|systemd-.*)`;

const MANIFEST_LINE = new RegExp(`^(?:${HEADER_ERE}|${USER_LINE_ERE}|${KEY_LINE_ERE})$`);

/** Checks every line of a manifest against the grammar the script enforces; returns the first bad line number or 0. */
export function firstBadManifestLine(manifest: string): number {
    const lines = manifest.endsWith("\n") ? manifest.slice(0, -1).split("\n") : manifest.split("\n");
    const bad = lines.findIndex((l) => !MANIFEST_LINE.test(l));
    return bad < 0 ? 0 : bad + 1;
}

/**
 * The spec in the line format the on-host script reads (it has no JSON parser):
 *   pka-access 1 <accessSpecHash>
 *   u <name> <nopasswd|none>[ adopt]
 *   k <name> <authorized_keys line>
 * Every line matches a fixed pattern that the script checks again before it changes anything.
 */
export function renderManifest(spec: AccessSpec): string {
    const lines = [`pka-access ${MANIFEST_VERSION} ${accessSpecHash(spec)}`];
    for (const u of spec.users) {
        lines.push(`u ${u.name} ${u.sudo}${u.adopt ? " adopt" : ""}`);
        for (const l of authorizedKeysLines(u)) lines.push(`k ${u.name} ${l}`);
    }
    return lines.join("\n") + "\n";
}
