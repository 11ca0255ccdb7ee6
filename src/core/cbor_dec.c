/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The strict CBOR pull decoder (RFC 8949), tern/cbor.h.
 *
 * One frame per open container, tag or indefinite string. The innermost one
 * is `top`, in the decoder itself (at depth 0 the top level, which expects one
 * item), the ones around it are saved on `stack`, so the common path touches
 * no array. A frame counts down the items it still expects in `left`; an
 * indefinite one (INDEF in `kind`) starts from an even number no input can
 * exhaust, so for every map "left is even" means "a key comes next". A
 * definite container whose count reached 0 is closed by the next call (END,
 * no byte); a tag frame is popped as soon as its one content item is
 * complete, so tags have no END. The top level's count reaching 0 means the
 * item is complete (then TERN_ERR_EMPTY, or TRAILING if bytes follow).
 *
 * The optional checks (TERN_CBOR_CHECK_DUPLICATES, TERN_CBOR_DETERMINISTIC)
 * are in cbor_det.c, called through d->check on every well-formed head
 * before its item is taken, so firmware that never asks for them does not
 * link them.
 *
 * Error offsets: the first byte of the item at fault (the break for
 * UNEXPECTED_BREAK and ODD_MAP, the key for key errors, the end of the input
 * when it ends where an item should start).
 */
#include <string.h>

#include "cbor_priv.h"
#include "tern/cbor.h"

#define INDEF     TERN_CBOR_KIND_INDEF
#define INDEF_CNT (UINT64_MAX - 1u) /* even: a map starts at a key */

void tern_cbor_dec_setup(tern_cbor_dec_t *d, const uint8_t *buf, size_t len, unsigned flags)
{
    memset(d, 0, offsetof(tern_cbor_dec_t, stack));
    d->buf = buf;
    d->len = len;
    d->flags = (uint8_t)flags;
    d->top.left = 1; /* the one top-level item */
}

size_t tern_cbor_dec_offset(const tern_cbor_dec_t *d)
{
    return d->err ? d->err_offset : d->pos;
}

/* A text string or chunk is valid UTF-8: shortest forms, no surrogates, <= U+10FFFF. */
static bool utf8_ok(const uint8_t *p, size_t n)
{
    static const uint32_t min[3] = { 0x80u, 0x800u, 0x10000u };
    const uint8_t *end = p + n;
    while (p < end) {
        uint32_t c = *p++;
        if (c < 0x80u) {
            continue;
        }
        unsigned k = (c >= 0xF0u) + (c >= 0xE0u) + (c >= 0xC0u);
        if (k == 0 || c > 0xF4u || (size_t)(end - p) < k) {
            return false;
        }
        c &= 0x3Fu >> k;
        for (unsigned i = 0; i < k; i++) {
            if ((*p & 0xC0u) != 0x80u) {
                return false;
            }
            c = c << 6 | (*p++ & 0x3Fu);
        }
        if (c < min[k - 1] || c > 0x10FFFFu || (c >> 11) == 0x1Bu) {
            return false;
        }
    }
    return true;
}

/* A half (@p single false) or single precision value as double bits, exactly. */
uint64_t tern_cbor_widen(uint32_t v, bool single)
{
    unsigned mbits = single ? 23 : 10, ebits = single ? 8 : 5;
    uint32_t emask = (1u << ebits) - 1u, fr = v << (32 - mbits); /* the fraction, left-aligned */
    uint32_t e = (v >> mbits) & emask, hi = v >> (mbits + ebits) << 31;
    if (e == emask) {
        e = 0x7FFu;
    } else if (e || fr) {
        if (!e) { /* subnormal: shift out the leading 1 */
            e = 1;
            uint32_t top;
            do {
                e--;
                top = fr >> 31;
                fr <<= 1;
            } while (!top);
        }
        e += 1023u - (emask >> 1);
    }
    hi |= e << 20 | fr >> 12;
    return (uint64_t)hi << 32 | (uint64_t)(fr << 20);
}

/* An item in the innermost container is complete: count it; a tag's content completes the tag. */
static void complete(tern_cbor_dec_t *d)
{
    d->top.left--;
    while (d->top.kind == 6) {
        d->top = d->stack[--d->depth];
        d->top.left--;
    }
}

tern_err_t tern_cbor_dec_next(tern_cbor_dec_t *d, tern_cbor_item_t *it)
{
    size_t at = d->pos, p = at + 1;
    tern_err_t e = d->err;
    memset(it, 0, sizeof *it);
    it->offset = at;
    if (e) {
        return e;
    }
    tern_cbor_dframe_t *f = &d->top;
    unsigned fk = f->kind;
    if (f->left == 0) {
        if (d->depth) { /* a definite container is complete */
            goto end;
        }
        if (at >= d->len) { /* the top-level item is */
            return TERN_ERR_EMPTY;
        }
        e = TERN_ERR_CBOR_TRAILING;
        goto fail;
    }
    if (at >= d->len) {
        e = TERN_ERR_CBOR_TRUNCATED;
        goto fail;
    }
    if (d->check && (e = d->check(d, at)) != TERN_OK) {
        goto fail; /* the walk's own checks of the same head win: see tern_cbor_dec_check() */
    }

    /* The head: the argument, or indefinite, or a break. */
    unsigned ib = d->buf[at], mt = ib >> 5, ai = ib & 31u;
    uint64_t v = ai;
    if (ai >= 24) {
        if (ai < 28) {
            unsigned n = 1u << (ai - 24);
            if (d->len - p < n) {
                e = TERN_ERR_CBOR_TRUNCATED;
                goto fail;
            }
            v = tern_cbor_be(d->buf + p, n);
            p += n;
        } else if (ai != 31) {
            e = TERN_ERR_CBOR_RESERVED;
            goto fail;
        } else if (mt == 7) {
            e = TERN_ERR_CBOR_UNEXPECTED_BREAK;
            if (!(fk & INDEF)) {
                goto fail;
            }
            e = TERN_ERR_CBOR_ODD_MAP;
            if (fk == (5u | INDEF) && (f->left & 1u)) {
                goto fail;
            }
            d->pos = p;
            goto end;
        } else if (mt < 2 || mt == 6) {
            e = TERN_ERR_CBOR_BAD_INDEFINITE;
        }
    }
    if (fk - (2u | INDEF) < 2u && (mt != (fk & 7u) || ai == 31)) {
        e = TERN_ERR_CBOR_BAD_CHUNK; /* in an indefinite string */
    }
    if (e) {
        goto fail;
    }

    it->type = (tern_cbor_type_t)mt;
    it->u = v;
    if (mt == 7) {
        it->type = TERN_CBOR_SIMPLE;
        if (ai == 24 && v < 32) {
            e = TERN_ERR_CBOR_BAD_SIMPLE;
            goto fail;
        }
        if (ai >= 25) { /* 25..27: half, single, double */
            uint64_t b = ai == 27 ? v : tern_cbor_widen((uint32_t)v, ai == 26);
            memcpy(&it->f, &b, sizeof b);
            it->type = TERN_CBOR_FLOAT;
            it->bits = (uint8_t)(16u << (ai - 25));
            it->u = 0;
        }
    } else if (mt >= 4 || ai == 31) { /* opens a frame */
        e = TERN_ERR_CBOR_TOO_DEEP;
        if (d->depth == TERN_CBOR_MAX_DEPTH) {
            goto fail;
        }
        d->stack[d->depth++] = *f;
        f->kind = (uint8_t)mt;
        f->start = p;
        f->prev_key_len = 0;
        f->left = INDEF_CNT;
        if (ai == 31) {
            it->indefinite = true;
            it->u = 0;
            f->kind |= INDEF;
        } else {
            if (v > d->len) {
                v = d->len; /* cannot be complete either way: keeps 2v from overflowing */
            }
            f->left = mt == 6 ? 1 : v << (mt == 5);
        }
        d->pos = p;
        return TERN_OK;
    } else if (mt >= 2) { /* definite string */
#if SIZE_MAX < UINT64_MAX
        e = TERN_ERR_CBOR_TOO_LONG;
        if (v > SIZE_MAX) {
            goto fail;
        }
#endif
        e = TERN_ERR_CBOR_TRUNCATED;
        if (v > d->len - p) {
            goto fail;
        }
        it->ptr = d->buf + p;
        it->len = (size_t)v;
        e = TERN_ERR_CBOR_BAD_UTF8;
        if (mt == 3 && !utf8_ok(it->ptr, it->len)) {
            goto fail;
        }
        p += (size_t)v;
    }
    d->pos = p;
    complete(d);
    return TERN_OK;

end:
    it->type = TERN_CBOR_END;
    d->top = d->stack[--d->depth];
    complete(d);
    return TERN_OK;

fail:
    d->err = e;
    d->err_offset = at;
    return e;
}

tern_err_t tern_cbor_dec_skip(tern_cbor_dec_t *d, const tern_cbor_item_t *it)
{
    tern_cbor_item_t x;
    if (d->err) {
        return d->err;
    }
    if (it->type == TERN_CBOR_END || it->type >= TERN_CBOR_SIMPLE ||
        (it->type < TERN_CBOR_ARRAY && !it->indefinite) || !d->depth) {
        return TERN_OK;
    }
    unsigned target = d->depth - 1u;
    while (d->depth > target) {
        tern_err_t e = tern_cbor_dec_next(d, &x);
        if (e) {
            return e;
        }
    }
    return TERN_OK;
}

tern_err_t tern_cbor_dec_walk(tern_cbor_dec_t *d, size_t *err_offset)
{
    tern_cbor_item_t it;
    tern_err_t e;
    while ((e = tern_cbor_dec_next(d, &it)) == TERN_OK) {
    }
    if (err_offset) {
        *err_offset = tern_cbor_dec_offset(d);
    }
    return e == TERN_ERR_EMPTY ? TERN_OK : e;
}
