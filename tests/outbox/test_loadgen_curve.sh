#!/usr/bin/env bash
# test_loadgen_curve — the sender over CURVE: the real l3-loadgen with an agent key the
# broker allows gets every record acknowledged, and the datafile names the agent by the
# hex of its public key; an agent whose key is not allowed gets nothing through.
set -euo pipefail
BIN=${L3_BIN_DIR:?L3_BIN_DIR not set}
TMP=$(mktemp -d /tmp/l3-test-loadgen-curve.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -n 20 "$TMP"/*.log >&2 || true; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/../ports.sh"
until_true() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@"; do
    (( $(date +%s) < deadline )) || return 1
    sleep 0.02
  done
}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

mkdir -m 0700 "$TMP/keys" "$TMP/allowed"
"$BIN/l3-keygen" broker --dir "$TMP/keys" >/dev/null
good_id=$("$BIN/l3-keygen" good --dir "$TMP/keys" | grep -o '[0-9a-f]\{64\}' | head -1)
"$BIN/l3-keygen" bad --dir "$TMP/keys" >/dev/null
cp "$TMP/keys/good.pub" "$TMP/allowed/"
[[ ${#good_id} == 64 ]] || fail "l3-keygen printed no agent id"

W=$(free_port); WA=$(free_port); B=$(free_port); BA=$(free_port)
common() {
  cat <<EOF
writer
    backend_datafile = "$TMP/datafile.xml"
    bind = "tcp://127.0.0.1:$W"
    ack_bind = "tcp://127.0.0.1:$WA"
broker
    curve = 1
    server_cert = "$TMP/keys/broker.key"
    allowed_keys = "$TMP/allowed"
    backend_address = "127.0.0.1"
    backend_port = $B
    ack_port = $BA
    capture_port = 0
    writer_endpoint = "tcp://127.0.0.1:$W"
    writer_ack_endpoint = "tcp://127.0.0.1:$WA"
agent
    curve = 1
    cert = "$TMP/keys/$1.key"
    broker_cert = "$TMP/keys/broker.pub"
    brokers = "tcp://127.0.0.1:$B"
    acks = "tcp://127.0.0.1:$BA"
    window = 100
    ack_timeout_ms = 500
EOF
}
common good >"$TMP/good.cfg"
common bad >"$TMP/bad.cfg"

"$BIN/l3-writer" -c "$TMP/good.cfg" 2>>"$TMP/writer.log" & PIDS+=($!)
"$BIN/l3-broker" -c "$TMP/good.cfg" 2>>"$TMP/broker.log" & PIDS+=($!)
until_true 10 listening "$W" || fail "writer does not listen"
until_true 10 listening "$B" || fail "broker does not listen"

"$BIN/l3-loadgen" -c "$TMP/good.cfg" --records 500 --outbox "$TMP/outbox-good" --timeout 30 \
  >"$TMP/good.out" 2>"$TMP/good.log" || fail "allowed agent: $(cat "$TMP/good.out" "$TMP/good.log")"
grep -q "agent=$good_id .* acked=500 " "$TMP/good.out" || fail "allowed agent: $(cat "$TMP/good.out")"

if "$BIN/l3-loadgen" -c "$TMP/bad.cfg" --records 50 --outbox "$TMP/outbox-bad" --timeout 3 \
  >"$TMP/bad.out" 2>"$TMP/bad.log"; then
  fail "an agent whose key is not allowed got its records acknowledged"
fi
grep -q " acked=0 " "$TMP/bad.out" || fail "refused agent: $(cat "$TMP/bad.out")"
grep -q "handshake with .* failed (authentication" "$TMP/bad.log" || fail "refused agent did not say why: $(cat "$TMP/bad.log")"

n=$(grep -c "<command agent=\"$good_id\"" "$TMP/datafile.xml" || true)
others=$(grep -c '<command agent=' "$TMP/datafile.xml" || true)
[[ $n == 500 && $others == 500 ]] || fail "datafile: $n commands of the allowed agent, $others in all; want 500 and 500"
echo "ok: CURVE agent $good_id: 500 records acknowledged and stored; unknown key refused"
