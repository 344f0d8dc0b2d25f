# inner.bash — lilalo: the commands of a bash started inside a recorded session (a nested
# `bash`, `exec bash`, `su`, `sudo -i`) are recorded too, as that shell's own.
#
# Source it from /etc/bash.bashrc (a system-wide install: every user, root after `sudo -i`
# and `su -` included, as Debian's /etc/profile reads /etc/bash.bashrc for login shells)
# or from your own ~/.bashrc:
#     [ -r /usr/share/lilalo/shell/inner.bash ] && . /usr/share/lilalo/shell/inner.bash
# Outside a recorded session it costs one short-lived `l3-rec --nonce` at shell start and
# changes nothing. The session's own shell skips it (l3-rec hands that one its nonce
# itself, fd L3_NONCE_FD), and so does a shell that has the hooks already.
if [[ $- == *i* && -z ${L3_NONCE_FD-} && -z ${__l3_nonce-} ]]; then
    . "${BASH_SOURCE[0]%/*}/l3.bash"
fi
