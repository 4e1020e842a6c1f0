/**
 * The cross-language plugin: what `pulumi package add` (Python, Go, .NET, Java, YAML) runs.
 *
 * PulumiPlugin.yaml makes the Node language host start @pulumi/pulumi/cmd/run-plugin with this
 * package's directory; run-plugin `require`s the directory (package.json `main`, this file,
 * compiled) and, as the module exports a function and no component class, calls it. The function
 * serves the package as a Pulumi resource provider over gRPC:
 *  - GetSchema answers bin/schema.json as it is (built from the sources by scripts/build-schema.js:
 *    no TypeScript, no analysis at run time);
 *  - Construct builds the component from the compiled library and returns its URN and the outputs
 *    the schema lists, the way Pulumi's stock ComponentProvider does (secret outputs stay secret).
 * The library (and with it @pulumi/aws) is loaded on the first Construct only.
 */
import * as fs from "fs";
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import type * as provider from "@pulumi/pulumi/provider";
import type * as Library from "./index";

/** The package directory: bin/components/plugin.js -> the directory with package.json. */
const PACKAGE_DIR = path.resolve(__dirname, "..", "..");
const SCHEMA_FILE = path.resolve(__dirname, "..", "schema.json");

interface Schema {
    name: string;
    version: string;
    resources: Record<string, { isComponent?: boolean; properties?: Record<string, unknown> }>;
}

/** The package.json version and the schema text, checked against each other. */
function readPackage(): { name: string; version: string; schema: string; outputs: Map<string, string[]> } {
    const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_DIR, "package.json"), "utf8")) as {
        name: string;
        version: string;
    };
    if (!fs.existsSync(SCHEMA_FILE))
        throw new Error(`pka-fleet plugin: ${SCHEMA_FILE} is missing: run \`npm run build\` in ${PACKAGE_DIR}`);
    const text = fs.readFileSync(SCHEMA_FILE, "utf8");
    const schema = JSON.parse(text) as Schema;
    // The provider name run-plugin derives from package.json `name`.
    const name = pkg.name.replace(/^@.*?\//, "").replace(/[^-a-zA-Z0-9_]/g, "-");
    if (schema.name !== name || schema.version !== pkg.version) {
        throw new Error(
            `pka-fleet plugin: ${SCHEMA_FILE} was built for ${schema.name} ${schema.version}, but package.json is ${name} ${pkg.version}: run \`npm run build\` in ${PACKAGE_DIR}`,
        );
    }
    const outputs = new Map<string, string[]>();
    for (const [token, def] of Object.entries(schema.resources ?? {}))
        if (def.isComponent) outputs.set(token, Object.keys(def.properties ?? {}));
    return { name, version: pkg.version, schema: text, outputs };
}

type ComponentClass = new (
    name: string,
    args: any,
    opts?: pulumi.ComponentResourceOptions,
) => pulumi.ComponentResource & Record<string, unknown>;

/** The component library, compiled; required on the first Construct. */
let library: typeof Library | undefined;
function loadLibrary(): typeof Library {
    library ??= require("./index") as typeof Library;
    return library;
}

/** The provider run-plugin serves: a fixed schema and the components' Construct. */
class PkaFleetProvider implements provider.Provider {
    readonly version: string;
    readonly schema: string;
    private readonly name: string;
    private readonly outputs: Map<string, string[]>;

    constructor() {
        const p = readPackage();
        this.name = p.name;
        this.version = p.version;
        this.schema = p.schema;
        this.outputs = p.outputs;
    }

    async construct(
        name: string,
        type: string,
        inputs: pulumi.Inputs,
        options: pulumi.ComponentResourceOptions,
    ): Promise<provider.ConstructResult> {
        const outputs = this.outputs.get(type) ?? this.outputs.get(type.replace(/^([^:]+)::/, "$1:index:"));
        const parts = type.split(":");
        if (!outputs || parts.length !== 3) {
            throw new Error(
                `${this.name} has no component type "${type}": the types are ${[...this.outputs.keys()].join(", ")}`,
            );
        }
        const componentName = parts[2];
        const component = (loadLibrary() as unknown as Record<string, unknown>)[componentName] as
            ComponentClass | undefined;
        if (typeof component !== "function") {
            throw new Error(
                `${this.name}: the schema has ${type}, but the library exports no class ${componentName}: rebuild the package (\`npm run build\`)`,
            );
        }
        const instance = new component(name, inputs, options);
        const state: Record<string, unknown> = {};
        for (const key of outputs) state[key] = instance[key];
        return { urn: instance.urn, state };
    }
}

/** Serves the plugin on the engine address run-plugin passes in argv (what Pulumi's providers do). */
function startPlugin(): Promise<void> {
    // Required here, not at the top: npm consumers never load the provider server through this file.
    const { main } = require("@pulumi/pulumi/provider") as typeof provider;
    return main(new PkaFleetProvider(), process.argv.slice(2));
}

startPlugin.PkaFleetProvider = PkaFleetProvider;
export = startPlugin;
