/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ternctl's operator commands, a client of ternd's HTTP API (docs/api.md).
 *
 * Every answer is parsed with jansson and printed by this file's own JSON
 * writer rather than json_dumps(): jansson writes reals with 17 significant
 * digits (21.53 becomes 21.530000000000001), this writer uses the shortest
 * text that reads back as the same double, sorts object keys (so `--json`
 * output is the same from run to run, whatever order the server used), and
 * escapes every control character, so nothing the network sends reaches the
 * terminal as a control sequence. Text shown in tables gets the same care.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "tern/version.h"

#include "api_client.h"

enum {
    TIMEOUT_MS = 10000,        /* connect and whole request */
    RESPONSE_MAX = 512u << 20, /* 100,000 readings are about 15 MiB */
    SMALL_FILE_MAX = 4096,     /* api.url, token */
    TRUST_FILE_MAX = 64 << 10, /* a trust store (the API takes 64 KiB bodies) */
    LIMIT_MAX = 100000,        /* the API's own limit on readings */
    LABEL_WIDTH = 17,          /* "applied version:" and a space */
};

#define DEFAULT_STATE_DIR "./ternd-state"

/* ------------------------------------------------------------ strings -- */

static void oom(void)
{
    fputs("ternctl: out of memory\n", stderr);
    exit(1);
}

/* A growing, always NUL-terminated string. */
typedef struct {
    char *p;
    size_t len, cap;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            oom();
        }
        b->p = p;
        b->cap = cap;
    }
    if (n) {
        memcpy(b->p + b->len, s, n);
    }
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf_t *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        oom(); /* only an encoding error: none of our formats has one */
    }
    if ((size_t)n < sizeof small) {
        sb_add(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        oom();
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_add(b, big, (size_t)n);
    free(big);
}

/* The string, owned by the caller from now on (never NULL). */
static char *sb_take(sbuf_t *b)
{
    if (b->p == NULL) {
        sb_add(b, "", 0);
    }
    char *p = b->p;
    memset(b, 0, sizeof *b);
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL) {
        oom();
    }
    return p;
}

/* Two bytes of UTF-8 that encode a C1 control character (U+0080..U+009F). */
static bool is_c1(const char *s, size_t n, size_t i)
{
    return (unsigned char)s[i] == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
           (unsigned char)s[i + 1] < 0xA0;
}

/* Text for a terminal: control characters (C0, DEL, C1) become '?'. The text
 * itself is valid UTF-8 (jansson checks every string it parses). */
static void sb_text(sbuf_t *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F || is_c1(s, n, i)) {
            sb_add(b, "?", 1);
            i += c == 0xC2; /* the C1 character's second byte */
        } else {
            sb_add(b, &s[i], 1);
        }
    }
}

/* The columns @p s takes on a terminal: one a character (wide characters aside). */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++) {
        w += ((unsigned char)*s & 0xC0) != 0x80;
    }
    return w;
}

/* ---------------------------------------------------------------- JSON -- */

/* A JSON string, every control character escaped. */
static void sb_jstr(sbuf_t *b, const char *s, size_t n)
{
    sb_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = c == '"'    ? "\\\""
                          : c == '\\' ? "\\\\"
                          : c == '\n' ? "\\n"
                          : c == '\t' ? "\\t"
                          : c == '\r' ? "\\r"
                          : c == '\b' ? "\\b"
                          : c == '\f' ? "\\f"
                                      : NULL;
        if (esc != NULL) {
            sb_puts(b, esc);
        } else if (c < 0x20 || c == 0x7F) {
            sb_printf(b, "\\u%04x", c);
        } else if (is_c1(s, n, i)) {
            sb_printf(b, "\\u%04x", (unsigned char)s[++i]);
        } else {
            sb_add(b, &s[i], 1);
        }
    }
    sb_add(b, "\"", 1);
}

/* The shortest decimal that reads back as @p v. A whole number is written
 * without an exponent (below 2^53) and, if @p keep_real, with ".0", so a
 * JSON real stays a real. */
static void sb_num(sbuf_t *b, double v, bool keep_real)
{
    char t[40];
    if (!isfinite(v)) {
        sb_puts(b, "null"); /* JSON has neither; jansson never parses them */
        return;
    }
    if (v == trunc(v) && fabs(v) < 9007199254740992.0) {
        snprintf(t, sizeof t, "%.0f%s", v, keep_real ? ".0" : "");
        sb_puts(b, t);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, v);
        if (strtod(t, NULL) == v) {
            break;
        }
    }
    sb_puts(b, t);
}

typedef struct {
    const char *key;
    size_t len;
    json_t *value;
} member_t;

static int member_cmp(const void *pa, const void *pb)
{
    const member_t *a = pa, *b = pb;
    int c = memcmp(a->key, b->key, a->len < b->len ? a->len : b->len);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* The members of @p obj in bytewise key order; *n gets their count. */
static member_t *sorted_members(json_t *obj, size_t *n)
{
    size_t count = json_object_size(obj), i = 0;
    member_t *m = calloc(count ? count : 1, sizeof *m);
    if (m == NULL) {
        oom();
    }
    const char *key;
    size_t len;
    json_t *value;
    json_object_keylen_foreach(obj, key, len, value)
    {
        if (i < count) {
            m[i++] = (member_t){ key, len, value };
        }
    }
    qsort(m, i, sizeof *m, member_cmp);
    *n = i;
    return m;
}

static void sb_indent(sbuf_t *b, int indent, int depth)
{
    if (indent >= 0) {
        sb_add(b, "\n", 1);
        for (int i = 0; i < indent * depth; i++) {
            sb_add(b, " ", 1);
        }
    }
}

/* @p v as JSON: compact if @p indent < 0, else @p indent spaces a level. */
static void sb_json(sbuf_t *b, json_t *v, int indent, int depth)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n;
        member_t *m = sorted_members(v, &n);
        sb_add(b, "{", 1);
        for (size_t i = 0; i < n; i++) {
            if (i) {
                sb_add(b, ",", 1);
            }
            sb_indent(b, indent, depth + 1);
            sb_jstr(b, m[i].key, m[i].len);
            sb_puts(b, indent >= 0 ? ": " : ":");
            sb_json(b, m[i].value, indent, depth + 1);
        }
        if (n) {
            sb_indent(b, indent, depth);
        }
        sb_add(b, "}", 1);
        free(m);
        break;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        sb_add(b, "[", 1);
        for (size_t i = 0; i < n; i++) {
            if (i) {
                sb_add(b, ",", 1);
            }
            sb_indent(b, indent, depth + 1);
            sb_json(b, json_array_get(v, i), indent, depth + 1);
        }
        if (n) {
            sb_indent(b, indent, depth);
        }
        sb_add(b, "]", 1);
        break;
    }
    case JSON_STRING:
        sb_jstr(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        sb_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        sb_num(b, json_real_value(v), true);
        break;
    case JSON_TRUE:
        sb_puts(b, "true");
        break;
    case JSON_FALSE:
        sb_puts(b, "false");
        break;
    case JSON_NULL:
        sb_puts(b, "null");
        break;
    }
}

static void print_json_pretty(json_t *v)
{
    sbuf_t b = { 0 };
    sb_json(&b, v, 2, 0);
    sb_add(&b, "\n", 1);
    fwrite(b.p, 1, b.len, stdout);
    free(b.p);
}

/* A member's text for a terminal, or "-" if it is absent, null or no string. */
static char *field_text(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    sbuf_t b = { 0 };
    if (json_is_string(v)) {
        sb_text(&b, json_string_value(v), json_string_length(v));
    }
    if (b.len == 0) {
        sb_puts(&b, "-");
    }
    return sb_take(&b);
}

static char *field_int(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    sbuf_t b = { 0 };
    if (json_is_integer(v)) {
        sb_printf(&b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        sb_num(&b, json_real_value(v), false);
    } else {
        sb_puts(&b, "-");
    }
    return sb_take(&b);
}

static char *field_bool(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return xstrdup(json_is_boolean(v) ? (json_is_true(v) ? "yes" : "no") : "-");
}

/* ---------------------------------------------------------------- time -- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Unix milliseconds as local time, "2026-11-28 01:02:03" (".456" if @p with_ms). */
static void sb_time(sbuf_t *b, int64_t ms, bool with_ms)
{
    int64_t s = ms / 1000, frac = ms % 1000;
    if (frac < 0) {
        s--;
        frac += 1000;
    }
    time_t t = (time_t)s;
    struct tm tm;
    char text[64];
    if ((int64_t)t != s || localtime_r(&t, &tm) == NULL ||
        strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm) == 0) {
        sb_printf(b, "@%" PRId64 " ms", ms);
        return;
    }
    sb_puts(b, text);
    if (with_ms) {
        sb_printf(b, ".%03d", (int)frac);
    }
}

/* "5s ago", "3m ago", "2h ago", "4d ago"; "in 5s" for a time ahead of ours. */
static void sb_age(sbuf_t *b, int64_t ms)
{
    int64_t d = now_ms() - ms;
    bool ahead = d < 0;
    uint64_t s = (ahead ? 0u - (uint64_t)d : (uint64_t)d) / 1000u;
    uint64_t n = s < 60 ? s : s < 3600 ? s / 60 : s < 86400 ? s / 3600 : s / 86400;
    char unit = s < 60 ? 's' : s < 3600 ? 'm' : s < 86400 ? 'h' : 'd';
    sb_printf(b, ahead ? "in %" PRIu64 "%c" : "%" PRIu64 "%c ago", n, unit);
}

/* A member holding Unix milliseconds, as "<local time> (<age>)", or "-". */
static char *field_time(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    sbuf_t b = { 0 };
    double d = json_number_value(v);
    if (!json_is_number(v) || !(fabs(d) < 1e17)) {
        sb_puts(&b, "-");
        return sb_take(&b);
    }
    int64_t ms = json_is_integer(v) ? (int64_t)json_integer_value(v) : (int64_t)llround(d);
    sb_time(&b, ms, false);
    sb_puts(&b, " (");
    sb_age(&b, ms);
    sb_puts(&b, ")");
    return sb_take(&b);
}

/* --------------------------------------------------------------- table -- */

typedef struct {
    size_t ncols;
    const char *const *head;
    const bool *right; /* right-aligned columns (numbers) */
    char **cell;       /* nrows * ncols, each owned */
    size_t nrows, cap;
} table_t;

/* Append a row of t->ncols cells; the table owns them from now on. */
static void table_row(table_t *t, char **row)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **cell = realloc(t->cell, cap * t->ncols * sizeof *cell);
        if (cell == NULL) {
            oom();
        }
        t->cell = cell;
        t->cap = cap;
    }
    memcpy(&t->cell[t->nrows++ * t->ncols], row, t->ncols * sizeof *row);
}

/* The header and the rows, each column as wide as its widest cell. */
static void table_print(const table_t *t)
{
    size_t *w = calloc(t->ncols, sizeof *w);
    if (w == NULL) {
        oom();
    }
    for (size_t c = 0; c < t->ncols; c++) {
        w[c] = text_width(t->head[c]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t cw = text_width(t->cell[r * t->ncols + c]);
            w[c] = cw > w[c] ? cw : w[c];
        }
    }
    for (size_t r = 0; r <= t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = r == 0 ? t->head[c] : t->cell[(r - 1) * t->ncols + c];
            size_t pad = w[c] - text_width(s);
            bool last = c + 1 == t->ncols;
            if (c) {
                fputs("  ", stdout);
            }
            if (t->right[c]) {
                printf("%*s", (int)pad, "");
            }
            fputs(s, stdout);
            if (!t->right[c] && !last) {
                printf("%*s", (int)pad, "");
            }
        }
        putchar('\n');
    }
    free(w);
}

static void table_free(table_t *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++) {
        free(t->cell[i]);
    }
    free(t->cell);
}

/* ----------------------------------------------------------------- HTTP -- */

typedef struct {
    char *base; /* the API's URL, without a trailing '/' */
    char *auth; /* "Authorization: Bearer <token>" */
} api_t;

typedef struct {
    sbuf_t body;
    bool too_big;
} answer_t;

static size_t on_data(char *p, size_t size, size_t n, void *user)
{
    answer_t *a = user;
    size_t len = size * n;
    if (len > RESPONSE_MAX - a->body.len) {
        a->too_big = true;
        return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
    }
    sb_add(&a->body, p, len);
    return len;
}

static const char *status_text(long status)
{
    switch (status) {
    case 400:
        return "bad request";
    case 401:
        return "unauthorized";
    case 403:
        return "forbidden";
    case 404:
        return "not found";
    case 405:
        return "method not allowed";
    case 500:
        return "internal server error";
    default:
        return "unexpected answer";
    }
}

/* An HTTP error: the API's "error" text (or the status's name), and a hint. */
static void report_status(long status, const answer_t *ans)
{
    json_error_t jerr;
    json_t *root = json_loadb(ans->body.p ? ans->body.p : "", ans->body.len, JSON_ALLOW_NUL, &jerr);
    json_t *e = json_object_get(root, "error");
    sbuf_t msg = { 0 };
    if (json_is_string(e) && json_string_length(e) > 0) {
        sb_text(&msg, json_string_value(e), json_string_length(e));
    } else {
        sb_puts(&msg, status_text(status));
    }
    fprintf(stderr, "ternctl: %ld %s%s\n", status, msg.p,
            status == 401 ? " (is the token right?)" : "");
    free(msg.p);
    json_decref(root);
}

/*
 * @p method @p path (with its query) at the API, @p body (JSON text or NULL)
 * sent with it. On a 2xx answer holding a JSON object, *out gets it and 0 is
 * returned; otherwise 1, after saying on stderr what went wrong.
 */
static int api_call(const api_t *a, const char *method, const char *path, const char *body,
                    const char *content_type, json_t **out)
{
    *out = NULL;
    sbuf_t url = { 0 };
    sb_puts(&url, a->base);
    sb_puts(&url, path);
    CURL *c = curl_easy_init();
    if (c == NULL) {
        fputs("ternctl: cannot start libcurl\n", stderr);
        free(url.p);
        return 1;
    }
    struct curl_slist *hdr = NULL;
    char ctype[128];
    snprintf(ctype, sizeof ctype, "Content-Type: %s",
             content_type != NULL ? content_type : "application/json");
    const char *lines[] = { a->auth, "Accept: application/json", body ? ctype : NULL,
                            body ? "Expect:" : NULL };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0] && lines[i]; i++) {
        struct curl_slist *more = curl_slist_append(hdr, lines[i]);
        if (more == NULL) {
            oom();
        }
        hdr = more;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    answer_t ans = { { 0 }, false };
    curl_easy_setopt(c, CURLOPT_URL, url.p);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &ans);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "ternctl/" TERN_VERSION_STRING);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    /* ternd listens on loopback: a proxy from the environment would only see the token */
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);

    CURLcode e = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    free(url.p);

    int rc = 1;
    if (e == CURLE_COULDNT_CONNECT) {
        fprintf(stderr, "ternctl: cannot reach ternd at %s: is it running?\n", a->base);
    } else if (e == CURLE_OPERATION_TIMEDOUT) {
        fprintf(stderr, "ternctl: ternd at %s did not answer within %d s\n", a->base,
                TIMEOUT_MS / 1000);
    } else if (e == CURLE_WRITE_ERROR && ans.too_big) {
        fprintf(stderr, "ternctl: the answer from ternd is larger than %u MiB\n",
                (unsigned)(RESPONSE_MAX >> 20));
    } else if (e == CURLE_URL_MALFORMAT || e == CURLE_UNSUPPORTED_PROTOCOL) {
        fprintf(stderr, "ternctl: bad API URL %s: %s\n", a->base,
                errbuf[0] ? errbuf : curl_easy_strerror(e));
    } else if (e != CURLE_OK) {
        fprintf(stderr, "ternctl: request to ternd at %s failed: %s\n", a->base,
                errbuf[0] ? errbuf : curl_easy_strerror(e));
    } else if (status < 200 || status > 299) {
        report_status(status, &ans);
    } else {
        json_error_t jerr;
        json_t *root =
            json_loadb(ans.body.p ? ans.body.p : "", ans.body.len, JSON_ALLOW_NUL, &jerr);
        if (root == NULL) {
            sbuf_t why = { 0 }; /* jansson quotes the input near the error */
            sb_text(&why, jerr.text, strlen(jerr.text));
            fprintf(stderr, "ternctl: ternd sent invalid JSON: %s (line %d, column %d)\n", why.p,
                    jerr.line, jerr.column);
            free(why.p);
        } else if (!json_is_object(root)) {
            fputs("ternctl: ternd sent JSON that is not an object\n", stderr);
            json_decref(root);
        } else {
            *out = root;
            rc = 0;
        }
    }
    free(ans.body.p);
    return rc;
}

/* Up to SMALL_FILE_MAX bytes of @p path, trimmed of surrounding whitespace;
 * NULL with errno set if it cannot be read. */
static char *read_small(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *buf = malloc(SMALL_FILE_MAX + 1);
    if (buf == NULL) {
        oom();
    }
    size_t n = fread(buf, 1, SMALL_FILE_MAX + 1, f);
    int err = ferror(f) ? (errno ? errno : EIO) : n > SMALL_FILE_MAX ? EFBIG : 0;
    fclose(f);
    if (err) {
        free(buf);
        errno = err;
        return NULL;
    }
    while (n > 0 && isspace((unsigned char)buf[n - 1])) {
        n--;
    }
    size_t start = 0;
    while (start < n && isspace((unsigned char)buf[start])) {
        start++;
    }
    memmove(buf, buf + start, n - start);
    buf[n - start] = '\0';
    return buf;
}

/* ------------------------------------------------------------- options -- */

typedef enum {
    CMD_DEVICES,
    CMD_DEVICE,
    CMD_TWIN_GET,
    CMD_TWIN_SET,
    CMD_TWIN_SET_ALL,
    CMD_TELEMETRY,
    CMD_TRUST,
    CMD_FLEET
} cmd_t;

typedef struct {
    cmd_t cmd;
    const char *name; /* argv[0], for messages */
    bool json;
    bool all; /* twin set --all: every device */
    const char *state_dir, *api, *token_file;
    const char *since, *reading, *limit; /* telemetry */
    char **pos;                          /* positional arguments after the command */
    int npos;
    char *path; /* the request's path and query, set by prepare() */
    char *body; /* twin set: the JSON object sent; trust: the PEM file */
} api_opts_t;

bool ternctl_api_is_command(const char *name)
{
    return strcmp(name, "devices") == 0 || strcmp(name, "device") == 0 ||
           strcmp(name, "twin") == 0 || strcmp(name, "telemetry") == 0 ||
           strcmp(name, "trust") == 0 || strcmp(name, "fleet") == 0;
}

void ternctl_api_usage(FILE *f)
{
    fprintf(f,
            "fleet commands, clients of ternd's HTTP API (docs/api.md):\n"
            "  ternctl devices [--json]      every device: online, last seen, firmware,\n"
            "                                link, region, message and reading counts\n"
            "  ternctl device ID [--json]    one device with its twin\n"
            "  ternctl twin get ID [--json]  desired and reported state, versions, in sync\n"
            "  ternctl twin set ID KEY=VALUE [KEY=VALUE...]\n"
            "       one new desired version; VALUE is JSON if it parses, else a string:\n"
            "       interval=30 led=on x=null 'cfg={\"a\":1}' (null deletes the key)\n"
            "  ternctl twin set --all KEY=VALUE [KEY=VALUE...]\n"
            "       the same change for every device ternd knows, each in its next desired\n"
            "       version; the online ones get it at once, the others when they connect\n"
            "  ternctl fleet [--json]        devices, online, messages stored, the highest\n"
            "                                desired version and how many devices are in sync\n"
            "  ternctl telemetry ID [--since T] [--name NAME] [--limit K] [--json]\n"
            "       readings oldest first; T: Unix seconds or an age (30s, 10m, 2h, 1d);\n"
            "       NAME: a resolved SenML name as shown; K: 1..100000 (1000)\n"
            "  ternctl trust ID FILE [--json]\n"
            "       give the device the trust store in FILE (PEM CA certificates): ternd\n"
            "       publishes it, retained, on tern/ID/trust/new; prints its version\n"
            "  --json: the API's answer as JSON (keys sorted)\n"
            "  finding ternd: --state-dir DIR (or $TERND_STATE_DIR; " DEFAULT_STATE_DIR ") holds\n"
            "       api.url and token; --api URL and --token-file FILE override them\n");
}

static int usage_error(const api_opts_t *o, const char *what, const char *arg)
{
    fprintf(stderr, "ternctl: %s: %s%s%s%s\n", o->name, what, arg ? " '" : "", arg ? arg : "",
            arg ? "'" : "");
    ternctl_api_usage(stderr);
    return 2;
}

/* Returns 0 when the options are good, an exit code otherwise (-1: help shown). */
static int parse(int argc, char **argv, api_opts_t *o)
{
    static const struct option longs[] = {
        { "json", no_argument, NULL, 'j' },
        { "all", no_argument, NULL, 'a' },
        { "state-dir", required_argument, NULL, 'S' },
        { "api", required_argument, NULL, 'A' },
        { "token-file", required_argument, NULL, 'T' },
        { "since", required_argument, NULL, 's' },
        { "name", required_argument, NULL, 'n' },
        { "limit", required_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof *o);
    o->name = argv[0];
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'j':
            o->json = true;
            break;
        case 'a':
            o->all = true;
            break;
        case 'S':
            o->state_dir = optarg;
            break;
        case 'A':
            o->api = optarg;
            break;
        case 'T':
            o->token_file = optarg;
            break;
        case 's':
            o->since = optarg;
            break;
        case 'n':
            o->reading = optarg;
            break;
        case 'l':
            o->limit = optarg;
            break;
        case 'h':
            ternctl_api_usage(stdout);
            return -1;
        case ':':
            return usage_error(o, "option needs a value:", argv[optind - 1]);
        default:
            return usage_error(o, "unknown option", argv[optind - 1]);
        }
    }
    o->pos = argv + optind;
    o->npos = argc - optind;
    int ids = 1; /* positional arguments the command takes at least / exactly */
    bool more = false;
    if (strcmp(o->name, "devices") == 0) {
        o->cmd = CMD_DEVICES;
        ids = 0;
    } else if (strcmp(o->name, "fleet") == 0) {
        o->cmd = CMD_FLEET;
        ids = 0;
    } else if (strcmp(o->name, "device") == 0) {
        o->cmd = CMD_DEVICE;
    } else if (strcmp(o->name, "telemetry") == 0) {
        o->cmd = CMD_TELEMETRY;
    } else if (strcmp(o->name, "trust") == 0) {
        o->cmd = CMD_TRUST;
        ids = 2;
    } else if (o->npos >= 1 && strcmp(o->pos[0], "get") == 0) {
        o->cmd = CMD_TWIN_GET;
        o->pos++, o->npos--;
    } else if (o->npos >= 1 && strcmp(o->pos[0], "set") == 0) {
        o->cmd = o->all ? CMD_TWIN_SET_ALL : CMD_TWIN_SET;
        o->pos++, o->npos--;
        ids = o->all ? 1 : 2; /* --all: no ID, KEY=VALUE... */
        more = true;
    } else {
        return usage_error(o, o->npos ? "get or set, not" : "get or set?",
                           o->npos ? o->pos[0] : NULL);
    }
    if (o->npos < ids || (!more && o->npos > ids)) {
        return usage_error(o, o->npos < ids ? "missing arguments" : "unexpected argument",
                           o->npos < ids ? NULL : o->pos[ids]);
    }
    if (o->all && o->cmd != CMD_TWIN_SET_ALL) {
        return usage_error(o, "--all goes with twin set", NULL);
    }
    if (ids > 0 && o->cmd != CMD_TWIN_SET_ALL && o->pos[0][0] == '\0') {
        return usage_error(o, "empty device id", NULL);
    }
    if (o->cmd != CMD_TELEMETRY && (o->since || o->reading || o->limit)) {
        return usage_error(o, "--since, --name and --limit go with telemetry", NULL);
    }
    return 0;
}

/* The API and its token from the options, the environment or the state directory. */
static int api_open(const api_opts_t *o, api_t *a)
{
    memset(a, 0, sizeof *a);
    const char *dir = o->state_dir ? o->state_dir : getenv("TERND_STATE_DIR");
    if (dir == NULL || dir[0] == '\0') {
        dir = DEFAULT_STATE_DIR;
    }
    sbuf_t path = { 0 };
    if (o->api != NULL) {
        a->base = xstrdup(o->api);
    } else {
        sb_printf(&path, "%s/api.url", dir);
        a->base = read_small(path.p);
        if (a->base == NULL) {
            fprintf(stderr,
                    "ternctl: cannot read %s: %s (is ternd running with --state-dir %s? "
                    "--api URL names the API)\n",
                    path.p, strerror(errno), dir);
            free(path.p);
            return 1;
        }
    }
    size_t n = strlen(a->base);
    while (n > 0 && a->base[n - 1] == '/') {
        a->base[--n] = '\0';
    }
    bool url_ok = strncmp(a->base, "http://", 7) == 0 || strncmp(a->base, "https://", 8) == 0;
    for (const char *p = a->base; *p; p++) {
        url_ok = url_ok && *p > 0x20 && *p < 0x7F;
    }
    if (!url_ok) {
        sbuf_t shown = { 0 };
        sb_text(&shown, a->base, strlen(a->base));
        fprintf(stderr, "ternctl: the API URL '%s'%s%s is not an http:// URL\n", shown.p,
                path.p ? " in " : "", path.p ? path.p : "");
        free(shown.p);
        free(path.p);
        return 1;
    }

    path.len = 0;
    if (o->token_file != NULL) {
        sb_puts(&path, o->token_file);
    } else {
        sb_printf(&path, "%s/token", dir);
    }
    char *token = read_small(path.p);
    if (token == NULL) {
        fprintf(stderr, "ternctl: cannot read the API token from %s: %s\n", path.p,
                strerror(errno));
        free(path.p);
        return 1;
    }
    bool good = token[0] != '\0';
    for (const char *p = token; *p; p++) {
        good = good && *p > 0x20 && *p < 0x7F; /* a header value: one line, no spaces */
    }
    if (!good) {
        fprintf(stderr, "ternctl: %s does not hold an API token (one line of hex expected)\n",
                path.p);
        free(token);
        free(path.p);
        return 1;
    }
    sbuf_t auth = { 0 };
    sb_printf(&auth, "Authorization: Bearer %s", token);
    a->auth = sb_take(&auth);
    memset(token, 0, strlen(token));
    free(token);
    free(path.p);
    return 0;
}

static void api_close(api_t *a)
{
    free(a->base);
    if (a->auth != NULL) {
        memset(a->auth, 0, strlen(a->auth));
        free(a->auth);
    }
}

/* "/v1/devices/<id, percent-encoded>" and @p rest. */
static char *device_path(const char *id, const char *rest)
{
    char *esc = curl_easy_escape(NULL, id, (int)strlen(id));
    if (esc == NULL) {
        oom();
    }
    sbuf_t b = { 0 };
    sb_printf(&b, "/v1/devices/%s%s", esc, rest);
    curl_free(esc);
    return sb_take(&b);
}

/* ------------------------------------------------------------ commands -- */

static int unexpected(const char *what)
{
    fprintf(stderr, "ternctl: unexpected answer from ternd: %s\n", what);
    return 1;
}

/* `devices`: a table, a device a row. */
static int show_devices(json_t *root)
{
    json_t *list = json_object_get(root, "devices");
    static const char *const head[] = { "ID",   "ONLINE", "LAST SEEN", "FW",
                                        "LINK", "REGION", "MESSAGES",  "READINGS" };
    static const bool right[] = { false, false, false, false, false, false, true, true };
    table_t t = { 8, head, right, NULL, 0, 0 };
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d)
    {
        char *row[] = {
            field_text(d, "id"),      field_bool(d, "online"),  field_time(d, "last_seen_ms"),
            field_text(d, "fw"),      field_text(d, "link"),    field_text(d, "region"),
            field_int(d, "messages"), field_int(d, "readings"),
        };
        table_row(&t, row);
    }
    table_print(&t);
    table_free(&t);
    return 0;
}

static void print_field(const char *label, const char *value)
{
    printf("%-*s %s\n", LABEL_WIDTH - 1, label, value);
}

static void print_field_owned(const char *label, char *value)
{
    print_field(label, value);
    free(value);
}

/* A twin key as it is if it reads unambiguously, else as a JSON string. */
static void sb_key(sbuf_t *b, const char *k, size_t n)
{
    bool plain = n > 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)k[i];
        plain = plain && c > 0x20 && c != 0x7F && c != '=' && c != '"' && !is_c1(k, n, i);
    }
    if (plain) {
        sb_add(b, k, n);
    } else {
        sb_jstr(b, k, n);
    }
}

/* One side of the twin: "label: version N" then its state as key = value lines. */
static void print_state(const char *label, json_t *state, json_t *version)
{
    sbuf_t b = { 0 };
    sb_puts(&b, "version ");
    if (json_is_integer(version)) {
        sb_printf(&b, "%" JSON_INTEGER_FORMAT, json_integer_value(version));
    } else {
        sb_puts(&b, "-");
    }
    print_field(label, b.p);
    free(b.p);
    if (!json_is_object(state) || json_object_size(state) == 0) {
        puts(json_is_object(state) ? "  (empty)" : "  -");
        return;
    }
    size_t n;
    member_t *m = sorted_members(state, &n);
    for (size_t i = 0; i < n; i++) {
        sbuf_t line = { 0 };
        sb_puts(&line, "  ");
        sb_key(&line, m[i].key, m[i].len);
        sb_puts(&line, " = ");
        sb_json(&line, m[i].value, -1, 0);
        puts(line.p);
        free(line.p);
    }
    free(m);
}

/* The twin, a part a line (`twin get`, and the end of `device`): 0. */
static int print_twin(json_t *twin)
{
    print_state("desired:", json_object_get(twin, "desired"),
                json_object_get(twin, "desired_version"));
    print_state("reported:", json_object_get(twin, "reported"),
                json_object_get(twin, "reported_version"));
    print_field_owned("applied version:", field_int(twin, "applied_version"));
    print_field_owned("in sync:", field_bool(twin, "in_sync"));
    return 0;
}

/* "serial 4a5b... (request 3), valid until <time> (<age>)", or "-". */
static char *cert_text(json_t *c)
{
    if (!json_is_object(c)) {
        return xstrdup("-");
    }
    sbuf_t b = { 0 };
    char *serial = field_text(c, "serial"), *request = field_int(c, "request");
    char *until = field_time(c, "not_after_ms");
    sb_printf(&b, "serial %s (request %s), valid until %s", serial, request, until);
    if (json_is_false(json_object_get(c, "published"))) {
        sb_puts(&b, ", not yet taken by the broker");
    }
    free(serial);
    free(request);
    free(until);
    return sb_take(&b);
}

/* "version 2", or "-". */
static char *trust_text(json_t *t)
{
    if (!json_is_object(t)) {
        return xstrdup("-");
    }
    sbuf_t b = { 0 };
    char *version = field_int(t, "version");
    sb_printf(&b, "version %s", version);
    if (json_is_false(json_object_get(t, "published"))) {
        sb_puts(&b, ", not yet taken by the broker");
    }
    free(version);
    return sb_take(&b);
}

/* `device`: a field a line, the twin last. */
static int show_device(json_t *root)
{
    static const struct {
        const char *key, *label;
        char *(*show)(json_t *obj, const char *key);
    } known[] = {
        { "id", "id:", field_text },
        { "online", "online:", field_bool },
        { "first_seen_ms", "first seen:", field_time },
        { "last_seen_ms", "last seen:", field_time },
        { "fw", "fw:", field_text },
        { "link", "link:", field_text },
        { "region", "region:", field_text },
        { "epoch", "epoch:", field_int },
        { "max_seq", "max seq:", field_int },
        { "messages", "messages:", field_int },
        { "readings", "readings:", field_int },
    };
    size_t nknown = sizeof known / sizeof known[0];
    for (size_t i = 0; i < nknown; i++) {
        print_field_owned(known[i].label, known[i].show(root, known[i].key));
    }
    if (json_object_get(root, "certificate") != NULL) { /* a ternd with a CA, or newer */
        print_field_owned("certificate:", cert_text(json_object_get(root, "certificate")));
    }
    if (json_object_get(root, "trust") != NULL) {
        print_field_owned("trust store:", trust_text(json_object_get(root, "trust")));
    }
    /* fields a newer ternd may add, as they come */
    size_t n;
    member_t *m = sorted_members(root, &n);
    for (size_t i = 0; i < n; i++) {
        bool seen = (m[i].len == 4 && memcmp(m[i].key, "twin", 4) == 0) ||
                    (m[i].len == 5 && memcmp(m[i].key, "trust", 5) == 0) ||
                    (m[i].len == 11 && memcmp(m[i].key, "certificate", 11) == 0);
        for (size_t k = 0; k < nknown && !seen; k++) {
            seen =
                strlen(known[k].key) == m[i].len && memcmp(known[k].key, m[i].key, m[i].len) == 0;
        }
        if (!seen) {
            sbuf_t label = { 0 }, value = { 0 };
            sb_text(&label, m[i].key, m[i].len);
            for (char *p = label.p; *p; p++) {
                *p = *p == '_' ? ' ' : *p;
            }
            sb_puts(&label, ":");
            sb_json(&value, m[i].value, -1, 0);
            print_field(label.p, value.p);
            free(label.p);
            free(value.p);
        }
    }
    free(m);
    json_t *twin = json_object_get(root, "twin");
    if (json_is_object(twin)) {
        print_twin(twin);
    } else {
        print_field("twin:", "-");
    }
    return 0;
}

/* KEY=VALUE arguments (from o->pos[first]) into one JSON object: VALUE as JSON if it parses,
 * else as text. */
static int twin_patch(const api_opts_t *o, int first, json_t **out)
{
    json_t *patch = json_object();
    if (patch == NULL) {
        oom();
    }
    for (int i = first; i < o->npos; i++) {
        const char *arg = o->pos[i], *eq = strchr(arg, '=');
        if (eq == NULL || eq == arg) {
            json_decref(patch);
            return usage_error(o, "KEY=VALUE expected, not", arg);
        }
        size_t klen = (size_t)(eq - arg);
        if (json_object_getn(patch, arg, klen) != NULL) {
            json_decref(patch);
            return usage_error(o, "a key given twice:", arg);
        }
        json_error_t jerr;
        json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, &jerr);
        if (v == NULL && json_error_code(&jerr) == json_error_numeric_overflow) {
            json_decref(patch);
            return usage_error(o, "a number too large for a twin value:", arg);
        }
        if (v == NULL) {
            v = json_string(eq + 1); /* NULL if it is not UTF-8 */
        }
        if (v == NULL || json_object_setn_new(patch, arg, klen, v) != 0) {
            json_decref(patch);
            return usage_error(o, "not UTF-8:", arg);
        }
    }
    *out = patch;
    return 0;
}

/* `twin set`: "desired version 4". */
static int show_twin_set(json_t *root)
{
    json_t *v = json_object_get(root, "desired_version");
    if (!json_is_integer(v)) {
        return unexpected("no \"desired_version\"");
    }
    printf("desired version %" JSON_INTEGER_FORMAT "\n", json_integer_value(v));
    return 0;
}

/* `twin set --all`: "desired version 4 on 17000 devices" (or "versions 3..5" when the
 * devices were at different versions). */
static int show_twin_set_all(json_t *root)
{
    json_t *n = json_object_get(root, "devices"), *lo = json_object_get(root, "version_min"),
           *hi = json_object_get(root, "version_max");
    if (!json_is_integer(n) || !json_is_integer(lo) || !json_is_integer(hi)) {
        return unexpected("no \"devices\", \"version_min\" and \"version_max\"");
    }
    if (json_integer_value(n) == 0) {
        puts("no devices: nothing changed");
    } else if (json_integer_value(lo) == json_integer_value(hi)) {
        printf("desired version %" JSON_INTEGER_FORMAT " on %" JSON_INTEGER_FORMAT " device%s\n",
               json_integer_value(lo), json_integer_value(n),
               json_integer_value(n) == 1 ? "" : "s");
    } else {
        printf("desired versions %" JSON_INTEGER_FORMAT "..%" JSON_INTEGER_FORMAT
               " on %" JSON_INTEGER_FORMAT " devices\n",
               json_integer_value(lo), json_integer_value(hi), json_integer_value(n));
    }
    return 0;
}

/* `fleet`: the fleet's counts, one per line. */
static int show_fleet(json_t *root)
{
    json_t *twin = json_object_get(root, "twin");
    char *devices = field_int(root, "devices");
    print_field("devices:", devices);
    print_field_owned("online:", field_int(root, "online"));
    print_field_owned("messages:", field_int(root, "messages"));
    char *highest = field_int(twin, "desired_version_max");
    sbuf_t v = { 0 };
    sb_printf(&v, "%s (the highest)", highest);
    print_field("desired version:", v.p);
    free(v.p);
    free(highest);
    char *in_sync = field_int(twin, "in_sync");
    sbuf_t b = { 0 };
    sb_printf(&b, "%s of %s", in_sync, devices);
    print_field("in sync:", b.p);
    free(b.p);
    free(in_sync);
    free(devices);
    return 0;
}

/* `trust`: "trust store version 2". */
static int show_trust(json_t *root)
{
    json_t *v = json_object_get(root, "version");
    if (!json_is_integer(v)) {
        return unexpected("no \"version\"");
    }
    printf("trust store version %" JSON_INTEGER_FORMAT "\n", json_integer_value(v));
    return 0;
}

/* The trust store file for `trust`: PEM text, up to TRUST_FILE_MAX bytes, in o->body. */
static int trust_body(api_opts_t *o)
{
    const char *path = o->pos[1];
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "ternctl: trust: %s: %s\n", path, strerror(errno));
        return 1;
    }
    char *buf = malloc(TRUST_FILE_MAX + 1);
    if (buf == NULL) {
        oom();
    }
    size_t n = fread(buf, 1, TRUST_FILE_MAX + 1, f);
    bool bad = ferror(f) != 0;
    fclose(f);
    const char *why = bad                  ? strerror(errno ? errno : EIO)
                      : n == 0             ? "empty"
                      : n > TRUST_FILE_MAX ? "larger than 64 KiB"
                      : memchr(buf, 0, n)  ? "not PEM text (a NUL byte)"
                                           : NULL;
    if (why != NULL) {
        fprintf(stderr, "ternctl: trust: %s: %s\n", path, why);
        free(buf);
        return 1;
    }
    buf[n] = '\0';
    o->body = buf;
    return 0;
}

/* --since: Unix seconds, or an age (30s, 10m, 2h, 1d) before now. */
static bool parse_since(const char *s, long long *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)s[0])) {
        return false;
    }
    unsigned long long n = strtoull(s, &end, 10);
    if (errno || n > (unsigned long long)LLONG_MAX / 86400) {
        return false;
    }
    if (*end == '\0') {
        *out = (long long)n;
        return true;
    }
    long long unit = end[0] == 's'   ? 1
                     : end[0] == 'm' ? 60
                     : end[0] == 'h' ? 3600
                     : end[0] == 'd' ? 86400
                                     : 0;
    if (unit == 0 || end[1] != '\0') {
        return false;
    }
    long long t = (long long)time(NULL) - (long long)n * unit;
    *out = t < 0 ? 0 : t;
    return true;
}

/* A reading's value with its unit: 21.53 Cel, true, "idle", AQID (base64). */
static char *reading_value(json_t *r)
{
    sbuf_t b = { 0 };
    json_t *v;
    if (json_is_number(v = json_object_get(r, "v"))) {
        if (json_is_integer(v)) {
            sb_printf(&b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        } else {
            sb_num(&b, json_real_value(v), false);
        }
    } else if (json_is_boolean(v = json_object_get(r, "vb"))) {
        sb_puts(&b, json_is_true(v) ? "true" : "false");
    } else if (json_is_string(v = json_object_get(r, "vs"))) {
        sb_jstr(&b, json_string_value(v), json_string_length(v));
    } else if (json_is_string(v = json_object_get(r, "vd"))) {
        sb_text(&b, json_string_value(v), json_string_length(v));
        sb_puts(&b, " (base64)");
    } else {
        sb_puts(&b, "-");
    }
    json_t *u = json_object_get(r, "u");
    if (json_is_string(u) && json_string_length(u) > 0) {
        sb_puts(&b, " ");
        sb_text(&b, json_string_value(u), json_string_length(u));
    }
    return sb_take(&b);
}

static char *reading_time(json_t *r)
{
    json_t *t = json_object_get(r, "t");
    double s = json_number_value(t);
    sbuf_t b = { 0 };
    if (json_is_number(t) && fabs(s) < 1e14) {
        sb_time(&b, (int64_t)llround(s * 1000.0), true);
    } else {
        sb_puts(&b, "-");
    }
    return sb_take(&b);
}

/* `telemetry`: a table, a reading a row. */
static int show_telemetry(json_t *root)
{
    json_t *list = json_object_get(root, "readings");
    static const char *const head[] = { "TIME", "NAME", "VALUE", "SEQ" };
    static const bool right[] = { false, false, false, true };
    table_t t = { 4, head, right, NULL, 0, 0 };
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        char *row[] = { reading_time(r), field_text(r, "n"), reading_value(r),
                        field_int(r, "seq") };
        table_row(&t, row);
    }
    table_print(&t);
    table_free(&t);
    return 0;
}

/* How each command asks the API, and shows its answer without --json. */
static const struct command {
    const char *method;
    const char *content_type;  /* of o->body (NULL: JSON) */
    const char *array;         /* a member the answer must hold as an array, or NULL */
    int (*show)(json_t *root); /* 0, or 1 having said why on stderr */
} commands[] = {
    [CMD_DEVICES] = { "GET", NULL, "devices", show_devices },
    [CMD_DEVICE] = { "GET", NULL, NULL, show_device },
    [CMD_TWIN_GET] = { "GET", NULL, NULL, print_twin },
    [CMD_TWIN_SET] = { "PATCH", NULL, NULL, show_twin_set },
    [CMD_TWIN_SET_ALL] = { "PATCH", NULL, NULL, show_twin_set_all },
    [CMD_TELEMETRY] = { "GET", NULL, "readings", show_telemetry },
    [CMD_TRUST] = { "PUT", "application/x-pem-file", NULL, show_trust },
    [CMD_FLEET] = { "GET", NULL, NULL, show_fleet },
};

/* The request of @p o (its path and body), then its answer on stdout: as it came with
 * --json, else by the command's show(). 0, or 1 having said why on stderr. */
static int run(const api_t *a, const api_opts_t *o)
{
    const struct command *c = &commands[o->cmd];
    json_t *root;
    if (api_call(a, c->method, o->path, o->body, c->content_type, &root) != 0) {
        return 1;
    }
    int rc = 0;
    if (c->array != NULL && !json_is_array(json_object_get(root, c->array))) {
        sbuf_t what = { 0 };
        sb_printf(&what, "no \"%s\" array", c->array);
        rc = unexpected(what.p);
        free(what.p);
    } else if (o->json) {
        print_json_pretty(root);
    } else {
        rc = c->show(root);
    }
    json_decref(root);
    return rc;
}

/* The query of `telemetry` from its options, appended to @p q. */
static int telemetry_query(const api_opts_t *o, sbuf_t *q)
{
    char sep = '?';
    if (o->since != NULL) {
        long long since;
        if (!parse_since(o->since, &since)) {
            return usage_error(o, "--since takes Unix seconds or an age (30s, 10m, 2h, 1d), not",
                               o->since);
        }
        sb_printf(q, "%csince=%lld", sep, since);
        sep = '&';
    }
    if (o->reading != NULL) {
        char *esc = curl_easy_escape(NULL, o->reading, (int)strlen(o->reading));
        if (esc == NULL) {
            oom();
        }
        sb_printf(q, "%cname=%s", sep, esc);
        curl_free(esc);
        sep = '&';
    }
    if (o->limit != NULL) {
        char *end;
        errno = 0;
        long k = strtol(o->limit, &end, 10);
        if (errno || end == o->limit || *end != '\0' || k < 1 || k > LIMIT_MAX) {
            return usage_error(o, "--limit takes 1..100000, not", o->limit);
        }
        sb_printf(q, "%climit=%ld", sep, k);
    }
    return 0;
}

/* The request's path and body: every usage error is found before the API is looked for. */
static int prepare(api_opts_t *o)
{
    sbuf_t q = { 0 };
    int rc = 0;
    switch (o->cmd) {
    case CMD_DEVICES:
        o->path = xstrdup("/v1/devices");
        break;
    case CMD_DEVICE:
        o->path = device_path(o->pos[0], "");
        break;
    case CMD_TWIN_GET:
        o->path = device_path(o->pos[0], "/twin");
        break;
    case CMD_TWIN_SET:
    case CMD_TWIN_SET_ALL: {
        json_t *patch;
        bool all = o->cmd == CMD_TWIN_SET_ALL;
        rc = twin_patch(o, all ? 0 : 1, &patch);
        if (rc == 0) {
            /* the shortest numbers: 0.1 is sent as 0.1 */
            sbuf_t body = { 0 };
            sb_json(&body, patch, -1, 0);
            json_decref(patch);
            o->body = sb_take(&body);
            o->path =
                all ? xstrdup("/v1/fleet/twin/desired") : device_path(o->pos[0], "/twin/desired");
        }
        break;
    }
    case CMD_FLEET:
        o->path = xstrdup("/v1/fleet/stats");
        break;
    case CMD_TELEMETRY:
        sb_puts(&q, "/telemetry");
        rc = telemetry_query(o, &q);
        if (rc == 0) {
            o->path = device_path(o->pos[0], q.p);
        }
        break;
    case CMD_TRUST:
        rc = trust_body(o);
        if (rc == 0) {
            o->path = device_path(o->pos[0], "/trust");
        }
        break;
    }
    free(q.p);
    return rc;
}

int ternctl_api_main(int argc, char **argv)
{
    api_opts_t o;
    int rc = parse(argc, argv, &o);
    if (rc != 0) {
        return rc < 0 ? 0 : rc;
    }
    api_t a = { NULL, NULL };
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fputs("ternctl: cannot start libcurl\n", stderr);
        return 1;
    }
    rc = prepare(&o);
    if (rc != 0 || api_open(&o, &a) != 0) {
        rc = rc ? rc : 1;
        goto done;
    }
    rc = run(&a, &o);
done:
    free(o.path);
    free(o.body);
    api_close(&a);
    curl_global_cleanup();
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "ternctl: write error: %s\n", strerror(errno));
        return 1;
    }
    return rc;
}
