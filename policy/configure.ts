/**
 * The pack's own check of its config, where the engine hands it over: the gRPC `Configure` call.
 *
 * @pulumi/policy 1.21 stores whatever Configure carries (server.js `configure`) and gives each
 * rule its own section through `getConfig()`; nothing looks at a section no rule reads
 * (`ssh-key-algoritm`) or a field no rule reads (`minRsaBit`), so a typo would quietly leave the
 * default in force. The SDK offers no hook for Configure, but it registers its handlers with
 * `grpc.Server.prototype.addService` of the @grpc/grpc-js copy it loads: `installConfigValidation`
 * wraps the handler there, before the PolicyPack is built. The wrapper
 *  - refuses a config the validator of config.ts refuses (unknown rule or field, a value the
 *    rule's schema refuses): Configure returns INVALID_ARGUMENT with every problem, which the
 *    Pulumi CLI prints and stops on, and the previous config stays in force;
 *  - applies `all` (the level for every rule) to the rules the request leaves out. The Pulumi CLI
 *    sends every rule with `all` already applied (ReconcilePolicyPackConfig), so this matters to
 *    other clients, which may send `all` alone;
 *  - then hands the request to the SDK's own handler, unchanged otherwise.
 * Without the SDK shape it expects it returns false, and every rule still checks its own section
 * when it reads it (config.ts `readConfig`); only the unknown rule names go unnoticed then.
 */
import * as path from "path";
import type { PolicyConfigSchema } from "@pulumi/policy";
import { ALL, ENFORCEMENT_LEVELS, EnforcementLevel, PolicyConfigError, validatePackConfig } from "./config";

interface ServedPolicy {
    name: string;
    configSchema?: PolicyConfigSchema;
}

let installed = false;

/** The grpc-js module @pulumi/policy's server uses (resolved from its own folder). */
function sdkModule(name: string): any {
    const serverDir = path.dirname(require.resolve("@pulumi/policy/server"));
    return require(require.resolve(name, { paths: [serverDir] }));
}

/** Enforcement level names by the analyzer protocol's enum value (ADVISORY 0, MANDATORY 1, ...). */
function levelNames(analyzerPb: any): Map<number, EnforcementLevel> {
    const out = new Map<number, EnforcementLevel>();
    for (const [k, v] of Object.entries(analyzerPb.EnforcementLevel ?? {})) {
        const name = k.toLowerCase() as EnforcementLevel;
        if (ENFORCEMENT_LEVELS.includes(name)) out.set(v as number, name);
    }
    return out;
}

/**
 * The config a Configure request carries, in `--policy-pack-config` form (rule -> { enforcementLevel,
 * ...fields }), as the SDK's handler reads it. A level inside the fields is refused: the SDK would
 * overwrite it with the request's level without a word.
 */
export function configOfRequest(
    req: any,
    levels: Map<number, EnforcementLevel>,
): { config: Record<string, Record<string, unknown>>; problems: string[] } {
    const config: Record<string, Record<string, unknown>> = {};
    const problems: string[] = [];
    for (const [name, pc] of req.getPolicyconfigMap().entries() as Iterable<[string, any]>) {
        const props = (pc.getProperties()?.toJavaScript() ?? {}) as Record<string, unknown>;
        if ("enforcementLevel" in props) {
            problems.push(
                `policy config: '${name}' carries enforcementLevel among its properties; set the PolicyConfig's enforcementLevel instead`,
            );
            delete props.enforcementLevel;
        }
        const level = levels.get(pc.getEnforcementlevel());
        config[name] = { ...props, ...(level ? { enforcementLevel: level } : {}) };
        if (!level)
            problems.push(
                `policy config: '${name}' has enforcement level ${pc.getEnforcementlevel()}, which the protocol does not define`,
            );
    }
    return { config, problems };
}

/** Wraps the SDK's Configure handler: validate, expand `all`, then delegate. */
export function validatingConfigure(
    original: (call: any, callback: any) => unknown,
    policies: readonly ServedPolicy[],
    grpcStatus: any,
    analyzerPb: any,
) {
    const levels = levelNames(analyzerPb);
    return function configure(this: unknown, call: any, callback: (err: unknown, resp?: unknown) => void): unknown {
        let problems: string[];
        try {
            const got = configOfRequest(call.request, levels);
            problems = got.problems;
            try {
                validatePackConfig(got.config, policies);
            } catch (e) {
                if (!(e instanceof PolicyConfigError)) throw e;
                problems.push(...e.problems);
            }
            if (problems.length === 0) {
                const map = call.request.getPolicyconfigMap();
                const all = map.get(ALL);
                if (all) for (const p of policies) if (!map.has(p.name)) map.set(p.name, all.cloneMessage());
            }
        } catch (e) {
            problems = [`pka-fleet policy pack: could not check the policy pack config: ${(e as Error).message}`];
        }
        if (problems.length > 0) {
            const details =
                `the pka-fleet policy pack config is invalid (nothing was changed):\n  ${problems.join("\n  ")}\n` +
                `Fix the file given to --policy-pack-config (or the policy group's config): the rules and their fields are in the pack's README, "The rules".`;
            callback({ code: grpcStatus.INVALID_ARGUMENT, details, message: details });
            return undefined;
        }
        return original.call(this, call, callback);
    };
}

/**
 * Hooks the Configure handler of the analyzer server the next `new PolicyPack` starts. Call it
 * with the policies the pack serves, before `new PolicyPack`. Returns false when the SDK does
 * not have the expected shape (the rules' own checks remain).
 */
export function installConfigValidation(policies: readonly ServedPolicy[]): boolean {
    if (installed) return true;
    let grpc: any;
    let analyzerPb: any;
    try {
        grpc = sdkModule("@grpc/grpc-js");
        analyzerPb = sdkModule("@pulumi/pulumi/proto/analyzer_pb");
    } catch {
        return false;
    }
    const proto = grpc?.Server?.prototype;
    const addService = proto?.addService;
    if (
        typeof addService !== "function" ||
        grpc.status?.INVALID_ARGUMENT === undefined ||
        levelNames(analyzerPb).size !== ENFORCEMENT_LEVELS.length
    )
        return false;
    proto.addService = function addServiceWithConfigCheck(
        this: unknown,
        service: unknown,
        impl: Record<string, unknown>,
    ) {
        if (
            impl &&
            typeof impl.configure === "function" &&
            typeof impl.analyze === "function" &&
            typeof impl.analyzeStack === "function"
        ) {
            proto.addService = addService; // only the analyzer's server
            impl = {
                ...impl,
                configure: validatingConfigure(impl.configure as any, policies, grpc.status, analyzerPb),
            };
        }
        return addService.call(this, service, impl);
    };
    installed = true;
    return true;
}
