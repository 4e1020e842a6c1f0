/**
 * ssh-certificate-validity: certificates expire by themselves only if they are short-lived. Judges
 * what a CA is meant to sign (SshCertificateAuthority `maxValidity`), every OpenSSH certificate in
 * a resource's plain properties (validity span, "forever", no principals, forbidden principals),
 * and the principals of access specs in SSM parameters.
 */
import type {
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";
import { BACKDATE_SECONDS, CertKind, formatDuration, parseCertificateLine, parseDuration } from "../core/certs";
import { readConfig } from "./config";
import { CHUNK_HEADER } from "./keys";
import { CERTIFICATE_VALIDITY, CertificateValidityConfig } from "./ruleConfig";
import { describe, isObject, num, pathString, str, unwrap, walkStrings } from "./util";

const SSH_CA = "pka-fleet:index:SshCertificateAuthority";
/** A certificate's `validBefore` that means "forever" (ssh-keygen -V without an end). */
const FOREVER = (1n << 64n) - 1n;
const CERT_LINE =
    /(?:^|[\s"'=,>:[])((?:sk-)?(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+)(?:@openssh\.com)?-cert-v01@openssh\.com[ \t]+AAAA[A-Za-z0-9+/]+={0,3})/g;

/** The configured bounds, in seconds; a bad duration is a config error naming the field. */
function bounds(cfg: CertificateValidityConfig): Record<CertKind, number> {
    const read = (field: "maxUserValidity" | "maxHostValidity") => {
        try {
            return parseDuration(cfg[field], field);
        } catch (e) {
            throw new Error(`${CERTIFICATE_VALIDITY.name}: ${(e as Error).message}; fix it in the policy pack config`);
        }
    };
    return { user: read("maxUserValidity"), host: read("maxHostValidity") };
}

const FIELD: Record<CertKind, string> = { user: "maxUserValidity", host: "maxHostValidity" };

/** A span for a message, to one decimal of its unit: 604861 -> "7d" (ssh-keygen backdates the start a minute). */
function roughDuration(seconds: number): string {
    for (const [unit, size] of [
        ["d", 86400],
        ["h", 3600],
        ["m", 60],
    ] as const)
        if (seconds >= 2 * size) return `${(seconds / size).toFixed(1).replace(/\.0$/, "")}${unit}`;
    return `${seconds}s`;
}

/** Certificate lines inside any text. */
export function certificateLinesIn(text: string): string[] {
    const out: string[] = [];
    CERT_LINE.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = CERT_LINE.exec(text)) !== null) out.push(m[1]);
    return out;
}

/** Why one certificate line breaks the bounds ([] when it does not, or when it is not a certificate). */
export function judgeCertificate(line: string, label: string, cfg: CertificateValidityConfig): string[] {
    let info: ReturnType<typeof parseCertificateLine>;
    try {
        info = parseCertificateLine(line, label);
    } catch {
        return [];
    }
    const max = bounds(cfg)[info.kind];
    const out: string[] = [];
    const what = `${label}: a ${info.kind} certificate (key id ${JSON.stringify(info.keyId)}, serial ${info.serial})`;
    if (info.validBefore === FOREVER) {
        out.push(
            `${what} is valid forever; issue it for at most ${formatDuration(max)} and renew it (${FIELD[info.kind]})`,
        );
    } else {
        const span = Number(info.validBefore - info.validAfter);
        // pka cert issue backdates the start by BACKDATE_SECONDS for clocks a little behind.
        if (span > max + BACKDATE_SECONDS)
            out.push(
                `${what} is valid for ${roughDuration(span)}, over the maximum of ${formatDuration(max)} (${FIELD[info.kind]}); issue a shorter one and renew it`,
            );
    }
    if (info.principals.length === 0)
        out.push(`${what} has no principals: OpenSSH accepts it for every ${info.kind}; name the principals`);
    const bad = info.principals.filter((p) => cfg.forbiddenPrincipals.includes(p));
    if (bad.length) out.push(`${what} names the forbidden principal(s) ${bad.join(", ")} (forbiddenPrincipals)`);
    return out;
}

/** Forbidden principals in an access spec (an SSM parameter value: the spec or one chunk of it). */
function specPrincipalProblems(value: string, label: string, cfg: CertificateValidityConfig): string[] {
    let spec: unknown;
    try {
        spec = JSON.parse(value.replace(CHUNK_HEADER, ""));
    } catch {
        return [];
    }
    if (!isObject(spec) || !Array.isArray(spec.users)) return [];
    const out: string[] = [];
    spec.users.forEach((u: unknown, i: number) => {
        if (!isObject(u) || !Array.isArray(u.principals)) return;
        const bad = u.principals.filter((p: unknown) => typeof p === "string" && cfg.forbiddenPrincipals.includes(p));
        if (bad.length)
            out.push(
                `${label} users[${i}].principals (user ${String(u.name)}) names the forbidden principal(s) ${bad.join(", ")}: a certificate for it would log in as ${String(u.name)} (forbiddenPrincipals)`,
            );
    });
    return out;
}

/** What a CA is meant to sign against the bound of its kind. */
export function judgeAuthority(
    r: { type: string; name: string },
    props: Record<string, unknown>,
    cfg: CertificateValidityConfig,
): string[] {
    const kind = str(props.kind);
    if (kind !== "user" && kind !== "host") return [];
    let seconds = num(props.maxValiditySeconds);
    if (seconds === undefined && str(props.maxValidity) !== undefined) {
        try {
            seconds = parseDuration(str(props.maxValidity)!, "maxValidity");
        } catch {
            return [];
        }
    }
    if (seconds === undefined) return [];
    const max = bounds(cfg)[kind];
    return seconds > max
        ? [
              `${describe(r)} is a ${kind} CA meant to sign certificates valid for ${formatDuration(seconds)}, over the maximum of ${formatDuration(max)} (${FIELD[kind]}); lower its maxValidity`,
          ]
        : [];
}

export const sshCertificateValidity: ResourceValidationPolicy & StackValidationPolicy = {
    name: CERTIFICATE_VALIDITY.name,
    description:
        "Checks that SSH certificates are short-lived and name their principals: user certificates valid at most 24h and host certificates 400d by default, never forever, never without principals or for root; and what each SshCertificateAuthority is meant to sign.",
    enforcementLevel: "mandatory",
    configSchema: CERTIFICATE_VALIDITY.schema,
    validateResource: (args: ResourceValidationArgs, reportViolation) => {
        const props = unwrap(args.props) as Record<string, unknown>;
        if (!isObject(props)) return;
        const cfg = readConfig(args, CERTIFICATE_VALIDITY);
        const seen = new Set<string>();
        const report = (v: string) => {
            if (!seen.has(v)) reportViolation(v);
            seen.add(v);
        };
        walkStrings(props, (path, text) => {
            for (const line of certificateLinesIn(text))
                for (const v of judgeCertificate(line, `${describe(args)} ${pathString(path)}`, cfg)) report(v);
        });
        if (args.type === "aws:ssm/parameter:Parameter")
            for (const k of ["value", "insecureValue"]) {
                const v = str(props[k]);
                if (v !== undefined) for (const p of specPrincipalProblems(v, `${describe(args)} ${k}`, cfg)) report(p);
            }
    },
    // A component's outputs are known only to the stack: judge each CA there.
    validateStack: (args: StackValidationArgs, reportViolation) => {
        const cfg = readConfig(args, CERTIFICATE_VALIDITY);
        for (const r of args.resources) {
            if (r.type !== SSH_CA) continue;
            const props = unwrap(r.props) as Record<string, unknown>;
            if (!isObject(props)) continue;
            for (const v of judgeAuthority(r, props, cfg)) reportViolation(v, r.urn);
        }
    },
};
