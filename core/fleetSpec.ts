/**
 * The access spec of a fleet plan: built and checked once every key is known (at deployment, for
 * keys that are Outputs or generated), with every refusal in the names of PkaFleet's args.
 */
import { AccessSpec, AccessSpecError, canonicalAccessSpecJson, validateAccessSpec } from "./accessSpec";
import { splitAccessSpec } from "./accessStore";
import { documentParameters } from "./document";
import type { FleetPlan, FleetUserInput } from "./fleetPlanTypes";
import { redactSecretValue } from "./keyPairPlan";
import { parsePublicKey } from "./keys/publicKey";
import { judgeKeySpec } from "./keys/rules";
import { SECURITY_KEY_TYPES } from "./keys/types";

/** Builds and validates the final spec once every key is known. */
export function buildAccessSpec(
    plan: FleetPlan,
    keysByUser: string[][],
    certificates?: { userCaKeys: string[]; revokedKeys?: string },
): AccessSpec {
    return validateAccessSpec(
        {
            ...(certificates ? { certificates } : {}),
            users: plan.users.map((u, i) => ({
                name: u.name,
                sudo: u.sudo,
                ...(u.sudoCommands ? { sudoCommands: u.sudoCommands } : {}),
                ...(u.groups ? { groups: u.groups } : {}),
                keys: keysByUser[i],
                ...(u.keyOptions ? { keyOptions: u.keyOptions } : {}),
                ...(u.adopt ? { adopt: true } : {}),
                ...(u.principals ? { principals: u.principals } : {}),
            })),
        },
        { keyRules: plan.keyRules, fallbackKeys: plan.fallbackKeys },
    );
}

/** Where the user wrote each plain (string) key of `users[i].publicKeys`: the spec lists these first. */
export function plainKeyInputs(users: readonly FleetUserInput[]): string[][] {
    return users.map((u, i) =>
        (Array.isArray(u?.publicKeys) ? u.publicKeys : []).flatMap((k, j) =>
            typeof k === "string" ? [`users[${i}].publicKeys[${j}]`] : [],
        ),
    );
}

/**
 * A refusal of the spec PkaFleet builds, in the names of PkaFleet's args: the spec's
 * `users[i].keys[k]` is the input the key came from (`keyInputs[i][k]`: `users[i].publicKeys[j]` or
 * `users[i].generateKey`), its empty key list the user's missing key, its fallback keys
 * `fallbackPublicKey`; anything else is about `users`.
 */
export function specProblem(e: unknown, keyInputs: string[][]): string {
    const message = e instanceof Error ? e.message : String(e);
    const path = e instanceof AccessSpecError ? e.path : "";
    const rest = path && message.startsWith(`${path}:`) ? message.slice(path.length + 1).trimStart() : message;
    let m: RegExpExecArray | null;
    if ((m = /^users\[(\d+)\]\.keys\[(\d+)\]$/.exec(path))) {
        const input = keyInputs[Number(m[1])]?.[Number(m[2])] ?? `users[${m[1]}]`;
        return message.split(path).join(`\`${input}\``);
    }
    if ((m = /^users\[(\d+)\]\.keys$/.exec(path))) {
        return `\`users[${m[1]}]\` has no key: give it \`publicKeys\` or \`generateKey\`, or set \`fallbackPublicKey\` for users without a key of their own.`;
    }
    if (/^users\[\d+\]\.[A-Za-z]+$/.test(path) || path.startsWith("certificates")) return `\`${path}\`: ${rest}`;
    if (/^fallbackKeys \(option\)\[\d+\]$/.test(path)) return message.split(path).join("`fallbackPublicKey`");
    return `\`users\`: ${rest}`;
}

/** A key known only at deployment, with the input it came from and whether its value is secret. */
export interface DeployKey {
    key: unknown;
    /** As the user wrote it: `users[1].publicKeys[0]`, `users[2].generateKey`. */
    input: string;
    secret: boolean;
}

/** The spec of a plan at deployment that cannot be deployed; the message names the input and never quotes a secret. */
export class DeploySpecError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "DeploySpecError";
    }
}

/**
 * The final spec and its parameter chunks once every key is known (`late[i]`: user i's keys known
 * only at deployment, after the plain ones). Throws a DeploySpecError naming the input as the user
 * wrote it, never quoting a secret value.
 */
export function checkDeploySpec(
    plan: FleetPlan,
    plainInputs: string[][],
    late: DeployKey[][],
    certificates?: { userCaKeys: string[]; revokedKeys?: string },
): { spec: AccessSpec; chunks: { name: string; value: string }[] } {
    const inputs = plan.users.map((_u, i) => [...(plainInputs[i] ?? []), ...late[i].map((k) => k.input)]);
    // A service account's key known only now must be a software key too (planFleet judged the plain ones).
    plan.users.forEach((u, i) => {
        if (!u.service) return;
        for (const k of late[i]) {
            let type = "";
            try {
                type = parsePublicKey(String(k.key)).type;
            } catch {
                continue; // not a key: the spec's validation below says why, naming the input
            }
            if (!SECURITY_KEY_TYPES.includes(type)) continue;
            const label = `\`${k.input}\` (${u.name} is a service account)`;
            throw new DeploySpecError(judgeKeySpec({ type }, plan.keyRules, { service: true, label }).join(" "));
        }
    });
    let spec: AccessSpec;
    try {
        spec = buildAccessSpec(
            plan,
            plan.users.map((u, i) => [...u.plainKeys, ...late[i].map((k) => k.key as string)]),
            certificates,
        );
    } catch (e) {
        const m = e instanceof AccessSpecError ? /^users\[(\d+)\]\.keys\[(\d+)\]$/.exec(e.path) : null;
        const i = m ? Number(m[1]) : -1;
        const k = m ? Number(m[2]) - (plainInputs[i]?.length ?? 0) : -1;
        const bad = k >= 0 ? late[i]?.[k] : undefined;
        throw new DeploySpecError(redactSecretValue(specProblem(e, inputs), bad?.key, bad?.secret === true));
    }
    let chunks: { name: string; value: string }[];
    try {
        documentParameters(spec); // SSM's 64 KB limit for document plus parameters, with the real keys
        chunks = splitAccessSpec(canonicalAccessSpecJson(spec), plan.accessPath);
    } catch (e) {
        throw new DeploySpecError(`\`users\`: with the keys known at deployment, ${(e as Error).message}`);
    }
    if (chunks.length > plan.slots) {
        throw new DeploySpecError(
            `\`users\`: with the keys known at deployment the access spec needs ${chunks.length} SSM parameters, more than the ${plan.slots} planned for keys up to RSA-16384; split the fleet.`,
        );
    }
    return { spec, chunks };
}
