# bash completion for bpt (blueprint-tee); installed as share/bash-completion/completions/bpt.
# Commands and flags are read from `bpt --help` and `bpt <command> --help` of the bpt being
# completed, so they follow the binary; only the values of a few flags are listed here.

_bpt_flags()
{
    # The usage block (up to the first blank line) and the option lines of a command's help.
    "$1" "$2" --help 2>/dev/null | sed -n '1,/^$/p; /^ *-/p' | grep -oE -- '--[a-z][a-z0-9-]*' |
        sort -u
}

_bpt()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi
    local bpt=${words[0]}
    if [[ $cword -eq 1 ]]; then
        local cmds
        cmds=$("$bpt" --help 2>/dev/null | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\)  .*/\1/p')
        COMPREPLY=($(compgen -W "$cmds --help --version" -- "$cur"))
        return
    fi
    local cmd=${words[1]}
    case $prev in
    --provider)
        COMPREPLY=($(compgen -W "auto sev-snp tdx aws-nitro azure-maa gcp-confidential sev_snp
            azure_maa amd_sev_snp intel_tdx aws_nitro azure_snp gcp_confidential" -- "$cur"))
        return
        ;;
    --simulate)
        COMPREPLY=($(compgen -W "sev-snp tdx aws-nitro" -- "$cur"))
        return
        ;;
    --accept-tcb)
        COMPREPLY=($(compgen -W "up_to_date sw_hardening_needed configuration_needed
            configuration_and_sw_hardening_needed out_of_date out_of_date_configuration_needed
            revoked" -- "$cur"))
        return
        ;;
    --binding)
        COMPREPLY=($(compgen -W "session service-key" -- "$cur"))
        return
        ;;
    --snp-platform-smt | --snp-platform-tsme)
        COMPREPLY=($(compgen -W "enabled disabled" -- "$cur"))
        return
        ;;
    --secret-env)
        COMPREPLY=($(compgen -v -- "$cur"))
        return
        ;;
    --sim-dir | --root | --cache-dir)
        COMPREPLY=($(compgen -d -- "$cur"))
        return
        ;;
    --policy | --trust-root | --certs | --crl | --collateral | --jwks | --config | --secret-file | -o)
        COMPREPLY=($(compgen -f -- "$cur"))
        return
        ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_bpt_flags "$bpt" "$cmd") --help" -- "$cur"))
        return
    fi
    case $cmd in
    sim)
        if [[ $cword -eq 2 ]]; then COMPREPLY=($(compgen -W init -- "$cur")); else COMPREPLY=($(compgen -d -- "$cur")); fi
        ;;
    config)
        if [[ $cword -eq 2 ]]; then COMPREPLY=($(compgen -W check -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi
        ;;
    verify)
        COMPREPLY=($(compgen -f -- "$cur"))
        ;;
    esac
}
complete -F _bpt bpt
