#!/usr/bin/env bash
# access_accounts — who may ask l3-render for pages, tried as two real local accounts.
#
# As root it creates two throwaway system accounts (names unique per run, removed at the
# end whatever happens): WEB, the web server's account (render/web_users), and OTHER, any
# local user. A real l3-writer holds a datafile made by l3-render-gen, and a real
# l3-render serves it on its ipc:// socket (render/access.c). Then:
#   - l3-cgi as WEB with REMOTE_USER=alice: 200, alice's sessions only;
#   - l3-cgi as OTHER with REMOTE_USER=teacher (an instructor): no journal content, a
#     refusal at once (not the 504 after the timeout);
#   - a raw libzmq client (access_client, request frames of render/req.h) as OTHER,
#     naming the instructor: refused; and again with the socket's directory opened to
#     0777 and the socket to 0666, so the peer-credential check (ZAP) alone stops it;
#   - the same raw client as WEB: served;
#   - render refuses to start on tcp:// without render/insecure_tcp, on a non-loopback
#     address with it, and in a socket directory anyone may write to.
# Usage: access_accounts.sh ACCESS_CLIENT   (env L3_BIN_DIR).
# Exit 77 (CTest: skipped) when not root or when useradd/runuser are missing.
set -u

say() { printf 'access_accounts: %s\n' "$*"; }
failures=0
check() { # check CONDITION-STATUS MESSAGE: counts and prints failures with the line
    if [ "$1" -ne 0 ]; then
        printf 'access_accounts.sh:%s: FAIL: %s\n' "${BASH_LINENO[0]}" "$2" >&2
        failures=$((failures + 1))
    fi
}
skip() {
    say "SKIP: $*"
    exit 77
}

CLIENT=${1:-}
BIN=${L3_BIN_DIR:-}
[ -n "$CLIENT" ] && [ -x "$CLIENT" ] && [ -n "$BIN" ] || { say "usage: L3_BIN_DIR=... $0 ACCESS_CLIENT"; exit 2; }
[ "$(id -u)" -eq 0 ] || skip "needs root (it creates two local accounts)"
for tool in useradd userdel runuser; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool is missing"
done

tag="$$$RANDOM"
WEB="l3web$tag"
OTHER="l3oth$tag"
tmp=$(mktemp -d /tmp/l3-access.XXXXXX)
pids=()
accounts=()
cleanup() {
    local p u
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null
    done
    for u in "${accounts[@]}"; do
        userdel "$u" >/dev/null 2>&1 || say "could not remove the account $u"
        groupdel "$u" >/dev/null 2>&1 # when userdel left the group behind
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

for u in "$WEB" "$OTHER"; do
    useradd --system --no-create-home --user-group --shell /usr/sbin/nologin "$u" ||
        { say "useradd $u failed"; exit 1; }
    accounts+=("$u")
done
other_uid=$(id -u "$OTHER")
# The accounts must reach the programs and the socket directory (not its contents).
chmod 0711 "$tmp"
for d in "$BIN" "$(dirname "$CLIENT")"; do
    runuser -u "$OTHER" -- test -x "$d" ||
        skip "$d cannot be reached by other accounts (a build under a private directory)"
done

# --- a real writer and a real render -----------------------------------------------------
data=$tmp/data.xml
"$BIN/l3-render-gen" -n 60 --per-session 10 -o "$data" >"$tmp/gen.log" 2>&1
check $? "l3-render-gen made the datafile: $(cat "$tmp/gen.log")"
# The writer on ipc too: no port to pick (and nothing for another account to reach).
"$BIN/l3-writer" --datafile "$data" --bind "ipc://$tmp/writer.sock" \
    --ack-bind "ipc://$tmp/commits.sock" >"$tmp/writer.log" 2>&1 &
pids+=($!)

sock=$tmp/render/render.sock
EP=ipc://$sock
cat >"$tmp/lilalo.cfg" <<EOF
render
    datafile = "$data"
    bind = "$EP"
    commits = "ipc://$tmp/commits.sock"
    web_users = "$WEB"
    instructors = "teacher"
    whatis = 0
cgi
    render = "$EP"
    timeout_ms = 10000
EOF
chmod 0644 "$tmp/lilalo.cfg"
"$BIN/l3-render" -c "$tmp/lilalo.cfg" >"$tmp/render.log" 2>&1 &
render=$!
pids+=($render)

# cgi ACCOUNT REMOTE_USER PATH: l3-cgi as that account; response in $tmp/out, stderr in
# $tmp/err, elapsed seconds in $elapsed. Its timeout is 10 s (cgi/timeout_ms), so a
# refusal that waits for the timeout cannot pass for an immediate one on a busy machine.
cgi() {
    local t0=$EPOCHREALTIME
    runuser -u "$1" -- env -i REQUEST_METHOD=GET PATH_INFO="$3" QUERY_STRING= \
        REMOTE_USER="$2" L3_CONFIG="$tmp/lilalo.cfg" "$BIN/l3-cgi" >"$tmp/out" 2>"$tmp/err"
    elapsed=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
}
status() { head -n 1 "$tmp/out" | tr -d '\r'; }
# The journal's content: session ids and user names of the datafile.
leaks() { grep -c -E '"sid"|alice|bob|carol|dave' "$tmp/out"; }

for _ in $(seq 200); do
    cgi root alice /api/sessions
    [ "$(status)" = "Status: 200 OK" ] && break
    kill -0 "$render" 2>/dev/null || break
    sleep 0.05
done
[ "$(status)" = "Status: 200 OK" ] ||
    { say "render did not come up: $(cat "$tmp/render.log")"; exit 1; }
mode=$(stat -c '%a %G' "$tmp/render")
[ "$mode" = "750 $WEB" ]
check $? "the socket directory is 0750 and the web server's group: $mode"
mode=$(stat -c '%a %G' "$sock")
[ "$mode" = "660 $WEB" ]
check $? "the socket is 0660 and the web server's group: $mode"

# --- the web server's account ------------------------------------------------------------
cgi "$WEB" alice /api/sessions
[ "$(status)" = "Status: 200 OK" ]
check $? "l3-cgi as $WEB for alice: $(status) $(cat "$tmp/err")"
users=$(grep -o '"user":"[^"]*"' "$tmp/out" | sort -u | tr '\n' ' ')
[ "$users" = '"user":"alice" ' ]
check $? "alice sees her own sessions only: $users"
cgi "$WEB" teacher /api/sessions
grep -q '"user":"bob"' "$tmp/out"
check $? "l3-cgi as $WEB for the instructor: everybody's sessions ($(status))"

# --- another account through l3-cgi -----------------------------------------------------
cgi "$OTHER" teacher /api/sessions
st=$(status)
[ "${st#Status: 200}" = "$st" ] && [ "$(leaks)" -eq 0 ]
check $? "l3-cgi as $OTHER for the instructor: no journal ($st, $(leaks) lines of it)"
grep -q "refused l3-cgi running as uid $other_uid" "$tmp/err"
check $? "l3-cgi says why, on stderr: $(cat "$tmp/err")"
awk -v e="$elapsed" 'BEGIN { exit !(e < 5) }'
check $? "the refusal is immediate, not after the 10 s timeout: $elapsed s"
say "l3-cgi as $OTHER: $st in $elapsed s: $(cat "$tmp/err")"

# --- another account with its own client --------------------------------------------------
runuser -u "$OTHER" -- "$CLIENT" "$EP" teacher /api/sessions 1500 >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -ne 0 ] && [ "$(leaks)" -eq 0 ]
check $? "raw client as $OTHER: no reply (status $rc, $(leaks) lines of journal)"

# Open the directory and the socket to everyone: only the peer-credential check is left.
chmod 0777 "$tmp/render"
chmod 0666 "$sock"
cgi "$OTHER" teacher /api/sessions
st=$(status)
[ "${st#Status: 200}" = "$st" ] && [ "$(leaks)" -eq 0 ] && grep -q "ERROR 400" "$tmp/err"
check $? "l3-cgi as $OTHER, socket open to all: refused by ZAP ($st: $(cat "$tmp/err"))"
awk -v e="$elapsed" 'BEGIN { exit !(e < 5) }'
check $? "the ZAP refusal is immediate: $elapsed s"
runuser -u "$OTHER" -- "$CLIENT" "$EP" teacher /api/sessions 3000 >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 3 ] && [ "$(leaks)" -eq 0 ]
check $? "raw client as $OTHER, socket open to all: refused in the handshake (status $rc: $(cat "$tmp/err"))"
say "raw client as $OTHER, socket open to all: $(cat "$tmp/err")"
grep -q "refused a connection from uid $other_uid ($OTHER), pid [0-9]*" "$tmp/render.log"
check $? "render logs the refused uid, account and pid"

runuser -u "$WEB" -- "$CLIENT" "$EP" teacher /api/sessions 3000 >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 0 ] && head -n 1 "$tmp/out" | grep -q '^HTTP/1.1 200' && grep -q '"user":"bob"' "$tmp/out"
check $? "raw client as $WEB: served (status $rc: $(cat "$tmp/err"))"
chmod 0750 "$tmp/render"
chmod 0660 "$sock"
kill -0 "$render" 2>/dev/null
check $? "render still running after the refusals"

# --- binds render refuses ------------------------------------------------------------------
# refuses CONFIG-EXTRA ENDPOINT WHAT: l3-render must exit non-zero at once, saying WHAT.
refuses() {
    printf 'render\n    datafile = "%s"\n    commits = ""\n    whatis = 0\n%s\n' "$data" "$1" \
        >"$tmp/bad.cfg"
    timeout 10 "$BIN/l3-render" -c "$tmp/bad.cfg" --bind "$2" >"$tmp/bad.log" 2>&1
    local rc=$?
    [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "$3" "$tmp/bad.log"
    check $? "render refuses $2 ($1): status $rc: $(cat "$tmp/bad.log")"
}
# (Port 9 is never bound: render refuses before binding, and if it did not, the check
# on its message fails.)
refuses "" "tcp://127.0.0.1:9" "refusing to bind tcp://127.0.0.1:9: a tcp:// connection carries no peer credentials"
refuses "    insecure_tcp = 1" "tcp://0.0.0.0:9" "only a loopback address"
mkdir -m 0777 "$tmp/open"
chmod 0777 "$tmp/open"
refuses "" "ipc://$tmp/open/render.sock" "is writable by every account"

[ "$failures" -eq 0 ] || { say "$failures check(s) failed; render log:"; cat "$tmp/render.log"; exit 1; }
say "ok"
