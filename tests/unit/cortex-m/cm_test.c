/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by every Cortex-M port test: the board fixture, and functions that
 * fault on purpose, written in assembly so the faulting instruction has a
 * label (cm_*_site) the tests compare the captured PC with.
 */
#include "cm_test.h"

tern_hal_t cm_hal;

int cm_board_setup(void **state)
{
    (void)state;
    return tern_cm_board_init(&cm_hal) == TERN_OK ? 0 : -1;
}

__asm__(".pushsection .text.cm_fault_sites, \"ax\", %progbits\n"
        ".syntax unified\n"
        ".thumb\n"

        ".global cm_fault_udf\n"
        ".type cm_fault_udf, %function\n"
        ".thumb_func\n"
        "cm_fault_udf:\n"
        ".global cm_udf_site\n"
        "cm_udf_site:\n"
        "    udf #0x42\n"
        "    bx lr\n"

        ".global cm_fault_div\n"
        ".type cm_fault_div, %function\n"
        ".thumb_func\n"
        "cm_fault_div:\n"
        ".global cm_div_site\n"
        "cm_div_site:\n"
        "    sdiv r0, r0, r1\n"
        "    bx lr\n"

        ".global cm_fault_load\n"
        ".type cm_fault_load, %function\n"
        ".thumb_func\n"
        "cm_fault_load:\n"
        ".global cm_load_site\n"
        "cm_load_site:\n"
        "    ldr r0, [r0]\n"
        "    bx lr\n"

        /* cm_call_on_psp(fn, stack_top): run fn in thread mode on the process stack. */
        ".global cm_call_on_psp\n"
        ".type cm_call_on_psp, %function\n"
        ".thumb_func\n"
        "cm_call_on_psp:\n"
        "    push {r4, lr}\n"
        "    msr psp, r1\n"
        "    mrs r4, control\n"
        "    orr r4, r4, #2\n" /* SPSEL: thread mode uses PSP */
        "    msr control, r4\n"
        "    isb\n"
        "    blx r0\n"
        "    mrs r4, control\n"
        "    bic r4, r4, #2\n"
        "    msr control, r4\n"
        "    isb\n"
        "    pop {r4, pc}\n"

        ".popsection\n");
