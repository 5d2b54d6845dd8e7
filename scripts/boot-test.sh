#!/usr/bin/env bash
# boot-test.sh — prove the modules our dkms builds in a real kernel, beside the
# same modules built by the reference (Debian's dkms).
#
# For every kernel release with headers here (/lib/modules/*/build or
# /usr/src/linux-headers-*, never named in this script):
#   1. Debian's own linux-image-<release> is fetched with `apt-get download` and
#      unpacked with `dpkg -x` into the cache (never installed): scripts/lib/boot-image.sh;
#   2. the Debian -dkms sources (scripts/fetch-debian-modules.sh) are added, built and
#      installed for it by our dkms and by the reference, each in scratch trees under
#      /tmp (--dkmstree, --sourcetree, --installtree);
#   3. for each of the two install trees an initramfs is made: busybox, kmod, dmsetup,
#      the modules installed and the image's modules they need
#      (scripts/lib/boot-initramfs.sh), with /init = scripts/lib/boot-init.sh, which
#      loads every module with modprobe, exercises each package and reports its
#      kernel messages on the serial console, then powers off;
#   4. the image's kernel boots it in qemu (TCG, no KVM: /dev/kvm here hangs Debian's
#      kernel), serial console to a file, under a timeout;
#   5. a table per kernel says, per package, what ours and the reference gave.
# The result is PASSED when, on every kernel, every package ours installed loads and
# passes its check, and each package's outcome (passed, not built, excluded) is the
# reference's.
#
# Usage: scripts/boot-test.sh [--kernel RELEASE]... [--with-zfs] [--no-reference]
#                             [--rebuild-reference] [--cold] [--keep]
#   --kernel R      only this release (repeatable); default: every one with headers
#   --with-zfs      add zfs-dkms (its build takes many minutes per kernel); zpool and zfs
#                   at its version (Debian's zfsutils-linux and libraries, from contrib)
#                   go in the initramfs: scripts/lib/boot-zfs.sh
#   --no-reference  boot ours only (the comparison is then skipped)
#   --rebuild-reference  build with the reference even where BOOT_TEST_CACHE holds its
#                   outputs for the same inputs (see below)
#   --cold          ours builds with an empty build cache
#   --keep          keep the scratch directory (trees, initramfs, serial logs)
# The reference has no build cache and jool alone builds for minutes per kernel, so
# its outputs (installed files, module/ directory, exit status) are kept per kernel
# and package under BOOT_TEST_CACHE/reference, keyed by the SHA-256 of every input:
# the reference's version, the module's .deb, the headers package's version and the
# kernel's .config, gcc's version; a key not there is built. Ours builds through its
# own content-addressed build cache (a hit restores, signs and installs the same bytes).
# Environment:
#   DKMS_BINARY       ours (default: <repo>/.build/debug/dkms)
#   REFERENCE_DKMS    the reference (default: /usr/sbin/dkms)
#   DKMS_CACHE_DIR    our dkms's build cache (default: BOOT_TEST_CACHE/dkms-cache, or
#                     a fresh one with --cold; the integration test passes the suite's)
#   BOOT_TEST_CACHE   kernel images (default: <repo>/.cache/boot-test, git-ignored)
#   BOOT_TIMEOUT      seconds per boot before it counts as hung (default 600)
# Exit status: 0 passed, 1 a check failed or differed, 2 usage or set-up error.
# Machine-readable lines (the integration test reads them):
#   RESULT <release> ours|reference <package> <outcome> [detail]
#   BOOT <release> ours|reference <seconds>
#   KMSG <release> ours|reference <package>: <kernel message about taint, signature, symbols, BUG...>
set -euo pipefail
# The whole script is one block, read before it runs: editing it during a run is safe.
{

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$script_dir/.." && pwd)
BOOT_LIB=$script_dir/lib
source "$BOOT_LIB/boot-image.sh"
source "$BOOT_LIB/boot-initramfs.sh"
source "$BOOT_LIB/apt-contrib.sh"
source "$BOOT_LIB/boot-zfs.sh"
source "$BOOT_LIB/kernel-links.sh"

say() { printf '[boot-test] %s\n' "$*"; }
die() { printf '[boot-test] error: %s\n' "$*" >&2; exit 2; }

kernels=() with_zfs=no reference=yes keep=no reuse_reference=yes cold=no
while (($#)); do
    case $1 in
        --kernel) kernels+=("${2:?--kernel needs a release}"); shift ;;
        --with-zfs) with_zfs=yes ;;
        --no-reference) reference=no ;;
        --keep) keep=yes ;;
        --rebuild-reference) reuse_reference=no ;;
        --cold) cold=yes ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1" ;;
    esac
    shift
done

ours=${DKMS_BINARY:-$repo/.build/debug/dkms}
ref=${REFERENCE_DKMS:-/usr/sbin/dkms}
cache=${BOOT_TEST_CACHE:-$repo/.cache/boot-test}
timeout_s=${BOOT_TIMEOUT:-600}
[[ $(id -u) == 0 ]] || die "needs root (the reference runs in a private mount namespace; dkms builds)"
[[ -x $ours ]] || die "no dkms binary at $ours (swift build first, or set DKMS_BINARY)"
[[ $reference == no || -x $ref ]] || die "no reference dkms at $ref"
for tool in qemu-system-x86_64 busybox kmod dmsetup cpio gzip apt-get dpkg; do
    command -v "$tool" >/dev/null || die "'$tool' not found (scripts/install-deps.sh installs it)"
done
busybox --list | grep -qx sh || die "busybox has no sh applet"
# The initramfs carries busybox alone, without its libraries.
! ldd "$(command -v busybox)" >/dev/null 2>&1 || die "busybox is not static (install busybox-static)"

# Kernels: every release with a configured header tree, sorted.
if ((${#kernels[@]} == 0)); then
    mapfile -t kernels < <({
        for d in /lib/modules/*/build; do [[ -f $d/.config ]] && basename "$(dirname "$d")"; done
        for d in /usr/src/linux-headers-*/; do [[ -f $d/.config ]] && basename "$d" | sed 's/^linux-headers-//'; done
    } | sort -uV)
fi
((${#kernels[@]} > 0)) || die "no kernel headers installed"
for k in "${kernels[@]}"; do [[ -f /lib/modules/$k/build/.config ]] || die "$k: no /lib/modules/$k/build"; done

# Modules: the Debian -dkms sources, fetched into the repo's cache.
packages=(v4l2loopback-dkms acpi-call-dkms ddcci-dkms jool-dkms gost-crypto-dkms dm-writeboost-dkms)
[[ $with_zfs == yes ]] && packages+=(zfs-dkms)
modules_cache=$repo/.cache/debian-modules
"$script_dir/fetch-debian-modules.sh" "$modules_cache" >/dev/null 2>&1 ||
    "$script_dir/fetch-debian-modules.sh" "$modules_cache" || die "fetching the Debian module sources failed"

# Hermetic: what dkms and the kernel packages own on the host is listed before and
# compared after (names, types, sizes, mtimes).
host_listing() {
    find /var/lib/dkms /usr/src /lib/modules /etc/dkms -xdev -printf '%p %y %s %T@\n' 2>/dev/null | LC_ALL=C sort
}
host_before=$(host_listing | sha256sum)

work=$(mktemp -d /tmp/boot-test.XXXXXX)
cleanup() { if [[ $keep == yes ]]; then say "scratch kept: $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
say "kernels: ${kernels[*]}; scratch: $work"

zfs_userland=""
if [[ $with_zfs == yes ]]; then
    zfs_userland=$(fetch_zfs_userland "$(ls "$modules_cache"/zfs-dkms/zfs-dkms_*.deb)" "$cache") ||
        die "cannot fetch zfs's userland (zpool, zfs) at zfs-dkms's version"
    say "zfs userland: $(tr '\n' ' ' < "${zfs_userland%/root}/ready")"
fi

for k in "${kernels[@]}"; do
    fetch_kernel_image "$k" "$cache" || die "$k: cannot fetch Debian's kernel image"
    say "$k: image $(cat "$cache/images/$k/package")"
done

# ---- building -----------------------------------------------------------------

# side_dkms SIDE ARG...: runs that side's dkms on its trees.
side_dkms() {
    local side=$1; shift
    local t=$work/$side
    local trees=(--dkmstree "$t/tree" --sourcetree "$t/src" --installtree "$t/root/lib/modules")
    if [[ $side == ours ]]; then
        DKMS_CONFIG_DIR=$t/etc-dkms "$ours" "$@" "${trees[@]}"
    else
        # Debian's dkms 3.0 keeps its signing key under /var/lib/dkms whatever
        # --dkmstree says and reads /etc/dkms: a private mount namespace gives it a
        # scratch /etc/dkms that moves the key into the scratch tree.
        unshare -m --propagation private /bin/bash -c \
            'mount --bind "$1" /etc/dkms && shift && exec "$@"' _ "$t/etc-dkms" "$ref" "$@" "${trees[@]}"
    fi
}

# reference_key RELEASE PACKAGE: the SHA-256 of everything the reference's build of
# PACKAGE for RELEASE depends on.
reference_key() {
    local k=$1 p=$2
    {
        "$ref" --version 2>&1
        sha256sum "$modules_cache/$p"/*.deb | cut -d' ' -f1
        dpkg-query -W -f='${Package} ${Version}\n' "linux-headers-$k" 2>/dev/null || true
        sha256sum "/lib/modules/$k/build/.config" | cut -d' ' -f1
        gcc --version | head -n 1
    } | sha256sum | cut -c1-16
}

# save_reference DIR TREES RELEASE NAME VERSION RC: keeps what the reference made.
save_reference() {
    local dir=$1 t=$2 k=$3 name=$4 version=$5 rc=$6 tmp f m
    mkdir -p "${dir%/*}"
    tmp=$(mktemp -d "${dir%/*}/.save.XXXXXX")
    mkdir -p "$tmp/installed"
    if [[ $rc == 0 ]]; then
        cp -a "$t/tree/$name/$version/$k/x86_64/module" "$tmp/module"
        for m in "$tmp"/module/*.ko*; do
            m=${m##*/}
            while IFS= read -r -d '' f; do
                mkdir -p "$tmp/installed/$(dirname "$f")"
                cp -a "$t/root/lib/modules/$k/$f" "$tmp/installed/$f"
            done < <(cd "$t/root/lib/modules/$k" && find . -path ./build -prune -o -type f -name "$m" -printf '%P\0')
        done
    fi
    echo "$rc" > "$tmp/rc"
    rm -rf "$dir"
    mv "$tmp" "$dir"
}

# restore_reference DIR TREES RELEASE NAME VERSION: puts a kept build back in the trees.
restore_reference() {
    local dir=$1 t=$2 k=$3 name=$4 version=$5
    if [[ -d $dir/module ]]; then
        mkdir -p "$t/tree/$name/$version/$k/x86_64"
        cp -a "$dir/module" "$t/tree/$name/$version/$k/x86_64/module"
    fi
    cp -a "$dir/installed/." "$t/root/lib/modules/$k/"
}

# build_side SIDE: adds every package and installs it for every kernel; writes
# $work/SIDE/built: "<release> <package> <exit status>".
build_side() {
    local side=$1 t=$work/$1 p name version k rc start
    mkdir -p "$t"/{tree,src,root/lib/modules,etc-dkms/framework.conf.d,logs}
    if [[ $side == ours ]]; then
        local c=${DKMS_CACHE_DIR:-$cache/dkms-cache}
        [[ $cold == no ]] || c=$t/cache
        echo "cache_dir=$c" > "$t/etc-dkms/framework.conf"
    else
        printf 'mok_signing_key=%s\nmok_certificate=%s\n' "$t/mok.key" "$t/mok.pub" > "$t/etc-dkms/framework.conf"
    fi
    for k in "${kernels[@]}"; do
        link_kernel "$k" "$t/root/lib/modules"
    done
    : > "$t/built"
    start=$SECONDS
    local reused_count=0 total=0
    for p in "${packages[@]}"; do
        read -r name version < "$modules_cache/$p/module"
        cp -a "$modules_cache/$p/src" "$t/src/$name-$version"
        side_dkms "$side" add -m "$name" -v "$version" > "$t/logs/add-$name.log" 2>&1 ||
            { cat "$t/logs/add-$name.log" >&2; die "$side: dkms add $name/$version failed"; }
        for k in "${kernels[@]}"; do
            rc=0
            local saved="" reused=no
            if [[ $side == reference ]]; then saved=$cache/reference/$k/$p-$(reference_key "$k" "$p"); fi
            if [[ -n $saved && $reuse_reference == yes && -s $saved/rc ]]; then
                restore_reference "$saved" "$t" "$k" "$name" "$version"
                rc=$(cat "$saved/rc") reused=yes
                echo "(reused from $saved)" > "$t/logs/install-$name-$k.log"
                reused_count=$((reused_count + 1))
            else
                side_dkms "$side" install -m "$name" -v "$version" -k "$k" --no-depmod \
                    > "$t/logs/install-$name-$k.log" 2>&1 || rc=$?
                [[ -z $saved ]] || save_reference "$saved" "$t" "$k" "$name" "$version" "$rc"
            fi
            echo "$k $p $rc" >> "$t/built"
            total=$((total + 1))
            [[ $reused == no ]] || continue
            case $rc in
                0) ;;
                77) say "$side: $name/$version excluded on $k by its dkms.conf (BUILD_EXCLUSIVE)" ;;
                *) say "$side: $name/$version does not build on $k (exit $rc):"
                   tail -n 5 "$t/logs/install-$name-$k.log" | sed 's/^/    /' ;;
            esac
        done
    done
    ((reused_count == 0)) || say "$side: $reused_count of $total builds (exit status and files) reused from $cache/reference: same inputs"
    say "$side: built and installed in $((SECONDS - start)) s"
}

# manifest SIDE RELEASE: "PACKAGE MODULE..." for every package SIDE installed for
# RELEASE, its modules as the dkms tree's module/ directory names them, a test module
# (gost-crypto's gost-test) last, once the algorithms it tests are there.
manifest() {
    local side=$1 k=$2 t=$work/$1 p name version rc dir
    while read -r kk p rc; do
        [[ $kk == "$k" && $rc == 0 ]] || continue
        read -r name version < "$modules_cache/$p/module"
        dir=$t/tree/$name/$version/$k/x86_64/module
        printf '%s %s\n' "${p%-dkms}" "$(ls "$dir" | sed -n 's/\.ko\(\.[a-z]*\)\{0,1\}$//p' |
            awk '/test/ { last = last " " $0; next } { printf "%s ", $0 } END { print substr(last, 2) }' | sed 's/ *$//')"
    done < "$t/built"
}

sides=(ours)
[[ $reference == yes ]] && sides+=(reference)
for side in "${sides[@]}"; do build_side "$side"; done   # one after the other: one heavy job at a time

# ---- booting ------------------------------------------------------------------

# boot SIDE RELEASE: makes the initramfs, boots it, writes $work/SIDE/serial-RELEASE.log
# and prints "BOOT RELEASE SIDE SECONDS" and the RESULT lines.
boot() {
    local side=$1 k=$2 t=$work/$1
    local log=$t/serial-$k.log initrd=$t/initrd-$k.gz
    manifest "$side" "$k" > "$t/manifest-$k"
    # The pool check needs zpool and zfs, and memory for the ARC beside the initramfs.
    local userland="" memory=1024
    if grep -q '^zfs ' "$t/manifest-$k"; then userland=$zfs_userland memory=2048; fi
    make_initramfs "$k" "$cache/images/$k" "$t/root" "$t/manifest-$k" "$t/initramfs-$k" "$initrd" "$userland" ||
        die "$side on $k: making the initramfs failed"
    local start end rc=0
    start=$(date +%s.%N)
    timeout --foreground -k 10 "$timeout_s" qemu-system-x86_64 -accel tcg -m "$memory" -smp 1 -nographic \
        -no-reboot -nic none -monitor none -serial "file:$log" -kernel "$cache/images/$k/vmlinuz" -initrd "$initrd" \
        -append "console=ttyS0 panic=-1 loglevel=4 quiet" </dev/null >"$t/qemu-$k.out" 2>&1 || rc=$?
    end=$(date +%s.%N)
    local secs
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    echo "BOOT $k $side $secs"
    tr -d '\r' < "$log" > "$log.txt"
    if ! grep -q '^BOOT-TEST: DONE' "$log.txt"; then
        say "$side on $k: the boot did not finish (qemu exit $rc after $secs s); last lines:"
        tail -n 25 "$log.txt" | sed 's/^/    /'
        cat "$t/qemu-$k.out" | sed 's/^/    qemu: /'
    fi
    local p rc2 line pkg outcome detail
    while read -r kk p rc2; do
        [[ $kk == "$k" ]] || continue
        pkg=${p%-dkms}
        case $rc2 in
            0) line=$(grep -m1 "^BOOT-TEST: RESULT $pkg " "$log.txt" || true)
               if [[ -z $line ]]; then outcome=NO-RESULT detail="(the boot gave no result)"
               else read -r _ _ _ outcome detail <<<"$line"; fi ;;
            77) outcome=EXCLUDED detail="BUILD_EXCLUSIVE" ;;
            *) outcome=NOT-BUILT detail="dkms install exit $rc2" ;;
        esac
        echo "RESULT $k $side $pkg $outcome $detail"
    done < "$t/built"
    # The packages' kernel messages that matter, from the serial console.
    grep '^BOOT-TEST: KMSG ' "$log.txt" |
        grep -Ei 'taint|signature|verification|unknown symbol|disagrees|invalid|BUG:|WARNING:|Oops|Call Trace' |
        sed "s/^BOOT-TEST: KMSG /KMSG $k $side /" || true
}

results=$work/results
: > "$results"
for k in "${kernels[@]}"; do
    for side in "${sides[@]}"; do
        boot "$side" "$k" | tee -a "$results" | grep -E '^(BOOT|RESULT|KMSG) ' | grep -v '^RESULT .* PASS ' || true
        if [[ $keep == yes ]]; then say "$side on $k: serial log $work/$side/serial-$k.log.txt"; fi
    done
done

# ---- report -------------------------------------------------------------------

status=0
echo
for k in "${kernels[@]}"; do
    printf '%s (%s)\n' "$k" "$(cat "$cache/images/$k/package")"
    printf '  %-14s %-10s %-10s %s\n' module ours reference ""
    for p in "${packages[@]}"; do
        pkg=${p%-dkms}
        o=$(awk -v k="$k" -v p="$pkg" '$1 == "RESULT" && $2 == k && $3 == "ours" && $4 == p { print $5 }' "$results")
        r=$(awk -v k="$k" -v p="$pkg" '$1 == "RESULT" && $2 == k && $3 == "reference" && $4 == p { print $5 }' "$results")
        verdict=""
        [[ $o == PASS || $o == EXCLUDED || $o == NOT-BUILT ]] || { verdict="FAILED"; status=1; }
        if [[ $reference == yes && $o != "$r" ]]; then verdict="${verdict:+$verdict, }differs from the reference"; status=1; fi
        printf '  %-14s %-10s %-10s %s\n' "$pkg" "$o" "${r:--}" "$verdict"
    done
    for side in "${sides[@]}"; do
        printf '  boot (%s): %s s\n' "$side" "$(awk -v k="$k" -v s="$side" '$1 == "BOOT" && $2 == k && $3 == s { print $4 }' "$results")"
    done
done
grep '^RESULT ' "$results" | grep -v ' PASS ' | sed 's/^/  /' || true
if [[ $(host_listing | sha256sum) == "$host_before" ]]; then
    say "host unchanged: /var/lib/dkms, /usr/src, /lib/modules, /etc/dkms"
else
    say "the host's /var/lib/dkms, /usr/src, /lib/modules or /etc/dkms changed during the run"; status=1
fi
grep -E '^(RESULT|BOOT) ' "$results"
if ((status == 0)); then say "PASSED"; else say "FAILED"; [[ $keep == yes ]] || say "(--keep keeps the serial logs)"; fi
exit $status
}
