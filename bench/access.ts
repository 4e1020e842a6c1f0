/**
 * Time to access on the local fleet: N real sshd hosts (default 20), from the EC2 "running" event
 * to a working `ssh svc_user@host sudo -n true` with the pinned host keys.
 */
import { localFleetUnavailableReason } from "../cli/localFleet";
import { LocalFleet } from "../local/fleet";
import { percentile } from "../local/stats";

export interface AccessResult {
    hosts: number;
    withAccess: number;
    p50Ms?: number;
    p95Ms?: number;
    maxMs?: number;
    lambdaInvocations: number;
    sendCommandCalls: number;
}

/** Throws with the reason when the machine cannot run real hosts (not Linux/root, sshd missing). */
export async function benchAccess(hosts = 20, log: (s: string) => void = () => undefined): Promise<AccessResult> {
    const why = localFleetUnavailableReason();
    if (why) throw new Error(why);
    const fleet = await LocalFleet.create({ hosts, fleetName: "bench", log });
    try {
        fleet.launchAll();
        await fleet.settle(180_000);
        const times = fleet.hosts.filter((h) => h.result === "access").map((h) => h.accessAt! - h.launchedAt!);
        return {
            hosts,
            withAccess: times.length,
            p50Ms: percentile(times, 50),
            p95Ms: percentile(times, 95),
            maxMs: times.length ? Math.max(...times) : undefined,
            lambdaInvocations: fleet.lambdaInvocations,
            sendCommandCalls: fleet.endpoint.stats.calls.SendCommand ?? 0,
        };
    } finally {
        await fleet.stop();
    }
}

if (require.main === module) {
    benchAccess(Number(process.argv[2] ?? 20), console.log).then(
        (r) => {
            console.log(r);
            process.exit(0);
        },
        (e) => {
            console.error(e);
            process.exit(1);
        },
    );
}
