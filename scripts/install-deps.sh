#!/usr/bin/env bash
# Installs the Debian packages dkms-swift builds, tests and runs with.
# Idempotent and quick when everything is present: it asks dpkg first and
# only calls apt-get for what is missing.
set -euo pipefail

packages=(
  # Kernel headers of two real kernels to build against.
  linux-headers-amd64 linux-headers-cloud-amd64
  # The sandbox: seccomp filters and capability dropping.
  libseccomp-dev libcap-dev pkg-config
  # Building kernel modules and installing them.
  make gcc bc flex bison libelf-dev kmod binutils patch
  # SHA-256 for the build cache (libcrypto).
  libssl-dev
  # Module compression and signing, as the kernel does them.
  xz-utils zstd gzip openssl
  # The reference dkms, for interop tests and side-by-side benchmarks.
  dkms
  # Validating `dkms status --json` against docs/status.schema.json; the zsh and
  # fish completions' tests run them in those shells.
  python3-jsonschema zsh fish
  # scripts/boot-test.sh: boots Debian's kernels in qemu (TCG) with an initramfs of
  # static busybox, kmod's modprobe, dmsetup (dm-writeboost's check), made with cpio.
  qemu-system-x86 busybox-static dmsetup cpio
)

# A second kernel series: Debian 12's 6.12 (bookworm-security), which has BTF for
# modules and xz-compressed modules, like Arch, Fedora and Ubuntu kernels. Found by
# name (the newest linux-headers-6.12.*+deb12-amd64 apt knows), never pinned; an
# installed one is enough.
series_612() {
  dpkg-query -W -f='${Package} ${Status}\n' 'linux-headers-6.12.*+deb12-amd64' 2>/dev/null |
    awk '$NF == "installed" { print $1; exit }'
}
newest_612() {
  apt-cache pkgnames linux-headers-6.12. 2>/dev/null | grep -E '^linux-headers-6\.12\.[0-9]+\+deb12-amd64$' |
    sort -V | tail -n 1
}
if [[ -z $(series_612) ]]; then
  if [[ -z $(newest_612) && $(id -u) == 0 ]]; then apt-get update -qq; fi
  k612=$(newest_612)
  if [[ -n $k612 ]]; then packages+=("$k612"); else echo "install-deps: no linux-headers-6.12.*+deb12-amd64 known to apt (is bookworm-security in the sources?)" >&2; fi
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) != 0 ]]; then
  echo "install-deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Debian's dkms package ships kernel hooks that would build every registered
# module on the host; tests only ever use their own scratch trees.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
