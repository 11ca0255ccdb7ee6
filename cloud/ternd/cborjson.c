/* SPDX-License-Identifier: Apache-2.0 */
/* CBOR <-> JSON for twin values (cborjson.h): tern's pull decoder into jansson
 * values, jansson values into tern's deterministic encoder, and a JSON printer
 * that writes floats as short as they round-trip. */
#define _POSIX_C_SOURCE 200809L /* strnlen, strdup, clock_gettime */
#include "cborjson.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/cbor.h"

/* tern's encoder and decoder must nest as deep as we promise */
_Static_assert(TERN_CBOR_MAX_DEPTH >= TERND_CBORJSON_MAX_DEPTH,
               "TERN_CBOR_MAX_DEPTH below TERND_CBORJSON_MAX_DEPTH");

#define CBOR_OUT_MAX   (16u * 1024u * 1024u) /* the largest CBOR ternd_json_to_cbor() builds */
#define DUMP_MAX_DEPTH 1024

int ternd_errf(char *err, size_t cap, const char *fmt, ...)
{
    if (err != NULL && cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* -------------------------------------------------------------- base64 -- */

static const char k_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char k_b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *ternd_base64_encode(const uint8_t *p, size_t n, bool url)
{
    const char *a = url ? k_b64url : k_b64;
    if (n > (SIZE_MAX - 1) / 4 * 3 - 3) {
        return NULL;
    }
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
        out[o++] = a[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        if (!url) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
        if (!url) {
            out[o++] = '=';
        }
    }
    out[o] = '\0';
    return out;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+' || c == '-') {
        return 62;
    }
    if (c == '/' || c == '_') {
        return 63;
    }
    return -1;
}

int ternd_base64_decode(const char *s, size_t n, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    size_t body = n;
    if (n % 4 == 0 && n >= 4) { /* padding only on a whole last quantum */
        if (s[n - 1] == '=') {
            body--;
            if (s[n - 2] == '=') {
                body--;
            }
        }
    }
    if (body % 4 == 1) {
        return -1; /* one character carries 6 bits: not a byte */
    }
    uint8_t *buf = malloc(body / 4 * 3 + 3);
    if (buf == NULL) {
        return -1;
    }
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < body; i++) {
        int v = b64_value(s[i]);
        if (v < 0) {
            free(buf);
            return -1;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1u;
        }
    }
    *out = buf;
    *out_len = o;
    return 0;
}

/* --------------------------------------------------------- CBOR -> JSON -- */

typedef struct conv {
    tern_cbor_dec_t d;
    const uint8_t *buf;
    char *err;
    size_t cap;
} conv_t;

static int dec_fail(conv_t *c, tern_err_t e)
{
    if (e == TERN_ERR_CBOR_TOO_DEEP) { /* the decoder's own limit, which is ours too */
        return ternd_errf(c->err, c->cap, "CBOR nested deeper than %d containers",
                          TERND_CBORJSON_MAX_DEPTH);
    }
    return ternd_errf(c->err, c->cap, "CBOR at byte %zu: %s", tern_cbor_dec_offset(&c->d),
                      tern_strerror(e));
}

static json_t *to_json(conv_t *c, const tern_cbor_item_t *it, int depth);

/* An indefinite-length string's chunks, up to its END, in one new buffer. */
static int gather(conv_t *c, uint8_t **out, size_t *out_len)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    for (;;) {
        tern_cbor_item_t ch;
        tern_err_t e = tern_cbor_dec_next(&c->d, &ch);
        if (e != TERN_OK) {
            free(buf);
            return dec_fail(c, e);
        }
        if (ch.type == TERN_CBOR_END) {
            break;
        }
        uint8_t *nb = realloc(buf, len + ch.len + 1);
        if (nb == NULL) {
            free(buf);
            return ternd_errf(c->err, c->cap, "out of memory");
        }
        buf = nb;
        if (ch.len > 0) {
            memcpy(buf + len, ch.ptr, ch.len);
        }
        len += ch.len;
    }
    if (buf == NULL) {
        buf = malloc(1);
        if (buf == NULL) {
            return ternd_errf(c->err, c->cap, "out of memory");
        }
    }
    *out = buf;
    *out_len = len;
    return 0;
}

static json_t *bytes_json(conv_t *c, const uint8_t *p, size_t n)
{
    char *b = ternd_base64_encode(p, n, false);
    json_t *j = b != NULL ? json_pack("{s:s}", "$bytes", b) : NULL;
    free(b);
    if (j == NULL) {
        ternd_errf(c->err, c->cap, "out of memory");
    }
    return j;
}

/* The text of a map key: a text string as it is, anything else its diagnostic notation. */
static int key_text(conv_t *c, const tern_cbor_item_t *k, char **out, size_t *out_len)
{
    if (k->type == TERN_CBOR_TEXT && k->indefinite) {
        return gather(c, (uint8_t **)out, out_len);
    }
    if (k->type == TERN_CBOR_TEXT) {
        char *s = malloc(k->len + 1);
        if (s == NULL) {
            return ternd_errf(c->err, c->cap, "out of memory");
        }
        if (k->len > 0) {
            memcpy(s, k->ptr, k->len);
        }
        *out = s;
        *out_len = k->len;
        return 0;
    }
    tern_err_t e = tern_cbor_dec_skip(&c->d, k);
    if (e != TERN_OK) {
        return dec_fail(c, e);
    }
    size_t start = k->offset, end = tern_cbor_dec_offset(&c->d), need = 0;
    char small[64];
    e = tern_cbor_diag(c->buf + start, end - start, small, sizeof small, &need);
    if (e == TERN_ERR_TOO_SMALL) {
        char *big = malloc(need + 1);
        if (big == NULL) {
            return ternd_errf(c->err, c->cap, "out of memory");
        }
        e = tern_cbor_diag(c->buf + start, end - start, big, need + 1, &need);
        if (e != TERN_OK) {
            free(big);
            return ternd_errf(c->err, c->cap, "map key: %s", tern_strerror(e));
        }
        *out = big;
        *out_len = need;
        return 0;
    }
    if (e != TERN_OK) {
        return ternd_errf(c->err, c->cap, "map key: %s", tern_strerror(e));
    }
    *out = strdup(small);
    *out_len = need;
    return *out != NULL ? 0 : ternd_errf(c->err, c->cap, "out of memory");
}

static json_t *map_json(conv_t *c, int depth)
{
    json_t *obj = json_object();
    if (obj == NULL) {
        ternd_errf(c->err, c->cap, "out of memory");
        return NULL;
    }
    for (;;) {
        tern_cbor_item_t k, v;
        tern_err_t e = tern_cbor_dec_next(&c->d, &k);
        if (e != TERN_OK) {
            dec_fail(c, e);
            goto fail;
        }
        if (k.type == TERN_CBOR_END) {
            return obj;
        }
        char *key;
        size_t klen;
        if (key_text(c, &k, &key, &klen) != 0) {
            goto fail;
        }
        if (json_object_getn(obj, key, klen) != NULL) {
            ternd_errf(c->err, c->cap, "map key \"%.*s\" given twice", (int)(klen > 64 ? 64 : klen),
                       key);
            free(key);
            goto fail;
        }
        e = tern_cbor_dec_next(&c->d, &v);
        if (e != TERN_OK) {
            free(key);
            dec_fail(c, e);
            goto fail;
        }
        json_t *jv = to_json(c, &v, depth);
        if (jv == NULL || json_object_setn_new(obj, key, klen, jv) != 0) {
            if (jv != NULL) {
                ternd_errf(c->err, c->cap, "map key is not UTF-8 or out of memory");
            }
            free(key);
            goto fail;
        }
        free(key);
    }
fail:
    json_decref(obj);
    return NULL;
}

static json_t *array_json(conv_t *c, int depth)
{
    json_t *arr = json_array();
    if (arr == NULL) {
        ternd_errf(c->err, c->cap, "out of memory");
        return NULL;
    }
    for (;;) {
        tern_cbor_item_t v;
        tern_err_t e = tern_cbor_dec_next(&c->d, &v);
        if (e != TERN_OK) {
            dec_fail(c, e);
            break;
        }
        if (v.type == TERN_CBOR_END) {
            return arr;
        }
        json_t *jv = to_json(c, &v, depth);
        if (jv == NULL) {
            break;
        }
        if (json_array_append_new(arr, jv) != 0) {
            ternd_errf(c->err, c->cap, "out of memory");
            break;
        }
    }
    json_decref(arr);
    return NULL;
}

/* The JSON value of @p it (just returned by the decoder), inside @p depth containers. */
static json_t *to_json(conv_t *c, const tern_cbor_item_t *it, int depth)
{
    json_t *j = NULL;
    switch (it->type) {
    case TERN_CBOR_UINT:
        j = it->u <= (uint64_t)INT64_MAX ? json_integer((json_int_t)it->u)
                                         : json_real((double)it->u);
        break;
    case TERN_CBOR_NEGINT:
        j = it->u <= (uint64_t)INT64_MAX ? json_integer(-1 - (json_int_t)it->u)
                                         : json_real(-1.0 - (double)it->u);
        break;
    case TERN_CBOR_BYTES:
    case TERN_CBOR_TEXT: {
        const uint8_t *p = it->ptr;
        size_t n = it->len;
        uint8_t *joined = NULL;
        if (it->indefinite) {
            if (gather(c, &joined, &n) != 0) {
                return NULL;
            }
            p = joined;
        }
        if (it->type == TERN_CBOR_BYTES) {
            j = bytes_json(c, p, n);
            free(joined);
            return j;
        }
        j = json_stringn(n > 0 ? (const char *)p : "", n);
        free(joined);
        if (j == NULL) {
            ternd_errf(c->err, c->cap, "text string is not UTF-8 or out of memory");
        }
        return j;
    }
    case TERN_CBOR_ARRAY:
    case TERN_CBOR_MAP:
    case TERN_CBOR_TAG:
        if (depth >= TERND_CBORJSON_MAX_DEPTH) {
            ternd_errf(c->err, c->cap, "CBOR nested deeper than %d containers",
                       TERND_CBORJSON_MAX_DEPTH);
            return NULL;
        }
        if (it->type == TERN_CBOR_ARRAY) {
            return array_json(c, depth + 1);
        }
        if (it->type == TERN_CBOR_MAP) {
            return map_json(c, depth + 1);
        }
        {
            tern_cbor_item_t content;
            tern_err_t e = tern_cbor_dec_next(&c->d, &content);
            if (e != TERN_OK) {
                dec_fail(c, e);
                return NULL;
            }
            return to_json(c, &content, depth + 1);
        }
    case TERN_CBOR_SIMPLE:
        switch (it->u) {
        case TERN_CBOR_FALSE:
            j = json_false();
            break;
        case TERN_CBOR_TRUE:
            j = json_true();
            break;
        case TERN_CBOR_NULL:
        case TERN_CBOR_UNDEFINED:
            j = json_null();
            break;
        default:
            ternd_errf(c->err, c->cap, "simple(%" PRIu64 ") has no JSON form", it->u);
            return NULL;
        }
        break;
    case TERN_CBOR_FLOAT:
        if (!isfinite(it->f)) {
            ternd_errf(c->err, c->cap, "%s has no JSON form",
                       isnan(it->f) ? "NaN" : (it->f > 0 ? "Infinity" : "-Infinity"));
            return NULL;
        }
        j = json_real(it->f);
        break;
    case TERN_CBOR_END:
    default:
        ternd_errf(c->err, c->cap, "CBOR at byte %zu: unexpected item", it->offset);
        return NULL;
    }
    if (j == NULL) {
        ternd_errf(c->err, c->cap, "out of memory");
    }
    return j;
}

int ternd_cbor_to_json(const uint8_t *buf, size_t len, json_t **out, char *err, size_t cap)
{
    *out = NULL;
    if (buf == NULL || len == 0) {
        return ternd_errf(err, cap, "empty CBOR");
    }
    conv_t c = { .buf = buf, .err = err, .cap = cap };
    tern_cbor_dec_init(&c.d, buf, len, 0);
    tern_cbor_item_t it;
    tern_err_t e = tern_cbor_dec_next(&c.d, &it);
    if (e != TERN_OK) {
        return dec_fail(&c, e);
    }
    json_t *j = to_json(&c, &it, 0);
    if (j == NULL) {
        return -1;
    }
    e = tern_cbor_dec_next(&c.d, &it);
    if (e != TERN_ERR_EMPTY) {
        json_decref(j);
        return dec_fail(&c, e == TERN_OK ? TERN_ERR_CBOR_TRAILING : e);
    }
    *out = j;
    return 0;
}

/* --------------------------------------------------------- JSON -> CBOR -- */

/* The base64 text of {"$bytes": "..."}, or NULL if @p j is any other object. */
static const json_t *bytes_of(const json_t *j)
{
    if (json_object_size(j) != 1) {
        return NULL;
    }
    return json_object_get(j, "$bytes");
}

static int to_cbor(tern_cbor_enc_t *e, const json_t *j, int depth, char *err, size_t cap)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const json_t *b = bytes_of(j);
        if (b != NULL) {
            if (!json_is_string(b)) {
                return ternd_errf(err, cap, "\"$bytes\" must be a base64 string");
            }
            uint8_t *raw;
            size_t n;
            if (ternd_base64_decode(json_string_value(b), json_string_length(b), &raw, &n) != 0) {
                return ternd_errf(err, cap, "\"$bytes\" is not base64");
            }
            tern_cbor_enc_bytes(e, raw, n);
            free(raw);
            return 0;
        }
        if (depth >= TERND_CBORJSON_MAX_DEPTH) {
            return ternd_errf(err, cap, "JSON nested deeper than %d containers",
                              TERND_CBORJSON_MAX_DEPTH);
        }
        json_t *obj = (json_t *)(uintptr_t)j; /* jansson's iterators take no const */
        tern_cbor_enc_map(e, json_object_size(obj));
        for (void *it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
            tern_cbor_enc_text(e, json_object_iter_key(it), json_object_iter_key_len(it));
            if (to_cbor(e, json_object_iter_value(it), depth + 1, err, cap) != 0) {
                return -1;
            }
        }
        return 0;
    }
    case JSON_ARRAY: {
        if (depth >= TERND_CBORJSON_MAX_DEPTH) {
            return ternd_errf(err, cap, "JSON nested deeper than %d containers",
                              TERND_CBORJSON_MAX_DEPTH);
        }
        size_t n = json_array_size(j);
        tern_cbor_enc_array(e, n);
        for (size_t i = 0; i < n; i++) {
            if (to_cbor(e, json_array_get(j, i), depth + 1, err, cap) != 0) {
                return -1;
            }
        }
        return 0;
    }
    case JSON_STRING:
        tern_cbor_enc_text(e, json_string_value(j), json_string_length(j));
        return 0;
    case JSON_INTEGER:
        tern_cbor_enc_int(e, (int64_t)json_integer_value(j));
        return 0;
    case JSON_REAL:
        tern_cbor_enc_float(e, json_real_value(j));
        return 0;
    case JSON_TRUE:
        tern_cbor_enc_bool(e, true);
        return 0;
    case JSON_FALSE:
        tern_cbor_enc_bool(e, false);
        return 0;
    case JSON_NULL:
        tern_cbor_enc_null(e);
        return 0;
    }
    return ternd_errf(err, cap, "unknown JSON type");
}

int ternd_json_to_cbor(const json_t *j, uint8_t **out, size_t *out_len, char *err, size_t cap)
{
    *out = NULL;
    *out_len = 0;
    if (j == NULL) {
        return ternd_errf(err, cap, "no JSON value");
    }
    /* Encode into a buffer that doubles until the value fits (the encoder's errors are
     * sticky, so one check at the end tells). */
    for (size_t n = 256; n <= CBOR_OUT_MAX; n *= 2) {
        uint8_t *buf = malloc(n);
        if (buf == NULL) {
            return ternd_errf(err, cap, "out of memory");
        }
        tern_cbor_enc_t e;
        tern_cbor_enc_init(&e, buf, n, TERN_CBOR_DETERMINISTIC);
        if (to_cbor(&e, j, 0, err, cap) != 0) {
            free(buf);
            return -1;
        }
        size_t len;
        tern_err_t rc = tern_cbor_enc_finish(&e, &len);
        if (rc == TERN_OK) {
            *out = buf;
            *out_len = len;
            return 0;
        }
        free(buf);
        if (rc != TERN_ERR_TOO_SMALL) {
            return ternd_errf(err, cap, "CBOR encoding: %s", tern_strerror(rc));
        }
    }
    return ternd_errf(err, cap, "the value is larger than %u bytes of CBOR", CBOR_OUT_MAX);
}

/* -------------------------------------------------------- JSON printer -- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool bad;
} sbuf_t;

static void put(sbuf_t *b, const char *s, size_t n)
{
    if (b->bad) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (b->len + n + 1 > nc) {
            nc *= 2;
        }
        char *np = realloc(b->p, nc);
        if (np == NULL) {
            b->bad = true;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(sbuf_t *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_string(sbuf_t *b, const char *s, size_t n)
{
    put(b, "\"", 1);
    size_t run = 0; /* characters copied as they are, in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        switch (ch) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        default:
            if (ch < 0x20) {
                snprintf(u, sizeof u, "\\u%04x", ch);
                esc = u;
            }
        }
        if (esc == NULL) {
            run++;
            continue;
        }
        put(b, s + i - run, run);
        run = 0;
        puts_(b, esc);
    }
    put(b, s + n - run, run);
    put(b, "\"", 1);
}

static void put_real(sbuf_t *b, double v)
{
    char s[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, v);
        if (strtod(s, NULL) == v) {
            break;
        }
    }
    if (strpbrk(s, ".eEn") == NULL) { /* keep it a real: 30.0, not 30 */
        strncat(s, ".0", sizeof s - strlen(s) - 1);
    }
    puts_(b, s);
}

static void dump(sbuf_t *b, const json_t *j, int depth)
{
    if (depth > DUMP_MAX_DEPTH) {
        b->bad = true;
        return;
    }
    char num[32];
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        json_t *obj = (json_t *)(uintptr_t)j;
        put(b, "{", 1);
        bool first = true;
        for (void *it = json_object_iter(obj); it != NULL && !b->bad;
             it = json_object_iter_next(obj, it)) {
            if (!first) {
                put(b, ",", 1);
            }
            first = false;
            put_string(b, json_object_iter_key(it), json_object_iter_key_len(it));
            put(b, ":", 1);
            dump(b, json_object_iter_value(it), depth + 1);
        }
        put(b, "}", 1);
        break;
    }
    case JSON_ARRAY:
        put(b, "[", 1);
        for (size_t i = 0; i < json_array_size(j) && !b->bad; i++) {
            if (i > 0) {
                put(b, ",", 1);
            }
            dump(b, json_array_get(j, i), depth + 1);
        }
        put(b, "]", 1);
        break;
    case JSON_STRING:
        put_string(b, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        puts_(b, num);
        break;
    case JSON_REAL:
        put_real(b, json_real_value(j));
        break;
    case JSON_TRUE:
        puts_(b, "true");
        break;
    case JSON_FALSE:
        puts_(b, "false");
        break;
    case JSON_NULL:
        puts_(b, "null");
        break;
    }
}

char *ternd_json_dump(const json_t *j, size_t *len)
{
    sbuf_t b = { 0 };
    if (j == NULL) {
        return NULL;
    }
    dump(&b, j, 0);
    if (b.bad || b.p == NULL) {
        free(b.p);
        return NULL;
    }
    if (len != NULL) {
        *len = b.len;
    }
    return b.p;
}
