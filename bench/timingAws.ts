/**
 * The simulated AWS a timing run launches into (bench/timing.ts): the local endpoint's SSM, EC2 and
 * SQS with 10 requests/s per API, the EventBridge bus with the Provisioner's rules, its queues and
 * event source mappings, the SDK's clients through the in-process handler, the real bundled Lambda
 * under its function deadline, and the fleet's instances (each document run 0.6-1.0 s, printing
 * host keys). Nothing here runs until the caller's fake clock moves and it launches the instances.
 */
import { EC2Client } from "@aws-sdk/client-ec2";
import { SQSClient } from "@aws-sdk/client-sqs";
import { SSMClient } from "@aws-sdk/client-ssm";
import { accessSpecHash, validateAccessSpec } from "../core/accessSpec";
import { canonicalAccessSpecJson } from "../core/accessSpec";
import { splitAccessSpec } from "../core/accessStore";
import { renderDocument } from "../core/document";
import type { SsmDocument } from "../local/endpoint/documents";
import { LocalEventBus } from "../local/eventBus";
import {
    addProvisionerRules,
    LocalProvisionerConfig,
    provisionerMappings,
    provisionerQueues,
} from "../local/provisioner";
import type { SqsEvent } from "../local/sqsRecords";
import { LocalSsmEndpoint } from "../local/ssmEndpoint";
import { inProcessRequestHandler } from "../local/wire/server";

export interface TimingOptions {
    instances: number;
    /** The bundle to run (bin/lambda/provisioner.js or the previous design's). */
    bundle: string;
    /** Agents register uniformly in [agentMinMs, agentMaxMs] after "running". Default 15-120 s. */
    agentMinMs?: number;
    agentMaxMs?: number;
    /** Launches spread over this window (ms). Default 10 s. */
    launchWindowMs?: number;
    /** Host indexes whose agent never registers (they must end in the DLQ with a reason). */
    neverOnline?: number[];
    /** Requests/s per API. Default 10. */
    ratePerSecond?: number;
    /** The provisioner configuration (default: what a Provisioner deploys). */
    config?: LocalProvisionerConfig;
    /** Give up after this much virtual time (ms). Default 3 h. */
    horizonMs?: number;
    seed?: number;
    /** Leave PKA_WAIT_QUEUE_URL and PKA_QUEUE_URL unset: a record whose agent is not online is failed and redelivered after the visibility timeout. */
    withoutWaitMessages?: boolean;
    /** Wait messages on the standard queue (PKA_QUEUE_URL, per-message delays), as before the wait queue: no single aggregator. */
    standardWaitMessages?: boolean;
}

/** The APIs the Lambda calls that are throttled in the model (the endpoint's keys: SSM actions by name, others prefixed). */
const THROTTLED_ACTIONS = [
    "SendCommand",
    "GetCommandInvocation",
    "ListCommandInvocations",
    "DescribeInstanceInformation",
    "GetParametersByPath",
    "GetParameters",
    "GetParameter",
    "PutParameter",
    "ec2:DescribeInstances",
];

const HOST_KEYS =
    "PKA-HOSTKEY ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqVYzTm6vTuoU0c7YbM6yZCg6rJ8q0kYt3DNt2mO8Yw\n" +
    "PKA-HOSTKEY ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WsHFVUGUlUtsdw=\n";

/** The simulated AWS of one launch, set up and not yet started. */
export interface SimulatedProvisioner {
    endpoint: LocalSsmEndpoint;
    queues: ReturnType<typeof provisionerQueues>;
    dlq: ReturnType<typeof provisionerQueues>["dlq"];
    queue: ReturnType<typeof provisionerQueues>["queue"];
    mappings: ReturnType<typeof provisionerMappings>;
    /** The fleet's instance ids, in launch-schedule order. */
    ids: string[];
    /** The Lambda's log lines by level and message, counted, and the invocations and records by queue. */
    logCounts: Record<string, number>;
    invocations(): number;
}

/** Sets up the scenario's simulated AWS (on the caller's installed fake clock): `o.instances` instances, none launched yet. */
export function simulatedProvisioner(
    o: TimingOptions,
    cfg: LocalProvisionerConfig,
    rnd: () => number,
): SimulatedProvisioner {
    const n = o.instances;
    const tag = { key: "pka-fleet", value: "timing" };
    const bus = new LocalEventBus();
    const endpoint = new LocalSsmEndpoint({
        bus,
        knobs: {
            // Every SSM and EC2 API; SQS standard queues have nearly unlimited throughput (Amazon SQS Developer Guide, "Amazon SQS quotas").
            throttle: { ratePerSecond: o.ratePerSecond ?? 10, actions: THROTTLED_ACTIONS },
            requiredTag: tag,
            agentPickupMs: () => 500 + Math.floor(rnd() * 1500),
        },
    });
    const documentName = "pka-fleet-timing-setup";
    endpoint.addDocument(documentName, renderDocument() as SsmDocument);
    const spec = validateAccessSpec({
        users: [
            {
                name: "svc_user",
                sudo: "nopasswd",
                keys: [
                    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqVYzTm6vTuoU0c7YbM6yZCg6rJ8q0kYt3DNt2mO8Yw svc_user@pka-timing",
                ],
            },
        ],
    });
    const accessPath = "/pka/timing/access";
    for (const p of splitAccessSpec(canonicalAccessSpecJson(spec), accessPath))
        endpoint.putParameterDirect(p.name, p.value);
    const queues = provisionerQueues("timing-provisioner", cfg);
    const { dlq, queue } = queues;
    for (const q of Object.values(queues)) endpoint.addQueue(q);
    addProvisionerRules(bus, queue, documentName, "timing");

    const requestHandler = inProcessRequestHandler(endpoint.handlerTable());
    const common = {
        region: "us-east-1",
        endpoint: "http://in-process.local",
        maxAttempts: 1,
        credentials: { accessKeyId: "AKIDTIMING", secretAccessKey: "timing" },
        requestHandler,
    };
    const ssm = new SSMClient(common);
    const sqs = new SQSClient({ ...common, useQueueUrlAsEndpoint: false });
    const ec2 = new EC2Client(common);
    const env: Record<string, string> = {
        PKA_DOCUMENT_NAME: documentName,
        PKA_TARGET_TAG: `${tag.key}=${tag.value}`,
        PKA_ACCESS_PARAMETER: accessPath,
        PKA_ACCESS_SPEC_SHA256: accessSpecHash(spec),
        PKA_KNOWN_HOSTS_PATH: "/pka/timing/known_hosts",
        PKA_DEAD_LETTER_QUEUE_URL: dlq.url,
        PKA_MAX_ATTEMPTS: String(cfg.maxAttempts),
        ...(o.withoutWaitMessages
            ? {}
            : o.standardWaitMessages
              ? { PKA_QUEUE_URL: queue.url }
              : { PKA_WAIT_QUEUE_URL: queues.waitQueue.url, PKA_QUEUE_URL: queue.url }),
        PKA_AGENT_WAIT_SECONDS: String(cfg.agentWaitSeconds),
        AWS_REGION: "us-east-1",
    };
    const mod = require(o.bundle) as {
        createHandler: (deps: Record<string, unknown>) => (e: unknown, c: unknown) => Promise<unknown>;
    };
    const logCounts: Record<string, number> = {};
    const count = (level: string) => (m: string, x?: Record<string, unknown>) => {
        const k = `${level} ${m}${x && typeof x.why === "string" ? `: ${x.why}` : ""}`;
        logCounts[k] = (logCounts[k] ?? 0) + 1;
        // The batches' own counters, summed (held, waiting, notReady, ...).
        if (m === "batch done" && x)
            for (const [f, v] of Object.entries(x))
                if (typeof v === "number" && v > 0) logCounts[`batch ${f}`] = (logCounts[`batch ${f}`] ?? 0) + v;
    };
    const quiet = { debug() {}, info: count("info"), warn: count("warn"), error: count("error") };
    const handler = mod.createHandler({
        ssm,
        sqs,
        ec2: async () => ec2,
        env,
        log: quiet,
        random: rnd,
        sleep: (ms: number) => new Promise((r) => setTimeout(r, ms)),
    });
    let invocations = 0;
    // The function's deadline, as Lambda enforces it: past it the batch fails (its records come back after the visibility timeout).
    const invoke = (event: SqsEvent): Promise<unknown> => {
        invocations++;
        const from = event.Records[0]?.eventSourceARN.split(":").pop() ?? "?";
        logCounts[`invocations from ${from}`] = (logCounts[`invocations from ${from}`] ?? 0) + 1;
        logCounts[`records from ${from}`] = (logCounts[`records from ${from}`] ?? 0) + event.Records.length;
        const deadline = Date.now() + cfg.functionTimeoutMs;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error("Task timed out")), cfg.functionTimeoutMs);
        });
        return Promise.race([
            handler(event, { getRemainingTimeInMillis: () => deadline - Date.now() }),
            timeout,
        ]).finally(() => clearTimeout(timer));
    };
    const mappings = provisionerMappings(queues, invoke, cfg);

    // The fleet.
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
        const inst = endpoint.addInstance({
            instanceId: `i-${(0x1000000000000 + i).toString(16).padStart(17, "0")}`,
            tags: { [tag.key]: tag.value },
            runner: async () => {
                await new Promise((r) => setTimeout(r, 600 + Math.floor(rnd() * 400)));
                return { exitCode: 0, stdout: `PKA-OK\n${HOST_KEYS}`, stderr: "" };
            },
        });
        ids.push(inst.instanceId);
    }
    return { endpoint, queues, dlq, queue, mappings, ids, logCounts, invocations: () => invocations };
}
