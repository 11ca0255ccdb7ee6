/* SPDX-License-Identifier: Apache-2.0 */
/* I2C double: register-file devices on a list, and a transfer log for assertions. */
#include <string.h>

#include "tern/port/posix.h"

static tern_posix_i2c_dev_t *find(const tern_posix_i2c_t *bus, uint8_t addr7)
{
    for (tern_posix_i2c_dev_t *d = bus->devs; d != NULL; d = d->next) {
        if (d->addr7 == addr7) {
            return d;
        }
    }
    return NULL;
}

static uint16_t sat16(size_t n)
{
    return n > 0xFFFFu ? 0xFFFFu : (uint16_t)n;
}

static void log_transfer(tern_posix_i2c_t *bus, uint8_t addr7, tern_err_t result, const uint8_t *tx,
                         size_t tx_len, size_t rx_len)
{
    bus->transfers++;
    if (bus->log_len >= bus->log_cap) {
        return;
    }
    tern_posix_i2c_log_entry_t *e = &bus->log[bus->log_len++];
    memset(e, 0, sizeof *e);
    e->addr7 = addr7;
    e->result = result;
    e->tx_len = sat16(tx_len);
    e->rx_len = sat16(rx_len);
    if (tx_len > 0) {
        memcpy(e->tx, tx, tx_len < TERN_POSIX_I2C_LOG_BYTES ? tx_len : TERN_POSIX_I2C_LOG_BYTES);
    }
}

static tern_err_t i2c_transfer(void *ctx, uint8_t addr7, const uint8_t *tx, size_t tx_len,
                               uint8_t *rx, size_t rx_len)
{
    tern_posix_i2c_t *bus = ctx;
    if (addr7 > 0x7Fu) {
        return TERN_ERR_INVAL;
    }
    tern_posix_i2c_dev_t *dev = find(bus, addr7);
    if (dev != NULL) {
        /*
         * First byte written selects the register; the pointer wraps at 256 like an 8-bit counter.
         */
        for (size_t i = 0; i < tx_len; i++) {
            if (i == 0) {
                dev->ptr = tx[0];
            } else {
                dev->regs[dev->ptr++] = tx[i];
            }
        }
        for (size_t i = 0; i < rx_len; i++) {
            rx[i] = dev->regs[dev->ptr++];
        }
    }
    tern_err_t result = dev != NULL ? TERN_OK : TERN_ERR_NACK;
    log_transfer(bus, addr7, result, tx, tx_len, rx_len);
    return result;
}

static const tern_i2c_ops_t k_i2c_ops = {
    .name = "posix-i2c",
    .transfer = i2c_transfer,
};

void tern_posix_i2c_init(tern_posix_i2c_t *bus)
{
    memset(bus, 0, sizeof *bus);
}

tern_i2c_t tern_posix_i2c_hal(tern_posix_i2c_t *bus)
{
    tern_i2c_t hal = { &k_i2c_ops, bus };
    return hal;
}

void tern_posix_i2c_dev_init(tern_posix_i2c_dev_t *dev, uint8_t addr7)
{
    memset(dev, 0, sizeof *dev);
    dev->addr7 = addr7;
}

tern_err_t tern_posix_i2c_attach(tern_posix_i2c_t *bus, tern_posix_i2c_dev_t *dev)
{
    if (dev->addr7 > 0x7Fu) {
        return TERN_ERR_INVAL;
    }
    if (find(bus, dev->addr7) != NULL) {
        return TERN_ERR_BUSY;
    }
    dev->next = bus->devs;
    bus->devs = dev;
    return TERN_OK;
}

tern_err_t tern_posix_i2c_detach(tern_posix_i2c_t *bus, tern_posix_i2c_dev_t *dev)
{
    for (tern_posix_i2c_dev_t **link = &bus->devs; *link != NULL; link = &(*link)->next) {
        if (*link == dev) {
            *link = dev->next;
            dev->next = NULL;
            return TERN_OK;
        }
    }
    return TERN_ERR_NOT_FOUND;
}

void tern_posix_i2c_log_attach(tern_posix_i2c_t *bus, tern_posix_i2c_log_entry_t *entries,
                               uint32_t cap)
{
    bus->log = entries;
    bus->log_cap = entries != NULL ? cap : 0;
    tern_posix_i2c_log_clear(bus);
}

void tern_posix_i2c_log_clear(tern_posix_i2c_t *bus)
{
    bus->log_len = 0;
    bus->transfers = 0;
}

const tern_posix_i2c_log_entry_t *tern_posix_i2c_log_get(const tern_posix_i2c_t *bus, uint32_t i)
{
    return i < bus->log_len ? &bus->log[i] : NULL;
}

uint32_t tern_posix_i2c_transfers(const tern_posix_i2c_t *bus)
{
    return bus->transfers;
}
