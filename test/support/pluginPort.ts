/**
 * The port a Pulumi plugin (a policy pack, a component provider host) prints on stdout when it
 * serves gRPC: the first line that is only a number.
 */
import type { ChildProcess } from "child_process";

export function pluginPort(
    child: ChildProcess,
    what: string,
    timeoutMs: number,
    stderr: () => string,
): Promise<number> {
    return new Promise<number>((resolve, reject) => {
        let out = "";
        const timer = setTimeout(
            () => reject(new Error(`${what} printed no port within ${timeoutMs} ms; stderr:\n${stderr()}`)),
            timeoutMs,
        );
        child.stdout!.on("data", (b) => {
            out += b.toString();
            const m = /^(\d+)\s*$/m.exec(out);
            if (m) {
                clearTimeout(timer);
                resolve(Number(m[1]));
            }
        });
        child.on("exit", (code) => {
            clearTimeout(timer);
            reject(new Error(`${what} exited (${code}) before serving; stderr:\n${stderr()}`));
        });
    });
}
