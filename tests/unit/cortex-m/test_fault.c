/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fault capture on real faults of the emulated core, recovered through the
 * hook: the record must name the faulting instruction and the right cause.
 */
#include <setjmp.h>
#include <string.h>

#include "cm_test.h"

#define CFSR (*(volatile uint32_t *)0xE000ED28u)

static jmp_buf s_back;
static tern_cm_fault_t s_seen;
static volatile int s_hook_calls;

static void recover(const tern_cm_fault_t *fault)
{
    s_seen = *fault;
    s_hook_calls++;
    longjmp(s_back, 1);
}

static int arm_hook(void **state)
{
    (void)state;
    memset(&s_seen, 0, sizeof s_seen);
    s_hook_calls = 0;
    tern_cm_fault_clear();
    tern_cm_fault_set_recovery(recover);
    return 0;
}

static int disarm_hook(void **state)
{
    (void)state;
    tern_cm_fault_set_recovery(NULL);
    return 0;
}

static uint32_t addr_of(const uint16_t *site)
{
    return (uint32_t)(uintptr_t)site;
}

/* The parts every captured fault shares: escalated HardFault of thread code, saved for later. */
static void check_common(uint32_t site, uint32_t cfsr_bit)
{
    assert_int_equal(s_hook_calls, 1);
    assert_int_equal(s_seen.magic, TERN_CM_FAULT_MAGIC);
    assert_int_equal(s_seen.exception, 3); /* the configurable faults are off: escalated */
    assert_int_equal(s_seen.pc, site);
    assert_true((s_seen.cfsr & cfsr_bit) != 0);
    assert_true((s_seen.hfsr & TERN_CM_HFSR_FORCED) != 0);
    assert_int_equal(s_seen.exc_return & 0xFu, 0x9u); /* thread mode, main stack */
    assert_true((s_seen.xpsr & (1u << 24)) != 0);     /* Thumb */
    assert_int_equal(CFSR & cfsr_bit, 0);             /* cleared for the next one */

    const tern_cm_fault_t *last = tern_cm_fault_last();
    assert_non_null(last);
    assert_memory_equal(last, &s_seen, sizeof s_seen);
}

static void test_undefined_instruction(void **state)
{
    (void)state;
    if (setjmp(s_back) == 0) {
        cm_fault_udf();
        fail_msg("udf did not fault");
    }
    check_common(addr_of(cm_udf_site), TERN_CM_CFSR_UNDEFINSTR);
}

static void test_divide_by_zero(void **state)
{
    (void)state;
    if (setjmp(s_back) == 0) {
        (void)cm_fault_div(7, 0);
        fail_msg("division by zero did not fault");
    }
    check_common(addr_of(cm_div_site), TERN_CM_CFSR_DIVBYZERO);
    assert_int_equal(s_seen.r0, 7); /* the arguments, as stacked */
    assert_int_equal(s_seen.r1, 0);
}

static void test_division_still_works(void **state)
{
    (void)state;
    assert_int_equal(cm_fault_div(-42, 6), -7);
    assert_int_equal(s_hook_calls, 0);
}

static void test_bus_error(void **state)
{
    (void)state;
    if (setjmp(s_back) == 0) {
        (void)cm_fault_load(CM_TEST_UNMAPPED);
        fail_msg("load from an unmapped address did not fault");
    }
    check_common(addr_of(cm_load_site), TERN_CM_CFSR_PRECISERR);
    assert_true((s_seen.cfsr & TERN_CM_CFSR_BFARVALID) != 0);
    assert_int_equal(s_seen.bfar, CM_TEST_UNMAPPED);
}

static uint64_t s_process_stack[128];

static void recover_to_msp(const tern_cm_fault_t *fault)
{
    s_seen = *fault;
    s_hook_calls++;
    cm_test_use_msp(); /* s_back was saved on the main stack */
    longjmp(s_back, 1);
}

static void test_fault_on_process_stack(void **state)
{
    (void)state;
    uintptr_t lo = (uintptr_t)s_process_stack, hi = lo + sizeof s_process_stack;
    tern_cm_fault_set_recovery(recover_to_msp);
    if (setjmp(s_back) == 0) {
        cm_call_on_psp(cm_fault_udf, (void *)hi);
        fail_msg("udf on the process stack did not fault");
    }
    assert_int_equal(s_hook_calls, 1);
    assert_int_equal(s_seen.exc_return & 0xFu, 0xDu); /* thread mode, process stack */
    assert_in_range(s_seen.sp, lo, hi - 32);          /* the frame is on the process stack */
    assert_int_equal(s_seen.pc, addr_of(cm_udf_site));
    assert_true((s_seen.cfsr & TERN_CM_CFSR_UNDEFINSTR) != 0);
}

static void test_clear_forgets(void **state)
{
    (void)state;
    if (setjmp(s_back) == 0) {
        cm_fault_udf();
    }
    assert_non_null(tern_cm_fault_last());
    tern_cm_fault_clear();
    assert_null(tern_cm_fault_last());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_undefined_instruction, arm_hook, disarm_hook),
        cmocka_unit_test_setup_teardown(test_divide_by_zero, arm_hook, disarm_hook),
        cmocka_unit_test_setup_teardown(test_division_still_works, arm_hook, disarm_hook),
        cmocka_unit_test_setup_teardown(test_bus_error, arm_hook, disarm_hook),
        cmocka_unit_test_setup_teardown(test_fault_on_process_stack, arm_hook, disarm_hook),
        cmocka_unit_test_setup_teardown(test_clear_forgets, arm_hook, disarm_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
