/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file tern_broker.h
 * @brief Test support: a real mosquitto broker on free loopback ports, one per test.
 *
 * The broker gets its own scratch directory (generated mosquitto.conf, log,
 * persistence) and listens on 127.0.0.1 (and ::1 if asked) only: a plain
 * listener plus up to TERN_BROKER_MAX_TLS TLS listeners, each on its own free
 * port. start returns once every port accepts connections. A broker never
 * outlives its test: close it in teardown; at exit, or if the test process
 * dies, it is killed anyway (tern_proc.h).
 */
#ifndef TERN_BROKER_H
#define TERN_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/err.h"
#include "tern_proc.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TERN_BROKER_MAX_TLS 12
#define TERN_BROKER_PATH    256

/** A TLS listener. Paths are read by mosquitto at each start; they must stay valid. */
typedef struct tern_broker_tls {
    const char *cafile;       /* CA that client certificates must chain to */
    const char *certfile;     /* the server's certificate (PEM) */
    const char *keyfile;      /* and its key */
    bool require_certificate; /* mTLS: refuse clients without a valid certificate */
} tern_broker_tls_t;

/** What to start; tern_broker_config_default() gives one plain IPv4 listener. */
typedef struct tern_broker_config {
    bool ipv6; /* listen on ::1 too, on the same ports */
    size_t ntls;
    tern_broker_tls_t tls[TERN_BROKER_MAX_TLS];
    /* Lines added to TLS listener i's section, or NULL: e.g. "ciphers DEFAULT:@SECLEVEL=0\n"
     * so that OpenSSL serves a certificate it would refuse as too weak. */
    const char *tls_options[TERN_BROKER_MAX_TLS];
    /* Persist sessions and retained messages across stop/restart: in
     * persistence_dir, or in the broker's own directory when that is NULL. */
    bool persistence;
    const char *persistence_dir;
    /* Lines appended to mosquitto.conf after the listeners, e.g.
     * "max_inflight_messages 2\nmax_keepalive 30\n": global options apply to
     * the broker, listener options to the last listener. */
    const char *extra;
} tern_broker_config_t;

/** A running (or stopped) broker. Read the ports; the rest is private. */
typedef struct tern_broker {
    uint16_t port;                          /* the plain listener */
    uint16_t tls_port[TERN_BROKER_MAX_TLS]; /* the TLS listeners, in config order */
    tern_proc_t proc;
    tern_broker_config_t cfg;
    char dir[TERN_BROKER_PATH];
    char conf_path[TERN_BROKER_PATH + 32];
    char log_path[TERN_BROKER_PATH + 32];
} tern_broker_t;

/** One plain listener on 127.0.0.1, no TLS, no persistence, nothing extra. */
void tern_broker_config_default(tern_broker_config_t *cfg);

/**
 * Start a broker as @p cfg says (copied; its strings must outlive @p b; NULL: the
 * default) on free ports,
 * in a fresh scratch directory, and wait (at most 5 s) until every port accepts.
 * Retries with other ports if one was taken meanwhile. TERN_ERR_IO if mosquitto will
 * not run (its log is printed), TERN_ERR_TIMEOUT if it never listened.
 */
tern_err_t tern_broker_start(tern_broker_t *b, const tern_broker_config_t *cfg);

/** SIGTERM, wait (at most 5 s, then SIGKILL). Directory and ports stay for a restart. */
tern_err_t tern_broker_stop(tern_broker_t *b);

/** SIGKILL: a crash; persistence keeps only what the broker had saved before. */
tern_err_t tern_broker_kill(tern_broker_t *b);

/** Stop if running, then start again on the same ports with the same config and data. */
tern_err_t tern_broker_restart(tern_broker_t *b);

/** SIGSTOP: connections stay open but nothing is answered (keepalive tests). */
tern_err_t tern_broker_pause(tern_broker_t *b);

/** SIGCONT after tern_broker_pause(). */
tern_err_t tern_broker_resume(tern_broker_t *b);

/** True while the broker process runs (paused counts as running). */
bool tern_broker_running(tern_broker_t *b);

/** Stop the broker and delete its directory. Safe twice and on a zeroed @p b. */
void tern_broker_close(tern_broker_t *b);

/** The broker's log file (mosquitto's log and its stdout/stderr). */
const char *tern_broker_log_path(const tern_broker_t *b);

/**
 * True once a line of the log contains @p needle (e.g. "New client connected from
 * 127.0.0.2:"), looking again for up to @p timeout_ms (0: look once).
 */
bool tern_broker_log_wait(const tern_broker_t *b, const char *needle, uint32_t timeout_ms);

/** Print the log to stderr: call it when a test fails. */
void tern_broker_print_log(const tern_broker_t *b);

#ifdef __cplusplus
}
#endif
#endif /* TERN_BROKER_H */
