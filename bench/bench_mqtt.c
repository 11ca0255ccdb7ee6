/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MQTT publish throughput over loopback to one real mosquitto, one
 * connection, 64-byte payloads: tern's session (with the POSIX TCP transport)
 * against a client written with Debian's libmosquitto doing the same work, in
 * the same run. QoS 0 and QoS 1 with the same in-flight window (20, the
 * libmosquitto default). Each run ends with a QoS 1 marker whose PUBACK proves
 * the broker has taken every message before it, so both sides are timed to
 * the same point. Messages per second, higher is better; best of RUNS.
 */
#define _POSIX_C_SOURCE 200809L
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_clock.h"

#include "tern/mqtt.h"
#include "tern/port/posix.h"
#include "tern/port/posix_conn.h"
#include "tern_broker.h"

enum { PAYLOAD = 64, WINDOW = 20, RUNS = 5 };
static const uint32_t k_count[3] = { 200000, 50000, 0 }; /* by QoS */
static uint8_t g_payload[PAYLOAD];

/* ------------------------------------------------------------------ tern -- */

typedef struct {
    bool ended;
    uint32_t acked;
    bool marker_done;
} tern_side_t;

static void tern_event(void *user, const tern_mqtt_event_t *ev)
{
    tern_side_t *s = user;
    switch (ev->type) {
    case TERN_MQTT_EV_PUBLISHED:
        if (ev->token == UINT32_MAX) {
            s->marker_done = true;
        } else {
            s->acked++;
        }
        break;
    case TERN_MQTT_EV_DISCONNECTED:
    case TERN_MQTT_EV_LINK_DEAD:
        s->ended = true;
        break;
    default:
        break;
    }
}

static tern_err_t tern_reproduce(void *user, const tern_mqtt_inflight_t *rec,
                                 tern_mqtt_publish_t *msg)
{
    (void)user;
    memset(msg, 0, sizeof *msg);
    msg->qos = 1;
    msg->topic = TERN_MQTT_STR("bench/tern");
    msg->payload.ptr = g_payload;
    msg->payload.len = rec->token == UINT32_MAX ? 1 : PAYLOAD;
    return TERN_OK;
}

static bool until_marker(void *arg)
{
    const tern_side_t *s = arg;
    return s->marker_done || s->ended;
}

/* Messages per second for @p n publishes at @p qos, or a negative value on failure. */
static double run_tern(uint16_t port, uint8_t qos, uint32_t n)
{
    static uint8_t tx[64 * 1024], rx[16 * 1024];
    static tern_mqtt_inflight_t inflight[WINDOW + 2];
    tern_side_t side = { 0 };
    tern_posix_clock_t clk;
    tern_posix_clock_init(&clk, 0);
    tern_clock_t clock = tern_posix_clock_hal(&clk);
    tern_posix_conn_config_t ccfg = { "127.0.0.1", port, NULL, NULL };
    tern_posix_conn_t conn;
    tern_mqtt_t m;
    tern_mqtt_config_t cfg = {
        .tx = tx,
        .rx = rx,
        .tx_size = sizeof tx,
        .rx_size = sizeof rx,
        .inflight = inflight,
        .inflight_count = WINDOW + 2,
        .on_event = tern_event,
        .reproduce = tern_reproduce,
        .user = &side,
    };
    tern_mqtt_connect_t cn = { .client_id = TERN_MQTT_STR("bench-tern"),
                               .keep_alive = 60,
                               .clean_start = true };
    if (tern_posix_conn_establish(&conn, &ccfg, &clock, 5000) != TERN_OK ||
        tern_mqtt_init(&m, &cfg) != TERN_OK) {
        return -1;
    }
    double t0 = 0;
    tern_err_t err = tern_posix_mqtt_connect(&m, &conn, &clock, TERN_MQTT_PROTO_V311, &cn, 5000);
    if (err == TERN_OK) {
        tern_mqtt_publish_t msg = { .qos = qos,
                                    .topic = TERN_MQTT_STR("bench/tern"),
                                    .payload = { g_payload, PAYLOAD } };
        t0 = bench_now_s();
        for (uint32_t i = 0; i < n && err == TERN_OK; i++) {
            err = tern_posix_mqtt_publish(&m, &conn, &clock, &msg, i, 60000);
        }
        msg.qos = 1; /* the marker */
        msg.payload.len = 1;
        if (err == TERN_OK) {
            err = tern_posix_mqtt_publish(&m, &conn, &clock, &msg, UINT32_MAX, 60000);
        }
        if (err == TERN_OK) {
            err = tern_posix_mqtt_run(&m, &conn, &clock, until_marker, &side, 60000);
        }
    }
    double dt = bench_now_s() - t0;
    tern_posix_conn_close(&conn);
    bool ok = err == TERN_OK && side.marker_done && (qos == 0 || side.acked == n);
    return ok ? (double)n / dt : -1;
}

/* ------------------------------------------------------- libmosquitto -- */

typedef struct {
    bool connected, marker_done;
    int marker_mid;
    uint32_t published;
} mosq_side_t;

static void mosq_on_connect(struct mosquitto *mq, void *user, int rc)
{
    (void)mq;
    ((mosq_side_t *)user)->connected = rc == 0;
}

static void mosq_on_publish(struct mosquitto *mq, void *user, int mid)
{
    mosq_side_t *s = user;
    (void)mq;
    if (mid == s->marker_mid) {
        s->marker_done = true;
    } else {
        s->published++;
    }
}

static double run_mosquitto(uint16_t port, uint8_t qos, uint32_t n)
{
    mosq_side_t side = { 0 };
    side.marker_mid = -1;
    struct mosquitto *mq = mosquitto_new("bench-mosquitto", true, &side);
    if (!mq) {
        return -1;
    }
    mosquitto_int_option(mq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_max_inflight_messages_set(mq, WINDOW);
    mosquitto_connect_callback_set(mq, mosq_on_connect);
    mosquitto_publish_callback_set(mq, mosq_on_publish);
    double rate = -1;
    if (mosquitto_connect(mq, "127.0.0.1", port, 60) == MOSQ_ERR_SUCCESS) {
        double t_end = bench_now_s() + 5;
        while (!side.connected && bench_now_s() < t_end) {
            mosquitto_loop(mq, 100, 1);
        }
        if (side.connected) {
            double t0 = bench_now_s();
            for (uint32_t i = 0; i < n; i++) {
                int rc = mosquitto_publish(mq, NULL, "bench/mosq", PAYLOAD, g_payload, qos, false);
                if (rc != MOSQ_ERR_SUCCESS) {
                    fprintf(stderr, "bench_mqtt: libmosquitto publish %u: %s\n", i,
                            mosquitto_strerror(rc));
                    break;
                }
                /* Let the library move bytes as a real application loop would. */
                if ((i & 63u) == 63u) {
                    mosquitto_loop(mq, 0, 1);
                }
            }
            mosquitto_publish(mq, &side.marker_mid, "bench/mosq", 1, g_payload, 1, false);
            t_end = bench_now_s() + 60;
            /* libmosquitto may report the marker's PUBACK before the last QoS 0 writes
             * (its QoS 0 callbacks come from a separate queue): wait for both */
            while (!(side.marker_done && side.published == n) && bench_now_s() < t_end) {
                int rc = mosquitto_loop(mq, 100, 1);
                if (rc != MOSQ_ERR_SUCCESS) {
                    fprintf(stderr, "bench_mqtt: libmosquitto loop: %s\n", mosquitto_strerror(rc));
                    break;
                }
            }
            double dt = bench_now_s() - t0;
            if (side.marker_done && side.published == n) {
                rate = (double)n / dt;
            } else {
                fprintf(stderr, "bench_mqtt: libmosquitto: marker %s, %u of %u published\n",
                        side.marker_done ? "acked" : "not acked", side.published, n);
            }
        }
        mosquitto_disconnect(mq);
    }
    mosquitto_destroy(mq);
    return rate;
}

int main(void)
{
    tern_broker_config_t bcfg;
    tern_broker_t broker;
    tern_broker_config_default(&bcfg);
    bcfg.extra = "max_queued_messages 0\n";
    if (tern_broker_start(&broker, &bcfg) != TERN_OK) {
        fprintf(stderr, "bench_mqtt: cannot start mosquitto\n");
        return 1;
    }
    mosquitto_lib_init();
    memset(g_payload, 'x', sizeof g_payload);
    int status = 0;
    double best[2][2] = { { 0, 0 }, { 0, 0 } }; /* [qos][tern, mosquitto] */
    for (int r = 0; r < RUNS; r++) {
        for (uint8_t qos = 0; qos <= 1; qos++) {
            double a = run_tern(broker.port, qos, k_count[qos]);
            double b = run_mosquitto(broker.port, qos, k_count[qos]);
            if (a < 0 || b < 0) {
                fprintf(stderr, "bench_mqtt: a QoS %u run failed (tern %s, libmosquitto %s)\n", qos,
                        a < 0 ? "failed" : "ok", b < 0 ? "failed" : "ok");
                status = 1;
            }
            best[qos][0] = a > best[qos][0] ? a : best[qos][0];
            best[qos][1] = b > best[qos][1] ? b : best[qos][1];
        }
    }
    mosquitto_lib_cleanup();
    tern_broker_close(&broker);
    int maj, min, rev;
    mosquitto_lib_version(&maj, &min, &rev);
    printf("mqtt publish, %d-byte payloads, one connection, loopback mosquitto, best of %d; "
           "reference libmosquitto %d.%d.%d, MQTT 3.1.1, window %d\n",
           PAYLOAD, RUNS, maj, min, rev, WINDOW);
    printf("mqtt_pub_qos0: tern=%.0f msg/s reference=%.0f msg/s ratio=%.3f\n", best[0][0],
           best[0][1], best[0][1] > 0 ? best[0][0] / best[0][1] : 0);
    printf("mqtt_pub_qos1: tern=%.0f msg/s reference=%.0f msg/s ratio=%.3f\n", best[1][0],
           best[1][1], best[1][1] > 0 ? best[1][0] / best[1][1] : 0);
    return status;
}
