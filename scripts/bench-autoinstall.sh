#!/usr/bin/env bash
# Cold `dkms autoinstall` of the six Debian modules for one kernel, ours
# (empty build cache) against the reference dkms, in the same run.
# Target: ours at most 0.8x the reference's wall time on 2 cores.
set -euo pipefail
source "$(dirname "$0")/lib/bench-common.sh"
bench_setup auto

run_auto() {  # run_auto IMPL: wall ms of autoinstall on fresh trees
  local impl=$1 d="$work/$1" start
  new_trees "$d"
  for p in "${six[@]}"; do "$impl" "$d" add "$modules_cache/$p/src" >/dev/null 2>&1; done
  sync  # neither side pays for the other's writeback
  start=$(now_ms)
  "$impl" "$d" autoinstall -k "$kernel" --no-depmod > "$work/$impl.log" 2>&1 || true
  echo $(( $(now_ms) - start ))
}

ref_ms=$(run_auto reference)
ours_ms=$(run_auto ours)
n_ref=$(reference "$work/reference" status -k "$kernel" | grep -c ': installed' || true)
n_ours=$(ours "$work/ours" status -k "$kernel" | grep -c ': installed' || true)
printf 'cold autoinstall of %d Debian modules for %s, %d cores\n' "${#six[@]}" "$kernel" "$(nproc)"
printf '  reference %-24s %9d ms  (%d installed)\n' "$(/usr/sbin/dkms --version)" "$ref_ms" "$n_ref"
printf '  ours      %-24s %9d ms  (%d installed, sandboxed, parallel)\n' "$("$OURS" --version)" "$ours_ms" "$n_ours"
awk -v a="$ref_ms" -v b="$ours_ms" 'BEGIN { printf "  ours / reference                     %9.2fx\n", b / a }'
same_work "$n_ours" "$n_ref" "$work/ours.log"
