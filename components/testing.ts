/**
 * `pka-fleet/testing`: unit-test a stack that uses pka-fleet under `pulumi.runtime.setMocks`.
 *
 * Plain mocks answer every resource with its own inputs, so the two resources whose outputs only a
 * real backend makes come back empty: `SshKeyPair`'s generated key (a dynamic resource: no
 * `publicKey`) and its `onHost` key (a `command:remote:Command`: no `stdout`). `PkaMocks` answers
 * those the way the real backends would, and everything else the way your own mocks do:
 *
 * ```ts
 * import * as pulumi from "@pulumi/pulumi";
 * import { PkaMocks } from "pka-fleet/testing";
 *
 * await pulumi.runtime.setMocks(new PkaMocks(myMocks), "project", "test", false); // myMocks: optional
 * const { fleet } = await import("../index"); // your program, imported after setMocks
 * ```
 *
 * - a generated key runs the real generation (`createKey` of the key pair provider): the key, its
 *   fingerprint, the passphrase encryption and the PuTTY `.ppk` are what `pulumi up` would produce;
 * - the `onHost` keygen command answers with what the real command prints: the public key line of
 *   a new key of the requested type, size and comment (within one `PkaMocks`, the same key again for
 *   the same host, path and key spec, as the real command keeps it); nothing runs anywhere;
 * - anything else goes to your mocks when you give them; without them, the AWS resources PkaFleet
 *   creates get plausible ids, ARNs, names and URLs (account `123456789012`, region `eu-west-1`
 *   unless set), the AWS identity/region/partition calls an answer, other resources their inputs.
 *
 * Importing this module creates nothing and needs no test framework.
 */
import * as crypto from "crypto";
import type * as pulumi from "@pulumi/pulumi";
import { KMS_CA_SPECS, KmsCaKeySpec } from "../core/certAuthorityPlan";
import { generateKey, parsePublicKey } from "../core/keygen";
import { CURVES } from "../core/keys/types";
import { createKey, GeneratedKeyInputs } from "./keyPairProvider";

/** What PkaMocks answers without your mocks. */
export interface PkaMocksOptions {
    /** AWS account id in ARNs and URLs. Default `"123456789012"`. */
    accountId?: string;
    /** AWS region in ARNs and URLs. Default `"eu-west-1"`. */
    region?: string;
}

const SECRET_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

/** Mocks receive secret inputs in Pulumi's wire wrapper; a provider gets the plain values. */
function unwrapSecrets(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(unwrapSecrets);
    if (v && typeof v === "object") {
        const o = v as Record<string, unknown>;
        if (o[SECRET_KEY] === SECRET_VALUE) return unwrapSecrets(o.value);
        return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrapSecrets(x)]));
    }
    return v;
}

/** The type token of SshKeyPair's generated key (a dynamic resource of module pka-fleet). */
const GENERATED_KEY_TYPE = "pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey";

/** SshKeyPair's generated key: by its type, or a plain dynamic resource with exactly its inputs. */
function isGeneratedKey(args: pulumi.runtime.MockResourceArgs): boolean {
    if (args.type === GENERATED_KEY_TYPE) return true;
    if (args.type !== "pulumi-nodejs:dynamic:Resource") return false;
    const i = (args.inputs ?? {}) as Record<string, unknown>;
    return (
        typeof i.__provider === "string" &&
        ["ed25519", "ecdsa", "rsa"].includes(i.keyType as string) &&
        typeof i.bits === "number" &&
        typeof i.comment === "string" &&
        "ppk" in i
    );
}

/** The inside of a POSIX single-quoted word ('...' with '\'' for a quote), or undefined. */
function unquote(word: string): string | undefined {
    const m = /^'((?:[^']|'\\'')*)'$/.exec(word);
    return m ? m[1].split("'\\''").join("'") : undefined;
}

/**
 * The key the `onHost` command (SshKeyPair's onHostCommand: `sh -c '<script>'`) would create:
 * its `ssh-keygen -t TYPE -b BITS ... -C COMMENT` line. Undefined for any other command.
 */
export function onHostKeygenRequest(
    create: unknown,
): { keyType: "ed25519" | "ecdsa" | "rsa"; bits: number; comment: string; path: string; spec: string } | undefined {
    if (typeof create !== "string" || !create.startsWith("sh -c ")) return undefined;
    const script = unquote(create.slice("sh -c ".length));
    if (script === undefined || !/\ncat "\$p\.pub"$/.test(script)) return undefined;
    const m =
        /^test -f "\$p" \|\| ssh-keygen -q -t (ed25519|ecdsa|rsa) -b (\d+) -N '' -C ('(?:[^']|'\\'')*') -f "\$p" <\/dev\/null >\/dev\/null$/m.exec(
            script,
        );
    const comment = m ? unquote(m[3]) : undefined;
    const p = /^p=('(?:[^']|'\\'')*')$/m.exec(script);
    const keyPath = p ? unquote(p[1]) : undefined;
    const spec = /^spec=([0-9a-f]{64})$/m.exec(script);
    if (!m || comment === undefined || keyPath === undefined || !spec) return undefined;
    return { keyType: m[1] as "ed25519" | "ecdsa" | "rsa", bits: Number(m[2]), comment, path: keyPath, spec: spec[1] };
}

const CURVE_OF_BITS: Record<number, string> = { 256: "nistp256", 384: "nistp384", 521: "nistp521" };

/** What a mock of one AWS resource type is made of: its args and inputs, its name, the account, the region, an ARN builder. */
interface MockContext {
    args: pulumi.runtime.MockResourceArgs;
    i: Record<string, any>;
    name: string;
    account: string;
    region: string;
    arn: (service: string, resource: string, scope?: string) => string;
}

/** The id (default `<name>-id`) and the outputs AWS adds, for each AWS resource type PkaFleet creates. */
const AWS_MOCK_STATE: Record<string, (m: MockContext) => { id?: string; extra?: Record<string, unknown> }> = {
    "aws:ssm/parameter:Parameter": ({ i, name, arn }) => ({
        id: name,
        extra: {
            name,
            arn: arn("ssm", `parameter${name.startsWith("/") ? "" : "/"}${name}`),
            version: 1,
            tier: i.tier ?? "Standard",
        },
    }),
    "aws:ssm/document:Document": ({ name, account, arn }) => ({
        id: name,
        extra: {
            name,
            arn: arn("ssm", `document/${name}`),
            latestVersion: "1",
            defaultVersion: "1",
            documentVersion: "1",
            hashType: "Sha256",
            status: "Active",
            owner: account,
        },
    }),
    "aws:ssm/association:Association": ({ args, arn }) => {
        const id = `${args.name}-association-id`;
        return { id, extra: { associationId: id, arn: arn("ssm", `association/${id}`) } };
    },
    "aws:iam/role:Role": ({ name, account, arn }) => ({
        id: name,
        extra: { name, arn: arn("iam", `role/${name}`, `:${account}`), uniqueId: "AROAPKAMOCKS" },
    }),
    "aws:iam/rolePolicy:RolePolicy": ({ i, name }) => ({
        id: `${typeof i.role === "string" ? i.role : "role"}:${name}`,
        extra: { name },
    }),
    "aws:iam/policy:Policy": ({ name, account, arn }) => {
        const policyArn = arn("iam", `policy/${name}`, `:${account}`);
        return { id: policyArn, extra: { name, arn: policyArn } };
    },
    "aws:cloudwatch/logGroup:LogGroup": ({ name, arn }) => ({
        id: name,
        extra: { name, arn: arn("logs", `log-group:${name}`) },
    }),
    "aws:sqs/queue:Queue": ({ i, name, account, region, arn }) => {
        // The provider appends .fifo to a FIFO queue's auto-name (AWS requires it).
        const q = i.fifoQueue && !name.endsWith(".fifo") ? `${name}.fifo` : name;
        const url = `https://sqs.${region}.amazonaws.com/${account}/${q}`;
        return { id: url, extra: { name: q, arn: arn("sqs", q), url } };
    },
    "aws:sqs/queuePolicy:QueuePolicy": ({ i }) => ({ id: typeof i.queueUrl === "string" ? i.queueUrl : undefined }),
    "aws:lambda/function:Function": ({ name, region, arn }) => ({
        id: name,
        extra: {
            name,
            arn: arn("lambda", `function:${name}`),
            invokeArn: `arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${arn("lambda", `function:${name}`)}/invocations`,
            qualifiedArn: arn("lambda", `function:${name}:$LATEST`),
            version: "$LATEST",
        },
    }),
    "aws:lambda/eventSourceMapping:EventSourceMapping": ({ args, i }) => {
        const id = `${args.name}-uuid`;
        return {
            id,
            extra: {
                uuid: id,
                functionArn: typeof i.functionName === "string" ? i.functionName : undefined,
                state: "Enabled",
            },
        };
    },
    "aws:lambda/invocation:Invocation": () => ({ extra: { result: "{}" } }),
    "aws:cloudwatch/eventRule:EventRule": ({ name, arn }) => ({
        id: name,
        extra: { name, arn: arn("events", `rule/${name}`) },
    }),
    "aws:cloudwatch/eventTarget:EventTarget": ({ args, i }) => ({ extra: { targetId: i.targetId ?? args.name } }),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ({ name, arn }) => ({
        id: name,
        extra: { name, arn: arn("cloudwatch", `alarm:${name}`) },
    }),
    "aws:kms/key:Key": ({ args, i, arn }) => {
        const keyId = `mock-${args.name}-key-id`;
        return {
            id: keyId,
            extra: { keyId, arn: arn("kms", `key/${keyId}`), customerMasterKeySpec: i.customerMasterKeySpec },
        };
    },
    "aws:ec2/keyPair:KeyPair": ({ args, i, arn }) => {
        const keyName = typeof i.keyName === "string" ? i.keyName : args.name;
        let fingerprint: string | undefined;
        try {
            fingerprint = parsePublicKey(String(i.publicKey)).fingerprint.slice("SHA256:".length) + "=";
        } catch {
            fingerprint = undefined;
        }
        return {
            id: keyName,
            extra: { keyName, keyPairId: `key-${args.name}`, arn: arn("ec2", `key-pair/${keyName}`), fingerprint },
        };
    },
};

/**
 * Pulumi mocks for stacks that use pka-fleet. Give your own mocks to keep answering everything
 * else (resources, calls) as they do; they never see the two resources PkaMocks answers.
 */
export class PkaMocks implements pulumi.runtime.Mocks {
    private readonly inner?: pulumi.runtime.Mocks;
    private readonly accountId: string;
    private readonly region: string;
    /** onHost keys made so far, by host, path and key spec: like the real command, one that runs again keeps the key; a new spec (rotation) makes a new one. */
    private readonly hostKeys = new Map<string, string>();
    /** KMS public keys (PEM) by key id, and the key spec each mocked key was created with (by ARN). */
    private readonly kmsKeys = new Map<string, string>();
    private readonly kmsSpecs = new Map<string, string>();

    constructor(mocks?: pulumi.runtime.Mocks, options: PkaMocksOptions = {}) {
        this.inner = mocks;
        this.accountId = options.accountId ?? "123456789012";
        this.region = options.region ?? "eu-west-1";
    }

    newResource(
        args: pulumi.runtime.MockResourceArgs,
    ): pulumi.runtime.MockResourceResult | Promise<pulumi.runtime.MockResourceResult> {
        if (isGeneratedKey(args)) return this.generatedKey(args);
        if (args.type === "command:remote:Command") {
            const request = onHostKeygenRequest(unwrapSecrets(args.inputs?.create));
            if (request) return this.onHostKey(args, request);
        }
        if (this.inner) return this.inner.newResource(args);
        return this.defaultResource(args);
    }

    call(args: pulumi.runtime.MockCallArgs): pulumi.runtime.MockCallResult | Promise<pulumi.runtime.MockCallResult> {
        if (this.inner) return this.inner.call(args);
        switch (args.token) {
            case "aws:index/getCallerIdentity:getCallerIdentity":
                return {
                    accountId: this.accountId,
                    arn: `arn:aws:iam::${this.accountId}:user/pka-mocks`,
                    userId: "AIDAPKAMOCKS",
                    id: this.accountId,
                };
            case "aws:index/getRegion:getRegion":
                return { name: this.region, region: this.region, id: this.region, description: this.region };
            case "aws:index/getPartition:getPartition":
                return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws", reverseDnsPrefix: "com.amazonaws" };
            case "aws:kms/getPublicKey:getPublicKey":
                return this.kmsPublicKey(String(args.inputs?.keyId ?? ""));
            default:
                return args.inputs ?? {};
        }
    }

    /** KMS GetPublicKey of a mocked key: a real key of its spec (one per key id), as KMS returns it. */
    private kmsPublicKey(keyId: string): pulumi.runtime.MockCallResult {
        const spec = this.kmsSpecs.get(keyId) ?? "ECC_NIST_P256";
        const kms = KMS_CA_SPECS[spec as KmsCaKeySpec];
        if (!kms) return { id: keyId, keyId, keySpec: spec };
        const namedCurve = CURVES[kms.curve].nodeName;
        const algorithm = kms.signingAlgorithm;
        let pem = this.kmsKeys.get(keyId);
        if (pem === undefined) {
            pem = crypto
                .generateKeyPairSync("ec", { namedCurve })
                .publicKey.export({ format: "pem", type: "spki" })
                .toString();
            this.kmsKeys.set(keyId, pem);
        }
        const der = crypto.createPublicKey(pem).export({ format: "der", type: "spki" });
        return {
            id: keyId,
            keyId,
            arn: keyId.startsWith("arn:") ? keyId : `arn:aws:kms:${this.region}:${this.accountId}:key/${keyId}`,
            keySpec: spec,
            customerMasterKeySpec: spec,
            keyUsage: "SIGN_VERIFY",
            publicKey: der.toString("base64"),
            publicKeyPem: pem,
            signingAlgorithms: [algorithm],
            encryptionAlgorithms: [],
        };
    }

    /** The real provider's create: a real key, fingerprint, encryption and PPK. */
    private async generatedKey(args: pulumi.runtime.MockResourceArgs): Promise<pulumi.runtime.MockResourceResult> {
        const { __provider, ...inputs } = unwrapSecrets(args.inputs ?? {}) as Record<string, unknown>;
        void __provider;
        const made = await createKey(inputs as unknown as GeneratedKeyInputs);
        return { id: made.id, state: { ...inputs, ...made.outs } };
    }

    /** What the onHost command prints: the public key line of a new key (no command runs). */
    private onHostKey(
        args: pulumi.runtime.MockResourceArgs,
        request: NonNullable<ReturnType<typeof onHostKeygenRequest>>,
    ): pulumi.runtime.MockResourceResult {
        const plain = unwrapSecrets(args.inputs ?? {}) as Record<string, any>;
        const where = `${plain.connection?.host ?? ""}\n${plain.connection?.port ?? 22}\n${request.path}\n${request.spec}`;
        let line = this.hostKeys.get(where);
        if (line === undefined) {
            const curve = request.keyType === "ecdsa" ? CURVE_OF_BITS[request.bits] : undefined;
            line = generateKey({
                type: request.keyType,
                bits: request.keyType === "ed25519" ? undefined : request.bits,
                curve,
                comment: request.comment,
            }).publicKey;
            this.hostKeys.set(where, line);
        }
        return {
            id: `${args.name}-${parsePublicKey(line).fingerprint.slice(7, 15)}`,
            state: { ...args.inputs, stdout: `${line}\n`, stderr: "" },
        };
    }

    /** Ids, ARNs, names and URLs for the AWS resources PkaFleet creates; other resources get their inputs. */
    private defaultResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
        const i = (args.inputs ?? {}) as Record<string, any>;
        if (args.custom === false) return { id: undefined, state: i };
        const { accountId: account, region } = this;
        const name: string = typeof i.name === "string" ? i.name : args.name;
        const arn = (service: string, resource: string, scope = `${region}:${account}`) =>
            `arn:aws:${service}:${scope}:${resource}`;
        const made = AWS_MOCK_STATE[args.type]?.({ args, i, name, account, region, arn }) ?? {};
        const extra = made.extra ?? {};
        if (args.type === "aws:kms/key:Key") this.kmsSpecs.set(String(extra.arn), String(i.customerMasterKeySpec));
        return {
            id: made.id ?? `${args.name}-id`,
            state: { ...i, ...Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== undefined)) },
        };
    }
}
