/**
 * What the local endpoint's operations share: the account's instances, documents, parameters,
 * invocations and queues, the knobs, the counters, and the endpoint's own clockwork (its timers and
 * the document runs in flight, both ended by close()).
 */
import { LocalKms } from "../fake/kms";
import type { EventEmitter } from "events";
import { TokenBucketState } from "../awsErrors";
import type { LocalEventBus, PutEventEntry } from "../eventBus";
import type { LocalQueue } from "../queue";
import { AWS_RUN_SHELL_SCRIPT, SsmDocument } from "./documents";
import { EndpointKnobs, EndpointStats, Invocation, LocalInstance, Parameter } from "./types";

export class EndpointState {
    readonly instances = new Map<string, LocalInstance>();
    readonly documents = new Map<string, SsmDocument>([["AWS-RunShellScript", AWS_RUN_SHELL_SCRIPT]]);
    readonly parameters = new Map<string, Parameter>();
    /** The account's KMS (the host CA's key). */
    readonly kms = new LocalKms();
    /** Keyed `<commandId>/<instanceId>`. */
    readonly invocations = new Map<string, Invocation>();
    readonly queues = new Map<string, LocalQueue>();
    readonly stats: EndpointStats = { calls: {}, throttled: {}, errors: {}, sendCommandInstances: [] };
    /** Every request as decoded off the wire (service, operation, input in the SDK's shape), for the conformance test. */
    readonly requests: { service: string; action: string; input: Record<string, unknown> }[] = [];
    /** One token bucket per action (AWS throttles each API separately). */
    readonly buckets = new Map<string, TokenBucketState>();
    private readonly timers = new Set<NodeJS.Timeout>();
    private readonly running = new Set<Promise<void>>();
    private ended = false;

    constructor(
        readonly knobs: EndpointKnobs,
        /** The endpoint, whose listeners follow what happens ("launched", "agentOnline", "commandSent", "invocation", "parameter", "throttled"). */
        readonly events: EventEmitter,
        private readonly bus?: LocalEventBus,
    ) {}

    get closed(): boolean {
        return this.ended;
    }

    /** An event AWS itself emits, onto the account's bus. */
    emitAws(entry: PutEventEntry): void {
        this.bus?.put(entry);
    }

    /** Runs `f` after `ms` unless the endpoint has closed by then. */
    later(ms: number, f: () => void): void {
        if (this.ended) return;
        const t = setTimeout(
            () => {
                this.timers.delete(t);
                if (!this.ended) f();
            },
            Math.max(0, ms),
        );
        this.timers.add(t);
    }

    /** Work that close() waits for (a document run). */
    track(work: Promise<void>): void {
        this.running.add(work);
        void work.finally(() => this.running.delete(work));
    }

    /** No timer fires any more; resolves when the work in flight has ended. */
    async close(): Promise<void> {
        this.ended = true;
        for (const t of this.timers) clearTimeout(t);
        this.timers.clear();
        await Promise.allSettled([...this.running]);
    }

    /** The instance's SSM agent answers pings. */
    isOnline(inst: LocalInstance): boolean {
        return inst.state === "running" && inst.agentOnlineAt !== undefined && inst.agentOnlineAt <= Date.now();
    }

    instance(id: string): LocalInstance {
        const inst = this.instances.get(id);
        if (!inst) throw new Error(`no local instance ${id}`);
        return inst;
    }

    count(m: Record<string, number>, k: string): void {
        m[k] = (m[k] ?? 0) + 1;
    }
}
