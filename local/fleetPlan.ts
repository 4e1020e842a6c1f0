/**
 * What a local fleet is: its options, its names, PkaFleet's plan for it (the same code path as
 * PkaFleet: args -> planFleet -> buildAccessSpec), and the environment its provisioner Lambda runs
 * with, as components/Provisioner.ts configures the function.
 */
import * as fs from "fs";
import * as path from "path";
import { AccessSpec, accessSpecHash } from "../core/accessSpec";
import { generateKey } from "../core/keygen";
import { planFleet } from "../core/fleetPlan";
import type { FleetPlan } from "../core/fleetPlanTypes";
import { lambdaEnvironment } from "../core/lambdaConfig";
import type { LocalAccount } from "./localAccount";
import type { LocalProvisionerConfig } from "./provisioner";
import type { EndpointKnobs } from "./endpoint/types";

export const DOCUMENT_NAME = "pka-fleet-local-setup";
export const SERVICE_USER = "svc_user";
/** The fleet name of a local fleet that names none. */
export const DEFAULT_FLEET_NAME = "local";

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
    /** Certificate mode: the fleet trusts a user CA of its own (workDir/user_ca), as PkaFleet's `certificates` does. */
    certificates?: boolean;
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

/**
 * PkaFleet's plan for the local fleet: the central server's service account with a key PkaFleet
 * generates (its private half is the stack's `privateKeys.svc_user`). With `stack`, the fleet name
 * is PkaFleet's default for `new PkaFleet(resourceName, ...)` in that stack; else `fleetName`.
 */
export function planLocal(opts: LocalFleetOptions): FleetPlan {
    const users = [
        { name: SERVICE_USER, sudo: "nopasswd" as const, service: true, generateKey: { keyType: "ed25519" as const } },
    ];
    if (opts.stack !== undefined) return planFleet(opts.resourceName ?? "web", { users }, opts.stack);
    const fleetName = opts.fleetName ?? DEFAULT_FLEET_NAME;
    // The stack matters only to a default fleet name; this one is given.
    return planFleet(fleetName, { fleetName, users }, "");
}

/**
 * The central server's key: an unencrypted service key, as a non-interactive central server uses,
 * the one SshKeyPair would generate, with the comment PkaFleet gives it; its private half is
 * written to `<workDir>/central_ed25519` (mode 600).
 */
export function centralServerKey(
    workDir: string,
    plan: FleetPlan,
): { keyFile: string; publicKey: string; privateKey: string } {
    const key = generateKey({ type: "ed25519", comment: `${SERVICE_USER}@pka-${plan.fleetName}` });
    const keyFile = path.join(workDir, "central_ed25519");
    fs.writeFileSync(keyFile, key.privateKey, { mode: 0o600 });
    return { keyFile, publicKey: key.publicKey, privateKey: key.privateKey };
}

/** The access key the fleet's Lambda signs with: it stands for the fleet's role (the endpoint applies that role's IAM tag condition). */
export function lambdaAccessKeyId(fleetName: string): string {
    return `AKIDLOCAL${fleetName.replace(/[^a-z0-9]/g, "").toUpperCase()}`.slice(0, 20);
}

/** What the local fleet's Lambda environment is built from. */
export interface LambdaEnvironmentInputs {
    plan: FleetPlan;
    spec: AccessSpec;
    config: LocalProvisionerConfig;
    documentName: string;
    deployedMarker: string;
    queueUrl: string;
    waitQueueUrl: string;
    deadLetterQueueUrl: string;
}

/** The `PKA_*` environment the Provisioner gives its function (core/lambdaConfig.ts lambdaEnvironment), for the local fleet's resources. */
export function provisionerLambdaEnvironment(i: LambdaEnvironmentInputs): Record<string, string> {
    return lambdaEnvironment({
        documentName: i.documentName,
        tagKey: i.plan.tag.key,
        tagValue: i.plan.tag.value,
        accessPath: i.plan.accessPath,
        // The Provisioner's deployed marker (revokeOnDestroy): destroy() deletes it, then runs the offboarding.
        deployedMarker: i.deployedMarker,
        // What the Provisioner pins: the Lambda serves only this spec.
        accessSpecSha256: accessSpecHash(i.spec),
        knownHostsPath: i.plan.knownHostsPath,
        deadLetterQueueUrl: i.deadLetterQueueUrl,
        maxAttempts: i.config.maxAttempts,
        waitQueueUrl: i.waitQueueUrl,
        queueUrl: i.queueUrl,
        agentWaitSeconds: i.config.agentWaitSeconds,
    });
}
