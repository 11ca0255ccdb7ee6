/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The NOR flash simulator: every rule a power-loss test relies on. Each rule is
 * checked through the HAL wrappers (tern_flash_*) and straight through the ops
 * table, so the simulator's own checks are tested, not only the dispatch layer's.
 * Portable: runs on the host and on the Cortex-M4 under QEMU (static buffers only).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/hal.h"
#include "tern_norsim.h"

#include "tern_test.h"

enum { SIZE = 1024, SECTOR = 256, PROG = 4, SECTORS = SIZE / SECTOR };

static uint8_t g_mem[SIZE];
static uint32_t g_counts[SECTORS];
static tern_norsim_t g_sim;
static tern_flash_t g_flash;
static uint8_t g_model[SIZE]; /* what g_mem must hold */
static uint8_t g_buf[SIZE];

typedef enum { VIA_HAL, VIA_OPS, VIA_COUNT } via_t;

static void open_sim(uint32_t flags, uint32_t endurance, uint64_t seed)
{
    tern_norsim_config_t cfg = { SIZE, SECTOR, PROG, flags, endurance, seed };
    assert_int_equal(tern_norsim_init(&g_sim, &cfg, g_mem, g_counts), TERN_OK);
    tern_norsim_format(&g_sim);
    g_flash = tern_norsim_flash(&g_sim);
    memset(g_model, 0xFF, sizeof g_model);
}

static int setup_plain(void **state)
{
    (void)state;
    open_sim(0, 0, 1);
    return 0;
}

static int setup_once(void **state)
{
    (void)state;
    open_sim(TERN_NORSIM_PROGRAM_ONCE, 0, 1);
    return 0;
}

static tern_err_t prog(via_t via, uint32_t addr, const void *buf, size_t len)
{
    return via == VIA_HAL ? tern_flash_program(&g_flash, addr, buf, len)
                          : g_flash.ops->program(g_flash.ctx, addr, buf, len);
}

static tern_err_t erase(via_t via, uint32_t addr)
{
    return via == VIA_HAL ? tern_flash_erase(&g_flash, addr)
                          : g_flash.ops->erase(g_flash.ctx, addr);
}

static tern_err_t rd(via_t via, uint32_t addr, void *buf, size_t len)
{
    return via == VIA_HAL ? tern_flash_read(&g_flash, addr, buf, len)
                          : g_flash.ops->read(g_flash.ctx, addr, buf, len);
}

/* Program through @p via and expect success, keeping the model in step. */
static void prog_ok(via_t via, uint32_t addr, const uint8_t *data, size_t len)
{
    assert_int_equal(prog(via, addr, data, len), TERN_OK);
    for (size_t i = 0; i < len; i++) {
        g_model[addr + i] &= data[i];
    }
}

static void fill_ok(via_t via, uint32_t addr, uint8_t value, size_t len)
{
    uint8_t data[SECTOR];
    assert_true(len <= sizeof data);
    memset(data, value, len);
    prog_ok(via, addr, data, len);
}

static void erase_ok(via_t via, uint32_t addr)
{
    assert_int_equal(erase(via, addr), TERN_OK);
    memset(g_model + addr, 0xFF, SECTOR);
}

static void check_model(void)
{
    assert_memory_equal(g_mem, g_model, SIZE);
}

/* Bits that differ between @p before and @p after may each have moved; no other bit may. */
static bool between(uint8_t actual, uint8_t before, uint8_t after)
{
    uint8_t fixed = (uint8_t) ~(before ^ after);
    return ((actual ^ before) & fixed) == 0;
}

/* ---------------------------------------------------------------- setup -- */

static void test_init_rejects_bad_config(void **state)
{
    (void)state;
    tern_norsim_t sim;
    const tern_norsim_config_t good = { SIZE, SECTOR, PROG, 0, 0, 0 };
    tern_norsim_config_t bad[6];
    for (size_t i = 0; i < 6; i++) {
        bad[i] = good;
    }
    bad[0].size = 0;
    bad[1].sector_size = 0;
    bad[2].prog_size = 0;
    bad[3].size = SIZE + 1;     /* not a whole number of sectors */
    bad[4].prog_size = 3;       /* does not divide the sector */
    bad[5].flags = 0x80000000u; /* unknown flag */
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(tern_norsim_init(&sim, &bad[i], g_mem, g_counts), TERN_ERR_INVAL);
    }
    assert_int_equal(tern_norsim_init(NULL, &good, g_mem, g_counts), TERN_ERR_INVAL);
    assert_int_equal(tern_norsim_init(&sim, NULL, g_mem, g_counts), TERN_ERR_INVAL);
    assert_int_equal(tern_norsim_init(&sim, &good, NULL, g_counts), TERN_ERR_INVAL);
    assert_int_equal(tern_norsim_init(&sim, &good, g_mem, NULL), TERN_ERR_INVAL);
    assert_int_equal(tern_norsim_init(&sim, &good, g_mem, g_counts), TERN_OK);
}

static void test_init_keeps_memory_format_blanks(void **state)
{
    (void)state;
    tern_norsim_config_t cfg = { SIZE, SECTOR, PROG, 0, 0, 7 };
    memset(g_mem, 0x5A, sizeof g_mem);
    g_counts[1] = 9;
    assert_int_equal(tern_norsim_init(&g_sim, &cfg, g_mem, g_counts), TERN_OK);
    g_flash = tern_norsim_flash(&g_sim);
    /* An image (from a file, or RAM surviving a reboot) keeps its content and wear. */
    assert_int_equal(tern_flash_read(&g_flash, 0, g_buf, SIZE), TERN_OK);
    memset(g_model, 0x5A, sizeof g_model);
    assert_memory_equal(g_buf, g_model, SIZE);
    assert_int_equal(tern_norsim_erase_count(&g_sim, SECTOR), 9);

    erase_ok(VIA_HAL, 0);
    assert_int_equal(tern_norsim_op_count(&g_sim), 1);
    tern_norsim_format(&g_sim);
    memset(g_model, 0xFF, sizeof g_model);
    check_model();
    for (uint32_t s = 0; s < SECTORS; s++) {
        assert_int_equal(tern_norsim_erase_count(&g_sim, s * SECTOR), 0);
    }
    /* Formatting is the factory, not an operation of the device. */
    assert_int_equal(tern_norsim_op_count(&g_sim), 1);
    assert_int_equal(g_sim.erases, 1);
}

static void test_geometry_and_name(void **state)
{
    (void)state;
    tern_flash_geometry_t g = { 0, 0, 0 };
    assert_int_equal(tern_flash_geometry(&g_flash, &g), TERN_OK);
    assert_int_equal(g.size, SIZE);
    assert_int_equal(g.sector_size, SECTOR);
    assert_int_equal(g.prog_size, PROG);
    assert_string_equal(g_flash.ops->name, "norsim");
    assert_true(g_flash.ctx == &g_sim);
    assert_int_equal(tern_flash_selfcheck(&g_flash, 2 * SECTOR), TERN_OK);
}

/* -------------------------------------------------------------- program -- */

static void test_program_clears_bits(void **state)
{
    (void)state;
    static const uint8_t first[8] = { 0xF0, 0xF1, 0x7F, 0xFF, 0x00, 0xAA, 0x55, 0x80 };
    static const uint8_t more[8] = { 0x30, 0x01, 0x0F, 0xFE, 0x00, 0x0A, 0x50, 0x00 };
    for (via_t via = 0; via < VIA_COUNT; via++) {
        open_sim(0, 0, 1);
        prog_ok(via, 16, first, sizeof first);
        check_model();
        prog_ok(via, 16, more, sizeof more); /* clears further bits: allowed */
        assert_memory_equal(g_mem + 16, more, sizeof more);
        check_model();
        assert_int_equal(rd(via, 16, g_buf, sizeof more), TERN_OK);
        assert_memory_equal(g_buf, more, sizeof more);
    }
}

static void test_nor_violation_changes_nothing(void **state)
{
    (void)state;
    uint8_t data[8];
    for (via_t via = 0; via < VIA_COUNT; via++) {
        open_sim(0, 0, 1);
        fill_ok(via, 32, 0x0F, 8);
        uint32_t ops = tern_norsim_op_count(&g_sim);
        uint32_t programs = g_sim.programs;
        /* Seven identical bytes and one that would set bit 4: the whole call is refused. */
        memset(data, 0x0F, sizeof data);
        data[7] = 0x1F;
        assert_int_equal(prog(via, 32, data, sizeof data), TERN_ERR_FLASH_NOR);
        /* Clearing bits in the first unit while setting one in the second: refused too. */
        memset(data, 0x00, sizeof data);
        data[5] = 0x8F;
        assert_int_equal(prog(via, 32, data, sizeof data), TERN_ERR_FLASH_NOR);
        check_model();
        assert_int_equal(tern_norsim_op_count(&g_sim), ops);
        assert_int_equal(g_sim.programs, programs);
    }
}

static void test_reprogram_identical_allowed(void **state)
{
    (void)state;
    static const uint8_t data[4] = { 0x12, 0x34, 0x56, 0x78 };
    for (via_t via = 0; via < VIA_COUNT; via++) {
        open_sim(0, 0, 1);
        prog_ok(via, 100, data, sizeof data);
        prog_ok(via, 100, data, sizeof data);
        check_model();
        assert_int_equal(tern_norsim_op_count(&g_sim), 2);
    }
}

static void test_program_once(void **state)
{
    (void)state;
    static const uint8_t data[4] = { 0x12, 0x34, 0x56, 0x78 };
    static const uint8_t ones[4] = { 0xFF, 0xFF, 0xFF, 0xFF };
    uint8_t two_units[8];
    for (via_t via = 0; via < VIA_COUNT; via++) {
        open_sim(TERN_NORSIM_PROGRAM_ONCE, 0, 1);
        prog_ok(via, 8, data, sizeof data);
        /* The same data again is a second program of the unit: refused on ECC flash. */
        assert_int_equal(prog(via, 8, data, sizeof data), TERN_ERR_FLASH_NOR);
        /* Unit 12 is fresh but unit 8 is not: the call is refused as a whole. */
        memcpy(two_units, data, 4);
        memset(two_units + 4, 0x00, 4);
        assert_int_equal(prog(via, 8, two_units, sizeof two_units), TERN_ERR_FLASH_NOR);
        check_model();
        /* All-0xFF data leaves the unit erased, so it stays programmable. */
        prog_ok(via, 12, ones, sizeof ones);
        prog_ok(via, 12, data, sizeof data);
        check_model();
        erase_ok(via, 0);
        prog_ok(via, 8, data, sizeof data);
        check_model();
    }
}

static void test_program_once_selfcheck(void **state)
{
    (void)state;
    assert_int_equal(tern_flash_selfcheck(&g_flash, SECTOR), TERN_OK);
}

/* ---------------------------------------------------------------- erase -- */

static void test_erase_sets_sector_and_counts(void **state)
{
    (void)state;
    for (via_t via = 0; via < VIA_COUNT; via++) {
        open_sim(0, 0, 1);
        fill_ok(via, 0, 0x11, SECTOR);
        fill_ok(via, SECTOR, 0x00, SECTOR);
        fill_ok(via, 2 * SECTOR, 0x22, SECTOR);
        erase_ok(via, SECTOR);
        check_model(); /* neighbours untouched */
        assert_int_equal(tern_norsim_erase_count(&g_sim, SECTOR), 1);
        assert_int_equal(tern_norsim_erase_count(&g_sim, SECTOR + 17), 1);
        assert_int_equal(tern_norsim_erase_count(&g_sim, 0), 0);
        erase_ok(via, SECTOR);
        erase_ok(via, 3 * SECTOR);
        assert_int_equal(tern_norsim_erase_count(&g_sim, 2 * SECTOR - 1), 2);
        assert_int_equal(tern_norsim_erase_count(&g_sim, SIZE - 1), 1);
        assert_int_equal(tern_norsim_erase_count(&g_sim, SIZE), 0); /* outside: no sector */
        assert_int_equal(g_sim.erases, 3);
        check_model();
    }
}

static void test_endurance(void **state)
{
    (void)state;
    static const uint8_t data[4] = { 0xDE, 0xAD, 0xBE, 0xEF };
    open_sim(0, 3, 1);
    for (int i = 0; i < 3; i++) {
        erase_ok(i % 2 ? VIA_OPS : VIA_HAL, 2 * SECTOR);
    }
    prog_ok(VIA_HAL, 2 * SECTOR, data, sizeof data);
    uint32_t ops = tern_norsim_op_count(&g_sim);
    for (via_t via = 0; via < VIA_COUNT; via++) {
        assert_int_equal(erase(via, 2 * SECTOR), TERN_ERR_WORN_OUT);
    }
    check_model(); /* the worn sector keeps its data */
    assert_int_equal(tern_norsim_erase_count(&g_sim, 2 * SECTOR), 3);
    assert_int_equal(tern_norsim_op_count(&g_sim), ops);
    /* Still readable and programmable; other sectors wear independently. */
    assert_int_equal(tern_flash_read(&g_flash, 2 * SECTOR, g_buf, 4), TERN_OK);
    assert_memory_equal(g_buf, data, 4);
    erase_ok(VIA_HAL, 3 * SECTOR);
    assert_int_equal(tern_norsim_erase_count(&g_sim, 3 * SECTOR), 1);
}

/* ------------------------------------------------------- range and align -- */

static void test_alignment(void **state)
{
    (void)state;
    static const uint8_t data[8] = { 0 };
    for (via_t via = 0; via < VIA_COUNT; via++) {
        open_sim(0, 0, 1);
        assert_int_equal(prog(via, 2, data, 4), TERN_ERR_ALIGN);
        assert_int_equal(prog(via, 4, data, 6), TERN_ERR_ALIGN);
        assert_int_equal(prog(via, 0, data, 2), TERN_ERR_ALIGN);
        assert_int_equal(prog(via, 5, data, 1), TERN_ERR_ALIGN);
        assert_int_equal(erase(via, 4), TERN_ERR_ALIGN);
        assert_int_equal(erase(via, SECTOR + SECTOR / 2), TERN_ERR_ALIGN);
        check_model();
        assert_int_equal(tern_norsim_op_count(&g_sim), 0);
        assert_int_equal(tern_norsim_erase_count(&g_sim, 0), 0);
        /* Reads have no alignment. */
        assert_int_equal(rd(via, 3, g_buf, 5), TERN_OK);
    }
}

static void test_range(void **state)
{
    (void)state;
    static const uint8_t data[8] = { 0 };
    for (via_t via = 0; via < VIA_COUNT; via++) {
        open_sim(0, 0, 1);
        assert_int_equal(prog(via, SIZE, data, 4), TERN_ERR_RANGE);
        assert_int_equal(prog(via, SIZE - 4, data, 8), TERN_ERR_RANGE);
        assert_int_equal(prog(via, 0xFFFFFFFCu, data, 8), TERN_ERR_RANGE); /* would wrap */
        assert_int_equal(rd(via, SIZE - 1, g_buf, 2), TERN_ERR_RANGE);
        assert_int_equal(rd(via, 0xFFFFFFFFu, g_buf, 2), TERN_ERR_RANGE);
        assert_int_equal(erase(via, SIZE), TERN_ERR_RANGE);
        assert_int_equal(erase(via, 0xFFFFFF00u), TERN_ERR_RANGE);
        check_model();
        assert_int_equal(tern_norsim_op_count(&g_sim), 0);
        /* The very end is inside. */
        prog_ok(via, SIZE - 4, data, 4);
        assert_int_equal(rd(via, SIZE - 1, g_buf, 1), TERN_OK);
        assert_int_equal(g_buf[0], 0);
        assert_int_equal(rd(via, SIZE, g_buf, 0), TERN_OK);
        check_model();
    }
}

/* ----------------------------------------------------- counting and cuts -- */

static void test_zero_length_program(void **state)
{
    (void)state;
    static const uint8_t data[4] = { 1, 2, 3, 4 };
    tern_norsim_cut_after(&g_sim, 1, 0);
    for (via_t via = 0; via < VIA_COUNT; via++) {
        assert_int_equal(prog(via, 8, data, 0), TERN_OK);
        assert_int_equal(prog(via, 8, NULL, 0), TERN_OK);
    }
    assert_int_equal(tern_norsim_op_count(&g_sim), 0);
    assert_int_equal(g_sim.programs, 0);
    assert_false(tern_norsim_power_lost(&g_sim));
    /* The armed cut still hits the first real operation. */
    assert_int_equal(prog(VIA_OPS, 8, data, 4), TERN_ERR_POWER_LOST);
    assert_true(tern_norsim_power_lost(&g_sim));
}

static void test_op_counter(void **state)
{
    (void)state;
    static const uint8_t data[4] = { 0x0F, 0x0F, 0x0F, 0x0F };
    static const uint8_t ones[4] = { 0xFF, 0xFF, 0xFF, 0xFF };
    erase_ok(VIA_HAL, 0);
    prog_ok(VIA_OPS, 0, data, 4);
    assert_int_equal(rd(VIA_HAL, 0, g_buf, 4), TERN_OK);
    assert_int_equal(prog(VIA_OPS, 0, ones, 4), TERN_ERR_FLASH_NOR);
    assert_int_equal(prog(VIA_OPS, 2, data, 4), TERN_ERR_ALIGN);
    assert_int_equal(erase(VIA_OPS, SIZE), TERN_ERR_RANGE);
    assert_int_equal(tern_norsim_op_count(&g_sim), 2);
    assert_int_equal(g_sim.programs, 1);
    assert_int_equal(g_sim.erases, 1);
    assert_int_equal(g_sim.reads, 1);

    /* cut_after counts from now: 2 ops done, so the cut hits the 4th overall. */
    tern_norsim_cut_after(&g_sim, 2, 0);
    erase_ok(VIA_HAL, SECTOR);
    assert_int_equal(tern_norsim_op_count(&g_sim), 3);
    assert_int_equal(erase(VIA_HAL, 2 * SECTOR), TERN_ERR_POWER_LOST);
    assert_int_equal(tern_norsim_op_count(&g_sim), 4);

    tern_norsim_reboot(&g_sim);
    assert_int_equal(tern_norsim_op_count(&g_sim), 0);
    /* Lifetime statistics survive the reboot; the torn erase counts. */
    assert_int_equal(g_sim.erases, 3);
    assert_int_equal(g_sim.programs, 1);

    /* Arming then disarming: nothing is cut. */
    tern_norsim_cut_after(&g_sim, 1, 0);
    tern_norsim_cut_after(&g_sim, 0, 0);
    erase_ok(VIA_OPS, 2 * SECTOR);
    erase_ok(VIA_OPS, 2 * SECTOR);
    assert_false(tern_norsim_power_lost(&g_sim));
    assert_int_equal(tern_norsim_op_count(&g_sim), 2);
}

static void check_all_fail(void)
{
    static const uint8_t data[4] = { 0, 0, 0, 0 };
    for (via_t via = 0; via < VIA_COUNT; via++) {
        assert_int_equal(rd(via, 0, g_buf, 4), TERN_ERR_POWER_LOST);
        assert_int_equal(prog(via, 512, data, 4), TERN_ERR_POWER_LOST);
        assert_int_equal(erase(via, 3 * SECTOR), TERN_ERR_POWER_LOST);
    }
    assert_true(tern_norsim_power_lost(&g_sim));
}

static void test_cut_program_fixed_tear(void **state)
{
    (void)state;
    uint8_t data[16];
    for (size_t i = 0; i < sizeof data; i++) {
        data[i] = (uint8_t)(0x5A ^ (i * 17u));
    }
    for (via_t via = 0; via < VIA_COUNT; via++) {
        open_sim(0, 0, 3);
        erase_ok(via, 0);
        fill_ok(via, 0, 0xC3, 16);
        tern_norsim_cut_after(&g_sim, 2, 5);
        fill_ok(via, 64, 0x81, 8); /* op 3 lands in full */
        assert_int_equal(prog(via, 128, data, sizeof data), TERN_ERR_POWER_LOST);
        assert_true(tern_norsim_power_lost(&g_sim));
        assert_int_equal(tern_norsim_op_count(&g_sim), 4);

        /* Exactly 5 bytes landed, byte 5 moved only towards its target, the rest did not move. */
        assert_memory_equal(g_mem + 128, data, 5);
        assert_true(between(g_mem[133], 0xFF, data[5]));
        memcpy(g_model + 128, data, 5);
        g_model[133] = g_mem[133];
        check_model();

        check_all_fail();
        check_model();
        assert_int_equal(tern_norsim_op_count(&g_sim), 4);

        tern_norsim_reboot(&g_sim);
        assert_false(tern_norsim_power_lost(&g_sim));
        assert_int_equal(tern_norsim_op_count(&g_sim), 0);
        assert_int_equal(rd(via, 0, g_buf, SIZE), TERN_OK);
        assert_memory_equal(g_buf, g_model, SIZE);
        /* A torn program can be finished by programming the same data again. */
        prog_ok(via, 128, data, sizeof data);
        assert_memory_equal(g_mem + 128, data, sizeof data);
        check_model();
    }
}

static void test_cut_erase_fixed_tear(void **state)
{
    (void)state;
    for (via_t via = 0; via < VIA_COUNT; via++) {
        open_sim(0, 0, 5);
        fill_ok(via, SECTOR, 0xA0, SECTOR);
        uint32_t erases = g_sim.erases;
        tern_norsim_cut_after(&g_sim, 1, 10);
        assert_int_equal(erase(via, SECTOR), TERN_ERR_POWER_LOST);
        for (uint32_t i = 0; i < 10; i++) {
            assert_int_equal(g_mem[SECTOR + i], 0xFF);
        }
        assert_true(between(g_mem[SECTOR + 10], 0xA0, 0xFF));
        memset(g_model + SECTOR, 0xFF, 10);
        g_model[SECTOR + 10] = g_mem[SECTOR + 10];
        check_model(); /* bytes 11.. of the sector still hold 0xA0 */
        /* A torn erase wore the sector all the same. */
        assert_int_equal(tern_norsim_erase_count(&g_sim, SECTOR), 1);
        assert_int_equal(g_sim.erases, erases + 1);
        check_all_fail();
        tern_norsim_reboot(&g_sim);
        erase_ok(via, SECTOR);
        check_model();
        assert_int_equal(tern_norsim_erase_count(&g_sim, SECTOR), 2);
    }
}

static void test_cut_tear_extremes(void **state)
{
    (void)state;
    static const uint8_t data[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
    /* Tear 0: nothing lands but a random part of the first byte. */
    open_sim(0, 0, 11);
    tern_norsim_cut_after(&g_sim, 1, 0);
    assert_int_equal(prog(VIA_HAL, 8, data, 8), TERN_ERR_POWER_LOST);
    g_model[8] = g_mem[8];
    check_model();

    /* Tear beyond the length: everything lands, power is lost all the same. */
    open_sim(0, 0, 11);
    tern_norsim_cut_after(&g_sim, 1, 1000);
    assert_int_equal(prog(VIA_OPS, 8, data, 8), TERN_ERR_POWER_LOST);
    memset(g_model + 8, 0, 8);
    check_model();
    check_all_fail();

    open_sim(0, 0, 11);
    fill_ok(VIA_HAL, 0, 0x00, SECTOR);
    tern_norsim_cut_after(&g_sim, 1, SECTOR);
    assert_int_equal(erase(VIA_HAL, 0), TERN_ERR_POWER_LOST);
    memset(g_model, 0xFF, SECTOR);
    check_model();
}

static uint32_t erased_prefix(const uint8_t *img)
{
    uint32_t p = 0;
    while (p < SECTOR && img[p] == 0xFF) {
        p++;
    }
    return p;
}

/* Zero a sector, then tear its erase with a random length under @p seed. */
static void torn_random_erase(uint64_t seed, uint8_t *out)
{
    open_sim(0, 0, seed);
    fill_ok(VIA_HAL, 0, 0x00, SECTOR);
    tern_norsim_cut_after(&g_sim, 1, TERN_NORSIM_TEAR_RANDOM);
    assert_int_equal(erase(VIA_HAL, 0), TERN_ERR_POWER_LOST);
    memcpy(out, g_mem, SECTOR);
    /* Whatever the length drawn: an 0xFF prefix, at most one other byte, then 0x00. */
    for (uint32_t i = erased_prefix(out) + 1; i < SECTOR; i++) {
        assert_int_equal(out[i], 0x00);
    }
}

static void test_random_tear_deterministic(void **state)
{
    (void)state;
    static uint8_t a[SECTOR], b[SECTOR];
    torn_random_erase(42, a);
    torn_random_erase(42, b);
    assert_memory_equal(a, b, SECTOR);

    /* Different seeds tear at different places: the length really is drawn. */
    uint32_t lo = SECTOR, hi = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        torn_random_erase(seed, a);
        uint32_t p = erased_prefix(a);
        lo = p < lo ? p : lo;
        hi = p > hi ? p : hi;
    }
    assert_true(hi > lo);

    /* A random tear of a program: a prefix of the data, one partial byte, then untouched. */
    static uint8_t data[64];
    for (size_t i = 0; i < sizeof data; i++) {
        data[i] = (uint8_t) ~(i | 0x80u);
    }
    open_sim(0, 0, 99);
    tern_norsim_cut_after(&g_sim, 1, TERN_NORSIM_TEAR_RANDOM);
    assert_int_equal(prog(VIA_OPS, 64, data, sizeof data), TERN_ERR_POWER_LOST);
    uint32_t p = 0;
    while (p < sizeof data && g_mem[64 + p] == data[p]) {
        p++;
    }
    if (p < sizeof data) {
        assert_true(between(g_mem[64 + p], 0xFF, data[p]));
        g_model[64 + p] = g_mem[64 + p];
    }
    memcpy(g_model + 64, data, p);
    check_model();
}

static void test_partial_byte_direction(void **state)
{
    (void)state;
    static const uint8_t zeros[8] = { 0 };
    bool prog_some = false, erase_some = false;
    for (uint64_t seed = 1; seed <= 64; seed++) {
        /* Program 0x00 over 0xF0: the torn byte may only lose bits of 0xF0. */
        open_sim(0, 0, seed);
        fill_ok(VIA_HAL, 0, 0xF0, 8);
        tern_norsim_cut_after(&g_sim, 1, 3);
        assert_int_equal(prog(VIA_HAL, 0, zeros, 8), TERN_ERR_POWER_LOST);
        uint8_t b = g_mem[3];
        assert_int_equal(b & 0x0F, 0);
        assert_true(between(b, 0xF0, 0x00));
        prog_some = prog_some || (b != 0xF0 && b != 0x00);
        assert_memory_equal(g_mem, zeros, 3);
        assert_int_equal(g_mem[4], 0xF0);

        /* Erase over 0x0F: the torn byte may only gain bits of 0xF0. */
        open_sim(0, 0, seed);
        fill_ok(VIA_HAL, 0, 0x0F, SECTOR);
        tern_norsim_cut_after(&g_sim, 1, 3);
        assert_int_equal(erase(VIA_OPS, 0), TERN_ERR_POWER_LOST);
        b = g_mem[3];
        assert_int_equal(b & 0x0F, 0x0F);
        erase_some = erase_some || (b != 0x0F && b != 0xFF);
        assert_int_equal(g_mem[2], 0xFF);
        assert_int_equal(g_mem[4], 0x0F);
    }
    /* The subset is really random: some seed lands part of the bits. */
    assert_true(prog_some);
    assert_true(erase_some);
}

static void test_reboot_keeps_memory_and_wear(void **state)
{
    (void)state;
    erase_ok(VIA_HAL, SECTOR);
    fill_ok(VIA_HAL, SECTOR, 0x3C, 16);
    tern_norsim_reboot(&g_sim); /* a reboot without a cut */
    check_model();
    assert_int_equal(tern_norsim_erase_count(&g_sim, SECTOR), 1);
    assert_int_equal(tern_flash_read(&g_flash, SECTOR, g_buf, 16), TERN_OK);
    assert_memory_equal(g_buf, g_model + SECTOR, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects_bad_config),
        cmocka_unit_test(test_init_keeps_memory_format_blanks),
        cmocka_unit_test_setup_teardown(test_geometry_and_name, setup_plain, NULL),
        cmocka_unit_test(test_program_clears_bits),
        cmocka_unit_test(test_nor_violation_changes_nothing),
        cmocka_unit_test(test_reprogram_identical_allowed),
        cmocka_unit_test(test_program_once),
        cmocka_unit_test_setup_teardown(test_program_once_selfcheck, setup_once, NULL),
        cmocka_unit_test(test_erase_sets_sector_and_counts),
        cmocka_unit_test(test_endurance),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_range),
        cmocka_unit_test_setup_teardown(test_zero_length_program, setup_plain, NULL),
        cmocka_unit_test_setup_teardown(test_op_counter, setup_plain, NULL),
        cmocka_unit_test(test_cut_program_fixed_tear),
        cmocka_unit_test(test_cut_erase_fixed_tear),
        cmocka_unit_test(test_cut_tear_extremes),
        cmocka_unit_test(test_random_tear_deterministic),
        cmocka_unit_test(test_partial_byte_direction),
        cmocka_unit_test_setup_teardown(test_reboot_keeps_memory_and_wear, setup_plain, NULL),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
