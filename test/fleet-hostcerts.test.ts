/**
 * PkaFleet with host certificates, under Pulumi mocks that reject what AWS would reject: the
 * host-certificate document carries the fleet's CA, the provisioner's role gets a KMS grant to
 * Sign (and nothing in its policy to sign with), the Lambda's PKA_HOST_CERT_* settings, the
 * central server's `@cert-authority` line and config; bad values are refused naming the input.
 */
import * as assert from "assert";
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import type * as FleetModule from "../components/PkaFleet";
import { sshPublicKeyFromSpki } from "../core/certAuthorityPlan";
import { renderHostCertificateDocumentJson } from "../core/document/hostCertificates";
import { AwsMocks, peek, settle, watch } from "./support/awsMocks";

const KEY_SVC = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqES5zNG9al28zqQu3ZQwKMG8xswUKYWhqvGcMZATU7 central@server";
const CA = sshPublicKeyFromSpki(
    crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ format: "der", type: "spki" }),
    "host-ca",
);
const KMS = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

function args(over: Partial<FleetModule.PkaFleetArgs> = {}): FleetModule.PkaFleetArgs {
    return {
        fleetName: "web",
        users: [{ name: "svc_user", sudo: "nopasswd", service: true, publicKeys: [KEY_SVC] }],
        hostCertificates: { kmsKeyArn: KMS, caPublicKey: CA, validity: "7d", hostPatterns: ["i-*", "10.*"] },
        ...over,
    };
}

describe("PkaFleet with host certificates (under AWS mocks)", function () {
    this.timeout(120000);
    let mocks: AwsMocks;
    let mod: typeof FleetModule;

    beforeEach(async () => {
        mocks = watch(new AwsMocks());
        await pulumi.runtime.setMocks(mocks, "pka-fleet", "test", false);
        mod = await import("../components/PkaFleet");
    });

    it("deploys the host-certificate document with the CA in it, a Sign grant for the provisioner's role, and the Lambda's settings", async () => {
        const fleet = new mod.PkaFleet("web", args());
        assert.equal(
            (await peek(fleet.hostCertificateAuthorityLine)).value,
            `@cert-authority i-*,10.* ${CA.split(" ").slice(0, 2).join(" ")}`,
        );
        await peek(fleet.queueUrl);
        await settle(mocks);
        assert.deepStrictEqual(mocks.errors, []);
        const docs = mocks.created.filter((c) => c.type === "aws:ssm/document:Document");
        const hostDoc = docs.find((d) => d.name === "web-host-certificate");
        assert.ok(hostDoc, docs.map((d) => d.name).join(", "));
        assert.equal(hostDoc.inputs.content, renderHostCertificateDocumentJson(CA.split(" ").slice(0, 2).join(" ")));
        const grant = mocks.created.find((c) => c.type === "aws:kms/grant:Grant");
        assert.ok(grant);
        assert.equal(grant.inputs.keyId, KMS);
        assert.deepStrictEqual(grant.inputs.operations, ["Sign"]);
        const role = mocks.created.find((c) => c.type === "aws:iam/role:Role")!;
        assert.match(String(grant.inputs.granteePrincipal), new RegExp(`role/${role.name}`));
        const fn = mocks.created.find((c) => c.type === "aws:lambda/function:Function")!;
        const env = fn.inputs.environment.variables;
        assert.equal(env.PKA_HOST_CA_KMS_KEY, KMS);
        assert.equal(env.PKA_HOST_CA_PUBLIC_KEY, CA.split(" ").slice(0, 2).join(" "));
        assert.equal(env.PKA_HOST_CERT_VALIDITY_SECONDS, String(7 * 86400));
        assert.equal(env.PKA_HOST_CERT_PATH, "/pka/web/host_certificates");
        assert.match(env.PKA_HOST_CERT_DOCUMENT, /^web-host-certificate/);
        const policy = JSON.parse(mocks.created.find((c) => c.type === "aws:iam/rolePolicy:RolePolicy")!.inputs.policy);
        const sids = policy.Statement.map((s: { Sid: string }) => s.Sid);
        assert.ok(
            sids.includes("SendCommandHostCertificateDocument") && sids.includes("RecordHostCertificates"),
            sids.join(", "),
        );
        assert.ok(
            !JSON.stringify(policy).includes("kms:"),
            "the role policy grants no KMS action: signing is the grant's",
        );
        // The central server's settings read the CA file too.
        assert.match(
            (await peek(fleet.knownHostsCommand)).value,
            /UserKnownHostsFile ~\/\.ssh\/known_hosts\.pka-web ~\/\.ssh\/known_hosts\.pka-web-ca/,
        );
    });

    it("without hostCertificates: no document, no grant, no settings, no line", async () => {
        const fleet = new mod.PkaFleet("web", args({ hostCertificates: undefined }));
        assert.equal((await peek(fleet.hostCertificateAuthorityLine)).value, undefined);
        await peek(fleet.queueUrl);
        await settle(mocks);
        assert.ok(!mocks.created.some((c) => c.type === "aws:kms/grant:Grant" || c.name.includes("host-certificate")));
        const fn = mocks.created.find((c) => c.type === "aws:lambda/function:Function")!;
        assert.ok(!Object.keys(fn.inputs.environment.variables).some((k) => k.startsWith("PKA_HOST_C")));
        assert.doesNotMatch((await peek(fleet.knownHostsCommand)).value, /known_hosts\.pka-web-ca/);
    });

    it("refuses bad values naming the input: before anything exists, or (a KMS ARN known at deployment) when it resolves", async () => {
        for (const [hc, re] of [
            [
                { kmsKeyArn: KMS, caPublicKey: CA, validity: "10m" },
                /`hostCertificates.validity` must be from 1h to 400d/,
            ],
            [
                { kmsKeyArn: KMS, caPublicKey: CA, validity: "a year" },
                /`hostCertificates.validity`: 'a year' is not a duration/,
            ],
            [
                { kmsKeyArn: KMS, caPublicKey: CA, hostPatterns: ["a b"] },
                /hostCertificates.hostPatterns.*not a known_hosts host pattern/,
            ],
        ] as const) {
            assert.throws(() => new mod.PkaFleet("web", args({ hostCertificates: hc as never })), re);
        }
        assert.equal(mocks.created.length, 0, "nothing created");
        // A key known only at deployment is judged, when it resolves, by the same check (the Provisioner's).
        const { hostCertificatesProblem } = await import("../core/provisionerPlan");
        const base = {
            kmsKeyArn: KMS,
            caPublicKey: CA,
            path: "/pka/web/host_certificates",
            knownHostsPath: "/pka/web/known_hosts",
            accessPath: "/pka/web/access",
        };
        assert.equal(hostCertificatesProblem(base), undefined);
        assert.match(
            String(hostCertificatesProblem({ ...base, kmsKeyArn: "alias/host-ca" })),
            /`hostCertificates.kmsKeyArn` must be a KMS key ARN/,
        );
        assert.match(String(hostCertificatesProblem({ ...base, caPublicKey: "ssh-ed25519 AAAA x" })), /caPublicKey/);
        assert.match(
            String(hostCertificatesProblem({ ...base, path: "/pka/web/known_hosts/x" })),
            /overlaps knownHostsPath/,
        );
    });
});
