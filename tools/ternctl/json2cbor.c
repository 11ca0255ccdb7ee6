/* SPDX-License-Identifier: Apache-2.0 */
/* JSON to deterministic CBOR for `ternctl cbor encode` (json2cbor.h). */
#include "json2cbor.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *s;
    size_t len, pos;
    unsigned depth;       /* JSON containers around pos */
    bool emit;            /* second pass: feed the encoder */
    tern_cbor_enc_t *enc; /* the encoder of the current segment */
    unsigned seg;         /* its index: 0 is @p out, 1.. the work area */
    uint8_t *str;         /* decoded strings (len bytes) */
    uint8_t *segs;        /* JSON2CBOR_SEGMENTS buffers of seg_cap bytes */
    size_t seg_cap;
    const char *what; /* the first error */
    size_t at;
    bool dup_pending; /* a map refused a duplicate key: which one is not known yet */
} parser_t;

static bool parse_value(parser_t *p);

static bool fail_at(parser_t *p, const char *what, size_t at)
{
    if (p->what == NULL) {
        p->what = what;
        p->at = at;
    }
    return false;
}

/* An encoder call failed while encoding the JSON item at @p at. */
static bool enc_fail(parser_t *p, tern_err_t err, size_t at)
{
    if (err == TERN_ERR_CBOR_DUPLICATE_KEY) {
        p->dup_pending = p->what == NULL; /* the object that has it names the key */
        return fail_at(p, "duplicate key", at);
    }
    return fail_at(p, err == TERN_ERR_TOO_SMALL ? "output too large" : tern_strerror(err), at);
}

static unsigned char byte_at(const parser_t *p, size_t i)
{
    return (unsigned char)p->s[i];
}

static void skip_ws(parser_t *p)
{
    while (p->pos < p->len) {
        unsigned char c = byte_at(p, p->pos);
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            break;
        }
        p->pos++;
    }
}

/* The error for the byte at pos not being what the grammar wants. */
static bool unexpected(parser_t *p)
{
    return fail_at(p, p->pos >= p->len ? "unexpected end of input" : "unexpected character",
                   p->pos);
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* The four hex digits of a \u escape that starts (backslash) at @p esc. */
static bool hex4(parser_t *p, size_t esc, size_t open, uint32_t *u)
{
    *u = 0;
    for (int i = 0; i < 4; i++, p->pos++) {
        if (p->pos >= p->len) {
            return fail_at(p, "unterminated string", open);
        }
        int v = hexval(byte_at(p, p->pos));
        if (v < 0) {
            return fail_at(p, "bad escape", esc);
        }
        *u = *u << 4 | (uint32_t)v;
    }
    return true;
}

/*
 * The next code point of the string whose opening quote is at @p open, with
 * p->pos inside it: *cp, or -1 after the closing quote.
 */
static bool str_cp(parser_t *p, size_t open, int32_t *cp)
{
    size_t at = p->pos;
    if (at >= p->len) {
        return fail_at(p, "unterminated string", open);
    }
    unsigned char c = byte_at(p, at);
    p->pos++;
    if (c == '"') {
        *cp = -1;
        return true;
    }
    if (c < 0x20) {
        return fail_at(p, "control character in string", at);
    }
    if (c == '\\') {
        if (p->pos >= p->len) {
            return fail_at(p, "unterminated string", open);
        }
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        c = byte_at(p, p->pos++);
        const char *k = c != '\0' ? strchr(from, c) : NULL;
        if (k != NULL) {
            *cp = (unsigned char)to[k - from];
            return true;
        }
        uint32_t u, lo;
        if (c != 'u') {
            return fail_at(p, "bad escape", at);
        }
        if (!hex4(p, at, open, &u)) {
            return false;
        }
        if (u >= 0xDC00u && u <= 0xDFFFu) {
            return fail_at(p, "lone surrogate", at);
        }
        if (u >= 0xD800u && u <= 0xDBFFu) {
            size_t at2 = p->pos;
            if (at2 + 1 >= p->len || byte_at(p, at2) != '\\' || byte_at(p, at2 + 1) != 'u') {
                return fail_at(p, "lone surrogate", at);
            }
            p->pos += 2;
            if (!hex4(p, at2, open, &lo)) {
                return false;
            }
            if (lo < 0xDC00u || lo > 0xDFFFu) {
                return fail_at(p, "lone surrogate", at);
            }
            u = 0x10000u + ((u - 0xD800u) << 10) + (lo - 0xDC00u);
        }
        *cp = (int32_t)u;
        return true;
    }
    if (c < 0x80) {
        *cp = c;
        return true;
    }
    /* UTF-8: shortest form only, no surrogates, nothing above U+10FFFF */
    unsigned n;
    uint32_t u, min;
    if ((c & 0xE0u) == 0xC0u) {
        n = 1, u = c & 0x1Fu, min = 0x80u;
    } else if ((c & 0xF0u) == 0xE0u) {
        n = 2, u = c & 0x0Fu, min = 0x800u;
    } else if ((c & 0xF8u) == 0xF0u) {
        n = 3, u = c & 0x07u, min = 0x10000u;
    } else {
        return fail_at(p, "invalid UTF-8", at);
    }
    for (unsigned i = 0; i < n; i++, p->pos++) {
        if (p->pos >= p->len || (byte_at(p, p->pos) & 0xC0u) != 0x80u) {
            return fail_at(p, "invalid UTF-8", at);
        }
        u = u << 6 | (byte_at(p, p->pos) & 0x3Fu);
    }
    if (u < min || u > 0x10FFFFu || (u >= 0xD800u && u <= 0xDFFFu)) {
        return fail_at(p, "invalid UTF-8", at);
    }
    *cp = (int32_t)u;
    return true;
}

static size_t put_utf8(uint8_t *b, uint32_t u)
{
    if (u < 0x80u) {
        b[0] = (uint8_t)u;
        return 1;
    }
    if (u < 0x800u) {
        b[0] = (uint8_t)(0xC0u | u >> 6);
        b[1] = (uint8_t)(0x80u | (u & 0x3Fu));
        return 2;
    }
    if (u < 0x10000u) {
        b[0] = (uint8_t)(0xE0u | u >> 12);
        b[1] = (uint8_t)(0x80u | (u >> 6 & 0x3Fu));
        b[2] = (uint8_t)(0x80u | (u & 0x3Fu));
        return 3;
    }
    b[0] = (uint8_t)(0xF0u | u >> 18);
    b[1] = (uint8_t)(0x80u | (u >> 12 & 0x3Fu));
    b[2] = (uint8_t)(0x80u | (u >> 6 & 0x3Fu));
    b[3] = (uint8_t)(0x80u | (u & 0x3Fu));
    return 4;
}

/* A string at p->pos (its opening quote); encoded as text in the second pass. */
static bool parse_string(parser_t *p)
{
    size_t open = p->pos++, n = 0;
    int32_t cp;
    while (str_cp(p, open, &cp) && cp >= 0) {
        if (p->emit) {
            n += put_utf8(p->str + n, (uint32_t)cp); /* never longer than its JSON */
        }
    }
    if (p->what != NULL) {
        return false;
    }
    tern_err_t e = p->emit ? tern_cbor_enc_text(p->enc, (const char *)p->str, n) : TERN_OK;
    return e == TERN_OK || enc_fail(p, e, open);
}

static bool is_digit(const parser_t *p, size_t i)
{
    return i < p->len && byte_at(p, i) >= '0' && byte_at(p, i) <= '9';
}

static bool parse_number(parser_t *p)
{
    size_t start = p->pos;
    bool neg = byte_at(p, p->pos) == '-', integral = true, overflow = false;
    p->pos += neg;
    size_t digits = p->pos;
    if (!is_digit(p, p->pos)) {
        return unexpected(p);
    }
    if (byte_at(p, p->pos) == '0') {
        p->pos++;
    } else {
        while (is_digit(p, p->pos)) {
            p->pos++;
        }
    }
    if (p->pos < p->len && byte_at(p, p->pos) == '.') {
        integral = false;
        p->pos++;
        if (!is_digit(p, p->pos)) {
            return unexpected(p);
        }
        while (is_digit(p, p->pos)) {
            p->pos++;
        }
    }
    if (p->pos < p->len && (byte_at(p, p->pos) == 'e' || byte_at(p, p->pos) == 'E')) {
        integral = false;
        p->pos++;
        if (p->pos < p->len && (byte_at(p, p->pos) == '+' || byte_at(p, p->pos) == '-')) {
            p->pos++;
        }
        if (!is_digit(p, p->pos)) {
            return unexpected(p);
        }
        while (is_digit(p, p->pos)) {
            p->pos++;
        }
    }
    tern_err_t e = TERN_OK;
    if (integral) {
        uint64_t m = 0;
        for (size_t i = digits; i < p->pos && !overflow; i++) {
            unsigned d = byte_at(p, i) - '0';
            overflow = m > (UINT64_MAX - d) / 10u;
            m = m * 10u + d;
        }
        static const char two64[] = "18446744073709551616"; /* -2^64 is -1 - (2^64 - 1) */
        if (!overflow) {
            e = !p->emit         ? TERN_OK
                : !neg || m == 0 ? tern_cbor_enc_uint(p->enc, m) /* -0 is the integer 0 */
                                 : tern_cbor_enc_negative(p->enc, m - 1u);
            return e == TERN_OK || enc_fail(p, e, start);
        }
        if (neg && p->pos - digits == sizeof two64 - 1 &&
            memcmp(p->s + digits, two64, sizeof two64 - 1) == 0) {
            e = p->emit ? tern_cbor_enc_negative(p->enc, UINT64_MAX) : TERN_OK;
            return e == TERN_OK || enc_fail(p, e, start);
        }
    }
    char *end;
    errno = 0;
    double v = strtod(p->s + start, &end); /* json[len] is '\0': it stops in time */
    if (end != p->s + p->pos) {
        return fail_at(p, "bad number", start); /* strtod disagrees with the grammar */
    }
    if (isinf(v)) {
        return fail_at(p, "number out of range", start);
    }
    e = p->emit ? tern_cbor_enc_float(p->enc, v) : TERN_OK;
    return e == TERN_OK || enc_fail(p, e, start);
}

static bool parse_literal(parser_t *p, const char *word)
{
    size_t start = p->pos;
    for (const char *w = word; *w; w++, p->pos++) {
        if (p->pos >= p->len || byte_at(p, p->pos) != (unsigned char)*w) {
            return unexpected(p);
        }
    }
    tern_err_t e = TERN_OK;
    if (p->emit) {
        e = word[0] == 'n' ? tern_cbor_enc_null(p->enc)
                           : tern_cbor_enc_bool(p->enc, word[0] == 't');
    }
    return e == TERN_OK || enc_fail(p, e, start);
}

/* Members of the (valid) container whose contents start at @p pos. */
static uint64_t count_members(const char *s, size_t pos)
{
    uint64_t commas = 0;
    unsigned depth = 0;
    bool any = false;
    for (;; pos++) {
        char c = s[pos];
        if (c == '"') {
            for (pos++; s[pos] != '"'; pos++) {
                pos += s[pos] == '\\';
            }
        } else if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            if (depth-- == 0) {
                return any ? commas + 1u : 0u;
            }
        } else if (c == ',' && depth == 0) {
            commas++;
        }
        any |= c != ' ' && c != '\t' && c != '\n' && c != '\r';
    }
}

/* Do the two (valid) strings whose opening quotes are at @p a and @p b hold the same text? */
static bool same_string(const parser_t *p, size_t a, size_t b)
{
    parser_t x = *p, y = *p;
    x.pos = a + 1;
    y.pos = b + 1;
    int32_t ca, cb;
    do {
        if (!str_cp(&x, a, &ca) || !str_cp(&y, b, &cb)) {
            return false;
        }
    } while (ca == cb && ca >= 0);
    return ca == cb;
}

/*
 * The encoder refused the object at @p open for a duplicate key; if it is this
 * one, name the first key that repeats an earlier one. Only on that error, so
 * quadratic like the encoder's own insertion sort. The offsets of the keys
 * go in the string area, free by now (n keys take 5n + 1 bytes of JSON).
 */
static void find_duplicate(parser_t *p, size_t open)
{
    uint64_t n = count_members(p->s, open + 1);
    parser_t q = *p;
    q.emit = false;
    q.what = NULL;
    q.depth = 0;
    q.pos = open + 1;
    if (n * 4u > p->len || p->len > UINT32_MAX) {
        return;
    }
    for (uint64_t j = 0; j < n; j++) {
        skip_ws(&q);
        q.pos += j > 0; /* the comma */
        skip_ws(&q);
        uint32_t key = (uint32_t)q.pos, prev;
        memcpy(p->str + 4u * j, &key, 4);
        for (uint64_t i = 0; i < j; i++) {
            memcpy(&prev, p->str + 4u * i, 4);
            if (same_string(p, prev, key)) {
                p->at = key;
                p->dup_pending = false;
                return;
            }
        }
        if (!parse_string(&q)) {
            return;
        }
        skip_ws(&q);
        q.pos++; /* the colon */
        if (!parse_value(&q)) {
            return;
        }
    }
}

static bool members(parser_t *p, bool obj)
{
    char close = obj ? '}' : ']';
    skip_ws(p);
    if (p->pos < p->len && byte_at(p, p->pos) == close) {
        p->pos++;
        return true;
    }
    for (;;) {
        if (obj) {
            skip_ws(p);
            if (p->pos >= p->len || byte_at(p, p->pos) != '"') {
                return unexpected(p);
            }
            if (!parse_string(p)) {
                return false;
            }
            skip_ws(p);
            if (p->pos >= p->len || byte_at(p, p->pos) != ':') {
                return unexpected(p);
            }
            p->pos++;
        }
        if (!parse_value(p)) {
            return false;
        }
        skip_ws(p);
        if (p->pos < p->len && byte_at(p, p->pos) == close) {
            p->pos++;
            return true;
        }
        if (p->pos >= p->len || byte_at(p, p->pos) != ',') {
            return unexpected(p);
        }
        p->pos++;
    }
}

static bool parse_container(parser_t *p, bool obj)
{
    size_t open = p->pos;
    if (p->depth == JSON2CBOR_MAX_DEPTH) {
        return fail_at(p, "nesting too deep", open);
    }
    tern_cbor_enc_t sub, *parent = p->enc;
    uint8_t *seg = NULL;
    tern_err_t e = TERN_OK;
    if (p->emit) {
        uint64_t n = count_members(p->s, open + 1);
        if (p->enc->depth == TERN_CBOR_MAX_DEPTH) { /* the encoder is full: a new segment */
            if (p->seg == JSON2CBOR_SEGMENTS || p->seg_cap == 0) {
                return fail_at(p, "nesting too deep", open);
            }
            seg = p->segs + (size_t)p->seg * p->seg_cap;
            tern_cbor_enc_init(&sub, seg, p->seg_cap, TERN_CBOR_DETERMINISTIC);
            p->enc = &sub;
            p->seg++;
        }
        e = obj ? tern_cbor_enc_map(p->enc, n) : tern_cbor_enc_array(p->enc, n);
    }
    p->pos++;
    p->depth++;
    bool ok = e == TERN_OK ? members(p, obj) : enc_fail(p, e, open);
    p->depth--;
    if (seg != NULL) {
        size_t n = 0;
        p->enc = parent;
        p->seg--;
        if (ok) {
            e = tern_cbor_enc_finish(&sub, &n);
            if (e == TERN_OK) {
                e = tern_cbor_enc_raw(parent, seg, n);
            }
            ok = e == TERN_OK || enc_fail(p, e, open);
        }
    }
    if (!ok && obj && p->dup_pending) {
        find_duplicate(p, open);
    }
    return ok;
}

static bool parse_value(parser_t *p)
{
    skip_ws(p);
    if (p->pos >= p->len) {
        return unexpected(p);
    }
    switch (byte_at(p, p->pos)) {
    case '{':
        return parse_container(p, true);
    case '[':
        return parse_container(p, false);
    case '"':
        return parse_string(p);
    case 't':
        return parse_literal(p, "true");
    case 'f':
        return parse_literal(p, "false");
    case 'n':
        return parse_literal(p, "null");
    default:
        if (byte_at(p, p->pos) == '-' || is_digit(p, p->pos)) {
            return parse_number(p);
        }
        return unexpected(p);
    }
}

bool json2cbor(const char *json, size_t len, uint8_t *out, size_t cap, size_t *out_len,
               uint8_t *work, size_t work_cap, json2cbor_error_t *err)
{
    parser_t p;
    memset(&p, 0, sizeof p);
    p.s = json;
    p.len = len;
    bool ok = work_cap >= len || fail_at(&p, "input too large for the work area", 0);
    if (ok) { /* pass 1: the grammar, with the byte of every error */
        ok = parse_value(&p);
        skip_ws(&p);
        ok = ok && (p.pos == len || fail_at(&p, "trailing characters", p.pos));
    }
    if (ok) { /* pass 2: the encoding */
        tern_cbor_enc_t enc;
        tern_cbor_enc_init(&enc, out, cap, TERN_CBOR_DETERMINISTIC);
        p.pos = 0;
        p.emit = true;
        p.enc = &enc;
        p.str = work;
        p.segs = work + len;
#if JSON2CBOR_SEGMENTS > 0
        p.seg_cap = (work_cap - len) / JSON2CBOR_SEGMENTS;
#endif
        ok = parse_value(&p);
        tern_err_t e = ok ? tern_cbor_enc_finish(&enc, out_len) : TERN_OK;
        ok = ok && (e == TERN_OK || enc_fail(&p, e, 0));
        if (p.dup_pending) {
            p.at = 0; /* no object owned up to it: should not happen */
        }
    }
    if (!ok) {
        err->what = p.what;
        err->offset = p.at;
    }
    return ok;
}
