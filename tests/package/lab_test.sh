#!/bin/bash
# lab_test.sh BUILD_DIR — a lab from the Debian packages (issue 9): built with `make
# package`, installed with dpkg on this machine, then, from the installed files only:
#   - a "server" network namespace runs l3-writer, l3-broker and l3-render as the account
#     lilalo with the keys the packages made, and lighttpd with the installed snippet
#     serving the installed l3-cgi and assets;
#   - three "hosts", each in its own namespace joined to the server by a veth pair, are
#     enrolled as an admin would (docs/operations.md): `l3-agent --enrol` on the host,
#     `l3-hosts approve` on the server; each records a real bash session under l3-rec
#     with the installed shell integration, and its agent sends it;
#   - the journal, through the web server, shows all three hosts' commands;
#   - a second key asking for a host name already taken is not approved, and a key
#     approved for one name whose records claim another host's is refused;
#   - `l3-hosts remove` cuts a host off at once: its next session is not stored.
# Root only, skipped beside a real installation (as package_test.sh). The namespaces and
# the 10.214.x addresses exist only inside this test.
set -u
B=$(cd "${1:?usage: lab_test.sh BUILD_DIR}" && pwd)
S=${L3_SOURCE_DIR:?}
. "$(dirname "$0")/lib.sh"
tag=l3lab$$
NS_S=${tag}s
fail() { echo "FAIL: $*" >&2; [[ -n ${T-} ]] && for f in "$T"/*.log; do [[ -f $f ]] && { echo "--- $f" >&2; tail -15 "$f" >&2; }; done; exit 1; }
ok() { echo "ok: $*"; }
# wait_for SECONDS WHAT COMMAND...: poll every 50 ms until COMMAND succeeds.
wait_for() {
    local secs=$1 what=$2 deadline
    shift 2
    deadline=$((SECONDS + secs))
    until "$@"; do
        ((SECONDS < deadline)) || fail "timed out after ${secs}s waiting for: $what"
        sleep 0.05
    done
}

needs_clean_machine
command -v lighttpd >/dev/null && command -v curl >/dev/null || skip "no lighttpd or curl"
ip netns add "$NS_S" 2>/dev/null || skip "cannot create network namespaces here"

T=$(mktemp -d /tmp/l3-lab.XXXXXX)
chmod 0755 "$T"   # the server's daemons run as lilalo and reach their files here
PIDS=()
cleanup() {
    local pid ns
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    for ns in "$NS_S" ${tag}h1 ${tag}h2 ${tag}h3; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    dpkg -P "${PKGS[@]}" >/dev/null 2>&1
    [[ -n ${L3_TEST_KEEP-} ]] || rm -rf "$T"
}
trap cleanup EXIT
# start NAME COMMAND...: in the background, output to $T/NAME.log.
start() {
    local name=$1
    shift
    "$@" >>"$T/$name.log" 2>&1 &
    PIDS+=($!)
}

# --- the packages, installed ---------------------------------------------------------------
make -C "$S" package BUILD="$B" PKG_BUILD="$S/build-pkg" >"$T/make.log" 2>&1 || fail "make package failed"
debs=()
for p in "${PKGS[@]}"; do debs+=("$(ls "$B"/packages/"${p}"_*.deb | head -1)"); done
dpkg -i "${debs[@]}" >"$T/dpkg.log" 2>&1 || fail "dpkg -i failed"
ok "packages built and installed"

# --- the network: a server and three hosts -------------------------------------------------
ip -n "$NS_S" link set lo up
for i in 1 2 3; do
    ns=${tag}h$i
    ip netns add "$ns" || fail "ip netns add $ns"
    ip -n "$ns" link set lo up
    ip link add "${tag}h$i" netns "$ns" type veth peer name "${tag}s$i" netns "$NS_S" || fail "veth"
    ip -n "$ns" addr add "10.214.$i.1/24" dev "${tag}h$i"
    ip -n "$NS_S" addr add "10.214.$i.2/24" dev "${tag}s$i"
    ip -n "$ns" link set "${tag}h$i" up
    ip -n "$NS_S" link set "${tag}s$i" up
done
in_s() { ip netns exec "$NS_S" "$@"; }
as_lilalo() { ip netns exec "$NS_S" runuser -u lilalo -- "$@"; }

# --- the server: the installed programs and keys, a config of the lab's own ----------------
mkdir -p "$T/run" "$T/http" && chown lilalo:lilalo "$T/run"
cat >"$T/server.cfg" <<CFG
writer
    backend_datafile = "/var/lib/lilalo/datafile.xml"
    metrics = "/var/lib/lilalo/metrics/writer.prom"
    metrics_ms = 200
broker
    backend_address = "*"
    enrol_port = 5673
    metrics = "/var/lib/lilalo/metrics/broker.prom"
    metrics_ms = 200
render
    metrics = "/var/lib/lilalo/metrics/render.prom"
    metrics_ms = 200
    bind = "ipc://$T/run/render.sock"
    web_users = "root"
CFG
chmod 0644 "$T/server.cfg"
start writer as_lilalo /usr/bin/l3-writer -c "$T/server.cfg"
start broker as_lilalo /usr/bin/l3-broker -c "$T/server.cfg"
start render as_lilalo /usr/bin/l3-render -c "$T/server.cfg"
listening() { in_s bash -c "exec 2>/dev/null; exec 3<>/dev/tcp/127.0.0.1/$1"; }
wait_for 20 "writer listening" listening 5680
wait_for 20 "broker listening" listening 5670
wait_for 20 "enrolment socket listening" listening 5673
wait_for 20 "render's socket" test -S "$T/run/render.sock"
PORT=8213
start lighttpd env L3_HTTP_PORT=$PORT L3_WWW=/usr/share/lilalo/www L3_CGI=/usr/libexec/lilalo/l3-cgi \
    L3_RENDER="ipc://$T/run/render.sock" L3_HTTP_STATE="$T/http" \
    ip netns exec "$NS_S" lighttpd -D -f /usr/share/lilalo/lighttpd/lilalo.conf
wait_for 20 "lighttpd listening" listening $PORT
page() { in_s curl -fsS --max-time 10 "http://127.0.0.1:$PORT$1"; }
ok "server: writer, broker, render and lighttpd from the installed files"

# --- enrol the hosts, as docs/operations.md says --------------------------------------------
BROKER_KEY=$(sed -n 's/^ *public-key = "\(.*\)"$/\1/p' /etc/lilalo/broker.pub)
[[ ${#BROKER_KEY} == 40 ]] || fail "no public key in /etc/lilalo/broker.pub"
hostcfg() { # NAME DIR ADDR-INDEX CLAIMED-HOST: an agent config of a host
    mkdir -p "$2/spool"
    cat >"$2/agent.cfg" <<CFG
agent
    host = "$4"
    spool = "$2/spool"
    state = "$2/state"
    outbox = "$2/outbox"
    cert = "$2/agent.key"
    broker_cert = "$2/broker.pub"
    brokers = "tcp://10.214.$3.2:5670"
    acks = "tcp://10.214.$3.2:5671"
    ack_timeout_ms = 1000
    scan_ms = 200
    metrics = "$2/agent.prom"
    metrics_ms = 200
rec
    spool = "$2/spool"
CFG
}
enrol() { # NS DIR HOST: l3-agent --enrol on the host
    ip netns exec "$1" /usr/bin/l3-agent --enrol -c "$2/agent.cfg" --broker-key "$BROKER_KEY" \
        --host "$3" >"$2/enrol.out" 2>&1
}
for i in 1 2 3; do
    hostcfg "h$i" "$T/h$i" $i "labhost$i"
    enrol ${tag}h$i "$T/h$i" "labhost$i" || { cat "$T/h$i/enrol.out" >&2; fail "enrol of labhost$i failed"; }
done
/usr/bin/l3-hosts -c "$T/server.cfg" list >"$T/pending.txt" 2>&1 || fail "l3-hosts list failed: $(cat "$T/pending.txt")"
for i in 1 2 3; do grep -q "labhost$i" "$T/pending.txt" || fail "labhost$i is not pending: $(cat "$T/pending.txt")"; done
for i in 1 2 3; do
    /usr/bin/l3-hosts -c "$T/server.cfg" approve "labhost$i" >"$T/approve$i.out" 2>&1 ||
        fail "approve labhost$i: $(cat "$T/approve$i.out")"
done
ok "three hosts enrolled: l3-agent --enrol on each, l3-hosts approve on the server"

# --- each host records a real bash session and sends it ------------------------------------
session() { # NS DIR TEXT: a real bash under the installed l3-rec, typed from a file
    printf 'echo %s-$((6*7))\nexit\n' "$3" >"$2/typed"
    (cd / && ip netns exec "$1" env -i PATH=/usr/bin:/bin HOME="$2" TERM=dumb SHELL=/bin/bash \
        /usr/bin/l3-rec -c "$2/agent.cfg" <"$2/typed" >>"$2/rec.out" 2>&1)
}
for i in 1 2 3; do
    start agent$i ip netns exec ${tag}h$i /usr/bin/l3-agent -c "$T/h$i/agent.cfg"
    session ${tag}h$i "$T/h$i" "lab$i" || fail "l3-rec on labhost$i failed: $(tail -3 "$T/h$i/rec.out")"
done
stored() { grep -q "$1" /var/lib/lilalo/datafile.xml 2>/dev/null; }
for i in 1 2 3; do wait_for 30 "labhost$i's command in the datafile" stored "lab$i-42"; done
grep -c ' host="labhost[123]"' /var/lib/lilalo/datafile.xml >/dev/null || fail "records without their hosts"
ok "each host's session stored"

in_journal() { page "/journal/journal?q=$1" 2>/dev/null | grep -q "$1"; }
for i in 1 2 3; do wait_for 20 "labhost$i's command in the journal" in_journal "lab$i-42"; done
front=$(page /journal/) || fail "the journal's front page"
for i in 1 2 3; do grep -q "labhost$i" <<<"$front" || fail "labhost$i is not on the journal's front page"; done
ok "the journal, through lighttpd and the installed l3-cgi, shows all three hosts"

# --- health: the metrics files show the records, --status the host's view -----------------
value() { awk -v n="lilalo_$2" '$1 == n { print $2 }' "$1" 2>/dev/null; }
at_least() { local v; v=$(value "$1" "$2"); [[ -n $v ]] && awk -v v="$v" -v w="$3" 'BEGIN { exit !(v >= w) }'; }
n=0
for i in 1 2 3; do
    wait_for 20 "labhost$i's agent metrics: nothing waiting" at_least "$T/h$i/agent.prom" agent_ack_latency_seconds_count 3
    n=$((n + $(value "$T/h$i/agent.prom" agent_records_total)))
done
M=/var/lib/lilalo/metrics
wait_for 20 "the writer's metrics count every record" at_least $M/writer.prom writer_records_written_total $n
wait_for 20 "the broker's metrics count every record" at_least $M/broker.prom broker_records_forwarded_total $n
wait_for 20 "render's metrics count the commands" at_least $M/render.prom render_index_commands 3
ip netns exec ${tag}h1 /usr/bin/l3-agent --status -c "$T/h1/agent.cfg" >"$T/status.out" 2>&1 ||
    fail "l3-agent --status on labhost1: $(cat "$T/status.out")"
grep -q '^agent: running' "$T/status.out" || fail "--status: $(cat "$T/status.out")"
ok "metrics: $n records from the three agents, forwarded by the broker, written by the writer; l3-agent --status: running"

# --- identity: one name, one key ------------------------------------------------------------
hostcfg imp "$T/imp" 3 labhost1
enrol ${tag}h3 "$T/imp" labhost1 || fail "enrol of a second key for labhost1 failed to send"
if /usr/bin/l3-hosts -c "$T/server.cfg" approve labhost1 >"$T/approve-dup.out" 2>&1; then
    fail "a second key was approved for labhost1"
fi
ok "a second key for a taken host name is not approved: $(head -1 "$T/approve-dup.out")"
/usr/bin/l3-hosts -c "$T/server.cfg" remove "$(sed -n 's/.*agent id \([0-9a-f]*\).*/\1/p' "$T/imp/enrol.out" | head -1)" >/dev/null 2>&1
hostcfg liar "$T/liar" 3 labhost1       # its records will claim labhost1
enrol ${tag}h3 "$T/liar" labhost4 || fail "enrol of labhost4 failed"
/usr/bin/l3-hosts -c "$T/server.cfg" approve labhost4 >/dev/null 2>&1 || fail "approve labhost4"
start liar ip netns exec ${tag}h3 /usr/bin/l3-agent -c "$T/liar/agent.cfg"
session ${tag}h3 "$T/liar" forged
# A control: a later session of labhost1 itself is stored, so the pipeline ran past the
# forged one.
session ${tag}h1 "$T/h1" control1
wait_for 30 "labhost1's later command in the datafile" stored "control1-42"
refused() { grep -q 'record claims host "labhost1", but its key (labhost4.pub)' "$T/broker.log"; }
wait_for 30 "the broker refusing records that claim labhost1" refused
! stored "forged-42" || fail "a record claiming another host's name was stored"
ok "records claiming another host than their key's are refused"

# --- removing a host cuts it off at once -----------------------------------------------------
id2=$(sed -n 's/.*agent id \([0-9a-f]\{64\}\).*/\1/p' "$T/h2/enrol.out" | head -1)
[[ -n $id2 ]] || fail "l3-agent --enrol printed no agent id: $(cat "$T/h2/enrol.out")"
/usr/bin/l3-hosts -c "$T/server.cfg" remove labhost2 >"$T/remove.out" 2>&1 || fail "remove labhost2: $(cat "$T/remove.out")"
closed() { grep -q "closed the records connection of agent $id2: its key is no longer in allowed_keys" "$T/broker.log"; }
wait_for 10 "the broker closing labhost2's connection" closed
session ${tag}h2 "$T/h2" after-removal
session ${tag}h1 "$T/h1" control2
wait_for 30 "labhost1's later command in the datafile" stored "control2-42"
cut_off() { grep -q "refused agent $id2 .*not in allowed_keys\|($id2, [0-9]* bytes): its key is no longer" "$T/broker.log"; }
wait_for 30 "the broker refusing labhost2's key" cut_off
! stored "after-removal-42" || fail "a removed host's record was stored"
ok "l3-hosts remove: the connection is closed at once, the host's next session is not stored"
echo "PASS lab"
