import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { generateKeyPairSync } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as sshpk from "sshpk";
import { validateAccessSpec } from "../core/accessSpec";
import { accessSpecHash } from "../core/accessSpecJson";
import { AccessSpecError } from "../core/accessSpecTypes";
import { firstBadManifestLine, KEY_ERE, RESERVED_ERE, renderManifest } from "../core/document";
import { normalizeKeyOptions } from "../core/keyOptions";
import { BLOCK_BEGIN, BLOCK_END, renderManagedBlock } from "../core/managedBlock";
import { RESERVED_USER_NAMES } from "../core/userNames";
import { generateKey, INSTALLABLE_KEY_TYPES, SSH_KEY_TYPES } from "../core/keygen";
import { SETUP_SCRIPT } from "../core/script/setupScript";
import { parseHostKeyLines } from "../core/hostKeys";
import { requireReal } from "./support/env";
import { patience } from "./support/patience";

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
        const a = validateAccessSpec({
            users: [
                { name: "zed", sudo: "none", keys: [ED2, ED1] },
                { name: "amy", sudo: "nopasswd", keys: [ED1] },
            ],
        });
        const b = validateAccessSpec({
            users: [
                { name: "amy", sudo: "nopasswd", keys: [ED1] },
                { keys: [ED2, ED1], name: "zed", sudo: "none" },
            ],
        });
        assert.deepEqual(
            a.users.map((u) => u.name),
            ["amy", "zed"],
        );
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
            {
                users: [
                    { name: "a", sudo: "none", keys: [] },
                    { name: "b", sudo: "none" },
                    { name: "c", sudo: "none", keys: [ED2] },
                ],
                fallbackKeys: [ED1],
            },
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
            normalizeKeyOptions(
                'RESTRICT,No-X11-Forwarding,from="10.0.0.0/8,!10.1.0.0/16,*.example.com,2001:db8::/32",command="/usr/local/bin/backup --serve",expiry-time="20301231"',
            ),
            'restrict,no-X11-forwarding,from="10.0.0.0/8,!10.1.0.0/16,*.example.com,2001:db8::/32",command="/usr/local/bin/backup --serve",expiry-time="20301231"',
        );
        assert.equal(normalizeKeyOptions('expiry-time="203012312359Z"'), 'expiry-time="203012312359Z"');
        assert.equal(normalizeKeyOptions(""), undefined);
        assert.equal(
            normalizeKeyOptions(
                "restrict,PTY,Port-Forwarding,agent-forwarding,x11-forwarding,user-rc,no-touch-required,verify-required",
            ),
            "restrict,pty,port-forwarding,agent-forwarding,X11-forwarding,user-rc,no-touch-required,verify-required",
        );
    });

    const badOptions: [string, RegExp][] = [
        ["restrict\nssh-ed25519 AAAA", /control character/],
        ["restrict\r", /control character/],
        ['environment="LD_PRELOAD=/tmp/x.so"', /option 'environment' is not allowed: it sets variables.*LD_PRELOAD/],
        ["cert-authority", /option 'cert-authority' is not allowed: it makes the key a certificate authority/],
        ['principals="root"', /option 'principals' is not allowed: it only has meaning on a cert-authority line/],
        ['tunnel="0"', /option 'tunnel' is not allowed: it forces a tun\(4\) device/],
        ['permitopen="localhost"', /permitopen="localhost": has no port; write host:port/],
        ['permitopen="22"', /has no port/],
        ['permitopen="db:0"', /port '0' is not 1-65535/],
        ['permitopen="db:65536"', /port '65536'/],
        ['permitopen="db:022"', /port '022'/],
        ['permitopen="db:ssh"', /port 'ssh' is not 1-65535 or \*.*service name.*\/etc\/services/],
        ['permitopen="db.*:22"', /host 'db\.\*' is not a host name.*sshd matches it literally/],
        ['permitopen="::1:22"', /must be in brackets, as \[::1\]/],
        ['permitopen="[::g]:22"', /'\[::g\]' is not an IPv6 address/],
        ['permitopen="[10.0.0.1]:22"', /is not an IPv6 address in brackets/],
        ['permitopen="a b:22"', /host 'a b'/],
        ['permitopen="db:22 "', /port/],
        ['permitopen="x:22",permitopen="x:22"', /option 'permitopen="x:22"' appears twice/],
        ['permitlisten="a_b:8080"', /host 'a_b'/],
        ['permitlisten=""', /port '' is not/],
        [
            'restrict,permitopen="db:5432"',
            /permitopen="\.\.\." has no effect while port forwarding is off \(restrict\).*add port-forwarding after restrict/,
        ],
        ['no-port-forwarding,permitlisten="8080"', /permitlisten="\.\.\." has no effect .*\(no-port-forwarding\)/],
        ["pty,no-pty", /'pty' and 'no-pty' contradict each other/],
        ["X11-forwarding,no-x11-forwarding", /'X11-forwarding' and 'no-X11-forwarding' contradict/],
        ["pty,restrict", /'pty' before 'restrict' has no effect/],
        ['from="10.0.0.0/8', /unbalanced/],
        ['command="a\\"b"', /backslash/],
        ['command="$(curl evil|sh)"', /may use only/],
        ['command="`id`"', /may use only/],
        ['command="a;b"', /may use only/],
        ['from="10.0.0.0/33"', /CIDR/],
        ['from="10.1.2.3/8"', /host bits.*10\.0\.0\.0\/8/],
        ['from="300.1.1.1/8"', /CIDR/],
        ['from="1.2.3.4/0"', /host bits.*network address 0\.0\.0\.0\/0$/],
        ['from="10.0.0.0/8,!10.1.2.3/16"', /'!10\.1\.2\.3\/16' has host bits.*network address !10\.1\.0\.0\/16$/],
        [
            'from="2001:db8::1/32"',
            /from= CIDR '2001:db8::1\/32' has host bits set.*sshd rejects the entry, and with it the key, from every address; write the network address 2001:db8::\/32$/,
        ],
        ['from="10.0.0.0/8,!fe80::1/64"', /'!fe80::1\/64' has host bits.*network address !fe80::\/64$/],
        ['from="2001:0DB8:0000:0000:0001:0000:0000:0001/64"', /network address 2001:db8::\/64$/],
        ['from="::ffff:192.0.2.1/120"', /network address ::ffff:192\.0\.2\.0\/120$/],
        ['from="1::1.2.3.4/64"', /network address 1::\/64$/],
        ['from="::1/0"', /network address ::\/0$/],
        ['from="2001:db8::8000/112"', /network address 2001:db8::\/112$/],
        ['from="2001:db8::/129"', /not a CIDR block.*0-128 for IPv6/],
        ['from="2001:db8::/-1"', /not a CIDR block/],
        ['from="2001:db8::/"', /not a CIDR block/],
        ['from="2001:db8:::1/64"', /not a CIDR block/],
        ['from="1:2:3:4:5:6:7:8:9/64"', /not a CIDR block/],
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
    it("accepts permitopen and permitlisten in sshd's grammar (name, IPv4, [IPv6], *; port 1-65535 or *), repeated", () => {
        const ok = [
            'restrict,port-forwarding,permitopen="db.internal:5432",permitopen="10.0.0.5:22",permitopen="[2001:db8::1]:443"',
            'permitopen="*:8080",permitopen="localhost:*",permitopen="DB-1:65535"',
            'restrict,port-forwarding,permitlisten="8080",permitlisten="localhost:9000",permitlisten="[::1]:22000"',
            'permitlisten="*.example.com:*",permitlisten="host?:1",permitlisten="0.0.0.0:2222"',
        ];
        for (const o of ok) assert.equal(normalizeKeyOptions(o), o, o);
        assert.equal(normalizeKeyOptions('PermitOpen="db:1"'), 'permitopen="db:1"');
        for (const o of ok) {
            const s = validateAccessSpec(spec({}, { keyOptions: o }));
            assert.equal(firstBadManifestLine(renderManifest(s)), 0, o);
        }
    });

    for (const [opt, why] of badOptions) {
        it(`refuses keyOptions ${JSON.stringify(opt.slice(0, 40))}`, () => {
            rejects(spec({}, { keyOptions: opt }), "users[0].keyOptions", why);
        });
    }

    it("accepts from= CIDR blocks written at their network address, and keeps wildcards, negations and host names", () => {
        const ok = [
            "2001:db8::/32",
            "2001:DB8:0:0:0:0:0:0/32",
            "::/0",
            "0.0.0.0/0",
            "2001:db8::1/128",
            "fe80::/10",
            "::ffff:192.0.2.0/120",
            "::ffff:192.0.2.1/128",
            "2001:db8::8000/113",
            "10.0.0.2/31",
            "!10.1.0.0/16",
            "!2001:db8:1::/48",
            "2001:db8::1",
            "10.0.*",
            "!bastion.example.com",
            "*.example.com",
            "host?",
        ];
        for (const f of ok) assert.equal(normalizeKeyOptions(`from="${f}"`), `from="${f}"`, f);
        const s = validateAccessSpec(
            spec({}, { keyOptions: 'restrict,from="2001:db8::/32,!2001:db8:0:1::/64,10.0.0.0/8"' }),
        );
        assert.equal(s.users[0].keyOptions, 'restrict,from="2001:db8::/32,!2001:db8:0:1::/64,10.0.0.0/8"');
    });

    it("refuses an IPv6 from= block exactly when bits past the prefix are set, in any spelling, and its fix is accepted", () => {
        // Random addresses (many zero groups, so :: appears) checked against a BigInt oracle; each is
        // written fully expanded with leading zeros, compressed (WHATWG URL's RFC 5952 form) and with an
        // IPv4 tail. The suggested network address must parse (URL) to the masked address and pass.
        let seed = 20240601;
        const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
        const canon = (a: string) => new URL(`http://[${a}]/`).hostname.slice(1, -1);
        const big = (groups: number[]) => groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
        const full = (groups: number[]) => groups.map((g) => g.toString(16).padStart(4, "0")).join(":");
        let refused = 0;
        for (let n = 0; n < 400; n++) {
            const bits = rnd(129);
            let groups = Array.from({ length: 8 }, () => (rnd(2) ? 0 : rnd(0x10000)));
            const mask = bits === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - bits)) - 1n);
            if (n % 3 === 0) {
                // a third at their network address already
                const v = big(groups) & mask;
                groups = groups.map((_, i) => Number((v >> BigInt(112 - 16 * i)) & 0xffffn));
            }
            const hostSet = (big(groups) & ~mask & ((1n << 128n) - 1n)) !== 0n;
            const tail = `${groups[6] >> 8}.${groups[6] & 255}.${groups[7] >> 8}.${groups[7] & 255}`;
            for (const addr of [full(groups), canon(full(groups)), `${full(groups.slice(0, 6))}:${tail}`]) {
                const opt = `from="${addr}/${bits}"`;
                if (!hostSet) {
                    assert.equal(normalizeKeyOptions(opt), opt);
                    continue;
                }
                refused++;
                let msg = "";
                assert.throws(
                    () => normalizeKeyOptions(opt),
                    (e: unknown) => e instanceof AccessSpecError && ((msg = e.message), /has host bits set/.test(msg)),
                    opt,
                );
                const fix = /write the network address (\S+)\/([0-9]+)$/.exec(msg);
                assert.ok(fix, msg);
                assert.equal(Number(fix[2]), bits);
                const expected = big(groups) & mask;
                const net = canon(fix[1]);
                assert.equal(
                    canon(
                        full(Array.from({ length: 8 }, (_, i) => Number((expected >> BigInt(112 - 16 * i)) & 0xffffn))),
                    ),
                    net,
                    opt,
                );
                assert.equal(normalizeKeyOptions(`from="${fix[1]}/${bits}"`), `from="${fix[1]}/${bits}"`);
            }
        }
        assert.ok(refused > 300 && refused < 1000, `both outcomes exercised (${refused} refused)`);
    });

    describe("expiry-time against the deploy's clock (option now)", () => {
        const now = new Date("2030-06-15T12:00:00.500Z");
        const withExpiry = (t: string) => spec({}, { keyOptions: `restrict,expiry-time="${t}"` });

        it("refuses a UTC (Z) time already past, naming the value, the time and the fix", () => {
            for (const t of ["20300615115959Z", "203006151159Z", "20300614Z", "20000101Z"]) {
                rejects(
                    withExpiry(t),
                    "users[0].keyOptions",
                    /is already past \(now 2030-06-15T12:00:00Z\): sshd would refuse the key on every host; remove the key \(or its user\) from the spec, or set a later expiry-time$/,
                    { now },
                );
            }
            rejects(
                withExpiry("20300615115959Z"),
                "users[0].keyOptions",
                /expiry-time="20300615115959Z" \(2030-06-15T11:59:59Z\)/,
                { now },
            );
        });

        it("accepts a UTC time not yet past (sshd refuses only once valid_before < now, in whole seconds)", () => {
            for (const t of ["20300615120000Z", "203006151201Z", "20300616Z", "20991231Z"]) {
                assert.equal(
                    validateAccessSpec(withExpiry(t), { now }).users[0].keyOptions,
                    `restrict,expiry-time="${t}"`,
                    t,
                );
            }
        });

        it("without Z (the host's local time), refuses only a time past in every zone: more than 14 hours ago", () => {
            // 14 hours is the largest offset from UTC (zones run from UTC-12 to UTC+14): a time refused is
            // past on every host; 2030-06-14 22:00 is exactly 14 hours before now, and still accepted.
            for (const t of ["20300614220000", "203006142200", "20300615", "20300615115959"]) {
                assert.equal(
                    validateAccessSpec(withExpiry(t), { now }).users[0].keyOptions,
                    `restrict,expiry-time="${t}"`,
                    t,
                );
            }
            for (const t of ["20300614215959", "20300614", "20000101"]) {
                rejects(
                    withExpiry(t),
                    "users[0].keyOptions",
                    /is past in every time zone \(more than 14 hours before now, 2030-06-15T12:00:00Z; without Z sshd reads it in the host's local time\)/,
                    { now },
                );
            }
        });

        it("without now (the Lambda re-validating a deployed spec) keeps serving an expired key", () => {
            assert.equal(
                validateAccessSpec(withExpiry("20000101Z")).users[0].keyOptions,
                'restrict,expiry-time="20000101Z"',
            );
            assert.equal(normalizeKeyOptions('expiry-time="20000101"'), 'expiry-time="20000101"');
        });

        it("normalizeKeyOptions takes now too, and a bad now is the caller's error", () => {
            assert.throws(
                () => normalizeKeyOptions('expiry-time="20000101Z"', "x", now),
                /^AccessSpecError: x: expiry-time="20000101Z"/,
            );
            assert.throws(
                () => validateAccessSpec(spec(), { now: new Date("nope") }),
                /TypeError: validateAccessSpec: `now` must be a valid Date/,
            );
            assert.throws(() => validateAccessSpec(spec(), { now: "2030-01-01" as unknown as Date }), TypeError);
            assert.throws(
                () => normalizeKeyOptions("restrict", "x", new Date(NaN)),
                /normalizeKeyOptions: `now` must be a valid Date/,
            );
        });

        it("PkaFleet's plan (the deploy) checks against the clock", async function () {
            this.timeout(60000);
            const { planFleet } = await import("../components/PkaFleet");
            const args = (keyOptions: string) => ({ users: [{ name: "svc_user", publicKeys: [ED1], keyOptions }] });
            assert.throws(
                () => planFleet("f", args('expiry-time="20000101Z"')),
                /`users\[0\]\.keyOptions`: expiry-time="20000101Z" \(2000-01-01T00:00:00Z\) is already past/,
            );
            assert.equal(
                planFleet("f", args('expiry-time="20991231Z"')).users[0].keyOptions,
                'expiry-time="20991231Z"',
            );
        });
    });

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

    // Group lists as published: Debian base-passwd group.master (also /etc/group here), systemd's
    // sysusers.d/basic.conf.in, Fedora's setup package (/etc/group of Amazon Linux 2023 and its
    // family), cloud-init's default-user groups (config/cloud.cfg.tmpl), and common packages' groups.
    const STOCK_GROUPS: Record<string, string[]> = {
        "Debian base-passwd": [
            "root",
            "daemon",
            "bin",
            "sys",
            "adm",
            "tty",
            "disk",
            "lp",
            "mail",
            "news",
            "uucp",
            "man",
            "proxy",
            "kmem",
            "dialout",
            "fax",
            "voice",
            "cdrom",
            "floppy",
            "tape",
            "sudo",
            "audio",
            "dip",
            "www-data",
            "backup",
            "operator",
            "list",
            "irc",
            "src",
            "shadow",
            "utmp",
            "video",
            "sasl",
            "plugdev",
            "staff",
            "games",
            "users",
            "nogroup",
        ],
        "systemd basic.conf": [
            "root",
            "adm",
            "wheel",
            "utmp",
            "audio",
            "cdrom",
            "clock",
            "dialout",
            "disk",
            "input",
            "kmem",
            "kvm",
            "lp",
            "render",
            "sgx",
            "tape",
            "tty",
            "video",
            "users",
        ],
        "Fedora setup (Amazon Linux 2023)": [
            "root",
            "bin",
            "daemon",
            "sys",
            "adm",
            "tty",
            "disk",
            "lp",
            "mem",
            "kmem",
            "wheel",
            "cdrom",
            "mail",
            "man",
            "dialout",
            "floppy",
            "games",
            "tape",
            "video",
            "ftp",
            "lock",
            "audio",
            "nobody",
            "users",
            "utmp",
            "utempter",
            "ssh_keys",
            "systemd-journal",
            "dbus",
            "polkitd",
            "chrony",
            "sshd",
            "ec2-user",
        ],
        "cloud-init default users": [
            "adm",
            "audio",
            "cdrom",
            "dialout",
            "dip",
            "floppy",
            "netdev",
            "plugdev",
            "sudo",
            "video",
            "lxd",
            "wheel",
            "systemd-journal",
        ],
        "packages (openssh-client, cron, ssl-cert, docker, dbus)": [
            "_ssh",
            "ssh",
            "crontab",
            "ssl-cert",
            "docker",
            "messagebus",
        ],
    };
    for (const [source, groups] of Object.entries(STOCK_GROUPS)) {
        it(`refuses every group name of ${source} as a user name, saying why`, () => {
            for (const name of groups) {
                const e = rejects(spec({}, { name }), "users[0].name");
                assert.match(
                    e.message,
                    /is a group on stock Debian, Ubuntu or Amazon Linux images.*useradd fails|system account|cloud-init/,
                    name,
                );
            }
        });
    }

    it("gives a group name the group reason and the fix, and keeps the account reasons for names that are both", () => {
        rejects(
            spec({}, { name: "sudo" }),
            "users[0].name",
            /^users\[0\]\.name: 'sudo' is a group on stock Debian, Ubuntu or Amazon Linux images .*useradd fails where the group exists.*; choose another name$/,
        );
        rejects(spec({}, { name: "docker" }), "users[0].name", /is a group/);
        rejects(spec({}, { name: "games" }), "users[0].name", /system account/);
        rejects(spec({}, { name: "admin" }), "users[0].name", /cloud-init/);
        // near misses stay valid
        for (const name of ["sudoer", "wheels", "docker_ci", "staff1", "dockerd"])
            assert.equal(validateAccessSpec(spec({}, { name })).users[0].name, name);
    });

    it("the script's reserved pattern stays the account names: an account the script made where no such group existed is still revoked", () => {
        const ere = new RegExp(`^${RESERVED_ERE}$`);
        const groupOnly = Object.keys(RESERVED_USER_NAMES).filter((n) => /is a group/.test(RESERVED_USER_NAMES[n]));
        assert.ok(groupOnly.length >= 35, `${groupOnly.length} group names`);
        for (const n of groupOnly)
            assert.ok(
                !ere.test(n),
                `${n} must not be in the script's RESERVED_RE (read_state drops reserved names from managed-users)`,
            );
        for (const n of ["root", "daemon", "games", "ec2-user", "ubuntu", "ssm-user", "systemd-foo"])
            assert.ok(ere.test(n), n);
        assert.ok(SETUP_SCRIPT.includes(`RESERVED_RE='${RESERVED_ERE}'`), "the script enforces RESERVED_ERE");
    });

    it("refuses duplicate names, naming both places", () => {
        rejects(
            {
                users: [
                    { name: "a", keys: [ED1] },
                    { name: "b", keys: [ED1] },
                    { name: "a", keys: [ED2] },
                ],
            },
            "users[2].name",
            /users\[0\]/,
        );
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
        const pem = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({
            type: "spki",
            format: "pem",
        });
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
    it("the spec grammar accepts exactly INSTALLABLE_KEY_TYPES; the script's host-key pattern and the host-key parser exactly the software ones", () => {
        const keyLine = new RegExp(`^${KEY_ERE}$`);
        const hostLine = new RegExp(`^HOSTKEY_RE='([^']*)'$`, "m").exec(SETUP_SCRIPT);
        assert.ok(hostLine, "the script defines HOSTKEY_RE");
        const hostRe = new RegExp(`^${hostLine[1]}$`);
        const blobOf = (t: string) =>
            Buffer.concat([Buffer.from([0, 0, 0, t.length]), Buffer.from(t), Buffer.alloc(32, 7)]).toString("base64");
        for (const t of SSH_KEY_TYPES) {
            const allowed = INSTALLABLE_KEY_TYPES.includes(t);
            const host = allowed && !t.startsWith("sk-");
            const blob = blobOf(t);
            assert.equal(keyLine.test(`${t} ${blob}`), allowed, `KEY_ERE ${t}`);
            assert.equal(hostRe.test(`${t} ${blob}`), host, `script HOSTKEY_RE ${t}`);
            assert.equal(
                parseHostKeyLines(`PKA-HOSTKEY ${t} ${blob}\n`).length,
                host ? 1 : 0,
                `parseHostKeyLines ${t}`,
            );
        }
        // The "." of a security-key type is a dot, not any character.
        for (const t of ["sk-ssh-ed25519@opensshXcom", "sk-ecdsa-sha2-nistp256@openssh-com"])
            assert.equal(keyLine.test(`${t} ${blobOf(t)}`), false, `KEY_ERE ${t}`);
        assert.deepEqual([...INSTALLABLE_KEY_TYPES].sort(), [
            "ecdsa-sha2-nistp256",
            "ecdsa-sha2-nistp384",
            "ecdsa-sha2-nistp521",
            "sk-ecdsa-sha2-nistp256@openssh.com",
            "sk-ssh-ed25519@openssh.com",
            "ssh-ed25519",
            "ssh-rsa",
        ]);
    });
});

/**
 * What sshd itself makes of the options (OpenSSH on this machine, in a private mount and pid
 * namespace: nothing on the host changes). Returns, for each authorized_keys option string, whether a
 * login from 127.0.0.1 with the key succeeds, and sshd's log.
 */
function sshdAccepts(options: string[]): { ok: boolean[]; log: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pka-sshd-opts-"));
    try {
        const port = 20000 + Math.floor(Math.random() * 20000);
        for (const k of ["host", "user"]) {
            const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, k)]);
            assert.equal(r.status, 0, String(r.stderr));
        }
        const pub = fs.readFileSync(path.join(dir, "user.pub"), "utf8").trim();
        options.forEach((o, i) => fs.writeFileSync(path.join(dir, `ak.${i}`), `${o} ${pub}\n`));
        fs.writeFileSync(
            path.join(dir, "sshd_config"),
            [
                `Port ${port}`,
                "ListenAddress 127.0.0.1",
                `HostKey ${dir}/host`,
                "PidFile none",
                "UsePAM no",
                "StrictModes no",
                "PermitRootLogin prohibit-password",
                `AuthorizedKeysFile ${dir}/ak`,
                "LogLevel DEBUG1",
                "",
            ].join("\n"),
        );
        const script = [
            "set -u",
            "d=$1 n=$2 port=$3",
            "mount -t tmpfs tmpfs /run && mkdir -p /run/sshd",
            '/usr/sbin/sshd -D -e -f "$d/sshd_config" 2>"$d/log" &',
            "i=0; while [ $i -lt 50 ] && ! grep -q 'Server listening' \"$d/log\"; do sleep 0.1; i=$((i+1)); done",
            'i=0; while [ "$i" -lt "$n" ]; do cp "$d/ak.$i" "$d/ak"',
            '  if ssh -F /dev/null -p "$port" -i "$d/user" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@127.0.0.1 true 2>/dev/null; then echo "$i ok"; else echo "$i refused"; fi',
            "  i=$((i+1)); done",
        ].join("\n");
        const r = spawnSync(
            "unshare",
            [
                "--mount",
                "--pid",
                "--fork",
                "--kill-child",
                "--mount-proc",
                "sh",
                "-c",
                script,
                "sh",
                dir,
                String(options.length),
                String(port),
            ],
            { encoding: "utf8", timeout: patience(60000) },
        );
        const log = fs.existsSync(path.join(dir, "log")) ? fs.readFileSync(path.join(dir, "log"), "utf8") : "";
        assert.equal(r.status, 0, `${r.stderr}\n${log}`);
        const ok = options.map((_, i) => new RegExp(`^${i} ok$`, "m").test(r.stdout));
        assert.equal(r.stdout.trim().split("\n").length, options.length, r.stdout + log);
        return { ok, log };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("key options as the real sshd reads them", function () {
    this.timeout(120000);
    before(function () {
        requireReal(this, { root: true, commands: ["sshd", "ssh", "ssh-keygen", "unshare"] });
    });

    it("sshd refuses the key for every from= entry we refuse as having host bits, and takes the network address we suggest", () => {
        const entries = [
            "2001:db8::1/32",
            "::ffff:192.0.2.1/120",
            "!fe80::1/64",
            "127.0.0.1/8",
            "2001:db8:0:0:1::1/64",
        ];
        const fixes = entries.map((e) => {
            try {
                normalizeKeyOptions(`from="127.0.0.0/8,${e}"`);
            } catch (err) {
                const m = /write the network address (\S+)$/.exec((err as Error).message);
                assert.ok(m, (err as Error).message);
                return m[1];
            }
            return assert.fail(`accepted from= entry ${e}`);
        });
        assert.deepEqual(fixes, [
            "2001:db8::/32",
            "::ffff:192.0.2.0/120",
            "!fe80::/64",
            "127.0.0.0/8",
            "2001:db8::/64",
        ]);
        const bad = entries.map((e) => `from="127.0.0.0/8,${e}"`);
        const good = fixes.map((f) => `from="127.0.0.0/8,${f}"`);
        const { ok, log } = sshdAccepts([...bad, ...good, 'from="127.0.0.0/8"']);
        assert.deepEqual(ok, [...bad.map(() => false), ...good.map(() => true), true], log);
        assert.match(log, /invalid from criteria/);
    });

    it("sshd takes every permitopen/permitlisten and flag we accept, and refuses the key for the port and host forms we refuse", () => {
        const good = [
            'restrict,port-forwarding,permitopen="db.internal:5432",permitopen="10.0.0.5:22",permitopen="[2001:db8::1]:443"',
            'permitopen="*:8080",permitopen="localhost:*",permitopen="DB-1:65535"',
            'restrict,port-forwarding,permitlisten="8080",permitlisten="localhost:9000",permitlisten="[::1]:22000"',
            'permitlisten="*.example.com:*",permitlisten="host?:1",permitlisten="0.0.0.0:2222"',
            "restrict,pty,agent-forwarding,X11-forwarding,user-rc",
        ];
        for (const o of good) assert.equal(normalizeKeyOptions(o), o);
        // Forms sshd itself rejects ("bad key options: invalid permission port"): the key stops working.
        const bad = ['permitopen="db"', 'permitopen="db:0"', 'permitopen="db:65536"'];
        for (const o of bad) assert.throws(() => normalizeKeyOptions(o), /permitopen=/, o);
        const { ok, log } = sshdAccepts([...good, ...bad]);
        assert.deepEqual(ok, [...good.map(() => true), ...bad.map(() => false)], log);
        assert.match(log, /bad key options: invalid permission port/);
    });

    it("sshd refuses a key whose expiry-time is past, and takes one we accept at the same moment", () => {
        const now = new Date();
        const tomorrow = new Date(now.getTime() + 86400000).toISOString().slice(0, 10).replace(/-/g, "") + "Z";
        assert.throws(() => normalizeKeyOptions('expiry-time="20000101Z"', "o", now), /already past/);
        assert.equal(normalizeKeyOptions(`expiry-time="${tomorrow}"`, "o", now), `expiry-time="${tomorrow}"`);
        const { ok, log } = sshdAccepts(['expiry-time="20000101Z"', `expiry-time="${tomorrow}"`]);
        assert.deepEqual(ok, [false, true], log);
        assert.match(log, /entry expired/);
    });
});
