/**
 * The manifest and host key grammar as the script's grep and awk run it: derived from the EREs of
 * the manifest grammar, so the script and the TypeScript validation stay on one definition.
 */
import { KEY_LINE_ERE } from "../document/manifest";
import { sq } from "./quote";

/**
 * The key-line grammar as grep runs it. GNU grep expands a bounded repetition into that many
 * copies, and KEY_LINE_ERE's from="...{1,512}" and command="...{1,256}" make it compile for ~50 ms
 * on every run (more than all the rest of a no-change run). So grep gets them as "+" and the
 * script's awk checks the two bounds: a value is what lies between its quotes (the classes hold
 * no quote), so the two checks together accept exactly KEY_LINE_ERE's lines.
 */
function keyLineFast(): { ere: string; fromMax: number; commandMax: number } {
    const max: Record<string, number> = {};
    const ere = KEY_LINE_ERE.replace(
        /(from|command)="(\[[^\]"]+\])\{1,(\d+)\}"/g,
        (_m, opt: string, cls: string, n: string) => {
            if (max[opt] !== undefined && max[opt] !== Number(n))
                throw new Error(`KEY_LINE_ERE: two bounds for ${opt}`);
            max[opt] = Number(n);
            return `${opt}="${cls}+"`;
        },
    );
    if (max.from === undefined || max.command === undefined || /\{1,(512|256)\}/.test(ere))
        throw new Error("KEY_LINE_ERE changed: update keyLineFast");
    return { ere, fromMax: max.from, commandMax: max.command };
}
export const KEY_LINE_FAST = keyLineFast();

/**
 * KEY_LINE_FAST.ere as the script defines it: its options alternative (written twice in the ERE,
 * "((OPT)(,(OPT))* )?") once, in KEY_OPT, to save the document's bytes for the spec.
 */
export function keyLineShell(): string {
    const m = /^(.*)\(\((.+)\)\(,\(\2\)\)\* \)\?(.*)$/.exec(KEY_LINE_FAST.ere);
    if (!m || /[$`"\\]/.test(m[1] + m[3])) throw new Error("KEY_LINE_ERE changed: update keyLineShell");
    return `KEY_OPT=${sq(m[2])}\nKEYLINE_RE="${m[1]}(($KEY_OPT)(,($KEY_OPT))* )?${m[3]}"`;
}
