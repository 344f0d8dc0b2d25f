#!/bin/bash
# rec_shell_test.sh bash|zsh — a real shell under l3-rec in a real pty (tmux), typed
# keystroke by keystroke; checks the marks in .script, the user's hooks, fds, the nonce,
# a 1 MB paste, resize, editors, Ctrl-C, exit status and scriptreplay.
. "$(dirname "$0")/lib.sh"
SH=${1:-bash}
REC_SHELL=$(command -v "$SH") || { echo "skip: no $SH"; exit 77; }

# The user's own setup, which must keep working under the hooks.
if [[ $SH == bash ]]; then
    cat >"$T/home/.bashrc" <<'RC'
PS1='rec$ '
HISTFILE=$HOME/.hist
HISTCONTROL=ignorespace
PROMPT_COMMAND='echo "pc $?" >>~/pc.log'
trap 'echo "dbg $BASH_COMMAND" >>~/dbg.log' DEBUG
shopt -s extdebug   # a non-zero DEBUG trap status would skip commands
RC
else
    cat >"$T/home/.zshrc" <<'RC'
PS1='rec%# '
HISTFILE=$HOME/.hist
setopt histignorespace
precmd() { echo "pc $?" >>~/pc.log }
preexec() { echo "pe $1" >>~/pe.log }
RC
fi
cat >"$T/bin/fakeed" <<'ED'
#!/bin/sh
for f; do echo edited >>"$f"; done
ED
chmod +x "$T/bin/fakeed"
printf 'rec\n    editors = "fakeed vi"\n' >"$T/l3.cfg"
mkdir -p "$T/home/dir one"
touch "$T/home/uniquefilename_xyz.txt"
printf 'line 1\n' >"$T/home/notes.txt"
# Forged marks: a wrong nonce, a missing one, and a C that would look real; and one as
# l3-rec writes the session shell's marks into .script ("=0" for its nonce).
printf 'evil\033]6973;00000000000000000000000000000000;C;rm%%20-rf\007\033]6973;C;x\007\033]6973;=0;C;rm%%20-rf\007done\n' >"$T/home/evil.txt"

start_rec -c "$T/l3.cfg"
wait_for '[ $(count A) -ge 1 ]'
wait_for '"${TM[@]}" capture-pane -p -t t | grep -q "^rec"'
cd "$T/home" || exit 1

run 'echo hello'
expect_c 'echo hello'
expect_d '0	0'

long="echo $(printf 'word%02d ' $(seq 1 30))end"
run "$long"
expect_c "$long"

# Editing: Ctrl-A/Ctrl-E, backspace, arrows.
type_keys 'cho hello wrld'
keys C-a; type_keys 'e'; keys C-e
keys Left Left Left; type_keys 'o'; keys Right Right Right
keys BSpace BSpace BSpace BSpace BSpace; type_keys 'world there'
n=$(count D); keys Enter; wait_for "[ \$(count D) -gt $n ]"
expect_c 'echo hello world there'

type_keys 'cat uniquef'; keys Tab
wait_for '"${TM[@]}" capture-pane -p -t t | grep -q "uniquefilename_xyz.txt"'
n=$(count D); keys Enter; wait_for "[ \$(count D) -gt $n ]"
# bash keeps the space completion added; zsh removes it before running the line.
if [[ $SH == bash ]]; then expect_c 'cat uniquefilename_xyz.txt '; else expect_c 'cat uniquefilename_xyz.txt'; fi

run 'echo abc'
run '!!'
expect_c 'echo abc'
run 'echo foo bar'
run 'echo !$'
expect_c 'echo bar'

n=$(count D)
type_keys 'for i in 1 2'; keys Enter
type_keys 'do echo $i'; keys Enter
type_keys 'done'; keys Enter
wait_for "[ \$(count D) -gt $n ]"
expect_c 'for i in 1 2\ndo echo $i\ndone'

n=$(count D)
type_keys 'cat <<EOF'; keys Enter
type_keys 'x  y'; keys Enter
type_keys 'EOF'; keys Enter
wait_for "[ \$(count D) -gt $n ]"
expect_c 'cat <<EOF\nx  y\nEOF'

n=$(count D)
type_keys 'echo a \'; keys Enter
type_keys 'b'; keys Enter
wait_for "[ \$(count D) -gt $n ]"
# bash drops backslash-newline before the line reaches its history; zsh keeps it.
if [[ $SH == bash ]]; then expect_c 'echo a b'; else expect_c 'echo a \\\nb'; fi

if [[ $SH == bash ]]; then
    run 'false | true | (exit 3)'
    expect_d '3	1 0 3'
    run 'echo "ps=${PIPESTATUS[*]}"'
else
    run 'false | true | (exit 3)'
    expect_d '3	1 0 3'
fi

run 'false'
run 'echo "st=$?"'
wait_for '"${TM[@]}" capture-pane -p -t t | grep -q "^st=1"'
ok '$? preserved'

run 'cd "dir one"'
wait_for '[ "$(last P)" = "$T/home/dir one" ]'
ok "P after cd"
run 'pushd / >/dev/null'
wait_for '[ "$(last P)" = "/" ]'
ok "P after pushd"
run 'cd ~'

run 'sleep 0.1 &'
expect_c 'sleep 0.1 &'

# Ctrl-C at the prompt: no command at all.
c=$(count C) a=$(count A)
type_keys 'echo never'; keys C-c
# The tty flushes typed-ahead input on SIGINT: wait for the fresh prompt (its A mark).
wait_for "[ \$(count A) -gt $a ]"
run 'echo after'
[[ $(count C) == $((c + 1)) ]] || fail "Ctrl-C at the prompt made a C mark"
marks | grep -q 'never' && fail "Ctrl-C at the prompt recorded the line"
ok "Ctrl-C at the prompt"

# Ctrl-C during a command.
n=$(count D)
type_keys 'sleep 100'; keys Enter
wait_for '[ "$(last C)" = "sleep 100" ]'
wait_for 'pgrep -f "^sleep 100" >/dev/null'
keys C-c
wait_for "[ \$(count D) -gt $n ]"
expect_d '130	130'

# Leading space (ignorespace): history has the previous line; the hook must not use it.
run ' echo secret'
# zsh's preexec gets the line as typed; the bash hook lifts ignorespace while the prompt
# waits and reads the line back from the history.
expect_c ' echo secret'

# The user's hooks ran, and saw the right $?.
wait_for 'grep -q "^pc 130" pc.log'
ok "user's prompt hook saw \$?=130"
if [[ $SH == bash ]]; then
    grep -q '^dbg echo after' dbg.log || fail "user's DEBUG trap did not run"
    ok "user's DEBUG trap"
else
    grep -q '^pe echo after' pe.log || fail "user's preexec did not run"
    ok "user's preexec"
fi

# No fd leaked into commands.
run 'ls /proc/self/fd >fds.txt'
[[ $(tr '\n' ' ' <fds.txt) == '0 1 2 3 ' ]] || fail "fds in a command: $(tr '\n' ' ' <fds.txt)"
ok "no fd leak"

# The nonce is not in the environment of commands.
run 'env | grep -c L3_NONCE >nonce.txt'
[[ $(cat nonce.txt) == 0 ]] || fail "L3_NONCE visible to commands"
run 'env >env.txt'
[[ -z $(nonce_in env.txt) ]] || fail "nonce value visible to commands"
ok "nonce hidden"
# The hook's variable printed to the terminal (`set` lists it, so do `declare -p` and
# `set -x`): .script gets the shell's number in its place, no spool file the nonce.
run 'set | grep -a "^__l3_nonce="'
grep -aqF '__l3_nonce==0' "$SCRIPT" || fail "the printed nonce is not replaced in .script"
[[ -z $(nonce_in "$SCRIPT") ]] || fail "the printed nonce is in .script"
ok "a printed nonce is replaced in .script"

# Forged marks are plain output.
run 'cat evil.txt'
grep -aq $'\e]6973;00000000000000000000000000000000;C;rm%20-rf' "$SCRIPT" || fail "forged mark not kept in .script"
grep -aq $'\e]6973;!0;C;rm%20-rf' "$SCRIPT" || fail "a printed =0 mark not neutralised in .script"
marks | grep -q 'rm -rf' && fail "forged mark decoded as a command"
"${TM[@]}" capture-pane -p -t t | grep -q 6973 && fail "6973 visible on the terminal"
ok "forged marks are output"

# Editors: .before and .after copies, and E marks.
run 'fakeed notes.txt'
wait_for '[ $(count E) -ge 1 ]'
tok=$(last E | cut -f1)
[[ $(last E | cut -f2) == "$T/home/notes.txt" ]] || fail "E path: $(last E)"
cmp -s "$SPOOL/${SCRIPT##*/}" /dev/null
sid=$(basename "$SCRIPT" .script)
[[ $(cat "$SPOOL/$sid.edit.$tok.before") == 'line 1' ]] || fail ".before content"
[[ $(cat "$SPOOL/$sid.edit.$tok.after") == $'line 1\nedited' ]] || fail ".after content"
[[ $(stat -c %a "$SPOOL/$sid.edit.$tok.before") == 600 ]] || fail ".before not 0600"
ok "editor copies"

# Window size passes through.
"${TM[@]}" resize-window -t t -x 120 -y 40
run 'stty size >size.txt'
[[ $(cat size.txt) == '40 120' ]] || fail "stty size: $(cat size.txt)"
ok "resize"

if [[ $SH == bash ]]; then
    # 1 MB paste into cat: completes, identical (the echo keeps flowing meanwhile).
    head -c 780000 /dev/urandom | base64 >"$T/paste.txt"
    "${TM[@]}" load-buffer "$T/paste.txt"
    n=$(count D)
    type_keys 'cat >pasted.txt'; keys Enter
    wait_for '[ "$(last C)" = "cat >pasted.txt" ]'
    "${TM[@]}" paste-buffer -t t
    wait_for '[ -f pasted.txt ] && [ $(stat -c %s pasted.txt) -ge $(stat -c %s $T/paste.txt) ]' 60
    keys C-d
    wait_for "[ \$(count D) -gt $n ]"
    cmp -s pasted.txt "$T/paste.txt" || fail "pasted file differs"
    ok "1 MB paste"
fi

type_keys 'exit 7'; keys Enter
wait_for '[ -s $T/rc ]'
[[ $(cat "$T/rc") == 7 ]] || fail "exit status $(cat "$T/rc")"
expect_c 'exit 7'
grep -q '^exit=7$' "$INFO" || fail ".info has no exit=7"
[[ $(stat -c %a "$SCRIPT") == 600 && $(stat -c %a "$SPOOL") == 700 ]] || fail "spool modes"
ls -a "$SPOOL" | grep -q '\.hook$' && fail "hook scratch file left behind"
found=$(nonce_in "$SPOOL"/*)
[[ -z $found ]] || fail "the nonce is in $found"
ok "exit status 7"
expect_tty_restored

# scriptreplay replays the recording.
scriptreplay --timing="$TIMING" --maxdelay 0.0001 "$SCRIPT" >"$T/replay.out" || fail "scriptreplay failed"
tail -n +2 "$SCRIPT" >"$T/body"
cmp -s <(head -c "$(stat -c %s "$T/body")" "$T/replay.out") "$T/body" || fail "replay differs"
ok "scriptreplay"
echo "PASS rec_shell_test $SH"
