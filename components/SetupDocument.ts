import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { sha256Hex } from "../core/accessStore";
import { MAX_COMMAND_BYTES, renderDocumentJson } from "../core/document";

/** SSM document names: 3-128 of letters, digits, `_ - .`; the prefixes aws, amazon and amzn are AWS's. */
const DOCUMENT_NAME = /^[A-Za-z0-9_.-]{3,128}$/;
const RESERVED_PREFIX = /^(aws|amazon|amzn)/i;

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
        super("pka-fleet:index:SetupDocument", name, {}, opts);

        const content = renderDocumentJson();
        if (Buffer.byteLength(content) > MAX_COMMAND_BYTES) {
            throw new pulumi.ResourceError(`the setup document is ${Buffer.byteLength(content)} bytes, over SSM's ${MAX_COMMAND_BYTES}`, this);
        }
        // A known name is checked now, with the input named; a computed one when it is known.
        const check = (n: string): string => {
            if (!DOCUMENT_NAME.test(n) || RESERVED_PREFIX.test(n)) {
                throw new pulumi.ResourceError(
                    `\`documentName\` '${n}' must be 3-128 letters, digits, '_', '-' or '.', and must not start with aws, amazon or amzn`,
                    this,
                );
            }
            return n;
        };
        const documentName =
            args.documentName === undefined ? undefined : typeof args.documentName === "string" ? check(args.documentName) : pulumi.output(args.documentName).apply(check);

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
        this.contentSha256 = pulumi.output(sha256Hex(content));
        this.registerOutputs({
            documentName: this.documentName,
            documentArn: this.documentArn,
            documentVersion: this.documentVersion,
            contentSha256: this.contentSha256,
        });
    }
}
