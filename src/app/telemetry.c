/* SPDX-License-Identifier: Apache-2.0 */
/* Telemetry: readings into batches, batches into the outbox (tern/telemetry.h). */
#include <string.h>

#include "tern/telemetry.h"

#define DEFAULT_AGE_MS 60000u

/* The batch format, chosen at build time: the compact CBOR batch, or with
 * -DTERN_TELEMETRY_PROTOBUF=ON the same batch as a nanopb message. */
#if defined(TERN_TELEMETRY_PROTOBUF) && TERN_TELEMETRY_PROTOBUF
#include "tern/tsbatch_pb.h"
#define batch_encode tern_tsb_encode_pb
#define batch_size   tern_tsb_size_pb
#else
#define batch_encode tern_tsb_encode
#define batch_size   tern_tsb_size
#endif

tern_err_t tern_telemetry_init(tern_telemetry_t *t, const tern_telemetry_config_t *cfg)
{
    if (t == NULL || cfg == NULL || cfg->series == NULL || cfg->n == 0 || cfg->topic == NULL ||
        cfg->scratch == NULL || cfg->scratch_size == 0 || cfg->sink == NULL ||
        (unsigned)cfg->prio > TERN_OUTBOX_BULK) {
        return TERN_ERR_INVAL;
    }
    for (size_t i = 0; i < cfg->n; i++) {
        if (cfg->series[i].buf == NULL || cfg->series[i].period_ms == 0 ||
            cfg->series[i].name == NULL) {
            return TERN_ERR_INVAL;
        }
        tern_tsb_reset(&cfg->series[i]);
    }
    memset(t, 0, sizeof *t);
    t->c = *cfg;
    if (t->c.max_age_ms == 0) {
        t->c.max_age_ms = DEFAULT_AGE_MS;
    }
    if (t->c.max_bytes == 0 || t->c.max_bytes > t->c.scratch_size) {
        t->c.max_bytes = t->c.scratch_size;
    }
    return TERN_OK;
}

tern_err_t tern_telemetry_flush(tern_telemetry_t *t, tern_outbox_prio_t prio)
{
    if (!t->pending) {
        return TERN_OK;
    }
    size_t len = 0;
    tern_err_t err =
        batch_encode(t->c.base_name, t->c.series, t->c.n, t->c.scratch, t->c.scratch_size, &len);
    if (err == TERN_ERR_EMPTY) {
        t->pending = false;
        return TERN_OK;
    }
    if (err != TERN_OK) {
        return err;
    }
    /* the readings leave the series only once the sink has stored the batch */
    err = t->c.sink(t->c.sink_ctx, prio, t->c.topic, t->c.scratch, len);
    if (err != TERN_OK) {
        return err;
    }
    for (size_t i = 0; i < t->c.n; i++) {
        tern_tsb_reset(&t->c.series[i]);
    }
    t->pending = false;
    t->batches++;
    return TERN_OK;
}

typedef enum { ADD_NUM, ADD_BOOL, ADD_ENUM } add_kind_t;

static tern_err_t add_one(tern_tsb_series_t *s, add_kind_t k, uint64_t t_ms, double v,
                          const char *state)
{
    return k == ADD_NUM    ? tern_tsb_add_num(s, t_ms, v)
           : k == ADD_BOOL ? tern_tsb_add_bool(s, t_ms, v != 0)
                           : tern_tsb_add_enum(s, t_ms, state);
}

static tern_err_t add(tern_telemetry_t *t, size_t i, add_kind_t k, uint64_t t_ms, double v,
                      const char *state, tern_ms_t now)
{
    if (i >= t->c.n) {
        return TERN_ERR_INVAL;
    }
    tern_tsb_series_t *s = &t->c.series[i];
    tern_err_t err = add_one(s, k, t_ms, v, state);
    if (err == TERN_ERR_FULL) { /* the series' buffer (or state table) is full: send, retry */
        err = tern_telemetry_flush(t, t->c.prio);
        if (err == TERN_OK) {
            err = add_one(s, k, t_ms, v, state);
        }
    }
    if (err != TERN_OK) {
        return err;
    }
    if (!t->pending) {
        t->pending = true;
        t->first_at = now;
    }
    t->readings++;
    if (batch_size(t->c.base_name, t->c.series, t->c.n) >= t->c.max_bytes) {
        return tern_telemetry_flush(t, t->c.prio);
    }
    return TERN_OK;
}

tern_err_t tern_telemetry_num(tern_telemetry_t *t, size_t i, uint64_t t_ms, double v, tern_ms_t now)
{
    return add(t, i, ADD_NUM, t_ms, v, NULL, now);
}

tern_err_t tern_telemetry_bool(tern_telemetry_t *t, size_t i, uint64_t t_ms, bool v, tern_ms_t now)
{
    return add(t, i, ADD_BOOL, t_ms, v ? 1.0 : 0.0, NULL, now);
}

tern_err_t tern_telemetry_enum(tern_telemetry_t *t, size_t i, uint64_t t_ms, const char *state,
                               tern_ms_t now)
{
    return add(t, i, ADD_ENUM, t_ms, 0, state, now);
}

tern_err_t tern_telemetry_alert(tern_telemetry_t *t, size_t i, uint64_t t_ms, double v,
                                tern_ms_t now)
{
    tern_err_t err = add(t, i, ADD_NUM, t_ms, v, NULL, now);
    if (err == TERN_OK) {
        t->alerts++;
        err = tern_telemetry_flush(t, TERN_OUTBOX_CRITICAL);
    }
    return err;
}

tern_err_t tern_telemetry_poll(tern_telemetry_t *t, tern_ms_t now)
{
    if (t->pending && tern_time_elapsed(now, t->first_at) >= t->c.max_age_ms) {
        return tern_telemetry_flush(t, t->c.prio);
    }
    return TERN_OK;
}

uint32_t tern_telemetry_next_timeout(const tern_telemetry_t *t, tern_ms_t now)
{
    if (!t->pending) {
        return UINT32_MAX;
    }
    uint32_t age = tern_time_elapsed(now, t->first_at);
    return age >= t->c.max_age_ms ? 0 : t->c.max_age_ms - age;
}
