/**
 * Key options as sshd applies them on a real host: each forwarding and pty option the spec allows,
 * installed by the real script (the document run as the SSM agent runs it) and then exercised
 * with the real ssh client: what sshd(8) documents for it is what happens.
 */
import { strict as assert } from "assert";
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { validateAccessSpec } from "../core/accessSpec";
import { sha256Hex } from "../core/accessStore";
import { documentParameters, renderDocumentJson, SPEC_PARAMETER, SPEC_SHA_PARAMETER } from "../core/document";
import { AgentRunResult, runDocumentLikeAgent } from "../local/agent";
import { freePort } from "../local/processes";
import { SandboxHost, sshRun, startHosts, stopHosts } from "../local/sandbox";
import { SshOptions } from "../local/sshClient";
import { requireReal } from "./support/env";
import { loginKeys } from "./support/loginKeys";
import { patience } from "./support/patience";

const DOC = renderDocumentJson();
const NEEDS = { root: true, commands: ["sshd", "ssh", "ssh-keygen", "ssh-agent", "sudo", "unshare", "nsenter"] };

let dir = "";
const key = loginKeys(() => dir);

/** A TCP service on 127.0.0.1 that writes its name to each connection and closes it. */
async function service(name: string): Promise<{ port: number; close: () => void }> {
    const server = net.createServer((c) => c.end(`${name}\n`));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

/** Reads what 127.0.0.1:port sends, retrying while nothing listens yet (an -R forward being set up). */
async function readFrom(port: number, deadlineMs: number): Promise<string> {
    const end = Date.now() + deadlineMs;
    for (;;) {
        try {
            return await new Promise<string>((resolve, reject) => {
                const c = net.connect(port, "127.0.0.1");
                let text = "";
                c.on("data", (d) => (text += d.toString()));
                c.on("end", () => resolve(text));
                c.on("error", reject);
            });
        } catch (err) {
            if (Date.now() > end) throw err;
            await new Promise((r) => setTimeout(r, 100));
        }
    }
}

describe("key options on a real sshd host: forwarding, pty and agent as sshd documents them", function () {
    let hosts: SandboxHost[] = [];
    let h: SandboxHost;
    let knownHosts = "";
    let services: { port: number; close: () => void }[] = [];
    let agent: ChildProcess | undefined;
    let agentSock = "";

    before(async function () {
        requireReal(this, NEEDS);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-keyopts-"));
        hosts = await startHosts(1, { namePrefix: "pka-keyopts", readyTimeoutMs: patience(10_000) });
        [h] = hosts;
        services = [await service("allowed"), await service("other")];
        agentSock = path.join(dir, "agent.sock");
        agent = spawn("ssh-agent", ["-D", "-a", agentSock], { stdio: "ignore" });
        for (let i = 0; i < 50 && !fs.existsSync(agentSock); i++) await new Promise((r) => setTimeout(r, 50));
        execFileSync("ssh-add", [key("agent-key").priv], {
            env: { ...process.env, SSH_AUTH_SOCK: agentSock },
            stdio: "ignore",
        });
    });

    after(async function () {
        for (const s of services) s.close();
        agent?.kill();
        await stopHosts(hosts);
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    /** Installs alice with `keyOptions` through the real script; returns the run. */
    async function install(keyOptions: string): Promise<AgentRunResult> {
        const spec = validateAccessSpec({
            users: [{ name: "alice", sudo: "none", keys: [key("alice").pub], keyOptions }],
        });
        const r = await runDocumentLikeAgent(h, DOC, documentParameters(spec));
        assert.equal(r.responseCode, 0, `script failed: ${r.stderr}\n${r.stdout}`);
        if (!knownHosts) {
            knownHosts = path.join(dir, "known_hosts");
            const lines = r.stdout
                .split("\n")
                .filter((l) => l.startsWith("PKA-HOSTKEY "))
                .map((l) => `[127.0.0.1]:${h.port} ${l.slice(12)}`);
            fs.writeFileSync(knownHosts, lines.join("\n") + "\n");
        }
        const ak = fs.readFileSync(h.path("/home/alice/.ssh/authorized_keys"), "utf8");
        assert.ok(ak.includes(`\n${keyOptions} ${key("alice").pub}\n`), `installed as written:\n${ak}`);
        return r;
    }
    const ssh = (opts: Partial<SshOptions>) =>
        sshRun(h, { user: "alice", identityFile: key("alice").priv, knownHostsFile: knownHosts, ...opts });

    it("permitopen: ssh -W reaches the listed host:port and no other", async () => {
        const [allowed, other] = services;
        await install(`restrict,port-forwarding,permitopen="127.0.0.1:${allowed.port}"`);
        const ok = await ssh({ command: null, extraArgs: ["-W", `127.0.0.1:${allowed.port}`], input: "" });
        assert.equal(ok.stdout, "allowed\n", ok.stderr);
        const refused = await ssh({ command: null, extraArgs: ["-W", `127.0.0.1:${other.port}`], input: "" });
        assert.notEqual(refused.stdout, "other\n");
        assert.match(refused.stderr, /stdio forwarding failed|administratively prohibited|open failed/);
    });

    it("restrict alone refuses every forward; port-forwarding without permitopen allows any", async () => {
        const [allowed, other] = services;
        await install("restrict");
        const r = await ssh({ command: null, extraArgs: ["-W", `127.0.0.1:${allowed.port}`], input: "" });
        assert.notEqual(r.stdout, "allowed\n");
        await install("restrict,port-forwarding");
        const any = await ssh({ command: null, extraArgs: ["-W", `127.0.0.1:${other.port}`], input: "" });
        assert.equal(any.stdout, "other\n", any.stderr);
    });

    it("permitlisten: ssh -R may listen on the listed port only, and the listener works", async () => {
        const [allowed] = services;
        const listen = await freePort();
        const elsewhere = await freePort();
        await install(`restrict,port-forwarding,permitlisten="127.0.0.1:${listen}"`);
        const fwd = (port: number, command: string) =>
            ssh({
                command,
                extraArgs: ["-o", "ExitOnForwardFailure=yes", "-R", `127.0.0.1:${port}:127.0.0.1:${allowed.port}`],
            });
        const running = fwd(listen, "sleep 2");
        assert.equal(await readFrom(listen, patience(5000)), "allowed\n", "the remote listener forwards");
        assert.equal((await running).code, 0);
        const refused = await fwd(elsewhere, "true");
        assert.equal(refused.code, 255, refused.stderr);
        assert.match(refused.stderr, /remote port forwarding failed/);
    });

    it("pty: restrict refuses a terminal, restrict,pty grants one", async () => {
        const probe = 'if [ -t 1 ]; then echo "tty $(tty)"; else echo "no tty"; fi';
        await install("restrict");
        const none = await ssh({ command: probe, extraArgs: ["-tt"] });
        // ssh -tt closes the session when the pty it was told to get is refused
        assert.equal(none.code, 255, JSON.stringify(none));
        assert.match(none.stderr, /PTY allocation request failed/);
        await install("restrict,pty");
        const tty = await ssh({ command: probe, extraArgs: ["-tt"] });
        assert.match(tty.stdout, /^tty \/dev\/pts\/\d+\r?$/m, JSON.stringify(tty) + h.log().slice(-2000));
    });

    it("agent-forwarding: restrict withholds the agent, restrict,agent-forwarding forwards it", async () => {
        const probe = 'printf "%s\\n" "${SSH_AUTH_SOCK:-none}"; ssh-add -l >/dev/null 2>&1; echo "rc=$?"';
        // the client has the agent (the defaults say IdentityAgent=none) and asks to forward it
        const fwd = ["-o", `IdentityAgent=${agentSock}`, "-o", "ForwardAgent=yes"];
        await install("restrict");
        const none = await ssh({ command: probe, extraArgs: fwd });
        assert.equal(none.code, 0, none.stderr);
        assert.match(none.stdout, /^none\nrc=2$/m, "no socket: ssh-add cannot reach an agent");
        await install("restrict,agent-forwarding");
        const fwded = await ssh({ command: probe, extraArgs: fwd });
        assert.match(
            fwded.stdout,
            /^\/tmp\/ssh-[^\n]+\nrc=0$/m,
            `the forwarded agent holds a key: ${fwded.stdout} ${fwded.stderr}`,
        );
    });

    it("a forged spec whose permitopen would smuggle a second option is refused by the script, and nothing changes", async () => {
        await install("restrict");
        const before = fs.readFileSync(h.path("/home/alice/.ssh/authorized_keys"), "utf8");
        for (const opts of [
            'permitopen="db:1",environment="LD_PRELOAD=/tmp/x.so"',
            'permitopen="db:1 x"',
            'permitopen="db:1,command=sh"',
            'permitopen="db:1"x',
            'permitopen="[::1:22"',
        ]) {
            const manifest = `pka-access 1 ${"0".repeat(64)}\nu alice none\nk alice ${opts} ${key("alice").pub}\n`;
            const bad = await runDocumentLikeAgent(h, DOC, {
                [SPEC_PARAMETER]: [Buffer.from(manifest).toString("base64")],
                [SPEC_SHA_PARAMETER]: [sha256Hex(manifest)],
            });
            assert.notEqual(bad.responseCode, 0, `${opts}: ${bad.stdout}`);
            assert.match(bad.stdout + bad.stderr, /spec line 3 breaks the spec grammar/, opts);
            assert.equal(fs.readFileSync(h.path("/home/alice/.ssh/authorized_keys"), "utf8"), before, opts);
        }
    });
});
