#!/usr/bin/env bash
# make-status-fixture.sh — create a synthetic, reference-dkms-compatible
# dkms/source/install tree with many modules in mixed states, without building
# anything. Used to compare `dkms status` of the reference dkms 3.x and ours,
# and to benchmark status on a big tree.
#
# Usage: scripts/make-status-fixture.sh DIR
#   env FIXTURE_KERNELS="k1 k2"  kernels to use, first two matter (default: the
#                                 first two kernels with headers, in version order;
#                                 with one, it and the made-up 9.9.9-fixture)
#   env FIXTURE_MODULES=N        number of single-.ko modules (default 24)
#
# Creates (DIR is canonicalised with realpath, see "symlinks" below):
#   DIR/tree/                dkms tree  (--dkmstree)
#   DIR/source/<m>-<v>/      source tree (--sourcetree): dkms.conf, Makefile, <m>.c
#   DIR/install/<kver>/...   install tree (--installtree)
#   DIR/dkms-args            the --dkmstree/--sourcetree/--installtree options
#   DIR/expected-status.txt  what `dkms status` must print (LC_ALL=C sorted)
#   DIR/.dkms-status-fixture marker; lets the script safely re-create DIR
#
# Layout written is exactly what dkms 3.0.10 creates on Debian (checked
# against real builds, see notes/modules.md):
#   tree/<m>/<v>/source -> <abs source_tree>/<m>-<v>          (added)
#   tree/<m>/<v>/<kver>/<arch>/module/<name>.ko                (built)
#   tree/<m>/<v>/<kver>/<arch>/log/make.log
#   tree/<m>/kernel-<kver>-<arch> -> <v>/<kver>/<arch>         (installed, relative link)
#   install/<kver>/updates/dkms/<name>.ko  identical copy      (installed;
#       Debian's dkms rewrites DEST_MODULE_LOCATION to /updates/dkms)
# The reference does not need a real build: `dkms status` only checks that
# source/ exists, that module/<name>.ko exists for every BUILT_MODULE_NAME of
# the (sourced) dkms.conf, that kernel-<kver>-<arch> resolves (readlink -f) to
# the <kver>/<arch> dir, and that the installed copy equals the built one.
#
# The fake .ko files are tiny ELF relocatables carrying a real .modinfo
# section (name, version, vermagic=<kver> SMP ..., license) when gcc and
# objcopy are available, so `modinfo -F vermagic` works on them; otherwise a
# few bytes of text. Either way the reference dkms accepts them.
#
# Symlinks: dkms decides "installed" by comparing `readlink -f` of the kernel
# link with "$dkms_tree/<m>/<v>/<kver>/<arch>" textually, so the tree path
# passed to dkms must not contain symlinks. Always use the printed invocation.
set -euo pipefail

die() { printf 'make-status-fixture: error: %s\n' "$*" >&2; exit 1; }

(( $# == 1 )) || die "usage: $0 DIR"
mkdir -p "$1"
D=$(realpath "$1")

# Refuse to clobber a directory we did not create.
if [[ -n $(ls -A "$D") && ! -e $D/.dkms-status-fixture ]]; then
    die "$D is not empty and is not a previous fixture; refusing to touch it"
fi
rm -rf "$D/tree" "$D/source" "$D/install" "$D/expected-status.txt" "$D/dkms-args" "$D/.work"
touch "$D/.dkms-status-fixture"

T=$D/tree S=$D/source I=$D/install W=$D/.work
mkdir -p "$T" "$S" "$I" "$W"

# --- kernels and arch --------------------------------------------------------
if [[ -n ${FIXTURE_KERNELS:-} ]]; then
    read -r -a KERNELS <<<"$FIXTURE_KERNELS"
else
    mapfile -t KERNELS < <(for d in /lib/modules/*/build/include; do [[ -d $d ]] && basename "$(dirname "$(dirname "$d")")"; done | sort -V | head -n 2)
    # One kernel with headers: the second is a name only (nothing is built, and
    # `dkms status` reads the tree alone), after it in version order.
    (( ${#KERNELS[@]} == 1 )) && KERNELS+=("9.9.9-fixture")
fi
(( ${#KERNELS[@]} >= 2 )) || die "need at least two kernels (FIXTURE_KERNELS)"
K1=${KERNELS[0]} K2=${KERNELS[1]}
ARCH=$(uname -m)
NMOD=${FIXTURE_MODULES:-24}
for k in "${KERNELS[@]}"; do mkdir -p "$I/$k"; done   # dkms install needs $install_tree/<kver>

# --- helpers -----------------------------------------------------------------
have_elf=no
if command -v gcc >/dev/null && command -v objcopy >/dev/null &&
   gcc -c -x c /dev/null -o "$W/empty.o" 2>/dev/null; then
    have_elf=yes
fi

# fake_ko NAME VERSION KVER OUT: write a tiny stand-in for a built module.
fake_ko() {
    local name=$1 ver=$2 kver=$3 out=$4
    if [[ $have_elf == yes ]]; then
        # .modinfo is a sequence of NUL-terminated key=value strings.
        printf '%s\0' "version=$ver" "license=GPL" "description=dkms status fixture" \
            "srcversion=FIXTURE$(printf '%s' "$name$ver" | md5sum | cut -c1-16 | tr a-f A-F)" \
            "name=${name//-/_}" "vermagic=$kver SMP preempt mod_unload modversions " \
            >"$W/modinfo.bin"
        objcopy --add-section .modinfo="$W/modinfo.bin" \
                --set-section-flags .modinfo=alloc,readonly,data \
                "$W/empty.o" "$out"
    else
        printf 'fake module %s %s for %s\n' "$name" "$ver" "$kver" >"$out"
    fi
}

# mk_added M V NAME...: source tree dir + dkms tree "added" state.
mk_added() {
    local m=$1 v=$2; shift 2
    local src=$S/$m-$v i=0 n
    mkdir -p "$src"
    {
        printf 'PACKAGE_NAME="%s"\nPACKAGE_VERSION="%s"\n' "$m" "$v"
        for n in "$@"; do
            printf 'BUILT_MODULE_NAME[%d]="%s"\nDEST_MODULE_LOCATION[%d]="/extra"\n' "$i" "$n" "$i"
            i=$((i + 1))
        done
        printf 'MAKE[0]="make -C ${kernel_source_dir} M=${dkms_tree}/${PACKAGE_NAME}/${PACKAGE_VERSION}/build"\n'
        printf 'CLEAN="make -C ${kernel_source_dir} M=${dkms_tree}/${PACKAGE_NAME}/${PACKAGE_VERSION}/build clean"\n'
        printf 'AUTOINSTALL="yes"\n'
    } >"$src/dkms.conf"
    # A Makefile and trivial sources that would really build, should anyone try.
    printf 'obj-m := %s\n' "$(printf '%s.o ' "$@")" >"$src/Makefile"
    for n in "$@"; do
        cat >"$src/$n.c" <<EOF
#include <linux/module.h>
MODULE_LICENSE("GPL");
MODULE_VERSION("$v");
EOF
    done
    mkdir -p "$T/$m/$v"
    ln -s "$src" "$T/$m/$v/source"
    ADDED+=("$m/$v")
}

# mk_built M V KVER NAME...: the "built" state for one kernel.
mk_built() {
    local m=$1 v=$2 k=$3; shift 3
    local d=$T/$m/$v/$k/$ARCH n
    mkdir -p "$d/module" "$d/log"
    for n in "$@"; do fake_ko "$n" "$v" "$k" "$d/module/$n.ko"; done
    printf 'DKMS make.log for %s-%s for kernel %s (%s)\n%s\n(synthetic: nothing was built)\n' \
        "$m" "$v" "$k" "$ARCH" "$(date)" >"$d/log/make.log"
    STATE["$m/$v/$k"]=built
}

# mk_installed M V KVER NAME...: the "installed" state (must be built first).
mk_installed() {
    local m=$1 v=$2 k=$3; shift 3
    local n
    mkdir -p "$I/$k/updates/dkms"
    for n in "$@"; do
        cp -p "$T/$m/$v/$k/$ARCH/module/$n.ko" "$I/$k/updates/dkms/$n.ko"
    done
    ln -sfn "$v/$k/$ARCH" "$T/$m/kernel-$k-$ARCH"
    STATE["$m/$v/$k"]=installed
}

declare -a ADDED=()
declare -A STATE=()

# --- the modules -------------------------------------------------------------
# fixmodNN 1.0.NN, one .ko each; state chosen by NN mod 6:
#   0 added only          1 built on K1           2 built on K1 and K2
#   3 installed K1, built K2   4 installed on both  5 installed on K2 only
for ((i = 1; i <= NMOD; i++)); do
    m=$(printf 'fixmod%02d' "$i") v=1.0.$i
    mk_added "$m" "$v" "$m"
    case $((i % 6)) in
        0) ;;
        1) mk_built "$m" "$v" "$K1" "$m" ;;
        2) mk_built "$m" "$v" "$K1" "$m"; mk_built "$m" "$v" "$K2" "$m" ;;
        3) mk_built "$m" "$v" "$K1" "$m"; mk_built "$m" "$v" "$K2" "$m"; mk_installed "$m" "$v" "$K1" "$m" ;;
        4) mk_built "$m" "$v" "$K1" "$m"; mk_built "$m" "$v" "$K2" "$m"
           mk_installed "$m" "$v" "$K1" "$m"; mk_installed "$m" "$v" "$K2" "$m" ;;
        5) mk_built "$m" "$v" "$K2" "$m"; mk_installed "$m" "$v" "$K2" "$m" ;;
    esac
done

# A module with three .ko files (like gost-crypto / jool): installed on K1, built on K2.
mk_added fixmulti 2.1 fixmulti_a fixmulti-b fixmulti_c
mk_built fixmulti 2.1 "$K1" fixmulti_a fixmulti-b fixmulti_c
mk_built fixmulti 2.1 "$K2" fixmulti_a fixmulti-b fixmulti_c
mk_installed fixmulti 2.1 "$K1" fixmulti_a fixmulti-b fixmulti_c

# One module in three versions: 1.0 installed on K1 and built on K2,
# 2.0 built on K1 (not installed there: 1.0 owns kernel-K1 link), installed on K2,
# 3.0 only added. Both kernel links live under tree/fixdual/.
mk_added fixdual 1.0 fixdual
mk_added fixdual 2.0 fixdual
mk_added fixdual 3.0 fixdual
mk_built fixdual 1.0 "$K1" fixdual; mk_built fixdual 1.0 "$K2" fixdual
mk_built fixdual 2.0 "$K1" fixdual; mk_built fixdual 2.0 "$K2" fixdual
mk_installed fixdual 1.0 "$K1" fixdual
mk_installed fixdual 2.0 "$K2" fixdual   # overwrites install/K2/updates/dkms/fixdual.ko, like dkms would

# --- expected output and invocation -----------------------------------------
{
    for mv in "${ADDED[@]}"; do
        any=no
        for k in "${KERNELS[@]}"; do
            s=${STATE["$mv/$k"]:-}
            [[ -n $s ]] || continue
            any=yes
            printf '%s, %s, %s: %s\n' "$mv" "$k" "$ARCH" "$s"
        done
        [[ $any == yes ]] || printf '%s: added\n' "$mv"
    done
} | LC_ALL=C sort >"$D/expected-status.txt"

rm -rf "$W"
args="--dkmstree $T --sourcetree $S --installtree $I"
printf '%s\n' "$args" >"$D/dkms-args"

cat <<EOF
make-status-fixture: created $(wc -l <"$D/expected-status.txt") status entries (${#ADDED[@]} module versions) in $D
  kernels: ${KERNELS[*]} ($ARCH); fake .ko are $( [[ $have_elf == yes ]] && echo "ELF with .modinfo" || echo "plain text")
invoke the reference dkms (3.0.10 honours these options for status; no framework.conf needed):
  dkms status $args
check against the expectation:
  diff <(dkms status $args | LC_ALL=C sort) $D/expected-status.txt
EOF
