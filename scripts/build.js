#!/usr/bin/env node
// `npm run build`: every build step, in order. `--if-stale` (what `npm test` uses) skips the build
// when bin/ was built after the last change to any input: `npm ci` has just built through
// `prepare`, so CI does not compile twice. The inputs: every source folder, the stack program and
// the files that shape the build.
"use strict";
const { execFileSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const STAMP = path.join(root, "bin", ".build-stamp");
const INPUTS = [
    "components",
    "core",
    "cli",
    "lambda",
    "local",
    "policy",
    "bench",
    "test",
    "scripts",
    "index.ts",
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "PulumiPlugin.yaml",
];
const STEPS = [
    [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.json"],
    ["scripts/build-schema.js"],
    ["scripts/bundle-lambda.js"],
    ["scripts/build-policy.js"],
];

function newest(p) {
    let st;
    try {
        st = fs.statSync(p);
    } catch {
        return 0;
    }
    if (!st.isDirectory()) return st.mtimeMs;
    let m = st.mtimeMs; // a deleted file changes its folder's mtime
    for (const e of fs.readdirSync(p)) if (e !== "node_modules") m = Math.max(m, newest(path.join(p, e)));
    return m;
}

function stale() {
    if (!fs.existsSync(STAMP)) return "bin/ was never built here";
    const built = fs.statSync(STAMP).mtimeMs;
    for (const i of INPUTS) if (newest(path.join(root, i)) > built) return `${i} changed since the last build`;
    return undefined;
}

if (process.argv.includes("--if-stale")) {
    const why = stale();
    if (!why) {
        console.log("build: bin/ is current (built after the last change to its inputs); not rebuilding");
        process.exit(0);
    }
    console.log(`build: ${why}; building`);
}
/** Compiled files whose source is gone (a module moved into a folder): Node would still resolve them. */
function removeOrphans(dir) {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) {
            removeOrphans(p);
            continue;
        }
        const m = /^(.*?)(\.d)?\.(js|ts)(\.map)?$/.exec(e.name);
        if (!m || (m[3] === "ts" && !m[2])) continue;
        const src = path.join(root, path.relative(path.join(root, "bin"), dir), `${m[1]}.ts`);
        if (!fs.existsSync(src)) fs.rmSync(p);
    }
}

const started = Date.now();
removeOrphans(path.join(root, "bin"));
for (const [script, ...args] of STEPS)
    execFileSync(process.execPath, [path.resolve(root, script), ...args], { cwd: root, stdio: "inherit" });
fs.mkdirSync(path.dirname(STAMP), { recursive: true });
fs.writeFileSync(STAMP, `${new Date().toISOString()}\n`);
console.log(`build: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
