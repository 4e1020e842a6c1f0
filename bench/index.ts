/**
 * `npm run bench`: every bench, one table, written to bench/RESULTS.md with the machine it ran on.
 * Other benches (bench/keygen.ts, bench/script.ts, bench/lambda.ts, bench/fleet.ts) are loaded
 * when present: each exports an async `bench*` function returning rows (objects) or an object.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { benchBurst, BurstResult } from "./burst";

const log = (s: string) => process.stdout.write(`${s}\n`);

function seconds(ms: number | undefined): string {
    return ms === undefined ? "-" : `${(ms / 1000).toFixed(1)} s`;
}

function table(header: string[], rows: (string | number)[][]): string {
    return [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

function machine(): string {
    const kernel = (() => {
        try {
            return execFileSync("uname", ["-sr"]).toString().trim();
        } catch {
            return `${os.type()} ${os.release()}`;
        }
    })();
    return `nproc ${os.cpus().length} (${os.cpus()[0]?.model ?? "?"}), memory ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, kernel ${kernel}, node ${process.version}, ${new Date().toISOString()}`;
}

function rowsOf(value: unknown): string {
    if (Array.isArray(value) && value.length > 0 && typeof value[0] === "object") {
        const keys = [...new Set(value.flatMap((v) => Object.keys(v as object)))];
        return table(keys, value.map((v) => keys.map((k) => String((v as Record<string, unknown>)[k] ?? ""))));
    }
    if (value && typeof value === "object") return table(["measure", "value"], Object.entries(value).map(([k, v]) => [k, typeof v === "object" ? JSON.stringify(v) : String(v)]));
    return String(value);
}

async function timeToAccess(hosts: number): Promise<string> {
    const { localFleetUnavailableReason } = await import("../cli/localFleet");
    const why = localFleetUnavailableReason();
    if (why) return `skipped: ${why}`;
    const { LocalFleet, percentile } = await import("../local/fleet");
    const fleet = await LocalFleet.create({ hosts, fleetName: "bench" });
    try {
        fleet.launchAll();
        await fleet.settle(180_000);
        const times = fleet.hosts.filter((h) => h.result === "access").map((h) => h.accessAt! - h.launchedAt!);
        return table(
            ["hosts", "with access", "p50", "p95", "max", "Lambda invocations", "SendCommand calls"],
            [[hosts, times.length, seconds(percentile(times, 50)), seconds(percentile(times, 95)), seconds(Math.max(...times)), fleet.lambdaInvocations, fleet.endpoint.stats.calls.SendCommand ?? 0]],
        );
    } finally {
        await fleet.stop();
    }
}

async function lambdaBundle(): Promise<string> {
    const { lambdaBundlePath } = await import("../local/fleet");
    const file = lambdaBundlePath();
    if (!fs.existsSync(file)) return "skipped: bin/lambda/provisioner.js is not built";
    const loads: number[] = [];
    for (let i = 0; i < 5; i++) {
        const out = execFileSync(process.execPath, ["-e", `const t=process.hrtime.bigint();require(${JSON.stringify(file)});console.log(Number(process.hrtime.bigint()-t)/1e6)`], {
            env: { PATH: process.env.PATH ?? "", AWS_REGION: "us-east-1", PKA_DOCUMENT_NAME: "x", PKA_TARGET_TAG: "a=b", PKA_ACCESS_PARAMETER: "/pka/x/access" },
        });
        loads.push(Number(out.toString().trim()));
    }
    loads.sort((a, b) => a - b);
    return table(["bundle", "size", "module load (median of 5, cold process)"], [["bin/lambda/provisioner.js", `${(fs.statSync(file).size / 1024).toFixed(1)} KiB`, `${loads[2].toFixed(0)} ms`]]);
}

async function others(): Promise<{ name: string; text: string }[]> {
    const out: { name: string; text: string }[] = [];
    for (const name of ["keygen", "script", "lambda", "fleet"]) {
        const file = path.join(__dirname, `${name}`);
        const exists = [".ts", ".js"].some((ext) => fs.existsSync(file + ext));
        if (!exists) {
            out.push({ name, text: `skipped: bench/${name}.ts is not present` });
            continue;
        }
        try {
            const mod = (await import(`./${name}`)) as Record<string, unknown>;
            const fn = Object.entries(mod).find(([k, v]) => k.startsWith("bench") && typeof v === "function");
            if (!fn) {
                out.push({ name, text: `skipped: bench/${name} exports no bench* function` });
                continue;
            }
            log(`running bench/${name} (${fn[0]})`);
            out.push({ name: `${name} (${fn[0]})`, text: rowsOf(await (fn[1] as () => Promise<unknown>)()) });
        } catch (err) {
            out.push({ name, text: `failed: ${(err as Error).message}` });
        }
    }
    return out;
}

async function main(): Promise<void> {
    const sections: string[] = [];
    const m = machine();
    log(`machine: ${m}`);

    log("burst: 500 instances within 3 s, SSM throttled at 10 requests/s per API (naive first, then pka-fleet)");
    const burst = await benchBurst({}, log);
    const o = burst.options;
    sections.push(
        `## Burst: ${o.instances} instances launched within ${o.launchWindowMs / 1000} s, agents online 0.5-${o.maxAgentDelayMs / 1000} s after launch, SSM throttling at ${o.ratePerSecond} requests/s per API\n\n` +
            table(
                ["design", "SendCommand calls", "throttled responses", "provisioned", "dead-lettered", "lost", "p50 to provisioned", "p95 to provisioned", "all AWS calls"],
                burst.results.map((r: BurstResult) => [r.design, r.sendCommandCalls, r.throttled, `${r.provisioned}/${r.instances}`, r.deadLettered, r.lost, seconds(r.p50Ms), seconds(r.p95Ms), r.apiCalls]),
            ) +
            "\n\nSimulated hosts (the document run succeeds at once), the real bundled Lambda, the real local endpoint, bus and queue. " +
            "Provisioned = the document ran successfully on the instance. The naive design's retries are compressed from AWS's ~1 and ~2 minutes to 1 and 2 s.",
    );

    log("time to access: 20 real sshd hosts");
    sections.push(`## Time to access on the local fleet (real sshd hosts), from the EC2 "running" event to a working \`ssh ... sudo -n true\`\n\n${await timeToAccess(20)}`);

    log("Lambda bundle size and load time");
    sections.push(`## Lambda bundle\n\n${await lambdaBundle()}`);

    for (const b of await others()) sections.push(`## ${b.name}\n\n${b.text}`);

    const report = `# pka-fleet bench results\n\nMachine: ${m}\n\nProduced by \`npm run bench\` (bench/index.ts).\n\n${sections.join("\n\n")}\n`;
    const { packageRoot } = await import("../local/fleet");
    const dir = path.join(packageRoot(), "bench");
    fs.writeFileSync(path.join(dir, "RESULTS.md"), report);
    log("");
    log(report);
    log(`written to ${path.join(dir, "RESULTS.md")}`);
}

main().then(
    () => process.exit(0),
    (err) => {
        process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
        process.exit(1);
    },
);
