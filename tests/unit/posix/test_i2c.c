/* SPDX-License-Identifier: Apache-2.0 */
/* I2C double: register pointer and auto-increment, NACK, attach/detach, the transfer log. */
#include <stdint.h>
#include <string.h>

#include "tern/hal.h"
#include "tern/port/posix.h"

#include "tern_test.h"

static tern_posix_i2c_t g_bus;
static tern_i2c_t g_hal;
static tern_posix_i2c_dev_t g_sensor, g_eeprom;
static tern_posix_i2c_log_entry_t g_log[4];

static int setup(void **state)
{
    (void)state;
    tern_posix_i2c_init(&g_bus);
    g_hal = tern_posix_i2c_hal(&g_bus);
    tern_posix_i2c_dev_init(&g_sensor, 0x48);
    tern_posix_i2c_dev_init(&g_eeprom, 0x50);
    tern_posix_i2c_log_attach(&g_bus, g_log, 4);
    if (tern_posix_i2c_attach(&g_bus, &g_sensor) != TERN_OK ||
        tern_posix_i2c_attach(&g_bus, &g_eeprom) != TERN_OK) {
        return -1;
    }
    return 0;
}

static void test_write_then_read_registers(void **state)
{
    (void)state;
    static const uint8_t wr[] = { 0x10, 0xAA, 0xBB, 0xCC };
    assert_string_equal(g_hal.ops->name, "posix-i2c");
    assert_int_equal(tern_i2c_transfer(&g_hal, 0x48, wr, sizeof wr, NULL, 0), TERN_OK);
    assert_int_equal(g_sensor.regs[0x10], 0xAA);
    assert_int_equal(g_sensor.regs[0x11], 0xBB);
    assert_int_equal(g_sensor.regs[0x12], 0xCC);
    assert_int_equal(g_sensor.regs[0x13], 0x00);
    assert_int_equal(g_sensor.ptr, 0x13);

    /* Write the register address, repeated start, read with auto-increment. */
    uint8_t reg = 0x11, rx[3] = { 0 };
    assert_int_equal(tern_i2c_transfer(&g_hal, 0x48, &reg, 1, rx, sizeof rx), TERN_OK);
    static const uint8_t want[] = { 0xBB, 0xCC, 0x00 };
    assert_memory_equal(rx, want, sizeof rx);
    /* A read with no write continues from the pointer. */
    g_sensor.regs[0x14] = 0x5A;
    assert_int_equal(tern_i2c_transfer(&g_hal, 0x48, NULL, 0, rx, 1), TERN_OK);
    assert_int_equal(rx[0], 0x5A);
    /* Devices are independent. */
    assert_int_equal(g_eeprom.regs[0x10], 0x00);
}

static void test_pointer_wraps(void **state)
{
    (void)state;
    static const uint8_t wr[] = { 0xFF, 1, 2 };
    assert_int_equal(tern_i2c_transfer(&g_hal, 0x50, wr, sizeof wr, NULL, 0), TERN_OK);
    assert_int_equal(g_eeprom.regs[0xFF], 1);
    assert_int_equal(g_eeprom.regs[0x00], 2);
    assert_int_equal(g_eeprom.ptr, 1);
}

static void test_absent_address_nacks(void **state)
{
    (void)state;
    static const uint8_t wr[] = { 0x00, 0x77 };
    uint8_t rx = 0x33;
    assert_int_equal(tern_i2c_transfer(&g_hal, 0x49, wr, sizeof wr, &rx, 1), TERN_ERR_NACK);
    assert_int_equal(rx, 0x33);
    assert_int_equal(tern_i2c_transfer(&g_hal, 0x48, NULL, 0, NULL, 0), TERN_OK); /* probe */
    assert_int_equal(tern_i2c_transfer(&g_hal, 0x10, NULL, 0, NULL, 0), TERN_ERR_NACK);
    assert_int_equal(g_hal.ops->transfer(g_hal.ctx, 0x80, NULL, 0, NULL, 0), TERN_ERR_INVAL);
}

static void test_attach_detach(void **state)
{
    (void)state;
    tern_posix_i2c_dev_t clash, bad;
    tern_posix_i2c_dev_init(&clash, 0x48);
    tern_posix_i2c_dev_init(&bad, 0x90);
    assert_int_equal(tern_posix_i2c_attach(&g_bus, &clash), TERN_ERR_BUSY);
    assert_int_equal(tern_posix_i2c_attach(&g_bus, &bad), TERN_ERR_INVAL);
    assert_int_equal(tern_posix_i2c_detach(&g_bus, &g_sensor), TERN_OK);
    assert_int_equal(tern_posix_i2c_detach(&g_bus, &g_sensor), TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_i2c_transfer(&g_hal, 0x48, NULL, 0, NULL, 0), TERN_ERR_NACK);
    assert_int_equal(tern_i2c_transfer(&g_hal, 0x50, NULL, 0, NULL, 0), TERN_OK);
    assert_int_equal(tern_posix_i2c_attach(&g_bus, &clash),
                     TERN_OK); /* the address is free again */
    assert_int_equal(tern_i2c_transfer(&g_hal, 0x48, NULL, 0, NULL, 0), TERN_OK);
}

static void test_log(void **state)
{
    (void)state;
    static const uint8_t wr[10] = { 0x20, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    uint8_t rx[2];
    assert_int_equal(tern_i2c_transfer(&g_hal, 0x50, wr, sizeof wr, NULL, 0), TERN_OK);
    assert_int_equal(tern_i2c_transfer(&g_hal, 0x48, wr, 1, rx, 2), TERN_OK);
    assert_int_equal(tern_i2c_transfer(&g_hal, 0x33, wr, 2, NULL, 0), TERN_ERR_NACK);
    assert_int_equal(tern_posix_i2c_transfers(&g_bus), 3);

    const tern_posix_i2c_log_entry_t *e = tern_posix_i2c_log_get(&g_bus, 0);
    assert_non_null(e);
    assert_int_equal(e->addr7, 0x50);
    assert_int_equal(e->result, TERN_OK);
    assert_int_equal(e->tx_len, 10);
    assert_int_equal(e->rx_len, 0);
    assert_memory_equal(e->tx, wr, TERN_POSIX_I2C_LOG_BYTES); /* the first bytes only */
    e = tern_posix_i2c_log_get(&g_bus, 1);
    assert_non_null(e);
    assert_int_equal(e->addr7, 0x48);
    assert_int_equal(e->tx_len, 1);
    assert_int_equal(e->rx_len, 2);
    e = tern_posix_i2c_log_get(&g_bus, 2);
    assert_non_null(e);
    assert_int_equal(e->result, TERN_ERR_NACK);
    assert_null(tern_posix_i2c_log_get(&g_bus, 3));

    /* Past the log's capacity transfers are still counted. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tern_i2c_transfer(&g_hal, 0x48, NULL, 0, NULL, 0), TERN_OK);
    }
    assert_int_equal(tern_posix_i2c_transfers(&g_bus), 6);
    assert_non_null(tern_posix_i2c_log_get(&g_bus, 3));
    assert_null(tern_posix_i2c_log_get(&g_bus, 4));
    tern_posix_i2c_log_clear(&g_bus);
    assert_int_equal(tern_posix_i2c_transfers(&g_bus), 0);
    assert_null(tern_posix_i2c_log_get(&g_bus, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_then_read_registers, setup, NULL),
        cmocka_unit_test_setup_teardown(test_pointer_wraps, setup, NULL),
        cmocka_unit_test_setup_teardown(test_absent_address_nacks, setup, NULL),
        cmocka_unit_test_setup_teardown(test_attach_detach, setup, NULL),
        cmocka_unit_test_setup_teardown(test_log, setup, NULL),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
