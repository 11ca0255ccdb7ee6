/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An interrupt without a handler goes down the fault path: the record names
 * its exception number and qemu exits with TERN_CM_EXIT_FAULT, even with a
 * recovery hook (only faults are recoverable). CMakeLists.txt checks both.
 */
#include <stdio.h>

#include "cm_test.h"

#define NVIC_ISER0 (*(volatile uint32_t *)0xE000E100u)
#define NVIC_ISPR0 (*(volatile uint32_t *)0xE000E200u)
#define IRQ        7u /* exception 16 + 7 = 23 */

static void must_not_run(const tern_cm_fault_t *fault)
{
    (void)fault;
    printf("cm.unexpected_irq: the recovery hook ran\n");
    tern_cm_exit(1);
}

int main(void)
{
    tern_cm_fault_set_recovery(must_not_run);
    printf("cm.unexpected_irq: pending IRQ %u\n", IRQ);
    fflush(stdout);
    NVIC_ISER0 = 1u << IRQ;
    NVIC_ISPR0 = 1u << IRQ;
    __asm volatile("dsb\n\tisb" : : : "memory");
    printf("cm.unexpected_irq: still running after the interrupt\n");
    return 0;
}
