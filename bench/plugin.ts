/**
 * The cross-language plugin's start-up, as `pulumi package add` and every preview/up of a Python,
 * Go, .NET, Java or YAML stack pay it: the real run-plugin host spawned on the package, then
 * GetSchema, then the first Construct (SshKeyPair generating an ed25519 key), against the fake
 * engine of test/support/fakeMonitor.ts. Each run is a fresh process.
 *
 * The old path, for comparison: package.json `main` on components/index.ts, so run-plugin loads the
 * sources through ts-node (type-checked) and serves Pulumi's stock ComponentProvider, whose
 * GetSchema runs the TypeScript analyzer. Measured on a scratch copy of the package (symlinks, with
 * that `main`).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { packageRoot } from "../local/packageRoot";
import { AwsMocks } from "../test/support/awsMocks";
import { construct, getSchema, isWireSecret, startFakeEngine, startPlugin } from "../test/support/fakeMonitor";

export interface PluginRun {
    /** spawn to GetSchema answered, ms */
    schemaMs: number;
    /** spawn to the first Construct answered (sent right after GetSchema, as the engine does for YAML), ms */
    constructMs: number;
    /** of which the Construct request itself, ms */
    constructRequestMs: number;
    /** of which the fake engine's own work (registrations, the key's dynamic provider), ms */
    engineMs: number;
}

export interface PluginBench {
    runs: PluginRun[];
    schemaMedianMs: number;
    constructMedianMs: number;
    /** The old path (ts-node + analyzer), one run; or why it could not be measured. */
    old?: PluginRun | { error: string };
}

const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function measureOnce(packageDir: string, opts: { cwd?: string; timeoutMs: number }): Promise<PluginRun> {
    const mocks = new AwsMocks();
    const engine = await startFakeEngine(mocks);
    try {
        const plugin = await startPlugin(packageDir, engine.address, { cwd: opts.cwd, timeoutMs: opts.timeoutMs });
        try {
            const schema = JSON.parse(await getSchema(plugin));
            const schemaMs = Date.now() - plugin.spawnedAt;
            if (!schema.resources?.["pka-fleet:index:SshKeyPair"])
                throw new Error("the served schema has no pka-fleet:index:SshKeyPair");
            const t0 = Date.now();
            const res = await construct(plugin, engine, "pka-fleet:index:SshKeyPair", "bench", {
                generate: { keyType: "ed25519", service: true },
            });
            const constructMs = Date.now() - plugin.spawnedAt;
            if (!isWireSecret(res.state.privateKey)) throw new Error("Construct returned no secret privateKey");
            return { schemaMs, constructMs, constructRequestMs: Date.now() - t0, engineMs: engine.mockMs };
        } finally {
            plugin.stop();
        }
    } finally {
        await engine.close();
    }
}

/** A scratch package: every entry of the repository linked, package.json with `main` on the TypeScript entry. */
function oldPathPackage(root: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-plugin-old-"));
    for (const entry of fs.readdirSync(root))
        if (entry !== "package.json" && entry !== "PulumiPlugin.yaml")
            fs.symlinkSync(path.join(root, entry), path.join(dir, entry));
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    delete pkg.exports;
    pkg.main = "components/index.ts";
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(pkg, null, 2));
    return dir;
}

export async function benchPlugin(opts: { runs?: number; oldPath?: boolean } = {}): Promise<PluginBench> {
    const root = packageRoot();
    for (const f of ["bin/components/plugin.js", "bin/schema.json"])
        if (!fs.existsSync(path.join(root, f))) throw new Error(`${f} is missing: run \`npm run build\``);
    // Warm the fake engine's side (the key provider module it runs for the dynamic resource), so the
    // figures are the plugin's.
    await new AwsMocks().newResource({
        type: "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey",
        name: "warm",
        inputs: { keyType: "ed25519", bits: 256, comment: "warm", ppk: false, service: true },
        custom: true,
    } as any);
    const runs: PluginRun[] = [];
    for (let i = 0; i < (opts.runs ?? 3); i++) runs.push(await measureOnce(root, { timeoutMs: 60000 }));
    const result: PluginBench = {
        runs,
        schemaMedianMs: median(runs.map((r) => r.schemaMs)),
        constructMedianMs: median(runs.map((r) => r.constructMs)),
    };
    if (opts.oldPath ?? true) {
        const dir = oldPathPackage(root);
        try {
            // In the package directory: ts-node reads its tsconfig.json from the working directory.
            result.old = await measureOnce(dir, { cwd: dir, timeoutMs: 240000 });
        } catch (e) {
            result.old = { error: (e as Error).message.split("\n")[0] };
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }
    return result;
}
