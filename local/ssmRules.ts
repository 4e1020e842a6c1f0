/**
 * The Systems Manager rules both local fakes apply, each once: the in-process FakeAwsState
 * (local/fakeAws.ts) and the HTTP endpoint of the local fleet (local/ssmEndpoint.ts). Each rule
 * returns what SSM answers (the error code and message, local/awsErrors.ts) or nothing; the fakes
 * raise it. The limits are the AWS Systems Manager API Reference's (SendCommand,
 * GetCommandInvocation, ListCommandInvocations, DescribeInstanceInformation, PutParameter,
 * GetParameters, GetParametersByPath) and "AWS Systems Manager endpoints and quotas".
 */
import { MAX_COMMAND_BYTES } from "../core/document";
import { instanceArn, LOCAL_ACCOUNT_ID } from "./awsAccount";
import { accessDenied, lengthOutOfRange, missingMember, RuleViolation, validation, valueOutOfRange } from "./awsErrors";

// ---------------------------------------------------------------------------- Run Command limits

/** SendCommand takes at most 50 InstanceIds. */
export const SEND_COMMAND_MAX_INSTANCES = 50;
/** SendCommand's Comment: at most 100 characters. */
export const COMMENT_MAX_LENGTH = 100;
/** SendCommand's TimeoutSeconds: 30 s to 30 days. */
export const TIMEOUT_SECONDS_MIN = 30;
export const TIMEOUT_SECONDS_MAX = 2_592_000;
/** A command's parameters: at most 64 KB (the quota on a document plus its parameters). */
export const SEND_COMMAND_PARAMETERS_BYTES = MAX_COMMAND_BYTES;
/** GetCommandInvocation returns at most 24,000 characters of standard output and 8,000 of standard error. */
export const SSM_OUTPUT_LIMIT = 24_000;
export const SSM_ERROR_LIMIT = 8_000;
/** The agent version instances report unless told otherwise (the first that passes ENV_VAR parameters). */
export const DEFAULT_AGENT_VERSION = "3.3.2746.0";

// ---------------------------------------------------------------------------- results

export type InvocationStatus = "Pending" | "InProgress" | "Success" | "Failed" | "TimedOut" | "Cancelled";

/** How a command invocation ended, as GetCommandInvocation reports it (output not yet truncated). */
export interface RunResult {
    status: InvocationStatus;
    responseCode: number;
    stdout: string;
    stderr: string;
}

/** What the agent saw of the process it ran: its exit code and output. */
export interface ProcessExit {
    exitCode: number;
    stdout: string;
    stderr: string;
}

/** A result given by its status; the rest defaults (no output; response code 0 on Success, else 1). */
export type ReportedRun = Pick<RunResult, "status"> & Partial<Omit<RunResult, "status">>;

/** The agent reports exit code 0 as Success and any other as Failed, with the exit code as the response code. */
export function runResultOfExit(r: ProcessExit): RunResult {
    return {
        status: r.exitCode === 0 ? "Success" : "Failed",
        responseCode: r.exitCode,
        stdout: r.stdout,
        stderr: r.stderr,
    };
}

export function completeRunResult(r: ReportedRun): RunResult {
    return {
        status: r.status,
        responseCode: r.responseCode ?? (r.status === "Success" ? 0 : 1),
        stdout: r.stdout ?? "",
        stderr: r.stderr ?? "",
    };
}

/** StatusDetails beside Status: a timed-out invocation is DeliveryTimedOut, the others repeat the status. */
export function statusDetails(status: InvocationStatus): string {
    return status === "TimedOut" ? "DeliveryTimedOut" : status;
}

/** The output as GetCommandInvocation returns it. */
export function truncateOutput(stdout: string, stderr: string): { stdout: string; stderr: string } {
    return { stdout: stdout.slice(0, SSM_OUTPUT_LIMIT), stderr: stderr.slice(0, SSM_ERROR_LIMIT) };
}

// ---------------------------------------------------------------------------- SendCommand

/** A document named by its ARN is looked up by its name. */
export function documentKey(documentName: string): string {
    return documentName.startsWith("arn:") ? documentName.slice(documentName.lastIndexOf("/") + 1) : documentName;
}

/** The instance ids of a SendCommand input (none when InstanceIds is not a list). */
export function sendCommandIds(input: Record<string, unknown>): string[] {
    return Array.isArray(input.InstanceIds) ? input.InstanceIds.map(String) : [];
}

function parametersViolation(raw: unknown): RuleViolation | undefined {
    if (raw === undefined) return undefined;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw))
        return { code: "InvalidParameters", message: "Parameters must be a map of lists" };
    for (const [name, values] of Object.entries(raw)) {
        if (!Array.isArray(values) || !values.every((v) => typeof v === "string"))
            return { code: "InvalidParameters", message: `Parameter "${name}" must be a list of strings.` };
    }
    if (Buffer.byteLength(JSON.stringify(raw)) > SEND_COMMAND_PARAMETERS_BYTES)
        return { code: "InvalidParameters", message: "parameters exceed 64 KB" };
    return undefined;
}

/** SendCommand's checks of the input itself, before any document or instance is looked at. */
export function sendCommandViolation(input: Record<string, unknown>): RuleViolation | undefined {
    if (typeof input.DocumentName !== "string" || !input.DocumentName) return missingMember("documentName");
    const ids = sendCommandIds(input);
    if (ids.length === 0 && input.Targets === undefined)
        return { code: "ValidationException", message: "InstanceIds or Targets is required" };
    return (
        lengthOutOfRange("instanceIds", ids, 0, SEND_COMMAND_MAX_INSTANCES) ??
        (input.Comment === undefined
            ? undefined
            : lengthOutOfRange("comment", String(input.Comment), 0, COMMENT_MAX_LENGTH)) ??
        (input.TimeoutSeconds === undefined
            ? undefined
            : valueOutOfRange("timeoutSeconds", input.TimeoutSeconds, TIMEOUT_SECONDS_MIN, TIMEOUT_SECONDS_MAX)) ??
        parametersViolation(input.Parameters)
    );
}

export function unknownDocument(documentName: string): RuleViolation {
    return { code: "InvalidDocument", message: `Document with name ${documentName} does not exist.` };
}

/**
 * The Provisioner's IAM condition on ssm:SendCommand (ssm:resourceTag/<key> = value): one id
 * without the tag denies the whole call.
 */
export function tagConditionDenial(
    ids: readonly string[],
    tagsOf: (id: string) => Record<string, string> | undefined,
    required: { key: string; value: string } | undefined,
): RuleViolation | undefined {
    if (!required) return undefined;
    const denied = ids.find((id) => tagsOf(id)?.[required.key] !== required.value);
    return denied === undefined ? undefined : accessDenied("ssm:SendCommand", instanceArn(denied));
}

/** InvalidInstanceId for the ids whose agent is not online (or that SSM does not know); nothing when every one is. */
export function notInValidState(invalidIds: readonly string[]): RuleViolation | undefined {
    if (invalidIds.length === 0) return undefined;
    return {
        code: "InvalidInstanceId",
        message: `Instances [[${invalidIds.join(", ")}]] not in a valid state for account ${LOCAL_ACCOUNT_ID}`,
    };
}

/** GetCommandInvocation for an invocation not visible yet (or never sent): SSM says InvocationDoesNotExist, without a message. */
export function invocationDoesNotExist(): RuleViolation {
    return { code: "InvocationDoesNotExist", message: "" };
}

// ---------------------------------------------------------------------------- pages

export interface PageLimits {
    min: number;
    max: number;
    /** The page size without MaxResults. */
    default: number;
}

export const LIST_COMMAND_INVOCATIONS_PAGE: PageLimits = { min: 1, max: 50, default: 50 };
export const DESCRIBE_INSTANCE_INFORMATION_PAGE: PageLimits = { min: 5, max: 50, default: 10 };
export const GET_PARAMETERS_BY_PATH_PAGE: PageLimits = { min: 1, max: 10, default: 10 };

/** MaxResults within the operation's limits, or its ValidationException. */
export function pageSize(raw: unknown, limits: PageLimits): number | RuleViolation {
    if (raw === undefined || raw === null) return limits.default;
    return valueOutOfRange("maxResults", raw, limits.min, limits.max) ?? Number(raw);
}

/** One page of `list` from NextToken (the fakes' tokens are offsets), and the token of the next page. */
export function paginate<T>(list: readonly T[], nextToken: unknown, size: number): { page: T[]; nextToken?: string } {
    const start = typeof nextToken === "string" ? Number(nextToken) || 0 : 0;
    const end = start + size;
    return { page: list.slice(start, end), ...(end < list.length ? { nextToken: String(end) } : {}) };
}

// ---------------------------------------------------------------------------- DescribeInstanceInformation

export interface InstanceInformationFilter {
    key: string;
    values: string[];
}

/** What a filter sees of a managed node. */
export interface ManagedNodeView {
    instanceId: string;
    pingStatus?: string;
    resourceType: "EC2Instance" | "ManagedInstance";
    tags: Record<string, string>;
}

const isTagFilter = (key: string) => key.startsWith("tag:") || key === "tag-key";
const isIdFilter = (key: string) => key === "InstanceIds" || key === "instanceIds";
const FILTER_KEYS = new Set(["InstanceIds", "instanceIds", "PingStatus", "PlatformTypes", "ResourceType", "tag-key"]);

function filterViolation(filters: InstanceInformationFilter[]): RuleViolation | undefined {
    if (filters.some((f) => isTagFilter(f.key)) && filters.some((f) => !isTagFilter(f.key))) {
        return { code: "InvalidFilter", message: "Tag filters can't be combined with other filter types" };
    }
    for (const f of filters) {
        if (!FILTER_KEYS.has(f.key) && !f.key.startsWith("tag:"))
            return { code: "InvalidFilterKey", message: `The specified key isn't valid: ${f.key}` };
        if (f.values.length === 0 || f.values.length > 100)
            return { code: "InvalidFilterValue", message: `filter ${f.key} needs 1 to 100 values` };
        if (isIdFilter(f.key) && f.values.length > SEND_COMMAND_MAX_INSTANCES)
            return { code: "InvalidFilterValue", message: "InstanceIds filter takes at most 50 values" };
    }
    return undefined;
}

/** Filters and the legacy InstanceInformationFilterList as one list (they cannot be used together). */
export function instanceInformationFilters(
    input: Record<string, unknown>,
): InstanceInformationFilter[] | RuleViolation {
    const filters = (input.Filters ?? []) as { Key?: string; Values?: string[] }[];
    const legacy = (input.InstanceInformationFilterList ?? []) as { key?: string; valueSet?: string[] }[];
    if (filters.length > 0 && legacy.length > 0)
        return { code: "InvalidFilter", message: "InstanceInformationFilterList and Filters cannot be used together" };
    const all = [
        ...filters.map((f) => ({ key: String(f.Key ?? ""), values: (f.Values ?? []).map(String) })),
        ...legacy.map((f) => ({ key: String(f.key ?? ""), values: (f.valueSet ?? []).map(String) })),
    ];
    return filterViolation(all) ?? all;
}

/** An InstanceIds filter naming an id SSM has never seen as a managed node fails the whole call. */
export function unknownManagedNodes(
    filters: InstanceInformationFilter[],
    registered: ReadonlySet<string>,
): RuleViolation | undefined {
    const unknown = filters
        .filter((f) => isIdFilter(f.key))
        .flatMap((f) => f.values)
        .filter((id) => !registered.has(id));
    if (unknown.length === 0) return undefined;
    return {
        code: "InvalidInstanceId",
        message: `Instance ids [${unknown.join(", ")}] are not valid managed nodes for account ${LOCAL_ACCOUNT_ID}`,
    };
}

/** Whether the node passes one (validated) filter. */
export function matchesInstanceInformationFilter(f: InstanceInformationFilter, node: ManagedNodeView): boolean {
    if (isIdFilter(f.key)) return f.values.includes(node.instanceId);
    if (f.key === "PingStatus") return node.pingStatus !== undefined && f.values.includes(node.pingStatus);
    if (f.key === "PlatformTypes") return f.values.includes("Linux");
    if (f.key === "ResourceType") return f.values.includes(node.resourceType);
    if (f.key === "tag-key") return f.values.some((k) => k in node.tags);
    const v = node.tags[f.key.slice("tag:".length)];
    return v !== undefined && f.values.includes(v);
}

// ---------------------------------------------------------------------------- Parameter Store

/** A Standard parameter's value: at most 4 KB; an Advanced one's: 8 KB. */
export const STANDARD_PARAMETER_BYTES = 4096;
export const ADVANCED_PARAMETER_BYTES = 8192;
/** GetParameters takes 1 to 10 names. */
export const GET_PARAMETERS_MAX_NAMES = 10;

export type ParameterTier = "Standard" | "Advanced";

export function parameterTier(raw: unknown): ParameterTier {
    return raw === "Advanced" ? "Advanced" : "Standard";
}

/** PutParameter's checks of the name, the value and the value's size for its tier. */
export function putParameterViolation(input: Record<string, unknown>): RuleViolation | undefined {
    const { Name: name, Value: value } = input;
    if (typeof name !== "string" || !name) return missingMember("name");
    if (!/^[A-Za-z0-9_.\-/]{1,2048}$/.test(name))
        return { code: "ValidationException", message: "Parameter name is invalid" };
    if (typeof value !== "string") return missingMember("value");
    const advanced = parameterTier(input.Tier) === "Advanced";
    if (Buffer.byteLength(value) <= (advanced ? ADVANCED_PARAMETER_BYTES : STANDARD_PARAMETER_BYTES)) return undefined;
    if (advanced)
        return validation(
            `Value at 'value' failed to satisfy constraint: Member must have length less than or equal to ${ADVANCED_PARAMETER_BYTES}`,
        );
    return {
        code: "ValidationException",
        message: `Standard tier parameters support a maximum parameter value of ${STANDARD_PARAMETER_BYTES} characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier.`,
    };
}

export function parameterAlreadyExists(): RuleViolation {
    return {
        code: "ParameterAlreadyExists",
        message:
            "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.",
    };
}

export function parameterNotFound(): RuleViolation {
    return { code: "ParameterNotFound", message: "" };
}

export function getParametersViolation(names: readonly string[]): RuleViolation | undefined {
    return lengthOutOfRange("names", names, 1, GET_PARAMETERS_MAX_NAMES);
}

/** GetParametersByPath's Path: a hierarchy, from its root. */
export function parameterPathViolation(path: unknown): RuleViolation | undefined {
    if (typeof path === "string" && path.startsWith("/")) return undefined;
    return validation("Value at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern");
}
