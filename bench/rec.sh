#!/bin/bash
# bench/rec.sh — recorder benchmarks (`make bench-rec`).
#
#   bench/rec.sh [BIN_DIR]      (default: $L3_BIN_DIR, else build/bin next to this folder)
#
# 1. Throughput: `l3-rec -- cat FILE` of a REC_BENCH_MB (100) MB file, stdout to /dev/null,
#    against `script -q -c 'cat FILE'`, `tlog-rec` and `asciinema rec`; median of
#    REC_BENCH_RUNS (3) runs each; ratio = l3-rec time / the other tool's time, so
#    script_ratio <= 1.0 means l3-rec is at least as fast as script.
# 2. Keystroke echo latency through l3-rec and through script (bench/rec_latency.c: a pty
#    driver that types one key and times its echo), p50/p99 in µs.
# 3. Prompt hook cost: 10,000 commands typed into a recorded bash, with and without the
#    shell integration (rec/integration = 0); the difference per command in µs.
# 4. parse_mb_s from l3-parse-bench when it is built.
# Last line: rec script_ratio=<r> tlog_ratio=<r> asciinema_ratio=<r> hook_us=<n> parse_mb_s=<n>
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${1:-${L3_BIN_DIR:-$HERE/../build/bin}}
REC=$BIN/l3-rec
MB=${REC_BENCH_MB:-100}
RUNS=${REC_BENCH_RUNS:-3}
NCMD=${REC_BENCH_COMMANDS:-10000}
[[ -x $REC ]] || { echo "bench/rec.sh: no $REC (build first, or pass the bin dir)" >&2; exit 2; }
W=$(mktemp -d /tmp/l3-bench-rec.XXXXXX)
trap 'rm -rf "$W"' EXIT

# Install the comparison tools when missing (Debian packages); n/a when that fails.
for pkg in tlog:tlog-rec asciinema:asciinema; do
    if ! command -v "${pkg#*:}" >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
        apt-get install -y -qq "${pkg%%:*}" >/dev/null 2>&1 || true
    fi
done

# time_us CMD...: wall microseconds of CMD (stdin and stdout /dev/null), or "fail".
time_us() {
    local t0 t1
    rm -rf "$W/out" && mkdir -p "$W/out"
    t0=$(date +%s%N)
    "$@" </dev/null >/dev/null 2>&1 || { echo fail; return; }
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000))
}
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
ratio() { # ratio A_us B_us → A/B with 2 decimals, or n/a
    [[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ && $2 -gt 0 ]] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }' || echo n/a
}

echo "== throughput: cat of a $MB MB file, median of $RUNS runs"
head -c $((MB * 1000000 * 3 / 4)) /dev/urandom | base64 >"$W/file"
FILE=$W/file
# Runs interleave the tools, so a neighbour's load hits them all alike.
r_rec=() r_script=() r_tlog=() r_asc=()
for ((run = 0; run < RUNS; run++)); do
    r_rec+=($(time_us "$REC" --spool "$W/out" -- cat "$FILE"))
    r_script+=($(time_us script -q -c "cat $FILE" "$W/out/typescript"))
    command -v tlog-rec >/dev/null && r_tlog+=($(time_us tlog-rec -w file -o "$W/out/tlog.json" cat "$FILE"))
    command -v asciinema >/dev/null && r_asc+=($(time_us asciinema rec -q --overwrite -c "cat $FILE" "$W/out/a.cast"))
done
t_rec=$(median "${r_rec[@]}") t_script=$(median "${r_script[@]}") t_tlog=n/a t_asc=n/a
((${#r_tlog[@]})) && t_tlog=$(median "${r_tlog[@]}")
((${#r_asc[@]})) && t_asc=$(median "${r_asc[@]}")
echo "  runs (us): l3-rec ${r_rec[*]} | script ${r_script[*]}"
printf '  %-10s %10s us\n' l3-rec "$t_rec" script "$t_script" tlog-rec "$t_tlog" asciinema "$t_asc"
script_ratio=$(ratio "$t_rec" "$t_script")
tlog_ratio=$(ratio "$t_rec" "$t_tlog")
asciinema_ratio=$(ratio "$t_rec" "$t_asc")
rec_mb_s=$(awk -v t="$t_rec" -v mb="$MB" 'BEGIN { if (t > 0) printf "%.0f", mb * 1.333 / (t / 1e6); else print "n/a" }')
echo "  l3-rec throughput: $rec_mb_s MB/s of terminal output"
rm -f "$FILE"

echo "== keystroke echo latency (2000 keys, echo by the inner tty, through the recorder)"
if cc -O2 -o "$W/rec_latency" "$HERE/rec_latency.c" 2>"$W/cc.err"; then
    lat_rec=$("$W/rec_latency" 2000 "$REC" --spool "$W/lat" -- cat 2>&1)
    lat_script=$("$W/rec_latency" 2000 script -q -c cat "$W/lat-typescript" 2>&1)
    echo "  l3-rec: $lat_rec"
    echo "  script: $lat_script"
else
    echo "  n/a (cannot compile rec_latency.c: $(head -1 "$W/cc.err"))"
fi

echo "== prompt hook cost: $NCMD commands in a recorded bash"
mkdir -p "$W/home"
printf 'rec\n    integration = 0\n' >"$W/noint.cfg"
feed() { for ((i = 0; i < NCMD; i++)); do echo ':'; done; echo 'exit'; }
feed >"$W/commands"
hook_run() { # extra args for l3-rec → microseconds
    local t0 t1
    rm -rf "$W/hs"
    t0=$(date +%s%N)
    env -i PATH=/usr/bin:/bin HOME="$W/home" TERM=dumb SHELL=/bin/bash HISTFILE=/dev/null \
        "$REC" --spool "$W/hs" "$@" <"$W/commands" >/dev/null 2>&1
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000))
}
h_with=() h_without=()
for ((run = 0; run < RUNS; run++)); do
    h_with+=($(hook_run))
    h_without+=($(hook_run -c "$W/noint.cfg"))
done
with=$(median "${h_with[@]}") without=$(median "${h_without[@]}")
hook_us=$(((with - without) / NCMD))
((hook_us < 0)) && hook_us=0
echo "  with hooks: $((with / NCMD)) us/command, without: $((without / NCMD)) us/command, hook: $hook_us us"
echo "  (measured with stdin from a file: bash reads the typed-ahead lines one by one)"

echo "== parser"
parse_mb_s=n/a
if [[ -x $BIN/l3-parse-bench ]]; then
    out=$("$BIN/l3-parse-bench" 2>&1)
    echo "$out" | sed 's/^/  /'
    parse_mb_s=$(echo "$out" | sed -n 's/.*parse_mb_s=\([0-9.]*\).*/\1/p' | tail -1)
    [[ -n $parse_mb_s ]] || parse_mb_s=n/a
else
    echo "  n/a (no $BIN/l3-parse-bench)"
fi

echo "rec script_ratio=$script_ratio tlog_ratio=$tlog_ratio asciinema_ratio=$asciinema_ratio hook_us=$hook_us parse_mb_s=$parse_mb_s"
