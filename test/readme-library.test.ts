/**
 * The README's library examples use only what the package exports: every name imported in a code
 * block marked `<!-- library: <module> -->` is exported by that module of the compiled package
 * (package.json `exports` resolved as Node resolves it for a user).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..");
const README = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");

/** Each `<!-- library: MODULE -->` block: the module and the names its `import { ... } from "MODULE"` lines take. */
function libraryBlocks(): { module: string; names: string[] }[] {
    const out: { module: string; names: string[] }[] = [];
    const re = /<!-- library: ([^ ]+) -->\n```ts\n([\s\S]*?)\n```/g;
    for (let m = re.exec(README); m; m = re.exec(README)) {
        const names: string[] = [];
        const imp = /import\s*\{([^}]*)\}\s*from\s*"([^"]+)"/g;
        for (let i = imp.exec(m[2]); i; i = imp.exec(m[2])) {
            if (i[2] !== m[1]) continue;
            names.push(
                ...i[1]
                    .split(",")
                    .map((n) => n.trim().replace(/^type\s+/, ""))
                    .filter(Boolean),
            );
        }
        out.push({ module: m[1], names });
    }
    return out;
}

/** The compiled file package.json `exports` maps a module specifier of this package to. */
function exported(spec: string): string {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
    const sub = spec === pkg.name ? "." : `.${spec.slice(pkg.name.length)}`;
    const entry = pkg.exports[sub];
    assert.ok(entry, `package.json exports has no ${JSON.stringify(sub)} (README imports ${spec})`);
    return path.join(ROOT, typeof entry === "string" ? entry : entry.default);
}

describe("README library examples match the package's exports", () => {
    const blocks = libraryBlocks();

    it("the README has the library blocks (pka-fleet, pka-fleet/testing)", () => {
        assert.deepStrictEqual([...new Set(blocks.map((b) => b.module))].sort(), ["pka-fleet", "pka-fleet/testing"]);
        assert.ok(blocks.length >= 3, "the key material, certificate and testing blocks");
        for (const b of blocks) assert.ok(b.names.length > 0, `the ${b.module} block imports something`);
    });

    for (const b of libraryBlocks()) {
        it(`every name the ${b.module} block imports is exported: ${b.names.join(", ")}`, () => {
            const file = exported(b.module);
            if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\``);
            const mod = require(file);
            const missing = b.names.filter((n) => !(n in mod));
            assert.deepStrictEqual(missing, [], `${b.module} does not export ${missing.join(", ")}`);
        });
    }

    it("library blocks import only from their module (or @pulumi/*), never from the repository's paths", () => {
        const re = /<!-- library: ([^ ]+) -->\n```ts\n([\s\S]*?)\n```/g;
        for (let m = re.exec(README); m; m = re.exec(README)) {
            const froms = [...m[2].matchAll(/\bfrom\s*"([^"]+)"/g)].map((f) => f[1]);
            const stray = froms.filter((f) => f !== m![1] && !f.startsWith("@pulumi/"));
            assert.deepStrictEqual(stray, [], `the ${m[1]} block imports from ${stray.join(", ")}`);
        }
    });

    it("every function a library block calls is imported there (or is a method, a builtin or a placeholder)", () => {
        const re = /<!-- library: ([^ ]+) -->\n```ts\n([\s\S]*?)\n```/g;
        const builtins = new Set([
            "import",
            "require",
            "await",
            "Promise",
            "Object",
            "JSON",
            "String",
            "Number",
            "Array",
            "Buffer",
            "Date",
        ]);
        for (let m = re.exec(README); m; m = re.exec(README)) {
            const code = m[2]
                .split("\n")
                .map((l) => l.replace(/\/\/.*$/, ""))
                .join("\n");
            const imported = new Set(
                [...code.matchAll(/import\s*\{([^}]*)\}/g)]
                    .flatMap((i) => i[1].split(",").map((n) => n.trim().replace(/^type\s+/, "")))
                    .filter(Boolean),
            );
            const called = [...code.matchAll(/(^|[^.\w$])([A-Za-z_$][\w$]*)\s*\(/g)]
                .map((c) => c[2])
                .filter((n) => !builtins.has(n));
            const unknown = [...new Set(called.filter((n) => !imported.has(n)))];
            assert.deepStrictEqual(unknown, [], `the ${m[1]} block calls ${unknown.join(", ")} without importing it`);
        }
    });

    it("every code name the Library section's prose mentions is exported by pka-fleet", () => {
        const start = README.indexOf("\n### Library\n");
        assert.ok(start >= 0, "README has a ### Library section");
        const end = README.slice(start + 1).search(/\n#{2,3} /);
        const prose = README.slice(start, end < 0 ? undefined : start + 1 + end).replace(/```[\s\S]*?```/g, "");
        const names = [
            ...new Set(
                [...prose.matchAll(/`([A-Za-z_$][\w$]*)(\(\))?`/g)]
                    .map((n) => n[1])
                    .filter((n) => /[a-z][A-Z]|^[A-Z][a-z]+[A-Z]/.test(n)),
            ),
        ];
        assert.ok(names.length > 0, "the prose names some functions");
        const mod = require(exported("pka-fleet"));
        const missing = names.filter((n) => !(n in mod));
        assert.deepStrictEqual(
            missing,
            [],
            `the Library section names ${missing.join(", ")}, which pka-fleet does not export`,
        );
    });

    it("the check fails for a name the package does not export", () => {
        const mod = require(exported("pka-fleet"));
        for (const n of ["createKey", "checkKeyRules", "renderDocument"])
            assert.ok(!(n in mod), `${n} is internal, not exported`);
    });
});
