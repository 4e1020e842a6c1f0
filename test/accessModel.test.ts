/**
 * The access model for real teams in TypeScript: dotted user names, command-scoped sudo and
 * supplementary groups, validated, rendered to the manifest and checked against its grammar.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { validateAccessSpec } from "../core/accessSpec";
import { accessSpecHash } from "../core/accessSpecJson";
import { firstBadManifestLine, renderManifest } from "../core/document";
import { KEY_LINE_FAST } from "../core/script/grammar";
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
