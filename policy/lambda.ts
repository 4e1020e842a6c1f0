/**
 * lambda-runtime-supported: a function on a deprecated runtime gets no security patches, and
 * AWS later blocks updating it, so the provisioner could not even be fixed in an incident.
 */
import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { LAMBDA_RUNTIME_DEFAULTS, LAMBDA_RUNTIME_SCHEMA, readConfig } from "./config";
import { analysisDate, describe, isObject, str, unwrap } from "./util";

/**
 * AWS's deprecation dates (Lambda Developer Guide, "Lambda runtimes", supported and deprecated
 * runtime tables) with the runtime to move to. Dates in the future make the rule start refusing
 * a runtime on its own when the day comes (with `useDeprecationCalendar`).
 */
export const RUNTIME_CALENDAR: Record<string, { deprecated: string; successor: string }> = {
    "nodejs10.x": { deprecated: "2021-07-30", successor: "nodejs22.x" },
    "nodejs12.x": { deprecated: "2023-03-31", successor: "nodejs22.x" },
    "nodejs14.x": { deprecated: "2023-12-04", successor: "nodejs22.x" },
    "nodejs16.x": { deprecated: "2024-06-12", successor: "nodejs22.x" },
    "nodejs18.x": { deprecated: "2025-09-01", successor: "nodejs22.x" },
    "nodejs20.x": { deprecated: "2026-04-30", successor: "nodejs22.x" },
    "nodejs22.x": { deprecated: "2027-04-30", successor: "nodejs24.x" },
    "nodejs24.x": { deprecated: "2028-04-30", successor: "a newer Node.js runtime" },
    "python2.7": { deprecated: "2021-07-15", successor: "python3.13" },
    "python3.6": { deprecated: "2022-07-18", successor: "python3.13" },
    "python3.7": { deprecated: "2023-12-04", successor: "python3.13" },
    "python3.8": { deprecated: "2024-10-14", successor: "python3.13" },
    "python3.9": { deprecated: "2025-12-15", successor: "python3.13" },
    "python3.10": { deprecated: "2026-06-30", successor: "python3.13" },
    "ruby2.5": { deprecated: "2021-07-30", successor: "ruby3.4" },
    "ruby2.7": { deprecated: "2023-12-07", successor: "ruby3.4" },
    "ruby3.2": { deprecated: "2026-03-31", successor: "ruby3.4" },
    "java8": { deprecated: "2024-01-08", successor: "java21" },
    "java8.al2": { deprecated: "2026-06-30", successor: "java21" },
    "java11": { deprecated: "2026-06-30", successor: "java21" },
    "go1.x": { deprecated: "2024-01-08", successor: "provided.al2023" },
    "provided": { deprecated: "2024-01-08", successor: "provided.al2023" },
    "provided.al2": { deprecated: "2026-06-30", successor: "provided.al2023" },
    "dotnetcore2.1": { deprecated: "2022-01-05", successor: "dotnet10" },
    "dotnetcore3.1": { deprecated: "2023-04-03", successor: "dotnet10" },
    "dotnet5.0": { deprecated: "2022-05-10", successor: "dotnet10" },
    "dotnet6": { deprecated: "2024-12-20", successor: "dotnet10" },
    "dotnet7": { deprecated: "2024-05-14", successor: "dotnet10" },
    "dotnet8": { deprecated: "2026-11-10", successor: "dotnet10" },
};

function successorOf(runtime: string): string {
    const known = RUNTIME_CALENDAR[runtime]?.successor;
    if (known) return known;
    if (runtime.startsWith("nodejs")) return "nodejs22.x";
    if (runtime.startsWith("python")) return "python3.13";
    if (runtime.startsWith("dotnet")) return "dotnet10";
    return "a supported runtime";
}

export const lambdaRuntimeSupported: ResourceValidationPolicy = {
    name: "lambda-runtime-supported",
    description: "Checks whether a Lambda function uses a runtime that AWS has deprecated (python3.8, nodejs18.x, nodejs20.x, ...).",
    enforcementLevel: "mandatory",
    configSchema: LAMBDA_RUNTIME_SCHEMA,
    validateResource: (args: ResourceValidationArgs, reportViolation) => {
        if (args.type !== "aws:lambda/function:Function") return;
        const props = unwrap(args.props) as Record<string, unknown>;
        if (!isObject(props)) return;
        const runtime = str(props.runtime);
        if (runtime === undefined || runtime === "") return; // container images carry no runtime
        const cfg = readConfig(args, LAMBDA_RUNTIME_DEFAULTS);
        const today = analysisDate(cfg.asOf);
        const entry = RUNTIME_CALENDAR[runtime];
        const byCalendar = cfg.useDeprecationCalendar && entry !== undefined && new Date(`${entry.deprecated}T00:00:00Z`) <= today;
        if (!cfg.deprecatedRuntimes.includes(runtime) && !byCalendar) return;
        const since = entry ? ` (deprecated by AWS on ${entry.deprecated})` : "";
        reportViolation(
            `${describe(args)} uses the runtime ${runtime}${since}: it gets no security patches and AWS will block updates to the function. ` +
                `Move it to ${successorOf(runtime)}.`,
        );
    },
};
