/**
 * End to end on real sshd hosts: EC2/SSM events -> local EventBridge bus (the Provisioner's exact
 * patterns) -> SQS semantics -> the real bundled Lambda -> local SSM endpoint -> the real document
 * on the host -> host keys pinned in Parameter Store -> the real ssh with StrictHostKeyChecking.
 */
import * as assert from "assert";
import { documentParameters, renderDocument } from "../core/document";
import { runDocumentLikeAgent } from "../local/agent";
import { LocalFleet } from "../local/fleet";
import { requireReal } from "./support/env";
import { ensureBuilt } from "./support/built";

describe("local fleet end to end: agents, throttling, offboarding (real sshd, real Lambda bundle)", function () {
    this.timeout(120_000);

    describe("old agents and offboarding (pulumi destroy)", () => {
        let fleet: LocalFleet;
        const OLD = 2;

        before(async function () {
            requireReal(this, { root: true, commands: ["sshd", "ssh", "unshare", "nsenter"] });
            ensureBuilt();
            fleet = await LocalFleet.create({
                hosts: 3,
                visibilityTimeoutMs: 1000,
                maxAttempts: 2,
                agentVersion: (i) => (i === OLD ? "3.2.582.0" : undefined),
            });
            fleet.launchAll();
            await fleet.settle(60_000);
        });
        after(async () => {
            await fleet?.stop();
        });

        it("an agent older than 3.3.2746.0 is dead-lettered at once as agent-too-old; the others get access", async () => {
            for (const i of [0, 1])
                assert.strictEqual(fleet.hosts[i].result, "access", `${fleet.hosts[i].name}: ${fleet.hosts[i].detail}`);
            const h = fleet.hosts[OLD];
            assert.strictEqual(h.result, "dead-lettered");
            const letters = fleet.dlq
                .peek()
                .map((m) => JSON.parse(m.body))
                .filter((b) => b.instanceId === h.instanceId);
            assert.strictEqual(letters[0]?.reason, "agent-too-old");
            assert.match(letters[0].message, /3\.2\.582\.0 .*AWS-UpdateSSMAgent/);
            assert.ok(
                !fleet.endpoint.requests.some(
                    (r) => r.action === "SendCommand" && (r.input.InstanceIds as string[]).includes(h.instanceId),
                ),
                "a command was sent to the old agent",
            );
        });

        it("run anyway, the real script on that agent exits 9 (no parameters) and changes nothing", async () => {
            const h = fleet.hosts[OLD];
            const r = await runDocumentLikeAgent(h.sandbox!, renderDocument(), documentParameters(fleet.spec), {
                agentVersion: "3.2.582.0",
            });
            assert.strictEqual(r.responseCode, 9, r.stderr);
            assert.match(r.stderr, /PKA-ERROR code=9 .*3\.3\.2746\.0/);
            const login = await fleet.login(h);
            assert.strictEqual(login.ok, false);
        });

        it("the offboarding Invocation replaced (its delete while the marker parameter stands) revokes nothing", async () => {
            await fleet.destroy({ replaceOnly: true });
            for (const i of [0, 1])
                assert.ok(
                    (await fleet.login(fleet.hosts[i])).ok,
                    `${fleet.hosts[i].name} lost access on a replacement`,
                );
            assert.ok(fleet.lambdaLogs().some((l) => l.line.includes("the fleet is still deployed")));
        });

        it("pulumi destroy: the offboarding revokes every user on every online host that can run the document, before the function goes; the destroy waits for the runs", async () => {
            const sends = fleet.endpoint.requests.filter((r) => r.action === "SendCommand").length;
            await fleet.destroy();
            const revokes = fleet.endpoint.requests.filter((r) => r.action === "SendCommand").slice(sends);
            assert.strictEqual(revokes.length, 1);
            // Every online host but the one whose agent cannot run the document (it never had access).
            assert.deepStrictEqual(
                [...(revokes[0].input.InstanceIds as string[])].sort(),
                [0, 1].map((i) => fleet.hosts[i].instanceId).sort(),
            );
            for (const i of [0, 1]) {
                const r = await fleet.login(fleet.hosts[i]);
                assert.strictEqual(r.ok, false, `${fleet.hosts[i].name} still logs in after destroy`);
                assert.match(r.output, /Permission denied/);
            }
        });
    });

    describe("throttling", () => {
        let fleet: LocalFleet;
        before(async function () {
            requireReal(this, { root: true, commands: ["sshd", "ssh", "unshare", "nsenter"] });
            ensureBuilt();
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
            for (const h of fleet.hosts)
                assert.strictEqual(h.result, "access", `${h.name}: ${h.result} ${h.detail ?? ""}`);
            assert.strictEqual(fleet.dlq.depth, 0);
        });
    });
});
