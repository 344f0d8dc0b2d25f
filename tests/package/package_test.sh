#!/bin/bash
# package_test.sh BUILD_DIR — the Debian packages, built and used as an admin would.
#   1. `make package` gives lilalo-common, -agent, -server and -web in BUILD_DIR/packages;
#      lintian finds no error or warning (what is overridden is explained in each
#      package's lintian-overrides).
#   2. dpkg -i of all four: programs, shell integration, web files, config (a conffile),
#      man pages in place; the account lilalo; /var/spool/lilalo 1733; the agent's and
#      the broker's keys made once, 0640 root:lilalo. The installed l3-rec records a real
#      command with the installed shell integration.
#   3. Installing again (the upgrade path) and removing (dpkg -r) keep the data, the
#      keys, the spool and an edited config; a reinstall after removal finds them all.
#   4. Purge (dpkg -P) deletes them, and only then.
# Needs root and dpkg; exits 77 (skip) without, or when lilalo is already installed or
# its directories exist on this machine (the test must not touch a real installation).
set -u
B=$(cd "${1:?usage: package_test.sh BUILD_DIR}" && pwd)
S=${L3_SOURCE_DIR:?}
. "$(dirname "$0")/lib.sh"
FAILS=0 LAST=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
ok() { if ((FAILS == LAST)); then echo "ok: $*"; else echo "not ok: $*"; fi; LAST=$FAILS; }

needs_clean_machine
T=$(mktemp -d /tmp/l3-package.XXXXXX)
# Whatever happens, leave the machine as it was: purge what we installed.
cleanup() {
    dpkg -P "${PKGS[@]}" >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT

# --- 1. build and lint ---------------------------------------------------------------------
make -C "$S" package BUILD="$B" PKG_BUILD="$S/build-pkg" >"$T/make.log" 2>&1 ||
    { tail -30 "$T/make.log"; fail "make package failed"; exit 1; }
declare -A DEB
for p in "${PKGS[@]}"; do
    DEB[$p]=$(ls "$B"/packages/"${p}"_*.deb 2>/dev/null | head -1)
    [[ -f ${DEB[$p]} ]] || fail "no $p package in $B/packages"
done
((FAILS == 0)) || exit 1
has() { dpkg-deb -c "${DEB[$1]}" >"$T/contents" && grep -q " \\./$2\$" "$T/contents"; }
has lilalo-server usr/bin/l3-writer || fail "lilalo-server lacks l3-writer"
has lilalo-agent usr/share/lilalo/shell/l3.bash || fail "lilalo-agent lacks l3.bash"
has lilalo-web usr/libexec/lilalo/l3-cgi || fail "lilalo-web lacks l3-cgi"
# The replay page's player ships with its license when the package build could fetch it
# (scripts/fetch-player); it never leaves the license behind.
if has lilalo-web usr/share/lilalo/www/asciinema-player/asciinema-player.min.js; then
    has lilalo-web usr/share/lilalo/www/asciinema-player/LICENSE || fail "lilalo-web ships asciinema-player without its LICENSE"
    dpkg-deb --fsys-tarfile "${DEB[lilalo-web]}" | tar -xO ./usr/share/doc/lilalo-web/copyright |
        grep -q '^Files: usr/share/lilalo/www/asciinema-player/\*' || fail "lilalo-web's copyright does not name asciinema-player"
else
    echo "  (the package build had no asciinema-player: the replay page links the exports only)"
fi
dpkg-deb -I "${DEB[lilalo-common]}" conffiles | grep -qx '/etc/lilalo/lilalo.cfg' || fail "lilalo.cfg is not a conffile"
dpkg-deb -f "${DEB[lilalo-server]}" Depends | grep -q 'libczmq' || fail "no shared library dependencies (dpkg-shlibdeps)"
if command -v lintian >/dev/null; then
    # lintian warns when run as root; its findings go to the log whole.
    lintian --fail-on error,warning --info "${DEB[@]}" >"$T/lintian.log" 2>&1 ||
        { grep -E '^[EW]:' "$T/lintian.log" >&2; fail "lintian found errors or warnings"; }
    grep -E '^[IP]:' "$T/lintian.log" | sed 's/^/  lintian /'
else
    echo "  (no lintian on this machine: not linted)"
fi
ok "make package: four packages, linted"

# --- 2. install ----------------------------------------------------------------------------
dpkg -i "${DEB[@]}" >"$T/dpkg-i.log" 2>&1 || { cat "$T/dpkg-i.log" >&2; fail "dpkg -i failed"; exit 1; }
for f in /usr/bin/l3-rec /usr/bin/l3-agent /usr/bin/l3-broker /usr/bin/l3-writer /usr/bin/l3-tap \
    /usr/bin/l3-keygen /usr/bin/l3-render /usr/libexec/lilalo/l3-cgi; do
    [[ -x $f ]] || fail "$f not installed"
done
for f in /usr/share/lilalo/shell/l3.bash /usr/share/lilalo/www /usr/share/lilalo/lighttpd/lilalo.conf \
    /usr/share/lilalo/nginx/lilalo.conf /usr/share/lilalo/lilalo.rng /etc/lilalo/lilalo.cfg \
    /usr/share/man/man1/l3-rec.1.gz /usr/share/man/man5/lilalo.cfg.5.gz /usr/share/doc/lilalo-agent/copyright; do
    [[ -e $f ]] || fail "$f not installed"
done
getent passwd lilalo >/dev/null || fail "no account lilalo"
[[ $(stat -c %a /var/spool/lilalo 2>/dev/null) == 1733 ]] || fail "/var/spool/lilalo is not 1733"
[[ $(stat -c %U:%G:%a /var/lib/lilalo 2>/dev/null) == lilalo:lilalo:750 ]] || fail "/var/lib/lilalo is $(stat -c %U:%G:%a /var/lib/lilalo)"
for k in agent broker; do
    [[ $(stat -c %U:%G:%a /etc/lilalo/$k.key 2>/dev/null) == root:lilalo:640 ]] || fail "/etc/lilalo/$k.key: $(stat -c %U:%G:%a /etc/lilalo/$k.key 2>&1)"
    [[ -s /etc/lilalo/$k.pub ]] || fail "no /etc/lilalo/$k.pub"
done
[[ -d /etc/lilalo/agents ]] || fail "no /etc/lilalo/agents"
ok "dpkg -i: files, account, spool, keys"

# The installed recorder, with nothing of the build tree: a real bash session through the
# installed shell integration, parsed by the installed agent.
mkdir -p "$T/home" "$T/spool"
printf 'echo packaged-$((6*7))\nexit 3\n' >"$T/typed"
(cd / && env -i PATH=/usr/bin:/bin HOME="$T/home" TERM=dumb SHELL=/bin/bash \
    /usr/bin/l3-rec --spool "$T/spool" <"$T/typed" >"$T/rec.out" 2>&1)
rc=$?
[[ $rc == 3 ]] || fail "installed l3-rec: exit $rc, not 3 ($(tail -3 "$T/rec.out"))"
script=$(ls "$T"/spool/*.script 2>/dev/null | head -1)
[[ -n $script ]] || fail "installed l3-rec wrote no .script"
if [[ -n $script ]]; then
    /usr/bin/l3-agent --once "$script" -o "$T/rec.xml" >/dev/null 2>&1 || fail "installed l3-agent --once failed"
    grep -q 'packaged-$((6\*7))' "$T/rec.xml" 2>/dev/null || fail "the typed command is not a record of the installed tools"
    grep -q 'packaged-42' "$T/rec.xml" 2>/dev/null || fail "the command's output is not in its record"
fi
ok "installed l3-rec and l3-agent record a real bash session"

# --- 3. upgrade, remove, reinstall keep everything -----------------------------------------
sum() { sha256sum /etc/lilalo/agent.key /etc/lilalo/broker.key /etc/lilalo/agent.pub /etc/lilalo/broker.pub; }
keys_before=$(sum)
echo '<lilalo>data</lilalo>' >/var/lib/lilalo/datafile.xml
chown lilalo:lilalo /var/lib/lilalo/datafile.xml
mkdir -p /var/spool/lilalo/someone && echo spooled >/var/spool/lilalo/someone/s.script
echo '# edited by the admin' >>/etc/lilalo/lilalo.cfg
touch /etc/lilalo/agents/host1.pub
kept() { # what must survive: $1 says when
    [[ $(sum) == "$keys_before" ]] || fail "$1: the keys changed"
    grep -q data /var/lib/lilalo/datafile.xml 2>/dev/null || fail "$1: the datafile is gone"
    [[ -f /var/spool/lilalo/someone/s.script ]] || fail "$1: the spool is gone"
    grep -q 'edited by the admin' /etc/lilalo/lilalo.cfg 2>/dev/null || fail "$1: the edited config is gone"
    [[ -f /etc/lilalo/agents/host1.pub ]] || fail "$1: allowed agent keys are gone"
}
dpkg -i "${DEB[@]}" >"$T/dpkg-up.log" 2>&1 || { cat "$T/dpkg-up.log" >&2; fail "reinstall (upgrade path) failed"; }
kept "after an upgrade"
dpkg -r "${PKGS[@]}" >"$T/dpkg-r.log" 2>&1 || { cat "$T/dpkg-r.log" >&2; fail "dpkg -r failed"; }
[[ ! -e /usr/bin/l3-writer ]] || fail "dpkg -r left /usr/bin/l3-writer"
kept "after dpkg -r"
dpkg -i "${DEB[@]}" >"$T/dpkg-re.log" 2>&1 || { cat "$T/dpkg-re.log" >&2; fail "install after removal failed"; }
kept "after a reinstall"
ok "upgrade, remove and reinstall keep data, spool, keys and the edited config"

# --- 4. purge --------------------------------------------------------------------------------
dpkg -P "${PKGS[@]}" >"$T/dpkg-p.log" 2>&1 || { cat "$T/dpkg-p.log" >&2; fail "dpkg -P failed"; }
for d in /etc/lilalo /var/lib/lilalo /var/spool/lilalo; do
    [[ ! -e $d ]] || fail "purge left $d: $(find "$d" | head -5 | tr '\n' ' ')"
done
ok "purge deletes data, spool, keys and config"

((FAILS == 0)) || { echo "$FAILS check(s) failed"; exit 1; }
echo "PASS package"
