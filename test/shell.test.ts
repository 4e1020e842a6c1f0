/** core/shell.ts: quoting checked by the real sh, not by our own reading of it. */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import { shQuote } from "../core/shell";

describe("shQuote (core/shell.ts)", () => {
    it("every value comes back from sh exactly, as one word", () => {
        const values = [
            "",
            "plain",
            "it's",
            "'",
            "''",
            "a b\tc",
            "$(reboot)",
            "`id`",
            "$HOME",
            "\\",
            "-n",
            "a\nb",
            '"q"',
            "*",
            "; rm -rf /",
            "é ü",
        ];
        for (const v of values) {
            const out = execFileSync("sh", ["-c", `printf '%s|' ${shQuote(v)}`], { encoding: "utf8" });
            assert.equal(out, `${v}|`, JSON.stringify(v));
        }
    });
});
