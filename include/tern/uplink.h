/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file uplink.h
 * @brief Layer 2: store-and-forward MQTT over several links. The outbox, the
 * link manager and the MQTT session, wired together.
 *
 * The application hands messages to tern_uplink_send(): each becomes a record
 * of the persistent outbox (tern/outbox.h) at once, durable before the call
 * returns, whether or not any link is up. tern_uplink_poll() does the rest:
 * it drives the link manager (tern/link.h), runs one MQTT session over
 * whichever link is active, and drains the outbox into it, critical records
 * first. A record leaves the outbox only when the broker acknowledged it
 * (PUBACK, or PUBCOMP at QoS 2); the session's in-flight table is saved in
 * the outbox after every poll that changed it, so a reset resumes the same
 * flows (same packet ids, DUP set) instead of starting over.
 *
 * Link changes. When the active link fails (connect error, read or write
 * error, keep-alive timeout) or the manager fails back to a preferred link,
 * the session is moved within the same poll: it is ended without touching the
 * old stream (tern_mqtt_abort()) and connected again over the new one, never
 * with clean start, so the broker resumes it (Session Present) and the
 * unacknowledged messages are resent. The application sees LINK and
 * OFFLINE/ONLINE events, nothing else changes for it. A session that ends
 * while its link still looks up (the broker closed it, refused the CONNACK,
 * or stopped answering) is reported to the link manager as a failure of that
 * link, so every reconnect waits for the link's own backoff (tern/backoff.h):
 * there is no retry interval here.
 *
 * Bulk. BULK records drain only while the active link's cost class is at most
 * `bulk_max_cost` and the MQTT connection has been up for `bulk_stable_ms`;
 * CRITICAL and NORMAL ones drain on any link as soon as the session is up.
 *
 * Deduplication. Every message carries its outbox sequence number, unique and
 * increasing per device, so a receiver can turn at-least-once into exactly
 * once: in MQTT 5 as the user property "seq" (decimal text); in MQTT 3.1.1,
 * which has no properties, as the first 4 bytes of the payload (big-endian),
 * the application's payload following.
 *
 * Records. A record is {flags u8 (bit 0: retain), topic length u8, topic,
 * payload}: the outbox's max_payload must allow 2 + topic + payload bytes.
 * A record that is not of this form (a foreign or damaged outbox whose CRCs
 * still match) is removed with a REJECTED event rather than blocking the queue.
 * The broker's refusal of a message for good (MQTT 5 reason 0x87 not
 * authorized, 0x90 topic name invalid, 0x95 packet too large, 0x99 payload
 * format invalid) or a message this session can never send (larger than the
 * tx buffer or the server's Maximum Packet Size) also removes the record with
 * REJECTED; any other failure keeps it for the next connection.
 *
 * No heap, no globals, no blocking: the caller owns every buffer, and the
 * flash operations are the outbox's (bounded by the backlog).
 */
#ifndef TERN_UPLINK_H
#define TERN_UPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/err.h"
#include "tern/link.h"
#include "tern/mqtt.h"
#include "tern/outbox.h"
#include "tern/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Bytes of a record around its topic and payload. */
#define TERN_UPLINK_RECORD_OVERHEAD      2u
/** Scratch the uplink needs for an outbox whose max_payload is @p max_payload. */
#define TERN_UPLINK_SCRATCH(max_payload) ((size_t)(max_payload) + 6u)
/** The MQTT 5 user property that carries the sequence number. */
#define TERN_UPLINK_SEQ_PROPERTY         "seq"

typedef enum tern_uplink_event_type {
    TERN_UPLINK_EV_LINK = 1,  /* the link manager's event, as is: link_ev */
    TERN_UPLINK_EV_ONLINE,    /* the MQTT session is up over `link`: session_present */
    TERN_UPLINK_EV_OFFLINE,   /* the MQTT session ended: err (TERN_OK: after our DISCONNECT) */
    TERN_UPLINK_EV_DELIVERED, /* record `seq` was acknowledged and left the outbox */
    TERN_UPLINK_EV_REJECTED,  /* record `seq` can never be delivered and left the outbox: err */
    TERN_UPLINK_EV_MQTT,      /* any other session event (MESSAGE, SUBACK ...): mqtt */
} tern_uplink_event_type_t;

typedef struct tern_uplink_event {
    tern_uplink_event_type_t type;
    tern_err_t err;
    uint32_t seq;
    bool session_present;
    const tern_link_t *link;          /* ONLINE, OFFLINE: the link of the session */
    const tern_link_event_t *link_ev; /* LINK */
    const tern_mqtt_event_t *mqtt;    /* MQTT */
} tern_uplink_event_t;

typedef void (*tern_uplink_event_fn)(void *user, const tern_uplink_event_t *ev);

typedef struct tern_uplink_config {
    /* Set up with tern_link_init(); the uplink takes over its event callback and passes
     * every link event on as TERN_UPLINK_EV_LINK. */
    tern_link_mgr_t *links;
    /* Buffers and tables of the session; on_event, reproduce and user are the uplink's,
     * copy is not used (the outbox reproduces messages). */
    tern_mqtt_config_t mqtt;
    tern_outbox_t *outbox; /* mounted; its max_payload bounds a record */
    tern_mqtt_version_t version;
    /* The CONNECT: client id, keep alive, will, credentials, session expiry (MQTT 5:
     * give one, or the broker forgets the session when a link drops). clean_start is
     * forced off. Its views must outlive the uplink. */
    tern_mqtt_connect_t connect;
    uint8_t qos;                    /* of every outbox message: 1 or 2 */
    tern_link_cost_t bulk_max_cost; /* BULK drains only over links this cheap or cheaper */
    uint32_t bulk_stable_ms;        /* ... once the session has been up this long */
    uint16_t window;                /* outbox messages in flight at most (0: the table) */
    uint8_t *scratch;               /* TERN_UPLINK_SCRATCH(outbox max_payload) bytes */
    size_t scratch_size;
    tern_uplink_event_fn on_event; /* may be NULL */
    void *user;
} tern_uplink_config_t;

/** The uplink. Caller-owned; fields are private. */
typedef struct tern_uplink {
    tern_uplink_config_t c;
    tern_mqtt_t mqtt;
    const tern_link_t *on; /* the link the session was started over, NULL if idle */
    tern_ms_t now, online_since;
    bool online, link_changed, aborting, dirty, cursor_set, more;
    tern_outbox_rec_t cursor; /* the last record handed to the session */
    tern_err_t fatal;         /* an outbox failure: poll returns it */
    char seq_text[12];
    tern_mqtt_prop_t seq_prop;
} tern_uplink_t;

/**
 * Set @p u up: take over the link manager's events, start the session with the
 * in-flight table the outbox saved last (so a reset resumes its flows).
 * TERN_ERR_INVAL for missing parts, qos not 1 or 2, a scratch smaller than
 * TERN_UPLINK_SCRATCH(outbox max_payload), or an in-flight table whose snapshot
 * (12 bytes a record) does not fit one outbox record; the session's or
 * outbox's error else.
 * A saved table that does not fit or is impossible is dropped: its records are
 * still in the outbox and are sent again as new messages.
 */
tern_err_t tern_uplink_init(tern_uplink_t *u, const tern_uplink_config_t *cfg);

/**
 * Queue @p payload (@p len bytes) for @p topic at @p prio, durably: TERN_OK only
 * once the record is in flash (see tern_outbox_enqueue()). *seq (may be NULL)
 * gets its sequence number. TERN_ERR_RANGE if the record exceeds the outbox's
 * max_payload or the topic 255 bytes, TERN_ERR_FULL if only critical records
 * fill the outbox; a bulk or normal record may be evicted to make room.
 */
tern_err_t tern_uplink_send(tern_uplink_t *u, tern_outbox_prio_t prio, const char *topic,
                            const void *payload, size_t len, bool retain, uint32_t *seq);

/**
 * Do the work at time @p now: links, session, draining. Never blocks. TERN_OK,
 * or an outbox (flash) failure, after which the outbox needs a remount.
 */
tern_err_t tern_uplink_poll(tern_uplink_t *u, tern_ms_t now);

/** How long the caller may sleep (besides waiting on the active link's socket). */
uint32_t tern_uplink_next_timeout(const tern_uplink_t *u, tern_ms_t now);

/** The session, for subscribe/unsubscribe and direct (non-outbox) publishes. */
tern_mqtt_t *tern_uplink_mqtt(tern_uplink_t *u);

/** True while the session is connected. */
bool tern_uplink_online(const tern_uplink_t *u);

/** Whether BULK records may drain now (cost class and stable time). */
bool tern_uplink_bulk_allowed(const tern_uplink_t *u, tern_ms_t now);

/** Outbox records not yet acknowledged, all priorities. */
uint32_t tern_uplink_backlog(const tern_uplink_t *u);

#ifdef __cplusplus
}
#endif
#endif /* TERN_UPLINK_H */
