/**
 * Each policy called directly, with arguments built the way @pulumi/policy's analyzer builds
 * them: properties deserialized from a protobuf Struct by the SDK's own deserializer (secrets
 * unwrapped, recorded by our secret tracking) and wrapped in its unknown-checking proxy. A
 * happy-path factory per resource, one change per `it`.
 */
import * as assert from "assert";
import * as crypto from "crypto";
import * as sshpk from "sshpk";
import type {
    Policy,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";
import * as fs from "fs";
import * as path from "path";
import { encryptPrivateKey, generateKey, keyRulesFromPolicyConfig } from "../core/keygen";
import { renderDocumentJson } from "../core/document";
import { ssmDocumentInjection } from "../policy/documentInjection";
import { strictPatternProblem } from "../policy/strictPattern";
import { noSudoersAppend, sudoersProblems } from "../policy/sudoers";
import { policyProblems, provisionerLeastPrivilege } from "../policy/iam";
import { sshKeyAlgorithm, sshKeyMaxAge, sshKeyPassphrase } from "../policy/keys";
import { lambdaRuntimeSupported } from "../policy/lambda";
import { findPrivateKeys, installSecretTracking, sshPrivateKeySecret } from "../policy/secrets";
import { UNKNOWN_VALUES } from "../policy/util";
import { validatePackConfig } from "../policy/config";
import { DEFAULT_FORBIDDEN_CHARACTERS } from "../policy/ruleConfig";
import { secret, UNKNOWN, urnOf } from "./support/policyHarness";

installSecretTracking();
const deserialize = require("@pulumi/policy/deserialize");
const proxy = require("@pulumi/policy/proxy");
const { Struct } = require(
    require.resolve("google-protobuf/google/protobuf/struct_pb", {
        paths: [require.resolve("@pulumi/pulumi/package.json")],
    }),
);

/** Properties as a rule receives them from the analyzer server. */
function engineProps(props: Record<string, unknown>): Record<string, unknown> {
    return proxy.unknownCheckingProxy(deserialize.deserializeProperties(Struct.fromJavaScript(props), false));
}

const OPTS = {
    protect: false,
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [] as string[],
};

function resourceArgs(
    type: string,
    name: string,
    props: Record<string, unknown>,
    config: object = {},
): ResourceValidationArgs {
    return {
        type,
        name,
        urn: urnOf(type, name),
        props: engineProps(props),
        opts: OPTS,
        stackTags: new Map(),
        isType: () => false,
        asType: () => undefined,
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string): never => {
            throw new Error(`notApplicable: ${reason}`);
        },
    };
}

/** Runs a resource policy like the server does (every validation function) and returns the messages. */
async function check(
    policy: Policy,
    type: string,
    name: string,
    props: Record<string, unknown>,
    config: object = {},
): Promise<string[]> {
    const p = policy as ResourceValidationPolicy;
    const out: string[] = [];
    const fns = Array.isArray(p.validateResource) ? p.validateResource : [p.validateResource!];
    for (const fn of fns) await fn(resourceArgs(type, name, props, config), (m: string) => out.push(m));
    return out;
}

interface R {
    type: string;
    name: string;
    props: Record<string, unknown>;
    parent?: string;
}

async function checkStack(policy: Policy, resources: R[], config: object = {}): Promise<string[]> {
    const p = policy as StackValidationPolicy;
    const byUrn = new Map<string, any>();
    const list = resources.map((r) => {
        const res: any = {
            type: r.type,
            name: r.name,
            urn: urnOf(r.type, r.name),
            props: engineProps(r.props),
            opts: OPTS,
            dependencies: [],
            propertyDependencies: {},
            isType: () => false,
            asType: () => undefined,
        };
        byUrn.set(res.urn, res);
        return res;
    });
    resources.forEach((r, i) => r.parent && (list[i].parent = byUrn.get(r.parent)));
    const args: StackValidationArgs = {
        resources: list,
        stackTags: new Map(),
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string): never => {
            throw new Error(`notApplicable: ${reason}`);
        },
    };
    const out: string[] = [];
    await p.validateStack(args, (m: string) => out.push(m));
    return out;
}

// ---- key fixtures (real keys, made once)
function opensshLine(publicKey: crypto.KeyObject, comment: string): string {
    const k = sshpk.parseKey(publicKey.export({ type: "spki", format: "pem" }) as string, "pem");
    k.comment = comment;
    return k.toString("ssh");
}
const ED25519 = generateKey({ type: "ed25519", comment: "alice@laptop" });
const RSA4096 = generateKey({ type: "rsa", bits: 4096, comment: "ops@ci" });
const RSA3072 = generateKey({ type: "rsa", bits: 3072, comment: "bob@laptop" });
const RSA2048_LINE = opensshLine(crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey, "old@laptop");
const P224 = crypto.generateKeyPairSync("ec", { namedCurve: "secp224r1" });
const ECDSA256 = generateKey({ type: "ecdsa", curve: "nistp256", comment: "carol@laptop" });
const DSA_LINE =
    "ssh-dss " +
    Buffer.concat([
        ...["ssh-dss", Buffer.alloc(129, 1), Buffer.alloc(21, 1), Buffer.alloc(128, 2), Buffer.alloc(128, 3)].map(
            (p) => {
                const b = Buffer.isBuffer(p) ? p : Buffer.from(p);
                const len = Buffer.alloc(4);
                len.writeUInt32BE(b.length);
                return Buffer.concat([len, b]);
            },
        ),
    ]).toString("base64") +
    " legacy@host";
const PLAIN_PRIVATE = ED25519.privateKey;
const ENCRYPTED_PRIVATE = encryptPrivateKey(ED25519.privateKey, "correct horse battery staple");

// ---- happy-path factories
const goodEc2KeyPair = () => ({ keyName: "ops", publicKey: ED25519.publicKey });
const goodTlsKey = () => ({ algorithm: "ED25519" });
const goodLambda = () => ({
    runtime: "nodejs22.x",
    handler: "index.handler",
    role: "arn:aws:iam::123456789012:role/pka",
});
const goodDocParams = () => ({
    keys: { type: "String", interpolationType: "ENV_VAR", allowedPattern: "^[A-Za-z0-9+/=]+$" },
});
const goodDocObject = (): any => ({
    schemaVersion: "2.2",
    description: "pka setup",
    parameters: goodDocParams(),
    mainSteps: [
        {
            action: "aws:runShellScript",
            name: "setup",
            precondition: { StringEquals: ["platformType", "Linux"] },
            inputs: {
                runCommand: [
                    "set -eu",
                    'printf "%s" "$SSM_keys" | base64 -d > "$tmp/keys"',
                    'echo "svc_user ALL=(ALL) NOPASSWD: ALL" > "$tmp/sudoers"',
                    'visudo -cf "$tmp/sudoers"',
                    'install -m 0440 "$tmp/sudoers" /etc/sudoers.d/90-pka-svc_user',
                ],
            },
        },
    ],
});
const goodDocument = (doc: object = goodDocObject()) => ({
    documentType: "Command",
    documentFormat: "JSON",
    content: JSON.stringify(doc),
});
const goodStatementDocs = () => ({
    Effect: "Allow",
    Action: "ssm:SendCommand",
    Resource: "arn:aws:ssm:eu-west-1:123456789012:document/pka-setup",
});
const goodStatementInstances = () => ({
    Effect: "Allow",
    Action: ["ssm:SendCommand"],
    Resource: "arn:aws:ec2:eu-west-1:123456789012:instance/*",
    Condition: { StringEquals: { "ssm:resourceTag/pka-fleet": "prod" } },
});
const goodPolicy = (statements: object[] = [goodStatementDocs(), goodStatementInstances()]) => ({
    policy: JSON.stringify({ Version: "2012-10-17", Statement: statements }),
});

describe("policy rules (called directly, engine-shaped arguments)", () => {
    describe("ssh-key-algorithm", () => {
        it("allows an ed25519 aws.ec2.KeyPair", async () => {
            assert.deepStrictEqual(
                await check(sshKeyAlgorithm, "aws:ec2/keyPair:KeyPair", "ops", goodEc2KeyPair()),
                [],
            );
        });
        it("allows an RSA-4096 aws.ec2.KeyPair", async () => {
            assert.deepStrictEqual(
                await check(sshKeyAlgorithm, "aws:ec2/keyPair:KeyPair", "ops", {
                    ...goodEc2KeyPair(),
                    publicKey: RSA4096.publicKey,
                }),
                [],
            );
        });
        it("refuses an RSA-2048 aws.ec2.KeyPair, naming the resource and what EC2 accepts", async () => {
            const v = await check(sshKeyAlgorithm, "aws:ec2/keyPair:KeyPair", "legacy", {
                ...goodEc2KeyPair(),
                publicKey: RSA2048_LINE,
            });
            assert.strictEqual(v.length, 1);
            assert.match(v[0], /aws\.ec2\.KeyPair "legacy" publicKey/);
            assert.match(v[0], /rsa-2048/);
            assert.match(v[0], /4096/);
        });
        it("refuses an RSA-3072 aws.ec2.KeyPair (allowed elsewhere, but EC2 imports only 1024/2048/4096)", async () => {
            const v = await check(sshKeyAlgorithm, "aws:ec2/keyPair:KeyPair", "ops", {
                ...goodEc2KeyPair(),
                publicKey: RSA3072.publicKey,
            });
            assert.strictEqual(v.length, 1);
            assert.match(v[0], /EC2 import/);
        });
        it("refuses an ecdsa aws.ec2.KeyPair (EC2 imports rsa and ed25519 only)", async () => {
            const v = await check(sshKeyAlgorithm, "aws:ec2/keyPair:KeyPair", "ops", {
                ...goodEc2KeyPair(),
                publicKey: ECDSA256.publicKey,
            });
            assert.strictEqual(v.length, 1);
            assert.match(v[0], /EC2 can import only rsa and ed25519/);
        });
        it("refuses a DSA aws.ec2.KeyPair", async () => {
            const v = await check(sshKeyAlgorithm, "aws:ec2/keyPair:KeyPair", "ops", {
                ...goodEc2KeyPair(),
                publicKey: DSA_LINE,
            });
            assert.strictEqual(v.length, 1);
            assert.match(v[0], /dsa/);
        });
        it("does not crash on an unknown publicKey during preview", async () => {
            assert.deepStrictEqual(
                await check(sshKeyAlgorithm, "aws:ec2/keyPair:KeyPair", "ops", {
                    ...goodEc2KeyPair(),
                    publicKey: UNKNOWN,
                }),
                [],
            );
        });
        it("allows an ED25519 tls.PrivateKey", async () => {
            assert.deepStrictEqual(
                await check(sshKeyAlgorithm, "tls:index/privateKey:PrivateKey", "k", goodTlsKey()),
                [],
            );
        });
        it("refuses a tls.PrivateKey RSA without rsaBits (the provider's default is 2048)", async () => {
            const v = await check(sshKeyAlgorithm, "tls:index/privateKey:PrivateKey", "k", { algorithm: "RSA" });
            assert.strictEqual(v.length, 1);
            assert.match(v[0], /tls\.PrivateKey "k".*rsa-2048 is too small/);
        });
        it("allows a tls.PrivateKey RSA 4096", async () => {
            assert.deepStrictEqual(
                await check(sshKeyAlgorithm, "tls:index/privateKey:PrivateKey", "k", {
                    algorithm: "RSA",
                    rsaBits: 4096,
                }),
                [],
            );
        });
        it("refuses a tls.PrivateKey ECDSA without ecdsaCurve (the provider's default is P224)", async () => {
            const v = await check(sshKeyAlgorithm, "tls:index/privateKey:PrivateKey", "k", { algorithm: "ECDSA" });
            assert.strictEqual(v.length, 1);
            assert.match(v[0], /nistp224/);
        });
        it("allows a tls.PrivateKey ECDSA P384", async () => {
            assert.deepStrictEqual(
                await check(sshKeyAlgorithm, "tls:index/privateKey:PrivateKey", "k", {
                    algorithm: "ECDSA",
                    ecdsaCurve: "P384",
                }),
                [],
            );
        });
        it("does not judge a tls.PrivateKey whose rsaBits is unknown", async () => {
            assert.deepStrictEqual(
                await check(sshKeyAlgorithm, "tls:index/privateKey:PrivateKey", "k", {
                    algorithm: "RSA",
                    rsaBits: UNKNOWN,
                }),
                [],
            );
        });
        it("judges the keys of an access spec in an SSM parameter, naming the user", async () => {
            const spec = { users: [{ name: "svc_user", sudo: "nopasswd", keys: [ED25519.publicKey, RSA2048_LINE] }] };
            const v = await check(sshKeyAlgorithm, "aws:ssm/parameter:Parameter", "access", {
                type: "String",
                value: secret(JSON.stringify(spec)),
            });
            assert.strictEqual(v.length, 1);
            assert.match(v[0], /users\[0\]\.keys\[1\] \(user svc_user\)/);
        });
        it("judges the user CAs of a certificate-mode access spec by the key rules and as CAs", async () => {
            const spec = {
                users: [{ name: "svc_user", sudo: "none", keys: [ED25519.publicKey] }],
                certificates: { userCaKeys: [ED25519.publicKey, RSA2048_LINE] },
            };
            const v = await check(sshKeyAlgorithm, "aws:ssm/parameter:Parameter", "access", {
                type: "String",
                value: secret(JSON.stringify(spec)),
            });
            assert.strictEqual(v.length, 2, v.join("\n"));
            assert.match(v[0], /value certificates\.userCaKeys\[1\].*rsa-2048 is too small/);
            assert.match(v[1], /value certificates\.userCaKeys\[1\]: an RSA CA of 2048 bits is too weak/);
            const good = { ...spec, certificates: { userCaKeys: [ED25519.publicKey] } };
            assert.deepStrictEqual(
                await check(sshKeyAlgorithm, "aws:ssm/parameter:Parameter", "access", {
                    type: "String",
                    value: secret(JSON.stringify(good)),
                }),
                [],
            );
        });
        it("judges the keys of one chunk of a chunked access spec", async () => {
            const spec = JSON.stringify({ users: [{ name: "svc_user", sudo: "none", keys: [RSA2048_LINE] }] });
            const value = `pka1 ${"a".repeat(64)} 0/2\n${spec.slice(0, spec.length - 3)}`;
            const v = await check(sshKeyAlgorithm, "aws:ssm/parameter:Parameter", "access-0000", {
                type: "String",
                value,
            });
            assert.strictEqual(v.length, 1);
            assert.match(v[0], /rsa-2048/);
        });
        it("judges key lines inside an SSM document", async () => {
            const doc = goodDocObject();
            doc.mainSteps[0].inputs.runCommand.push(`echo "${RSA2048_LINE}" >> /home/svc_user/.ssh/authorized_keys`);
            const v = await check(sshKeyAlgorithm, "aws:ssm/document:Document", "naive", goodDocument(doc));
            assert.strictEqual(v.length, 1);
            assert.match(v[0], /aws\.ssm\.Document "naive"/);
        });
        it("judges key lines in base64 launch template user data", async () => {
            const userData = Buffer.from(`#!/bin/sh\necho '${RSA2048_LINE}' >> /root/.ssh/authorized_keys\n`).toString(
                "base64",
            );
            const v = await check(sshKeyAlgorithm, "aws:ec2/launchTemplate:LaunchTemplate", "lt", { userData });
            assert.strictEqual(v.length, 1);
        });
        it("judges the generator behind SshKeyPair by its inputs", async () => {
            const v = await check(sshKeyAlgorithm, "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey", "k", {
                keyType: "rsa",
                bits: 2048,
                comment: "x",
                ppk: false,
            });
            assert.strictEqual(v.length, 1);
        });
        it("judges SshKeyPair outputs in the stack", async () => {
            const ok = await checkStack(sshKeyAlgorithm, [
                {
                    type: "pka-fleet:index:SshKeyPair",
                    name: "ops",
                    props: { publicKey: ED25519.publicKey, keyType: "ed25519", bits: 256 },
                },
            ]);
            assert.deepStrictEqual(ok, []);
            const bad = await checkStack(sshKeyAlgorithm, [
                {
                    type: "pka-fleet:index:SshKeyPair",
                    name: "ops",
                    props: { publicKey: RSA2048_LINE, keyType: "rsa", bits: 2048 },
                },
            ]);
            assert.strictEqual(bad.length, 1);
        });
        it("tightens with config: minRsaBits 4096 refuses RSA-3072", async () => {
            const ssmValue = JSON.stringify({ users: [{ name: "u", sudo: "none", keys: [RSA3072.publicKey] }] });
            assert.deepStrictEqual(
                await check(sshKeyAlgorithm, "aws:ssm/parameter:Parameter", "a", { type: "String", value: ssmValue }),
                [],
            );
            const v = await check(
                sshKeyAlgorithm,
                "aws:ssm/parameter:Parameter",
                "a",
                { type: "String", value: ssmValue },
                { minRsaBits: 4096 },
            );
            assert.strictEqual(v.length, 1);
        });
        it("tightens with config: allowedTypes [ed25519] refuses ecdsa", async () => {
            assert.deepStrictEqual(
                await check(sshKeyAlgorithm, "tls:index/privateKey:PrivateKey", "k", {
                    algorithm: "ECDSA",
                    ecdsaCurve: "P256",
                }),
                [],
            );
            const v = await check(
                sshKeyAlgorithm,
                "tls:index/privateKey:PrivateKey",
                "k",
                { algorithm: "ECDSA", ecdsaCurve: "P256" },
                { allowedTypes: ["ed25519"] },
            );
            assert.strictEqual(v.length, 1);
        });
        it("refuses an ecdsa P-224 private key found in a property", async () => {
            const pem = P224.privateKey.export({ type: "pkcs8", format: "pem" }) as string;
            const v = await check(sshKeyAlgorithm, "aws:ssm/parameter:Parameter", "p", {
                type: "SecureString",
                value: secret(pem),
            });
            assert.strictEqual(v.length, 1);
            assert.match(v[0], /nistp224/);
        });
    });

    describe("ssh-key-passphrase", () => {
        it("allows a generator with a (secret) passphrase", async () => {
            const v = await check(
                sshKeyPassphrase,
                "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey",
                "fleet-alice-key",
                { keyType: "ed25519", bits: 256, comment: "alice@pka", passphrase: secret("pw"), ppk: false },
            );
            assert.deepStrictEqual(v, []);
        });
        it("refuses a generator without a passphrase for a person", async () => {
            const v = await check(
                sshKeyPassphrase,
                "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey",
                "fleet-alice-key",
                { keyType: "ed25519", bits: 256, comment: "alice@pka", ppk: false },
            );
            assert.strictEqual(v.length, 1);
            assert.match(v[0], /"fleet-alice-key" generates a private key without a passphrase/);
        });
        it("allows a generator without a passphrase for a service account (comment user svc_user)", async () => {
            const v = await check(
                sshKeyPassphrase,
                "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey",
                "fleet-svc_user-key",
                { keyType: "ed25519", bits: 256, comment: "svc_user@pka-prod", ppk: false },
            );
            assert.deepStrictEqual(v, []);
        });
        it("allows a generator without a passphrase declared a service account's (service: true), whatever its name", async () => {
            const props = { keyType: "ed25519", bits: 256, comment: "central@pka-prod", ppk: false };
            assert.strictEqual(
                (
                    await check(
                        sshKeyPassphrase,
                        "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey",
                        "fleet-central-key",
                        props,
                    )
                ).length,
                1,
            );
            assert.deepStrictEqual(
                await check(sshKeyPassphrase, "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey", "fleet-central-key", {
                    ...props,
                    service: true,
                }),
                [],
            );
        });
        it("allows an SshKeyPair's unencrypted private key output when its generator is declared a service account's", async () => {
            const kp = urnOf("pka-fleet:index:SshKeyPair", "fleet-central");
            const r = (service: boolean): R[] => [
                {
                    type: "pka-fleet:index:SshKeyPair",
                    name: "fleet-central",
                    props: { publicKey: ED25519.publicKey, privateKey: secret(PLAIN_PRIVATE) },
                },
                {
                    type: "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey",
                    name: "fleet-central-key",
                    parent: kp,
                    props: {
                        keyType: "ed25519",
                        bits: 256,
                        comment: "central@pka-prod",
                        ppk: false,
                        privateKey: secret(PLAIN_PRIVATE),
                        ...(service ? { service: true } : {}),
                    },
                },
            ];
            assert.strictEqual((await checkStack(sshKeyPassphrase, r(false))).length, 1);
            assert.deepStrictEqual(await checkStack(sshKeyPassphrase, r(true)), []);
        });
        it("refuses a config whose serviceAccountPatterns entry is not a regular expression, naming it", async () => {
            const props = { keyType: "ed25519", bits: 256, comment: "central@pka-prod", ppk: false };
            await assert.rejects(
                check(sshKeyPassphrase, "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey", "fleet-central-key", props, {
                    serviceAccountPatterns: ["(unclosed"],
                }),
                /'ssh-key-passphrase\.serviceAccountPatterns\[0\]' "\(unclosed" is not a valid regular expression/,
            );
        });
        it("treats an unknown passphrase (computed during preview) as given", async () => {
            const v = await check(sshKeyPassphrase, "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey", "k", {
                keyType: "ed25519",
                bits: 256,
                comment: "alice@pka",
                passphrase: UNKNOWN,
                ppk: false,
            });
            assert.deepStrictEqual(v, []);
        });
        it("refuses a tls.PrivateKey for a person (it cannot be encrypted)", async () => {
            const v = await check(sshKeyPassphrase, "tls:index/privateKey:PrivateKey", "admin-key", goodTlsKey());
            assert.strictEqual(v.length, 1);
        });
        it("allows a tls.PrivateKey named as a service account", async () => {
            assert.deepStrictEqual(
                await check(sshKeyPassphrase, "tls:index/privateKey:PrivateKey", "deploy-svc", goodTlsKey()),
                [],
            );
        });
        it("honours configured serviceAccountUsers", async () => {
            assert.deepStrictEqual(
                await check(sshKeyPassphrase, "tls:index/privateKey:PrivateKey", "robot", goodTlsKey(), {
                    serviceAccountUsers: ["robot"],
                }),
                [],
            );
        });
        it("refuses an unencrypted private key in a SecureString parameter, allows an encrypted one", async () => {
            const bad = await check(sshKeyPassphrase, "aws:ssm/parameter:Parameter", "alice", {
                type: "SecureString",
                value: secret(PLAIN_PRIVATE),
            });
            assert.strictEqual(bad.length, 1);
            const good = await check(sshKeyPassphrase, "aws:ssm/parameter:Parameter", "alice", {
                type: "SecureString",
                value: secret(ENCRYPTED_PRIVATE),
            });
            assert.deepStrictEqual(good, []);
        });
        it("judges SshKeyPair privateKey outputs in the stack", async () => {
            const r = (privateKey: unknown): R[] => [
                {
                    type: "pka-fleet:index:SshKeyPair",
                    name: "fleet-alice",
                    props: { publicKey: ED25519.publicKey, privateKey },
                },
            ];
            assert.strictEqual((await checkStack(sshKeyPassphrase, r(secret(PLAIN_PRIVATE)))).length, 1);
            assert.deepStrictEqual(await checkStack(sshKeyPassphrase, r(secret(ENCRYPTED_PRIVATE))), []);
            assert.deepStrictEqual(await checkStack(sshKeyPassphrase, r(UNKNOWN)), []);
        });
        it("is off with requirePassphrase false (as in pka check-key)", async () => {
            assert.deepStrictEqual(
                await check(sshKeyPassphrase, "tls:index/privateKey:PrivateKey", "admin-key", goodTlsKey(), {
                    requirePassphrase: false,
                }),
                [],
            );
        });
    });

    describe("ssh-private-key-secret", () => {
        it("finds PEM, OpenSSH and JSON-escaped private keys but not a bare header in code", () => {
            assert.strictEqual(findPrivateKeys(PLAIN_PRIVATE).length, 1);
            assert.strictEqual(findPrivateKeys(JSON.stringify({ k: PLAIN_PRIVATE })).length, 1);
            assert.strictEqual(
                findPrivateKeys(
                    'if (s.includes("-----BEGIN OPENSSH PRIVATE KEY-----")) return parse(s); // -----END OPENSSH PRIVATE KEY-----',
                ).length,
                0,
            );
        });
        it("allows a secret private key output", async () => {
            assert.deepStrictEqual(
                await checkStack(sshPrivateKeySecret, [
                    { type: "pulumi:pulumi:Stack", name: "s", props: { adminKey: secret(PLAIN_PRIVATE) } },
                ]),
                [],
            );
        });
        it("refuses a plain private key stack output, without echoing the key", async () => {
            const v = await checkStack(sshPrivateKeySecret, [
                { type: "pulumi:pulumi:Stack", name: "s", props: { adminKey: PLAIN_PRIVATE } },
            ]);
            assert.strictEqual(v.length, 1);
            assert.match(v[0], /Stack output `adminKey`/);
            assert.doesNotMatch(v[0], /BEGIN/);
        });
        it("refuses a nested plain private key in a resource input", async () => {
            const v = await check(sshPrivateKeySecret, "aws:s3/bucketObject:BucketObject", "k", {
                content: PLAIN_PRIVATE,
            });
            assert.strictEqual(v.length, 1);
            assert.match(v[0], /aws\.s3\.BucketObject "k" has a private key in the plain input `content`/);
        });
        it("allows a secret nested value (secret inside an object)", async () => {
            assert.deepStrictEqual(
                await check(sshPrivateKeySecret, "x:index:Thing", "k", { nested: { key: secret(PLAIN_PRIVATE) } }),
                [],
            );
        });
        it("refuses a private key in a String SSM parameter even when Pulumi holds it as a secret", async () => {
            const v = await check(sshPrivateKeySecret, "aws:ssm/parameter:Parameter", "k", {
                type: "String",
                value: secret(PLAIN_PRIVATE),
            });
            assert.strictEqual(v.length, 1);
            assert.match(v[0], /SecureString/);
        });
        it("allows a SecureString SSM parameter", async () => {
            assert.deepStrictEqual(
                await check(sshPrivateKeySecret, "aws:ssm/parameter:Parameter", "k", {
                    type: "SecureString",
                    value: secret(PLAIN_PRIVATE),
                }),
                [],
            );
        });
        it("refuses a private key in Lambda environment variables", async () => {
            const v = await check(sshPrivateKeySecret, "aws:lambda/function:Function", "f", {
                ...goodLambda(),
                environment: { variables: { KEY: secret(PLAIN_PRIVATE) } },
            });
            assert.strictEqual(v.length, 1);
        });
        it("refuses a PuTTY private key in a plain output", async () => {
            const ppk =
                "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: x\nPublic-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAIOkv\nAAAA\nPrivate-Lines: 1\nAAAAIEk5Y2h1bmtzb2ZwcmlvdmF0ZQ==\nPrivate-MAC: 0123abcd\n";
            const v = await checkStack(sshPrivateKeySecret, [
                { type: "pulumi:pulumi:Stack", name: "s", props: { ppk } },
            ]);
            assert.strictEqual(v.length, 1);
        });
        it("honours the ignore config", async () => {
            assert.deepStrictEqual(
                await check(
                    sshPrivateKeySecret,
                    "x:index:Thing",
                    "k",
                    { content: PLAIN_PRIVATE },
                    { ignore: ["x:index:Thing:content"] },
                ),
                [],
            );
        });
        it("skips unknown values", async () => {
            assert.deepStrictEqual(
                await checkStack(sshPrivateKeySecret, [
                    { type: "pulumi:pulumi:Stack", name: "s", props: { k: UNKNOWN } },
                ]),
                [],
            );
        });
    });

    describe("ssh-key-max-age (advisory)", () => {
        const pair = (createdAt: string): R[] => [
            { type: "pka-fleet:index:SshKeyPair", name: "ops", props: { publicKey: ED25519.publicKey, createdAt } },
        ];
        it("allows a key younger than maxAgeDays", async () => {
            assert.deepStrictEqual(
                await checkStack(sshKeyMaxAge, pair("2026-06-01T00:00:00Z"), { asOf: "2026-11-21" }),
                [],
            );
        });
        it("reports a key older than 365 days with its age", async () => {
            const v = await checkStack(sshKeyMaxAge, pair("2025-10-01T00:00:00Z"), { asOf: "2026-11-21" });
            assert.strictEqual(v.length, 1);
            assert.match(v[0], /416 days old/);
            assert.match(v[0], /rotationTrigger/);
        });
        it("tightens with config: maxAgeDays 90", async () => {
            assert.strictEqual(
                (await checkStack(sshKeyMaxAge, pair("2026-06-01T00:00:00Z"), { asOf: "2026-11-21", maxAgeDays: 90 }))
                    .length,
                1,
            );
        });
        it("judges an aws.ec2.KeyPair by createTime, but not one that belongs to an SshKeyPair", async () => {
            const ec2 = { type: "aws:ec2/keyPair:KeyPair", name: "k", props: { createTime: "2024-01-01T00:00:00Z" } };
            assert.strictEqual((await checkStack(sshKeyMaxAge, [ec2], { asOf: "2026-11-21" })).length, 1);
            const parent = { type: "pka-fleet:index:SshKeyPair", name: "ops", props: {} };
            assert.deepStrictEqual(
                await checkStack(sshKeyMaxAge, [parent, { ...ec2, parent: urnOf(parent.type, parent.name) }], {
                    asOf: "2026-11-21",
                }),
                [],
            );
        });
        it("skips an unknown createdAt", async () => {
            assert.deepStrictEqual(await checkStack(sshKeyMaxAge, pair(UNKNOWN)), []);
        });
    });

    describe("no-sudoers-append", () => {
        const withCommands = (cmds: string[]) => {
            const doc = goodDocObject();
            doc.mainSteps[0].inputs.runCommand = cmds;
            return goodDocument(doc);
        };
        it("allows the happy document (sudoers.d drop-in checked by visudo)", async () => {
            assert.deepStrictEqual(
                await check(noSudoersAppend, "aws:ssm/document:Document", "setup", goodDocument()),
                [],
            );
        });
        it("allows the document SetupDocument deploys (core/document.ts)", async () => {
            assert.deepStrictEqual(
                await check(noSudoersAppend, "aws:ssm/document:Document", "setup", {
                    documentType: "Command",
                    content: renderDocumentJson(),
                }),
                [],
            );
        });
        for (const line of [
            'echo "svc_user ALL=(ALL) NOPASSWD: ALL" >> /etc/sudoers',
            "echo 'svc_user ALL=(ALL) NOPASSWD:ALL' | sudo tee -a /etc/sudoers",
            'echo "svc_user ALL=(ALL) NOPASSWD:ALL" | tee /etc/sudoers > /dev/null',
            "sed -i 's/^# %wheel/%wheel/' /etc/sudoers",
            'printf "%s\\n" "$line" >>"/etc/sudoers"',
            "cp /tmp/sudoers /etc/sudoers",
        ]) {
            it(`refuses: ${line}`, async () => {
                const v = await check(
                    noSudoersAppend,
                    "aws:ssm/document:Document",
                    "naive",
                    withCommands(["set -eu", line]),
                );
                assert.strictEqual(v.length, 1, v.join("\n"));
                assert.match(v[0], /aws\.ssm\.Document "naive" writes \/etc\/sudoers directly/);
                assert.match(v[0], /visudo -cf/);
            });
        }
        it("does not confuse reading /etc/sudoers or writing /etc/sudoers.bak with writing it", () => {
            assert.deepStrictEqual(
                sudoersProblems("grep -q svc /etc/sudoers && cp /etc/sudoers /etc/sudoers.bak\nvisudo -c"),
                [],
            );
        });
        it("refuses a sudoers.d drop-in written without a visudo check", async () => {
            const v = await check(
                noSudoersAppend,
                "aws:ssm/document:Document",
                "d",
                withCommands(['echo "u ALL=(ALL) ALL" > /etc/sudoers.d/90-u']),
            );
            assert.strictEqual(v.length, 1);
            assert.match(v[0], /visudo/);
        });
        it("checks YAML documents", async () => {
            const yaml =
                "schemaVersion: '2.2'\nmainSteps:\n  - action: aws:runShellScript\n    name: s\n    inputs:\n      runCommand:\n        - echo 'u ALL=(ALL) NOPASSWD: ALL' >> /etc/sudoers\n";
            assert.strictEqual(
                (
                    await check(noSudoersAppend, "aws:ssm/document:Document", "y", {
                        documentFormat: "YAML",
                        content: yaml,
                    })
                ).length,
                1,
            );
        });
        it("checks EC2 instance user data, plain and base64", async () => {
            const script = "#!/bin/bash\necho 'ec2-user ALL=(ALL) NOPASSWD:ALL' >> /etc/sudoers\n";
            assert.strictEqual(
                (await check(noSudoersAppend, "aws:ec2/instance:Instance", "i", { userData: script })).length,
                1,
            );
            assert.strictEqual(
                (
                    await check(noSudoersAppend, "aws:ec2/instance:Instance", "i", {
                        userDataBase64: Buffer.from(script).toString("base64"),
                    })
                ).length,
                1,
            );
            assert.strictEqual(
                (
                    await check(noSudoersAppend, "aws:ec2/launchTemplate:LaunchTemplate", "lt", {
                        userData: Buffer.from(script).toString("base64"),
                    })
                ).length,
                1,
            );
        });
        it("checks association parameters", async () => {
            const v = await check(noSudoersAppend, "aws:ssm/association:Association", "a", {
                name: "AWS-RunShellScript",
                parameters: { commands: "echo 'u ALL=(ALL) ALL' >> /etc/sudoers" },
            });
            assert.strictEqual(v.length, 1);
        });
        it("tightens with config: protectedFiles adds /etc/ssh/sshd_config", async () => {
            const doc = withCommands(['echo "PermitRootLogin yes" >> /etc/ssh/sshd_config']);
            assert.deepStrictEqual(await check(noSudoersAppend, "aws:ssm/document:Document", "d", doc), []);
            assert.strictEqual(
                (
                    await check(noSudoersAppend, "aws:ssm/document:Document", "d", doc, {
                        protectedFiles: ["/etc/sudoers", "/etc/ssh/sshd_config"],
                    })
                ).length,
                1,
            );
        });
        it("does not crash on unknown content or user data", async () => {
            assert.deepStrictEqual(
                await check(noSudoersAppend, "aws:ssm/document:Document", "d", { content: UNKNOWN }),
                [],
            );
            assert.deepStrictEqual(
                await check(noSudoersAppend, "aws:ec2/instance:Instance", "i", { userData: UNKNOWN }),
                [],
            );
        });
    });

    describe("ssm-document-injection", () => {
        const withStep = (cmd: string, params: object = goodDocParams()) => {
            const doc = goodDocObject();
            doc.parameters = params;
            doc.mainSteps[0].inputs.runCommand = [cmd];
            return goodDocument(doc);
        };
        it("allows the happy document ($SSM_keys, no {{ }})", async () => {
            assert.deepStrictEqual(
                await check(ssmDocumentInjection, "aws:ssm/document:Document", "setup", goodDocument()),
                [],
            );
        });
        it("allows the document SetupDocument deploys (core/document.ts)", async () => {
            assert.deepStrictEqual(
                await check(ssmDocumentInjection, "aws:ssm/document:Document", "setup", {
                    documentType: "Command",
                    content: renderDocumentJson(),
                }),
                [],
            );
        });
        it('refuses echo "{{ key }}" >> authorized_keys with an unconstrained parameter', async () => {
            const v = await check(
                ssmDocumentInjection,
                "aws:ssm/document:Document",
                "naive",
                withStep('echo "{{ key }}" >> /home/svc_user/.ssh/authorized_keys', { key: { type: "String" } }),
            );
            assert.strictEqual(v.length, 1);
            assert.match(
                v[0],
                /aws\.ssm\.Document "naive": step "setup" splices \{\{ key \}\} into shell text and it has no allowedPattern/,
            );
            assert.match(v[0], /\$SSM_key/);
        });
        it("refuses {{ key }} even with ENV_VAR when the pattern is missing (the text is still spliced)", async () => {
            const v = await check(
                ssmDocumentInjection,
                "aws:ssm/document:Document",
                "d",
                withStep('echo "{{ key }}"', { key: { type: "String", interpolationType: "ENV_VAR" } }),
            );
            assert.strictEqual(v.length, 1);
            assert.match(v[0], /ENV_VAR" does not help/);
        });
        it("allows {{ key }} with a strict allowedPattern", async () => {
            assert.deepStrictEqual(
                await check(
                    ssmDocumentInjection,
                    "aws:ssm/document:Document",
                    "d",
                    withStep("useradd {{ user }}", {
                        user: { type: "String", allowedPattern: "^[a-z_][a-z0-9_-]{0,31}$" },
                    }),
                ),
                [],
            );
        });
        it("refuses {{ key }} with a loose allowedPattern (.*)", async () => {
            const v = await check(
                ssmDocumentInjection,
                "aws:ssm/document:Document",
                "d",
                withStep("useradd {{ user }}", { user: { type: "String", allowedPattern: "^.*$" } }),
            );
            assert.strictEqual(v.length, 1);
            assert.match(v[0], /matches any character/);
        });
        it("refuses a Parameter Store reference spliced into shell", async () => {
            const v = await check(
                ssmDocumentInjection,
                "aws:ssm/document:Document",
                "d",
                withStep("echo {{ssm:/pka/key}} >> f"),
            );
            assert.strictEqual(v.length, 1);
        });
        it("checks schema 1.2 runtimeConfig documents", async () => {
            const doc = {
                schemaVersion: "1.2",
                parameters: { key: { type: "String" } },
                runtimeConfig: {
                    "aws:runShellScript": {
                        properties: [{ id: "0.aws:runShellScript", runCommand: ["echo {{ key }} >> f"] }],
                    },
                },
            };
            assert.strictEqual(
                (await check(ssmDocumentInjection, "aws:ssm/document:Document", "d", goodDocument(doc))).length,
                1,
            );
        });
        it("refuses an association that runs AWS-RunShellScript with {{ }} in its commands", async () => {
            const v = await check(ssmDocumentInjection, "aws:ssm/association:Association", "a", {
                name: "AWS-RunShellScript",
                parameters: { commands: "echo {{ssm:/pka/key}} >> /root/.ssh/authorized_keys" },
            });
            assert.strictEqual(v.length, 1);
        });
        it("tightens with config: forbidding spaces refuses a pattern that admits them", async () => {
            const doc = withStep('echo "{{ c }}"', { c: { type: "String", allowedPattern: "^[A-Za-z0-9 ]+$" } });
            assert.deepStrictEqual(await check(ssmDocumentInjection, "aws:ssm/document:Document", "d", doc), []);
            assert.strictEqual(
                (
                    await check(ssmDocumentInjection, "aws:ssm/document:Document", "d", doc, {
                        forbiddenCharacters: DEFAULT_FORBIDDEN_CHARACTERS + " ",
                    })
                ).length,
                1,
            );
        });
        it("does not crash on unknown content", async () => {
            assert.deepStrictEqual(
                await check(ssmDocumentInjection, "aws:ssm/document:Document", "d", { content: UNKNOWN }),
                [],
            );
        });
        describe("strict allowedPattern", () => {
            const F = DEFAULT_FORBIDDEN_CHARACTERS;
            for (const p of [
                "^[a-z_][a-z0-9_-]{0,31}$",
                "^[0-9a-f]{64}$",
                "^(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
                "^\\d+$",
                "^(yes|no)$",
            ]) {
                it(`strict: ${p}`, () => assert.strictEqual(strictPatternProblem(p, F), undefined));
            }
            for (const [p, why] of [
                ["[a-z]+", /not anchored/],
                ["^[a-z]+", /not anchored/],
                ["^[a-z]+\\$", /not anchored/],
                ["^a|b$", /top-level \|/],
                ["^.+$", /any character/],
                ["^\\S+$", /any character/],
                ["^[^;]+$", /admits/],
                ["^[\\w\\s]+$", /admits "\\\\n"/],
                ["^[a-z$]+$", /admits "\$"/],
                ["^[ -~]+$", /admits/],
            ] as [string, RegExp][]) {
                it(`not strict: ${p}`, () => assert.match(strictPatternProblem(p, F) ?? "", why));
            }
        });
    });

    describe("provisioner-least-privilege", () => {
        it("allows the scoped two-statement policy", async () => {
            assert.deepStrictEqual(
                await check(provisionerLeastPrivilege, "aws:iam/policy:Policy", "p", goodPolicy()),
                [],
            );
        });
        it('refuses ssm:SendCommand on "*"', async () => {
            const v = await check(
                provisionerLeastPrivilege,
                "aws:iam/rolePolicy:RolePolicy",
                "naive",
                goodPolicy([{ Effect: "Allow", Action: "ssm:SendCommand", Resource: "*" }]),
            );
            assert.strictEqual(v.length, 2, v.join("\n")); // every document, every instance
            assert.match(
                v[0],
                /aws\.iam\.RolePolicy "naive": policy statement 0 allows ssm:SendCommand with every document/,
            );
            assert.match(v[1], /every instance/);
        });
        it("refuses ssm:* on document/*", async () => {
            const v = policyProblems({
                Statement: [{ Effect: "Allow", Action: ["ssm:*"], Resource: ["arn:aws:ssm:*:*:document/*"] }],
            });
            assert.strictEqual(v.length, 1);
        });
        it("refuses ssm:Send* on AWS-RunShellScript", () => {
            const v = policyProblems({
                Statement: {
                    Effect: "Allow",
                    Action: "ssm:Send*",
                    Resource: "arn:aws:ssm:eu-west-1::document/AWS-RunShellScript",
                },
            });
            assert.strictEqual(v.length, 1);
            assert.match(v[0], /AWS-RunShellScript/);
        });
        it("refuses Action * (admin) and NotAction that leaves SendCommand in", () => {
            assert.strictEqual(
                policyProblems({ Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] }).length,
                2,
            );
            assert.strictEqual(
                policyProblems({ Statement: [{ Effect: "Allow", NotAction: ["iam:*"], Resource: "*" }] }).length,
                2,
            );
        });
        it("refuses instances without a tag condition, and an IfExists tag condition", () => {
            const stmt = { ...goodStatementInstances(), Condition: undefined };
            assert.strictEqual(policyProblems({ Statement: [stmt] }).length, 1);
            const ifExists = {
                ...goodStatementInstances(),
                Condition: { StringEqualsIfExists: { "aws:ResourceTag/pka-fleet": "prod" } },
            };
            assert.strictEqual(policyProblems({ Statement: [ifExists] }).length, 1);
        });
        it("ignores Deny statements", () => {
            assert.deepStrictEqual(
                policyProblems({ Statement: [{ Effect: "Deny", Action: "ssm:SendCommand", Resource: "*" }] }),
                [],
            );
        });
        it("checks a role's inline policies (policy given as an object)", async () => {
            const v = await check(provisionerLeastPrivilege, "aws:iam/role:Role", "r", {
                assumeRolePolicy: "{}",
                inlinePolicies: [
                    {
                        name: "send",
                        policy: JSON.stringify({
                            Statement: [{ Effect: "Allow", Action: "ssm:SendCommand", Resource: "*" }],
                        }),
                    },
                ],
            });
            assert.strictEqual(v.length, 2);
            assert.match(v[0], /inline policy "send"/);
        });
        it("refuses attaching AmazonSSMFullAccess", async () => {
            const v = await check(provisionerLeastPrivilege, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a", {
                role: "r",
                policyArn: "arn:aws:iam::aws:policy/AmazonSSMFullAccess",
            });
            assert.strictEqual(v.length, 1);
        });
        it("does not crash on an unknown policy or unknown resource ARNs", async () => {
            assert.deepStrictEqual(
                await check(provisionerLeastPrivilege, "aws:iam/policy:Policy", "p", { policy: UNKNOWN }),
                [],
            );
            const stmt = { ...goodStatementDocs(), Resource: UNKNOWN };
            assert.deepStrictEqual(
                await check(provisionerLeastPrivilege, "aws:iam/policy:Policy", "p", {
                    policy: JSON.stringify({ Statement: [stmt] }),
                }),
                [],
            );
        });
        it("tightens with config: actions adds ssm:StartSession", () => {
            const p = { Statement: [{ Effect: "Allow", Action: "ssm:StartSession", Resource: "*" }] };
            assert.deepStrictEqual(policyProblems(p), []);
            assert.strictEqual(
                policyProblems(p, {
                    actions: ["ssm:SendCommand", "ssm:StartSession"],
                    shellDocuments: [],
                    tagConditionKeys: ["ssm:resourceTag/"],
                    broadManagedPolicies: [],
                }).length,
                2,
            );
        });
    });

    describe("lambda-runtime-supported", () => {
        it("allows nodejs22.x", async () => {
            assert.deepStrictEqual(
                await check(lambdaRuntimeSupported, "aws:lambda/function:Function", "f", goodLambda(), {
                    asOf: "2026-11-21",
                }),
                [],
            );
        });
        for (const runtime of ["python3.8", "nodejs18.x", "nodejs20.x", "go1.x", "java8", "dotnet6", "provided"]) {
            it(`refuses ${runtime}`, async () => {
                const v = await check(lambdaRuntimeSupported, "aws:lambda/function:Function", "naive", {
                    ...goodLambda(),
                    runtime,
                });
                assert.strictEqual(v.length, 1);
                assert.match(
                    v[0],
                    new RegExp(`aws\\.lambda\\.Function "naive" uses the runtime ${runtime.replace(".", "\\.")}`),
                );
                assert.match(v[0], /Move it to /);
            });
        }
        it("allows java8.al2 only before its deprecation date (calendar)", async () => {
            const cfg = { deprecatedRuntimes: [] };
            assert.deepStrictEqual(
                await check(
                    lambdaRuntimeSupported,
                    "aws:lambda/function:Function",
                    "f",
                    { ...goodLambda(), runtime: "java8.al2" },
                    { ...cfg, asOf: "2026-01-01" },
                ),
                [],
            );
            assert.strictEqual(
                (
                    await check(
                        lambdaRuntimeSupported,
                        "aws:lambda/function:Function",
                        "f",
                        { ...goodLambda(), runtime: "java8.al2" },
                        { ...cfg, asOf: "2026-07-01" },
                    )
                ).length,
                1,
            );
        });
        it("refuses nodejs22.x once its date has passed", async () => {
            assert.strictEqual(
                (
                    await check(lambdaRuntimeSupported, "aws:lambda/function:Function", "f", goodLambda(), {
                        asOf: "2027-05-01",
                    })
                ).length,
                1,
            );
        });
        it("tightens with config: deprecatedRuntimes adds python3.11", async () => {
            const props = { ...goodLambda(), runtime: "python3.11" };
            assert.deepStrictEqual(
                await check(lambdaRuntimeSupported, "aws:lambda/function:Function", "f", props, { asOf: "2026-11-21" }),
                [],
            );
            assert.strictEqual(
                (
                    await check(lambdaRuntimeSupported, "aws:lambda/function:Function", "f", props, {
                        asOf: "2026-11-21",
                        deprecatedRuntimes: ["python3.11"],
                    })
                ).length,
                1,
            );
        });
        it("skips container-image functions and unknown runtimes", async () => {
            assert.deepStrictEqual(
                await check(lambdaRuntimeSupported, "aws:lambda/function:Function", "f", {
                    packageType: "Image",
                    imageUri: "x",
                }),
                [],
            );
            assert.deepStrictEqual(
                await check(lambdaRuntimeSupported, "aws:lambda/function:Function", "f", { runtime: UNKNOWN }),
                [],
            );
        });
    });

    describe("the key rules' configSchema and keyRulesFromPolicyConfig agree", () => {
        // The schema keywords the two key-rule schemas use (type, minimum, maximum, enum, items): what
        // the Pulumi CLI checks --policy-pack-config with before the pack runs.
        const schemaAccepts = (s: any, v: unknown): boolean => {
            if (s.type === "integer" && !(typeof v === "number" && Number.isInteger(v))) return false;
            if (s.type === "boolean" && typeof v !== "boolean") return false;
            if (s.type === "string" && typeof v !== "string") return false;
            if (s.type === "array" && !(Array.isArray(v) && v.every((x) => schemaAccepts(s.items ?? {}, x))))
                return false;
            if (s.minimum !== undefined && typeof v === "number" && v < s.minimum) return false;
            if (s.maximum !== undefined && typeof v === "number" && v > s.maximum) return false;
            if (s.enum !== undefined && !s.enum.includes(v)) return false;
            return true;
        };
        const codeAccepts = (section: string, field: string, v: unknown): boolean => {
            try {
                keyRulesFromPolicyConfig({ [section]: { [field]: v } });
                return true;
            } catch {
                return false;
            }
        };
        const cases: [string, string, unknown[]][] = [
            [
                "ssh-key-algorithm",
                "minRsaBits",
                [512, 1023, 1024, 2047, 2048, 2049, 3072, 4096, 8192, 16384, 16385, 32768, 3072.5, "3072"],
            ],
            ["ssh-key-algorithm", "ec2ImportRsaBits", [512, 1024, 2047, 2048, 3072, 4096, 8192, "4096"]],
            [
                "ssh-key-algorithm",
                "allowedTypes",
                [
                    ["ed25519"],
                    ["ecdsa", "rsa"],
                    ["ed25519", "ecdsa", "rsa"],
                    ["dsa"],
                    ["rsa1"],
                    ["ed448"],
                    ["ed25519", "dsa"],
                    "rsa",
                    [1],
                ],
            ],
            [
                "ssh-key-algorithm",
                "allowedCurves",
                [["nistp256"], ["nistp384", "nistp521"], ["nistp224"], ["secp256k1"], "nistp256"],
            ],
            ["ssh-key-passphrase", "requirePassphrase", [true, false, "true", 1]],
        ];
        const policyOf: Record<string, Policy> = {
            "ssh-key-algorithm": sshKeyAlgorithm,
            "ssh-key-passphrase": sshKeyPassphrase,
        };
        for (const [section, field, values] of cases) {
            it(`${section}.${field}: the schema accepts exactly what the pack's key rules accept`, () => {
                const prop = (policyOf[section] as any).configSchema.properties[field];
                assert.ok(prop, `${section}.${field} is in the configSchema`);
                for (const v of values) {
                    assert.strictEqual(
                        schemaAccepts(prop, v),
                        codeAccepts(section, field, v),
                        `${section}.${field} = ${JSON.stringify(v)}: schema ${schemaAccepts(prop, v)}, keyRulesFromPolicyConfig ${codeAccepts(section, field, v)}`,
                    );
                }
                assert.ok(
                    codeAccepts(section, field, prop.default),
                    `the schema's default ${JSON.stringify(prop.default)} is accepted`,
                );
            });
        }
    });

    describe("the README's example config", () => {
        const md = fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8");
        const example = JSON.parse(/### Example config\s+```json\n([\s\S]*?)```/.exec(md)![1]);
        const policies = [
            sshKeyAlgorithm,
            sshKeyPassphrase,
            sshPrivateKeySecret,
            sshKeyMaxAge,
            noSudoersAppend,
            ssmDocumentInjection,
            provisionerLeastPrivilege,
            lambdaRuntimeSupported,
        ];
        it("names only rules of the pack and properties of their configSchema", () => {
            for (const [rule, c] of Object.entries(example)) {
                const policy = policies.find((p) => p.name === rule);
                assert.ok(policy, `no rule ${rule}`);
                if (typeof c === "string") continue;
                for (const k of Object.keys(c as object)) {
                    assert.ok(
                        k === "enforcementLevel" || k in policy!.configSchema!.properties,
                        `${rule}.${k} is not in its configSchema`,
                    );
                }
            }
        });
        it("is read the same way by pka check-key", () => {
            assert.deepStrictEqual(keyRulesFromPolicyConfig(example), {
                allowedTypes: ["ed25519", "rsa"],
                minRsaBits: 4096,
            });
        });
        it("passes the pack's config validator (the one Configure and pka check-key --config use)", () => {
            assert.doesNotThrow(() => validatePackConfig(example));
        });
    });

    describe("engine value shapes", () => {
        it("our unknown markers are @pulumi/policy's", () => {
            for (const k of Object.keys(proxy).filter((k) => /^unknown\w+Value$/.test(k)))
                assert.ok(UNKNOWN_VALUES.has(proxy[k]), k);
            assert.strictEqual(UNKNOWN_VALUES.size, 7);
        });
        it("reading an unknown through the SDK's proxy throws, so rules must read around it", () => {
            const p = engineProps({ a: UNKNOWN });
            assert.throws(() => p.a, /can't be known during preview/);
        });
        it("no rule throws on a resource whose every property is unknown", async () => {
            const types = [
                "aws:ec2/keyPair:KeyPair",
                "tls:index/privateKey:PrivateKey",
                "aws:ssm/parameter:Parameter",
                "aws:ssm/document:Document",
                "aws:ssm/association:Association",
                "aws:ec2/instance:Instance",
                "aws:ec2/launchTemplate:LaunchTemplate",
                "aws:iam/policy:Policy",
                "aws:iam/role:Role",
                "aws:lambda/function:Function",
                "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey",
                "pka-fleet:index:SshKeyPair",
            ];
            const props = Object.fromEntries(
                [
                    "publicKey",
                    "algorithm",
                    "rsaBits",
                    "value",
                    "type",
                    "content",
                    "documentFormat",
                    "parameters",
                    "name",
                    "userData",
                    "userDataBase64",
                    "policy",
                    "inlinePolicies",
                    "runtime",
                    "keyType",
                    "bits",
                    "comment",
                    "passphrase",
                    "generate",
                ].map((k) => [k, UNKNOWN]),
            );
            for (const policy of [
                sshKeyAlgorithm,
                sshKeyPassphrase,
                sshPrivateKeySecret,
                noSudoersAppend,
                ssmDocumentInjection,
                provisionerLeastPrivilege,
                lambdaRuntimeSupported,
            ]) {
                for (const t of types) {
                    // A tls.PrivateKey is never encrypted, whatever is unknown about it.
                    const expected = policy === sshKeyPassphrase && t === "tls:index/privateKey:PrivateKey" ? 1 : 0;
                    assert.strictEqual((await check(policy, t, "u", props)).length, expected, `${policy.name} on ${t}`);
                }
            }
            for (const policy of [sshKeyAlgorithm, sshKeyPassphrase, sshPrivateKeySecret, sshKeyMaxAge]) {
                assert.deepStrictEqual(
                    await checkStack(
                        policy,
                        types.map((t) => ({ type: t, name: "u", props })),
                    ),
                    [],
                    policy.name,
                );
            }
        });
    });
});
