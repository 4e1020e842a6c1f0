// The package entry: the component library and its helpers. Importing it creates no resource.
// The cross-language plugin (package.json `main`, components/plugin.ts) loads it on its first
// Construct; its schema is bin/schema.json (scripts/build-schema.js), secret marks included.

// The components and their args.
export { SshKeyPair } from "./SshKeyPair";
export type { SshKeyPairArgs, SshKeyPairConnection, SshKeyPairGenerate, SshKeyPairOnHost } from "./SshKeyPair";
export { GeneratedSshKey } from "./GeneratedSshKey";
export { SshCertificateAuthority } from "./SshCertificateAuthority";
export type {
    SshCertificateAuthorityArgs,
    SshCertificateAuthorityGenerate,
    SshCertificateAuthorityKms,
} from "./SshCertificateAuthority";
export { SetupDocument } from "./SetupDocument";
export type { SetupDocumentArgs } from "./SetupDocument";
export { Provisioner } from "./Provisioner";
export type { ProvisionerArgs, ProvisionerTargetTag } from "./Provisioner";
export { PkaFleet, planFleet } from "./PkaFleet";
export type { FleetCertificates, FleetUser, PkaFleetArgs } from "./PkaFleet";
export type { FleetHostCertificates } from "./fleetHostCertificates";
export type { ProvisionerHostCertificates } from "./Provisioner";
export { deployError } from "./errors";

// The planners the components run (pure, no resource), for users who check args themselves.
export {
    SshKeyType,
    SshKeyCurve,
    checkComment,
    checkHostPath,
    checkPublicKey,
    onHostCommand,
    planSshKeyPair,
    redactSecretValue,
    resolveSshKeySpec,
} from "../core/keyPairPlan";
export { Trigger, ALL_TRIGGERS } from "../core/events";
export { provisionerCodePath } from "../core/lambdaBundle";
export { checkKeyRuleArgs } from "../core/keyRuleArgs";
export type { FleetKeyRules } from "../core/keyRuleArgs";
export {
    RETENTION_DAYS,
    PROVISIONER_AUTONAMES,
    AUTONAME_SUFFIX_LENGTH,
    QUEUE_TARGET_ID,
    provisionerNameProblem,
    tagsProblem,
    deployedMarkerName,
    NODE_RUNTIME_DEPRECATION,
    runtimeProblem,
} from "../core/provisionerPlan";
export { DRIFT_MIN_INTERVAL_MINUTES, scheduleProblem, driftScheduleError } from "../core/provisionerSchedule";
export { buildProvisionerPolicy, eventBridgeQueuePolicy, ownRoleOnlyQueuePolicy } from "../core/provisionerPolicy";
export type { ProvisionerPolicyInput } from "../core/provisionerPolicy";
export { defaultFleetName, fleetResourceNameProblem, generatedKeyBound, parameterSlots } from "../core/fleetPlan";
export { SudoMode } from "../core/fleetPlanTypes";
export type { FleetPlan, FleetTargetTag } from "../core/fleetPlanTypes";
export { buildAccessSpec, plainKeyInputs, specProblem, checkDeploySpec } from "../core/fleetSpec";
export type { DeployKey } from "../core/fleetSpec";
export {
    SESSION_MANAGER_PROXY,
    centralServerFiles,
    centralServerFleet,
    centralServerOutputs,
    fleetHostSettings,
    fleetSshConfig,
    knownHostsCommand,
} from "../core/centralServer";
export type { CentralServerFleet } from "../core/centralServer";

// Pure helpers for users who build or check an access spec themselves.
export { validateAccessSpec, accessSpecHash, canonicalAccessSpecJson, AccessSpecError } from "../core/accessSpec";
export type { AccessSpec, AccessUser } from "../core/accessSpec";
// Key material: the key rules the policy pack and `pka check-key` apply, generation and PuTTY's format.
export {
    KeyError,
    parseKey,
    parsePublicKey,
    judgeKey,
    judgeKeySpec,
    keyRulesFromPolicyConfig,
    generateKey,
    encryptPrivateKey,
    publicKeyOf,
} from "../core/keygen";
export type { KeyInfo, KeyRules } from "../core/keys";
export { toPpk, decryptPpk } from "../core/ppk";
// OpenSSH certificates: issue (user and host), read and judge, revocation lists (KRL).
export {
    issueCertificate,
    parseCertificateLine,
    certificateProblems,
    buildKrl,
    parseDuration,
    caKeyProblem,
    CertificateError,
} from "../core/certs";
export type { IssueRequest, IssuedCertificate, CertificateInfo, Revocations } from "../core/certs";
export {
    CertificateAuthorityKind,
    KmsCaKeySpec,
    KMS_CA_SPECS,
    planCertificateAuthority,
    certAuthorityLine,
    sshPublicKeyFromSpki,
} from "../core/certAuthorityPlan";
export { kmsCaKeyPolicy, sshSignatureFromKmsDer, KMS_CA_ADMIN_ACTIONS } from "../core/certAuthorityKms";
