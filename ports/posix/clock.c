/* SPDX-License-Identifier: Apache-2.0 */
/* Real clock (CLOCK_MONOTONIC / CLOCK_REALTIME) and the hand-driven virtual clock. */
#include <time.h>

#include "tern/port/posix.h"

static int64_t host_ms(clockid_t id)
{
    struct timespec ts;
    (void)clock_gettime(id, &ts); /* cannot fail for these two clocks */
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ real -- */

static tern_ms_t real_now(void *ctx)
{
    const tern_posix_clock_t *c = ctx;
    /* Truncating the 64-bit difference is the 2^32 wrap the HAL promises. */
    return c->start_ms + (uint32_t)(host_ms(CLOCK_MONOTONIC) - c->origin_ms);
}

static tern_walltime_t real_wall(void *ctx)
{
    const tern_posix_clock_t *c = ctx;
    tern_walltime_t w = { host_ms(CLOCK_REALTIME) + c->wall_offset_ms, true };
    return w;
}

static tern_err_t real_set_wall(void *ctx, int64_t unix_ms)
{
    tern_posix_clock_t *c = ctx;
    c->wall_offset_ms = unix_ms - host_ms(CLOCK_REALTIME);
    return TERN_OK;
}

static const tern_clock_ops_t k_real_ops = {
    .name = "posix",
    .now_ms = real_now,
    .wall = real_wall,
    .set_wall = real_set_wall,
};

void tern_posix_clock_init(tern_posix_clock_t *c, uint32_t start_ms)
{
    c->origin_ms = host_ms(CLOCK_MONOTONIC);
    c->start_ms = start_ms;
    c->wall_offset_ms = 0;
}

tern_clock_t tern_posix_clock_hal(tern_posix_clock_t *c)
{
    tern_clock_t hal = { &k_real_ops, c };
    return hal;
}

/* --------------------------------------------------------------- virtual -- */

tern_ms_t tern_posix_vclock_now(const tern_posix_vclock_t *vc)
{
    return vc->start_ms + (uint32_t)vc->elapsed_ms;
}

static tern_ms_t virt_now(void *ctx)
{
    return tern_posix_vclock_now(ctx);
}

static tern_walltime_t virt_wall(void *ctx)
{
    const tern_posix_vclock_t *vc = ctx;
    tern_walltime_t w = { 0, false };
    if (vc->wall_known) {
        w.unix_ms = vc->wall_base_ms + (int64_t)vc->elapsed_ms;
        w.known = true;
    }
    return w;
}

static tern_err_t virt_set_wall(void *ctx, int64_t unix_ms)
{
    tern_posix_vclock_t *vc = ctx;
    vc->wall_base_ms = unix_ms - (int64_t)vc->elapsed_ms;
    vc->wall_known = true;
    return TERN_OK;
}

static const tern_clock_ops_t k_virt_ops = {
    .name = "posix-virtual",
    .now_ms = virt_now,
    .wall = virt_wall,
    .set_wall = virt_set_wall,
};

void tern_posix_vclock_init(tern_posix_vclock_t *vc, uint32_t start_ms)
{
    vc->elapsed_ms = 0;
    vc->start_ms = start_ms;
    vc->wall_known = false;
    vc->wall_base_ms = 0;
}

void tern_posix_vclock_advance(tern_posix_vclock_t *vc, uint32_t ms)
{
    vc->elapsed_ms += ms;
}

void tern_posix_vclock_set(tern_posix_vclock_t *vc, tern_ms_t now_ms)
{
    tern_posix_vclock_advance(vc, (uint32_t)(now_ms - tern_posix_vclock_now(vc)));
}

tern_clock_t tern_posix_vclock_hal(tern_posix_vclock_t *vc)
{
    tern_clock_t hal = { &k_virt_ops, vc };
    return hal;
}
