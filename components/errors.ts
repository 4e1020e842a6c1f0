/**
 * How the components report a refusal. Each plans first (a pure planner from core/ that throws a
 * named error) and creates no child before its plan passed. SshKeyPair, SetupDocument and
 * Provisioner then register themselves and throw the planner's message as a `pulumi.ResourceError`
 * attached to themselves (`tryPlan`). PkaFleet, the entry a stack uses, refuses before it registers
 * (a `pulumi.RunError`, printed without a stack): a refused fleet leaves nothing at all in the
 * stack. A value known only at deployment is refused through `deployError`.
 */
import * as pulumi from "@pulumi/pulumi";

/** A planner's result: the plan, or the message of its refusal. */
export type Planned<T> = { plan: T; problem?: undefined } | { plan?: undefined; problem: string };

/** Runs a component's planner before the component registers, keeping a refusal's message for after. */
export function tryPlan<T>(planner: () => T): Planned<T> {
    try {
        return { plan: planner() };
    } catch (e) {
        return { problem: e instanceof Error ? e.message : String(e) };
    }
}

/**
 * The error a pka-fleet component raises for a value known only at deployment (an Output): a
 * `pulumi.ResourceError` attached to the component, printed without a stack. Every child that
 * consumes the failing value rejects with this one object, which Pulumi's program runner reports
 * once. Its message is kept as written: the SDK prefixes an error that passes through a child's
 * inputs with that child's property (`error serializing property "insecureValue": ...`), a name
 * the user never wrote; the message already names the component and the input.
 */
export function deployError(resource: pulumi.Resource, message: string): pulumi.ResourceError {
    const e = new pulumi.ResourceError(message, resource, true);
    Object.defineProperty(e, "message", {
        get: () => message,
        set: () => undefined,
        enumerable: false,
        configurable: true,
    });
    return e;
}
