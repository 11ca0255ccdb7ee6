/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "tern/err.h"
#include "tern/version.h"
#include "tern_test.h"

/* Every enumerator has its own message and name; the list has no duplicate values. */
static void test_every_error_has_distinct_text(void **state)
{
    (void)state;
    static const int all[] = {
#define ROW(name, value, msg) value,
        TERN_ERR_LIST(ROW)
#undef ROW
    };
    size_t n = sizeof all / sizeof all[0];
    assert_true(n >= 20);
    for (size_t i = 0; i < n; i++) {
        assert_true(all[i] <= 0);
        assert_int_not_equal(strcmp(tern_strerror(all[i]), "unknown error"), 0);
        assert_true(strncmp(tern_err_name(all[i]), "TERN_", 5) == 0);
        for (size_t j = i + 1; j < n; j++) {
            assert_int_not_equal(all[i], all[j]);
            assert_int_not_equal(strcmp(tern_strerror(all[i]), tern_strerror(all[j])), 0);
        }
    }
}

static void test_known_and_unknown_values(void **state)
{
    (void)state;
    assert_int_equal(TERN_OK, 0);
    assert_string_equal(tern_strerror(TERN_OK), "ok");
    assert_string_equal(tern_strerror(TERN_ERR_POWER_LOST), "power lost");
    assert_string_equal(tern_err_name(TERN_ERR_FLASH_NOR), "TERN_ERR_FLASH_NOR");
    assert_string_equal(tern_strerror(-9999), "unknown error");
    assert_string_equal(tern_strerror(42), "unknown error");
    assert_string_equal(tern_err_name(-9999), "TERN_ERR_UNKNOWN");
}

static void test_version_matches_header(void **state)
{
    (void)state;
    assert_string_equal(tern_version(), TERN_VERSION_STRING);
    assert_true(TERN_VERSION_MAJOR >= 0 && TERN_VERSION_MINOR >= 0 && TERN_VERSION_PATCH >= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_error_has_distinct_text),
        cmocka_unit_test(test_known_and_unknown_values),
        cmocka_unit_test(test_version_matches_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
