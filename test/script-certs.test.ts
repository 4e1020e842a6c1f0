/**
 * Certificate mode on a real sshd host, pushed by the real setup script (the document run as the
 * SSM agent runs it): the user CA, principals and KRL installed through an sshd_config.d drop-in
 * checked with `sshd -t`, sshd reloaded, and the central server's key login kept throughout the
 * switch from key mode to certificate mode and back.
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { validateAccessSpec } from "../core/accessSpec";
import { sha256Hex } from "../core/accessStore";
import { buildKrl, issueCertificate, IssueRequest } from "../core/certs";
import { documentParameters, renderDocumentJson, SPEC_PARAMETER, SPEC_SHA_PARAMETER } from "../core/document";
import { AgentRunResult, runDocumentLikeAgent } from "../local/agent";
import { SandboxHost, sshRun, startHosts, stopHosts } from "../local/sandbox";
import { requireReal } from "./support/env";
import { loginKeys } from "./support/loginKeys";
import { patience } from "./support/patience";

const DOC = renderDocumentJson();
const NEEDS = { root: true, commands: ["sshd", "ssh", "ssh-keygen", "unshare", "nsenter"] };
const DROPIN = "/etc/ssh/sshd_config.d/10-pka-fleet.conf";

let dir = "";
const key = loginKeys(() => dir);

describe("certificate mode on a real sshd host, pushed by the setup script", function () {
    this.timeout(patience(180_000));
    let hosts: SandboxHost[] = [];
    let h: SandboxHost;
    let knownHosts = "";
    let caKey = "";
    let caPub = "";

    before(async function () {
        requireReal(this, NEEDS);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-script-certs-"));
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "user-ca", "-f", path.join(dir, "ca")]);
        caKey = fs.readFileSync(path.join(dir, "ca"), "utf8");
        caPub = fs.readFileSync(path.join(dir, "ca.pub"), "utf8").trim();
        // The sandbox's sshd_config includes sshd_config.d first, as Debian and Amazon Linux 2023 ship it.
        hosts = await startHosts(1, { namePrefix: "pka-certmode", readyTimeoutMs: patience(10_000) });
        [h] = hosts;
        knownHosts = path.join(dir, "known_hosts");
        fs.writeFileSync(knownHosts, h.knownHostsLines().join("\n") + "\n");
    });
    after(async () => {
        await stopHosts(hosts);
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    type Spec = { users: Record<string, unknown>[]; certificates?: Record<string, unknown> };
    async function push(spec: Spec): Promise<AgentRunResult> {
        return runDocumentLikeAgent(h, DOC, documentParameters(validateAccessSpec(spec)));
    }
    async function pushOk(spec: Spec): Promise<AgentRunResult> {
        const r = await push(spec);
        assert.equal(r.responseCode, 0, `script failed: ${r.stderr}\n${r.stdout}`);
        return r;
    }
    function cert(over: Partial<IssueRequest> = {}, holder = "alice"): string {
        const line = issueCertificate({
            caPrivateKey: caKey,
            publicKey: key(holder).pub,
            principals: ["svc_user"],
            validitySeconds: 3600,
            ...over,
        }).line;
        const file = path.join(dir, `${holder}-${Math.random().toString(36).slice(2)}-cert.pub`);
        fs.writeFileSync(file, line + "\n");
        return file;
    }
    /** The central server's login: svc_user with its key (key mode). */
    const keyLogin = () =>
        sshRun(h, {
            user: "svc_user",
            identityFile: key("central").priv,
            knownHostsFile: knownHosts,
            command: "id -un",
        });
    /** A login as `user` by certificate only (alice's key is in no authorized_keys). */
    const certLogin = (user: string, certFile: string) =>
        sshRun(h, {
            user,
            identityFile: key("alice").priv,
            knownHostsFile: knownHosts,
            command: "id -un",
            extraArgs: ["-o", `CertificateFile=${certFile}`],
        });
    const svc = () => ({ name: "svc_user", sudo: "none", keys: [key("central").pub] });
    const certs = (extra: Record<string, unknown> = {}) => ({ userCaKeys: [caPub], ...extra });

    it("key mode first: the central server logs in by key; a certificate is not trusted", async () => {
        await pushOk({ users: [svc()] });
        assert.equal((await keyLogin()).code, 0);
        assert.equal((await certLogin("svc_user", cert())).code, 255);
        assert.ok(!fs.existsSync(h.path(DROPIN)));
    });

    it("switching to certificate mode: the drop-in passes sshd -t, sshd reloads, certificates log in, the key still does", async () => {
        const r = await pushOk({
            users: [svc(), { name: "bob", sudo: "none", keys: [], principals: ["ops", "bob"] }],
            certificates: certs(),
        });
        assert.match(r.stdout, /^PKA-SSHD reloaded$/m);
        assert.match(r.stdout, /^PKA-CERTS on$/m);
        assert.equal(
            fs.readFileSync(h.path(DROPIN), "utf8"),
            "# pka-fleet certificate mode (removed when the spec names no user CA)\n" +
                "TrustedUserCAKeys /etc/ssh/pka-fleet/user_ca_keys\n" +
                "AuthorizedPrincipalsFile /etc/ssh/pka-fleet/principals/%u\n" +
                "RevokedKeys /etc/ssh/pka-fleet/revoked_keys\n",
        );
        assert.equal(fs.readFileSync(h.path("/etc/ssh/pka-fleet/principals/bob"), "utf8"), "ops\nbob\n");
        assert.equal(fs.readFileSync(h.path("/etc/ssh/pka-fleet/principals/svc_user"), "utf8"), "svc_user\n");
        for (const f of ["", "/principals", "/principals/bob", "/user_ca_keys", "/revoked_keys"]) {
            const st = fs.statSync(h.path(`/etc/ssh/pka-fleet${f}`));
            assert.equal(st.uid, 0, f);
            assert.equal(st.mode & 0o022, 0, `${f} is writable by no one but root`);
        }
        assert.equal((await keyLogin()).code, 0, "the key still logs in");
        const ok = await certLogin("svc_user", cert());
        assert.equal(ok.code, 0, `${ok.stderr}\n${h.log().slice(-1500)}`);
        assert.equal(ok.stdout.trim(), "svc_user");
        // bob: certificate only, principals ops or bob; svc_user's principal does not admit him
        assert.equal((await certLogin("bob", cert({ principals: ["ops"] }))).stdout.trim(), "bob");
        assert.equal((await certLogin("bob", cert({ principals: ["svc_user"] }))).code, 255);
    });

    it("a no-change push changes nothing and does not reload sshd", async () => {
        const spec = {
            users: [svc(), { name: "bob", sudo: "none", keys: [], principals: ["ops", "bob"] }],
            certificates: certs(),
        };
        const r = await pushOk(spec);
        assert.match(r.stdout, /PKA-SUMMARY status=ok .* changes=0 /);
        assert.doesNotMatch(r.stdout, /PKA-SSHD|PKA-CERTS/);
    });

    it("a KRL in the spec revokes a certificate by serial in one push, without a reload", async () => {
        const revoked = cert({ serial: 777n });
        assert.equal((await certLogin("svc_user", revoked)).code, 0);
        const krl = buildKrl({ certificates: [{ ca: caPub, serials: [777n] }], generatedAt: 0n }).toString("base64");
        const r = await pushOk({ users: [svc()], certificates: certs({ revokedKeys: krl }) });
        assert.doesNotMatch(r.stdout, /PKA-SSHD/, "the KRL is read on every login");
        assert.equal((await certLogin("svc_user", revoked)).code, 255, "revoked");
        assert.equal((await certLogin("svc_user", cert({ serial: 778n }))).code, 0, "another serial");
        assert.ok(
            !fs.existsSync(h.path("/etc/ssh/pka-fleet/principals/bob")),
            "bob left the spec: his principals went",
        );
        assert.equal((await certLogin("bob", cert({ principals: ["ops"] }))).code, 255);
    });

    it("a stranger's account of a spec user's name gets no principals (a conflict, as in key mode)", async () => {
        assert.equal((await h.sh("useradd -m -s /bin/sh carol && usermod -p '*' carol")).code, 0);
        const r = await push({ users: [svc(), { name: "carol", sudo: "none", keys: [] }], certificates: certs() });
        assert.equal(r.responseCode, 19, r.stdout + r.stderr);
        assert.match(r.stderr, /PKA-CONFLICT carol exists and was not created by pka-fleet/);
        assert.ok(!fs.existsSync(h.path("/etc/ssh/pka-fleet/principals/carol")));
        assert.equal((await certLogin("carol", cert({ principals: ["carol"] }))).code, 255);
        assert.equal((await certLogin("svc_user", cert())).code, 0, "the rest applied");
    });

    it("a drop-in sshd -t refuses is never left in place: the previous one is put back, sshd keeps serving", async () => {
        // Another CA (a rotation) needs a new drop-in? No: the drop-in text is fixed. So break what
        // sshd -t reads: a stray drop-in of the host's own makes every configuration invalid.
        const before = fs.readFileSync(h.path(DROPIN), "utf8");
        await pushOk({ users: [svc()] }); // key mode: the drop-in goes
        assert.ok(!fs.existsSync(h.path(DROPIN)));
        fs.writeFileSync(h.path("/etc/ssh/sshd_config.d/05-broken.conf"), "NoSuchSshdOption yes\n");
        const r = await push({ users: [svc()], certificates: certs() });
        assert.equal(r.responseCode, 19, r.stdout + r.stderr);
        assert.match(
            r.stderr,
            /PKA-CONFLICT certificates sshd -t refused \/etc\/ssh\/sshd_config.d\/10-pka-fleet.conf .*put back, sshd not reloaded/,
        );
        assert.ok(!fs.existsSync(h.path(DROPIN)), "no drop-in left behind");
        assert.equal((await keyLogin()).code, 0, "the running sshd serves as before");
        fs.rmSync(h.path("/etc/ssh/sshd_config.d/05-broken.conf"));
        const again = await pushOk({ users: [svc()], certificates: certs() });
        assert.match(again.stdout, /^PKA-CERTS on$/m);
        assert.equal(fs.readFileSync(h.path(DROPIN), "utf8"), before);
        assert.equal((await certLogin("svc_user", cert())).code, 0);
    });

    it("back to key mode: drop-in and files go, sshd reloads, certificates stop working, the key never did", async () => {
        const r = await pushOk({ users: [svc()] });
        assert.match(r.stdout, /^PKA-CERTS off$/m);
        assert.match(r.stdout, /^PKA-SSHD reloaded$/m);
        assert.ok(!fs.existsSync(h.path(DROPIN)));
        assert.deepEqual(
            fs.readdirSync(h.path("/etc/ssh/pka-fleet")),
            ["revoked_keys"],
            "the KRL stays one run longer",
        );
        let refused = await certLogin("svc_user", cert());
        for (let i = 0; i < 20 && refused.code === 0; i++) {
            await new Promise((res) => setTimeout(res, 100)); // the re-executed sshd is listening again
            refused = await certLogin("svc_user", cert());
        }
        assert.equal(refused.code, 255);
        assert.equal((await keyLogin()).code, 0);
        const later = await pushOk({ users: [svc()] });
        assert.match(later.stdout, /PKA-SUMMARY status=ok .* changes=1 /);
        assert.ok(!fs.existsSync(h.path("/etc/ssh/pka-fleet")), "gone on the next run");
    });

    it("the central server's key login holds throughout: logins in a loop while the host switches mode 4 times", async () => {
        let stop = false;
        const results: number[] = [];
        const failures: string[] = [];
        const loop = (async () => {
            while (!stop) {
                const r = await sshRun(h, {
                    user: "svc_user",
                    identityFile: key("central").priv,
                    knownHostsFile: knownHosts,
                    command: "true",
                    // as a central server should run it: a connection refused while sshd re-executes is retried
                    extraArgs: ["-o", "ConnectionAttempts=3"],
                });
                results.push(r.code ?? -1);
                if (r.code !== 0) failures.push(r.stderr.trim());
            }
        })();
        for (let i = 0; i < 4; i++) {
            const r = await pushOk(i % 2 === 0 ? { users: [svc()], certificates: certs() } : { users: [svc()] });
            assert.match(r.stdout, i % 2 === 0 ? /^PKA-CERTS on$/m : /^PKA-CERTS off$/m);
            await new Promise((res) => setTimeout(res, 300));
        }
        const during = results.length;
        while (results.length < during + 2) await new Promise((res) => setTimeout(res, 50)); // and right after
        stop = true;
        await loop;
        assert.ok(during >= 2, `${during} logins during the pushes`);
        assert.deepEqual(
            results.filter((c) => c !== 0),
            [],
            `${results.length} logins, every one admitted`,
        );
    });

    it("a forged spec with hostile certificate lines is refused before anything changes", async () => {
        // (the mode switches before left key mode on, with the KRL kept one run)
        const pub = key("central").pub;
        const forged = [
            ["u svc_user none", `k svc_user ${pub}`, "p svc_user ops"], // principals without a CA
            [`c ${caPub.split(" ").slice(0, 2).join(" ")}`, "u svc_user none", "p bob ops"], // not a user of the spec
            [`c ${caPub.split(" ").slice(0, 2).join(" ")}`, "r AAAA", "r AAAA", "u svc_user none"], // two KRLs
            ["c ssh-dss AAAA", "u svc_user none"],
            [`c ${caPub.split(" ").slice(0, 2).join(" ")}`, "u svc_user none", "p svc_user ops,root"],
            [`c ${caPub.split(" ").slice(0, 2).join(" ")}`, "u svc_user none", "p svc_user ../root"],
            [`c ${caPub.split(" ").slice(0, 2).join(" ")} comment`, "u svc_user none"],
        ];
        for (const lines of forged) {
            const manifest = [`pka-access 1 ${"0".repeat(64)}`, ...lines, ""].join("\n");
            const r = await runDocumentLikeAgent(h, DOC, {
                [SPEC_PARAMETER]: [Buffer.from(manifest).toString("base64")],
                [SPEC_SHA_PARAMETER]: [sha256Hex(manifest)],
            });
            assert.equal(r.responseCode, 12, `${lines.join(" | ")}: ${r.stdout}${r.stderr}`);
            assert.ok(!fs.existsSync(h.path(DROPIN)), lines.join(" | "));
            assert.deepEqual(fs.readdirSync(h.path("/etc/ssh/pka-fleet")), ["revoked_keys"], lines.join(" | "));
        }
    });
});
