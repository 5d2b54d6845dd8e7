#!/usr/bin/env bash
# One cache-hit `dkms install` as its own process, for two builds of ours side by
# side (say, before and after a change), alternating, N samples each, each binary
# on its own warm tree (acpi-call, one kernel). Each binary must sit in a checkout
# (its sandbox-profiles/ are found beside it).
# Usage: scripts/bench-hit.sh BINARY_A BINARY_B [N]
set -euo pipefail
[[ $# -ge 2 ]] || { echo "usage: $0 BINARY_A BINARY_B [N]" >&2; exit 2; }
source "$(dirname "$0")/lib/bench-common.sh"
ensure_sources
n=${3:-25}
work=$(mktemp -d /tmp/dkms-bench-hit.XXXXXX); chmod 755 "$work"; trap 'rm -rf "$work"' EXIT
bins=("$1" "$2")
p=acpi-call-dkms; nv=$(module_nv $p)
for i in 0 1; do
  OURS=${bins[$i]}; new_trees "$work/$i"
  ours "$work/$i" add "$modules_cache/$p/src" >/dev/null 2>&1
  ours "$work/$i" install "$nv" -k "$kernel" --no-depmod > "$work/$i.log" 2>&1 || true
  same_work "$(ours "$work/$i" status -k "$kernel" | grep -c ': installed' || true)" 1 "$work/$i.log"
done
times=("" "")
for _ in $(seq "$n"); do
  for i in 0 1; do
    OURS=${bins[$i]}
    ours "$work/$i" remove "$nv" -k "$kernel" --no-depmod >/dev/null
    sync
    s=$(now_ms); ours "$work/$i" install "$nv" -k "$kernel" --no-depmod >/dev/null; times[$i]+="$(( $(now_ms) - s )) "
  done
done
for i in 0 1; do
  sorted=$(tr ' ' '\n' <<<"${times[$i]}" | grep . | sort -n | tr '\n' ' ')
  med=$(tr ' ' '\n' <<<"$sorted" | grep . | sed -n "$(( (n + 1) / 2 ))p")
  echo "one hit install, ${bins[$i]}: median $med ms of $n ($sorted)"
done
