#!/bin/bash
# e2e_inner.sh CHECKER — shells started inside a recorded session (issue 8), end to end:
# a real bash under l3-rec in tmux, typed key by key, runs a nested bash (and a bash in
# that one), zsh, fish, `exec bash` and, as root, `su -` and `sudo -i` to another
# account; each loads
# the hooks through lilalo's inner.* file from its own startup files, as a user's
# ~/.bashrc, ~/.zshrc or fish conf.d would, and gets a nonce of its own from l3-rec.
# Then `l3-agent --once` on the spool against a table of expected records (CHECKER =
# check_records, the format is in its header): every command once, in the shell where
# it was typed (depth), the command that started a shell flagged nested with its own
# status and none of the inner shell's output. A user who fights the tool: a plain
# PROMPT_COMMAND= in the inner shell, a command that asks l3-rec for a nonce itself, a
# scan of every environ, argv and fd for the inner shells' nonces.
. "$(dirname "$0")/../rec/lib.sh"
. "$(dirname "$0")/e2e_lib.sh"
CHECK=$(realpath "${1:?usage: e2e_inner.sh CHECKER}")
REC_SHELL=$(command -v bash)
AGENT=$L3_BIN_DIR/l3-agent
SHELLS=$L3_SOURCE_DIR/conf/shell
H=$T/home

# Marks of any shell: .script names each shell "=<n>" (no nonce is in the spool).
count() { count_any "$@"; }
shells() { grep -aoE -- $'\e\\]6973;rec;[0-9a-f]{64};shell;' "$SCRIPT" | wc -l; }
# c (e2e_lib.sh): type a line, wait for its D and the next prompt, expect its record.
# enter_shell 'typed' EXIT FLAGS CHECK...: a command that starts a shell; wait until the
# recorder gave it a nonce and it drew its first prompt. EXIT is the status the command
# will have when that shell ends (the table is in command order).
enter_shell() {
    local a s
    a=$(count A) s=$(shells)
    type_keys "$1"
    keys Enter
    wait_for "[ \$(shells) -gt $s ] && [ \$(count A) -gt $a ]" 30
    expect "$1" "$2" - "${@:3}"
}
# leave 'typed' EXIT CHECK...: the command that ends the inner shell (`exit`), back at the
# outer shell's prompt (its D for the command that started the inner one).
leave() {
    local a n
    a=$(count A) n=$(count D)
    type_keys "$1"
    keys Enter
    wait_for "[ \$(count D) -ge $((n + 2)) ] && [ \$(count A) -gt $a ]" 30
    expect "$1" "$2" - '' "${@:3}"
}

# --- the user's files: each shell loads lilalo's inner.* file itself -------------------------
cat >"$H/.bashrc" <<EOF
PS1='in\$ '
HISTFILE=\$HOME/.hist
. $SHELLS/inner.bash
EOF
printf '%s\n' "PS1='z%# '" 'HISTFILE=$HOME/.zhist' "source $SHELLS/inner.zsh" >"$H/.zshrc"
mkdir -p "$H/.config/fish/conf.d"
ln -s "$SHELLS/inner.fish" "$H/.config/fish/conf.d/lilalo.fish"
printf '%s\n' 'function fish_greeting; end' 'function fish_prompt; echo -n "f> "; end' >"$H/.config/fish/config.fish"
ln -s "$L3_BIN_DIR/l3-rec" "$T/bin/l3-rec"
write_scan "$H/scan.sh"

# An account for `su -` (root only): its own home and startup files, and no PATH to our
# build tree (su - resets it), so its .bashrc names l3-rec itself.
SU_USER=
if [[ $(id -u) == 0 ]] && command -v useradd >/dev/null && command -v userdel >/dev/null; then
    SU_USER=l3inner$$
    SU_HOME=$(mktemp -d /tmp/l3inner-home.XXXXXX)
    if useradd --no-create-home --home-dir "$SU_HOME" --shell /bin/bash "$SU_USER" 2>"$T/useradd.err"; then
        printf '%s\n' "PS1='su\$ '" "L3_REC=$L3_BIN_DIR/l3-rec" ". $SHELLS/inner.bash" >"$SU_HOME/.bashrc"
        printf '%s\n' '. ~/.bashrc' >"$SU_HOME/.bash_profile"
        chown -R "$SU_USER" "$SU_HOME"
        chmod 755 "$SU_HOME"
        # The account runs l3-rec and inner.bash from our tree: a checkout under a private
        # directory (mode 0700 somewhere above it) is out of its reach.
        if ! su -s /bin/sh -c "test -x '$L3_BIN_DIR/l3-rec' && test -r '$SHELLS/l3.bash'" "$SU_USER"; then
            echo "skip: su - (the account $SU_USER cannot reach $L3_BIN_DIR or $SHELLS)"
            userdel "$SU_USER" 2>/dev/null; groupdel "$SU_USER" 2>/dev/null; rm -rf "$SU_HOME"
            SU_USER=
        fi
    else
        cat "$T/useradd.err" >&2
        SU_USER=
    fi
fi
remove_account() {
    [[ -n $SU_USER ]] || return 0
    pkill -KILL -u "$SU_USER" 2>/dev/null
    userdel "$SU_USER" 2>/dev/null
    groupdel "$SU_USER" 2>/dev/null
    rm -rf "$SU_HOME"
}
trap 'remove_account; cleanup' EXIT

start_rec
wait_for '[ $(count B) -gt 0 ]'

# --- nested bash, and a bash in that one -----------------------------------------------------
c 'echo top' 0 - '' '=top\r\n'
enter_shell 'bash' 3 nested '!inner 42' '!deep'
c 'echo inner $((6*7))' 0 - '' '=inner 42\r\n' depth=1
# The inner shell's user replaces PROMPT_COMMAND, as a .bashrc would.
c "PROMPT_COMMAND='history -a'" 0 - '' depth=1
c 'false' 1 - '' depth=1
enter_shell 'bash' 0 nested depth=1 '!deep'
c 'echo deep' 0 - '' '=deep\r\n' depth=2
leave 'exit' 0 depth=2
c 'echo back' 0 - '' '=back\r\n' depth=1
c 'sh scan.sh scan.out' 0 - '' '=scanned\r\n' depth=1
leave 'exit 3' 3 depth=1
ok "nested bash: commands recorded at depth 1 and 2"

# No nonce of any shell so far (the top shell's and the inner ones': any 32 hex whose
# SHA-256 the spool names) is readable by a command of an inner shell, .script included.
[[ -z $(nonce_in "$H/scan.out") ]] || fail "a nonce is readable by a command"
[[ $(wc -c <"$H/scan.out") -gt 1000 ]] || fail "the scan read nothing"
ok "no shell's nonce in any environ, argv, fd or scratch file"

# --- a command that asks l3-rec for a nonce for the shell it runs in: refused ------------------
c 'l3-rec --nonce $$; echo rc=$?' 0 - '' '~rc=1'
c 'echo still recorded' 0 - '' '=still recorded\r\n'

# --- zsh and fish inside bash ------------------------------------------------------------------
if command -v zsh >/dev/null; then
    enter_shell 'zsh' 0 nested '!zz'
    c 'echo zz' 0 - '' '=zz\r\n' depth=1
    leave 'exit' 0 depth=1
    ok "zsh inside bash"
fi
if command -v fish >/dev/null; then
    enter_shell 'fish' 0 nested '!ff'
    c 'echo ff' 0 - '' '~\rff\r\n' depth=1  # fish sets the title first
    leave 'exit' 0 depth=1
    ok "fish inside bash"
fi

# --- su - to another account (root only) -------------------------------------------------------
if [[ -n $SU_USER ]]; then
    enter_shell "su - $SU_USER" 0 nested
    c 'whoami' 0 - '' "=$SU_USER\\r\\n" depth=1
    leave 'exit' 0 depth=1
    ok "su - $SU_USER: commands recorded as the inner shell's"
    # sudo -i: a login shell of the account, environment reset, its own pty when sudoers
    # says use_pty (Debian's default): the shell still finds the recorder above sudo.
    if command -v sudo >/dev/null; then
        enter_shell "sudo -i -u $SU_USER" 1 nested
        c 'echo sudo $((2+3)) $(whoami)' 0 - '' "=sudo 5 $SU_USER\r\n" depth=1
        c 'false' 1 - '' depth=1
        leave 'exit' 1 depth=1
        ok "sudo -i -u $SU_USER: commands recorded as the inner shell's"
    else
        echo "skip: sudo -i (no sudo)"
    fi
else
    echo "skip: su - (not root, or no useradd)"
fi

# --- exec bash: the same process, a new shell at the session's own depth -----------------------
enter_shell 'exec bash' - nested
c 'echo after exec' 0 - '' '=after exec\r\n'
type_keys 'exit'
keys Enter
wait_for 'grep -q "^end=" "$INFO"' 30
expect 'exit' 0 - ''

"$AGENT" --once "$SCRIPT" -o "$T/out.xml" || fail "l3-agent --once failed"
"$CHECK" expect "$EXPECT" "$T/out.xml" || fail "records differ from the table"
[[ -z $(nonce_in "$SPOOL"/*) ]] || fail "a nonce in the spool: $(nonce_in "$SPOOL"/*)"
ok "records match the table"
echo "PASS e2e_inner"
