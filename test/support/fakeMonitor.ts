/**
 * The engine's side of a Pulumi plugin, for the cross-language plugin tests and bench:
 *  - a fake engine: one gRPC server with the ResourceMonitor service (what a component's children
 *    register with) and the Engine service (logs), answering registrations and invokes through a
 *    `pulumi.runtime.Mocks` (the AWS mocks), the way Pulumi's own MockMonitor does in-process;
 *  - the plugin started for real: @pulumi/pulumi/cmd/run-plugin with the package directory and
 *    the engine's address, as the Node language host starts it for `pulumi package add`, with an
 *    optional preload that records every file Node loads and hides chosen modules;
 *  - GetSchema and Construct as the engine sends them.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import { pluginPort } from "./pluginPort";
import { patience } from "./patience";

/** The package directory (test/support from the sources, bin/test/support compiled). */
const ROOT = (() => {
    for (let dir = __dirname; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
        const manifest = path.join(dir, "package.json");
        if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, "utf8")).name === "pka-fleet") return dir;
    }
    throw new Error(`no pka-fleet package.json above ${__dirname}`);
})();
// The SDK instance the package itself resolves (its protos and grpc-js must be the plugin's).
const PULUMI_DIR = path.dirname(require.resolve("@pulumi/pulumi/package.json", { paths: [ROOT] }));
const grpc = require(require.resolve("@grpc/grpc-js", { paths: [PULUMI_DIR] }));
const resourcePb = require(path.join(PULUMI_DIR, "proto/resource_pb"));
const resourceGrpc = require(path.join(PULUMI_DIR, "proto/resource_grpc_pb"));
const enginePb = require(path.join(PULUMI_DIR, "proto/engine_pb"));
const engineGrpc = require(path.join(PULUMI_DIR, "proto/engine_grpc_pb"));
const providerPb = require(path.join(PULUMI_DIR, "proto/provider_pb"));
const providerGrpc = require(path.join(PULUMI_DIR, "proto/provider_grpc_pb"));
const structPb = require(require.resolve("google-protobuf/google/protobuf/struct_pb", { paths: [PULUMI_DIR] }));
const emptyPb = require(require.resolve("google-protobuf/google/protobuf/empty_pb", { paths: [PULUMI_DIR] }));
const rpc = require(path.join(PULUMI_DIR, "runtime/rpc"));

/** Pulumi's wire marker of a secret value: `{ [SECRET_SIG]: SECRET_VALUE, value }`. */
export const SECRET_SIG = "4dabf18193072939515e22adb298388d";
export const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";
export const isWireSecret = (v: unknown): v is { value: unknown } =>
    !!v && typeof v === "object" && (v as Record<string, unknown>)[SECRET_SIG] === SECRET_VALUE;

/** Features a current engine announces; the ones the SDK only needs for options this package never sets are off. */
const FEATURES = new Set([
    "secrets",
    "resourceReferences",
    "outputValues",
    "deletedWith",
    "replaceWith",
    "aliasSpecs",
    "parameterization",
]);

export interface Registration {
    type: string;
    name: string;
    urn: string;
    parent: string;
    custom: boolean;
    /** The properties as the plugin sent them (secrets as wire secrets). */
    object: Record<string, any>;
}

export interface FakeEngine {
    /** Both services listen here: the monitor endpoint and the engine address. */
    address: string;
    registrations: Registration[];
    /** registerResourceOutputs, by URN (wire form). */
    outputs: Map<string, Record<string, any>>;
    invokes: string[];
    logs: { severity: number; message: string }[];
    /** Time the engine's side spent in `newResource` (e.g. the dynamic key provider's create), ms. */
    mockMs: number;
    close(): Promise<void>;
}

function unary(fn: (req: any) => Promise<any> | any) {
    return (call: any, callback: (err: Error | null, resp?: any) => void) => {
        Promise.resolve()
            .then(() => fn(call.request))
            .then(
                (resp) => callback(null, resp),
                (err) => callback(err instanceof Error ? err : new Error(String(err))),
            );
    };
}

/** A ResourceMonitor + Engine on 127.0.0.1 that answers through `mocks` (project/stack name the URNs). */
export async function startFakeEngine(
    mocks: pulumi.runtime.Mocks,
    project = "pka-fleet-plugin",
    stack = "test",
): Promise<FakeEngine> {
    const server = new grpc.Server();
    const engine: FakeEngine = {
        address: "",
        registrations: [],
        outputs: new Map(),
        invokes: [],
        logs: [],
        mockMs: 0,
        close: async () => undefined,
    };
    const urnOf = (parent: string, type: string, name: string) => {
        const qualified = parent ? `${parent.split("::")[2]}$${type}` : type;
        return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
    };
    const timed = async <T>(f: () => T | Promise<T>): Promise<T> => {
        const t0 = Date.now();
        try {
            return await f();
        } finally {
            engine.mockMs += Date.now() - t0;
        }
    };
    server.addService(resourceGrpc.ResourceMonitorService, {
        supportsFeature: unary((req) =>
            new resourcePb.SupportsFeatureResponse().setHassupport(FEATURES.has(req.getId())),
        ),
        registerPackage: unary(() => new resourcePb.RegisterPackageResponse().setRef(`ref-${Date.now()}`)),
        registerResource: unary(async (req) => {
            const type = req.getType();
            const name = req.getName();
            const object = req.getObject() ? req.getObject().toJavaScript() : {};
            const urn = urnOf(req.getParent(), type, name);
            engine.registrations.push({ type, name, urn, parent: req.getParent(), custom: req.getCustom(), object });
            const result = await timed(() =>
                mocks.newResource({
                    type,
                    name,
                    inputs: rpc.deserializeProperties(req.getObject() ?? structPb.Struct.fromJavaScript({})),
                    provider: req.getProvider(),
                    custom: req.getCustom(),
                    id: req.getImportid(),
                }),
            );
            const state = await rpc.serializeProperties("", result.state ?? {});
            const resp = new resourcePb.RegisterResourceResponse();
            resp.setUrn(urn);
            resp.setId(result.id ?? "");
            resp.setObject(structPb.Struct.fromJavaScript(state));
            return resp;
        }),
        registerResourceOutputs: unary((req) => {
            engine.outputs.set(req.getUrn(), req.getOutputs() ? req.getOutputs().toJavaScript() : {});
            return new emptyPb.Empty();
        }),
        readResource: unary(async (req) => {
            const result = await timed(() =>
                mocks.newResource({
                    type: req.getType(),
                    name: req.getName(),
                    inputs: rpc.deserializeProperties(req.getProperties()),
                    provider: req.getProvider(),
                    custom: true,
                    id: req.getId(),
                }),
            );
            const resp = new resourcePb.ReadResourceResponse();
            resp.setUrn(urnOf(req.getParent(), req.getType(), req.getName()));
            resp.setProperties(structPb.Struct.fromJavaScript(await rpc.serializeProperties("", result.state ?? {})));
            return resp;
        }),
        invoke: unary(async (req) => {
            const token = req.getTok();
            engine.invokes.push(token);
            const result = await mocks.call({
                token,
                inputs: rpc.deserializeProperties(req.getArgs()),
                provider: req.getProvider(),
            });
            const resp = new providerPb.InvokeResponse();
            resp.setReturn(structPb.Struct.fromJavaScript(await rpc.serializeProperties("", result)));
            return resp;
        }),
        signalAndWaitForShutdown: unary(() => new emptyPb.Empty()),
    });
    server.addService(engineGrpc.EngineService, {
        log: unary((req) => {
            engine.logs.push({ severity: req.getSeverity(), message: req.getMessage() });
            return new emptyPb.Empty();
        }),
        getRootResource: unary(() => new enginePb.GetRootResourceResponse().setUrn("")),
        setRootResource: unary(() => new enginePb.SetRootResourceResponse()),
    });
    const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err: Error | null, p: number) =>
            err ? reject(err) : resolve(p),
        ),
    );
    engine.address = `127.0.0.1:${port}`;
    engine.close = () => new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    return engine;
}

// ---------------------------------------------------------------------------------------------
// The plugin process.

/** Preloaded into the plugin process: records each file Node loads, and hides modules by name. */
const PRELOAD = `"use strict";
const Module = require("module");
const fs = require("fs");
const trace = process.env.PKA_PLUGIN_TRACE;
const hidden = (process.env.PKA_PLUGIN_HIDE || "").split(",").filter(Boolean);
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
    if (hidden.some((h) => request === h || request.startsWith(h + "/"))) {
        const err = new Error("Cannot find module '" + request + "' (hidden from the plugin by the test)");
        err.code = "MODULE_NOT_FOUND";
        throw err;
    }
    return resolve.call(this, request, ...rest);
};
const load = Module.prototype.load;
Module.prototype.load = function (filename) {
    if (trace) fs.appendFileSync(trace, filename + "\\n");
    return load.call(this, filename);
};
`;

export interface PluginProcess {
    child: ChildProcess;
    port: number;
    /** ms from spawn to the port printed (the plugin serving). */
    startMs: number;
    spawnedAt: number;
    client: any;
    stderr(): string;
    stdout(): string;
    /** Files Node has loaded in the plugin so far (with `trace`). */
    loaded(): string[];
    stop(): void;
}

export interface PluginOptions {
    /** The plugin's working directory (the language host uses the stack's); default: a fresh temp directory. */
    cwd?: string;
    /** Record loaded files. */
    trace?: boolean;
    /** Module names the plugin cannot resolve (e.g. typescript, ts-node). */
    hide?: string[];
    /** Environment additions. */
    env?: Record<string, string>;
    timeoutMs?: number;
}

/** run-plugin as the Node language host starts it: `node <run-plugin> <package dir> <engine address>`, in the stack's directory. */
export async function startPlugin(
    packageDir: string,
    engineAddress: string,
    opts: PluginOptions = {},
): Promise<PluginProcess> {
    const runner = require.resolve("@pulumi/pulumi/cmd/run-plugin", { paths: [packageDir] });
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "pka-plugin-"));
    const cwd = opts.cwd ?? scratch;
    const traceFile = path.join(scratch, "loaded.txt");
    const preload = path.join(scratch, "preload.js");
    const nodeArgs: string[] = [];
    if (opts.trace || opts.hide?.length) {
        fs.writeFileSync(preload, PRELOAD);
        nodeArgs.push("--require", preload);
    }
    // The plugin gets the environment the engine gives plugins, not the test runner's ts-node setup.
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env))
        if (v !== undefined && !/^TS_NODE_/.test(k) && k !== "NODE_OPTIONS") env[k] = v;
    Object.assign(env, opts.env ?? {});
    if (opts.trace) env.PKA_PLUGIN_TRACE = traceFile;
    if (opts.hide?.length) env.PKA_PLUGIN_HIDE = opts.hide.join(",");
    const spawnedAt = Date.now();
    const child = spawn(process.execPath, [...nodeArgs, runner, packageDir, engineAddress], {
        cwd,
        env,
        stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    let out = "";
    child.stderr!.on("data", (b) => (err += b.toString()));
    child.stdout!.on("data", (b) => (out += b.toString()));
    const stop = () => {
        if (child.exitCode === null && child.signalCode === null) child.kill();
        fs.rmSync(scratch, { recursive: true, force: true });
    };
    try {
        const port = await pluginPort(child, "run-plugin", opts.timeoutMs ?? patience(60000), () => err);
        const startMs = Date.now() - spawnedAt;
        const client = new providerGrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
        return {
            child,
            port,
            startMs,
            spawnedAt,
            client,
            stderr: () => err,
            stdout: () => out,
            loaded: () =>
                fs.existsSync(traceFile) ? fs.readFileSync(traceFile, "utf8").split("\n").filter(Boolean) : [],
            stop: () => {
                client.close();
                stop();
            },
        };
    } catch (e) {
        stop();
        throw e;
    }
}

/** GetSchema, as the engine asks for it: the schema text. */
export function getSchema(plugin: PluginProcess): Promise<string> {
    return new Promise<string>((resolve, reject) =>
        plugin.client.getSchema(new providerPb.GetSchemaRequest(), (e: Error | null, resp: any) =>
            e ? reject(new Error(`GetSchema: ${e.message}\n${plugin.stderr()}`)) : resolve(resp.getSchema()),
        ),
    );
}

export interface ConstructAnswer {
    urn: string;
    /** The outputs in wire form (secrets as `{ [SECRET_SIG]: ..., value }`). */
    state: Record<string, any>;
}

/** Construct, as the engine sends it for a component a Python/YAML/... program declares (plain inputs, no preview). */
export function construct(
    plugin: PluginProcess,
    engine: FakeEngine,
    type: string,
    name: string,
    inputs: Record<string, unknown>,
    project = "pka-fleet-plugin",
    stack = "test",
): Promise<ConstructAnswer> {
    const req = new providerPb.ConstructRequest();
    req.setProject(project);
    req.setStack(stack);
    req.setOrganization("organization");
    req.setDryrun(false);
    req.setParallel(16);
    req.setMonitorendpoint(engine.address);
    req.setType(type);
    req.setName(name);
    req.setInputs(structPb.Struct.fromJavaScript(inputs));
    req.setAcceptsOutputValues(true);
    return new Promise<ConstructAnswer>((resolve, reject) =>
        plugin.client.construct(req, (e: Error | null, resp: any) =>
            e
                ? reject(Object.assign(new Error(`Construct ${type}: ${e.message}`), { details: (e as any).details }))
                : resolve({ urn: resp.getUrn(), state: resp.getState() ? resp.getState().toJavaScript() : {} }),
        ),
    );
}
