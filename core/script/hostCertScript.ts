/**
 * The host-certificate script: what the host-certificate document runs on a host. It installs the
 * certificates the provisioner signed for this host's own keys as `HostCertificate`, through an
 * sshd_config.d drop-in checked with `sshd -t` (put back on failure: sshd keeps serving), and
 * reloads sshd once when something changed. The host CA's public key is part of the document
 * (only a deploy changes it); the certificates are a parameter, and the script trusts none of
 * them: a certificate is installed only if ssh-keygen reads it as a host certificate of one of
 * this host's keys, signed by that CA, valid now, and not older than the one it replaces.
 */
import { sq } from "./quote";

/** The certificates the provisioner sends one host-certificate command at most (SSM's 64 KB budget: about 700 characters each). */
export const MAX_HOST_CERTIFICATES = 50;

/** One certificate line as the script accepts it (the provisioner writes no comment); no interval or backslash: mawk reads it. */
export const HOST_CERT_LINE_ERE =
    "^(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa)-cert-v01@openssh[.]com [A-Za-z0-9+/]+=?=?$";

const BODY = String.raw`PATH="$PATH:/usr/sbin:/sbin"
export PATH
set -eu
umask 077
LC_ALL=C
TZ=UTC
export LC_ALL TZ
CD=/etc/ssh/pka-fleet/host-certificates
SD=/etc/ssh/sshd_config.d
DI=$SD/11-pka-fleet-host-certificate.conf
WORK=''
CHANGES=0
fail() {
    echo "PKA-ERROR code=$1 $2" >&2
    exit "$1"
}
cleanup() { [ -z "$WORK" ] || rm -rf -- "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
for c in ssh-keygen awk base64 mktemp; do
    command -v "$c" >/dev/null 2>&1 || fail 13 "$c is missing"
done
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$SSHD" ] || fail 13 "sshd is missing"
[ -n "${"$"}{SSM_HostCertificates:-}" ] || fail 9 "SSM_HostCertificates is not set (SSM agent 3.3.2746.0 or later passes ENV_VAR parameters)"
case $SSM_HostCertificates in *[!A-Za-z0-9+/=]*) fail 10 "SSM_HostCertificates is not base64" ;; esac
WORK=$(mktemp -d "${"$"}{TMPDIR:-/tmp}/pka-hostcert.XXXXXX") || fail 18 "cannot create a temporary directory"
printf '%s' "$SSM_HostCertificates" | base64 -d >"$WORK/in" 2>/dev/null || fail 11 "SSM_HostCertificates is not valid base64"
awk -v re="$LINE_RE" -v max="$MAX_CERTS" 'length($0) > 16384 || $0 !~ re { bad = 1 } END { if (bad || NR > max || NR == 0) exit 1 }' "$WORK/in" ||
    fail 12 "SSM_HostCertificates holds a line that is not a certificate, or more than $MAX_CERTS"
printf '%s\n' "$CA_KEY" >"$WORK/ca.pub"
CA_FP=$(ssh-keygen -l -E sha256 -f "$WORK/ca.pub" | awk '{ print $2 }')
[ -n "$CA_FP" ] || fail 12 "the document's host CA key is not a key ssh-keygen reads"
NOW=$(date -u +%Y-%m-%dT%H:%M:%S)
# info FILE: "TYPE KEYFP CAFP FROM TO SERIAL" of a certificate as ssh-keygen -L reads it (UTC), or nothing
info() {
    ssh-keygen -L -f "$1" 2>/dev/null | awk '
        $1 == "Type:" { kind = $NF == "certificate" ? $(NF - 1) : "" }
        $1 == "Public" && $2 == "key:" { kfp = $4 }
        $1 == "Signing" && $2 == "CA:" { cfp = $4 }
        $1 == "Serial:" { serial = $2 }
        $1 == "Valid:" { if ($2 == "from" && $4 == "to") { from = $3; to = $5 } else if ($2 == "forever") { from = "0"; to = "forever" } }
        END { if (kind != "" && kfp != "" && cfp != "" && to != "") print kind, kfp, cfp, from, to, serial }'
}
# The certificates, one file each, read once
n=0
: >"$WORK/certs"
while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    printf '%s\n' "$line" >"$WORK/c.$n"
    printf '%s %s\n' "$n" "$(info "$WORK/c.$n")" >>"$WORK/certs"
done <"$WORK/in"
# The host keys sshd serves: their .pub files. A configuration sshd already refuses is not this run's to fix.
"$SSHD" -T >"$WORK/sshd.T" 2>&1 || fail 13 "sshd -T fails before any change ($(head -n 1 "$WORK/sshd.T" | tr -cd 'A-Za-z0-9 ._:/-' | head -c 200)): fix sshd_config first"
awk '$1 == "hostkey" { print $2 }' "$WORK/sshd.T" >"$WORK/hostkeys"
[ -d "$CD" ] || (umask 022 && mkdir -p -- "$CD") || fail 18 "cannot create $CD"
: >"$WORK/di"
: >"$WORK/undo"
while IFS= read -r key; do
    [ -f "$key.pub" ] || continue
    name=$(basename -- "$key")
    fp=$(ssh-keygen -l -E sha256 -f "$key.pub" 2>/dev/null | awk '{ print $2 }')
    [ -n "$fp" ] || continue
    # This key's newest acceptable certificate: a host certificate of this key, by the CA, valid now
    pick=$(awk -v fp="$fp" -v ca="$CA_FP" -v now="$NOW" '
        NF == 7 && $2 == "host" && $3 == fp && $4 == ca && ($5 == "0" || $5 <= now) && ($6 == "forever" || $6 > now) && $6 > best { best = $6; n = $1 }
        END { if (n != "") print n }' "$WORK/certs")
    dest="$CD/$name-cert.pub"
    if [ -n "$pick" ]; then
        if [ -f "$dest" ] && cmp -s -- "$WORK/c.$pick" "$dest"; then
            echo "PKA-HOSTCERT unchanged $name"
        else
            old_from=''
            [ ! -f "$dest" ] || old_from=$(info "$dest" | awk -v ca="$CA_FP" '$3 == ca { print $4 }')
            new_from=$(awk -v n="$pick" '$1 == n { print $5 }' "$WORK/certs")
            if [ -n "$old_from" ] && awk -v a="$new_from" -v b="$old_from" 'BEGIN { exit !(a < b) }'; then
                # A replayed older certificate: the installed one stays
                echo "PKA-HOSTCERT older $name"
            else
                [ ! -f "$dest" ] || cp -p -- "$dest" "$WORK/old.$name"
                echo "$dest $WORK/old.$name" >>"$WORK/undo"
                (umask 022 && cp -- "$WORK/c.$pick" "$dest.tmp" && mv -f -- "$dest.tmp" "$dest") || fail 18 "cannot write $dest"
                CHANGES=$((CHANGES + 1))
                echo "PKA-HOSTCERT installed $name $(awk -v n="$pick" '$1 == n { print "serial=" $7, "valid-to=" $6 }' "$WORK/certs")"
            fi
        fi
    fi
    [ ! -f "$dest" ] || echo "HostCertificate $dest" >>"$WORK/di"
done <"$WORK/hostkeys"
if [ -s "$WORK/di" ]; then
    printf '%s\n' '# pka-fleet host certificates (signed by the fleet host CA)' | cat - "$WORK/di" >"$WORK/di.new"
    if [ ! -f "$DI" ] || ! cmp -s -- "$WORK/di.new" "$DI"; then
        [ -d "$SD" ] || mkdir -m 755 -- "$SD" || fail 18 "cannot create $SD"
        [ ! -f "$DI" ] || cp -p -- "$DI" "$WORK/di.old"
        (umask 022 && cp -- "$WORK/di.new" "$DI.tmp" && mv -f -- "$DI.tmp" "$DI") || fail 18 "cannot write $DI"
        echo "$DI $WORK/di.old" >>"$WORK/undo"
        CHANGES=$((CHANGES + 1))
    fi
fi
[ "$CHANGES" -gt 0 ] || { echo "PKA-SUMMARY changes=0"; exit 0; }
if ! "$SSHD" -t >"$WORK/sshd.out" 2>&1; then
    # Put back every file this run replaced; sshd, never reloaded, keeps serving as it did
    # (the drop-in is in the list only when this run wrote it)
    while read -r dest old; do
        if [ -f "$old" ]; then mv -f -- "$old" "$dest"; else rm -f -- "$dest"; fi
    done <"$WORK/undo"
    fail 19 "sshd -t refused the host certificates ($(head -n 1 "$WORK/sshd.out" | tr -cd 'A-Za-z0-9 ._:/-' | head -c 200)): put back, sshd not reloaded"
fi
pf=$(awk '$1 == "pidfile" { print $2 }' "$WORK/sshd.T")
if [ -s "$pf" ] && read -r pid <"$pf" && kill -HUP "$pid" 2>/dev/null; then echo "PKA-SSHD reloaded"; fi
echo "PKA-SUMMARY changes=$CHANGES"
`;

/** The script for a fleet whose host CA is `caPublicKey` (an OpenSSH public key line, checked by the caller). */
export function hostCertificateScript(caPublicKey: string): string {
    if (!/^[a-z0-9@.-]+ [A-Za-z0-9+/]+={0,2}$/.test(caPublicKey))
        throw new Error("the host CA key must be `type base64` (no comment) to be part of the script");
    return [
        "#!/bin/sh",
        "# pka-fleet host certificates, run by the fleet's host-certificate SSM document (README: host certificates).",
        "# Input (ENV_VAR, never spliced into this text): SSM_HostCertificates, base64 of certificate lines.",
        "# Exit codes: 0 done; 9 no parameters; 10-12 input malformed; 13 a command is missing or sshd -T fails; 18 a write failed;",
        "# 19 sshd -t refused the result (everything put back, sshd not reloaded).",
        `CA_KEY=${sq(caPublicKey)}`,
        `LINE_RE=${sq(HOST_CERT_LINE_ERE)}`,
        `MAX_CERTS=${MAX_HOST_CERTIFICATES}`,
        BODY,
    ].join("\n");
}
