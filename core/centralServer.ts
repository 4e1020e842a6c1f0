/**
 * What the central server does with a fleet: its `~/.ssh` files, the ssh settings of the fleet's
 * hosts (PkaFleet's `sshConfig`), and the command that pins the hosts' keys from Parameter Store
 * (`knownHostsCommand`). The local fleet's central server runs the same.
 */
import type { FleetPlan } from "./fleetPlanTypes";
import { INSTALLABLE_KEY_TYPES } from "./keys/types";
import { shQuote } from "./shell";

/** What the central server needs for one fleet: the fleet's files under `~/.ssh` and the settings of its hosts. */
export interface CentralServerFleet {
    fleetName: string;
    knownHostsPath: string;
    tag: { key: string; value: string };
    /** `User` on the fleet's hosts: the first service account (`service: true`); none: ssh's own default. */
    user?: string;
    /** `IdentityFile` lines in order (the service account's first): generated keys as `~/.ssh/pka-<fleet>-<user>`, and every `identityFile`. */
    identityFiles: string[];
    /** Host certificates: `UserKnownHostsFile` also names `~/.ssh/known_hosts.pka-<fleet>-ca`, the one `@cert-authority` line. */
    hostCa?: boolean;
}

/** The central server's files of a fleet, relative to `~/.ssh`: the pinned host keys and the hosts' settings (the file `sshConfig` includes). */
export function centralServerFiles(fleetName: string): { knownHosts: string; config: string; hostCa: string } {
    return {
        knownHosts: `known_hosts.pka-${fleetName}`,
        config: `config.pka-${fleetName}`,
        hostCa: `known_hosts.pka-${fleetName}-ca`,
    };
}

/** The central server's view of a validated fleet plan. */
export function centralServerFleet(
    p: Pick<FleetPlan, "fleetName" | "knownHostsPath" | "tag" | "users">,
): CentralServerFleet {
    const service = p.users.find((u) => u.service);
    const ordered = service ? [service, ...p.users.filter((u) => u !== service)] : p.users;
    const identityFiles = [
        ...new Set(
            ordered.flatMap((u) =>
                u.identityFile ? [u.identityFile] : u.generate ? [`~/.ssh/pka-${p.fleetName}-${u.name}`] : [],
            ),
        ),
    ];
    return {
        fleetName: p.fleetName,
        knownHostsPath: p.knownHostsPath,
        tag: p.tag,
        ...(service ? { user: service.name } : {}),
        identityFiles,
    };
}

/** PkaFleet's `sshConfig` and `knownHostsCommand` outputs for a plan (the local fleet runs the same). */
export function centralServerOutputs(
    p: Pick<FleetPlan, "fleetName" | "knownHostsPath" | "tag" | "users">,
    opts: { hostCa?: boolean } = {},
): {
    sshConfig: string;
    knownHostsCommand: string;
} {
    const c = { ...centralServerFleet(p), ...(opts.hostCa ? { hostCa: true } : {}) };
    return { sshConfig: fleetSshConfig(c), knownHostsCommand: knownHostsCommand(c) };
}

/** Session Manager's SSH tunnel (no inbound port 22): the ProxyCommand for hosts named by instance id. */
export const SESSION_MANAGER_PROXY =
    "ProxyCommand aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p";

/** The settings every host of the fleet gets (after its `Host` line), without the ProxyCommand. */
export function fleetHostSettings(c: CentralServerFleet): string[] {
    const files = centralServerFiles(c.fleetName);
    return [
        ...(c.user ? [`    User ${c.user}`] : []),
        ...c.identityFiles.map((f) => `    IdentityFile ${f}`),
        ...(c.identityFiles.length ? ["    IdentitiesOnly yes"] : []),
        // ssh reads every file listed (a missing one is empty): the pinned keys, and the host CA's line.
        `    UserKnownHostsFile ~/.ssh/${files.knownHosts}${c.hostCa ? ` ~/.ssh/${files.hostCa}` : ""}`,
        "    GlobalKnownHostsFile /dev/null",
        "    StrictHostKeyChecking yes",
    ];
}

/**
 * The central server's `~/.ssh/config` lines for one fleet. They select the fleet's own hosts only:
 * `~/.ssh/config.pka-<fleet>`, written by knownHostsCommand together with the pinned keys, lists
 * exactly the instance ids and private addresses it pinned, each with this fleet's user, keys and
 * known_hosts file. Several fleets' lines stand side by side in one config, each host resolving
 * to its own fleet; a host no fleet pinned gets none of them. No hostname ever reaches a shell
 * (no `Match exec`). `Match all` makes the Include unconditional wherever the lines are appended.
 */
export function fleetSshConfig(c: CentralServerFleet): string {
    const files = centralServerFiles(c.fleetName);
    return [
        `# pka-fleet "${c.fleetName}": ssh ${c.user ?? "<user>"}@<instance id> (Session Manager) or @<private address>; the hosts`,
        `# knownHostsCommand pinned in ~/.ssh/${files.knownHosts}, with their settings in ~/.ssh/${files.config} (run it again for new instances).`,
        `# User ${c.user ?? "(not set: no service account)"}; keys: ${c.identityFiles.length ? c.identityFiles.join(", ") : "none on the central server"}.`,
        "Match all",
        `Include ~/.ssh/${files.config}`,
        "",
    ].join("\n");
}

/**
 * A POSIX sh command for the central server that writes, from the keys the Lambda pinned
 * (`<knownHostsPath>/<instance-id>`) and the running instances carrying the fleet tag:
 * `~/.ssh/known_hosts.pka-<fleet>` (each key under the instance id and its private address,
 * `i-0abc,10.0.1.23 ssh-ed25519 AAAA...`) and `~/.ssh/config.pka-<fleet>` (`Host` lines naming
 * exactly those ids, through Session Manager, and addresses, directly, with the fleet's settings).
 * Only well-formed ids (`i-`/`mi-` and hex), IPv4 addresses and key lines of the installable types
 * are written: a parameter value cannot add a known_hosts marker or a config line. Needs the AWS
 * CLI with ssm:GetParametersByPath and ec2:DescribeInstances. Each file is replaced by a rename.
 */
export function knownHostsCommand(c: CentralServerFleet): string {
    const files = centralServerFiles(c.fleetName);
    const keyTypes = INSTALLABLE_KEY_TYPES.filter((t) => /^[a-z0-9-]+$/.test(t)).join("|");
    const awk = [
        "function okid(s) { return s ~ /^(i|mi)-[0-9a-f]+$/ && length(s) >= 10 && length(s) <= 20 }",
        "function okip(s) { return s ~ /^[0-9]+[.][0-9]+[.][0-9]+[.][0-9]+$/ && length(s) <= 15 }",
        'function hostlines(kind, list, n,   i, line) { line = ""; for (i = 1; i <= n; i++) { line = line " " list[i]; if (i % 20 == 0 || i == n) { print kind line > hosts; line = "" } } }',
        'BEGIN { FS = "\\t"; printf "" > kh; printf "" > hosts }',
        "FILENAME == ARGV[1] { if (okid($1) && okip($2)) ip[$1] = $2; next }",
        '/^\\// { id = ""; n = substr($1, length(prefix) + 1); if (index($1, prefix) == 1 && okid(n)) id = n; $0 = $2 }',
        `id != "" && $0 ~ /^(${keyTypes}) [A-Za-z0-9+\\/]+=*$/ { h = id; if (id in ip) h = h "," ip[id]; print h " " $0 > kh; if (!(id in seen)) { seen[id] = 1; ids[++ni] = id; if (id in ip) ips[++na] = ip[id] } }`,
        'END { hostlines("I", ids, ni); hostlines("A", ips, na) }',
    ].join("\n");
    const header = `# pka-fleet "${c.fleetName}": written by knownHostsCommand from ${c.knownHostsPath} and the running instances tagged ${c.tag.key}=${c.tag.value}; the next run replaces it.`;
    return [
        `set -eu; umask 077; mkdir -p "$HOME/.ssh"; t=$(mktemp -d "$HOME/.ssh/.pka-${c.fleetName}.XXXXXX"); trap 'rm -rf "$t"' EXIT`,
        `aws ssm get-parameters-by-path --path ${shQuote(c.knownHostsPath)} --query 'Parameters[].[Name,Value]' --output text > "$t/keys"`,
        `aws ec2 describe-instances --filters ${shQuote(`Name=tag:${c.tag.key},Values=${c.tag.value}`)} 'Name=instance-state-name,Values=running' --query 'Reservations[].Instances[].[InstanceId,PrivateIpAddress]' --output text > "$t/addrs"`,
        `awk -v prefix=${shQuote(`${c.knownHostsPath}/`)} -v kh="$t/known_hosts" -v hosts="$t/hosts" ${shQuote(awk)} "$t/addrs" "$t/keys"`,
        `s=${shQuote(fleetHostSettings(c).join("\n"))}; p=${shQuote(`    ${SESSION_MANAGER_PROXY}`)}`,
        `{ printf '%s\\n' ${shQuote(header)}; while read -r kind list; do printf 'Host %s\\n%s\\n' "$list" "$s"; if [ "$kind" = I ]; then printf '%s\\n' "$p"; fi; done < "$t/hosts"; } > "$t/config"`,
        `mv "$t/known_hosts" "$HOME/.ssh/${files.knownHosts}"; mv "$t/config" "$HOME/.ssh/${files.config}"`,
    ].join("\n");
}
