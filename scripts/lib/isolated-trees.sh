#!/usr/bin/env bash
# isolated-trees.sh COMMAND [ARG...]
#
# Runs COMMAND as root in a private mount namespace where dkms's default paths are
# the test's own, so that dkms can be tried as the machine's dkms (no --dkmstree,
# --sourcetree or --installtree) while nothing on the host changes:
#   /usr/src          a tmpfs holding the host's kernel header and kbuild entries
#                     (bound back read-only, links recreated): module sources go here
#   /var/lib/dkms     an empty tmpfs
#   /usr/lib/modules  an overlay of the host's (the installed kernels' headers links
#                     and modules stay visible; what dkms and depmod write goes to a tmpfs)
#   /etc/dkms         an overlay of the host's, with an empty framework.conf.d
# A tmpfs rather than an overlay for /usr/src: a module source there is the lower
# layer of the sandbox's build overlay, and must be on a file system that can be
# id-mapped (overlayfs cannot), as the ext4 or btrfs of a real /usr/src can.
# Everything vanishes with the namespace when COMMAND exits; its exit status is ours.
set -euo pipefail

(( $# > 0 )) || { echo "usage: isolated-trees.sh COMMAND [ARG...]" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "isolated-trees: must run as root" >&2; exit 2; }

if [[ ${__ISOLATED_TREES_INSIDE:-} != 1 ]]; then
    export __ISOLATED_TREES_INSIDE=1
    exec unshare --mount --propagation private -- "$0" "$@"
fi
unset __ISOLATED_TREES_INSIDE

scratch=$(mktemp -d /tmp/isolated-trees.XXXXXX)
mount -t tmpfs -o mode=0755 isolated-trees "$scratch"
mkdir -p "$scratch"/{src,modules-upper,modules-work,etc-upper,etc-work}

# /usr/src: the host's entries, headers read-only.
for e in /usr/src/* /usr/src/.[!.]*; do
    [[ -e $e || -L $e ]] || continue
    n=${e##*/}
    if [[ -L $e ]]; then
        ln -s "$(readlink "$e")" "$scratch/src/$n"
    elif [[ -d $e ]]; then
        mkdir "$scratch/src/$n"
    fi
done
chmod 0755 "$scratch/src"
# Bind each host directory (seen before /usr/src is covered) onto its empty twin.
hostsrc=$scratch/host-src
mkdir -p "$hostsrc"
mount --bind /usr/src "$hostsrc"
for e in "$scratch"/src/*; do
    n=${e##*/}
    [[ -d $e && ! -L $e ]] || continue
    mount --rbind "$hostsrc/$n" "$e"
    mount -o remount,bind,ro "$e"
done
mount --rbind "$scratch/src" /usr/src
umount -l "$hostsrc"

mount -t tmpfs -o mode=0755 isolated-dkms-tree /var/lib/dkms

modules=$(readlink -f /lib/modules)
mount -t overlay isolated-modules \
    -o "lowerdir=$modules,upperdir=$scratch/modules-upper,workdir=$scratch/modules-work" "$modules"

mkdir -p /etc/dkms
mount -t overlay isolated-etc-dkms \
    -o "lowerdir=/etc/dkms,upperdir=$scratch/etc-upper,workdir=$scratch/etc-work" /etc/dkms
rm -rf /etc/dkms/framework.conf.d
mkdir -p /etc/dkms/framework.conf.d

# Not exec: the scratch directory on the host's /tmp is removed afterwards (the
# mounts go with the namespace).
rc=0
"$@" || rc=$?
cd /
umount -l "$scratch" 2>/dev/null || true
rmdir "$scratch" 2>/dev/null || true
exit "$rc"
