/**
 * scripts/bundle-lambda.js: the build step that writes the Lambda bundle (a contract). It is run
 * from a copy of the package layout so the real tree is never touched.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderDocumentJson } from "../core/document";

const ROOT = path.resolve(__dirname, "..");

describe("bundle-lambda build step", function () {
    let dir = "";
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-bundle-"));
        fs.mkdirSync(path.join(dir, "scripts"));
        fs.copyFileSync(path.join(ROOT, "scripts", "bundle-lambda.js"), path.join(dir, "scripts", "bundle-lambda.js"));
        fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    });
    after(() => {
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("fails (exit 1) with a clear message when the handler's entry file is missing", () => {
        const r = spawnSync(process.execPath, [path.join(dir, "scripts", "bundle-lambda.js")], { encoding: "utf8" });
        assert.equal(r.status, 1, r.stdout + r.stderr);
        assert.match(
            r.stderr,
            /bundle-lambda: the Lambda entry lambda\/provisioner\.ts is missing; cannot build bin\/lambda\/provisioner\.js/,
        );
        assert.ok(!fs.existsSync(path.join(dir, "bin")), "nothing was written");
    });
});

describe("bundle-lambda: what the Lambda bundle carries", function () {
    let dir = "";
    let inputs: string[] = [];
    let inOutput: Record<string, number> = {};
    let bytes = 0;
    let outfile = "";
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-bundle-meta-"));
        outfile = path.join(dir, "provisioner.js");
        const meta = path.join(dir, "meta.json");
        const r = spawnSync(
            process.execPath,
            [path.join(ROOT, "scripts", "bundle-lambda.js"), "--outfile", outfile, "--metafile", meta],
            { cwd: ROOT, encoding: "utf8" },
        );
        assert.equal(r.status, 0, r.stdout + r.stderr);
        const metafile = JSON.parse(fs.readFileSync(meta, "utf8"));
        const out = Object.values(metafile.outputs)[0] as {
            bytes: number;
            inputs: Record<string, { bytesInOutput: number }>;
        };
        inputs = Object.keys(out.inputs);
        inOutput = Object.fromEntries(Object.entries(out.inputs).map(([f, i]) => [f, i.bytesInOutput]));
        bytes = fs.statSync(outfile).size;
    });
    after(() => {
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("no sshpk or its crypto dependencies (the Lambda parses public keys only; generation is core/keygen.ts)", () => {
        const banned = inputs.filter(
            (f) =>
                /node_modules\/(sshpk|tweetnacl|jsbn|ecc-jsbn|bcrypt-pbkdf|asn1)\//.test(f) || f === "core/keygen.ts",
        );
        assert.deepStrictEqual(banned, []);
    });

    it("no default credential chain: credentials come from the environment (fromEnv)", () => {
        const banned = inputs.filter((f) =>
            /node_modules\/@aws-sdk\/(credential-provider-(node|ini|sso|process|web-identity|http|login)|nested-clients|token-providers)\//.test(
                f,
            ),
        );
        assert.deepStrictEqual(banned, []);
        assert.ok(
            inputs.some((f) => f.includes("node_modules/@aws-sdk/credential-provider-env/")),
            "fromEnv is bundled",
        );
    });

    it("the SDK clients' unused shapes are tree-shaken (EC2's schemas are a few KiB, not the whole service)", () => {
        const ec2Schemas = inputs
            .filter((f) => f.includes("node_modules/@aws-sdk/client-ec2/dist-es/schemas/"))
            .reduce((n, f) => n + inOutput[f], 0);
        assert.ok(
            ec2Schemas > 0 && ec2Schemas < 100 * 1024,
            `EC2 schemas: ${ec2Schemas} bytes (all of EC2's are about 1.1 MiB)`,
        );
        assert.ok(bytes <= 400_000, `bin/lambda/provisioner.js would be ${bytes} bytes; the issue's ceiling is 400 KB`);
    });

    it("carries the document's byte length, not its script: the bundled constant is renderDocumentJson()'s length", () => {
        const script = inputs.filter((f) => f.startsWith("core/script/") && f !== "core/script/contract.ts");
        assert.deepStrictEqual(script, [], "the setup script's parts stay out of the Lambda");
        assert.ok(!inputs.includes("core/document/render.ts"));
        // esbuild folded the define into the bundle: the byte length appears as a number literal
        const n = Buffer.byteLength(renderDocumentJson());
        assert.match(fs.readFileSync(outfile, "utf8"), new RegExp(`[^0-9.]${n}[^0-9.]`), `${n} is in the bundle`);
    });

    it("is one CommonJS file exporting handler", () => {
        const r = spawnSync(
            process.execPath,
            ["-e", `const m = require(${JSON.stringify(outfile)}); process.stdout.write(typeof m.handler)`],
            {
                encoding: "utf8",
                env: { PATH: process.env.PATH ?? "", AWS_REGION: "us-east-1" },
            },
        );
        assert.equal(r.stdout, "function", r.stderr);
    });
});
