/* SPDX-License-Identifier: Apache-2.0 */
/* Store-and-forward MQTT over several links: outbox + link manager + session (tern/uplink.h). */
#include "tern/uplink.h"

#include <string.h>

/* Where a record is read in the scratch: room before it for the 3.1.1 sequence prefix. */
#define REC_AT   6u
#define F_RETAIN 0x01u

static void emit(tern_uplink_t *u, tern_uplink_event_t *ev)
{
    if (u->c.on_event) {
        u->c.on_event(u->c.user, ev);
    }
}

/* Every link event goes to the application; a new active link means a new stream. */
static void on_link(void *arg, const tern_link_event_t *lev)
{
    tern_uplink_t *u = arg;
    if (lev->type != TERN_LINK_EVENT_DOWN) {
        u->link_changed = true;
    }
    tern_uplink_event_t ev = { 0 };
    ev.type = TERN_UPLINK_EV_LINK;
    ev.link = lev->link;
    ev.link_ev = lev;
    ev.err = lev->err;
    emit(u, &ev);
}

static bool in_flight(const tern_uplink_t *u, uint32_t seq)
{
    const tern_mqtt_config_t *mc = &u->c.mqtt;
    for (size_t i = 0; i < mc->inflight_count; i++) {
        uint8_t st = mc->inflight[i].stage;
        if (st >= TERN_MQTT_STAGE_PUBACK && st <= TERN_MQTT_STAGE_PUBCOMP &&
            mc->inflight[i].token == seq) {
            return true;
        }
    }
    return false;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static size_t utoa_dec(char *out, uint32_t v)
{
    char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    for (size_t i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    out[n] = '\0';
    return n;
}

/* The message of record @p seq (@p len bytes, read at scratch + REC_AT), with its sequence
 * number where the receiver finds it. TERN_ERR_CORRUPT if it is not an uplink record. */
static tern_err_t build(tern_uplink_t *u, uint32_t seq, size_t len, tern_mqtt_publish_t *msg)
{
    uint8_t *s = u->c.scratch + REC_AT;
    if (len < TERN_UPLINK_RECORD_OVERHEAD || s[1] == 0 ||
        (size_t)s[1] > len - TERN_UPLINK_RECORD_OVERHEAD) {
        return TERN_ERR_CORRUPT;
    }
    size_t tlen = s[1], plen = len - TERN_UPLINK_RECORD_OVERHEAD - tlen;
    memset(msg, 0, sizeof *msg);
    msg->qos = u->c.qos;
    msg->retain = (s[0] & F_RETAIN) != 0;
    if (TERN_MQTT_V5 && u->c.version == TERN_MQTT_PROTO_V5) {
        msg->topic.ptr = s + 2;
        msg->topic.len = tlen;
        msg->payload.ptr = s + 2 + tlen;
        msg->payload.len = plen;
        size_t n = utoa_dec(u->seq_text, seq);
        u->seq_prop.id = TERN_MQTT_PROP_USER_PROPERTY;
        u->seq_prop.str.ptr = (const uint8_t *)TERN_UPLINK_SEQ_PROPERTY;
        u->seq_prop.str.len = sizeof TERN_UPLINK_SEQ_PROPERTY - 1;
        u->seq_prop.str2.ptr = (const uint8_t *)u->seq_text;
        u->seq_prop.str2.len = n;
        msg->props.list = &u->seq_prop;
        msg->props.list_count = 1;
    } else {
        /* topic to the front, the 4-byte sequence right before the payload */
        uint8_t *base = u->c.scratch;
        memmove(base, s + 2, tlen);
        put_be32(base + tlen + 4, seq);
        msg->topic.ptr = base;
        msg->topic.len = tlen;
        msg->payload.ptr = base + tlen + 4;
        msg->payload.len = plen + 4;
    }
    return TERN_OK;
}

static size_t scratch_cap(const tern_uplink_t *u)
{
    return u->c.scratch_size - REC_AT;
}

/* The session wants record rec->token again (a resend). */
static tern_err_t reproduce(void *user, const tern_mqtt_inflight_t *rec, tern_mqtt_publish_t *msg)
{
    tern_uplink_t *u = user;
    tern_outbox_rec_t r;
    tern_err_t e =
        tern_outbox_read(u->c.outbox, rec->token, &r, u->c.scratch + REC_AT, scratch_cap(u));
    return e != TERN_OK ? e : build(u, rec->token, r.len, msg);
}

/* A failure that will not go away by sending the record again. */
static bool permanent(const tern_mqtt_event_t *ev)
{
    switch (ev->reason) {
    case 0x87: /* not authorized */
    case 0x90: /* topic name invalid */
    case 0x95: /* packet too large */
    case 0x99: /* payload format invalid */
        return true;
    default:
        break;
    }
    return ev->reason < 0x80 && (ev->err == TERN_ERR_TOO_SMALL || ev->err == TERN_ERR_RANGE ||
                                 ev->err == TERN_ERR_UNSUPPORTED || ev->err == TERN_ERR_CORRUPT);
}

/* Remove record @p seq and say why. */
static void finish(tern_uplink_t *u, uint32_t seq, tern_err_t why)
{
    tern_err_t e = tern_outbox_ack(u->c.outbox, seq);
    if (e == TERN_ERR_NOT_FOUND) {
        return; /* evicted meanwhile (reported by the outbox) */
    }
    if (e != TERN_OK) {
        u->fatal = e;
        return;
    }
    tern_uplink_event_t ev = { 0 };
    ev.type = why == TERN_OK ? TERN_UPLINK_EV_DELIVERED : TERN_UPLINK_EV_REJECTED;
    ev.seq = seq;
    ev.err = why;
    emit(u, &ev);
}

static void on_mqtt(void *user, const tern_mqtt_event_t *mev)
{
    tern_uplink_t *u = user;
    tern_uplink_event_t ev = { 0 };
    switch (mev->type) {
    case TERN_MQTT_EV_CONNECTED:
        u->online = true;
        u->online_since = u->now;
        u->cursor_set = false; /* start from the head of the queue, skipping what is in flight */
        ev.type = TERN_UPLINK_EV_ONLINE;
        ev.link = u->on;
        ev.session_present = mev->limits->session_present;
        emit(u, &ev);
        return;
    case TERN_MQTT_EV_DISCONNECTED:
    case TERN_MQTT_EV_LINK_DEAD:
        ev.type = TERN_UPLINK_EV_OFFLINE;
        ev.link = u->on;
        ev.err = mev->err; /* TERN_OK: our own DISCONNECT went out */
        u->online = false;
        if (!u->aborting && ev.err != TERN_OK && u->on != NULL &&
            tern_link_active(u->c.links) == u->on) {
            /* the link is up but the session over it failed: the link pays with a backoff */
            (void)tern_link_report_failure(u->c.links, ev.err);
        }
        u->on = NULL;
        emit(u, &ev);
        return;
    case TERN_MQTT_EV_PUBLISHED:
        u->dirty = true;
        if (mev->err == TERN_OK) {
            finish(u, mev->token, TERN_OK);
        } else if (permanent(mev)) {
            finish(u, mev->token, mev->err);
        } else {
            u->cursor_set = false; /* kept: it goes again from the head of the queue */
        }
        return;
    default:
        ev.type = TERN_UPLINK_EV_MQTT;
        ev.mqtt = mev;
        ev.err = mev->err;
        emit(u, &ev);
        return;
    }
}

tern_err_t tern_uplink_init(tern_uplink_t *u, const tern_uplink_config_t *cfg)
{
    if (u == NULL || cfg == NULL || cfg->links == NULL || cfg->outbox == NULL ||
        cfg->scratch == NULL || (cfg->qos != 1 && cfg->qos != 2) ||
        cfg->scratch_size < TERN_UPLINK_SCRATCH(cfg->outbox->cfg.max_payload) ||
        cfg->mqtt.inflight_count * sizeof(tern_mqtt_inflight_t) > cfg->outbox->cfg.max_payload) {
        return TERN_ERR_INVAL;
    }
    memset(u, 0, sizeof *u);
    u->c = *cfg;
    u->c.connect.clean_start = false;
    u->c.mqtt.on_event = on_mqtt;
    u->c.mqtt.reproduce = reproduce;
    u->c.mqtt.copy = NULL;
    u->c.mqtt.copy_size = 0;
    u->c.mqtt.user = u;
    tern_err_t e = tern_mqtt_init(&u->mqtt, &u->c.mqtt);
    if (e != TERN_OK) {
        return e;
    }
    size_t n = 0;
    e = tern_outbox_load_inflight(cfg->outbox, u->c.mqtt.inflight, u->c.mqtt.inflight_count, &n);
    if (e == TERN_OK && n > 0) {
        e = tern_mqtt_restore(&u->mqtt);
    }
    if (e == TERN_ERR_TOO_SMALL || e == TERN_ERR_CORRUPT) {
        /* not this table: start empty, the records are still queued */
        memset(u->c.mqtt.inflight, 0, u->c.mqtt.inflight_count * sizeof u->c.mqtt.inflight[0]);
        e = tern_mqtt_restore(&u->mqtt);
    }
    if (e != TERN_OK) {
        return e;
    }
    cfg->links->cfg.on_event = on_link;
    cfg->links->cfg.event_arg = u;
    return TERN_OK;
}

tern_err_t tern_uplink_send(tern_uplink_t *u, tern_outbox_prio_t prio, const char *topic,
                            const void *payload, size_t len, bool retain, uint32_t *seq)
{
    if (u == NULL || topic == NULL || (payload == NULL && len > 0)) {
        return TERN_ERR_INVAL;
    }
    size_t tlen = strlen(topic);
    if (tlen == 0) {
        return TERN_ERR_INVAL;
    }
    size_t total = TERN_UPLINK_RECORD_OVERHEAD + tlen + len;
    if (tlen > 255 || total > scratch_cap(u)) {
        return TERN_ERR_RANGE;
    }
    /* assembled in the scratch: not in use between polls */
    uint8_t *s = u->c.scratch + REC_AT;
    s[0] = retain ? F_RETAIN : 0;
    s[1] = (uint8_t)tlen;
    memcpy(s + 2, topic, tlen);
    if (len) {
        memcpy(s + 2 + tlen, payload, len);
    }
    uint32_t got = 0;
    tern_err_t e = tern_outbox_enqueue(u->c.outbox, prio, s, total, &got);
    if (e == TERN_OK) {
        if (u->cursor_set && (uint8_t)prio < u->cursor.prio) {
            u->cursor_set = false; /* it goes before what was already handed over */
        }
        if (seq != NULL) {
            *seq = got;
        }
    }
    return e;
}

bool tern_uplink_bulk_allowed(const tern_uplink_t *u, tern_ms_t now)
{
    const tern_link_t *l = tern_link_active(u->c.links);
    return u->online && l != NULL && l == u->on && l->cost <= u->c.bulk_max_cost &&
           tern_time_elapsed(now, u->online_since) >= u->c.bulk_stable_ms;
}

/* Hand the session the records that are not in flight yet, in drain order, as far as
 * its table (and the window) allows. Returns how many went. */
static unsigned drain(tern_uplink_t *u, tern_ms_t now)
{
    unsigned went = 0;
    bool bulk_ok = tern_uplink_bulk_allowed(u, now);
    while (u->online && u->fatal == TERN_OK) {
        if (u->c.window && tern_mqtt_pending(&u->mqtt) >= u->c.window) {
            break;
        }
        tern_outbox_rec_t rec;
        tern_err_t e;
        if (u->cursor_set) {
            e = tern_outbox_next(u->c.outbox, &u->cursor, &rec, u->c.scratch + REC_AT,
                                 scratch_cap(u));
        } else {
            e = tern_outbox_peek(u->c.outbox, &rec, u->c.scratch + REC_AT, scratch_cap(u));
        }
        if (e == TERN_ERR_EMPTY) {
            break;
        }
        if (e != TERN_OK && e != TERN_ERR_TOO_SMALL && e != TERN_ERR_CORRUPT) {
            u->fatal = e;
            break;
        }
        if (rec.prio == TERN_OUTBOX_BULK && !bulk_ok) {
            break; /* bulk waits for a cheap, stable link (and nothing after it is not bulk) */
        }
        if (e == TERN_OK && in_flight(u, rec.seq)) {
            u->cursor = rec;
            u->cursor_set = true;
            continue;
        }
        tern_mqtt_publish_t msg;
        if (e == TERN_OK) {
            e = build(u, rec.seq, rec.len, &msg);
        }
        if (e == TERN_OK) {
            e = tern_mqtt_publish(&u->mqtt, &msg, rec.seq, NULL);
        }
        if (e == TERN_ERR_BUSY || e == TERN_ERR_AGAIN || e == TERN_ERR_STATE) {
            break; /* the table is full (or the session went): next poll */
        }
        u->cursor = rec;
        u->cursor_set = true;
        if (e == TERN_OK) {
            u->dirty = true;
            went++;
        } else {
            finish(u, rec.seq, e); /* it can never be sent: do not let it block the queue */
        }
    }
    return went;
}

tern_err_t tern_uplink_poll(tern_uplink_t *u, tern_ms_t now)
{
    if (u == NULL) {
        return TERN_ERR_INVAL;
    }
    u->now = now;
    (void)tern_link_poll(u->c.links, now);
    const tern_link_t *act = tern_link_active(u->c.links);
    if (u->on != NULL && (act != u->on || u->link_changed)) {
        /* the stream under the session is gone: move the session, no I/O on the old one */
        u->aborting = true;
        (void)tern_mqtt_abort(&u->mqtt, TERN_ERR_LINK_CHANGED);
        u->aborting = false;
        u->on = NULL;
    }
    u->link_changed = false;
    if (act != NULL && u->on == NULL) {
        tern_transport_t t;
        tern_err_t e = tern_link_transport(u->c.links, &t);
        if (e == TERN_OK) {
            e = tern_mqtt_connect(&u->mqtt, &t, u->c.version, &u->c.connect, now);
        }
        if (e == TERN_OK) {
            u->on = act;
        } else {
            (void)tern_link_report_failure(u->c.links, e < 0 ? e : TERN_ERR_STATE);
        }
    }
    if (u->on != NULL) {
        (void)tern_mqtt_poll(&u->mqtt, now);
    }
    /* Out now, not at the next wake-up; acks that came meanwhile make room for more. A
     * burst is bounded; `more` makes the next timeout 0 when it stopped the loop. */
    u->more = false;
    for (unsigned round = 0; u->on != NULL && drain(u, now) > 0; round++) {
        (void)tern_mqtt_poll(&u->mqtt, now);
        if (round == 16) {
            u->more = true;
            break;
        }
    }
    if (u->dirty && u->fatal == TERN_OK) {
        tern_err_t e =
            tern_outbox_save_inflight(u->c.outbox, u->c.mqtt.inflight, u->c.mqtt.inflight_count);
        if (e != TERN_OK) {
            u->fatal = e;
        }
        u->dirty = false;
    }
    return u->fatal;
}

uint32_t tern_uplink_next_timeout(const tern_uplink_t *u, tern_ms_t now)
{
    uint32_t t = tern_link_next_timeout(u->c.links, now);
    if (u->more) {
        return 0;
    }
    if (u->on != NULL) {
        uint32_t m = tern_deadline_remaining(now, tern_mqtt_next_deadline(&u->mqtt, now));
        t = m < t ? m : t;
    }
    if (u->online && tern_outbox_count(u->c.outbox, TERN_OUTBOX_BULK) > 0 &&
        !tern_uplink_bulk_allowed(u, now)) {
        uint32_t up = tern_time_elapsed(now, u->online_since);
        if (up < u->c.bulk_stable_ms && u->c.bulk_stable_ms - up < t) {
            t = u->c.bulk_stable_ms - up;
        }
    }
    return t;
}

tern_mqtt_t *tern_uplink_mqtt(tern_uplink_t *u)
{
    return &u->mqtt;
}

bool tern_uplink_online(const tern_uplink_t *u)
{
    return u->online;
}

uint32_t tern_uplink_backlog(const tern_uplink_t *u)
{
    const tern_outbox_t *ob = u->c.outbox;
    return tern_outbox_count(ob, TERN_OUTBOX_CRITICAL) + tern_outbox_count(ob, TERN_OUTBOX_NORMAL) +
           tern_outbox_count(ob, TERN_OUTBOX_BULK);
}
