/* SPDX-License-Identifier: Apache-2.0 */
/* The POSIX TCP transport against a real mosquitto and against test sockets:
 * IPv4, IPv6, names, source addresses, refusal, timeout, partial I/O, close, reset. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tern/port/posix_net.h"
#include "tern_broker.h"
#include "tern_test.h"
#include "tern_test_net.h"

typedef struct fixture {
    tern_broker_t broker;
    bool ipv6;
} fixture_t;

static int group_setup(void **state)
{
    static fixture_t fx;
    tern_test_net_init();
    tern_broker_config_t cfg;
    tern_broker_config_default(&cfg);
    fx.ipv6 = tern_test_have_ipv6();
    cfg.ipv6 = fx.ipv6;
    if (tern_broker_start(&fx.broker, &cfg) != TERN_OK) {
        return -1;
    }
    *state = &fx;
    return 0;
}

static int group_teardown(void **state)
{
    fixture_t *fx = *state;
    tern_broker_close(&fx->broker);
    return 0;
}

/* Connect to @p host at the broker, check the socket, speak MQTT CONNECT/CONNACK over it. */
static void connect_and_hello(fixture_t *fx, const char *host, const tern_posix_tcp_opts_t *opts,
                              const char *client_id)
{
    tern_posix_tcp_t t;
    assert_int_equal(tern_test_tcp_connect(&t, host, fx->broker.port, opts), TERN_OK);
    int fd = tern_posix_tcp_fd(&t);
    assert_true(fd >= 0);
    int nodelay = 0;
    socklen_t len = sizeof nodelay;
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
    assert_int_equal(nodelay, 1);
    assert_true((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
    assert_int_equal(tern_posix_tcp_poll(&t, tern_test_now_ms()), TERN_OK); /* stays connected */

    tern_transport_t tr = tern_posix_tcp_transport(&t);
    assert_string_equal(tr.ops->name, "posix-tcp");
    tern_err_t err = tern_test_mqtt_hello(&tr, fd, client_id);
    if (err != TERN_OK) {
        tern_broker_print_log(&fx->broker);
    }
    assert_int_equal(err, TERN_OK);
    tern_posix_tcp_close(&t);
    assert_int_equal(tern_posix_tcp_fd(&t), -1);
}

static void test_ipv4_mqtt_connack(void **state)
{
    connect_and_hello(*state, "127.0.0.1", NULL, "tern-tcp-v4");
}

static void test_ipv6_mqtt_connack(void **state)
{
    fixture_t *fx = *state;
    if (!fx->ipv6) {
        printf("SKIP: this kernel has no IPv6 loopback (::1)\n");
        skip();
    }
    tern_posix_tcp_opts_t o;
    tern_posix_tcp_opts_default(&o);
    o.family = TERN_POSIX_FAMILY_IPV6;
    connect_and_hello(fx, "::1", &o, "tern-tcp-v6");
}

static void test_name_host(void **state)
{
    connect_and_hello(*state, "localhost", NULL, "tern-tcp-name");
}

/* The broker sees the connection come from the source address we asked for. */
static void test_source_address(void **state)
{
    fixture_t *fx = *state;
    tern_posix_tcp_opts_t o;
    tern_posix_tcp_opts_default(&o);
    o.bind_addr = "127.0.0.2";
    connect_and_hello(fx, "127.0.0.1", &o, "tern-tcp-src");
    bool seen = tern_broker_log_wait(&fx->broker, "New client connected from 127.0.0.2:", 2000);
    if (!seen) {
        tern_broker_print_log(&fx->broker);
    }
    assert_true(seen);

    /* And a plain peer sees it too, from its own accept(). */
    uint16_t port = 0;
    int lfd = tern_test_listen("127.0.0.1", 4, &port);
    assert_true(lfd >= 0);
    tern_posix_tcp_t t;
    assert_int_equal(tern_test_tcp_connect(&t, "127.0.0.1", port, &o), TERN_OK);
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    assert_true(tern_test_wait_fd(lfd, POLLIN, 2000));
    int sfd = accept(lfd, (struct sockaddr *)&peer, &len);
    assert_true(sfd >= 0);
    char text[INET_ADDRSTRLEN];
    assert_non_null(inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text));
    assert_string_equal(text, "127.0.0.2");
    close(sfd);
    close(lfd);
    tern_posix_tcp_close(&t);
}

/* A port nobody listens on: the connect fails as refused, not as a timeout. */
static void test_refused(void **state)
{
    (void)state;
    uint16_t port = 0;
    int fd = tern_test_listen("127.0.0.1", 1, &port);
    assert_true(fd >= 0);
    close(fd); /* the port is now free and closed */
    tern_posix_tcp_t t;
    assert_int_equal(tern_test_tcp_connect(&t, "127.0.0.1", port, NULL), TERN_ERR_CONNECT);
    assert_int_equal(tern_posix_tcp_errno(&t), ECONNREFUSED);
    assert_int_equal(tern_posix_tcp_poll(&t, tern_test_now_ms()), TERN_ERR_CONNECT); /* final */
    assert_int_equal(tern_posix_tcp_fd(&t), -1);
    tern_posix_tcp_close(&t);
}

/* A listener whose accept queue is full drops SYNs: the connect hangs until our deadline. */
static void test_timeout_when_syn_unanswered(void **state)
{
    (void)state;
    uint16_t port = 0;
    int lfd = tern_test_listen("127.0.0.1", 0, &port);
    assert_true(lfd >= 0);
    tern_posix_tcp_t fill[8];
    size_t nfill = 0;
    tern_posix_tcp_opts_t o;
    tern_posix_tcp_opts_default(&o);
    o.timeout_ms = 200;
    /* Fill the queue (never accepted) until a connect no longer completes. */
    tern_err_t err = TERN_OK;
    while (err == TERN_OK && nfill < 8) {
        err = tern_test_tcp_connect(&fill[nfill++], "127.0.0.1", port, &o);
    }
    assert_int_equal(err, TERN_ERR_TIMEOUT);
    assert_true(nfill >= 2); /* at least one was queued before */

    o.timeout_ms = 300;
    tern_posix_tcp_t t;
    tern_ms_t start = tern_test_now_ms();
    assert_int_equal(tern_test_tcp_connect(&t, "127.0.0.1", port, &o), TERN_ERR_TIMEOUT);
    uint32_t elapsed = tern_time_elapsed(tern_test_now_ms(), start);
    assert_true(elapsed >= 300);
    assert_true(elapsed < 3000);
    assert_int_equal(tern_posix_tcp_errno(&t), ETIMEDOUT);
    tern_posix_tcp_close(&t);
    for (size_t i = 0; i < nfill; i++) {
        tern_posix_tcp_close(&fill[i]);
    }
    close(lfd);
}

/* A connected pair: our transport on one side, a plain non-blocking socket on the other. */
typedef struct pair {
    tern_posix_tcp_t t;
    tern_transport_t tr;
    int peer;
} pair_t;

static void pair_open(pair_t *p, const tern_posix_tcp_opts_t *opts, int peer_rcvbuf)
{
    uint16_t port = 0;
    int lfd = tern_test_listen("127.0.0.1", 4, &port);
    assert_true(lfd >= 0);
    if (peer_rcvbuf > 0) { /* accepted sockets inherit it, before the window is advertised */
        assert_int_equal(setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &peer_rcvbuf, sizeof peer_rcvbuf),
                         0);
    }
    assert_int_equal(tern_test_tcp_connect(&p->t, "127.0.0.1", port, opts), TERN_OK);
    p->peer = tern_test_accept(lfd, 2000);
    assert_true(p->peer >= 0);
    assert_int_equal(fcntl(p->peer, F_SETFL, O_NONBLOCK), 0);
    close(lfd);
    p->tr = tern_posix_tcp_transport(&p->t);
}

static void pair_close(pair_t *p)
{
    if (p->peer >= 0) {
        close(p->peer);
    }
    tern_posix_tcp_close(&p->t);
}

/* A pair for moving @p total bytes: @p out holds a pattern, @p in receives it. */
typedef struct bulk {
    pair_t p;
    uint8_t *out, *in;
    size_t total;
} bulk_t;

/* Open a pair with our socket's buffers (0: OS default) and the peer's receive buffer. */
static void bulk_open(bulk_t *b, size_t total, int sndbuf, int rcvbuf, int peer_rcvbuf)
{
    b->total = total;
    b->out = malloc(total);
    b->in = malloc(total);
    assert_non_null(b->out);
    assert_non_null(b->in);
    for (size_t i = 0; i < total; i++) {
        b->out[i] = (uint8_t)(i * 7u + (i >> 11));
    }
    tern_posix_tcp_opts_t o;
    tern_posix_tcp_opts_default(&o);
    o.sndbuf = sndbuf;
    o.rcvbuf = rcvbuf;
    pair_open(&b->p, &o, peer_rcvbuf);
}

/* Check every byte arrived once, in order, and release the pair. */
static void bulk_close(bulk_t *b)
{
    assert_memory_equal(b->in, b->out, b->total);
    pair_close(&b->p);
    free(b->out);
    free(b->in);
}

/* Tiny buffers on both sides: sends move part of what is asked, then nothing, and every
 * byte still arrives once, in order. */
static void test_partial_sends(void **state)
{
    (void)state;
    bulk_t b;
    bulk_open(&b, 1u << 20, 4096, 0, 4096);
    tern_transport_t *tr = &b.p.tr;
    size_t sent = 0, got = 0, partial = 0, refused = 0;
    tern_ms_t deadline = tern_deadline_in(tern_test_now_ms(), 20000);
    while (got < b.total) {
        assert_false(tern_deadline_passed(tern_test_now_ms(), deadline));
        size_t n = 0;
        if (sent < b.total) {
            assert_int_equal(tr->ops->send(tr->ctx, b.out + sent, b.total - sent, &n), TERN_OK);
            partial += n > 0 && n < b.total - sent;
            refused += n == 0;
            sent += n;
        }
        /* The peer reads only once the sender is stuck, so the buffers really fill. */
        if (n == 0 || sent == b.total) {
            ssize_t r = read(b.p.peer, b.in + got, b.total - got);
            if (r > 0) {
                got += (size_t)r;
            } else {
                tern_test_wait_fd(b.p.peer, POLLIN, 10);
            }
        }
    }
    assert_int_equal(sent, b.total);
    assert_true(partial >= 1);
    assert_true(refused >= 1);
    bulk_close(&b);
}

/* Receives never block (0 bytes when nothing has arrived) nor move more than asked, and
 * a stream larger than the receive buffer arrives whole, in order. */
static void test_partial_recvs(void **state)
{
    (void)state;
    enum { CAP = 1000 };
    bulk_t b;
    bulk_open(&b, 256u * 1024u, 0, 4096, 0);
    tern_transport_t *tr = &b.p.tr;
    size_t n = 99;
    assert_int_equal(tr->ops->recv(tr->ctx, b.in, CAP, &n), TERN_OK);
    assert_int_equal(n, 0); /* nothing sent yet: nothing, at once */

    size_t sent = 0, got = 0;
    tern_ms_t deadline = tern_deadline_in(tern_test_now_ms(), 20000);
    while (got < b.total) {
        assert_false(tern_deadline_passed(tern_test_now_ms(), deadline));
        ssize_t w = sent < b.total ? write(b.p.peer, b.out + sent, b.total - sent) : 0;
        sent += w > 0 ? (size_t)w : 0;
        do {
            n = 99999;
            assert_int_equal(tr->ops->recv(tr->ctx, b.in + got, CAP, &n), TERN_OK);
            assert_true(n <= CAP);
            got += n;
        } while (n > 0 && got < b.total);
        if (n == 0) {
            tern_test_wait_fd(tern_posix_tcp_fd(&b.p.t), POLLIN, 10);
        }
    }
    bulk_close(&b);
}

/* The peer closes: recv says CLOSED (and keeps saying it), and a send afterwards fails
 * without SIGPIPE (the setup restores its default action, which would kill the test). */
static void test_peer_close(void **state)
{
    (void)state;
    pair_t p;
    pair_open(&p, NULL, 0);
    static const uint8_t k_hi[] = "bye";
    assert_int_equal(write(p.peer, k_hi, 3), 3);
    close(p.peer);
    p.peer = -1;
    int fd = tern_posix_tcp_fd(&p.t);
    uint8_t buf[8];
    assert_int_equal(tern_test_recv_exact(&p.tr, fd, buf, 3, 2000), TERN_OK); /* data first */
    assert_memory_equal(buf, k_hi, 3);
    assert_int_equal(tern_test_recv_until_error(&p.tr, fd, 2000), TERN_ERR_CLOSED);
    size_t n = 99;
    assert_int_equal(p.tr.ops->recv(p.tr.ctx, buf, sizeof buf, &n), TERN_ERR_CLOSED);
    assert_int_equal(n, 0);

    /* The first write still leaves (the peer answers it with a reset); then the stream is dead. */
    tern_err_t err = TERN_OK;
    for (int i = 0; i < 100 && err == TERN_OK; i++) {
        err = p.tr.ops->send(p.tr.ctx, k_hi, 3, &n);
        tern_proc_sleep_ms(5);
    }
    assert_int_equal(err, TERN_ERR_CLOSED);
    assert_int_equal(tern_posix_tcp_errno(&p.t), EPIPE);
    pair_close(&p);
}

/* The peer resets the connection: recv says IO (ECONNRESET), later sends fail, no SIGPIPE. */
static void test_peer_reset(void **state)
{
    (void)state;
    pair_t p;
    pair_open(&p, NULL, 0);
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    assert_int_equal(setsockopt(p.peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(p.peer); /* linger 0: RST instead of FIN */
    p.peer = -1;
    int fd = tern_posix_tcp_fd(&p.t);
    assert_int_equal(tern_test_recv_until_error(&p.tr, fd, 2000), TERN_ERR_IO);
    assert_int_equal(tern_posix_tcp_errno(&p.t), ECONNRESET);
    size_t n = 99;
    tern_err_t err = p.tr.ops->send(p.tr.ctx, (const uint8_t *)"x", 1, &n);
    assert_true(err == TERN_ERR_CLOSED || err == TERN_ERR_IO);
    assert_int_equal(n, 0);
    pair_close(&p);
}

/* Misuse is refused with an error, never a crash. */
static void test_arguments_and_state(void **state)
{
    (void)state;
    tern_posix_tcp_t t;
    memset(&t, 0, sizeof t);
    if (fcntl(0, F_GETFD) < 0) {
        assert_int_equal(open("/dev/null", O_RDONLY), 0); /* so fd 0 exists to be spared */
    }
    tern_posix_tcp_close(&t); /* zeroed: a no-op, fd 0 is not ours to close */
    assert_true(fcntl(0, F_GETFD) >= 0);
    assert_int_equal(tern_posix_tcp_fd(&t), -1);
    assert_int_equal(tern_posix_tcp_poll(&t, 0), TERN_ERR_STATE);
    tern_transport_t tr = tern_posix_tcp_transport(&t);
    size_t n = 99;
    uint8_t b[4] = { 0 };
    assert_int_equal(tr.ops->send(tr.ctx, b, sizeof b, &n), TERN_ERR_STATE);
    assert_int_equal(tr.ops->recv(tr.ctx, b, sizeof b, &n), TERN_ERR_STATE);
    assert_int_equal(tr.ops->send(tr.ctx, NULL, 1, &n), TERN_ERR_INVAL);

    assert_int_equal(tern_posix_tcp_connect(&t, NULL, 1883, NULL), TERN_ERR_INVAL);
    assert_int_equal(tern_posix_tcp_connect(&t, "", 1883, NULL), TERN_ERR_INVAL);
    assert_int_equal(tern_posix_tcp_connect(&t, "127.0.0.1", 0, NULL), TERN_ERR_INVAL);
    tern_posix_tcp_opts_t o;
    tern_posix_tcp_opts_default(&o);
    o.bind_addr = "not-an-address";
    assert_int_equal(tern_posix_tcp_connect(&t, "127.0.0.1", 1883, &o), TERN_ERR_INVAL);
    tern_posix_tcp_opts_default(&o);
    o.family = (tern_posix_family_t)7;
    assert_int_equal(tern_posix_tcp_connect(&t, "127.0.0.1", 1883, &o), TERN_ERR_INVAL);
    /* A numeric host of the other family than asked for has no usable address. */
    tern_posix_tcp_opts_default(&o);
    o.family = TERN_POSIX_FAMILY_IPV6;
    assert_int_equal(tern_posix_tcp_connect(&t, "127.0.0.1", 1883, &o), TERN_ERR_RESOLVE);
    tern_posix_tcp_close(&t);
    tern_posix_tcp_close(&t); /* twice is fine */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_mqtt_connack),
        cmocka_unit_test(test_ipv6_mqtt_connack),
        cmocka_unit_test(test_name_host),
        cmocka_unit_test(test_source_address),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_timeout_when_syn_unanswered),
        cmocka_unit_test(test_partial_sends),
        cmocka_unit_test(test_partial_recvs),
        cmocka_unit_test(test_peer_close),
        cmocka_unit_test(test_peer_reset),
        cmocka_unit_test(test_arguments_and_state),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
