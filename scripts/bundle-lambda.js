#!/usr/bin/env node
// Bundles the provisioner Lambda into one CommonJS file: bin/lambda/provisioner.js (exports `handler`).
"use strict";
const esbuild = require("esbuild");
const path = require("path");
const fs = require("fs");

const root = path.resolve(__dirname, "..");
const outfile = path.join(root, "bin", "lambda", "provisioner.js");
const entry = path.join(root, "lambda", "provisioner.ts");
if (!fs.existsSync(entry)) {
    console.error(`bundle-lambda: ${path.relative(root, entry)} does not exist yet; nothing to bundle`);
    process.exit(0);
}
esbuild
    .build({
        entryPoints: [entry],
        outfile,
        bundle: true,
        platform: "node",
        target: "node20",
        format: "cjs",
        minify: true,
        sourcemap: false,
        legalComments: "none",
        logLevel: "warning",
    })
    .then(() => {
        const size = fs.statSync(outfile).size;
        console.log(`bundle-lambda: ${path.relative(root, outfile)} ${(size / 1024).toFixed(1)} KiB`);
    })
    .catch((err) => {
        console.error(`bundle-lambda: ${err.message}`);
        process.exit(1);
    });
