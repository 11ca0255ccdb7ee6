/* SPDX-License-Identifier: Apache-2.0 */
/* The board's flash (RAM driven by tern_norsim) through the HAL: geometry and NOR rules. */
#include <string.h>

#include "cm_test.h"

#define SECTOR TERN_CM_FLASH_SECTOR_SIZE

static void test_geometry(void **state)
{
    (void)state;
    tern_flash_geometry_t g;
    assert_int_equal(tern_flash_geometry(&cm_hal.flash, &g), TERN_OK);
    assert_int_equal(g.size, 64 * 1024);
    assert_int_equal(g.sector_size, 4096);
    assert_int_equal(g.prog_size, 4);
}

static void test_cold_boot_is_erased(void **state)
{
    (void)state;
    uint8_t buf[64], ff[64];
    memset(ff, 0xFF, sizeof ff);
    for (uint32_t addr = 0; addr < TERN_CM_FLASH_SIZE; addr += SECTOR) {
        assert_int_equal(
            tern_flash_read(&cm_hal.flash, addr + SECTOR - sizeof buf, buf, sizeof buf), TERN_OK);
        assert_memory_equal(buf, ff, sizeof buf);
    }
}

static void test_program_only_clears_bits(void **state)
{
    (void)state;
    const uint8_t first[4] = { 0xF0, 0x0F, 0xAA, 0xFF };
    const uint8_t again[4] = { 0xF0, 0x0F, 0x22, 0x7F }; /* clears more bits: fine */
    const uint8_t set[4] = { 0xF1, 0x0F, 0x22, 0x7F };   /* would set bit 0 of byte 0 */
    uint8_t got[4];

    assert_int_equal(tern_flash_erase(&cm_hal.flash, SECTOR), TERN_OK);
    assert_int_equal(tern_flash_program(&cm_hal.flash, SECTOR + 8, first, 4), TERN_OK);
    assert_int_equal(tern_flash_program(&cm_hal.flash, SECTOR + 8, again, 4), TERN_OK);
    assert_int_equal(tern_flash_read(&cm_hal.flash, SECTOR + 8, got, 4), TERN_OK);
    assert_memory_equal(got, again, 4);

    assert_int_equal(tern_flash_program(&cm_hal.flash, SECTOR + 8, set, 4), TERN_ERR_FLASH_NOR);
    assert_int_equal(tern_flash_read(&cm_hal.flash, SECTOR + 8, got, 4), TERN_OK);
    assert_memory_equal(got, again, 4);

    assert_int_equal(tern_flash_erase(&cm_hal.flash, SECTOR), TERN_OK);
    assert_int_equal(tern_flash_read(&cm_hal.flash, SECTOR + 8, got, 4), TERN_OK);
    assert_memory_equal(got, "\xFF\xFF\xFF\xFF", 4);
}

static void test_alignment_and_range(void **state)
{
    (void)state;
    const uint8_t data[8] = { 0 };
    uint8_t buf[4];
    assert_int_equal(tern_flash_program(&cm_hal.flash, 2, data, 4), TERN_ERR_ALIGN);
    assert_int_equal(tern_flash_program(&cm_hal.flash, 0, data, 6), TERN_ERR_ALIGN);
    assert_int_equal(tern_flash_erase(&cm_hal.flash, SECTOR + 4), TERN_ERR_ALIGN);
    assert_int_equal(tern_flash_program(&cm_hal.flash, TERN_CM_FLASH_SIZE - 4, data, 8),
                     TERN_ERR_RANGE);
    assert_int_equal(tern_flash_read(&cm_hal.flash, TERN_CM_FLASH_SIZE, buf, 1), TERN_ERR_RANGE);
    assert_int_equal(tern_flash_erase(&cm_hal.flash, TERN_CM_FLASH_SIZE), TERN_ERR_RANGE);
}

static void test_selfcheck_every_sector(void **state)
{
    (void)state;
    for (uint32_t addr = 0; addr < TERN_CM_FLASH_SIZE; addr += SECTOR) {
        assert_int_equal(tern_flash_selfcheck(&cm_hal.flash, addr), TERN_OK);
    }
}

static void test_partition_maps_onto_the_chip(void **state)
{
    (void)state;
    tern_flash_part_t part;
    tern_flash_t slot;
    const uint8_t data[4] = { 1, 2, 3, 4 };
    uint8_t got[4];

    assert_int_equal(tern_flash_partition(&cm_hal.flash, 4 * SECTOR, 2 * SECTOR, &part, &slot),
                     TERN_OK);
    assert_int_equal(tern_flash_erase(&slot, SECTOR), TERN_OK);
    assert_int_equal(tern_flash_program(&slot, SECTOR + 16, data, 4), TERN_OK);
    assert_int_equal(tern_flash_read(&cm_hal.flash, 5 * SECTOR + 16, got, 4), TERN_OK);
    assert_memory_equal(got, data, 4);
    assert_int_equal(tern_flash_erase(&slot, 2 * SECTOR), TERN_ERR_RANGE);
}

static void test_power_cut(void **state)
{
    (void)state;
    tern_norsim_t *sim = tern_cm_flash_sim();
    const uint8_t data[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
    uint8_t got[8];

    assert_non_null(sim);
    assert_int_equal(tern_flash_erase(&cm_hal.flash, 0), TERN_OK);
    tern_norsim_cut_after(sim, 1, 4); /* the next program lands its first 4 bytes only */
    assert_int_equal(tern_flash_program(&cm_hal.flash, 0, data, 8), TERN_ERR_POWER_LOST);
    assert_int_equal(tern_flash_read(&cm_hal.flash, 0, got, 8), TERN_ERR_POWER_LOST);
    tern_norsim_reboot(sim);
    assert_int_equal(tern_flash_read(&cm_hal.flash, 0, got, 8), TERN_OK);
    assert_memory_equal(got, data, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geometry),
        cmocka_unit_test(test_cold_boot_is_erased),
        cmocka_unit_test(test_program_only_clears_bits),
        cmocka_unit_test(test_alignment_and_range),
        cmocka_unit_test(test_selfcheck_every_sector),
        cmocka_unit_test(test_partition_maps_onto_the_chip),
        cmocka_unit_test(test_power_cut),
    };
    return cmocka_run_group_tests(tests, cm_board_setup, NULL);
}
