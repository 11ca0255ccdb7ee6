/* SPDX-License-Identifier: Apache-2.0 */
/* Telemetry built with TERN_TELEMETRY_PROTOBUF (src/app/telemetry.c compiled again with
 * it): the batch that reaches the sink is the nanopb tern.Batch message of the same
 * readings, byte for byte what tern_tsb_encode_pb() gives, and not the CBOR batch. The
 * message's content is checked against Google's protoc in integration.tsbatch_protobuf. */
#include <string.h>

#include "tern/telemetry.h"
#include "tern/tsbatch_pb.h"
#include "tern_test.h"

#define T0 1700000000000ull

static uint8_t g_got[512];
static size_t g_got_len;
static int g_calls;

static tern_err_t sink(void *ctx, tern_outbox_prio_t prio, const char *topic, const uint8_t *b,
                       size_t len)
{
    (void)ctx;
    (void)prio;
    (void)topic;
    assert_true(len <= sizeof g_got);
    memcpy(g_got, b, len);
    g_got_len = len;
    g_calls++;
    return TERN_OK;
}

/* Two series over the given buffers, as the device configures them. */
static void series(tern_tsb_series_t *s, uint8_t (*buf)[64])
{
    memset(s, 0, 2 * sizeof *s);
    s[0] = (tern_tsb_series_t){ .name = "temp",
                                .unit = "Cel",
                                .kind = TERN_TSB_NUM,
                                .scale = -2,
                                .period_ms = 1000,
                                .buf = buf[0],
                                .cap = 64 };
    s[1] = (tern_tsb_series_t){
        .name = "door", .kind = TERN_TSB_BOOL, .period_ms = 1000, .buf = buf[1], .cap = 64
    };
    tern_tsb_reset(&s[0]);
    tern_tsb_reset(&s[1]);
}

static void test_batches_are_protobuf(void **state)
{
    (void)state;
    static uint8_t tbuf[2][64], rbuf[2][64], scratch[512], want[512];
    static const double temp[5] = { 21.53, 21.55, 21.54, 21.54, 21.60 };
    static const bool door[5] = { false, false, true, false, false };
    tern_tsb_series_t ts[2], ref[2];
    series(ts, tbuf);
    series(ref, rbuf);
    tern_telemetry_t t;
    tern_telemetry_config_t c = { .series = ts,
                                  .n = 2,
                                  .base_name = "d1:",
                                  .topic = "tern/d1/telemetry",
                                  .scratch = scratch,
                                  .scratch_size = sizeof scratch,
                                  .max_age_ms = 60000,
                                  .prio = TERN_OUTBOX_NORMAL,
                                  .sink = sink };
    assert_int_equal(tern_telemetry_init(&t, &c), TERN_OK);
    for (int k = 0; k < 5; k++) {
        uint64_t at = T0 + (uint64_t)k * 1000u;
        assert_int_equal(tern_telemetry_num(&t, 0, at, temp[k], (tern_ms_t)k * 1000u), TERN_OK);
        assert_int_equal(tern_telemetry_bool(&t, 1, at, door[k], (tern_ms_t)k * 1000u), TERN_OK);
        assert_int_equal(tern_tsb_add_num(&ref[0], at, temp[k]), TERN_OK);
        assert_int_equal(tern_tsb_add_bool(&ref[1], at, door[k]), TERN_OK);
    }
    size_t want_len = 0;
    assert_int_equal(tern_tsb_encode_pb("d1:", ref, 2, want, sizeof want, &want_len), TERN_OK);
    assert_int_equal(tern_telemetry_flush(&t, TERN_OUTBOX_NORMAL), TERN_OK);
    assert_int_equal(g_calls, 1);
    assert_int_equal(g_got_len, want_len);
    assert_memory_equal(g_got, want, want_len);
    assert_int_equal(g_got[0], 0x08); /* field 1 (version), varint: a Protobuf message */
    assert_int_equal(g_got[1], TERN_TSB_VERSION);
    /* not the CBOR batch: its reader refuses it */
    tern_tsb_reader_t r;
    tern_senml_rec_t rec;
    tern_tsb_read_begin(&r, g_got, g_got_len);
    assert_int_not_equal(tern_tsb_read_next(&r, &rec), TERN_OK);
    /* the size check that flushes by max_bytes sees the message's size */
    assert_int_equal(tern_tsb_size_pb("d1:", ref, 2), want_len);
    /* a short buffer is TOO_SMALL, nothing is written past it */
    uint8_t small[8];
    size_t n = 0;
    assert_int_equal(tern_tsb_encode_pb("d1:", ref, 2, small, sizeof small, &n),
                     TERN_ERR_TOO_SMALL);
}

/* A series buffer that is not what tern_tsb_add_*() writes is refused, not sent. */
static void test_foreign_series_buffer(void **state)
{
    (void)state;
    static uint8_t buf[2][64], out[256];
    tern_tsb_series_t s[2];
    series(s, buf);
    assert_int_equal(tern_tsb_add_num(&s[0], T0, 1.0), TERN_OK);
    assert_int_equal(tern_tsb_add_num(&s[0], T0 + 1000u, 1.5), TERN_OK);
    buf[0][0] = 0x61; /* a text string where a delta should be */
    size_t n = 0;
    assert_int_equal(tern_tsb_encode_pb("d1:", s, 2, out, sizeof out, &n), TERN_ERR_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batches_are_protobuf),
        cmocka_unit_test(test_foreign_series_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
