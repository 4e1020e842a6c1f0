/**
 * The provisioner Lambda's limits and timings: AWS API limits it works within, and the budgets
 * it keeps inside one invocation.
 */

/** SendCommand takes at most 50 InstanceIds (SSM API reference). */
export const SEND_COMMAND_MAX_IDS = 50;
/** DescribeInstanceInformation returns at most 50 a page. */
export const DII_PAGE = 50;
/** Time an invocation spends writing host keys before it leaves the rest for a later delivery (pinHostKeys). */
export const PIN_BUDGET_MS = 10_000;
/** Up to this many instances are checked for readiness by id; more, through one listing of the fleet (filterReady). */
export const READY_BY_ID_MAX = 4;
/** Values per ec2:DescribeInstances filter, well under EC2's limit. */
export const EC2_FILTER_VALUES = 100;
/** Names per ssm:GetParameters call (SSM API reference). */
export const GET_PARAMETERS_MAX_NAMES = 10;
/**
 * A deploy writes the access parameters and then updates this function's pinned hash, seconds
 * apart. A stored spec that is refused (or unusable) although it has stood for longer than this
 * is not a deploy in progress: it raises the alarm.
 */
export const SPEC_SETTLE_MS = 300_000;
/** Before a SendCommand, the stored spec is read again if its last read is older than this. */
export const RECHECK_AFTER_MS = 1000;
/**
 * The readiness wait. An EC2 "running" event reaches the queue before the instance's SSM Agent has
 * registered (agents come online seconds to minutes after "running"), so the first look usually
 * finds it not Online. Rather than failing the record (it would come back only after the queue's
 * visibility timeout, 6 minutes by default), every instance still waiting is written back to the
 * queue in ONE delayed wait message per delay (core/events.ts waitEvent): the next look at all of
 * them is one record, so SendCommand calls stay near one per 50 instances however the agents
 * spread. While young (WAIT_FAST_MS) an instance is looked at every WAIT_POLL_SECONDS, on a grid
 * shared by every invocation so that their wait messages surface together and merge; older,
 * the delay grows with its age (half of it, 60-900 s) up to PKA_AGENT_WAIT_SECONDS, when it is
 * dead-lettered as `agent-not-online`.
 */
export const WAIT_POLL_SECONDS = 5;
export const WAIT_FAST_MS = 180_000;

/** Stop starting new SendCommand calls when less than this remains: fail the rest so SQS redelivers them. */
export const DEADLINE_MARGIN_MS = 8000;

/**
 * IAM is eventually consistent: "changes are not always immediately visible" (IAM User Guide,
 * Troubleshooting IAM, "Changes that I make are not always immediately visible"). A deploy's push
 * runs in the update that creates the function's role and policy, so it retries access-denied
 * answers for up to this long (and never past the function's own deadline).
 */
export const IAM_PROPAGATION_MS = 120_000;
