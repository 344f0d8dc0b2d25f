#!/usr/bin/env bash
# test_loadgen_restart — the real l3-loadgen (outbox + sender) against the real l3-broker
# and l3-writer, plaintext on random loopback ports. While records flow, the broker is
# killed (-9) and restarted after records have piled up in the outbox, then the writer is
# killed (-9) and restarted. l3-loadgen must end with every record acknowledged, and the
# datafile must hold every command record exactly once.
set -euo pipefail
BIN=${L3_BIN_DIR:?L3_BIN_DIR not set}
N=${N:-3000}
TMP=$(mktemp -d /tmp/l3-test-loadgen-restart.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
[[ -n ${KEEP:-} ]] && trap - EXIT
fail() { echo "FAIL: $*" >&2; tail -n 20 "$TMP"/*.log >&2 || true; exit 1; }

. "$(dirname "${BASH_SOURCE[0]}")/../ports.sh"
# until DEADLINE_S CMD...: poll a condition every 20 ms.
until_true() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@"; do
    (( $(date +%s) < deadline )) || return 1
    sleep 0.02
  done
}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
outbox_bytes() { du -sb "$TMP/outbox" 2>/dev/null | cut -f1; }
# Conditions are functions, so until_true re-evaluates them on every try.
datafile_past() { (( $(size_of "$TMP/datafile.xml") > $1 )); }
outbox_past() { (( $(outbox_bytes) > $1 )); }

W=$(free_port); WA=$(free_port); B=$(free_port); BA=$(free_port)
cat >"$TMP/lilalo.cfg" <<EOF
writer
    backend_datafile = "$TMP/datafile.xml"
    bind = "tcp://127.0.0.1:$W"
    ack_bind = "tcp://127.0.0.1:$WA"
broker
    curve = 0
    backend_address = "127.0.0.1"
    backend_port = $B
    ack_port = $BA
    capture_port = 0
    writer_endpoint = "tcp://127.0.0.1:$W"
    writer_ack_endpoint = "tcp://127.0.0.1:$WA"
agent
    curve = 0
    brokers = "tcp://127.0.0.1:$B"
    acks = "tcp://127.0.0.1:$BA"
    window = 200
    ack_timeout_ms = 500
EOF

start_writer() { "$BIN/l3-writer" -c "$TMP/lilalo.cfg" 2>>"$TMP/writer.log" & WRITER=$!; PIDS+=("$WRITER"); }
start_broker() { "$BIN/l3-broker" -c "$TMP/lilalo.cfg" 2>>"$TMP/broker.log" & BROKER=$!; PIDS+=("$BROKER"); }
start_writer
start_broker
until_true 10 listening "$W" || fail "writer does not listen"
until_true 10 listening "$B" || fail "broker does not listen"

"$BIN/l3-loadgen" -c "$TMP/lilalo.cfg" --records "$N" --rate 1500 --sessions 3 \
  --agent-id restart-agent --outbox "$TMP/outbox" --timeout 50 \
  >"$TMP/loadgen.out" 2>"$TMP/loadgen.log" &
LOADGEN=$!; PIDS+=("$LOADGEN")

# 1. Records reach the datafile; then the broker dies.
until_true 20 datafile_past 20000 || fail "no records arrive"
kill -9 "$BROKER"; wait "$BROKER" 2>/dev/null || true
# 2. The outbox grows while nobody acknowledges (about 100 KB more); the broker returns.
base=$(outbox_bytes)
until_true 20 outbox_past $((base + 100000)) || fail "outbox does not grow"
start_broker
until_true 10 listening "$B" || fail "broker does not come back"
# 3. The writer dies mid-stream and comes back on the same datafile.
now=$(size_of "$TMP/datafile.xml")
until_true 20 datafile_past $((now + 20000)) || fail "no records after the broker restart"
kill -9 "$WRITER"; wait "$WRITER" 2>/dev/null || true
start_writer
until_true 10 listening "$W" || fail "writer does not come back"

wait "$LOADGEN" || fail "l3-loadgen did not get every record acknowledged: $(cat "$TMP/loadgen.out" "$TMP/loadgen.log")"
cat "$TMP/loadgen.out"
grep -q " acked=$N " "$TMP/loadgen.out" || fail "acked count"

kill "$WRITER"; wait "$WRITER" 2>/dev/null || true
all=$(grep -o '<command agent="restart-agent" epoch="[0-9]*" seq="[0-9]*"' "$TMP/datafile.xml" | wc -l)
uniq=$(grep -o '<command agent="restart-agent" epoch="[0-9]*" seq="[0-9]*"' "$TMP/datafile.xml" | sort -u | wc -l)
sessions=$(grep -c '<session agent="restart-agent"' "$TMP/datafile.xml" || true)
[[ $all == "$N" && $uniq == "$N" ]] || fail "datafile holds $all command records ($uniq distinct), want $N exactly once"
[[ $sessions == 3 ]] || fail "datafile holds $sessions session records, want 3"
echo "ok: $N records through a broker kill and a writer kill, each stored once"
