/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MQTT client session: the state machine above the codec. See mqtt.h for
 * the contract; this file says how.
 *
 * tx is a byte queue [tx_off, tx_len): every packet is encoded straight into
 * its tail, and poll hands the unsent part to the transport. Acks we owe the
 * server go through one slot (ack_type/ack_pid) so that a full tx buffer
 * stalls reading instead of losing an ack; everything else that must go out
 * later (resends, PUBRELs, queued publishes, resubscriptions) is driven by
 * pump() from the tables themselves, so there is no second queue to persist.
 *
 * rx holds one packet at a time. A PUBLISH too big for it is streamed: its
 * head (fixed header, topic, packet id, properties) stays at the front of rx
 * and the payload passes through the rest of it, chunk by chunk.
 */
#include <stddef.h>
#include <string.h>

#include "tern/mqtt.h"

/* Both versions in one build; with TERN_MQTT_V5 == 0 every MQTT 5 branch is dead code. */
#define V5(m) (TERN_MQTT_V5 && (m)->ver == TERN_MQTT_PROTO_V5)

enum { ST_IDLE, ST_CONNECTING, ST_CONNECTED, ST_CLOSING };
enum { RX_FRAME, RX_STREAM, RX_SKIP }; /* rx_mode: whole packets, payload to deliver or drop */

/* The copy store encodes with the richest version built, so a copy outlives a version change. */
#define COPY_VER (TERN_MQTT_V5 ? TERN_MQTT_PROTO_V5 : TERN_MQTT_PROTO_V311)

#define OURS(r) ((r)->stage != TERN_MQTT_STAGE_FREE && (r)->stage != TERN_MQTT_STAGE_PUBREL)

/* Records are stored byte for byte: their layout is part of the contract. */
_Static_assert(sizeof(tern_mqtt_inflight_t) == 12, "in-flight record layout changed");

static void emit(tern_mqtt_t *m, tern_mqtt_event_t *ev)
{
    m->c.on_event(m->c.user, ev);
}

/* The connection is over: go idle and tell the caller. Returns @p err for poll. */
static tern_err_t end(tern_mqtt_t *m, tern_mqtt_event_type_t type, tern_err_t err, uint8_t reason,
                      const tern_mqtt_props_t *props)
{
    tern_mqtt_event_t ev = { 0 };
    m->state = ST_IDLE;
    ev.type = type;
    ev.err = err;
    ev.reason = reason;
    ev.props = props;
    if (TERN_MQTT_V5 && props && (props->present & TERN_MQTT_HAS_SERVER_REFERENCE)) {
        ev.server_reference = props->server_reference;
    }
    emit(m, &ev);
    return err;
}

/* Encode @p p at the tail of tx. AGAIN: no room now; TOO_SMALL: never; RANGE: above the server's
 * Maximum Packet Size. */
static tern_err_t put(tern_mqtt_t *m, const tern_mqtt_packet_t *p)
{
    size_t n;
    memmove(m->c.tx, m->c.tx + m->tx_off, m->tx_len - m->tx_off);
    m->tx_len -= m->tx_off;
    m->tx_off = 0;
    tern_err_t e = tern_mqtt_encode((tern_mqtt_version_t)m->ver, p, m->c.tx + m->tx_len,
                                    m->c.tx_size - m->tx_len, &n);
    if (e == TERN_OK || e == TERN_ERR_TOO_SMALL) {
        if (TERN_MQTT_V5 && n > m->lim.max_packet) {
            return TERN_ERR_RANGE;
        }
        if (e != TERN_OK) {
            return n > m->c.tx_size ? TERN_ERR_TOO_SMALL : TERN_ERR_AGAIN;
        }
        m->tx_len += n;
    }
    return e;
}

/* PUBACK PUBREC PUBREL PUBCOMP, PINGREQ (no fields) and DISCONNECT (a reason only). */
static tern_err_t put_small(tern_mqtt_t *m, uint8_t type, uint16_t pid, uint8_t reason)
{
    tern_mqtt_packet_t p;
    memset(&p, 0, sizeof p);
    p.type = type;
    reason = V5(m) ? reason : 0; /* 3.1.1 has no reason codes on the wire */
    if (type == TERN_MQTT_DISCONNECT) {
        p.disconnect.reason = reason;
    } else {
        p.ack.packet_id = pid;
        p.ack.reason = reason;
    }
    return put(m, &p);
}

static tern_err_t flush(tern_mqtt_t *m, tern_ms_t now)
{
    while (m->tx_off < m->tx_len) {
        size_t n = 0;
        tern_err_t e = m->t.ops->send(m->t.ctx, m->c.tx + m->tx_off, m->tx_len - m->tx_off, &n);
        if (e != TERN_OK) {
            return e;
        }
        if (n == 0) {
            break;
        }
        m->tx_off += n;
        m->last_tx = now;
    }
    return TERN_OK;
}

/* A protocol error: tell an MQTT 5 server why (best effort), then end. */
static tern_err_t fail(tern_mqtt_t *m, tern_err_t err, tern_ms_t now)
{
    uint8_t reason = tern_mqtt_err_to_reason(err);
    if (V5(m) && put_small(m, TERN_MQTT_DISCONNECT, 0, reason) == TERN_OK) {
        (void)flush(m, now);
    }
    return end(m, TERN_MQTT_EV_DISCONNECTED, err, reason, NULL);
}

/* ------------------------------------------------------ in-flight table -- */

static tern_mqtt_inflight_t *rec_find(tern_mqtt_t *m, uint16_t pid, bool theirs)
{
    tern_mqtt_inflight_t *r = m->c.inflight;
    for (size_t i = m->c.inflight_count; i > 0; i--, r++) {
        if (r->stage != TERN_MQTT_STAGE_FREE && r->packet_id == pid &&
            (r->stage == TERN_MQTT_STAGE_PUBREL) == theirs) {
            return r;
        }
    }
    return NULL;
}

/* Count: [0] free records, [1] the server's QoS 2, [2] ours counting against its Receive Maximum.
 * Returns the oldest record of ours still to send whose stage is in @p stages (a
 * mask of 1 << stage), if any. */
static tern_mqtt_inflight_t *census(const tern_mqtt_t *m, size_t n[3], unsigned stages)
{
    tern_mqtt_inflight_t *first = NULL, *r = m->c.inflight;
    memset(n, 0, 3 * sizeof n[0]);
    for (size_t i = m->c.inflight_count; i > 0; i--, r++) {
        if (r->stage == TERN_MQTT_STAGE_FREE) {
            n[0]++;
        } else if (r->stage == TERN_MQTT_STAGE_PUBREL) {
            n[1]++;
        } else {
            if (!(r->flags & TERN_MQTT_IF_PENDING) || r->stage == TERN_MQTT_STAGE_PUBCOMP) {
                n[2]++;
            }
            if ((r->flags & TERN_MQTT_IF_PENDING) && ((stages >> r->stage) & 1u) &&
                (!first || tern_time_before(r->order, first->order))) {
                first = r;
            }
        }
    }
    return first;
}

#define PUBLISHES (1u << TERN_MQTT_STAGE_PUBACK | 1u << TERN_MQTT_STAGE_PUBREC)
#define PUBRELS   (1u << TERN_MQTT_STAGE_PUBCOMP)

static uint16_t new_pid(tern_mqtt_t *m)
{
    do {
        m->next_pid = (uint16_t)(m->next_pid + 1u);
    } while (m->next_pid == 0 || rec_find(m, m->next_pid, false));
    return m->next_pid;
}

/* An ack we owe the server: pump() sends it before anything else is read. */
static void owe(tern_mqtt_t *m, uint8_t type, uint16_t pid, uint8_t reason)
{
    m->ack_type = type;
    m->ack_pid = pid;
    m->ack_reason = reason;
}

/* Our flow @p r is over: free the record, then report it. */
static void rec_done(tern_mqtt_t *m, tern_mqtt_inflight_t *r, uint8_t reason, tern_err_t err,
                     const tern_mqtt_props_t *props)
{
    tern_mqtt_event_t ev = { 0 };
    ev.type = TERN_MQTT_EV_PUBLISHED;
    ev.token = r->token;
    ev.packet_id = r->packet_id;
    ev.reason = reason;
    ev.err = err;
    ev.props = props;
    memset(r, 0, sizeof *r);
    emit(m, &ev);
}

/* Record @p r's slot of the copy store (which the caller knows is there); *size gets its size. */
static uint8_t *copy_slot(const tern_mqtt_t *m, const tern_mqtt_inflight_t *r, size_t *size)
{
    *size = m->c.copy_size / m->c.inflight_count;
    return m->c.copy + (size_t)(r - m->c.inflight) * *size;
}

/* ------------------------------------------------------------- publish -- */

static uint8_t *alias_slot(const tern_mqtt_alias_mem_t *a, unsigned i)
{
    return a->mem + i * (a->size / a->count);
}

static size_t alias_len(const uint8_t *s)
{
    return (size_t)s[0] | (size_t)s[1] << 8;
}

static void alias_set(const tern_mqtt_alias_mem_t *a, unsigned i, tern_mqtt_view_t t)
{
    uint8_t *s = alias_slot(a, i);
    s[0] = (uint8_t)t.len;
    s[1] = (uint8_t)(t.len >> 8);
    memcpy(s + 2, t.ptr, t.len);
}

/* Queue PUBLISH @p p (packet id, QoS and DUP set), replacing its topic by an alias when we can:
 * an alias already bound to the topic, else the next slot round robin. */
static tern_err_t put_publish(tern_mqtt_t *m, tern_mqtt_packet_t *p)
{
    tern_mqtt_publish_t *pub = &p->publish;
    tern_mqtt_view_t topic = pub->topic;
    unsigned bind = 0;
    if (TERN_MQTT_V5) { /* 3.1.1 encodes no properties */
        pub->props.present &= ~(uint32_t)TERN_MQTT_HAS_TOPIC_ALIAS;
    }
    if (V5(m) && m->lim.alias_max && topic.len) {
        const tern_mqtt_alias_mem_t *a = &m->c.alias_out;
        unsigned i;
        for (i = 0; i < m->lim.alias_max; i++) {
            const uint8_t *s = alias_slot(a, i);
            if (alias_len(s) == topic.len && memcmp(s + 2, topic.ptr, topic.len) == 0) {
                pub->topic.len = 0;
                break;
            }
        }
        if (i == m->lim.alias_max && topic.len + 2 <= a->size / a->count) {
            i = m->alias_next % m->lim.alias_max;
            bind = i + 1;
        }
        if (pub->topic.len == 0 || bind) {
            pub->props.present |= TERN_MQTT_HAS_TOPIC_ALIAS;
            pub->props.topic_alias = (uint16_t)(i + 1);
        }
    }
    tern_err_t e = put(m, p);
    if (e == TERN_OK && bind) {
        alias_set(&m->c.alias_out, bind - 1, topic);
        m->alias_next++;
    }
    return e;
}

/* The message of record @p r again, from the caller or from the copy store. */
static tern_err_t reproduce(tern_mqtt_t *m, const tern_mqtt_inflight_t *r, tern_mqtt_packet_t *p)
{
    tern_err_t e = TERN_ERR_NOT_FOUND;
    memset(p, 0, sizeof *p);
    p->type = TERN_MQTT_PUBLISH;
    if (m->c.reproduce) {
        e = m->c.reproduce(m->c.user, r, &p->publish);
    } else if (m->c.copy) {
        size_t sz;
        const uint8_t *slot = copy_slot(m, r, &sz);
        e = tern_mqtt_decode(COPY_VER, slot, sz, p);
    }
    p->publish.qos = r->stage == TERN_MQTT_STAGE_PUBACK ? 1 : 2;
    p->publish.packet_id = r->packet_id;
    p->publish.dup = (r->flags & TERN_MQTT_IF_SENT) != 0;
    return e;
}

static tern_err_t put_sub(tern_mqtt_t *m, uint8_t type, const tern_mqtt_sub_t *subs, size_t n,
                          uint32_t sub_id, uint16_t *pid)
{
    tern_mqtt_packet_t p;
    memset(&p, 0, sizeof p);
    p.type = type;
    p.subscribe.packet_id = new_pid(m);
    p.subscribe.subs = subs;
    p.subscribe.count = n;
    if (sub_id && V5(m)) {
        p.subscribe.props.present = TERN_MQTT_HAS_SUBSCRIPTION_ID;
        p.subscribe.props.subscription_id = sub_id;
    }
    tern_err_t e = put(m, &p);
    if (e == TERN_OK && pid) {
        *pid = p.subscribe.packet_id;
    }
    return e;
}

/* Send what the tables say is owed: the ack, resubscriptions, then PUBRELs and PUBLISHes in their
 * order as far as the server's Receive Maximum allows. */
static void pump(tern_mqtt_t *m)
{
    size_t n[3];
    tern_mqtt_inflight_t *r;
    tern_mqtt_packet_t p;
    tern_err_t e;
    if (m->state != ST_CONNECTED) {
        return;
    }
    if (m->ack_type) {
        if (put_small(m, m->ack_type, m->ack_pid, m->ack_reason) == TERN_ERR_AGAIN) {
            return;
        }
        m->ack_type = 0;
    }
    for (; m->resub < m->c.sub_count; m->resub++) {
        tern_mqtt_sub_t s = m->c.subs[m->resub].sub;
        if (!V5(m)) {
            s.options &= TERN_MQTT_SUB_QOS_MASK;
        }
        if (s.filter.len && put_sub(m, TERN_MQTT_SUBSCRIBE, &s, 1, m->c.subs[m->resub].sub_id,
                                    NULL) == TERN_ERR_AGAIN) {
            return;
        }
    }
    for (;;) {
        /* in their order, but a PUBLISH held back by the quota must not hold up a PUBREL */
        r = census(m, n, PUBLISHES | PUBRELS);
        if (TERN_MQTT_V5 && r && r->stage != TERN_MQTT_STAGE_PUBCOMP &&
            n[2] >= m->lim.receive_max) {
            r = census(m, n, PUBRELS);
        }
        if (!r) {
            return;
        }
        if (r->stage == TERN_MQTT_STAGE_PUBCOMP) {
            e = put_small(m, TERN_MQTT_PUBREL, r->packet_id, 0);
        } else {
            e = reproduce(m, r, &p);
            if (e == TERN_OK) {
                e = put_publish(m, &p);
            }
            if (e != TERN_OK && e != TERN_ERR_AGAIN) {
                rec_done(m, r, 0, e, NULL);
                continue;
            }
        }
        if (e != TERN_OK) {
            return;
        }
        r->flags = (uint8_t)((r->flags & ~TERN_MQTT_IF_PENDING) | TERN_MQTT_IF_SENT);
    }
}

/* ---------------------------------------------------------------- API -- */

tern_err_t tern_mqtt_init(tern_mqtt_t *m, const tern_mqtt_config_t *cfg)
{
    if (!cfg->tx || !cfg->rx || cfg->tx_size < 16 || cfg->rx_size < 16 || !cfg->inflight_count ||
        !cfg->on_event) {
        return TERN_ERR_INVAL;
    }
    memset(m, 0, sizeof *m);
    m->c = *cfg;
    tern_mqtt_config_t *c = &m->c;
    if (!c->receive_max || c->receive_max > c->inflight_count) {
        c->receive_max = (uint16_t)((c->inflight_count + 1) / 2);
    }
    if (!c->timeout_ms) {
        c->timeout_ms = 10000;
    }
#if TERN_MQTT_V5 /* what only an MQTT 5 CONNECT announces */
    if (!c->max_packet) {
        c->max_packet = (uint32_t)c->rx_size;
    }
    for (tern_mqtt_alias_mem_t *a = &c->alias_out; a <= &c->alias_in; a++) {
        if (!a->mem || !a->count || a->size / a->count < 3) {
            a->count = 0;
        }
    }
#endif
    memset(c->inflight, 0, c->inflight_count * sizeof *c->inflight);
    if (c->subs) {
        memset(c->subs, 0, c->sub_count * sizeof *c->subs);
    } else {
        c->sub_count = 0;
    }
    return TERN_OK; /* resub, like every per-connection field, is set by tern_mqtt_connect() */
}

tern_err_t tern_mqtt_restore(tern_mqtt_t *m)
{
    tern_mqtt_inflight_t *t = m->c.inflight;
    bool any = false;
    if (m->state != ST_IDLE) {
        return TERN_ERR_STATE;
    }
    for (size_t i = 0; i < m->c.inflight_count; i++) {
        tern_mqtt_inflight_t *r = &t[i];
        if (r->stage > TERN_MQTT_STAGE_PUBREL ||
            (r->stage && (!r->packet_id ||
                          rec_find(m, r->packet_id, r->stage == TERN_MQTT_STAGE_PUBREL) != r))) {
            memset(t, 0, m->c.inflight_count * sizeof *t);
            return TERN_ERR_CORRUPT;
        }
        if (r->stage && (!any || !tern_time_before(r->order, m->seq))) {
            m->seq = r->order + 1u;
            any = true;
        }
    }
    return TERN_OK;
}

tern_err_t tern_mqtt_connect(tern_mqtt_t *m, const tern_transport_t *t, tern_mqtt_version_t ver,
                             const tern_mqtt_connect_t *c, tern_ms_t now)
{
    tern_mqtt_packet_t p;
    if (!t->ops) {
        return TERN_ERR_INVAL;
    }
    if (m->state != ST_IDLE) {
        return TERN_ERR_STATE;
    }
    memset(m, 0, offsetof(tern_mqtt_t, next_pid)); /* RX_FRAME, no ack owed, no ping out */
    m->t = *t;
    m->ver = (uint8_t)ver;
    m->resub = (uint16_t)m->c.sub_count;
    m->lim.max_packet = TERN_MQTT_MAX_PACKET;
    m->lim.receive_max = 0xFFFF;
    m->lim.max_qos = 2;
    m->lim.retain_available = true;
    m->lim.keep_alive = c->keep_alive;
    p.type = TERN_MQTT_CONNECT;
    p.connect = *c;
    if (V5(m)) {
        tern_mqtt_props_t *pr = &p.connect.props;
        pr->present |= TERN_MQTT_HAS_RECEIVE_MAXIMUM | TERN_MQTT_HAS_MAXIMUM_PACKET_SIZE |
                       (m->c.alias_in.count ? TERN_MQTT_HAS_TOPIC_ALIAS_MAXIMUM : 0u);
        pr->receive_maximum = m->c.receive_max;
        pr->maximum_packet_size = m->c.max_packet;
        pr->topic_alias_maximum = m->c.alias_in.count;
        for (tern_mqtt_alias_mem_t *a = &m->c.alias_out; a <= &m->c.alias_in; a++) {
            if (a->count) {
                memset(a->mem, 0, a->size);
            }
        }
    }
    tern_err_t e = put(m, &p);
    if (e == TERN_OK) {
        m->state = ST_CONNECTING;
        m->last_tx = now;
        m->deadline = tern_deadline_in(now, m->c.timeout_ms);
    }
    return e;
}

tern_err_t tern_mqtt_publish(tern_mqtt_t *m, const tern_mqtt_publish_t *msg, uint32_t token,
                             uint16_t *packet_id)
{
    tern_mqtt_packet_t p;
    size_t n[3], rm = m->c.receive_max;
    tern_mqtt_inflight_t *r;
    bool up = m->state == ST_CONNECTED;
    tern_err_t e = up ? TERN_ERR_BUSY : TERN_ERR_STATE;
    if (TERN_MQTT_V5 ? msg->qos > m->lim.max_qos || (msg->retain && !m->lim.retain_available)
                     : msg->qos > 2) {
        return TERN_ERR_UNSUPPORTED; /* the server's Maximum QoS, Retain Available */
    }
    p.type = TERN_MQTT_PUBLISH;
    p.publish = *msg;
    p.publish.dup = false;
    p.publish.packet_id = 0;
    if (!msg->qos) {
        return up ? put_publish(m, &p) : e;
    }
    (void)census(m, n, 0);
    /* keep receive_max records for the server's QoS 2, less those it holds already */
    if (n[0] + (n[1] < rm ? n[1] : rm) <= rm) {
        return TERN_ERR_BUSY;
    }
    for (r = m->c.inflight; r->stage != TERN_MQTT_STAGE_FREE; r++) {
    }
    r->packet_id = p.publish.packet_id = new_pid(m);
    r->stage = msg->qos; /* TERN_MQTT_STAGE_PUBACK or _PUBREC */
    r->token = token;
    r->order = m->seq++;
    r->flags = TERN_MQTT_IF_PENDING;
    if (!m->c.reproduce && m->c.copy) {
        size_t sz, len;
        uint8_t *slot = copy_slot(m, r, &sz);
        tern_err_t ce = tern_mqtt_encode(COPY_VER, &p, slot, sz, &len);
        if (ce != TERN_OK) {
            e = ce;
            goto drop; /* TERN_ERR_TOO_SMALL: bigger than a copy slot */
        }
    }
    /* go now only if nothing queued is older and the server's quota allows */
    if (up && census(m, n, PUBLISHES) == r && (!TERN_MQTT_V5 || n[2] < m->lim.receive_max)) {
        e = put_publish(m, &p);
        if (e == TERN_OK) {
            r->flags = TERN_MQTT_IF_SENT;
        } else if (e != TERN_ERR_AGAIN) {
            goto drop; /* it can never go out: refuse it */
        }
    }
    if (e != TERN_OK && !(m->c.reproduce || m->c.copy)) {
        goto drop; /* cannot be sent later: refuse it */
    }
    if (packet_id) {
        *packet_id = r->packet_id;
    }
    return TERN_OK; /* sent, or queued for pump() */
drop:
    memset(r, 0, sizeof *r);
    return e;
}

/* The table entry for @p f (len 0: a free one), or NULL. */
static tern_mqtt_sub_entry_t *sub_find(tern_mqtt_t *m, tern_mqtt_view_t f)
{
    tern_mqtt_sub_entry_t *s = m->c.subs; /* may be NULL, with sub_count 0 */
    for (size_t i = m->c.sub_count; i > 0; i--, s++) {
        if (s->sub.filter.len == f.len &&
            (!f.len || memcmp(s->sub.filter.ptr, f.ptr, f.len) == 0)) {
            return s;
        }
    }
    return NULL;
}

tern_err_t tern_mqtt_subscribe(tern_mqtt_t *m, const tern_mqtt_sub_t *subs, size_t n,
                               uint32_t sub_id, uint16_t *packet_id)
{
    const tern_mqtt_view_t none = { NULL, 0 };
    ptrdiff_t need = 0; /* entries the new filters take, less the free ones */
    size_t i;
    tern_mqtt_sub_entry_t *s;
    if (m->state != ST_CONNECTED) {
        return TERN_ERR_STATE;
    }
    for (i = 0; i < n; i++) {
        need += sub_find(m, subs[i].filter) == NULL;
    }
    s = m->c.subs;
    for (i = m->c.sub_count; i > 0; i--, s++) {
        need -= !s->sub.filter.len;
    }
    if (m->c.subs && need > 0) {
        return TERN_ERR_FULL; /* checked first: all of them are kept, or none is sent */
    }
    tern_err_t e = put_sub(m, TERN_MQTT_SUBSCRIBE, subs, n, sub_id, packet_id);
    for (; e == TERN_OK && n > 0; n--, subs++) {
        s = sub_find(m, subs->filter);
        if (s || (s = sub_find(m, none)) != NULL) {
            s->sub = *subs;
            s->sub_id = sub_id;
        }
    }
    return e;
}

tern_err_t tern_mqtt_unsubscribe(tern_mqtt_t *m, const tern_mqtt_sub_t *subs, size_t n,
                                 uint16_t *packet_id)
{
    tern_err_t e = m->state != ST_CONNECTED
                       ? TERN_ERR_STATE
                       : put_sub(m, TERN_MQTT_UNSUBSCRIBE, subs, n, 0, packet_id);
    for (; e == TERN_OK && n > 0; n--, subs++) {
        tern_mqtt_sub_entry_t *s = sub_find(m, subs->filter);
        if (s) {
            memset(s, 0, sizeof *s);
        }
    }
    return e;
}

tern_err_t tern_mqtt_disconnect(tern_mqtt_t *m, uint8_t reason, const tern_mqtt_props_t *props)
{
    if (m->state != ST_CONNECTED && m->state != ST_CONNECTING) {
        return TERN_ERR_STATE;
    }
#if TERN_MQTT_V5
    tern_mqtt_packet_t p;
    memset(&p, 0, sizeof p);
    p.type = TERN_MQTT_DISCONNECT;
    if (V5(m)) {
        p.disconnect.reason = reason;
        if (props) {
            p.disconnect.props = *props;
        }
    }
    tern_err_t e = put(m, &p);
    reason = p.disconnect.reason;
#else /* 3.1.1: no reason code, no properties */
    (void)props;
    tern_err_t e = put_small(m, TERN_MQTT_DISCONNECT, 0, 0);
    reason = 0;
#endif
    if (e == TERN_OK) {
        m->state = ST_CLOSING;
        m->close_reason = reason;
        m->ping_out = 0; /* poll starts the deadline for getting it out */
    }
    return e;
}

tern_err_t tern_mqtt_abort(tern_mqtt_t *m, tern_err_t why)
{
    if (m->state == ST_IDLE) {
        return TERN_ERR_STATE;
    }
    (void)end(m, TERN_MQTT_EV_LINK_DEAD, why, 0, NULL);
    return TERN_OK;
}

/* ------------------------------------------------------------- receive -- */

/* A variable byte integer at p[0..n): its size, or 0 if incomplete or too long. */
static size_t varint(const uint8_t *p, size_t n, uint32_t *v)
{
    uint32_t x = 0;
    for (size_t i = 0; i < n && i < 4; i++) {
        x |= (uint32_t)(p[i] & 0x7Fu) << (7 * i);
        if (!(p[i] & 0x80u)) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

/* A PUBLISH (whole, or the head of a streamed one) arrived: resolve its topic alias, check the
 * QoS 2 state, remember the head for the chunks to come. */
static tern_err_t rx_publish(tern_mqtt_t *m, tern_mqtt_publish_t *pub, size_t total)
{
    size_t n[3];
    tern_mqtt_inflight_t *r;
    if (V5(m) && (pub->props.present & TERN_MQTT_HAS_TOPIC_ALIAS)) {
        const tern_mqtt_alias_mem_t *a = &m->c.alias_in;
        unsigned id = pub->props.topic_alias;
        if (!id || id > a->count) {
            return TERN_ERR_MQTT_TOPIC_ALIAS_INVALID;
        }
        if (pub->topic.len) {
            if (pub->topic.len + 2 > a->size / a->count) {
                return TERN_ERR_MQTT_IMPL_ERROR; /* our slots are too small for this topic */
            }
            alias_set(a, id - 1, pub->topic);
        }
        const uint8_t *s = alias_slot(a, id - 1);
        pub->topic.ptr = s + 2;
        pub->topic.len = alias_len(s);
        if (!pub->topic.len) {
            return TERN_ERR_MQTT_TOPIC_ALIAS_INVALID;
        }
    }
    m->rx_mode = RX_STREAM;
    if (pub->qos == 2) {
        r = rec_find(m, pub->packet_id, true);
        if (r && !(r->flags & TERN_MQTT_IF_PENDING)) {
            m->rx_mode = RX_SKIP; /* delivered before: only acknowledge again */
        } else {
            if (!r) {
                /* A server past our Receive Maximum is tolerated while the table has
                 * room (mosquitto 2.0.11 sends more QoS 2 than announced once PUBRECs
                 * come back); only when no record is left is it DISCONNECT 0x93. */
                (void)census(m, n, 0);
                if (!n[0]) {
                    return TERN_ERR_MQTT_RECEIVE_MAX_EXCEEDED;
                }
                for (r = m->c.inflight; r->stage != TERN_MQTT_STAGE_FREE; r++) {
                }
                r->stage = TERN_MQTT_STAGE_PUBREL;
                r->packet_id = pub->packet_id;
                r->order = m->seq++;
            }
            /* pending until its last byte is delivered: a delivery cut off by a lost link or
             * a reset starts again from the beginning when the server sends it again */
            r->flags = TERN_MQTT_IF_PENDING;
        }
    }
    m->rx_msg = *pub;
    m->rx_off = 0;
    m->rx_total = total;
    return TERN_OK;
}

/* Deliver @p len more payload bytes of the PUBLISH in rx_msg; after the last, owe its ack. */
static void rx_chunk(tern_mqtt_t *m, const uint8_t *data, size_t len)
{
    if (m->rx_mode == RX_STREAM) {
        tern_mqtt_event_t ev = { 0 };
        ev.type = TERN_MQTT_EV_MESSAGE;
        ev.msg = &m->rx_msg;
        ev.offset = m->rx_off;
        ev.total = m->rx_total;
        ev.props = &m->rx_msg.props;
        m->rx_msg.payload.ptr = data;
        m->rx_msg.payload.len = len;
        emit(m, &ev);
    }
    m->rx_off += len;
    if (m->rx_off == m->rx_total) {
        tern_mqtt_inflight_t *r =
            m->rx_msg.qos == 2 ? rec_find(m, m->rx_msg.packet_id, true) : NULL;
        if (r) {
            r->flags = 0; /* delivered: a copy the server sends again is dropped */
        }
        /* QoS 1: PUBACK (4), QoS 2: PUBREC (5), QoS 0: nothing */
        owe(m, m->rx_msg.qos ? (uint8_t)(TERN_MQTT_PUBACK + m->rx_msg.qos - 1) : 0,
            m->rx_msg.packet_id, 0);
        m->rx_mode = RX_FRAME;
    }
}

#define CLIENT_RECEIVES                                                             \
    (1u << TERN_MQTT_CONNACK | 1u << TERN_MQTT_PUBLISH | 1u << TERN_MQTT_PUBACK |   \
     1u << TERN_MQTT_PUBREC | 1u << TERN_MQTT_PUBREL | 1u << TERN_MQTT_PUBCOMP |    \
     1u << TERN_MQTT_SUBACK | 1u << TERN_MQTT_UNSUBACK | 1u << TERN_MQTT_PINGRESP | \
     1u << TERN_MQTT_DISCONNECT)

/* The whole packet rx[0..len) is there: act on it. */
static tern_err_t rx_packet(tern_mqtt_t *m, size_t len, tern_ms_t now)
{
    tern_mqtt_packet_t p;
    tern_mqtt_inflight_t *r;
    tern_mqtt_event_t ev = { 0 };
    tern_err_t e = tern_mqtt_decode((tern_mqtt_version_t)m->ver, m->c.rx, len, &p);
    const tern_mqtt_props_t *pr = &p.ack.props;
    /* what a server may send, CONNACK first and only then */
    if (e == TERN_OK && (!((CLIENT_RECEIVES >> p.type) & 1u) ||
                         (m->state == ST_CONNECTING) != (p.type == TERN_MQTT_CONNACK))) {
        e = TERN_ERR_MQTT_PROTOCOL_ERROR;
    }
    if (e != TERN_OK) {
        return fail(m, e, now);
    }
    switch (p.type) {
    case TERN_MQTT_CONNACK: {
        tern_mqtt_connack_t *a = &p.connack;
        pr = &a->props;
        if (a->reason) {
            return end(m, TERN_MQTT_EV_DISCONNECTED, tern_mqtt_reason_to_err(a->reason), a->reason,
                       pr);
        }
        tern_mqtt_limits_t *l = &m->lim;
        if (V5(m)) {
            uint32_t has = pr->present;
            if (has & TERN_MQTT_HAS_RECEIVE_MAXIMUM) {
                l->receive_max = pr->receive_maximum;
            }
            if (has & TERN_MQTT_HAS_MAXIMUM_PACKET_SIZE) {
                l->max_packet = pr->maximum_packet_size;
            }
            if (has & TERN_MQTT_HAS_TOPIC_ALIAS_MAXIMUM) {
                l->alias_max = pr->topic_alias_maximum < m->c.alias_out.count
                                   ? pr->topic_alias_maximum
                                   : m->c.alias_out.count;
            }
            if (has & TERN_MQTT_HAS_MAXIMUM_QOS) {
                l->max_qos = pr->maximum_qos;
            }
            if (has & TERN_MQTT_HAS_RETAIN_AVAILABLE) {
                l->retain_available = pr->retain_available;
            }
            if (has & TERN_MQTT_HAS_SERVER_KEEP_ALIVE) {
                l->keep_alive = pr->server_keep_alive;
            }
        }
        l->session_present = a->session_present;
        m->state = ST_CONNECTED;
        /* Resume (session present) or restart (see mqtt.h) every flow. */
        r = m->c.inflight;
        for (size_t i = m->c.inflight_count; i > 0; i--, r++) {
            if (!a->session_present) {
                if (r->stage == TERN_MQTT_STAGE_PUBREL) {
                    memset(r, 0, sizeof *r);
                }
                r->flags = 0; /* a new message: no DUP */
            }
            if (OURS(r)) {
                r->flags |= TERN_MQTT_IF_PENDING;
            }
        }
        if (!a->session_present) {
            m->resub = 0;
        }
        ev.type = TERN_MQTT_EV_CONNECTED;
        ev.limits = l;
        break;
    }
    case TERN_MQTT_PUBLISH:
        e = rx_publish(m, &p.publish, p.publish.payload.len);
        if (e != TERN_OK) {
            return fail(m, e, now);
        }
        rx_chunk(m, p.publish.payload.ptr, p.publish.payload.len);
        break;
    case TERN_MQTT_PUBACK:
    case TERN_MQTT_PUBREC:
    case TERN_MQTT_PUBCOMP:
        r = rec_find(m, p.ack.packet_id, false);
        if (!r) {
            if (p.type == TERN_MQTT_PUBREC) {
                owe(m, TERN_MQTT_PUBREL, p.ack.packet_id, 0x92); /* id not found: release it */
            }
        } else if ((p.type == TERN_MQTT_PUBACK) != (r->stage == TERN_MQTT_STAGE_PUBACK)) {
            /* an ack of the other QoS: not ours to act on */
        } else if (p.type == TERN_MQTT_PUBREC && (!TERN_MQTT_V5 || p.ack.reason < 0x80)) {
            /* accepted (a 3.1.1 ack has no reason code: the codec leaves it 0) */
            r->stage = TERN_MQTT_STAGE_PUBCOMP;
            r->order = m->seq++; /* PUBRELs go in the order their PUBRECs came */
            r->flags |= TERN_MQTT_IF_PENDING;
        } else {
            /* PUBACK, failed PUBREC: as the reason says; PUBCOMP: delivered in any case */
            rec_done(m, r, p.ack.reason,
                     p.type == TERN_MQTT_PUBCOMP || !TERN_MQTT_V5
                         ? TERN_OK
                         : tern_mqtt_reason_to_err(p.ack.reason),
                     pr);
        }
        break;
    case TERN_MQTT_PUBREL:
        r = rec_find(m, p.ack.packet_id, true);
        owe(m, TERN_MQTT_PUBCOMP, p.ack.packet_id, r ? 0 : 0x92);
        if (r) {
            memset(r, 0, sizeof *r);
        }
        break;
    case TERN_MQTT_SUBACK:
    case TERN_MQTT_UNSUBACK:
        pr = &p.suback.props;
        ev.type = p.type == TERN_MQTT_SUBACK ? TERN_MQTT_EV_SUBACK : TERN_MQTT_EV_UNSUBACK;
        ev.packet_id = p.suback.packet_id;
        ev.reasons = p.suback.reasons;
        break;
    case TERN_MQTT_DISCONNECT:
        pr = &p.disconnect.props;
        return end(m, TERN_MQTT_EV_DISCONNECTED,
                   TERN_MQTT_V5 && p.disconnect.reason
                       ? tern_mqtt_reason_to_err(p.disconnect.reason)
                       : TERN_ERR_CLOSED,
                   p.disconnect.reason, pr);
    default: /* PINGRESP */
        m->ping_out = 0;
        break;
    }
    if (ev.type) {
        ev.props = pr;
        emit(m, &ev);
    }
    m->rx_len -= len;
    memmove(m->c.rx, m->c.rx + len, m->rx_len);
    return TERN_OK;
}

/*
 * A PUBLISH of @p plen bytes, too big for rx, is arriving. Once its head (up to the payload) is
 * all in rx, decode the head alone by giving it a fixed header of its own length just in front
 * of the variable header (that length is shorter, so it fits where the old one was), and start
 * streaming. TERN_ERR_AGAIN while the head is incomplete.
 */
static tern_err_t rx_head(tern_mqtt_t *m, size_t plen)
{
    tern_mqtt_packet_t p;
    uint8_t *b = m->c.rx;
    size_t n = m->rx_len, v = 1, i, k;
    uint32_t x = 0;
    while (b[v++] & 0x80u) {
    }
    i = v + 2;
    if (i > n) {
        return TERN_ERR_AGAIN;
    }
    i += ((size_t)b[v] << 8 | b[v + 1]) + ((b[0] & 0x06u) ? 2u : 0u);
    if (V5(m)) {
        k = i < n ? varint(b + i, n - i, &x) : 0;
        if (!k) {
            return TERN_ERR_AGAIN;
        }
        i += k + x;
    }
    if (i >= m->c.rx_size) {
        return TERN_ERR_MQTT_PACKET_TOO_LARGE; /* not even the head fits */
    }
    if (i > n) {
        return TERN_ERR_AGAIN;
    }
    x = (uint32_t)(i - v);
    k = 1u + (x > 127u) + (x > 16383u) + (x > 2097151u);
    size_t at = v - k - 1;
    b[at] = b[0];
    for (size_t j = 0; j < k; j++, x >>= 7) {
        b[at + 1 + j] = (uint8_t)((x & 0x7Fu) | (x > 0x7Fu ? 0x80u : 0u));
    }
    tern_err_t e = tern_mqtt_decode((tern_mqtt_version_t)m->ver, b + at, i - at, &p);
    if (e == TERN_OK) {
        e = rx_publish(m, &p.publish, plen - i);
        m->rx_hdr = i;
        m->rx_left = plen - n;
    }
    return e;
}

/* One step of reading: a packet handled, a chunk delivered or one recv. 1 if it moved, 0 if
 * there is nothing to do now, negative if the connection ended. */
static int rx_step(tern_mqtt_t *m, tern_ms_t now)
{
    size_t plen = 0, got = 0, cap = m->c.rx_size;
    tern_err_t e;
    if (m->ack_type || (m->state != ST_CONNECTED && m->state != ST_CONNECTING)) {
        return 0;
    }
    if (m->rx_mode != RX_FRAME) {
        if (m->rx_len == cap || !m->rx_left) {
            rx_chunk(m, m->c.rx + m->rx_hdr, m->rx_len - m->rx_hdr);
            m->rx_len = m->rx_mode != RX_FRAME ? m->rx_hdr : 0;
            return 1;
        }
        cap = m->rx_len + m->rx_left < cap ? m->rx_len + m->rx_left : cap;
    } else {
        e = tern_mqtt_frame(m->c.rx, m->rx_len, &plen);
        if (e == TERN_OK) {
            e = rx_packet(m, plen, now);
            return e != TERN_OK ? (int)e : 1;
        }
        if (e == TERN_ERR_AGAIN && plen > cap) { /* bigger than rx: only a PUBLISH may stream */
            e = (m->c.rx[0] >> 4) == TERN_MQTT_PUBLISH ? rx_head(m, plen)
                                                       : TERN_ERR_MQTT_PACKET_TOO_LARGE;
            if (e == TERN_OK) {
                return 1;
            }
            if (e == TERN_ERR_AGAIN && m->rx_len == cap) {
                e = TERN_ERR_MQTT_PACKET_TOO_LARGE; /* not even its head fits */
            }
        }
        if (e != TERN_ERR_AGAIN) {
            return (int)fail(m, e, now);
        }
    }
    e = m->t.ops->recv(m->t.ctx, m->c.rx + m->rx_len, cap - m->rx_len, &got);
    if (e != TERN_OK) {
        return (int)end(m, TERN_MQTT_EV_LINK_DEAD, e, 0, NULL);
    }
    m->rx_len += got;
    if (m->rx_mode != RX_FRAME) {
        m->rx_left -= got;
    }
    return got != 0;
}

tern_err_t tern_mqtt_poll(tern_mqtt_t *m, tern_ms_t now)
{
    int budget = 64, moved;
    bool timed = false;
    if (m->state == ST_IDLE) {
        return TERN_OK;
    }
    for (;;) {
        pump(m);
        tern_err_t e = flush(m, now);
        if (e != TERN_OK) {
            return end(m, TERN_MQTT_EV_LINK_DEAD, e, 0, NULL);
        }
        if (m->state == ST_CLOSING && m->tx_off == m->tx_len) {
            return end(m, TERN_MQTT_EV_DISCONNECTED, TERN_OK, m->close_reason, NULL);
        }
        moved = budget-- > 0 ? rx_step(m, now) : 0;
        if (moved < 0) {
            return (tern_err_t)moved;
        }
        if (moved) {
            continue;
        }
        if (timed) {
            return TERN_OK;
        }
        /* Timers, once I/O is done; then one more round to send a PINGREQ. */
        timed = true;
        uint32_t ka = m->lim.keep_alive * 1000u;
        if (m->ping_out) {
        } else if (m->state == ST_CLOSING) {
            m->ping_out = 1; /* the DISCONNECT must get out by the deadline */
            m->deadline = tern_deadline_in(now, m->c.timeout_ms);
        } else if (m->state == ST_CONNECTED && ka && tern_time_elapsed(now, m->last_tx) >= ka) {
            m->ping_out = 2; /* owed; 1 once queued */
            m->deadline = tern_deadline_in(now, m->c.timeout_ms);
        }
        if ((m->state != ST_CONNECTED || m->ping_out) && tern_deadline_passed(now, m->deadline)) {
            return end(m,
                       m->state == ST_CLOSING ? TERN_MQTT_EV_DISCONNECTED : TERN_MQTT_EV_LINK_DEAD,
                       TERN_ERR_TIMEOUT, 0, NULL);
        }
        if (m->ping_out == 2 && put_small(m, TERN_MQTT_PINGREQ, 0, 0) == TERN_OK) {
            m->ping_out = 1;
        }
    }
}

tern_ms_t tern_mqtt_next_deadline(const tern_mqtt_t *m, tern_ms_t now)
{
    if (m->state == ST_IDLE) {
        return tern_deadline_in(now, TERN_TIME_MAX_INTERVAL_MS);
    }
    if (m->state != ST_CONNECTED || m->ping_out) {
        return m->deadline;
    }
    if (m->lim.keep_alive) {
        return tern_deadline_in(m->last_tx, m->lim.keep_alive * 1000u);
    }
    return tern_deadline_in(now, TERN_TIME_MAX_INTERVAL_MS);
}

bool tern_mqtt_want_write(const tern_mqtt_t *m)
{
    return m->state != ST_IDLE && m->tx_off < m->tx_len;
}

bool tern_mqtt_connected(const tern_mqtt_t *m)
{
    return m->state == ST_CONNECTED;
}

size_t tern_mqtt_pending(const tern_mqtt_t *m)
{
    size_t n[3];
    (void)census(m, n, 0);
    return m->c.inflight_count - n[0] - n[1];
}
