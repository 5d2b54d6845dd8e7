#!/usr/bin/env bash
# The kernel-reinstall cycle: remove, then install again, every one of the
# six Debian modules for one kernel; ours (the build cache warm from a first
# install) against the reference dkms, in the same run. Prints wall times,
# the ratio, and our time per module.
set -euo pipefail
source "$(dirname "$0")/lib/bench-common.sh"
bench_setup cache

# cycle IMPL DIR: remove then install every module for $kernel, one
# process each, as the pacman hook does. Removing a module's last kernel
# removes it from the tree; `install` adds it back from the source tree
# (both implementations do: dkms's prepare_build calls add_module).
cycle() {
  local impl=$1 d=$2 start
  # Neither side pays for the other's dirty pages (fsync waits on writeback).
  sync
  start=$(now_ms)
  for p in "${six[@]}"; do "$impl" "$d" remove "$(module_nv "$p")" -k "$kernel" --no-depmod >/dev/null 2>&1 || true; done
  for p in "${six[@]}"; do "$impl" "$d" install "$(module_nv "$p")" -k "$kernel" --no-depmod >/dev/null 2>&1 || true; done
  echo $(( $(now_ms) - start ))
}

for impl in ours reference; do
  new_trees "$work/$impl"
  for p in "${six[@]}"; do
    "$impl" "$work/$impl" add "$modules_cache/$p/src" >/dev/null 2>&1
    "$impl" "$work/$impl" install "$(module_nv "$p")" -k "$kernel" --no-depmod >/dev/null 2>&1 || true
  done
done

installed_ours=$(ours "$work/ours" status -k "$kernel" | grep -c ': installed' || true)
installed_ref=$(reference "$work/reference" status -k "$kernel" | grep -c ': installed' || true)
ours "$work/ours" install "$(module_nv "${six[0]}")" -k "$kernel" --no-depmod > "$work/ours-check.log" 2>&1 || true
same_work "$installed_ours" "$installed_ref" "$work/ours-check.log"
ref_ms=$(cycle reference "$work/reference")
# Ours: the median of three cycles (this shared machine's noise is larger
# than the differences measured), then each install's own time in one more.
ours_runs=($(for _ in 1 2 3; do cycle ours "$work/ours"; done | sort -n))
ours_ms=${ours_runs[1]}
for p in "${six[@]}"; do ours "$work/ours" remove "$(module_nv "$p")" -k "$kernel" --no-depmod >/dev/null 2>&1 || true; done
sync
hit_ms=($(for p in "${six[@]}"; do
  s=$(now_ms); ours "$work/ours" install "$(module_nv "$p")" -k "$kernel" --no-depmod >/dev/null 2>&1 || true
  echo $(( $(now_ms) - s ))
done | sort -n))
auto_start=$(now_ms)
for p in "${six[@]}"; do ours "$work/ours" remove "$(module_nv "$p")" -k "$kernel" --no-depmod >/dev/null 2>&1 || true; done
for p in "${six[@]}"; do ours "$work/ours" add "$(module_nv "$p")" >/dev/null 2>&1 || true; done
remove_ms=$(( $(now_ms) - auto_start ))
sync
auto_start=$(now_ms)
ours "$work/ours" autoinstall -k "$kernel" >/dev/null 2>&1 || true
auto_ms=$(( $(now_ms) - auto_start ))
hits=$(ours "$work/ours" cache stats | sed -n 's/.*hits \([0-9]*\),.*/\1/p')

printf 'kernel-reinstall cycle for %s: remove + install of %d modules (%d builds for this kernel; the others are BUILD_EXCLUSIVE)\n' \
  "$kernel" "${#six[@]}" "$installed_ours"
printf '  reference %-24s %9d ms  (%d installed)\n' "$(/usr/sbin/dkms --version)" "$ref_ms" "$installed_ref"
printf '  ours      %-24s %9d ms  (build cache hits; median of %s ms)\n' "$("$OURS" --version)" "$ours_ms" "${ours_runs[*]}"
awk -v a="$ref_ms" -v b="$ours_ms" 'BEGIN { printf "  ratio     reference / ours         %9.0fx\n", a / b }'
awk -v a="$ours_ms" -v n="$installed_ours" 'BEGIN { printf "  ours per module: %.0f ms for remove + install, one process each\n", a / n }'
echo "  ours, one hit \`dkms install\` as its own process: ${hit_ms[*]} ms (median ${hit_ms[2]}-${hit_ms[3]})"
awk -v a="$auto_ms" -v n="$installed_ours" 'BEGIN { printf "  ours, the install half as one `dkms autoinstall`: %d ms, %.0f ms per module\n", a, a / n }'
echo "  cache hits so far: $hits"
