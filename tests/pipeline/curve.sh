#!/usr/bin/env bash
# CURVE end to end (issue 2, test 3): an agent whose key is in the broker's allowed
# directory gets its records into the datafile, stored under the id of its key; an agent
# with an unknown key, running at the same time, gets nothing in.
. "$(dirname "$0")/lib.sh"

K=$T/keys
mkdir -p "$K/allowed"
"$BIN/l3-keygen" broker --dir "$K" >/dev/null || fail "keygen broker"
known_id=$("$BIN/l3-keygen" known --dir "$K" | awk '/agent id:/ {print $3}')
stranger_id=$("$BIN/l3-keygen" stranger --dir "$K" | awk '/agent id:/ {print $3}')
[ ${#known_id} -eq 64 ] && [ ${#stranger_id} -eq 64 ] || fail "keygen printed no agent ids"
cp "$K/known.pub" "$K/allowed/"

W=$(free_port); WA=$(free_port); B=$(free_port); BA=$(free_port)
common() {
  cat <<CFG
writer
    backend_datafile = "$T/datafile.xml"
    bind = "tcp://127.0.0.1:$W"
    ack_bind = "tcp://127.0.0.1:$WA"
broker
    curve = 1
    server_cert = "$K/broker.key"
    allowed_keys = "$K/allowed"
    backend_address = "127.0.0.1"
    backend_port = $B
    ack_port = $BA
    capture_port = 0
    writer_endpoint = "tcp://127.0.0.1:$W"
    writer_ack_endpoint = "tcp://127.0.0.1:$WA"
agent
    curve = 1
    brokers = "tcp://127.0.0.1:$B"
    acks = "tcp://127.0.0.1:$BA"
    broker_cert = "$K/broker.pub"
    ack_timeout_ms = 1000
    cert = "$K/$1.key"
CFG
}
common known >"$T/known.cfg"
common stranger >"$T/stranger.cfg"

start writer "$BIN/l3-writer" -c "$T/known.cfg"
wait_for 20 "writer listening" listening "$W"
start broker "$BIN/l3-broker" -c "$T/known.cfg"
wait_for 20 "broker listening" listening "$B"

start stranger "$BIN/l3-loadgen" -c "$T/stranger.cfg" --records 50 --outbox "$T/ob-stranger" --timeout 6
start known "$BIN/l3-loadgen" -c "$T/known.cfg" --records 200 --outbox "$T/ob-known" --timeout 60
wait "$known_PID" || fail "the agent with an allowed key did not get its records acknowledged"
wait "$stranger_PID" && fail "the agent with an unknown key had its records acknowledged"

check_exactly_once "$T/datafile.xml" 1 201 || fail "datafile does not hold the known agent's 201 records exactly once"
grep -q " agent=\"$known_id\"" "$T/datafile.xml" || fail "records not stored under the key's id $known_id"
grep -q "$stranger_id" "$T/datafile.xml" && fail "a record of the unknown key reached the datafile"
grep -qi "stranger\|unknown\|denied\|not allowed\|refused" "$T/broker.log" \
  || fail "the broker did not log the refused key"
schema_valid "$T/datafile.xml" || fail "schema"
echo "PASS: allowed key stored as $known_id; unknown key got nothing in"
