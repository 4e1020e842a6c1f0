/**
 * The house rules, checked by tools rather than by review: imports run one way down the layers,
 * no source file outgrows ~400 lines, the formatter has nothing to change, and the repository
 * cites nothing outside itself. docs/ARCHITECTURE.md describes the layers these tests enforce.
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

const ROOT = path.resolve(__dirname, "..");
const SOURCE_DIRS = ["core", "components", "lambda", "local", "policy", "cli", "bench", "scripts"];
const MAX_LINES = 400;

function walk(dir: string): string[] {
    const out: string[] = [];
    for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
        const rel = path.posix.join(dir, e.name);
        if (e.isDirectory()) out.push(...walk(rel));
        else if (/\.(ts|js)$/.test(e.name) && !e.name.endsWith(".d.ts")) out.push(rel);
    }
    return out;
}

function sourceFiles(): string[] {
    return ["index.ts", ...SOURCE_DIRS.flatMap(walk)].sort();
}

/** Every module specifier a file imports or re-exports, `require`s included. */
export function importsOf(file: string, text: string): string[] {
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    const out: string[] = [];
    const visit = (n: ts.Node): void => {
        if (
            (ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) &&
            n.moduleSpecifier &&
            ts.isStringLiteral(n.moduleSpecifier)
        ) {
            out.push(n.moduleSpecifier.text);
        } else if (
            ts.isCallExpression(n) &&
            (n.expression.getText(sf) === "require" || n.expression.kind === ts.SyntaxKind.ImportKeyword) &&
            n.arguments.length === 1 &&
            ts.isStringLiteral(n.arguments[0])
        ) {
            out.push(n.arguments[0].text);
        } else if (
            ts.isImportTypeNode(n) &&
            ts.isLiteralTypeNode(n.argument) &&
            ts.isStringLiteral(n.argument.literal)
        ) {
            out.push(n.argument.literal.text);
        }
        ts.forEachChild(n, visit);
    };
    visit(sf);
    return out;
}

/** The names a file imports from one specifier (`import { a, B } from "x"`). */
function namedImports(file: string, text: string, spec: string): string[] {
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    const names: string[] = [];
    for (const st of sf.statements) {
        if (!ts.isImportDeclaration(st) || !ts.isStringLiteral(st.moduleSpecifier) || st.moduleSpecifier.text !== spec)
            continue;
        const b = st.importClause?.namedBindings;
        if (b && ts.isNamedImports(b)) names.push(...b.elements.map((e) => (e.propertyName ?? e.name).text));
        else names.push("*");
    }
    return names;
}

const LAYER_OF = (file: string): string => (file === "index.ts" ? "root" : file.split("/")[0]);

/** Which layers each layer may import (relative imports only; npm packages are checked below). */
const MAY_IMPORT: Record<string, readonly string[]> = {
    core: ["core"],
    lambda: ["lambda", "core"],
    policy: ["policy", "core"],
    components: ["components", "core"],
    local: ["local", "core"],
    cli: ["cli", "core", "policy", "local"],
    root: ["components", "core"],
    bench: ["bench", "core", "lambda", "local", "cli", "components", "policy", "test"],
    scripts: ["scripts"],
};

/** What a layer problem would be for one relative import, or undefined. */
export function layerProblem(file: string, spec: string, names: string[]): string | undefined {
    if (!spec.startsWith(".")) {
        if (LAYER_OF(file) === "core" && spec.startsWith("@pulumi/"))
            return `${file} imports ${spec}: core imports no Pulumi`;
        if (LAYER_OF(file) === "lambda" && spec.startsWith("@pulumi/"))
            return `${file} imports ${spec}: the Lambda imports no Pulumi`;
        return undefined;
    }
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
    const to = target.split("/")[0] === "index" ? "root" : target.split("/")[0];
    const from = LAYER_OF(file);
    if (!(MAY_IMPORT[from] ?? []).includes(to))
        return `${file} imports ${spec}: ${from} may import only ${MAY_IMPORT[from].join(", ")}`;
    // A component composes another component (its class and argument types) but never reaches
    // into its helpers: those live in core.
    if (from === "components" && to === "components" && /^components\/[A-Z]/.test(target)) {
        const helpers = names.filter((n) => n !== "*" && !/^[A-Z]/.test(n));
        if (helpers.length > 0)
            return `${file} imports ${helpers.join(", ")} from ${spec}: a component's helpers live in core`;
    }
    return undefined;
}

describe("house rules", () => {
    const files = sourceFiles();

    it("finds the source files it checks", () => {
        for (const f of [
            "index.ts",
            "core/document/index.ts",
            "lambda/provisioner.ts",
            "components/PkaFleet.ts",
            "policy/index.ts",
        ]) {
            assert.ok(files.includes(f), `${f} not found among ${files.length} files`);
        }
    });

    it("imports run one way, down the layers (core imports no Pulumi; components import core, never each other's helpers)", () => {
        const problems: string[] = [];
        for (const f of files) {
            const text = fs.readFileSync(path.join(ROOT, f), "utf8");
            for (const spec of new Set(importsOf(f, text))) {
                const p = layerProblem(f, spec, namedImports(f, text, spec));
                if (p) problems.push(p);
            }
        }
        assert.deepEqual(problems, []);
    });

    it("the layer check refuses what it should (an upward import, Pulumi in core, a component's helper)", () => {
        assert.match(layerProblem("core/x.ts", "../components/PkaFleet", []) ?? "", /core may import only core/);
        assert.match(layerProblem("core/x.ts", "@pulumi/pulumi", []) ?? "", /core imports no Pulumi/);
        assert.match(layerProblem("lambda/x.ts", "../local/queue", []) ?? "", /lambda may import only/);
        assert.match(
            layerProblem("components/PkaFleet.ts", "./Provisioner", ["Provisioner", "checkKeyRuleArgs"]) ?? "",
            /checkKeyRuleArgs/,
        );
        assert.equal(
            layerProblem("components/PkaFleet.ts", "./Provisioner", ["Provisioner", "ProvisionerArgs"]),
            undefined,
        );
        assert.equal(layerProblem("components/PkaFleet.ts", "../core/fleetPlan", ["planFleet"]), undefined);
        assert.equal(layerProblem("components/SshKeyPair.ts", "./keyPairProvider", ["keyPairProvider"]), undefined);
        assert.deepEqual(
            importsOf(
                "x.ts",
                `import a from "./a"; export * from "./b"; const c = require("./c"); type D = import("./d").D;`,
            ),
            ["./a", "./b", "./c", "./d"],
        );
    });

    it(`no source file outside test/ is over ${MAX_LINES} lines`, () => {
        const long = files
            .map((f) => ({ f, n: fs.readFileSync(path.join(ROOT, f), "utf8").split("\n").length - 1 }))
            .filter((x) => x.n > MAX_LINES)
            .map((x) => `${x.f}: ${x.n} lines`);
        assert.deepEqual(long, []);
    });

    it("the formatter (prettier, .prettierrc.json) has nothing to change", function () {
        this.timeout(120_000);
        const prettier = path.join(ROOT, "node_modules", ".bin", "prettier");
        let out = "";
        try {
            out = execFileSync(prettier, ["--list-different", "."], {
                cwd: ROOT,
                encoding: "utf8",
                stdio: ["ignore", "pipe", "pipe"],
            });
        } catch (e) {
            const err = e as { status?: number; stdout?: string; stderr?: string };
            // exit 1: some files differ (listed on stdout); anything else: prettier itself failed
            if (err.status !== 1) throw new Error(`prettier failed (exit ${err.status}): ${err.stderr}`);
            out = err.stdout ?? "";
        }
        assert.deepEqual(out.split("\n").filter(Boolean), [], "run `npx prettier --write .`");
    });

    it("the compiler's unused-code checks are on (tsconfig.json), so the build refuses unused locals and parameters", () => {
        const cfg = ts.readConfigFile(path.join(ROOT, "tsconfig.json"), ts.sys.readFile).config;
        assert.equal(cfg.compilerOptions.noUnusedLocals, true);
        assert.equal(cfg.compilerOptions.noUnusedParameters, true);
        assert.equal(cfg.compilerOptions.strict, true);
    });

    it("the repository cites nothing outside itself and disables no linter it does not run", () => {
        const tracked = execFileSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8" })
            .split("\n")
            .filter((f) => f && !f.startsWith("node_modules/") && !f.endsWith(".ppk"));
        const problems: string[] = [];
        for (const f of tracked.concat(files.filter((f) => !tracked.includes(f)))) {
            const p = path.join(ROOT, f);
            if (!fs.existsSync(p) || fs.statSync(p).size > 2_000_000 || f === "test/house-rules.test.ts") continue;
            const text = fs.readFileSync(p, "utf8");
            if (/FACTS\.md|\.\.\/shared\//.test(text)) problems.push(`${f} cites a file outside the repository`);
            if (/eslint-disable/.test(text)) problems.push(`${f} disables eslint, which this repository does not run`);
        }
        assert.deepEqual(problems, []);
    });
});
