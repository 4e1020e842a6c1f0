import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { documentNameProblem, planSetupDocument } from "../core/setupDocumentPlan";
import { tryPlan } from "./errors";

export interface SetupDocumentArgs {
    /**
     * Name of the SSM document (3-128 letters, digits, `_`, `-`, `.`; not starting with `aws`, `amazon`
     * or `amzn`). Default: Pulumi's auto-name from the resource name (name plus a random suffix),
     * so two stacks in one account never collide.
     */
    readonly documentName?: pulumi.Input<string>;
    /** Tags on the document. Default: none. */
    readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * The SSM Command document that sets up SSH access on a Linux host: users without a usable
 * password, `/etc/sudoers.d/90-pka-<user>` checked by visudo, and a managed authorized_keys block;
 * revocation of what the spec dropped; the host keys printed for pinning. Its content is exactly
 * `pka document`; its parameters come from `documentParameters(spec)` (`pka document-params`).
 */
export class SetupDocument extends pulumi.ComponentResource {
    /** The document's name (what SendCommand's `DocumentName` and IAM statements name). */
    declare public readonly documentName: pulumi.Output<string>;
    /** The document's ARN, for IAM statements scoped to this document only. */
    declare public readonly documentArn: pulumi.Output<string>;
    /** The document's latest version number (a new version on every content change). */
    declare public readonly documentVersion: pulumi.Output<string>;
    /** Hex sha256 of the content: changes exactly when hosts would run a different script. */
    declare public readonly contentSha256: pulumi.Output<string>;

    constructor(name: string, args: SetupDocumentArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        const planned = tryPlan(() => planSetupDocument(args));
        super("pka-fleet:index:SetupDocument", name, {}, opts);
        if (planned.problem !== undefined) throw new pulumi.ResourceError(planned.problem, this);
        const { content, contentSha256 } = planned.plan;
        // A known name was checked by the plan; a computed one is checked when it is known.
        const documentName =
            args.documentName === undefined || typeof args.documentName === "string"
                ? args.documentName
                : pulumi.output(args.documentName).apply((n) => {
                      const problem = documentNameProblem(n);
                      if (problem) throw new pulumi.ResourceError(problem, this);
                      return n;
                  });

        const doc = new aws.ssm.Document(
            `${name}-document`,
            {
                name: documentName,
                documentType: "Command",
                documentFormat: "JSON",
                content,
                tags: args.tags,
            },
            { parent: this },
        );

        this.documentName = doc.name;
        this.documentArn = doc.arn;
        this.documentVersion = doc.latestVersion;
        this.contentSha256 = pulumi.output(contentSha256);
        this.registerOutputs({
            documentName: this.documentName,
            documentArn: this.documentArn,
            documentVersion: this.documentVersion,
            contentSha256: this.contentSha256,
        });
    }
}
