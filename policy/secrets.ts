/**
 * ssh-private-key-secret: no private key material in a plain (non-secret) property or output.
 *
 * The engine sends secret values to the pack marked as secrets, but @pulumi/policy unwraps them
 * before a rule sees them (pulumi/pulumi-policy#241: "It's not currently possible to check if a
 * ... property is a secret from policies"). `installSecretTracking` records, for every property
 * bag the analyzer deserializes, which paths were secret on the wire, so this rule can tell a
 * `pulumi.secret(privateKey)` output from a plain one. Without it (an SDK whose internals moved)
 * the rule falls back to what it can still know: provider-schema secrets and
 * `additionalSecretOutputs`.
 */
import type {
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";
import { readConfig } from "./config";
import { PRIVATE_KEY_SECRET } from "./ruleConfig";
import { describe, globMatch, isObject, pathString, str, unwrap, walkStrings } from "./util";

const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

const secretPathsByProps = new WeakMap<object, Set<string>>();
let tracking = false;

function collectSecretPaths(v: unknown, path: (string | number)[], out: Set<string>): void {
    if (Array.isArray(v)) {
        v.forEach((e, i) => collectSecretPaths(e, [...path, i], out));
    } else if (isObject(v)) {
        if (v[SIG_KEY] === SECRET_SIG) {
            out.add(pathString(path));
            return;
        }
        for (const k of Object.keys(v)) collectSecretPaths(v[k], [...path, k], out);
    }
}

/**
 * Wraps @pulumi/policy's `deserializeProperties` (which the analyzer server calls through its
 * module object for every Analyze/AnalyzeStack resource) to remember which paths were secrets.
 * Values and behaviour are unchanged. Returns false when the SDK does not have that shape.
 */
export function installSecretTracking(): boolean {
    if (tracking) return true;
    let mod: any;
    try {
        mod = require("@pulumi/policy/deserialize");
    } catch {
        return false;
    }
    const original = mod?.deserializeProperties;
    if (typeof original !== "function") return false;
    mod.deserializeProperties = function trackedDeserializeProperties(this: unknown, struct: any, ...rest: unknown[]) {
        const result = original.call(this, struct, ...rest);
        try {
            const paths = new Set<string>();
            collectSecretPaths(struct?.toJavaScript?.(), [], paths);
            if (result !== null && typeof result === "object") secretPathsByProps.set(result, paths);
        } catch {
            // Tracking is best effort: never let it break the analysis itself.
        }
        return result;
    };
    tracking = true;
    return true;
}

/** The secret paths of a property bag as the engine sent it, or undefined if not known. */
export function secretPathsOf(props: unknown): Set<string> | undefined {
    const raw = unwrap(props);
    return raw !== null && typeof raw === "object" ? secretPathsByProps.get(raw as object) : undefined;
}

/** Properties the provider schema always marks secret (used when the wire markers are unavailable). */
const SCHEMA_SECRETS: Record<string, string[]> = {
    "tls:index/privateKey:PrivateKey": ["privateKeyPem", "privateKeyOpenssh", "privateKeyPemPkcs8"],
    "aws:ssm/parameter:Parameter": ["value"],
    "aws:ec2/keyPair:KeyPair": [],
};

function isSecretPath(
    r: { type: string; props: unknown; opts?: { additionalSecretOutputs?: string[] } },
    path: (string | number)[],
): boolean {
    const tracked = secretPathsOf(r.props);
    const prefixes: string[] = [];
    for (let i = 1; i <= path.length; i++) prefixes.push(pathString(path.slice(0, i)));
    if (tracked) return prefixes.some((p) => tracked.has(p));
    const top = String(path[0]);
    return (SCHEMA_SECRETS[r.type] ?? []).includes(top) || (r.opts?.additionalSecretOutputs ?? []).includes(top);
}

export interface PrivateKeyBlock {
    format: "pem" | "ppk";
    text: string;
}

/**
 * Finds private keys in a text: PEM/OpenSSH blocks (`-----BEGIN ... PRIVATE KEY-----` with a real
 * base64 body, also inside JSON-escaped text) and PuTTY `.ppk` files. A bare header, as in code
 * that parses keys, is not key material.
 */
export function findPrivateKeys(text: string): PrivateKeyBlock[] {
    const out: PrivateKeyBlock[] = [];
    const begin = /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----/g;
    let m: RegExpExecArray | null;
    while ((m = begin.exec(text)) !== null) {
        const endMarker = `-----END ${m[1]}PRIVATE KEY-----`;
        const endAt = text.indexOf(endMarker, begin.lastIndex);
        if (endAt < 0) continue;
        const body = text
            .slice(begin.lastIndex, endAt)
            .replace(/\\[nr]/g, "\n")
            .split("\n")
            .filter((line) => !/^[A-Za-z-]+:/.test(line.trim()))
            .join("")
            .replace(/\s+/g, "");
        if (body.length >= 64 && /^[A-Za-z0-9+/=]+$/.test(body)) {
            out.push({
                format: "pem",
                text: text
                    .slice(m.index, endAt + endMarker.length)
                    .replace(/\\n/g, "\n")
                    .replace(/\\r/g, ""),
            });
            begin.lastIndex = endAt + endMarker.length;
        }
    }
    const ppk =
        /PuTTY-User-Key-File-\d+: [^\r\n\\]+(?:\\n|\r?\n)[\s\S]*?Private-Lines: \d+(?:\\n|\r?\n)(?:[A-Za-z0-9+/=]+(?:\\n|\r?\n))+(?:Private-MAC: [0-9a-fA-F]+)?/g;
    while ((m = ppk.exec(text)) !== null) out.push({ format: "ppk", text: m[0].replace(/\\n/g, "\n") });
    return out;
}

/**
 * Properties AWS keeps readable whatever Pulumi's secret marking: a private key there is exposed
 * to anyone who can read the resource. Returns the advice, or undefined.
 */
function plainAtRest(type: string, props: Record<string, unknown>, path: (string | number)[]): string | undefined {
    const top = path[0];
    if (type === "aws:ssm/parameter:Parameter") {
        if (top === "insecureValue") return "`insecureValue` is never encrypted: use `value` with type SecureString";
        if (top === "value" && str(props.type) !== undefined && props.type !== "SecureString") {
            return `a ${String(props.type)} parameter is readable by anyone with ssm:GetParameter: use type SecureString (KMS-encrypted)`;
        }
    }
    if (type === "aws:lambda/function:Function" && top === "environment") {
        return "Lambda environment variables are shown to anyone with lambda:GetFunctionConfiguration: read the key from a SecureString parameter or Secrets Manager at run time";
    }
    if (
        (type === "aws:ec2/instance:Instance" || type === "aws:ec2/launchTemplate:LaunchTemplate") &&
        /^userData/.test(String(top))
    ) {
        return "user data is readable from the instance metadata service and by ec2:DescribeInstanceAttribute: fetch the key from a SecureString parameter at boot";
    }
    return undefined;
}

interface Finding {
    path: (string | number)[];
    advice?: string;
}

function findingsIn(
    r: { type: string; name: string; props: unknown; opts?: { additionalSecretOutputs?: string[] } },
    ignore: string[],
): Finding[] {
    const props = unwrap(r.props) as Record<string, unknown>;
    if (!isObject(props)) return [];
    const out: Finding[] = [];
    walkStrings(props, (path, text) => {
        if (findPrivateKeys(text).length === 0) return;
        const p = pathString(path);
        if (ignore.some((g) => globMatch(g, `${r.type}:${p}`))) return;
        const advice = plainAtRest(r.type, props, path);
        if (advice !== undefined) out.push({ path, advice });
        else if (!isSecretPath(r, path)) out.push({ path });
    });
    return out;
}

function message(r: { type: string; name: string }, f: Finding, phase: "input" | "output"): string {
    const where = pathString(f.path);
    if (f.advice) return `${describe(r)} puts a private key in \`${where}\`: ${f.advice}.`;
    if (r.type === "pulumi:pulumi:Stack") {
        return `Stack output \`${where}\` is a private key in plain text: export it wrapped in pulumi.secret(...) (it is then encrypted in state and masked in output), or export only the public key.`;
    }
    return (
        `${describe(r)} has a private key in the plain ${phase} \`${where}\`: it would be stored unencrypted in the stack state and shown in diffs. ` +
        `Pass it as a secret (pulumi.secret(...), or additionalSecretOutputs for an output), or keep only the public key in the stack.`
    );
}

export const sshPrivateKeySecret: ResourceValidationPolicy & StackValidationPolicy = {
    name: PRIVATE_KEY_SECRET.name,
    description:
        "Checks whether private key material (PEM/OpenSSH `PRIVATE KEY` blocks, PuTTY .ppk files) appears in a property or stack output that is not a secret.",
    enforcementLevel: "mandatory",
    configSchema: PRIVATE_KEY_SECRET.schema,
    validateResource: (args: ResourceValidationArgs, reportViolation) => {
        const cfg = readConfig(args, PRIVATE_KEY_SECRET);
        for (const f of findingsIn(args, cfg.ignore)) reportViolation(message(args, f, "input"));
    },
    validateStack: (args: StackValidationArgs, reportViolation) => {
        const cfg = readConfig(args, PRIVATE_KEY_SECRET);
        for (const r of args.resources) {
            for (const f of findingsIn(r, cfg.ignore)) reportViolation(message(r, f, "output"), r.urn);
        }
    },
};
