/* SPDX-License-Identifier: Apache-2.0 */
/* SPI double: MOSI recorded per chip select, MISO from a script, 0xFF when empty. */
#include <stdint.h>
#include <string.h>

#include "tern/hal.h"
#include "tern/port/posix.h"

#include "tern_test.h"

static tern_posix_spi_t g_bus;
static tern_spi_t g_hal;
static tern_posix_spi_dev_t g_flash, g_radio;
static uint8_t g_mosi0[16], g_miso0[8], g_mosi2[4], g_miso2[4];

static int setup(void **state)
{
    (void)state;
    tern_posix_spi_init(&g_bus);
    g_hal = tern_posix_spi_hal(&g_bus);
    if (tern_posix_spi_dev_init(&g_flash, g_mosi0, sizeof g_mosi0, g_miso0, sizeof g_miso0) ||
        tern_posix_spi_dev_init(&g_radio, g_mosi2, sizeof g_mosi2, g_miso2, sizeof g_miso2) ||
        tern_posix_spi_attach(&g_bus, 0, &g_flash) || tern_posix_spi_attach(&g_bus, 2, &g_radio)) {
        return -1;
    }
    return 0;
}

static void test_records_and_answers(void **state)
{
    (void)state;
    static const uint8_t cmd[4] = { 0x9F, 0x00, 0x00, 0x00 }; /* JEDEC ID */
    static const uint8_t id[3] = { 0xEF, 0x40, 0x18 };
    uint8_t rx[4], out[16];
    assert_string_equal(g_hal.ops->name, "posix-spi");
    assert_int_equal(tern_posix_spi_dev_script(&g_flash, (const uint8_t[]){ 0xFF }, 1), TERN_OK);
    assert_int_equal(tern_posix_spi_dev_script(&g_flash, id, sizeof id), TERN_OK);
    assert_int_equal(tern_spi_transfer(&g_hal, 0, cmd, rx, sizeof cmd), TERN_OK);
    static const uint8_t want[4] = { 0xFF, 0xEF, 0x40, 0x18 };
    assert_memory_equal(rx, want, sizeof rx);
    assert_int_equal(tern_posix_spi_dev_take(&g_flash, out, sizeof out), sizeof cmd);
    assert_memory_equal(out, cmd, sizeof cmd);
    assert_int_equal(tern_posix_spi_dev_take(&g_flash, out, sizeof out), 0);
    assert_int_equal(tern_posix_spi_dev_transfers(&g_flash), 1);
    /* Nothing reached the other chip select. */
    assert_int_equal(tern_posix_spi_dev_take(&g_radio, out, sizeof out), 0);
    assert_int_equal(tern_posix_spi_dev_transfers(&g_radio), 0);
}

static void test_empty_script_and_null_buffers(void **state)
{
    (void)state;
    uint8_t rx[3] = { 0, 0, 0 }, out[4];
    assert_int_equal(tern_posix_spi_dev_script(&g_radio, (const uint8_t[]){ 0x42 }, 1), TERN_OK);
    /* tx NULL clocks out 0xFF; the script runs dry after one byte and MISO idles high. */
    assert_int_equal(tern_spi_transfer(&g_hal, 2, NULL, rx, sizeof rx), TERN_OK);
    static const uint8_t want_rx[3] = { 0x42, 0xFF, 0xFF };
    assert_memory_equal(rx, want_rx, sizeof rx);
    assert_int_equal(tern_posix_spi_dev_take(&g_radio, out, sizeof out), 3);
    static const uint8_t want_mosi[3] = { 0xFF, 0xFF, 0xFF };
    assert_memory_equal(out, want_mosi, 3);
    /* rx NULL discards the answer but still consumes the script. */
    assert_int_equal(tern_posix_spi_dev_script(&g_radio, (const uint8_t[]){ 1, 2 }, 2), TERN_OK);
    assert_int_equal(tern_spi_transfer(&g_hal, 2, (const uint8_t[]){ 7 }, NULL, 1), TERN_OK);
    assert_int_equal(tern_spi_transfer(&g_hal, 2, (const uint8_t[]){ 8 }, rx, 1), TERN_OK);
    assert_int_equal(rx[0], 2);
}

static void test_in_place_full_duplex(void **state)
{
    (void)state;
    uint8_t buf[3] = { 0xA1, 0xA2, 0xA3 }, out[3];
    assert_int_equal(tern_posix_spi_dev_script(&g_flash, (const uint8_t[]){ 0x11, 0x22, 0x33 }, 3),
                     TERN_OK);
    assert_int_equal(tern_spi_transfer(&g_hal, 0, buf, buf, sizeof buf), TERN_OK);
    static const uint8_t want_rx[3] = { 0x11, 0x22, 0x33 }, want_tx[3] = { 0xA1, 0xA2, 0xA3 };
    assert_memory_equal(buf, want_rx, 3);
    assert_int_equal(tern_posix_spi_dev_take(&g_flash, out, 3), 3);
    assert_memory_equal(out, want_tx, 3);
}

static void test_limits(void **state)
{
    (void)state;
    uint8_t tx[5] = { 1, 2, 3, 4, 5 }, rx[5];
    /* The record is never silently truncated: an overflowing transfer fails whole. */
    assert_int_equal(tern_spi_transfer(&g_hal, 2, tx, rx, 5), TERN_ERR_FULL);
    assert_int_equal(tern_posix_spi_dev_transfers(&g_radio), 0);
    assert_int_equal(tern_posix_spi_dev_take(&g_radio, rx, 5), 0);
    assert_int_equal(tern_posix_spi_dev_script(&g_radio, tx, 5), TERN_ERR_FULL);
    /* A chip select without a device: the bus floats high. */
    memset(rx, 0, sizeof rx);
    assert_int_equal(tern_spi_transfer(&g_hal, 1, tx, rx, 5), TERN_OK);
    static const uint8_t ff[5] = { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
    assert_memory_equal(rx, ff, 5);
    assert_int_equal(tern_spi_transfer(&g_hal, TERN_POSIX_SPI_MAX_CS, tx, rx, 5), TERN_ERR_RANGE);
    assert_int_equal(tern_posix_spi_attach(&g_bus, TERN_POSIX_SPI_MAX_CS, &g_radio),
                     TERN_ERR_RANGE);
    /* Detaching makes the chip select empty. */
    assert_int_equal(tern_posix_spi_attach(&g_bus, 0, NULL), TERN_OK);
    assert_int_equal(tern_spi_transfer(&g_hal, 0, tx, rx, 2), TERN_OK);
    assert_int_equal(tern_posix_spi_dev_transfers(&g_flash), 0);
    tern_posix_spi_dev_t bad;
    assert_int_equal(tern_posix_spi_dev_init(&bad, NULL, 4, rx, 4), TERN_ERR_INVAL);
    assert_int_equal(tern_posix_spi_dev_init(&bad, rx, 4, rx, 0), TERN_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_records_and_answers, setup, NULL),
        cmocka_unit_test_setup_teardown(test_empty_script_and_null_buffers, setup, NULL),
        cmocka_unit_test_setup_teardown(test_in_place_full_duplex, setup, NULL),
        cmocka_unit_test_setup_teardown(test_limits, setup, NULL),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
