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
 * item is complete (then TERN_ERR_EMPTY, or TRAILING if bytes follow); a
 * sequence's top level counts from INDEF_CNT and ends with its input.
 *
 * With TERN_CBOR_FAST, tern_cbor_dec_next() takes the common items the short
 * way: leaf code that needs no saved registers, where d->lim says it may (no
 * error, no optional checks, the innermost frame a definite array or map or
 * the top level). Everything else, every fault included, goes the whole way,
 * take(), which reads the same bytes again and then sets lim. Without it
 * (-Os builds), tern_cbor_dec_next() is take().
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
#define PLAIN_NOT (INDEF | 2u)      /* kind bits of the frames left to take(): a tag, indefinite */

void tern_cbor_dec_setup(tern_cbor_dec_t *d, const uint8_t *buf, size_t len, unsigned flags)
{
    memset(d, 0, offsetof(tern_cbor_dec_t, stack));
    d->buf = buf;
    d->len = len;
    d->lim = flags & (TERN_CBOR_DETERMINISTIC | TERN_CBOR_CHECK_DUPLICATES) ? 0 : len;
    d->flags = (uint8_t)flags;
    d->top.left = flags & TERN_CBOR_SEQUENCE ? INDEF_CNT : 1; /* the top-level items */
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

/* The head at @p h, with @p room bytes after its initial byte: its length and *v its
 * argument (additional information 28..31: 1 and *v that), or 0 if it is cut short. */
TERN_CBOR_HOT size_t head(const uint8_t *h, size_t room, uint64_t *v)
{
    unsigned ai = h[0] & 31u, n = 1u << (ai & 3u);
    *v = ai;
    if (ai < 24u || ai >= 28u) {
        return 1;
    }
    if (room < n) {
        return 0;
    }
    *v = tern_cbor_be(h + 1, n);
    return 1u + n;
}

/* An item in the innermost container is complete: count it; a tag's content completes the
 * tag, and so on outwards. */
TERN_CBOR_HOT void complete(tern_cbor_dec_t *d)
{
    d->top.left--;
    while (d->top.kind == 6) {
        d->top = d->stack[--d->depth];
        d->top.left--;
    }
}

/* Open a frame of @p kind (a major type, | INDEF) for @p left items after its head, which
 * ends at @p p; the caller has checked the depth. */
TERN_CBOR_HOT void push(tern_cbor_dec_t *d, unsigned kind, uint64_t left, size_t p)
{
    d->stack[d->depth++] = d->top;
    d->top.kind = (uint8_t)kind;
    d->top.start = p;
    d->top.prev_key_len = 0;
    d->top.left = left;
    d->pos = p;
}

/* The END of the innermost container. */
TERN_CBOR_HOT tern_err_t end(tern_cbor_dec_t *d, tern_cbor_item_t *it)
{
    it->type = TERN_CBOR_END;
    d->top = d->stack[--d->depth];
    complete(d);
    return TERN_OK;
}

/* The whole way: any item, every check. */
static tern_err_t take(tern_cbor_dec_t *d, tern_cbor_item_t *it)
{
    size_t at = d->pos, len = d->len;
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
            return end(d, it);
        }
        if (at >= len) { /* the top-level item is */
            return TERN_ERR_EMPTY;
        }
        e = TERN_ERR_CBOR_TRAILING;
        goto fail;
    }
    if (at >= len) {
        if (d->depth == 0 && (d->flags & TERN_CBOR_SEQUENCE)) {
            return TERN_ERR_EMPTY; /* a sequence ends between items */
        }
        e = TERN_ERR_CBOR_TRUNCATED;
        goto fail;
    }
    if (d->check && (e = d->check(d, at)) != TERN_OK) {
        goto fail; /* the walk's own checks of the same head win: see tern_cbor_dec_check() */
    }

    /* The head: the argument, or indefinite, or a break. */
    uint64_t v;
    size_t p = at + head(d->buf + at, len - at - 1u, &v);
    unsigned ib = d->buf[at], mt = ib >> 5, ai = ib & 31u;
    if (p == at) {
        e = TERN_ERR_CBOR_TRUNCATED;
    } else if (ai >= 28) {
        if (ai != 31) {
            e = TERN_ERR_CBOR_RESERVED;
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
            return end(d, it);
        } else if (mt < 2 || mt == 6) {
            e = TERN_ERR_CBOR_BAD_INDEFINITE;
        }
    }
    if (!e && fk - (2u | INDEF) < 2u && (mt != (fk & 7u) || ai == 31)) {
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
        if (ai == 31) {
            it->indefinite = true;
            it->u = 0;
            push(d, mt | INDEF, INDEF_CNT, p);
        } else { /* the count kept below the input length, so that 2v stays whole */
            push(d, mt, mt == 6 ? 1 : (v > len ? len : v) << (mt == 5), p);
        }
        return TERN_OK;
    } else if (mt >= 2) { /* definite string */
#if SIZE_MAX < UINT64_MAX
        e = TERN_ERR_CBOR_TOO_LONG;
        if (v > SIZE_MAX) {
            goto fail;
        }
#endif
        e = TERN_ERR_CBOR_TRUNCATED;
        if (v > len - p) {
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

fail:
    d->err = e;
    d->err_offset = at;
    return e;
}

#if TERN_CBOR_FAST
/* take(), then where the short way may go on: to the end of the input, or nowhere. */
TERN_CBOR_COLD tern_err_t slow(tern_cbor_dec_t *d, tern_cbor_item_t *it)
{
    tern_err_t e = take(d, it);
    d->lim = d->err || d->check || (d->top.kind & PLAIN_NOT) ? 0 : d->len;
    return e;
}
#endif

tern_err_t tern_cbor_dec_next(tern_cbor_dec_t *d, tern_cbor_item_t *it)
{
#if TERN_CBOR_FAST
    size_t at = d->pos, p = at + 1, len = d->lim;
    if (at >= len) {
        return slow(d, it);
    }
    memset(it, 0, sizeof *it);
    it->offset = at;
    if (d->top.left == 0) {
        if (d->depth == 0 || (d->stack[d->depth - 1].kind & PLAIN_NOT)) {
            return slow(d, it);
        }
        it->type = TERN_CBOR_END;
        d->top = d->stack[--d->depth];
        d->top.left--; /* a definite container or the top level: no tag to complete */
        return TERN_OK;
    }
    const uint8_t *b = d->buf;
    unsigned ib = b[at], mt = ib >> 5;
    uint64_t v = ib & 31u;
    if (v >= 24) {
        unsigned n = 1u << (v & 3u);
        if (v >= 28 || len - p < n) {
            return slow(d, it);
        }
        v = tern_cbor_be(b + p, n);
        p += n;
    }
    it->type = (tern_cbor_type_t)mt;
    it->u = v;
    if (mt >= 2) {
        if (mt <= 3) {
            if (v > len - p) {
                return slow(d, it);
            }
            it->ptr = b + p;
            it->len = (size_t)v;
            p += (size_t)v;
            if (mt == 3) { /* ASCII the short way, the rest with the UTF-8 check */
                uint32_t any = 0;
                const uint8_t *c = it->ptr;
                for (; c + 4 <= b + p; c += 4) {
                    uint32_t w;
                    memcpy(&w, c, 4);
                    any |= w;
                }
                for (; c < b + p; c++) {
                    any |= *c;
                }
                if (any & 0x80808080u) {
                    return slow(d, it);
                }
            }
        } else if (mt <= 5) {
            if (d->depth == TERN_CBOR_MAX_DEPTH) {
                return slow(d, it);
            }
            push(d, mt, (v > len ? len : v) << (mt == 5), p);
            return TERN_OK;
        } else if (ib == 0xFBu) { /* a double */
            memcpy(&it->f, &v, sizeof v);
            it->type = TERN_CBOR_FLOAT;
            it->bits = 64;
            it->u = 0;
        } else {
            return slow(d, it);
        }
    }
    d->pos = p;
    d->top.left--; /* in a definite container or at the top level: no tag to complete */
    return TERN_OK;
#else
    return take(d, it);
#endif
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
