# l3.zsh — lilalo shell integration for zsh. docs/capture.md describes the marks.
#
# l3-rec starts zsh with ZDOTDIR pointing at conf/shell/zsh, whose startup files source
# the user's own (from the user's ZDOTDIR or $HOME) and then this file, so the hooks are
# installed after the user's setup. No fork per command: preexec receives the command
# line as the shell read it (after history expansion, newlines kept), precmd sees $? and
# $pipestatus first because our function is put first in precmd_functions. Marks go to
# stderr like the prompt's bytes; no fd stays open. Only active under l3-rec.
#
# PROMPT_SP: zsh prints its partial-line marker (PROMPT_EOL_MARK, a row of spaces, CR SP
# CR) before any hook runs, so it would end every command's output, before D. We turn the
# option off and print the same bytes ourselves just after D: the terminal shows the same.
# A `setopt prompt_sp` later is noticed (from then on ours again); `unsetopt prompt_sp`
# after startup is not (set __l3_sp=0 instead). Not reproduced: a user function named
# `precmd` (zsh runs it before precmd_functions) prints before the marker instead of
# after it, and with IGNORE_EOF the marker also follows zsh's "use 'exit'" message.

# A shell started inside the session (nested zsh, exec zsh, su, sudo -i; sourced from
# /etc/zsh/zshrc or ~/.zshrc by lilalo's inner.zsh) has no nonce of l3-rec's pipe: it
# asks the recorder it runs under for one of its own, through a pipe too
# (docs/capture.md, "Inner shells").
if [[ -z ${__l3_nonce-} && -o interactive && -z ${L3_NONCE_FD-} ]]; then
    () {
        local n=
        IFS= read -r -t 2 n < <(command ${L3_REC:-l3-rec} --nonce $$ 2>/dev/null)
        [[ ${#n} == 32 && $n != *[^0-9a-f]* ]] && typeset -g __l3_nonce=$n
    }
fi
[[ -n ${__l3_nonce-} && -o interactive && -z ${__l3_installed-} ]] || return 0
# The user's aliases (from their .zshrc, read before this file) must not rewrite our
# functions: aliases are expanded when a function is parsed, so parse ours without them.
typeset -g __l3_aliases=0
if [[ -o aliases ]]; then
    __l3_aliases=1
    unsetopt aliases
fi
typeset -g __l3_installed=1 __l3_running=0 __l3_edit_count=0 __l3_pwd= __l3_out= __l3_A= __l3_hc=
typeset -gi __l3_sp=0
typeset -ga __l3_edit_files __l3_edit_tokens
typeset -g __l3_B=$'\e]6973;'$__l3_nonce$';B\a\e]133;B\a'
zmodload -F zsh/stat b:zstat 2>/dev/null
zmodload zsh/terminfo zsh/parameter 2>/dev/null

# Percent-encode $1 into __l3_out: bytes outside 0x21..0x7E, '%' and ';' become %HH.
__l3_enc() {
    emulate -L zsh
    local s=$1 c
    if [[ $s != *[^\!-\$\&-:\<-~]* ]]; then
        __l3_out=$s
        return
    fi
    setopt localoptions nomultibyte
    __l3_out=
    local i
    for (( i = 1; i <= $#s; i++ )); do
        c=$s[i]
        if [[ $c == [\!-\$\&-:\<-~] ]]; then
            __l3_out+=$c
        else
            __l3_out+="%${(l:2::0:)$(( [##16] #c ))}"
        fi
    done
}

__l3_preexec() {
    local st=$?
    emulate -L zsh
    # The user's code replaced precmd_functions (`precmd_functions=(foo)`): the line before
    # got no D from precmd; close it now, late, and put ours back.
    if (( __l3_running )); then
        print -rn -- $'\e]6973;'"$__l3_nonce;D;$st;$st"$'\a\e]133;D;'"$st"$'\a' >&2
        __l3_running=0
    fi
    __l3_hooks
    local line=${1:-$3}
    (( $#line > 131072 )) && line=$line[1,131072]
    __l3_enc "$line"
    print -rn -- $'\e]6973;'"$__l3_nonce;C;$__l3_out"$'\a\e]133;C\a' >&2
    __l3_running=1
    __l3_edit_files=() __l3_edit_tokens=()
    local -a words=(${(z)line%%$'\n'*})
    (( $#words )) || return 0
    [[ " $__l3_editors " == *" ${words[1]:t} "* ]] || return 0
    local w max_files=${__l3_edit_limits%% *} max_bytes=${__l3_edit_limits##* } tok
    local -a sz
    for w in $words[2,-1]; do
        (( $#__l3_edit_files >= max_files )) && break
        w=${(Q)w}
        [[ $w == [-+]* ]] && continue
        [[ $w == '~/'* ]] && w=$HOME/${w#'~/'}
        [[ $w == /* ]] || w=$PWD/$w
        [[ -f $w && -r $w ]] || continue
        zstat -A sz +size -- $w 2>/dev/null || continue
        (( sz[1] > max_bytes )) && continue
        tok=$$x$(( ++__l3_edit_count ))
        (umask 077 && exec cp -- $w $L3_SPOOL/$L3_SID.edit.$tok.before) 2>/dev/null || continue
        __l3_edit_files+=($w)
        __l3_edit_tokens+=($tok)
    done
}

# zsh's PROMPT_SP marker, as utils.c preprompt() prints it: PROMPT_EOL_MARK (default
# %B%S%#%s%b) prompt-expanded with PROMPT_PERCENT on and the user's PROMPT_SUBST and
# PROMPT_BANG ($1, $2), then COLUMNS - width - (no xenl) spaces, CR, width spaces, CR.
__l3_prompt_sp() {
    emulate -L zsh
    setopt extendedglob
    [[ $1 == on ]] && setopt promptsubst
    [[ $2 == on ]] && setopt promptbang
    local mark=${PROMPT_EOL_MARK-%B%S%#%s%b} str vis
    str=${(%%)mark}
    # The width zsh counts: the expansion without the zero-width parts (attributes,
    # colours, %{...%}).
    vis=${(%%)${(S)mark//(%\{*%\}|%[BSUbsufk]|%[0-9]#[FK](\{[^\}]#\}|))/}}
    vis=${vis##*$'\n'}
    local -i w=${(m)#vis} n
    n=$(( COLUMNS - w - (${terminfo[xenl]:-yes} == yes ? 0 : 1) ))
    (( n < 0 )) && n=$(( -n ))   # fprintf's "%*s" with a negative width: left-justified
    print -rn -- "$str${(l:n:):-}"$'\r'"${(l:w:):-}"$'\r' >&2
}

__l3_precmd() {
    local st=$? ps="${(j: :)pipestatus}" subst=${options[promptsubst]} bang=${options[promptbang]}
    if [[ -n ${__l3_st_in-} ]]; then
        st=$__l3_st_in ps=$__l3_st_in
        __l3_st_in=
    fi
    # The user set PROMPT_SP again: zsh printed the marker already; ours from now on.
    if [[ -o promptsp ]]; then
        __l3_sp=1
        unsetopt promptsp
    fi
    emulate -L zsh
    if (( __l3_running )); then
        local i
        for (( i = 1; i <= $#__l3_edit_files; i++ )); do
            [[ -f $__l3_edit_files[i] ]] &&
                (umask 077 && exec cp -- $__l3_edit_files[i] $L3_SPOOL/$L3_SID.edit.$__l3_edit_tokens[i].after) 2>/dev/null
            __l3_enc "$__l3_edit_files[i]"
            print -rn -- $'\e]6973;'"$__l3_nonce;E;$__l3_edit_tokens[i];$__l3_out"$'\a' >&2
        done
        __l3_edit_files=()
        __l3_enc "$ps"
        print -rn -- $'\e]6973;'"$__l3_nonce;D;$st;$__l3_out"$'\a\e]133;D;'"$st"$'\a' >&2
        __l3_running=0
    elif [[ -n $__l3_hc ]] && (( HISTCMD > __l3_hc )); then
        __l3_lone $st
    fi
    __l3_hc=$HISTCMD
    (( __l3_sp )) && [[ -o promptcr ]] && __l3_prompt_sp $subst $bang
    if [[ $PWD != $__l3_pwd ]]; then
        __l3_pwd=$PWD
        __l3_enc "$PWD"
        __l3_A=$'\e]6973;'"$__l3_nonce;P;$__l3_out"$'\a\e]7;file://'"$HOST$__l3_out"$'\a\e]6973;'"$__l3_nonce"$';A\a\e]133;A\a'
    fi
    print -rn -- "$__l3_A" >&2
    # B at the end of the prompt, as a zero-width %{...%} sequence.
    [[ $PS1 == *"%{$__l3_B%}" ]] || PS1="$PS1%{$__l3_B%}"
    __l3_hooks
    return $st
}

# Ours first in each hook array, whatever the user's code did to them since.
__l3_hooks() {
    [[ ${precmd_functions[1]-} == __l3_precmd ]] ||
        precmd_functions=(__l3_precmd ${precmd_functions:#__l3_precmd})
    [[ ${preexec_functions[1]-} == __l3_preexec ]] ||
        preexec_functions=(__l3_preexec ${preexec_functions:#__l3_preexec})
    [[ ${zshexit_functions[1]-} == __l3_zshexit ]] ||
        zshexit_functions=(__l3_zshexit ${zshexit_functions:#__l3_zshexit})
    return 0
}

# A line entered the history but ran no preexec: a comment (`# a note` with
# interactive_comments: the user's note in the journal, status 0) or a syntax error.
# Emit C and D together. Not seen: such a line dropped by hist_ignore_dups/space.
__l3_lone() {
    setopt localoptions extendedglob
    # In precmd HISTCMD is already the number of the next line.
    local st=$1 line=${history[$(( HISTCMD - 1 ))]-}
    [[ -n $line ]] || return 0
    [[ ${line##[[:space:]]#} == '#'* ]] && st=0
    (( $#line > 131072 )) && line=$line[1,131072]
    __l3_enc "$line"
    print -rn -- $'\e]6973;'"$__l3_nonce;C;$__l3_out"$'\a\e]133;C\a\e]6973;'"$__l3_nonce;D;$st;$st"$'\a\e]133;D;'"$st"$'\a' >&2
}

# zshexit: the shell ends inside a command line (`exit`, `exit 3`, `logout`): its D with
# the exit status ($? is it here), so the record is not `interrupted`. Not in subshells.
__l3_zshexit() {
    local st=$?
    emulate -L zsh
    if (( __l3_running && ZSH_SUBSHELL == 0 )); then
        print -rn -- $'\e]6973;'"$__l3_nonce;D;$st;$st"$'\a\e]133;D;'"$st"$'\a' >&2
        __l3_running=0
    fi
    return $st
}

# A new line starts in the editor: if the user's code emptied the hook arrays
# (`precmd_functions=()`), the line before got no D: close it, late, and put ours back.
__l3_line_init() {
    local st=$?
    if (( __l3_running )); then
        print -rn -- $'\e]6973;'"$__l3_nonce;D;$st;$st"$'\a\e]133;D;'"$st"$'\a' >&2
        __l3_running=0
    fi
    __l3_hooks
    return 0
}

# Ours first, so $? and $pipestatus are still the command's; the user's keep their order.
__l3_hooks
# A second way in when the user's code empties precmd_functions: zsh also runs a function
# named `precmd`, with the command's $?. Only when the user has none of their own.
if (( ! $+functions[precmd] )); then
    precmd() {
        __l3_st_in=$?
        (( ${precmd_functions[(Ie)__l3_precmd]} )) || __l3_precmd
        __l3_st_in=
    }
fi
autoload -Uz add-zle-hook-widget 2>/dev/null && add-zle-hook-widget line-init __l3_line_init 2>/dev/null
# The PROMPT_SP marker is ours from now on (see the top of this file).
if [[ -o promptsp ]]; then
    __l3_sp=1
    unsetopt promptsp
fi
(( __l3_aliases )) && setopt aliases
unset __l3_aliases
