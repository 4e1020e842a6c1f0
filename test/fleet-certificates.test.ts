/**
 * PkaFleet in certificate mode, under Pulumi mocks that reject what AWS would reject: the spec it
 * deploys carries the user CAs, the KRL and each user's principals; a CA generated in state works
 * (its publicKey is an Output); bad values are refused naming the input, before anything exists.
 */
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import type * as FleetModule from "../components/PkaFleet";
import type * as KeyPairModule from "../components/SshKeyPair";
import { buildKrl } from "../core/certs";
import { renderManifest } from "../core/document/manifest";
import { checkDeploySpec } from "../core/fleetSpec";
import { planFleet } from "../core/fleetPlan";
import * as crypto from "crypto";
import { generateKey, parseKey } from "../core/keygen";
import { AwsMocks, peek, settle, watch } from "./support/awsMocks";

const KEY_SVC = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqES5zNG9al28zqQu3ZQwKMG8xswUKYWhqvGcMZATU7 central@server";
const CA = generateKey({ type: "ed25519", comment: "user-ca" }).publicKey;
/** An RSA-2048 key (too weak for a CA), its public line and its private PEM. */
const RSA2048 = (() => {
    const k = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    return {
        publicKey: parseKey(k.publicKey.export({ type: "spki", format: "pem" }) as string).publicKey,
        privateKey: k.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    };
})();
const CA2 = generateKey({ type: "ecdsa", curve: "nistp384", comment: "user-ca-2" }).publicKey;

function args(over: Partial<FleetModule.PkaFleetArgs> = {}): FleetModule.PkaFleetArgs {
    return {
        fleetName: "web",
        users: [
            { name: "svc_user", sudo: "nopasswd", service: true, publicKeys: [KEY_SVC] },
            { name: "jane.doe", sudo: "none", principals: ["jane.doe", "ops"] },
        ],
        certificates: { userCaKeys: [CA] },
        ...over,
    };
}

describe("PkaFleet in certificate mode (under AWS mocks)", function () {
    this.timeout(120000);
    let mocks: AwsMocks;
    let mod: typeof FleetModule;
    let kp: typeof KeyPairModule;

    beforeEach(async () => {
        mocks = watch(new AwsMocks());
        await pulumi.runtime.setMocks(mocks, "pka-fleet", "test", false);
        mod = await import("../components/PkaFleet");
        kp = await import("../components/SshKeyPair");
    });

    async function deployedSpec(a: FleetModule.PkaFleetArgs): Promise<any> {
        const fleet = new mod.PkaFleet("web", a);
        await peek(fleet.accessSpecHash);
        await settle(mocks);
        assert.strictEqual(mocks.errors.length, 0, mocks.errors.join("; "));
        const params = mocks.created
            .filter(
                (c) => c.type === "aws:ssm/parameter:Parameter" && String(c.inputs.name).startsWith("/pka/web/access/"),
            )
            .sort((x, y) => String(x.inputs.name).localeCompare(String(y.inputs.name)));
        const { joinAccessSpec } = await import("../core/accessStore");
        const spec = JSON.parse(
            joinAccessSpec(params.map((p) => ({ name: p.inputs.name, value: p.inputs.insecureValue }))),
        );
        const { accessSpecHash } = await import("../core/accessSpecJson");
        assert.strictEqual((await peek(fleet.accessSpecHash)).value, accessSpecHash(spec));
        return spec;
    }

    it("the deployed spec carries the CAs, the KRL and the principals; a certificate-only user needs no key", async () => {
        const krl = buildKrl({ certificates: [{ ca: CA, serials: [7n] }], generatedAt: 0n }).toString("base64");
        const spec = await deployedSpec(args({ certificates: { userCaKeys: [CA, CA2], revokedKeys: krl } }));
        assert.deepStrictEqual(spec.certificates, {
            userCaKeys: [CA, CA2].map((k) => k.split(" ").slice(0, 2).join(" ")),
            revokedKeys: krl,
        });
        const jane = spec.users.find((u: any) => u.name === "jane.doe");
        assert.deepStrictEqual([jane.keys, jane.principals], [[], ["jane.doe", "ops"]]);
        const manifest = renderManifest(spec);
        assert.match(manifest, /^c ssh-ed25519 AAAA\S+$/m);
        assert.match(manifest, /^c ecdsa-sha2-nistp384 AAAA\S+$/m);
        assert.match(manifest, new RegExp(`^r ${krl.replace(/[+/]/g, "\\$&")}$`, "m"));
        assert.match(manifest, /^p jane\.doe jane\.doe\np jane\.doe ops$/m);
        assert.match(manifest, /^p svc_user svc_user$/m, "the default principal is the user's name");
    });

    it("a CA generated in state (an SshKeyPair's publicKey Output) is trusted once it is known", async () => {
        const ca = new kp.SshKeyPair("user-ca", { generate: { keyType: "ed25519", service: true } });
        const spec = await deployedSpec(args({ certificates: { userCaKeys: [ca.publicKey] } }));
        const pub = (await peek(ca.publicKey)).value;
        assert.deepStrictEqual(spec.certificates.userCaKeys, [pub.split(" ").slice(0, 2).join(" ")]);
    });

    it("without certificates, principals are refused", () => {
        assert.throws(
            () => planFleet("web", args({ certificates: undefined }), "test"),
            /`users\[1\]\.principals` needs certificate mode: set the spec's certificates\.userCaKeys/,
        );
        assert.throws(
            () =>
                planFleet(
                    "web",
                    args({ certificates: undefined, users: [{ name: "jane.doe", principals: [] }] }),
                    "test",
                ),
            /principals/,
        );
    });

    it("bad CA keys, KRLs and principals are refused at plan time, naming the input", () => {
        const rsa2048 = RSA2048;
        const cases: [Partial<FleetModule.PkaFleetArgs>, RegExp][] = [
            [{ certificates: { userCaKeys: [] } }, /`certificates\.userCaKeys` must list 1 to 8 user CA public keys/],
            [
                { certificates: { userCaKeys: [rsa2048.publicKey] } },
                /`certificates\.userCaKeys\[0\]` an RSA CA of 2048 bits is too weak/,
            ],
            [
                { certificates: { userCaKeys: [rsa2048.privateKey] } },
                /`certificates\.userCaKeys\[0\]` must be one OpenSSH public key line/,
            ],
            [
                { certificates: { userCaKeys: [CA], revokedKeys: "bm90IGEga3Js" } },
                /`certificates\.revokedKeys` is not an OpenSSH KRL/,
            ],
            [
                { users: [{ name: "bob", principals: ["root;id"] }] },
                /`users\[0\]\.principals` principal "root;id" is not a user name/,
            ],
        ];
        for (const [over, re] of cases) assert.throws(() => planFleet("web", args(over), "test"), re);
    });

    it("a CA key known only at deployment is judged then, naming its input", () => {
        const plan = planFleet("web", args({ certificates: { userCaKeys: [pulumi.output(CA)] } }), "test");
        const weak = RSA2048.publicKey;
        assert.throws(
            () => checkDeploySpec(plan, [[`users[0].publicKeys[0]`], []], [[], []], { userCaKeys: [weak] }),
            /`certificates\.userCaKeys\[0\]`: an RSA CA of 2048 bits is too weak/,
        );
        const ok = checkDeploySpec(plan, [[`users[0].publicKeys[0]`], []], [[], []], { userCaKeys: [CA] });
        assert.strictEqual(ok.spec.certificates?.userCaKeys.length, 1);
    });
});
