/**
 * Reading PuTTY .ppk files (v2 and v3), per PuTTY's manual, appendix C ("PPK file format"): the
 * header lines, the public and private blobs, the Argon2 parameters (v3), the MAC, and v2's
 * SHA-1 key derivation. Synchronous and without Argon2 (ppk/argon2.ts), so that parseKey in
 * core/keys reads a .ppk's public part without loading hash-wasm.
 */
import * as crypto from "crypto";
import { cleanComment, decodeBase64, infoFromBlob, parseBlob } from "../keys/blob";
import { KeyError, KeyInfo } from "../keys/types";
import { sshString } from "../keys/wire";

/** @internal the parsed text of a .ppk file. */
export interface PpkFile {
    version: 2 | 3;
    algorithm: string;
    encryption: "none" | "aes256-cbc";
    comment: string;
    publicBlob: Buffer;
    privateBlob: Buffer;
    mac: Buffer;
    kdf?: {
        flavour: "Argon2id" | "Argon2i" | "Argon2d";
        memory: number;
        passes: number;
        parallelism: number;
        salt: Buffer;
    };
}

/** @internal */
export const PPK_CORRUPT_MAC = "fails its PuTTY MAC check: the file is corrupt or was edited";
/** @internal */
export const PPK_WRONG_PASSPHRASE =
    "the passphrase is wrong (PuTTY MAC check failed); give the passphrase the key was saved with";
/** @internal the fixed text in the MAC key of PuTTY v2 files, encrypted or not. */
export const PPK_MAC_KEY_TEXT = "putty-private-key-file-mac-key";

// ---------------------------------------------------------------------------------------------
// The file's lines

/** The lines of a .ppk file, read in order: "Name: value" lines and base64 blocks. */
class PpkLines {
    private i = 0;
    constructor(
        private readonly lines: string[],
        private readonly label: string,
    ) {}
    next(): string {
        return this.lines[this.i++] ?? "";
    }
    take(name: string): string {
        const line = this.next();
        const prefix = `${name}: `;
        if (!line.startsWith(prefix)) {
            throw new KeyError(this.label, `is not a valid PuTTY key file: expected '${name}:' on line ${this.i}`);
        }
        return line.slice(prefix.length);
    }
    block(name: string): Buffer {
        const n = Number(this.take(name));
        if (!Number.isInteger(n) || n < 0 || n > 1024) {
            throw new KeyError(this.label, `is not a valid PuTTY key file: bad ${name} count`);
        }
        const text = this.lines
            .slice(this.i, this.i + n)
            .map((l) => l.trim())
            .join("");
        this.i += n;
        return decodeBase64(text, this.label, `the PuTTY ${name.replace("-Lines", "").toLowerCase()} data`);
    }
    restIsBlank(): boolean {
        return this.lines.slice(this.i).every((l) => l.trim() === "");
    }
}

/** The Argon2 lines of an encrypted v3 file, bounded. */
function readPpkKdf(p: PpkLines, label: string): NonNullable<PpkFile["kdf"]> {
    const flavour = p.take("Key-Derivation");
    if (flavour !== "Argon2id" && flavour !== "Argon2i" && flavour !== "Argon2d") {
        throw new KeyError(label, `uses an unknown key derivation '${flavour.slice(0, 30)}'`);
    }
    const memory = Number(p.take("Argon2-Memory"));
    const passes = Number(p.take("Argon2-Passes"));
    const parallelism = Number(p.take("Argon2-Parallelism"));
    const saltHex = p.take("Argon2-Salt");
    // Bounded work: refuse parameters that would make reading the file a denial of service
    // (PuTTY writes 8 MiB and ~20 passes; we allow up to 256 MiB and 256 passes).
    const inRange =
        memory >= 8 && memory <= 1 << 18 && passes >= 1 && passes <= 256 && parallelism >= 1 && parallelism <= 64;
    if (!inRange || !/^([0-9a-f]{2}){1,64}$/i.test(saltHex)) {
        throw new KeyError(label, "has out-of-range Argon2 parameters (at most 256 MiB and 256 passes are read)");
    }
    return { flavour, memory, passes, parallelism, salt: Buffer.from(saltHex, "hex") };
}

/** @internal */
export function readPpkFile(s: string, label: string): PpkFile {
    const p = new PpkLines(s.split(/\r?\n/), label);
    const head = /^PuTTY-User-Key-File-(\d+): (.*)$/.exec(p.next());
    if (!head) throw new KeyError(label, "is not a valid PuTTY key file");
    const version = Number(head[1]);
    if (version !== 2 && version !== 3) {
        throw new KeyError(
            label,
            `is a PuTTY key file version ${version}; versions 2 and 3 are read (convert with a current puttygen)`,
        );
    }
    const algorithm = head[2].trim();
    const encryption = p.take("Encryption");
    if (encryption !== "none" && encryption !== "aes256-cbc") {
        throw new KeyError(label, `uses PuTTY encryption '${encryption.slice(0, 30)}'; expected none or aes256-cbc`);
    }
    const comment = p.take("Comment");
    const publicBlob = p.block("Public-Lines");
    const kdf = version === 3 && encryption !== "none" ? readPpkKdf(p, label) : undefined;
    const privateBlob = p.block("Private-Lines");
    const macHex = p.take("Private-MAC");
    if (!/^[0-9a-f]+$/i.test(macHex)) throw new KeyError(label, "has a malformed Private-MAC line");
    if (!p.restIsBlank()) throw new KeyError(label, "has text after the Private-MAC line");
    const mac = Buffer.from(macHex, "hex");
    return { version: version as 2 | 3, algorithm, encryption, comment, publicBlob, privateBlob, mac, kdf };
}

// ---------------------------------------------------------------------------------------------
// MAC and v2 key derivation

/** @internal the data PuTTY's MAC covers (same layout in v2 and v3). */
export function ppkMacData(
    f: { algorithm: string; encryption: string; comment: string; publicBlob: Buffer },
    privatePlain: Buffer,
): Buffer {
    return Buffer.concat([
        sshString(f.algorithm),
        sshString(f.encryption),
        sshString(f.comment),
        sshString(f.publicBlob),
        sshString(privatePlain),
    ]);
}

/** @internal PuTTY v2 key derivation: aes256-cbc key from SHA-1 of [0,0,0,n]+passphrase, zero IV, SHA-1 MAC key. */
export function ppkV2Keys(passphrase: string): { key: Buffer; iv: Buffer; macKey: Buffer } {
    const h = (n: number) =>
        crypto
            .createHash("sha1")
            .update(Buffer.from([0, 0, 0, n]))
            .update(passphrase, "utf8")
            .digest();
    return {
        key: Buffer.concat([h(0), h(1)]).subarray(0, 32),
        iv: Buffer.alloc(16),
        macKey: crypto.createHash("sha1").update(PPK_MAC_KEY_TEXT).update(passphrase, "utf8").digest(),
    };
}

/** @internal the MAC key of an unencrypted .ppk: empty for v3, SHA-1 of the fixed text for v2. */
export function ppkUnencryptedMacKey(version: 2 | 3): Buffer {
    return version === 3 ? Buffer.alloc(0) : crypto.createHash("sha1").update(PPK_MAC_KEY_TEXT).digest();
}

/** @internal aes256-cbc decryption of a .ppk private blob (no padding removal; PuTTY pads itself). */
export function ppkDecryptBlob(blob: Buffer, key: Buffer, iv: Buffer): Buffer {
    const d = crypto.createDecipheriv("aes-256-cbc", key, iv);
    d.setAutoPadding(false);
    return Buffer.concat([d.update(blob), d.final()]);
}

/** @internal PuTTY's MAC check (HMAC-SHA-256 for v3, HMAC-SHA-1 for v2); a mismatch is a KeyError saying `wrongMsg`. */
export function checkPpkMac(f: PpkFile, plain: Buffer, macKey: Buffer, label: string, wrongMsg: string): void {
    const mac = crypto
        .createHmac(f.version === 3 ? "sha256" : "sha1", macKey)
        .update(ppkMacData(f, plain))
        .digest();
    if (mac.length !== f.mac.length || !crypto.timingSafeEqual(mac, f.mac)) throw new KeyError(label, wrongMsg);
}

// ---------------------------------------------------------------------------------------------
// The key in a .ppk

/**
 * @internal A .ppk's KeyInfo, its MAC checked where that needs no Argon2 (unencrypted, or v2
 * with `passphrase`); `privatePlain` is the decrypted private blob when it was read.
 */
export function parsePpk(
    s: string,
    passphrase: string | undefined,
    label: string,
): { info: KeyInfo; file: PpkFile; privatePlain?: Buffer } {
    const f = readPpkFile(s, label);
    const b = parseBlob(f.publicBlob, label, "the PuTTY public data");
    if (b.wireType !== f.algorithm) {
        throw new KeyError(label, `says ${f.algorithm.slice(0, 40)} but its public data is ${b.wireType}: corrupt`);
    }
    const comment = cleanComment(f.comment, label);
    const encrypted = f.encryption !== "none";
    const info = infoFromBlob(b, { comment, isPrivate: true, encrypted, format: "ppk" });
    let plain: Buffer | undefined;
    if (!encrypted) {
        plain = f.privateBlob;
        checkPpkMac(f, plain, ppkUnencryptedMacKey(f.version), label, PPK_CORRUPT_MAC);
    } else if (passphrase !== undefined && f.version === 2) {
        if (f.privateBlob.length % 16 !== 0) throw new KeyError(label, "has encrypted data of a bad length: corrupt");
        const k = ppkV2Keys(passphrase);
        plain = ppkDecryptBlob(f.privateBlob, k.key, k.iv);
        checkPpkMac(f, plain, k.macKey, label, PPK_WRONG_PASSPHRASE);
    }
    return { info, file: f, privatePlain: plain };
}
