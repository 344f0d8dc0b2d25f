# lilalo: the user's .zshrc, then the hooks (last, so they wrap the user's setup).
ZDOTDIR=${__l3_user_zdotdir:-$HOME}
[[ -r $ZDOTDIR/.zshrc ]] && source $ZDOTDIR/.zshrc
source ${__l3_zdotdir:h}/l3.zsh
if [[ -o login ]]; then
    ZDOTDIR=$__l3_zdotdir   # .zlogin still to come
elif [[ -n $__l3_user_zdotdir ]]; then
    ZDOTDIR=$__l3_user_zdotdir
else
    unset ZDOTDIR
fi
