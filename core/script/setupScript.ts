/**
 * The shell script the setup document runs on every host, assembled from its parts in
 * core/script/: the one place its text lives.
 *
 * Each part is a String.raw template so backslashes stay as written; the only `${...}` in them
 * are the TypeScript constants interpolated (grammar, markers, reserved names), which keeps the
 * script and the TypeScript validation on one definition. The script itself never uses the
 * `${...}` form, and never contains a double opening brace, so the SSM agent's text substitution
 * has nothing to act on.
 */
import { CERTS } from "./certs";
import { HOMES } from "./homes";
import { INPUT } from "./input";
import { LOCKING } from "./locking";
import { PREAMBLE } from "./preamble";
import { REVOKE_AND_REPORT } from "./revoke";
import { STATE } from "./state";
import { USERS } from "./users";

/** The script's source, comments and all: its parts in order, a blank line between two. */
const RAW = [PREAMBLE, INPUT, LOCKING, STATE, HOMES, USERS, CERTS, REVOKE_AND_REPORT].join("\n");

/**
 * The script exactly as the document carries it: RAW without its comment lines, but for the
 * header (up to the first blank line) and shellcheck directives, and without indentation. Every
 * byte of the document counts against SSM's 64 KB for document plus parameters, so the comments
 * stay in the source.
 */
export const SETUP_SCRIPT: string = (() => {
    const lines = RAW.split("\n");
    const header = lines.indexOf("");
    // Indentation goes too (no line of the script, its awk programs or its helper continues a
    // string whose leading blanks matter): it is 10% of the bytes, which the spec can use instead.
    return lines
        .filter((l, i) => i < header || !/^\s*#/.test(l) || /^\s*# shellcheck /.test(l))
        .map((l) => l.replace(/^[ \t]+/, ""))
        .join("\n");
})();

/** The script as the document's runCommand lines (the agent joins them with newlines). */
export function scriptLines(): string[] {
    return SETUP_SCRIPT.replace(/\n$/, "").split("\n");
}
