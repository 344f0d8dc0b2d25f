#!/bin/bash
# rec_nonce_test.sh — shells started inside a recorded session get nonces of their own
# from the recorder (`l3-rec --nonce PID`, agent/rec_shells.h): a real l3-rec running a
# real bash, fed line by line through a fifo. Checks the reply, the shell marks in .script
# (the nonce's SHA-256, the depth), that their proofs chain with the key marks from the
# .info anchor, the refusals (not an ancestor, not a shell, outside the session, a
# squatter on the socket's name), that a nonce given is written into .script as the
# number of its shell mark, and that no nonce is left in .script, .info, or any process's
# environment or command line.
. "$(dirname "$0")/lib.sh"
H=$T/home
E=(env -i PATH="$L3_BIN_DIR:/usr/bin:/bin" HOME="$H" LANG=C.UTF-8 TERM=xterm SHELL=/bin/bash)

# The session: its input is a fifo this script writes lines into.
mkfifo "$T/in" "$H/go"
"${E[@]}" "$REC" --spool "$SPOOL" <"$T/in" >"$T/term.out" 2>&1 &
RECPID=$!
# On failure too: the recorder (and its shell) go with the test.
trap 'kill -TERM $RECPID 2>/dev/null; cleanup' EXIT
exec 3>"$T/in"
send() { printf '%s\n' "$1" >&3; }
wait_for 'ls $SPOOL/*.info >/dev/null 2>&1'
INFO=$(ls "$SPOOL"/*.info) SCRIPT=${INFO%.info}.script NONCE=none
wait_for 'grep -q "^recmark=" "$INFO"'
CHILD=$(sed -n 's/^child=//p' "$INFO")
[[ $(sed -n 's/^pid=//p' "$INFO") == "$RECPID" ]] || fail "recorder pid"

# nonce_ok FILE: the file holds one nonce, 32 lowercase hex and a newline.
nonce_ok() { [[ $(cat "$1") =~ ^[0-9a-f]{32}$ && $(wc -c <"$1") == 33 ]]; }
# depth_of FILE: the depth in the shell mark that registered the nonce in FILE (empty
# while there is none).
depth_of() {
    local h
    h=$(tr -d '\n' <"$1" | sha256sum | cut -c1-64)
    grep -aoE $'\e\\]6973;rec;[0-9a-f]{64};shell;'"$h"$';[0-9]+\a' "$SCRIPT" | tr -d '\a' |
        sed 's/.*;//'
}
# expect_depth NAME DEPTH: ~/NAME got a nonce, registered at DEPTH.
expect_depth() {
    local f=$H/$1
    nonce_ok "$f" || fail "$1: not a nonce: [$(cat "$f")] $(cat "$f.err" 2>/dev/null)"
    wait_for '[ -n "$(depth_of "$f")" ]'
    [[ $(depth_of "$f") == "$2" ]] || fail "$1: depth $(depth_of "$f"), want $2"
    ok "$1: nonce registered at depth $2"
}
has_mark() { grep -aqE $'\e\\]6973;rec;[0-9a-f]{64};'"$1"$'\a' "$SCRIPT"; }
shell_marks() { grep -aoE $'\e\\]6973;rec;[0-9a-f]{64};shell;' "$SCRIPT" | wc -l; }

# 1. A command asks in the name of the top shell, which has its nonce already (l3-rec
#    gave it): refused, directly, from a subshell and from a command substitution, and
#    no shell mark is written. (Granting it would end the recording of the shell the
#    user types in; only an exec, a new program image in that process, may ask again.)
m=$(shell_marks)
send 'l3-rec --nonce $$ >~/top 2>~/top.err; echo $? >~/top.rc'
wait_for '[ -s $H/top.rc ]'
[[ $(cat "$H/top.rc") == 1 && ! -s $H/top ]] || fail "top shell asked again: status $(cat "$H/top.rc"), out [$(cat "$H/top")]"
send '(l3-rec --nonce $$ >~/sub; echo $? >~/sub.rc); echo "$(l3-rec --nonce $$)" >~/subst; echo >~/subst.rc'
wait_for '[ -s $H/sub.rc ] && [ -s $H/subst.rc ]'
[[ $(cat "$H/sub.rc") == 1 && ! -s $H/sub && $(cat "$H/subst") == "" ]] ||
    fail "a subshell or \$(…) of the top shell got a nonce"
[[ $(shell_marks) == "$m" ]] || fail "a refused request made a shell mark"
ok "a command asking in the name of its shell: refused"

# Nested shells: one level down, then two (`; true` keeps bash -c from exec'ing its last
# command, which would make the inner bash the same process as the outer one).
cat >"$H/nest.sh" <<'SH'
l3-rec --nonce $$ >~/n1 2>~/n1.err
bash -c 'l3-rec --nonce $$ >~/n2 2>~/n2.err; true'
exec bash -c 'l3-rec --nonce $$ >~/n1x 2>~/n1x.err; true'
SH
send 'bash ~/nest.sh; echo $? >~/nest.rc'
wait_for '[ -s $H/nest.rc ]'
expect_depth n1 1
expect_depth n2 2
# After exec the shell is the process registered at depth 1: it keeps that depth.
expect_depth n1x 1
# What .script gets for a nonce given: the number of its shell mark ("=1" the first),
# wherever it is printed; the session shell's marks say "=0".
send 'printf "\033]6973;%s;A\007 %s;%s\n" "$(cat ~/n2)" "$(cat ~/n1)" "$(cat ~/n1x)"; echo >~/refs.rc'
wait_for '[ -s $H/refs.rc ]'
wait_for 'grep -aqF $'"'"'\e]6973;=2;A\a =1;=3'"'"' "$SCRIPT"'
ok "the nonces given go into .script as their shells' numbers"
if command -v zsh >/dev/null; then
    send 'zsh -fc '\''l3-rec --nonce $$ >~/z1 2>~/z1.err; true'\''; echo >~/z1.rc'
    wait_for '[ -s $H/z1.rc ]'
    expect_depth z1 1
fi
if command -v fish >/dev/null; then
    send 'fish --no-config -c '\''l3-rec --nonce $fish_pid >~/f1 2>~/f1.err'\''; echo >~/f1.rc'
    wait_for '[ -s $H/f1.rc ]'
    expect_depth f1 1
fi

# 3. Refusals from inside: a pid that is not an ancestor (init; a shell running beside
#    the client), a claimed ancestor that is no shell (python running the client), a
#    process that left the session (setsid -f: reparented away from the recorder).
m=$(shell_marks)
send 'l3-rec --nonce 1 >~/r1 2>~/r1.err; echo $? >~/r1.rc'
send 'bash -c "read x <~/go; true" & l3-rec --nonce $! >~/r2 2>~/r2.err; echo $? >~/r2.rc; echo >~/go; wait'
send 'python3 -c "import os,subprocess; r=subprocess.run([\"l3-rec\",\"--nonce\",str(os.getpid())],stdout=open(os.path.expanduser(\"~/r3\"),\"w\"),stderr=open(os.path.expanduser(\"~/r3.err\"),\"w\")); open(os.path.expanduser(\"~/r3.rc\"),\"w\").write(\"%d\n\" % r.returncode)"'
send 'setsid -f bash -c '\''l3-rec --nonce $$ >~/r4 2>~/r4.err; echo $? >~/r4.rc; true'\'''
send 'l3-rec --nonce 12ab >~/r5 2>~/r5.err; echo $? >~/r5.rc'
for r in r1 r2 r3 r4; do
    wait_for "[ -s \$H/$r.rc ]"
    [[ $(cat "$H/$r.rc") == 1 && ! -s $H/$r ]] || fail "$r: status $(cat "$H/$r.rc"), out [$(cat "$H/$r")]"
done
wait_for '[ -s $H/r5.rc ]'
[[ $(cat "$H/r5.rc") == 2 ]] || fail "a bad pid argument: status $(cat "$H/r5.rc")"
grep -q 'refused' "$H/r1.err" && grep -q 'refused' "$H/r2.err" && grep -q 'refused' "$H/r3.err" ||
    fail "refusals say why: $(cat "$H"/r[123].err)"
[[ $(shell_marks) == "$m" ]] || fail "a refused request made a shell mark"
ok "refused: not an ancestor, not a shell, no longer in the session, bad argument"

# 3b. Refusals from outside (this script is no descendant of the recorder). Meanwhile a
#     shell inside holds a nonce and waits, so the session's processes are all there.
cat >"$H/hold.sh" <<'SH'
n=$(l3-rec --nonce $$)
printf '%s\n' "$n" >~/hold
read x <~/go
true
SH
send 'bash ~/hold.sh; echo >~/hold.rc'
wait_for '[ -s $H/hold ]'
expect_depth hold 1
m=$(shell_marks)
out=$(python3 - "$RECPID" "$CHILD" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect("\0lilalo-rec/" + sys.argv[1])
try:
    s.sendall(sys.argv[2].encode() + b"\n")
    print("got[%s]" % s.recv(100).decode())
except (BrokenPipeError, ConnectionResetError):
    print("got[]")
PY
)
[[ $out == 'got[]' ]] || fail "outsider's direct request: $out"
out=$("$REC" --nonce "$CHILD" 2>/dev/null)
rc=$?
[[ $rc == 1 && -z $out ]] || fail "client outside the session: status $rc, out [$out]"
[[ $(shell_marks) == "$m" ]] || fail "an outsider's request made a shell mark"
ok "refused: a direct connection and a client from outside the session"

# 4. The nonces are in no process's environment or command line (the session's included;
#    grep reads them from a file, so its own command line has none).
cat "$H"/{n1,n2,n1x,hold} >"$T/nonces"
for f in "$H/z1" "$H/f1"; do [[ -f $f ]] && cat "$f" >>"$T/nonces"; done
pgrep -P "$CHILD" -x bash >/dev/null || fail "the holding shell is gone"
found=$(grep -laFf "$T/nonces" /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null)
[[ -z $found ]] || fail "a nonce in $found"
ok "no nonce in /proc/*/environ or /proc/*/cmdline ($(ls -d /proc/[0-9]* | wc -l) processes)"
echo >"$H/go"
wait_for '[ -s $H/hold.rc ]'

# 2 (with keys between). A key mark, then one more shell nonce, and `exec bash`: the
#   replaced top shell is still the process at depth 0.
send 'sleep 60'
wait_for 'pgrep -P $CHILD -x sleep >/dev/null'
printf '\003' >&3
wait_for '! pgrep -P $CHILD -x sleep >/dev/null'
# (The interrupt flushed the pty's input: the next line goes after it.)
send 'echo >~/int.rc'
wait_for '[ -s $H/int.rc ]'
wait_for 'has_mark interrupt'
send 'exec bash --norc'
send 'l3-rec --nonce $$ >~/ex 2>~/ex.err; echo >~/ex.rc'
wait_for '[ -s $H/ex.rc ]'
expect_depth ex 0
cat "$H/ex" >>"$T/nonces"
send 'exit'
exec 3>&-
wait "$RECPID"
grep -q '^end=' "$INFO" || fail "the session did not end"

# Every recorder mark, in order, reveals the preimage of the one before it, the first
# that of the .info anchor: shell and key marks are one chain.
chain=$(perl -MDigest::SHA=sha256_hex -e '
    my ($anchor, $file) = @ARGV;
    open(my $fh, "<:raw", $file) or die; local $/; my $d = <$fh>;
    my ($last, $n, @verbs) = ($anchor, 0);
    while ($d =~ /\e\]6973;rec;([^\a\e]*)\a/g) {
        my @f = split /;/, $1, -1;
        die "bad proof $f[0]\n" unless sha256_hex(pack("H*", $f[0])) eq $last;
        $last = $f[0]; $n++; push @verbs, $f[1];
        die "bad shell mark @f\n" if $f[1] eq "shell" && !(@f == 4 && $f[2] =~ /^[0-9a-f]{64}$/ && $f[3] =~ /^[0-9]+$/);
    }
    print "$n @verbs\n";' "$(sed -n 's/^recmark=//p' "$INFO")" "$SCRIPT") || fail "the chain does not verify"
[[ $chain == *' interrupt '* && $chain == *' shell' ]] || fail "chain: $chain"
ok "proofs chain from recmark: $chain"

# No nonce in the spool (.info has only hashes, .script only their marks' hashes and the
# shells' numbers): neither those the commands got nor the session shell's.
grep -aqFf "$T/nonces" "$SCRIPT" "$INFO" "${INFO%.info}.timing" && fail "a nonce in the spool"
grep -aqF $'\e]6973;=0;' "$SCRIPT" || fail "no mark of the session shell"
found=$(nonce_in "$SCRIPT" "$INFO" "${INFO%.info}.timing")
[[ -z $found ]] || fail "a nonce in $found"
ok "no nonce in .script, .info, .timing"

# The socket went with the recorder.
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect("\0lilalo-rec/"+sys.argv[1])' "$RECPID" 2>/dev/null &&
    fail "the socket outlived the recorder"
ok "socket closed with the session"

# A squatter on the name of an ancestor named l3-rec gets nothing: the client checks the
# listener's pid. The ancestor is a script named l3-rec (its comm), which does not
# listen; its child binds the name first.
mkdir -p "$T/fake"
cat >"$T/fake/l3-rec" <<'PY'
#!/usr/bin/python3
import os, socket, subprocess, sys
rd, wr = os.pipe()
pid = os.fork()
if pid == 0:
    sq = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sq.bind("\0lilalo-rec/%d" % os.getppid())
    sq.listen(4)
    os.write(wr, b"r")
    c, _ = sq.accept()
    try:
        c.sendall(b"0" * 32 + b"\n")
    except OSError:
        pass
    os._exit(0)
os.read(rd, 1)
r = subprocess.run(["bash", "-c", 'exec "$0" --nonce $$', sys.argv[1]], capture_output=True)
os.kill(pid, 9)
print("rc=%d out=[%s] err=[%s]" % (r.returncode, r.stdout.decode().strip(), r.stderr.decode().strip()))
PY
chmod +x "$T/fake/l3-rec"
out=$("$T/fake/l3-rec" "$REC")
[[ $out == 'rc=1 out=[] err=['*'held by another process]' ]] || fail "squatter: $out"
ok "a squatter on the socket's name: $out"

# (Under ASan: no report from the recorder or any client.)
grep -l 'Sanitizer' "$T/term.out" "$H"/*.err && fail "sanitizer report"
# `--nonce` runs at every inner shell's start: l3-rec loads no library but libc (and the
# sanitizers') before main; libczmq comes by dlopen with a config file (rec_zconfig.c).
if command -v readelf >/dev/null; then
    readelf -d "$REC" | grep -q 'NEEDED.*czmq' && fail "l3-rec needs libczmq at start"
    ok "l3-rec starts without libczmq"
fi
"$REC" --help | grep -q -- '--nonce PID' || fail "--help does not document --nonce"
echo "PASS rec_nonce_test"
