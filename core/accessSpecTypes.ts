/**
 * The access spec's types: which users exist on the fleet's hosts, their sudo mode, their SSH keys
 * and the options on those keys; and the error a spec that must not be deployed raises.
 */
import type { KeyRules } from "./keys/types";

export type SudoMode = "nopasswd" | "password" | "none";

export interface AccessUser {
    /** Login name, `^[a-z_][a-z0-9_.-]{0,31}$` (e.g. `jane.doe`), not a system or cloud-init default account nor a stock group name. */
    name: string;
    /**
     * `nopasswd`: sudo without a password, through /etc/sudoers.d/90-pka-<name> (`.` written `+`);
     * `password`: sudo that asks for the user's password (accounts pka-fleet creates have none: set one
     * by other means); `none`: no sudo. Full sudo, or only `sudoCommands` when given.
     */
    sudo: SudoMode;
    /** With sudo `nopasswd` or `password`: only these commands (absolute paths, optional arguments), as root. */
    sudoCommands?: string[];
    /** Supplementary groups (sorted) the user is added to where they exist; a missing one is reported, never created. */
    groups?: string[];
    /** OpenSSH public key lines (`type base64 [comment]`), no options. */
    keys: string[];
    /** authorized_keys options for every key of this user, from the allow-list. */
    keyOptions?: string;
    /**
     * Take over an account that already exists on a host and that pka-fleet did not create. Without
     * it such an account is left alone and reported: a name clash must never hand a stranger's
     * account (its files, its groups, its processes) to whoever holds the spec's keys.
     */
    adopt?: boolean;
    /**
     * Certificate mode (the spec's `certificates` set): the principals a user certificate must name
     * to log in as this user (its AuthorizedPrincipalsFile). Default: the user's own name.
     */
    principals?: string[];
}

/** Certificate mode: the hosts trust user certificates of these CAs (TrustedUserCAKeys). */
export interface AccessCertificates {
    /** The user CAs' public keys, `type base64` (ed25519, ecdsa or RSA of 3072 bits or more). */
    userCaKeys: string[];
    /** A key revocation list in OpenSSH's format (PROTOCOL.krl), base64: sshd's RevokedKeys. */
    revokedKeys?: string;
}

export interface AccessSpec {
    users: AccessUser[];
    certificates?: AccessCertificates;
}

export interface ValidateAccessSpecOptions {
    /** Key rules (defaults: the policy pack's). */
    keyRules?: Partial<KeyRules>;
    /** Organization-level keys given to every user that lists no key of its own. */
    fallbackKeys?: string[];
    /**
     * The time of the deploy: an `expiry-time` already past then is refused (with `Z` compared in UTC;
     * without, sshd reads it in the host's local time zone, so only one past in every zone, more than
     * 14 hours ago). Default: no such check, for whoever re-validates a deployed spec later (the Lambda
     * must keep serving a spec whose keys have since expired; sshd then just refuses those keys).
     */
    now?: Date;
}

/** A spec that must not be deployed. `path` names the offending value, e.g. `users[2].keys[0]`. */
export class AccessSpecError extends Error {
    readonly path: string;
    constructor(path: string, message: string) {
        super(path && !message.startsWith(`${path}:`) ? `${path}: ${message}` : message);
        this.name = "AccessSpecError";
        this.path = path;
    }
}
