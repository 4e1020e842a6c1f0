#!/usr/bin/env node
// Builds bin/schema.json, the Pulumi package schema that the cross-language plugin
// (bin/components/plugin.js, what `pulumi package add` runs) serves as it is.
//
// Run after tsc (`npm run build`), where the TypeScript sources and `typescript` exist: the plugin
// itself then needs neither. The schema is what Pulumi's stock ComponentProvider.getSchema would
// produce (its Analyzer over the sources, then generateSchema, for the component classes the
// package entry exports), with what the analyzer cannot express added here:
//  - `"secret": true` on the properties in SECRETS;
//  - `"type": "integer"` on the properties in INTEGERS (TypeScript has only `number`).
// The build fails on anything that is not classified: a `number` in neither INTEGERS nor NUMBERS,
// a property documented "Secret." (or named like a secret) that is not in SECRETS, a list entry
// that matches nothing, or a type name the SDK generators would mangle.
//
// `node scripts/build-schema.js` writes bin/schema.json; `--check` only compares it with a fresh
// build (exit 1 when it is stale).
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");

const ROOT = path.resolve(__dirname, "..");
const SCHEMA_FILE = path.join("bin", "schema.json");
/** The TypeScript entry of the component library (package.json exports["."] is its compiled form). */
const SOURCE_ENTRY = path.join("components", "index.ts");
const COMPILED_ENTRY = path.join("bin", "components", "index.js");

/**
 * Properties holding secrets, by component or type name (a component's outputs or inputs, or a
 * type's fields). The components also wrap each of them in `pulumi.secret`; the mark makes the
 * SDKs that `pulumi package add` generates treat them as secrets on the caller's side.
 */
const SECRETS = {
    SshKeyPair: ["privateKey", "privateKeyPpk"],
    PkaFleet: ["privateKeys", "privateKeysPpk"],
    SshKeyPairGenerate: ["passphrase"],
    SshKeyPairConnection: ["privateKey"],
    SshCertificateAuthority: ["privateKey"],
    SshCertificateAuthorityGenerate: ["passphrase"],
};
/** Names that look like secrets but hold none (a string property named like a secret must be in SECRETS or here). */
const NOT_SECRETS = {};
const SECRET_NAME = /passphrase|password|private.?key|secret|token/i;

/**
 * Every `number` of the schema, classified. `Owner.prop` covers the property as input and output;
 * `[]` is an array's items, `{}` a map's values.
 */
const INTEGERS = [
    "SshKeyPair.bits",
    "SshKeyPairGenerate.bits",
    "SshKeyPairOnHost.bits",
    "SshKeyPairConnection.port",
    "SshCertificateAuthority.maxValiditySeconds",
    "SshCertificateAuthorityGenerate.bits",
    "SshCertificateAuthorityKms.deletionWindowInDays",
    "ProvisionerHostCertificates.validitySeconds",
    "FleetKeyRules.minRsaBits",
    "FleetKeyRules.ec2ImportRsaBits",
    "PkaFleet.logRetentionDays",
    "Provisioner.logRetentionDays",
    "Provisioner.batchSize",
    "Provisioner.batchingWindowSeconds",
    "Provisioner.maxReceiveCount",
    "Provisioner.maxAttempts",
    "Provisioner.agentWaitSeconds",
    "Provisioner.maximumConcurrency",
    "Provisioner.timeoutSeconds",
    "Provisioner.memorySize",
];
/** Numbers that may be fractional (stay `number`). */
const NUMBERS = [];

class SchemaBuildError extends Error {}

function readPackageJson(root) {
    return JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
}

/** The provider name run-plugin derives from package.json `name` (scope dropped, other characters to `-`). */
function providerName(packageJSON) {
    const m = /^(@.*?\/)?(.+)$/.exec(packageJSON.name ?? "");
    if (!m) throw new SchemaBuildError("package.json has no `name`");
    return m[2].replace(/[^-a-zA-Z0-9_]/g, "-");
}

/** Names of the component classes the compiled package entry exports, found as run-plugin finds them. */
function componentNames(root = ROOT) {
    const entry = path.join(root, COMPILED_ENTRY);
    if (!fs.existsSync(entry))
        throw new SchemaBuildError(`${COMPILED_ENTRY} is missing: run tsc first (\`npm run build\` does)`);
    const { getPulumiComponents } = require(
        require.resolve("@pulumi/pulumi/provider/experimental/provider", { paths: [root] }),
    );
    const names = getPulumiComponents(require(entry))
        .map((c) => c.name)
        .sort();
    if (names.length === 0) throw new SchemaBuildError(`${COMPILED_ENTRY} exports no ComponentResource class`);
    return names;
}

/**
 * Pulumi's Analyzer over the library sources. Its program has the repository's compiler options
 * but only the library entry as root (the stack program, tests and benches are not the package),
 * and the entry is named explicitly: package.json `main` is the compiled plugin.
 */
function createAnalyzer(root = ROOT, names = componentNames(root)) {
    const { Analyzer } = require(require.resolve("@pulumi/pulumi/provider/experimental/analyzer", { paths: [root] }));
    const packageJSON = readPackageJson(root);
    const entry = path.join(root, SOURCE_ENTRY);
    if (!fs.existsSync(entry))
        throw new SchemaBuildError(`${SOURCE_ENTRY} is missing: the schema is built from the TypeScript sources`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-schema-"));
    try {
        fs.writeFileSync(
            path.join(dir, "tsconfig.json"),
            JSON.stringify({ extends: path.join(root, "tsconfig.json"), include: [], files: [entry] }),
        );
        const analyzer = new Analyzer(
            dir,
            providerName(packageJSON),
            { ...packageJSON, exports: undefined, main: entry },
            new Set(names),
        );
        analyzer.componentNames = new Set(names);
        return analyzer;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** The analyzer's schema, as ComponentProvider.getSchema generates it (nothing added). */
function analyzedSchema(analyzer, root = ROOT, names) {
    const { generateSchema } = require(
        require.resolve("@pulumi/pulumi/provider/experimental/schema", { paths: [root] }),
    );
    const packageJSON = readPackageJson(root);
    analyzer.components = {};
    analyzer.typeDefinitions = {};
    if (names) analyzer.componentNames = new Set(names);
    const { components, typeDefinitions, dependencies } = analyzer.analyze();
    return JSON.parse(
        JSON.stringify(
            generateSchema(
                providerName(packageJSON),
                packageJSON.version,
                packageJSON.description,
                components,
                typeDefinitions,
                dependencies,
            ),
        ),
    );
}

const short = (token) => token.split(":")[2];

/** Every property of the schema: [owner short name, property name, property spec]. */
function* properties(schema) {
    for (const [token, def] of Object.entries(schema.resources ?? {})) {
        for (const group of ["properties", "inputProperties"])
            for (const [name, prop] of Object.entries(def[group] ?? {}))
                yield { owner: short(token), name, prop, where: `resources["${token}"].${group}.${name}` };
    }
    for (const [token, def] of Object.entries(schema.types ?? {})) {
        for (const [name, prop] of Object.entries(def.properties ?? {}))
            yield { owner: short(token), name, prop, where: `types["${token}"].properties.${name}` };
    }
}

/** A property's type nodes: the property itself, its items, its map values (recursively). */
function* typeNodes(label, node) {
    if (!node || typeof node !== "object") return;
    yield { label, node };
    yield* typeNodes(`${label}[]`, node.items);
    if (node.additionalProperties && typeof node.additionalProperties === "object")
        yield* typeNodes(`${label}{}`, node.additionalProperties);
}

const holdsStrings = (p) =>
    !!p &&
    typeof p === "object" &&
    (p.type === "string" || holdsStrings(p.items) || holdsStrings(p.additionalProperties));

/** The analyzer's schema with the secret and integer marks, or a SchemaBuildError listing every problem. */
function finishSchema(analyzed) {
    const schema = JSON.parse(JSON.stringify(analyzed));
    const problems = [];
    const here = "scripts/build-schema.js";
    const components = new Set(Object.keys(schema.resources ?? {}).map(short));

    // Secrets.
    const listed = new Set(Object.entries(SECRETS).flatMap(([o, names]) => names.map((n) => `${o}.${n}`)));
    const notSecret = new Set(Object.entries(NOT_SECRETS).flatMap(([o, names]) => names.map((n) => `${o}.${n}`)));
    const seenSecrets = new Set();
    for (const { owner, name, prop, where } of properties(schema)) {
        const key = `${owner}.${name}`;
        if (listed.has(key)) {
            prop.secret = true;
            seenSecrets.add(key);
        } else if (/^Secret\./.test(prop.description ?? "")) {
            problems.push(
                `${where} is documented "Secret." but not marked: add "${name}" to SECRETS.${owner} in ${here}`,
            );
        } else if (SECRET_NAME.test(name) && holdsStrings(prop) && !notSecret.has(key)) {
            problems.push(
                `${where} is named like a secret: add "${name}" to SECRETS.${owner} in ${here} (or to NOT_SECRETS.${owner} if it holds none)`,
            );
        }
    }
    for (const key of listed)
        if (!seenSecrets.has(key))
            problems.push(`SECRETS lists ${key}, which the schema does not have: remove or rename it in ${here}`);

    // Integers.
    const integers = new Set(INTEGERS);
    const numbers = new Set(NUMBERS);
    const seenNumbers = new Set();
    for (const { owner, name, prop, where } of properties(schema)) {
        for (const { label, node } of typeNodes(`${owner}.${name}`, prop)) {
            if (node.type !== "number") continue;
            if (integers.has(label)) {
                node.type = "integer";
                seenNumbers.add(label);
            } else if (numbers.has(label)) {
                seenNumbers.add(label);
            } else {
                problems.push(
                    `${where} (${label}) is a \`number\` in the schema: classify it in ${here}, INTEGERS if it holds whole numbers (most do), NUMBERS if it can be fractional`,
                );
            }
        }
    }
    for (const label of [...integers, ...numbers])
        if (!seenNumbers.has(label))
            problems.push(
                `${label} is classified as a number in ${here} but the schema has no such number: remove or rename it`,
            );

    // Type names as the SDK generators use them.
    for (const token of Object.keys(schema.types ?? {})) {
        const name = short(token);
        if (/Args$/.test(name))
            problems.push(
                `type ${token}: the SDKs add "Args" to input types (${name}Args in Python, Go and .NET): rename the TypeScript interface without the suffix`,
            );
        if (components.has(name) || components.has(name.replace(/Args$/, "")))
            problems.push(
                `type ${token} is named after the component ${name.replace(/Args$/, "")}: the SDKs would give two classes one name; rename the TypeScript interface`,
            );
    }

    if (problems.length)
        throw new SchemaBuildError(`the package schema needs attention:\n  - ${problems.join("\n  - ")}`);
    return schema;
}

/** Deterministic text: resources and types sorted by token, properties in source order, 2-space indent. */
function schemaText(schema) {
    const sorted = (o) =>
        o
            ? Object.fromEntries(
                  Object.keys(o)
                      .sort()
                      .map((k) => [k, o[k]]),
              )
            : o;
    return (
        JSON.stringify({ ...schema, resources: sorted(schema.resources), types: sorted(schema.types) }, null, 2) + "\n"
    );
}

/** The schema text bin/schema.json must hold, built from the sources now. */
function buildSchema(root = ROOT, analyzer) {
    const names = componentNames(root);
    const schema = finishSchema(analyzedSchema(analyzer ?? createAnalyzer(root, names), root, names));
    return { schema, text: schemaText(schema), components: names };
}

module.exports = {
    SECRETS,
    NOT_SECRETS,
    INTEGERS,
    NUMBERS,
    SCHEMA_FILE,
    SchemaBuildError,
    componentNames,
    createAnalyzer,
    analyzedSchema,
    finishSchema,
    schemaText,
    buildSchema,
};

if (require.main === module) {
    const started = Date.now();
    const check = process.argv.includes("--check");
    try {
        const { text, components } = buildSchema(ROOT);
        const file = path.join(ROOT, SCHEMA_FILE);
        if (check) {
            const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
            if (current !== text)
                throw new SchemaBuildError(
                    `${SCHEMA_FILE} is stale (the sources give another schema): run \`npm run build\``,
                );
            console.log(`build-schema: ${SCHEMA_FILE} is current`);
        } else {
            fs.mkdirSync(path.dirname(file), { recursive: true });
            fs.writeFileSync(file, text);
            console.log(
                `build-schema: ${SCHEMA_FILE} (${components.join(", ")}) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
            );
        }
    } catch (err) {
        console.error(`build-schema: ${err instanceof SchemaBuildError ? err.message : err.stack}`);
        process.exit(1);
    }
}
