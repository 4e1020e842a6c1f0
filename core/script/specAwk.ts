/**
 * The two awk programs the script runs once per run: CHECK_AWK over the decoded spec, STATE_AWK
 * over the state files under the lock.
 */
import {
    MAX_GROUPS,
    MAX_SUDO_COMMAND_LENGTH,
    MAX_SUDO_COMMANDS,
    PRIVILEGED_GROUP_NAMES,
    SUDO_HEAD,
} from "../userAccess";
import { KEY_LINE_FAST } from "./grammar";

/**
 * Run once on the decoded spec after grep has checked every line against the grammar: what no
 * single line can show (the header is line 1 and alone, the last line ends, no user twice, keys
 * only for users of the spec, no reserved name; sudo commands only for a user with sudo, at most
 * MAX_SUDO_COMMANDS of MAX_SUDO_COMMAND_LENGTH, at most MAX_GROUPS groups, none privileged).
 * Writes WORK/plan, WORK/block.NAME and WORK/sudo.NAME (the drop-in: sudoersDropIn's text), and in
 * certificate mode WORK/ca, WORK/krl.b64 and WORK/pr.NAME (the principals); prints
 * "SPEC_HASH NEEDSUDO CERTMODE" and a line of the names, or "ERR message" (exit 1). One process instead of
 * the two dozen cut/sort/uniq/comm/sed pipelines it replaces; the values it handles are data to it.
 */
export const CHECK_AWK = String.raw`
function fail(m){print m;exit 1}
# long(LINE,OPT,MAX): an OPT="..." value in LINE is longer than MAX
function long(s,o,m){while(match(s,o "=\"[^\"]*\"")){if(RLENGTH-length(o)-3>m)return 1;s=substr(s,RSTART+RLENGTH)}return 0}
$1=="k"&&!bad&&(long($0,"from",${KEY_LINE_FAST.fromMax})||long($0,"command",${KEY_LINE_FAST.commandMax})){bad=NR}
$1=="s"&&!bad&&length($0)-length($2)-3>${MAX_SUDO_COMMAND_LENGTH}{bad=NR}
$1=="g"&&!bad&&$3~/^(${PRIVILEGED_GROUP_NAMES.join("|")})$/{bad=NR}
NR==1{first=$1;hash=$3}
/^pka-access /{hd++}
$1=="u"{n++;nm[n]=$2;if(($2 in su)&&dup=="")dup=$2;su[$2]=$3;ad[$2]=$4==""?"-":$4;if($3!="none")ns=1;next}
# sc[NAME]: its sudo commands joined by ", " (a sudoers Cmnd_List); gs[NAME]: its groups joined by ","
$1=="s"{u=$2;c=substr($0,length(u)+4);if(u in sc)sc[u]=sc[u] ", " c;else{sc[u]=c;xn++;xu[xn]=u};nc[u]++;next}
$1=="g"{u=$2;if(u in gs)gs[u]=gs[u] "," $3;else{gs[u]=$3;xn++;xu[xn]=u};ng[u]++;next}
$1=="k"{if(!($2 in ks)){kn++;ku[kn]=$2};ks[$2]=ks[$2] substr($0,length($2)+4) "\n"}
# certificate mode: ca the user CAs, kr the KRL, pp[NAME] the principals
$1=="c"{ca=ca $2 " " $3 "\n";cn++;next}
$1=="r"{rn++;kr=$2;next}
$1=="p"{if(!($2 in pp)){pn++;pu[pn]=$2};pp[$2]=pp[$2] $3 "\n";next}
END{
if(NR!=lines)fail("the spec does not end with a newline")
if(bad)fail("spec line " bad " breaks the spec grammar")
if(first!="pka-access")fail("spec line 1 must be the pka-access header")
if(hd!=1)fail("the spec has more than one header line")
if(dup!="")fail("user " dup " appears twice")
for(i=1;i<=kn;i++)if(!(ku[i] in su))fail("keys for " ku[i] ", who is not a user of the spec")
for(i=1;i<=xn;i++){u=xu[i];if(!(u in su))fail("sudo commands or groups for " u ", who is not a user of the spec")
if((u in sc)&&su[u]=="none")fail("sudo commands for " u ", whose sudo is none")
if(nc[u]>${MAX_SUDO_COMMANDS}||ng[u]>${MAX_GROUPS})fail("user " u " has more than ${MAX_SUDO_COMMANDS} sudo commands or ${MAX_GROUPS} groups")}
for(i=1;i<=n;i++)if(nm[i]~("^" reserved "$"))fail("user " nm[i] " is a reserved system or cloud-init account")
if(rn>1)fail("the spec has more than one KRL line")
if(!cn&&(pn||rn))fail("principals or a KRL without a user CA (c line)")
for(i=1;i<=pn;i++)if(!(pu[i] in su))fail("principals for " pu[i] ", who is not a user of the spec")
if(cn){f=work "/ca";printf "%s",ca>f;close(f);f=work "/krl.b64";print kr>f;close(f)
for(i=1;i<=n;i++){u=nm[i];f=work "/pr." u;printf "%s",((u in pp)?pp[u]:u "\n")>f;close(f)}}
p=work "/plan";printf "">p;all=""
for(i=1;i<=n;i++){u=nm[i];print u,su[u],ad[u],(u in gs)?gs[u]:"-">p;f=work "/block." u;printf "%s\n%s%s\n",b,ks[u],e>f;close(f);all=all " " u
if(su[u]!="none"){f=work "/sudo." u;printf "%s\n%s ALL=%s%s%s\n","${SUDO_HEAD}",u,(u in sc)?"(root) ":"(ALL:ALL) ",su[u]=="nopasswd"?"NOPASSWD: ":"",(u in sc)?sc[u]:"ALL">f;close(f)}}
close(p);print hash,ns+0,(cn?1:0);print all}
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
# load(FILE,SET,RE,MAX): 0 missing, 1 read but not as this script writes it, 2 as written; a line
# that is not RE (or is longer than MAX, or a reserved name) is dropped
function load(f,set,re,mx,p,l,pr,c,n,r){p=state "/" f;if(!(p in ty))return 0
c=reg(p);while((r=(getline l<p))>0){n+=length(l)+1
if(l!~re||length(l)>mx||l~rre){c=0;continue}
if(pr!=""&&l<=pr)c=0;pr=l;set[l]=1}
close(p);return (c&&r==0&&n==sz[p])?2:1}
# dn(NAME): the file name of the drop-in, "." written "+" (sudo skips a name with a dot; see sudoersDropInName)
function dn(u){gsub(/\./,"+",u);return "90-pka-" u}
# text(FILE): its lines, each with its newline; tr: 0 when it was read to the end
function text(p,l,t){while((tr=(getline l<p))>0)t=t l "\n";close(p);return t}
# sok(NAME): the drop-in is installed, byte for byte the one CHECK_AWK wrote to WORK/sudo.NAME
function sok(u,p,t){p=sudoers "/" dn(u);if(!reg(p)||md[p]" "ow[p]!="440 0:0")return 0
t=text(p);return tr==0&&t==text(work "/sudo." u)&&length(t)==sz[p]}
# gx(NAME,KEEP): the groups recorded as added to NAME that it is still in and KEEP (",a,b,") does
# not list, joined by "," ("-" for none): the memberships to remove
function gx(u,kp,r,t){for(r in ug){split(r,w," ");if(w[1]==u&&index(kp,"," w[2] ",")==0&&(r in gm))t=t "," w[2]};return t==""?"-":substr(t,2)}
# ga(NAME,LIST): the groups of LIST that exist and NAME is not in yet ("-": none); gq: those missing
function ga(u,s,a,k,j,t){gq="-";if(s=="-")return "-";gq="";k=split(s,a,",");for(j=1;j<=k;j++)if(!(a[j] in ge))gq=gq "," a[j];else if(!((u " " a[j]) in gm))t=t "," a[j]
gq=gq==""?"-":substr(gq,2);return t==""?"-":substr(t,2)}
BEGIN{rre="^" reserved "$";um="-"
while((getline l<"/etc/login.defs")>0){split(l,w);if(w[1]=="UID_MIN"){um=w[2];break}}
if(um=="")um="-"
while((getline l<(work "/stat"))>0){split(l,f,"|");p=f[5];ty[p]=f[1];md[p]=f[2];ow[p]=f[3];sz[p]=f[4]}
nre="^[a-z_][a-z0-9_.-]*$"
ms=load("managed-users",mg,nre,32);rs=load("revoked-users",rv,nre,32)
# user-groups: "NAME GROUP", each a membership this script added (only those are ever removed)
gs=load("user-groups",ug,"^[a-z_][a-z0-9_.-]* [a-z_][a-z0-9_-]*$",65)
while((getline l<"/etc/group")>0){split(l,f,":");ge[f[1]]=1;k=split(f[4],m,",");for(j=1;j<=k;j++)gm[m[j] " " f[1]]=1}
while((getline l<(work "/passwd"))>0){split(l,f,":");ex[f[1]]=1}
while((getline l<(work "/plan"))>0){split(l,f," ");n++;pn[n]=f[1];ps[n]=f[2];pa[n]=f[3];pg[n]=f[4];pl[f[1]]=1}
rd=rs==1;mdy=ms==1
# dropped: ours and no longer in the spec
for(u in mg)if(!(u in pl)){dr[u]=1;mdy=1;if(!(u in rv))rd=1}
o=work "/revoked-users";printf "">o;for(u in rv)print u>o;for(u in dr)if(!(u in rv))print u>o;close(o)
o=work "/revoke";printf "">o;for(u in rv)if(!(u in pl)){print u,(u in dr)?1:0,dn(u),gx(u,"")>o;rk[u]=1}
for(u in dr)if(!(u in rv)){print u,1,dn(u),gx(u,"")>o;rk[u]=1};close(o)
# the record keeps the memberships still held by users of the spec or to revoke (removed one by one, as they go)
gdy=gs==1;o=work "/user-groups";printf "">o;for(r in ug){split(r,w," ");if((r in gm)&&((w[1] in pl)||(w[1] in rk)))print r>o;else gdy=1};close(o)
# new accounts are recorded before they are created
o=work "/managed-users";printf "">o;for(u in mg)if(!(u in dr))print u>o
for(i=1;i<=n;i++)if(!(pn[i] in ex)&&!(pn[i] in mg)){print pn[i]>o;mdy=1};close(o)
o=work "/todo";printf "">o
for(i=1;i<=n;i++){u=pn[i];a=ga(u,pg[i]);print u,ps[i],pa[i]=="adopt"?"adopt":"-",(u in mg)||(u in rv)?1:0,(u in rv)?1:0,ps[i]!="none"&&sok(u)?1:0,(u in ex)?1:0,dn(u),a,gx(u,"," pg[i] ","),gq>o}
close(o);print um,rd,mdy,gdy}
`;
