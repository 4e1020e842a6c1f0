/**
 * What the batch's targets are: carrying the fleet tag (ec2:DescribeInstances), online
 * (ssm:DescribeInstanceInformation PingStatus), with an SSM Agent recent enough for the
 * document's ENV_VAR parameters. Targets that fail a check leave the batch: skipped, waiting, or
 * dead-lettered.
 */
import type { DescribeInstancesCommandOutput, Filter } from "@aws-sdk/client-ec2";
import { DescribeInstanceInformationCommand } from "@aws-sdk/client-ssm";
import { agentTooOld, MIN_AGENT_VERSION } from "../core/script.sh";
import { ec2Lib } from "./clients";
import { DII_PAGE, EC2_FILTER_VALUES, READY_BY_ID_MAX } from "./constants";
import { aws, BatchContext, deadLetter, failTargets } from "./context";
import { agentTooOldMessage } from "./messages";
import { chunk, pages } from "./paginate";
import { errorName } from "./retry";
import type { Target } from "./types";
import { waitOrFail } from "./wait";

/** Every Online instance carrying the fleet tag (a tag filter cannot be combined with other filters: PingStatus is checked here). */
export async function listOnlineTagged(ctx: BatchContext): Promise<string[]> {
    return [...(await listTagged(ctx))].filter(([, s]) => s === "Online").map(([id]) => id);
}

/** The PingStatus of every EC2 managed node carrying the fleet tag (AgentVersion noted for the Online ones). */
async function listTagged(ctx: BatchContext): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const filter = { Key: `tag:${ctx.cfg.tagKey}`, Values: [ctx.cfg.tagValue] };
    const listing = pages((token) =>
        aws(ctx, () =>
            ctx.deps.ssm.send(
                new DescribeInstanceInformationCommand({ Filters: [filter], MaxResults: DII_PAGE, NextToken: token }),
            ),
        ),
    );
    for await (const page of listing) {
        for (const i of page.InstanceInformationList ?? []) {
            if (!i.InstanceId?.startsWith("i-")) continue;
            out.set(i.InstanceId, i.PingStatus ?? "Unknown");
            if (i.PingStatus === "Online" && agentTooOld(i.AgentVersion))
                ctx.oldAgents.set(i.InstanceId, i.AgentVersion!);
        }
    }
    return out;
}

/** The targets `which` selects whose tag is not known yet are checked; those without the fleet tag leave the batch. */
export async function filterTagged(ctx: BatchContext, which: (t: Target) => boolean): Promise<void> {
    const unknown = [...ctx.targets].filter(([, t]) => !t.tagged && which(t)).map(([id]) => id);
    if (unknown.length === 0) return;
    const tagged = new Set<string>();
    const { DescribeInstancesCommand } = await ec2Lib();
    const ec2 = await ctx.deps.ec2();
    const describe = (filters: Filter[], token: string | undefined) =>
        aws(ctx, () => ec2.send(new DescribeInstancesCommand({ Filters: filters, NextToken: token })));
    for (const part of chunk(
        unknown.filter((id) => id.startsWith("i-")),
        EC2_FILTER_VALUES,
    )) {
        try {
            for (const id of await describeTagged(ctx, part, describe)) tagged.add(id);
        } catch (err) {
            ctx.log.error("cannot check instance tags", { error: errorName(err) });
            failTargets(ctx, part, "tag check failed");
            for (const id of part) tagged.add(id); // already failed; keep out of the untagged path
        }
    }
    for (const id of unknown) {
        if (tagged.has(id)) continue;
        // With an IAM tag condition one untagged id fails the whole SendCommand: skip it here.
        ctx.stats.untagged++;
        if (id.startsWith("mi-")) {
            // Event parsing accepts hybrid managed nodes (SSM does), but their tags live in SSM,
            // not EC2: the tag check cannot vouch for them, so they are not provisioned.
            ctx.log.warn(
                "instance skipped: managed nodes outside EC2 (mi-) are not supported; the fleet tag check reads EC2 instance tags only",
                {
                    instanceId: id,
                    tag: ctx.cfg.tagKey,
                },
            );
        } else {
            ctx.log.info("instance skipped: it does not carry the fleet tag", { instanceId: id, tag: ctx.cfg.tagKey });
        }
        ctx.targets.delete(id);
    }
}

/** The instances of `ids` that carry the fleet tag (ec2:DescribeInstances through `describe`, every page). */
async function describeTagged(
    ctx: BatchContext,
    ids: string[],
    describe: (filters: Filter[], token: string | undefined) => Promise<DescribeInstancesCommandOutput>,
): Promise<string[]> {
    const filters = [
        { Name: "instance-id", Values: ids },
        { Name: `tag:${ctx.cfg.tagKey}`, Values: [ctx.cfg.tagValue] },
    ];
    const out: string[] = [];
    for await (const page of pages((token) => describe(filters, token))) {
        for (const r of page.Reservations ?? [])
            for (const i of r.Instances ?? []) if (i.InstanceId) out.push(i.InstanceId);
    }
    return out;
}

/**
 * Readiness (PingStatus Online). A few instances are looked up by id; more are looked up in one
 * listing of the fleet's managed nodes (DescribeInstanceInformation with the tag filter, 50 a
 * page): an id filter naming an instance whose agent has not registered yet fails the whole call
 * (InvalidInstanceId), so a launch of many instances would cost a split per unregistered one,
 * while the listing costs one call per 50 registered nodes and vouches for the tag as well. A
 * check that fails (throttled past the backoff) leaves the instances waiting, not failed.
 */
export async function filterReady(ctx: BatchContext): Promise<void> {
    const unknown = [...ctx.targets].filter(([, t]) => !t.online).map(([id]) => id);
    if (unknown.length === 0) return;
    const status = new Map<string, string>();
    if (unknown.length > READY_BY_ID_MAX) {
        try {
            for (const [id, s] of await listTagged(ctx)) {
                status.set(id, s);
                const t = ctx.targets.get(id);
                if (t) t.tagged = true;
            }
        } catch (err) {
            ctx.log.error("cannot check agent readiness", { error: errorName(err) });
            for (const id of unknown) waitOrFail(ctx, id, "unknown (readiness check failed)");
            return;
        }
    } else {
        for (const part of chunk(unknown, DII_PAGE)) {
            try {
                await describeReady(ctx, part, status);
            } catch (err) {
                ctx.log.error("cannot check agent readiness", { error: errorName(err) });
                for (const id of part) waitOrFail(ctx, id, "unknown (readiness check failed)");
            }
        }
    }
    for (const id of unknown) {
        if (!ctx.targets.has(id)) continue;
        const s = status.get(id) ?? "NotRegistered";
        if (s === "Online") continue;
        ctx.stats.notReady++;
        waitOrFail(ctx, id, s);
    }
}

/**
 * PingStatus (and AgentVersion) of `ids`. DescribeInstanceInformation answers InvalidInstanceId
 * for the whole call when one id of an InstanceIds filter is not a managed node SSM knows: the
 * call is split in halves until that id stands alone, so the Online ones of the page go ahead.
 */
async function describeReady(ctx: BatchContext, ids: string[], status: Map<string, string>): Promise<void> {
    const filter = { Key: "InstanceIds", Values: ids };
    const listing = pages((token) =>
        aws(ctx, () =>
            ctx.deps.ssm.send(
                new DescribeInstanceInformationCommand({ Filters: [filter], MaxResults: DII_PAGE, NextToken: token }),
            ),
        ),
    );
    try {
        for await (const page of listing) {
            for (const i of page.InstanceInformationList ?? []) {
                if (!i.InstanceId) continue;
                status.set(i.InstanceId, i.PingStatus ?? "Unknown");
                if (i.PingStatus === "Online" && agentTooOld(i.AgentVersion))
                    ctx.oldAgents.set(i.InstanceId, i.AgentVersion!);
            }
        }
    } catch (err) {
        if (errorName(err) !== "InvalidInstanceId") throw err;
        if (ids.length === 1) {
            status.set(ids[0], "NotManaged");
            return;
        }
        const mid = Math.ceil(ids.length / 2);
        await describeReady(ctx, ids.slice(0, mid), status);
        await describeReady(ctx, ids.slice(mid), status);
    }
}

/**
 * Online instances whose SSM Agent is older than MIN_AGENT_VERSION would run the document
 * without its parameters (exit 9) on every attempt: nothing is sent to them; each is
 * dead-lettered at once as `agent-too-old`, naming the version and AWS-UpdateSSMAgent. Their
 * records are acknowledged (a failure to dead-letter fails them, so nothing is lost).
 */
export async function rejectOldAgents(ctx: BatchContext): Promise<void> {
    for (const [id, version] of ctx.oldAgents) {
        const t = ctx.targets.get(id);
        if (!t) continue;
        ctx.targets.delete(id);
        ctx.stats.agentTooOld++;
        const message = agentTooOldMessage(id, version);
        ctx.log.error("instance dead-lettered: its SSM Agent is too old for ENV_VAR parameters", {
            instanceId: id,
            agentVersion: version,
            minimumAgentVersion: MIN_AGENT_VERSION,
        });
        const sharedElsewhere = (m: string) => [...ctx.targets.values()].some((o) => o.records.has(m));
        await deadLetter(
            ctx,
            {
                reason: "agent-too-old",
                instanceId: id,
                agentVersion: version,
                minimumAgentVersion: MIN_AGENT_VERSION,
                message,
                time: new Date().toISOString(),
            },
            [...t.records].filter((m) => !sharedElsewhere(m)),
        );
    }
}
