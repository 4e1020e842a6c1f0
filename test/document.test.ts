import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { validateAccessSpec } from "../core/accessSpec";
import { AccessSpecError, AccessUser } from "../core/accessSpecTypes";
import {
    DOCUMENT_SCHEMA_VERSION,
    MAX_COMMAND_BYTES,
    SPEC_ALLOWED_PATTERN,
    commandBytes,
    documentParameters,
    maxSpecBase64Length,
    renderDocument,
    renderDocumentJson,
    renderManifest,
} from "../core/document";
import { generateKey } from "../core/keygen";
import { SETUP_SCRIPT, scriptLines } from "../core/script/setupScript";
import { InvalidParametersError, validateCommandParameters } from "../local/agent";
import { requireReal } from "./support/env";
import { runWithNonblockingStdin } from "./support/nonblockingStdin";
import { ensureBuilt, PKA_CLI } from "./support/built";

const ED = generateKey({ type: "ed25519", comment: "k" }).publicKey;

function users(n: number, keysEach: number, key: (i: number, j: number) => string): AccessUser[] {
    return Array.from({ length: n }, (_, i) => ({
        name: `user${i}`,
        sudo: "nopasswd" as const,
        keys: Array.from({ length: keysEach }, (_, j) => key(i, j)),
        keyOptions: "restrict",
    }));
}

describe("setup document", () => {
    const doc = renderDocument() as any;

    it("is a schema 2.2 Command document with one Linux aws:runShellScript step", () => {
        assert.equal(doc.schemaVersion, DOCUMENT_SCHEMA_VERSION);
        assert.equal(doc.schemaVersion, "2.2");
        assert.equal(doc.mainSteps.length, 1);
        assert.equal(doc.mainSteps[0].action, "aws:runShellScript");
        assert.deepEqual(doc.mainSteps[0].precondition, { StringEquals: ["platformType", "Linux"] });
        assert.deepEqual(doc.mainSteps[0].inputs.runCommand, scriptLines());
        assert.equal(doc.mainSteps[0].inputs.runCommand.join("\n") + "\n", SETUP_SCRIPT);
    });

    it("declares only ENV_VAR String parameters with anchored allowedPatterns and no defaults", () => {
        const params = Object.entries(doc.parameters) as [string, Record<string, string>][];
        assert.deepEqual(params.map(([n]) => n).sort(), ["AccessSpec", "AccessSpecSha256"]);
        for (const [name, p] of params) {
            assert.equal(p.type, "String", name);
            assert.equal(p.interpolationType, "ENV_VAR", name);
            assert.match(p.allowedPattern, /^\^.*\$$/, name);
            assert.equal(p.default, undefined, `${name} must be required: an empty spec would revoke everyone`);
        }
    });

    it("never contains a double opening brace (the agent's text substitution has nothing to act on)", () => {
        assert.ok(!renderDocumentJson().includes("{{"));
        assert.ok(!SETUP_SCRIPT.includes("${"), "the script must not use ${...} (it is a TypeScript template)");
    });

    it("renders the same bytes every time and parses back to the object", () => {
        assert.equal(renderDocumentJson(), renderDocumentJson());
        assert.deepEqual(JSON.parse(renderDocumentJson()), renderDocument());
    });

    it("is shellcheck-clean as sh, and parses under dash and bash", function () {
        requireReal(this, { commands: ["shellcheck", "dash", "bash"] });
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-doc-"));
        const file = path.join(dir, "_script.sh");
        fs.writeFileSync(file, doc.mainSteps[0].inputs.runCommand.join("\n") + "\n");
        const sc = spawnSync("shellcheck", ["-s", "sh", "-S", "style", file], { encoding: "utf8" });
        assert.equal(sc.status, 0, sc.stdout + sc.stderr);
        for (const sh of ["dash", "bash"]) execFileSync(sh, ["-n", file]);
        fs.rmSync(dir, { recursive: true });
    });

    it("carries the spec as base64 of the manifest plus its sha256", () => {
        const spec = validateAccessSpec({
            users: [{ name: "svc_user", sudo: "nopasswd", keys: [ED], keyOptions: "restrict" }],
        });
        const p = documentParameters(spec);
        assert.deepEqual(Object.keys(p).sort(), ["AccessSpec", "AccessSpecSha256"]);
        assert.match(p.AccessSpec[0], new RegExp(SPEC_ALLOWED_PATTERN));
        assert.equal(Buffer.from(p.AccessSpec[0], "base64").toString(), renderManifest(spec));
        assert.equal(
            p.AccessSpecSha256[0],
            require("crypto").createHash("sha256").update(renderManifest(spec)).digest("hex"),
        );
        // SendCommand's own checks (as the local SSM endpoint applies them) accept it
        validateCommandParameters(renderDocumentJson(), p);
    });

    it("has parameter patterns that refuse hostile values before the script sees them", () => {
        const good = documentParameters(validateAccessSpec({ users: [] }));
        const hostile = [
            "$(id)",
            "`id`",
            "a b",
            "abc",
            "AAAA\nAAAA",
            "AAAA;",
            "{{AccessSpecSha256}}",
            "=AAA",
            "AAAA====",
            "",
        ];
        for (const v of hostile) {
            assert.throws(
                () => validateCommandParameters(renderDocumentJson(), { ...good, AccessSpec: [v] }),
                InvalidParametersError,
                v,
            );
        }
        for (const v of ["0".repeat(63), "G".repeat(64), "0".repeat(65), "A".repeat(64)]) {
            assert.throws(
                () => validateCommandParameters(renderDocumentJson(), { ...good, AccessSpecSha256: [v] }),
                InvalidParametersError,
                v,
            );
        }
        assert.throws(
            () => validateCommandParameters(renderDocumentJson(), { AccessSpec: good.AccessSpec }),
            /required/,
        );
        assert.throws(() => validateCommandParameters(renderDocumentJson(), { ...good, Extra: ["x"] }), /not declared/);
    });

    it("fits the largest spec it admits within 64 KB, and refuses one more key with a clear error", () => {
        // ed25519 users, one key each, restrict: add users until the budget is exceeded
        let n = 1;
        const mk = (k: number) => validateAccessSpec({ users: users(k, 1, () => ED) });
        const fits = (k: number) => {
            try {
                documentParameters(mk(k));
                return true;
            } catch (e) {
                if (!(e instanceof AccessSpecError)) throw e;
                return false;
            }
        };
        while (fits(n * 2)) n *= 2;
        let lo = n;
        let hi = n * 2;
        while (hi - lo > 1) {
            const mid = (lo + hi) >> 1;
            if (fits(mid)) lo = mid;
            else hi = mid;
        }
        assert.ok(commandBytes(documentParameters(mk(lo))) <= MAX_COMMAND_BYTES);
        // The script grows with the access model (scoped sudo, groups, more key options); the
        // floor keeps a real team's spec: 180 people with an ed25519 key each.
        assert.ok(lo >= 180, `only ${lo} ed25519 users fit`);
        try {
            documentParameters(mk(hi));
            assert.fail("accepted a spec over 64 KB");
        } catch (e) {
            assert.ok(e instanceof AccessSpecError);
            assert.match(e.message, /over SSM's 65536-byte limit/);
            assert.match(e.message, /ed25519/);
        }
        // Certificate mode (section 7b) took about 4 KB of the script; its users need no keys.
        assert.ok(maxSpecBase64Length() > 30000 && maxSpecBase64Length() % 4 === 0);
    });

    it("refuses to render a spec the script would refuse (one grammar for both)", () => {
        const bad = { users: [{ name: "root", sudo: "nopasswd" as const, keys: [ED] }] };
        // Bypassing validateAccessSpec must not get a bad line to a host.
        const withNewline = { users: [{ name: "x", sudo: "none" as const, keys: [`${ED}\nssh-ed25519 AAAA`] }] };
        assert.throws(() => documentParameters(withNewline), AccessSpecError);
        // a reserved name is grammatical: the script refuses it itself (tested on hosts)
        assert.doesNotThrow(() => documentParameters(bad));
    });
});

// ---- the CLI: `pka document` and `pka document-params` (run as a user runs them) ----

const ROOT = path.resolve(__dirname, "..");

/** The built `pka` (bin/cli/pka.js: what an installed package runs). */
function pka(args: string[], input?: string) {
    ensureBuilt();
    const r = spawnSync(process.execPath, [PKA_CLI, ...args], {
        cwd: ROOT,
        encoding: "utf8",
        input,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("access spec: adopt", () => {
    const ED = generateKey({ type: "ed25519" }).publicKey;
    it("renders `u NAME SUDO adopt` only for users that say so; a spec without it hashes as before", () => {
        const plain = validateAccessSpec({ users: [{ name: "dave", sudo: "none", keys: [ED] }] });
        const adopted = validateAccessSpec({ users: [{ name: "dave", sudo: "none", keys: [ED], adopt: true }] });
        const notAdopted = validateAccessSpec({ users: [{ name: "dave", sudo: "none", keys: [ED], adopt: false }] });
        assert.match(renderManifest(adopted), /^u dave none adopt$/m);
        assert.match(renderManifest(plain), /^u dave none$/m);
        assert.equal(renderManifest(notAdopted), renderManifest(plain));
        assert.notEqual(renderManifest(adopted), renderManifest(plain));
    });
    it("refuses an adopt that is not a boolean, naming it", () => {
        assert.throws(
            () => validateAccessSpec({ users: [{ name: "dave", sudo: "none", keys: [ED], adopt: "yes" }] }),
            (e: unknown) =>
                e instanceof AccessSpecError && e.path === "users[0].adopt" && /true or false/.test(e.message),
        );
    });
});

describe("pka document / document-params", function () {
    this.timeout(60000);
    let dir: string;
    const ED = generateKey({ type: "ed25519", comment: "ops" }).publicKey;
    const ORG = generateKey({ type: "ed25519", comment: "org" }).publicKey;
    const write = (name: string, text: string) => {
        const p = path.join(dir, name);
        fs.writeFileSync(p, text);
        return p;
    };

    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-cli-doc-"));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("pka document prints exactly what SetupDocument deploys", () => {
        const r = pka(["document"]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, renderDocumentJson() + "\n");
    });

    it("pka document-params prints the Parameters for a spec file (and from stdin)", () => {
        const spec = { users: [{ name: "svc_user", sudo: "nopasswd", keys: [ED], keyOptions: "restrict" }] };
        const file = write("spec.json", JSON.stringify(spec));
        const r = pka(["document-params", "--spec", file]);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(JSON.parse(r.stdout), documentParameters(validateAccessSpec(spec)));
        const s = pka(["document-params", "--spec", "-"], JSON.stringify(spec));
        assert.equal(s.stdout, r.stdout);
    });

    it("applies --fallback-key to users without keys", () => {
        const file = write("nokeys.json", JSON.stringify({ users: [{ name: "svc_user", sudo: "none" }] }));
        const pub = write("org.pub", ORG + "\n");
        const r = pka(["document-params", "--spec", file, "--fallback-key", pub]);
        assert.equal(r.code, 0, r.stderr);
        const manifest = Buffer.from(JSON.parse(r.stdout).AccessSpec[0], "base64").toString();
        assert.match(manifest, new RegExp(`^k svc_user ${ORG.replace(/[+/]/g, "\\$&")}$`, "m"));
    });

    it("exits 2 on a bad spec, naming the path and what would fix it", () => {
        const file = write(
            "bad.json",
            JSON.stringify({
                users: [
                    { name: "ok", sudo: "none", keys: [ED] },
                    { name: "root", keys: [ED] },
                ],
            }),
        );
        const r = pka(["document-params", "--spec", file]);
        assert.equal(r.code, 2);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, /users\[1\]\.name: 'root' is a system account/);
        assert.match(r.stderr, /fix the value at users\[1\]\.name/);
        const badKey = write(
            "badkey.json",
            JSON.stringify({ users: [{ name: "ok", keys: [ED, "ssh-ed25519 nope"] }] }),
        );
        const k = pka(["document-params", "--spec", badKey]);
        assert.equal(k.code, 2);
        assert.match(k.stderr, /users\[0\]\.keys\[1\]/);
    });

    it("exits 2 on input that is not JSON, a missing file, or bad usage", () => {
        const notJson = pka(["document-params", "--spec", write("x.json", "users: []")]);
        assert.equal(notJson.code, 2);
        assert.match(notJson.stderr, /is not JSON/);
        const missing = pka(["document-params", "--spec", path.join(dir, "nope.json")]);
        assert.equal(missing.code, 2);
        assert.match(missing.stderr, /cannot read spec/);
        const usage = pka(["document-params", "--spec"]);
        assert.equal(usage.code, 2);
        assert.match(usage.stderr, /--spec needs a value/);
    });

    it("document-params --spec - waits on a non-blocking stdin (no EAGAIN), then prints the Parameters", async function () {
        // perl (Essential in Debian) makes stdin non-blocking and execs the CLI: readFileSync(0) with
        // no data yet fails with EAGAIN instead of waiting. (Node's spawn would reset the flag.)
        requireReal(this, { commands: ["perl"] });
        if (!fs.existsSync("/proc/self/stat")) this.skip();
        const spec = { users: [{ name: "svc_user", sudo: "nopasswd", keys: [ED] }] };
        ensureBuilt();
        const r = await runWithNonblockingStdin(
            [process.execPath, PKA_CLI, "document-params", "--spec", "-"],
            JSON.stringify(spec),
            { cwd: ROOT, env: { ...process.env }, maxWaitMs: 30000 },
        );
        const { stdout, stderr } = r;
        assert.equal(r.asleep, 10, `document-params should sleep while stdin has no data, not spin (${stderr})`);
        assert.equal(r.code, 0, stderr);
        assert.deepEqual(JSON.parse(stdout), documentParameters(validateAccessSpec(spec)));
    });

    it("document-params --config refuses a misspelled rule or field (as the pack and pka check-key do), naming it", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-docparams-cfg-"));
        try {
            const spec = path.join(dir, "spec.json");
            fs.writeFileSync(spec, JSON.stringify({ users: [{ name: "svc_user", sudo: "nopasswd", keys: [ED] }] }));
            for (const [config, named] of [
                [{ "ssh-key-algoritm": { minRsaBits: 4096 } }, /ssh-key-algoritm[\s\S]*ssh-key-algorithm/],
                [{ "ssh-key-algorithm": { minRsaBit: 4096 } }, /minRsaBit\b[\s\S]*minRsaBits/],
            ] as const) {
                const cfg = path.join(dir, "cfg.json");
                fs.writeFileSync(cfg, JSON.stringify(config));
                const r = pka(["document-params", "--spec", spec, "--config", cfg]);
                assert.equal(r.code, 2, r.stdout);
                assert.match(r.stderr, named);
                assert.equal(r.stdout, "", "nothing printed for a refused config");
            }
            const ok = path.join(dir, "ok.json");
            fs.writeFileSync(ok, JSON.stringify({ "ssh-key-algorithm": { minRsaBits: 4096 } }));
            assert.equal(pka(["document-params", "--spec", spec, "--config", ok]).code, 0);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("document-params reads stdin for at most one input and refuses an oversized one", () => {
        const r = pka(["document-params", "--spec", "-", "--config", "-"], "{}");
        assert.equal(r.code, 2);
        assert.match(r.stderr, /only one of --spec, --config and --fallback-key may read stdin/);
        const big = pka(["document-params", "--spec", "-"], " ".repeat(1024 * 1024 + 10));
        assert.equal(big.code, 2);
        assert.match(big.stderr, /spec on stdin is larger than 1048576 bytes/);
    });
});
