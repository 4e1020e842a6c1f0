/** FakeAwsState's Parameter Store: GetParameters, GetParametersByPath, PutParameter. */
import { orThrow, raise } from "../awsErrors";
import type { FakeAwsState } from "../fakeAws";
import {
    GET_PARAMETERS_BY_PATH_PAGE,
    getParametersViolation,
    pageSize,
    paginate,
    parameterAlreadyExists,
    parameterPathViolation,
    parameterTier,
    putParameterViolation,
} from "../ssmRules";

export function getParameters(s: FakeAwsState, i: any): unknown {
    const names: string[] = i.Names ?? [];
    raise(getParametersViolation(names));
    const found = names.filter((n) => s.parameters.has(n));
    return {
        Parameters: found.map((n) => ({
            Name: n,
            Type: s.parameters.get(n)!.type,
            Value: s.parameters.get(n)!.value,
            Version: s.parameters.get(n)!.version,
        })),
        InvalidParameters: names.filter((n) => !s.parameters.has(n)),
    };
}

export function getParametersByPath(s: FakeAwsState, i: any): unknown {
    const path: string = i.Path;
    raise(parameterPathViolation(path));
    const max = orThrow(pageSize(i.MaxResults, GET_PARAMETERS_BY_PATH_PAGE));
    const prefix = path.endsWith("/") ? path : `${path}/`;
    const names = [...s.parameters.keys()]
        .filter((n) => n.startsWith(prefix) && (i.Recursive || !n.slice(prefix.length).includes("/")))
        .sort();
    const { page, nextToken } = paginate(names, i.NextToken, max);
    return {
        Parameters: page.map((n) => {
            const p = s.parameters.get(n)!;
            return {
                Name: n,
                Type: p.type,
                Value: p.value,
                Version: p.version,
                LastModifiedDate: new Date(p.modifiedAt ?? Date.now()),
            };
        }),
        NextToken: nextToken,
    };
}

export function putParameter(s: FakeAwsState, i: any): unknown {
    raise(putParameterViolation(i));
    const old = s.parameters.get(i.Name);
    if (old && !i.Overwrite) raise(parameterAlreadyExists());
    const version = (old?.version ?? 0) + 1;
    s.parameters.set(i.Name, {
        value: i.Value,
        type: i.Type ?? old?.type ?? "String",
        version,
        modifiedAt: Date.now(),
    });
    return { Version: version, Tier: parameterTier(i.Tier) };
}
