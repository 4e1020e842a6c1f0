// The package entry: the component library and its helpers. Importing it creates no resource.
// The cross-language plugin (package.json `main`, components/plugin.ts) loads it on its first
// Construct; its schema is bin/schema.json (scripts/build-schema.js), secret marks included.
export * from "./SshKeyPair";
export * from "./SetupDocument";
export * from "./Provisioner";
export * from "./PkaFleet";
// Pure helpers for users who build or check an access spec themselves.
export { validateAccessSpec, accessSpecHash, canonicalAccessSpecJson, AccessSpecError } from "../core/accessSpec";
export type { AccessSpec, AccessUser } from "../core/accessSpec";
// Key material: the key rules the policy pack and `pka check-key` apply, generation and PuTTY's format.
export { KeyError, parseKey, parsePublicKey, judgeKey, judgeKeySpec, keyRulesFromPolicyConfig, generateKey, encryptPrivateKey, publicKeyOf } from "../core/keygen";
export type { KeyInfo, KeyRules } from "../core/keys";
export { toPpk, decryptPpk } from "../core/ppk";
