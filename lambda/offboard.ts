/**
 * Offboarding: the Provisioner's offboarding Invocation (lifecycleScope CRUD) revokes every user
 * the fleet manages when the fleet is destroyed, by sending the empty spec.
 */
import { GetCommandInvocationCommandOutput, GetParameterCommand, SendCommandCommand } from "@aws-sdk/client-ssm";
import { AccessSpec, accessSpecHash } from "../core/accessSpec";
import { COMMAND_FAILED_STATUSES } from "../core/events";
import { DEADLINE_MARGIN_MS, SEND_COMMAND_MAX_IDS } from "./constants";
import { aws, BatchContext, remainingMs } from "./context";
import { listOnlineTagged } from "./fleet";
import { commandComment } from "./messages";
import { chunk } from "./paginate";
import { getInvocation } from "./results";
import { errorName } from "./retry";

/**
 * The offboarding Invocation's lifecycle call. create/update: nothing (armed). delete: when the
 * Provisioner's deployed marker is gone (a destroy deletes it first; a replaced or removed
 * Invocation leaves it), every online tagged instance gets the empty spec: the script revokes
 * every user it manages there. Fails loudly (so `pulumi destroy` reports it) when a revocation
 * could not be sent or did not succeed in time, naming the instances.
 */
export async function offboard(ctx: BatchContext, action: string | undefined): Promise<void> {
    ctx.direct = true;
    if (action !== "delete") {
        if (action === "create" || action === "update")
            ctx.log.info("offboarding armed: access is revoked when the fleet is destroyed", { action });
        else ctx.log.error("offboarding record outside a Pulumi CRUD Invocation (no tf.action): nothing done", {});
        return;
    }
    if (!(await fleetDestroyed(ctx))) return;
    // An agent too old for ENV_VAR cannot run the document (it never could provision access either): skipped, named.
    const ids = (await listOnlineTagged(ctx)).filter((id) => !ctx.oldAgents.has(id));
    for (const [id, version] of ctx.oldAgents)
        ctx.log.warn("offboarding: instance skipped, its SSM Agent is too old to run the document", {
            instanceId: id,
            agentVersion: version,
        });
    ctx.log.info("offboarding: the fleet is destroyed; revoking every user on its online tagged instances", {
        instances: ids.length,
    });
    const problems: string[] = [];
    const sent = await sendRevocations(ctx, ids, problems);
    await awaitRevocations(ctx, sent, problems);
    ctx.log.info("offboarding done", {
        instances: ids.length,
        revoked: ids.length - problems.length,
        problems: problems.length,
    });
    if (problems.length > 0) {
        throw new Error(
            `pka-fleet offboarding: access could not be confirmed revoked on ${problems.length} instance(s): ${problems.slice(0, 10).join("; ")}` +
                `${problems.length > 10 ? "; ..." : ""}. Run \`pulumi destroy\` again to retry, or revoke by hand with the empty spec (README, "Destroy and offboarding").`,
        );
    }
}

/** Whether the Provisioner's deployed marker is gone (a destroy), as opposed to a replaced or removed Invocation. */
async function fleetDestroyed(ctx: BatchContext): Promise<boolean> {
    const marker = ctx.cfg.deployedMarker;
    if (!marker) {
        ctx.log.warn(
            "offboarding: PKA_DEPLOYED_MARKER is not set, so a destroy cannot be told from a replacement; nothing revoked",
            {},
        );
        return false;
    }
    try {
        await aws(ctx, () => ctx.deps.ssm.send(new GetParameterCommand({ Name: marker })));
        ctx.log.info(
            "offboarding: the fleet is still deployed (its marker parameter exists); the Invocation was replaced or removed, nothing revoked",
            { marker },
        );
        return false;
    } catch (err) {
        if (errorName(err) !== "ParameterNotFound")
            throw new Error(
                `pka-fleet offboarding: cannot read the marker parameter ${marker} (${errorName(err)}); nothing revoked`,
            );
    }
    return true;
}

/** Sends the empty spec to `ids`; returns the commands sent, and notes in `problems` what could not be. */
async function sendRevocations(
    ctx: BatchContext,
    ids: string[],
    problems: string[],
): Promise<{ commandId: string; ids: string[] }[]> {
    const empty: AccessSpec = { users: [] };
    const hash = accessSpecHash(empty);
    const parameters = ctx.deps.documentParameters(empty);
    const sent: { commandId: string; ids: string[] }[] = [];
    for (const part of chunk(ids.sort(), SEND_COMMAND_MAX_IDS)) {
        try {
            const out = await aws(ctx, () => {
                ctx.stats.sendCommandCalls++;
                return ctx.deps.ssm.send(
                    new SendCommandCommand({
                        DocumentName: ctx.cfg.documentName,
                        InstanceIds: part,
                        Parameters: parameters,
                        Comment: commandComment(1, hash),
                        TimeoutSeconds: ctx.cfg.commandTimeoutSeconds,
                    }),
                );
            });
            ctx.stats.instancesSent += part.length;
            if (out.Command?.CommandId) sent.push({ commandId: out.Command.CommandId, ids: part });
        } catch (err) {
            problems.push(`${part.join(", ")}: SendCommand ${errorName(err)}`);
        }
    }
    return sent;
}

/** Waits for the runs while the function has time: a destroy that ends should mean access ended. */
async function awaitRevocations(
    ctx: BatchContext,
    sent: { commandId: string; ids: string[] }[],
    problems: string[],
): Promise<void> {
    const pending = new Map(sent.flatMap((c) => c.ids.map((id) => [id, c.commandId] as const)));
    let delay = 1000;
    while (pending.size > 0) {
        for (const [id, commandId] of [...pending]) {
            let inv: GetCommandInvocationCommandOutput;
            try {
                inv = await getInvocation(ctx, commandId, id);
            } catch (err) {
                if (errorName(err) === "InvocationDoesNotExist") continue;
                throw err;
            }
            const st = inv.Status ?? "";
            if (st === "Success") pending.delete(id);
            else if (COMMAND_FAILED_STATUSES.includes(st)) {
                pending.delete(id);
                problems.push(`${id}: ${st} (exit ${inv.ResponseCode})`);
            }
        }
        const remaining = remainingMs(ctx);
        if (pending.size === 0 || (remaining !== undefined && remaining < DEADLINE_MARGIN_MS + delay)) break;
        await ctx.deps.sleep(delay);
        delay = Math.min(delay * 2, 5000);
    }
    for (const id of pending.keys()) problems.push(`${id}: no result before the function's deadline`);
}
