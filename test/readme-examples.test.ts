/**
 * The README's examples for other languages (`pulumi package add`) use only what bin/schema.json
 * has: resource types, input names (camelCase in YAML, snake_case in Python), output names,
 * type and enum names as the SDK generators name them, enum values, value kinds, required inputs.
 *
 * The examples are found by a marker, an HTML comment on the line before the code fence:
 *   <!-- example: pulumi-package-yaml -->     (a Pulumi YAML program)
 *   <!-- example: pulumi-package-python -->   (a Python program)
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";

const ROOT = path.resolve(__dirname, "..");
const README = path.join(ROOT, "README.md");
const SCHEMA_FILE = path.join(ROOT, "bin", "schema.json");
const PACKAGE = "pka-fleet";
const PY_MODULE = "pulumi_pka_fleet";

/** The code block after `<!-- example: NAME -->`. */
function example(name: string, lang: string): string {
    const text = fs.readFileSync(README, "utf8");
    const marker = `<!-- example: ${name} -->`;
    const at = text.indexOf(marker);
    assert.ok(
        at >= 0,
        `README.md has no \`${marker}\` line before its ${lang} example of \`pulumi package add\`: add it on the line before the \`\`\`${lang} fence`,
    );
    assert.strictEqual(text.indexOf(marker, at + 1), -1, `README.md has \`${marker}\` twice`);
    const m = /^\s*```(\w+)\n([\s\S]*?)\n```/.exec(text.slice(at + marker.length));
    assert.ok(m, `README.md: no code block right after \`${marker}\``);
    assert.strictEqual(m[1], lang, `README.md: the block after \`${marker}\` is \`\`\`${m[1]}, expected \`\`\`${lang}`);
    return m[2];
}

// ---------------------------------------------------------------------------------------------
// The schema, and names as the Python SDK generator makes them.

interface Spec {
    type?: string;
    $ref?: string;
    items?: Spec;
    additionalProperties?: Spec;
}
type Schema = { resources: Record<string, any>; types: Record<string, any> };

/** Pulumi's Python names: camelCase to snake_case (`ec2KeyName` -> `ec2_key_name`). */
function pyName(s: string): string {
    return s
        .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
        .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
        .toLowerCase();
}
/** A Python enum member: the schema enum entry's name, upper snake case (`InstanceRunning` -> `INSTANCE_RUNNING`). */
const pyEnumMember = (e: { name?: string; value: string }) => pyName(e.name ?? e.value).toUpperCase();

const short = (token: string) => token.split(":")[2];
const refToken = (ref: string) => ref.replace(/^#\/types\//, "");

function loadSchema(): Schema {
    if (!fs.existsSync(SCHEMA_FILE)) throw new Error(`${SCHEMA_FILE} is missing: run \`npm run build\``);
    return JSON.parse(fs.readFileSync(SCHEMA_FILE, "utf8"));
}

// ---------------------------------------------------------------------------------------------
// YAML: the program as Pulumi YAML reads it, each value checked against its schema property.

const isExpression = (v: unknown) => typeof v === "string" && /\$\{[^}]+\}/.test(v);

function checkYamlValue(schema: Schema, spec: Spec, value: unknown, where: string, problems: string[]): void {
    if (isExpression(value)) return; // an interpolation: its value is known only when the program runs
    if (spec.$ref) {
        const token = refToken(spec.$ref);
        const type = schema.types[token];
        if (!type) return void problems.push(`${where}: the schema has no type ${token}`);
        if (type.enum) {
            const values = type.enum.map((e: any) => e.value);
            if (!values.includes(value))
                problems.push(
                    `${where}: ${JSON.stringify(value)} is not a ${short(token)} value (${values.join(", ")})`,
                );
            return;
        }
        if (!value || typeof value !== "object" || Array.isArray(value))
            return void problems.push(`${where}: expected an object (${short(token)})`);
        checkYamlObject(
            schema,
            type.properties ?? {},
            type.required ?? [],
            value as Record<string, unknown>,
            `${where} (${short(token)})`,
            problems,
        );
        return;
    }
    switch (spec.type) {
        case "string":
            if (typeof value !== "string") problems.push(`${where}: expected a string, got ${JSON.stringify(value)}`);
            return;
        case "boolean":
            if (typeof value !== "boolean")
                problems.push(`${where}: expected true or false, got ${JSON.stringify(value)}`);
            return;
        case "integer":
            if (!Number.isInteger(value)) problems.push(`${where}: expected an integer, got ${JSON.stringify(value)}`);
            return;
        case "number":
            if (typeof value !== "number") problems.push(`${where}: expected a number, got ${JSON.stringify(value)}`);
            return;
        case "array":
            if (!Array.isArray(value)) return void problems.push(`${where}: expected a list`);
            value.forEach((v, i) => checkYamlValue(schema, spec.items ?? {}, v, `${where}[${i}]`, problems));
            return;
        case "object":
            if (!value || typeof value !== "object" || Array.isArray(value))
                return void problems.push(`${where}: expected a map`);
            for (const [k, v] of Object.entries(value))
                checkYamlValue(schema, spec.additionalProperties ?? {}, v, `${where}.${k}`, problems);
            return;
    }
}

function checkYamlObject(
    schema: Schema,
    props: Record<string, Spec>,
    required: string[],
    value: Record<string, unknown>,
    where: string,
    problems: string[],
): void {
    for (const [k, v] of Object.entries(value)) {
        if (!props[k]) problems.push(`${where}: no input \`${k}\` (the inputs are ${Object.keys(props).join(", ")})`);
        else checkYamlValue(schema, props[k], v, `${where}.${k}`, problems);
    }
    for (const r of required) if (!(r in value)) problems.push(`${where}: the required input \`${r}\` is missing`);
}

function checkYamlProgram(schema: Schema, text: string): string[] {
    const problems: string[] = [];
    const doc = YAML.parse(text);
    const resources: Record<string, any> = doc?.resources ?? {};
    assert.ok(Object.keys(resources).length > 0, "the YAML example declares no resource");
    const typeOf: Record<string, string> = {};
    for (const [name, r] of Object.entries(resources)) {
        // Pulumi YAML reads `pkg:Name` as `pkg:index:Name`.
        const token =
            typeof r.type === "string" && r.type.split(":").length === 2 ? r.type.replace(":", ":index:") : r.type;
        const res = schema.resources[token];
        if (!res) {
            problems.push(
                `resources.${name}: type ${r.type} is not in the schema (the types are ${Object.keys(schema.resources).join(", ")})`,
            );
            continue;
        }
        typeOf[name] = token;
        checkYamlObject(
            schema,
            res.inputProperties ?? {},
            res.requiredInputs ?? [],
            r.properties ?? {},
            `resources.${name}`,
            problems,
        );
    }
    // Every ${resource.output} names an output of that resource.
    for (const m of text.matchAll(/\$\{([A-Za-z0-9_-]+)\.([A-Za-z0-9_]+)[^}]*\}/g)) {
        const [, res, out] = m;
        if (!typeOf[res]) continue; // config, variables or other packages
        const outputs = Object.keys(schema.resources[typeOf[res]].properties ?? {});
        if (!outputs.includes(out))
            problems.push(
                `\${${res}.${out}}: ${short(typeOf[res])} has no output \`${out}\` (the outputs are ${outputs.join(", ")})`,
            );
    }
    return problems;
}

// ---------------------------------------------------------------------------------------------
// Python: a small parser for the subset the examples use (imports, assignments, calls with keyword
// arguments, lists, dicts, literals, attribute access), then each call checked against the schema.

type Py =
    | { k: "str"; v: string }
    | { k: "num"; v: number; int: boolean }
    | { k: "bool"; v: boolean }
    | { k: "none" }
    | { k: "list"; items: Py[] }
    | { k: "dict"; entries: [Py, Py][] }
    | { k: "name"; path: string[] }
    | { k: "call"; path: string[]; args: Py[]; kwargs: [string, Py][] };

function tokenize(src: string): string[] {
    const tokens: string[] = [];
    const re =
        /[ \t\r]*(#[^\n]*|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|\d+(?:\.\d+)?|[A-Za-z_][A-Za-z0-9_]*|[()[\]{},.:=]|\n|\S)/y;
    let depth = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(src)) && m[0].length) {
        const t = m[1];
        if (t.startsWith("#")) continue;
        if ("([{".includes(t)) depth++;
        if (")]}".includes(t)) depth--;
        if (t === "\n") {
            if (depth === 0 && tokens[tokens.length - 1] !== "\n") tokens.push("\n");
            continue;
        }
        tokens.push(t);
    }
    return tokens;
}

function parsePython(src: string): { imports: Record<string, string>; statements: { target?: string; expr: Py }[] } {
    const toks = tokenize(src);
    let i = 0;
    const peek = () => toks[i];
    const next = () => toks[i++];
    const expect = (t: string) => {
        if (toks[i] !== t)
            throw new Error(
                `Python example: expected \`${t}\` at token ${i} (\`${toks.slice(Math.max(0, i - 3), i + 3).join(" ")}\`)`,
            );
        i++;
    };
    function expr(): Py {
        const t = next();
        if (/^["']/.test(t)) return { k: "str", v: t.slice(1, -1) };
        if (/^\d/.test(t)) return { k: "num", v: Number(t), int: !t.includes(".") };
        if (t === "True" || t === "False") return { k: "bool", v: t === "True" };
        if (t === "None") return { k: "none" };
        if (t === "[") {
            const items: Py[] = [];
            while (peek() !== "]") {
                items.push(expr());
                if (peek() === ",") next();
            }
            expect("]");
            return { k: "list", items };
        }
        if (t === "{") {
            const entries: [Py, Py][] = [];
            while (peek() !== "}") {
                const key = expr();
                expect(":");
                entries.push([key, expr()]);
                if (peek() === ",") next();
            }
            expect("}");
            return { k: "dict", entries };
        }
        if (!/^[A-Za-z_]/.test(t)) throw new Error(`Python example: unexpected \`${t}\``);
        const p = [t];
        while (peek() === ".") {
            next();
            p.push(next());
        }
        if (peek() !== "(") return { k: "name", path: p };
        next();
        const args: Py[] = [];
        const kwargs: [string, Py][] = [];
        while (peek() !== ")") {
            if (/^[A-Za-z_]/.test(peek()) && toks[i + 1] === "=") {
                const kw = next();
                next();
                kwargs.push([kw, expr()]);
            } else args.push(expr());
            if (peek() === ",") next();
        }
        expect(")");
        return { k: "call", path: p, args, kwargs };
    }
    const imports: Record<string, string> = {};
    const statements: { target?: string; expr: Py }[] = [];
    while (i < toks.length) {
        if (peek() === "\n") {
            next();
            continue;
        }
        if (peek() === "import" || peek() === "from") {
            const kind = next();
            const mod = [next()];
            while (peek() === ".") {
                next();
                mod.push(next());
            }
            if (kind === "from")
                throw new Error(
                    "Python example: use `import module as alias` (the check resolves names through the alias)",
                );
            let alias = mod.join(".");
            if (peek() === "as") {
                next();
                alias = next();
            }
            imports[alias] = mod.join(".");
        } else if (/^[A-Za-z_]/.test(peek()) && toks[i + 1] === "=") {
            const target = next();
            next();
            statements.push({ target, expr: expr() });
        } else statements.push({ expr: expr() });
        if (i < toks.length) expect("\n");
    }
    return { imports, statements };
}

function checkPythonProgram(schema: Schema, src: string): string[] {
    const problems: string[] = [];
    const { imports, statements } = parsePython(src);
    const alias = Object.keys(imports).find((a) => imports[a] === PY_MODULE);
    assert.ok(
        alias,
        `the Python example imports ${PY_MODULE} (the module \`pulumi package add\` generates for ${PACKAGE})`,
    );
    const resources = new Map(Object.entries(schema.resources).map(([t, r]) => [short(t), r]));
    const objectTypes = new Map(
        Object.entries(schema.types)
            .filter(([, t]) => !t.enum)
            .map(([t, d]) => [short(t), { token: t, def: d }]),
    );
    const enums = new Map(
        Object.entries(schema.types)
            .filter(([, t]) => t.enum)
            .map(([t, d]) => [short(t), { token: t, def: d }]),
    );
    const variables = new Map<string, string>(); // variable -> resource short name

    const checkKwargs = (where: string, props: Record<string, Spec>, required: string[], kwargs: [string, Py][]) => {
        const byPy = new Map(Object.entries(props).map(([k, s]) => [pyName(k), { k, s }]));
        for (const [kw, v] of kwargs) {
            const p = byPy.get(kw);
            if (!p) problems.push(`${where}: no argument \`${kw}\` (the arguments are ${[...byPy.keys()].join(", ")})`);
            else checkValue(p.s, v, `${where}.${kw}`);
        }
        for (const r of required)
            if (!kwargs.some(([kw]) => kw === pyName(r)))
                problems.push(`${where}: the required argument \`${pyName(r)}\` is missing`);
    };
    /** A name or call through the package alias: what it is in the schema. */
    const resolve = (e: Py, where: string): void => {
        if (e.k === "list") return e.items.forEach((x, i) => resolve(x, `${where}[${i}]`));
        if (e.k === "dict") return e.entries.forEach(([, v]) => resolve(v, where));
        if (e.k === "name") {
            if (e.path[0] === alias) {
                const [, en, member] = e.path;
                const def = enums.get(en);
                if (!def || e.path.length !== 3)
                    return void problems.push(`${where}: ${e.path.join(".")} is not an enum member of the schema`);
                const members = def.def.enum.map(pyEnumMember);
                if (!members.includes(member))
                    problems.push(`${where}: ${en} has no member ${member} (it has ${members.join(", ")})`);
            } else if (variables.has(e.path[0]) && e.path.length === 2) {
                const res = variables.get(e.path[0])!;
                const outputs = Object.keys(resources.get(res).properties ?? {}).map(pyName);
                if (!outputs.includes(e.path[1]))
                    problems.push(`${where}: ${res} has no output \`${e.path[1]}\` (it has ${outputs.join(", ")})`);
            }
            return;
        }
        if (e.k !== "call") return;
        if (e.path[0] === alias) {
            const name = e.path.slice(1).join(".");
            if (resources.has(name)) {
                const r = resources.get(name);
                if (e.args[0]?.k !== "str") problems.push(`${where}: ${alias}.${name} takes the resource name first`);
                checkKwargs(`${alias}.${name}`, r.inputProperties ?? {}, r.requiredInputs ?? [], e.kwargs);
            } else if (/Args$/.test(name) && objectTypes.has(name.replace(/Args$/, ""))) {
                const t = objectTypes.get(name.replace(/Args$/, ""))!;
                checkKwargs(`${alias}.${name}`, t.def.properties ?? {}, t.def.required ?? [], e.kwargs);
            } else {
                problems.push(
                    `${where}: ${alias}.${name} is not in the generated SDK (components: ${[...resources.keys()].join(", ")}; input types: ${[...objectTypes.keys()].map((t) => `${t}Args`).join(", ")})`,
                );
            }
            return;
        }
        e.args.forEach((a, i) => resolve(a, `${where}(${i})`));
        e.kwargs.forEach(([k, v]) => resolve(v, `${where}.${k}`));
    };
    const checkValue = (spec: Spec, v: Py, where: string): void => {
        const literal = ["str", "num", "bool", "list", "dict"].includes(v.k);
        if (spec.$ref) {
            const token = refToken(spec.$ref);
            const en = enums.get(short(token));
            if (en) {
                const values = en.def.enum.map((e: any) => e.value);
                if (v.k === "str" && !values.includes(v.v))
                    problems.push(`${where}: "${v.v}" is not a ${short(token)} value (${values.join(", ")})`);
                else if (v.k === "name" && v.path[0] === alias && v.path[1] !== short(token))
                    problems.push(`${where}: expected a ${short(token)}, got ${v.path.join(".")}`);
                else if (literal && v.k !== "str") problems.push(`${where}: expected a ${short(token)}`);
            } else if (v.k === "call" && v.path[0] === alias && v.path[1] !== `${short(token)}Args`) {
                problems.push(`${where}: expected ${alias}.${short(token)}Args, got ${v.path.join(".")}`);
            } else if (literal && v.k !== "dict") problems.push(`${where}: expected ${alias}.${short(token)}Args(...)`);
        } else if (literal) {
            const kind = {
                str: "string",
                num: v.k === "num" && v.int ? "integer" : "number",
                bool: "boolean",
                list: "array",
                dict: "object",
            }[v.k as "str"];
            const ok = kind === spec.type || (kind === "integer" && spec.type === "number");
            if (!ok) problems.push(`${where}: a ${kind} where the schema has ${spec.type}`);
            if (v.k === "list" && spec.items)
                return v.items.forEach((x, i) => checkValue(spec.items!, x, `${where}[${i}]`));
        }
        resolve(v, where);
    };

    for (const s of statements) {
        resolve(s.expr, s.target ?? "statement");
        if (
            s.target &&
            s.expr.k === "call" &&
            s.expr.path[0] === alias &&
            resources.has(s.expr.path.slice(1).join("."))
        )
            variables.set(s.target, s.expr.path.slice(1).join("."));
    }
    assert.ok(variables.size > 0, "the Python example declares no pka-fleet component");
    return problems;
}

describe("README examples for other languages use only what the schema has", () => {
    let schema: Schema;
    before(() => {
        schema = loadSchema();
    });

    it("the YAML example (`<!-- example: pulumi-package-yaml -->`)", () => {
        const problems = checkYamlProgram(schema, example("pulumi-package-yaml", "yaml"));
        assert.deepStrictEqual(
            problems,
            [],
            `README.md's YAML example does not match bin/schema.json:\n  ${problems.join("\n  ")}`,
        );
    });

    it("the Python example (`<!-- example: pulumi-package-python -->`)", () => {
        const problems = checkPythonProgram(schema, example("pulumi-package-python", "python"));
        assert.deepStrictEqual(
            problems,
            [],
            `README.md's Python example does not match bin/schema.json:\n  ${problems.join("\n  ")}`,
        );
    });

    it("the checks catch what they are for: unknown type, input, enum value, output, Args class, missing required input", () => {
        const yamlBad = [
            "resources:",
            "  web:",
            "    type: pka-fleet:KeyPair",
            "  fleet:",
            "    type: pka-fleet:index:PkaFleet",
            "    properties:",
            "      targetTags: { key: a, value: b }",
            "      users:",
            "        - name: bob",
            "          sudo: always",
            "          service: yes please",
            "outputs:",
            "  x: ${fleet.sshConfigs}",
        ].join("\n");
        const y = checkYamlProgram(schema, yamlBad).join("\n");
        assert.match(y, /type pka-fleet:KeyPair is not in the schema/);
        assert.match(y, /no input `targetTags`/);
        assert.match(y, /"always" is not a SudoMode value/);
        assert.match(y, /service: expected true or false/);
        assert.match(y, /PkaFleet has no output `sshConfigs`/);
        const pyBad = [
            "import pulumi",
            "import pulumi_pka_fleet as pka",
            "f = pka.PkaFleet('web', target_tag=pka.FleetTargetTagArgs(key='a'),",
            "    users=[pka.FleetUserArgs(name='x', sudo=pka.SudoMode.ALWAYS, generate_key=pka.SshKeyPairGenerateArgsArgs(key_type=pka.SshKeyType.ED25519))])",
            "k = pka.SshKeyPair('k', generate=pka.SshKeyPairGenerateArgs(bits='4096'))",
            "pulumi.export('c', f.ssh_configs)",
            "p = pka.PkaFleet('p', fleet_name='p')",
        ].join("\n");
        const p = checkPythonProgram(schema, pyBad).join("\n");
        assert.match(p, /FleetTargetTagArgs: the required argument `value` is missing/);
        assert.match(p, /SudoMode has no member ALWAYS/);
        assert.match(p, /pka\.SshKeyPairGenerateArgsArgs is not in the generated SDK/);
        assert.match(p, /bits: a string where the schema has integer/);
        assert.match(p, /PkaFleet has no output `ssh_configs`/);
        assert.match(p, /pka\.PkaFleet: the required argument `users` is missing/);
    });
});
