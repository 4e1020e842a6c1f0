/**
 * The Lambda's configuration, from its environment. Nothing secret lives here: the access spec is
 * read from Parameter Store at run time (it outgrows the 4 KB of Lambda environment), but only
 * with the hash the deploy pinned here, and AWS endpoints and credentials come from the SDK's
 * default resolution (AWS_ENDPOINT_URL_SSM etc. work).
 */
import { parameterPathsOverlap } from "../core/accessStore";

export interface ProvisionerConfig {
    /** PKA_DOCUMENT_NAME: the SSM Command document (name or ARN). */
    documentName: string;
    /** PKA_TARGET_TAG `key=value`: only instances carrying this tag are provisioned. */
    tagKey: string;
    tagValue: string;
    /** PKA_ACCESS_PARAMETER: the Parameter Store path holding the access spec chunks. */
    accessPath: string;
    /**
     * PKA_ACCESS_SPEC_SHA256: accessSpecHash of the spec the current deploy wrote (64 lower-case hex),
     * set by the Provisioner. The parameters are writable by more principals than the deploy; this
     * value changes only with the function's configuration, so a stored spec with another hash is
     * refused and never sent.
     */
    accessSpecSha256: string;
    /** PKA_KNOWN_HOSTS_PATH: host keys go to <path>/<instance-id>; unset: not written. */
    knownHostsPath?: string;
    /** PKA_DEAD_LETTER_QUEUE_URL: where instances that keep failing are reported; unset: logged only. */
    deadLetterQueueUrl?: string;
    /** PKA_MAX_ATTEMPTS: command runs per instance before it is dead-lettered (default 3). */
    maxAttempts: number;
    /** PKA_KEY_RULES: optional JSON of key-rule overrides the spec is validated with (same as the fleet's). */
    keyRules?: Record<string, unknown>;
    /** PKA_COMMAND_TIMEOUT_SECONDS: SendCommand TimeoutSeconds, the delivery deadline (default 600). */
    commandTimeoutSeconds: number;
    /**
     * PKA_DEPLOYED_MARKER: the parameter the Provisioner keeps while it is deployed (revokeOnDestroy).
     * The offboarding Invocation's delete revokes the fleet only once this parameter is gone; unset:
     * the function never revokes on a delete.
     */
    deployedMarker?: string;
    /**
     * PKA_QUEUE_URL: the provisioner's own queue. Instances whose agent is not online yet are
     * written back to it as one delayed wait message (core/events.ts WAIT_SOURCE) instead of
     * waiting out the visibility timeout; unset: their records are failed and redelivered.
     */
    queueUrl?: string;
    /**
     * PKA_WAIT_QUEUE_URL: the provisioner's wait queue, a FIFO queue whose messages all share one
     * message group, so they are taken by one invocation at a time: one aggregator looks at every
     * waiting instance and fills each SendCommand (core/provisionerDefaults.ts WAIT_HOLD_SECONDS).
     * Wait messages go there (the queue's own delay spaces the looks) instead of to PKA_QUEUE_URL.
     */
    waitQueueUrl?: string;
    /** PKA_AGENT_WAIT_SECONDS: how long after its first event an instance's agent may take to come online before it is dead-lettered (default 3600). */
    agentWaitSeconds: number;
}

export class ConfigError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ConfigError";
    }
}

const PATH_RE = /^\/[A-Za-z0-9_.\-/]+[^/]$/;

export function readConfig(env: Record<string, string | undefined>): ProvisionerConfig {
    const need = (k: string): string => {
        const v = env[k];
        if (!v || !v.trim()) throw new ConfigError(`environment variable ${k} is required`);
        return v.trim();
    };
    const documentName = need("PKA_DOCUMENT_NAME");
    const tag = need("PKA_TARGET_TAG");
    const eq = tag.indexOf("=");
    if (eq <= 0) throw new ConfigError(`PKA_TARGET_TAG must be key=value; got ${JSON.stringify(tag)}`);
    const accessPath = need("PKA_ACCESS_PARAMETER");
    if (!PATH_RE.test(accessPath)) throw new ConfigError(`PKA_ACCESS_PARAMETER must be a parameter path like /pka/<fleet>/access; got ${JSON.stringify(accessPath)}`);
    const pin = env.PKA_ACCESS_SPEC_SHA256?.trim();
    // Without a pin the Lambda would serve whatever the parameters hold: whoever can write them would grant access.
    if (!pin) {
        throw new ConfigError(
            "environment variable PKA_ACCESS_SPEC_SHA256 is required: the accessSpecHash of the spec the deploy wrote, set by the Provisioner component from its `accessSpecHash` input; without it no spec is served",
        );
    }
    if (!/^[0-9a-f]{64}$/.test(pin)) throw new ConfigError("PKA_ACCESS_SPEC_SHA256 must be 64 lower-case hex characters (the accessSpecHash the Provisioner sets)");
    const knownHostsPath = env.PKA_KNOWN_HOSTS_PATH?.trim() || undefined;
    if (knownHostsPath && !PATH_RE.test(knownHostsPath)) throw new ConfigError(`PKA_KNOWN_HOSTS_PATH must be a parameter path; got ${JSON.stringify(knownHostsPath)}`);
    if (knownHostsPath && parameterPathsOverlap(knownHostsPath, accessPath)) {
        throw new ConfigError(`PKA_KNOWN_HOSTS_PATH ${knownHostsPath} overlaps PKA_ACCESS_PARAMETER ${accessPath}: host keys would be written among the access spec chunks; use disjoint paths such as /pka/<fleet>/known_hosts and /pka/<fleet>/access`);
    }
    const int = (k: string, def: number, min: number, max: number): number => {
        const raw = env[k]?.trim();
        if (!raw) return def;
        const n = Number(raw);
        if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${k} must be an integer from ${min} to ${max}; got ${JSON.stringify(raw)}`);
        return n;
    };
    let keyRules: Record<string, unknown> | undefined;
    if (env.PKA_KEY_RULES?.trim()) {
        try {
            keyRules = JSON.parse(env.PKA_KEY_RULES);
        } catch {
            throw new ConfigError("PKA_KEY_RULES must be a JSON object of key rules");
        }
        if (typeof keyRules !== "object" || keyRules === null || Array.isArray(keyRules)) throw new ConfigError("PKA_KEY_RULES must be a JSON object of key rules");
    }
    const marker = (): string | undefined => {
        const m = env.PKA_DEPLOYED_MARKER?.trim() || undefined;
        if (m && !PATH_RE.test(m)) throw new ConfigError(`PKA_DEPLOYED_MARKER must be a parameter name like /pka/<fleet>/access-deployed; got ${JSON.stringify(m)}`);
        if (m && parameterPathsOverlap(m, accessPath)) throw new ConfigError(`PKA_DEPLOYED_MARKER ${m} overlaps PKA_ACCESS_PARAMETER ${accessPath}; the marker is a sibling of the access path`);
        return m;
    };
    const waitQueueUrl = (): string | undefined => {
        const u = env.PKA_WAIT_QUEUE_URL?.trim() || undefined;
        if (u && !/^https?:\/\/[^\s/]+\/\d{12}\/[A-Za-z0-9_-]{1,75}\.fifo$/.test(u)) {
            throw new ConfigError(`PKA_WAIT_QUEUE_URL must be the URL of an SQS FIFO queue like https://sqs.<region>.amazonaws.com/<account>/<name>.fifo; got ${JSON.stringify(u)}`);
        }
        return u;
    };
    const queueUrl = (): string | undefined => {
        const u = env.PKA_QUEUE_URL?.trim() || undefined;
        if (u && !/^https?:\/\/[^\s/]+\/\d{12}\/[A-Za-z0-9_-]{1,80}$/.test(u)) throw new ConfigError(`PKA_QUEUE_URL must be an SQS queue URL like https://sqs.<region>.amazonaws.com/<account>/<name>; got ${JSON.stringify(u)}`);
        return u;
    };
    return {
        documentName,
        tagKey: tag.slice(0, eq),
        tagValue: tag.slice(eq + 1),
        accessPath,
        accessSpecSha256: pin,
        knownHostsPath,
        deadLetterQueueUrl: env.PKA_DEAD_LETTER_QUEUE_URL?.trim() || undefined,
        maxAttempts: int("PKA_MAX_ATTEMPTS", 3, 1, 20),
        keyRules,
        commandTimeoutSeconds: int("PKA_COMMAND_TIMEOUT_SECONDS", 600, 30, 2592000),
        deployedMarker: marker(),
        queueUrl: queueUrl(),
        waitQueueUrl: waitQueueUrl(),
        agentWaitSeconds: int("PKA_AGENT_WAIT_SECONDS", 3600, 60, 43200),
    };
}
