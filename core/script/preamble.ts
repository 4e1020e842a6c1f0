/**
 * The script's first part, up to the first blank line its header (comments kept in the document):
 * what it is, its input, exit codes and output; then its settings (the grammar, markers and
 * programs interpolated from TypeScript), the failure and cleanup handlers and the report counter.
 */
import { BLOCK_BEGIN, BLOCK_END } from "../managedBlock";
import {
    CA_LINE_ERE,
    GROUP_LINE_ERE,
    HEADER_ERE,
    KRL_LINE_ERE,
    PRINCIPAL_LINE_ERE,
    RESERVED_ERE,
    SUDO_LINE_ERE,
    USER_LINE_ERE,
} from "../document/manifest";
import { MAX_REPORTED_USERS } from "./contract";
import { HOST_KEY_AWK_ERE } from "../hostKeys";
import { keyLineShell } from "./grammar";
import { HOME_HELPER, MERGE_AWK } from "./homeHelper";
import { sq, sqProgram } from "./quote";
import { CHECK_AWK, STATE_AWK } from "./specAwk";
import { DIFF_AWK } from "./certs";

export const PREAMBLE = String.raw`#!/bin/sh
# pka-fleet host setup, run by the pka-fleet SSM document (README: "Setup document").
# Input, set by the SSM agent from ENV_VAR parameters (never spliced into this text):
#   SSM_AccessSpec        base64 of the access manifest (lines: header, u NAME SUDO, s NAME CMD,
#                         g NAME GROUP, k NAME KEYLINE; certificate mode: c CA, r KRL, p NAME PRINCIPAL)
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
SUDO_RE=${sq(SUDO_LINE_ERE)}
GROUP_RE=${sq(GROUP_LINE_ERE)}
CA_RE=${sq(CA_LINE_ERE)}
PRINCIPAL_RE=${sq(PRINCIPAL_LINE_ERE)}
KRL_RE=${sq(KRL_LINE_ERE)}
# KEY_LINE_ERE with from= and command= unbounded; CHECK_AWK checks their bounds
${keyLineShell()}
RESERVED_RE=${sq(RESERVED_ERE)}
HOSTKEY_RE=${sq(HOST_KEY_AWK_ERE)}
MAX_B64=65536
MAX_REPORTED=${MAX_REPORTED_USERS}
WORK=''
LOCK_DIR=''
LOCK_TMP=''
CHANGES=0
REPORTED=0
CONFLICTS=0
CONFLICTED=''
CERT_USERS=''
# Bytes of an authorized_keys file read at most, and seconds a user's home may take: a user can
# slow her own update down (a FIFO, a huge file), never the run's other users.
MAX_AK=1048576
HOME_TIMEOUT=20
# shellcheck disable=SC2016
HOME_HELPER=${sqProgram(HOME_HELPER)} MERGE_AWK=${sqProgram(MERGE_AWK)} CHECK_AWK=${sqProgram(CHECK_AWK)} STATE_AWK=${sqProgram(STATE_AWK)} DIFF_AWK=${sqProgram(DIFF_AWK)}

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
`;
