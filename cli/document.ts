/**
 * `pka document`: prints the SSM Command document exactly as SetupDocument deploys it.
 * `pka document-params --spec FILE|- [--fallback-key FILE]... [--config policy-config.json]`:
 *   validates an access spec and prints the SendCommand `Parameters` object for it, ready for
 *   `aws ssm send-command --parameters file://params.json`. Exit 2 on a bad spec or bad usage.
 */
import * as fs from "fs";
import { validateAccessSpec } from "../core/accessSpec";
import { AccessSpecError } from "../core/accessSpecTypes";
import { documentParameters, renderDocumentJson } from "../core/document";
import { keyRulesFromPolicyConfig, KeyRules } from "../core/keys";
import { validatePackConfig } from "../policy/config";
import { ArgSpec, parseArgs, UsageError } from "./args";
import { readStdinBounded } from "./stdin";
import { fileProblem } from "./files";

const USAGE = {
    document: "usage: pka document\n  prints the SSM Command document JSON exactly as SetupDocument deploys it\n",
    "document-params":
        "usage: pka document-params --spec FILE|- [--fallback-key FILE]... [--config policy-config.json]\n" +
        '  prints the SendCommand Parameters ({"AccessSpec": [...], "AccessSpecSha256": [...]}) for an access spec:\n' +
        '  { "users": [ { "name": "svc_user", "sudo": "nopasswd", "keys": ["ssh-ed25519 AAAA... c"], "keyOptions": "restrict" } ] }\n' +
        "  --fallback-key FILE  an organization key (a .pub file) for users that list no key (repeatable)\n" +
        "  --config FILE        key rules from a policy pack config (as pka check-key)\n" +
        "  the spec is checked as the deploy checks it, at the current time: an expiry-time already past is refused\n" +
        "  exit 0: printed; 2: the spec is invalid (the message names the path in the spec), or bad usage\n",
};

const MAX_SPEC_FILE = 1024 * 1024;

const DOCUMENT_PARAMS_ARGS: ArgSpec = { flags: { "--spec": "value", "--fallback-key": "list", "--config": "value" } };

async function readInput(file: string, what: string): Promise<string> {
    let bytes: Buffer;
    try {
        // stdin through the stream reader: a non-blocking stdin (EAGAIN for readFileSync(0)) is waited on.
        bytes = file === "-" ? await readStdinBounded(MAX_SPEC_FILE + 1) : fs.readFileSync(file);
    } catch (e) {
        throw new UsageError(`cannot read ${what} ${file}: ${fileProblem(e)}`);
    }
    if (bytes.length > MAX_SPEC_FILE)
        throw new UsageError(`${what} ${file === "-" ? "on stdin" : file} is larger than ${MAX_SPEC_FILE} bytes`);
    return bytes.toString("utf8");
}

async function documentParams(args: string[]): Promise<string> {
    const f = parseArgs(args, DOCUMENT_PARAMS_ARGS).flags;
    const spec = f["--spec"] as string | undefined;
    const config = f["--config"] as string | undefined;
    const fallback = (f["--fallback-key"] as string[] | undefined) ?? [];
    if (!spec) throw new UsageError("--spec FILE is required");
    if ([spec, config, ...fallback].filter((x) => x === "-").length > 1)
        throw new UsageError("only one of --spec, --config and --fallback-key may read stdin (-)");

    let rules: Partial<KeyRules> | undefined;
    if (config) {
        const text = await readInput(config, "config");
        try {
            const json = JSON.parse(text);
            validatePackConfig(json); // a misspelled rule or field is an error, as in the pack and pka check-key
            rules = keyRulesFromPolicyConfig(json);
        } catch (e) {
            throw new UsageError(`config ${config}: ${(e as Error).message}`);
        }
    }
    const fallbackKeys: string[] = [];
    for (const file of fallback) fallbackKeys.push((await readInput(file, "fallback key")).trim());
    const text = await readInput(spec, "spec");
    let input: unknown;
    try {
        input = JSON.parse(text);
    } catch (e) {
        throw new AccessSpecError("", `${spec} is not JSON (${(e as Error).message}); expected { "users": [ ... ] }`);
    }
    // Parameters are sent now, so an expiry-time already past is refused as the deploy refuses it.
    const validated = validateAccessSpec(input, { keyRules: rules, fallbackKeys, now: new Date() });
    return JSON.stringify(documentParameters(validated), null, 2) + "\n";
}

export async function run(name: string, args: string[]): Promise<number> {
    const usage = name === "document" ? USAGE.document : USAGE["document-params"];
    if (args.includes("--help") || args.includes("-h")) {
        process.stdout.write(usage);
        return 0;
    }
    try {
        if (name === "document") {
            parseArgs(args, { flags: {} });
            process.stdout.write(renderDocumentJson() + "\n");
            return 0;
        }
        process.stdout.write(await documentParams(args));
        return 0;
    } catch (e) {
        if (e instanceof UsageError) {
            process.stderr.write(`pka ${name}: ${e.message}\n${usage}`);
            return 2;
        }
        if (e instanceof AccessSpecError) {
            const where = e.path ? ` (fix the value at ${e.path} in the spec)` : "";
            process.stderr.write(`pka ${name}: invalid access spec: ${e.message}${where}\n`);
            return 2;
        }
        throw e;
    }
}
