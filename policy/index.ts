// The pka-fleet policy pack. Pulumi runs this folder (`pulumi preview --policy-pack ./policy`):
// it only builds the PolicyPack; every rule lives in its own module.
import { PolicyPack } from "@pulumi/policy";
import { noSudoersAppend, ssmDocumentInjection } from "./documents";
import { provisionerLeastPrivilege } from "./iam";
import { sshKeyAlgorithm, sshKeyMaxAge, sshKeyPassphrase } from "./keys";
import { lambdaRuntimeSupported } from "./lambda";
import { installSecretTracking, sshPrivateKeySecret } from "./secrets";

// ssh-private-key-secret must tell secret values from plain ones, which @pulumi/policy hides.
installSecretTracking();

new PolicyPack("pka-fleet", {
    description: "SSH key rules, injection-proof SSM documents and a least-privilege provisioner, for any stack.",
    policies: [
        sshKeyAlgorithm,
        sshKeyPassphrase,
        sshPrivateKeySecret,
        sshKeyMaxAge,
        noSudoersAppend,
        ssmDocumentInjection,
        provisionerLeastPrivilege,
        lambdaRuntimeSupported,
    ],
});
