/** Session Manager's SSH tunnel on the local endpoint (StartSession with AWS-StartSSHSession). */
import { randomUUID } from "crypto";
import { apiError } from "../awsErrors";
import { EndpointState } from "./state";

/**
 * StartSession with `AWS-StartSSHSession`, as `aws ssm start-session` calls it: the target must be a
 * running instance whose agent is online (else TargetNotConnected). The stream (the service's
 * data channel to the agent, which opens the port on the instance) is the instance's sshd here:
 * `StreamUrl` is `tcp://<address>:<port>`, what the local session-manager-plugin connects to.
 */
export function startSession(s: EndpointState, input: Record<string, unknown>): unknown {
    const target = String(input.Target ?? "");
    if (input.DocumentName !== "AWS-StartSSHSession") {
        throw apiError({
            code: "InvalidDocument",
            message: `the local endpoint serves only AWS-StartSSHSession sessions; got ${String(input.DocumentName)}`,
        });
    }
    const port = (input.Parameters as Record<string, string[]> | undefined)?.portNumber?.[0] ?? "22";
    const inst = s.instances.get(target);
    if (!inst || !s.isOnline(inst))
        throw apiError({ code: "TargetNotConnected", message: `${target} is not connected.` });
    if (port !== "22" || !inst.sshEndpoint)
        throw apiError({ code: "InvalidParameters", message: `nothing listens on port ${port} of ${target}` });
    const sessionId = `pka-local-${randomUUID()}`;
    return {
        SessionId: sessionId,
        TokenValue: randomUUID(),
        StreamUrl: `tcp://${inst.sshEndpoint.host}:${inst.sshEndpoint.port}`,
    };
}
