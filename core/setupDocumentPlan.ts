/**
 * SetupDocument's plan: the SSM Command document's content (exactly `pka document`) within SSM's
 * size limit, and its name as SSM takes it.
 */
import { sha256Hex } from "./accessStore";
import { MAX_COMMAND_BYTES, renderDocumentJson } from "./document";

/** SSM document names: 3-128 of letters, digits, `_ - .`; the prefixes aws, amazon and amzn are AWS's. */
const DOCUMENT_NAME = /^[A-Za-z0-9_.-]{3,128}$/;
const RESERVED_PREFIX = /^(aws|amazon|amzn)/i;

/** A SetupDocument argument SSM would refuse, or a document over SSM's limit. */
export class SetupDocumentArgsError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "SetupDocumentArgsError";
    }
}

/** Why SSM would refuse `documentName` `n`, or undefined. */
export function documentNameProblem(n: string): string | undefined {
    if (DOCUMENT_NAME.test(n) && !RESERVED_PREFIX.test(n)) return undefined;
    return `\`documentName\` '${n}' must be 3-128 letters, digits, '_', '-' or '.', and must not start with aws, amazon or amzn`;
}

/** The document SetupDocument creates: its content and that content's hex sha256. */
export interface SetupDocumentPlan {
    content: string;
    contentSha256: string;
}

/**
 * The document's content, checked against SSM's size limit, and a `documentName` known now
 * (a string) checked; a name known only at deployment is checked with documentNameProblem once
 * it is known. Throws a SetupDocumentArgsError.
 */
export function planSetupDocument(args: { readonly documentName?: unknown }): SetupDocumentPlan {
    const content = renderDocumentJson();
    const bytes = Buffer.byteLength(content);
    if (bytes > MAX_COMMAND_BYTES) {
        throw new SetupDocumentArgsError(`the setup document is ${bytes} bytes, over SSM's ${MAX_COMMAND_BYTES}`);
    }
    if (typeof args.documentName === "string") {
        const problem = documentNameProblem(args.documentName);
        if (problem) throw new SetupDocumentArgsError(problem);
    }
    return { content, contentSha256: sha256Hex(content) };
}
