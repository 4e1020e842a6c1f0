/**
 * The access model for real teams on real hosts: dotted user names and the drop-in name sudo
 * reads for them. Sandboxed sshd (local/sandbox.ts), the document run the way the SSM agent runs
 * it (local/agent.ts), logins with the real ssh.
 */
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { validateAccessSpec } from "../core/accessSpec";
import { sha256Hex } from "../core/accessStore";
import { documentParameters, renderDocumentJson, SPEC_PARAMETER, SPEC_SHA_PARAMETER } from "../core/document";
import { sudoersDropIn } from "../core/userAccess";
import { sudoersDropInName } from "../core/userNames";
import { AgentRunResult, runDocumentLikeAgent } from "../local/agent";
import { SandboxHost, sshRun, startHosts, stopHosts } from "../local/sandbox";
import { requireReal } from "./support/env";
import { loginKeys } from "./support/loginKeys";
import { patience } from "./support/patience";

const DOC = renderDocumentJson();
const NEEDS = { root: true, commands: ["sshd", "ssh", "ssh-keygen", "sudo", "visudo", "unshare", "nsenter"] };

let dir = "";
const key = loginKeys(() => dir);

/** A user of the spec, its keys named by key() (the rest as the spec takes it). */
type UserIn = { name: string; keys: string[] } & Record<string, unknown>;
function paramsFor(users: UserIn[]): Record<string, string[]> {
    return documentParameters(
        validateAccessSpec({ users: users.map((u) => ({ sudo: "none", ...u, keys: u.keys.map((k) => key(k).pub) })) }),
    );
}
async function apply(host: SandboxHost, users: UserIn[]): Promise<AgentRunResult> {
    return runDocumentLikeAgent(host, DOC, paramsFor(users));
}
async function applyOk(host: SandboxHost, users: UserIn[]): Promise<AgentRunResult> {
    const r = await apply(host, users);
    assert.equal(r.responseCode, 0, `script failed: ${r.stderr}\n${r.stdout}`);
    assert.match(r.stdout, /^PKA-SUMMARY status=ok /m);
    return r;
}

let knownHosts = "";
function pin(host: SandboxHost, r: AgentRunResult): void {
    const lines = r.stdout
        .split("\n")
        .filter((l) => l.startsWith("PKA-HOSTKEY "))
        .map((l) => `[127.0.0.1]:${host.port} ${l.slice(12)}`);
    assert.deepEqual(lines, host.knownHostsLines(), "the script printed the host's keys");
    knownHosts = path.join(dir, `known_hosts-${host.name}`);
    fs.writeFileSync(knownHosts, lines.join("\n") + "\n");
}
async function login(host: SandboxHost, user: string, k: string, command: string) {
    return sshRun(host, { user, identityFile: key(k).priv, knownHostsFile: knownHosts, command });
}
/** Runs COMMAND as USER over ssh; asserts the login worked and returns the command's exit code. */
async function runAs(host: SandboxHost, user: string, k: string, command: string): Promise<number> {
    const r = await login(host, user, k, command);
    assert.notEqual(r.code, 255, `${user} should log in: ${r.stderr}`);
    return r.code ?? -1;
}

/** content hash, mode, owner of passwd, group, shadow, sudoers and the state: what "nothing changed" covers. */
function accessFiles(host: SandboxHost): Record<string, string> {
    const out: Record<string, string> = {};
    const add = (p: string) => {
        const st = fs.lstatSync(host.path(p));
        const content = st.isFile()
            ? createHash("sha256")
                  .update(fs.readFileSync(host.path(p)))
                  .digest("hex")
            : "dir";
        out[p] = `${content} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.mtimeMs}`;
    };
    for (const f of ["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/sudoers.d"]) add(f);
    for (const d of ["/etc/sudoers.d", "/var/lib/pka-fleet"]) {
        if (fs.existsSync(host.path(d))) for (const f of fs.readdirSync(host.path(d))) add(`${d}/${f}`);
    }
    return out;
}

const PLANT = "bob ALL=(ALL:ALL) NOPASSWD: ALL\n";

describe("access model on real sshd hosts: dotted names, command sudo, groups", function () {
    let hosts: SandboxHost[] = [];
    let a: SandboxHost;
    const realSudoers = () => fs.readdirSync("/etc/sudoers.d").sort().join(",");
    let realBefore = "";

    before(async function () {
        requireReal(this, NEEDS);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-access-"));
        realBefore = realSudoers();
        hosts = await startHosts(1, { namePrefix: "pka-access", readyTimeoutMs: patience(10_000) });
        [a] = hosts;
    });

    after(async function () {
        await stopHosts(hosts);
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("a dotted user is created, logs in with its key and sudo reads its drop-in (90-pka-jane+doe)", async () => {
        // A file named as the drop-in would be without the mapping, planted by root: sudo skips it
        // (it has a dot: bob gets no sudo from it), and the script neither takes it for its own nor touches it.
        const planted = a.path("/etc/sudoers.d/90-pka-jane.doe");
        fs.writeFileSync(planted, PLANT, { mode: 0o440 });
        const plantedStat = fs.statSync(planted);
        const r = await applyOk(a, [
            { name: "jane.doe", sudo: "nopasswd", keys: ["jane.doe"] },
            { name: "bob", keys: ["bob"] },
        ]);
        pin(a, r);
        assert.match(r.stdout, /^PKA-USER jane\.doe created sudo=nopasswd$/m);
        assert.equal(sudoersDropInName("jane.doe"), "90-pka-jane+doe");
        const dropIn = a.path("/etc/sudoers.d/90-pka-jane+doe");
        assert.equal(
            fs.readFileSync(dropIn, "utf8"),
            "# Managed by pka-fleet: rewritten or removed on every run; do not edit.\njane.doe ALL=(ALL:ALL) NOPASSWD: ALL\n",
        );
        assert.equal(fs.statSync(dropIn).mode & 0o777, 0o440);
        assert.match(
            fs.readFileSync(a.path("/etc/passwd"), "utf8"),
            /^jane\.doe:x:\d+:\d+:pka-fleet managed user:\/home\/jane\.doe:/m,
        );
        const who = await login(a, "jane.doe", "jane.doe", "id -un");
        assert.equal(who.code, 0, who.stderr);
        assert.equal(who.stdout.trim(), "jane.doe");
        assert.equal(await runAs(a, "jane.doe", "jane.doe", "sudo -n true"), 0, "sudo reads 90-pka-jane+doe");
        assert.notEqual(await runAs(a, "bob", "bob", "sudo -n true"), 0, "sudo skips the dotted 90-pka-jane.doe");
        // the planted file is as it was, and a second run changes nothing
        assert.equal(fs.readFileSync(planted, "utf8"), PLANT);
        assert.equal(fs.statSync(planted).mtimeMs, plantedStat.mtimeMs);
        const before = accessFiles(a);
        const again = await applyOk(a, [
            { name: "jane.doe", sudo: "nopasswd", keys: ["jane.doe"] },
            { name: "bob", keys: ["bob"] },
        ]);
        assert.match(again.stdout, / changes=0 conflicts=0$/m);
        assert.deepEqual(accessFiles(a), before);
    });

    it("a planted 90-pka-jane.doe is not taken for the drop-in: a lookalike is rewritten, the plant stays", async () => {
        // root replaces our drop-in with other text: the next run restores it (sok compares the mapped file)
        fs.writeFileSync(a.path("/etc/sudoers.d/90-pka-jane+doe"), "jane.doe ALL=(ALL) ALL\n", { mode: 0o440 });
        const r = await applyOk(a, [
            { name: "jane.doe", sudo: "nopasswd", keys: ["jane.doe"] },
            { name: "bob", keys: ["bob"] },
        ]);
        assert.match(r.stdout, /^PKA-USER jane\.doe updated sudo=nopasswd$/m);
        assert.match(fs.readFileSync(a.path("/etc/sudoers.d/90-pka-jane+doe"), "utf8"), /NOPASSWD: ALL\n$/);
        assert.equal(fs.readFileSync(a.path("/etc/sudoers.d/90-pka-jane.doe"), "utf8"), PLANT);
    });

    it("revoking the dotted user removes the mapped drop-in, and it can no longer log in", async () => {
        const r = await applyOk(a, [{ name: "bob", keys: ["bob"] }]);
        assert.match(r.stdout, /^PKA-REVOKED jane\.doe$/m);
        assert.ok(!fs.existsSync(a.path("/etc/sudoers.d/90-pka-jane+doe")));
        assert.equal(fs.readFileSync(a.path("/etc/sudoers.d/90-pka-jane.doe"), "utf8"), PLANT);
        const refused = await login(a, "jane.doe", "jane.doe", "true");
        assert.equal(refused.code, 255);
        assert.equal(fs.readFileSync(a.path("/var/lib/pka-fleet/revoked-users"), "utf8"), "jane.doe\n");
        // listed again: restored, drop-in back
        await applyOk(a, [
            { name: "jane.doe", sudo: "nopasswd", keys: ["jane.doe"] },
            { name: "bob", keys: ["bob"] },
        ]);
        assert.equal(await runAs(a, "jane.doe", "jane.doe", "sudo -n true"), 0);
        fs.rmSync(a.path("/etc/sudoers.d/90-pka-jane.doe"));
    });

    it("command-scoped sudo: the listed commands run with sudo -n, others are refused; the drop-in is sudoersDropIn's, checked by visudo", async () => {
        const ops = {
            name: "ops",
            sudo: "nopasswd",
            sudoCommands: ["/usr/bin/id -u", '/usr/bin/whoami ""'],
            keys: ["ops"],
        };
        const r = await applyOk(a, [ops, { name: "bob", keys: ["bob"] }]);
        pin(a, r);
        const dropIn = a.path("/etc/sudoers.d/90-pka-ops");
        const expected = sudoersDropIn(validateAccessSpec({ users: [{ ...ops, keys: [key("ops").pub] }] }).users[0]);
        assert.equal(expected?.file, "90-pka-ops");
        assert.equal(fs.readFileSync(dropIn, "utf8"), expected?.text);
        assert.equal(
            expected?.text,
            '# Managed by pka-fleet: rewritten or removed on every run; do not edit.\nops ALL=(root) NOPASSWD: /usr/bin/id -u, /usr/bin/whoami ""\n',
        );
        assert.equal(fs.statSync(dropIn).mode & 0o777, 0o440);
        assert.equal((await a.exec(["visudo", "-cf", "/etc/sudoers.d/90-pka-ops"])).code, 0);
        const out = await login(a, "ops", "ops", "sudo -n /usr/bin/id -u; sudo -n /usr/bin/whoami");
        assert.equal(out.stdout, "0\nroot\n", out.stderr);
        for (const other of [
            "sudo -n /usr/bin/id",
            "sudo -n /usr/bin/whoami x",
            "sudo -n true",
            "sudo -n /bin/sh -c id",
        ]) {
            assert.notEqual(await runAs(a, "ops", "ops", other), 0, `${other} must be refused`);
        }
        const again = await applyOk(a, [ops, { name: "bob", keys: ["bob"] }]);
        assert.match(again.stdout, / changes=0 conflicts=0$/m);
        // the list changes: the drop-in is rewritten
        const more = { ...ops, sudoCommands: [...ops.sudoCommands, "/usr/bin/true"] };
        const r2 = await applyOk(a, [more, { name: "bob", keys: ["bob"] }]);
        assert.match(r2.stdout, /^PKA-USER ops updated sudo=nopasswd$/m);
        assert.equal(await runAs(a, "ops", "ops", "sudo -n /usr/bin/true"), 0);
        // password mode: sudo asks (the account has no password, so sudo -n fails), full sudo otherwise
        await applyOk(a, [
            { ...ops, sudo: "password", sudoCommands: undefined },
            { name: "bob", keys: ["bob"] },
        ]);
        assert.match(fs.readFileSync(dropIn, "utf8"), /\nops ALL=\(ALL:ALL\) ALL\n$/);
        const asks = await login(a, "ops", "ops", "sudo -n true");
        assert.notEqual(asks.code, 0);
        assert.match(asks.stderr, /password is required/);
        // sudo none: the drop-in goes
        await applyOk(a, [
            { name: "ops", keys: ["ops"] },
            { name: "bob", keys: ["bob"] },
        ]);
        assert.ok(!fs.existsSync(dropIn));
        assert.notEqual(await runAs(a, "ops", "ops", "sudo -n /usr/bin/id -u"), 0);
    });

    it("a forged spec with hostile sudo commands or groups is refused by the script, before anything changes", async () => {
        const before = accessFiles(a);
        const pub = key("ops").pub;
        const forged = [
            ["u ops nopasswd", "s ops /usr/bin/id, ALL"],
            ["u ops nopasswd", "s ops ALL"],
            ["u ops nopasswd", "s ops /usr/bin/*"],
            ["u ops nopasswd", "s ops /usr/bin/id -u=0"],
            ["u ops nopasswd", 's ops /usr/bin/id "x"'],
            ["u ops nopasswd", "s ops /usr/bin/../../bin/sh"],
            ["u ops none", "s ops /usr/bin/id"],
            ["u ops nopasswd", "s bob /usr/bin/id"],
            ["u ops none", "g ops sudo"],
            ["u ops none", "g ops Wheel"],
            ["u ops none", "g ops adm,sudo"],
            ["u ops nopasswd", "s ops /usr/bin/id\\"],
        ];
        for (const lines of forged) {
            const manifest = [`pka-access 1 ${"0".repeat(64)}`, ...lines, `k ops ${pub}`, ""].join("\n");
            const r = await runDocumentLikeAgent(a, DOC, {
                [SPEC_PARAMETER]: [Buffer.from(manifest).toString("base64")],
                [SPEC_SHA_PARAMETER]: [sha256Hex(manifest)],
            });
            assert.equal(r.responseCode, 12, `${lines.join(" | ")}: ${r.stdout}${r.stderr}`);
            assert.match(
                r.stderr,
                /PKA-ERROR code=12 (spec line \d breaks the spec grammar|sudo commands)/,
                lines.join(" | "),
            );
        }
        assert.deepEqual(accessFiles(a), before);
    });

    it("groups: joins the groups that exist, reports the missing one, and leaves only what it added", async () => {
        assert.equal((await a.exec(["groupadd", "handmade"])).code, 0);
        assert.equal((await a.exec(["usermod", "-aG", "handmade", "bob"])).code, 0);
        const groupsOf = async (u: string) => (await login(a, u, u, "id -Gn")).stdout.trim().split(" ").sort();
        const r = await applyOk(a, [
            { name: "ops", keys: ["ops"], groups: ["nosuchgroup", "adm"] },
            { name: "bob", keys: ["bob"], groups: ["handmade", "adm"] },
        ]);
        assert.match(r.stdout, /^PKA-WARN ops the groups nosuchgroup do not exist on this host: not added/m);
        assert.match(r.stdout, /^PKA-SUMMARY status=ok /m);
        assert.deepEqual(await groupsOf("ops"), ["adm", "ops"]);
        assert.deepEqual(await groupsOf("bob"), ["adm", "bob", "handmade"]);
        assert.doesNotMatch(
            fs.readFileSync(a.path("/etc/group"), "utf8"),
            /^nosuchgroup:/m,
            "a missing group is not created",
        );
        // recorded: only what this script added (bob was in handmade by hand)
        assert.equal(fs.readFileSync(a.path("/var/lib/pka-fleet/user-groups"), "utf8"), "bob adm\nops adm\n");
        const again = await applyOk(a, [
            { name: "ops", keys: ["ops"], groups: ["nosuchgroup", "adm"] },
            { name: "bob", keys: ["bob"], groups: ["handmade", "adm"] },
        ]);
        assert.match(again.stdout, / changes=0 conflicts=0$/m);
        // dropped from the spec's groups: adm goes (ours), handmade stays (not ours)
        await applyOk(a, [
            { name: "ops", keys: ["ops"], groups: ["adm"] },
            { name: "bob", keys: ["bob"] },
        ]);
        assert.deepEqual(await groupsOf("bob"), ["bob", "handmade"]);
        assert.equal(fs.readFileSync(a.path("/var/lib/pka-fleet/user-groups"), "utf8"), "ops adm\n");
        // a revoked user leaves the groups it was added to
        const rv = await applyOk(a, [{ name: "bob", keys: ["bob"] }]);
        assert.match(rv.stdout, /^PKA-REVOKED ops$/m);
        assert.doesNotMatch(fs.readFileSync(a.path("/etc/group"), "utf8"), /^adm:.*\bops\b/m);
        assert.equal(fs.readFileSync(a.path("/var/lib/pka-fleet/user-groups"), "utf8"), "");
    });

    it("leaves the real machine's sudoers.d untouched", () => {
        assert.equal(realSudoers(), realBefore);
    });
});
