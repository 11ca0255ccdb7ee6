/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The board: one of each double behind a tern_hal_t, as the demo and the fleet simulator build
 * devices.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tern/hal.h"
#include "tern/port/posix.h"

#include "tern_test.h"

static void count_port(void *arg, const char *member, const char *port)
{
    (void)member;
    *(size_t *)arg += port != NULL;
}

/* How many of the ten HAL members the board filled. */
static size_t count_present(const tern_hal_t *hal)
{
    size_t present = 0;
    assert_int_equal(tern_hal_describe(hal, count_port, &present), 10);
    return present;
}

static void test_default_board_is_complete(void **state)
{
    (void)state;
    tern_posix_board_config_t cfg;
    tern_posix_board_config_default(&cfg);
    tern_posix_board_t b;
    assert_int_equal(tern_posix_board_open(&b, &cfg), TERN_OK);
    const tern_hal_t *hal = tern_posix_board_hal(&b);
    assert_int_equal(count_present(hal), 10);
    assert_string_equal(hal->clock.ops->name, "posix");
    assert_string_equal(hal->rng.ops->name, "getrandom");
    assert_string_equal(hal->flash.ops->name, "norsim");
    assert_true(tern_clock_wall(&hal->clock).known);
    assert_int_equal(tern_reset_reason(&hal->reset), TERN_RESET_POWER_ON);
    tern_flash_geometry_t g;
    assert_int_equal(tern_flash_geometry(&hal->flash, &g), TERN_OK);
    assert_int_equal(g.size, 64 * 1024);
    assert_int_equal(tern_flash_selfcheck(&hal->flash, g.size - g.sector_size), TERN_OK);
    uint32_t r1 = 0, r2 = 0;
    assert_int_equal(tern_rng_fill(&hal->rng, &r1, sizeof r1), TERN_OK);
    assert_int_equal(tern_rng_fill(&hal->rng, &r2, sizeof r2), TERN_OK);
    assert_true(r1 != r2); /* equal with probability 2^-32 */
    uint32_t st = tern_critical_enter(&hal->critical);
    assert_int_equal(tern_posix_critical_depth(&b.critical), 1);
    tern_critical_exit(&hal->critical, st);
    tern_posix_board_close(&b);
}

static void test_doubles_reachable_from_test(void **state)
{
    (void)state;
    tern_posix_board_config_t cfg;
    tern_posix_board_config_default(&cfg);
    cfg.clock = TERN_POSIX_CLOCK_VIRTUAL;
    cfg.clock_start_ms = 77;
    cfg.reset_reason = TERN_RESET_PIN;
    cfg.uart_tx_cap = 4;
    cfg.uart_rx_cap = 2;
    tern_posix_board_t b;
    assert_int_equal(tern_posix_board_open(&b, &cfg), TERN_OK);
    const tern_hal_t *hal = tern_posix_board_hal(&b);

    assert_int_equal(tern_clock_now(&hal->clock), 77);
    assert_false(tern_clock_wall(&hal->clock).known);
    tern_posix_vclock_advance(&b.clock.virt, 23);
    assert_int_equal(tern_clock_now(&hal->clock), 100);
    /* The board's watchdog runs on the board's clock. */
    assert_int_equal(tern_watchdog_start(&hal->watchdog, 10), TERN_OK);
    tern_posix_vclock_advance(&b.clock.virt, 9);
    assert_false(tern_posix_watchdog_expired(&b.watchdog));
    tern_posix_vclock_advance(&b.clock.virt, 1);
    assert_true(tern_posix_watchdog_expired(&b.watchdog));

    assert_int_equal(tern_gpio_configure(&hal->gpio, 15, TERN_GPIO_INPUT_PULLUP), TERN_OK);
    bool level = false;
    assert_int_equal(tern_gpio_read(&hal->gpio, 15, &level), TERN_OK);
    assert_true(level);
    assert_int_equal(tern_gpio_configure(&hal->gpio, 16, TERN_GPIO_OUTPUT), TERN_ERR_RANGE);

    size_t n;
    assert_int_equal(tern_uart_write(&hal->uart, "abcdef", 6, &n), TERN_OK);
    assert_int_equal(n, 4);
    assert_int_equal(tern_posix_uart_inject(&b.uart, "xyz", 3), 2);

    tern_posix_i2c_dev_t dev;
    tern_posix_i2c_dev_init(&dev, 0x68);
    dev.regs[0x75] = 0x71;
    assert_int_equal(tern_i2c_transfer(&hal->i2c, 0x68, NULL, 0, NULL, 0), TERN_ERR_NACK);
    assert_int_equal(tern_posix_i2c_attach(&b.i2c, &dev), TERN_OK);
    uint8_t reg = 0x75, who = 0;
    assert_int_equal(tern_i2c_transfer(&hal->i2c, 0x68, &reg, 1, &who, 1), TERN_OK);
    assert_int_equal(who, 0x71);

    uint8_t rx = 0;
    assert_int_equal(tern_spi_transfer(&hal->spi, 0, &reg, &rx, 1), TERN_OK);
    assert_int_equal(rx, 0xFF);

    assert_int_equal(tern_reset_reason(&hal->reset), TERN_RESET_PIN);
    tern_reset_reboot(&hal->reset, TERN_RESET_SOFTWARE);
    assert_int_equal(tern_posix_reset_boot(&b.reset), TERN_RESET_SOFTWARE);
    tern_posix_board_close(&b);
}

static void test_seeded_rng_is_reproducible(void **state)
{
    (void)state;
    tern_posix_board_config_t cfg;
    tern_posix_board_config_default(&cfg);
    cfg.rng_seeded = true;
    cfg.rng_seed = 1234;
    tern_posix_board_t a, b;
    assert_int_equal(tern_posix_board_open(&a, &cfg), TERN_OK);
    assert_int_equal(tern_posix_board_open(&b, &cfg), TERN_OK);
    uint8_t x[16], y[16];
    assert_string_equal(a.hal.rng.ops->name, "pcg32");
    assert_int_equal(tern_rng_fill(&a.hal.rng, x, sizeof x), TERN_OK);
    assert_int_equal(tern_rng_fill(&b.hal.rng, y, sizeof y), TERN_OK);
    assert_memory_equal(x, y, sizeof x);
    tern_posix_board_close(&a);
    tern_posix_board_close(&b);
}

static void test_fleet_shares_one_clock(void **state)
{
    (void)state;
    tern_posix_vclock_t fleet_time;
    tern_posix_vclock_init(&fleet_time, 0);
    tern_posix_board_config_t cfg;
    memset(&cfg, 0, sizeof cfg); /* the leanest device: a clock and the always-present doubles */
    cfg.clock = TERN_POSIX_CLOCK_EXTERNAL;
    cfg.external_clock = tern_posix_vclock_hal(&fleet_time);
    cfg.rng_seeded = true;
    enum { N = 64 };
    static tern_posix_board_t boards[N];
    for (int i = 0; i < N; i++) {
        cfg.rng_seed = (uint64_t)i;
        assert_int_equal(tern_posix_board_open(&boards[i], &cfg), TERN_OK);
    }
    assert_null(boards[0].hal.flash.ops);
    assert_null(boards[0].hal.gpio.ops);
    assert_null(boards[0].hal.uart.ops);
    assert_int_equal(count_present(&boards[0].hal), 7);
    tern_posix_vclock_advance(&fleet_time, 5000);
    for (int i = 0; i < N; i++) {
        assert_int_equal(tern_clock_now(&boards[i].hal.clock), 5000);
    }
    for (int i = 0; i < N; i++) {
        tern_posix_board_close(&boards[i]);
    }
    /* 100,000 devices in one process: the board itself must stay small. */
    assert_true(sizeof(tern_posix_board_t) <= 1024);
}

static void test_file_flash_survives_reopen(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/tern-board-%ld.img", (long)getpid());
    unlink(path);
    tern_posix_board_config_t cfg;
    tern_posix_board_config_default(&cfg);
    cfg.flash.path = path;
    cfg.flash.sim.size = 8192;
    tern_posix_board_t b;
    assert_int_equal(tern_posix_board_open(&b, &cfg), TERN_OK);
    static const uint8_t data[4] = { 0xC0, 0xFF, 0xEE, 0x00 };
    assert_int_equal(tern_flash_program(&b.hal.flash, 4096, data, sizeof data), TERN_OK);
    tern_posix_board_close(&b);

    assert_int_equal(tern_posix_board_open(&b, &cfg), TERN_OK);
    uint8_t got[4];
    assert_int_equal(tern_flash_read(&b.hal.flash, 4096, got, sizeof got), TERN_OK);
    assert_memory_equal(got, data, sizeof data);
    /* The test can cut the board's power through the exposed simulator. */
    tern_norsim_cut_after(tern_posix_flash_sim(&b.flash), 1, 0);
    assert_int_equal(tern_flash_erase(&b.hal.flash, 0), TERN_ERR_POWER_LOST);
    tern_posix_board_close(&b);
    unlink(path);
}

static void test_bad_configs(void **state)
{
    (void)state;
    tern_posix_board_config_t cfg;
    tern_posix_board_t b;
    tern_posix_board_config_default(&cfg);
    cfg.uart_rx_cap = 0;
    assert_int_equal(tern_posix_board_open(&b, &cfg), TERN_ERR_INVAL);
    tern_posix_board_config_default(&cfg);
    cfg.clock = TERN_POSIX_CLOCK_EXTERNAL; /* without a clock */
    assert_int_equal(tern_posix_board_open(&b, &cfg), TERN_ERR_INVAL);
    tern_posix_board_config_default(&cfg);
    cfg.gpio_pins = 65;
    assert_int_equal(tern_posix_board_open(&b, &cfg), TERN_ERR_INVAL);
    tern_posix_board_config_default(&cfg);
    cfg.flash.sim.prog_size = 3;
    assert_int_equal(tern_posix_board_open(&b, &cfg), TERN_ERR_INVAL);
    tern_posix_board_config_default(&cfg);
    cfg.flash.path = "/nonexistent-dir/x.img";
    assert_int_equal(tern_posix_board_open(&b, &cfg), TERN_ERR_IO);
    assert_int_equal(tern_posix_board_open(&b, NULL), TERN_ERR_INVAL);
    /* LeakSanitizer checks that the failed opens left nothing allocated. */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_board_is_complete),
        cmocka_unit_test(test_doubles_reachable_from_test),
        cmocka_unit_test(test_seeded_rng_is_reproducible),
        cmocka_unit_test(test_fleet_shares_one_clock),
        cmocka_unit_test(test_file_flash_survives_reopen),
        cmocka_unit_test(test_bad_configs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
