#!/bin/sh
# bench/scale.sh — years of history (make bench-scale; issue 10's figures in one run).
#
# Builds (or reuses) a history of 10,000,000 commands (about 8.5 GB; env BENCH_COMMANDS
# for another size, BENCH_DIR for the work dir, kept between runs) and measures:
#   - everything bench/render.sh measures on it: render start-up without and with its
#     index file, render's RSS, the journal page's p99 through lighttpd + l3-cgi, search
#     latency (20 queries x 2, p95 and max);
#   - the writer's restart on it (bench/writer_restart.py): full scan, from the checkpoint
#     after a clean stop, and after kill -9 with ~15 MB after the last checkpoint;
#   - search completeness: each of the 20 queries' (and three two-byte needles') /api/commands answer from render with
#     its normal search budget and its search index must equal the answer of a render
#     without the index given all the time it needs (search_budget_ms = 60000), which is
#     a full scan.
# It ends with exactly one line:
#   scale commands=N rss_mb=N start_s=N writer_restart_s=N search_p95_ms=N search_max_ms=N complete=yes|no page_p99_ms=N
# (start_s: render with its index file; writer_restart_s: the slower of the two
# checkpointed restarts).
#
# Usage: bench/scale.sh [BIN_DIR]   (default build/bin)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-${L3_BIN_DIR:-$root/build/bin}}
bin=$(cd "$bin" && pwd)
work=${BENCH_DIR:-/var/tmp/l3-bench-scale}
ncmd=${BENCH_COMMANDS:-10000000}
mkdir -p "$work"
data=$work/data.xml

need_gb=$((ncmd / 1000000 + 2))
avail_gb=$(df -P -BG "$work" | awk 'NR == 2 { sub("G", "", $4); print $4 }')
if [ ! -s "$data" ] && [ "$avail_gb" -lt "$need_gb" ]; then
    echo "bench/scale.sh: $work has $avail_gb GB free; $ncmd commands need about $need_gb GB (set BENCH_DIR)" >&2
    exit 1
fi

# 1. render: start-up, memory, pages, search latency.
BENCH_DIR=$work BENCH_COMMANDS=$ncmd "$root/bench/render.sh" "$bin" | tee "$work/render.out"
last=$(tail -1 "$work/render.out")
field() { printf '%s\n' "$last" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
rss_mb=$(field rss_mb)
page_p99=$(field page_p99_ms)
search_p95=$(field search_p95_ms)
search_max=$(sed -n 's/.*p95 [0-9.]* ms, max \([0-9.]*\) ms.*/\1/p' "$work/render.out")
start_s=$(sed -n 's/^render start-up, with its index file: *\([0-9.]*\) s.*/\1/p' "$work/render.out")

# 2. The writer's restart. (It appends ~16,000 commands of its own; render's index file
#    follows them at its next start.)
python3 "$root/bench/writer_restart.py" "$bin" "$data" | tee "$work/writer.out"
wlast=$(tail -1 "$work/writer.out")
writer_s=$(printf '%s\n' "$wlast" | python3 -c '
import sys, re
t = sys.stdin.read()
v = dict(re.findall(r"(\w+)=([\d.]+)", t))
print("%.3f" % max(float(v["checkpoint_s"]), float(v["after_kill_s"])))')

# 3. Search completeness: the budgeted answers against a full scan's.
render_pids=""
cleanup() { for p in $render_pids; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
start_render() { # NAME BUDGET_MS PAGE_TIMEOUT_MS SEARCH_INDEX
    cat > "$work/$1.cfg" <<EOF
render
    datafile = "$data"
    bind = "ipc://$work/$1.sock"
    commits = ""
    page_size = 100
    search_budget_ms = $2
    page_timeout_ms = $3
    search_index = $4
cgi
    render = "ipc://$work/$1.sock"
    timeout_ms = 60000
EOF
    "$bin/l3-render" -c "$work/$1.cfg" >>"$work/$1.log" 2>&1 &
    render_pids="$render_pids $!"
}
ask() { # NAME QUERY -> the body of /api/commands?q=QUERY
    L3_CONFIG=$work/$1.cfg REQUEST_METHOD=GET \
        PATH_INFO=/api/commands QUERY_STRING="q=$2" "$bin/l3-cgi" | sed '1,/^\r\{0,1\}$/d'
}
start_render budget 800 1500 true
start_render full 60000 60000 false
for name in budget full; do
    i=0
    until ask "$name" x 2>/dev/null | grep -q '"commands"'; do
        i=$((i + 1)); [ $i -gt 6000 ] && { echo "bench/scale.sh: render $name did not start" >&2; exit 1; }
        sleep 0.05
    done
done
complete=yes
for q in timeout "Error%201" "served+in+12+ms" pkg17 file913.conf "case+99" "undeclared" \
         "command+not+found" "app3.log" "10.0.0.1" "no-such-word-anywhere" "sda3" \
         "request+4242" "fix+the+parser" "restarted" "workers+8" "Building" "ok" "grep" "df+-h" \
         qj zx "%7E%7E"; do # and needles of two bytes, shorter than a trigram, that match nothing
    t0=$(date +%s%N)
    ask budget "$q" > "$work/q.budget"
    ms=$((($(date +%s%N) - t0) / 1000000))
    ask full "$q" > "$work/q.full"
    if cmp -s "$work/q.budget" "$work/q.full"; then
        echo "search $q: complete ($(grep -o '"id":' "$work/q.full" | wc -l) commands in the first answer, $ms ms through l3-cgi)"
    else
        echo "search $q: INCOMPLETE: the budgeted answer differs from a full scan's"
        complete=no
    fi
done

echo "scale commands=$ncmd rss_mb=$rss_mb start_s=$start_s writer_restart_s=$writer_s search_p95_ms=$search_p95 search_max_ms=$search_max complete=$complete page_p99_ms=$page_p99"
