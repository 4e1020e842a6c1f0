/** What SSM reports of a run of the document: a plugin's output as ListCommandInvocations lists it. */

/** ListCommandInvocations (Details) keeps this much of a plugin's output (SSM API Reference, CommandPlugin `Output`); GetCommandInvocation keeps 24,000 characters of stdout. */
export const LISTED_OUTPUT_LIMIT = 2500;
/** How aws:runShellScript joins stderr to stdout in a plugin's output. */
export const PLUGIN_ERROR_MARK = "\n----------ERROR-------\n";

/** A plugin's `Output` as ListCommandInvocations (Details) lists it: stdout, then the error mark and stderr when there is any, cut at LISTED_OUTPUT_LIMIT. */
export function listedPluginOutput(stdout: string, stderr: string): string {
    return (stderr ? `${stdout}${PLUGIN_ERROR_MARK}${stderr}` : stdout).slice(0, LISTED_OUTPUT_LIMIT);
}
