#!/bin/bash
# e2e_session.sh bash|zsh CHECKER — a person's session, end to end: a real shell under
# l3-rec in tmux, typed key by key (60+ commands covering docs/capture.md and issue 3),
# then `l3-agent --once` on the spool, compared record by record and field by field with
# the table of expected records this script writes (CHECKER = check_records).
# With bash the l3-agent daemon follows the spool meanwhile and is killed with -9 twice
# (once between commands, once during a 50 MB flood) and restarted; its outbox must
# hold exactly the --once records, each once.
. "$(dirname "$0")/../rec/lib.sh"
. "$(dirname "$0")/e2e_lib.sh"
SH=${1:-bash}
CHECK=$(realpath "${2:?usage: e2e_session.sh bash|zsh CHECKER}")
REC_SHELL=$(command -v "$SH") || { echo "skip: no $SH"; exit 77; }
AGENT=$L3_BIN_DIR/l3-agent
H=$T/home

# Cheap mark counting (the spool grows to 50 MB; marks.pl would re-decode all of it).
count() { grep -aoF -- "$OSC6973$NONCE;$1" "$SCRIPT" | wc -l; }
# A person waits for the prompt before typing on.
wait_prompt() { wait_for '[ "$(count B)" -gt '"$1"' ]' "${2:-20}"; }

CWD=$H
# expect LINE EXIT SIGNAL FLAGS CHECK...: the next command record, cwd = $CWD (this test
# checks the cwd too: e2e_lib.sh's expect takes any).
expect() {
    local line=$1
    shift
    local IFS=$'\t'
    printf 'cmd\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(esc "$line")" "$1" "$2" "$3" "$(esc "$CWD")" "${*:4}" >>"$EXPECT"
}
# c 'typed' EXIT SIGNAL FLAGS CHECK...: type it, Enter, wait for its D and the next prompt.
c() {
    local b n
    b=$(count B) n=$(count D)
    type_keys "$1"
    keys Enter
    wait_for "[ \$(count D) -gt $n ]"
    wait_prompt "$b"
    expect "$@"
}
# enter: press Enter on what was typed, wait for the D and the next prompt.
enter() {
    local b n
    b=$(count B) n=$(count D)
    keys Enter
    wait_for "[ \$(count D) -gt $n ]" "${1:-20}"
    wait_prompt "$b"
}

# --- the daemon (bash only): follows the spool; its outbox is compared at the end -------
agent_pid=
agent_start() {
    "$AGENT" -c "$T/agent.cfg" 2>>"$T/agent.log" &
    agent_pid=$!
}
agent_kill9() {
    kill -9 "$agent_pid" 2>/dev/null
    wait "$agent_pid" 2>/dev/null
    echo "ok: l3-agent killed with -9 (after $(stat -c %s "$SCRIPT") spool bytes)"
    agent_start
}
agent2_pid=
stop_agent() {
    [[ -n $agent_pid ]] && kill -9 "$agent_pid" 2>/dev/null
    [[ -n $agent2_pid ]] && kill -9 "$agent2_pid" 2>/dev/null
}
trap 'stop_agent; cleanup' EXIT
mkdir -m 700 -p "$SPOOL"
if [[ $SH == bash ]]; then
    cat >"$T/agent.cfg" <<EOF
agent
    spool = $SPOOL
    state = $T/state
    outbox = $T/outbox
    host = e2ehost
    id = e2e-agent
    send = 0
    curve = 0
    scan_ms = 100
    batch_ms = 5
EOF
    agent_start

    # A second daemon (debug log, own spool) meets a .info that l3-rec has created but
    # not yet written (empty, fresh): no warning, retried at every scan. One left empty
    # for 20 s is invalid for good: one warning, not one per retry.
    mkdir -m 700 -p "$T/spool2"
    fresh=20260101T000000-11-abcd stale=20260101T000000-12-abcd
    for s in $fresh $stale; do : >"$T/spool2/$s.script"; : >"$T/spool2/$s.timing"; : >"$T/spool2/$s.info"; done
    touch -d '-20 seconds' "$T/spool2/$stale.info"
    sed "s#$SPOOL#$T/spool2#; s#$T/state#$T/state2#; s#$T/outbox#$T/outbox2#" "$T/agent.cfg" >"$T/agent2.cfg"
    "$AGENT" -v -c "$T/agent2.cfg" 2>"$T/agent2.log" &
    agent2_pid=$!
    retries() { grep -c "$fresh: .info has no start time yet" "$T/agent2.log"; }
    wait_for '[ $(retries) -ge 25 ]'   # 25 scans of 100 ms: the old code retried 2 times more
    kill "$agent2_pid"; wait "$agent2_pid"
    agent2_pid=
    grep -E ' (error|warning|warn):' "$T/agent2.log" | grep -v "$stale: .info has no valid start time" &&
        fail "the daemon warned about a .info being written"
    n=$(grep -c "$stale: .info has no valid start time" "$T/agent2.log")
    [[ $n == 1 ]] || { cat "$T/agent2.log" >&2; fail "$n warnings for a .info without start, expected one"; }
    ok "a .info being written: retried quietly; one invalid for good: warned once"
fi

# --- the user's files ----------------------------------------------------------------------
if [[ $SH == bash ]]; then
    printf '%s\n' "PS1='e2e\$ '" 'HISTFILE=$HOME/.hist' >"$H/.bashrc"
else
    printf '%s\n' "PS1='e2e%# '" 'HISTFILE=$HOME/.hist' 'setopt interactivecomments' >"$H/.zshrc"
fi
ln -s "$L3_BIN_DIR/l3-rec" "$T/bin/l3-rec"
mkdir -p "$H/dir one" "$H/colors"
touch "$H/colors/plain.txt" "$H/colors/run.sh"
chmod +x "$H/colors/run.sh"
echo 'unique content' >"$H/uniquefilename_xyz.txt"
seq 1 200 | sed 's/^/less line /' >"$H/pager.txt"
# Forged marks: OSC 133 and OSC 7 as the hooks write them, 6973 with a wrong nonce and none.
printf 'evil\e]133;A\a\e]133;B\a\e]133;C\a\e]7;file://x/etc\a\e]6973;00000000000000000000000000000000;C;rm%%20-rf\a\e]6973;00000000000000000000000000000000;D;0\a\e]6973;C;x\a\e]133;D;0\adone\n' >"$H/evil.txt"

# What a command run inside the session can read, collected for the test to search for
# the nonces: every process's environment and argv (all of /proc, read-only), the fd
# targets of the processes on this terminal, and every spool and hook file, .script
# included (its marks name the shell "=0", docs/capture.md "Marks").
write_scan "$H/scan.sh"
start_rec
wait_prompt 0
cd "$H" || exit 1

# --- simple commands, exact output ---------------------------------------------------------
c 'echo hello' 0 - '' '=hello\r\n'
c 'true' 0 - '' '='
c 'false' 1 - '' '='
c 'echo $((6*7))' 0 - '' '=42\r\n'
c 'seq 1 3' 0 - '' '=1\r\n2\r\n3\r\n'
c "printf 'a\\tb\\n'" 0 - '' '=a\tb\r\n'
c '(exit 42)' 42 - '' '='
c '[ 1 -eq 2 ]' 1 - '' '='
c 'x=5' 0 - '' '='
c 'echo "x is $x"' 0 - '' '=x is 5\r\n'
c 'echo "quoted; semi" '"'single \$HOME'" 0 - '' '=quoted; semi single $HOME\r\n'
c 'nosuchcommand_xyz' 127 - '' '~nosuchcommand_xyz' '~not found'
c 'ls /nonexistent_dir | grep -c x' 1 - '' '~No such file' '~0\r\n'
c 'seq 1 3 | tac | head -2' 0 - '' '=3\r\n2\r\n'
c 'echo Привет мир' 0 - '' '=Привет мир\r\n'
c "printf 'ü € 😀 日本語\\n'" 0 - '' '=ü € 😀 日本語\r\n'
c "printf '\\xff\\xfe\\n'" 0 - '' '=\xff\xfe\r\n'
c "printf '\\e[1mbold\\e[0m\\n'" 0 - '' '=\e[1mbold\e[0m\r\n'
c 'echo -n nonl' 0 - '' '=nonl'
c 'wc -c <uniquefilename_xyz.txt' 0 - '' '=15\r\n'
c 'ls --color=always colors' 0 - '' '~\e[' '~run.sh' '~plain.txt'

# --- no command can find the nonce (scanned again inside the nested session below) -------
c 'sh scan.sh scan1.out' 0 - '' '=scanned\r\n'
[[ -z $(nonce_in "$H/scan1.out") ]] || fail "the nonce is readable by a command"
[[ $(wc -c <"$H/scan1.out") -gt 1000 ]] || fail "the scan read nothing"
ok "nonce in no environ, argv, fd or spool file"

# --- a long line wrapping past the 80 columns ----------------------------------------------
long="echo $(printf 'word%02d ' $(seq 1 30))end"
c "$long" 0 - '' "=${long#echo }\\r\\n"

# --- editing: Ctrl-A/Ctrl-E, arrows, backspace; tab completion -----------------------------
type_keys 'cho hello wrld'
keys C-a; type_keys 'e'; keys C-e
keys Left Left Left; type_keys 'o'; keys Right Right Right
keys BSpace BSpace BSpace BSpace BSpace; type_keys 'world there'
enter; expect 'echo hello world there' 0 - '' '=hello world there\r\n'
type_keys 'cat uniquef'; keys Tab
wait_for 'screen | grep -q "uniquefilename_xyz.txt"'
enter
# bash keeps the space completion added; zsh removes it before running the line.
if [[ $SH == bash ]]; then l='cat uniquefilename_xyz.txt '; else l='cat uniquefilename_xyz.txt'; fi
expect "$l" 0 - '' '=unique content\r\n'

# --- history expansion ---------------------------------------------------------------------
c 'echo abc' 0 - '' '=abc\r\n'
# bash prints the expanded line before running it; zsh too.
c '!!' 0 - '' '~abc\r\n'
sed -i '$s/^cmd\t!!\t/cmd\techo abc\t/' "$EXPECT"
c 'echo foo bar' 0 - '' '=foo bar\r\n'
c 'echo !$' 0 - '' '~bar\r\n'
sed -i '$s/^cmd\techo !\$\t/cmd\techo bar\t/' "$EXPECT"

# --- multi-line: a for loop, a here-doc, a \ continuation ---------------------------------
b=$(count B)
type_keys 'for i in 1 2'; keys Enter
type_keys 'do echo "n$i"'; keys Enter
type_keys 'done'; enter
expect $'for i in 1 2\ndo echo "n$i"\ndone' 0 - '' '~n1\r\nn2\r\n'
type_keys 'cat <<EOF'; keys Enter
type_keys 'x  y'; keys Enter
type_keys 'EOF'; enter
expect $'cat <<EOF\nx  y\nEOF' 0 - '' '~x  y\r\n'
type_keys 'echo a \'; keys Enter
type_keys 'b'; enter
# bash drops backslash-newline before the line reaches its history; zsh keeps it.
if [[ $SH == bash ]]; then l='echo a b'; else l=$'echo a \\\nb'; fi
expect "$l" 0 - '' '~a b\r\n'

# --- pipelines: exit code of the pipeline and the pipe statuses ----------------------------
c 'false | true | (exit 3)' 3 - '' '='
if [[ $SH == bash ]]; then
    c 'false | true | (exit 3); echo "ps=${PIPESTATUS[*]}"' 0 - '' '=ps=1 0 3\r\n'
else
    c 'false | true | (exit 3); echo "ps=$pipestatus"' 0 - '' '=ps=1 0 3\r\n'
fi
c 'false' 1 - '' '='
c 'echo "st=$?"' 0 - '' '=st=1\r\n'

# --- cd, pushd, popd -----------------------------------------------------------------------
c 'cd "dir one"' 0 - '' '='
CWD="$H/dir one"
c 'pwd' 0 - '' "=$H/dir one\\r\\n"
c 'pushd /tmp >/dev/null' 0 - '' '='
CWD=/tmp
c 'pwd' 0 - '' '=/tmp\r\n'
c 'popd >/dev/null' 0 - '' '='
CWD="$H/dir one"
c 'cd ~' 0 - '' '='
CWD=$H

# --- background jobs -----------------------------------------------------------------------
c 'sleep 0.3 &' 0 - 'background' '*'
c 'wait' 0 - '' '*'
c 'jobs' 0 - '' '='

# --- Ctrl-C at the prompt: no record --------------------------------------------------------
b=$(count B)
type_keys 'echo never'; keys C-c
wait_prompt "$b"
# --- Ctrl-C during a command: signal recorded -----------------------------------------------
n=$(count D) b=$(count B)
type_keys 'sleep 100'; keys Enter
wait_for 'pgrep -f "^sleep 100" >/dev/null'
keys C-c
wait_for "[ \$(count D) -gt $n ]"
wait_prompt "$b"
expect 'sleep 100' 130 2 '' '*'
c 'echo after' 0 - '' '=after\r\n'

# --- forged marks in output: no command may come of them -----------------------------------
c 'cat evil.txt' 0 - '' '~\e]6973;00000000000000000000000000000000;C;rm%20-rf\a' '~\e]133;A\a' '~done\r\n'
# Marks forged from what .info holds (the nonce's SHA-256, whole and cut to a nonce's size).
HASH=$(sed -n 's/^nonce_sha256=//p' "$INFO")
printf '\e]6973;%s;C;rm%%20-rf\a\e]6973;%s;D;0\a\e]6973;%s;C;rm%%20-rf\adone2\n' "$HASH" "$HASH" "${HASH:0:32}" >"$H/evil2.txt"
c 'cat evil2.txt' 0 - '' "~\\e]6973;$HASH;C;rm%20-rf\\a" '~done2\r\n'

# --- a full-screen program -------------------------------------------------------------------
b=$(count B) n=$(count D)
type_keys 'less pager.txt'; keys Enter
wait_for 'screen | grep -q "less line 3"'
keys q
wait_for "[ \$(count D) -gt $n ]"
wait_prompt "$b"
# everything less drew is kept, its switches too (the replay and the last screen need it)
expect 'less pager.txt' 0 - 'fullscreen' '~less line 3' '~\e[?1049h' '~\e[?1049l'

# --- a nested recorded shell: its commands once, under the inner session ------------------
b=$(count B) n=$(count D)
type_keys 'l3-rec --spool ../spool'; keys Enter
wait_for '[ $(ls "$SPOOL"/*.info | wc -l) -eq 2 ]'
INNER_INFO=$(ls "$SPOOL"/*.info | grep -v "^$INFO$")
INNER=${INNER_INFO%.info}.script
INONCE=
wait_for 'INONCE=$(shell_ref "$INNER_INFO"); [ -n "$INONCE" ]'
icount() { grep -aoF -- "$OSC6973$INONCE;$1" "$INNER" | wc -l; }
wait_for '[ $(icount B) -ge 1 ]'
for l in 'echo inner-one' 'sh scan.sh scan2.out' 'echo inner-two'; do
    ib=$(icount B)
    type_keys "$l"; keys Enter
    wait_for "[ \$(icount B) -gt $ib ]"
done
type_keys 'exit'; keys Enter
wait_for 'grep -q "^end=" "$INNER_INFO"'
wait_for "[ \$(count D) -gt $n ]"
wait_prompt "$b"
expect 'l3-rec --spool ../spool' 0 - 'nested' 'nested' '!inner-one' '!inner-two'
# (nonce_in knows both sessions' nonce hashes: both .info are in $SPOOL.)
[[ -z $(nonce_in "$H/scan1.out" "$H/scan2.out") ]] || fail "a nonce is readable by a command (nested)"
ok "neither nonce readable from inside the nested session" 
grep -q '^parent=' "$INNER_INFO" || fail "inner session has no parent"
ok "nested session"

# --- resize ------------------------------------------------------------------------------------
"${TM[@]}" resize-window -t t -x 120 -y 40
c 'stty size' 0 - '' '=40 120\r\n'

# --- a 1 MB paste ----------------------------------------------------------------------------
head -c 780000 /dev/urandom | base64 >"$T/paste.txt"
"${TM[@]}" load-buffer "$T/paste.txt"
b=$(count B) n=$(count D) nc=$(count C)
type_keys 'cat >pasted.txt'; keys Enter
wait_for '[ $(count C) -gt '"$nc"' ]'
"${TM[@]}" paste-buffer -t t
wait_for '[ -f pasted.txt ] && [ $(stat -c %s pasted.txt) -ge $(stat -c %s $T/paste.txt) ]' 60
keys C-d
wait_for "[ \$(count D) -gt $n ]"
wait_prompt "$b"
expect 'cat >pasted.txt' 0 - 'truncated' 'dropped>=500000'
cmp -s pasted.txt "$T/paste.txt" || fail "pasted file differs"
ok "1 MB paste"
[[ $SH == bash ]] && agent_kill9

# --- a 50 MB flood: capped, flagged, and the terminal stays responsive -----------------------
b=$(count B) n=$(count D)
t0=$SECONDS
type_keys 'head -c 37500000 /dev/urandom | base64'; keys Enter
if [[ $SH == bash ]]; then
    wait_for '[ $(stat -c %s "$SCRIPT") -gt 20000000 ]' 60
    agent_kill9
fi
wait_for "[ \$(count D) -gt $n ]" 80
wait_prompt "$b" 10
echo "ok: 50 MB flood done in $((SECONDS - t0)) s"
expect 'head -c 37500000 /dev/urandom | base64' 0 - 'truncated' 'dropped>=49000000' 'len<=70000'
t1=$(date +%s%N)
c 'echo alive' 0 - '' '=alive\r\n'
ms=$((($(date +%s%N) - t1) / 1000000))
((ms < 5000)) || fail "prompt after the flood took $ms ms"
ok "next command after the flood answered in $ms ms"

# --- a few more, then exit ------------------------------------------------------------------
c 'echo {1..3}' 0 - '' '=1 2 3\r\n'
c 'type cd' 0 - '' '~builtin'
c 'test -d /tmp && echo yes' 0 - '' '=yes\r\n'
c 'date +%Y >/dev/null' 0 - '' '='
c 'head -c 3 /dev/zero | od -An -c' 0 - '' '~\\0'
c 'umask' 0 - '' '~022'
# A comment line is the user's note: bash runs no DEBUG trap and zsh no preexec for it;
# the hooks see the history advance and record it (C and D together, no output).
c '# a note for the journal' 0 - '' '='

# --- a user fighting the hook (issue 8) -------------------------------------------------------
# Lines the user keeps out of the history are still recorded whole, and the history is
# what the user's settings make it.
if [[ $SH == bash ]]; then
    c 'HISTCONTROL=ignoreboth:erasedups HISTIGNORE="pwd:ls *"' 0 - '' '='
    c ' echo a; echo b | tr b B' 0 - '' '=a\r\nB\r\n'
    c 'ls -d "dir one" | wc -l' 0 - '' '=1\r\n'
    c 'echo dup' 0 - '' '=dup\r\n'
    c 'echo dup' 0 - '' '=dup\r\n'
    c 'history 3 | cut -c8-' 0 - '' '=HISTCONTROL=ignoreboth:erasedups HISTIGNORE="pwd:ls *"\r\necho dup\r\nhistory 3 | cut -c8-\r\n'
    # History off: every line still recorded whole (while it is off, Enter hands readline's
    # buffer to the hook first), typed, continued on PS2 lines or pasted, and none of them
    # enters the history.
    c 'set +o history' 0 - '' '='
    c 'echo off1; echo off2 | tr o O' 0 - '' '=off1\r\nOff2\r\n'
    b=$(count B) n=$(count D)
    type_keys 'for i in 1 2'; keys Enter
    wait_for 'screen | grep -q "^>$"'
    type_keys 'do echo "o$i"; done'; enter
    expect $'for i in 1 2\ndo echo "o$i"; done' 0 - '' '=o1\r\no2\r\n'
    printf '%s\n' 'echo h1' 'for i in 1' 'do echo "h$i"; done' '# a note' '  echo h3 | tr h H' >"$T/paste-off.txt"
    "${TM[@]}" load-buffer "$T/paste-off.txt"
    n=$(count D) b=$(count B)
    "${TM[@]}" paste-buffer -p -t t
    wait_for 'screen | grep -q "echo h3"'
    keys Enter
    wait_for "[ \$(count D) -ge $((n + 3)) ]"
    wait_prompt "$b"
    expect 'echo h1' 0 - '' '=h1\r\n'
    expect $'for i in 1\ndo echo "h$i"; done' 0 - '' '=h1\r\n'
    expect '  echo h3 | tr h H' 0 - '' '=H3\r\n'
    c 'set -o vi' 0 - '' '='
    c 'echo vi1; echo vi2' 0 - '' '=vi1\r\nvi2\r\n'
    c 'set -o emacs' 0 - '' '='
    c 'set -o history' 0 - '' '='
    c 'history | grep -c "[o]ff1\|[h]3 |\|[o]\$i"' 1 - '' '=0\r\n'
    ok "history off: lines recorded whole, none in the history"
    # PROMPT_COMMAND assigned, appended to as a string and as an array: the user's code runs
    # once per prompt, so do the hooks (one record per line, each with its status).
    c "PROMPT_COMMAND='echo pc1 >>~/pc.log'" 0 - '' '='
    c 'false' 1 - '' '='
    c 'PROMPT_COMMAND+="; echo pc2 >>~/pc.log"' 0 - '' '='
    c 'PROMPT_COMMAND+=("echo pc3 >>~/pc.log")' 0 - '' '='
    c ': >~/pc.log; (exit 5)' 5 - '' '='
    c 'tr "\n" " " <~/pc.log' 0 - '' '=pc1 pc2 pc3 '
    c "PROMPT_COMMAND='history -a'" 0 - '' '='
    c 'echo hist-a-check' 0 - '' '=hist-a-check\r\n'
    c 'tail -1 ~/.hist' 0 - '' '=echo hist-a-check\r\n'
    # Options and traps of the user's own.
    c "trap 'echo err-trap' ERR" 0 - '' '='
    c 'false' 1 - '' '=err-trap\r\n'
    c "trap 'dbg=\$((dbg+1))' DEBUG" 0 - '' '='
    c 'shopt -s extdebug; set -u; IFS=,' 0 - '' '='
    c 'false | true' 0 - '' '='
    c 'echo "dbg>0: $((dbg > 0))"' 0 - '' '=dbg>0: 1\r\n'
    c "PS1='fight\$ '; PS0=''; PS2='more> '" 0 - '' '='
    b=$(count B) n=$(count D)
    type_keys 'for i in 1'; keys Enter
    wait_for 'screen | grep -q "^more>"'
    type_keys 'do echo "i$i"; done'; enter
    expect $'for i in 1\ndo echo "i$i"; done' 0 - '' '=i1\r\n'
    c "alias printf='echo AL\"\"IASED' read='echo AL\"\"IASED'; fc() { echo user\"\"-fc; }" 0 - '' '='
    c 'echo still-exact' 0 - '' '=still-exact\r\n'
    c 'unalias printf read; unset -f fc; set +u; trap - ERR DEBUG; shopt -u extdebug; IFS=$'"' \\t\\n'" 0 - '' '='
    # Bracketed paste of several lines at once: each line its own record and status.
    printf '%s\n' 'echo p1' 'false' 'echo p3 | tr p q' >"$T/paste3.txt"
    "${TM[@]}" load-buffer "$T/paste3.txt"
    n=$(count D) b=$(count B)
    "${TM[@]}" paste-buffer -p -t t
    wait_for 'screen | grep -q "^echo p3"'
    keys Enter
    wait_for "[ \$(count D) -ge $((n + 3)) ]"
    wait_prompt "$b"
    expect 'echo p1' 0 - '' '=p1\r\n'
    expect 'false' 1 - '' '='
    expect 'echo p3 | tr p q' 0 - '' '=q3\r\n'
    screen | grep -qE 'unbound|ALIASED|user-fc|command not found' && fail "error text on the screen"
    ok "hooks held against the user's settings, traps, options, aliases and paste"
    # The user's own EXIT trap: exit still gets its status (checked at the end).
    c "trap 'echo bye' EXIT" 0 - '' '='
else
    c 'setopt nounset; IFS=,' 0 - '' '='
    c 'false | true' 0 - '' '='
    c "alias print='echo AL\"\"IASED'; PS1='fight%# '" 0 - '' '='
    c 'echo still-exact' 0 - '' '=still-exact\r\n'
    # The hook arrays emptied: that line's D comes late (from the next line's start), the
    # lines after it are recorded as before.
    c 'precmd_functions=(); preexec_functions=()' 0 - '' '*'
    c 'echo after-wipe' 0 - '' '=after-wipe\r\n'
    c 'unalias print; unsetopt nounset; IFS=$'"' \t\n\0'" 0 - '' '='
    screen | grep -qE 'ALIASED|parameter not set' && fail "error text on the screen"
    ok "zsh hooks held against the user's options, aliases and emptied hook arrays"
fi
c 'echo done-all' 0 - '' '=done-all\r\n'
type_keys 'exit'; keys Enter
wait_for '[ -s $T/rc ]'
[[ $(cat "$T/rc") == 0 ]] || fail "exit status $(cat "$T/rc")"
# D from the hook's EXIT trap (bash) or zshexit hook (zsh), with the exit status.
expect 'exit' 0 - '' '*'
NCMD=$(grep -c '^cmd' "$EXPECT")
echo "end	0" >>"$EXPECT"
echo "ok: $NCMD commands typed in $SECONDS s"
((NCMD >= 60)) || fail "only $NCMD commands"

# --- the records ---------------------------------------------------------------------------
"$AGENT" --once "$SCRIPT" -o "$T/outer.xml" || fail "l3-agent --once failed"
"$CHECK" expect "$EXPECT" "$T/outer.xml" || fail "records of the outer session differ from the table"
ok "outer session: records match the table"
cp "$EXPECT" "$T/expect.inner"; sed -i '/^cmd/d; /^end/d' "$T/expect.inner"
printf 'cmd\techo inner-one\t0\t-\t\t%s\t=inner-one\\r\\n\n' "$(esc "$H")" >>"$T/expect.inner"
printf 'cmd\tsh scan.sh scan2.out\t0\t-\t\t%s\t=scanned\\r\\n\n' "$(esc "$H")" >>"$T/expect.inner"
printf 'cmd\techo inner-two\t0\t-\t\t%s\t=inner-two\\r\\n\n' "$(esc "$H")" >>"$T/expect.inner"
printf 'cmd\texit\t*\t-\t*\t%s\n' "$(esc "$H")" >>"$T/expect.inner"
"$AGENT" --once "$INNER" -o "$T/inner.xml" || fail "l3-agent --once failed (inner)"
"$CHECK" expect "$T/expect.inner" "$T/inner.xml" || fail "records of the inner session differ"
ok "inner session: its commands once, under it"

if [[ $SH == zsh ]]; then
    # The hook prints zsh's PROMPT_SP marker itself, just after D (zsh would print it
    # before any hook, inside the output): the bytes must be exactly the ones plain zsh
    # prints on this terminal, at 80 and (after the resize) 120 columns.
    for cols in 80 120; do
        echo exit | env -i TERM=xterm-256color HOME=$T/refhome PATH=/usr/bin:/bin LANG=C.UTF-8 \
            script -qe -c "stty cols $cols rows 24; exec zsh -f -i" "$T/ref$cols.ts" >/dev/null ||
            fail "plain zsh in script(1) failed"
    done
    perl -0777 -e '
        my ($nonce, $script, @refs) = @ARGV;
        my @m;
        for my $f (@refs) {    # the first line holding CR spaces CR: the marker
            open(my $fh, "<", $f) or die; local $/; my $t = <$fh>;
            for (split /\n/, $t) { if (/^(.*?\r +\r)/s) { push @m, $1; last } }
        }
        @m == 2 or die "no PROMPT_SP marker from plain zsh\n";
        open(my $fh, "<", $script) or die; local $/; my $s = <$fh>;
        my ($n, $bad) = (0, 0);
        while ($s =~ /\e\]6973;$nonce;D;[^\a]*\a\e\]133;D;[^\a]*\a/g) {
            my $at = pos($s);
            $n++;
            next if $at == length($s) || grep { substr($s, $at, length($_)) eq $_ } @m;
            (my $got = substr($s, $at, 40)) =~ s/([\x00-\x1f])/sprintf("\\x%02x", ord $1)/ge;
            print STDERR "D mark $n not followed by the PROMPT_SP marker: [$got]\n";
            $bad++;
        }
        $n >= 60 or die "only $n D marks\n";
        exit($bad ? 1 : 0);
    ' "$NONCE" "$SCRIPT" "$T/ref80.ts" "$T/ref120.ts" || fail "PROMPT_SP marker differs from plain zsh's"
    ok "every D followed by the PROMPT_SP marker plain zsh prints"
fi

if [[ $SH == bash ]]; then
    # The daemon: both sessions finished (done bit in their resume points), then stop it.
    done_bit() { [[ -f $1 ]] && (($(od -An -tu1 -j48 -N1 "$1") & 2)); }
    for s in "$SCRIPT" "$INNER"; do
        sid=$(basename "$s" .script)
        wait_for "done_bit $T/state/$(id -u)-$sid.ckpt" 30
    done
    kill -TERM "$agent_pid"
    wait "$agent_pid" || fail "l3-agent exit status $?"
    agent_pid=
    "$AGENT" --once "$SCRIPT" "$INNER" -o "$T/both.xml" || fail "l3-agent --once failed (both)"
    "$CHECK" same "$T/both.xml" "$T/outbox" e2e-agent || {
        tail -20 "$T/agent.log" >&2
        fail "the daemon's records differ from --once"
    }
    ok "daemon killed -9 twice: records exact, once"
fi
# No spool file holds a nonce of either session (docs/capture.md "Marks").
found=$(nonce_in "$SPOOL"/*)
[[ -z $found ]] || fail "a nonce in $found"
ok "no nonce in any spool file"
echo "PASS e2e_session $SH"
