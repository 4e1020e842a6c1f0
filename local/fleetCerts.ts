/**
 * The local fleet's certificate mode: a user CA of the fleet's own (what PkaFleet's `certificates`
 * names), and certificates it issues for an operator's key that no authorized_keys holds, as
 * `pka cert issue` does where the CA key lives.
 */
import * as fs from "fs";
import * as path from "path";
import { issueCertificate } from "../core/certs";
import { generateKey } from "../core/keygen";

export interface LocalUserCa {
    /** The CA's public key line (certificates.userCaKeys). */
    publicKey: string;
    /** An operator's private key file (mode 600): in no authorized_keys, it logs in only with a certificate. */
    operatorKeyFile: string;
    /** Issues a certificate for the operator's key for `principal`, valid `validitySeconds`; returns its file. */
    issue(principal: string, validitySeconds: number): string;
}

/** A user CA in `workDir` (its private key `user_ca`, mode 600) and an operator's key beside it. */
export function localUserCa(workDir: string, fleetName: string): LocalUserCa {
    const ca = generateKey({ type: "ed25519", comment: `user-ca@pka-${fleetName}` });
    fs.writeFileSync(path.join(workDir, "user_ca"), ca.privateKey, { mode: 0o600 });
    const operator = generateKey({ type: "ed25519", comment: `operator@pka-${fleetName}` });
    const operatorKeyFile = path.join(workDir, "operator_ed25519");
    fs.writeFileSync(operatorKeyFile, operator.privateKey, { mode: 0o600 });
    return {
        publicKey: ca.publicKey,
        operatorKeyFile,
        issue(principal, validitySeconds) {
            const cert = issueCertificate({
                caPrivateKey: ca.privateKey,
                publicKey: operator.publicKey,
                principals: [principal],
                validitySeconds,
            });
            // Not KEY-cert.pub, which ssh would load beside the key by itself: the key alone must be tried alone.
            const file = path.join(workDir, `operator-${principal}-cert.pub`);
            fs.writeFileSync(file, cert.line + "\n", { mode: 0o644 });
            return file;
        },
    };
}
