/**
 * Argon2 for PPK v3 files (PuTTY's manual, appendix C.4 "Key derivation"): 80 bytes =
 * aes256-cbc key (32) | IV (16) | MAC key (32). From hash-wasm (a maintained WebAssembly build),
 * so it is async.
 */
import { argon2d, argon2i, argon2id } from "hash-wasm";

/** @internal The 80 bytes of key material Argon2 gives a .ppk, in the named flavour. */
export async function argon2(
    flavour: string,
    opts: { password: string; salt: Buffer; passes: number; memory: number; parallelism: number },
): Promise<Buffer> {
    const fn = flavour === "Argon2id" ? argon2id : flavour === "Argon2i" ? argon2i : argon2d;
    const out = await fn({
        password: Buffer.from(opts.password, "utf8"),
        salt: opts.salt,
        iterations: opts.passes,
        parallelism: opts.parallelism,
        memorySize: opts.memory,
        hashLength: 80,
        outputType: "binary",
    });
    return Buffer.from(out);
}
