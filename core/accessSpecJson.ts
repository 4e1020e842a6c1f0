/**
 * The access spec serialised: its canonical JSON (fixed field order, no whitespace) and the hash
 * of that JSON, which names a spec wherever it is stored or sent.
 */
import { sha256Hex } from "./accessStore";
import { AccessSpec } from "./accessSpecTypes";

/** The canonical JSON of a (validated) spec: fixed field order, no whitespace. */
export function canonicalAccessSpecJson(spec: AccessSpec): string {
    // `adopt` appears only when true and sudoCommands and groups only when set, so a spec without
    // them hashes as it always did; so do principals and certificates.
    return JSON.stringify({
        users: spec.users.map((u) => ({
            name: u.name,
            sudo: u.sudo,
            ...(u.sudoCommands?.length ? { sudoCommands: [...u.sudoCommands] } : {}),
            ...(u.groups?.length ? { groups: [...u.groups] } : {}),
            keys: [...u.keys],
            ...(u.keyOptions === undefined ? {} : { keyOptions: u.keyOptions }),
            ...(u.adopt === true ? { adopt: true } : {}),
            ...(u.principals?.length ? { principals: [...u.principals] } : {}),
        })),
        ...(spec.certificates
            ? {
                  certificates: {
                      userCaKeys: [...spec.certificates.userCaKeys],
                      ...(spec.certificates.revokedKeys ? { revokedKeys: spec.certificates.revokedKeys } : {}),
                  },
              }
            : {}),
    });
}

/** Hex sha256 of the canonical JSON. */
export function accessSpecHash(spec: AccessSpec): string {
    return sha256Hex(canonicalAccessSpecJson(spec));
}
