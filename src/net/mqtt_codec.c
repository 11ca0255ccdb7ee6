/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MQTT 3.1.1 / 5.0 packet codec (tern/mqtt_codec.h).
 *
 * Size is the main design force (the codec and the session share 12 KiB of
 * flash on a Cortex-M4), so there is one description of each packet, walked
 * in either direction:
 *  - an io_t is either a reader or a writer, and every field primitive moves
 *    a value both ways: io_num(io, v, 2) writes v when encoding and returns
 *    the value read when decoding. The packet code is written once, and the
 *    checks that follow each field hold both directions to the same rules;
 *  - errors are sticky: the first failure is kept and the reader jumps to the
 *    end, so later reads return zeros and the code checks once at the end;
 *  - encoding walks the packet twice: first with no buffer, to measure and
 *    validate it, then to write it, so nothing is written unless it all fits
 *    and the remaining length is known before the body is written. The walk
 *    works on a copy of the caller's packet (fields are written back with the
 *    values they had), so the caller's packet may be const, even in flash;
 *  - every MQTT 5 property goes through one routine and two tables: id, type
 *    and member offset generated from TERN_MQTT_PROP_LIST in the header, and
 *    the packets that allow it (spec table 2-4). User Properties and extra
 *    Subscription Identifiers are read in place by tern_mqtt_prop_next().
 */
#include "tern/mqtt_codec.h"

#include <string.h>

#if TERN_MQTT_V5
#define IS_V5(ver) ((ver) == TERN_MQTT_PROTO_V5)
#else
#define IS_V5(ver) 0
#endif

typedef tern_err_t (*check_fn)(const void *s, size_t len);

/* ------------------------------------------------------ the io walk -- */

typedef struct io {
    const uint8_t *p;   /* decode: next byte */
    const uint8_t *end; /* decode: end of the packet or property block */
    uint8_t *buf;       /* encode: destination; NULL while measuring */
    size_t cap;
    size_t pos;     /* encode: bytes produced so far */
    tern_err_t err; /* first failure; once set, a reader has p == end */
    bool enc;
    bool head; /* encode: leave out a PUBLISH payload */
} io_t;

static void io_fail(io_t *io, tern_err_t e)
{
    if (io->err == TERN_OK) {
        io->err = e;
    }
    io->p = io->end;
}

static void io_check(io_t *io, tern_err_t e)
{
    if (e != TERN_OK) {
        io_fail(io, e);
    }
}

static size_t io_left(const io_t *io)
{
    return (size_t)(io->end - io->p);
}

/*
 * n bytes through the packet: encoding copies them from @p data and returns
 * it; decoding returns where they are in the input, or NULL (and
 * TERN_ERR_MQTT_SHORT) if it has fewer.
 */
static const uint8_t *io_bytes(io_t *io, const uint8_t *data, size_t n)
{
    if (io->enc) {
        if (io->buf != NULL && data != NULL && n != 0 && io->pos <= io->cap &&
            n <= io->cap - io->pos) {
            memcpy(io->buf + io->pos, data, n);
        }
        io->pos += n;
        return data;
    }
    if (io_left(io) < n) {
        io_fail(io, TERN_ERR_MQTT_SHORT);
        return NULL;
    }
    data = io->p;
    io->p += n;
    return data;
}

/* A big-endian integer of n = 1, 2 or 4 bytes. */
static uint32_t io_num(io_t *io, uint32_t v, size_t n)
{
    uint8_t b[4];
    for (size_t i = n; i-- > 0; v >>= 8) {
        b[i] = (uint8_t)v;
    }
    const uint8_t *q = io_bytes(io, b, n);
    v = 0;
    for (size_t i = 0; q != NULL && i < n; i++) {
        v = (v << 8) | q[i];
    }
    return v;
}

/*
 * A variable byte integer, one byte at a time in both directions: 7 bits each,
 * the top bit saying another follows. A fifth byte is an error (also when
 * encoding: the caller checks values against TERN_MQTT_MAX_REMAINING first).
 */
static uint32_t io_varint(io_t *io, uint32_t v)
{
    uint32_t out = 0;
    for (unsigned i = 0; i < 28; i += 7) {
        uint8_t b = (uint8_t)(((v >> i) & 0x7Fu) | ((v >> i) > 0x7Fu ? 0x80u : 0u));
        const uint8_t *q = io_bytes(io, &b, 1);
        if (q == NULL) {
            return 0;
        }
        out |= (uint32_t)(*q & 0x7Fu) << i;
        if ((*q & 0x80u) == 0) {
            return out;
        }
    }
    io_fail(io, TERN_ERR_MQTT_BAD_VARINT);
    return 0;
}

/* A two-byte-length-prefixed string or binary field, checked by @p check when not NULL. */
static void io_field(io_t *io, tern_mqtt_view_t *v, check_fn check)
{
    if (io->enc && v->len > 0xFFFFu) {
        io_fail(io, TERN_ERR_MQTT_TOO_LONG);
        return;
    }
    size_t n = io_num(io, (uint32_t)v->len, 2);
    v->ptr = io_bytes(io, v->ptr, n);
    v->len = v->ptr != NULL ? n : 0;
    if (check != NULL && io->err == TERN_OK) {
        io_check(io, check(v->ptr, v->len));
    }
}

/* Everything up to the end of the packet (a payload, SUBACK reason codes). */
static void io_rest(io_t *io, tern_mqtt_view_t *v)
{
    size_t n = io->enc ? v->len : io_left(io);
    v->ptr = io_bytes(io, v->ptr, n);
    v->len = n;
}

static uint16_t io_packet_id(io_t *io, uint16_t id)
{
    id = (uint16_t)io_num(io, id, 2);
    if (id == 0) {
        io_fail(io, TERN_ERR_MQTT_BAD_PACKET_ID);
    }
    return id;
}

/* --------------------------------------------------- shared checks -- */

/* 3.1.1 CONNACK return codes 0..5 as MQTT 5 reason codes. */
static const uint8_t k_v311_connack[6] = { 0x00, 0x84, 0x85, 0x88, 0x86, 0x87 };

/* The 3.1.1 return code for MQTT 5 CONNACK reason @p code; 6 if there is none. */
static uint8_t v311_return_code(uint8_t code)
{
    const uint8_t *q = memchr(k_v311_connack, code, sizeof k_v311_connack);
    return q != NULL ? (uint8_t)(q - k_v311_connack) : (uint8_t)sizeof k_v311_connack;
}

/* May a packet of @p type carry @p code? (A 3.1.1 CONNACK's return code is checked apart.) */
static tern_err_t check_reason(int v5, uint8_t type, uint8_t code)
{
    bool ok;
    if (v5) {
        ok = tern_mqtt_reason_allowed(type, code);
    } else if (type == TERN_MQTT_SUBACK) {
        ok = code <= 2 || code == 0x80;
    } else {
        ok = code == 0;
    }
    return ok ? TERN_OK : TERN_ERR_MQTT_BAD_REASON;
}

/* One entry of a SUBSCRIBE (filter + options) or UNSUBSCRIBE (filter only). */
static void io_sub_raw(io_t *io, uint8_t type, tern_mqtt_sub_t *s)
{
    io_field(io, &s->filter, NULL);
    if (type == TERN_MQTT_SUBSCRIBE) {
        s->options = (uint8_t)io_num(io, s->options, 1);
    }
}

static tern_err_t check_sub(int v5, uint8_t type, const tern_mqtt_sub_t *s)
{
    tern_err_t e = tern_mqtt_filter_check(s->filter.ptr, s->filter.len);
    uint8_t o = s->options;
    if (e != TERN_OK || type != TERN_MQTT_SUBSCRIBE) {
        return e;
    }
    if ((o & TERN_MQTT_SUB_QOS_MASK) == 3) {
        return TERN_ERR_MQTT_BAD_QOS;
    }
    if (!v5) {
        return (o & ~TERN_MQTT_SUB_QOS_MASK) ? TERN_ERR_MQTT_BAD_FLAGS : TERN_OK;
    }
    /* Reserved bits, Retain Handling 3, and No Local on a shared subscription. */
    if ((o & 0xC0u) || (o & 0x30u) == 0x30u ||
        ((o & TERN_MQTT_SUB_NO_LOCAL) && s->filter.len >= 7 &&
         memcmp(s->filter.ptr, "$share/", 7) == 0)) {
        return TERN_ERR_MQTT_BAD_FLAGS;
    }
    return TERN_OK;
}

/* ---------------------------------------------------- properties -- */

#if TERN_MQTT_V5

typedef struct prop_row {
    uint8_t id;
    uint8_t type; /* tern_mqtt_prop_type_t */
    uint8_t off;  /* of the member in tern_mqtt_props_t */
} prop_row_t;

#define ROW_(name, id, type, field) \
    { (id), TERN_MQTT_PT_##type, offsetof(tern_mqtt_props_t, field) },
static const prop_row_t k_props[TERN_MQTT_PROP_COUNT] = { TERN_MQTT_PROP_LIST(ROW_) };
#undef ROW_

_Static_assert(sizeof(tern_mqtt_props_t) <= 255, "member offsets must fit a byte");

#define P_(t)    (1u << TERN_MQTT_##t)
#define MSG_     (P_(PUBLISH) | 1u)
#define PUBACKS_ (P_(PUBACK) | P_(PUBREC) | P_(PUBREL) | P_(PUBCOMP))

/* Spec table 2-4: the packets (bit = type; bit 0 = Will Properties) each property may be in. */
static const uint16_t k_where[TERN_MQTT_PROP_COUNT] = {
    [TERN_MQTT_PIDX_PAYLOAD_FORMAT] = MSG_,
    [TERN_MQTT_PIDX_MESSAGE_EXPIRY] = MSG_,
    [TERN_MQTT_PIDX_CONTENT_TYPE] = MSG_,
    [TERN_MQTT_PIDX_RESPONSE_TOPIC] = MSG_,
    [TERN_MQTT_PIDX_CORRELATION_DATA] = MSG_,
    [TERN_MQTT_PIDX_SUBSCRIPTION_ID] = P_(PUBLISH) | P_(SUBSCRIBE),
    [TERN_MQTT_PIDX_SESSION_EXPIRY] = P_(CONNECT) | P_(CONNACK) | P_(DISCONNECT),
    [TERN_MQTT_PIDX_ASSIGNED_CLIENT_ID] = P_(CONNACK),
    [TERN_MQTT_PIDX_SERVER_KEEP_ALIVE] = P_(CONNACK),
    [TERN_MQTT_PIDX_AUTH_METHOD] = P_(CONNECT) | P_(CONNACK) | P_(AUTH),
    [TERN_MQTT_PIDX_AUTH_DATA] = P_(CONNECT) | P_(CONNACK) | P_(AUTH),
    [TERN_MQTT_PIDX_REQUEST_PROBLEM_INFO] = P_(CONNECT),
    [TERN_MQTT_PIDX_WILL_DELAY] = 1u,
    [TERN_MQTT_PIDX_REQUEST_RESPONSE_INFO] = P_(CONNECT),
    [TERN_MQTT_PIDX_RESPONSE_INFO] = P_(CONNACK),
    [TERN_MQTT_PIDX_SERVER_REFERENCE] = P_(CONNACK) | P_(DISCONNECT),
    [TERN_MQTT_PIDX_REASON_STRING] =
        P_(CONNACK) | PUBACKS_ | P_(SUBACK) | P_(UNSUBACK) | P_(DISCONNECT) | P_(AUTH),
    [TERN_MQTT_PIDX_RECEIVE_MAXIMUM] = P_(CONNECT) | P_(CONNACK),
    [TERN_MQTT_PIDX_TOPIC_ALIAS_MAXIMUM] = P_(CONNECT) | P_(CONNACK),
    [TERN_MQTT_PIDX_TOPIC_ALIAS] = P_(PUBLISH),
    [TERN_MQTT_PIDX_MAXIMUM_QOS] = P_(CONNACK),
    [TERN_MQTT_PIDX_RETAIN_AVAILABLE] = P_(CONNACK),
    [TERN_MQTT_PIDX_USER_PROPERTY] = 0xFFFFu & ~(P_(PINGREQ) | P_(PINGRESP)),
    [TERN_MQTT_PIDX_MAXIMUM_PACKET_SIZE] = P_(CONNECT) | P_(CONNACK),
    [TERN_MQTT_PIDX_WILDCARD_SUB_AVAILABLE] = P_(CONNACK),
    [TERN_MQTT_PIDX_SUB_ID_AVAILABLE] = P_(CONNACK),
    [TERN_MQTT_PIDX_SHARED_SUB_AVAILABLE] = P_(CONNACK),
};

/* Properties for which 0 is a protocol error. */
#define NONZERO_                                                                                 \
    (TERN_MQTT_HAS_SUBSCRIPTION_ID | TERN_MQTT_HAS_RECEIVE_MAXIMUM | TERN_MQTT_HAS_TOPIC_ALIAS | \
     TERN_MQTT_HAS_MAXIMUM_PACKET_SIZE)

/* Table index of property @p id, or TERN_MQTT_PROP_COUNT. */
static unsigned prop_index(uint8_t id)
{
    unsigned i = 0;
    while (i < TERN_MQTT_PROP_COUNT && k_props[i].id != id) {
        i++;
    }
    return i;
}

bool tern_mqtt_prop_allowed(uint8_t type, uint8_t id)
{
    unsigned i = prop_index(id);
    return i < TERN_MQTT_PROP_COUNT && type < 16 && ((k_where[i] >> type) & 1u);
}

/*
 * Is @p v acceptable as the next property of a packet of @p type (0: Will)?
 * *seen collects the properties met so far, for the duplicate rule.
 */
static tern_err_t prop_check(uint8_t type, uint32_t *seen, const tern_mqtt_prop_t *v)
{
    unsigned i = prop_index(v->id);
    if (!tern_mqtt_prop_allowed(type, v->id)) {
        return TERN_ERR_MQTT_PROPERTY_NOT_ALLOWED;
    }
    uint32_t bit = 1u << i;
    bool repeatable = bit == TERN_MQTT_HAS_USER_PROPERTY ||
                      (bit == TERN_MQTT_HAS_SUBSCRIPTION_ID && type == TERN_MQTT_PUBLISH);
    if ((*seen & bit) && !repeatable) {
        return TERN_ERR_MQTT_DUP_PROPERTY;
    }
    *seen |= bit;
    switch (k_props[i].type) {
    case TERN_MQTT_PT_BYTE: /* every byte property is a 0/1 switch (or Maximum QoS 0/1) */
        return v->num > 1 ? TERN_ERR_MQTT_BAD_PROPERTY_VALUE : TERN_OK;
    case TERN_MQTT_PT_U16:
        if (v->num > 0xFFFFu) {
            return TERN_ERR_MQTT_BAD_PROPERTY_VALUE;
        }
        break;
    case TERN_MQTT_PT_VARINT:
        if (v->num > TERN_MQTT_MAX_REMAINING) {
            return TERN_ERR_MQTT_BAD_PROPERTY_VALUE;
        }
        break;
    case TERN_MQTT_PT_UTF8:
        return bit == TERN_MQTT_HAS_RESPONSE_TOPIC ? tern_mqtt_topic_check(v->str.ptr, v->str.len)
                                                   : tern_mqtt_utf8_check(v->str.ptr, v->str.len);
    case TERN_MQTT_PT_PAIR: {
        tern_err_t e = tern_mqtt_utf8_check(v->str.ptr, v->str.len);
        return e != TERN_OK ? e : tern_mqtt_utf8_check(v->str2.ptr, v->str2.len);
    }
    default:
        break;
    }
    return ((bit & NONZERO_) && v->num == 0) ? TERN_ERR_MQTT_BAD_PROPERTY_VALUE : TERN_OK;
}

/* One property: identifier, then the value in the encoding its type has. */
static void io_prop(io_t *io, tern_mqtt_prop_t *v)
{
    v->id = (uint8_t)io_num(io, v->id, 1);
    unsigned i = prop_index(v->id);
    if (i == TERN_MQTT_PROP_COUNT) {
        io_fail(io, TERN_ERR_MQTT_BAD_PROPERTY);
        return;
    }
    uint8_t t = k_props[i].type;
    if (t <= TERN_MQTT_PT_U32) {
        v->num = io_num(io, v->num, (size_t)1 << t); /* BYTE, U16, U32: 1, 2, 4 bytes */
    } else if (t == TERN_MQTT_PT_VARINT) {
        v->num = io_varint(io, v->num);
    } else {
        io_field(io, &v->str, NULL);
        if (t == TERN_MQTT_PT_PAIR) {
            io_field(io, &v->str2, NULL);
        }
    }
}

/* Copy between a member of tern_mqtt_props_t and a generic property. */
static void prop_member(unsigned i, tern_mqtt_props_t *p, tern_mqtt_prop_t *v, bool to_member)
{
    void *m = (uint8_t *)p + k_props[i].off;
    switch (k_props[i].type) {
    case TERN_MQTT_PT_BYTE:
        if (to_member) {
            *(uint8_t *)m = (uint8_t)v->num;
        }
        v->num = *(uint8_t *)m;
        break;
    case TERN_MQTT_PT_U16:
        if (to_member) {
            *(uint16_t *)m = (uint16_t)v->num;
        }
        v->num = *(uint16_t *)m;
        break;
    case TERN_MQTT_PT_U32:
    case TERN_MQTT_PT_VARINT:
        if (to_member) {
            *(uint32_t *)m = v->num;
        }
        v->num = *(uint32_t *)m;
        break;
    case TERN_MQTT_PT_UTF8:
    case TERN_MQTT_PT_BINARY:
        if (to_member) {
            *(tern_mqtt_view_t *)m = v->str;
        }
        v->str = *(tern_mqtt_view_t *)m;
        break;
    default: /* User Property: no member */
        break;
    }
}

/*
 * The properties of a block, both ways: encoding takes the present members
 * then the extra list; decoding reads until the block ends, keeping the first
 * of each kind in its member.
 */
static void io_prop_block(io_t *io, uint8_t type, tern_mqtt_props_t *p)
{
    uint32_t seen = 0;
    for (size_t k = 0; io->enc ? k < TERN_MQTT_PROP_COUNT + p->list_count : io_left(io) > 0; k++) {
        tern_mqtt_prop_t v = { 0 };
        if (io->enc && k < TERN_MQTT_PROP_COUNT) {
            if (!((p->present >> k) & 1u) || k_props[k].type == TERN_MQTT_PT_PAIR) {
                continue;
            }
            v.id = k_props[k].id;
            prop_member((unsigned)k, p, &v, false);
        } else if (io->enc) {
            v = p->list[k - TERN_MQTT_PROP_COUNT];
        }
        io_prop(io, &v);
        if (io->err != TERN_OK) {
            break;
        }
        uint32_t before = seen;
        io_check(io, prop_check(type, &seen, &v));
        if (!io->enc && seen != before) {
            prop_member(prop_index(v.id), p, &v, true);
        }
    }
    if (!io->enc) {
        p->present = seen;
    }
}

/* A property block with its length. */
static void io_props(io_t *io, uint8_t type, tern_mqtt_props_t *p)
{
    if (io->enc) {
        io_t m = { .enc = true };
        io_prop_block(&m, type, p);
        if (m.err == TERN_OK && m.pos > TERN_MQTT_MAX_REMAINING) {
            m.err = TERN_ERR_MQTT_TOO_LONG;
        }
        io_check(io, m.err);
        io_varint(io, (uint32_t)m.pos);
        io_prop_block(io, type, p);
        return;
    }
    uint32_t n = io_varint(io, 0);
    const uint8_t *q = io_bytes(io, NULL, n);
    if (q != NULL) {
        io_t s = { .p = q, .end = q + n };
        p->raw.ptr = q;
        p->raw.len = n;
        io_prop_block(&s, type, p);
        io_check(io, s.err);
    }
}

static bool props_empty(const tern_mqtt_props_t *p)
{
    return (p->present & ~(uint32_t)TERN_MQTT_HAS_USER_PROPERTY) == 0 && p->list_count == 0;
}

tern_err_t tern_mqtt_prop_next(const tern_mqtt_props_t *props, size_t *cursor, uint8_t id,
                               tern_mqtt_prop_t *out)
{
    if (props == NULL || cursor == NULL || out == NULL) {
        return TERN_ERR_INVAL;
    }
    if (*cursor >= props->raw.len) {
        return TERN_ERR_EMPTY;
    }
    io_t r = { .p = props->raw.ptr + *cursor, .end = props->raw.ptr + props->raw.len };
    while (io_left(&r) > 0) {
        memset(out, 0, sizeof *out);
        io_prop(&r, out);
        if (r.err != TERN_OK) {
            return r.err;
        }
        *cursor = (size_t)(r.p - props->raw.ptr);
        if (id == 0 || out->id == id) {
            return TERN_OK;
        }
    }
    return TERN_ERR_EMPTY;
}

#else /* !TERN_MQTT_V5: MQTT 3.1.1 has no properties */

static inline void io_props(io_t *io, uint8_t type, tern_mqtt_props_t *p)
{
    (void)io, (void)type, (void)p;
}

static inline bool props_empty(const tern_mqtt_props_t *p)
{
    (void)p;
    return true;
}

bool tern_mqtt_prop_allowed(uint8_t type, uint8_t id)
{
    (void)type, (void)id;
    return false;
}

tern_err_t tern_mqtt_prop_next(const tern_mqtt_props_t *props, size_t *cursor, uint8_t id,
                               tern_mqtt_prop_t *out)
{
    (void)props, (void)cursor, (void)id, (void)out;
    return TERN_ERR_EMPTY;
}

#endif /* TERN_MQTT_V5 */

/* ----------------------------------------------------------- packets -- */

_Static_assert(offsetof(tern_mqtt_subscribe_t, packet_id) ==
                       offsetof(tern_mqtt_suback_t, packet_id) &&
                   offsetof(tern_mqtt_subscribe_t, props) == offsetof(tern_mqtt_suback_t, props),
               "SUBSCRIBE and SUBACK share their head");

/* The optional reason code and properties that end acks, DISCONNECT and AUTH in MQTT 5. */
static void io_tail(io_t *io, int v5, uint8_t type, uint8_t *reason, tern_mqtt_props_t *p)
{
    if (v5 && (io->enc ? (*reason != 0 || !props_empty(p)) : io_left(io) > 0)) {
        *reason = (uint8_t)io_num(io, *reason, 1);
        if (io->enc ? !props_empty(p) : io_left(io) > 0) {
            io_props(io, type, p);
        }
    }
    io_check(io, check_reason(v5, type, *reason));
}

static void io_connect(io_t *io, tern_mqtt_version_t ver, tern_mqtt_connect_t *c)
{
    int v5 = IS_V5(ver);
    /* The protocol name: the string "MQTT", as a length and four bytes read as one number. */
    if (io_num(io, 4, 2) != 4 || io_num(io, 0x4D515454u, 4) != 0x4D515454u) {
        io_fail(io, TERN_ERR_MQTT_BAD_PROTOCOL);
    }
    if (io_num(io, (uint32_t)ver, 1) != (uint32_t)ver) {
        io_fail(io, TERN_ERR_MQTT_UNSUPPORTED_VERSION);
    }
    uint32_t f = 0;
    if (io->enc) {
        f = (c->clean_start ? 0x02u : 0u) | (c->has_password ? 0x40u : 0u) |
            (c->has_username ? 0x80u : 0u);
        if (c->has_will) { /* a QoS above 2 becomes the invalid 3, which the check below catches */
            f |= 0x04u | (uint32_t)(c->will.qos > 2 ? 3u : c->will.qos) << 3 |
                 (c->will.retain ? 0x20u : 0u);
        }
    }
    f = io_num(io, f, 1);
    c->clean_start = (f & 0x02u) != 0;
    c->has_will = (f & 0x04u) != 0;
    c->will.qos = (f >> 3) & 3u;
    c->will.retain = (f & 0x20u) != 0;
    c->has_password = (f & 0x40u) != 0;
    c->has_username = (f & 0x80u) != 0;
    if ((f & 0x01u) || (!c->has_will && (f & 0x38u)) ||
        (!v5 && c->has_password && !c->has_username)) {
        io_fail(io, TERN_ERR_MQTT_BAD_FLAGS);
    }
    if (c->will.qos == 3) {
        io_fail(io, TERN_ERR_MQTT_BAD_QOS);
    }
    c->keep_alive = (uint16_t)io_num(io, c->keep_alive, 2);
    if (v5) {
        io_props(io, TERN_MQTT_CONNECT, &c->props);
    }
    io_field(io, &c->client_id, tern_mqtt_utf8_check);
    if (c->has_will) {
        if (v5) {
            io_props(io, 0, &c->will.props);
        }
        io_field(io, &c->will.topic, tern_mqtt_topic_check);
        io_field(io, &c->will.payload, NULL);
    }
    if (c->has_username) {
        io_field(io, &c->username, tern_mqtt_utf8_check);
    }
    if (c->has_password) {
        io_field(io, &c->password, NULL);
    }
}

static void io_publish(io_t *io, int v5, tern_mqtt_publish_t *p)
{
    if (p->qos > 2) {
        io_fail(io, TERN_ERR_MQTT_BAD_QOS);
    } else if (p->dup && p->qos == 0) {
        io_fail(io, TERN_ERR_MQTT_BAD_FLAGS);
    }
    io_field(io, &p->topic, NULL);
    if (p->qos != 0) {
        p->packet_id = io_packet_id(io, p->packet_id);
    }
    if (v5) {
        io_props(io, TERN_MQTT_PUBLISH, &p->props);
    }
    /* The topic may be empty only in MQTT 5 with a Topic Alias. */
    bool aliased = false;
#if TERN_MQTT_V5
    aliased = v5 && (p->props.present & TERN_MQTT_HAS_TOPIC_ALIAS);
#endif
    if (io->err == TERN_OK && !(aliased && p->topic.len == 0)) {
        io_check(io, tern_mqtt_topic_check(p->topic.ptr, p->topic.len));
    }
    if (!io->head) {
        io_rest(io, &p->payload);
    }
}

/* The topic filters of a SUBSCRIBE or UNSUBSCRIBE. */
static void io_sub_list(io_t *io, int v5, uint8_t type, tern_mqtt_subscribe_t *s)
{
    size_t n = 0;
    if (!io->enc) {
        s->list.ptr = io->p;
        s->list.len = io_left(io);
    }
    while (io->enc ? (s->subs != NULL && n < s->count) : io_left(io) > 0) {
        tern_mqtt_sub_t sub = { { NULL, 0 }, 0 };
        if (io->enc) {
            sub = s->subs[n];
        }
        io_sub_raw(io, type, &sub);
        if (io->err == TERN_OK) {
            io_check(io, check_sub(v5, type, &sub));
        }
        n++;
    }
    s->count = n;
    if (n == 0) {
        io_fail(io, TERN_ERR_MQTT_EMPTY_LIST);
    }
}

/* The variable header and payload of @p pkt, either way. */
static void io_body(io_t *io, tern_mqtt_version_t ver, tern_mqtt_packet_t *pkt)
{
    int v5 = IS_V5(ver);
    uint8_t t = pkt->type;
    switch (t) {
    case TERN_MQTT_CONNECT:
        io_connect(io, ver, &pkt->connect);
        break;
    case TERN_MQTT_CONNACK: {
        tern_mqtt_connack_t *a = &pkt->connack;
        uint32_t f = io_num(io, a->session_present ? 1u : 0u, 1);
        uint8_t code = (uint8_t)io_num(io, v5 ? a->reason : v311_return_code(a->reason), 1);
        bool ok = code < sizeof k_v311_connack; /* 3.1.1: there and back through the table */
        if (v5) {
            ok = tern_mqtt_reason_allowed(t, code);
        } else if (ok) {
            code = k_v311_connack[code];
        }
        a->session_present = (f & 1u) != 0;
        a->reason = code;
        if (!ok) {
            io_fail(io, TERN_ERR_MQTT_BAD_REASON);
        }
        if ((f & 0xFEu) || (f != 0 && code != 0)) {
            io_fail(io, TERN_ERR_MQTT_BAD_FLAGS);
        }
        if (v5) {
            io_props(io, t, &a->props);
        }
        break;
    }
    case TERN_MQTT_PUBLISH:
        io_publish(io, v5, &pkt->publish);
        break;
    case TERN_MQTT_PUBACK:
    case TERN_MQTT_PUBREC:
    case TERN_MQTT_PUBREL:
    case TERN_MQTT_PUBCOMP:
        pkt->ack.packet_id = io_packet_id(io, pkt->ack.packet_id);
        io_tail(io, v5, t, &pkt->ack.reason, &pkt->ack.props);
        break;
    case TERN_MQTT_SUBSCRIBE:
    case TERN_MQTT_UNSUBSCRIBE:
    case TERN_MQTT_SUBACK:
    case TERN_MQTT_UNSUBACK: {
        /* All four start alike: packet_id and props are the members' common initial sequence. */
        tern_mqtt_suback_t *a = &pkt->suback;
        tern_mqtt_subscribe_t *s = &pkt->subscribe;
        s->packet_id = io_packet_id(io, s->packet_id);
        if (v5) {
            io_props(io, t, &s->props);
        }
        if (!(t & 1u)) { /* SUBSCRIBE 8, UNSUBSCRIBE 10; their acks 9 and 11 */
            io_sub_list(io, v5, t, s);
        } else if (v5 || t == TERN_MQTT_SUBACK) { /* a 3.1.1 UNSUBACK has no reason codes */
            io_rest(io, &a->reasons);
            if (a->reasons.len == 0) {
                io_fail(io, TERN_ERR_MQTT_EMPTY_LIST);
            }
            for (size_t i = 0; a->reasons.ptr != NULL && i < a->reasons.len; i++) {
                io_check(io, check_reason(v5, t, a->reasons.ptr[i]));
            }
        }
        break;
    }
    case TERN_MQTT_DISCONNECT:
    case TERN_MQTT_AUTH:
        io_tail(io, v5, t, &pkt->disconnect.reason, &pkt->disconnect.props);
        break;
    default: /* PINGREQ, PINGRESP: nothing */
        break;
    }
    if (!io->enc && io_left(io) > 0) {
        io_fail(io, TERN_ERR_MQTT_TRAILING);
    }
}

/* ------------------------------------------------------------- API -- */

static uint8_t fixed_flags(uint8_t type)
{
    return (type == TERN_MQTT_PUBREL || type == TERN_MQTT_SUBSCRIBE ||
            type == TERN_MQTT_UNSUBSCRIBE)
               ? 2u
               : 0u;
}

/* Common argument checks; TERN_OK if @p type can be coded in @p ver. */
static tern_err_t check_call(tern_mqtt_version_t ver, uint8_t type)
{
    if (ver != TERN_MQTT_PROTO_V311 && !IS_V5(ver)) {
        return TERN_ERR_UNSUPPORTED;
    }
    bool ok = type >= TERN_MQTT_CONNECT && (type < TERN_MQTT_AUTH || IS_V5(ver));
    return ok ? TERN_OK : TERN_ERR_MQTT_BAD_TYPE;
}

/*
 * Read the fixed header at the start of buf[0..len) into *io, which then spans
 * the remaining length exactly; *packet_len gets the whole size once known.
 */
static tern_err_t open_packet(io_t *io, const uint8_t *buf, size_t len, size_t *packet_len)
{
    *io = (io_t){ .p = buf, .end = buf };
    *packet_len = 0;
    if (len < 2) {
        return TERN_ERR_AGAIN;
    }
    io->end = buf + len; /* only now: buf may be NULL when len is 0 */
    io_bytes(io, NULL, 1);
    uint32_t rem = io_varint(io, 0);
    if (io->err != TERN_OK) {
        return io->err == TERN_ERR_MQTT_SHORT ? TERN_ERR_AGAIN : io->err;
    }
    *packet_len = (size_t)(io->p - buf) + rem;
    if (io_left(io) < rem) {
        return TERN_ERR_AGAIN;
    }
    io->end = io->p + rem;
    return TERN_OK;
}

tern_err_t tern_mqtt_frame(const uint8_t *buf, size_t len, size_t *packet_len)
{
    io_t io;
    if (packet_len == NULL || (buf == NULL && len != 0)) {
        return TERN_ERR_INVAL;
    }
    return open_packet(&io, buf, len, packet_len);
}

tern_err_t tern_mqtt_decode(tern_mqtt_version_t ver, const uint8_t *buf, size_t len,
                            tern_mqtt_packet_t *pkt)
{
    io_t io;
    size_t total;
    if (pkt == NULL || (buf == NULL && len != 0)) {
        return TERN_ERR_INVAL;
    }
    tern_err_t e = open_packet(&io, buf, len, &total);
    if (e != TERN_OK) {
        return e;
    }
    memset(pkt, 0, sizeof *pkt);
    uint8_t type = buf[0] >> 4;
    uint8_t flags = buf[0] & 0x0Fu;
    pkt->type = type;
    e = check_call(ver, type);
    if (e == TERN_OK && type != TERN_MQTT_PUBLISH && flags != fixed_flags(type)) {
        e = TERN_ERR_MQTT_BAD_FLAGS;
    }
    if (e != TERN_OK) {
        return e;
    }
    if (type == TERN_MQTT_PUBLISH) {
        pkt->publish.qos = (flags >> 1) & 3u;
        pkt->publish.dup = (flags & TERN_MQTT_DUP_FLAG) != 0;
        pkt->publish.retain = (flags & 1u) != 0;
    }
    io_body(&io, ver, pkt);
    return io.err;
}

static tern_err_t encode(tern_mqtt_version_t ver, const tern_mqtt_packet_t *in, uint8_t *buf,
                         size_t cap, size_t *out_len, bool head)
{
    if (in == NULL || out_len == NULL || (buf == NULL && cap != 0)) {
        return TERN_ERR_INVAL;
    }
    *out_len = 0;
    tern_err_t e = check_call(ver, in->type);
    if (e != TERN_OK) {
        return e;
    }
    tern_mqtt_packet_t pkt = *in; /* the walk writes fields back; never to the caller's */
    uint8_t t = pkt.type;
    uint32_t first = (uint32_t)t << 4 | fixed_flags(t);
    if (t == TERN_MQTT_PUBLISH) {
        first |= (pkt.publish.dup ? TERN_MQTT_DUP_FLAG : 0u) | (pkt.publish.qos & 3u) << 1 |
                 (pkt.publish.retain ? 1u : 0u);
    }
    io_t io = { .enc = true };
    io_body(&io, ver, &pkt);
    if (io.err == TERN_OK && io.pos > TERN_MQTT_MAX_REMAINING) {
        io.err = TERN_ERR_MQTT_TOO_LONG;
    }
    if (io.err != TERN_OK) {
        return io.err;
    }
    uint32_t rem = (uint32_t)io.pos;
    size_t total = 2u + (rem > 0x7Fu) + (rem > 0x3FFFu) + (rem > 0x1FFFFFu) + rem;
    if (head && t == TERN_MQTT_PUBLISH) {
        total -= pkt.publish.payload.len;
    }
    *out_len = total;
    if (total > cap) {
        return TERN_ERR_TOO_SMALL;
    }
    io.buf = buf; /* the same walk again (err is still TERN_OK), now writing */
    io.cap = cap;
    io.pos = 0;
    io.head = head;
    io_num(&io, first, 1);
    io_varint(&io, rem);
    io_body(&io, ver, &pkt);
    return io.err;
}

tern_err_t tern_mqtt_encode(tern_mqtt_version_t ver, const tern_mqtt_packet_t *pkt, uint8_t *buf,
                            size_t cap, size_t *out_len)
{
    return encode(ver, pkt, buf, cap, out_len, false);
}

tern_err_t tern_mqtt_encode_head(tern_mqtt_version_t ver, const tern_mqtt_packet_t *pkt,
                                 uint8_t *buf, size_t cap, size_t *out_len)
{
    return encode(ver, pkt, buf, cap, out_len, true);
}

tern_err_t tern_mqtt_sub_next(const tern_mqtt_packet_t *pkt, size_t *cursor, tern_mqtt_sub_t *out)
{
    if (pkt == NULL || cursor == NULL || out == NULL ||
        (pkt->type != TERN_MQTT_SUBSCRIBE && pkt->type != TERN_MQTT_UNSUBSCRIBE)) {
        return TERN_ERR_INVAL;
    }
    const tern_mqtt_view_t *l = &pkt->subscribe.list;
    if (*cursor >= l->len) {
        return TERN_ERR_EMPTY;
    }
    io_t r = { .p = l->ptr + *cursor, .end = l->ptr + l->len };
    out->options = 0;
    io_sub_raw(&r, pkt->type, out);
    *cursor = (size_t)(r.p - l->ptr);
    return r.err;
}
