/**
 * IP address arithmetic for from= CIDR blocks: an address's bytes, whether bits are set past a
 * prefix, the network address, and its usual text (RFC 5952 for IPv6).
 */

/** The 4 bytes of a dotted-quad address (checked by isIP first). */
export function ip4Bytes(addr: string): number[] {
    return addr.split(".").map(Number);
}

/** The 16 bytes of an IPv6 address (checked by isIP first): `::` expanded, an IPv4 tail read as its 4 bytes. */
export function ip6Bytes(addr: string): number[] {
    let text = addr;
    let tail: number[] = [];
    if (text.includes(".")) {
        const cut = text.lastIndexOf(":");
        tail = ip4Bytes(text.slice(cut + 1));
        text = text.slice(0, cut); // "::ffff:1.2.3.4" -> "::ffff", "1::1.2.3.4" -> "1:"
        if (text.endsWith(":")) text += ":";
    }
    const parse = (part: string) => (part ? part.split(":").map((h) => parseInt(h, 16)) : []);
    let groups: number[];
    if (text.includes("::")) {
        const [left, right] = text.split("::").map(parse);
        groups = [...left, ...Array(8 - tail.length / 2 - left.length - right.length).fill(0), ...right];
    } else groups = parse(text);
    return [...groups.flatMap((g) => [g >> 8, g & 0xff]), ...tail];
}

export function hostBitsSet(bytes: number[], bits: number): boolean {
    return bytes.some((b, i) => (b & ~prefixMask(i, bits) & 0xff) !== 0);
}

export function networkBytes(bytes: number[], bits: number): number[] {
    return bytes.map((b, i) => b & prefixMask(i, bits));
}

/** The mask of byte `i` for a prefix of `bits` bits. */
function prefixMask(i: number, bits: number): number {
    const inByte = Math.min(Math.max(bits - i * 8, 0), 8);
    return (0xff << (8 - inByte)) & 0xff;
}

/** An address in its usual text: dotted quad, or RFC 5952 IPv6 (longest zero run as `::`; IPv4-mapped as ::ffff:a.b.c.d). */
export function formatAddress(bytes: number[], family: number): string {
    if (family === 4) return bytes.join(".");
    const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
    if (mapped) return `::ffff:${bytes.slice(12).join(".")}`;
    const groups: number[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(bytes[i] * 256 + bytes[i + 1]);
    // RFC 5952: the longest run of two or more zero groups becomes `::` (the first of equal runs)
    let best = { start: -1, len: 1 };
    for (let i = 0; i < groups.length; i++) {
        let j = i;
        while (j < groups.length && groups[j] === 0) j++;
        if (j - i > best.len) best = { start: i, len: j - i };
        i = j;
    }
    const hex = (g: number[]) => g.map((x) => x.toString(16)).join(":");
    return best.start < 0
        ? hex(groups)
        : `${hex(groups.slice(0, best.start))}::${hex(groups.slice(best.start + best.len))}`;
}
