#!/usr/bin/env bash
# Installs dkms-swift: the dkms binary and its integration files (kernel and
# pacman hooks, systemd unit, bash completion, man page) under DESTDIR.
#
#   scripts/install-integration.sh [DESTDIR]
#
# DESTDIR defaults to empty, i.e. the running system; packagers and tests
# give a staging directory.  The binary is the release build, built here
# unless DKMS_BINARY names one to install instead (tests use the debug one
# so they do not pay for a release build).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
destdir=${1:-${DESTDIR:-}}
destdir=${destdir%/}

if [[ -n ${DKMS_BINARY:-} ]]; then
    binary=$DKMS_BINARY
else
    (cd "$repo" && swift build -c release --static-swift-stdlib --product dkms)
    binary=$(cd "$repo" && swift build -c release --show-bin-path)/dkms
fi
[[ -x $binary ]] || { echo "install-integration: no dkms binary at $binary" >&2; exit 1; }

s=$repo/scripts
# install -D creates the parent directories; -m sets the mode whatever the
# checkout's umask was.
install -Dm755 "$binary" "$destdir/usr/sbin/dkms"

# Arch: hooks are data, the script they run is executable.
install -Dm644 "$s/hooks/alpm/70-dkms-install.hook" "$destdir/usr/share/libalpm/hooks/70-dkms-install.hook"
install -Dm644 "$s/hooks/alpm/71-dkms-remove.hook" "$destdir/usr/share/libalpm/hooks/71-dkms-remove.hook"
install -Dm755 "$s/hooks/alpm/dkms" "$destdir/usr/share/libalpm/scripts/dkms"

# Debian: run-parts only runs executable files.
for d in postinst.d prerm.d header_postinst.d; do
    install -Dm755 "$s/hooks/kernel/$d/dkms" "$destdir/etc/kernel/$d/dkms"
done

install -Dm644 "$s/systemd/dkms.service" "$destdir/usr/lib/systemd/system/dkms.service"
install -Dm644 "$s/completion/dkms.bash" "$destdir/usr/share/bash-completion/completions/dkms"
install -Dm644 "$s/man/dkms.8" "$destdir/usr/share/man/man8/dkms.8"

echo "Installed dkms-swift into ${destdir:-/}"
