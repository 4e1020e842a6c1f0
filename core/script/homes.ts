/**
 * The script's per-account functions: the passwd and shadow entries, conflicts and warnings, and
 * the work in a home directory, which runs as the user (as_user, HOME_HELPER), never as root.
 */
import { homeCode } from "./homeHelper";

export const HOMES = String.raw`# inspect NAME: sets exists uid gid home (home_owner: not known)
inspect() {
    ent=$(getent passwd "$1" || true)
    exists=0 uid='' gid='' home='' home_owner=''
    [ -n "$ent" ] || return 0
    exists=1
    # one read instead of a cut per field: this runs for every user on every run
    IFS=: read -r _ _ uid gid _ home _ <<EOF
$ent
EOF
}
# shadow NAME: sets pw and expire (fields 2 and 8 of its shadow entry; empty without one)
shadow() {
    sh_ent=$(getent shadow "$1" || true)
    IFS=: read -r _ pw _ _ _ _ _ expire _ <<EOF
$sh_ent
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

# home_reason WORD: the helper's refusal in words (anything else it printed is not trusted)
home_reason() {
    hs="$home/.ssh" ha="$home/.ssh/authorized_keys"
    case $1 in
        ${homeCode("home-unreadable")}) echo 'cannot enter its home directory' ;;
        ${homeCode("ssh-symlink")}) echo "$hs is a symlink; replace it with a directory" ;;
        ${homeCode("ssh-not-dir")}) echo "$hs is not a directory" ;;
        ${homeCode("ssh-create-failed")}) echo 'cannot create ~/.ssh' ;;
        ${homeCode("ssh-not-owned")}) echo "$hs is not owned by the user; chown it to the user" ;;
        ${homeCode("ssh-unreadable")}) echo 'cannot enter ~/.ssh' ;;
        ${homeCode("ak-symlink")}) echo "$ha is a symlink; replace it with a file" ;;
        ${homeCode("ak-not-file")}) echo "$ha is not a regular file (a directory or FIFO?)" ;;
        ${homeCode("ak-not-owned")}) echo "$ha is not owned by the user; chown it to the user" ;;
        ${homeCode("ak-hard-links")}) echo "$ha has more than one hard link" ;;
        ${homeCode("ak-too-large")}) echo "$ha is larger than $MAX_AK bytes" ;;
        ${homeCode("ak-unreadable")}) echo 'cannot read ~/.ssh/authorized_keys' ;;
        ${homeCode("write-failed")}) echo 'writing ~/.ssh/authorized_keys failed (disk full or quota?)' ;;
        *) echo "updating $hs did not finish within $HOME_TIMEOUT s" ;;
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
        elif [ "$home_owner" != "$uid" ] && [ "$(stat -c %u -- "$home")" != "$uid" ]; then
            home_problem="home $home is not owned by $1"
        fi
    fi
    [ -z "$home_problem" ]
}

# keys NAME MODE BLOCKFILE: the helper, as the user; prints nothing, sets home_word from its exit
# status (nothing it could print is read)
keys() {
    rc=0
    as_user "$1" "$uid" "$gid" sh -c "$HOME_HELPER" pka-home "$home" "$MAX_AK" "$2" "$BEGIN_MARK" "$END_MARK" "$MERGE_AWK" "$uid" \
        <"$3" >/dev/null 2>&1 || rc=$?
    home_word=$rc
    case $rc in
        ${homeCode("changed")}) CHANGES=$((CHANGES + 1)) ;;
        ${homeCode("unchanged")}) ;;
        *) return 1 ;;
    esac
    return 0
}
`;
