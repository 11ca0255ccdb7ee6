/* SPDX-License-Identifier: Apache-2.0 */
/* A whole device of doubles in one struct: what the demo and the fleet simulator instantiate. */
#include <stdlib.h>
#include <string.h>

#include "tern/port/posix.h"

void tern_posix_board_config_default(tern_posix_board_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->clock = TERN_POSIX_CLOCK_REAL;
    cfg->flash.sim.size = 64u * 1024u;
    cfg->flash.sim.sector_size = 4096u;
    cfg->flash.sim.prog_size = 4u;
    cfg->flash.sim.seed = 1u;
    cfg->gpio_pins = 16u;
    cfg->uart_tx_cap = 256u;
    cfg->uart_rx_cap = 256u;
    cfg->reset_reason = TERN_RESET_POWER_ON;
}

static tern_err_t open_clock(tern_posix_board_t *b, const tern_posix_board_config_t *cfg)
{
    switch (cfg->clock) {
    case TERN_POSIX_CLOCK_REAL:
        tern_posix_clock_init(&b->clock.real, cfg->clock_start_ms);
        b->hal.clock = tern_posix_clock_hal(&b->clock.real);
        return TERN_OK;
    case TERN_POSIX_CLOCK_VIRTUAL:
        tern_posix_vclock_init(&b->clock.virt, cfg->clock_start_ms);
        b->hal.clock = tern_posix_vclock_hal(&b->clock.virt);
        return TERN_OK;
    case TERN_POSIX_CLOCK_EXTERNAL:
        if (cfg->external_clock.ops == NULL) {
            return TERN_ERR_INVAL;
        }
        b->hal.clock = cfg->external_clock;
        return TERN_OK;
    default:
        return TERN_ERR_INVAL;
    }
}

static tern_err_t open_uart(tern_posix_board_t *b, const tern_posix_board_config_t *cfg)
{
    if (cfg->uart_tx_cap == 0 && cfg->uart_rx_cap == 0) {
        return TERN_OK;
    }
    if (cfg->uart_tx_cap == 0 || cfg->uart_rx_cap == 0 ||
        cfg->uart_tx_cap > SIZE_MAX - cfg->uart_rx_cap) {
        return TERN_ERR_INVAL;
    }
    b->uart_mem = malloc(cfg->uart_tx_cap + cfg->uart_rx_cap);
    if (b->uart_mem == NULL) {
        return TERN_ERR_IO;
    }
    tern_err_t err = tern_posix_uart_init(&b->uart, b->uart_mem, cfg->uart_tx_cap,
                                          b->uart_mem + cfg->uart_tx_cap, cfg->uart_rx_cap);
    if (err == TERN_OK) {
        b->hal.uart = tern_posix_uart_hal(&b->uart);
    }
    return err;
}

tern_err_t tern_posix_board_open(tern_posix_board_t *b, const tern_posix_board_config_t *cfg)
{
    if (b == NULL || cfg == NULL) {
        return TERN_ERR_INVAL;
    }
    memset(b, 0, sizeof *b);
    tern_err_t err = open_clock(b, cfg);
    if (err == TERN_OK && cfg->gpio_pins > 0) {
        err = tern_posix_gpio_init(&b->gpio, cfg->gpio_pins);
        b->hal.gpio = tern_posix_gpio_hal(&b->gpio);
    }
    if (err == TERN_OK && cfg->flash.sim.size > 0) {
        err = tern_posix_flash_open(&b->flash, &cfg->flash);
        b->hal.flash = tern_posix_flash_hal(&b->flash);
    }
    if (err == TERN_OK) {
        err = open_uart(b, cfg);
    }
    if (err != TERN_OK) {
        tern_posix_board_close(b);
        return err;
    }

    if (cfg->rng_seeded) {
        tern_posix_prng_init(&b->prng, cfg->rng_seed);
        b->hal.rng = tern_posix_prng_hal(&b->prng);
    } else {
        b->hal.rng = tern_posix_rng_hal();
    }
    tern_posix_i2c_init(&b->i2c);
    b->hal.i2c = tern_posix_i2c_hal(&b->i2c);
    tern_posix_spi_init(&b->spi);
    b->hal.spi = tern_posix_spi_hal(&b->spi);
    tern_posix_reset_init(&b->reset, cfg->reset_reason);
    b->hal.reset = tern_posix_reset_hal(&b->reset);
    tern_posix_watchdog_init(&b->watchdog, &b->hal.clock);
    b->hal.watchdog = tern_posix_watchdog_hal(&b->watchdog);
    tern_posix_critical_init(&b->critical);
    b->hal.critical = tern_posix_critical_hal(&b->critical);
    return TERN_OK;
}

void tern_posix_board_close(tern_posix_board_t *b)
{
    tern_posix_flash_close(&b->flash);
    free(b->uart_mem);
    memset(b, 0, sizeof *b);
}

const tern_hal_t *tern_posix_board_hal(const tern_posix_board_t *b)
{
    return &b->hal;
}
