/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqtt.h
 * @brief Layer 2: the MQTT 3.1.1 / 5.0 client session over a tern_transport_t.
 *
 * The session is the state machine above the codec (tern/mqtt_codec.h): it
 * connects, keeps the link alive, runs the QoS 1 and 2 flows both ways,
 * honours the server's limits and reports everything through one callback.
 * No heap, no globals, no I/O outside tern_mqtt_poll(): the calls below only
 * queue packets in the caller's tx buffer; poll sends them, reads, decodes,
 * raises events and runs the timers. The protocol version is chosen at each
 * tern_mqtt_connect().
 *
 * Memory, all the caller's (tern_mqtt_config_t): a tx buffer (the largest
 * packet we send must fit), an rx buffer (we announce it as our Maximum
 * Packet Size; a PUBLISH that does not fit is streamed, see below), the
 * in-flight table, and optional tables for message copies, subscriptions and
 * topic aliases.
 *
 * In-flight state and persistence. Every QoS 1/2 flow, both ways, is one
 * tern_mqtt_inflight_t record of 12 bytes in the caller's array: packet id,
 * stage, send order, flags and the caller's token for the message. The array
 * IS the session state: write it to flash byte for byte, and after a reset
 * read it back into the array given to tern_mqtt_init() and call
 * tern_mqtt_restore(). The session keeps no payloads of its own: when it must
 * resend a PUBLISH (reconnect, or a publish queued for later) it asks the
 * caller's `reproduce` callback to fill the message for the record's token
 * (a persistent outbox does exactly that). Callers without one give a `copy`
 * area instead: it is split in equal slots, one per record, and each QoS>0
 * publish is stored encoded in its record's slot (persist it with the table;
 * a message bigger than a slot is refused with TERN_ERR_TOO_SMALL). With a
 * callback the copy store is not used. With neither, a QoS>0 publish that
 * cannot go out at once is refused (TERN_ERR_AGAIN / TERN_ERR_BUSY /
 * TERN_ERR_STATE) and one cut off by a lost link cannot be resent.
 *
 * The table is shared: records for the server's QoS 2 (our Receive Maximum,
 * `receive_max`) are kept free for it, ours may use the rest; a QoS>0 publish
 * that finds none is refused with TERN_ERR_BUSY until a flow ends.
 *
 * Reconnecting. On a CONNACK with Session Present, every unacknowledged
 * PUBLISH (DUP set) and PUBREL is resent in its original order (PUBLISHes in
 * the order first sent, PUBRELs in the order their PUBRECs came). Without
 * Session Present the server has forgotten us, so (our choice, documented
 * here): QoS 1/2 messages not yet acknowledged (no PUBACK / no PUBREC) are
 * published again as new messages (DUP clear: at least once, never lost);
 * QoS 2 messages whose PUBREC came were accepted by the server, so only their
 * PUBREL goes out again and the PUBCOMP that answers it (reason 0x92 in
 * MQTT 5) completes them as published; inbound QoS 2 ids waiting for PUBREL
 * are forgotten; and every subscription in the caller's table is subscribed
 * again, one SUBSCRIBE each (so do not subscribe again yourself after a
 * CONNECTED without Session Present). Message Expiry is passed through
 * unchanged on a resend: the session has no wall clock.
 *
 * Large messages. An incoming PUBLISH bigger than the rx buffer is delivered
 * in pieces: each MESSAGE event carries the topic and properties and one
 * chunk of the payload, with its offset and the total length. Only when even
 * the topic and properties do not fit is the message refused: the link is
 * closed with TERN_ERR_MQTT_PACKET_TOO_LARGE (and DISCONNECT 0x95 in MQTT 5),
 * as it is for any other packet bigger than rx. A delivery cut off by a lost
 * link (or a reset) is not acknowledged, so the server sends the message again
 * and it is delivered again from offset 0, QoS 2 included. Nothing is
 * dropped silently. Set `max_packet` to announce more than the rx buffer to
 * an MQTT 5 server and receive streamed messages from it.
 *
 * Flow control (MQTT 5): at most the server's Receive Maximum QoS>0 PUBLISHes
 * are unacknowledged at once; a QoS>0 publish beyond that is queued (if it
 * can be reproduced) or refused with TERN_ERR_BUSY. A packet above the
 * server's Maximum Packet Size is refused with TERN_ERR_RANGE, one that can
 * never fit the tx buffer with TERN_ERR_TOO_SMALL, and TERN_ERR_AGAIN means
 * "the tx buffer is full now: poll, then retry". Our own QoS 2 flows count
 * until PUBCOMP; a PUBLISH waiting for quota never holds up a PUBREL.
 *
 * Sizes (Cortex-M4, -Os): about 4.3 KiB with MQTT 5, 3.3 KiB with
 * TERN_MQTT_V5 = 0, on top of the codec.
 */
#ifndef TERN_MQTT_H
#define TERN_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/err.h"
#include "tern/mqtt_codec.h"
#include "tern/tern_config.h"
#include "tern/time.h"
#include "tern/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Stages of an in-flight record. The QoS follows: PUBACK is QoS 1, the rest QoS 2. */
typedef enum tern_mqtt_stage {
    TERN_MQTT_STAGE_FREE = 0,    /* unused record */
    TERN_MQTT_STAGE_PUBACK = 1,  /* ours, QoS 1: PUBLISH (to be) sent, awaiting PUBACK */
    TERN_MQTT_STAGE_PUBREC = 2,  /* ours, QoS 2: PUBLISH (to be) sent, awaiting PUBREC */
    TERN_MQTT_STAGE_PUBCOMP = 3, /* ours, QoS 2: PUBREL (to be) sent, awaiting PUBCOMP */
    TERN_MQTT_STAGE_PUBREL = 4,  /* the server's QoS 2: delivered, PUBREC sent, awaiting PUBREL */
} tern_mqtt_stage_t;

/** Record flags. */
#define TERN_MQTT_IF_PENDING 0x01u /* ours: still to be (re)sent; theirs: delivery not finished */
#define TERN_MQTT_IF_SENT    0x02u /* its PUBLISH went out once: a resend sets DUP */

/**
 * One QoS 1/2 flow. A plain struct without pointers: the array of them may be
 * stored and restored byte for byte (same build, same endianness).
 */
typedef struct tern_mqtt_inflight {
    uint32_t order;     /* send order (wrap-safe compare): resends go oldest first */
    uint32_t token;     /* ours: the caller's handle for the message; theirs: 0 */
    uint16_t packet_id; /* ours: allocated by the session; theirs: the server's */
    uint8_t stage;      /* tern_mqtt_stage_t */
    uint8_t flags;      /* TERN_MQTT_IF_* */
} tern_mqtt_inflight_t;

/** A subscription the session re-subscribes when the server lost our session. */
typedef struct tern_mqtt_sub_entry {
    tern_mqtt_sub_t sub; /* filter (caller's memory, kept valid) and options; len 0 = free */
    uint32_t sub_id;     /* MQTT 5 Subscription Identifier, 0 = none */
} tern_mqtt_sub_entry_t;

/** A topic alias table: @p size bytes split in @p count equal slots (2 + topic length each). */
typedef struct tern_mqtt_alias_mem {
    uint8_t *mem;
    size_t size;
    uint16_t count; /* aliases 1..count; 0 = no aliases this way */
} tern_mqtt_alias_mem_t;

/** The server's limits as the session applies them (MQTT 3.1.1: the defaults). */
typedef struct tern_mqtt_limits {
    uint32_t max_packet;   /* the server's Maximum Packet Size (TERN_MQTT_MAX_PACKET if none) */
    uint16_t receive_max;  /* the server's Receive Maximum (65535 if none) */
    uint16_t alias_max;    /* outbound topic aliases in use: min(ours, the server's) */
    uint16_t keep_alive;   /* seconds, the server's Server Keep Alive if it sent one */
    uint8_t max_qos;       /* 0..2 */
    bool retain_available; /* false: a retained publish is refused */
    bool session_present;  /* the CONNACK's Session Present */
} tern_mqtt_limits_t;

typedef enum tern_mqtt_event_type {
    TERN_MQTT_EV_CONNECTED = 1, /* CONNACK success: limits, props, session_present */
    TERN_MQTT_EV_MESSAGE,       /* a PUBLISH (or one chunk of it): msg, offset, total */
    TERN_MQTT_EV_PUBLISHED,     /* our QoS>0 PUBLISH finished: token, packet_id, reason, err */
    TERN_MQTT_EV_SUBACK,        /* reasons: one per filter (granted QoS or failure code) */
    TERN_MQTT_EV_UNSUBACK,      /* reasons: one per filter (MQTT 5; empty in 3.1.1) */
    TERN_MQTT_EV_DISCONNECTED,  /* a DISCONNECT either way or a refused CONNACK: reason, err */
    TERN_MQTT_EV_LINK_DEAD,     /* keep-alive or CONNACK timeout, or transport failure: err */
} tern_mqtt_event_type_t;

/**
 * What happened. Views and pointers are valid only during the callback. After
 * DISCONNECTED or LINK_DEAD the session is idle: close the transport and call
 * tern_mqtt_connect() on a new one when you want to go on.
 */
typedef struct tern_mqtt_event {
    tern_mqtt_event_type_t type;
    tern_err_t err; /* why: the reason code as an error (tern_mqtt_reason_to_err()), or the cause */
    uint8_t reason; /* the MQTT 5 reason code (3.1.1 codes are mapped by the codec) */
    uint16_t packet_id;
    uint32_t token;                    /* PUBLISHED: what was given to tern_mqtt_publish() */
    const tern_mqtt_publish_t *msg;    /* MESSAGE: topic (aliases resolved), props, payload chunk */
    size_t offset, total;              /* MESSAGE: chunk offset and whole payload length */
    tern_mqtt_view_t reasons;          /* SUBACK, UNSUBACK */
    tern_mqtt_view_t server_reference; /* DISCONNECTED (0x9C use another server, 0x9D moved) */
    const tern_mqtt_props_t *props;    /* the received packet's properties, or NULL */
    const tern_mqtt_limits_t *limits;  /* CONNECTED */
} tern_mqtt_event_t;

/** The one event callback. It may call tern_mqtt_publish() and friends. */
typedef void (*tern_mqtt_event_fn)(void *user, const tern_mqtt_event_t *ev);

/**
 * Fill @p msg (topic, payload, qos, retain, props) for the in-flight record
 * @p rec, to resend it; the views must stay valid until the call returns to the
 * session's poll. Any error drops the record with a PUBLISHED event carrying it.
 */
typedef tern_err_t (*tern_mqtt_reproduce_fn)(void *user, const tern_mqtt_inflight_t *rec,
                                             tern_mqtt_publish_t *msg);

/** Everything the session needs, given once to tern_mqtt_init(). The memory stays the caller's. */
typedef struct tern_mqtt_config {
    uint8_t *tx, *rx;
    size_t tx_size, rx_size;
    tern_mqtt_inflight_t *inflight; /* QoS 1/2 flows both ways; its content is the session */
    size_t inflight_count;
    uint16_t receive_max; /* records kept for the server's QoS 2 (our Receive Maximum);
                             0 or more than the table: half of it, rounded up */
    uint8_t *copy;        /* optional copy store, copy_size / inflight_count per record */
    size_t copy_size;
    tern_mqtt_sub_entry_t *subs; /* optional table of subscriptions to restore */
    size_t sub_count;
    tern_mqtt_alias_mem_t alias_out, alias_in; /* MQTT 5 topic aliases, both optional */
    uint32_t max_packet;                       /* announced Maximum Packet Size; 0: rx_size */
    uint32_t timeout_ms;                       /* wait for CONNACK and PINGRESP; 0: 10 s */
    tern_mqtt_event_fn on_event;
    tern_mqtt_reproduce_fn reproduce; /* optional, see the file comment */
    void *user;
} tern_mqtt_config_t;

/** The session. Caller-owned; fields are private. */
typedef struct tern_mqtt {
    /* Per connection, cleared by tern_mqtt_connect(); small fields first, so that Thumb-2
     * reaches them with 16-bit instructions. */
    uint8_t state, ver, ack_type, ack_reason;
    uint8_t ping_out, rx_mode, close_reason;
    uint16_t ack_pid, alias_next;
    uint16_t resub; /* next subscription to restore */
    tern_ms_t last_tx, deadline;
    size_t tx_len, tx_off, rx_len;
    size_t rx_hdr, rx_left, rx_off, rx_total; /* a PUBLISH being streamed */
    tern_mqtt_limits_t lim;
    /* Kept across connections. */
    uint16_t next_pid;
    uint32_t seq; /* next record order */
    tern_transport_t t;
    tern_mqtt_config_t c;
    tern_mqtt_publish_t rx_msg; /* the head of the PUBLISH being received */
} tern_mqtt_t;

/**
 * Set @p m up with @p cfg (copied) and clear the in-flight and subscription
 * tables. TERN_ERR_INVAL for missing buffers, buffers under 16 bytes, an
 * empty in-flight table or no callback.
 */
tern_err_t tern_mqtt_init(tern_mqtt_t *m, const tern_mqtt_config_t *cfg);

/**
 * Take the in-flight table (and copy store) as the caller has refilled them
 * from storage after init. TERN_ERR_CORRUPT (and the table cleared) if a
 * record is impossible. The flows resume at the next connect.
 */
tern_err_t tern_mqtt_restore(tern_mqtt_t *m);

/**
 * Start a session over the connected stream @p t (copied) with protocol
 * @p ver: queue CONNECT (@p c; the session adds Receive Maximum, Maximum
 * Packet Size and Topic Alias Maximum in MQTT 5). CONNECTED, DISCONNECTED or
 * LINK_DEAD follows from poll. TERN_ERR_STATE unless idle, TERN_ERR_UNSUPPORTED
 * for a version this build does not speak, or the codec's error for @p c.
 */
tern_err_t tern_mqtt_connect(tern_mqtt_t *m, const tern_transport_t *t, tern_mqtt_version_t ver,
                             const tern_mqtt_connect_t *c, tern_ms_t now);

/**
 * Publish @p msg (packet id, DUP and topic alias are the session's). QoS>0
 * takes an in-flight record that @p token names (given back in PUBLISHED and to
 * `reproduce`); *packet_id (may be NULL) gets its id. TERN_OK when queued
 * (also while disconnected, if it can be reproduced); else TERN_ERR_AGAIN,
 * TERN_ERR_BUSY, TERN_ERR_STATE, TERN_ERR_RANGE, TERN_ERR_TOO_SMALL,
 * TERN_ERR_UNSUPPORTED (see the file comment) or the codec's error.
 */
tern_err_t tern_mqtt_publish(tern_mqtt_t *m, const tern_mqtt_publish_t *msg, uint32_t token,
                             uint16_t *packet_id);

/**
 * Subscribe to @p subs[0..n) with Subscription Identifier @p sub_id (0: none),
 * and record them in the subscription table (the filters' memory must stay
 * valid). TERN_ERR_FULL if the table cannot take them; nothing is sent then.
 */
tern_err_t tern_mqtt_subscribe(tern_mqtt_t *m, const tern_mqtt_sub_t *subs, size_t n,
                               uint32_t sub_id, uint16_t *packet_id);

/** Unsubscribe from @p subs[0..n) (options ignored) and drop them from the table. */
tern_err_t tern_mqtt_unsubscribe(tern_mqtt_t *m, const tern_mqtt_sub_t *subs, size_t n,
                                 uint16_t *packet_id);

/**
 * Queue DISCONNECT with @p reason and @p props (may be NULL; e.g. a new
 * Session Expiry). Once it is sent, poll reports DISCONNECTED and the session
 * is idle; the in-flight table stays for the next connect.
 */
tern_err_t tern_mqtt_disconnect(tern_mqtt_t *m, uint8_t reason, const tern_mqtt_props_t *props);

/**
 * End the connection at once without any I/O, because its stream is gone (the
 * link under it was switched or closed): LINK_DEAD with @p why follows from
 * inside this call and the session is idle, its in-flight table kept for the
 * next tern_mqtt_connect(). TERN_ERR_STATE if it was idle already.
 */
tern_err_t tern_mqtt_abort(tern_mqtt_t *m, tern_err_t why);

/**
 * Do the work: send what is queued, read and handle what arrived, run the
 * keep-alive. TERN_OK, or the error that ended the connection during this
 * call (also reported by an event). Never blocks.
 */
tern_err_t tern_mqtt_poll(tern_mqtt_t *m, tern_ms_t now);

/** The instant poll must be called again at the latest (its timers), given no I/O. */
tern_ms_t tern_mqtt_next_deadline(const tern_mqtt_t *m, tern_ms_t now);

/** True if queued bytes wait for the transport: wake up when it can take more, too. */
bool tern_mqtt_want_write(const tern_mqtt_t *m);

/** True between CONNACK and the end of the connection. */
bool tern_mqtt_connected(const tern_mqtt_t *m);

/** Number of our QoS>0 publishes not yet finished (in flight or queued). */
size_t tern_mqtt_pending(const tern_mqtt_t *m);

#ifdef __cplusplus
}
#endif
#endif /* TERN_MQTT_H */
