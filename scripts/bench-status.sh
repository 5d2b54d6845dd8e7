#!/usr/bin/env bash
# Times `dkms status` on the same tree of 26 modules (43 status lines, mixed
# added/built/installed on two kernels) for our dkms and the reference
# (Debian's /usr/sbin/dkms), alternating runs, and prints the medians and
# their ratio. Usage: scripts/bench-status.sh [runs] (default 7).
set -euo pipefail
source "$(dirname "$0")/lib/bench-common.sh"
runs=${1:-7}
ours=$(ours_bin)
reference=/usr/sbin/dkms
[[ -x $reference ]] || { echo "bench-status: the reference dkms is not installed (scripts/install-deps.sh)" >&2; exit 1; }

work=$(mktemp -d /tmp/dkms-bench-status.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$repo/scripts/make-status-fixture.sh" "$work/fixture" >/dev/null
fixture=$(realpath "$work/fixture")
args=(--dkmstree "$fixture/tree" --sourcetree "$fixture/source" --installtree "$fixture/install")

if ! diff <("$ours" status "${args[@]}") <("$reference" status "${args[@]}") >/dev/null; then
  echo "bench-status: outputs differ; refusing to compare speed" >&2
  exit 1
fi
lines=$("$ours" status "${args[@]}" | wc -l)

# Wall time of one run in milliseconds.
time_ms() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s%N)
  echo $(( (end - start) / 1000 ))
}

median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1000}'; }

o=() r=()
for ((i = 0; i < runs; i++)); do
  o+=("$(time_ms "$ours" status "${args[@]}")")
  r+=("$(time_ms "$reference" status "${args[@]}")")
done
om=$(printf '%s\n' "${o[@]}" | median)
rm_=$(printf '%s\n' "${r[@]}" | median)
printf 'dkms status, %d modules, %d lines, median of %d runs\n' "$(ls "$fixture/tree" | wc -l)" "$lines" "$runs"
printf '  reference %-28s %10s ms\n' "$($reference --version)" "$rm_"
printf '  ours      %-28s %10s ms\n' "$("$ours" --version)" "$om"
awk -v a="$rm_" -v b="$om" 'BEGIN { printf "  ratio     reference / ours             %10.0fx\n", a / b }'
