/** The nearest-rank percentile `p` (0-100) of `xs`; undefined when there is none. */
export function percentile(xs: number[], p: number): number | undefined {
    if (xs.length === 0) return undefined;
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
