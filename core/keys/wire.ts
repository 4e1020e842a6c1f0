/**
 * The SSH wire format (RFC 4251 section 5: uint32, string, mpint): a strict reader whose every
 * failure is a KeyError, and the encoders the private-key and PuTTY code write with.
 */
import { ACCEPTED_LINE, KeyError } from "./types";

/** @internal SSH wire-format reader, shared with core/ppk. */
export class WireReader {
    private off = 0;
    constructor(
        private readonly buf: Buffer,
        private readonly what: string,
        private readonly label: string,
    ) {}
    private fail(detail: string): never {
        throw new KeyError(this.label, `${this.what} is truncated or corrupt (${detail}); expected ${ACCEPTED_LINE}`);
    }
    u32(): number {
        if (this.off + 4 > this.buf.length) this.fail("ends inside a length field");
        const v = this.buf.readUInt32BE(this.off);
        this.off += 4;
        return v;
    }
    u8(): number {
        if (this.off + 1 > this.buf.length) this.fail("ends inside a byte field");
        return this.buf[this.off++];
    }
    bytes(): Buffer {
        const n = this.u32();
        if (n > this.buf.length - this.off) {
            this.fail(`a field claims ${n} bytes but only ${this.buf.length - this.off} remain`);
        }
        const v = this.buf.subarray(this.off, this.off + n);
        this.off += n;
        return v;
    }
    str(): string {
        return this.bytes().toString("latin1");
    }
    /** Unsigned mpint as minimal big-endian bytes (no sign byte). */
    mpint(): Buffer {
        const b = this.bytes();
        if (b.length > 0 && b[0] & 0x80) this.fail("a negative integer");
        let i = 0;
        while (i < b.length && b[i] === 0) i++;
        return b.subarray(i);
    }
    raw(n: number): Buffer {
        if (n > this.buf.length - this.off) this.fail("ends early");
        const v = this.buf.subarray(this.off, this.off + n);
        this.off += n;
        return v;
    }
    remaining(): number {
        return this.buf.length - this.off;
    }
    rest(): Buffer {
        const v = this.buf.subarray(this.off);
        this.off = this.buf.length;
        return v;
    }
    end(): void {
        if (this.off !== this.buf.length) this.fail(`${this.buf.length - this.off} unexpected bytes after the key`);
    }
}

/** @internal An SSH string: uint32 length, then the bytes (a string is taken as UTF-8). */
export function sshString(b: Buffer | string): Buffer {
    const body = typeof b === "string" ? Buffer.from(b, "utf8") : b;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    return Buffer.concat([len, body]);
}

/** @internal An unsigned big-endian integer as an SSH mpint. */
export function sshMpint(unsigned: Buffer): Buffer {
    let i = 0;
    while (i < unsigned.length && unsigned[i] === 0) i++;
    let b = unsigned.subarray(i);
    if (b.length > 0 && b[0] & 0x80) b = Buffer.concat([Buffer.alloc(1), b]);
    return sshString(b);
}

/** @internal The bit length of an unsigned big-endian integer. */
export function bitLength(unsigned: Buffer): number {
    let i = 0;
    while (i < unsigned.length && unsigned[i] === 0) i++;
    if (i === unsigned.length) return 0;
    return (unsigned.length - i - 1) * 8 + (32 - Math.clz32(unsigned[i]));
}

/** @internal An unsigned big-endian integer as a bigint. */
export function toBigInt(unsigned: Buffer): bigint {
    return unsigned.length === 0 ? 0n : BigInt("0x" + unsigned.toString("hex"));
}
