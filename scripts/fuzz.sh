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
# A real module as a seed for the ELF checks: the example, built for the first kernel with headers.
if [[ -z ${FUZZ_ELF_SEEDS:-} ]]; then
    for build in /lib/modules/*/build; do
        [[ -e $build/include ]] || continue
        mkdir -p "$out/elf-seed"
        cp examples/dkms-hello-1.0/Makefile examples/dkms-hello-1.0/dkms_hello.c "$out/elf-seed/"
        make -s -C "$build" M="$(realpath "$out/elf-seed")" modules >/dev/null 2>&1 &&
            export FUZZ_ELF_SEEDS=$out/elf-seed/dkms_hello.ko
        break
    done
fi
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
