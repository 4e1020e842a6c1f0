/**
 * Key specs: the type, size and curve a key is generated with (generation itself, which needs
 * sshpk, is core/keygen.ts).
 */
import { normalizeCurve, words } from "./rules";
import { CURVES, EC_BITS, KNOWN_CURVES } from "./types";

/** A concrete key spec: what resolveKeySpec returns. */
export interface KeySpec {
    type: "ed25519" | "ecdsa" | "rsa";
    bits: number;
    curve?: string;
}

function ecdsaSpec(opts: { bits?: number; curve?: string }): KeySpec {
    let curve = opts.curve !== undefined ? normalizeCurve(opts.curve) : undefined;
    if (opts.bits !== undefined) {
        const fromBits = opts.bits === 224 ? undefined : EC_BITS[opts.bits];
        if (!fromBits) throw new Error(`bits: ecdsa keys are 256, 384 or 521 bits; got ${opts.bits}`);
        if (curve && curve !== fromBits) throw new Error(`curve: ${curve} does not have ${opts.bits} bits`);
        curve = fromBits;
    }
    curve = curve ?? "nistp256";
    if (!KNOWN_CURVES.includes(curve)) {
        throw new Error(`curve: expected ${words(KNOWN_CURVES)}; got ${String(opts.curve).slice(0, 30)}`);
    }
    return { type: "ecdsa", bits: CURVES[curve].bits, curve };
}

/** Resolve keygen options to a concrete spec (defaults: ed25519; ecdsa nistp256; rsa 4096). Throws Error on a bad option. */
export function resolveKeySpec(opts: { type?: string; bits?: number; curve?: string }): KeySpec {
    const type = opts.type ?? "ed25519";
    switch (type) {
        case "ed25519":
            if (opts.bits !== undefined && opts.bits !== 256) {
                throw new Error(`bits: ed25519 keys are always 256 bits; got ${opts.bits}`);
            }
            if (opts.curve !== undefined) throw new Error("curve: only ecdsa keys take a curve");
            return { type, bits: 256 };
        case "ecdsa":
            return ecdsaSpec(opts);
        case "rsa": {
            const bits = opts.bits ?? 4096;
            if (bits !== 3072 && bits !== 4096) {
                throw new Error(`bits: rsa keys are generated with 3072 or 4096 bits; got ${bits}`);
            }
            if (opts.curve !== undefined) throw new Error("curve: only ecdsa keys take a curve");
            return { type, bits };
        }
        default:
            if (/^(sk-|ed25519-sk$|ecdsa-sk$)/i.test(String(type)))
                throw new Error(
                    `type: a security key (${String(type).slice(0, 40)}) cannot be generated here: its private key is made inside the authenticator and never leaves it; a person enrolls one with \`ssh-keygen -t ed25519-sk\` and gives its .pub line (a service account's key stays ed25519, ecdsa or rsa); expected ed25519, ecdsa or rsa`,
                );
            throw new Error(`type: expected ed25519, ecdsa or rsa; got '${String(type).slice(0, 30)}'`);
    }
}
