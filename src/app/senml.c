/* SPDX-License-Identifier: Apache-2.0 */
/* SenML (RFC 8428) packs in CBOR: a compressing writer and a resolving reader (tern/senml.h). */
#include <string.h>

#include "tern/senml.h"

#include "cbor_read.h"

/* ----------------------------------------------------------------- writer -- */

void tern_senml_begin(tern_senml_writer_t *w, uint8_t *buf, size_t cap, const char *bn, double bt)
{
    memset(w, 0, sizeof *w);
    w->buf = buf;
    w->bn = bn;
    w->bt = bt;
    bool room = buf != NULL && cap > TERN_SENML_HEAD_ROOM;
    tern_cbor_enc_init(&w->enc, room ? buf + TERN_SENML_HEAD_ROOM : NULL,
                       room ? cap - TERN_SENML_HEAD_ROOM : 0, 0);
}

/* A number as the shortest CBOR: an integer when it is one, else a float. */
static void number(tern_cbor_enc_t *e, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    if (v >= -9007199254740992.0 && v <= 9007199254740992.0 && v == (double)(int64_t)v &&
        bits != 0x8000000000000000ull) { /* -0.0 stays a float */
        (void)tern_cbor_enc_int(e, (int64_t)v);
    } else {
        (void)tern_cbor_enc_float(e, v);
    }
}

tern_err_t tern_senml_add(tern_senml_writer_t *w, const tern_senml_rec_t *r)
{
    tern_cbor_enc_t *e = &w->enc;
    if (r == NULL || (unsigned)r->kind > TERN_SENML_DATA) {
        return TERN_ERR_INVAL;
    }
    bool first = w->records == 0, bn = first && w->bn != NULL && w->bn[0] != '\0';
    double dt = r->t - w->bt;
    uint64_t fields = (uint64_t)bn + first + (r->name.len > 0) + (r->unit.len > 0) +
                      (r->kind != TERN_SENML_NONE) + (dt != 0);
    size_t len = e->len; /* a record that does not fit leaves the pack as it was */
    (void)tern_cbor_enc_map(e, fields);
    if (bn) {
        (void)tern_cbor_enc_int(e, TERN_SENML_BN);
        (void)tern_cbor_enc_str(e, w->bn);
    }
    if (first) {
        (void)tern_cbor_enc_int(e, TERN_SENML_BT);
        number(e, w->bt);
    }
    if (r->name.len) {
        (void)tern_cbor_enc_int(e, TERN_SENML_N);
        (void)tern_cbor_enc_text(e, r->name.ptr, r->name.len);
    }
    if (r->unit.len) {
        (void)tern_cbor_enc_int(e, TERN_SENML_U);
        (void)tern_cbor_enc_text(e, r->unit.ptr, r->unit.len);
    }
    switch (r->kind) {
    case TERN_SENML_NUM:
        (void)tern_cbor_enc_int(e, TERN_SENML_V);
        number(e, r->v);
        break;
    case TERN_SENML_BOOL:
        (void)tern_cbor_enc_int(e, TERN_SENML_VB);
        (void)tern_cbor_enc_bool(e, r->vb);
        break;
    case TERN_SENML_STR:
        (void)tern_cbor_enc_int(e, TERN_SENML_VS);
        (void)tern_cbor_enc_text(e, r->vs.ptr, r->vs.len);
        break;
    case TERN_SENML_DATA:
        (void)tern_cbor_enc_int(e, TERN_SENML_VD);
        (void)tern_cbor_enc_bytes(e, r->vd, r->vd_len);
        break;
    case TERN_SENML_NONE:
        break;
    }
    if (dt != 0) {
        (void)tern_cbor_enc_int(e, TERN_SENML_T);
        number(e, dt);
    }
    tern_err_t err = tern_cbor_enc_finish(e, NULL);
    if (err != TERN_OK) {
        tern_cbor_enc_rewind(e, len);
        return err;
    }
    w->records++;
    return TERN_OK;
}

/* The array head for @p n records, and its size. */
static size_t pack_head(uint8_t *b, size_t n)
{
    tern_cbor_enc_t e;
    tern_cbor_enc_init(&e, b, 9, 0);
    (void)tern_cbor_enc_array(&e, n);
    return e.len;
}

size_t tern_senml_size(const tern_senml_writer_t *w)
{
    uint8_t b[9];
    return pack_head(b, w->records) + w->enc.len;
}

tern_err_t tern_senml_finish(tern_senml_writer_t *w, const uint8_t **out, size_t *len)
{
    if (w->records == 0) {
        return TERN_ERR_EMPTY;
    }
    uint8_t b[9];
    size_t hl = pack_head(b, w->records);
    uint8_t *start = w->buf + TERN_SENML_HEAD_ROOM - hl;
    memcpy(start, b, hl);
    *out = start;
    *len = hl + w->enc.len;
    return TERN_OK;
}

/* ----------------------------------------------------------------- reader -- */

void tern_senml_read_begin(tern_senml_reader_t *r, const uint8_t *buf, size_t len)
{
    memset(r, 0, sizeof *r);
    tern_cbor_dec_init(&r->dec, buf, len, 0);
}

static tern_err_t read_number(tern_senml_reader_t *r, double *out)
{
    tern_cbor_item_t it;
    tern_err_t err = tern_cbor_dec_next(&r->dec, &it);
    if (err != TERN_OK) {
        return err;
    }
    if (it.type == TERN_CBOR_UINT) {
        *out = (double)it.u;
    } else if (it.type == TERN_CBOR_NEGINT) {
        *out = -1.0 - (double)it.u;
    } else if (it.type == TERN_CBOR_FLOAT) {
        *out = it.f;
    } else {
        return TERN_ERR_MALFORMED;
    }
    return TERN_OK;
}

static bool name_char(char c, bool first)
{
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    return alnum || (!first && (c == '-' || c == ':' || c == '.' || c == '/' || c == '_'));
}

/* RFC 8428 section 4.5.1: the concatenated name is not empty, starts with a letter or
 * digit and holds only letters, digits and - : . / _ */
static bool name_ok(tern_senml_str_t bn, tern_senml_str_t n)
{
    if (bn.len + n.len == 0) {
        return false;
    }
    for (size_t i = 0; i < bn.len + n.len; i++) {
        char c = i < bn.len ? bn.ptr[i] : n.ptr[i - bn.len];
        if (!name_char(c, i == 0)) {
            return false;
        }
    }
    return true;
}

tern_err_t tern_senml_read_next(tern_senml_reader_t *r, tern_senml_rec_t *rec)
{
    tern_cbor_item_t it;
    tern_err_t err;
    if (!r->started) {
        err = tern_cbor_dec_next(&r->dec, &it);
        if (err != TERN_OK) {
            return err;
        }
        if (it.type != TERN_CBOR_ARRAY) {
            return TERN_ERR_MALFORMED;
        }
        r->started = true;
    }
    err = tern_cbor_dec_next(&r->dec, &it);
    if (err != TERN_OK) {
        return err;
    }
    if (it.type == TERN_CBOR_END) { /* the pack is over: nothing may follow */
        err = tern_cbor_dec_next(&r->dec, &it);
        return err == TERN_ERR_EMPTY ? TERN_ERR_EMPTY : err == TERN_OK ? TERN_ERR_MALFORMED : err;
    }
    if (it.type != TERN_CBOR_MAP) {
        return TERN_ERR_MALFORMED;
    }
    memset(rec, 0, sizeof *rec);
    double t = 0, v = 0;
    int values = 0;
    bool has_v = false;
    while ((err = tern_cbor_dec_next(&r->dec, &it)) == TERN_OK && it.type != TERN_CBOR_END) {
        int64_t label;
        if (it.type == TERN_CBOR_UINT && it.u <= 127) {
            label = (int64_t)it.u;
        } else if (it.type == TERN_CBOR_NEGINT && it.u <= 127) {
            label = -1 - (int64_t)it.u;
        } else if (it.type == TERN_CBOR_TEXT && !it.indefinite) {
            if (it.len > 0 && it.ptr[it.len - 1] == '_') {
                return TERN_ERR_MALFORMED; /* a must-understand field we do not know */
            }
            label = 1000; /* an extension: its value is skipped */
        } else {
            return TERN_ERR_MALFORMED;
        }
        double num;
        switch (label) {
        case TERN_SENML_BN:
            err = app_cbor_string(&r->dec, TERN_CBOR_TEXT, false, &r->bn);
            break;
        case TERN_SENML_BT:
            err = read_number(r, &r->bt);
            break;
        case TERN_SENML_BU:
            err = app_cbor_string(&r->dec, TERN_CBOR_TEXT, false, &r->bu);
            break;
        case TERN_SENML_BV:
            err = read_number(r, &r->bv);
            break;
        case TERN_SENML_BVER:
            err = read_number(r, &num);
            if (err == TERN_OK && (num < 1 || num > 10)) {
                err = TERN_ERR_UNSUPPORTED;
            }
            break;
        case TERN_SENML_N:
            err = app_cbor_string(&r->dec, TERN_CBOR_TEXT, false, &rec->name);
            break;
        case TERN_SENML_U:
            err = app_cbor_string(&r->dec, TERN_CBOR_TEXT, false, &rec->unit);
            break;
        case TERN_SENML_V:
            err = read_number(r, &v);
            rec->kind = TERN_SENML_NUM;
            has_v = true;
            values++;
            break;
        case TERN_SENML_VS:
            err = app_cbor_string(&r->dec, TERN_CBOR_TEXT, false, &rec->vs);
            rec->kind = TERN_SENML_STR;
            values++;
            break;
        case TERN_SENML_VD: {
            tern_senml_str_t d = { NULL, 0 };
            err = app_cbor_string(&r->dec, TERN_CBOR_BYTES, false, &d);
            rec->vd = (const uint8_t *)d.ptr;
            rec->vd_len = d.len;
            rec->kind = TERN_SENML_DATA;
            values++;
            break;
        }
        case TERN_SENML_VB:
            err = tern_cbor_dec_next(&r->dec, &it);
            if (err == TERN_OK && (it.type != TERN_CBOR_SIMPLE ||
                                   (it.u != TERN_CBOR_TRUE && it.u != TERN_CBOR_FALSE))) {
                err = TERN_ERR_MALFORMED;
            }
            rec->vb = it.u == TERN_CBOR_TRUE;
            rec->kind = TERN_SENML_BOOL;
            values++;
            break;
        case TERN_SENML_T:
            err = read_number(r, &t);
            break;
        case TERN_SENML_S:
        case TERN_SENML_UT:
        case TERN_SENML_BS:
            err = read_number(r, &num); /* sums and update times: read, not reported */
            break;
        default: /* an extension (or a label this version does not define): skipped */
            err = tern_cbor_dec_next(&r->dec, &it);
            if (err == TERN_OK) {
                err = tern_cbor_dec_skip(&r->dec, &it);
            }
            break;
        }
        if (err != TERN_OK) {
            return err;
        }
    }
    if (err != TERN_OK) {
        return err;
    }
    if (values > 1 || !name_ok(r->bn, rec->name)) {
        return TERN_ERR_MALFORMED;
    }
    rec->base_name = r->bn;
    if (rec->unit.len == 0) {
        rec->unit = r->bu;
    }
    rec->v = has_v ? r->bv + v : 0;
    rec->t = r->bt + t;
    return TERN_OK;
}
