/**
 * The program the script runs as the user in her home directory (HOME_HELPER), the awk program it
 * merges the managed block with (MERGE_AWK), and the exit statuses it answers with.
 */

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
export function homeCode(word: HomeWord): number {
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
