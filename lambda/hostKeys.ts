/**
 * Host keys from the setup script's output, for known_hosts pinning. The script prints one line
 * per host public key: `PKA-HOSTKEY <type> <base64>`. Only well-formed lines of known key types
 * are kept; everything else in stdout is ignored, so a noisy script cannot inject text into
 * known_hosts.
 */
import { INSTALLABLE_KEY_TYPES } from "../core/keys";

// The types the script prints (the same list): a host key cannot be a security key (sk-).
const HOST_KEY_TYPES = new Set(INSTALLABLE_KEY_TYPES);

const LINE_RE = /^PKA-HOSTKEY[ \t]+(\S+)[ \t]+([A-Za-z0-9+/]{16,}={0,3})[ \t]*$/;

/** Returns the host keys as `type base64` lines, deduplicated and sorted. */
export function parseHostKeyLines(stdout: string): string[] {
    const out = new Set<string>();
    for (const raw of stdout.split(/\r?\n/)) {
        const m = LINE_RE.exec(raw.trim());
        if (!m || !HOST_KEY_TYPES.has(m[1])) continue;
        // The base64 blob starts with the key type itself (SSH wire format): check it matches.
        const blob = Buffer.from(m[2], "base64");
        const len = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
        if (len <= 0 || 4 + len > blob.length || blob.subarray(4, 4 + len).toString("latin1") !== m[1]) continue;
        out.add(`${m[1]} ${m[2]}`);
    }
    return [...out].sort();
}
