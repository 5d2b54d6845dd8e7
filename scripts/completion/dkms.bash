# bash completion for dkms-swift's dkms            -*- shell-script -*-
# Installed as /usr/share/bash-completion/completions/dkms.
#
# Completes actions, options, module names and versions from the dkms tree,
# module sources for `add`, and kernel versions from the install tree.  The
# trees are the ones the command line being typed would use: a --dkmstree,
# --sourcetree or --installtree already on the line wins over the defaults.
# Self-contained (no bash-completion helpers needed), so it also works when
# sourced on its own.

# Prints the value of option $1 from the words typed so far, or $2.  Both
# "--opt VALUE" and "--opt=VALUE" are understood; bash splits the latter
# into "--opt" "=" "VALUE" because '=' is in COMP_WORDBREAKS.
_dkms_option_value()
{
    local i w value=$2
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ $w == "$1" ]]; then
            if [[ ${COMP_WORDS[i + 1]:-} == = ]]; then
                ((i + 2 < COMP_CWORD)) && value=${COMP_WORDS[i + 2]}
            elif ((i + 1 < COMP_CWORD)); then
                value=${COMP_WORDS[i + 1]}
            fi
        elif [[ $w == "$1"=* ]]; then
            value=${w#*=}
        fi
    done
    # A leading ~ is expanded by the shell when the command runs.
    [[ $value == "~"* ]] && value=$HOME${value#"~"}
    printf '%s\n' "$value"
}

# Names in the trees are data, never code: they come from module packages.
# The helpers below put candidates in arrays (no word splitting, no
# pathname expansion, no `compgen -W`, whose word list is expanded, so a
# module called `$(touch /tmp/x)` would run), and _dkms_offer matches them
# literally against the word being completed.

# Module names added to the dkms tree $1 (<tree>/<name>/<version>/source),
# into the array _dkms_found.
_dkms_added_modules()
{
    local src name seen=$'\n'
    _dkms_found=()
    for src in "$1"/*/*/source; do
        [[ -e $src || -L $src ]] || continue
        src=${src%/*/source}
        name=${src##*/}
        [[ $seen == *$'\n'"$name"$'\n'* ]] && continue
        seen+=$name$'\n'
        _dkms_found+=("$name")
    done
}

# Versions of module $2 added to dkms tree $1, into _dkms_found.
_dkms_added_versions()
{
    local src
    _dkms_found=()
    for src in "$1/$2"/*/source; do
        [[ -e $src || -L $src ]] || continue
        src=${src%/source}
        _dkms_found+=("${src##*/}")
    done
}

# "<name>/<version>" of every source directory <tree>/<name>-<version> with a
# dkms.conf: what `dkms add` can take.  The name ends at the last dash.
# Into _dkms_found.
_dkms_sources()
{
    local conf d
    _dkms_found=()
    for conf in "$1"/*/dkms.conf; do
        [[ -e $conf ]] || continue
        d=${conf%/dkms.conf}; d=${d##*/}
        [[ $d == *-* ]] && _dkms_found+=("${d%-*}/${d##*-}")
    done
}

# Kernel versions: the directories of the install tree, into _dkms_found.
_dkms_kernels()
{
    local d
    _dkms_found=()
    for d in "$1"/*/; do
        [[ -d $d ]] || continue
        d=${d%/}
        _dkms_found+=("${d##*/}")
    done
}

# Adds each argument that begins with $cur (compared literally) to
# COMPREPLY, once.  When a candidate has characters the shell would
# interpret, readline is told to quote what it inserts.
_dkms_offer()
{
    local w q e dup
    for w in "$@"; do
        [[ -n $w && $w == "$cur"* ]] || continue
        dup=
        for e in "${COMPREPLY[@]}"; do [[ $e == "$w" ]] && { dup=1; break; }; done
        [[ -n $dup ]] && continue
        COMPREPLY+=("$w")
        printf -v q '%q' "$w"
        [[ $q == "$w" ]] || compopt -o filenames 2>/dev/null || true
    done
}

# File or directory names (compgen -d/-f does not evaluate them), one
# array entry each.
_dkms_offer_files()
{
    local f
    while IFS= read -r f; do COMPREPLY+=("$f"); done < <(compgen "$1" -- "$cur")
}

_dkms()
{
    local cur=${COMP_WORDS[COMP_CWORD]}
    local prev=
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    COMPREPLY=()

    # "--opt=" then TAB: complete the value as if after "--opt".
    if [[ $prev == = ]] && ((COMP_CWORD > 1)); then
        prev=${COMP_WORDS[COMP_CWORD - 2]}
    elif [[ $cur == = ]]; then
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        cur=
    fi

    local actions="add build install uninstall unbuild remove status autoinstall
        match mktarball ldtarball cache verify cleanup recover"
    local options="-m --module -v -k --kernelver -a --arch -c -j -q --quiet
        --verbose --all --force --force-version-override --no-depmod
        --modprobe-on-install --kernelsourcedir --config --archive
        --dkmstree --sourcetree --installtree --version -V --help -h
        --no-cache --no-sandbox --sandbox-profile --json --yes -y"

    local dkms_tree source_tree install_tree
    dkms_tree=$(_dkms_option_value --dkmstree /var/lib/dkms)
    source_tree=$(_dkms_option_value --sourcetree /usr/src)
    install_tree=$(_dkms_option_value --installtree /lib/modules)

    # The action and the -m module typed so far, wherever they are.
    local i w action= module=
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case $w in
            -m | --module) module=${COMP_WORDS[i + 1]:-}; module=${module%%/*} ;;
        esac
        if [[ -z $action && " "$actions" " == *[[:space:]]"$w"[[:space:]]* ]]; then
            # Only a word that is not an option's value counts as the action.
            case ${COMP_WORDS[i - 1]} in
                -m | --module | -v | -k | --kernelver | -a | --arch | -c | -j | --config | --archive | \
                    --dkmstree | --sourcetree | --installtree | --kernelsourcedir | --sandbox-profile | =) ;;
                *) action=$w ;;
            esac
        fi
    done

    # Values of options.
    local _dkms_found=() m v
    case $prev in
        -m | --module)
            if [[ $action == add ]]; then
                _dkms_sources "$source_tree"
                local names=()
                for m in "${_dkms_found[@]}"; do names+=("${m%%/*}"); done
                _dkms_offer "${names[@]}"
            else
                _dkms_added_modules "$dkms_tree"
                _dkms_offer "${_dkms_found[@]}"
            fi
            return 0
            ;;
        -v)
            [[ -n $module ]] || return 0
            if [[ $action == add ]]; then
                _dkms_sources "$source_tree"
                local versions=()
                for m in "${_dkms_found[@]}"; do
                    [[ ${m%/*} == "$module" ]] && versions+=("${m##*/}")
                done
                _dkms_offer "${versions[@]}"
            else
                _dkms_added_versions "$dkms_tree" "$module"
                _dkms_offer "${_dkms_found[@]}"
            fi
            return 0
            ;;
        -k | --kernelver)
            _dkms_kernels "$install_tree"
            _dkms_offer "${_dkms_found[@]}"
            return 0
            ;;
        -a | --arch)
            _dkms_offer "$(uname -m)"
            return 0
            ;;
        --dkmstree | --sourcetree | --installtree | --kernelsourcedir)
            _dkms_offer_files -d
            return 0
            ;;
        -c | --config | --archive)
            _dkms_offer_files -f
            return 0
            ;;
        -j | --sandbox-profile)
            # A number or a profile name: nothing sensible to offer.
            return 0
            ;;
    esac

    if [[ $cur == -* ]]; then
        _dkms_offer $options
    elif [[ -z $action ]]; then
        _dkms_offer $actions
    else
        case $action in
            add)
                # A module source: NAME/VERSION from the source tree, or a path.
                _dkms_sources "$source_tree"
                _dkms_offer "${_dkms_found[@]}"
                _dkms_offer_files -d
                ;;
            cache)
                # Its sub-command, right after the action.
                [[ $prev == cache ]] && _dkms_offer stats verify prune clear
                ;;
            build | install | uninstall | unbuild | remove | status | verify | match | mktarball)
                # NAME/VERSION of an added module.
                local modules=() words=()
                _dkms_added_modules "$dkms_tree"
                modules=("${_dkms_found[@]}")
                for m in "${modules[@]}"; do
                    _dkms_added_versions "$dkms_tree" "$m"
                    for v in "${_dkms_found[@]}"; do words+=("$m/$v"); done
                done
                _dkms_offer "${words[@]}"
                ;;
        esac
    fi
    return 0
}
complete -F _dkms dkms
