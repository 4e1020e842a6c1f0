/** cli/args.ts: the one argument loop every `pka` subcommand uses; and what document-params checks with it. */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { ArgSpec, parseArgs, UsageError } from "../cli/args";
import { generateKey } from "../core/keygen";
import { ensureBuilt, PKA_CLI } from "./support/built";

const SPEC: ArgSpec = {
    flags: { "--out": "value", "--ppk": "boolean", "--key": "list" },
    positionals: 1,
    tooMany: "give exactly one FILE",
};

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
        for (const [args, re] of bad)
            assert.throws(
                () => parseArgs(args, SPEC),
                (e: unknown) => e instanceof UsageError && re.test((e as Error).message),
                args.join(" "),
            );
        assert.throws(() => parseArgs(["x"], { flags: {} }), /^UsageError: unexpected argument 'x'$/);
    });
});

describe("pka document-params checks expiry-time at the current time (as the deploy does)", function () {
    this.timeout(60000);
    const ROOT = path.resolve(__dirname, "..");
    const ED = generateKey({ type: "ed25519", comment: "ops" }).publicKey;
    before(() => ensureBuilt());
    // The built `pka` (bin/cli/pka.js: what an installed package runs).
    const params = (keyOptions: string) =>
        spawnSync(process.execPath, [PKA_CLI, "document-params", "--spec", "-"], {
            cwd: ROOT,
            encoding: "utf8",
            input: JSON.stringify({ users: [{ name: "svc_user", sudo: "none", keys: [ED], keyOptions }] }),
        });

    it("exits 2 on an expiry-time already past, naming the path and the fix", () => {
        const r = params('restrict,expiry-time="20000101Z"');
        assert.equal(r.status, 2, r.stderr);
        assert.equal(r.stdout, "");
        assert.match(
            r.stderr,
            /users\[0\]\.keyOptions: expiry-time="20000101Z" \(2000-01-01T00:00:00Z\) is already past \(now [0-9T:-]+Z\)/,
        );
        assert.match(r.stderr, /remove the key \(or its user\) from the spec, or set a later expiry-time/);
        assert.match(r.stderr, /fix the value at users\[0\]\.keyOptions in the spec/);
    });

    it("prints the Parameters for an expiry-time still ahead", () => {
        const r = params('restrict,expiry-time="20991231Z"');
        assert.equal(r.status, 0, r.stderr);
        const manifest = Buffer.from(JSON.parse(r.stdout).AccessSpec[0], "base64").toString();
        assert.match(manifest, /^k svc_user restrict,expiry-time="20991231Z" ssh-ed25519 /m);
    });
});
