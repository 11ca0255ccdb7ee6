/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The four CMSDK AHB GPIO blocks of the MPS2 (16 pins each, at 0x40010000 +
 * 0x1000 * block); pin n is bit n % 16 of block n / 16.
 *
 * The block has neither pull resistors nor open-drain outputs: those modes
 * are TERN_ERR_UNSUPPORTED. qemu (7.2) does not model these blocks: writes
 * are ignored and every pin reads low, so on the emulator only the calls,
 * not the levels, can be tested.
 */
#include "cm_internal.h"

#define CM_GPIO_BASE(block)       (0x40010000u + 0x1000u * (block))
#define CM_GPIO_DATA(block)       CM_REG(CM_GPIO_BASE(block) + 0x000u)
#define CM_GPIO_OUTENSET(block)   CM_REG(CM_GPIO_BASE(block) + 0x010u)
#define CM_GPIO_OUTENCLR(block)   CM_REG(CM_GPIO_BASE(block) + 0x014u)
#define CM_GPIO_ALTFUNCCLR(block) CM_REG(CM_GPIO_BASE(block) + 0x01Cu)
/* Masked data: a write at 0x400 + (mask << 2) (low byte) or 0x800 + (mask << 2)
 * (high byte) changes only the pins in mask, so no read-modify-write is needed. */
#define CM_GPIO_MASKED(block, bit) \
    CM_REG(CM_GPIO_BASE(block) +   \
           ((bit) < 8u ? 0x400u + ((1u << (bit)) << 2) : 0x800u + ((1u << ((bit)-8u)) << 2)))

static tern_err_t cm_gpio_configure(void *ctx, uint32_t pin, tern_gpio_mode_t mode)
{
    (void)ctx;
    if (pin >= TERN_CM_GPIO_PINS) {
        return TERN_ERR_RANGE;
    }
    uint32_t block = pin / 16u, mask = 1u << (pin % 16u);
    switch (mode) {
    case TERN_GPIO_INPUT:
        CM_GPIO_OUTENCLR(block) = mask;
        break;
    case TERN_GPIO_OUTPUT:
        CM_GPIO_OUTENSET(block) = mask;
        break;
    default:
        return TERN_ERR_UNSUPPORTED;
    }
    CM_GPIO_ALTFUNCCLR(block) = mask; /* plain GPIO, not the pin's alternate function */
    return TERN_OK;
}

static tern_err_t cm_gpio_write(void *ctx, uint32_t pin, bool level)
{
    (void)ctx;
    if (pin >= TERN_CM_GPIO_PINS) {
        return TERN_ERR_RANGE;
    }
    uint32_t bit = pin % 16u;
    CM_GPIO_MASKED(pin / 16u, bit) = level ? 1u << bit : 0u;
    return TERN_OK;
}

static tern_err_t cm_gpio_read(void *ctx, uint32_t pin, bool *level)
{
    (void)ctx;
    if (pin >= TERN_CM_GPIO_PINS) {
        return TERN_ERR_RANGE;
    }
    *level = ((CM_GPIO_DATA(pin / 16u) >> (pin % 16u)) & 1u) != 0u;
    return TERN_OK;
}

const tern_gpio_ops_t cm_gpio_ops = {
    .name = "cmsdk-gpio",
    .configure = cm_gpio_configure,
    .write = cm_gpio_write,
    .read = cm_gpio_read,
};
