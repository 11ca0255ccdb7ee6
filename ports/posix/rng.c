/* SPDX-License-Identifier: Apache-2.0 */
/* The kernel's RNG (getrandom) and a seeded PCG32 for reproducible runs. */
#include <errno.h>
#include <sys/random.h>

#include "tern/port/posix.h"

/* ------------------------------------------------------------------- os -- */

static tern_err_t os_fill(void *ctx, void *buf, size_t len)
{
    (void)ctx;
    uint8_t *p = buf;
    while (len > 0) {
        /* getrandom may return fewer bytes than asked (large requests, signals). */
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return TERN_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return TERN_OK;
}

static const tern_rng_ops_t k_os_ops = {
    .name = "getrandom",
    .fill = os_fill,
};

tern_rng_t tern_posix_rng_hal(void)
{
    tern_rng_t hal = { &k_os_ops, NULL };
    return hal;
}

/* ---------------------------------------------------------------- pcg32 -- */

uint32_t tern_posix_prng_next(tern_posix_prng_t *p)
{
    uint64_t old = p->state;
    p->state = old * 6364136223846793005u + p->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
    uint32_t rot = (uint32_t)(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((0u - rot) & 31u));
}

void tern_posix_prng_init(tern_posix_prng_t *p, uint64_t seed)
{
    /* The stream (inc, must be odd) comes from an odd-multiplier bijection of the seed. */
    p->state = 0;
    p->inc = ((seed * 0x9E3779B97F4A7C15u) << 1) | 1u;
    (void)tern_posix_prng_next(p);
    p->state += seed;
    (void)tern_posix_prng_next(p);
}

static tern_err_t prng_fill(void *ctx, void *buf, size_t len)
{
    uint8_t *out = buf;
    while (len > 0) {
        uint32_t r = tern_posix_prng_next(ctx);
        /* Least significant byte first, so the bytes do not depend on the host's endianness. */
        for (int i = 0; i < 4 && len > 0; i++, len--) {
            *out++ = (uint8_t)r;
            r >>= 8;
        }
    }
    return TERN_OK;
}

static const tern_rng_ops_t k_prng_ops = {
    .name = "pcg32",
    .fill = prng_fill,
};

tern_rng_t tern_posix_prng_hal(tern_posix_prng_t *p)
{
    tern_rng_t hal = { &k_prng_ops, p };
    return hal;
}
