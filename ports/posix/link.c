/* SPDX-License-Identifier: Apache-2.0 */
/* A link of the link manager: TCP from a chosen source address, behind the fault wrapper. */
#include "tern/port/posix_link.h"

static tern_err_t pl_start(void *ctx, tern_ms_t now)
{
    (void)now;
    tern_posix_link_t *l = ctx;
    if (l->faulty.mode == TERN_POSIX_FAULTY_CUT) {
        return TERN_ERR_CONNECT; /* the cable is out: nothing to connect over */
    }
    /* a new connection starts with empty DELAY queues, in the mode the link is in */
    tern_posix_faulty_mode_t mode = l->faulty.mode;
    uint32_t delay_ms = l->faulty.delay_ms;
    tern_transport_t lower = l->faulty.lower;
    tern_clock_t clock = l->faulty.clock;
    tern_posix_faulty_init(&l->faulty, &lower, &clock);
    (void)tern_posix_faulty_set_mode(&l->faulty, mode, delay_ms);
    tern_posix_tcp_opts_t o;
    tern_posix_tcp_opts_default(&o);
    o.bind_addr = l->bind_addr;
    if (l->connect_timeout_ms) {
        o.timeout_ms = l->connect_timeout_ms;
    }
    return tern_posix_tcp_connect(&l->tcp, l->host, l->port, &o);
}

static tern_err_t pl_poll(void *ctx, tern_ms_t now)
{
    tern_posix_link_t *l = ctx;
    tern_err_t e = tern_posix_tcp_poll(&l->tcp, now);
    if (e == TERN_OK && l->faulty.mode == TERN_POSIX_FAULTY_CUT) {
        e = TERN_ERR_IO; /* carrier lost */
    }
    return e;
}

static tern_transport_t pl_transport(void *ctx)
{
    tern_posix_link_t *l = ctx;
    return tern_posix_faulty_transport(&l->faulty);
}

static void pl_close(void *ctx)
{
    tern_posix_link_t *l = ctx;
    tern_posix_tcp_close(&l->tcp);
}

const tern_link_ops_t tern_posix_link_ops = { "posix-tcp",  pl_start, pl_poll,
                                              pl_transport, pl_close, NULL };

void tern_posix_link_init(tern_posix_link_t *l, const char *host, uint16_t port,
                          const char *bind_addr, uint32_t connect_timeout_ms,
                          const tern_clock_t *clock)
{
    l->host = host;
    l->port = port;
    l->bind_addr = bind_addr;
    l->connect_timeout_ms = connect_timeout_ms;
    l->tcp.fd = -1;
    tern_transport_t lower = tern_posix_tcp_transport(&l->tcp);
    tern_posix_faulty_init(&l->faulty, &lower, clock);
}

tern_err_t tern_posix_link_fault(tern_posix_link_t *l, tern_posix_faulty_mode_t mode,
                                 uint32_t delay_ms)
{
    return tern_posix_faulty_set_mode(&l->faulty, mode, delay_ms);
}

int tern_posix_link_fd(const tern_posix_link_t *l)
{
    return tern_posix_tcp_fd(&l->tcp);
}
