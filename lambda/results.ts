/**
 * Command results. A result event is acted on only after GetCommandInvocation (or
 * ListCommandInvocations) confirms our document and our comment: the queue's message body is not
 * evidence of anything. Success: the host keys to pin; Failed/TimedOut/Cancelled: run again
 * (attempt+1) or, past PKA_MAX_ATTEMPTS, dead-letter with the reason.
 */
import {
    CommandInvocation,
    DescribeInstanceInformationCommand,
    GetCommandInvocationCommand,
    GetCommandInvocationCommandOutput,
    ListCommandInvocationsCommand,
} from "@aws-sdk/client-ssm";
import { LISTED_OUTPUT_LIMIT, PLUGIN_ERROR_MARK } from "../core/document/output";
import { COMMAND_FAILED_STATUSES, sameDocument } from "../core/events";
import { EXIT_NO_PARAMETERS, MIN_AGENT_VERSION } from "../core/script.sh";
import { addTarget, aws, BatchContext, deadLetter, fail } from "./context";
import type { HostKeyPin } from "./hostKeys";
import { agentTooOldMessage, attemptFromComment, conflictLines, isCommandComment, redact } from "./messages";
import { pages } from "./paginate";
import { errorName, isServerFault, isThrottling } from "./retry";
import type { CommandResultEvent, Queued } from "./types";

/**
 * The batch's command results. Only terminal outcomes are acted on (the event's status decides
 * whether to look, SSM's what to do). A command's successes are read with one
 * ListCommandInvocations (Details: 50 invocations a page, with the plugin output) instead of one
 * GetCommandInvocation each; failures, a truncated output, or anything the listing does not
 * show yet are read one by one. Returns the host keys to pin (pinHostKeys, last in the batch).
 */
export async function handleResults(ctx: BatchContext, results: Queued<CommandResultEvent>[]): Promise<HostKeyPin[]> {
    const terminal: Queued<CommandResultEvent>[] = [];
    for (const res of results) {
        const { ev, messageId } = res;
        if (ev.status !== "Success" && !COMMAND_FAILED_STATUSES.includes(ev.status)) {
            ctx.stats.ignored++;
            ctx.log.debug("non-terminal command status ignored", {
                messageId,
                instanceId: ev.instanceId,
                status: ev.status,
            });
            continue;
        }
        if (ev.status === "Success" && !ctx.cfg.knownHostsPath) continue;
        terminal.push(res);
    }
    const listed = await listSuccesses(ctx, terminal);
    const pins: HostKeyPin[] = [];
    for (const { messageId, ev } of terminal) {
        const pin = await handleResult(ctx, messageId, ev, listed.get(`${ev.commandId}/${ev.instanceId}`));
        if (pin) pins.push(pin);
    }
    return pins;
}

/** The listed invocations (`<commandId>/<instanceId>`) of every command with two or more successes in `terminal`. */
async function listSuccesses(
    ctx: BatchContext,
    terminal: Queued<CommandResultEvent>[],
): Promise<Map<string, GetCommandInvocationCommandOutput>> {
    const byCommand = new Map<string, number>();
    for (const { ev } of terminal)
        if (ev.status === "Success") byCommand.set(ev.commandId, (byCommand.get(ev.commandId) ?? 0) + 1);
    const listed = new Map<string, GetCommandInvocationCommandOutput>();
    for (const [commandId, n] of byCommand) {
        // One success of a command: GetCommandInvocation is one call too, and returns the whole output.
        if (n < 2) continue;
        try {
            await listInvocations(ctx, commandId, listed);
        } catch (err) {
            ctx.log.warn("cannot list the command's invocations; reading them one by one", {
                commandId,
                error: errorName(err),
            });
        }
    }
    return listed;
}

/** The successful invocations of `commandId` whose whole stdout the listing carries, as GetCommandInvocation would return them. */
async function listInvocations(
    ctx: BatchContext,
    commandId: string,
    into: Map<string, GetCommandInvocationCommandOutput>,
): Promise<void> {
    const listing = pages((token) =>
        aws(ctx, () =>
            ctx.deps.ssm.send(
                new ListCommandInvocationsCommand({
                    CommandId: commandId,
                    Details: true,
                    MaxResults: 50,
                    NextToken: token,
                }),
            ),
        ),
    );
    for await (const page of listing) {
        for (const inv of page.CommandInvocations ?? []) {
            const got = fromListing(inv);
            if (got && inv.InstanceId) into.set(`${commandId}/${inv.InstanceId}`, got);
        }
    }
}

/**
 * A listed invocation as GetCommandInvocation would give it, when the listing is enough: a
 * Success whose plugin output is whole (shorter than SSM's limit, so no host-key line is cut).
 * Anything else (a failure, whose stderr matters; a long output; several plugins) is read with
 * GetCommandInvocation.
 */
function fromListing(inv: CommandInvocation): GetCommandInvocationCommandOutput | undefined {
    const plugins = inv.CommandPlugins ?? [];
    if (inv.Status !== "Success" || plugins.length !== 1) return undefined;
    const output = plugins[0].Output ?? "";
    if (output.length >= LISTED_OUTPUT_LIMIT - 100) return undefined;
    const cut = output.indexOf(PLUGIN_ERROR_MARK);
    return {
        $metadata: {},
        CommandId: inv.CommandId,
        InstanceId: inv.InstanceId,
        Comment: inv.Comment,
        DocumentName: inv.DocumentName,
        Status: inv.Status,
        StatusDetails: inv.StatusDetails,
        ResponseCode: plugins[0].ResponseCode,
        StandardOutputContent: cut < 0 ? output : output.slice(0, cut),
    };
}

export async function getInvocation(
    ctx: BatchContext,
    commandId: string,
    instanceId: string,
): Promise<GetCommandInvocationCommandOutput> {
    // Right after a command, GetCommandInvocation can say InvocationDoesNotExist (eventually consistent).
    return aws(
        ctx,
        () => ctx.deps.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId })),
        {
            maxAttempts: 4,
            baseMs: 500,
            retryable: (e) => errorName(e) === "InvocationDoesNotExist" || isThrottling(e) || isServerFault(e),
        },
    );
}

/**
 * The invocation as SSM records it, if it is one of ours: our document (a shared document of
 * another account with the same name is not), and the comment this Lambda writes. An event in
 * the queue can be forged by anyone who can send to it; GetCommandInvocation cannot.
 */
async function ownInvocation(
    ctx: BatchContext,
    messageId: string,
    commandId: string,
    instanceId: string,
    listed?: GetCommandInvocationCommandOutput,
): Promise<GetCommandInvocationCommandOutput | undefined> {
    let inv: GetCommandInvocationCommandOutput;
    try {
        inv = listed ?? (await getInvocation(ctx, commandId, instanceId));
    } catch (err) {
        if (errorName(err) === "InvocationDoesNotExist") {
            // Still unknown after the retries: a command that does not exist, or one not visible yet.
            fail(ctx, messageId, "invocation not found", { instanceId, commandId });
            return undefined;
        }
        fail(ctx, messageId, "cannot read the invocation", { instanceId, commandId, error: errorName(err) });
        return undefined;
    }
    const doc = inv.DocumentName ?? "";
    const ours = doc.startsWith("arn:") ? doc === ctx.cfg.documentName : sameDocument(doc, ctx.cfg.documentName);
    if (!ours || !isCommandComment(inv.Comment)) {
        ctx.stats.forgedResults++;
        ctx.log.warn("command result not acted on: the invocation is not one this provisioner sent", {
            messageId,
            instanceId,
            commandId,
            documentName: doc.slice(0, 200),
            ourDocument: ours,
            ourComment: isCommandComment(inv.Comment),
        });
        return undefined;
    }
    return inv;
}

async function handleResult(
    ctx: BatchContext,
    messageId: string,
    ev: CommandResultEvent,
    listed?: GetCommandInvocationCommandOutput,
): Promise<HostKeyPin | undefined> {
    const { instanceId, commandId } = ev;
    const inv = await ownInvocation(ctx, messageId, commandId, instanceId, listed);
    if (!inv) return undefined;
    const status = inv.Status ?? "";
    if (status === "Success") return hostKeysOf(ctx, messageId, inv, instanceId, commandId);
    if (!COMMAND_FAILED_STATUSES.includes(status)) {
        // The event says it ended, SSM does not (yet: its reads are eventually consistent). Ask again on redelivery;
        // what SSM says then decides (a record that never agrees ends in the DLQ through the redrive policy).
        fail(ctx, messageId, "the invocation has not ended yet in SSM", {
            instanceId,
            commandId,
            eventStatus: ev.status,
            status,
        });
        return undefined;
    }
    await handleFailure(ctx, messageId, inv, instanceId, commandId);
    return undefined;
}

/** The host keys a successful run of the current spec printed, to pin. */
function hostKeysOf(
    ctx: BatchContext,
    messageId: string,
    inv: GetCommandInvocationCommandOutput,
    instanceId: string,
    commandId: string,
): HostKeyPin | undefined {
    if (!ctx.cfg.knownHostsPath) return undefined;
    if (!(inv.Comment ?? "").endsWith(` spec=${ctx.cfg.accessSpecSha256.slice(0, 8)}`)) {
        // A run of an earlier spec (or one replayed): the current spec's runs pin the keys, so an old run cannot roll them back.
        ctx.stats.ignored++;
        ctx.log.info("host keys of a run for an earlier spec not pinned", { instanceId, commandId });
        return undefined;
    }
    const keys = ctx.deps.parseHostKeys(inv.StandardOutputContent ?? "");
    if (keys.length === 0) {
        ctx.log.warn("command succeeded but printed no host keys; known_hosts not updated", { instanceId, commandId });
        return undefined;
    }
    return { messageId, instanceId, name: `${ctx.cfg.knownHostsPath}/${instanceId}`, keys };
}

/** A failed run: an agent too old is dead-lettered at once; otherwise run again, or past PKA_MAX_ATTEMPTS dead-letter the reason. */
async function handleFailure(
    ctx: BatchContext,
    messageId: string,
    inv: GetCommandInvocationCommandOutput,
    instanceId: string,
    commandId: string,
): Promise<void> {
    const status = inv.Status ?? "";
    const attempt = attemptFromComment(inv.Comment) ?? 1;
    if (inv.ResponseCode === EXIT_NO_PARAMETERS) {
        await deadLetterOldAgent(ctx, messageId, inv, instanceId, commandId, attempt);
        return;
    }
    if (attempt < ctx.cfg.maxAttempts) {
        ctx.stats.retriesScheduled++;
        ctx.log.warn("command failed; running it again", {
            instanceId,
            commandId,
            status,
            statusDetails: inv.StatusDetails,
            attempt,
        });
        addTarget(ctx, instanceId, messageId, attempt + 1);
        return;
    }
    const reason = failureReason(inv, instanceId, commandId, attempt);
    ctx.log.error("instance dead-lettered after repeated command failures", { ...reason, stderrTail: undefined });
    await deadLetter(ctx, reason, [messageId]);
}

/** The DLQ reason of a run that failed its last attempt (`partial`: exit 19, or `command-failed`). */
function failureReason(inv: GetCommandInvocationCommandOutput, instanceId: string, commandId: string, attempt: number) {
    // Exit 19: the script applied everything but the users it names (their homes or accounts refused it).
    const conflicts = inv.ResponseCode === 19 ? conflictLines(inv.StandardErrorContent ?? "") : undefined;
    return {
        reason: inv.ResponseCode === 19 ? "partial" : "command-failed",
        instanceId,
        commandId,
        documentName: inv.DocumentName,
        status: inv.Status ?? "",
        statusDetails: inv.StatusDetails,
        responseCode: inv.ResponseCode,
        attempts: attempt,
        ...(conflicts ? { conflicts } : {}),
        stderrTail: redact((inv.StandardErrorContent ?? "").slice(-1000)),
        time: new Date().toISOString(),
    };
}

/** The agent passed no parameters: it is older than ENV_VAR needs, and every retry would fail the same way. */
async function deadLetterOldAgent(
    ctx: BatchContext,
    messageId: string,
    inv: GetCommandInvocationCommandOutput,
    instanceId: string,
    commandId: string,
    attempt: number,
): Promise<void> {
    ctx.stats.agentTooOld++;
    const version = await agentVersion(ctx, instanceId);
    ctx.log.error("instance dead-lettered: its SSM Agent passed no parameters (too old for ENV_VAR)", {
        instanceId,
        commandId,
        agentVersion: version,
        attempts: attempt,
    });
    await deadLetter(
        ctx,
        {
            reason: "agent-too-old",
            instanceId,
            commandId,
            documentName: inv.DocumentName,
            status: inv.Status ?? "",
            responseCode: inv.ResponseCode,
            attempts: attempt,
            agentVersion: version,
            minimumAgentVersion: MIN_AGENT_VERSION,
            message: agentTooOldMessage(instanceId, version),
            time: new Date().toISOString(),
        },
        [messageId],
    );
}

/** The instance's AgentVersion as SSM reports it, for a reason; undefined when it cannot be read. */
async function agentVersion(ctx: BatchContext, instanceId: string): Promise<string | undefined> {
    try {
        const page = await aws(ctx, () =>
            ctx.deps.ssm.send(
                new DescribeInstanceInformationCommand({
                    Filters: [{ Key: "InstanceIds", Values: [instanceId] }],
                    MaxResults: 5,
                }),
            ),
        );
        return page.InstanceInformationList?.[0]?.AgentVersion;
    } catch {
        return undefined; // only for the message: the reason is sent without it
    }
}
