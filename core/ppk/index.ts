/**
 * PuTTY .ppk private keys (PuTTY's manual, appendix C "PPK file format"): writing v3 files
 * (write.ts), reading v2/v3 files into OpenSSH keys (decrypt.ts). The synchronous reading of a
 * .ppk's public part that parseKey uses is format.ts.
 */
export { decryptPpk } from "./decrypt";
export { PPK_ARGON2, toPpk } from "./write";
