/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HAL clock: SysTick interrupts at 1 kHz from the 25 MHz processor clock
 * and counts milliseconds. (qemu-run.sh counts instructions for board time;
 * on host time, a busy host makes qemu drop SysTick interrupts.)
 *
 * While interrupts are masked for more than a millisecond, ticks are lost
 * (SysTick pends once): keep critical sections short. Wall time is unknown
 * until set_wall() (the board has no battery-backed RTC).
 */
#include <stdbool.h>

#include "cm_internal.h"

#define CM_TICK_HZ 1000u

static volatile uint64_t s_ms; /* written only by SysTick_Handler */

static struct {
    bool known;
    int64_t unix_ms; /* wall time at ... */
    uint64_t at_ms;  /* ... this monotonic instant */
} s_wall;

void SysTick_Handler(void)
{
    s_ms = s_ms + 1u;
}

/* Monotonic milliseconds since SysTick started, 64 bits wide (no wrap in practice). */
static uint64_t cm_clock_ms64(void)
{
    uint32_t primask = cm_irq_save(); /* 64-bit reads are two loads */
    uint64_t ms = s_ms;
    cm_irq_restore(primask);
    return ms;
}

static tern_ms_t cm_clock_now(void *ctx)
{
    (void)ctx;
    return (tern_ms_t)cm_clock_ms64();
}

static tern_walltime_t cm_clock_wall(void *ctx)
{
    tern_walltime_t w = { 0, false };
    (void)ctx;
    if (s_wall.known) {
        w.unix_ms = s_wall.unix_ms + (int64_t)(cm_clock_ms64() - s_wall.at_ms);
        w.known = true;
    }
    return w;
}

static tern_err_t cm_clock_set_wall(void *ctx, int64_t unix_ms)
{
    (void)ctx;
    s_wall.unix_ms = unix_ms;
    s_wall.at_ms = cm_clock_ms64();
    s_wall.known = true;
    return TERN_OK;
}

const tern_clock_ops_t cm_clock_ops = {
    .name = "systick",
    .now_ms = cm_clock_now,
    .wall = cm_clock_wall,
    .set_wall = cm_clock_set_wall,
};

void cm_clock_start(void)
{
    if ((CM_SYST_CSR & CM_SYST_CSR_ENABLE) == 0u) {
        CM_SCB_SHPR3 |= 0xFFu << 24; /* lowest priority: ticks never delay real work */
        CM_SYST_RVR = TERN_CM_SYSCLK_HZ / CM_TICK_HZ - 1u;
        CM_SYST_CVR = 0;
        CM_SYST_CSR = CM_SYST_CSR_CLKSOURCE | CM_SYST_CSR_TICKINT | CM_SYST_CSR_ENABLE;
    }
}
