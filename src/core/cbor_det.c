/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deterministic encoding (RFC 8949 section 4.2.1) and the decoder's optional
 * checks, tern/cbor.h: the encoder's map sorting (tern_cbor_sort_pairs) and the
 * duplicate-key and deterministic-encoding checks of the decoder
 * (tern_cbor_dec_check). tern_cbor_enc_init() and tern_cbor_dec_init() reach
 * them through a function pointer only when their flags ask, so a firmware
 * that never asks does not link this object.
 *
 * Map keys are checked before the key is returned: the extent of its encoding
 * is found with a second decoder on the stack, then compared with the previous
 * key (deterministic order: strictly increasing) or with every earlier key of
 * the map (duplicates; the frame's `start` is the offset of the map's first
 * key). The error's offset is the key's first byte.
 */
#include <string.h>

#include "cbor_priv.h"
#include "tern/cbor.h"

/* The argument of the definite head at @p p (@p n >= 1 bytes there) in *v; the head's
 * length, or 0 if its additional information is reserved or 31, or it is cut short. */
static size_t head_arg(const uint8_t *p, size_t n, uint64_t *v)
{
    unsigned ai = p[0] & 31u;
    *v = ai;
    if (ai < 24u) {
        return 1;
    }
    if (ai >= 28u) {
        return 0;
    }
    unsigned k = 1u << (ai - 24u);
    if (n - 1u < k) {
        return 0;
    }
    *v = tern_cbor_be(p + 1, k);
    return 1u + k;
}

/*
 * Bytes of the whole item at @p p of the @p n that follow, or 0 if it is not
 * complete there. Only the heads are read (what the decoder validates is not
 * checked again), and nesting is not limited: `left` is the sum of the items
 * that the open definite containers still expect since the innermost open
 * indefinite one, which never exceeds the bytes that remain (each item takes
 * one at least), and only an indefinite container needs a slot of `outer`.
 */
static size_t item_len(const uint8_t *p, size_t n)
{
    uint64_t left = 1, outer[TERN_CBOR_MAX_DEPTH];
    unsigned open = 0; /* indefinite containers */
    size_t i = 0;
    while (left > 0 || open > 0) {
        if (i >= n) {
            return 0;
        }
        unsigned ib = p[i], mt = ib >> 5, ai = ib & 31u;
        if (ib == 0xFFu) { /* a break ends the innermost indefinite item, between its items */
            if (left > 0 || open == 0) {
                return 0;
            }
            left = outer[--open];
            i++;
            continue;
        }
        left -= left > 0; /* the item an open definite container expected */
        if (ai == 31u) {
            if (mt < 2u || mt == 6u || open == TERN_CBOR_MAX_DEPTH) {
                return 0;
            }
            outer[open++] = left;
            left = 0;
            i++;
            continue;
        }
        uint64_t v;
        size_t hl = head_arg(p + i, n - i, &v);
        if (hl == 0) {
            return 0;
        }
        i += hl;
        if (v > n - i && mt >= 2u && mt <= 5u) {
            return 0; /* more bytes or items than remain */
        }
        if (mt == 2u || mt == 3u) {
            i += (size_t)v;
        } else if (mt >= 4u && mt <= 6u) {
            left += mt == 6u ? 1u : v << (mt == 5u);
            if (left > n - i) {
                return 0;
            }
        }
    }
    return i;
}

/* Bytewise lexicographic order of two encoded keys (a shorter prefix first). */
static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c != 0 ? c : (al > bl) - (al < bl);
}

/* ------------------------------------------------------------- encoder -- */

static void reverse(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        uint8_t t = p[i];
        p[i] = p[n - 1 - i];
        p[n - 1 - i] = t;
    }
}

/* Insertion sort of the pairs of buf[start, end) (our own bytes, well-formed), each
 * pair moved by rotating the bytes in place. */
tern_err_t tern_cbor_sort_pairs(uint8_t *buf, size_t start, size_t end)
{
    size_t sorted = start + item_len(buf + start, end - start);
    sorted += item_len(buf + sorted, end - sorted);
    while (sorted < end) {
        uint8_t *p = buf + sorted;
        size_t kl = item_len(p, end - sorted);
        size_t pl = kl + item_len(p + kl, end - sorted - kl);
        size_t q = start;
        while (q < sorted) {
            size_t ql = item_len(buf + q, end - q);
            int c = key_cmp(buf + q, ql, p, kl);
            if (c == 0) {
                return TERN_ERR_CBOR_DUPLICATE_KEY;
            }
            if (c > 0) {
                break;
            }
            q += ql + item_len(buf + q + ql, end - q - ql);
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

/* ------------------------------------------------------------- decoder -- */

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

/* The key at @p at of map @p f against the earlier keys. */
static tern_err_t check_key(tern_cbor_dec_t *d, tern_cbor_dframe_t *f, size_t at)
{
    const uint8_t *k = d->buf + at;
    size_t n = item_len(k, d->len - at);
    if (!n) {
        return TERN_OK; /* malformed: the walk will say how */
    }
    if (d->flags & TERN_CBOR_DETERMINISTIC) {
        if (f->prev_key_len) {
            int c = key_cmp(d->buf + f->prev_key, f->prev_key_len, k, n);
            if (c == 0 && (d->flags & TERN_CBOR_CHECK_DUPLICATES)) {
                return TERN_ERR_CBOR_DUPLICATE_KEY;
            }
            if (c >= 0) {
                return TERN_ERR_CBOR_NOT_DETERMINISTIC;
            }
        }
        f->prev_key = at;
        f->prev_key_len = n;
        return TERN_OK;
    }
    for (size_t q = f->start; q < at;) {
        size_t ql = item_len(d->buf + q, d->len - q);
        if (!ql) {
            break; /* cannot happen: the walk has checked them */
        }
        if (ql == n && memcmp(d->buf + q, k, n) == 0) {
            return TERN_ERR_CBOR_DUPLICATE_KEY;
        }
        q += ql;
        q += item_len(d->buf + q, d->len - q); /* and its value */
    }
    return TERN_OK;
}

/*
 * Called by the walk before it reads the head at @p at (at least one byte
 * is there). A head the walk refuses itself (a break, reserved additional
 * information, truncated, indefinite where none may be) is left to it, so
 * its error wins; only a well-formed head is judged here.
 */
tern_err_t tern_cbor_dec_check(tern_cbor_dec_t *d, size_t at)
{
    const uint8_t *h = d->buf + at;
    unsigned ib = h[0], mt = ib >> 5, ai = ib & 31u;
    uint64_t v = ai;
    if (ib == 0xFFu || (ai == 31u && (mt < 2u || mt > 5u)) ||
        (ai != 31u && head_arg(h, d->len - at, &v) == 0)) {
        return TERN_OK;
    }
    tern_cbor_dframe_t *f = &d->top;
    if ((f->kind & 7u) == 5u && !(f->left & 1u)) { /* a map key */
        tern_err_t e = check_key(d, f, at);
        if (e) {
            return e;
        }
    }
    if (!(d->flags & TERN_CBOR_DETERMINISTIC) || ai < 24u) {
        return TERN_OK;
    }
    bool longer; /* than it needs */
    if (ai == 31u) {
        longer = true; /* indefinite length */
    } else if (mt != 7u) {
        longer = ai == 24u ? v < 24u : (v >> (4u << (ai - 24u))) == 0;
    } else { /* a float that a shorter width holds exactly */
        longer = ai > 25u && fits(ai == 27u ? v : tern_cbor_widen((uint32_t)v, true), ai == 27u);
    }
    return longer ? TERN_ERR_CBOR_NOT_DETERMINISTIC : TERN_OK;
}
