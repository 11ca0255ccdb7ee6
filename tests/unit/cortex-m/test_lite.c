/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmocka_lite itself: assertions that hold must pass, each that does not must
 * fail its test at once (nothing after it runs), and the group returns the
 * number of failed tests. Four tests fail on purpose; CMakeLists.txt expects
 * exit code 4 and the failure reports.
 */
#include <string.h>

#include "cm_test.h"

static int after_failure; /* set by code that must never run */

static void holds_everywhere(void **state)
{
    int x = 3;
    const char *s = "tern";
    (void)state;
    assert_true(x == 3);
    assert_false(x == 4);
    assert_int_equal(-1, -1);
    assert_int_not_equal(1, 2);
    assert_in_range(5, 1, 5);
    assert_not_in_range(6, 1, 5);
    assert_null(NULL);
    assert_non_null(s);
    assert_ptr_equal(s, s);
    assert_ptr_not_equal(s, &x);
    assert_string_equal(s, "tern");
    assert_string_not_equal(s, "tern!");
    assert_memory_equal(s, "tern", 4);
    assert_memory_not_equal(s, "turn", 4);
    assert_return_code(0, 0);
    assert_return_code(7u, 0);
    print_message("lite: print_message %d\n", 7);
}

static void int_mismatch(void **state)
{
    (void)state;
    assert_int_equal(1, 2);
    after_failure = 1;
}

static void memory_mismatch(void **state)
{
    (void)state;
    assert_memory_equal("abcd", "abXd", 4);
    after_failure = 1;
}

static void negative_return_code(void **state)
{
    (void)state;
    int rc = TERN_ERR_IO;
    assert_return_code(rc, 5);
    after_failure = 1;
}

static void skipped(void **state)
{
    (void)state;
    skip();
    after_failure = 1;
}

static int failing_setup(void **state)
{
    (void)state;
    return -1;
}

static void never_runs(void **state)
{
    (void)state;
    after_failure = 1;
}

static int give_state(void **state)
{
    static int value = 1234;
    *state = &value;
    return 0;
}

static void gets_state(void **state)
{
    assert_int_equal(*(int *)*state, 1234);
}

static void nothing_ran_after_failures(void **state)
{
    (void)state;
    assert_int_equal(after_failure, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(holds_everywhere),
        cmocka_unit_test(int_mismatch),
        cmocka_unit_test(memory_mismatch),
        cmocka_unit_test(negative_return_code),
        cmocka_unit_test(skipped),
        cmocka_unit_test_setup_teardown(never_runs, failing_setup, NULL),
        cmocka_unit_test_setup_teardown(gets_state, give_state, NULL),
        cmocka_unit_test(nothing_ran_after_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
