/**
 * How the local fakes answer what AWS refuses. A rule (local/ssmRules.ts, local/ec2Rules.ts,
 * local/sqsRules.ts) returns a RuleViolation: the AWS error code and message; a fake raises it as
 * an AwsApiError, the error as the AWS SDK v3 surfaces it (name = code, $fault, $metadata).
 *
 * The wording follows AWS's: schema validation answers `ValidationException` with
 * "1 validation error detected: Value '<v>' at '<member>' failed to satisfy constraint: ...", IAM
 * answers `AccessDeniedException` with "User: <arn> is not authorized to perform: <action> ... because
 * no identity-based policy allows the <action> action", and throttling answers "Rate exceeded".
 */
import { PROVISIONER_ROLE_ARN } from "./awsAccount";

/** What a rule found wrong: AWS's error code and message. */
export interface RuleViolation {
    code: string;
    message: string;
}

/** An AWS error as the SDK surfaces it (name = error code). */
export class AwsApiError extends Error {
    readonly $fault: "client" | "server";
    readonly $metadata: { httpStatusCode: number };
    constructor(
        readonly code: string,
        message: string,
        readonly status = 400,
    ) {
        super(message);
        this.name = code;
        this.$fault = status >= 500 ? "server" : "client";
        this.$metadata = { httpStatusCode: status };
    }
}

export function isViolation(x: unknown): x is RuleViolation {
    return (
        typeof x === "object" &&
        x !== null &&
        typeof (x as RuleViolation).code === "string" &&
        typeof (x as RuleViolation).message === "string"
    );
}

/** The violation as the error a fake throws. */
export function apiError(v: RuleViolation): AwsApiError {
    return new AwsApiError(v.code, v.message);
}

/** Throws the violation as an AwsApiError; nothing when there is none. */
export function raise(v: RuleViolation | undefined): void {
    if (v) throw apiError(v);
}

/** The value a rule computed, or its violation thrown as an AwsApiError. */
export function orThrow<T>(r: T | RuleViolation): T {
    if (isViolation(r)) throw apiError(r);
    return r;
}

// ---------------------------------------------------------------------------- schema validation

/** A ValidationException in AWS's words: "1 validation error detected: <what>". */
export function validation(what: string): RuleViolation {
    return { code: "ValidationException", message: `1 validation error detected: ${what}` };
}

/** A required member that is absent. */
export function missingMember(member: string): RuleViolation {
    return validation(`Value null at '${member}' failed to satisfy constraint: Member must not be null`);
}

function bound(n: number, min: number, max: number): string {
    if (n > max) return `less than or equal to ${max}`;
    if (n < min) return `greater than or equal to ${min}`;
    return `between ${min} and ${max}`;
}

/** An integer member outside [min, max] (or not an integer). */
export function valueOutOfRange(member: string, value: unknown, min: number, max: number): RuleViolation | undefined {
    const n = Number(value);
    if (Number.isInteger(n) && n >= min && n <= max) return undefined;
    return validation(
        `Value '${String(value)}' at '${member}' failed to satisfy constraint: Member must have value ${bound(n, min, max)}`,
    );
}

/** A string or list member whose length is outside [min, max]; lists are shown as AWS shows them, `[a, b]`. */
export function lengthOutOfRange(
    member: string,
    value: string | readonly unknown[],
    min: number,
    max: number,
): RuleViolation | undefined {
    if (value.length >= min && value.length <= max) return undefined;
    const shown = typeof value === "string" ? value : `[${value.join(", ")}]`;
    return validation(
        `Value '${shown}' at '${member}' failed to satisfy constraint: Member must have length ${bound(value.length, min, max)}`,
    );
}

// ---------------------------------------------------------------------------- IAM and throttling

/** IAM's answer to the provisioner role for `action` (`ssm:SendCommand`), on `resource` when the denial is per resource. */
export function accessDenied(action: string, resource?: string): RuleViolation {
    const on = resource === undefined ? "" : ` on resource: ${resource}`;
    return {
        code: "AccessDeniedException",
        message: `User: ${PROVISIONER_ROLE_ARN} is not authorized to perform: ${action}${on} because no identity-based policy allows the ${action} action`,
    };
}

export const THROTTLED_MESSAGE = "Rate exceeded";

/** What a throttled call gets: EC2's Query API says RequestLimitExceeded, the JSON APIs (SSM, SQS) ThrottlingException. */
export function throttled(service: string): RuleViolation {
    return { code: service === "ec2" ? "RequestLimitExceeded" : "ThrottlingException", message: THROTTLED_MESSAGE };
}

/** One API's token bucket: `tokens` left at `at` (ms); both unset: full, now. */
export interface TokenBucketState {
    tokens?: number;
    at?: number;
}

/** Refills the bucket at `ratePerSec` up to `burst` and takes one token; false when none is left (throttled). */
export function takeToken(b: TokenBucketState, ratePerSec: number, burst: number, now: number): boolean {
    b.tokens = Math.min(burst, (b.tokens ?? burst) + ((now - (b.at ?? now)) / 1000) * ratePerSec);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
}
