/**
 * What the setup script tells the outside: its exit codes (also in the README), the SSM Agent it
 * needs for its parameters, and how many per-user lines it prints.
 */

/** The exit code the Lambda treats as an agent too old for ENV_VAR (no retry). */
export const EXIT_NO_PARAMETERS = 9;
/** SSM Agent version from which `interpolationType: ENV_VAR` parameters reach the script as environment variables. */
export const MIN_AGENT_VERSION = "3.3.2746.0";

/** True when `version` (dotted numbers, as DescribeInstanceInformation's AgentVersion) is older than MIN_AGENT_VERSION; unknown: false. */
export function agentTooOld(version: string | undefined): boolean {
    if (!version || !/^\d+(\.\d+)*$/.test(version)) return false;
    const a = version.split(".").map(Number);
    const b = MIN_AGENT_VERSION.split(".").map(Number);
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
        const d = (a[i] ?? 0) - (b[i] ?? 0);
        if (d !== 0) return d < 0;
    }
    return false;
}

/** Exit codes of the script (also in the README). */
export const SCRIPT_EXIT_CODES: Readonly<Record<number, string>> = Object.freeze({
    0: "done (the summary line says what changed)",
    9: "the agent passed no parameters: neither SSM_AccessSpec nor SSM_AccessSpecSha256 is set (an SSM Agent older than 3.3.2746.0 does not pass ENV_VAR parameters; update it with AWS-UpdateSSMAgent). The Lambda dead-letters it at once as agent-too-old",
    10: "parameters malformed (SSM_AccessSpec / SSM_AccessSpecSha256 set but not the right shape or too long)",
    11: "AccessSpec is not valid base64 or does not match AccessSpecSha256 (truncated or altered)",
    12: "the access spec's content is invalid (a line that breaks the grammar, a duplicate or reserved user)",
    13: "a command the script needs is missing on the host",
    14: "a user needs sudo but sudo/visudo is missing or /etc/sudoers does not include /etc/sudoers.d",
    15: "no longer raised: a user that conflicts with the host is reported and skipped (19), the rest applied",
    16: "another run held the lock for 120 s",
    17: "a sudoers drop-in failed `visudo -cf` (nothing was changed)",
    18: "a write failed part-way (files already written are complete; the rest keep their previous content)",
    19: "partial: every other user and every revocation applied; the users named in PKA-CONFLICT lines (stderr) were not (a system or foreign account, a group of that name, a home that is not a directory, a symlinked, linked or non-regular ~/.ssh or authorized_keys)",
});

/** PKA-USER/PKA-REVOKED lines printed at most; the rest are counted in one PKA-OMITTED line. */
export const MAX_REPORTED_USERS = 50;
