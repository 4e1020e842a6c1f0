/**
 * The texts the provisioner writes: the comment that marks its commands, the dead-letter
 * messages, and redaction of anything that looks like key material before text reaches a log or
 * the DLQ.
 */
import { MIN_AGENT_VERSION } from "../core/script.sh";

/** Exactly what commandComment writes: a command without it was not sent by this Lambda. */
const COMMENT_RE = /^pka-fleet attempt=(\d{1,2}) spec=[0-9a-f]{8}$/;

export function commandComment(attempt: number, specHash: string): string {
    return `pka-fleet attempt=${attempt} spec=${specHash.slice(0, 8)}`;
}

/** Whether `comment` is one commandComment writes. */
export function isCommandComment(comment: string | undefined): boolean {
    return COMMENT_RE.test(comment ?? "");
}

export function attemptFromComment(comment: string | undefined): number | undefined {
    const m = comment ? COMMENT_RE.exec(comment) : null;
    return m ? Number(m[1]) : undefined;
}

/** Replaces anything that looks like key material (long base64 runs) before text reaches a log or the DLQ. */
export function redact(text: string): string {
    return text.replace(/[A-Za-z0-9+/]{40,}={0,3}/g, "[redacted]");
}

/** The DLQ message text for an instance whose agent never came online. */
export function agentNotOnlineMessage(instanceId: string, waitedSeconds: number, pingStatus: string): string {
    return (
        `The SSM Agent on ${instanceId} did not come online within ${waitedSeconds} s of the instance's first event (PingStatus ${pingStatus}); nothing was run. ` +
        `Check the instance profile (AmazonSSMManagedInstanceCore or equivalent), the network path to the ssm, ssmmessages and ec2messages endpoints, and that the agent is installed and running; ` +
        `a new running or association event, or the next push, provisions it.`
    );
}

/** The DLQ message text for an agent too old for ENV_VAR parameters. */
export function agentTooOldMessage(instanceId: string, version: string | undefined): string {
    return (
        `SSM Agent ${version ?? "(version unknown)"} on ${instanceId} is older than ${MIN_AGENT_VERSION}, the first that passes the document's ENV_VAR parameters; ` +
        `nothing was run. Update the agent (aws ssm send-command --document-name AWS-UpdateSSMAgent --instance-ids ${instanceId}); its next association event provisions it.`
    );
}

/** The PKA-CONFLICT lines of the script's stderr (`PKA-CONFLICT <user> <reason text>`): user names and reasons (redacted, bounded). */
export function conflictLines(stderr: string): { user: string; reason: string }[] {
    const out: { user: string; reason: string }[] = [];
    for (const line of stderr.split("\n")) {
        const m = /^PKA-CONFLICT ([a-z_][a-z0-9_.-]{0,31}\$?) (.+)$/.exec(line);
        if (m && out.length < 50) out.push({ user: m[1], reason: redact(m[2].slice(0, 300)) });
    }
    return out;
}
