/* SPDX-License-Identifier: Apache-2.0 */
/* UART double: two byte rings, the FIFOs of a real UART, optionally wired to a peer. */
#include "tern/port/posix.h"

static tern_err_t uart_write(void *ctx, const void *buf, size_t len, size_t *written)
{
    tern_posix_uart_t *u = ctx;
    tern_ring_t *line = u->peer != NULL ? &u->peer->rx : &u->tx;
    *written = tern_ring_write(line, buf, len);
    return TERN_OK;
}

static tern_err_t uart_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    tern_posix_uart_t *u = ctx;
    *got = tern_ring_read(&u->rx, buf, cap);
    return TERN_OK;
}

static const tern_uart_ops_t k_uart_ops = {
    .name = "posix-uart",
    .write = uart_write,
    .read = uart_read,
};

tern_err_t tern_posix_uart_init(tern_posix_uart_t *u, void *tx_buf, size_t tx_cap, void *rx_buf,
                                size_t rx_cap)
{
    u->peer = NULL;
    tern_err_t err = tern_ring_init(&u->tx, tx_buf, tx_cap);
    return err != TERN_OK ? err : tern_ring_init(&u->rx, rx_buf, rx_cap);
}

tern_uart_t tern_posix_uart_hal(tern_posix_uart_t *u)
{
    tern_uart_t hal = { &k_uart_ops, u };
    return hal;
}

size_t tern_posix_uart_inject(tern_posix_uart_t *u, const void *data, size_t len)
{
    return tern_ring_write(&u->rx, data, len);
}

size_t tern_posix_uart_drain(tern_posix_uart_t *u, void *out, size_t cap)
{
    return tern_ring_read(&u->tx, out, cap);
}

tern_err_t tern_posix_uart_pair(tern_posix_uart_t *a, tern_posix_uart_t *b)
{
    if (a == b) {
        return TERN_ERR_INVAL;
    }
    if (a->peer != NULL || b->peer != NULL) {
        return TERN_ERR_STATE;
    }
    a->peer = b;
    b->peer = a;
    return TERN_OK;
}

void tern_posix_uart_unpair(tern_posix_uart_t *u)
{
    if (u->peer != NULL) {
        u->peer->peer = NULL;
        u->peer = NULL;
    }
}
