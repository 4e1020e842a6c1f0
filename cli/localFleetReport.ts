/**
 * What `pka local-fleet` reports once its fleets are up: every host's row (the pipeline's result,
 * the central server's logins by instance id and by address, the other fleets' keys refused), the
 * table of them, and the closing summary.
 */
import { auditAuthorizedKeys, formatAudit } from "../core/authorizedKeysAudit";

export type FleetModule = typeof import("../local/fleet");
export type Fleet = import("../local/fleet").LocalFleet;
export type Account = import("../local/fleet").LocalAccount;
export type Central = import("../local/centralServer").LocalCentralServer;

/**
 * `pka audit` of one reached host's service-user authorized_keys, as the operator would run it on
 * the host: the managed block the script wrote, judged line by line.
 */
export async function auditOneHost(fleets: Fleet[], rows: Row[], serviceUser: string): Promise<string> {
    const row = rows.find((r) => r.ok);
    const host = row && fleets.flatMap((f) => f.hosts).find((h) => h.instanceId === row.id);
    if (!host?.sandbox) return "audit: no host was reached, so there is no authorized_keys to audit\n";
    const read = await host.sandbox.exec([
        "/bin/sh",
        "-c",
        'cat -- "$(getent passwd "$1" | cut -d: -f6)/.ssh/authorized_keys"',
        "pka-audit",
        serviceUser,
    ]);
    if (read.code !== 0)
        return `audit: ${host.name}: cannot read ${serviceUser}'s authorized_keys: ${read.stderr.trim()}\n`;
    const label = `${host.name}:~${serviceUser}/.ssh/authorized_keys`;
    return `pka audit ${label}\n${formatAudit(auditAuthorizedKeys(read.stdout), label)}`;
}

/** A duration in ms as seconds with one decimal ("-" when unknown). */
export function seconds(ms: number | undefined): string {
    return ms === undefined ? "-" : `${(ms / 1000).toFixed(1)} s`;
}

/** One host's row of the final table. */
export type Row = {
    fleet: string;
    host: string;
    id: string;
    time: string;
    pipeline: string;
    byId: string;
    byAddress: string;
    otherKeys: string;
    ok: boolean;
};

/** A host no fleet pinned gets none of the fleets' settings. */
export async function strangerIsClean(central: Central, serviceUser: string): Promise<boolean> {
    const stranger = await central.resolve("i-0123456789abcdef0");
    return (
        !(stranger.identityfile ?? []).some((f) => f.includes("pka-")) &&
        !(stranger.userknownhostsfile ?? []).some((f) => f.includes("pka-")) &&
        !(stranger.user ?? []).includes(serviceUser)
    );
}

/** Every host's row: the pipeline's result, then ssh from the central server by id and by address, and the other fleets' keys refused. */
export async function accessRows(
    central: Central,
    fleets: Fleet[],
    account: Account,
    failingHosts: number[],
    serviceUser: string,
): Promise<Row[]> {
    const rows: Row[] = [];
    await Promise.all(
        fleets.map(async (f, fi) => {
            for (const h of f.hosts) {
                const expectDead = failingHosts.includes(h.index);
                const address = account.endpoint.instances.get(h.instanceId)!.ipAddress;
                const row: Row = {
                    fleet: f.plan.fleetName,
                    host: h.name,
                    id: h.instanceId,
                    time: seconds(
                        h.accessAt !== undefined && h.launchedAt !== undefined ? h.accessAt - h.launchedAt : undefined,
                    ),
                    pipeline: h.result === "access" ? "ok" : `${h.result ?? "?"}${h.detail ? `: ${h.detail}` : ""}`,
                    byId: "-",
                    byAddress: "-",
                    otherKeys: "-",
                    ok: expectDead ? h.result === "dead-lettered" : h.result === "access",
                };
                if (h.result === "access") {
                    const [byId, byAddress] = await Promise.all([
                        central.ssh(serviceUser, h.instanceId),
                        central.ssh(serviceUser, address),
                    ]);
                    const others = fleets.filter((_, j) => j !== fi);
                    const refused = await Promise.all(others.map((o) => f.login(h, { keyFile: o.keyFile })));
                    const tail = (r: { stderr: string }) => r.stderr.trim().split("\n").pop() ?? "";
                    row.byId = byId.code === 0 ? "ok" : `failed: ${tail(byId)}`;
                    row.byAddress =
                        byAddress.code === 0 ? `ok (${address})` : `failed (${address}): ${tail(byAddress)}`;
                    row.otherKeys =
                        others.length === 0
                            ? "-"
                            : refused.every((r) => !r.ok && /Permission denied/.test(r.output))
                              ? `refused (${others.length})`
                              : "ACCEPTED";
                    row.ok &&= byId.code === 0 && byAddress.code === 0 && row.otherKeys !== "ACCEPTED";
                }
                rows.push(row);
            }
        }),
    );
    rows.sort((a, b) => a.fleet.localeCompare(b.fleet) || a.host.localeCompare(b.host, undefined, { numeric: true }));
    return rows;
}

/** The rows as a Markdown table on stdout. */
export function printTable(rows: Row[]): void {
    const cols = [
        ["fleet", "fleet"],
        ["host", "host"],
        ["id", "instance id"],
        ["time", "time to access"],
        ["pipeline", "pipeline"],
        ["byId", "ssh svc_user@<id>"],
        ["byAddress", "ssh svc_user@<address>"],
        ["otherKeys", "other fleets' keys"],
    ] as const;
    const widths = cols.map(([k, t]) => Math.max(t.length, ...rows.map((r) => r[k].length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
    process.stdout.write("\n" + line(cols.map(([, t]) => t)) + "\n");
    process.stdout.write(`|${widths.map((x) => "-".repeat(x + 2)).join("|")}|\n`);
    for (const r of rows) process.stdout.write(line(cols.map(([k]) => r[k])) + "\n");
}

/** The closing summary: hosts reached, the central server's logins, times to access, the pipeline's counts. */
export function printSummary(
    mod: FleetModule,
    fleets: Fleet[],
    rows: Row[],
    account: Account,
    strangerClean: boolean,
    started: number,
): void {
    const all = fleets.flatMap((f) => f.hosts);
    const ok = all.filter((h) => h.result === "access");
    const times = ok.map((h) => h.accessAt! - h.launchedAt!);
    const dead = all.filter((h) => h.result === "dead-lettered").length;
    const calls = account.endpoint.stats.calls;
    const throttled = Object.values(account.endpoint.stats.throttled).reduce((a, b) => a + b, 0);
    const central_ok = rows.filter((r) => r.byId === "ok" && r.byAddress.startsWith("ok")).length;
    process.stdout.write(
        `\n${ok.length}/${all.length} hosts in ${fleets.length} fleet(s): the Lambda provisioned them and pinned their keys; svc_user + sudo -n true with the pinned keys (StrictHostKeyChecking yes).\n` +
            `central server: ${central_ok}/${ok.length} hosts reached as the README says, by instance id (aws ssm start-session) and by private address, each with its own fleet's key and known_hosts; ` +
            `${fleets.length > 1 ? `every host refused the other fleets' keys: ${rows.every((r) => r.otherKeys !== "ACCEPTED") ? "yes" : "NO"}; ` : ""}an unpinned host gets no fleet's settings: ${strangerClean ? "yes" : "NO"}.\n` +
            `time to access: p50 ${seconds(mod.percentile(times, 50))}, p95 ${seconds(mod.percentile(times, 95))}, max ${seconds(times.length ? Math.max(...times) : undefined)} (from the EC2 "running" event).\n` +
            `pipeline: ${account.bus.stats.put} events, ${fleets.reduce((a, f) => a + f.lambdaInvocations, 0)} Lambda invocations, ${calls.SendCommand ?? 0} SendCommand calls, ${throttled} throttled responses, DLQ ${dead} host(s); ${((Date.now() - started) / 1000).toFixed(1)} s in all.\n`,
    );
}

/**
 * Certificate mode, on every host with access: the operator's key alone is refused (no
 * authorized_keys holds it); with a one-hour certificate from the fleet's user CA for the service
 * user it logs in and runs `sudo -n true`.
 */
export async function certificateLogins(fleets: Fleet[], serviceUser: string): Promise<{ text: string; ok: boolean }> {
    const lines: string[] = [];
    let ok = true;
    for (const f of fleets) {
        if (!f.userCa) continue;
        const certFile = f.userCa.issue(serviceUser, 3600);
        lines.push(
            `certificate mode, fleet ${f.plan.fleetName}: user CA ${f.spec.certificates?.userCaKeys[0].slice(0, 40)}..., a 1 h certificate for principal ${serviceUser}`,
        );
        for (const h of f.hosts.filter((x) => x.result === "access")) {
            const bare = await f.login(h, { keyFile: f.userCa.operatorKeyFile });
            const withCert = await f.login(h, { keyFile: f.userCa.operatorKeyFile, certFile });
            const good = !bare.ok && withCert.ok;
            ok &&= good;
            lines.push(
                `  ${h.name} ${h.instanceId}: operator key alone ${bare.ok ? "ADMITTED (wrong)" : "refused"}; with the certificate ${withCert.ok ? "ssh ok, sudo -n true ok" : `FAILED: ${withCert.output.split("\n").pop()}`}${good ? "" : "  <- unexpected"}`,
            );
        }
    }
    return { text: lines.length ? lines.join("\n") + "\n" : "", ok };
}
