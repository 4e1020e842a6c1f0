/**
 * End to end on real sshd hosts: EC2/SSM events -> local EventBridge bus (the Provisioner's exact
 * patterns) -> SQS semantics -> the real bundled Lambda -> local SSM endpoint -> the real document
 * on the host -> host keys pinned in Parameter Store -> the real ssh with StrictHostKeyChecking.
 */
import * as assert from "assert";
import { LocalCentralServer } from "../local/centralServer";
import { LocalAccount, LocalFleet } from "../local/fleet";
import { requireReal } from "./support/env";
import { ensureBuilt } from "./support/built";
import { patience } from "./support/patience";

describe("local fleet end to end: two stacks and the central server (real sshd, real Lambda bundle)", function () {
    this.timeout(120_000);

    describe("two stacks of one program in one account, and the README's central server", () => {
        const account = new LocalAccount();
        const fleets: LocalFleet[] = [];
        let central: LocalCentralServer;
        const STACKS = ["dev", "prod"];

        before(async function () {
            requireReal(this, { root: true, commands: ["sshd", "ssh", "unshare", "nsenter", "jq", "aws"] });
            ensureBuilt();
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
            const setup = await central.setUp(
                STACKS.map((stack, i) => ({ stack, fleet: fleets[i] })),
                "svc_user",
            );
            assert.strictEqual(setup.result.code, 0, `${setup.script}\n${setup.result.stderr}`);
        });
        after(async () => {
            await central?.stop();
            for (const f of fleets) await f.stop();
            await account.stop();
        });

        it("PkaFleet's default names: two fleets, web-dev and web-prod, each provisioned only by its own Lambda", () => {
            assert.deepStrictEqual(
                fleets.map((f) => f.plan.fleetName),
                ["web-dev", "web-prod"],
            );
            for (const f of fleets)
                for (const h of f.hosts) assert.strictEqual(h.result, "access", `${h.name}: ${h.detail}`);
            // Each Lambda saw the other fleet's launches (one bus) and left them alone: its IAM condition never had to refuse.
            assert.ok(
                !Object.keys(account.endpoint.stats.errors).some((k) => k.startsWith("SendCommand:")),
                JSON.stringify(account.endpoint.stats.errors),
            );
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
            const r = await central.sh(
                `set -e; cd ~/.ssh; mv pka-web-dev-svc_user t; mv pka-web-prod-svc_user pka-web-dev-svc_user; mv t pka-web-prod-svc_user`,
            );
            assert.strictEqual(r.code, 0, r.stderr);
            try {
                for (const h of [...a.hosts, ...b.hosts]) {
                    const denied = await central.ssh("svc_user", h.instanceId);
                    assert.notStrictEqual(denied.code, 0, `${h.name} accepted the other fleet's key`);
                    assert.match(denied.stderr, /Permission denied/);
                }
            } finally {
                await central.sh(
                    `set -e; cd ~/.ssh; mv pka-web-dev-svc_user t; mv pka-web-prod-svc_user pka-web-dev-svc_user; mv t pka-web-prod-svc_user`,
                );
            }
            for (const [f, other] of [
                [a, b],
                [b, a],
            ]) {
                const r2 = await f.login(f.hosts[0], { keyFile: other.keyFile });
                assert.strictEqual(r2.ok, false);
                assert.match(r2.output, /Permission denied/);
            }
        });

        it("a push for one fleet re-provisions its hosts only: the other fleet's rule does not take it", async () => {
            const [a, b] = fleets;
            // The other fleet's own work done first (its last results come in after the deployed 5 s batching window).
            const quietBy = Date.now() + patience(60_000);
            for (
                let quietSince = Date.now();
                Date.now() < quietBy && (b.queue.depth > 0 || Date.now() - quietSince < 2000);
            ) {
                await new Promise((r) => setTimeout(r, 200));
                if (b.queue.depth > 0) quietSince = Date.now();
            }
            assert.strictEqual(b.queue.depth, 0, "the other fleet's queue never emptied");
            const bBefore = b.hosts.map((h) => h.lastSuccessAt);
            const bInvocations = b.lambdaInvocations;
            const since = a.push("manual");
            await a.settlePush(since, 30_000);
            await new Promise((r) => setTimeout(r, 2000)); // time for a wrongly routed push to land
            assert.deepStrictEqual(
                b.hosts.map((h) => h.lastSuccessAt),
                bBefore,
                "the other fleet's hosts ran the document",
            );
            assert.strictEqual(b.lambdaInvocations, bInvocations, "the other fleet's Lambda was invoked");
            // And on the bus: a push naming a fleet matches that fleet's rule alone.
            const d = account.bus.put({
                source: "pka-fleet",
                detailType: "PKA Fleet Access Push",
                detail: { fleet: "web-prod", reason: "probe", instanceIds: [] },
            });
            assert.deepStrictEqual(d.matched, ["web-prod-push"]);
        });
    });
});
