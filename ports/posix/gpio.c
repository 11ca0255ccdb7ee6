/* SPDX-License-Identifier: Apache-2.0 */
/* GPIO double: one bit per pin in each mask, so a 64-pin port costs 64 bytes. */
#include "tern/port/posix.h"

static uint64_t bit(uint32_t pin)
{
    return (uint64_t)1 << pin;
}

static bool line_level(const tern_posix_gpio_t *g, uint64_t b)
{
    bool external = (g->ext_driven & b) != 0;
    bool ext_level = (g->ext_level & b) != 0;
    if (g->output & b) {
        if (!(g->open_drain & b) || !(g->out_level & b)) {
            return (g->out_level & b) != 0;
        }
        /* Open drain released: the line floats to the bus pull-up unless held. */
        return external ? ext_level : true;
    }
    if (external) {
        return ext_level;
    }
    return (g->pull_up & b) != 0; /* pull-down and floating inputs read low */
}

static tern_err_t gpio_configure(void *ctx, uint32_t pin, tern_gpio_mode_t mode)
{
    tern_posix_gpio_t *g = ctx;
    if (pin >= g->npins) {
        return TERN_ERR_RANGE;
    }
    uint64_t b = bit(pin);
    g->output &= ~b;
    g->open_drain &= ~b;
    g->pull_up &= ~b;
    g->pull_down &= ~b;
    switch (mode) {
    case TERN_GPIO_INPUT:
        break;
    case TERN_GPIO_INPUT_PULLUP:
        g->pull_up |= b;
        break;
    case TERN_GPIO_INPUT_PULLDOWN:
        g->pull_down |= b;
        break;
    case TERN_GPIO_OUTPUT_OPEN_DRAIN:
        g->open_drain |= b;
        g->output |= b;
        break;
    case TERN_GPIO_OUTPUT:
        g->output |= b;
        break;
    default:
        return TERN_ERR_INVAL;
    }
    return TERN_OK;
}

static tern_err_t gpio_write(void *ctx, uint32_t pin, bool level)
{
    tern_posix_gpio_t *g = ctx;
    if (pin >= g->npins) {
        return TERN_ERR_RANGE;
    }
    uint64_t b = bit(pin);
    if (!(g->output & b)) {
        return TERN_ERR_STATE;
    }
    g->out_level = level ? (g->out_level | b) : (g->out_level & ~b);
    g->writes++;
    return TERN_OK;
}

static tern_err_t gpio_read(void *ctx, uint32_t pin, bool *level)
{
    const tern_posix_gpio_t *g = ctx;
    if (pin >= g->npins) {
        return TERN_ERR_RANGE;
    }
    *level = line_level(g, bit(pin));
    return TERN_OK;
}

static const tern_gpio_ops_t k_gpio_ops = {
    .name = "posix-gpio",
    .configure = gpio_configure,
    .write = gpio_write,
    .read = gpio_read,
};

tern_err_t tern_posix_gpio_init(tern_posix_gpio_t *g, uint32_t npins)
{
    if (npins == 0 || npins > TERN_POSIX_GPIO_MAX_PINS) {
        return TERN_ERR_INVAL;
    }
    *g = (tern_posix_gpio_t){ .npins = npins };
    return TERN_OK;
}

tern_gpio_t tern_posix_gpio_hal(tern_posix_gpio_t *g)
{
    tern_gpio_t hal = { &k_gpio_ops, g };
    return hal;
}

tern_err_t tern_posix_gpio_drive(tern_posix_gpio_t *g, uint32_t pin, bool level)
{
    if (pin >= g->npins) {
        return TERN_ERR_RANGE;
    }
    uint64_t b = bit(pin);
    g->ext_driven |= b;
    g->ext_level = level ? (g->ext_level | b) : (g->ext_level & ~b);
    return TERN_OK;
}

tern_err_t tern_posix_gpio_release(tern_posix_gpio_t *g, uint32_t pin)
{
    if (pin >= g->npins) {
        return TERN_ERR_RANGE;
    }
    g->ext_driven &= ~bit(pin);
    return TERN_OK;
}

bool tern_posix_gpio_level(const tern_posix_gpio_t *g, uint32_t pin)
{
    return pin < g->npins && line_level(g, bit(pin));
}

tern_gpio_mode_t tern_posix_gpio_mode(const tern_posix_gpio_t *g, uint32_t pin)
{
    uint64_t b = pin < g->npins ? bit(pin) : 0;
    if (g->output & b) {
        return (g->open_drain & b) ? TERN_GPIO_OUTPUT_OPEN_DRAIN : TERN_GPIO_OUTPUT;
    }
    if (g->pull_up & b) {
        return TERN_GPIO_INPUT_PULLUP;
    }
    return (g->pull_down & b) ? TERN_GPIO_INPUT_PULLDOWN : TERN_GPIO_INPUT;
}

uint32_t tern_posix_gpio_writes(const tern_posix_gpio_t *g)
{
    return g->writes;
}
