/**
 * The parameter format: the manifest, the spec in the line format the on-host script reads (it
 * has no JSON parser), and its line grammar as POSIX EREs.
 */
import { accessSpecHash } from "../accessSpecJson";
import { AccessSpec } from "../accessSpecTypes";
import { INSTALLABLE_KEY_TYPES } from "../keys/types";
import { authorizedKeysLines } from "../managedBlock";
import { GROUP_ERE, SUDO_COMMAND_ERE } from "../userAccess";
import { RESERVED_ACCOUNT_NAMES } from "../userNames";

/** Version of the line format the script reads (see renderManifest). */
export const MANIFEST_VERSION = 1;

// The manifest's line grammar as POSIX EREs that mean the same in JavaScript. The script checks
// every line against exactly these (they are interpolated into its text), and documentParameters
// checks them here too, so TypeScript and sh cannot drift apart.
export const NAME_ERE = "[a-z_][a-z0-9_.-]{0,31}";
export const OPTION_ERE =
    "(restrict|(no-)?(agent-forwarding|port-forwarding|pty|user-rc|X11-forwarding)|no-touch-required|verify-required|" +
    'from="[A-Za-z0-9.:/*?!,-]{1,512}"|command="[A-Za-z0-9 _./:=@%+,-]{1,256}"|' +
    'expiry-time="[0-9]{8}([0-9]{4}([0-9]{2})?)?Z?"|' +
    'permit(open|listen)="((\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.*?-]+):)?([0-9]{1,5}|\\*)")';
// A type's "." (sk-...@openssh.com) is written [.]: the same single character in both engines.
export const KEY_ERE = `(${INSTALLABLE_KEY_TYPES.map((t) => t.replace(/\./g, "[.]")).join("|")}) [A-Za-z0-9+/]+={0,2}( [A-Za-z0-9._@+:=/-]{1,100})?`;
export const HEADER_ERE = `pka-access ${MANIFEST_VERSION} [0-9a-f]{64}`;
export const USER_LINE_ERE = `u ${NAME_ERE} (nopasswd|password|none)( adopt)?`;
export const SUDO_LINE_ERE = `s ${NAME_ERE} ${SUDO_COMMAND_ERE}`;
export const GROUP_LINE_ERE = `g ${NAME_ERE} ${GROUP_ERE}`;
export const KEY_LINE_ERE = `k ${NAME_ERE} (${OPTION_ERE}(,${OPTION_ERE})* )?${KEY_ERE}`;
/** Certificate mode: a user CA the hosts trust (TrustedUserCAKeys). */
export const CA_LINE_ERE = "c (ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}";
/** Certificate mode: a principal a user accepts (its AuthorizedPrincipalsFile line). */
export const PRINCIPAL_LINE_ERE = `p ${NAME_ERE} ${NAME_ERE}`;
/** Certificate mode: the KRL (RevokedKeys), base64, at most one line. */
export const KRL_LINE_ERE = "r [A-Za-z0-9+/]+={0,2}";
/**
 * Reserved names as one ERE alternation (whole-name match), for the script. Not the group names: the
 * script also drops reserved names from its record of the accounts it created, and an account it
 * made where no such group existed (a user "wheel" on Debian, "sudo" on Amazon Linux) must still be
 * revoked when the spec drops it; where the group exists the script refuses that one user itself.
 */
export const RESERVED_ERE = `(${RESERVED_ACCOUNT_NAMES.join("|")}|systemd-.*)`;

const MANIFEST_LINE = new RegExp(
    `^(?:${HEADER_ERE}|${USER_LINE_ERE}|${SUDO_LINE_ERE}|${GROUP_LINE_ERE}|${KEY_LINE_ERE}|${CA_LINE_ERE}|${PRINCIPAL_LINE_ERE}|${KRL_LINE_ERE})$`,
);

/** Checks every line of a manifest against the grammar the script enforces; returns the first bad line number or 0. */
export function firstBadManifestLine(manifest: string): number {
    const lines = manifest.endsWith("\n") ? manifest.slice(0, -1).split("\n") : manifest.split("\n");
    const bad = lines.findIndex((l) => !MANIFEST_LINE.test(l));
    return bad < 0 ? 0 : bad + 1;
}

/**
 * The spec in the line format the on-host script reads (it has no JSON parser):
 *   pka-access 1 <accessSpecHash>
 *   u <name> <nopasswd|password|none>[ adopt]
 *   s <name> <sudo command>          (sudoCommands, in order; none: full sudo)
 *   g <name> <group>                 (groups)
 *   k <name> <authorized_keys line>
 *   c <type> <base64>                (certificate mode: a user CA, after the header)
 *   r <base64 KRL>                   (certificate mode: the revocation list, at most one)
 *   p <name> <principal>             (certificate mode: each user's principals, default its name)
 * Every line matches a fixed pattern that the script checks again before it changes anything.
 */
export function renderManifest(spec: AccessSpec): string {
    const lines = [`pka-access ${MANIFEST_VERSION} ${accessSpecHash(spec)}`];
    const certs = spec.certificates;
    if (certs) {
        for (const ca of certs.userCaKeys) lines.push(`c ${ca}`);
        if (certs.revokedKeys) lines.push(`r ${certs.revokedKeys}`);
    }
    for (const u of spec.users) {
        lines.push(`u ${u.name} ${u.sudo}${u.adopt ? " adopt" : ""}`);
        for (const c of u.sudoCommands ?? []) lines.push(`s ${u.name} ${c}`);
        for (const g of u.groups ?? []) lines.push(`g ${u.name} ${g}`);
        for (const l of authorizedKeysLines(u)) lines.push(`k ${u.name} ${l}`);
        if (certs) for (const pr of u.principals ?? [u.name]) lines.push(`p ${u.name} ${pr}`);
    }
    return lines.join("\n") + "\n";
}
