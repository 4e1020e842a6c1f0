/**
 * `pka check-key FILE|- [--config policy-config.json] [--json] [--service] [--ec2-import]
 *                [--passphrase-file F]`
 *
 * Judges a public or private key by the policy pack's key rules (core/keys.ts, the same code
 * the pack runs). Exit 0 allowed, 1 violation (reasons printed), 2 not a key or bad usage.
 *
 * Private keys are judged without decrypting them where the format allows: OpenSSH and PuTTY
 * files carry their public part in the clear. An encrypted PEM/PKCS#8 key hides its type, so it
 * needs --passphrase-file (or check its .pub instead). When --passphrase-file is given, the
 * passphrase is also verified (a wrong one is exit 2).
 */
import * as fs from "fs";
import { KeyError, KeyInfo, KeyRules, MAX_KEY_TEXT, judgeKey, keyRulesFromPolicyConfig, parseKey } from "../core/keys";
import { decryptPpk } from "../core/ppk";
import { ArgSpec, parseArgs, UsageError } from "./args";
import { readPassphraseFile } from "./keygen";
import { readStdinBounded } from "./stdin";

const USAGE =
    "usage: pka check-key FILE|- [--config policy-config.json] [--json] [--service] [--ec2-import] [--passphrase-file F]\n" +
    "  exit 0: allowed; 1: violates the key rules (reasons printed); 2: not a key, or bad usage.\n" +
    "  --service     the key belongs to a non-interactive service account (may lack a passphrase)\n" +
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
    flags: { "--json": "boolean", "--service": "boolean", "--ec2-import": "boolean", "--config": "value", "--passphrase-file": "value" },
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

/** Read at most MAX_KEY_TEXT + 1 bytes: a huge input is refused without reading all of it. */
async function readBounded(file: string): Promise<Buffer> {
    // stdin may be a pipe, a file, a TTY, or a descriptor another process left non-blocking
    // (where a synchronous read loop would spin on EAGAIN): the stream waits for data instead.
    if (file === "-") return readStdinBounded(MAX_KEY_TEXT + 1);
    const fd = fs.openSync(file, "r");
    try {
        const chunks: Buffer[] = [];
        let total = 0;
        const buf = Buffer.alloc(64 * 1024);
        while (total <= MAX_KEY_TEXT) {
            const n = fs.readSync(fd, buf, 0, buf.length, null);
            if (n === 0) break;
            chunks.push(Buffer.from(buf.subarray(0, n)));
            total += n;
        }
        return Buffer.concat(chunks);
    } finally {
        fs.closeSync(fd);
    }
}

function readConfig(path: string): Partial<KeyRules> {
    let json: unknown;
    try {
        json = JSON.parse(fs.readFileSync(path, "utf8"));
    } catch (e) {
        throw new UsageError(`--config ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    try {
        return keyRulesFromPolicyConfig(json);
    } catch (e) {
        throw new UsageError(`--config ${path}: ${(e as Error).message}`);
    }
}

export async function run(_name: string, args: string[]): Promise<number> {
    if (args.includes("--help") || args.includes("-h")) {
        process.stdout.write(USAGE);
        return 0;
    }
    let json = args.includes("--json");
    const fail = (message: string, usage: boolean): number => {
        if (json) process.stdout.write(JSON.stringify({ ok: false, error: message, violations: [] }, null, 2) + "\n");
        process.stderr.write(`pka check-key: ${message}\n${usage ? USAGE : ""}`);
        return 2;
    };
    let o: Options;
    let rules: Partial<KeyRules> = {};
    let passphrase: string | undefined;
    try {
        o = parseCheckKeyArgs(args);
        json = o.json;
        if (o.config) rules = readConfig(o.config);
        if (o.passphraseFile) passphrase = readPassphraseFile(o.passphraseFile);
    } catch (e) {
        return fail((e as Error).message, e instanceof UsageError);
    }

    const label = o.file === "-" ? "stdin" : o.file!;
    let info: KeyInfo;
    try {
        let data: Buffer;
        try {
            data = await readBounded(o.file!);
        } catch (e) {
            return fail(`${label}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, false);
        }
        info = parseKey(data, { passphrase, label });
        // PPK v3 passphrases need Argon2 (async): verify them here when one was given.
        if (info.format === "ppk" && info.encrypted && passphrase !== undefined) await decryptPpk(data.toString("utf8"), passphrase, label);
    } catch (e) {
        if (e instanceof KeyError) return fail(e.message, false);
        throw e;
    }

    const violations = judgeKey(info, rules, { service: o.service, ec2Import: o.ec2Import, label });
    const ok = violations.length === 0;
    if (json) {
        const out = {
            ok,
            type: info.type,
            bits: info.bits,
            curve: info.curve ?? null,
            fingerprint: info.fingerprint,
            comment: info.comment,
            encrypted: info.encrypted,
            private: info.isPrivate,
            violations,
        };
        process.stdout.write(JSON.stringify(out, null, 2) + "\n");
    } else {
        const desc = info.type === "ecdsa" ? `ecdsa ${info.curve}` : `${info.type} ${info.bits}`;
        const kind = info.isPrivate ? `private key (${info.format}, ${info.encrypted ? "passphrase-protected" : "no passphrase"})` : "public key";
        process.stdout.write(`${label}: ${desc} ${kind} ${info.fingerprint}${info.comment ? ` ${info.comment}` : ""}\n`);
        if (ok) process.stdout.write(`${label}: allowed\n`);
        else for (const v of violations) process.stdout.write(`violation: ${v}\n`);
    }
    if (info.isPrivate && o.file !== "-") {
        try {
            const mode = fs.statSync(o.file!).mode & 0o777;
            if (mode & 0o077) process.stderr.write(`pka check-key: warning: ${label} has mode ${mode.toString(8)}; ssh refuses private keys others can read (chmod 600)\n`);
        } catch {
            /* the mode is advice only */
        }
    }
    return ok ? 0 : 1;
}
