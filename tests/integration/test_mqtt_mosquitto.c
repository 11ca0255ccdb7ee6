/* SPDX-License-Identifier: Apache-2.0 */
/* The MQTT session against a real mosquitto, over the POSIX TCP and TLS
 * transports: QoS 0/1/2 round trips in 3.1.1 and 5, retained messages, wills,
 * session resumption across a broker restart with persistence, the broker's
 * Receive Maximum, topic aliases, keep-alive, TLS with server authentication
 * and mTLS. Every test starts its own broker on free loopback ports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/mqtt.h"
#include "tern/port/posix.h"
#include "tern/port/posix_conn.h"
#include "tern_broker.h"
#include "tern_mqtt_msg.h"
#include "tern_test.h"
#include "tern_testpki.h"

#define WAIT_MS 10000u /* the longest any step may take */
#define MAX_MSG 128

static tern_posix_clock_t g_posix_clock;
static tern_clock_t g_clock;

static tern_ms_t now_ms(void)
{
    return tern_clock_now(&g_clock);
}

/* ------------------------------------------------------------- a client -- */

typedef struct got {
    char topic[48];
    char payload[48];
    uint8_t qos;
    bool retain, dup;
} got_t;

typedef struct client {
    const char *id;
    tern_mqtt_t m;
    tern_posix_conn_t conn;
    bool conn_open;
    tern_mqtt_inflight_t inflight[32];
    uint8_t tx[2048], rx[2048];
    uint8_t copy[32 * 128];
    tern_mqtt_sub_entry_t subs[4];
    uint8_t alias_out[4 * 40], alias_in[4 * 40];
    /* what happened */
    int connected, ended, subacks;
    bool session_present;
    tern_mqtt_limits_t lim;
    tern_err_t end_err;
    int end_type;
    uint8_t suback_reason;
    size_t published, publish_failed;
    size_t nmsg;
    got_t msg[MAX_MSG];
} client_t;

static client_t g_a, g_b;

static void on_event(void *user, const tern_mqtt_event_t *ev)
{
    client_t *c = user;
    switch (ev->type) {
    case TERN_MQTT_EV_CONNECTED:
        c->connected++;
        c->lim = *ev->limits;
        c->session_present = ev->limits->session_present;
        break;
    case TERN_MQTT_EV_MESSAGE:
        if (c->nmsg < MAX_MSG && ev->offset == 0) {
            got_t *g = &c->msg[c->nmsg++];
            memset(g, 0, sizeof *g);
            const tern_mqtt_publish_t *p = ev->msg;
            memcpy(g->topic, p->topic.ptr, p->topic.len < 47 ? p->topic.len : 47);
            memcpy(g->payload, p->payload.ptr, p->payload.len < 47 ? p->payload.len : 47);
            g->qos = p->qos;
            g->retain = p->retain;
            g->dup = p->dup;
        }
        break;
    case TERN_MQTT_EV_PUBLISHED:
        if (ev->err == TERN_OK) {
            c->published++;
        } else {
            c->publish_failed++;
            print_error("%s: publish %u failed: %s\n", c->id, (unsigned)ev->token,
                        tern_strerror(ev->err));
        }
        break;
    case TERN_MQTT_EV_SUBACK:
        c->subacks++;
        c->suback_reason = ev->reasons.len ? ev->reasons.ptr[0] : 0xFF;
        break;
    case TERN_MQTT_EV_DISCONNECTED:
    case TERN_MQTT_EV_LINK_DEAD:
        c->ended++;
        c->end_type = ev->type;
        c->end_err = ev->err;
        break;
    default:
        break;
    }
}

static void cl_init(client_t *c, const char *id)
{
    memset(c, 0, sizeof *c);
    c->id = id;
    tern_mqtt_config_t cfg = { 0 };
    cfg.tx = c->tx;
    cfg.tx_size = sizeof c->tx;
    cfg.rx = c->rx;
    cfg.rx_size = sizeof c->rx;
    cfg.inflight = c->inflight;
    cfg.inflight_count = 32;
    cfg.copy = c->copy;
    cfg.copy_size = sizeof c->copy;
    cfg.subs = c->subs;
    cfg.sub_count = 4;
    cfg.alias_out = (tern_mqtt_alias_mem_t){ c->alias_out, sizeof c->alias_out, 4 };
    cfg.alias_in = (tern_mqtt_alias_mem_t){ c->alias_in, sizeof c->alias_in, 4 };
    cfg.timeout_ms = 3000;
    cfg.on_event = on_event;
    cfg.user = c;
    assert_int_equal(tern_mqtt_init(&c->m, &cfg), TERN_OK);
}

typedef bool (*until_fn)(void);

/* Poll both clients (either may be idle) until @p until, or fail after WAIT_MS. */
static void run_until(until_fn until, const char *what)
{
    tern_ms_t end = tern_deadline_in(now_ms(), WAIT_MS);
    client_t *cs[2] = { &g_a, &g_b };
    for (;;) {
        for (int i = 0; i < 2; i++) {
            if (cs[i]->conn_open) {
                (void)tern_mqtt_poll(&cs[i]->m, now_ms());
            }
        }
        if (until()) {
            return;
        }
        if (tern_deadline_passed(now_ms(), end)) {
            fail_msg("timed out waiting for %s", what);
        }
        client_t *w = g_a.conn_open ? &g_a : &g_b;
        if (w->conn_open) {
            (void)tern_posix_conn_wait(&w->conn, tern_mqtt_want_write(&w->m), 5);
        }
        if (g_b.conn_open && w != &g_b) {
            (void)tern_posix_conn_wait(&g_b.conn, tern_mqtt_want_write(&g_b.m), 0);
        }
    }
}

/* Run for @p ms, whatever happens (to let late duplicates show up). */
static tern_ms_t g_settle_end;
static bool settled(void)
{
    return tern_deadline_passed(now_ms(), g_settle_end);
}
static void settle(uint32_t ms)
{
    g_settle_end = tern_deadline_in(now_ms(), ms);
    run_until(settled, "settling");
}

static client_t *g_wait;
static size_t g_want;
static bool is_connected_or_ended(void)
{
    return g_wait->connected || g_wait->ended;
}
static bool is_ended(void)
{
    return g_wait->ended != 0;
}
static bool has_subacks(void)
{
    return (size_t)g_wait->subacks >= g_want;
}
static bool has_msgs(void)
{
    return g_wait->nmsg >= g_want;
}
static bool has_published(void)
{
    return g_wait->published + g_wait->publish_failed >= g_want;
}

static void wait_for(client_t *c, until_fn fn, size_t want, const char *what)
{
    g_wait = c;
    g_want = want;
    run_until(fn, what);
}

/* Open the transport and run CONNECT..CONNACK. */
static tern_err_t cl_connect(client_t *c, uint16_t port, const tern_posix_tls_config_t *tls,
                             tern_mqtt_version_t ver, bool clean, const tern_mqtt_will_t *will,
                             uint16_t keep_alive)
{
    tern_posix_conn_config_t cc = { "127.0.0.1", port, NULL, tls };
    tern_err_t e = tern_posix_conn_establish(&c->conn, &cc, &g_clock, 5000);
    if (e != TERN_OK) {
        tern_posix_conn_close(&c->conn);
        return e;
    }
    c->conn_open = true;
    tern_transport_t t = tern_posix_conn_transport(&c->conn);
    tern_mqtt_connect_t cn;
    memset(&cn, 0, sizeof cn);
    cn.client_id.ptr = (const uint8_t *)c->id;
    cn.client_id.len = strlen(c->id);
    cn.keep_alive = keep_alive;
    cn.clean_start = clean;
    if (!clean) {
        cn.props.present = TERN_MQTT_HAS_SESSION_EXPIRY; /* MQTT 5: keep it an hour */
        cn.props.session_expiry = 3600;
    }
    if (will) {
        cn.has_will = true;
        cn.will = *will;
    }
    c->connected = c->ended = 0;
    e = tern_mqtt_connect(&c->m, &t, ver, &cn, now_ms());
    assert_int_equal(e, TERN_OK);
    wait_for(c, is_connected_or_ended, 0, "CONNACK");
    if (!c->connected) {
        tern_posix_conn_close(&c->conn);
        c->conn_open = false;
        return c->end_err;
    }
    return TERN_OK;
}

/* Orderly DISCONNECT, then close. */
static void cl_disconnect(client_t *c)
{
    if (tern_mqtt_disconnect(&c->m, 0, NULL) == TERN_OK) {
        wait_for(c, is_ended, 0, "DISCONNECT");
    }
    tern_posix_conn_close(&c->conn);
    c->conn_open = false;
}

/* Close the transport with no DISCONNECT: an abnormal end for the broker. */
static void cl_drop(client_t *c)
{
    tern_posix_conn_close(&c->conn);
    c->conn_open = false;
}

static void cl_subscribe(client_t *c, const char *filter, uint8_t options)
{
    tern_mqtt_sub_t s = { { (const uint8_t *)filter, strlen(filter) }, options };
    int before = c->subacks;
    assert_int_equal(tern_mqtt_subscribe(&c->m, &s, 1, 0, NULL), TERN_OK);
    wait_for(c, has_subacks, (size_t)before + 1, "SUBACK");
    assert_true(c->suback_reason < 0x80);
}

static tern_err_t cl_publish(client_t *c, const char *topic, const char *payload, uint8_t qos,
                             bool retain, uint32_t token)
{
    tern_mqtt_publish_t p = tern_test_msg(topic, payload, qos);
    p.retain = retain;
    return tern_mqtt_publish(&c->m, &p, token, NULL);
}

static size_t count_payload(const client_t *c, const char *payload)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nmsg; i++) {
        n += strcmp(c->msg[i].payload, payload) == 0;
    }
    return n;
}

static void start_broker(tern_broker_t *b, bool persistence, const char *extra)
{
    tern_broker_config_t cfg;
    tern_broker_config_default(&cfg);
    cfg.persistence = persistence;
    cfg.extra = extra;
    assert_int_equal(tern_broker_start(b, &cfg), TERN_OK);
}

static tern_broker_t g_broker;

static int teardown(void **state)
{
    (void)state;
    if (g_a.conn_open) {
        cl_drop(&g_a);
    }
    if (g_b.conn_open) {
        cl_drop(&g_b);
    }
    tern_broker_close(&g_broker);
    return 0;
}

static int setup(void **state)
{
    (void)state; /* the protocol version, for the tests that run with both */
    memset(&g_broker, 0, sizeof g_broker);
    return 0;
}

static const tern_mqtt_version_t k_v311 = TERN_MQTT_PROTO_V311, k_v5 = TERN_MQTT_PROTO_V5;

/* One test function, run once per protocol version (the version is its state). */
#define BOTH_VERSIONS(f)                                 \
    { #f "_v311", f, setup, teardown, (void *)&k_v311 }, \
    {                                                    \
#f "_v5", f, setup, teardown, (void *)&k_v5      \
    }

/* ------------------------------------------------------------------ tests -- */

/* Publish to ourselves at QoS 0, 1 and 2 through a subscription at QoS 2. */
static void test_qos_roundtrip(void **state)
{
    tern_mqtt_version_t ver = *(const tern_mqtt_version_t *)*state;
    start_broker(&g_broker, false, NULL);
    cl_init(&g_a, ver == TERN_MQTT_PROTO_V5 ? "rt-v5" : "rt-v311");
    assert_int_equal(cl_connect(&g_a, g_broker.port, NULL, ver, true, NULL, 30), TERN_OK);
    assert_false(g_a.session_present);
    cl_subscribe(&g_a, "rt/#", 2);
    assert_int_equal(g_a.suback_reason, 2);
    assert_int_equal(cl_publish(&g_a, "rt/0", "q0", 0, false, 0), TERN_OK);
    assert_int_equal(cl_publish(&g_a, "rt/1", "q1", 1, false, 1), TERN_OK);
    assert_int_equal(cl_publish(&g_a, "rt/2", "q2", 2, false, 2), TERN_OK);
    wait_for(&g_a, has_msgs, 3, "three messages");
    wait_for(&g_a, has_published, 2, "PUBACK and PUBCOMP");
    settle(200);
    assert_int_equal(g_a.nmsg, 3);
    assert_int_equal(g_a.publish_failed, 0);
    for (size_t i = 0; i < 3; i++) {
        const got_t *g = &g_a.msg[i];
        assert_int_equal(g->topic[3] - '0', g->qos); /* the QoS it was published at */
        assert_int_equal(g->payload[1] - '0', g->qos);
        assert_false(g->retain);
    }
    assert_int_equal(tern_mqtt_pending(&g_a.m), 0);
    cl_disconnect(&g_a);
    assert_int_equal(g_a.end_type, TERN_MQTT_EV_DISCONNECTED);
    assert_int_equal(g_a.end_err, TERN_OK);
}

/* A retained message reaches a later subscriber with the retain flag (both versions). */
static void test_retained(void **state)
{
    (void)state;
    start_broker(&g_broker, false, NULL);
    cl_init(&g_a, "ret-pub");
    assert_int_equal(cl_connect(&g_a, g_broker.port, NULL, TERN_MQTT_PROTO_V311, true, NULL, 30),
                     TERN_OK);
    assert_int_equal(cl_publish(&g_a, "ret/state", "on", 1, true, 1), TERN_OK);
    wait_for(&g_a, has_published, 1, "PUBACK");
    cl_disconnect(&g_a);
    cl_init(&g_b, "ret-sub");
    assert_int_equal(cl_connect(&g_b, g_broker.port, NULL, TERN_MQTT_PROTO_V5, true, NULL, 30),
                     TERN_OK);
    assert_true(g_b.lim.retain_available);
    cl_subscribe(&g_b, "ret/#", 1);
    wait_for(&g_b, has_msgs, 1, "the retained message");
    assert_string_equal(g_b.msg[0].topic, "ret/state");
    assert_string_equal(g_b.msg[0].payload, "on");
    assert_true(g_b.msg[0].retain);
    /* retain handling 2: no retained messages on subscribe */
    cl_subscribe(&g_b, "ret/+", 1 | TERN_MQTT_SUB_RETAIN_HANDLING(2));
    settle(200);
    assert_int_equal(g_b.nmsg, 1);
    cl_disconnect(&g_b);
}

/* Closing the transport without DISCONNECT makes the broker publish the will. */
static void test_will_on_abnormal_close(void **state)
{
    tern_mqtt_version_t ver = *(const tern_mqtt_version_t *)*state;
    tern_mqtt_will_t w;
    memset(&w, 0, sizeof w);
    w.topic = TERN_MQTT_STR("will/dev");
    w.payload = ver == TERN_MQTT_PROTO_V5 ? TERN_MQTT_STR("gone-v5") : TERN_MQTT_STR("gone-v311");
    w.qos = 1;
    if (ver == TERN_MQTT_PROTO_V5) {
        w.props.present = TERN_MQTT_HAS_CONTENT_TYPE;
        w.props.content_type = TERN_MQTT_STR("text/plain");
    }
    start_broker(&g_broker, false, NULL);
    cl_init(&g_b, "will-watch");
    assert_int_equal(cl_connect(&g_b, g_broker.port, NULL, TERN_MQTT_PROTO_V5, true, NULL, 30),
                     TERN_OK);
    cl_subscribe(&g_b, "will/#", 1);
    cl_init(&g_a, "will-dev");
    assert_int_equal(cl_connect(&g_a, g_broker.port, NULL, ver, true, &w, 30), TERN_OK);
    settle(100);
    assert_int_equal(g_b.nmsg, 0);
    cl_drop(&g_a);
    wait_for(&g_b, has_msgs, 1, "the will");
    assert_string_equal(g_b.msg[0].topic, "will/dev");
    assert_memory_equal(g_b.msg[0].payload, w.payload.ptr, w.payload.len);
    /* an orderly DISCONNECT sends no will */
    cl_init(&g_a, "will-dev");
    assert_int_equal(cl_connect(&g_a, g_broker.port, NULL, ver, true, &w, 30), TERN_OK);
    cl_disconnect(&g_a);
    settle(300);
    assert_int_equal(g_b.nmsg, 1);
    cl_disconnect(&g_b);
}

/*
 * Session resumption across a broker restart, persistence on: messages acked
 * before, in flight at the stop, and published while the broker is down all
 * arrive after the restart; the QoS 2 ones exactly once.
 */
static char g_payloads[32][8];
static const char *payload_n(int i)
{
    snprintf(g_payloads[i], sizeof g_payloads[i], "m%02d", i);
    return g_payloads[i];
}

static bool both_ended(void)
{
    return g_a.ended && g_b.ended;
}

static void test_session_resume_across_restart(void **state)
{
    tern_mqtt_version_t ver = *(const tern_mqtt_version_t *)*state;
    enum { N = 24 };
    start_broker(&g_broker, true, NULL);
    cl_init(&g_b, ver == TERN_MQTT_PROTO_V5 ? "res-sub5" : "res-sub3");
    cl_init(&g_a, ver == TERN_MQTT_PROTO_V5 ? "res-pub5" : "res-pub3");
    assert_int_equal(cl_connect(&g_b, g_broker.port, NULL, ver, false, NULL, 30), TERN_OK);
    cl_subscribe(&g_b, "res/#", 2);
    assert_int_equal(cl_connect(&g_a, g_broker.port, NULL, ver, false, NULL, 30), TERN_OK);
    /* 0..7 complete before the stop */
    for (int i = 0; i < 8; i++) {
        assert_int_equal(
            cl_publish(&g_a, "res/x", payload_n(i), (uint8_t)(1 + i % 2), false, (uint32_t)i),
            TERN_OK);
    }
    wait_for(&g_a, has_published, 8, "the first acks");
    /* 8..15 are in flight when the broker stops */
    for (int i = 8; i < 16; i++) {
        assert_int_equal(
            cl_publish(&g_a, "res/x", payload_n(i), (uint8_t)(1 + i % 2), false, (uint32_t)i),
            TERN_OK);
    }
    (void)tern_mqtt_poll(&g_a.m, now_ms()); /* they leave, unacknowledged */
    assert_int_equal(tern_broker_stop(&g_broker), TERN_OK);
    run_until(both_ended, "both links to drop");
    cl_drop(&g_a);
    cl_drop(&g_b);
    /* 16..23 are published while the broker is down: queued in the in-flight table */
    for (int i = 16; i < N; i++) {
        assert_int_equal(
            cl_publish(&g_a, "res/x", payload_n(i), (uint8_t)(1 + i % 2), false, (uint32_t)i),
            TERN_OK);
    }
    assert_int_equal(tern_broker_restart(&g_broker), TERN_OK);
    assert_int_equal(cl_connect(&g_b, g_broker.port, NULL, ver, false, NULL, 30), TERN_OK);
    assert_true(g_b.session_present);
    assert_int_equal(cl_connect(&g_a, g_broker.port, NULL, ver, false, NULL, 30), TERN_OK);
    assert_true(g_a.session_present);
    wait_for(&g_a, has_published, N, "every publish to finish");
    assert_int_equal(g_a.publish_failed, 0);
    assert_int_equal(tern_mqtt_pending(&g_a.m), 0);
    for (int i = 0; i < N; i++) {
        g_wait = &g_b;
        tern_ms_t end = tern_deadline_in(now_ms(), WAIT_MS);
        while (count_payload(&g_b, payload_n(i)) == 0 && !tern_deadline_passed(now_ms(), end)) {
            settle(10);
        }
    }
    settle(500); /* late duplicates would show up now */
    for (int i = 0; i < N; i++) {
        size_t n = count_payload(&g_b, payload_n(i));
        if (i % 2) {
            assert_int_equal(n, 1); /* QoS 2: exactly once */
        } else if (n < 1) {
            fail_msg("QoS 1 message %d lost", i);
        }
    }
    cl_disconnect(&g_a);
    cl_disconnect(&g_b);
}

/* Never more unacknowledged QoS>0 publishes than the broker's Receive Maximum. */
static size_t on_wire(const client_t *c)
{
    size_t n = 0;
    for (size_t i = 0; i < 32; i++) {
        const tern_mqtt_inflight_t *r = &c->inflight[i];
        n += r->stage != TERN_MQTT_STAGE_FREE && r->stage != TERN_MQTT_STAGE_PUBREL &&
             (!(r->flags & TERN_MQTT_IF_PENDING) || r->stage == TERN_MQTT_STAGE_PUBCOMP);
    }
    return n;
}

static void test_receive_maximum(void **state)
{
    (void)state;
    enum { N = 16 }; /* all our records: 32, less 16 kept for the broker's QoS 2 */
    start_broker(&g_broker, false, "max_inflight_messages 2\n");
    cl_init(&g_a, "rm");
    assert_int_equal(cl_connect(&g_a, g_broker.port, NULL, TERN_MQTT_PROTO_V5, true, NULL, 30),
                     TERN_OK);
    assert_int_equal(g_a.lim.receive_max, 2);
    cl_subscribe(&g_a, "rm/#", 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(
            cl_publish(&g_a, "rm/x", payload_n(i), (uint8_t)(1 + i % 2), false, (uint32_t)i),
            TERN_OK);
    }
    size_t most = 0;
    tern_ms_t end = tern_deadline_in(now_ms(), WAIT_MS);
    while (g_a.published < N && !tern_deadline_passed(now_ms(), end)) {
        (void)tern_mqtt_poll(&g_a.m, now_ms());
        size_t n = on_wire(&g_a);
        most = n > most ? n : most;
        assert_in_range(n, 0, 2);
        (void)tern_posix_conn_wait(&g_a.conn, tern_mqtt_want_write(&g_a.m), 5);
    }
    if (g_a.published != N) {
        for (size_t i = 0; i < 32; i++) {
            const tern_mqtt_inflight_t *r = &g_a.inflight[i];
            print_error("rec %zu: id %u stage %u flags %u order %u\n", i, r->packet_id, r->stage,
                        r->flags, (unsigned)r->order);
        }
        print_error("ended %d err %d nmsg %zu\n", g_a.ended, g_a.end_err, g_a.nmsg);
        tern_broker_print_log(&g_broker);
    }
    assert_int_equal(g_a.published, N);
    assert_int_equal(most, 2); /* the window was used, never exceeded */
    wait_for(&g_a, has_msgs, N, "every message back");
    cl_disconnect(&g_a);
}

/* Outbound topic aliases are accepted by the broker: every message arrives under its topic. */
static void test_topic_aliases(void **state)
{
    (void)state;
    static const char *const topics[6] = { "al/a", "al/b", "al/c", "al/d", "al/e", "al/f" };
    start_broker(&g_broker, false, NULL);
    cl_init(&g_a, "alias");
    assert_int_equal(cl_connect(&g_a, g_broker.port, NULL, TERN_MQTT_PROTO_V5, true, NULL, 30),
                     TERN_OK);
    assert_int_equal(g_a.lim.alias_max, 4); /* ours: 4, mosquitto's: 10 */
    cl_subscribe(&g_a, "al/#", 1);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 6; i++) {
            int k = round * 6 + i;
            assert_int_equal(cl_publish(&g_a, topics[i], payload_n(k), 1, false, (uint32_t)k),
                             TERN_OK);
        }
        wait_for(&g_a, has_published, (size_t)(round + 1) * 6, "a round of PUBACKs");
    }
    wait_for(&g_a, has_msgs, 18, "every aliased message");
    wait_for(&g_a, has_published, 18, "every PUBACK");
    for (size_t i = 0; i < 18; i++) {
        int k = atoi(g_a.msg[i].payload + 1);
        assert_string_equal(g_a.msg[i].topic, topics[k % 6]);
    }
    assert_true(tern_mqtt_connected(&g_a.m));
    cl_disconnect(&g_a);
}

/* A broker that stops answering: PINGREQ unanswered, link dead within keep-alive + timeout. */
static void test_keepalive_dead_broker(void **state)
{
    (void)state;
    start_broker(&g_broker, false, NULL);
    cl_init(&g_a, "ka");
    assert_int_equal(cl_connect(&g_a, g_broker.port, NULL, TERN_MQTT_PROTO_V311, true, NULL, 1),
                     TERN_OK);
    settle(1500); /* pings answered meanwhile */
    assert_int_equal(g_a.ended, 0);
    assert_int_equal(tern_broker_pause(&g_broker), TERN_OK);
    tern_ms_t t0 = now_ms();
    wait_for(&g_a, is_ended, 0, "the keep-alive timeout");
    assert_int_equal(tern_broker_resume(&g_broker), TERN_OK);
    assert_int_equal(g_a.end_type, TERN_MQTT_EV_LINK_DEAD);
    assert_int_equal(g_a.end_err, TERN_ERR_TIMEOUT);
    assert_in_range(tern_time_elapsed(now_ms(), t0), 0, 1000 + 3000 + 500);
    cl_drop(&g_a);
}

/* TLS: server authentication, then mTLS (with and without a client certificate). */
static void test_tls_and_mtls(void **state)
{
    (void)state;
    tern_testpki_t pki;
    assert_int_equal(tern_testpki_make(&pki), TERN_OK);
    tern_broker_config_t cfg;
    tern_broker_config_default(&cfg);
    cfg.ntls = 2;
    cfg.tls[0] = (tern_broker_tls_t){ pki.ca.crt, pki.server.crt, pki.server.key, false };
    cfg.tls[1] = (tern_broker_tls_t){ pki.ca.crt, pki.server.crt, pki.server.key, true };
    if (tern_broker_start(&g_broker, &cfg) != TERN_OK) {
        tern_testpki_remove(&pki);
        fail_msg("broker with TLS listeners did not start");
    }
    tern_posix_tls_config_t tls;
    memset(&tls, 0, sizeof tls);
    tls.ca_file = pki.ca.crt;
    tls.hostname = "localhost";
    for (int l = 0; l < 2; l++) {
        tern_mqtt_version_t ver = l == 0 ? TERN_MQTT_PROTO_V5 : TERN_MQTT_PROTO_V311;
        if (l == 1) {
            tls.cert_file = pki.client.crt;
            tls.key_file = pki.client.key;
        }
        cl_init(&g_a, l == 0 ? "tls" : "mtls");
        assert_int_equal(cl_connect(&g_a, g_broker.tls_port[l], &tls, ver, true, NULL, 30),
                         TERN_OK);
        cl_subscribe(&g_a, "tls/#", 2);
        assert_int_equal(cl_publish(&g_a, "tls/x", "secret", 2, false, 1), TERN_OK);
        wait_for(&g_a, has_msgs, 1, "the message over TLS");
        wait_for(&g_a, has_published, 1, "PUBCOMP over TLS");
        assert_string_equal(g_a.msg[0].payload, "secret");
        cl_disconnect(&g_a);
    }
    /* mTLS without a certificate: refused */
    tls.cert_file = tls.key_file = NULL;
    cl_init(&g_a, "mtls-anon");
    assert_int_not_equal(
        cl_connect(&g_a, g_broker.tls_port[1], &tls, TERN_MQTT_PROTO_V5, true, NULL, 30), TERN_OK);
    assert_false(tern_mqtt_connected(&g_a.m));
    tern_broker_close(&g_broker);
    tern_testpki_remove(&pki);
}

int main(void)
{
    tern_posix_clock_init(&g_posix_clock, 0);
    g_clock = tern_posix_clock_hal(&g_posix_clock);
    const struct CMUnitTest tests[] = {
        BOTH_VERSIONS(test_qos_roundtrip),
        cmocka_unit_test_setup_teardown(test_retained, setup, teardown),
        BOTH_VERSIONS(test_will_on_abnormal_close),
        BOTH_VERSIONS(test_session_resume_across_restart),
        cmocka_unit_test_setup_teardown(test_receive_maximum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topic_aliases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_dead_broker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_and_mtls, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
