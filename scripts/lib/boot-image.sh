# boot-image.sh — sourced by scripts/boot-test.sh.
#
# fetch_kernel_image RELEASE CACHE: makes CACHE/images/RELEASE hold Debian's own
# kernel for RELEASE, never installed on the host:
#   vmlinuz                    the kernel image
#   lib/modules/RELEASE/       its modules, with modules.dep etc. made by `depmod -b`
#   package                    "PACKAGE VERSION" of the .deb it came from
# The package is linux-image-RELEASE (Debian's signed build), else
# linux-image-RELEASE-unsigned, at the version of the installed headers package
# when apt has it (the modules' symbol versions must be the headers' ones), else
# apt's candidate. `apt-get download` into CACHE/debs, `dpkg -x` into a temporary
# directory beside the result, renamed into place when complete: an interrupted run
# leaves no half image. Idempotent: a complete image is reused without apt.

fetch_kernel_image() {
    local release=$1 cache=$2
    local dest=$cache/images/$release debs=$cache/debs
    if [[ -s $dest/vmlinuz && -s $dest/lib/modules/$release/modules.dep && -s $dest/package ]]; then
        return 0
    fi
    mkdir -p "$debs" "$cache/images"

    local version pkg deb="" candidate
    version=$(dpkg-query -W -f='${Version}' "linux-headers-$release" 2>/dev/null || true)
    for pkg in "linux-image-$release" "linux-image-$release-unsigned"; do
        candidate=$(apt-cache policy "$pkg" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
        [[ -n $candidate && $candidate != "(none)" ]] || continue
        # The headers' version when apt still has it, else the candidate.
        local want=$candidate
        if [[ -n $version ]] && apt-cache madison "$pkg" 2>/dev/null | awk -F' *\\| *' '{ print $2 }' | grep -qxF "$version"; then
            want=$version
        elif [[ -n $version ]]; then
            echo "[boot-test] $release: apt has no $pkg $version (the headers' version); taking $candidate" >&2
        fi
        # apt-get download names the file PACKAGE_VERSION_ARCH.deb, the epoch's ':' as %3a.
        deb=$(find "$debs" -maxdepth 1 -name "${pkg}_${want//:/%3a}_*.deb" -print -quit)
        if [[ -z $deb ]]; then
            echo "[boot-test] $release: apt-get download $pkg=$want" >&2
            (cd "$debs" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$want" >/dev/null) || { deb=""; continue; }
            deb=$(find "$debs" -maxdepth 1 -name "${pkg}_${want//:/%3a}_*.deb" -print -quit)
        fi
        [[ -n $deb ]] && break
    done
    [[ -n $deb ]] || { echo "[boot-test] $release: no linux-image-$release(-unsigned) package apt can download" >&2; return 1; }

    local tmp
    tmp=$(mktemp -d "$cache/images/.unpack.XXXXXX")
    dpkg -x "$deb" "$tmp/root"
    # bookworm's packages ship /lib/modules and /boot; later ones /usr/lib/modules.
    local mods=$tmp/root/lib/modules/$release
    [[ -d $mods ]] || mods=$tmp/root/usr/lib/modules/$release
    local image=$tmp/root/boot/vmlinuz-$release
    if [[ ! -d $mods || ! -f $image ]]; then
        rm -rf "$tmp"
        echo "[boot-test] $release: ${deb##*/} holds no boot/vmlinuz-$release and lib/modules/$release" >&2
        return 1
    fi
    mkdir -p "$tmp/out/lib/modules"
    mv "$image" "$tmp/out/vmlinuz"
    mv "$mods" "$tmp/out/lib/modules/$release"
    rm -f "$tmp/out/lib/modules/$release/build" "$tmp/out/lib/modules/$release/source"
    # The package leaves modules.dep to its postinst: make it here, in the image's own tree.
    depmod -b "$tmp/out" "$release"
    dpkg-deb -f "$deb" Package Version | awk '{ v[NR] = $2 } END { print v[1], v[2] }' > "$tmp/out/package"
    rm -rf "$dest"
    mv "$tmp/out" "$dest"
    rm -rf "$tmp"
}
