import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AccessSpecError, AccessUser, renderManifest, validateAccessSpec } from "../core/accessSpec";
import {
    DOCUMENT_SCHEMA_VERSION,
    MAX_COMMAND_BYTES,
    SPEC_ALLOWED_PATTERN,
    commandBytes,
    documentParameters,
    maxSpecBase64Length,
    renderDocument,
    renderDocumentJson,
} from "../core/document";
import { generateKey } from "../core/keys";
import { SETUP_SCRIPT, scriptLines } from "../core/script.sh";
import { InvalidParametersError, validateCommandParameters } from "../local/agent";
import { requireReal } from "./support/env";

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
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
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
        const spec = validateAccessSpec({ users: [{ name: "svc_user", sudo: "nopasswd", keys: [ED], keyOptions: "restrict" }] });
        const p = documentParameters(spec);
        assert.deepEqual(Object.keys(p).sort(), ["AccessSpec", "AccessSpecSha256"]);
        assert.match(p.AccessSpec[0], new RegExp(SPEC_ALLOWED_PATTERN));
        assert.equal(Buffer.from(p.AccessSpec[0], "base64").toString(), renderManifest(spec));
        assert.equal(p.AccessSpecSha256[0], require("crypto").createHash("sha256").update(renderManifest(spec)).digest("hex"));
        // SendCommand's own checks (as the local SSM endpoint applies them) accept it
        validateCommandParameters(renderDocumentJson(), p);
    });

    it("has parameter patterns that refuse hostile values before the script sees them", () => {
        const good = documentParameters(validateAccessSpec({ users: [] }));
        const hostile = ["$(id)", "`id`", "a b", "abc", "AAAA\nAAAA", "AAAA;", "{{AccessSpecSha256}}", "=AAA", "AAAA====", ""];
        for (const v of hostile) {
            assert.throws(() => validateCommandParameters(renderDocumentJson(), { ...good, AccessSpec: [v] }), InvalidParametersError, v);
        }
        for (const v of ["0".repeat(63), "G".repeat(64), "0".repeat(65), "A".repeat(64)]) {
            assert.throws(() => validateCommandParameters(renderDocumentJson(), { ...good, AccessSpecSha256: [v] }), InvalidParametersError, v);
        }
        assert.throws(() => validateCommandParameters(renderDocumentJson(), { AccessSpec: good.AccessSpec }), /required/);
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
        assert.ok(lo >= 200, `only ${lo} ed25519 users fit`);
        try {
            documentParameters(mk(hi));
            assert.fail("accepted a spec over 64 KB");
        } catch (e) {
            assert.ok(e instanceof AccessSpecError);
            assert.match(e.message, /over SSM's 65536-byte limit/);
            assert.match(e.message, /ed25519/);
        }
        assert.ok(maxSpecBase64Length() > 40000 && maxSpecBase64Length() % 4 === 0);
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
