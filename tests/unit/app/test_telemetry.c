/* SPDX-License-Identifier: Apache-2.0 */
/* Telemetry: batches leave by age, by size and at once for an alert (CRITICAL), a full
 * series flushes itself, and a sink that fails loses nothing. The sink here records
 * what it gets (the outbox is tested on its own); batches are decoded back and every
 * reading checked. Host and Cortex-M4. */
#include <string.h>

#include "tern/telemetry.h"
#include "tern_test.h"

#define T0 1700000000000ull

typedef struct sink {
    int calls, fail_next;
    tern_outbox_prio_t prio[16];
    uint8_t batch[16][512];
    size_t len[16];
} sink_t;

static sink_t g_sink;

static tern_err_t sink(void *ctx, tern_outbox_prio_t prio, const char *topic, const uint8_t *b,
                       size_t len)
{
    sink_t *s = ctx;
    assert_string_equal(topic, "tern/d1/telemetry");
    if (s->fail_next) {
        s->fail_next--;
        return TERN_ERR_FULL;
    }
    assert_true(s->calls < 16 && len <= sizeof s->batch[0]);
    s->prio[s->calls] = prio;
    memcpy(s->batch[s->calls], b, len);
    s->len[s->calls++] = len;
    return TERN_OK;
}

static uint8_t g_buf[2][64], g_scratch[512];
static tern_tsb_series_t g_series[2];
static tern_telemetry_t g_t;

static void setup_telemetry(size_t max_bytes, size_t series_cap)
{
    memset(&g_sink, 0, sizeof g_sink);
    memset(g_series, 0, sizeof g_series);
    g_series[0] = (tern_tsb_series_t){ .name = "temp",
                                       .unit = "Cel",
                                       .kind = TERN_TSB_NUM,
                                       .scale = -2,
                                       .period_ms = 1000,
                                       .buf = g_buf[0],
                                       .cap = series_cap };
    g_series[1] = (tern_tsb_series_t){ .name = "door",
                                       .kind = TERN_TSB_BOOL,
                                       .period_ms = 1000,
                                       .buf = g_buf[1],
                                       .cap = sizeof g_buf[1] };
    tern_telemetry_config_t c = { .series = g_series,
                                  .n = 2,
                                  .base_name = "d1:",
                                  .topic = "tern/d1/telemetry",
                                  .scratch = g_scratch,
                                  .scratch_size = sizeof g_scratch,
                                  .max_age_ms = 10000,
                                  .max_bytes = max_bytes,
                                  .prio = TERN_OUTBOX_NORMAL,
                                  .sink = sink,
                                  .sink_ctx = &g_sink };
    assert_int_equal(tern_telemetry_init(&g_t, &c), TERN_OK);
}

/* Readings of series "temp" in sink batch @p k, in order, into @p v; their count. */
static int temps(int k, double *v, int cap)
{
    tern_tsb_reader_t r;
    tern_senml_rec_t rec;
    int n = 0;
    tern_tsb_read_begin(&r, g_sink.batch[k], g_sink.len[k]);
    while (tern_tsb_read_next(&r, &rec) == TERN_OK) {
        if (rec.kind == TERN_SENML_NUM && n < cap) {
            v[n++] = rec.v;
        }
    }
    return n;
}

static void test_flush_by_age(void **state)
{
    (void)state;
    setup_telemetry(0, sizeof g_buf[0]);
    tern_ms_t now = 0xFFFFF000u; /* across the wrap */
    for (unsigned i = 0; i < 10; i++) {
        assert_int_equal(tern_telemetry_num(&g_t, 0, T0 + 1000u * i, 20 + i * 0.01, now), TERN_OK);
        assert_int_equal(tern_telemetry_bool(&g_t, 1, T0 + 1000u * i, i > 5, now), TERN_OK);
        assert_int_equal(tern_telemetry_poll(&g_t, now), TERN_OK);
        now += 999;
    }
    assert_int_equal(g_sink.calls, 0);
    assert_true(tern_telemetry_next_timeout(&g_t, now) > 0);
    now += 100;
    assert_int_equal(tern_telemetry_next_timeout(&g_t, now), 0);
    assert_int_equal(tern_telemetry_poll(&g_t, now), TERN_OK);
    assert_int_equal(g_sink.calls, 1);
    assert_int_equal(g_sink.prio[0], TERN_OUTBOX_NORMAL);
    double v[16];
    assert_int_equal(temps(0, v, 16), 10);
    for (int i = 0; i < 10; i++) {
        assert_true(v[i] == 20 + i * 0.01 ||
                    (v[i] - (20 + i * 0.01)) * (v[i] - (20 + i * 0.01)) < 1e-18);
    }
    assert_int_equal(tern_telemetry_next_timeout(&g_t, now), UINT32_MAX);
    assert_int_equal(tern_telemetry_poll(&g_t, now + 100000), TERN_OK); /* nothing pending */
    assert_int_equal(g_sink.calls, 1);
}

static void test_flush_by_size_and_full_series(void **state)
{
    (void)state;
    setup_telemetry(60, sizeof g_buf[0]);
    for (unsigned i = 0; i < 40; i++) {
        assert_int_equal(tern_telemetry_num(&g_t, 0, T0 + 1000u * i, i * 7.0, 0), TERN_OK);
    }
    assert_true(g_sink.calls >= 2); /* the size bound sent batches on its own */
    assert_int_equal(tern_telemetry_flush(&g_t, TERN_OUTBOX_NORMAL), TERN_OK);
    int total = 0;
    for (int k = 0; k < g_sink.calls; k++) {
        assert_true(g_sink.len[k] <= 60 + 32); /* near the bound, not far past it */
        double v[64];
        int n = temps(k, v, 64);
        for (int j = 0; j < n; j++) {
            assert_true(v[j] == (total + j) * 7.0); /* in order, none lost or doubled */
        }
        total += n;
    }
    assert_int_equal(total, 40);
    /* a tiny series buffer: full series flush themselves */
    setup_telemetry(0, 12);
    for (unsigned i = 0; i < 20; i++) {
        assert_int_equal(tern_telemetry_num(&g_t, 0, T0 + 1000u * i, i * 100.0, 0), TERN_OK);
    }
    assert_true(g_sink.calls >= 2);
}

static void test_alert_goes_critical_at_once(void **state)
{
    (void)state;
    setup_telemetry(0, sizeof g_buf[0]);
    assert_int_equal(tern_telemetry_num(&g_t, 0, T0, 21.0, 0), TERN_OK);
    assert_int_equal(tern_telemetry_alert(&g_t, 0, T0 + 1000, 85.5, 1), TERN_OK);
    assert_int_equal(g_sink.calls, 1);
    assert_int_equal(g_sink.prio[0], TERN_OUTBOX_CRITICAL);
    double v[4];
    assert_int_equal(temps(0, v, 4), 2); /* the batch so far goes with it */
    assert_true(v[1] == 85.5);
    assert_int_equal(g_t.alerts, 1);
}

static void test_sink_failure_loses_nothing(void **state)
{
    (void)state;
    setup_telemetry(0, sizeof g_buf[0]);
    for (unsigned i = 0; i < 5; i++) {
        assert_int_equal(tern_telemetry_num(&g_t, 0, T0 + 1000u * i, i, 0), TERN_OK);
    }
    g_sink.fail_next = 1;
    assert_int_equal(tern_telemetry_flush(&g_t, TERN_OUTBOX_NORMAL), TERN_ERR_FULL);
    for (unsigned i = 5; i < 8; i++) {
        assert_int_equal(tern_telemetry_num(&g_t, 0, T0 + 1000u * i, i, 0), TERN_OK);
    }
    assert_int_equal(tern_telemetry_flush(&g_t, TERN_OUTBOX_NORMAL), TERN_OK);
    double v[16];
    assert_int_equal(temps(0, v, 16), 8);
    assert_true(v[7] == 7);
    /* misuse */
    assert_int_equal(tern_telemetry_num(&g_t, 2, T0, 1, 0), TERN_ERR_INVAL);
    assert_int_equal(tern_telemetry_bool(&g_t, 0, T0 + 99000, true, 0), TERN_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flush_by_age),
        cmocka_unit_test(test_flush_by_size_and_full_series),
        cmocka_unit_test(test_alert_goes_critical_at_once),
        cmocka_unit_test(test_sink_failure_loses_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
