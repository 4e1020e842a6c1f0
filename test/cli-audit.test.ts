/**
 * `pka audit`: every line of an authorized_keys file judged (line number, region, verdict,
 * reasons), run as the built CLI; keys made by the real ssh-keygen, fingerprints compared with
 * `ssh-keygen -l`.
 */
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { validateAccessSpec } from "../core/accessSpec";
import { renderManagedBlock } from "../core/managedBlock";
import { ensureBuilt, PKA_CLI } from "./support/built";
import { requireReal } from "./support/env";

function pka(args: string[], input?: string) {
    const r = spawnSync(process.execPath, [PKA_CLI, "audit", ...args], { encoding: "utf8", input });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("pka audit: an authorized_keys file judged line by line", function () {
    this.timeout(60_000);
    let dir: string;
    const keys: Record<string, string> = {};
    const fingerprint = (pub: string) =>
        execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", "-"], { input: pub, encoding: "utf8" }).split(" ")[1];

    before(function () {
        requireReal(this, { commands: ["ssh-keygen"] });
        ensureBuilt();
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-audit-"));
        for (const [name, args] of Object.entries({
            ed: ["-t", "ed25519"],
            ec: ["-t", "ecdsa", "-b", "384"],
            rsa2k: ["-t", "rsa", "-b", "2048"],
        })) {
            const f = path.join(dir, name);
            execFileSync("ssh-keygen", [...args, "-N", "", "-C", `${name}@host`, "-q", "-f", f]);
            keys[name] = fs.readFileSync(`${f}.pub`, "utf8").trim();
        }
    });
    after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

    function file(name: string, text: string): string {
        const f = path.join(dir, name);
        fs.writeFileSync(f, text);
        return f;
    }

    it("tells the managed block from hand-added lines and gives each key line its verdict and reason", () => {
        const spec = validateAccessSpec({
            users: [{ name: "deploy", sudo: "none", keys: [keys.ed, keys.ec], keyOptions: "restrict" }],
        });
        const text =
            `# added by hand\n${keys.rsa2k}\n` +
            renderManagedBlock(spec.users[0]) +
            `command="/usr/bin/id",no-pty ${keys.ed}\n` +
            `environment="LD_PRELOAD=/tmp/x.so" ${keys.ec}\n` +
            `not a key at all\n`;
        const f = file("authorized_keys", text);
        const r = pka([f]);
        assert.strictEqual(r.status, 1, r.stderr);
        const lines = r.stdout.split("\n");
        const head = (n: number) => lines.find((l) => l.startsWith(`${f}:${n} `)) ?? "";
        assert.match(head(2), /^\S+:2 hand-added violation rsa 2048 SHA256:\S+ rsa2k@host$/);
        assert.ok(head(2).includes(fingerprint(keys.rsa2k)), head(2));
        assert.match(r.stdout, /:2 hand-added violation [^\n]*\n {4}- line 2: rsa-2048 is too small/);
        assert.match(head(4), /:4 managed allowed ed25519 256 /);
        assert.ok(head(4).includes(fingerprint(keys.ed)));
        assert.match(head(5), /:5 managed allowed ecdsa 384 /);
        assert.ok(head(5).includes(fingerprint(keys.ec)));
        assert.match(head(7), /:7 hand-added allowed ed25519 /);
        assert.match(r.stdout, /:7 [^\n]*\n {4}note: the same key as line 4/);
        assert.match(r.stdout, /:8 hand-added violation [^\n]*\n {4}- options: option 'environment' is not allowed/);
        assert.match(head(9), /:9 hand-added not-a-key$/);
        assert.match(
            lines.at(-2) ?? "",
            /: 5 keys \(2 managed, 3 hand-added\): 3 allowed, 2 violations, 1 lines not keys$/,
        );

        const json = JSON.parse(pka(["--json", f]).stdout);
        assert.deepStrictEqual(
            json.lines.map((l: { line: number; region: string; verdict: string }) => [l.line, l.region, l.verdict]),
            [
                [2, "hand-added", "violation"],
                [4, "managed", "allowed"],
                [5, "managed", "allowed"],
                [7, "hand-added", "allowed"],
                [8, "hand-added", "violation"],
                [9, "hand-added", "not-a-key"],
            ],
        );
        assert.strictEqual(json.lines[1].options, "restrict");
    });

    it("exits 0 when every line is allowed, and reads stdin", () => {
        const r = pka(["-"], `${keys.ed}\n\n# comment\nrestrict,from="10.0.0.0/8" ${keys.ec}\n`);
        assert.strictEqual(r.status, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /^stdin:1 hand-added allowed ed25519/m);
        assert.match(
            r.stdout,
            /^stdin: 2 keys \(0 managed, 2 hand-added\): 2 allowed, 0 violations, 0 lines not keys$/m,
        );
    });

    it("reports a managed block that is never closed, or an END with no BEGIN", () => {
        const begin = "# BEGIN pka-fleet managed block (do not edit: pka-fleet rewrites it)";
        let r = pka(["-"], `${begin}\n${keys.ed}\n`);
        assert.strictEqual(r.status, 1);
        assert.match(r.stdout, /line 1: the managed block is never closed/);
        r = pka(["-"], `${keys.ed}\n# END pka-fleet managed block\n`);
        assert.strictEqual(r.status, 1);
        assert.match(r.stdout, /line 2: an END marker with no BEGIN/);
    });

    it("applies --config: allowedTypes, and an advisory level that reports without failing", () => {
        const strict = file("strict.json", JSON.stringify({ "ssh-key-algorithm": { allowedTypes: ["ed25519"] } }));
        let r = pka(["--config", strict, "-"], `${keys.ec}\n`);
        assert.strictEqual(r.status, 1);
        assert.match(r.stdout, /stdin:1 hand-added violation ecdsa 384/);
        const advisory = file("advisory.json", JSON.stringify({ "ssh-key-algorithm": "advisory" }));
        r = pka(["--config", advisory, "-"], `${keys.rsa2k}\n`);
        assert.strictEqual(r.status, 0, r.stdout);
        assert.match(
            r.stdout,
            /stdin:1 hand-added allowed rsa 2048 [^\n]*\n {4}note: advisory: line 1: rsa-2048 is too small/,
        );
        const typo = file("typo.json", JSON.stringify({ "ssh-key-algoritm": "advisory" }));
        r = pka(["--config", typo, "-"], `${keys.ed}\n`);
        assert.strictEqual(r.status, 2);
        assert.match(r.stderr, /pka audit: --config \S+typo\.json: .*ssh-key-algoritm/);
    });

    it("prints a hostile comment escaped, so it cannot drive the terminal", () => {
        const [t, b] = keys.ed.split(" ");
        const r = pka(["-"], `${t} ${b} evil\x1b]0;owned\x07\n`);
        assert.ok(!r.stdout.includes("\x1b") && !r.stdout.includes("\x07"), JSON.stringify(r.stdout));
    });

    it("refuses what is not a readable file with a clear error, exit 2", () => {
        let r = pka([path.join(dir, "missing")]);
        assert.strictEqual(r.status, 2);
        assert.match(r.stderr, /^pka audit: \S+missing: /);
        assert.ok(!r.stderr.includes("ENOENT"), r.stderr);
        r = pka([dir]);
        assert.strictEqual(r.status, 2);
        assert.match(r.stderr, /is a directory/);
        const big = file("big", `${keys.ed}\n`.repeat(20_000));
        r = pka([big]);
        assert.strictEqual(r.status, 2);
        assert.match(
            r.stderr,
            new RegExp(`is ${fs.statSync(big).size} bytes, more than pka audit reads \\(1048576\\)`),
        );
        r = pka([]);
        assert.strictEqual(r.status, 2);
        assert.match(r.stderr, /give the authorized_keys FILE/);
    });
});
