/**
 * The local fleet: the whole pka-fleet pipeline on this machine, with real parts where they can
 * be real. Hosts are disposable real-sshd sandboxes (local/sandbox.ts) whose "SSM agent" runs the
 * real document (local/agent.ts); the local AWS endpoint (local/ssmEndpoint.ts) emits the events
 * EC2 and SSM would emit; the local EventBridge bus matches them against the Provisioner's exact
 * patterns and feeds an SQS queue (visibility timeout, redrive to a DLQ); an event source mapping
 * invokes the REAL bundled Lambda (bin/lambda/provisioner.js) in child processes whose AWS SDK
 * reaches the endpoint through AWS_ENDPOINT_URL_SSM/_EC2/_SQS. When the Lambda pins a host's keys
 * in Parameter Store, the central server's key logs in with exactly those pinned keys
 * (StrictHostKeyChecking yes) and runs `sudo -n true`.
 *
 * Used by `pka local-fleet`, the end-to-end tests and the bench. `simulated: true` replaces the
 * sshd hosts with hosts whose document run succeeds instantly (for bursts of hundreds).
 */
import { ChildProcess, fork } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AccessSpec, accessSpecHash, canonicalAccessSpecJson, validateAccessSpec } from "../core/accessSpec";
import { splitAccessSpec } from "../core/accessStore";
import { renderDocument } from "../core/document";
import { ALL_TRIGGERS, offboardInvocationInput, provisionerRules, PUSH_DETAIL_TYPE, PUSH_SOURCE } from "../core/events";
import { generateKey } from "../core/keygen";
import { provisionerCodePath } from "../core/lambdaBundle";
import { FIFO_BATCH_MAX, PROVISIONER_DEFAULTS, queueVisibilitySeconds } from "../core/provisionerDefaults";
import type { FleetPlan } from "../components/PkaFleet";
import { agentPassesEnvVar, runDocumentLikeAgent } from "./agent";
import { EventSourceMapping, LocalEventBus, LocalQueue, SqsEvent } from "./eventBus";
import { SandboxHost, sshRun, startHost } from "./sandbox";
import { DocumentRunner, EndpointKnobs, LocalSsmEndpoint, SsmDocument } from "./ssmEndpoint";

export const DOCUMENT_NAME = "pka-fleet-local-setup";
export const SERVICE_USER = "svc_user";
/** The fleet name of a local fleet that names none. */
export const DEFAULT_FLEET_NAME = "local";

/**
 * One AWS account and region for several local fleets: one event bus (EventBridge's default bus)
 * and one endpoint (SSM, EC2, SQS, Parameter Store). Each fleet keeps its own document, queues,
 * Lambda and IAM condition (its Lambda's access key stands for its role).
 */
export class LocalAccount {
    readonly bus = new LocalEventBus();
    readonly endpoint: LocalSsmEndpoint;
    private started?: Promise<string>;
    constructor(knobs: EndpointKnobs = {}) {
        this.endpoint = new LocalSsmEndpoint({ bus: this.bus, knobs: { requiredTagByAccessKey: {}, ...knobs } });
    }
    start(): Promise<string> {
        return (this.started ??= this.endpoint.start());
    }
    async stop(): Promise<void> {
        await this.endpoint.stop();
    }
}

export interface LocalFleetOptions {
    /** Hosts to start (default 5). */
    hosts?: number;
    /** The account (bus and endpoint) shared with other fleets; default: one of its own, stopped with the fleet. */
    account?: LocalAccount;
    /** The setup document's name (fleets in one account each have their own, as PkaFleet's are auto-named). Default DOCUMENT_NAME. */
    documentName?: string;
    /** Host names are `<prefix>-<n>` (default "pka-host"). */
    hostNamePrefix?: string;
    /** The private address of host `index` (a loopback address: its sshd also listens there on port 22). Default: none (127.0.0.1, sshd on its own port only). */
    hostAddress?: (index: number) => string;
    /** The stack this fleet stands for: the fleet name is then PkaFleet's default, `<resourceName>-<stack>`. Default: none (fleetName). */
    stack?: string;
    /** With `stack`: the PkaFleet resource name. Default "web". */
    resourceName?: string;
    /** Fleet name: /pka/<name>/access, tag pka-fleet=<name>. Default "local". Ignored with `stack`. */
    fleetName?: string;
    /** Hosts without sshd whose document run succeeds at once (bench bursts). Default false. */
    simulated?: boolean;
    /**
     * The Provisioner's settings. Every default is what a Provisioner deploys (core/provisionerDefaults.ts):
     * visibility timeout 6 x the function timeout + the batching window (365 s), batches of 50 records
     * gathered for 5 s, 5 concurrent batches, 10 receives, 3 attempts, 60 s function timeout, 3600 s agent wait.
     * Tests that need a record to come back sooner set them (and say so).
     */
    visibilityTimeoutMs?: number;
    maxReceiveCount?: number;
    batchSize?: number;
    batchingWindowMs?: number;
    lambdaConcurrency?: number;
    maxAttempts?: number;
    /** The Lambda's own deadline (ms), as its timeout gives it. */
    functionTimeoutMs?: number;
    agentWaitSeconds?: number;
    /** Endpoint knobs: throttling, invocation visibility lag, ... */
    knobs?: EndpointKnobs;
    /** Agent registration delay per host index (ms) — an agent that comes online late. */
    agentDelayMs?: (index: number) => number;
    /** Host indexes on which the document always fails (knob). */
    failingHosts?: number[];
    /** SSM Agent version per host index (default DEFAULT_AGENT_VERSION); older than 3.3.2746.0 passes no ENV_VAR parameters. */
    agentVersion?: (index: number) => string | undefined;
    /** Log in with ssh as soon as a host's keys are pinned (default true unless simulated). */
    login?: boolean;
    /** Progress lines. */
    log?: (line: string) => void;
    /** Aborting it (Ctrl-C) while `create` runs makes `create` tear down what it started and reject. */
    signal?: AbortSignal;
}

/** The provisioner settings a local fleet runs: the deployed defaults (core/provisionerDefaults.ts), each overridable. */
export interface LocalProvisionerConfig {
    visibilityTimeoutMs: number;
    maxReceiveCount: number;
    batchSize: number;
    batchingWindowMs: number;
    lambdaConcurrency: number;
    maxAttempts: number;
    functionTimeoutMs: number;
    agentWaitSeconds: number;
    /** The wait queue's visibility timeout: six times the function timeout (it has no batching window). */
    waitVisibilityTimeoutMs: number;
}

export function localProvisionerConfig(opts: Partial<LocalProvisionerConfig> = {}): LocalProvisionerConfig {
    const d = PROVISIONER_DEFAULTS;
    return {
        visibilityTimeoutMs: opts.visibilityTimeoutMs ?? queueVisibilitySeconds(d.timeoutSeconds, d.batchingWindowSeconds) * 1000,
        maxReceiveCount: opts.maxReceiveCount ?? d.maxReceiveCount,
        batchSize: opts.batchSize ?? d.batchSize,
        batchingWindowMs: opts.batchingWindowMs ?? d.batchingWindowSeconds * 1000,
        lambdaConcurrency: opts.lambdaConcurrency ?? d.maximumConcurrency,
        maxAttempts: opts.maxAttempts ?? d.maxAttempts,
        functionTimeoutMs: opts.functionTimeoutMs ?? d.timeoutSeconds * 1000,
        agentWaitSeconds: opts.agentWaitSeconds ?? d.agentWaitSeconds,
        waitVisibilityTimeoutMs: opts.waitVisibilityTimeoutMs ?? queueVisibilitySeconds(d.timeoutSeconds, 0) * 1000,
    };
}

/** The Provisioner's queues, as it deploys them: the queue and its DLQ, the wait queue (FIFO) and its DLQ. */
export interface ProvisionerQueues {
    dlq: LocalQueue;
    queue: LocalQueue;
    waitDlq: LocalQueue;
    waitQueue: LocalQueue;
}

/** The queues a Provisioner named `name` deploys with `cfg` (components/Provisioner.ts). */
export function provisionerQueues(name: string, cfg: LocalProvisionerConfig): ProvisionerQueues {
    const dlq = new LocalQueue({ name: `${name}-dlq` });
    const queue = new LocalQueue({ name, visibilityTimeoutMs: cfg.visibilityTimeoutMs, maxReceiveCount: cfg.maxReceiveCount, deadLetterQueue: dlq });
    const waitDlq = new LocalQueue({ name: `${name}-wait-dlq.fifo`, fifo: true });
    const waitQueue = new LocalQueue({
        name: `${name}-wait.fifo`,
        fifo: true,
        visibilityTimeoutMs: cfg.waitVisibilityTimeoutMs,
        maxReceiveCount: cfg.maxReceiveCount,
        deadLetterQueue: waitDlq,
    });
    return { dlq, queue, waitDlq, waitQueue };
}

/** The Provisioner's two event source mappings: the queue (batches, window, concurrency) and the wait queue (FIFO: 10 a batch, no window). */
export function provisionerMappings(q: ProvisionerQueues, invoke: (e: SqsEvent) => Promise<unknown>, cfg: LocalProvisionerConfig): EventSourceMapping[] {
    return [
        new EventSourceMapping({ queue: q.queue, invoke, batchSize: cfg.batchSize, maximumBatchingWindowMs: cfg.batchingWindowMs, maxConcurrency: cfg.lambdaConcurrency }),
        new EventSourceMapping({ queue: q.waitQueue, invoke, batchSize: FIFO_BATCH_MAX, maximumBatchingWindowMs: 0, maxConcurrency: 2 }),
    ];
}

export type HostResult = "access" | "denied" | "dead-lettered" | "timed out" | "provisioned";

export interface FleetHost {
    index: number;
    name: string;
    instanceId: string;
    sandbox?: SandboxHost;
    launchedAt?: number;
    agentOnlineAt?: number;
    firstCommandAt?: number;
    /** First successful document run. */
    provisionedAt?: number;
    /** Latest successful document run. */
    lastSuccessAt?: number;
    keysPinnedAt?: number;
    accessAt?: number;
    result?: HostResult;
    detail?: string;
    deadLetterReason?: string;
}

export interface LambdaLogLine {
    at: number;
    line: string;
}

/** Work dirs and files of fleets not yet stopped: removed on process exit even when stop() never ran. */
const liveTempPaths = new Set<string>();
let tempExitHook = false;
function trackTemp(p: string): void {
    liveTempPaths.add(p);
    if (tempExitHook) return;
    tempExitHook = true;
    process.on("exit", () => {
        for (const t of liveTempPaths) fs.rmSync(t, { recursive: true, force: true });
    });
}

/** Finds the repository root (the pka-fleet package.json) from this file, compiled or not. */
export function packageRoot(): string {
    let dir = __dirname;
    for (let i = 0; i < 6; i++) {
        const p = path.join(dir, "package.json");
        if (fs.existsSync(p) && JSON.parse(fs.readFileSync(p, "utf8")).name === "pka-fleet") return dir;
        dir = path.dirname(dir);
    }
    throw new Error("cannot find the pka-fleet package root");
}

/** The worker each Lambda "container" runs: it requires the bundle once and serves invocations over IPC. */
const WORKER = `
const bundle = require(process.env.PKA_LOCAL_LAMBDA_BUNDLE);
process.on("message", async (m) => {
  const end = Date.now() + m.timeoutMs;
  const context = { awsRequestId: m.id, functionName: "pka-fleet-provisioner", getRemainingTimeInMillis: () => end - Date.now() };
  try {
    const result = await bundle.handler(m.event, context);
    process.send({ id: m.id, ok: true, result });
  } catch (e) {
    process.send({ id: m.id, ok: false, error: String((e && e.message) || e) });
  }
});
process.send({ ready: true });
`;

/** A pool of Lambda containers (child processes) running the real bundle; one invocation per container at a time. */
export class LambdaPool {
    private readonly idle: ChildProcess[] = [];
    private readonly all: ChildProcess[] = [];
    /** Containers of the previous configuration, killed once they answer. */
    private readonly retired = new Set<ChildProcess>();
    /** Invocations waiting for a free container; called with undefined when the pool closes. */
    private readonly waiting: ((c: ChildProcess | undefined) => void)[] = [];
    private readonly pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
    readonly logs: LambdaLogLine[] = [];
    invocations = 0;
    private closed = false;

    constructor(private env: Record<string, string>, private readonly size: number, private readonly timeoutMs = 60_000) {}

    async start(): Promise<void> {
        await this.spawn(this.size);
    }

    /**
     * A configuration update, as Lambda does it: new containers start with the new environment,
     * and the old ones finish what they run and are gone (an invocation never sees a mix).
     */
    async reconfigure(patch: Record<string, string>): Promise<void> {
        if (this.closed) throw new Error("the Lambda pool is closed");
        const old = [...this.all];
        this.env = { ...this.env, ...patch };
        for (const c of old) this.retired.add(c);
        // Idle old containers go now; busy ones when they answer (release()).
        for (const c of this.idle.splice(0)) c.kill("SIGKILL");
        await this.spawn(this.size);
    }

    private async spawn(n: number): Promise<void> {
        const bundle = provisionerCodePath();
        if (!fs.existsSync(bundle)) throw new Error(`the Lambda bundle ${bundle} is missing: run \`npm run build\` first`);
        const workerFile = path.join(os.tmpdir(), `pka-lambda-worker-${process.pid}-${randomBytes(4).toString("hex")}.js`);
        trackTemp(workerFile);
        fs.writeFileSync(workerFile, WORKER);
        try {
            await Promise.all(
                Array.from({ length: n }, () => {
                    const child = fork(workerFile, [], {
                        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...this.env, PKA_LOCAL_LAMBDA_BUNDLE: bundle },
                        stdio: ["ignore", "pipe", "pipe", "ipc"],
                        execArgv: [],
                    });
                    this.all.push(child);
                    const capture = (d: Buffer) => {
                        for (const line of d.toString().split("\n")) if (line.trim()) this.logs.push({ at: Date.now(), line });
                    };
                    child.stdout?.on("data", capture);
                    child.stderr?.on("data", capture);
                    child.on("message", (m: { id?: string; ok?: boolean; result?: unknown; error?: string; ready?: boolean }) => {
                        if (m.ready || !m.id) return;
                        const p = this.pending.get(m.id);
                        this.pending.delete(m.id);
                        this.release(child);
                        if (!p) return;
                        if (m.ok) p.resolve(m.result);
                        else p.reject(new Error(m.error ?? "invocation failed"));
                    });
                    child.on("exit", () => {
                        const i = this.all.indexOf(child);
                        if (i >= 0) this.all.splice(i, 1);
                        if (this.retired.delete(child)) return;
                        for (const [id, p] of this.pending) {
                            p.reject(new Error("the Lambda container exited"));
                            this.pending.delete(id);
                        }
                    });
                    return new Promise<void>((resolve, reject) => {
                        child.once("message", () => resolve());
                        child.once("error", reject);
                        child.once("exit", (code) => reject(new Error(`the Lambda container exited with ${code} while loading the bundle: ${this.logs.map((l) => l.line).join("\n").slice(-2000)}`)));
                    }).then(() => {
                        this.release(child);
                    });
                }),
            );
        } finally {
            fs.rmSync(workerFile, { force: true });
            liveTempPaths.delete(workerFile);
        }
    }

    private release(child: ChildProcess): void {
        if (this.retired.has(child)) {
            child.kill("SIGKILL");
            return;
        }
        const next = this.waiting.shift();
        if (next) next(child);
        else this.idle.push(child);
    }

    async invoke(event: SqsEvent): Promise<unknown> {
        if (this.closed) throw new Error("the Lambda pool is closed");
        const child = this.idle.pop() ?? (await new Promise<ChildProcess | undefined>((r) => this.waiting.push(r)));
        if (!child || this.closed) throw new Error("the Lambda pool is closed");
        const id = randomBytes(8).toString("hex");
        this.invocations++;
        return new Promise((resolve, reject) => {
            this.pending.set(id, { resolve, reject });
            child.send({ id, event, timeoutMs: this.timeoutMs });
        });
    }

    stop(): void {
        this.closed = true;
        for (const w of this.waiting.splice(0)) w(undefined);
        for (const c of this.all) if (c.exitCode === null) c.kill("SIGKILL");
    }
}

/** Fake but well-formed host keys (`PKA-HOSTKEY type base64`) for simulated hosts. */
function simulatedHostKeyOutput(): string {
    const s = (b: Buffer) => {
        const len = Buffer.alloc(4);
        len.writeUInt32BE(b.length);
        return Buffer.concat([len, b]);
    };
    const blob = Buffer.concat([s(Buffer.from("ssh-ed25519")), s(randomBytes(32))]);
    return `PKA-HOSTKEY ssh-ed25519 ${blob.toString("base64")}\n`;
}

function percentile(xs: number[], p: number): number | undefined {
    if (xs.length === 0) return undefined;
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export { percentile };

type Plan = FleetPlan;

/**
 * The same code path as PkaFleet: args -> planFleet -> buildAccessSpec. components/PkaFleet.ts
 * loads the Pulumi SDK and providers; when it cannot load, the spec is built with the validation
 * it delegates to (validateAccessSpec, no fallback keys) and the paths it documents.
 */
function fleetModule(): typeof import("../components/PkaFleet") {
    // The same code PkaFleet deploys with; loaded lazily (it pulls in the Pulumi SDK), and a failure
    // to load it is a failure of the local fleet, never a reason to build the spec another way.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require("../components/PkaFleet") as typeof import("../components/PkaFleet");
}

/**
 * PkaFleet's plan for the local fleet: the central server's service account with a key PkaFleet
 * generates (its private half is the stack's `privateKeys.svc_user`). With `stack`, the fleet name
 * is PkaFleet's default for `new PkaFleet(resourceName, ...)` in that stack; else `fleetName`.
 */
function planLocal(opts: LocalFleetOptions): Plan {
    const users = [{ name: SERVICE_USER, sudo: "nopasswd" as const, service: true, generateKey: { keyType: "ed25519" as const } }];
    if (opts.stack !== undefined) return fleetModule().planFleet(opts.resourceName ?? "web", { users }, opts.stack);
    const fleetName = opts.fleetName ?? DEFAULT_FLEET_NAME;
    return fleetModule().planFleet(fleetName, { fleetName, users });
}

/**
 * The EventBridge rules components/Provisioner.ts deploys with every trigger on (its default, and
 * PkaFleet's), in its order and keyed as its rules are named (`<name>-<key>`): core/events.ts
 * provisionerRules, the list the Provisioner maps, for the deployed document name;
 * test/eventBus.test.ts asserts that these deep-equal the eventPattern inputs the Provisioner
 * registers under Pulumi mocks.
 */
export function provisionerRulePatterns(documentName: string, fleetName: string = DEFAULT_FLEET_NAME): { key: string; pattern: object }[] {
    return provisionerRules(ALL_TRIGGERS).map((r) => ({ key: r.key, pattern: r.pattern(documentName, fleetName) }));
}

/** Puts the Provisioner's rules on `bus`, every one targeting `queue` (as every deployed rule targets the provisioner queue). */
export function addProvisionerRules(bus: LocalEventBus, queue: LocalQueue, documentName: string, fleetName: string = DEFAULT_FLEET_NAME, rulePrefix = ""): void {
    for (const r of provisionerRulePatterns(documentName, fleetName)) bus.addRule(`${rulePrefix}${r.key}`, r.pattern, queue);
}

export class LocalFleet {
    readonly opts: LocalFleetOptions;
    /** The provisioner settings this fleet runs (the deployed defaults unless overridden). */
    readonly config: LocalProvisionerConfig;
    readonly plan: Plan;
    readonly bus: LocalEventBus;
    readonly account: LocalAccount;
    /** The fleet's own setup document (SetupDocument's auto-named one). */
    readonly documentName: string;
    /** This fleet's Lambda signs with this access key: the endpoint applies this fleet's IAM tag condition to it. */
    readonly accessKeyId: string;
    private readonly ownsAccount: boolean;
    readonly dlq: LocalQueue;
    readonly queue: LocalQueue;
    readonly waitQueue: LocalQueue;
    readonly waitDlq: LocalQueue;
    readonly endpoint: LocalSsmEndpoint;
    readonly hosts: FleetHost[] = [];
    readonly workDir: string;
    /** The central server's key (private key file in workDir, mode 600). */
    readonly keyFile: string;
    publicKey: string;
    /** The service account's private key, as PkaFleet's `privateKeys.svc_user` holds it. */
    readonly privateKey: string;
    spec: AccessSpec;
    /** Which code built the spec: PkaFleet's planFleet/buildAccessSpec, or validateAccessSpec when the component cannot load. */
    readonly specSource: string;
    private mappings: EventSourceMapping[] = [];
    private lambda?: LambdaPool;
    private readonly byId = new Map<string, FleetHost>();
    private readonly log: (line: string) => void;
    private readonly logins = new Set<Promise<void>>();
    private readonly loggingIn = new Set<FleetHost>();
    private stopped = false;

    private constructor(opts: LocalFleetOptions) {
        this.opts = opts;
        this.log = opts.log ?? (() => undefined);
        this.workDir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-local-fleet-"));
        trackTemp(this.workDir);
        fs.chmodSync(this.workDir, 0o700);
        // The central server's key: an unencrypted service key, as a non-interactive central server uses.
        this.plan = planLocal(opts);
        // The key SshKeyPair would generate, with the comment PkaFleet gives it.
        const key = generateKey({ type: "ed25519", comment: `${SERVICE_USER}@pka-${this.plan.fleetName}` });
        this.keyFile = path.join(this.workDir, "central_ed25519");
        fs.writeFileSync(this.keyFile, key.privateKey, { mode: 0o600 });
        this.publicKey = key.publicKey;
        this.privateKey = key.privateKey;
        this.spec = fleetModule().buildAccessSpec(this.plan, [[key.publicKey]]);
        this.specSource = "PkaFleet planFleet/buildAccessSpec";
        this.config = localProvisionerConfig(opts);
        const queues = provisionerQueues(`${this.plan.fleetName}-provisioner`, this.config);
        this.dlq = queues.dlq;
        this.queue = queues.queue;
        this.waitQueue = queues.waitQueue;
        this.waitDlq = queues.waitDlq;
        this.ownsAccount = opts.account === undefined;
        this.account = opts.account ?? new LocalAccount({ requiredTag: this.plan.tag, ...(opts.knobs ?? {}) });
        this.bus = this.account.bus;
        this.endpoint = this.account.endpoint;
        for (const q of [this.dlq, this.queue, this.waitDlq, this.waitQueue]) this.endpoint.addQueue(q);
        this.accessKeyId = `AKIDLOCAL${this.plan.fleetName.replace(/[^a-z0-9]/g, "").toUpperCase()}`.slice(0, 20);
        (this.endpoint.knobs.requiredTagByAccessKey ??= {})[this.accessKeyId] = this.plan.tag;
        this.documentName = opts.documentName ?? DOCUMENT_NAME;
        // The rules the Provisioner deploys, with its exact patterns (each fleet's own, on the account's bus).
        addProvisionerRules(this.bus, this.queue, this.documentName, this.plan.fleetName, this.ownsAccount ? "" : `${this.plan.fleetName}-`);
    }

    /** Builds everything except the hosts' launch: endpoint, document, access parameter, Lambda, queue polling, hosts started (pending). */
    static async create(opts: LocalFleetOptions = {}): Promise<LocalFleet> {
        const fleet = new LocalFleet(opts);
        try {
            await fleet.setup();
            fleet.throwIfAborted();
        } catch (err) {
            await fleet.stop();
            throw err;
        }
        return fleet;
    }

    private throwIfAborted(): void {
        if (this.opts.signal?.aborted) throw new Error("interrupted while the local fleet was starting");
    }

    private async setup(): Promise<void> {
        const n = this.opts.hosts ?? 5;
        this.throwIfAborted();
        await this.account.start();
        this.endpoint.addDocument(this.documentName, renderDocument() as SsmDocument);
        this.storeSpec(this.spec);
        this.endpoint.putParameterDirect(this.deployedMarker, `pka-fleet ${this.plan.fleetName}: the provisioner is deployed`);
        this.watch();

        const env: Record<string, string> = {
            ...this.endpoint.lambdaEnv(),
            AWS_ACCESS_KEY_ID: this.accessKeyId,
            PKA_DOCUMENT_NAME: this.documentName,
            PKA_TARGET_TAG: `${this.plan.tag.key}=${this.plan.tag.value}`,
            PKA_ACCESS_PARAMETER: this.plan.accessPath,
            // The Provisioner's deployed marker (revokeOnDestroy): destroy() deletes it, then runs the offboarding.
            PKA_DEPLOYED_MARKER: this.deployedMarker,
            // What the Provisioner pins: the Lambda serves only this spec.
            PKA_ACCESS_SPEC_SHA256: accessSpecHash(this.spec),
            PKA_KNOWN_HOSTS_PATH: this.plan.knownHostsPath,
            PKA_DEAD_LETTER_QUEUE_URL: this.dlq.url,
            PKA_MAX_ATTEMPTS: String(this.config.maxAttempts),
            PKA_WAIT_QUEUE_URL: this.waitQueue.url,
            PKA_QUEUE_URL: this.queue.url,
            PKA_AGENT_WAIT_SECONDS: String(this.config.agentWaitSeconds),
            AWS_LAMBDA_FUNCTION_NAME: "pka-fleet-provisioner",
            POWERTOOLS_LOG_LEVEL: "INFO",
        };
        // The queue's mapping runs up to lambdaConcurrency batches and the wait queue's one more (its one message group).
        this.lambda = new LambdaPool(env, this.config.lambdaConcurrency + 1, this.config.functionTimeoutMs);
        await this.lambda.start();
        this.mappings = provisionerMappings({ dlq: this.dlq, queue: this.queue, waitDlq: this.waitDlq, waitQueue: this.waitQueue }, (e) => this.lambda!.invoke(e), this.config);
        for (const m of this.mappings) m.start();

        this.throwIfAborted();
        if (!this.opts.simulated) this.log(`starting ${n} hosts (real sshd, one mount+pid namespace each)`);
        const started = await Promise.allSettled(
            Array.from({ length: n }, async (_, index) => {
                const name = `${this.opts.hostNamePrefix ?? "pka-host"}-${index + 1}`;
                const address = this.opts.hostAddress?.(index);
                let sandbox: SandboxHost | undefined;
                let runner: DocumentRunner;
                const agentVersion = this.opts.agentVersion?.(index);
                if (this.opts.simulated) {
                    runner = async (run) =>
                        agentPassesEnvVar(run.agentVersion)
                            ? { exitCode: 0, stdout: simulatedHostKeyOutput(), stderr: "" }
                            : { exitCode: 9, stdout: simulatedHostKeyOutput(), stderr: "PKA-ERROR code=9 SSM_AccessSpec and SSM_AccessSpecSha256 are not set\n" };
                } else {
                    this.throwIfAborted();
                    // A private address of its own: sshd listens there on port 22 too (the address form of the central server's config).
                    sandbox = await startHost({ name, ...(address ? { sshdConfig: [`ListenAddress ${address}:22`] } : {}) });
                    const sb = sandbox;
                    runner = async ({ document, parameters, instanceId, agentVersion: v }) => {
                        const r = await runDocumentLikeAgent(sb, document, parameters, { instanceId, agentVersion: v });
                        return { exitCode: r.status === "Success" ? 0 : r.responseCode === 0 ? 1 : r.responseCode, stdout: r.stdout, stderr: r.stderr };
                    };
                }
                const inst = this.endpoint.addInstance({
                    tags: { [this.plan.tag.key]: this.plan.tag.value, Name: name },
                    runner,
                    ...(agentVersion ? { agentVersion } : {}),
                    computerName: name,
                    ...(address ? { ipAddress: address } : {}),
                    ...(sandbox ? { sshEndpoint: { host: "127.0.0.1", port: sandbox.port } } : {}),
                });
                const host: FleetHost = { index, name, instanceId: inst.instanceId, sandbox };
                if (this.opts.failingHosts?.includes(index)) {
                    this.endpoint.setFailing(inst.instanceId, "pka-local-fleet knob: the setup document always fails on this host");
                }
                return host;
            }),
        );
        for (const r of started) if (r.status === "fulfilled") this.hosts.push(r.value);
        this.hosts.sort((a, b) => a.index - b.index);
        for (const h of this.hosts) this.byId.set(h.instanceId, h);
        const failed = started.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
        if (failed) throw failed.reason;
    }

    /**
     * Writes the spec's parameters only, chunked under the access path as PkaFleet does: what anyone
     * with ssm:PutParameter there can do. The Lambda serves it only after deploySpec pins it.
     */
    storeSpec(spec: AccessSpec, modifiedAt?: number): void {
        const json = canonicalAccessSpecJson(spec);
        for (const p of splitAccessSpec(json, this.plan.accessPath)) this.endpoint.putParameterDirect(p.name, p.value, "String", modifiedAt);
    }

    /** What `pulumi up` does with a new spec: the parameters, then the function's pinned hash (a Lambda configuration update). */
    async deploySpec(spec: AccessSpec): Promise<void> {
        this.storeSpec(spec);
        this.spec = spec;
        await this.lambda?.reconfigure({ PKA_ACCESS_SPEC_SHA256: accessSpecHash(spec) });
    }

    /** The Provisioner's marker parameter: `<accessPath>-deployed`. */
    get deployedMarker(): string {
        return `${this.plan.accessPath}-deployed`;
    }

    /**
     * What `pulumi destroy` does to the hosts, in the order Pulumi deletes: the push and the access
     * parameters, the marker (it depends on the offboarding Invocation), then the offboarding
     * Invocation's delete: the provider invokes the function with its input and
     * `tf: { action: "delete" }`. `replaceOnly`: the Invocation alone is replaced (the marker stays).
     */
    async destroy(opts: { replaceOnly?: boolean } = {}): Promise<unknown> {
        if (!opts.replaceOnly) {
            for (const name of [...this.endpoint.parameters.keys()]) if (name.startsWith(`${this.plan.accessPath}/`)) this.endpoint.deleteParameterDirect(name);
            this.endpoint.deleteParameterDirect(this.deployedMarker);
        }
        const input = JSON.parse(offboardInvocationInput(this.plan.fleetName));
        return this.lambda!.invoke({ ...input, tf: { action: "delete", prev_input: input } });
    }

    /** Follows the pipeline's effects: commands, results, pinned keys, dead letters. */
    private watch(): void {
        this.endpoint.on("agentOnline", (inst: { instanceId: string }) => {
            const h = this.byId.get(inst.instanceId);
            if (h) h.agentOnlineAt = Date.now();
        });
        this.endpoint.on("commandSent", (inv: { instanceId: string }) => {
            const h = this.byId.get(inv.instanceId);
            if (h && h.firstCommandAt === undefined) h.firstCommandAt = Date.now();
        });
        this.endpoint.on("invocation", (inv: { instanceId: string; status: string; documentName: string }) => {
            const h = this.byId.get(inv.instanceId);
            if (!h || inv.documentName !== this.documentName) return;
            if (inv.status === "Success") {
                h.provisionedAt ??= Date.now();
                h.lastSuccessAt = Date.now();
                if (this.opts.simulated || this.opts.login === false) h.result ??= "provisioned";
            } else if (inv.status === "Failed") {
                this.log(`  ${h.name} ${h.instanceId}: the document failed (the Lambda retries, then dead-letters)`);
            }
        });
        this.endpoint.on("parameter", (p: { name: string; value: string }) => {
            const prefix = `${this.plan.knownHostsPath}/`;
            if (!p.name.startsWith(prefix)) return;
            const h = this.byId.get(p.name.slice(prefix.length));
            if (!h) return;
            h.keysPinnedAt = Date.now();
            if (!this.opts.simulated && this.opts.login !== false && h.result !== "access" && !this.loggingIn.has(h)) {
                this.loggingIn.add(h);
                const job = this.checkAccess(h).finally(() => {
                    this.logins.delete(job);
                    this.loggingIn.delete(h);
                });
                this.logins.add(job);
            }
        });
        this.dlq.on("visible", () => this.readDeadLetters());
    }

    private readDeadLetters(): void {
        for (const m of this.dlq.peek()) {
            let id: string | undefined;
            let reason: string;
            try {
                const body = JSON.parse(m.body);
                if (typeof body.instanceId === "string" && typeof body.message === "string") {
                    id = body.instanceId;
                    reason = `${body.reason}: ${body.message}`;
                } else if (typeof body.instanceId === "string") {
                    id = body.instanceId;
                    reason = `${body.reason ?? "dead-lettered"}: ${body.status ?? ""} after ${body.attempts ?? "?"} attempts${body.stderrTail ? `: ${String(body.stderrTail).trim().split("\n").pop()}` : ""}`;
                } else {
                    id = body?.detail?.["instance-id"];
                    reason = `redrive: received ${m.receiveCount} times (${body?.["detail-type"] ?? "event"}) without success`;
                }
            } catch {
                continue;
            }
            const h = id ? this.byId.get(id) : undefined;
            if (!h || h.deadLetterReason) continue;
            h.deadLetterReason = reason;
            if (h.result !== "access") {
                h.result = "dead-lettered";
                h.detail = reason;
                this.log(`  ${h.name} ${h.instanceId}: dead-lettered: ${reason}`);
            }
        }
    }

    /** known_hosts built only from the parameters the Lambda wrote. */
    knownHostsFile(): string {
        const lines: string[] = [];
        const prefix = `${this.plan.knownHostsPath}/`;
        for (const [name, p] of this.endpoint.parameters) {
            if (!name.startsWith(prefix)) continue;
            const h = this.byId.get(name.slice(prefix.length));
            if (!h?.sandbox) continue;
            for (const key of p.value.split("\n").filter(Boolean)) lines.push(`[127.0.0.1]:${h.sandbox.port} ${key}`);
        }
        const file = path.join(this.workDir, "known_hosts");
        // Written beside and renamed into place: logins run concurrently, and an ssh reading the file
        // while another login rewrote it in place would see half of it (Host key verification failed).
        const tmp = `${file}.${randomBytes(4).toString("hex")}`;
        fs.writeFileSync(tmp, lines.join("\n") + "\n", { mode: 0o600 });
        fs.renameSync(tmp, file);
        return file;
    }

    /** Logs in from the central server's key (or `keyFile`) with the pinned known_hosts and runs `sudo -n true`. */
    async login(h: FleetHost, opts: { keyFile?: string; user?: string; command?: string } = {}): Promise<{ ok: boolean; output: string }> {
        if (!h.sandbox) throw new Error(`${h.name} is simulated: no sshd to log in to`);
        const r = await sshRun(h.sandbox, {
            user: opts.user ?? SERVICE_USER,
            identityFile: opts.keyFile ?? this.keyFile,
            knownHostsFile: this.knownHostsFile(),
            command: opts.command ?? "sudo -n true",
        });
        return { ok: r.code === 0, output: (r.stderr || r.stdout).trim() };
    }

    private async checkAccess(h: FleetHost): Promise<void> {
        if (this.stopped) return;
        const r = await this.login(h);
        if (r.ok) {
            h.accessAt ??= Date.now();
            h.result = "access";
            h.detail = undefined;
            this.log(`  ${h.name} ${h.instanceId}: ssh ${SERVICE_USER}@host 'sudo -n true' ok (${((h.accessAt - h.launchedAt!) / 1000).toFixed(1)} s after launch)`);
        } else {
            h.result = "denied";
            h.detail = r.output.split("\n").pop();
        }
    }

    /** Launches every host: EC2 says running now; each agent registers after agentDelayMs(index). */
    launchAll(spreadMs = 0): void {
        for (const h of this.hosts) {
            const delay = this.opts.agentDelayMs?.(h.index) ?? 0;
            const go = () => {
                if (this.stopped) return;
                h.launchedAt = Date.now();
                this.endpoint.launch(h.instanceId, delay);
            };
            if (spreadMs > 0) setTimeout(go, Math.floor((h.index / Math.max(1, this.hosts.length)) * spreadMs));
            else go();
        }
        this.log(`launched ${this.hosts.length} instances: EC2 "running" events on the bus${this.opts.agentDelayMs ? " (some agents register late)" : ""}`);
    }

    /** Sends the Provisioner's push event for the current spec (rotation, revocation, backfill). */
    push(reason: string): number {
        const at = Date.now();
        this.bus.put({ source: PUSH_SOURCE, detailType: PUSH_DETAIL_TYPE, detail: { fleet: this.plan.fleetName, reason, specHash: accessSpecHash(this.spec) } });
        return at;
    }

    /** Waits until every host has a result (access, dead-lettered, ...) or the deadline passes. */
    async settle(timeoutMs = 120_000, done: (h: FleetHost) => boolean = (h) => h.result === "access" || h.result === "dead-lettered" || h.result === "provisioned"): Promise<void> {
        const end = Date.now() + timeoutMs;
        let lastReport = 0;
        while (Date.now() < end && !this.stopped) {
            this.readDeadLetters();
            if (this.hosts.every(done)) break;
            if (Date.now() - lastReport > 5000 && !this.opts.simulated) {
                lastReport = Date.now();
                const ok = this.hosts.filter((h) => h.result === "access").length;
                this.log(`  ... ${ok}/${this.hosts.length} with access; queue ${this.queue.depth} messages (${this.queue.inFlight} in flight), DLQ ${this.dlq.depth}`);
            }
            await new Promise((r) => setTimeout(r, 50));
        }
        await Promise.allSettled([...this.logins]);
        for (const h of this.hosts) if (!done(h)) h.result ??= "timed out";
        for (const h of this.hosts) if (!done(h) && h.result !== "denied") h.result = "timed out";
    }

    /** Waits until every host that is not failing ran the current spec successfully after `since`. */
    async settlePush(since: number, timeoutMs = 60_000): Promise<void> {
        const end = Date.now() + timeoutMs;
        const failing = new Set(this.opts.failingHosts ?? []);
        while (Date.now() < end) {
            if (this.hosts.every((h) => failing.has(h.index) || (h.lastSuccessAt ?? 0) > since)) return;
            await new Promise((r) => setTimeout(r, 50));
        }
        const missing = this.hosts.filter((h) => !failing.has(h.index) && (h.lastSuccessAt ?? 0) <= since).map((h) => h.name);
        throw new Error(`the push did not reach ${missing.join(", ")} within ${timeoutMs} ms`);
    }

    lambdaLogs(): LambdaLogLine[] {
        return this.lambda?.logs ?? [];
    }

    get lambdaInvocations(): number {
        return this.lambda?.invocations ?? 0;
    }

    /** Tears everything down: queue polling, Lambda containers, endpoint, hosts, the work dir. Idempotent. */
    async stop(): Promise<void> {
        if (this.stopped) return;
        this.stopped = true;
        // Containers first: the mapping's loops then end with their invocations instead of waiting on them.
        this.lambda?.stop();
        await Promise.race([Promise.all(this.mappings.map((m) => m.stop())), new Promise((r) => setTimeout(r, 5000))]);
        if (this.ownsAccount) await this.account.stop();
        await Promise.allSettled(this.hosts.map((h) => h.sandbox?.stop()));
        fs.rmSync(this.workDir, { recursive: true, force: true });
        liveTempPaths.delete(this.workDir);
    }
}
