/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cmocka_lite.h
 * @brief The part of the cmocka API tern's unit tests use, for targets without
 * cmocka (bare-metal Cortex-M under qemu). Include it through tern_test.h.
 *
 * Same names and semantics as cmocka for what is here: tests are
 * `void f(void **state)`, fixtures `int f(void **state)` (non-zero fails),
 * cmocka_run_group_tests() returns the number of tests that failed, and a
 * failed assertion ends the running test at once (longjmp), so it must not be
 * used outside a test or fixture run by cmocka_run_group_tests().
 * Integer assertions compare as uintmax_t, like cmocka's LargestIntegralType;
 * pointers are passed as integers, as cmocka does (so GCC does not take the
 * check for a read of the memory they point to).
 * No mocks (will_return, expect_*), no test filters, no XML output.
 */
#ifndef TERN_CMOCKA_LITE_H
#define TERN_CMOCKA_LITE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*CMUnitTestFunction)(void **state);
typedef int (*CMFixtureFunction)(void **state);

struct CMUnitTest {
    const char *name;
    CMUnitTestFunction test_func;
    CMFixtureFunction setup_func;
    CMFixtureFunction teardown_func;
    void *initial_state;
};

/* One struct CMUnitTest initializer. */
#define CML_TEST(name, test, setup, teardown, state) \
    {                                                \
        name, test, setup, teardown, state           \
    }
#define cmocka_unit_test(f)                                 CML_TEST(#f, f, NULL, NULL, NULL)
#define cmocka_unit_test_setup(f, setup)                    CML_TEST(#f, f, setup, NULL, NULL)
#define cmocka_unit_test_teardown(f, teardown)              CML_TEST(#f, f, NULL, teardown, NULL)
#define cmocka_unit_test_setup_teardown(f, setup, teardown) CML_TEST(#f, f, setup, teardown, NULL)
#define cmocka_unit_test_prestate(f, state)                 CML_TEST(#f, f, NULL, NULL, state)
#define cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, state) \
    CML_TEST(#f, f, setup, teardown, state)

/** Run the array @p tests between the group fixtures (may be NULL); returns how many failed. */
#define cmocka_run_group_tests(tests, group_setup, group_teardown) \
    cml_run_group(#tests, tests, sizeof(tests) / sizeof((tests)[0]), group_setup, group_teardown)

#define cmocka_run_group_tests_name(name, tests, group_setup, group_teardown) \
    cml_run_group(name, tests, sizeof(tests) / sizeof((tests)[0]), group_setup, group_teardown)

/* -------------------------------------------------------------- asserts -- */

#define CML_WHERE __FILE__, __LINE__

#define assert_true(c)             cml_check((c) ? 1 : 0, #c, CML_WHERE)
#define assert_false(c)            cml_check((c) ? 0 : 1, "!(" #c ")", CML_WHERE)
#define assert_null(p)             cml_check_ptr((uintptr_t)(p), 1, #p, CML_WHERE)
#define assert_non_null(p)         cml_check_ptr((uintptr_t)(p), 0, #p, CML_WHERE)
#define assert_ptr_equal(a, b)     cml_check_ptr_eq((uintptr_t)(a), (uintptr_t)(b), 1, CML_WHERE)
#define assert_ptr_not_equal(a, b) cml_check_ptr_eq((uintptr_t)(a), (uintptr_t)(b), 0, CML_WHERE)
#define assert_int_equal(a, b)     cml_check_int((uintmax_t)(a), (uintmax_t)(b), 1, CML_WHERE)
#define assert_int_not_equal(a, b) cml_check_int((uintmax_t)(a), (uintmax_t)(b), 0, CML_WHERE)
#define assert_in_range(v, lo, hi) \
    cml_check_range((uintmax_t)(v), (uintmax_t)(lo), (uintmax_t)(hi), 1, CML_WHERE)
#define assert_not_in_range(v, lo, hi) \
    cml_check_range((uintmax_t)(v), (uintmax_t)(lo), (uintmax_t)(hi), 0, CML_WHERE)
#define assert_string_equal(a, b) cml_check_str((const char *)(a), (const char *)(b), 1, CML_WHERE)
#define assert_string_not_equal(a, b) \
    cml_check_str((const char *)(a), (const char *)(b), 0, CML_WHERE)
#define assert_memory_equal(a, b, n) \
    cml_check_mem((const void *)(a), (const void *)(b), (size_t)(n), 1, CML_WHERE)
#define assert_memory_not_equal(a, b, n) \
    cml_check_mem((const void *)(a), (const void *)(b), (size_t)(n), 0, CML_WHERE)
/** Fails if @p rc is negative (at the width of its own type); prints @p err (errno-like). */
#define assert_return_code(rc, err) \
    cml_check_return_code((uintmax_t)(rc), sizeof(rc), (intmax_t)(err), #rc, CML_WHERE)

#define fail()        cml_fail(CML_WHERE)
#define fail_msg(...) cml_fail_msg(CML_WHERE, __VA_ARGS__)
/** End the running test as skipped (reported, not counted as failed). */
#define skip()        cml_skip(CML_WHERE)

/** Test output on stdout (the console on a board). */
void print_message(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Diagnostics on stderr. */
void print_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ------------------------------------------- behind the macros (private) -- */

int cml_run_group(const char *group_name, const struct CMUnitTest *tests, size_t count,
                  CMFixtureFunction group_setup, CMFixtureFunction group_teardown);
void cml_check(int ok, const char *expr, const char *file, int line);
void cml_check_ptr(uintptr_t p, int want_null, const char *expr, const char *file, int line);
void cml_check_ptr_eq(uintptr_t a, uintptr_t b, int want_equal, const char *file, int line);
void cml_check_int(uintmax_t a, uintmax_t b, int want_equal, const char *file, int line);
void cml_check_range(uintmax_t v, uintmax_t lo, uintmax_t hi, int want_inside, const char *file,
                     int line);
void cml_check_str(const char *a, const char *b, int want_equal, const char *file, int line);
void cml_check_mem(const void *a, const void *b, size_t n, int want_equal, const char *file,
                   int line);
void cml_check_return_code(uintmax_t rc, size_t rc_size, intmax_t err, const char *expr,
                           const char *file, int line);
void cml_fail(const char *file, int line) __attribute__((noreturn));
void cml_fail_msg(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
void cml_skip(const char *file, int line) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif
#endif /* TERN_CMOCKA_LITE_H */
