/* SPDX-License-Identifier: Apache-2.0 */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "tern/port/posix_conn.h"

tern_err_t tern_posix_conn_open(tern_posix_conn_t *c, const tern_posix_conn_config_t *cfg)
{
    memset(c, 0, sizeof *c);
    c->tcp.fd = -1;
    c->tls_cfg = cfg->tls;
    tern_err_t err = tern_posix_tcp_connect(&c->tcp, cfg->host, cfg->port, cfg->tcp);
    c->state = err == TERN_OK ? TERN_ERR_AGAIN : err;
    return err;
}

/* Keep the account of the TLS failure @p err now: the session that knows it is freed
 * at close, and the application asks after that (a link manager closes at once). */
static void note_tls_failure(tern_posix_conn_t *c, tern_err_t err)
{
    tern_err_t d;
    if (c->tls_open) {
        c->tls_failure = tern_posix_tls_failure(&c->tls);
        d = tern_posix_tls_describe(&c->tls, c->tls_why, sizeof c->tls_why);
    } else {
        c->tls_failure = TERN_POSIX_TLS_FAIL_OTHER;
        int n = snprintf(c->tls_why, sizeof c->tls_why, "%s: the TLS session could not be set up",
                         tern_err_name(err));
        d = n >= 0 && (size_t)n < sizeof c->tls_why ? TERN_OK : TERN_ERR_TOO_SMALL;
    }
    c->tls_why_cut = d != TERN_OK;
}

/* The TLS files are only read once TCP is up, so a refused connect reports
 * as such, not as a TLS problem. */
static tern_err_t conn_step(tern_posix_conn_t *c, tern_ms_t now_ms)
{
    tern_err_t err = tern_posix_tcp_poll(&c->tcp, now_ms);
    if (err != TERN_OK || c->tls_cfg == NULL) {
        return err;
    }
    if (!c->tls_open) {
        c->tcp_t = tern_posix_tcp_transport(&c->tcp);
        if ((err = tern_posix_tls_open(&c->tls, &c->tcp_t, c->tls_cfg)) != TERN_OK) {
            note_tls_failure(c, err);
            return err;
        }
        c->tls_open = true;
    }
    err = tern_posix_tls_poll(&c->tls, now_ms);
    if (err != TERN_OK && err != TERN_ERR_AGAIN) {
        note_tls_failure(c, err);
    }
    return err;
}

tern_err_t tern_posix_conn_poll(tern_posix_conn_t *c, tern_ms_t now_ms)
{
    if (c->state == TERN_ERR_AGAIN) {
        c->state = conn_step(c, now_ms);
    }
    return c->state;
}

tern_transport_t tern_posix_conn_transport(tern_posix_conn_t *c)
{
    return c->tls_cfg ? tern_posix_tls_transport(&c->tls) : tern_posix_tcp_transport(&c->tcp);
}

bool tern_posix_conn_wait(tern_posix_conn_t *c, bool want_write, uint32_t timeout_ms)
{
    if (c->tls_open && tern_posix_tls_has_buffered(&c->tls)) {
        return true;
    }
    struct pollfd p = { .fd = tern_posix_tcp_fd(&c->tcp), .events = POLLIN };
    if (p.fd < 0) {
        return false;
    }
    if (want_write || c->state == TERN_ERR_AGAIN ||
        (c->tls_open && tern_posix_tls_want_write(&c->tls))) {
        p.events |= POLLOUT;
    }
    return poll(&p, 1, (int)(timeout_ms > 60000u ? 60000u : timeout_ms)) > 0;
}

tern_err_t tern_posix_conn_establish(tern_posix_conn_t *c, const tern_posix_conn_config_t *cfg,
                                     const tern_clock_t *clock, uint32_t timeout_ms)
{
    tern_err_t err = tern_posix_conn_open(c, cfg);
    if (err != TERN_OK) {
        return err;
    }
    tern_ms_t deadline = tern_deadline_in(tern_clock_now(clock), timeout_ms);
    for (;;) {
        tern_ms_t now = tern_clock_now(clock);
        err = tern_posix_conn_poll(c, now);
        if (err != TERN_ERR_AGAIN) {
            return err;
        }
        if (tern_deadline_passed(now, deadline)) {
            c->state = TERN_ERR_TIMEOUT;
            return TERN_ERR_TIMEOUT;
        }
        (void)tern_posix_conn_wait(c, false, tern_deadline_remaining(now, deadline));
    }
}

void tern_posix_conn_close(tern_posix_conn_t *c)
{
    if (c->tls_open) {
        tern_posix_tls_close(&c->tls);
        c->tls_open = false;
    }
    tern_posix_tcp_close(&c->tcp);
}

tern_posix_tls_failure_t tern_posix_conn_tls_failure(const tern_posix_conn_t *c)
{
    return c != NULL ? c->tls_failure : TERN_POSIX_TLS_FAIL_NONE;
}

tern_err_t tern_posix_conn_describe(const tern_posix_conn_t *c, char *buf, size_t cap)
{
    if (buf == NULL || cap == 0) {
        return TERN_ERR_INVAL;
    }
    const char *why = c != NULL ? c->tls_why : "";
    size_t len = strnlen(why, TERN_POSIX_CONN_DESCRIBE_MAX);
    size_t n = len < cap ? len : cap - 1;
    memcpy(buf, why, n);
    buf[n] = '\0';
    return n == len && !(c != NULL && c->tls_why_cut) ? TERN_OK : TERN_ERR_TOO_SMALL;
}

tern_err_t tern_posix_mqtt_run(tern_mqtt_t *m, tern_posix_conn_t *c, const tern_clock_t *clock,
                               tern_posix_until_fn until, void *arg, uint32_t timeout_ms)
{
    tern_ms_t deadline = tern_deadline_in(tern_clock_now(clock), timeout_ms);
    for (;;) {
        tern_ms_t now = tern_clock_now(clock);
        tern_err_t err = tern_mqtt_poll(m, now);
        if (err != TERN_OK) {
            return err;
        }
        if (until(arg)) {
            return TERN_OK;
        }
        if (tern_deadline_passed(now, deadline)) {
            return TERN_ERR_TIMEOUT;
        }
        uint32_t wait = tern_deadline_remaining(now, tern_mqtt_next_deadline(m, now));
        uint32_t left = tern_deadline_remaining(now, deadline);
        (void)tern_posix_conn_wait(c, tern_mqtt_want_write(m), wait < left ? wait : left);
    }
}

static bool until_connected(void *arg)
{
    return tern_mqtt_connected(arg);
}

tern_err_t tern_posix_mqtt_connect(tern_mqtt_t *m, tern_posix_conn_t *c, const tern_clock_t *clock,
                                   tern_mqtt_version_t ver, const tern_mqtt_connect_t *cn,
                                   uint32_t timeout_ms)
{
    tern_transport_t t = tern_posix_conn_transport(c);
    tern_err_t err = tern_mqtt_connect(m, &t, ver, cn, tern_clock_now(clock));
    if (err == TERN_OK) {
        err = tern_posix_mqtt_run(m, c, clock, until_connected, m, timeout_ms);
    }
    return err;
}

tern_err_t tern_posix_mqtt_publish(tern_mqtt_t *m, tern_posix_conn_t *c, const tern_clock_t *clock,
                                   const tern_mqtt_publish_t *msg, uint32_t token,
                                   uint32_t timeout_ms)
{
    tern_ms_t deadline = tern_deadline_in(tern_clock_now(clock), timeout_ms);
    bool polled = false;
    for (;;) {
        tern_err_t err = tern_mqtt_publish(m, msg, token, NULL);
        if (err != TERN_ERR_AGAIN && err != TERN_ERR_BUSY) {
            return err;
        }
        tern_ms_t now = tern_clock_now(clock);
        if (tern_deadline_passed(now, deadline)) {
            return TERN_ERR_TIMEOUT;
        }
        if (polled) {
            uint32_t left = tern_deadline_remaining(now, deadline);
            (void)tern_posix_conn_wait(c, tern_mqtt_want_write(m), left < 100u ? left : 100u);
        }
        if ((err = tern_mqtt_poll(m, tern_clock_now(clock))) != TERN_OK) {
            return err;
        }
        polled = true;
    }
}
