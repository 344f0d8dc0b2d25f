# lilalo: the user's .zlogin; afterwards ZDOTDIR is the user's again.
if [[ -n $__l3_user_zdotdir ]]; then ZDOTDIR=$__l3_user_zdotdir; else unset ZDOTDIR; fi
[[ -r ${ZDOTDIR:-$HOME}/.zlogin ]] && source ${ZDOTDIR:-$HOME}/.zlogin
