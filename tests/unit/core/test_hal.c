/* SPDX-License-Identifier: Apache-2.0 */
/* The HAL dispatch layer: argument checks, absent members, partitions, the
 * flash self-check and the unbiased RNG helper. A recording fake port proves
 * that bad arguments never reach a port; the NOR simulator is the real flash. */
#include <string.h>

#include "tern/hal.h"
#include "tern_norsim.h"
#include "tern_test.h"

/* ------------------------------------------------- a recording fake flash -- */

typedef struct {
    int calls;
    uint32_t last_addr;
} spy_t;

static void spy_geometry(void *ctx, tern_flash_geometry_t *g)
{
    (void)ctx;
    g->size = 4096;
    g->sector_size = 1024;
    g->prog_size = 8;
}
static tern_err_t spy_read(void *ctx, uint32_t addr, void *buf, size_t len)
{
    spy_t *s = ctx;
    s->calls++;
    s->last_addr = addr;
    if (buf != NULL) {
        memset(buf, 0xFF, len);
    }
    return TERN_OK;
}
static tern_err_t spy_program(void *ctx, uint32_t addr, const void *buf, size_t len)
{
    (void)buf;
    (void)len;
    return spy_read(ctx, addr, NULL, 0);
}
static tern_err_t spy_erase(void *ctx, uint32_t addr)
{
    return spy_read(ctx, addr, NULL, 0);
}
static const tern_flash_ops_t k_spy_ops = { "spy", spy_geometry, spy_read, spy_program, spy_erase };

static void test_flash_checks_stop_bad_arguments(void **state)
{
    (void)state;
    spy_t spy = { 0, 0 };
    tern_flash_t f = { &k_spy_ops, &spy };
    uint8_t buf[16] = { 0 };
    assert_int_equal(tern_flash_read(&f, 4090, buf, 16), TERN_ERR_RANGE);
    assert_int_equal(tern_flash_read(&f, 0xFFFFFFF0u, buf, 32), TERN_ERR_RANGE); /* no overflow */
    assert_int_equal(tern_flash_read(&f, 0, NULL, 4), TERN_ERR_INVAL);
    assert_int_equal(tern_flash_program(&f, 4, buf, 8), TERN_ERR_ALIGN);
    assert_int_equal(tern_flash_program(&f, 8, buf, 12), TERN_ERR_ALIGN);
    assert_int_equal(tern_flash_program(&f, 4088, buf, 16), TERN_ERR_RANGE);
    assert_int_equal(tern_flash_erase(&f, 512), TERN_ERR_ALIGN);
    assert_int_equal(tern_flash_erase(&f, 4096), TERN_ERR_RANGE);
    assert_int_equal(spy.calls, 0);
    /* Valid calls get through, and empty ones do not bother the port. */
    assert_int_equal(tern_flash_read(&f, 4080, buf, 16), TERN_OK);
    assert_int_equal(tern_flash_program(&f, 8, buf, 16), TERN_OK);
    assert_int_equal(tern_flash_erase(&f, 3072), TERN_OK);
    assert_int_equal(spy.calls, 3);
    assert_int_equal(spy.last_addr, 3072);
    assert_int_equal(tern_flash_read(&f, 0, buf, 0), TERN_OK);
    assert_int_equal(spy.calls, 3);
}

static void test_absent_members_report_unsupported(void **state)
{
    (void)state;
    tern_hal_t hal;
    memset(&hal, 0, sizeof hal);
    uint8_t b = 0;
    size_t n = 0;
    bool level = false;
    tern_flash_geometry_t g;
    assert_int_equal(tern_flash_geometry(&hal.flash, &g), TERN_ERR_UNSUPPORTED);
    assert_int_equal(tern_flash_read(&hal.flash, 0, &b, 1), TERN_ERR_UNSUPPORTED);
    assert_int_equal(tern_rng_fill(&hal.rng, &b, 1), TERN_ERR_UNSUPPORTED);
    assert_int_equal(tern_gpio_read(&hal.gpio, 1, &level), TERN_ERR_UNSUPPORTED);
    assert_int_equal(tern_i2c_transfer(&hal.i2c, 0x40, &b, 1, NULL, 0), TERN_ERR_UNSUPPORTED);
    assert_int_equal(tern_spi_transfer(&hal.spi, 0, &b, NULL, 1), TERN_ERR_UNSUPPORTED);
    assert_int_equal(tern_uart_write(&hal.uart, &b, 1, &n), TERN_ERR_UNSUPPORTED);
    assert_int_equal(tern_uart_read(&hal.uart, &b, 1, &n), TERN_ERR_UNSUPPORTED);
    assert_int_equal(tern_watchdog_start(&hal.watchdog, 100), TERN_ERR_UNSUPPORTED);
    assert_int_equal(tern_clock_set_wall(&hal.clock, 0), TERN_ERR_UNSUPPORTED);
    assert_int_equal(tern_clock_now(&hal.clock), 0);
    assert_false(tern_clock_wall(&hal.clock).known);
    assert_int_equal(tern_reset_reason(&hal.reset), TERN_RESET_UNKNOWN);
    tern_watchdog_feed(&hal.watchdog); /* harmless no-ops */
    tern_reset_reboot(&hal.reset, TERN_RESET_SOFTWARE);
    tern_critical_exit(&hal.critical, tern_critical_enter(&hal.critical));
}

static void test_reset_reason_names(void **state)
{
    (void)state;
    assert_string_equal(tern_reset_reason_str(TERN_RESET_WATCHDOG), "watchdog");
    assert_string_equal(tern_reset_reason_str(TERN_RESET_BROWNOUT), "brownout");
    assert_string_equal(tern_reset_reason_str((tern_reset_reason_t)99), "unknown");
}

/* ------------------------------------------------------- scripted RNG -- */

typedef struct {
    const uint32_t *values;
    size_t n, next;
} script_rng_t;

static tern_err_t script_fill(void *ctx, void *buf, size_t len)
{
    script_rng_t *s = ctx;
    if (len != sizeof(uint32_t) || s->next >= s->n) {
        return TERN_ERR_IO;
    }
    memcpy(buf, &s->values[s->next++], sizeof(uint32_t));
    return TERN_OK;
}
static const tern_rng_ops_t k_script_ops = { "script", script_fill };

static void test_rng_uniform_rejects_biased_values(void **state)
{
    (void)state;
    /* bound 3: 2^32 mod 3 == 1, so exactly the value 0 is rejected. */
    static const uint32_t vals[] = { 0u, 0u, 7u };
    script_rng_t s = { vals, 3, 0 };
    tern_rng_t rng = { &k_script_ops, &s };
    uint32_t out = 99;
    assert_int_equal(tern_rng_uniform(&rng, 3, &out), TERN_OK);
    assert_int_equal(out, 1); /* 7 % 3, after two rejections */
    assert_int_equal(s.next, 3);
    assert_int_equal(tern_rng_uniform(&rng, 0, &out), TERN_ERR_INVAL);
    assert_int_equal(tern_rng_uniform(&rng, 3, &out), TERN_ERR_IO); /* script ran dry */
    static const uint32_t big[] = { 0xFFFFFFFFu };
    script_rng_t s2 = { big, 1, 0 };
    rng.ctx = &s2;
    assert_int_equal(tern_rng_uniform(&rng, 1000, &out), TERN_OK);
    assert_in_range(out, 0, 999);
}

/* --------------------------------------------- partitions on a real NOR -- */

enum { SIM_SIZE = 8 * 512, SIM_SECTOR = 512 };
static uint8_t g_mem[SIM_SIZE];
static uint32_t g_counts[SIM_SIZE / SIM_SECTOR];

static tern_flash_t make_sim(tern_norsim_t *sim)
{
    tern_norsim_config_t cfg = { SIM_SIZE, SIM_SECTOR, 4, 0, 0, 1 };
    assert_int_equal(tern_norsim_init(sim, &cfg, g_mem, g_counts), TERN_OK);
    tern_norsim_format(sim);
    return tern_norsim_flash(sim);
}

static void test_partition_translates_and_confines(void **state)
{
    (void)state;
    tern_norsim_t sim;
    tern_flash_t chip = make_sim(&sim);
    tern_flash_part_t pstate;
    tern_flash_t part;
    tern_flash_geometry_t g;
    assert_int_equal(tern_flash_partition(&chip, 100, 1024, &pstate, &part), TERN_ERR_ALIGN);
    assert_int_equal(tern_flash_partition(&chip, 512, 1000, &pstate, &part), TERN_ERR_ALIGN);
    assert_int_equal(tern_flash_partition(&chip, 3584, 1024, &pstate, &part), TERN_ERR_RANGE);
    assert_int_equal(tern_flash_partition(&chip, 0, 0, &pstate, &part), TERN_ERR_RANGE);
    assert_int_equal(tern_flash_partition(&chip, 1024, 1024, &pstate, &part), TERN_OK);
    assert_int_equal(tern_flash_geometry(&part, &g), TERN_OK);
    assert_int_equal(g.size, 1024);
    assert_int_equal(g.sector_size, SIM_SECTOR);
    assert_int_equal(g.prog_size, 4);

    assert_int_equal(tern_flash_program(&part, 4, "ABCD", 4), TERN_OK);
    uint8_t buf[4];
    assert_int_equal(tern_flash_read(&chip, 1028, buf, 4), TERN_OK); /* landed at offset 1024+4 */
    assert_memory_equal(buf, "ABCD", 4);
    assert_int_equal(tern_flash_read(&part, 1022, buf, 4), TERN_ERR_RANGE);
    assert_int_equal(tern_flash_erase(&part, 1024), TERN_ERR_RANGE);
    assert_int_equal(tern_flash_erase(&part, 512), TERN_OK);
    assert_int_equal(tern_norsim_erase_count(&sim, 1536), 1);
    assert_int_equal(tern_norsim_erase_count(&sim, 1024), 0);
    /* A partition of a partition nests. */
    tern_flash_part_t inner_state;
    tern_flash_t inner;
    assert_int_equal(tern_flash_partition(&part, 512, 512, &inner_state, &inner), TERN_OK);
    assert_int_equal(tern_flash_program(&inner, 0, "WXYZ", 4), TERN_OK);
    assert_int_equal(tern_flash_read(&chip, 1536, buf, 4), TERN_OK);
    assert_memory_equal(buf, "WXYZ", 4);
}

static void test_selfcheck_passes_on_good_flash(void **state)
{
    (void)state;
    tern_norsim_t sim;
    tern_flash_t chip = make_sim(&sim);
    assert_int_equal(tern_flash_selfcheck(&chip, 2048), TERN_OK);
    assert_int_equal(tern_norsim_erase_count(&sim, 2048), 2);
    uint8_t b;
    assert_int_equal(tern_flash_read(&chip, 2100, &b, 1), TERN_OK);
    assert_int_equal(b, 0xFF); /* left erased */
    assert_int_equal(tern_flash_selfcheck(&chip, 100), TERN_ERR_ALIGN);
}

/* A broken port that does not enforce the NOR rule (it overwrites) must fail the check. */
static tern_err_t overwrite_program(void *ctx, uint32_t addr, const void *buf, size_t len)
{
    memcpy(g_mem + addr, buf, len);
    (void)ctx;
    return TERN_OK;
}

static void test_selfcheck_catches_a_port_without_nor_rule(void **state)
{
    (void)state;
    tern_norsim_t sim;
    tern_flash_t chip = make_sim(&sim);
    tern_flash_ops_t broken = *chip.ops;
    broken.program = overwrite_program;
    tern_flash_t bad = { &broken, chip.ctx };
    assert_int_equal(tern_flash_selfcheck(&bad, 0), TERN_ERR_CORRUPT);
}

static void test_selfcheck_reports_power_loss(void **state)
{
    (void)state;
    tern_norsim_t sim;
    tern_flash_t chip = make_sim(&sim);
    tern_norsim_cut_after(&sim, 3, 0);
    assert_int_equal(tern_flash_selfcheck(&chip, 0), TERN_ERR_POWER_LOST);
}

/* ----------------------------------------------------------- describe -- */

typedef struct {
    int rows, present;
    char flash_name[16];
} seen_t;

static void visit(void *arg, const char *member, const char *port)
{
    seen_t *s = arg;
    s->rows++;
    if (port) {
        s->present++;
        if (strcmp(member, "flash") == 0) {
            strncpy(s->flash_name, port, sizeof s->flash_name - 1);
        }
    }
}

static void test_describe_lists_every_member(void **state)
{
    (void)state;
    tern_norsim_t sim;
    tern_hal_t hal;
    memset(&hal, 0, sizeof hal);
    hal.flash = make_sim(&sim);
    seen_t seen;
    memset(&seen, 0, sizeof seen);
    assert_int_equal(tern_hal_describe(&hal, visit, &seen), 10);
    assert_int_equal(seen.rows, 10);
    assert_int_equal(seen.present, 1);
    assert_string_equal(seen.flash_name, "norsim");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flash_checks_stop_bad_arguments),
        cmocka_unit_test(test_absent_members_report_unsupported),
        cmocka_unit_test(test_reset_reason_names),
        cmocka_unit_test(test_rng_uniform_rejects_biased_values),
        cmocka_unit_test(test_partition_translates_and_confines),
        cmocka_unit_test(test_selfcheck_passes_on_good_flash),
        cmocka_unit_test(test_selfcheck_catches_a_port_without_nor_rule),
        cmocka_unit_test(test_selfcheck_reports_power_loss),
        cmocka_unit_test(test_describe_lists_every_member),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
