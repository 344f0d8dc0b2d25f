# inner.zsh — lilalo: the commands of a zsh started inside a recorded session (a nested
# `zsh`, `exec zsh`, `su`, `sudo -i`) are recorded too, as that shell's own.
#
# Source it from /etc/zsh/zshrc (a system-wide install) or from your own ~/.zshrc:
#     [[ -r /usr/share/lilalo/shell/inner.zsh ]] && . /usr/share/lilalo/shell/inner.zsh
# Outside a recorded session it costs one short-lived `l3-rec --nonce` at shell start and
# changes nothing. The session's own shell skips it (its hooks come from l3-rec's ZDOTDIR).
if [[ -o interactive && -z ${L3_NONCE_FD-} && -z ${__l3_nonce-} && -z ${__l3_zdotdir-} ]]; then
    source ${${(%):-%x}:h}/l3.zsh
fi
