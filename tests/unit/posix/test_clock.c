/* SPDX-License-Identifier: Apache-2.0 */
/* The real clock (monotonic, wrap offset, wall) and the virtual clock. */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "tern/hal.h"
#include "tern/port/posix.h"

#include "tern_test.h"

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static int64_t host_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_real_monotonic(void **state)
{
    (void)state;
    tern_posix_clock_t c;
    tern_posix_clock_init(&c, 1000);
    tern_clock_t clk = tern_posix_clock_hal(&c);
    assert_string_equal(clk.ops->name, "posix");
    tern_ms_t t0 = tern_clock_now(&clk);
    assert_in_range(t0, 1000, 1010); /* starts where asked */
    tern_ms_t prev = t0;
    for (int i = 0; i < 1000; i++) {
        tern_ms_t t = tern_clock_now(&clk);
        assert_false(tern_time_before(t, prev));
        prev = t;
    }
    sleep_ms(30);
    uint32_t waited = tern_time_elapsed(tern_clock_now(&clk), t0);
    assert_in_range(waited, 30, 2000);
}

static void test_real_wraps(void **state)
{
    (void)state;
    tern_posix_clock_t c;
    tern_posix_clock_init(&c, 0xFFFFFFF0u); /* 16 ms before the wrap */
    tern_clock_t clk = tern_posix_clock_hal(&c);
    tern_ms_t t0 = tern_clock_now(&clk);
    assert_true(t0 >= 0xFFFFFFF0u);
    sleep_ms(40);
    tern_ms_t t1 = tern_clock_now(&clk);
    assert_true(t1 < 0x10000u); /* wrapped through 2^32 */
    assert_true(tern_time_after(t1, t0));
    assert_in_range(tern_time_elapsed(t1, t0), 40, 2000);
}

static void test_real_wall(void **state)
{
    (void)state;
    tern_posix_clock_t c;
    tern_posix_clock_init(&c, 0);
    tern_clock_t clk = tern_posix_clock_hal(&c);
    tern_walltime_t w = tern_clock_wall(&clk);
    assert_true(w.known);
    int64_t host = host_wall_ms();
    assert_true(w.unix_ms <= host && w.unix_ms > host - 1000);

    /* set_wall shifts the device's notion of UTC, not the host's. */
    const int64_t then = 1000000000000; /* 2001-09-09 */
    assert_int_equal(tern_clock_set_wall(&clk, then), TERN_OK);
    w = tern_clock_wall(&clk);
    assert_true(w.known);
    assert_true(w.unix_ms >= then && w.unix_ms < then + 1000);
    sleep_ms(20);
    w = tern_clock_wall(&clk);
    assert_true(w.unix_ms >= then + 20 && w.unix_ms < then + 2000);
}

static void test_vclock_manual_time(void **state)
{
    (void)state;
    tern_posix_vclock_t vc;
    tern_posix_vclock_init(&vc, 500);
    tern_clock_t clk = tern_posix_vclock_hal(&vc);
    assert_int_equal(tern_clock_now(&clk), 500);
    sleep_ms(5);
    assert_int_equal(tern_clock_now(&clk), 500); /* does not move by itself */
    tern_posix_vclock_advance(&vc, 250);
    assert_int_equal(tern_clock_now(&clk), 750);
    assert_int_equal(tern_posix_vclock_now(&vc), 750);
    tern_posix_vclock_set(&vc, 10000);
    assert_int_equal(tern_clock_now(&clk), 10000);
}

static void test_vclock_wraps_and_never_goes_back(void **state)
{
    (void)state;
    tern_posix_vclock_t vc;
    tern_posix_vclock_init(&vc, 0xFFFFFF00u);
    tern_clock_t clk = tern_posix_vclock_hal(&vc);
    tern_posix_vclock_advance(&vc, 0x200);
    assert_int_equal(tern_clock_now(&clk), 0x100);
    /* Setting an "earlier" value means going forward through the next wrap:
     * the wall clock, which never wraps, shows how far time really moved. */
    assert_int_equal(tern_clock_set_wall(&clk, 0), TERN_OK);
    tern_posix_vclock_set(&vc, 0x80);
    assert_int_equal(tern_clock_now(&clk), 0x80);
    assert_true(tern_clock_wall(&clk).unix_ms == 0xFFFFFF80);
}

static void test_vclock_wall(void **state)
{
    (void)state;
    tern_posix_vclock_t vc;
    tern_posix_vclock_init(&vc, 0);
    tern_clock_t clk = tern_posix_vclock_hal(&vc);
    assert_false(tern_clock_wall(&clk).known);
    tern_posix_vclock_advance(&vc, 1000);
    assert_false(tern_clock_wall(&clk).known);

    assert_int_equal(tern_clock_set_wall(&clk, 1700000000000), TERN_OK);
    tern_walltime_t w = tern_clock_wall(&clk);
    assert_true(w.known);
    assert_true(w.unix_ms == 1700000000000);
    tern_posix_vclock_advance(&vc, 1234);
    w = tern_clock_wall(&clk);
    assert_true(w.unix_ms == 1700000001234);
    /* Across a monotonic wrap the wall keeps counting: it is 64-bit. */
    tern_posix_vclock_advance(&vc, 0xFFFFFFFFu);
    w = tern_clock_wall(&clk);
    assert_true(w.unix_ms == 1700000001234 + 0xFFFFFFFF);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_monotonic),
        cmocka_unit_test(test_real_wraps),
        cmocka_unit_test(test_real_wall),
        cmocka_unit_test(test_vclock_manual_time),
        cmocka_unit_test(test_vclock_wraps_and_never_goes_back),
        cmocka_unit_test(test_vclock_wall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
