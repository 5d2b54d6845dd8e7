#!/usr/bin/env bash
# fetch-debian-modules.sh — fetch the real sources of a few Debian *-dkms
# packages, to be used as integration-test inputs for our dkms replacement.
#
# Usage: scripts/fetch-debian-modules.sh [CACHE_DIR]
#   CACHE_DIR defaults to <repo>/.cache/debian-modules (git-ignored).
#
# For every package P in PACKAGES this leaves:
#   CACHE_DIR/P/P_<ver>_all.deb   the downloaded package (never committed)
#   CACHE_DIR/P/src/              the module source dir (the one holding dkms.conf,
#                                 i.e. the package's usr/src/<name>-<version>)
#   CACHE_DIR/P/module            one line: "NAME VERSION" (PACKAGE_NAME and
#                                 PACKAGE_VERSION as evaluated from dkms.conf)
#
# Idempotent: a package whose src/dkms.conf and module file already exist is
# skipped without touching apt at all, so a fully cached run is instant.
# `apt-get update` is run (once) only if a download fails for lack of package
# lists. Any package that still cannot be had makes the script fail loudly.
set -euo pipefail

PACKAGES=(
    v4l2loopback-dkms
    acpi-call-dkms
    ddcci-dkms
    jool-dkms
    gost-crypto-dkms
    dm-writeboost-dkms
    zfs-dkms
)
# Packages of Debian's contrib component, which a default Debian 12 machine does not
# list in its apt sources: fetched through a private apt configuration (see below).
CONTRIB=(zfs-dkms)

die()  { printf 'fetch-debian-modules: error: %s\n' "$*" >&2; exit 1; }
info() { printf 'fetch-debian-modules: %s\n' "$*" >&2; }

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/.." && pwd)
cache=${1:-$repo_root/.cache/debian-modules}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)   # absolute, so the cd's below don't break it

for tool in apt-get dpkg; do
    command -v "$tool" >/dev/null || die "'$tool' not found (this script needs a Debian-like system)"
done

source "$script_dir/lib/apt-contrib.sh"

updated=no   # have we already run apt-get update in this invocation?

# download PKG DIR: apt-get download PKG into DIR, retrying once after
# `apt-get update` if apt does not know the package (e.g. empty lists in a
# fresh container). Prints apt's output only on failure.
download() {
    local pkg=$1 dir=$2 log
    log=$(cd "$dir" && apt-get download "$pkg" 2>&1) && return 0
    if [[ $updated == no ]] && grep -qiE "unable to locate package|has no installation candidate|can't select (candidate )?version|Failed to fetch|404" <<<"$log"; then
        info "apt-get download $pkg failed; running apt-get update and retrying"
        apt-get update >&2 || die "apt-get update failed"
        updated=yes
        log=$(cd "$dir" && apt-get download "$pkg" 2>&1) && return 0
    fi
    printf '%s\n' "$log" >&2
    die "cannot download Debian package '$pkg' (see apt output above)"
}

# literal_of VAR DKMS_CONF: the pacman hook's reader of literal assignments
# (dkms.conf is shell that dkms only ever runs in its sandbox; scripts read
# it and never run it). The hook is installed as one file, so it keeps the
# function and this script takes it from there.
eval "$(sed -n '/^literal_of() {$/,/^}$/p' "$script_dir/hooks/alpm/dkms")"

# eval_name_version DKMS_CONF: print "NAME VERSION" from literal assignments.
eval_name_version() {
    printf '%s %s\n' "$(literal_of PACKAGE_NAME "$1")" "$(literal_of PACKAGE_VERSION "$1")"
}

for pkg in "${PACKAGES[@]}"; do
    dir=$cache/$pkg

    # Fast path: already extracted and evaluated.
    if [[ -f $dir/src/dkms.conf && -s $dir/module ]]; then
        info "$pkg: cached ($(cat "$dir/module"))"
        continue
    fi

    mkdir -p "$dir"

    # Reuse a previously downloaded .deb if there is one, else download.
    shopt -s nullglob
    debs=("$dir/${pkg}"_*.deb)
    shopt -u nullglob
    if (( ${#debs[@]} == 0 )); then
        info "$pkg: downloading"
        if [[ " ${CONTRIB[*]} " == *" $pkg "* ]]; then download_contrib "$pkg" "$dir" "$cache/.apt-contrib" || die "cannot download '$pkg' from contrib"; else download "$pkg" "$dir"; fi
        shopt -s nullglob
        debs=("$dir/${pkg}"_*.deb)
        shopt -u nullglob
        (( ${#debs[@]} > 0 )) || die "$pkg: apt-get download succeeded but no ${pkg}_*.deb appeared in $dir"
    fi
    (( ${#debs[@]} == 1 )) || die "$pkg: several .deb files in $dir (${debs[*]##*/}); remove the stale ones"
    deb=${debs[0]}

    # Extract into a temp dir, then move the module dir into place atomically
    # enough that an interrupted run never leaves a half-populated src/.
    tmp=$(mktemp -d "$dir/.extract.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    dpkg -x "$deb" "$tmp/root" || die "$pkg: dpkg -x $deb failed"

    # The module source dir is the usr/src/<name>-<version> holding dkms.conf.
    mapfile -t confs < <(find "$tmp/root/usr/src" -mindepth 2 -maxdepth 2 -name dkms.conf -type f 2>/dev/null)
    (( ${#confs[@]} == 1 )) || die "$pkg: expected exactly one usr/src/*/dkms.conf in $deb, found ${#confs[@]}"
    srcdir=$(dirname "${confs[0]}")

    read -r name version _ < <(eval_name_version "$srcdir/dkms.conf") || true
    [[ -n ${name:-} && -n ${version:-} ]] ||
        die "$pkg: could not evaluate PACKAGE_NAME/PACKAGE_VERSION from dkms.conf"
    [[ $(basename "$srcdir") == "$name-$version" ]] ||
        info "$pkg: warning: source dir $(basename "$srcdir") is not NAME-VERSION ($name-$version)"

    rm -rf "$dir/src"
    mv "$srcdir" "$dir/src"
    printf '%s %s\n' "$name" "$version" >"$dir/module.tmp"
    mv "$dir/module.tmp" "$dir/module"
    rm -rf "$tmp"
    trap - EXIT
    info "$pkg: extracted ${deb##*/} -> $dir/src ($name $version)"
done

info "all ${#PACKAGES[@]} packages available under $cache"
