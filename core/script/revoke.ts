/**
 * The end of the script: the accounts dropped from the spec revoked (locked, expired, no drop-in,
 * no process, no managed block), the state recorded, and section 8, the summary line.
 */
import { MANIFEST_VERSION } from "../document/manifest";

export const REVOKE_AND_REPORT = String.raw`# revoke NAME: no login by any key (password locked and account expired, which sshd checks with or
# without PAM), no sudo, no process left running; then the managed block goes, as the user.
revoked_n=0
: >"$WORK/empty"
while read -r name dropped dropin gdel; do
    revoked_n=$((revoked_n + 1))
    before=$CHANGES
    sudoers "$name" none 0 "$dropin"
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
    shadow "$name"
    locked=1
    case $pw in '!'*) ;; *) locked=0 ;; esac
    if [ "$locked" = 0 ] || [ "$expire" != 1 ]; then
        if ! usermod -L -e 1970-01-02 -- "$name" >/dev/null 2>&1; then
            conflict "$name" 'usermod could not lock and expire the revoked account'
            continue
        fi
        CHANGES=$((CHANGES + 1))
    fi
    # the groups this script added go with the sudo rule
    set_groups "$name" - "$gdel" -
    if [ "$dropped" = 1 ] || [ "$CHANGES" -ne "$before" ]; then
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
save_state user-groups

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
