# e2e_lib.sh — what the end-to-end capture tests share, after ../rec/lib.sh: the table of
# expected records they write for check_records (its header has the format), the screen,
# and the scan of what a command inside the session can read.
EXPECT=$T/expect
: >"$EXPECT"

screen() { "${TM[@]}" capture-pane -p -t t; }

# A command line for the expect table: \ newline tab escaped.
esc() {
    local s=${1//\\/\\\\}
    s=${s//$'\n'/\\n}
    printf '%s' "${s//$'\t'/\\t}"
}

# expect LINE EXIT SIGNAL FLAGS CHECK...: the next command record, any cwd.
expect() {
    local line=$1
    shift
    local IFS=$'\t'
    printf 'cmd\t%s\t%s\t%s\t%s\t*\t%s\n' "$(esc "$line")" "$1" "$2" "$3" "${*:4}" >>"$EXPECT"
}

# For the sessions of several shells (inner shells, fish), where .script names each shell
# "=<n>" (no nonce is in the spool): count MARK counts the marks of any shell, and
# c 'typed' EXIT SIGNAL FLAGS CHECK... types a line, Enter, waits for its D and the next
# prompt (A: fish draws its prompt itself, with no B mark) and expects its record.
count_any() { grep -aoE -- $'\e\\]6973;=[0-9]+;'"$1" "$SCRIPT" | wc -l; }
c() {
    local a n
    a=$(count_any A) n=$(count_any D)
    type_keys "$1"
    keys Enter
    wait_for "[ \$(count_any D) -gt $n ] && [ \$(count_any A) -gt $a ]" 30
    expect "$@"
}

# write_scan FILE: a script that collects what a command run inside the session can read,
# for the test to search for nonces (nonce_in): every process's environment and argv (all
# of /proc, read-only), the fd targets of the processes on its terminal, and every spool
# and hook scratch file, .script included. `sh FILE OUT` writes OUT and prints "scanned".
write_scan() {
    cat >"$1" <<'SCAN'
out=$1
tty=$(readlink /proc/$$/fd/0)
for p in /proc/[0-9]*; do
    cat "$p/environ" "$p/cmdline" 2>/dev/null
    echo
    [ "$(readlink "$p/fd/0" 2>/dev/null)" = "$tty" ] && ls -l "$p/fd/" 2>/dev/null
done >"$out"
for f in "$L3_SPOOL"/* "$L3_SPOOL"/.[!.]* "${TMPDIR:-/tmp}"/l3-rec.*/* /dev/shm/l3-rec.*/* \
    /dev/shm/.l3-hook.* "${XDG_RUNTIME_DIR:-/nonexistent}"/.l3-hook.*; do
    [ -f "$f" ] && cat "$f"
done >>"$out" 2>/dev/null
echo scanned
SCAN
}
