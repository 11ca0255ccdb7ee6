/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file telemetry.h
 * @brief Layer 4: telemetry, readings in, compact batches out to the outbox.
 *
 * The application declares its sensors as compact-batch series
 * (tern/tsbatch.h: name, unit, resolution, period, a buffer each) and adds
 * readings as it takes them. The batch leaves, encoded as one compact batch
 * (docs/compact-batch.md), through a sink (normally tern_uplink_send(), so it
 * lands in the persistent outbox before anything is sent):
 *  - by age: tern_telemetry_poll() flushes once the oldest reading in the
 *    batch is `max_age_ms` old (60 s: a minute per PUBLISH);
 *  - by size: once the batch reaches `max_bytes` (a reading past it at most;
 *    keep it under the outbox's record size), or when a series' buffer is full;
 *  - by priority: tern_telemetry_alert() adds a reading and sends the batch
 *    at once at CRITICAL priority, so an alarm does not wait for the minute.
 * Regular batches go at `prio` (NORMAL, or BULK for history that may wait for
 * a cheap link). No heap: the caller owns the series, their buffers and the
 * scratch area one encoded batch is built in.
 */
#ifndef TERN_TELEMETRY_H
#define TERN_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/err.h"
#include "tern/outbox.h"
#include "tern/time.h"
#include "tern/tsbatch.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Where an encoded batch goes: TERN_OK once it is durable (e.g. in the outbox). */
typedef tern_err_t (*tern_telemetry_sink_fn)(void *ctx, tern_outbox_prio_t prio, const char *topic,
                                             const uint8_t *batch, size_t len);

typedef struct tern_telemetry_config {
    tern_tsb_series_t *series; /* the sensors; their configuration filled in */
    size_t n;
    const char *base_name; /* e.g. "urn:dev:tern:<id>:" */
    const char *topic;     /* e.g. "tern/<id>/telemetry" */
    uint8_t *scratch;      /* one encoded batch */
    size_t scratch_size;
    uint32_t max_age_ms;     /* flush when the batch is this old (0: 60,000) */
    size_t max_bytes;        /* flush once the batch reaches this (0: scratch_size) */
    tern_outbox_prio_t prio; /* of regular batches */
    tern_telemetry_sink_fn sink;
    void *sink_ctx;
} tern_telemetry_config_t;

typedef struct tern_telemetry {
    tern_telemetry_config_t c;
    bool pending;       /* a reading waits in the batch */
    tern_ms_t first_at; /* when the batch got its first reading */
    uint32_t batches, readings, alerts;
} tern_telemetry_t;

/** TERN_ERR_INVAL for missing parts or a series with neither buffer nor period. */
tern_err_t tern_telemetry_init(tern_telemetry_t *t, const tern_telemetry_config_t *cfg);

/**
 * Add a reading of series @p i taken at @p t_ms (ms since 1970), @p now the
 * monotonic clock. Flushes first if the series is full, after if the batch
 * reached max_bytes. The series' error otherwise (TERN_ERR_RANGE: time going
 * back; TERN_ERR_INVAL: wrong kind or index), or the sink's.
 */
tern_err_t tern_telemetry_num(tern_telemetry_t *t, size_t i, uint64_t t_ms, double v,
                              tern_ms_t now);
tern_err_t tern_telemetry_bool(tern_telemetry_t *t, size_t i, uint64_t t_ms, bool v, tern_ms_t now);
tern_err_t tern_telemetry_enum(tern_telemetry_t *t, size_t i, uint64_t t_ms, const char *state,
                               tern_ms_t now);

/** A number that cannot wait: added, then the whole batch sent at CRITICAL priority. */
tern_err_t tern_telemetry_alert(tern_telemetry_t *t, size_t i, uint64_t t_ms, double v,
                                tern_ms_t now);

/** Flush the batch if it is max_age_ms old. TERN_OK if nothing was due. */
tern_err_t tern_telemetry_poll(tern_telemetry_t *t, tern_ms_t now);

/** Send the batch now at @p prio (TERN_OK if it is empty). */
tern_err_t tern_telemetry_flush(tern_telemetry_t *t, tern_outbox_prio_t prio);

/** ms until tern_telemetry_poll() has work (UINT32_MAX: nothing pending). */
uint32_t tern_telemetry_next_timeout(const tern_telemetry_t *t, tern_ms_t now);

#ifdef __cplusplus
}
#endif
#endif /* TERN_TELEMETRY_H */
