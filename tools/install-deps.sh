#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Install the Debian packages tern's build, tests and demo need, and only the
# missing ones, so a second run costs a fraction of a second. Runs as root on
# Debian 12 (CI and fresh machines); elsewhere it says what is missing.
set -eu

PKGS="cmake make gcc clang libclang-rt-14-dev llvm clang-format pkgconf
libcmocka-dev zlib1g-dev libcbor-dev nanopb libnanopb-dev protobuf-compiler
libmbedtls-dev mosquitto mosquitto-clients openssl libmosquitto-dev
python3 python3-paho-mqtt python3-cbor2
libsqlite3-dev sqlite3 libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev curl
softhsm2 libp11-kit-dev gnuplot-nox
gcc-arm-none-eabi libnewlib-arm-none-eabi binutils-arm-none-eabi
qemu-system-arm"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: not root; install these packages first:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
