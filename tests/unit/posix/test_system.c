/* SPDX-License-Identifier: Apache-2.0 */
/* Reset reasons across reboots, the clock-driven watchdog, the signal-masking critical section. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "tern/hal.h"
#include "tern/port/posix.h"

#include "tern_test.h"

/* ---------------------------------------------------------------- reset -- */

static void test_reset_reason_and_reboot(void **state)
{
    (void)state;
    tern_posix_reset_t r;
    tern_posix_reset_init(&r, TERN_RESET_BROWNOUT);
    tern_reset_t hal = tern_posix_reset_hal(&r);
    assert_string_equal(hal.ops->name, "posix-reset");
    assert_int_equal(tern_reset_reason(&hal), TERN_RESET_BROWNOUT);
    assert_false(tern_posix_reset_pending(&r, NULL));
    assert_int_equal(tern_posix_reset_count(&r), 0);

    tern_reset_reboot(&hal, TERN_RESET_SOFTWARE);
    tern_reset_reason_t why = TERN_RESET_UNKNOWN;
    assert_true(tern_posix_reset_pending(&r, &why));
    assert_int_equal(why, TERN_RESET_SOFTWARE);
    assert_int_equal(tern_posix_reset_count(&r), 1);
    /* Until the next boot this boot's reason stands. */
    assert_int_equal(tern_reset_reason(&hal), TERN_RESET_BROWNOUT);

    assert_int_equal(tern_posix_reset_boot(&r), TERN_RESET_SOFTWARE);
    assert_int_equal(tern_reset_reason(&hal), TERN_RESET_SOFTWARE);
    assert_false(tern_posix_reset_pending(&r, NULL));

    /* The last request wins; the counter counts them all. */
    tern_reset_reboot(&hal, TERN_RESET_FAULT);
    tern_reset_reboot(&hal, TERN_RESET_WATCHDOG);
    assert_int_equal(tern_posix_reset_count(&r), 3);
    assert_int_equal(tern_posix_reset_boot(&r), TERN_RESET_WATCHDOG);
    /* A boot nobody asked for is a power cycle. */
    assert_int_equal(tern_posix_reset_boot(&r), TERN_RESET_POWER_ON);
    assert_int_equal(tern_reset_reason(&hal), TERN_RESET_POWER_ON);
}

/* ------------------------------------------------------------- watchdog -- */

static void test_watchdog_timeout(void **state)
{
    (void)state;
    tern_posix_vclock_t vc;
    tern_posix_vclock_init(&vc, 0xFFFFFF00u); /* the countdown must survive the wrap */
    tern_clock_t clk = tern_posix_vclock_hal(&vc);
    tern_posix_watchdog_t w;
    tern_posix_watchdog_init(&w, &clk);
    tern_watchdog_t hal = tern_posix_watchdog_hal(&w);
    assert_string_equal(hal.ops->name, "posix-watchdog");

    tern_posix_vclock_advance(&vc, 100000);
    assert_false(tern_posix_watchdog_expired(&w)); /* not started: never bites */
    tern_watchdog_feed(&hal);                      /* feeding before start is harmless */
    assert_false(tern_posix_watchdog_expired(&w));

    assert_int_equal(tern_watchdog_start(&hal, 1000), TERN_OK);
    tern_posix_vclock_advance(&vc, 999);
    assert_false(tern_posix_watchdog_expired(&w));
    tern_watchdog_feed(&hal);
    tern_posix_vclock_advance(&vc, 999);
    assert_false(tern_posix_watchdog_expired(&w)); /* the feed restarted the countdown */
    tern_posix_vclock_advance(&vc, 1);
    assert_true(tern_posix_watchdog_expired(&w));
    tern_watchdog_feed(&hal);
    assert_false(tern_posix_watchdog_expired(&w));

    /* Restarting changes the timeout. */
    assert_int_equal(tern_watchdog_start(&hal, 50), TERN_OK);
    tern_posix_vclock_advance(&vc, 60);
    assert_true(tern_posix_watchdog_expired(&w));
    assert_int_equal(hal.ops->start(hal.ctx, 0), TERN_ERR_INVAL);
}

/* ------------------------------------------------------ critical section -- */

static volatile sig_atomic_t g_caught;

static void on_usr1(int sig)
{
    (void)sig;
    g_caught++;
}

static bool blocked(int sig)
{
    sigset_t cur;
    assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
    return sigismember(&cur, sig) == 1;
}

static void test_critical_blocks_signals(void **state)
{
    (void)state;
    struct sigaction sa = { 0 }, old_sa;
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old_sa), 0);
    g_caught = 0;

    tern_posix_critical_t c;
    tern_posix_critical_init(&c);
    tern_critical_t hal = tern_posix_critical_hal(&c);
    assert_string_equal(hal.ops->name, "posix-sigmask");
    assert_false(blocked(SIGUSR1));

    uint32_t outer = tern_critical_enter(&hal);
    assert_true(blocked(SIGUSR1));
    assert_true(blocked(SIGALRM));
    assert_true(blocked(SIGRTMIN));
    raise(SIGUSR1);
    assert_int_equal(g_caught, 0); /* held back while inside */

    uint32_t inner = tern_critical_enter(&hal);
    assert_int_equal(tern_posix_critical_depth(&c), 2);
    tern_critical_exit(&hal, inner);
    assert_true(blocked(SIGUSR1)); /* leaving the inner section keeps the outer one */
    assert_int_equal(g_caught, 0);
    assert_int_equal(tern_posix_critical_depth(&c), 1);

    tern_critical_exit(&hal, outer);
    assert_int_equal(tern_posix_critical_depth(&c), 0);
    assert_false(blocked(SIGUSR1));
    assert_int_equal(g_caught, 1); /* delivered on the way out */

    assert_int_equal(sigaction(SIGUSR1, &old_sa, NULL), 0);
}

static void test_critical_restores_prior_mask(void **state)
{
    (void)state;
    /* A signal the application had blocked before stays blocked afterwards; others are freed. */
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    assert_int_equal(pthread_sigmask(SIG_BLOCK, &s, NULL), 0);

    tern_posix_critical_t c;
    tern_posix_critical_init(&c);
    tern_critical_t hal = tern_posix_critical_hal(&c);
    uint32_t st = tern_critical_enter(&hal);
    assert_true(blocked(SIGUSR1));
    tern_critical_exit(&hal, st);
    assert_true(blocked(SIGUSR2));
    assert_false(blocked(SIGUSR1));

    assert_int_equal(pthread_sigmask(SIG_UNBLOCK, &s, NULL), 0);
    assert_false(blocked(SIGUSR2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_reason_and_reboot),
        cmocka_unit_test(test_watchdog_timeout),
        cmocka_unit_test(test_critical_blocks_signals),
        cmocka_unit_test(test_critical_restores_prior_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
