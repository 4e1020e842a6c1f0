/**
 * The access model for real teams in TypeScript: dotted user names, command-scoped sudo and
 * supplementary groups, validated, rendered to the manifest and checked against its grammar.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { readFileSync } from "fs";
import { join } from "path";
import { AccessSpecError, SPEC_FIELDS, USER_FIELDS, validateAccessSpec } from "../core/accessSpec";
import { accessSpecHash } from "../core/accessSpecJson";
import { firstBadManifestLine, renderManifest } from "../core/document";
import { KEY_LINE_FAST } from "../core/script/grammar";
import { GROUP_ERE, SUDO_COMMAND_ERE, sudoersDropIn } from "../core/userAccess";
import { sudoersDropInName, userNameProblem } from "../core/userNames";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICcSJfqzR2fPLHKwFJlQ45HidriLqLA9ENf7tloHEl6D jane@laptop";

describe("access model: dotted user names", () => {
    it("accepts jane.doe and renders a manifest the script's grammar accepts", () => {
        for (const n of ["jane.doe", "j.", "_a.b-c", "a".repeat(15) + "." + "b".repeat(16)]) {
            assert.equal(userNameProblem(n), undefined, n);
        }
        const spec = validateAccessSpec({ users: [{ name: "jane.doe", sudo: "nopasswd", keys: [KEY] }] });
        const m = renderManifest(spec);
        assert.match(m, /^u jane\.doe nopasswd$/m);
        assert.equal(firstBadManifestLine(m), 0);
    });

    it("refuses names useradd refuses or that would break the drop-in mapping", () => {
        for (const n of [".", "..", ".hidden", "1234", "Jane.Doe", "jane+doe", "-jane", "jane doe", "a".repeat(33)]) {
            assert.match(userNameProblem(n) ?? "", /\^\[a-z_\]\[a-z0-9_\.-\]\{0,31\}\$/, n);
        }
    });

    it("maps the drop-in name '.' -> '+', one to one (names never hold '+')", () => {
        assert.equal(sudoersDropInName("jane.doe"), "90-pka-jane+doe");
        assert.equal(sudoersDropInName("alice"), "90-pka-alice");
        assert.equal(sudoersDropInName("a.b.c"), "90-pka-a+b+c");
        assert.notEqual(sudoersDropInName("jane.doe"), sudoersDropInName("jane-doe"));
        assert.ok(!sudoersDropInName("a..b").includes("."));
    });

    it("keeps the hash of a spec without the new fields (computed before they existed)", () => {
        const spec = validateAccessSpec({
            users: [
                { name: "alice", sudo: "nopasswd", keys: [KEY] },
                { name: "bob", sudo: "none", keys: [KEY], adopt: true },
            ],
        });
        assert.equal(accessSpecHash(spec), "9cca3f31ee69c7554d398c1267aa01351115ec500386ae33e9af4657aee528b4");
    });
});

describe("access model: the key-line grammar means the same in JavaScript and in the script's grep", () => {
    it("grep -E -x with the script's KEY_LINE_FAST accepts exactly the key lines the TypeScript grammar accepts", () => {
        const options = [
            "restrict",
            'restrict,port-forwarding,permitopen="db.internal:5432",permitopen="[2001:db8::1]:443"',
            'permitlisten="8080"',
            'permitlisten="*.example.com:*"',
            'permitopen="db:1",environment="A=1"',
            'permitopen="db:1 x"',
            'permitopen="db:1"x',
            'permitopen="[::1:22"',
            'permitopen="db:123456"',
            'permitopen=""',
            'permitopen="db:1,command=sh"',
            'permitopen="a\\"b:1"',
            'from="10.0.0.0/8",command="/usr/bin/backup --serve"',
            'command="a;b"',
            "no-touch-required,verify-required",
            "pty,agent-forwarding,X11-forwarding,user-rc,port-forwarding",
            "tunnel",
            'expiry-time="20301231Z"',
        ];
        const lines = options.map((o) => `k jane.doe ${o} ${KEY}`);
        const js = lines.map((l) => firstBadManifestLine(`pka-access 1 ${"0".repeat(64)}\n${l}\n`) === 0);
        const r = spawnSync("grep", ["-n", "-E", "-x", "-e", KEY_LINE_FAST.ere], { input: lines.join("\n") + "\n" });
        const matched = new Set(
            String(r.stdout)
                .split("\n")
                .filter(Boolean)
                .map((l) => Number(l.split(":")[0]) - 1),
        );
        assert.deepEqual(
            lines.map((_, i) => matched.has(i)),
            js,
            "grep and JavaScript disagree",
        );
        assert.deepEqual(js.slice(0, 4), [true, true, true, true]);
        assert.ok(
            js.slice(4, 12).every((v) => !v),
            "the smuggling forms are refused",
        );
    });
});

describe("access model: command-scoped sudo and groups in the spec", () => {
    const user = (extra: Record<string, unknown>) => ({ name: "ops", sudo: "nopasswd", keys: [KEY], ...extra });
    const refuses = (extra: Record<string, unknown>, path: string, why: RegExp) =>
        assert.throws(
            () => validateAccessSpec({ users: [user(extra)] }),
            (e: unknown) => e instanceof AccessSpecError && e.path === path && why.test(e.message),
            JSON.stringify(extra),
        );

    it('takes absolute commands with plain arguments or "", renders s and g lines the grammar accepts, and the hash only when set', () => {
        const spec = validateAccessSpec({
            users: [
                user({
                    sudoCommands: [
                        "/usr/bin/systemctl restart nginx.service",
                        '/usr/bin/journalctl ""',
                        "/opt/app/bin/deploy",
                    ],
                    groups: ["docker", "adm"],
                }),
            ],
        });
        assert.deepEqual(spec.users[0].groups, ["adm", "docker"], "sorted");
        const m = renderManifest(spec);
        assert.match(m, /^s ops \/usr\/bin\/systemctl restart nginx\.service$/m);
        assert.match(m, /^s ops \/usr\/bin\/journalctl ""$/m);
        assert.match(m, /^g ops adm\ng ops docker\nk ops /m);
        assert.equal(firstBadManifestLine(m), 0);
        assert.equal(
            sudoersDropIn(spec.users[0])?.text.split("\n")[1],
            'ops ALL=(root) NOPASSWD: /usr/bin/systemctl restart nginx.service, /usr/bin/journalctl "", /opt/app/bin/deploy',
        );
        const plain = validateAccessSpec({ users: [user({ sudoCommands: [], groups: [] })] });
        assert.equal(accessSpecHash(plain), accessSpecHash(validateAccessSpec({ users: [user({})] })));
        assert.notEqual(accessSpecHash(spec), accessSpecHash(plain));
        assert.equal(sudoersDropIn(plain.users[0])?.text.split("\n")[1], "ops ALL=(ALL:ALL) NOPASSWD: ALL");
        const pw = validateAccessSpec({ users: [user({ sudo: "password", sudoCommands: ["/usr/bin/id"] })] });
        assert.equal(sudoersDropIn(pw.users[0])?.text.split("\n")[1], "ops ALL=(root) /usr/bin/id");
        assert.equal(firstBadManifestLine(renderManifest(pw)), 0);
    });

    const badCommands: [unknown, RegExp][] = [
        ["systemctl restart nginx", /absolute path/],
        ["/usr/bin/*", /wildcard/],
        ["/usr/bin/systemctl restart ngin?", /wildcard/],
        ["/usr/bin/", /every command in that directory/],
        ["/usr/bin/../bin/sh", /'\.', '\.\.' or empty path segment/],
        ["/usr//bin/id", /empty path segment/],
        ["/usr/bin/./id", /'\.'/],
        ["/usr/bin/id, ALL", /, : = \\/],
        ["/usr/bin/env A=1 id", /, : = \\/],
        ["/usr/bin/id\\ x", /, : = \\/],
        ["/usr/sbin/sudoedit /etc/hosts", /sudoedit/],
        ["/usr/bin/id  -u", /single spaces/],
        ["/usr/bin/id -u ", /single spaces/],
        ['/usr/bin/id "x"', /single spaces|""/],
        ["/usr/bin/id #x", /single spaces/],
        ["/usr/bin/id !x", /single spaces/],
        ["/usr/bin/id $(reboot)", /single spaces/],
        ["/usr/bin/id\n/bin/sh", /single spaces/],
        ["/" + "a".repeat(300), /longer than 256/],
        [7, /must be a string/],
    ];
    for (const [cmd, why] of badCommands) {
        it(`refuses the sudo command ${JSON.stringify(cmd).slice(0, 40)}`, () => {
            refuses({ sudoCommands: ["/usr/bin/id", cmd] }, "users[0].sudoCommands[1]", why);
        });
    }

    it("refuses sudoCommands without sudo, duplicates, too many, and not a list", () => {
        refuses(
            { sudo: "none", sudoCommands: ["/usr/bin/id"] },
            "users[0].sudoCommands",
            /needs sudo: "nopasswd" or "password"/,
        );
        refuses({ sudoCommands: ["/usr/bin/id", "/usr/bin/id"] }, "users[0].sudoCommands[1]", /listed twice/);
        refuses(
            { sudoCommands: Array.from({ length: 33 }, (_, i) => `/usr/bin/c${i}`) },
            "users[0].sudoCommands",
            /at most 32/,
        );
        refuses({ sudoCommands: "/usr/bin/id" }, "users[0].sudoCommands", /must be a list/);
        refuses({ sudo: "all" }, "users[0].sudo", /"nopasswd", "password" or "none"/);
    });

    it("refuses privileged, malformed, duplicate and own groups, each with its reason", () => {
        for (const [g, why] of [
            ["root", /root's group/],
            ["sudo", /full sudo on Debian/],
            ["wheel", /full sudo on Amazon Linux/],
            ["admin", /full sudo on older Ubuntu/],
            ["shadow", /\/etc\/shadow/],
            ["disk", /raw disks/],
            ["kmem", /kernel memory/],
        ] as [string, RegExp][]) {
            refuses({ groups: ["adm", g] }, "users[0].groups[1]", new RegExp(`${why.source}.*root by another door`));
        }
        for (const g of ["Adm", "adm,docker", "a b", "", "x".repeat(33), "../etc", 5]) {
            refuses({ groups: [g] }, "users[0].groups[0]", /is not a group name/);
        }
        refuses({ groups: ["adm", "adm"] }, "users[0].groups[1]", /listed twice/);
        refuses({ groups: ["ops"] }, "users[0].groups[0]", /own group/);
        refuses({ groups: Array.from({ length: 17 }, (_, i) => `g${i}`) }, "users[0].groups", /at most 16/);
        refuses({ groups: "adm" }, "users[0].groups", /must be a list/);
    });
});

describe("access model: the README's spec reference", () => {
    const readme = readFileSync(join(__dirname, "..", "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("### The access spec"), readme.indexOf("### Size limits"));
    /** The reference table's rows for `users[].<field>`: field -> [grammar, example] as written. */
    const rows = new Map<string, [string, string]>();
    for (const line of section.split("\n")) {
        const m = /^\| `users\[\]\.([a-zA-Z]+)` \| (.*) \| `(.*)` \|$/.exec(line);
        if (m) rows.set(m[1], [m[2].replace(/\\\|/g, "|"), m[3]]);
    }

    it("lists every field the spec takes", () => {
        assert.deepEqual([...rows.keys()].sort(), [...USER_FIELDS].sort());
        for (const f of SPEC_FIELDS.filter((x) => x !== "users"))
            assert.match(section, new RegExp(`^\\| \`${f}[.\`]`, "m"), f);
        assert.match(section, /^\| `certificates\.userCaKeys` \|/m);
        assert.match(section, /^\| `certificates\.revokedKeys` \|/m);
    });

    it("states the grammar the code enforces for sudoCommands and groups", () => {
        assert.ok(rows.get("sudoCommands")![0].includes("`" + SUDO_COMMAND_ERE + "`"), rows.get("sudoCommands")![0]);
        assert.ok(rows.get("groups")![0].includes("`^" + GROUP_ERE + "$`"), rows.get("groups")![0]);
    });

    it("gives examples that validate, and the drop-in text the code writes", () => {
        for (const [field, [, example]] of rows) {
            if (field === "keys") continue; // elided key data; the key rules have their own tests
            const value = JSON.parse(example);
            const user = { name: "ops", sudo: "nopasswd", keys: [KEY], [field]: value };
            // principals need certificate mode: any ed25519 key can stand for the CA here
            const certificates = field === "principals" ? { certificates: { userCaKeys: [KEY] } } : {};
            const spec = validateAccessSpec({ users: [user], ...certificates });
            assert.ok(spec.users.length === 1, field);
        }
        const spec = validateAccessSpec({
            users: [
                {
                    name: "deploy",
                    sudo: "nopasswd",
                    keys: [KEY],
                    sudoCommands: JSON.parse(rows.get("sudoCommands")![1]),
                },
            ],
        });
        const text = sudoersDropIn(spec.users[0])!.text;
        const shown = text
            .trimEnd()
            .split("\n")
            .map((l) => "  " + l)
            .join("\n");
        assert.ok(section.includes("```\n" + shown + "\n  ```"), `the README shows the drop-in as\n${text}`);
    });
});
