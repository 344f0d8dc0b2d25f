#!/usr/bin/env bash
# Rotation with the whole pipeline (issue 10): a real agent (l3-loadgen over its outbox),
# broker, writer with a small writer/rotate_bytes, and render following the writer's
# commits while it rotates. Then, through the real l3-cgi:
#   - every record is once across the parts, and every part is valid;
#   - render shows every command of every part, closed ones included, each under its id
#     (ids count from the first command ever: loadgen's command K is "echo loadgen K");
#   - a search finds the commands of closed parts, and exactly those that match;
#   - the ids and what they show are the same after a restart of render;
#   - a part removed (as retention removes it) is gone from the journal, its ids answer
#     410 "removed", and every other id still shows its command; rebuilt from the XML
#     alone (index files deleted), render numbers every command as before.
. "$(dirname "$0")/lib.sh"

RECORDS=3000
W=$(free_port); WA=$(free_port); B=$(free_port); BA=$(free_port)
cat >"$T/lilalo.cfg" <<CFG
writer
    backend_datafile = "$T/datafile.xml"
    bind = "tcp://127.0.0.1:$W"
    ack_bind = "tcp://127.0.0.1:$WA"
    rotate_bytes = 262144
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
    window = 500
render
    bind = "ipc://$T/render.sock"
    commits = "tcp://127.0.0.1:$WA"
    metrics = "$T/render.prom"
    metrics_ms = 100
    page_size = 1000
CFG

start writer "$BIN/l3-writer" -c "$T/lilalo.cfg"
wait_for 20 "writer listening" listening "$W"
start broker "$BIN/l3-broker" -c "$T/lilalo.cfg"
wait_for 20 "broker listening" listening "$B"
start render "$BIN/l3-render" -c "$T/lilalo.cfg"
wait_for 20 "render's metrics file" grep -q '^lilalo_render_up 1' "$T/render.prom"
start agent "$BIN/l3-loadgen" -c "$T/lilalo.cfg" --records "$RECORDS" --rate 2000 \
  --sessions 1 --agent-id rot-agent --outbox "$T/outbox" --timeout 120
wait "$agent_PID" || fail "l3-loadgen did not get every record acknowledged"

parts=("$T"/datafile.0*.xml)
[ "${#parts[@]}" -ge 3 ] || fail "the writer rotated only ${#parts[@]} times"
# Every record once, in the parts in order and then the live file.
cat "${parts[@]}" "$T/datafile.xml" >"$T/all.xml"
check_exactly_once "$T/all.xml" 1 $((RECORDS + 1)) || fail "a record lost or doubled across the parts"
for f in "${parts[@]}" "$T/datafile.xml"; do
  xmllint --noout --relaxng "$SRC/proto/lilalo.rng" "$f" 2>"$T/xmllint.log" ||
    fail "$f is not valid: $(head -3 "$T/xmllint.log")"
done
ncmd=$(grep -c '^<command ' "$T/all.xml")
grep -q "rotated it; part ${#parts[@]} is live now" "$T/render.log" ||
  fail "render did not follow the writer to part ${#parts[@]}"

# journal.py LABEL: every command render shows (ids and command lines, by the JSON API
# through l3-cgi) into $T/LABEL.ids, and checks them: consecutive, each "echo loadgen
# <id>", plus a search's answer against the same rule.
journal() {
  L3_CONFIG="$T/lilalo.cfg" BIN="$BIN" python3 - "$T/$1.ids" <<'PY' || fail "journal check $1"
import json, os, subprocess, sys
def api(path, query):
    env = dict(os.environ, REQUEST_METHOD="GET", PATH_INFO=path, QUERY_STRING=query)
    out = subprocess.run([os.environ["BIN"] + "/l3-cgi"], env=env, capture_output=True).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    return int(head.split()[1]), body
def cmds(query):
    status, body = api("/api/commands", query)
    assert status == 200, (query, status, body[:200])
    return json.loads(body)
# Oldest first: the first command by a since= cursor below it, then page by page.
first = cmds("limit=1&since=0")["commands"]
status, zero = api("/api/cmd/0", "")
seen = [json.loads(zero)] if status == 200 else []
cursor = 0
while True:
    page = cmds("limit=1000&since=%d" % cursor)
    seen += page["commands"]
    if not page["commands"]:
        break
    cursor = page["next"]
ids = [c["id"] for c in seen]
bad = [c for c in seen if c["cmd"] != "echo loadgen %d" % c["id"]]
assert not bad, "ids that show another command: %s" % bad[:3]
assert ids == list(range(ids[0], ids[0] + len(ids))), "ids not consecutive"
# A search over every part: "loadgen 12" is in 12, 120-129, 1200-1299 (those kept).
hits = sorted(c["id"] for c in cmds("q=loadgen%2012&limit=1000")["commands"])
want = sorted(i for i in ids if str(i).startswith("12"))
assert hits == want, "search: %d hits, %d expected" % (len(hits), len(want))
open(sys.argv[1], "w").write("\n".join(map(str, ids)) + "\n")
print("%s: ids %d..%d, search %d hits" % (sys.argv[1], ids[0], ids[-1], len(hits)))
PY
}
cgi_status() { # cgi_status PATH: the HTTP status l3-cgi answers
  L3_CONFIG="$T/lilalo.cfg" REQUEST_METHOD=GET PATH_INFO=$1 QUERY_STRING= "$BIN/l3-cgi" 2>/dev/null |
    head -1 | awk '{print $2}'
}
answers() { [ "$(cgi_status "$1")" = "$2" ]; } # answers PATH STATUS
indexed() { grep -q "^lilalo_render_index_commands $1\$" "$T/render.prom"; }

wait_for 20 "render indexed all $ncmd commands" indexed "$ncmd"
journal live
[ "$(wc -l <"$T/live.ids")" -eq "$ncmd" ] || fail "render shows $(wc -l <"$T/live.ids") of $ncmd commands"
[ "$(head -1 "$T/live.ids")" -eq 0 ] || fail "the first id is not 0"

# A restart with its index file: the same ids, the same commands.
kill -TERM "$render_PID"; wait "$render_PID"
rm -f "$T/render.prom"
start render "$BIN/l3-render" -c "$T/lilalo.cfg"
wait_for 20 "render indexed all $ncmd commands after its restart" indexed "$ncmd"
journal restarted
cmp -s "$T/live.ids" "$T/restarted.ids" || fail "the ids changed with a restart"

# Retention removes the oldest part while render runs.
part0=$(grep -c '^<command ' "${parts[0]}")
rm -f "${parts[0]}"
wait_for 20 "/cmd/0 answering 410 once part 0 is gone" answers /cmd/0 410
[ "$(cgi_status /api/cmd/0)" = 410 ] || fail "/api/cmd/0 does not answer 410"
[ "$(cgi_status /api/cmd/$part0)" = 200 ] || fail "the first command of part 1 is not shown"
journal trimmed
tail -n +$((part0 + 1)) "$T/live.ids" | cmp -s - "$T/trimmed.ids" ||
  fail "after part 0 went, the journal does not show exactly the other commands under their ids"

# Rebuilt from the XML alone: the same ids (they count from part 1's commands-before).
kill -TERM "$render_PID"; wait "$render_PID"
rm -rf "$T/datafile.xml.idx"* "$T/render.prom"
start render "$BIN/l3-render" -c "$T/lilalo.cfg"
wait_for 20 "render indexed the kept commands" indexed $((ncmd - part0))
journal rebuilt
cmp -s "$T/trimmed.ids" "$T/rebuilt.ids" || fail "a rebuilt index numbers the commands differently"
[ "$(cgi_status /cmd/0)" = 410 ] || fail "/cmd/0 of a removed part does not answer 410 after a rebuild"
[ "$(cgi_status /cmd/$ncmd)" = 404 ] || fail "an id past the end does not answer 404"
! grep -q " error: " "$T/render.log" || fail "render logged an error: $(grep -m1 ' error: ' "$T/render.log")"
echo "ok: ${#parts[@]} rotations under load, every record once; render shows all $ncmd commands across the parts under stable ids, through a restart, a removed part and a rebuild"
