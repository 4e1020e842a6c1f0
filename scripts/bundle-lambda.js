#!/usr/bin/env node
// Bundles the provisioner Lambda into one CommonJS file: bin/lambda/provisioner.js (exports `handler`).
// The AWS SDK is bundled (not taken from the runtime) so the deployed code is exactly what the tests ran.
// `--analyze` prints the largest contributors to the bundle.
"use strict";
const esbuild = require("esbuild");
const path = require("path");
const fs = require("fs");

const root = path.resolve(__dirname, "..");
const outfile = path.join(root, "bin", "lambda", "provisioner.js");
const entry = path.join(root, "lambda", "provisioner.ts");
const analyze = process.argv.includes("--analyze");
if (!fs.existsSync(entry)) {
    // A build without the handler must not look like a build with one: the Lambda bundle is a contract.
    console.error(`bundle-lambda: the Lambda entry ${path.relative(root, entry)} is missing; cannot build ${path.relative(root, outfile)}`);
    process.exit(1);
}
esbuild
    .build({
        entryPoints: [entry],
        outfile,
        bundle: true,
        platform: "node",
        // The oldest Node the package supports (engines: >=20); Lambda runs nodejs22.x or later.
        target: "node20",
        format: "cjs",
        // Prefer the SDK's ES module builds: esbuild tree-shakes them (about 150 KiB less than the CJS builds).
        mainFields: ["module", "main"],
        minify: true,
        sourcemap: false,
        legalComments: "none",
        logLevel: "warning",
        metafile: true,
    })
    .then((result) => {
        const size = fs.statSync(outfile).size;
        console.log(`bundle-lambda: ${path.relative(root, outfile)} ${(size / 1024).toFixed(1)} KiB`);
        if (analyze) {
            const out = Object.values(result.metafile.outputs)[0];
            const byPackage = {};
            for (const [file, info] of Object.entries(out.inputs)) {
                const parts = file.replace(/^node_modules\//, "").split("/");
                const key = parts.slice(0, parts[0].startsWith("@") ? 2 : 1).join("/");
                byPackage[key] = (byPackage[key] || 0) + info.bytesInOutput;
            }
            for (const [k, v] of Object.entries(byPackage).sort((a, b) => b[1] - a[1]).slice(0, 15)) {
                console.log(`${(v / 1024).toFixed(1).padStart(9)} KiB  ${k}`);
            }
        }
    })
    .catch((err) => {
        console.error(`bundle-lambda: ${err.message}`);
        process.exit(1);
    });
