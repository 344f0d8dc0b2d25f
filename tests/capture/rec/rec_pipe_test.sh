#!/bin/bash
# rec_pipe_test.sh — l3-rec with stdin and stdout as pipes (no terminal): the bytes the
# terminal side gets have no OSC 6973, the .script has everything, exit statuses and
# signals propagate, nested recorders mark their span, files are owner-only.
. "$(dirname "$0")/lib.sh"
E=(env -i PATH=/usr/bin:/bin HOME="$T/home" LANG=C.UTF-8 TERM=xterm)

# A recorded bash fed from a pipe.
printf 'echo hi-from-bash\nprintf "\\033]6973;%%s;C;forged\\007\\n" 0123\nexit 5\n' |
    "${E[@]}" SHELL=/bin/bash "$REC" --spool "$SPOOL" >"$T/term.out" 2>&1
rc=$?
[[ $rc == 5 ]] || fail "exit status $rc, want 5"
INFO=$(ls "$SPOOL"/*.info) SCRIPT=${INFO%.info}.script NONCE=$(shell_ref "$INFO")
grep -aq $'\e]6973' "$T/term.out" && fail "OSC 6973 reached the terminal side"
grep -aq $'\e]133;C' "$T/term.out" || fail "no OSC 133 for the terminal"
grep -aq hi-from-bash "$T/term.out" || fail "output missing on the terminal side"
[[ $(marks | grep -c $'^C\techo hi-from-bash$') == 1 ]] || fail "C mark missing"
marks | grep -q $'^C\tforged' && fail "forged mark decoded"
grep -aq $'\e]6973;0123;C;forged' "$SCRIPT" || fail "forged mark not kept as output"
[[ -z $(nonce_in "$SCRIPT" "$INFO" "${INFO%.info}.timing") ]] || fail "the nonce is in the spool"
grep -q '^exit=5$' "$INFO" || fail "no exit=5 in .info"
for f in "$INFO" "$SCRIPT" "${INFO%.info}.timing"; do
    [[ $(stat -c %a "$f") == 600 ]] || fail "$f is not 0600"
done
ok "pipe harness: marks stripped, kept in .script, exit 5"
rm -rf "$SPOOL"

# bash 5.2 array PROMPT_COMMAND, appended to later: still runs, in order, seeing $?.
cat >"$T/home/.bashrc" <<'RC'
PS1='rec$ '
PROMPT_COMMAND=('echo "pcA $?" >>~/pc.log' 'echo pcB >>~/pc.log')
RC
printf 'false\nPROMPT_COMMAND+=("echo pcC >>~/pc.log")\ntrue\nexit\n' |
    "${E[@]}" SHELL=/bin/bash "$REC" --spool "$SPOOL" >/dev/null 2>&1
[[ $(tr '\n' ' ' <"$T/home/pc.log") == 'pcA 0 pcB pcA 1 pcB pcA 0 pcB pcC pcA 0 pcB pcC ' ]] ||
    fail "array PROMPT_COMMAND: $(tr '\n' ' ' <"$T/home/pc.log")"
INFO=$(ls "$SPOOL"/*.info) SCRIPT=${INFO%.info}.script NONCE=$(shell_ref "$INFO")
# false, PROMPT_COMMAND+=, true, and exit (its D comes from the hook's EXIT trap).
[[ $(marks | grep -c '^D') == 4 ]] || fail "array PROMPT_COMMAND: D marks $(marks)"
ok "array PROMPT_COMMAND kept working"
rm -rf "$SPOOL" "$T/home/.bashrc"

# Large output: .script body (after the header line) is exactly what the terminal got.
head -c 3000000 /dev/urandom | base64 >"$T/big.txt"
"${E[@]}" "$REC" --spool "$SPOOL" -- cat "$T/big.txt" </dev/null >"$T/term.out"
SCRIPT=$(ls "$SPOOL"/*.script)
cmp -s <(tail -n +2 "$SCRIPT") "$T/term.out" || fail "script body differs from terminal output"
cmp -s <(tr -d '\r' <"$T/term.out") "$T/big.txt" || fail "output differs from the file"
sum=$(awk '{ s += $2 } END { print s }' "${SCRIPT%.script}.timing")
[[ $sum == $(stat -c %s "$SCRIPT") ]] || fail "timing bytes $sum, script $(stat -c %s "$SCRIPT")"
head -1 "${SCRIPT%.script}.timing" | grep -q "^0\.[0-9]* $(head -1 "$SCRIPT" | wc -c)\$" || fail "header is not the first timed chunk"
ok "4 MB of output recorded exactly, timing adds up"
rm -rf "$SPOOL"

# Killed by a signal: 128+n, and signal= in .info.
"${E[@]}" "$REC" --spool "$SPOOL" -- sh -c 'kill -TERM $$' </dev/null >/dev/null
rc=$?
[[ $rc == 143 ]] || fail "killed child: status $rc, want 143"
grep -q '^signal=15$' "$SPOOL"/*.info || fail "no signal=15 in .info"
ok "signal death gives 128+15"
rm -rf "$SPOOL"

# stdin ends: the child sees end of input too.
out=$(echo piped-data | "${E[@]}" "$REC" --spool "$SPOOL" -- cat | tr -d '\r')
[[ $out == *piped-data* ]] || fail "piped input lost: $out"
ok "stdin EOF reaches the child"
rm -rf "$SPOOL"

# Nested recorder, environment kept: nest marks in the outer .script, parent in inner .info.
"${E[@]}" "$REC" --spool "$SPOOL" -- "$REC" --spool "$SPOOL" -- echo inner </dev/null >"$T/term.out"
grep -aq $'\e]6973' "$T/term.out" && fail "nest marks reached the terminal"
outer=$(grep -L '^parent_pid=' "$SPOOL"/*.info) inner=$(grep -l '^parent_pid=' "$SPOOL"/*.info)
[[ -n $outer && -n $inner ]] || fail "want an outer and an inner session"
osid=$(sed -n 's/^sid=//p' "$outer") isid=$(sed -n 's/^sid=//p' "$inner") host=$(sed -n 's/^host=//p' "$outer")
grep -q "^parent=$host/$osid$" "$inner" || fail "inner .info parent: $(grep ^parent "$inner")"
NONCE=x SCRIPT=${outer%.info}.script
[[ $(marks | grep -c "^nest	begin	$host/$isid$") == 1 && $(marks | grep -c "^nest	end	$host/$isid$") == 1 ]] ||
    fail "nest marks: $(marks)"
ok "nested recorder: nest begin/end and parent"
rm -rf "$SPOOL"

# Nested with the environment cleared (su -): still detected, by the process ancestry.
"${E[@]}" "$REC" --spool "$SPOOL" -- env -i PATH=/usr/bin:/bin HOME="$T/home" "$REC" --spool "$SPOOL" -- true </dev/null >/dev/null
[[ $(grep -l '^parent_pid=' "$SPOOL"/*.info | wc -l) == 1 ]] || fail "cleared env: nesting not detected"
SCRIPT=$(grep -L '^parent_pid=' "$SPOOL"/*.info) SCRIPT=${SCRIPT%.info}.script
marks | grep -q '^nest	begin' || fail "cleared env: no nest mark"
ok "nested recorder without L3_SID"

"$REC" --help | grep -q 'Usage: l3-rec' || fail "--help"
"$REC" --bogus 2>/dev/null
[[ $? == 2 ]] || fail "unknown option should exit 2"
ok "--help and bad options"
echo "PASS rec_pipe_test"
