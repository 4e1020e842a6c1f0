/**
 * PkaFleet's plan: its args validated and defaulted before any resource exists, in the names the
 * user wrote (`users[1].publicKeys[0]`). Everything PkaFleet creates follows from the plan; the
 * local fleet runs the same plan. Pure: no resource, no Pulumi; a key a program gives as an Output
 * is `unknown` here and reserved for, then checked once it is known (core/fleetSpec.ts).
 */
import {
    AccessSpec,
    AccessSpecError,
    canonicalAccessSpecJson,
    normalizeKeyOptions,
    userNameProblem,
    validateAccessSpec,
} from "./accessSpec";
import { ACCESS_CHUNK_BYTES, ACCESS_MAX_CHUNKS } from "./accessStore";
import { documentParameters } from "./document";
import { ALL_TRIGGERS } from "./events";
import { FleetPlan, FleetPlanError, FleetPlanInput, FleetUserInput, PlannedFleetUser } from "./fleetPlanTypes";
import { plainKeyInputs, specProblem } from "./fleetSpec";
import { planSshKeyPair, SshKeyType } from "./keyPairPlan";
import { checkKeyRuleArgs } from "./keyRuleArgs";
import { DEFAULT_KEY_RULES, judgeKey, judgeKeySpec, KeyInfo, KeyRules, parsePublicKey } from "./keys";
import { AUTONAME_SUFFIX_LENGTH, PROVISIONER_AUTONAMES, RETENTION_DAYS, tagsProblem } from "./provisionerPlan";
import { driftScheduleError } from "./provisionerSchedule";
import { normalizeGroups, normalizeSudoCommands } from "./userAccess";
import { planCertificates, planPrincipals } from "./fleetCertificates";

const FLEET_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;
const IDENTITY_FILE = /^(\/|~\/)[A-Za-z0-9._\/-]{1,255}$/;
const TAG_TEXT = /^[A-Za-z0-9 +\-.:/@_]+$/;
/** A valid key used only to validate the rest of a user whose keys are known at deployment (an Output or a generated key). */
const PROBE_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqES5zNG9al28zqQu3ZQwKMG8xswUKYWhqvGcMZATU7 probe";
/** The spec bytes an Output key may turn out to need: an RSA-16384 line is ~2.8 KB, the largest key. */
const PENDING_KEY_BYTES = 3000;

const fail = (msg: string): never => {
    throw new FleetPlanError(msg);
};

/** `f()`, with any refusal it throws as a FleetPlanError of the same message. */
function refusing<T>(f: () => T, message: (m: string) => string = (m) => m): T {
    try {
        return f();
    } catch (e) {
        return fail(message((e as Error).message));
    }
}

/**
 * The default fleet name: `<resource name>-<stack>` (just the resource name outside a stack),
 * lower-cased, every run of other characters as one `-`, no `-` at either end. It may still be
 * refused (over 32 characters): then `fleetName` must be given.
 */
export function defaultFleetName(name: string, stack: string): string {
    return (stack ? `${name}-${stack}` : name)
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, "-")
        .replace(/^-+|-+$/g, "");
}

/**
 * Why AWS would refuse a name Pulumi auto-names from PkaFleet's resource name (its children are
 * `<name>-provisioner-<suffix>-<7 hex>` and `<name>-document-document-<7 hex>`), or undefined.
 */
export function fleetResourceNameProblem(name: string): string | undefined {
    // SSM CreateDocument Name: 3-128 characters (SSM API reference).
    const named = [
        ...PROVISIONER_AUTONAMES.map((n) => ({ ...n, suffix: `provisioner-${n.suffix}` })),
        { suffix: "document-document", what: "SSM document", max: 128 },
        { suffix: "host-certificate", what: "host-certificate SSM document", max: 128 },
    ];
    const fits = Math.min(...named.map((n) => n.max - 1 - n.suffix.length - AUTONAME_SUFFIX_LENGTH));
    for (const n of named) {
        const length = name.length + 1 + n.suffix.length + AUTONAME_SUFFIX_LENGTH;
        if (length > n.max) {
            return `the resource name "${name}" is ${name.length} characters: its ${n.what} would be named \`${name}-${n.suffix}-<7 random hex>\` (${length} characters), over AWS's limit of ${n.max}; use a resource name of at most ${fits} characters (\`fleetName\` can still be up to 32).`;
        }
    }
    return undefined;
}

/** Upper bound of the spec bytes a generated key adds: its line (type, base64 blob, comment of <= 100) and JSON quoting. */
export function generatedKeyBound(g: { readonly keyType?: SshKeyType; readonly bits?: number }): number {
    const t = g.keyType ?? "ed25519";
    const blob = t === "rsa" ? Math.ceil((g.bits ?? 4096) / 8) + 40 : t === "ecdsa" ? 172 : 51;
    return 40 + Math.ceil(blob / 3) * 4 + 100 + 10;
}

/** Parameters reserved for `bytes` of spec JSON at `perChunk` bytes each (at least one). */
export function parameterSlots(bytes: number, perChunk: number): number {
    return Math.max(1, Math.ceil(bytes / perChunk));
}

// ---- the fleet's settings ----

type FleetSettings = Omit<FleetPlan, "users" | "slots" | "accessPath" | "knownHostsPath">;

/** The fleet name and its target tag. */
function planNames(name: string, args: FleetPlanInput, stack: string): Pick<FleetPlan, "fleetName" | "tag"> {
    const fleetName = args.fleetName ?? defaultFleetName(name, stack);
    if (typeof fleetName !== "string" || !FLEET_NAME.test(fleetName)) {
        fail(
            `\`fleetName\` must match ${FLEET_NAME} (it names the SSM paths /pka/<fleetName>/...)${args.fleetName === undefined ? ` (default: the resource name and the stack, "${name}" and "${stack}"; set \`fleetName\`, unique per fleet and stack in the account)` : ""}; got ${JSON.stringify(fleetName)}.`,
        );
    }
    const resourceNameProblem = fleetResourceNameProblem(name);
    if (resourceNameProblem) fail(resourceNameProblem);
    const tag = { key: args.targetTag?.key ?? "pka-fleet", value: args.targetTag?.value ?? fleetName };
    for (const [k, v, max] of [
        ["targetTag.key", tag.key, 128],
        ["targetTag.value", tag.value, 256],
    ] as const) {
        if (typeof v !== "string" || v.length === 0 || v.length > max || !TAG_TEXT.test(v)) {
            fail(
                `\`${k}\` must be 1-${max} characters of letters, digits, spaces and + - . : / @ _; got ${JSON.stringify(v)}.`,
            );
        }
    }
    if (tag.key.toLowerCase().startsWith("aws:")) fail("`targetTag.key` must not start with `aws:` (reserved by AWS).");
    return { fleetName, tag };
}

/** Everything but the users, in the order it is checked. */
function planSettings(name: string, args: FleetPlanInput, stack: string): FleetSettings {
    const { fleetName, tag } = planNames(name, args, stack);
    const keyRules = refusing(() => checkKeyRuleArgs(args.keyRules));
    const triggers = args.triggers ?? [...ALL_TRIGGERS];
    if (!Array.isArray(triggers) || triggers.length === 0) {
        fail(`\`triggers\` must list at least one of ${ALL_TRIGGERS.join(", ")}.`);
    }
    for (const [i, t] of triggers.entries()) {
        if (!ALL_TRIGGERS.includes(t))
            fail(`\`triggers[${i}]\` must be one of ${ALL_TRIGGERS.join(", ")}; got ${JSON.stringify(t)}.`);
    }
    const schedule = args.driftCorrectionSchedule || undefined;
    const badSchedule = schedule === undefined ? undefined : driftScheduleError(schedule);
    if (badSchedule) fail(`${badSchedule}.`);
    const revokeOnDestroy = args.revokeOnDestroy ?? true;
    if (typeof revokeOnDestroy !== "boolean") {
        fail(`\`revokeOnDestroy\` must be true or false; got ${JSON.stringify(revokeOnDestroy)}.`);
    }
    if (args.tags !== undefined) {
        if (typeof args.tags !== "object" || args.tags === null || Array.isArray(args.tags)) {
            fail("`tags` must be a map of tag key to value.");
        }
        const problem = tagsProblem(args.tags, 49);
        if (problem)
            fail(`\`tags\` ${problem} (PkaFleet adds pka-fleet:fleet, and AWS takes at most 50 tags a resource).`);
    }
    const logRetentionDays = args.logRetentionDays ?? 30;
    if (!RETENTION_DAYS.includes(logRetentionDays)) {
        fail(
            `\`logRetentionDays\` must be one of CloudWatch's values (${RETENTION_DAYS.join(", ")}); got ${JSON.stringify(logRetentionDays)}.`,
        );
    }
    let fallbackKeys: string[] = [];
    if (args.fallbackPublicKey !== undefined && args.fallbackPublicKey !== "") {
        fallbackKeys = [checkedKey(String(args.fallbackPublicKey), "`fallbackPublicKey`", keyRules).publicKey];
    }
    return { fleetName, tag, triggers, schedule, revokeOnDestroy, logRetentionDays, keyRules, fallbackKeys };
}

/** A public key line parsed and judged by the fleet's rules (a service account's: no security key); refused naming `label`. */
function checkedKey(line: string, label: string, keyRules: Partial<KeyRules>, service = false): KeyInfo {
    const info = refusing(() => parsePublicKey(line, label));
    const bad = judgeKey(info, keyRules, { label, service });
    if (bad.length) fail(bad.join(" "));
    return info;
}

// ---- the users ----

/** What one user adds to the plan: the planned user, its probe for the spec check, and the bytes its unknown keys may take. */
interface UserOutcome {
    user: PlannedFleetUser;
    probe: { name: string; sudo: string; keys: string[]; keyOptions?: string; adopt?: boolean };
    pendingBytes: number;
}

/** A user's generated key: it ends up in the access spec, so it must pass the fleet's rules too. */
function planGeneratedKey(u: FleetUserInput, p: string, keyRules: Partial<KeyRules>): number {
    const g = u.generateKey!;
    if (typeof g !== "object" || g === null) {
        fail(`\`${p}.generateKey\` must be an object { keyType, bits, curve, passphrase, ppk }.`);
    }
    const planned = refusing(() =>
        planSshKeyPair(
            { generate: u.service === true ? { ...g, service: true } : g, ec2KeyName: u.ec2KeyName },
            {
                generate: `${p}.generateKey`,
                ec2KeyName: `${p}.ec2KeyName`,
                service: `${p}.service`,
                requirePassphrase: keyRules.requirePassphrase ?? DEFAULT_KEY_RULES.requirePassphrase,
            },
        ),
    );
    // Otherwise the Lambda would refuse the whole spec at run time.
    const spec = planned.source === "generate" ? planned.spec : fail(`\`${p}.generateKey\`: no key specification`);
    const ec2 = u.ec2KeyName !== undefined;
    const bad = judgeKeySpec({ type: spec.keyType, bits: spec.bits, curve: spec.curve }, keyRules, {
        ec2Import: ec2,
        service: true,
        label: `\`${p}.generateKey\``,
    });
    if (bad.length) fail(bad.join(" ") + (ec2 ? ` (\`${p}.ec2KeyName\` is set.)` : ""));
    return generatedKeyBound(g);
}

/** A user's `keyOptions` with `fromCidrs` as `from="..."`, normalized. */
function planKeyOptions(u: FleetUserInput, p: string): string | undefined {
    let keyOptions = u.keyOptions;
    if (u.fromCidrs !== undefined) {
        if (
            !Array.isArray(u.fromCidrs) ||
            u.fromCidrs.length === 0 ||
            u.fromCidrs.some((c) => typeof c !== "string" || !/^[0-9A-Fa-f.:/]+$/.test(c))
        ) {
            fail(`\`${p}.fromCidrs\` must be a non-empty list of addresses or CIDRs such as "10.0.0.0/16".`);
        }
        const from = `from="${u.fromCidrs.join(",")}"`;
        keyOptions = keyOptions ? `${keyOptions},${from}` : from;
    }
    if (keyOptions === undefined) return undefined;
    const label = `\`${p}.keyOptions\`${u.fromCidrs ? " (with fromCidrs)" : ""}`;
    return refusing(() => normalizeKeyOptions(keyOptions, label));
}

/** A user's keys: the plain ones checked, and what the keys known only at deployment (Outputs, the generated key) reserve. */
function planKeys(
    u: FleetUserInput,
    p: string,
    keyRules: Partial<KeyRules>,
): { plainKeys: string[]; pendingKeys: number; pendingBytes: number } {
    if (u.publicKeys !== undefined && !Array.isArray(u.publicKeys)) {
        fail(`\`${p}.publicKeys\` must be a list of OpenSSH public key lines.`);
    }
    const plainKeys: string[] = [];
    let pendingKeys = 0;
    let pendingBytes = 0;
    for (const [j, k] of (u.publicKeys ?? []).entries()) {
        if (typeof k === "string") {
            const label = `\`${p}.publicKeys[${j}]\`${u.service === true ? ` (${u.name} is a service account)` : ""}`;
            plainKeys.push(checkedKey(k, label, keyRules, u.service === true).publicKey);
        } else {
            pendingKeys++;
            pendingBytes += PENDING_KEY_BYTES;
        }
    }
    if (u.generateKey !== undefined) {
        pendingBytes += planGeneratedKey(u, p, keyRules);
        pendingKeys++;
    } else if (u.ec2KeyName !== undefined) {
        fail(`\`${p}.ec2KeyName\` needs \`${p}.generateKey\`: only a generated key is registered as an EC2 key pair.`);
    }
    return { plainKeys, pendingKeys, pendingBytes };
}

/** A user's sudoCommands and groups, checked as the spec checks them, in the names of PkaFleet's args. */
function planUserAccess(u: FleetUserInput, p: string, sudo: string): Pick<PlannedFleetUser, "sudoCommands" | "groups"> {
    try {
        const sudoCommands = normalizeSudoCommands(u.sudoCommands, sudo, `${p}.sudoCommands`);
        const groups = normalizeGroups(u.groups, u.name, `${p}.groups`);
        return { ...(sudoCommands ? { sudoCommands } : {}), ...(groups ? { groups } : {}) };
    } catch (e) {
        if (e instanceof AccessSpecError) {
            const at = e.message.indexOf(": ");
            return fail(`\`${e.path}\`${e.message.slice(at + 1)}.`);
        }
        throw e;
    }
}

/** One user, checked: name, sudo, keys, generated key, options, adopt, identity file. */
function planUser(u: FleetUserInput, i: number, keyRules: Partial<KeyRules>, certificates: boolean): UserOutcome {
    const p = `users[${i}]`;
    if (!u || typeof u !== "object") fail(`\`${p}\` must be an object { name, sudo, publicKeys | generateKey }.`);
    if (typeof u.name !== "string") fail(`\`${p}.name\` is required: the login name.`);
    const problem = userNameProblem(u.name);
    // A reserved name's reason starts with the name itself: said once.
    if (problem) {
        fail(
            `\`${p}.name\` ${JSON.stringify(u.name)} ${problem.startsWith(`'${u.name}' `) ? problem.slice(u.name.length + 3) : problem}.`,
        );
    }
    const sudo = u.sudo ?? "none";
    if (sudo !== "nopasswd" && sudo !== "password" && sudo !== "none")
        fail(`\`${p}.sudo\` must be "nopasswd", "password" or "none"; got ${JSON.stringify(sudo)}.`);
    const access = planUserAccess(u, p, sudo);
    const keys = planKeys(u, p, keyRules);
    const principals = planPrincipals(u.principals, certificates, `${p}.principals`);
    const keyOptions = planKeyOptions(u, p);
    if (u.adopt !== undefined && typeof u.adopt !== "boolean")
        fail(`\`${p}.adopt\` must be true or false; got ${JSON.stringify(u.adopt)}.`);
    const adopt = u.adopt === true;
    if (
        u.identityFile !== undefined &&
        (typeof u.identityFile !== "string" ||
            !IDENTITY_FILE.test(u.identityFile) ||
            u.identityFile.split("/").includes(".."))
    ) {
        fail(
            `\`${p}.identityFile\` must be an absolute path or ~/... of letters, digits and ._-/ (the private key's place on the central server); got ${JSON.stringify(u.identityFile)}.`,
        );
    }
    const user: PlannedFleetUser = {
        name: u.name,
        sudo,
        ...access,
        keyOptions,
        plainKeys: keys.plainKeys,
        pendingKeys: keys.pendingKeys,
        generate: u.generateKey,
        ec2KeyName: u.ec2KeyName,
        service: u.service === true,
        adopt,
        ...(u.identityFile !== undefined ? { identityFile: u.identityFile } : {}),
        ...(principals ? { principals } : {}),
    };
    const probe = {
        name: u.name,
        sudo,
        ...access,
        keys: keys.pendingKeys > 0 ? [...keys.plainKeys, PROBE_KEY] : keys.plainKeys,
        ...(keyOptions ? { keyOptions } : {}),
        ...(adopt ? { adopt } : {}),
        ...(principals ? { principals } : {}),
    };
    return { user, probe, pendingBytes: keys.pendingBytes };
}

// ---- the plan ----

/**
 * Validates PkaFleet's args before any resource exists (`stack`: the stack the fleet is deployed
 * in, for the default fleet name). Throws a FleetPlanError with a message naming the input.
 */
export function planFleet(name: string, args: FleetPlanInput, stack: string): FleetPlan {
    if (!args || typeof args !== "object") fail("`args` is required: { users: [...] }.");
    const settings = planSettings(name, args, stack);
    if (!Array.isArray(args.users) || args.users.length === 0) {
        fail("`users` must list at least one user: { name, sudo, publicKeys | generateKey }.");
    }
    const certs = planCertificates(args.certificates);
    const outcomes = args.users.map((u, i) => planUser(u, i, settings.keyRules, certs !== undefined));
    // The same validation the Lambda and the on-host script apply: names (unique, not reserved),
    // options, keys, fallback. Users whose keys are not known yet are checked with a probe key.
    let known: AccessSpec;
    try {
        known = validateAccessSpec(
            { users: outcomes.map((o) => o.probe), ...(certs ? { certificates: certs.probe } : {}) },
            { keyRules: settings.keyRules, fallbackKeys: settings.fallbackKeys, now: new Date() },
        );
    } catch (e) {
        return fail(specProblem(e, plainKeyInputs(args.users)));
    }
    refusing(
        () => documentParameters(known), // SSM's 64 KB limit for document plus parameters
        (m) => `\`users\`: ${m}`,
    );
    const pendingBytes = outcomes.reduce((sum, o) => sum + o.pendingBytes, certs?.pendingBytes ?? 0);
    const slots = parameterSlots(Buffer.byteLength(canonicalAccessSpecJson(known)) + pendingBytes, ACCESS_CHUNK_BYTES);
    if (slots > ACCESS_MAX_CHUNKS) {
        fail(
            `\`users\`: the access spec would need ${slots} SSM parameters (more than ${ACCESS_MAX_CHUNKS}); split the fleet.`,
        );
    }
    return {
        ...settings,
        accessPath: `/pka/${settings.fleetName}/access`,
        knownHostsPath: `/pka/${settings.fleetName}/known_hosts`,
        users: outcomes.map((o) => o.user),
        ...(certs ? { certificates: { caInputs: certs.caInputs } } : {}),
        slots,
    };
}
