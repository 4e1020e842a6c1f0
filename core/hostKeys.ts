/**
 * The host-key line, a contract between the on-host setup script (which prints it), the Lambda
 * (which parses it and pins the keys in Parameter Store) and the central server's known_hosts
 * command (which reads the pinned values back). The script prints one line per host public key:
 *
 *   PKA-HOSTKEY <type> <base64>
 *
 * and the Lambda pins an instance's keys as one parameter value of `<type> <base64>` lines. Only
 * well-formed lines of known key types are kept; everything else in stdout is ignored, so a noisy
 * script cannot inject text into known_hosts.
 */
import { SOFTWARE_KEY_TYPES } from "./keys/types";

/** The first word of a host-key line. */
export const HOST_KEY_MARKER = "PKA-HOSTKEY";

/** The types a host key may have: the spec's software types; a host key cannot be a security key (sk-). */
export const HOST_KEY_TYPES: readonly string[] = SOFTWARE_KEY_TYPES;

/** `<type> <base64>` as the script's grammar (a POSIX ERE) checks it: the installable key types. */
export const HOST_KEY_ERE = `(${HOST_KEY_TYPES.join("|")}) [A-Za-z0-9+/]+={0,2}`;

/** HOST_KEY_ERE as the script's awk checks it (not every awk has intervals): the same lines. */
export const HOST_KEY_AWK_ERE = (() => {
    const re = HOST_KEY_ERE.replace(/=\{0,2\}$/, "=?=?");
    if (re === HOST_KEY_ERE || /[{}\\]/.test(re)) throw new Error("HOST_KEY_ERE changed: update HOST_KEY_AWK_ERE");
    return re;
})();

/** Separates the `<type> <base64>` lines of one pinned parameter value. */
export const PINNED_HOST_KEY_SEPARATOR = "\n";

const HOST_KEY_TYPE_SET = new Set(HOST_KEY_TYPES);

const LINE_RE = new RegExp(`^${HOST_KEY_MARKER}[ \\t]+(\\S+)[ \\t]+([A-Za-z0-9+/]{16,}={0,3})[ \\t]*$`);

/** One host-key line as the script prints it (without its newline). */
export function formatHostKeyLine(type: string, base64: string): string {
    return `${HOST_KEY_MARKER} ${type} ${base64}`;
}

/** Returns the host keys in `stdout` as `type base64` lines, deduplicated and sorted. */
export function parseHostKeyLines(stdout: string): string[] {
    const out = new Set<string>();
    for (const raw of stdout.split(/\r?\n/)) {
        const m = LINE_RE.exec(raw.trim());
        if (!m || !HOST_KEY_TYPE_SET.has(m[1])) continue;
        // The base64 blob starts with the key type itself (SSH wire format): check it matches.
        const blob = Buffer.from(m[2], "base64");
        const len = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
        if (len <= 0 || 4 + len > blob.length || blob.subarray(4, 4 + len).toString("latin1") !== m[1]) continue;
        out.add(`${m[1]} ${m[2]}`);
    }
    return [...out].sort();
}

/** The parameter value pinning an instance's host keys (`type base64` lines, as parseHostKeyLines returns them). */
export function pinnedHostKeysValue(keys: readonly string[]): string {
    return keys.join(PINNED_HOST_KEY_SEPARATOR);
}
