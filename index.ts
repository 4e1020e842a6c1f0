// The stack program that `pulumi up` runs on this repository (Pulumi.yaml `main: index.ts`).
// It builds one PkaFleet from the typed stack config declared in Pulumi.yaml; Pulumi.example.yaml
// is a complete example. The package entry (package.json) is the component library, not this file.
import * as pulumi from "@pulumi/pulumi";
import { defaultFleetName, FleetUser, PkaFleet } from "./components/PkaFleet";
import { FleetKeyRules } from "./components/Provisioner";
import { checkKeyRules, KeyRules } from "./core/keys";

const config = new pulumi.Config();

/** Reads `users` (Pulumi.yaml cannot type a list of objects) and checks its shape, naming the key. */
function readUsers(): FleetUser[] {
    const raw = config.requireObject<unknown>("users");
    const where = `config \`${config.name}:users\``;
    if (!Array.isArray(raw)) throw new Error(`${where} must be a list of users: [{ name, sudo, publicKeys | generateKey }].`);
    const fields = ["name", "sudo", "publicKeys", "generateKey", "ec2KeyName", "service", "keyOptions", "fromCidrs", "adopt", "identityFile"];
    const keyFields = ["keyType", "bits", "curve", "comment", "rotationTrigger", "ppk"];
    return raw.map((u: unknown, i: number) => {
        if (typeof u !== "object" || u === null || Array.isArray(u)) throw new Error(`${where}[${i}] must be an object { name, sudo, publicKeys | generateKey }.`);
        const user = u as Record<string, unknown>;
        for (const k of Object.keys(user)) {
            if (!fields.includes(k)) throw new Error(`${where}[${i}].${k} is not a user field; the fields are ${fields.join(", ")}.`);
        }
        if (user.publicKeys !== undefined && (!Array.isArray(user.publicKeys) || user.publicKeys.some((k) => typeof k !== "string"))) {
            throw new Error(`${where}[${i}].publicKeys must be a list of OpenSSH public key lines.`);
        }
        const gen = user.generateKey;
        if (gen !== undefined) {
            if (typeof gen !== "object" || gen === null || Array.isArray(gen)) throw new Error(`${where}[${i}].generateKey must be an object { keyType, bits, curve, ppk }.`);
            for (const k of Object.keys(gen)) {
                if (k === "passphrase") throw new Error(`${where}[${i}].generateKey.passphrase must not be in plain config: set it as a secret in keyPassphrases (pulumi config set --secret --path 'keyPassphrases.${String(user.name)}' ...).`);
                if (!keyFields.includes(k)) throw new Error(`${where}[${i}].generateKey.${k} is not a key field; the fields are ${keyFields.join(", ")}.`);
            }
        }
        const name = String(user.name);
        const passphrase = passphrases[name];
        return {
            ...(user as unknown as FleetUser),
            ...(gen !== undefined ? { generateKey: { ...(gen as object), ...(passphrase !== undefined ? { passphrase: pulumi.secret(passphrase) } : {}) } } : {}),
        };
    });
}

// Passphrases are secrets (`pulumi config set --secret --path 'keyPassphrases.<user>' ...`). Which
// users have one must be known now (a person's generated key needs one), so the map is read as a
// plain structure here, never logged, and every value is re-wrapped with pulumi.secret above.
const passphrases: Record<string, string> = {};
{
    const plain = config.getObject<unknown>("keyPassphrases") ?? {};
    if (typeof plain !== "object" || plain === null || Array.isArray(plain)) throw new Error(`config \`${config.name}:keyPassphrases\` must be a map from user name to passphrase.`);
    for (const [user, value] of Object.entries(plain)) {
        if (typeof value !== "string" || value === "") throw new Error(`config \`${config.name}:keyPassphrases.${user}\` must be a non-empty string.`);
        passphrases[user] = value;
    }
    // A passphrase typed in plain text sits unencrypted in Pulumi.<stack>.yaml: refuse it. The
    // engine lists the config keys that hold secrets; the SDK exposes that list as isConfigSecret.
    const isConfigSecret = (pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean }).isConfigSecret;
    if (typeof isConfigSecret !== "function") throw new Error("this @pulumi/pulumi cannot tell secret config from plain config; pka-fleet needs 3.x with runtime.isConfigSecret");
    if (Object.keys(passphrases).length > 0 && !isConfigSecret(`${config.name}:keyPassphrases`)) {
        throw new Error(`config \`${config.name}:keyPassphrases\` holds passphrases in plain text; set each with \`pulumi config set --secret --path 'keyPassphrases.<user>' ...\`.`);
    }
}

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

// Unset (or ""): PkaFleet's default, `main-<stack>`, so the stacks of this program (dev, prod, ...) in one
// account never share parameter paths or instances; the tag value defaults to the same fleet name.
const fleetName = config.get("fleetName") || undefined;
const fleet = new PkaFleet(fleetName ?? "main", {
    fleetName,
    targetTag: { key: config.get("targetTagKey") || "pka-fleet", value: config.get("targetTagValue") || fleetName || defaultFleetName("main", pulumi.getStack()) },
    users: readUsers(),
    fallbackPublicKey: config.get("fallbackPublicKey") || undefined,
    triggers: config.getObject("triggers"),
    driftCorrectionSchedule: config.get("driftCorrectionSchedule") || undefined,
    logRetentionDays: config.getNumber("logRetentionDays") ?? 30,
    keyRules: readKeyRules(),
});

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
