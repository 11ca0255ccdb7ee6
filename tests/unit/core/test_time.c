/* SPDX-License-Identifier: Apache-2.0 */
#include "tern/time.h"
#include "tern_test.h"

static void test_ordering_without_wrap(void **state)
{
    (void)state;
    assert_true(tern_time_after(1001, 1000));
    assert_false(tern_time_after(1000, 1000));
    assert_true(tern_time_before(1000, 1001));
    assert_int_equal(tern_time_diff(1000, 1500), -500);
    assert_int_equal(tern_time_elapsed(1500, 1000), 500);
}

static void test_ordering_across_wrap(void **state)
{
    (void)state;
    tern_ms_t before = 0xFFFFFF00u;
    tern_ms_t after = 0x00000100u; /* 512 ms later, after the wrap */
    assert_true(tern_time_after(after, before));
    assert_true(tern_time_before(before, after));
    assert_int_equal(tern_time_diff(after, before), 512);
    assert_int_equal(tern_time_diff(before, after), -512);
    assert_int_equal(tern_time_elapsed(after, before), 512u);
}

static void test_extremes_of_the_window(void **state)
{
    (void)state;
    /* Exactly 2^31 - 1 apart is still ordered; the diff is representable both ways. */
    assert_int_equal(tern_time_diff(0x7FFFFFFFu, 0), 0x7FFFFFFF);
    assert_true(tern_time_after(0x7FFFFFFFu, 0));
    assert_int_equal(tern_time_diff(0, 0x7FFFFFFFu), -0x7FFFFFFF);
    /* 2^31 apart is the ambiguous point: it reads as the most negative distance. */
    assert_int_equal(tern_time_diff(0x80000000u, 0), (-0x7FFFFFFF - 1));
    assert_int_equal(tern_time_diff(0xFFFFFFFFu, 0), -1);
}

static void test_deadlines(void **state)
{
    (void)state;
    tern_ms_t now = 0xFFFFFFF0u;
    tern_ms_t dl = tern_deadline_in(now, 100); /* lands after the wrap */
    assert_int_equal(dl, 0x54u);
    assert_false(tern_deadline_passed(now, dl));
    assert_int_equal(tern_deadline_remaining(now, dl), 100u);
    assert_int_equal(tern_deadline_remaining(now + 99u, dl), 1u);
    assert_true(tern_deadline_passed(now + 100u, dl));
    assert_int_equal(tern_deadline_remaining(now + 100u, dl), 0u);
    assert_int_equal(tern_deadline_remaining(now + 5000u, dl), 0u);
}

static void test_sweep_every_offset_pair(void **state)
{
    (void)state;
    /* For instants around every interesting origin, after() agrees with the true order. */
    static const tern_ms_t origins[] = {
        0u, 1u, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu, 0xFFFFFF00u
    };
    for (size_t o = 0; o < sizeof origins / sizeof origins[0]; o++) {
        for (uint32_t d = 1; d < 100000u; d += 997u) {
            tern_ms_t a = origins[o];
            tern_ms_t b = a + d;
            assert_true(tern_time_after(b, a));
            assert_true(tern_time_before(a, b));
            assert_int_equal(tern_time_diff(b, a), (int32_t)d);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ordering_without_wrap),   cmocka_unit_test(test_ordering_across_wrap),
        cmocka_unit_test(test_extremes_of_the_window),  cmocka_unit_test(test_deadlines),
        cmocka_unit_test(test_sweep_every_offset_pair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
