# boot-zfs.sh — sourced by scripts/boot-test.sh: zfs's userland for the initramfs.
#
# A zfs module proves little until a pool lives on it, and a pool needs zpool and
# zfs at the module's own version (the ioctl interface between them changes between
# releases). Debian ships them in contrib as zfsutils-linux and four libraries, built
# from the same source as zfs-dkms; they are fetched with `apt-get download` at
# exactly zfs-dkms's version and unpacked with `dpkg -x` into the boot test's cache,
# never installed.

BOOT_ZFS_PACKAGES=(zfsutils-linux libzfs4linux libzpool5linux libnvpair3linux libuutil3linux)

# fetch_zfs_userland ZFS_DKMS_DEB CACHE: prints the directory holding the unpacked
# userland (CACHE/zfs-userland/<version>/root), fetching it when it is not there.
fetch_zfs_userland() {
    local deb=$1 cache=$2 version dir tmp p
    version=$(dpkg-deb -f "$deb" Version) || return 1
    dir=$cache/zfs-userland/$version
    if [[ ! -f $dir/ready ]]; then
        mkdir -p "$cache/zfs-userland"
        tmp=$(mktemp -d "$cache/zfs-userland/.fetch.XXXXXX") || return 1
        for p in "${BOOT_ZFS_PACKAGES[@]}"; do
            download_contrib "$p=$version" "$tmp" "$cache/zfs-userland/.apt-contrib" >&2 ||
                { rm -rf "$tmp"; echo "cannot download $p $version from contrib" >&2; return 1; }
        done
        mkdir -p "$tmp/root"
        for p in "$tmp"/*.deb; do dpkg -x "$p" "$tmp/root" || { rm -rf "$tmp"; return 1; }; done
        printf '%s\n' "${BOOT_ZFS_PACKAGES[@]/%/=$version}" > "$tmp/ready"
        rm -rf "$dir"
        mv "$tmp" "$dir"
    fi
    echo "$dir/root"
}

# add_zfs_userland USERLAND IR: zpool and zfs at /sbin in the initramfs IR, with the
# libraries they link: the userland's own (at their paths under USERLAND) and the
# host's (libc, libblkid, libcrypto... at their own). A library found nowhere fails.
add_zfs_userland() {
    local userland=$1 ir=$2 tool lib dest libpath
    libpath=$userland/lib/x86_64-linux-gnu:$userland/usr/lib/x86_64-linux-gnu
    for tool in zpool zfs; do
        [[ -x $userland/sbin/$tool ]] || { echo "no sbin/$tool in $userland" >&2; return 1; }
        cp "$userland/sbin/$tool" "$ir/sbin/$tool"
        if LD_LIBRARY_PATH=$libpath ldd "$userland/sbin/$tool" | grep -q 'not found'; then
            echo "$tool: $(LD_LIBRARY_PATH=$libpath ldd "$userland/sbin/$tool" | grep 'not found' | tr -s ' \t' ' ')" >&2
            return 1
        fi
        for lib in $(LD_LIBRARY_PATH=$libpath ldd "$userland/sbin/$tool" | awk '/=> \// { print $3 } /^\t\/.*ld-linux/ { print $1 }'); do
            dest=${lib#"$userland"}
            [[ -e $ir$dest ]] && continue
            mkdir -p "$ir$(dirname "$dest")"
            cp -L "$lib" "$ir$dest"
        done
    done
}
