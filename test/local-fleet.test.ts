/**
 * End to end on real sshd hosts: EC2/SSM events -> local EventBridge bus (the Provisioner's exact
 * patterns) -> SQS semantics -> the real bundled Lambda -> local SSM endpoint -> the real document
 * on the host -> host keys pinned in Parameter Store -> the real ssh with StrictHostKeyChecking.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { validateAccessSpec } from "../core/accessSpec";
import { generateKey } from "../core/keygen";
import { FleetHost, LocalFleet } from "../local/fleet";
import { requireReal } from "./support/env";
import { ensureBuilt } from "./support/built";
import { patience } from "./support/patience";

function newKey(fleet: LocalFleet, name: string): { publicKey: string; file: string } {
    const k = generateKey({ type: "ed25519", comment: name });
    const file = path.join(fleet.workDir, name);
    fs.writeFileSync(file, k.privateKey, { mode: 0o600 });
    fs.writeFileSync(`${file}.pub`, k.publicKey + "\n");
    return { publicKey: k.publicKey, file };
}

describe("local fleet end to end (real sshd, real Lambda bundle)", function () {
    this.timeout(120_000);

    describe("a fleet with a late agent and a failing host", () => {
        let fleet: LocalFleet;
        const LATE = 1;
        const FAILING = 3;

        before(async function () {
            requireReal(this, { root: true, commands: ["sshd", "ssh", "unshare", "nsenter"] });
            ensureBuilt();
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
            const pinned = fleet.endpoint.parameters
                .get(`${fleet.plan.knownHostsPath}/${host(0).instanceId}`)!
                .value.split("\n")
                .sort();
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
            assert.ok(
                fleet.lambdaLogs().some((l) => l.line.includes("waiting for agents to come online")),
                "the Lambda never wrote a wait message",
            );
            // Through the wait queue (FIFO, one message group), which the Provisioner deploys.
            assert.ok(
                fleet.waitQueue.stats.sent > 0 && fleet.waitQueue.stats.received > 0,
                `the wait queue carried nothing: ${JSON.stringify(fleet.waitQueue.stats)}`,
            );
            assert.strictEqual(fleet.waitDlq.depth, 0, "nothing in the wait queue's DLQ");
            // Looked at again through the wait message: well before the queue's visibility timeout would have returned its record.
            assert.ok(
                h.firstCommandAt! - h.launchedAt! < fleet.config.visibilityTimeoutMs,
                `first command ${h.firstCommandAt! - h.launchedAt!} ms after launch`,
            );
        });

        it("an instance that keeps failing ends in the DLQ with its reason, and gets no access", async () => {
            const h = host(FAILING);
            assert.strictEqual(h.result, "dead-lettered");
            const letters = fleet.dlq
                .peek()
                .map((m) => JSON.parse(m.body))
                .filter((b) => b.instanceId === h.instanceId);
            assert.ok(letters.length >= 1, "no dead letter for the failing instance");
            assert.strictEqual(letters[0].reason, "command-failed");
            assert.strictEqual(letters[0].status, "Failed");
            assert.strictEqual(letters[0].attempts, 2);
            assert.match(letters[0].stderrTail, /always fails on this host/);
            const r = await fleet.login(h).catch((e: Error) => ({ ok: false, output: e.message }));
            assert.strictEqual(r.ok, false);
            // No other instance went to the DLQ.
            assert.ok(
                fleet.dlq
                    .peek()
                    .every(
                        (m) =>
                            JSON.parse(m.body).instanceId === h.instanceId ||
                            JSON.parse(m.body).detail?.["instance-id"] === h.instanceId,
                    ),
            );
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
                const depSudo = await fleet.login(host(i), {
                    keyFile: deploy.file,
                    user: "deployer",
                    command: "sudo -n true",
                });
                assert.strictEqual(depSudo.ok, false, "a sudo: none user got sudo");
            }
        });

        it("a user removed from the spec is refused everywhere; the others keep access (follows the rotation above)", async () => {
            const rotated = {
                file: path.join(fleet.workDir, "central_rotated"),
                publicKey: fs.readFileSync(path.join(fleet.workDir, "central_rotated.pub"), "utf8").trim(),
            };
            const deploy = { file: path.join(fleet.workDir, "deploy_user") };
            await fleet.deploySpec(
                validateAccessSpec({ users: [{ name: "svc_user", sudo: "nopasswd", keys: [rotated.publicKey] }] }),
            );
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
            const rotated = {
                file: path.join(fleet.workDir, "central_rotated"),
                publicKey: fs.readFileSync(path.join(fleet.workDir, "central_rotated.pub"), "utf8").trim(),
            };
            const mallory = newKey(fleet, "mallory");
            const deployed = fleet.spec;
            const logsBefore = fleet.lambdaLogs().length;
            // ssm:PutParameter on the access path and events:PutEvents: everything but a deploy.
            // Written (as the parameters' LastModifiedDate says) 10 minutes ago: no deploy is between its two steps, so it alarms.
            fleet.storeSpec(
                validateAccessSpec({
                    users: [...deployed.users, { name: "mallory", sudo: "nopasswd", keys: [mallory.publicKey] }],
                }),
                Date.now() - 600_000,
            );
            fleet.push("forged");
            const end = Date.now() + patience(30_000);
            const refusals = () =>
                fleet
                    .lambdaLogs()
                    .slice(logsBefore)
                    .filter((l) => l.line.includes("access spec refused"));
            while (
                Date.now() < end &&
                (refusals().length < 2 ||
                    !fleet.dlq.peek().some((m) => JSON.parse(m.body).reason === "access-spec-refused"))
            )
                await new Promise((r) => setTimeout(r, 100));
            assert.ok(
                refusals().length >= 2,
                `the Lambda refused the spec on delivery and redelivery: ${fleet
                    .lambdaLogs()
                    .slice(logsBefore)
                    .map((l) => l.line)
                    .join("\n")
                    .slice(-2000)}`,
            );
            assert.ok(
                fleet.dlq.peek().some((m) => JSON.parse(m.body).reason === "access-spec-refused"),
                "the refusal reached the DLQ (its alarm)",
            );
            for (const i of [0, 1, 2]) {
                const r = await fleet.login(host(i), { keyFile: mallory.file, user: "mallory", command: "true" });
                assert.strictEqual(r.ok, false, `${host(i).name}: the forged user logs in`);
                const kept = await fleet.login(host(i), {
                    keyFile: rotated.file,
                    command: "! id mallory >/dev/null 2>&1",
                });
                assert.ok(
                    kept.ok,
                    `${host(i).name}: svc_user lost access, or the account mallory exists: ${kept.output}`,
                );
            }
            assert.ok(
                !fleet.lambdaLogs().some((l) => l.line.includes(mallory.publicKey.split(" ")[1])),
                "the forged key is never logged",
            );
            fleet.storeSpec(deployed);
        });
    });
});
