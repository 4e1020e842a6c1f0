/**
 * `pka keygen` and `pka check-key`, run as a user runs them: a separate node process on the
 * real entry point cli/pka.ts. The CLI's modules are transpiled once into a temp dir (type
 * stripping only, like ts-node's transpile-only) so each run costs ~0.2 s instead of a ts-node
 * start; the source files are the ones in the tree, found by following their relative imports.
 */
import * as assert from "assert";
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";
import { generateKey } from "../core/keygen";
import { ensureBuilt, PKA_CLI } from "./support/built";
import { requireReal } from "./support/env";
import { runWithNonblockingStdin } from "./support/nonblockingStdin";

const ROOT = path.resolve(__dirname, "..");

/** Transpile cli/pka.ts and every local module it reaches into `out`, keeping the layout. */
function transpileCli(out: string): string {
    const todo = [path.join(ROOT, "cli", "pka.ts")];
    const done = new Set<string>();
    while (todo.length) {
        const file = todo.pop()!;
        if (done.has(file)) continue;
        done.add(file);
        const src = fs.readFileSync(file, "utf8");
        const js = ts.transpileModule(src, {
            compilerOptions: {
                module: ts.ModuleKind.CommonJS,
                target: ts.ScriptTarget.ES2022,
                esModuleInterop: true,
                useDefineForClassFields: false,
            },
            fileName: file,
        }).outputText;
        const dest = path.join(out, path.relative(ROOT, file)).replace(/\.ts$/, ".js");
        fs.mkdirSync(path.dirname(dest), { recursive: true });
        fs.writeFileSync(dest, js);
        // Static imports and the dispatcher's module table ("./keygen") both name relative modules.
        for (const m of src.matchAll(/(?:from\s+|require\(\s*|module:\s*)["'](\.{1,2}\/[^"']+)["']/g)) {
            const base = path.resolve(path.dirname(file), m[1]);
            for (const cand of [`${base}.ts`, path.join(base, "index.ts")]) if (fs.existsSync(cand)) todo.push(cand);
        }
    }
    return path.join(out, "cli", "pka.js");
}

let pkaJs: string;
let work: string;

function pka(args: string[], opts: { input?: string; cwd?: string } = {}): SpawnSyncReturns<string> {
    return spawnSync(process.execPath, [pkaJs, ...args], {
        cwd: opts.cwd ?? work,
        input: opts.input ?? "",
        encoding: "utf8",
        env: { ...process.env, NODE_PATH: path.join(ROOT, "node_modules") },
    });
}

function mode(p: string): number {
    return fs.statSync(p).mode & 0o777;
}

function sshKeygenFingerprint(file: string): string {
    const r = spawnSync("ssh-keygen", ["-l", "-E", "sha256", "-f", file], { encoding: "utf8" });
    assert.strictEqual(r.status, 0, r.stderr);
    return /(SHA256:[A-Za-z0-9+/]+)/.exec(r.stdout)![1];
}

describe("cli: pka keygen / pka check-key (real process)", function () {
    before(function () {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "pka-cli-keys-"));
        pkaJs = transpileCli(path.join(work, ".build"));
        fs.writeFileSync(path.join(work, "F"), "correct horse battery\n", { mode: 0o600 });
        fs.writeFileSync(path.join(work, "WRONG"), "wrong horse\n", { mode: 0o600 });
        // Keys for the check-key tests, made in-process (the keygen tests make their own).
        const rsa = generateKey({ type: "rsa", bits: 3072, comment: "svc" });
        fs.writeFileSync(path.join(work, "r"), rsa.privateKey, { mode: 0o600 });
        fs.writeFileSync(path.join(work, "r.pub"), rsa.publicKey + "\n");
        fs.writeFileSync(path.join(work, "e.pub"), generateKey({ type: "ecdsa", curve: "nistp384" }).publicKey + "\n");
    });
    after(() => work && fs.rmSync(work, { recursive: true, force: true }));

    it("Done when: keygen ed25519 + passphrase + ppk; ssh-keygen -y -P, puttygen and check-key --json agree", function () {
        requireReal(this, { commands: ["ssh-keygen", "puttygen"] });
        const r = pka([
            "keygen",
            "--type",
            "ed25519",
            "--passphrase-file",
            "F",
            "--ppk",
            "--out",
            "k",
            "--comment",
            "ops@central",
        ]);
        assert.strictEqual(r.status, 0, r.stderr);
        const pass = "correct horse battery";
        // Never prints a secret.
        assert.ok(!r.stdout.includes(pass) && !r.stderr.includes(pass), "printed the passphrase");
        assert.ok(!/PRIVATE KEY|Private-Lines/.test(r.stdout + r.stderr), "printed key material");
        const k = path.join(work, "k");
        assert.strictEqual(mode(k), 0o600);
        assert.strictEqual(mode(`${k}.ppk`), 0o600);
        assert.strictEqual(mode(`${k}.pub`), 0o644);

        const y = spawnSync("ssh-keygen", ["-y", "-P", pass, "-f", k], { encoding: "utf8" });
        assert.strictEqual(y.status, 0, y.stderr);
        const pub = fs.readFileSync(`${k}.pub`, "utf8").trim();
        assert.strictEqual(y.stdout.trim().split(" ").slice(0, 2).join(" "), pub.split(" ").slice(0, 2).join(" "));
        const noPass = spawnSync("ssh-keygen", ["-y", "-P", "", "-f", k], { encoding: "utf8" });
        assert.notStrictEqual(noPass.status, 0, "the private key is not encrypted");

        const pg = spawnSync("puttygen", [`${k}.ppk`, "-O", "fingerprint", "--old-passphrase", path.join(work, "F")], {
            encoding: "utf8",
            input: "",
        });
        assert.strictEqual(pg.status, 0, pg.stderr);
        const puttyFp = /(SHA256:[A-Za-z0-9+/]+)/.exec(pg.stdout)![1];

        const c = pka(["check-key", "k.pub", "--json"]);
        assert.strictEqual(c.status, 0, c.stderr);
        const j = JSON.parse(c.stdout);
        assert.deepStrictEqual(Object.keys(j), [
            "ok",
            "type",
            "bits",
            "curve",
            "fingerprint",
            "comment",
            "encrypted",
            "private",
            "violations",
            "advisories",
            "enforcementLevels",
        ]);
        assert.strictEqual(j.ok, true);
        assert.strictEqual(j.type, "ed25519");
        assert.strictEqual(j.comment, "ops@central");
        assert.strictEqual(j.private, false);
        assert.deepStrictEqual(j.violations, []);
        assert.deepStrictEqual(j.advisories, []);
        assert.deepStrictEqual(j.enforcementLevels, {
            "ssh-key-algorithm": "mandatory",
            "ssh-key-passphrase": "mandatory",
        });
        assert.strictEqual(j.fingerprint, puttyFp);
        assert.strictEqual(j.fingerprint, sshKeygenFingerprint(k));

        // The private key itself is judged without its passphrase (OpenSSH keeps the public part in clear).
        const cp = pka(["check-key", "k", "--json"]);
        assert.strictEqual(cp.status, 0, cp.stdout + cp.stderr);
        const jp = JSON.parse(cp.stdout);
        assert.strictEqual(jp.private, true);
        assert.strictEqual(jp.encrypted, true);
        assert.strictEqual(jp.fingerprint, j.fingerprint);
        // With --passphrase-file the passphrase is checked, for the .ppk too.
        assert.strictEqual(pka(["check-key", "k.ppk", "--passphrase-file", "F"]).status, 0);
        const wrong = pka(["check-key", "k.ppk", "--passphrase-file", "WRONG"]);
        assert.strictEqual(wrong.status, 2);
        assert.match(wrong.stderr, /k\.ppk: the passphrase is wrong/);
    });

    it("keygen never overwrites: it checks every target first and leaves files untouched", function () {
        fs.writeFileSync(path.join(work, "taken.ppk"), "precious\n");
        const r = pka(["keygen", "--type", "ecdsa", "--ppk", "--out", "taken"]);
        assert.strictEqual(r.status, 2);
        assert.match(r.stderr, /refusing to overwrite .*taken\.ppk/);
        assert.ok(!fs.existsSync(path.join(work, "taken")), "wrote the private key before finding the conflict");
        assert.ok(!fs.existsSync(path.join(work, "taken.pub")));
        assert.strictEqual(fs.readFileSync(path.join(work, "taken.ppk"), "utf8"), "precious\n");
        // A dangling symlink is a conflict too (never write through it).
        fs.symlinkSync(path.join(work, "nowhere"), path.join(work, "link.pub"));
        assert.strictEqual(pka(["keygen", "--out", "link"]).status, 2);
        assert.ok(!fs.existsSync(path.join(work, "nowhere")));
        assert.ok(!fs.existsSync(path.join(work, "link")));
    });

    it("keygen leaves no partial files when a write fails", function () {
        // PREFIX in a directory that does not exist: refused before any key is made, by name.
        const r = pka(["keygen", "--out", "missing-dir/k"]);
        assert.strictEqual(r.status, 2);
        assert.match(r.stderr, /--out missing-dir\/k: its directory missing-dir: no such file; create it first/);
        assert.ok(!fs.existsSync(path.join(work, "missing-dir")));
        // A 252-character name: PREFIX itself can be created, PREFIX.pub (256) cannot, so the
        // private key is written first and must be removed again.
        const long = "k".repeat(252);
        const l = pka(["keygen", "--out", long]);
        assert.strictEqual(l.status, 2, l.stdout);
        assert.match(
            l.stderr,
            /cannot write .*: the file name is too long for the file system; no files were left behind/,
        );
        assert.ok(!fs.existsSync(path.join(work, long)), "the private key was left behind");
    });

    it("keygen rsa and ecdsa: options, files and fingerprints", function () {
        requireReal(this, { commands: ["ssh-keygen"] });
        const r = pka(["keygen", "--type", "rsa", "--bits", "3072", "--out", "r2"]);
        assert.strictEqual(r.status, 0, r.stderr);
        assert.match(r.stderr, /only acceptable for a non-interactive service account/);
        assert.strictEqual(mode(path.join(work, "r2")), 0o600);
        assert.ok(!fs.existsSync(path.join(work, "r2.ppk")));
        const fp = sshKeygenFingerprint(path.join(work, "r2"));
        assert.ok(r.stdout.includes(fp), r.stdout);
        assert.match(fs.readFileSync(path.join(work, "r2.pub"), "utf8"), /^ssh-rsa /);
        const e = pka(["keygen", "--type", "ecdsa", "--curve", "nistp521", "--out", "e2"]);
        assert.strictEqual(e.status, 0, e.stderr);
        assert.match(fs.readFileSync(path.join(work, "e2.pub"), "utf8"), /^ecdsa-sha2-nistp521 /);
        assert.strictEqual(
            sshKeygenFingerprint(path.join(work, "e2")),
            sshKeygenFingerprint(path.join(work, "e2.pub")),
        );
    });

    it("keygen refuses bad usage with exit 2", function () {
        for (const args of [
            ["keygen"],
            ["keygen", "--type", "dsa", "--out", "x"],
            ["keygen", "--type", "rsa", "--bits", "2048", "--out", "x"],
            ["keygen", "--type", "ecdsa", "--curve", "nistp224", "--out", "x"],
            ["keygen", "--bogus", "--out", "x"],
            ["keygen", "--out"],
            ["keygen", "--passphrase-file", "nonexistent", "--out", "x"],
        ]) {
            const r = pka(args);
            assert.strictEqual(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
            assert.ok(r.stderr.length > 0);
        }
        fs.writeFileSync(path.join(work, "EMPTY"), "\n");
        assert.match(pka(["keygen", "--passphrase-file", "EMPTY", "--out", "x"]).stderr, /is empty/);
        assert.ok(!fs.existsSync(path.join(work, "x")));
    });

    it("check-key exit codes: 0 allowed, 1 violation (reason printed), 2 not a key", function () {
        const dsa = fs.readFileSync(path.join(ROOT, "test", "fixtures", "keys", "dsa.pub"), "utf8");
        fs.writeFileSync(path.join(work, "dsa.pub"), dsa);
        const bad = pka(["check-key", "dsa.pub"]);
        assert.strictEqual(bad.status, 1);
        assert.match(bad.stdout, /violation: dsa\.pub: dsa keys are not allowed.*expected ed25519/);

        // A private key without a passphrase: a violation unless --service.
        const priv = pka(["check-key", "r", "--json"]);
        assert.strictEqual(priv.status, 1);
        assert.match(JSON.parse(priv.stdout).violations.join(), /must be passphrase-protected/);
        assert.strictEqual(pka(["check-key", "r", "--service"]).status, 0);
        // EC2 import wants rsa-4096.
        assert.strictEqual(pka(["check-key", "r.pub", "--ec2-import"]).status, 1);

        fs.writeFileSync(path.join(work, "junk"), "hello world\n");
        const junk = pka(["check-key", "junk", "--json"]);
        assert.strictEqual(junk.status, 2);
        assert.match(junk.stderr, /junk: is not an OpenSSH public key/);
        assert.strictEqual(JSON.parse(junk.stdout).ok, false);

        const injected = pka(["check-key", "-"], {
            input: `command="sh" ${fs.readFileSync(path.join(work, "r.pub"), "utf8")}`,
        });
        assert.strictEqual(injected.status, 2);
        assert.match(injected.stderr, /stdin: starts with authorized_keys options.*keyOptions/);

        fs.writeFileSync(path.join(work, "big"), Buffer.alloc(200 * 1024, 0x41));
        assert.match(pka(["check-key", "big"]).stderr, /more than any SSH key file/);
        assert.strictEqual(pka(["check-key", "no-such-file"]).status, 2);
        assert.strictEqual(pka(["check-key"]).status, 2);
        assert.strictEqual(pka(["check-key", "a", "b"]).status, 2);
        assert.strictEqual(pka(["check-key", "r.pub", "--frobnicate"]).status, 2);

        const stdin = pka(["check-key", "-", "--json"], { input: fs.readFileSync(path.join(work, "e.pub"), "utf8") });
        assert.strictEqual(stdin.status, 0, stdin.stderr);
        assert.strictEqual(JSON.parse(stdin.stdout).curve, "nistp384");
    });

    it("pka with no command prints usage on stderr (exit 2); --help prints it on stdout (exit 0)", function () {
        const none = pka([]);
        assert.strictEqual(none.status, 2);
        assert.strictEqual(none.stdout, "");
        assert.match(none.stderr, /^usage: pka <command>/);
        for (const help of ["--help", "-h", "help"]) {
            const h = pka([help]);
            assert.strictEqual(h.status, 0, help);
            assert.match(h.stdout, /^usage: pka <command>[\s\S]*check-key/);
            assert.strictEqual(h.stderr, "");
        }
    });

    it("a 100,000-byte file is refused with its real size, not the bytes read before refusing", function () {
        fs.writeFileSync(path.join(work, "huge"), "A".repeat(100_000));
        const r = pka(["check-key", "huge"]);
        assert.strictEqual(r.status, 2);
        assert.match(r.stderr, /^pka check-key: huge: is 100000 bytes, more than any SSH key file \(32768\)/m);
        assert.doesNotMatch(r.stderr, /65536|32769/);
    });

    it("file errors are said in words, naming the path: no such file, a directory; never a bare ENOENT/EISDIR", function () {
        fs.mkdirSync(path.join(work, "adir"), { recursive: true });
        const cases: [string[], RegExp][] = [
            [["check-key", "no-such-key"], /^pka check-key: no-such-key: no such file$/m],
            [["check-key", "adir"], /^pka check-key: adir: is a directory, not a file$/m],
            [["check-key", "--config", "no-such.json", "x"], /--config no-such\.json: no such file/],
            [
                ["keygen", "--out", "k1", "--passphrase-file", "no-such-pass"],
                /--passphrase-file no-such-pass: no such file/,
            ],
            [["document-params", "--spec", "no-such-spec.json"], /no-such-spec\.json: no such file/],
        ];
        for (const [args, re] of cases) {
            const r = pka(args);
            assert.strictEqual(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
            assert.match(r.stderr, re, args.join(" "));
            assert.doesNotMatch(r.stderr, /\bE[A-Z]{3,}\b/, `${args.join(" ")}: a bare errno code`);
        }
    });

    it("keygen --out: a directory, '-', or a missing directory is refused by name and nothing is written", function () {
        fs.mkdirSync(path.join(work, "keysdir"), { recursive: true });
        const before = fs.readdirSync(work).sort();
        const dir = pka(["keygen", "--out", "keysdir"]);
        assert.strictEqual(dir.status, 2);
        assert.match(
            dir.stderr,
            /--out keysdir: is a directory; give a file path inside it, such as keysdir\/id_ed25519/,
        );
        assert.doesNotMatch(dir.stderr, /refusing to overwrite/);
        assert.deepStrictEqual(fs.readdirSync(path.join(work, "keysdir")), []);
        const dash = pka(["keygen", "--out", "-"]);
        assert.strictEqual(dash.status, 2);
        assert.match(dash.stderr, /--out -: keys are written to files, never to stdout/);
        const missing = pka(["keygen", "--out", "nodir/k"]);
        assert.strictEqual(missing.status, 2);
        assert.match(missing.stderr, /--out nodir\/k: its directory nodir: no such file; create it first/);
        assert.deepStrictEqual(fs.readdirSync(work).sort(), before, "no file named '-' or anything else was written");
    });

    it("pka --version (and -V, version) prints the package's name and version, exit 0", function () {
        // The built CLI, as installed: it finds the package.json above bin/cli/.
        ensureBuilt();
        const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
        for (const flag of ["--version", "-V", "version"]) {
            const r = spawnSync(process.execPath, [PKA_CLI, flag], { encoding: "utf8" });
            assert.strictEqual(r.status, 0, r.stderr);
            assert.strictEqual(r.stdout, `pka-fleet ${version}\n`);
        }
        assert.match(pka(["--help"]).stdout, /pka --version/);
    });

    it("check-key - caps stdin: a huge input is refused without reading all of it", function () {
        const r = pka(["check-key", "-"], { input: "A".repeat(300 * 1024) });
        assert.strictEqual(r.status, 2);
        assert.match(r.stderr, /stdin: .*more than any SSH key file/);
    });

    it("check-key - sleeps until a non-blocking stdin has data (no EAGAIN busy loop), then judges it", async function () {
        // perl (Essential in Debian) makes stdin non-blocking and execs the CLI: a read with no data
        // yet then fails with EAGAIN instead of waiting. (Node's spawn would reset the flag.)
        requireReal(this, { commands: ["perl"] });
        if (!fs.existsSync("/proc/self/stat")) this.skip();
        const r = await runWithNonblockingStdin(
            [process.execPath, pkaJs, "check-key", "-", "--json"],
            fs.readFileSync(path.join(work, "e.pub")),
            {
                cwd: work,
                env: { ...process.env, NODE_PATH: path.join(ROOT, "node_modules") },
                maxWaitMs: 10000,
            },
        );
        const { stdout, stderr } = r;
        assert.strictEqual(r.asleep, 10, `check-key should sleep while stdin has no data, not spin (${stderr})`);
        assert.strictEqual(r.code, 0, stderr);
        assert.strictEqual(JSON.parse(stdout).curve, "nistp384");
    });

    it("check-key --config tightens the rules as the policy pack config does", function () {
        const cfg = path.join(work, "policy-config.json");
        fs.writeFileSync(
            cfg,
            JSON.stringify({
                "ssh-key-algorithm": { allowedTypes: ["ed25519", "rsa"], minRsaBits: 4096 },
                "ssh-key-passphrase": { requirePassphrase: true },
            }),
        );
        assert.strictEqual(pka(["check-key", "r.pub"]).status, 0);
        const r = pka(["check-key", "r.pub", "--config", cfg, "--json"]);
        assert.strictEqual(r.status, 1);
        assert.match(JSON.parse(r.stdout).violations.join(), /rsa-3072 is too small.*at least 4096/);
        const e = pka(["check-key", "e.pub", "--config", cfg]);
        assert.strictEqual(e.status, 1);
        assert.match(e.stdout, /ecdsa nistp384 keys are not allowed; expected ed25519 or rsa of at least 4096 bits/);
        fs.writeFileSync(cfg, JSON.stringify({ "ssh-key-algorithm": { minRsaBits: "lots" } }));
        const badCfg = pka(["check-key", "r.pub", "--config", cfg]);
        assert.strictEqual(badCfg.status, 2);
        assert.match(badCfg.stderr, /minRsaBits' must be an integer/);
    });

    it("check-key --config refuses a config that re-allows dsa, P-224 or RSA below 2048: exit 2 naming the field", function () {
        const cfg = path.join(work, "weak-config.json");
        const cases: [Record<string, unknown>, RegExp][] = [
            [
                { allowedTypes: ["ed25519", "dsa"] },
                /--config .*: policy config: 'ssh-key-algorithm.allowedTypes' lists "dsa", which is never allowed .*accepted: any of ed25519, ecdsa, rsa/,
            ],
            [
                { allowedCurves: ["nistp224"] },
                /'ssh-key-algorithm.allowedCurves' lists "nistp224", which is never allowed/,
            ],
            [{ minRsaBits: 1024 }, /'ssh-key-algorithm.minRsaBits' must be an integer between 2048 and 16384/],
        ];
        for (const [alg, re] of cases) {
            fs.writeFileSync(cfg, JSON.stringify({ "ssh-key-algorithm": alg }));
            const r = pka(["check-key", "r.pub", "--config", cfg]);
            assert.strictEqual(r.status, 2, JSON.stringify(alg));
            assert.match(r.stderr, re);
            assert.strictEqual(r.stdout, "");
        }
    });

    it("check-key needs --passphrase-file for an encrypted PEM key (its type is hidden)", function () {
        requireReal(this, { commands: ["ssh-keygen"] });
        const f = path.join(work, "pem");
        const g = spawnSync("ssh-keygen", ["-q", "-t", "ecdsa", "-m", "PEM", "-N", "correct horse battery", "-f", f], {
            encoding: "utf8",
        });
        assert.strictEqual(g.status, 0, g.stderr);
        const no = pka(["check-key", "pem"]);
        assert.strictEqual(no.status, 2);
        assert.match(no.stderr, /pem: is an encrypted PEM private key.*give the passphrase/);
        const yes = pka(["check-key", "pem", "--passphrase-file", "F", "--json"]);
        assert.strictEqual(yes.status, 0, yes.stderr);
        assert.strictEqual(JSON.parse(yes.stdout).fingerprint, sshKeygenFingerprint(f));
        const wrong = pka(["check-key", "pem", "--passphrase-file", "WRONG"]);
        assert.strictEqual(wrong.status, 2);
        assert.match(wrong.stderr, /passphrase is wrong/);
    });
});
