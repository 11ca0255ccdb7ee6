/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file tsbatch.h
 * @brief Layer 4: the compact time-series batch, tern's default telemetry
 * format on metered links (specified in docs/compact-batch.md).
 *
 * Each sensor is a series with a declared resolution (a decimal scale: -2 for
 * 0.01 degC, 0 for 1 Pa), a sampling period and, for its readings, a buffer of
 * its own. A reading is quantized to the resolution (no more loss than the
 * sensor's own) and stored as the difference to the previous one, a CBOR
 * integer: one byte while it moves by less than 24 steps. Booleans and
 * enumerations are stored as runs. A missing sample is a CBOR null in its slot.
 * tern_tsb_encode() puts every series into one CBOR item, with the base name
 * and base time once; once the batch is safe (in the outbox), tern_tsb_reset()
 * empties the series for the next one.
 *
 * tern_tsb_read_*() walks a batch back as SenML records (tern/senml.h):
 * name, unit, absolute time and the exact quantized value, so a fleet service
 * or `ternctl` turns a batch back into SenML any pipeline reads.
 */
#ifndef TERN_TSBATCH_H
#define TERN_TSBATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/cbor.h"
#include "tern/err.h"
#include "tern/senml.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The format version this code writes and reads. */
#define TERN_TSB_VERSION 1

typedef enum tern_tsb_kind {
    TERN_TSB_NUM = 0,  /* scaled integers, stored as deltas */
    TERN_TSB_BOOL = 1, /* runs of true/false */
    TERN_TSB_ENUM = 2, /* runs of states out of a table of up to TERN_TSB_MAX_STATES strings */
} tern_tsb_kind_t;

#define TERN_TSB_MAX_STATES 8

/** One sensor's series: the caller fills the configuration, the rest is private. */
typedef struct tern_tsb_series {
    /* configuration */
    const char *name; /* appended to the batch's base name */
    const char *unit; /* SenML unit, or NULL */
    tern_tsb_kind_t kind;
    int8_t scale;       /* NUM: value = q * 10^scale */
    uint32_t period_ms; /* the sampling period */
    uint8_t *buf;       /* room for the encoded samples */
    size_t cap;
    /* state */
    size_t len;       /* bytes of encoded samples in buf */
    uint32_t items;   /* CBOR items in buf */
    bool started;     /* a first sample is set */
    uint64_t t0_ms;   /* time of the first sample */
    uint32_t samples; /* slots since t0 (samples and gaps) */
    int64_t first_q, last_q;
    bool run_value;    /* BOOL / ENUM: the value of the open run */
    uint8_t run_state; /* ENUM: the state of the open run */
    uint32_t run_len;  /* the open run's length */
    uint8_t n_states;  /* ENUM */
    const char *states[TERN_TSB_MAX_STATES];
} tern_tsb_series_t;

/** Reset @p s for a new batch (keeps its configuration). */
void tern_tsb_reset(tern_tsb_series_t *s);

/**
 * Add a reading at @p t_ms (ms since 1970). It must fall on the series'
 * period after the first one (within half a period); skipped periods become
 * gaps. TERN_ERR_RANGE for a time before the last sample or a value beyond
 * 2^53 steps, TERN_ERR_FULL when the series' buffer is full (encode, then add
 * again), TERN_ERR_INVAL for the wrong kind.
 */
tern_err_t tern_tsb_add_num(tern_tsb_series_t *s, uint64_t t_ms, double v);
tern_err_t tern_tsb_add_bool(tern_tsb_series_t *s, uint64_t t_ms, bool v);
/** @p state must stay valid until the batch is encoded; TERN_ERR_FULL beyond MAX_STATES. */
tern_err_t tern_tsb_add_enum(tern_tsb_series_t *s, uint64_t t_ms, const char *state);

/**
 * Encode the batch of @p n series under base name @p bn into @p out: *len its
 * size. Series without samples are left out, and none is changed: reset them
 * (tern_tsb_reset()) once the batch is stored. TERN_ERR_EMPTY if no series has
 * a sample, TERN_ERR_TOO_SMALL if @p cap is short.
 */
tern_err_t tern_tsb_encode(const char *bn, tern_tsb_series_t *series, size_t n, uint8_t *out,
                           size_t cap, size_t *len);

/** Bytes the batch would take if encoded now (exact, or over by a byte or two). */
size_t tern_tsb_size(const char *bn, const tern_tsb_series_t *series, size_t n);

/* ---------------------------------------------------------------- reader -- */

typedef struct tern_tsb_reader {
    tern_cbor_dec_t dec;
    tern_senml_str_t bn;
    uint64_t bt_ms;
    /* the series being read */
    bool in_series, fresh; /* fresh: no sample of the series given yet */
    tern_senml_str_t name, unit;
    uint8_t kind;
    int8_t scale;
    uint64_t t_ms;
    uint32_t dt_ms;
    int64_t q;
    bool bval;
    uint32_t run_left;
    uint8_t n_states;
    tern_senml_str_t states[TERN_TSB_MAX_STATES];
} tern_tsb_reader_t;

/**
 * Whether @p buf (@p len bytes) starts as a compact batch does, an array whose first
 * item is an unsigned integer (its format version), rather than as a SenML pack (an
 * array of maps). Only the first two heads are read; the reader checks the rest.
 */
bool tern_tsb_is_batch(const uint8_t *buf, size_t len);

void tern_tsb_read_begin(tern_tsb_reader_t *r, const uint8_t *buf, size_t len);

/**
 * The next reading as a resolved SenML record (views into the buffer; time in
 * seconds). TERN_ERR_EMPTY after the last; TERN_ERR_MALFORMED for a batch that
 * breaks the format, TERN_ERR_UNSUPPORTED for another version, or the CBOR
 * decoder's error.
 */
tern_err_t tern_tsb_read_next(tern_tsb_reader_t *r, tern_senml_rec_t *rec);

#ifdef __cplusplus
}
#endif
#endif /* TERN_TSBATCH_H */
