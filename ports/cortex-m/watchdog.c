/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CMSDK APB watchdog at 0x40008000, clocked at 25 MHz. When its counter
 * first reaches zero it raises its interrupt, which the MPS2 wires to NMI;
 * if that stays unserviced it resets the board at the second zero.
 *
 * The port uses the first zero: the NMI handler records TERN_RESET_WATCHDOG
 * and resets at once, so the reset comes timeout_ms after the last feed and
 * the next boot knows why. The hardware reset at twice the timeout is the
 * backstop for a core too wedged to take the NMI (that boot then reports
 * TERN_RESET_PIN: nothing could write the reason down).
 */
#include "cm_internal.h"

#define CM_WDOG_BASE    0x40008000u
#define CM_WDOG_LOAD    CM_REG(CM_WDOG_BASE + 0x000u)
#define CM_WDOG_CONTROL CM_REG(CM_WDOG_BASE + 0x008u)
#define CM_WDOG_INTCLR  CM_REG(CM_WDOG_BASE + 0x00Cu)
#define CM_WDOG_LOCK    CM_REG(CM_WDOG_BASE + 0xC00u)

#define CM_WDOG_CONTROL_INTEN (1u << 0)
#define CM_WDOG_CONTROL_RESEN (1u << 1)
#define CM_WDOG_UNLOCK_KEY    0x1ACCE551u

void NMI_Handler(void)
{
    static const char msg[] = "\ntern: watchdog expired, resetting\n";
    cm_reset_record(TERN_RESET_WATCHDOG);
    tern_cm_console_write(msg, sizeof msg - 1);
    cm_reset_now();
}

static tern_err_t cm_watchdog_start(void *ctx, uint32_t timeout_ms)
{
    (void)ctx;
    if (timeout_ms > TERN_CM_WATCHDOG_MAX_MS) {
        return TERN_ERR_RANGE;
    }
    CM_WDOG_LOCK = CM_WDOG_UNLOCK_KEY;
    CM_WDOG_LOAD = timeout_ms * (TERN_CM_SYSCLK_HZ / 1000u); /* writing LOAD restarts the count */
    CM_WDOG_CONTROL = CM_WDOG_CONTROL_INTEN | CM_WDOG_CONTROL_RESEN;
    CM_WDOG_LOCK = 0; /* any other value locks the registers again */
    return TERN_OK;
}

static void cm_watchdog_feed(void *ctx)
{
    (void)ctx;
    CM_WDOG_LOCK = CM_WDOG_UNLOCK_KEY;
    CM_WDOG_INTCLR = 1u; /* clears the interrupt and reloads the counter */
    CM_WDOG_LOCK = 0;
}

const tern_watchdog_ops_t cm_watchdog_ops = {
    .name = "cmsdk-watchdog",
    .start = cm_watchdog_start,
    .feed = cm_watchdog_feed,
};
