/* SPDX-License-Identifier: Apache-2.0 */
/* The SysTick clock: 1 kHz against the board's independent 100 Hz counter, monotonic, wall time. */
#include "cm_test.h"

static void test_ticks_at_1khz_of_board_time(void **state)
{
    (void)state;
    cm_test_wait_centiseconds(1); /* start right after a tick of the reference */
    tern_ms_t t0 = tern_clock_now(&cm_hal.clock);
    cm_test_wait_centiseconds(10);
    tern_ms_t t1 = tern_clock_now(&cm_hal.clock);
    print_message("100 ms of the FPGA counter took %lu SysTick ms\n",
                  (unsigned long)tern_time_elapsed(t1, t0));
    /* Board time is instruction-counted (qemu-run.sh), so no tick is lost;
     * the slack is for running without -icount. */
    assert_in_range(tern_time_elapsed(t1, t0), 95, 105);
}

static void test_monotonic(void **state)
{
    (void)state;
    tern_ms_t first = tern_clock_now(&cm_hal.clock);
    tern_ms_t prev = first;
    while (tern_time_elapsed(prev, first) < 20) {
        tern_ms_t now = tern_clock_now(&cm_hal.clock);
        assert_false(tern_time_before(now, prev));
        assert_in_range(tern_time_elapsed(now, prev), 0, 5);
        prev = now;
    }
}

static void test_wall_unknown_until_set(void **state)
{
    (void)state;
    tern_walltime_t w = tern_clock_wall(&cm_hal.clock);
    assert_false(w.known);

    const int64_t t2024 = 1704067200000; /* 2024-01-01T00:00:00Z */
    assert_int_equal(tern_clock_set_wall(&cm_hal.clock, t2024), TERN_OK);
    w = tern_clock_wall(&cm_hal.clock);
    assert_true(w.known);
    assert_in_range(w.unix_ms - t2024, 0, 2);

    cm_test_wait_centiseconds(5);
    w = tern_clock_wall(&cm_hal.clock);
    assert_in_range(w.unix_ms - t2024, 40, 55);
    assert_int_equal(tern_clock_set_wall(&cm_hal.clock, -1), TERN_ERR_RANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ticks_at_1khz_of_board_time),
        cmocka_unit_test(test_monotonic),
        cmocka_unit_test(test_wall_unknown_until_set),
    };
    return cmocka_run_group_tests(tests, cm_board_setup, NULL);
}
