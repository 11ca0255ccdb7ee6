/* SPDX-License-Identifier: Apache-2.0 */
/* Critical sections: PRIMASK nesting, and interrupts really are held off. */
#include "cm_test.h"

static void test_nesting_restores_primask(void **state)
{
    (void)state;
    assert_int_equal(cm_test_primask(), 0);

    uint32_t outer = tern_critical_enter(&cm_hal.critical);
    assert_int_equal(cm_test_primask(), 1);
    uint32_t inner = tern_critical_enter(&cm_hal.critical);
    assert_int_equal(cm_test_primask(), 1);

    tern_critical_exit(&cm_hal.critical, inner);
    assert_int_equal(cm_test_primask(), 1); /* the inner exit must not unmask */
    tern_critical_exit(&cm_hal.critical, outer);
    assert_int_equal(cm_test_primask(), 0);
}

static void test_ticks_held_off_inside(void **state)
{
    (void)state;
    uint32_t s = tern_critical_enter(&cm_hal.critical);
    tern_ms_t before = tern_clock_now(&cm_hal.clock);
    cm_test_wait_centiseconds(3); /* 20 to 30 ms with SysTick masked */
    tern_ms_t inside = tern_clock_now(&cm_hal.clock);
    tern_critical_exit(&cm_hal.critical, s);
    assert_int_equal(inside, before);

    /* Unmasked, the clock runs again. */
    cm_test_wait_centiseconds(2);
    assert_in_range(tern_time_elapsed(tern_clock_now(&cm_hal.clock), inside), 1, 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nesting_restores_primask),
        cmocka_unit_test(test_ticks_held_off_inside),
    };
    return cmocka_run_group_tests(tests, cm_board_setup, NULL);
}
