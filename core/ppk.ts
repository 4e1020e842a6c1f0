/**
 * PuTTY .ppk private keys (PuTTY's manual, appendix C "PPK file format"), for Windows users of
 * PuTTY and WinSCP: writing v3 files (ppk/write.ts), reading v2/v3 files into OpenSSH keys
 * (ppk/decrypt.ts). The synchronous reading of a .ppk's public part that parseKey uses is
 * ppk/format.ts.
 *
 * A file beside the ppk/ folder, not ppk/index.ts: every relative import in the key code names a
 * file (test/keyPairProvider.test.ts compiles the provider's imports by following "X" to "X.ts").
 */
export { decryptPpk } from "./ppk/decrypt";
export { PPK_ARGON2, toPpk } from "./ppk/write";
