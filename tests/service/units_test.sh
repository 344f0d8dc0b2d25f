#!/usr/bin/env bash
# service_units: the systemd units as installed.
#   1. `cmake --install` into a scratch DESTDIR puts exactly the six units in
#      PREFIX/lib/systemd/system, naming the installed programs (ExecStart).
#   2. `systemd-analyze verify --root=DESTDIR` passes on each and prints nothing at all:
#      an unknown directive, a missing program or a man page (Documentation=) that the
#      install does not hold is a failure, not a warning to scroll past.
#   3. `systemd-analyze security --offline=yes` gives each service its exposure figure
#      (printed, never judged here; scripts/unit-security), and must not fail.
# Usage: units_test.sh BUILD_DIR
set -uo pipefail
B=${1:?usage: units_test.sh BUILD_DIR}
S=${L3_SOURCE_DIR:?L3_SOURCE_DIR not set}
T=$(mktemp -d /tmp/l3-units.XXXXXX)
trap 'rm -rf "$T"' EXIT
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

command -v systemd-analyze >/dev/null || { echo "FAIL: no systemd-analyze (scripts/install-deps)" >&2; exit 1; }
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$B/CMakeCache.txt")
[ -n "$prefix" ] || { echo "FAIL: no CMAKE_INSTALL_PREFIX in $B/CMakeCache.txt" >&2; exit 1; }
D=$T/root
DESTDIR=$D cmake --install "$B" >"$T/install.log" 2>&1 || { cat "$T/install.log" >&2; fail "cmake --install"; exit 1; }
U=$D$prefix/lib/systemd/system

# ---- 1. the six units, naming the installed programs
want="lilalo-agent.service lilalo-broker.service lilalo-cgi.service lilalo-cgi.socket lilalo-render.service lilalo-writer.service"
got=$(cd "$U" 2>/dev/null && ls | sort | tr '\n' ' ' | sed 's/ $//')
[ "$got" = "$want" ] || fail "units in $U: '$got', want '$want'"
for u in "$U"/*.service; do
  exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$u")
  [ -x "$D$exe" ] || fail "$(basename "$u"): ExecStart=$exe is not an installed program"
done
grep -q "^ExecStart=$prefix/bin/l3-broker$" "$U/lilalo-broker.service" || fail "broker's ExecStart"
grep -q "^ExecStart=$prefix/libexec/lilalo/l3-cgi$" "$U/lilalo-cgi.service" || fail "cgi's ExecStart"
[ $FAILS = 0 ] && echo "ok: the six units in $prefix/lib/systemd/system, naming the installed programs"

# ---- 2. systemd-analyze verify, with no output at all
# --root makes verify look for the programs (and the units they name) inside D; it needs
# the host's own units there too (sysinit.target, sockets.target, ...). Documentation=
# man: pages are checked with man(1) against the man pages installed in D.
mkdir -p "$D/usr/lib/systemd/system"
cp -rn /usr/lib/systemd/system/. "$D/usr/lib/systemd/system/" 2>/dev/null
for u in "$U"/lilalo-*; do
  name=$(basename "$u")
  out=$(cd "$T" && MANPATH=$D$prefix/share/man systemd-analyze verify --root="$D" "$u" 2>&1)
  rc=$?
  if [ $rc -ne 0 ] || [ -n "$out" ]; then
    fail "systemd-analyze verify $name (exit $rc):"
    printf '%s\n' "$out" >&2
  else
    echo "ok: systemd-analyze verify $name"
  fi
done

# ---- 3. exposure figures (printed for the record; an error fails)
echo "systemd-analyze security --offline=yes (exposure, 0 = safest, 10 = unprotected):"
"$S/scripts/unit-security" "$D" || fail "scripts/unit-security"

if [ $FAILS -ne 0 ]; then
  echo "$FAILS check(s) failed" >&2
  exit 1
fi
echo "ok"
