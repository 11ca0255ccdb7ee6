# SPDX-License-Identifier: Apache-2.0
# What a link kept of some objects, from its GNU ld map file (-Wl,-Map): the input
# sections of the objects whose path matches the regular expression pat, summed as
# "<flash> <bss>" in bytes (flash: .text, .rodata, .data; RAM beyond that: .bss).
# Usage: awk -v pat='<regex>' -f tools/linkmap.awk <map>
# (tools/size-report.sh and tools/mbedtls-device.sh use it.)
function hex(s,   i, c, v) {
    v = 0; s = tolower(s); sub(/^0x/, "", s)
    for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)) - 1; v = v * 16 + c }
    return v
}
/^Linker script and memory map/ { on = 1; next }
!on { next }
/^ \.(text|rodata|data|bss)/ {
    sec = $1; if (NF >= 4) { sz = $3; obj = $4 } else { getline; sz = $2; obj = $3 }
    if (obj ~ pat) { if (sec ~ /^\.bss/) bss += hex(sz); else flash += hex(sz) }
}
END { printf "%d %d\n", flash, bss }
