# fish completion for dkms-swift's dkms.
# Installed as /usr/share/fish/vendor_completions.d/dkms.fish.
#
# What dkms.bash completes, the same way: actions, options, module names and
# versions from the dkms tree, module sources for `add`, kernel versions from
# the install tree; a --dkmstree, --sourcetree or --installtree already on the
# line wins over the defaults.  Names in the trees are data, never code (they
# come from module packages): the functions print them one per line, which
# fish offers as they are and never evaluates.

# The value of option $argv[1] among the tokens before the cursor, or $argv[2].
function __dkms_option_value
    set -l value $argv[2]
    set -l tokens (commandline -opc)
    set -l n (count $tokens)
    for i in (seq 2 $n)
        if test "$tokens[$i]" = "$argv[1]"; and test $i -lt $n
            set value $tokens[(math $i + 1)]
        else if string match -q -- "$argv[1]=*" $tokens[$i]
            set value (string replace -- "$argv[1]=" "" $tokens[$i])
        end
    end
    string replace -r -- '^~' "$HOME" $value
end

set -g __dkms_actions add build install uninstall unbuild remove status autoinstall match mktarball ldtarball \
    generate_mok cache verify cleanup recover
set -g __dkms_value_options -m --module -v -k --kernelver -a --arch -c -j --config --archive --dkmstree \
    --sourcetree --installtree --kernelsourcedir --sandbox-profile

# The action typed so far (a word of the action list that is no option's value).
function __dkms_action
    set -l tokens (commandline -opc)
    for i in (seq 2 (count $tokens))
        if contains -- $tokens[$i] $__dkms_actions; and not contains -- $tokens[(math $i - 1)] $__dkms_value_options
            echo $tokens[$i]
            return 0
        end
    end
    return 1
end

# The module given with -m so far.
function __dkms_module
    set -l tokens (commandline -opc)
    set -l n (count $tokens)
    for i in (seq 2 (math $n - 1))
        if contains -- $tokens[$i] -m --module
            string replace -r -- '/.*' '' $tokens[(math $i + 1)]
            return 0
        end
    end
    return 1
end

# "name/version" of each source <tree>/<name>-<version> with a dkms.conf.
function __dkms_sources
    for conf in (__dkms_option_value --sourcetree /usr/src)/*/dkms.conf
        set -l d (path basename (path dirname -- $conf))
        string match -q -- '*-*' $d; or continue
        echo (string replace -r -- '-[^-]*$' '' $d)/(string replace -r -- '^.*-' '' $d)
    end
end

# "name/version" of each added module <tree>/<name>/<version>/source.
function __dkms_added
    for src in (__dkms_option_value --dkmstree /var/lib/dkms)/*/*/source
        set -l v (path dirname -- $src)
        echo (path basename (path dirname -- $v))/(path basename -- $v)
    end
end

function __dkms_prev_is
    set -l tokens (commandline -opc)
    contains -- $tokens[-1] $argv
end

function __dkms_complete_module
    if test "$(__dkms_action)" = add
        __dkms_sources | string replace -r -- '/.*' '' | path sort -u
    else
        __dkms_added | string replace -r -- '/.*' '' | path sort -u
    end
end

function __dkms_complete_version
    set -l m (__dkms_module); or return 0
    if test "$(__dkms_action)" = add
        set -f all (__dkms_sources)
    else
        set -f all (__dkms_added)
    end
    for mv in $all
        test (string replace -r -- '/[^/]*$' '' $mv) = $m; and string replace -r -- '^.*/' '' $mv
    end
end

function __dkms_complete_kernel
    for d in (__dkms_option_value --installtree /lib/modules)/*/
        path basename -- $d
    end
end

function __dkms_complete_argument
    set -l action (__dkms_action); or begin
        printf '%s\n' $__dkms_actions
        return 0
    end
    __dkms_prev_is $__dkms_value_options; and return 0
    switch $action
        case add
            __dkms_sources
            __fish_complete_directories (commandline -ct) | string replace -r '\t.*' ''
        case cache
            __dkms_prev_is cache; and printf '%s\n' stats verify prune clear
        case build install uninstall unbuild remove status verify match mktarball
            __dkms_added
    end
end

complete -c dkms -e
complete -c dkms -f -a '(__dkms_complete_argument)'
complete -c dkms -s m -l module -x -a '(__dkms_complete_module)' -d 'module name'
complete -c dkms -s v -x -a '(__dkms_complete_version)' -d 'module version'
complete -c dkms -s k -l kernelver -x -a '(__dkms_complete_kernel)' -d 'kernel version'
complete -c dkms -s a -l arch -x -a '(uname -m)' -d 'architecture'
complete -c dkms -s c -l config -r -F -d 'dkms.conf to use'
complete -c dkms -l archive -r -F -d 'tarball'
complete -c dkms -s j -x -d 'parallel jobs'
complete -c dkms -l sandbox-profile -x -d 'sandbox profile name'
for o in dkmstree sourcetree installtree kernelsourcedir
    complete -c dkms -l $o -x -a '(__fish_complete_directories (commandline -ct))'
end
for o in quiet verbose all force force-version-override no-depmod modprobe-on-install version help no-cache no-sandbox json yes
    complete -c dkms -l $o
end
complete -c dkms -s q
complete -c dkms -s V
complete -c dkms -s h
complete -c dkms -s y
