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
/** The exit code the Lambda treats as an agent too old for ENV_VAR (no retry). */
export const EXIT_NO_PARAMETERS = 9;
/** SSM Agent version from which `interpolationType: ENV_VAR` parameters reach the script as environment variables. */
export const MIN_AGENT_VERSION = "3.3.2746.0";

/** True when `version` (dotted numbers, as DescribeInstanceInformation's AgentVersion) is older than MIN_AGENT_VERSION; unknown: false. */
export function agentTooOld(version: string | undefined): boolean {
    if (!version || !/^\d+(\.\d+)*$/.test(version)) return false;
    const a = version.split(".").map(Number);
    const b = MIN_AGENT_VERSION.split(".").map(Number);
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
        const d = (a[i] ?? 0) - (b[i] ?? 0);
        if (d !== 0) return d < 0;
    }
    return false;
}
export const SCRIPT_EXIT_CODES: Readonly<Record<number, string>> = Object.freeze({
    0: "done (the summary line says what changed)",
    9: "the agent passed no parameters: neither SSM_AccessSpec nor SSM_AccessSpecSha256 is set (an SSM Agent older than 3.3.2746.0 does not pass ENV_VAR parameters; update it with AWS-UpdateSSMAgent). The Lambda dead-letters it at once as agent-too-old",
    10: "parameters malformed (SSM_AccessSpec / SSM_AccessSpecSha256 set but not the right shape or too long)",
    11: "AccessSpec is not valid base64 or does not match AccessSpecSha256 (truncated or altered)",
    12: "the access spec's content is invalid (a line that breaks the grammar, a duplicate or reserved user)",
    13: "a command the script needs is missing on the host",
    14: "a user needs sudo but sudo/visudo is missing or /etc/sudoers does not include /etc/sudoers.d",
    15: "no longer raised: a user that conflicts with the host is reported and skipped (19), the rest applied",
    16: "another run held the lock for 120 s",
    17: "a sudoers drop-in failed `visudo -cf` (nothing was changed)",
    18: "a write failed part-way (files already written are complete; the rest keep their previous content)",
    19: "partial: every other user and every revocation applied; the users named in PKA-CONFLICT lines (stderr) were not (a system or foreign account, a group of that name, a home that is not a directory, a symlinked, linked or non-regular ~/.ssh or authorized_keys)",
});

/** PKA-USER/PKA-REVOKED lines printed at most; the rest are counted in one PKA-OMITTED line. */
export const MAX_REPORTED_USERS = 50;

/** A host key line as the script prints it: the installable key types, the same list as the spec grammar. */
const HOST_KEY_ERE = `(${INSTALLABLE_KEY_TYPES.join("|")}) [A-Za-z0-9+/]+={0,2}`;
/** HOST_KEY_ERE as the script's awk checks it (not every awk has intervals): the same lines. */
const HOST_KEY_AWK_ERE = (() => {
    const re = HOST_KEY_ERE.replace(/=\{0,2\}$/, "=?=?");
    if (re === HOST_KEY_ERE || /[{}\\]/.test(re)) throw new Error("HOST_KEY_ERE changed: update HOST_KEY_AWK_ERE");
    return re;
})();

/**
 * The key-line grammar as grep runs it. GNU grep expands a bounded repetition into that many
 * copies, and KEY_LINE_ERE's from="...{1,512}" and command="...{1,256}" make it compile for ~50 ms
 * on every run (more than all the rest of a no-change run). So grep gets them as "+" and the
 * script's awk checks the two bounds: a value is what lies between its quotes (the classes hold
 * no quote), so the two checks together accept exactly KEY_LINE_ERE's lines.
 */
function keyLineFast(): { ere: string; fromMax: number; commandMax: number } {
    const max: Record<string, number> = {};
    const ere = KEY_LINE_ERE.replace(/(from|command)="(\[[^\]"]+\])\{1,(\d+)\}"/g, (_m, opt: string, cls: string, n: string) => {
        if (max[opt] !== undefined && max[opt] !== Number(n)) throw new Error(`KEY_LINE_ERE: two bounds for ${opt}`);
        max[opt] = Number(n);
        return `${opt}="${cls}+"`;
    });
    if (max.from === undefined || max.command === undefined || /\{1,(512|256)\}/.test(ere)) throw new Error("KEY_LINE_ERE changed: update keyLineFast");
    return { ere, fromMax: max.from, commandMax: max.command };
}
const KEY_LINE_FAST = keyLineFast();

/**
 * KEY_LINE_FAST.ere as the script defines it: its options alternative (written twice in the ERE,
 * "((OPT)(,(OPT))* )?") once, in KEY_OPT, to save the document's bytes for the spec.
 */
function keyLineShell(): string {
    const m = /^(.*)\(\((.+)\)\(,\(\2\)\)\* \)\?(.*)$/.exec(KEY_LINE_FAST.ere);
    if (!m || /[$`"\\]/.test(m[1] + m[3])) throw new Error("KEY_LINE_ERE changed: update keyLineShell");
    return `KEY_OPT=${sq(m[2])}\nKEYLINE_RE="${m[1]}(($KEY_OPT)(,($KEY_OPT))* )?${m[3]}"`;
}

/** Only what cannot break out of single quotes may be interpolated. */
function sq(value: string): string {
    if (value.includes("'") || /[\n\r]/.test(value)) throw new Error(`cannot embed ${JSON.stringify(value)} in the script`);
    return `'${value}'`;
}
/** A multi-line program as one single-quoted word: newlines cannot end single quotes, a quote can. */
function sqProgram(value: string): string {
    if (value.includes("'") || value.includes("\r") || value.includes("{{")) throw new Error("cannot embed a program with a quote, CR or {{ in the script");
    return `'${value}'`;
}

/**
 * The words the helper answers with, as its exit status: HOME_EXIT_BASE + the index. An exit
 * status needs no output to read back (no file, no `head`), and tells the answer no better or
 * worse than a printed word: anything else (a timeout, a signal, setpriv failing) is no answer.
 */
export const HOME_WORDS = [
    "unchanged",
    "changed",
    "home-unreadable",
    "ssh-symlink",
    "ssh-not-dir",
    "ssh-create-failed",
    "ssh-not-owned",
    "ssh-unreadable",
    "ak-symlink",
    "ak-not-file",
    "ak-not-owned",
    "ak-hard-links",
    "ak-too-large",
    "ak-unreadable",
    "write-failed",
] as const;
/** Clear of 0-2 (sh, setpriv), 124-127 (timeout, env) and 128+ (signals). */
export const HOME_EXIT_BASE = 40;
type HomeWord = (typeof HOME_WORDS)[number];
/** The exit status of a word. */
function homeCode(word: HomeWord): number {
    return HOME_EXIT_BASE + HOME_WORDS.indexOf(word);
}
/** The helper's "out WORD" (in its source, for reading) as "exit CODE" (in the script: fewer bytes). */
function homeExits(program: string): string {
    return program.replace(/\bout ([a-z-]+)/g, (_m, w: string) => {
        if (!(HOME_WORDS as readonly string[]).includes(w)) throw new Error(`HOME_HELPER: unknown word ${w}`);
        return `exit ${homeCode(w as HomeWord)}`;
    });
}

/**
 * What the script runs AS THE USER (never as root) for each account's home:
 *   sh -c "$HOME_HELPER" pka-home HOME MAXBYTES grant|revoke BEGIN_MARK END_MARK MERGE_AWK UID
 * with the new managed block on stdin (empty to revoke). UID is the account's, the one it runs
 * as. It replaces the block in ~/.ssh/authorized_keys (temp file + rename), keeps every other
 * line, sets the modes sshd's StrictModes wants, and exits with one word's code (HOME_WORDS):
 * unchanged, changed, or what it refused. Links, FIFOs, directories and files of another owner
 * are refused, never followed; so is a second hard link. Whatever the user swaps in while it runs,
 * it is reached with her own rights only.
 *
 * Cost: it runs for every user on every run, so it forks little: the block is read by the shell
 * itself (its first lines; cat only for a long block), one stat for ~/.ssh and the file (none for
 * a ~/.ssh it has just made), and one read + awk that only compares when nothing changed (a second
 * read, into a temp file in ~/.ssh, only when it must write). The temp file is made by the shell
 * (noclobber, a name of its pid), mktemp only when that name is taken. Nothing is written when
 * nothing changes, not even a scratch file, so ~/.ssh keeps its mtime.
 */
export const HOME_HELPER = homeExits(String.raw`umask 077
home=$1 max=$2 mode=$3 begin=$4 end=$5 merge=$6 me=$7
staged=""
# shellcheck disable=SC2317
cleanup() { [ -z "$staged" ] || rm -f -- "$staged"; }
trap cleanup EXIT
cd -- "$home" 2>/dev/null || out home-unreadable
if [ -L .ssh ]; then out ssh-symlink; fi
if [ -e .ssh ] && [ ! -d .ssh ]; then out ssh-not-dir; fi
made=0
if [ ! -e .ssh ]; then
    [ "$mode" = grant ] || out unchanged
    mkdir -m 700 .ssh 2>/dev/null || out ssh-create-failed
    made=1
fi
cd .ssh 2>/dev/null || out ssh-unreadable
# The new block (stdin: lines, each with its newline, as CHECK_AWK wrote them), kept so. The
# shell reads its first lines itself (a byte a read: cheap for a few lines), cat the rest ($(...)
# drops the final newline: put back).
blk="" n=0
while [ "$n" -lt 8 ] && IFS= read -r l; do
    blk="$blk$l
"
    n=$((n + 1))
done
if [ "$n" = 8 ]; then
    r=$(cat) || out write-failed
    [ -z "$r" ] || blk="$blk$r
"
fi
had=0
set -- .
if [ -L authorized_keys ]; then had=link; elif [ -e authorized_keys ]; then had=1; set -- . authorized_keys; fi
if [ "$made" = 1 ] && [ "$had" = 0 ] && [ -O . ]; then
    # a ~/.ssh made just now (mkdir -m 700, as the user) and still hers: its stat is known
    set -- 1 "$me" 0 700
else
    # One stat: links owner size mode of ~/.ssh, then of authorized_keys (lstat: a link is not followed)
    st=$(stat -c "%h %u %s %a" -- "$@" 2>/dev/null)
    # shellcheck disable=SC2086
    set -- $st
fi
[ "$#" -ge 4 ] || out ssh-unreadable
[ "$2" = "$me" ] || out ssh-not-owned
sshmode=$4
[ "$had" != link ] || out ak-symlink
akmode=600 size=0
if [ "$had" = 1 ]; then
    [ -f authorized_keys ] || out ak-not-file
    [ "$#" -ge 8 ] || out ak-unreadable
    [ "$5" = 1 ] || out ak-hard-links
    [ "$6" = "$me" ] || out ak-not-owned
    [ "$7" -le "$max" ] || out ak-too-large
    size=$7 akmode=$8
fi
# merge CHECK: reads the file (at most max bytes, O_NONBLOCK: a FIFO swapped in after the checks
# answers at once instead of hanging the run); CHECK=1 prints same, differs or short (the read fell
# short of the size stat gave: unreadable, or swapped meanwhile); CHECK=0 prints the new file (exit 3 when short)
merge() { dd if=authorized_keys bs="$max" count=1 iflag=nonblock 2>/dev/null | PKA_BLOCK=$blk awk -v b="$begin" -v e="$end" -v size="$size" -v check="$1" "$merge"; }
changed=0 wrote=0 verdict=same
if [ "$had" = 1 ]; then verdict=$(merge 1) || out ak-unreadable; elif [ -n "$blk" ]; then verdict=differs; fi
case $verdict in
    same) ;;
    differs)
        # The temp file: a name of this pid, made by the shell (noclobber: O_EXCL); one from mktemp only
        # when that name is taken (left by a killed run, or planted).
        rc=0 staged=.pka-authorized_keys.$$ c=-C
        if [ -e "$staged" ] || [ -L "$staged" ]; then
            staged=$(mktemp .pka-authorized_keys.XXXXXX) || { staged=""; out write-failed; }
            c=+C
        fi
        set "$c"
        if [ "$had" = 1 ]; then merge 0 >"$staged" || rc=$?; else printf "%s" "$blk" >"$staged" || rc=1; fi
        set +C
        if [ "$rc" = 3 ]; then out ak-unreadable; fi
        [ "$rc" = 0 ] || out write-failed
        # -T: a directory swapped in is an error, not a place to move the file into
        mv -fT -- "$staged" authorized_keys || out write-failed
        staged=""
        changed=1 wrote=1
        ;;
    *) out ak-unreadable ;;
esac
if [ "$sshmode" != 700 ]; then chmod 700 . || out write-failed; changed=1; fi
# a file written here is 600 already (umask 077 or mktemp); one kept as it was may not be
if [ "$had" = 1 ] && [ "$wrote" = 0 ] && [ "$akmode" != 600 ]; then
    chmod 600 authorized_keys || out write-failed
    changed=1
fi
if [ "$changed" = 1 ]; then out changed; fi
out unchanged
`);

/**
 * Replaces the managed block of the file it reads with the block in ENVIRON["PKA_BLOCK"] (or
 * appends it), every other line kept. With check=1 it prints only whether that changes the file
 * (same / differs); a read shorter than `size` bytes (what stat saw) is "short" (exit 3 with
 * check=0): the file is then left alone rather than rewritten from part of it.
 */
export const MERGE_AWK = String.raw`
function put(l){n++;if(check)nw[n]=l;else print l}
function emit(k,m,i){if(!done&&ENVIRON["PKA_BLOCK"]!=""){m=split(ENVIRON["PKA_BLOCK"],k,"\n");if(k[m]=="")m--;for(i=1;i<=m;i++)put(k[i])};done=1}
{got+=length($0)+1;if(check)old[NR]=$0}
$0==b{emit();inb=1;next}
$0==e{inb=0;next}
inb{next}
{put($0)}
END{emit()
# got is size+1 when the last line has no newline (the new file gets one: it differs)
if(got!=size&&got!=size+1){if(check)print "short";exit 3}
if(!check)exit 0
same=got==size&&n==NR;for(i=1;same&&i<=n;i++)if(nw[i]!=old[i])same=0
print same?"same":"differs"}
`;

/**
 * Run once on the decoded spec after grep has checked every line against the grammar: what no
 * single line can show (the header is line 1 and alone, the last line ends, no user twice, keys
 * only for users of the spec, no reserved name). Writes WORK/plan and WORK/block.NAME; prints
 * "SPEC_HASH NEEDSUDO" and a line of the names, or "ERR message" (exit 1). One process instead of
 * the two dozen cut/sort/uniq/comm/sed pipelines it replaces; the values it handles are data to it.
 */
export const CHECK_AWK = String.raw`
function fail(m){print m;exit 1}
# long(LINE,OPT,MAX): an OPT="..." value in LINE is longer than MAX
function long(s,o,m){while(match(s,o "=\"[^\"]*\"")){if(RLENGTH-length(o)-3>m)return 1;s=substr(s,RSTART+RLENGTH)}return 0}
$1=="k"&&!bad&&(long($0,"from",${KEY_LINE_FAST.fromMax})||long($0,"command",${KEY_LINE_FAST.commandMax})){bad=NR}
NR==1{first=$1;hash=$3}
/^pka-access /{hd++}
$1=="u"{n++;nm[n]=$2;if(($2 in su)&&dup=="")dup=$2;su[$2]=$3;ad[$2]=$4;if($3=="nopasswd")ns=1;next}
$1=="k"{if(!($2 in ks)){kn++;ku[kn]=$2};ks[$2]=ks[$2] substr($0,length($2)+4) "\n"}
END{
if(NR!=lines)fail("the spec does not end with a newline")
if(bad)fail("spec line " bad " breaks the spec grammar")
if(first!="pka-access")fail("spec line 1 must be the pka-access header")
if(hd!=1)fail("the spec has more than one header line")
if(dup!="")fail("user " dup " appears twice")
for(i=1;i<=kn;i++)if(!(ku[i] in su))fail("keys for " ku[i] ", who is not a user of the spec")
for(i=1;i<=n;i++)if(nm[i]~("^" reserved "$"))fail("user " nm[i] " is a reserved system or cloud-init account")
p=work "/plan";printf "">p;all=""
for(i=1;i<=n;i++){u=nm[i];print u,su[u],ad[u]>p;f=work "/block." u;printf "%s\n%s%s\n",b,ks[u],e>f;close(f);all=all " " u}
close(p);print hash,ns+0;print all}
`;

/**
 * Run once under the lock: which accounts are ours. Reads UID_MIN, the state files (a line that is
 * not a plain non-reserved name is dropped, as before), WORK/plan, WORK/passwd (getent for the
 * spec's users) and WORK/stat (the state files and our drop-ins), and writes the sets to record,
 * WORK/todo and WORK/revoke. DIRTY: a set differs from its file or the file is not as this script
 * writes it (sorted, unique, every line kept, newline-terminated); clean sets are not rewritten,
 * and an empty set without a file needs none. SUDO_OK: the drop-in is installed, byte for byte,
 * mode 440, root:root, not a link. EXISTS: getent knew the account (one that does not exist is
 * not looked up again before useradd). Prints "UID_MIN DIRTY_R DIRTY_M".
 */
export const STATE_AWK = String.raw`
function reg(p){return p in ty&&ty[p]~/^regular (empty )?file$/}
# load(FILE,SET): 0 missing, 1 read but not as this script writes it, 2 as written
function load(f,set,p,l,pr,c,n,r){p=state "/" f;if(!(p in ty))return 0
c=reg(p);while((r=(getline l<p))>0){n+=length(l)+1
if(l!~/^[a-z_][a-z0-9_-]*$/||length(l)>32||l~rre){c=0;continue}
if(pr!=""&&l<=pr)c=0;pr=l;set[l]=1}
close(p);return (c&&r==0&&n==sz[p])?2:1}
function sok(u,p,l,t,r){p=sudoers "/90-pka-" u;if(!reg(p)||md[p]" "ow[p]!="440 0:0")return 0
while((r=(getline l<p))>0)t=t l "\n";close(p);return r==0&&t==head "\n" u rule "\n"&&length(t)==sz[p]}
BEGIN{rre="^" reserved "$";um="-"
while((getline l<"/etc/login.defs")>0){split(l,w);if(w[1]=="UID_MIN"){um=w[2];break}}
if(um=="")um="-"
while((getline l<(work "/stat"))>0){split(l,f,"|");p=f[5];ty[p]=f[1];md[p]=f[2];ow[p]=f[3];sz[p]=f[4]}
ms=load("managed-users",mg);rs=load("revoked-users",rv)
while((getline l<(work "/passwd"))>0){split(l,f,":");ex[f[1]]=1}
while((getline l<(work "/plan"))>0){split(l,f," ");n++;pn[n]=f[1];ps[n]=f[2];pa[n]=f[3];pl[f[1]]=1}
rd=rs==1;mdy=ms==1
# dropped: ours and no longer in the spec
for(u in mg)if(!(u in pl)){dr[u]=1;mdy=1;if(!(u in rv))rd=1}
o=work "/revoked-users";printf "">o;for(u in rv)print u>o;for(u in dr)if(!(u in rv))print u>o;close(o)
o=work "/revoke";printf "">o;for(u in rv)if(!(u in pl))print u,(u in dr)?1:0>o;for(u in dr)if(!(u in rv))print u,1>o;close(o)
# new accounts are recorded before they are created
o=work "/managed-users";printf "">o;for(u in mg)if(!(u in dr))print u>o
for(i=1;i<=n;i++)if(!(pn[i] in ex)&&!(pn[i] in mg)){print pn[i]>o;mdy=1};close(o)
o=work "/todo";printf "">o
for(i=1;i<=n;i++){u=pn[i];print u,ps[i],pa[i]=="adopt"?"adopt":"-",(u in mg)||(u in rv)?1:0,(u in rv)?1:0,ps[i]=="nopasswd"&&sok(u)?1:0,(u in ex)?1:0>o}
close(o);print um,rd,mdy}
`;

const RAW = String.raw`#!/bin/sh
# pka-fleet host setup, run by the pka-fleet SSM document (README: "Setup document").
# Input, set by the SSM agent from ENV_VAR parameters (never spliced into this text):
#   SSM_AccessSpec        base64 of the access manifest (lines: header, u NAME SUDO, k NAME KEYLINE)
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
# Bytes of an authorized_keys file read at most, and seconds a user's home may take: a user can
# slow her own update down (a FIFO, a huge file), never the run's other users.
MAX_AK=1048576
HOME_TIMEOUT=20
# shellcheck disable=SC2016
HOME_HELPER=${sqProgram(HOME_HELPER)} MERGE_AWK=${sqProgram(MERGE_AWK)} CHECK_AWK=${sqProgram(CHECK_AWK)} STATE_AWK=${sqProgram(STATE_AWK)}

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
# The first line of each, cut at single spaces to "type key" (as cut -d' ' -f1,2) and checked against the
# host key grammar (HOST_KEY_ERE, its {0,2} written =?=?), by one awk.
set --
for f in /etc/ssh/ssh_host_*_key.pub; do [ ! -f "$f" ] || set -- "$@" "$f"; done
[ "$#" = 0 ] || awk -F '[ ]' -v re="^PKA-HOSTKEY ($HOSTKEY_RE)\$" 'FNR == 1 { l = "PKA-HOSTKEY " (NF > 1 ? $1 " " $2 : $0); if (l ~ re) print l }' "$@" 2>/dev/null || true

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
if grep -Evn -x -e "$HEADER_RE" -e "$USER_RE" -e "$KEYLINE_RE" "$spec" >"$WORK/bad"; then
    IFS=: read -r bad _ <"$WORK/bad" || true
    fail 12 "spec line $bad breaks the spec grammar"
fi
# Every line matches the grammar now; the awk checks what one line alone cannot show and writes
# WORK/plan ("NAME SUDO [adopt]" per user, in spec order) and WORK/block.NAME (each managed block).
# It prints "SPEC_HASH NEEDSUDO" and a line of the user names, or what is wrong (and exits 1).
checked=$(awk -v lines="$spec_lines" -v work="$WORK" -v reserved="$RESERVED_RE" -v b="$BEGIN_MARK" -v e="$END_MARK" "$CHECK_AWK" "$spec") || fail 12 "$checked"
spec_hash='' needsudo='' names=''
{ read -r spec_hash needsudo || true; read -r names || true; } <<EOF
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

# ---- 5. one run at a time ----------------------------------------------------------------
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

# ---- 6. which accounts are ours ----------------------------------------------------------------
# managed-users: accounts this script created (or was told to adopt) and that the spec lists;
# revoked-users: accounts of ours dropped from the spec, locked and expired until a spec lists them
# again. Anything else on the host is not ours: never taken over without 'adopt', never unlocked.
# Read under the lock, in one pass: one getent for every user of the spec, one stat for the state
# files and our drop-ins, and STATE_AWK, which writes WORK/managed-users and WORK/revoked-users
# (the sets to record), WORK/todo ("NAME SUDO ADOPT OWNED REVOKED SUDO_OK EXISTS" per user, spec
# order) and WORK/revoke ("NAME DROPPED" per account to revoke), and prints "UID_MIN DIRTY_R
# DIRTY_M".
: >"$WORK/passwd"
if [ -n "$names" ]; then
    set -f
    # shellcheck disable=SC2086
    getent passwd -- $names >"$WORK/passwd" 2>/dev/null || true
    set +f
fi
stat -c '%F|%a|%u:%g|%s|%n' -- "$STATE_DIR"/*-users "$SUDOERS_D"/90-pka-* >"$WORK/stat" 2>/dev/null || true
SUDO_HEAD='# Managed by pka-fleet: rewritten or removed on every run; do not edit.'
SUDO_RULE=' ALL=(ALL:ALL) NOPASSWD: ALL'
ours=$(awk -v work="$WORK" -v state="$STATE_DIR" -v sudoers="$SUDOERS_D" -v reserved="$RESERVED_RE" \
    -v head="$SUDO_HEAD" -v rule="$SUDO_RULE" "$STATE_AWK") || fail 18 "cannot read the state in $STATE_DIR"
read -r uid_min rdirty mdirty <<EOF
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
# sudo_text NAME: the drop-in for NAME, the only text this script writes into /etc/sudoers.d
sudo_text() { printf '%s\n%s%s\n' "$SUDO_HEAD" "$1" "$SUDO_RULE"; }

# dirty NAME [0|1]: whether WORK/NAME differs from STATE_DIR/NAME (STATE_AWK's verdict, then
# kept by state_add, state_del and save_state); sets or tells (exit status)
dirty() {
    case $1$# in managed-users1) [ "$mdirty" = 1 ] ;; managed-users2) mdirty=$2 ;; *1) [ "$rdirty" = 1 ] ;; *) rdirty=$2 ;; esac
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

# inspect NAME: sets exists uid gid home (home_owner: not known)
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

# Every drop-in is staged and checked with visudo before anything changes; one that is installed
# already, byte for byte with mode 440 root:root (SUDO_OK from STATE_AWK), needs neither.
# (umask 337: the shell makes the file 0440, as it is installed; install writes the same text.)
while read -r name sudo _ _ _ sudo_ok _; do
    if [ "$sudo" = nopasswd ] && [ "$sudo_ok" != 1 ]; then
        d="$WORK/sudo.$name"
        umask 337
        sudo_text "$name" >"$d"
        umask 077
        if ! visudo -cf "$d" >"$WORK/visudo.out" 2>&1; then
            fail 17 "the sudoers drop-in for $name does not pass visudo -cf; nothing was changed"
        fi
    fi
done <"$WORK/todo"

# ---- 7. apply ------------------------------------------------------------------------------
# sudoers NAME MODE SUDO_OK: installs or removes /etc/sudoers.d/90-pka-NAME
sudoers() {
    target="$SUDOERS_D/90-pka-$1"
    if [ "$2" = nopasswd ]; then
        if [ "$3" = 1 ]; then return 0; fi
        # The text visudo checked (sudo_text, in WORK/sudo.NAME), 0440 by umask. sudo skips names
        # that contain a dot, so the staged file is inert until the rename.
        put_root "$SUDOERS_D" "90-pka-$1" 337 sudo_text "$1"
    elif [ -e "$target" ] || [ -L "$target" ]; then
        rm -f -- "$target" || fail 18 "cannot remove $target"
        CHANGES=$((CHANGES + 1))
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
while read -r name sudo adopt owned revoked sudo_ok exists; do
    users_n=$((users_n + 1))
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
    sudoers "$name" "$sudo" "$sudo_ok"
    if ! home_ok "$name"; then
        conflict "$name" "$home_problem"
    elif ! keys "$name" grant "$WORK/block.$name"; then
        conflict "$name" "$(home_reason "$home_word")"
    fi
    if [ "$what" = unchanged ] && [ "$CHANGES" -ne "$before" ]; then what=updated; fi
    if [ "$what" != unchanged ]; then report "PKA-USER $name $what sudo=$sudo"; fi
done <"$WORK/todo"

# revoke NAME: no login by any key (password locked and account expired, which sshd checks with or
# without PAM), no sudo, no process left running; then the managed block goes, as the user.
revoked_n=0
: >"$WORK/empty"
while read -r name dropped; do
    revoked_n=$((revoked_n + 1))
    before=$CHANGES
    sudoers "$name" none 0
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

/**
 * The script exactly as the document carries it: the source above without its comment lines, but
 * for the header (up to the first blank line) and shellcheck directives, and without indentation. Every byte of the document
 * counts against SSM's 64 KB for document plus parameters, so the comments stay here, in the source.
 */
export const SETUP_SCRIPT: string = (() => {
    const lines = RAW.split("\n");
    const header = lines.indexOf("");
    // Indentation goes too (no line of the script, its awk programs or its helper continues a
    // string whose leading blanks matter): it is 10% of the bytes, which the spec can use instead.
    return lines
        .filter((l, i) => i < header || !/^\s*#/.test(l) || /^\s*# shellcheck /.test(l))
        .map((l) => l.replace(/^[ \t]+/, ""))
        .join("\n");
})();

/** The script as the document's runCommand lines (the agent joins them with newlines). */
export function scriptLines(): string[] {
    return SETUP_SCRIPT.replace(/\n$/, "").split("\n");
}
