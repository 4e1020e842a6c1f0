/**
 * SshCertificateAuthority under PkaMocks (real key generation, a real key standing for KMS): the
 * four sources, what it outputs (the private key only as a secret, the @cert-authority line), the
 * KMS key's policy (no one may sign but a grant) and CreateKey request against AWS's KMS model,
 * KMS-format signatures turned into certificates that ssh-keygen reads, and the refusals.
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type * as CaModule from "../components/SshCertificateAuthority";
import { PkaMocks } from "../components/testing";
import { kmsCaKeyPolicy, KMS_CA_ADMIN_ACTIONS, sshSignatureFromKmsDer } from "../core/certAuthorityKms";
import { KMS_CA_SPECS, planCertificateAuthority, sshPublicKeyFromSpki } from "../core/certAuthorityPlan";
import { issueCertificate, parseCertificateLine, prepareCertificate } from "../core/certs";
import { generateKey, parseKey } from "../core/keygen";
import { peek } from "./support/awsMocks";
import { botocoreProblem, validateRequest } from "./support/awsModels";
import { requireReal } from "./support/env";
import { actionExists, checkPolicyDocument, loadIamReference } from "./support/iamReference";

const ED = generateKey({ type: "ed25519", comment: "vault-ca" }).publicKey;
/** An RSA-2048 public key: too weak for a CA (generateKey makes only 3072 and 4096). */
const RSA2048 = parseKey(
    crypto
        .generateKeyPairSync("rsa", { modulusLength: 2048 })
        .publicKey.export({ type: "spki", format: "pem" }) as string,
).publicKey;

/** PkaMocks, recording every resource registered. */
function recordingMocks(): { mocks: pulumi.runtime.Mocks; made: pulumi.runtime.MockResourceArgs[] } {
    const pka = new PkaMocks();
    const made: pulumi.runtime.MockResourceArgs[] = [];
    return {
        made,
        mocks: {
            newResource: (a) => {
                made.push(a);
                return pka.newResource(a);
            },
            call: (a) => pka.call(a),
        },
    };
}

describe("SshCertificateAuthority", function () {
    this.timeout(60000);
    let mod: typeof CaModule;
    let rec: ReturnType<typeof recordingMocks>;

    beforeEach(async () => {
        rec = recordingMocks();
        await pulumi.runtime.setMocks(rec.mocks, "pka-fleet", "test", false);
        mod = await import("../components/SshCertificateAuthority");
    });

    it("generate, user CA: an ed25519 key in state, the private key only as a secret; it issues certificates", async () => {
        const ca = new mod.SshCertificateAuthority("user-ca", { kind: "user", generate: {} });
        const pub = await peek(ca.publicKey);
        assert.match(pub.value, /^ssh-ed25519 AAAA\S+ user-ca$/);
        assert.strictEqual(pub.secret, false);
        const priv = await peek(ca.privateKey);
        assert.strictEqual(priv.secret, true);
        assert.match(String(priv.value), /^-----BEGIN OPENSSH PRIVATE KEY-----/);
        assert.strictEqual((await peek(ca.knownHostsLine)).value, undefined);
        assert.strictEqual((await peek(ca.maxValidity)).value, "24h");
        assert.strictEqual((await peek(ca.maxValiditySeconds)).value, 86400);
        assert.strictEqual((await peek(ca.kind)).value, "user");
        const cert = issueCertificate({
            caPrivateKey: String(priv.value),
            publicKey: generateKey({ type: "ed25519", comment: "op" }).publicKey,
            principals: ["svc_user"],
            validitySeconds: 3600,
        });
        assert.strictEqual(cert.caPublicKey, pub.value.split(" ").slice(0, 2).join(" "));
        // The child key is marked a service key (the CA signs unattended), so the passphrase rule passes it.
        const key = rec.made.find((a) => a.type.endsWith("GeneratedSshKey"));
        assert.ok(key, rec.made.map((a) => a.type).join(", "));
        assert.strictEqual(key.inputs.service, true);
    });

    it("generate, host CA: the central server's one @cert-authority line, with the host patterns", async () => {
        const ca = new mod.SshCertificateAuthority("host-ca", {
            kind: "host",
            generate: { keyType: "ecdsa", curve: "nistp384" },
            hostPatterns: ["i-*", "*.eu-west-1.compute.internal", "!bastion.example.com"],
            maxValidity: "30d",
        });
        const pub = (await peek(ca.publicKey)).value;
        assert.match(pub, /^ecdsa-sha2-nistp384 /);
        assert.strictEqual(
            (await peek(ca.knownHostsLine)).value,
            `@cert-authority i-*,*.eu-west-1.compute.internal,!bastion.example.com ${pub}`,
        );
        assert.strictEqual((await peek(ca.maxValiditySeconds)).value, 30 * 86400);
    });

    it("publicKey: an external CA (e.g. Vault's) is distributed as given; no private key", async () => {
        const ca = new mod.SshCertificateAuthority("vault", { kind: "user", publicKey: ED });
        assert.strictEqual((await peek(ca.publicKey)).value, ED);
        assert.strictEqual((await peek(ca.privateKey)).value, undefined);
        assert.ok(!rec.made.some((a) => a.type.endsWith("GeneratedSshKey")));
    });

    it("kms, host CA: a SIGN_VERIFY ECC key whose policy lets no one sign, its public key in OpenSSH form", async () => {
        const ca = new mod.SshCertificateAuthority("host-kms", { kind: "host", kms: {} });
        const pub = (await peek(ca.publicKey)).value;
        assert.match(pub, /^ecdsa-sha2-nistp256 AAAA\S+ host-kms@pka-fleet-kms$/);
        assert.strictEqual((await peek(ca.kmsSigningAlgorithm)).value, "ECDSA_SHA_256");
        assert.match(String((await peek(ca.kmsKeyArn)).value), /^arn:aws:kms:eu-west-1:123456789012:key\//);
        assert.strictEqual((await peek(ca.privateKey)).value, undefined);
        const key = rec.made.find((a) => a.type === "aws:kms/key:Key");
        assert.ok(key);
        assert.strictEqual(key.inputs.customerMasterKeySpec, "ECC_NIST_P256");
        assert.strictEqual(key.inputs.keyUsage, "SIGN_VERIFY");
        const policy = JSON.parse(key.inputs.policy);
        const actions: string[] = policy.Statement.flatMap((s: any) => [].concat(s.Action));
        assert.ok(!actions.some((a) => /^kms:(\*|Sign|Si\*|S\*)$/i.test(a)), actions.join(", "));
        assert.ok(actions.includes("kms:CreateGrant") && actions.includes("kms:PutKeyPolicy"));
        assert.deepStrictEqual(policy.Statement[0].Principal, { AWS: "arn:aws:iam::123456789012:root" });
    });

    it("the KMS CreateKey request and a Sign request conform to AWS's published KMS model", function () {
        const missing = botocoreProblem();
        if (missing) this.skip();
        for (const keySpec of Object.keys(KMS_CA_SPECS)) {
            const problems = validateRequest("kms", "CreateKey", {
                Description:
                    "pka-fleet host CA host-kms: signs host certificates; only grants (a fleet's provisioner role) can sign",
                KeySpec: keySpec,
                KeyUsage: "SIGN_VERIFY",
                Policy: kmsCaKeyPolicy("aws", "123456789012"),
                Tags: [{ TagKey: "pka-fleet:certificate-authority", TagValue: "host" }],
            });
            assert.deepStrictEqual(problems, [], keySpec);
            const sign = validateRequest("kms", "Sign", {
                KeyId: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                Message: Buffer.alloc(4096),
                MessageType: "RAW",
                SigningAlgorithm: KMS_CA_SPECS[keySpec as keyof typeof KMS_CA_SPECS].signingAlgorithm,
            });
            assert.deepStrictEqual(sign, [], keySpec);
            // The model's bound, which lambda/hostCerts.ts checks before it calls: 4096 bytes of RAW message.
            assert.ok(
                validateRequest("kms", "Sign", {
                    KeyId: "k",
                    Message: Buffer.alloc(4097),
                    MessageType: "RAW",
                    SigningAlgorithm: "ECDSA_SHA_256",
                }).length > 0,
            );
        }
    });

    it("the key policy is a valid resource policy by the Service Authorization Reference (every action exists)", async () => {
        await loadIamReference();
        assert.deepStrictEqual(checkPolicyDocument(kmsCaKeyPolicy("aws", "123456789012"), "resource"), []);
        for (const a of KMS_CA_ADMIN_ACTIONS) assert.ok(actionExists(a), a);
        assert.ok(actionExists("kms:Sign"));
    });

    it("refuses, naming the input, before anything is created", async () => {
        const cases: [Record<string, unknown>, RegExp][] = [
            [{ generate: {} }, /`kind` must be "user"/],
            [{ kind: "user" }, /exactly one CA key source.*got none/],
            [{ kind: "user", generate: {}, publicKey: ED }, /`generate` and `publicKey`/],
            [{ kind: "user", kms: {} }, /`kms` makes a host CA/],
            [{ kind: "host", kms: { keySpec: "RSA_4096" } }, /`kms.keySpec` must be one of ECC_NIST_P256/],
            [{ kind: "host", kms: { deletionWindowInDays: 3 } }, /deletionWindowInDays.*7 to 30/],
            [{ kind: "user", generate: { keyType: "rsa", bits: 2048 } }, /2048/],
            [{ kind: "user", generate: { ppk: true } }, /`generate.ppk`/],
            [{ kind: "user", generate: {}, maxValidity: "forever" }, /`maxValidity`: 'forever' is not a duration/],
            [{ kind: "user", generate: {}, hostPatterns: ["*"] }, /`hostPatterns` is for a host CA/],
            [{ kind: "host", generate: {}, hostPatterns: ["a b"] }, /not a known_hosts host pattern/],
            [{ kind: "host", generate: {}, hostPatterns: ["!x"] }, /only negations/],
            [{ kind: "host", generate: {}, hostPatterns: ["a,b"] }, /not a known_hosts host pattern/],
            [{ kind: "user", publicKey: RSA2048 }, /rsa 2048\) cannot be a CA|2048/],
        ];
        for (const [args, re] of cases) {
            assert.throws(() => planCertificateAuthority(args), re, JSON.stringify(args));
            const before = rec.made.length;
            assert.throws(() => new mod.SshCertificateAuthority("bad", args as never), re);
            // Only the component itself registered: no key, no KMS key.
            assert.ok(
                rec.made.slice(before).every((a) => a.type === "pka-fleet:index:SshCertificateAuthority"),
                JSON.stringify(args),
            );
        }
    });

    it("an external CA known only at deployment that cannot be a CA is refused when it resolves", async () => {
        const sk =
            "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIJ0Yp0QFqU/+0Cc1K7dYXW09Fbt7rFoqSUMA2yUXmxLOAAAABHNzaDo= fido";
        const ca = new mod.SshCertificateAuthority("sk", { kind: "user", publicKey: pulumi.output(sk) });
        await assert.rejects(
            (ca.publicKey as unknown as { promise(): Promise<string> }).promise(),
            /SshCertificateAuthority "sk": `publicKey` \(sk-ed25519 256\) cannot be a CA/,
        );
    });
});

describe("KMS-signed certificates (a real key signing as KMS does: DER ECDSA over a digest)", function () {
    let dir: string;
    before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-kms-ca-"))));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    for (const [keySpec, spec] of Object.entries(KMS_CA_SPECS)) {
        it(`${keySpec}: the SPKI public key as an OpenSSH CA, a host certificate from its DER signature, read by ssh-keygen`, function () {
            requireReal(this, { commands: ["ssh-keygen"] });
            const nodeCurve = { nistp256: "prime256v1", nistp384: "secp384r1", nistp521: "secp521r1" }[spec.curve]!;
            const kms = crypto.generateKeyPairSync("ec", { namedCurve: nodeCurve });
            const spki = kms.publicKey.export({ format: "der", type: "spki" });
            const caLine = sshPublicKeyFromSpki(spki, "host-ca");
            const hostKey = generateKey({ type: "ed25519", comment: "host" }).publicKey;
            const prepared = prepareCertificate({
                caPublicKey: caLine,
                publicKey: hostKey,
                kind: "host",
                principals: ["i-0123456789abcdef0", "10.0.1.17"],
                validitySeconds: 30 * 86400,
            });
            // KMS Sign (MessageType DIGEST of H(body), or RAW body) is ECDSA over H(body), returned as DER:
            // node's sign with the same hash is that operation.
            const der = crypto.sign(spec.hash, prepared.body, { key: kms.privateKey, dsaEncoding: "der" });
            const cert = prepared.finish(sshSignatureFromKmsDer(der, keySpec as keyof typeof KMS_CA_SPECS));
            assert.strictEqual(parseCertificateLine(cert.line).signatureValid, true);
            fs.writeFileSync(path.join(dir, "host-cert.pub"), cert.line + "\n");
            const shown = execFileSync("ssh-keygen", ["-L", "-f", path.join(dir, "host-cert.pub")], {
                encoding: "utf8",
            });
            assert.match(shown, /Type: ssh-ed25519-cert-v01@openssh.com host certificate/);
            assert.match(shown, new RegExp(`Signing CA: ECDSA SHA256:\\S+ \\(using ecdsa-sha2-${spec.curve}\\)`));
            assert.match(shown, /Principals: \n\s+i-0123456789abcdef0\n\s+10\.0\.1\.17\n/);
            // A signature by another key does not make a certificate.
            const other = crypto.generateKeyPairSync("ec", { namedCurve: nodeCurve });
            const bad = crypto.sign(spec.hash, prepared.body, { key: other.privateKey, dsaEncoding: "der" });
            assert.throws(
                () => prepared.finish(sshSignatureFromKmsDer(bad, keySpec as keyof typeof KMS_CA_SPECS)),
                /the CA's signature: does not verify/,
            );
        });
    }
});
