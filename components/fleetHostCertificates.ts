/**
 * PkaFleet's host certificates: the host-certificate document (with the fleet's host CA in it),
 * what the Provisioner needs to sign and send them, and the central server's `@cert-authority` line.
 */
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { withoutComment } from "../core/certAuthorityKms";
import { certAuthorityLine, checkHostPatterns } from "../core/certAuthorityPlan";
import { parseDuration } from "../core/certs/options";
import { renderHostCertificateDocumentJson } from "../core/document/hostCertificates";
import { HOST_CERT_VALIDITY } from "../core/lambdaConfig";
import type { ProvisionerHostCertificates } from "./Provisioner";

/** Host certificates for the fleet: the provisioner signs each host's key with a KMS host CA and installs the certificate. */
export interface FleetHostCertificates {
    /** The host CA's KMS key ARN: `SshCertificateAuthority` (`kind: "host"`, `kms`) `kmsKeyArn`. Required. */
    readonly kmsKeyArn: pulumi.Input<string>;
    /** The CA's public key line: that authority's `publicKey`. Required. */
    readonly caPublicKey: pulumi.Input<string>;
    /** How long each host certificate is valid, as ssh-keygen writes times (`7d`, `30d`; 1h to 400d). Renewed on a push past half of it. Default `30d`. */
    readonly validity?: string;
    /** The host patterns of the central server's `@cert-authority` line (known_hosts(5)). Default `["*"]`: a certificate is still valid only for the names it carries. */
    readonly hostPatterns?: string[];
}

/** The checked plain values: validity in seconds and the host patterns. Throws naming the input. */
export function planHostCertificates(hc: FleetHostCertificates): { validitySeconds: number; hostPatterns: string[] } {
    if (hc.kmsKeyArn === undefined || hc.caPublicKey === undefined)
        throw new Error(
            '`hostCertificates` needs `kmsKeyArn` and `caPublicKey` (an SshCertificateAuthority with `kind: "host"` and `kms`)',
        );
    let validitySeconds: number = HOST_CERT_VALIDITY.default;
    if (hc.validity !== undefined) {
        try {
            validitySeconds = parseDuration(hc.validity, "hostCertificates.validity");
        } catch (e) {
            throw new Error(
                `\`hostCertificates.validity\`: ${(e as Error).message.replace(/^hostCertificates\.validity: /, "")}`,
            );
        }
        if (validitySeconds < HOST_CERT_VALIDITY.min || validitySeconds > HOST_CERT_VALIDITY.max)
            throw new Error(
                `\`hostCertificates.validity\` must be from 1h to 400d (the policy pack's host bound); got ${hc.validity}`,
            );
    }
    let hostPatterns: string[];
    try {
        hostPatterns = checkHostPatterns(hc.hostPatterns ?? ["*"], "hostCertificates.hostPatterns");
    } catch (e) {
        throw new Error((e as Error).message);
    }
    return { validitySeconds, hostPatterns };
}

/** The document `<name>-host-certificate`, the Provisioner's settings, and the `@cert-authority` line. */
export function fleetHostCertificates(
    owner: pulumi.ComponentResource,
    name: string,
    hc: FleetHostCertificates,
    plan: { validitySeconds: number; hostPatterns: string[] },
    tags: Record<string, string>,
    dependsOn: pulumi.Input<pulumi.Resource[]>,
): { provisioner: ProvisionerHostCertificates; authorityLine: pulumi.Output<string> } {
    const caKey = pulumi.output(hc.caPublicKey).apply(withoutComment);
    const document = new aws.ssm.Document(
        `${name}-host-certificate`,
        {
            documentType: "Command",
            documentFormat: "JSON",
            content: caKey.apply(renderHostCertificateDocumentJson),
            tags,
        },
        { parent: owner, dependsOn },
    );
    return {
        provisioner: {
            documentName: document.name,
            documentArn: document.arn,
            kmsKeyArn: hc.kmsKeyArn,
            caPublicKey: caKey,
            validitySeconds: plan.validitySeconds,
        },
        authorityLine: caKey.apply((k) => certAuthorityLine(plan.hostPatterns, k)),
    };
}
