/**
 * Which file each consumer loads, proven with the real resolvers:
 *  - `pulumi up`: Pulumi.yaml `main` (index.ts, the stack program): test/stack.test.ts runs it; here
 *    the contrast: without that `main`, Pulumi's runner would load the package entry and create nothing;
 *  - npm consumers (`require("pka-fleet")`): Node's package `exports` -> the compiled library;
 *  - `pulumi package add` (PulumiPlugin.yaml, runtime nodejs): the plugin host `require`s this
 *    directory -> package.json `main` -> bin/components/plugin.js (compiled), a function that
 *    run-plugin calls (test/analyzer-schema.test.ts runs it for real over gRPC).
 * And importing the library or the plugin entry creates no resource.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { AwsMocks, settle } from "./support/awsMocks";
import { exampleConfig, runStackProgram } from "./support/stackRun";

const ROOT = path.resolve(__dirname, "..");
const BUILT = path.join(ROOT, "bin/components/index.js");
const PLUGIN = path.join(ROOT, "bin/components/plugin.js");
const COMPONENTS = ["PkaFleet", "Provisioner", "SetupDocument", "SshKeyPair"];

function needBuild(): void {
    if (!fs.existsSync(BUILT) || !fs.existsSync(PLUGIN))
        throw new Error(`${BUILT} or ${PLUGIN} is missing: run \`npm run build\` (npm test does) before this test`);
}

describe("package entry points", function () {
    this.timeout(240000);

    it("npm consumers: require('pka-fleet') from another project resolves to the compiled library", () => {
        needBuild();
        const consumer = fs.mkdtempSync(path.join(os.tmpdir(), "pka-consumer-"));
        try {
            fs.mkdirSync(path.join(consumer, "node_modules"));
            fs.symlinkSync(ROOT, path.join(consumer, "node_modules", "pka-fleet"), "dir");
            fs.writeFileSync(
                path.join(consumer, "package.json"),
                JSON.stringify({ name: "consumer", version: "1.0.0" }),
            );
            const resolved = require.resolve("pka-fleet", { paths: [consumer] });
            assert.strictEqual(fs.realpathSync(resolved), BUILT);
        } finally {
            fs.rmSync(consumer, { recursive: true, force: true });
        }
    });

    it("pulumi package add: the plugin host's require(<package dir>) loads bin/components/plugin.js, a function run-plugin calls", () => {
        needBuild();
        // run-plugin does `require(programDirectory)`: a directory require reads package.json "main".
        assert.strictEqual(require.resolve(ROOT), PLUGIN);
        const entry = require(ROOT);
        // No component class among its exports: run-plugin then calls the exported function instead of
        // starting Pulumi's stock ComponentProvider (which analyzes the TypeScript sources).
        const { getPulumiComponents } = require("@pulumi/pulumi/provider/experimental/provider");
        assert.strictEqual(typeof entry, "function");
        assert.deepStrictEqual(getPulumiComponents(entry), []);
        // It is compiled JavaScript next to the compiled library it loads.
        assert.ok(fs.existsSync(path.join(path.dirname(PLUGIN), "index.js")));
    });

    it("importing the library (source and compiled) or the plugin entry creates no resource", async () => {
        needBuild();
        const mocks = new AwsMocks();
        await pulumi.runtime.setMocks(mocks, "pka-fleet", "entry", false);
        const fresh = (f: string) => {
            for (const k of Object.keys(require.cache))
                if (k.startsWith(path.join(ROOT, "components")) || k.startsWith(path.join(ROOT, "bin")))
                    delete require.cache[k];
            return require(f);
        };
        for (const f of [path.join(ROOT, "components/index.ts"), BUILT]) {
            const lib = fresh(f);
            for (const c of COMPONENTS) assert.strictEqual(typeof lib[c], "function", `${f} exports ${c}`);
            assert.strictEqual(typeof lib.validateAccessSpec, "function", `${f} exports validateAccessSpec`);
        }
        fresh(PLUGIN);
        // The plugin entry loads the library only when a component is constructed.
        assert.ok(!(BUILT in require.cache), "requiring the plugin entry does not load the library");
        await settle(mocks);
        assert.deepStrictEqual(mocks.registered, []);
    });

    it("pulumi up without Pulumi.yaml main would load the library and create nothing (why main: index.ts)", () => {
        needBuild();
        const { config, secretKeys } = exampleConfig();
        // "." is what the language host passes when Pulumi.yaml has no `main`: Pulumi's runner then
        // takes package.json exports["."].default, the compiled library.
        const run = runStackProgram(".", config, secretKeys);
        assert.strictEqual(run.error, undefined);
        assert.deepStrictEqual(run.inventory, {});
        assert.deepStrictEqual(run.components, {});
        assert.deepStrictEqual(run.outputs, {});
    });
});
