/**
 * The hosts of a local fleet: real-sshd sandboxes whose "SSM agent" runs the real document
 * (local/agent.ts), or, simulated, hosts whose document run succeeds at once; each registered with
 * the endpoint as an EC2 instance carrying the fleet's tag.
 */
import { randomBytes } from "crypto";
import { agentPassesEnvVar, runDocumentLikeAgent } from "./agent";
import type { DocumentRunner } from "./endpoint/types";
import type { LocalFleetOptions } from "./fleetPlan";
import { SandboxHost, startHost } from "./sandbox";
import type { LocalSsmEndpoint } from "./ssmEndpoint";
import { formatHostKeyLine } from "../core/hostKeys";

export type HostResult = "access" | "denied" | "dead-lettered" | "timed out" | "provisioned";

export interface FleetHost {
    index: number;
    name: string;
    instanceId: string;
    sandbox?: SandboxHost;
    launchedAt?: number;
    agentOnlineAt?: number;
    firstCommandAt?: number;
    /** First successful document run. */
    provisionedAt?: number;
    /** Latest successful document run. */
    lastSuccessAt?: number;
    keysPinnedAt?: number;
    accessAt?: number;
    result?: HostResult;
    detail?: string;
    deadLetterReason?: string;
}

/** Fake but well-formed host keys (`PKA-HOSTKEY type base64`), what a simulated host's document run prints. */
export function simulatedHostKeyOutput(): string {
    const s = (b: Buffer) => {
        const len = Buffer.alloc(4);
        len.writeUInt32BE(b.length);
        return Buffer.concat([len, b]);
    };
    const blob = Buffer.concat([s(Buffer.from("ssh-ed25519")), s(randomBytes(32))]);
    return `${formatHostKeyLine("ssh-ed25519", blob.toString("base64"))}\n`;
}

/** A simulated host: the document succeeds at once, unless the agent is too old to pass ENV_VAR parameters. */
const simulatedRunner: DocumentRunner = async (run) =>
    agentPassesEnvVar(run.agentVersion)
        ? { exitCode: 0, stdout: simulatedHostKeyOutput(), stderr: "" }
        : {
              exitCode: 9,
              stdout: simulatedHostKeyOutput(),
              stderr: "PKA-ERROR code=9 SSM_AccessSpec and SSM_AccessSpecSha256 are not set\n",
          };

/** The document run by the agent on a sandbox host, its status as the exit code the agent reports. */
function sandboxRunner(sb: SandboxHost): DocumentRunner {
    return async ({ document, parameters, instanceId, agentVersion }) => {
        const r = await runDocumentLikeAgent(sb, document, parameters, { instanceId, agentVersion });
        return {
            exitCode: r.status === "Success" ? 0 : r.responseCode === 0 ? 1 : r.responseCode,
            stdout: r.stdout,
            stderr: r.stderr,
        };
    };
}

/** What starting a fleet's host needs from the fleet. */
export interface FleetHostContext {
    opts: LocalFleetOptions;
    endpoint: LocalSsmEndpoint;
    tag: { key: string; value: string };
    throwIfAborted(): void;
}

/** Starts host `index` (its sandbox unless simulated) and registers it with the endpoint (pending: launchAll runs it). */
export async function startFleetHost(f: FleetHostContext, index: number): Promise<FleetHost> {
    const name = `${f.opts.hostNamePrefix ?? "pka-host"}-${index + 1}`;
    const address = f.opts.hostAddress?.(index);
    const agentVersion = f.opts.agentVersion?.(index);
    let sandbox: SandboxHost | undefined;
    if (!f.opts.simulated) {
        f.throwIfAborted();
        // A private address of its own: sshd listens there on port 22 too (the address form of the central server's config).
        sandbox = await startHost({ name, ...(address ? { sshdConfig: [`ListenAddress ${address}:22`] } : {}) });
    }
    const inst = f.endpoint.addInstance({
        tags: { [f.tag.key]: f.tag.value, Name: name },
        runner: sandbox ? sandboxRunner(sandbox) : simulatedRunner,
        ...(agentVersion ? { agentVersion } : {}),
        computerName: name,
        ...(address ? { ipAddress: address } : {}),
        ...(sandbox ? { sshEndpoint: { host: "127.0.0.1", port: sandbox.port } } : {}),
    });
    if (f.opts.failingHosts?.includes(index))
        f.endpoint.setFailing(inst.instanceId, "pka-local-fleet knob: the setup document always fails on this host");
    return { index, name, instanceId: inst.instanceId, sandbox };
}
