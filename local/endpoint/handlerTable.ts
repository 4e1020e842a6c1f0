/**
 * The local endpoint's operations as the wire layer serves them. Every call is logged as decoded,
 * counted, and admitted first: the IAM-propagation knob (AccessDeniedException) and, when
 * throttling is on, a token bucket per action (AWS throttles each API separately).
 */
import { accessDenied, raise, takeToken, throttled } from "../awsErrors";
import { CallContext, HandlerTable, OpHandler, ServiceName } from "../wire/handlers";
import { describeInstances, sqsGetQueueUrl, sqsSendMessage } from "./ec2AndSqs";
import { describeInstanceInformation } from "./inventory";
import { getCommandInvocation, listCommandInvocations } from "./invocations";
import { deleteParameter, getParameter, getParameters, getParametersByPath, putParameter } from "./parameterStore";
import { sendCommand } from "./runCommand";
import { startSession } from "./session";
import { EndpointState } from "./state";

type Operation = (s: EndpointState, input: Record<string, unknown>, ctx?: CallContext) => unknown;

const OPERATIONS: Record<ServiceName, Record<string, Operation>> = {
    ssm: {
        SendCommand: sendCommand,
        StartSession: startSession,
        GetCommandInvocation: getCommandInvocation,
        ListCommandInvocations: listCommandInvocations,
        DescribeInstanceInformation: describeInstanceInformation,
        PutParameter: putParameter,
        GetParameter: getParameter,
        GetParameters: getParameters,
        GetParametersByPath: getParametersByPath,
        DeleteParameter: deleteParameter,
    },
    sqs: { SendMessage: sqsSendMessage, GetQueueUrl: sqsGetQueueUrl },
    ec2: { DescribeInstances: describeInstances },
    kms: { Sign: (s, input, ctx) => s.kms.sign(input, ctx?.accessKeyId) },
};

/** Denied while IAM propagates, then counted; throttled when the action's bucket is empty. */
function admit(s: EndpointState, service: ServiceName, action: string, key: string): void {
    const deny = s.knobs.denyNext;
    if (deny && (deny[key] ?? 0) > 0) {
        deny[key]--;
        raise(accessDenied(`${service}:${action}`));
    }
    s.count(s.stats.calls, key);
    const knob = s.knobs.throttle;
    if (!knob || (knob.actions && !knob.actions.includes(key))) return;
    let bucket = s.buckets.get(key);
    if (!bucket) s.buckets.set(key, (bucket = {}));
    if (takeToken(bucket, knob.ratePerSecond, knob.burst ?? knob.ratePerSecond, Date.now())) return;
    s.count(s.stats.throttled, key);
    s.events.emit("throttled", key);
    raise(throttled(service));
}

function guard(s: EndpointState, service: ServiceName, action: string, op: Operation): OpHandler {
    // SSM's actions are counted by name, the other services' as `<service>:<action>`.
    const key = service === "ssm" ? action : `${service}:${action}`;
    return async (raw: unknown, ctx?: CallContext) => {
        const input = (raw ?? {}) as Record<string, unknown>;
        s.requests.push({ service, action, input });
        try {
            admit(s, service, action, key);
            return await op(s, input, ctx);
        } catch (err) {
            s.count(s.stats.errors, `${key}:${(err as Error).name}`);
            throw err;
        }
    };
}

/** One handler per operation, each behind its own token bucket. */
export function endpointHandlerTable(s: EndpointState): HandlerTable {
    const table: HandlerTable = {};
    for (const [service, ops] of Object.entries(OPERATIONS) as [ServiceName, Record<string, Operation>][]) {
        table[service] = Object.fromEntries(
            Object.entries(ops).map(([action, op]) => [action, guard(s, service, action, op)]),
        );
    }
    return table;
}
