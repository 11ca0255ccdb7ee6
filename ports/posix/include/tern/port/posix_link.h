/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file posix_link.h
 * @brief POSIX port: a link for the link manager (tern/link.h) made of a TCP
 * connection (with TLS over it if configured) from its own source address,
 * behind the fault-injecting wrapper.
 *
 * Each link connects to the broker from `bind_addr` (127.0.0.1, 127.0.0.2 ...
 * on loopback, or an interface's address on a real host), so the broker sees
 * each link as a different path. The stream goes through a
 * tern_posix_faulty_t whose mode the application (or a test) may change at any
 * time with tern_posix_link_fault(): PASS, DROP, BLACKHOLE, DELAY or CUT. A
 * CUT link also refuses to connect (TERN_ERR_CONNECT) until it is healed, as
 * an unplugged cable would; a blackholed one connects at TCP level but carries
 * nothing, so only the MQTT keep-alive finds it.
 */
#ifndef TERN_PORT_POSIX_LINK_H
#define TERN_PORT_POSIX_LINK_H

#include <stdint.h>

#include <stdbool.h>

#include "tern/link.h"
#include "tern/port/posix_conn.h"
#include "tern/port/posix_faulty.h"
#include "tern/port/posix_net.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One TCP link. Fill with tern_posix_link_init(); the fields are private. */
typedef struct tern_posix_link {
    tern_posix_tcp_opts_t tcp_opts; /* bind address, connect timeout */
    tern_posix_conn_config_t cfg;
    tern_posix_conn_t conn;
    bool started;
    tern_posix_faulty_t faulty;
} tern_posix_link_t;

/** The ops for tern_link_t.ops; tern_link_t.ctx is the tern_posix_link_t. */
extern const tern_link_ops_t tern_posix_link_ops;

/**
 * Set @p l up to reach @p host:@p port from @p bind_addr (may be NULL), with a
 * connect timeout (0: the TCP default), over TLS if @p tls is not NULL (the
 * handshake is part of connecting). @p clock drives the DELAY mode (NULL: no
 * DELAY mode for this link). The strings and @p tls must outlive @p l.
 */
void tern_posix_link_init(tern_posix_link_t *l, const char *host, uint16_t port,
                          const char *bind_addr, uint32_t connect_timeout_ms,
                          const tern_posix_tls_config_t *tls, const tern_clock_t *clock);

/** Inject a fault (or heal with TERN_POSIX_FAULTY_PASS); see posix_faulty.h. */
tern_err_t tern_posix_link_fault(tern_posix_link_t *l, tern_posix_faulty_mode_t mode,
                                 uint32_t delay_ms);

/** The socket to wait on, or -1 when the link is closed. */
int tern_posix_link_fd(const tern_posix_link_t *l);

/**
 * Block up to @p timeout_ms until the link has something to read (TLS-buffered
 * bytes included), can write (if @p want_write), or its connect moved; sleeps
 * the whole time when the link is closed. For host programs and tests.
 */
void tern_posix_link_wait(tern_posix_link_t *l, bool want_write, uint32_t timeout_ms);

/**
 * Which TLS check failed in the link's last connect, for a report after the link
 * manager gave the link up (it closes the link at once: the account is kept). NONE
 * if that connect did not fail in TLS (it succeeded, TCP failed, the link was cut, or
 * no connect was made yet). See tern_posix_conn_tls_failure().
 */
tern_posix_tls_failure_t tern_posix_link_failure(const tern_posix_link_t *l);

/**
 * The one-line account of that failure into @p buf (tern_posix_tls_describe(): the
 * check, the mbedTLS error, the server's alert, the verify flags, and the subject and
 * issuer of a server certificate that failed verification); "" if there was none.
 * TERN_ERR_TOO_SMALL if it does not fit @p cap (cut, terminated; TERN_POSIX_CONN_DESCRIBE_MAX
 * always do), TERN_ERR_INVAL for no @p buf.
 */
tern_err_t tern_posix_link_describe(const tern_posix_link_t *l, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* TERN_PORT_POSIX_LINK_H */
