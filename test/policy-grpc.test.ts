/**
 * The policy pack end to end: policy/ started the way `pulumi preview --policy-pack ./policy`
 * starts it (run-policy-pack from the pack folder, ts-node with type checking), driven over its
 * real gRPC Analyzer protocol with engine-encoded properties (secrets, unknowns).
 *
 * One server process for the whole file: starting it costs most of the time (ts-node type
 * checks the pack), and `Configure` replaces the whole policy config, so each case configures
 * the server itself.
 */
import * as assert from "assert";
import * as crypto from "crypto";
import * as sshpk from "sshpk";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { encryptPrivateKey, generateKey } from "../core/keygen";
import { renderDocumentJson } from "../core/document";
import {
    AnalyzerResourceSpec,
    Diagnostic,
    PolicyServer,
    secret,
    UNKNOWN,
    urnOf,
    verdict,
} from "./support/policyHarness";

const RULES = [
    ["ssh-key-algorithm", "mandatory"],
    ["ssh-key-passphrase", "mandatory"],
    ["ssh-private-key-secret", "mandatory"],
    ["ssh-key-max-age", "advisory"],
    ["no-sudoers-append", "mandatory"],
    ["ssm-document-injection", "mandatory"],
    ["provisioner-least-privilege", "mandatory"],
    ["lambda-runtime-supported", "mandatory"],
    ["ssh-certificate-validity", "mandatory"],
] as const;

function opensshLine(publicKey: crypto.KeyObject, comment: string): string {
    const k = sshpk.parseKey(publicKey.export({ type: "spki", format: "pem" }) as string, "pem");
    k.comment = comment;
    return k.toString("ssh");
}

const ED25519 = generateKey({ type: "ed25519", comment: "svc_user@central" });
const RSA3072 = generateKey({ type: "rsa", bits: 3072, comment: "bob@laptop" });
const RSA2048_LINE = opensshLine(crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey, "admin@laptop");
const PLAIN_PRIVATE = generateKey({ type: "ed25519", comment: "admin@laptop" }).privateKey;
const ENCRYPTED_PRIVATE = encryptPrivateKey(
    generateKey({ type: "ed25519", comment: "alice@laptop" }).privateKey,
    "a long passphrase",
);
const STACK = "pulumi:pulumi:Stack";
const stackUrn = urnOf(STACK, "pka-fleet-test");

/** The naive design of ARCHITECTURE.md's opening paragraph, as the resources a stack would register. */
function naiveDesign(): AnalyzerResourceSpec[] {
    const document = {
        schemaVersion: "2.2",
        description: "Copy of AWS-RunShellScript's approach: add the user, NOPASSWD sudo, paste the key.",
        parameters: { user: { type: "String" }, key: { type: "String" } },
        mainSteps: [
            {
                action: "aws:runShellScript",
                name: "addKey",
                inputs: {
                    runCommand: [
                        "id {{ user }} || useradd -m {{ user }}",
                        'echo "{{ user }} ALL=(ALL) NOPASSWD: ALL" >> /etc/sudoers',
                        "mkdir -p /home/{{ user }}/.ssh && chmod 700 /home/{{ user }}/.ssh",
                        'echo "{{ key }}" >> /home/{{ user }}/.ssh/authorized_keys',
                        "chmod 600 /home/{{ user }}/.ssh/authorized_keys && chown -R {{ user }} /home/{{ user }}/.ssh",
                    ],
                },
            },
        ],
    };
    const sendEverywhere = {
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Action: ["ssm:SendCommand", "ec2:DescribeInstances"], Resource: "*" }],
    };
    return [
        {
            type: STACK,
            name: "pka-fleet-test",
            urn: stackUrn,
            inputs: {},
            properties: { adminPrivateKey: PLAIN_PRIVATE },
        },
        {
            type: "aws:ssm/document:Document",
            name: "naive-add-key",
            parent: stackUrn,
            properties: { documentType: "Command", documentFormat: "JSON", content: JSON.stringify(document) },
        },
        {
            type: "aws:lambda/function:Function",
            name: "naive-provisioner",
            parent: stackUrn,
            properties: { runtime: "python3.8", handler: "index.handler", role: UNKNOWN },
        },
        {
            type: "aws:iam/rolePolicy:RolePolicy",
            name: "naive-provisioner-policy",
            parent: stackUrn,
            properties: { role: UNKNOWN, policy: JSON.stringify(sendEverywhere) },
        },
        {
            type: "aws:ec2/keyPair:KeyPair",
            name: "naive-key",
            parent: stackUrn,
            inputs: { keyName: "admin", publicKey: RSA2048_LINE },
            properties: { keyName: "admin", publicKey: RSA2048_LINE, createTime: "2023-01-15T09:00:00Z" },
        },
        {
            type: "tls:index/privateKey:PrivateKey",
            name: "naive-admin-key",
            parent: stackUrn,
            inputs: { algorithm: "RSA" },
            properties: {
                algorithm: "RSA",
                rsaBits: 2048,
                privateKeyPem: secret("(secret)"),
                publicKeyOpenssh: RSA2048_LINE,
            },
        },
    ];
}

/** The same concerns done right: what pka-fleet deploys, and other stacks' resources that pass. */
function cleanDesign(): AnalyzerResourceSpec[] {
    const scoped = {
        Version: "2012-10-17",
        Statement: [
            {
                Effect: "Allow",
                Action: "ssm:SendCommand",
                Resource: "arn:aws:ssm:eu-west-1:123456789012:document/pka-setup",
            },
            {
                Effect: "Allow",
                Action: "ssm:SendCommand",
                Resource: "arn:aws:ec2:eu-west-1:123456789012:instance/*",
                Condition: { StringEquals: { "ssm:resourceTag/pka-fleet": "prod" } },
            },
        ],
    };
    const spec = { users: [{ name: "svc_user", sudo: "nopasswd", keys: [ED25519.publicKey, RSA3072.publicKey] }] };
    const kp = urnOf("pka-fleet:index:SshKeyPair", "fleet-alice");
    return [
        {
            type: STACK,
            name: "pka-fleet-test",
            urn: stackUrn,
            inputs: {},
            properties: { alicePrivateKey: secret(ENCRYPTED_PRIVATE), publicKey: ED25519.publicKey },
        },
        {
            type: "aws:ssm/document:Document",
            name: "pka-setup",
            parent: stackUrn,
            properties: { documentType: "Command", documentFormat: "JSON", content: renderDocumentJson() },
        },
        {
            type: "aws:lambda/function:Function",
            name: "pka-provisioner",
            parent: stackUrn,
            properties: { runtime: "nodejs22.x", handler: "provisioner.handler", role: UNKNOWN },
        },
        {
            type: "aws:iam/rolePolicy:RolePolicy",
            name: "pka-provisioner-send",
            parent: stackUrn,
            properties: { role: UNKNOWN, policy: JSON.stringify(scoped) },
        },
        {
            type: "aws:ec2/keyPair:KeyPair",
            name: "ops-key",
            parent: stackUrn,
            properties: { keyName: "ops", publicKey: ED25519.publicKey },
        },
        {
            type: "tls:index/privateKey:PrivateKey",
            name: "ci-deploy",
            parent: stackUrn,
            inputs: { algorithm: "ECDSA", ecdsaCurve: "P256" },
            properties: { algorithm: "ECDSA", ecdsaCurve: "P256", privateKeyPem: secret(PLAIN_PRIVATE) },
        },
        {
            type: "aws:ssm/parameter:Parameter",
            name: "pka-access-0000",
            parent: stackUrn,
            properties: { type: "String", value: secret(JSON.stringify(spec)) },
        },
        {
            type: "pka-fleet:index:SshKeyPair",
            name: "fleet-alice",
            urn: kp,
            parent: stackUrn,
            inputs: {},
            properties: {
                publicKey: ED25519.publicKey,
                keyType: "ed25519",
                bits: 256,
                createdAt: new Date().toISOString(),
                privateKey: secret(ENCRYPTED_PRIVATE),
            },
        },
        {
            type: "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey",
            name: "fleet-alice-key",
            parent: kp,
            inputs: {
                keyType: "ed25519",
                bits: 256,
                comment: "alice@pka-prod",
                passphrase: secret("a long passphrase"),
                ppk: false,
            },
            properties: {
                keyType: "ed25519",
                bits: 256,
                comment: "alice@pka-prod",
                passphrase: secret("a long passphrase"),
                ppk: false,
                publicKey: ED25519.publicKey,
                privateKey: secret(ENCRYPTED_PRIVATE),
                createdAt: new Date().toISOString(),
            },
            additionalSecretOutputs: ["privateKey", "privateKeyPpk", "passphrase"],
        },
    ];
}

function table(diags: Diagnostic[]): string {
    const v = verdict(diags);
    const rows = RULES.map(
        ([rule]) =>
            `| ${rule.padEnd(28)} | ${(v[rule]?.level ?? "-").padEnd(9)} | ${String(v[rule]?.count ?? 0).padStart(10)} |`,
    );
    return [
        "| rule                         | level     | violations |",
        "| ---------------------------- | --------- | ---------: |",
        ...rows,
    ].join("\n");
}

function byRule(diags: Diagnostic[], rule: string): Diagnostic[] {
    return diags.filter((d) => d.policyName === rule);
}

describe("policy pack over its gRPC Analyzer protocol", function () {
    this.timeout(180_000);
    let server: PolicyServer;

    before(async function () {
        server = await PolicyServer.start();
    });
    after(async () => {
        await server?.stop();
    });

    it("describes itself: name, version from policy/package.json, every rule at its level, config schemas", async () => {
        const info = await server.getAnalyzerInfo();
        assert.strictEqual(info.name, "pka-fleet");
        assert.strictEqual(info.version, require("../policy/package.json").version);
        assert.strictEqual(info.supportsConfig, true);
        assert.deepStrictEqual(
            info.policies.map((p) => [p.name, p.enforcementLevel]),
            RULES.map(([n, l]) => [n, l]),
        );
        for (const p of info.policies)
            assert.ok(p.configSchema && Object.keys(p.configSchema).length > 0, `${p.name} has a configSchema`);
    });

    describe("the naive design", () => {
        let diags: Diagnostic[];
        before(async () => {
            await server.configure({});
            diags = await server.analyzeAll(naiveDesign());
            console.log(`\n      naive design verdict (default config):\n${table(diags).replace(/^/gm, "      ")}\n`);
        });

        it("appending to /etc/sudoers: no-sudoers-append, mandatory", () => {
            const d = byRule(diags, "no-sudoers-append");
            assert.strictEqual(d.length, 1);
            assert.strictEqual(d[0].enforcementLevel, "mandatory");
            assert.match(d[0].message, /aws\.ssm\.Document "naive-add-key" writes \/etc\/sudoers directly/);
        });
        it("the key and user spliced into echo: ssm-document-injection, mandatory, once per parameter", () => {
            const d = byRule(diags, "ssm-document-injection");
            assert.deepStrictEqual(
                d.map((x) => x.enforcementLevel),
                ["mandatory", "mandatory"],
            );
            assert.ok(d.some((x) => /\{\{ key \}\}/.test(x.message)));
            assert.ok(d.some((x) => /\{\{ user \}\}/.test(x.message)));
        });
        it("python3.8: lambda-runtime-supported, mandatory", () => {
            const d = byRule(diags, "lambda-runtime-supported");
            assert.strictEqual(d.length, 1);
            assert.strictEqual(d[0].enforcementLevel, "mandatory");
            assert.match(d[0].message, /"naive-provisioner" uses the runtime python3\.8/);
        });
        it('ssm:SendCommand on "*": provisioner-least-privilege, mandatory (any document, any instance)', () => {
            const d = byRule(diags, "provisioner-least-privilege");
            assert.strictEqual(d.length, 2);
            assert.ok(
                d.every((x) => x.enforcementLevel === "mandatory" && /"naive-provisioner-policy"/.test(x.message)),
            );
        });
        it("RSA-2048 aws.ec2.KeyPair and tls.PrivateKey RSA 2048: ssh-key-algorithm, mandatory", () => {
            const d = byRule(diags, "ssh-key-algorithm");
            assert.strictEqual(d.length, 2);
            assert.ok(d.some((x) => /aws\.ec2\.KeyPair "naive-key"/.test(x.message)));
            assert.ok(d.some((x) => /tls\.PrivateKey "naive-admin-key"/.test(x.message)));
            assert.ok(d.every((x) => x.enforcementLevel === "mandatory"));
        });
        it("an admin's unencryptable tls.PrivateKey: ssh-key-passphrase, mandatory", () => {
            const d = byRule(diags, "ssh-key-passphrase");
            assert.strictEqual(d.length, 1);
            assert.match(d[0].message, /"naive-admin-key"/);
        });
        it("the plain private key output: ssh-private-key-secret, mandatory (the secret tls output is not reported)", () => {
            const d = byRule(diags, "ssh-private-key-secret");
            assert.strictEqual(d.length, 1);
            assert.strictEqual(d[0].enforcementLevel, "mandatory");
            assert.match(d[0].message, /Stack output `adminPrivateKey`/);
            assert.strictEqual(d[0].urn, stackUrn);
        });
        it("a key from 2023: ssh-key-max-age, advisory", () => {
            const d = byRule(diags, "ssh-key-max-age");
            assert.strictEqual(d.length, 1);
            assert.strictEqual(d[0].enforcementLevel, "advisory");
        });
        it("no diagnostic leaks key material", () => {
            for (const d of diags)
                assert.doesNotMatch(d.message, /BEGIN OPENSSH PRIVATE KEY|AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{20}/);
        });
    });

    describe("a clean set of resources (default config)", () => {
        it("has no violation at all, including with secret outputs over the wire", async () => {
            await server.configure({});
            const diags = await server.analyzeAll(cleanDesign());
            assert.deepStrictEqual(
                diags.map((d) => `${d.policyName}: ${d.message}`),
                [],
            );
        });
    });

    describe("during preview (unknown values everywhere)", () => {
        it("no rule fails or gives up with a can't-run-during-preview diagnostic", async () => {
            await server.configure({});
            const unknownish = naiveDesign().map((r) => ({
                ...r,
                inputs: undefined,
                properties: Object.fromEntries(Object.keys(r.properties).map((k) => [k, UNKNOWN])),
            }));
            const diags = await server.analyzeAll(unknownish);
            assert.deepStrictEqual(
                diags.filter((d) => /can't run/.test(d.message)),
                [],
            );
            // tls.PrivateKey is never encrypted, whatever is still unknown about it.
            assert.deepStrictEqual(
                diags.map((d) => d.policyName),
                ["ssh-key-passphrase"],
            );
        });
    });

    describe("a policy config changes the verdict", () => {
        const tightenable = (): AnalyzerResourceSpec[] => [
            {
                type: "aws:ssm/parameter:Parameter",
                name: "pka-access-0000",
                properties: {
                    type: "String",
                    value: secret(
                        JSON.stringify({ users: [{ name: "bob", sudo: "none", keys: [RSA3072.publicKey] }] }),
                    ),
                },
            },
            {
                type: "tls:index/privateKey:PrivateKey",
                name: "ci-deploy",
                properties: { algorithm: "ECDSA", ecdsaCurve: "P256" },
            },
        ];
        it("default: RSA-3072 and ecdsa P-256 pass", async () => {
            await server.configure({});
            assert.deepStrictEqual(await server.analyzeAll(tightenable()), []);
        });
        it("minRsaBits 4096 refuses the RSA-3072 key", async () => {
            await server.configure({ "ssh-key-algorithm": { minRsaBits: 4096 } });
            const d = await server.analyzeAll(tightenable());
            assert.deepStrictEqual(
                d.map((x) => [x.policyName, x.enforcementLevel]),
                [["ssh-key-algorithm", "mandatory"]],
            );
            assert.match(d[0].message, /users\[0\]\.keys\[0\] \(user bob\)/);
        });
        it("allowedTypes [ed25519] refuses both", async () => {
            await server.configure({ "ssh-key-algorithm": { allowedTypes: ["ed25519"] } });
            assert.strictEqual(byRule(await server.analyzeAll(tightenable()), "ssh-key-algorithm").length, 2);
        });
        it("levels: lambda-runtime-supported advisory, no-sudoers-append disabled", async () => {
            await server.configure({
                "lambda-runtime-supported": "advisory",
                "no-sudoers-append": { enforcementLevel: "disabled" },
            });
            const d = await server.analyzeAll(naiveDesign());
            assert.deepStrictEqual(
                byRule(d, "lambda-runtime-supported").map((x) => x.enforcementLevel),
                ["advisory"],
            );
            assert.deepStrictEqual(byRule(d, "no-sudoers-append"), []);
        });
        it("ssh-key-max-age maxAgeDays 30 reports a 90-day-old SshKeyPair", async () => {
            const kp = (days: number): AnalyzerResourceSpec[] => [
                {
                    type: "pka-fleet:index:SshKeyPair",
                    name: "fleet-svc_user",
                    inputs: {},
                    properties: {
                        publicKey: ED25519.publicKey,
                        createdAt: new Date(Date.now() - days * 86_400_000).toISOString(),
                    },
                },
            ];
            await server.configure({});
            assert.deepStrictEqual(await server.analyzeAll(kp(90)), []);
            await server.configure({ "ssh-key-max-age": { maxAgeDays: 30 } });
            assert.deepStrictEqual(
                (await server.analyzeAll(kp(90))).map((x) => [x.policyName, x.enforcementLevel]),
                [["ssh-key-max-age", "advisory"]],
            );
        });
    });

    describe("certificates: ssh-certificate-validity (certificates made by the real ssh-keygen -s)", () => {
        let dir: string;
        /** A certificate line from ssh-keygen -s with `args` (validity, principals, -h). */
        const sign = (name: string, args: string[]): string => {
            execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path.join(dir, name)]);
            execFileSync("ssh-keygen", [
                "-q",
                "-s",
                path.join(dir, "ca"),
                "-I",
                name,
                ...args,
                path.join(dir, `${name}.pub`),
            ]);
            return fs.readFileSync(path.join(dir, `${name}-cert.pub`), "utf8").trim();
        };
        const param = (name: string, value: string): AnalyzerResourceSpec => ({
            type: "aws:ssm/parameter:Parameter",
            name,
            properties: { name: `/central/${name}`, type: "String", value },
        });
        const ca = (
            name: string,
            kind: string,
            seconds: number,
            publicKey = ED25519.publicKey,
        ): AnalyzerResourceSpec => ({
            type: "pka-fleet:index:SshCertificateAuthority",
            name,
            properties: { kind, maxValiditySeconds: seconds, maxValidity: `${seconds}s`, publicKey },
            inputs: {},
        });
        before(() => {
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-policy-certs-"));
            execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "ca", "-f", path.join(dir, "ca")]);
        });
        after(() => fs.rmSync(dir, { recursive: true, force: true }));

        it("a 1 h user certificate and a 30 d host certificate pass; 7 d, forever, no principals and root are violations", async () => {
            await server.configure({});
            const ok = [
                param("user-1h", sign("user1h", ["-n", "svc_user", "-V", "+1h"])),
                param("host-30d", sign("host30d", ["-h", "-n", "i-0abc", "-V", "+30d"])),
            ];
            assert.deepStrictEqual(await server.analyzeAll(ok), []);
            const bad = [
                param("user-7d", sign("user7d", ["-n", "svc_user", "-V", "+7d"])),
                param("forever", sign("forever", ["-n", "svc_user"])),
                param("anyone", sign("anyone", ["-V", "+1h"])),
                param("root", sign("rootcert", ["-n", "root", "-V", "+1h"])),
            ];
            const d = await server.analyzeAll(bad);
            assert.ok(
                d.every((x) => x.policyName === "ssh-certificate-validity" && x.enforcementLevel === "mandatory"),
                JSON.stringify(d),
            );
            const text = d.map((x) => x.message).join("\n");
            assert.match(
                text,
                /"user-7d" value: a user certificate \(key id "user7d", serial 0\) is valid for 7d, over the maximum of 24h \(maxUserValidity\)/,
            );
            assert.match(text, /"forever" value: a user certificate .* is valid forever/);
            assert.match(text, /"anyone" value: .* has no principals: OpenSSH accepts it for every user/);
            assert.match(text, /"root" value: .* names the forbidden principal\(s\) root/);
            assert.strictEqual(d.length, 4, text);
            // The bound is configurable: 8 days admits the 7-day certificate.
            await server.configure({ "ssh-certificate-validity": { maxUserValidity: "8d" } });
            assert.deepStrictEqual(await server.analyzeAll([bad[0]]), []);
            await assert.rejects(
                server.configure({ "ssh-certificate-validity": { maxUserValidity: "1 year" } }),
                /maxUserValidity/,
            );
        });

        it("what an SshCertificateAuthority is meant to sign, and an access spec's principals", async () => {
            await server.configure({});
            const d = await server.analyzeAll([ca("user-ca", "user", 7 * 86400), ca("host-ca", "host", 30 * 86400)]);
            assert.deepStrictEqual(
                d.map((x) => [
                    x.policyName,
                    x.urn.split("::").pop(),
                    /meant to sign certificates valid for 7d, over the maximum of 24h/.test(x.message),
                ]),
                [["ssh-certificate-validity", "user-ca", true]],
            );
            const spec = JSON.stringify({
                users: [{ name: "ops", sudo: "none", keys: [], principals: ["ops", "root"] }],
            });
            const s = await server.analyzeAll([param("access", spec)]);
            assert.strictEqual(s.length, 1, JSON.stringify(s));
            assert.match(
                s[0].message,
                /value users\[0\]\.principals \(user ops\) names the forbidden principal\(s\) root/,
            );
        });

        it("ssh-key-algorithm judges an SshCertificateAuthority's key as a CA", async () => {
            await server.configure({});
            const weak = opensshLine(crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey, "weak-ca");
            const d = await server.analyzeAll([ca("weak", "user", 3600, weak)]);
            assert.ok(
                d.some(
                    (x) => x.policyName === "ssh-key-algorithm" && /an RSA CA of 2048 bits is too weak/.test(x.message),
                ),
                JSON.stringify(d),
            );
        });
    });
});
