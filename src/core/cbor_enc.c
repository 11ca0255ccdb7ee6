/* SPDX-License-Identifier: Apache-2.0 */
/* CBOR encoder (RFC 8949): shortest heads, preferred floats, deterministic maps (tern/cbor.h). */
#include <string.h>

#include "tern/cbor.h"

#define MT_UINT   0u
#define MT_NEG    1u
#define MT_BYTES  2u
#define MT_TEXT   3u
#define MT_ARRAY  4u
#define MT_MAP    5u
#define MT_TAG    6u
#define MT_SIMPLE 7u
#define INDEF     UINT64_MAX /* left of an indefinite container (maps: INDEF - 1 after a key) */

static tern_err_t fail(tern_cbor_enc_t *e, tern_err_t err)
{
    if (e->err == TERN_OK) {
        e->err = err;
    }
    return e->err;
}

static tern_err_t put(tern_cbor_enc_t *e, const void *p, size_t n)
{
    if (e->err != TERN_OK) {
        return e->err;
    }
    if (n > e->cap - e->len) {
        return fail(e, TERN_ERR_TOO_SMALL);
    }
    if (n) {
        memcpy(e->buf + e->len, p, n);
    }
    e->len += n;
    return TERN_OK;
}

/* The head of major type @p mt with argument @p v, in its shortest form. */
static size_t head(uint8_t *b, unsigned mt, uint64_t v)
{
    if (v < 24u) { /* the common case: one byte */
        b[0] = (uint8_t)(mt << 5 | (unsigned)v);
        return 1;
    }
    unsigned n = v <= 0xFFu ? 1u : v <= 0xFFFFu ? 2u : v <= 0xFFFFFFFFu ? 4u : 8u;
    b[0] = (uint8_t)(mt << 5 | (n == 1 ? 24u : n == 2 ? 25u : n == 4 ? 26u : 27u));
    for (unsigned i = 0; i < n; i++) {
        b[1 + i] = (uint8_t)(v >> (8u * (n - 1u - i)));
    }
    return 1u + n;
}

/* ----------------------------------------------------- reading our own bytes -- */

/* Bytes of the whole item at @p p (our own, well-formed) of the @p n that follow:
 * the decoder measures it, so the codec walks CBOR in one place. */
static size_t item_size(const uint8_t *p, size_t n)
{
    size_t end = n;
    return tern_cbor_validate(p, n, 0, &end) == TERN_ERR_CBOR_TRAILING ? end : n;
}

/* Bytewise lexicographic order of two encoded keys (a shorter prefix first). */
static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c != 0 ? c : (al > bl) - (al < bl);
}

static void reverse(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        uint8_t t = p[i];
        p[i] = p[n - 1 - i];
        p[n - 1 - i] = t;
    }
}

/* Sort the pairs of the map whose contents are buf[start, end): insertion sort,
 * each pair moved by rotating the bytes in place. */
static tern_err_t sort_map(uint8_t *buf, size_t start, size_t end)
{
    size_t sorted = start + item_size(buf + start, end - start);
    sorted += item_size(buf + sorted, end - sorted);
    while (sorted < end) {
        uint8_t *p = buf + sorted;
        size_t kl = item_size(p, end - sorted);
        size_t pl = kl + item_size(p + kl, end - sorted - kl);
        size_t q = start;
        while (q < sorted) {
            size_t ql = item_size(buf + q, end - q);
            int c = key_cmp(buf + q, ql, p, kl);
            if (c == 0) {
                return TERN_ERR_CBOR_DUPLICATE_KEY;
            }
            if (c > 0) {
                break;
            }
            q += ql + item_size(buf + q + ql, end - q - ql);
        }
        if (q < sorted) { /* rotate [q, sorted + pl) right by pl */
            reverse(buf + q, sorted - q);
            reverse(p, pl);
            reverse(buf + q, sorted + pl - q);
        }
        sorted += pl;
    }
    return TERN_OK;
}

/* An item is complete: count it in its container, closing the containers it fills. */
static tern_err_t done(tern_cbor_enc_t *e)
{
    while (e->err == TERN_OK && e->depth > 0) {
        tern_cbor_frame_t *f = &e->stack[e->depth - 1];
        if (f->left >= INDEF - 1u) { /* indefinite: maps keep the key/value parity */
            f->left = f->kind == MT_MAP ? (f->left == INDEF ? INDEF - 1u : INDEF) : INDEF;
            break;
        }
        if (--f->left > 0) {
            break;
        }
        e->depth--;
        if (f->kind == MT_MAP && (e->flags & TERN_CBOR_DETERMINISTIC)) {
            tern_err_t err = sort_map(e->buf, f->start, e->len);
            if (err != TERN_OK) {
                return fail(e, err);
            }
        }
    }
    return e->err;
}

/*
 * Write a head @p hd (@p hl bytes) and @p n bytes of @p data, and account for it:
 * @p left 0, a whole item; else a container or tag that the next @p left items
 * fill (INDEF: until a break).
 */
static tern_err_t emit(tern_cbor_enc_t *e, const uint8_t *hd, size_t hl, const void *data, size_t n,
                       uint64_t left)
{
    unsigned mt = hd[0] >> 5;
    bool indef = (hd[0] & 0x1Fu) == 31u;
    if (e->err != TERN_OK) {
        return e->err;
    }
    if (e->depth > 0) {
        const tern_cbor_frame_t *f = &e->stack[e->depth - 1];
        if ((f->kind == MT_BYTES || f->kind == MT_TEXT) && (mt != f->kind || indef)) {
            return fail(e, TERN_ERR_CBOR_BAD_CHUNK); /* chunks: definite, of the string's type */
        }
    }
    if (indef && (e->flags & TERN_CBOR_DETERMINISTIC)) {
        return fail(e, TERN_ERR_UNSUPPORTED);
    }
    if (n > e->cap - e->len || hl > e->cap - e->len - n) {
        return fail(e, TERN_ERR_TOO_SMALL); /* nothing of the item is written */
    }
    uint8_t *w = e->buf + e->len;
    for (size_t i = 0; i < hl; i++) { /* at most 9 bytes: no call */
        w[i] = hd[i];
    }
    if (n) {
        memcpy(w + hl, data, n);
    }
    e->len += hl + n;
    if (left == 0) {
        return done(e);
    }
    if (e->depth == TERN_CBOR_MAX_DEPTH) {
        return fail(e, TERN_ERR_CBOR_TOO_DEEP);
    }
    tern_cbor_frame_t *f = &e->stack[e->depth++];
    f->left = left;
    f->start = e->len;
    f->kind = (uint8_t)mt;
    return TERN_OK;
}

static tern_err_t item(tern_cbor_enc_t *e, unsigned mt, uint64_t arg, const void *data, size_t n,
                       uint64_t left)
{
    tern_cbor_frame_t *f = e->depth > 0 ? &e->stack[e->depth - 1] : NULL;
    if (left == 0 && e->err == TERN_OK && (f == NULL || f->kind >= MT_ARRAY) &&
        e->cap - e->len >= 9u && n <= e->cap - e->len - 9u) {
        /* the fast path: a whole item, not a string chunk, room for it: written in place */
        uint8_t *w = e->buf + e->len;
        size_t hl = head(w, mt, arg);
        if (n) {
            memcpy(w + hl, data, n);
        }
        e->len += hl + n;
        if (f != NULL && f->left > 1u && f->left < INDEF - 1u) {
            f->left--; /* the container goes on */
            return TERN_OK;
        }
        return done(e);
    }
    uint8_t b[9];
    b[0] = (uint8_t)(mt << 5 | 31u);
    return emit(e, b, left == INDEF ? 1u : head(b, mt, arg), data, n, left);
}

/* ------------------------------------------------------------------- API -- */

void tern_cbor_enc_init(tern_cbor_enc_t *e, uint8_t *buf, size_t cap, unsigned flags)
{
    memset(e, 0, sizeof *e);
    e->buf = buf;
    e->cap = buf != NULL ? cap : 0;
    e->flags = (uint8_t)flags;
}

tern_err_t tern_cbor_enc_uint(tern_cbor_enc_t *e, uint64_t v)
{
    return item(e, MT_UINT, v, NULL, 0, 0);
}

tern_err_t tern_cbor_enc_negative(tern_cbor_enc_t *e, uint64_t n)
{
    return item(e, MT_NEG, n, NULL, 0, 0);
}

tern_err_t tern_cbor_enc_bytes(tern_cbor_enc_t *e, const void *p, size_t len)
{
    return p == NULL && len ? fail(e, TERN_ERR_INVAL) : item(e, MT_BYTES, len, p, len, 0);
}

tern_err_t tern_cbor_enc_text(tern_cbor_enc_t *e, const char *s, size_t len)
{
    return s == NULL && len ? fail(e, TERN_ERR_INVAL) : item(e, MT_TEXT, len, s, len, 0);
}

tern_err_t tern_cbor_enc_array(tern_cbor_enc_t *e, uint64_t n)
{
    return n >= INDEF - 1u ? fail(e, TERN_ERR_RANGE) : item(e, MT_ARRAY, n, NULL, 0, n);
}

tern_err_t tern_cbor_enc_array_of(tern_cbor_enc_t *e, uint64_t n, const void *items, size_t len)
{
    return items == NULL && len ? fail(e, TERN_ERR_INVAL) : item(e, MT_ARRAY, n, items, len, 0);
}

tern_err_t tern_cbor_enc_map(tern_cbor_enc_t *e, uint64_t n)
{
    return n >= UINT64_MAX / 2u ? fail(e, TERN_ERR_RANGE) : item(e, MT_MAP, n, NULL, 0, 2u * n);
}

tern_err_t tern_cbor_enc_break(tern_cbor_enc_t *e)
{
    static const uint8_t brk = 0xFF;
    if (e->err != TERN_OK) {
        return e->err;
    }
    const tern_cbor_frame_t *f = e->depth > 0 ? &e->stack[e->depth - 1] : NULL;
    if (f == NULL || f->left < INDEF - 1u) {
        return fail(e, TERN_ERR_CBOR_UNEXPECTED_BREAK);
    }
    if (f->kind == MT_MAP && f->left == INDEF - 1u) {
        return fail(e, TERN_ERR_CBOR_ODD_MAP); /* a key without its value */
    }
    if (put(e, &brk, 1) != TERN_OK) {
        return e->err;
    }
    e->depth--;
    return done(e);
}

tern_err_t tern_cbor_enc_tag(tern_cbor_enc_t *e, uint64_t tag)
{
    return item(e, MT_TAG, tag, NULL, 0, 1);
}

tern_err_t tern_cbor_enc_indef(tern_cbor_enc_t *e, unsigned mt)
{
    return mt < MT_BYTES || mt > MT_MAP ? fail(e, TERN_ERR_INVAL) : item(e, mt, 0, NULL, 0, INDEF);
}

tern_err_t tern_cbor_enc_simple(tern_cbor_enc_t *e, uint8_t v)
{
    return v >= 24u && v < 32u ? fail(e, TERN_ERR_INVAL) : item(e, MT_SIMPLE, v, NULL, 0, 0);
}

/*
 * Preferred serialization of a float, with 32-bit integer arithmetic only (no
 * soft-float calls on a single-precision or FPU-less MCU). A double whose low 29
 * mantissa bits are set needs all 64 bits. Otherwise its value is sig * 2^(e2 - 23)
 * with a 24-bit sig whose lowest set bit is worth 2^low, and a width holds it
 * exactly if e2 is in its range and low falls neither below its mantissa nor below
 * its smallest subnormal. Half (5/10 bits) first, then single (8/23).
 */
static const struct {
    uint8_t head, bytes, mbits, ebits;
} k_width[2] = { { 0xF9, 2, 10, 5 }, { 0xFA, 4, 23, 8 } };

tern_err_t tern_cbor_enc_float(tern_cbor_enc_t *e, double v)
{
    uint8_t b[9] = { 0xFB };
    uint64_t d;
    memcpy(&d, &v, sizeof d);
    uint32_t hi = (uint32_t)(d >> 32), lo = (uint32_t)d, out = 0;
    uint32_t sign = hi >> 31, raw = hi >> 20 & 0x7FFu, m23 = (hi & 0xFFFFFu) << 3 | lo >> 29;
    bool tail = (lo & 0x1FFFFFFFu) != 0;
    unsigned n = 8;
    if (raw == 0x7FFu || (raw == 0 && !tail && m23 == 0)) { /* NaN, infinity, zero: half */
        out = raw == 0 ? sign << 15 : (tail || m23) ? 0x7E00u : (sign << 15 | 0x7C00u);
        b[0] = 0xF9;
        n = 2;
    } else if (raw != 0 && !tail) { /* double subnormals and long mantissas stay double */
        int32_t e2 = (int32_t)raw - 1023;
        uint32_t sig = m23 | 1u << 23;
        int32_t low = e2 - 23 + __builtin_ctz(sig);
        for (unsigned w = 0; w < 2 && n == 8; w++) {
            int32_t mb = k_width[w].mbits, bias = (1 << (k_width[w].ebits - 1)) - 1;
            int32_t min_low = 1 - bias - mb; /* the smallest subnormal */
            if (e2 > bias || low < min_low || (e2 >= 1 - bias && low < e2 - mb)) {
                continue;
            }
            out = e2 >= 1 - bias
                      ? (uint32_t)(e2 + bias) << mb | (sig >> (23 - mb) & ((1u << mb) - 1u))
                      : sig >> (23 - e2 + min_low);
            out |= sign << (mb + k_width[w].ebits);
            b[0] = k_width[w].head;
            n = k_width[w].bytes;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        b[1 + i] = (uint8_t)(n == 8 ? d >> (56u - 8u * i) : out >> (8u * (n - 1u - i)));
    }
    return emit(e, b, 1u + n, NULL, 0, 0);
}

tern_err_t tern_cbor_enc_raw(tern_cbor_enc_t *e, const void *bytes, size_t len)
{
    return bytes == NULL || len == 0 ? fail(e, TERN_ERR_INVAL) : emit(e, bytes, len, NULL, 0, 0);
}

tern_err_t tern_cbor_enc_finish(const tern_cbor_enc_t *e, size_t *len)
{
    if (e->err != TERN_OK) {
        return e->err;
    }
    if (e->depth > 0) {
        return TERN_ERR_STATE;
    }
    if (len != NULL) {
        *len = e->len;
    }
    return TERN_OK;
}
