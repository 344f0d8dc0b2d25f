# lilalo: zsh startup under l3-rec (ZDOTDIR points here). Take the nonce first (l3-rec
# hands it through a pipe, fd L3_NONCE_FD, read once and closed: no copy in any
# environment or file), then read the user's own .zshenv from their ZDOTDIR (or $HOME),
# then come back here for the other startup files when the shell is interactive.
() {
    local fd=${L3_NONCE_FD-} n=
    unset L3_NONCE_FD L3_NONCE
    if [[ $fd == <1-9999> ]]; then
        IFS= read -r -t 1 -u $fd n 2>/dev/null
        { exec {fd}<&-; } 2>/dev/null
    fi
    if [[ ${#n} == 32 && $n != *[^0-9a-f]* ]]; then
        typeset -g __l3_nonce=$n __l3_editors=${L3_EDITORS-} __l3_edit_limits=${L3_EDIT_LIMITS-}
    fi
}
unset L3_EDITORS L3_EDIT_LIMITS
typeset -g __l3_zdotdir=$ZDOTDIR __l3_user_zdotdir=${L3_USER_ZDOTDIR-}
unset L3_USER_ZDOTDIR
if [[ -n $__l3_user_zdotdir ]]; then ZDOTDIR=$__l3_user_zdotdir; else unset ZDOTDIR; fi
[[ -r ${ZDOTDIR:-$HOME}/.zshenv ]] && source ${ZDOTDIR:-$HOME}/.zshenv
__l3_user_zdotdir=${ZDOTDIR-}
if [[ -o interactive ]]; then
    ZDOTDIR=$__l3_zdotdir
fi
