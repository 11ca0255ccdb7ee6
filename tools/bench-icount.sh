#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Instruction counts of the CBOR benchmark's sides (valgrind --tool=callgrind),
# which timings on a busy host cannot give steadily. Each side runs alone
# (bench_cbor enc-tern, enc-ref, dec-tern, dec-ref: 10 passes over the 36,000
# records); the set-up every run shares (bench_cbor none) is subtracted.
# ratio = reference / tern instructions (above 1: tern executes fewer).
# Usage: tools/bench-icount.sh <build/release/bench>
set -eu
dir=${1:-build/release/bench}
command -v valgrind >/dev/null 2>&1 || { echo "bench-icount: valgrind not installed, skipped"; exit 0; }
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$dir/bench_cbor" "$1" 2>&1 |
        sed -n 's/.*Collected : *\([0-9]*\).*/\1/p; s/.*I *refs: *\([0-9,]*\).*/\1/p' | tr -d , | head -n 1
}
base=$(count none)
for what in enc dec; do
    t=$(($(count "$what-tern") - base))
    r=$(($(count "$what-ref") - base))
    name=$([ "$what" = enc ] && echo encode || echo decode)
    awk -v n="$name" -v t="$t" -v r="$r" 'BEGIN {
        printf "cbor_%s_instructions: tern=%d reference=%d ratio=%.3f\n", n, t, r, r / t }'
done
