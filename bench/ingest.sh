#!/usr/bin/env bash
# bench/ingest.sh — end-to-end ingest benchmark: l3-loadgen agents -> l3-broker -> l3-writer.
#
# usage: bench/ingest.sh [BUILD_DIR]          (make bench-ingest runs it on ./build)
# env:   AGENTS=3  RECORDS=200000 (per agent)  OUTPUT_BYTES=256  LATENCY_RATE=1000
#        LATENCY_SECONDS=5  WINDOW=2000 (agent/window)
#        BATCH_MS, BATCH_RECORDS (writer/batch_ms, writer/batch_records; default: the writer's)
#
# Starts the real l3-writer and l3-broker in a temp dir on random loopback ports
# (plaintext, curve = 0), then:
#   1. throughput: AGENTS l3-loadgen processes push RECORDS records each (OUTPUT_BYTES of
#      output), fdatasync per group in the outbox and in the writer, all acknowledged;
#      rate = all records / (last agent's end - first agent's start of its timed part);
#   2. latency: one l3-loadgen at LATENCY_RATE records/s for LATENCY_SECONDS; ack p50/p99;
#   3. raw: the same messages through a bare libzmq PUSH/PULL pair (l3-raw-pushpull,
#      median of three runs);
#   4. CURVE: phase 1 again through a second broker with curve = 1, each agent with its
#      own key, as agents run by default;
# and prints the writer's peak RSS (VmHWM). Last line, for scripts:
#   ingest records_per_s=<n> raw_ratio=<r> ack_p99_ms=<n> writer_rss_mb=<n> curve_records_per_s=<n>
# Exit status 0 when every phase ran and every record was acknowledged (targets are
# reported, not enforced).
set -euo pipefail

BUILD=${1:-build}
BIN=$(cd "$BUILD/bin" 2>/dev/null && pwd) || { echo "ingest.sh: no $BUILD/bin (build first)" >&2; exit 2; }
for p in l3-writer l3-broker l3-loadgen l3-raw-pushpull; do
  [[ -x $BIN/$p ]] || { echo "ingest.sh: $BIN/$p missing (build first)" >&2; exit 2; }
done
AGENTS=${AGENTS:-3}
RECORDS=${RECORDS:-200000}
OUTPUT_BYTES=${OUTPUT_BYTES:-256}
LATENCY_RATE=${LATENCY_RATE:-1000}
LATENCY_SECONDS=${LATENCY_SECONDS:-5}
WINDOW=${WINDOW:-2000}

TMP=$(mktemp -d /tmp/l3-bench-ingest.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

. "$(dirname "${BASH_SOURCE[0]}")/../tests/ports.sh"
# Wait until something listens on 127.0.0.1:$1 (or give up after 30 s).
wait_port() {
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "ingest.sh: nothing listens on port $1" >&2
  return 1
}

W=$(free_port); WA=$(free_port); B=$(free_port); BA=$(free_port)
cat >"$TMP/lilalo.cfg" <<EOF
writer
    backend_datafile = "$TMP/datafile.xml"
    bind = "tcp://127.0.0.1:$W"
    ack_bind = "tcp://127.0.0.1:$WA"
${BATCH_MS:+    batch_ms = $BATCH_MS
}${BATCH_RECORDS:+    batch_records = $BATCH_RECORDS
}broker
    curve = 0
    backend_address = "127.0.0.1"
    backend_port = $B
    ack_port = $BA
    capture_port = 0
    hwm = 10000
    writer_endpoint = "tcp://127.0.0.1:$W"
    writer_ack_endpoint = "tcp://127.0.0.1:$WA"
agent
    curve = 0
    brokers = "tcp://127.0.0.1:$B"
    acks = "tcp://127.0.0.1:$BA"
    window = $WINDOW
    ack_timeout_ms = 2000
    outbox_sync = group
EOF

"$BIN/l3-writer" -c "$TMP/lilalo.cfg" 2>"$TMP/writer.log" &
WRITER=$!; PIDS+=("$WRITER")
"$BIN/l3-broker" -c "$TMP/lilalo.cfg" 2>"$TMP/broker.log" &
BROKER=$!; PIDS+=("$BROKER")
wait_port "$W" && wait_port "$B" && wait_port "$BA" || { tail -n 5 "$TMP"/*.log >&2; exit 1; }

kv() { # kv KEY LINE -> value of KEY=value in LINE
  sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"
}

echo "ingest: $AGENTS agents x $RECORDS records, ${OUTPUT_BYTES}-byte outputs, window $WINDOW, fdatasync per group"
# [PLAIN_IDS=1] throughput LABEL CFG...: one l3-loadgen per config (all at once), every
# record acked (PLAIN_IDS: each its own --agent-id; under CURVE the id is the key's);
# sets rate (records/s from the first start to the last end of the timed parts), mbs and
# total_records.
throughput() {
  local label=$1 i=0 pid fail=0 line s e n start= end= total=0 cfg
  shift
  local bytes0 bytes1 LG=()
  bytes0=$(stat -c %s "$TMP/datafile.xml" 2>/dev/null || echo 0)
  for cfg in "$@"; do
    i=$((i + 1))
    "$BIN/l3-loadgen" -c "$cfg" --records "$RECORDS" --output-bytes "$OUTPUT_BYTES" \
      ${PLAIN_IDS:+--agent-id "bench-$label-$i"} --outbox "$TMP/outbox-$label-$i" --timeout 600 \
      >"$TMP/loadgen-$label-$i.out" 2>"$TMP/loadgen-$label-$i.err" &
    LG+=($!)
  done
  for pid in "${LG[@]}"; do wait "$pid" || fail=1; done
  if [[ $fail != 0 ]]; then
    echo "ingest.sh: a load generator failed ($label):" >&2
    tail -n 3 "$TMP"/loadgen-"$label"-*.err "$TMP"/loadgen-"$label"-*.out "$TMP"/*.log >&2
    exit 1
  fi
  bytes1=$(stat -c %s "$TMP/datafile.xml")
  for i in $(seq 1 $#); do
    line=$(cat "$TMP/loadgen-$label-$i.out")
    echo "  $line"
    s=$(kv start_us "$line"); e=$(kv end_us "$line"); n=$(kv acked "$line")
    total=$((total + n))
    if [[ -z $start || $s -lt $start ]]; then start=$s; fi
    if [[ -z $end || $e -gt $end ]]; then end=$e; fi
  done
  rate=$(awk -v n="$total" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", n / ((e - s) / 1e6) }')
  mbs=$(awk -v b="$((bytes1 - bytes0))" -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", b / 1e6 / ((e - s) / 1e6) }')
  echo "throughput ($label): $total records in $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", (e - s) / 1e6 }') s: $rate records/s, datafile $mbs MB/s"
  total_records=$total
}
# --- 1. throughput
cfgs=()
for i in $(seq 1 "$AGENTS"); do cfgs+=("$TMP/lilalo.cfg"); done
PLAIN_IDS=1 throughput plain "${cfgs[@]}"
total=$total_records
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
echo "  cpu seconds so far: writer $(cpu_of "$WRITER"), broker $(cpu_of "$BROKER")"
# Let the kernel write back what phase 1 left dirty, so phase 2 measures itself.
sync

# --- 2. ack latency at a fixed offered load
lat_records=$((LATENCY_RATE * LATENCY_SECONDS))
line=$("$BIN/l3-loadgen" -c "$TMP/lilalo.cfg" --records "$lat_records" --rate "$LATENCY_RATE" \
  --output-bytes "$OUTPUT_BYTES" --agent-id bench-latency --outbox "$TMP/outbox-latency" \
  --timeout 120 2>"$TMP/loadgen-latency.err") || { echo "ingest.sh: latency phase failed" >&2; cat "$TMP/loadgen-latency.err" >&2; exit 1; }
echo "  $line"
p50=$(kv ack_p50_ms "$line"); p99=$(kv ack_p99_ms "$line")
echo "latency at $LATENCY_RATE records/s: ack p50 $p50 ms, p99 $p99 ms"

# --- writer memory
rss_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$WRITER/status")
rss_mb=$(awk -v k="$rss_kb" 'BEGIN { printf "%.1f", k / 1024 }')
echo "writer peak RSS (VmHWM): $rss_mb MB"

# --- 3. raw libzmq ceiling, same messages
# One short run swings with scheduling; the median of three is what we compare against.
raws=()
for _ in 1 2 3; do
  raw_line=$("$BIN/l3-raw-pushpull" "$total" "$OUTPUT_BYTES")
  echo "  $raw_line"
  raws+=("$(kv records_per_s "$raw_line")")
done
raw=$(printf '%s\n' "${raws[@]}" | sort -n | sed -n 2p)
ratio=$(awk -v a="$rate" -v b="$raw" 'BEGIN { printf "%.3f", a / b }')
echo "raw PUSH/PULL: $raw records/s; ratio $ratio"

# --- 4. the same throughput over CURVE, as agents run by default: a second broker with
# curve = 1 in front of the same writer, each agent with its own key (its agent id is the
# key's hex, so --agent-id is not used).
plain_rate=$rate
mkdir -m 0700 "$TMP/keys" "$TMP/allowed"
"$BIN/l3-keygen" broker --dir "$TMP/keys" >/dev/null
CB=$(free_port); CBA=$(free_port)
cat >"$TMP/curve-broker.cfg" <<CFG
broker
    curve = 1
    server_cert = "$TMP/keys/broker.key"
    allowed_keys = "$TMP/allowed"
    backend_address = "127.0.0.1"
    backend_port = $CB
    ack_port = $CBA
    capture_port = 0
    hwm = 10000
    writer_endpoint = "tcp://127.0.0.1:$W"
    writer_ack_endpoint = "tcp://127.0.0.1:$WA"
CFG
ccfgs=()
for i in $(seq 1 "$AGENTS"); do
  "$BIN/l3-keygen" "agent$i" --dir "$TMP/keys" >/dev/null
  cp "$TMP/keys/agent$i.pub" "$TMP/allowed/"
  cat >"$TMP/curve-agent-$i.cfg" <<CFG
agent
    curve = 1
    cert = "$TMP/keys/agent$i.key"
    broker_cert = "$TMP/keys/broker.pub"
    brokers = "tcp://127.0.0.1:$CB"
    acks = "tcp://127.0.0.1:$CBA"
    window = $WINDOW
    ack_timeout_ms = 2000
    outbox_sync = group
CFG
  ccfgs+=("$TMP/curve-agent-$i.cfg")
done
"$BIN/l3-broker" -c "$TMP/curve-broker.cfg" 2>"$TMP/curve-broker.log" &
PIDS+=($!)
wait_port "$CB" && wait_port "$CBA" || { tail -n 5 "$TMP"/curve-broker.log >&2; exit 1; }
sync
throughput curve "${ccfgs[@]}"
curve_rate=$rate
curve_ratio=$(awk -v a="$curve_rate" -v b="$plain_rate" 'BEGIN { printf "%.2f", a / b }')
echo "CURVE: $curve_rate records/s, $curve_ratio of plaintext's $plain_rate"
rate=$plain_rate

echo "targets: >= 50000 records/s, raw_ratio >= 0.25, ack p99 <= 50 ms at 1000 records/s, writer RSS <= 50 MB"
echo "ingest records_per_s=$rate raw_ratio=$ratio ack_p99_ms=$p99 writer_rss_mb=$rss_mb curve_records_per_s=$curve_rate"
