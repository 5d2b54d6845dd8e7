#!/usr/bin/env bash
# The README's second command: the whole test suite. Unit tests, then
# integration tests that drive the real `dkms` binary against the installed
# kernel headers, real Debian module sources and the reference dkms.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

scripts/install-deps.sh
scripts/fetch-debian-modules.sh "$repo/.cache/debian-modules" >/dev/null
swift build --build-tests
swift test "$@"
