#!/bin/bash
# install_test.sh BUILD_DIR — what `cmake --install` puts where, and that installed
# programs use it.
#   1. --prefix P: exactly the expected files under P (programs, shell integration,
#      profile.d, www, web server configs, schema, config in P/etc/lilalo, man pages,
#      docs), the data files identical to the source tree's.
#   2. DESTDIR=D --prefix /usr: the config lands in D/etc/lilalo (not D/usr/etc), the
#      rest under D/usr, nothing in the real /etc.
#   3. Installing again keeps an edited config and puts the shipped one beside it.
#   4. Every man page renders without a warning and names exactly the options its
#      program's --help names.
#   5. l3-rec built for a scratch prefix Q and installed there alone (component rec +
#      common): from Q it uses Q/share/lilalo/shell and reads Q/etc/lilalo/lilalo.cfg
#      without -c, and records a real bash session whose command the parser finds;
#      a build-tree l3-rec keeps the source tree's shell integration.
set -u
B=$(cd "${1:?usage: install_test.sh BUILD_DIR}" && pwd)
S=${L3_SOURCE_DIR:?}
T=$(mktemp -d /tmp/l3-install.XXXXXX)
trap 'rm -rf "$T"' EXIT
FAILS=0 LAST=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
# The end of a group of checks: "ok" when none of them failed since the last one.
ok() { if ((FAILS == LAST)); then echo "ok: $*"; else echo "not ok: $*"; fi; LAST=$FAILS; }

# The files an install must hold, relative to the prefix (etc/ is SYSCONFDIR).
expected() {
    local p
    for p in l3-rec l3-agent l3-broker l3-writer l3-tap l3-keygen l3-hosts l3-render; do echo "bin/$p"; done
    echo libexec/lilalo/l3-cgi
    echo etc/lilalo/lilalo.cfg
    (cd "$S/conf/shell" && find . -type f ! -name '*.swp' ! -name '*~' | sed 's|^\./|share/lilalo/shell/|')
    echo share/lilalo/profile.d/lilalo.sh
    (cd "$S/conf/www" && find . -type f | sed 's|^\./|share/lilalo/www/|')
    # The replay page's player, when the build fetched it (scripts/fetch-player).
    if [[ -f $B/www/asciinema-player/asciinema-player.min.js ]]; then
        for p in asciinema-player.min.js asciinema-player.css LICENSE; do
            echo "share/lilalo/www/asciinema-player/$p"
        done
    fi
    for p in lilalo.conf lilalo-fastcgi.conf auth.conf; do echo "share/lilalo/lighttpd/$p"; done
    echo share/lilalo/nginx/lilalo.conf
    for p in lilalo-agent.service lilalo-broker.service lilalo-writer.service \
             lilalo-render.service lilalo-cgi.service lilalo-cgi.socket; do
        echo "lib/systemd/system/$p"
    done
    echo share/lilalo/lilalo.rng
    for p in l3-rec l3-agent l3-broker l3-writer l3-tap l3-keygen l3-hosts l3-render; do
        echo "share/man/man1/$p.1"
    done
    echo share/man/man8/l3-cgi.8
    echo share/man/man5/lilalo.cfg.5
    echo share/doc/lilalo/README.md
    (cd "$S/docs" && find . -maxdepth 1 -name '*.md' | sed 's|^\./|share/doc/lilalo/|')
}
expected | sort >"$T/expected"

# ---- 1. --prefix P
P=$T/p
cmake --install "$B" --prefix "$P" >"$T/install1.log" 2>&1 || { cat "$T/install1.log"; fail "cmake --install --prefix failed"; }
(cd "$P" && find . -type f -o -type l | sed 's|^\./||' | sort) >"$T/got"
if diff "$T/expected" "$T/got" >"$T/diff"; then
    ok "--prefix: the $(wc -l <"$T/expected") expected files, nothing else"
else
    fail "--prefix: installed files differ from the expected list (< missing, > extra):"
    cat "$T/diff" >&2
fi
for p in "$P"/bin/* "$P"/libexec/lilalo/l3-cgi; do
    [[ -x $p ]] || fail "$p is not executable"
done
diff -r -x '*.swp' -x '*~' "$S/conf/shell" "$P/share/lilalo/shell" >/dev/null || fail "shell integration differs from conf/shell"
diff -r -x asciinema-player "$S/conf/www" "$P/share/lilalo/www" >/dev/null || fail "www assets differ from conf/www"
if [[ -f $B/www/asciinema-player/asciinema-player.min.js ]]; then
    diff -r -x .version "$B/www/asciinema-player" "$P/share/lilalo/www/asciinema-player" >/dev/null ||
        fail "the installed player differs from the build's"
fi
cmp -s "$S/conf/lilalo.cfg" "$P/etc/lilalo/lilalo.cfg" || fail "installed config differs from conf/lilalo.cfg"
cmp -s "$S/proto/lilalo.rng" "$P/share/lilalo/lilalo.rng" || fail "installed schema differs"
ok "--prefix: data files identical to the source tree's"

# ---- 2. DESTDIR + prefix /usr: SYSCONFDIR is /etc
D=$T/d
real_cfg_before=$([[ -e /etc/lilalo/lilalo.cfg ]] && echo yes || echo no)
DESTDIR=$D cmake --install "$B" --prefix /usr >"$T/install2.log" 2>&1 || { cat "$T/install2.log"; fail "DESTDIR install failed"; }
[[ -f $D/etc/lilalo/lilalo.cfg ]] || fail "DESTDIR/etc/lilalo/lilalo.cfg missing"
[[ -e $D/usr/etc ]] && fail "prefix /usr installed into usr/etc"
(cd "$D" && find . -type f -o -type l | sed 's|^\./||' | sort) >"$T/got2"
sed -e 's|^etc/|ETC/|' -e 's|^|usr/|' -e 's|^usr/ETC/|etc/|' "$T/expected" | sort >"$T/expected2"
diff "$T/expected2" "$T/got2" >"$T/diff2" || { fail "DESTDIR install differs (< missing, > extra):"; cat "$T/diff2" >&2; }
real_cfg_after=$([[ -e /etc/lilalo/lilalo.cfg ]] && echo yes || echo no)
[[ $real_cfg_before == "$real_cfg_after" ]] || fail "the DESTDIR install touched the real /etc/lilalo"
ok "DESTDIR + /usr: config in DESTDIR/etc/lilalo, the rest in DESTDIR/usr"

# ---- 3. an edited config survives another install
echo "# edited by the site" >>"$P/etc/lilalo/lilalo.cfg"
cmake --install "$B" --prefix "$P" >"$T/install3.log" 2>&1 || fail "second install failed"
tail -n1 "$P/etc/lilalo/lilalo.cfg" | grep -qx '# edited by the site' || fail "second install overwrote the edited config"
cmp -s "$S/conf/lilalo.cfg" "$P/etc/lilalo/lilalo.cfg.new" || fail "no lilalo.cfg.new beside the edited config"
ok "an edited config is kept, the shipped one is lilalo.cfg.new"

# ---- 4. man pages: no warnings; options as in --help
export MANWIDTH=80 LC_ALL=C.UTF-8
for page in "$P"/share/man/man?/*; do
    warn=$( { man --warnings -l "$page" >/dev/null; } 2>&1; groff -man -ww -z "$page" 2>&1)
    [[ -z $warn ]] || fail "$(basename "$page"): $warn"
    man -l "$page" 2>/dev/null | grep -q '^NAME' || fail "$(basename "$page"): renders no NAME section"
done
# Long and short options: from --help (which every program takes, with -h, even where
# its usage does not list them), and from the option words of the page. Words that are
# other commands' options are left out: script -f, sudo -i, xmllint --relaxng.
not_ours='-f|-i|--relaxng'
help_opts() {
    { "$B/bin/$1" --help 2>&1 | grep -oE '(^|[ [,(])--?[A-Za-z][A-Za-z-]*' |
        grep -oE -- '--?[A-Za-z][A-Za-z-]*'; printf -- '-h\n--help\n'; } | sort -u
}
page_opts() { grep -oE '\\-(\\-)?[A-Za-z][A-Za-z\\-]*' "$1" | sed 's/\\-/-/g' | sort -u; }
for prog in l3-rec l3-agent l3-broker l3-writer l3-tap l3-keygen l3-hosts l3-render l3-cgi; do
    page=$(ls "$P"/share/man/man?/"$prog".[18])
    comm -3 <(help_opts "$prog" | grep -vxE -- "$not_ours") <(page_opts "$page" | grep -vxE -- "$not_ours") >"$T/optdiff"
    if [[ -s $T/optdiff ]]; then
        fail "$prog: options in --help only (left) / in the man page only (right): $(tr '\n\t' ' >' <"$T/optdiff")"
    fi
done
ok "man pages render without warnings; options match --help"

# ---- 5. an l3-rec built for prefix Q, installed there, finds its files there
Q=$T/q
cmake -S "$S" -B "$T/b" -DCMAKE_INSTALL_PREFIX="$Q" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$T/configure.log" 2>&1 ||
    { tail -20 "$T/configure.log"; fail "configure for prefix $Q failed"; }
cmake --build "$T/b" --target l3-rec -j"$(nproc)" >"$T/build.log" 2>&1 || { tail -20 "$T/build.log"; fail "building l3-rec failed"; }
for c in rec common; do
    cmake --install "$T/b" --component $c >>"$T/install5.log" 2>&1 || fail "installing component $c failed"
done
REC=$Q/bin/l3-rec
[[ -x $REC && -f $Q/share/lilalo/shell/l3.bash && -f $Q/etc/lilalo/lilalo.cfg ]] || fail "component rec/common: files missing"
strings "$REC" | grep -qF "$Q/share/lilalo/shell" || fail "l3-rec does not carry $Q/share/lilalo/shell"
strings "$REC" | grep -qF "$Q/etc/lilalo/lilalo.cfg" || fail "l3-rec does not carry $Q/etc/lilalo/lilalo.cfg"
"$REC" --help | grep -qF "$Q/etc/lilalo/lilalo.cfg" || fail "l3-rec --help does not name the installed config"
# The installed config, edited: read without -c.
sed -i 's|^    editors = .*|    editors = "l3-install-test-editor"|' "$Q/etc/lilalo/lilalo.cfg"
mkdir -p "$T/home"
E=(env -i PATH=/usr/bin:/bin HOME="$T/home" LANG=C.UTF-8 TERM=xterm SHELL=/bin/bash)
out=$("${E[@]}" "$REC" --spool "$T/spool1" -- sh -c 'echo "dir=$L3_SHELL_DIR editors=$L3_EDITORS"' </dev/null 2>&1)
rc=$?
[[ $rc == 0 ]] || fail "installed l3-rec -- sh: exit $rc: $out"
[[ $out == *"dir=$Q/share/lilalo/shell "* ]] || fail "installed l3-rec's shell dir is not the installed one: $out"
[[ $out == *"editors=l3-install-test-editor"* ]] || fail "installed l3-rec did not read the installed config: $out"
ls "$T/spool1"/*.info "$T/spool1"/*.script "$T/spool1"/*.timing >/dev/null 2>&1 || fail "no spool files from -- sh"
"${E[@]}" "$REC" --spool "$T/spool2" -- true </dev/null >/dev/null 2>&1 || fail "installed l3-rec -- true failed"
# A real bash session from the installed tree: the installed l3.bash marks the command.
printf 'echo hi-from-installed\nexit 3\n' | "${E[@]}" "$REC" --spool "$T/spool3" >"$T/term.out" 2>&1
rc=$?
[[ $rc == 3 ]] || fail "recorded bash: exit $rc, want 3: $(head -c 300 "$T/term.out")"
info=$(ls "$T/spool3"/*.info 2>/dev/null | head -1)
if [[ -n $info ]] && "$B/bin/l3-agent" --once "${info%.info}.script" >"$T/records.xml" 2>"$T/agent.err"; then
    grep -q 'echo hi-from-installed' "$T/records.xml" || fail "the parser found no 'echo hi-from-installed' command"
else
    fail "no spool session or l3-agent --once failed: $(cat "$T/agent.err" 2>/dev/null)"
fi
ok "installed l3-rec: installed shell dir and config, a real session recorded"
# The build-tree l3-rec keeps the source tree's hooks (and no installed config).
out=$("${E[@]}" "$B/bin/l3-rec" --spool "$T/spool4" -- sh -c 'echo "dir=$L3_SHELL_DIR"' </dev/null 2>&1)
[[ $out == *"dir=$S/conf/shell"* ]] || fail "build-tree l3-rec does not use conf/shell: $out"
ok "build-tree l3-rec uses the source tree's conf/shell"

if ((FAILS)); then
    echo "$FAILS failure(s)" >&2
    exit 1
fi
echo "all install checks passed"
