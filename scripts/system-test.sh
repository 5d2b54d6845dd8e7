#!/usr/bin/env bash
# System test: dkms-swift as the system's dkms on Debian, driven by real
# packages through apt, in throw-away roots that leave the host untouched.
#
#   scripts/system-test.sh [--chroot] [--no-reference] [--with-zfs]
#                          [--without-debian-dkms] [--default-headers-only] [--keep]
#
# Each root is an overlay of / (lower: the host's /, upper on a tmpfs) in
# a private mount and pid namespace, entered with pivot_root (or chroot
# with --chroot), with fresh /proc, /run, /tmp and the host's /dev and /sys.
# In it:
#   1. scripts/install-integration.sh / with DKMS_BINARY (the binary under
#      test; default: the debug build), which diverts Debian's dkms files;
#   2. apt-get install acpi-call-dkms v4l2loopback-dkms (+ zfs-dkms from
#      contrib with --with-zfs): their postinst goes through our
#      common.postinst, which must build and install every module for every
#      kernel with headers (checked with dkms status, and each .ko's
#      vermagic and compression against the kernel's config);
#   3. apt-get install of a headers package not installed yet (picked from
#      apt-cache, never named here): the kernel hook must build both;
#   4. apt-get purge of the packages: modules, tree entries and sources gone;
#   5. install-integration.sh --uninstall: Debian's dkms files back, intact.
# With --without-debian-dkms, Debian's dkms is purged from the root first:
# install-integration must then hold when apt brings it back as the -dkms
# packages' dependency.  Then, unless --no-reference, steps 2-4 again in a second root with
# Debian's own dkms, and both roots' `dkms status` must print the same lines.
# With --default-headers-only, each root starts as a machine with only the
# headers Debian's linux-headers-amd64 brings (the others are purged in the
# root): zfs builds for ~10-25 minutes per kernel, so --with-zfs is run so.
# Finally the host's dkms tree, sources, modules, kernel hooks and dpkg
# database must be as they were.
#
# Exit status: 0 passed, 1 failed, 3 the chroot variant failed only because
# the sandbox cannot create namespaces in a chroot (a known limit until the
# sandbox has a mode for it).  Logs: printed on failure; kept with --keep.
set -euo pipefail

self=$(readlink -f "$0")
repo=$(cd "$(dirname "$self")/.." && pwd)
packages=(acpi-call-dkms v4l2loopback-dkms)
# package:dkms module name:kernel module file, test data for the checks.
modules=(acpi-call-dkms:acpi-call:acpi_call v4l2loopback-dkms:v4l2loopback:v4l2loopback)
zfs_modules=(zfs-dkms:zfs:zfs zfs-dkms:zfs:spl)

log() { printf '[system-test] %s\n' "$*"; }
fail() { printf '[system-test] FAIL: %s\n' "$*" >&2; exit 1; }
# Ours and upstream's both say dkms-3.4.3 in --version; ours is the binary that
# writes dkms-swift manifests (Debian's is a shell script without that name).
is_ours() { [[ -f $1 ]] && grep -qa 'dkms-swift\.manifest' "$1"; }

# ---------------------------------------------------------------- inside

# Kernels with headers in this root, one per line.
kernels_with_headers() {
    local d
    for d in /lib/modules/*/build/include; do
        [[ -e $d ]] || continue
        d=${d#/lib/modules/}; echo "${d%%/*}"
    done
}

# The file name a module gets in kernel $1: compressed as its config says.
module_suffix() {
    local config=/lib/modules/$1/build/.config
    [[ -r $config ]] || config=/boot/config-$1
    if grep -qx 'CONFIG_MODULE_COMPRESS_XZ=y' "$config"; then echo .ko.xz
    elif grep -qx 'CONFIG_MODULE_COMPRESS_ZSTD=y' "$config"; then echo .ko.zst
    elif grep -qx 'CONFIG_MODULE_COMPRESS_GZIP=y' "$config"; then echo .ko.gz
    else echo .ko
    fi
}

# A kernel release as an extended regular expression matching only itself.
ere() { local x=${1//./\\.}; printf '%s' "${x//+/\\+}"; }

# check_installed SPEC KERNEL: dkms status says installed, and the module
# file is there with the kernel's release in its vermagic.
check_installed() {
    local pkg name mod k=$2 file vermagic
    IFS=: read -r pkg name mod <<< "$1"
    grep -Eq "^$name/[^,]+, $(ere "$k"), $(uname -m): installed\$" <<< "$(dkms status -m "$name" -k "$k")" ||
        fail "$pkg: dkms status does not say $name is installed for $k: $(dkms status -m "$name" 2>&1)"
    file=/lib/modules/$k/updates/dkms/$mod$(module_suffix "$k")
    [[ -f $file ]] || fail "$pkg: no $file (there: $(find "/lib/modules/$k/updates" -printf '%P ' 2>&1))"
    vermagic=$(modinfo -F vermagic "$file")
    [[ ${vermagic%% *} == "$k" ]] || fail "$file: vermagic '$vermagic' is not for $k"
    log "ok: $mod for $k: ${file##*/}, vermagic $vermagic"
}

check_gone() {
    local pkg name mod
    IFS=: read -r pkg name mod <<< "$1"
    [[ -z $(dkms status -m "$name" 2>/dev/null) ]] || fail "$pkg purged but dkms status still has: $(dkms status -m "$name")"
    [[ ! -e /var/lib/dkms/$name ]] || fail "$pkg purged but /var/lib/dkms/$name is left: $(find "/var/lib/dkms/$name" | head)"
    compgen -G "/usr/src/$name-*" >/dev/null && fail "$pkg purged but its sources are left in /usr/src"
    compgen -G "/lib/modules/*/updates/dkms/$mod.ko*" >/dev/null && fail "$pkg purged but $(echo /lib/modules/*/updates/dkms/"$mod".ko*) left"
    log "ok: $pkg purged, $mod gone from every kernel"
}

# apt_get ARGS...: runs apt-get, its output in results/apt-N.log.  Its exit
# status and the packages' dpkg states go to results/outcomes: a -dkms
# package whose module does not compile against one of the kernels fails
# its postinst with any dkms, so a failure is compared with the reference
# instead of failing the test here.
apt_get() {
    local logf=$results/apt-$((++apt_runs)).log rc=0
    log "apt-get $* (log: ${logf##*/})"
    DEBIAN_FRONTEND=noninteractive apt-get -y -o Dpkg::Use-Pty=0 "$@" > "$logf" 2>&1 || rc=$?
    if grep -q 'clone namespaces: Operation not permitted' "$logf"; then
        echo "[system-test] the sandbox could not create its namespaces in this root" > "$results/namespaces-refused"
        fail "apt-get $*: the sandbox could not create its namespaces (see ${logf##*/})"
    fi
    echo "apt-get $1: exit $rc" >> "$results/outcomes"
    dpkg-query -W -f '  ${Package} ${db:Status-Abbrev}\n' "${pkgs[@]}" >> "$results/outcomes" 2>/dev/null || true
    if ((rc)); then
        log "apt-get $1 exited $rc; its dpkg errors:"
        grep -E '^(dpkg: error|Error!|Builds for the following)' "$logf" | sed 's/^/    /' >&2 || tail -n 20 "$logf" >&2
    fi
}

# dpkg_i DEBS...: like apt_get, for dpkg -i.
dpkg_i() {
    local rc=0
    log "dpkg -i ${*##*/} (log: dpkg-i.log)"
    dpkg -i "$@" > "$results/dpkg-i.log" 2>&1 || rc=$?
    if ((rc)) && [[ $variant == reference ]] && only_exclusive_failures "$results/dpkg-i.log"; then
        reference_exclusive_failure "$rc"
        rc=0
    fi
    echo "dpkg -i: exit $rc" >> "$results/outcomes"
    ((rc == 0)) || { tail -n 20 "$results/dpkg-i.log" >&2; fail "dpkg -i of the headers failed"; }
}

# Debian's dkms 3.0.10 counts a module that BUILD_EXCLUSIVE keeps from a
# kernel as a failed autoinstall (exit 11), so its kernel hook fails the
# headers package (v4l2loopback on the cloud kernel, which has no V4L2);
# upstream 3.4 (which ours follows) skips it. True when that is the only
# error in log $1: the BUILD_EXCLUSIVE notices and the summary.
only_exclusive_failures() {
    local errors
    grep -q 'includes a BUILD_EXCLUSIVE directive which does not match this kernel' "$1" || return 1
    errors=$(grep '^Error!' "$1" | grep -v -e 'includes a BUILD_EXCLUSIVE directive' \
                 -e 'One or more modules failed to install during autoinstall' || true)
    [[ -z $errors ]]
}

# The reference's headers package is left half-configured by that: it is
# configured with its hook told to skip (/etc/dkms/no-autoinstall, which
# 3.0.10's dkms_autoinstaller honours), so the purge later does not run the
# hook again; the comparison then takes what the hook built before it failed.
reference_exclusive_failure() {
    log "reference: dpkg -i exited $1 only because Debian's dkms 3.0.10 counts a BUILD_EXCLUSIVE skip as a failed autoinstall (upstream 3.4 skips it, as ours does): compared as a success"
    echo "dpkg -i: exit $1 (BUILD_EXCLUSIVE counted as a failure)" > "$results/reference-exclusive-failure"
    touch /etc/dkms/no-autoinstall
    dpkg --configure -a > "$results/dpkg-configure.log" 2>&1 || { rm -f /etc/dkms/no-autoinstall; fail "dpkg --configure -a after the reference's hook failure failed"; }
    rm -f /etc/dkms/no-autoinstall
}

# check_kernel SPEC KERNEL: if dkms status has the module for the kernel it
# is installed, with its file (check_installed); if not, the reference
# comparison decides whether it should have been built.
check_kernel() {
    local pkg name mod
    IFS=: read -r pkg name mod <<< "$1"
    # (A module only added, not built for it, is listed as "NAME/VERSION: added".)
    if [[ $(dkms status -m "$name" -k "$2") == *", $2, "* ]]; then
        check_installed "$1" "$2"
        installed_for[$2]=$((${installed_for[$2]:-0} + 1))
    else
        log "note: $mod is not built for $2 (BUILD_EXCLUSIVE or a failed build; compared with the reference)"
    fi
}

# Every "Building for" line of common.postinst in log $1 names every
# kernel with headers: it tried them all.
check_tried_all() {
    local line k n=0
    while IFS= read -r line; do
        n=$((n + 1))
        for k in "${kernels[@]}"; do
            [[ " ${line//,/ } " == *" $k "* ]] || fail "common.postinst did not try $k: $line"
        done
    done < <(grep '^Building for ' "$1" | grep -v 'architecture')
    ((n == ${#pkgs[@]})) || fail "$n 'Building for' lines in $1 for ${#pkgs[@]} packages"
    log "ok: common.postinst of each package tried every kernel with headers"
}

# A headers package for a kernel not installed yet: preferably one whose
# -common package is installed (only the flavour's small part to fetch).
pick_new_headers() {
    local installed common p
    installed=$(dpkg-query -W -f '${db:Status-Status} ${Package}\n' 'linux-headers-*' | awk '$1 == "installed" { print $2 }')
    while read -r common; do
        for p in $(apt-cache pkgnames "${common%-common}-" | grep -Ev -- '-common(-rt)?$' | sort); do
            grep -qxF "$p" <<< "$installed" || { echo "$p"; return; }
        done
    done < <(grep -E -- '-common$' <<< "$installed")
    for p in $(apt-cache pkgnames linux-headers- | grep -E -- '^linux-headers-[0-9].*-amd64$' | sort -V); do
        grep -qxF "$p" <<< "$installed" || { echo "$p"; return; }
    done
    return 1
}

# The headers packages installed here that Debian's linux-headers-amd64 does
# not bring in, purged from this root (before any dkms is involved), so that
# it is a machine with today's default headers only.
purge_non_default_headers() {
    local keep installed extra
    dpkg-query -W -f '${db:Status-Status}' linux-headers-amd64 2>/dev/null | grep -qx installed ||
        fail "--default-headers-only: linux-headers-amd64 is not installed"
    keep=$(apt-cache depends --recurse --installed --no-recommends --no-suggests --no-conflicts --no-breaks \
               --no-replaces --no-enhances linux-headers-amd64 | grep -E '^linux-headers-' | sort -u)
    installed=$(dpkg-query -W -f '${db:Status-Status} ${Package}\n' 'linux-headers-*' | awk '$1 == "installed" { print $2 }' | sort -u)
    mapfile -t extra < <(comm -23 <(echo "$installed") <(echo "$keep"))
    if ((${#extra[@]})); then
        dpkg --purge "${extra[@]}" > "$results/purge-headers.log" 2>&1 ||
            { tail -n 20 "$results/purge-headers.log" >&2; fail "dpkg --purge of the other headers failed"; }
    fi
    log "default headers only: kept $(echo $keep), purged ${extra[*]:-nothing}"
}

# The contrib component added to this root's own Debian sources, beside main
# (no archive is named here; the entries keep their Signed-By).
add_contrib_source() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        sed -i -E -e '/^Components:/{/ contrib( |$)/!s/( main)( |$)/\1 contrib\2/}' \
                  -e '/^deb(-src)? /{/ contrib( |$)/!s/( main)( |$)/\1 contrib\2/}' "$f"
    done
    grep -rqE '^(Components:|deb ).* contrib( |$)' /etc/apt/sources.list /etc/apt/sources.list.d 2>/dev/null ||
        fail "no Debian source with a main component to add contrib to"
}

stage() {
    local variant=$1 with_zfs=$2 default_headers_only=$3
    results=/system-test-results/$variant
    mkdir -p "$results"
    apt_runs=0
    export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8
    local specs=("${modules[@]}") k s
    pkgs=("${packages[@]}")
    declare -A installed_for=()

    if [[ $default_headers_only == yes ]]; then
        purge_non_default_headers
    fi
    if [[ $variant == ours-without-debian-dkms ]]; then
        dpkg --purge dkms > "$results/purge-dkms.log"
        [[ ! -e /usr/sbin/dkms ]] || fail "dpkg --purge dkms left /usr/sbin/dkms"
        log "ok: Debian's dkms purged from this root"
    fi
    if [[ $variant == ours* ]]; then
        DKMS_BINARY=$binary "$repo/scripts/install-integration.sh" / > "$results/install.log"
        # (grep reads whole outputs here: with pipefail, grep -q on a pipe
        # would fail the pipeline when the writer gets SIGPIPE.)
        is_ours /usr/sbin/dkms || fail "dkms in the root is not ours: $(dkms --version)"
        grep -q '^local diversion of /usr/lib/dkms/common.postinst to ' <<< "$(dpkg-divert --list)" ||
            fail "common.postinst not diverted: $(dpkg-divert --list)"
        log "ok: installed ours: $(dkms --version | head -n 1)"
    fi

    if [[ $with_zfs == yes ]]; then
        # contrib only in here: zfs-dkms lives there.
        add_contrib_source
        specs+=("${zfs_modules[@]}"); pkgs+=(zfs-dkms)
    fi
    apt_get update

    # dkms 3.x builds for the running kernel and the newest one when the
    # running kernel is installed; on a machine (unlike this container)
    # where it is, ask for all kernels, in both roots alike.
    if [[ -e /lib/modules/$(uname -r) ]]; then
        mkdir -p /etc/dkms/framework.conf.d
        echo 'autoinstall_all_kernels="yes"' > /etc/dkms/framework.conf.d/system-test.conf
    fi

    mapfile -t kernels < <(kernels_with_headers)
    ((${#kernels[@]})) || fail "no kernel headers installed"
    log "kernels with headers: ${kernels[*]}"
    local t0=$SECONDS
    apt_get install --no-install-recommends "${pkgs[@]}"
    log "packages installed in $((SECONDS - t0)) s"
    check_tried_all "$results/apt-$apt_runs.log"
    for s in "${specs[@]}"; do for k in "${kernels[@]}"; do check_kernel "$s" "$k"; done; done
    dkms status | sort > "$results/status-1"

    local new
    new=$(pick_new_headers) || fail "no kernel headers package left to install"
    echo "$new" > "$results/new-headers"
    # Fetched by apt, installed by dpkg: apt-get install would first retry
    # the postinst of a package left half-configured above, which builds
    # for the new kernel too; dpkg -i runs only the headers packages'
    # scripts, so what gets built for the new kernel is the hook's doing.
    t0=$SECONDS
    mkdir -p /tmp/new-headers/partial
    apt_get install --no-install-recommends --download-only -o Dir::Cache::archives=/tmp/new-headers "$new"
    dpkg_i /tmp/new-headers/*.deb
    log "$new installed in $((SECONDS - t0)) s"
    mapfile -t after < <(kernels_with_headers)
    k=$(comm -13 <(printf '%s\n' "${kernels[@]}" | sort) <(printf '%s\n' "${after[@]}" | sort))
    [[ -n $k && $k != *$'\n'* ]] || fail "$new did not add exactly one kernel with headers: ${after[*]}"
    # Ours says "dkms: running autoinstall for kernel K", Debian's
    # "dkms: running auto installation service for kernel K." (lsb log_action_msg adds the dot).
    grep -Eq "^dkms: running auto(install| installation service) for kernel $(ere "$k")\.?\$" "$results/dpkg-i.log" ||
        fail "the kernel hook did not run for $k (see dpkg-i.log)"
    for s in "${specs[@]}"; do check_kernel "$s" "$k"; done
    ((${installed_for[$k]:-0})) || fail "the kernel hook built nothing for $k"
    dkms status | sort > "$results/status-2"

    apt_get purge "${pkgs[@]}"
    for s in "${specs[@]}"; do check_gone "$s"; done

    if [[ $variant == ours-without-debian-dkms ]]; then
        # apt brought Debian's dkms back as a dependency: beside ours.
        [[ $(dpkg-query -W -f '${db:Status-Status}' dkms) == installed ]] || fail "apt did not install Debian's dkms"
        [[ -x /usr/sbin/dkms.distrib ]] && is_ours /usr/sbin/dkms ||
            fail "Debian's dkms package took /usr/sbin/dkms back: $(dkms --version)"
        log "ok: apt installed Debian's dkms as a dependency; its files went aside, ours stayed"
    fi
    if [[ $variant == ours* ]]; then
        "$repo/scripts/install-integration.sh" --uninstall / > "$results/uninstall.log"
        ! grep -q '^local diversion' <<< "$(dpkg-divert --list)" || fail "diversions left: $(dpkg-divert --list | grep '^local diversion')"
        dpkg --verify dkms > "$results/verify.log" 2>&1 || true
        [[ ! -s $results/verify.log ]] || fail "Debian's dkms not intact after --uninstall: $(cat "$results/verify.log")"
        ! is_ours /usr/sbin/dkms || fail "dkms is still ours after --uninstall"
        log "ok: --uninstall restored Debian's dkms ($(/usr/sbin/dkms --version | head -n 1))"
    fi
    log "$variant: passed"
}

# ---------------------------------------------------------------- the root

# enter MODE VARIANT WITH_ZFS: runs in the new namespaces; builds the root
# and runs the stage inside it.
enter() {
    local mode=$1 variant=$2 with_zfs=$3 scratch=$4 default_headers_only=$5
    mount -t tmpfs -o size=20g,mode=755 system-test "$scratch/fs"
    mkdir "$scratch"/fs/{upper,work,root}
    mount -t overlay system-test -o "lowerdir=/,upperdir=$scratch/fs/upper,workdir=$scratch/fs/work" "$scratch/fs/root"
    local r=$scratch/fs/root
    mount -t proc proc "$r/proc"
    mount --rbind /dev "$r/dev"
    mount --rbind /sys "$r/sys"
    mount -t tmpfs -o mode=755 run "$r/run"
    mount -t tmpfs -o mode=1777 tmp "$r/tmp"
    # The root's /tmp is fresh: a checkout or binary under the host's /tmp (a
    # CI clone, say) is shown there again, read-only, at the same path.
    local p
    for p in "$repo" "$(dirname "$binary")"; do
        [[ $p == /tmp/* && ! -d $r$p/. ]] || continue
        mkdir -p "$r$p"
        mount --rbind "$p" "$r$p"
        mount -o remount,bind,ro "$r$p"
    done
    mkdir -p "$r/system-test-results"
    mount --bind "$scratch/results" "$r/system-test-results"
    local inside=(/usr/bin/env -i "binary=$binary" /bin/bash "$self" --stage "$variant" "$with_zfs" "$default_headers_only")
    if [[ $mode == chroot ]]; then
        exec chroot "$r" "${inside[@]}"
    fi
    # pivot_root: the overlay becomes /, the host's / is detached, so this
    # root is the mount namespace's own (unlike a chroot, which the kernel
    # refuses user namespaces in).
    cd "$r"
    mkdir -p .host
    pivot_root . .host
    exec chroot . /bin/sh -c 'umount -l /.host && rmdir /.host && exec "$@"' _ "${inside[@]}"
}

# What the test must not change on the host.
fingerprint() {
    find /var/lib/dkms /usr/src /lib/modules /etc/kernel /etc/dkms /usr/lib/dkms /usr/sbin/dkms \
        -printf '%p %y %s %m %T@ %l\n' 2>/dev/null | sort
    cat /var/lib/dpkg/status /var/lib/dpkg/diversions
}

# run_root MODE VARIANT: one root, its results in $scratch/results/VARIANT.
run_root() {
    local t0=$SECONDS rc=0
    log "=== $2 ($1)"
    unshare -m -p -f --propagation private "$self" --enter "$1" "$2" "$with_zfs" "$scratch" "$default_headers_only" || rc=$?
    log "=== $2 ($1): exit $rc after $((SECONDS - t0)) s"
    return "$rc"
}

main() {
    local chroot=no reference=yes keep=no ours=ours
    with_zfs=no default_headers_only=no
    while (($#)); do
        case $1 in
            --chroot) chroot=yes ;;
            --no-reference) reference=no ;;
            --with-zfs) with_zfs=yes ;;
            --without-debian-dkms) ours="ours-without-debian-dkms" ;;
            --default-headers-only) default_headers_only=yes ;;
            --keep) keep=yes ;;
            *) echo "usage: $0 [--chroot] [--no-reference] [--with-zfs] [--without-debian-dkms] [--default-headers-only] [--keep]" >&2; exit 2 ;;
        esac
        shift
    done
    ((EUID == 0)) || { echo "system-test: needs root (mount namespaces, overlayfs, apt)" >&2; exit 2; }
    binary=${DKMS_BINARY:-$(cd "$repo" && swift build --show-bin-path)/dkms}
    [[ -x $binary ]] || fail "no dkms binary at $binary (build it, or set DKMS_BINARY)"
    export binary

    scratch=$(mktemp -d /tmp/dkms-system-test.XXXXXX)
    mkdir "$scratch"/{fs,results}
    [[ $keep == yes ]] || trap 'rm -rf "$scratch"' EXIT
    fingerprint > "$scratch/host-before"

    local mode=pivot status=0
    [[ $chroot == no ]] || mode=chroot
    run_root "$mode" "$ours" || status=$?
    if ((status)) && [[ $mode == chroot && -e $scratch/results/$ours/namespaces-refused ]]; then
        log "chroot: FAILED ONLY BECAUSE the sandbox cannot create user namespaces inside a chroot" \
            "(clone namespaces: Operation not permitted); expected until the sandbox's chroot mode lands"
        status=3
    fi
    if ((status == 0)) && [[ $reference == yes ]]; then
        run_root pivot reference || status=$?
        if ((status == 0)); then
            # The host check below still runs when these fail.
            for f in new-headers outcomes status-1 status-2; do
                diff -u "$scratch/results/reference/$f" "$scratch/results/$ours/$f" ||
                    { log "FAIL: $f differs from Debian's dkms's (- reference, + ours)"; status=1; }
            done
            if [[ -e $scratch/results/reference/reference-exclusive-failure ]]; then
                log "note: the reference's $(cat "$scratch/results/reference/reference-exclusive-failure") for $(cat "$scratch/results/reference/new-headers")"
            fi
            if ((status == 0)); then
                log "ok: apt outcomes and dkms status are the same as with Debian's dkms:"
                sed 's/^/    /' "$scratch/results/$ours/outcomes"
                sed 's/^/    /' "$scratch/results/$ours/status-2"
            fi
        fi
    fi

    if ! fingerprint | diff "$scratch/host-before" - > "$scratch/host-changes"; then
        log "FAIL: the host changed:"; head -n 20 "$scratch/host-changes"; status=1
    fi
    ((status == 0)) && log "host unchanged; PASSED"
    [[ $keep == no ]] || log "logs kept in $scratch/results"
    exit "$status"
}

case ${1:-} in
    --stage) shift; stage "$@" ;;
    --enter) shift; enter "$@" ;;
    *) main "$@" ;;
esac
