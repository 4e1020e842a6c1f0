/**
 * scripts/bundle-lambda.js: the build step that writes the Lambda bundle (a contract). It is run
 * from a copy of the package layout so the real tree is never touched.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..");

describe("bundle-lambda build step", function () {
    let dir = "";
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-bundle-"));
        fs.mkdirSync(path.join(dir, "scripts"));
        fs.copyFileSync(path.join(ROOT, "scripts", "bundle-lambda.js"), path.join(dir, "scripts", "bundle-lambda.js"));
        fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    });
    after(() => {
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("fails (exit 1) with a clear message when the handler's entry file is missing", () => {
        const r = spawnSync(process.execPath, [path.join(dir, "scripts", "bundle-lambda.js")], { encoding: "utf8" });
        assert.equal(r.status, 1, r.stdout + r.stderr);
        assert.match(r.stderr, /bundle-lambda: the Lambda entry lambda\/provisioner\.ts is missing; cannot build bin\/lambda\/provisioner\.js/);
        assert.ok(!fs.existsSync(path.join(dir, "bin")), "nothing was written");
    });
});
