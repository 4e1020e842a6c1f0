/**
 * `npm run bench`: every measurement, called explicitly (nothing discovered, nothing silently
 * skipped), printed as one summary table and written to bench/RESULTS.md with the machine it ran
 * on, followed by each bench's detail. A measurement that cannot run here (no root for real hosts)
 * says why in its row; one that fails says so and makes the run exit 1.
 *
 *   burst          bench/burst.ts   500 instances within 3 s, real time, deployed defaults, SSM at 10/s: pka-fleet vs the naive design
 *   timing         bench/timing.ts  time to access under the deployed defaults, virtual clock: 1 / 20 / 500 / 5,000 instances, previous design then this one
 *   access         bench/access.ts  time to access on 20 real sshd hosts
 *   script         bench/script.ts  script first / no-change run on real hosts; largest spec in 64 KB
 *   lambda         bench/lambda.ts  bundle size and load time; AWS calls per 1,000 instances
 *   keygen         bench/keygen.ts  key generation times
 *   fleet          bench/fleet.ts   PkaFleet mocks run with 1, 10 and 200 users
 *   plugin         bench/plugin.ts  cross-language plugin: spawn to GetSchema and to the first Construct (and the old ts-node path)
 */
import * as fs from "fs";
import * as path from "path";
import { seconds } from "../cli/localFleet";
import { provisionerCodePath } from "../core/lambdaBundle";
import { packageRoot } from "../local/packageRoot";
import { sandboxUnavailableReason } from "../local/sandbox";
import { AccessResult, benchAccess } from "./access";
import { benchBurst } from "./burst";
import { benchTiming } from "./timing";
import { benchFleet } from "./fleet";
import { benchKeygen } from "./keygen";
import { benchLambdaCalls, measureLoad } from "./lambda";
import { benchPlugin, PluginBench } from "./plugin";
import { detailSections } from "./reportDetails";
import { log, machine, Outcome, renderReport, summaryTable } from "./report";
import { HostTimings, measureHosts, measureSpecCapacity, SpecCapacity } from "./script";

const failures: string[] = [];

async function measure<T>(
    name: string,
    fn: () => Promise<T> | T,
    skipIf?: () => string | undefined,
): Promise<Outcome<T>> {
    const why = skipIf?.();
    if (why) {
        log(`${name}: skipped: ${why}`);
        return { ok: false, skipped: true, reason: `skipped: ${why}` };
    }
    log(`${name} ...`);
    const t0 = Date.now();
    try {
        const value = await fn();
        log(`${name}: done in ${seconds(Date.now() - t0)}`);
        return { ok: true, value, ms: Date.now() - t0 };
    } catch (err) {
        const reason = `failed: ${(err as Error).message.split("\n")[0]}`;
        failures.push(`${name}: ${reason}`);
        log(`${name}: ${reason}`);
        return { ok: false, skipped: false, reason };
    }
}

async function main(): Promise<void> {
    const m = machine();
    log(`machine: ${m}`);
    const noHosts = () => sandboxUnavailableReason();

    const timing = await measure(
        "time to access under the deployed defaults (virtual clock; previous design, then this one)",
        () => benchTiming(packageRoot(), provisionerCodePath(), (s) => log(s)),
    );
    const burst = await measure(
        "burst: 500 instances within 3 s, SSM throttled at 10 requests/s per API, deployed defaults (naive, then pka-fleet)",
        () => benchBurst({}, (s) => log(s)),
    );
    const access = await measure<AccessResult>("time to access: 20 real sshd hosts", () => benchAccess(20), noHosts);
    const hostsT = await measure<HostTimings>(
        "script: first and no-change run on 6 real hosts",
        () => measureHosts(6),
        noHosts,
    );
    const capacity = await measure<SpecCapacity>("largest access spec within 64 KB", () => measureSpecCapacity());
    const bundle = await measure("Lambda bundle size and load time", () => {
        const file = provisionerCodePath();
        if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\``);
        return { bytes: fs.statSync(file).size, load: measureLoad() };
    });
    const calls = await measure("Lambda: AWS calls per 1,000 instances by batch size and rate limit", () =>
        benchLambdaCalls(),
    );
    const keygen = await measure("key generation", () => benchKeygen());
    const fleet = await measure("PkaFleet mocks run (1, 10, 200 users)", () => benchFleet());
    const plugin = await measure<PluginBench>(
        "cross-language plugin: spawn to GetSchema and to the first Construct (3 fresh processes; then the old ts-node path once)",
        () => benchPlugin(),
    );

    const results = { timing, burst, access, hostsT, capacity, bundle, calls, keygen, fleet, plugin };
    const summary = summaryTable(results);
    const details = detailSections(results);
    const report = renderReport(m, summary, details, failures);
    const file = path.join(packageRoot(), "bench", "RESULTS.md");
    fs.writeFileSync(file, report);
    log("");
    log(`Machine: ${m}`);
    log("");
    log(summary);
    log("");
    log(`details written to ${file}`);
    if (failures.length) throw new Error(`${failures.length} measurement(s) failed:\n${failures.join("\n")}`);
}

main().then(
    () => process.exit(0),
    (err) => {
        process.stderr.write(`bench: ${(err as Error).message ?? err}\n`);
        process.exit(1);
    },
);
