/**
 * What a local fleet follows of its pipeline, host by host: the agent coming online, the first
 * command, the document's results, the keys the Lambda pins, the dead letters; and, once a host's
 * keys are pinned, the login from the central server's key with exactly those keys.
 */
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { readDeadLetter } from "./deadLetters";
import type { FleetHost } from "./fleetHosts";
import { SERVICE_USER } from "./fleetPlan";
import type { LocalQueue } from "./queue";
import { sshRun } from "./sshClient";
import type { LocalSsmEndpoint } from "./ssmEndpoint";

/** What the tracker needs of its fleet. */
export interface TrackedFleet {
    endpoint: LocalSsmEndpoint;
    dlq: LocalQueue;
    documentName: string;
    knownHostsPath: string;
    /** The central server's private key file. */
    keyFile: string;
    workDir: string;
    /** Log in as soon as a host's keys are pinned; else a successful run is the host's result. */
    loginOnPin: boolean;
    log: (line: string) => void;
    stopped: () => boolean;
}

export class FleetTracker {
    readonly byId = new Map<string, FleetHost>();
    private readonly logins = new Set<Promise<void>>();
    private readonly loggingIn = new Set<FleetHost>();

    constructor(private readonly f: TrackedFleet) {}

    /** Follows the pipeline's effects: commands, results, pinned keys, dead letters. */
    watch(): void {
        this.f.endpoint.on("agentOnline", (inst: { instanceId: string }) => {
            const h = this.byId.get(inst.instanceId);
            if (h) h.agentOnlineAt = Date.now();
        });
        this.f.endpoint.on("commandSent", (inv: { instanceId: string }) => {
            const h = this.byId.get(inv.instanceId);
            if (h && h.firstCommandAt === undefined) h.firstCommandAt = Date.now();
        });
        this.f.endpoint.on("invocation", (inv: { instanceId: string; status: string; documentName: string }) =>
            this.onInvocation(inv),
        );
        this.f.endpoint.on("parameter", (p: { name: string; value: string }) => this.onParameter(p));
        this.f.dlq.on("visible", () => this.readDeadLetters());
    }

    private onInvocation(inv: { instanceId: string; status: string; documentName: string }): void {
        const h = this.byId.get(inv.instanceId);
        if (!h || inv.documentName !== this.f.documentName) return;
        if (inv.status === "Success") {
            h.provisionedAt ??= Date.now();
            h.lastSuccessAt = Date.now();
            if (!this.f.loginOnPin) h.result ??= "provisioned";
        } else if (inv.status === "Failed") {
            this.f.log(`  ${h.name} ${h.instanceId}: the document failed (the Lambda retries, then dead-letters)`);
        }
    }

    private onParameter(p: { name: string; value: string }): void {
        const prefix = `${this.f.knownHostsPath}/`;
        if (!p.name.startsWith(prefix)) return;
        const h = this.byId.get(p.name.slice(prefix.length));
        if (!h) return;
        h.keysPinnedAt = Date.now();
        if (!this.f.loginOnPin || h.result === "access" || this.loggingIn.has(h)) return;
        this.loggingIn.add(h);
        const job = this.checkAccess(h).finally(() => {
            this.logins.delete(job);
            this.loggingIn.delete(h);
        });
        this.logins.add(job);
    }

    /** Marks the hosts the DLQ names (a host with access keeps its result). */
    readDeadLetters(): void {
        for (const m of this.f.dlq.peek()) {
            const letter = readDeadLetter(m.body, m.receiveCount);
            const h = letter?.instanceId ? this.byId.get(letter.instanceId) : undefined;
            if (!letter || !h || h.deadLetterReason) continue;
            h.deadLetterReason = letter.reason;
            if (h.result !== "access") {
                h.result = "dead-lettered";
                h.detail = letter.reason;
                this.f.log(`  ${h.name} ${h.instanceId}: dead-lettered: ${letter.reason}`);
            }
        }
    }

    /** Resolves when the logins under way have ended. */
    async loginsSettled(): Promise<void> {
        await Promise.allSettled([...this.logins]);
    }

    /** known_hosts built only from the parameters the Lambda wrote. */
    knownHostsFile(): string {
        const lines: string[] = [];
        const prefix = `${this.f.knownHostsPath}/`;
        for (const [name, p] of this.f.endpoint.parameters) {
            if (!name.startsWith(prefix)) continue;
            const h = this.byId.get(name.slice(prefix.length));
            if (!h?.sandbox) continue;
            for (const key of p.value.split("\n").filter(Boolean)) lines.push(`[127.0.0.1]:${h.sandbox.port} ${key}`);
        }
        const file = path.join(this.f.workDir, "known_hosts");
        // Written beside and renamed into place: logins run concurrently, and an ssh reading the file
        // while another login rewrote it in place would see half of it (Host key verification failed).
        const tmp = `${file}.${randomBytes(4).toString("hex")}`;
        fs.writeFileSync(tmp, lines.join("\n") + "\n", { mode: 0o600 });
        fs.renameSync(tmp, file);
        return file;
    }

    /** Logs in from the central server's key (or `keyFile`, with `certFile` its certificate) with the pinned known_hosts and runs `sudo -n true`. */
    async login(
        h: FleetHost,
        opts: { keyFile?: string; user?: string; command?: string; certFile?: string } = {},
    ): Promise<{ ok: boolean; output: string }> {
        if (!h.sandbox) throw new Error(`${h.name} is simulated: no sshd to log in to`);
        const r = await sshRun(h.sandbox, {
            user: opts.user ?? SERVICE_USER,
            identityFile: opts.keyFile ?? this.f.keyFile,
            knownHostsFile: this.knownHostsFile(),
            command: opts.command ?? "sudo -n true",
            ...(opts.certFile ? { extraArgs: ["-o", `CertificateFile=${opts.certFile}`] } : {}),
        });
        return { ok: r.code === 0, output: (r.stderr || r.stdout).trim() };
    }

    private async checkAccess(h: FleetHost): Promise<void> {
        if (this.f.stopped()) return;
        const r = await this.login(h);
        if (r.ok) {
            h.accessAt ??= Date.now();
            h.result = "access";
            h.detail = undefined;
            this.f.log(
                `  ${h.name} ${h.instanceId}: ssh ${SERVICE_USER}@host 'sudo -n true' ok (${((h.accessAt - h.launchedAt!) / 1000).toFixed(1)} s after launch)`,
            );
        } else {
            h.result = "denied";
            h.detail = r.output.split("\n").pop();
        }
    }
}
