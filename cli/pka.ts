#!/usr/bin/env node
/**
 * `pka`: the operator's command line. Each subcommand lives in its own module and is loaded
 * only when asked for, so `pka check-key` never pays for the local fleet's imports.
 */
const commands: Record<string, { module: string; summary: string }> = {
    keygen: { module: "./keygen", summary: "generate a key pair (OpenSSH, optional passphrase and PuTTY .ppk)" },
    "check-key": { module: "./checkKey", summary: "judge a public or private key by the policy pack's key rules" },
    audit: { module: "./audit", summary: "judge every line of an authorized_keys file (managed block and hand-added)" },
    cert: { module: "./cert", summary: "issue, show and revoke OpenSSH certificates (user and host)" },
    document: { module: "./document", summary: "print the SSM Command document as SetupDocument deploys it" },
    "document-params": { module: "./document", summary: "print the SendCommand Parameters for an access spec" },
    "local-fleet": {
        module: "./localFleet",
        summary: "run the whole pipeline against real sshd hosts on this machine",
    },
};

/** This package's name and version, from the package.json above this file (bin/cli/ or cli/). */
function version(): string {
    const fs = require("fs") as typeof import("fs");
    const path = require("path") as typeof import("path");
    for (let dir = __dirname; ; dir = path.dirname(dir)) {
        const file = path.join(dir, "package.json");
        if (fs.existsSync(file)) {
            const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { name?: string; version?: string };
            if (pkg.name === "pka-fleet") return `pka-fleet ${pkg.version}`;
        }
        if (path.dirname(dir) === dir) return "pka-fleet (version unknown: its package.json was not found)";
    }
}

function usage(): string {
    const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(16)} ${c.summary}`);
    return `usage: pka <command> [options]\n       pka --version\n\ncommands:\n${lines.join("\n")}\n`;
}

async function main(argv: string[]): Promise<number> {
    const [name, ...rest] = argv;
    if (!name) {
        // A usage error: the text goes where errors go, so `pka > out` does not capture it.
        process.stderr.write(usage());
        return 2;
    }
    if (name === "--version" || name === "-V" || name === "version") {
        process.stdout.write(`${version()}\n`);
        return 0;
    }
    if (name === "--help" || name === "-h" || name === "help") {
        process.stdout.write(usage());
        return 0;
    }
    const command = commands[name];
    if (!command) {
        process.stderr.write(`pka: unknown command '${name}'\n${usage()}`);
        return 2;
    }
    // Each module exports `run(name, args): Promise<number>` returning the exit code.
    const mod = require(command.module) as { run: (name: string, args: string[]) => Promise<number> };
    return mod.run(name, rest);
}

main(process.argv.slice(2)).then(
    (code) => {
        process.exitCode = code;
    },
    (err: unknown) => {
        process.stderr.write(`pka: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 2;
    },
);
