/**
 * Issuing a certificate with the CA's private key in this process: `pka cert issue`, the
 * components and the local fleet. The checks and the encoding are prepareCertificate's
 * (core/certs/prepare.ts), which a signer elsewhere (AWS KMS) uses alone.
 */
import { parseOpensshPrivate } from "../keys/privateKey";
import { asCertificateError, IssueRequest, IssuedCertificate, prepareCertificate } from "./prepare";
import { caSigner } from "./sign";
import { CertificateError } from "./types";

export type { IssueRequest, IssuedCertificate, PreparedCertificate } from "./prepare";
export { prepareCertificate } from "./prepare";

/** Issues a certificate; every refusal is a CertificateError naming the input. */
export function issueCertificate(req: IssueRequest): IssuedCertificate {
    let ca: ReturnType<typeof parseOpensshPrivate>;
    try {
        ca = parseOpensshPrivate(req.caPrivateKey, req.caPassphrase, "the CA key");
    } catch (e) {
        throw asCertificateError(e);
    }
    if (!ca.plain) {
        throw new CertificateError(
            "the CA key",
            ca.info.encrypted ? "is passphrase-protected; give its passphrase" : "holds no usable private key",
        );
    }
    const signer = caSigner(ca.plain, "the CA key");
    const prepared = prepareCertificate({ ...req, caPublicKey: ca.info.publicKey });
    return prepared.finish(signer.sign(prepared.body));
}
