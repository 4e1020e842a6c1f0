/**
 * POSIX sh quoting for the few commands pka-fleet composes as text (the on-host key generation,
 * the central server's known_hosts helper). Pure: no imports.
 */

/** Single-quotes a value for POSIX sh: the result is one word whatever the value holds. */
export function shQuote(s: string): string {
    return `'${s.replace(/'/g, `'\\''`)}'`;
}
