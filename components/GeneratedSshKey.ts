import * as pulumi from "@pulumi/pulumi";
import { GeneratedKeyInputs, keyPairProvider, SECRET_OUTPUTS } from "./keyPairProvider";

type InputsOf<T> = { [K in keyof T]: pulumi.Input<T[K]> };

/**
 * The generated key as a dynamic resource (`pulumi-nodejs:dynamic/pka-fleet:GeneratedSshKey`),
 * a child of SshKeyPair, which validates its inputs and wraps its secrets.
 */
export class GeneratedSshKey extends pulumi.dynamic.Resource {
    public readonly publicKey!: pulumi.Output<string>;
    public readonly fingerprint!: pulumi.Output<string>;
    public readonly keyType!: pulumi.Output<string>;
    public readonly bits!: pulumi.Output<number>;
    public readonly privateKey!: pulumi.Output<string>;
    public readonly privateKeyPpk!: pulumi.Output<string | undefined>;
    public readonly createdAt!: pulumi.Output<string>;

    constructor(name: string, args: InputsOf<GeneratedKeyInputs>, opts?: pulumi.CustomResourceOptions) {
        const outputs = {
            publicKey: undefined,
            fingerprint: undefined,
            privateKey: undefined,
            privateKeyPpk: undefined,
            createdAt: undefined,
        };
        super(
            keyPairProvider,
            name,
            { ...args, ...outputs },
            {
                ...opts,
                additionalSecretOutputs: [...SECRET_OUTPUTS, ...(opts?.additionalSecretOutputs ?? [])],
            },
            "pka-fleet",
            "GeneratedSshKey",
        );
    }
}
