/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bytes per reading for one realistic stream: ten sensors of mixed types
 * (temperature 0.01 degC, humidity 0.1 %RH, pressure 1 Pa, CO2 1 ppm, battery
 * 1 mV, RSSI 1 dBm, a door switch, vibration 0.001 g, light 1 lx, a state
 * string) sampled at 1 Hz for one hour, each with realistic noise (a seeded
 * random walk) at its sensor's resolution.
 *
 * The reference is how the AWS and Azure samples send telemetry: one JSON object
 * a second with all ten readings, the device id and a millisecond timestamp,
 * published at QoS 1 over MQTT 3.1.1 on dt/<app>/<device>/telemetry. Against it,
 * in 60-second batches over MQTT 5 with a topic alias (the topic once, then 3
 * bytes): SenML-JSON, SenML-CBOR (tern_senml) and tern's compact batch
 * (tern_tsb, the default). Every PUBLISH is encoded by tern's MQTT codec and
 * counted whole, with its PUBACK (4 bytes, as the broker sends it back). The
 * last line compares tern's default to the reference.
 */
#include <stdio.h>
#include <string.h>

#include "tern/mqtt_codec.h"
#include "tern/senml.h"
#include "tern/tsbatch.h"
#if defined(TERN_BENCH_NANOPB) && TERN_BENCH_NANOPB
#include "tern/tsbatch_pb.h"
#endif

enum { SENSORS = 10, SECONDS = 3600, BATCH_S = 60 };
#define T0_MS  1700000000000ull
#define DEVICE "dev-0001"
#define TOPIC  "dt/tern/" DEVICE "/telemetry"
#define PUBACK 4u

/* ------------------------------------------------------------- the stream -- */

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static double uniform(void) /* [0, 1) */
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (double)(g_rng >> 11) / 9007199254740992.0;
}

static double noise(double amp)
{
    return (uniform() - 0.5) * 2 * amp;
}

/* Round @p v to @p res (the sensor's resolution). */
static double quant(double v, double res)
{
    double q = v / res;
    return (double)(long long)(q + (q >= 0 ? 0.5 : -0.5)) * res;
}

typedef struct {
    double temp, hum, pres, co2, batt, rssi, vib, light;
    bool door;
    int state;
} sample_t;

static const char *const k_states[3] = { "idle", "run", "charge" };
static sample_t g_s[SECONDS];

static void make_stream(void)
{
    double temp = 21.5, hum = 45, pres = 101325, co2 = 600, batt = 3.7, light = 300;
    bool door = false;
    int state = 0;
    for (int i = 0; i < SECONDS; i++) {
        temp += noise(0.02);
        hum += noise(0.1);
        pres += noise(2);
        co2 += noise(3);
        batt -= 0.0000028 + noise(0.0005) * 0.1;
        light += noise(4);
        if (uniform() < 1.0 / 600) {
            door = !door;
        }
        if (uniform() < 1.0 / 300) {
            state = (state + 1) % 3;
        }
        sample_t *s = &g_s[i];
        s->temp = quant(temp, 0.01);
        s->hum = quant(hum, 0.1);
        s->pres = quant(pres, 1);
        s->co2 = quant(co2, 1);
        s->batt = quant(batt + noise(0.001), 0.001);
        s->rssi = quant(-71 + noise(3), 1);
        s->vib = quant(noise(0.05), 0.001);
        s->light = quant(light, 1);
        s->door = door;
        s->state = state;
    }
}

/* ---------------------------------------------------------------- MQTT -- */

/* Bytes on the wire for one QoS 1 PUBLISH of @p len payload bytes, and its PUBACK. */
static size_t publish_bytes(tern_mqtt_version_t ver, bool alias, bool first, size_t len)
{
    static uint8_t payload[1 << 16], out[1 << 17];
    tern_mqtt_packet_t p;
    memset(&p, 0, sizeof p);
    p.type = TERN_MQTT_PUBLISH;
    p.publish.qos = 1;
    p.publish.packet_id = 1;
    p.publish.topic.ptr = (const uint8_t *)TOPIC;
    p.publish.topic.len = alias && !first ? 0 : strlen(TOPIC);
    p.publish.payload.ptr = payload;
    p.publish.payload.len = len;
    if (alias) {
        p.publish.props.present = TERN_MQTT_HAS_TOPIC_ALIAS;
        p.publish.props.topic_alias = 1;
    }
    size_t n = 0;
    if (len > sizeof payload || tern_mqtt_encode(ver, &p, out, sizeof out, &n) != TERN_OK) {
        return 0;
    }
    return n + PUBACK;
}

/* ------------------------------------------------------------- formats -- */

/* The reference: one JSON object a second, MQTT 3.1.1. */
static size_t run_baseline(size_t *payload)
{
    size_t wire = 0;
    *payload = 0;
    for (int i = 0; i < SECONDS; i++) {
        const sample_t *s = &g_s[i];
        char b[512];
        int n = snprintf(b, sizeof b,
                         "{\"deviceId\":\"" DEVICE "\",\"timestamp\":%llu,\"temperature\":%.2f,"
                         "\"humidity\":%.1f,\"pressure\":%.0f,\"co2\":%.0f,\"battery\":%.3f,"
                         "\"rssi\":%.0f,\"door\":%s,\"vibration\":%.3f,\"light\":%.0f,"
                         "\"state\":\"%s\"}",
                         (unsigned long long)(T0_MS + 1000ull * (unsigned)i), s->temp, s->hum,
                         s->pres, s->co2, s->batt, s->rssi, s->door ? "true" : "false", s->vib,
                         s->light, k_states[s->state]);
        *payload += (size_t)n;
        wire += publish_bytes(TERN_MQTT_PROTO_V311, false, false, (size_t)n);
    }
    return wire;
}

static const struct {
    const char *name, *unit;
    double res;
} k_sensors[SENSORS] = {
    { "temp", "Cel", 0.01 }, { "hum", "%RH", 0.1 }, { "pres", "Pa", 1 }, { "co2", "ppm", 1 },
    { "batt", "V", 0.001 },  { "rssi", "dBm", 1 },  { "door", NULL, 0 }, { "vib", "g", 0.001 },
    { "light", "lx", 1 },    { "state", NULL, 0 },
};

static double value(const sample_t *s, int k)
{
    const double v[SENSORS] = { s->temp, s->hum,  s->pres, s->co2,   s->batt,
                                s->rssi, s->door, s->vib,  s->light, s->state };
    return v[k];
}

/* SenML-JSON, one pack per batch: bn and bt on the first record, t relative. */
static size_t run_senml_json(size_t *payload)
{
    size_t wire = 0;
    *payload = 0;
    for (int b0 = 0; b0 < SECONDS; b0 += BATCH_S) {
        static char buf[1 << 16];
        size_t n = 0;
        n += (size_t)snprintf(buf + n, sizeof buf - n, "[");
        for (int i = b0; i < b0 + BATCH_S; i++) {
            for (int k = 0; k < SENSORS; k++) {
                const sample_t *s = &g_s[i];
                n += (size_t)snprintf(buf + n, sizeof buf - n, "%s{", n > 1 ? "," : "");
                if (n == 2) {
                    n += (size_t)snprintf(
                        buf + n, sizeof buf - n, "\"bn\":\"urn:dev:tern:" DEVICE ":\",\"bt\":%llu,",
                        (unsigned long long)((T0_MS + 1000ull * (unsigned)b0) / 1000u));
                }
                n += (size_t)snprintf(buf + n, sizeof buf - n, "\"n\":\"%s\",", k_sensors[k].name);
                if (k_sensors[k].unit) {
                    n += (size_t)snprintf(buf + n, sizeof buf - n, "\"u\":\"%s\",",
                                          k_sensors[k].unit);
                }
                if (k == 6) {
                    n += (size_t)snprintf(buf + n, sizeof buf - n, "\"vb\":%s",
                                          s->door ? "true" : "false");
                } else if (k == 9) {
                    n += (size_t)snprintf(buf + n, sizeof buf - n, "\"vs\":\"%s\"",
                                          k_states[s->state]);
                } else {
                    n += (size_t)snprintf(buf + n, sizeof buf - n, "\"v\":%.*f",
                                          k_sensors[k].res < 0.01 ? 3
                                          : k_sensors[k].res < 1  ? 2
                                                                  : 0,
                                          value(s, k));
                }
                if (i > b0) {
                    n += (size_t)snprintf(buf + n, sizeof buf - n, ",\"t\":%d", i - b0);
                }
                n += (size_t)snprintf(buf + n, sizeof buf - n, "}");
            }
        }
        n += (size_t)snprintf(buf + n, sizeof buf - n, "]");
        *payload += n;
        wire += publish_bytes(TERN_MQTT_PROTO_V5, true, b0 == 0, n);
    }
    return wire;
}

/* SenML-CBOR with tern_senml. */
static size_t run_senml_cbor(size_t *payload)
{
    size_t wire = 0;
    *payload = 0;
    static uint8_t buf[1 << 16];
    for (int b0 = 0; b0 < SECONDS; b0 += BATCH_S) {
        tern_senml_writer_t w;
        tern_senml_begin(&w, buf, sizeof buf, "urn:dev:tern:" DEVICE ":",
                         (double)(T0_MS + 1000ull * (unsigned)b0) / 1000.0);
        for (int i = b0; i < b0 + BATCH_S; i++) {
            for (int k = 0; k < SENSORS; k++) {
                const sample_t *s = &g_s[i];
                tern_senml_rec_t r = { 0 };
                r.name.ptr = k_sensors[k].name;
                r.name.len = strlen(k_sensors[k].name);
                if (k_sensors[k].unit) {
                    r.unit.ptr = k_sensors[k].unit;
                    r.unit.len = strlen(k_sensors[k].unit);
                }
                r.t = (double)(T0_MS + 1000ull * (unsigned)i) / 1000.0;
                if (k == 6) {
                    r.kind = TERN_SENML_BOOL;
                    r.vb = s->door;
                } else if (k == 9) {
                    r.kind = TERN_SENML_STR;
                    r.vs.ptr = k_states[s->state];
                    r.vs.len = strlen(k_states[s->state]);
                } else {
                    r.kind = TERN_SENML_NUM;
                    r.v = value(s, k);
                }
                if (tern_senml_add(&w, &r) != TERN_OK) {
                    return 0;
                }
            }
        }
        const uint8_t *out;
        size_t len;
        if (tern_senml_finish(&w, &out, &len) != TERN_OK) {
            return 0;
        }
        *payload += len;
        wire += publish_bytes(TERN_MQTT_PROTO_V5, true, b0 == 0, len);
    }
    return wire;
}

typedef tern_err_t (*batch_encoder_t)(const char *bn, tern_tsb_series_t *series, size_t n,
                                      uint8_t *out, size_t cap, size_t *len);

/* tern's compact batch, as CBOR (tern_tsb_encode) or as the nanopb message (tern_tsb_encode_pb). */
static size_t run_compact(size_t *payload, batch_encoder_t encode)
{
    static uint8_t bufs[SENSORS][512], out[1 << 16];
    tern_tsb_series_t s[SENSORS];
    memset(s, 0, sizeof s);
    for (int k = 0; k < SENSORS; k++) {
        s[k].name = k_sensors[k].name;
        s[k].unit = k_sensors[k].unit;
        s[k].kind = k == 6 ? TERN_TSB_BOOL : k == 9 ? TERN_TSB_ENUM : TERN_TSB_NUM;
        s[k].scale = (int8_t)(k_sensors[k].res == 0.01    ? -2
                              : k_sensors[k].res == 0.1   ? -1
                              : k_sensors[k].res == 0.001 ? -3
                                                          : 0);
        s[k].period_ms = 1000;
        s[k].buf = bufs[k];
        s[k].cap = sizeof bufs[k];
    }
    size_t wire = 0;
    *payload = 0;
    for (int b0 = 0; b0 < SECONDS; b0 += BATCH_S) {
        for (int i = b0; i < b0 + BATCH_S; i++) {
            uint64_t t = T0_MS + 1000ull * (unsigned)i;
            for (int k = 0; k < SENSORS; k++) {
                const sample_t *x = &g_s[i];
                tern_err_t e = k == 6   ? tern_tsb_add_bool(&s[k], t, x->door)
                               : k == 9 ? tern_tsb_add_enum(&s[k], t, k_states[x->state])
                                        : tern_tsb_add_num(&s[k], t, value(x, k));
                if (e != TERN_OK) {
                    fprintf(stderr, "bench_telemetry: add: %s\n", tern_strerror(e));
                    return 0;
                }
            }
        }
        size_t len;
        if (encode("urn:dev:tern:" DEVICE ":", s, SENSORS, out, sizeof out, &len) != TERN_OK) {
            return 0;
        }
        for (int k = 0; k < SENSORS; k++) {
            tern_tsb_reset(&s[k]);
        }
        *payload += len;
        wire += publish_bytes(TERN_MQTT_PROTO_V5, true, b0 == 0, len);
    }
    return wire;
}

int main(void)
{
    make_stream();
    const double readings = (double)SENSORS * SECONDS;
    size_t pb, ps, pc, pt;
    size_t base = run_baseline(&pb);
    size_t sj = run_senml_json(&ps);
    size_t sc = run_senml_cbor(&pc);
    size_t ct = run_compact(&pt, tern_tsb_encode);
#if defined(TERN_BENCH_NANOPB) && TERN_BENCH_NANOPB
    size_t pp, cp = run_compact(&pp, tern_tsb_encode_pb);
#else
    size_t pp = 0, cp = 1; /* built without nanopb: no row */
#endif
    if (!base || !sj || !sc || !ct || !cp) {
        fprintf(stderr, "bench_telemetry: a format failed\n");
        return 1;
    }
    printf("telemetry: %d sensors at 1 Hz for %d s (%.0f readings); batches of %d s; QoS 1, "
           "PUBLISH + PUBACK counted\n",
           SENSORS, SECONDS, readings, BATCH_S);
    printf("%-44s %10s %10s %8s %8s\n", "format", "payload B", "wire B", "B/read", "ratio");
    const struct {
        const char *name;
        size_t payload, wire;
    } rows[] = {
        { "JSON per second, MQTT 3.1.1 (AWS/Azure samples)", pb, base },
        { "SenML-JSON, MQTT 5 + topic alias", ps, sj },
        { "SenML-CBOR (tern_senml), MQTT 5 + topic alias", pc, sc },
        { "nanopb message (tern_tsb_pb), MQTT 5 + alias", pp, cp },
        { "compact batch (tern_tsb), MQTT 5 + topic alias", pt, ct },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (rows[i].payload == 0) {
            continue;
        }
        printf("%-44s %10zu %10zu %8.2f %8.3f\n", rows[i].name, rows[i].payload, rows[i].wire,
               (double)rows[i].wire / readings, (double)rows[i].wire / (double)base);
    }
    printf("telemetry_bytes_per_reading: tern=%.2f B reference=%.2f B ratio=%.3f\n",
           (double)ct / readings, (double)base / readings, (double)ct / (double)base);
    return 0;
}
