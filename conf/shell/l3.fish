# l3.fish — lilalo shell integration for fish (docs/capture.md describes the marks).
#
# l3-rec starts fish with `--init-command 'source l3.fish'`, which fish runs after the
# user's config files, so the event handlers below come last. No fork per command:
# fish_preexec gets the command line as typed (newlines kept), fish_postexec sees $status
# and $pipestatus, and `string escape --style=url` (a builtin) percent-encodes (it encodes
# a few more printable bytes than docs/capture.md requires; decoders take any %HH).
# Limits: no B mark (fish draws its prompt itself), and the nonce is read only here,
# after config.fish ran (bash and zsh read it before the user's files).

# The nonce comes through a pipe (fd L3_NONCE_FD) read once here: no copy in any
# environment or file. fish cannot close an fd, so the emptied pipe stays open (and is
# inherited by commands); it holds nothing any more and its writer is gone.
set -l __l3_n
if string match -qr '^[1-9][0-9]{0,3}$' -- "$L3_NONCE_FD"; and test -e /proc/self/fd/$L3_NONCE_FD
    read -l n </dev/fd/$L3_NONCE_FD
    and set __l3_n $n
end
# A fish started inside the session (from /etc/fish/conf.d or ~/.config/fish/conf.d by
# lilalo's inner.fish) has no such fd: it asks the recorder it runs under for a nonce of
# its own, through a pipe too (docs/capture.md, "Inner shells").
if not set -q L3_NONCE_FD; and not set -q __l3_nonce; and status is-interactive
    set -l rec l3-rec
    set -q L3_REC; and set rec $L3_REC
    command $rec --nonce $fish_pid 2>/dev/null | read -l n
    and set __l3_n $n
end
set -e L3_NONCE_FD
set -e L3_NONCE
if not string match -qr '^[0-9a-f]{32}$' -- "$__l3_n"; or not status is-interactive; or set -q __l3_installed
    return 0
end
set -g __l3_installed 1
set -g __l3_nonce $__l3_n
set -g __l3_editors (string split ' ' -- "$L3_EDITORS")
set -g __l3_edit_limits (string split ' ' -- "$L3_EDIT_LIMITS")
set -e L3_EDITORS
set -e L3_EDIT_LIMITS
set -e L3_HOOK_TMP
set -e L3_LOGIN
set -g __l3_running 0
set -g __l3_edit_count 0
set -g __l3_edit_files
set -g __l3_edit_tokens

# Copy an editor's file owner-only (one cp: editor commands only).
function __l3_copy
    set -l old (umask)
    umask 077
    command cp -- $argv[1] $argv[2] 2>/dev/null
    set -l st $status
    umask $old
    return $st
end

function __l3_prompt --on-event fish_prompt
    set -l cwd (string escape --style=url -- $PWD)
    printf '\e]6973;%s;P;%s\a\e]7;file://%s%s\a\e]6973;%s;A\a\e]133;A\a' $__l3_nonce $cwd $hostname $cwd $__l3_nonce >&2
end

function __l3_preexec --on-event fish_preexec
    set -l line (string sub -l 131072 -- "$argv[1]" | string collect)
    printf '\e]6973;%s;C;%s\a\e]133;C\a' $__l3_nonce (string escape --style=url -- "$line") >&2
    set -g __l3_running 1
    set -g __l3_edit_files
    set -g __l3_edit_tokens
    set -l words (string split -n ' ' -- (string split \n -- "$line")[1])
    test (count $words) -gt 0; or return
    contains -- (string replace -r '.*/' '' -- $words[1]) $__l3_editors; or return
    for w in $words[2..-1]
        test (count $__l3_edit_files) -ge $__l3_edit_limits[1]; and break
        string match -q -- '-*' $w; and continue
        string match -q -- '+*' $w; and continue
        set w (string replace -r '^~/' "$HOME/" -- $w)
        string match -q -- '/*' $w; or set w $PWD/$w
        test -f $w -a -r $w; or continue
        test (command stat -c %s -- $w) -le $__l3_edit_limits[2]; or continue
        set __l3_edit_count (math $__l3_edit_count + 1)
        set -l tok $fish_pid"x"$__l3_edit_count
        __l3_copy $w $L3_SPOOL/$L3_SID.edit.$tok.before; or continue
        set -ga __l3_edit_files $w
        set -ga __l3_edit_tokens $tok
    end
end

function __l3_postexec --on-event fish_postexec
    set -l st $status
    set -l ps $pipestatus
    test $__l3_running = 1; or return
    for i in (seq (count $__l3_edit_files))
        test -f $__l3_edit_files[$i]
        and __l3_copy $__l3_edit_files[$i] $L3_SPOOL/$L3_SID.edit.$__l3_edit_tokens[$i].after
        printf '\e]6973;%s;E;%s;%s\a' $__l3_nonce $__l3_edit_tokens[$i] (string escape --style=url -- $__l3_edit_files[$i]) >&2
    end
    set -g __l3_edit_files
    printf '\e]6973;%s;D;%s;%s\a\e]133;D;%s\a' $__l3_nonce $st (string escape --style=url -- "$ps") $st >&2
    set -g __l3_running 0
end

# `exit` runs no fish_postexec: its D comes from the fish_exit event, with the status the
# shell exits with, so the record has it rather than being `interrupted`.
function __l3_exit --on-event fish_exit
    set -l st $status
    test $__l3_running = 1; or return
    printf '\e]6973;%s;D;%s;%s\a\e]133;D;%s\a' $__l3_nonce $st $st $st >&2
    set -g __l3_running 0
end
