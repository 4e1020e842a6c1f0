/**
 * Section 6 of the script: which accounts are ours (STATE_AWK over the state files, getent and a
 * stat), and the shell functions that write root's own files (put_root) and keep the recorded
 * sets of managed and revoked users.
 */

export const STATE = String.raw`# ---- 6. which accounts are ours ----------------------------------------------------------------
# managed-users: accounts this script created (or was told to adopt) and that the spec lists;
# revoked-users: accounts of ours dropped from the spec, locked and expired until a spec lists them
# again. Anything else on the host is not ours: never taken over without 'adopt', never unlocked.
# Read under the lock, in one pass: one getent for every user of the spec, one stat for the state
# files and our drop-ins, and STATE_AWK, which writes WORK/managed-users, WORK/revoked-users and
# WORK/user-groups (the sets to record), WORK/todo ("NAME SUDO ADOPT OWNED REVOKED SUDO_OK EXISTS
# DROPIN GADD GDEL GMISS" per user, spec order; the last three are lists of groups joined by ",",
# or "-") and WORK/revoke ("NAME DROPPED DROPIN GDEL" per account to revoke), and prints "UID_MIN
# DIRTY_R DIRTY_M DIRTY_G".
: >"$WORK/passwd"
if [ -n "$names" ]; then
    set -f
    # shellcheck disable=SC2086
    getent passwd -- $names >"$WORK/passwd" 2>/dev/null || true
    set +f
fi
stat -c '%F|%a|%u:%g|%s|%n' -- "$STATE_DIR"/*-users "$STATE_DIR"/user-groups "$SUDOERS_D"/90-pka-* >"$WORK/stat" 2>/dev/null || true
ours=$(awk -v work="$WORK" -v state="$STATE_DIR" -v sudoers="$SUDOERS_D" -v reserved="$RESERVED_RE" "$STATE_AWK") ||
    fail 18 "cannot read the state in $STATE_DIR"
read -r uid_min rdirty mdirty gdirty <<EOF
$ours
EOF
case $uid_min in '' | *[!0-9]*) uid_min=1000 ;; esac

# put_root DIR NAME UMASK CMD...: DIR/NAME becomes a root-owned file of what CMD prints, staged in a
# temp file in DIR and renamed into place: a reader sees the old file or the new one, never half.
# DIR is always root's own (/etc/sudoers.d, the state directory): never a path a user can change.
# The shell writes the temp file itself (no mktemp): DIR/.pka-NAME, which no other run can be
# using (this runs under the lock; one a killed run left is overwritten), a new file getting the
# mode UMASK leaves (0666 minus UMASK). The dot also keeps sudo from reading a staged drop-in.
put_root() {
    pr_d=$1 pr_f=$2 pr_t="$1/.pka-$2"
    umask "$3"
    shift 3
    if "$@" >"$pr_t" && umask 077 && mv -f -- "$pr_t" "$pr_d/$pr_f"; then
        CHANGES=$((CHANGES + 1))
        return 0
    fi
    umask 077
    rm -f -- "$pr_t"
    fail 18 "cannot write $pr_d/$pr_f"
}
# dirty NAME [0|1]: whether WORK/NAME differs from STATE_DIR/NAME (STATE_AWK's verdict, then
# kept by state_add, state_del and save_state); sets or tells (exit status)
dirty() {
    case $1$# in
        managed-users1) [ "$mdirty" = 1 ] ;; managed-users2) mdirty=$2 ;;
        revoked-users1) [ "$rdirty" = 1 ] ;; revoked-users2) rdirty=$2 ;;
        *1) [ "$gdirty" = 1 ] ;; *) gdirty=$2 ;;
    esac
}
# save_state NAME: STATE_DIR/NAME becomes WORK/NAME (sorted) when it differs, so no comparison is needed
save_state() {
    dirty "$1" || return 0
    put_root "$STATE_DIR" "$1" 077 sort -u "$WORK/$1"
    dirty "$1" 0
}
# state_del NAME USER, state_add NAME USER (the set is recorded again at the end)
state_del() {
    grep -Fvx -e "$2" "$WORK/$1" >"$WORK/$1.next" || true
    mv -f -- "$WORK/$1.next" "$WORK/$1"
    dirty "$1" 1
}
state_add() {
    printf '%s\n' "$2" >>"$WORK/$1"
    dirty "$1" 1
}
`;
