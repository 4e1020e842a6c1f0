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
const VALUE_FLAGS = ["--grep", "--timeout-scale", "--stats-out"];
const files = args.filter((a, i) => !a.startsWith("--") && !VALUE_FLAGS.includes(args[i - 1]));
const statsOut = args.includes("--stats-out") ? args[args.indexOf("--stats-out") + 1] : undefined;

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

// The whole suite runs in PKA_TEST_JOBS processes (default: 2 on a machine with 2 cores or more), the
// files dealt out by their known cost so the shards end together; each shard prints its own report
// when it ends, and the last line here adds up theirs. One file, a --grep, or PKA_TEST_JOBS=1: one process.
const jobs = Math.max(
    1,
    Number(
        process.env.PKA_TEST_JOBS ?? Math.min(2, require("os").availableParallelism?.() ?? require("os").cpus().length),
    ) || 1,
);
if (!statsOut && files.length === 0 && !grep && jobs > 1) {
    runSharded(collect(path.join(root, "test")), jobs);
} else {
    runHere();
}

/** Seconds each heavy file took in a full run (2 cores); the rest count as 5. Only the balance depends on them. */
function cost(file) {
    const known = {
        "local-fleet": 43,
        "tarball-install": 35,
        "local-fleet-cli": 35,
        "aws-models": 35,
        fleet: 34,
        stack: 32,
        "local-fleet-stacks": 30,
        "script-attacks": 27,
        "script-hosts": 24,
        "deploy-errors": 18,
        keys: 17,
        "local-fleet-lifecycle": 17,
        "provisioner-component": 14,
        "house-rules": 13,
        "policy-config": 13,
        "multi-fleet": 13,
        "policy-example-stack": 13,
        keyPairProvider: 12,
        "iam-reference": 11,
        "analyzer-schema": 11,
        sshKeyPair: 11,
        testing: 10,
        "cli-keys": 10,
        "ssh-config": 8,
        "timing-sim": 8,
        "regex-engines": 7,
        accessSpec: 6,
    };
    return known[path.basename(file, ".test.ts")] ?? 5;
}

function runSharded(all, n) {
    const { spawn } = require("child_process");
    const os = require("os");
    const shards = Array.from({ length: n }, () => ({ files: [], cost: 0 }));
    for (const f of [...all].sort((a, b) => cost(b) - cost(a))) {
        const s = shards.reduce((a, b) => (b.cost < a.cost ? b : a));
        s.files.push(f);
        s.cost += cost(f);
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-tests-"));
    const started = Date.now();
    const passThrough = args.filter((a, i) => a === "--timeout-scale" || args[i - 1] === "--timeout-scale");
    console.log(`running ${all.length} test files in ${n} processes (PKA_TEST_JOBS=1 for one)`);
    Promise.all(
        shards.map(
            (shard, i) =>
                new Promise((resolve) => {
                    const out = path.join(dir, `shard-${i}.json`);
                    const env = {
                        ...process.env,
                        ...(process.env.PKA_TEST_TIMES ? { PKA_TEST_TIMES: `${process.env.PKA_TEST_TIMES}.${i}` } : {}),
                    };
                    const child = spawn(
                        process.execPath,
                        [__filename, ...passThrough, "--stats-out", out, ...shard.files],
                        { env, stdio: ["inherit", "pipe", "pipe"] },
                    );
                    const chunks = [];
                    child.stdout.on("data", (d) => chunks.push(d));
                    child.stderr.on("data", (d) => chunks.push(d));
                    child.on("close", (code, signal) => {
                        process.stdout.write(`\n===== shard ${i + 1}/${n}: ${shard.files.length} files =====\n`);
                        process.stdout.write(Buffer.concat(chunks));
                        let stats = { passed: 0, failed: 1, skipped: 0, crashed: true };
                        try {
                            stats = JSON.parse(fs.readFileSync(out, "utf8"));
                        } catch {
                            console.log(
                                `shard ${i + 1} ended without its results (exit ${code}${signal ? `, ${signal}` : ""}): counted as one failure`,
                            );
                        }
                        resolve(stats);
                    });
                }),
        ),
    ).then((all) => {
        fs.rmSync(dir, { recursive: true, force: true });
        const sum = (k) => all.reduce((a, s) => a + (s[k] || 0), 0);
        const passed = sum("passed");
        const failed = sum("failed");
        const skipped = sum("skipped");
        console.log(`suite time: ${((Date.now() - started) / 1000).toFixed(1)} s (${n} processes)`);
        console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
        process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
    });
}

function runHere() {
    const mocha = new Mocha({ timeout: 120000, reporter: "spec", grep });
    for (const f of files.length ? files.map((f) => path.resolve(f)) : collect(path.join(root, "test")))
        mocha.addFile(f);

    const started = Date.now();
    // Where the time goes: PKA_TEST_TIMES=FILE writes per-file and per-test durations as JSON.
    const timesFile = process.env.PKA_TEST_TIMES;
    const fileTimes = {};
    const testTimes = [];
    const runner = mocha.run((failures) => {
        if (timesFile) {
            const files = Object.entries(fileTimes)
                .map(([file, t]) => ({ file: path.relative(root, file), ms: t.ms }))
                .sort((a, b) => b.ms - a.ms);
            fs.writeFileSync(
                timesFile,
                JSON.stringify(
                    { totalMs: Date.now() - started, files, tests: testTimes.sort((a, b) => b.ms - a.ms) },
                    null,
                    1,
                ),
            );
        }
        const stats = runner.stats || {};
        const passed = stats.passes || 0;
        const failed = stats.failures || 0;
        const skipped = stats.pending || 0;
        console.log(`suite time: ${((Date.now() - started) / 1000).toFixed(1)} s`);
        console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
        if (statsOut)
            fs.writeFileSync(
                statsOut,
                JSON.stringify({ passed, failed: failed + (failures > failed ? failures - failed : 0), skipped }),
            );
        // A run that executed no test is a failure: it proves nothing.
        process.exitCode = failures > 0 || failed > 0 || passed === 0 ? 1 : 0;
        // A timer or a child a test left open must not hold the run (and CI) for minutes after it ended:
        // the results are in; name what is still open, then exit.
        setTimeout(() => {
            const open = (process.getActiveResourcesInfo?.() ?? []).filter((r) => r !== "TTYWrap");
            console.log(`(still open 5 s after the last test: ${open.join(", ") || "nothing named"}; exiting)`);
            process.exit();
        }, 5000).unref();
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
            testTimes.push({
                file: path.relative(root, t.file || ""),
                title: t.fullTitle(),
                ms: t.duration || 0,
                state: t.state,
            });
        });
    }
}
