/**
 * Public keys as text: the OpenSSH line ("type base64 comment", sshd(8) AUTHORIZED_KEYS FILE
 * FORMAT), the SSH protocol 1 line (read only to refuse it) and the RFC 4716 block
 * (`ssh-keygen -e`). The blob inside is read by blob.ts.
 */
import { cleanComment, decodeBase64, fingerprintOfBlob, infoFromBlob, parseBlob } from "./blob";
import { ACCEPTED_LINE, KeyError, KeyInfo, MAX_PUBLIC_LINE, SSH_KEY_TYPES } from "./types";
import { bitLength } from "./wire";

// ---------------------------------------------------------------------------------------------
// OpenSSH public key lines

function looksPrivate(text: string): boolean {
    return /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text) || /^PuTTY-User-Key-File-\d+:/m.test(text);
}

const KEY_TYPE_TOKEN =
    /(?:^|[\s,"])((?:ssh-(?:ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-[a-z0-9-]+@openssh\.com)(?:-cert-v01@openssh\.com)?)\s+AAAA/;

/** The line's text once it is known to be one line of printable text, not a block or a private key. */
function publicLineText(line: string, label: string): string {
    if (typeof line !== "string") {
        throw new KeyError(
            label,
            `must be a string holding ${ACCEPTED_LINE}; got ${line === null ? "null" : typeof line}`,
        );
    }
    if (line.length > MAX_PUBLIC_LINE) {
        throw new KeyError(
            label,
            `is ${line.length} characters, more than a public key line can be (${MAX_PUBLIC_LINE}); expected ${ACCEPTED_LINE}`,
        );
    }
    if (looksPrivate(line)) {
        throw new KeyError(
            label,
            "is a PRIVATE key; give its public key instead (the .pub file, or the output of `ssh-keygen -y -f KEYFILE`), and keep the private key secret",
        );
    }
    const text = line
        .replace(/^\uFEFF/, "")
        .replace(/[ \t]*\n$/, "")
        .trim();
    if (text === "") throw new KeyError(label, `is empty; expected ${ACCEPTED_LINE}`);
    if (/[\r\n]/.test(text)) {
        throw new KeyError(
            label,
            `contains a line break or carriage return; expected ${ACCEPTED_LINE}, one key per entry`,
        );
    }
    if (/[\x00-\x08\x0b-\x1f\x7f]/.test(text))
        throw new KeyError(label, `contains control characters; expected ${ACCEPTED_LINE}`);
    if (/^-----BEGIN/.test(text) || /^---- BEGIN SSH2/.test(text)) {
        throw new KeyError(
            label,
            `is a PEM/RFC 4716 block; expected ${ACCEPTED_LINE} (convert with \`ssh-keygen -i -f FILE\`)`,
        );
    }
    return text;
}

/** A line whose first word is no key type: an rsa1 key (read to be refused), else a refusal saying what it is. */
function lineWithoutKeyType(text: string, tokens: string[], label: string): KeyInfo {
    const first = tokens[0];
    const m = KEY_TYPE_TOKEN.exec(text);
    if (m && m.index > 0) {
        const opt = first
            .split(/[=,]/)[0]
            .slice(0, 40)
            .replace(/[^\x20-\x7e]/g, "?");
        throw new KeyError(
            label,
            `starts with authorized_keys options ('${opt}'...) before the key type ${m[1]}; give only the key here: options belong in keyOptions`,
        );
    }
    if (/^\d+$/.test(first) && tokens.length >= 3 && /^\d+$/.test(tokens[1]) && /^\d+$/.test(tokens[2])) {
        return parseRsa1(tokens, label);
    }
    if (/^AAAA/.test(first)) {
        throw new KeyError(label, `has no key type before its base64 data; expected ${ACCEPTED_LINE}`);
    }
    throw new KeyError(label, `is not an OpenSSH public key; expected ${ACCEPTED_LINE}`);
}

/**
 * Exactly one OpenSSH public key line ("type base64 [comment]"); a trailing newline is
 * tolerated, nothing else. Throws KeyError naming `label`.
 */
export function parsePublicKey(line: string, label = "key"): KeyInfo {
    const text = publicLineText(line, label);
    const tokens = text.split(/[ \t]+/);
    const first = tokens[0];
    if (!SSH_KEY_TYPES.includes(first) && !/^(ssh|ecdsa|sk)-/.test(first))
        return lineWithoutKeyType(text, tokens, label);
    if (tokens.length < 2) {
        throw new KeyError(
            label,
            `has the key type '${first.slice(0, 40)}' but no key data; expected ${ACCEPTED_LINE}`,
        );
    }
    const blob = decodeBase64(tokens[1], label, "the key data");
    const b = parseBlob(blob, label);
    if (b.wireType !== first) {
        throw new KeyError(
            label,
            `says '${first.slice(0, 40)}' but the key data is a ${b.wireType} key (type prefix mismatch); expected ${ACCEPTED_LINE} with matching type`,
        );
    }
    const afterType = text.slice(first.length).replace(/^[ \t]+/, "");
    const comment = cleanComment(afterType.slice(tokens[1].length), label);
    return infoFromBlob(b, { comment, isPrivate: false, encrypted: false, format: "ssh" });
}

/** SSH protocol 1 "bits e n comment": read only to refuse it with a reason. */
function parseRsa1(tokens: string[], label: string): KeyInfo {
    const [bitsText, eText, nText] = tokens;
    if (nText.length > 6000) throw new KeyError(label, "the rsa1 modulus is too long");
    const n = BigInt(nText);
    const e = BigInt(eText);
    const nHex = n.toString(16);
    const nBuf = Buffer.from(nHex.length % 2 ? "0" + nHex : nHex, "hex");
    const eHex = e.toString(16);
    const eBuf = Buffer.from(eHex.length % 2 ? "0" + eHex : eHex, "hex");
    const comment = cleanComment(tokens.slice(3).join(" "), label);
    const bits = Number(bitsText) || bitLength(nBuf);
    return {
        type: "rsa1",
        bits,
        // What OpenSSH 7.x printed for rsa1: the hash of the modulus then the exponent.
        fingerprint: fingerprintOfBlob(Buffer.concat([nBuf, eBuf])),
        comment,
        publicKey: `${bitsText} ${eText} ${nText}${comment ? " " + comment : ""}`,
        isPrivate: false,
        encrypted: false,
        format: "ssh",
    };
}

// ---------------------------------------------------------------------------------------------
// RFC 4716 ("---- BEGIN SSH2 PUBLIC KEY ----")

/** @internal An RFC 4716 public key block (`ssh-keygen -e`); its Comment header is the comment. */
export function parseRfc4716(s: string, label: string): KeyInfo {
    const lines = s.split(/\r?\n/).map((l) => l.trim());
    const endIdx = lines.indexOf("---- END SSH2 PUBLIC KEY ----");
    if (endIdx < 0 || lines.slice(endIdx + 1).some((l) => l !== "")) {
        throw new KeyError(label, "the RFC 4716 block has no END line or text after it");
    }
    let comment = "";
    const body: string[] = [];
    let i = 1;
    while (i < endIdx) {
        let l = lines[i];
        if (/^[A-Za-z-]+:/.test(l)) {
            while (l.endsWith("\\") && i + 1 < endIdx) l = l.slice(0, -1) + lines[++i];
            const [k, ...v] = l.split(":");
            if (k.toLowerCase() === "comment")
                comment = v
                    .join(":")
                    .trim()
                    .replace(/^"(.*)"$/, "$1");
        } else if (l !== "") body.push(l);
        i++;
    }
    const blob = decodeBase64(body.join(""), label, "the RFC 4716 key data");
    const b = parseBlob(blob, label);
    return infoFromBlob(b, {
        comment: cleanComment(comment, label),
        isPrivate: false,
        encrypted: false,
        format: "ssh",
    });
}
