/**
 * End to end on real sshd hosts: EC2/SSM events -> local EventBridge bus (the Provisioner's exact
 * patterns) -> SQS semantics -> the real bundled Lambda -> local SSM endpoint -> the real document
 * on the host -> host keys pinned in Parameter Store -> the real ssh with StrictHostKeyChecking.
 */
import * as assert from "assert";
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { validateAccessSpec } from "../core/accessSpec";
import { documentParameters, renderDocument } from "../core/document";
import { runDocumentLikeAgent } from "../local/agent";
import { generateKey } from "../core/keygen";
import { LocalCentralServer } from "../local/centralServer";
import { FleetHost, LocalAccount, LocalFleet, packageRoot } from "../local/fleet";
import { requireReal } from "./support/env";
import { patience, stallTimer } from "./support/patience";

function buildBundle(): void {
    const root = packageRoot();
    execFileSync(process.execPath, [path.join(root, "scripts", "bundle-lambda.js")], { cwd: root, stdio: "ignore" });
    if (!fs.existsSync(path.join(root, "bin", "lambda", "provisioner.js"))) throw new Error("bin/lambda/provisioner.js was not built");
}

function newKey(fleet: LocalFleet, name: string): { publicKey: string; file: string } {
    const k = generateKey({ type: "ed25519", comment: name });
    const file = path.join(fleet.workDir, name);
    fs.writeFileSync(file, k.privateKey, { mode: 0o600 });
    fs.writeFileSync(`${file}.pub`, k.publicKey + "\n");
    return { publicKey: k.publicKey, file };
}

/** Every live descendant of `root` (pid -> command name), from /proc. */
function descendants(root: number): Map<number, string> {
    const parent = new Map<number, number>();
    const comm = new Map<number, string>();
    for (const e of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(e)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${e}/stat`, "utf8");
            const close = stat.lastIndexOf(")");
            const [state, ppid] = stat.slice(close + 2).split(" ");
            if (state === "Z") continue;
            parent.set(Number(e), Number(ppid));
            comm.set(Number(e), stat.slice(stat.indexOf("(") + 1, close));
        } catch {
            /* gone */
        }
    }
    const out = new Map<number, string>();
    let grew = true;
    while (grew) {
        grew = false;
        for (const [pid, ppid] of parent) {
            if (!out.has(pid) && (ppid === root || out.has(ppid))) {
                out.set(pid, comm.get(pid)!);
                grew = true;
            }
        }
    }
    return out;
}

function alive(pids: Iterable<number>): number[] {
    return [...pids].filter((pid) => {
        try {
            return !/^\d+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
        } catch {
            return false;
        }
    });
}

/**
 * Runs `pka local-fleet --hosts 2` from the sources in its own process group, waits for a line
 * matching `when`, then sends SIGINT to the group as a terminal's Ctrl-C does.
 */
async function interruptLocalFleet(when: RegExp, tmp: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string; seen: Map<number, string> }> {
    const root = packageRoot();
    const child: ChildProcess = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(root, "cli", "pka.ts"), "local-fleet", "--hosts", "2"], {
        cwd: root,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        // Its own TMPDIR: whatever the run leaves in it was left by this run.
        env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true", TMPDIR: tmp },
    });
    let output = "";
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.once("exit", (code, signal) => r([code, signal])));
    const seen = new Map<number, string>();
    try {
        await new Promise<void>((resolve, reject) => {
            // progress-based: only 60 s (scaled) without any output is a hang; a slow fleet keeps printing
            const timer = stallTimer(60_000, () => reject(new Error(`no line matching ${when}, and no output for ${patience(60_000) / 1000} s:\n${output}`)));
            const onData = (d: Buffer) => {
                output += d.toString();
                timer.progress();
                if (when.test(output)) {
                    timer.clear();
                    resolve();
                }
            };
            child.stdout!.on("data", onData);
            child.stderr!.on("data", (d: Buffer) => {
                output += d.toString();
                timer.progress();
            });
            void exited.then(([code]) => reject(new Error(`pka local-fleet exited (${code}) before ${when}:\n${output}`)));
        });
        for (const [pid, name] of descendants(child.pid!)) seen.set(pid, name);
        process.kill(-child.pid!, "SIGINT");
        const [code, signal] = await Promise.race([exited, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`still running ${patience(30_000) / 1000} s after SIGINT:\n${output}`)), patience(30_000)))]);
        return { code, signal, output, seen };
    } finally {
        if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
    }
}

describe("local fleet end to end (real sshd, real Lambda bundle)", function () {
    this.timeout(120_000);

    describe("old agents and offboarding (pulumi destroy)", () => {
        let fleet: LocalFleet;
        const OLD = 2;

        before(async function () {
            requireReal(this, { root: true, commands: ["sshd", "ssh", "unshare", "nsenter"] });
            buildBundle();
            fleet = await LocalFleet.create({ hosts: 3, visibilityTimeoutMs: 1000, maxAttempts: 2, agentVersion: (i) => (i === OLD ? "3.2.582.0" : undefined) });
            fleet.launchAll();
            await fleet.settle(60_000);
        });
        after(async () => {
            await fleet?.stop();
        });

        it("an agent older than 3.3.2746.0 is dead-lettered at once as agent-too-old; the others get access", async () => {
            for (const i of [0, 1]) assert.strictEqual(fleet.hosts[i].result, "access", `${fleet.hosts[i].name}: ${fleet.hosts[i].detail}`);
            const h = fleet.hosts[OLD];
            assert.strictEqual(h.result, "dead-lettered");
            const letters = fleet.dlq.peek().map((m) => JSON.parse(m.body)).filter((b) => b.instanceId === h.instanceId);
            assert.strictEqual(letters[0]?.reason, "agent-too-old");
            assert.match(letters[0].message, /3\.2\.582\.0 .*AWS-UpdateSSMAgent/);
            assert.ok(!fleet.endpoint.requests.some((r) => r.action === "SendCommand" && (r.input.InstanceIds as string[]).includes(h.instanceId)), "a command was sent to the old agent");
        });

        it("run anyway, the real script on that agent exits 9 (no parameters) and changes nothing", async () => {
            const h = fleet.hosts[OLD];
            const r = await runDocumentLikeAgent(h.sandbox!, renderDocument(), documentParameters(fleet.spec), { agentVersion: "3.2.582.0" });
            assert.strictEqual(r.responseCode, 9, r.stderr);
            assert.match(r.stderr, /PKA-ERROR code=9 .*3\.3\.2746\.0/);
            const login = await fleet.login(h);
            assert.strictEqual(login.ok, false);
        });

        it("the offboarding Invocation replaced (its delete while the marker parameter stands) revokes nothing", async () => {
            await fleet.destroy({ replaceOnly: true });
            for (const i of [0, 1]) assert.ok((await fleet.login(fleet.hosts[i])).ok, `${fleet.hosts[i].name} lost access on a replacement`);
            assert.ok(fleet.lambdaLogs().some((l) => l.line.includes("the fleet is still deployed")));
        });

        it("pulumi destroy: the offboarding revokes every user on every online host that can run the document, before the function goes; the destroy waits for the runs", async () => {
            const sends = fleet.endpoint.requests.filter((r) => r.action === "SendCommand").length;
            await fleet.destroy();
            const revokes = fleet.endpoint.requests.filter((r) => r.action === "SendCommand").slice(sends);
            assert.strictEqual(revokes.length, 1);
            // Every online host but the one whose agent cannot run the document (it never had access).
            assert.deepStrictEqual([...(revokes[0].input.InstanceIds as string[])].sort(), [0, 1].map((i) => fleet.hosts[i].instanceId).sort());
            for (const i of [0, 1]) {
                const r = await fleet.login(fleet.hosts[i]);
                assert.strictEqual(r.ok, false, `${fleet.hosts[i].name} still logs in after destroy`);
                assert.match(r.output, /Permission denied/);
            }
        });
    });

    describe("a fleet with a late agent and a failing host", () => {
        let fleet: LocalFleet;
        const LATE = 1;
        const FAILING = 3;

        before(async function () {
            requireReal(this, { root: true, commands: ["sshd", "ssh", "unshare", "nsenter"] });
            buildBundle();
            // The deployed queue settings (365 s visibility, 10 receives): the late agent must not need them.
            fleet = await LocalFleet.create({
                hosts: 4,
                maxAttempts: 2,
                agentDelayMs: (i) => (i === LATE ? 15_000 : 0),
                failingHosts: [FAILING],
            });
            fleet.launchAll();
            await fleet.settle(60_000);
        });
        after(async () => {
            await fleet?.stop();
        });

        const host = (i: number): FleetHost => fleet.hosts[i];

        it("new instances get access: the central key logs in with the pinned host keys and sudo -n true works", async () => {
            for (const i of [0, 2]) {
                assert.strictEqual(host(i).result, "access", `${host(i).name}: ${host(i).detail}`);
                const r = await fleet.login(host(i));
                assert.ok(r.ok, r.output);
            }
            // The pinned keys are exactly the host's own: the known_hosts parameter equals the host key files.
            const pinned = fleet.endpoint.parameters.get(`${fleet.plan.knownHostsPath}/${host(0).instanceId}`)!.value.split("\n").sort();
            assert.deepStrictEqual(pinned, host(0).sandbox!.hostKeys().sort());
        });

        it("an agent that comes online 15 s late (after the first look) still gets access (its early event waits in a wait message, not dropped nor left to the visibility timeout)", () => {
            const h = host(LATE);
            assert.strictEqual(h.result, "access", `${h.name}: ${h.detail}`);
            // The endpoint's agent registered 15 s after launch (as scheduled; Node's timers and
            // Date.now() may disagree by a millisecond, so the schedule is read, not wall time).
            const inst = fleet.endpoint.instances.get(h.instanceId)!;
            assert.strictEqual(inst.agentDueAt! - inst.launchedAt!, 15_000);
            assert.ok(inst.agentOnlineAt! >= inst.agentDueAt! - 1, "the agent registered before its time");
            assert.ok(h.agentOnlineAt !== undefined, "the agent never came online");
            assert.ok(h.firstCommandAt! >= h.agentOnlineAt!, "a command was sent before the agent was online");
            assert.ok(fleet.lambdaLogs().some((l) => l.line.includes("waiting for agents to come online")), "the Lambda never wrote a wait message");
            // Looked at again through the wait message: well before the queue's visibility timeout would have returned its record.
            assert.ok(h.firstCommandAt! - h.launchedAt! < fleet.config.visibilityTimeoutMs, `first command ${h.firstCommandAt! - h.launchedAt!} ms after launch`);
        });

        it("an instance that keeps failing ends in the DLQ with its reason, and gets no access", async () => {
            const h = host(FAILING);
            assert.strictEqual(h.result, "dead-lettered");
            const letters = fleet.dlq.peek().map((m) => JSON.parse(m.body)).filter((b) => b.instanceId === h.instanceId);
            assert.ok(letters.length >= 1, "no dead letter for the failing instance");
            assert.strictEqual(letters[0].reason, "command-failed");
            assert.strictEqual(letters[0].status, "Failed");
            assert.strictEqual(letters[0].attempts, 2);
            assert.match(letters[0].stderrTail, /always fails on this host/);
            const r = await fleet.login(h).catch((e: Error) => ({ ok: false, output: e.message }));
            assert.strictEqual(r.ok, false);
            // No other instance went to the DLQ.
            assert.ok(fleet.dlq.peek().every((m) => JSON.parse(m.body).instanceId === h.instanceId || JSON.parse(m.body).detail?.["instance-id"] === h.instanceId));
        });

        it("a key rotation pushed to the fleet: the old key is refused and the new key accepted on every host", async () => {
            const oldKey = fleet.keyFile;
            const rotated = newKey(fleet, "central_rotated");
            const deploy = newKey(fleet, "deploy_user");
            await fleet.deploySpec(
                validateAccessSpec({
                    users: [
                        { name: "svc_user", sudo: "nopasswd", keys: [rotated.publicKey] },
                        { name: "deployer", sudo: "none", keys: [deploy.publicKey] },
                    ],
                }),
            );
            await fleet.settlePush(fleet.push("rotation"), 60_000);
            for (const i of [0, 1, 2]) {
                const fresh = await fleet.login(host(i), { keyFile: rotated.file });
                assert.ok(fresh.ok, `${host(i).name}: new key refused: ${fresh.output}`);
                const stale = await fleet.login(host(i), { keyFile: oldKey });
                assert.strictEqual(stale.ok, false, `${host(i).name}: the old key still logs in`);
                assert.match(stale.output, /Permission denied/);
                const dep = await fleet.login(host(i), { keyFile: deploy.file, user: "deployer", command: "true" });
                assert.ok(dep.ok, `${host(i).name}: deployer refused: ${dep.output}`);
                const depSudo = await fleet.login(host(i), { keyFile: deploy.file, user: "deployer", command: "sudo -n true" });
                assert.strictEqual(depSudo.ok, false, "a sudo: none user got sudo");
            }

        });

        it("a user removed from the spec is refused everywhere; the others keep access (follows the rotation above)", async () => {
            const rotated = { file: path.join(fleet.workDir, "central_rotated"), publicKey: fs.readFileSync(path.join(fleet.workDir, "central_rotated.pub"), "utf8").trim() };
            const deploy = { file: path.join(fleet.workDir, "deploy_user") };
            await fleet.deploySpec(validateAccessSpec({ users: [{ name: "svc_user", sudo: "nopasswd", keys: [rotated.publicKey] }] }));
            await fleet.settlePush(fleet.push("revocation"), 60_000);
            for (const i of [0, 1, 2]) {
                const gone = await fleet.login(host(i), { keyFile: deploy.file, user: "deployer", command: "true" });
                assert.strictEqual(gone.ok, false, `${host(i).name}: the removed user still logs in`);
                assert.match(gone.output, /Permission denied/);
                const kept = await fleet.login(host(i), { keyFile: rotated.file });
                assert.ok(kept.ok, `${host(i).name}: svc_user lost access: ${kept.output}`);
            }
        });

        it("a parameter writer's spec (valid, hash recomputed, no deploy) is refused: no host gains his user, the alarm path gets the refusal", async () => {
            const rotated = { file: path.join(fleet.workDir, "central_rotated"), publicKey: fs.readFileSync(path.join(fleet.workDir, "central_rotated.pub"), "utf8").trim() };
            const mallory = newKey(fleet, "mallory");
            const deployed = fleet.spec;
            const logsBefore = fleet.lambdaLogs().length;
            // ssm:PutParameter on the access path and events:PutEvents: everything but a deploy.
            // Written (as the parameters' LastModifiedDate says) 10 minutes ago: no deploy is between its two steps, so it alarms.
            fleet.storeSpec(validateAccessSpec({ users: [...deployed.users, { name: "mallory", sudo: "nopasswd", keys: [mallory.publicKey] }] }), Date.now() - 600_000);
            fleet.push("forged");
            const end = Date.now() + patience(30_000);
            const refusals = () => fleet.lambdaLogs().slice(logsBefore).filter((l) => l.line.includes("access spec refused"));
            while (Date.now() < end && (refusals().length < 2 || !fleet.dlq.peek().some((m) => JSON.parse(m.body).reason === "access-spec-refused"))) await new Promise((r) => setTimeout(r, 100));
            assert.ok(refusals().length >= 2, `the Lambda refused the spec on delivery and redelivery: ${fleet.lambdaLogs().slice(logsBefore).map((l) => l.line).join("\n").slice(-2000)}`);
            assert.ok(fleet.dlq.peek().some((m) => JSON.parse(m.body).reason === "access-spec-refused"), "the refusal reached the DLQ (its alarm)");
            for (const i of [0, 1, 2]) {
                const r = await fleet.login(host(i), { keyFile: mallory.file, user: "mallory", command: "true" });
                assert.strictEqual(r.ok, false, `${host(i).name}: the forged user logs in`);
                const kept = await fleet.login(host(i), { keyFile: rotated.file, command: "! id mallory >/dev/null 2>&1" });
                assert.ok(kept.ok, `${host(i).name}: svc_user lost access, or the account mallory exists: ${kept.output}`);
            }
            assert.ok(!fleet.lambdaLogs().some((l) => l.line.includes(mallory.publicKey.split(" ")[1])), "the forged key is never logged");
            fleet.storeSpec(deployed);
        });
    });

    describe("two stacks of one program in one account, and the README's central server", () => {
        const account = new LocalAccount();
        const fleets: LocalFleet[] = [];
        let central: LocalCentralServer;
        const STACKS = ["dev", "prod"];

        before(async function () {
            requireReal(this, { root: true, commands: ["sshd", "ssh", "unshare", "nsenter", "jq", "aws"] });
            buildBundle();
            for (const [i, stack] of STACKS.entries()) {
                fleets.push(
                    await LocalFleet.create({
                        account,
                        stack,
                        resourceName: "web",
                        documentName: `web-document-${stack}`,
                        hostNamePrefix: `web-${stack}`,
                        hostAddress: (n) => `127.0.${20 + i}.${n + 1}`,
                        hosts: 2,
                        visibilityTimeoutMs: 1000,
                    }),
                );
            }
            for (const f of fleets) f.launchAll();
            await Promise.all(fleets.map((f) => f.settle(60_000)));
            central = await LocalCentralServer.start(account.endpoint.url);
            const setup = await central.setUp(STACKS.map((stack, i) => ({ stack, fleet: fleets[i] })), "svc_user");
            assert.strictEqual(setup.result.code, 0, `${setup.script}\n${setup.result.stderr}`);
        });
        after(async () => {
            await central?.stop();
            for (const f of fleets) await f.stop();
            await account.stop();
        });

        it("PkaFleet's default names: two fleets, web-dev and web-prod, each provisioned only by its own Lambda", () => {
            assert.deepStrictEqual(fleets.map((f) => f.plan.fleetName), ["web-dev", "web-prod"]);
            for (const f of fleets) for (const h of f.hosts) assert.strictEqual(h.result, "access", `${h.name}: ${h.detail}`);
            // Each Lambda saw the other fleet's launches (one bus) and left them alone: its IAM condition never had to refuse.
            assert.ok(!Object.keys(account.endpoint.stats.errors).some((k) => k.startsWith("SendCommand:")), JSON.stringify(account.endpoint.stats.errors));
        });

        it("ssh svc_user@<instance id> (aws ssm start-session) and ssh svc_user@<private address> log in with strict checking and sudo -n true, on both fleets' hosts", async () => {
            for (const f of fleets) {
                for (const h of f.hosts) {
                    const address = account.endpoint.instances.get(h.instanceId)!.ipAddress;
                    for (const target of [h.instanceId, address]) {
                        const r = await central.ssh("svc_user", target);
                        assert.strictEqual(r.code, 0, `${f.plan.fleetName} ${target}: ${r.stderr}`);
                    }
                }
            }
        });

        it("the central server's config sends each host its own fleet's key: with the other fleet's key file in its place, the login is refused", async () => {
            const [a, b] = fleets;
            // Swap the key files the config names: every host must now refuse (its fleet's key is not offered).
            const r = await central.sh(`set -e; cd ~/.ssh; mv pka-web-dev-svc_user t; mv pka-web-prod-svc_user pka-web-dev-svc_user; mv t pka-web-prod-svc_user`);
            assert.strictEqual(r.code, 0, r.stderr);
            try {
                for (const h of [...a.hosts, ...b.hosts]) {
                    const denied = await central.ssh("svc_user", h.instanceId);
                    assert.notStrictEqual(denied.code, 0, `${h.name} accepted the other fleet's key`);
                    assert.match(denied.stderr, /Permission denied/);
                }
            } finally {
                await central.sh(`set -e; cd ~/.ssh; mv pka-web-dev-svc_user t; mv pka-web-prod-svc_user pka-web-dev-svc_user; mv t pka-web-prod-svc_user`);
            }
            for (const [f, other] of [[a, b], [b, a]]) {
                const r2 = await f.login(f.hosts[0], { keyFile: other.keyFile });
                assert.strictEqual(r2.ok, false);
                assert.match(r2.output, /Permission denied/);
            }
        });

        it("a push for one fleet re-provisions its hosts only: the other fleet's rule does not take it", async () => {
            const [a, b] = fleets;
            // The other fleet's own work done first (its last results come in after the deployed 5 s batching window).
            const quietBy = Date.now() + patience(60_000);
            for (let quietSince = Date.now(); Date.now() < quietBy && (b.queue.depth > 0 || Date.now() - quietSince < 2000); ) {
                await new Promise((r) => setTimeout(r, 200));
                if (b.queue.depth > 0) quietSince = Date.now();
            }
            assert.strictEqual(b.queue.depth, 0, "the other fleet's queue never emptied");
            const bBefore = b.hosts.map((h) => h.lastSuccessAt);
            const bInvocations = b.lambdaInvocations;
            const since = a.push("manual");
            await a.settlePush(since, 30_000);
            await new Promise((r) => setTimeout(r, 2000)); // time for a wrongly routed push to land
            assert.deepStrictEqual(b.hosts.map((h) => h.lastSuccessAt), bBefore, "the other fleet's hosts ran the document");
            assert.strictEqual(b.lambdaInvocations, bInvocations, "the other fleet's Lambda was invoked");
            // And on the bus: a push naming a fleet matches that fleet's rule alone.
            const d = account.bus.put({ source: "pka-fleet", detailType: "PKA Fleet Access Push", detail: { fleet: "web-prod", reason: "probe", instanceIds: [] } });
            assert.deepStrictEqual(d.matched, ["web-prod-push"]);
        });
    });

    describe("pka local-fleet --fleets 2 (what npm start runs)", () => {
        it("provisions both fleets, runs the README's central-server commands and reaches every host both ways, each refusing the other fleet's key", async function () {
            requireReal(this, { root: true, commands: ["sshd", "ssh", "unshare", "nsenter", "jq", "aws"] });
            buildBundle();
            const root = packageRoot();
            const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
                const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(root, "cli", "pka.ts"), "local-fleet", "--fleets", "2", "--hosts", "2"], {
                    cwd: root,
                    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
                    stdio: ["ignore", "pipe", "pipe"],
                });
                let out = "";
                child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
                child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
                child.on("exit", (code) => resolve({ code, out }));
            });
            assert.strictEqual(r.code, 0, r.out);
            const rows = r.out.split("\n").filter((l) => /^\| web-(dev|prod) /.test(l));
            assert.strictEqual(rows.length, 4, r.out);
            for (const row of rows) assert.match(row, /\| ok +\| ok +\| ok \(127\.0\.1[01]\.\d\) +\| refused \(1\) +\|$/, row);
            assert.match(r.out, /central\$ sh -c "\$\(pulumi stack output -s prod knownHostsCommand\)"/);
            assert.match(r.out, /every host refused the other fleets' keys: yes; an unpinned host gets no fleet's settings: yes/);
        });
    });

    describe("Ctrl-C", () => {
        before(function () {
            requireReal(this, { root: true, commands: ["sshd", "ssh", "unshare", "nsenter"] });
            buildBundle();
        });

        for (const [phase, when] of [
            ["with the hosts up", /launched 2 instances/],
            ["while the hosts are starting", /starting 2 hosts/],
        ] as const) {
            it(`SIGINT ${phase}: exit status 130, no sshd or unshare left from the run, no temporary files`, async () => {
                const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pka-ctrl-c-"));
                let r: Awaited<ReturnType<typeof interruptLocalFleet>>;
                try {
                    r = await interruptLocalFleet(when, tmp);
                    // (v8-compile-cache-*: TypeScript's compile cache under ts-node, not the fleet's)
                    assert.deepStrictEqual(fs.readdirSync(tmp).filter((f) => !f.startsWith("v8-compile-cache")), [], "temporary files were left behind");
                } finally {
                    fs.rmSync(tmp, { recursive: true, force: true });
                }
                assert.strictEqual(r.code, 130, r.output);
                assert.match(r.output, /SIGINT: stopping/);
                if (phase === "with the hosts up") {
                    assert.ok([...r.seen.values()].filter((c) => c === "sshd").length >= 2, `the hosts' sshd were not running before the SIGINT: ${[...r.seen.values()].join(" ")}`);
                }
                const left = alive(r.seen.keys());
                assert.deepStrictEqual(left.map((pid) => `${pid} ${r.seen.get(pid)}`), [], "processes of the interrupted run are still alive");
            });
        }
    });

    describe("throttling", () => {
        let fleet: LocalFleet;
        before(async function () {
            requireReal(this, { root: true, commands: ["sshd", "ssh", "unshare", "nsenter"] });
            buildBundle();
            fleet = await LocalFleet.create({
                hosts: 3,
                visibilityTimeoutMs: 1000,
                batchSize: 1,
                lambdaConcurrency: 3,
                knobs: { throttle: { ratePerSecond: 1, burst: 1 } },
            });
            fleet.launchAll();
            await fleet.settle(60_000);
        });
        after(async () => {
            await fleet?.stop();
        });

        it("does not lose an instance: every host gets access although the endpoint throttled the Lambda", () => {
            const throttled = Object.values(fleet.endpoint.stats.throttled).reduce((a, b) => a + b, 0);
            assert.ok(throttled > 0, "the endpoint never throttled: the test proves nothing");
            for (const h of fleet.hosts) assert.strictEqual(h.result, "access", `${h.name}: ${h.result} ${h.detail ?? ""}`);
            assert.strictEqual(fleet.dlq.depth, 0);
        });
    });
});
