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
    wait_for 'NONCE=$(shell_ref "$INFO"); [ -n "$NONCE" ]'
    wait_for 'grep -aqF -- "$OSC6973$NONCE;" "$SCRIPT"'
}
OSC6973=$'\e]6973;'

# shell_ref INFO: what the session shell's marks carry in .script instead of its nonce,
# "=0" (docs/capture.md "Marks": l3-rec writes no nonce into the spool, .info says
# marks=2). Empty while .info is not written yet. The tests call it NONCE.
shell_ref() {
    grep -qx 'marks=2' "$1" 2>/dev/null && printf '=0'
}

# nonce_in FILE...: the files that hold a nonce of a shell of the spool's sessions — any
# 32 characters of a run of lowercase hex whose SHA-256 is a nonce_sha256 of a .info or
# the hash in a recorder shell mark of a .script in $SPOOL. The test cannot know the
# nonces themselves (no spool file holds one: that is what this checks).
nonce_in() {
    perl -MDigest::SHA=sha256_hex -e '
        my ($spool, @files) = @ARGV;
        my %hash;
        for my $f (glob("$spool/*.info"), glob("$spool/*.script")) {
            open(my $fh, "<:raw", $f) or next;
            local $/; my $d = <$fh>;
            $hash{$1} = 1 while $d =~ /^nonce_sha256=([0-9a-f]{64})$/mg;
            $hash{$1} = 1 while $d =~ /\e\]6973;rec;[0-9a-f]{64};shell;([0-9a-f]{64});/g;
        }
        die "nonce_in: no nonce hash in $spool\n" unless %hash;
        my %hit; # each window hashed once
        for my $f (@files) {
            open(my $fh, "<:raw", $f) or next;
            local $/; my $d = <$fh>;
            my $found = 0;
            while (!$found && $d =~ /([0-9a-f]{32,})/g) {
                my $run = $1;
                for my $i (0 .. length($run) - 32) {
                    my $w = substr($run, $i, 32);
                    $hit{$w} //= $hash{sha256_hex($w)} ? 1 : 0;
                    if ($hit{$w}) { $found = 1; last; }
                }
            }
            print "$f\n" if $found;
        }' "$SPOOL" "$@"
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
