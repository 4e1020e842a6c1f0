/**
 * How a sandbox host starts: `unshare --mount --pid --uts --fork --kill-child --mount-proc` runs
 * SETUP as the new namespaces' pid 1, which gives the host its own /etc (a tmpfs copy), tmpfs on
 * /home, /run, /tmp, /var/log, /var/lib and /var/mail, fresh host keys and an sshd_config
 * (sshd_config(5): `UsePAM no`, `StrictModes yes`, public keys only), and ends by exec'ing sshd.
 */

export type HostKeyType = "ed25519" | "ecdsa" | "rsa";

export const DEFAULT_HOST_KEY_TYPES: HostKeyType[] = ["ed25519", "ecdsa"];

/** The PATH of every command run on a host (the SSM agent's is the same). */
export const HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Runs inside the new namespaces as their pid 1 and ends by exec'ing sshd.
const SETUP = String.raw`set -eu
port=$1 name=$2 keytypes=$3 extra=$4
mount --make-rprivate /
mount -t tmpfs -o mode=0755 pka-run /run
mkdir /run/pka-etc
cp -a /etc/. /run/pka-etc/
mount --bind /run/pka-etc /etc
for d in /home /tmp /var/log /var/lib /var/mail; do
    if [ -d "$d" ]; then mount -t tmpfs -o mode=0755 pka-host "$d"; fi
done
chmod 1777 /tmp
hostname "$name"
printf '%s\n' "$name" >/etc/hostname
printf '127.0.1.1 %s\n' "$name" >>/etc/hosts
mkdir -p /run/sshd /var/log/sudo
chmod 0755 /run/sshd
rm -f /etc/ssh/ssh_host_*
{
    # As Debian, Ubuntu and Amazon Linux 2023 ship it: drop-ins first (the first setting wins)
    echo "Include /etc/ssh/sshd_config.d/*.conf"
    echo "Port $port"
    echo "ListenAddress 127.0.0.1"
    for t in $keytypes; do echo "HostKey /etc/ssh/ssh_host_$t""_key"; done
    echo "UsePAM no"
    echo "PasswordAuthentication no"
    echo "KbdInteractiveAuthentication no"
    echo "PubkeyAuthentication yes"
    echo "PermitRootLogin no"
    echo "StrictModes yes"
    echo "AuthorizedKeysFile .ssh/authorized_keys"
    echo "PidFile /run/sshd.pid"
    echo "LogLevel VERBOSE"
    printf '%s' "$extra"
} >/etc/ssh/sshd_config
rm -rf /etc/ssh/sshd_config.d
mkdir -m 755 /etc/ssh/sshd_config.d
for t in $keytypes; do ssh-keygen -q -N '' -t "$t" -f "/etc/ssh/ssh_host_$t""_key"; done
exec /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config
`;

/** The `unshare` argv that starts host `name` with sshd on 127.0.0.1:`port`; throws on a bad key type, name or config line. */
export function unshareArgs(name: string, port: number, keyTypes: HostKeyType[], sshdConfig: string[]): string[] {
    for (const t of keyTypes)
        if (!["ed25519", "ecdsa", "rsa"].includes(t)) throw new Error(`unknown host key type ${t}`);
    if (!/^[A-Za-z0-9-]{1,63}$/.test(name)) throw new Error(`host name must be letters, digits and -: ${name}`);
    const extra = sshdConfig.map((l) => {
        if (/[\n\r]/.test(l)) throw new Error("sshdConfig lines must not contain line breaks");
        return l + "\n";
    });
    return [
        "--mount",
        "--pid",
        "--uts",
        "--fork",
        "--kill-child",
        "--mount-proc",
        "/bin/sh",
        "-c",
        SETUP,
        "pka-host",
        String(port),
        name,
        keyTypes.join(" "),
        extra.join(""),
    ];
}
