#!/bin/sh
# l3-agent --once: a spool session written as l3-rec writes it, a typescript, an asciicast
# and a tlog recording → XML that xmllint accepts (and the RELAX NG schema, when present),
# with the commands we put in. Needs L3_BIN_DIR and L3_SOURCE_DIR.
set -eu
BIN=${L3_BIN_DIR:?}
SRC=${L3_SOURCE_DIR:?}
T=$(mktemp -d /tmp/l3-test-once-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
fail() { echo "test_once: FAIL: $*" >&2; exit 1; }

N=00112233445566778899aabbccddeeff
SID=20260101T120000-4242-beef
mark() { printf '\033]6973;%s;%s\007' "$N" "$1"; }
# The recorder's hash chain (agent/rec_marks.h): anchor H^16(x0), first proof H^15(x0),
# x0 = 32 bytes of 0x5a; the proof is l3-rec's word that Ctrl-C was typed.
RECMARK=66d8b0486213d384fd5112426455892b354a211fd7184d1f3b1b1d77cc144e0a
PROOF1=8e53df557c3adae4be6c57b1ab848a38634b38d944a6914201a3dd1246ebf8bd
{
  printf 'Script started on 2026-01-01T12:00:00.000000Z [l3-rec]\n'
  mark 'P;/home/u'; mark A; printf 'u@h:~$ '; mark B; printf 'echo hi\r\n'
  mark 'C;echo%20hi'; printf 'hi\r\n'; mark 'D;0'
  mark 'P;/home/u'; mark A; printf 'u@h:~$ '; mark B; printf 'cat evil\r\n'
  mark 'C;cat%20evil'
  printf '\033]6973;ffffffffffffffffffffffffffffffff;C;rm%%20-rf\007\033[31mred\033[0m \001\002 \377\r\n'
  mark 'D;1'
  mark 'P;/home/u'; mark A; printf 'u@h:~$ '; mark B; printf 'sleep 9\r\n'
  mark 'C;sleep%209'; printf '\033]6973;rec;%s;interrupt\007^C\r\n' "$PROOF1"; mark 'D;130'
  mark 'P;/home/u'; mark A; printf 'u@h:~$ '; mark B; printf "sh -c 'exit 130'\r\n"
  mark "C;sh%20-c%20'exit%20130'"; mark 'D;130'
} > "$T/$SID.script"
HDR=$(head -n1 "$T/$SID.script" | wc -c)
SIZE=$(wc -c < "$T/$SID.script")
printf '0.500000 %d\n' $((SIZE - HDR)) > "$T/$SID.timing"
cat > "$T/$SID.info" <<INFO
version=1
sid=$SID
host=h
user=forged-name
uid=0
tty=/dev/pts/3
shell=/bin/bash
pid=999999999
start=2026-01-01T12:00:00.000000Z
cols=80
rows=24
nonce=$N
recmark=$RECMARK
end=2026-01-01T12:00:05.000000Z
exit=0
INFO

printf 'Script started on 2026-01-01 12:00:00+00:00 [TERM="xterm"]\nalice@lab:~$ ls\r\nfile\r\nalice@lab:~$ exit\r\nexit\r\n' > "$T/old.typescript"
printf '{"version": 2, "width": 80, "height": 24, "timestamp": 1767268800}\n[0.1, "o", "bob@x:/tmp$ "]\n[0.5, "o", "pwd\\r\\n/tmp\\r\\n"]\n[0.9, "o", "bob@x:/tmp$ "]\n' > "$T/rec.cast"
cp "$SRC/tests/capture/parser/data/prompts.tlog" "$T/rec.tlog"

"$BIN/l3-agent" --once "$T/$SID.script" "$T/old.typescript" "$T/rec.cast" "$T/rec.tlog" -o "$T/out.xml" \
  || fail "l3-agent --once exited $?"
xmllint --noout "$T/out.xml" || fail "xmllint rejects the output"
if [ -f "$SRC/proto/lilalo.rng" ]; then
  xmllint --noout --relaxng "$SRC/proto/lilalo.rng" "$T/out.xml" 2>"$T/rng.log" \
    || { cat "$T/rng.log" >&2; fail "RELAX NG validation failed"; }
fi
count() { grep -c "$1" "$T/out.xml" || true; }
[ "$(count '<session ')" = 4 ] || fail "expected 4 sessions, got $(count '<session ')"
[ "$(count '<end ')" = 4 ] || fail "expected 4 ends"
[ "$(count '<command ')" = 10 ] || fail "expected 10 commands, got $(count '<command ')"
grep -q '<line>echo hi</line>' "$T/out.xml" || fail "echo hi missing"
grep -q 'exit="130" signal="2"' "$T/out.xml" || fail "signal missing"
grep -q 'exit="130" flags="ambiguous"' "$T/out.xml" || fail "exit 130 without Ctrl-C not ambiguous"
grep -q '<line>rm' "$T/out.xml" && fail "forged mark became a command"
grep -q 'user="forged-name"' "$T/out.xml" && fail "user taken from .info"
grep -q '<line>pwd</line>' "$T/out.xml" || fail "asciicast command missing"
grep -q '<line>cd /tmp</line>' "$T/out.xml" || fail "tlog command missing"

# A spool of today's l3-rec (.info marks=2): marks name their shell "=<n>", no nonce in
# .script. A command's output with marks a program printed from such a .script (l3-rec
# changed their "=" to "!") and the session nonce in clear: output, no command. An inner
# shell registered by the recorder's shell mark speaks as "=1".
SID2=20260101T130000-4243-beef
ref() { printf '\033]6973;=%s;%s\007' "$1" "$2"; }
INNER_SHA=$(printf %s 11111111111111111111111111111111 | sha256sum | cut -c1-64)
{
  printf 'Script started on 2026-01-01T13:00:00.000000Z [l3-rec]\n'
  ref 0 'P;/home/u'; ref 0 A; printf 'u@h:~$ '; ref 0 B; ref 0 'C;cat%20x.script'
  printf '\033]6973;!0;C;rm%%20-rf\007\033]6973;%s;C;rm%%20-rf\007listed\r\n' "$N"
  ref 0 'D;0'
  ref 0 A; ref 0 B; ref 0 'C;bash'
  printf '\033]6973;rec;%s;shell;%s;1\007' "$PROOF1" "$INNER_SHA"
  ref 1 A; ref 1 B; ref 1 'C;echo%20inner'; printf 'inner\r\n'; ref 1 'D;0'
  ref 1 'C;exit'; ref 1 'D;0'; ref 0 'D;0'
} > "$T/$SID2.script"
HDR=$(head -n1 "$T/$SID2.script" | wc -c)
SIZE=$(wc -c < "$T/$SID2.script")
printf '0.500000 %d\n' $((SIZE - HDR)) > "$T/$SID2.timing"
sed -e "s/^sid=.*/sid=$SID2/" -e "s/^nonce=.*/nonce_sha256=$(printf %s "$N" | sha256sum | cut -c1-64)/" \
  -e 's/^version=1$/version=1\nmarks=2/' "$T/$SID.info" > "$T/$SID2.info"
grep -q '^marks=2$' "$T/$SID2.info" || fail "test setup: no marks=2"
"$BIN/l3-agent" --once "$T/$SID2.script" -o "$T/out2.xml" || fail "l3-agent --once (marks=2) exited $?"
xmllint --noout "$T/out2.xml" || fail "xmllint rejects the marks=2 output"
count2() { grep -o "$1" "$T/out2.xml" | wc -l; }
[ "$(count2 '<command ')" = 4 ] || fail "marks=2: expected 4 commands, got $(count2 '<command ')"
grep -q '<line>rm' "$T/out2.xml" && fail "marks=2: a forged mark became a command"
grep -q 'depth="1"[^>]*><cwd>/home/u</cwd><line>echo inner</line>' "$T/out2.xml" ||
  fail "marks=2: the inner shell's command is missing"
grep -q 'flags="nested"><cwd>/home/u</cwd><line>bash</line>' "$T/out2.xml" ||
  fail "marks=2: bash not flagged nested"
grep -q '!0;C;rm%20-rf' "$T/out2.xml" || fail "marks=2: the neutralised mark is not output"

# Errors are reported, not crashed on.
if "$BIN/l3-agent" --once "$T/missing.script" -o "$T/x.xml" 2>/dev/null; then fail "missing file accepted"; fi
"$BIN/l3-agent" --help | grep -q -- '--once' || fail "--help"
echo "test_once: ok"
