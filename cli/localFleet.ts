/**
 * `pka local-fleet [--hosts N]` (what `npm start` runs): the whole pipeline on this machine.
 * Real sshd hosts, the local SSM endpoint and event bus, the real bundled Lambda, then the
 * central server's key logs in to every host with the pinned known_hosts and runs `sudo -n true`.
 * Everything is torn down on exit, on Ctrl-C and on failure.
 */
import { execFileSync } from "child_process";

function hasCommand(cmd: string): boolean {
    try {
        execFileSync("sh", ["-c", 'command -v "$1"', "sh", cmd], { stdio: "ignore", env: { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` } });
        return true;
    } catch {
        return false;
    }
}

const USAGE = `usage: pka local-fleet [--hosts N] [--late-agent SECONDS] [--throttle RPS] [--failing N] [--timeout SECONDS]

  --hosts N             hosts to start, each a real sshd in its own namespaces (default 5, at most 50)
  --late-agent SECONDS  the first host's SSM agent registers this late (default 0)
  --throttle RPS        the local SSM endpoint throttles every API at RPS requests/s (default off)
  --failing N           the setup document always fails on the last N hosts: they end in the DLQ (default 0)
  --timeout SECONDS     give up waiting after this long (default 120)

Needs Linux, root, and Debian's openssh-server and openssh-client (sshd, ssh, ssh-keygen), unshare and nsenter.
`;

interface Flags {
    hosts: number;
    lateAgentS: number;
    throttle?: number;
    failing: number;
    timeoutS: number;
}

function parseFlags(args: string[]): Flags | string {
    const f: Flags = { hosts: 5, lateAgentS: 0, failing: 0, timeoutS: 120 };
    for (let i = 0; i < args.length; i++) {
        const a = args[i];
        const [flag, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
        const value = (): number => {
            const v = inline ?? args[++i];
            const n = Number(v);
            if (v === undefined || v === "" || !Number.isFinite(n) || n < 0) throw new Error(`${flag} needs a non-negative number; got ${JSON.stringify(v)}`);
            return n;
        };
        try {
            switch (flag) {
                case "--hosts":
                    f.hosts = value();
                    if (!Number.isInteger(f.hosts) || f.hosts < 1 || f.hosts > 50) return "--hosts must be an integer from 1 to 50";
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
    return f;
}

/** Why the local fleet cannot run here, in words a newcomer can act on; undefined when it can. */
export function localFleetUnavailableReason(): string | undefined {
    if (process.platform !== "linux") return `the local fleet needs Linux (this is ${process.platform}): each host is a Linux mount+pid namespace running the real sshd.`;
    if (typeof process.getuid !== "function" || process.getuid() !== 0) {
        return "the local fleet needs root: it creates namespaces, mounts a private /etc and /home per host and starts sshd. Run it as root (for example `sudo npm start`).";
    }
    const missing = ["sshd", "ssh", "ssh-keygen", "unshare", "nsenter"].filter((c) => !hasCommand(c));
    if (missing.length > 0) {
        return `the local fleet needs ${missing.join(", ")}: install them with \`apt-get install -y openssh-server openssh-client util-linux sudo\` (Debian's openssh-server does not start sshd on install; the fleet starts its own).`;
    }
    return undefined;
}

/** A duration in ms as seconds with one decimal ("-" when unknown). */
export function seconds(ms: number | undefined): string {
    return ms === undefined ? "-" : `${(ms / 1000).toFixed(1)} s`;
}

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
    const say = (line: string) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);
    // Loaded only here: `pka check-key` never pays for the fleet's imports.
    const { LocalFleet, percentile } = await import("../local/fleet");

    type Fleet = Awaited<ReturnType<typeof LocalFleet.create>>;
    let fleet: Fleet | undefined;
    let creating: Promise<Fleet> | undefined;
    let interrupted = false;
    const abort = new AbortController();
    let tearingDown: Promise<void> | undefined;
    const teardown = () => (tearingDown ??= (async () => {
        // Interrupted while starting: create() sees the abort, stops what it started and rejects.
        const f = fleet ?? (await creating?.catch(() => undefined));
        if (!f) return;
        say("tearing down: Lambda containers, endpoint, sshd hosts, temporary files");
        await f.stop();
    })());
    const onSignal = (sig: NodeJS.Signals) => {
        if (interrupted) return;
        interrupted = true;
        process.stderr.write(`\npka local-fleet: ${sig}: stopping\n`);
        abort.abort();
        void teardown().finally(() => process.exit(sig === "SIGINT" ? 130 : 143));
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
        say(`pka local-fleet: ${flags.hosts} hosts${flags.throttle ? `, SSM throttled at ${flags.throttle} requests/s` : ""}${flags.lateAgentS ? `, first agent ${flags.lateAgentS} s late` : ""}${flags.failing ? `, ${flags.failing} failing` : ""}`);
        const failingHosts = Array.from({ length: flags.failing }, (_, i) => flags.hosts - 1 - i);
        creating = LocalFleet.create({
            signal: abort.signal,
            hosts: flags.hosts,
            log: say,
            visibilityTimeoutMs: 3000,
            maxReceiveCount: 20,
            failingHosts,
            knobs: flags.throttle ? { throttle: { ratePerSecond: flags.throttle } } : {},
            agentDelayMs: flags.lateAgentS ? (i) => (i === 0 ? flags.lateAgentS * 1000 : 0) : undefined,
        });
        fleet = await creating;
        if (interrupted) return 130;
        say(`central server key: ${fleet.publicKey.split(" ").slice(0, 1)} ${fleet.keyFile}`);
        say(`access spec (${fleet.specSource}): user svc_user, sudo nopasswd, 1 key -> ${fleet.plan.accessPath}`);
        say(`local AWS endpoint ${fleet.endpoint.url}; EventBridge rules -> queue ${fleet.queue.name} (DLQ ${fleet.dlq.name}) -> Lambda bin/lambda/provisioner.js`);
        fleet.launchAll();
        await fleet.settle(flags.timeoutS * 1000);
        if (interrupted) return 130;

        const rows = fleet.hosts.map((h) => ({
            host: h.name,
            id: h.instanceId,
            time: seconds(h.accessAt !== undefined && h.launchedAt !== undefined ? h.accessAt - h.launchedAt : undefined),
            result: h.result === "access" ? "ok: ssh svc_user + sudo -n true" : `${h.result ?? "?"}${h.detail ? `: ${h.detail}` : ""}`,
        }));
        const w = (k: keyof (typeof rows)[number], title: string) => Math.max(title.length, ...rows.map((r) => r[k].length));
        const cols = [
            ["host", "host"],
            ["id", "instance id"],
            ["time", "time to access"],
            ["result", "result"],
        ] as const;
        const widths = cols.map(([k, t]) => w(k, t));
        const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
        process.stdout.write("\n" + line(cols.map(([, t]) => t)) + "\n");
        process.stdout.write(`|${widths.map((x) => "-".repeat(x + 2)).join("|")}|\n`);
        for (const r of rows) process.stdout.write(line(cols.map(([k]) => r[k])) + "\n");

        const ok = fleet.hosts.filter((h) => h.result === "access");
        const times = ok.map((h) => h.accessAt! - h.launchedAt!);
        const dead = fleet.hosts.filter((h) => h.result === "dead-lettered").length;
        const calls = fleet.endpoint.stats.calls;
        const throttled = Object.values(fleet.endpoint.stats.throttled).reduce((a, b) => a + b, 0);
        process.stdout.write(
            `\n${ok.length}/${fleet.hosts.length} hosts: svc_user logged in with the central key, host keys pinned from Parameter Store (StrictHostKeyChecking yes), sudo -n true ok.\n` +
                `time to access: p50 ${seconds(percentile(times, 50))}, p95 ${seconds(percentile(times, 95))}, max ${seconds(times.length ? Math.max(...times) : undefined)} (from the EC2 "running" event).\n` +
                `pipeline: ${fleet.bus.stats.put} events, ${fleet.lambdaInvocations} Lambda invocations, ${calls.SendCommand ?? 0} SendCommand calls, ${throttled} throttled responses, DLQ ${dead} host(s).\n`,
        );
        const expectedDead = failingHosts.length;
        return ok.length === fleet.hosts.length - expectedDead && dead === expectedDead ? 0 : 1;
    } catch (err) {
        if (interrupted) return 130;
        process.stderr.write(`pka local-fleet: ${(err as Error).message}\n`);
        return 1;
    } finally {
        await teardown();
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
    }
}
