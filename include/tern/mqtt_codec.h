/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqtt_codec.h
 * @brief Layer 2: the MQTT 3.1.1 and 5.0 packet codec. No heap, no state.
 *
 * One packet is one @ref tern_mqtt_packet_t: a type and the fields of that
 * type (an anonymous union). tern_mqtt_encode() writes it into a caller
 * buffer; tern_mqtt_decode() fills it from one. Decoding is zero-copy: every
 * string, binary field, list and payload is a @ref tern_mqtt_view_t pointing
 * into the caller's buffer, which must outlive the packet. Every byte is
 * checked before it is read, and each way a packet can be malformed has its
 * own error (TERN_ERR_MQTT_* in err.h).
 *
 * The protocol version (TERN_MQTT_PROTO_V311 or TERN_MQTT_PROTO_V5) is an
 * argument of every call. Built with TERN_MQTT_V5 = 0 (tern_config.h) the MQTT
 * 5 code is left out and version 5 answers TERN_ERR_UNSUPPORTED; the types
 * stay the same so callers need no #if.
 *
 * Reason codes are always MQTT 5 codes: a 3.1.1 CONNACK return code 1..5 is
 * translated to and from its 5.0 equivalent (0x84, 0x85, 0x88, 0x86, 0x87)
 * by the codec, so the session above speaks one vocabulary.
 */
#ifndef TERN_MQTT_CODEC_H
#define TERN_MQTT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/err.h"
#include "tern/tern_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ basics -- */

/** Protocol level, as carried in CONNECT. (TERN_MQTT_V5 is the config switch.) */
typedef enum tern_mqtt_version {
    TERN_MQTT_PROTO_V311 = 4,
    TERN_MQTT_PROTO_V5 = 5,
} tern_mqtt_version_t;

/** Control packet types: the high nibble of the first byte. */
typedef enum tern_mqtt_type {
    TERN_MQTT_CONNECT = 1,
    TERN_MQTT_CONNACK = 2,
    TERN_MQTT_PUBLISH = 3,
    TERN_MQTT_PUBACK = 4,
    TERN_MQTT_PUBREC = 5,
    TERN_MQTT_PUBREL = 6,
    TERN_MQTT_PUBCOMP = 7,
    TERN_MQTT_SUBSCRIBE = 8,
    TERN_MQTT_SUBACK = 9,
    TERN_MQTT_UNSUBSCRIBE = 10,
    TERN_MQTT_UNSUBACK = 11,
    TERN_MQTT_PINGREQ = 12,
    TERN_MQTT_PINGRESP = 13,
    TERN_MQTT_DISCONNECT = 14,
    TERN_MQTT_AUTH = 15, /* MQTT 5 only */
} tern_mqtt_type_t;

/** Largest remaining length the 4-byte variable byte integer can carry. */
#define TERN_MQTT_MAX_REMAINING 268435455u
/** Largest whole packet: 1 type byte + 4 length bytes + TERN_MQTT_MAX_REMAINING. */
#define TERN_MQTT_MAX_PACKET    (TERN_MQTT_MAX_REMAINING + 5u)
/** The DUP bit of a PUBLISH's first byte; a session sets it in place to resend. */
#define TERN_MQTT_DUP_FLAG      0x08u

/**
 * A byte range in someone else's buffer: a string (UTF-8, not NUL-terminated),
 * binary data, a list or a payload. ptr may be NULL when len is 0.
 */
typedef struct tern_mqtt_view {
    const uint8_t *ptr;
    size_t len;
} tern_mqtt_view_t;

/** A view of a string literal: TERN_MQTT_STR("a/b"). */
#define TERN_MQTT_STR(lit) ((tern_mqtt_view_t){ (const uint8_t *)(lit), sizeof(lit) - 1u })

/* --------------------------------------------------- MQTT 5 properties -- */

/** Property value types (the encoding on the wire). */
typedef enum tern_mqtt_prop_type {
    TERN_MQTT_PT_BYTE,   /* one byte; every byte property is 0 or 1 */
    TERN_MQTT_PT_U16,    /* two-byte integer */
    TERN_MQTT_PT_U32,    /* four-byte integer */
    TERN_MQTT_PT_VARINT, /* variable byte integer, 1..268,435,455 */
    TERN_MQTT_PT_UTF8,   /* UTF-8 string */
    TERN_MQTT_PT_BINARY, /* binary data */
    TERN_MQTT_PT_PAIR,   /* UTF-8 string pair (User Property) */
} tern_mqtt_prop_type_t;

/*
 * All 27 MQTT 5 properties: X(NAME, id, type, field). `field` is the member
 * of tern_mqtt_props_t that holds the value; the repeatable User Property has
 * none and names `raw`, the block it is read from. This one list makes the ids, the presence bits
 * and the codec's table, so they cannot drift. Which packets allow which
 * property is the codec's table (spec table 2-4) and tern_mqtt_prop_allowed().
 */
#define TERN_MQTT_PROP_LIST(X)                                    \
    X(PAYLOAD_FORMAT, 0x01, BYTE, payload_format)                 \
    X(MESSAGE_EXPIRY, 0x02, U32, message_expiry)                  \
    X(CONTENT_TYPE, 0x03, UTF8, content_type)                     \
    X(RESPONSE_TOPIC, 0x08, UTF8, response_topic)                 \
    X(CORRELATION_DATA, 0x09, BINARY, correlation_data)           \
    X(SUBSCRIPTION_ID, 0x0B, VARINT, subscription_id)             \
    X(SESSION_EXPIRY, 0x11, U32, session_expiry)                  \
    X(ASSIGNED_CLIENT_ID, 0x12, UTF8, assigned_client_id)         \
    X(SERVER_KEEP_ALIVE, 0x13, U16, server_keep_alive)            \
    X(AUTH_METHOD, 0x15, UTF8, auth_method)                       \
    X(AUTH_DATA, 0x16, BINARY, auth_data)                         \
    X(REQUEST_PROBLEM_INFO, 0x17, BYTE, request_problem_info)     \
    X(WILL_DELAY, 0x18, U32, will_delay)                          \
    X(REQUEST_RESPONSE_INFO, 0x19, BYTE, request_response_info)   \
    X(RESPONSE_INFO, 0x1A, UTF8, response_info)                   \
    X(SERVER_REFERENCE, 0x1C, UTF8, server_reference)             \
    X(REASON_STRING, 0x1F, UTF8, reason_string)                   \
    X(RECEIVE_MAXIMUM, 0x21, U16, receive_maximum)                \
    X(TOPIC_ALIAS_MAXIMUM, 0x22, U16, topic_alias_maximum)        \
    X(TOPIC_ALIAS, 0x23, U16, topic_alias)                        \
    X(MAXIMUM_QOS, 0x24, BYTE, maximum_qos)                       \
    X(RETAIN_AVAILABLE, 0x25, BYTE, retain_available)             \
    X(USER_PROPERTY, 0x26, PAIR, raw)                             \
    X(MAXIMUM_PACKET_SIZE, 0x27, U32, maximum_packet_size)        \
    X(WILDCARD_SUB_AVAILABLE, 0x28, BYTE, wildcard_sub_available) \
    X(SUB_ID_AVAILABLE, 0x29, BYTE, sub_id_available)             \
    X(SHARED_SUB_AVAILABLE, 0x2A, BYTE, shared_sub_available)

/** Property identifiers: TERN_MQTT_PROP_SESSION_EXPIRY = 0x11 ... */
typedef enum tern_mqtt_prop_id {
#define TERN_MQTT_PROP_ID_(name, id, type, field) TERN_MQTT_PROP_##name = (id),
    TERN_MQTT_PROP_LIST(TERN_MQTT_PROP_ID_)
#undef TERN_MQTT_PROP_ID_
} tern_mqtt_prop_id_t;

/** Position of each property in TERN_MQTT_PROP_LIST (0..26): the bit it has in .present. */
enum tern_mqtt_prop_index {
#define TERN_MQTT_PROP_IDX_(name, id, type, field) TERN_MQTT_PIDX_##name,
    TERN_MQTT_PROP_LIST(TERN_MQTT_PROP_IDX_)
#undef TERN_MQTT_PROP_IDX_
        TERN_MQTT_PROP_COUNT
};

/** Presence bits of tern_mqtt_props_t.present: TERN_MQTT_HAS_SESSION_EXPIRY ... */
enum tern_mqtt_prop_bit {
#define TERN_MQTT_PROP_BIT_(name, id, type, field) \
    TERN_MQTT_HAS_##name = (int)(1u << TERN_MQTT_PIDX_##name),
    TERN_MQTT_PROP_LIST(TERN_MQTT_PROP_BIT_)
#undef TERN_MQTT_PROP_BIT_
};

/**
 * One property, any type: what the iterator yields and what an encoder's
 * extra list holds. `num` holds BYTE/U16/U32/VARINT values; `str` a UTF-8 or
 * binary value, or a User Property's name with `str2` its value.
 */
typedef struct tern_mqtt_prop {
    uint8_t id;
    uint32_t num;
    tern_mqtt_view_t str;
    tern_mqtt_view_t str2;
} tern_mqtt_prop_t;

/**
 * The properties of one packet (or of a CONNECT's Will). A property is there
 * iff its TERN_MQTT_HAS_* bit is set in `present`; its value is in the member
 * of that name. Decoding also sets `raw` to the whole property block so that
 * repeated properties (User Property; several Subscription Identifiers in a
 * PUBLISH, of which the member holds the first) are read with
 * tern_mqtt_prop_next(). Encoding writes the present members, then every
 * entry of `list` (User Properties, further Subscription Identifiers).
 * Zero-initialise it: `tern_mqtt_props_t p = { 0 };` is "no properties".
 */
typedef struct tern_mqtt_props {
    uint32_t present; /* TERN_MQTT_HAS_* bits */
    uint8_t payload_format, request_problem_info, request_response_info, maximum_qos;
    uint8_t retain_available, wildcard_sub_available, sub_id_available, shared_sub_available;
    uint16_t server_keep_alive, receive_maximum, topic_alias_maximum, topic_alias;
    uint32_t message_expiry, session_expiry, will_delay, maximum_packet_size, subscription_id;
    tern_mqtt_view_t content_type, response_topic, correlation_data, assigned_client_id;
    tern_mqtt_view_t auth_method, auth_data, response_info, server_reference, reason_string;
    const tern_mqtt_prop_t *list; /* encode: extra properties written after the members */
    size_t list_count;
    tern_mqtt_view_t raw; /* decode: the property block (without its length) */
} tern_mqtt_props_t;

/* ----------------------------------------------------------- packets -- */

/** The Will of a CONNECT (used when .has_will is set). */
typedef struct tern_mqtt_will {
    tern_mqtt_view_t topic;   /* a topic name: no wildcards */
    tern_mqtt_view_t payload; /* up to 65,535 bytes */
    uint8_t qos;              /* 0..2 */
    bool retain;
    tern_mqtt_props_t props; /* Will Properties (MQTT 5) */
} tern_mqtt_will_t;

/** CONNECT. The protocol level on the wire is the call's version. */
typedef struct tern_mqtt_connect {
    tern_mqtt_view_t client_id;
    uint16_t keep_alive; /* seconds, 0 = off */
    bool clean_start;    /* 3.1.1: Clean Session */
    bool has_will, has_username, has_password;
    tern_mqtt_view_t username, password; /* 3.1.1: a password needs a user name */
    tern_mqtt_will_t will;
    tern_mqtt_props_t props;
} tern_mqtt_connect_t;

/** CONNACK. `reason` is a 5.0 code also in 3.1.1 (see the file comment). */
typedef struct tern_mqtt_connack {
    bool session_present;
    uint8_t reason;
    tern_mqtt_props_t props;
} tern_mqtt_connack_t;

/** PUBLISH. packet_id is there for QoS 1 and 2 only (and then non-zero). */
typedef struct tern_mqtt_publish {
    uint8_t qos; /* 0..2 */
    bool retain, dup;
    uint16_t packet_id;
    tern_mqtt_view_t topic; /* may be empty in MQTT 5 when a Topic Alias is present */
    tern_mqtt_props_t props;
    tern_mqtt_view_t payload;
} tern_mqtt_publish_t;

/** PUBACK, PUBREC, PUBREL, PUBCOMP. MQTT 5 omits reason and properties when 0 and empty. */
typedef struct tern_mqtt_ack {
    uint16_t packet_id;
    uint8_t reason; /* always 0 in 3.1.1 */
    tern_mqtt_props_t props;
} tern_mqtt_ack_t;

/** Subscription options (the byte after each filter in SUBSCRIBE). 3.1.1 has QoS only. */
#define TERN_MQTT_SUB_QOS_MASK           0x03u
#define TERN_MQTT_SUB_NO_LOCAL           0x04u
#define TERN_MQTT_SUB_RETAIN_AS_PUB      0x08u
#define TERN_MQTT_SUB_RETAIN_HANDLING(n) ((uint8_t)((n) << 4)) /* n = 0, 1 or 2 */

/** One topic filter of a SUBSCRIBE (with options) or UNSUBSCRIBE (options 0). */
typedef struct tern_mqtt_sub {
    tern_mqtt_view_t filter;
    uint8_t options;
} tern_mqtt_sub_t;

/**
 * SUBSCRIBE and UNSUBSCRIBE. Encoding takes `subs[0..count)`; decoding
 * validates the list, sets `count` and `list` (the raw payload) and leaves
 * `subs` NULL: read the filters with tern_mqtt_sub_next().
 */
typedef struct tern_mqtt_subscribe {
    uint16_t packet_id;
    tern_mqtt_props_t props;
    const tern_mqtt_sub_t *subs;
    size_t count;
    tern_mqtt_view_t list;
} tern_mqtt_subscribe_t;

/** SUBACK and UNSUBACK: one reason code per filter (3.1.1 UNSUBACK has none). */
typedef struct tern_mqtt_suback {
    uint16_t packet_id;
    tern_mqtt_props_t props;
    tern_mqtt_view_t reasons; /* reasons.ptr[i] answers filter i */
} tern_mqtt_suback_t;

/** DISCONNECT and AUTH (MQTT 5; a 3.1.1 DISCONNECT is empty). */
typedef struct tern_mqtt_reason_only {
    uint8_t reason;
    tern_mqtt_props_t props;
} tern_mqtt_reason_only_t;

/** Any packet: set `type`, then the member of that type. PINGREQ/PINGRESP have none. */
typedef struct tern_mqtt_packet {
    uint8_t type; /* tern_mqtt_type_t */
    union {
        tern_mqtt_connect_t connect;        /* CONNECT */
        tern_mqtt_connack_t connack;        /* CONNACK */
        tern_mqtt_publish_t publish;        /* PUBLISH */
        tern_mqtt_ack_t ack;                /* PUBACK PUBREC PUBREL PUBCOMP */
        tern_mqtt_subscribe_t subscribe;    /* SUBSCRIBE UNSUBSCRIBE */
        tern_mqtt_suback_t suback;          /* SUBACK UNSUBACK */
        tern_mqtt_reason_only_t disconnect; /* DISCONNECT AUTH */
    };
} tern_mqtt_packet_t;

/* --------------------------------------------------- encode / decode -- */

/**
 * Is a whole packet at the start of @p buf? TERN_OK with *packet_len its total
 * size; TERN_ERR_AGAIN if more bytes are needed (*packet_len is then the total
 * once known, else 0); TERN_ERR_MQTT_BAD_VARINT if the length is not MQTT.
 */
tern_err_t tern_mqtt_frame(const uint8_t *buf, size_t len, size_t *packet_len);

/**
 * Encode @p pkt for protocol @p ver into buf[0..cap); *out_len gets the size.
 * TERN_ERR_TOO_SMALL (nothing written, *out_len = size needed; buf may be NULL
 * to measure) or the TERN_ERR_MQTT_* decode would give for the same field.
 * 3.1.1 ignores props. Uses a copy of *pkt on the stack (~300 B on 32 bits).
 */
tern_err_t tern_mqtt_encode(tern_mqtt_version_t ver, const tern_mqtt_packet_t *pkt, uint8_t *buf,
                            size_t cap, size_t *out_len);

/**
 * As tern_mqtt_encode() but a PUBLISH stops before its payload (the remaining
 * length still counts it), so a large payload is sent from where it lies.
 */
tern_err_t tern_mqtt_encode_head(tern_mqtt_version_t ver, const tern_mqtt_packet_t *pkt,
                                 uint8_t *buf, size_t cap, size_t *out_len);

/**
 * Decode the packet at the start of buf[0..len) into @p pkt (views point into
 * @p buf; bytes after the packet are ignored). TERN_ERR_AGAIN if the packet is
 * not all there, TERN_ERR_MQTT_* naming what is malformed, or the reason-code
 * error TERN_ERR_MQTT_UNSUPPORTED_VERSION for a CONNECT of another version.
 */
tern_err_t tern_mqtt_decode(tern_mqtt_version_t ver, const uint8_t *buf, size_t len,
                            tern_mqtt_packet_t *pkt);

/**
 * Next property of a decoded block with identifier @p id (0: any) from
 * *cursor (start at 0). TERN_OK and *out filled, TERN_ERR_EMPTY at the end.
 */
tern_err_t tern_mqtt_prop_next(const tern_mqtt_props_t *props, size_t *cursor, uint8_t id,
                               tern_mqtt_prop_t *out);

/**
 * May property @p id appear in a packet of @p type (a tern_mqtt_type_t, or 0
 * for a CONNECT's Will Properties)? False for an unknown id, or without TERN_MQTT_V5.
 */
bool tern_mqtt_prop_allowed(uint8_t type, uint8_t id);

/**
 * Next topic filter of a decoded SUBSCRIBE or UNSUBSCRIBE (@p pkt) from
 * *cursor (start at 0). TERN_OK and *out filled, TERN_ERR_EMPTY at the end.
 */
tern_err_t tern_mqtt_sub_next(const tern_mqtt_packet_t *pkt, size_t *cursor, tern_mqtt_sub_t *out);

/* ------------------------------------------------------------- topics -- */

/** TERN_OK if s[0..len) is well-formed UTF-8 as MQTT wants it (no overlong, surrogate or U+0000),
 * else TERN_ERR_MQTT_BAD_UTF8. */
tern_err_t tern_mqtt_utf8_check(const void *s, size_t len);

/** TERN_OK if s[0..len) is a valid topic name (1..65535 bytes, UTF-8, no + or #);
 * TERN_ERR_MQTT_BAD_UTF8 or TERN_ERR_MQTT_BAD_TOPIC. */
tern_err_t tern_mqtt_topic_check(const void *s, size_t len);

/** TERN_OK if s[0..len) is a valid topic filter, shared ones ($share/group/filter) included;
 * TERN_ERR_MQTT_BAD_UTF8 or TERN_ERR_MQTT_BAD_FILTER. */
tern_err_t tern_mqtt_filter_check(const void *s, size_t len);

/**
 * Does topic name @p topic match @p filter (+ one level, # the rest)? Topics
 * starting with '$' are not matched by a filter starting with a wildcard. Both
 * are assumed valid; a shared filter is matched by its part after the group.
 */
bool tern_mqtt_topic_match(const void *filter, size_t filter_len, const void *topic,
                           size_t topic_len);

/* ------------------------------------------------------- reason codes -- */

/** "success", "not authorized", ...; "unknown reason code" if not an MQTT 5 reason code. */
const char *tern_mqtt_reason_str(uint8_t code);

/** May @p code appear in a packet of @p type (MQTT 5, table 2-6)? Always false without
 * TERN_MQTT_V5. */
bool tern_mqtt_reason_allowed(uint8_t type, uint8_t code);

/**
 * The tern error for a reason code: TERN_OK below 0x80, else
 * TERN_ERR_MQTT_<NAME> (value -(256 + code)); an unknown failure code gives
 * TERN_ERR_MQTT_UNSPECIFIED.
 */
tern_err_t tern_mqtt_reason_to_err(uint8_t code);

/**
 * The reason code to send for @p err: exact for TERN_ERR_MQTT_<NAME>; for a
 * codec error 0x81 (malformed), 0x82 (protocol error), 0x90/0x8F (bad topic
 * name/filter) or 0x95 (too long); 0 for TERN_OK, 0x80 (unspecified) otherwise.
 */
uint8_t tern_mqtt_err_to_reason(tern_err_t err);

#ifdef __cplusplus
}
#endif
#endif /* TERN_MQTT_CODEC_H */
