/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The strict CBOR pull decoder (RFC 8949), tern/cbor.h.
 *
 * One frame per open container, tag or indefinite string. A frame counts down
 * the items it still expects in `left`; an indefinite one (INDEF in `kind`)
 * starts from an even number no input can exhaust, so for every map "left is
 * even" means "a key comes next". A definite container whose count reached 0
 * is closed by the next call (END, no byte); a tag frame is popped as soon as
 * its one content item is complete, so tags have no END.
 *
 * Map keys (only with TERN_CBOR_CHECK_DUPLICATES or TERN_CBOR_DETERMINISTIC)
 * are checked before the key is returned: the extent of its encoding is found
 * with a second decoder on the stack, then compared with the previous key
 * (deterministic order: strictly increasing) or with every earlier key of the
 * map (duplicates; `start` is the offset of the map's first key).
 *
 * Error offsets: the first byte of the item at fault (the break for
 * UNEXPECTED_BREAK and ODD_MAP, the key for key errors, the end of the input
 * when it ends where an item should start).
 */
#include <string.h>

#include "tern/cbor.h"

#define INDEF     0x80u
#define INDEF_CNT (UINT64_MAX - 1u) /* even: a map starts at a key */

void tern_cbor_dec_init(tern_cbor_dec_t *d, const uint8_t *buf, size_t len, unsigned flags)
{
    memset(d, 0, offsetof(tern_cbor_dec_t, stack));
    d->buf = buf;
    d->len = len;
    d->flags = (uint8_t)flags;
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
static uint64_t widen(uint32_t v, bool single)
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

/* The double with bits @p b is exactly a half (@p single false) or a single (NaN: payload kept). */
static bool fits(uint64_t b, bool single)
{
    unsigned mbits = single ? 23 : 10, ebits = single ? 8 : 5;
    int emax = (1 << (ebits - 1)) - 1;
    uint32_t hi = (uint32_t)(b >> 32), lo = (uint32_t)b;
    int e = (int)((hi >> 20) & 0x7FFu) - 1023;
    unsigned sh = 52 - mbits; /* the low bits that must be 0 */
    hi &= 0xFFFFFu;
    if (e == -1023) {
        return !(hi | lo); /* zero fits; double subnormals are below any shorter format */
    }
    if (e != 1024) { /* inf, NaN: the payload must survive */
        if (e > emax) {
            return false;
        }
        if (e < 1 - emax) { /* a subnormal there */
            sh += (unsigned)(1 - emax - e);
            hi |= 1u << 20;
            if (sh > 52) {
                return false;
            }
        }
    }
    return sh >= 32 ? !lo && !(hi & ((1u << (sh - 32)) - 1u)) : !(lo << (32 - sh));
}

/* The offset just after the well-formed item at @p q, or 0. */
static size_t item_end(const tern_cbor_dec_t *d, size_t q)
{
    tern_cbor_dec_t s;
    tern_cbor_item_t it;
    tern_cbor_dec_init(&s, d->buf + q, d->len - q, 0);
    if (tern_cbor_dec_next(&s, &it) || tern_cbor_dec_skip(&s, &it)) {
        return 0;
    }
    return q + s.pos;
}

/* The key at @p at of map @p f against the earlier keys (flags set). */
static tern_err_t check_key(tern_cbor_dec_t *d, tern_cbor_dframe_t *f, size_t at)
{
    size_t end = item_end(d, at);
    if (!end) {
        return TERN_OK; /* malformed: the walk will say how */
    }
    const uint8_t *k = d->buf + at;
    size_t n = end - at;
    if (d->flags & TERN_CBOR_DETERMINISTIC) {
        if (f->prev_key_len) {
            size_t pn = f->prev_key_len;
            int c = memcmp(d->buf + f->prev_key, k, pn < n ? pn : n);
            if (c == 0 && pn == n) {
                return (d->flags & TERN_CBOR_CHECK_DUPLICATES) ? TERN_ERR_CBOR_DUPLICATE_KEY
                                                               : TERN_ERR_CBOR_NOT_DETERMINISTIC;
            }
            if (c > 0 || (c == 0 && pn > n)) {
                return TERN_ERR_CBOR_NOT_DETERMINISTIC;
            }
        }
        f->prev_key = at;
        f->prev_key_len = n;
    } else {
        for (size_t q = f->start; q < at; q = item_end(d, q)) {
            size_t e = item_end(d, q);
            if (!e) {
                break; /* cannot happen: the walk has checked them */
            }
            if (e - q == n && memcmp(d->buf + q, k, n) == 0) {
                return TERN_ERR_CBOR_DUPLICATE_KEY;
            }
            q = e; /* then skip its value */
        }
    }
    return TERN_OK;
}

/* An item at the current level is complete: count it; a tag's content completes the tag. */
static void complete(tern_cbor_dec_t *d)
{
    while (d->depth) {
        tern_cbor_dframe_t *f = &d->stack[d->depth - 1];
        f->left--;
        if (f->kind != 6) {
            return;
        }
        d->depth--;
    }
    d->done = true;
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
    if (d->done) {
        if (at >= d->len) {
            return TERN_ERR_EMPTY;
        }
        e = TERN_ERR_CBOR_TRAILING;
        goto fail;
    }
    tern_cbor_dframe_t *f = d->depth ? &d->stack[d->depth - 1] : NULL;
    unsigned fk = f ? f->kind : 0;
    if (f && f->left == 0) { /* a definite container is complete */
        goto end;
    }
    e = TERN_ERR_CBOR_TRUNCATED;
    if (at >= d->len) {
        goto fail;
    }
    unsigned ib = d->buf[at], mt = ib >> 5, ai = ib & 31u;
    if (ib == 0xFFu) {
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
    }
    if ((fk & 7u) == 5u && !(f->left & 1u) &&
        (d->flags & (TERN_CBOR_DETERMINISTIC | TERN_CBOR_CHECK_DUPLICATES))) {
        e = check_key(d, f, at);
        if (e) {
            goto fail;
        }
    }

    /* The head: the argument, or indefinite. */
    uint64_t v = ai;
    e = TERN_OK;
    if (ai >= 28) {
        if (ai != 31) {
            e = TERN_ERR_CBOR_RESERVED;
            goto fail;
        }
        if (d->flags & TERN_CBOR_DETERMINISTIC) {
            e = TERN_ERR_CBOR_NOT_DETERMINISTIC;
        }
        if (mt < 2 || mt == 6) {
            e = TERN_ERR_CBOR_BAD_INDEFINITE;
        }
    } else if (ai >= 24) {
        unsigned n = 1u << (ai - 24);
        if (d->len - p < n) {
            e = TERN_ERR_CBOR_TRUNCATED;
            goto fail;
        }
        v = 0;
        while (n--) {
            v = v << 8 | d->buf[p++];
        }
        if ((d->flags & TERN_CBOR_DETERMINISTIC) && mt != 7 &&
            (ai == 24 ? v < 24 : (v >> (4u << (ai - 24))) == 0)) {
            e = TERN_ERR_CBOR_NOT_DETERMINISTIC;
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
        e = TERN_ERR_CBOR_BAD_SIMPLE;
        if (ai == 24 && v < 32) {
            goto fail;
        }
        if (ai >= 25) { /* 25..27: half, single, double */
            uint64_t b = ai == 27 ? v : widen((uint32_t)v, ai == 26);
            e = TERN_ERR_CBOR_NOT_DETERMINISTIC;
            if ((d->flags & TERN_CBOR_DETERMINISTIC) && ai > 25 && fits(b, ai == 27)) {
                goto fail;
            }
            memcpy(&it->f, &b, sizeof b);
            it->type = TERN_CBOR_FLOAT;
            it->bits = (uint8_t)(16u << (ai - 25));
            it->u = 0;
        }
    } else if (ai == 31 || mt >= 4) { /* opens a frame */
        e = TERN_ERR_CBOR_TOO_DEEP;
        if (d->depth == TERN_CBOR_MAX_DEPTH) {
            goto fail;
        }
        f = &d->stack[d->depth++];
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
    d->depth--;
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

tern_err_t tern_cbor_validate(const uint8_t *buf, size_t len, unsigned flags, size_t *err_offset)
{
    tern_cbor_dec_t d;
    tern_cbor_item_t it;
    tern_err_t e;
    tern_cbor_dec_init(&d, buf, len, flags);
    while ((e = tern_cbor_dec_next(&d, &it)) == TERN_OK) {
    }
    if (err_offset) {
        *err_offset = tern_cbor_dec_offset(&d);
    }
    return e == TERN_ERR_EMPTY ? TERN_OK : e;
}
