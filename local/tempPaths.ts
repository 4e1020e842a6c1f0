/** Work dirs and files of local fleets not yet stopped: removed on process exit even when stop() never ran. */
import * as fs from "fs";

const live = new Set<string>();
let exitHook = false;

export function trackTemp(p: string): void {
    live.add(p);
    if (exitHook) return;
    exitHook = true;
    process.on("exit", () => {
        for (const t of live) fs.rmSync(t, { recursive: true, force: true });
    });
}

/** The path was removed (or is removed by the caller now). */
export function untrackTemp(p: string): void {
    live.delete(p);
}
