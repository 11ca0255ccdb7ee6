/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the Cortex-M port tests. */
#ifndef TERN_CM_TEST_H
#define TERN_CM_TEST_H

#include <stdint.h>

#include "tern/port/cortex_m.h"
#include "tern_test.h"

/** The board, filled by cm_board_setup(), a group setup for cmocka_run_group_tests(). */
extern tern_hal_t cm_hal;
int cm_board_setup(void **state);

/* The MPS2 FPGA's 100 Hz counter: a time base that does not depend on SysTick. */
#define CM_TEST_CLK100HZ (*(volatile uint32_t *)0x40028014u)

/** PRIMASK: 1 while interrupts are masked. */
static inline uint32_t cm_test_primask(void)
{
    uint32_t v;
    __asm volatile("mrs %0, primask" : "=r"(v));
    return v;
}

/**
 * Busy-wait until the 100 Hz counter has ticked @p n times: (n - 1) * 10 to
 * n * 10 ms of board time, exactly n * 10 ms when called right after a tick.
 */
static inline void cm_test_wait_centiseconds(uint32_t n)
{
    uint32_t start = CM_TEST_CLK100HZ;
    while (CM_TEST_CLK100HZ - start < n) {
    }
}

/* cm_test.c: each faults at its cm_*_site instruction. */
void cm_fault_udf(void);                        /* undefined instruction */
int32_t cm_fault_div(int32_t num, int32_t den); /* sdiv; faults when den is 0 */
uint32_t cm_fault_load(uint32_t addr);          /* 32-bit load from addr */
extern const uint16_t cm_udf_site[], cm_div_site[], cm_load_site[];
/** Call @p fn in thread mode on the process stack (PSP = @p stack_top), then go back to MSP. */
void cm_call_on_psp(void (*fn)(void), void *stack_top);

/** Make thread mode use the main stack again (after a fault left it on the process stack). */
static inline void cm_test_use_msp(void)
{
    uint32_t control;
    __asm volatile("mrs %0, control" : "=r"(control));
    control &= ~2u;
    __asm volatile("msr control, %0\n\tisb" : : "r"(control) : "memory");
}

/** An address nothing answers on: loads from it are precise bus errors. */
#define CM_TEST_UNMAPPED 0x60000000u

#endif /* TERN_CM_TEST_H */
