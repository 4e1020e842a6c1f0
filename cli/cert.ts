/**
 * `pka cert issue|show|krl`: OpenSSH certificates without ssh-keygen's flags.
 *
 *   pka cert issue --ca CA --key KEY.pub --principal P [--principal P]... --validity 1h
 *                  [--ca-passphrase-file F] [--host] [--max-validity 24h] [--id ID] [--serial N]
 *                  [--source-address A,B] [--force-command CMD] [--extension E]... [--out FILE]
 *   pka cert show FILE|- [--json]
 *   pka cert krl --out FILE [--ca CA.pub (--serial N | --key-id ID)...] [--revoke-key KEY.pub]...
 *
 * issue writes KEY-cert.pub (as `ssh-keygen -s` does, replacing an older one atomically) unless
 * --out names the file; it never prints the CA's secret. Exit 0 on success, 1 when `show` finds
 * the certificate unacceptable now, 2 on bad usage or input.
 */
import * as fs from "fs";
import * as path from "path";
import {
    buildKrl,
    CertificateError,
    describeCertificate,
    certificateProblems,
    issueCertificate,
    parseCertificateLine,
    parseDuration,
} from "../core/certs";
import { ArgSpec, parseArgs, UsageError } from "./args";
import { ConfigError, readBounded, readConfig } from "./checkKey";
import { fileProblem } from "./files";
import { readPassphraseFile } from "./keygen";

const USAGE =
    "usage: pka cert issue --ca CA_KEY --key KEY.pub --principal NAME [--principal NAME]... --validity 1h\n" +
    "                      [--ca-passphrase-file F] [--host] [--max-validity 24h] [--id KEY_ID] [--serial N]\n" +
    "                      [--source-address ADDR[,ADDR]] [--force-command CMD] [--extension NAME]... [--out FILE]\n" +
    "                      [--config policy-config.json] [--service]\n" +
    "       pka cert show FILE|- [--json]\n" +
    "       pka cert krl --out FILE [--ca CA.pub (--serial N | --key-id ID)...] [--revoke-key KEY.pub]... [--comment C]\n" +
    "  issue: signs KEY.pub for the principals; writes KEY-cert.pub (or --out). Durations: 90s, 30m, 1h, 7d, 2w.\n" +
    "         --extension replaces the default (permit-pty); user certificates only.\n" +
    "         the key to certify must pass the key rules (the policy pack's, or --config's); --service: a service account's key.\n" +
    "  show:  prints a certificate and whether it is acceptable now (exit 1 if not).\n" +
    "  krl:   writes a revocation list for sshd's RevokedKeys (ssh-keygen -Q -f FILE reads it).\n";

const ISSUE_ARGS: ArgSpec = {
    flags: {
        "--ca": "value",
        "--ca-passphrase-file": "value",
        "--key": "value",
        "--principal": "list",
        "--validity": "value",
        "--max-validity": "value",
        "--host": "boolean",
        "--id": "value",
        "--serial": "value",
        "--source-address": "value",
        "--force-command": "value",
        "--extension": "list",
        "--out": "value",
        "--config": "value",
        "--service": "boolean",
    },
};
const SHOW_ARGS: ArgSpec = { flags: { "--json": "boolean" }, positionals: 1, tooMany: "give exactly one FILE" };
const KRL_ARGS: ArgSpec = {
    flags: {
        "--out": "value",
        "--ca": "value",
        "--serial": "list",
        "--key-id": "list",
        "--revoke-key": "list",
        "--comment": "value",
    },
};

function readText(file: string, what: string, max = 64 * 1024): string {
    try {
        const st = fs.statSync(file);
        if (st.isDirectory()) throw new UsageError(`${what} ${file}: is a directory, not a file`);
        if (st.size > max)
            throw new UsageError(`${what} ${file}: is ${st.size} bytes, more than a key or certificate (${max})`);
        return fs.readFileSync(file, "utf8");
    } catch (e) {
        if (e instanceof UsageError) throw e;
        throw new UsageError(`${what} ${file}: ${fileProblem(e)}`);
    }
}

/** Writes `data` to `file` through a temporary file in the same directory and a rename: never half a file. */
function writeAtomic(file: string, data: string | Buffer, mode: number): void {
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.pka-${process.pid}`);
    try {
        fs.writeFileSync(tmp, data, { mode, flag: "wx" });
        fs.renameSync(tmp, file);
    } catch (e) {
        fs.rmSync(tmp, { force: true });
        throw new UsageError(`--out ${file}: ${fileProblem(e)}`);
    }
}

function issue(args: string[]): number {
    const f = parseArgs(args, ISSUE_ARGS).flags;
    for (const need of ["--ca", "--key", "--validity"])
        if (f[need] === undefined) throw new UsageError(`${need} is required`);
    if (f["--principal"] === undefined)
        throw new UsageError("--principal is required (the user or host name the certificate is for)");
    const keyFile = f["--key"] as string;
    const out = (f["--out"] as string | undefined) ?? `${keyFile.replace(/\.pub$/, "")}-cert.pub`;
    if (out === "-")
        throw new UsageError("--out -: certificates are written to files; give a path such as ./id_ed25519-cert.pub");
    const serialText = f["--serial"] as string | undefined;
    if (serialText !== undefined && !/^[0-9]{1,20}$/.test(serialText))
        throw new UsageError(`--serial must be a number, got '${serialText}'`);
    const sourceAddress = f["--source-address"] as string | undefined;
    const r = issueCertificate({
        caPrivateKey: readText(f["--ca"] as string, "--ca"),
        caPassphrase: f["--ca-passphrase-file"] ? readPassphraseFile(f["--ca-passphrase-file"] as string) : undefined,
        publicKey: readText(keyFile, "--key"),
        kind: f["--host"] ? "host" : "user",
        principals: f["--principal"] as string[],
        validitySeconds: parseDuration(f["--validity"] as string, "--validity"),
        maxValiditySeconds: f["--max-validity"]
            ? parseDuration(f["--max-validity"] as string, "--max-validity")
            : undefined,
        keyId: f["--id"] as string | undefined,
        serial: serialText !== undefined ? BigInt(serialText) : undefined,
        critical: {
            forceCommand: f["--force-command"] as string | undefined,
            sourceAddress: sourceAddress !== undefined ? sourceAddress.split(",") : undefined,
        },
        extensions: f["--extension"] as string[] | undefined,
        keyRules: f["--config"] ? readConfig(f["--config"] as string).rules : undefined,
        service: f["--service"] === true,
    });
    writeAtomic(out, r.line + "\n", 0o644);
    process.stdout.write(describeCertificate(r.info, out, new Date()));
    return 0;
}

async function show(args: string[]): Promise<number> {
    const { flags, positionals } = parseArgs(args, SHOW_ARGS);
    if (positionals.length === 0) throw new UsageError("give the certificate FILE (or - for stdin)");
    const file = positionals[0];
    const label = file === "-" ? "stdin" : file;
    let text: string;
    try {
        const read = await readBounded(file, 64 * 1024);
        if (read.data.length > 64 * 1024)
            throw new UsageError(`${label}: more than 64 KiB; expected one certificate line`);
        text = read.data.toString("utf8");
    } catch (e) {
        if (e instanceof UsageError) throw e;
        throw new UsageError(`${label}: ${fileProblem(e)}`);
    }
    const info = parseCertificateLine(text, label);
    const problems = certificateProblems(info, new Date());
    if (flags["--json"]) {
        const { blob: _b, keyBlob: _k, caBlob: _c, ...rest } = info;
        const json = {
            file: label,
            ...rest,
            serial: String(info.serial),
            validAfter: String(info.validAfter),
            validBefore: String(info.validBefore),
            problems,
        };
        process.stdout.write(JSON.stringify(json, null, 2) + "\n");
    } else process.stdout.write(describeCertificate(info, label, new Date()));
    return problems.length ? 1 : 0;
}

function krl(args: string[]): number {
    const f = parseArgs(args, KRL_ARGS).flags;
    const out = f["--out"] as string | undefined;
    if (!out || out === "-") throw new UsageError("--out FILE is required (the KRL is binary)");
    const serials = (f["--serial"] as string[] | undefined) ?? [];
    const keyIds = (f["--key-id"] as string[] | undefined) ?? [];
    const keys = ((f["--revoke-key"] as string[] | undefined) ?? []).map((k) => readText(k, "--revoke-key"));
    const ca = f["--ca"] as string | undefined;
    if ((serials.length || keyIds.length) && !ca)
        throw new UsageError("--serial and --key-id need --ca CA.pub (the CA whose certificates they name)");
    if (ca && !serials.length && !keyIds.length)
        throw new UsageError("--ca needs --serial or --key-id (what to revoke of it)");
    const data = buildKrl({
        certificates: ca ? [{ ca: readText(ca, "--ca"), serials, keyIds }] : [],
        keys,
        comment: f["--comment"] as string | undefined,
    });
    writeAtomic(out, data, 0o644);
    process.stdout.write(
        `${out}: ${serials.length} serials, ${keyIds.length} key ids, ${keys.length} keys revoked (${data.length} bytes)\n`,
    );
    return 0;
}

export async function run(_name: string, args: string[]): Promise<number> {
    const [sub, ...rest] = args;
    if (!sub || sub === "--help" || sub === "-h" || rest.includes("--help")) {
        (sub ? process.stdout : process.stderr).write(USAGE);
        return sub ? 0 : 2;
    }
    try {
        if (sub === "issue") return issue(rest);
        if (sub === "show") return await show(rest);
        if (sub === "krl") return krl(rest);
        throw new UsageError(`unknown subcommand '${sub}'; use issue, show or krl`);
    } catch (e) {
        if (e instanceof UsageError || e instanceof CertificateError || e instanceof ConfigError) {
            process.stderr.write(`pka cert ${sub}: ${e.message}\n${e instanceof UsageError ? USAGE : ""}`);
            return 2;
        }
        throw e;
    }
}
