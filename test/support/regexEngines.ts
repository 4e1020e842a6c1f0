/**
 * Runs regular expressions in the engines AWS evaluates them with, not JavaScript's:
 *
 * - Java (`java.util.regex`): the SSM service checks a Command document parameter's
 *   `allowedPattern` at SendCommand (and CreateDocument compiles it); the `pattern` constraints of
 *   API members in the botocore/Smithy models are Java regexes checked by the service.
 * - Go (`regexp`, RE2): the SSM Agent checks `allowedPattern` again on the instance before it runs
 *   the command (amazon-ssm-agent, agent/framework/docparser/paramvalidator/
 *   allowedregexparamvalidator/allowedregexparamvalidator.go: `regexp.Compile` then
 *   `MatchString` on each String value).
 *
 * Match modes. "find": a match anywhere in the input, so only the pattern's own `^`/`$` bound it.
 * "full": the whole input must match.
 * - goMatches defaults to "find": that is exactly what the agent does (MatchString).
 * - javaMatches defaults to "full" (`Matcher.matches()`). No AWS page says which call the SSM
 *   service makes, so this follows what is observed and what AWS's own documents assume:
 *   Parameter Store's AllowedPattern (the same service) refuses "ABCDEF" for `[a-z]*` and "aaa"
 *   for `[a-z]{1}` (find() would accept both: an empty match, a one-letter match), CloudFormation's
 *   Java AllowedPattern is a whole-value match, and AWS-RunShellScript's own executionTimeout
 *   pattern `([1-9][0-9]{0,4})|...|(172800)` has no anchors, which only bounds the value under
 *   a whole-value match. Pass `{ mode: "find" }` to see what `Matcher.find()` would say: the two
 *   differ for an anchored pattern only where Java's `$` matches before a final line terminator
 *   (\n, \r\n, \r, \u0085, \u2028, \u2029), which full match never accepts.
 * - jsMatches mirrors this repo's own mimics: "find" is local/agent.ts (`new RegExp(p).test(v)`),
 *   "full" is local/ssmEndpoint.ts (`^(?:p)$`, with the `u` flag when the pattern allows it).
 *
 * Each call runs one process that reads every pair on stdin (a line per pair: mode, base64 UTF-8
 * pattern, base64 UTF-8 input) and answers a line per pair. The Java program is compiled with
 * javac and the Go program built with `go build` once per run (cached in the temp dir by a hash of
 * the source). A pattern that does not compile, or a match that fails (Java's StackOverflowError
 * included, reported as { error: "StackOverflowError" }), gives { error } for that pair only.
 */
import { spawn, execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface RegexPair {
    pattern: string;
    input: string;
}
export type Verdict = boolean | { error: string };
export type MatchMode = "full" | "find";
export interface EngineOptions {
    /** Default: the mode AWS applies with that engine (Java "full", Go "find"); JS "find". */
    mode?: MatchMode;
    /** Java only: the thread stack size (`-Xss`, e.g. "256k"); default the JVM's own (1 MB on Linux x86-64). */
    javaStack?: string;
}

const SOURCE_DIR = path.join(__dirname, "regex");
const JAVA_SOURCE = path.join(SOURCE_DIR, "Match.java");
const GO_SOURCE = path.join(SOURCE_DIR, "match.go");
/** Any one call; the JVM and go build are the slow parts (about 1 s and 5 s on a cold cache). */
const CALL_TIMEOUT_MS = 120_000;

function sourceHash(file: string, extra: string): string {
    return createHash("sha256").update(fs.readFileSync(file)).update(extra).digest("hex").slice(0, 16);
}

function versionOf(cmd: string, args: string[]): string {
    try {
        return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
    } catch (e) {
        const err = e as { stderr?: string };
        return String(err.stderr ?? "").trim();
    }
}

/** Builds into a fresh directory, then renames it into place: parallel runs never see a half-built one. */
function buildOnce(dir: string, marker: string, build: (tmp: string) => void): string {
    if (fs.existsSync(path.join(dir, marker))) return dir;
    const tmp = fs.mkdtempSync(`${dir}.tmp-`);
    try {
        build(tmp);
        try {
            fs.renameSync(tmp, dir);
        } catch {
            if (!fs.existsSync(path.join(dir, marker)))
                throw new Error(`could not install the regex harness in ${dir}`);
        }
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
    return dir;
}

let javaDir: string | undefined;
function javaClassDir(): string {
    if (javaDir === undefined) {
        const version = versionOf("java", ["-version"]);
        const dir = path.join(os.tmpdir(), `pka-regex-java-${sourceHash(JAVA_SOURCE, version)}`);
        javaDir = buildOnce(dir, "Match.class", (tmp) => {
            execFileSync("javac", ["-encoding", "UTF-8", "-d", tmp, JAVA_SOURCE], {
                stdio: ["ignore", "pipe", "pipe"],
            });
        });
    }
    return javaDir;
}

/** The environment `go` runs in: its caches in the temp dir (HOME may not be writable), no network, no cgo. */
export function goEnv(): NodeJS.ProcessEnv {
    const base = path.join(os.tmpdir(), "pka-regex-go");
    return {
        ...process.env,
        GOCACHE: process.env.GOCACHE || path.join(base, "cache"),
        GOPATH: process.env.GOPATH || path.join(base, "path"),
        GOPROXY: "off",
        GOTOOLCHAIN: "local",
        GOTELEMETRY: "off",
        CGO_ENABLED: "0",
    };
}

let goBinary: string | undefined;
function goProgram(): string {
    if (goBinary === undefined) {
        const env = goEnv();
        const version = versionOf("go", ["version"]);
        const dir = path.join(os.tmpdir(), `pka-regex-go-${sourceHash(GO_SOURCE, version)}`);
        goBinary = path.join(
            buildOnce(dir, "match", (tmp) => {
                // A copy outside the repository: no go.mod is looked up or needed (standard library only).
                fs.copyFileSync(GO_SOURCE, path.join(tmp, "match.go"));
                execFileSync("go", ["build", "-o", path.join(tmp, "match"), path.join(tmp, "match.go")], {
                    cwd: tmp,
                    env,
                    stdio: ["ignore", "pipe", "pipe"],
                });
            }),
            "match",
        );
    }
    return goBinary;
}

/** Compiles the Java program and builds the Go one now (tests call it in `before`, so timings stay honest). */
export function prepareEngines(): void {
    javaClassDir();
    goProgram();
}

function b64(s: string): string {
    return Buffer.from(s, "utf8").toString("base64");
}

function runBatch(
    cmd: string,
    args: string[],
    env: NodeJS.ProcessEnv | undefined,
    mode: MatchMode,
    pairs: RegexPair[],
): Promise<Verdict[]> {
    if (pairs.length === 0) return Promise.resolve([]);
    const input = pairs.map((p) => `${mode}\t${b64(p.pattern)}\t${b64(p.input)}\n`).join("");
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "pipe"] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        const timer = setTimeout(() => child.kill("SIGKILL"), CALL_TIMEOUT_MS);
        child.stdout.on("data", (d: Buffer) => out.push(d));
        child.stderr.on("data", (d: Buffer) => err.push(d));
        child.on("error", (e) => {
            clearTimeout(timer);
            reject(e);
        });
        child.on("close", (code, signal) => {
            clearTimeout(timer);
            const stderr = Buffer.concat(err).toString("utf8").trim();
            if (code !== 0) return reject(new Error(`${cmd} ${args.join(" ")} exited ${code ?? signal}: ${stderr}`));
            const lines = Buffer.concat(out).toString("utf8").split("\n");
            if (lines[lines.length - 1] === "") lines.pop();
            if (lines.length !== pairs.length)
                return reject(new Error(`${cmd} answered ${lines.length} lines for ${pairs.length} pairs: ${stderr}`));
            resolve(
                lines.map((l) => {
                    if (l === "1") return true;
                    if (l === "0") return false;
                    if (l.startsWith("E\t")) return { error: Buffer.from(l.slice(2), "base64").toString("utf8") };
                    throw new Error(`${cmd}: unexpected answer line ${JSON.stringify(l)}`);
                }),
            );
        });
        child.stdin.on("error", () => undefined); // a crash is reported by "close"
        child.stdin.end(input);
    });
}

/** Java's verdict per pair; default mode "full" (Matcher.matches(), see the file comment for why). */
export function javaMatches(pairs: RegexPair[], opts: EngineOptions = {}): Promise<Verdict[]> {
    // The JVM's default thread stack (no -Xss): what a service's request thread would have by default.
    const stack = opts.javaStack === undefined ? [] : [`-Xss${opts.javaStack}`];
    return runBatch("java", [...stack, "-cp", javaClassDir(), "Match"], undefined, opts.mode ?? "full", pairs);
}

/** Go's verdict per pair; default mode "find" (regexp.Compile + MatchString, as the SSM Agent does). */
export function goMatches(pairs: RegexPair[], opts: EngineOptions = {}): Promise<Verdict[]> {
    return runBatch(goProgram(), [], goEnv(), opts.mode ?? "find", pairs);
}

/** JavaScript's verdict per pair, as this repository's local mimics apply a pattern (default "find"). */
export function jsMatches(pairs: RegexPair[], opts: EngineOptions = {}): Verdict[] {
    const mode = opts.mode ?? "find";
    return pairs.map(({ pattern, input }) => {
        try {
            let re: RegExp;
            if (mode === "find") re = new RegExp(pattern);
            else {
                try {
                    re = new RegExp(`^(?:${pattern})$`, "u");
                } catch {
                    re = new RegExp(`^(?:${pattern})$`);
                }
                new RegExp(pattern); // a bad pattern is an error, not a different wrapped one
            }
            return re.test(input);
        } catch (e) {
            return { error: `${(e as Error).name}: ${(e as Error).message}` };
        }
    });
}

/** A verdict as text, for assertion messages. */
export function showVerdict(v: Verdict): string {
    return typeof v === "boolean" ? (v ? "match" : "no match") : `error (${v.error})`;
}
