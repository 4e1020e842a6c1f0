/**
 * What the `pka` subcommands say about a file they cannot read or write: the path and the reason
 * in words ("no such file", "is a directory"), never a bare errno code.
 */
import * as fs from "fs";
import * as path from "path";

const REASONS: Record<string, string> = {
    ENOENT: "no such file",
    EISDIR: "is a directory, not a file",
    ENOTDIR: "a part of the path is not a directory",
    EACCES: "permission denied",
    EPERM: "permission denied",
    ELOOP: "is a symbolic link (refused: the key files are written without following links)",
    EROFS: "the file system is read-only",
    ENOSPC: "no space left on the device",
    ENAMETOOLONG: "the file name is too long for the file system",
};

/** The reason an fs call failed, in words. */
export function fileProblem(e: unknown): string {
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.code === "string") return REASONS[err.code] ?? `cannot be used (${err.code})`;
    return err instanceof Error ? err.message : String(e);
}

/**
 * Why `prefix` cannot be the path prefix of new key files, or undefined: not `-` (files, not
 * stdout), not a directory, and its directory exists.
 */
export function outPrefixProblem(prefix: string): string | undefined {
    if (prefix === "-") return "--out -: keys are written to files, never to stdout; give a path such as ./id_ed25519";
    if (prefix === "" || prefix.endsWith("/"))
        return `--out ${JSON.stringify(prefix)}: give a file path such as ${path.join(prefix || ".", "id_ed25519")}`;
    let st: fs.Stats | undefined;
    try {
        st = fs.statSync(prefix);
    } catch {
        st = undefined;
    }
    if (st?.isDirectory())
        return `--out ${prefix}: is a directory; give a file path inside it, such as ${path.join(prefix, "id_ed25519")}`;
    const dir = path.dirname(prefix);
    let dirSt: fs.Stats;
    try {
        dirSt = fs.statSync(dir);
    } catch (e) {
        return `--out ${prefix}: its directory ${dir}: ${fileProblem(e)}; create it first`;
    }
    if (!dirSt.isDirectory()) return `--out ${prefix}: ${dir} is not a directory`;
    return undefined;
}
