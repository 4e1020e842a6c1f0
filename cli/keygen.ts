/**
 * `pka keygen --type ed25519|ecdsa|rsa [--bits 3072|4096] [--curve nistp256|nistp384|nistp521]
 *            [--comment C] [--passphrase-file F] [--ppk] --out PREFIX`
 *
 * Writes PREFIX (OpenSSH private key, 0600; bcrypt + aes256-ctr when a passphrase is given),
 * PREFIX.pub and with --ppk PREFIX.ppk (PuTTY v3, 0600, same passphrase). Never overwrites:
 * every target is checked before anything is generated, each file is created with O_EXCL,
 * and on any failure the files this run created are removed again. Never prints a secret.
 * Exit 0 on success, 2 on bad usage, an existing file or a write error.
 */
import * as fs from "fs";
import { encryptPrivateKey, generateKey, judgeKeySpec, resolveKeySpec } from "../core/keygen";
import { toPpk } from "../core/ppk";
import { ArgSpec, parseArgs, UsageError } from "./args";
import { fileProblem, outPrefixProblem } from "./files";

const USAGE =
    "usage: pka keygen [--type ed25519|ecdsa|rsa] [--bits 3072|4096] [--curve nistp256|nistp384|nistp521]\n" +
    "                  [--comment C] [--passphrase-file F] [--ppk] --out PREFIX\n" +
    "  writes PREFIX (private key, mode 600), PREFIX.pub and with --ppk PREFIX.ppk; never overwrites.\n" +
    "  --type defaults to ed25519; rsa defaults to 4096 bits, ecdsa to nistp256.\n";

export interface KeygenOptions {
    type?: string;
    bits?: number;
    curve?: string;
    comment?: string;
    passphraseFile?: string;
    ppk: boolean;
    out?: string;
}

const KEYGEN_ARGS: ArgSpec = {
    flags: {
        "--type": "value",
        "--bits": "value",
        "--curve": "value",
        "--comment": "value",
        "--passphrase-file": "value",
        "--out": "value",
        "--ppk": "boolean",
    },
};

export function parseKeygenArgs(args: string[]): KeygenOptions {
    const f = parseArgs(args, KEYGEN_ARGS).flags;
    const o: KeygenOptions = { ppk: f["--ppk"] === true };
    if (f["--type"] !== undefined) o.type = f["--type"] as string;
    if (f["--bits"] !== undefined) {
        const v = f["--bits"] as string;
        if (!/^\d+$/.test(v)) throw new UsageError(`--bits must be a number, got '${v}'`);
        o.bits = Number(v);
    }
    if (f["--curve"] !== undefined) o.curve = f["--curve"] as string;
    if (f["--comment"] !== undefined) o.comment = f["--comment"] as string;
    if (f["--passphrase-file"] !== undefined) o.passphraseFile = f["--passphrase-file"] as string;
    if (f["--out"] !== undefined) o.out = f["--out"] as string;
    if (!o.out) throw new UsageError("--out PREFIX is required");
    return o;
}

/** The passphrase file's first line (a trailing newline is not part of the passphrase). */
export function readPassphraseFile(path: string): string {
    let text: string;
    try {
        const st = fs.statSync(path);
        if (!st.isFile() && path !== "/dev/stdin")
            throw new UsageError(`--passphrase-file ${path}: not a regular file`);
        if (st.size > 4096)
            throw new UsageError(
                `--passphrase-file ${path}: larger than 4 KB; expected one line holding the passphrase`,
            );
        text = fs.readFileSync(path, "utf8");
    } catch (e) {
        if (e instanceof UsageError) throw e;
        throw new UsageError(`--passphrase-file ${path}: ${fileProblem(e)}`);
    }
    const pass = text.replace(/\r?\n$/, "");
    if (pass === "")
        throw new UsageError(`--passphrase-file ${path}: is empty; omit the option for a key without a passphrase`);
    if (/[\r\n]/.test(pass))
        throw new UsageError(
            `--passphrase-file ${path}: holds more than one line; expected one line holding the passphrase`,
        );
    return pass;
}

function exists(path: string): boolean {
    try {
        fs.lstatSync(path); // lstat: a dangling symlink counts as existing (we must not write through it)
        return true;
    } catch {
        return false;
    }
}

export async function run(_name: string, args: string[]): Promise<number> {
    let o: KeygenOptions;
    let spec: ReturnType<typeof resolveKeySpec>;
    let passphrase: string | undefined;
    try {
        if (args.includes("--help") || args.includes("-h")) {
            process.stdout.write(USAGE);
            return 0;
        }
        o = parseKeygenArgs(args);
        spec = resolveKeySpec({ type: o.type, bits: o.bits, curve: o.curve });
        if (o.comment !== undefined && /[\x00-\x1f\x7f]/.test(o.comment))
            throw new UsageError("--comment must be one line without control characters");
        const violations = judgeKeySpec(spec, undefined, { label: "--type/--bits/--curve" });
        if (violations.length) throw new UsageError(violations.join("\n"));
        if (o.passphraseFile !== undefined) passphrase = readPassphraseFile(o.passphraseFile);
    } catch (e) {
        process.stderr.write(`pka keygen: ${(e as Error).message}\n${e instanceof UsageError ? USAGE : ""}`);
        return 2;
    }

    const prefix = o.out!;
    const outProblem = outPrefixProblem(prefix);
    if (outProblem) {
        process.stderr.write(`pka keygen: ${outProblem}\n`);
        return 2;
    }
    const targets = [prefix, `${prefix}.pub`, ...(o.ppk ? [`${prefix}.ppk`] : [])];
    const existing = targets.filter(exists);
    if (existing.length) {
        process.stderr.write(
            `pka keygen: refusing to overwrite ${existing.join(", ")}; choose another --out or remove the file(s) first\n`,
        );
        return 2;
    }

    const key = generateKey({ ...spec, comment: o.comment ?? "" });
    const privateText = passphrase !== undefined ? encryptPrivateKey(key.privateKey, passphrase) : key.privateKey;
    const ppkText = o.ppk ? await toPpk(key.privateKey, { passphrase, comment: o.comment ?? "" }) : undefined;

    const problem = writeKeyFiles(prefix, privateText, key.publicKey + "\n", ppkText);
    if (problem) {
        process.stderr.write(`pka keygen: ${problem}; no files were left behind\n`);
        return 2;
    }

    const desc = key.type === "ecdsa" ? `ecdsa ${key.curve}` : key.type === "rsa" ? `rsa ${key.bits}` : key.type;
    process.stdout.write(
        `${desc} key ${key.fingerprint}${o.comment ? ` ${o.comment}` : ""}\n` +
            `  private key: ${prefix} (${passphrase !== undefined ? "passphrase-protected" : "NO passphrase"})\n` +
            `  public key:  ${prefix}.pub\n` +
            (o.ppk ? `  PuTTY key:   ${prefix}.ppk\n` : ""),
    );
    if (passphrase === undefined) {
        process.stderr.write(
            "pka keygen: note: without --passphrase-file the key is only acceptable for a non-interactive service account\n",
        );
    }
    return 0;
}

/** Writes the key files, none of which may exist; on failure removes the ones written and says why. */
function writeKeyFiles(
    prefix: string,
    privateText: string,
    publicText: string,
    ppkText: string | undefined,
): string | undefined {
    const created: string[] = [];
    try {
        writeNew(prefix, privateText, 0o600, created);
        writeNew(`${prefix}.pub`, publicText, 0o644, created);
        if (ppkText !== undefined) writeNew(`${prefix}.ppk`, ppkText, 0o600, created);
        return undefined;
    } catch (e) {
        for (const f of created) {
            try {
                fs.unlinkSync(f);
            } catch {
                /* best effort: report below */
            }
        }
        const err = e as NodeJS.ErrnoException;
        const why = err.code === "EEXIST" ? "it appeared while generating; nothing was overwritten" : fileProblem(err);
        return `cannot write ${err.path ?? prefix}: ${why}`;
    }
}

/** Create a file that must not exist yet, with an exact mode (umask does not widen or narrow it). */
function writeNew(path: string, content: string, mode: number, created: string[]): void {
    const fd = fs.openSync(
        path,
        fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0),
        mode,
    );
    created.push(path);
    try {
        fs.fchmodSync(fd, mode);
        fs.writeSync(fd, content);
        fs.fsyncSync(fd);
    } finally {
        fs.closeSync(fd);
    }
}
