/* SPDX-License-Identifier: Apache-2.0 */
/* tern_cm_board_init(): what the board provides, the RNG, GPIO, UART and the heap. */
#include <stdlib.h>
#include <string.h>

#include "cm_test.h"

struct seen {
    const char *names[10];
    size_t n;
};

static void visit(void *arg, const char *member, const char *port_name)
{
    struct seen *s = arg;
    (void)member;
    if (s->n < 10) {
        s->names[s->n++] = port_name;
    }
}

static void test_members(void **state)
{
    (void)state;
    struct seen s = { { NULL }, 0 };
    assert_int_equal(tern_hal_describe(&cm_hal, visit, &s), 10);
    /* clock, rng, flash, gpio, i2c, spi, uart, reset, watchdog, critical */
    assert_string_equal(s.names[0], "systick");
    assert_non_null(s.names[1]);
    assert_non_null(s.names[2]);
    assert_string_equal(s.names[3], "cmsdk-gpio");
    assert_null(s.names[4]); /* no I2C */
    assert_null(s.names[5]); /* no SPI */
    assert_string_equal(s.names[6], "cmsdk-uart0");
    assert_non_null(s.names[7]);
    assert_string_equal(s.names[8], "cmsdk-watchdog");
    assert_string_equal(s.names[9], "primask");
    assert_int_equal(tern_i2c_transfer(&cm_hal.i2c, 0x50, NULL, 0, NULL, 0), TERN_ERR_UNSUPPORTED);
    assert_int_equal(tern_spi_transfer(&cm_hal.spi, 0, NULL, NULL, 0), TERN_ERR_UNSUPPORTED);
}

static void test_init_again_is_harmless(void **state)
{
    (void)state;
    tern_hal_t again;
    uint8_t a[4], b[4];
    assert_int_equal(tern_cm_board_init(&again), TERN_OK);
    assert_ptr_equal(again.clock.ops, cm_hal.clock.ops);
    assert_int_equal(tern_flash_read(&again.flash, 0, a, 4), TERN_OK);
    assert_int_equal(tern_flash_read(&cm_hal.flash, 0, b, 4), TERN_OK);
    assert_memory_equal(a, b, 4);
    assert_int_equal(tern_cm_board_init(NULL), TERN_ERR_INVAL);
}

static void test_rng_varies(void **state)
{
    (void)state;
    uint8_t a[32], b[32], zero[32] = { 0 };
    assert_int_equal(tern_rng_fill(&cm_hal.rng, a, sizeof a), TERN_OK);
    assert_int_equal(tern_rng_fill(&cm_hal.rng, b, sizeof b), TERN_OK);
    assert_memory_not_equal(a, b, sizeof a);
    assert_memory_not_equal(a, zero, sizeof a);
    assert_int_equal(tern_rng_fill(&cm_hal.rng, a, 3), TERN_OK); /* odd lengths */

    unsigned hits[6] = { 0 };
    for (int i = 0; i < 600; i++) {
        uint32_t v;
        assert_int_equal(tern_rng_uniform(&cm_hal.rng, 6, &v), TERN_OK);
        assert_in_range(v, 0, 5);
        hits[v]++;
    }
    for (int i = 0; i < 6; i++) {
        assert_in_range(hits[i], 50, 150); /* each face near 100 */
    }
}

static void test_gpio(void **state)
{
    (void)state;
    bool level = true;
    assert_int_equal(tern_gpio_configure(&cm_hal.gpio, 0, TERN_GPIO_OUTPUT), TERN_OK);
    assert_int_equal(tern_gpio_write(&cm_hal.gpio, 0, true), TERN_OK);
    assert_int_equal(tern_gpio_write(&cm_hal.gpio, 15, false), TERN_OK);
    assert_int_equal(tern_gpio_configure(&cm_hal.gpio, 63, TERN_GPIO_INPUT), TERN_OK);
    assert_int_equal(tern_gpio_read(&cm_hal.gpio, 63, &level), TERN_OK);
    /* qemu does not model the CMSDK GPIO: every pin reads low. */
    assert_false(level);
    assert_int_equal(tern_gpio_configure(&cm_hal.gpio, 1, TERN_GPIO_INPUT_PULLUP),
                     TERN_ERR_UNSUPPORTED);
    assert_int_equal(tern_gpio_configure(&cm_hal.gpio, 1, TERN_GPIO_OUTPUT_OPEN_DRAIN),
                     TERN_ERR_UNSUPPORTED);
    assert_int_equal(tern_gpio_configure(&cm_hal.gpio, TERN_CM_GPIO_PINS, TERN_GPIO_OUTPUT),
                     TERN_ERR_RANGE);
    assert_int_equal(tern_gpio_write(&cm_hal.gpio, TERN_CM_GPIO_PINS, true), TERN_ERR_RANGE);
    assert_int_equal(tern_gpio_read(&cm_hal.gpio, TERN_CM_GPIO_PINS, &level), TERN_ERR_RANGE);
}

static void test_uart_nonblocking(void **state)
{
    (void)state;
    static const char line[] = "cm.board: uart ops write\n";
    size_t done = 0, n = 0;
    char buf[8];
    while (done < sizeof line - 1) {
        assert_int_equal(tern_uart_write(&cm_hal.uart, line + done, sizeof line - 1 - done, &n),
                         TERN_OK);
        done += n;
    }
    /* qemu-run.sh gives the board no input: nothing arrives, and read does not wait. */
    assert_int_equal(tern_uart_read(&cm_hal.uart, buf, sizeof buf, &n), TERN_OK);
    assert_int_equal(n, 0);
}

static void test_heap(void **state)
{
    (void)state;
    void *big = malloc(1024 * 1024);
    assert_non_null(big);
    memset(big, 0xA5, 1024 * 1024);
    free(big);
    assert_null(malloc(8u * 1024 * 1024)); /* more than the board's RAM */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members),          cmocka_unit_test(test_init_again_is_harmless),
        cmocka_unit_test(test_rng_varies),       cmocka_unit_test(test_gpio),
        cmocka_unit_test(test_uart_nonblocking), cmocka_unit_test(test_heap),
    };
    return cmocka_run_group_tests(tests, cm_board_setup, NULL);
}
