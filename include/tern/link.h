/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file link.h
 * @brief Layer 2: the link manager, one connection over several links
 * (Ethernet, Wi-Fi, cellular, LoRa) with failover and fail back.
 *
 * The manager is portable logic only: no heap, no globals, no I/O of its own.
 * Each link is a descriptor the caller fills (name, kind, cost, MTU, rank) plus
 * the port's ops table and context, like a HAL instance. tern_link_poll()
 * connects the best link it may, switches to the next one within the same poll
 * when the active link fails, and goes back to a more preferred link once that
 * link has been reachable for a stable time. It checks a preferred link in the
 * background with the port's probe if there is one, else with a trial
 * connection it keeps open and hands over when switching (make before break).
 * Every retry of a link waits for the delay its own tern_backoff_t gives
 * (tern/backoff.h): there is no retry interval of its own.
 */
#ifndef TERN_LINK_H
#define TERN_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/backoff.h"
#include "tern/err.h"
#include "tern/time.h"
#include "tern/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What a link is made of; informative (logs, metrics), ranking uses rank and cost. */
typedef enum tern_link_kind {
    TERN_LINK_ETHERNET = 0,
    TERN_LINK_WIFI,
    TERN_LINK_CELLULAR,
    TERN_LINK_LORA,
} tern_link_kind_t;

/** What a byte costs on a link: the outbox lets bulk data drain only on a free one. */
typedef enum tern_link_cost {
    TERN_LINK_COST_FREE = 0,
    TERN_LINK_COST_METERED,
    TERN_LINK_COST_EXPENSIVE,
} tern_link_cost_t;

/** The port's side of one link. All calls return at once; none may block. */
typedef struct tern_link_ops {
    const char *name;
    /** Start connecting: TERN_OK once under way (poll gives the outcome), or the failure. */
    tern_err_t (*start)(void *ctx, tern_ms_t now);
    /**
     * Advance and check: TERN_ERR_AGAIN while connecting, TERN_OK while up, a failure
     * (final until the next start) once the connect failed or the link went down.
     */
    tern_err_t (*poll)(void *ctx, tern_ms_t now);
    /** The connected stream; called only after poll answered TERN_OK. */
    tern_transport_t (*transport)(void *ctx);
    /** Tear down whatever start began; the link may be started again later. */
    void (*close)(void *ctx);
    /**
     * Optional (NULL: a trial connection is used instead): is the link reachable now,
     * without connecting it? TERN_OK reachable, TERN_ERR_AGAIN not known yet, a failure
     * if not.
     */
    tern_err_t (*probe)(void *ctx, tern_ms_t now);
} tern_link_ops_t;

/** Private state the manager keeps in each descriptor. */
typedef struct tern_link_state {
    uint8_t st;         /* TERN_LINK_ST_... (link.c) */
    bool retry_set;     /* a retry is scheduled at retry_at */
    bool since_set;     /* up or reachable since `since` */
    bool proven;        /* probe proved it stable: switch as soon as the trial is up */
    bool failed_now;    /* failed during the current poll: not tried again in it */
    bool gave_up;       /* its backoff ran out of attempts (or its RNG failed) */
    tern_ms_t retry_at; /* earliest next start or probe */
    tern_ms_t since;    /* when it came up (active, trial) or became reachable (probe) */
} tern_link_state_t;

/** One link: the caller fills the public fields; `priv` is the manager's. */
typedef struct tern_link {
    const char *name; /* "eth0", "wlan0", "lte" ... for events and logs */
    tern_link_kind_t kind;
    tern_link_cost_t cost;
    uint16_t mtu; /* largest datagram, for the layers above */
    uint8_t rank; /* lower is preferred; ties go to the cheaper, then the earlier */
    const tern_link_ops_t *ops;
    void *ctx;
    /* Retry schedule of this link, set up by the caller (required). The manager draws a
     * delay after each failure and resets it once the link was up for the stable time. */
    tern_backoff_t *backoff;
    tern_link_state_t priv;
} tern_link_t;

/** What happened to a link. */
typedef enum tern_link_event_type {
    TERN_LINK_EVENT_UP = 0, /* link became the active one and is connected */
    TERN_LINK_EVENT_DOWN, /* active link failed (err < 0) or was left for a better one (TERN_OK) */
    TERN_LINK_EVENT_SWITCHED, /* active link changed from `from` to `link` */
} tern_link_event_type_t;

typedef struct tern_link_event {
    tern_link_event_type_t type;
    const tern_link_t *link;
    const tern_link_t *from; /* SWITCHED only, else NULL */
    tern_err_t err;          /* DOWN: why */
} tern_link_event_t;

typedef void (*tern_link_event_fn)(void *arg, const tern_link_event_t *ev);

/** How the manager behaves. */
typedef struct tern_link_config {
    uint32_t stable_ms;          /* a preferred link must be reachable this long before fail back */
    tern_link_event_fn on_event; /* may be NULL */
    void *event_arg;
} tern_link_config_t;

/** The manager. Fields are private. */
typedef struct tern_link_mgr {
    tern_link_t *links;
    size_t n;
    tern_link_config_t cfg;
    int active;         /* index into links, -1 if none */
    int last_up;        /* the previous link that was up and active, -1 if none */
    tern_err_t pending; /* a failure reported by the caller, handled by the next poll */
} tern_link_mgr_t;

/**
 * Set up @p m over the caller's @p links (@p n of them; the array must outlive @p m and
 * its state is reset). TERN_ERR_INVAL for NULL arguments, n == 0, or a link without
 * backoff or ops/start/poll/transport/close. Connects nothing yet. A link whose backoff
 * gives up (max_attempts) is not tried again until tern_link_close_all().
 */
tern_err_t tern_link_init(tern_link_mgr_t *m, tern_link_t *links, size_t n,
                          const tern_link_config_t *cfg);

/**
 * Drive the links at time @p now: check the active link, fail over to the next one in
 * the same call, check preferred links in the background and fail back to one once it
 * has been stable for cfg.stable_ms. Events are delivered from inside this call.
 * Returns TERN_OK if a link is up, TERN_ERR_AGAIN while one is connecting, and
 * TERN_ERR_CONNECT when every link waits for its retry.
 */
tern_err_t tern_link_poll(tern_link_mgr_t *m, tern_ms_t now);

/**
 * Tell the manager the active link failed above it (keepalive timeout, a read or
 * write error; @p err < 0). The next tern_link_poll() closes it and fails over.
 * TERN_ERR_INVAL if err >= 0, TERN_ERR_STATE if no link is active.
 */
tern_err_t tern_link_report_failure(tern_link_mgr_t *m, tern_err_t err);

/** The active link if it is up, else NULL: its name, kind, cost and MTU. */
const tern_link_t *tern_link_active(const tern_link_mgr_t *m);

/** The active link's stream in @p out; TERN_ERR_STATE if no link is up. */
tern_err_t tern_link_transport(const tern_link_mgr_t *m, tern_transport_t *out);

/** Whether bulk data may drain now: true only while the active link is up and free. */
bool tern_link_bulk_allowed(const tern_link_mgr_t *m);

/**
 * How long the caller may wait before the manager has timed work at @p now (a retry
 * coming due, a stable time ending): what a poll loop may sleep at most, besides
 * waiting on the ports' own sockets. 0: poll now; UINT32_MAX: nothing timed.
 */
uint32_t tern_link_next_timeout(const tern_link_mgr_t *m, tern_ms_t now);

/** Close every link; the manager may be polled again afterwards, from scratch. */
void tern_link_close_all(tern_link_mgr_t *m);

/** "ethernet", "wifi", "cellular", "lora". */
const char *tern_link_kind_name(tern_link_kind_t kind);

#ifdef __cplusplus
}
#endif
#endif /* TERN_LINK_H */
