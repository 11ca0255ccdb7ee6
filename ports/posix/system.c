/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reset, watchdog and critical-section doubles: the parts of a device that are about its life
 * cycle.
 */
#include <pthread.h>
#include <signal.h>

#include "tern/port/posix.h"

/* ---------------------------------------------------------------- reset -- */

static tern_reset_reason_t reset_reason(void *ctx)
{
    const tern_posix_reset_t *r = ctx;
    return r->reason;
}

static void reset_reboot(void *ctx, tern_reset_reason_t why)
{
    tern_posix_reset_t *r = ctx;
    r->requested = why;
    r->pending = true;
    r->reboots++;
}

static const tern_reset_ops_t k_reset_ops = {
    .name = "posix-reset",
    .reason = reset_reason,
    .reboot = reset_reboot,
};

void tern_posix_reset_init(tern_posix_reset_t *r, tern_reset_reason_t reason)
{
    *r = (tern_posix_reset_t){ .reason = reason, .requested = TERN_RESET_UNKNOWN };
}

tern_reset_t tern_posix_reset_hal(tern_posix_reset_t *r)
{
    tern_reset_t hal = { &k_reset_ops, r };
    return hal;
}

tern_reset_reason_t tern_posix_reset_boot(tern_posix_reset_t *r)
{
    r->reason = r->pending ? r->requested : TERN_RESET_POWER_ON;
    r->pending = false;
    return r->reason;
}

bool tern_posix_reset_pending(const tern_posix_reset_t *r, tern_reset_reason_t *why)
{
    if (why != NULL) {
        *why = r->requested;
    }
    return r->pending;
}

uint32_t tern_posix_reset_count(const tern_posix_reset_t *r)
{
    return r->reboots;
}

/* ------------------------------------------------------------- watchdog -- */

static tern_err_t wdg_start(void *ctx, uint32_t timeout_ms)
{
    tern_posix_watchdog_t *w = ctx;
    if (timeout_ms == 0) {
        return TERN_ERR_INVAL;
    }
    w->timeout_ms = timeout_ms;
    w->last_feed = tern_clock_now(&w->clock);
    w->started = true;
    return TERN_OK;
}

static void wdg_feed(void *ctx)
{
    tern_posix_watchdog_t *w = ctx;
    if (w->started) {
        w->last_feed = tern_clock_now(&w->clock);
    }
}

static const tern_watchdog_ops_t k_wdg_ops = {
    .name = "posix-watchdog",
    .start = wdg_start,
    .feed = wdg_feed,
};

void tern_posix_watchdog_init(tern_posix_watchdog_t *w, const tern_clock_t *clock)
{
    *w = (tern_posix_watchdog_t){ .clock = *clock };
}

tern_watchdog_t tern_posix_watchdog_hal(tern_posix_watchdog_t *w)
{
    tern_watchdog_t hal = { &k_wdg_ops, w };
    return hal;
}

bool tern_posix_watchdog_expired(const tern_posix_watchdog_t *w)
{
    return w->started &&
           tern_time_elapsed(tern_clock_now(&w->clock), w->last_feed) >= w->timeout_ms;
}

/* ------------------------------------------------------ critical section -- */

/*
 * The mask before the outermost enter is kept as a bit set of signals 1..64
 * (all Linux has) rather than a sigset_t, so the public header needs no POSIX
 * types and the state stays 16 bytes per device.
 */
static uint64_t set_to_bits(const sigset_t *s)
{
    uint64_t bits = 0;
    for (int sig = 1; sig <= 64; sig++) {
        if (sigismember(s, sig) == 1) {
            bits |= (uint64_t)1 << (sig - 1);
        }
    }
    return bits;
}

static void bits_to_set(uint64_t bits, sigset_t *s)
{
    (void)sigemptyset(s);
    for (int sig = 1; sig <= 64; sig++) {
        if (bits & ((uint64_t)1 << (sig - 1))) {
            (void)sigaddset(s, sig);
        }
    }
}

static uint32_t crit_enter(void *ctx)
{
    tern_posix_critical_t *c = ctx;
    sigset_t all, old;
    (void)sigfillset(&all);
    (void)pthread_sigmask(SIG_BLOCK, &all, &old);
    if (c->depth == 0) {
        c->saved = set_to_bits(&old);
    }
    return c->depth++;
}

static void crit_exit(void *ctx, uint32_t state)
{
    tern_posix_critical_t *c = ctx;
    c->depth = state;
    if (state == 0) {
        sigset_t s;
        bits_to_set(c->saved, &s);
        (void)pthread_sigmask(SIG_SETMASK, &s, NULL);
    }
}

static const tern_critical_ops_t k_crit_ops = {
    .name = "posix-sigmask",
    .enter = crit_enter,
    .exit = crit_exit,
};

void tern_posix_critical_init(tern_posix_critical_t *c)
{
    c->saved = 0;
    c->depth = 0;
}

tern_critical_t tern_posix_critical_hal(tern_posix_critical_t *c)
{
    tern_critical_t hal = { &k_crit_ops, c };
    return hal;
}

uint32_t tern_posix_critical_depth(const tern_posix_critical_t *c)
{
    return c->depth;
}
