# l3.bash — lilalo shell integration for bash. docs/capture.md describes the marks.
#
# l3-rec starts bash as `bash --rcfile l3.bash -i`, so this file stands in for ~/.bashrc:
# it hides the session nonce, sources the user's own startup files (the login ones when
# L3_LOGIN=1, since --rcfile cannot be combined with a login shell), and installs the
# hooks last so they wrap whatever the user's files set up. Sourced by hand (from a
# .bashrc inside `l3-rec -- bash`) it only installs the hooks.
#
# Per command the hooks cost no fork: the command line comes from `fc -ln -0` written to
# a private scratch file in the spool and read back with `read`. What they keep working:
#   $? and PIPESTATUS of commands (we read them first, and return the status on);
#   the user's PROMPT_COMMAND, string or array (ours go first and last around it, and are
#     put back in place if the user's later code moves them);
#   the user's DEBUG trap (run after ours; re-adopted when the user sets a new one);
#   `$_`; no fd is left open. Marks go to stderr, like the prompt.
# The hooks do nothing unless L3_NONCE came from l3-rec.

if [[ ${#BASH_SOURCE[@]} -le 1 && -z ${__l3_rc_done-} ]]; then
    # Running as the rcfile. The nonce must be gone before any user file runs a command.
    __l3_rc_done=1
    if [[ -n ${L3_NONCE-} ]]; then
        __l3_nonce=$L3_NONCE
        __l3_editors=" ${L3_EDITORS-} "
        __l3_edit_limits=${L3_EDIT_LIMITS-}
    fi
    unset L3_NONCE L3_EDITORS L3_EDIT_LIMITS
    if [[ ${L3_LOGIN-} == 1 ]]; then
        unset L3_LOGIN
        # A login shell runs ~/.bash_logout at exit; ours is not one to bash, so an EXIT
        # trap does it, set before the user's files so an EXIT trap of theirs wins.
        [[ -r ~/.bash_logout ]] && trap '. ~/.bash_logout' EXIT
        [[ -r /etc/profile ]] && . /etc/profile
        if [[ -r ~/.bash_profile ]]; then . ~/.bash_profile
        elif [[ -r ~/.bash_login ]]; then . ~/.bash_login
        elif [[ -r ~/.profile ]]; then . ~/.profile
        fi
    else
        # bash itself already read /etc/bash.bashrc (SYS_BASHRC) before this file.
        [[ -r ~/.bashrc ]] && . ~/.bashrc
    fi
elif [[ -n ${L3_NONCE-} ]]; then
    __l3_nonce=$L3_NONCE
    __l3_editors=" ${L3_EDITORS-} "
    __l3_edit_limits=${L3_EDIT_LIMITS-}
    unset L3_NONCE L3_EDITORS L3_EDIT_LIMITS
fi

# Percent-encode $1 into __l3_out: bytes outside 0x21..0x7E, '%' and ';' become %HH.
__l3_enc() {
    local s=$1 p h
    local pat='[^!-$&-:<-~]'
    if [[ $s != *$pat* ]]; then
        __l3_out=$s
        return
    fi
    # Common case, no loop: only %, space, ;, tab and newline need encoding.
    p=$s
    [[ $p == *%* ]] && p=${p//%/%25}
    [[ $p == *' '* ]] && p=${p// /%20}
    [[ $p == *';'* ]] && p=${p//;/%3B}
    [[ $p == *$'\t'* ]] && p=${p//$'\t'/%09}
    [[ $p == *$'\n'* ]] && p=${p//$'\n'/%0A}
    if [[ $p != *[^!-:\<-~]* ]]; then
        __l3_out=$p
        return
    fi
    # Other bytes (controls, non-ASCII): byte by byte in the C locale (setlocale is slow,
    # so only here).
    local LC_ALL=C
    __l3_out=
    while [[ -n $s ]]; do
        p=${s%%$pat*}
        __l3_out+=$p
        s=${s:${#p}}
        [[ -z $s ]] && break
        printf -v h '%%%02X' "'${s:0:1}"
        __l3_out+=$h
        s=${s:1}
    done
}

# DEBUG trap: the first command after a prompt is the user's command line: emit C.
# $1 is the status to return (see __l3_install_trap) and $2 is $_; since $2 is this
# call's last argument, $_ is back to its old value when the trap's next part runs.
__l3_debug() {
    [[ $__l3_armed == 1 ]] || return "$1"
    __l3_armed=0
    # The prompt was left without a command (Ctrl-C, empty line, a comment, a subshell
    # alone, a syntax error): PROMPT_COMMAND again. __l3_precmd looks at the history.
    if [[ $BASH_COMMAND == __l3_precmd* ]]; then
        __l3_idle=1
        return "$1"
    fi
    # A subshell inheriting the trap (set -T) is not the interactive shell.
    [[ $BASHPID == "$__l3_bashpid" ]] || return "$1"
    local line= hist= hc=$HISTCMD
    if builtin fc -ln -0 >|"$__l3_tmp" 2>/dev/null; then
        IFS= read -rd '' hist <"$__l3_tmp"
        hist=${hist#$'\t '}
        while [[ $hist == *$'\n' ]]; do hist=${hist%$'\n'}; done
    fi
    if ((hc >= __l3_hc)); then
        line=$hist             # the line went into the history: it is the last entry
    elif [[ $hist == "$BASH_COMMAND" || $hist == "$BASH_COMMAND"[\ \;\|\&]* ]]; then
        line=$hist             # ignoredups: the last entry is the same line
    else
        line=$BASH_COMMAND     # ignorespace / HISTIGNORE: the first simple command is all we have
    fi
    [[ -z $line ]] && line=$BASH_COMMAND
    ((${#line} > 131072)) && line=${line:0:131072}
    __l3_enc "$line"
    printf '\e]6973;%s;C;%s\a\e]133;C\a' "$__l3_nonce" "$__l3_out" >&2
    __l3_running=1
    __l3_edit_files=()
    __l3_edit_tokens=()
    local w0=${line%%[ $'\n']*}
    [[ $__l3_editors == *" ${w0##*/} "* ]] && __l3_edit_before "$line"
    return "$1"
}

# The command is an editor: keep a copy of each regular file argument (at most N, each at
# most M bytes) as <sid>.edit.<token>.before. One cp per file: editors only.
__l3_edit_before() {
    local -a words
    local w max_files=${__l3_edit_limits%% *} max_bytes=${__l3_edit_limits##* } buf tok
    read -ra words <<<"${1%%$'\n'*}"
    for w in "${words[@]:1}"; do
        ((${#__l3_edit_files[@]} >= max_files)) && break
        [[ $w == -* || $w == +* ]] && continue
        w=${w#[\"\']}; w=${w%[\"\']}
        [[ $w == '~/'* ]] && w=$HOME/${w#'~/'}
        [[ $w == /* ]] || w=$PWD/$w
        [[ -f $w && -r $w ]] || continue
        LC_ALL=C IFS= read -rd '' -N $((max_bytes + 1)) buf <"$w"
        ((${#buf} > max_bytes)) && continue
        tok=$$x$((++__l3_edit_count))
        (umask 077 && exec cp -- "$w" "$L3_SPOOL/$L3_SID.edit.$tok.before") 2>/dev/null || continue
        __l3_edit_files+=("$w")
        __l3_edit_tokens+=("$tok")
    done
}

__l3_edit_after() {
    local i
    for i in "${!__l3_edit_files[@]}"; do
        [[ -f ${__l3_edit_files[i]} ]] &&
            (umask 077 && exec cp -- "${__l3_edit_files[i]}" "$L3_SPOOL/$L3_SID.edit.${__l3_edit_tokens[i]}.after") 2>/dev/null
        __l3_enc "${__l3_edit_files[i]}"
        printf '\e]6973;%s;E;%s;%s\a' "$__l3_nonce" "${__l3_edit_tokens[i]}" "$__l3_out" >&2
    done
    __l3_edit_files=()
}

# A line entered the history but no DEBUG trap ran for it: a comment (`# a note`, the
# user's note in the journal: status 0), a subshell alone (`(cd x && make)`: bash runs no
# DEBUG trap in the parent for it, so C comes only now, after its output, and the record
# has the line and status but not that output), or a syntax error (status 2). Emit C
# and D together. Not seen: such a line dropped by ignoredups/ignorespace.
__l3_lone() {
    local hist= st=$1 ps=$1
    builtin fc -ln -1 >|"$__l3_tmp" 2>/dev/null || return
    IFS= read -rd '' hist <"$__l3_tmp"
    hist=${hist#$'\t '}
    while [[ $hist == *$'\n' ]]; do hist=${hist%$'\n'}; done
    [[ -z $hist ]] && return
    [[ ${hist#"${hist%%[! $'\t']*}"} == '#'* ]] && st=0 ps=0
    ((${#hist} > 131072)) && hist=${hist:0:131072}
    __l3_enc "$hist"
    printf '\e]6973;%s;C;%s\a\e]133;C\a\e]6973;%s;D;%s;%s\a\e]133;D;%s\a' \
        "$__l3_nonce" "$__l3_out" "$__l3_nonce" "$st" "$ps" "$st" >&2
}

# EXIT trap: the shell ends inside a command line (`exit`, `exit 3`, `logout`): its D, so
# the record has the status instead of being `interrupted`. Chains the EXIT trap set
# before the hooks were installed (the login files' ~/.bash_logout, the user's own); an
# EXIT trap the user sets later replaces ours, and `exit` is then recorded interrupted.
__l3_exit() {
    local st=$?
    if ((__l3_running)) && [[ $BASHPID == "$__l3_bashpid" ]]; then
        printf '\e]6973;%s;D;%s;%s\a\e]133;D;%s\a' "$__l3_nonce" "$st" "$st" "$st" >&2
        __l3_running=0
    fi
    return "$st"
}

# First in PROMPT_COMMAND: the command ended; emit D with its status and pipe statuses.
__l3_precmd() {
    local st=$? ps="${PIPESTATUS[*]}"
    if ((__l3_running)); then
        ((${#__l3_edit_files[@]})) && __l3_edit_after
        __l3_enc "$ps"
        printf '\e]6973;%s;D;%s;%s\a\e]133;D;%s\a' "$__l3_nonce" "$st" "$__l3_out" "$st" >&2
        __l3_running=0
    elif ((__l3_idle && HISTCMD > __l3_hc)); then
        __l3_lone "$st"
    fi
    __l3_idle=0
    __l3_armed=0
    __l3_hc=$HISTCMD
    __l3_status=$st
    return "$st"
}

# Last in PROMPT_COMMAND: P and A go into the prompt, B at its end; the prompt's expansion
# also arms the DEBUG trap, so commands of the user's PROMPT_COMMAND never look like input.
__l3_prompt() {
    local st=$__l3_status t
    # Someone replaced our DEBUG trap: adopt theirs and chain it after ours. The trap text
    # was written by our PROMPT_COMMAND element at top level: inside a function `trap -p`
    # does not show the DEBUG trap.
    IFS= read -rd '' t <"$__l3_tmp"
    [[ $t == "$__l3_trap_text" ]] || __l3_install_trap "$t"
    if [[ $PWD != "$__l3_pwd" ]]; then
        __l3_pwd=$PWD
        __l3_enc "$PWD"
        __l3_A=$'\e]6973;'$__l3_nonce';P;'$__l3_out$'\a\e]7;file://'$HOSTNAME$__l3_out$'\a\e]6973;'$__l3_nonce$';A\a\e]133;A\a'
    fi
    if shopt -q promptvars; then
        if [[ $PS1 != "$__l3_ps1_ours" ]]; then
            __l3_ps1_user=$PS1
            PS1='\[${__l3_A}\]'$PS1'\[${__l3_B}${__l3_arm[__l3_armed=1]}\]'
            __l3_ps1_ours=$PS1
        fi
    else
        printf '%s' "$__l3_A" >&2
        __l3_armed=1
    fi
    __l3_order
    [[ $- == *a* ]] && export -n __l3_nonce __l3_A __l3_B
    return "$st"
}

# Keep __l3_precmd first and __l3_prompt last in PROMPT_COMMAND (string or array).
__l3_pc_last='builtin trap -p DEBUG >|"$__l3_tmp"; __l3_prompt'
__l3_order() {
    local pc
    if [[ ${PROMPT_COMMAND@a} == *a* ]]; then
        [[ ${PROMPT_COMMAND[0]} == __l3_precmd && ${PROMPT_COMMAND[-1]} == "$__l3_pc_last" ]] && return
        local -a keep=()
        for pc in "${PROMPT_COMMAND[@]}"; do
            [[ $pc == __l3_precmd || $pc == "$__l3_pc_last" ]] || keep+=("$pc")
        done
        PROMPT_COMMAND=(__l3_precmd "${keep[@]}" "$__l3_pc_last")
    else
        pc=${PROMPT_COMMAND-}
        [[ $pc == __l3_precmd$'\n'*$'\n'"$__l3_pc_last" ]] && return
        pc=${pc//__l3_precmd$'\n'/}
        pc=${pc//$'\n'"$__l3_pc_last"/}
        PROMPT_COMMAND=__l3_precmd$'\n'$pc$'\n'$__l3_pc_last
    fi
}

# Install our DEBUG trap, chaining the user's trap text ($1 as printed by `trap -p`).
__l3_install_trap() {
    __l3_user_trap=
    if [[ -n $1 ]]; then
        __l3_trap_arg() { __l3_user_trap=$2; }
        eval "__l3_trap_arg ${1#trap}"
        unset -f __l3_trap_arg
    fi
    # bash restores $? after the trap by itself; what the trap returns matters under
    # extdebug (non-zero skips the command), so alone we return 0, and chained we hand
    # the user's trap the command's $? and let its status decide, as it would without us.
    if [[ -n $__l3_user_trap ]]; then
        builtin trap '__l3_debug "$?" "$_"; '"$__l3_user_trap" DEBUG
    else
        builtin trap '__l3_debug 0 "$_"' DEBUG
    fi
    builtin trap -p DEBUG >|"$__l3_tmp"
    IFS= read -rd '' __l3_trap_text <"$__l3_tmp"
}

if [[ -n ${__l3_nonce-} && $- == *i* && -n ${L3_SPOOL-} && -n ${L3_SID-} && -z ${__l3_installed-} ]]; then
    __l3_installed=1
    # Scratch file for reading builtin output back without a fork; l3-rec puts it on a
    # tmpfs (a truncate+write on ext4 can wait for the disk on close).
    __l3_tmp=${L3_HOOK_TMP:-$L3_SPOOL/.$L3_SID.hook}
    unset L3_HOOK_TMP
    __l3_bashpid=$BASHPID
    __l3_armed=0 __l3_running=0 __l3_idle=0 __l3_status=0 __l3_hc=$HISTCMD __l3_edit_count=0 __l3_pwd=
    declare -a __l3_arm=() __l3_edit_files=() __l3_edit_tokens=()
    __l3_B=$'\e]6973;'$__l3_nonce$';B\a\e]133;B\a'
    # Multi-line commands keep their newlines in the history entry we read back.
    shopt -q cmdhist && shopt -s lithist
    # Not $(trap -p): a command substitution does not see the DEBUG trap.
    builtin trap -p DEBUG >|"$__l3_tmp"
    IFS= read -rd '' __l3_trap_text <"$__l3_tmp"
    __l3_install_trap "$__l3_trap_text"
    builtin trap -p EXIT >|"$__l3_tmp"
    IFS= read -rd '' __l3_exit_trap <"$__l3_tmp"
    if [[ -n $__l3_exit_trap ]]; then
        __l3_trap_arg() { __l3_exit_trap=$2; }
        eval "__l3_trap_arg ${__l3_exit_trap#trap}"
        unset -f __l3_trap_arg
        builtin trap '__l3_exit; '"$__l3_exit_trap" EXIT
    else
        builtin trap __l3_exit EXIT
    fi
    __l3_order
fi
