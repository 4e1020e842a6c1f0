/**
 * The SSH key rules: ssh-key-algorithm, ssh-key-passphrase, ssh-key-max-age. The judging itself
 * is core/keys.ts (judgeKey / judgeKeySpec, the same functions `pka check-key` uses); this file
 * only finds the keys in a stack's resources, whatever their type:
 *  - our SshKeyPair (outputs) and the dynamic resource that generates it (inputs),
 *  - aws.ec2.KeyPair.publicKey (imported into EC2: by default rsa of exactly 4096 bits, or ed25519),
 *  - tls.PrivateKey (algorithm, rsaBits default 2048, ecdsaCurve default P224),
 *  - public key lines in SSM parameters (access specs, chunked or not), SSM documents,
 *    associations, user data and commands, and private keys anywhere in inputs.
 */
import type {
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";
import {
    judgeKey,
    judgeKeySpec,
    KeyEncryptedError,
    KeyError,
    KeyInfo,
    keyRulesFromPolicyConfig,
    KeyRules,
    parseKey,
    parsePublicKey,
} from "../core/keys";
import { readConfig } from "./config";
import { caKeyProblem } from "../core/certs/options";
import { KEY_ALGORITHM, KEY_MAX_AGE, KEY_PASSPHRASE, KeyPassphraseConfig } from "./ruleConfig";
import { findPrivateKeys } from "./secrets";
import { scriptsOfResource } from "./documents";
import { analysisDate, describe, isObject, isUnknown, num, pathString, str, unwrap, walkStrings } from "./util";

const SSH_KEY_PAIR = "pka-fleet:index:SshKeyPair";
/** SshCertificateAuthority: its publicKey output is judged by the key rules and as a CA. */
const SSH_CA = "pka-fleet:index:SshCertificateAuthority";
const isDynamic = (type: string) => type.startsWith("pulumi-nodejs:dynamic");

/** A key found in a resource, as much as the resource says about it. */
export type FoundKey =
    | { kind: "line"; where: string; line: string; ec2Import?: boolean; ca?: boolean }
    | { kind: "spec"; where: string; spec: { type: string; bits?: number; curve?: string }; ec2Import?: boolean }
    | { kind: "private"; where: string; text: string };

/** OpenSSH public key lines inside any text (JSON, YAML, scripts); the comment is not needed to judge. */
const KEY_LINE =
    /(?:^|[\s"'=,>:[])((?:sk-)?(?:ssh-(?:ed25519|rsa|dss)|ecdsa-sha2-nistp\d+)(?:@openssh\.com)?(?:-cert-v01@openssh\.com)?[ \t]+AAAA[A-Za-z0-9+/]+={0,3})/g;

export function keyLinesIn(text: string): string[] {
    const out: string[] = [];
    let m: RegExpExecArray | null;
    KEY_LINE.lastIndex = 0;
    while ((m = KEY_LINE.exec(text)) !== null) out.push(m[1]);
    return out;
}

/** The header core/accessStore.ts puts before each chunk of the access spec JSON. */
export const CHUNK_HEADER = /^pka1 [0-9a-f]{64} \d+\/\d+\n/;

/** Keys of an SSM parameter value: an access spec (users[].keys, possibly one chunk of it) or plain key lines. */
function keysOfParameterValue(value: string): FoundKey[] {
    const body = value.replace(CHUNK_HEADER, "");
    try {
        const spec = JSON.parse(body);
        if (isObject(spec) && Array.isArray(spec.users)) {
            const out: FoundKey[] = [];
            spec.users.forEach((u: unknown, i: number) => {
                if (!isObject(u) || !Array.isArray(u.keys)) return;
                const who = typeof u.name === "string" ? ` (user ${u.name})` : "";
                u.keys.forEach((k: unknown, j: number) => {
                    if (typeof k === "string")
                        out.push({ kind: "line", where: `value users[${i}].keys[${j}]${who}`, line: k });
                });
            });
            // certificate mode: the user CAs are keys too, judged by the key rules and as CAs
            const cas = isObject(spec.certificates) ? spec.certificates.userCaKeys : undefined;
            if (Array.isArray(cas))
                cas.forEach((k: unknown, j: number) => {
                    if (typeof k === "string")
                        out.push({ kind: "line", where: `value certificates.userCaKeys[${j}]`, line: k, ca: true });
                });
            return out;
        }
    } catch {
        // not (a whole) JSON spec: a chunk of a larger one, or plain text
    }
    return keyLinesIn(body).map((line) => ({ kind: "line" as const, where: "value", line }));
}

/** tls.PrivateKey inputs -> key spec, with the provider's defaults (rsaBits 2048, ecdsaCurve P224). */
function tlsSpec(props: Record<string, unknown>): { type: string; bits?: number; curve?: string } | undefined {
    const algorithm = str(props.algorithm);
    if (algorithm === undefined) return undefined;
    switch (algorithm.toUpperCase()) {
        case "RSA":
            return isUnknown(props.rsaBits) ? undefined : { type: "rsa", bits: num(props.rsaBits) ?? 2048 };
        case "ECDSA":
            return isUnknown(props.ecdsaCurve) ? undefined : { type: "ecdsa", curve: str(props.ecdsaCurve) ?? "P224" };
        case "ED25519":
            return { type: "ed25519" };
        default:
            return { type: algorithm.toLowerCase() };
    }
}

/** Key arguments (`keyType`/`bits`/`curve`) as our dynamic resource and component take them. */
function specOfArgs(a: Record<string, unknown>): { type: string; bits?: number; curve?: string } | undefined {
    const type = str(a.keyType);
    if (type === undefined) return undefined;
    if (isUnknown(a.bits) || isUnknown(a.curve)) return undefined;
    const bits = num(a.bits) ?? (type === "rsa" ? 4096 : undefined);
    const curve =
        str(a.curve) ??
        (type === "ecdsa"
            ? (({ 384: "nistp384", 521: "nistp521" } as Record<number, string>)[bits ?? 0] ?? "nistp256")
            : undefined);
    return { type, bits, curve };
}

/** Every key a resource's inputs mention. */
export function keysOfInputs(type: string, rawProps: unknown): FoundKey[] {
    const props = unwrap(rawProps) as Record<string, unknown>;
    if (!isObject(props)) return [];
    const out: FoundKey[] = [];
    if (type === "aws:ec2/keyPair:KeyPair") {
        const line = str(props.publicKey);
        if (line !== undefined) out.push({ kind: "line", where: "publicKey", line: line.trim(), ec2Import: true });
    } else if (type === "tls:index/privateKey:PrivateKey") {
        const spec = tlsSpec(props);
        if (spec) out.push({ kind: "spec", where: "algorithm", spec });
    } else if (type === SSH_KEY_PAIR) {
        // Inputs reach the engine when the component is constructed through the plugin (Python/Go/YAML).
        const ec2Import = props.ec2KeyName !== undefined;
        for (const source of ["generate", "onHost"]) {
            const a = props[source];
            const spec = isObject(a) ? specOfArgs({ keyType: "ed25519", ...a }) : undefined;
            if (spec) out.push({ kind: "spec", where: source, spec, ec2Import });
        }
        const line = str(props.publicKey);
        if (line !== undefined) out.push({ kind: "line", where: "publicKey", line: line.trim(), ec2Import });
    } else if (isDynamic(type)) {
        const spec = specOfArgs(props);
        if (spec) out.push({ kind: "spec", where: "keyType", spec });
    } else if (type === "aws:ssm/parameter:Parameter") {
        for (const k of ["value", "insecureValue"]) {
            const v = str(props[k]);
            if (v !== undefined)
                out.push(...keysOfParameterValue(v).map((f) => ({ ...f, where: f.where.replace(/^value/, k) })));
        }
    } else {
        for (const s of scriptsOfResource(type, props)) {
            for (const line of keyLinesIn(s.text)) out.push({ kind: "line", where: s.where, line });
        }
    }
    walkStrings(props, (path, text) => {
        for (const block of findPrivateKeys(text))
            out.push({ kind: "private", where: pathString(path), text: block.text });
    });
    return out;
}

function keyRules(args: { getConfig<U extends object>(): U }): Partial<KeyRules> {
    // The same reading of the config as `pka check-key --config`.
    return keyRulesFromPolicyConfig({ "ssh-key-algorithm": readConfig(args, KEY_ALGORITHM) });
}

/** Violations of the algorithm/size rules for one found key ([] when allowed or not judgeable). */
export function judgeFound(r: { type: string; name: string }, k: FoundKey, rules: Partial<KeyRules>): string[] {
    const label = `${describe(r)} ${k.where}`;
    // The passphrase is ssh-key-passphrase's business, with its own idea of a service account.
    const ctx = { ec2Import: k.kind !== "private" && k.ec2Import === true, noPassphraseRule: true, label };
    try {
        if (k.kind === "spec") return judgeKeySpec(k.spec, rules, ctx);
        if (k.kind === "line") {
            const info = parsePublicKey(k.line, label);
            const ca = k.ca ? caKeyProblem(info) : undefined;
            return [...judgeKey(info, rules, ctx), ...(ca ? [`${label}: ${ca}`] : [])];
        }
        return judgeKey(parseKey(k.text, { label }), rules, ctx);
    } catch (e) {
        if (e instanceof KeyEncryptedError) return [];
        // A key line we cannot parse: for aws.ec2.KeyPair EC2 refuses it anyway, so say why here.
        if (e instanceof KeyError && k.kind === "line" && k.ec2Import) return [(e as Error).message];
        return [];
    }
}

export const sshKeyAlgorithm: ResourceValidationPolicy & StackValidationPolicy = {
    name: KEY_ALGORITHM.name,
    description:
        "Checks whether SSH keys use an allowed type and size: ed25519, ecdsa nistp256/384/521, rsa >= 3072 bits (by default exactly 4096 where imported into EC2), FIDO2 security keys (sk-ed25519, sk-ecdsa); never dsa, rsa1 or ecdsa P-224.",
    enforcementLevel: "mandatory",
    configSchema: KEY_ALGORITHM.schema,
    validateResource: (args: ResourceValidationArgs, reportViolation) => {
        const rules = keyRules(args);
        const seen = new Set<string>();
        for (const k of keysOfInputs(args.type, args.props)) {
            for (const v of judgeFound(args, k, rules)) {
                if (!seen.has(v)) reportViolation(v);
                seen.add(v);
            }
        }
    },
    // Our SshKeyPair learns its key only when it is created: judge its outputs.
    validateStack: (args: StackValidationArgs, reportViolation) => {
        const rules = keyRules(args);
        for (const r of args.resources) {
            const ca = r.type === SSH_CA;
            if (r.type !== SSH_KEY_PAIR && !ca) continue;
            const props = unwrap(r.props) as Record<string, unknown>;
            const line = str(props?.publicKey);
            if (line === undefined) continue;
            const ec2Import = str(props.ec2KeyName) !== undefined;
            for (const v of judgeFound(r, { kind: "line", where: "publicKey", line, ec2Import, ca }, rules))
                reportViolation(v, r.urn);
        }
    },
};

// ---------------------------------------------------------------------------------------------
// ssh-key-passphrase

/** Whether any of the names belongs to a service account by the config. */
export function isServiceAccount(names: (string | undefined)[], cfg: KeyPassphraseConfig): boolean {
    const patterns = cfg.serviceAccountPatterns.map((p) => {
        try {
            return new RegExp(p, "i");
        } catch (e) {
            throw new Error(
                `ssh-key-passphrase: serviceAccountPatterns entry ${JSON.stringify(p)} is not a valid regular expression (${(e as Error).message}); fix it in the policy pack config`,
            );
        }
    });
    return names.some(
        (n) =>
            n !== undefined && n !== "" && (cfg.serviceAccountUsers.includes(n) || patterns.some((re) => re.test(n))),
    );
}

const PASSPHRASE_ADVICE =
    "A person's private key must be passphrase-protected: set a passphrase (SshKeyPair `generate.passphrase`, `pka keygen --passphrase-file`, `ssh-keygen -p`), " +
    "or, for a non-interactive service account, mark it as one (PkaFleet user `service: true`, SshKeyPair `generate.service: true`) " +
    "or name the account so it matches `serviceAccountUsers`/`serviceAccountPatterns` in the ssh-key-passphrase config.";

/** The user part of a key comment (`alice@laptop` -> `alice`). */
function commentUser(c: unknown): string | undefined {
    const s = str(c);
    return s === undefined ? undefined : s.split("@")[0];
}

export const sshKeyPassphrase: ResourceValidationPolicy & StackValidationPolicy = {
    name: KEY_PASSPHRASE.name,
    description:
        "Checks whether private keys for people are passphrase-protected; only a non-interactive service account's key may be unencrypted.",
    enforcementLevel: "mandatory",
    configSchema: KEY_PASSPHRASE.schema,
    validateResource: (args: ResourceValidationArgs, reportViolation) => {
        const cfg = readConfig(args, KEY_PASSPHRASE);
        if (!cfg.requirePassphrase) return;
        const props = unwrap(args.props) as Record<string, unknown>;
        if (!isObject(props)) return;
        const names = [args.name, str(props.user), str(props.userName)];
        if (args.type === "tls:index/privateKey:PrivateKey") {
            if (!isServiceAccount(names, cfg)) {
                reportViolation(
                    `${describe(args)} generates a private key that tls.PrivateKey cannot encrypt. ${PASSPHRASE_ADVICE}`,
                );
            }
        } else if (isDynamic(args.type) && str(props.keyType) !== undefined && "comment" in props) {
            // The generator behind SshKeyPair `generate`: a passphrase input encrypts its private key.
            const hasPassphrase =
                props.passphrase !== undefined && props.passphrase !== null && props.passphrase !== "";
            if (
                !hasPassphrase &&
                props.service !== true &&
                !isServiceAccount([...names, commentUser(props.comment)], cfg)
            ) {
                reportViolation(`${describe(args)} generates a private key without a passphrase. ${PASSPHRASE_ADVICE}`);
            }
        } else if (args.type === SSH_KEY_PAIR && isObject(props.generate)) {
            const g = props.generate;
            if (
                (g.passphrase === undefined || g.passphrase === "") &&
                g.service !== true &&
                !isServiceAccount([...names, commentUser(g.comment)], cfg)
            ) {
                reportViolation(`${describe(args)} generates a private key without a passphrase. ${PASSPHRASE_ADVICE}`);
            }
        }
        walkStrings(props, (path, text) => {
            // A command's connection key is how the deployment itself logs in: an automation key.
            if (path.includes("connection")) return;
            for (const block of findPrivateKeys(text)) {
                const where = pathString(path);
                let info: KeyInfo;
                try {
                    info = parseKey(block.text, { label: `${describe(args)} ${where}` });
                } catch (e) {
                    continue; // encrypted PEM (KeyEncryptedError) or not a key we can read
                }
                if (!info.encrypted && !isServiceAccount([...names, info.comment.split("@")[0]], cfg)) {
                    reportViolation(
                        `${describe(args)} holds an unencrypted private key in \`${where}\`. ${PASSPHRASE_ADVICE}`,
                    );
                }
            }
        });
    },
    validateStack: (args: StackValidationArgs, reportViolation) => {
        const cfg = readConfig(args, KEY_PASSPHRASE);
        if (!cfg.requirePassphrase) return;
        // SshKeyPairs whose generated key is declared a service account's (`generate.service`, recorded on the generator).
        const serviceKeyPairs = new Set(
            args.resources
                .filter(
                    (r) =>
                        isDynamic(r.type) &&
                        r.parent?.type === SSH_KEY_PAIR &&
                        (unwrap(r.props) as Record<string, unknown>)?.service === true,
                )
                .map((r) => r.parent!.urn),
        );
        for (const r of args.resources) {
            if (r.type !== SSH_KEY_PAIR || serviceKeyPairs.has(r.urn)) continue;
            const props = unwrap(r.props) as Record<string, unknown>;
            const text = str(props?.privateKey);
            if (text === undefined || text === "") continue;
            let info: KeyInfo;
            try {
                info = parseKey(text, { label: describe(r) });
            } catch {
                continue;
            }
            if (
                !info.encrypted &&
                !isServiceAccount([r.name, commentUser(props.publicKey && str(props.publicKey)?.split(" ")[2])], cfg)
            ) {
                reportViolation(
                    `${describe(r)} outputs a private key without a passphrase. ${PASSPHRASE_ADVICE}`,
                    r.urn,
                );
            }
        }
    },
};

// ---------------------------------------------------------------------------------------------
// ssh-key-max-age

const DAY_MS = 24 * 60 * 60 * 1000;

/** When a key was made, by what the resource records: SshKeyPair/generator `createdAt`, aws.ec2.KeyPair `createTime`. */
function createdAtOf(r: PolicyResource): { at: Date; field: string } | undefined {
    const props = unwrap(r.props) as Record<string, unknown>;
    if (!isObject(props)) return undefined;
    const field =
        r.type === "aws:ec2/keyPair:KeyPair"
            ? "createTime"
            : r.type === SSH_KEY_PAIR || isDynamic(r.type)
              ? "createdAt"
              : undefined;
    const text = field ? str(props[field]) : undefined;
    if (!field || !text) return undefined;
    const at = new Date(text);
    return Number.isNaN(at.getTime()) ? undefined : { at, field };
}

export const sshKeyMaxAge: StackValidationPolicy = {
    name: KEY_MAX_AGE.name,
    description: "Checks whether SSH keys are older than the configured age (default 365 days) and due for rotation.",
    enforcementLevel: "advisory",
    configSchema: KEY_MAX_AGE.schema,
    validateStack: (args: StackValidationArgs, reportViolation) => {
        const cfg = readConfig(args, KEY_MAX_AGE);
        const now = analysisDate(cfg.asOf);
        for (const r of args.resources) {
            // The generator and the EC2 copy of an SshKeyPair's key are judged once, through the SshKeyPair.
            if (r.type !== SSH_KEY_PAIR && r.parent?.type === SSH_KEY_PAIR) continue;
            const created = createdAtOf(r);
            if (!created) continue;
            const days = Math.floor((now.getTime() - created.at.getTime()) / DAY_MS);
            if (days <= cfg.maxAgeDays) continue;
            const how =
                r.type === SSH_KEY_PAIR || isDynamic(r.type)
                    ? "set `generate.rotationTrigger` (or `onHost.rotationTrigger`) to a new value to generate a new key"
                    : "import a new key and delete this one";
            reportViolation(
                `${describe(r)} holds a key ${days} days old (${created.field} ${created.at.toISOString().slice(0, 10)}), more than the ${cfg.maxAgeDays} days allowed: ` +
                    `rotate it (${how}); the old key leaves every authorized_keys on the next deployment.`,
                r.urn,
            );
        }
    },
};
