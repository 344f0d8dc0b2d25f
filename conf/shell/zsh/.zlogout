# lilalo: the user's .zlogout (ZDOTDIR is theirs by now; this file is here in case not).
[[ -r ${__l3_user_zdotdir:-$HOME}/.zlogout && ${ZDOTDIR-} == ${__l3_zdotdir-} ]] && source ${__l3_user_zdotdir:-$HOME}/.zlogout
