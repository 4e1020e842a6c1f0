// The package entry: exports only. Importing it creates no resource.
export * from "./SshKeyPair";
export * from "./SetupDocument";
export * from "./Provisioner";
export * from "./PkaFleet";
// Pure helpers for users who build or check an access spec themselves.
export { validateAccessSpec, accessSpecHash, canonicalAccessSpecJson, AccessSpecError } from "../core/accessSpec";
export type { AccessSpec, AccessUser } from "../core/accessSpec";
