/** Logging in to a sandbox host with the real OpenSSH client (ssh(1), ssh_config(5)). */
import * as os from "os";
import { collect, ExecResult } from "./processes";
import type { SandboxHost } from "./sandbox";
import { HOST_PATH } from "./sandboxSetup";

export interface SshOptions {
    user: string;
    /** Private key file (mode 600). */
    identityFile: string;
    /** known_hosts file pinning the host's keys. */
    knownHostsFile: string;
    /** The remote command ("true" if left out); null for none (ssh -W, ssh -N). */
    command?: string | null;
    timeoutMs?: number;
    /** More ssh(1) options, first (so an -o here wins over the defaults below) (e.g. ["-tt"], ["-W", "host:port"], ["-o", "ForwardAgent=SOCK"]). */
    extraArgs?: string[];
    /** stdin for ssh (default none: /dev/null). */
    input?: string;
}

/**
 * Logs in with the real ssh client: only the given key, the pinned host keys, no agent, no
 * user config, no prompts. Resolves with the exit status and output (255 = ssh itself failed).
 */
export function sshRun(host: SandboxHost, opts: SshOptions): Promise<ExecResult> {
    const args = [
        ...(opts.extraArgs ?? []),
        "-F",
        "/dev/null",
        "-i",
        opts.identityFile,
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "IdentityAgent=none",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        `UserKnownHostsFile=${opts.knownHostsFile}`,
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "ConnectTimeout=5",
        "-o",
        "LogLevel=ERROR",
        "-p",
        String(host.port),
        `${opts.user}@127.0.0.1`,
        ...(opts.command === null ? [] : [opts.command ?? "true"]),
    ];
    return collect("ssh", args, {
        timeoutMs: opts.timeoutMs ?? 20000,
        input: opts.input,
        env: { PATH: process.env.PATH ?? HOST_PATH, HOME: os.tmpdir() },
    });
}
