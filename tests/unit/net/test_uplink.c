/* SPDX-License-Identifier: Apache-2.0 */
/* tern_uplink: outbox + links + session, with the test playing the broker over two
 * in-memory links (one free, one metered) on virtual time, and the outbox on the NOR
 * simulator. Drain order, bulk gating, the sequence number in both protocol versions,
 * failover that resumes the session, a reset that resumes the in-flight flows, the
 * broker's refusals, and a broker that drops the session. Host and Cortex-M4. */
#include <string.h>

#include "tern/uplink.h"
#include "tern_norsim.h"
#include "tern_test.h"

/* ------------------------------------------------ links with a scripted broker -- */

typedef struct wire {
    uint8_t in[2048]; /* broker -> device */
    size_t in_len, in_off;
    uint8_t out[4096]; /* device -> broker */
    size_t out_len, out_off;
    tern_err_t fail; /* the link's poll answers this while set */
    tern_err_t start_result;
    bool open;
    int starts;
} wire_t;

static tern_err_t w_send(void *ctx, const uint8_t *buf, size_t len, size_t *sent)
{
    wire_t *w = ctx;
    if (!w->open) {
        fail_msg("write on a closed link");
    }
    size_t n = len < sizeof w->out - w->out_len ? len : sizeof w->out - w->out_len;
    memcpy(w->out + w->out_len, buf, n);
    w->out_len += n;
    *sent = n;
    return TERN_OK;
}

static tern_err_t w_recv(void *ctx, uint8_t *buf, size_t cap, size_t *got)
{
    wire_t *w = ctx;
    if (!w->open) {
        fail_msg("read on a closed link");
    }
    size_t n = w->in_len - w->in_off;
    n = n < cap ? n : cap;
    memcpy(buf, w->in + w->in_off, n);
    w->in_off += n;
    *got = n;
    return TERN_OK;
}

static const tern_transport_ops_t k_wire_ops = { "wire", w_send, w_recv };

static tern_err_t l_start(void *ctx, tern_ms_t now)
{
    (void)now;
    wire_t *w = ctx;
    w->starts++;
    if (w->start_result != TERN_OK) {
        return w->start_result;
    }
    w->open = true;
    w->fail = TERN_OK;
    w->in_len = w->in_off = w->out_len = w->out_off = 0;
    return TERN_OK;
}

static tern_err_t l_poll(void *ctx, tern_ms_t now)
{
    (void)now;
    wire_t *w = ctx;
    return w->fail;
}

static tern_transport_t l_transport(void *ctx)
{
    tern_transport_t t = { &k_wire_ops, ctx };
    return t;
}

static void l_close(void *ctx)
{
    wire_t *w = ctx;
    w->open = false;
}

static const tern_link_ops_t k_link_ops = { "wire", l_start, l_poll, l_transport, l_close, NULL };

static tern_err_t zero_fill(void *ctx, void *buf, size_t len)
{
    (void)ctx;
    memset(buf, 0, len);
    return TERN_OK;
}

static const tern_rng_ops_t k_zero_rng = { "zero", zero_fill };

/* ---------------------------------------------------------------- fixture -- */

enum { SECTOR = 1024, SECTORS = 16, SIZE = SECTOR * SECTORS, MAXP = 120, INFLIGHT = 8 };

typedef struct fx {
    uint8_t mem[SIZE];
    uint32_t counts[SECTORS];
    tern_norsim_t sim;
    tern_outbox_t ob;
    wire_t w[2];
    tern_link_t links[2];
    tern_backoff_t bo[2];
    tern_link_mgr_t mgr;
    tern_uplink_t up;
    uint8_t tx[1024], rx[512], scratch[TERN_UPLINK_SCRATCH(MAXP)];
    tern_mqtt_inflight_t inflight[INFLIGHT];
    tern_mqtt_version_t ver;
    tern_ms_t now;
    /* what the application saw */
    int online, offline, link_events, rejected;
    uint32_t delivered[64];
    size_t ndelivered;
    bool last_present;
    tern_err_t last_offline, last_rejected;
} fx_t;

static fx_t F;

static void on_event(void *user, const tern_uplink_event_t *ev)
{
    fx_t *f = user;
    switch (ev->type) {
    case TERN_UPLINK_EV_LINK:
        f->link_events++;
        break;
    case TERN_UPLINK_EV_ONLINE:
        f->online++;
        f->last_present = ev->session_present;
        break;
    case TERN_UPLINK_EV_OFFLINE:
        f->offline++;
        f->last_offline = ev->err;
        break;
    case TERN_UPLINK_EV_DELIVERED:
        assert_true(f->ndelivered < 64);
        f->delivered[f->ndelivered++] = ev->seq;
        break;
    case TERN_UPLINK_EV_REJECTED:
        f->rejected++;
        f->last_rejected = ev->err;
        break;
    case TERN_UPLINK_EV_MQTT:
        break;
    }
}

/* Links, outbox and uplink over the flash as it is (a reset keeps F.mem). */
static void boot(fx_t *f, uint32_t bulk_stable_ms)
{
    tern_rng_t rng = { &k_zero_rng, NULL };
    tern_backoff_config_t bc = { TERN_BACKOFF_ADDITIVE, 100, 1000, 0, 0 };
    static const char *const names[2] = { "eth0", "lte0" };
    tern_outbox_config_t oc = { tern_norsim_flash(&f->sim), MAXP, NULL, NULL };
    assert_int_equal(tern_outbox_mount(&f->ob, &oc), TERN_OK);
    memset(f->w, 0, sizeof f->w);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tern_backoff_init(&f->bo[i], &bc, &rng), TERN_OK);
        f->links[i] = (tern_link_t){ .name = names[i],
                                     .kind = i ? TERN_LINK_CELLULAR : TERN_LINK_ETHERNET,
                                     .cost = i ? TERN_LINK_COST_METERED : TERN_LINK_COST_FREE,
                                     .mtu = 1500,
                                     .rank = (uint8_t)i,
                                     .ops = &k_link_ops,
                                     .ctx = &f->w[i],
                                     .backoff = &f->bo[i] };
    }
    tern_link_config_t lc = { 5000, NULL, NULL };
    assert_int_equal(tern_link_init(&f->mgr, f->links, 2, &lc), TERN_OK);
    tern_uplink_config_t uc = {
        .links = &f->mgr,
        .mqtt = { .tx = f->tx,
                  .rx = f->rx,
                  .tx_size = sizeof f->tx,
                  .rx_size = sizeof f->rx,
                  .inflight = f->inflight,
                  .inflight_count = INFLIGHT,
                  .timeout_ms = 3000 },
        .outbox = &f->ob,
        .version = f->ver,
        .qos = 1,
        .bulk_max_cost = TERN_LINK_COST_FREE,
        .bulk_stable_ms = bulk_stable_ms,
        .scratch = f->scratch,
        .scratch_size = sizeof f->scratch,
        .on_event = on_event,
        .user = f,
    };
    uc.connect.client_id = (tern_mqtt_view_t){ (const uint8_t *)"dev-1", 5 };
    uc.connect.clean_start = true; /* the uplink must force it off */
    assert_int_equal(tern_uplink_init(&f->up, &uc), TERN_OK);
}

static void fx_setup(fx_t *f, tern_mqtt_version_t ver, uint32_t bulk_stable_ms)
{
    memset(f, 0, sizeof *f);
    f->ver = ver;
    f->now = 0xFFFFF000u; /* near the wrap */
    tern_norsim_config_t nc = { SIZE, SECTOR, 4, 0, 0, 3 };
    assert_int_equal(tern_norsim_init(&f->sim, &nc, f->mem, f->counts), TERN_OK);
    tern_norsim_format(&f->sim);
    boot(f, bulk_stable_ms);
}

static void poll_at(fx_t *f, uint32_t advance_ms)
{
    f->now += advance_ms;
    assert_int_equal(tern_uplink_poll(&f->up, f->now), TERN_OK);
}

/* The next packet the device sent on link @p i, decoded (views into its buffer). */
static bool take(fx_t *f, int i, tern_mqtt_packet_t *p)
{
    wire_t *w = &f->w[i];
    size_t n;
    if (w->out_off == w->out_len) {
        return false;
    }
    assert_int_equal(tern_mqtt_frame(w->out + w->out_off, w->out_len - w->out_off, &n), TERN_OK);
    assert_int_equal(tern_mqtt_decode(f->ver, w->out + w->out_off, n, p), TERN_OK);
    w->out_off += n;
    return true;
}

static void give(fx_t *f, int i, const tern_mqtt_packet_t *p)
{
    wire_t *w = &f->w[i];
    size_t n;
    assert_int_equal(tern_mqtt_encode(f->ver, p, w->in + w->in_len, sizeof w->in - w->in_len, &n),
                     TERN_OK);
    w->in_len += n;
}

/* The broker answers the CONNECT on link @p i. */
static void accept_connect(fx_t *f, int i, bool session_present)
{
    tern_mqtt_packet_t p;
    assert_true(take(f, i, &p));
    assert_int_equal(p.type, TERN_MQTT_CONNECT);
    assert_false(p.connect.clean_start);
    memset(&p, 0, sizeof p);
    p.type = TERN_MQTT_CONNACK;
    p.connack.session_present = session_present;
    give(f, i, &p);
    poll_at(f, 1);
}

static void puback(fx_t *f, int i, uint16_t id, uint8_t reason)
{
    tern_mqtt_packet_t p;
    memset(&p, 0, sizeof p);
    p.type = TERN_MQTT_PUBACK;
    p.ack.packet_id = id;
    p.ack.reason = reason;
    give(f, i, &p);
}

/* The sequence number a PUBLISH carries, and its application payload. */
static uint32_t seq_of(const fx_t *f, const tern_mqtt_publish_t *m, tern_mqtt_view_t *body)
{
    if (f->ver == TERN_MQTT_PROTO_V311) {
        assert_true(m->payload.len >= 4);
        const uint8_t *b = m->payload.ptr;
        body->ptr = b + 4;
        body->len = m->payload.len - 4;
        return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    }
    *body = m->payload;
    tern_mqtt_prop_t pr;
    uint32_t seq = 0;
    bool found = false;
    size_t cursor = 0;
    while (tern_mqtt_prop_next(&m->props, &cursor, TERN_MQTT_PROP_USER_PROPERTY, &pr) == TERN_OK) {
        if (pr.str.len == 3 && memcmp(pr.str.ptr, "seq", 3) == 0) {
            for (size_t k = 0; k < pr.str2.len; k++) {
                seq = seq * 10u + (uint32_t)(pr.str2.ptr[k] - '0');
            }
            found = true;
        }
    }
    assert_true(found);
    return seq;
}

/* The next PUBLISH on link @p i: topic, body, DUP; its seq and packet id returned. */
static uint32_t expect_pub(fx_t *f, int i, const char *topic, const char *body, bool dup,
                           uint16_t *id)
{
    tern_mqtt_packet_t p;
    tern_mqtt_view_t b;
    assert_true(take(f, i, &p));
    assert_int_equal(p.type, TERN_MQTT_PUBLISH);
    assert_int_equal(p.publish.topic.len, strlen(topic));
    assert_memory_equal(p.publish.topic.ptr, topic, strlen(topic));
    assert_int_equal(p.publish.qos, 1);
    assert_int_equal(p.publish.dup, dup);
    uint32_t seq = seq_of(f, &p.publish, &b);
    assert_int_equal(b.len, strlen(body));
    assert_memory_equal(b.ptr, body, b.len);
    if (id) {
        *id = p.publish.packet_id;
    }
    return seq;
}

static void send(fx_t *f, tern_outbox_prio_t prio, const char *topic, const char *body,
                 uint32_t *seq)
{
    assert_int_equal(tern_uplink_send(&f->up, prio, topic, body, strlen(body), false, seq),
                     TERN_OK);
}

/* The richest protocol this build speaks. */
#define ANY_VER (TERN_MQTT_V5 ? TERN_MQTT_PROTO_V5 : TERN_MQTT_PROTO_V311)

/* A fresh device, online over eth0 with a new session; bulk needs no stable time. */
static void online(fx_t *f, tern_mqtt_version_t ver)
{
    fx_setup(f, ver, 0);
    poll_at(f, 0);
    accept_connect(f, 0, false);
}

/* ------------------------------------------------------------------ tests -- */

static void drain_order_and_bulk_gate(tern_mqtt_version_t ver)
{
    fx_setup(&F, ver, 2000);
    uint32_t sb, sn, sc;
    /* queued while offline: durable before any link is up */
    send(&F, TERN_OUTBOX_BULK, "t/hist", "h1", &sb);
    send(&F, TERN_OUTBOX_NORMAL, "t/tele", "n1", &sn);
    send(&F, TERN_OUTBOX_CRITICAL, "t/alert", "c1", &sc);
    assert_true(sb < sn && sn < sc);
    assert_int_equal(tern_uplink_backlog(&F.up), 3);
    poll_at(&F, 0); /* eth0 comes up, CONNECT goes out */
    assert_false(tern_uplink_online(&F.up));
    accept_connect(&F, 0, false);
    assert_int_equal(F.online, 1);
    uint16_t ic, in, ib;
    assert_int_equal(expect_pub(&F, 0, "t/alert", "c1", false, &ic), sc); /* critical first */
    assert_int_equal(expect_pub(&F, 0, "t/tele", "n1", false, &in), sn);
    tern_mqtt_packet_t p;
    assert_false(take(&F, 0, &p)); /* bulk waits for the stable time */
    assert_false(tern_uplink_bulk_allowed(&F.up, F.now));
    uint32_t wait = tern_uplink_next_timeout(&F.up, F.now);
    assert_true(wait > 0 && wait <= 2000);
    poll_at(&F, 1998); /* 1,998 ms since the CONNACK */
    assert_false(take(&F, 0, &p));
    poll_at(&F, 2);
    assert_true(tern_uplink_bulk_allowed(&F.up, F.now));
    assert_int_equal(expect_pub(&F, 0, "t/hist", "h1", false, &ib), sb);
    /* only a PUBACK takes a record out of the outbox */
    assert_int_equal(tern_uplink_backlog(&F.up), 3);
    puback(&F, 0, in, 0);
    puback(&F, 0, ic, 0);
    poll_at(&F, 1);
    assert_int_equal(tern_uplink_backlog(&F.up), 1);
    assert_int_equal(F.ndelivered, 2);
    assert_int_equal(F.delivered[0], sn);
    assert_int_equal(F.delivered[1], sc);
    puback(&F, 0, ib, 0);
    poll_at(&F, 1);
    assert_int_equal(tern_uplink_backlog(&F.up), 0);
    assert_int_equal(tern_outbox_count(&F.ob, TERN_OUTBOX_BULK), 0);
    /* a new critical record goes at once */
    send(&F, TERN_OUTBOX_CRITICAL, "t/alert", "c2", &sc);
    poll_at(&F, 1);
    assert_int_equal(expect_pub(&F, 0, "t/alert", "c2", false, NULL), sc);
}

static void test_drain_order_and_bulk_gate_v5(void **state)
{
    (void)state;
    drain_order_and_bulk_gate(TERN_MQTT_PROTO_V5);
}

static void test_drain_order_and_bulk_gate_v311(void **state)
{
    (void)state;
    drain_order_and_bulk_gate(TERN_MQTT_PROTO_V311);
}

/* eth0 fails: within one poll the session is on lte0, resumed, the unacknowledged
 * message resent with DUP; no bulk on the metered link; fail back after 5 s stable. */
static void test_failover_resumes_session(void **state)
{
    (void)state;
    uint32_t s1, s2;
    uint16_t id1;
    online(&F, ANY_VER);
    send(&F, TERN_OUTBOX_NORMAL, "t/tele", "n1", &s1);
    send(&F, TERN_OUTBOX_BULK, "t/hist", "h1", &s2);
    poll_at(&F, 1);
    assert_int_equal(expect_pub(&F, 0, "t/tele", "n1", false, &id1), s1);
    (void)expect_pub(&F, 0, "t/hist", "h1", false, NULL);
    F.w[0].fail = TERN_ERR_IO; /* carrier lost */
    poll_at(&F, 1);
    assert_int_equal(F.offline, 1);
    assert_int_equal(F.last_offline, TERN_ERR_LINK_CHANGED);
    assert_false(F.w[0].open);
    assert_true(F.w[1].open); /* the same poll started lte0 and sent CONNECT on it */
    accept_connect(&F, 1, true);
    assert_int_equal(F.online, 2);
    assert_true(F.last_present);
    uint16_t id;
    assert_int_equal(expect_pub(&F, 1, "t/tele", "n1", true, &id), s1);
    assert_int_equal(id, id1);                            /* the same flow, resumed */
    (void)expect_pub(&F, 1, "t/hist", "h1", true, NULL);  /* in flight already: it follows */
    assert_false(tern_uplink_bulk_allowed(&F.up, F.now)); /* metered */
    send(&F, TERN_OUTBOX_BULK, "t/hist", "h2", NULL);
    poll_at(&F, 10);
    tern_mqtt_packet_t p;
    assert_false(take(&F, 1, &p)); /* new bulk waits for a free link */
    puback(&F, 1, id1, 0);
    poll_at(&F, 1);
    assert_int_equal(F.ndelivered, 1);
    /* eth0 heals: its retry comes after the backoff, then 5 s of stability, then back */
    for (int i = 0; i < 80 && tern_link_active(&F.mgr) != &F.links[0]; i++) {
        poll_at(&F, 100);
    }
    assert_ptr_equal(tern_link_active(&F.mgr), &F.links[0]);
    assert_false(F.w[1].open);
    accept_connect(&F, 0, true);
    assert_int_equal(F.online, 3);
    /* the unacknowledged bulk record is resent; the new one goes once stable (0 ms here) */
    (void)expect_pub(&F, 0, "t/hist", "h1", true, NULL);
    (void)expect_pub(&F, 0, "t/hist", "h2", false, NULL);
}

/* A reset between PUBLISH and PUBACK: the next boot resumes the same flow from flash. */
static void test_reset_resumes_inflight(void **state)
{
    (void)state;
    uint32_t s1, s2;
    uint16_t id1;
    online(&F, ANY_VER);
    send(&F, TERN_OUTBOX_NORMAL, "t/a", "one", &s1);
    poll_at(&F, 1);
    assert_int_equal(expect_pub(&F, 0, "t/a", "one", false, &id1), s1);
    send(&F, TERN_OUTBOX_NORMAL, "t/a", "two", &s2); /* queued, never sent */
    /* power cut: RAM is gone, the flash stays */
    tern_norsim_reboot(&F.sim);
    memset(&F.up, 0xA5, sizeof F.up);
    memset(F.inflight, 0, sizeof F.inflight);
    boot(&F, 0);
    assert_int_equal(tern_uplink_backlog(&F.up), 2);
    poll_at(&F, 0);
    accept_connect(&F, 0, true);
    uint16_t id;
    assert_int_equal(expect_pub(&F, 0, "t/a", "one", true, &id), s1);
    assert_int_equal(id, id1);
    uint16_t id2;
    assert_int_equal(expect_pub(&F, 0, "t/a", "two", false, &id2), s2);
    assert_true(id2 != id1);
    tern_mqtt_packet_t p;
    assert_false(take(&F, 0, &p)); /* each exactly once */
    puback(&F, 0, id1, 0);
    puback(&F, 0, id2, 0);
    poll_at(&F, 1);
    assert_int_equal(tern_uplink_backlog(&F.up), 0);
}

/* The broker refuses one message for good and one for now. */
static void test_refusals(void **state)
{
    (void)state;
    if (!TERN_MQTT_V5) {
        skip();
    }
    uint32_t s1, s2;
    uint16_t id1, id2;
    online(&F, TERN_MQTT_PROTO_V5);
    send(&F, TERN_OUTBOX_NORMAL, "t/secret", "x", &s1);
    send(&F, TERN_OUTBOX_NORMAL, "t/busy", "y", &s2);
    poll_at(&F, 1);
    (void)expect_pub(&F, 0, "t/secret", "x", false, &id1);
    (void)expect_pub(&F, 0, "t/busy", "y", false, &id2);
    puback(&F, 0, id1, 0x87); /* not authorized: removed, reported */
    puback(&F, 0, id2, 0x97); /* quota exceeded: kept */
    poll_at(&F, 1);
    assert_int_equal(F.rejected, 1);
    assert_int_equal(F.last_rejected, tern_mqtt_reason_to_err(0x87));
    assert_int_equal(tern_uplink_backlog(&F.up), 1);
    assert_int_equal(tern_outbox_read(&F.ob, s1, NULL, NULL, 0), TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_outbox_read(&F.ob, s2, NULL, NULL, 0), TERN_OK);
    /* it goes again (from the head of the queue), and once acknowledged leaves */
    poll_at(&F, 1);
    uint16_t id;
    assert_int_equal(expect_pub(&F, 0, "t/busy", "y", false, &id), s2);
    puback(&F, 0, id, 0);
    poll_at(&F, 1);
    assert_int_equal(tern_uplink_backlog(&F.up), 0);
    /* a record bigger than the outbox allows is refused at once */
    static const char big[MAXP + 1] = { 0 };
    assert_int_equal(tern_uplink_send(&F.up, TERN_OUTBOX_NORMAL, "t", big, sizeof big, false, NULL),
                     TERN_ERR_RANGE);
}

/* The broker ends the session while the link looks fine: that counts as a failure of
 * the link (closed, the next one tried, eth0 not again before its backoff), and a
 * session the broker lost is rebuilt by publishing again. */
static void test_session_failure_fails_over(void **state)
{
    (void)state;
    uint32_t s1;
    online(&F, ANY_VER);
    send(&F, TERN_OUTBOX_NORMAL, "t/a", "one", &s1);
    poll_at(&F, 1);
    (void)expect_pub(&F, 0, "t/a", "one", false, NULL);
    /* no PINGRESP, no PUBACK: the CONNACK timeout is gone, so cut the stream instead */
    F.w[0].in_len = F.w[0].in_off = 0;
    tern_mqtt_packet_t p;
    memset(&p, 0, sizeof p);
    p.type = TERN_MQTT_DISCONNECT;
    p.disconnect.reason = 0x8B; /* server shutting down */
    give(&F, 0, &p);
    poll_at(&F, 1);
    assert_int_equal(F.offline, 1);
    assert_true(F.last_offline != TERN_OK);
    int starts = F.w[0].starts + F.w[1].starts;
    poll_at(&F, 1); /* the failure is handled: eth0 closed, lte0 tried in the same poll */
    assert_false(F.w[0].open);
    assert_true(F.w[1].open);
    assert_int_equal(F.w[0].starts + F.w[1].starts, starts + 1);
    int eth0_starts = F.w[0].starts;
    poll_at(&F, 50); /* within eth0's first backoff window (100 ms, no jitter) */
    assert_int_equal(F.w[0].starts, eth0_starts);
    accept_connect(&F, 1, false); /* the broker lost the session */
    assert_int_equal(expect_pub(&F, 1, "t/a", "one", false, NULL), s1); /* published anew */
}

static void test_init_checks(void **state)
{
    (void)state;
    fx_setup(&F, TERN_MQTT_PROTO_V311, 0);
    tern_uplink_config_t uc = F.up.c;
    tern_uplink_t u;
    uc.qos = 0;
    assert_int_equal(tern_uplink_init(&u, &uc), TERN_ERR_INVAL);
    uc.qos = 1;
    uc.scratch_size = MAXP;
    assert_int_equal(tern_uplink_init(&u, &uc), TERN_ERR_INVAL);
    uc.scratch_size = sizeof F.scratch;
    uc.mqtt.inflight_count = MAXP / 12 + 1; /* its snapshot would not fit a record */
    assert_int_equal(tern_uplink_init(&u, &uc), TERN_ERR_INVAL);
    assert_int_equal(tern_uplink_send(&F.up, TERN_OUTBOX_NORMAL, "", "x", 1, false, NULL),
                     TERN_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_checks),
        cmocka_unit_test(test_drain_order_and_bulk_gate_v311),
#if TERN_MQTT_V5
        cmocka_unit_test(test_drain_order_and_bulk_gate_v5),
#endif
        cmocka_unit_test(test_failover_resumes_session),
        cmocka_unit_test(test_reset_resumes_inflight),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_session_failure_fails_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
