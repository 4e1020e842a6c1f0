/**
 * The stack program as `pulumi up` runs it: Pulumi's own Node.js entry logic
 * (@pulumi/pulumi/cmd/run `run()`, the code the language host executes) is given the entry point
 * the language host derives from Pulumi.yaml `main`, with the example stack config, under AWS mocks,
 * in a fresh node process (as the host would start one).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { generateKey } from "../core/keygen";
import { exampleConfig, runStackProgram, StackRun } from "./support/stackRun";

const ROOT = path.resolve(__dirname, "..");

describe("stack program (Pulumi.yaml main -> index.ts) with Pulumi.example.yaml", function () {
    this.timeout(240000);
    let run: StackRun;

    before(() => {
        const project = parseYaml(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"));
        // The language host passes Pulumi.yaml's `main` file as the entry point; run() then requires it
        // and ignores package.json (whose entry is the library).
        assert.strictEqual(project.main, "index.ts");
        const { config, secretKeys } = exampleConfig();
        run = runStackProgram(project.main, config, secretKeys, { capture: true });
    });

    it("runs without error and builds one fleet from config", () => {
        assert.strictEqual(run.error, undefined);
        assert.deepStrictEqual(run.components, {
            "pka-fleet:index:PkaFleet": 1,
            "pka-fleet:index:Provisioner": 1,
            "pka-fleet:index:SetupDocument": 1,
            "pka-fleet:index:SshKeyPair": 2,
        });
    });

    it("creates the full inventory", () => {
        const inv = run.inventory;
        assert.strictEqual(
            inv["pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey"],
            2,
            "svc_user and alice get generated keys",
        );
        assert.strictEqual(inv["aws:ec2/keyPair:KeyPair"], 1, "svc_user's key is registered in EC2");
        assert.strictEqual(inv["aws:ssm/document:Document"], 1);
        assert.strictEqual(
            inv["aws:ssm/association:Association"],
            undefined,
            "drift correction is a scheduled EventBridge rule, never a State Manager association",
        );
        const drift = (run.resources ?? []).filter(
            (r) => r.type === "aws:cloudwatch/eventRule:EventRule" && r.inputs.scheduleExpression !== undefined,
        );
        assert.deepStrictEqual(
            drift.map((r) => [r.name, r.inputs.scheduleExpression]),
            [["web-provisioner-drift", "rate(1 day)"]],
            "driftCorrectionSchedule is set in the example",
        );
        assert.strictEqual(
            inv["aws:ssm/parameter:Parameter"],
            2,
            "the example spec fits one standard parameter, plus the deployed marker (revokeOnDestroy)",
        );
        assert.strictEqual(
            inv["aws:lambda/invocation:Invocation"],
            2,
            "the push on change and the offboarding on destroy",
        );
        assert.strictEqual(inv["aws:lambda/function:Function"], 1);
        assert.strictEqual(inv["aws:sqs/queue:Queue"], 4, "queue and DLQ, wait queue (FIFO) and its DLQ");
        assert.strictEqual(inv["aws:cloudwatch/logGroup:LogGroup"], 1);
        assert.ok(inv["aws:cloudwatch/eventRule:EventRule"] >= 3, "three triggers plus command results");
        assert.ok(inv["aws:iam/role:Role"] >= 1);
        console.log(
            `      inventory: ${Object.entries(inv)
                .map(([t, n]) => `${t.replace(/^aws:|^pulumi-nodejs:/, "")} ${n}`)
                .join(", ")}`,
        );
    });

    it("exports the fleet's outputs", () => {
        const o = run.outputs;
        for (const k of [
            "documentName",
            "queueUrl",
            "dlqUrl",
            "accessParameterPath",
            "knownHostsPath",
            "accessSpecHash",
            "fingerprints",
            "sshConfig",
            "knownHostsCommand",
            "privateKeys",
            "privateKeysPpk",
        ]) {
            assert.ok(k in o, `output ${k}`);
        }
        assert.strictEqual(o.accessParameterPath.value, "/pka/web/access");
        assert.strictEqual(o.knownHostsPath.value, "/pka/web/known_hosts");
        assert.deepStrictEqual(o.fingerprints.keys, ["alice", "auditor", "carol", "deploy", "svc_user"]);
        assert.match(String(o.sshConfig.value), /Include ~\/\.ssh\/config\.pka-web/);
        assert.match(String(o.knownHostsCommand.value), /known_hosts\.pka-web/);
        assert.match(String(o.knownHostsCommand.value), /Name=tag:pka-fleet,Values=web/);
    });

    it("keeps every private key and passphrase output secret", () => {
        assert.strictEqual(run.outputs.privateKeys.secret, true);
        assert.deepStrictEqual(run.outputs.privateKeys.keys, ["alice", "svc_user"]);
        assert.strictEqual(run.outputs.privateKeysPpk.secret, true);
        assert.deepStrictEqual(run.outputs.privateKeysPpk.keys, ["alice"]);
        for (const [k, v] of Object.entries(run.outputs)) {
            if (!v.secret)
                assert.ok(
                    !JSON.stringify(v).includes("key material") && !JSON.stringify(v).includes("correct horse"),
                    `plain output ${k} holds no key material or passphrase`,
                );
        }
    });

    it("refuses a bad users config with a message naming the key, before any resource", () => {
        const { config, secretKeys } = exampleConfig();
        config["pka-fleet:users"] = JSON.stringify([{ name: "bob", sudo: "nopasswd", publicKey: "ssh-ed25519 AAAA" }]);
        const bad = runStackProgram("index.ts", config, secretKeys);
        assert.match(bad.error ?? "", /pka-fleet:users`\[0\]\.publicKey is not a user field/);
        assert.deepStrictEqual(bad.inventory, {});
    });

    it("refuses keyPassphrases set in plain text (not --secret), naming the key", () => {
        const { config } = exampleConfig();
        const bad = runStackProgram("index.ts", config, []);
        assert.match(
            bad.error ?? "",
            /pka-fleet:keyPassphrases` holds passphrases in plain text; set each with `pulumi config set --secret/,
        );
        assert.ok(!(bad.error ?? "").includes("correct horse"), "no passphrase in the error");
        assert.deepStrictEqual(bad.inventory, {});
    });

    it("refuses a passphrase in plain config", () => {
        const { config, secretKeys } = exampleConfig();
        const users = JSON.parse(config["pka-fleet:users"]);
        users[1].generateKey.passphrase = "plain";
        config["pka-fleet:users"] = JSON.stringify(users);
        const bad = runStackProgram("index.ts", config, secretKeys);
        assert.match(bad.error ?? "", /generateKey\.passphrase must not be in plain config/);
        assert.deepStrictEqual(bad.inventory, {});
    });

    it("reads every key rule from config (allowedKeyTypes, minRsaBits, allowedCurves, ec2ImportRsaBits, requirePassphrase)", () => {
        // The example sets allowedCurves [nistp384, nistp521]: a P-256 key is refused.
        const { config, secretKeys } = exampleConfig();
        const users = JSON.parse(config["pka-fleet:users"]);
        users.push({
            name: "p256",
            sudo: "none",
            publicKeys: [generateKey({ type: "ecdsa", curve: "nistp256", comment: "p256" }).publicKey],
        });
        config["pka-fleet:users"] = JSON.stringify(users);
        assert.match(
            runStackProgram("index.ts", config, secretKeys).error ?? "",
            /config `pka-fleet:users`\[5\]\.publicKeys\[0\]: ecdsa curve nistp256 is not allowed/,
        );
        // ec2ImportRsaBits is checked like a policy config, naming the config key.
        const weak = exampleConfig();
        weak.config["pka-fleet:ec2ImportRsaBits"] = "1024";
        assert.match(
            runStackProgram("index.ts", weak.config, weak.secretKeys).error ?? "",
            /config `pka-fleet:ec2ImportRsaBits` must be 2048 or 4096/,
        );
        // requirePassphrase false: alice's generated key needs no passphrase any more.
        const open = exampleConfig();
        delete open.config["pka-fleet:keyPassphrases"];
        assert.match(
            runStackProgram("index.ts", open.config, []).error ?? "",
            /passphrase/,
            "by default a person's key needs one",
        );
        open.config["pka-fleet:requirePassphrase"] = "false";
        assert.strictEqual(runStackProgram("index.ts", open.config, []).error, undefined);
    });
});
