/**
 * OpenSSH certificates as pka-fleet issues them (core/certs, `pka cert`), judged by OpenSSH's own
 * tools: `ssh-keygen -L` reads what we wrote, `ssh-keygen -Q` reads our KRLs, we read what
 * `ssh-keygen -s` signs, and a real sshd accepts or refuses each certificate as sshd(8) says.
 */
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    buildKrl,
    caKeyProblem,
    CertificateError,
    certificateProblems,
    issueCertificate,
    IssueRequest,
    parseCertificateLine,
    parseDuration,
} from "../core/certs";
import { SandboxHost, sshRun, startHosts, stopHosts } from "../local/sandbox";
import { ensureBuilt, PKA_CLI } from "./support/built";
import { requireReal } from "./support/env";
import { patience } from "./support/patience";

let dir = "";
const read = (f: string) => fs.readFileSync(path.join(dir, f), "utf8");
/** A key made by the real ssh-keygen: `name` (private, no passphrase) and `name.pub`. */
function keygen(name: string, type: string, bits?: number): string {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) {
        const args = ["-q", "-t", type, "-N", "", "-C", `${name}@test`, "-f", file];
        if (bits) args.push("-b", String(bits));
        execFileSync("ssh-keygen", args);
    }
    return file;
}
function issue(over: Partial<IssueRequest> & { ca?: string; key?: string } = {}): string {
    const { ca = "ca", key = "alice", ...rest } = over;
    return issueCertificate({
        caPrivateKey: read(ca),
        publicKey: read(`${key}.pub`),
        principals: ["svc_user"],
        validitySeconds: 3600,
        ...rest,
    }).line;
}
const refusal = (f: () => unknown): string => {
    try {
        f();
    } catch (e) {
        assert.ok(e instanceof CertificateError, `a CertificateError, got ${String(e)}`);
        return e.message;
    }
    assert.fail("expected a refusal");
};
const pka = (args: string[]) => spawnSync(process.execPath, [PKA_CLI, ...args], { encoding: "utf8", cwd: dir });

before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-certs-"));
    keygen("ca", "ed25519");
    keygen("alice", "ed25519");
});
after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

describe("certificates: the format as OpenSSH's tools read it", function () {
    this.timeout(patience(60_000));
    before(function () {
        requireReal(this, { commands: ["ssh-keygen"] });
    });

    for (const [name, type, bits, algo] of [
        ["ca", "ed25519", 0, "ssh-ed25519"],
        ["ca-ecdsa", "ecdsa", 384, "ecdsa-sha2-nistp384"],
        ["ca-rsa", "rsa", 3072, "rsa-sha2-512"],
    ] as const) {
        it(`a ${type} CA: ssh-keygen -L reads every field we wrote (signed with ${algo})`, () => {
            keygen(name, type, bits || undefined);
            const line = issue({
                ca: name,
                principals: ["svc_user", "jane.doe"],
                keyId: "deploy-42",
                serial: 4242n,
                critical: { forceCommand: "/usr/bin/id -un", sourceAddress: ["10.0.0.0/8", "192.0.2.7"] },
                extensions: ["permit-pty", "permit-X11-forwarding"],
            });
            fs.writeFileSync(path.join(dir, "alice-cert.pub"), line + "\n");
            const out = execFileSync("ssh-keygen", ["-L", "-f", path.join(dir, "alice-cert.pub")], {
                encoding: "utf8",
            });
            assert.match(out, /Type: ssh-ed25519-cert-v01@openssh.com user certificate/);
            assert.match(out, new RegExp(`\\(using ${algo}\\)`));
            assert.match(out, /Key ID: "deploy-42"/);
            assert.match(out, /Serial: 4242\n/);
            assert.match(out, /Principals: \n\s+svc_user\n\s+jane\.doe\n/);
            assert.match(out, /force-command \/usr\/bin\/id -un\n\s+source-address 10\.0\.0\.0\/8,192\.0\.2\.7/);
            assert.match(out, /Extensions: \n\s+permit-X11-forwarding\n\s+permit-pty\n/);
            const fp = execFileSync("ssh-keygen", ["-l", "-f", path.join(dir, `${name}.pub`)], { encoding: "utf8" });
            assert.ok(out.includes(fp.split(" ")[1]), "the signing CA is the one we gave");
            assert.equal(parseCertificateLine(line).signatureValid, true);
        });
    }

    it("we read and verify what ssh-keygen -s signs; one changed byte breaks the signature", () => {
        execFileSync("ssh-keygen", [
            "-q",
            "-s",
            path.join(dir, "ca"),
            "-I",
            "by-ssh-keygen",
            "-n",
            "svc_user,bob",
            "-V",
            "-5m:+1h",
            "-z",
            "77",
            "-O",
            "source-address=127.0.0.1/32",
            path.join(dir, "alice.pub"),
        ]);
        const line = read("alice-cert.pub");
        const info = parseCertificateLine(line);
        assert.equal(info.signatureValid, true);
        assert.deepEqual(
            [info.keyId, info.serial, info.principals, info.critical.sourceAddress],
            ["by-ssh-keygen", 77n, ["svc_user", "bob"], ["127.0.0.1/32"]],
        );
        assert.deepEqual(certificateProblems(info, new Date()), []);
        const blob = Buffer.from(line.split(" ")[1], "base64");
        const at = blob.indexOf(Buffer.from("by-ssh-keygen"));
        blob[at] ^= 1; // the key id, inside the signed part
        const forged = parseCertificateLine(`${line.split(" ")[0]} ${blob.toString("base64")}`);
        assert.equal(forged.signatureValid, false);
        assert.match(certificateProblems(forged, new Date()).join("\n"), /signature does not verify/);
    });

    it("ssh-keygen -Q reads our KRL: by serial, by key id, by key; what is not listed stays ok", () => {
        const line = issue({ serial: 9001n, keyId: "alice-laptop" });
        fs.writeFileSync(path.join(dir, "alice-cert.pub"), line + "\n");
        const q = (krl: Buffer) => {
            fs.writeFileSync(path.join(dir, "krl"), krl);
            const r = spawnSync(
                "ssh-keygen",
                ["-Q", "-f", path.join(dir, "krl"), path.join(dir, "alice-cert.pub"), path.join(dir, "ca.pub")],
                { encoding: "utf8" },
            );
            return r.stdout
                .trim()
                .split("\n")
                .map((l) => l.replace(/^.*: /, ""));
        };
        const ca = read("ca.pub");
        assert.deepEqual(q(buildKrl({ certificates: [{ ca, serials: [1n, 9001n, 2n ** 63n] }] })), ["REVOKED", "ok"]);
        assert.deepEqual(q(buildKrl({ certificates: [{ ca, keyIds: ["alice-laptop"] }] })), ["REVOKED", "ok"]);
        assert.deepEqual(q(buildKrl({ keys: [read("alice.pub")] })), ["REVOKED", "ok"]);
        keygen("unrelated", "ed25519");
        const other = read("unrelated.pub");
        assert.deepEqual(q(buildKrl({ certificates: [{ ca, serials: [9000n] }], keys: [other] })), ["ok", "ok"]);
        // Revoking a CA's own key revokes every certificate it signed (sshd checks the signing key too).
        assert.deepEqual(q(buildKrl({ keys: [ca] })), ["REVOKED", "REVOKED"]);
        assert.deepEqual(
            q(buildKrl({ certificates: [{ ca: read("alice.pub"), serials: [9001n] }] })),
            ["ok", "ok"],
            "another CA's serial",
        );
    });
});

describe("certificates: what is refused, with the input named", function () {
    it("no principals, a hostile principal, too long, host bits, quotes in force-command, unknown extension", () => {
        assert.match(
            refusal(() => issue({ principals: [] })),
            /^principals: .*valid for every user/,
        );
        assert.match(
            refusal(() => issue({ principals: ["root;id"] })),
            /^principals: principal "root;id" is not a user name/,
        );
        assert.match(
            refusal(() => issue({ validitySeconds: 2 * 86400 })),
            /^validity: 2d is longer than the maximum of 24h/,
        );
        assert.match(
            refusal(() => issue({ critical: { sourceAddress: ["10.1.2.3/8"] } })),
            /^source-address: '10.1.2.3\/8' has host bits set.*10\.0\.0\.0\/8/,
        );
        assert.match(
            refusal(() => issue({ critical: { sourceAddress: ["example.com"] } })),
            /host names and ! are not allowed/,
        );
        assert.match(
            refusal(() => issue({ critical: { forceCommand: '/bin/sh -c "id"' } })),
            /^force-command: .*is not allowed/,
        );
        assert.match(
            refusal(() => issue({ extensions: ["permit-everything"] })),
            /^extensions: 'permit-everything' is not an extension/,
        );
        assert.match(
            refusal(() =>
                issue({ kind: "host", principals: ["web1.example.com"], critical: { forceCommand: "/bin/true" } }),
            ),
            /host certificates take no critical options/,
        );
        assert.match(
            refusal(() => issue({ keyId: "a\nb" })),
            /^key id: /,
        );
    });

    it("CA keys: ed25519, ecdsa and RSA >= 3072 sign; a weak RSA CA, an encrypted CA without its passphrase, the CA as its own subject do not", function () {
        requireReal(this, { commands: ["ssh-keygen"] });
        assert.equal(caKeyProblem({ type: "ed25519", bits: 256 }), undefined);
        assert.match(String(caKeyProblem({ type: "rsa", bits: 2048 })), /too weak/);
        assert.match(String(caKeyProblem({ type: "sk-ed25519", bits: 256 })), /cannot be a CA/);
        keygen("ca-rsa2048", "rsa", 2048);
        assert.match(
            refusal(() => issue({ ca: "ca-rsa2048" })),
            /^the CA key: an RSA CA of 2048 bits is too weak/,
        );
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "secret words", "-f", path.join(dir, "ca-locked")]);
        assert.match(
            refusal(() => issue({ ca: "ca-locked" })),
            /^the CA key: is passphrase-protected/,
        );
        assert.ok(
            issue({ ca: "ca-locked", caPassphrase: "secret words" }).startsWith("ssh-ed25519-cert-v01@openssh.com "),
        );
        assert.match(
            refusal(() => issue({ key: "ca" })),
            /is the CA key itself/,
        );
        assert.match(
            refusal(() => issue({ key: "ca", ca: "alice", publicKey: "ssh-ed25519 AAAA" })),
            /the key to certify/,
        );
    });

    it("a key the key rules refuse gets no certificate (rsa 2048, or a policy that allows only ed25519)", function () {
        requireReal(this, { commands: ["ssh-keygen"] });
        keygen("weak", "rsa", 2048);
        assert.match(
            refusal(() => issue({ key: "weak" })),
            /^the key to certify: .*rsa-2048 is too small/,
        );
        keygen("p384", "ecdsa", 384);
        assert.ok(issue({ key: "p384" }).startsWith("ecdsa-sha2-nistp384-cert-v01@openssh.com "));
        assert.match(
            refusal(() => issue({ key: "p384", keyRules: { allowedTypes: ["ed25519"] } })),
            /^the key to certify: /,
        );
        ensureBuilt();
        fs.writeFileSync(
            path.join(dir, "policy.json"),
            JSON.stringify({ "ssh-key-algorithm": { allowedTypes: ["ed25519"] } }),
        );
        const r = pka([
            "cert",
            "issue",
            "--ca",
            "ca",
            "--key",
            "p384.pub",
            "--principal",
            "svc_user",
            "--validity",
            "1h",
            "--config",
            "policy.json",
        ]);
        assert.equal(r.status, 2, r.stdout);
        assert.match(r.stderr, /the key to certify: /);
        assert.ok(!fs.existsSync(path.join(dir, "p384-cert.pub")));
    });

    it("durations as ssh-keygen writes them", () => {
        assert.deepEqual(
            ["90s", "30m", "1h", "1h30m", "7d", "2w", "600"].map((d) => parseDuration(d, "x")),
            [90, 1800, 3600, 5400, 604800, 1209600, 600],
        );
        for (const bad of ["", "1y", "-1h", "1.5h", "h", "0"])
            assert.throws(() => parseDuration(bad, "--validity"), /^CertificateError: --validity: |--validity: /);
    });

    it("pka cert: issue writes KEY-cert.pub and show judges it; bad usage exits 2 and writes nothing", function () {
        requireReal(this, { commands: ["ssh-keygen"] });
        ensureBuilt();
        fs.rmSync(path.join(dir, "alice-cert.pub"), { force: true });
        const ok = pka([
            "cert",
            "issue",
            "--ca",
            "ca",
            "--key",
            "alice.pub",
            "--principal",
            "svc_user",
            "--validity",
            "30m",
        ]);
        assert.equal(ok.status, 0, ok.stderr);
        assert.match(ok.stdout, /verdict: +ok/);
        assert.ok(!/PRIVATE/.test(ok.stdout + ok.stderr), "never prints the CA key");
        const show = pka(["cert", "show", "alice-cert.pub"]);
        assert.equal(show.status, 0, show.stderr);
        assert.match(show.stdout, /principals: +svc_user/);
        fs.rmSync(path.join(dir, "alice-cert.pub"));
        for (const [args, re] of [
            [["--principal", "svc_user", "--validity", "2d"], /validity: 2d is longer than the maximum of 24h/],
            [["--principal", "x y", "--validity", "1h"], /is not a user name/],
            [["--validity", "1h"], /--principal is required/],
            [["--principal", "svc_user", "--validity", "soon"], /--validity: 'soon' is not a duration/],
        ] as const) {
            const r = pka(["cert", "issue", "--ca", "ca", "--key", "alice.pub", ...args]);
            assert.equal(r.status, 2, r.stdout);
            assert.match(r.stderr, re);
            assert.ok(!fs.existsSync(path.join(dir, "alice-cert.pub")), "nothing written");
        }
        const missing = pka([
            "cert",
            "issue",
            "--ca",
            "nope",
            "--key",
            "alice.pub",
            "--principal",
            "svc_user",
            "--validity",
            "1h",
        ]);
        assert.match(missing.stderr, /--ca nope: no such file/);
    });
});

describe("certificates on a real sshd host", function () {
    this.timeout(patience(120_000));
    let hosts: SandboxHost[] = [];
    let h: SandboxHost;
    let knownHosts = "";

    before(async function () {
        requireReal(this, { root: true, commands: ["sshd", "ssh", "ssh-keygen", "unshare", "nsenter"] });
        keygen("host-ca", "ed25519");
        keygen("ca-ecdsa", "ecdsa", 384);
        keygen("ca-rsa", "rsa", 3072);
        hosts = await startHosts(1, {
            namePrefix: "pka-certs",
            readyTimeoutMs: patience(10_000),
            sshdConfig: [
                "TrustedUserCAKeys /etc/ssh/pka-user-ca.pub",
                "AuthorizedPrincipalsFile /etc/ssh/pka-principals/%u",
                "RevokedKeys /etc/ssh/pka-revoked.krl",
                "HostCertificate /etc/ssh/ssh_host_ed25519_key-cert.pub",
            ],
        });
        [h] = hosts;
        fs.writeFileSync(
            h.path("/etc/ssh/pka-user-ca.pub"),
            [read("ca.pub"), read("ca-ecdsa.pub"), read("ca-rsa.pub")].join(""),
        );
        fs.mkdirSync(h.path("/etc/ssh/pka-principals"));
        fs.writeFileSync(h.path("/etc/ssh/pka-principals/svc_user"), "svc_user\n");
        fs.writeFileSync(h.path("/etc/ssh/pka-revoked.krl"), buildKrl({}));
        const made = await h.sh("useradd -m -s /bin/sh svc_user && usermod -p '*' svc_user");
        assert.equal(made.code, 0, made.stderr);
        knownHosts = path.join(dir, "known_hosts");
        fs.writeFileSync(knownHosts, h.knownHostsLines().join("\n") + "\n");
    });
    after(async () => {
        await stopHosts(hosts);
    });

    /** Logs in as svc_user with alice's key and `cert`; no authorized_keys exists, so only the certificate can admit. */
    async function login(cert: string, command = "id -un", known = knownHosts) {
        fs.writeFileSync(path.join(dir, "login-cert.pub"), cert + "\n");
        return sshRun(h, {
            user: "svc_user",
            identityFile: path.join(dir, "alice"),
            knownHostsFile: known,
            command,
            extraArgs: ["-o", `CertificateFile=${path.join(dir, "login-cert.pub")}`],
        });
    }

    it("a certificate from each CA type logs in; the bare key does not", async () => {
        assert.ok(!fs.existsSync(h.path("/home/svc_user/.ssh/authorized_keys")));
        for (const ca of ["ca", "ca-ecdsa", "ca-rsa"]) {
            const r = await login(issue({ ca }));
            assert.equal(r.code, 0, `${ca}: ${r.stderr}\n${h.log().slice(-2000)}`);
            assert.equal(r.stdout.trim(), "svc_user");
        }
        const bare = await sshRun(h, {
            user: "svc_user",
            identityFile: path.join(dir, "alice"),
            knownHostsFile: knownHosts,
        });
        assert.equal(bare.code, 255);
    });

    it("an expired certificate, one not yet valid, and one for another principal are refused", async () => {
        const twoHoursAgo = new Date(Date.now() - 2 * 3600 * 1000);
        assert.equal((await login(issue({ now: twoHoursAgo }))).code, 255, "expired");
        assert.equal((await login(issue({ now: new Date(Date.now() + 3600 * 1000) }))).code, 255, "not yet valid");
        assert.equal((await login(issue({ principals: ["bob"] }))).code, 255, "another principal");
        assert.equal((await login(issue())).code, 0, "and a good one still works");
    });

    it("a KRL written by pka cert krl revokes by serial; a KRL without it lets the same certificate in again", async () => {
        const cert = issue({ serial: 31337n });
        fs.writeFileSync(path.join(dir, "user-ca.pub"), read("ca.pub"));
        const r = pka(["cert", "krl", "--out", "revoked.krl", "--ca", "user-ca.pub", "--serial", "31337"]);
        assert.equal(r.status, 0, r.stderr);
        fs.copyFileSync(path.join(dir, "revoked.krl"), h.path("/etc/ssh/pka-revoked.krl"));
        assert.equal((await login(cert)).code, 255, "revoked");
        assert.equal((await login(issue({ serial: 31338n }))).code, 0, "another serial");
        fs.writeFileSync(
            h.path("/etc/ssh/pka-revoked.krl"),
            buildKrl({ certificates: [{ ca: read("ca.pub"), serials: [1n] }] }),
        );
        assert.equal((await login(cert)).code, 0, "no longer revoked");
    });

    it("force-command replaces the command; source-address admits only from the listed networks", async () => {
        const forced = await login(issue({ critical: { forceCommand: "/bin/echo forced" } }), "id -un");
        assert.equal(forced.stdout.trim(), "forced");
        assert.equal((await login(issue({ critical: { sourceAddress: ["10.0.0.0/8"] } }))).code, 255);
        assert.equal((await login(issue({ critical: { sourceAddress: ["127.0.0.0/8"] } }))).code, 0);
    });

    it("a host certificate: ssh with StrictHostKeyChecking yes and only an @cert-authority line trusts the host", async () => {
        const hostPub = fs.readFileSync(h.path("/etc/ssh/ssh_host_ed25519_key.pub"), "utf8");
        fs.writeFileSync(path.join(dir, "host_key.pub"), hostPub);
        const cert = issue({
            ca: "host-ca",
            key: "host_key",
            kind: "host",
            principals: ["127.0.0.1"],
            validitySeconds: 86400,
        });
        fs.writeFileSync(h.path("/etc/ssh/ssh_host_ed25519_key-cert.pub"), cert + "\n");
        process.kill(h.innerPid, "SIGHUP"); // sshd re-executes itself and loads the certificate
        const caOnly = path.join(dir, "known_hosts_ca");
        fs.writeFileSync(caOnly, `@cert-authority * ${read("host-ca.pub")}`);
        let r = await login(issue(), "id -un", caOnly);
        for (let i = 0; i < 20 && r.code !== 0; i++) {
            await new Promise((res) => setTimeout(res, 100)); // the re-executed sshd is listening again
            r = await login(issue(), "id -un", caOnly);
        }
        assert.equal(r.code, 0, `${r.stderr}\n${h.log().slice(-1500)}`);
        fs.writeFileSync(caOnly, `@cert-authority * ${read("ca.pub")}`);
        assert.equal((await login(issue(), "id -un", caOnly)).code, 255, "another CA is not trusted for the host");
    });
});
