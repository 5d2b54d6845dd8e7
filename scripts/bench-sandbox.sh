#!/usr/bin/env bash
# Sandbox start-up latency, and the cold build of v4l2loopback sandboxed,
# unsandboxed (--no-sandbox) and by the reference dkms, in the same run.
set -euo pipefail
source "$(dirname "$0")/lib/bench-common.sh"
bench_setup sandbox
runs=${1:-5}
p=v4l2loopback-dkms
nv=$(module_nv $p)

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2)?a[(NR+1)/2]:int((a[NR/2]+a[NR/2+1])/2)}'; }

# Start-up: a dkms.conf evaluation is one sandbox run (spawn, bash, teardown);
# the same evaluation unsandboxed is the baseline.
new_trees "$work/start"
ours "$work/start" add "$modules_cache/$p/src" >/dev/null 2>&1
for mode in sandbox host; do
  flag=(); [[ $mode == host ]] && flag=(--no-sandbox)
  for ((i = 0; i < 21; i++)); do
    s=$(date +%s%N)
    ours "$work/start" build "$nv" -k 9.9.9-no-headers "${flag[@]}" >/dev/null 2>&1 || true
    echo $(( ($(date +%s%N) - s) / 1000 ))
  done | median > "$work/start-$mode"
done

build() {  # build IMPL [flags]: cold build wall ms, median of $runs
  local impl=$1; shift
  for ((i = 0; i < runs; i++)); do
    new_trees "$work/b"
    "$impl" "$work/b" add "$modules_cache/$p/src" >/dev/null 2>&1
    s=$(now_ms)
    "$impl" "$work/b" build "$nv" -k "$kernel" "$@" >/dev/null 2>&1
    echo $(( $(now_ms) - s ))
  done | median
}
sandboxed=$(build ours --no-cache)
plain=$(build ours --no-cache --no-sandbox)
ref=$(build reference)

sb=$(cat "$work/start-sandbox"); host=$(cat "$work/start-host")
echo "sandbox start-up (one dkms.conf evaluation, median of 21):"
awk -v a="$sb" -v b="$host" 'BEGIN { printf "  sandboxed %.1f ms, unsandboxed %.1f ms: %.1f ms per sandbox\n", a/1000, b/1000, (a-b)/1000 }'
echo "cold build of $nv for $kernel, median of $runs:"
printf '  ours, sandboxed          %7d ms\n' "$sandboxed"
printf '  ours, --no-sandbox       %7d ms\n' "$plain"
printf '  reference %-14s %7d ms\n' "$(/usr/sbin/dkms --version)" "$ref"
awk -v a="$sandboxed" -v b="$plain" 'BEGIN { printf "  sandbox overhead         %+7.1f %%\n", (a - b) * 100 / b }'
