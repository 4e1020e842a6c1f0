/**
 * PkaFleet's certificate mode: its `certificates` arg and each user's `principals`, checked before
 * any resource exists (the values known then; CA keys and KRLs that are Outputs, such as a
 * generated CA's publicKey, at deployment), in the names of PkaFleet's args.
 */
import { normalizeCertificates, normalizePrincipals, MAX_KRL_BYTES } from "./accessCertificates";
import { AccessCertificates, AccessSpecError } from "./accessSpecTypes";
import { FleetPlanError } from "./fleetPlanTypes";

/** A user CA key that stands in for one known only at deployment (the probe spec of the plan). */
const PROBE_CA = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqES5zNG9al28zqQu3ZQwKMG8xswUKYWhqvGcMZATU7";

/** The fleet's certificate mode as planned. */
export interface PlannedCertificates {
    /** userCaKeys as given: a string is known now, anything else (an Output) at deployment. */
    caInputs: unknown[];
    /** The spec bytes the values known only at deployment may need. */
    pendingBytes: number;
    /** The `certificates` of the probe spec (known values, a probe key for each pending one). */
    probe: AccessCertificates;
}

function fail(message: string): never {
    throw new FleetPlanError(message);
}

/** A refusal of the spec's certificates or principals in PkaFleet's names. */
export function certificatesProblem(e: AccessSpecError): string {
    const at = e.message.indexOf(": ");
    return `\`${e.path}\`${e.message.slice(at + 1)}.`;
}

/** `args.certificates`, checked as far as its values are known. */
export function planCertificates(input: unknown): PlannedCertificates | undefined {
    if (input === undefined) return undefined;
    if (typeof input !== "object" || input === null || Array.isArray(input))
        fail("`certificates` must be an object { userCaKeys, revokedKeys }.");
    const c = input as { userCaKeys?: unknown; revokedKeys?: unknown };
    if (!Array.isArray(c.userCaKeys)) fail("`certificates.userCaKeys` must list the user CAs' public keys.");
    const caInputs = [...c.userCaKeys];
    let pendingBytes = 0;
    const probeKeys = caInputs.map((k) => {
        if (typeof k === "string") return k;
        pendingBytes += 800; // an RSA-4096 CA line
        return PROBE_CA;
    });
    const known = typeof c.revokedKeys === "string" ? c.revokedKeys : undefined;
    if (c.revokedKeys !== undefined && known === undefined) pendingBytes += Math.ceil((MAX_KRL_BYTES * 4) / 3);
    try {
        const probe = normalizeCertificates({ userCaKeys: probeKeys, ...(known ? { revokedKeys: known } : {}) });
        return { caInputs, pendingBytes, probe: probe! };
    } catch (e) {
        if (e instanceof AccessSpecError) fail(certificatesProblem(e));
        throw e;
    }
}

/** `users[i].principals`, checked (they need `certificates`). */
export function planPrincipals(input: unknown, certificates: boolean, path: string): string[] | undefined {
    try {
        return normalizePrincipals(input, certificates, path);
    } catch (e) {
        if (e instanceof AccessSpecError) fail(certificatesProblem(e));
        throw e;
    }
}
