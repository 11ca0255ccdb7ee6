/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reset reason and reboot. The MPS2 has no reset-cause register, so the port
 * writes down why it is about to reset (reboot(), the watchdog's early
 * warning, a fault) in a .noinit record and reads it back on the next boot:
 *  - no valid record: RAM lost power, a power-on reset;
 *  - a valid record with a reason: that reason;
 *  - a valid record without one: nobody in software asked for it, so the
 *    reset button (or a debugger) did: TERN_RESET_PIN.
 */
#include "cm_internal.h"

#define CM_RESET_MAGIC 0x52535421u /* "!TSR" */

typedef struct cm_reset_state {
    uint32_t magic;
    uint32_t boot_count;
    uint32_t next_reason; /* tern_reset_reason_t the next boot reports, UNKNOWN if none */
    uint32_t check;
} cm_reset_state_t;

static cm_reset_state_t s_state __attribute__((section(".noinit")));
static tern_reset_reason_t s_reason; /* this boot's reason */

static uint32_t cm_reset_check(const cm_reset_state_t *st)
{
    return ~(st->magic ^ st->boot_count ^ st->next_reason);
}

static void cm_reset_seal(void)
{
    s_state.magic = CM_RESET_MAGIC;
    s_state.check = cm_reset_check(&s_state);
}

void cm_reset_latch(void)
{
    if (s_state.magic == CM_RESET_MAGIC && s_state.check == cm_reset_check(&s_state)) {
        uint32_t r = s_state.next_reason;
        s_reason = (r > TERN_RESET_UNKNOWN && r <= TERN_RESET_FAULT) ? (tern_reset_reason_t)r
                                                                     : TERN_RESET_PIN;
        s_state.boot_count++;
    } else {
        s_reason = TERN_RESET_POWER_ON;
        s_state.boot_count = 1;
    }
    s_state.next_reason = TERN_RESET_UNKNOWN;
    cm_reset_seal();
}

void cm_reset_record(tern_reset_reason_t why)
{
    s_state.next_reason = (uint32_t)why;
    cm_reset_seal();
}

void cm_reset_now(void)
{
    __asm volatile("dsb" : : : "memory"); /* the record must be in RAM first */
    CM_SCB_AIRCR =
        CM_AIRCR_VECTKEY | (CM_SCB_AIRCR & CM_AIRCR_PRIGROUP_MASK) | CM_AIRCR_SYSRESETREQ;
    __asm volatile("dsb" : : : "memory");
    for (;;) {
        __asm volatile("wfi");
    }
}

uint32_t tern_cm_boot_count(void)
{
    return s_state.boot_count;
}

static tern_reset_reason_t cm_reset_reason(void *ctx)
{
    (void)ctx;
    return s_reason;
}

static void cm_reset_reboot(void *ctx, tern_reset_reason_t why)
{
    (void)ctx;
    cm_reset_record(why);
    cm_reset_now();
}

const tern_reset_ops_t cm_reset_ops = {
    .name = "aircr-sysresetreq",
    .reason = cm_reset_reason,
    .reboot = cm_reset_reboot,
};
