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

# Module names added to the dkms tree: <tree>/<name>/<version>/source.
_dkms_added_modules()
{
    local src
    for src in "$1"/*/*/source; do
        [[ -e $src || -L $src ]] || continue
        src=${src%/*/source}
        printf '%s\n' "${src##*/}"
    done | sort -u
}

# Versions of module $2 added to dkms tree $1.
_dkms_added_versions()
{
    local src
    for src in "$1/$2"/*/source; do
        [[ -e $src || -L $src ]] || continue
        src=${src%/source}
        printf '%s\n' "${src##*/}"
    done
}

# "<name>/<version>" of every source directory <tree>/<name>-<version> with a
# dkms.conf: what `dkms add` can take.  The name ends at the last dash.
_dkms_sources()
{
    local conf d
    for conf in "$1"/*/dkms.conf; do
        [[ -e $conf ]] || continue
        d=${conf%/dkms.conf}; d=${d##*/}
        [[ $d == *-* ]] && printf '%s/%s\n' "${d%-*}" "${d##*-}"
    done
}

# Adds to COMPREPLY the lines of stdin that start with $1, as they are.
# Names come from the trees (a directory anyone who can write /usr/src
# could name), so they are never handed to compgen -W, which expands
# $(...) and $var in its word list, nor to sed or an unquoted $( ).
_dkms_reply()
{
    local w
    while IFS= read -r w; do
        [[ -n $w && $w == "$1"* ]] && COMPREPLY+=("$w")
    done
    return 0
}

# Prints the part after "$1/" of the lines of stdin that have it.
_dkms_after()
{
    local w
    while IFS= read -r w; do
        [[ $w == "$1"/* ]] && printf '%s\n' "${w#"$1"/}"
    done
    return 0
}

# Kernel versions: the directories of the install tree.
_dkms_kernels()
{
    local d
    for d in "$1"/*/; do
        d=${d%/}
        printf '%s\n' "${d##*/}"
    done
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
    case $prev in
        -m | --module)
            if [[ $action == add ]]; then
                _dkms_reply "$cur" < <(_dkms_sources "$source_tree" | cut -d/ -f1 | sort -u)
            else
                _dkms_reply "$cur" < <(_dkms_added_modules "$dkms_tree")
            fi
            return 0
            ;;
        -v)
            [[ -n $module ]] || return 0
            if [[ $action == add ]]; then
                _dkms_reply "$cur" < <(_dkms_sources "$source_tree" | _dkms_after "$module")
            else
                _dkms_reply "$cur" < <(_dkms_added_versions "$dkms_tree" "$module")
            fi
            return 0
            ;;
        -k | --kernelver)
            _dkms_reply "$cur" < <(_dkms_kernels "$install_tree")
            return 0
            ;;
        -a | --arch)
            COMPREPLY=($(compgen -W "$(uname -m)" -- "$cur"))
            return 0
            ;;
        --dkmstree | --sourcetree | --installtree | --kernelsourcedir)
            COMPREPLY=($(compgen -d -- "$cur"))
            return 0
            ;;
        -c | --config | --archive)
            COMPREPLY=($(compgen -f -- "$cur"))
            return 0
            ;;
        -j | --sandbox-profile)
            # A number or a profile name: nothing sensible to offer.
            return 0
            ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$options" -- "$cur"))
    elif [[ -z $action ]]; then
        COMPREPLY=($(compgen -W "$actions" -- "$cur"))
    else
        case $action in
            add)
                # A module source: NAME/VERSION from the source tree, or a path.
                _dkms_reply "$cur" < <(_dkms_sources "$source_tree"; compgen -d -- "$cur")
                ;;
            cache)
                # Its sub-command, right after the action.
                [[ $prev == cache ]] && COMPREPLY=($(compgen -W "stats verify prune clear" -- "$cur"))
                ;;
            build | install | uninstall | unbuild | remove | status | verify | match | mktarball)
                # NAME/VERSION of an added module.
                local m v
                _dkms_reply "$cur" < <(_dkms_added_modules "$dkms_tree" | while IFS= read -r m; do
                    _dkms_added_versions "$dkms_tree" "$m" | while IFS= read -r v; do printf '%s/%s\n' "$m" "$v"; done
                done)
                ;;
        esac
    fi
    return 0
}
complete -F _dkms dkms
