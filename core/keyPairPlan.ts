/**
 * SshKeyPair's plan: which of its three key sources the args name, the key spec with defaults
 * applied and judged by the key rules, and the command that makes an `onHost` key. Pure: no
 * resource, no Pulumi; values a program may give as Outputs are `unknown` here.
 */
import * as crypto from "crypto";
import * as path from "path";
import { judgeKey, judgeKeySpec, KeyInfo, parsePublicKey, resolveKeySpec } from "./keys";
import { shQuote } from "./shell";

// `as const` objects rather than bare string-literal unions: Pulumi's component analyzer turns
// these into schema enums, which is what Python, Go and YAML users see.
/** Key algorithms SshKeyPair generates. */
export const SshKeyType = { Ed25519: "ed25519", Ecdsa: "ecdsa", Rsa: "rsa" } as const;
export type SshKeyType = (typeof SshKeyType)[keyof typeof SshKeyType];
/** ECDSA curves (OpenSSH names). */
export const SshKeyCurve = { Nistp256: "nistp256", Nistp384: "nistp384", Nistp521: "nistp521" } as const;
export type SshKeyCurve = (typeof SshKeyCurve)[keyof typeof SshKeyCurve];

/** A key spec with its defaults applied. */
export type KeyPairSpec = { keyType: SshKeyType; bits: number; curve?: SshKeyCurve };

/** `generate` as the planner reads it (SshKeyPairGenerate without its Pulumi types). */
export interface KeyGenerateInput {
    readonly keyType?: SshKeyType;
    readonly bits?: number;
    readonly curve?: SshKeyCurve;
    /** A string is checked now; anything else when it is known. */
    readonly comment?: unknown;
    readonly passphrase?: unknown;
    readonly rotationTrigger?: unknown;
    readonly ppk?: unknown;
    readonly service?: boolean;
}

/** `onHost` as the planner reads it (SshKeyPairOnHost without its Pulumi types). */
export interface KeyOnHostInput {
    readonly connection: { readonly host: unknown; readonly privateKey: unknown };
    readonly path: string;
    readonly keyType?: SshKeyType;
    readonly bits?: number;
    readonly curve?: SshKeyCurve;
    readonly comment?: unknown;
}

/** SshKeyPair's args as the planner reads them. */
export interface KeyPairPlanInput {
    readonly generate?: KeyGenerateInput;
    readonly onHost?: KeyOnHostInput;
    /** A string is checked now; anything else (an Output) when it is known. */
    readonly publicKey?: unknown;
    readonly ec2KeyName?: unknown;
}

/** Which key source SshKeyPair builds, with what the args fix now. */
export type KeyPairPlan =
    | { source: "generate"; spec: KeyPairSpec }
    | { source: "onHost"; spec: KeyPairSpec; path: string }
    | { source: "import"; info?: KeyInfo };

/** A key source or key that SshKeyPair refuses; the message names the input. */
export class KeyPairPlanError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "KeyPairPlanError";
    }
}

/**
 * keyType/bits/curve with defaults applied (core/keys resolveKeySpec: ed25519; ecdsa nistp256;
 * rsa 4096) and judged by the key rules (for EC2 import too). Throws naming the input.
 */
export function resolveSshKeySpec(
    input: string,
    a: { keyType?: string; bits?: number; curve?: string },
    ec2Import: boolean,
    ec2KeyNameInput = "ec2KeyName",
): KeyPairSpec {
    let resolved: { type: string; bits: number; curve?: string };
    try {
        resolved = resolveKeySpec({ type: a.keyType, bits: a.bits, curve: a.curve });
    } catch (e) {
        // core says "field: problem"; name the field as the user wrote it.
        const m = /^(type|bits|curve): ([\s\S]*)$/.exec((e as Error).message);
        throw new KeyPairPlanError(
            m ? `\`${input}.${m[1] === "type" ? "keyType" : m[1]}\`: ${m[2]}` : `\`${input}\`: ${(e as Error).message}`,
        );
    }
    const spec = { keyType: resolved.type, bits: resolved.bits, curve: resolved.curve } as KeyPairSpec;
    const label = `\`${input}\` (${spec.keyType} ${spec.curve ?? spec.bits})`;
    const violations = judgeKeySpec({ type: spec.keyType, bits: spec.bits, curve: spec.curve }, undefined, {
        ec2Import,
        service: true,
        label,
    });
    if (violations.length) {
        throw new KeyPairPlanError(violations.join(" ") + (ec2Import ? ` (\`${ec2KeyNameInput}\` is set.)` : ""));
    }
    return spec;
}

/** Parses and judges a public key line; throws with the reason (never echoing more than the key). */
export function checkPublicKey(input: string, line: string, ec2Import: boolean): KeyInfo {
    const info = parsePublicKey(line, `\`${input}\``);
    const violations = judgeKey(info, undefined, { ec2Import, label: `\`${input}\`` });
    if (violations.length) {
        throw new KeyPairPlanError(violations.join(" ") + (ec2Import ? " (`ec2KeyName` is set.)" : ""));
    }
    return info;
}

const SAFE_PATH = /^(\/[A-Za-z0-9._-]+)+$/;

/** `onHost.path` must be absolute and plain: it is placed in a shell command (quoted as well). */
export function checkHostPath(p: unknown): string {
    if (
        typeof p !== "string" ||
        !SAFE_PATH.test(p) ||
        p.length > 1024 ||
        p.split("/").some((s) => s === "." || s === "..")
    ) {
        throw new KeyPairPlanError(
            `\`onHost.path\` must be an absolute path of letters, digits and \`._-\` segments (no \`..\`, no shell characters); got ${JSON.stringify(p)}.`,
        );
    }
    return p;
}

/** Comments become part of the .pub line: one line of printable text. */
export function checkComment(input: string, c: string): string {
    if (/[\x00-\x1f\x7f]/.test(c) || c.length > 1024) {
        throw new KeyPairPlanError(`\`${input}\` must be one line of printable text (at most 1024 characters).`);
    }
    return c;
}

/**
 * A refusal of a secret value must not quote it: every quoted fragment of `message` ('...') that
 * occurs in `value` becomes '<secret>' (key errors quote at most a short token of the input).
 */
export function redactSecretValue(message: string, value: unknown, secret: boolean): string {
    if (!secret) return message;
    const text = typeof value === "string" ? value : "";
    const redacted = message.replace(/'([^']*)'/g, (all, inner: string) =>
        inner !== "" && text.includes(inner.replace(/\.\.\.$/, "")) ? "'<secret>'" : all,
    );
    return redacted + " (The value is secret: it is not shown.)";
}

/**
 * The command `onHost` runs on the central server (through `sh -c`, whatever the login shell is).
 * It creates the key only if absent, prints nothing but the public key, and, when the key spec or
 * rotation trigger differs from the one recorded next to the key, moves the old key aside first.
 */
export function onHostCommand(o: KeyPairSpec & { path: string; comment: string; rotationTrigger?: string }): string {
    const p = checkHostPath(o.path);
    const specHash = crypto
        .createHash("sha256")
        .update(JSON.stringify([o.keyType, o.bits, o.curve ?? "", o.rotationTrigger ?? ""]))
        .digest("hex");
    const script = [
        "set -eu",
        "umask 077",
        `p=${shQuote(p)}`,
        `spec=${specHash}`,
        // Rotate only a key this command recorded: an adopted key without a record is kept.
        `if [ -f "$p" ] && [ -f "$p.pka-spec" ] && [ "$(cat "$p.pka-spec")" != "$spec" ]; then`,
        `  old="$p.rotated-$(date -u +%Y%m%dT%H%M%SZ)"`,
        `  if [ -e "$old" ]; then echo "pka-fleet: $old exists already" >&2; exit 1; fi`,
        `  mv "$p" "$old"`,
        `  if [ -f "$p.pub" ]; then mv "$p.pub" "$old.pub"; fi`,
        "fi",
        `mkdir -p ${shQuote(path.posix.dirname(p))}`,
        `test -f "$p" || ssh-keygen -q -t ${o.keyType} -b ${o.bits} -N '' -C ${shQuote(checkComment("onHost.comment", o.comment))} -f "$p" </dev/null >/dev/null`,
        `test -f "$p.pub" || ssh-keygen -y -P '' -f "$p" </dev/null >"$p.pub"`,
        `printf '%s\\n' "$spec" >"$p.pka-spec"`,
        `cat "$p.pub"`,
    ].join("\n");
    return `sh -c ${shQuote(script)}`;
}

/**
 * The one passphrase rule for a generated key, SshKeyPair's and PkaFleet's alike (and the policy
 * pack's ssh-key-passphrase): a person's private key is encrypted; only a key marked as a
 * non-interactive service account's may have none. A passphrase known only at deployment (an
 * Output) counts as given here; the policy pack judges the value.
 */
export function passphraseProblem(
    g: KeyGenerateInput,
    at: string,
    serviceInput = `${at}.service`,
    requirePassphrase = true,
): string | undefined {
    if (!requirePassphrase || g.service === true) return undefined;
    if (g.passphrase !== undefined && g.passphrase !== null && g.passphrase !== "") return undefined;
    return (
        `\`${at}.passphrase\` is required: a person's private key must be passphrase-protected. ` +
        `Set a passphrase, or set \`${serviceInput}: true\` if the key belongs to a non-interactive service account.`
    );
}

/** The `generate` source: its comment, service flag and passphrase, and the spec. */
function planGenerate(g: KeyGenerateInput, at: string, ec2Import: boolean, names: KeyPairPlanNames): KeyPairPlan {
    if (typeof g.comment === "string") checkComment(`${at}.comment`, g.comment);
    if (g.service !== undefined && typeof g.service !== "boolean") {
        throw new KeyPairPlanError(
            `\`${names.service ?? `${at}.service`}\` must be true or false; got ${JSON.stringify(g.service)}.`,
        );
    }
    const spec = resolveSshKeySpec(at, g, ec2Import, names.ec2KeyName);
    const problem = passphraseProblem(g, at, names.service, names.requirePassphrase ?? true);
    if (problem) throw new KeyPairPlanError(problem);
    return { source: "generate", spec };
}

/** How the caller's user wrote the inputs (PkaFleet: `users[1].generateKey`), and its passphrase rule. */
export interface KeyPairPlanNames {
    generate?: string;
    ec2KeyName?: string;
    /** Where the key is marked a service account's (PkaFleet: `users[1].service`). */
    service?: string;
    /** The key rules' requirePassphrase (default true). */
    requirePassphrase?: boolean;
}

/** The `onHost` source: its path, connection and comment, and the spec. */
function planOnHost(h: KeyOnHostInput, ec2Import: boolean): KeyPairPlan {
    const p = checkHostPath(h.path);
    if (!h.connection || h.connection.host === undefined || h.connection.host === "") {
        throw new KeyPairPlanError("`onHost.connection.host` is required.");
    }
    if (h.connection.privateKey === undefined) {
        throw new KeyPairPlanError("`onHost.connection.privateKey` is required (the central server's login key).");
    }
    if (typeof h.comment === "string") checkComment("onHost.comment", h.comment);
    return { source: "onHost", spec: resolveSshKeySpec("onHost", h, ec2Import), path: p };
}

/**
 * Validates the args (pure; no resource exists yet). Throws a KeyPairPlanError naming the inputs;
 * `names` says how the caller's user wrote `generate` and `ec2KeyName` (PkaFleet: `users[1].generateKey`).
 */
export function planSshKeyPair(args: KeyPairPlanInput, names: KeyPairPlanNames = {}): KeyPairPlan {
    const given = (["generate", "onHost", "publicKey"] as const).filter(
        (k) => args[k] !== undefined && args[k] !== null,
    );
    if (given.length !== 1) {
        throw new KeyPairPlanError(
            `Give exactly one key source: \`generate\` (a new key kept in stack state), \`onHost\` (a key made by ssh-keygen ` +
                `on the central server) or \`publicKey\` (an existing public key); got ${given.length ? given.map((g) => `\`${g}\``).join(" and ") : "none"}.`,
        );
    }
    const ec2Import = args.ec2KeyName !== undefined;
    if (typeof args.ec2KeyName === "string" && !/^[\x20-\x7e]{1,255}$/.test(args.ec2KeyName)) {
        // EC2 API Reference, ImportKeyPair: KeyName "Up to 255 ASCII characters".
        throw new KeyPairPlanError(
            `\`${names.ec2KeyName ?? "ec2KeyName"}\` must be 1 to 255 printable ASCII characters (EC2 ImportKeyPair's KeyName); got ${args.ec2KeyName.length} characters.`,
        );
    }
    if (args.generate) return planGenerate(args.generate, names.generate ?? "generate", ec2Import, names);
    if (args.onHost) return planOnHost(args.onHost, ec2Import);
    // A key known only at deployment (an Output) is checked when it resolves.
    return {
        source: "import",
        info: typeof args.publicKey === "string" ? checkPublicKey("publicKey", args.publicKey, ec2Import) : undefined,
    };
}
