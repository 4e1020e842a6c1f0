/**
 * The dynamic provider behind `SshKeyPair`'s `generate` source: the key is generated once in
 * `create` and then lives in stack state, so `pulumi up` never mints a new key by accident.
 * Pulumi serializes `keyPairProvider` with its closure serializer and runs the text later in its
 * own `node` process (see the end of this file for how the implementation is found there).
 * No @pulumi runtime import here: the provider process loads this module as it is.
 */
import type * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import * as keys from "../core/keygen";
import * as ppk from "../core/ppk";
import sshpk = require("sshpk");

/** What the dynamic resource receives; the component normalizes every field first. */
export interface GeneratedKeyInputs {
    keyType: "ed25519" | "ecdsa" | "rsa";
    bits: number;
    curve?: string;
    comment: string;
    passphrase?: string;
    rotationTrigger?: string;
    ppk: boolean;
    /** The key belongs to a non-interactive service account (no passphrase by design). Recorded in
     * state so the policy pack's ssh-key-passphrase rule can tell it from a person's key. */
    service?: boolean;
}

/** The dynamic resource's state (outputs). Inputs are kept too: `diff` compares against them. */
export interface GeneratedKeyState extends GeneratedKeyInputs {
    publicKey: string;
    fingerprint: string;
    /** OpenSSH private key; bcrypt/aes256-ctr encrypted when `passphrase` is set. */
    privateKey: string;
    /** PuTTY PPK v3, only when `ppk` is true. */
    privateKeyPpk?: string;
    /** ISO time the key was generated; kept by updates. */
    createdAt: string;
}

// REPLACE_ON and UPDATE_ON are read by `diff`, which is serialized: exported in an `export { }`
// clause (below), not as `export const`, so that the compiled code reads the local binding and not
// `exports.REPLACE_ON` (see "The serialized provider").
/** A change to one of these is a new key. */
const REPLACE_ON = ["keyType", "bits", "curve", "rotationTrigger"];
/** A change to one of these re-encodes the same key (update). */
const UPDATE_ON = ["passphrase", "comment", "ppk", "service"];
export { REPLACE_ON, UPDATE_ON };
/** Flags: absent means false. */
const FLAGS = ["ppk", "service"];
/** Outputs the engine must store as secrets. */
export const SECRET_OUTPUTS = ["privateKey", "privateKeyPpk", "passphrase"];

function same(a: unknown, b: unknown): boolean {
    // Pulumi drops undefined properties, and `""` means "no passphrase / no trigger" too.
    const norm = (v: unknown) => (v === undefined || v === null || v === "" ? undefined : v);
    return norm(a) === norm(b);
}

/**
 * Encodes an unencrypted OpenSSH private key for the inputs: encryption with the passphrase and
 * the optional PPK. Random salts make every encoding different, so this runs only in create and
 * update, never on a read or diff.
 */
async function encode(plain: string, inputs: GeneratedKeyInputs, createdAt: string): Promise<GeneratedKeyState> {
    const info = keys.parseKey(plain, { label: "generated key" });
    const passphrase = inputs.passphrase ? inputs.passphrase : undefined;
    const state: GeneratedKeyState = {
        keyType: inputs.keyType,
        bits: inputs.bits,
        comment: inputs.comment,
        ppk: !!inputs.ppk,
        publicKey: info.publicKey,
        fingerprint: info.fingerprint,
        privateKey: passphrase ? keys.encryptPrivateKey(plain, passphrase) : plain,
        createdAt,
    };
    if (inputs.curve) state.curve = inputs.curve;
    if (passphrase) state.passphrase = passphrase;
    if (inputs.rotationTrigger) state.rotationTrigger = inputs.rotationTrigger;
    if (inputs.service) state.service = true;
    if (inputs.ppk) state.privateKeyPpk = await ppk.toPpk(plain, { passphrase, comment: inputs.comment });
    return state;
}

/** The same key as `privateKey` (decrypted with the old passphrase), with `comment` set. */
function rekey(privateKey: string, oldPassphrase: string | undefined, comment: string): string {
    // sshpk caches the public key on first use: set the comment before anything reads it.
    const key = sshpk.parsePrivateKey(privateKey, "openssh", oldPassphrase ? { passphrase: oldPassphrase } : {});
    key.comment = comment;
    return key.toString("openssh");
}

export async function createKey(inputs: GeneratedKeyInputs): Promise<pulumi.dynamic.CreateResult> {
    const made = keys.generateKey({
        type: inputs.keyType,
        bits: inputs.bits,
        curve: inputs.curve,
        comment: inputs.comment,
    });
    const outs = await encode(made.privateKey, inputs, new Date().toISOString());
    return { id: outs.fingerprint, outs };
}

/** The UPDATE_ON fields that differ between the state and the new inputs. */
function updatedFields(o: Record<string, unknown>, n: Record<string, unknown>): string[] {
    return UPDATE_ON.filter((k) => (FLAGS.includes(k) ? !!o[k] !== !!n[k] : !same(o[k], n[k])));
}

export function diffKey(olds: GeneratedKeyState, news: GeneratedKeyInputs): pulumi.dynamic.DiffResult {
    const o = olds as unknown as Record<string, unknown>;
    const n = news as unknown as Record<string, unknown>;
    const replaces = REPLACE_ON.filter((k) => !same(o[k], n[k]));
    const updates = updatedFields(o, n);
    const changes = replaces.length + updates.length > 0;
    // A replacement creates the new key first (Pulumi's default), so consumers can move over.
    return { changes, replaces, deleteBeforeReplace: false };
}

export async function updateKey(
    olds: GeneratedKeyState,
    news: GeneratedKeyInputs,
): Promise<pulumi.dynamic.UpdateResult> {
    // Only the service flag changed: record it and keep the key's encodings as they are.
    if (
        updatedFields(olds as unknown as Record<string, unknown>, news as unknown as Record<string, unknown>).every(
            (k) => k === "service",
        )
    ) {
        const outs: GeneratedKeyState = { ...olds };
        if (news.service) outs.service = true;
        else delete outs.service;
        return { outs };
    }
    const plain = rekey(olds.privateKey, olds.passphrase, news.comment);
    return { outs: await encode(plain, news, olds.createdAt) };
}

// ---------------------------------------------------------------------------------------------
// The serialized provider.
//
// The closure serializer copies local modules by value, and that breaks core/keys (a module-level
// Buffer comes out as a plain object; sshpk internals get copied too). So the provider captures
// only strings and small functions, and loads this module for real, inside its methods, in the
// provider process. Two rules keep the serialized text whole:
//  - the functions it captures use no `export const` of this module: TypeScript compiles such a
//    use to `exports.X`, which the serializer either leaves as a free `exports` (undefined in the
//    provider process) or, in an installed package, captures as the whole module, which it must
//    then name by a subpath of the package's "exports" map;
//  - the module is found in the provider process by its absolute path (the usual case: same
//    machine, same checkout or install), else relative to the working directory (the checkout
//    moved, e.g. another CI runner), else as the package subpath `pka-fleet/keyPairProvider`
//    resolved from the working directory (an installed package, also after the project moved, and a
//    linked one). A `.ts` file (this repository's own program runs from source) needs ts-node, which
//    Pulumi's TypeScript programs have already.

/** The subpath of the package's "exports" map that names this module (package.json). */
export const PROVIDER_SUBPATH = "keyPairProvider";

/** The package name this module is found under: its node_modules folder, else the nearest package.json. */
function ownPackageName(): string {
    const marker = `${path.sep}node_modules${path.sep}`;
    const at = __filename.lastIndexOf(marker);
    if (at >= 0) {
        const parts = __filename.slice(at + marker.length).split(path.sep);
        return parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
    }
    for (let dir = path.dirname(__filename); ; dir = path.dirname(dir)) {
        const manifest = path.join(dir, "package.json");
        if (fs.existsSync(manifest)) {
            const name = JSON.parse(fs.readFileSync(manifest, "utf8")).name;
            if (typeof name === "string" && name !== "") return name;
        }
        if (path.dirname(dir) === dir) return "pka-fleet";
    }
}

const SELF = __filename;
const SELF_FROM_CWD = path.relative(process.cwd(), __filename);
/** "pka-fleet/keyPairProvider": how a project that installed the package requires this module. */
const SELF_SPECIFIER = `${ownPackageName()}/${PROVIDER_SUBPATH}`;

/** This module, loaded in whatever process runs the provider. */
export function loadImplementation(): typeof import("./keyPairProvider") {
    const fs = require("fs");
    const p = require("path");
    const cwd = process.cwd();
    const candidates = [SELF, p.resolve(cwd, SELF_FROM_CWD)].filter((c: string) => fs.existsSync(c));
    if (candidates.length > 0) {
        if (candidates[0].endsWith(".ts") && !require.extensions[".ts"]) {
            const tsNode = require(require.resolve("ts-node", { paths: [p.dirname(candidates[0]), cwd] }));
            tsNode.register({ transpileOnly: true, projectSearchDir: p.dirname(candidates[0]) });
        }
        return require(candidates[0]);
    }
    let resolved: string | undefined;
    let why = "";
    try {
        resolved = require.resolve(SELF_SPECIFIER, { paths: [cwd] });
    } catch (e) {
        why = ` (${(e as { code?: string }).code ?? (e as Error).message})`;
    }
    if (resolved) return require(resolved);
    throw new Error(
        `pka-fleet: cannot find the SshKeyPair provider module: not at ${SELF}, not at ${SELF_FROM_CWD} from ${cwd}, ` +
            `and "${SELF_SPECIFIER}" does not resolve from ${cwd}${why}. Run pulumi in the project directory that has pka-fleet ` +
            `installed (npm install pka-fleet), with the version that created the key or a later one.`,
    );
}

/**
 * The provider object Pulumi serializes. `diff` is self-contained (it also runs in previews);
 * `create`/`update` load the implementation. `delete` does nothing: the key exists only in state.
 * No `read`: a refresh keeps the state as it is (nothing outside the state to read).
 */
export const keyPairProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: any) {
        return loadImplementation().createKey(inputs);
    },
    async diff(_id: string, olds: any, news: any) {
        return diffKey(olds, news);
    },
    async update(_id: string, olds: any, news: any) {
        return loadImplementation().updateKey(olds, news);
    },
    async delete() {
        return;
    },
};
