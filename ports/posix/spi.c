/* SPDX-License-Identifier: Apache-2.0 */
/* SPI double: per chip select, a ring recording MOSI and a ring of scripted MISO. */
#include <string.h>

#include "tern/port/posix.h"

static tern_err_t spi_transfer(void *ctx, uint32_t cs, const uint8_t *tx, uint8_t *rx, size_t len)
{
    tern_posix_spi_t *bus = ctx;
    if (cs >= TERN_POSIX_SPI_MAX_CS) {
        return TERN_ERR_RANGE;
    }
    tern_posix_spi_dev_t *dev = bus->cs[cs];
    size_t got = 0;
    if (dev != NULL) {
        /* Refuse rather than drop: a test must never lose what the driver sent. */
        if (tern_ring_space(&dev->mosi) < len) {
            return TERN_ERR_FULL;
        }
        /* MOSI is recorded before rx is written, so tx and rx may be the same buffer. */
        if (tx != NULL) {
            (void)tern_ring_write(&dev->mosi, tx, len);
        } else {
            static const uint8_t idle = 0xFF;
            for (size_t i = 0; i < len; i++) {
                (void)tern_ring_write(&dev->mosi, &idle, 1);
            }
        }
        got = rx != NULL ? tern_ring_read(&dev->miso, rx, len) : tern_ring_discard(&dev->miso, len);
        dev->transfers++;
    }
    if (rx != NULL) {
        memset(rx + got, 0xFF, len - got); /* nobody drives MISO: it idles high */
    }
    return TERN_OK;
}

static const tern_spi_ops_t k_spi_ops = {
    .name = "posix-spi",
    .transfer = spi_transfer,
};

void tern_posix_spi_init(tern_posix_spi_t *bus)
{
    memset(bus, 0, sizeof *bus);
}

tern_spi_t tern_posix_spi_hal(tern_posix_spi_t *bus)
{
    tern_spi_t hal = { &k_spi_ops, bus };
    return hal;
}

tern_err_t tern_posix_spi_dev_init(tern_posix_spi_dev_t *dev, void *mosi_buf, size_t mosi_cap,
                                   void *miso_buf, size_t miso_cap)
{
    memset(dev, 0, sizeof *dev);
    tern_err_t err = tern_ring_init(&dev->mosi, mosi_buf, mosi_cap);
    return err != TERN_OK ? err : tern_ring_init(&dev->miso, miso_buf, miso_cap);
}

tern_err_t tern_posix_spi_attach(tern_posix_spi_t *bus, uint32_t cs, tern_posix_spi_dev_t *dev)
{
    if (cs >= TERN_POSIX_SPI_MAX_CS) {
        return TERN_ERR_RANGE;
    }
    bus->cs[cs] = dev;
    return TERN_OK;
}

tern_err_t tern_posix_spi_dev_script(tern_posix_spi_dev_t *dev, const void *data, size_t len)
{
    return tern_ring_write_all(&dev->miso, data, len);
}

size_t tern_posix_spi_dev_take(tern_posix_spi_dev_t *dev, void *out, size_t cap)
{
    return tern_ring_read(&dev->mosi, out, cap);
}

uint32_t tern_posix_spi_dev_transfers(const tern_posix_spi_dev_t *dev)
{
    return dev->transfers;
}
