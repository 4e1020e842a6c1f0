/**
 * The grammar of the spec's user names: the login name pattern and the names refused with the
 * reason why (system and cloud-init accounts, stock group names).
 */

/**
 * What useradd accepts on Debian/Ubuntu and RHEL/Amazon Linux (shadow's chkname: letters, digits,
 * `_`, `.`, `-`, not `-` first, not all digits, not `.` or `..`), cut to lower case with a letter
 * or `_` first, which already excludes the all-digit names and `.`/`..`. No `+`, so the mapping
 * of the sudoers drop-in's name below is one to one.
 */
export const USER_NAME_PATTERN = /^[a-z_][a-z0-9_.-]{0,31}$/;

/**
 * The sudoers drop-in of a user: /etc/sudoers.d/90-pka-NAME with every `.` written `+`, because
 * sudo skips the files of an includedir whose names contain a `.` or end in `~` (sudoers(5),
 * "Including other files from within sudoers"). Names never contain `+`, so no two users share
 * a file. The script (STATE_AWK's dn) builds the same name.
 */
export function sudoersDropInName(user: string): string {
    return `90-pka-${user.replace(/\./g, "+")}`;
}

const SYSTEM_REASON = "is a system account: giving it an SSH login would hand out a service's identity";
const CLOUD_INIT_REASON =
    "is an AMI's default login user: cloud-init writes the EC2 key pair into its authorized_keys and " +
    "owns its sudo rule, so managing it here would fight cloud-init; use a dedicated user such as svc_user";

const GROUP_REASON =
    "is a group on stock Debian, Ubuntu or Amazon Linux images (or one that common packages add): useradd fails " +
    "where the group exists (it cannot create the user's own group), so the user would be missing there; choose another name";

/**
 * Group names of stock images that are not also account names listed above: Debian's base-passwd
 * (group.master), systemd's sysusers basic.conf, Fedora's setup package (the base of Amazon Linux
 * 2023), cloud-init's default-user groups (Debian: netdev, plugdev; Ubuntu: lxd) and the groups of
 * common packages (openssh-client _ssh, formerly ssh; cron's crontab; ssl-cert; docker).
 */
const GROUP_NAMES = [
    "users",
    "sudo",
    "staff",
    "wheel",
    "audio",
    "video",
    "plugdev",
    "netdev",
    "lxd",
    "docker",
    "input",
    "render",
    "kvm",
    "sgx",
    "clock",
    "disk",
    "tty",
    "dialout",
    "dip",
    "cdrom",
    "floppy",
    "tape",
    "fax",
    "voice",
    "shadow",
    "utmp",
    "utempter",
    "src",
    "sasl",
    "nogroup",
    "kmem",
    "mem",
    "lock",
    "crontab",
    "ssh",
    "_ssh",
    "ssh_keys",
    "ssl-cert",
];

/**
 * Names refused with the reason why. The script refuses the same names (RESERVED_ERE) except the
 * group names, and any existing account below UID_MIN.
 */
export const RESERVED_USER_NAMES: Readonly<Record<string, string>> = Object.freeze({
    ...Object.fromEntries(
        [
            "root",
            "daemon",
            "bin",
            "sys",
            "sync",
            "games",
            "man",
            "lp",
            "mail",
            "news",
            "uucp",
            "proxy",
            "www-data",
            "backup",
            "list",
            "irc",
            "gnats",
            "nobody",
            "nfsnobody",
            "sshd",
            "messagebus",
            "adm",
            "halt",
            "shutdown",
            "operator",
            "ftp",
            "polkitd",
            "chrony",
            "dbus",
            "rpc",
            "rpcuser",
            "tss",
            "systemd-network",
            "systemd-resolve",
            "systemd-timesync",
            "systemd-coredump",
            "_apt",
            "ec2-instance-connect",
        ].map((n) => [n, SYSTEM_REASON]),
    ),
    "ssm-user": "is the SSM agent's Session Manager account: the agent creates it and owns its sudo rule",
    ...Object.fromEntries(
        ["ec2-user", "ubuntu", "admin", "centos", "fedora", "rocky", "almalinux", "cloud-user"].map((n) => [
            n,
            CLOUD_INIT_REASON,
        ]),
    ),
    ...Object.fromEntries(GROUP_NAMES.map((n) => [n, GROUP_REASON])),
});

/**
 * The reserved names that are accounts (not the group names only), in RESERVED_USER_NAMES' order:
 * the names the on-host script refuses itself.
 */
export const RESERVED_ACCOUNT_NAMES: readonly string[] = Object.freeze(
    Object.keys(RESERVED_USER_NAMES).filter((n) => RESERVED_USER_NAMES[n] !== GROUP_REASON),
);

/** Checks a user name; returns the reason it is refused, or undefined. */
export function userNameProblem(name: string): string | undefined {
    if (!USER_NAME_PATTERN.test(name)) {
        return "must match ^[a-z_][a-z0-9_.-]{0,31}$ (lower-case letter or _ first, then up to 31 of a-z 0-9 _ . -)";
    }
    if (Object.prototype.hasOwnProperty.call(RESERVED_USER_NAMES, name))
        return `'${name}' ${RESERVED_USER_NAMES[name]}`;
    if (name.startsWith("systemd-")) return `'${name}' ${SYSTEM_REASON}`;
    return undefined;
}
