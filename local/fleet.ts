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
 *
 * This file is the fleet itself; what it is made of: local/fleetPlan.ts (options, names, PkaFleet's
 * plan, the Lambda's environment), local/provisioner.ts (settings, queues, mappings, rules),
 * local/lambdaPool.ts, local/fleetHosts.ts, local/fleetTracker.ts (following each host, the logins),
 * local/localAccount.ts.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AccessSpec, accessSpecHash, canonicalAccessSpecJson } from "../core/accessSpec";
import { splitAccessSpec } from "../core/accessStore";
import { renderDocument } from "../core/document";
import { offboardInvocationInput, PUSH_DETAIL_TYPE, PUSH_SOURCE } from "../core/events";
import type { FleetPlan } from "../core/fleetPlanTypes";
import { buildAccessSpec } from "../core/fleetSpec";
import type { SsmDocument } from "./endpoint/documents";
import type { LocalEventBus } from "./eventBus";
import type { EventSourceMapping } from "./eventSourceMapping";
import { FleetHost, startFleetHost } from "./fleetHosts";
import { FleetTracker } from "./fleetTracker";
import {
    centralServerKey,
    DOCUMENT_NAME,
    lambdaAccessKeyId,
    LocalFleetOptions,
    planLocal,
    provisionerLambdaEnvironment,
} from "./fleetPlan";
import { LambdaLogLine, LambdaPool } from "./lambdaPool";
import { LocalAccount } from "./localAccount";
import {
    addProvisionerRules,
    LocalProvisionerConfig,
    localProvisionerConfig,
    provisionerMappings,
    provisionerQueues,
} from "./provisioner";
import type { LocalQueue } from "./queue";
import type { LocalSsmEndpoint } from "./ssmEndpoint";
import { trackTemp, untrackTemp } from "./tempPaths";
import { LocalUserCa, localUserCa } from "./fleetCerts";

// What the tests and `pka local-fleet` import from here.
export type { FleetHost } from "./fleetHosts";
export { DOCUMENT_NAME, SERVICE_USER } from "./fleetPlan";
export { LocalAccount } from "./localAccount";
export { packageRoot } from "./packageRoot";
export { addProvisionerRules, localProvisionerConfig } from "./provisioner";
export { percentile } from "./stats";

export class LocalFleet {
    readonly opts: LocalFleetOptions;
    /** The provisioner settings this fleet runs (the deployed defaults unless overridden). */
    readonly config: LocalProvisionerConfig;
    readonly plan: FleetPlan;
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
    /** Certificate mode (opts.certificates): the fleet's user CA and an operator's key. */
    readonly userCa?: LocalUserCa;
    /** Which code built the spec: PkaFleet's planFleet/buildAccessSpec, or validateAccessSpec when the component cannot load. */
    readonly specSource: string;
    private mappings: EventSourceMapping[] = [];
    private lambda?: LambdaPool;
    private readonly tracker: FleetTracker;
    private readonly log: (line: string) => void;
    private stopped = false;

    private constructor(opts: LocalFleetOptions) {
        this.opts = opts;
        this.log = opts.log ?? (() => undefined);
        this.workDir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-local-fleet-"));
        trackTemp(this.workDir);
        fs.chmodSync(this.workDir, 0o700);
        this.plan = planLocal(opts);
        const key = centralServerKey(this.workDir, this.plan);
        this.keyFile = key.keyFile;
        this.publicKey = key.publicKey;
        this.privateKey = key.privateKey;
        this.userCa = opts.certificates ? localUserCa(this.workDir, this.plan.fleetName) : undefined;
        const certificates = this.userCa ? { userCaKeys: [this.userCa.publicKey] } : undefined;
        this.spec = buildAccessSpec(this.plan, [[key.publicKey]], certificates);
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
        this.accessKeyId = lambdaAccessKeyId(this.plan.fleetName);
        (this.endpoint.knobs.requiredTagByAccessKey ??= {})[this.accessKeyId] = this.plan.tag;
        this.documentName = opts.documentName ?? DOCUMENT_NAME;
        // The rules the Provisioner deploys, with its exact patterns (each fleet's own, on the account's bus).
        addProvisionerRules(
            this.bus,
            this.queue,
            this.documentName,
            this.plan.fleetName,
            this.ownsAccount ? "" : `${this.plan.fleetName}-`,
        );
        this.tracker = new FleetTracker({
            endpoint: this.endpoint,
            dlq: this.dlq,
            documentName: this.documentName,
            knownHostsPath: this.plan.knownHostsPath,
            keyFile: this.keyFile,
            workDir: this.workDir,
            loginOnPin: !opts.simulated && opts.login !== false,
            log: this.log,
            stopped: () => this.stopped,
        });
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

    /** The function's environment: the endpoint's, this fleet's access key, and the Provisioner's PKA_* variables. */
    private lambdaEnvironment(): Record<string, string> {
        return {
            ...this.endpoint.lambdaEnv(),
            AWS_ACCESS_KEY_ID: this.accessKeyId,
            ...provisionerLambdaEnvironment({
                plan: this.plan,
                spec: this.spec,
                config: this.config,
                documentName: this.documentName,
                deployedMarker: this.deployedMarker,
                queueUrl: this.queue.url,
                waitQueueUrl: this.waitQueue.url,
                deadLetterQueueUrl: this.dlq.url,
            }),
            AWS_LAMBDA_FUNCTION_NAME: "pka-fleet-provisioner",
            POWERTOOLS_LOG_LEVEL: "INFO",
        };
    }

    private async setup(): Promise<void> {
        const n = this.opts.hosts ?? 5;
        this.throwIfAborted();
        await this.account.start();
        this.endpoint.addDocument(this.documentName, renderDocument() as SsmDocument);
        this.storeSpec(this.spec);
        this.endpoint.putParameterDirect(
            this.deployedMarker,
            `pka-fleet ${this.plan.fleetName}: the provisioner is deployed`,
        );
        this.tracker.watch();

        const env = this.lambdaEnvironment();
        // The queue's mapping runs up to lambdaConcurrency batches and the wait queue's one more (its one message group).
        this.lambda = new LambdaPool(env, this.config.lambdaConcurrency + 1, this.config.functionTimeoutMs);
        await this.lambda.start();
        this.mappings = provisionerMappings(
            { dlq: this.dlq, queue: this.queue, waitDlq: this.waitDlq, waitQueue: this.waitQueue },
            (e) => this.lambda!.invoke(e),
            this.config,
        );
        for (const m of this.mappings) m.start();

        this.throwIfAborted();
        if (!this.opts.simulated) this.log(`starting ${n} hosts (real sshd, one mount+pid namespace each)`);
        const context = {
            opts: this.opts,
            endpoint: this.endpoint,
            tag: this.plan.tag,
            throwIfAborted: () => this.throwIfAborted(),
        };
        const started = await Promise.allSettled(
            Array.from({ length: n }, (_, index) => startFleetHost(context, index)),
        );
        for (const r of started) if (r.status === "fulfilled") this.hosts.push(r.value);
        this.hosts.sort((a, b) => a.index - b.index);
        for (const h of this.hosts) this.tracker.byId.set(h.instanceId, h);
        const failed = started.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
        if (failed) throw failed.reason;
    }

    /**
     * Writes the spec's parameters only, chunked under the access path as PkaFleet does: what anyone
     * with ssm:PutParameter there can do. The Lambda serves it only after deploySpec pins it.
     */
    storeSpec(spec: AccessSpec, modifiedAt?: number): void {
        const json = canonicalAccessSpecJson(spec);
        for (const p of splitAccessSpec(json, this.plan.accessPath))
            this.endpoint.putParameterDirect(p.name, p.value, "String", modifiedAt);
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
            for (const name of [...this.endpoint.parameters.keys()])
                if (name.startsWith(`${this.plan.accessPath}/`)) this.endpoint.deleteParameterDirect(name);
            this.endpoint.deleteParameterDirect(this.deployedMarker);
        }
        const input = JSON.parse(offboardInvocationInput(this.plan.fleetName));
        return this.lambda!.invoke({ ...input, tf: { action: "delete", prev_input: input } });
    }

    /** known_hosts built only from the parameters the Lambda wrote. */
    knownHostsFile(): string {
        return this.tracker.knownHostsFile();
    }

    /** Logs in from the central server's key (or `keyFile`, with `certFile` its certificate) with the pinned known_hosts and runs `sudo -n true`. */
    login(
        h: FleetHost,
        opts: { keyFile?: string; user?: string; command?: string; certFile?: string } = {},
    ): Promise<{ ok: boolean; output: string }> {
        return this.tracker.login(h, opts);
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
        this.log(
            `launched ${this.hosts.length} instances: EC2 "running" events on the bus${this.opts.agentDelayMs ? " (some agents register late)" : ""}`,
        );
    }

    /** Sends the Provisioner's push event for the current spec (rotation, revocation, backfill). */
    push(reason: string): number {
        const at = Date.now();
        this.bus.put({
            source: PUSH_SOURCE,
            detailType: PUSH_DETAIL_TYPE,
            detail: { fleet: this.plan.fleetName, reason, specHash: accessSpecHash(this.spec) },
        });
        return at;
    }

    /** Waits until every host has a result (access, dead-lettered, ...) or the deadline passes. */
    async settle(
        timeoutMs = 120_000,
        done: (h: FleetHost) => boolean = (h) =>
            h.result === "access" || h.result === "dead-lettered" || h.result === "provisioned",
    ): Promise<void> {
        const end = Date.now() + timeoutMs;
        let lastReport = 0;
        while (Date.now() < end && !this.stopped) {
            this.tracker.readDeadLetters();
            if (this.hosts.every(done)) break;
            if (Date.now() - lastReport > 5000 && !this.opts.simulated) {
                lastReport = Date.now();
                const ok = this.hosts.filter((h) => h.result === "access").length;
                this.log(
                    `  ... ${ok}/${this.hosts.length} with access; queue ${this.queue.depth} messages (${this.queue.inFlight} in flight), DLQ ${this.dlq.depth}`,
                );
            }
            await new Promise((r) => setTimeout(r, 50));
        }
        await this.tracker.loginsSettled();
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
        const missing = this.hosts
            .filter((h) => !failing.has(h.index) && (h.lastSuccessAt ?? 0) <= since)
            .map((h) => h.name);
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
        untrackTemp(this.workDir);
    }
}
