/**
 * The tests that run what a user runs (the Lambda bundle, `pka` from bin/) build it once per test
 * process: `scripts/build.js --if-stale` rebuilds only when a source changed after the last build
 * (`npm test` has just built, so it costs nothing there).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");
let built = false;

/** Builds bin/ if it is stale (once per process); throws when the build fails or leaves no CLI or bundle. */
export function ensureBuilt(): void {
    if (built) return;
    execFileSync(process.execPath, [path.join(ROOT, "scripts", "build.js"), "--if-stale"], {
        cwd: ROOT,
        stdio: "ignore",
    });
    for (const f of ["bin/lambda/provisioner.js", "bin/cli/pka.js"])
        if (!fs.existsSync(path.join(ROOT, f))) throw new Error(`${f} was not built`);
    built = true;
}

/** The built `pka` command (what `npm start` and an installed package run). */
export const PKA_CLI = path.join(ROOT, "bin", "cli", "pka.js");
