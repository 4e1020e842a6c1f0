/**
 * The setup document and its parameter format, one module: the document as deployed (render), the
 * SendCommand parameters and their budget (parameters), the manifest the parameters carry and its
 * grammar (manifest), and the output SSM reports of a run (output). The Lambda imports the
 * modules it needs one by one (names, parameters, manifest, output), never this index, which
 * would bring the script's text into its bundle.
 */
export * from "./manifest";
export * from "./output";
export * from "./parameters";
export * from "./render";
