#!/bin/bash
# e2e_status.sh bash|zsh CHECKER — statuses that are true and full-screen programs on
# the main screen (issue 8), end to end: a real shell under l3-rec in tmux, typed key by
# key, then `l3-agent --once` on the spool against a table of expected records
# (CHECKER = check_records, the format is in its header).
#   - `exit 130` is an exit code, not SIGINT: 130, no signal, flagged ambiguous; so is a
#     death by SIGTERM nobody can prove (143); Ctrl-C and Ctrl-\ during a command are known
#     signals (the recorder's authenticated marks); Ctrl-C at the prompt proves nothing
#     about the next command; the spool's own marks printed by `cat` prove nothing either;
#   - top (interactive) and watch are full screen, `top -b`, `clear; echo x`, a progress
#     bar and a status line kept at the bottom row are not;
#   - the tmux pane is killed while `sleep` runs: the recorder hangs the session up, and
#     the command is recorded cut by hangup, SIGHUP, with no made-up exit status.
. "$(dirname "$0")/../rec/lib.sh"
. "$(dirname "$0")/e2e_lib.sh"
SH=${1:-bash}
CHECK=$(realpath "${2:?usage: e2e_status.sh bash|zsh CHECKER}")
REC_SHELL=$(command -v "$SH") || { echo "skip: no $SH"; exit 77; }
AGENT=$L3_BIN_DIR/l3-agent
H=$T/home

count() { grep -aoF -- "$OSC6973$NONCE;$1" "$SCRIPT" | wc -l; }
recmarks() { grep -aoE -- $'\e\\]6973;rec;[0-9a-f]{64};[a-z]+' "$SCRIPT" | wc -l; }
PMARK=B
# Sleeps with numbers of their own, so pgrep finds this test's and no other's.
case $SH in bash) S=31411 ;; *) S=31421 ;; esac
wait_prompt() { wait_for '[ "$(count $PMARK)" -gt '"$1"' ]' "${2:-20}"; }
c() {
    local b n
    b=$(count $PMARK) n=$(count D)
    type_keys "$1"
    keys Enter
    wait_for "[ \$(count D) -gt $n ]" 30
    wait_prompt "$b"
    expect "$@"
}
# key_during 'command' KEY: start it, wait until PATTERN runs, type KEY, wait for the prompt.
key_during() {
    local b n
    b=$(count $PMARK) n=$(count D)
    type_keys "$1"
    keys Enter
    wait_for "pgrep -f '^$3' >/dev/null"
    keys "$2"
    wait_for "[ \$(count D) -gt $n ]"
    wait_prompt "$b"
}

case $SH in
bash) printf '%s\n' "PS1='st\$ '" 'HISTFILE=$HOME/.hist' >"$H/.bashrc" ;;
zsh) printf '%s\n' "PS1='st%# '" 'HISTFILE=$HOME/.hist' >"$H/.zshrc" ;;
esac
start_rec
grep -Eq '^recmark=[0-9a-f]{64}$' "$INFO" || fail "no recmark anchor in $INFO"
wait_prompt 0

# --- statuses ----------------------------------------------------------------------------
c "sh -c 'exit 130'" 130 - 'ambiguous' '='
c "sh -c 'exit 7'" 7 - '' '='
key_during "sleep $S" C-c "sleep $S"
expect "sleep $S" 130 2 '' '*'
c "sh -c 'kill -TERM \$\$'" 143 - 'ambiguous' '*'
key_during "sleep $((S + 1))" 'C-\' "sleep $((S + 1))"
expect "sleep $((S + 1))" 131 3 '' '*'
# Ctrl-C typed at the prompt is no evidence for the command after it.
b=$(count $PMARK) m=$(recmarks)
type_keys 'echo never'; keys C-c
wait_for '[ $(recmarks) -gt '"$m"' ]'
wait_prompt "$b"
c "sh -c 'exit 130'" 130 - 'ambiguous' '='
# The spool holds valid (spent) recorder marks; printing them proves nothing.
grep -aoE $'\e\\]6973;rec;[0-9a-f]{64};[a-z]+\a' "$SCRIPT" >"$H/spent.txt"
[[ $(wc -l <"$H/spent.txt") -ge 3 ]] || fail "fewer recorder marks than keys typed"
c "cat spent.txt; sh -c 'exit 130'" 130 - 'ambiguous' '*'
ok "statuses typed"

# --- full screen on the main screen --------------------------------------------------------
c 'top -b -n 1 >/dev/null; top -b -n 1 | head -3' 0 - '' '~load average'
c 'top -d 0.2 -n 5' 0 - 'fullscreen' '~load average'
# watch until it has drawn, then stopped from outside as `timeout` would (SIGTERM; watch
# catches it and exits 0).
b=$(count $PMARK) n=$(count D)
type_keys "watch -n 0.2 echo $S"; keys Enter
wait_for 'screen | grep -q "^Every 0.2s"'
pkill -TERM -f "^watch -n 0.2 echo $S"
wait_for "[ \$(count D) -gt $n ]"
wait_prompt "$b"
expect "watch -n 0.2 echo $S" 0 - 'fullscreen' '*'
c 'clear; echo x' 0 - '' '~x\r\n'
# A progress bar (CR redraws one line) and a status line kept on the bottom row.
c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do printf "\r[%-20s] %d%%" "$(head -c $i /dev/zero | tr "\0" "#")" $((i*5)); done; echo' 0 - '' '~100%'
c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do printf "line %d\n\e7\e[24;1HProgress: %d%%\e8" $i $((i*5)); done' 0 - '' '~line 20'
c 'for i in 1 2 3 4 5; do clear; echo screen $i; done' 0 - 'fullscreen' '~screen 5'
ok "full-screen programs typed"

# --- the terminal goes away mid-command ------------------------------------------------------
n=$(count C)
type_keys "sleep $((S + 2))"; keys Enter
wait_for "pgrep -f '^sleep $((S + 2))' >/dev/null"
wait_for '[ $(count C) -gt '"$n"' ]'
"${TM[@]}" kill-pane -t t
wait_for 'grep -q "^end=" "$INFO"' 30
pgrep -f "^sleep $((S + 2))" >/dev/null && fail "sleep $((S + 2)) outlived the hangup"
grep -aqE $'\e\\]6973;rec;[0-9a-f]{64};hangup' "$SCRIPT" || fail "no hangup mark in the spool"
expect "sleep $((S + 2))" '*' 1 '*' '*'
ok "pane killed: session hung up"

"$AGENT" --once "$SCRIPT" -o "$T/out.xml" || fail "l3-agent --once failed"
"$CHECK" expect "$EXPECT" "$T/out.xml" || fail "records differ from the table"
# The hung-up command: hangup flag, SIGHUP, and no exit status the shell made up: none,
# or 129 when the shell saw the job die of the SIGHUP (docs/capture.md "Statuses": only
# 128+SIGHUP is kept; which one comes depends on whether the shell's exit hook runs
# before or after it reaped the job).
last=$(grep '^<command ' "$T/out.xml" | tail -1)
[[ $last == *'flags="'*hangup* && $last == *' signal="1"'* ]] || fail "last command not flagged hangup with SIGHUP: ${last:0:300}"
[[ $last != *' exit="'* || $last == *' exit="129"'* ]] || fail "hung-up command has a made-up exit status: ${last:0:300}"
ok "records match the table"
echo "PASS e2e_status $SH"
