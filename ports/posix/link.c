/* SPDX-License-Identifier: Apache-2.0 */
/* A link of the link manager: TCP (+ TLS) from a chosen source address, behind the fault wrapper.
 */
#define _POSIX_C_SOURCE 200809L
#include "tern/port/posix_link.h"

#include <string.h>
#include <time.h>

static tern_err_t pl_start(void *ctx, tern_ms_t now)
{
    (void)now;
    tern_posix_link_t *l = ctx;
    if (l->faulty.mode == TERN_POSIX_FAULTY_CUT) {
        /* the cable is out: nothing to connect over, and no TLS failure to tell */
        l->conn.tls_failure = TERN_POSIX_TLS_FAIL_NONE;
        l->conn.tls_why[0] = '\0';
        l->conn.tls_why_cut = false;
        return TERN_ERR_CONNECT;
    }
    tern_err_t e = tern_posix_conn_open(&l->conn, &l->cfg);
    l->started = true;
    /* a new connection starts with empty DELAY queues, in the mode the link is in */
    tern_posix_faulty_mode_t mode = l->faulty.mode;
    uint32_t delay_ms = l->faulty.delay_ms;
    tern_clock_t clock = l->faulty.clock;
    tern_transport_t lower = tern_posix_conn_transport(&l->conn);
    tern_posix_faulty_init(&l->faulty, &lower, &clock);
    (void)tern_posix_faulty_set_mode(&l->faulty, mode, delay_ms);
    return e;
}

static tern_err_t pl_poll(void *ctx, tern_ms_t now)
{
    tern_posix_link_t *l = ctx;
    tern_err_t e = tern_posix_conn_poll(&l->conn, now);
    if (e == TERN_OK && l->faulty.mode == TERN_POSIX_FAULTY_CUT) {
        e = TERN_ERR_IO; /* carrier lost */
    }
    return e;
}

static tern_transport_t pl_transport(void *ctx)
{
    tern_posix_link_t *l = ctx;
    /* the TLS stream exists only once the handshake has begun: take it now, up */
    l->faulty.lower = tern_posix_conn_transport(&l->conn);
    return tern_posix_faulty_transport(&l->faulty);
}

static void pl_close(void *ctx)
{
    tern_posix_link_t *l = ctx;
    if (l->started) {
        tern_posix_conn_close(&l->conn);
        l->started = false;
    }
}

const tern_link_ops_t tern_posix_link_ops = { "posix-tcp",  pl_start, pl_poll,
                                              pl_transport, pl_close, NULL };

void tern_posix_link_init(tern_posix_link_t *l, const char *host, uint16_t port,
                          const char *bind_addr, uint32_t connect_timeout_ms,
                          const tern_posix_tls_config_t *tls, const tern_clock_t *clock)
{
    tern_posix_tcp_opts_default(&l->tcp_opts);
    l->tcp_opts.bind_addr = bind_addr;
    if (connect_timeout_ms) {
        l->tcp_opts.timeout_ms = connect_timeout_ms;
    }
    l->cfg.host = host;
    l->cfg.port = port;
    l->cfg.tcp = &l->tcp_opts;
    l->cfg.tls = tls;
    memset(&l->conn, 0, sizeof l->conn); /* no failure to tell yet */
    l->conn.tcp.fd = -1;
    l->started = false;
    tern_transport_t lower = tern_posix_conn_transport(&l->conn);
    tern_posix_faulty_init(&l->faulty, &lower, clock);
}

tern_err_t tern_posix_link_fault(tern_posix_link_t *l, tern_posix_faulty_mode_t mode,
                                 uint32_t delay_ms)
{
    return tern_posix_faulty_set_mode(&l->faulty, mode, delay_ms);
}

int tern_posix_link_fd(const tern_posix_link_t *l)
{
    return l->started ? tern_posix_tcp_fd(&l->conn.tcp) : -1;
}

void tern_posix_link_wait(tern_posix_link_t *l, bool want_write, uint32_t timeout_ms)
{
    if (l != NULL && l->started && tern_posix_link_fd(l) >= 0) {
        (void)tern_posix_conn_wait(&l->conn, want_write, timeout_ms);
        return;
    }
    struct timespec ts = { (time_t)(timeout_ms / 1000u), (long)(timeout_ms % 1000u) * 1000000L };
    nanosleep(&ts, NULL);
}

tern_posix_tls_failure_t tern_posix_link_failure(const tern_posix_link_t *l)
{
    return l != NULL ? tern_posix_conn_tls_failure(&l->conn) : TERN_POSIX_TLS_FAIL_NONE;
}

tern_err_t tern_posix_link_describe(const tern_posix_link_t *l, char *buf, size_t cap)
{
    return tern_posix_conn_describe(l != NULL ? &l->conn : NULL, buf, cap);
}
