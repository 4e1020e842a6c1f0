import { strict as assert } from "assert";
import { generateKeyPairSync } from "crypto";
import * as sshpk from "sshpk";
import {
    AccessSpecError,
    BLOCK_BEGIN,
    KEY_ERE,
    BLOCK_END,
    accessSpecHash,
    firstBadManifestLine,
    normalizeKeyOptions,
    renderManagedBlock,
    renderManifest,
    validateAccessSpec,
} from "../core/accessSpec";
import { generateKey, INSTALLABLE_KEY_TYPES, SSH_KEY_TYPES } from "../core/keys";
import { SETUP_SCRIPT } from "../core/script.sh";
import { parseHostKeyLines } from "../lambda/hostKeys";

const ED1 = generateKey({ type: "ed25519", comment: "alice@laptop" }).publicKey;
const ED2 = generateKey({ type: "ed25519", comment: "bob" }).publicKey;
const ORG = generateKey({ type: "ed25519", comment: "org-break-glass" }).publicKey;
const EC = generateKey({ type: "ecdsa", curve: "nistp256", comment: "ec" }).publicKey;

/** A valid spec; each test changes one thing. */
function spec(over: Record<string, unknown> = {}, user: Record<string, unknown> = {}): Record<string, unknown> {
    return { users: [{ name: "svc_user", sudo: "nopasswd", keys: [ED1], keyOptions: "restrict", ...user }], ...over };
}

function rejects(input: unknown, path: RegExp | string, message?: RegExp, opts = {}): AccessSpecError {
    try {
        validateAccessSpec(input, opts);
    } catch (e) {
        assert.ok(e instanceof AccessSpecError, `expected AccessSpecError, got ${e}`);
        if (typeof path === "string") assert.equal(e.path, path, e.message);
        else assert.match(e.path, path, e.message);
        if (message) assert.match(e.message, message);
        return e;
    }
    assert.fail(`accepted: ${JSON.stringify(input)}`);
}

describe("access spec", () => {
    it("accepts the contract's example and normalizes it", () => {
        const s = validateAccessSpec(spec());
        assert.deepEqual(s, { users: [{ name: "svc_user", sudo: "nopasswd", keys: [ED1], keyOptions: "restrict" }] });
    });

    it("sorts users, keeps key order, and renders the same bytes for the same spec", () => {
        const a = validateAccessSpec({ users: [{ name: "zed", sudo: "none", keys: [ED2, ED1] }, { name: "amy", sudo: "nopasswd", keys: [ED1] }] });
        const b = validateAccessSpec({ users: [{ name: "amy", sudo: "nopasswd", keys: [ED1] }, { keys: [ED2, ED1], name: "zed", sudo: "none" }] });
        assert.deepEqual(a.users.map((u) => u.name), ["amy", "zed"]);
        assert.deepEqual(a.users[1].keys, [ED2, ED1]);
        assert.equal(renderManifest(a), renderManifest(b));
        assert.equal(accessSpecHash(a), accessSpecHash(b));
        assert.match(accessSpecHash(a), /^[0-9a-f]{64}$/);
    });

    it("changes the hash when anything changes", () => {
        const base = accessSpecHash(validateAccessSpec(spec()));
        assert.notEqual(accessSpecHash(validateAccessSpec(spec({}, { sudo: "none" }))), base);
        assert.notEqual(accessSpecHash(validateAccessSpec(spec({}, { keys: [ED2] }))), base);
        assert.notEqual(accessSpecHash(validateAccessSpec(spec({}, { keyOptions: "restrict,no-pty" }))), base);
    });

    it("renders the managed block with markers and options on every key", () => {
        const s = validateAccessSpec(spec({}, { keys: [ED1, EC] }));
        const block = renderManagedBlock(s.users[0]);
        assert.equal(block, [BLOCK_BEGIN, `restrict ${ED1}`, `restrict ${EC}`, BLOCK_END, ""].join("\n"));
    });

    it("removes a duplicated key (also with another comment), first comment wins", () => {
        const other = ED1.replace("alice@laptop", "alice@desk");
        const s = validateAccessSpec(spec({}, { keys: [ED1, other, ED1] }));
        assert.deepEqual(s.users[0].keys, [ED1]);
    });

    it("gives fallback keys (option and spec field) to users without keys only", () => {
        const s = validateAccessSpec(
            { users: [{ name: "a", sudo: "none", keys: [] }, { name: "b", sudo: "none" }, { name: "c", sudo: "none", keys: [ED2] }], fallbackKeys: [ED1] },
            { fallbackKeys: [ORG] },
        );
        assert.deepEqual(s.users[0].keys, [ORG, ED1]);
        assert.deepEqual(s.users[1].keys, [ORG, ED1]);
        assert.deepEqual(s.users[2].keys, [ED2]);
    });

    it("refuses a user without keys when there is no fallback", () => {
        rejects(spec({}, { keys: [] }), "users[0].keys", /fallbackKeys/);
    });

    it("defaults sudo to none", () => {
        const s = validateAccessSpec({ users: [{ name: "x", keys: [ED1] }] });
        assert.equal(s.users[0].sudo, "none");
    });

    it("keeps a key comment only in inert characters", () => {
        const weird = ED1.replace("alice@laptop", "John's key $(id) `x`");
        const s = validateAccessSpec(spec({}, { keys: [weird] }));
        assert.match(s.users[0].keys[0], / John_s_key___id___x_$/);
        assert.equal(firstBadManifestLine(renderManifest(s)), 0);
    });

    it("accepts the allow-listed key options and canonicalizes them", () => {
        assert.equal(
            normalizeKeyOptions('RESTRICT,No-X11-Forwarding,from="10.0.0.0/8,!10.1.0.0/16,*.example.com,2001:db8::/32",command="/usr/local/bin/backup --serve",expiry-time="20301231"'),
            'restrict,no-X11-forwarding,from="10.0.0.0/8,!10.1.0.0/16,*.example.com,2001:db8::/32",command="/usr/local/bin/backup --serve",expiry-time="20301231"',
        );
        assert.equal(normalizeKeyOptions('expiry-time="203012312359Z"'), 'expiry-time="203012312359Z"');
        assert.equal(normalizeKeyOptions(""), undefined);
    });

    const badOptions: [string, RegExp][] = [
        ["restrict\nssh-ed25519 AAAA", /control character/],
        ["restrict\r", /control character/],
        ['environment="LD_PRELOAD=/tmp/x.so"', /not allowed/],
        ['permitopen="localhost:22"', /not allowed/],
        ["cert-authority", /not allowed/],
        ["agent-forwarding", /not allowed/],
        ['from="10.0.0.0/8', /unbalanced/],
        ['command="a\\"b"', /backslash/],
        ['command="$(curl evil|sh)"', /may use only/],
        ['command="`id`"', /may use only/],
        ['command="a;b"', /may use only/],
        ['from="10.0.0.0/33"', /CIDR/],
        ['from="10.1.2.3/8"', /host bits.*10\.0\.0\.0\/8/],
        ['from="300.1.1.1/8"', /CIDR/],
        ['from="a b"', /may use only/],
        ['from=""', /may use only|empty/],
        ['from="10.0.0.0/8,,x"', /empty pattern/],
        ['expiry-time="20301340"', /real date/],
        ['expiry-time="2030"', /YYYYMMDD/],
        ['from="x" ssh-ed25519', /nothing after the closing quote/],
        ["restrict,restrict", /twice/],
        ["restrict no-pty", /not allowed/],
        ["x".repeat(2000), /longer than 1024/],
        ["restrict,\u00e9", /non-ASCII/],
    ];
    for (const [opt, why] of badOptions) {
        it(`refuses keyOptions ${JSON.stringify(opt.slice(0, 40))}`, () => {
            rejects(spec({}, { keyOptions: opt }), "users[0].keyOptions", why);
        });
    }

    const badNames: [unknown, RegExp][] = [
        ["root", /system account/],
        ["daemon", /system account/],
        ["nobody", /system account/],
        ["ec2-user", /cloud-init/],
        ["ubuntu", /cloud-init/],
        ["admin", /cloud-init/],
        ["ssm-user", /Session Manager/],
        ["systemd-network", /system account/],
        ["../etc", /must match/],
        ["/root", /must match/],
        ["a/b", /must match/],
        ["-oProxyCommand", /must match/],
        ["Alice", /must match/],
        ["9lives", /must match/],
        ["a".repeat(33), /must match/],
        ["", /must match/],
        ["a b", /must match/],
        ["a$(id)", /must match/],
        ["a`id`", /must match/],
        ["a\nroot", /must match/],
        ["a;rm", /must match/],
        [42, /required/],
    ];
    for (const [name, why] of badNames) {
        it(`refuses the user name ${JSON.stringify(name)}`, () => {
            rejects(spec({}, { name }), "users[0].name", why);
        });
    }

    it("refuses duplicate names, naming both places", () => {
        rejects({ users: [{ name: "a", keys: [ED1] }, { name: "b", keys: [ED1] }, { name: "a", keys: [ED2] }] }, "users[2].name", /users\[0\]/);
    });

    const badKeys: [unknown, RegExp][] = [
        [`${ED1}\n${ED2}`, /control character/],
        [`${ED1}\r`, /control character/],
        [`restrict ${ED1}`, /options/],
        ["ssh-ed25519 AAAA$(id)", /./],
        ["ssh-ed25519 !!!notbase64", /./],
        ["not a key", /./],
        ["", /./],
        [ED1.replace("ssh-ed25519", "ssh-rsa"), /./],
        [7, /must be a string/],
    ];
    badKeys.forEach(([key, why], j) => {
        it(`refuses the key #${j} ${JSON.stringify(String(key).slice(0, 30))} naming users[0].keys[0]`, () => {
            rejects(spec({}, { keys: [key] }), "users[0].keys[0]", why);
        });
    });

    it("refuses a key the key rules refuse (RSA 2048), with the rule's reason", function () {
        this.timeout(20000);
        const pem = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "pem" });
        const rsa = sshpk.parseKey(pem, "pem").toString("ssh");
        rejects(spec({}, { keys: [ED1, rsa] }), "users[0].keys[1]", /rsa-2048/);
        // and the caller's rules decide
        validateAccessSpec(spec({}, { keys: [rsa] }), { keyRules: { minRsaBits: 2048 } });
    });

    it("refuses a private key given as a key", () => {
        const k = generateKey({ type: "ed25519" });
        rejects(spec({}, { keys: [k.privateKey] }), "users[0].keys[0]", /PRIVATE|private/);
    });

    it("names the fallback key that is bad", () => {
        rejects(spec({ fallbackKeys: [ED1, "nope"] }), "fallbackKeys[1]");
        rejects(spec(), "fallbackKeys (option)[0]", undefined, { fallbackKeys: ["nope"] });
    });

    it("refuses unknown fields and wrong shapes", () => {
        rejects({ users: [], user: [] }, "user", /unknown field/);
        rejects(spec({}, { key: [ED1] }), "users[0].key", /unknown field/);
        rejects(spec({}, { sudo: "ALL" }), "users[0].sudo", /nopasswd/);
        rejects({ users: "alice" }, "users");
        rejects(null, "");
        rejects({ users: [null] }, "users[0]");
        rejects(spec({}, { keys: ED1 }), "users[0].keys", /array/);
    });

    it("accepts an empty user list (everyone revoked)", () => {
        assert.deepEqual(validateAccessSpec({ users: [] }), { users: [] });
    });
});

describe("one list of installable key types", () => {
    it("the spec grammar, the script's host-key pattern and the host-key parser accept exactly INSTALLABLE_KEY_TYPES", () => {
        const keyLine = new RegExp(`^${KEY_ERE}$`);
        const hostLine = new RegExp(`^HOSTKEY_RE='([^']*)'$`, "m").exec(SETUP_SCRIPT);
        assert.ok(hostLine, "the script defines HOSTKEY_RE");
        const hostRe = new RegExp(`^${hostLine[1]}$`);
        for (const t of SSH_KEY_TYPES) {
            const allowed = INSTALLABLE_KEY_TYPES.includes(t);
            const blob = Buffer.concat([Buffer.from([0, 0, 0, t.length]), Buffer.from(t), Buffer.alloc(32, 7)]).toString("base64");
            assert.equal(keyLine.test(`${t} ${blob}`), allowed, `KEY_ERE ${t}`);
            assert.equal(hostRe.test(`${t} ${blob}`), allowed, `script HOSTKEY_RE ${t}`);
            assert.equal(parseHostKeyLines(`PKA-HOSTKEY ${t} ${blob}\n`).length, allowed ? 1 : 0, `parseHostKeyLines ${t}`);
        }
        assert.deepEqual([...INSTALLABLE_KEY_TYPES].sort(), ["ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-ed25519", "ssh-rsa"]);
    });
});
