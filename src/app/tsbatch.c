/* SPDX-License-Identifier: Apache-2.0 */
/* The compact time-series batch (tern/tsbatch.h, docs/compact-batch.md). */
#include <string.h>

#include "tern/tsbatch.h"

#include "cbor_read.h"
#include "tsbatch_priv.h"

#define MAX_Q 9007199254740992.0 /* 2^53: integers a double holds exactly */

void tern_tsb_reset(tern_tsb_series_t *s)
{
    s->len = 0;
    s->items = 0;
    s->started = false;
    s->samples = 0;
    s->run_len = 0;
    s->n_states = 0;
}

/* Append one CBOR item to the series' buffer, keeping @p keep bytes free for the
 * closing run. */
static tern_err_t put_int(tern_tsb_series_t *s, int64_t v, bool null, size_t keep)
{
    tern_cbor_enc_t e;
    if (s->cap < s->len + keep) {
        return TERN_ERR_FULL;
    }
    tern_cbor_enc_init(&e, s->buf + s->len, s->cap - s->len - keep, 0);
    tern_err_t err = null ? tern_cbor_enc_null(&e) : tern_cbor_enc_int(&e, v);
    if (err != TERN_OK) {
        return TERN_ERR_FULL;
    }
    s->len += e.len;
    s->items++;
    return TERN_OK;
}

/* The slot of a sample at @p t_ms: its period since the first sample, rounded. */
static tern_err_t slot_of(const tern_tsb_series_t *s, uint64_t t_ms, uint32_t *slot)
{
    if (t_ms < s->t0_ms || s->period_ms == 0) {
        return TERN_ERR_RANGE;
    }
    uint64_t k = (t_ms - s->t0_ms + s->period_ms / 2u) / s->period_ms;
    if (k < s->samples || k > UINT32_MAX - 1u) {
        return TERN_ERR_RANGE; /* not after the last sample */
    }
    *slot = (uint32_t)k;
    return TERN_OK;
}

static bool first_sample(tern_tsb_series_t *s, uint64_t t_ms)
{
    if (s->started) {
        return false;
    }
    s->started = true;
    s->t0_ms = t_ms;
    s->samples = 1;
    s->len = 0;
    s->items = 0;
    return true;
}

tern_err_t tern_tsb_add_num(tern_tsb_series_t *s, uint64_t t_ms, double v)
{
    if (s->kind != TERN_TSB_NUM || s->scale < -18 || s->scale > 18) {
        return TERN_ERR_INVAL;
    }
    double f = v; /* quantize: v / 10^scale, rounded half away from zero */
    for (int i = s->scale; i < 0; i++) {
        f *= 10.0;
    }
    for (int i = 0; i < s->scale; i++) {
        f /= 10.0;
    }
    if (!(f > -MAX_Q && f < MAX_Q)) {
        return TERN_ERR_RANGE; /* NaN too */
    }
    int64_t q = (int64_t)(f + (f >= 0 ? 0.5 : -0.5));
    if (!s->started) {
        (void)first_sample(s, t_ms);
        s->first_q = s->last_q = q;
        return TERN_OK;
    }
    uint32_t slot;
    tern_err_t err = slot_of(s, t_ms, &slot);
    if (err != TERN_OK) {
        return err;
    }
    size_t len = s->len, items = s->items;
    for (uint32_t i = s->samples; i < slot && err == TERN_OK; i++) {
        err = put_int(s, 0, true, 0); /* a missing sample */
    }
    if (err == TERN_OK) {
        err = put_int(s, q - s->last_q, false, 0);
    }
    if (err != TERN_OK) {
        s->len = len; /* all or nothing */
        s->items = (uint32_t)items;
        return err;
    }
    s->last_q = q;
    s->samples = slot + 1;
    return TERN_OK;
}

/* A run-coded sample: value @p v (a bool, or a state index) at @p t_ms. A state holds
 * until it changes, so skipped periods extend the open run. */
static tern_err_t add_run(tern_tsb_series_t *s, uint64_t t_ms, uint8_t v)
{
    if (s->cap < (s->kind == TERN_TSB_ENUM ? 18u : 9u)) {
        return TERN_ERR_INVAL; /* no room for even the closing run */
    }
    if (first_sample(s, t_ms)) {
        s->first_q = v;
        s->run_state = v;
        s->run_len = 1;
        return TERN_OK;
    }
    uint32_t slot;
    tern_err_t err = slot_of(s, t_ms, &slot);
    if (err != TERN_OK) {
        return err;
    }
    uint32_t extra = slot + 1u - s->samples;
    if (v == s->run_state) {
        s->run_len += extra;
    } else {
        size_t len = s->len, items = s->items, keep = s->kind == TERN_TSB_ENUM ? 18u : 9u;
        if (s->kind == TERN_TSB_ENUM) {
            err = put_int(s, s->run_state, false, keep);
        }
        if (err == TERN_OK) {
            err = put_int(s, (int64_t)(s->run_len + extra - 1u), false, keep);
        }
        if (err != TERN_OK) {
            s->len = len;
            s->items = (uint32_t)items;
            return err;
        }
        s->run_state = v;
        s->run_len = 1;
    }
    s->samples = slot + 1;
    return TERN_OK;
}

tern_err_t tern_tsb_add_bool(tern_tsb_series_t *s, uint64_t t_ms, bool v)
{
    return s->kind != TERN_TSB_BOOL ? TERN_ERR_INVAL : add_run(s, t_ms, v ? 1u : 0u);
}

tern_err_t tern_tsb_add_enum(tern_tsb_series_t *s, uint64_t t_ms, const char *state)
{
    if (s->kind != TERN_TSB_ENUM || state == NULL) {
        return TERN_ERR_INVAL;
    }
    if (!s->started) {
        s->n_states = 0; /* a new batch: a new table */
    }
    uint8_t i = 0;
    while (i < s->n_states && strcmp(s->states[i], state) != 0) {
        i++;
    }
    bool added = i == s->n_states;
    if (added) {
        if (i == TERN_TSB_MAX_STATES) {
            return TERN_ERR_FULL;
        }
        s->states[s->n_states++] = state;
    }
    tern_err_t err = add_run(s, t_ms, i);
    if (err != TERN_OK && added) {
        s->n_states--; /* its run did not go in */
    }
    return err;
}

static tern_err_t encode_series(tern_cbor_enc_t *e, const tern_tsb_series_t *s, uint64_t bt)
{
    bool num = s->kind == TERN_TSB_NUM;
    (void)tern_cbor_enc_array(e, num ? 8u : 7u);
    (void)tern_cbor_enc_str(e, s->name);
    if (s->unit != NULL && s->unit[0] != '\0') {
        (void)tern_cbor_enc_str(e, s->unit);
    } else {
        (void)tern_cbor_enc_null(e);
    }
    (void)tern_cbor_enc_uint(e, s->kind);
    (void)tern_cbor_enc_uint(e, s->t0_ms - bt);
    (void)tern_cbor_enc_uint(e, s->period_ms);
    if (num) {
        (void)tern_cbor_enc_int(e, s->scale);
        (void)tern_cbor_enc_int(e, s->first_q);
        return tern_cbor_enc_array_of(e, s->items, s->buf, s->len);
    }
    if (s->kind == TERN_TSB_BOOL) {
        (void)tern_cbor_enc_bool(e, s->first_q != 0);
    } else {
        (void)tern_cbor_enc_array(e, s->n_states);
        for (uint8_t i = 0; i < s->n_states; i++) {
            (void)tern_cbor_enc_str(e, s->states[i]);
        }
    }
    /* the closed runs, then the open one (room for it was kept) */
    uint8_t tail[18];
    tern_cbor_enc_t t;
    tern_cbor_enc_init(&t, tail, sizeof tail, 0);
    if (s->kind == TERN_TSB_ENUM) {
        (void)tern_cbor_enc_uint(&t, s->run_state);
    }
    (void)tern_cbor_enc_uint(&t, s->run_len);
    uint32_t n = s->items + (s->kind == TERN_TSB_ENUM ? 2u : 1u);
    /* series buffers keep room for the tail, so it can be joined in place */
    memcpy(s->buf + s->len, tail, t.len);
    return tern_cbor_enc_array_of(e, n, s->buf, s->len + t.len);
}

/* The batch's base time (the earliest first sample) in *bt; how many series have samples. */
size_t tern_tsb_base_time(const tern_tsb_series_t *series, size_t n, uint64_t *bt)
{
    size_t used = 0;
    *bt = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        if (series[i].started) {
            used++;
            *bt = series[i].t0_ms < *bt ? series[i].t0_ms : *bt;
        }
    }
    return used;
}

tern_err_t tern_tsb_encode(const char *bn, tern_tsb_series_t *series, size_t n, uint8_t *out,
                           size_t cap, size_t *len)
{
    uint64_t bt;
    size_t used = tern_tsb_base_time(series, n, &bt);
    if (used == 0) {
        return TERN_ERR_EMPTY;
    }
    tern_cbor_enc_t e;
    tern_cbor_enc_init(&e, out, cap, 0);
    (void)tern_cbor_enc_array(&e, 3u + used);
    (void)tern_cbor_enc_uint(&e, TERN_TSB_VERSION);
    (void)tern_cbor_enc_str(&e, bn != NULL ? bn : "");
    (void)tern_cbor_enc_uint(&e, bt);
    for (size_t i = 0; i < n; i++) {
        if (series[i].started) {
            (void)encode_series(&e, &series[i], bt);
        }
    }
    return tern_cbor_enc_finish(&e, len);
}

/* Bytes of a CBOR head with argument @p v. */
static size_t head_len(uint64_t v)
{
    return v < 24u ? 1u : v <= 0xFFu ? 2u : v <= 0xFFFFu ? 3u : v <= 0xFFFFFFFFu ? 5u : 9u;
}

static size_t int_len(int64_t v)
{
    return head_len(v < 0 ? (uint64_t)(-(v + 1)) : (uint64_t)v);
}

static size_t text_len(const char *t)
{
    size_t n = t != NULL ? strlen(t) : 0;
    return head_len(n) + n;
}

size_t tern_tsb_size(const char *bn, const tern_tsb_series_t *series, size_t n)
{
    uint64_t bt;
    size_t used = tern_tsb_base_time(series, n, &bt), total;
    if (used == 0) {
        return 0;
    }
    total = head_len(3u + used) + 1u + text_len(bn) + head_len(bt);
    for (size_t i = 0; i < n; i++) {
        const tern_tsb_series_t *s = &series[i];
        if (!s->started) {
            continue;
        }
        total += 1u + text_len(s->name) + (s->unit && s->unit[0] ? text_len(s->unit) : 1u) + 1u +
                 head_len(s->t0_ms - bt) + head_len(s->period_ms) + s->len;
        if (s->kind == TERN_TSB_NUM) {
            total += int_len(s->scale) + int_len(s->first_q) + head_len(s->items);
        } else {
            total += head_len(s->items + 2u) + head_len(s->run_len) + 1u; /* + first or state */
            for (uint8_t k = 0; k < s->n_states; k++) {
                total += text_len(s->states[k]);
            }
            total += s->kind == TERN_TSB_ENUM ? head_len(s->n_states) : 0u;
        }
    }
    return total;
}

/* ---------------------------------------------------------------- reader -- */

bool tern_tsb_is_batch(const uint8_t *buf, size_t len)
{
    tern_cbor_dec_t d;
    tern_cbor_item_t it;
    tern_cbor_dec_init(&d, buf, len, 0);
    return tern_cbor_dec_next(&d, &it) == TERN_OK && it.type == TERN_CBOR_ARRAY &&
           tern_cbor_dec_next(&d, &it) == TERN_OK && it.type == TERN_CBOR_UINT;
}

void tern_tsb_read_begin(tern_tsb_reader_t *r, const uint8_t *buf, size_t len)
{
    memset(r, 0, sizeof *r);
    tern_cbor_dec_init(&r->dec, buf, len, 0);
}

static tern_err_t next_int(tern_tsb_reader_t *r, int64_t *v)
{
    tern_cbor_item_t it;
    tern_err_t err = tern_cbor_dec_next(&r->dec, &it);
    if (err != TERN_OK) {
        return err;
    }
    if ((it.type != TERN_CBOR_UINT && it.type != TERN_CBOR_NEGINT) || it.u > (uint64_t)INT64_MAX) {
        return TERN_ERR_MALFORMED;
    }
    *v = it.type == TERN_CBOR_UINT ? (int64_t)it.u : -1 - (int64_t)it.u;
    return TERN_OK;
}

/* Open the next series: its head, up to its samples (inside their array). */
static tern_err_t open_series(tern_tsb_reader_t *r, tern_senml_rec_t *first, bool *have)
{
    tern_cbor_item_t it;
    int64_t kind, t0, dt, v;
    tern_err_t err = tern_cbor_dec_next(&r->dec, &it);
    if (err != TERN_OK) {
        return err;
    }
    if (it.type == TERN_CBOR_END) { /* the batch is over */
        err = tern_cbor_dec_next(&r->dec, &it);
        return err == TERN_ERR_EMPTY ? TERN_ERR_EMPTY : err == TERN_OK ? TERN_ERR_MALFORMED : err;
    }
    if (it.type != TERN_CBOR_ARRAY || it.indefinite || (it.u != 7 && it.u != 8)) {
        return TERN_ERR_MALFORMED;
    }
    uint64_t fields = it.u;
    if ((err = app_cbor_string(&r->dec, TERN_CBOR_TEXT, false, &r->name)) != TERN_OK ||
        (err = app_cbor_string(&r->dec, TERN_CBOR_TEXT, true, &r->unit)) != TERN_OK ||
        (err = next_int(r, &kind)) != TERN_OK || (err = next_int(r, &t0)) != TERN_OK ||
        (err = next_int(r, &dt)) != TERN_OK) {
        return err;
    }
    if (kind < 0 || kind > TERN_TSB_ENUM || t0 < 0 || dt <= 0 || dt > UINT32_MAX ||
        fields != (kind == TERN_TSB_NUM ? 8u : 7u)) {
        return TERN_ERR_MALFORMED;
    }
    r->kind = (uint8_t)kind;
    r->t_ms = r->bt_ms + (uint64_t)t0;
    r->dt_ms = (uint32_t)dt;
    memset(first, 0, sizeof *first);
    *have = false;
    if (kind == TERN_TSB_NUM) {
        if ((err = next_int(r, &v)) != TERN_OK) {
            return err;
        }
        if (v < -18 || v > 18) {
            return TERN_ERR_MALFORMED;
        }
        r->scale = (int8_t)v;
        if ((err = next_int(r, &r->q)) != TERN_OK) {
            return err;
        }
        *have = true; /* the first sample is v0 itself */
    } else if (kind == TERN_TSB_BOOL) {
        if ((err = tern_cbor_dec_next(&r->dec, &it)) != TERN_OK) {
            return err;
        }
        if (it.type != TERN_CBOR_SIMPLE || (it.u != TERN_CBOR_TRUE && it.u != TERN_CBOR_FALSE)) {
            return TERN_ERR_MALFORMED;
        }
        r->bval = it.u == TERN_CBOR_TRUE;
        r->q = r->bval ? 0 : 1; /* flipped by the first run */
    } else {
        if ((err = app_cbor_expect(&r->dec, TERN_CBOR_ARRAY, &it)) != TERN_OK) {
            return err;
        }
        if (it.indefinite || it.u > TERN_TSB_MAX_STATES) {
            return TERN_ERR_MALFORMED;
        }
        r->n_states = (uint8_t)it.u;
        for (uint8_t i = 0; i < r->n_states; i++) {
            if ((err = app_cbor_string(&r->dec, TERN_CBOR_TEXT, false, &r->states[i])) != TERN_OK) {
                return err;
            }
        }
        if ((err = app_cbor_expect(&r->dec, TERN_CBOR_END, &it)) != TERN_OK) {
            return err;
        }
    }
    if ((err = app_cbor_expect(&r->dec, TERN_CBOR_ARRAY, &it)) != TERN_OK) {
        return err;
    }
    r->in_series = true;
    r->run_left = 0;
    r->fresh = true;
    return TERN_OK;
}

static void fill(const tern_tsb_reader_t *r, tern_senml_rec_t *rec)
{
    rec->base_name = r->bn;
    rec->name = r->name;
    rec->unit = r->unit;
    rec->t = (double)r->t_ms / 1000.0;
    if (r->kind == TERN_TSB_NUM) {
        rec->kind = TERN_SENML_NUM;
        double v = (double)r->q; /* q / 10^-scale: a division of exact integers rounds right */
        double p = 1;
        for (int i = r->scale; i < 0; i++) {
            p *= 10;
        }
        for (int i = 0; i < r->scale; i++) {
            v *= 10;
        }
        rec->v = v / p;
    } else if (r->kind == TERN_TSB_BOOL) {
        rec->kind = TERN_SENML_BOOL;
        rec->vb = r->bval;
    } else {
        rec->kind = TERN_SENML_STR;
        rec->vs = r->states[r->q];
    }
}

tern_err_t tern_tsb_read_next(tern_tsb_reader_t *r, tern_senml_rec_t *rec)
{
    tern_cbor_item_t it;
    tern_err_t err;
    if (r->dec.pos == 0 && !r->dec.err) { /* the batch head */
        int64_t ver, bt;
        if ((err = app_cbor_expect(&r->dec, TERN_CBOR_ARRAY, &it)) != TERN_OK) {
            return err;
        }
        if (it.indefinite || it.u < 3) {
            return TERN_ERR_MALFORMED;
        }
        if ((err = next_int(r, &ver)) != TERN_OK) {
            return err;
        }
        if (ver != TERN_TSB_VERSION) {
            return TERN_ERR_UNSUPPORTED;
        }
        if ((err = app_cbor_string(&r->dec, TERN_CBOR_TEXT, false, &r->bn)) != TERN_OK ||
            (err = next_int(r, &bt)) != TERN_OK) {
            return err;
        }
        if (bt < 0) {
            return TERN_ERR_MALFORMED;
        }
        r->bt_ms = (uint64_t)bt;
    }
    for (;;) {
        if (!r->in_series) {
            bool have;
            if ((err = open_series(r, rec, &have)) != TERN_OK) {
                return err;
            }
            if (have) {
                fill(r, rec);
                return TERN_OK;
            }
        }
        if (r->run_left > 0) { /* inside a run: one sample per period */
            r->run_left--;
            r->t_ms += r->dt_ms;
            fill(r, rec);
            return TERN_OK;
        }
        if ((err = tern_cbor_dec_next(&r->dec, &it)) != TERN_OK) {
            return err;
        }
        if (it.type == TERN_CBOR_END) { /* the samples end, then the series */
            r->in_series = false;
            if ((err = app_cbor_expect(&r->dec, TERN_CBOR_END, &it)) != TERN_OK) {
                return err;
            }
            continue;
        }
        if (r->kind == TERN_TSB_NUM) {
            r->t_ms += r->dt_ms;
            if (it.type == TERN_CBOR_SIMPLE && it.u == TERN_CBOR_NULL) {
                continue; /* a missing sample */
            }
            if ((it.type != TERN_CBOR_UINT && it.type != TERN_CBOR_NEGINT) || it.u > (1ull << 53)) {
                return TERN_ERR_MALFORMED;
            }
            int64_t d = it.type == TERN_CBOR_UINT ? (int64_t)it.u : -1 - (int64_t)it.u;
            if ((r->q > 0 && d > (1ll << 53) - r->q) || (r->q < 0 && d < -(1ll << 53) - r->q)) {
                return TERN_ERR_MALFORMED;
            }
            r->q += d;
            fill(r, rec);
            return TERN_OK;
        }
        /* a run: [state index,] length */
        uint64_t state = r->q == 0 ? 1u : 0u; /* BOOL: the other value */
        if (r->kind == TERN_TSB_ENUM) {
            if (it.type != TERN_CBOR_UINT || it.u >= r->n_states) {
                return TERN_ERR_MALFORMED;
            }
            state = it.u;
            if ((err = app_cbor_expect(&r->dec, TERN_CBOR_UINT, &it)) != TERN_OK) {
                return err;
            }
        } else if (it.type != TERN_CBOR_UINT) {
            return TERN_ERR_MALFORMED;
        }
        if (it.u == 0 || it.u > UINT32_MAX) {
            return TERN_ERR_MALFORMED;
        }
        if (!r->fresh) {
            r->t_ms += r->dt_ms; /* the sample after the last one */
        }
        r->fresh = false;
        r->q = (int64_t)state;
        r->bval = state != 0;
        r->run_left = (uint32_t)it.u - 1u;
        fill(r, rec);
        return TERN_OK;
    }
}
