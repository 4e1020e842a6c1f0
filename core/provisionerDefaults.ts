/**
 * The configuration the Provisioner deploys when its arguments are left out: one source for the
 * component, the local fleet (`pka local-fleet`, the end-to-end tests) and the bench, so that what
 * they run and measure is what a stack gets. test/deployed-config.test.ts compares the three.
 */
export const PROVISIONER_DEFAULTS = Object.freeze({
    /** SQS records per Lambda batch. */
    batchSize: 50,
    /** Seconds the event source mapping gathers records before invoking. */
    batchingWindowSeconds: 5,
    /** Receives before a record goes to the DLQ (the redrive policy). */
    maxReceiveCount: 10,
    /** Command runs per instance before it is dead-lettered with the reason. */
    maxAttempts: 3,
    /** Concurrent Lambda invocations from the queue. */
    maximumConcurrency: 5,
    /** Lambda timeout (s). */
    timeoutSeconds: 60,
    /** Lambda memory (MB). */
    memorySize: 256,
    /** SendCommand TimeoutSeconds: how long SSM tries to deliver a command. */
    commandTimeoutSeconds: 600,
    /** How long an instance's agent may take to come online after its first event before it is dead-lettered (s). */
    agentWaitSeconds: 3600,
});

/**
 * The queue's visibility timeout (s): at least six times the function timeout, plus the batching
 * window (AWS Lambda Developer Guide, "Using Lambda with Amazon SQS": "set the source queue's
 * visibility timeout to at least six times the timeout that you configure on your function").
 */
export function queueVisibilitySeconds(timeoutSeconds: number, batchingWindowSeconds: number): number {
    return 6 * timeoutSeconds + batchingWindowSeconds;
}

/**
 * The wait queue (a FIFO queue, one message group: one invocation at a time looks at every
 * instance whose agent is not online yet). An invocation that takes the group's last messages
 * (fewer than a full batch of 10) stays until WAIT_CYCLE_SECONDS after it started before it
 * writes what still waits: the group is in flight meanwhile, so every wait message written in
 * that time is delivered with the next one, in one batch, and merged (one look, one message a
 * round however many invocations wrote). An instance found online is held up to
 * WAIT_HOLD_SECONDS while more are still coming, so that SendCommand calls carry 50 instances
 * (its limit) instead of the few that came online since the last look.
 */
export const WAIT_CYCLE_SECONDS = 5;
export const WAIT_HOLD_SECONDS = 8;
/** The one message group of the wait queue. */
export const WAIT_GROUP_ID = "pka-fleet-wait";
/** Lambda's largest batch from a FIFO queue (AWS Lambda Developer Guide, "Lambda parameters for Amazon SQS event source mappings"). */
export const FIFO_BATCH_MAX = 10;
