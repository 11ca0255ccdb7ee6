/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Critical sections mask interrupts through PRIMASK. enter() hands back the
 * PRIMASK it found, so an inner exit() leaves interrupts masked and only the
 * outermost one unmasks them. Faults and NMI (the watchdog) still get through.
 */
#include "cm_internal.h"

static uint32_t cm_critical_enter(void *ctx)
{
    (void)ctx;
    return cm_irq_save();
}

static void cm_critical_exit(void *ctx, uint32_t state)
{
    (void)ctx;
    cm_irq_restore(state);
}

const tern_critical_ops_t cm_critical_ops = {
    .name = "primask",
    .enter = cm_critical_enter,
    .exit = cm_critical_exit,
};
