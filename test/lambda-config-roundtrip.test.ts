/**
 * core/lambdaConfig.ts: the `PKA_*` environment is one contract with one writer
 * (lambdaEnvironment) and one reader (readConfig). What the writer writes, the reader reads back.
 */
import * as assert from "assert";
import { ConfigError, lambdaEnvironment, LambdaSettings, ProvisionerConfig, readConfig } from "../core/lambdaConfig";

/** readConfig names every setting, with undefined for those not set: compare what is set. */
function defined(c: ProvisionerConfig): Record<string, unknown> {
    return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined));
}

const MINIMAL: LambdaSettings = {
    documentName: "pka-setup",
    tagKey: "pka-fleet",
    tagValue: "web",
    accessPath: "/pka/web/access",
    accessSpecSha256: "a".repeat(64),
};

const FULL: ProvisionerConfig = {
    ...MINIMAL,
    knownHostsPath: "/pka/web/known_hosts",
    deadLetterQueueUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/web-dlq",
    maxAttempts: 5,
    keyRules: { minRsaBits: 4096, allowedTypes: ["ed25519", "rsa"] },
    commandTimeoutSeconds: 900,
    deployedMarker: "/pka/web/access-deployed",
    queueUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/web-queue",
    waitQueueUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/web-wait.fifo",
    agentWaitSeconds: 7200,
    hostCertificates: {
        documentName: "web-host-certificate",
        kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        caPublicKey:
            "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=",
        path: "/pka/web/host_certificates",
        validitySeconds: 7 * 86400,
    },
};

describe("lambda configuration round trip (lambdaEnvironment -> readConfig)", () => {
    it("every setting written is read back as it was", () => {
        assert.deepStrictEqual(readConfig(lambdaEnvironment(FULL)), FULL);
    });

    it("host certificates: all their variables or none, a KMS key ARN, the CA's key line, a path apart from the pins", () => {
        const env = lambdaEnvironment(FULL);
        const without = (k: string) => Object.fromEntries(Object.entries(env).filter(([n]) => n !== k));
        assert.throws(() => readConfig(without("PKA_HOST_CA_KMS_KEY")), /need all of .*PKA_HOST_CA_KMS_KEY not set/);
        assert.throws(
            () => readConfig({ ...env, PKA_HOST_CA_KMS_KEY: "alias/host-ca" }),
            /PKA_HOST_CA_KMS_KEY must be a KMS key ARN/,
        );
        assert.throws(
            () => readConfig({ ...env, PKA_HOST_CA_PUBLIC_KEY: "ssh-ed25519 AAAA x" }),
            /PKA_HOST_CA_PUBLIC_KEY must be/,
        );
        assert.throws(
            () => readConfig({ ...env, PKA_HOST_CERT_PATH: "/pka/web/known_hosts/x" }),
            /apart from PKA_KNOWN_HOSTS_PATH/,
        );
        assert.throws(() => readConfig({ ...env, PKA_HOST_CERT_VALIDITY_SECONDS: "600" }), /from 3600 to 34560000/);
        assert.throws(() => readConfig(without("PKA_KNOWN_HOSTS_PATH")), /need PKA_KNOWN_HOSTS_PATH/);
        const { PKA_HOST_CERT_VALIDITY_SECONDS: _v, ...noValidity } = env;
        void _v;
        assert.strictEqual(readConfig(noValidity).hostCertificates?.validitySeconds, 30 * 86400);
    });

    it("settings left unset are not written, and read back as the Lambda's defaults", () => {
        const env = lambdaEnvironment(MINIMAL);
        assert.deepStrictEqual(Object.keys(env).sort(), [
            "PKA_ACCESS_PARAMETER",
            "PKA_ACCESS_SPEC_SHA256",
            "PKA_DOCUMENT_NAME",
            "PKA_TARGET_TAG",
        ]);
        assert.deepStrictEqual(defined(readConfig(env)), {
            ...MINIMAL,
            maxAttempts: 3,
            commandTimeoutSeconds: 600,
            agentWaitSeconds: 3600,
        });
    });

    it("writes the variables the Provisioner and the local fleet set, as plain strings", () => {
        const env = lambdaEnvironment(FULL);
        assert.strictEqual(env.PKA_TARGET_TAG, "pka-fleet=web");
        assert.strictEqual(env.PKA_MAX_ATTEMPTS, "5");
        assert.strictEqual(env.PKA_COMMAND_TIMEOUT_SECONDS, "900");
        assert.strictEqual(env.PKA_AGENT_WAIT_SECONDS, "7200");
        assert.deepStrictEqual(JSON.parse(env.PKA_KEY_RULES), { minRsaBits: 4096, allowedTypes: ["ed25519", "rsa"] });
        for (const v of Object.values(env)) assert.strictEqual(typeof v, "string");
    });

    it("the reader checks parameter paths with the access store's rule (isParameterPath)", () => {
        const env = lambdaEnvironment(MINIMAL);
        assert.strictEqual(readConfig({ ...env, PKA_ACCESS_PARAMETER: "/a" }).accessPath, "/a");
        for (const bad of ["/pka/web/access/", "pka/web/access", "/pka/web/acc ess", "/pka/web/acc$"]) {
            assert.throws(
                () => readConfig({ ...env, PKA_ACCESS_PARAMETER: bad }),
                (e: Error) =>
                    e instanceof ConfigError && /PKA_ACCESS_PARAMETER must be a parameter path/.test(e.message),
            );
        }
        assert.throws(
            () => readConfig({ ...env, PKA_KNOWN_HOSTS_PATH: "/pka/web/known hosts" }),
            /PKA_KNOWN_HOSTS_PATH must be a parameter path/,
        );
        assert.throws(
            () => readConfig({ ...env, PKA_DEPLOYED_MARKER: "/pka/web/marker/" }),
            /PKA_DEPLOYED_MARKER must be a parameter name/,
        );
    });
});
