/**
 * Section 5 of the script: one run at a time, with flock when the host has it, else a lock
 * directory that never exists without its owner's pid.
 */

export const LOCKING = String.raw`# ---- 5. one run at a time ----------------------------------------------------------------
[ -d "$STATE_DIR" ] || mkdir -p -- "$STATE_DIR"
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
`;
