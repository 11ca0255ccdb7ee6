/* SPDX-License-Identifier: Apache-2.0 */
/* Backoff: bounds, growth, cap, attempt limit, and that the delays really
 * spread over their window (a distribution test over many draws, not one
 * sample). The RNG is a seeded xorshift so every run is the same. */
#include <string.h>

#include "tern/backoff.h"
#include "tern_test.h"

typedef struct {
    uint64_t s;
    int fail_after; /* -1: never */
} xrng_t;

static tern_err_t xrng_fill(void *ctx, void *buf, size_t len)
{
    xrng_t *x = ctx;
    uint8_t *p = buf;
    if (x->fail_after == 0) {
        return TERN_ERR_IO;
    }
    if (x->fail_after > 0) {
        x->fail_after--;
    }
    for (size_t i = 0; i < len; i++) {
        x->s ^= x->s << 13;
        x->s ^= x->s >> 7;
        x->s ^= x->s << 17;
        p[i] = (uint8_t)(x->s >> 24);
    }
    return TERN_OK;
}

static const tern_rng_ops_t k_xrng_ops = { "xorshift-test", xrng_fill };

static xrng_t g_x;
static tern_rng_t make_rng(uint64_t seed)
{
    g_x.s = seed;
    g_x.fail_after = -1;
    tern_rng_t r = { &k_xrng_ops, &g_x };
    return r;
}

static void test_init_checks(void **state)
{
    (void)state;
    tern_rng_t rng = make_rng(1);
    tern_backoff_t b;
    tern_backoff_config_t c = { TERN_BACKOFF_FULL_JITTER, 0, 1000, 0, 0 };
    assert_int_equal(tern_backoff_init(&b, &c, &rng), TERN_ERR_INVAL); /* base 0 */
    c.base_ms = 2000;
    assert_int_equal(tern_backoff_init(&b, &c, &rng), TERN_ERR_INVAL); /* cap < base */
    c.base_ms = 100;
    c.mode = (tern_backoff_mode_t)7;
    assert_int_equal(tern_backoff_init(&b, &c, &rng), TERN_ERR_INVAL);
    c.mode = TERN_BACKOFF_ADDITIVE;
    assert_int_equal(tern_backoff_init(&b, &c, NULL), TERN_ERR_INVAL);
    assert_int_equal(tern_backoff_init(&b, &c, &rng), TERN_OK);
    assert_int_equal(tern_backoff_attempts(&b), 0);
}

static void test_window_grows_and_caps_without_overflow(void **state)
{
    (void)state;
    tern_backoff_config_t c = { TERN_BACKOFF_FULL_JITTER, 500, 60000, 0, 0 };
    assert_int_equal(tern_backoff_window(&c, 0), 500);
    assert_int_equal(tern_backoff_window(&c, 1), 1000);
    assert_int_equal(tern_backoff_window(&c, 6), 32000);
    assert_int_equal(tern_backoff_window(&c, 7), 60000); /* 64000 capped */
    assert_int_equal(tern_backoff_window(&c, 31), 60000);
    assert_int_equal(tern_backoff_window(&c, 32), 60000);
    assert_int_equal(tern_backoff_window(&c, 1000), 60000);
    tern_backoff_config_t big = { TERN_BACKOFF_FULL_JITTER, 3, 0xFFFFFFFFu, 0, 0 };
    assert_int_equal(tern_backoff_window(&big, 30), 3u << 30);
    assert_int_equal(tern_backoff_window(&big, 31), 0xFFFFFFFFu); /* 3 << 31 would overflow */
}

/* Draw @p n delays at one attempt; check the bounds and that ten equal buckets
 * of [lo, hi] each hold their share within 15 % and the mean is in the middle. */
static void check_spread(tern_backoff_t *b, uint32_t attempt, uint32_t lo, uint32_t hi, int n)
{
    uint32_t buckets[10];
    double sum = 0;
    memset(buckets, 0, sizeof buckets);
    for (int i = 0; i < n; i++) {
        uint32_t d;
        b->attempt = attempt;
        assert_int_equal(tern_backoff_next(b, &d), TERN_OK);
        assert_in_range(d, lo, hi);
        sum += d;
        uint64_t k = (uint64_t)(d - lo) * 10u / ((uint64_t)(hi - lo) + 1u);
        buckets[k]++;
    }
    for (int k = 0; k < 10; k++) {
        assert_in_range(buckets[k], (uint32_t)(n / 10 * 85 / 100), (uint32_t)(n / 10 * 115 / 100));
    }
    double mean = sum / n, mid = (lo + (double)hi) / 2;
    assert_true(mean > mid - (hi - lo) * 0.02 && mean < mid + (hi - lo) * 0.02);
}

static void test_full_jitter_spreads_over_the_window(void **state)
{
    (void)state;
    tern_rng_t rng = make_rng(0x9E3779B97F4A7C15ull);
    tern_backoff_t b;
    tern_backoff_config_t c = { TERN_BACKOFF_FULL_JITTER, 1000, 120000, 0, 0 };
    assert_int_equal(tern_backoff_init(&b, &c, &rng), TERN_OK);
    check_spread(&b, 0, 0, 1000, 20000);
    check_spread(&b, 4, 0, 16000, 20000);
    check_spread(&b, 12, 0, 120000, 20000); /* capped window */
}

static void test_additive_is_the_ladder_plus_jitter(void **state)
{
    (void)state;
    tern_rng_t rng = make_rng(42);
    tern_backoff_t b;
    tern_backoff_config_t c = { TERN_BACKOFF_ADDITIVE, 500, 30000, 1000, 0 };
    assert_int_equal(tern_backoff_init(&b, &c, &rng), TERN_OK);
    check_spread(&b, 0, 500, 1500, 20000);
    check_spread(&b, 3, 4000, 5000, 20000);
    check_spread(&b, 10, 30000, 31000, 20000); /* ladder capped, jitter on top */
    /* a jitter range reaching the top of uint32 saturates instead of wrapping */
    tern_backoff_config_t huge = { TERN_BACKOFF_ADDITIVE, 1000, 1000, 0xFFFFFFFFu, 0 };
    assert_int_equal(tern_backoff_init(&b, &huge, &rng), TERN_OK);
    for (int i = 0; i < 1000; i++) {
        uint32_t d;
        assert_int_equal(tern_backoff_next(&b, &d), TERN_OK);
        assert_true(d >= 1000);
    }
}

static void test_sequence_grows_then_resets(void **state)
{
    (void)state;
    tern_rng_t rng = make_rng(7);
    tern_backoff_t b;
    tern_backoff_config_t c = { TERN_BACKOFF_ADDITIVE, 100, 100000, 0, 0 };
    assert_int_equal(tern_backoff_init(&b, &c, &rng), TERN_OK);
    uint32_t want[] = { 100, 200, 400, 800, 1600, 3200 };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        uint32_t d;
        assert_int_equal(tern_backoff_next(&b, &d), TERN_OK);
        assert_int_equal(d, want[i]); /* no jitter: exactly the ladder */
    }
    assert_int_equal(tern_backoff_attempts(&b), 6);
    tern_backoff_reset(&b);
    uint32_t d;
    assert_int_equal(tern_backoff_next(&b, &d), TERN_OK);
    assert_int_equal(d, 100);
}

static void test_attempt_limit_and_rng_failure(void **state)
{
    (void)state;
    tern_rng_t rng = make_rng(99);
    tern_backoff_t b;
    tern_backoff_config_t c = { TERN_BACKOFF_FULL_JITTER, 100, 1000, 0, 3 };
    assert_int_equal(tern_backoff_init(&b, &c, &rng), TERN_OK);
    uint32_t d;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tern_backoff_next(&b, &d), TERN_OK);
    }
    assert_int_equal(tern_backoff_next(&b, &d), TERN_ERR_TIMEOUT);
    assert_int_equal(tern_backoff_attempts(&b), 3);
    tern_backoff_reset(&b);
    g_x.fail_after = 0;
    assert_int_equal(tern_backoff_next(&b, &d), TERN_ERR_IO);
    assert_int_equal(tern_backoff_attempts(&b), 0); /* a failed draw is not an attempt */
}

static void test_same_seed_same_schedule_different_seed_different(void **state)
{
    (void)state;
    tern_backoff_config_t c = { TERN_BACKOFF_FULL_JITTER, 1000, 64000, 0, 0 };
    uint32_t a[8], b2[8], o[8];
    tern_backoff_t b;
    tern_rng_t rng = make_rng(1234);
    assert_int_equal(tern_backoff_init(&b, &c, &rng), TERN_OK);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(tern_backoff_next(&b, &a[i]), TERN_OK);
    }
    rng = make_rng(1234);
    assert_int_equal(tern_backoff_init(&b, &c, &rng), TERN_OK);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(tern_backoff_next(&b, &b2[i]), TERN_OK);
    }
    assert_memory_equal(a, b2, sizeof a);
    rng = make_rng(4321);
    assert_int_equal(tern_backoff_init(&b, &c, &rng), TERN_OK);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(tern_backoff_next(&b, &o[i]), TERN_OK);
    }
    assert_true(memcmp(a, o, sizeof a) != 0);
}

/* A fleet of 1000 devices with full jitter, all failing at t=0: their first
 * retries land spread over the window, no 100 ms slot takes a herd. */
static void test_fleet_first_retries_do_not_herd(void **state)
{
    (void)state;
    enum { DEVICES = 1000, WINDOW = 10000, SLOT = 100 };
    uint16_t slots[WINDOW / SLOT + 1];
    memset(slots, 0, sizeof slots);
    tern_backoff_config_t c = { TERN_BACKOFF_FULL_JITTER, WINDOW, WINDOW, 0, 0 };
    for (uint32_t dev = 0; dev < DEVICES; dev++) {
        tern_rng_t rng = make_rng(0xABCDEF01ull * (dev + 1));
        tern_backoff_t b;
        uint32_t d;
        assert_int_equal(tern_backoff_init(&b, &c, &rng), TERN_OK);
        assert_int_equal(tern_backoff_next(&b, &d), TERN_OK);
        slots[d / SLOT]++;
    }
    uint16_t peak = 0;
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        peak = slots[i] > peak ? slots[i] : peak;
    }
    /* 10 per slot on average; a fixed interval would put all 1000 in one */
    assert_true(peak <= 30);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_checks),
        cmocka_unit_test(test_window_grows_and_caps_without_overflow),
        cmocka_unit_test(test_full_jitter_spreads_over_the_window),
        cmocka_unit_test(test_additive_is_the_ladder_plus_jitter),
        cmocka_unit_test(test_sequence_grows_then_resets),
        cmocka_unit_test(test_attempt_limit_and_rng_failure),
        cmocka_unit_test(test_same_seed_same_schedule_different_seed_different),
        cmocka_unit_test(test_fleet_first_retries_do_not_herd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
