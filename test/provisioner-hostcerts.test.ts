/**
 * The provisioner's host certificates (lambda/hostCerts.ts), with the SDK's real clients over the
 * local wire layer (JSON and EC2 Query, KMS's blobs as base64) against the fake AWS: a local KMS
 * that signs only for its grantee, EC2's addresses, the host-certificate document. What the
 * Lambda sends is checked against AWS's published models.
 */
import { strict as assert } from "assert";
import { parseCertificateLine } from "../core/certs";
import { HOST_CERTS_PARAMETER } from "../core/document/hostCertificateParameters";
import { createHandler, Log } from "../lambda/provisioner";
import { FakeAwsState } from "../local/fakeAws";
import { botocoreProblem, validateRequest } from "./support/awsModels";
import {
    DOC,
    ed25519Line,
    ENV,
    instanceId,
    makeFleet,
    record,
    resultEvent,
    runningEvent,
    TAG,
} from "./support/provisionerFixture";
import { recordingHandler, useSdkEnvironment } from "./support/wireHandler";

const CERT_DOC = "pka-fleet-host-certificate";
const CERT_PATH = "/pka/prod/host_certificates";
const ROLE_KEY = "AKIDPROVISIONERROLE";
const CREDS = {
    AWS_ACCESS_KEY_ID: ROLE_KEY,
    AWS_SECRET_ACCESS_KEY: "s",
    AWS_SESSION_TOKEN: "t",
    AWS_REGION: "us-east-1",
};

interface World {
    fleet: FakeAwsState;
    handler: ReturnType<typeof createHandler>;
    ca: { arn: string; publicKey: string };
    /** Each instance's host keys, as its setup run prints them. */
    hostKeys: Map<string, string[]>;
    logs: string[];
    now: { ms: number };
}

function world(n: number, grantee = ROLE_KEY): World {
    const fleet = makeFleet({ tagged: n });
    fleet.documents.add(CERT_DOC);
    for (let i = 1; i <= n; i++) fleet.instances.get(instanceId(i))!.privateIp = `10.0.1.${i}`;
    const ca = fleet.kms.createKey("ECC_NIST_P256", [grantee]);
    const hostKeys = new Map<string, string[]>();
    for (let i = 1; i <= n; i++)
        hostKeys.set(instanceId(i), [ed25519Line(), "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7"]);
    fleet.runCommand = (inv) =>
        inv.documentName === DOC
            ? {
                  status: "Success",
                  stdout: `${hostKeys
                      .get(inv.instanceId)!
                      .map((k) => `PKA-HOSTKEY ${k}`)
                      .join("\n")}\nPKA-SUMMARY status=ok\n`,
              }
            : { status: "Success", stdout: "PKA-HOSTCERT installed ssh_host_ed25519_key\n" };
    const now = { ms: Date.parse("2026-12-04T12:00:00Z") };
    fleet.clock = () => now.ms;
    const logs: string[] = [];
    const log: Log = Object.fromEntries(
        ["debug", "info", "warn", "error"].map((l) => [
            l,
            (m: string, x?: unknown) => logs.push(`${l} ${m} ${JSON.stringify(x ?? {})}`),
        ]),
    ) as unknown as Log;
    const handler = createHandler({
        requestHandler: recordingHandler(fleet, []),
        env: {
            ...ENV,
            PKA_HOST_CERT_DOCUMENT: CERT_DOC,
            PKA_HOST_CA_KMS_KEY: ca.arn,
            PKA_HOST_CA_PUBLIC_KEY: ca.publicKey,
            PKA_HOST_CERT_PATH: CERT_PATH,
        },
        log,
        sleep: async (ms) => void (now.ms += ms),
        random: () => 0.5,
        now: () => now.ms,
    });
    return { fleet, handler, ca, hostKeys, logs, now };
}

/** Runs the setup document on `ids` (a launch, or again: a push) and hands its results to the handler; returns that batch's response. */
async function provisionAndReport(w: World, ids: string[]) {
    await w.handler({ Records: ids.map((id) => record(runningEvent(id))) }, { getRemainingTimeInMillis: () => 60_000 });
    const setup = w.fleet.commands.filter((c) => c.documentName === DOC).pop()!;
    return w.handler(
        { Records: ids.map((id) => record(resultEvent(id, setup.commandId, "Success"))) },
        { getRemainingTimeInMillis: () => 60_000 },
    );
}

const certCommands = (w: World) => w.fleet.commands.filter((c) => c.documentName === CERT_DOC);
const certLines = (w: World, i: number) => {
    const inv = [...w.fleet.invocations.values()].filter((x) => x.documentName === CERT_DOC)[i];
    return Buffer.from(inv.parameters[HOST_CERTS_PARAMETER][0], "base64").toString().trim().split("\n");
};

describe("provisioner: host certificates signed in KMS and installed by the host-certificate document", function () {
    this.timeout(30_000);
    useSdkEnvironment(CREDS);

    it("after pinning: one kms:Sign per host and one host-certificate command for the batch; each certificate is EC2's names for the host's ed25519 key", async () => {
        const w = world(3);
        const ids = [1, 2, 3].map(instanceId);
        const res = await provisionAndReport(w, ids);
        assert.deepStrictEqual(res.batchItemFailures, [], w.logs.join("\n"));
        assert.equal(w.fleet.kms.signed, 3);
        assert.equal(certCommands(w).length, 1);
        assert.deepStrictEqual(certCommands(w)[0].instanceIds, ids);
        assert.equal(certCommands(w)[0].comment, "pka-fleet host certificates");
        const lines = certLines(w, 0);
        assert.equal(lines.length, 3);
        const now = w.now.ms / 1000;
        for (const [i, id] of ids.entries()) {
            const info = parseCertificateLine(lines[i]);
            assert.equal(info.kind, "host");
            assert.equal(info.signatureValid, true);
            assert.equal(info.caBlob.toString("base64"), w.ca.publicKey.split(" ")[1]);
            assert.equal(
                info.keyBlob.toString("base64"),
                w.hostKeys.get(id)![0].split(" ")[1],
                "the ed25519 key, not rsa",
            );
            assert.deepEqual(info.principals, [id, `10.0.1.${i + 1}`, `ip-10-0-1-${i + 1}.ec2.internal`]);
            assert.equal(info.keyId, `pka-fleet:${TAG.value}:${id}`);
            assert.ok(Math.abs(Number(info.validBefore) - now - 30 * 86400) < 5, "30 days");
            assert.equal(w.fleet.parameters.get(`${CERT_PATH}/${id}`)?.value, lines[i], "recorded");
        }
        assert.equal(w.handler.stats()?.hostCertsIssued, 3);
        // No key material or certificate in any log line.
        const all = w.logs.join("\n");
        assert.ok(!lines.some((l) => all.includes(l.split(" ")[1].slice(0, 40))), "no certificate in the logs");
    });

    it("a re-run with the same keys signs nothing; a new host key, or half the validity gone, signs again", async () => {
        const w = world(2);
        const ids = [1, 2].map(instanceId);
        await provisionAndReport(w, ids);
        assert.equal(w.fleet.kms.signed, 2);
        await provisionAndReport(w, ids);
        assert.equal(w.fleet.kms.signed, 2, "current: nothing signed");
        assert.equal(certCommands(w).length, 1);
        assert.equal(w.handler.stats()?.hostCertsCurrent, 2);
        // Host 1's key changes (rebuilt from an image): only it gets a certificate.
        w.hostKeys.set(ids[0], [ed25519Line()]);
        await provisionAndReport(w, ids);
        assert.equal(w.fleet.kms.signed, 3);
        assert.deepStrictEqual(certCommands(w)[1].instanceIds, [ids[0]]);
        // 16 days on, past half of 30: both are renewed.
        w.now.ms += 16 * 86400_000;
        await provisionAndReport(w, ids);
        assert.equal(w.fleet.kms.signed, 5);
        assert.deepStrictEqual(certCommands(w)[2].instanceIds, ids);
    });

    it("a role without a grant cannot sign: the records are retried, nothing is sent or recorded", async () => {
        const w = world(1, "AKIDSOMEONEELSE");
        const res = await provisionAndReport(w, [instanceId(1)]);
        assert.equal(res.batchItemFailures.length, 1, w.logs.join("\n"));
        assert.equal(certCommands(w).length, 0);
        assert.equal(w.fleet.parameters.get(`${CERT_PATH}/${instanceId(1)}`), undefined);
        assert.ok(
            w.logs.some((l) => /cannot sign the host certificate.*AccessDeniedException/.test(l)),
            w.logs.join("\n"),
        );
        // The host keys are pinned all the same: the central server can still reach the host by its key.
        assert.ok(w.fleet.parameters.get(`/pka/prod/known_hosts/${instanceId(1)}`));
    });

    it("what it sends conforms to AWS's models: kms Sign, ssm SendCommand of the host-certificate document, PutParameter", function () {
        if (botocoreProblem()) this.skip();
        const w = world(2);
        return provisionAndReport(w, [1, 2].map(instanceId)).then(() => {
            const sign = w.fleet.callsOf("Sign");
            assert.equal(sign.length, 2);
            for (const c of sign)
                assert.deepStrictEqual(
                    validateRequest("kms", "Sign", { ...c.input, Message: Buffer.from(c.input.Message, "base64") }),
                    [],
                );
            const send = w.fleet.callsOf("SendCommand").filter((c) => c.input.DocumentName === CERT_DOC);
            assert.equal(send.length, 1);
            assert.deepStrictEqual(validateRequest("ssm", "SendCommand", send[0].input), []);
            for (const c of w.fleet.callsOf("PutParameter").filter((x) => String(x.input.Name).startsWith(CERT_PATH)))
                assert.deepStrictEqual(validateRequest("ssm", "PutParameter", c.input), []);
        });
    });
});
