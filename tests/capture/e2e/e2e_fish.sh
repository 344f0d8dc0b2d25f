#!/bin/bash
# e2e_fish.sh CHECKER — a fish session end to end (issue 8: bash, zsh and fish alike): a
# real fish under l3-rec in tmux, typed key by key, then `l3-agent --once` on the spool
# against a table of expected records (CHECKER = check_records, the format is in its
# header): exact lines (multi-line ones too) and outputs, exit statuses, a known SIGINT
# (Ctrl-C during a command) against an ambiguous `exit 130`, the spool's own recorder
# marks printed by `cat` proving nothing, a full-screen program on the main screen, `exit`
# with its status (fish_exit), a nested bash that records its own commands, and a user
# who fights the hook: their own fish_preexec/fish_postexec handlers and a function named
# like ours.
. "$(dirname "$0")/../rec/lib.sh"
. "$(dirname "$0")/e2e_lib.sh"
CHECK=$(realpath "${1:?usage: e2e_fish.sh CHECKER}")
REC_SHELL=$(command -v fish) || { echo "skip: no fish"; exit 77; }
AGENT=$L3_BIN_DIR/l3-agent
SHELLS=$L3_SOURCE_DIR/conf/shell
H=$T/home

# Marks of any shell (the nested bash has a nonce of its own; .script names each "=<n>").
count() { count_any "$@"; }
recmarks() { grep -aoE -- $'\e\\]6973;rec;[0-9a-f]{64};[a-z]+' "$SCRIPT" | wc -l; }
S=31431 # sleeps with a number of their own, so pgrep finds this test's
# c (e2e_lib.sh): type a line, wait for its D and the next prompt, expect its record.

mkdir -p "$H/.config/fish/conf.d"
cat >"$H/.config/fish/config.fish" <<'EOF'
function fish_greeting; end
function fish_prompt; echo -n 'fi> '; end
# The user's own event handlers run beside ours.
function my_pre --on-event fish_preexec; set -g my_count (math $my_count + 1); end
function my_post --on-event fish_postexec; set -g my_last $status; end
set -g my_count 0
EOF
# The nested bash loads the hooks from its own startup file.
printf '%s\n' "PS1='in\$ '" "HISTFILE=\$HOME/.hist" ". $SHELLS/inner.bash" >"$H/.bashrc"
ln -s "$L3_BIN_DIR/l3-rec" "$T/bin/l3-rec"
start_rec
wait_for '[ $(count A) -gt 0 ]'

# --- lines and outputs -------------------------------------------------------------------------
c 'echo hello' 0 - '' '~hello\r\n'
c 'false' 1 - '' '*'
c 'echo (math 6 \* 7)' 0 - '' '~42\r\n'
c 'echo Привет | string upper' 0 - '' '~ПРИВЕТ\r\n'
c 'sh -c "exit 3"' 3 - '' '*'
a=$(count A) n=$(count D)
type_keys 'for i in 1 2'; keys Enter
type_keys 'echo n$i'; keys Enter
type_keys 'end'; keys Enter
wait_for "[ \$(count D) -gt $n ] && [ \$(count A) -gt $a ]" 30
expect $'for i in 1 2\necho n$i\nend' 0 - '' '~n1\r\n' '~n2\r\n'
c 'echo $my_count $my_last' 0 - '' '*'
ok "lines typed"

# --- statuses ----------------------------------------------------------------------------------
c "sh -c 'exit 130'" 130 - 'ambiguous' '*'
a=$(count A) n=$(count D)
type_keys "sleep $S"; keys Enter
wait_for "pgrep -f '^sleep $S' >/dev/null"
keys C-c
wait_for "[ \$(count D) -gt $n ] && [ \$(count A) -gt $a ]" 30
expect "sleep $S" 130 2 '' '*'
grep -aoE $'\e\\]6973;rec;[0-9a-f]{64};[a-z]+\a' "$SCRIPT" >"$H/spent.txt"
[[ $(wc -l <"$H/spent.txt") -ge 1 ]] || fail "no recorder mark for the Ctrl-C"
c "cat spent.txt; sh -c 'exit 130'" 130 - 'ambiguous' '*'
ok "statuses typed"

# --- full screen on the main screen ------------------------------------------------------------
c 'top -d 0.2 -n 5' 0 - 'fullscreen' '~load average'
c 'bash -c "for i in 1 2 3 4 5; do clear; echo screen \$i; done"' 0 - 'fullscreen' '~screen 5'
ok "full-screen programs typed"

# --- a nested bash: its commands are its own -----------------------------------------------------
a=$(count A)
type_keys 'bash'; keys Enter
wait_for '[ $(grep -aoE $'"'"'\e\\]6973;rec;[0-9a-f]{64};shell;'"'"' "$SCRIPT" | wc -l) -gt 0 ] && [ $(count A) -gt '"$a"' ]' 30
expect 'bash' 4 - 'nested' '!inside'
c 'echo inside' 0 - '' '=inside\r\n' depth=1
a=$(count A) n=$(count D)
type_keys 'exit 4'; keys Enter
wait_for "[ \$(count D) -ge $((n + 2)) ] && [ \$(count A) -gt $a ]" 30
expect 'exit 4' 4 - '' depth=1
ok "nested bash in fish"

# --- exit with a status ----------------------------------------------------------------------
type_keys 'exit 5'; keys Enter
wait_for 'grep -q "^end=" "$INFO"' 30
expect 'exit 5' 5 - ''

"$AGENT" --once "$SCRIPT" -o "$T/out.xml" || fail "l3-agent --once failed"
"$CHECK" expect "$EXPECT" "$T/out.xml" || fail "records differ from the table"
ok "records match the table"
echo "PASS e2e_fish"
