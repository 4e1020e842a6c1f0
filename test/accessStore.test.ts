import * as assert from "assert";
import { ACCESS_CHUNK_BYTES, AccessStoreError, joinAccessSpec, sha256Hex, splitAccessSpec } from "../core/accessStore";

function bigSpec(users: number): string {
    const key = "ssh-rsa " + "A".repeat(716) + " user@example";
    return JSON.stringify({
        users: Array.from({ length: users }, (_, i) => ({ name: `u${i}`, sudo: "none", keys: [key, key + "2"] })),
    });
}

describe("core/accessStore", () => {
    it("a small spec is one parameter with the whole spec's hash in its header", () => {
        const json = '{"users":[]}';
        const ps = splitAccessSpec(json, "/pka/prod/access");
        assert.deepStrictEqual(ps, [{ name: "/pka/prod/access/0000", value: `pka1 ${sha256Hex(json)} 0/1\n${json}` }]);
        assert.strictEqual(joinAccessSpec(ps), json);
    });

    it("a large spec splits into standard-tier parameters (<= 4096 bytes) and joins back in any order", () => {
        const json = bigSpec(20);
        const ps = splitAccessSpec(json, "/pka/prod/access");
        assert.ok(ps.length > 5, `${ps.length} chunks`);
        for (const p of ps)
            assert.ok(Buffer.byteLength(p.value) <= 4096, `${p.name} is ${Buffer.byteLength(p.value)} bytes`);
        assert.strictEqual(joinAccessSpec([...ps].reverse()), json);
    });

    it("splits on code points: multi-byte text survives and stays under the byte limit", () => {
        const json = JSON.stringify({ note: "ü€😀".repeat(2000) });
        const ps = splitAccessSpec(json, "/a/b");
        for (const p of ps) assert.ok(Buffer.byteLength(p.value) <= ACCESS_CHUNK_BYTES + 100);
        assert.strictEqual(joinAccessSpec(ps), json);
    });

    it("detects a torn read (chunks of two specs) and a missing chunk", () => {
        const a = splitAccessSpec(bigSpec(10), "/pka/prod/access");
        const b = splitAccessSpec(bigSpec(11), "/pka/prod/access");
        const torn = [b[0], ...a.slice(1)];
        assert.throws(
            () => joinAccessSpec(torn),
            (e: Error) => e instanceof AccessStoreError && /torn or incomplete/.test(e.message),
        );
        assert.throws(() => joinAccessSpec(a.slice(0, -1)), /lacks chunk/);
        assert.throws(() => joinAccessSpec([]), /no access spec is stored/);
        assert.throws(() => joinAccessSpec([{ name: "/x/0000", value: "garbage" }]), /no access spec chunk/);
    });

    it("ignores stale chunks left by a longer previous spec", () => {
        const old = splitAccessSpec(bigSpec(12), "/p/access");
        const cur = splitAccessSpec(bigSpec(3), "/p/access");
        assert.ok(old.length > cur.length);
        // The new spec overwrote 0000..n-1; the old tail is still there until the deploy deletes it.
        const stored = [...cur, ...old.slice(cur.length)];
        assert.strictEqual(joinAccessSpec(stored), bigSpec(3));
    });

    it("detects tampering: the joined text must hash to the header's hash", () => {
        const [p] = splitAccessSpec('{"users":[]}', "/p/access");
        assert.throws(
            () => joinAccessSpec([{ name: p.name, value: p.value.replace("[]", "[1]") }]),
            /does not match its hash/,
        );
    });

    it("refuses bad paths", () => {
        assert.throws(() => splitAccessSpec("{}", "pka/access"), AccessStoreError);
        assert.throws(() => splitAccessSpec("{}", "/pka/access/"), AccessStoreError);
    });
});
