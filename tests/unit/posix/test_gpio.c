/* SPDX-License-Identifier: Apache-2.0 */
/* GPIO double: modes, levels seen from both sides, pulls, open drain, errors. */
#include <stdbool.h>
#include <stdint.h>

#include "tern/hal.h"
#include "tern/port/posix.h"

#include "tern_test.h"

static tern_posix_gpio_t g_gpio;
static tern_gpio_t g_hal;

static int setup(void **state)
{
    (void)state;
    if (tern_posix_gpio_init(&g_gpio, 8) != TERN_OK) {
        return -1;
    }
    g_hal = tern_posix_gpio_hal(&g_gpio);
    return 0;
}

static bool read_pin(uint32_t pin)
{
    bool level = false;
    assert_int_equal(tern_gpio_read(&g_hal, pin, &level), TERN_OK);
    return level;
}

static void test_init_limits(void **state)
{
    (void)state;
    tern_posix_gpio_t g;
    assert_int_equal(tern_posix_gpio_init(&g, 0), TERN_ERR_INVAL);
    assert_int_equal(tern_posix_gpio_init(&g, TERN_POSIX_GPIO_MAX_PINS + 1), TERN_ERR_INVAL);
    assert_int_equal(tern_posix_gpio_init(&g, TERN_POSIX_GPIO_MAX_PINS), TERN_OK);
    tern_gpio_t hal = tern_posix_gpio_hal(&g);
    /* The last of 64 pins works (the masks are 64-bit). */
    assert_int_equal(tern_gpio_configure(&hal, 63, TERN_GPIO_OUTPUT), TERN_OK);
    assert_int_equal(tern_gpio_write(&hal, 63, true), TERN_OK);
    assert_true(tern_posix_gpio_level(&g, 63));
    assert_false(tern_posix_gpio_level(&g, 62));
}

static void test_output_seen_by_test(void **state)
{
    (void)state;
    assert_string_equal(g_hal.ops->name, "posix-gpio");
    assert_int_equal(tern_gpio_configure(&g_hal, 3, TERN_GPIO_OUTPUT), TERN_OK);
    assert_int_equal(tern_posix_gpio_mode(&g_gpio, 3), TERN_GPIO_OUTPUT);
    assert_false(tern_posix_gpio_level(&g_gpio, 3));
    assert_int_equal(tern_gpio_write(&g_hal, 3, true), TERN_OK);
    assert_true(tern_posix_gpio_level(&g_gpio, 3));
    assert_true(read_pin(3)); /* the device reads its own output back */
    assert_false(tern_posix_gpio_level(&g_gpio, 2));
    /* The test cannot overpower a push-pull output. */
    assert_int_equal(tern_posix_gpio_drive(&g_gpio, 3, false), TERN_OK);
    assert_true(tern_posix_gpio_level(&g_gpio, 3));
    assert_int_equal(tern_gpio_write(&g_hal, 3, false), TERN_OK);
    assert_false(tern_posix_gpio_level(&g_gpio, 3));
    assert_int_equal(tern_posix_gpio_writes(&g_gpio), 2);
}

static void test_input_driven_by_test(void **state)
{
    (void)state;
    assert_int_equal(tern_posix_gpio_mode(&g_gpio, 5), TERN_GPIO_INPUT); /* the reset state */
    assert_int_equal(tern_gpio_configure(&g_hal, 5, TERN_GPIO_INPUT), TERN_OK);
    assert_false(read_pin(5)); /* floating reads low */
    assert_int_equal(tern_posix_gpio_drive(&g_gpio, 5, true), TERN_OK);
    assert_true(read_pin(5));
    assert_int_equal(tern_posix_gpio_drive(&g_gpio, 5, false), TERN_OK);
    assert_false(read_pin(5));
    /* Writing an input is a driver bug. */
    assert_int_equal(tern_gpio_write(&g_hal, 5, true), TERN_ERR_STATE);
    assert_int_equal(tern_gpio_write(&g_hal, 6, true), TERN_ERR_STATE); /* never configured */
    assert_int_equal(tern_posix_gpio_writes(&g_gpio), 0);
}

static void test_pulls(void **state)
{
    (void)state;
    assert_int_equal(tern_gpio_configure(&g_hal, 1, TERN_GPIO_INPUT_PULLUP), TERN_OK);
    assert_int_equal(tern_gpio_configure(&g_hal, 2, TERN_GPIO_INPUT_PULLDOWN), TERN_OK);
    assert_int_equal(tern_posix_gpio_mode(&g_gpio, 1), TERN_GPIO_INPUT_PULLUP);
    assert_int_equal(tern_posix_gpio_mode(&g_gpio, 2), TERN_GPIO_INPUT_PULLDOWN);
    assert_true(read_pin(1));
    assert_false(read_pin(2));
    /* A button to ground beats the pull-up; released, the pull wins again. */
    assert_int_equal(tern_posix_gpio_drive(&g_gpio, 1, false), TERN_OK);
    assert_false(read_pin(1));
    assert_int_equal(tern_posix_gpio_drive(&g_gpio, 2, true), TERN_OK);
    assert_true(read_pin(2));
    assert_int_equal(tern_posix_gpio_release(&g_gpio, 1), TERN_OK);
    assert_int_equal(tern_posix_gpio_release(&g_gpio, 2), TERN_OK);
    assert_true(read_pin(1));
    assert_false(read_pin(2));
    /* Reconfiguring drops the old pull. */
    assert_int_equal(tern_gpio_configure(&g_hal, 1, TERN_GPIO_INPUT), TERN_OK);
    assert_false(read_pin(1));
}

static void test_open_drain(void **state)
{
    (void)state;
    assert_int_equal(tern_gpio_configure(&g_hal, 4, TERN_GPIO_OUTPUT_OPEN_DRAIN), TERN_OK);
    assert_int_equal(tern_posix_gpio_mode(&g_gpio, 4), TERN_GPIO_OUTPUT_OPEN_DRAIN);
    assert_int_equal(tern_gpio_write(&g_hal, 4, true), TERN_OK);
    assert_true(tern_posix_gpio_level(&g_gpio, 4)); /* released: the bus pull-up */
    assert_int_equal(tern_posix_gpio_drive(&g_gpio, 4, false), TERN_OK);
    assert_false(read_pin(4)); /* another device holds the line low (clock stretching) */
    assert_int_equal(tern_posix_gpio_release(&g_gpio, 4), TERN_OK);
    assert_true(read_pin(4));
    assert_int_equal(tern_gpio_write(&g_hal, 4, false), TERN_OK);
    assert_int_equal(tern_posix_gpio_drive(&g_gpio, 4, true), TERN_OK);
    assert_false(tern_posix_gpio_level(&g_gpio, 4)); /* low always wins on a wired-AND line */
}

static void test_range_errors(void **state)
{
    (void)state;
    bool level;
    assert_int_equal(tern_gpio_configure(&g_hal, 8, TERN_GPIO_OUTPUT), TERN_ERR_RANGE);
    assert_int_equal(tern_gpio_write(&g_hal, 8, true), TERN_ERR_RANGE);
    assert_int_equal(tern_gpio_read(&g_hal, 8, &level), TERN_ERR_RANGE);
    assert_int_equal(tern_posix_gpio_drive(&g_gpio, 8, true), TERN_ERR_RANGE);
    assert_int_equal(tern_posix_gpio_release(&g_gpio, 99), TERN_ERR_RANGE);
    assert_false(tern_posix_gpio_level(&g_gpio, 8));
    assert_int_equal(g_hal.ops->configure(g_hal.ctx, 0, (tern_gpio_mode_t)99), TERN_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_limits),
        cmocka_unit_test_setup_teardown(test_output_seen_by_test, setup, NULL),
        cmocka_unit_test_setup_teardown(test_input_driven_by_test, setup, NULL),
        cmocka_unit_test_setup_teardown(test_pulls, setup, NULL),
        cmocka_unit_test_setup_teardown(test_open_drain, setup, NULL),
        cmocka_unit_test_setup_teardown(test_range_errors, setup, NULL),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
