/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file posix_net.h
 * @brief The POSIX port's network transports: TCP over BSD sockets and TLS 1.2
 * (mbedTLS) over any tern_transport_t.
 *
 * Both are set up in two steps that never block: a call that starts the work
 * (tern_posix_tcp_connect(), tern_posix_tls_open()) and a poll function the
 * caller's event loop calls with the HAL clock's time until it stops returning
 * TERN_ERR_AGAIN. Then each hands out a tern_transport_t whose send and recv
 * move what they can right now, possibly nothing. The caller waits on the
 * socket (tern_posix_tcp_fd()) with poll/epoll between calls; nothing here
 * sleeps. Everything is per instance: one process may hold many connections,
 * one thread at a time each.
 */
#ifndef TERN_PORT_POSIX_NET_H
#define TERN_PORT_POSIX_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/err.h"
#include "tern/time.h"
#include "tern/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

struct addrinfo;

/* ------------------------------------------------------------------ tcp -- */

/** Connect timeout when the options give none: the whole attempt, all addresses. */
#define TERN_POSIX_TCP_TIMEOUT_MS 10000u

/** Which address families a connect may use. */
typedef enum tern_posix_family {
    TERN_POSIX_FAMILY_ANY = 0, /* whatever the host resolves to, in resolver order */
    TERN_POSIX_FAMILY_IPV4,
    TERN_POSIX_FAMILY_IPV6,
} tern_posix_family_t;

/** How to connect; tern_posix_tcp_opts_default() (or all zeros) is a working choice. */
typedef struct tern_posix_tcp_opts {
    uint32_t timeout_ms;        /* 0: TERN_POSIX_TCP_TIMEOUT_MS */
    tern_posix_family_t family; /* restricts the host's addresses */
    /* Numeric local address to connect from ("127.0.0.2", "::1"), so links can
     * leave from distinct sources; NULL lets the OS pick. Only addresses of its
     * family are tried. */
    const char *bind_addr;
    int sndbuf, rcvbuf; /* SO_SNDBUF / SO_RCVBUF set before connecting; 0: OS default */
} tern_posix_tcp_opts_t;

/** A TCP connection. Fields are private. */
typedef struct tern_posix_tcp {
    int fd;
    int state;
    int last_errno;
    tern_err_t err;
    bool deadline_set;
    uint32_t timeout_ms;
    tern_ms_t deadline;
    int sndbuf, rcvbuf;
    struct addrinfo *addrs; /* resolved peer addresses, freed once connected */
    struct addrinfo *next;  /* the next one to try */
    struct addrinfo *bind;  /* resolved bind_addr, or NULL */
} tern_posix_tcp_t;

/** Fill @p o with the defaults: any family, default timeout, no bind address, OS buffers. */
void tern_posix_tcp_opts_default(tern_posix_tcp_opts_t *o);

/**
 * Start connecting @p t to @p host (numeric IPv4/IPv6 or a name) on @p port; @p opts may
 * be NULL. Resolving a name may block in the resolver (numeric hosts never do). Returns
 * TERN_OK once an attempt is under way (tern_posix_tcp_poll() gives the outcome),
 * TERN_ERR_INVAL for bad arguments or a non-numeric bind_addr, TERN_ERR_RESOLVE if the
 * host has no address of the wanted family. @p t must be fresh or closed.
 */
tern_err_t tern_posix_tcp_connect(tern_posix_tcp_t *t, const char *host, uint16_t port,
                                  const tern_posix_tcp_opts_t *opts);

/**
 * Advance the connect: TERN_ERR_AGAIN while in progress (wait for the fd to become
 * writable), TERN_OK once connected (TCP_NODELAY on), TERN_ERR_CONNECT when every
 * address refused or was unreachable, TERN_ERR_TIMEOUT when the timeout, counted from
 * the first poll, passed. Failures are final and repeat on later calls.
 */
tern_err_t tern_posix_tcp_poll(tern_posix_tcp_t *t, tern_ms_t now_ms);

/**
 * The socket to wait on: writable while connecting (it may change between polls, when
 * the next address is tried), readable/writable once connected; -1 if none.
 */
int tern_posix_tcp_fd(const tern_posix_tcp_t *t);

/** The OS error (errno) behind the last failure, for logs; 0 if none. */
int tern_posix_tcp_errno(const tern_posix_tcp_t *t);

/**
 * The stream of @p t, valid until close. send/recv never block: 0 bytes when the socket
 * cannot move any, TERN_ERR_CLOSED on end of stream or a write to a closed stream,
 * TERN_ERR_IO on a reset or other failure, TERN_ERR_STATE before the connect succeeded.
 * No SIGPIPE is ever raised.
 */
tern_transport_t tern_posix_tcp_transport(tern_posix_tcp_t *t);

/** Close the socket and free what connect took. Safe on a closed or zeroed @p t. */
void tern_posix_tcp_close(tern_posix_tcp_t *t);

/* ------------------------------------------------------------------ tls -- */

/** Handshake timeout when the configuration gives none. */
#define TERN_POSIX_TLS_TIMEOUT_MS 15000u

/**
 * A TLS 1.2 client. Paths are read at open; nothing here must outlive it.
 *
 * Limits of mbedTLS 2.28 worth knowing: the hostname is matched against the
 * certificate's DNS names (and CN) only, never its IP-address SANs, so connect
 * by the name the certificate carries. And it cannot reassemble a handshake
 * message the server split over records: with a maximum fragment length the
 * server's first flight (certificate chain included) must fit one fragment,
 * else the handshake fails with TERN_ERR_TLS. With a short EC chain 1024 does.
 */
typedef struct tern_posix_tls_config {
    const char *ca_file;  /* PEM trust anchors; required: the server is always verified */
    const char *hostname; /* required: checked against the certificate and sent as SNI */
    const char *cert_file, *key_file; /* client certificate chain and key (PEM) for mTLS, or NULL */
    const char *key_password;         /* for an encrypted key, or NULL */
    const char *const *alpn;          /* NULL-terminated protocol list to offer (copied), or NULL */
    uint16_t max_fragment_len;        /* 0 (none), 512, 1024, 2048 or 4096 */
    uint32_t handshake_timeout_ms;    /* 0: TERN_POSIX_TLS_TIMEOUT_MS */
} tern_posix_tls_config_t;

/** A TLS session. The state lives on the heap; fields are private. */
typedef struct tern_posix_tls {
    struct tern_posix_tls_state *s;
} tern_posix_tls_t;

/**
 * Set up a client session over @p lower (copied; its state must outlive @p tls and it
 * stays the caller's to close). Loads the files and seeds a per-session CTR-DRBG from
 * the OS entropy. TERN_ERR_INVAL for a missing CA or hostname, a certificate without
 * its key, a bad fragment length or ALPN name; TERN_ERR_IO if a file cannot be read;
 * TERN_ERR_MALFORMED if one does not parse; TERN_ERR_TLS if mbedTLS refuses the setup.
 */
tern_err_t tern_posix_tls_open(tern_posix_tls_t *tls, const tern_transport_t *lower,
                               const tern_posix_tls_config_t *cfg);

/**
 * Advance the handshake: TERN_ERR_AGAIN while in progress (wait for the lower stream;
 * writable too if tern_posix_tls_want_write()), TERN_OK once established,
 * TERN_ERR_CERT if the server's certificate failed verification (see
 * tern_posix_tls_verify_flags()), TERN_ERR_TIMEOUT past the timeout counted from the
 * first poll, the lower stream's error (TERN_ERR_CLOSED, TERN_ERR_IO) if it ended, and
 * TERN_ERR_TLS for any other TLS failure, such as the server's alert when it refuses
 * our client certificate (an alert that arrives just before the server hangs up wins
 * over the write that then fails). Final.
 */
tern_err_t tern_posix_tls_poll(tern_posix_tls_t *tls, tern_ms_t now_ms);

/**
 * The protected stream of @p tls, valid until close. send encrypts up to one record and
 * reports it taken even when the lower stream takes it only later: it leaves on the next
 * send, recv or tern_posix_tls_flush(). recv may leave decrypted bytes buffered here, so
 * call it until it returns 0 bytes before waiting on the socket. TERN_ERR_CLOSED after
 * the server's close_notify or end of stream; TERN_ERR_TLS on a record failure.
 */
tern_transport_t tern_posix_tls_transport(tern_posix_tls_t *tls);

/** Push encrypted bytes still waiting for the lower stream: TERN_OK when none is left,
 * TERN_ERR_AGAIN if some still wait, or the stream's error. */
tern_err_t tern_posix_tls_flush(tern_posix_tls_t *tls);

/** True if output waits for the lower stream: wait for writability, then flush. */
bool tern_posix_tls_want_write(const tern_posix_tls_t *tls);

/** True if data already received can be read without touching the lower stream. */
bool tern_posix_tls_has_buffered(const tern_posix_tls_t *tls);

/** The mbedTLS certificate verification flags (MBEDTLS_X509_BADCERT_...) of the handshake. */
uint32_t tern_posix_tls_verify_flags(const tern_posix_tls_t *tls);

/** The raw mbedTLS error code of the last failure (negative), 0 if none. */
int tern_posix_tls_mbedtls_error(const tern_posix_tls_t *tls);

/**
 * A one-line account of the last failure for logs: the mbedTLS error and the verify
 * flags in words. TERN_ERR_TOO_SMALL if it did not fit in @p cap (it is cut, terminated).
 */
tern_err_t tern_posix_tls_describe(const tern_posix_tls_t *tls, char *buf, size_t cap);

/** The protocol the server chose from the ALPN list, or NULL (none offered or chosen). */
const char *tern_posix_tls_alpn(const tern_posix_tls_t *tls);

/**
 * Send close_notify if the session is up (once, without waiting), then free everything,
 * wiping buffered plaintext. The lower stream stays open. Safe on a closed or zeroed @p tls.
 */
void tern_posix_tls_close(tern_posix_tls_t *tls);

#ifdef __cplusplus
}
#endif
#endif /* TERN_PORT_POSIX_NET_H */
