/**
 * The types of PkaFleet's plan: its args as the planner reads them (without Pulumi's types) and
 * the plan everything PkaFleet creates follows from.
 */
import type { Trigger } from "./events";
import type { KeyGenerateInput } from "./keyPairPlan";
import type { FleetKeyRules } from "./keyRuleArgs";
import type { KeyRules } from "./keys";

/** Sudo for a fleet user. */
export const SudoMode = {
    /** Sudo without a password (all commands, or only `sudoCommands`), through /etc/sudoers.d/90-pka-<user> (checked with visudo). */
    Nopasswd: "nopasswd",
    /** Sudo that asks for the user's own password (all commands, or only `sudoCommands`). Accounts pka-fleet creates have no password: set one by other means. */
    Password: "password",
    /** No sudo; a sudoers drop-in left by an earlier spec is removed. */
    None: "none",
} as const;
export type SudoMode = (typeof SudoMode)[keyof typeof SudoMode];

/** The tag that marks the fleet's instances. */
export interface FleetTargetTag {
    /** Tag key. Default `"pka-fleet"`. */
    readonly key: string;
    /** Tag value. Default: the fleet name. */
    readonly value: string;
}

/** One user of PkaFleet's args as the planner reads them (FleetUser without its Pulumi types). */
export interface FleetUserInput {
    readonly name: string;
    readonly sudo?: SudoMode;
    readonly sudoCommands?: readonly string[];
    readonly groups?: readonly string[];
    /** A string is a key known now; anything else (an Output) is a key known only at deployment. */
    readonly publicKeys?: readonly unknown[];
    readonly generateKey?: KeyGenerateInput;
    readonly ec2KeyName?: string;
    readonly service?: boolean;
    readonly keyOptions?: string;
    readonly fromCidrs?: readonly string[];
    readonly adopt?: boolean;
    readonly identityFile?: string;
    readonly principals?: readonly string[];
}

/** PkaFleet's args as the planner reads them (PkaFleetArgs without its Pulumi types). */
export interface FleetPlanInput {
    readonly fleetName?: string;
    readonly targetTag?: FleetTargetTag;
    readonly users: readonly FleetUserInput[];
    readonly fallbackPublicKey?: string;
    readonly triggers?: Trigger[];
    readonly driftCorrectionSchedule?: string;
    readonly revokeOnDestroy?: boolean;
    readonly logRetentionDays?: number;
    readonly keyRules?: FleetKeyRules;
    readonly tags?: { readonly [key: string]: string };
    /** Certificate mode; a string is a value known now, anything else (an Output) at deployment. */
    readonly certificates?: { readonly userCaKeys: readonly unknown[]; readonly revokedKeys?: unknown };
}

/** One user of the plan, in the order of `args.users`. */
export interface PlannedFleetUser {
    name: string;
    sudo: SudoMode;
    /** Validated (normalizeSudoCommands); absent for full sudo. */
    sudoCommands?: string[];
    /** Validated and sorted (normalizeGroups); absent for none. */
    groups?: string[];
    keyOptions?: string;
    /** The keys known now, normalized. */
    plainKeys: string[];
    /** How many keys are known only at deployment (Outputs, and the generated key). */
    pendingKeys: number;
    generate?: KeyGenerateInput;
    ec2KeyName?: string;
    service: boolean;
    adopt: boolean;
    identityFile?: string;
    /** Certificate mode: validated; absent for the default (the user's own name). */
    principals?: string[];
}

/** The validated, defaulted args: everything PkaFleet creates follows from this. */
export interface FleetPlan {
    fleetName: string;
    tag: { key: string; value: string };
    accessPath: string;
    knownHostsPath: string;
    triggers: Trigger[];
    schedule?: string;
    revokeOnDestroy: boolean;
    logRetentionDays: number;
    keyRules: Partial<KeyRules>;
    fallbackKeys: string[];
    users: PlannedFleetUser[];
    /** Certificate mode: the user CA inputs (strings known now, Outputs at deployment). */
    certificates?: { caInputs: unknown[] };
    /** Standard-tier parameters reserved for the spec chunks (an upper bound while keys are unknown). */
    slots: number;
}

/** PkaFleet args that cannot be deployed; the message names the input as the user wrote it. */
export class FleetPlanError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "FleetPlanError";
    }
}
