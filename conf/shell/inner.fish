# inner.fish — lilalo: the commands of a fish started inside a recorded session (a nested
# `fish`, `exec fish`, `su -s /usr/bin/fish`) are recorded too, as that shell's own.
#
# Link it as /etc/fish/conf.d/lilalo.fish (a system-wide install) or as
# ~/.config/fish/conf.d/lilalo.fish. Outside a recorded session it costs one short-lived
# `l3-rec --nonce` at shell start and changes nothing. The session's own fish skips it
# (l3-rec sources l3.fish itself, with the nonce on fd L3_NONCE_FD).
if status is-interactive; and not set -q L3_NONCE_FD; and not set -q __l3_nonce
    # Next to this file (followed through the link), else where l3-rec said or installs.
    for dir in (path resolve (status filename) | path dirname) $L3_SHELL_DIR \
            /usr/share/lilalo/shell /usr/local/share/lilalo/shell
        if test -r $dir/l3.fish
            source $dir/l3.fish
            break
        end
    end
end
