/** cli/args.ts: the one argument loop every `pka` subcommand uses. */
import { strict as assert } from "assert";
import { ArgSpec, parseArgs, UsageError } from "../cli/args";

const SPEC: ArgSpec = { flags: { "--out": "value", "--ppk": "boolean", "--key": "list" }, positionals: 1, tooMany: "give exactly one FILE" };

describe("cli argument parsing (cli/args.ts)", () => {
    it("reads switches, values (--x V and --x=V), repeatable values and positionals", () => {
        assert.deepEqual(parseArgs(["--out", "p", "--ppk", "--key=a", "--key", "b", "-"], SPEC), {
            flags: { "--out": "p", "--ppk": true, "--key": ["a", "b"] },
            positionals: ["-"],
        });
        assert.deepEqual(parseArgs(["--out=a=b"], SPEC).flags, { "--out": "a=b" });
        assert.deepEqual(parseArgs([], SPEC), { flags: {}, positionals: [] });
    });

    it("refuses bad usage with a UsageError that names the option", () => {
        const bad: [string[], RegExp][] = [
            [["--bogus"], /^unknown option '--bogus'$/],
            [["--toString"], /^unknown option '--toString'$/],
            [["--out"], /^--out needs a value$/],
            [["--out", "--ppk"], /^--out needs a value$/],
            [["--out", "a", "--out", "b"], /^--out given twice$/],
            [["--ppk", "--ppk"], /^--ppk given twice$/],
            [["--ppk=yes"], /^--ppk takes no value$/],
            [["a", "b"], /^give exactly one FILE$/],
        ];
        for (const [args, re] of bad) assert.throws(() => parseArgs(args, SPEC), (e: unknown) => e instanceof UsageError && re.test((e as Error).message), args.join(" "));
        assert.throws(() => parseArgs(["x"], { flags: {} }), /^UsageError: unexpected argument 'x'$/);
    });
});
