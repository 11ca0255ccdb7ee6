/* SPDX-License-Identifier: Apache-2.0 */
/* getrandom fill and the seeded PCG32. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tern/hal.h"
#include "tern/port/posix.h"

#include "tern_test.h"

static unsigned popcount8(uint8_t b)
{
    unsigned n = 0;
    for (; b; b &= (uint8_t)(b - 1)) {
        n++;
    }
    return n;
}

static void test_os_fill(void **state)
{
    (void)state;
    static uint8_t a[4096], b[4096];
    tern_rng_t rng = tern_posix_rng_hal();
    assert_string_equal(rng.ops->name, "getrandom");
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    assert_int_equal(tern_rng_fill(&rng, a, sizeof a), TERN_OK);
    assert_int_equal(tern_rng_fill(&rng, b, sizeof b), TERN_OK);
    assert_true(memcmp(a, b, sizeof a) != 0);
    /* Filled to the last byte, with about half the bits set (16384 of 32768, +- 6.6 sigma). */
    unsigned ones = 0, zero_tail = 0;
    for (size_t i = 0; i < sizeof a; i++) {
        ones += popcount8(a[i]);
    }
    for (size_t i = sizeof a - 16; i < sizeof a; i++) {
        zero_tail += a[i] == 0;
    }
    assert_in_range(ones, 16384 - 600, 16384 + 600);
    assert_true(zero_tail < 4);
    assert_int_equal(tern_rng_fill(&rng, a, 0), TERN_OK);
}

static void test_prng_deterministic(void **state)
{
    (void)state;
    tern_posix_prng_t p1, p2, p3;
    uint8_t a[37], b[37], c[37];
    tern_posix_prng_init(&p1, 42);
    tern_posix_prng_init(&p2, 42);
    tern_posix_prng_init(&p3, 43);
    tern_rng_t r1 = tern_posix_prng_hal(&p1), r2 = tern_posix_prng_hal(&p2),
               r3 = tern_posix_prng_hal(&p3);
    assert_int_equal(tern_rng_fill(&r1, a, sizeof a), TERN_OK);
    assert_int_equal(tern_rng_fill(&r2, b, sizeof b), TERN_OK);
    assert_int_equal(tern_rng_fill(&r3, c, sizeof c), TERN_OK);
    assert_memory_equal(a, b, sizeof a);
    assert_true(memcmp(a, c, sizeof a) != 0);
    /* Two instances never share state: drawing from one leaves the other as it was. */
    (void)tern_posix_prng_next(&p1);
    assert_int_equal(tern_rng_fill(&r2, b, 5), TERN_OK);
    assert_int_equal(tern_rng_fill(&r1, a, 5), TERN_OK);
    assert_true(memcmp(a, b, 5) != 0);
}

static void test_prng_bytes_are_next_le(void **state)
{
    (void)state;
    tern_posix_prng_t p, q;
    tern_posix_prng_init(&p, 7);
    tern_posix_prng_init(&q, 7);
    tern_rng_t r = tern_posix_prng_hal(&p);
    uint8_t buf[6];
    assert_int_equal(tern_rng_fill(&r, buf, sizeof buf), TERN_OK);
    uint32_t w0 = tern_posix_prng_next(&q), w1 = tern_posix_prng_next(&q);
    uint8_t want[6] = { (uint8_t)w0,         (uint8_t)(w0 >> 8), (uint8_t)(w0 >> 16),
                        (uint8_t)(w0 >> 24), (uint8_t)w1,        (uint8_t)(w1 >> 8) };
    assert_memory_equal(buf, want, sizeof buf);
}

static void test_prng_uniform_spread(void **state)
{
    (void)state;
    tern_posix_prng_t p;
    tern_posix_prng_init(&p, 0);
    tern_rng_t r = tern_posix_prng_hal(&p);
    unsigned hist[10] = { 0 };
    for (int i = 0; i < 10000; i++) {
        uint32_t v;
        assert_int_equal(tern_rng_uniform(&r, 10, &v), TERN_OK);
        assert_true(v < 10);
        hist[v]++;
    }
    for (int i = 0; i < 10; i++) {
        assert_in_range(hist[i], 850, 1150);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_os_fill),
        cmocka_unit_test(test_prng_deterministic),
        cmocka_unit_test(test_prng_bytes_are_next_le),
        cmocka_unit_test(test_prng_uniform_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
