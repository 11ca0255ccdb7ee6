/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Leaving the program through Arm semihosting: qemu (-semihosting-config
 * enable=on) turns SYS_EXIT_EXTENDED into its own exit status, which is how a
 * test on the emulated board reports pass or fail to ctest.
 *
 * On real hardware without a debugger attached, BKPT escalates to a HardFault:
 * this port targets the emulator.
 */
#include "cm_internal.h"

#define CM_SYS_EXIT                     0x18u
#define CM_SYS_EXIT_EXTENDED            0x20u
#define CM_ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define CM_ADP_STOPPED_RUNTIME_ERROR    0x20023u

static void cm_semihost_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm("r0") = op;
    register const void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
}

void tern_cm_exit(int code)
{
    /* A host exit status is 8 bits: 256 failures must not read as success. */
    uint32_t status = (code >= 0 && code <= 255) ? (uint32_t)code : 255u;
    const uint32_t block[2] = { CM_ADP_STOPPED_APPLICATION_EXIT, status };

    cm_semihost_call(CM_SYS_EXIT_EXTENDED, block);

    /* Only reached if the debugger lacks SYS_EXIT_EXTENDED: plain SYS_EXIT on
     * A32/T32 takes the reason itself and can only say pass or fail. */
    cm_semihost_call(CM_SYS_EXIT,
                     (const void *)(uintptr_t)(status == 0 ? CM_ADP_STOPPED_APPLICATION_EXIT
                                                           : CM_ADP_STOPPED_RUNTIME_ERROR));
    for (;;) {
        __asm volatile("wfi");
    }
}
