/* SPDX-License-Identifier: Apache-2.0 */
/*
 * UART0 of the board (Arm CMSDK APB UART at 0x40004000): the stdio console
 * and the HAL's UART. qemu connects it to its first -serial backend.
 *
 * The CMSDK UART has a one-byte buffer each way and no FIFO; it is polled.
 */
#include "cm_internal.h"

#define CM_UART0_BASE   0x40004000u
#define CM_UART_DATA    CM_REG(CM_UART0_BASE + 0x00u)
#define CM_UART_STATE   CM_REG(CM_UART0_BASE + 0x04u)
#define CM_UART_CTRL    CM_REG(CM_UART0_BASE + 0x08u)
#define CM_UART_BAUDDIV CM_REG(CM_UART0_BASE + 0x10u)

#define CM_UART_STATE_TX_FULL (1u << 0)
#define CM_UART_STATE_RX_FULL (1u << 1)
#define CM_UART_CTRL_TX_EN    (1u << 0)
#define CM_UART_CTRL_RX_EN    (1u << 1)

#define CM_UART_BAUD 115200u

void cm_console_init(void)
{
    CM_UART_BAUDDIV = TERN_CM_SYSCLK_HZ / CM_UART_BAUD; /* the UART wants at least 16 */
    CM_UART_CTRL = CM_UART_CTRL_TX_EN | CM_UART_CTRL_RX_EN;
}

void tern_cm_console_write(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    for (size_t i = 0; i < len; i++) {
        while ((CM_UART_STATE & CM_UART_STATE_TX_FULL) != 0u) {
        }
        CM_UART_DATA = p[i];
    }
}

static tern_err_t cm_uart_write(void *ctx, const void *buf, size_t len, size_t *written)
{
    const uint8_t *p = buf;
    size_t n = 0;
    (void)ctx;
    while (n < len && (CM_UART_STATE & CM_UART_STATE_TX_FULL) == 0u) {
        CM_UART_DATA = p[n++];
    }
    *written = n;
    return TERN_OK;
}

size_t cm_console_read(void *buf, size_t cap)
{
    uint8_t *p = buf;
    size_t n = 0;
    while (n < cap && (CM_UART_STATE & CM_UART_STATE_RX_FULL) != 0u) {
        p[n++] = (uint8_t)CM_UART_DATA;
    }
    return n;
}

static tern_err_t cm_uart_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    (void)ctx;
    *got = cm_console_read(buf, cap);
    return TERN_OK;
}

const tern_uart_ops_t cm_uart_ops = {
    .name = "cmsdk-uart0",
    .write = cm_uart_write,
    .read = cm_uart_read,
};
