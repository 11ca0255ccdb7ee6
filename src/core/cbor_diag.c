/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CBOR diagnostic notation (RFC 8949 section 8 and 8.1), tern/cbor.h.
 *
 * A walk of the decoder with a small stack of its own (one byte per level:
 * what the level is, whether it has items yet, key or value next), so the
 * separators and closing brackets come out right and tags get their ")" when
 * their content is complete.
 *
 * Floats print as the shortest decimal that reads back to the same double
 * (Steele & White / Burger & Dybvig free-format digits over fixed-size
 * integers on the stack: no libm, no printf, no heap), positional when the
 * decimal exponent is in [-5, 21) and as d.ddde+NN otherwise, always with a
 * point: 1.0, 1.5, 100000.0, 0.00006103515625, 5.960464477539063e-8,
 * 1.0e+300.
 */
#include <string.h>

#include "tern/cbor.h"

typedef struct out {
    char *p;
    size_t cap, n; /* n: the full length, even past cap */
} out_t;

static void putc_(out_t *o, char c)
{
    if (o->n + 1 < o->cap) {
        o->p[o->n] = c;
    }
    o->n++;
}

static void puts_(out_t *o, const char *s)
{
    while (*s) {
        putc_(o, *s++);
    }
}

static void put_u64(out_t *o, uint64_t v)
{
    char b[21];
    size_t i = sizeof b;
    b[--i] = 0;
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    puts_(o, b + i);
}

static void put_hex(out_t *o, unsigned v, int digits)
{
    while (digits--) {
        putc_(o, "0123456789abcdef"[(v >> (4 * digits)) & 15u]);
    }
}

/* ------------------------------------------------------ shortest float -- */

#define BN_WORDS 40 /* 1280 bits: the largest value in play is below 2^1100 */

/* Little-endian 32-bit words; each operation works on the first n (all values fit in them). */
typedef struct bn {
    uint32_t w[BN_WORDS];
} bn_t;

static void bn_set(bn_t *b, uint64_t v, unsigned shift) /* b = v << shift */
{
    memset(b, 0, sizeof *b);
    unsigned i = shift / 32, sh = shift % 32;
    uint64_t lo = (uint64_t)(uint32_t)v << sh, hi = (v >> 32) << sh;
    b->w[i] = (uint32_t)lo;
    b->w[i + 1] = (uint32_t)(lo >> 32) + (uint32_t)hi; /* no carry: the bits do not overlap */
    b->w[i + 2] = (uint32_t)(hi >> 32);
}

static void bn_mul(bn_t *b, uint32_t m, unsigned n)
{
    uint64_t carry = 0;
    for (unsigned i = 0; i < n; i++) {
        carry += (uint64_t)b->w[i] * m;
        b->w[i] = (uint32_t)carry;
        carry >>= 32;
    }
}

static void bn_mul_pow10(bn_t *b, unsigned k, unsigned n)
{
    for (; k >= 9; k -= 9) {
        bn_mul(b, 1000000000u, n);
    }
    while (k--) {
        bn_mul(b, 10u, n);
    }
}

static void bn_add(bn_t *r, const bn_t *a, const bn_t *b, unsigned n) /* r = a + b */
{
    uint64_t carry = 0;
    for (unsigned i = 0; i < n; i++) {
        carry += (uint64_t)a->w[i] + b->w[i];
        r->w[i] = (uint32_t)carry;
        carry >>= 32;
    }
}

static void bn_sub(bn_t *a, const bn_t *b, unsigned n) /* a -= b, a >= b */
{
    uint64_t borrow = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t d = (uint64_t)a->w[i] - b->w[i] - borrow;
        a->w[i] = (uint32_t)d;
        borrow = (d >> 32) & 1u;
    }
}

static int bn_cmp(const bn_t *a, const bn_t *b, unsigned n)
{
    for (unsigned i = n; i-- > 0;) {
        if (a->w[i] != b->w[i]) {
            return a->w[i] < b->w[i] ? -1 : 1;
        }
    }
    return 0;
}

typedef struct fl {
    bn_t r, s, mp, mm, t; /* v = r/s, the gaps to the neighbours mp/s, mm/s */
} fl_t;

/*
 * The shortest digits of the finite positive double with fraction @p f and
 * binary exponent @p e (v = f * 2^e), that read back to v: into @p dig, their
 * count returned, the value being 0.ddd * 10^*k.
 */
static int shortest(fl_t *x, uint64_t f, int e, bool lower_half_gap, char dig[18], int *k)
{
    bool even = !(f & 1u);
    unsigned up = lower_half_gap; /* the gap below is half the gap above */
    /* Every value below stays under 2^(|e| + 64), so n words hold it. */
    unsigned n = (unsigned)(e < 0 ? -e : e) / 32u + 3u;
    if (e >= 0) {
        bn_set(&x->r, f, (unsigned)e + 1 + up);
        bn_set(&x->s, 2u << up, 0);
        bn_set(&x->mp, 1, (unsigned)e + up);
        bn_set(&x->mm, 1, (unsigned)e);
    } else {
        bn_set(&x->r, f, 1 + up);
        bn_set(&x->s, 1, (unsigned)(1 - e) + up);
        bn_set(&x->mp, 1u << up, 0);
        bn_set(&x->mm, 1, 0);
    }
    /* k0 <= k: floor(log10(2) * floor(log2 v)), never above. */
    int lg = e;
    for (uint64_t g = f; g > 1; g >>= 1) {
        lg++;
    }
    int k0 = lg >= 0 ? (int)(((uint32_t)lg * 78913u) >> 18)
                     : -(int)((((uint32_t)-lg * 78913u) >> 18) + 1u);
    if (k0 >= 0) {
        bn_mul_pow10(&x->s, (unsigned)k0, n);
    } else {
        bn_mul_pow10(&x->r, (unsigned)-k0, n);
        bn_mul_pow10(&x->mp, (unsigned)-k0, n);
        bn_mul_pow10(&x->mm, (unsigned)-k0, n);
    }
    for (;;) { /* the high neighbour midpoint must be below 1 */
        bn_add(&x->t, &x->r, &x->mp, n);
        int c = bn_cmp(&x->t, &x->s, n);
        if (c < 0 || (c == 0 && !even)) {
            break;
        }
        bn_mul(&x->s, 10, n);
        k0++;
    }
    *k = k0;
    int count = 0;
    for (;;) {
        bn_mul(&x->r, 10, n);
        bn_mul(&x->mp, 10, n);
        bn_mul(&x->mm, 10, n);
        int d = 0;
        while (bn_cmp(&x->r, &x->s, n) >= 0) {
            bn_sub(&x->r, &x->s, n);
            d++;
        }
        int c = bn_cmp(&x->r, &x->mm, n);
        bool low = c < 0 || (c == 0 && even);
        bn_add(&x->t, &x->r, &x->mp, n);
        c = bn_cmp(&x->t, &x->s, n);
        bool high = c > 0 || (c == 0 && even);
        if (low && high) {
            bn_add(&x->t, &x->r, &x->r, n);
            high = bn_cmp(&x->t, &x->s, n) >= 0; /* nearer to the next digit; a tie goes up */
        }
        dig[count++] = (char)('0' + d + (high ? 1 : 0));
        if (low || high || count == 17) {
            return count;
        }
    }
}

static void put_float(out_t *o, double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    uint64_t f = b & ((1ull << 52) - 1u);
    int e = (int)((b >> 52) & 0x7FFu);
    if (e == 0x7FF) {
        puts_(o, f ? "NaN" : (b >> 63) ? "-Infinity" : "Infinity");
        return;
    }
    if (b >> 63) {
        putc_(o, '-');
    }
    if (!e && !f) {
        puts_(o, "0.0");
        return;
    }
    bool lower_half_gap = false;
    if (e) {
        lower_half_gap = f == 0 && e > 1;
        f |= 1ull << 52;
    } else {
        e = 1;
    }
    fl_t x;
    char dig[18];
    int k, n = shortest(&x, f, e - 1075, lower_half_gap, dig, &k);
    dig[n] = 0;
    int x10 = k - 1; /* the exponent of the first digit */
    if (x10 >= -5 && x10 < 21) {
        if (x10 < 0) {
            puts_(o, "0.");
            for (int i = x10 + 1; i < 0; i++) {
                putc_(o, '0');
            }
            puts_(o, dig);
            return;
        }
        for (int i = 0; i <= x10; i++) {
            putc_(o, i < n ? dig[i] : '0');
        }
        putc_(o, '.');
        puts_(o, n > x10 + 1 ? dig + x10 + 1 : "0");
        return;
    }
    putc_(o, dig[0]);
    putc_(o, '.');
    puts_(o, n > 1 ? dig + 1 : "0");
    puts_(o, x10 < 0 ? "e-" : "e+");
    put_u64(o, (uint64_t)(x10 < 0 ? -x10 : x10));
}

/* ----------------------------------------------------------- the walk -- */

/* One level of the walk: what it is, and where it is. */
#define L_ARRAY 1u
#define L_MAP   2u
#define L_TAG   3u
#define L_BYTES 4u /* indefinite strings */
#define L_TEXT  5u
#define L_KIND  7u
#define L_ITEMS 8u  /* has had an item */
#define L_VALUE 16u /* maps: a value comes next */

static void put_text(out_t *o, const uint8_t *s, size_t n)
{
    putc_(o, '"');
    for (size_t i = 0; i < n;) {
        uint32_t c = s[i++];
        if (c >= 0x80u) { /* valid UTF-8: the decoder checked it */
            unsigned k = (c >= 0xF0u) + (c >= 0xE0u) + 1u;
            c &= 0x3Fu >> k;
            while (k--) {
                c = c << 6 | (s[i++] & 0x3Fu);
            }
        }
        if (c == '"' || c == '\\') {
            putc_(o, '\\');
            putc_(o, (char)c);
        } else if (c >= 0x20u && c < 0x7Fu) {
            putc_(o, (char)c);
        } else {
            if (c > 0xFFFFu) { /* a surrogate pair */
                c -= 0x10000u;
                puts_(o, "\\u");
                put_hex(o, 0xD800u + (c >> 10), 4);
                c = 0xDC00u + (c & 0x3FFu);
            }
            puts_(o, "\\u");
            put_hex(o, c, 4);
        }
    }
    putc_(o, '"');
}

tern_err_t tern_cbor_diag(const uint8_t *buf, size_t len, char *out, size_t cap, size_t *out_len)
{
    static const char *const simple[] = { "false", "true", "null", "undefined" };
    tern_cbor_dec_t d;
    tern_cbor_item_t it;
    uint8_t lv[TERN_CBOR_MAX_DEPTH];
    unsigned depth = 0;
    out_t o = { out, cap, 0 };
    tern_err_t e;

    tern_cbor_dec_init(&d, buf, len, 0);
    while ((e = tern_cbor_dec_next(&d, &it)) == TERN_OK) {
        uint8_t *up = depth ? &lv[depth - 1] : NULL;
        if (it.type == TERN_CBOR_END) {
            unsigned l = lv[--depth];
            if ((l & L_KIND) >= L_BYTES) {
                puts_(&o, (l & L_ITEMS) ? ")" : (l & L_KIND) == L_BYTES ? "''_" : "\"\"_");
            } else {
                putc_(&o, (l & L_KIND) == L_ARRAY ? ']' : '}');
            }
        } else {
            if (up && (*up & L_KIND) != L_TAG) {
                if (*up & L_ITEMS) {
                    puts_(&o, (*up & L_VALUE) ? ": " : ", ");
                } else if ((*up & L_KIND) >= L_BYTES) {
                    puts_(&o, "(_ ");
                }
                *up = (uint8_t)((*up | L_ITEMS) ^ ((*up & L_KIND) == L_MAP ? L_VALUE : 0u));
            }
            switch (it.type) {
            case TERN_CBOR_UINT:
                put_u64(&o, it.u);
                break;
            case TERN_CBOR_NEGINT:
                putc_(&o, '-');
                if (it.u == UINT64_MAX) {
                    puts_(&o, "18446744073709551616");
                } else {
                    put_u64(&o, it.u + 1u);
                }
                break;
            case TERN_CBOR_BYTES:
            case TERN_CBOR_TEXT:
                if (it.indefinite) {
                    lv[depth++] = (uint8_t)(it.type == TERN_CBOR_BYTES ? L_BYTES : L_TEXT);
                } else if (it.type == TERN_CBOR_TEXT) {
                    put_text(&o, it.ptr, it.len);
                } else {
                    puts_(&o, "h'");
                    for (size_t i = 0; i < it.len; i++) {
                        put_hex(&o, it.ptr[i], 2);
                    }
                    putc_(&o, '\'');
                }
                break;
            case TERN_CBOR_ARRAY:
            case TERN_CBOR_MAP:
                putc_(&o, it.type == TERN_CBOR_ARRAY ? '[' : '{');
                if (it.indefinite) {
                    puts_(&o, "_ ");
                }
                lv[depth++] = (uint8_t)(it.type == TERN_CBOR_ARRAY ? L_ARRAY : L_MAP);
                break;
            case TERN_CBOR_TAG:
                put_u64(&o, it.u);
                putc_(&o, '(');
                lv[depth++] = L_TAG;
                break;
            case TERN_CBOR_SIMPLE:
                if (it.u - TERN_CBOR_FALSE < 4u) {
                    puts_(&o, simple[it.u - TERN_CBOR_FALSE]);
                } else {
                    puts_(&o, "simple(");
                    put_u64(&o, it.u);
                    putc_(&o, ')');
                }
                break;
            default: /* TERN_CBOR_FLOAT */
                put_float(&o, it.f);
                break;
            }
        }
        /* A complete item completes the tags around it. */
        bool opened = it.type == TERN_CBOR_ARRAY || it.type == TERN_CBOR_MAP ||
                      it.type == TERN_CBOR_TAG || it.indefinite;
        while (!opened && depth && lv[depth - 1] == L_TAG) {
            putc_(&o, ')');
            depth--;
        }
    }
    if (cap) {
        out[o.n < cap ? o.n : cap - 1] = '\0';
    }
    if (out_len) {
        *out_len = o.n;
    }
    if (e != TERN_ERR_EMPTY) {
        return e;
    }
    return o.n < cap ? TERN_OK : TERN_ERR_TOO_SMALL;
}
