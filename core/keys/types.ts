/**
 * What every module of the key code shares: the error classes, KeyInfo and KeyRules, the key
 * types and curves by name, and the size limits. No parsing here.
 */

// ---------------------------------------------------------------------------------------------
// Errors

/** The input is not a (valid, readable) key. The CLI exits 2 on it. `input` is the label. */
export class KeyError extends Error {
    readonly input: string;
    constructor(input: string, message: string) {
        super(message.startsWith(`${input}:`) ? message : `${input}: ${message}`);
        this.name = "KeyError";
        this.input = input;
    }
}

/** An encrypted private key whose public part cannot be read without its passphrase (PEM/PKCS8). */
export class KeyEncryptedError extends KeyError {
    constructor(input: string, message: string) {
        super(input, message);
        this.name = "KeyEncryptedError";
    }
}

// ---------------------------------------------------------------------------------------------
// Types

export interface KeyInfo {
    /** "ed25519" | "ecdsa" | "rsa" | "dsa" | "rsa1" | "sk-ed25519" | "sk-ecdsa" */
    type: "ed25519" | "ecdsa" | "rsa" | "dsa" | "rsa1" | string;
    /** RSA/DSA modulus bits; 256 for ed25519; the curve size for ecdsa. */
    bits: number;
    /** ecdsa and sk-ecdsa only: "nistp256" | "nistp384" | "nistp521" | "nistp224" */
    curve?: string;
    /** Security keys (sk-) only: the FIDO application the key was made for, "ssh:" or "ssh:...". */
    application?: string;
    /** "SHA256:..." exactly as `ssh-keygen -l` prints it. */
    fingerprint: string;
    /** The comment ("" when the format has none or it is encrypted). */
    comment: string;
    /** "type base64 comment" (or "type base64" without a comment): one line, no options. */
    publicKey: string;
    isPrivate: boolean;
    encrypted: boolean;
    format: "ssh" | "openssh" | "pem" | "pkcs8" | "ppk";
}

export interface KeyRules {
    /** Key types allowed. Default ["ed25519", "ecdsa", "rsa", "sk-ed25519", "sk-ecdsa"]. */
    allowedTypes: string[];
    /** Smallest RSA modulus. Default 3072 (NIST SP 800-57 beyond 2030, BSI TR-02102 >= 3000); never below 2048. */
    minRsaBits: number;
    /** ecdsa curves allowed. Default ["nistp256", "nistp384", "nistp521"]. */
    allowedCurves: string[];
    /** Smallest RSA size for a key imported into EC2 (which accepts 1024/2048/4096): 2048 (2048 or 4096 pass) or 4096 (only 4096). Default 4096. */
    ec2ImportRsaBits: number;
    /** A person's private key must be passphrase-protected. Default true. */
    requirePassphrase: boolean;
}

// ---------------------------------------------------------------------------------------------
// Key types and curves

/**
 * Every key type the rules can allow (rule names), all allowed by default. A config or `keyRules`
 * argument may narrow this list, never widen it: dsa, rsa1 and unknown types are refused whatever
 * the rules say. sk-ed25519 and sk-ecdsa are FIDO2 security keys (OpenSSH 8.2 and later): a
 * person's only, never a service account's (SECURITY_KEY_TYPES).
 */
export const KNOWN_KEY_TYPES: readonly string[] = Object.freeze(["ed25519", "ecdsa", "rsa", "sk-ed25519", "sk-ecdsa"]);
/**
 * The security-key types (rule names): the private key never leaves an authenticator, and each
 * login needs a person to touch it, so automation (a service account) cannot use one.
 */
export const SECURITY_KEY_TYPES: readonly string[] = Object.freeze(["sk-ed25519", "sk-ecdsa"]);
/** Every ecdsa curve the rules can allow (OpenSSH names); never nistp224. */
export const KNOWN_CURVES: readonly string[] = Object.freeze(["nistp256", "nistp384", "nistp521"]);
/** The software key types by their SSH wire names: what a host key or a generated key can be. */
export const SOFTWARE_KEY_TYPES: readonly string[] = Object.freeze([
    "ssh-ed25519",
    ...KNOWN_CURVES.map((c) => `ecdsa-sha2-${c}`),
    "ssh-rsa",
]);
/** The security-key types by their SSH wire names (PROTOCOL.u2f in OpenSSH's documentation). */
export const SECURITY_KEY_WIRE_TYPES: readonly string[] = Object.freeze([
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
]);
/**
 * The public key types pka-fleet installs in authorized_keys, by their SSH wire names: the one
 * list that the access spec and the on-host script's grammar derive theirs from (host keys take
 * SOFTWARE_KEY_TYPES: a host key cannot be a security key).
 */
export const INSTALLABLE_KEY_TYPES: readonly string[] = Object.freeze([
    ...SOFTWARE_KEY_TYPES,
    ...SECURITY_KEY_WIRE_TYPES,
]);

/** The longest security-key application ("ssh:..." FIDO relying party id) we read. */
export const MAX_SK_APPLICATION = 255;

/** Public key blob types whose parts we know. Anything else is refused with its name. */
export const SSH_KEY_TYPES = [
    ...INSTALLABLE_KEY_TYPES,
    // Read only so that the rules can refuse them with a reason.
    "ecdsa-sha2-nistp224",
    "ssh-dss",
];

/** @internal The ecdsa curves by OpenSSH name (core/keygen.ts generates with nodeName). */
export const CURVES: Record<string, { bits: number; coord: number; nodeName: string; jwk?: string; oid: string }> = {
    nistp224: { bits: 224, coord: 28, nodeName: "secp224r1", oid: "1.3.132.0.33" },
    nistp256: { bits: 256, coord: 32, nodeName: "prime256v1", jwk: "P-256", oid: "1.2.840.10045.3.1.7" },
    nistp384: { bits: 384, coord: 48, nodeName: "secp384r1", jwk: "P-384", oid: "1.3.132.0.34" },
    nistp521: { bits: 521, coord: 66, nodeName: "secp521r1", jwk: "P-521", oid: "1.3.132.0.35" },
};

/** @internal The ecdsa curve of each size. */
export const EC_BITS: Record<number, string> = { 224: "nistp224", 256: "nistp256", 384: "nistp384", 521: "nistp521" };

// ---------------------------------------------------------------------------------------------
// Sizes and limits

/** No rule may allow RSA below this: RSA-2048 is the weakest NIST SP 800-131A accepts through 2030. */
export const RSA_FLOOR_BITS = 2048;

/** Key sizes EC2 ImportKeyPair accepts for RSA (EC2 User Guide); ed25519 is the only other type. */
export const EC2_IMPORT_RSA_BITS: readonly number[] = [1024, 2048, 4096];
/** The EC2 import sizes at or above RSA_FLOOR_BITS: what `ec2ImportRsaBits` may be. */
export const EC2_IMPORT_RSA_BITS_ALLOWED: readonly number[] = EC2_IMPORT_RSA_BITS.filter((b) => b >= RSA_FLOOR_BITS);

/** Largest key text we read at all: a 16384-bit RSA private key in any format is below 16 KB. */
export const MAX_KEY_TEXT = 32 * 1024;
/** Largest public key line: an RSA-16384 line is about 2.8 KB. */
export const MAX_PUBLIC_LINE = 8 * 1024;
/** Largest RSA/DSA modulus we parse; bigger ones only cost time and OpenSSH refuses them. */
export const MAX_RSA_BITS = 16384;

/** @internal What a public key line looks like, in the refusals. */
export const ACCEPTED_LINE = "one OpenSSH public key line such as 'ssh-ed25519 AAAAC3Nza... comment'";
