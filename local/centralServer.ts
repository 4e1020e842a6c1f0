/**
 * The central server of the local fleet: a sandbox host (local/sandbox.ts: its own /etc, /home,
 * /tmp) where root's home is /home/central, so `~/.ssh/...` in the ssh config is the central
 * server's and never this machine's /root/.ssh. It runs the README's central-server commands as
 * they are written, for one or several stacks:
 *
 * - `pulumi stack output -s <stack> ...` prints the stack's outputs. The Pulumi CLI cannot run
 *   here: a stand-in on the central server's PATH prints the outputs PkaFleet exports for the
 *   fleet's plan (core/centralServer.ts centralServerOutputs, the same functions the component
 *   calls), and `privateKeys` with the service account's key, as the stack would.
 * - `aws` is the real AWS CLI, pointed at the local endpoint by AWS_ENDPOINT_URL_SSM/_EC2 (a CLI
 *   older than v1.29 / v2.13, such as Debian 12's 2.9.19, gets them as `--endpoint-url` through a
 *   wrapper, local/awsCli.ts): knownHostsCommand runs unchanged.
 * - `aws ssm start-session` (the ProxyCommand of instance ids) is the real CLI too; it calls the
 *   endpoint's StartSession and then `session-manager-plugin`, which is the one stand-in of the
 *   path: it connects the session's stream (the instance's sshd, which the endpoint names) to ssh.
 * - `ssh` is the real client with the config the README's steps wrote (strict host-key checking).
 */
import * as fs from "fs";
import * as path from "path";
import { centralServerFiles, centralServerOutputs } from "../core/centralServer";
import type { FleetPlan } from "../core/fleetPlanTypes";
import { shQuote } from "../core/shell";
import { endpointFlagWrapper, findAwsCli } from "./awsCli";
import { LOCAL_REGION } from "./awsAccount";
import { ExecResult } from "./processes";
import { SandboxHost, startHost } from "./sandbox";
import { HOST_PATH } from "./sandboxSetup";

export const CENTRAL_HOME = "/home/central";

/** A session-manager-plugin stand-in: `--version`, then the CLI's StartSession response (by env name) -> a TCP stream on stdin/stdout. */
function pluginScript(node: string): string {
    return `#!${node}
"use strict";
const net = require("net");
if (process.argv[2] === "--version") { process.stdout.write("1.2.707.0\\n"); process.exit(0); }
// The AWS CLI passes the StartSession response itself, or (plugin > 1.2.497.0) the name of the variable holding it.
const arg = process.argv[2] || "";
const response = JSON.parse(process.env[arg] !== undefined ? process.env[arg] : arg);
const m = /^tcp:\\/\\/([0-9.]+):([0-9]+)$/.exec(response.StreamUrl || "");
if (!m) { process.stderr.write("session-manager-plugin (local): unknown stream " + response.StreamUrl + "\\n"); process.exit(1); }
const s = net.connect(Number(m[2]), m[1]);
process.stdin.pipe(s);
s.pipe(process.stdout);
s.on("error", (e) => { process.stderr.write("session-manager-plugin (local): " + e.message + "\\n"); process.exit(1); });
s.on("close", () => process.exit(0));
`;
}

/** A \`pulumi stack output [-s STACK] [--show-secrets] [--json] NAME\` stand-in reading <dir>/<stack>.json. */
function pulumiScript(node: string, dir: string): string {
    return `#!${node}
"use strict";
const fs = require("fs");
const a = process.argv.slice(2);
if (a[0] !== "stack" || a[1] !== "output") { process.stderr.write("pulumi (local stand-in): only \\"pulumi stack output\\" is served here\\n"); process.exit(2); }
let stack = "", secrets = false, json = false, name;
for (let i = 2; i < a.length; i++) {
  if (a[i] === "-s" || a[i] === "--stack") stack = a[++i];
  else if (a[i] === "--show-secrets") secrets = true;
  else if (a[i] === "--json") json = true;
  else name = a[i];
}
const outputs = JSON.parse(fs.readFileSync(${JSON.stringify(dir)} + "/" + stack + ".json", "utf8"));
if (!(name in outputs.values)) { process.stderr.write("error: current stack does not have output property '" + name + "'\\n"); process.exit(255); }
let v = outputs.values[name];
if (outputs.secret.includes(name) && !secrets) v = "[secret]";
process.stdout.write(typeof v === "string" && !json ? v + "\\n" : JSON.stringify(v, null, 2) + "\\n");
`;
}

/** The README's central-server steps for one stack (before the logins). */
export function centralServerSteps(stack: string, fleetName: string, serviceUser: string): string[] {
    const key = `~/.ssh/pka-${fleetName}-${serviceUser}`;
    return [
        `pulumi stack output -s ${stack} sshConfig >> ~/.ssh/config`,
        `pulumi stack output -s ${stack} --show-secrets privateKeys | jq -r .${serviceUser} > ${key} && chmod 600 ${key}`,
        `sh -c "$(pulumi stack output -s ${stack} knownHostsCommand)"`,
    ];
}

/** What a stack of the program holds for the central server: the fleet's plan (its outputs follow from it) and the service account's generated private key. */
export interface StackFleet {
    plan: FleetPlan;
    privateKey: string;
}

export interface StackOf {
    stack: string;
    fleet: StackFleet;
}

export class LocalCentralServer {
    private constructor(
        readonly host: SandboxHost,
        private readonly endpointUrl: string,
        private readonly awsDir: string,
    ) {}

    /** Starts the central server's sandbox: root's home is /home/central (mode 700), with the two stand-ins in ~/bin. */
    static async start(endpointUrl: string): Promise<LocalCentralServer> {
        const cli = findAwsCli();
        if (typeof cli === "string") throw new Error(cli);
        const host = await startHost({ name: "central" });
        try {
            const r = await host.sh(`set -eu
sed -i 's#^\\(root:[^:]*:[^:]*:[^:]*:[^:]*:\\)[^:]*:#\\1${CENTRAL_HOME}:#' /etc/passwd
mkdir -p ${CENTRAL_HOME}/bin ${CENTRAL_HOME}/outputs && chmod 700 ${CENTRAL_HOME}
getent passwd root | cut -d: -f6`);
            if (r.code !== 0 || r.stdout.trim() !== CENTRAL_HOME)
                throw new Error(`central server: cannot move root's home: ${r.stderr}${r.stdout}`);
            fs.writeFileSync(host.path(`${CENTRAL_HOME}/bin/session-manager-plugin`), pluginScript(process.execPath), {
                mode: 0o755,
            });
            fs.writeFileSync(
                host.path(`${CENTRAL_HOME}/bin/pulumi`),
                pulumiScript(process.execPath, `${CENTRAL_HOME}/outputs`),
                { mode: 0o755 },
            );
            if (cli.needsEndpointFlag)
                fs.writeFileSync(host.path(`${CENTRAL_HOME}/bin/aws`), endpointFlagWrapper(cli.path), { mode: 0o755 });
            return new LocalCentralServer(host, endpointUrl, path.dirname(cli.path));
        } catch (e) {
            await host.stop();
            throw e;
        }
    }

    /** Runs a shell script on the central server as its operator (root, HOME=/home/central), with the AWS CLI pointed at the local endpoint. */
    sh(script: string, timeoutMs = 60_000): Promise<ExecResult> {
        return this.host.sh(script, {
            timeoutMs,
            env: {
                HOME: CENTRAL_HOME,
                PATH: `${CENTRAL_HOME}/bin:${this.awsDir}:${HOST_PATH}`,
                AWS_ENDPOINT_URL_SSM: this.endpointUrl,
                AWS_ENDPOINT_URL_EC2: this.endpointUrl,
                AWS_REGION: LOCAL_REGION,
                AWS_DEFAULT_REGION: LOCAL_REGION,
                AWS_ACCESS_KEY_ID: "AKIDLOCALOPERATOR",
                AWS_SECRET_ACCESS_KEY: "local-fleet-dummy-secret",
            },
        });
    }

    /** What `pulumi up` left in the stack for this fleet: PkaFleet's outputs for its plan, privateKeys secret. */
    publishStack(stack: string, fleet: StackFleet, serviceUser: string): void {
        const o = centralServerOutputs(fleet.plan);
        const values = {
            sshConfig: o.sshConfig,
            knownHostsCommand: o.knownHostsCommand,
            accessParameterPath: fleet.plan.accessPath,
            knownHostsPath: fleet.plan.knownHostsPath,
            privateKeys: { [serviceUser]: fleet.privateKey },
        };
        fs.writeFileSync(
            this.host.path(`${CENTRAL_HOME}/outputs/${stack}.json`),
            JSON.stringify({ values, secret: ["privateKeys"] }),
            { mode: 0o600 },
        );
    }

    /** The README's steps for each stack, in one script (what the operator types). */
    async setUp(stacks: StackOf[], serviceUser: string): Promise<{ script: string; result: ExecResult }> {
        for (const s of stacks) this.publishStack(s.stack, s.fleet, serviceUser);
        const script = [
            "set -eu",
            "mkdir -p ~/.ssh && chmod 700 ~/.ssh",
            ...stacks.flatMap((s) => centralServerSteps(s.stack, s.fleet.plan.fleetName, serviceUser)),
        ].join("\n");
        return { script, result: await this.sh(script) };
    }

    /** `ssh <user>@<host> <command>` with the central server's ~/.ssh/config (never prompting). */
    ssh(user: string, host: string, command = "sudo -n true", extra: string[] = []): Promise<ExecResult> {
        const args = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", ...extra, `${user}@${host}`, command]
            .map(shQuote)
            .join(" ");
        return this.sh(`exec ssh ${args}`, 30_000);
    }

    /** `ssh -G <host>` as the central server resolves it: the options that decide who is tried with which key against which pins. */
    async resolve(host: string): Promise<Record<string, string[]>> {
        const r = await this.sh(`exec ssh -G ${shQuote(host)}`);
        if (r.code !== 0) throw new Error(`ssh -G ${host}: ${r.stderr}`);
        const out: Record<string, string[]> = {};
        for (const line of r.stdout.split("\n")) {
            const i = line.indexOf(" ");
            if (i > 0) (out[line.slice(0, i)] ??= []).push(line.slice(i + 1));
        }
        return out;
    }

    /** A file under the central server's ~/.ssh. */
    readSsh(name: string): string {
        return fs.readFileSync(this.host.path(`${CENTRAL_HOME}/.ssh/${name}`), "utf8");
    }

    files(fleetName: string): { knownHosts: string; config: string } {
        return centralServerFiles(fleetName);
    }

    stop(): Promise<void> {
        return this.host.stop();
    }
}
