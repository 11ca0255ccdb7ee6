#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Install a build into a scratch prefix and build examples/hello against it
# the way a user's project would, then run it.
# Usage: install_example.sh <build dir> <examples/hello> <scratch dir> <cc> <extra cflags>
#                           [<toolchain file> <runner>]
# Host: find_package(tern) and pkg-config builds, run directly.
# Cross (toolchain file given): the find_package build, run through <runner>.
set -eu
build=$1 example=$2 work=$3 cc=$4 flags=${5:-} toolchain=${6:-} runner=${7:-}
rm -rf "$work"
mkdir -p "$work"
prefix="$work/prefix"

cmake --install "$build" --prefix "$prefix" >"$work/install.log"
for f in include/tern/tern.h include/tern/hal.h lib/cmake/tern/ternConfig.cmake \
         lib/cmake/tern/ternConfigVersion.cmake lib/pkgconfig/tern.pc lib/libtern.a; do
    [ -f "$prefix/$f" ] || { echo "install: $f missing"; exit 1; }
done

# 1. CMake package, as a firmware project's CMakeLists would use it.
if [ -n "$toolchain" ]; then
    cmake -S "$example" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
          -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=MinSizeRel >"$work/configure.log"
    cmake --build "$work/cmake" >"$work/build.log"
    "$runner" "$work/cmake/hello.elf" | tee "$work/cmake.out"
    grep -q "^hello: PASS" "$work/cmake.out"
    echo "install: find_package PASS (cross, run on the target)"
    exit 0
fi
cmake -S "$example" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
      -DCMAKE_C_FLAGS="$flags" >"$work/configure.log"
cmake --build "$work/cmake" >"$work/build.log"
"$work/cmake/hello" | tee "$work/cmake.out"
grep -q "^hello: PASS" "$work/cmake.out"

# 2. pkg-config, for Makefile-based projects.
# shellcheck disable=SC2046,SC2086
"$cc" $flags -o "$work/hello-pc" "$example/main.c" \
    $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs tern)
"$work/hello-pc" >"$work/pc.out"
grep -q "^hello: PASS" "$work/pc.out"

echo "install: find_package PASS, pkg-config PASS"
