# lilalo: zsh startup under l3-rec (ZDOTDIR points here). Hide the nonce first, then
# read the user's own .zshenv from their ZDOTDIR (or $HOME), then come back here for the
# other startup files when the shell is interactive.
if [[ -n ${L3_NONCE-} ]]; then
    typeset -g __l3_nonce=$L3_NONCE __l3_editors=${L3_EDITORS-} __l3_edit_limits=${L3_EDIT_LIMITS-}
fi
unset L3_NONCE L3_EDITORS L3_EDIT_LIMITS
typeset -g __l3_zdotdir=$ZDOTDIR __l3_user_zdotdir=${L3_USER_ZDOTDIR-}
unset L3_USER_ZDOTDIR
if [[ -n $__l3_user_zdotdir ]]; then ZDOTDIR=$__l3_user_zdotdir; else unset ZDOTDIR; fi
[[ -r ${ZDOTDIR:-$HOME}/.zshenv ]] && source ${ZDOTDIR:-$HOME}/.zshenv
__l3_user_zdotdir=${ZDOTDIR-}
if [[ -o interactive ]]; then
    ZDOTDIR=$__l3_zdotdir
fi
