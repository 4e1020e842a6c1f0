/**
 * The byte length of the deployed document (renderDocumentJson), which SSM counts against the 64 KB
 * of a command. The Lambda bundle has it as a constant (scripts/bundle-lambda.js defines
 * __PKA_DOCUMENT_BYTES__ from the built document, and test/bundle-lambda.test.ts checks it), so
 * the script's 40 KB of text stays out of the Lambda; everywhere else it is computed.
 */
declare const __PKA_DOCUMENT_BYTES__: number | undefined;

let bytes: number | undefined;

/** Bytes of the document's JSON text, as deployed. */
export function documentJsonBytes(): number {
    if (bytes === undefined) {
        bytes =
            typeof __PKA_DOCUMENT_BYTES__ === "number"
                ? __PKA_DOCUMENT_BYTES__
                : Buffer.byteLength((require("./render") as typeof import("./render")).renderDocumentJson());
    }
    return bytes;
}
