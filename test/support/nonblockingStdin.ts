/**
 * Runs a command whose stdin is non-blocking and empty at first, the way a shell pipeline can hand
 * it over: perl (Essential in Debian) sets O_NONBLOCK and execs the command (Node's spawn would
 * reset the flag), so a read with no data yet fails with EAGAIN instead of waiting. Reports whether
 * the process slept while it waited (state S ten polls in a row) rather than spinning or exiting,
 * then writes `input` and collects the result.
 */
import { spawn } from "child_process";
import * as fs from "fs";

const NONBLOCK =
    "use Fcntl; my $f = fcntl(STDIN, F_GETFL, 0) or die; fcntl(STDIN, F_SETFL, $f | O_NONBLOCK) or die; exec @ARGV or die";

export interface NonblockingRun {
    /** Consecutive polls (of 10 wanted) in which the process was asleep before input was written. */
    asleep: number;
    code: number | null;
    stdout: string;
    stderr: string;
}

export async function runWithNonblockingStdin(
    argv: string[],
    input: string | Buffer,
    opts: { cwd: string; env: NodeJS.ProcessEnv; maxWaitMs: number },
): Promise<NonblockingRun> {
    const child = spawn("perl", ["-e", NONBLOCK, ...argv], {
        cwd: opts.cwd,
        stdio: ["pipe", "pipe", "pipe"],
        env: opts.env,
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    // A process waiting for input is asleep (S); one spinning on EAGAIN is always running (R).
    const state = () => {
        try {
            return fs
                .readFileSync(`/proc/${child.pid}/stat`, "utf8")
                .replace(/^.*\) /s, "")
                .charAt(0);
        } catch {
            return "gone"; // it exited (as a plain readFileSync(0) does on EAGAIN)
        }
    };
    let asleep = 0;
    try {
        for (let i = 0; i < opts.maxWaitMs / 25 && asleep < 10 && child.exitCode === null && state() !== "gone"; i++) {
            await new Promise((r) => setTimeout(r, 25));
            asleep = state() === "S" ? asleep + 1 : 0;
        }
    } finally {
        child.stdin!.end(input);
    }
    return { asleep, code: await exited, stdout, stderr };
}
