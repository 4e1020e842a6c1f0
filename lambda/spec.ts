/**
 * The access spec as the batch serves it: read from Parameter Store (core/accessStore.ts chunks),
 * validated, and served only when its hash is the one the deploy pinned (PKA_ACCESS_SPEC_SHA256).
 */
import { GetParametersByPathCommand, GetParametersByPathCommandOutput } from "@aws-sdk/client-ssm";
import { AccessSpec, accessSpecHash, validateAccessSpec } from "../core/accessSpec";
import { joinAccessSpec } from "../core/accessStore";
import { SPEC_SETTLE_MS } from "./constants";
import { aws, BatchContext, deadLetter, failTargets, targetRecords } from "./context";
import { redact } from "./messages";
import { pages } from "./paginate";
import { errorName } from "./retry";

export interface LoadedSpec {
    spec: AccessSpec;
    hash: string;
}

/** Reading the access parameters failed (throttled, denied): nothing is known about the spec. */
export class SpecReadError extends Error {
    constructor(readonly reason: string) {
        super(`cannot read the access spec parameters: ${reason}`);
    }
}

/** Reads, joins and validates the stored spec, noting the parameters' newest LastModifiedDate. */
async function loadSpec(ctx: BatchContext): Promise<LoadedSpec> {
    const params: { name: string; value: string }[] = [];
    ctx.specModifiedAt = undefined;
    const read = async (token: string | undefined): Promise<GetParametersByPathCommandOutput> => {
        try {
            return await aws(ctx, () =>
                ctx.deps.ssm.send(
                    new GetParametersByPathCommand({
                        Path: ctx.cfg.accessPath,
                        Recursive: false,
                        WithDecryption: true,
                        NextToken: token,
                    }),
                ),
            );
        } catch (err) {
            // Throttled or denied: the spec is not known to be bad, only unread.
            throw new SpecReadError(errorName(err));
        }
    };
    for await (const page of pages(read)) {
        for (const p of page.Parameters ?? []) {
            if (p.Name && p.Value !== undefined) params.push({ name: p.Name, value: p.Value });
            const at = p.LastModifiedDate === undefined ? NaN : new Date(p.LastModifiedDate).getTime();
            if (Number.isFinite(at)) ctx.specModifiedAt = Math.max(ctx.specModifiedAt ?? 0, at);
        }
    }
    const json = joinAccessSpec(params);
    let parsed: unknown;
    try {
        parsed = JSON.parse(json);
    } catch {
        throw new Error("the stored access spec is not JSON");
    }
    const spec = validateAccessSpec(parsed, ctx.cfg.keyRules ? { keyRules: ctx.cfg.keyRules } : {});
    return { spec, hash: accessSpecHash(spec) };
}

/**
 * The stored spec for the batch's targets, or undefined (every target failed or retried) when it
 * cannot be read, is unusable, or is not the pinned one. `deployPush`: a push in the batch names
 * the pinned hash (a deploy's), so the parameters may briefly read back older: read again a few
 * times before refusing.
 */
export async function loadPinnedSpec(ctx: BatchContext, deployPush: boolean): Promise<LoadedSpec | undefined> {
    let loaded: LoadedSpec;
    for (let i = 0; ; i++) {
        try {
            loaded = await loadSpec(ctx);
        } catch (err) {
            await specUnusable(ctx, err);
            return undefined;
        }
        // Only a deploy's push (which names the pinned hash) waits: its parameters may not read back yet.
        if (loaded.hash === ctx.cfg.accessSpecSha256 || !deployPush || i >= 3) break;
        await ctx.deps.sleep(1000 * 2 ** i);
    }
    if (loaded.hash !== ctx.cfg.accessSpecSha256) {
        await refuseSpec(ctx, loaded.hash);
        return undefined;
    }
    return loaded;
}

async function specUnusable(ctx: BatchContext, err: unknown): Promise<void> {
    if (err instanceof SpecReadError) {
        ctx.log.error("cannot read the access spec: nothing provisioned", {
            error: err.reason,
            path: ctx.cfg.accessPath,
        });
        failTargets(ctx, [...ctx.targets.keys()], "cannot read the access spec");
        return;
    }
    // Invalid, torn or missing spec: never provision; every record that needed it goes back to the queue.
    const message = err instanceof Error ? err.message : String(err);
    const ids = targetRecords(ctx);
    const alarm = mismatchOutlastsDeploy(ctx);
    ctx.log.error("access spec unusable: nothing provisioned", {
        error: errorName(err),
        message: redact(message),
        path: ctx.cfg.accessPath,
        alarm,
    });
    failTargets(ctx, [...ctx.targets.keys()], "access spec unusable");
    if (alarm) {
        await deadLetter(
            ctx,
            {
                reason: "access-spec-unusable",
                path: ctx.cfg.accessPath,
                error: errorName(err),
                records: ids.length,
                time: new Date().toISOString(),
            },
            ids,
        );
    }
}

/**
 * The stored spec is not the one the deploy pinned: someone else wrote the parameters, or a
 * deploy is between writing them and updating this function. Nothing is sent; every record
 * goes back to the queue (a deploy's window closes within seconds, and the redelivered record
 * meets the new configuration). The alarm is raised (a DLQ message) when the mismatch
 * outlasts that window (mismatchOutlastsDeploy). The log names the hashes, never the content.
 */
async function refuseSpec(ctx: BatchContext, stored: string): Promise<void> {
    ctx.stats.specRefused++;
    const ids = targetRecords(ctx);
    const persistent = mismatchOutlastsDeploy(ctx);
    const detail = {
        path: ctx.cfg.accessPath,
        storedSpec: stored,
        pinnedSpec: ctx.cfg.accessSpecSha256,
        records: ids.length,
    };
    ctx.log.error(
        "access spec refused: the stored spec is not the one the deploy pinned (PKA_ACCESS_SPEC_SHA256); nothing sent",
        { ...detail, alarm: persistent },
    );
    failTargets(ctx, [...ctx.targets.keys()], "access spec refused");
    if (persistent)
        await deadLetter(ctx, { reason: "access-spec-refused", ...detail, time: new Date().toISOString() }, ids);
}

/**
 * Not a deploy between its two steps: the stored parameters are older than SPEC_SETTLE_MS (a
 * deploy that wrote them and then failed before updating the function is alarmed too), there
 * are none, or this is a direct invocation (a deploy's push comes after the pin it names).
 */
function mismatchOutlastsDeploy(ctx: BatchContext): boolean {
    return ctx.direct || ctx.specModifiedAt === undefined || Date.now() - ctx.specModifiedAt > SPEC_SETTLE_MS;
}

/** Whether the stored spec is still the one this batch loaded (a deploy may have changed it while the batch ran); unknown when it cannot be read. */
export async function specUnchanged(ctx: BatchContext, hash: string): Promise<"same" | "changed" | "unreadable"> {
    try {
        return (await loadSpec(ctx)).hash === hash ? "same" : "changed";
    } catch (err) {
        return err instanceof SpecReadError ? "unreadable" : "changed";
    }
}
