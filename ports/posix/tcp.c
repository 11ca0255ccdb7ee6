/* SPDX-License-Identifier: Apache-2.0 */
/* TCP over non-blocking BSD sockets: a connect that walks the resolved
 * addresses under one deadline, then a byte stream that never blocks. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* SOCK_NONBLOCK, SOCK_CLOEXEC, MSG_NOSIGNAL (the target defines it too) */
#endif
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tern/port/posix_net.h"

enum { TCP_IDLE = 0, TCP_CONNECTING, TCP_CONNECTED, TCP_FAILED };

void tern_posix_tcp_opts_default(tern_posix_tcp_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->timeout_ms = TERN_POSIX_TCP_TIMEOUT_MS;
    o->family = TERN_POSIX_FAMILY_ANY;
}

static void tcp_release(tern_posix_tcp_t *t)
{
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
    if (t->addrs != NULL) {
        freeaddrinfo(t->addrs);
        t->addrs = NULL;
    }
    if (t->bind != NULL) {
        freeaddrinfo(t->bind);
        t->bind = NULL;
    }
    t->next = NULL;
}

static tern_err_t tcp_fail(tern_posix_tcp_t *t, tern_err_t err)
{
    tcp_release(t);
    t->state = TCP_FAILED;
    t->err = err;
    return err;
}

static tern_err_t gai_to_err(int rc)
{
    return rc == EAI_MEMORY || rc == EAI_SYSTEM ? TERN_ERR_IO : TERN_ERR_RESOLVE;
}

tern_err_t tern_posix_tcp_connect(tern_posix_tcp_t *t, const char *host, uint16_t port,
                                  const tern_posix_tcp_opts_t *opts)
{
    static const int k_families[] = { AF_UNSPEC, AF_INET, AF_INET6 };
    tern_posix_tcp_opts_t o;
    if (t == NULL || host == NULL || host[0] == '\0' || port == 0) {
        return TERN_ERR_INVAL;
    }
    if (opts != NULL) {
        o = *opts;
    } else {
        tern_posix_tcp_opts_default(&o);
    }
    if ((unsigned)o.family > TERN_POSIX_FAMILY_IPV6 || o.sndbuf < 0 || o.rcvbuf < 0) {
        return TERN_ERR_INVAL;
    }
    memset(t, 0, sizeof *t);
    t->fd = -1;
    t->timeout_ms = o.timeout_ms != 0 ? o.timeout_ms : TERN_POSIX_TCP_TIMEOUT_MS;
    t->sndbuf = o.sndbuf;
    t->rcvbuf = o.rcvbuf;

    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = k_families[o.family];
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    if (o.bind_addr != NULL) {
        /* The source fixes the family: only peers reachable from it are tried. */
        hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
        int rc = getaddrinfo(o.bind_addr, NULL, &hints, &t->bind);
        if (rc != 0) {
            t->bind = NULL;
            return rc == EAI_MEMORY || rc == EAI_SYSTEM ? TERN_ERR_IO : TERN_ERR_INVAL;
        }
        hints.ai_family = t->bind->ai_family;
    }
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(host, service, &hints, &t->addrs);
    if (rc != 0) {
        t->addrs = NULL;
        tcp_release(t);
        return gai_to_err(rc);
    }
    t->next = t->addrs;
    t->state = TCP_CONNECTING;
    return TERN_OK;
}

/* Set the options every attempt's socket needs; false (errno set) if the OS refuses one. */
static bool tcp_prepare(const tern_posix_tcp_t *t, int fd)
{
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
        return false;
    }
    if (t->sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &t->sndbuf, sizeof t->sndbuf) != 0) {
        return false;
    }
    if (t->rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &t->rcvbuf, sizeof t->rcvbuf) != 0) {
        return false;
    }
    return t->bind == NULL || bind(fd, t->bind->ai_addr, t->bind->ai_addrlen) == 0;
}

/* Start connecting to the next address that gets as far as an attempt; false when none is left. */
static bool tcp_start_next(tern_posix_tcp_t *t)
{
    while (t->next != NULL) {
        const struct addrinfo *ai = t->next;
        t->next = ai->ai_next;
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            t->last_errno = errno;
            continue;
        }
        if (tcp_prepare(t, fd) && (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
                                   errno == EINPROGRESS || errno == EINTR)) {
            t->fd = fd;
            return true;
        }
        t->last_errno = errno;
        close(fd);
    }
    return false;
}

/* The attempt on t->fd: 1 connected, 0 still going, -1 failed (last_errno set). */
static int tcp_check(tern_posix_tcp_t *t)
{
    struct pollfd p = { .fd = t->fd, .events = POLLOUT, .revents = 0 };
    int n = poll(&p, 1, 0);
    if (n == 0 || (n < 0 && errno == EINTR)) {
        return 0;
    }
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (n < 0 || getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) {
        t->last_errno = errno;
        return -1;
    }
    if (soerr != 0) {
        t->last_errno = soerr;
        return -1;
    }
    return (p.revents & POLLOUT) != 0 ? 1 : 0;
}

tern_err_t tern_posix_tcp_poll(tern_posix_tcp_t *t, tern_ms_t now_ms)
{
    if (t == NULL) {
        return TERN_ERR_INVAL;
    }
    switch (t->state) {
    case TCP_CONNECTED:
        return TERN_OK;
    case TCP_FAILED:
        return t->err;
    case TCP_CONNECTING:
        break;
    default:
        return TERN_ERR_STATE;
    }
    if (!t->deadline_set) {
        t->deadline = tern_deadline_in(now_ms, t->timeout_ms);
        t->deadline_set = true;
    }
    for (;;) {
        if (t->fd < 0 && !tcp_start_next(t)) {
            return tcp_fail(t, TERN_ERR_CONNECT);
        }
        int r = tcp_check(t);
        if (r > 0) {
            freeaddrinfo(t->addrs);
            t->addrs = t->next = NULL;
            t->state = TCP_CONNECTED;
            t->last_errno = 0;
            return TERN_OK;
        }
        if (r == 0) {
            break;
        }
        close(t->fd); /* refused or unreachable: on to the next address */
        t->fd = -1;
    }
    if (tern_deadline_passed(now_ms, t->deadline)) {
        t->last_errno = ETIMEDOUT;
        return tcp_fail(t, TERN_ERR_TIMEOUT);
    }
    return TERN_ERR_AGAIN;
}

int tern_posix_tcp_fd(const tern_posix_tcp_t *t)
{
    return t != NULL && t->state != TCP_IDLE ? t->fd : -1;
}

int tern_posix_tcp_errno(const tern_posix_tcp_t *t)
{
    return t != NULL ? t->last_errno : 0;
}

/* What a failed send/recv means for the stream; errno is the call's. */
static tern_err_t tcp_io_error(tern_posix_tcp_t *t, int err)
{
    t->last_errno = err;
    return err == EPIPE ? TERN_ERR_CLOSED : TERN_ERR_IO;
}

static tern_err_t tcp_usable(const tern_posix_tcp_t *t, const void *buf, size_t len,
                             const size_t *moved)
{
    if (moved == NULL || (buf == NULL && len != 0)) {
        return TERN_ERR_INVAL;
    }
    if (t->state != TCP_CONNECTED) {
        return t->state == TCP_FAILED ? t->err : TERN_ERR_STATE;
    }
    return TERN_OK;
}

static tern_err_t tcp_send(void *ctx, const uint8_t *buf, size_t len, size_t *sent)
{
    tern_posix_tcp_t *t = ctx;
    tern_err_t err = tcp_usable(t, buf, len, sent);
    if (err != TERN_OK) {
        return err;
    }
    *sent = 0;
    while (len != 0) {
        ssize_t n = send(t->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            *sent = (size_t)n;
            break;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        }
        if (errno != EINTR) {
            return tcp_io_error(t, errno);
        }
    }
    return TERN_OK;
}

static tern_err_t tcp_recv(void *ctx, uint8_t *buf, size_t cap, size_t *got)
{
    tern_posix_tcp_t *t = ctx;
    tern_err_t err = tcp_usable(t, buf, cap, got);
    if (err != TERN_OK) {
        return err;
    }
    *got = 0;
    while (cap != 0) {
        ssize_t n = recv(t->fd, buf, cap, MSG_DONTWAIT);
        if (n > 0) {
            *got = (size_t)n;
            break;
        }
        if (n == 0) {
            return TERN_ERR_CLOSED;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        }
        if (errno != EINTR) {
            return tcp_io_error(t, errno);
        }
    }
    return TERN_OK;
}

static const tern_transport_ops_t k_tcp_ops = {
    .name = "posix-tcp",
    .send = tcp_send,
    .recv = tcp_recv,
};

tern_transport_t tern_posix_tcp_transport(tern_posix_tcp_t *t)
{
    tern_transport_t tr = { &k_tcp_ops, t };
    return tr;
}

void tern_posix_tcp_close(tern_posix_tcp_t *t)
{
    if (t == NULL || t->state == TCP_IDLE) {
        return;
    }
    tcp_release(t);
    t->state = TCP_IDLE;
}
