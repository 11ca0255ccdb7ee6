/* SPDX-License-Identifier: Apache-2.0 */
/* CBOR encoder (RFC 8949): shortest heads, preferred floats, deterministic maps (tern/cbor.h). */
#include <string.h>

#include "cbor_priv.h"
#include "tern/cbor.h"

#define MT_UINT    0u
#define MT_NEG     1u
#define MT_BYTES   2u
#define MT_TEXT    3u
#define MT_ARRAY   4u
#define MT_MAP     5u
#define MT_TAG     6u
#define MT_SIMPLE  7u
#define INDEF      (UINT64_MAX - 1u) /* left of an indefinite container: even, never reached */
#define TOP        0x40u             /* kind of the top level */
#define KIND_INDEF TERN_CBOR_KIND_INDEF

/* The first error stays; lim drops to len so that nothing more fits: every later call fails. */
static tern_err_t fail(tern_cbor_enc_t *e, tern_err_t err)
{
    if (e->err == TERN_OK) {
        e->err = err;
    }
    e->lim = e->len;
    return e->err;
}

/*
 * The innermost container is complete: close it, and the containers it
 * completes in turn. A frame's start is its head's offset; deterministic
 * encoding sorts a definite map's pairs, after the head.
 */
static tern_err_t close(tern_cbor_enc_t *e)
{
    do {
        unsigned kind = e->top.kind;
        size_t at = e->top.start;
        e->top = e->stack[--e->depth];
        if (kind == MT_MAP && e->sort != NULL) {
            unsigned ai = e->buf[at] & 31u;
            tern_err_t err = e->sort(e->buf, at + 1u + (ai >= 24u ? 1u << (ai - 24u) : 0u), e->len);
            if (err != TERN_OK) {
                return fail(e, err);
            }
        }
    } while (--e->top.left == 0);
    return TERN_OK;
}

#define ARG_SHORTEST 0x10u /* argument bytes: as few as hold it */
#define ARG_NONE     0x20u /* no head at all: an item given whole */

/*
 * Write one item: a head of major type @p mt with argument @p v in @p an bytes
 * (0: in the initial byte, which also gives the indefinite head with v = 31;
 * 1, 2, 4, 8; ARG_SHORTEST; ARG_NONE), then @p n bytes of @p data; count it in
 * the innermost container. Nothing is written if it does not fit.
 */
TERN_CBOR_HOT tern_err_t put(tern_cbor_enc_t *e, unsigned mt, uint64_t v, unsigned an,
                             const void *data, size_t n)
{
    if (an == ARG_SHORTEST) {
        an = v < 24u ? 0u : v <= 0xFFu ? 1u : v <= 0xFFFFu ? 2u : v <= 0xFFFFFFFFu ? 4u : 8u;
    }
    size_t hl = an == ARG_NONE ? 0u : 1u + an, room = e->lim - e->len;
    if (n > room || hl > room - n) {
        return fail(e, TERN_ERR_TOO_SMALL);
    }
    uint8_t *w = e->buf + e->len;
    if (hl) {
        w[0] = (uint8_t)(mt << 5 | (an ? 24u + (unsigned)__builtin_ctz(an) : (unsigned)v));
        tern_cbor_put_be(w + 1, v, an);
    }
#if TERN_CBOR_FAST
    if (n - 1u < 8u) { /* 1..8 bytes, a name or a unit: no call (two loads cover 4..8) */
        const uint8_t *s = data;
        uint8_t *t = w + hl;
        if (n >= 4) {
            memcpy(t, s, 4);
            memcpy(t + n - 4, s + n - 4, 4);
        } else {
            t[0] = s[0];
            t[n / 2] = s[n / 2];
            t[n - 1] = s[n - 1];
        }
    } else
#endif
        if (n) {
        memcpy(w + hl, data, n);
    }
    e->len += hl + n;
    return --e->top.left == 0 ? close(e) : TERN_OK;
}

/* An item that opens nothing: inside an indefinite string only a definite string of its type. */
TERN_CBOR_HOT tern_err_t whole(tern_cbor_enc_t *e, unsigned mt, uint64_t v, unsigned an,
                               const void *data, size_t n)
{
    unsigned k = e->top.kind;
    if ((k & 0x7Eu) == MT_BYTES && mt != (k & 7u)) {
        return fail(e, TERN_ERR_CBOR_BAD_CHUNK);
    }
    return put(e, mt, v, an, data, n);
}

/*
 * A container, tag or indefinite string that the next @p left items fill
 * (INDEF: until a break); 0 items is a whole item. Its frame counts its head
 * as one more item, which put() then takes off.
 */
TERN_CBOR_HOT tern_err_t open(tern_cbor_enc_t *e, unsigned mt, uint64_t v, uint64_t left)
{
    if (left == 0) {
        return whole(e, mt, v, ARG_SHORTEST, NULL, 0);
    }
    if ((e->top.kind & 0x7Eu) == MT_BYTES) {
        return fail(e, TERN_ERR_CBOR_BAD_CHUNK); /* chunks are definite strings */
    }
    if (e->depth == TERN_CBOR_MAX_DEPTH) {
        return fail(e, TERN_ERR_CBOR_TOO_DEEP);
    }
    if (left == INDEF && (e->flags & TERN_CBOR_DETERMINISTIC)) {
        return fail(e, TERN_ERR_UNSUPPORTED);
    }
    e->stack[e->depth++] = e->top;
    e->top.left = left + 1u;
    e->top.start = e->len;
    e->top.kind = (uint8_t)(left == INDEF ? mt | KIND_INDEF : mt);
    return put(e, mt, v, left == INDEF ? 0u : ARG_SHORTEST, NULL, 0);
}

/* ------------------------------------------------------------------- API -- */

void tern_cbor_enc_setup(tern_cbor_enc_t *e, uint8_t *buf, size_t cap, unsigned flags)
{
    memset(e, 0, offsetof(tern_cbor_enc_t, stack));
    e->buf = buf;
    e->cap = buf != NULL ? cap : 0;
    e->flags = (uint8_t)flags;
    tern_cbor_enc_rewind(e, 0);
}

void tern_cbor_enc_rewind(tern_cbor_enc_t *e, size_t len)
{
    e->len = len;
    e->lim = e->cap;
    e->err = TERN_OK;
    e->depth = 0;
    e->top.left = INDEF; /* any number of top-level items */
    e->top.start = 0;
    e->top.kind = TOP;
}

tern_err_t tern_cbor_enc_uint(tern_cbor_enc_t *e, uint64_t v)
{
    return whole(e, MT_UINT, v, ARG_SHORTEST, NULL, 0);
}

tern_err_t tern_cbor_enc_negative(tern_cbor_enc_t *e, uint64_t n)
{
    return whole(e, MT_NEG, n, ARG_SHORTEST, NULL, 0);
}

tern_err_t tern_cbor_enc_bytes(tern_cbor_enc_t *e, const void *p, size_t len)
{
    return p == NULL && len ? fail(e, TERN_ERR_INVAL)
                            : whole(e, MT_BYTES, len, ARG_SHORTEST, p, len);
}

tern_err_t tern_cbor_enc_text(tern_cbor_enc_t *e, const char *s, size_t len)
{
    return s == NULL && len ? fail(e, TERN_ERR_INVAL)
                            : whole(e, MT_TEXT, len, ARG_SHORTEST, s, len);
}

tern_err_t tern_cbor_enc_array(tern_cbor_enc_t *e, uint64_t n)
{
    return n >= INDEF ? fail(e, TERN_ERR_RANGE) : open(e, MT_ARRAY, n, n);
}

tern_err_t tern_cbor_enc_array_of(tern_cbor_enc_t *e, uint64_t n, const void *items, size_t len)
{
    return items == NULL && len ? fail(e, TERN_ERR_INVAL)
                                : whole(e, MT_ARRAY, n, ARG_SHORTEST, items, len);
}

tern_err_t tern_cbor_enc_map(tern_cbor_enc_t *e, uint64_t n)
{
    return n >= UINT64_MAX / 2u ? fail(e, TERN_ERR_RANGE) : open(e, MT_MAP, n, 2u * n);
}

tern_err_t tern_cbor_enc_break(tern_cbor_enc_t *e)
{
    const tern_cbor_frame_t *f = &e->top;
    if (!(f->kind & KIND_INDEF)) {
        return fail(e, TERN_ERR_CBOR_UNEXPECTED_BREAK);
    }
    if (f->kind == (MT_MAP | KIND_INDEF) && (f->left & 1u)) {
        return fail(e, TERN_ERR_CBOR_ODD_MAP); /* a key without its value */
    }
    if (e->len == e->lim) {
        return fail(e, TERN_ERR_TOO_SMALL);
    }
    e->buf[e->len++] = 0xFF;
    e->top.left = 1; /* closes it */
    return close(e);
}

tern_err_t tern_cbor_enc_tag(tern_cbor_enc_t *e, uint64_t tag)
{
    return open(e, MT_TAG, tag, 1);
}

tern_err_t tern_cbor_enc_indef(tern_cbor_enc_t *e, unsigned mt)
{
    return mt < MT_BYTES || mt > MT_MAP ? fail(e, TERN_ERR_INVAL) : open(e, mt, 31u, INDEF);
}

tern_err_t tern_cbor_enc_simple(tern_cbor_enc_t *e, uint8_t v)
{
    return v >= 24u && v < 32u ? fail(e, TERN_ERR_INVAL)
                               : whole(e, MT_SIMPLE, v, ARG_SHORTEST, NULL, 0);
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
    uint8_t bytes, mbits, ebits;
} k_width[2] = { { 2, 10, 5 }, { 4, 23, 8 } };

/* The bytes (2, 4 or 8) of the preferred form of the double @p *d, which becomes its bits. */
TERN_CBOR_COLD unsigned narrow(uint64_t *d)
{
    uint32_t hi = (uint32_t)(*d >> 32), lo = (uint32_t)*d;
    uint32_t raw = hi >> 20 & 0x7FFu, sign = hi >> 31, m23 = (hi & 0xFFFFFu) << 3 | lo >> 29,
             out = 0;
    bool tail = (lo & 0x1FFFFFFFu) != 0;
    unsigned n = 8;
    if (raw == 0x7FFu || (raw == 0 && m23 == 0)) { /* NaN, infinity, zero: half */
        out = raw == 0 ? sign << 15 : (tail || m23) ? 0x7E00u : (sign << 15 | 0x7C00u);
        n = 2;
    } else if (raw != 0) { /* double subnormals stay double */
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
            n = k_width[w].bytes;
        }
    }
    if (n < 8) {
        *d = out;
    }
    return n;
}

tern_err_t tern_cbor_enc_float(tern_cbor_enc_t *e, double v)
{
    uint64_t d;
    memcpy(&d, &v, sizeof d);
    unsigned n = 8; /* a double with any of its low 29 mantissa bits set needs all 64 */
    if ((d & 0x1FFFFFFFu) == 0 || (d >> 52 & 0x7FFu) == 0x7FFu) {
        n = narrow(&d);
    }
    return whole(e, MT_SIMPLE, d, n, NULL, 0);
}

tern_err_t tern_cbor_enc_raw(tern_cbor_enc_t *e, const void *bytes, size_t len)
{
    return bytes == NULL || len == 0
               ? fail(e, TERN_ERR_INVAL)
               : whole(e, ((const uint8_t *)bytes)[0] >> 5, 0, ARG_NONE, bytes, len);
}

tern_err_t tern_cbor_enc_finish(const tern_cbor_enc_t *e, size_t *len)
{
    if (e->err != TERN_OK) {
        return e->err;
    }
    if (e->depth > 0) {
        return TERN_ERR_STATE; /* an open container */
    }
    if (len != NULL) {
        *len = e->len;
    }
    return TERN_OK;
}
