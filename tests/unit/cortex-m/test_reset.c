/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reset reason, reboot and the watchdog, across three boots of one qemu run:
 *   boot 1 (power-on): leave marks in .noinit, .data, .bss; reboot(SOFTWARE)
 *   boot 2 (software): the marks in .noinit survived, .data/.bss were reset;
 *                      a fed watchdog holds off; then starve it
 *   boot 3 (watchdog): the watchdog reset was recorded; exit 0
 * Any failure ends the run with the failure count, so qemu never loops.
 */
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include "cm_test.h"

#define MARK_ADDR (3u * TERN_CM_FLASH_SECTOR_SIZE + 64u)
static const uint8_t mark[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };

static uint32_t in_data = 0xDA7A;
static uint32_t in_bss;

static jmp_buf s_back;
static void recover(const tern_cm_fault_t *fault)
{
    (void)fault;
    longjmp(s_back, 1);
}

/* ----------------------------------------------------------- boot 1 -- */

static void test_cold_boot(void **state)
{
    (void)state;
    assert_int_equal(tern_reset_reason(&cm_hal.reset), TERN_RESET_POWER_ON);
    assert_int_equal(tern_cm_boot_count(), 1);
    assert_null(tern_cm_fault_last());
}

static void test_leave_marks(void **state)
{
    (void)state;
    assert_int_equal(tern_flash_erase(&cm_hal.flash, 3u * TERN_CM_FLASH_SECTOR_SIZE), TERN_OK);
    assert_int_equal(tern_flash_program(&cm_hal.flash, MARK_ADDR, mark, sizeof mark), TERN_OK);
    tern_cm_fault_set_recovery(recover);
    if (setjmp(s_back) == 0) {
        cm_fault_udf();
    }
    tern_cm_fault_set_recovery(NULL);
    assert_non_null(tern_cm_fault_last());
    in_data = 1;
    in_bss = 1;
}

/* ----------------------------------------------------------- boot 2 -- */

static void test_software_reboot_recorded(void **state)
{
    (void)state;
    assert_int_equal(tern_reset_reason(&cm_hal.reset), TERN_RESET_SOFTWARE);
    assert_string_equal(tern_reset_reason_str(tern_reset_reason(&cm_hal.reset)), "software");
    assert_int_equal(tern_cm_boot_count(), 2);
}

static void test_flash_survived(void **state)
{
    (void)state;
    uint8_t got[sizeof mark];
    assert_int_equal(tern_flash_read(&cm_hal.flash, MARK_ADDR, got, sizeof got), TERN_OK);
    assert_memory_equal(got, mark, sizeof mark);
}

static void test_fault_record_survived(void **state)
{
    (void)state;
    const tern_cm_fault_t *f = tern_cm_fault_last();
    assert_non_null(f);
    assert_int_equal(f->pc, (uintptr_t)cm_udf_site);
    assert_true((f->cfsr & TERN_CM_CFSR_UNDEFINSTR) != 0);
    tern_cm_fault_clear();
}

static void test_data_and_bss_reinitialised(void **state)
{
    (void)state;
    assert_int_equal(in_data, 0xDA7A);
    assert_int_equal(in_bss, 0);
}

static void test_fed_watchdog_holds_off(void **state)
{
    (void)state;
    assert_int_equal(tern_watchdog_start(&cm_hal.watchdog, 0), TERN_ERR_INVAL);
    assert_int_equal(tern_watchdog_start(&cm_hal.watchdog, TERN_CM_WATCHDOG_MAX_MS + 1),
                     TERN_ERR_RANGE);
    assert_int_equal(tern_watchdog_start(&cm_hal.watchdog, 50), TERN_OK);
    for (int i = 0; i < 20; i++) { /* about 200 ms, four times the timeout */
        cm_test_wait_centiseconds(1);
        tern_watchdog_feed(&cm_hal.watchdog);
    }
}

/* ----------------------------------------------------------- boot 3 -- */

static void test_watchdog_reset_recorded(void **state)
{
    (void)state;
    assert_int_equal(tern_reset_reason(&cm_hal.reset), TERN_RESET_WATCHDOG);
    assert_int_equal(tern_cm_boot_count(), 3);
    assert_null(tern_cm_fault_last());
}

int main(void)
{
    const struct CMUnitTest boot1[] = {
        cmocka_unit_test(test_cold_boot),
        cmocka_unit_test(test_leave_marks),
    };
    const struct CMUnitTest boot2[] = {
        cmocka_unit_test(test_software_reboot_recorded),
        cmocka_unit_test(test_flash_survived),
        cmocka_unit_test(test_fault_record_survived),
        cmocka_unit_test(test_data_and_bss_reinitialised),
        cmocka_unit_test(test_fed_watchdog_holds_off),
    };
    const struct CMUnitTest boot3[] = {
        cmocka_unit_test(test_watchdog_reset_recorded),
    };
    int failed;

    if (cm_board_setup(NULL) != 0) {
        return 100;
    }
    printf("cm.reset: boot %lu, reason %s\n", (unsigned long)tern_cm_boot_count(),
           tern_reset_reason_str(tern_reset_reason(&cm_hal.reset)));
    switch (tern_cm_boot_count()) {
    case 1:
        failed = cmocka_run_group_tests(boot1, NULL, NULL);
        if (failed == 0) {
            tern_reset_reboot(&cm_hal.reset, TERN_RESET_SOFTWARE);
        }
        return failed;
    case 2:
        failed = cmocka_run_group_tests(boot2, NULL, NULL);
        if (failed == 0) {
            /* Starve it: the next boot must say why. */
            tern_ms_t start = tern_clock_now(&cm_hal.clock);
            while (tern_time_elapsed(tern_clock_now(&cm_hal.clock), start) < 2000) {
            }
            printf("cm.reset: the watchdog did not fire within 2 s\n");
            failed = 1;
        }
        return failed;
    case 3:
        return cmocka_run_group_tests(boot3, NULL, NULL);
    default:
        printf("cm.reset: unexpected boot %lu\n", (unsigned long)tern_cm_boot_count());
        return 101;
    }
}
