/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file posix_conn.h
 * @brief A broker connection on a Linux host: TCP, optionally TLS over it, as
 * one tern_transport_t, plus the blocking helpers that tools and tests use to
 * drive an MQTT session (a device's own loop stays non-blocking).
 */
#ifndef TERN_PORT_POSIX_CONN_H
#define TERN_PORT_POSIX_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "tern/hal.h"
#include "tern/mqtt.h"
#include "tern/port/posix_net.h"
#include "tern/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Where and how to connect. */
typedef struct tern_posix_conn_config {
    const char *host;
    uint16_t port;
    const tern_posix_tcp_opts_t *tcp;   /* NULL: defaults */
    const tern_posix_tls_config_t *tls; /* NULL: plain TCP; must stay valid until connected */
} tern_posix_conn_config_t;

/** Room for tern_posix_conn_describe(): any account tern_posix_tls_describe() gives fits. */
#define TERN_POSIX_CONN_DESCRIBE_MAX 1536

/** A connection: TCP and, if configured, TLS over it. Fields are private. */
typedef struct tern_posix_conn {
    tern_posix_tcp_t tcp;
    tern_posix_tls_t tls;
    tern_transport_t tcp_t;
    const tern_posix_tls_config_t *tls_cfg;
    bool tls_open;
    tern_err_t state; /* TERN_ERR_AGAIN while connecting, then TERN_OK or the failure */
    /* How TLS failed while connecting, kept past close: NONE and "" if it did not. */
    tern_posix_tls_failure_t tls_failure;
    bool tls_why_cut; /* tern_posix_tls_describe() did not fit tls_why */
    char tls_why[TERN_POSIX_CONN_DESCRIBE_MAX];
} tern_posix_conn_t;

/**
 * Start connecting as @p cfg says; the TLS files are read once TCP is up, so
 * cfg->tls must stay valid until then. Errors as tern_posix_tcp_connect().
 */
tern_err_t tern_posix_conn_open(tern_posix_conn_t *c, const tern_posix_conn_config_t *cfg);

/** Advance the connect and handshake: TERN_ERR_AGAIN, TERN_OK, or the final failure. */
tern_err_t tern_posix_conn_poll(tern_posix_conn_t *c, tern_ms_t now_ms);

/** The connected stream (TLS if configured); valid until close. */
tern_transport_t tern_posix_conn_transport(tern_posix_conn_t *c);

/**
 * Block up to @p timeout_ms until the connection has something to read, can
 * write (if @p want_write) or TLS holds decrypted bytes. Returns true if it is
 * worth polling now. For tools and tests; never call it from device code.
 */
bool tern_posix_conn_wait(tern_posix_conn_t *c, bool want_write, uint32_t timeout_ms);

/** Connect and handshake, blocking up to @p timeout_ms. TERN_OK or the failure (TERN_ERR_TIMEOUT
 * ...). */
tern_err_t tern_posix_conn_establish(tern_posix_conn_t *c, const tern_posix_conn_config_t *cfg,
                                     const tern_clock_t *clock, uint32_t timeout_ms);

/** Close TLS (close_notify) and TCP. Safe to call twice. */
void tern_posix_conn_close(tern_posix_conn_t *c);

/**
 * Why TLS failed during the last connect (open or poll), kept after close until the
 * next open: tern_posix_tls_failure() of its handshake (TERN_POSIX_TLS_FAIL_OTHER if
 * the session could not even be set up, e.g. a trust store that does not parse), or
 * TERN_POSIX_TLS_FAIL_NONE if the connect did not fail in TLS.
 */
tern_posix_tls_failure_t tern_posix_conn_tls_failure(const tern_posix_conn_t *c);

/**
 * The one-line account of that failure (tern_posix_tls_describe(), taken before the
 * session was freed) into @p buf, "" if there was none. TERN_ERR_TOO_SMALL if it does
 * not fit @p cap (it is cut, terminated); TERN_ERR_INVAL for no @p buf.
 */
tern_err_t tern_posix_conn_describe(const tern_posix_conn_t *c, char *buf, size_t cap);

/** Stop condition for tern_posix_mqtt_run(): return true to stop. */
typedef bool (*tern_posix_until_fn)(void *arg);

/**
 * Drive @p m over @p c until @p until says stop (TERN_OK), the session ends
 * with an error (that error), or @p timeout_ms pass (TERN_ERR_TIMEOUT). Sleeps
 * on the socket between polls, up to the session's next deadline.
 */
tern_err_t tern_posix_mqtt_run(tern_mqtt_t *m, tern_posix_conn_t *c, const tern_clock_t *clock,
                               tern_posix_until_fn until, void *arg, uint32_t timeout_ms);

/**
 * Start an MQTT session over @p c (connected) and run it until the CONNACK:
 * TERN_OK once connected, the refusal's error (TERN_ERR_MQTT_NOT_AUTHORIZED
 * ...), or TERN_ERR_TIMEOUT after @p timeout_ms.
 */
tern_err_t tern_posix_mqtt_connect(tern_mqtt_t *m, tern_posix_conn_t *c, const tern_clock_t *clock,
                                   tern_mqtt_version_t ver, const tern_mqtt_connect_t *cn,
                                   uint32_t timeout_ms);

/**
 * tern_mqtt_publish() that waits instead of refusing: while the tx buffer or
 * the in-flight window is full (TERN_ERR_AGAIN, TERN_ERR_BUSY) it polls the
 * session, and sleeps on the socket only when polling did not make room.
 * TERN_OK once queued, TERN_ERR_TIMEOUT after @p timeout_ms, or the error.
 */
tern_err_t tern_posix_mqtt_publish(tern_mqtt_t *m, tern_posix_conn_t *c, const tern_clock_t *clock,
                                   const tern_mqtt_publish_t *msg, uint32_t token,
                                   uint32_t timeout_ms);

#ifdef __cplusplus
}
#endif
#endif /* TERN_PORT_POSIX_CONN_H */
