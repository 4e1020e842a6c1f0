/**
 * The access model for real teams in TypeScript: dotted user names, command-scoped sudo and
 * supplementary groups, validated, rendered to the manifest and checked against its grammar.
 */
import { strict as assert } from "assert";
import { validateAccessSpec } from "../core/accessSpec";
import { accessSpecHash } from "../core/accessSpecJson";
import { firstBadManifestLine, renderManifest } from "../core/document";
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
