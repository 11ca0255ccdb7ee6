/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NOT A CRYPTOGRAPHIC RNG. The MPS2 has no true random number generator, so
 * the HAL RNG here is xorshift64* (Marsaglia's xorshift with Vigna's
 * multiplicative output step): good enough for backoff jitter, message ids
 * and tests, predictable to anyone who sees a few outputs. Never use it for
 * keys, nonces or TLS on this board.
 *
 * The seed mixes (splitmix64) the state left in .noinit by the previous boot,
 * the boot count, and free-running timers read at tern_cm_board_init() (host
 * timing jitter under qemu), so warm reboots and runs do not repeat.
 */
#include <string.h>

#include "cm_internal.h"

static uint64_t s_state __attribute__((section(".noinit")));

static uint64_t cm_splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static uint64_t cm_xorshift64star(void)
{
    uint64_t x = s_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static tern_err_t cm_rng_fill(void *ctx, void *buf, size_t len)
{
    uint8_t *p = buf;
    (void)ctx;
    while (len > 0) {
        uint64_t r = cm_xorshift64star();
        size_t n = len < sizeof r ? len : sizeof r;
        memcpy(p, &r, n);
        p += n;
        len -= n;
    }
    return TERN_OK;
}

const tern_rng_ops_t cm_rng_ops = {
    .name = "xorshift64*-not-crypto",
    .fill = cm_rng_fill,
};

void cm_rng_seed(void)
{
    static bool seeded;
    if (!seeded) {
        uint64_t noise = ((uint64_t)CM_SYST_CVR << 40) ^ ((uint64_t)CM_FPGAIO_COUNTER << 20) ^
                         (uint64_t)CM_FPGAIO_CLK100HZ ^ ((uint64_t)tern_cm_boot_count() << 56);
        s_state = cm_splitmix64(s_state ^ noise);
        if (s_state == 0) {
            s_state = 0x9E3779B97F4A7C15ull; /* xorshift never leaves zero */
        }
        seeded = true;
    }
}
