# l3.bash — lilalo shell integration for bash. docs/capture.md describes the marks.
#
# l3-rec starts bash as `bash --rcfile l3.bash -i`, so this file stands in for ~/.bashrc:
# it takes the session nonce, sources the user's own startup files (the login ones when
# L3_LOGIN=1, since --rcfile cannot be combined with a login shell), and installs the
# hooks last. Sourced by hand (from a .bashrc inside `l3-rec -- bash`) it only installs
# the hooks.
#
# Where each mark comes from, and why there (docs/capture.md, "How the bash hook holds"):
#   PS0 (expanded once per command line the shell read, before it runs) counts lines in
#     __l3_seq by arithmetic alone, no fork; the DEBUG trap's first call for a new count
#     emits C, so each line of a multi-line paste is its own record;
#   the line comes from the history: while the prompt waits, the hook lifts the user's
#     HISTCONTROL/HISTIGNORE/`set +o history` so every line enters it, and puts them
#     back (dropping or deduplicating the entry as they would have) before the line runs;
#     with history off (`set +o history`), Enter hands readline's buffer over (bind -x)
#     and PS0's LINENO says which of its lines each command was;
#   D comes from our PROMPT_COMMAND elements (the first, or the last when a plain
#     `PROMPT_COMMAND=…` replaced the first), or from the DEBUG trap of the next pasted
#     line; PS1 carries A and B.
# Every prompt puts back what the user's code moved: our PROMPT_COMMAND elements (first
# and last, PROMPT_COMMAND kept an array so that a plain `PROMPT_COMMAND=…` replaces only
# the user's part), the PS0/PS1 wrappers, and our DEBUG and EXIT traps in front of the
# user's. The hook functions are parsed with aliases off and call builtins as `builtin`,
# run clean under set -euo pipefail, extdebug, nounset, noclobber and any IFS, and return
# 0 where a status would trip the user's ERR trap or errexit. No fork per command; the
# command's $?, PIPESTATUS and $_ are kept; no fd is left open; marks go to stderr.
# The hooks do nothing unless the nonce came from l3-rec.

# The nonce: l3-rec hands it through a pipe (fd L3_NONCE_FD) that we read once and close,
# so no copy is left in any environment, argv or file. A shell started inside the session
# (nested bash, exec bash, su, sudo -i) has no such fd: it asks the recorder it runs under
# for a nonce of its own (`l3-rec --nonce $$` answers through a pipe too, and only to a
# shell that is a descendant of that recorder; docs/capture.md, "Inner shells").
# Sets __l3_nonce; returns 1 without.
__l3_take_nonce() {
    local fd=${L3_NONCE_FD-} n=
    builtin unset L3_NONCE_FD
    if [[ $fd =~ ^[1-9][0-9]{0,3}$ ]]; then
        IFS= builtin read -r -t 1 -u "$fd" n 2>/dev/null || :
        { \exec {fd}<&-; } 2>/dev/null
    elif [[ -z $fd && $- == *i* ]]; then
        IFS= builtin read -r -t 2 n < <(command "${L3_REC:-l3-rec}" --nonce "$$" 2>/dev/null) || :
        __l3_inner=1
    fi
    if [[ $n =~ ^[0-9a-f]{32}$ ]]; then
        __l3_nonce=$n
        __l3_editors=" ${L3_EDITORS-} "
        __l3_edit_limits=${L3_EDIT_LIMITS-}
    fi
    builtin unset L3_EDITORS L3_EDIT_LIMITS L3_NONCE
    [[ -n ${__l3_nonce-} ]]
}

if [[ ${#BASH_SOURCE[@]} -le 1 && -z ${__l3_rc_done-} ]]; then
    # Running as the rcfile. The nonce must be gone before any user file runs a command.
    __l3_rc_done=1
    __l3_take_nonce || :
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
elif [[ -z ${__l3_nonce-} ]]; then
    __l3_take_nonce || :
fi

# The user's aliases must not rewrite our functions (`alias printf=…`, `alias read=…`):
# aliases are expanded when a function is parsed, so parse ours with them off.
__l3_aliases=0
if shopt -q expand_aliases; then
    __l3_aliases=1
    shopt -u expand_aliases
fi

# Percent-encode $1 into __l3_out: bytes outside 0x21..0x7E, '%' and ';' become %HH.
__l3_enc() {
    local __l3_s=$1 __l3_p __l3_h
    local __l3_pat='[^!-$&-:<-~]'
    if [[ $__l3_s != *$__l3_pat* ]]; then
        __l3_out=$__l3_s
        return 0
    fi
    # Common case, no loop: only %, space, ;, tab and newline need encoding.
    __l3_p=$__l3_s
    __l3_p=${__l3_p//%/%25}
    __l3_p=${__l3_p// /%20}
    __l3_p=${__l3_p//;/%3B}
    __l3_p=${__l3_p//$'\t'/%09}
    __l3_p=${__l3_p//$'\n'/%0A}
    if [[ $__l3_p != *[^!-:\<-~]* ]]; then
        __l3_out=$__l3_p
        return 0
    fi
    # Other bytes (controls, non-ASCII): byte by byte in the C locale (setlocale is slow,
    # so only here).
    local LC_ALL=C
    __l3_out=
    while [[ -n $__l3_s ]]; do
        __l3_p=${__l3_s%%$__l3_pat*}
        __l3_out+=$__l3_p
        __l3_s=${__l3_s:${#__l3_p}}
        [[ -n $__l3_s ]] || break
        builtin printf -v __l3_h '%%%02X' "'${__l3_s:0:1}"
        __l3_out+=$__l3_h
        __l3_s=${__l3_s:1}
    done
    return 0
}

# DEBUG trap. $1 is the status the trap returns (see __l3_install_trap), $2 the command's
# $?, then its PIPESTATUS, and last $_ (as this call's last argument, $_ is the user's again
# when the trap's next part runs). The first command of a line the shell read (PS0 counted
# it in __l3_seq) is the user's command line: emit C. A line pasted together with others
# runs without a prompt before it: its first command closes the previous line with D.
__l3_debug() {
    # The common call (any command but a line's first) costs two tests; safe as they are
    # under errexit and nounset, so `local -` comes after them.
    if [[ $__l3_seq == "$__l3_seq_done" ]] && ((!__l3_armed)); then
        # Inside a line. `exit` after a `trap … EXIT` of the user's own on the same line:
        # put ours back in front of theirs now, or exit's D would be lost.
        if ((__l3_running)) && [[ $BASH_COMMAND == exit* || $BASH_COMMAND == logout* ]]; then
            __l3_adopt_exit
        fi
        return "$1"
    fi
    # Between __l3_precmd and __l3_prompt (armed=2): the call made for __l3_prompt itself
    # proves our DEBUG trap is still set, so __l3_prompt need not read `trap -p` back.
    if ((__l3_armed == 2)); then
        [[ $BASH_COMMAND != __l3_prompt ]] || __l3_armed=3
        return "$1"
    fi
    # Under functrace (extdebug, set -T) the trap also runs inside our own functions.
    [[ ${FUNCNAME[1]-} != __l3_* ]] || return "$1"
    # (`local -` and `set` cost a few µs: only when the user's options need it.)
    if [[ $- == *[eu]* ]]; then local -; builtin set +eu; fi
    # A subshell inheriting the trap (set -T) is not the interactive shell.
    [[ $BASHPID == "$__l3_bashpid" ]] || return "$1"
    # The line ran nothing in this shell (a subshell alone): PROMPT_COMMAND is next.
    [[ $BASH_COMMAND != __l3_precmd ]] || return "$1"
    __l3_seq_done=$__l3_seq
    __l3_armed=0
    if ((__l3_running)); then
        __l3_close "${@:2:$# - 2}"
    fi
    local line= hist= hc=$HISTCMD ex=
    # The line from the history and, in the same file, the EXIT trap (a `trap … EXIT`
    # the previous line set gets ours in front of it now; `exit` on the same line is
    # caught above). The history line cannot hold a NUL, so NUL separates them.
    # (Each redirection costs 10-20 µs, the most of anything here: there are two. fc's
    # error on an empty history goes into the file too, and \1 says so.)
    { builtin fc -ln -0 || builtin printf '\1'; builtin printf '\0'; builtin trap -p EXIT; } >|"$__l3_tmp" 2>&1
    { IFS= builtin read -rd '' hist; IFS= builtin read -rd '' ex; } <"$__l3_tmp" || :
    [[ $hist != *$'\1' ]] || hist=
    hist=${hist#$'\t '}
    while [[ $hist == *$'\n' ]]; do hist=${hist%$'\n'}; done
    [[ $ex == "$__l3_exit_text" ]] || __l3_adopt_exit "$ex"
    if ((hc > __l3_hc_c)); then
        line=$hist             # the line went into the history: it is the last entry
        __l3_hist_restore "$line"
    elif ((__l3_rl_bound)) && __l3_rl_cut; then
        line=$__l3_out         # history off: the lines Enter handed over (__l3_rl_take)
    elif [[ $hist == "$BASH_COMMAND" || $hist == "$BASH_COMMAND"[\ \;\|\&]* ]]; then
        line=$hist             # ignoredups: the last entry is the same line
    else
        line=$BASH_COMMAND     # a pasted line the user's settings kept out of the history
    fi
    ((!__l3_forced)) || __l3_hist_restore ""
    __l3_hc_c=$HISTCMD
    [[ -n $line ]] || line=$BASH_COMMAND
    ((${#line} <= 131072)) || line=${line:0:131072}
    __l3_enc "$line"
    builtin printf '\e]6973;%s;C;%s\a\e]133;C\a' "$__l3_nonce" "$__l3_out" >&2
    __l3_running=1
    __l3_edit_files=()
    __l3_edit_tokens=()
    local w0=${line%%[ $'\n']*}
    if [[ $__l3_editors == *" ${w0##*/} "* ]]; then
        __l3_edit_before "$line"
    fi
    # PROMPT_COMMAND replaced wholesale (`PROMPT_COMMAND=(…)`, `unset PROMPT_COMMAND`)
    # by the line before: ours back before the next prompt.
    [[ ${PROMPT_COMMAND-} == __l3_precmd && ${PROMPT_COMMAND[-1]} == "$__l3_pc_last" ]] || __l3_order
    return "$1"
}

# D for the command line that ran: $1 its status, then its PIPESTATUS.
__l3_close() {
    local __l3_st=$1 IFS=' '
    shift
    if ((${#__l3_edit_files[@]})); then
        __l3_edit_after
    fi
    if (($#)); then
        __l3_enc "$*"
    else
        __l3_out=$__l3_st
    fi
    builtin printf '\e]6973;%s;D;%s;%s\a\e]133;D;%s\a' "$__l3_nonce" "$__l3_st" "$__l3_out" "$__l3_st" >&2
    __l3_running=0
    return 0
}

# The command is an editor: keep a copy of each regular file argument (at most N, each at
# most M bytes) as <sid>.edit.<token>.before. One cp per file: editors only.
__l3_edit_before() {
    local -a words
    local w max_files=${__l3_edit_limits%% *} max_bytes=${__l3_edit_limits##* } buf tok IFS=$' \t\n'
    builtin read -ra words <<<"${1%%$'\n'*}" || :
    for w in "${words[@]:1}"; do
        ((${#__l3_edit_files[@]} < max_files)) || break
        [[ $w != -* && $w != +* ]] || continue
        w=${w#[\"\']}; w=${w%[\"\']}
        [[ $w != '~/'* ]] || w=$HOME/${w#'~/'}
        [[ $w == /* ]] || w=$PWD/$w
        [[ -f $w && -r $w ]] || continue
        LC_ALL=C IFS= builtin read -rd '' -N $((max_bytes + 1)) buf <"$w" || :
        ((${#buf} <= max_bytes)) || continue
        tok=$$x$((++__l3_edit_count))
        (umask 077 && builtin exec cp -- "$w" "$__l3_spool/$__l3_sid.edit.$tok.before") 2>/dev/null || continue
        __l3_edit_files+=("$w")
        __l3_edit_tokens+=("$tok")
    done
    return 0
}

__l3_edit_after() {
    local __l3_i
    for __l3_i in "${!__l3_edit_files[@]}"; do
        if [[ -f ${__l3_edit_files[__l3_i]} ]]; then
            (umask 077 && builtin exec cp -- "${__l3_edit_files[__l3_i]}" "$__l3_spool/$__l3_sid.edit.${__l3_edit_tokens[__l3_i]}.after") 2>/dev/null || :
        fi
        __l3_enc "${__l3_edit_files[__l3_i]}"
        builtin printf '\e]6973;%s;E;%s;%s\a' "$__l3_nonce" "${__l3_edit_tokens[__l3_i]}" "$__l3_out" >&2
    done
    __l3_edit_files=()
    return 0
}

# While the prompt waits, every line must enter the history, so the DEBUG trap can read
# it back whole: lift the user's HISTCONTROL and HISTIGNORE (readonly ones stay).
# __l3_hist_restore puts them back before the line runs. (`set +o history` cannot be
# lifted so: bash restores that option after PROMPT_COMMAND and every trap.)
__l3_hist_force() {
    __l3_forced=0
    __l3_u_hc=${HISTCONTROL-} __l3_u_hc_set=${HISTCONTROL+1}
    __l3_u_hi=${HISTIGNORE-} __l3_u_hi_set=${HISTIGNORE+1}
    if [[ $__l3_u_hc == *[a-z]* && ${HISTCONTROL@a} != *r* ]]; then
        HISTCONTROL=
        __l3_forced=1
    fi
    if [[ -n $__l3_u_hi && ${HISTIGNORE@a} != *r* ]]; then
        HISTIGNORE=
        __l3_forced=1
    fi
    return 0
}

# Put the user's history settings back; $1 is the line that entered the history while
# they were lifted (empty: nothing did). Its entry is deleted and re-added with `history
# -s` under their settings, which does what bash would have done: ignorespace,
# ignoredups and HISTIGNORE drop it, erasedups erases the older copies.
__l3_hist_restore() {
    ((__l3_forced)) || return 0
    __l3_forced=0
    if [[ -n $__l3_u_hc_set ]]; then HISTCONTROL=$__l3_u_hc; else builtin unset HISTCONTROL; fi
    if [[ -n $__l3_u_hi_set ]]; then HISTIGNORE=$__l3_u_hi; else builtin unset HISTIGNORE; fi
    # (Our hooks run where bash has history off for itself, so `history -s` alone would
    # not replace the entry: delete it first.)
    if [[ -n $1 ]]; then
        builtin history -d -1 2>/dev/null || :
        builtin history -s -- "$1" 2>/dev/null || :
    fi
    return 0
}

# A line entered the history but no DEBUG trap ran for it: a comment (`# a note`, the
# user's note in the journal: status 0), a subshell alone (`(cd x && make)`: bash runs no
# DEBUG trap in the parent for it, so C comes only now, after its output, and the record
# has the line and status but not that output), or a syntax error (status 2). Emit C
# and D together.
__l3_lone() {
    local __l3_hist= __l3_st=$1 __l3_ps=$1
    if ((__l3_rl_bound)); then
        # History off: the last entry is an old line; the lines Enter handed over are this one.
        __l3_rl_cut || return 0
        __l3_hist=$__l3_out
    else
        builtin fc -ln -1 >|"$__l3_tmp" 2>/dev/null || return 0
        IFS= builtin read -rd '' __l3_hist <"$__l3_tmp" || :
    fi
    __l3_hist=${__l3_hist#$'\t '}
    while [[ $__l3_hist == *$'\n' ]]; do __l3_hist=${__l3_hist%$'\n'}; done
    __l3_hist_restore "$__l3_hist"
    [[ -n $__l3_hist ]] || return 0
    if [[ ${__l3_hist#"${__l3_hist%%[! $'\t']*}"} == '#'* ]]; then
        __l3_st=0 __l3_ps=0
    fi
    ((${#__l3_hist} <= 131072)) || __l3_hist=${__l3_hist:0:131072}
    __l3_enc "$__l3_hist"
    builtin printf '\e]6973;%s;C;%s\a\e]133;C\a\e]6973;%s;D;%s;%s\a\e]133;D;%s\a' \
        "$__l3_nonce" "$__l3_out" "$__l3_nonce" "$__l3_st" "$__l3_ps" "$__l3_st" >&2
    return 0
}

# EXIT trap: the shell ends inside a command line (`exit`, `exit 3`, `logout`): its D, so
# the record has the status instead of being `interrupted`. The user's own EXIT trap runs
# after it (__l3_adopt_exit puts ours in front of each new one).
__l3_exit() {
    local st=$?
    [[ $BASHPID == "$__l3_bashpid" ]] || return "$st"
    if ((__l3_running)); then
        builtin printf '\e]6973;%s;D;%s;%s\a\e]133;D;%s\a' "$__l3_nonce" "$st" "$st" "$st" >&2
        __l3_running=0
    fi
    # Ctrl-D at the prompt: the user's history settings back before bash saves the history.
    __l3_hist_restore ""
    [[ -z ${__l3_tmp_own-} ]] || command rm -f -- "$__l3_tmp"
    # The user's trap text after ours sees the exit status as $?; under errexit a
    # non-zero return would end the trap before it.
    [[ $- == *e* ]] && return 0
    return "$st"
}

# Our EXIT trap in front of the one now set (the user's, or the login files' ~/.bash_logout);
# $1 is `trap -p EXIT` when the caller has it.
__l3_adopt_exit() {
    local __l3_t=${1-}
    if ((!$#)); then
        builtin trap -p EXIT >|"$__l3_tmp" 2>/dev/null || return 0
        IFS= builtin read -rd '' __l3_t <"$__l3_tmp" || :
    fi
    [[ $__l3_t != "$__l3_exit_text" ]] || return 0
    __l3_user_exit=
    if [[ -n $__l3_t ]]; then
        __l3_trap_arg() { __l3_user_exit=$2; }
        builtin eval "__l3_trap_arg ${__l3_t#trap}"
        builtin unset -f __l3_trap_arg
    fi
    if [[ -n $__l3_user_exit ]]; then
        builtin trap "__l3_exit; $__l3_user_exit" EXIT
    else
        builtin trap __l3_exit EXIT
    fi
    builtin trap -p EXIT >|"$__l3_tmp"
    IFS= builtin read -rd '' __l3_exit_text <"$__l3_tmp" || :
    return 0
}

# First in PROMPT_COMMAND: the line ended; emit D with its status and pipe statuses ($?
# and PIPESTATUS are the line's in every PROMPT_COMMAND element: bash restores them).
__l3_precmd() {
    local __l3_st=$? __l3_ps=("${PIPESTATUS[@]}")
    # (`local -` and `set` cost a few µs: only when the user's options need it.)
    if [[ $- == *[eu]* ]]; then local -; builtin set +eu; fi
    if ((__l3_running)); then
        __l3_close "$__l3_st" "${__l3_ps[@]}"
    elif [[ $__l3_seq != "$__l3_seq_done" ]] || ((__l3_hc >= 0 && HISTCMD > __l3_hc)); then
        __l3_lone "$__l3_st"
    fi
    ((!__l3_forced)) || __l3_hist_restore ""
    __l3_seq_done=$__l3_seq
    __l3_armed=2
    return 0
}

# Last in PROMPT_COMMAND: P and A go into the prompt, B at its end; PS0 counts the lines.
# Also the place where what the user's code moved is put back.
__l3_prompt() {
    # $? and PIPESTATUS are the line's here too (bash restores them around the DEBUG
    # trap and for each PROMPT_COMMAND element).
    __l3_pc_st=$? __l3_pc_ps=("${PIPESTATUS[@]}")
    # (`local -` and `set` cost a few µs: only when the user's options need it.)
    if [[ $- == *[eu]* ]]; then local -; builtin set +eu; fi
    local __l3_t
    # Our first element was replaced (`PROMPT_COMMAND='history -a'`): D from here, once,
    # with the status our PROMPT_COMMAND element saw.
    if ((__l3_running)); then
        __l3_close "$__l3_pc_st" "${__l3_pc_ps[@]}"
        __l3_hist_restore ""
        __l3_seq_done=$__l3_seq
    fi
    # Our DEBUG trap did not run for this function (armed is not 3): someone replaced or
    # removed it. Adopt theirs and chain it after ours. (The EXIT trap is checked where
    # the next line starts, in __l3_debug.)
    if ((__l3_armed != 3)); then
        __l3_t=
        __l3_trap_probe
        IFS= builtin read -rd '' __l3_t <"$__l3_tmp" || :
        [[ $__l3_t == "$__l3_trap_text" ]] || __l3_install_trap "$__l3_t"
    fi
    __l3_armed=0
    # An inner shell owns its scratch file and removes it in our EXIT trap: after a
    # `trap … EXIT` of the user's, ours goes back in front now, before a Ctrl-D.
    if [[ -n ${__l3_tmp_own-} ]]; then
        builtin trap -p EXIT >|"$__l3_tmp"
        __l3_t=
        IFS= builtin read -rd '' __l3_t <"$__l3_tmp" || :
        [[ $__l3_t == "$__l3_exit_text" ]] || __l3_adopt_exit "$__l3_t"
    fi
    if [[ $PWD != "$__l3_pwd" ]]; then
        __l3_pwd=$PWD
        __l3_enc "$PWD"
        __l3_A=$'\e]6973;'$__l3_nonce';P;'$__l3_out$'\a\e]7;file://'${HOSTNAME-}$__l3_out$'\a\e]6973;'$__l3_nonce$';A\a\e]133;A\a'
    fi
    if builtin shopt -q promptvars; then
        if [[ ${PS1-} != "$__l3_ps1_ours" ]]; then
            PS1=$__l3_ps1_pre${PS1-}'\[${__l3_B-}\]'
            __l3_ps1_ours=$PS1
        fi
        if [[ ${PS0-} != "$__l3_ps0_ours" ]]; then
            PS0=${PS0-}'${__l3_arm[__l3_seq+=1,__l3_ps0_ln=LINENO]-}'
            __l3_ps0_ours=$PS0
        fi
    else
        builtin printf '%s' "$__l3_A" >&2
        __l3_armed=1
    fi
    [[ ${PROMPT_COMMAND-} == __l3_precmd && ${PROMPT_COMMAND[-1]} == "$__l3_pc_last" ]] || __l3_order
    __l3_hc=$HISTCMD
    __l3_hc_c=$((HISTCMD - 1))
    __l3_hist_force
    # History off or on again since the last prompt: Enter's binding follows.
    if [[ -o history ]]; then
        ((!__l3_rl_bound)) || __l3_rl_bind 0
    elif ((!__l3_rl_bound)) && [[ -o emacs || -o vi ]]; then
        __l3_rl_bind 1
    fi
    if ((__l3_rl_bound)); then
        # Lines read from here on are numbered from the line after the last one read.
        __l3_rl_text= __l3_rl_n=0 __l3_rl_base=$((BASH_LINENO[0] + 1))
        __l3_rl_next=$__l3_rl_base
    fi
    [[ $- != *a* ]] || builtin export -n __l3_nonce __l3_A __l3_B
    return 0
}

# History off (`set +o history`): no line reaches the history, and bash puts the option
# back after PROMPT_COMMAND, traps and `bind -x` code, so the hook cannot lift it as it
# lifts HISTCONTROL. While it is off (only then), Enter and Ctrl-J in the emacs and vi
# keymaps run a macro: first __l3_rl_take gets readline's whole buffer (`bind -x`), then
# accept-line. The lines it handed over are numbered from the line after the last one
# bash read before the prompt (BASH_LINENO in PROMPT_COMMAND); PS0 notes the number of
# the last line of each command bash parsed (LINENO), so __l3_rl_cut knows which lines
# were this command, pastes and PS2 continuation lines included. The user's bindings of
# those keys are saved and put back when history is on again.
__l3_rl_keymaps=(emacs vi-insert vi-command)
__l3_rl_take() {
    if ((__l3_rl_n++)); then __l3_rl_text+=$'\n'; fi
    __l3_rl_text+=${READLINE_LINE-}
    return 0
}

# The command whose last line PS0 noted: its lines (leading blank and comment lines
# dropped, as the history would not have them in the line) into __l3_out; 1 if unknown.
__l3_rl_cut() {
    local __l3_i __l3_l IFS=
    local -a __l3_lines
    local -i __l3_first=$((__l3_rl_next - __l3_rl_base)) __l3_last=$((__l3_ps0_ln - __l3_rl_base))
    __l3_rl_next=$((__l3_ps0_ln + 1))
    ((__l3_rl_n && __l3_first >= 0 && __l3_last >= __l3_first)) || return 1
    builtin mapfile -t __l3_lines <<<"$__l3_rl_text"
    ((__l3_last < ${#__l3_lines[@]})) || return 1
    __l3_out=
    for ((__l3_i = __l3_first; __l3_i <= __l3_last; __l3_i++)); do
        __l3_l=${__l3_lines[__l3_i]}
        if [[ -z $__l3_out && ( -z ${__l3_l//[$' \t']/} || ${__l3_l#"${__l3_l%%[! $'\t']*}"} == '#'* ) ]]; then
            continue
        fi
        __l3_out+=${__l3_out:+$'\n'}$__l3_l
    done
    [[ -n $__l3_out ]]
}

# $1 = 1: bind Enter to take the buffer first (saving the user's bindings); 0: put the
# user's bindings back.
__l3_rl_bind() {
    local __l3_km __l3_k __l3_b IFS=$'\n'
    if (($1)); then
        __l3_rl_saved=()
        for __l3_km in "${__l3_rl_keymaps[@]}"; do
            # Functions and macros, then (after a line `#-x`) `bind -x` commands.
            { builtin bind -m "$__l3_km" -p; builtin bind -m "$__l3_km" -s; builtin echo '#-x'; builtin bind -m "$__l3_km" -X; } >|"$__l3_tmp" 2>/dev/null
            __l3_k=
            while builtin read -r __l3_b; do
                [[ $__l3_b != '#-x' ]] || { __l3_k='-x '; continue; }
                [[ $__l3_b == '"\C-m": '* || $__l3_b == '"\C-j": '* ]] && __l3_rl_saved+=("$__l3_km" "$__l3_k$__l3_b")
            done <"$__l3_tmp"
            builtin bind -m "$__l3_km" -x '"\C-x\C-]1": __l3_rl_take'
            builtin bind -m "$__l3_km" '"\C-x\C-]2": accept-line'
            builtin bind -m "$__l3_km" '"\C-m": "\C-x\C-]1\C-x\C-]2"'
            builtin bind -m "$__l3_km" '"\C-j": "\C-x\C-]1\C-x\C-]2"'
        done 2>/dev/null
        __l3_rl_bound=1
    else
        for __l3_km in "${__l3_rl_keymaps[@]}"; do
            for __l3_k in '\C-m' '\C-j'; do builtin bind -m "$__l3_km" -r "$__l3_k"; done
        done 2>/dev/null
        for ((__l3_k = 0; __l3_k < ${#__l3_rl_saved[@]}; __l3_k += 2)); do
            __l3_km=${__l3_rl_saved[__l3_k]} __l3_b=${__l3_rl_saved[__l3_k + 1]}
            if [[ $__l3_b == '-x '* ]]; then
                builtin bind -m "$__l3_km" -x "${__l3_b#-x }"
            else
                builtin bind -m "$__l3_km" "$__l3_b"
            fi
        done 2>/dev/null
        __l3_rl_bound=0
    fi
    return 0
}

# PS1's prefix: P and A. No side effect in it: bash also expands PS1 (without showing it)
# between the lines of a multi-line paste.
__l3_ps1_pre='\[${__l3_A-}\]'

# PROMPT_COMMAND is kept an array (bash >= 5.1): (__l3_precmd, the user's…, ours last).
# A plain assignment by the user replaces element 0 only; __l3_prompt, last, notices and
# gives the new text its place after __l3_precmd, as the whole of the user's part unless
# it was built from "$PROMPT_COMMAND" (then the user's old part is kept around it).
__l3_pc_last=__l3_prompt
__l3_order() {
    local __l3_pc IFS=$' \t\n'
    local -a __l3_user=()
    if ((__l3_pc_string)); then
        # Older bash: one string, ours first and last.
        __l3_pc=${PROMPT_COMMAND-}
        [[ $__l3_pc != __l3_precmd$'\n'*$'\n'"$__l3_pc_last" ]] || return 0
        __l3_pc=${__l3_pc//__l3_precmd$'\n'/}
        __l3_pc=${__l3_pc//$'\n'"$__l3_pc_last"/}
        PROMPT_COMMAND=__l3_precmd$'\n'$__l3_pc$'\n'$__l3_pc_last
        return 0
    fi
    if [[ -n ${PROMPT_COMMAND+1} && ${PROMPT_COMMAND@a} == *a* ]]; then
        [[ ${PROMPT_COMMAND[0]-} != __l3_precmd || ${PROMPT_COMMAND[-1]} != "$__l3_pc_last" ]] || return 0
        __l3_pc=${PROMPT_COMMAND[0]-}
        if [[ $__l3_pc != __l3_precmd && ${PROMPT_COMMAND[-1]} == "$__l3_pc_last" && $__l3_pc != *__l3_precmd* ]]; then
            # A plain assignment replaced the user's part.
            [[ -z $__l3_pc ]] || __l3_user=("$__l3_pc")
        else
            # "…$PROMPT_COMMAND…" (or +=) made element 0 the user's text around ours: what
            # came before it runs before the user's other elements, what came after, after.
            local __l3_pre= __l3_post=
            for __l3_pc in "${PROMPT_COMMAND[@]}"; do
                if [[ $__l3_pc == *__l3_precmd* && $__l3_pc != __l3_precmd ]]; then
                    __l3_pre=${__l3_pc%%__l3_precmd*}
                    __l3_post=${__l3_pc#*__l3_precmd}
                    __l3_pre=${__l3_pre%"${__l3_pre##*[!$'; \t\n']}"}
                    __l3_post=${__l3_post#"${__l3_post%%[!$'; \t\n']*}"}
                    continue
                fi
                [[ $__l3_pc == __l3_precmd || $__l3_pc == "$__l3_pc_last" || -z ${__l3_pc//[$'; \t\n']/} ]] || __l3_user+=("$__l3_pc")
            done
            [[ -z ${__l3_pre//[$'; \t\n']/} ]] || __l3_user=("$__l3_pre" "${__l3_user[@]}")
            [[ -z ${__l3_post//[$'; \t\n']/} ]] || __l3_user+=("$__l3_post")
        fi
    else
        __l3_pc=${PROMPT_COMMAND-}
        [[ -z ${__l3_pc//[$'; \t\n']/} ]] || __l3_user=("$__l3_pc")
    fi
    PROMPT_COMMAND=(__l3_precmd "${__l3_user[@]}" "$__l3_pc_last")
    return 0
}

__l3_nop() { return 0; }

# `trap -p DEBUG` into the scratch file. Inside a function the DEBUG trap is hidden
# unless the function has the trace attribute, which this one alone gets (declare -t).
__l3_trap_probe() {
    builtin trap -p DEBUG >|"$__l3_tmp"
}

# Install our DEBUG trap, chaining the user's trap text ($1 as printed by `trap -p`).
__l3_install_trap() {
    __l3_user_trap=
    if [[ -n $1 ]]; then
        __l3_trap_arg() { __l3_user_trap=$2; }
        builtin eval "__l3_trap_arg ${1#trap}"
        builtin unset -f __l3_trap_arg
    fi
    # bash restores $? after the trap by itself; what the trap returns matters under
    # extdebug (non-zero skips the command), so alone we return 0, and chained we hand
    # the user's trap the command's $? and let its status decide, as it would without us.
    # `&& __l3_nop "$_"`: the user's text sees the command's $? and $_, and a non-zero $?
    # fails no simple command of ours (their ERR trap and errexit stay quiet).
    if [[ -n $__l3_user_trap ]]; then
        builtin trap '__l3_debug "$?" "$?" "${PIPESTATUS[@]}" "$_" && __l3_nop "$_"; '"$__l3_user_trap" DEBUG
    else
        builtin trap '__l3_debug 0 "$?" "${PIPESTATUS[@]}" "$_"' DEBUG
    fi
    builtin trap -p DEBUG >|"$__l3_tmp"
    IFS= builtin read -rd '' __l3_trap_text <"$__l3_tmp" || :
    return 0
}

# Scratch file for reading builtin output back without a fork; l3-rec puts it on a tmpfs
# (a truncate+write on ext4 can wait for the disk on close). An inner shell makes its own
# (one fork, at start) and removes it at exit. Returns 1 when there is none.
__l3_scratch() {
    __l3_tmp=${L3_HOOK_TMP-}
    builtin unset L3_HOOK_TMP
    if [[ -z $__l3_tmp && -z ${__l3_inner-} && -n ${L3_SPOOL-} && -n ${L3_SID-} ]]; then
        __l3_tmp=$L3_SPOOL/.$L3_SID.hook
    elif [[ -z $__l3_tmp ]]; then
        local d
        for d in "${XDG_RUNTIME_DIR-}" /dev/shm "${TMPDIR:-/tmp}"; do
            [[ -n $d && -d $d && -w $d ]] && break
        done
        __l3_tmp=$(builtin umask 077 && command mktemp -p "$d" .l3-hook.XXXXXXXX 2>/dev/null)
        __l3_tmp_own=1
    fi
    [[ -n $__l3_tmp ]]
}

if [[ -n ${__l3_nonce-} && $- == *i* && -z ${__l3_installed-} ]] && __l3_scratch; then
    __l3_installed=1
    # Editor copies go to the spool; an inner shell of another user (su) cannot write
    # there, and after `sudo -i` it is not even named: then no copies, the rest works.
    __l3_spool=${L3_SPOOL-} __l3_sid=${L3_SID-}
    __l3_bashpid=$BASHPID
    __l3_rl_bound=0 __l3_rl_n=0 __l3_rl_text= __l3_rl_base=0 __l3_rl_next=0 __l3_ps0_ln=0
    declare -a __l3_rl_saved=()
    __l3_armed=0 __l3_running=0 __l3_hc=-1 __l3_hc_c=$HISTCMD __l3_edit_count=0
    __l3_pwd= __l3_A= __l3_seq=0 __l3_seq_done=0 __l3_forced=0 __l3_pc_st=0
    __l3_ps0_ours=$'\1' __l3_ps1_ours=$'\1' __l3_exit_text=$'\1' __l3_user_exit= __l3_user_trap=
    __l3_pc_string=$((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] < 501))
    declare -a __l3_arm=() __l3_edit_files=() __l3_edit_tokens=() __l3_pc_ps=()
    __l3_B=$'\e]6973;'$__l3_nonce$';B\a\e]133;B\a'
    # Multi-line commands keep their newlines in the history entry we read back.
    if builtin shopt -q cmdhist; then builtin shopt -s lithist; fi
    # Not $(trap -p): a command substitution does not see the DEBUG trap.
    builtin trap -p DEBUG >|"$__l3_tmp"
    IFS= builtin read -rd '' __l3_trap_text <"$__l3_tmp" || :
    __l3_install_trap "$__l3_trap_text"
    __l3_adopt_exit
    builtin declare -ft __l3_trap_probe
    __l3_order
fi
((!__l3_aliases)) || shopt -s expand_aliases
unset __l3_aliases
