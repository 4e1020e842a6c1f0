/**
 * Host certificates: after the host keys are pinned, each host whose certificate is missing, for
 * another key or CA, or past half its validity gets a new one for its preferred key (ed25519,
 * else ecdsa, else rsa), signed by the host CA in KMS (kms:Sign through the role's grant; the
 * private key never leaves KMS), naming the instance id and its private address and DNS name
 * (from EC2, not from the host), and installed by the host-certificate document: one SendCommand
 * per 50 hosts. Each certificate is recorded in `<PKA_HOST_CERT_PATH>/<id>`, which is how the
 * next run knows it is current. The host's output chose only which of its own pinned keys is
 * certified; what the certificate says it is comes from EC2.
 */
import type { DescribeInstancesCommandOutput } from "@aws-sdk/client-ec2";
import { GetParametersCommand, PutParameterCommand, SendCommandCommand } from "@aws-sdk/client-ssm";
import { KMS_CA_SPECS, KmsCaKeySpec } from "../core/certAuthorityPlan";
import { sshSignatureFromKmsDer } from "../core/certAuthorityKms";
import { parseCertificateLine } from "../core/certs/format";
import { prepareCertificate } from "../core/certs/prepare";
import { hostCertificateParameters } from "../core/document/hostCertificateParameters";
import { ec2Lib, kmsLib } from "./clients";
import { EC2_FILTER_VALUES, GET_PARAMETERS_MAX_NAMES, SEND_COMMAND_MAX_IDS } from "./constants";
import { aws, BatchContext, fail } from "./context";
import type { HostKeyPin } from "./hostKeys";
import { chunk, pages } from "./paginate";
import { errorName } from "./retry";

/** KMS Sign's Message limit for MessageType RAW. */
const KMS_MAX_RAW_MESSAGE = 4096;
/** The comment of every host-certificate command (SSM shows it in the command history). */
export const HOST_CERT_COMMENT = "pka-fleet host certificates";
const PREFERENCE = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"];

/** The key a host's certificate is for: its first key by PREFERENCE (what ssh clients prefer by default). */
export function preferredHostKey(keys: readonly string[]): string | undefined {
    for (const t of PREFERENCE) {
        const k = keys.find((l) => l.split(" ")[0] === t);
        if (k) return k;
    }
    return undefined;
}

/** The KMS key spec of a CA key line (`ecdsa-sha2-nistp256 ...` -> ECC_NIST_P256). */
function keySpecOf(caPublicKey: string): KmsCaKeySpec {
    const curve = caPublicKey.split(" ")[0].replace("ecdsa-sha2-", "");
    const spec = (Object.keys(KMS_CA_SPECS) as KmsCaKeySpec[]).find((k) => KMS_CA_SPECS[k].curve === curve);
    if (!spec) throw new Error(`the host CA key ${caPublicKey.split(" ")[0]} is not a KMS ECC key`);
    return spec;
}

/** Whether the recorded certificate still serves `key`: same key, same CA, more than half its validity left. */
export function certificateCurrent(
    recorded: string | undefined,
    key: string,
    caPublicKey: string,
    validitySeconds: number,
    nowMs: number,
): boolean {
    if (!recorded) return false;
    try {
        const info = parseCertificateLine(recorded, "the recorded host certificate");
        const left = Number(info.validBefore) - nowMs / 1000;
        return (
            info.kind === "host" &&
            info.signatureValid &&
            info.keyBlob.equals(Buffer.from(key.split(" ")[1], "base64")) &&
            info.caBlob.equals(Buffer.from(caPublicKey.split(" ")[1], "base64")) &&
            left > validitySeconds / 2
        );
    } catch {
        return false;
    }
}

interface Due {
    pin: HostKeyPin;
    key: string;
    record: string;
}

/** Certifies the pinned hosts whose certificate is not current; a host that cannot be certified now has its record retried. */
export async function certifyHosts(ctx: BatchContext, pins: HostKeyPin[]): Promise<void> {
    const hc = ctx.cfg.hostCertificates;
    if (!hc || pins.length === 0) return;
    const wanted: Due[] = [];
    for (const pin of pins) {
        const key = preferredHostKey(pin.keys);
        if (key) wanted.push({ pin, key, record: `${hc.path}/${pin.instanceId}` });
    }
    const recorded = await recordedCertificates(
        ctx,
        wanted.map((w) => w.record),
    );
    const due = wanted.filter(
        (w) => !certificateCurrent(recorded.get(w.record), w.key, hc.caPublicKey, hc.validitySeconds, ctx.deps.now()),
    );
    ctx.stats.hostCertsCurrent += wanted.length - due.length;
    if (due.length === 0) return;
    let names: Map<string, string[]>;
    try {
        names = await instanceNames(
            ctx,
            due.map((d) => d.pin.instanceId),
        );
    } catch (err) {
        for (const d of due)
            fail(ctx, d.pin.messageId, "cannot read the instance's addresses for its host certificate", {
                error: errorName(err),
            });
        return;
    }
    const signed: { d: Due; line: string }[] = [];
    for (const d of due) {
        const principals = names.get(d.pin.instanceId);
        if (!principals) {
            // Gone (terminated) or not an EC2 instance: nothing to certify.
            ctx.log.info("no host certificate: the instance is not running in EC2", { instanceId: d.pin.instanceId });
            continue;
        }
        try {
            signed.push({ d, line: await sign(ctx, d.key, principals, d.pin.instanceId) });
        } catch (err) {
            fail(ctx, d.pin.messageId, "cannot sign the host certificate", {
                instanceId: d.pin.instanceId,
                error: errorName(err),
            });
        }
    }
    for (const part of chunk(signed, SEND_COMMAND_MAX_IDS)) await deliver(ctx, part);
}

/** A certificate for `key` naming `principals`, signed in KMS (its body, MessageType RAW). */
async function sign(ctx: BatchContext, key: string, principals: string[], instanceId: string): Promise<string> {
    const hc = ctx.cfg.hostCertificates!;
    const spec = KMS_CA_SPECS[keySpecOf(hc.caPublicKey)];
    const prepared = prepareCertificate({
        caPublicKey: hc.caPublicKey,
        publicKey: key,
        kind: "host",
        principals,
        validitySeconds: hc.validitySeconds,
        maxValiditySeconds: hc.validitySeconds,
        keyId: `pka-fleet:${ctx.cfg.tagValue}:${instanceId}`,
        now: new Date(ctx.deps.now()),
    });
    // KMS Sign takes at most 4096 bytes of RAW message (AWS KMS API Reference, Sign); a host certificate's body is far smaller.
    if (prepared.body.length > KMS_MAX_RAW_MESSAGE)
        throw new Error(
            `the certificate body is ${prepared.body.length} bytes, over KMS Sign's ${KMS_MAX_RAW_MESSAGE}`,
        );
    const { SignCommand } = await kmsLib();
    const kms = await ctx.deps.kms();
    const out = await aws(ctx, () => {
        ctx.stats.kmsSignCalls++;
        return kms.send(
            new SignCommand({
                KeyId: hc.kmsKeyArn,
                // RAW: KMS hashes the body with the algorithm's hash (RFC 5656's for the curve) and signs that.
                Message: prepared.body,
                MessageType: "RAW",
                SigningAlgorithm: spec.signingAlgorithm as "ECDSA_SHA_256",
            }),
        );
    });
    if (!out.Signature) throw new Error("KMS Sign returned no signature");
    const cert = prepared.finish(sshSignatureFromKmsDer(Buffer.from(out.Signature), keySpecOf(hc.caPublicKey)));
    return cert.line.split(" ").slice(0, 2).join(" ");
}

/** One host-certificate command for `part`, then each certificate recorded; a host whose step failed has its record retried. */
async function deliver(ctx: BatchContext, part: { d: Due; line: string }[]): Promise<void> {
    const hc = ctx.cfg.hostCertificates!;
    try {
        const out = await aws(ctx, () => {
            ctx.stats.sendCommandCalls++;
            return ctx.deps.ssm.send(
                new SendCommandCommand({
                    DocumentName: hc.documentName,
                    InstanceIds: part.map((p) => p.d.pin.instanceId),
                    Parameters: hostCertificateParameters(part.map((p) => p.line)),
                    Comment: HOST_CERT_COMMENT,
                    TimeoutSeconds: ctx.cfg.commandTimeoutSeconds,
                }),
            );
        });
        ctx.log.info("host certificates sent", { commandId: out.Command?.CommandId, instances: part.length });
    } catch (err) {
        for (const p of part)
            fail(ctx, p.d.pin.messageId, "cannot send the host certificates", {
                instanceId: p.d.pin.instanceId,
                error: errorName(err),
            });
        return;
    }
    for (const p of part) {
        try {
            await aws(ctx, () =>
                ctx.deps.ssm.send(
                    new PutParameterCommand({ Name: p.d.record, Value: p.line, Type: "String", Overwrite: true }),
                ),
            );
            ctx.stats.hostCertsIssued++;
        } catch (err) {
            // Not recorded: the next run signs again (the host installs the newer one).
            ctx.log.warn("host certificate sent but not recorded", {
                instanceId: p.d.pin.instanceId,
                error: errorName(err),
            });
        }
    }
}

/** What `<path>/<id>` holds for each name (GetParameters, 10 a call); unreadable: treated as none. */
async function recordedCertificates(ctx: BatchContext, names: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const part of chunk(names, GET_PARAMETERS_MAX_NAMES)) {
        try {
            const r = await aws(ctx, () => ctx.deps.ssm.send(new GetParametersCommand({ Names: part })));
            for (const p of r.Parameters ?? []) if (p.Name && p.Value) out.set(p.Name, p.Value);
        } catch (err) {
            ctx.log.warn("cannot read the recorded host certificates; signing them again", { error: errorName(err) });
        }
    }
    return out;
}

/** Each running instance's names for its certificate: the instance id, private address and private DNS name, from EC2. */
async function instanceNames(ctx: BatchContext, ids: string[]): Promise<Map<string, string[]>> {
    const { DescribeInstancesCommand } = await ec2Lib();
    const ec2 = await ctx.deps.ec2();
    const out = new Map<string, string[]>();
    for (const part of chunk(
        ids.filter((id) => id.startsWith("i-")),
        EC2_FILTER_VALUES,
    )) {
        const filters = [
            { Name: "instance-id", Values: part },
            { Name: "instance-state-name", Values: ["pending", "running"] },
        ];
        for await (const page of pages(
            (token) =>
                aws(ctx, () =>
                    ec2.send(new DescribeInstancesCommand({ Filters: filters, NextToken: token })),
                ) as Promise<DescribeInstancesCommandOutput>,
        )) {
            for (const r of page.Reservations ?? [])
                for (const i of r.Instances ?? []) {
                    if (!i.InstanceId) continue;
                    const names = [i.InstanceId, i.PrivateIpAddress, i.PrivateDnsName].filter(
                        (n): n is string => typeof n === "string" && /^[A-Za-z0-9][A-Za-z0-9.:-]{0,252}$/.test(n),
                    );
                    out.set(i.InstanceId, [...new Set(names)]);
                }
        }
    }
    return out;
}
