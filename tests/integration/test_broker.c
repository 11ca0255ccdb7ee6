/* SPDX-License-Identifier: Apache-2.0 */
/* The broker fixture itself, since every MQTT test stands on it: restart on the same
 * port keeps persisted data (and loses it without persistence), pause holds answers
 * back, kill ends it at once, extra config lines take effect. */
#include <string.h>

#include "tern/port/posix_net.h"
#include "tern_broker.h"
#include "tern_test.h"
#include "tern_test_net.h"

#define TOPIC "tern/kept"

/* A plain MQTT connection to @p b that has had its CONNACK. */
typedef struct client {
    tern_posix_tcp_t tcp;
    tern_transport_t tr;
    int fd;
} client_t;

static void client_open(client_t *c, const tern_broker_t *b, const char *id)
{
    assert_int_equal(tern_test_tcp_connect(&c->tcp, "127.0.0.1", b->port, NULL), TERN_OK);
    c->tr = tern_posix_tcp_transport(&c->tcp);
    c->fd = tern_posix_tcp_fd(&c->tcp);
    assert_int_equal(tern_test_mqtt_hello(&c->tr, c->fd, id), TERN_OK);
}

/* Publish a retained "kept" to TOPIC, then DISCONNECT and wait for the broker to hang up. */
static void publish_retained(const tern_broker_t *b)
{
    client_t c;
    client_open(&c, b, "tern-fixture-pub");
    uint8_t pkt[64];
    size_t n = tern_test_mqtt_publish(pkt, sizeof pkt, TOPIC, "kept", 4, true);
    assert_true(n > 0);
    static const uint8_t k_disconnect[2] = { 0xE0, 0x00 };
    assert_int_equal(tern_test_send_all(&c.tr, c.fd, pkt, n, 2000), TERN_OK);
    assert_int_equal(tern_test_send_all(&c.tr, c.fd, k_disconnect, 2, 2000), TERN_OK);
    assert_int_equal(tern_test_recv_until_error(&c.tr, c.fd, 5000), TERN_ERR_CLOSED);
    tern_posix_tcp_close(&c.tcp);
}

/* Subscribe to TOPIC: the retained message arrives (TERN_OK) or not within 300 ms. */
static tern_err_t fetch_retained(const tern_broker_t *b)
{
    client_t c;
    client_open(&c, b, "tern-fixture-sub");
    uint8_t pkt[64], got[64], want[64];
    static const uint8_t k_suback[5] = { 0x90, 0x03, 0x00, 0x07, 0x00 };
    size_t n = tern_test_mqtt_subscribe(pkt, sizeof pkt, 7, TOPIC);
    assert_int_equal(tern_test_send_all(&c.tr, c.fd, pkt, n, 2000), TERN_OK);
    assert_int_equal(tern_test_recv_exact(&c.tr, c.fd, got, sizeof k_suback, 2000), TERN_OK);
    assert_memory_equal(got, k_suback, sizeof k_suback);
    n = tern_test_mqtt_publish(want, sizeof want, TOPIC, "kept", 4, true);
    tern_err_t err = tern_test_recv_exact(&c.tr, c.fd, got, n, 300);
    if (err == TERN_OK) {
        assert_memory_equal(got, want, n); /* delivered with the retain flag */
    }
    tern_posix_tcp_close(&c.tcp);
    return err;
}

/* Stop, check the port is closed, restart on the same port. */
static void stop_and_restart(tern_broker_t *b)
{
    uint16_t port = b->port;
    assert_int_equal(tern_broker_stop(b), TERN_OK); /* SIGTERM was enough */
    assert_false(tern_broker_running(b));
    assert_false(tern_test_port_accepts("127.0.0.1", port, 200));
    assert_int_equal(tern_broker_restart(b), TERN_OK);
    assert_true(tern_broker_running(b));
    assert_int_equal(b->port, port);
}

static void test_restart_keeps_persisted_data(void **state)
{
    (void)state;
    tern_broker_t b;
    tern_broker_config_t cfg;
    tern_broker_config_default(&cfg);
    cfg.persistence = true;
    assert_int_equal(tern_broker_start(&b, &cfg), TERN_OK);
    publish_retained(&b);
    stop_and_restart(&b);
    assert_int_equal(fetch_retained(&b), TERN_OK);
    tern_broker_close(&b);
    assert_false(tern_broker_running(&b));
}

static void test_restart_without_persistence_forgets(void **state)
{
    (void)state;
    tern_broker_t b;
    assert_int_equal(tern_broker_start(&b, NULL), TERN_OK);
    publish_retained(&b);
    assert_int_equal(fetch_retained(&b), TERN_OK); /* there while it runs */
    stop_and_restart(&b);
    assert_int_equal(fetch_retained(&b), TERN_ERR_TIMEOUT);
    tern_broker_close(&b);
}

/* Paused, the broker keeps the connection but answers nothing; resumed, it answers. */
static void test_pause_and_resume(void **state)
{
    (void)state;
    tern_broker_t b;
    assert_int_equal(tern_broker_start(&b, NULL), TERN_OK);
    client_t c;
    assert_int_equal(tern_test_tcp_connect(&c.tcp, "127.0.0.1", b.port, NULL), TERN_OK);
    c.tr = tern_posix_tcp_transport(&c.tcp);
    c.fd = tern_posix_tcp_fd(&c.tcp);
    assert_int_equal(tern_broker_pause(&b), TERN_OK);
    assert_true(tern_broker_running(&b));
    uint8_t pkt[64], ack[4];
    size_t n = tern_test_mqtt_connect(pkt, sizeof pkt, "tern-fixture-pause");
    assert_int_equal(tern_test_send_all(&c.tr, c.fd, pkt, n, 2000), TERN_OK);
    assert_int_equal(tern_test_recv_exact(&c.tr, c.fd, ack, sizeof ack, 300), TERN_ERR_TIMEOUT);
    assert_int_equal(tern_broker_resume(&b), TERN_OK);
    assert_int_equal(tern_test_recv_exact(&c.tr, c.fd, ack, sizeof ack, 2000), TERN_OK);
    assert_int_equal(ack[0], 0x20);
    tern_posix_tcp_close(&c.tcp);
    tern_broker_close(&b);
}

/* Killed, the broker is gone at once and its clients see the connection end. */
static void test_kill(void **state)
{
    (void)state;
    tern_broker_t b;
    assert_int_equal(tern_broker_start(&b, NULL), TERN_OK);
    client_t c;
    client_open(&c, &b, "tern-fixture-kill");
    assert_int_equal(tern_broker_kill(&b), TERN_OK);
    assert_false(tern_broker_running(&b));
    assert_int_equal(tern_test_recv_until_error(&c.tr, c.fd, 2000), TERN_ERR_CLOSED);
    assert_false(tern_test_port_accepts("127.0.0.1", b.port, 200));
    assert_int_equal(tern_broker_kill(&b), TERN_ERR_STATE); /* nothing left to kill */
    tern_posix_tcp_close(&c.tcp);
    tern_broker_close(&b);
    tern_broker_close(&b); /* twice is fine */
}

/* Extra lines reach mosquitto: with max_packet_size 100 a larger PUBLISH ends the session. */
static void test_extra_config(void **state)
{
    (void)state;
    tern_broker_t b;
    tern_broker_config_t cfg;
    tern_broker_config_default(&cfg);
    cfg.extra = "max_packet_size 100\n";
    assert_int_equal(tern_broker_start(&b, &cfg), TERN_OK);
    client_t c;
    client_open(&c, &b, "tern-fixture-extra");
    uint8_t payload[200] = { 0 }, pkt[256];
    size_t n = tern_test_mqtt_publish(pkt, sizeof pkt, "tern/big", payload, sizeof payload, false);
    assert_int_equal(tern_test_send_all(&c.tr, c.fd, pkt, n, 2000), TERN_OK);
    tern_err_t err = tern_test_recv_until_error(&c.tr, c.fd, 2000);
    /* It hangs up with our payload unread, so the kernel usually sends a reset. */
    assert_true(err == TERN_ERR_IO || err == TERN_ERR_CLOSED);
    assert_true(tern_broker_log_wait(&b, "tern-fixture-extra disconnected due to oversize", 2000));
    tern_posix_tcp_close(&c.tcp);
    tern_broker_close(&b);
}

int main(void)
{
    tern_test_net_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_keeps_persisted_data),
        cmocka_unit_test(test_restart_without_persistence_forgets),
        cmocka_unit_test(test_pause_and_resume),
        cmocka_unit_test(test_kill),
        cmocka_unit_test(test_extra_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
