/* SPDX-License-Identifier: Apache-2.0 */
/* Loopback sockets, bounded waits and hand-written MQTT bytes for network tests. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* SOCK_CLOEXEC, accept4 */
#endif
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tern_test_net.h"

void tern_test_net_init(void)
{
    signal(SIGPIPE, SIG_DFL);
}

tern_ms_t tern_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (tern_ms_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

bool tern_test_wait_fd(int fd, short events, uint32_t timeout_ms)
{
    if (fd < 0) {
        struct timespec ts = { 0, (long)timeout_ms * 1000000L };
        nanosleep(&ts, NULL);
        return false;
    }
    struct pollfd p = { .fd = fd, .events = events, .revents = 0 };
    return poll(&p, 1, (int)timeout_ms) > 0;
}

/* A socket of @p addr's family bound to addr:*port (0: any), or -1. */
static int bound_socket(const char *addr, uint16_t *port)
{
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    if (getaddrinfo(addr, "0", &hints, &ai) != 0) {
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0 && ai->ai_family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (ai->ai_family == AF_INET6) {
        ((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_port = htons(*port);
    } else {
        ((struct sockaddr_in *)(void *)ai->ai_addr)->sin_port = htons(*port);
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (fd >= 0 && (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
                    getsockname(fd, (struct sockaddr *)&ss, &len) != 0)) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd >= 0) {
        *port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)(void *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)(void *)&ss)->sin_port);
    }
    return fd;
}

int tern_test_listen(const char *addr, int backlog, uint16_t *port)
{
    int fd = bound_socket(addr, port);
    if (fd >= 0 && listen(fd, backlog) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

int tern_test_accept(int lfd, uint32_t timeout_ms)
{
    if (!tern_test_wait_fd(lfd, POLLIN, timeout_ms)) {
        return -1;
    }
    return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

bool tern_test_have_ipv6(void)
{
    uint16_t port = 0;
    int fd = bound_socket("::1", &port);
    if (fd < 0) {
        return false;
    }
    close(fd);
    return true;
}

tern_err_t tern_test_tcp_connect(tern_posix_tcp_t *t, const char *host, uint16_t port,
                                 const tern_posix_tcp_opts_t *opts)
{
    tern_err_t err = tern_posix_tcp_connect(t, host, port, opts);
    if (err != TERN_OK) {
        return err;
    }
    while ((err = tern_posix_tcp_poll(t, tern_test_now_ms())) == TERN_ERR_AGAIN) {
        tern_test_wait_fd(tern_posix_tcp_fd(t), POLLOUT, 10);
    }
    return err;
}

bool tern_test_port_accepts(const char *addr, uint16_t port, uint32_t timeout_ms)
{
    tern_posix_tcp_t t;
    tern_posix_tcp_opts_t o;
    tern_posix_tcp_opts_default(&o);
    o.timeout_ms = timeout_ms;
    tern_err_t err = tern_test_tcp_connect(&t, addr, port, &o);
    tern_posix_tcp_close(&t);
    return err == TERN_OK;
}

tern_err_t tern_test_tls_handshake(tern_posix_tls_t *tls, int fd)
{
    tern_err_t err;
    while ((err = tern_posix_tls_poll(tls, tern_test_now_ms())) == TERN_ERR_AGAIN) {
        short events = POLLIN;
        if (tern_posix_tls_want_write(tls)) {
            events |= POLLOUT;
        }
        tern_test_wait_fd(fd, events, 10);
    }
    return err;
}

tern_err_t tern_test_tls_connect(tern_posix_tcp_t *tcp, tern_posix_tls_t *tls, const char *host,
                                 uint16_t port, const tern_posix_tls_config_t *cfg)
{
    tls->s = NULL;
    tern_err_t err = tern_test_tcp_connect(tcp, host, port, NULL);
    if (err == TERN_OK) {
        tern_transport_t lower = tern_posix_tcp_transport(tcp);
        err = tern_posix_tls_open(tls, &lower, cfg);
    }
    if (err == TERN_OK) {
        err = tern_test_tls_handshake(tls, tern_posix_tcp_fd(tcp));
    }
    return err;
}

tern_err_t tern_test_tls_flush(tern_posix_tls_t *tls, int fd, uint32_t timeout_ms)
{
    tern_ms_t deadline = tern_deadline_in(tern_test_now_ms(), timeout_ms);
    tern_err_t err;
    while ((err = tern_posix_tls_flush(tls)) == TERN_ERR_AGAIN) {
        if (tern_deadline_passed(tern_test_now_ms(), deadline)) {
            return TERN_ERR_TIMEOUT;
        }
        tern_test_wait_fd(fd, POLLOUT, 10);
    }
    return err;
}

/* Send @p out or, when it is NULL, receive into @p in: all @p len bytes, waiting between calls. */
static tern_err_t move_all(const tern_transport_t *tr, int fd, const uint8_t *out, uint8_t *in,
                           size_t len, uint32_t timeout_ms)
{
    tern_ms_t deadline = tern_deadline_in(tern_test_now_ms(), timeout_ms);
    size_t done = 0;
    while (done < len) {
        size_t n = 0;
        tern_err_t err = out != NULL ? tr->ops->send(tr->ctx, out + done, len - done, &n)
                                     : tr->ops->recv(tr->ctx, in + done, len - done, &n);
        if (err != TERN_OK) {
            return err;
        }
        done += n;
        if (n == 0) {
            if (tern_deadline_passed(tern_test_now_ms(), deadline)) {
                return TERN_ERR_TIMEOUT;
            }
            tern_test_wait_fd(fd, out != NULL ? POLLOUT : POLLIN, 10);
        }
    }
    return TERN_OK;
}

tern_err_t tern_test_send_all(const tern_transport_t *tr, int fd, const void *buf, size_t len,
                              uint32_t timeout_ms)
{
    return move_all(tr, fd, buf, NULL, len, timeout_ms);
}

tern_err_t tern_test_recv_exact(const tern_transport_t *tr, int fd, void *buf, size_t len,
                                uint32_t timeout_ms)
{
    return move_all(tr, fd, NULL, buf, len, timeout_ms);
}

tern_err_t tern_test_recv_until_error(const tern_transport_t *tr, int fd, uint32_t timeout_ms)
{
    uint8_t sink[512];
    tern_err_t err;
    do {
        err = tern_test_recv_exact(tr, fd, sink, sizeof sink, timeout_ms);
    } while (err == TERN_OK);
    return err;
}

/* ------------------------------------------------------- MQTT by hand -- */

/* A bounds-checked packet writer: ok drops to false on the first byte that does not fit. */
typedef struct wr {
    uint8_t *buf;
    size_t cap, len;
    bool ok;
} wr_t;

static void wr_bytes(wr_t *w, const void *p, size_t n)
{
    if (!w->ok || n > w->cap - w->len) {
        w->ok = false;
        return;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void wr_u8(wr_t *w, uint8_t v)
{
    wr_bytes(w, &v, 1);
}

static void wr_u16(wr_t *w, uint16_t v)
{
    wr_u8(w, (uint8_t)(v >> 8));
    wr_u8(w, (uint8_t)v);
}

static void wr_str(wr_t *w, const char *s)
{
    size_t n = strlen(s);
    w->ok = w->ok && n <= UINT16_MAX;
    wr_u16(w, (uint16_t)n);
    wr_bytes(w, s, n);
}

/* Fixed header: the packet type byte and the remaining length as a varint. */
static wr_t wr_start(uint8_t *buf, size_t cap, uint8_t type, size_t remaining)
{
    wr_t w = { buf, cap, 0, remaining <= 268435455u };
    wr_u8(&w, type);
    do {
        uint8_t b = (uint8_t)(remaining % 128u);
        remaining /= 128u;
        wr_u8(&w, remaining != 0 ? (uint8_t)(b | 0x80u) : b);
    } while (remaining != 0);
    return w;
}

size_t tern_test_mqtt_connect(uint8_t *buf, size_t cap, const char *client_id)
{
    wr_t w = wr_start(buf, cap, 0x10, 10 + 2 + strlen(client_id));
    wr_str(&w, "MQTT");
    wr_u8(&w, 4);    /* protocol level: 3.1.1 */
    wr_u8(&w, 0x02); /* clean session */
    wr_u16(&w, 60);  /* keepalive, seconds */
    wr_str(&w, client_id);
    return w.ok ? w.len : 0;
}

size_t tern_test_mqtt_subscribe(uint8_t *buf, size_t cap, uint16_t id, const char *topic)
{
    wr_t w = wr_start(buf, cap, 0x82, 2 + 2 + strlen(topic) + 1);
    wr_u16(&w, id);
    wr_str(&w, topic);
    wr_u8(&w, 0); /* QoS 0 */
    return w.ok ? w.len : 0;
}

size_t tern_test_mqtt_publish(uint8_t *buf, size_t cap, const char *topic, const void *payload,
                              size_t len, bool retain)
{
    wr_t w = wr_start(buf, cap, retain ? 0x31 : 0x30, 2 + strlen(topic) + len);
    wr_str(&w, topic);
    wr_bytes(&w, payload, len);
    return w.ok ? w.len : 0;
}

tern_err_t tern_test_mqtt_hello(const tern_transport_t *tr, int fd, const char *client_id)
{
    static const uint8_t k_connack_ok[4] = { 0x20, 0x02, 0x00, 0x00 };
    uint8_t pkt[128], ack[4];
    size_t n = tern_test_mqtt_connect(pkt, sizeof pkt, client_id);
    if (n == 0) {
        return TERN_ERR_TOO_SMALL;
    }
    tern_err_t err = tern_test_send_all(tr, fd, pkt, n, 5000);
    if (err == TERN_OK) {
        err = tern_test_recv_exact(tr, fd, ack, sizeof ack, 5000);
    }
    if (err == TERN_OK && memcmp(ack, k_connack_ok, sizeof ack) != 0) {
        err = TERN_ERR_PROTOCOL;
    }
    return err;
}

tern_err_t tern_test_tls_conn_open(tern_test_tls_conn_t *c, uint16_t port,
                                   const tern_posix_tls_config_t *cfg)
{
    tern_err_t err = tern_test_tls_connect(&c->tcp, &c->tls, "127.0.0.1", port, cfg);
    c->tr = tern_posix_tls_transport(&c->tls);
    c->fd = tern_posix_tcp_fd(&c->tcp);
    char why[512];
    if (err != TERN_OK && tern_posix_tls_describe(&c->tls, why, sizeof why) == TERN_OK) {
        printf("  (expected or not) handshake: %s\n", why);
    }
    return err;
}

void tern_test_tls_conn_close(tern_test_tls_conn_t *c)
{
    tern_posix_tls_close(&c->tls);
    tern_posix_tcp_close(&c->tcp);
}
