/**
 * `pka check-key FILE|- [--config policy-config.json] [--json] [--service] [--ec2-import]
 *                [--passphrase-file F]`
 *
 * Judges a public or private key by the policy pack's key rules (core/keys.ts, the same code
 * the pack runs). Exit 0 allowed, 1 violation (reasons printed), 2 not a key or bad usage.
 *
 * --config takes the pack's config file (`--policy-pack-config`), checked by the pack's own
 * validator (policy/config.ts): an unknown rule or field is exit 2 naming it. Two rules apply to
 * a key file, ssh-key-algorithm (type and size) and ssh-key-passphrase, each at its
 * enforcementLevel (its own, else `all`'s, else mandatory): "disabled" skips the rule,
 * "advisory" prints its findings as warnings without failing, "mandatory" fails (exit 1).
 * "remediate" fails like mandatory: neither rule can fix a key, and @pulumi/policy reports a
 * violation of a policy without a remediation at remediate as mandatory.
 *
 * Private keys are judged without decrypting them where the format allows: OpenSSH and PuTTY
 * files carry their public part in the clear. An encrypted PEM/PKCS#8 key hides its type, so it
 * needs --passphrase-file (or check its .pub instead). When --passphrase-file is given, the
 * passphrase is also verified (a wrong one is exit 2).
 */
import * as fs from "fs";
import {
    KeyError,
    KeyInfo,
    KeyRules,
    MAX_KEY_TEXT,
    judgeKey,
    judgeKeySpec,
    keyRulesFromPolicyConfig,
    parseKey,
} from "../core/keys";
import { decryptPpk } from "../core/ppk";
import {
    EnforcementLevel,
    enforcementLevelOf,
    PackConfig,
    PolicyConfigError,
    validatePackConfig,
} from "../policy/config";
import { KEY_ALGORITHM, KEY_PASSPHRASE } from "../policy/ruleConfig";
import { ArgSpec, parseArgs, UsageError } from "./args";
import { readPassphraseFile } from "./keygen";
import { readStdinBounded } from "./stdin";
import { fileProblem } from "./files";

const USAGE =
    "usage: pka check-key FILE|- [--config policy-config.json] [--json] [--service] [--ec2-import] [--passphrase-file F]\n" +
    "  exit 0: allowed; 1: violates the key rules (reasons printed); 2: not a key, or bad usage.\n" +
    "  --config F    the policy pack config (--policy-pack-config): the key rules' settings and enforcementLevel\n" +
    "  --service     the key belongs to a non-interactive service account (may lack a passphrase; no security key)\n" +
    "  --ec2-import  judge the key for EC2 ImportKeyPair (rsa 4096 or ed25519)\n";

interface Options {
    file?: string;
    config?: string;
    json: boolean;
    service: boolean;
    ec2Import: boolean;
    passphraseFile?: string;
}

const CHECK_KEY_ARGS: ArgSpec = {
    flags: {
        "--json": "boolean",
        "--service": "boolean",
        "--ec2-import": "boolean",
        "--config": "value",
        "--passphrase-file": "value",
    },
    positionals: 1,
    tooMany: "give exactly one FILE (or - for stdin)",
};

function parseCheckKeyArgs(args: string[]): Options {
    const { flags: f, positionals } = parseArgs(args, CHECK_KEY_ARGS);
    if (positionals.length === 0) throw new UsageError("give the key FILE to check (or - for stdin)");
    return {
        file: positionals[0],
        config: f["--config"] as string | undefined,
        json: f["--json"] === true,
        service: f["--service"] === true,
        ec2Import: f["--ec2-import"] === true,
        passphraseFile: f["--passphrase-file"] as string | undefined,
    };
}

/**
 * Read at most `max` + 1 bytes: a huge input is refused without reading all of it. `size` is
 * the whole file's size when it is a regular file (so a refusal names it), else undefined.
 */
export async function readBounded(file: string, max = MAX_KEY_TEXT): Promise<{ data: Buffer; size?: number }> {
    // stdin may be a pipe, a file, a TTY, or a descriptor another process left non-blocking
    // (where a synchronous read loop would spin on EAGAIN): the stream waits for data instead.
    if (file === "-") return { data: await readStdinBounded(max + 1) };
    const fd = fs.openSync(file, "r");
    try {
        const st = fs.fstatSync(fd);
        if (st.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
        const chunks: Buffer[] = [];
        let total = 0;
        const buf = Buffer.alloc(max + 1);
        while (total <= max) {
            const n = fs.readSync(fd, buf, 0, max + 1 - total, null);
            if (n === 0) break;
            chunks.push(Buffer.from(buf.subarray(0, n)));
            total += n;
        }
        return { data: Buffer.concat(chunks), size: st.isFile() ? st.size : undefined };
    } finally {
        fs.closeSync(fd);
    }
}

/** The rules a key file is judged by, and the level each applies at. */
export interface KeyPolicy {
    rules: Partial<KeyRules>;
    levels: Record<"ssh-key-algorithm" | "ssh-key-passphrase", EnforcementLevel>;
}

/** Both key rules are mandatory in the pack (policy/keys.ts). */
export const DEFAULT_POLICY: KeyPolicy = {
    rules: {},
    levels: { "ssh-key-algorithm": "mandatory", "ssh-key-passphrase": "mandatory" },
};

/** A bad --config: exit 2 with every problem, without the usage text (the command line was fine). */
export class ConfigError extends Error {}

export function readConfig(path: string): KeyPolicy {
    let json: unknown;
    try {
        json = JSON.parse(fs.readFileSync(path, "utf8"));
    } catch (e) {
        throw new UsageError(`--config ${path}: ${fileProblem(e)}`);
    }
    let config: PackConfig;
    try {
        config = validatePackConfig(json);
    } catch (e) {
        if (!(e instanceof PolicyConfigError)) throw e;
        throw new ConfigError(
            e.problems.map((p) => `--config ${path}: ${p}`).join("\n") +
                `\nfix ${path}: it is the policy pack's config (--policy-pack-config), whose rules and fields are listed in the pack's README ("The rules")`,
        );
    }
    const level = (rule: keyof KeyPolicy["levels"]) => {
        const l = enforcementLevelOf(config, rule, DEFAULT_POLICY.levels[rule]);
        return l === "remediate" ? "mandatory" : l;
    };
    return {
        rules: keyRulesFromPolicyConfig(json),
        levels: {
            [KEY_ALGORITHM.name]: level("ssh-key-algorithm"),
            [KEY_PASSPHRASE.name]: level("ssh-key-passphrase"),
        } as KeyPolicy["levels"],
    };
}

export async function run(_name: string, args: string[]): Promise<number> {
    if (args.includes("--help") || args.includes("-h")) {
        process.stdout.write(USAGE);
        return 0;
    }
    let json = args.includes("--json");
    const fail = (message: string, usage: boolean): number => {
        if (json) process.stdout.write(JSON.stringify({ ok: false, error: message, violations: [] }, null, 2) + "\n");
        process.stderr.write(
            `${message
                .split("\n")
                .map((line) => `pka check-key: ${line}`)
                .join("\n")}\n${usage ? USAGE : ""}`,
        );
        return 2;
    };
    let o: Options;
    let policy: KeyPolicy = DEFAULT_POLICY;
    let passphrase: string | undefined;
    try {
        o = parseCheckKeyArgs(args);
        json = o.json;
        if (o.config) policy = readConfig(o.config);
        if (o.passphraseFile) passphrase = readPassphraseFile(o.passphraseFile);
    } catch (e) {
        return fail((e as Error).message, e instanceof UsageError);
    }

    const label = o.file === "-" ? "stdin" : o.file!;
    const info = await loadKey(o.file!, label, passphrase);
    if (typeof info === "string") return fail(info, false);

    const { violations, advisories } = judge(info, policy, { service: o.service, ec2Import: o.ec2Import, label });
    const ok = violations.length === 0;
    if (json)
        process.stdout.write(JSON.stringify(jsonVerdict(info, ok, violations, advisories, policy), null, 2) + "\n");
    else printVerdict(info, label, violations, advisories);
    if (info.isPrivate && o.file !== "-") warnIfReadable(o.file!, label);
    return ok ? 0 : 1;
}

/** The key in `file` parsed (a PPK v3 passphrase verified too), or why it is not a key (exit 2). */
async function loadKey(file: string, label: string, passphrase: string | undefined): Promise<KeyInfo | string> {
    let data: Buffer;
    try {
        const read = await readBounded(file);
        data = read.data;
        if (data.length > MAX_KEY_TEXT) {
            const size =
                read.size !== undefined
                    ? `is ${read.size} bytes, more than any SSH key file (${MAX_KEY_TEXT})`
                    : `is over ${MAX_KEY_TEXT} bytes, more than any SSH key file`;
            return `${label}: ${size}; expected an OpenSSH, PEM, PKCS#8 or PuTTY key`;
        }
    } catch (e) {
        return `${label}: ${fileProblem(e)}`;
    }
    try {
        const info = parseKey(data, { passphrase, label });
        // PPK v3 passphrases need Argon2 (async): verify them here when one was given.
        if (info.format === "ppk" && info.encrypted && passphrase !== undefined)
            await decryptPpk(data.toString("utf8"), passphrase, label);
        return info;
    } catch (e) {
        if (e instanceof KeyError) return e.message;
        throw e;
    }
}

/** The findings of each rule at its level: type and size are ssh-key-algorithm's, the rest ssh-key-passphrase's. */
function judge(
    info: KeyInfo,
    policy: KeyPolicy,
    ctx: { service: boolean; ec2Import: boolean; label: string },
): { violations: string[]; advisories: string[] } {
    const algorithm = judgeKeySpec({ type: info.type, bits: info.bits, curve: info.curve }, policy.rules, ctx);
    const unprotected = judgeKey(info, policy.rules, ctx).filter((v) => !algorithm.includes(v));
    const violations: string[] = [];
    const advisories: string[] = [];
    for (const [rule, found] of [
        [KEY_ALGORITHM.name, algorithm],
        [KEY_PASSPHRASE.name, unprotected],
    ] as const) {
        const level = policy.levels[rule as keyof KeyPolicy["levels"]];
        if (level === "disabled") continue;
        (level === "advisory" ? advisories : violations).push(...found);
    }
    return { violations, advisories };
}

/** The verdict as --json prints it. */
function jsonVerdict(
    info: KeyInfo,
    ok: boolean,
    violations: string[],
    advisories: string[],
    policy: KeyPolicy,
): object {
    return {
        ok,
        type: info.type,
        bits: info.bits,
        curve: info.curve ?? null,
        // A security key's FIDO application ("ssh:..."); other keys have none.
        ...(info.application !== undefined ? { application: info.application } : {}),
        fingerprint: info.fingerprint,
        comment: info.comment,
        encrypted: info.encrypted,
        private: info.isPrivate,
        violations,
        advisories,
        enforcementLevels: policy.levels,
    };
}

/** The verdict as text: the key, each violation and advisory, and "allowed" when nothing failed. */
function printVerdict(info: KeyInfo, label: string, violations: string[], advisories: string[]): void {
    const desc = /ecdsa$/.test(info.type) ? `${info.type} ${info.curve}` : `${info.type} ${info.bits}`;
    const kind = info.isPrivate
        ? `private key (${info.format}, ${info.encrypted ? "passphrase-protected" : "no passphrase"})`
        : "public key";
    process.stdout.write(`${label}: ${desc} ${kind} ${info.fingerprint}${info.comment ? ` ${info.comment}` : ""}\n`);
    for (const v of violations) process.stdout.write(`violation: ${v}\n`);
    for (const v of advisories) process.stdout.write(`warning (advisory): ${v}\n`);
    if (violations.length === 0)
        process.stdout.write(`${label}: allowed${advisories.length ? " (with advisory warnings)" : ""}\n`);
}

/** A private key file others can read: a warning on stderr (ssh would refuse it). */
function warnIfReadable(file: string, label: string): void {
    try {
        const mode = fs.statSync(file).mode & 0o777;
        if (mode & 0o077)
            process.stderr.write(
                `pka check-key: warning: ${label} has mode ${mode.toString(8)}; ssh refuses private keys others can read (chmod 600)\n`,
            );
    } catch {
        /* the mode is advice only */
    }
}
