/**
 * The setup script now lives in core/script/ (assembled in core/script/setupScript.ts). This
 * module only re-exports what lambda/provisioner.ts and local/agent.ts import from it.
 */
export { agentTooOld, EXIT_NO_PARAMETERS, MIN_AGENT_VERSION } from "./script/contract";
