# /etc/profile.d/lilalo.sh — record interactive login shells with l3-rec (lilalo).
#
# Sourced by login shells (sh, bash; for zsh add `emulate sh -c '. /etc/profile.d/lilalo.sh'`
# to /etc/zsh/zprofile). Replaces the shell with `l3-rec --login`, which runs the user's
# login shell again inside a recorded pty; that inner shell reads this file again and
# finds L3_SID set, so it stops here.
#
# Opt out: L3_NORECORD=1 in the environment, or the file ~/.config/lilalo/norecord.
# Never a second recorder for the same terminal and user: L3_SID is set and L3_UID is
# our uid. `su -` and `sudo -i` clear the environment; then l3-rec --login looks at its
# ancestors itself: under another user's recorder it starts a nested session (the new
# user's commands are recorded once, as theirs); under this user's own it just runs the
# shell. L3_REC may name the l3-rec binary (default: l3-rec from PATH).
if [ -z "${L3_NORECORD-}" ] && [ ! -e "${HOME:-/nonexistent}/.config/lilalo/norecord" ] &&
    case $- in *i*) true ;; *) false ;; esac &&
    [ -t 0 ] && [ -t 1 ] &&
    ! { [ -n "${L3_SID-}" ] && [ "${L3_UID-}" = "${UID:-$(id -u)}" ]; } &&
    command -v "${L3_REC:-l3-rec}" >/dev/null 2>&1; then
    exec "${L3_REC:-l3-rec}" --login
fi
