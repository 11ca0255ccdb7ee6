/* SPDX-License-Identifier: Apache-2.0 */
/* The MQTT session against a scripted in-memory peer: the test plays the
 * server, encoding what it sends and decoding what the session sent with the
 * codec, over a transport that moves as few bytes per call as it is told
 * (down to one). Time is virtual. Runs on the host and on the Cortex-M4. */
#include <string.h>

#include "tern/mqtt.h"
#include "tern_mqtt_msg.h"
#include "tern_test.h"

/* ------------------------------------------------------ the scripted peer -- */

typedef struct peer {
    uint8_t in[4096]; /* server -> session */
    size_t in_len, in_off;
    uint8_t out[4096]; /* session -> server */
    size_t out_len, out_off;
    size_t max_io;       /* bytes per call at most; 0: no limit */
    bool blocked;        /* send takes nothing */
    tern_err_t recv_err; /* returned once the input is drained */
} peer_t;

static size_t io_len(const peer_t *p, size_t want)
{
    return p->max_io && want > p->max_io ? p->max_io : want;
}

static tern_err_t peer_send(void *ctx, const uint8_t *buf, size_t len, size_t *sent)
{
    peer_t *p = ctx;
    size_t n = p->blocked ? 0 : io_len(p, len);
    if (n > sizeof p->out - p->out_len) {
        n = sizeof p->out - p->out_len;
    }
    memcpy(p->out + p->out_len, buf, n);
    p->out_len += n;
    *sent = n;
    return TERN_OK;
}

static tern_err_t peer_recv(void *ctx, uint8_t *buf, size_t cap, size_t *got)
{
    peer_t *p = ctx;
    size_t n = io_len(p, p->in_len - p->in_off);
    if (n > cap) {
        n = cap;
    }
    memcpy(buf, p->in + p->in_off, n);
    p->in_off += n;
    *got = n;
    return n == 0 && p->recv_err != TERN_OK ? p->recv_err : TERN_OK;
}

static const tern_transport_ops_t k_peer_ops = { "peer", peer_send, peer_recv };

/* ---------------------------------------------------------- the fixture -- */

typedef struct seen {
    int type;
    int err;
    uint8_t reason, qos;
    bool dup, retain, session_present;
    uint16_t packet_id;
    uint32_t token;
    size_t offset, total, len;
    char topic[40];
    uint8_t payload[64];
    char ref[32];
    uint8_t reasons[4];
    size_t nreasons;
    bool has_response_topic;
    uint32_t expiry;
} seen_t;

typedef struct fx {
    tern_mqtt_t m;
    tern_mqtt_config_t cfg;
    peer_t peer;
    tern_transport_t tr;
    tern_mqtt_version_t ver;
    uint8_t tx[512], rx[256];
    tern_mqtt_inflight_t inflight[8];
    uint8_t copy[8 * 96];
    tern_mqtt_sub_entry_t subs[4];
    uint8_t alias_out[3 * 34], alias_in[2 * 34];
    seen_t ev[48];
    size_t nev;
    tern_mqtt_limits_t lim;
    uint8_t big[1024]; /* a streamed payload, reassembled */
    size_t big_chunks;
    /* the application's own store, for the reproduce callback */
    struct {
        const char *topic, *payload;
    } app[8];
    int reproduced;
    uint8_t pkt_buf[512]; /* what the test encodes */
} fx_t;

static fx_t F;

static void on_event(void *user, const tern_mqtt_event_t *e)
{
    fx_t *f = user;
    assert_true(f->nev < sizeof f->ev / sizeof f->ev[0]);
    seen_t *s = &f->ev[f->nev++];
    memset(s, 0, sizeof *s);
    s->type = e->type;
    s->err = e->err;
    s->reason = e->reason;
    s->packet_id = e->packet_id;
    s->token = e->token;
    s->offset = e->offset;
    s->total = e->total;
    if (e->limits) {
        f->lim = *e->limits;
        s->session_present = e->limits->session_present;
    }
    if (e->msg) {
        const tern_mqtt_publish_t *m = e->msg;
        assert_true(m->topic.len < sizeof s->topic);
        memcpy(s->topic, m->topic.ptr, m->topic.len);
        s->qos = m->qos;
        s->packet_id = m->packet_id;
        s->dup = m->dup;
        s->retain = m->retain;
        s->len = m->payload.len;
        memcpy(s->payload, m->payload.ptr,
               m->payload.len < sizeof s->payload ? m->payload.len : sizeof s->payload);
        assert_true(e->offset + m->payload.len <= sizeof f->big);
        if (m->payload.len && e->total > sizeof s->payload) { /* a streamed one */
            memcpy(f->big + e->offset, m->payload.ptr, m->payload.len);
        }
        f->big_chunks++;
        s->has_response_topic = (m->props.present & TERN_MQTT_HAS_RESPONSE_TOPIC) != 0;
        s->expiry = m->props.message_expiry;
    }
    if (e->server_reference.len) {
        assert_true(e->server_reference.len < sizeof s->ref);
        memcpy(s->ref, e->server_reference.ptr, e->server_reference.len);
    }
    s->nreasons = e->reasons.len < 4 ? e->reasons.len : 4;
    if (s->nreasons) {
        memcpy(s->reasons, e->reasons.ptr, s->nreasons);
    }
}

static tern_err_t app_reproduce(void *user, const tern_mqtt_inflight_t *rec,
                                tern_mqtt_publish_t *msg)
{
    fx_t *f = user;
    assert_true(rec->token < 8);
    if (!f->app[rec->token].topic) {
        return TERN_ERR_NOT_FOUND;
    }
    msg->topic.ptr = (const uint8_t *)f->app[rec->token].topic;
    msg->topic.len = strlen(f->app[rec->token].topic);
    msg->payload.ptr = (const uint8_t *)f->app[rec->token].payload;
    msg->payload.len = strlen(f->app[rec->token].payload);
    f->reproduced++;
    return TERN_OK;
}

/* The richest protocol this build speaks: tests that hold for both run with it. */
#define ANY_VER (TERN_MQTT_V5 ? TERN_MQTT_PROTO_V5 : TERN_MQTT_PROTO_V311)

enum { USE_COPY = 1, USE_REPRODUCE = 2, USE_SUBS = 4, USE_ALIAS = 8, SMALL_RX = 16 };

static void fx_setup(fx_t *f, tern_mqtt_version_t ver, unsigned opts)
{
    memset(f, 0, sizeof *f);
    f->ver = ver;
    tern_mqtt_config_t *c = &f->cfg;
    c->tx = f->tx;
    c->tx_size = sizeof f->tx;
    c->rx = f->rx;
    c->rx_size = opts & SMALL_RX ? 64 : sizeof f->rx;
    c->inflight = f->inflight;
    c->inflight_count = 8;
    c->receive_max = 3;
    if (opts & USE_COPY) {
        c->copy = f->copy;
        c->copy_size = sizeof f->copy;
    }
    if (opts & USE_REPRODUCE) {
        c->reproduce = app_reproduce;
    }
    if (opts & USE_SUBS) {
        c->subs = f->subs;
        c->sub_count = 4;
    }
    if (opts & USE_ALIAS) {
        c->alias_out = (tern_mqtt_alias_mem_t){ f->alias_out, sizeof f->alias_out, 3 };
        c->alias_in = (tern_mqtt_alias_mem_t){ f->alias_in, sizeof f->alias_in, 2 };
    }
    c->timeout_ms = 2000;
    c->on_event = on_event;
    c->user = f;
    assert_int_equal(tern_mqtt_init(&f->m, c), TERN_OK);
    f->tr.ops = &k_peer_ops;
    f->tr.ctx = &f->peer;
}

/* Poll until nothing moves any more. */
static void run(fx_t *f, tern_ms_t now)
{
    for (int i = 0; i < 20000; i++) {
        size_t in = f->peer.in_off, out = f->peer.out_len, nev = f->nev;
        (void)tern_mqtt_poll(&f->m, now);
        if (in == f->peer.in_off && out == f->peer.out_len && nev == f->nev) {
            return;
        }
    }
    fail_msg("session never settles");
}

/* The server sends @p p. */
static void feed(fx_t *f, const tern_mqtt_packet_t *p)
{
    size_t n;
    assert_int_equal(tern_mqtt_encode(f->ver, p, f->peer.in + f->peer.in_len,
                                      sizeof f->peer.in - f->peer.in_len, &n),
                     TERN_OK);
    f->peer.in_len += n;
}

/* The next packet the session sent, decoded (views into the peer's buffer). */
static uint8_t take(fx_t *f, tern_mqtt_packet_t *p)
{
    size_t n;
    const uint8_t *b = f->peer.out + f->peer.out_off;
    size_t left = f->peer.out_len - f->peer.out_off;
    if (left == 0) {
        fail_msg("the session sent nothing more");
    }
    assert_int_equal(tern_mqtt_frame(b, left, &n), TERN_OK);
    assert_int_equal(tern_mqtt_decode(f->ver, b, n, p), TERN_OK);
    f->peer.out_off += n;
    return p->type;
}

static void nothing_sent(fx_t *f)
{
    assert_int_equal(f->peer.out_off, f->peer.out_len);
}

static void feed_ack(fx_t *f, uint8_t type, uint16_t id, uint8_t reason)
{
    tern_mqtt_packet_t p;
    memset(&p, 0, sizeof p);
    p.type = type;
    p.ack.packet_id = id;
    p.ack.reason = reason;
    feed(f, &p);
}

static void feed_publish(fx_t *f, const char *topic, const char *payload, uint8_t qos, uint16_t id,
                         bool dup)
{
    tern_mqtt_packet_t p;
    memset(&p, 0, sizeof p);
    p.type = TERN_MQTT_PUBLISH;
    p.publish.topic.ptr = (const uint8_t *)topic;
    p.publish.topic.len = strlen(topic);
    p.publish.payload.ptr = (const uint8_t *)payload;
    p.publish.payload.len = strlen(payload);
    p.publish.qos = qos;
    p.publish.packet_id = id;
    p.publish.dup = dup;
    feed(f, &p);
}

static void expect_ack(fx_t *f, uint8_t type, uint16_t id)
{
    tern_mqtt_packet_t p;
    assert_int_equal(take(f, &p), type);
    assert_int_equal(p.ack.packet_id, id);
}

static void expect_publish(fx_t *f, const char *topic, uint8_t qos, bool dup,
                           tern_mqtt_publish_t *out)
{
    tern_mqtt_packet_t p;
    assert_int_equal(take(f, &p), TERN_MQTT_PUBLISH);
    assert_int_equal(p.publish.qos, qos);
    assert_int_equal(p.publish.dup, dup);
    if (topic) {
        assert_int_equal(p.publish.topic.len, strlen(topic));
        assert_memory_equal(p.publish.topic.ptr, topic, strlen(topic));
    }
    if (out) {
        *out = p.publish;
    }
}

static const seen_t *last(fx_t *f, int type)
{
    for (size_t i = f->nev; i-- > 0;) {
        if (f->ev[i].type == type) {
            return &f->ev[i];
        }
    }
    fail_msg("no event of type %d", type);
    return NULL;
}

static size_t count(fx_t *f, int type)
{
    size_t n = 0;
    for (size_t i = 0; i < f->nev; i++) {
        n += f->ev[i].type == type;
    }
    return n;
}

/* CONNECT, then the server's CONNACK (@p props may be NULL). */
static void connect_with(fx_t *f, bool clean, uint16_t keep_alive, bool session_present,
                         const tern_mqtt_props_t *props, tern_ms_t now)
{
    tern_mqtt_connect_t c;
    tern_mqtt_packet_t p;
    memset(&c, 0, sizeof c);
    c.client_id = TERN_MQTT_STR("dev-1");
    c.clean_start = clean;
    c.keep_alive = keep_alive;
    f->peer.in_len = f->peer.in_off = f->peer.out_len = f->peer.out_off = 0;
    f->peer.recv_err = TERN_OK;
    assert_int_equal(tern_mqtt_connect(&f->m, &f->tr, f->ver, &c, now), TERN_OK);
    run(f, now);
    assert_int_equal(take(f, &p), TERN_MQTT_CONNECT);
    assert_int_equal(p.connect.clean_start, clean);
    memset(&p, 0, sizeof p);
    p.type = TERN_MQTT_CONNACK;
    p.connack.session_present = session_present;
    if (props) {
        p.connack.props = *props;
    }
    feed(f, &p);
    run(f, now);
    assert_true(tern_mqtt_connected(&f->m));
    assert_int_equal(last(f, TERN_MQTT_EV_CONNECTED)->session_present, session_present);
}

static tern_mqtt_publish_t msg(const char *topic, const char *payload, uint8_t qos)
{
    return tern_test_msg(topic, payload, qos);
}

/* ---------------------------------------------------------------- tests -- */

static void test_init_checks_arguments(void **state)
{
    (void)state;
    tern_mqtt_config_t c;
    fx_setup(&F, TERN_MQTT_PROTO_V311, 0);
    c = F.cfg;
    c.on_event = NULL;
    assert_int_equal(tern_mqtt_init(&F.m, &c), TERN_ERR_INVAL);
    c = F.cfg;
    c.inflight_count = 0;
    assert_int_equal(tern_mqtt_init(&F.m, &c), TERN_ERR_INVAL);
    c = F.cfg;
    c.rx_size = 8;
    assert_int_equal(tern_mqtt_init(&F.m, &c), TERN_ERR_INVAL);
    assert_int_equal(tern_mqtt_init(&F.m, &F.cfg), TERN_OK);
    /* nothing works before a connect */
    tern_mqtt_publish_t p = msg("a", "b", 0);
    assert_int_equal(tern_mqtt_publish(&F.m, &p, 0, NULL), TERN_ERR_STATE);
    assert_int_equal(tern_mqtt_poll(&F.m, 0), TERN_OK);
    assert_false(tern_mqtt_connected(&F.m));
}

/* Everything works when the transport moves one byte per call. */
static void test_one_byte_io(void **state)
{
    (void)state;
    tern_mqtt_packet_t p;
    uint16_t id, sid;
    fx_setup(&F, ANY_VER, USE_SUBS);
    F.peer.max_io = 1;
    connect_with(&F, true, 60, false, NULL, 0);
    bool v5 = F.ver == TERN_MQTT_PROTO_V5;
    tern_mqtt_sub_t sub = { TERN_MQTT_STR("cmd/#"),
                            (uint8_t)(1 | (v5 ? TERN_MQTT_SUB_NO_LOCAL : 0)) };
    assert_int_equal(tern_mqtt_subscribe(&F.m, &sub, 1, v5 ? 42 : 0, &sid), TERN_OK);
    run(&F, 1);
    assert_int_equal(take(&F, &p), TERN_MQTT_SUBSCRIBE);
    assert_int_equal(p.subscribe.packet_id, sid);
    assert_int_equal(p.subscribe.props.subscription_id, v5 ? 42 : 0);
    uint8_t granted = 1;
    memset(&p, 0, sizeof p);
    p.type = TERN_MQTT_SUBACK;
    p.suback.packet_id = sid;
    p.suback.reasons.ptr = &granted;
    p.suback.reasons.len = 1;
    feed(&F, &p);
    run(&F, 1);
    const seen_t *s = last(&F, TERN_MQTT_EV_SUBACK);
    assert_int_equal(s->packet_id, sid);
    assert_int_equal(s->nreasons, 1);
    assert_int_equal(s->reasons[0], 1);

    tern_mqtt_publish_t m = msg("tele/1", "hello", 1);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 7, &id), TERN_OK);
    run(&F, 2);
    expect_publish(&F, "tele/1", 1, false, NULL);
    feed_ack(&F, TERN_MQTT_PUBACK, id, 0);
    feed_publish(&F, "cmd/reboot", "now", 1, 9, false);
    run(&F, 3);
    s = last(&F, TERN_MQTT_EV_PUBLISHED);
    assert_int_equal(s->token, 7);
    assert_int_equal(s->err, TERN_OK);
    s = last(&F, TERN_MQTT_EV_MESSAGE);
    assert_string_equal(s->topic, "cmd/reboot");
    assert_memory_equal(s->payload, "now", 3);
    assert_int_equal(s->offset, 0);
    assert_int_equal(s->total, 3);
    expect_ack(&F, TERN_MQTT_PUBACK, 9);
    nothing_sent(&F);
}

/* PINGREQ when idle for the keep-alive; no PINGRESP in time: link dead. */
static void test_keepalive_and_timeout(void **state)
{
    (void)state;
    tern_mqtt_packet_t p;
    fx_setup(&F, TERN_MQTT_PROTO_V311, 0);
    connect_with(&F, true, 10, false, NULL, 1000);
    assert_int_equal(tern_mqtt_next_deadline(&F.m, 1000), 11000);
    run(&F, 10999);
    nothing_sent(&F);
    run(&F, 11000);
    assert_int_equal(take(&F, &p), TERN_MQTT_PINGREQ);
    assert_int_equal(tern_mqtt_next_deadline(&F.m, 11000), 13000);
    memset(&p, 0, sizeof p);
    p.type = TERN_MQTT_PINGRESP;
    feed(&F, &p);
    run(&F, 12000);
    assert_int_equal(tern_mqtt_next_deadline(&F.m, 12000), 21000);
    /* sending anything restarts the keep-alive */
    tern_mqtt_publish_t m = msg("t", "x", 0);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 0, NULL), TERN_OK);
    run(&F, 15000);
    expect_publish(&F, "t", 0, false, NULL);
    assert_int_equal(tern_mqtt_next_deadline(&F.m, 15000), 25000);
    run(&F, 25000);
    assert_int_equal(take(&F, &p), TERN_MQTT_PINGREQ);
    run(&F, 26999);
    assert_true(tern_mqtt_connected(&F.m));
    assert_int_equal(tern_mqtt_poll(&F.m, 27000), TERN_ERR_TIMEOUT);
    const seen_t *s = last(&F, TERN_MQTT_EV_LINK_DEAD);
    assert_int_equal(s->err, TERN_ERR_TIMEOUT);
    assert_false(tern_mqtt_connected(&F.m));
}

/* No CONNACK within the timeout: link dead; a transport failure: link dead with its error. */
static void test_connack_timeout_and_transport_error(void **state)
{
    (void)state;
    tern_mqtt_connect_t c;
    fx_setup(&F, TERN_MQTT_PROTO_V311, 0);
    memset(&c, 0, sizeof c);
    c.client_id = TERN_MQTT_STR("dev-1");
    assert_int_equal(tern_mqtt_connect(&F.m, &F.tr, F.ver, &c, 500), TERN_OK);
    run(&F, 500);
    assert_int_equal(tern_mqtt_next_deadline(&F.m, 500), 2500);
    run(&F, 2499);
    assert_int_equal(count(&F, TERN_MQTT_EV_LINK_DEAD), 0);
    assert_int_equal(tern_mqtt_poll(&F.m, 2500), TERN_ERR_TIMEOUT);
    assert_int_equal(last(&F, TERN_MQTT_EV_LINK_DEAD)->err, TERN_ERR_TIMEOUT);

    connect_with(&F, true, 0, false, NULL, 3000);
    F.peer.recv_err = TERN_ERR_CLOSED;
    assert_int_equal(tern_mqtt_poll(&F.m, 3001), TERN_ERR_CLOSED);
    assert_int_equal(last(&F, TERN_MQTT_EV_LINK_DEAD)->err, TERN_ERR_CLOSED);
}

/* QoS 1 and 2 publishes of ours, both protocol versions, to their end. */
static void qos_out(tern_mqtt_version_t ver)
{
    uint16_t id1, id2;
    fx_setup(&F, ver, 0);
    connect_with(&F, true, 0, false, NULL, 0);
    tern_mqtt_publish_t m1 = msg("a/1", "one", 1), m2 = msg("a/2", "two", 2);
    m2.retain = true;
    assert_int_equal(tern_mqtt_publish(&F.m, &m1, 11, &id1), TERN_OK);
    assert_int_equal(tern_mqtt_publish(&F.m, &m2, 12, &id2), TERN_OK);
    assert_int_not_equal(id1, id2);
    assert_int_equal(tern_mqtt_pending(&F.m), 2);
    run(&F, 0);
    tern_mqtt_publish_t got;
    expect_publish(&F, "a/1", 1, false, &got);
    assert_int_equal(got.packet_id, id1);
    expect_publish(&F, "a/2", 2, false, &got);
    assert_int_equal(got.packet_id, id2);
    assert_true(got.retain);
    feed_ack(&F, TERN_MQTT_PUBREC, id2, 0);
    run(&F, 0);
    expect_ack(&F, TERN_MQTT_PUBREL, id2);
    assert_int_equal(count(&F, TERN_MQTT_EV_PUBLISHED), 0);
    feed_ack(&F, TERN_MQTT_PUBCOMP, id2, 0);
    feed_ack(&F, TERN_MQTT_PUBACK, id1, 0);
    run(&F, 0);
    assert_int_equal(count(&F, TERN_MQTT_EV_PUBLISHED), 2);
    assert_int_equal(F.ev[F.nev - 2].token, 12);
    assert_int_equal(F.ev[F.nev - 1].token, 11);
    assert_int_equal(tern_mqtt_pending(&F.m), 0);
    /* an ack for nothing of ours changes nothing */
    feed_ack(&F, TERN_MQTT_PUBACK, id1, 0);
    run(&F, 0);
    assert_int_equal(count(&F, TERN_MQTT_EV_PUBLISHED), 2);
    nothing_sent(&F);
}

static void test_qos_out_v311(void **state)
{
    (void)state;
    qos_out(TERN_MQTT_PROTO_V311);
}

/* The server's QoS 2: delivered once however often it is sent before PUBREL. */
static void qos2_in(tern_mqtt_version_t ver)
{
    fx_setup(&F, ver, 0);
    connect_with(&F, true, 0, false, NULL, 0);
    feed_publish(&F, "in/q2", "once", 2, 77, false);
    run(&F, 0);
    assert_int_equal(count(&F, TERN_MQTT_EV_MESSAGE), 1);
    assert_int_equal(last(&F, TERN_MQTT_EV_MESSAGE)->qos, 2);
    expect_ack(&F, TERN_MQTT_PUBREC, 77);
    feed_publish(&F, "in/q2", "once", 2, 77, true); /* PUBREC lost: resent with DUP */
    feed_publish(&F, "in/q2", "once", 2, 77, true);
    run(&F, 0);
    assert_int_equal(count(&F, TERN_MQTT_EV_MESSAGE), 1);
    expect_ack(&F, TERN_MQTT_PUBREC, 77);
    expect_ack(&F, TERN_MQTT_PUBREC, 77);
    feed_ack(&F, TERN_MQTT_PUBREL, 77, 0);
    run(&F, 0);
    expect_ack(&F, TERN_MQTT_PUBCOMP, 77);
    /* after PUBREL the id is free: the same id is a new message */
    feed_publish(&F, "in/q2", "again", 2, 77, false);
    run(&F, 0);
    assert_int_equal(count(&F, TERN_MQTT_EV_MESSAGE), 2);
    assert_memory_equal(last(&F, TERN_MQTT_EV_MESSAGE)->payload, "again", 5);
    expect_ack(&F, TERN_MQTT_PUBREC, 77);
    /* QoS 1 and 0 too */
    feed_publish(&F, "in/q1", "a", 1, 78, false);
    feed_publish(&F, "in/q0", "b", 0, 0, false);
    run(&F, 0);
    assert_int_equal(count(&F, TERN_MQTT_EV_MESSAGE), 4);
    expect_ack(&F, TERN_MQTT_PUBACK, 78);
    nothing_sent(&F);
}

static void test_qos2_in_delivered_once_v311(void **state)
{
    (void)state;
    qos2_in(TERN_MQTT_PROTO_V311);
}

/* A full tx buffer: AGAIN for what cannot wait, queued for what can be reproduced, and the
 * acks we owe wait (reading stalls) instead of being lost. */
static void test_tx_full_back_pressure(void **state)
{
    (void)state;
    tern_mqtt_packet_t p;
    uint16_t id;
    char payload[200];
    memset(payload, 'p', sizeof payload - 1);
    payload[sizeof payload - 1] = 0;
    fx_setup(&F, TERN_MQTT_PROTO_V311, 0);
    connect_with(&F, true, 0, false, NULL, 0);
    F.peer.blocked = true;
    tern_mqtt_publish_t m = msg("t/big", payload, 0);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 0, NULL), TERN_OK);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 0, NULL), TERN_OK);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 0, NULL), TERN_ERR_AGAIN); /* 512 bytes of tx */
    char filler[88]; /* leaves 2 bytes of tx: less than an ack */
    memset(filler, 'f', sizeof filler - 1);
    filler[sizeof filler - 1] = 0;
    tern_mqtt_publish_t fm = msg("t", filler, 0);
    assert_int_equal(tern_mqtt_publish(&F.m, &fm, 0, NULL), TERN_OK);
    m.qos = 1;
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 1, NULL), TERN_ERR_AGAIN);
    assert_int_equal(tern_mqtt_pending(&F.m), 0);
    char huge[600];
    memset(huge, 'h', sizeof huge - 1);
    huge[sizeof huge - 1] = 0;
    m = msg("t/huge", huge, 0);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 0, NULL), TERN_ERR_TOO_SMALL); /* never fits */
    /* the server's QoS 1 arrives: delivered, but its PUBACK waits for room */
    feed_publish(&F, "in/1", "a", 1, 40, false);
    feed_publish(&F, "in/2", "b", 1, 41, false);
    run(&F, 0);
    assert_int_equal(count(&F, TERN_MQTT_EV_MESSAGE), 1); /* the second waits for the ack */
    F.peer.blocked = false;
    run(&F, 0);
    assert_int_equal(count(&F, TERN_MQTT_EV_MESSAGE), 2);
    expect_publish(&F, "t/big", 0, false, NULL);
    expect_publish(&F, "t/big", 0, false, NULL);
    expect_publish(&F, "t", 0, false, NULL);
    expect_ack(&F, TERN_MQTT_PUBACK, 40);
    expect_ack(&F, TERN_MQTT_PUBACK, 41);
    nothing_sent(&F);

    /* with the copy store a QoS 1 publish is queued instead, and goes when there is room */
    fx_setup(&F, TERN_MQTT_PROTO_V311, USE_COPY);
    connect_with(&F, true, 0, false, NULL, 0);
    F.peer.blocked = true;
    m = msg("t/big", payload, 0);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 0, NULL), TERN_OK);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 0, NULL), TERN_OK);
    m = msg("t/q1", "queued", 1);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 9, &id), TERN_OK);
    run(&F, 0);
    F.peer.blocked = false;
    run(&F, 0);
    expect_publish(&F, "t/big", 0, false, NULL);
    expect_publish(&F, "t/big", 0, false, NULL);
    expect_publish(&F, "t/q1", 1, false, NULL);
    feed_ack(&F, TERN_MQTT_PUBACK, id, 0);
    run(&F, 0);
    assert_int_equal(last(&F, TERN_MQTT_EV_PUBLISHED)->token, 9);
    /* a copy that does not fit its slot (96 bytes) is refused */
    m = msg("t/q1", payload, 1);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 10, NULL), TERN_ERR_TOO_SMALL);
    assert_int_equal(tern_mqtt_pending(&F.m), 0);

    /* a DISCONNECT that cannot get out ends the session at the deadline */
    F.peer.blocked = true;
    m = msg("t/big", payload, 0);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 0, NULL), TERN_OK);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 0, NULL), TERN_OK);
    assert_int_equal(tern_mqtt_disconnect(&F.m, 0, NULL), TERN_OK);
    run(&F, 100);
    assert_int_equal(tern_mqtt_next_deadline(&F.m, 100), 2100);
    assert_int_equal(tern_mqtt_poll(&F.m, 2100), TERN_ERR_TIMEOUT);
    assert_int_equal(last(&F, TERN_MQTT_EV_DISCONNECTED)->err, TERN_ERR_TIMEOUT);
    (void)p;
}

/* Odd acks: a PUBREC for an id we do not have is released; a resend that cannot be
 * reproduced any more is reported, not retried forever. */
static void test_odd_acks_and_lost_messages(void **state)
{
    (void)state;
    uint16_t id;
    fx_setup(&F, ANY_VER, USE_REPRODUCE);
    connect_with(&F, false, 0, false, NULL, 0);
    feed_ack(&F, TERN_MQTT_PUBREC, 999, 0);
    run(&F, 0);
    tern_mqtt_packet_t p;
    assert_int_equal(take(&F, &p), TERN_MQTT_PUBREL);
    assert_int_equal(p.ack.packet_id, 999);
    assert_int_equal(p.ack.reason, F.ver == TERN_MQTT_PROTO_V5 ? 0x92 : 0);
    feed_ack(&F, TERN_MQTT_PUBREL, 998, 0);
    run(&F, 0);
    assert_int_equal(take(&F, &p), TERN_MQTT_PUBCOMP);
    assert_int_equal(p.ack.reason, F.ver == TERN_MQTT_PROTO_V5 ? 0x92 : 0);
    /* QoS 1 published, link lost, the application forgot the message meanwhile */
    F.app[3].topic = "x/y";
    F.app[3].payload = "z";
    tern_mqtt_publish_t m = msg("x/y", "z", 1);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 3, &id), TERN_OK);
    run(&F, 0);
    expect_publish(&F, "x/y", 1, false, NULL);
    F.peer.recv_err = TERN_ERR_CLOSED;
    run(&F, 0);
    F.app[3].topic = NULL;
    connect_with(&F, false, 0, true, NULL, 10);
    const seen_t *s = last(&F, TERN_MQTT_EV_PUBLISHED);
    assert_int_equal(s->token, 3);
    assert_int_equal(s->err, TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_mqtt_pending(&F.m), 0);
    nothing_sent(&F);
}

/*
 * The in-flight table survives a reset: stored byte for byte, restored into a
 * fresh session, and after a reconnect with Session Present the unacknowledged
 * PUBLISHes (DUP) and the PUBREL go out again in their original order.
 */
static void persist_and_resume(unsigned opts)
{
    tern_mqtt_inflight_t saved[8];
    uint8_t saved_copy[sizeof F.copy];
    uint16_t a, b, c, d;
    tern_mqtt_publish_t got;
    fx_setup(&F, ANY_VER, opts);
    F.app[1].topic = "p/a";
    F.app[1].payload = "A";
    F.app[2].topic = "p/b";
    F.app[2].payload = "B";
    F.app[3].topic = "p/c";
    F.app[3].payload = "C";
    F.app[4].topic = "p/d";
    F.app[4].payload = "D";
    connect_with(&F, false, 0, false, NULL, 0);
    tern_mqtt_publish_t m = msg("p/a", "A", 1);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 1, &a), TERN_OK);
    m = msg("p/b", "B", 2);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 2, &b), TERN_OK);
    m = msg("p/c", "C", 1);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 3, &c), TERN_OK);
    run(&F, 0);
    expect_publish(&F, "p/a", 1, false, NULL);
    expect_publish(&F, "p/b", 2, false, NULL);
    expect_publish(&F, "p/c", 1, false, NULL);
    feed_ack(&F, TERN_MQTT_PUBREC, b, 0);
    run(&F, 0);
    expect_ack(&F, TERN_MQTT_PUBREL, b);
    /* the link drops; one more is published while it is down */
    F.peer.recv_err = TERN_ERR_IO;
    run(&F, 0);
    assert_int_equal(last(&F, TERN_MQTT_EV_LINK_DEAD)->err, TERN_ERR_IO);
    m = msg("p/d", "D", 2);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 4, &d), TERN_OK);
    assert_int_equal(tern_mqtt_pending(&F.m), 4);

    /* power cut: keep the table (and copies), lose everything else */
    memcpy(saved, F.inflight, sizeof saved);
    memcpy(saved_copy, F.copy, sizeof saved_copy);
    memset(&F.m, 0xA5, sizeof F.m);
    assert_int_equal(tern_mqtt_init(&F.m, &F.cfg), TERN_OK);
    assert_int_equal(tern_mqtt_pending(&F.m), 0);
    memcpy(F.inflight, saved, sizeof saved);
    memcpy(F.copy, saved_copy, sizeof saved_copy);
    assert_int_equal(tern_mqtt_restore(&F.m), TERN_OK);
    assert_int_equal(tern_mqtt_pending(&F.m), 4);

    connect_with(&F, false, 0, true, NULL, 100);
    expect_publish(&F, "p/a", 1, true, &got);
    assert_int_equal(got.packet_id, a);
    assert_memory_equal(got.payload.ptr, "A", 1);
    expect_publish(&F, "p/c", 1, true, &got);
    assert_int_equal(got.packet_id, c);
    expect_ack(&F, TERN_MQTT_PUBREL, b);
    expect_publish(&F, "p/d", 2, false, &got); /* never sent before: no DUP */
    assert_int_equal(got.packet_id, d);
    nothing_sent(&F);
    /* a new publish gets an id not in use */
    uint16_t e;
    m = msg("p/e", "E", 1);
    F.app[5].topic = "p/e";
    F.app[5].payload = "E";
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 5, &e), TERN_OK);
    assert_true(e != a && e != b && e != c && e != d);
    run(&F, 100);
    expect_publish(&F, "p/e", 1, false, NULL);
    feed_ack(&F, TERN_MQTT_PUBACK, a, 0);
    feed_ack(&F, TERN_MQTT_PUBCOMP, b, 0);
    feed_ack(&F, TERN_MQTT_PUBACK, c, 0);
    feed_ack(&F, TERN_MQTT_PUBREC, d, 0);
    run(&F, 100);
    expect_ack(&F, TERN_MQTT_PUBREL, d);
    feed_ack(&F, TERN_MQTT_PUBCOMP, d, 0);
    feed_ack(&F, TERN_MQTT_PUBACK, e, 0);
    run(&F, 100);
    assert_int_equal(count(&F, TERN_MQTT_EV_PUBLISHED), 5);
    assert_int_equal(tern_mqtt_pending(&F.m), 0);
    if (opts & USE_REPRODUCE) {
        assert_int_equal(F.reproduced, 3); /* a, c, d; b needed only its PUBREL */
    }
}

/* A link switch: the stream is gone, so the session ends without touching it, and
 * the next connect on another stream resumes it (Session Present: DUP resend). */
static void test_abort_moves_session_to_a_new_stream(void **state)
{
    (void)state;
    uint16_t a;
    tern_mqtt_publish_t got;
    fx_setup(&F, ANY_VER, USE_REPRODUCE);
    F.app[1].topic = "p/a";
    F.app[1].payload = "A";
    assert_int_equal(tern_mqtt_abort(&F.m, TERN_ERR_CLOSED), TERN_ERR_STATE); /* idle */
    connect_with(&F, false, 0, false, NULL, 0);
    tern_mqtt_publish_t m = msg("p/a", "A", 1);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 1, &a), TERN_OK);
    run(&F, 0);
    expect_publish(&F, "p/a", 1, false, NULL);
    size_t out = F.peer.out_len, in = F.peer.in_off;
    assert_int_equal(tern_mqtt_abort(&F.m, TERN_ERR_CLOSED), TERN_OK);
    assert_int_equal(last(&F, TERN_MQTT_EV_LINK_DEAD)->err, TERN_ERR_CLOSED);
    assert_false(tern_mqtt_connected(&F.m));
    assert_false(tern_mqtt_want_write(&F.m));
    run(&F, 0); /* idle: no I/O at all on the old stream */
    assert_int_equal(F.peer.out_len, out);
    assert_int_equal(F.peer.in_off, in);
    assert_int_equal(tern_mqtt_pending(&F.m), 1);
    connect_with(&F, false, 0, true, NULL, 10);
    expect_publish(&F, "p/a", 1, true, &got);
    assert_int_equal(got.packet_id, a);
    feed_ack(&F, TERN_MQTT_PUBACK, a, 0);
    run(&F, 10);
    assert_int_equal(last(&F, TERN_MQTT_EV_PUBLISHED)->token, 1);
    assert_int_equal(tern_mqtt_pending(&F.m), 0);
}

static void test_persist_restore_resend_copy_store(void **state)
{
    (void)state;
    persist_and_resume(USE_COPY);
}

static void test_persist_restore_resend_reproduce(void **state)
{
    (void)state;
    persist_and_resume(USE_REPRODUCE);
}

/* A table that cannot be is refused and cleared. */
static void test_restore_rejects_corrupt_table(void **state)
{
    (void)state;
    fx_setup(&F, ANY_VER, 0);
    F.inflight[0] = (tern_mqtt_inflight_t){ 1, 0, 5, TERN_MQTT_STAGE_PUBACK, 0 };
    F.inflight[3] = (tern_mqtt_inflight_t){ 2, 0, 5, TERN_MQTT_STAGE_PUBREC, 0 }; /* same id */
    assert_int_equal(tern_mqtt_restore(&F.m), TERN_ERR_CORRUPT);
    assert_int_equal(tern_mqtt_pending(&F.m), 0);
    F.inflight[0] = (tern_mqtt_inflight_t){ 1, 0, 5, 9, 0 }; /* no such stage */
    assert_int_equal(tern_mqtt_restore(&F.m), TERN_ERR_CORRUPT);
    F.inflight[0] = (tern_mqtt_inflight_t){ 1, 0, 0, TERN_MQTT_STAGE_PUBACK, 0 }; /* id 0 */
    assert_int_equal(tern_mqtt_restore(&F.m), TERN_ERR_CORRUPT);
    /* the server's QoS 2 id may equal one of ours */
    F.inflight[0] = (tern_mqtt_inflight_t){ 1, 0, 5, TERN_MQTT_STAGE_PUBACK, 0 };
    F.inflight[1] = (tern_mqtt_inflight_t){ 2, 0, 5, TERN_MQTT_STAGE_PUBREL, 0 };
    assert_int_equal(tern_mqtt_restore(&F.m), TERN_OK);
    assert_int_equal(tern_mqtt_pending(&F.m), 1);
}

/* Session lost on reconnect: subscriptions restored from the table, unacknowledged
 * messages published again as new, PUBREL flows closed. */
static void test_session_lost_resubscribe_republish(void **state)
{
    (void)state;
    tern_mqtt_packet_t p;
    uint16_t a, b, sid;
    fx_setup(&F, ANY_VER, USE_COPY | USE_SUBS);
    connect_with(&F, false, 0, false, NULL, 0);
    bool v5 = F.ver == TERN_MQTT_PROTO_V5;
    uint8_t opt1 = (uint8_t)(1 | (v5 ? TERN_MQTT_SUB_RETAIN_AS_PUB : 0));
    tern_mqtt_sub_t subs[2] = { { TERN_MQTT_STR("s/1"), opt1 },
                                { TERN_MQTT_STR("s/2/#"),
                                  (uint8_t)(2 | (v5 ? TERN_MQTT_SUB_RETAIN_HANDLING(2) : 0)) } };
    tern_mqtt_sub_t gone = { TERN_MQTT_STR("s/3"), 0 };
    assert_int_equal(tern_mqtt_subscribe(&F.m, subs, 2, v5 ? 5 : 0, &sid), TERN_OK);
    assert_int_equal(tern_mqtt_subscribe(&F.m, &gone, 1, 0, NULL), TERN_OK);
    assert_int_equal(tern_mqtt_unsubscribe(&F.m, &gone, 1, NULL), TERN_OK);
    tern_mqtt_publish_t m = msg("r/a", "A", 1);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 1, &a), TERN_OK);
    m = msg("r/b", "B", 2);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 2, &b), TERN_OK);
    run(&F, 0);
    assert_int_equal(take(&F, &p), TERN_MQTT_SUBSCRIBE);
    assert_int_equal(take(&F, &p), TERN_MQTT_SUBSCRIBE);
    assert_int_equal(take(&F, &p), TERN_MQTT_UNSUBSCRIBE);
    expect_publish(&F, "r/a", 1, false, NULL);
    expect_publish(&F, "r/b", 2, false, NULL);
    feed_publish(&F, "s/1", "x", 2, 300, false); /* the server's QoS 2, not yet released */
    run(&F, 0);
    expect_ack(&F, TERN_MQTT_PUBREC, 300);
    F.peer.recv_err = TERN_ERR_CLOSED;
    run(&F, 0);

    connect_with(&F, false, 0, false, NULL, 10);
    assert_int_equal(take(&F, &p), TERN_MQTT_SUBSCRIBE);
    assert_int_equal(p.subscribe.count, 1);
    assert_memory_equal(p.subscribe.list.ptr + 2, "s/1", 3);
    assert_int_equal(p.subscribe.props.subscription_id, v5 ? 5 : 0);
    tern_mqtt_sub_t s;
    size_t cur = 0;
    assert_int_equal(tern_mqtt_sub_next(&p, &cur, &s), TERN_OK);
    assert_int_equal(s.options, opt1);
    assert_int_equal(take(&F, &p), TERN_MQTT_SUBSCRIBE);
    cur = 0;
    assert_int_equal(tern_mqtt_sub_next(&p, &cur, &s), TERN_OK);
    assert_memory_equal(s.filter.ptr, "s/2/#", 5);
    expect_publish(&F, "r/a", 1, false, NULL); /* new session: a new message, no DUP */
    expect_publish(&F, "r/b", 2, false, NULL);
    nothing_sent(&F);
    /* the old QoS 2 id of the server is forgotten: the same id is delivered again */
    feed_publish(&F, "s/1", "y", 2, 300, false);
    run(&F, 10);
    assert_memory_equal(last(&F, TERN_MQTT_EV_MESSAGE)->payload, "y", 1);
}

/* Subscription table full: refused, nothing sent. */
static void test_subscription_table_full(void **state)
{
    (void)state;
    fx_setup(&F, TERN_MQTT_PROTO_V311, USE_SUBS);
    connect_with(&F, true, 0, false, NULL, 0);
    tern_mqtt_sub_t subs[5] = { { TERN_MQTT_STR("a"), 0 },
                                { TERN_MQTT_STR("b"), 0 },
                                { TERN_MQTT_STR("c"), 0 },
                                { TERN_MQTT_STR("d"), 0 },
                                { TERN_MQTT_STR("e"), 0 } };
    assert_int_equal(tern_mqtt_subscribe(&F.m, subs, 5, 0, NULL), TERN_ERR_FULL);
    run(&F, 0);
    nothing_sent(&F);
    assert_int_equal(tern_mqtt_subscribe(&F.m, subs, 4, 0, NULL), TERN_OK);
    assert_int_equal(tern_mqtt_subscribe(&F.m, subs, 2, 0, NULL),
                     TERN_OK); /* again: no room needed */
    assert_int_equal(tern_mqtt_subscribe(&F.m, subs + 4, 1, 0, NULL), TERN_ERR_FULL);
}

/* A PUBLISH bigger than rx arrives in chunks, each with the topic; acked after the last. */
static void stream(tern_mqtt_version_t ver)
{
    tern_mqtt_packet_t p;
    char payload[301];
    for (size_t i = 0; i < 300; i++) {
        payload[i] = (char)('a' + i % 26);
    }
    payload[300] = 0;
    fx_setup(&F, ver, SMALL_RX);
    F.cfg.max_packet = 4096; /* let an MQTT 5 server send more than rx */
    assert_int_equal(tern_mqtt_init(&F.m, &F.cfg), TERN_OK);
    F.peer.max_io = 7;
    connect_with(&F, true, 0, false, NULL, 0);
    feed_publish(&F, "big/topic", payload, 1, 5, false);
    feed_publish(&F, "small", "s", 0, 0, false); /* right behind it */
    run(&F, 0);
    size_t n = count(&F, TERN_MQTT_EV_MESSAGE);
    assert_in_range(n, 6, 300);
    size_t at = 0;
    for (size_t i = 0; i < F.nev; i++) {
        const seen_t *s = &F.ev[i];
        if (s->type != TERN_MQTT_EV_MESSAGE || strcmp(s->topic, "small") == 0) {
            continue;
        }
        assert_string_equal(s->topic, "big/topic");
        assert_int_equal(s->offset, at);
        assert_int_equal(s->total, 300);
        assert_int_equal(s->packet_id, 5);
        at += s->len;
    }
    assert_int_equal(at, 300);
    assert_memory_equal(F.big, payload, 300);
    assert_string_equal(last(&F, TERN_MQTT_EV_MESSAGE)->topic, "small");
    expect_ack(&F, TERN_MQTT_PUBACK, 5);
    nothing_sent(&F);
    /* a streamed QoS 2 duplicate is dropped but acknowledged again */
    F.nev = 0;
    feed_publish(&F, "big/topic", payload, 2, 6, false);
    feed_publish(&F, "big/topic", payload, 2, 6, true);
    run(&F, 0);
    expect_ack(&F, TERN_MQTT_PUBREC, 6);
    expect_ack(&F, TERN_MQTT_PUBREC, 6);
    size_t chunks = count(&F, TERN_MQTT_EV_MESSAGE);
    at = 0;
    for (size_t i = 0; i < F.nev; i++) {
        at += F.ev[i].len;
    }
    assert_int_equal(at, 300); /* delivered once */
    assert_true(chunks >= 6);
    /* even the topic does not fit: refused, never dropped silently */
    char topic[80];
    memset(topic, 't', sizeof topic - 1);
    topic[sizeof topic - 1] = 0;
    feed_publish(&F, topic, "x", 0, 0, false);
    assert_int_equal(count(&F, TERN_MQTT_EV_DISCONNECTED), 0);
    run(&F, 0);
    const seen_t *s = last(&F, TERN_MQTT_EV_DISCONNECTED);
    assert_int_equal(s->err, TERN_ERR_MQTT_PACKET_TOO_LARGE);
    if (ver == TERN_MQTT_PROTO_V5) {
        assert_int_equal(take(&F, &p), TERN_MQTT_DISCONNECT);
        assert_int_equal(p.disconnect.reason, 0x95);
    }
    nothing_sent(&F);
}

/* A streamed QoS 2 message cut off by a lost link (and a reset) is delivered again, whole,
 * when the server sends it again: the cut delivery does not count as delivered. */
static void test_stream_cut_off_is_delivered_again(void **state)
{
    (void)state;
    tern_mqtt_inflight_t saved[8];
    char payload[201];
    memset(payload, 'q', sizeof payload - 1);
    payload[sizeof payload - 1] = 0;
    fx_setup(&F, ANY_VER, SMALL_RX);
    F.cfg.max_packet = 4096;
    assert_int_equal(tern_mqtt_init(&F.m, &F.cfg), TERN_OK);
    connect_with(&F, false, 0, false, NULL, 0);
    feed_publish(&F, "big/q2", payload, 2, 12, false);
    F.peer.in_len -= 100; /* only half of it arrives */
    F.peer.recv_err = TERN_ERR_CLOSED;
    run(&F, 0);
    assert_in_range(count(&F, TERN_MQTT_EV_MESSAGE), 1, 10);
    assert_int_equal(last(&F, TERN_MQTT_EV_LINK_DEAD)->err, TERN_ERR_CLOSED);
    nothing_sent(&F); /* no PUBREC for it */
    /* and the device resets before it reconnects */
    memcpy(saved, F.inflight, sizeof saved);
    assert_int_equal(tern_mqtt_init(&F.m, &F.cfg), TERN_OK);
    memcpy(F.inflight, saved, sizeof saved);
    assert_int_equal(tern_mqtt_restore(&F.m), TERN_OK);
    F.nev = 0;
    memset(F.big, 0, sizeof F.big);
    connect_with(&F, false, 0, true, NULL, 10);
    feed_publish(&F, "big/q2", payload, 2, 12, true);
    run(&F, 10);
    size_t at = 0;
    for (size_t i = 0; i < F.nev; i++) {
        if (F.ev[i].type == TERN_MQTT_EV_MESSAGE) {
            assert_int_equal(F.ev[i].offset, at);
            at += F.ev[i].len;
        }
    }
    assert_int_equal(at, 200);
    assert_memory_equal(F.big, payload, 200);
    expect_ack(&F, TERN_MQTT_PUBREC, 12);
    /* now it counts as delivered: a further copy is dropped */
    F.nev = 0;
    feed_publish(&F, "big/q2", payload, 2, 12, true);
    run(&F, 10);
    assert_int_equal(count(&F, TERN_MQTT_EV_MESSAGE), 0);
    expect_ack(&F, TERN_MQTT_PUBREC, 12);
}

static void test_stream_large_message_v311(void **state)
{
    (void)state;
    stream(TERN_MQTT_PROTO_V311);
}

#if TERN_MQTT_V5
/* ------------------------------------------------- MQTT 5 only -- */

/* MQTT 5 CONNECT carries our limits; CONNACK's limits are applied. */
static void test_connect_v5_limits_both_ways(void **state)
{
    (void)state;
    tern_mqtt_connect_t c;
    tern_mqtt_packet_t p;
    tern_mqtt_props_t props = { 0 };
    fx_setup(&F, TERN_MQTT_PROTO_V5, USE_ALIAS);
    memset(&c, 0, sizeof c);
    c.client_id = TERN_MQTT_STR("dev-1");
    c.clean_start = false;
    c.keep_alive = 30;
    c.props.present = TERN_MQTT_HAS_SESSION_EXPIRY;
    c.props.session_expiry = 3600;
    c.has_will = true;
    c.will.topic = TERN_MQTT_STR("dev/1/status");
    c.will.payload = TERN_MQTT_STR("offline");
    c.will.qos = 1;
    c.will.retain = true;
    c.will.props.present = TERN_MQTT_HAS_WILL_DELAY | TERN_MQTT_HAS_CONTENT_TYPE;
    c.will.props.will_delay = 5;
    c.will.props.content_type = TERN_MQTT_STR("text/plain");
    c.has_username = c.has_password = true;
    c.username = TERN_MQTT_STR("user");
    c.password = TERN_MQTT_STR("secret");
    assert_int_equal(tern_mqtt_connect(&F.m, &F.tr, F.ver, &c, 0), TERN_OK);
    assert_int_equal(tern_mqtt_connect(&F.m, &F.tr, F.ver, &c, 0), TERN_ERR_STATE);
    run(&F, 0);
    assert_int_equal(take(&F, &p), TERN_MQTT_CONNECT);
    assert_int_equal(p.connect.props.receive_maximum, 3);
    assert_int_equal(p.connect.props.maximum_packet_size, sizeof F.rx);
    assert_int_equal(p.connect.props.topic_alias_maximum, 2);
    assert_int_equal(p.connect.props.session_expiry, 3600);
    assert_true(p.connect.has_will);
    assert_int_equal(p.connect.will.props.will_delay, 5);
    assert_memory_equal(p.connect.password.ptr, "secret", 6);

    props.present = TERN_MQTT_HAS_RECEIVE_MAXIMUM | TERN_MQTT_HAS_MAXIMUM_PACKET_SIZE |
                    TERN_MQTT_HAS_TOPIC_ALIAS_MAXIMUM | TERN_MQTT_HAS_MAXIMUM_QOS |
                    TERN_MQTT_HAS_RETAIN_AVAILABLE | TERN_MQTT_HAS_SERVER_KEEP_ALIVE;
    props.receive_maximum = 5;
    props.maximum_packet_size = 64;
    props.topic_alias_maximum = 10;
    props.maximum_qos = 1;
    props.retain_available = 0;
    props.server_keep_alive = 20;
    memset(&p, 0, sizeof p);
    p.type = TERN_MQTT_CONNACK;
    p.connack.props = props;
    feed(&F, &p);
    run(&F, 0);
    assert_int_equal(last(&F, TERN_MQTT_EV_CONNECTED)->type, TERN_MQTT_EV_CONNECTED);
    assert_int_equal(F.lim.receive_max, 5);
    assert_int_equal(F.lim.max_packet, 64);
    assert_int_equal(F.lim.alias_max, 3); /* min(ours, the server's) */
    assert_int_equal(F.lim.max_qos, 1);
    assert_false(F.lim.retain_available);
    assert_int_equal(F.lim.keep_alive, 20);

    tern_mqtt_publish_t m = msg("a/b", "x", 2);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 0, NULL), TERN_ERR_UNSUPPORTED);
    m.qos = 0;
    m.retain = true;
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 0, NULL), TERN_ERR_UNSUPPORTED);
    m.retain = false;
    char big[80];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    m.payload.ptr = (const uint8_t *)big;
    m.payload.len = strlen(big);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 0, NULL), TERN_ERR_RANGE);
    m.qos = 1;
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 0, NULL), TERN_ERR_RANGE);
    assert_int_equal(tern_mqtt_pending(&F.m), 0); /* the record was given back */
    run(&F, 0);
    nothing_sent(&F);
}

/* A refused CONNACK ends the session with its reason and Server Reference. */
static void test_connack_refused_with_server_reference(void **state)
{
    (void)state;
    tern_mqtt_connect_t c;
    tern_mqtt_packet_t p;
    fx_setup(&F, TERN_MQTT_PROTO_V5, 0);
    memset(&c, 0, sizeof c);
    c.client_id = TERN_MQTT_STR("dev-1");
    assert_int_equal(tern_mqtt_connect(&F.m, &F.tr, F.ver, &c, 0), TERN_OK);
    memset(&p, 0, sizeof p);
    p.type = TERN_MQTT_CONNACK;
    p.connack.reason = 0x9D;
    p.connack.props.present = TERN_MQTT_HAS_SERVER_REFERENCE;
    p.connack.props.server_reference = TERN_MQTT_STR("mqtt2.example:8883");
    feed(&F, &p);
    assert_int_equal(tern_mqtt_poll(&F.m, 0), TERN_ERR_MQTT_SERVER_MOVED);
    const seen_t *s = last(&F, TERN_MQTT_EV_DISCONNECTED);
    assert_int_equal(s->reason, 0x9D);
    assert_int_equal(s->err, TERN_ERR_MQTT_SERVER_MOVED);
    assert_string_equal(s->ref, "mqtt2.example:8883");
    assert_false(tern_mqtt_connected(&F.m));
    assert_int_equal(count(&F, TERN_MQTT_EV_CONNECTED), 0);
}

/* A server DISCONNECT "use another server" is reported with the reference. */
static void test_server_disconnect_with_reference(void **state)
{
    (void)state;
    tern_mqtt_packet_t p;
    fx_setup(&F, TERN_MQTT_PROTO_V5, 0);
    connect_with(&F, true, 0, false, NULL, 0);
    memset(&p, 0, sizeof p);
    p.type = TERN_MQTT_DISCONNECT;
    p.disconnect.reason = 0x9C;
    p.disconnect.props.present = TERN_MQTT_HAS_SERVER_REFERENCE | TERN_MQTT_HAS_REASON_STRING;
    p.disconnect.props.server_reference = TERN_MQTT_STR("10.0.0.2:1883");
    p.disconnect.props.reason_string = TERN_MQTT_STR("rebalancing");
    feed(&F, &p);
    run(&F, 0);
    const seen_t *s = last(&F, TERN_MQTT_EV_DISCONNECTED);
    assert_int_equal(s->reason, 0x9C);
    assert_int_equal(s->err, TERN_ERR_MQTT_USE_ANOTHER_SERVER);
    assert_string_equal(s->ref, "10.0.0.2:1883");
    assert_false(tern_mqtt_connected(&F.m));
    /* idle: poll does nothing, a new connect is allowed */
    assert_int_equal(tern_mqtt_poll(&F.m, 5), TERN_OK);
    connect_with(&F, true, 0, false, NULL, 10);
}

/* Our DISCONNECT goes out with its reason, then the session reports it and is idle. */
static void test_client_disconnect(void **state)
{
    (void)state;
    tern_mqtt_packet_t p;
    fx_setup(&F, TERN_MQTT_PROTO_V5, 0);
    connect_with(&F, true, 0, false, NULL, 0);
    tern_mqtt_props_t props = { 0 };
    props.present = TERN_MQTT_HAS_SESSION_EXPIRY;
    props.session_expiry = 0;
    assert_int_equal(tern_mqtt_disconnect(&F.m, 0x04, &props), TERN_OK);
    assert_int_equal(tern_mqtt_poll(&F.m, 0), TERN_OK);
    assert_int_equal(take(&F, &p), TERN_MQTT_DISCONNECT);
    assert_int_equal(p.disconnect.reason, 0x04);
    assert_true(p.disconnect.props.present & TERN_MQTT_HAS_SESSION_EXPIRY);
    const seen_t *s = last(&F, TERN_MQTT_EV_DISCONNECTED);
    assert_int_equal(s->err, TERN_OK);
    assert_int_equal(s->reason, 0x04);
    assert_int_equal(tern_mqtt_disconnect(&F.m, 0, NULL), TERN_ERR_STATE);
}

static void test_qos_out_v5(void **state)
{
    (void)state;
    qos_out(TERN_MQTT_PROTO_V5);
    /* a failure reason ends the flow with it */
    uint16_t id;
    tern_mqtt_publish_t m = msg("a/3", "no", 1);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 13, &id), TERN_OK);
    run(&F, 0);
    expect_publish(&F, "a/3", 1, false, NULL);
    feed_ack(&F, TERN_MQTT_PUBACK, id, 0x87);
    run(&F, 0);
    const seen_t *s = last(&F, TERN_MQTT_EV_PUBLISHED);
    assert_int_equal(s->token, 13);
    assert_int_equal(s->reason, 0x87);
    assert_int_equal(s->err, TERN_ERR_MQTT_NOT_AUTHORIZED);
}

static void test_qos2_in_delivered_once_v5(void **state)
{
    (void)state;
    qos2_in(TERN_MQTT_PROTO_V5);
    /* More unreleased QoS 2 than our Receive Maximum (3) is tolerated while the
     * table (8 records, one held by 77) has room; once it is full: DISCONNECT 0x93. */
    for (uint16_t id = 80; id < 87; id++) {
        feed_publish(&F, "in/q2", "n", 2, id, false);
    }
    feed_publish(&F, "in/q2", "9", 2, 87, false);
    run(&F, 0);
    assert_int_equal(count(&F, TERN_MQTT_EV_MESSAGE), 4 + 7);
    for (uint16_t id = 80; id < 87; id++) {
        expect_ack(&F, TERN_MQTT_PUBREC, id);
    }
    tern_mqtt_packet_t p;
    assert_int_equal(take(&F, &p), TERN_MQTT_DISCONNECT);
    assert_int_equal(p.disconnect.reason, 0x93);
    assert_int_equal(last(&F, TERN_MQTT_EV_DISCONNECTED)->err, TERN_ERR_MQTT_RECEIVE_MAX_EXCEEDED);
}

/* Never more unacknowledged QoS>0 publishes than the server's Receive Maximum. */
static void test_receive_maximum(void **state)
{
    (void)state;
    uint16_t id[5];
    tern_mqtt_props_t props = { 0 };
    props.present = TERN_MQTT_HAS_RECEIVE_MAXIMUM;
    props.receive_maximum = 2;
    /* without a way to resend, the third is refused */
    fx_setup(&F, TERN_MQTT_PROTO_V5, 0);
    connect_with(&F, true, 0, false, &props, 0);
    tern_mqtt_publish_t m = msg("rm", "x", 1);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 0, &id[0]), TERN_OK);
    m.qos = 2;
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 1, &id[1]), TERN_OK);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 2, &id[2]), TERN_ERR_BUSY);
    m.qos = 0; /* QoS 0 is not counted */
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 0, NULL), TERN_OK);
    run(&F, 0);
    feed_ack(&F, TERN_MQTT_PUBREC, id[1], 0); /* QoS 2 counts until PUBCOMP */
    run(&F, 0);
    m.qos = 1;
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 2, &id[2]), TERN_ERR_BUSY);
    feed_ack(&F, TERN_MQTT_PUBACK, id[0], 0);
    run(&F, 0);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 2, &id[2]), TERN_OK);

    /* with the copy store, the extra ones wait and go out as acks come */
    fx_setup(&F, TERN_MQTT_PROTO_V5, USE_COPY);
    connect_with(&F, true, 0, false, &props, 0);
    static const char *const topics[5] = { "q/0", "q/1", "q/2", "q/3", "q/4" };
    for (int i = 0; i < 5; i++) {
        m = msg(topics[i], "x", 1);
        assert_int_equal(tern_mqtt_publish(&F.m, &m, (uint32_t)i, &id[i]), TERN_OK);
    }
    assert_int_equal(tern_mqtt_pending(&F.m), 5);
    m = msg("q/5", "x", 1);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 5, NULL), TERN_ERR_BUSY); /* 8 - 3 reserved */
    run(&F, 0);
    expect_publish(&F, "q/0", 1, false, NULL);
    expect_publish(&F, "q/1", 1, false, NULL);
    nothing_sent(&F);
    feed_ack(&F, TERN_MQTT_PUBACK, id[1], 0);
    run(&F, 0);
    expect_publish(&F, "q/2", 1, false, NULL);
    nothing_sent(&F);
    feed_ack(&F, TERN_MQTT_PUBACK, id[0], 0);
    feed_ack(&F, TERN_MQTT_PUBACK, id[2], 0);
    run(&F, 0);
    expect_publish(&F, "q/3", 1, false, NULL);
    expect_publish(&F, "q/4", 1, false, NULL);
    nothing_sent(&F);
}

/* A PUBREL is never held back by a queued PUBLISH waiting for the quota. */
static void test_pubrel_not_blocked_by_quota(void **state)
{
    (void)state;
    uint16_t a, b;
    tern_mqtt_props_t props = { 0 };
    props.present = TERN_MQTT_HAS_RECEIVE_MAXIMUM;
    props.receive_maximum = 1;
    fx_setup(&F, TERN_MQTT_PROTO_V5, USE_COPY);
    connect_with(&F, true, 0, false, &props, 0);
    tern_mqtt_publish_t m = msg("q/a", "A", 2);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 1, &a), TERN_OK);
    m = msg("q/b", "B", 1);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 2, &b), TERN_OK); /* queued */
    run(&F, 0);
    expect_publish(&F, "q/a", 2, false, NULL);
    nothing_sent(&F);
    feed_ack(&F, TERN_MQTT_PUBREC, a, 0);
    run(&F, 0);
    expect_ack(&F, TERN_MQTT_PUBREL, a);
    nothing_sent(&F); /* the QoS 2 flow holds the quota until PUBCOMP */
    feed_ack(&F, TERN_MQTT_PUBCOMP, a, 0);
    run(&F, 0);
    expect_publish(&F, "q/b", 1, false, NULL);
}

/* 3.1.1 resubscription keeps only the QoS of MQTT 5 options. */
static void test_resubscribe_v311_options(void **state)
{
    (void)state;
    tern_mqtt_packet_t p;
    fx_setup(&F, TERN_MQTT_PROTO_V5, USE_SUBS);
    connect_with(&F, true, 0, false, NULL, 0);
    tern_mqtt_sub_t sub = { TERN_MQTT_STR("c/#"), 2 | TERN_MQTT_SUB_NO_LOCAL };
    assert_int_equal(tern_mqtt_subscribe(&F.m, &sub, 1, 0, NULL), TERN_OK);
    run(&F, 0);
    F.peer.recv_err = TERN_ERR_CLOSED;
    run(&F, 0);
    F.ver = TERN_MQTT_PROTO_V311; /* the next server speaks 3.1.1 */
    connect_with(&F, true, 0, false, NULL, 10);
    assert_int_equal(take(&F, &p), TERN_MQTT_SUBSCRIBE);
    tern_mqtt_sub_t got;
    size_t cur = 0;
    assert_int_equal(tern_mqtt_sub_next(&p, &cur, &got), TERN_OK);
    assert_int_equal(got.options, 2);
}

/* Outbound aliases: bound on first use, then the topic is left out; round robin. */
static void test_topic_alias_out(void **state)
{
    (void)state;
    tern_mqtt_packet_t p;
    tern_mqtt_props_t props = { 0 };
    props.present = TERN_MQTT_HAS_TOPIC_ALIAS_MAXIMUM;
    props.topic_alias_maximum = 2;
    fx_setup(&F, TERN_MQTT_PROTO_V5, USE_ALIAS);
    connect_with(&F, true, 0, false, &props, 0);
    static const struct {
        const char *topic;
        const char *wire; /* topic on the wire */
        uint16_t alias;
    } steps[] = {
        { "a/b", "a/b", 1 }, { "a/b", "", 1 },    { "c/d", "c/d", 2 }, { "c/d", "", 2 },
        { "e/f", "e/f", 1 }, { "a/b", "a/b", 2 }, { "e/f", "", 1 },
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        tern_mqtt_publish_t m = msg(steps[i].topic, "v", 0);
        assert_int_equal(tern_mqtt_publish(&F.m, &m, 0, NULL), TERN_OK);
        run(&F, 0);
        assert_int_equal(take(&F, &p), TERN_MQTT_PUBLISH);
        assert_int_equal(p.publish.topic.len, strlen(steps[i].wire));
        assert_memory_equal(p.publish.topic.ptr, steps[i].wire, strlen(steps[i].wire));
        assert_int_equal(p.publish.props.topic_alias, steps[i].alias);
    }
    /* a topic longer than a slot goes without an alias */
    tern_mqtt_publish_t m = msg("a/very/long/topic/name/that/is/too/long", "v", 0);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 0, NULL), TERN_OK);
    run(&F, 0);
    assert_int_equal(take(&F, &p), TERN_MQTT_PUBLISH);
    assert_false(p.publish.props.present & TERN_MQTT_HAS_TOPIC_ALIAS);
    /* the server announced none: no aliases at all */
    fx_setup(&F, TERN_MQTT_PROTO_V5, USE_ALIAS);
    connect_with(&F, true, 0, false, NULL, 0);
    m = msg("a/b", "v", 0);
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 0, NULL), TERN_OK);
    run(&F, 0);
    assert_int_equal(take(&F, &p), TERN_MQTT_PUBLISH);
    assert_false(p.publish.props.present & TERN_MQTT_HAS_TOPIC_ALIAS);
}

/* Inbound aliases are resolved; an unknown one is DISCONNECT 0x94. */
static void test_topic_alias_in(void **state)
{
    (void)state;
    tern_mqtt_packet_t p;
    fx_setup(&F, TERN_MQTT_PROTO_V5, USE_ALIAS);
    connect_with(&F, true, 0, false, NULL, 0);
    memset(&p, 0, sizeof p);
    p.type = TERN_MQTT_PUBLISH;
    p.publish.topic = TERN_MQTT_STR("x/y");
    p.publish.payload = TERN_MQTT_STR("1");
    p.publish.props.present = TERN_MQTT_HAS_TOPIC_ALIAS;
    p.publish.props.topic_alias = 1;
    feed(&F, &p);
    p.publish.topic.len = 0;
    p.publish.payload = TERN_MQTT_STR("2");
    feed(&F, &p);
    run(&F, 0);
    assert_int_equal(count(&F, TERN_MQTT_EV_MESSAGE), 2);
    assert_string_equal(F.ev[F.nev - 2].topic, "x/y");
    assert_string_equal(F.ev[F.nev - 1].topic, "x/y");
    assert_memory_equal(F.ev[F.nev - 1].payload, "2", 1);
    p.publish.props.topic_alias = 2; /* never bound */
    feed(&F, &p);
    run(&F, 0);
    assert_int_equal(count(&F, TERN_MQTT_EV_MESSAGE), 2);
    assert_int_equal(take(&F, &p), TERN_MQTT_DISCONNECT);
    assert_int_equal(p.disconnect.reason, 0x94);
    const seen_t *s = last(&F, TERN_MQTT_EV_DISCONNECTED);
    assert_int_equal(s->reason, 0x94);
    assert_int_equal(s->err, TERN_ERR_MQTT_TOPIC_ALIAS_INVALID);
    assert_false(tern_mqtt_connected(&F.m));
}

/* Request/response, user properties and message expiry pass through both ways. */
static void test_properties_pass_through(void **state)
{
    (void)state;
    tern_mqtt_packet_t p;
    tern_mqtt_prop_t user = { TERN_MQTT_PROP_USER_PROPERTY, 0, TERN_MQTT_STR("k"),
                              TERN_MQTT_STR("v") };
    fx_setup(&F, TERN_MQTT_PROTO_V5, 0);
    connect_with(&F, true, 0, false, NULL, 0);
    tern_mqtt_publish_t m = msg("req/1", "ping", 1);
    m.props.present = TERN_MQTT_HAS_RESPONSE_TOPIC | TERN_MQTT_HAS_CORRELATION_DATA |
                      TERN_MQTT_HAS_MESSAGE_EXPIRY;
    m.props.response_topic = TERN_MQTT_STR("resp/1");
    m.props.correlation_data = TERN_MQTT_STR("\x01\x02");
    m.props.message_expiry = 30;
    m.props.list = &user;
    m.props.list_count = 1;
    assert_int_equal(tern_mqtt_publish(&F.m, &m, 0, NULL), TERN_OK);
    run(&F, 0);
    assert_int_equal(take(&F, &p), TERN_MQTT_PUBLISH);
    assert_memory_equal(p.publish.props.response_topic.ptr, "resp/1", 6);
    assert_memory_equal(p.publish.props.correlation_data.ptr, "\x01\x02", 2);
    assert_int_equal(p.publish.props.message_expiry, 30);
    size_t cur = 0;
    tern_mqtt_prop_t got;
    assert_int_equal(
        tern_mqtt_prop_next(&p.publish.props, &cur, TERN_MQTT_PROP_USER_PROPERTY, &got), TERN_OK);
    assert_memory_equal(got.str2.ptr, "v", 1);
    /* and inbound */
    memset(&p, 0, sizeof p);
    p.type = TERN_MQTT_PUBLISH;
    p.publish.topic = TERN_MQTT_STR("resp/1");
    p.publish.payload = TERN_MQTT_STR("pong");
    p.publish.props.present = TERN_MQTT_HAS_RESPONSE_TOPIC | TERN_MQTT_HAS_MESSAGE_EXPIRY;
    p.publish.props.response_topic = TERN_MQTT_STR("req/2");
    p.publish.props.message_expiry = 9;
    feed(&F, &p);
    run(&F, 0);
    const seen_t *s = last(&F, TERN_MQTT_EV_MESSAGE);
    assert_true(s->has_response_topic);
    assert_int_equal(s->expiry, 9);
}

static void test_stream_large_message_v5(void **state)
{
    (void)state;
    stream(TERN_MQTT_PROTO_V5);
}

/* A packet from the server that makes no sense ends the session with a reason. */
static void test_protocol_errors(void **state)
{
    (void)state;
    tern_mqtt_packet_t p;
    fx_setup(&F, TERN_MQTT_PROTO_V5, 0);
    connect_with(&F, true, 0, false, NULL, 0);
    memset(&p, 0, sizeof p);
    p.type = TERN_MQTT_CONNACK; /* a second CONNACK */
    feed(&F, &p);
    run(&F, 0);
    assert_int_equal(take(&F, &p), TERN_MQTT_DISCONNECT);
    assert_int_equal(p.disconnect.reason, 0x82);
    assert_int_equal(last(&F, TERN_MQTT_EV_DISCONNECTED)->err, TERN_ERR_MQTT_PROTOCOL_ERROR);
    /* malformed bytes */
    connect_with(&F, true, 0, false, NULL, 0);
    static const uint8_t junk[] = { 0x40, 0x01, 0x00 }; /* PUBACK too short */
    memcpy(F.peer.in + F.peer.in_len, junk, sizeof junk);
    F.peer.in_len += sizeof junk;
    run(&F, 0);
    assert_int_equal(take(&F, &p), TERN_MQTT_DISCONNECT);
    assert_int_equal(p.disconnect.reason, 0x81);
    assert_false(tern_mqtt_connected(&F.m));
}
#endif /* TERN_MQTT_V5 */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_checks_arguments),
        cmocka_unit_test(test_one_byte_io),
        cmocka_unit_test(test_keepalive_and_timeout),
        cmocka_unit_test(test_connack_timeout_and_transport_error),
        cmocka_unit_test(test_qos_out_v311),
        cmocka_unit_test(test_qos2_in_delivered_once_v311),
        cmocka_unit_test(test_tx_full_back_pressure),
        cmocka_unit_test(test_odd_acks_and_lost_messages),
        cmocka_unit_test(test_persist_restore_resend_copy_store),
        cmocka_unit_test(test_abort_moves_session_to_a_new_stream),
        cmocka_unit_test(test_persist_restore_resend_reproduce),
        cmocka_unit_test(test_restore_rejects_corrupt_table),
        cmocka_unit_test(test_session_lost_resubscribe_republish),
        cmocka_unit_test(test_subscription_table_full),
        cmocka_unit_test(test_stream_large_message_v311),
        cmocka_unit_test(test_stream_cut_off_is_delivered_again),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
#if TERN_MQTT_V5
    const struct CMUnitTest tests5[] = {
        cmocka_unit_test(test_connect_v5_limits_both_ways),
        cmocka_unit_test(test_connack_refused_with_server_reference),
        cmocka_unit_test(test_server_disconnect_with_reference),
        cmocka_unit_test(test_client_disconnect),
        cmocka_unit_test(test_qos_out_v5),
        cmocka_unit_test(test_qos2_in_delivered_once_v5),
        cmocka_unit_test(test_receive_maximum),
        cmocka_unit_test(test_pubrel_not_blocked_by_quota),
        cmocka_unit_test(test_resubscribe_v311_options),
        cmocka_unit_test(test_topic_alias_out),
        cmocka_unit_test(test_topic_alias_in),
        cmocka_unit_test(test_properties_pass_through),
        cmocka_unit_test(test_stream_large_message_v5),
        cmocka_unit_test(test_protocol_errors),
    };
    failed += cmocka_run_group_tests(tests5, NULL, NULL);
#endif
    return failed;
}
