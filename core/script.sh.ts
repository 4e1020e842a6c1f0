/**
 * The shell script the setup document runs on every host: the one place its text lives.
 *
 * It is written as a String.raw template so backslashes stay as written; the only `${...}` in it
 * are the TypeScript constants interpolated below (grammar, markers, reserved names), which keeps
 * the script and the TypeScript validation on one definition. The script itself never uses the
 * `${...}` form, and never contains a double opening brace, so the SSM agent's text substitution
 * has nothing to act on.
 */
import {
    BLOCK_BEGIN,
    BLOCK_END,
    HEADER_ERE,
    KEY_LINE_ERE,
    MANIFEST_VERSION,
    RESERVED_ERE,
    USER_LINE_ERE,
} from "./accessSpec";
import { INSTALLABLE_KEY_TYPES } from "./keys";

/** Exit codes of the script (also in the README). */
/** The exit code the Lambda treats as an agent too old for ENV_VAR (no retry). */
export const EXIT_NO_PARAMETERS = 9;
/** SSM Agent version from which `interpolationType: ENV_VAR` parameters reach the script as environment variables. */
export const MIN_AGENT_VERSION = "3.3.2746.0";

/** True when `version` (dotted numbers, as DescribeInstanceInformation's AgentVersion) is older than MIN_AGENT_VERSION; unknown: false. */
export function agentTooOld(version: string | undefined): boolean {
    if (!version || !/^\d+(\.\d+)*$/.test(version)) return false;
    const a = version.split(".").map(Number);
    const b = MIN_AGENT_VERSION.split(".").map(Number);
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
        const d = (a[i] ?? 0) - (b[i] ?? 0);
        if (d !== 0) return d < 0;
    }
    return false;
}
export const SCRIPT_EXIT_CODES: Readonly<Record<number, string>> = Object.freeze({
    0: "done (the summary line says what changed)",
    9: "the agent passed no parameters: neither SSM_AccessSpec nor SSM_AccessSpecSha256 is set (an SSM Agent older than 3.3.2746.0 does not pass ENV_VAR parameters; update it with AWS-UpdateSSMAgent). The Lambda dead-letters it at once as agent-too-old",
    10: "parameters malformed (SSM_AccessSpec / SSM_AccessSpecSha256 set but not the right shape or too long)",
    11: "AccessSpec is not valid base64 or does not match AccessSpecSha256 (truncated or altered)",
    12: "the access spec's content is invalid (a line that breaks the grammar, a duplicate or reserved user)",
    13: "a command the script needs is missing on the host",
    14: "a user needs sudo but sudo/visudo is missing or /etc/sudoers does not include /etc/sudoers.d",
    15: "no longer raised: a user that conflicts with the host is reported and skipped (19), the rest applied",
    16: "another run held the lock for 120 s",
    17: "a sudoers drop-in failed `visudo -cf` (nothing was changed)",
    18: "a write failed part-way (files already written are complete; the rest keep their previous content)",
    19: "partial: every other user and every revocation applied; the users named in PKA-CONFLICT lines (stderr) were not (a system or foreign account, a group of that name, a home that is not a directory, a symlinked, linked or non-regular ~/.ssh or authorized_keys)",
});

/** PKA-USER/PKA-REVOKED lines printed at most; the rest are counted in one PKA-OMITTED line. */
export const MAX_REPORTED_USERS = 50;

/** A host key line as the script prints it: the installable key types, the same list as the spec grammar. */
const HOST_KEY_ERE = `(${INSTALLABLE_KEY_TYPES.join("|")}) [A-Za-z0-9+/]+={0,2}`;

/** Only what cannot break out of single quotes may be interpolated. */
function sq(value: string): string {
    if (value.includes("'") || /[\n\r]/.test(value)) throw new Error(`cannot embed ${JSON.stringify(value)} in the script`);
    return `'${value}'`;
}
/** A multi-line program as one single-quoted word: newlines cannot end single quotes, a quote can. */
function sqProgram(value: string): string {
    if (value.includes("'") || value.includes("\r") || value.includes("{{")) throw new Error("cannot embed a program with a quote, CR or {{ in the script");
    return `'${value}'`;
}

/**
 * What the script runs AS THE USER (never as root) for each account's home:
 *   sh -c "$HOME_HELPER" pka-home HOME MAXBYTES grant|revoke BEGIN_MARK END_MARK MERGE_AWK
 * with the new managed block on stdin (empty to revoke). It replaces the block in
 * ~/.ssh/authorized_keys (temp file + rename), keeps every other line, sets the modes sshd's
 * StrictModes wants, and prints one word: unchanged, changed, or what it refused. Links, FIFOs,
 * directories and files of another owner are refused, never followed; so is a second hard link.
 * Whatever the user swaps in while it runs, it is reached with her own rights only.
 */
export const HOME_HELPER = String.raw`umask 077
home=$1 max=$2 mode=$3 begin=$4 end=$5 merge=$6
scratch="" staged=""
# shellcheck disable=SC2317
cleanup() { rm -rf -- "$scratch" "$staged"; }
trap cleanup EXIT
out() { printf "%s\n" "$1"; exit 0; }
cd -- "$home" 2>/dev/null || out home-unreadable
me=$(id -u)
if [ -L .ssh ]; then out ssh-symlink; fi
if [ -e .ssh ] && [ ! -d .ssh ]; then out ssh-not-dir; fi
if [ ! -e .ssh ]; then
    [ "$mode" = grant ] || out unchanged
    mkdir -m 700 .ssh 2>/dev/null || out ssh-create-failed
fi
cd .ssh 2>/dev/null || out ssh-unreadable
st=$(stat -c "%u %a" .) || out ssh-unreadable
# shellcheck disable=SC2086
set -- $st
[ "$1" = "$me" ] || out ssh-not-owned
sshmode=$2
# Scratch files live in a private directory of the user, so a run that changes nothing leaves
# even the mtime of ~/.ssh alone; only the final temp file is made in ~/.ssh, to rename it over.
scratch=$(mktemp -d /tmp/.pka-home.XXXXXX) || out write-failed
blk=$scratch/block cur=$scratch/old new=$scratch/new
if ! cat >"$blk" || ! : >"$cur"; then out write-failed; fi
had=0 akmode=600
if [ -L authorized_keys ]; then out ak-symlink; fi
if [ -e authorized_keys ]; then
    [ -f authorized_keys ] || out ak-not-file
    st=$(stat -c "%h %u %s %a" authorized_keys) || out ak-unreadable
    # shellcheck disable=SC2086
    set -- $st
    [ "$1" = 1 ] || out ak-hard-links
    [ "$2" = "$me" ] || out ak-not-owned
    [ "$3" -le "$max" ] || out ak-too-large
    akmode=$4
    # O_NONBLOCK: a FIFO swapped in after the checks answers at once instead of hanging the run
    dd if=authorized_keys of="$cur" bs="$max" count=1 iflag=nonblock 2>/dev/null || out ak-unreadable
    had=1
fi
awk -v b="$begin" -v e="$end" -v blk="$blk" "$merge" "$cur" >"$new" || out write-failed
changed=0 wrote=0
if [ "$had" = 0 ] && [ ! -s "$new" ]; then
    :
elif [ "$had" = 1 ] && [ "$(sha256sum <"$new")" = "$(sha256sum <"$cur")" ]; then
    :
else
    staged=$(mktemp .pka-authorized_keys.XXXXXX) || out write-failed
    cat "$new" >"$staged" || out write-failed
    # -T: a directory swapped in is an error, not a place to move the file into
    mv -fT -- "$staged" authorized_keys || out write-failed
    staged=""
    changed=1 wrote=1
fi
if [ "$sshmode" != 700 ]; then chmod 700 . || out write-failed; changed=1; fi
# a file written here is 600 already (mktemp); one kept as it was may not be
if [ "$had" = 1 ] && [ "$wrote" = 0 ] && [ "$akmode" != 600 ]; then
    chmod 600 authorized_keys || out write-failed
    changed=1
fi
if [ "$changed" = 1 ]; then out changed; fi
out unchanged
`;

/** Replaces the managed block of the file it reads with the block in the file `blk` (or appends it). */
export const MERGE_AWK = String.raw`
function emit(  l) { while ((getline l < blk) > 0) print l; close(blk); done = 1 }
$0 == b { if (!done) emit(); inblock = 1; next }
$0 == e { inblock = 0; next }
inblock { next }
{ print }
END { if (!done) emit() }
`;

const RAW = String.raw`#!/bin/sh
# pka-fleet host setup, run by the pka-fleet SSM document (README: "Setup document").
# Input, set by the SSM agent from ENV_VAR parameters (never spliced into this text):
#   SSM_AccessSpec        base64 of the access manifest (lines: header, u NAME SUDO, k NAME KEYLINE)
#   SSM_AccessSpecSha256  hex sha256 of the decoded manifest
# Exit codes: 0 done; 9 the agent passed no parameters (older than 3.3.2746.0, no ENV_VAR);
# 10 parameters malformed; 11 not base64 or sha256 mismatch;
# 12 spec content invalid; 13 a required command is missing; 14 sudo wanted but unusable;
# 16 lock busy for 120 s; 17 a sudoers drop-in failed visudo; 18 a write failed part-way;
# 19 partial: the users in PKA-CONFLICT lines were skipped, all else applied. Codes 9-17 are
# raised before anything is changed.
# Trust: root never reads, writes, chmods or chowns inside a user's home; that work runs as the
# user (HOME_HELPER), with no descriptor of this script, so a swapped link reaches only her files.
# Output: the host keys first (SSM keeps only the first 24,000 characters of stdout), then at most
# ${MAX_REPORTED_USERS} PKA-USER/PKA-REVOKED lines, then PKA-SUMMARY.
PATH="$PATH:/usr/sbin:/sbin"
export PATH
set -eu
umask 077
LC_ALL=C
export LC_ALL

STATE_DIR=/var/lib/pka-fleet
SUDOERS_D=/etc/sudoers.d
BEGIN_MARK=${sq(BLOCK_BEGIN)}
END_MARK=${sq(BLOCK_END)}
HEADER_RE=${sq(HEADER_ERE)}
USER_RE=${sq(USER_LINE_ERE)}
KEYLINE_RE=${sq(KEY_LINE_ERE)}
RESERVED_RE=${sq(RESERVED_ERE)}
NAME_ONLY_RE='[a-z_][a-z0-9_-]{0,31}'
HOSTKEY_RE=${sq(HOST_KEY_ERE)}
MAX_B64=65536
MAX_REPORTED=${MAX_REPORTED_USERS}
WORK=''
LOCK_DIR=''
LOCK_TMP=''
CHANGES=0
REPORTED=0
CONFLICTS=0
CONFLICTED=''
# Bytes of an authorized_keys file read at most, and seconds a user's home may take: a user can
# slow her own update down (a FIFO, a huge file), never the run's other users.
MAX_AK=1048576
HOME_TIMEOUT=20

fail() {
    code=$1
    shift
    printf 'PKA-ERROR code=%s %s\n' "$code" "$*" >&2
    exit "$code"
}
cleanup() {
    if [ -n "$WORK" ]; then rm -rf -- "$WORK"; fi
    if [ -n "$LOCK_TMP" ]; then rm -rf -- "$LOCK_TMP"; fi
    # Only our own lock: after a stale takeover the directory may belong to another run.
    if [ -n "$LOCK_DIR" ] && [ "$(cat -- "$LOCK_DIR/pid" 2>/dev/null || true)" = "$$" ]; then rm -rf -- "$LOCK_DIR"; fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# report LINE...: a PKA-USER/PKA-REVOKED line, up to MAX_REPORTED of them (the rest are counted)
report() {
    REPORTED=$((REPORTED + 1))
    if [ "$REPORTED" -le "$MAX_REPORTED" ]; then printf '%s\n' "$*"; fi
}

# ---- 0. host keys, first: known_hosts pinning must survive SSM's 24,000-character stdout cut,
# and they are public, so every run prints them, whether it then succeeds or fails.
for f in /etc/ssh/ssh_host_*_key.pub; do
    [ -f "$f" ] || continue
    hk=$(cut -d' ' -f1,2 <"$f" 2>/dev/null | head -n 1 | grep -Ex "$HOSTKEY_RE") || true
    if [ -n "$hk" ]; then printf 'PKA-HOSTKEY %s\n' "$hk"; fi
done

# ---- 1. parameters (agent environment) --------------------------------------------------
if ! printenv SSM_AccessSpec >/dev/null && ! printenv SSM_AccessSpecSha256 >/dev/null; then
    fail 9 'SSM_AccessSpec and SSM_AccessSpecSha256 are not set: run this document with its parameters (SSM Agent 3.3.2746.0 or later passes ENV_VAR parameters)'
fi
if ! printenv SSM_AccessSpec >/dev/null || ! printenv SSM_AccessSpecSha256 >/dev/null; then
    fail 10 'SSM_AccessSpec and SSM_AccessSpecSha256 must both be set'
fi
spec_b64=$(printenv SSM_AccessSpec)
spec_sha=$(printenv SSM_AccessSpecSha256)
if [ "$(printf '%s' "$spec_sha" | tr -d '0-9a-f' | wc -c)" -ne 0 ] || [ "$(printf '%s' "$spec_sha" | wc -c)" -ne 64 ]; then
    fail 10 'AccessSpecSha256 must be 64 lower-case hex digits'
fi
if [ -z "$spec_b64" ] || [ "$(printf '%s' "$spec_b64" | tr -d 'A-Za-z0-9+/=' | wc -c)" -ne 0 ]; then
    fail 10 'AccessSpec must be non-empty base64 (A-Z a-z 0-9 + / =)'
fi
if [ "$(printf '%s' "$spec_b64" | wc -c)" -gt "$MAX_B64" ]; then
    fail 10 "AccessSpec is longer than $MAX_B64 characters"
fi

# ---- 2. tools ---------------------------------------------------------------------------
for tool in base64 sha256sum grep sed awk sort uniq comm cut tr wc head tail mktemp getent stat \
    useradd usermod chmod mv rm cat env id timeout; do
    command -v "$tool" >/dev/null 2>&1 || fail 13 "required command '$tool' not found in PATH"
done
if command -v setpriv >/dev/null 2>&1; then
    AS_USER=setpriv
elif command -v runuser >/dev/null 2>&1; then
    AS_USER=runuser
else
    fail 13 "neither setpriv nor runuser (util-linux) found: files in home directories are written as their owner"
fi

# ---- 3. decode and re-validate the spec ----------------------------------------------------
WORK=$(mktemp -d) || fail 18 'cannot create a temporary directory'
spec="$WORK/spec"
printf '%s' "$spec_b64" | base64 -d >"$spec" 2>/dev/null || fail 11 'AccessSpec is not valid base64'
got=$(sha256sum <"$spec" | cut -d' ' -f1)
[ "$got" = "$spec_sha" ] || fail 11 'AccessSpec does not match AccessSpecSha256 (truncated or altered in transit)'
[ -s "$spec" ] || fail 12 'the spec is empty'
if [ "$(tr -d '\000\r' <"$spec" | wc -c)" -ne "$(wc -c <"$spec")" ]; then
    fail 12 'the spec contains NUL or carriage-return bytes'
fi
[ -z "$(tail -c 1 "$spec")" ] || fail 12 'the spec does not end with a newline'
bad=$(grep -Evn -x -e "$HEADER_RE" -e "$USER_RE" -e "$KEYLINE_RE" "$spec" | cut -d: -f1 | head -n 1) || true
[ -z "$bad" ] || fail 12 "spec line $bad breaks the spec grammar"
[ "$(head -n 1 "$spec" | cut -d' ' -f1)" = pka-access ] || fail 12 'spec line 1 must be the pka-access header'
[ "$(grep -c '^pka-access ' "$spec")" -eq 1 ] || fail 12 'the spec has more than one header line'
spec_hash=$(head -n 1 "$spec" | cut -d' ' -f3)
grep '^u ' "$spec" | cut -d' ' -f2- >"$WORK/plan" || true
cut -d' ' -f1 "$WORK/plan" | sort >"$WORK/users"
dup=$(uniq -d "$WORK/users" | head -n 1)
[ -z "$dup" ] || fail 12 "user $dup appears twice"
grep '^k ' "$spec" | cut -d' ' -f2 | sort -u >"$WORK/keyusers" || true
orphan=$(comm -23 "$WORK/keyusers" "$WORK/users" | head -n 1)
[ -z "$orphan" ] || fail 12 "keys for $orphan, who is not a user of the spec"
reserved=$(grep -Ex "$RESERVED_RE" "$WORK/users" | head -n 1) || true
[ -z "$reserved" ] || fail 12 "user $reserved is a reserved system or cloud-init account"

# ---- 4. sudo must be usable before any user is promised it ---------------------------------
if grep -q ' nopasswd$' "$WORK/plan"; then
    command -v sudo >/dev/null 2>&1 || fail 14 'a user needs sudo but the sudo package is not installed (install sudo, or set sudo: none)'
    command -v visudo >/dev/null 2>&1 || fail 14 'a user needs sudo but visudo is not installed'
    [ -d "$SUDOERS_D" ] || fail 14 "$SUDOERS_D does not exist"
    grep -Eq '^[[:space:]]*[#@]includedir[[:space:]]+/etc/sudoers\.d/?[[:space:]]*$' /etc/sudoers ||
        fail 14 '/etc/sudoers does not include /etc/sudoers.d (@includedir /etc/sudoers.d): a drop-in would grant nothing'
fi

# ---- 5. one run at a time ----------------------------------------------------------------
mkdir -p -- "$STATE_DIR"
if command -v flock >/dev/null 2>&1; then
    # Appending opens without truncating, so the lock file's mtime never changes.
    exec 9>>"$STATE_DIR/lock"
    flock -w 120 9 || fail 16 "another run held $STATE_DIR/lock for 120 s"
else
    # The lock directory never exists without its owner's pid: a private directory holding the
    # pid is renamed onto lock.d. A rename onto a missing path is atomic and cannot clobber a
    # held lock (which is never empty); when lock.d exists, mv moves ours inside it instead,
    # which is seen and undone. A run killed at any point leaves no lock or one whose pid is dead.
    lock="$STATE_DIR/lock.d"
    waited=0
    pidless=''
    while :; do
        LOCK_TMP=$(mktemp -d "$STATE_DIR/.lock.XXXXXX") || fail 18 "cannot write in $STATE_DIR"
        # where mv puts ours when lock.d exists
        nested=$(printf '%s\n' "$LOCK_TMP" | sed 's|.*/|'"$lock"'/|')
        case $nested in "$lock"/.lock.?*) ;; *) fail 18 "unexpected temporary directory $LOCK_TMP" ;; esac
        echo "$$" >"$LOCK_TMP/pid" || fail 18 "cannot write in $STATE_DIR"
        if mv -- "$LOCK_TMP" "$lock" 2>/dev/null && [ ! -e "$nested" ] &&
            [ "$(cat -- "$lock/pid" 2>/dev/null || true)" = "$$" ]; then
            LOCK_TMP=''
            break
        fi
        rm -rf -- "$LOCK_TMP" "$nested"
        LOCK_TMP=''
        holder=$(cat -- "$lock/pid" 2>/dev/null || true)
        if [ -n "$holder" ]; then
            pidless=''
            if ! kill -0 "$holder" 2>/dev/null; then
                # the holder died without releasing the lock
                rm -rf -- "$lock"
                continue
            fi
        elif [ -d "$lock" ]; then
            # No pid: left by an older version of this script killed after its mkdir. Such a run
            # wrote its pid right after; 2 s without one means nobody owns it.
            if [ -z "$pidless" ]; then pidless=$waited; fi
            if [ $((waited - pidless)) -ge 20 ]; then
                rm -rf -- "$lock"
                pidless=''
                continue
            fi
        fi
        [ "$waited" -lt 1200 ] || fail 16 "another run held $lock for 120 s"
        # waited counts tenths of a second; sleep without fractions waits whole seconds
        if sleep 0.1 2>/dev/null; then waited=$((waited + 1)); else
            sleep 1
            waited=$((waited + 10))
        fi
    done
    LOCK_DIR=$lock
fi

# ---- 6. which accounts are ours ----------------------------------------------------------------
# managed-users: accounts this script created (or was told to adopt) and that the spec lists;
# revoked-users: accounts of ours dropped from the spec, locked and expired until a spec lists them
# again. Anything else on the host is not ours: never taken over without 'adopt', never unlocked.
uid_min=$(awk '$1 == "UID_MIN" { print $2; exit }' /etc/login.defs 2>/dev/null || true)
case $uid_min in '' | *[!0-9]*) uid_min=1000 ;; esac
read_state() {
    if [ -f "$STATE_DIR/$1" ]; then
        grep -Ex "$NAME_ONLY_RE" "$STATE_DIR/$1" | grep -Evx "$RESERVED_RE" | sort -u >"$WORK/$1" || true
    else
        : >"$WORK/$1"
    fi
}
read_state managed-users
read_state revoked-users
sort -u "$WORK/managed-users" "$WORK/revoked-users" >"$WORK/owned"
cut -d' ' -f1 "$WORK/plan" | sort -u >"$WORK/users"
comm -23 "$WORK/managed-users" "$WORK/users" >"$WORK/dropped"
# Revoked accounts the spec still leaves out: their lock is checked again on every run.
comm -23 "$WORK/revoked-users" "$WORK/users" | sort -u - "$WORK/dropped" >"$WORK/revoke"

same() {
    [ "$(sha256sum <"$1")" = "$(sha256sum <"$2")" ]
}

# install_root SRC MODE DIR NAME: DIR/NAME becomes a root-owned copy of SRC with MODE, staged in a
# temp file in DIR and renamed into place: a reader sees the old file or the new one, never half.
# The temp name starts with a dot, which also keeps sudo from reading a staged sudoers drop-in.
# DIR is always root's own (/etc/sudoers.d, the state directory): never a path a user can change.
install_root() {
    staged=$(mktemp "$3/.pka-XXXXXX") || fail 18 "cannot write in $3"
    if cat "$1" >"$staged" && chmod "$2" "$staged" && mv -f -- "$staged" "$3/$4"; then
        CHANGES=$((CHANGES + 1))
        return 0
    fi
    rm -f -- "$staged"
    fail 18 "cannot write $3/$4"
}

# save_state NAME: STATE_DIR/NAME becomes WORK/NAME (sorted), written only when it differs
save_state() {
    sort -u "$WORK/$1" >"$WORK/$1.sorted"
    if [ -f "$STATE_DIR/$1" ] && same "$WORK/$1.sorted" "$STATE_DIR/$1"; then return 0; fi
    install_root "$WORK/$1.sorted" 0600 "$STATE_DIR" "$1"
}
# state_del NAME USER
state_del() {
    grep -Fvx -e "$2" "$WORK/$1" >"$WORK/$1.next" || true
    mv -f -- "$WORK/$1.next" "$WORK/$1"
}
is_in() {
    grep -Fqx -e "$1" "$WORK/$2"
}

# inspect NAME: sets exists uid gid home
inspect() {
    ent=$(getent passwd "$1" || true)
    exists=0 uid='' gid='' home=''
    [ -n "$ent" ] || return 0
    exists=1
    # one read instead of a cut per field: this runs for every user on every run
    IFS=: read -r _ _ uid gid _ home _ <<EOF
$ent
EOF
}

# conflict NAME REASON: this user is left as it is (or only partly done); the others go on
conflict() {
    CONFLICTS=$((CONFLICTS + 1))
    CONFLICTED="$CONFLICTED $1"
    printf 'PKA-CONFLICT %s %s\n' "$1" "$2" >&2
}
warn() {
    report "PKA-WARN $1 $2"
}

# as_user NAME UID GID CMD...: runs CMD as the account, never as root: whatever a user swaps into
# her home (a symlink, a FIFO, a hard link) is then reached with her rights only. The command gets
# no descriptor of ours (the lock, the agent's output) beyond the three it is given, a clean
# environment, / as its directory, and at most HOME_TIMEOUT seconds.
as_user() {
    au_name=$1 au_uid=$2 au_gid=$3
    shift 3
    if [ "$AS_USER" = setpriv ]; then
        (cd / && exec timeout -k 2 "$HOME_TIMEOUT" setpriv --reuid="$au_uid" --regid="$au_gid" --clear-groups --no-new-privs -- \
            env -i PATH=/usr/bin:/bin LC_ALL=C "$@") 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
    else
        (cd / && exec timeout -k 2 "$HOME_TIMEOUT" runuser -u "$au_name" -- \
            env -i PATH=/usr/bin:/bin LC_ALL=C "$@") 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
    fi
}

# shellcheck disable=SC2016
HOME_HELPER=${sqProgram(HOME_HELPER)}
# shellcheck disable=SC2016
MERGE_AWK=${sqProgram(MERGE_AWK)}

# home_reason WORD: the helper's refusal in words (anything else it printed is not trusted)
home_reason() {
    case $1 in
        home-unreadable) echo 'cannot enter its home directory' ;;
        ssh-symlink) echo "$home/.ssh is a symlink; replace it with a directory" ;;
        ssh-not-dir) echo "$home/.ssh is not a directory" ;;
        ssh-create-failed) echo 'cannot create ~/.ssh' ;;
        ssh-not-owned) echo "$home/.ssh is not owned by the user; chown it to the user" ;;
        ssh-unreadable) echo 'cannot enter ~/.ssh' ;;
        ak-symlink) echo "$home/.ssh/authorized_keys is a symlink; replace it with a file" ;;
        ak-not-file) echo "$home/.ssh/authorized_keys is not a regular file (a directory or FIFO?)" ;;
        ak-not-owned) echo "$home/.ssh/authorized_keys is not owned by the user; chown it to the user" ;;
        ak-hard-links) echo "$home/.ssh/authorized_keys has more than one hard link" ;;
        ak-too-large) echo "$home/.ssh/authorized_keys is larger than $MAX_AK bytes" ;;
        ak-unreadable) echo 'cannot read ~/.ssh/authorized_keys' ;;
        write-failed) echo 'writing ~/.ssh/authorized_keys failed (disk full or quota?)' ;;
        *) echo "updating $home/.ssh did not finish within $HOME_TIMEOUT s" ;;
    esac
}

# home_ok NAME: the home directory is a real directory of the account (checked, not followed: the
# work inside it is done by the user's own helper); sets home_problem when it is not
home_ok() {
    home_problem=''
    case $home in
        /*/* | /[!/]*) ;;
        *) home_problem="home '$home' is not an absolute path below /" ;;
    esac
    case $home in
        *[!A-Za-z0-9._/-]* | */../* | */.. | */./* | */.) home_problem='has an unusual home path; fix it by hand' ;;
    esac
    if [ -z "$home_problem" ]; then
        if [ -L "$home" ] || [ ! -d "$home" ]; then
            home_problem="home $home is missing or not a directory"
        elif [ "$(stat -c %u -- "$home")" != "$uid" ]; then
            home_problem="home $home is not owned by $1"
        fi
    fi
    [ -z "$home_problem" ]
}

# keys NAME MODE BLOCKFILE: the helper, as the user; prints nothing, sets home_word
keys() {
    home_word=''
    as_user "$1" "$uid" "$gid" sh -c "$HOME_HELPER" pka-home "$home" "$MAX_AK" "$2" "$BEGIN_MARK" "$END_MARK" "$MERGE_AWK" \
        <"$3" >"$WORK/home.$1" 2>/dev/null || true
    home_word=$(head -n 1 "$WORK/home.$1" 2>/dev/null | head -c 40) || true
    case $home_word in
        changed) CHANGES=$((CHANGES + 1)) ;;
        unchanged) ;;
        *) return 1 ;;
    esac
    return 0
}

# Every drop-in is staged and checked with visudo before anything changes.
while read -r name sudo _; do
    if [ "$sudo" = nopasswd ]; then
        d="$WORK/sudo.$name"
        printf '# Managed by pka-fleet: rewritten or removed on every run; do not edit.\n%s ALL=(ALL:ALL) NOPASSWD: ALL\n' "$name" >"$d"
        chmod 0440 "$d"
        if ! visudo -cf "$d" >"$WORK/visudo.out" 2>&1; then
            fail 17 "the sudoers drop-in for $name does not pass visudo -cf; nothing was changed"
        fi
    fi
done <"$WORK/plan"

# ---- 7. apply ------------------------------------------------------------------------------
# sudoers NAME MODE: installs or removes /etc/sudoers.d/90-pka-NAME
sudoers() {
    target="$SUDOERS_D/90-pka-$1"
    if [ "$2" = nopasswd ]; then
        if [ -f "$target" ] && [ ! -L "$target" ] && same "$target" "$WORK/sudo.$1" &&
            [ "$(stat -c '%a %u %g' -- "$target")" = '440 0 0' ]; then
            return 0
        fi
        # sudo skips names that contain a dot, so the staged file is inert until the rename.
        install_root "$WORK/sudo.$1" 0440 "$SUDOERS_D" "90-pka-$1"
    elif [ -e "$target" ] || [ -L "$target" ]; then
        rm -f -- "$target" || fail 18 "cannot remove $target"
        CHANGES=$((CHANGES + 1))
    fi
    return 0
}

# Revocations are recorded before they are applied, and new accounts before they are created:
# a run stopped half-way finishes the revocation, and can still revoke what it created, next time.
sort -u "$WORK/revoked-users" "$WORK/dropped" >"$WORK/revoked-users.next"
mv -f -- "$WORK/revoked-users.next" "$WORK/revoked-users"
save_state revoked-users
: >"$WORK/new-users"
while read -r name _; do
    if ! getent passwd "$name" >/dev/null; then printf '%s\n' "$name" >>"$WORK/new-users"; fi
done <"$WORK/plan"
comm -23 "$WORK/managed-users" "$WORK/dropped" | sort -u - "$WORK/new-users" >"$WORK/managed-users.next"
mv -f -- "$WORK/managed-users.next" "$WORK/managed-users"
save_state managed-users

if [ -x /bin/bash ]; then LOGIN_SHELL=/bin/bash; else LOGIN_SHELL=/bin/sh; fi

users_n=0
while read -r name sudo adopt; do
    users_n=$((users_n + 1))
    inspect "$name"
    what=unchanged
    if [ "$exists" = 0 ]; then
        if getent group "$name" >/dev/null; then
            state_del managed-users "$name"
            conflict "$name" "a group named $name exists: useradd cannot give the user its own group; rename the user or the group"
            continue
        fi
        if ! useradd -m -s "$LOGIN_SHELL" -p '*' -c 'pka-fleet managed user' -- "$name" >"$WORK/useradd.out" 2>&1; then
            state_del managed-users "$name"
            conflict "$name" "useradd failed: $(head -n 1 "$WORK/useradd.out" | tr -cd 'A-Za-z0-9 ._:/-' | head -c 200)"
            continue
        fi
        CHANGES=$((CHANGES + 1))
        what=created
        inspect "$name"
    fi
    case $uid$gid in '' | *[!0-9]*) conflict "$name" 'has a malformed passwd entry'; continue ;; esac
    if [ "$uid" -lt "$uid_min" ]; then
        conflict "$name" "is a system account (uid $uid, below UID_MIN $uid_min): not managed"
        continue
    fi
    if [ "$what" != created ] && ! is_in "$name" owned; then
        if [ "$adopt" != adopt ]; then
            conflict "$name" "exists and was not created by pka-fleet; set adopt: true for this user to manage it"
            continue
        fi
        printf '%s\n' "$name" >>"$WORK/managed-users"
        save_state managed-users
        what=adopted
    fi
    if is_in "$name" revoked-users; then
        # Our own revocation lock and expiry come off; nobody else's lock is ever lifted.
        usermod -U -e '' -- "$name" >/dev/null 2>&1 || { conflict "$name" 'usermod could not lift the revocation lock'; continue; }
        state_del revoked-users "$name"
        printf '%s\n' "$name" >>"$WORK/managed-users"
        save_state revoked-users
        save_state managed-users
        CHANGES=$((CHANGES + 1))
        what=restored
    fi
    pw=$(getent shadow "$name" | cut -d: -f2)
    case $pw in
        '')
            # an empty password would allow password logins: no usable password, keys work
            usermod -p '*' -- "$name" >/dev/null 2>&1 || { conflict "$name" 'usermod failed'; continue; }
            CHANGES=$((CHANGES + 1))
            ;;
        '!'*) warn "$name" 'password-locked: sshd refuses its key logins without PAM; unlock it by hand if it should log in' ;;
    esac
    before=$CHANGES
    sudoers "$name" "$sudo"
    if ! home_ok "$name"; then
        conflict "$name" "$home_problem"
    else
        {
            printf '%s\n' "$BEGIN_MARK"
            sed -n "s/^k $name //p" "$spec"
            printf '%s\n' "$END_MARK"
        } >"$WORK/block.$name"
        if ! keys "$name" grant "$WORK/block.$name"; then conflict "$name" "$(home_reason "$home_word")"; fi
    fi
    if [ "$what" = unchanged ] && [ "$CHANGES" -ne "$before" ]; then what=updated; fi
    if [ "$what" != unchanged ]; then report "PKA-USER $name $what sudo=$sudo"; fi
done <"$WORK/plan"

# revoke NAME: no login by any key (password locked and account expired, which sshd checks with or
# without PAM), no sudo, no process left running; then the managed block goes, as the user.
revoked_n=0
: >"$WORK/empty"
while read -r name; do
    revoked_n=$((revoked_n + 1))
    before=$CHANGES
    sudoers "$name" none
    inspect "$name"
    if [ "$exists" = 0 ]; then
        # Gone: a later account of that name is somebody else's.
        state_del revoked-users "$name"
        continue
    fi
    case $uid in '' | *[!0-9]*) conflict "$name" 'has a malformed passwd entry'; continue ;; esac
    if [ "$uid" -lt "$uid_min" ]; then
        state_del revoked-users "$name"
        warn "$name" "is now a system account (uid $uid): its drop-in was removed, the account left as it is"
        continue
    fi
    sh_ent=$(getent shadow "$name" || true)
    pw=$(printf '%s\n' "$sh_ent" | cut -d: -f2)
    expire=$(printf '%s\n' "$sh_ent" | cut -d: -f8)
    locked=1
    case $pw in '!'*) ;; *) locked=0 ;; esac
    if [ "$locked" = 0 ] || [ "$expire" != 1 ]; then
        if ! usermod -L -e 1970-01-02 -- "$name" >/dev/null 2>&1; then
            conflict "$name" 'usermod could not lock and expire the revoked account'
            continue
        fi
        CHANGES=$((CHANGES + 1))
    fi
    if is_in "$name" dropped || [ "$CHANGES" -ne "$before" ]; then
        if command -v pkill >/dev/null 2>&1; then
            pkill -KILL -U "$uid" 2>/dev/null || true
            pkill -KILL -u "$uid" 2>/dev/null || true
        else
            warn "$name" 'revoked, but pkill (procps) is missing: its running processes were not killed'
        fi
    fi
    # The lock holds whatever the home holds: a block that cannot be removed is only a note.
    if ! home_ok "$name"; then
        warn "$name" "revoked; its managed block stays: $home_problem"
    elif ! keys "$name" revoke "$WORK/empty"; then
        warn "$name" "revoked; its managed block stays: $(home_reason "$home_word")"
    fi
    if [ "$CHANGES" -ne "$before" ]; then report "PKA-REVOKED $name"; fi
done <"$WORK/revoke"

save_state managed-users
save_state revoked-users

# ---- 8. report (the host keys were printed first) --------------------------------------------
if [ "$REPORTED" -gt "$MAX_REPORTED" ]; then
    printf 'PKA-OMITTED %s more PKA-USER/PKA-REVOKED lines\n' "$((REPORTED - MAX_REPORTED))"
fi
status=ok
if [ "$CONFLICTS" -gt 0 ]; then status=partial; fi
printf 'PKA-SUMMARY status=%s manifest=${MANIFEST_VERSION} spec=%s users=%s revoked=%s changes=%s conflicts=%s\n' \
    "$status" "$spec_hash" "$users_n" "$revoked_n" "$CHANGES" "$CONFLICTS"
if [ "$CONFLICTS" -gt 0 ]; then
    fail 19 "applied to every user but:$CONFLICTED (see the PKA-CONFLICT lines); revocations were applied"
fi
`;

/**
 * The script exactly as the document carries it: the source above without its comment lines, but
 * for the header (up to the first blank line) and shellcheck directives. Every byte of the document
 * counts against SSM's 64 KB for document plus parameters, so the comments stay here, in the source.
 */
export const SETUP_SCRIPT: string = (() => {
    const lines = RAW.split("\n");
    const header = lines.indexOf("");
    return lines.filter((l, i) => i < header || !/^\s*#/.test(l) || /^\s*# shellcheck /.test(l)).join("\n");
})();

/** The script as the document's runCommand lines (the agent joins them with newlines). */
export function scriptLines(): string[] {
    return SETUP_SCRIPT.replace(/\n$/, "").split("\n");
}
