/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The time-series batch as a Protobuf message with nanopb (tern/tsbatch_pb.h,
 * schema in tsbatch.proto). Every repeated and string field is a callback
 * that reads the series as tern_tsb_add_*() left them: the name and unit
 * strings, and the buffer of CBOR integers (NUM: deltas, null for a skipped
 * slot; BOOL: closed run lengths; ENUM: (state, length) pairs), plus the open
 * run. A packed field is walked twice, once to size it and once to write it,
 * so nothing is copied and nothing is allocated.
 */
#include <string.h>

#include <pb_encode.h>

#include "tern/tsbatch_pb.h"
#include "tsbatch.pb.h"
#include "tsbatch_priv.h"

enum { PACK_DELTAS, PACK_GAPS, PACK_RUNS };

typedef struct {
    const tern_tsb_series_t *s;
    int what;
} pack_t;

typedef struct {
    const tern_tsb_series_t *series;
    size_t n;
    uint64_t bt;
} batch_t;

static bool put_text(pb_ostream_t *st, const pb_field_iter_t *f, void *const *arg)
{
    const char *t = *arg;
    return pb_encode_tag_for_field(st, f) && pb_encode_string(st, (const pb_byte_t *)t, strlen(t));
}

static bool put_states(pb_ostream_t *st, const pb_field_iter_t *f, void *const *arg)
{
    const tern_tsb_series_t *s = *arg;
    for (uint8_t i = 0; i < s->n_states; i++) {
        if (!put_text(st, f, (void *const *)&s->states[i])) {
            return false;
        }
    }
    return true;
}

/* The values of one packed field, from the series' buffer of CBOR integers. */
static bool pack_values(pb_ostream_t *st, const pack_t *pk)
{
    const tern_tsb_series_t *s = pk->s;
    size_t pos = 0;
    uint32_t slot = 0;
    while (pos < s->len) {
        tern_cbor_dec_t d;
        tern_cbor_item_t it;
        tern_cbor_dec_init(&d, s->buf + pos, s->len - pos, 0);
        tern_err_t e = tern_cbor_dec_next(&d, &it);
        bool null = it.type == TERN_CBOR_SIMPLE && it.u == TERN_CBOR_NULL;
        if (e != TERN_OK || (it.type > TERN_CBOR_NEGINT && !null) ||
            (null && s->kind != TERN_TSB_NUM)) {
            PB_RETURN_ERROR(st, "series buffer");
        }
        pos += d.pos;
        slot++;
        int64_t v = it.type == TERN_CBOR_NEGINT ? -1 - (int64_t)it.u : (int64_t)it.u;
        bool ok = true;
        if (pk->what == PACK_DELTAS && !null) {
            ok = pb_encode_svarint(st, v);
        } else if (pk->what == PACK_GAPS && null) {
            ok = pb_encode_varint(st, slot);
        } else if (pk->what == PACK_RUNS) {
            ok = pb_encode_varint(st, (uint64_t)v);
        }
        if (!ok) {
            return false;
        }
    }
    if (pk->what == PACK_RUNS) { /* the open run */
        return (s->kind != TERN_TSB_ENUM || pb_encode_varint(st, s->run_state)) &&
               pb_encode_varint(st, s->run_len);
    }
    return true;
}

static bool put_packed(pb_ostream_t *st, const pb_field_iter_t *f, void *const *arg)
{
    const pack_t *pk = *arg;
    pb_ostream_t size = PB_OSTREAM_SIZING;
    if (!pack_values(&size, pk)) {
        PB_RETURN_ERROR(st, PB_GET_ERROR(&size));
    }
    if (size.bytes_written == 0) {
        return true; /* an empty packed field is left out */
    }
    return pb_encode_tag(st, PB_WT_STRING, f->tag) && pb_encode_varint(st, size.bytes_written) &&
           pack_values(st, pk);
}

static bool put_series(pb_ostream_t *st, const pb_field_iter_t *f, void *const *arg)
{
    const batch_t *b = *arg;
    for (size_t i = 0; i < b->n; i++) {
        const tern_tsb_series_t *s = &b->series[i];
        if (!s->started) {
            continue;
        }
        pack_t deltas = { s, PACK_DELTAS }, gaps = { s, PACK_GAPS }, runs = { s, PACK_RUNS };
        tern_Series m = tern_Series_init_zero;
        m.n.funcs.encode = put_text;
        m.n.arg = (void *)(s->name != NULL ? s->name : "");
        if (s->unit != NULL && s->unit[0] != '\0') {
            m.u.funcs.encode = put_text;
            m.u.arg = (void *)s->unit;
        }
        m.kind = (tern_Kind)s->kind;
        m.t0 = s->t0_ms - b->bt;
        m.dt = s->period_ms;
        if (s->kind == TERN_TSB_NUM) {
            m.scale = s->scale;
            m.v0 = s->first_q;
            m.deltas.funcs.encode = put_packed;
            m.deltas.arg = &deltas;
            m.gaps.funcs.encode = put_packed;
            m.gaps.arg = &gaps;
        } else {
            m.first = s->kind == TERN_TSB_BOOL && s->first_q != 0;
            if (s->kind == TERN_TSB_ENUM) {
                m.states.funcs.encode = put_states;
                m.states.arg = (void *)s;
            }
            m.runs.funcs.encode = put_packed;
            m.runs.arg = &runs;
        }
        if (!pb_encode_tag_for_field(st, f) || !pb_encode_submessage(st, tern_Series_fields, &m)) {
            return false;
        }
    }
    return true;
}

/* The message for the series, its callbacks pointing at @p b. */
static tern_Batch message(const char *bn, batch_t *b)
{
    tern_Batch m = tern_Batch_init_zero;
    m.version = TERN_TSB_VERSION;
    m.bn.funcs.encode = put_text;
    m.bn.arg = (void *)(bn != NULL ? bn : "");
    m.bt = b->bt;
    m.series.funcs.encode = put_series;
    m.series.arg = b;
    return m;
}

tern_err_t tern_tsb_encode_pb(const char *bn, tern_tsb_series_t *series, size_t n, uint8_t *out,
                              size_t cap, size_t *len)
{
    batch_t b = { series, n, 0 };
    if (tern_tsb_base_time(series, n, &b.bt) == 0) {
        return TERN_ERR_EMPTY;
    }
    tern_Batch m = message(bn, &b);
    pb_ostream_t st = pb_ostream_from_buffer(out, cap);
    if (!pb_encode(&st, tern_Batch_fields, &m)) {
        /* nanopb says why: the buffer, or a series buffer that is not ours */
        return strcmp(PB_GET_ERROR(&st), "series buffer") == 0 ? TERN_ERR_MALFORMED
                                                               : TERN_ERR_TOO_SMALL;
    }
    *len = st.bytes_written;
    return TERN_OK;
}

size_t tern_tsb_size_pb(const char *bn, const tern_tsb_series_t *series, size_t n)
{
    batch_t b = { series, n, 0 };
    size_t size = 0;
    if (tern_tsb_base_time(series, n, &b.bt) == 0) {
        return 0;
    }
    tern_Batch m = message(bn, &b);
    return pb_get_encoded_size(&size, tern_Batch_fields, &m) ? size : 0;
}
