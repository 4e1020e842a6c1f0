// The pka-fleet policy pack. Pulumi runs this folder (`pulumi preview --policy-pack ./policy`):
// it only builds the PolicyPack; every rule lives in its own module.
import { PolicyPack, Policies } from "@pulumi/policy";
import { installConfigValidation } from "./configure";
import { ssmDocumentInjection } from "./documentInjection";
import { sshCertificateValidity } from "./certificates";
import { provisionerLeastPrivilege } from "./iam";
import { sshKeyAlgorithm, sshKeyMaxAge, sshKeyPassphrase } from "./keys";
import { lambdaRuntimeSupported } from "./lambda";
import { installSecretTracking, sshPrivateKeySecret } from "./secrets";
import { noSudoersAppend } from "./sudoers";

const policies: Policies = [
    sshKeyAlgorithm,
    sshKeyPassphrase,
    sshPrivateKeySecret,
    sshKeyMaxAge,
    noSudoersAppend,
    ssmDocumentInjection,
    provisionerLeastPrivilege,
    lambdaRuntimeSupported,
    sshCertificateValidity,
];

// ssh-private-key-secret must tell secret values from plain ones, which @pulumi/policy hides.
installSecretTracking();
// A config naming a rule or field the pack does not have fails Configure instead of being ignored.
installConfigValidation(policies);

new PolicyPack("pka-fleet", {
    description:
        "SSH key rules, short-lived certificates, injection-proof SSM documents and a least-privilege provisioner, for any stack.",
    policies,
});
