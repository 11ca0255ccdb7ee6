#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Run a firmware ELF on qemu's MPS2 AN386 (Cortex-M4F) and exit with the
# firmware's exit code (semihosting SYS_EXIT_EXTENDED). UART0 goes to stdout.
# Needs no terminal: stdin is /dev/null unless it is a terminal.
#
#   qemu-run.sh firmware.elf
#
# Time on the board is instruction-counted (-icount shift=5: 32 ns an
# instruction, about the speed of the real 25 MHz board), not the host's clock:
# without it qemu drops SysTick interrupts whenever the host is busy (a
# parallel ctest run lost 80% of them), and timing tests would depend on load.
# While the firmware sleeps (wfi) board time follows the host's real time.
#
# TERN_QEMU_TIMEOUT  seconds before the run is killed (default 60; exit 124)
# TERN_QEMU_ICOUNT   -icount setting (default shift=5; "auto" tracks host time,
#                    empty turns instruction counting off)
# TERN_QEMU          the qemu binary (default qemu-system-arm)
# TERN_QEMU_EXTRA    extra qemu options, e.g. "-d guest_errors,unimp" or "-s -S" for gdb
set -u

if [ $# -ne 1 ]; then
    echo "usage: $0 firmware.elf" >&2
    exit 2
fi
elf=$1
if [ ! -f "$elf" ]; then
    echo "$0: no such file: $elf" >&2
    exit 2
fi
timeout_s=${TERN_QEMU_TIMEOUT:-60}
icount=${TERN_QEMU_ICOUNT-shift=5}

# timeout(1) runs qemu outside the terminal's foreground group unless told
# otherwise, and a background reader of a terminal gets stopped.
if [ -t 0 ]; then
    fg=--foreground
else
    fg=
    exec </dev/null
fi

# -nic: the board's LAN9118 gets an isolated user-mode network, which keeps
# qemu quiet ("nic has no peer") and gives network tests something to talk to.
# shellcheck disable=SC2086 # $fg and TERN_QEMU_EXTRA are lists of options
timeout $fg --kill-after=5 "$timeout_s" "${TERN_QEMU:-qemu-system-arm}" \
    -M mps2-an386 -cpu cortex-m4 \
    -nodefaults -display none -nic user,restrict=on \
    -chardev stdio,id=console,signal=on \
    -serial chardev:console \
    -semihosting-config enable=on,target=native \
    ${icount:+-icount "$icount"} \
    ${TERN_QEMU_EXTRA:-} \
    -kernel "$elf"
rc=$?
if [ "$rc" -eq 124 ]; then
    echo "$0: $elf timed out after ${timeout_s}s" >&2
fi
exit "$rc"
