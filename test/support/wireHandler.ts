/**
 * An SDK request handler that serves a FakeAwsState in-process through the local wire layer (the
 * same JSON and EC2 Query protocols the HTTP endpoint speaks), recording every request.
 */
import type { SdkRequestHandler } from "../../lambda/clients";
import { dispatchAwsRequest, FakeAwsState } from "../../local/fakeAws";

export interface Seen {
    hostname: string;
    target?: string;
    action?: string;
    authorization: string;
    token?: string;
}

/** A request handler that serves `fleet` in-process (the fake's wire layer) and records every request. */
export function recordingHandler(fleet: FakeAwsState, seen: Seen[]): SdkRequestHandler {
    return {
        async handle(request) {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(request.headers)) headers[k.toLowerCase()] = v;
            const body =
                request.body === undefined
                    ? ""
                    : typeof request.body === "string"
                      ? request.body
                      : Buffer.from(request.body as Uint8Array).toString("utf8");
            seen.push({
                hostname: request.hostname,
                target: headers["x-amz-target"],
                action: new URLSearchParams(body).get("Action") ?? undefined,
                authorization: headers.authorization ?? "",
                token: headers["x-amz-security-token"],
            });
            const out = await dispatchAwsRequest(fleet.handlers(), headers, body);
            return {
                response: {
                    statusCode: out.status,
                    headers: { "content-type": out.type },
                    body: Buffer.from(out.body),
                } as never,
            };
        },
    };
}

/**
 * For the calling describe block: the SDK's environment set to `creds` (what Lambda gives the
 * handler) and the variables that would point the SDK elsewhere (a profile, endpoint overrides of
 * whoever runs the tests) removed; all put back after.
 */
export function useSdkEnvironment(creds: Record<string, string>): void {
    const saved: Record<string, string | undefined> = {};
    before(() => {
        for (const [k, v] of Object.entries(creds)) {
            saved[k] = process.env[k];
            process.env[k] = v;
        }
        for (const k of Object.keys(process.env))
            if (k === "AWS_PROFILE" || k.startsWith("AWS_ENDPOINT_URL")) {
                saved[k] = process.env[k];
                delete process.env[k];
            }
    });
    after(() => {
        for (const [k, v] of Object.entries(saved)) {
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
        }
    });
}
