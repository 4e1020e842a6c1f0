#!/usr/bin/env node
// Makes bin/policy (tsc's output of policy/*.ts) a policy pack that Pulumi runs as it is, with no
// TypeScript: `pulumi preview --policy-pack node_modules/pka-fleet/bin/policy`. Pulumi's runner
// (@pulumi/pulumi/cmd/run-policy-pack) requires the pack folder, so Node reads its package.json
// `main`; @pulumi/policy reads the pack's version from the same file. Writes:
//   bin/policy/PulumiPolicy.yaml  copied from policy/
//   bin/policy/package.json       policy/package.json's name, the package's version, main: index.js
// The compiled pack's modules (`@pulumi/policy`, `yaml`, ../core) resolve from the installed
// package, as every other file in bin/ does, so the manifest lists no dependencies to install.
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const src = path.join(root, "policy");
const out = path.join(root, "bin", "policy");
const rel = (p) => path.relative(root, p);

function fail(message) {
    console.error(`build-policy: ${message}`);
    process.exit(1);
}

const entry = path.join(out, "index.js");
if (!fs.existsSync(entry))
    fail(`${rel(entry)} is missing: run \`tsc -p tsconfig.json\` first (\`npm run build\` does).`);
for (const f of [path.join(src, "PulumiPolicy.yaml"), path.join(src, "package.json")]) {
    if (!fs.existsSync(f)) fail(`${rel(f)} is missing; the policy pack needs it.`);
}

const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
const policyPkg = JSON.parse(fs.readFileSync(path.join(src, "package.json"), "utf8"));
if (typeof policyPkg.name !== "string" || policyPkg.name === "")
    fail(`${rel(path.join(src, "package.json"))} has no "name".`);
if (typeof pkg.version !== "string" || pkg.version === "")
    fail('package.json has no "version" (the policy pack reports it).');

const manifest = {
    name: policyPkg.name,
    // The installed package's version: what GetAnalyzerInfo and `pulumi preview` report.
    version: pkg.version,
    description: `The ${pkg.name} policy pack, compiled (run by \`pulumi preview --policy-pack <this folder>\`).`,
    private: true,
    license: pkg.license,
    main: "index.js",
};
fs.writeFileSync(path.join(out, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
fs.copyFileSync(path.join(src, "PulumiPolicy.yaml"), path.join(out, "PulumiPolicy.yaml"));
// A tsconfig.json in the pack folder would make Pulumi's runner load it for ts-node; there is no .ts here.
if (fs.existsSync(path.join(out, "tsconfig.json")))
    fail(`${rel(path.join(out, "tsconfig.json"))} must not exist (the compiled pack has no TypeScript).`);
console.log(`build-policy: ${rel(out)} (${manifest.name}@${manifest.version}, main index.js)`);
