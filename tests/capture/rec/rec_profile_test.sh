#!/bin/bash
# rec_profile_test.sh — conf/profile.d/lilalo.sh decides when to start l3-rec, and
# `l3-rec --login` under this user's own recorder does not record twice.
. "$(dirname "$0")/lib.sh"
PROFILE=$L3_SOURCE_DIR/conf/profile.d/lilalo.sh
cat >"$T/bin/fake-rec" <<'F'
#!/bin/sh
echo "EXEC $*"
F
chmod +x "$T/bin/fake-rec"

# in_tty ENV... : source the profile in an interactive shell on a pty; print its verdict.
in_tty() {
    env -i PATH=/usr/bin:/bin HOME="$T/home" L3_REC="$T/bin/fake-rec" "$@" \
        script -qec "bash --norc --noprofile -i -c '. $PROFILE; echo NOEXEC'" /dev/null 2>/dev/null |
        tr -d '\r' | grep -E '^(EXEC|NOEXEC)'
}
[[ $(in_tty) == 'EXEC --login' ]] || fail "plain login did not start l3-rec: $(in_tty)"
ok "login starts l3-rec --login"
[[ $(in_tty L3_NORECORD=1) == NOEXEC ]] || fail "L3_NORECORD ignored"
ok "L3_NORECORD=1 opts out"
[[ $(in_tty L3_SID=x L3_UID="$(id -u)") == NOEXEC ]] || fail "second recorder for the same user"
ok "no second recorder for the same user"
[[ $(in_tty L3_SID=x L3_UID=4242) == 'EXEC --login' ]] || fail "other user's session not nested"
ok "another user's recorded terminal gets a nested recorder"
mkdir -p "$T/home/.config/lilalo" && touch "$T/home/.config/lilalo/norecord"
[[ $(in_tty) == NOEXEC ]] || fail "norecord file ignored"
ok "~/.config/lilalo/norecord opts out"
rm "$T/home/.config/lilalo/norecord"
out=$(env -i PATH=/usr/bin:/bin HOME="$T/home" L3_REC="$T/bin/fake-rec" bash -c ". $PROFILE; echo NOEXEC" </dev/null)
[[ $out == NOEXEC ]] || fail "non-interactive shell recorded"
ok "non-interactive shells are left alone"

# The environment cleared (like su - to oneself): the inner --login finds its own user's
# recorder among its ancestors and only runs the shell: one session, not two.
echo 'echo inner-ran; exit 3' | env -i PATH=/usr/bin:/bin HOME="$T/home" SHELL=/bin/sh \
    "$REC" --spool "$SPOOL" -- env -i PATH=/usr/bin:/bin HOME="$T/home" SHELL=/bin/sh \
    "$REC" --spool "$SPOOL" --login >"$T/out" 2>&1
rc=$?
[[ $rc == 3 ]] || fail "exit status $rc"
grep -q inner-ran "$T/out" || fail "inner shell did not run: $(cat "$T/out")"
[[ $(ls "$SPOOL"/*.info | wc -l) == 1 ]] || fail "same user recorded twice"
ok "--login under the same user's recorder records once"
rm -rf "$SPOOL"

# --login with bash: the login files are read (/etc/profile, ~/.bash_profile), the hooks
# are installed after them, and ~/.bash_logout runs at exit.
echo 'export MARK=from-profile' >"$T/home/.bash_profile"
echo 'echo bye >~/logout.txt' >"$T/home/.bash_logout"
echo 'echo "mark=$MARK"; exit' | env -i PATH=/usr/bin:/bin HOME="$T/home" SHELL=/bin/bash \
    "$REC" --spool "$SPOOL" --login >"$T/out" 2>&1
grep -aq 'mark=from-profile' "$T/out" || fail "~/.bash_profile not read in --login"
[[ $(cat "$T/home/logout.txt" 2>/dev/null) == bye ]] || fail "~/.bash_logout did not run"
INFO=$(ls "$SPOOL"/*.info) SCRIPT=${INFO%.info}.script NONCE=$(shell_ref "$INFO")
marks | grep -q $'^C\techo "mark=$MARK"; exit$' || fail "no C mark in a login session: $(marks)"
ok "--login bash reads the login files, keeps the hooks, runs .bash_logout"
echo "PASS rec_profile_test"
