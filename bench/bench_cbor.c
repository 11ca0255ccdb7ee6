/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CBOR encode and decode speed against Debian's libcbor (0.8), on the telemetry
 * stream of bench_telemetry's kind: 36,000 SenML-style records, each a map of
 * three pairs {0: name, 2: value, 6: time}, the values integers or fractional
 * numbers, back to back (a CBOR sequence). Encoding: tern's streaming encoder (preferred floats)
 * against libcbor's streaming encoders (cbor_encode_*; doubles for fractions, since it does not
 * choose a width). Decoding: walking every item with tern's pull decoder (which also checks UTF-8,
 * nesting and map pairs) against libcbor's cbor_stream_decode() with callbacks that sum what they
 * see. The best of 15 rounds, in which the four runs take turns; records per second; ratio = tern /
 * libcbor (above 1: tern is faster).
 */
#define _POSIX_C_SOURCE 200809L
#include <cbor.h>
#include <stdio.h>
#include <string.h>

#include "bench_clock.h"

#include "tern/cbor.h"

enum { RECORDS = 36000, RUNS = 15 };

static const char *const k_names[10] = { "temp", "hum",  "pres", "co2",   "batt",
                                         "rssi", "door", "vib",  "light", "state" };
static double g_value[RECORDS];
static uint64_t g_time[RECORDS];
static uint8_t g_tern[RECORDS * 32], g_ref[RECORDS * 32];
static size_t g_tern_len, g_ref_len;

static void make_records(void)
{
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < RECORDS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int k = i % 10;
        double noise = (double)(x % 1000) / 1000.0;
        g_value[i] = k == 2 ? 101325 + (double)(x % 7) : k == 5 ? -71 : 20 + noise;
        g_time[i] = 1700000000u + (unsigned)i / 10u;
    }
}

static bool whole(double v)
{
    return v == (double)(int64_t)v;
}

static size_t encode_tern(void)
{
    tern_cbor_enc_t e;
    tern_cbor_enc_init(&e, g_tern, sizeof g_tern, 0);
    for (int i = 0; i < RECORDS; i++) {
        tern_cbor_enc_map(&e, 3);
        tern_cbor_enc_uint(&e, 0);
        tern_cbor_enc_str(&e, k_names[i % 10]);
        tern_cbor_enc_uint(&e, 2);
        if (whole(g_value[i])) {
            tern_cbor_enc_int(&e, (int64_t)g_value[i]);
        } else {
            tern_cbor_enc_float(&e, g_value[i]);
        }
        tern_cbor_enc_uint(&e, 6);
        tern_cbor_enc_uint(&e, g_time[i]);
    }
    size_t len = 0;
    return tern_cbor_enc_finish(&e, &len) == TERN_OK ? len : 0;
}

static size_t encode_ref(void)
{
    size_t n = 0, cap = sizeof g_ref;
    for (int i = 0; i < RECORDS; i++) {
        const char *name = k_names[i % 10];
        size_t nl = strlen(name);
        n += cbor_encode_map_start(3, g_ref + n, cap - n);
        n += cbor_encode_uint(0, g_ref + n, cap - n);
        n += cbor_encode_string_start(nl, g_ref + n, cap - n);
        memcpy(g_ref + n, name, nl);
        n += nl;
        n += cbor_encode_uint(2, g_ref + n, cap - n);
        double v = g_value[i];
        if (whole(v)) {
            n += v >= 0 ? cbor_encode_uint((uint64_t)v, g_ref + n, cap - n)
                        : cbor_encode_negint((uint64_t)(-v - 1), g_ref + n, cap - n);
        } else {
            n += cbor_encode_double(v, g_ref + n, cap - n);
        }
        n += cbor_encode_uint(6, g_ref + n, cap - n);
        n += cbor_encode_uint(g_time[i], g_ref + n, cap - n);
    }
    return n;
}

/* tern: every item of every record (one CBOR sequence), the values summed so nothing is
 * optimized away. */
static double decode_tern(void)
{
    double sum = 0;
    int items = 0;
    tern_cbor_dec_t d;
    tern_cbor_item_t it;
    tern_err_t err;
    tern_cbor_dec_init(&d, g_tern, g_tern_len, TERN_CBOR_SEQUENCE);
    while ((err = tern_cbor_dec_next(&d, &it)) == TERN_OK) {
        /* what the libcbor callbacks below add: the value, a string's length, a map's size */
        sum += it.type == TERN_CBOR_FLOAT                                ? it.f
               : it.type == TERN_CBOR_TEXT || it.type == TERN_CBOR_BYTES ? (double)it.len
                                                                         : (double)it.u;
        items++;
    }
    return err == TERN_ERR_EMPTY && items == RECORDS * 8 ? sum
                                                         : -1; /* map, 3 keys, 3 values, END */
}

static double g_sum;
static int g_items;

static void on_uint8(void *c, uint8_t v)
{
    (void)c;
    g_sum += v;
    g_items++;
}
static void on_uint16(void *c, uint16_t v)
{
    (void)c;
    g_sum += v;
    g_items++;
}
static void on_uint32(void *c, uint32_t v)
{
    (void)c;
    g_sum += v;
    g_items++;
}
static void on_uint64(void *c, uint64_t v)
{
    (void)c;
    g_sum += (double)v;
    g_items++;
}
static void on_string(void *c, cbor_data p, size_t n)
{
    (void)c;
    (void)p;
    g_sum += (double)n;
    g_items++;
}
static void on_map(void *c, size_t n)
{
    (void)c;
    g_sum += (double)n;
    g_items++;
}
static void on_half(void *c, float v)
{
    (void)c;
    g_sum += v;
    g_items++;
}
static void on_double(void *c, double v)
{
    (void)c;
    g_sum += v;
    g_items++;
}

static double decode_ref(void)
{
    struct cbor_callbacks cb = cbor_empty_callbacks;
    cb.uint8 = on_uint8;
    cb.uint16 = on_uint16;
    cb.uint32 = on_uint32;
    cb.uint64 = on_uint64;
    cb.negint8 = on_uint8;
    cb.negint16 = on_uint16;
    cb.negint32 = on_uint32;
    cb.negint64 = on_uint64;
    cb.string = on_string;
    cb.map_start = on_map;
    cb.float2 = on_half;
    cb.float4 = on_half;
    cb.float8 = on_double;
    g_sum = 0;
    g_items = 0;
    size_t pos = 0;
    while (pos < g_ref_len) {
        struct cbor_decoder_result r = cbor_stream_decode(g_ref + pos, g_ref_len - pos, &cb, NULL);
        if (r.status != CBOR_DECODER_FINISHED || r.read == 0) {
            return -1;
        }
        pos += r.read;
    }
    return g_items == RECORDS * 7 ? g_sum : -1; /* map, 3 keys, 3 values */
}

/* Seconds for 10 passes of an encoder (a result of 0 bytes: -1) or a decoder (a failure: -1). */
static double time_enc(size_t (*f)(void))
{
    double t0 = bench_now_s();
    size_t n = 0;
    for (int k = 0; k < 10; k++) {
        n += f();
    }
    double dt = bench_now_s() - t0;
    return n == 0 ? -1 : dt;
}

static double time_dec(double (*f)(void))
{
    double t0 = bench_now_s();
    for (int k = 0; k < 10; k++) {
        if (f() < 0) {
            return -1;
        }
    }
    return bench_now_s() - t0;
}

/* The best (shortest) of the rounds, kept in *best; false on a failed run. */
static bool keep(double dt, double *best)
{
    if (dt < 0) {
        return false;
    }
    if (*best == 0 || dt < *best) {
        *best = dt;
    }
    return true;
}

int main(int argc, char **argv)
{
    make_records();
    g_tern_len = encode_tern();
    g_ref_len = encode_ref();
    if (argc == 2) { /* one side alone, 10 times, for an instruction counter (callgrind) */
        for (int k = 0; k < 10; k++) {
            if (strcmp(argv[1], "enc-tern") == 0) {
                (void)encode_tern();
            } else if (strcmp(argv[1], "enc-ref") == 0) {
                (void)encode_ref();
            } else if (strcmp(argv[1], "dec-tern") == 0) {
                (void)decode_tern();
            } else if (strcmp(argv[1], "dec-ref") == 0) {
                (void)decode_ref();
            }
        }
        return 0;
    }
    /* The sides take turns within each round, so that a busy host slows both alike. */
    double te = 0, re = 0, td = 0, rd = 0;
    for (int r = 0; r < RUNS; r++) {
        if (!keep(time_enc(encode_tern), &te) || !keep(time_enc(encode_ref), &re) ||
            !keep(time_dec(decode_tern), &td) || !keep(time_dec(decode_ref), &rd)) {
            fprintf(stderr, "bench_cbor: a run failed\n");
            return 1;
        }
    }
    if (!g_tern_len || !g_ref_len) {
        fprintf(stderr, "bench_cbor: a run failed\n");
        return 1;
    }
    double k = 10.0 * RECORDS; /* records per timed run */
    te = k / te, re = k / re, td = k / td, rd = k / rd;
    printf("cbor, %d SenML-style records {0: name, 2: value, 6: time}; tern %zu bytes, libcbor "
           "%zu bytes (doubles for fractions); best of %d rounds\n",
           RECORDS, g_tern_len, g_ref_len, RUNS);
    printf("cbor_encode: tern=%.0f rec/s reference=%.0f rec/s ratio=%.3f\n", te, re, te / re);
    printf("cbor_decode: tern=%.0f rec/s reference=%.0f rec/s ratio=%.3f\n", td, rd, td / rd);
    return 0;
}
