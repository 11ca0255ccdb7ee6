/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The simulated device's link (tern/link.h ops): one non-blocking TCP socket to the
 * broker, registered in the simulator's epoll set with the device as its data. A
 * connect in progress is checked with getsockopt(SO_ERROR) once epoll says the socket
 * moved, and given up at its deadline. About 20 bytes a device, where the POSIX port's
 * link (TLS, fault wrapper, address walk) is about 1.5 KiB.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* SOCK_NONBLOCK, SOCK_CLOEXEC, IP_BIND_ADDRESS_NO_PORT */
#endif
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "sim.h"

enum { SL_IDLE = 0, SL_CONNECTING, SL_UP, SL_FAILED };

#define DEV_OF(l) ((sim_dev_t *)(void *)((uint8_t *)(l)-offsetof(sim_dev_t, link)))

void sim_link_init(sim_link_t *l)
{
    l->fd = -1;
    l->st = SL_IDLE;
    l->revents = 0;
    l->ep_mask = 0;
}

static void sl_refused(void)
{
    S.refused++;
    S.iv_refused++;
}

static tern_err_t sl_start(void *ctx, tern_ms_t now)
{
    sim_link_t *l = ctx;
    S.attempts++;
    S.iv_attempts++;
    l->revents = 0;
    int fd = socket(S.broker_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        S.sock_errors++; /* EMFILE: the process's file limit */
        sl_refused();
        return TERN_ERR_IO;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (S.n_bind > 0) {
        /* the port is chosen at connect, per destination: thousands of sockets from one
         * address do not exhaust the ephemeral ports bind() alone would reserve */
#ifdef IP_BIND_ADDRESS_NO_PORT
        (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
        uint32_t b = DEV_OF(l)->idx % S.n_bind;
        if (bind(fd, (const struct sockaddr *)&S.bind_addr[b], S.bind_len[b]) != 0) {
            close(fd);
            S.sock_errors++;
            sl_refused();
            return TERN_ERR_IO;
        }
    }
    if (connect(fd, (const struct sockaddr *)&S.broker_addr, S.broker_len) == 0) {
        l->st = SL_UP;
    } else if (errno == EINPROGRESS || errno == EINTR) {
        l->st = SL_CONNECTING;
    } else {
        if (errno == EADDRNOTAVAIL || errno == EAGAIN) {
            S.sock_errors++; /* out of ephemeral ports */
        }
        close(fd);
        sl_refused();
        return TERN_ERR_CONNECT;
    }
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = DEV_OF(l) };
    if (epoll_ctl(S.ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        S.sock_errors++;
        sl_refused();
        l->st = SL_IDLE;
        return TERN_ERR_IO;
    }
    l->fd = fd;
    l->ep_mask = EPOLLIN | EPOLLOUT;
    l->deadline = tern_deadline_in(now, S.cfg.connect_timeout_ms);
    return TERN_OK;
}

static tern_err_t sl_poll(void *ctx, tern_ms_t now)
{
    sim_link_t *l = ctx;
    switch (l->st) {
    case SL_UP:
        return TERN_OK; /* a dead stream shows in send/recv */
    case SL_FAILED:
        return TERN_ERR_CONNECT;
    case SL_CONNECTING:
        break;
    default:
        return TERN_ERR_STATE;
    }
    if (l->revents & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) {
            soerr = errno;
        }
        if (soerr == 0 && (l->revents & EPOLLOUT) && !(l->revents & EPOLLHUP)) {
            l->st = SL_UP;
            return TERN_OK;
        }
        if (soerr != 0 || (l->revents & (EPOLLERR | EPOLLHUP))) {
            l->st = SL_FAILED;
            sl_refused();
            return TERN_ERR_CONNECT;
        }
    }
    if (tern_deadline_passed(now, l->deadline)) {
        l->st = SL_FAILED;
        S.timeouts++;
        sl_refused();
        return TERN_ERR_TIMEOUT;
    }
    return TERN_ERR_AGAIN;
}

static tern_err_t sl_send(void *ctx, const uint8_t *buf, size_t len, size_t *sent)
{
    sim_link_t *l = ctx;
    *sent = 0;
    if (l->st != SL_UP) {
        return TERN_ERR_STATE;
    }
    for (;;) {
        ssize_t n = send(l->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            *sent = (size_t)n;
            return TERN_OK;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return TERN_OK;
        }
        if (errno != EINTR) {
            return errno == EPIPE ? TERN_ERR_CLOSED : TERN_ERR_IO;
        }
    }
}

static tern_err_t sl_recv(void *ctx, uint8_t *buf, size_t cap, size_t *got)
{
    sim_link_t *l = ctx;
    *got = 0;
    if (l->st != SL_UP) {
        return TERN_ERR_STATE;
    }
    for (;;) {
        ssize_t n = recv(l->fd, buf, cap, MSG_DONTWAIT);
        if (n > 0) {
            *got = (size_t)n;
            return TERN_OK;
        }
        if (n == 0) {
            return cap == 0 ? TERN_OK : TERN_ERR_CLOSED;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return TERN_OK;
        }
        if (errno != EINTR) {
            return TERN_ERR_IO;
        }
    }
}

static const tern_transport_ops_t k_sl_transport = {
    .name = "sim-tcp",
    .send = sl_send,
    .recv = sl_recv,
};

static tern_transport_t sl_transport(void *ctx)
{
    tern_transport_t t = { &k_sl_transport, ctx };
    return t;
}

static void sl_close(void *ctx)
{
    sim_link_t *l = ctx;
    if (l->fd >= 0) {
        close(l->fd); /* leaves the epoll set with it */
    }
    sim_link_init(l);
}

const tern_link_ops_t sim_link_ops = {
    .name = "sim-tcp",
    .start = sl_start,
    .poll = sl_poll,
    .transport = sl_transport,
    .close = sl_close,
    .probe = NULL,
};

bool sim_link_cut(sim_link_t *l)
{
    if (l->st != SL_UP || l->fd < 0) {
        return false;
    }
    return shutdown(l->fd, SHUT_RDWR) == 0;
}

bool sim_link_connecting(const sim_link_t *l)
{
    return l->st == SL_CONNECTING;
}

void sim_link_want(sim_link_t *l, bool want_write)
{
    if (l->fd < 0) {
        return;
    }
    uint32_t m = EPOLLIN | (want_write || l->st == SL_CONNECTING ? (uint32_t)EPOLLOUT : 0u);
    if (m == l->ep_mask) {
        return;
    }
    struct epoll_event ev = { .events = m, .data.ptr = DEV_OF(l) };
    if (epoll_ctl(S.ep, EPOLL_CTL_MOD, l->fd, &ev) == 0) {
        l->ep_mask = m;
    }
}
