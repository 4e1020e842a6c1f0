/**
 * `pka audit FILE|- [--config policy-config.json] [--json] [--service]`
 *
 * Judges each line of an authorized_keys file by the key rules (the policy pack's
 * ssh-key-algorithm rule, at its enforcementLevel from --config) and each line's options by the
 * access spec's allow-list, and tells pka-fleet's managed block from lines added by hand.
 * Exit 0: every key line allowed; 1: a violation, a line that is not a key, or a broken managed
 * block; 2: the file cannot be read, or bad usage.
 */
import { AuditReport, MAX_AUTHORIZED_KEYS_BYTES, auditAuthorizedKeys, formatAudit } from "../core/authorizedKeysAudit";
import { ArgSpec, parseArgs, UsageError } from "./args";
import { ConfigError, DEFAULT_POLICY, KeyPolicy, readBounded, readConfig } from "./checkKey";
import { fileProblem } from "./files";

const USAGE =
    "usage: pka audit FILE|- [--config policy-config.json] [--json] [--service]\n" +
    "  judges every line of an authorized_keys file: line number, managed block or hand-added, verdict, reasons.\n" +
    "  exit 0: every key allowed; 1: a violation, a line that is not a key, or a broken managed block; 2: unreadable or bad usage.\n" +
    "  --config F    the policy pack config (--policy-pack-config): the key rules' settings and enforcementLevel\n" +
    "  --service     the file is a service account's (no security keys)\n";

const AUDIT_ARGS: ArgSpec = {
    flags: { "--json": "boolean", "--service": "boolean", "--config": "value" },
    positionals: 1,
    tooMany: "give exactly one FILE (or - for stdin)",
};

/** The report of `file`, or why it cannot be read (exit 2). */
export async function auditFile(
    file: string,
    label: string,
    policy: KeyPolicy,
    service: boolean,
): Promise<AuditReport | string> {
    let data: Buffer;
    try {
        const read = await readBounded(file, MAX_AUTHORIZED_KEYS_BYTES);
        data = read.data;
        if (data.length > MAX_AUTHORIZED_KEYS_BYTES) {
            const size =
                read.size !== undefined ? `is ${read.size} bytes` : `is over ${MAX_AUTHORIZED_KEYS_BYTES} bytes`;
            return `${label}: ${size}, more than pka audit reads (${MAX_AUTHORIZED_KEYS_BYTES}); split it or audit the host's copy per user`;
        }
    } catch (e) {
        return `${label}: ${fileProblem(e)}`;
    }
    const level = policy.levels["ssh-key-algorithm"];
    return auditAuthorizedKeys(data.toString("utf8"), {
        rules: policy.rules,
        service,
        keyRuleLevel: level === "advisory" || level === "disabled" ? level : "mandatory",
    });
}

export async function run(_name: string, args: string[]): Promise<number> {
    if (args.includes("--help") || args.includes("-h")) {
        process.stdout.write(USAGE);
        return 0;
    }
    const fail = (message: string, usage: boolean): number => {
        process.stderr.write(`pka audit: ${message.split("\n").join("\npka audit: ")}\n${usage ? USAGE : ""}`);
        return 2;
    };
    let file: string;
    let json: boolean;
    let service: boolean;
    let policy: KeyPolicy = DEFAULT_POLICY;
    try {
        const { flags, positionals } = parseArgs(args, AUDIT_ARGS);
        if (positionals.length === 0) throw new UsageError("give the authorized_keys FILE to audit (or - for stdin)");
        file = positionals[0];
        json = flags["--json"] === true;
        service = flags["--service"] === true;
        if (flags["--config"]) policy = readConfig(flags["--config"] as string);
    } catch (e) {
        if (e instanceof UsageError || e instanceof ConfigError) return fail(e.message, e instanceof UsageError);
        throw e;
    }
    const label = file === "-" ? "stdin" : file;
    const report = await auditFile(file, label, policy, service);
    if (typeof report === "string") return fail(report, false);
    if (json) process.stdout.write(JSON.stringify({ file: label, ...report }, null, 2) + "\n");
    else process.stdout.write(formatAudit(report, label));
    const c = report.counts;
    return c.violations + c.notKeys + report.fileProblems.length === 0 ? 0 : 1;
}
