#!/usr/bin/env bash
# Hosts (issue 2, test 2): two agents, each in its own network namespace, joined by veth
# to a broker and writer in a third; both links go down for 10 s while the agents produce.
# Nothing lost, nothing doubled. CURVE on, as between real hosts. The namespaces and the
# 10.213.x addresses exist only inside this test; they are removed at the end.
. "$(dirname "$0")/lib.sh"

RECORDS=${RECORDS:-6000}
RATE=${RATE:-400}
tag=l3t$$
NS_B=${tag}b NS_1=${tag}a1 NS_2=${tag}a2

netns_cleanup() {
  for ns in "$NS_B" "$NS_1" "$NS_2"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
}
trap 'cleanup; netns_cleanup' EXIT

if [ "$(id -u)" -ne 0 ] || ! ip netns add "$NS_B" 2>/dev/null; then
  echo "SKIP: cannot create network namespaces here (needs root and CAP_SYS_ADMIN)"
  exit 77
fi
ip netns add "$NS_1" && ip netns add "$NS_2" || fail "ip netns add"
for ns in "$NS_B" "$NS_1" "$NS_2"; do ip -n "$ns" link set lo up; done
# veth pairs: agent i's end in its namespace, the broker's end in the broker's.
for i in 1 2; do
  ns_var="NS_$i"
  ip link add "${tag}h$i" netns "${!ns_var}" type veth peer name "${tag}b$i" netns "$NS_B" \
    || fail "ip link add veth"
  ip -n "${!ns_var}" addr add "10.213.$i.1/24" dev "${tag}h$i"
  ip -n "$NS_B" addr add "10.213.$i.2/24" dev "${tag}b$i"
  ip -n "${!ns_var}" link set "${tag}h$i" up
  ip -n "$NS_B" link set "${tag}b$i" up
done
ip -n "$NS_1" route get 10.213.1.2 >/dev/null || fail "no route from agent 1 to the broker"

K=$T/keys
mkdir -p "$K/allowed"
"$BIN/l3-keygen" broker --dir "$K" >/dev/null || fail keygen
for i in 1 2; do
  "$BIN/l3-keygen" "agent$i" --dir "$K" >/dev/null || fail keygen
  cp "$K/agent$i.pub" "$K/allowed/"
done

W=$(free_port); WA=$(free_port); B=$(free_port); BA=$(free_port)
cat >"$T/broker.cfg" <<CFG
writer
    backend_datafile = "$T/datafile.xml"
    bind = "tcp://127.0.0.1:$W"
    ack_bind = "tcp://127.0.0.1:$WA"
broker
    curve = 1
    server_cert = "$K/broker.key"
    allowed_keys = "$K/allowed"
    backend_address = "*"
    backend_port = $B
    ack_port = $BA
    capture_port = 0
    writer_endpoint = "tcp://127.0.0.1:$W"
    writer_ack_endpoint = "tcp://127.0.0.1:$WA"
CFG
for i in 1 2; do
  cat >"$T/agent$i.cfg" <<CFG
agent
    curve = 1
    cert = "$K/agent$i.key"
    broker_cert = "$K/broker.pub"
    brokers = "tcp://10.213.$i.2:$B"
    acks = "tcp://10.213.$i.2:$BA"
    ack_timeout_ms = 1000
CFG
done

in_b() { ip netns exec "$NS_B" "$@"; }
start writer ip netns exec "$NS_B" "$BIN/l3-writer" -c "$T/broker.cfg"
wait_for 20 "writer listening" in_b bash -c "exec 2>/dev/null; exec 3<>/dev/tcp/127.0.0.1/$W"
start broker ip netns exec "$NS_B" "$BIN/l3-broker" -c "$T/broker.cfg"
wait_for 20 "broker listening" in_b bash -c "exec 2>/dev/null; exec 3<>/dev/tcp/127.0.0.1/$B"

start agent1 ip netns exec "$NS_1" "$BIN/l3-loadgen" -c "$T/agent1.cfg" --records "$RECORDS" \
  --rate "$RATE" --outbox "$T/ob1" --timeout 120
start agent2 ip netns exec "$NS_2" "$BIN/l3-loadgen" -c "$T/agent2.cfg" --records "$RECORDS" \
  --rate "$RATE" --outbox "$T/ob2" --timeout 120

wait_for 30 "records from both hosts" more_records_than "$T/datafile.xml" 500
echo "links down at $(record_lines "$T/datafile.xml") records"
ip -n "$NS_B" link set "${tag}b1" down
ip -n "$NS_B" link set "${tag}b2" down
sleep 10   # the outage itself; the agents keep producing meanwhile
held=$(record_lines "$T/datafile.xml")
ip -n "$NS_B" link set "${tag}b1" up
ip -n "$NS_B" link set "${tag}b2" up
echo "links up at $held records"

wait "$agent1_PID" || fail "agent 1 did not get every record acknowledged"
wait "$agent2_PID" || fail "agent 2 did not get every record acknowledged"
[ "$held" -lt $((2 * (RECORDS + 1))) ] || fail "the outage came too late to test anything"
check_exactly_once "$T/datafile.xml" 2 $((RECORDS + 1)) || fail "datafile is not exactly once"
schema_valid "$T/datafile.xml" || fail "schema"
echo "PASS: 2 hosts x $((RECORDS + 1)) records exactly once across a 10 s link outage"
