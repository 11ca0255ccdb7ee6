/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MQTT session on arbitrary server bytes. The first two input bytes pick
 * the protocol version, how many bytes the transport moves per call, the rx
 * buffer size (so large messages stream), a copy store, keep-alive, and
 * whether a valid CONNACK goes first (to reach the connected states at once);
 * the rest is what "the server" sends. The application publishes and
 * subscribes from its callback, as real ones do. Checked: message chunks add
 * up, nothing is reported twice in one state, and the in-flight table the
 * session leaves behind is always one that tern_mqtt_restore() accepts.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"

#include "tern/mqtt.h"

typedef struct peer {
    const uint8_t *in;
    size_t in_len, in_off, io;
    size_t sent;
} peer_t;

static tern_err_t fz_send(void *ctx, const uint8_t *buf, size_t len, size_t *sent)
{
    peer_t *p = ctx;
    (void)buf;
    *sent = len < p->io ? len : p->io;
    p->sent += *sent;
    return TERN_OK;
}

static tern_err_t fz_recv(void *ctx, uint8_t *buf, size_t cap, size_t *got)
{
    peer_t *p = ctx;
    size_t n = p->in_len - p->in_off;
    n = n < p->io ? n : p->io;
    n = n < cap ? n : cap;
    memcpy(buf, p->in + p->in_off, n);
    p->in_off += n;
    *got = n;
    return n == 0 && p->in_off == p->in_len ? TERN_ERR_CLOSED : TERN_OK;
}

static const tern_transport_ops_t k_ops = { "fuzz", fz_send, fz_recv };

typedef struct app {
    tern_mqtt_t *m;
    size_t next_offset;
    bool ended;
    unsigned published;
} app_t;

static void on_event(void *user, const tern_mqtt_event_t *ev)
{
    app_t *a = user;
    static const tern_mqtt_sub_t sub = { { (const uint8_t *)"a/#", 3 }, 1 };
    tern_mqtt_publish_t p;
    memset(&p, 0, sizeof p);
    p.topic.ptr = (const uint8_t *)"t/x";
    p.topic.len = 3;
    p.payload.ptr = (const uint8_t *)"p";
    p.payload.len = 1;
    CHECK(!a->ended);
    switch (ev->type) {
    case TERN_MQTT_EV_CONNECTED:
        (void)tern_mqtt_subscribe(a->m, &sub, 1, 7, NULL);
        p.qos = 2;
        (void)tern_mqtt_publish(a->m, &p, a->published++, NULL);
        break;
    case TERN_MQTT_EV_MESSAGE:
        CHECK(ev->msg != NULL && ev->offset == a->next_offset);
        CHECK(ev->offset + ev->msg->payload.len <= ev->total);
        CHECK(ev->msg->topic.len > 0);
        a->next_offset = ev->offset + ev->msg->payload.len;
        if (a->next_offset == ev->total) {
            a->next_offset = 0;
            p.qos = ev->msg->qos;
            (void)tern_mqtt_publish(a->m, &p, a->published++, NULL); /* answer it */
        }
        break;
    case TERN_MQTT_EV_DISCONNECTED:
    case TERN_MQTT_EV_LINK_DEAD:
        a->ended = true;
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t tx[512], rx[512], copy[8 * 64], aout[2 * 20], ain[2 * 20];
    static tern_mqtt_inflight_t inflight[8], saved[8];
    static tern_mqtt_sub_entry_t subs[2];
    static tern_mqtt_t m;
    if (size < 2) {
        return 0;
    }
    uint8_t f = data[0];
    tern_mqtt_version_t ver = (f & 1) ? TERN_MQTT_PROTO_V5 : TERN_MQTT_PROTO_V311;
    static const size_t ios[4] = { 1, 3, 64, 4096 };
    app_t app = { &m, 0, false, 0 };
    tern_mqtt_config_t cfg = { 0 };
    cfg.tx = tx;
    cfg.tx_size = sizeof tx;
    cfg.rx = rx;
    cfg.rx_size = 16 + data[1] % (sizeof rx - 15);
    cfg.max_packet = 100000;
    cfg.inflight = inflight;
    cfg.inflight_count = 8;
    cfg.copy = (f & 8) ? copy : NULL;
    cfg.copy_size = sizeof copy;
    cfg.subs = subs;
    cfg.sub_count = 2;
    cfg.alias_out = (tern_mqtt_alias_mem_t){ aout, sizeof aout, 2 };
    cfg.alias_in = (tern_mqtt_alias_mem_t){ ain, sizeof ain, 2 };
    cfg.timeout_ms = 3000;
    cfg.on_event = on_event;
    cfg.user = &app;
    CHECK(tern_mqtt_init(&m, &cfg) == TERN_OK);

    /* a CONNACK first, unless the input wants to be the CONNACK itself */
    static uint8_t in[1 << 16];
    size_t n = 0;
    if (!(f & 0x20)) {
        static const uint8_t connack311[] = { 0x20, 0x02, 0x00, 0x00 };
        static const uint8_t connack5[] = { 0x20, 0x06, 0x00, 0x00, 0x03, 0x22, 0x00, 0x02 };
        const uint8_t *c = ver == TERN_MQTT_PROTO_V5 ? connack5 : connack311;
        n = ver == TERN_MQTT_PROTO_V5 ? sizeof connack5 : sizeof connack311;
        memcpy(in, c, n);
    }
    size_t rest = size - 2 < sizeof in - n ? size - 2 : sizeof in - n;
    memcpy(in + n, data + 2, rest);
    peer_t peer = { in, n + rest, 0, ios[(f >> 1) & 3], 0 };
    tern_transport_t t = { &k_ops, &peer };
    tern_mqtt_connect_t c;
    memset(&c, 0, sizeof c);
    c.client_id.ptr = (const uint8_t *)"fz";
    c.client_id.len = 2;
    c.keep_alive = (f & 0x40) ? 2 : 0;
    c.clean_start = (f & 0x80) != 0;
    if (tern_mqtt_connect(&m, &t, ver, &c, 0) != TERN_OK) {
        return 0;
    }
    tern_ms_t now = 0;
    for (int i = 0; i < 100000 && !app.ended; i++) {
        size_t before = peer.in_off + peer.sent;
        (void)tern_mqtt_poll(&m, now);
        if (peer.in_off + peer.sent == before) {
            now += 500; /* nothing moved: let time pass, timers must end it */
        }
    }
    CHECK(app.ended);
    CHECK(!tern_mqtt_connected(&m));

    /* whatever state it was left in survives a reset */
    memcpy(saved, inflight, sizeof saved);
    CHECK(tern_mqtt_init(&m, &cfg) == TERN_OK);
    memcpy(inflight, saved, sizeof saved);
    CHECK(tern_mqtt_restore(&m) == TERN_OK);
    return 0;
}
