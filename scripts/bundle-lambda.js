#!/usr/bin/env node
// Bundles the provisioner Lambda into one CommonJS file: bin/lambda/provisioner.js (exports `handler`).
// The AWS SDK is bundled (not taken from the runtime) so the deployed code is exactly what the tests ran.
//
//   --analyze           print the largest contributors to the bundle (by package)
//   --outfile <file>    write the bundle there instead (tests; the default is the contract path)
//   --metafile <file>   also write esbuild's metafile (JSON: every input and its bytes in the output)
//
// Four plugins keep the bundle small (under 400 KB instead of 1.8 MiB); see the comments on each.
"use strict";
const esbuild = require("esbuild");
const path = require("path");
const fs = require("fs");

const root = path.resolve(__dirname, "..");
const arg = (name) => {
    const i = process.argv.indexOf(name);
    return i >= 0 && process.argv[i + 1] ? path.resolve(process.argv[i + 1]) : undefined;
};
const outfile = arg("--outfile") ?? path.join(root, "bin", "lambda", "provisioner.js");
const metafileOut = arg("--metafile");
const entry = path.join(root, "lambda", "provisioner.ts");
const analyze = process.argv.includes("--analyze");
if (!fs.existsSync(entry)) {
    // A build without the handler must not look like a build with one: the Lambda bundle is a contract.
    console.error(
        `bundle-lambda: the Lambda entry ${path.relative(root, entry)} is missing; cannot build ${path.relative(root, outfile)}`,
    );
    process.exit(1);
}

/**
 * The SDK clients' schemas (dist-es/schemas/schemas_0.js: one array literal per shape) use the
 * file's own string constants as computed keys, `{ [_xN]: "x" }`. esbuild cannot prove a computed
 * key built from an identifier free of side effects, so it keeps every shape of the service: all
 * of EC2's (about 1.1 MiB minified) although the handler sends one command. Replacing each such
 * identifier by its string literal (the same value: the constants are top-level `const`s of that
 * file) lets tree shaking drop the unused shapes. The modeled errors' registrations are dropped
 * too (see below). The SDK code is otherwise untouched.
 */
const inlineSchemaKeys = {
    name: "pka-inline-sdk-schema-keys",
    setup(build) {
        build.onLoad(
            { filter: /[\\/]@aws-sdk[\\/]client-[a-z0-9-]+[\\/]dist-es[\\/]schemas[\\/][^\\/]+\.js$/ },
            async (args) => {
                const src = await fs.promises.readFile(args.path, "utf8");
                const consts = new Map();
                for (const m of src.matchAll(/^const (_[A-Za-z0-9_$]+) = ("[^"\\\n]*");$/gm)) {
                    if (consts.has(m[1]))
                        throw new Error(`${args.path}: ${m[1]} is declared twice; the schema layout changed`);
                    consts.set(m[1], m[2]);
                }
                const inlined = src.replace(/\[(_[A-Za-z0-9_$]+)\]:/g, (all, id) =>
                    consts.has(id) ? `[${consts.get(id)}]:` : all,
                );
                // Each modeled error's class and schema are registered here (SSM: 140 of them). Unregistered,
                // an error is thrown as the service's base exception with the error's name, `$fault` from the
                // HTTP status and `$metadata` (ProtocolLib getErrorSchemaOrThrowBaseException), which is all the
                // handler reads (lambda/retry.ts: the name and the status code). The base exception's
                // registration (`_s_registry`) stays. Without the calls, tree shaking drops the classes.
                const contents = inlined.replace(
                    /^n\d+_registry\.registerError\([A-Za-z0-9_$]+, [A-Za-z0-9_$]+\);$/gm,
                    "",
                );
                if (inlined.includes("registerError(") && !/^_s_registry\.registerError\(/m.test(contents))
                    throw new Error(`${args.path}: no base exception registration left; the schema layout changed`);
                return { contents, loader: "js" };
            },
        );
    },
};

/**
 * The clients' Node runtime config imports the SDK's default credential chain
 * (@aws-sdk/credential-provider-node: env, SSO, ini files, process, web identity, container/IMDS,
 * with SSO/STS clients of its own in @aws-sdk/nested-clients) as the fallback of
 * `credentialDefaultProvider`. The handler never uses it: lambda/clients.ts gives every client
 * `credentials: fromEnv()` (Lambda's credentials are environment variables). In the bundle the
 * chain is replaced by a stub that fails loudly if a client is ever built without credentials.
 */
const noDefaultCredentialChain = {
    name: "pka-no-default-credential-chain",
    setup(build) {
        build.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, (args) => ({
            path: args.path,
            namespace: "pka-stub",
        }));
        build.onLoad({ filter: /.*/, namespace: "pka-stub" }, () => ({
            contents:
                "export const defaultProvider = () => { throw new Error(" +
                JSON.stringify(
                    "pka-fleet provisioner bundle: the AWS SDK's default credential chain is not bundled; " +
                        "give the client credentials (lambda/clients.ts uses fromEnv: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)",
                ) +
                "); };\n",
            loader: "js",
        }));
    },
};

/**
 * The clients read their own package.json for one field, the version in the User-Agent header
 * (`import packageInfo from "../package.json"`); esbuild would inline the whole manifest (about
 * 2.3 KiB each). Only the version is kept.
 */
const sdkManifestVersionOnly = {
    name: "pka-sdk-manifest-version-only",
    setup(build) {
        build.onLoad({ filter: /[\\/]@aws-sdk[\\/]client-[a-z0-9-]+[\\/]package\.json$/ }, async (args) => {
            const { version } = JSON.parse(await fs.promises.readFile(args.path, "utf8"));
            return { contents: JSON.stringify({ version }), loader: "json" };
        });
    },
};

/**
 * The SDK's HTTP protocols load event-stream support on demand (`await import("@smithy/core/event-streams")`,
 * about 15 KiB), for operations with an event-stream member only. None of the operations the
 * handler sends (SSM, SQS SendMessage, EC2 DescribeInstances) has one, so that dynamic import
 * gets a stub that rejects with a clear message instead. A static import is left alone.
 */
const noEventStreams = {
    name: "pka-no-event-streams",
    setup(build) {
        build.onResolve({ filter: /^@smithy\/core\/event-streams$/ }, (args) =>
            args.kind === "dynamic-import" ? { path: args.path, namespace: "pka-no-event-streams" } : undefined,
        );
        build.onLoad({ filter: /.*/, namespace: "pka-no-event-streams" }, () => ({
            contents: `throw new Error(${JSON.stringify("pka-fleet provisioner bundle: AWS SDK event streams are not bundled (no operation the handler sends uses them)")});\n`,
            loader: "js",
        }));
    },
};

/**
 * The document's byte length, which the Lambda needs (SSM counts document plus parameters against
 * 64 KB) and which is all it needs of the document: core/document/size.ts reads it from this
 * constant, so the script's text stays out of the bundle. Taken from the built document (tsc runs
 * before this step); test/bundle-lambda.test.ts checks the bundled value.
 */
const renderJs = path.join(root, "bin", "core", "document", "render.js");
if (!fs.existsSync(renderJs)) {
    console.error(`bundle-lambda: ${path.relative(root, renderJs)} is missing: run tsc first (npm run build)`);
    process.exit(1);
}
const documentBytes = Buffer.byteLength(require(renderJs).renderDocumentJson());

fs.mkdirSync(path.dirname(outfile), { recursive: true });
const tmpOut = `${outfile}.${process.pid}.tmp`;
esbuild
    .build({
        entryPoints: [entry],
        // Written beside and renamed into place: a process loading the bundle meanwhile (another test file) never reads half of it.
        outfile: tmpOut,
        bundle: true,
        platform: "node",
        // The oldest Node the package supports (engines: >=20); Lambda runs nodejs22.x or later.
        target: "node20",
        format: "cjs",
        // Prefer the SDK's ES module builds: esbuild tree-shakes them (the CJS builds are one file per package).
        mainFields: ["module", "main"],
        minify: true,
        sourcemap: false,
        legalComments: "none",
        logLevel: "warning",
        metafile: true,
        define: { __PKA_DOCUMENT_BYTES__: String(documentBytes) },
        plugins: [inlineSchemaKeys, noDefaultCredentialChain, sdkManifestVersionOnly, noEventStreams],
    })
    .then((result) => {
        fs.renameSync(tmpOut, outfile);
        const size = fs.statSync(outfile).size;
        console.log(`bundle-lambda: ${path.relative(root, outfile)} ${(size / 1024).toFixed(1)} KiB`);
        if (metafileOut) fs.writeFileSync(metafileOut, JSON.stringify(result.metafile));
        if (analyze) {
            for (const [k, v] of byPackage(result.metafile).slice(0, 15))
                console.log(`${(v / 1024).toFixed(1).padStart(9)} KiB  ${k}`);
        }
    })
    .catch((err) => {
        fs.rmSync(tmpOut, { force: true });
        console.error(`bundle-lambda: ${err.message}`);
        process.exit(1);
    });

/** Output bytes by package ("core", "lambda" for this repository's folders), largest first. */
function byPackage(metafile) {
    const out = Object.values(metafile.outputs)[0];
    const totals = {};
    for (const [file, info] of Object.entries(out.inputs)) {
        const parts = file.replace(/^.*node_modules\//, "").split("/");
        const key = parts.slice(0, parts[0].startsWith("@") ? 2 : 1).join("/");
        totals[key] = (totals[key] || 0) + info.bytesInOutput;
    }
    return Object.entries(totals).sort((a, b) => b[1] - a[1]);
}
