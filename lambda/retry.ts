/**
 * Exponential backoff with full jitter (sleep = random(0, min(cap, base * 2^n))), the scheme AWS
 * recommends for throttled APIs: SendCommand has no documented rate and answers bursts with
 * `ThrottlingException: Rate exceeded`. Attempts are bounded: what still fails goes back to the
 * queue (its records are reported in batchItemFailures) instead of holding the Lambda.
 * `sleep` and `random` are injectable so tests run instantly and deterministically.
 */
export interface BackoffOptions {
    /** Total attempts including the first (default 6). */
    maxAttempts?: number;
    /** Base delay in ms (default 100). */
    baseMs?: number;
    /** Cap on one delay in ms (default 3000). */
    capMs?: number;
    sleep?: (ms: number) => Promise<void>;
    random?: () => number;
    /** Which errors are worth another attempt (default: throttling and server faults). */
    retryable?: (err: unknown) => boolean;
    /** Called before each retry (for logs and measurements). */
    onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

export const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const THROTTLING = new Set([
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
]);

export function errorName(err: unknown): string {
    const e = err as { name?: unknown; Code?: unknown; __type?: unknown } | undefined;
    return typeof e?.name === "string" ? e.name : typeof e?.Code === "string" ? e.Code : "Error";
}

export function isThrottling(err: unknown): boolean {
    const e = err as { $retryable?: { throttling?: boolean }; $metadata?: { httpStatusCode?: number } } | undefined;
    return THROTTLING.has(errorName(err)) || e?.$retryable?.throttling === true || e?.$metadata?.httpStatusCode === 429;
}

export function isServerFault(err: unknown): boolean {
    const e = err as { $fault?: string; $metadata?: { httpStatusCode?: number } } | undefined;
    return e?.$fault === "server" || (e?.$metadata?.httpStatusCode ?? 0) >= 500;
}

export function defaultRetryable(err: unknown): boolean {
    return isThrottling(err) || isServerFault(err);
}

export async function withBackoff<T>(fn: () => Promise<T>, opts: BackoffOptions = {}): Promise<T> {
    const maxAttempts = opts.maxAttempts ?? 6;
    const base = opts.baseMs ?? 100;
    const cap = opts.capMs ?? 3000;
    const sleep = opts.sleep ?? realSleep;
    const random = opts.random ?? Math.random;
    const retryable = opts.retryable ?? defaultRetryable;
    for (let attempt = 1; ; attempt++) {
        try {
            return await fn();
        } catch (err) {
            if (attempt >= maxAttempts || !retryable(err)) throw err;
            const delay = Math.floor(random() * Math.min(cap, base * 2 ** (attempt - 1)));
            opts.onRetry?.(err, attempt, delay);
            await sleep(delay);
        }
    }
}
