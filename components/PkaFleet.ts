import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { AccessSpec, AccessSpecError, accessSpecHash, canonicalAccessSpecJson, normalizeKeyOptions, userNameProblem, validateAccessSpec } from "../core/accessSpec";
import { documentParameters } from "../core/document";
import { ACCESS_CHUNK_BYTES, ACCESS_MAX_CHUNKS, splitAccessSpec } from "../core/accessStore";
import { DEFAULT_KEY_RULES, INSTALLABLE_KEY_TYPES, judgeKey, judgeKeySpec, KeyRules, parsePublicKey } from "../core/keys";
import { shQuote } from "../core/shell";
import { ALL_TRIGGERS, AUTONAME_SUFFIX_LENGTH, checkKeyRuleArgs, driftScheduleError, FleetKeyRules, FleetTrigger, Provisioner, PROVISIONER_AUTONAMES, RETENTION_DAYS, tagsProblem } from "./Provisioner";
import { SetupDocument } from "./SetupDocument";
import { deployError, planSshKeyPair, redactSecretValue, SshKeyPair, SshKeyPairGenerate } from "./SshKeyPair";

/** Sudo for a fleet user. */
export const SudoMode = {
    /** Full sudo without a password, through /etc/sudoers.d/90-pka-<user> (checked with visudo). */
    Nopasswd: "nopasswd",
    /** No sudo; a sudoers drop-in left by an earlier spec is removed. */
    None: "none",
} as const;
export type SudoMode = (typeof SudoMode)[keyof typeof SudoMode];

/** The tag that marks the fleet's instances. */
export interface FleetTargetTag {
    /** Tag key. Default `"pka-fleet"`. */
    readonly key: string;
    /** Tag value. Default: the fleet name. */
    readonly value: string;
}

/** One login account on every instance of the fleet. */
export interface FleetUser {
    /** Login name, `^[a-z_][a-z0-9_-]{0,31}$`, not a system account nor an AMI default user. Required. */
    readonly name: string;
    /** Sudo mode. Default `"none"`. */
    readonly sudo?: SudoMode;
    /** Existing OpenSSH public key lines (one key each, no options). An `SshKeyPair`'s `publicKey` output works too. Default: none. */
    readonly publicKeys?: pulumi.Input<string>[];
    /** Generate a key for this user (child `SshKeyPair` `<fleet>-<user>`); its private key is in `privateKeys`. Default: none. */
    readonly generateKey?: SshKeyPairGenerate;
    /** Also register the generated key as this EC2 key pair name (ed25519 or RSA 4096). Default: not registered. */
    readonly ec2KeyName?: string;
    /** A non-interactive service account: its generated key may have no passphrase. Default `false` (a person: a generated key needs `generateKey.passphrase`). */
    readonly service?: boolean;
    /** authorized_keys options for this user's keys, from the allow-list (`restrict`, `no-*`, `command="..."`, `expiry-time="..."`). Default: none. */
    readonly keyOptions?: string;
    /** Source addresses allowed to use this user's keys (CIDRs or addresses; becomes `from="..."`). Default: any. */
    readonly fromCidrs?: string[];
    /** Take over an account of this name that already exists on a host and that pka-fleet did not create. Default `false`: such an account is left alone and reported (exit 19). */
    readonly adopt?: boolean;
    /** Where this user's private key is on the central server, for `sshConfig`: an `onHost` key's `path`, or `~/.ssh/...`. Letters, digits and `._-/` only. Default: `~/.ssh/pka-<fleetName>-<user>` for a generated key (written from `privateKeys`), none otherwise. */
    readonly identityFile?: string;
}

export interface PkaFleetArgs {
    /** Fleet name: names the SSM paths `/pka/<fleetName>/access` and `/pka/<fleetName>/known_hosts`, the default target tag and the central server's files. Unique per fleet in an account and region. `^[a-z0-9][a-z0-9-]{0,31}$`. Default: `<resource name>-<stack>`, lower-cased, other characters as `-` (so two stacks of one program never share paths or instances). */
    readonly fleetName?: string;
    /** The tag that marks the fleet's instances. Default `{ key: "pka-fleet", value: <fleetName> }`. */
    readonly targetTag?: FleetTargetTag;
    /** The login accounts. The spec is exclusive: users and keys not listed lose access on the next run. Required, at least one. */
    readonly users: FleetUser[];
    /** Organization-level OpenSSH public key given to every user without a key of its own. Default: none (every user needs a key). */
    readonly fallbackPublicKey?: string;
    /** What provisions an instance. Default: all of `instanceRunning`, `associationChange`, `push`. */
    readonly triggers?: FleetTrigger[];
    /** Re-apply the spec on every online tagged instance on this EventBridge schedule expression, `rate(...)` or 6-field `cron(...)` (UTC), at least 30 minutes apart, e.g. `"rate(1 day)"`: a scheduled rule pushes the pinned spec through the provisioner (a spec change never changes the rule). Default: off. */
    readonly driftCorrectionSchedule?: string;
    /** Offboarding: destroying the fleet (`pulumi destroy`, or removing it from the program) first revokes every user it manages on its online tagged instances; the destroy fails, naming the instances, when a revocation does not succeed. Default `true`. */
    readonly revokeOnDestroy?: boolean;
    /** Retention of the provisioner's log group, days (a CloudWatch Logs value). Default `30`. */
    readonly logRetentionDays?: number;
    /** Key rules for the access spec. Default: the policy pack's (ed25519, ecdsa P-256/384/521, RSA >= 3072). */
    readonly keyRules?: FleetKeyRules;
    /** Tags for every taggable child. Default: none. */
    readonly tags?: { [key: string]: string };
}

const FLEET_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;
const IDENTITY_FILE = /^(\/|~\/)[A-Za-z0-9._\/-]{1,255}$/;

/**
 * The default fleet name: `<resource name>-<stack>` (just the resource name outside a stack),
 * lower-cased, every run of other characters as one `-`, no `-` at either end. It may still be
 * refused (over 32 characters): then `fleetName` must be given.
 */
export function defaultFleetName(name: string, stack: string): string {
    return (stack ? `${name}-${stack}` : name).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
}

/**
 * Why AWS would refuse a name Pulumi auto-names from PkaFleet's resource name (its children are
 * `<name>-provisioner-<suffix>-<7 hex>` and `<name>-document-document-<7 hex>`), or undefined.
 */
export function fleetResourceNameProblem(name: string): string | undefined {
    // SSM CreateDocument Name: 3-128 characters (SSM API reference).
    const named = [...PROVISIONER_AUTONAMES.map((n) => ({ ...n, suffix: `provisioner-${n.suffix}` })), { suffix: "document-document", what: "SSM document", max: 128 }];
    const fits = Math.min(...named.map((n) => n.max - 1 - n.suffix.length - AUTONAME_SUFFIX_LENGTH));
    for (const n of named) {
        const length = name.length + 1 + n.suffix.length + AUTONAME_SUFFIX_LENGTH;
        if (length > n.max) {
            return `the resource name "${name}" is ${name.length} characters: its ${n.what} would be named \`${name}-${n.suffix}-<7 random hex>\` (${length} characters), over AWS's limit of ${n.max}; use a resource name of at most ${fits} characters (\`fleetName\` can still be up to 32).`;
        }
    }
    return undefined;
}
const TAG_TEXT = /^[A-Za-z0-9 +\-.:/@_]+$/;
/** A valid key used only to validate the rest of a user whose keys are known at deployment (an Output or a generated key). */
const PROBE_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqES5zNG9al28zqQu3ZQwKMG8xswUKYWhqvGcMZATU7 probe";

/** The validated, defaulted args: everything PkaFleet creates follows from this. */
export interface FleetPlan {
    fleetName: string;
    tag: { key: string; value: string };
    accessPath: string;
    knownHostsPath: string;
    triggers: FleetTrigger[];
    schedule?: string;
    revokeOnDestroy: boolean;
    logRetentionDays: number;
    keyRules: Partial<KeyRules>;
    fallbackKeys: string[];
    users: { name: string; sudo: SudoMode; keyOptions?: string; plainKeys: string[]; pendingKeys: number; generate?: SshKeyPairGenerate; ec2KeyName?: string; service: boolean; adopt: boolean; identityFile?: string }[];
    /** Standard-tier parameters reserved for the spec chunks (an upper bound while keys are unknown). */
    slots: number;
}

/** Validates PkaFleet's args before any resource exists. Throws with a message naming the input. */
export function planFleet(name: string, args: PkaFleetArgs, stack: string = pulumi.getStack()): FleetPlan {
    const fail = (msg: string): never => { throw new Error(msg); };
    if (!args || typeof args !== "object") fail("`args` is required: { users: [...] }.");
    const fleetName = args.fleetName ?? defaultFleetName(name, stack);
    if (typeof fleetName !== "string" || !FLEET_NAME.test(fleetName)) {
        fail(`\`fleetName\` must match ${FLEET_NAME} (it names the SSM paths /pka/<fleetName>/...)${args.fleetName === undefined ? ` (default: the resource name and the stack, "${name}" and "${stack}"; set \`fleetName\`, unique per fleet and stack in the account)` : ""}; got ${JSON.stringify(fleetName)}.`);
    }
    const resourceNameProblem = fleetResourceNameProblem(name);
    if (resourceNameProblem) fail(resourceNameProblem);
    const tag = { key: args.targetTag?.key ?? "pka-fleet", value: args.targetTag?.value ?? fleetName };
    for (const [k, v, max] of [["targetTag.key", tag.key, 128], ["targetTag.value", tag.value, 256]] as const) {
        if (typeof v !== "string" || v.length === 0 || v.length > max || !TAG_TEXT.test(v)) fail(`\`${k}\` must be 1-${max} characters of letters, digits, spaces and + - . : / @ _; got ${JSON.stringify(v)}.`);
    }
    if (tag.key.toLowerCase().startsWith("aws:")) fail("`targetTag.key` must not start with `aws:` (reserved by AWS).");
    let keyRules: Partial<KeyRules> = {};
    try {
        keyRules = checkKeyRuleArgs(args.keyRules);
    } catch (e) {
        fail((e as Error).message);
    }
    const requirePassphrase = keyRules.requirePassphrase ?? DEFAULT_KEY_RULES.requirePassphrase;
    const triggers = args.triggers ?? [...ALL_TRIGGERS];
    if (!Array.isArray(triggers) || triggers.length === 0) fail(`\`triggers\` must list at least one of ${ALL_TRIGGERS.join(", ")}.`);
    for (const [i, t] of triggers.entries()) if (!ALL_TRIGGERS.includes(t)) fail(`\`triggers[${i}]\` must be one of ${ALL_TRIGGERS.join(", ")}; got ${JSON.stringify(t)}.`);
    const schedule = args.driftCorrectionSchedule || undefined;
    if (schedule !== undefined) {
        const bad = driftScheduleError(schedule);
        if (bad) fail(`${bad}.`);
    }
    const revokeOnDestroy = args.revokeOnDestroy ?? true;
    if (typeof revokeOnDestroy !== "boolean") fail(`\`revokeOnDestroy\` must be true or false; got ${JSON.stringify(revokeOnDestroy)}.`);
    if (args.tags !== undefined) {
        if (typeof args.tags !== "object" || args.tags === null || Array.isArray(args.tags)) fail("`tags` must be a map of tag key to value.");
        const problem = tagsProblem(args.tags, 49);
        if (problem) fail(`\`tags\` ${problem} (PkaFleet adds pka-fleet:fleet, and AWS takes at most 50 tags a resource).`);
    }
    const logRetentionDays = args.logRetentionDays ?? 30;
    if (!RETENTION_DAYS.includes(logRetentionDays)) fail(`\`logRetentionDays\` must be one of CloudWatch's values (${RETENTION_DAYS.join(", ")}); got ${JSON.stringify(logRetentionDays)}.`);
    let fallbackKeys: string[] = [];
    if (args.fallbackPublicKey !== undefined && args.fallbackPublicKey !== "") {
        const info = parsePublicKey(String(args.fallbackPublicKey), "`fallbackPublicKey`");
        const bad = judgeKey(info, keyRules, { label: "`fallbackPublicKey`" });
        if (bad.length) fail(bad.join(" "));
        fallbackKeys = [info.publicKey];
    }
    if (!Array.isArray(args.users) || args.users.length === 0) fail("`users` must list at least one user: { name, sudo, publicKeys | generateKey }.");

    const users: FleetPlan["users"] = [];
    const probe: { name: string; sudo: string; keys: string[]; keyOptions?: string; adopt?: boolean }[] = [];
    let pendingBytes = 0;
    for (const [i, u] of args.users.entries()) {
        const p = `users[${i}]`;
        if (!u || typeof u !== "object") fail(`\`${p}\` must be an object { name, sudo, publicKeys | generateKey }.`);
        if (typeof u.name !== "string") fail(`\`${p}.name\` is required: the login name.`);
        const problem = userNameProblem(u.name);
        // A reserved name's reason starts with the name itself: said once.
        if (problem) fail(`\`${p}.name\` ${JSON.stringify(u.name)} ${problem.startsWith(`'${u.name}' `) ? problem.slice(u.name.length + 3) : problem}.`);
        const sudo = u.sudo ?? "none";
        if (sudo !== "nopasswd" && sudo !== "none") fail(`\`${p}.sudo\` must be "nopasswd" or "none"; got ${JSON.stringify(sudo)}.`);
        if (u.publicKeys !== undefined && !Array.isArray(u.publicKeys)) fail(`\`${p}.publicKeys\` must be a list of OpenSSH public key lines.`);
        const plainKeys: string[] = [];
        let pendingKeys = 0;
        for (const [j, k] of (u.publicKeys ?? []).entries()) {
            if (typeof k === "string") {
                const info = parsePublicKey(k, `\`${p}.publicKeys[${j}]\``);
                const bad = judgeKey(info, keyRules, { label: `\`${p}.publicKeys[${j}]\`` });
                if (bad.length) fail(bad.join(" "));
                plainKeys.push(info.publicKey);
            } else {
                pendingKeys++;
                pendingBytes += 3000; // an RSA-16384 line is ~2.8 KB: the largest key an Output can turn out to be
            }
        }
        if (u.generateKey !== undefined) {
            if (typeof u.generateKey !== "object" || u.generateKey === null) fail(`\`${p}.generateKey\` must be an object { keyType, bits, curve, passphrase, ppk }.`);
            let planned: ReturnType<typeof planSshKeyPair> | undefined;
            try {
                planned = planSshKeyPair({ generate: u.generateKey, ec2KeyName: u.ec2KeyName }, { generate: `${p}.generateKey`, ec2KeyName: `${p}.ec2KeyName` });
            } catch (e) {
                fail((e as Error).message);
            }
            // The generated key ends up in the access spec: it must pass the fleet's rules too, or the
            // Lambda would refuse the whole spec at run time.
            const spec = planned!.source === "generate" ? planned!.spec : undefined;
            if (!spec) fail(`\`${p}.generateKey\`: no key specification`);
            const ec2 = u.ec2KeyName !== undefined;
            const bad = judgeKeySpec({ type: spec!.keyType, bits: spec!.bits, curve: spec!.curve }, keyRules, { ec2Import: ec2, service: true, label: `\`${p}.generateKey\`` });
            if (bad.length) fail(bad.join(" ") + (ec2 ? ` (\`${p}.ec2KeyName\` is set.)` : ""));
            if (requirePassphrase && !u.service && (u.generateKey.passphrase === undefined || u.generateKey.passphrase === "")) {
                fail(`\`${p}.generateKey.passphrase\` is required: ${u.name} is a person (\`service\` is not true), and a person's private key must be passphrase-protected.`);
            }
            pendingKeys++;
            pendingBytes += generatedKeyBound(u.generateKey);
        } else if (u.ec2KeyName !== undefined) {
            fail(`\`${p}.ec2KeyName\` needs \`${p}.generateKey\`: only a generated key is registered as an EC2 key pair.`);
        }
        let keyOptions = u.keyOptions;
        if (u.fromCidrs !== undefined) {
            if (!Array.isArray(u.fromCidrs) || u.fromCidrs.length === 0 || u.fromCidrs.some((c) => typeof c !== "string" || !/^[0-9A-Fa-f.:/]+$/.test(c))) {
                fail(`\`${p}.fromCidrs\` must be a non-empty list of addresses or CIDRs such as "10.0.0.0/16".`);
            }
            const from = `from="${u.fromCidrs.join(",")}"`;
            keyOptions = keyOptions ? `${keyOptions},${from}` : from;
        }
        if (keyOptions !== undefined) {
            try {
                keyOptions = normalizeKeyOptions(keyOptions, `\`${p}.keyOptions\`${u.fromCidrs ? " (with fromCidrs)" : ""}`);
            } catch (e) {
                fail((e as Error).message);
            }
        }
        if (u.adopt !== undefined && typeof u.adopt !== "boolean") fail(`\`${p}.adopt\` must be true or false; got ${JSON.stringify(u.adopt)}.`);
        const adopt = u.adopt === true;
        if (u.identityFile !== undefined && (typeof u.identityFile !== "string" || !IDENTITY_FILE.test(u.identityFile) || u.identityFile.split("/").includes(".."))) {
            fail(`\`${p}.identityFile\` must be an absolute path or ~/... of letters, digits and ._-/ (the private key's place on the central server); got ${JSON.stringify(u.identityFile)}.`);
        }
        users.push({ name: u.name, sudo, keyOptions, plainKeys, pendingKeys, generate: u.generateKey, ec2KeyName: u.ec2KeyName, service: u.service === true, adopt, ...(u.identityFile !== undefined ? { identityFile: u.identityFile } : {}) });
        probe.push({ name: u.name, sudo, keys: pendingKeys > 0 ? [...plainKeys, PROBE_KEY] : plainKeys, ...(keyOptions ? { keyOptions } : {}), ...(adopt ? { adopt } : {}) });
    }
    // The same validation the Lambda and the on-host script apply: names (unique, not reserved),
    // options, keys, fallback. Users whose keys are not known yet are checked with a probe key.
    let known: AccessSpec;
    try {
        known = validateAccessSpec({ users: probe }, { keyRules, fallbackKeys, now: new Date() });
    } catch (e) {
        return fail(specProblem(e, plainKeyInputs(args.users)));
    }
    try {
        documentParameters(known); // SSM's 64 KB limit for document plus parameters
    } catch (e) {
        fail(`\`users\`: ${(e as Error).message}`);
    }
    const accessPath = `/pka/${fleetName}/access`;
    const slots = parameterSlots(Buffer.byteLength(canonicalAccessSpecJson(known)) + pendingBytes, ACCESS_CHUNK_BYTES);
    if (slots > ACCESS_MAX_CHUNKS) fail(`\`users\`: the access spec would need ${slots} SSM parameters (more than ${ACCESS_MAX_CHUNKS}); split the fleet.`);
    return {
        fleetName, tag, accessPath, knownHostsPath: `/pka/${fleetName}/known_hosts`, triggers, schedule, revokeOnDestroy, logRetentionDays, keyRules,
        fallbackKeys, users, slots,
    };
}

/** Builds and validates the final spec once every key is known. */
export function buildAccessSpec(plan: FleetPlan, keysByUser: string[][]): AccessSpec {
    return validateAccessSpec({
        users: plan.users.map((u, i) => ({ name: u.name, sudo: u.sudo, keys: keysByUser[i], ...(u.keyOptions ? { keyOptions: u.keyOptions } : {}), ...(u.adopt ? { adopt: true } : {}) })),
    }, { keyRules: plan.keyRules, fallbackKeys: plan.fallbackKeys });
}

/** Where the user wrote each plain (string) key of `users[i].publicKeys`: the spec lists these first. */
export function plainKeyInputs(users: readonly FleetUser[]): string[][] {
    return users.map((u, i) => (Array.isArray(u?.publicKeys) ? u.publicKeys : []).flatMap((k, j) => (typeof k === "string" ? [`users[${i}].publicKeys[${j}]`] : [])));
}

/**
 * A refusal of the spec PkaFleet builds, in the names of PkaFleet's args: the spec's
 * `users[i].keys[k]` is the input the key came from (`keyInputs[i][k]`: `users[i].publicKeys[j]` or
 * `users[i].generateKey`), its empty key list the user's missing key, its fallback keys
 * `fallbackPublicKey`; anything else is about `users`.
 */
export function specProblem(e: unknown, keyInputs: string[][]): string {
    const message = e instanceof Error ? e.message : String(e);
    const path = e instanceof AccessSpecError ? e.path : "";
    const rest = path && message.startsWith(`${path}:`) ? message.slice(path.length + 1).trimStart() : message;
    let m: RegExpExecArray | null;
    if ((m = /^users\[(\d+)\]\.keys\[(\d+)\]$/.exec(path))) {
        const input = keyInputs[Number(m[1])]?.[Number(m[2])] ?? `users[${m[1]}]`;
        return message.split(path).join(`\`${input}\``);
    }
    if ((m = /^users\[(\d+)\]\.keys$/.exec(path))) {
        return `\`users[${m[1]}]\` has no key: give it \`publicKeys\` or \`generateKey\`, or set \`fallbackPublicKey\` for users without a key of their own.`;
    }
    if (/^users\[\d+\]\.[A-Za-z]+$/.test(path)) return `\`${path}\`: ${rest}`;
    if (/^fallbackKeys \(option\)\[\d+\]$/.test(path)) return message.split(path).join("`fallbackPublicKey`");
    return `\`users\`: ${rest}`;
}

/** A key known only at deployment, with the input it came from and whether its value is secret. */
export interface DeployKey {
    key: unknown;
    /** As the user wrote it: `users[1].publicKeys[0]`, `users[2].generateKey`. */
    input: string;
    secret: boolean;
}

/**
 * The final spec and its parameter chunks once every key is known (`late[i]`: user i's keys known
 * only at deployment, after the plain ones). Throws naming the input as the user wrote it, never
 * quoting a secret value.
 */
export function checkDeploySpec(plan: FleetPlan, plainInputs: string[][], late: DeployKey[][]): { spec: AccessSpec; chunks: { name: string; value: string }[] } {
    const inputs = plan.users.map((u, i) => [...(plainInputs[i] ?? []), ...late[i].map((k) => k.input)]);
    let spec: AccessSpec;
    try {
        spec = buildAccessSpec(plan, plan.users.map((u, i) => [...u.plainKeys, ...late[i].map((k) => k.key as string)]));
    } catch (e) {
        const m = e instanceof AccessSpecError ? /^users\[(\d+)\]\.keys\[(\d+)\]$/.exec(e.path) : null;
        const i = m ? Number(m[1]) : -1;
        const k = m ? Number(m[2]) - (plainInputs[i]?.length ?? 0) : -1;
        const bad = k >= 0 ? late[i]?.[k] : undefined;
        throw new Error(redactSecretValue(specProblem(e, inputs), bad?.key, bad?.secret === true));
    }
    let chunks: { name: string; value: string }[];
    try {
        documentParameters(spec); // SSM's 64 KB limit for document plus parameters, with the real keys
        chunks = splitAccessSpec(canonicalAccessSpecJson(spec), plan.accessPath);
    } catch (e) {
        throw new Error(`\`users\`: with the keys known at deployment, ${(e as Error).message}`);
    }
    if (chunks.length > plan.slots) {
        throw new Error(`\`users\`: with the keys known at deployment the access spec needs ${chunks.length} SSM parameters, more than the ${plan.slots} planned for keys up to RSA-16384; split the fleet.`);
    }
    return { spec, chunks };
}

/**
 * A whole fleet: key pairs, the access spec in Parameter Store, the SSM setup document, the
 * event-driven provisioner, push on change and optional drift correction. Access is exclusive:
 * the managed authorized_keys block and sudoers drop-ins follow the spec, so a key or user removed
 * here loses access on the next run. Type token `pka-fleet:index:PkaFleet`.
 */
export class PkaFleet extends pulumi.ComponentResource {
    /** Name of the SSM Command document that sets up access on a host. */
    public readonly documentName: pulumi.Output<string>;
    /** URL of the provisioner's SQS queue. */
    public readonly queueUrl: pulumi.Output<string>;
    /** URL of the dead-letter queue (instances that could not be provisioned). */
    public readonly dlqUrl: pulumi.Output<string>;
    /** Parameter Store path holding the access spec chunks (`/pka/<fleet>/access`). */
    public readonly accessParameterPath: pulumi.Output<string>;
    /** Parameter Store path of the pinned host keys, one parameter per instance (`/pka/<fleet>/known_hosts/<instance-id>`). */
    public readonly knownHostsPath: pulumi.Output<string>;
    /** sha256 of the canonical access spec; a change re-provisions the fleet. */
    public readonly accessSpecHash: pulumi.Output<string>;
    /** SHA256 fingerprints of each user's keys (as `ssh-keygen -l`), by user name. */
    public readonly fingerprints: pulumi.Output<{ [user: string]: string[] }>;
    /** Secret. Generated private keys (OpenSSH, encrypted with the user's passphrase), by user name. */
    public readonly privateKeys: pulumi.Output<{ [user: string]: string }>;
    /** Secret. Generated private keys as PuTTY PPK (users with `generateKey.ppk`), by user name. */
    public readonly privateKeysPpk: pulumi.Output<{ [user: string]: string }>;
    /** A ready `~/.ssh/config` snippet for the central server. */
    public readonly sshConfig: pulumi.Output<string>;
    /** Shell command that writes the fleet's pinned host keys to `~/.ssh/known_hosts.pka-<fleet>`. */
    public readonly knownHostsCommand: pulumi.Output<string>;

    constructor(name: string, args: PkaFleetArgs, opts?: pulumi.ComponentResourceOptions) {
        // Validate everything before registering anything: a refused fleet leaves no resource behind.
        let p: FleetPlan;
        try {
            p = planFleet(name, args);
        } catch (e) {
            // A RunError: Pulumi prints the message alone (no stack); nothing is registered yet.
            throw new pulumi.RunError(`PkaFleet "${name}": ${(e as Error).message}`);
        }
        super("pka-fleet:index:PkaFleet", name, {}, opts);
        const tags = { ...(args.tags ?? {}), "pka-fleet:fleet": p.fleetName };

        const keyPairs = new Map<string, SshKeyPair>();
        for (const u of p.users) {
            if (!u.generate) continue;
            keyPairs.set(u.name, new SshKeyPair(`${name}-${u.name}`, {
                // A service account's key says so, for the policy pack's ssh-key-passphrase rule.
                generate: { ...u.generate, comment: u.generate.comment ?? `${u.name}@pka-${p.fleetName}`, ...(u.service ? { service: true } : {}) },
                ec2KeyName: u.ec2KeyName,
            }, { parent: this }));
        }
        // Keys known only at deployment (Outputs, generated keys), each with the input it came from.
        const deployKey = (k: pulumi.Input<string>, input: string): pulumi.Output<DeployKey> => {
            const o = pulumi.output(k);
            return pulumi.all([o, pulumi.isSecret(o)]).apply(([key, secret]) => ({ key, input, secret }));
        };
        const lateKeys = pulumi.all(args.users.map((u, i) => pulumi.all([
            ...(u.publicKeys ?? []).flatMap((k, j) => (typeof k === "string" ? [] : [deployKey(k, `users[${i}].publicKeys[${j}]`)])),
            ...(keyPairs.has(u.name) ? [deployKey(keyPairs.get(u.name)!.publicKey, `users[${i}].generateKey`)] : []),
        ])));
        // The one place those keys are checked. Every child and output below takes its result, so a
        // refused key is one error, attached to this component, instead of one per consuming child.
        const plainInputs = plainKeyInputs(args.users);
        type Checked = ReturnType<typeof checkDeploySpec>;
        const outcome = lateKeys.apply((late): { ok: Checked; error?: undefined } | { ok?: undefined; error: pulumi.ResourceError } => {
            try {
                return { ok: checkDeploySpec(p, plainInputs, late) };
            } catch (e) {
                return { error: deployError(this, `PkaFleet "${name}": ${(e as Error).message}`) };
            }
        });
        // This component's own outputs reject with the refusal (one error object); its children wait
        // for a spec that passed, so a refused one leaves them unregistered (nothing is created) and
        // the refusal surfaces through this component, not once per child that consumes the spec.
        const checked = outcome.apply((o) => { if (o.error) throw o.error; return o.ok!; });
        const passed = outcome.apply((o) => (o.error ? new Promise<Checked>(() => undefined) : Promise.resolve(o.ok!)));
        const spec = checked.apply((c) => c.spec);
        this.accessSpecHash = spec.apply(accessSpecHash);
        const childSpec = passed.apply((c) => c.spec);
        /** Children that need no spec wait for it too. */
        const specChecked = passed.apply((): pulumi.Resource[] => []);

        // Public keys and user names are not secret, so the chunks are plain `String` parameters
        // that operators (and previews) can read; integrity comes from IAM on the path, and the hash in every
        // chunk lets the Lambda refuse a torn read. Slots beyond the spec hold a filler the
        // reader ignores, so the count stays fixed while keys are unknown (preview).
        const chunks = passed.apply((c) => c.chunks);
        const params: aws.ssm.Parameter[] = [];
        for (let i = 0; i < p.slots; i++) {
            params.push(new aws.ssm.Parameter(`${name}-access-${i}`, {
                name: `${p.accessPath}/${String(i).padStart(4, "0")}`,
                type: "String",
                tier: "Standard",
                dataType: "text",
                // insecureValue: not secret, so `pulumi preview` shows which users and keys change.
                insecureValue: chunks.apply((c) => c[i]?.value ?? `pka-unused slot ${i} of ${p.slots}`),
                description: `pka-fleet ${p.fleetName}: access spec chunk ${i} (written by PkaFleet; do not edit)`,
                tags,
            }, { parent: this }));
        }

        const document = new SetupDocument(`${name}-document`, { tags }, { parent: this, dependsOn: specChecked });
        const provisioner = new Provisioner(`${name}-provisioner`, {
            documentName: document.documentName,
            documentArn: document.documentArn,
            targetTag: p.tag,
            accessParameterPath: p.accessPath,
            knownHostsPath: p.knownHostsPath,
            accessSpecHash: childSpec.apply(accessSpecHash),
            triggers: p.triggers,
            logRetentionDays: p.logRetentionDays,
            keyRules: p.keyRules,
            tags,
            fleetName: p.fleetName,
            driftCorrectionSchedule: p.schedule,
            revokeOnDestroy: p.revokeOnDestroy,
        }, { parent: this, dependsOn: params });

        this.documentName = document.documentName;
        this.queueUrl = provisioner.queueUrl;
        this.dlqUrl = provisioner.dlqUrl;
        this.accessParameterPath = pulumi.output(p.accessPath);
        this.knownHostsPath = pulumi.output(p.knownHostsPath);
        this.fingerprints = spec.apply((s) => Object.fromEntries(s.users.map((u) => [u.name, u.keys.map((k) => parsePublicKey(k).fingerprint)])));
        const pick = (f: (kp: SshKeyPair) => pulumi.Output<string | undefined>) => pulumi.secret(pulumi.all(
            [...keyPairs].map(([user, kp]) => f(kp).apply((v) => [user, v] as const)),
        ).apply((pairs) => Object.fromEntries(pairs.filter(([, v]) => typeof v === "string" && v !== "")) as { [user: string]: string }));
        this.privateKeys = pick((kp) => kp.privateKey);
        this.privateKeysPpk = pick((kp) => kp.privateKeyPpk);
        const central = centralServerOutputs(p);
        this.sshConfig = pulumi.output(central.sshConfig);
        this.knownHostsCommand = pulumi.output(central.knownHostsCommand);

        this.registerOutputs({
            documentName: this.documentName,
            queueUrl: this.queueUrl,
            dlqUrl: this.dlqUrl,
            accessParameterPath: this.accessParameterPath,
            knownHostsPath: this.knownHostsPath,
            accessSpecHash: this.accessSpecHash,
            fingerprints: this.fingerprints,
            privateKeys: this.privateKeys,
            privateKeysPpk: this.privateKeysPpk,
            sshConfig: this.sshConfig,
            knownHostsCommand: this.knownHostsCommand,
        });
    }
}

/** Upper bound of the spec bytes a generated key adds: its line (type, base64 blob, comment of <= 100) and JSON quoting. */
export function generatedKeyBound(g: SshKeyPairGenerate): number {
    const t = g.keyType ?? "ed25519";
    const blob = t === "rsa" ? Math.ceil((g.bits ?? 4096) / 8) + 40 : t === "ecdsa" ? 172 : 51;
    return 40 + Math.ceil(blob / 3) * 4 + 100 + 10;
}

/** Parameters reserved for `bytes` of spec JSON at `perChunk` bytes each (at least one). */
export function parameterSlots(bytes: number, perChunk: number): number {
    return Math.max(1, Math.ceil(bytes / perChunk));
}

/** What the central server needs for one fleet: the fleet's files under `~/.ssh` and the settings of its hosts. */
export interface CentralServerFleet {
    fleetName: string;
    knownHostsPath: string;
    tag: { key: string; value: string };
    /** `User` on the fleet's hosts: the first service account (`service: true`); none: ssh's own default. */
    user?: string;
    /** `IdentityFile` lines in order (the service account's first): generated keys as `~/.ssh/pka-<fleet>-<user>`, and every `identityFile`. */
    identityFiles: string[];
}

/** The central server's files of a fleet, relative to `~/.ssh`: the pinned host keys and the hosts' settings (the file `sshConfig` includes). */
export function centralServerFiles(fleetName: string): { knownHosts: string; config: string } {
    return { knownHosts: `known_hosts.pka-${fleetName}`, config: `config.pka-${fleetName}` };
}

/** The central server's view of a validated fleet plan. */
export function centralServerFleet(p: Pick<FleetPlan, "fleetName" | "knownHostsPath" | "tag" | "users">): CentralServerFleet {
    const service = p.users.find((u) => u.service);
    const ordered = service ? [service, ...p.users.filter((u) => u !== service)] : p.users;
    const identityFiles = [...new Set(ordered.flatMap((u) => (u.identityFile ? [u.identityFile] : u.generate ? [`~/.ssh/pka-${p.fleetName}-${u.name}`] : [])))];
    return { fleetName: p.fleetName, knownHostsPath: p.knownHostsPath, tag: p.tag, ...(service ? { user: service.name } : {}), identityFiles };
}

/** PkaFleet's `sshConfig` and `knownHostsCommand` outputs for a plan (the local fleet runs the same). */
export function centralServerOutputs(p: Pick<FleetPlan, "fleetName" | "knownHostsPath" | "tag" | "users">): { sshConfig: string; knownHostsCommand: string } {
    const c = centralServerFleet(p);
    return { sshConfig: fleetSshConfig(c), knownHostsCommand: knownHostsCommand(c) };
}

/** Session Manager's SSH tunnel (no inbound port 22): the ProxyCommand for hosts named by instance id. */
export const SESSION_MANAGER_PROXY = "ProxyCommand aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p";

/** The settings every host of the fleet gets (after its `Host` line), without the ProxyCommand. */
export function fleetHostSettings(c: CentralServerFleet): string[] {
    const files = centralServerFiles(c.fleetName);
    return [
        ...(c.user ? [`    User ${c.user}`] : []),
        ...c.identityFiles.map((f) => `    IdentityFile ${f}`),
        ...(c.identityFiles.length ? ["    IdentitiesOnly yes"] : []),
        `    UserKnownHostsFile ~/.ssh/${files.knownHosts}`,
        "    GlobalKnownHostsFile /dev/null",
        "    StrictHostKeyChecking yes",
    ];
}

/**
 * The central server's `~/.ssh/config` lines for one fleet. They select the fleet's own hosts only:
 * `~/.ssh/config.pka-<fleet>`, written by knownHostsCommand together with the pinned keys, lists
 * exactly the instance ids and private addresses it pinned, each with this fleet's user, keys and
 * known_hosts file. Several fleets' lines stand side by side in one config, each host resolving
 * to its own fleet; a host no fleet pinned gets none of them. No hostname ever reaches a shell
 * (no `Match exec`). `Match all` makes the Include unconditional wherever the lines are appended.
 */
export function fleetSshConfig(c: CentralServerFleet): string {
    const files = centralServerFiles(c.fleetName);
    return [
        `# pka-fleet "${c.fleetName}": ssh ${c.user ?? "<user>"}@<instance id> (Session Manager) or @<private address>; the hosts`,
        `# knownHostsCommand pinned in ~/.ssh/${files.knownHosts}, with their settings in ~/.ssh/${files.config} (run it again for new instances).`,
        `# User ${c.user ?? "(not set: no service account)"}; keys: ${c.identityFiles.length ? c.identityFiles.join(", ") : "none on the central server"}.`,
        "Match all",
        `Include ~/.ssh/${files.config}`,
        "",
    ].join("\n");
}

/**
 * A POSIX sh command for the central server that writes, from the keys the Lambda pinned
 * (`<knownHostsPath>/<instance-id>`) and the running instances carrying the fleet tag:
 * `~/.ssh/known_hosts.pka-<fleet>` (each key under the instance id and its private address,
 * `i-0abc,10.0.1.23 ssh-ed25519 AAAA...`) and `~/.ssh/config.pka-<fleet>` (`Host` lines naming
 * exactly those ids, through Session Manager, and addresses, directly, with the fleet's settings).
 * Only well-formed ids (`i-`/`mi-` and hex), IPv4 addresses and key lines of the installable types
 * are written: a parameter value cannot add a known_hosts marker or a config line. Needs the AWS
 * CLI with ssm:GetParametersByPath and ec2:DescribeInstances. Each file is replaced by a rename.
 */
export function knownHostsCommand(c: CentralServerFleet): string {
    const files = centralServerFiles(c.fleetName);
    const keyTypes = INSTALLABLE_KEY_TYPES.filter((t) => /^[a-z0-9-]+$/.test(t)).join("|");
    const awk = [
        "function okid(s) { return s ~ /^(i|mi)-[0-9a-f]+$/ && length(s) >= 10 && length(s) <= 20 }",
        "function okip(s) { return s ~ /^[0-9]+[.][0-9]+[.][0-9]+[.][0-9]+$/ && length(s) <= 15 }",
        'function hostlines(kind, list, n,   i, line) { line = ""; for (i = 1; i <= n; i++) { line = line " " list[i]; if (i % 20 == 0 || i == n) { print kind line > hosts; line = "" } } }',
        'BEGIN { FS = "\\t"; printf "" > kh; printf "" > hosts }',
        "FILENAME == ARGV[1] { if (okid($1) && okip($2)) ip[$1] = $2; next }",
        '/^\\// { id = ""; n = substr($1, length(prefix) + 1); if (index($1, prefix) == 1 && okid(n)) id = n; $0 = $2 }',
        `id != "" && $0 ~ /^(${keyTypes}) [A-Za-z0-9+\\/]+=*$/ { h = id; if (id in ip) h = h "," ip[id]; print h " " $0 > kh; if (!(id in seen)) { seen[id] = 1; ids[++ni] = id; if (id in ip) ips[++na] = ip[id] } }`,
        'END { hostlines("I", ids, ni); hostlines("A", ips, na) }',
    ].join("\n");
    const header = `# pka-fleet "${c.fleetName}": written by knownHostsCommand from ${c.knownHostsPath} and the running instances tagged ${c.tag.key}=${c.tag.value}; the next run replaces it.`;
    return [
        `set -eu; umask 077; mkdir -p "$HOME/.ssh"; t=$(mktemp -d "$HOME/.ssh/.pka-${c.fleetName}.XXXXXX"); trap 'rm -rf "$t"' EXIT`,
        `aws ssm get-parameters-by-path --path ${shQuote(c.knownHostsPath)} --query 'Parameters[].[Name,Value]' --output text > "$t/keys"`,
        `aws ec2 describe-instances --filters ${shQuote(`Name=tag:${c.tag.key},Values=${c.tag.value}`)} 'Name=instance-state-name,Values=running' --query 'Reservations[].Instances[].[InstanceId,PrivateIpAddress]' --output text > "$t/addrs"`,
        `awk -v prefix=${shQuote(`${c.knownHostsPath}/`)} -v kh="$t/known_hosts" -v hosts="$t/hosts" ${shQuote(awk)} "$t/addrs" "$t/keys"`,
        `s=${shQuote(fleetHostSettings(c).join("\n"))}; p=${shQuote(`    ${SESSION_MANAGER_PROXY}`)}`,
        `{ printf '%s\\n' ${shQuote(header)}; while read -r kind list; do printf 'Host %s\\n%s\\n' "$list" "$s"; if [ "$kind" = I ]; then printf '%s\\n' "$p"; fi; done < "$t/hosts"; } > "$t/config"`,
        `mv "$t/known_hosts" "$HOME/.ssh/${files.knownHosts}"; mv "$t/config" "$HOME/.ssh/${files.config}"`,
    ].join("\n");
}
