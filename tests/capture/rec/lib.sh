# lib.sh — helpers for the recorder tests: a private tmux server, a spool, waiting on
# conditions against a deadline (never a bare sleep), and mark decoding via marks.pl.
set -u
: "${L3_BIN_DIR:?set L3_BIN_DIR}" "${L3_SOURCE_DIR:?set L3_SOURCE_DIR}"
HERE=$L3_SOURCE_DIR/tests/capture/rec
REC=$L3_BIN_DIR/l3-rec
T=$(mktemp -d /tmp/l3rec-test.XXXXXX)
SPOOL=$T/spool
mkdir -p "$T/home" "$T/bin"
TM=(tmux -S "$T/tmux.sock" -f /dev/null)

cleanup() {
    local i
    "${TM[@]}" kill-server 2>/dev/null
    # L3_TEST_KEEP=1 keeps the directory (spool, home, expectations) for a look.
    if [[ -n ${L3_TEST_KEEP-} ]]; then
        echo "kept $T" >&2
        return
    fi
    cd /
    # The killed shells may still be writing their history files for a moment.
    for i in 1 2 3 4 5 6 7 8 9 10; do
        rm -rf "$T" 2>/dev/null && break
        sleep 0.1
    done
}
trap cleanup EXIT

fail() {
    echo "FAIL (${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}): $*" >&2
    if [[ -n ${SCRIPT-} && -f ${SCRIPT-} ]]; then
        echo "--- marks so far:" >&2
        marks >&2
    fi
    if "${TM[@]}" has-session 2>/dev/null; then
        echo "--- screen:" >&2
        "${TM[@]}" capture-pane -p -t t >&2
    fi
    exit 1
}
ok() { echo "ok: $*"; }

# wait_for 'shell condition' [seconds]: poll the condition until true or the deadline.
wait_for() {
    local deadline=$((SECONDS + ${2:-20}))
    until eval "$1"; do
        ((SECONDS < deadline)) || fail "timed out waiting for: $1"
        sleep 0.02
    done
}

# Start `l3-rec ARGS` in a detached tmux session of 80x24; its exit status goes to $T/rc.
start_rec() {
    "${TM[@]}" new-session -d -s t -x 80 -y 24 -c "$T/home" \
        "stty -g >$T/stty.before; env -i PATH=$T/bin:/usr/bin:/bin HOME=$T/home TERM=xterm-256color SHELL=${REC_SHELL:-/bin/bash} LANG=C.UTF-8 $REC --spool $SPOOL $*; echo \$? > $T/rc.tmp; stty -g >$T/stty.after; mv $T/rc.tmp $T/rc; sleep 600"
    wait_for 'ls $SPOOL/*.info >/dev/null 2>&1'
    INFO=$(ls "$SPOOL"/*.info | head -1)
    SCRIPT=${INFO%.info}.script
    TIMING=${INFO%.info}.timing
    NONCE=
    wait_for 'NONCE=$(nonce_of "$INFO" "$SCRIPT"); [ -n "$NONCE" ]'
}

# nonce_of INFO SCRIPT: the session's nonce as the test sees it from outside: .info holds
# only its SHA-256 (nonce_sha256), so take the 32-hex nonce of a mark in .script whose
# hash is there. Empty until the shell printed a mark.
nonce_of() {
    local c hashes
    hashes=$(sed -n 's/^nonce_sha256=//p' "$1")
    [[ -n $hashes ]] || return 0
    for c in $(grep -aoE $'\e\\]6973;[0-9a-f]{32};' "$2" 2>/dev/null | cut -c8-39 | sort -u); do
        if grep -qx "$(printf %s "$c" | sha256sum | cut -c1-64)" <<<"$hashes"; then
            printf %s "$c"
            return 0
        fi
    done
}

marks() { perl "$HERE/marks.pl" "$NONCE" "$SCRIPT"; }
count() { marks | grep -Ec "^$1"$'(\t|$)'; }
last() { marks | grep -E "^$1"$'(\t|$)' | tail -1 | cut -f2-; }

# Type a string one key at a time, as a person would.
type_keys() {
    local s=$1 i c
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        [[ $c == ';' ]] && c='\;'
        "${TM[@]}" send-keys -t t -l -- "$c"
    done
}
keys() { "${TM[@]}" send-keys -t t "$@"; }

# run 'text': type it, press Enter, wait for the command's D mark.
run() {
    local n
    n=$(count D)
    type_keys "$1"
    keys Enter
    wait_for "[ \$(count D) -gt $n ]"
}

# expect_c 'expected command line' (newlines written as \n, as marks.pl prints them)
expect_c() {
    local got
    got=$(last C)
    [[ $got == "$1" ]] || fail "C mark: expected [$1], got [$got]"
    ok "C [$1]"
}
expect_d() {
    local got
    got=$(last D)
    [[ $got == "$1" ]] || fail "D mark: expected [$1], got [$got]"
    ok "D [$1]"
}

# The terminal l3-rec ran on is back in its old mode (raw mode undone).
expect_tty_restored() {
    cmp -s "$T/stty.before" "$T/stty.after" || fail "terminal mode not restored: $(cat "$T/stty.before") vs $(cat "$T/stty.after")"
    ok "terminal mode restored"
}
