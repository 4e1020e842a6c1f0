/**
 * Gates for tests that need real parts of the machine. A test that cannot run here is
 * reported as skipped with its reason, never silently passed.
 */
import { execFileSync } from "child_process";

export function isRootLinux(): boolean {
    return process.platform === "linux" && typeof process.getuid === "function" && process.getuid() === 0;
}

export function hasCommand(cmd: string): boolean {
    try {
        execFileSync("sh", ["-c", `command -v "$1"`, "sh", cmd], { stdio: "ignore" });
        return true;
    } catch {
        return false;
    }
}

/**
 * Call in a `before`/`it` with mocha's context: skips with a printed reason when a requirement
 * is missing. In CI (`CI=true`) a missing requirement is a failure instead, because CI installs
 * every Debian package the suite needs.
 */
export function requireReal(ctx: Mocha.Context, needs: { root?: boolean; commands?: string[] }): void {
    const missing: string[] = [];
    if (needs.root && !isRootLinux()) missing.push("root on Linux");
    for (const c of needs.commands ?? []) if (!hasCommand(c)) missing.push(`the command \`${c}\``);
    if (missing.length === 0) return;
    const reason = `needs ${missing.join(", ")}`;
    if (process.env.CI === "true" && isRootLinux()) {
        throw new Error(`CI must run this test but it ${reason}: .ci/run installs these packages`);
    }
    console.log(`      skipped: ${reason}`);
    ctx.skip();
}
