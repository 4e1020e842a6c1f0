/**
 * Sections 0-4 of the script, before the lock: the host keys (printed first, on every run), the
 * parameters from the agent's environment, the commands it needs, the spec decoded and checked
 * against the grammar (grep, then CHECK_AWK), and sudo checked usable when a user needs it.
 */
import { HOST_KEY_MARKER } from "../hostKeys";

export const INPUT = String.raw`# ---- 0. host keys, first: known_hosts pinning must survive SSM's 24,000-character stdout cut,
# and they are public, so every run prints them, whether it then succeeds or fails.
# The first line of each, cut at single spaces to "type key" (as cut -d' ' -f1,2) and checked against the
# host key grammar (HOST_KEY_ERE, its {0,2} written =?=?), by one awk.
set --
for f in /etc/ssh/ssh_host_*_key.pub; do [ ! -f "$f" ] || set -- "$@" "$f"; done
[ "$#" = 0 ] || awk -F '[ ]' -v re="^${HOST_KEY_MARKER} ($HOSTKEY_RE)\$" 'FNR == 1 { l = "${HOST_KEY_MARKER} " (NF > 1 ? $1 " " $2 : $0); if (l ~ re) print l }' "$@" 2>/dev/null || true

# ---- 1. parameters (agent environment) --------------------------------------------------
# Read as variables (no printenv fork); only an empty value needs printenv to tell "unset" (9, 10)
# from "set but empty" (10).
set +u
# shellcheck disable=SC2154
spec_b64=$SSM_AccessSpec spec_sha=$SSM_AccessSpecSha256
set -u
if [ -z "$spec_b64" ] || [ -z "$spec_sha" ]; then
    set -- 0
    if printenv SSM_AccessSpec >/dev/null; then set -- 1; fi
    if printenv SSM_AccessSpecSha256 >/dev/null; then set -- "$1"1; fi
    [ "$1" != 0 ] ||
        fail 9 'SSM_AccessSpec and SSM_AccessSpecSha256 are not set: run this document with its parameters (SSM Agent 3.3.2746.0 or later passes ENV_VAR parameters)'
    [ "$1" = 11 ] || fail 10 'SSM_AccessSpec and SSM_AccessSpecSha256 must both be set'
fi
# Lengths without a fork: a case pattern of n question marks matches exactly n characters.
any64='?'
for _ in 1 2 3 4 5 6; do any64=$any64$any64; done
over_b64=$any64
for _ in 1 2 3 4 5 6 7 8 9 10; do over_b64=$over_b64$over_b64; done
# over_b64 is MAX_B64 (65536) question marks: followed by ?* it matches anything longer
case $spec_sha in *[!0-9a-f]*) spec_sha='' ;; esac
# shellcheck disable=SC2254
case $spec_sha in $any64) ;; *) fail 10 'AccessSpecSha256 must be 64 lower-case hex digits' ;; esac
case $spec_b64 in '' | *[!A-Za-z0-9+/=]*) fail 10 'AccessSpec must be non-empty base64 (A-Z a-z 0-9 + / =)' ;; esac
# shellcheck disable=SC2254
case $spec_b64 in $over_b64?*) fail 10 "AccessSpec is longer than $MAX_B64 characters" ;; esac

# ---- 2. tools ---------------------------------------------------------------------------
for tool in base64 sha256sum grep awk sort tr wc head mktemp getent stat dd \
    useradd usermod chmod mv rm cat env timeout; do
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
# A handful of processes whatever the spec's size: base64, sha256sum, tr + wc (NUL and CR), the
# grammar (grep -E, whose intervals not every awk has), and one awk for the rest.
WORK=$(mktemp -d) || fail 18 'cannot create a temporary directory'
spec="$WORK/spec"
# A here-document, not printf | base64: dash writes one of up to 4 KB itself, without a fork.
base64 -d >"$spec" 2>/dev/null <<EOF || fail 11 'AccessSpec is not valid base64'
$spec_b64
EOF
read -r got _ <<EOF
$(sha256sum <"$spec")
EOF
[ "$got" = "$spec_sha" ] || fail 11 'AccessSpec does not match AccessSpecSha256 (truncated or altered in transit)'
[ -s "$spec" ] || fail 12 'the spec is empty'
tr -d '\000\r' <"$spec" >"$WORK/clean"
{ read -r spec_lines spec_bytes _; read -r _ clean_bytes _; } <<EOF
$(wc -lc -- "$spec" "$WORK/clean")
EOF
if [ -z "$spec_bytes" ] || [ "$spec_bytes" != "$clean_bytes" ]; then
    fail 12 'the spec contains NUL or carriage-return bytes'
fi
if grep -Evn -x -e "$HEADER_RE" -e "$USER_RE" -e "$SUDO_RE" -e "$GROUP_RE" -e "$KEYLINE_RE" -e "$CA_RE" -e "$PRINCIPAL_RE" -e "$KRL_RE" "$spec" >"$WORK/bad"; then
    IFS=: read -r bad _ <"$WORK/bad" || true
    fail 12 "spec line $bad breaks the spec grammar"
fi
# Every line matches the grammar now; the awk checks what one line alone cannot show and writes
# WORK/plan ("NAME SUDO ADOPT GROUPS" per user, in spec order), WORK/block.NAME (each managed
# block) and WORK/sudo.NAME (the drop-in of each user with sudo, the text visudo checks).
# It prints "SPEC_HASH NEEDSUDO CERTMODE" and a line of the user names, or what is wrong (and exits 1).
checked=$(awk -v lines="$spec_lines" -v work="$WORK" -v reserved="$RESERVED_RE" -v b="$BEGIN_MARK" -v e="$END_MARK" "$CHECK_AWK" "$spec") || fail 12 "$checked"
spec_hash='' needsudo='' certmode='' names=''
{ read -r spec_hash needsudo certmode || true; read -r names || true; } <<EOF
$checked
EOF

# ---- 4. sudo must be usable before any user is promised it ---------------------------------
if [ "$needsudo" = 1 ]; then
    command -v sudo >/dev/null 2>&1 || fail 14 'a user needs sudo but the sudo package is not installed (install sudo, or set sudo: none)'
    command -v visudo >/dev/null 2>&1 || fail 14 'a user needs sudo but visudo is not installed'
    [ -d "$SUDOERS_D" ] || fail 14 "$SUDOERS_D does not exist"
    grep -Eq '^[[:space:]]*[#@]includedir[[:space:]]+/etc/sudoers\.d/?[[:space:]]*$' /etc/sudoers ||
        fail 14 '/etc/sudoers does not include /etc/sudoers.d (@includedir /etc/sudoers.d): a drop-in would grant nothing'
fi
`;
