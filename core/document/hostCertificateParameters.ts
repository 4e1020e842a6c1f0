/**
 * The host-certificate document's parameter, apart from the document itself: the Lambda imports
 * this module, so the document's script stays out of its bundle.
 */

/** The document's one parameter: base64 of the certificate lines, newline-separated. */
export const HOST_CERTS_PARAMETER = "HostCertificates";
export const HOST_CERTS_STEP_NAME = "installHostCertificates";

/** SendCommand Parameters for `certificates` (lines). */
export function hostCertificateParameters(certificates: readonly string[]): Record<string, string[]> {
    return { [HOST_CERTS_PARAMETER]: [Buffer.from(certificates.join("\n") + "\n").toString("base64")] };
}
