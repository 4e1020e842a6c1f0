/** Paging through AWS list calls, and splitting work into the batches an API takes. */

/**
 * The pages of a paginated AWS call: `fetch` is called with no token, then with each page's
 * NextToken, until a page carries none.
 */
export async function* pages<P extends { NextToken?: string }>(
    fetch: (token: string | undefined) => Promise<P>,
): AsyncGenerator<P, void, undefined> {
    let token: string | undefined;
    do {
        const page = await fetch(token);
        yield page;
        token = page.NextToken;
    } while (token);
}

/** `xs` in slices of at most `n`. */
export function chunk<T>(xs: T[], n: number): T[][] {
    const out: T[][] = [];
    for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
    return out;
}
