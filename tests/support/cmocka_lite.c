/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small, original implementation of the cmocka subset in cmocka_lite.h.
 *
 * One test runs at a time: a failed check records the verdict and longjmps
 * back to the runner, which then runs the teardown and moves on. Output is
 * plain stdio, so on a board it goes wherever the port sends stdout. Numbers
 * are formatted here rather than with %lld/%jx, which newlib-nano lacks.
 */
#include "cmocka_lite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum cml_verdict { CML_PASSED, CML_FAILED, CML_SKIPPED };

static jmp_buf s_jump;
static int s_armed;                /* s_jump is valid: a test or fixture is running */
static enum cml_verdict s_verdict; /* of the test or fixture that is running */

/* ------------------------------------------------------------- output -- */

static void cml_vprint(FILE *to, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void cml_vprint(FILE *to, const char *fmt, va_list ap)
{
    fflush(stdout);
    vfprintf(to, fmt, ap);
    fflush(to);
}

void print_message(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cml_vprint(stdout, fmt, ap);
    va_end(ap);
}

void print_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cml_vprint(stderr, fmt, ap);
    va_end(ap);
}

/* "-13 (0xfffffffffffffff3)": signed decimal reading and exact bits. */
static const char *cml_num(char buf[48], uintmax_t v)
{
    char dec[24], hex[20];
    size_t nd = 0, nh = 0;
    int negative = (v >> (sizeof v * 8 - 1)) != 0;
    uintmax_t mag = negative ? (uintmax_t)0 - v : v;

    do {
        dec[nd++] = (char)('0' + (int)(mag % 10u));
        mag /= 10u;
    } while (mag != 0);
    do {
        hex[nh++] = "0123456789abcdef"[v & 0xFu];
        v >>= 4;
    } while (v != 0);

    char *p = buf;
    if (negative) {
        *p++ = '-';
    }
    while (nd > 0) {
        *p++ = dec[--nd];
    }
    memcpy(p, " (0x", 4);
    p += 4;
    while (nh > 0) {
        *p++ = hex[--nh];
    }
    *p++ = ')';
    *p = '\0';
    return buf;
}

/* --------------------------------------------------------- the verdict -- */

static void cml_stop(enum cml_verdict verdict) __attribute__((noreturn));

static void cml_stop(enum cml_verdict verdict)
{
    s_verdict = verdict;
    if (!s_armed) {
        print_error("cmocka_lite: assertion outside a running test\n");
        abort();
    }
    longjmp(s_jump, 1);
}

static void cml_failed_at(const char *file, int line) __attribute__((noreturn));

static void cml_failed_at(const char *file, int line)
{
    print_error("%s:%d: error: Failure!\n", file, line);
    cml_stop(CML_FAILED);
}

void cml_fail(const char *file, int line)
{
    cml_failed_at(file, line);
}

void cml_fail_msg(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cml_vprint(stderr, fmt, ap);
    va_end(ap);
    print_error("\n");
    cml_failed_at(file, line);
}

void cml_skip(const char *file, int line)
{
    print_error("%s:%d: skipped\n", file, line);
    cml_stop(CML_SKIPPED);
}

void cml_check(int ok, const char *expr, const char *file, int line)
{
    if (!ok) {
        print_error("%s\n", expr);
        cml_failed_at(file, line);
    }
}

void cml_check_ptr(uintptr_t p, int want_null, const char *expr, const char *file, int line)
{
    if ((p == 0) != (want_null != 0)) {
        if (want_null) {
            print_error("%s is %p, not NULL\n", expr, (void *)p);
        } else {
            print_error("%s is NULL\n", expr);
        }
        cml_failed_at(file, line);
    }
}

void cml_check_ptr_eq(uintptr_t a, uintptr_t b, int want_equal, const char *file, int line)
{
    if ((a == b) != (want_equal != 0)) {
        print_error("%p %s %p\n", (void *)a, want_equal ? "!=" : "==", (void *)b);
        cml_failed_at(file, line);
    }
}

void cml_check_int(uintmax_t a, uintmax_t b, int want_equal, const char *file, int line)
{
    if ((a == b) != (want_equal != 0)) {
        char na[48], nb[48];
        print_error("%s %s %s\n", cml_num(na, a), want_equal ? "!=" : "==", cml_num(nb, b));
        cml_failed_at(file, line);
    }
}

void cml_check_range(uintmax_t v, uintmax_t lo, uintmax_t hi, int want_inside, const char *file,
                     int line)
{
    int inside = v >= lo && v <= hi;
    if (inside != (want_inside != 0)) {
        char nv[48], nlo[48], nhi[48];
        print_error("%s is %s the range [%s, %s]\n", cml_num(nv, v), inside ? "inside" : "outside",
                    cml_num(nlo, lo), cml_num(nhi, hi));
        cml_failed_at(file, line);
    }
}

void cml_check_str(const char *a, const char *b, int want_equal, const char *file, int line)
{
    int equal = (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
    if (equal != (want_equal != 0)) {
        print_error("\"%s\" %s \"%s\"\n", a ? a : "(null)",
                    want_equal ? "!=" : "==", b ? b : "(null)");
        cml_failed_at(file, line);
    }
}

void cml_check_mem(const void *a, const void *b, size_t n, int want_equal, const char *file,
                   int line)
{
    const unsigned char *pa = a, *pb = b;
    size_t i = 0;
    while (i < n && pa[i] == pb[i]) {
        i++;
    }
    if ((i == n) != (want_equal != 0)) {
        if (want_equal) {
            print_error("memory differs at byte %lu of %lu: 0x%02x != 0x%02x\n", (unsigned long)i,
                        (unsigned long)n, pa[i], pb[i]);
        } else {
            print_error("%lu bytes of memory are equal\n", (unsigned long)n);
        }
        cml_failed_at(file, line);
    }
}

void cml_check_return_code(uintmax_t rc, size_t rc_size, intmax_t err, const char *expr,
                           const char *file, int line)
{
    /* Negative at the width of rc's own type, as cmocka reads it. */
    size_t bits = rc_size * 8 < sizeof rc * 8 ? rc_size * 8 : sizeof rc * 8;
    if (((rc >> (bits - 1)) & 1u) != 0) {
        char nrc[48];
        print_error("%s is %s, error %d\n", expr, cml_num(nrc, rc), (int)err);
        cml_failed_at(file, line);
    }
}

/* ------------------------------------------------------------- runner -- */

/* Run a test (or, with test NULL, a fixture) under the jump; its verdict. */
static enum cml_verdict cml_guarded(CMUnitTestFunction test, CMFixtureFunction fixture,
                                    void **state, const char *what)
{
    s_verdict = CML_PASSED;
    s_armed = 1;
    if (setjmp(s_jump) == 0) {
        if (test != NULL) {
            test(state);
        } else if (fixture(state) != 0) {
            print_error("%s returned an error\n", what);
            s_verdict = CML_FAILED;
        }
    }
    s_armed = 0;
    return s_verdict;
}

int cml_run_group(const char *group_name, const struct CMUnitTest *tests, size_t count,
                  CMFixtureFunction group_setup, CMFixtureFunction group_teardown)
{
    void *group_state = NULL;
    size_t passed = 0, failed = 0, skipped = 0;
    unsigned char *verdicts = malloc(count > 0 ? count : 1); /* for the lists at the end */

    print_message("[==========] %s: Running %lu test(s).\n", group_name, (unsigned long)count);
    if (group_setup != NULL &&
        cml_guarded(NULL, group_setup, &group_state, "group setup") != CML_PASSED) {
        print_message("[  ERROR   ] %s: group setup failed, no test run\n", group_name);
        free(verdicts);
        return count > 0 ? (int)count : 1;
    }

    for (size_t i = 0; i < count; i++) {
        const struct CMUnitTest *t = &tests[i];
        void *state = t->initial_state != NULL ? t->initial_state : group_state;
        enum cml_verdict v = CML_PASSED;

        print_message("[ RUN      ] %s\n", t->name);
        if (t->setup_func != NULL) {
            v = cml_guarded(NULL, t->setup_func, &state, "setup");
        }
        if (v == CML_PASSED) {
            v = cml_guarded(t->test_func, NULL, &state, t->name);
            if (t->teardown_func != NULL &&
                cml_guarded(NULL, t->teardown_func, &state, "teardown") != CML_PASSED) {
                v = CML_FAILED;
            }
        }
        switch (v) {
        case CML_PASSED:
            passed++;
            print_message("[       OK ] %s\n", t->name);
            break;
        case CML_SKIPPED:
            skipped++;
            print_message("[  SKIPPED ] %s\n", t->name);
            break;
        default:
            failed++;
            print_message("[  FAILED  ] %s\n", t->name);
            break;
        }
        if (verdicts != NULL) {
            verdicts[i] = (unsigned char)v;
        }
    }

    if (group_teardown != NULL &&
        cml_guarded(NULL, group_teardown, &group_state, "group teardown") != CML_PASSED) {
        print_message("[  ERROR   ] %s: group teardown failed\n", group_name);
        failed++;
    }

    print_message("[==========] %s: %lu test(s) run.\n", group_name, (unsigned long)count);
    print_message("[  PASSED  ] %lu test(s).\n", (unsigned long)passed);
    if (skipped > 0) {
        print_message("[  SKIPPED ] %lu test(s), listed below:\n", (unsigned long)skipped);
        for (size_t i = 0; verdicts != NULL && i < count; i++) {
            if (verdicts[i] == CML_SKIPPED) {
                print_message("[  SKIPPED ] %s\n", tests[i].name);
            }
        }
    }
    if (failed > 0) {
        print_message("[  FAILED  ] %lu test(s), listed below:\n", (unsigned long)failed);
        for (size_t i = 0; verdicts != NULL && i < count; i++) {
            if (verdicts[i] == CML_FAILED) {
                print_message("[  FAILED  ] %s\n", tests[i].name);
            }
        }
        print_message("\n %lu FAILED TEST(S)\n", (unsigned long)failed);
    }
    free(verdicts);
    return (int)failed;
}
