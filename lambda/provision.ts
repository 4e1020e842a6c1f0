/**
 * Provisioning the batch's targets: the pinned spec, the checks (tag, readiness, agent version),
 * then SendCommand, at most 50 instances a call, with the spec read again before each call once
 * the batch has run a while.
 */
import { SendCommandCommand } from "@aws-sdk/client-ssm";
import { RECHECK_AFTER_MS, SEND_COMMAND_MAX_IDS, DEADLINE_MARGIN_MS } from "./constants";
import { aws, BatchContext, failTargets, remainingMs, usesWaitQueue } from "./context";
import { filterReady, filterTagged, rejectOldAgents } from "./fleet";
import { commandComment, redact } from "./messages";
import { chunk } from "./paginate";
import { errorName } from "./retry";
import { LoadedSpec, loadPinnedSpec, specUnchanged } from "./spec";
import { holdForFullerCommands, waitOrFail } from "./wait";

/** What every SendCommand of the batch carries: the pinned spec's hash (in the comment) and its parameters. */
interface Command {
    specHash: string;
    parameters: Record<string, string[]>;
}

/** `deployPush`: a push in the batch names the pinned hash (a deploy's), so the parameters may briefly read back older. */
export async function provision(ctx: BatchContext, deployPush: boolean): Promise<void> {
    const loaded = await loadPinnedSpec(ctx, deployPush);
    if (!loaded) return;
    // Every push left names the pinned hash (expandPushes dropped the others), and so the spec loaded here.
    const parameters = commandParameters(ctx, loaded);
    if (!parameters) return;
    await checkTargets(ctx);
    await sendAll(ctx, { specHash: loaded.hash, parameters });
}

/** SendCommand Parameters for the spec; undefined (every target failed) when they cannot be built. */
function commandParameters(ctx: BatchContext, loaded: LoadedSpec): Record<string, string[]> | undefined {
    try {
        return ctx.deps.documentParameters(loaded.spec);
    } catch (err) {
        ctx.log.error("cannot build the command parameters: nothing provisioned", {
            error: errorName(err),
            message: redact(String((err as Error).message)),
        });
        failTargets(ctx, [...ctx.targets.keys()], "parameters");
        return undefined;
    }
}

/** Only the targets that pass every check stay: tagged, online, an agent recent enough (and, wait queue, not held). */
async function checkTargets(ctx: BatchContext): Promise<void> {
    // New events: the tag first (most running events in an account are not the fleet's). Wait entries were
    // tag-checked when they were new: readiness first, and the tag again only for those now online.
    await filterTagged(ctx, (t) => !t.fromWait);
    await filterReady(ctx);
    await filterTagged(ctx, (t) => t.fromWait);
    await rejectOldAgents(ctx);
    if (usesWaitQueue(ctx)) holdForFullerCommands(ctx);
}

/** The SendCommand calls for every target; stops (the rest retried) when the stored spec changed meanwhile. */
async function sendAll(ctx: BatchContext, cmd: Command): Promise<void> {
    const parts = commandParts(ctx);
    let checkedAt = ctx.deps.now();
    for (const [i, { attempt, part }] of parts.entries()) {
        // The checks above take time (and a throttled send more): a deploy may have written a newer spec
        // meanwhile, and an older spec sent after the deploy's own push could land last. Check again once
        // RECHECK_AFTER_MS has passed since the last read (a quick batch costs no extra call).
        let now: "same" | "changed" | "unreadable" = "same";
        if (ctx.deps.now() - checkedAt >= RECHECK_AFTER_MS) {
            now = await specUnchanged(ctx, cmd.specHash);
            checkedAt = ctx.deps.now();
        }
        if (now !== "same") {
            const why =
                now === "changed" ? "the stored spec changed while this batch ran" : "cannot re-read the access spec";
            ctx.log.warn(`${why}: nothing more sent; the records are retried`, { spec: cmd.specHash.slice(0, 8) });
            failTargets(
                ctx,
                parts.slice(i).flatMap((p) => p.part),
                why,
            );
            return;
        }
        await sendCommand(ctx, part, attempt, cmd);
    }
}

/** The targets by attempt (each attempt's comment differs), in sorted slices of at most SEND_COMMAND_MAX_IDS. */
function commandParts(ctx: BatchContext): { attempt: number; part: string[] }[] {
    const byAttempt = new Map<number, string[]>();
    for (const [id, t] of ctx.targets) byAttempt.set(t.attempt, [...(byAttempt.get(t.attempt) ?? []), id]);
    return [...byAttempt].flatMap(([attempt, ids]) =>
        chunk(ids.sort(), SEND_COMMAND_MAX_IDS).map((part) => ({ attempt, part })),
    );
}

/** One SendCommand to `ids`, unless the function is nearly out of time. */
async function sendCommand(ctx: BatchContext, ids: string[], attempt: number, cmd: Command): Promise<void> {
    const remaining = remainingMs(ctx);
    if (remaining !== undefined && remaining < DEADLINE_MARGIN_MS) {
        failTargets(ctx, ids, "out of time in this invocation");
        return;
    }
    try {
        const out = await aws(ctx, () => {
            ctx.stats.sendCommandCalls++;
            return ctx.deps.ssm.send(
                new SendCommandCommand({
                    DocumentName: ctx.cfg.documentName,
                    InstanceIds: ids,
                    Parameters: cmd.parameters,
                    Comment: commandComment(attempt, cmd.specHash),
                    TimeoutSeconds: ctx.cfg.commandTimeoutSeconds,
                }),
            );
        });
        ctx.stats.instancesSent += ids.length;
        ctx.log.info("command sent", {
            commandId: out.Command?.CommandId,
            instances: ids.length,
            attempt,
            spec: cmd.specHash.slice(0, 8),
        });
    } catch (err) {
        await sendFailed(ctx, err, ids, attempt, cmd);
    }
}

/** An InvalidInstanceId answer is split in halves until the instance that is not ready stands alone; other errors fail the ids. */
async function sendFailed(
    ctx: BatchContext,
    err: unknown,
    ids: string[],
    attempt: number,
    cmd: Command,
): Promise<void> {
    const name = errorName(err);
    if (name === "InvalidInstanceId" && ids.length > 1) {
        // One id in the call is not ready (SendCommand rejects the whole call): split to find it.
        const mid = Math.ceil(ids.length / 2);
        await sendCommand(ctx, ids.slice(0, mid), attempt, cmd);
        await sendCommand(ctx, ids.slice(mid), attempt, cmd);
        return;
    }
    if (name === "InvalidInstanceId") {
        // Its agent went offline between the readiness check and the send: wait for it again.
        ctx.stats.notReady++;
        for (const id of ids) waitOrFail(ctx, id, "InvalidInstanceId");
        return;
    }
    ctx.log.error("SendCommand failed", {
        error: name,
        instances: ids.length,
        message: redact(String((err as Error).message ?? "")),
    });
    failTargets(ctx, ids, `SendCommand failed: ${name}`);
}
