// The stack program that `pulumi up` runs on this repository (Pulumi.yaml `main: index.ts`).
// It builds one PkaFleet from the typed stack config declared in Pulumi.yaml; Pulumi.example.yaml
// is a complete example. The package entry (package.json) is the component library, not this file.
import * as pulumi from "@pulumi/pulumi";
import { FleetUser, PkaFleet } from "./components/PkaFleet";
import { defaultFleetName } from "./core/fleetPlan";
import { FleetKeyRules } from "./core/keyRuleArgs";
import { checkKeyRules, DEFAULT_KEY_RULES, KeyRules } from "./core/keys";

const config = new pulumi.Config();

const USER_FIELDS = [
    "name",
    "sudo",
    "sudoCommands",
    "groups",
    "publicKeys",
    "generateKey",
    "ec2KeyName",
    "service",
    "keyOptions",
    "fromCidrs",
    "adopt",
    "identityFile",
    "principals",
];
const KEY_FIELDS = ["keyType", "bits", "curve", "comment", "rotationTrigger", "ppk"];

/** One entry of `users` as an object of user fields, its publicKeys plain key lines. */
function checkUserShape(u: unknown, at: string): Record<string, unknown> {
    if (typeof u !== "object" || u === null || Array.isArray(u))
        throw new pulumi.RunError(`${at} must be an object { name, sudo, publicKeys | generateKey }.`);
    const user = u as Record<string, unknown>;
    for (const k of Object.keys(user)) {
        if (!USER_FIELDS.includes(k))
            throw new pulumi.RunError(`${at}.${k} is not a user field; the fields are ${USER_FIELDS.join(", ")}.`);
    }
    if (
        user.publicKeys !== undefined &&
        (!Array.isArray(user.publicKeys) || user.publicKeys.some((k) => typeof k !== "string"))
    ) {
        throw new pulumi.RunError(`${at}.publicKeys must be a list of OpenSSH public key lines.`);
    }
    return user;
}

/** A user's `generateKey`: an object of key fields, never a passphrase (that belongs in keyPassphrases, a secret). */
function checkGenerateKey(gen: unknown, at: string, userName: unknown): void {
    if (typeof gen !== "object" || gen === null || Array.isArray(gen))
        throw new pulumi.RunError(`${at}.generateKey must be an object { keyType, bits, curve, ppk }.`);
    for (const k of Object.keys(gen)) {
        if (k === "passphrase") {
            throw new pulumi.RunError(
                `${at}.generateKey.passphrase must not be in plain config: set it as a secret in keyPassphrases (pulumi config set --secret --path 'keyPassphrases.${String(userName)}' ...).`,
            );
        }
        if (!KEY_FIELDS.includes(k))
            throw new pulumi.RunError(
                `${at}.generateKey.${k} is not a key field; the fields are ${KEY_FIELDS.join(", ")}.`,
            );
    }
}

/** One user of the config, with its generated key's passphrase (from keyPassphrases) as a secret. */
function readUser(u: unknown, i: number, where: string): FleetUser {
    const user = checkUserShape(u, `${where}[${i}]`);
    const gen = user.generateKey;
    if (gen !== undefined) checkGenerateKey(gen, `${where}[${i}]`, user.name);
    const name = String(user.name);
    const passphrase = passphrases[name];
    // Checked here, not by PkaFleet: its message would name `generateKey.passphrase`, a field this
    // config refuses; the passphrase belongs in keyPassphrases.
    const requirePassphrase = config.getBoolean("requirePassphrase") ?? DEFAULT_KEY_RULES.requirePassphrase;
    if (gen !== undefined && passphrase === undefined && user.service !== true && requirePassphrase) {
        throw new pulumi.RunError(
            `config \`${config.name}:keyPassphrases.${name}\` is required: ${where}[${i}] (${name}) has a generateKey and is a person (service is not true), and a person's private key must be passphrase-protected; set it with \`pulumi config set --secret --path 'keyPassphrases.${name}' ...\`, or set service: true for a non-interactive account.`,
        );
    }
    return {
        ...(user as unknown as FleetUser),
        ...(gen !== undefined
            ? {
                  generateKey: {
                      ...(gen as object),
                      ...(passphrase !== undefined ? { passphrase: pulumi.secret(passphrase) } : {}),
                  },
              }
            : {}),
    };
}

/** Reads `users` (Pulumi.yaml cannot type a list of objects) and checks its shape, naming the key. */
function readUsers(): FleetUser[] {
    const raw = config.requireObject<unknown>("users");
    const where = `config \`${config.name}:users\``;
    if (!Array.isArray(raw))
        throw new pulumi.RunError(`${where} must be a list of users: [{ name, sudo, publicKeys | generateKey }].`);
    const users = raw.map((u: unknown, i: number) => readUser(u, i, where));
    // A passphrase under a name no generated key has (a typo) would leave that key unencrypted.
    const generated = new Set(users.filter((u) => u.generateKey !== undefined).map((u) => u.name));
    for (const name of Object.keys(passphrases)) {
        if (!generated.has(name))
            throw new pulumi.RunError(
                `config \`${config.name}:keyPassphrases.${name}\` names no user of ${where} with a generateKey, so it would encrypt nothing; remove it, or correct the user name.`,
            );
    }
    return users;
}

/**
 * PkaFleet's refusals name its args (`users[1].publicKeys[0]`, `targetTag.key`); the user of this
 * program wrote stack config, so the message names the config key (config `pka-fleet:users`[1].publicKeys[0]).
 */
function inConfigTerms(message: string, users: readonly { name?: unknown }[]): string {
    const key = (k: string) => `config \`${config.name}:${k}\``;
    const direct: Record<string, string> = {
        fleetName: "fleetName",
        "targetTag.key": "targetTagKey",
        "targetTag.value": "targetTagValue",
        fallbackPublicKey: "fallbackPublicKey",
        driftCorrectionSchedule: "driftCorrectionSchedule",
        revokeOnDestroy: "revokeOnDestroy",
        logRetentionDays: "logRetentionDays",
        "keyRules.allowedTypes": "allowedKeyTypes",
        "keyRules.minRsaBits": "minRsaBits",
        "keyRules.allowedCurves": "allowedCurves",
        "keyRules.ec2ImportRsaBits": "ec2ImportRsaBits",
        "keyRules.requirePassphrase": "requirePassphrase",
        "certificates.revokedKeys": "revokedKeys",
        certificates: "userCaKeys",
    };
    return message.replace(/^PkaFleet "[^"]*": /, "").replace(/`([A-Za-z][A-Za-z0-9.[\]]*)`/g, (all, ref: string) => {
        let m: RegExpExecArray | null;
        if ((m = /^users\[(\d+)\]\.generateKey\.passphrase$/.exec(ref)))
            return key(`keyPassphrases.${String(users[Number(m[1])]?.name)}`);
        if ((m = /^users((?:\[\d+\])(?:\.[A-Za-z]+(?:\[\d+\])?)*)?$/.exec(ref))) return `${key("users")}${m[1] ?? ""}`;
        if ((m = /^triggers(\[\d+\])?$/.exec(ref))) return `${key("triggers")}${m[1] ?? ""}`;
        if ((m = /^certificates\.userCaKeys(\[\d+\])?$/.exec(ref))) return `${key("userCaKeys")}${m[1] ?? ""}`;
        return direct[ref] ? key(direct[ref]) : all;
    });
}

/** Builds the fleet; a refusal is reported in config terms, without a stack trace (a RunError). */
function buildFleet(make: () => PkaFleet, users: readonly FleetUser[]): PkaFleet {
    try {
        return make();
    } catch (e) {
        throw new pulumi.RunError(inConfigTerms((e as Error).message, users));
    }
}

/**
 * Passphrases are secrets (`pulumi config set --secret --path 'keyPassphrases.<user>' ...`). Which
 * users have one must be known now (a person's generated key needs one), so the map is read as a
 * plain structure here, never logged, and every value is re-wrapped with pulumi.secret (readUser).
 */
function readPassphrases(): Record<string, string> {
    const passphrases: Record<string, string> = {};
    const plain = config.getObject<unknown>("keyPassphrases") ?? {};
    if (typeof plain !== "object" || plain === null || Array.isArray(plain))
        throw new pulumi.RunError(
            `config \`${config.name}:keyPassphrases\` must be a map from user name to passphrase.`,
        );
    for (const [user, value] of Object.entries(plain)) {
        if (typeof value !== "string" || value === "")
            throw new pulumi.RunError(`config \`${config.name}:keyPassphrases.${user}\` must be a non-empty string.`);
        passphrases[user] = value;
    }
    // A passphrase typed in plain text sits unencrypted in Pulumi.<stack>.yaml: refuse it. The
    // engine lists the config keys that hold secrets; the SDK exposes that list as isConfigSecret.
    const isConfigSecret = (pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean }).isConfigSecret;
    if (typeof isConfigSecret !== "function")
        throw new pulumi.RunError(
            "this @pulumi/pulumi cannot tell secret config from plain config; pka-fleet needs 3.x with runtime.isConfigSecret",
        );
    if (Object.keys(passphrases).length > 0 && !isConfigSecret(`${config.name}:keyPassphrases`)) {
        throw new pulumi.RunError(
            `config \`${config.name}:keyPassphrases\` holds passphrases in plain text; set each with \`pulumi config set --secret --path 'keyPassphrases.<user>' ...\`.`,
        );
    }
    return passphrases;
}
const passphrases = readPassphrases();

/**
 * The key rules (the policy pack's ssh-key-algorithm and ssh-key-passphrase fields), each from its
 * own config key, checked like a policy config with messages naming the config key. Unset keys keep
 * PkaFleet's defaults (the same values Pulumi.yaml declares as defaults).
 */
function readKeyRules(): FleetKeyRules {
    const keys: Record<keyof KeyRules, string> = {
        allowedTypes: "allowedKeyTypes",
        minRsaBits: "minRsaBits",
        allowedCurves: "allowedCurves",
        ec2ImportRsaBits: "ec2ImportRsaBits",
        requirePassphrase: "requirePassphrase",
    };
    const rules: Partial<KeyRules> = {
        allowedTypes: config.getObject<string[]>(keys.allowedTypes),
        minRsaBits: config.getNumber(keys.minRsaBits),
        allowedCurves: config.getObject<string[]>(keys.allowedCurves),
        ec2ImportRsaBits: config.getNumber(keys.ec2ImportRsaBits),
        requirePassphrase: config.getBoolean(keys.requirePassphrase),
    };
    return checkKeyRules(rules, (k) => `config \`${config.name}:${keys[k]}\``);
}

/** Certificate mode from config: on when userCaKeys lists a CA. */
function readCertificates(): { userCaKeys: string[]; revokedKeys?: string } | undefined {
    const cas = config.getObject<unknown>("userCaKeys") ?? [];
    if (!Array.isArray(cas) || cas.some((k) => typeof k !== "string"))
        throw new pulumi.RunError(`config \`${config.name}:userCaKeys\` must be a list of OpenSSH public key lines.`);
    const revoked = config.get("revokedKeys") || undefined;
    if (cas.length === 0) {
        if (revoked)
            throw new pulumi.RunError(
                `config \`${config.name}:revokedKeys\` needs \`${config.name}:userCaKeys\` (certificate mode).`,
            );
        return undefined;
    }
    return { userCaKeys: cas as string[], ...(revoked ? { revokedKeys: revoked } : {}) };
}

// Unset (or ""): PkaFleet's default, `main-<stack>`, so the stacks of this program (dev, prod, ...) in one
// account never share parameter paths or instances; the tag value defaults to the same fleet name.
const fleetName = config.get("fleetName") || undefined;
const users = readUsers();
const fleet = buildFleet(
    () =>
        new PkaFleet(fleetName ?? "main", {
            fleetName,
            targetTag: {
                key: config.get("targetTagKey") || "pka-fleet",
                value: config.get("targetTagValue") || fleetName || defaultFleetName("main", pulumi.getStack()),
            },
            users,
            fallbackPublicKey: config.get("fallbackPublicKey") || undefined,
            triggers: config.getObject("triggers"),
            driftCorrectionSchedule: config.get("driftCorrectionSchedule") || undefined,
            revokeOnDestroy: config.getBoolean("revokeOnDestroy") ?? true,
            logRetentionDays: config.getNumber("logRetentionDays") ?? 30,
            keyRules: readKeyRules(),
            certificates: readCertificates(),
        }),
    users,
);

export const documentName = fleet.documentName;
export const queueUrl = fleet.queueUrl;
export const dlqUrl = fleet.dlqUrl;
export const accessParameterPath = fleet.accessParameterPath;
export const knownHostsPath = fleet.knownHostsPath;
export const accessSpecHash = fleet.accessSpecHash;
export const fingerprints = fleet.fingerprints;
export const sshConfig = fleet.sshConfig;
export const knownHostsCommand = fleet.knownHostsCommand;
export const privateKeys = fleet.privateKeys;
export const privateKeysPpk = fleet.privateKeysPpk;
