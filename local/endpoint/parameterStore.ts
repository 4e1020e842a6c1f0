/** Parameter Store on the local endpoint: PutParameter, GetParameter(s), GetParametersByPath, DeleteParameter. */
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from "../awsAccount";
import { apiError, orThrow, raise } from "../awsErrors";
import {
    GET_PARAMETERS_BY_PATH_PAGE,
    getParametersViolation,
    pageSize,
    paginate,
    parameterAlreadyExists,
    parameterNotFound,
    parameterPathViolation,
    parameterTier,
    putParameterViolation,
} from "../ssmRules";
import { EndpointState } from "./state";
import { Parameter } from "./types";

function parameterOut(p: Parameter): Record<string, unknown> {
    return {
        Name: p.name,
        Type: p.type,
        Value: p.value,
        Version: p.version,
        LastModifiedDate: p.lastModified / 1000,
        ARN: `arn:aws:ssm:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:parameter${p.name.startsWith("/") ? "" : "/"}${p.name}`,
        DataType: "text",
    };
}

/** A write as PutParameter makes it, without its checks (an operator's or the deploy's); `modifiedAt` (ms) backdates it. */
export function writeParameter(
    s: EndpointState,
    name: string,
    value: string,
    type: Parameter["type"],
    modifiedAt: number,
): Parameter {
    const prev = s.parameters.get(name);
    const p: Parameter = { name, type, value, version: (prev?.version ?? 0) + 1, lastModified: modifiedAt };
    s.parameters.set(name, p);
    return p;
}

export function putParameter(s: EndpointState, input: Record<string, unknown>): unknown {
    raise(putParameterViolation(input));
    const name = String(input.Name);
    const prev = s.parameters.get(name);
    if (prev && input.Overwrite !== true) throw apiError(parameterAlreadyExists());
    const p = writeParameter(
        s,
        name,
        String(input.Value),
        (input.Type as Parameter["type"]) ?? prev?.type ?? "String",
        Date.now(),
    );
    s.events.emit("parameter", p);
    return { Version: p.version, Tier: parameterTier(input.Tier) };
}

export function getParameter(s: EndpointState, input: Record<string, unknown>): unknown {
    const p = s.parameters.get(String(input.Name));
    if (!p) throw apiError(parameterNotFound());
    return { Parameter: parameterOut(p) };
}

export function getParameters(s: EndpointState, input: Record<string, unknown>): unknown {
    const names = Array.isArray(input.Names) ? input.Names.map(String) : [];
    raise(getParametersViolation(names));
    const found = names.filter((n) => s.parameters.has(n));
    return {
        Parameters: found.map((n) => parameterOut(s.parameters.get(n)!)),
        InvalidParameters: names.filter((n) => !s.parameters.has(n)),
    };
}

export function getParametersByPath(s: EndpointState, input: Record<string, unknown>): unknown {
    raise(parameterPathViolation(input.Path));
    const path = String(input.Path);
    const maxResults = orThrow(pageSize(input.MaxResults, GET_PARAMETERS_BY_PATH_PAGE));
    const prefix = path.endsWith("/") ? path : `${path}/`;
    const recursive = input.Recursive === true;
    const all = [...s.parameters.values()]
        .filter((p) => p.name.startsWith(prefix) && (recursive || !p.name.slice(prefix.length).includes("/")))
        .sort((a, b) => (a.name < b.name ? -1 : 1));
    const { page, nextToken } = paginate(all, input.NextToken, maxResults);
    return { Parameters: page.map(parameterOut), ...(nextToken ? { NextToken: nextToken } : {}) };
}

export function deleteParameter(s: EndpointState, input: Record<string, unknown>): unknown {
    if (!s.parameters.delete(String(input.Name))) throw apiError(parameterNotFound());
    return {};
}
