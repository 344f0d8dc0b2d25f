#!/usr/bin/env bash
# Exactly once under faults (issue 2, test 1): 3 agents x 20,000 records through a real
# broker to a real writer, while the writer is killed -9 three times and the broker three
# times at random moments, and the broker is then down for 10 s with the agents still
# producing. At the end: every record is in the datafile exactly once, the datafile is
# valid against proto/lilalo.rng, and every outbox is empty.
. "$(dirname "$0")/lib.sh"

AGENTS=${AGENTS:-3}
RECORDS=${RECORDS:-20000}
RATE=${RATE:-1500}          # per agent; the run lasts ~RECORDS/RATE s, long enough for the faults
W=$(free_port); WA=$(free_port); B=$(free_port); BA=$(free_port)
cat >"$T/lilalo.cfg" <<CFG
writer
    backend_datafile = "$T/datafile.xml"
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
    window = 1000
    ack_timeout_ms = 1000
CFG

start_writer() {
  start writer "$BIN/l3-writer" -c "$T/lilalo.cfg"
  wait_for 20 "writer listening" listening "$W"
}
start_broker() {
  start broker "$BIN/l3-broker" -c "$T/lilalo.cfg"
  wait_for 20 "broker listening" listening "$B"
}
kill9() {
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}
# A random pause between faults, 0.2-1.2 s: the faults must land at arbitrary moments
# of the stream (this is the fault schedule, not a wait for something to happen).
pause_random() { sleep "0.$((RANDOM % 10 + 2))"; }

start_writer
start_broker
LOADGEN_PIDS=()
for i in $(seq 1 "$AGENTS"); do
  start "agent$i" "$BIN/l3-loadgen" -c "$T/lilalo.cfg" --records "$RECORDS" --rate "$RATE" \
    --sessions 1 --agent-id "agent-$i" --outbox "$T/outbox-$i" --timeout 240
  pid_var="agent${i}_PID"
  LOADGEN_PIDS+=("${!pid_var}")
done

# Records must be flowing before the first fault, or the faults test nothing.
wait_for 30 "first records in the datafile" more_records_than "$T/datafile.xml" 100

for round in 1 2 3; do
  pause_random
  echo "fault: kill -9 writer (round $round) at $(record_lines "$T/datafile.xml") records"
  kill9 "$writer_PID"
  start_writer
  pause_random
  echo "fault: kill -9 broker (round $round) at $(record_lines "$T/datafile.xml") records"
  kill9 "$broker_PID"
  start_broker
done
pause_random
before=$(record_lines "$T/datafile.xml")
echo "fault: broker down for 10 s at $before records"
kill9 "$broker_PID"
sleep 10   # the outage itself: agents keep producing into their outboxes meanwhile
after=$(record_lines "$T/datafile.xml")
[ "$after" -eq "$before" ] || echo "note: $((after - before)) records were in flight to the writer when the broker died"
start_broker

for i in $(seq 1 "$AGENTS"); do
  pid=${LOADGEN_PIDS[$((i - 1))]}
  wait "$pid" || fail "l3-loadgen agent-$i did not get every record acknowledged (exit $?)"
done
echo "all agents acknowledged; checking the datafile"

# The writer acks only after fdatasync, so everything is in the file now.
check_exactly_once "$T/datafile.xml" "$AGENTS" $((RECORDS + 1)) || fail "datafile is not exactly once"
schema_valid "$T/datafile.xml" || fail "datafile does not validate against lilalo.rng"
for i in $(seq 1 "$AGENTS"); do
  status=$("$BIN/../tests/outbox_status" "$T/outbox-$i" "agent-$i") || fail "cannot open outbox $i"
  [[ $status == pending=0\ * ]] || fail "outbox of agent-$i not empty: $status"
done
echo "PASS: $AGENTS x $((RECORDS + 1)) records exactly once after 3 writer kills, 3 broker kills and a 10 s outage"
