/**
 * What a user may do on a host beyond logging in: command-scoped sudo (the commands, their grammar,
 * the sudoers drop-in text) and supplementary groups (their grammar and the groups refused). The
 * script (CHECK_AWK) writes the same drop-in text from the manifest; a test compares the two.
 */
import { AccessSpecError, AccessUser } from "./accessSpecTypes";
import { sudoersDropInName } from "./userNames";

/** The first line of every drop-in pka-fleet writes. */
export const SUDO_HEAD = "# Managed by pka-fleet: rewritten or removed on every run; do not edit.";
export const MAX_SUDO_COMMANDS = 32;
export const MAX_SUDO_COMMAND_LENGTH = 256;
export const MAX_GROUPS = 16;

/**
 * A sudoers command as the spec takes it (sudoers(5), "Cmnd_List"): an absolute path of plain
 * segments (no `.`/`..` segment, no `//`, no trailing `/`, which would allow a whole directory),
 * then either nothing (any arguments), arguments of letters, digits and `_ . / @ + -` separated by
 * single spaces, or `""` (no arguments at all). Nothing that sudoers reads specially: no
 * wildcard (`* ? [ ]`), no `, : = \` (separators and escapes), no quote but the `""` form, no `#`
 * or `!`, no alias, no `sudoedit`. Also an ERE that means the same in the script's grep.
 */
export const SUDO_COMMAND_ERE = '(/[A-Za-z0-9_@+-][A-Za-z0-9_.@+-]*)+(( [A-Za-z0-9_./@+-]+)+| "")?';
const SUDO_COMMAND = new RegExp(`^${SUDO_COMMAND_ERE}$`);

/** A supplementary group name (groupadd's rule, lower case): also an ERE for the script. */
export const GROUP_ERE = "[a-z_][a-z0-9_-]{0,31}";
const GROUP = new RegExp(`^${GROUP_ERE}$`);

/** Groups refused: each hands out root, or root's secrets, outside sudo. */
const PRIVILEGED_GROUPS: Readonly<Record<string, string>> = {
    root: "is root's group",
    sudo: "grants full sudo on Debian and Ubuntu (%sudo ALL=(ALL:ALL) ALL)",
    wheel: "grants full sudo on Amazon Linux and RHEL (%wheel ALL=(ALL) ALL)",
    admin: "grants full sudo on older Ubuntu images (%admin ALL=(ALL) ALL)",
    shadow: "reads /etc/shadow (every password hash)",
    disk: "writes the raw disks (root's files included)",
    kmem: "reads kernel memory",
};

/** The names of PRIVILEGED_GROUPS, for the script's own check. */
export const PRIVILEGED_GROUP_NAMES = Object.keys(PRIVILEGED_GROUPS);

/** Why `cmd` is not a command the spec takes, or undefined. */
function sudoCommandProblem(cmd: string): string | undefined {
    if (cmd.length > MAX_SUDO_COMMAND_LENGTH) return `is longer than ${MAX_SUDO_COMMAND_LENGTH} characters`;
    if (!cmd.startsWith("/")) return "must be an absolute path such as /usr/bin/systemctl (sudo matches the full path)";
    const path = cmd.split(" ")[0];
    if (/(^|\/)sudoedit$/.test(path))
        return "is sudoedit, which sudoers treats specially: list the editor's task as a command";
    if (path.endsWith("/"))
        return "ends with '/': sudoers would allow every command in that directory; name the command";
    if (/\/\.\.?(\/|$)/.test(path) || path.includes("//"))
        return "has a '.', '..' or empty path segment: write the plain path";
    if (/[*?[\]]/.test(cmd))
        return "contains a wildcard (* ? [ ]): sudoers would match more than you list; write each command out";
    if (/[,:=\\]/.test(cmd)) return "contains one of , : = \\ (sudoers separators and escapes)";
    if (!SUDO_COMMAND.test(cmd)) {
        return (
            'must be /path/to/command, optionally followed by arguments of letters, digits and _ . / @ + - separated by single spaces, or by "" for no arguments; ' +
            'e.g. "/usr/bin/systemctl restart nginx"'
        );
    }
    return undefined;
}

/** users[i].sudoCommands, checked: a list of commands, no duplicates, for a user with sudo. */
export function normalizeSudoCommands(value: unknown, sudo: string, path: string): string[] | undefined {
    if (value === undefined) return undefined;
    if (!Array.isArray(value))
        throw new AccessSpecError(path, 'must be a list of commands, e.g. ["/usr/bin/systemctl restart nginx"]');
    if (value.length === 0) return undefined;
    if (sudo === "none") {
        throw new AccessSpecError(
            path,
            'needs sudo: "nopasswd" or "password" (with sudo "none" the user has no sudo at all)',
        );
    }
    if (value.length > MAX_SUDO_COMMANDS)
        throw new AccessSpecError(path, `lists ${value.length} commands; at most ${MAX_SUDO_COMMANDS}`);
    const seen = new Set<string>();
    return value.map((c, j) => {
        const p = `${path}[${j}]`;
        if (typeof c !== "string") throw new AccessSpecError(p, "must be a string");
        const problem = sudoCommandProblem(c);
        if (problem) throw new AccessSpecError(p, `${JSON.stringify(c.slice(0, 80))} ${problem}`);
        if (seen.has(c)) throw new AccessSpecError(p, `${JSON.stringify(c)} is listed twice`);
        seen.add(c);
        return c;
    });
}

/** users[i].groups, checked: existing-group names to add the user to, sorted (order means nothing). */
export function normalizeGroups(value: unknown, user: string, path: string): string[] | undefined {
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) throw new AccessSpecError(path, 'must be a list of group names, e.g. ["adm", "docker"]');
    if (value.length === 0) return undefined;
    if (value.length > MAX_GROUPS)
        throw new AccessSpecError(path, `lists ${value.length} groups; at most ${MAX_GROUPS}`);
    const seen = new Set<string>();
    value.forEach((g, j) => {
        const p = `${path}[${j}]`;
        if (typeof g !== "string" || !GROUP.test(g)) {
            throw new AccessSpecError(p, `${JSON.stringify(g)} is not a group name (^${GROUP_ERE}$)`);
        }
        const why = PRIVILEGED_GROUPS[g];
        if (why) {
            throw new AccessSpecError(
                p,
                `group '${g}' ${why}: refused, since it is root by another door; give the user sudo ("nopasswd", "password") or sudoCommands instead`,
            );
        }
        if (g === user) throw new AccessSpecError(p, `'${g}' is the user's own group, which it always has`);
        if (seen.has(g)) throw new AccessSpecError(p, `'${g}' is listed twice`);
        seen.add(g);
    });
    return [...(value as string[])].sort();
}

/** The sudoers rule of a user with sudo (without the trailing newline), as the script writes it. */
export function sudoersRule(user: Pick<AccessUser, "name" | "sudo" | "sudoCommands">): string {
    const tag = user.sudo === "nopasswd" ? "NOPASSWD: " : "";
    const cmds = user.sudoCommands ?? [];
    return cmds.length === 0
        ? `${user.name} ALL=(ALL:ALL) ${tag}ALL`
        : `${user.name} ALL=(root) ${tag}${cmds.join(", ")}`;
}

/** The drop-in /etc/sudoers.d/<sudoersDropInName> of a user with sudo, byte for byte; undefined for sudo "none". */
export function sudoersDropIn(user: AccessUser): { file: string; text: string } | undefined {
    if (user.sudo === "none") return undefined;
    return { file: sudoersDropInName(user.name), text: `${SUDO_HEAD}\n${sudoersRule(user)}\n` };
}
