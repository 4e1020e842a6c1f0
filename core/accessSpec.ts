/**
 * The access spec validated and normalized, once, for every consumer (component, CLI, Lambda):
 * its users, their sudo mode, their SSH keys and the options on those keys. The on-host script
 * re-validates what it receives, but it only ever receives values that passed this module.
 */
import { AccessSpec, AccessSpecError, AccessUser, ValidateAccessSpecOptions } from "./accessSpecTypes";
import { checkNow, normalizeKeyOptions } from "./keyOptions";
import { parsePublicKey } from "./keys/publicKey";
import { judgeKey } from "./keys/rules";
import { INSTALLABLE_KEY_TYPES, KeyRules } from "./keys/types";
import { userNameProblem } from "./userNames";
import { normalizeGroups, normalizeSudoCommands } from "./userAccess";
import { normalizeCertificates, normalizePrincipals } from "./accessCertificates";

// Moved to their own modules; re-exported for the importers of this one (components/, lambda/, local/, bench/).
export type { AccessSpec, AccessUser } from "./accessSpecTypes";
export { AccessSpecError } from "./accessSpecTypes";
export { accessSpecHash, canonicalAccessSpecJson } from "./accessSpecJson";
export { normalizeKeyOptions } from "./keyOptions";
export { userNameProblem } from "./userNames";

// ---------------------------------------------------------------------------------------------
// Keys

const COMMENT_UNSAFE = /[^A-Za-z0-9._@+:=\/-]/g;
export const MAX_COMMENT_LENGTH = 100;

/** The key's comment reduced to characters that are inert everywhere it is written (authorized_keys, logs, sh). */
export function safeComment(comment: string): string {
    return comment.trim().replace(/\s+/g, "_").replace(COMMENT_UNSAFE, "_").slice(0, MAX_COMMENT_LENGTH);
}

function normalizeKey(
    input: unknown,
    path: string,
    rules: Partial<KeyRules> | undefined,
): { id: string; line: string } {
    if (typeof input !== "string") throw new AccessSpecError(path, "must be a string: an OpenSSH public key line");
    let line = input;
    if (/PRIVATE KEY-----|PuTTY-User-Key-File/.test(line)) {
        throw new AccessSpecError(
            path,
            "is a PRIVATE key; give its public key (the .pub file) and keep the private key secret",
        );
    }
    // One trailing newline is what reading a .pub file gives; anything else is a second line.
    if (line.endsWith("\n")) line = line.slice(0, -1);
    if (/[\x00-\x1f\x7f]/.test(line)) {
        throw new AccessSpecError(
            path,
            "contains a control character (newline, carriage return, ...); give exactly one key line",
        );
    }
    if (line.length > 16384) throw new AccessSpecError(path, "is longer than 16384 characters");
    let info;
    try {
        info = parsePublicKey(line.trim(), path);
    } catch (e) {
        throw new AccessSpecError(path, (e as Error).message);
    }
    if (info.isPrivate) throw new AccessSpecError(path, "is a private key; give the public key (the .pub file)");
    const violations = judgeKey(info, rules, { label: path });
    if (violations.length) throw new AccessSpecError(path, violations.join("; "));
    const [type, blob] = info.publicKey.split(" ");
    if (!INSTALLABLE_KEY_TYPES.includes(type) || !/^[A-Za-z0-9+\/]+={0,2}$/.test(blob ?? "")) {
        throw new AccessSpecError(
            path,
            `key type '${type}' cannot be installed; use ${INSTALLABLE_KEY_TYPES.join(", ")}`,
        );
    }
    const comment = safeComment(info.comment ?? "");
    return { id: `${type} ${blob}`, line: comment ? `${type} ${blob} ${comment}` : `${type} ${blob}` };
}

function normalizeKeyList(list: unknown, path: string, rules: Partial<KeyRules> | undefined): string[] {
    if (list === undefined) return [];
    if (!Array.isArray(list)) throw new AccessSpecError(path, "must be an array of OpenSSH public key lines");
    const seen = new Set<string>();
    const out: string[] = [];
    list.forEach((k, j) => {
        const key = normalizeKey(k, `${path}[${j}]`, rules);
        // The same key twice (perhaps with another comment) is one key: the first comment wins.
        if (!seen.has(key.id)) {
            seen.add(key.id);
            out.push(key.line);
        }
    });
    return out;
}

// ---------------------------------------------------------------------------------------------
// The spec

/** The fields of a spec user (the README's spec reference lists each). */
export const USER_FIELDS: readonly string[] = [
    "name",
    "sudo",
    "sudoCommands",
    "groups",
    "keys",
    "keyOptions",
    "adopt",
    "principals",
];
/** The fields of a spec. */
export const SPEC_FIELDS: readonly string[] = ["users", "fallbackKeys", "certificates"];

function isObject(x: unknown): x is Record<string, unknown> {
    return typeof x === "object" && x !== null && !Array.isArray(x);
}

/**
 * Validates an access spec (parsed JSON or an object built in code) and returns it normalized:
 * users sorted by name, keys as `type base64 comment` with duplicates removed, fallback keys given
 * to users without keys, keyOptions canonical. Throws AccessSpecError naming the offending path.
 */
export function validateAccessSpec(input: unknown, opts: ValidateAccessSpecOptions = {}): AccessSpec {
    checkNow(opts.now, "validateAccessSpec");
    if (!isObject(input)) throw new AccessSpecError("", 'the access spec must be an object: { "users": [ ... ] }');
    for (const k of Object.keys(input)) {
        if (!SPEC_FIELDS.includes(k))
            throw new AccessSpecError(k, `unknown field; the spec has only ${SPEC_FIELDS.join(", ")}`);
    }
    if (!Array.isArray(input.users))
        throw new AccessSpecError("users", "must be an array of users ({ name, sudo, keys, keyOptions })");
    const fallback = [
        ...normalizeKeyList(opts.fallbackKeys, "fallbackKeys (option)", opts.keyRules),
        ...normalizeKeyList(input.fallbackKeys, "fallbackKeys", opts.keyRules),
    ].filter((line, i, all) => all.findIndex((o) => keyId(o) === keyId(line)) === i);

    const certificates = normalizeCertificates(input.certificates);
    const names = new Map<string, number>();
    const users = input.users.map((u: unknown, i: number) =>
        validateUser(u, i, names, fallback, opts, certificates !== undefined),
    );
    users.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return certificates ? { users, certificates } : { users };
}

/** users[i] of the spec, normalized; `names` holds the names seen before it (name -> index). */
function validateUser(
    u: unknown,
    i: number,
    names: Map<string, number>,
    fallback: string[],
    opts: ValidateAccessSpecOptions,
    certificates: boolean,
): AccessUser {
    const p = `users[${i}]`;
    if (!isObject(u)) throw new AccessSpecError(p, "must be an object { name, sudo, keys, keyOptions }");
    for (const k of Object.keys(u)) {
        if (!USER_FIELDS.includes(k))
            throw new AccessSpecError(`${p}.${k}`, `unknown field; a user has only ${USER_FIELDS.join(", ")}`);
    }
    if (typeof u.name !== "string") throw new AccessSpecError(`${p}.name`, "is required: the login name");
    const problem = userNameProblem(u.name);
    if (problem) throw new AccessSpecError(`${p}.name`, problem);
    if (names.has(u.name))
        throw new AccessSpecError(
            `${p}.name`,
            `'${u.name}' is already users[${names.get(u.name)}]; each user appears once`,
        );
    names.set(u.name, i);
    const sudo = u.sudo ?? "none";
    if (sudo !== "nopasswd" && sudo !== "password" && sudo !== "none")
        throw new AccessSpecError(`${p}.sudo`, 'must be "nopasswd", "password" or "none"');
    const sudoCommands = normalizeSudoCommands(u.sudoCommands, sudo, `${p}.sudoCommands`);
    const groups = normalizeGroups(u.groups, u.name, `${p}.groups`);
    let keys = normalizeKeyList(u.keys, `${p}.keys`, opts.keyRules);
    if (keys.length === 0) keys = fallback;
    // In certificate mode a user may log in by certificate only.
    if (keys.length === 0 && !certificates) {
        throw new AccessSpecError(
            `${p}.keys`,
            "is empty and no fallbackKeys are set; give the user a key, or set fallbackKeys (or certificates, for certificate logins only)",
        );
    }
    const principals = normalizePrincipals(u.principals, certificates, `${p}.principals`);
    const keyOptions =
        u.keyOptions === undefined
            ? undefined
            : normalizeKeyOptions(u.keyOptions as string, `${p}.keyOptions`, opts.now);
    if (u.adopt !== undefined && typeof u.adopt !== "boolean")
        throw new AccessSpecError(`${p}.adopt`, "must be true or false (default false)");
    const user: AccessUser =
        keyOptions === undefined ? { name: u.name, sudo, keys } : { name: u.name, sudo, keys, keyOptions };
    if (sudoCommands) user.sudoCommands = sudoCommands;
    if (groups) user.groups = groups;
    if (u.adopt === true) user.adopt = true;
    if (principals) user.principals = principals;
    return user;
}

function keyId(line: string): string {
    return line.split(" ").slice(0, 2).join(" ");
}
