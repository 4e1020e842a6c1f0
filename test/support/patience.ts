/**
 * Wall-clock limits in tests are safety nets for hangs, never performance assertions: a loaded
 * machine may be several times slower than an idle one, and no test may fail for that. Every
 * fixed limit in the tests goes through patience(), which scales it by PKA_TEST_TIMEOUT_SCALE
 * (default 5; scripts/run-tests.js applies the same factor to mocha's timeouts).
 */
export const TIMEOUT_SCALE = (() => {
    const n = Number(process.env.PKA_TEST_TIMEOUT_SCALE ?? "5");
    return Number.isFinite(n) && n >= 1 ? n : 5;
})();

/** `ms` as a hang safety net on this machine, whatever its load. */
export function patience(ms: number): number {
    return Math.round(ms * TIMEOUT_SCALE);
}

/**
 * A timer that fires only after `ms` (scaled) without progress: call progress() on every sign of
 * life (output, a step done). Slow is fine; only silence for that long is a hang.
 */
export function stallTimer(ms: number, onStall: () => void): { progress(): void; clear(): void } {
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(onStall, patience(ms));
    };
    arm();
    return { progress: arm, clear: () => timer && clearTimeout(timer) };
}

/** Polls `done` every `everyMs` until it holds or `ms` (scaled) passed; resolves with its last answer. */
export async function waitUntil(done: () => boolean, ms: number, everyMs = 50): Promise<boolean> {
    const end = Date.now() + patience(ms);
    while (!done()) {
        if (Date.now() > end) return false;
        await new Promise((r) => setTimeout(r, everyMs));
    }
    return true;
}
