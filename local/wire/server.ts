/**
 * How the wire layer is reached: an HTTP server on 127.0.0.1, which the REAL bundled Lambda and the
 * AWS CLI reach through AWS_ENDPOINT_URL_SSM / _EC2 / _SQS, or an AWS SDK v3 request handler that
 * serves the same bytes in this process (no socket, no timer: a fake clock drives everything).
 */
import { randomUUID } from "crypto";
import * as http from "http";
import { AddressInfo } from "net";
import { Readable } from "stream";
import { dispatchAwsRequest } from "./dispatch";
import { HandlerTable } from "./handlers";

export interface FakeAwsServer {
    url: string;
    close(): Promise<void>;
}

/** Serves `handlers` over HTTP on 127.0.0.1 (port 0: any free port). */
export async function startFakeAwsServer(handlers: HandlerTable, port = 0): Promise<FakeAwsServer> {
    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c) => chunks.push(c));
        req.on("end", () => {
            void dispatchAwsRequest(handlers, req.headers, Buffer.concat(chunks).toString("utf8")).then(
                ({ status, type, body }) => {
                    res.writeHead(status, {
                        "content-type": type,
                        "x-amzn-requestid": randomUUID(),
                        "content-length": Buffer.byteLength(body),
                    });
                    res.end(body);
                },
            );
        });
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    const addr = server.address() as AddressInfo;
    return {
        url: `http://127.0.0.1:${addr.port}`,
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
}

function requestBody(raw: unknown): string {
    if (raw === undefined || raw === null) return "";
    return typeof raw === "string" ? raw : Buffer.from(raw as Uint8Array).toString("utf8");
}

/**
 * An AWS SDK v3 request handler that serves every request from `handlers` in this process, through
 * dispatchAwsRequest: the SDK's own serialization, signing and parsing run as over HTTP, but no
 * socket or timer is involved, so a fake clock (bench/timing.ts) drives everything.
 */
export function inProcessRequestHandler(handlers: HandlerTable) {
    return {
        metadata: { handlerProtocol: "in-process" },
        async handle(request: {
            headers: Record<string, string>;
            body?: unknown;
        }): Promise<{ response: { statusCode: number; headers: Record<string, string>; body: Readable } }> {
            const headers: http.IncomingHttpHeaders = {};
            for (const [k, v] of Object.entries(request.headers)) headers[k.toLowerCase()] = v;
            const out = await dispatchAwsRequest(handlers, headers, requestBody(request.body));
            // A stream, as the SDK's Node.js HTTP handler returns it.
            return {
                response: {
                    statusCode: out.status,
                    headers: { "content-type": out.type, "x-amzn-requestid": randomUUID() },
                    body: Readable.from([Buffer.from(out.body)]),
                },
            };
        },
        updateHttpClientConfig(): void {},
        httpHandlerConfigs(): Record<string, never> {
            return {};
        },
        destroy(): void {},
    };
}
