/**
 * OpenSSH certificates: issuing them (a CA's private key signs a public key for principals and a
 * validity window), reading and judging them, and revocation lists sshd reads. Pure (no @pulumi
 * imports), no sshpk: signatures are node:crypto's (core/certs/sign.ts says why).
 *
 *   types.ts     CertificateInfo, CertificateError, the limits and defaults
 *   options.ts   validity, principals, key id, critical options, extensions, CA keys: the checks
 *   format.ts    the wire format (PROTOCOL.certkeys): encode the signed body, parse a certificate
 *   sign.ts      CA signatures (ed25519, ecdsa, rsa-sha2-512) and their verification
 *   issue.ts     issueCertificate
 *   krl.ts       buildKrl: OpenSSH's KRL format (PROTOCOL.krl)
 *   describe.ts  a certificate in words, and why it would be refused now
 */
export * from "./types";
export {
    caKeyProblem,
    checkCriticalOptions,
    checkExtensions,
    checkKeyId,
    checkPrincipals,
    formatDuration,
    parseDuration,
} from "./options";
export { certTypeOf, parseCertificateBlob, parseCertificateLine } from "./format";
export { issueCertificate } from "./issue";
export { prepareCertificate } from "./prepare";
export type { IssueRequest, IssuedCertificate, PreparedCertificate } from "./issue";
export { buildKrl } from "./krl";
export type { Revocations } from "./krl";
export { certificateProblems, describeCertificate } from "./describe";
