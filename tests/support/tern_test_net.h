/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file tern_test_net.h
 * @brief Test support for network tests: loopback sockets, bounded waits on the
 * port's transports, and hand-written MQTT 3.1.1 packets to prove a data path.
 *
 * Every wait here is bounded and polls the socket between non-blocking calls,
 * the way an event loop drives the SDK.
 */
#ifndef TERN_TEST_NET_H
#define TERN_TEST_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/port/posix_net.h"
#include "tern/time.h"
#include "tern/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Call first in a network test: SIGPIPE gets its default action back, so a transport
 * that let one through would end the test instead of passing unnoticed.
 */
void tern_test_net_init(void);

/** Monotonic milliseconds, for the port's poll functions. */
tern_ms_t tern_test_now_ms(void);

/**
 * A listening TCP socket on numeric @p addr ("127.0.0.1", "::1") and a free port
 * (written to *port), with @p backlog; close-on-exec, blocking. -1 on failure.
 */
int tern_test_listen(const char *addr, int backlog, uint16_t *port);

/** accept() on @p lfd within @p timeout_ms; the new socket or -1. */
int tern_test_accept(int lfd, uint32_t timeout_ms);

/** True if numeric @p addr:@p port accepts a TCP connection within @p timeout_ms. */
bool tern_test_port_accepts(const char *addr, uint16_t port, uint32_t timeout_ms);

/** True if the kernel has an IPv6 loopback (a socket can be bound to ::1). */
bool tern_test_have_ipv6(void);

/** poll() @p fd for @p events up to @p timeout_ms; true if any is ready. */
bool tern_test_wait_fd(int fd, short events, uint32_t timeout_ms);

/**
 * Connect @p t (tern_posix_tcp_connect() then poll, waiting on the socket between
 * polls) and return the final result; the timeout is the one in @p opts.
 */
tern_err_t tern_test_tcp_connect(tern_posix_tcp_t *t, const char *host, uint16_t port,
                                 const tern_posix_tcp_opts_t *opts);

/**
 * Run the handshake of an opened @p tls over the socket @p fd to its end (the
 * timeout is the session's) and return the final result.
 */
tern_err_t tern_test_tls_handshake(tern_posix_tls_t *tls, int fd);

/**
 * Connect @p tcp to @p host:@p port, open @p tls over it with @p cfg and run the
 * handshake. On failure both are closed again; the result is the first failure.
 */
tern_err_t tern_test_tls_connect(tern_posix_tcp_t *tcp, tern_posix_tls_t *tls, const char *host,
                                 uint16_t port, const tern_posix_tls_config_t *cfg);

/** A TLS connection of a test: its socket, session, transport and descriptor. */
typedef struct tern_test_tls_conn {
    tern_posix_tcp_t tcp;
    tern_posix_tls_t tls;
    tern_transport_t tr;
    int fd;
} tern_test_tls_conn_t;

/**
 * tern_test_tls_connect() to 127.0.0.1:@p port, then the transport and descriptor; on
 * a failure, prints tern_posix_tls_describe()'s reason (expected or not).
 */
tern_err_t tern_test_tls_conn_open(tern_test_tls_conn_t *c, uint16_t port,
                                   const tern_posix_tls_config_t *cfg);

/** Close the session and the socket. */
void tern_test_tls_conn_close(tern_test_tls_conn_t *c);

/**
 * Flush @p tls until nothing waits for the socket @p fd (writable), within @p timeout_ms:
 * what an event loop does while tern_posix_tls_want_write(). TERN_OK, or the error.
 */
tern_err_t tern_test_tls_flush(tern_posix_tls_t *tls, int fd, uint32_t timeout_ms);

/** Send all @p len bytes over @p tr within @p timeout_ms (TERN_ERR_TIMEOUT otherwise). */
tern_err_t tern_test_send_all(const tern_transport_t *tr, int fd, const void *buf, size_t len,
                              uint32_t timeout_ms);

/** Receive exactly @p len bytes within @p timeout_ms (TERN_ERR_TIMEOUT otherwise). */
tern_err_t tern_test_recv_exact(const tern_transport_t *tr, int fd, void *buf, size_t len,
                                uint32_t timeout_ms);

/**
 * Read and discard until recv fails, within @p timeout_ms: the failure
 * (TERN_ERR_CLOSED, TERN_ERR_IO ...) or TERN_ERR_TIMEOUT.
 */
tern_err_t tern_test_recv_until_error(const tern_transport_t *tr, int fd, uint32_t timeout_ms);

/** MQTT 3.1.1 CONNECT (clean session, keepalive 60 s) for @p client_id; its length or 0. */
size_t tern_test_mqtt_connect(uint8_t *buf, size_t cap, const char *client_id);

/** SUBSCRIBE to @p topic at QoS 0 with packet id @p id; its length or 0. */
size_t tern_test_mqtt_subscribe(uint8_t *buf, size_t cap, uint16_t id, const char *topic);

/**
 * PUBLISH at QoS 0 of @p len payload bytes to @p topic, retained if @p retain; its length or
 * 0 if it does not fit.
 */
size_t tern_test_mqtt_publish(uint8_t *buf, size_t cap, const char *topic, const void *payload,
                              size_t len, bool retain);

/**
 * Send CONNECT for @p client_id over @p tr and check the broker answers CONNACK
 * accepted (20 02 00 00): TERN_OK, TERN_ERR_PROTOCOL on another answer, or the
 * transport's error / TERN_ERR_TIMEOUT (5 s).
 */
tern_err_t tern_test_mqtt_hello(const tern_transport_t *tr, int fd, const char *client_id);

#ifdef __cplusplus
}
#endif
#endif /* TERN_TEST_NET_H */
