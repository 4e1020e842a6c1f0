/**
 * Runs the stack program the way `pulumi up` does (Pulumi's own Node.js runner, fresh node, AWS mocks).
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";

const ROOT = path.resolve(__dirname, "..", "..");

export interface StackRun {
    /** resource type -> count (custom resources) */
    inventory: Record<string, number>;
    /** components registered, by type */
    components: Record<string, number>;
    /** stack output name -> { secret, type of value, and for strings a safe summary } */
    outputs: Record<string, { secret: boolean; value?: unknown; keys?: string[] }>;
    error?: string;
    ms: number;
    /** With `capture`: every registered resource (the Stack, components, custom and dynamic resources). */
    resources?: CapturedResource[];
}

/**
 * A resource as the engine would describe it to a policy pack: the registration request's inputs
 * and the resulting outputs (a component's `registerOutputs`, the Stack's exports), in the
 * engine's wire encoding: secrets as `{ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value }`,
 * with `additionalSecretOutputs` applied to the outputs as the engine applies them.
 */
export interface CapturedResource {
    type: string;
    name: string;
    urn: string;
    /** Parent URN ("" for the Stack). */
    parent: string;
    custom: boolean;
    inputs: Record<string, unknown>;
    outputs: Record<string, unknown>;
    additionalSecretOutputs: string[];
}

/** Stack config from a Pulumi.<stack>.yaml `config:` block, as PULUMI_CONFIG carries it (objects as JSON text). */
export function configEnv(config: Record<string, unknown>): Record<string, string> {
    return Object.fromEntries(
        Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
    );
}

const CHILD = `
global.describe = () => undefined;
const path = require("path");
const pulumi = require("@pulumi/pulumi");
const { AwsMocks, settle } = require(path.join(process.env.PKA_ROOT, "test/support/awsMocks.ts"));
(async () => {
    const mocks = new AwsMocks();
    // With PKA_CAPTURE: record each registration request (parent, inputs as sent, additionalSecretOutputs).
    const captured = new Map();
    let monitor;
    if (process.env.PKA_CAPTURE) {
        const { MockMonitor } = require("@pulumi/pulumi/runtime/mocks.js");
        const register = MockMonitor.prototype.registerResource;
        MockMonitor.prototype.registerResource = function (req, callback) {
            monitor = this;
            const urn = this.newUrn(req.getParent(), req.getType(), req.getName());
            const obj = req.getObject();
            captured.set(urn, {
                type: req.getType(), name: req.getName(), urn, parent: req.getParent(), custom: req.getCustom(),
                inputs: obj ? obj.toJavaScript() : {}, additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
            });
            return register.call(this, req, callback);
        };
    }
    await pulumi.runtime.setMocks(mocks, "pka-fleet", "example", false);
    // run.js imports its package's index only for an exit-code constant; that index would start a
    // second runner from process.argv, so it is stood in for before run.js loads.
    const runIndex = require.resolve("@pulumi/pulumi/cmd/run/index.js");
    require.cache[runIndex] = { id: runIndex, filename: runIndex, loaded: true, exports: { nodeJSProcessExitedAfterLoggingUserActionableMessage: 32 } };
    const { run } = require("@pulumi/pulumi/cmd/run/run.js");
    const t0 = Date.now();
    const result = { inventory: {}, components: {}, outputs: {} };
    try {
        await run({ _: [process.env.PKA_ENTRY], pwd: process.env.PKA_ROOT }, () => {}, () => {}, () => false);
        // What the program exported (the Outputs the Stack resource serializes, secret flags included).
        const entry = require.resolve(path.join(process.env.PKA_ROOT, process.env.PKA_ENTRY));
        const outputs = require.cache[entry] ? require.cache[entry].exports : {};
        for (const [k, v] of Object.entries(outputs || {})) {
            const o = pulumi.output(v);
            const value = await new Promise((r) => o.apply((x) => { r(x); return x; }));
            const secret = await pulumi.isSecret(o);
            const entry = { secret };
            if (typeof value === "string") entry.value = /PRIVATE KEY|PuTTY-User-Key-File/.test(value) ? "<key material>" : value;
            else if (value && typeof value === "object") { entry.keys = Object.keys(value).sort(); entry.value = secret ? undefined : value; }
            result.outputs[k] = entry;
        }
        await settle(mocks);
    } catch (e) {
        result.error = String(e && e.message || e);
    }
    result.ms = Date.now() - t0;
    result.inventory = mocks.inventory();
    for (const r of mocks.registered) { const t = r.split("::")[0]; if (t.startsWith("pka-fleet:")) result.components[t] = (result.components[t] || 0) + 1; }
    if (process.env.PKA_CAPTURE && monitor) {
        const SIG = "4dabf18193072939515e22adb298388d";
        const SECRET = "1b47061264138c4ac30d75fd1eb44270";
        const states = monitor.getRegisteredResources();
        result.resources = [...captured.values()].map((c) => {
            const r = states.get(c.urn);
            const state = r && r.state && typeof r.state.toJavaScript === "function" ? r.state.toJavaScript() : (r && r.state) || {};
            const outputs = { ...state };
            for (const k of c.additionalSecretOutputs) {
                if (k in outputs && !(outputs[k] && typeof outputs[k] === "object" && SIG in outputs[k])) outputs[k] = { [SIG]: SECRET, value: outputs[k] };
            }
            return { ...c, outputs };
        });
    }
    if (mocks.errors.length) result.error = (result.error ? result.error + " | " : "") + mocks.errors.join(" | ");
    process.stdout.write("\\n@@RESULT@@" + JSON.stringify(result) + "\\n");
    process.exit(0);
})();
`;

function childArgs(entry: string, config: Record<string, string>, secretKeys: string[], opts: { capture?: boolean }) {
    return {
        args: ["-r", "ts-node/register/transpile-only", "-e", CHILD],
        env: {
            ...process.env,
            TS_NODE_TRANSPILE_ONLY: "true",
            PKA_ROOT: ROOT,
            PKA_ENTRY: entry,
            PULUMI_CONFIG: JSON.stringify(config),
            PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(secretKeys),
            PKA_CAPTURE: opts.capture ? "1" : "",
        },
    };
}

function childResult(status: number | null, stdout: string, stderr: string): StackRun {
    const line = stdout.split("\n").find((l) => l.startsWith("@@RESULT@@"));
    if (line) return JSON.parse(line.slice("@@RESULT@@".length));
    // A program error ends the process through Pulumi's own handler, which logs it on stderr.
    return {
        inventory: {},
        components: {},
        outputs: {},
        error: `exit ${status}: ${stderr + stdout}`.slice(0, 20000),
        ms: 0,
    };
}

/** Runs Pulumi's program runner on `entry` (relative to the repo root) in a fresh node, under the AWS mocks. */
export function runStackProgram(
    entry: string,
    config: Record<string, string>,
    secretKeys: string[] = [],
    opts: { capture?: boolean } = {},
): StackRun {
    const { args, env } = childArgs(entry, config, secretKeys, opts);
    const r = spawnSync(process.execPath, args, {
        cwd: ROOT,
        env,
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
        timeout: 180000,
    });
    return childResult(r.status, r.stdout ?? "", r.stderr ?? "");
}

/**
 * runStackProgram without blocking this process: several runs (each its own fresh node) go at once.
 * The same child, environment, output limit and 180 s kill as the synchronous one.
 */
export function runStackProgramAsync(
    entry: string,
    config: Record<string, string>,
    secretKeys: string[] = [],
    opts: { capture?: boolean } = {},
): Promise<StackRun> {
    const { args, env } = childArgs(entry, config, secretKeys, opts);
    return new Promise((resolve) => {
        const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        let size = 0;
        const take = (into: Buffer[]) => (d: Buffer) => {
            size += d.length;
            if (size > 64 * 1024 * 1024) child.kill("SIGTERM");
            else into.push(d);
        };
        child.stdout.on("data", take(out));
        child.stderr.on("data", take(err));
        const killer = setTimeout(() => child.kill("SIGTERM"), 180000);
        child.on("close", (code) => {
            clearTimeout(killer);
            resolve(childResult(code, Buffer.concat(out).toString("utf8"), Buffer.concat(err).toString("utf8")));
        });
    });
}

/** The example stack config plus alice's passphrase, which the example leaves to `pulumi config set --secret`. */
export function exampleConfig(): { config: Record<string, string>; secretKeys: string[] } {
    const doc = parseYaml(fs.readFileSync(path.join(ROOT, "Pulumi.example.yaml"), "utf8"));
    const config = configEnv(doc.config);
    config["pka-fleet:keyPassphrases"] = JSON.stringify({ alice: "correct horse battery staple" });
    return { config, secretKeys: ["pka-fleet:keyPassphrases"] };
}
