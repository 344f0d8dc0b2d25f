#!/usr/bin/env bash
# demo_test — the README's first command (`make run` = scripts/demo start) does what the
# README says: the whole system starts on this machine, a demo session typed into a real
# bash under l3-rec reaches the journal, the journal page served by lighttpd + l3-cgi
# shows its commands, `status` names every daemon, `stop` ends them all, and `start`
# again restarts on the same datafile. Runs the script itself, in a temp state directory
# (L3_RUN_DIR) with its own tmux socket and a free HTTP port, so a user's own `make run`
# is not touched. Usage: demo_test.sh BUILD_DIR
set -uo pipefail
BUILD=$(cd "${1:?usage: demo_test.sh BUILD_DIR}" && pwd)
SRC=${L3_SOURCE_DIR:?set L3_SOURCE_DIR}
. "$SRC/tests/ports.sh"
T=$(mktemp -d /tmp/l3-demo-test.XXXXXX)
export L3_RUN_DIR=$T/run L3_DEMO_TMUX=l3-demo-test-$$ L3_HTTP_PORT=$(free_port)
DEMO=("$SRC/scripts/demo")
cleanup() {
  "${DEMO[@]}" stop "$BUILD" >/dev/null 2>&1
  rm -rf "$T"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  tail -n 5 "$L3_RUN_DIR"/log/*.log >&2 2>/dev/null
  exit 1
}
url=http://127.0.0.1:$L3_HTTP_PORT/journal/

# 1. start: returns once the demo's commands are in the datafile; prints the URL.
"${DEMO[@]}" start "$BUILD" >"$T/start.out" 2>&1 || { cat "$T/start.out" >&2; fail "start failed"; }
grep -qF "$url" "$T/start.out" || fail "start did not print the journal's URL: $(cat "$T/start.out")"
pids=()
for d in l3-writer l3-broker l3-render l3-agent lighttpd; do
  p=$(cat "$L3_RUN_DIR/pids/$d" 2>/dev/null) || fail "no pid file for $d"
  kill -0 "$p" 2>/dev/null || fail "$d (pid $p) is not running"
  pids+=("$p")
done
"${DEMO[@]}" status "$BUILD" >"$T/status.out"
[[ $(grep -c ': running (pid' "$T/status.out") == 5 ]] || fail "status: $(cat "$T/status.out")"
echo "ok: start: five daemons running, demo session recorded"

# 2. The journal shows the session as typed (a Cyrillic line, a failed command, the note).
curl -sf "$url" -o "$T/index.html" || fail "GET $url failed"
grep -q 'Hosts' "$T/index.html" || fail "the index page at $url lists no hosts"
curl -sf "${url}journal" -o "$T/journal.html" || fail "GET ${url}journal failed"
# The page's text as a reader sees it (words of a command line are links).
python3 -c '
import html.parser, sys
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.out = []
    def handle_data(self, d): self.out.append(d)
p = P(); p.feed(open(sys.argv[1], encoding="utf-8").read()); print("".join(p.out))' \
  "$T/journal.html" >"$T/journal.txt"
for text in 'uname -sr' 'Привет, журнал!' 'nosuchcommand --help' 'lab 1: looking around the system' \
            "grep -c '' passwd"; do
  grep -qF -- "$text" "$T/journal.txt" || fail "the journal page lacks: $text"
done
curl -sf "${url}api/sessions" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["sessions"], "no session in /api/sessions"' || fail "/api/sessions"
n1=$(grep -c '^<command ' "$L3_RUN_DIR/datafile.xml")
echo "ok: the journal page shows the demo session ($n1 commands in the datafile)"

# 3. stop ends every daemon it started; start again keeps the datafile and adds a session.
"${DEMO[@]}" stop "$BUILD" >"$T/stop.out" 2>&1 || fail "stop failed"
for p in "${pids[@]}"; do
  kill -0 "$p" 2>/dev/null && fail "pid $p still runs after stop"
done
"${DEMO[@]}" status "$BUILD" | grep -q ': running' && fail "status after stop: running"
"${DEMO[@]}" start "$BUILD" >"$T/start2.out" 2>&1 || { cat "$T/start2.out" >&2; fail "second start failed"; }
n2=$(grep -c '^<command ' "$L3_RUN_DIR/datafile.xml")
((n2 >= 2 * n1)) || fail "after a restart: $n2 commands, expected at least $((2 * n1))"
curl -sf "${url}api/sessions" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert len(d["sessions"]) >= 2, d' || fail "the restarted journal does not list both sessions"
echo "ok: stop ended all five; start again on the same datafile: $n2 commands"
echo "PASS demo_test"
