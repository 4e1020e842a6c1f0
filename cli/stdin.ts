/**
 * Reading stdin for the `pka` subcommands (`check-key -`, `document-params --spec -`). stdin may be
 * a pipe, a file, a TTY, or a descriptor another process left non-blocking, where a synchronous
 * read (fs.readFileSync(0)) fails with EAGAIN or a read loop spins: the stream waits for data.
 */

/** Reads a stream to its end or until more than `limit` bytes arrived (then stops reading it). */
export async function readStreamBounded(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of stream) {
        const b = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
        chunks.push(b);
        total += b.length;
        if (total > limit) break;
    }
    return Buffer.concat(chunks);
}

/** Reads stdin to its end, or more than `limit` bytes of it (the caller refuses that much). */
export function readStdinBounded(limit: number): Promise<Buffer> {
    return readStreamBounded(process.stdin, limit);
}
