/* SPDX-License-Identifier: Apache-2.0 */
/* UART double: FIFO depths bound every non-blocking call; inject, drain, pair. */
#include <stdint.h>
#include <string.h>

#include "tern/hal.h"
#include "tern/port/posix.h"

#include "tern_test.h"

/* A UART double over the given FIFOs, and its HAL instance. */
static tern_uart_t open_uart(tern_posix_uart_t *u, uint8_t *tx, size_t tx_cap, uint8_t *rx,
                             size_t rx_cap)
{
    assert_int_equal(tern_posix_uart_init(u, tx, tx_cap, rx, rx_cap), TERN_OK);
    return tern_posix_uart_hal(u);
}

static void test_partial_write_and_drain(void **state)
{
    (void)state;
    uint8_t txb[5], rxb[3], out[16];
    tern_posix_uart_t u;
    tern_uart_t hal = open_uart(&u, txb, sizeof txb, rxb, sizeof rxb);
    assert_string_equal(hal.ops->name, "posix-uart");
    size_t n = 99;
    assert_int_equal(tern_uart_write(&hal, "hello world", 11, &n), TERN_OK);
    assert_int_equal(n, 5); /* the FIFO holds five */
    assert_int_equal(tern_uart_write(&hal, "x", 1, &n), TERN_OK);
    assert_int_equal(n, 0); /* full: nothing taken, no error */
    assert_int_equal(tern_posix_uart_drain(&u, out, 3), 3);
    assert_memory_equal(out, "hel", 3);
    assert_int_equal(tern_uart_write(&hal, " world", 6, &n), TERN_OK);
    assert_int_equal(n, 3);
    assert_int_equal(tern_posix_uart_drain(&u, out, sizeof out), 5);
    assert_memory_equal(out, "lo wo", 5);
    assert_int_equal(tern_posix_uart_drain(&u, out, sizeof out), 0);
}

static void test_inject_and_read(void **state)
{
    (void)state;
    uint8_t txb[4], rxb[4], out[8];
    tern_posix_uart_t u;
    tern_uart_t hal = open_uart(&u, txb, sizeof txb, rxb, sizeof rxb);
    size_t got = 99;
    assert_int_equal(tern_uart_read(&hal, out, sizeof out, &got), TERN_OK);
    assert_int_equal(got, 0);
    /* The RX FIFO overruns: the test sees how much the device could take. */
    assert_int_equal(tern_posix_uart_inject(&u, "AT+OK\r\n", 7), 4);
    assert_int_equal(tern_uart_read(&hal, out, 2, &got), TERN_OK);
    assert_int_equal(got, 2);
    assert_memory_equal(out, "AT", 2);
    assert_int_equal(tern_posix_uart_inject(&u, "OK", 2), 2);
    assert_int_equal(tern_uart_read(&hal, out, sizeof out, &got), TERN_OK);
    assert_int_equal(got, 4);
    assert_memory_equal(out, "+OOK", 4);
}

static void test_pair_back_to_back(void **state)
{
    (void)state;
    uint8_t atx[4], arx[4], btx[4], brx[3], ctx[4], crx[4], out[8];
    tern_posix_uart_t a, b, c;
    tern_uart_t ha = open_uart(&a, atx, sizeof atx, arx, sizeof arx);
    tern_uart_t hb = open_uart(&b, btx, sizeof btx, brx, sizeof brx);
    (void)open_uart(&c, ctx, sizeof ctx, crx, sizeof crx);
    assert_int_equal(tern_posix_uart_pair(&a, &a), TERN_ERR_INVAL);
    assert_int_equal(tern_posix_uart_pair(&a, &b), TERN_OK);
    assert_int_equal(tern_posix_uart_pair(&c, &b), TERN_ERR_STATE);
    size_t n;
    /* A's bytes land in B's RX, limited by B's FIFO depth. */
    assert_int_equal(tern_uart_write(&ha, "ping", 4, &n), TERN_OK);
    assert_int_equal(n, 3);
    assert_int_equal(tern_posix_uart_drain(&a, out, sizeof out), 0); /* nothing left on A's side */
    assert_int_equal(tern_uart_read(&hb, out, sizeof out, &n), TERN_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "pin", 3);
    assert_int_equal(tern_uart_write(&hb, "pong", 4, &n), TERN_OK);
    assert_int_equal(n, 4);
    assert_int_equal(tern_uart_read(&ha, out, sizeof out, &n), TERN_OK);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "pong", 4);

    /* Unpaired, each side talks to the test again. */
    tern_posix_uart_unpair(&b);
    assert_int_equal(tern_uart_write(&ha, "z", 1, &n), TERN_OK);
    assert_int_equal(tern_posix_uart_drain(&a, out, sizeof out), 1);
    assert_int_equal(tern_uart_read(&hb, out, sizeof out, &n), TERN_OK);
    assert_int_equal(n, 0);
    assert_int_equal(tern_posix_uart_pair(&c, &b), TERN_OK);
}

static void test_init_errors(void **state)
{
    (void)state;
    uint8_t buf[4];
    tern_posix_uart_t u;
    assert_int_equal(tern_posix_uart_init(&u, NULL, 4, buf, 4), TERN_ERR_INVAL);
    assert_int_equal(tern_posix_uart_init(&u, buf, 4, buf, 0), TERN_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partial_write_and_drain),
        cmocka_unit_test(test_inject_and_read),
        cmocka_unit_test(test_pair_back_to_back),
        cmocka_unit_test(test_init_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
