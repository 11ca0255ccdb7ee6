/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file transport.h
 * @brief Layer 2: a connected byte stream, as two non-blocking calls.
 *
 * The MQTT session (and later CoAP and the link manager) speaks to the
 * network only through this: send and recv on an already connected stream
 * (TCP, TLS over TCP, a cellular modem's socket, a test pipe). Partial I/O is
 * normal: a call moves what it can right now, possibly nothing, and never
 * waits. Setting the stream up (connect, handshake) is the port's business.
 */
#ifndef TERN_TRANSPORT_H
#define TERN_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "tern/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tern_transport_ops {
    const char *name;
    /**
     * Send up to @p len bytes; *sent gets how many were taken (0 if the stream
     * cannot take any now). TERN_ERR_CLOSED / TERN_ERR_IO when the stream is dead.
     */
    tern_err_t (*send)(void *ctx, const uint8_t *buf, size_t len, size_t *sent);
    /**
     * Receive up to @p cap bytes; *got gets how many (0 if none arrived yet).
     * TERN_ERR_CLOSED once the peer has closed and everything was read.
     */
    tern_err_t (*recv)(void *ctx, uint8_t *buf, size_t cap, size_t *got);
} tern_transport_ops_t;

/** A connected stream: the port's ops and its per-connection state. */
typedef struct tern_transport {
    const tern_transport_ops_t *ops;
    void *ctx;
} tern_transport_t;

#ifdef __cplusplus
}
#endif
#endif /* TERN_TRANSPORT_H */
