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
#include "tern/hal.h"
#include "tern/keystore.h"
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
 * A TLS 1.2 client. Paths are read and PEM buffers parsed at open (the buffers need not
 * outlive it); the clock and key store are copied, and their state must outlive the
 * session.
 *
 * The trust store is ca_file or ca_pem, exactly one; the client certificate chain,
 * if any, cert_file or cert_pem, at most one. A buffer is PEM (leaf first for a chain),
 * its length excludes any NUL, and it is read strictly where a file is not: every
 * certificate in it must parse and nothing but whitespace may follow the last one
 * (explanatory text before a certificate is allowed), else TERN_ERR_MALFORMED.
 *
 * Everything below is checked during the handshake, so a failed check ends it before
 * any application (MQTT) byte can be sent:
 * - the server's chain must lead to a trust anchor of the trust store, with every signature,
 *   key and certificate within the profile: SHA-256, SHA-384 or SHA-512 signatures;
 *   RSA keys of 2048 bits or more; EC keys on P-256 or P-384. A server certificate
 *   signed by itself is refused like any unknown issuer (it is not in the trust
 *   store), but reported as self-signed. Pin a self-signed server by putting its
 *   certificate in the trust store.
 * - the hostname must be one of the leaf's DNS names (or its CN).
 * - with crl_file, no certificate of the chain may be on its issuer's CRL, and a CRL
 *   that is stale (next update passed), not yet valid or badly signed fails too.
 * - every certificate's not-before and not-after (and a CRL's this/next update) are
 *   judged by the wall time of `clock`, never by the host's time (see the policy
 *   below for an unknown wall clock). A wall time earlier than the floor F (below) is
 *   wrong, or was set back (a spoofed SNTP or NITZ answer) to revive an expired
 *   certificate: F is taken instead.
 * After a failure, tern_posix_tls_failure() says which check failed.
 *
 * Wall clock unknown (`clock` reports .known false, e.g. after boot before SNTP):
 * the device cannot know how late it is, only that it is later than the floor F,
 * the later of the firmware's build time (tern_posix_tls_build_time_ms()) and
 * time_floor_ms. So validity is judged at the instant F:
 * - a certificate (or CRL) whose not-after (next update) is before F has expired for
 *   certain: refused as expired, the same as with a known clock. An expired
 *   certificate replayed by someone who kept its key is refused this way as long as
 *   it expired before F.
 * - a certificate whose not-before (a CRL whose this-update) is after F cannot be
 *   judged: it may be fine, or it may have expired since. It is refused, with
 *   TERN_ERR_TIME_UNKNOWN and TERN_POSIX_TLS_FAIL_CLOCK_UNKNOWN: set the wall clock
 *   and connect again.
 * - what was valid at F is accepted: the whole chain was valid at a moment the device
 *   can vouch for. What remains open is a certificate valid at F that expired between
 *   F and now; keep F recent (store the last wall time seen, pass it as
 *   time_floor_ms) to narrow that window. A known clock closes it.
 *
 * Client authentication: cert_file (or cert_pem) with key_file (a PEM key, possibly
 * encrypted), or cert_file (or cert_pem) with keystore + key_label: the private key stays in the
 * key store, which signs the handshake. Key stores sign SHA-256 digests (tern/keystore.h), so then
 * only cipher suites whose handshake hash is SHA-256 are offered (no *_SHA384 suites: mbedTLS signs
 * CertificateVerify with the suite's hash), and signature_algorithms offers SHA-256 only. Either
 * way the certificate must be for that key (checked at open). A server that asks for a client
 * certificate when none is configured, then refuses the handshake, is reported as
 * TERN_POSIX_TLS_FAIL_CLIENT_CERT_REQUIRED.
 *
 * Limits of mbedTLS 2.28 worth knowing: the hostname is matched against the
 * certificate's DNS names (and CN) only, never its IP-address SANs, so connect
 * by the name the certificate carries. And it cannot reassemble a handshake
 * message the server split over records: with a maximum fragment length the
 * server's first flight (certificate chain included) must fit one fragment,
 * else the handshake fails with TERN_ERR_TLS. With a short EC chain 1024 does.
 */
typedef struct tern_posix_tls_config {
    const char *ca_file; /* PEM trust anchors, or NULL for ca_pem: the server is always verified */
    const uint8_t *ca_pem; /* instead of ca_file: the trust anchors in memory (PEM), or NULL */
    size_t ca_pem_len;     /* bytes of ca_pem, no NUL needed */
    const char *hostname;  /* required: checked against the certificate and sent as SNI */
    const char *crl_file;  /* PEM or DER CRLs of the trust store's CAs, checked if set, or NULL */
    const char *cert_file, *key_file; /* client certificate chain and key (PEM) for mTLS, or NULL */
    const uint8_t *cert_pem;  /* instead of cert_file: the client chain in memory (PEM), or NULL */
    size_t cert_pem_len;      /* bytes of cert_pem, no NUL needed */
    const char *key_password; /* for an encrypted key, or NULL */
    /* Instead of key_file: the key store holding the client key and its label (at most
     * TERN_KEYSTORE_LABEL_MAX characters); needs cert_file or cert_pem. NULL: none. */
    const tern_keystore_t *keystore;
    const char *key_label;
    /* The wall clock certificates are judged by. NULL: the host's CLOCK_REALTIME, always
     * known (right for servers and tools; a device passes its HAL clock). */
    const tern_clock_t *clock;
    /* UTC ms the device knows have passed (the last wall time it saw, kept in flash),
     * for an unknown wall clock (see above); 0 or older: the build time is the floor. */
    int64_t time_floor_ms;
    const char *const *alpn;       /* NULL-terminated protocol list to offer (copied), or NULL */
    uint16_t max_fragment_len;     /* 0 (none), 512, 1024, 2048 or 4096 */
    uint32_t handshake_timeout_ms; /* 0: TERN_POSIX_TLS_TIMEOUT_MS */
} tern_posix_tls_config_t;

/** Which check failed: tern_posix_tls_failure() after a handshake failed. */
typedef enum tern_posix_tls_failure {
    TERN_POSIX_TLS_FAIL_NONE = 0,      /* no failure (yet) */
    TERN_POSIX_TLS_FAIL_UNKNOWN_CA,    /* the server's chain leads to no anchor of the store */
    TERN_POSIX_TLS_FAIL_SELF_SIGNED,   /* the server's certificate is signed by itself, untrusted */
    TERN_POSIX_TLS_FAIL_REVOKED,       /* a certificate of the chain is on its issuer's CRL */
    TERN_POSIX_TLS_FAIL_WEAK,          /* a key or signature algorithm below the profile */
    TERN_POSIX_TLS_FAIL_HOSTNAME,      /* the certificate is not for the configured hostname */
    TERN_POSIX_TLS_FAIL_EXPIRED,       /* a certificate is past its not-after, by the wall clock */
    TERN_POSIX_TLS_FAIL_NOT_YET_VALID, /* a certificate is before its not-before, by the clock */
    TERN_POSIX_TLS_FAIL_CRL,           /* a CRL is stale, not yet valid or not signed by its CA */
    TERN_POSIX_TLS_FAIL_CLOCK_UNKNOWN, /* the clock is unknown and the policy cannot accept */
    TERN_POSIX_TLS_FAIL_CERT_OTHER,    /* another certificate problem (key usage, ...) */
    TERN_POSIX_TLS_FAIL_CLIENT_CERT_REQUIRED, /* the server wants a client certificate; none set */
    TERN_POSIX_TLS_FAIL_OTHER, /* not a certificate matter: the stream, a timeout, an alert */
} tern_posix_tls_failure_t;

/** A TLS session. The state lives on the heap; fields are private. */
typedef struct tern_posix_tls {
    struct tern_posix_tls_state *s;
} tern_posix_tls_t;

/**
 * Set up a client session over @p lower (copied; its state must outlive @p tls and it
 * stays the caller's to close). Loads the files and buffers and seeds a per-session
 * CTR-DRBG from the OS entropy. TERN_ERR_INVAL for no trust store or two (ca_file and
 * ca_pem), both cert_file and cert_pem, a missing hostname, a certificate without its
 * key (or with both key_file and keystore, or a keystore without key_label), a
 * certificate that is not for its key, a bad fragment length or ALPN name;
 * TERN_ERR_IO if a file cannot be read; TERN_ERR_MALFORMED if one does not parse; the
 * key store's error (TERN_ERR_NOT_FOUND: no such label); TERN_ERR_TLS if mbedTLS
 * refuses the setup.
 */
tern_err_t tern_posix_tls_open(tern_posix_tls_t *tls, const tern_transport_t *lower,
                               const tern_posix_tls_config_t *cfg);

/**
 * Advance the handshake: TERN_ERR_AGAIN while in progress (wait for the lower stream;
 * writable too if tern_posix_tls_want_write()), TERN_OK once established,
 * TERN_ERR_CERT if the server's certificate failed verification (which check:
 * tern_posix_tls_failure(); the flags: tern_posix_tls_verify_flags()),
 * TERN_ERR_TIME_UNKNOWN if the only objection is the unknown wall clock (see the
 * policy above), TERN_ERR_TIMEOUT past the timeout counted from the first poll, the
 * lower stream's error (TERN_ERR_CLOSED, TERN_ERR_IO) if it ended, and TERN_ERR_TLS
 * for any other TLS failure, such as the server's alert when it refuses our client
 * certificate or wanted one we do not have (an alert that arrives just before the
 * server hangs up wins over the write that then fails). Final.
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

/**
 * The mbedTLS certificate verification flags (MBEDTLS_X509_BADCERT_... and BADCRL_...)
 * of the handshake, the time flags by the configured clock; a refusal by the
 * unknown-clock policy shows as MBEDTLS_X509_BADCERT_OTHER.
 */
uint32_t tern_posix_tls_verify_flags(const tern_posix_tls_t *tls);

/**
 * Which check ended the handshake: TERN_POSIX_TLS_FAIL_NONE while none failed. With
 * several problems in a chain, the first of this order: unknown CA or self-signed,
 * revoked, weak, hostname, expired, not yet valid, CRL, clock unknown.
 */
tern_posix_tls_failure_t tern_posix_tls_failure(const tern_posix_tls_t *tls);

/** A static one-line explanation of @p f for logs and users ("certificate expired"). */
const char *tern_posix_tls_failure_str(tern_posix_tls_failure_t f);

/**
 * The build time this port judges certificates by when the wall clock is unknown: UTC
 * ms when the build was configured (SOURCE_DATE_EPOCH if set), 0 if not recorded.
 */
int64_t tern_posix_tls_build_time_ms(void);

/** The raw mbedTLS error code of the last failure (negative), 0 if none. */
int tern_posix_tls_mbedtls_error(const tern_posix_tls_t *tls);

/**
 * A one-line account of the last failure for logs: the check that failed, the mbedTLS
 * error, the server's alert if one came, the verify flags in words, and, when the
 * server's chain failed verification, the subject and issuer of its leaf.
 * TERN_ERR_TOO_SMALL if it did not fit in @p cap (it is cut, terminated).
 */
tern_err_t tern_posix_tls_describe(const tern_posix_tls_t *tls, char *buf, size_t cap);

/** The cipher suite of the established session ("TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"),
 * for logs; NULL before the handshake succeeded. */
const char *tern_posix_tls_ciphersuite(const tern_posix_tls_t *tls);

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
