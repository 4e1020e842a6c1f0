#!/usr/bin/env node
// Runs the whole mocha suite and ends with the plain line CI reads:
// "N passed, N failed, N skipped", computed from mocha's own run statistics.
"use strict";
process.env.TS_NODE_TRANSPILE_ONLY = "true";
require("ts-node").register({ transpileOnly: true });
const Mocha = require("mocha");
const path = require("path");
const fs = require("fs");

const root = path.resolve(__dirname, "..");
const args = process.argv.slice(2);
const grep = args.includes("--grep") ? args[args.indexOf("--grep") + 1] : undefined;
const files = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--grep" && args[i - 1] !== "--timeout-scale");

function collect(dir) {
    const out = [];
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, entry.name);
        if (entry.isDirectory()) out.push(...collect(p));
        else if (entry.name.endsWith(".test.ts")) out.push(p);
    }
    return out.sort();
}

// Every timeout is a safety net for hangs, never a performance assertion: a loaded machine is
// several times slower. PKA_TEST_TIMEOUT_SCALE (default 5) multiplies mocha's timeouts (the
// default below, .mocharc's, every this.timeout(ms)) and, through test/support/patience.ts, the
// tests' own limits. 0 turns mocha's off (a debugger session).
const scaleArg = args.includes("--timeout-scale") ? args[args.indexOf("--timeout-scale") + 1] : undefined;
const scale = Number(scaleArg ?? process.env.PKA_TEST_TIMEOUT_SCALE ?? "5");
const SCALE = Number.isFinite(scale) && scale >= 0 ? scale : 5;
process.env.PKA_TEST_TIMEOUT_SCALE = String(Math.max(1, SCALE));
const scaled = (ms) => (SCALE === 0 || !ms ? 0 : Math.min(ms * SCALE, 2 ** 31 - 1));
// this.timeout(ms) inside a test or hook
const origCtxTimeout = Mocha.Context.prototype.timeout;
Mocha.Context.prototype.timeout = function (ms) {
    if (!arguments.length) return origCtxTimeout.call(this);
    const r = this.runnable();
    if (r) r._pkaBaseTimeout = ms;
    return origCtxTimeout.call(this, scaled(ms));
};
// the suite-level and default values, when the test or hook starts (once per runnable: a hook runs many times)
function scaleRunnable(r) {
    if (r._pkaBaseTimeout === undefined) r._pkaBaseTimeout = r.timeout();
    r.timeout(scaled(r._pkaBaseTimeout));
}

const mocha = new Mocha({ timeout: 120000, reporter: "spec", grep });
for (const f of files.length ? files.map((f) => path.resolve(f)) : collect(path.join(root, "test"))) mocha.addFile(f);

const started = Date.now();
// Where the time goes: PKA_TEST_TIMES=FILE writes per-file and per-test durations as JSON.
const timesFile = process.env.PKA_TEST_TIMES;
const fileTimes = {};
const testTimes = [];
const runner = mocha.run((failures) => {
    if (timesFile) {
        const files = Object.entries(fileTimes).map(([file, t]) => ({ file: path.relative(root, file), ms: t.ms })).sort((a, b) => b.ms - a.ms);
        fs.writeFileSync(timesFile, JSON.stringify({ totalMs: Date.now() - started, files, tests: testTimes.sort((a, b) => b.ms - a.ms) }, null, 1));
    }
    const stats = runner.stats || {};
    const passed = stats.passes || 0;
    const failed = stats.failures || 0;
    const skipped = stats.pending || 0;
    console.log(`suite time: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
    // A run that executed no test is a failure: it proves nothing.
    process.exitCode = failures > 0 || failed > 0 || passed === 0 ? 1 : 0;
});
runner.on("test", scaleRunnable);
runner.on("hook", scaleRunnable);
if (timesFile) {
    // A file's time: from its first top-level suite starting to its last one ending (hooks included).
    const begun = new Map();
    runner.on("suite", (s) => {
        if (s.parent && s.parent.root && s.file) begun.set(s, Date.now());
    });
    runner.on("suite end", (s) => {
        if (!begun.has(s)) return;
        const t = (fileTimes[s.file] = fileTimes[s.file] || { ms: 0 });
        t.ms += Date.now() - begun.get(s);
    });
    runner.on("test end", (t) => {
        testTimes.push({ file: path.relative(root, t.file || ""), title: t.fullTitle(), ms: t.duration || 0, state: t.state });
    });
}
