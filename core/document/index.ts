/**
 * The setup document and its parameter format, one module: the document as deployed (render), the
 * SendCommand parameters and their budget (parameters), the manifest the parameters carry and its
 * grammar (manifest), and the output SSM reports of a run (output).
 */
export * from "./manifest";
export * from "./output";
export * from "./parameters";
export * from "./render";
