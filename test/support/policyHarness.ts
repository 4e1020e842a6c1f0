/**
 * Runs the policy pack the way `pulumi preview --policy-pack ./policy` does and talks to it over
 * its real gRPC Analyzer protocol, as the engine would:
 *  - the `pulumi-analyzer-policy` plugin runs `node <@pulumi/pulumi/cmd/run-policy-pack> <engine> .`
 *    with the pack folder as working directory (so `policy/package.json` gives the version and
 *    ts-node, type-checking, compiles policy/index.ts), and reads the port it prints;
 *  - resources go over the wire as protobuf Structs, with secrets and unknowns encoded the way
 *    the engine encodes them (`secret()`, `UNKNOWN`).
 */
import { ChildProcess, spawn } from "child_process";
import * as path from "path";
import { pluginPort } from "./pluginPort";
import { patience } from "./patience";

const pulumiDir = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
// The message classes must come from the same google-protobuf/grpc-js copies as @pulumi/pulumi's generated code.
const fromPulumi = (m: string) => require(require.resolve(m, { paths: [pulumiDir] }));
const grpc = fromPulumi("@grpc/grpc-js");
const structPb = fromPulumi("google-protobuf/google/protobuf/struct_pb");
const emptyPb = fromPulumi("google-protobuf/google/protobuf/empty_pb");
const analyzerPb = require("@pulumi/pulumi/proto/analyzer_pb");
const analyzerGrpc = require("@pulumi/pulumi/proto/analyzer_grpc_pb");

/** The pack's rule names, a stable contract (the README's rules table), written out here, not read from the pack. */
export const CONTRACT_RULES = [
    "ssh-key-algorithm",
    "ssh-key-passphrase",
    "ssh-private-key-secret",
    "ssh-key-max-age",
    "no-sudoers-append",
    "ssm-document-injection",
    "provisioner-least-privilege",
    "lambda-runtime-supported",
    "ssh-certificate-validity",
];

export const POLICY_DIR = path.resolve(__dirname, "..", "..", "policy");

/** The engine's encoding of a value not known during preview (a string-typed unknown). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** The engine's encoding of a secret value on the wire. */
export function secret(value: unknown): Record<string, unknown> {
    return { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value };
}

export type Level = "advisory" | "mandatory" | "disabled" | "remediate";
const LEVELS: Level[] = ["advisory", "mandatory", "disabled", "remediate"];

/** A resource as the engine describes it to an analyzer. */
export interface AnalyzerResourceSpec {
    type: string;
    name: string;
    /** Default: urn:pulumi:test::pka-fleet::<type>::<name>. */
    urn?: string;
    /** Outputs for AnalyzeStack, and inputs for Analyze unless `inputs` is given (use `secret()`/`UNKNOWN` as the engine would). */
    properties: Record<string, unknown>;
    /** Inputs for Analyze when they differ from the outputs (a stack's Analyze inputs are `{}`). */
    inputs?: Record<string, unknown>;
    /** Parent URN. */
    parent?: string;
    additionalSecretOutputs?: string[];
}

export interface Diagnostic {
    policyName: string;
    message: string;
    enforcementLevel: Level;
    urn: string;
}

export function urnOf(type: string, name: string): string {
    return `urn:pulumi:test::pka-fleet::${type}::${name}`;
}

/** Policy pack config as in `--policy-pack-config cfg.json`: rule -> level, or { enforcementLevel?, ...properties }. */
export type PackConfig = Record<string, Level | ({ enforcementLevel?: Level } & Record<string, unknown>)>;

function options(r: AnalyzerResourceSpec): any {
    const o = new analyzerPb.AnalyzerResourceOptions();
    o.setProtect(false);
    o.setIgnorechangesList([]);
    o.setAliasesList([]);
    o.setAdditionalsecretoutputsList(r.additionalSecretOutputs ?? []);
    const t = new analyzerPb.AnalyzerResourceOptions.CustomTimeouts();
    o.setCustomtimeouts(t);
    if (r.parent) o.setParent(r.parent);
    return o;
}

function toDiagnostics(resp: any): Diagnostic[] {
    return resp.getDiagnosticsList().map((d: any) => ({
        policyName: d.getPolicyname(),
        message: d.getMessage(),
        enforcementLevel: LEVELS[d.getEnforcementlevel()] ?? "advisory",
        urn: d.getUrn(),
    }));
}

export class PolicyServer {
    private constructor(
        private readonly child: ChildProcess,
        private readonly client: any,
        readonly port: number,
        private readonly stderr: () => string,
    ) {}

    /**
     * Starts policy/ as Pulumi would (type-checked ts-node: allow ~30 s) and connects. `packDir`: another
     * pack folder, e.g. the compiled pack of an installed package (its runner is found from there).
     */
    static async start(timeoutMs = patience(90_000), packDir = POLICY_DIR): Promise<PolicyServer> {
        const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [packDir] });
        const child = spawn(process.execPath, [runner, "127.0.0.1:0", "."], {
            cwd: packDir,
            env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "", TS_NODE_PROJECT: "" },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let err = "";
        child.stderr!.on("data", (b) => (err += b.toString()));
        const port = await pluginPort(child, "policy pack", timeoutMs, () => err);
        const client = new analyzerGrpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
        return new PolicyServer(child, client, port, () => err);
    }

    private call<T>(method: string, req: unknown): Promise<T> {
        return new Promise((resolve, reject) =>
            this.client[method](req, (e: (Error & { code?: number; details?: string }) | null, resp: T) =>
                e
                    ? reject(
                          Object.assign(new Error(`${method}: ${e.message}\n${this.stderr()}`), {
                              code: e.code,
                              details: e.details,
                          }),
                      )
                    : resolve(resp),
            ),
        );
    }

    async getAnalyzerInfo(): Promise<{
        name: string;
        version: string;
        supportsConfig: boolean;
        policies: { name: string; enforcementLevel: Level; configSchema?: Record<string, unknown> }[];
    }> {
        const resp: any = await this.call("getAnalyzerInfo", new emptyPb.Empty());
        return {
            name: resp.getName(),
            version: resp.getVersion(),
            supportsConfig: resp.getSupportsconfig(),
            policies: resp.getPoliciesList().map((p: any) => ({
                name: p.getName(),
                enforcementLevel: LEVELS[p.getEnforcementlevel()],
                configSchema: p.getConfigschema()?.getProperties()?.toJavaScript(),
            })),
        };
    }

    /**
     * Configure as the engine does for `--policy-pack-config`: every configured policy gets its
     * enforcement level (the given one, else its default) and its properties. `{}` resets.
     */
    async configure(config: PackConfig): Promise<void> {
        const info = await this.getAnalyzerInfo();
        const req = new analyzerPb.ConfigureAnalyzerRequest();
        const map = req.getPolicyconfigMap();
        for (const [name, c] of Object.entries(config)) {
            const policy = info.policies.find((p) => p.name === name);
            if (!policy) throw new Error(`configure: the pack has no policy "${name}"`);
            const { enforcementLevel, ...props } = typeof c === "string" ? { enforcementLevel: c } : c;
            const pc = new analyzerPb.PolicyConfig();
            pc.setEnforcementlevel(LEVELS.indexOf(enforcementLevel ?? policy.enforcementLevel));
            pc.setProperties(structPb.Struct.fromJavaScript(props));
            map.set(name, pc);
        }
        await this.call("configure", req);
    }

    /**
     * Configure with exactly these entries, as any client of the protocol may send them: names
     * the pack does not have, properties the engine would not send, `all` alone. A refused call
     * rejects with an Error carrying the gRPC `code` and `details`.
     */
    async configureRaw(
        entries: Record<string, { enforcementLevel: Level; properties?: Record<string, unknown> }>,
    ): Promise<void> {
        const req = new analyzerPb.ConfigureAnalyzerRequest();
        const map = req.getPolicyconfigMap();
        for (const [name, { enforcementLevel, properties }] of Object.entries(entries)) {
            const pc = new analyzerPb.PolicyConfig();
            pc.setEnforcementlevel(LEVELS.indexOf(enforcementLevel));
            pc.setProperties(structPb.Struct.fromJavaScript(properties ?? {}));
            map.set(name, pc);
        }
        await this.call("configure", req);
    }

    /**
     * Configure as the Pulumi CLI does for `--policy-pack-config FILE` (pkg/resource/analyzer/config.go,
     * ReconcilePolicyPackConfig, then plugin analyzer Configure): every policy of GetAnalyzerInfo
     * with its default level and its schema's defaults; `all`'s level over every policy; then each
     * entry of the file, known to the pack or not (an entry the pack does not know keeps the level
     * it gives, else `all`'s, else none, which the CLI refuses as `invalid enforcement level ""`).
     * The CLI's JSON-schema check of known policies' properties (gojsonschema) is not reproduced.
     */
    async configureAsCli(config: PackConfig): Promise<void> {
        const info = await this.getAnalyzerInfo();
        const result = new Map<string, { enforcementLevel?: Level; properties: Record<string, unknown> }>();
        for (const p of info.policies) {
            const defaults: Record<string, unknown> = {};
            for (const [k, v] of Object.entries((p.configSchema ?? {}) as Record<string, { default?: unknown }>))
                if (v && "default" in v) defaults[k] = v.default;
            result.set(p.name, { enforcementLevel: p.enforcementLevel, properties: defaults });
        }
        const parsed = Object.entries(config).map(([name, c]) => {
            const { enforcementLevel, ...properties } = typeof c === "string" ? { enforcementLevel: c } : c;
            return [name, { enforcementLevel, properties }] as const;
        });
        const all = parsed.find(([name]) => name === "all")?.[1].enforcementLevel;
        if (all) for (const [name, r] of result) result.set(name, { ...r, enforcementLevel: all });
        for (const [name, given] of parsed) {
            const prev = result.get(name);
            result.set(name, {
                enforcementLevel: given.enforcementLevel ?? prev?.enforcementLevel,
                properties: { ...(prev?.properties ?? {}), ...given.properties },
            });
        }
        const entries: Record<string, { enforcementLevel: Level; properties: Record<string, unknown> }> = {};
        for (const [name, r] of result) {
            if (!r.enforcementLevel)
                throw new Error(
                    `configure: invalid enforcement level "" (the Pulumi CLI's refusal of "${name}", which has no level)`,
                );
            entries[name] = { enforcementLevel: r.enforcementLevel, properties: r.properties };
        }
        await this.configureRaw(entries);
    }

    /** Analyze: one resource's inputs, as the engine sends each resource before it is created. */
    async analyze(r: AnalyzerResourceSpec): Promise<Diagnostic[]> {
        const req = new analyzerPb.AnalyzeRequest();
        req.setType(r.type);
        req.setName(r.name);
        req.setUrn(r.urn ?? urnOf(r.type, r.name));
        req.setProperties(structPb.Struct.fromJavaScript(r.inputs ?? r.properties));
        req.setOptions(options(r));
        return toDiagnostics(await this.call("analyze", req));
    }

    /** AnalyzeStack: every resource's outputs at the end of a preview or update. */
    async analyzeStack(resources: AnalyzerResourceSpec[]): Promise<Diagnostic[]> {
        const req = new analyzerPb.AnalyzeStackRequest();
        req.setResourcesList(
            resources.map((r) => {
                const a = new analyzerPb.AnalyzerResource();
                a.setType(r.type);
                a.setName(r.name);
                a.setUrn(r.urn ?? urnOf(r.type, r.name));
                a.setProperties(structPb.Struct.fromJavaScript(r.properties));
                a.setOptions(options(r));
                if (r.parent) a.setParent(r.parent);
                a.setDependenciesList([]);
                return a;
            }),
        );
        return toDiagnostics(await this.call("analyzeStack", req));
    }

    /** What a preview reports: Analyze for each resource, then AnalyzeStack for all of them. */
    async analyzeAll(resources: AnalyzerResourceSpec[]): Promise<Diagnostic[]> {
        const out: Diagnostic[] = [];
        for (const r of resources) out.push(...(await this.analyze(r)));
        out.push(...(await this.analyzeStack(resources)));
        return out;
    }

    async stop(): Promise<void> {
        this.client.close();
        if (this.child.exitCode !== null) return;
        await new Promise<void>((resolve) => {
            this.child.once("exit", () => resolve());
            this.child.kill("SIGTERM");
        });
    }
}

/** rule -> number of violations, for verdict tables. */
export function verdict(diags: Diagnostic[]): Record<string, { level: Level; count: number }> {
    const out: Record<string, { level: Level; count: number }> = {};
    for (const d of diags) {
        out[d.policyName] ??= { level: d.enforcementLevel, count: 0 };
        out[d.policyName].count++;
    }
    return out;
}
