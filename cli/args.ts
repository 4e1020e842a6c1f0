/**
 * Command-line parsing shared by the `pka` subcommands: one loop, one set of messages. A bad
 * command line throws UsageError; the subcommand prints the message and its usage and exits 2.
 */

/** Bad usage (unknown option, missing value, ...): the CLI prints it with the usage text, exit 2. */
export class UsageError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "UsageError";
    }
}

/** "boolean": a switch; "value": one value (`--x V` or `--x=V`), at most once; "list": repeatable value. */
export type FlagKind = "boolean" | "value" | "list";

export interface ArgSpec {
    /** Every option, with its leading dashes ("--out"). */
    flags: Record<string, FlagKind>;
    /** How many positional arguments are accepted. Default 0. */
    positionals?: number;
    /** The message for one positional argument too many. Default "unexpected argument 'X'". */
    tooMany?: string;
}

export interface ParsedArgs {
    /** Switches given, values given (string), lists given (string[]); absent flags are absent. */
    flags: Record<string, string | boolean | string[] | undefined>;
    positionals: string[];
}

/**
 * Parses `args` by `spec`. A value is the next argument or follows `=`; a next argument that
 * starts with `--` is never taken as a value (`--out --ppk` is a missing value, not a file
 * named --ppk). A single `-` is a positional (stdin).
 */
export function parseArgs(args: string[], spec: ArgSpec): ParsedArgs {
    const out: ParsedArgs = { flags: {}, positionals: [] };
    const max = spec.positionals ?? 0;
    for (let i = 0; i < args.length; i++) {
        const a = args[i];
        if (!a.startsWith("--")) {
            if (out.positionals.length >= max) throw new UsageError(spec.tooMany ?? `unexpected argument '${a}'`);
            out.positionals.push(a);
            continue;
        }
        const eq = a.indexOf("=");
        const flag = eq > 0 ? a.slice(0, eq) : a;
        const inline = eq > 0 ? a.slice(eq + 1) : undefined;
        const kind = Object.prototype.hasOwnProperty.call(spec.flags, flag) ? spec.flags[flag] : undefined;
        if (!kind) throw new UsageError(`unknown option '${flag}'`);
        if (kind !== "list" && out.flags[flag] !== undefined) throw new UsageError(`${flag} given twice`);
        if (kind === "boolean") {
            if (inline !== undefined) throw new UsageError(`${flag} takes no value`);
            out.flags[flag] = true;
            continue;
        }
        const v = inline ?? args[i + 1];
        if (v === undefined || (inline === undefined && v.startsWith("--")))
            throw new UsageError(`${flag} needs a value`);
        if (inline === undefined) i++;
        if (kind === "value") out.flags[flag] = v;
        else out.flags[flag] = [...((out.flags[flag] as string[] | undefined) ?? []), v];
    }
    return out;
}
