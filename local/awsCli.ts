/** The AWS CLI the local fleet's central server runs (apart, so `pka local-fleet` checks it before loading the fleet). */
import { execFileSync } from "child_process";

/** The AWS CLI found on PATH. */
export interface AwsCli {
    /** Absolute path of `aws`. */
    path: string;
    /** `aws --version`'s first line. */
    version: string;
    /**
     * The CLI predates AWS_ENDPOINT_URL_<SERVICE> (v1 < 1.29, v2 < 2.13; Debian 12's awscli is
     * 2.9.19): the central server then runs it through a wrapper that passes the same endpoint as
     * `--endpoint-url`, the flag every version has.
     */
    needsEndpointFlag: boolean;
}

/** The AWS CLI on PATH, or a message saying how to install one. */
export function findAwsCli(): AwsCli | string {
    const install =
        "the central server's commands need the AWS CLI (`aws`): `apt-get install -y awscli` (Debian), or AWS's own installer";
    let path: string;
    let version: string;
    try {
        path = execFileSync("sh", ["-c", "command -v aws"], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
        }).trim();
        version = execFileSync(path, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
            .trim()
            .split("\n")[0];
    } catch {
        return install;
    }
    const m = /aws-cli\/(\d+)\.(\d+)\./.exec(version);
    if (!path || !m) return `${install} (\`aws --version\` printed ${JSON.stringify(version)})`;
    const [major, minor] = [Number(m[1]), Number(m[2])];
    return { path, version, needsEndpointFlag: (major === 1 && minor < 29) || (major === 2 && minor < 13) };
}

/** Why the AWS CLI cannot serve the central server, or undefined. */
export function awsCliProblem(): string | undefined {
    const cli = findAwsCli();
    return typeof cli === "string" ? cli : undefined;
}

/**
 * The wrapper for a CLI that ignores AWS_ENDPOINT_URL_<SERVICE>: `aws <service> ...` with the
 * service's endpoint variable set runs `<real aws> --endpoint-url <it> <service> ...`.
 */
export function endpointFlagWrapper(realAws: string): string {
    return [
        "#!/bin/sh",
        "# This AWS CLI predates AWS_ENDPOINT_URL_<SERVICE>: pass the same endpoint as --endpoint-url.",
        'case "$1" in',
        '    ssm) endpoint="$AWS_ENDPOINT_URL_SSM" ;;',
        '    ec2) endpoint="$AWS_ENDPOINT_URL_EC2" ;;',
        "    *) endpoint= ;;",
        "esac",
        `if [ -n "$endpoint" ]; then exec '${realAws.replace(/'/g, "'\\''")}' --endpoint-url "$endpoint" "$@"; fi`,
        `exec '${realAws.replace(/'/g, "'\\''")}' "$@"`,
        "",
    ].join("\n");
}
