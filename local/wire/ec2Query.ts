/**
 * The EC2 Query protocol (Amazon EC2 API Reference, "Query requests" and "Error codes"): a
 * form-encoded request (`Action=DescribeInstances&Filter.1.Name=...`) and an XML response or error.
 */
import { LOCAL_ACCOUNT_ID } from "../awsAccount";

export function xmlEscape(s: string): string {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Decodes EC2 Query parameters (Filter.1.Name, Filter.1.Value.1, InstanceId.1, ...) into the SDK's input shape. */
export function decodeEc2Query(params: URLSearchParams): Record<string, any> {
    const out: Record<string, any> = {};
    const filters: Record<string, { Name?: string; Values: string[] }> = {};
    const ids: string[] = [];
    for (const [k, v] of params) {
        let m: RegExpExecArray | null;
        if ((m = /^Filter\.(\d+)\.Name$/.exec(k))) (filters[m[1]] ??= { Values: [] }).Name = v;
        else if ((m = /^Filter\.(\d+)\.Value\.(\d+)$/.exec(k)))
            (filters[m[1]] ??= { Values: [] }).Values[Number(m[2]) - 1] = v;
        else if (/^InstanceId\.\d+$/.test(k)) ids.push(v);
        else if (k === "MaxResults") out.MaxResults = Number(v);
        else out[k] = v;
    }
    const f = Object.keys(filters)
        .sort((a, b) => Number(a) - Number(b))
        .map((n) => ({ Name: filters[n].Name!, Values: filters[n].Values.filter((x) => x !== undefined) }));
    if (f.length) out.Filters = f;
    if (ids.length) out.InstanceIds = ids;
    return out;
}

function instanceXml(i: any): string {
    const ip =
        (i.PrivateIpAddress ? `<privateIpAddress>${xmlEscape(i.PrivateIpAddress)}</privateIpAddress>` : "") +
        (i.PrivateDnsName ? `<privateDnsName>${xmlEscape(i.PrivateDnsName)}</privateDnsName>` : "");
    const tags = (i.Tags ?? [])
        .map((t: any) => `<item><key>${xmlEscape(t.Key)}</key><value>${xmlEscape(t.Value)}</value></item>`)
        .join("");
    return `<item><instanceId>${xmlEscape(i.InstanceId)}</instanceId><instanceState><code>16</code><name>running</name></instanceState>${ip}<tagSet>${tags}</tagSet></item>`;
}

function reservationXml(r: any, n: number): string {
    const id = `r-${String(n).padStart(17, "0")}`;
    return `<item><reservationId>${id}</reservationId><ownerId>${LOCAL_ACCOUNT_ID}</ownerId><instancesSet>${r.Instances.map(instanceXml).join("")}</instancesSet></item>`;
}

/** Renders an EC2 response as Query-protocol XML (DescribeInstances shape; other actions: flat fields). */
export function renderEc2Xml(action: string, output: any, requestId: string): string {
    let inner = "";
    if (output?.Reservations) {
        inner = `<reservationSet>${output.Reservations.map(reservationXml).join("")}</reservationSet>`;
        if (output.NextToken) inner += `<nextToken>${xmlEscape(output.NextToken)}</nextToken>`;
    }
    return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>${requestId}</requestId>${inner}</${action}Response>`;
}

/** An EC2 error response. */
export function renderEc2ErrorXml(code: string, message: string, requestId: string): string {
    return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
}
