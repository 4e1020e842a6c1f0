/**
 * Key material: parsing, fingerprints and the key rules of the policy pack. Pure (no @pulumi
 * imports): the components, the policy pack, the Lambda and the CLI all import this module, so
 * a key is judged the same way everywhere. Generation and encryption are in core/keygen.ts (which
 * re-exports this module): they need sshpk, and the Lambda, which only parses public keys, must
 * not carry it (its bundle has no sshpk; test/bundle-lambda.test.ts).
 *
 *   types.ts       KeyInfo, KeyRules, the error classes, key types, curves and limits
 *   wire.ts        the SSH wire-format reader and encoders
 *   blob.ts        public key blobs, fingerprints, the KeyInfo of a blob
 *   publicKey.ts   OpenSSH public key lines, rsa1 lines (to refuse them), RFC 4716
 *   privateKey.ts  OpenSSH private keys
 *   pem.ts         PEM, PKCS#8 and SPKI keys through node:crypto
 *   parseKey.ts    any key text (PuTTY .ppk files: core/ppk)
 *   rules.ts       the key rules: defaults, checkKeyRules, judgeKey, judgeKeySpec
 *   spec.ts        keygen options to a concrete spec
 *
 * This file is the public surface; the modules import each other directly, never through it.
 */
export {
    EC2_IMPORT_RSA_BITS,
    EC2_IMPORT_RSA_BITS_ALLOWED,
    INSTALLABLE_KEY_TYPES,
    KNOWN_CURVES,
    KNOWN_KEY_TYPES,
    KeyEncryptedError,
    KeyError,
    MAX_KEY_TEXT,
    MAX_PUBLIC_LINE,
    MAX_RSA_BITS,
    RSA_FLOOR_BITS,
    SECURITY_KEY_TYPES,
    SECURITY_KEY_WIRE_TYPES,
    SOFTWARE_KEY_TYPES,
    SSH_KEY_TYPES,
} from "./types";
export type { KeyInfo, KeyRules } from "./types";
export { fingerprintOfBlob } from "./blob";
export { parsePublicKey } from "./publicKey";
export { parseKey, publicKeyOf } from "./parseKey";
export {
    DEFAULT_KEY_RULES,
    checkKeyRules,
    describeAccepted,
    judgeKey,
    judgeKeySpec,
    keyRulesFromPolicyConfig,
    normalizeCurve,
} from "./rules";
export type { KeyJudgeContext } from "./rules";
export { resolveKeySpec } from "./spec";
export type { KeySpec } from "./spec";
