/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Vector table and reset handler for the MPS2 AN386 (Cortex-M4F).
 *
 * Linked into every executable as an object (tern_cortex_m_executable()), not
 * from the port library, so the vector table is always there even though no
 * code refers to it. The linker script (mps2_an386.ld) puts .vectors at
 * address 0, where the core reads the initial SP and PC from.
 */
#include <stdlib.h>
#include <string.h>

#include "cm_internal.h"

/* Provided by the linker script. */
extern uint32_t __data_start__[];
extern uint32_t __data_end__[];
extern uint32_t __data_load__[];
extern uint32_t __bss_start__[];
extern uint32_t __bss_end__[];
extern uint32_t __stack_top__[];

/* newlib runs the constructors; _init is the crti hook it calls first (we use none). */
void __libc_init_array(void);
void _init(void);
int main(void);

void _init(void)
{
}

/*
 * Anything without its own handler (spurious IRQs, SVC, PendSV, NMI and
 * SysTick before their drivers are linked in) goes through the fault path, so
 * it is reported with its exception number instead of hanging.
 */
__attribute__((naked)) static void cm_unexpected_handler(void)
{
    __asm volatile("b HardFault_Handler");
}

void NMI_Handler(void) __attribute__((weak, alias("cm_unexpected_handler")));
void SysTick_Handler(void) __attribute__((weak, alias("cm_unexpected_handler")));

typedef union cm_vector {
    void (*handler)(void);
    uint32_t *stack_top;
} cm_vector_t;

#define CM_EXTERNAL_IRQS 32 /* what QEMU wires to the NVIC on the AN385/AN386 */

__attribute__((section(".vectors"), used))
const cm_vector_t tern_cm_vectors[16 + CM_EXTERNAL_IRQS] = {
    [0] = { .stack_top = __stack_top__ },
    [1] = { .handler = Reset_Handler },
    [2] = { .handler = NMI_Handler },
    [3] = { .handler = HardFault_Handler },
    [4] = { .handler = HardFault_Handler },      /* MemManage: shares the capture code */
    [5] = { .handler = HardFault_Handler },      /* BusFault */
    [6] = { .handler = HardFault_Handler },      /* UsageFault */
    [7 ... 10] = { .handler = NULL },            /* reserved */
    [11] = { .handler = cm_unexpected_handler }, /* SVCall */
    [12] = { .handler = cm_unexpected_handler }, /* DebugMonitor */
    [13] = { .handler = NULL },                  /* reserved */
    [14] = { .handler = cm_unexpected_handler }, /* PendSV */
    [15] = { .handler = SysTick_Handler },
    [16 ... 16 + CM_EXTERNAL_IRQS - 1] = { .handler = cm_unexpected_handler },
};

void Reset_Handler(void)
{
    /* The FPU goes on before anything else: with the hard-float ABI the
     * compiler may use s-registers in any function, memcpy included. */
    CM_SCB_CPACR |= CM_CPACR_CP10_CP11_FULL;
    __asm volatile("dsb\n\tisb" : : : "memory");

    memcpy(__data_start__, __data_load__,
           (size_t)((uintptr_t)__data_end__ - (uintptr_t)__data_start__));
    memset(__bss_start__, 0, (size_t)((uintptr_t)__bss_end__ - (uintptr_t)__bss_start__));

    /* Integer division by zero is undefined in C; make it a fault we can report
     * instead of a silent 0. */
    CM_SCB_CCR |= CM_CCR_DIV_0_TRP;

    cm_reset_latch();
    cm_console_init();
    __libc_init_array();

    /* exit() flushes stdio and ends in _exit(), which leaves qemu with this code. */
    exit(main());
}
