/**
 * The naive design that pka-fleet replaces, modelled faithfully enough to race it in the bench:
 * an EventBridge rule on "EC2 Instance State-change Notification" (running) invokes a Lambda
 * asynchronously, once per event; the Lambda calls `ssm:SendCommand` with `AWS-RunShellScript`
 * for that one instance, right away (no readiness wait, no batching, no backoff). When the call
 * fails (throttled, or the agent is not online yet: `InvalidInstanceId`) the invocation fails
 * and Lambda's asynchronous retry policy runs it twice more (AWS waits about 1 and 2 minutes;
 * `retryDelaysMs` compresses that), then the event is gone: no DLQ in the naive stack.
 *
 * It talks to the same local SSM endpoint through the real AWS SDK, so its calls are counted
 * and throttled exactly like the real Lambda's.
 */
import { SendCommandCommand, SSMClient } from "@aws-sdk/client-ssm";
import type { EventBridgeEvent } from "./eventBus";

export interface NaiveOptions {
    /** The local SSM endpoint's URL. */
    endpoint: string;
    /** Lambda's asynchronous invocation retries: 2 by default (AWS's default). */
    retries?: number;
    /** Delay before each retry. AWS uses about 60 s and 120 s; default [1000, 2000] (compressed). */
    retryDelaysMs?: number[];
    /** What the naive Lambda pastes: a key line for `svc_user`. */
    publicKey?: string;
}

export interface NaiveOutcome {
    instanceId: string;
    eventAt: number;
    /** Epoch ms of the SendCommand that was accepted. */
    sentAt?: number;
    commandId?: string;
    attempts: number;
    /** Last error when the event was dropped. */
    lostReason?: string;
}

/** The naive Lambda's script, as the well-known recipe writes it (a shell-injection hole and a sudoers append). */
export function naiveCommands(user: string, publicKey: string): string[] {
    return [
        `id -u ${user} || useradd -m ${user}`,
        `mkdir -p /home/${user}/.ssh && echo "${publicKey}" >> /home/${user}/.ssh/authorized_keys`,
        `chmod 700 /home/${user}/.ssh && chmod 600 /home/${user}/.ssh/authorized_keys && chown -R ${user}:${user} /home/${user}/.ssh`,
        `echo "${user} ALL=(ALL) NOPASSWD:ALL" >> /etc/sudoers`,
    ];
}

export class NaiveProvisioner {
    private readonly client: SSMClient;
    private readonly retries: number;
    private readonly delays: number[];
    private readonly publicKey: string;
    private readonly pending = new Set<Promise<void>>();
    readonly outcomes = new Map<string, NaiveOutcome>();
    readonly stats = { invocations: 0, sendCommandCalls: 0, throttled: 0, notReady: 0, otherErrors: 0 };

    constructor(opts: NaiveOptions) {
        this.client = new SSMClient({
            endpoint: opts.endpoint,
            region: "us-east-1",
            credentials: { accessKeyId: "AKIDLOCALFLEET", secretAccessKey: "local-fleet-dummy-secret" },
            // The naive function makes one call per invocation; its retries are Lambda's, below.
            maxAttempts: 1,
        });
        this.retries = opts.retries ?? 2;
        this.delays = opts.retryDelaysMs ?? [1000, 2000];
        this.publicKey =
            opts.publicKey ?? "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGf4Y2s0bmFpdmVrZXlub3RhcmVhbGtleWF0YWxsMDA naive";
    }

    /** EventBridge invokes the function asynchronously for each matching event. */
    handle(event: EventBridgeEvent): void {
        if (event.source !== "aws.ec2" || event.detail.state !== "running") return;
        const instanceId = String(event.detail["instance-id"]);
        const outcome: NaiveOutcome = { instanceId, eventAt: Date.now(), attempts: 0 };
        this.outcomes.set(instanceId, outcome);
        const p = this.invokeWithRetries(outcome).finally(() => this.pending.delete(p));
        this.pending.add(p);
    }

    private async invokeWithRetries(outcome: NaiveOutcome): Promise<void> {
        for (let attempt = 0; attempt <= this.retries; attempt++) {
            if (attempt > 0)
                await new Promise((r) => setTimeout(r, this.delays[Math.min(attempt - 1, this.delays.length - 1)]));
            outcome.attempts++;
            this.stats.invocations++;
            try {
                this.stats.sendCommandCalls++;
                const out = await this.client.send(
                    new SendCommandCommand({
                        DocumentName: "AWS-RunShellScript",
                        InstanceIds: [outcome.instanceId],
                        Parameters: { commands: naiveCommands("svc_user", this.publicKey) },
                    }),
                );
                outcome.sentAt = Date.now();
                outcome.commandId = out.Command?.CommandId;
                outcome.lostReason = undefined;
                return;
            } catch (err) {
                const name = (err as { name?: string }).name ?? "Error";
                if (name === "ThrottlingException") this.stats.throttled++;
                else if (name === "InvalidInstanceId") this.stats.notReady++;
                else this.stats.otherErrors++;
                outcome.lostReason = `${name}: ${(err as Error).message}`;
            }
        }
    }

    /** Resolves when every invocation (with its retries) has finished. */
    async idle(): Promise<void> {
        while (this.pending.size > 0) await Promise.all([...this.pending]);
    }

    lost(): NaiveOutcome[] {
        return [...this.outcomes.values()].filter((o) => o.sentAt === undefined);
    }

    destroy(): void {
        this.client.destroy();
    }
}
