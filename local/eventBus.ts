/**
 * A local EventBridge bus: events are stamped the way EventBridge stamps them (version, id,
 * account, time, region), matched against each rule's pattern with the project's own matcher
 * (the same patterns the Provisioner deploys), and delivered to the rules' SQS targets as the
 * event JSON, which is what an SQS target of a real rule receives.
 */
import { randomUUID } from "crypto";
import { matchesPattern } from "../core/eventPattern";
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from "./awsAccount";
import type { LocalQueue } from "./queue";

export interface EventBridgeEvent {
    version: "0";
    id: string;
    "detail-type": string;
    source: string;
    account: string;
    time: string;
    region: string;
    resources: string[];
    detail: Record<string, unknown>;
}

/** What PutEvents takes (one entry). */
export interface PutEventEntry {
    source: string;
    detailType: string;
    detail: Record<string, unknown>;
    resources?: string[];
    time?: Date;
}

export interface BusRule {
    readonly name: string;
    readonly pattern: object;
    readonly target: LocalQueue;
}

export interface Delivery {
    event: EventBridgeEvent;
    /** Names of the rules that matched (and whose target got the event). */
    matched: string[];
}

export class LocalEventBus {
    private readonly rules: BusRule[] = [];
    readonly stats = { put: 0, delivered: 0, unmatched: 0 };
    private readonly history: Delivery[] = [];

    constructor(readonly name = "default") {}

    addRule(name: string, pattern: object, target: LocalQueue): void {
        if (this.rules.some((r) => r.name === name)) throw new Error(`rule ${name} already exists on bus ${this.name}`);
        if (!pattern || typeof pattern !== "object" || Object.keys(pattern).length === 0) {
            throw new Error(`rule ${name}: an event pattern must be a non-empty object`);
        }
        this.rules.push({ name, pattern, target });
    }

    /** The rules on the bus, in the order they were added. */
    listRules(): readonly BusRule[] {
        return this.rules.slice();
    }

    /** PutEvents with one entry (or an event AWS itself emits). */
    put(entry: PutEventEntry): Delivery {
        const event: EventBridgeEvent = {
            version: "0",
            id: randomUUID(),
            "detail-type": entry.detailType,
            source: entry.source,
            account: LOCAL_ACCOUNT_ID,
            // EventBridge stamps whole seconds: "2019-11-12T21:36:03Z".
            time: (entry.time ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z"),
            region: LOCAL_REGION,
            resources: entry.resources ?? [],
            detail: entry.detail,
        };
        return this.deliver(event);
    }

    /** Routes an already-stamped event (used to replay recorded AWS events). */
    deliver(event: EventBridgeEvent): Delivery {
        this.stats.put++;
        const matched: string[] = [];
        for (const rule of this.rules) {
            if (matchesPattern(rule.pattern, event)) {
                matched.push(rule.name);
                rule.target.send(JSON.stringify(event));
                this.stats.delivered++;
            }
        }
        if (matched.length === 0) this.stats.unmatched++;
        const delivery = { event, matched };
        this.history.push(delivery);
        return delivery;
    }

    deliveries(): Delivery[] {
        return this.history.slice();
    }
}
