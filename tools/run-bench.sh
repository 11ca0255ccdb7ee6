#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Run every benchmark in a build's bench/ folder; each ends with its
# "<name>: tern=... reference=... ratio=..." line.
#
# First the device build of mbedTLS (tools/mbedtls-device.sh, into the build's
# TERN_MBEDTLS_DEVICE_DIR; it fetches mbedTLS's source the first time) and
# bench_tls_mem_device against it, which bench_tls_mem runs next to Debian's. If
# that cannot be done (no apt-get to fetch the source, say), bench_tls_mem says
# so and measures on Debian's mbedTLS only.
# Usage: tools/run-bench.sh <build/release/bench>   (CMAKE: the cmake to build with)
set -eu
dir=${1:-build/release/bench}
build=$(dirname "$dir")
status=0

if [ -f "$build/CMakeCache.txt" ]; then
    device=$(sed -n 's/^TERN_MBEDTLS_DEVICE_DIR:[A-Z]*=//p' "$build/CMakeCache.txt")
    # Never let a bench_tls_mem_device from an earlier build stand in for this one.
    rm -f "$dir/bench_tls_mem_device"
    if [ -z "$device" ]; then
        echo "run-bench: $build has no bench_tls_mem_device target (no device build of mbedTLS)"
    elif "$(dirname "$0")/mbedtls-device.sh" "$device"; then
        if ! ${CMAKE:-cmake} --build "$build" --target bench_tls_mem_device >/dev/null; then
            echo "run-bench: bench_tls_mem_device did not build" >&2
            status=1
        fi
    else
        echo "run-bench: no device build of mbedTLS (above); bench_tls_mem measures Debian's only"
    fi
fi

for b in "$dir"/bench_*; do
    [ -x "$b" ] || continue
    case $(basename "$b") in
    bench_tls_mem_device) continue ;; # bench_tls_mem runs it
    esac
    echo "== $(basename "$b") =="
    "$b" || status=1
done
exit $status
