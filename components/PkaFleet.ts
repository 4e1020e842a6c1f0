import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { AccessSpec, accessSpecHash } from "../core/accessSpec";
import { centralServerOutputs } from "../core/centralServer";
import { Trigger } from "../core/events";
import { planFleet as planFleetInStack } from "../core/fleetPlan";
import { FleetPlan, FleetTargetTag, SudoMode } from "../core/fleetPlanTypes";
import { checkDeploySpec, DeployKey, plainKeyInputs } from "../core/fleetSpec";
import { FleetKeyRules } from "../core/keyRuleArgs";
import { DEFAULT_KEY_RULES, parsePublicKey } from "../core/keys";
import { deployError } from "./errors";
import { Provisioner } from "./Provisioner";
import { FleetHostCertificates, fleetHostCertificates, planHostCertificates } from "./fleetHostCertificates";
import { SetupDocument } from "./SetupDocument";
import { FLEET_REQUIRE_PASSPHRASE, SshKeyPair, SshKeyPairArgs, SshKeyPairGenerate } from "./SshKeyPair";

/** One login account on every instance of the fleet. */
export interface FleetUser {
    /** Login name, `^[a-z_][a-z0-9_.-]{0,31}$` (e.g. `jane.doe`), not a system account nor an AMI default user. Required. */
    readonly name: string;
    /** Sudo mode: `"nopasswd"`, `"password"` (asks for the user's own password; accounts pka-fleet creates have none) or `"none"`. Full sudo, or only `sudoCommands` when given. Default `"none"`. */
    readonly sudo?: SudoMode;
    /** Only these commands with sudo, as root: absolute paths, optionally with arguments of letters, digits and `_ . / @ + -` (or `""` for none); no wildcards. Each is checked by `visudo -cf` on the host. Needs `sudo` `"nopasswd"` or `"password"`. Default: all commands. */
    readonly sudoCommands?: string[];
    /** Supplementary groups to add the user to where they exist (e.g. `["adm", "docker"]`); a missing group is reported (`PKA-WARN`), never created; only memberships pka-fleet added are ever removed. `root`, `sudo`, `wheel`, `admin`, `shadow`, `disk`, `kmem` are refused. Default: none. */
    readonly groups?: string[];
    /** Existing OpenSSH public key lines (one key each, no options). An `SshKeyPair`'s `publicKey` output works too. Default: none. */
    readonly publicKeys?: pulumi.Input<string>[];
    /** Generate a key for this user (child `SshKeyPair` `<fleet>-<user>`); its private key is in `privateKeys`. Default: none. */
    readonly generateKey?: SshKeyPairGenerate;
    /** Also register the generated key as this EC2 key pair name (ed25519 or RSA 4096). Default: not registered. */
    readonly ec2KeyName?: string;
    /** A non-interactive service account: its generated key may have no passphrase. Default `false` (a person: a generated key needs `generateKey.passphrase`). */
    readonly service?: boolean;
    /** authorized_keys options for this user's keys, from the allow-list (`restrict`, `no-*` and the flags that turn one back on, `command="..."`, `expiry-time="..."`, `permitopen="host:port"`, `permitlisten="[host:]port"`). Default: none. */
    readonly keyOptions?: string;
    /** Source addresses allowed to use this user's keys (CIDRs or addresses; becomes `from="..."`). Default: any. */
    readonly fromCidrs?: string[];
    /** Take over an account of this name that already exists on a host and that pka-fleet did not create. Default `false`: such an account is left alone and reported (exit 19). */
    readonly adopt?: boolean;
    /** Where this user's private key is on the central server, for `sshConfig`: an `onHost` key's `path`, or `~/.ssh/...`. Letters, digits and `._-/` only. Default: `~/.ssh/pka-<fleetName>-<user>` for a generated key (written from `privateKeys`), none otherwise. */
    readonly identityFile?: string;
    /** Certificate mode (`certificates` set): the principals a user certificate must name to log in as this user (its AuthorizedPrincipalsFile), each a user name. Default: the user's own name. */
    readonly principals?: string[];
}

/** Certificate mode: the hosts trust user certificates of these CAs, through an sshd_config.d drop-in checked with `sshd -t`. */
export interface FleetCertificates {
    /** The user CAs' OpenSSH public keys (ed25519, ecdsa or RSA of 3072 bits or more), 1 to 8: a CA `SshKeyPair`'s `publicKey` works. Two during a CA rotation. Required. */
    readonly userCaKeys: pulumi.Input<string>[];
    /** A key revocation list in OpenSSH's format, base64 (`base64 -w0` of what `pka cert krl` writes): sshd's RevokedKeys. Default: none revoked. */
    readonly revokedKeys?: pulumi.Input<string>;
}

export interface PkaFleetArgs {
    /** Fleet name: names the SSM paths `/pka/<fleetName>/access` and `/pka/<fleetName>/known_hosts`, the default target tag and the central server's files. Unique per fleet in an account and region. `^[a-z0-9][a-z0-9-]{0,31}$`. Default: `<resource name>-<stack>`, lower-cased, other characters as `-` (so two stacks of one program never share paths or instances). */
    readonly fleetName?: string;
    /** The tag that marks the fleet's instances. Default `{ key: "pka-fleet", value: <fleetName> }`. */
    readonly targetTag?: FleetTargetTag;
    /** The login accounts. The spec is exclusive: users and keys not listed lose access on the next run. Required, at least one. */
    readonly users: FleetUser[];
    /** Organization-level OpenSSH public key given to every user without a key of its own. Default: none (every user needs a key). */
    readonly fallbackPublicKey?: string;
    /** What provisions an instance. Default: all of `instanceRunning`, `associationChange`, `push`. */
    readonly triggers?: Trigger[];
    /** Re-apply the spec on every online tagged instance on this EventBridge schedule expression, `rate(...)` or 6-field `cron(...)` (UTC), at least 30 minutes apart, e.g. `"rate(1 day)"`: a scheduled rule pushes the pinned spec through the provisioner (a spec change never changes the rule). Default: off. */
    readonly driftCorrectionSchedule?: string;
    /** Offboarding: destroying the fleet (`pulumi destroy`, or removing it from the program) first revokes every user it manages on its online tagged instances; the destroy fails, naming the instances, when a revocation does not succeed. Default `true`. */
    readonly revokeOnDestroy?: boolean;
    /** Retention of the provisioner's log group, days (a CloudWatch Logs value). Default `30`. */
    readonly logRetentionDays?: number;
    /** Key rules for the access spec. Default: the policy pack's (ed25519, ecdsa P-256/384/521, RSA >= 3072). */
    readonly keyRules?: FleetKeyRules;
    /** Tags for every taggable child. Default: none. */
    readonly tags?: { [key: string]: string };
    /** Certificate mode: hosts trust user certificates of `userCaKeys` (TrustedUserCAKeys), with each user's `principals` and the `revokedKeys` KRL; key logins keep working beside it. Default: off (removing it turns certificate mode off on the next push). */
    readonly certificates?: FleetCertificates;
    /** Host certificates: after pinning each host's keys, the provisioner signs its preferred key with a KMS host CA (`SshCertificateAuthority` `kms`) and installs the certificate (`HostCertificate`); the central server trusts one `@cert-authority` line (`hostCertificateAuthorityLine`). Default: off. */
    readonly hostCertificates?: FleetHostCertificates;
}

/**
 * PkaFleet's plan for `args` (core/fleetPlan.ts planFleet), by default in the current stack: the
 * default fleet name is `<name>-<stack>`.
 */
export function planFleet(name: string, args: PkaFleetArgs, stack: string = pulumi.getStack()): FleetPlan {
    return planFleetInStack(name, args, stack);
}

type Checked = ReturnType<typeof checkDeploySpec>;

/** One child SshKeyPair `<fleet>-<user>` for each user with `generateKey`, by user name. */
function fleetKeyPairs(
    owner: PkaFleet,
    name: string,
    p: FleetPlan,
    users: readonly FleetUser[],
): Map<string, SshKeyPair> {
    const keyPairs = new Map<string, SshKeyPair>();
    const requirePassphrase = p.keyRules.requirePassphrase ?? DEFAULT_KEY_RULES.requirePassphrase;
    p.users.forEach((u, i) => {
        const g = users[i].generateKey;
        if (!g) return;
        keyPairs.set(
            u.name,
            new SshKeyPair(
                `${name}-${u.name}`,
                {
                    // A service account's key says so, for the policy pack's ssh-key-passphrase rule.
                    generate: {
                        ...g,
                        comment: g.comment ?? `${u.name}@pka-${p.fleetName}`,
                        ...(u.service ? { service: true } : {}),
                    },
                    ec2KeyName: u.ec2KeyName,
                    // the fleet has applied its passphrase rule to this key already
                    [FLEET_REQUIRE_PASSPHRASE]: requirePassphrase,
                } as SshKeyPairArgs,
                { parent: owner },
            ),
        );
    });
    return keyPairs;
}

/**
 * The spec with every key known (Outputs, generated keys), checked in one place. `checked` rejects
 * with the refusal (one error object, attached to the fleet); `passed` waits for a spec that passed,
 * so the children that take it stay unregistered after a refusal (nothing is created) and the
 * refusal surfaces through this component, not once per child that consumes the spec.
 */
function deploySpec(
    owner: PkaFleet,
    name: string,
    p: FleetPlan,
    args: PkaFleetArgs,
    keyPairs: Map<string, SshKeyPair>,
): { checked: pulumi.Output<Checked>; passed: pulumi.Output<Checked> } {
    // Keys known only at deployment (Outputs, generated keys), each with the input it came from.
    const deployKey = (k: pulumi.Input<string>, input: string): pulumi.Output<DeployKey> => {
        const o = pulumi.output(k);
        return pulumi.all([o, pulumi.isSecret(o)]).apply(([key, secret]) => ({ key, input, secret }));
    };
    const lateKeys = pulumi.all(
        args.users.map((u, i) =>
            pulumi.all([
                ...(u.publicKeys ?? []).flatMap((k, j) =>
                    typeof k === "string" ? [] : [deployKey(k, `users[${i}].publicKeys[${j}]`)],
                ),
                ...(keyPairs.has(u.name)
                    ? [deployKey(keyPairs.get(u.name)!.publicKey, `users[${i}].generateKey`)]
                    : []),
            ]),
        ),
    );
    const plainInputs = plainKeyInputs(args.users);
    const certs = args.certificates
        ? pulumi.all([pulumi.all(args.certificates.userCaKeys), pulumi.output(args.certificates.revokedKeys)])
        : pulumi.output(undefined);
    const outcome = pulumi
        .all([lateKeys, certs])
        .apply(([late, c]): { ok: Checked; error?: undefined } | { ok?: undefined; error: pulumi.ResourceError } => {
            try {
                const certificates = c ? { userCaKeys: c[0], ...(c[1] ? { revokedKeys: c[1] } : {}) } : undefined;
                return { ok: checkDeploySpec(p, plainInputs, late, certificates) };
            } catch (e) {
                return { error: deployError(owner, `PkaFleet "${name}": ${(e as Error).message}`) };
            }
        });
    return {
        checked: outcome.apply((o) => {
            if (o.error) throw o.error;
            return o.ok!;
        }),
        passed: outcome.apply((o) => (o.error ? new Promise<Checked>(() => undefined) : Promise.resolve(o.ok!))),
    };
}

/**
 * The spec's chunks as `String` parameters: public keys and user names are not secret, so operators
 * (and previews) can read them; integrity comes from IAM on the path, and the hash in every chunk
 * lets the Lambda refuse a torn read. Slots beyond the spec hold a filler the reader ignores, so the
 * count stays fixed while keys are unknown (preview).
 */
function accessParameters(
    owner: PkaFleet,
    name: string,
    p: FleetPlan,
    passed: pulumi.Output<Checked>,
    tags: Record<string, string>,
): aws.ssm.Parameter[] {
    const chunks = passed.apply((c) => c.chunks);
    const params: aws.ssm.Parameter[] = [];
    for (let i = 0; i < p.slots; i++) {
        params.push(
            new aws.ssm.Parameter(
                `${name}-access-${i}`,
                {
                    name: `${p.accessPath}/${String(i).padStart(4, "0")}`,
                    type: "String",
                    tier: "Standard",
                    dataType: "text",
                    // insecureValue: not secret, so `pulumi preview` shows which users and keys change.
                    insecureValue: chunks.apply((c) => c[i]?.value ?? `pka-unused slot ${i} of ${p.slots}`),
                    description: `pka-fleet ${p.fleetName}: access spec chunk ${i} (written by PkaFleet; do not edit)`,
                    tags,
                },
                { parent: owner },
            ),
        );
    }
    return params;
}

/** One secret output of the generated keys by user name (users whose key has it). */
function byUser(
    keyPairs: Map<string, SshKeyPair>,
    f: (kp: SshKeyPair) => pulumi.Output<string | undefined>,
): pulumi.Output<{ [user: string]: string }> {
    return pulumi.secret(
        pulumi.all([...keyPairs].map(([user, kp]) => f(kp).apply((v) => [user, v] as const))).apply(
            (pairs) =>
                Object.fromEntries(pairs.filter(([, v]) => typeof v === "string" && v !== "")) as {
                    [user: string]: string;
                },
        ),
    );
}

/** SHA256 fingerprints of each user's keys in the spec. */
function fingerprintsOf(s: AccessSpec): { [user: string]: string[] } {
    return Object.fromEntries(s.users.map((u) => [u.name, u.keys.map((k) => parsePublicKey(k).fingerprint)]));
}

/**
 * A whole fleet: key pairs, the access spec in Parameter Store, the SSM setup document, the
 * event-driven provisioner, push on change and optional drift correction. Access is exclusive:
 * the managed authorized_keys block and sudoers drop-ins follow the spec, so a key or user removed
 * here loses access on the next run. Type token `pka-fleet:index:PkaFleet`.
 */
export class PkaFleet extends pulumi.ComponentResource {
    /** Name of the SSM Command document that sets up access on a host. */
    public readonly documentName: pulumi.Output<string>;
    /** URL of the provisioner's SQS queue. */
    public readonly queueUrl: pulumi.Output<string>;
    /** URL of the dead-letter queue (instances that could not be provisioned). */
    public readonly dlqUrl: pulumi.Output<string>;
    /** Parameter Store path holding the access spec chunks (`/pka/<fleet>/access`). */
    public readonly accessParameterPath: pulumi.Output<string>;
    /** Parameter Store path of the pinned host keys, one parameter per instance (`/pka/<fleet>/known_hosts/<instance-id>`). */
    public readonly knownHostsPath: pulumi.Output<string>;
    /** sha256 of the canonical access spec; a change re-provisions the fleet. */
    public readonly accessSpecHash: pulumi.Output<string>;
    /** SHA256 fingerprints of each user's keys (as `ssh-keygen -l`), by user name. */
    public readonly fingerprints: pulumi.Output<{ [user: string]: string[] }>;
    /** Secret. Generated private keys (OpenSSH, encrypted with the user's passphrase), by user name. */
    public readonly privateKeys: pulumi.Output<{ [user: string]: string }>;
    /** Secret. Generated private keys as PuTTY PPK (users with `generateKey.ppk`), by user name. */
    public readonly privateKeysPpk: pulumi.Output<{ [user: string]: string }>;
    /** A ready `~/.ssh/config` snippet for the central server. */
    public readonly sshConfig: pulumi.Output<string>;
    /** Shell command that writes the fleet's pinned host keys to `~/.ssh/known_hosts.pka-<fleet>`. */
    public readonly knownHostsCommand: pulumi.Output<string>;
    /** Host certificates: the central server's one known_hosts line for the fleet, `@cert-authority PATTERNS CA` (write it to `~/.ssh/known_hosts.pka-<fleet>-ca`). */
    public readonly hostCertificateAuthorityLine: pulumi.Output<string | undefined>;

    constructor(name: string, args: PkaFleetArgs, opts?: pulumi.ComponentResourceOptions) {
        // Validate everything before registering anything: a refused fleet leaves no resource behind.
        let p: FleetPlan;
        let hcPlan: ReturnType<typeof planHostCertificates> | undefined;
        try {
            p = planFleetInStack(name, args, pulumi.getStack());
            hcPlan = args.hostCertificates ? planHostCertificates(args.hostCertificates) : undefined;
        } catch (e) {
            // A RunError: Pulumi prints the message alone (no stack); nothing is registered yet.
            throw new pulumi.RunError(`PkaFleet "${name}": ${(e as Error).message}`);
        }
        super("pka-fleet:index:PkaFleet", name, {}, opts);
        const tags = { ...(args.tags ?? {}), "pka-fleet:fleet": p.fleetName };
        const keyPairs = fleetKeyPairs(this, name, p, args.users);
        const { checked, passed } = deploySpec(this, name, p, args, keyPairs);
        const spec = checked.apply((c) => c.spec);
        const childSpec = passed.apply((c) => c.spec);
        const params = accessParameters(this, name, p, passed, tags);

        // Children that need no spec wait for it too.
        const document = new SetupDocument(
            `${name}-document`,
            { tags },
            { parent: this, dependsOn: passed.apply((): pulumi.Resource[] => []) },
        );
        const hostCerts =
            args.hostCertificates && hcPlan
                ? fleetHostCertificates(
                      this,
                      name,
                      args.hostCertificates,
                      hcPlan,
                      tags,
                      passed.apply((): pulumi.Resource[] => []),
                  )
                : undefined;
        const provisioner = new Provisioner(
            `${name}-provisioner`,
            {
                documentName: document.documentName,
                documentArn: document.documentArn,
                targetTag: p.tag,
                accessParameterPath: p.accessPath,
                knownHostsPath: p.knownHostsPath,
                accessSpecHash: childSpec.apply(accessSpecHash),
                triggers: p.triggers,
                logRetentionDays: p.logRetentionDays,
                keyRules: p.keyRules,
                tags,
                fleetName: p.fleetName,
                driftCorrectionSchedule: p.schedule,
                revokeOnDestroy: p.revokeOnDestroy,
                hostCertificates: hostCerts?.provisioner,
            },
            { parent: this, dependsOn: params },
        );

        const central = centralServerOutputs(p, { hostCa: hostCerts !== undefined });
        this.documentName = document.documentName;
        this.queueUrl = provisioner.queueUrl;
        this.dlqUrl = provisioner.dlqUrl;
        this.accessParameterPath = pulumi.output(p.accessPath);
        this.knownHostsPath = pulumi.output(p.knownHostsPath);
        this.accessSpecHash = spec.apply(accessSpecHash);
        this.fingerprints = spec.apply(fingerprintsOf);
        this.privateKeys = byUser(keyPairs, (kp) => kp.privateKey);
        this.privateKeysPpk = byUser(keyPairs, (kp) => kp.privateKeyPpk);
        this.sshConfig = pulumi.output(central.sshConfig);
        this.knownHostsCommand = pulumi.output(central.knownHostsCommand);
        this.hostCertificateAuthorityLine = hostCerts?.authorityLine ?? pulumi.output(undefined as string | undefined);
        this.registerOutputs({
            documentName: this.documentName,
            queueUrl: this.queueUrl,
            dlqUrl: this.dlqUrl,
            accessParameterPath: this.accessParameterPath,
            knownHostsPath: this.knownHostsPath,
            accessSpecHash: this.accessSpecHash,
            fingerprints: this.fingerprints,
            privateKeys: this.privateKeys,
            privateKeysPpk: this.privateKeysPpk,
            sshConfig: this.sshConfig,
            knownHostsCommand: this.knownHostsCommand,
            hostCertificateAuthorityLine: this.hostCertificateAuthorityLine,
        });
    }
}
