/**
 * OpenSSH certificates (PROTOCOL.certkeys in the OpenSSH sources): what a certificate holds, the
 * error every certificate check throws, and the limits pka-fleet holds certificates to.
 */

/** A certificate problem: `input` names what was given ("--validity", "the CA key"), `message` says what would fix it. */
export class CertificateError extends Error {
    constructor(
        readonly input: string,
        detail: string,
    ) {
        super(`${input}: ${detail}`);
        this.name = "CertificateError";
    }
}

/** SSH2_CERT_TYPE_USER (1) and SSH2_CERT_TYPE_HOST (2). */
export type CertKind = "user" | "host";

/** The critical options sshd knows (PROTOCOL.certkeys); both apply to user certificates only. */
export interface CriticalOptions {
    /** `force-command`: the command run instead of the user's. */
    forceCommand?: string;
    /** `source-address`: addresses and CIDR blocks the certificate may be used from. */
    sourceAddress?: string[];
}

/** What a certificate says, decoded. */
export interface CertificateInfo {
    /** e.g. ssh-ed25519-cert-v01@openssh.com */
    certType: string;
    /** The certified key's own type, e.g. ssh-ed25519. */
    keyType: string;
    /** The certified public key blob (what the certificate vouches for). */
    keyBlob: Buffer;
    serial: bigint;
    kind: CertKind;
    keyId: string;
    principals: string[];
    /** Seconds since the epoch; validBefore 2^64-1 means "forever" (refused by pka-fleet). */
    validAfter: bigint;
    validBefore: bigint;
    critical: CriticalOptions;
    extensions: string[];
    /** The CA's public key blob. */
    caBlob: Buffer;
    /** The signature's algorithm: ssh-ed25519, ecdsa-sha2-nistp256, rsa-sha2-512, ... */
    signatureAlgorithm: string;
    /** Whether the CA's signature verifies. */
    signatureValid: boolean;
    /** The whole certificate blob. */
    blob: Buffer;
}

/** Extensions a user certificate may carry (PROTOCOL.certkeys, "Extensions"). */
export const USER_EXTENSIONS: readonly string[] = Object.freeze([
    "no-touch-required",
    "permit-X11-forwarding",
    "permit-agent-forwarding",
    "permit-port-forwarding",
    "permit-pty",
    "permit-user-rc",
]);

/** What `pka cert issue` gives a user certificate unless told otherwise: a terminal, nothing forwarded. */
export const DEFAULT_USER_EXTENSIONS: readonly string[] = Object.freeze(["permit-pty"]);

/** The longest a user certificate may be valid unless the policy pack is configured otherwise: 24 hours. */
export const DEFAULT_MAX_USER_VALIDITY_SECONDS = 24 * 3600;
/** The longest a host certificate may be valid unless configured otherwise: 400 days (hosts re-sign on every push). */
export const DEFAULT_MAX_HOST_VALIDITY_SECONDS = 400 * 24 * 3600;
/** How far back a certificate's validity starts, for clocks a little behind the issuer's. */
export const BACKDATE_SECONDS = 300;
/** More principals than this is a mistake, not a team (sshd's own limit is 256: SSHKEY_CERT_MAX_PRINCIPALS). */
export const MAX_PRINCIPALS = 256;
export const MAX_KEY_ID_LENGTH = 256;
