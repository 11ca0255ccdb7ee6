/* SPDX-License-Identifier: Apache-2.0 */
/* The mbedTLS transport against mosquitto's TLS listeners (and openssl s_server for
 * ALPN): verification, mTLS, fragment length, data path, close, timeouts, misuse. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/ssl.h>
#include <mbedtls/x509.h>

#include "tern/port/posix_net.h"
#include "tern_broker.h"
#include "tern_test.h"
#include "tern_test_net.h"
#include "tern_testpki.h"

/* The broker's TLS listeners, in config order. */
enum { L_SERVER_AUTH, L_MTLS, L_WRONG_NAME, L_EXPIRED, L_COUNT };

typedef struct fixture {
    tern_testpki_t pki;
    tern_broker_t broker;
} fixture_t;

static int group_setup(void **state)
{
    static fixture_t fx;
    tern_test_net_init();
    if (tern_testpki_make(&fx.pki) != TERN_OK) {
        return -1;
    }
    const tern_testpki_t *k = &fx.pki;
    tern_broker_config_t cfg;
    tern_broker_config_default(&cfg);
    cfg.ntls = L_COUNT;
    cfg.tls[L_SERVER_AUTH] = (tern_broker_tls_t){ k->ca.crt, k->server.crt, k->server.key, false };
    cfg.tls[L_MTLS] = (tern_broker_tls_t){ k->ca.crt, k->server.crt, k->server.key, true };
    cfg.tls[L_WRONG_NAME] =
        (tern_broker_tls_t){ k->ca.crt, k->wrongname.crt, k->wrongname.key, false };
    cfg.tls[L_EXPIRED] = (tern_broker_tls_t){ k->ca.crt, k->expired.crt, k->expired.key, false };
    if (tern_broker_start(&fx.broker, &cfg) != TERN_OK) {
        tern_testpki_remove(&fx.pki);
        return -1;
    }
    *state = &fx;
    return 0;
}

static int group_teardown(void **state)
{
    fixture_t *fx = *state;
    tern_broker_close(&fx->broker);
    tern_testpki_remove(&fx->pki);
    return 0;
}

/* A session under test: TCP, TLS over it, and the TLS stream. */
typedef tern_test_tls_conn_t conn_t;

/* The usual client: trusts the test CA, expects "localhost". */
static tern_posix_tls_config_t client_config(const fixture_t *fx)
{
    tern_posix_tls_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ca_file = fx->pki.ca.crt;
    cfg.hostname = "localhost";
    return cfg;
}

/* Connect and handshake with the broker's TLS listener @p listener; returns the result. */
static tern_err_t conn_open(conn_t *c, fixture_t *fx, int listener,
                            const tern_posix_tls_config_t *cfg)
{
    return tern_test_tls_conn_open(c, fx->broker.tls_port[listener], cfg);
}

static void conn_close(conn_t *c)
{
    tern_test_tls_conn_close(c);
    tern_posix_tls_close(&c->tls); /* twice is harmless */
}

/* The handshake fails on the certificate with exactly @p flags. */
static void expect_cert_failure(fixture_t *fx, int listener, const tern_posix_tls_config_t *cfg,
                                uint32_t flags)
{
    conn_t c;
    assert_int_equal(conn_open(&c, fx, listener, cfg), TERN_ERR_CERT);
    assert_int_equal(tern_posix_tls_verify_flags(&c.tls), flags);
    assert_int_equal(tern_posix_tls_mbedtls_error(&c.tls), MBEDTLS_ERR_X509_CERT_VERIFY_FAILED);
    assert_int_equal(tern_posix_tls_poll(&c.tls, tern_test_now_ms()), TERN_ERR_CERT); /* final */
    size_t n = 99;
    assert_int_equal(c.tr.ops->send(c.tr.ctx, (const uint8_t *)"x", 1, &n), TERN_ERR_CERT);
    assert_int_equal(n, 0);
    char why[512];
    assert_int_equal(tern_posix_tls_describe(&c.tls, why, sizeof why), TERN_OK);
    assert_non_null(strstr(why, "TERN_ERR_CERT"));
    assert_non_null(strstr(why, "verify:"));
    assert_int_equal(tern_posix_tls_describe(&c.tls, why, 8), TERN_ERR_TOO_SMALL);
    assert_int_equal(strlen(why), 7); /* cut, but terminated */
    conn_close(&c);
}

/* Server authentication against mosquitto, an MQTT CONNECT/CONNACK through it, then the
 * broker closes the session after DISCONNECT: close_notify gives TERN_ERR_CLOSED. */
static void test_server_auth_and_data(void **state)
{
    fixture_t *fx = *state;
    tern_posix_tls_config_t cfg = client_config(fx);
    conn_t c;
    assert_int_equal(conn_open(&c, fx, L_SERVER_AUTH, &cfg), TERN_OK);
    assert_int_equal(tern_posix_tls_verify_flags(&c.tls), 0);
    assert_int_equal(tern_posix_tls_mbedtls_error(&c.tls), 0);
    assert_null(tern_posix_tls_alpn(&c.tls)); /* none offered */
    assert_string_equal(c.tr.ops->name, "posix-mbedtls");
    assert_int_equal(tern_test_mqtt_hello(&c.tr, c.fd, "tern-tls-auth"), TERN_OK);
    assert_false(tern_posix_tls_has_buffered(&c.tls));
    assert_int_equal(tern_posix_tls_flush(&c.tls), TERN_OK);

    static const uint8_t k_disconnect[2] = { 0xE0, 0x00 };
    assert_int_equal(tern_test_send_all(&c.tr, c.fd, k_disconnect, 2, 2000), TERN_OK);
    assert_int_equal(tern_test_recv_until_error(&c.tr, c.fd, 5000), TERN_ERR_CLOSED);
    assert_int_equal(tern_posix_tls_mbedtls_error(&c.tls), MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY);
    size_t n = 99;
    uint8_t b[4];
    assert_int_equal(c.tr.ops->recv(c.tr.ctx, b, sizeof b, &n), TERN_ERR_CLOSED);
    assert_int_equal(c.tr.ops->send(c.tr.ctx, b, sizeof b, &n), TERN_ERR_CLOSED);
    conn_close(&c);
}

static void test_wrong_ca(void **state)
{
    fixture_t *fx = *state;
    tern_posix_tls_config_t cfg = client_config(fx);
    cfg.ca_file = fx->pki.other_ca.crt;
    expect_cert_failure(fx, L_SERVER_AUTH, &cfg, MBEDTLS_X509_BADCERT_NOT_TRUSTED);
}

static void test_wrong_hostname(void **state)
{
    fixture_t *fx = *state;
    tern_posix_tls_config_t cfg = client_config(fx);
    cfg.hostname = "not-localhost.example";
    expect_cert_failure(fx, L_SERVER_AUTH, &cfg, MBEDTLS_X509_BADCERT_CN_MISMATCH);
    /* The other way round: a trusted certificate that names another host. */
    cfg.hostname = "localhost";
    expect_cert_failure(fx, L_WRONG_NAME, &cfg, MBEDTLS_X509_BADCERT_CN_MISMATCH);
}

static void test_expired_certificate(void **state)
{
    fixture_t *fx = *state;
    tern_posix_tls_config_t cfg = client_config(fx);
    expect_cert_failure(fx, L_EXPIRED, &cfg, MBEDTLS_X509_BADCERT_EXPIRED);
}

/* The broker requires a client certificate: none, or one from an unknown CA, is refused by
 * the broker's alert (TERN_ERR_TLS); ours passes and carries MQTT. */
static void test_mutual_tls(void **state)
{
    fixture_t *fx = *state;
    tern_posix_tls_config_t cfg = client_config(fx);
    conn_t c;
    assert_int_equal(conn_open(&c, fx, L_MTLS, &cfg), TERN_ERR_TLS);
    assert_int_equal(tern_posix_tls_mbedtls_error(&c.tls), MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE);
    assert_int_equal(tern_posix_tls_verify_flags(&c.tls), 0); /* the server itself was fine */
    conn_close(&c);

    cfg.cert_file = fx->pki.other_client.crt;
    cfg.key_file = fx->pki.other_client.key;
    assert_int_equal(conn_open(&c, fx, L_MTLS, &cfg), TERN_ERR_TLS);
    assert_int_equal(tern_posix_tls_mbedtls_error(&c.tls), MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE);
    conn_close(&c);

    cfg.cert_file = fx->pki.client.crt;
    cfg.key_file = fx->pki.client.key;
    assert_int_equal(conn_open(&c, fx, L_MTLS, &cfg), TERN_OK);
    assert_int_equal(tern_test_mqtt_hello(&c.tr, c.fd, "tern-tls-mtls"), TERN_OK);
    conn_close(&c);
}

/* mosquitto 2.0 does not do ALPN: offering it must not break the handshake. */
static void test_alpn_offered_to_mosquitto(void **state)
{
    fixture_t *fx = *state;
    static const char *const k_alpn[] = { "mqtt", "x-tern", NULL };
    tern_posix_tls_config_t cfg = client_config(fx);
    cfg.alpn = k_alpn;
    conn_t c;
    assert_int_equal(conn_open(&c, fx, L_SERVER_AUTH, &cfg), TERN_OK);
    const char *chosen = tern_posix_tls_alpn(&c.tls);
    assert_true(chosen == NULL || strcmp(chosen, "mqtt") == 0);
    assert_int_equal(tern_test_mqtt_hello(&c.tr, c.fd, "tern-tls-alpn"), TERN_OK);
    conn_close(&c);
}

/* A server that does ALPN (openssl s_server) picks "mqtt" from our list, and we see it. */
static void test_alpn_negotiated(void **state)
{
    fixture_t *fx = *state;
    uint16_t port = 0;
    int probe = tern_test_listen("127.0.0.1", 1, &port);
    assert_true(probe >= 0);
    close(probe);
    char accept_arg[32], log[TERN_TESTPKI_PATH + 16];
    snprintf(accept_arg, sizeof accept_arg, "127.0.0.1:%u", (unsigned)port);
    snprintf(log, sizeof log, "%s/s_server.log", fx->pki.dir);
    char *argv[] = {
        TERN_OPENSSL_PATH,  "s_server", "-quiet",           "-accept", accept_arg, "-cert",
        fx->pki.server.crt, "-key",     fx->pki.server.key, "-alpn",   "mqtt",     NULL
    };
    tern_proc_t server = { 0, 0 };
    assert_int_equal(tern_proc_spawn(&server, argv, log), TERN_OK);
    bool up = false;
    for (int i = 0; i < 500 && tern_proc_alive(&server); i++) {
        if ((up = tern_test_port_accepts("127.0.0.1", port, 200))) {
            break;
        }
        tern_proc_sleep_ms(10);
    }
    assert_true(up);

    static const char *const k_alpn[] = { "x-other", "mqtt", NULL };
    tern_posix_tls_config_t cfg = client_config(fx);
    cfg.alpn = k_alpn;
    conn_t c;
    assert_int_equal(tern_test_tls_connect(&c.tcp, &c.tls, "127.0.0.1", port, &cfg), TERN_OK);
    assert_non_null(tern_posix_tls_alpn(&c.tls));
    assert_string_equal(tern_posix_tls_alpn(&c.tls), "mqtt");
    conn_close(&c);
    tern_proc_stop(&server, 2000);
}

/* SUBSCRIBE to a topic, PUBLISH @p len bytes to it, and get the same PUBLISH back. */
static void publish_roundtrip(conn_t *c, const char *topic, size_t len)
{
    uint8_t sub[64], suback[5];
    static const uint8_t k_suback[5] = { 0x90, 0x03, 0x00, 0x01, 0x00 };
    size_t n = tern_test_mqtt_subscribe(sub, sizeof sub, 1, topic);
    assert_true(n > 0);
    assert_int_equal(tern_test_send_all(&c->tr, c->fd, sub, n, 5000), TERN_OK);
    assert_int_equal(tern_test_recv_exact(&c->tr, c->fd, suback, sizeof suback, 5000), TERN_OK);
    assert_memory_equal(suback, k_suback, sizeof suback);

    uint8_t *payload = malloc(len), *pkt = malloc(len + 64), *back = malloc(len + 64);
    assert_non_null(payload);
    assert_non_null(pkt);
    assert_non_null(back);
    for (size_t i = 0; i < len; i++) {
        payload[i] = (uint8_t)(i ^ (i >> 8));
    }
    n = tern_test_mqtt_publish(pkt, len + 64, topic, payload, len, false);
    assert_true(n > len);
    assert_int_equal(tern_test_send_all(&c->tr, c->fd, pkt, n, 10000), TERN_OK);
    assert_int_equal(tern_test_tls_flush(&c->tls, c->fd, 10000), TERN_OK);
    /* QoS 0, no retain: the broker forwards the very same bytes. */
    assert_int_equal(tern_test_recv_exact(&c->tr, c->fd, back, n, 10000), TERN_OK);
    assert_memory_equal(back, pkt, n);
    free(payload);
    free(pkt);
    free(back);
}

/* A 1024-byte maximum fragment length is negotiated and messages much larger cross it
 * intact. At 512 the server must split its first flight across records, and mbedTLS 2.28
 * cannot reassemble a handshake message split so: that fails, as a TLS error. */
static void test_max_fragment_length(void **state)
{
    fixture_t *fx = *state;
    tern_posix_tls_config_t cfg = client_config(fx);
    cfg.max_fragment_len = 1024;
    conn_t c;
    assert_int_equal(conn_open(&c, fx, L_SERVER_AUTH, &cfg), TERN_OK);
    assert_int_equal(tern_test_mqtt_hello(&c.tr, c.fd, "tern-tls-mfl"), TERN_OK);
    publish_roundtrip(&c, "tern/mfl", 3000);
    conn_close(&c);

    cfg.max_fragment_len = 512;
    assert_int_equal(conn_open(&c, fx, L_SERVER_AUTH, &cfg), TERN_ERR_TLS);
    assert_int_equal(tern_posix_tls_mbedtls_error(&c.tls), MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE);
    conn_close(&c);
}

/* A lower stream that moves at most 7 bytes per call, and nothing on every other call in
 * each direction. */
typedef struct throttle {
    tern_transport_t lower;
    unsigned sends, recvs;
} throttle_t;

static bool throttle_turn(unsigned *calls, size_t *len)
{
    *len = *len < 7 ? *len : 7;
    return ++*calls % 2 != 0;
}

static tern_err_t throttle_send(void *ctx, const uint8_t *buf, size_t len, size_t *sent)
{
    throttle_t *t = ctx;
    *sent = 0;
    return throttle_turn(&t->sends, &len) ? t->lower.ops->send(t->lower.ctx, buf, len, sent)
                                          : TERN_OK;
}

static tern_err_t throttle_recv(void *ctx, uint8_t *buf, size_t cap, size_t *got)
{
    throttle_t *t = ctx;
    *got = 0;
    return throttle_turn(&t->recvs, &cap) ? t->lower.ops->recv(t->lower.ctx, buf, cap, got)
                                          : TERN_OK;
}

static const tern_transport_ops_t k_throttle_ops = { "throttle", throttle_send, throttle_recv };

/* TLS over a stream other than our TCP, one that is stingy at every call: the handshake,
 * MQTT and a publish of several records all get through, with output queued in between. */
static void test_over_throttled_transport(void **state)
{
    fixture_t *fx = *state;
    conn_t c;
    assert_int_equal(
        tern_test_tcp_connect(&c.tcp, "127.0.0.1", fx->broker.tls_port[L_SERVER_AUTH], NULL),
        TERN_OK);
    throttle_t th = { tern_posix_tcp_transport(&c.tcp), 0, 0 };
    tern_transport_t lower = { &k_throttle_ops, &th };
    tern_posix_tls_config_t cfg = client_config(fx);
    assert_int_equal(tern_posix_tls_open(&c.tls, &lower, &cfg), TERN_OK);
    c.fd = tern_posix_tcp_fd(&c.tcp);
    c.tr = tern_posix_tls_transport(&c.tls);
    assert_int_equal(tern_test_tls_handshake(&c.tls, c.fd), TERN_OK);
    assert_int_equal(tern_test_mqtt_hello(&c.tr, c.fd, "tern-tls-throttle"), TERN_OK);

    /* One send takes a whole record although the stream below took 7 bytes at most. */
    static uint8_t payload[19000], big[20000];
    size_t n = tern_test_mqtt_publish(big, sizeof big, "tern/none", payload, sizeof payload, false);
    size_t sent = 0;
    assert_int_equal(c.tr.ops->send(c.tr.ctx, big, n, &sent), TERN_OK);
    assert_true(sent > 7);
    assert_true(tern_posix_tls_want_write(&c.tls));
    size_t again = 99;
    assert_int_equal(c.tr.ops->send(c.tr.ctx, big + sent, n - sent, &again), TERN_OK);
    assert_int_equal(again, 0); /* earlier bytes go first */
    assert_int_equal(tern_test_tls_flush(&c.tls, c.fd, 10000), TERN_OK);
    assert_false(tern_posix_tls_want_write(&c.tls));
    assert_int_equal(tern_test_send_all(&c.tr, c.fd, big + sent, n - sent, 10000), TERN_OK);

    publish_roundtrip(&c, "tern/throttle", 40000);
    conn_close(&c);
}

/* A TCP peer that never answers the ClientHello: the handshake times out on our deadline. */
static void test_handshake_timeout(void **state)
{
    fixture_t *fx = *state;
    uint16_t port = 0;
    int lfd = tern_test_listen("127.0.0.1", 4, &port); /* the kernel accepts; nobody speaks */
    assert_true(lfd >= 0);
    tern_posix_tls_config_t cfg = client_config(fx);
    cfg.handshake_timeout_ms = 300;
    conn_t c;
    tern_ms_t start = tern_test_now_ms();
    assert_int_equal(tern_test_tls_connect(&c.tcp, &c.tls, "127.0.0.1", port, &cfg),
                     TERN_ERR_TIMEOUT);
    uint32_t elapsed = tern_time_elapsed(tern_test_now_ms(), start);
    assert_true(elapsed >= 300);
    assert_true(elapsed < 3000);
    assert_int_equal(tern_posix_tls_poll(&c.tls, tern_test_now_ms()), TERN_ERR_TIMEOUT);
    conn_close(&c);
    close(lfd);
}

/* A peer that hangs up during the handshake: the lower stream's error, not a TLS one. */
static void test_peer_closes_during_handshake(void **state)
{
    fixture_t *fx = *state;
    uint16_t port = 0;
    int lfd = tern_test_listen("127.0.0.1", 4, &port);
    assert_true(lfd >= 0);
    tern_posix_tls_config_t cfg = client_config(fx);
    conn_t c;
    c.tls.s = NULL;
    assert_int_equal(tern_test_tcp_connect(&c.tcp, "127.0.0.1", port, NULL), TERN_OK);
    int sfd = tern_test_accept(lfd, 2000);
    assert_true(sfd >= 0);
    close(sfd);
    tern_transport_t lower = tern_posix_tcp_transport(&c.tcp);
    assert_int_equal(tern_posix_tls_open(&c.tls, &lower, &cfg), TERN_OK);
    tern_err_t err = tern_test_tls_handshake(&c.tls, tern_posix_tcp_fd(&c.tcp));
    /* Closed before or after our ClientHello reached it: end of stream or a reset. */
    assert_true(err == TERN_ERR_CLOSED || err == TERN_ERR_IO);
    conn_close(&c);
    close(lfd);
}

/* Configuration mistakes are refused at open, with the error that says which. */
static void test_bad_configuration(void **state)
{
    fixture_t *fx = *state;
    tern_posix_tcp_t tcp;
    memset(&tcp, 0, sizeof tcp); /* open never touches the stream */
    tern_transport_t lower = tern_posix_tcp_transport(&tcp);
    tern_posix_tls_t tls;
    const tern_posix_tls_config_t cfg = client_config(fx);
    const char *ca = fx->pki.ca.crt, *crt = fx->pki.client.crt, *host = "localhost";
    char garbage[TERN_TESTPKI_PATH + 16];
    snprintf(garbage, sizeof garbage, "%s/garbage.pem", fx->pki.dir);
    FILE *f = fopen(garbage, "w");
    assert_non_null(f);
    fputs("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n", f);
    fclose(f);
    static const char *const k_empty_name[] = { "mqtt", "", NULL };
    const struct {
        tern_posix_tls_config_t cfg;
        tern_err_t want;
    } cases[] = {
        { { .hostname = host }, TERN_ERR_INVAL },                                  /* no CA */
        { { .ca_file = ca, .hostname = "" }, TERN_ERR_INVAL },                     /* no host */
        { { .ca_file = ca, .hostname = host, .cert_file = crt }, TERN_ERR_INVAL }, /* no key */
        { { .ca_file = ca, .hostname = host, .max_fragment_len = 300 }, TERN_ERR_INVAL },
        { { .ca_file = ca, .hostname = host, .alpn = k_empty_name }, TERN_ERR_INVAL },
        { { .ca_file = "/nonexistent/ca.crt", .hostname = host }, TERN_ERR_IO },
        { { .ca_file = garbage, .hostname = host }, TERN_ERR_MALFORMED },
        /* a certificate is no key */
        { { .ca_file = ca, .hostname = host, .cert_file = crt, .key_file = crt },
          TERN_ERR_MALFORMED },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&tls, 0xA5, sizeof tls); /* open must reset it on failure */
        tern_err_t err = tern_posix_tls_open(&tls, &lower, &cases[i].cfg);
        if (err != cases[i].want) {
            printf("case %zu: %s\n", i, tern_err_name(err));
        }
        assert_int_equal(err, cases[i].want);
        assert_null(tls.s);
    }
    assert_int_equal(tern_posix_tls_open(&tls, NULL, &cfg), TERN_ERR_INVAL);
    assert_int_equal(tern_posix_tls_open(&tls, &lower, NULL), TERN_ERR_INVAL);

    /* A session that never started: calls fail cleanly. */
    memset(&tls, 0, sizeof tls);
    assert_int_equal(tern_posix_tls_poll(&tls, 0), TERN_ERR_STATE);
    assert_int_equal(tern_posix_tls_flush(&tls), TERN_ERR_STATE);
    assert_false(tern_posix_tls_want_write(&tls));
    assert_false(tern_posix_tls_has_buffered(&tls));
    assert_null(tern_posix_tls_alpn(&tls));
    tern_transport_t none = tern_posix_tls_transport(&tls);
    uint8_t byte;
    size_t moved = 99;
    assert_int_equal(none.ops->recv(none.ctx, &byte, 1, &moved), TERN_ERR_STATE);
    assert_int_equal(moved, 0);
    tern_posix_tls_close(&tls);

    /* Opened but not handshaken: the stream refuses I/O. */
    assert_int_equal(tern_posix_tls_open(&tls, &lower, &cfg), TERN_OK);
    tern_transport_t tr = tern_posix_tls_transport(&tls);
    size_t n = 99;
    uint8_t b[4] = { 0 };
    assert_int_equal(tr.ops->send(tr.ctx, b, sizeof b, &n), TERN_ERR_STATE);
    assert_int_equal(tr.ops->recv(tr.ctx, b, sizeof b, &n), TERN_ERR_STATE);
    assert_int_equal(tern_posix_tls_flush(&tls), TERN_ERR_STATE);
    tern_posix_tls_close(&tls);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_auth_and_data),
        cmocka_unit_test(test_wrong_ca),
        cmocka_unit_test(test_wrong_hostname),
        cmocka_unit_test(test_expired_certificate),
        cmocka_unit_test(test_mutual_tls),
        cmocka_unit_test(test_alpn_offered_to_mosquitto),
        cmocka_unit_test(test_alpn_negotiated),
        cmocka_unit_test(test_max_fragment_length),
        cmocka_unit_test(test_over_throttled_transport),
        cmocka_unit_test(test_handshake_timeout),
        cmocka_unit_test(test_peer_closes_during_handshake),
        cmocka_unit_test(test_bad_configuration),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
