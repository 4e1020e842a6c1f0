/**
 * The time-to-access simulation (bench/timing.ts) on its virtual clock: the real bundled Lambda,
 * the SDK's clients through the in-process handler, the local endpoint, bus, queue and event source
 * mapping under the deployed defaults. What it shows is behaviour, not speed: virtual time is the
 * same on any machine.
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as path from "path";
import { simulateLaunch } from "../bench/timing";
import { localProvisionerConfig } from "../local/fleet";

const ROOT = path.resolve(__dirname, "..");
const BUNDLE = path.join(ROOT, "bin", "lambda", "provisioner.js");

describe("time to access on a virtual clock (bench/timing.ts, the deployed defaults)", function () {
    this.timeout(120_000);
    before(() => {
        execFileSync(process.execPath, [path.join(ROOT, "scripts", "bundle-lambda.js")], {
            cwd: ROOT,
            stdio: "ignore",
        });
    });

    it("20 instances whose agents register 15-120 s after running: all get access soon after their agent is online, none lost, no redelivery needed", async () => {
        const r = await simulateLaunch({ instances: 20, bundle: BUNDLE });
        assert.deepStrictEqual([r.provisioned, r.pinned, r.lost, r.deadLettered], [20, 20, 0, 0]);
        // Within two looks (5 s grid + 5 s batching window each) of the agent coming online; the visibility timeout (365 s) never plays a part.
        assert.ok(r.onlineToAccess.max! < 30_000, `agent online to access max ${r.onlineToAccess.max} ms`);
        assert.ok(
            r.launchToAccess.max! < localProvisionerConfig().visibilityTimeoutMs,
            `launch to access max ${r.launchToAccess.max} ms`,
        );
        assert.strictEqual(r.calls.GetCommandInvocation ?? 0, 20, "results of lone instances are read one by one");
    });

    it("500 instances: the wait queue's one aggregator fills the commands: SendCommand calls within 1.2 x ceil(N/50), where wait messages on the standard queue (no aggregator) need several times more", async () => {
        const r = await simulateLaunch({ instances: 500, bundle: BUNDLE });
        assert.deepStrictEqual([r.provisioned, r.lost, r.deadLettered], [500, 0, 0]);
        assert.ok(r.sendCommandCalls <= 12, `${r.sendCommandCalls} SendCommand calls for 500 instances`);
        assert.ok(
            (r.log["batch held"] ?? 0) > 0,
            "no instance was ever held for a fuller command: the aggregator did not run",
        );
        const standard = await simulateLaunch({ instances: 500, bundle: BUNDLE, standardWaitMessages: true });
        assert.strictEqual(standard.lost, 0);
        assert.ok(
            standard.sendCommandCalls > 2 * r.sendCommandCalls,
            `standard queue: ${standard.sendCommandCalls} calls, wait queue: ${r.sendCommandCalls}`,
        );
    });

    it("an agent that never registers ends in the DLQ as agent-not-online once the agent wait has passed; the other instance is provisioned", async () => {
        const config = localProvisionerConfig({ agentWaitSeconds: 300 });
        const r = await simulateLaunch({ instances: 2, neverOnline: [0], bundle: BUNDLE, config, horizonMs: 1800_000 });
        assert.deepStrictEqual(r.deadLetterReasons, { "agent-not-online": 1 });
        assert.deepStrictEqual([r.provisioned, r.lost], [1, 0]);
        assert.ok(
            r.launchToDeadLetter.max! >= 300_000 && r.launchToDeadLetter.max! < 300_000 + 120_000,
            `to the DLQ after ${r.launchToDeadLetter.max} ms`,
        );
    });

    it("the previous design's behaviour is what the bench compares against: with no wait queue nor queue URL the same bundle waits out the visibility timeout", async () => {
        // The bundle without a queue URL fails a not-ready record (the redelivery path): access only after the 365 s visibility timeout.
        const r = await simulateLaunch({ instances: 1, bundle: BUNDLE, withoutWaitMessages: true });
        assert.strictEqual(r.provisioned, 1);
        assert.ok(
            r.launchToAccess.max! >= localProvisionerConfig().visibilityTimeoutMs,
            `launch to access ${r.launchToAccess.max} ms`,
        );
    });
});
