#!/bin/bash
# Fuzzes the supervisor's parsers with random and mutated inputs
# (Sources/dkms-fuzz): the dkms.conf record read-back, NameRules and
# Printable, the build manifest, the ELF module checks, the cache's
# records and listings, the install journal.  A Swift trap is a crash:
# the input is saved as crash-<parser>-<pid> in the output directory.
#
#   scripts/fuzz.sh [seconds per parser, default 60] [parser ...]
#
# Environment: FUZZ_SEED (default: the time), FUZZ_OUT (default .build-fuzz/).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
swift build --product dkms-fuzz >/dev/null
out=${FUZZ_OUT:-.build-fuzz}
mkdir -p "$out"
# A copy, so that a rebuild while it runs does not replace the binary.
bin=$out/dkms-fuzz
cp "$(swift build --show-bin-path)/dkms-fuzz" "$bin"
parsers=("$@")
((${#parsers[@]})) || mapfile -t parsers < <("$bin" list)
status=0
for p in "${parsers[@]}"; do
    seed=${FUZZ_SEED:-$(date +%s%N)}
    if "$bin" "$p" "$seconds" "$seed" "$out"; then :; else
        echo "fuzz: $p crashed (seed $seed); input in $out/" >&2
        status=1
    fi
done
exit $status
