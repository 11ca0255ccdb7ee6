#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Run every libFuzzer target of a build for a bounded time each, starting from
# its seed corpus in tests/fuzz/corpus/<target> when there is one.
# Usage: tools/run-fuzz.sh <build/asan/tests/fuzz> <seconds per target>
set -eu
dir=${1:-build/asan/tests/fuzz}
secs=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for f in "$dir"/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    work="$dir/corpus-$name"
    mkdir -p "$work"
    seeds="$root/tests/fuzz/corpus/$name"
    [ -d "$seeds" ] || seeds=""
    echo "== $name for ${secs}s =="
    # shellcheck disable=SC2086
    "$f" -max_total_time="$secs" -print_final_stats=1 "$work" $seeds || status=1
done
exit $status
