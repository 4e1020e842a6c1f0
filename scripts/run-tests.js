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
const files = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--grep");

function collect(dir) {
    const out = [];
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, entry.name);
        if (entry.isDirectory()) out.push(...collect(p));
        else if (entry.name.endsWith(".test.ts")) out.push(p);
    }
    return out.sort();
}

const mocha = new Mocha({ timeout: 120000, reporter: "spec", grep });
for (const f of files.length ? files.map((f) => path.resolve(f)) : collect(path.join(root, "test"))) mocha.addFile(f);

const started = Date.now();
const runner = mocha.run((failures) => {
    const stats = runner.stats || {};
    const passed = stats.passes || 0;
    const failed = stats.failures || 0;
    const skipped = stats.pending || 0;
    console.log(`suite time: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
    // A run that executed no test is a failure: it proves nothing.
    process.exitCode = failures > 0 || failed > 0 || passed === 0 ? 1 : 0;
});
