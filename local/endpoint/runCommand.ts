/**
 * Run Command on the local endpoint: SendCommand checks what SSM checks (local/ssmRules.ts, then
 * the document's parameters, the caller's IAM tag condition and the agents' state), and each target
 * runs the document asynchronously, as its agent would, after the pickup delay; every status change
 * is emitted as SSM emits it.
 */
import { randomUUID } from "crypto";
import { apiError, orThrow, raise } from "../awsErrors";
import {
    documentKey,
    notInValidState,
    RunResult,
    runResultOfExit,
    sendCommandIds,
    sendCommandViolation,
    tagConditionDenial,
    unknownDocument,
} from "../ssmRules";
import { CallContext } from "../wire/handlers";
import { commandStatusChange } from "./awsEvents";
import { documentParameters, SsmDocument } from "./documents";
import { EndpointState } from "./state";
import { DEFAULT_AGENT_PICKUP_MS, Invocation, LocalInstance } from "./types";

function epochSeconds(ms: number): number {
    return ms / 1000;
}

/** A SendCommand that passed every check: what runs where. */
interface CheckedCommand {
    documentName: string;
    docKey: string;
    document: SsmDocument;
    parameters: Record<string, string[]>;
    instanceIds: string[];
}

/** The tag condition of the caller's role (its access key), else the endpoint's. */
function requiredTag(s: EndpointState, ctx?: CallContext): { key: string; value: string } | undefined {
    return (
        (ctx?.accessKeyId !== undefined ? s.knobs.requiredTagByAccessKey?.[ctx.accessKeyId] : undefined) ??
        s.knobs.requiredTag
    );
}

function checkSendCommand(s: EndpointState, input: Record<string, unknown>, ctx?: CallContext): CheckedCommand {
    raise(sendCommandViolation(input));
    if (input.Targets !== undefined)
        throw apiError({
            code: "ValidationException",
            message: "the local endpoint supports InstanceIds, not Targets",
        });
    const documentName = String(input.DocumentName);
    const docKey = documentKey(documentName);
    const document = s.documents.get(docKey);
    if (!document) throw apiError(unknownDocument(documentName));
    const parameters = orThrow(documentParameters(document, input.Parameters as Record<string, string[]> | undefined));
    const ids = sendCommandIds(input);
    raise(tagConditionDenial(ids, (id) => s.instances.get(id)?.tags, requiredTag(s, ctx)));
    const instanceIds = [...new Set(ids)];
    raise(
        notInValidState(
            instanceIds.filter((id) => {
                const inst = s.instances.get(id);
                return !inst || !s.isOnline(inst);
            }),
        ),
    );
    return { documentName, docKey, document, parameters, instanceIds };
}

export function sendCommand(s: EndpointState, input: Record<string, unknown>, ctx?: CallContext): unknown {
    const cmd = checkSendCommand(s, input, ctx);
    const commandId = randomUUID();
    const requestedAt = Date.now();
    const comment = typeof input.Comment === "string" ? input.Comment : "";
    s.stats.sendCommandInstances.push(cmd.instanceIds.length);
    for (const instanceId of cmd.instanceIds) {
        const inv: Invocation = {
            commandId,
            instanceId,
            documentName: cmd.docKey,
            comment,
            requestedAt,
            status: "Pending",
            responseCode: -1,
            stdout: "",
            stderr: "",
        };
        s.invocations.set(`${commandId}/${instanceId}`, inv);
        s.events.emit("commandSent", inv);
        const pickup = s.knobs.agentPickupMs;
        s.later(typeof pickup === "function" ? pickup(instanceId) : (pickup ?? DEFAULT_AGENT_PICKUP_MS), () =>
            runInvocation(s, inv, cmd.document, cmd.parameters),
        );
    }
    return {
        Command: {
            CommandId: commandId,
            DocumentName: cmd.documentName,
            DocumentVersion: "$DEFAULT",
            Comment: comment,
            ExpiresAfter: epochSeconds(requestedAt + 3600_000),
            Parameters: cmd.parameters,
            InstanceIds: cmd.instanceIds,
            Targets: [],
            RequestedDateTime: epochSeconds(requestedAt),
            Status: "Pending",
            StatusDetails: "Pending",
            MaxConcurrency: "50",
            MaxErrors: "0",
            TargetCount: cmd.instanceIds.length,
            CompletedCount: 0,
            ErrorCount: 0,
            DeliveryTimedOutCount: 0,
            TimeoutSeconds: typeof input.TimeoutSeconds === "number" ? input.TimeoutSeconds : 3600,
        },
    };
}

/** What the agent reports: the runner's exit, or a failure when the host cannot run it. */
async function runOnHost(
    inst: LocalInstance | undefined,
    inv: Invocation,
    document: SsmDocument,
    parameters: Record<string, string[]>,
): Promise<RunResult> {
    const failed = (stderr: string) => runResultOfExit({ exitCode: 1, stdout: "", stderr });
    if (!inst || inst.state !== "running") return failed("the instance is no longer running");
    if (inst.failing !== undefined) return failed(inst.failing);
    try {
        return runResultOfExit(
            await inst.runner({
                instanceId: inv.instanceId,
                documentName: inv.documentName,
                document,
                parameters,
                agentVersion: inst.agentVersion,
            }),
        );
    } catch (err) {
        return failed(`agent: ${(err as Error).message}`);
    }
}

function runInvocation(
    s: EndpointState,
    inv: Invocation,
    document: SsmDocument,
    parameters: Record<string, string[]>,
): void {
    const inst = s.instances.get(inv.instanceId);
    inv.status = "InProgress";
    inv.startedAt = Date.now();
    emitInvocation(s, inv);
    s.track(
        (async () => {
            const result = await runOnHost(inst, inv, document, parameters);
            inv.responseCode = result.responseCode;
            inv.stdout = result.stdout;
            inv.stderr = result.stderr;
            inv.status = result.status;
            inv.endedAt = Date.now();
            if (!s.closed) emitInvocation(s, inv);
        })(),
    );
}

function emitInvocation(s: EndpointState, inv: Invocation): void {
    s.events.emit("invocation", inv);
    s.emitAws(commandStatusChange(inv));
}
