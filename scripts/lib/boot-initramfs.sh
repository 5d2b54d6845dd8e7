# boot-initramfs.sh — sourced by scripts/boot-test.sh.
#
# make_initramfs RELEASE IMAGE INSTALL_ROOT MANIFEST WORK OUT
#   RELEASE       the kernel release
#   IMAGE         the unpacked Debian image (fetch_kernel_image): IMAGE/lib/modules/RELEASE
#   INSTALL_ROOT  the install tree a dkms wrote: INSTALL_ROOT/lib/modules/RELEASE/...
#   MANIFEST      lines "PACKAGE MODULE...": what /init loads and checks
#   WORK          a scratch directory (made and removed here)
#   OUT           the gzip'ed newc cpio written
#   ZFS_USERLAND  optional: an unpacked zfs userland (fetch_zfs_userland) whose zpool
#                 and zfs go in, for the zfs check
# Module dependencies are resolved as the kernel's own userspace would: the image's
# modules and the ones the dkms installed are put side by side in a staging tree
# (hard links where the file system allows), indexed with `depmod -b`, and
# `modprobe --show-depends` names every file each module needs. Only those, plus a
# few the checks use (loop, dm-mod), go into the initramfs, which is indexed again
# with `depmod -b`. kmod's modprobe (built with xz and zstd) loads .ko.xz and .ko.zst
# whether or not the kernel decompresses in-kernel.

# Kernel modules the checks need beyond the tested modules' own dependencies:
# loop devices and device-mapper for dm-writeboost, and the crypto templates gost-test
# asks for by name (crypto_alloc_* → request_module → /sbin/modprobe crypto-<name>).
BOOT_EXTRA_MODULES=(loop dm_mod cmac hmac ecb cbc ctr)

# copy_binary FILE DEST_ROOT: FILE and the shared libraries it links (ldd), at their paths.
copy_binary() {
    local f=$1 root=$2 lib
    mkdir -p "$root$(dirname "$f")"
    cp -L "$f" "$root$f"
    for lib in $(ldd "$f" 2>/dev/null | awk '/=> \// { print $3 } /^\t\/.*ld-linux/ { print $1 }'); do
        [[ -e $root$lib ]] && continue
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
}

make_initramfs() {
    local release=$1 image=$2 install_root=$3 manifest=$4 work=$5 out=$6 zfs_userland=${7:-}
    local stage=$work/stage ir=$work/root
    rm -rf "$work"
    mkdir -p "$stage/lib/modules" "$ir"

    # 1. Staging tree: the image's modules, then what the dkms installed (it overrides
    #    a same-named kernel module as depmod orders updates/ before kernel/).
    cp -al "$image/lib/modules/$release" "$stage/lib/modules/" 2>/dev/null ||
        cp -a "$image/lib/modules/$release" "$stage/lib/modules/"
    local rel
    while IFS= read -r -d '' rel; do
        rel=${rel#./}
        mkdir -p "$stage/lib/modules/$release/$(dirname "$rel")"
        rm -f "$stage/lib/modules/$release/$rel"
        cp "$install_root/lib/modules/$release/$rel" "$stage/lib/modules/$release/$rel"
    done < <(cd "$install_root/lib/modules/$release" && find . -path ./build -prune -o -type f -name '*.ko*' -print0)
    depmod -b "$stage" "$release"

    # 2. The files every tested and extra module needs, dependencies first.
    local m f needed=()
    for m in $(cut -d' ' -f2- "$manifest") "${BOOT_EXTRA_MODULES[@]}"; do
        while read -r f; do needed+=("$f"); done < <(
            modprobe -d "$stage" -S "$release" --show-depends "$m" 2>/dev/null | awk '$1 == "insmod" { print $2 }')
    done
    local dst=$ir/lib/modules/$release
    mkdir -p "$dst"
    for f in $(printf '%s\n' "${needed[@]}" | sort -u); do
        rel=${f#"$stage/lib/modules/$release/"}
        mkdir -p "$dst/$(dirname "$rel")"
        cp "$f" "$dst/$rel"
    done
    for f in modules.order modules.builtin modules.builtin.modinfo; do
        [[ -f $stage/lib/modules/$release/$f ]] && cp "$stage/lib/modules/$release/$f" "$dst/"
    done
    depmod -b "$ir" "$release"

    # 3. Userspace: busybox (static) for the shell and tools, kmod for modprobe
    #    (compressed modules), dmsetup for device-mapper tables.
    mkdir -p "$ir"/{bin,sbin,dev,proc,sys,tmp,etc/boot-test}
    cp "$(command -v busybox)" "$ir/bin/busybox"
    local applet
    for applet in $("$ir/bin/busybox" --list); do [[ $applet == busybox ]] || ln -sf busybox "$ir/bin/$applet"; done
    copy_binary "$(readlink -f "$(command -v kmod)")" "$ir"
    local kmod_path
    kmod_path=$(readlink -f "$(command -v kmod)")
    for applet in modprobe insmod rmmod lsmod modinfo depmod; do
        rm -f "$ir/bin/$applet"; ln -sf "$kmod_path" "$ir/sbin/$applet"
    done
    copy_binary "$(readlink -f "$(command -v dmsetup)")" "$ir"
    ln -sf "$(readlink -f "$(command -v dmsetup)")" "$ir/sbin/dmsetup" 2>/dev/null || true

    if [[ -n $zfs_userland ]]; then add_zfs_userland "$zfs_userland" "$ir" || return 1; fi

    install -m 0755 "$BOOT_LIB/boot-init.sh" "$ir/init"
    cp "$manifest" "$ir/etc/boot-test/modules"
    (cd "$ir" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 > "$out"
    rm -rf "$stage"
}
