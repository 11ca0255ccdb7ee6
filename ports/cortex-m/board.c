/* SPDX-License-Identifier: Apache-2.0 */
/* The MPS2 AN386 as one tern_hal_t. */
#include <string.h>

#include "cm_internal.h"

tern_err_t tern_cm_board_init(tern_hal_t *hal)
{
    if (hal == NULL) {
        return TERN_ERR_INVAL;
    }
    memset(hal, 0, sizeof *hal); /* i2c and spi stay absent: see cortex_m.h */
    tern_err_t err = cm_flash_init(&hal->flash);
    if (err != TERN_OK) {
        return err;
    }
    cm_clock_start();
    cm_rng_seed();
    hal->clock.ops = &cm_clock_ops;
    hal->rng.ops = &cm_rng_ops;
    hal->gpio.ops = &cm_gpio_ops;
    hal->uart.ops = &cm_uart_ops;
    hal->reset.ops = &cm_reset_ops;
    hal->watchdog.ops = &cm_watchdog_ops;
    hal->critical.ops = &cm_critical_ops;
    return TERN_OK;
}
