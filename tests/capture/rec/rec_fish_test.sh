#!/bin/bash
# rec_fish_test.sh — fish under l3-rec in a tmux pty: C/D/P marks, multi-line commands,
# pipestatus, Ctrl-C, no nonce and no extra fd in commands, exit status.
. "$(dirname "$0")/lib.sh"
REC_SHELL=$(command -v fish) || { echo "skip: no fish"; exit 77; }
mkdir -p "$T/home/.config/fish" "$T/home/sub dir"
echo 'function fish_greeting; end' >"$T/home/.config/fish/config.fish"
start_rec
wait_for '[ $(count A) -ge 1 ]'
cd "$T/home" || exit 1

run 'echo hello; false | true'
expect_c 'echo hello; false | true'
expect_d '0	1 0'

n=$(count D)
type_keys 'for i in 1 2'; keys Enter
type_keys 'echo $i'; keys Enter
type_keys 'end'; keys Enter
wait_for "[ \$(count D) -gt $n ]"
expect_c 'for i in 1 2\necho $i\nend'

c=$(count C)
type_keys 'echo never'
# fish drops what is typed while it handles the Ctrl-C, and under load it can miss a
# Ctrl-C that arrives mid-redraw: press it again until the fresh prompt line shows.
fresh_prompt() { "${TM[@]}" capture-pane -p -t t | grep -v '^$' | tail -1 | grep -qv never; }
for try in 1 2 3 4 5 6 7 8 9 10; do
    keys C-c
    deadline=$((SECONDS + 2))
    until fresh_prompt || ((SECONDS >= deadline)); do sleep 0.05; done
    fresh_prompt && break
done
fresh_prompt || fail "no prompt after Ctrl-C"
run 'echo after'
[[ $(count C) == $((c + 1)) ]] && ! marks | grep -q never || fail "Ctrl-C at the prompt recorded"
ok "Ctrl-C at the prompt"

n=$(count D)
type_keys 'sleep 100'; keys Enter
wait_for 'pgrep -f "^sleep 100" >/dev/null'
keys C-c
wait_for "[ \$(count D) -gt $n ]"
[[ $(last D | cut -f1) != 0 ]] || fail "interrupted sleep reported 0"
ok "Ctrl-C during a command: D $(last D)"

run 'cd "sub dir"'
wait_for '[ "$(last P)" = "$T/home/sub dir" ]'
ok "P after cd"

run 'env | grep -c L3_NONCE >$HOME/nonce.txt; ls -l /proc/self/fd >$HOME/fds.txt; cat /proc/self/fd/[4-9] >$HOME/fdread.txt 2>&1'
[[ $(cat nonce.txt) == 0 ]] || fail "nonce visible"
# fish cannot close an fd: the nonce pipe it read stays open, empty, its writer gone.
extra=$(awk 'NR > 1 && $9 !~ /^[0-2]$/ && $11 !~ /^\/proc\//' fds.txt)
[[ -z $extra || ( $(wc -l <<<"$extra") == 1 && $extra == *'pipe:['* ) ]] || fail "fds: $(cat fds.txt)"
[[ -z $(nonce_in fdread.txt) ]] || fail "the nonce pipe still holds the nonce"
ok "nonce hidden, no fd but the emptied nonce pipe"

# SIGTERM to the recorder: the shell is hung up, the terminal restored.
kill -TERM "$(sed -n 's/^pid=//p' "$INFO")"
wait_for '[ -s $T/rc ]'
# fish exits 0 on SIGHUP; a shell killed by it would give 129 and signal=1.
st=$(cat "$T/rc")
grep -Eq "^(exit=$st|signal=$((st - 128)))\$" "$INFO" || fail "status $st does not match .info"
ok "SIGTERM ends the session (status $st)"
expect_tty_restored
echo "PASS rec_fish_test"
