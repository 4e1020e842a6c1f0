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

/** What requireReal looks at; tests of the gate itself replace parts of it. */
export interface GateProbe {
    env?: NodeJS.ProcessEnv;
    isRoot?: () => boolean;
    hasCommand?: (cmd: string) => boolean;
}

/**
 * Call in a `before`/`it` with mocha's context: skips with a printed reason when a requirement
 * is missing. In CI (`CI=true`, which .ci/run sets) a missing requirement, root included, fails
 * the test with the reason instead: CI runs as root with every Debian package the suite needs,
 * so a skip there would hide a test that never ran.
 */
export function requireReal(
    ctx: Mocha.Context,
    needs: { root?: boolean; commands?: string[] },
    probe: GateProbe = {},
): void {
    const env = probe.env ?? process.env;
    const missing: string[] = [];
    if (needs.root && !(probe.isRoot ?? isRootLinux)()) missing.push("root on Linux");
    for (const c of needs.commands ?? [])
        if (!(probe.hasCommand ?? hasCommand)(c)) missing.push(`the command \`${c}\``);
    if (missing.length === 0) return;
    const reason = `needs ${missing.join(", ")}`;
    if (env.CI === "true")
        throw new Error(`CI must run this test but it ${reason}: run .ci/run as root (it installs these packages)`);
    console.log(`      skipped: ${reason}`);
    ctx.skip();
}
