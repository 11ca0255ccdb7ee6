/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ternd's telemetry ingest rate against the storage alone, in one run.
 *
 * The stream: DEVICES devices, each sending MESSAGES telemetry messages of
 * the wire contract (tern/wire.h), each a minute of seven sensors at 1 Hz
 * (420 readings) as a compact batch, built with tern's encoder like a device
 * builds it, after its sequence number (4 bytes, as a device's uplink sends
 * it over MQTT 3.1.1, which the publishers here speak).
 *
 * tern: a real mosquitto and a real ternd (started here, SQLite in a scratch
 * directory, dedupe on); DEVICES MQTT clients (libmosquitto, one connection
 * per device, QoS 1) publish every message, and the clock runs from the first
 * publish until ternd's store holds every reading (read from the database).
 * The best of ROUNDS rounds, each with new messages (the next minutes); the
 * last round's messages are then published a second time and must change
 * nothing (exactly once), which is checked but not timed.
 *
 * reference: a bare loop of the same inserts into the same schema, through the
 * same store (ternd_store_open_sqlite()), with the readings decoded
 * beforehand: per message one transaction of the dedupe insert and its
 * readings, as ternd does, and nothing else; the best of ROUNDS, each into a
 * fresh database.
 *
 * Readings stored per second; ratio = ternd / bare loop. The goal is 0.5 or
 * more: the broker, the decoding and the dedupe cost less than the storage.
 */
#define _POSIX_C_SOURCE 200809L
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_clock.h"
#include "store.h"
#include "tern/senml.h"
#include "tern/tsbatch.h"
#include "tern/wire.h"
#include "tern_broker.h"
#include "tern_proc.h"

enum { DEVICES = 20, MESSAGES = 25, SERIES = 7, SECONDS = 60, MSG_MAX = 4096, ROUNDS = 3 };
#define READINGS_PER_MSG (SERIES * SECONDS)
#define TOTAL            ((long)DEVICES * MESSAGES * READINGS_PER_MSG)

typedef struct {
    uint8_t buf[MSG_MAX];
    size_t len;
    uint64_t seq;
} msg_t;

static msg_t g_all[ROUNDS][DEVICES][MESSAGES];
static msg_t (*g_msg)[MESSAGES]; /* this round's */

/* A minute of seven sensors for device @p d, minute @p m (of all rounds), as a telemetry
 * message whose sequence number is m + 1. */
static int build(int d, int m, msg_t *out)
{
    static uint8_t sb[SERIES][512];
    static const struct {
        const char *name, *unit;
        int8_t scale;
        double base, step;
    } k[SERIES] = {
        { "temp", "Cel", -2, 21.0, 0.01 }, { "hum", "%RH", -1, 45.0, 0.1 },
        { "pres", "Pa", 0, 101325, 1 },    { "co2", "ppm", 0, 420, 1 },
        { "batt", "V", -3, 3.7, 0.001 },   { "rssi", "dBm", 0, -71, 1 },
        { "light", "lx", 0, 300, 1 },
    };
    tern_tsb_series_t s[SERIES];
    memset(s, 0, sizeof s);
    for (int i = 0; i < SERIES; i++) {
        s[i] = (tern_tsb_series_t){ .name = k[i].name,
                                    .unit = k[i].unit,
                                    .kind = TERN_TSB_NUM,
                                    .scale = k[i].scale,
                                    .period_ms = 1000,
                                    .buf = sb[i],
                                    .cap = sizeof sb[i] };
        tern_tsb_reset(&s[i]);
    }
    uint64_t t0 = 1764300000000ull + (uint64_t)m * SECONDS * 1000u;
    uint32_t x = (uint32_t)(d * 7919 + m * 104729 + 1);
    for (int j = 0; j < SECONDS; j++) {
        for (int i = 0; i < SERIES; i++) {
            x = x * 1664525u + 1013904223u;
            double v = k[i].base + (double)((int)(x >> 29) - 4) * k[i].step;
            if (tern_tsb_add_num(&s[i], t0 + (uint64_t)j * 1000u, v) != TERN_OK) {
                return -1;
            }
        }
    }
    char bn[64];
    snprintf(bn, sizeof bn, "urn:dev:tern:dev-%02d:", d);
    out->seq = (uint64_t)m + 1;
    out->buf[0] = out->buf[1] = out->buf[2] = 0;
    out->buf[3] = (uint8_t)out->seq;
    size_t n = 0;
    if (tern_tsb_encode(bn, s, SERIES, out->buf + 4, sizeof out->buf - 4, &n) != TERN_OK) {
        return -1;
    }
    out->len = 4 + n;
    return 0;
}

/* Readings in the store (every device's count), read through one connection kept open. */
static void add_readings(void *ctx, const ternd_device_t *dev)
{
    *(long *)ctx += (long)dev->readings;
}

static ternd_store_t *g_reader;

static long stored(const char *db)
{
    char err[256];
    long n = 0;
    if (g_reader == NULL && (g_reader = ternd_store_open_sqlite(db, err, sizeof err)) == NULL) {
        return -1;
    }
    return ternd_store_devices(g_reader, add_readings, &n) != 0 ? -1 : n;
}

/* PUBACKs each device's connection has had. */
static volatile int g_acked[DEVICES];

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
    (void)m;
    (void)mid;
    __atomic_add_fetch((int *)obj, 1, __ATOMIC_SEQ_CST);
}

/* Publish every message of every device, one connection each; 0 once all are acknowledged. */
static int publish_all(uint16_t port)
{
    struct mosquitto *c[DEVICES];
    char id[32], topic[TERN_WIRE_TOPIC_MAX];
    int rc = 0;
    for (int d = 0; d < DEVICES; d++) {
        snprintf(id, sizeof id, "dev-%02d", d);
        g_acked[d] = 0;
        c[d] = mosquitto_new(id, true, (void *)&g_acked[d]);
        if (c[d] != NULL) {
            mosquitto_publish_callback_set(c[d], on_publish);
            (void)mosquitto_int_option(c[d], MOSQ_OPT_SEND_MAXIMUM, 100);
        }
        if (c[d] == NULL || mosquitto_connect(c[d], "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS ||
            mosquitto_loop_start(c[d]) != MOSQ_ERR_SUCCESS) {
            return -1;
        }
    }
    for (int m = 0; m < MESSAGES && rc == 0; m++) {
        for (int d = 0; d < DEVICES && rc == 0; d++) {
            snprintf(id, sizeof id, "dev-%02d", d);
            (void)tern_wire_topic(topic, sizeof topic, id, TERN_WIRE_TELEMETRY, NULL);
            if (mosquitto_publish(c[d], NULL, topic, (int)g_msg[d][m].len, g_msg[d][m].buf, 1,
                                  false) != MOSQ_ERR_SUCCESS) {
                rc = -1;
            }
        }
    }
    double t0 = bench_now_s();
    for (int d = 0; d < DEVICES && rc == 0; d++) { /* every PUBACK in, then DISCONNECT */
        while (__atomic_load_n(&g_acked[d], __ATOMIC_SEQ_CST) < MESSAGES) {
            if (bench_now_s() - t0 > 60) {
                rc = -1;
                break;
            }
            tern_proc_sleep_ms(1);
        }
    }
    for (int d = 0; d < DEVICES; d++) {
        mosquitto_disconnect(c[d]);
        mosquitto_loop_stop(c[d], false);
        mosquitto_destroy(c[d]);
    }
    return rc;
}

/* Wait (up to 120 s) until the store holds @p want readings; the time it took, or -1. */
static double wait_stored(const char *db, long want, double t0)
{
    for (;;) {
        long n = stored(db);
        if (n == want) {
            return bench_now_s() - t0;
        }
        if (n > want || bench_now_s() - t0 > 120) {
            fprintf(stderr, "bench_ingest: the store holds %ld readings, want %ld\n", n, want);
            return -1;
        }
        tern_proc_sleep_ms(10);
    }
}

/* The bare loop: the same inserts, decoded beforehand, in a fresh database. */
static double bare_loop(const char *dir, int round)
{
    static ternd_reading_t rd[DEVICES][MESSAGES][READINGS_PER_MSG];
    static char names[DEVICES][MESSAGES][READINGS_PER_MSG][48];
    static char units[SERIES][8];
    for (int d = 0; d < DEVICES; d++) {
        for (int m = 0; m < MESSAGES; m++) {
            const msg_t *g = &g_msg[d][m];
            bool has;
            uint32_t seq;
            const uint8_t *batch;
            size_t blen;
            tern_tsb_reader_t r;
            tern_senml_rec_t rec;
            if (tern_wire_body(g->buf, g->len, NULL, 0, &has, &seq, &batch, &blen) != TERN_OK ||
                !has) {
                return -1;
            }
            tern_tsb_read_begin(&r, batch, blen);
            int i = 0;
            while (tern_tsb_read_next(&r, &rec) == TERN_OK && i < READINGS_PER_MSG) {
                snprintf(names[d][m][i], sizeof names[d][m][i], "%.*s%.*s", (int)rec.base_name.len,
                         rec.base_name.ptr, (int)rec.name.len, rec.name.ptr);
                char *u = units[i % SERIES];
                snprintf(u, sizeof units[0], "%.*s", (int)rec.unit.len, rec.unit.ptr);
                rd[d][m][i] = (ternd_reading_t){
                    .name = names[d][m][i], .unit = u, .t = rec.t, .kind = TERND_V_NUM, .v = rec.v
                };
                i++;
            }
            if (i != READINGS_PER_MSG) {
                return -1;
            }
        }
    }
    char db[300], err[256];
    snprintf(db, sizeof db, "%s/bare%d.db", dir, round);
    ternd_store_t *s = ternd_store_open_sqlite(db, err, sizeof err);
    if (s == NULL) {
        fprintf(stderr, "bench_ingest: %s\n", err);
        return -1;
    }
    double t0 = bench_now_s();
    for (int m = 0; m < MESSAGES; m++) {
        for (int d = 0; d < DEVICES; d++) {
            char id[16];
            snprintf(id, sizeof id, "dev-%02d", d);
            int64_t now_ms = (int64_t)(bench_now_s() * 1000);
            if (ternd_store_begin(s) != 0 || ternd_store_seen(s, id, now_ms) != 0 ||
                ternd_store_message(s, id, g_msg[d][m].seq, now_ms) != 1) {
                ternd_store_close(s);
                return -1;
            }
            for (int i = 0; i < READINGS_PER_MSG; i++) {
                if (ternd_store_reading(s, id, g_msg[d][m].seq, &rd[d][m][i]) != 0) {
                    ternd_store_close(s);
                    return -1;
                }
            }
            if (ternd_store_commit(s) != 0) {
                ternd_store_close(s);
                return -1;
            }
        }
    }
    double dt = bench_now_s() - t0;
    ternd_store_close(s);
    return dt;
}

int main(int argc, char **argv)
{
    const char *ternd_path = argc == 2 ? argv[1] : TERND_PATH; /* the one built with it */
    if (argc > 2) {
        fprintf(stderr, "usage: bench_ingest [path of ternd]\n");
        return 2;
    }
    for (int r = 0; r < ROUNDS; r++) {
        for (int d = 0; d < DEVICES; d++) {
            for (int m = 0; m < MESSAGES; m++) {
                if (build(d, r * MESSAGES + m, &g_all[r][d][m]) != 0) {
                    fprintf(stderr, "bench_ingest: a batch did not fit\n");
                    return 1;
                }
            }
        }
    }
    char dir[256], state[300], db[320], log[320], port[8];
    if (tern_tmpdir_make(dir, sizeof dir, "bench_ingest") != TERN_OK) {
        return 1;
    }
    snprintf(state, sizeof state, "%s/ternd", dir);
    snprintf(db, sizeof db, "%s/ternd.db", state);
    snprintf(log, sizeof log, "%s/ternd.log", dir);
    tern_broker_t broker;
    tern_broker_config_t bc;
    tern_broker_config_default(&bc);
    bc.extra = "max_queued_messages 100000\nmax_inflight_messages 100\n";
    if (tern_broker_start(&broker, &bc) != TERN_OK) {
        fprintf(stderr, "bench_ingest: mosquitto did not start\n");
        return 1;
    }
    snprintf(port, sizeof port, "%u", (unsigned)broker.port);
    char *args[] = { (char *)ternd_path, "--broker", "127.0.0.1",  "--port", port,
                     "--state-dir",      state,      "--api-port", "0",      NULL };
    tern_proc_t ternd;
    int rc = 1;
    double dt = -1, bare = -1;
    if (tern_proc_spawn(&ternd, args, log) != TERN_OK) {
        fprintf(stderr, "bench_ingest: ternd did not start\n");
        goto out_broker;
    }
    /* ternd is ready once its API has written api.url (it subscribes before that). */
    char url[340];
    snprintf(url, sizeof url, "%s/api.url", state);
    for (int i = 0; i < 1000 && access(url, R_OK) != 0; i++) {
        tern_proc_sleep_ms(10);
    }
    tern_proc_sleep_ms(300);
    mosquitto_lib_init();
    /* The best of ROUNDS for each side: each round new messages (the next minutes). */
    for (int r = 0; r < ROUNDS; r++) {
        g_msg = g_all[r];
        double t0 = bench_now_s();
        if (publish_all(broker.port) != 0) {
            fprintf(stderr, "bench_ingest: publishing failed\n");
            goto out;
        }
        double t = wait_stored(db, (r + 1) * TOTAL, t0);
        if (t < 0) {
            goto out;
        }
        dt = dt < 0 || t < dt ? t : dt;
        double b = bare_loop(dir, r);
        if (b < 0) {
            fprintf(stderr, "bench_ingest: the bare loop failed\n");
            goto out;
        }
        bare = bare < 0 || b < bare ? b : bare;
    }
    /* Every message of the last round again: stored once already, so nothing changes. */
    if (publish_all(broker.port) != 0) {
        goto out;
    }
    tern_proc_sleep_ms(1500);
    if (stored(db) != ROUNDS * TOTAL) {
        fprintf(stderr, "bench_ingest: duplicates were stored\n");
        goto out;
    }
    rc = 0;
out:
    if (g_reader != NULL) {
        ternd_store_close(g_reader);
    }
    mosquitto_lib_cleanup();
    (void)tern_proc_stop(&ternd, 5000);
out_broker:
    tern_broker_close(&broker);
    if (rc == 0) {
        double t = (double)TOTAL / dt, r = (double)TOTAL / bare;
        printf("ingest, %d devices x %d messages x %d readings (compact batches, QoS 1, dedupe "
               "on), best of %d: ternd %.2f s, bare loop %.2f s; the last round sent twice, "
               "stored once\n",
               DEVICES, MESSAGES, READINGS_PER_MSG, ROUNDS, dt, bare);
        printf("ternd_ingest: tern=%.0f readings/s reference=%.0f readings/s ratio=%.3f\n", t, r,
               t / r);
        tern_tmpdir_remove(dir);
    } else {
        fprintf(stderr, "bench_ingest: scratch kept in %s\n", dir);
    }
    return rc;
}
