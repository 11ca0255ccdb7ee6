#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Usage: install_example.sh <build dir> <examples/hello> <scratch dir> <cc> <extra cflags>
set -eu
build=$1 example=$2 work=$3 cc=$4 flags=${5:-}
rm -rf "$work"
mkdir -p "$work"
prefix="$work/prefix"

cmake --install "$build" --prefix "$prefix" >"$work/install.log"
for f in include/tern/tern.h include/tern/hal.h lib/cmake/tern/ternConfig.cmake \
         lib/cmake/tern/ternConfigVersion.cmake lib/pkgconfig/tern.pc lib/libtern.a; do
    [ -f "$prefix/$f" ] || { echo "install: $f missing"; exit 1; }
done

# 1. CMake package, as a firmware project's CMakeLists would use it.
cmake -S "$example" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
      -DCMAKE_C_FLAGS="$flags" >"$work/configure.log"
cmake --build "$work/cmake" >"$work/build.log"
"$work/cmake/hello" | tee "$work/cmake.out"
grep -q "^hello: PASS" "$work/cmake.out"

# 2. pkg-config, for Makefile-based projects.
# shellcheck disable=SC2046,SC2086
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" \
    "$cc" $flags -o "$work/hello-pc" "$example/main.c" $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs tern)
"$work/hello-pc" >"$work/pc.out"
grep -q "^hello: PASS" "$work/pc.out"

echo "install: find_package PASS, pkg-config PASS"
