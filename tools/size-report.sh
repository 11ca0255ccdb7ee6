#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Flash and RAM per module of the Cortex-M4 build, from arm-none-eabi-size on
# each object file. flash = text + rodata + data (data's initial values live in
# flash), RAM = data + bss. Berkeley `size` already counts rodata inside text.
# Usage: tools/size-report.sh <cmake build dir of the `size` preset>
set -eu
build=${1:-build/size}
SIZE=${SIZE:-arm-none-eabi-size}

flags=$(sed -n 's/^C_FLAGS = //p' "$build/src/CMakeFiles/tern.dir/flags.make" | head -n 1)
echo "tern size report: Cortex-M4, arm-none-eabi-gcc $(arm-none-eabi-gcc -dumpversion)"
echo "flags: $flags"
echo

# One row per object: <layer> <module> text data bss. The layer is the folder
# under src/ (core, net, sec, app) or "port" for ports/.
objs=$(find "$build/src" "$build/ports" -name '*.o' -o -name '*.obj' | sort)
# shellcheck disable=SC2086
$SIZE -B $objs | awk -v root="$build/" '
NR == 1 { next }
{
    text = $1; data = $2; bss = $3; f = $6
    sub(root, "", f)
    layer = "port"
    if (f ~ /^src\/CMakeFiles\/tern\.dir\//) {
        sub(/^src\/CMakeFiles\/tern\.dir\//, "", f)
        split(f, part, "/"); layer = part[1]; sub(/^[^\/]*\//, "", f)
    } else {
        sub(/^ports\//, "", f); sub(/CMakeFiles\/[^\/]*\.dir\//, "", f)
    }
    sub(/\.c\.o(bj)?$/, "", f); sub(/\.[sS]\.o(bj)?$/, "", f)
    rows[NR] = sprintf("%-6s %-28s %8d %8d %8d %8d %8d", layer, f, text, data, bss, text + data, data + bss)
    key[NR] = (layer == "port" ? "z" : layer) "/" f
    if (layer == "port") { pflash += text + data; pram += data + bss }
    else { lflash += text + data; lram += data + bss; lt += text; ld += data; lb += bss }
}
END {
    printf "%-6s %-28s %8s %8s %8s %8s %8s\n", "layer", "module", "text", "data", "bss", "flash", "RAM"
    n = 0; for (i in rows) idx[++n] = i
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (key[idx[j]] < key[idx[i]]) { t = idx[i]; idx[i] = idx[j]; idx[j] = t }
    for (i = 1; i <= n; i++) print rows[idx[i]]
    printf "%-35s %8d %8d %8d %8d %8d\n", "total libtern (core+net+sec+app)", lt, ld, lb, lflash, lram
    printf "%-35s %8s %8s %8s %8d %8d\n", "total ports (not part of libtern)", "", "", "", pflash, pram
}'

# The MQTT client as a firmware links it: tools/size builds the same image with
# and without every public MQTT call (--gc-sections), for the full library and
# for a 3.1.1-only build (TERN_MQTT_V5=0). From the link map we sum what was
# kept of the MQTT objects (code + rodata + data: flash) and, apart, of the
# libc routines they pulled in that the bare image did not already have.
linked() { # <map> <object pattern> -> bytes kept of the objects whose path matches
    kept=$(awk -v pat="$2" -f "$(dirname "$0")/linkmap.awk" "$1") && echo "${kept%% *}"
}
mqtt_objs='src/net/mqtt[^/]*\.c\.obj|\(mqtt[^/]*\.c\.obj\)'
dir="$build/tools/size"
if [ -f "$dir/size_mqtt.map" ] && [ -f "$dir/size_mqtt_v311.map" ]; then
    both=$(linked "$dir/size_mqtt.map" "$mqtt_objs")
    v311=$(linked "$dir/size_mqtt_v311.map" "$mqtt_objs")
    echo
    echo "MQTT client linked into a firmware (codec + session, every public call, -Wl,--gc-sections):"
    printf "  %-40s %6d B   (budget 12288: coreMQTT v5 18.9 KiB, wolfMQTT v5 12.6 KiB)\n" \
        "MQTT 5 + 3.1.1 (TERN_MQTT_V5=1)" "$both"
    printf "  %-40s %6d B   (budget  6144: coreMQTT v2.3.1 7.0 KiB)\n" \
        "MQTT 3.1.1 only (TERN_MQTT_V5=0)" "$v311"
fi

# The CBOR codec (tern/cbor.h): encoder and decoder with strict validation, the
# diagnostic printer apart (a debugging aid firmware need not link). tools/size
# links every encoder and decoder call twice: with flags 0, and with the
# optional flags, which add the map sorting and the duplicate and
# deterministic-encoding checks (cbor_det.c, reached only through them); and
# once more with the decoder's short way for common items (TERN_CBOR_FAST=1),
# which builds that optimize for speed have and -Os builds leave out.
objdir="$build/src/CMakeFiles/tern.dir/core"
if [ -f "$dir/size_cbor.map" ] && [ -f "$dir/size_cbor_det.map" ]; then
    flash_of() { $SIZE -B "$1" | awk 'NR == 2 { print $1 + $2 }'; }
    enc=$(linked "$dir/size_cbor.map" 'cbor_enc\.c\.obj')
    dec=$(linked "$dir/size_cbor.map" 'cbor_dec\.c\.obj')
    det=$(linked "$dir/size_cbor.map" 'cbor_det\.c\.obj')
    opt=$(linked "$dir/size_cbor_det.map" 'cbor_(enc|dec|det)\.c\.obj')
    diag=$(flash_of "$objdir/cbor_diag.c.obj")
    echo
    echo "CBOR codec linked into a firmware (every encoder and decoder call, -Wl,--gc-sections):"
    printf "  %-40s %6d B   (budget 3072: TinyCBOR 0.7 + 2.2 KiB, NanoCBOR 1.1 + 2.0 KiB)\n" \
        "encoder $enc B + decoder $dec B" "$((enc + dec + det))"
    [ "$det" -eq 0 ] || echo "  (of which $det B of cbor_det.c, linked although no flag asked for it)"
    printf "  %-40s %6d B\n" "with the optional flags (cbor_det.c)" "$opt"
    if [ -f "$dir/size_cbor_fast.map" ]; then
        fast=$(linked "$dir/size_cbor_fast.map" 'cbor_(enc|dec)\.c\.obj')
        printf "  %-40s %6d B\n" "with the decoder's short way (FAST=1)" "$fast"
    fi
    printf "  %-40s %6d B\n" "diagnostic printer (object, not linked)" "$diag"
fi
