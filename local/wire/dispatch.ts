/**
 * One AWS request through the wire layer, whoever carries it (the HTTP server or the in-process SDK
 * request handler, local/wire/server.ts):
 *
 * - AWS JSON 1.1 / 1.0, dispatched by the X-Amz-Target header ("AmazonSSM.SendCommand",
 *   "AmazonSQS.SendMessage", "TrentService.Sign" for KMS): a JSON body, timestamps as epoch seconds, errors as
 *   `{ "__type": code, "message": ... }`;
 * - the EC2 Query protocol otherwise (form-encoded `Action=...`, XML responses and errors).
 */
import { randomUUID } from "crypto";
import type { IncomingHttpHeaders } from "http";
import { AwsApiError } from "../awsErrors";
import { decodeEc2Query, renderEc2ErrorXml, renderEc2Xml } from "./ec2Query";
import { CallContext, HandlerTable, ServiceName } from "./handlers";

export interface WireResponse {
    status: number;
    type: string;
    body: string;
}

const JSON_TARGET_PREFIXES: Record<string, ServiceName> = { AmazonSSM: "ssm", AmazonSQS: "sqs", TrentService: "kms" };

/** The access key id a SigV4 `Authorization` header names. */
export function accessKeyOf(authorization: string | string[] | undefined): string | undefined {
    const m = /Credential=([A-Za-z0-9]+)\//.exec(
        Array.isArray(authorization) ? authorization[0] : (authorization ?? ""),
    );
    return m?.[1];
}

/** Any error a handler throws, as the service would answer it (what is not an AwsApiError is the service's fault). */
function asApiError(err: unknown, internalCode: string): AwsApiError {
    return err instanceof AwsApiError
        ? err
        : new AwsApiError(internalCode, String((err as Error)?.message ?? err), 500);
}

/** AWS JSON protocols carry timestamps as epoch seconds. */
function epochSeconds(this: Record<string, unknown>, k: string, v: unknown): unknown {
    return this[k] instanceof Date ? (this[k] as Date).getTime() / 1000 : v;
}

async function dispatchJson(
    handlers: HandlerTable,
    target: string,
    body: string,
    ctx: CallContext,
): Promise<WireResponse> {
    const [prefix, op] = target.split(".");
    const service = JSON_TARGET_PREFIXES[prefix];
    const type = service === "sqs" ? "application/x-amz-json-1.0" : "application/x-amz-json-1.1";
    const fn = service ? handlers[service]?.[op] : undefined;
    if (!fn)
        return {
            status: 400,
            type,
            body: JSON.stringify({ __type: "UnknownOperationException", message: `unknown operation ${target}` }),
        };
    try {
        const out = await fn(body ? JSON.parse(body) : {}, ctx);
        return { status: 200, type, body: JSON.stringify(out ?? {}, epochSeconds) };
    } catch (err) {
        const e = asApiError(err, "InternalServerError");
        return { status: e.status, type, body: JSON.stringify({ __type: e.code, message: e.message }) };
    }
}

async function dispatchEc2Query(handlers: HandlerTable, body: string, ctx: CallContext): Promise<WireResponse> {
    const requestId = randomUUID();
    const params = new URLSearchParams(body);
    const action = params.get("Action");
    const fn = action ? handlers.ec2?.[action] : undefined;
    const xmlError = (e: AwsApiError): WireResponse => ({
        status: e.status,
        type: "text/xml",
        body: renderEc2ErrorXml(e.code, e.message, requestId),
    });
    if (!fn)
        return xmlError(new AwsApiError("InvalidAction", `The action ${action} is not valid for this web service.`));
    try {
        const out = await fn(decodeEc2Query(params), ctx);
        return { status: 200, type: "text/xml", body: renderEc2Xml(action!, out, requestId) };
    } catch (err) {
        return xmlError(asApiError(err, "InternalError"));
    }
}

/** One request: JSON 1.0/1.1 by X-Amz-Target, else EC2 Query. */
export async function dispatchAwsRequest(
    handlers: HandlerTable,
    headers: IncomingHttpHeaders,
    body: string,
): Promise<WireResponse> {
    const target = headers["x-amz-target"];
    const ctx: CallContext = { accessKeyId: accessKeyOf(headers.authorization) };
    if (typeof target === "string") return dispatchJson(handlers, target, body, ctx);
    return dispatchEc2Query(handlers, body, ctx);
}
