#!/bin/bash
# rec_script_test.sh bash|zsh — commands of a session print the session's own .script
# back into it (docs/capture.md "Marks"): the live file (as much as it holds when the
# command starts: a plain `cat` of a file its own output keeps growing would never end),
# a copy of it, and a copy with the recorder's "=0" marks made to look fresh. .script is
# the user's own file, so any command can do this; what it prints must be output and
# nothing else: `l3-agent --once` makes exactly the commands typed, each with those bytes
# in its output, and no spool file (nor the copy) holds the shell's nonce — the hook's
# variable printed by `set` included.
. "$(dirname "$0")/lib.sh"
SH=${1:-bash}
REC_SHELL=$(command -v "$SH") || { echo "skip: no $SH"; exit 77; }
AGENT=$L3_BIN_DIR/l3-agent
H=$T/home
if [[ $SH == bash ]]; then
    echo "PS1='rec\$ '" >"$H/.bashrc"
else
    echo "PS1='rec%# '" >"$H/.zshrc"
fi

start_rec
wait_for '[ $(count A) -ge 1 ]'
lines=(
    'echo one'
    'cp "$L3_SPOOL/$L3_SID.script" ~/copy.script'
    'head -c "$(stat -c %s "$L3_SPOOL/$L3_SID.script")" "$L3_SPOOL/$L3_SID.script"'
    'cat ~/copy.script'
    "sed 's/;!0;/;=0;/g' ~/copy.script"
    'set | grep -a "^__l3_nonce="'
    'echo two'
)
for l in "${lines[@]}"; do
    run "$l"
done
# Every mark printed back was a mark of the session shell ("=0") in the file: now "!0".
copied=$(grep -aoF $'\e]6973;=0;' "$H/copy.script" | wc -l)
((copied >= 6)) || fail "the copy holds $copied marks of the session shell"
printed=$(grep -aoF $'\e]6973;!0;' "$SCRIPT" | wc -l)
((printed >= 2 * copied)) || fail "$printed neutralised marks in .script, want at least $((2 * copied))"
ok "marks printed back are neutralised in .script ($printed)"
type_keys 'exit'
keys Enter
wait_for '[ -s $T/rc ]'

"$AGENT" --once "$SCRIPT" -o "$T/out.xml" || fail "l3-agent --once failed"
mapfile -t got < <(grep -o '<line>[^<]*</line>' "$T/out.xml" | sed 's/^<line>//; s/<\/line>$//' |
    sed 's/&quot;/"/g; s/&lt;/</g; s/&gt;/>/g; s/&amp;/\&/g')
want=("${lines[@]}" exit)
[[ ${#got[@]} == "${#want[@]}" ]] || fail "${#got[@]} commands, want ${#want[@]}: $(printf '[%s] ' "${got[@]}")"
for i in "${!want[@]}"; do
    [[ ${got[i]} == "${want[i]}" ]] || fail "command $i: [${got[i]}], want [${want[i]}]"
done
ok "the commands typed and no other (${#got[@]})"
# The printed-back marks are in the output of the commands that printed them.
for i in 2 3 4; do
    rec=$(grep '<command ' "$T/out.xml" | sed -n "$((i + 1))p")
    [[ $rec == *']6973;!0;C;echo%20one<x>07'* ]] || fail "command $i has no printed-back mark in its output"
done
ok "printed-back marks are output"

found=$(nonce_in "$SPOOL"/* "$H/copy.script" "$T/out.xml")
[[ -z $found ]] || fail "the nonce is in $found"
grep -aqF '__l3_nonce==0' "$SCRIPT" || fail "the nonce printed by set is not replaced"
ok "no nonce in the spool, the copy or the records"
echo "PASS rec_script_test $SH"
