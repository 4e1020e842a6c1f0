/**
 * Login keys for sandbox-host tests, made once each with the real ssh-keygen (ed25519, no
 * passphrase, comment NAME@central) in the folder the test gives when it first asks.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

export type LoginKey = { priv: string; pub: string };

/** key(name): the key pair named so, made in dir() on first use (a "." in the name is "_" in the file name). */
export function loginKeys(dir: () => string): (name: string) => LoginKey {
    const keys: Record<string, LoginKey> = {};
    return (name) => {
        if (!keys[name]) {
            const priv = path.join(dir(), name.replace(/\./g, "_"));
            execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `${name}@central`, "-f", priv]);
            keys[name] = { priv, pub: fs.readFileSync(`${priv}.pub`, "utf8").trim() };
        }
        return keys[name];
    };
}
