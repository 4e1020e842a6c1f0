/**
 * lambda-runtime-supported: a function on a deprecated runtime gets no security patches, and
 * AWS later blocks updating it, so the provisioner could not even be fixed in an incident.
 */
import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { RUNTIME_CALENDAR, runtimeDeprecation } from "../core/runtimes";
import { readConfig } from "./config";
import { LAMBDA_RUNTIME } from "./ruleConfig";
import { analysisDate, describe, isObject, str, unwrap } from "./util";

/** The calendar lives in core/runtimes.ts, shared with the Provisioner's refusal of a deprecated `runtime`. */
export { RUNTIME_CALENDAR };

export const lambdaRuntimeSupported: ResourceValidationPolicy = {
    name: LAMBDA_RUNTIME.name,
    description:
        "Checks whether a Lambda function uses a runtime that AWS has deprecated (python3.8, nodejs18.x, nodejs20.x, ...).",
    enforcementLevel: "mandatory",
    configSchema: LAMBDA_RUNTIME.schema,
    validateResource: (args: ResourceValidationArgs, reportViolation) => {
        if (args.type !== "aws:lambda/function:Function") return;
        const props = unwrap(args.props) as Record<string, unknown>;
        if (!isObject(props)) return;
        const runtime = str(props.runtime);
        if (runtime === undefined || runtime === "") return; // container images carry no runtime
        const cfg = readConfig(args, LAMBDA_RUNTIME);
        const dep = runtimeDeprecation(runtime, {
            now: analysisDate(cfg.asOf),
            deprecatedRuntimes: cfg.deprecatedRuntimes,
            useCalendar: cfg.useDeprecationCalendar,
        });
        if (dep === undefined) return;
        const since = dep.since ? ` (deprecated by AWS on ${dep.since})` : "";
        reportViolation(
            `${describe(args)} uses the runtime ${runtime}${since}: it gets no security patches and AWS will block updates to the function. ` +
                `Move it to ${dep.successor}.`,
        );
    },
};
