/**
 * Host certificates on a real sshd host, installed by the real host-certificate document (run as
 * the SSM agent runs it), signed the way the provisioner signs them (a KMS-style ECDSA CA: DER
 * signatures over the certificate). The central server then needs one `@cert-authority` line and
 * `StrictHostKeyChecking yes`, no per-host entry. Everything the parameter carries is checked
 * by the script against the host's own keys and the document's CA; sshd -t guards the reload.
 */
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { sshSignatureFromKmsDer } from "../core/certAuthorityKms";
import { sshPublicKeyFromSpki } from "../core/certAuthorityPlan";
import { issueCertificate, prepareCertificate } from "../core/certs";
import { hostCertificateParameters, renderHostCertificateDocumentJson } from "../core/document/hostCertificates";
import { generateKey } from "../core/keygen";
import { AgentRunResult, runDocumentLikeAgent } from "../local/agent";
import { SandboxHost, sshRun, startHosts, stopHosts } from "../local/sandbox";
import { requireReal } from "./support/env";
import { loginKeys } from "./support/loginKeys";
import { patience } from "./support/patience";

const NEEDS = { root: true, commands: ["sshd", "ssh", "ssh-keygen", "unshare", "nsenter"] };
const DROPIN = "/etc/ssh/sshd_config.d/11-pka-fleet-host-certificate.conf";
const ID = "i-0123456789abcdef0";
const IP = "10.0.1.17";

/** A CA as KMS holds it: an ECDSA P-256 key that signs digests and answers DER. */
function kmsStyleCa(): {
    line: string;
    sign(publicKey: string, principals: string[], seconds: number, now?: Date): string;
} {
    const { publicKey, privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const line = sshPublicKeyFromSpki(publicKey.export({ format: "der", type: "spki" }), "");
    return {
        line,
        sign(subject, principals, seconds, now) {
            const p = prepareCertificate({
                caPublicKey: line,
                publicKey: subject,
                kind: "host",
                principals,
                validitySeconds: seconds,
                now,
            });
            const der = crypto.sign("sha256", p.body, { key: privateKey, dsaEncoding: "der" });
            return p.finish(sshSignatureFromKmsDer(der, "ECC_NIST_P256")).line.split(" ").slice(0, 2).join(" ");
        },
    };
}

let dir = "";
const key = loginKeys(() => dir);

describe("host certificates on a real sshd host, installed by the host-certificate document", function () {
    this.timeout(patience(180_000));
    let hosts: SandboxHost[] = [];
    let h: SandboxHost;
    const ca = kmsStyleCa();
    const doc = renderHostCertificateDocumentJson(ca.line);
    let caOnly = "";

    before(async function () {
        requireReal(this, NEEDS);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-script-hostcerts-"));
        hosts = await startHosts(1, {
            namePrefix: "pka-hostcert",
            readyTimeoutMs: patience(10_000),
            hostKeyTypes: ["ed25519", "ecdsa", "rsa"],
        });
        [h] = hosts;
        // The central server's whole known_hosts: one line, no per-host entry.
        caOnly = path.join(dir, "known_hosts");
        fs.writeFileSync(caOnly, `@cert-authority i-*,10.0.* ${ca.line} host-ca\n`);
        // svc_user, for logging in (the setup document's job; here by hand)
        await h.sh(
            `useradd -m -s /bin/sh svc_user && usermod -p '*' svc_user && mkdir -m 700 ~svc_user/.ssh && printf '%s\\n' '${key("central").pub}' > ~svc_user/.ssh/authorized_keys && chown -R svc_user: ~svc_user/.ssh && chmod 600 ~svc_user/.ssh/authorized_keys`,
        );
    });
    after(async () => {
        await stopHosts(hosts);
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    const push = (certs: string[]): Promise<AgentRunResult> =>
        runDocumentLikeAgent(h, doc, hostCertificateParameters(certs));
    /** The central server's login under `alias` (its name for the host), trusting only the CA line. */
    const login = (alias = ID) =>
        sshRun(h, {
            user: "svc_user",
            identityFile: key("central").priv,
            knownHostsFile: caOnly,
            command: "id -un",
            extraArgs: ["-o", `HostKeyAlias=${alias}`],
        });
    const hostKey = (type: string) => h.hostKeys().find((k) => k.startsWith(type))!;
    const read = (p: string) => fs.readFileSync(h.path(p), "utf8");

    it("before: the CA line alone does not admit the host (it presents no certificate)", async () => {
        const r = await login();
        assert.equal(r.code, 255);
        assert.match(r.stderr, /Host key verification failed|No .* host key is known/);
    });

    it("installs the certificates of its own keys signed by its CA, skips the rest, reloads sshd once; one CA line then verifies it", async () => {
        const other = generateKey({ type: "ed25519", comment: "elsewhere" }).publicKey;
        const foreignCa = generateKey({ type: "ed25519", comment: "foreign-ca" });
        const certs = [
            ca.sign(hostKey("ssh-ed25519"), [ID, IP], 30 * 86400),
            ca.sign(hostKey("ecdsa-sha2-nistp256"), [ID, IP], 30 * 86400),
            // another host's key, another CA's signature, an expired one, a user certificate: never installed
            ca.sign(other, [ID], 30 * 86400),
            issueCertificate({
                caPrivateKey: foreignCa.privateKey,
                publicKey: hostKey("ssh-ed25519"),
                kind: "host",
                principals: [ID],
                validitySeconds: 3600,
            })
                .line.split(" ")
                .slice(0, 2)
                .join(" "),
            ca.sign(hostKey("ssh-rsa"), [ID], 60, new Date(Date.now() - 3600_000)),
        ];
        const r = await push(certs);
        assert.equal(r.responseCode, 0, `${r.stderr}\n${r.stdout}`);
        assert.match(r.stdout, /^PKA-HOSTCERT installed ssh_host_ed25519_key serial=\d+ valid-to=\S+$/m);
        assert.match(r.stdout, /^PKA-HOSTCERT installed ssh_host_ecdsa_key /m);
        assert.doesNotMatch(r.stdout, /ssh_host_rsa_key/);
        assert.equal(r.stdout.match(/^PKA-SSHD reloaded$/gm)?.length, 1);
        assert.equal(
            read(DROPIN),
            "# pka-fleet host certificates (signed by the fleet host CA)\n" +
                "HostCertificate /etc/ssh/pka-fleet/host-certificates/ssh_host_ed25519_key-cert.pub\n" +
                "HostCertificate /etc/ssh/pka-fleet/host-certificates/ssh_host_ecdsa_key-cert.pub\n",
        );
        for (const f of [DROPIN, "/etc/ssh/pka-fleet/host-certificates/ssh_host_ed25519_key-cert.pub"]) {
            const st = fs.statSync(h.path(f));
            assert.equal(st.uid, 0, f);
            assert.equal(st.mode & 0o022, 0, `${f} is writable by root only`);
        }
        assert.equal(read("/etc/ssh/pka-fleet/host-certificates/ssh_host_ed25519_key-cert.pub").trim(), certs[0]);
        const ok = await login(ID);
        assert.equal(ok.code, 0, `${ok.stderr}\n${h.log().slice(-1500)}`);
        assert.equal(ok.stdout.trim(), "svc_user");
        assert.equal((await login(IP)).code, 0, "by its private address too");
        // A name the certificate does not carry is refused, though the CA matches.
        assert.equal((await login("i-0fedcba987654321f")).code, 255);
    });

    it("a second push of the same certificates changes nothing and does not reload sshd", async () => {
        const before = read("/etc/ssh/pka-fleet/host-certificates/ssh_host_ed25519_key-cert.pub").trim();
        const r = await push([before]);
        assert.equal(r.responseCode, 0, r.stderr);
        assert.match(r.stdout, /^PKA-HOSTCERT unchanged ssh_host_ed25519_key$/m);
        assert.match(r.stdout, /^PKA-SUMMARY changes=0$/m);
        assert.doesNotMatch(r.stdout, /PKA-SSHD/);
    });

    it("an older certificate (a replay) does not replace a newer one", async () => {
        const installed = read("/etc/ssh/pka-fleet/host-certificates/ssh_host_ed25519_key-cert.pub");
        const older = ca.sign(hostKey("ssh-ed25519"), [ID], 30 * 86400, new Date(Date.now() - 86400_000));
        const r = await push([older]);
        assert.equal(r.responseCode, 0, r.stderr);
        assert.match(r.stdout, /^PKA-HOSTCERT older ssh_host_ed25519_key$/m);
        assert.equal(read("/etc/ssh/pka-fleet/host-certificates/ssh_host_ed25519_key-cert.pub"), installed);
    });

    it("when sshd -t fails, every file is put back and sshd is not reloaded: the host keeps serving its certificate", async () => {
        const installed = read("/etc/ssh/pka-fleet/host-certificates/ssh_host_ed25519_key-cert.pub");
        const dropin = read(DROPIN);
        // An sshd whose -t refuses the result (only -t: -T still lists the host keys), first on the agent's PATH.
        fs.mkdirSync(h.path("/etc/pka-test-bin"), { recursive: true });
        fs.writeFileSync(
            h.path("/etc/pka-test-bin/sshd"),
            '#!/bin/sh\nif [ "$1" = -t ]; then echo "test: sshd -t refuses this configuration" >&2; exit 255; fi\nexec /usr/sbin/sshd "$@"\n',
            { mode: 0o755 },
        );
        try {
            const renewed = ca.sign(hostKey("ssh-ed25519"), [ID, IP], 30 * 86400, new Date(Date.now() + 60_000));
            const r = await runDocumentLikeAgent(h, doc, hostCertificateParameters([renewed]), {
                env: { PATH: "/etc/pka-test-bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
            });
            assert.equal(r.responseCode, 19, r.stdout);
            assert.match(
                r.stderr,
                /PKA-ERROR code=19 sshd -t refused the host certificates .*: put back, sshd not reloaded/,
            );
            assert.doesNotMatch(r.stdout, /PKA-SSHD/);
            assert.equal(read("/etc/ssh/pka-fleet/host-certificates/ssh_host_ed25519_key-cert.pub"), installed);
            assert.equal(read(DROPIN), dropin);
            assert.equal((await login()).code, 0, "the running sshd still serves the installed certificate");
        } finally {
            fs.rmSync(h.path("/etc/pka-test-bin"), { recursive: true });
        }
    });

    it("an sshd_config sshd already refuses is reported and left alone (exit 13, nothing changed)", async () => {
        const dropin = read(DROPIN);
        fs.writeFileSync(h.path("/etc/ssh/sshd_config.d/12-broken.conf"), "NotAnSshdKeyword yes\n");
        try {
            const r = await push([
                ca.sign(hostKey("ssh-ed25519"), [ID, IP], 30 * 86400, new Date(Date.now() + 120_000)),
            ]);
            assert.equal(r.responseCode, 13, r.stdout);
            assert.match(r.stderr, /PKA-ERROR code=13 sshd -T fails before any change .*: fix sshd_config first/);
            assert.equal(read(DROPIN), dropin);
        } finally {
            fs.rmSync(h.path("/etc/ssh/sshd_config.d/12-broken.conf"));
        }
    });

    it("refuses malformed input before changing anything", async () => {
        const before = read(DROPIN);
        const cases: [Record<string, string[]>, number, RegExp][] = [
            [
                { HostCertificates: [Buffer.from("ssh-ed25519 AAAA not-a-cert\n").toString("base64")] },
                12,
                /not a certificate/,
            ],
            [{ HostCertificates: [Buffer.from("x\n".repeat(3)).toString("base64")] }, 12, /not a certificate/],
            [
                hostCertificateParameters(Array(51).fill(ca.sign(hostKey("ssh-ed25519"), [ID], 3600))),
                12,
                /more than 50/,
            ],
            [{ HostCertificates: ["@@@@"] }, 10, /not base64/],
        ];
        for (const [params, code, re] of cases) {
            const r = await runDocumentLikeAgent(h, doc, params, { skipParameterValidation: true });
            assert.equal(r.responseCode, code, r.stderr);
            assert.match(r.stderr, re);
        }
        assert.equal(read(DROPIN), before);
        // The document's allowedPattern refuses a non-base64 value before the agent runs anything.
        await assert.rejects(
            runDocumentLikeAgent(h, doc, { HostCertificates: ["@@@@"] }),
            /allowedPattern|HostCertificates/,
        );
    });
});

describe("the host-certificate document", () => {
    const ca = kmsStyleCa();

    it("is schema 2.2 with one ENV_VAR parameter under a strict pattern; its script is shellcheck-clean sh and parses under dash and bash", function () {
        requireReal(this, { commands: ["shellcheck", "dash", "bash"] });
        const doc = JSON.parse(renderHostCertificateDocumentJson(ca.line));
        assert.equal(doc.schemaVersion, "2.2");
        assert.deepEqual(Object.keys(doc.parameters), ["HostCertificates"]);
        assert.equal(doc.parameters.HostCertificates.interpolationType, "ENV_VAR");
        const script: string = doc.mainSteps[0].inputs.runCommand.join("\n") + "\n";
        assert.ok(!script.includes("{{"));
        assert.ok(script.includes(`CA_KEY='${ca.line}'`), "the CA is part of the document");
        const d = fs.mkdtempSync(path.join(os.tmpdir(), "pka-hostcert-doc-"));
        try {
            const file = path.join(d, "script.sh");
            fs.writeFileSync(file, script);
            const sc = spawnSync("shellcheck", ["-s", "sh", "-S", "style", file], { encoding: "utf8" });
            assert.equal(sc.status, 0, sc.stdout + sc.stderr);
            for (const sh of ["dash", "bash"]) execFileSync(sh, ["-n", file]);
        } finally {
            fs.rmSync(d, { recursive: true });
        }
    });

    it("refuses a CA key that could not be part of a script (a comment, a quote)", () => {
        assert.throws(() => renderHostCertificateDocumentJson(`${ca.line} comment`), /no comment/);
        assert.throws(() => renderHostCertificateDocumentJson("ssh-ed25519 AAAA'x"), /no comment/);
    });
});
