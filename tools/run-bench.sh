#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Run every benchmark in a build's bench/ folder; each ends with its
# "<name>: tern=... reference=... ratio=..." line.
set -eu
dir=${1:-build/release/bench}
status=0
for b in "$dir"/bench_*; do
    [ -x "$b" ] || continue
    echo "== $(basename "$b") =="
    "$b" || status=1
done
exit $status
