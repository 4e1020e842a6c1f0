/**
 * A policy pack config with a typo must fail, never quietly leave a rule at its default:
 *  - the validator (policy/config.ts) on its own: unknown rules and fields with a did-you-mean,
 *    values the schemas refuse, `all`, enforcement levels;
 *  - the real pack (policy/ started as Pulumi starts it) over its gRPC Configure call: a refused
 *    config is INVALID_ARGUMENT naming the typo and leaves the previous config in force; a good
 *    one tightens the rules; `all` reaches every rule;
 *  - `pka check-key --config` run as a user runs it (node bin/cli/pka.js) on keys made by
 *    ssh-keygen: the same validation (exit 2), and each key rule at its enforcementLevel.
 */
import * as assert from "assert";
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { enforcementLevelOf, PolicyConfigError, validatePackConfig } from "../policy/config";
import { valueProblem } from "../policy/jsonSchema";
import { KEY_ALGORITHM, PACK_RULES } from "../policy/ruleConfig";
import { ssmDocumentInjection } from "../policy/documentInjection";
import { noSudoersAppend } from "../policy/sudoers";
import { provisionerLeastPrivilege } from "../policy/iam";
import { sshKeyAlgorithm, sshKeyMaxAge, sshKeyPassphrase } from "../policy/keys";
import { lambdaRuntimeSupported } from "../policy/lambda";
import { sshPrivateKeySecret } from "../policy/secrets";
import { generateKey } from "../core/keygen";
import { sshCertificateValidity } from "../policy/certificates";
import { requireReal } from "./support/env";
import { Diagnostic, PolicyServer } from "./support/policyHarness";

const ROOT = path.resolve(__dirname, "..");
const RSA3072_LINE = generateKey({ type: "rsa", bits: 3072, comment: "bob@laptop" }).publicKey;
const POLICIES = [
    sshKeyAlgorithm,
    sshKeyPassphrase,
    sshPrivateKeySecret,
    sshKeyMaxAge,
    noSudoersAppend,
    ssmDocumentInjection,
    provisionerLeastPrivilege,
    lambdaRuntimeSupported,
    sshCertificateValidity,
];

/** The problems validatePackConfig reports for `config` ([] when it accepts it). */
function problemsOf(config: unknown): string[] {
    try {
        validatePackConfig(config);
        return [];
    } catch (e) {
        if (e instanceof PolicyConfigError) return e.problems;
        throw e;
    }
}

/** Each field's schema default, as the Pulumi CLI fills them in before Configure. */
function schemaDefaults(schema: { properties: Record<string, any> }): Record<string, unknown> {
    return Object.fromEntries(
        Object.entries(schema.properties)
            .filter(([, p]) => "default" in p)
            .map(([k, p]) => [k, p.default]),
    );
}

/** ssh-keygen, in `dir`; returns the private key's path (the public key is `<path>.pub`). */
function sshKeygen(dir: string, name: string, args: string[], passphrase = ""): string {
    const file = path.join(dir, name);
    const r = spawnSync("ssh-keygen", ["-q", ...args, "-N", passphrase, "-C", `${name}@test`, "-f", file], {
        encoding: "utf8",
    });
    assert.strictEqual(r.status, 0, r.stderr);
    return file;
}

describe("policy config: typos fail, levels apply", function () {
    describe("the validator (policy/config.ts)", () => {
        it("knows exactly the pack's rules, each with the schema its policy serves, closed to other fields", () => {
            assert.deepStrictEqual(
                PACK_RULES.map((r) => r.name),
                POLICIES.map((p) => p.name),
            );
            for (const [i, r] of PACK_RULES.entries()) {
                assert.strictEqual(POLICIES[i].configSchema, r.schema, `${r.name} serves its RuleConfig's schema`);
                assert.strictEqual(r.schema.additionalProperties, false, `${r.name}: additionalProperties false`);
                assert.deepStrictEqual(
                    Object.keys(r.defaults).sort(),
                    Object.keys(r.schema.properties)
                        .filter((k) => k !== "asOf")
                        .sort(),
                    `${r.name}: a default for every field but asOf`,
                );
            }
        });

        it("accepts every rule with every schema default (what the Pulumi CLI sends), and uses no schema keyword it does not implement", () => {
            const config = Object.fromEntries(
                PACK_RULES.map((r) => [r.name, { enforcementLevel: "mandatory", ...schemaDefaults(r.schema) }]),
            );
            assert.deepStrictEqual(problemsOf(config), []);
            for (const r of PACK_RULES) {
                for (const [field, prop] of Object.entries(r.schema.properties)) {
                    assert.doesNotThrow(
                        () => valueProblem(prop as object, (prop as any).default ?? "2026-01-31", `${r.name}.${field}`),
                        `${r.name}.${field}`,
                    );
                }
            }
        });

        const refused: [string, unknown, RegExp[]][] = [
            [
                "a misspelled rule",
                { "ssh-key-algoritm": { minRsaBits: 4096 } },
                [
                    /'ssh-key-algoritm' is not a rule of this pack; did you mean 'ssh-key-algorithm'\?/,
                    /rules: ssh-key-algorithm, ssh-key-passphrase, /,
                ],
            ],
            [
                "a rule in the wrong case",
                { "SSH-Key-Passphrase": "advisory" },
                [/'SSH-Key-Passphrase' is not a rule of this pack; did you mean 'ssh-key-passphrase'\?/],
            ],
            [
                "a misspelled field",
                { "ssh-key-algorithm": { minRsaBit: 4096 } },
                [
                    /'ssh-key-algorithm\.minRsaBit' is not a field of ssh-key-algorithm; did you mean 'minRsaBits'\?/,
                    /fields: enforcementLevel, allowedTypes, minRsaBits, allowedCurves, ec2ImportRsaBits/,
                ],
            ],
            [
                "a misspelled enforcementLevel",
                { "ssh-key-max-age": { enforcementlevel: "mandatory" } },
                [
                    /'ssh-key-max-age\.enforcementlevel' is not a field of ssh-key-max-age; did you mean 'enforcementLevel'\?/,
                ],
            ],
            [
                "a field of another rule",
                { "ssh-key-algorithm": { requirePassphrase: false } },
                [
                    /'ssh-key-algorithm\.requirePassphrase' is not a field of ssh-key-algorithm; it is a field of ssh-key-passphrase/,
                ],
            ],
            [
                "a field at the top level",
                { minRsaBits: 4096 },
                [
                    /'minRsaBits' is not a rule of this pack; 'minRsaBits' is a field of ssh-key-algorithm: write \{ "ssh-key-algorithm": \{ "minRsaBits": \.\.\. \} \}/,
                ],
            ],
            [
                "a field under all",
                { all: { enforcementLevel: "advisory", maxAgeDays: 30 } },
                [
                    /'all' sets only enforcementLevel \(of every rule\); 'all\.maxAgeDays' belongs in the rule it configures: "ssh-key-max-age"/,
                ],
            ],
            [
                "an unknown level",
                { "ssh-key-algorithm": "strict" },
                [/'ssh-key-algorithm' must be advisory, mandatory, remediate or disabled; got "strict"/],
            ],
            [
                "an unknown level in an object",
                { all: { enforcementLevel: "off" } },
                [/'all\.enforcementLevel' must be advisory, mandatory, remediate or disabled; got "off"/],
            ],
            [
                "a rule that is neither a level nor an object",
                { "ssh-key-algorithm": 4096 },
                [/'ssh-key-algorithm' must be an enforcement level .* or an object of its fields; got 4096/],
            ],
            [
                "a wrongly typed field",
                { "ssh-key-max-age": { maxAgeDays: "180" } },
                [/'ssh-key-max-age\.maxAgeDays' must be an integer; got "180"/],
            ],
            [
                "a value below the schema's minimum",
                { "ssh-key-max-age": { maxAgeDays: 0 } },
                [/'ssh-key-max-age\.maxAgeDays' must be at least 1; got 0/],
            ],
            [
                "a list entry of the wrong type",
                { "no-sudoers-append": { protectedFiles: ["/etc/sudoers", 7] } },
                [/'no-sudoers-append\.protectedFiles\[1\]' must be a string; got 7/],
            ],
            [
                "an asOf that is not a date",
                { "lambda-runtime-supported": { asOf: "next tuesday" } },
                [/'lambda-runtime-supported\.asOf' must match /],
            ],
            [
                "an asOf with an impossible month",
                { "ssh-key-max-age": { asOf: "2026-13-01" } },
                [/'ssh-key-max-age\.asOf' must be an ISO 8601 date/],
            ],
            [
                "a key rule that re-allows dsa",
                { "ssh-key-algorithm": { allowedTypes: ["ed25519", "dsa"] } },
                [/'ssh-key-algorithm\.allowedTypes' lists "dsa", which is never allowed/],
            ],
            [
                "a bad service account pattern",
                { "ssh-key-passphrase": { serviceAccountPatterns: ["(svc"] } },
                [/'ssh-key-passphrase\.serviceAccountPatterns\[0\]' "\(svc" is not a valid regular expression/],
            ],
            [
                "a null field (JSON schema: not an integer)",
                { "ssh-key-algorithm": { minRsaBits: null } },
                [/'ssh-key-algorithm\.minRsaBits' must be an integer/],
            ],
            ["not an object", ["ssh-key-algorithm"], [/must be a JSON object keyed by rule name/]],
        ];
        for (const [what, config, res] of refused) {
            it(`refuses ${what}, naming it`, () => {
                const problems = problemsOf(config);
                assert.strictEqual(problems.length, 1, problems.join("\n"));
                for (const re of res) assert.match(problems[0], re);
            });
        }

        it("suggests nothing for a name close to none", () => {
            const [p] = problemsOf({ "open-ports": "mandatory" });
            assert.match(p, /'open-ports' is not a rule of this pack \(rules: /);
            assert.doesNotMatch(p, /did you mean/);
        });

        it("reports every problem of a config at once", () => {
            const problems = problemsOf({
                "ssh-key-algoritm": {},
                "ssh-key-algorithm": { minRsaBit: 4096, allowedCurve: [] },
                all: "strict",
            });
            assert.strictEqual(problems.length, 4, problems.join("\n"));
            for (const name of ["ssh-key-algoritm", "minRsaBit", "allowedCurve", "all"])
                assert.ok(
                    problems.some((p) => p.includes(`'${name}`) || p.includes(`.${name}'`)),
                    name,
                );
        });

        it("levels: a rule's own, else all's, else the default", () => {
            const c = validatePackConfig({
                all: "advisory",
                "ssh-key-algorithm": { enforcementLevel: "mandatory", minRsaBits: 4096 },
                "ssh-key-passphrase": { requirePassphrase: true },
            });
            assert.strictEqual(enforcementLevelOf(c, "ssh-key-algorithm", "mandatory"), "mandatory");
            assert.strictEqual(enforcementLevelOf(c, "ssh-key-passphrase", "mandatory"), "advisory");
            assert.strictEqual(enforcementLevelOf(c, "ssh-key-max-age", "advisory"), "advisory");
            assert.strictEqual(
                enforcementLevelOf(validatePackConfig({}), "ssh-key-algorithm", "mandatory"),
                "mandatory",
            );
            assert.deepStrictEqual(c.rules["ssh-key-algorithm"].properties, { minRsaBits: 4096 });
        });

        it("a rule refuses a misspelled field when it reads its config, whatever delivered it", () => {
            const validate = sshKeyAlgorithm.validateResource as (args: unknown, report: (m: string) => void) => void;
            const run = (config: object): string[] => {
                const out: string[] = [];
                validate(
                    {
                        type: "aws:ssm/parameter:Parameter",
                        name: "p",
                        urn: "urn:x",
                        props: { value: RSA3072_LINE },
                        opts: {},
                        stackTags: new Map(),
                        getConfig: () => config,
                    },
                    (m) => out.push(m),
                );
                return out;
            };
            assert.throws(
                () => run({ minRsaBit: 4096 }),
                /'ssh-key-algorithm\.minRsaBit' is not a field of ssh-key-algorithm; did you mean 'minRsaBits'\?/,
            );
            assert.deepStrictEqual(run({}), []);
            assert.strictEqual(run({ minRsaBits: 4096 }).length, 1);
            assert.strictEqual(KEY_ALGORITHM.name, sshKeyAlgorithm.name);
        });
    });

    describe("the real pack over gRPC Configure", function () {
        let server: PolicyServer;
        let dir: string;
        let rsa3072: string;
        let rsa2048: string;
        before(async function () {
            requireReal(this, { commands: ["ssh-keygen"] });
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-policy-config-"));
            rsa3072 = fs.readFileSync(`${sshKeygen(dir, "rsa3072", ["-t", "rsa", "-b", "3072"])}.pub`, "utf8").trim();
            rsa2048 = fs.readFileSync(`${sshKeygen(dir, "rsa2048", ["-t", "rsa", "-b", "2048"])}.pub`, "utf8").trim();
            server = await PolicyServer.start();
        });
        after(async () => {
            await server?.stop();
            if (dir) fs.rmSync(dir, { recursive: true, force: true });
        });

        /** A parameter holding an access-spec-like key line: judged by minRsaBits (no EC2 import rule). */
        const keyParameter = (line: string) => ({
            type: "aws:ssm/parameter:Parameter",
            name: "central-key",
            properties: { type: "String", value: line },
        });
        const algorithmDiags = async (line: string): Promise<Diagnostic[]> =>
            (await server.analyze(keyParameter(line))).filter((d) => d.policyName === "ssh-key-algorithm");

        async function refusal(send: () => Promise<void>): Promise<string> {
            try {
                await send();
            } catch (e) {
                assert.strictEqual((e as { code?: number }).code, 3, `INVALID_ARGUMENT: ${(e as Error).message}`);
                return (e as { details: string }).details;
            }
            assert.fail("Configure accepted the config");
        }

        it("serves exactly the validator's rules and schemas", async () => {
            const info = await server.getAnalyzerInfo();
            assert.deepStrictEqual(
                info.policies.map((p) => p.name),
                PACK_RULES.map((r) => r.name),
            );
            for (const [i, p] of info.policies.entries())
                assert.deepStrictEqual(
                    p.configSchema,
                    JSON.parse(JSON.stringify(PACK_RULES[i].schema.properties)),
                    p.name,
                );
        });

        it("the CLI's full config (every rule, every default, `all` applied) is accepted, and RSA-3072 passes by default", async () => {
            await server.configureAsCli({});
            assert.deepStrictEqual(await algorithmDiags(rsa3072), []);
            await server.configureAsCli({ all: "mandatory" });
            assert.deepStrictEqual(await algorithmDiags(rsa3072), []);
        });

        it("minRsaBits 4096 (as the CLI sends it) refuses the ssh-keygen RSA-3072 key", async () => {
            await server.configureAsCli({ "ssh-key-algorithm": { minRsaBits: 4096 } });
            const d = await algorithmDiags(rsa3072);
            assert.strictEqual(d.length, 1, JSON.stringify(d));
            assert.strictEqual(d[0].enforcementLevel, "mandatory");
            assert.match(d[0].message, /rsa-3072 is too small.*at least 4096/);
        });

        it("a misspelled rule fails Configure, naming it and the rule meant; the config in force stays", async () => {
            await server.configureAsCli({ "ssh-key-algorithm": { minRsaBits: 4096 } });
            // The CLI passes a rule it does not know on to the pack when the entry has its own level
            // (without one, the CLI itself stops: `invalid enforcement level ""`, `all` or not).
            const details = await refusal(() =>
                server.configureAsCli({ "ssh-key-algoritm": { enforcementLevel: "mandatory", minRsaBits: 2048 } }),
            );
            assert.match(details, /'ssh-key-algoritm' is not a rule of this pack; did you mean 'ssh-key-algorithm'\?/);
            assert.match(details, /--policy-pack-config/);
            assert.strictEqual((await algorithmDiags(rsa3072)).length, 1, "minRsaBits 4096 is still in force");
        });

        it("a misspelled field fails Configure with the field meant; the default does not come back", async () => {
            await server.configureAsCli({ "ssh-key-algorithm": { minRsaBits: 4096 } });
            const details = await refusal(() => server.configureAsCli({ "ssh-key-algorithm": { minRsaBit: 4096 } }));
            assert.match(
                details,
                /'ssh-key-algorithm\.minRsaBit' is not a field of ssh-key-algorithm; did you mean 'minRsaBits'\?/,
            );
            assert.strictEqual((await algorithmDiags(rsa3072)).length, 1);
        });

        it("every problem is in the one error; a wrongly typed value is refused too", async () => {
            const details = await refusal(() =>
                server.configureRaw({
                    "ssh-key-algorithm": {
                        enforcementLevel: "mandatory",
                        properties: { minRsaBits: "big", allowedType: ["ed25519"] },
                    },
                    "ssh-key-maxage": { enforcementLevel: "advisory" },
                }),
            );
            assert.match(details, /'ssh-key-algorithm\.minRsaBits' must be an integer/);
            assert.match(
                details,
                /'ssh-key-algorithm\.allowedType' is not a field of ssh-key-algorithm; did you mean 'allowedTypes'\?/,
            );
            assert.match(details, /'ssh-key-maxage' is not a rule of this pack; did you mean 'ssh-key-max-age'\?/);
        });

        it("`all` sent alone reaches every rule: disabled silences, advisory downgrades", async () => {
            await server.configureRaw({ all: { enforcementLevel: "disabled" } });
            assert.deepStrictEqual(await server.analyze(keyParameter(rsa2048)), []);
            await server.configureRaw({ all: { enforcementLevel: "advisory" } });
            const d = await algorithmDiags(rsa2048);
            assert.strictEqual(d.length, 1);
            assert.strictEqual(d[0].enforcementLevel, "advisory");
        });

        it("a rule's own level wins over `all`", async () => {
            await server.configureRaw({
                all: { enforcementLevel: "advisory" },
                "ssh-key-algorithm": { enforcementLevel: "mandatory", properties: { minRsaBits: 4096 } },
            });
            const d = await algorithmDiags(rsa3072);
            assert.strictEqual(d.length, 1);
            assert.strictEqual(d[0].enforcementLevel, "mandatory");
            // And through the CLI's reconciliation: the same outcome.
            await server.configureAsCli({
                all: "disabled",
                "ssh-key-algorithm": { enforcementLevel: "mandatory", minRsaBits: 4096 },
            });
            assert.strictEqual((await algorithmDiags(rsa3072))[0]?.enforcementLevel, "mandatory");
        });

        it("`all` with a field, or a level hidden in a rule's properties, fails Configure", async () => {
            assert.match(
                await refusal(() =>
                    server.configureRaw({ all: { enforcementLevel: "advisory", properties: { minRsaBits: 4096 } } }),
                ),
                /'all\.minRsaBits' belongs in the rule it configures: "ssh-key-algorithm"/,
            );
            assert.match(
                await refusal(() =>
                    server.configureRaw({
                        "ssh-key-algorithm": {
                            enforcementLevel: "advisory",
                            properties: { enforcementLevel: "mandatory" },
                        },
                    }),
                ),
                /'ssh-key-algorithm' carries enforcementLevel among its properties/,
            );
        });

        it("remediate: the key rules cannot fix a key, so a violation is reported as mandatory", async () => {
            await server.configureAsCli({ "ssh-key-algorithm": "remediate" });
            const d = await algorithmDiags(rsa2048);
            assert.strictEqual(d.length, 1);
            assert.strictEqual(d[0].enforcementLevel, "mandatory");
        });
    });

    describe("pka check-key --config (node bin/cli/pka.js, keys from ssh-keygen)", function () {
        const pkaJs = path.join(ROOT, "bin", "cli", "pka.js");
        let dir: string;
        let cfg: string;
        const pka = (args: string[]): SpawnSyncReturns<string> =>
            spawnSync(process.execPath, [pkaJs, "check-key", ...args], { cwd: dir, encoding: "utf8" });
        const withConfig = (config: unknown, args: string[]): SpawnSyncReturns<string> => {
            fs.writeFileSync(cfg, JSON.stringify(config));
            return pka([...args, "--config", cfg]);
        };

        before(function () {
            requireReal(this, { commands: ["ssh-keygen"] });
            // The compiled CLI must be what the sources say (npm test builds first).
            for (const src of ["cli/pka.ts", "cli/checkKey.ts", "policy/config.ts", "core/keys/index.ts"]) {
                const out = path.join(ROOT, "bin", src.replace(/\.ts$/, ".js"));
                assert.ok(
                    fs.existsSync(out) && fs.statSync(out).mtimeMs >= fs.statSync(path.join(ROOT, src)).mtimeMs,
                    `bin/ is older than ${src}: build first (npx tsc -p tsconfig.json)`,
                );
            }
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-check-key-config-"));
            cfg = path.join(dir, "cfg.json");
            sshKeygen(dir, "rsa3072", ["-t", "rsa", "-b", "3072"]);
            sshKeygen(dir, "alice", ["-t", "ed25519"]); // a private key without a passphrase
            sshKeygen(dir, "bob", ["-t", "ed25519"], "a long passphrase");
        });
        after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

        it("a misspelled rule is exit 2 naming it, the rule meant and the file to fix", () => {
            const r = withConfig({ "ssh-key-algoritm": { minRsaBits: 4096 } }, ["rsa3072.pub"]);
            assert.strictEqual(r.status, 2, r.stdout + r.stderr);
            assert.match(
                r.stderr,
                /pka check-key: --config .*cfg\.json: policy config: 'ssh-key-algoritm' is not a rule of this pack; did you mean 'ssh-key-algorithm'\?/,
            );
            assert.match(r.stderr, /fix .*cfg\.json: it is the policy pack's config/);
            assert.doesNotMatch(r.stderr, /usage:/);
            assert.strictEqual(r.stdout, "");
        });

        it("a misspelled field is exit 2 naming the field meant; --json says so too", () => {
            const r = withConfig({ "ssh-key-algorithm": { minRsaBit: 4096 } }, ["rsa3072.pub", "--json"]);
            assert.strictEqual(r.status, 2);
            const j = JSON.parse(r.stdout);
            assert.strictEqual(j.ok, false);
            assert.match(
                j.error,
                /'ssh-key-algorithm\.minRsaBit' is not a field of ssh-key-algorithm; did you mean 'minRsaBits'\?/,
            );
            // A field of a rule check-key does not apply is checked all the same: it is the pack's file.
            const other = withConfig({ "ssh-key-max-age": { maxAgeDay: 30 } }, ["rsa3072.pub"]);
            assert.strictEqual(other.status, 2);
            assert.match(other.stderr, /did you mean 'maxAgeDays'\?/);
        });

        it("the corrected config refuses the RSA-3072 key (exit 1, the reason)", () => {
            assert.strictEqual(pka(["rsa3072.pub"]).status, 0);
            const r = withConfig({ "ssh-key-algorithm": { minRsaBits: 4096 } }, ["rsa3072.pub"]);
            assert.strictEqual(r.status, 1, r.stdout + r.stderr);
            assert.match(r.stdout, /violation: rsa3072\.pub: rsa-3072 is too small.*at least 4096/);
        });

        it("advisory: the violation is a warning, exit 0; JSON lists it under advisories", () => {
            const config = { "ssh-key-algorithm": { enforcementLevel: "advisory", minRsaBits: 4096 } };
            const r = withConfig(config, ["rsa3072.pub"]);
            assert.strictEqual(r.status, 0, r.stdout + r.stderr);
            assert.match(r.stdout, /warning \(advisory\): rsa3072\.pub: rsa-3072 is too small/);
            assert.doesNotMatch(r.stdout, /violation:/);
            assert.match(r.stdout, /rsa3072\.pub: allowed \(with advisory warnings\)/);
            const j = JSON.parse(withConfig(config, ["rsa3072.pub", "--json"]).stdout);
            assert.strictEqual(j.ok, true);
            assert.deepStrictEqual(j.violations, []);
            assert.strictEqual(j.advisories.length, 1);
            assert.match(j.advisories[0], /rsa-3072 is too small/);
            assert.deepStrictEqual(j.enforcementLevels, {
                "ssh-key-algorithm": "advisory",
                "ssh-key-passphrase": "mandatory",
            });
        });

        it("disabled: the rule is not applied", () => {
            const r = withConfig({ "ssh-key-algorithm": { enforcementLevel: "disabled", minRsaBits: 4096 } }, [
                "rsa3072.pub",
                "--json",
            ]);
            assert.strictEqual(r.status, 0);
            const j = JSON.parse(r.stdout);
            assert.deepStrictEqual([j.violations, j.advisories], [[], []]);
        });

        it("all: applies to both key rules, and a rule's own level wins", () => {
            const adv = withConfig({ all: "advisory", "ssh-key-algorithm": { minRsaBits: 4096 } }, ["alice", "--json"]);
            assert.strictEqual(adv.status, 0, adv.stdout);
            assert.deepStrictEqual(JSON.parse(adv.stdout).enforcementLevels, {
                "ssh-key-algorithm": "advisory",
                "ssh-key-passphrase": "advisory",
            });
            assert.match(JSON.parse(adv.stdout).advisories.join(), /no passphrase/);
            const own = withConfig(
                { all: "disabled", "ssh-key-algorithm": { enforcementLevel: "mandatory", minRsaBits: 4096 } },
                ["rsa3072.pub"],
            );
            assert.strictEqual(own.status, 1, own.stdout);
            const off = withConfig({ all: { enforcementLevel: "disabled" } }, ["alice"]);
            assert.strictEqual(off.status, 0, off.stdout);
        });

        it("ssh-key-passphrase: a private key without a passphrase fails unless --service, disabled or advisory", () => {
            assert.strictEqual(pka(["alice"]).status, 1);
            assert.strictEqual(pka(["alice", "--service"]).status, 0);
            assert.strictEqual(pka(["bob"]).status, 0, "bob's key has a passphrase");
            // Disabling the algorithm rule does not disable the passphrase rule.
            assert.strictEqual(withConfig({ "ssh-key-algorithm": "disabled" }, ["alice"]).status, 1);
            const adv = withConfig({ "ssh-key-passphrase": "advisory" }, ["alice"]);
            assert.strictEqual(adv.status, 0);
            assert.match(adv.stdout, /warning \(advisory\): alice: this private key has no passphrase/);
            const off = withConfig({ "ssh-key-passphrase": { enforcementLevel: "disabled" } }, ["alice"]);
            assert.strictEqual(off.status, 0);
            assert.doesNotMatch(off.stdout, /passphrase;/);
        });

        it("remediate counts as mandatory (neither rule can fix a key)", () => {
            const r = withConfig({ "ssh-key-algorithm": { enforcementLevel: "remediate", minRsaBits: 4096 } }, [
                "rsa3072.pub",
                "--json",
            ]);
            assert.strictEqual(r.status, 1);
            assert.strictEqual(JSON.parse(r.stdout).enforcementLevels["ssh-key-algorithm"], "mandatory");
        });

        it("an unknown level, or a field under all, is exit 2", () => {
            const bad = withConfig({ "ssh-key-passphrase": "warn" }, ["alice"]);
            assert.strictEqual(bad.status, 2);
            assert.match(
                bad.stderr,
                /'ssh-key-passphrase' must be advisory, mandatory, remediate or disabled; got "warn"/,
            );
            const all = withConfig({ all: { minRsaBits: 4096 } }, ["rsa3072.pub"]);
            assert.strictEqual(all.status, 2);
            assert.match(all.stderr, /'all\.minRsaBits' belongs in the rule it configures: "ssh-key-algorithm"/);
        });
    });
});
