# Shared by the benchmark scripts: scratch trees, our binary, the reference
# dkms confined to its scratch trees, and timing.

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$repo/scripts/lib/kernel-links.sh"
# The first kernel with headers in version order (Debian 12's default 6.1 series sorts
# before its 6.12), unless BENCH_KERNEL names one.
first_kernel() {
  local d
  for d in /lib/modules/*/build/include; do [[ -d $d ]] && basename "$(dirname "$(dirname "$d")")"; done | sort -V | head -n 1
}
kernel=${BENCH_KERNEL:-$(first_kernel)}
[[ -n $kernel ]] || { echo "bench: no kernel headers in /lib/modules/*/build" >&2; exit 1; }
modules_cache=$repo/.cache/debian-modules
six=(v4l2loopback-dkms acpi-call-dkms ddcci-dkms jool-dkms gost-crypto-dkms dm-writeboost-dkms)

ours_bin() {
  if [[ -n ${DKMS_BIN:-} ]]; then echo "$DKMS_BIN"; return; fi
  (cd "$repo" && swift build -c release --static-swift-stdlib --product dkms >/dev/null && echo "$(swift build -c release --show-bin-path)/dkms")
}

# new_trees DIR: a dkms tree, a source tree and an install tree
# (DIR/root/lib/modules/<kernel> with the headers linked in).
new_trees() {
  local d=$1
  rm -rf "$d"
  mkdir -p "$d"/{tree,src,etc/framework.conf.d}
  link_kernel "$kernel" "$d/root/lib/modules"
  # The reference keeps its signing key under /var/lib/dkms whatever the
  # tree; its runs see this directory as /etc/dkms instead.
  printf 'mok_signing_key=%s\nmok_certificate=%s\n' "$d/ref-mok.key" "$d/ref-mok.pub" > "$d/etc/framework.conf"
}

tree_args() { echo "--dkmstree $1/tree --sourcetree $1/src --installtree $1/root/lib/modules"; }

ours() { local d=$1; shift; DKMS_CONFIG_DIR="$d/etc" "$OURS" "$@" $(tree_args "$d"); }

# The reference dkms, in a private mount namespace so it reads the scratch
# framework.conf, and with --no-depmod (its depmod ignores --installtree).
reference() {
  local d=$1; shift
  unshare -m --propagation private bash -c 'mount --bind "$0" /etc/dkms && exec /usr/sbin/dkms "$@"' \
    "$d/etc" "$@" $(tree_args "$d")
}

module_nv() { cat "$modules_cache/$1/module" | tr ' ' /; }

# bench_setup NAME: the Debian sources, our release binary ($OURS) and a
# scratch directory ($work, removed on exit) that the sandbox's unprivileged
# user can reach.
bench_setup() {
  ensure_sources
  OURS=$(ours_bin)
  work=$(mktemp -d "/tmp/dkms-bench-$1.XXXXXX")
  chmod 755 "$work"
  trap 'rm -rf "$work"' EXIT
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

ensure_sources() { "$repo/scripts/fetch-debian-modules.sh" "$modules_cache" >/dev/null 2>&1; }

# same_work N_OURS N_REF LOG: a benchmark compares equal work or fails, loudly: when
# ours installed another number of modules than the reference (a binary that cannot
# find its sandbox profiles installs none, in milliseconds), the figures mean nothing.
same_work() {
  [[ $1 == "$2" ]] && return 0
  echo "bench: ours installed $1 module(s), the reference $2: not comparable. Ours said:" >&2
  head -n 5 "$3" >&2 || true
  exit 1
}
