/** Values and programs embedded in the script's text, in single quotes. */

/** Only what cannot break out of single quotes may be interpolated. */
export function sq(value: string): string {
    if (value.includes("'") || /[\n\r]/.test(value))
        throw new Error(`cannot embed ${JSON.stringify(value)} in the script`);
    return `'${value}'`;
}
/** A multi-line program as one single-quoted word: newlines cannot end single quotes, a quote can. */
export function sqProgram(value: string): string {
    if (value.includes("'") || value.includes("\r") || value.includes("{{"))
        throw new Error("cannot embed a program with a quote, CR or {{ in the script");
    return `'${value}'`;
}
