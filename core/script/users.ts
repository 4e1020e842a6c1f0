/**
 * The sudoers drop-ins staged and checked with visudo before anything changes, then section 7 of
 * the script for the spec's users: each created, adopted or restored, its password field, its
 * drop-in and its managed block in ~/.ssh/authorized_keys.
 */

export const USERS = String.raw`# Every drop-in (CHECK_AWK wrote it to WORK/sudo.NAME) is checked with visudo before anything
# changes; one that is installed already, byte for byte with mode 440 root:root (SUDO_OK from
# STATE_AWK), needs no check.
while read -r name sudo _ _ _ sudo_ok _; do
    if [ "$sudo" != none ] && [ "$sudo_ok" != 1 ] && ! visudo -cf "$WORK/sudo.$name" >"$WORK/visudo.out" 2>&1; then
        fail 17 "the sudoers drop-in for $name does not pass visudo -cf; nothing was changed"
    fi
done <"$WORK/todo"

# ---- 7. apply ------------------------------------------------------------------------------
# sudoers NAME MODE SUDO_OK DROPIN: installs or removes /etc/sudoers.d/DROPIN, 90-pka-NAME with
# every "." written "+" (STATE_AWK's dn): sudo skips files in sudoers.d whose names hold a dot.
sudoers() {
    target="$SUDOERS_D/$4"
    if [ "$2" != none ]; then
        if [ "$3" = 1 ]; then return 0; fi
        # The text visudo checked (WORK/sudo.NAME), 0440 by umask. sudo skips names that contain
        # a dot, so the staged file is inert until the rename.
        put_root "$SUDOERS_D" "$4" 337 cat -- "$WORK/sudo.$1"
    elif [ -e "$target" ] || [ -L "$target" ]; then
        rm -f -- "$target" || fail 18 "cannot remove $target"
        CHANGES=$((CHANGES + 1))
    fi
    return 0
}

# set_groups NAME ADD DEL MISS (lists joined by ",", "-" for none): NAME joins the groups ADD,
# recorded first so that a run stopped half-way can still take them back; leaves the groups DEL,
# only ever memberships this script recorded adding; and the groups MISS, which do not exist on
# this host, are reported, never created.
set_groups() {
    if [ "$2" != - ]; then
        for g in $(printf '%s\n' "$2" | tr ',' ' '); do state_add user-groups "$1 $g"; done
        save_state user-groups
        if usermod -aG "$2" -- "$1" >/dev/null 2>&1; then
            CHANGES=$((CHANGES + 1))
        else
            warn "$1" "usermod could not add it to the groups $2"
        fi
    fi
    if [ "$3" != - ]; then
        for g in $(printf '%s\n' "$3" | tr ',' ' '); do
            if gpasswd -d "$1" "$g" >/dev/null 2>&1; then
                state_del user-groups "$1 $g"
                CHANGES=$((CHANGES + 1))
            else
                warn "$1" "gpasswd -d could not remove it from the group $g"
            fi
        done
    fi
    if [ "$4" != - ]; then
        warn "$1" "the groups $4 do not exist on this host: not added (create them there, or drop them from groups)"
    fi
    return 0
}

# Revocations are recorded before they are applied, and new accounts before they are created:
# a run stopped half-way finishes the revocation, and can still revoke what it created, next time.
# (STATE_AWK made both sets; each is written only when it differs from the file.)
save_state revoked-users
save_state managed-users

if [ -x /bin/bash ]; then LOGIN_SHELL=/bin/bash; else LOGIN_SHELL=/bin/sh; fi

users_n=0
while read -r name sudo adopt owned revoked sudo_ok exists dropin gadd gdel gmiss; do
    users_n=$((users_n + 1))
    c0=$CONFLICTS
    # one that step 6 did not find is not looked up again
    [ "$exists" = 0 ] || inspect "$name"
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
        # A useradd that said nothing made the home itself (it warns about one that was there
        # already, which it leaves as it is): the account's own, no stat needed.
        if [ ! -s "$WORK/useradd.out" ]; then home_owner=$uid; fi
    fi
    case $uid$gid in '' | *[!0-9]*) conflict "$name" 'has a malformed passwd entry'; continue ;; esac
    if [ "$uid" -lt "$uid_min" ]; then
        conflict "$name" "is a system account (uid $uid, below UID_MIN $uid_min): not managed"
        continue
    fi
    if [ "$what" != created ] && [ "$owned" != 1 ]; then
        if [ "$adopt" != adopt ]; then
            conflict "$name" "exists and was not created by pka-fleet; set adopt: true for this user to manage it"
            continue
        fi
        state_add managed-users "$name"
        save_state managed-users
        what=adopted
    fi
    if [ "$revoked" = 1 ]; then
        # Our own revocation lock and expiry come off; nobody else's lock is ever lifted.
        usermod -U -e '' -- "$name" >/dev/null 2>&1 || { conflict "$name" 'usermod could not lift the revocation lock'; continue; }
        state_del revoked-users "$name"
        state_add managed-users "$name"
        save_state revoked-users
        save_state managed-users
        CHANGES=$((CHANGES + 1))
        what=restored
    fi
    # an account made just now has the '*' it was given
    pw='*'
    [ "$what" = created ] || shadow "$name"
    case $pw in
        '')
            # an empty password would allow password logins: no usable password, keys work
            usermod -p '*' -- "$name" >/dev/null 2>&1 || { conflict "$name" 'usermod failed'; continue; }
            CHANGES=$((CHANGES + 1))
            ;;
        '!'*) warn "$name" 'password-locked: sshd refuses its key logins without PAM; unlock it by hand if it should log in' ;;
    esac
    before=$CHANGES
    sudoers "$name" "$sudo" "$sudo_ok" "$dropin"
    if ! home_ok "$name"; then
        conflict "$name" "$home_problem"
    elif ! keys "$name" grant "$WORK/block.$name"; then
        conflict "$name" "$(home_reason "$home_word")"
    fi
    set_groups "$name" "$gadd" "$gdel" "$gmiss"
    if [ "$what" = unchanged ] && [ "$CHANGES" -ne "$before" ]; then what=updated; fi
    if [ "$what" != unchanged ]; then report "PKA-USER $name $what sudo=$sudo"; fi
    # certificate mode: principals only for an account this run manages without a conflict
    [ "$CONFLICTS" -ne "$c0" ] || CERT_USERS="$CERT_USERS $name"
done <"$WORK/todo"
`;
