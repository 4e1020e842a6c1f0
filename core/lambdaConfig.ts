/**
 * The provisioner Lambda's configuration: the `PKA_*` environment variables, the contract between
 * whoever deploys the function (the Provisioner component, the local fleet) and the function
 * itself. `lambdaEnvironment` is its one writer, `readConfig` its one reader.
 *
 * Nothing secret lives here: the access spec is read from Parameter Store at run time (it
 * outgrows the 4 KB of Lambda environment), but only with the hash the deploy pinned here, and AWS
 * endpoints and credentials come from the SDK's default resolution (AWS_ENDPOINT_URL_SSM etc. work).
 */
import { isParameterPath, parameterPathsOverlap } from "./accessStore";
import { isKmsCaKeyLine, KMS_KEY_ARN } from "./certAuthorityKms";
import type { KeyRules } from "./keys/types";

/** What a deploy sets; the settings with a default may be left out (lambdaEnvironment omits them). */
export interface LambdaSettings {
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
    maxAttempts?: number;
    /** PKA_KEY_RULES: optional JSON of key-rule overrides the spec is validated with (same as the fleet's). */
    keyRules?: Partial<KeyRules>;
    /** PKA_COMMAND_TIMEOUT_SECONDS: SendCommand TimeoutSeconds, the delivery deadline (default 600). */
    commandTimeoutSeconds?: number;
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
    agentWaitSeconds?: number;
    /** Host certificates (PKA_HOST_CERT_*): all set, or none. Needs knownHostsPath (the pinned keys are what it signs). */
    hostCertificates?: HostCertificateSettings;
}

/** What the provisioner signs host certificates with, and where they go. Nothing here is secret: the CA's private key stays in KMS. */
export interface HostCertificateSettings {
    /** PKA_HOST_CERT_DOCUMENT: the host-certificate Command document (name or ARN). */
    documentName: string;
    /** PKA_HOST_CA_KMS_KEY: the host CA's KMS key (ARN); the function's role signs with it through a grant. */
    kmsKeyArn: string;
    /** PKA_HOST_CA_PUBLIC_KEY: the CA's public key line (`ecdsa-sha2-nistp256 AAAA...`), what the certificates name as signer. */
    caPublicKey: string;
    /** PKA_HOST_CERT_PATH: each host's certificate is recorded in <path>/<instance-id> (read to renew only when due). */
    path: string;
    /** PKA_HOST_CERT_VALIDITY_SECONDS: how long a certificate is valid (default 30 days); renewed when less than half is left. */
    validitySeconds?: number;
}

/** The configuration as the Lambda reads it: every setting with a default is resolved. */
export interface ProvisionerConfig extends Omit<LambdaSettings, "hostCertificates"> {
    maxAttempts: number;
    commandTimeoutSeconds: number;
    agentWaitSeconds: number;
    hostCertificates?: HostCertificateSettings & { validitySeconds: number };
}

/** The default and the bounds of PKA_HOST_CERT_VALIDITY_SECONDS: 30 days; 1 hour to 400 days (the policy pack's host bound). */
export const HOST_CERT_VALIDITY = { default: 30 * 86400, min: 3600, max: 400 * 86400 } as const;

export class ConfigError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ConfigError";
    }
}

/** The `PKA_*` variables for `s`, the only writer of what readConfig reads; a setting left unset is omitted. */
export function lambdaEnvironment(s: LambdaSettings): Record<string, string> {
    const env: Record<string, string> = {
        PKA_DOCUMENT_NAME: s.documentName,
        PKA_TARGET_TAG: `${s.tagKey}=${s.tagValue}`,
        PKA_ACCESS_PARAMETER: s.accessPath,
        PKA_ACCESS_SPEC_SHA256: s.accessSpecSha256,
    };
    const optional: [string, string | number | undefined][] = [
        ["PKA_KNOWN_HOSTS_PATH", s.knownHostsPath],
        ["PKA_DEAD_LETTER_QUEUE_URL", s.deadLetterQueueUrl],
        ["PKA_MAX_ATTEMPTS", s.maxAttempts],
        ["PKA_KEY_RULES", s.keyRules === undefined ? undefined : JSON.stringify(s.keyRules)],
        ["PKA_COMMAND_TIMEOUT_SECONDS", s.commandTimeoutSeconds],
        ["PKA_DEPLOYED_MARKER", s.deployedMarker],
        ["PKA_WAIT_QUEUE_URL", s.waitQueueUrl],
        ["PKA_QUEUE_URL", s.queueUrl],
        ["PKA_AGENT_WAIT_SECONDS", s.agentWaitSeconds],
        ["PKA_HOST_CERT_DOCUMENT", s.hostCertificates?.documentName],
        ["PKA_HOST_CA_KMS_KEY", s.hostCertificates?.kmsKeyArn],
        ["PKA_HOST_CA_PUBLIC_KEY", s.hostCertificates?.caPublicKey],
        ["PKA_HOST_CERT_PATH", s.hostCertificates?.path],
        ["PKA_HOST_CERT_VALIDITY_SECONDS", s.hostCertificates?.validitySeconds],
    ];
    for (const [k, v] of optional) if (v !== undefined) env[k] = String(v);
    return env;
}

type Env = Record<string, string | undefined>;

function required(env: Env, k: string): string {
    const v = env[k];
    if (!v || !v.trim()) throw new ConfigError(`environment variable ${k} is required`);
    return v.trim();
}

function optional(env: Env, k: string): string | undefined {
    return env[k]?.trim() || undefined;
}

function integer(env: Env, k: string, def: number, min: number, max: number): number {
    const raw = env[k]?.trim();
    if (!raw) return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
        throw new ConfigError(`${k} must be an integer from ${min} to ${max}; got ${JSON.stringify(raw)}`);
    }
    return n;
}

function readTag(env: Env): { tagKey: string; tagValue: string } {
    const tag = required(env, "PKA_TARGET_TAG");
    const eq = tag.indexOf("=");
    if (eq <= 0) throw new ConfigError(`PKA_TARGET_TAG must be key=value; got ${JSON.stringify(tag)}`);
    return { tagKey: tag.slice(0, eq), tagValue: tag.slice(eq + 1) };
}

function readAccessPath(env: Env): string {
    const accessPath = required(env, "PKA_ACCESS_PARAMETER");
    if (!isParameterPath(accessPath)) {
        throw new ConfigError(
            `PKA_ACCESS_PARAMETER must be a parameter path like /pka/<fleet>/access; got ${JSON.stringify(accessPath)}`,
        );
    }
    return accessPath;
}

function readPin(env: Env): string {
    const pin = env.PKA_ACCESS_SPEC_SHA256?.trim();
    // Without a pin the Lambda would serve whatever the parameters hold: whoever can write them would grant access.
    if (!pin) {
        throw new ConfigError(
            "environment variable PKA_ACCESS_SPEC_SHA256 is required: the accessSpecHash of the spec the deploy wrote, set by the Provisioner component from its `accessSpecHash` input; without it no spec is served",
        );
    }
    if (!/^[0-9a-f]{64}$/.test(pin)) {
        throw new ConfigError(
            "PKA_ACCESS_SPEC_SHA256 must be 64 lower-case hex characters (the accessSpecHash the Provisioner sets)",
        );
    }
    return pin;
}

function readKnownHostsPath(env: Env, accessPath: string): string | undefined {
    const knownHostsPath = optional(env, "PKA_KNOWN_HOSTS_PATH");
    if (knownHostsPath && !isParameterPath(knownHostsPath)) {
        throw new ConfigError(`PKA_KNOWN_HOSTS_PATH must be a parameter path; got ${JSON.stringify(knownHostsPath)}`);
    }
    if (knownHostsPath && parameterPathsOverlap(knownHostsPath, accessPath)) {
        throw new ConfigError(
            `PKA_KNOWN_HOSTS_PATH ${knownHostsPath} overlaps PKA_ACCESS_PARAMETER ${accessPath}: host keys would be written among the access spec chunks; use disjoint paths such as /pka/<fleet>/known_hosts and /pka/<fleet>/access`,
        );
    }
    return knownHostsPath;
}

/** The key-rule overrides as written (a JSON object); the spec is validated with them (validateAccessSpec) when it is read. */
function readKeyRules(env: Env): Partial<KeyRules> | undefined {
    if (!env.PKA_KEY_RULES?.trim()) return undefined;
    let parsed: unknown;
    try {
        parsed = JSON.parse(env.PKA_KEY_RULES);
    } catch {
        throw new ConfigError("PKA_KEY_RULES must be a JSON object of key rules");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        throw new ConfigError("PKA_KEY_RULES must be a JSON object of key rules");
    }
    return parsed as Partial<KeyRules>;
}

function readMarker(env: Env, accessPath: string): string | undefined {
    const m = optional(env, "PKA_DEPLOYED_MARKER");
    if (m && !isParameterPath(m)) {
        throw new ConfigError(
            `PKA_DEPLOYED_MARKER must be a parameter name like /pka/<fleet>/access-deployed; got ${JSON.stringify(m)}`,
        );
    }
    if (m && parameterPathsOverlap(m, accessPath)) {
        throw new ConfigError(
            `PKA_DEPLOYED_MARKER ${m} overlaps PKA_ACCESS_PARAMETER ${accessPath}; the marker is a sibling of the access path`,
        );
    }
    return m;
}

function readWaitQueueUrl(env: Env): string | undefined {
    const u = optional(env, "PKA_WAIT_QUEUE_URL");
    if (u && !/^https?:\/\/[^\s/]+\/\d{12}\/[A-Za-z0-9_-]{1,75}\.fifo$/.test(u)) {
        throw new ConfigError(
            `PKA_WAIT_QUEUE_URL must be the URL of an SQS FIFO queue like https://sqs.<region>.amazonaws.com/<account>/<name>.fifo; got ${JSON.stringify(u)}`,
        );
    }
    return u;
}

function readQueueUrl(env: Env): string | undefined {
    const u = optional(env, "PKA_QUEUE_URL");
    if (u && !/^https?:\/\/[^\s/]+\/\d{12}\/[A-Za-z0-9_-]{1,80}$/.test(u)) {
        throw new ConfigError(
            `PKA_QUEUE_URL must be an SQS queue URL like https://sqs.<region>.amazonaws.com/<account>/<name>; got ${JSON.stringify(u)}`,
        );
    }
    return u;
}

const HOST_CERT_VARS = [
    "PKA_HOST_CERT_DOCUMENT",
    "PKA_HOST_CA_KMS_KEY",
    "PKA_HOST_CA_PUBLIC_KEY",
    "PKA_HOST_CERT_PATH",
];

/** The host-certificate settings: all of HOST_CERT_VARS, or none. */
function readHostCertificates(env: Env, knownHostsPath: string | undefined): ProvisionerConfig["hostCertificates"] {
    const set = HOST_CERT_VARS.filter((k) => optional(env, k) !== undefined);
    if (set.length === 0) return undefined;
    if (set.length < HOST_CERT_VARS.length)
        throw new ConfigError(
            `host certificates need all of ${HOST_CERT_VARS.join(", ")}; ${HOST_CERT_VARS.filter((k) => !set.includes(k)).join(", ")} not set`,
        );
    if (!knownHostsPath)
        throw new ConfigError("host certificates need PKA_KNOWN_HOSTS_PATH (they certify the pinned keys)");
    const kmsKeyArn = required(env, "PKA_HOST_CA_KMS_KEY");
    if (!KMS_KEY_ARN.test(kmsKeyArn))
        throw new ConfigError(
            `PKA_HOST_CA_KMS_KEY must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>); got ${JSON.stringify(kmsKeyArn)}`,
        );
    const caPublicKey = required(env, "PKA_HOST_CA_PUBLIC_KEY");
    if (!isKmsCaKeyLine(caPublicKey, false))
        throw new ConfigError(
            "PKA_HOST_CA_PUBLIC_KEY must be the KMS CA's public key line, `ecdsa-sha2-nistpNNN AAAA...` without a comment",
        );
    const path = required(env, "PKA_HOST_CERT_PATH");
    if (!isParameterPath(path) || parameterPathsOverlap(path, knownHostsPath))
        throw new ConfigError(
            `PKA_HOST_CERT_PATH must be a parameter path apart from PKA_KNOWN_HOSTS_PATH; got ${JSON.stringify(path)}`,
        );
    return {
        documentName: required(env, "PKA_HOST_CERT_DOCUMENT"),
        kmsKeyArn,
        caPublicKey,
        path,
        validitySeconds: integer(
            env,
            "PKA_HOST_CERT_VALIDITY_SECONDS",
            HOST_CERT_VALIDITY.default,
            HOST_CERT_VALIDITY.min,
            HOST_CERT_VALIDITY.max,
        ),
    };
}

/** The configuration in `env` (process.env in Lambda); throws ConfigError naming the variable that is wrong. */
export function readConfig(env: Env): ProvisionerConfig {
    const documentName = required(env, "PKA_DOCUMENT_NAME");
    const { tagKey, tagValue } = readTag(env);
    const accessPath = readAccessPath(env);
    const accessSpecSha256 = readPin(env);
    const knownHostsPath = readKnownHostsPath(env, accessPath);
    const keyRules = readKeyRules(env);
    const deadLetterQueueUrl = optional(env, "PKA_DEAD_LETTER_QUEUE_URL");
    const maxAttempts = integer(env, "PKA_MAX_ATTEMPTS", 3, 1, 20);
    const commandTimeoutSeconds = integer(env, "PKA_COMMAND_TIMEOUT_SECONDS", 600, 30, 2592000);
    return {
        documentName,
        tagKey,
        tagValue,
        accessPath,
        accessSpecSha256,
        knownHostsPath,
        deadLetterQueueUrl,
        maxAttempts,
        keyRules,
        commandTimeoutSeconds,
        deployedMarker: readMarker(env, accessPath),
        queueUrl: readQueueUrl(env),
        waitQueueUrl: readWaitQueueUrl(env),
        agentWaitSeconds: integer(env, "PKA_AGENT_WAIT_SECONDS", 3600, 60, 43200),
        hostCertificates: readHostCertificates(env, knownHostsPath),
    };
}
