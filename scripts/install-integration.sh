#!/usr/bin/env bash
# Installs dkms-swift as the system's dkms: the binary, the files Debian's
# -dkms packages and kernel packages call (common.postinst,
# dkms_autoinstaller, /etc/kernel hooks), pacman hooks, the sandbox
# profiles, systemd unit, bash completion and man page, under DESTDIR.
#
#   scripts/install-integration.sh [DESTDIR]
#   scripts/install-integration.sh --uninstall [DESTDIR]
#
# DESTDIR defaults to empty, i.e. the running system; packagers and tests
# give a staging directory.  The binary is the release build, built here
# unless DKMS_BINARY names one to install instead (tests use the debug one
# so they do not pay for a release build).
#
# Where DESTDIR is a dpkg system (it has var/lib/dpkg and dpkg-divert
# exists), every path Debian's dkms package ships that we replace is first
# diverted with `dpkg-divert --local --rename`: Debian's file moves aside
# (to a name run-parts and man skip), dpkg records it, and installing or
# upgrading the dkms package later puts its files at the diverted names,
# never over ours.  That holds whether or not Debian's dkms is installed
# now (a -dkms package Depends on it, so apt may bring it in later).
# --uninstall removes our files and the diversions, which puts Debian's
# files back where they were.
set -euo pipefail

uninstall=false
if [[ ${1:-} == --uninstall ]]; then uninstall=true; shift; fi
repo=$(cd "$(dirname "$0")/.." && pwd)
destdir=${1:-${DESTDIR:-}}
destdir=${destdir%/}
s=$repo/scripts

# What we install: MODE SOURCE DEST [DIVERT-TO].  DIVERT-TO is set for paths
# Debian's dkms package owns (or may own); it is where its file goes.
files=(
    "755 @binary /usr/sbin/dkms /usr/sbin/dkms.distrib"
    "755 $s/debian/common.postinst /usr/lib/dkms/common.postinst /usr/lib/dkms/common.postinst.distrib"
    "755 $s/debian/dkms_autoinstaller /usr/lib/dkms/dkms_autoinstaller /usr/lib/dkms/dkms_autoinstaller.distrib"
    # run-parts only runs executable files whose names have no dot.
    "755 $s/hooks/kernel/postinst.d/dkms /etc/kernel/postinst.d/dkms /etc/kernel/postinst.d/dkms.distrib"
    "755 $s/hooks/kernel/header_postinst.d/dkms /etc/kernel/header_postinst.d/dkms /etc/kernel/header_postinst.d/dkms.distrib"
    "755 $s/hooks/kernel/prerm.d/dkms /etc/kernel/prerm.d/dkms /etc/kernel/prerm.d/dkms.distrib"
    "644 $s/completion/dkms.bash /usr/share/bash-completion/completions/dkms /usr/share/bash-completion/completions/dkms.distrib"
    "644 $s/completion/_dkms /usr/share/zsh/vendor-completions/_dkms"
    "644 $s/completion/dkms.fish /usr/share/fish/vendor_completions.d/dkms.fish"
    "644 $s/man/dkms.8 /usr/share/man/man8/dkms.8"
    "644 $s/systemd/dkms.service /usr/lib/systemd/system/dkms.service"
    # Arch: the names Arch's dkms package uses; hooks are data, the script
    # they run is executable.
    "644 $s/hooks/alpm/70-dkms-install.hook /usr/share/libalpm/hooks/70-dkms-install.hook"
    "644 $s/hooks/alpm/70-dkms-upgrade.hook /usr/share/libalpm/hooks/70-dkms-upgrade.hook"
    "644 $s/hooks/alpm/71-dkms-remove.hook /usr/share/libalpm/hooks/71-dkms-remove.hook"
    "755 $s/hooks/alpm/dkms /usr/share/libalpm/scripts/dkms"
)
for p in "$repo"/sandbox-profiles/*.json; do
    files+=("644 $p /usr/share/dkms-swift/sandbox-profiles/${p##*/}")
done
# Debian's man page is compressed; ours is not, so its name only needs
# to be moved aside (the way dash diverts sh.1.gz).
diverted_only=("/usr/share/man/man8/dkms.8.gz /usr/share/man/man8/dkms.distrib.8.gz")

use_dpkg=false
if [[ -d ${destdir:-}/var/lib/dpkg ]] && command -v dpkg-divert >/dev/null; then use_dpkg=true; fi
divert() {  # divert PATH TO | divert --remove PATH TO
    $use_dpkg || return 0
    local op=--add
    if [[ $1 == --remove ]]; then op=--remove; shift; fi
    dpkg-divert --root "${destdir:-/}" --local --rename --divert "$2" "$op" "$1" >/dev/null
}

if $uninstall; then
    for f in "${files[@]}"; do
        read -r _ _ dest to <<< "$f"
        rm -f "$destdir$dest"
        [[ -z ${to:-} ]] || divert --remove "$dest" "$to"
    done
    for f in "${diverted_only[@]}"; do read -r dest to <<< "$f"; divert --remove "$dest" "$to"; done
    rmdir "$destdir/usr/share/dkms-swift/sandbox-profiles" "$destdir/usr/share/dkms-swift" 2>/dev/null || true
    echo "Removed dkms-swift from ${destdir:-/}"
    exit 0
fi

if [[ -n ${DKMS_BINARY:-} ]]; then
    binary=$DKMS_BINARY
else
    (cd "$repo" && swift build -c release --static-swift-stdlib --product dkms)
    binary=$(cd "$repo" && swift build -c release --show-bin-path)/dkms
fi
[[ -x $binary ]] || { echo "install-integration: no dkms binary at $binary" >&2; exit 1; }

for f in "${diverted_only[@]}"; do read -r dest to <<< "$f"; divert "$dest" "$to"; done
for f in "${files[@]}"; do
    read -r mode src dest to <<< "$f"
    [[ $src != @binary ]] || src=$binary
    [[ -z ${to:-} ]] || divert "$dest" "$to"
    # install -D creates the parent directories; -m sets the mode whatever
    # the checkout's umask was.
    install -Dm"$mode" "$src" "$destdir$dest"
done

echo "Installed dkms-swift into ${destdir:-/}"
