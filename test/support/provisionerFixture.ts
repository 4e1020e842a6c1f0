/**
 * Shared setup for the provisioner tests: a fake AWS (local/fakeAws.ts) holding a fleet, a
 * stored access spec and the setup document; helpers to build SQS events and keys.
 */
import { generateKeyPairSync } from "crypto";
import { validateAccessSpec } from "../../core/accessSpec";
import { accessSpecHash, canonicalAccessSpecJson } from "../../core/accessSpecJson";
import { splitAccessSpec } from "../../core/accessStore";
import { FakeAwsState } from "../../local/fakeAws";

export const DOC = "pka-fleet-setup";
export const TAG = { key: "pka-fleet", value: "prod" };
export const ACCESS_PATH = "/pka/prod/access";
export const KNOWN_HOSTS = "/pka/prod/known_hosts";
export const DLQ_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/pka-dlq";

function sshString(b: Buffer): Buffer {
    const l = Buffer.alloc(4);
    l.writeUInt32BE(b.length);
    return Buffer.concat([l, b]);
}

/** A fresh ed25519 public key line (`ssh-ed25519 base64 comment`). */
export function ed25519Line(comment = ""): string {
    const { publicKey } = generateKeyPairSync("ed25519");
    const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
    const blob = Buffer.concat([sshString(Buffer.from("ssh-ed25519")), sshString(raw)]).toString("base64");
    return comment ? `ssh-ed25519 ${blob} ${comment}` : `ssh-ed25519 ${blob}`;
}

export const USER_KEY = ed25519Line("alice@laptop");
export const SPEC = validateAccessSpec({ users: [{ name: "svc_user", sudo: "nopasswd", keys: [USER_KEY] }] });

/** The Lambda's configuration as the Provisioner sets it: the deploy pinned SPEC's hash. */
export const ENV: Record<string, string> = {
    PKA_DOCUMENT_NAME: DOC,
    PKA_TARGET_TAG: `${TAG.key}=${TAG.value}`,
    PKA_ACCESS_PARAMETER: ACCESS_PATH,
    PKA_ACCESS_SPEC_SHA256: accessSpecHash(SPEC),
    PKA_KNOWN_HOSTS_PATH: KNOWN_HOSTS,
    PKA_DEAD_LETTER_QUEUE_URL: DLQ_URL,
    PKA_MAX_ATTEMPTS: "3",
};

/**
 * What someone with only ssm:PutParameter on the access path writes: a valid spec of his own (a
 * NOPASSWD user with his key), split and stored exactly as a deploy stores one, hash and all.
 */
export const FORGED_KEY = ed25519Line("mallory@evil");
export const FORGED_SPEC = validateAccessSpec({
    users: [
        { name: "svc_user", sudo: "nopasswd", keys: [USER_KEY] },
        { name: "mallory", sudo: "nopasswd", keys: [FORGED_KEY] },
    ],
});

/** Writes a spec's chunks; `modifiedAt` (ms) backdates them (unset: just written). */
export function storeSpec(state: FakeAwsState, specJson: string, path = ACCESS_PATH, modifiedAt?: number): void {
    for (const k of [...state.parameters.keys()]) if (k.startsWith(`${path}/`)) state.parameters.delete(k);
    for (const p of splitAccessSpec(specJson, path))
        state.parameters.set(p.name, { value: p.value, type: "String", version: 1, modifiedAt });
}

/** Long enough ago that no deploy is still between writing the parameters and updating the function. */
export const LONG_AGO = () => Date.now() - 2 * 3600_000;

export function instanceId(n: number): string {
    return `i-${n.toString(16).padStart(17, "0")}`;
}

export interface FleetOptions {
    tagged?: number;
    untagged?: number;
    offline?: number;
}

/** A fake AWS with `tagged` online tagged instances (ids 1..), `offline` tagged ones whose agent is lost, `untagged` online ones. */
export function makeFleet(o: FleetOptions = {}): FakeAwsState {
    const s = new FakeAwsState();
    s.documents.add(DOC);
    s.addQueue(DLQ_URL);
    s.requiredTag = TAG; // the IAM condition the Provisioner's role carries
    let n = 1;
    for (let i = 0; i < (o.tagged ?? 0); i++) s.addInstance(instanceId(n++), { [TAG.key]: TAG.value }, "Online");
    for (let i = 0; i < (o.offline ?? 0); i++)
        s.addInstance(instanceId(n++), { [TAG.key]: TAG.value }, "ConnectionLost");
    for (let i = 0; i < (o.untagged ?? 0); i++) s.addInstance(instanceId(n++), { team: "other" }, "Online");
    storeSpec(s, canonicalAccessSpecJson(SPEC));
    return s;
}

let seq = 0;
export function record(event: object | string, messageId = `m-${++seq}`) {
    return {
        messageId,
        receiptHandle: `rh-${messageId}`,
        body: typeof event === "string" ? event : JSON.stringify(event),
        attributes: { ApproximateReceiveCount: "1" },
        messageAttributes: {},
        eventSource: "aws:sqs",
        eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:pka-queue",
        awsRegion: "us-east-1",
    };
}

export function runningEvent(id: string, state = "running") {
    return {
        version: "0",
        id: `ev-${id}-${state}`,
        "detail-type": "EC2 Instance State-change Notification",
        source: "aws.ec2",
        account: "123456789012",
        time: "2025-01-01T00:00:00Z",
        region: "us-east-1",
        resources: [`arn:aws:ec2:us-east-1:123456789012:instance/${id}`],
        detail: { "instance-id": id, state },
    };
}

export function associationEvent(id: string) {
    return {
        version: "0",
        id: `assoc-${id}`,
        "detail-type": "EC2 State Manager Instance Association State Change",
        source: "aws.ssm",
        account: "123456789012",
        time: "2025-01-01T00:00:00Z",
        region: "us-east-1",
        resources: [`arn:aws:ec2:us-east-1:123456789012:instance/${id}`],
        detail: {
            "association-id": "34fcb7e0-9a14-4984-9989-0e04e3f60bd8",
            "instance-id": id,
            "document-name": "AWS-GatherSoftwareInventory",
            status: "Success",
        },
    };
}

export function resultEvent(id: string, commandId: string, status: string, documentName = DOC) {
    return {
        version: "0",
        id: `res-${commandId}-${id}`,
        "detail-type": "EC2 Command Invocation Status-change Notification",
        source: "aws.ssm",
        account: "123456789012",
        time: "2025-01-01T00:00:00Z",
        region: "us-east-1",
        resources: [`arn:aws:ec2:us-east-1:123456789012:instance/${id}`],
        detail: {
            "command-id": commandId,
            "document-name": documentName,
            "instance-id": id,
            "requested-date-time": "2025-01-01T00:00:00Z",
            status,
        },
    };
}

/** Host key lines as the setup script prints them. */
export function hostKeyOutput(): { stdout: string; lines: string[] } {
    const ed = ed25519Line();
    const lines = [ed];
    return {
        stdout: `PKA-CHANGED something\n${lines.map((l) => `PKA-HOSTKEY ${l}`).join("\n")}\nPKA-SUMMARY status=ok\n`,
        lines,
    };
}
