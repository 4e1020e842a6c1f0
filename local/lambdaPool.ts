/**
 * The provisioner function as Lambda runs it, on this machine: a pool of "containers" (child
 * processes) that each load the REAL bundle (bin/lambda/provisioner.js) once and serve one
 * invocation at a time over IPC, with the function's environment and timeout.
 */
import { ChildProcess, fork } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { provisionerCodePath } from "../core/lambdaBundle";
import type { SqsEvent } from "./sqsRecords";
import { trackTemp, untrackTemp } from "./tempPaths";

export interface LambdaLogLine {
    at: number;
    line: string;
}

/** The worker each Lambda "container" runs: it requires the bundle once and serves invocations over IPC. */
const WORKER = `
const bundle = require(process.env.PKA_LOCAL_LAMBDA_BUNDLE);
process.on("message", async (m) => {
  const end = Date.now() + m.timeoutMs;
  const context = { awsRequestId: m.id, functionName: "pka-fleet-provisioner", getRemainingTimeInMillis: () => end - Date.now() };
  try {
    const result = await bundle.handler(m.event, context);
    process.send({ id: m.id, ok: true, result });
  } catch (e) {
    process.send({ id: m.id, ok: false, error: String((e && e.message) || e) });
  }
});
process.send({ ready: true });
`;

interface WorkerMessage {
    id?: string;
    ok?: boolean;
    result?: unknown;
    error?: string;
    ready?: boolean;
}

/** A pool of Lambda containers (child processes) running the real bundle; one invocation per container at a time. */
export class LambdaPool {
    private readonly idle: ChildProcess[] = [];
    private readonly all: ChildProcess[] = [];
    /** Containers of the previous configuration, killed once they answer. */
    private readonly retired = new Set<ChildProcess>();
    /** Invocations waiting for a free container; called with undefined when the pool closes. */
    private readonly waiting: ((c: ChildProcess | undefined) => void)[] = [];
    private readonly pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
    readonly logs: LambdaLogLine[] = [];
    invocations = 0;
    private closed = false;

    constructor(
        private env: Record<string, string>,
        private readonly size: number,
        private readonly timeoutMs = 60_000,
    ) {}

    async start(): Promise<void> {
        await this.spawn(this.size);
    }

    /**
     * A configuration update, as Lambda does it: new containers start with the new environment,
     * and the old ones finish what they run and are gone (an invocation never sees a mix).
     */
    async reconfigure(patch: Record<string, string>): Promise<void> {
        if (this.closed) throw new Error("the Lambda pool is closed");
        const old = [...this.all];
        this.env = { ...this.env, ...patch };
        for (const c of old) this.retired.add(c);
        // Idle old containers go now; busy ones when they answer (release()).
        for (const c of this.idle.splice(0)) c.kill("SIGKILL");
        await this.spawn(this.size);
    }

    private async spawn(n: number): Promise<void> {
        const bundle = provisionerCodePath();
        if (!fs.existsSync(bundle))
            throw new Error(`the Lambda bundle ${bundle} is missing: run \`npm run build\` first`);
        const workerFile = path.join(
            os.tmpdir(),
            `pka-lambda-worker-${process.pid}-${randomBytes(4).toString("hex")}.js`,
        );
        trackTemp(workerFile);
        fs.writeFileSync(workerFile, WORKER);
        try {
            await Promise.all(Array.from({ length: n }, () => this.loaded(this.container(workerFile, bundle))));
        } finally {
            fs.rmSync(workerFile, { force: true });
            untrackTemp(workerFile);
        }
    }

    /** Starts one container: its output goes to the logs, its answers to the invocations waiting for them. */
    private container(workerFile: string, bundle: string): ChildProcess {
        const child = fork(workerFile, [], {
            env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...this.env, PKA_LOCAL_LAMBDA_BUNDLE: bundle },
            stdio: ["ignore", "pipe", "pipe", "ipc"],
            execArgv: [],
        });
        this.all.push(child);
        const capture = (d: Buffer) => {
            for (const line of d.toString().split("\n")) if (line.trim()) this.logs.push({ at: Date.now(), line });
        };
        child.stdout?.on("data", capture);
        child.stderr?.on("data", capture);
        child.on("message", (m: WorkerMessage) => this.answered(child, m));
        child.on("exit", () => this.exited(child));
        return child;
    }

    /** Resolves when the container has loaded the bundle (its first message), and puts it in the pool. */
    private async loaded(child: ChildProcess): Promise<void> {
        await new Promise<void>((resolve, reject) => {
            child.once("message", () => resolve());
            child.once("error", reject);
            child.once("exit", (code) =>
                reject(
                    new Error(
                        `the Lambda container exited with ${code} while loading the bundle: ${this.logs
                            .map((l) => l.line)
                            .join("\n")
                            .slice(-2000)}`,
                    ),
                ),
            );
        });
        this.release(child);
    }

    private answered(child: ChildProcess, m: WorkerMessage): void {
        if (m.ready || !m.id) return;
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        this.release(child);
        if (!p) return;
        if (m.ok) p.resolve(m.result);
        else p.reject(new Error(m.error ?? "invocation failed"));
    }

    private exited(child: ChildProcess): void {
        const i = this.all.indexOf(child);
        if (i >= 0) this.all.splice(i, 1);
        if (this.retired.delete(child)) return;
        for (const [id, p] of this.pending) {
            p.reject(new Error("the Lambda container exited"));
            this.pending.delete(id);
        }
    }

    private release(child: ChildProcess): void {
        if (this.retired.has(child)) {
            child.kill("SIGKILL");
            return;
        }
        const next = this.waiting.shift();
        if (next) next(child);
        else this.idle.push(child);
    }

    async invoke(event: SqsEvent): Promise<unknown> {
        if (this.closed) throw new Error("the Lambda pool is closed");
        const child = this.idle.pop() ?? (await new Promise<ChildProcess | undefined>((r) => this.waiting.push(r)));
        if (!child || this.closed) throw new Error("the Lambda pool is closed");
        const id = randomBytes(8).toString("hex");
        this.invocations++;
        return new Promise((resolve, reject) => {
            this.pending.set(id, { resolve, reject });
            child.send({ id, event, timeoutMs: this.timeoutMs });
        });
    }

    stop(): void {
        this.closed = true;
        for (const w of this.waiting.splice(0)) w(undefined);
        for (const c of this.all) if (c.exitCode === null) c.kill("SIGKILL");
    }
}
