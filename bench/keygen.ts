/**
 * Key generation cost per type, for the bench runner (and the README's numbers). RSA time is
 * random (prime search), so each entry is the median of several runs.
 */
import { encryptPrivateKey, generateKey } from "../core/keygen";
import { toPpk } from "../core/ppk";

async function median(runs: number, fn: () => unknown): Promise<number> {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
        const t = process.hrtime.bigint();
        await fn();
        times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    times.sort((a, b) => a - b);
    return Math.round(times[Math.floor(times.length / 2)] * 10) / 10;
}

export async function benchKeygen(): Promise<{ type: string; ms: number }[]> {
    const out: { type: string; ms: number }[] = [];
    const cases: [string, () => unknown, number][] = [
        ["ed25519", () => generateKey({ type: "ed25519" }), 20],
        ["ecdsa nistp256", () => generateKey({ type: "ecdsa", curve: "nistp256" }), 20],
        ["ecdsa nistp384", () => generateKey({ type: "ecdsa", curve: "nistp384" }), 20],
        ["ecdsa nistp521", () => generateKey({ type: "ecdsa", curve: "nistp521" }), 20],
        ["rsa 3072", () => generateKey({ type: "rsa", bits: 3072 }), 5],
        ["rsa 4096", () => generateKey({ type: "rsa", bits: 4096 }), 5],
    ];
    for (const [type, fn, runs] of cases) out.push({ type, ms: await median(runs, fn) });
    const ed = generateKey({ type: "ed25519" });
    out.push({
        type: "ed25519 + passphrase (OpenSSH, bcrypt 16 rounds)",
        ms: await median(3, () => encryptPrivateKey(ed.privateKey, "bench passphrase")),
    });
    out.push({ type: "PPK v3 without passphrase", ms: await median(10, () => toPpk(ed.privateKey)) });
    out.push({
        type: "PPK v3 with passphrase (Argon2id 8 MiB x 21)",
        ms: await median(3, () => toPpk(ed.privateKey, { passphrase: "bench passphrase" })),
    });
    return out;
}

if (require.main === module) {
    benchKeygen().then((rows) => {
        for (const r of rows) console.log(`${r.type.padEnd(50)} ${r.ms.toFixed(1).padStart(9)} ms`);
    });
}
