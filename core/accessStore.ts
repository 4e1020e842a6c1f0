/**
 * Where the access spec lives: an SSM Parameter Store PATH (PKA_ACCESS_PARAMETER, for example
 * /pka/<fleet>/access), one standard-tier parameter per chunk:
 *
 *   <path>/0000, <path>/0001, ...   value: "pka1 <sha256-hex of the whole JSON> <index>/<count>\n<chunk>"
 *
 * Why chunks: a standard parameter holds 4 KB (advanced: 8 KB, charged), and a spec with a few
 * RSA-4096 keys outgrows that. Why the hash in every chunk: `GetParametersByPath` is not a
 * transaction; while a deploy rewrites the chunks a reader can see some new and some old ones.
 * Every chunk names the spec it belongs to, so a torn read is detected and retried, never
 * provisioned. A reader picks the one hash whose chunks are all present; stale extra chunks of a
 * previous (longer) spec are ignored.
 */
import { createHash } from "crypto";

export const ACCESS_CHUNK_PREFIX = "pka1";
/** Bytes of JSON per chunk: the 4096-byte standard-tier limit minus the header and a margin. */
export const ACCESS_CHUNK_BYTES = 3900;
/** Parameter Store allows 10,000 standard parameters per account and region; we refuse absurd specs earlier. */
export const ACCESS_MAX_CHUNKS = 100;

export class AccessStoreError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "AccessStoreError";
    }
}

export function sha256Hex(s: string): string {
    return createHash("sha256").update(s, "utf8").digest("hex");
}

/** A Parameter Store path as the access parameters use it: `/` then letters, digits, `_ . - /`, not ending in `/`. */
export function isParameterPath(p: string): boolean {
    return /^\/[A-Za-z0-9_.\-/]*[A-Za-z0-9_.-]$/.test(p);
}

/**
 * Whether two parameter paths overlap: equal, or one is a path-prefix of the other at a `/`
 * boundary (`/pka/a` and `/pka/a/b` overlap; `/pka/a` and `/pka/ab` do not). The Lambda may write
 * `<knownHostsPath>/*`: overlapping the access path, that grant would reach the spec chunks.
 */
export function parameterPathsOverlap(a: string, b: string): boolean {
    const x = a.replace(/\/+$/, "");
    const y = b.replace(/\/+$/, "");
    return x === y || x.startsWith(`${y}/`) || y.startsWith(`${x}/`);
}

function chunkName(path: string, i: number): string {
    return `${path.replace(/\/+$/, "")}/${String(i).padStart(4, "0")}`;
}

/** Splits the spec JSON into parameters under `path` (each value <= 4096 bytes, chunk boundaries on code points). */
export function splitAccessSpec(json: string, path: string): { name: string; value: string }[] {
    if (!isParameterPath(path)) {
        throw new AccessStoreError(
            `access parameter path must look like /pka/<fleet>/access; got ${JSON.stringify(path)}`,
        );
    }
    if (json.length === 0) throw new AccessStoreError("access spec JSON is empty");
    const hash = sha256Hex(json);
    const chunks: string[] = [];
    let cur = "";
    let bytes = 0;
    for (const ch of json) {
        const b = Buffer.byteLength(ch, "utf8");
        if (bytes + b > ACCESS_CHUNK_BYTES) {
            chunks.push(cur);
            cur = "";
            bytes = 0;
        }
        cur += ch;
        bytes += b;
    }
    chunks.push(cur);
    if (chunks.length > ACCESS_MAX_CHUNKS) {
        throw new AccessStoreError(
            `access spec is ${Buffer.byteLength(json)} bytes: more than ${ACCESS_MAX_CHUNKS} parameters; keep it in S3 or a document instead`,
        );
    }
    return chunks.map((c, i) => ({
        name: chunkName(path, i),
        value: `${ACCESS_CHUNK_PREFIX} ${hash} ${i}/${chunks.length}\n${c}`,
    }));
}

interface Chunk {
    hash: string;
    index: number;
    count: number;
    data: string;
    name: string;
}

function parseChunk(p: { name: string; value: string }): Chunk | undefined {
    const nl = p.value.indexOf("\n");
    if (nl < 0) return undefined;
    const m = /^pka1 ([0-9a-f]{64}) (\d+)\/(\d+)$/.exec(p.value.slice(0, nl));
    if (!m) return undefined;
    return { hash: m[1], index: Number(m[2]), count: Number(m[3]), data: p.value.slice(nl + 1), name: p.name };
}

/**
 * Joins chunks read with GetParametersByPath (any order) back into the spec JSON.
 * Throws AccessStoreError when nothing is stored, when chunks are missing or torn (mixed specs),
 * or when the joined text does not hash to the hash its chunks carry.
 */
export function joinAccessSpec(params: { name: string; value: string }[]): string {
    const chunks = params.map(parseChunk);
    const bad = params.filter((_, i) => !chunks[i]).map((p) => p.name);
    const groups = new Map<string, Chunk[]>();
    for (const c of chunks) if (c) groups.set(c.hash, [...(groups.get(c.hash) ?? []), c]);
    if (groups.size === 0) {
        throw new AccessStoreError(
            params.length === 0
                ? "no access spec is stored under the access parameter path"
                : `no access spec chunk found (unreadable: ${bad.join(", ")})`,
        );
    }
    const complete: { hash: string; json: string }[] = [];
    const problems: string[] = [];
    for (const [hash, cs] of groups) {
        const count = cs[0].count;
        const byIndex = new Map<number, Chunk>();
        for (const c of cs) if (c.count === count) byIndex.set(c.index, c);
        const missing: number[] = [];
        for (let i = 0; i < count; i++) if (!byIndex.has(i)) missing.push(i);
        if (missing.length > 0 || cs.some((c) => c.count !== count)) {
            problems.push(
                `spec ${hash.slice(0, 8)} lacks chunk(s) ${missing.join(", ") || "(inconsistent counts)"} of ${count}`,
            );
            continue;
        }
        const json = Array.from({ length: count }, (_, i) => byIndex.get(i)!.data).join("");
        if (sha256Hex(json) !== hash) {
            problems.push(`spec ${hash.slice(0, 8)} does not match its hash`);
            continue;
        }
        complete.push({ hash, json });
    }
    if (complete.length === 1) return complete[0].json;
    if (complete.length > 1) {
        throw new AccessStoreError(
            `several complete access specs are stored (${complete.map((c) => c.hash.slice(0, 8)).join(", ")}); delete the stale chunks`,
        );
    }
    throw new AccessStoreError(`torn or incomplete access spec read: ${problems.join("; ")}`);
}
