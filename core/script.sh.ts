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
export const SCRIPT_EXIT_CODES: Readonly<Record<number, string>> = Object.freeze({
    0: "done (the summary line says what changed)",
    10: "parameters missing or malformed (SSM_AccessSpec / SSM_AccessSpecSha256; an SSM Agent older than 3.3.2746.0 sets neither)",
    11: "AccessSpec is not valid base64 or does not match AccessSpecSha256 (truncated or altered)",
    12: "the access spec's content is invalid (a line that breaks the grammar, a duplicate or reserved user)",
    13: "a command the script needs is missing on the host",
    14: "a user needs sudo but sudo/visudo is missing or /etc/sudoers does not include /etc/sudoers.d",
    15: "a spec user conflicts with the host (system account, odd home, symlinked ~/.ssh or authorized_keys)",
    16: "another run held the lock for 120 s",
    17: "a sudoers drop-in failed `visudo -cf` (nothing was changed)",
    18: "a write failed part-way (files already written are complete; the rest keep their previous content)",
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

const RAW = String.raw`#!/bin/sh
# pka-fleet host setup, run by the pka-fleet SSM document (README: "Setup document").
# Input, set by the SSM agent from ENV_VAR parameters (never spliced into this text):
#   SSM_AccessSpec        base64 of the access manifest (lines: header, u NAME SUDO, k NAME KEYLINE)
#   SSM_AccessSpecSha256  hex sha256 of the decoded manifest
# Exit codes: 0 done; 10 parameters missing/malformed; 11 not base64 or sha256 mismatch;
# 12 spec content invalid; 13 a required command is missing; 14 sudo wanted but unusable;
# 15 a spec user conflicts with this host; 16 lock busy for 120 s; 17 a sudoers drop-in failed
# visudo; 18 a write failed part-way. Codes 10-17 are raised before anything is changed.
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
if ! printenv SSM_AccessSpec >/dev/null || ! printenv SSM_AccessSpecSha256 >/dev/null; then
    fail 10 'SSM_AccessSpec and SSM_AccessSpecSha256 are not set: run this document with its parameters (SSM Agent 3.3.2746.0 or later passes ENV_VAR parameters)'
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
    useradd usermod chown chmod mv rm cat; do
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
grep '^u ' "$spec" | cut -d' ' -f2,3 >"$WORK/plan" || true
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

# ---- 6. inspect the host: every check before any change --------------------------------------
uid_min=$(awk '$1 == "UID_MIN" { print $2; exit }' /etc/login.defs 2>/dev/null || true)
case $uid_min in '' | *[!0-9]*) uid_min=1000 ;; esac
if [ -f "$STATE_DIR/managed-users" ]; then
    grep -Ex "$NAME_ONLY_RE" "$STATE_DIR/managed-users" | grep -Evx "$RESERVED_RE" | sort -u >"$WORK/managed" || true
else
    : >"$WORK/managed"
fi
comm -23 "$WORK/managed" "$WORK/users" >"$WORK/dropped"

same() {
    [ "$(sha256sum <"$1")" = "$(sha256sum <"$2")" ]
}

# install_root SRC MODE DIR NAME: DIR/NAME becomes a root-owned copy of SRC with MODE, staged in a
# temp file in DIR and renamed into place: a reader sees the old file or the new one, never half.
# The temp name starts with a dot, which also keeps sudo from reading a staged sudoers drop-in.
install_root() {
    staged=$(mktemp "$3/.pka-XXXXXX") || fail 18 "cannot write in $3"
    if cat "$1" >"$staged" && chmod "$2" "$staged" && mv -f -- "$staged" "$3/$4"; then
        CHANGES=$((CHANGES + 1))
        return 0
    fi
    rm -f -- "$staged"
    fail 18 "cannot write $3/$4"
}

# inspect NAME: sets exists uid gid home ssh ak
inspect() {
    ent=$(getent passwd "$1" || true)
    exists=0 uid='' gid='' home='' ssh='' ak=''
    [ -n "$ent" ] || return 0
    exists=1
    uid=$(printf '%s\n' "$ent" | cut -d: -f3)
    gid=$(printf '%s\n' "$ent" | cut -d: -f4)
    home=$(printf '%s\n' "$ent" | cut -d: -f6)
    ssh="$home/.ssh"
    ak="$ssh/authorized_keys"
}

# check NAME: refuses accounts and files this script must not manage
check() {
    inspect "$1"
    [ "$exists" = 1 ] || return 0
    case $uid$gid in '' | *[!0-9]*) fail 15 "account $1 has a malformed passwd entry" ;; esac
    [ "$uid" -ge "$uid_min" ] || fail 15 "account $1 exists with uid $uid, below UID_MIN $uid_min: a system account is not managed"
    case $home in
        /*/* | /[!/]*) ;;
        *) fail 15 "account $1 has home '$home', not an absolute path below /" ;;
    esac
    case $home in
        *[!A-Za-z0-9._/-]* | */../* | */.. | */./* | */.) fail 15 "account $1 has an unusual home path; fix it by hand" ;;
    esac
    if [ -e "$home" ] || [ -L "$home" ]; then
        if [ -L "$home" ] || [ ! -d "$home" ]; then fail 15 "home $home of $1 is not a directory"; fi
        [ "$(stat -c %u -- "$home")" = "$uid" ] || fail 15 "home $home of $1 is not owned by $1"
    fi
    if [ -e "$ssh" ] || [ -L "$ssh" ]; then
        if [ -L "$ssh" ] || [ ! -d "$ssh" ]; then fail 15 "$ssh is not a directory (a symlink?)"; fi
    fi
    if [ -e "$ak" ] || [ -L "$ak" ]; then
        if [ -L "$ak" ] || [ ! -f "$ak" ]; then fail 15 "$ak is not a regular file (a symlink?)"; fi
    fi
    return 0
}

as_user() {
    au_name=$1 au_uid=$2 au_gid=$3
    shift 3
    if [ "$AS_USER" = setpriv ]; then
        setpriv --reuid="$au_uid" --regid="$au_gid" --clear-groups -- "$@"
    else
        runuser -u "$au_name" -- "$@"
    fi
}

# stage NAME BLOCKFILE: WORK/new.NAME = current authorized_keys with the managed block replaced
stage() {
    old="$WORK/old.$1"
    : >"$old"
    if [ "$exists" = 1 ] && [ -f "$ak" ]; then
        if [ "$(stat -c %u -- "$ak")" = "$uid" ]; then
            # Read as the owner: a symlink swapped in now could only reach what the owner can read.
            as_user "$1" "$uid" "$gid" cat -- "$ak" >"$old" || fail 15 "cannot read $ak"
        else
            cat -- "$ak" >"$old" || fail 15 "cannot read $ak"
        fi
    fi
    awk -v b="$BEGIN_MARK" -v e="$END_MARK" -v blk="$2" '
        function emit(  l) { while ((getline l < blk) > 0) print l; close(blk); done = 1 }
        $0 == b { if (!done) emit(); inblock = 1; next }
        $0 == e { inblock = 0; next }
        inblock { next }
        { print }
        END {
            if (inblock) print "pka-fleet: an unterminated managed block was removed" > "/dev/stderr"
            if (!done) emit()
        }' "$old" >"$WORK/new.$1"
}

while read -r name sudo; do
    check "$name"
    block="$WORK/block.$name"
    {
        printf '%s\n' "$BEGIN_MARK"
        sed -n "s/^k $name //p" "$spec"
        printf '%s\n' "$END_MARK"
    } >"$block"
    stage "$name" "$block"
    if [ "$sudo" = nopasswd ]; then
        d="$WORK/sudo.$name"
        printf '# Managed by pka-fleet: rewritten or removed on every run; do not edit.\n%s ALL=(ALL:ALL) NOPASSWD: ALL\n' "$name" >"$d"
        chmod 0440 "$d"
        if ! visudo -cf "$d" >"$WORK/visudo.out" 2>&1; then
            fail 17 "the sudoers drop-in for $name does not pass visudo -cf; nothing was changed"
        fi
    fi
done <"$WORK/plan"
: >"$WORK/empty"
while read -r name; do
    check "$name"
    [ "$exists" = 0 ] || stage "$name" "$WORK/empty"
done <"$WORK/dropped"

# ---- 7. apply ------------------------------------------------------------------------------
# write_state FILE: the managed-users list, replaced atomically and only when it differs
write_state() {
    if [ -f "$STATE_DIR/managed-users" ] && same "$1" "$STATE_DIR/managed-users"; then return 0; fi
    install_root "$1" 0600 "$STATE_DIR" managed-users
}

# Remember the new users before creating them, so that a run that stops half-way still
# revokes them later.
sort -u "$WORK/managed" "$WORK/users" >"$WORK/managed.union"
write_state "$WORK/managed.union"

if [ -x /bin/bash ]; then LOGIN_SHELL=/bin/bash; else LOGIN_SHELL=/bin/sh; fi

# keys NAME: installs WORK/new.NAME as the user's authorized_keys when it differs; fixes modes
keys() {
    inspect "$1"
    [ "$exists" = 1 ] || return 0
    if [ ! -d "$home" ]; then
        if ! mkdir -m 700 -- "$home" || ! chown -- "$uid:$gid" "$home"; then fail 18 "cannot create $home"; fi
        CHANGES=$((CHANGES + 1))
    fi
    # Ownership is fixed by root without following links; everything else runs as the owner.
    for f in "$ssh" "$ak"; do
        if [ -e "$f" ] && [ ! -L "$f" ] && [ "$(stat -c %u:%g -- "$f")" != "$uid:$gid" ]; then
            chown -h -- "$uid:$gid" "$f" || fail 18 "cannot chown $f"
            CHANGES=$((CHANGES + 1))
        fi
    done
    if [ -f "$ak" ] && same "$WORK/new.$1" "$WORK/old.$1"; then
        :
    elif [ ! -e "$ak" ] && [ ! -s "$WORK/new.$1" ]; then
        :
    else
        # shellcheck disable=SC2016
        as_user "$1" "$uid" "$gid" sh -c '
            umask 077
            cd -- "$1" || exit 1
            if [ ! -d .ssh ]; then mkdir .ssh || exit 1; fi
            tmp=$(mktemp .ssh/.pka-authorized_keys.XXXXXX) || exit 1
            if cat >"$tmp" && mv -f -- "$tmp" .ssh/authorized_keys; then exit 0; fi
            rm -f -- "$tmp"
            exit 1' pka-write "$home" <"$WORK/new.$1" || fail 18 "writing $ak failed"
        CHANGES=$((CHANGES + 1))
    fi
    if [ -d "$ssh" ] && [ "$(stat -c %a -- "$ssh")" != 700 ]; then
        as_user "$1" "$uid" "$gid" chmod 700 -- "$ssh" || fail 18 "cannot chmod $ssh"
        CHANGES=$((CHANGES + 1))
    fi
    if [ -f "$ak" ] && [ "$(stat -c %a -- "$ak")" != 600 ]; then
        as_user "$1" "$uid" "$gid" chmod 600 -- "$ak" || fail 18 "cannot chmod $ak"
        CHANGES=$((CHANGES + 1))
    fi
    return 0
}

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

users_n=0
while read -r name sudo; do
    users_n=$((users_n + 1))
    inspect "$name"
    what=unchanged
    if [ "$exists" = 0 ]; then
        useradd -m -s "$LOGIN_SHELL" -p '*' -c 'pka-fleet managed user' -- "$name" >/dev/null ||
            fail 18 "useradd $name failed"
        CHANGES=$((CHANGES + 1))
        what=created
    else
        # sshd without PAM refuses key logins to a locked ('!') account; an empty password
        # would allow password logins. Both become '*': no usable password, keys work.
        pw=$(getent shadow "$name" | cut -d: -f2)
        case $pw in
            '' | '!'*)
                usermod -p '*' -- "$name" || fail 18 "usermod $name failed"
                CHANGES=$((CHANGES + 1))
                what=updated
                ;;
        esac
    fi
    before=$CHANGES
    keys "$name"
    sudoers "$name" "$sudo"
    if [ "$what" = unchanged ] && [ "$CHANGES" -ne "$before" ]; then what=updated; fi
    if [ "$what" != unchanged ]; then report "PKA-USER $name $what sudo=$sudo"; fi
done <"$WORK/plan"

revoked_n=0
while read -r name; do
    inspect "$name"
    before=$CHANGES
    keys "$name"
    sudoers "$name" none
    revoked_n=$((revoked_n + 1))
    if [ "$CHANGES" -ne "$before" ]; then report "PKA-REVOKED $name"; fi
done <"$WORK/dropped"

write_state "$WORK/users"

# ---- 8. report (the host keys were printed first) --------------------------------------------
if [ "$REPORTED" -gt "$MAX_REPORTED" ]; then
    printf 'PKA-OMITTED %s more PKA-USER/PKA-REVOKED lines\n' "$((REPORTED - MAX_REPORTED))"
fi
printf 'PKA-SUMMARY status=ok manifest=${MANIFEST_VERSION} spec=%s users=%s revoked=%s changes=%s\n' \
    "$spec_hash" "$users_n" "$revoked_n" "$CHANGES"
`;

/** The script exactly as the document carries it. */
export const SETUP_SCRIPT: string = RAW;

/** The script as the document's runCommand lines (the agent joins them with newlines). */
export function scriptLines(): string[] {
    return SETUP_SCRIPT.replace(/\n$/, "").split("\n");
}
