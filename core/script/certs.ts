/**
 * Section 7b of the script, certificate mode: the user CAs (TrustedUserCAKeys), each user's
 * principals (AuthorizedPrincipalsFile) and the KRL (RevokedKeys) in root's /etc/ssh/pka-fleet,
 * and the sshd_config.d drop-in that names them, checked with `sshd -t` before sshd reloads.
 */

/**
 * Over lines "NEW INSTALLED": prints those whose INSTALLED copy is missing or differs from NEW,
 * then "- FILE" for each file of the principals directory (listed in `have`) that no line names.
 */
export const DIFF_AWK = String.raw`
function slurp(p,l,t,r){while((r=(getline l<p))>0)t=t l "\n";close(p);return r<0?"-missing-":t}
{want[$2]=1;if(slurp($1)!=slurp($2))print $1,$2}
END{while((getline l<have)>0)if(!((dir l) in want))print "-",dir l}
`;

export const CERTS = String.raw`# ---- 7b. certificate mode ------------------------------------------------------------------
# On while the spec names user CAs (c lines); off, the drop-in goes first, then the files. The
# files are root's (no user can write /etc/ssh, so there is nothing to race), each replaced by a
# rename only when its text changed; principals only for the accounts this run manages without a
# conflict (never a stranger's account of the same name), and all in place before the drop-in
# names them: sshd refuses every public key while the RevokedKeys file it names cannot be read.
# The drop-in is checked with sshd -t before sshd is told to reload (SIGHUP to its PidFile's pid,
# what systemd's ExecReload does; a socket-activated sshd has none and reads its configuration on
# each connection); if sshd -t fails, the previous drop-in is put back and sshd, never reloaded,
# keeps serving as it did.
CD=/etc/ssh/pka-fleet
SD=/etc/ssh/sshd_config.d
DI=$SD/10-pka-fleet.conf
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
# sshd_t KEY: the value sshd -T prints for KEY
sshd_t() {
    "$SSHD" -T 2>/dev/null | awk -v k="$1" '$1 == k { print $2 }' || true
}
# dropin FILE: DI gets FILE's text ("-": DI goes), sshd -t checks it, sshd reloads; 1 if sshd -t failed (DI as before)
dropin() {
    if [ "$1" = - ]; then
        [ -e "$DI" ] || return 0
    elif [ -f "$DI" ] && [ "$(cat -- "$DI")" = "$(cat -- "$1")" ]; then
        return 0
    fi
    rm -f -- "$WORK/di.old"
    [ ! -f "$DI" ] || cat -- "$DI" >"$WORK/di.old"
    if [ "$1" = - ]; then
        rm -f -- "$DI" || fail 18 "cannot remove $DI"
        CHANGES=$((CHANGES + 1))
    else
        [ -d "$SD" ] || mkdir -m 755 -- "$SD" || fail 18 "cannot create $SD"
        put_root "$SD" 10-pka-fleet.conf 022 cat -- "$1"
    fi
    if ! "$SSHD" -t >"$WORK/sshd.out" 2>&1; then
        if [ -f "$WORK/di.old" ]; then put_root "$SD" 10-pka-fleet.conf 022 cat -- "$WORK/di.old"; else rm -f -- "$DI"; fi
        conflict certificates "sshd -t refused $DI ($(head -n 1 "$WORK/sshd.out" | tr -cd 'A-Za-z0-9 ._:/-' | head -c 200)): put back, sshd not reloaded"
        return 1
    fi
    pf=$(sshd_t pidfile)
    if [ -s "$pf" ] && read -r pid <"$pf" && kill -HUP "$pid" 2>/dev/null; then report "PKA-SSHD reloaded"; fi
}
if [ "$certmode" = 1 ]; then
    base64 -d <"$WORK/krl.b64" >"$WORK/krl" 2>/dev/null || fail 12 'the KRL (r line) is not valid base64'
    [ -d "$CD/principals" ] || (umask 022 && mkdir -p -- "$CD/principals") || fail 18 "cannot create $CD"
    before=$CHANGES
    if [ ! -f "$CD/revoked_keys" ] || [ "$(sha256sum <"$WORK/krl")" != "$(sha256sum <"$CD/revoked_keys")" ]; then
        put_root "$CD" revoked_keys 022 cat -- "$WORK/krl"
    fi
    ls -A -- "$CD/principals" >"$WORK/pr.have"
    {
        echo "$WORK/ca $CD/user_ca_keys"
        for name in $CERT_USERS; do echo "$WORK/pr.$name $CD/principals/$name"; done
    } >"$WORK/cert.list"
    awk -v have="$WORK/pr.have" -v dir="$CD/principals/" "$DIFF_AWK" "$WORK/cert.list" >"$WORK/cert.todo"
    while read -r new f; do
        if [ "$new" = - ]; then
            rm -f -- "$f" || fail 18 "cannot remove $f"
            CHANGES=$((CHANGES + 1))
        else
            put_root "$(dirname -- "$f")" "$(basename -- "$f")" 022 cat -- "$new"
        fi
    done <"$WORK/cert.todo"
    printf '%s\n' '# pka-fleet certificate mode (removed when the spec names no user CA)' "TrustedUserCAKeys $CD/user_ca_keys" \
        "AuthorizedPrincipalsFile $CD/principals/%u" "RevokedKeys $CD/revoked_keys" >"$WORK/di"
    if dropin "$WORK/di" && [ "$CHANGES" -ne "$before" ]; then
        # The first setting wins: one in sshd_config before its Include, or no Include at all, overrules the drop-in.
        eff=$(sshd_t trustedusercakeys)
        if [ "$eff" = "$CD/user_ca_keys" ]; then
            report "PKA-CERTS on"
        else
            warn certificates "sshd does not use $DI (TrustedUserCAKeys '$eff'): sshd_config must Include $SD/*.conf first"
        fi
    fi
elif [ -e "$DI" ]; then
    # The KRL stays until a later run: an sshd child started before the reload still reads it, and
    # sshd refuses every key while RevokedKeys names a file it cannot read.
    if dropin -; then
        rm -rf -- "$CD/principals" "$CD/user_ca_keys" || fail 18 "cannot remove $CD"
        report "PKA-CERTS off"
    fi
elif [ -d "$CD" ]; then
    rm -rf -- "$CD" || fail 18 "cannot remove $CD"
    CHANGES=$((CHANGES + 1))
fi
`;
