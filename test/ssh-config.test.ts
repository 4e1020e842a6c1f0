/**
 * The central server's ssh configuration for several fleets, resolved by the real `ssh -G`.
 * Two stacks of one program (`new PkaFleet("web", ...)` in dev and prod) give two fleets; the
 * README's commands run on a central server (a sandbox whose root home is /home/central):
 * `pulumi stack output` (a stand-in: the outputs PkaFleet exports for each plan), jq, and each
 * fleet's knownHostsCommand with the real AWS CLI against the local AWS endpoint, which holds the
 * pinned host keys and the tagged instances. No Lambda here: the parameters are written as the
 * Lambda writes them, plus what a hostile writer could put there.
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type * as FleetModule from "../components";
import { generateKey } from "../core/keygen";
import { shQuote } from "../core/shell";
import { LocalCentralServer } from "../local/centralServer";
import { LocalSsmEndpoint } from "../local/ssmEndpoint";
import { requireReal } from "./support/env";

const SVC = "svc_user";
const fleetMod = require("../components") as typeof FleetModule;

/** A fresh host key pair from the real ssh-keygen: the `type base64` line the Lambda pins. */
function hostKey(type: "ed25519" | "ecdsa", dir: string): string {
    const f = path.join(dir, `k${Math.random().toString(16).slice(2)}`);
    execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-f", f]);
    return fs.readFileSync(`${f}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
}

function plan(stack: string): FleetModule.FleetPlan {
    return fleetMod.planFleet(
        "web",
        { users: [{ name: SVC, sudo: "nopasswd", service: true, generateKey: { keyType: "ed25519" } }] },
        stack,
    );
}

describe("sshConfig of PkaFleet: what it lists (no ssh needed)", () => {
    const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqES5zNG9al28zqQu3ZQwKMG8xswUKYWhqvGcMZATU7 carol@laptop";
    const p = fleetMod.planFleet(
        "web",
        {
            users: [
                {
                    name: "alice",
                    sudo: "nopasswd",
                    generateKey: { keyType: "ed25519", passphrase: "correct horse battery staple" },
                },
                { name: "carol", publicKeys: [KEY] },
                {
                    name: SVC,
                    sudo: "nopasswd",
                    service: true,
                    publicKeys: [KEY],
                    identityFile: "/home/ops/.ssh/pka_web",
                },
            ],
        },
        "prod",
    );
    const c = fleetMod.centralServerFleet(p);
    const settings = fleetMod.fleetHostSettings(c).join("\n");

    it("User is the service account, not the first user with a generated key", () => {
        assert.strictEqual(c.user, SVC);
        assert.match(settings, /^ {4}User svc_user$/m);
    });

    it("IdentityFile: the onHost key's path on the central server (first: the service account's), the generated key's file; none for a user whose key the central server lacks", () => {
        assert.deepStrictEqual(c.identityFiles, ["/home/ops/.ssh/pka_web", "~/.ssh/pka-web-prod-alice"]);
        assert.ok(!settings.includes("carol"), "carol's key is on her laptop, not on the central server");
    });

    it("a refusal names `identityFile` for a path with shell or ssh_config characters", () => {
        for (const bad of ["relative/key", "/home/ops/key %h", "/home/ops/../../etc/shadow", '/home/"x"']) {
            assert.throws(
                () =>
                    fleetMod.planFleet("web", {
                        fleetName: "web",
                        users: [{ name: SVC, publicKeys: [KEY], identityFile: bad }],
                    }),
                /`users\[0\]\.identityFile`/,
                bad,
            );
        }
    });

    it("the fleet's lines only include its own file: no Host pattern, no exec, and `Match all` keeps the Include unconditional", () => {
        const cfg = fleetMod.fleetSshConfig(c);
        const directives = cfg.split("\n").filter((l) => l.trim() && !l.startsWith("#"));
        assert.deepStrictEqual(directives, ["Match all", "Include ~/.ssh/config.pka-web-prod"]);
    });
});

describe("several fleets on one central server, resolved by the real ssh -G and written by the real AWS CLI", function () {
    this.timeout(120_000);
    let endpoint: LocalSsmEndpoint;
    let central: LocalCentralServer;
    let tmp: string;
    const fleets: {
        stack: string;
        plan: FleetModule.FleetPlan;
        privateKey: string;
        ids: string[];
        addresses: string[];
    }[] = [];
    const HOSTILE_ID = "i-0dddddddddddddddd";
    let caKey: string;

    before(async function () {
        requireReal(this, { root: true, commands: ["sshd", "ssh", "ssh-keygen", "unshare", "nsenter", "jq", "aws"] });
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pka-ssh-config-"));
        endpoint = new LocalSsmEndpoint();
        await endpoint.start();
        for (const [f, stack] of ["dev", "prod"].entries()) {
            const p = plan(stack);
            const entry = {
                stack,
                plan: p,
                privateKey: generateKey({ type: "ed25519", comment: `${SVC}@pka-${p.fleetName}` }).privateKey,
                ids: [] as string[],
                addresses: [] as string[],
            };
            for (let n = 0; n < 2; n++) {
                const address = `10.${20 + f}.1.${n + 10}`;
                const inst = endpoint.addInstance({
                    tags: { [p.tag.key]: p.tag.value },
                    runner: async () => ({ exitCode: 0, stdout: "", stderr: "" }),
                    ipAddress: address,
                });
                endpoint.launch(inst.instanceId);
                endpoint.putParameterDirect(
                    `${p.knownHostsPath}/${inst.instanceId}`,
                    [hostKey("ed25519", tmp), hostKey("ecdsa", tmp)].sort().join("\n"),
                );
                entry.ids.push(inst.instanceId);
                entry.addresses.push(address);
            }
            fleets.push(entry);
        }
        // What someone with ssm:PutParameter on the dev fleet's known_hosts path could add: a CA line
        // (a marker that would trust any host key it signs) and a parameter named with shell text.
        caKey = hostKey("ed25519", tmp);
        endpoint.putParameterDirect(
            `${fleets[0].plan.knownHostsPath}/${HOSTILE_ID}`,
            `@cert-authority * ${caKey}\nssh-ed25519 AAAA not base64 "; touch /tmp/pka-pwn`,
        );
        endpoint.putParameterDirect(`${fleets[0].plan.knownHostsPath}/i-$(touch /tmp/pka-pwn)`, caKey);
        central = await LocalCentralServer.start(endpoint.url);
        const setup = await central.setUp(
            fleets.map((f) => ({ stack: f.stack, fleet: f })),
            SVC,
        );
        assert.strictEqual(setup.result.code, 0, `${setup.script}\n${setup.result.stderr}`);
    });
    after(async () => {
        await central?.stop();
        await endpoint?.stop();
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    const expectFleet = async (host: string, f: (typeof fleets)[number], viaSession: boolean) => {
        const o = await central.resolve(host);
        assert.deepStrictEqual(o.user, [SVC], host);
        assert.deepStrictEqual(o.identityfile, [`~/.ssh/pka-${f.plan.fleetName}-${SVC}`], host);
        assert.deepStrictEqual(o.userknownhostsfile, [`/home/central/.ssh/known_hosts.pka-${f.plan.fleetName}`], host);
        assert.deepStrictEqual(o.globalknownhostsfile, ["/dev/null"], host);
        assert.deepStrictEqual(o.stricthostkeychecking, ["true"], host);
        assert.deepStrictEqual(o.identitiesonly, ["yes"], host);
        if (viaSession)
            assert.deepStrictEqual(
                o.proxycommand,
                ["aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p"],
                host,
            );
        else assert.strictEqual(o.proxycommand, undefined, `${host}: an address is reached directly`);
    };

    it("the two fleets' lines stand in one ~/.ssh/config, each including its own file", () => {
        const cfg = central.readSsh("config");
        for (const f of fleets) assert.ok(cfg.includes(`Include ~/.ssh/config.pka-${f.plan.fleetName}\n`), cfg);
        assert.notStrictEqual(fleets[0].plan.fleetName, fleets[1].plan.fleetName);
        assert.deepStrictEqual(
            fleets.map((f) => f.plan.fleetName),
            ["web-dev", "web-prod"],
        );
    });

    it("every instance id resolves to its own fleet's user, key, known_hosts and strict checking, through Session Manager", async () => {
        for (const f of fleets) for (const id of f.ids) await expectFleet(id, f, true);
    });

    it("every private address resolves to its own fleet's settings, without the ProxyCommand", async () => {
        for (const f of fleets) for (const a of f.addresses) await expectFleet(a, f, false);
    });

    it("a host no fleet pinned gets none of the fleets' settings (the first fleet's block does not swallow it)", async () => {
        for (const stranger of ["i-0123456789abcdef0", "mi-0123456789abcdef0", "10.99.1.1"]) {
            const o = await central.resolve(stranger);
            assert.ok(!(o.user ?? []).includes(SVC), `${stranger}: ${o.user}`);
            assert.ok(!(o.identityfile ?? []).some((x) => x.includes("pka-")), `${stranger}: ${o.identityfile}`);
            assert.ok(
                !(o.userknownhostsfile ?? []).some((x) => x.includes("pka-")),
                `${stranger}: ${o.userknownhostsfile}`,
            );
            assert.strictEqual(o.proxycommand, undefined, stranger);
        }
    });

    it("known_hosts: each pinned key under the instance id and its address, and nothing of the hostile writer's", () => {
        const dev = central.readSsh("known_hosts.pka-web-dev");
        const lines = dev.trim().split("\n");
        for (const [n, id] of fleets[0].ids.entries()) {
            assert.strictEqual(lines.filter((l) => l.startsWith(`${id},${fleets[0].addresses[n]} `)).length, 2, dev);
        }
        assert.strictEqual(lines.length, 4, dev);
        assert.ok(
            !dev.includes("@cert-authority") && !dev.includes(caKey.split(" ")[1]) && !dev.includes("touch"),
            dev,
        );
        assert.ok(
            !central.readSsh("config.pka-web-dev").includes(HOSTILE_ID),
            "an id without a valid key is not listed",
        );
        // The other fleet's file holds only the other fleet's hosts.
        const prod = central.readSsh("known_hosts.pka-web-prod");
        assert.ok(fleets[0].ids.every((id) => !prod.includes(id)) && fleets[1].ids.every((id) => prod.includes(id)));
    });

    it("a hostname with shell metacharacters runs nothing and gets no fleet's settings", async () => {
        const marker = "/tmp/pka-pwn";
        const inHost = central.host.path(marker);
        fs.rmSync(inHost, { force: true });
        for (const evil of [
            `i-$(touch ${marker})`,
            `i-0123456789abcdef0;touch ${marker}`,
            `i-\`touch ${marker}\``,
            `10.20.1.10'$(touch ${marker})'`,
        ]) {
            const r = await central.sh(`ssh -G ${shQuote(evil)} 2>&1; exit 0`);
            assert.ok(!/^identityfile .*pka-/m.test(r.stdout), `${evil}: ${r.stdout}`);
            assert.ok(!fs.existsSync(inHost), `${evil} ran a command`);
        }
        // And the ssh client never reaches a shell with a fleet's host name: the config has no exec.
        for (const f of fleets) assert.ok(!/exec/i.test(central.readSsh(`config.pka-${f.plan.fleetName}`)));
    });

    it("with no running instance the pinned keys are still written by instance id (an empty address list is not mistaken for the keys)", async () => {
        const p = fleetMod.planFleet("solo", {
            fleetName: "solo",
            users: [{ name: SVC, sudo: "nopasswd", service: true, generateKey: { keyType: "ed25519" } }],
        });
        const id = "i-0eeeeeeeeeeeeeeee";
        const key = hostKey("ed25519", tmp);
        endpoint.putParameterDirect(`${p.knownHostsPath}/${id}`, key);
        const r = await central.sh(fleetMod.centralServerOutputs(p).knownHostsCommand);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(central.readSsh("known_hosts.pka-solo"), `${id} ${key}\n`);
        assert.match(central.readSsh("config.pka-solo"), new RegExp(`^Host ${id}$`, "m"));
    });
});
