/**
 * `pka local-fleet [--fleets N] [--hosts N]` (what `npm start` runs): the whole pipeline on this
 * machine, for N stacks of one program (`new PkaFleet("web", ...)` in stacks dev, prod, ...) in one
 * account: real sshd hosts, one local AWS endpoint and event bus, each fleet's own document,
 * queues and real bundled Lambda. Then the central server (a sandbox of its own) runs the README's
 * commands for every stack (sshConfig, privateKeys, knownHostsCommand with the real AWS CLI) and
 * logs in to every host with `ssh svc_user@<instance id>` (Session Manager's ProxyCommand) and
 * `ssh svc_user@<private address>`, strict host-key checking, `sudo -n true`; each fleet's hosts
 * refuse the other fleets' keys. Everything is torn down on exit, on Ctrl-C and on failure.
 */
import { execFileSync } from "child_process";
import { awsCliProblem } from "../local/awsCli";
import {
    Account,
    accessRows,
    auditOneHost,
    certificateLogins,
    Central,
    Fleet,
    FleetModule,
    printSummary,
    printTable,
    strangerIsClean,
} from "./localFleetReport";

/** The stacks the local fleet stands for: `new PkaFleet("web", ...)` deployed as these stacks of one program. */
export const STACKS = ["dev", "prod", "test"] as const;
/** The PkaFleet resource name of the local program. */
export const RESOURCE_NAME = "web";

function hasCommand(cmd: string): boolean {
    try {
        execFileSync("sh", ["-c", 'command -v "$1"', "sh", cmd], {
            stdio: "ignore",
            env: { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` },
        });
        return true;
    } catch {
        return false;
    }
}

const USAGE = `usage: pka local-fleet [--fleets N] [--hosts N] [--late-agent SECONDS] [--throttle RPS] [--failing N] [--timeout SECONDS]
                       [--certificates]

  --fleets N            stacks of one program (dev, prod, test), each a fleet in the same account (default 2, at most 3)
  --hosts N             hosts per fleet, each a real sshd in its own namespaces (default 3, at most 50 in all)
  --late-agent SECONDS  the SSM agent of the first fleet's first host registers this late (default 0)
  --throttle RPS        the local SSM endpoint throttles every API at RPS requests/s (default off)
  --failing N           the setup document always fails on the last N hosts of each fleet: they end in the DLQ (default 0)
  --timeout SECONDS     give up waiting after this long (default 120)
  --certificates        certificate mode: each fleet trusts a user CA of its own; an operator's key that no
                        authorized_keys holds logs in with a certificate the CA issues

Needs Linux, root, Debian's openssh-server and openssh-client (sshd, ssh, ssh-keygen), unshare, nsenter,
jq and the AWS CLI (Debian's awscli) for the central server's commands.
`;

interface Flags {
    fleets: number;
    hosts: number;
    lateAgentS: number;
    throttle?: number;
    failing: number;
    timeoutS: number;
    certificates?: boolean;
}

function parseFlags(args: string[]): Flags | string {
    const f: Flags = { fleets: 2, hosts: 3, lateAgentS: 0, failing: 0, timeoutS: 120 };
    for (let i = 0; i < args.length; i++) {
        const a = args[i];
        const [flag, inline] = a.includes("=")
            ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
            : [a, undefined];
        const value = (): number => {
            const v = inline ?? args[++i];
            const n = Number(v);
            if (v === undefined || v === "" || !Number.isFinite(n) || n < 0)
                throw new Error(`${flag} needs a non-negative number; got ${JSON.stringify(v)}`);
            return n;
        };
        try {
            switch (flag) {
                case "--fleets":
                    f.fleets = value();
                    if (!Number.isInteger(f.fleets) || f.fleets < 1 || f.fleets > STACKS.length)
                        return `--fleets must be an integer from 1 to ${STACKS.length}`;
                    break;
                case "--hosts":
                    f.hosts = value();
                    if (!Number.isInteger(f.hosts) || f.hosts < 1 || f.hosts > 50)
                        return "--hosts must be an integer from 1 to 50";
                    break;
                case "--late-agent":
                    f.lateAgentS = value();
                    if (f.lateAgentS > 600) return "--late-agent must be at most 600 seconds";
                    break;
                case "--throttle":
                    f.throttle = value();
                    if (f.throttle < 1) return "--throttle must be at least 1 request/s";
                    break;
                case "--failing":
                    f.failing = value();
                    if (!Number.isInteger(f.failing)) return "--failing must be an integer";
                    break;
                case "--certificates":
                    if (inline !== undefined) return "--certificates takes no value";
                    f.certificates = true;
                    break;
                case "--timeout":
                    f.timeoutS = value();
                    if (f.timeoutS < 5 || f.timeoutS > 3600) return "--timeout must be from 5 to 3600 seconds";
                    break;
                default:
                    return `unknown option ${a}`;
            }
        } catch (e) {
            return (e as Error).message;
        }
    }
    if (f.failing >= f.hosts) return "--failing must be smaller than --hosts";
    if (f.fleets * f.hosts > 50) return "--fleets times --hosts must be at most 50";
    return f;
}

/** Why the local fleet cannot run here, in words a newcomer can act on; undefined when it can. */
export function localFleetUnavailableReason(): string | undefined {
    if (process.platform !== "linux")
        return `the local fleet needs Linux (this is ${process.platform}): each host is a Linux mount+pid namespace running the real sshd.`;
    if (typeof process.getuid !== "function" || process.getuid() !== 0) {
        return "the local fleet needs root: it creates namespaces, mounts a private /etc and /home per host and starts sshd. Run it as root (for example `sudo npm start`).";
    }
    const missing = ["sshd", "ssh", "ssh-keygen", "unshare", "nsenter", "jq"].filter((c) => !hasCommand(c));
    if (missing.length > 0) {
        return `the local fleet needs ${missing.join(", ")}: install them with \`apt-get install -y openssh-server openssh-client util-linux sudo jq\` (Debian's openssh-server does not start sshd on install; the fleet starts its own).`;
    }
    return awsCliProblem();
}

// Moved to localFleetReport.ts; re-exported for bench/index.ts.
export { seconds } from "./localFleetReport";

type Say = (line: string) => void;

export async function run(_name: string, args: string[]): Promise<number> {
    if (args.includes("--help") || args.includes("-h")) {
        process.stdout.write(USAGE);
        return 0;
    }
    const flags = parseFlags(args);
    if (typeof flags === "string") {
        process.stderr.write(`pka local-fleet: ${flags}\n${USAGE}`);
        return 2;
    }
    const unavailable = localFleetUnavailableReason();
    if (unavailable) {
        process.stderr.write(`pka local-fleet: ${unavailable}\n`);
        return 2;
    }
    const started = Date.now();
    const say = (line: string) =>
        process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);
    // Loaded only here: `pka check-key` never pays for the fleet's imports.
    const mod = await import("../local/fleet");
    const { LocalCentralServer } = await import("../local/centralServer");

    const stacks = STACKS.slice(0, flags.fleets);
    const account = new mod.LocalAccount(flags.throttle ? { throttle: { ratePerSecond: flags.throttle } } : {});
    const life = new Lifecycle(account, say);
    process.on("SIGINT", life.onSignal);
    process.on("SIGTERM", life.onSignal);
    try {
        say(
            `pka local-fleet: ${stacks.length} stack(s) of one program (new PkaFleet("${RESOURCE_NAME}", ...) in ${stacks.join(", ")}) in one account, ${flags.hosts} hosts each${flags.throttle ? `, SSM throttled at ${flags.throttle} requests/s` : ""}${flags.lateAgentS ? `, first agent ${flags.lateAgentS} s late` : ""}${flags.failing ? `, ${flags.failing} failing per fleet` : ""}${flags.certificates ? ", certificate mode" : ""}`,
        );
        const failingHosts = Array.from({ length: flags.failing }, (_, i) => flags.hosts - 1 - i);
        for (const [i, stack] of stacks.entries()) {
            life.creating.push(
                mod.LocalFleet.create(
                    fleetOptions(account, stack, i, flags, failingHosts, life.abort.signal, say),
                ).catch(life.unlessInterrupted),
            );
        }
        const fleets = (await Promise.all(life.creating)) as Fleet[];
        if (life.interrupted) return 130;
        describeFleets(say, stacks, fleets, account);
        for (const f of fleets) f.launchAll();
        await Promise.all(fleets.map((f) => f.settle(flags.timeoutS * 1000)));
        if (life.interrupted) return 130;

        // ---- the central server: the README's commands for every stack, then ssh as an operator would ----
        say(
            `central server: the README's commands for ${stacks.map((s) => `-s ${s}`).join(", ")} (pulumi stack output, jq, sh -c knownHostsCommand with the real AWS CLI)`,
        );
        life.centralStarting = LocalCentralServer.start(account.endpoint.url).catch(life.unlessInterrupted);
        const central = (await life.centralStarting)!;
        if (life.interrupted) return 130;
        const setup = await central.setUp(
            stacks.map((stack, i) => ({ stack, fleet: fleets[i] })),
            mod.SERVICE_USER,
        );
        if (setup.result.code !== 0)
            throw new Error(
                `the central server's commands failed (${setup.result.code}): ${setup.result.stderr.trim()}\n${setup.script}`,
            );
        for (const line of setup.script.split("\n")) say(`  central$ ${line}`);

        const rows = await accessRows(central, fleets, account, failingHosts, mod.SERVICE_USER);
        const strangerClean = await strangerIsClean(central, mod.SERVICE_USER);
        printTable(rows);
        process.stdout.write(await auditOneHost(fleets, rows, mod.SERVICE_USER));
        const certs = flags.certificates ? await certificateLogins(fleets, mod.SERVICE_USER) : { text: "", ok: true };
        process.stdout.write(certs.text);
        printSummary(mod, fleets, rows, account, strangerClean, started);
        return rows.every((r) => r.ok) && strangerClean && certs.ok ? 0 : 1;
    } catch (err) {
        if (life.interrupted) return 130;
        process.stderr.write(`pka local-fleet: ${(err as Error).message}\n`);
        return 1;
    } finally {
        await life.teardown();
        process.off("SIGINT", life.onSignal);
        process.off("SIGTERM", life.onSignal);
    }
}

/** What a run has started, and its end: Ctrl-C or SIGTERM aborts the start and tears down what started. */
class Lifecycle {
    readonly creating: Promise<Fleet | undefined>[] = [];
    centralStarting: Promise<Central | undefined> | undefined;
    interrupted = false;
    readonly abort = new AbortController();
    private tearingDown: Promise<void> | undefined;

    constructor(
        private readonly account: Account,
        private readonly say: Say,
    ) {}

    teardown(): Promise<void> {
        return (this.tearingDown ??= (async () => {
            // Interrupted while starting: create() sees the abort, stops what it started and rejects.
            const fleets = (await Promise.allSettled(this.creating)).flatMap((r) =>
                r.status === "fulfilled" && r.value ? [r.value] : [],
            );
            const central = await this.centralStarting?.catch(() => undefined);
            this.say("tearing down: Lambda containers, endpoint, sshd hosts, central server, temporary files");
            await Promise.allSettled([...fleets.map((f) => f.stop()), central?.stop()]);
            await this.account.stop();
        })());
    }

    readonly onSignal = (sig: NodeJS.Signals): void => {
        if (this.interrupted) return;
        this.interrupted = true;
        process.stderr.write(`\npka local-fleet: ${sig}: stopping\n`);
        this.abort.abort();
        void this.teardown().finally(() => process.exit(sig === "SIGINT" ? 130 : 143));
    };

    /** A start that fails after an interrupt is the interrupt's doing: no error of its own. */
    readonly unlessInterrupted = (e: unknown): undefined => {
        if (!this.interrupted) throw e;
        return undefined;
    };
}

/** The options of stack number `i`'s fleet. */
function fleetOptions(
    account: Account,
    stack: string,
    i: number,
    flags: Flags,
    failingHosts: number[],
    signal: AbortSignal,
    say: Say,
): Parameters<FleetModule["LocalFleet"]["create"]>[0] {
    return {
        signal,
        account,
        stack,
        resourceName: RESOURCE_NAME,
        documentName: `${RESOURCE_NAME}-document-${stack}`,
        hostNamePrefix: `${RESOURCE_NAME}-${stack}`,
        // Each fleet's "private addresses": loopback addresses of its own (sshd listens there on port 22).
        hostAddress: (n) => `127.0.${10 + i}.${n + 1}`,
        hosts: flags.hosts,
        log: (l) => say(`${stack}: ${l}`),
        failingHosts,
        certificates: flags.certificates === true,
        agentDelayMs: flags.lateAgentS && i === 0 ? (h) => (h === 0 ? flags.lateAgentS * 1000 : 0) : undefined,
    };
}

/** What was started: each fleet's resources, the account's endpoint and bus, the provisioner's settings. */
function describeFleets(say: Say, stacks: readonly string[], fleets: Fleet[], account: Account): void {
    for (const [i, f] of fleets.entries()) {
        say(
            `${stacks[i]}: fleet ${f.plan.fleetName} (${f.specSource}): svc_user, sudo nopasswd -> ${f.plan.accessPath}; tag ${f.plan.tag.key}=${f.plan.tag.value}; document ${f.documentName}; queue ${f.queue.name} (DLQ ${f.dlq.name}), wait queue ${f.waitQueue.name}`,
        );
    }
    say(
        `one account: local AWS endpoint ${account.endpoint.url}, one event bus with ${account.bus.listRules().length} rules -> each fleet's queue -> its Lambda bin/lambda/provisioner.js`,
    );
    const c = fleets[0].config;
    say(
        `provisioner settings: the Provisioner's deployed defaults (batches of ${c.batchSize} gathered for ${c.batchingWindowMs / 1000} s, ${c.lambdaConcurrency} concurrent, visibility timeout ${c.visibilityTimeoutMs / 1000} s, ` +
            `${c.maxReceiveCount} receives, ${c.maxAttempts} attempts, ${c.functionTimeoutMs / 1000} s function timeout, agents awaited ${c.agentWaitSeconds} s through the FIFO wait queue, one aggregator)`,
    );
}
