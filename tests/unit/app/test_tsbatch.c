/* SPDX-License-Identifier: Apache-2.0 */
/* The compact time-series batch: the specification's worked example byte for byte,
 * every kind of series with gaps read back as the exact quantized readings, full
 * buffers, and batches that break the format. Host and Cortex-M4. */
#include <string.h>

#include "tern/tsbatch.h"
#include "tern_test.h"
#include "tern_test_hex.h"

#define T0 1700000000000ull

static uint8_t g_out[1024];

/* docs/compact-batch.md, "A worked example". */
static void test_worked_example(void **state)
{
    (void)state;
    static uint8_t tb[32], db[32];
    tern_tsb_series_t s[2] = {
        { .name = "temp",
          .unit = "Cel",
          .kind = TERN_TSB_NUM,
          .scale = -2,
          .period_ms = 1000,
          .buf = tb,
          .cap = sizeof tb },
        { .name = "door", .kind = TERN_TSB_BOOL, .period_ms = 1000, .buf = db, .cap = sizeof db },
    };
    static const double temp[4] = { 21.53, 21.55, 21.54, 21.54 };
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(tern_tsb_add_num(&s[0], T0 + 1000u * i, temp[i]), TERN_OK);
        assert_int_equal(tern_tsb_add_bool(&s[1], T0 + 1000u * i, i == 2), TERN_OK);
    }
    size_t len, estimate = tern_tsb_size("d1:", s, 2);
    assert_int_equal(tern_tsb_encode("d1:", s, 2, g_out, sizeof g_out, &len), TERN_OK);
    assert_true(estimate >= len && estimate <= len + 2);
    /* [1, "d1:", 1700000000000,
     *  ["temp", "Cel", 0, 0, 1000, -2, 2153, [2, -1, 0]],
     *  ["door", null, 1, 0, 1000, false, [2, 1, 1]]] */
    tern_test_expect_hex(g_out, len,
                         "85"
                         "01"
                         "6364313a"
                         "1b0000018bcfe56800"
                         "88"
                         "6474656d70"
                         "6343656c"
                         "00"
                         "00"
                         "1903e8"
                         "21"
                         "190869"
                         "83022000"
                         "87"
                         "64646f6f72"
                         "f6"
                         "01"
                         "00"
                         "1903e8"
                         "f4"
                         "83020101");
    assert_true(s[0].started); /* kept until the caller has stored the batch */
    tern_tsb_reset(&s[0]);
    assert_false(s[0].started);
}

static void test_round_trip_with_gaps(void **state)
{
    (void)state;
    static uint8_t b0[256], b1[64], b2[64];
    tern_tsb_series_t s[3] = {
        { .name = "pres",
          .unit = "Pa",
          .kind = TERN_TSB_NUM,
          .scale = 0,
          .period_ms = 500,
          .buf = b0,
          .cap = sizeof b0 },
        { .name = "door", .kind = TERN_TSB_BOOL, .period_ms = 1000, .buf = b1, .cap = sizeof b1 },
        { .name = "mode", .kind = TERN_TSB_ENUM, .period_ms = 2000, .buf = b2, .cap = sizeof b2 },
    };
    /* pressure every 500 ms with samples 3 and 7 missing, jittered by up to 200 ms */
    double want_v[20];
    uint64_t want_t[20];
    unsigned nw = 0;
    for (unsigned i = 0; i < 20; i++) {
        if (i == 3 || i == 7) {
            continue;
        }
        double v = 101325 + (double)(i * 37 % 11) - 5 + 0.4; /* rounds to the integer */
        assert_int_equal(tern_tsb_add_num(&s[0], T0 + 500u * i + (i % 3) * 100u, v), TERN_OK);
        want_v[nw] = 101325 + (double)(i * 37 % 11) - 5;
        want_t[nw++] = T0 + 500u * i;
    }
    static const bool door[6] = { false, false, true, true, true, false };
    for (unsigned i = 0; i < 6; i++) {
        assert_int_equal(tern_tsb_add_bool(&s[1], T0 + 1000u * i, door[i]), TERN_OK);
    }
    static const char *const mode[5] = { "idle", "run", "run", "idle", "fault" };
    for (unsigned i = 0; i < 5; i++) {
        assert_int_equal(tern_tsb_add_enum(&s[2], T0 + 2000u * i, mode[i]), TERN_OK);
    }
    assert_int_equal(tern_tsb_add_num(&s[0], T0, 1), TERN_ERR_RANGE);             /* back in time */
    assert_int_equal(tern_tsb_add_bool(&s[0], T0 + 99999, true), TERN_ERR_INVAL); /* kind */
    size_t len;
    assert_int_equal(tern_tsb_encode("urn:dev:tern:d2:", s, 3, g_out, sizeof g_out, &len), TERN_OK);

    tern_tsb_reader_t r;
    tern_senml_rec_t rec;
    tern_tsb_read_begin(&r, g_out, len);
    for (unsigned i = 0; i < nw; i++) {
        assert_int_equal(tern_tsb_read_next(&r, &rec), TERN_OK);
        assert_int_equal(rec.kind, TERN_SENML_NUM);
        assert_memory_equal(rec.name.ptr, "pres", 4);
        assert_memory_equal(rec.unit.ptr, "Pa", 2);
        assert_memory_equal(rec.base_name.ptr, "urn:dev:tern:d2:", 16);
        assert_true(rec.v == want_v[i]);
        assert_true(rec.t == (double)want_t[i] / 1000.0);
    }
    for (unsigned i = 0; i < 6; i++) {
        assert_int_equal(tern_tsb_read_next(&r, &rec), TERN_OK);
        assert_int_equal(rec.kind, TERN_SENML_BOOL);
        assert_int_equal(rec.vb, door[i]);
        assert_true(rec.t == (double)(T0 + 1000u * i) / 1000.0);
    }
    for (unsigned i = 0; i < 5; i++) {
        assert_int_equal(tern_tsb_read_next(&r, &rec), TERN_OK);
        assert_int_equal(rec.kind, TERN_SENML_STR);
        assert_int_equal(rec.vs.len, strlen(mode[i]));
        assert_memory_equal(rec.vs.ptr, mode[i], rec.vs.len);
        assert_true(rec.t == (double)(T0 + 2000u * i) / 1000.0);
    }
    assert_int_equal(tern_tsb_read_next(&r, &rec), TERN_ERR_EMPTY);
}

/* Quantization is to the declared resolution, rounded half away from zero. */
static void test_quantization(void **state)
{
    (void)state;
    static uint8_t b[64];
    tern_tsb_series_t s = { .name = "v",
                            .unit = "V",
                            .kind = TERN_TSB_NUM,
                            .scale = -3,
                            .period_ms = 1000,
                            .buf = b,
                            .cap = sizeof b };
    static const double in[4] = { 3.3004, 3.3005, -0.0015, 12.0 };
    static const double out[4] = { 3.3, 3.301, -0.002, 12.0 };
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(tern_tsb_add_num(&s, T0 + 1000u * i, in[i]), TERN_OK);
    }
    volatile double zero = 0;
    assert_int_equal(tern_tsb_add_num(&s, T0 + 4000, zero / zero), TERN_ERR_RANGE);
    assert_int_equal(tern_tsb_add_num(&s, T0 + 4000, 1e300), TERN_ERR_RANGE);
    size_t len;
    assert_int_equal(tern_tsb_encode("", &s, 1, g_out, sizeof g_out, &len), TERN_OK);
    tern_tsb_reader_t r;
    tern_senml_rec_t rec;
    tern_tsb_read_begin(&r, g_out, len);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(tern_tsb_read_next(&r, &rec), TERN_OK);
        assert_true(rec.v == out[i]);
    }
}

static void test_full_and_empty(void **state)
{
    (void)state;
    static uint8_t b[8];
    tern_tsb_series_t s = {
        .name = "x", .kind = TERN_TSB_NUM, .scale = 0, .period_ms = 10, .buf = b, .cap = sizeof b
    };
    size_t len;
    assert_int_equal(tern_tsb_encode("d", &s, 1, g_out, sizeof g_out, &len), TERN_ERR_EMPTY);
    unsigned added = 0;
    tern_err_t err;
    while ((err = tern_tsb_add_num(&s, T0 + 10u * added, (double)(added * 1000))) == TERN_OK) {
        added++;
    }
    assert_int_equal(err, TERN_ERR_FULL);
    assert_true(added >= 3);
    assert_int_equal(tern_tsb_encode("d", &s, 1, g_out, 10, &len), TERN_ERR_TOO_SMALL);
    assert_true(s.started); /* nothing lost when the output is short */
    size_t estimate = tern_tsb_size("d", &s, 1);
    assert_int_equal(tern_tsb_encode("d", &s, 1, g_out, sizeof g_out, &len), TERN_OK);
    assert_true(len <= estimate && estimate <= len + 2);
    tern_tsb_reader_t r;
    tern_senml_rec_t rec;
    tern_tsb_read_begin(&r, g_out, len);
    for (unsigned i = 0; i < added; i++) {
        assert_int_equal(tern_tsb_read_next(&r, &rec), TERN_OK);
        assert_true(rec.v == (double)(i * 1000));
    }
    assert_int_equal(tern_tsb_read_next(&r, &rec), TERN_ERR_EMPTY);
}

static tern_err_t read_all(const uint8_t *b, size_t n)
{
    tern_tsb_reader_t r;
    tern_senml_rec_t rec;
    tern_err_t err;
    tern_tsb_read_begin(&r, b, n);
    while ((err = tern_tsb_read_next(&r, &rec)) == TERN_OK) {
    }
    return err;
}

static void test_reader_refuses(void **state)
{
    (void)state;
    /* version 2 */
    static const uint8_t v2[] = { 0x83, 0x02, 0x60, 0x00 };
    assert_int_equal(read_all(v2, sizeof v2), TERN_ERR_UNSUPPORTED);
    /* a delta that is text */
    static const uint8_t text_delta[] = { 0x84, 0x01, 0x60, 0x00, 0x88, 0x61, 'x',  0xf6,
                                          0x00, 0x00, 0x01, 0x00, 0x00, 0x81, 0x61, '1' };
    assert_int_equal(read_all(text_delta, sizeof text_delta), TERN_ERR_MALFORMED);
    /* an enum run naming state 1 of a table of 1 */
    static const uint8_t bad_state[] = { 0x84, 0x01, 0x60, 0x00, 0x87, 0x61, 'x',  0xf6, 0x02,
                                         0x00, 0x01, 0x81, 0x61, 'a',  0x82, 0x01, 0x01 };
    assert_int_equal(read_all(bad_state, sizeof bad_state), TERN_ERR_MALFORMED);
    /* a period of 0 */
    static const uint8_t no_period[] = { 0x84, 0x01, 0x60, 0x00, 0x88, 0x61, 'x',
                                         0xf6, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80 };
    assert_int_equal(read_all(no_period, sizeof no_period), TERN_ERR_MALFORMED);
    /* truncated */
    assert_int_equal(read_all(text_delta, 8), TERN_ERR_CBOR_TRUNCATED);
    /* a run of length 0 */
    static const uint8_t zero_run[] = { 0x84, 0x01, 0x60, 0x00, 0x87, 0x61, 'x',
                                        0xf6, 0x01, 0x00, 0x01, 0xf4, 0x81, 0x00 };
    assert_int_equal(read_all(zero_run, sizeof zero_run), TERN_ERR_MALFORMED);
}

/* Which format a telemetry body is: a batch's first item is its version, a pack's are maps. */
static void test_is_batch(void **state)
{
    (void)state;
    static const uint8_t batch[] = { 0x84, 0x01, 0x60, 0x00, 0x80 };
    static const uint8_t pack[] = { 0x81, 0xa1, 0x00, 0x61, 'x' };
    static const uint8_t empty_pack[] = { 0x80 };
    static const uint8_t not_array[] = { 0xa1, 0x01, 0x02 };
    /* an array of 24 items or more: its count is in a byte of its own */
    static const uint8_t long_batch[] = { 0x98, 0x1a, 0x01, 0x60, 0x00 };
    assert_true(tern_tsb_is_batch(batch, sizeof batch));
    assert_true(tern_tsb_is_batch(long_batch, sizeof long_batch));
    assert_false(tern_tsb_is_batch(pack, sizeof pack));
    assert_false(tern_tsb_is_batch(empty_pack, sizeof empty_pack));
    assert_false(tern_tsb_is_batch(not_array, sizeof not_array));
    assert_false(tern_tsb_is_batch(batch, 1)); /* cut before the version */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worked_example), cmocka_unit_test(test_round_trip_with_gaps),
        cmocka_unit_test(test_quantization),   cmocka_unit_test(test_full_and_empty),
        cmocka_unit_test(test_reader_refuses), cmocka_unit_test(test_is_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
