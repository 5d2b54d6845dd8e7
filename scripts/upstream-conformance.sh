#!/usr/bin/env bash
# Upstream dkms's own test suite (dkms 3.4.3's run_test.sh, stored outside the project in
# shared/upstream-dkms) against this checkout's dkms, sandbox on. Fails unless at least
# UPSTREAM_MIN (default 700) of its checks pass; skips, saying so, where the suite is absent.
#
# Usage: scripts/upstream-conformance.sh            (as root: the suite needs it)
# Environment: UPSTREAM_MIN=700, UPSTREAM_DIR=<suite dir>, and run.sh's own (UPSTREAM_SECTIONS, ...).
# The suite is looked for at $UPSTREAM_DIR, <checkout>/../shared/upstream-dkms, then
# /work/shared/upstream-dkms (a CI clone lives elsewhere than the development worktrees).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
min=${UPSTREAM_MIN:-700}

suite=
for d in ${UPSTREAM_DIR:+"$UPSTREAM_DIR"} "$repo/../shared/upstream-dkms" /work/shared/upstream-dkms; do
    if [[ -x $d/run.sh ]]; then suite=$(cd "$d" && pwd); break; fi
done
if [[ -z $suite ]]; then
    echo "upstream-conformance: SKIPPED: no upstream dkms suite (run.sh) at \$UPSTREAM_DIR, $repo/../shared/upstream-dkms or /work/shared/upstream-dkms"
    exit 0
fi
[[ $(id -u) = 0 ]] || { echo "upstream-conformance: must run as root (the suite installs modules in private mount namespaces)" >&2; exit 2; }

swift build --product dkms
bin=$(swift build --product dkms --show-bin-path)/dkms
# A copy, so that a rebuild during the run does not change the binary under test. The binary
# finds its sandbox profiles at <dir>/../../sandbox-profiles.
work=$(mktemp -d /tmp/dkms-upstream-conformance.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir -p "$work/bin/x"
cp "$bin" "$work/bin/x/dkms"
cp -r "$repo/sandbox-profiles" "$work/sandbox-profiles"

# One run at a time on a machine (run.sh refuses, rather than waits, when another holds the lock).
if command -v flock >/dev/null; then
    mkdir -p /run/lock
    flock -w 5400 /run/lock/upstream-tests.lock true || { echo "upstream-conformance: another run kept the suite's lock" >&2; exit 2; }
fi

echo "upstream-conformance: $suite/run.sh $work/bin/x/dkms (commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
set +e
"$suite/run.sh" "$work/bin/x/dkms" 2>&1 | tee "$work/run.log"
rc=${PIPESTATUS[0]}
set -e
line=$(grep -E '^upstream-tests: passed [0-9]+/[0-9]+ checks' "$work/run.log" | tail -n1 || true)
if [[ -z $line ]]; then
    echo "upstream-conformance: FAILED: the suite printed no tally (run.sh exit $rc)" >&2
    exit 1
fi
passed=$(sed -E 's/^upstream-tests: passed ([0-9]+)\/.*/\1/' <<< "$line")
if (( passed < min )); then
    echo "upstream-conformance: FAILED: $line, fewer than $min" >&2
    exit 1
fi
echo "upstream-conformance: OK: $line (at least $min)"
