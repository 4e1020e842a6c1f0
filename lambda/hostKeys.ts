/**
 * Pinning host keys: each instance's keys (parsed from the setup script's output by
 * core/hostKeys.ts) are written to `<PKA_KNOWN_HOSTS_PATH>/<instance-id>`, for known_hosts on the
 * central server. Last in a batch: pinning does not hold up access.
 */
import { GetParametersCommand, PutParameterCommand } from "@aws-sdk/client-ssm";
import { pinnedHostKeysValue } from "../core/hostKeys";
import { GET_PARAMETERS_MAX_NAMES, PIN_BUDGET_MS } from "./constants";
import { aws, BatchContext, fail } from "./context";
import { chunk } from "./paginate";
import { errorName } from "./retry";

/** The host keys one successful run printed, and where they go. */
export interface HostKeyPin {
    messageId: string;
    instanceId: string;
    /** The parameter: `<PKA_KNOWN_HOSTS_PATH>/<instance-id>`. */
    name: string;
    /** `type base64` lines. */
    keys: string[];
}

/** Writes the host keys that changed: for two or more, what is pinned is read first (GetParameters, 10 names a call), so a re-run of known hosts writes nothing. */
export async function pinHostKeys(ctx: BatchContext, pins: HostKeyPin[]): Promise<void> {
    const current = await pinnedValues(ctx, [...new Set(pins.map((p) => p.name))]);
    const started = ctx.deps.now();
    for (const [i, pin] of pins.entries()) {
        if (ctx.deps.now() - started > PIN_BUDGET_MS) {
            // Throttled for a while: the rest come back with their records (after the visibility timeout) instead of holding this invocation's slot.
            ctx.log.warn("host keys left for a later delivery: Parameter Store is throttling", {
                left: pins.length - i,
            });
            for (const p of pins.slice(i))
                fail(ctx, p.messageId, "host keys not pinned yet (throttled)", { instanceId: p.instanceId });
            return;
        }
        const value = pinnedHostKeysValue(pin.keys);
        if (current.get(pin.name) === value) {
            ctx.stats.knownHostsUnchanged++;
            continue;
        }
        try {
            await aws(ctx, () =>
                ctx.deps.ssm.send(
                    new PutParameterCommand({ Name: pin.name, Value: value, Type: "String", Overwrite: true }),
                ),
            );
            current.set(pin.name, value);
            ctx.stats.knownHostsWritten++;
            ctx.log.info("host keys pinned", {
                instanceId: pin.instanceId,
                parameter: pin.name,
                keyTypes: pin.keys.map((k) => k.split(" ")[0]),
            });
        } catch (err) {
            fail(ctx, pin.messageId, "cannot write known_hosts parameter", {
                instanceId: pin.instanceId,
                error: errorName(err),
            });
        }
    }
}

/** What the parameters `names` hold now (none read for a single name: reading it would cost as much as writing it). */
async function pinnedValues(ctx: BatchContext, names: string[]): Promise<Map<string, string>> {
    const current = new Map<string, string>();
    for (const part of names.length < 2 ? [] : chunk(names, GET_PARAMETERS_MAX_NAMES)) {
        try {
            const out = await aws(ctx, () => ctx.deps.ssm.send(new GetParametersCommand({ Names: part })));
            for (const p of out.Parameters ?? []) if (p.Name && p.Value !== undefined) current.set(p.Name, p.Value);
        } catch (err) {
            // Unknown: write them all (a write of the same keys is harmless).
            ctx.log.warn("cannot read the pinned host keys; writing them", {
                error: errorName(err),
                parameters: part.length,
            });
        }
    }
    return current;
}
