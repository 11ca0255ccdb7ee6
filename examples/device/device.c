/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A device on a Linux host: a POSIX board, one MQTT 5 session to a broker,
 * telemetry up and commands down. It publishes a reading every PERIOD ms at
 * QoS 1 on tern/<id>/telemetry, answers each command received on
 * tern/<id>/cmd with a response (MQTT 5 request/response: the command's
 * Response Topic and Correlation Data, or tern/<id>/cmd/resp), and stops on
 * the command "stop". Its loop is the device loop: poll the session, sleep on
 * the socket until the session's next deadline. When the broker goes away it
 * keeps taking readings (the session queues them), reconnects after a
 * full-jitter backoff and resumes its session, so nothing is lost.
 *
 * usage: tern_device HOST PORT DEVICE_ID
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tern/backoff.h"
#include "tern/mqtt.h"
#include "tern/port/posix.h"
#include "tern/port/posix_conn.h"

enum { PERIOD_MS = 500, INFLIGHT = 32 }; /* 32 readings: a 15 s outage */

typedef struct {
    const char *id;
    tern_mqtt_t m;
    bool connected, stop, ended;
    char topic_cmd[96], topic_tele[96], topic_resp[96];
    char reply[160];
    tern_mqtt_view_t reply_topic;
    uint32_t seq;
} device_t;

static tern_mqtt_view_t sview(const char *s)
{
    tern_mqtt_view_t v = { (const uint8_t *)s, strlen(s) };
    return v;
}

static void on_event(void *user, const tern_mqtt_event_t *ev)
{
    device_t *d = user;
    switch (ev->type) {
    case TERN_MQTT_EV_CONNECTED:
        d->connected = true;
        printf("device %s: connected (session present: %s)\n", d->id,
               ev->limits->session_present ? "yes" : "no");
        break;
    case TERN_MQTT_EV_MESSAGE: {
        const tern_mqtt_publish_t *msg = ev->msg;
        int n = (int)msg->payload.len;
        printf("device %s: command received: %.*s\n", d->id, n, (const char *)msg->payload.ptr);
        d->stop = msg->payload.len == 4 && memcmp(msg->payload.ptr, "stop", 4) == 0;
        snprintf(d->reply, sizeof d->reply, "done: %.*s", n > 100 ? 100 : n,
                 (const char *)msg->payload.ptr);
        bool has_rt = (msg->props.present & TERN_MQTT_HAS_RESPONSE_TOPIC) != 0;
        d->reply_topic = has_rt ? msg->props.response_topic : sview(d->topic_resp);
        /* The views die with the callback: the reply is published from here. */
        tern_mqtt_publish_t r = { .qos = 1, .topic = d->reply_topic, .payload = sview(d->reply) };
        if (msg->props.present & TERN_MQTT_HAS_CORRELATION_DATA) {
            r.props.present |= TERN_MQTT_HAS_CORRELATION_DATA;
            r.props.correlation_data = msg->props.correlation_data;
        }
        tern_err_t err = tern_mqtt_publish(&d->m, &r, 0, NULL);
        if (err != TERN_OK) {
            printf("device %s: reply not sent: %s\n", d->id, tern_strerror(err));
        }
        break;
    }
    case TERN_MQTT_EV_DISCONNECTED:
    case TERN_MQTT_EV_LINK_DEAD:
        d->ended = true;
        d->connected = false;
        if (ev->err != TERN_OK) {
            printf("device %s: connection ended: %s\n", d->id, tern_strerror(ev->err));
        }
        break;
    default:
        break;
    }
}

static bool until_ended(void *arg)
{
    return ((const device_t *)arg)->ended;
}

int main(int argc, char **argv)
{
    static uint8_t tx[4096], rx[4096], copy[INFLIGHT * 256];
    static tern_mqtt_inflight_t inflight[INFLIGHT];
    static tern_mqtt_sub_entry_t subs[2];
    static device_t d;
    if (argc != 4) {
        fprintf(stderr, "usage: %s HOST PORT DEVICE_ID\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* interleave sensibly with the operator's output */
    d.id = argv[3];
    snprintf(d.topic_cmd, sizeof d.topic_cmd, "tern/%s/cmd", d.id);
    snprintf(d.topic_tele, sizeof d.topic_tele, "tern/%s/telemetry", d.id);
    snprintf(d.topic_resp, sizeof d.topic_resp, "tern/%s/cmd/resp", d.id);

    tern_posix_board_config_t bcfg;
    tern_posix_board_t board;
    tern_posix_board_config_default(&bcfg);
    if (tern_posix_board_open(&board, &bcfg) != TERN_OK) {
        return 1;
    }
    const tern_hal_t *hal = tern_posix_board_hal(&board);

    tern_posix_conn_config_t ccfg = { argv[1], (uint16_t)atoi(argv[2]), NULL, NULL };
    tern_posix_conn_t conn;
    memset(&conn, 0, sizeof conn);
    conn.tcp.fd = -1;
    tern_mqtt_config_t cfg = {
        .tx = tx,
        .rx = rx,
        .tx_size = sizeof tx,
        .rx_size = sizeof rx,
        .inflight = inflight,
        .inflight_count = INFLIGHT,
        .copy = copy,
        .copy_size = sizeof copy,
        .subs = subs,
        .sub_count = 2,
        .on_event = on_event,
        .user = &d,
    };
    /* Reconnects wait a full-jitter backoff: 0.5 s window doubling up to 8 s. */
    tern_backoff_config_t bcfg2 = { TERN_BACKOFF_FULL_JITTER, 500, 8000, 0, 0 };
    tern_backoff_t backoff;
    tern_err_t err = tern_mqtt_init(&d.m, &cfg);
    if (err == TERN_OK) {
        err = tern_backoff_init(&backoff, &bcfg2, &hal->rng);
    }
    /* Never a clean start: every connect resumes the device's session if the broker
     * has it (Session Present), so the broker keeps the subscription and queued
     * commands, and the session resends what was in flight. */
    tern_mqtt_connect_t cn = { .client_id = sview(d.id), .keep_alive = 5, .clean_start = false };
    cn.props.present = TERN_MQTT_HAS_SESSION_EXPIRY;
    cn.props.session_expiry = 300;
    tern_mqtt_sub_t sub = { sview(d.topic_cmd), 1 };
    bool online = false, subscribed = false;
    tern_ms_t next = tern_clock_now(&hal->clock), retry_at = next;

    /* The device loop: a reading every PERIOD_MS, online or not (the session queues
     * QoS 1 readings while offline); commands whenever they come; reconnect on loss. */
    while (err == TERN_OK && !d.stop) {
        tern_ms_t now = tern_clock_now(&hal->clock);
        if (!online && tern_deadline_passed(now, retry_at)) {
            tern_err_t cerr = tern_posix_conn_establish(&conn, &ccfg, &hal->clock, 2000);
            if (cerr == TERN_OK) {
                d.ended = false;
                cerr = tern_posix_mqtt_connect(&d.m, &conn, &hal->clock, TERN_MQTT_PROTO_V5, &cn,
                                               3000);
            }
            if (cerr == TERN_OK && d.connected) {
                online = true;
                tern_backoff_reset(&backoff);
                if (!subscribed) {
                    err = tern_mqtt_subscribe(&d.m, &sub, 1, 0, NULL);
                    subscribed = err == TERN_OK;
                }
            } else {
                uint32_t delay = 0;
                tern_posix_conn_close(&conn);
                err = tern_backoff_next(&backoff, &delay);
                printf("device %s: broker unreachable (%s), retry %u in %u ms\n", d.id,
                       tern_strerror(cerr), (unsigned)tern_backoff_attempts(&backoff),
                       (unsigned)delay);
                retry_at = tern_deadline_in(tern_clock_now(&hal->clock), delay);
            }
        }
        now = tern_clock_now(&hal->clock);
        if (err == TERN_OK && tern_deadline_passed(now, next)) {
            char body[64];
            uint32_t r;
            (void)tern_rng_uniform(&hal->rng, 200, &r);
            snprintf(body, sizeof body, "{\"seq\":%u,\"temp_c\":%u.%02u}", (unsigned)d.seq,
                     (unsigned)(20 + r / 100), (unsigned)(r % 100));
            tern_mqtt_publish_t p = { .qos = 1,
                                      .topic = sview(d.topic_tele),
                                      .payload = sview(body) };
            tern_err_t perr = tern_mqtt_publish(&d.m, &p, d.seq, NULL);
            if (perr == TERN_OK) {
                d.seq++;
            } else {
                /* the in-flight table is full (long outage): this reading is skipped */
                printf("device %s: reading not queued: %s\n", d.id, tern_strerror(perr));
            }
            next = tern_deadline_in(now, PERIOD_MS);
        }
        if (online) {
            tern_err_t perr = tern_mqtt_poll(&d.m, now);
            if (perr != TERN_OK || d.ended) {
                uint32_t delay = 0;
                online = false;
                d.connected = false;
                tern_posix_conn_close(&conn);
                err = tern_backoff_next(&backoff, &delay);
                printf("device %s: connection lost (%s), reconnecting in %u ms\n", d.id,
                       tern_strerror(perr != TERN_OK ? perr : TERN_ERR_CLOSED), (unsigned)delay);
                retry_at = tern_deadline_in(tern_clock_now(&hal->clock), delay);
                continue;
            }
        }
        tern_ms_t wake = online ? tern_mqtt_next_deadline(&d.m, now) : retry_at;
        if (tern_time_before(next, wake)) {
            wake = next;
        }
        uint32_t wait_ms = tern_deadline_remaining(now, wake);
        if (online) {
            (void)tern_posix_conn_wait(&conn, tern_mqtt_want_write(&d.m), wait_ms);
        } else {
            struct timespec ts = { (time_t)(wait_ms / 1000u), (long)(wait_ms % 1000u) * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
    if (err == TERN_OK && d.stop && online) {
        /* Let the reply to "stop" leave, then say goodbye properly. */
        tern_ms_t until = tern_deadline_in(tern_clock_now(&hal->clock), 2000);
        while (tern_mqtt_pending(&d.m) > 0 &&
               !tern_deadline_passed(tern_clock_now(&hal->clock), until) && err == TERN_OK) {
            err = tern_mqtt_poll(&d.m, tern_clock_now(&hal->clock));
            (void)tern_posix_conn_wait(&conn, tern_mqtt_want_write(&d.m), 50);
        }
        if (tern_mqtt_disconnect(&d.m, 0, NULL) == TERN_OK) {
            (void)tern_posix_mqtt_run(&d.m, &conn, &hal->clock, until_ended, &d, 2000);
        }
    }
    tern_posix_conn_close(&conn);
    tern_posix_board_close(&board);
    if (err != TERN_OK) {
        fprintf(stderr, "device %s: %s\n", d.id, tern_strerror(err));
        return 1;
    }
    printf("device %s: stopped after %u readings\n", d.id, (unsigned)d.seq);
    return d.stop ? 0 : 1;
}
