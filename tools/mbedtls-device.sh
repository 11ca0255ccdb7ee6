#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# mbedTLS 2.28.3 built as firmware builds it: static libraries with a configuration of
# its own, tern's ports/posix/mbedtls/tern_mbedtls_device.h (MBEDTLS_USER_CONFIG_FILE on
# top of the library's default config.h). bench_tls_mem_device links the host build to
# measure a handshake's heap through mbedtls_platform_set_calloc_free().
#
# The source is Debian bookworm's mbedtls_2.28.3.orig.tar.gz (upstream's 2.28.3
# release), fetched with `apt-get source` (a private source list under OUTDIR: the
# system's apt configuration is not touched) once and kept; its SHA-256 is checked.
# It is never copied into the repository. TERN_MBEDTLS_TARBALL=<file> uses a copy
# already at hand instead of fetching.
#
# Leaves in OUTDIR:
#   host/include, host/lib/libmbed{crypto,x509,tls}.a   (gcc -O2)
#   cortex-m4/lib/*.a, cortex-m4/size.txt    with arm-none-eabi-gcc installed: the same
#                                            library for a Cortex-M4 (-Os), and its size
# Rebuilt only when the configuration header or this script (or tools/linkmap.awk) changed.
# Usage: tools/mbedtls-device.sh OUTDIR
set -eu
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
mkdir -p "$1"
out=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
cfgdir=$root/ports/posix/mbedtls
cfg=$cfgdir/tern_mbedtls_device.h
version=2.28.3
tarball=mbedtls_$version.orig.tar.gz
sha256=3b4953aa55a681e084d31892d9904cc5328d6b4958ea57b90ae4b4f94ae69a8d
jobs=$(nproc 2>/dev/null || echo 2)
start=$(date +%s)

say() { echo "mbedtls-device: $*"; }
failed=$out/FAILED # where fail() leaves its reason for bench_tls_mem
fail() {
    echo "mbedtls-device: $*" >&2
    echo "$*" >"$failed"
    exit 1
}
rm -f "$out/FAILED"

# ---------------------------------------------------------------- the source --
dl=$out/download
mkdir -p "$dl"
if [ -n "${TERN_MBEDTLS_TARBALL:-}" ] && [ ! -f "$dl/$tarball" ]; then
    cp "$TERN_MBEDTLS_TARBALL" "$dl/$tarball"
fi
if [ ! -f "$dl/$tarball" ]; then
    command -v apt-get >/dev/null 2>&1 ||
        fail "no apt-get to fetch mbedTLS $version's source (set TERN_MBEDTLS_TARBALL to a copy of $tarball)"
    say "fetching mbedTLS $version's source (Debian bookworm, apt-get source)"
    apt=$dl/apt
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
    : >"$apt/empty.list"
    printf '%s\n' 'Types: deb-src' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm' \
        'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
        >"$apt/bookworm-src.sources"
    set -- -o "Dir::Etc::SourceList=$apt/empty.list" -o "Dir::Etc::SourceParts=$apt" \
        -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Debug::NoLocking=1 \
        -o APT::Sandbox::User="$(id -un)"
    if ! apt-get "$@" -qq update >"$apt/log" 2>&1 ||
        ! (cd "$dl" && apt-get "$@" -q source --download-only "mbedtls=$version-1") >>"$apt/log" 2>&1; then
        sed 's/^/  /' "$apt/log" >&2
        fail "could not fetch mbedTLS $version's source with apt-get: $(grep -m1 '^E:' "$apt/log" || tail -n 1 "$apt/log")"
    fi
    [ -f "$dl/$tarball" ] || fail "apt-get source left no $tarball"
fi
echo "$sha256  $dl/$tarball" | sha256sum -c --quiet - >/dev/null 2>&1 ||
    fail "$dl/$tarball: SHA-256 differs from mbedTLS $version's ($sha256)"

# A fresh tree of the source in <dir>/src.
unpack() {
    rm -rf "$1/src"
    mkdir -p "$1/src"
    tar -xzf "$dl/$tarball" -C "$1/src" --strip-components=1
}

# The stamp: what the libraries were built from.
stamp_of() {
    { cat "$cfg" "$0" "$root/tools/linkmap.awk"; echo "$1"; } | sha256sum | cut -d' ' -f1
}

# Build <dir>'s static libraries with <CC> <AR> <CFLAGS>, unless its stamp says it is
# built from the same configuration already.
build() {
    dir=$out/$1 cc=$2 ar=$3 cflags=$4
    stamp=$(stamp_of "$cc $cflags")
    if [ -f "$dir/stamp" ] && [ "$(cat "$dir/stamp")" = "$stamp" ] &&
        [ -f "$dir/lib/libmbedtls.a" ]; then
        say "$1: up to date"
        return 0
    fi
    rm -rf "${dir:?}/lib" "$dir/include" "$dir/stamp" "$dir/size.txt"
    unpack "$dir"
    say "$1: building ($cc $cflags)"
    if ! make -C "$dir/src/library" -j"$jobs" static CC="$cc" AR="$ar" \
        CFLAGS="$cflags -I$cfgdir -DMBEDTLS_USER_CONFIG_FILE='\"tern_mbedtls_device.h\"'" \
        >"$dir/build.log" 2>&1; then
        tail -n 30 "$dir/build.log" >&2
        fail "$1: the mbedTLS build failed (log: $dir/build.log)"
    fi
    mkdir -p "$dir/lib"
    cp "$dir/src/library/libmbedcrypto.a" "$dir/src/library/libmbedx509.a" \
        "$dir/src/library/libmbedtls.a" "$dir/lib/"
    cp -R "$dir/src/include" "$dir/include"
    echo "$stamp" >"$dir/stamp"
}

build host "${CC:-gcc}" "${AR:-ar}" "-O2"

# ------------------------------------------------------------ Cortex-M4 size --
# The library's objects for a Cortex-M4 (-Os), and what a TLS client links of them:
# a program that calls what tern's TLS transport and CSRs call, --gc-sections. Optional: a
# failure here is reported, and the host build stands.
if command -v arm-none-eabi-gcc >/dev/null 2>&1; then (
    failed=/dev/null
    m4=$out/cortex-m4
    cpu="-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16"
    build cortex-m4 arm-none-eabi-gcc arm-none-eabi-ar \
        "$cpu -Os -ffunction-sections -fdata-sections -DTERN_MBEDTLS_NO_OS"
    if [ ! -f "$m4/size.txt" ]; then
        cat >"$m4/client.c" <<'EOF'
/* What tern's TLS client (ports/posix/tls.c, tls_keystore.c) and CSR (x509.c) call. */
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>
volatile void *keep[] = {
    (void *)mbedtls_ssl_setup, (void *)mbedtls_ssl_config_defaults, (void *)mbedtls_ssl_handshake,
    (void *)mbedtls_ssl_read, (void *)mbedtls_ssl_write, (void *)mbedtls_ssl_close_notify,
    (void *)mbedtls_ssl_free, (void *)mbedtls_ssl_config_free, (void *)mbedtls_ssl_conf_own_cert,
    (void *)mbedtls_ssl_conf_ca_chain, (void *)mbedtls_ssl_conf_max_frag_len,
    (void *)mbedtls_ssl_conf_alpn_protocols, (void *)mbedtls_ssl_set_hostname,
    (void *)mbedtls_ssl_get_max_out_record_payload, (void *)mbedtls_x509_crt_parse,
    (void *)mbedtls_x509_crl_parse, (void *)mbedtls_pk_parse_key, (void *)mbedtls_pk_check_pair,
    (void *)mbedtls_pk_verify_ext, (void *)mbedtls_pk_setup, (void *)mbedtls_ecdsa_read_signature,
    (void *)mbedtls_ctr_drbg_seed, (void *)mbedtls_ctr_drbg_random,
    (void *)mbedtls_platform_set_calloc_free, (void *)mbedtls_x509write_csr_pem,
};
int main(void) { return keep[0] != 0; }
EOF
        # shellcheck disable=SC2086
        if arm-none-eabi-gcc $cpu -Os -ffunction-sections -fdata-sections -DTERN_MBEDTLS_NO_OS \
            -I"$cfgdir" -I"$m4/include" -DMBEDTLS_USER_CONFIG_FILE='"tern_mbedtls_device.h"' \
            --specs=nano.specs --specs=nosys.specs -Wl,--gc-sections -Wl,-Map="$m4/client.map" \
            "$m4/client.c" "$m4/lib/libmbedtls.a" "$m4/lib/libmbedx509.a" "$m4/lib/libmbedcrypto.a" \
            -o "$m4/client.elf" >"$m4/link.log" 2>&1; then
            # Bytes kept of mbedTLS's own objects (code + rodata + data: flash; bss: RAM).
            kept=$(awk -v pat='libmbed(tls|x509|crypto)[.]a' -f "$root/tools/linkmap.awk" \
                "$m4/client.map")
            set -- $kept
            {
                arm-none-eabi-size -t "$m4/lib/libmbedtls.a" "$m4/lib/libmbedx509.a" \
                    "$m4/lib/libmbedcrypto.a" | awk '/\(TOTALS\)/ { printf "archives (every object): text %d data %d bss %d\n", $1, $2, $3 }'
                echo "TLS client linked (--gc-sections): flash $1 bss $2"
            } >"$m4/size.txt"
        else
            echo "TLS client link failed: see $m4/link.log" >"$m4/size.txt"
        fi
    fi
    sed 's/^/mbedtls-device: cortex-m4 (-Os): /' "$m4/size.txt"
) || say "cortex-m4: failed (optional: the host build stands)"; fi

say "done in $(($(date +%s) - start)) s: $out/host"
