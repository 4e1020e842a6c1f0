/**
 * test/support/env.ts: the gate every real-host test goes through. In CI nothing may skip.
 */
import { strict as assert } from "assert";
import { requireReal } from "./support/env";

/** A mocha context whose skip() is observable. */
function context(): { ctx: Mocha.Context; skipped: () => boolean } {
    let skipped = false;
    const ctx = {
        skip: () => {
            skipped = true;
            throw new Error("skipped");
        },
    } as unknown as Mocha.Context;
    return { ctx, skipped: () => skipped };
}

describe("real-part gate (requireReal)", function () {
    const missingAll = { isRoot: () => false, hasCommand: () => false };

    it("in CI a test that needs root fails when not root, with the reason", () => {
        const c = context();
        assert.throws(
            () => requireReal(c.ctx, { root: true }, { ...missingAll, env: { CI: "true" } }),
            /CI must run this test but it needs root on Linux/,
        );
        assert.equal(c.skipped(), false);
    });

    it("in CI a missing command fails the test, naming the command, root or not", () => {
        for (const isRoot of [() => true, () => false]) {
            const c = context();
            assert.throws(
                () =>
                    requireReal(
                        c.ctx,
                        { root: true, commands: ["sshd"] },
                        { isRoot, hasCommand: (x) => x !== "sshd", env: { CI: "true" } },
                    ),
                /needs .*the command `sshd`/,
            );
            assert.equal(c.skipped(), false);
        }
    });

    it("outside CI a missing requirement skips the test", () => {
        const c = context();
        assert.throws(
            () => requireReal(c.ctx, { root: true, commands: ["sshd"] }, { ...missingAll, env: {} }),
            /skipped/,
        );
        assert.equal(c.skipped(), true);
    });

    it("with everything present nothing happens, in CI or not", () => {
        for (const env of [{ CI: "true" }, {}]) {
            const c = context();
            requireReal(c.ctx, { root: true, commands: ["sshd"] }, { isRoot: () => true, hasCommand: () => true, env });
            assert.equal(c.skipped(), false);
        }
    });
});
