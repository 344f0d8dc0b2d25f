# lilalo: the user's .zprofile, read with their ZDOTDIR.
ZDOTDIR=${__l3_user_zdotdir:-$HOME}
[[ -r $ZDOTDIR/.zprofile ]] && source $ZDOTDIR/.zprofile
ZDOTDIR=$__l3_zdotdir
