/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ternd's operator API (api.h, docs/api.md) on libmicrohttpd.
 *
 * A request arrives in several calls of handle(): the first makes its state
 * (and checks the token, so a stranger's body is never buffered), the next
 * ones hand over the body in pieces, the last one (no data) answers. Every
 * answer is JSON, errors {"error": "..."}.
 */
#define _GNU_SOURCE /* getrandom(), strncasecmp() */
#include "api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ca.h"
#include "cborjson.h"
#include "log.h"
#include "store.h"
#include "tern/wire.h"

#define TWIN_KEY_MAX  128 /* bytes of a twin key (ternd_twin_kv_t.key) */
#define LIMIT_DEFAULT 1000
#define LIMIT_MAX     100000

struct ternd_api {
    struct MHD_Daemon *mhd;
    ternd_store_t *store; /* used only on the daemon's thread, under lock */
    pthread_mutex_t lock;
    ternd_api_hooks_t hooks;
    char token[TERND_API_TOKEN_LEN + 1];
    uint16_t port;
};

/* One request in progress. */
typedef struct req {
    bool authed;
    bool too_big;
    char *body;
    size_t len;
} req_t;

/* An answer: the status and its JSON body (owned). */
typedef struct answer {
    unsigned status;
    json_t *body;
    const char *allow; /* 405: the methods the path takes */
    bool challenge;    /* 401: say which scheme (WWW-Authenticate) */
} answer_t;

static answer_t error_answer(unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static answer_t error_answer(unsigned status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    answer_t a = { .status = status, .body = json_pack("{s:s}", "error", msg) };
    return a;
}

static answer_t ok_answer(json_t *body)
{
    if (body == NULL) {
        return error_answer(MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    answer_t a = { .status = MHD_HTTP_OK, .body = body };
    return a;
}

static answer_t store_failed(ternd_api_t *a)
{
    const char *why = ternd_store_error(a->store);
    fprintf(stderr, "ternd: api: store: %s\n", why);
    return error_answer(MHD_HTTP_INTERNAL_SERVER_ERROR, "store: %s", why);
}

/* ---------------------------------------------------------------- token -- */

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Create the token file with O_EXCL (mode 0600 from the start, never wider). */
static int token_create(int fd, const char *path, char *tok, char *err, size_t cap)
{
    uint8_t raw[TERND_API_TOKEN_LEN / 2];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return ternd_errf(err, cap, "getrandom: %s", strerror(errno));
        }
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof raw; i++) {
        tok[2 * i] = hex[raw[i] >> 4];
        tok[2 * i + 1] = hex[raw[i] & 15];
    }
    tok[TERND_API_TOKEN_LEN] = '\0';
    size_t off = 0;
    while (off < TERND_API_TOKEN_LEN) {
        ssize_t n = write(fd, tok + off, TERND_API_TOKEN_LEN - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return ternd_errf(err, cap, "%s: write: %s", path, strerror(errno));
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0) {
        return ternd_errf(err, cap, "%s: fsync: %s", path, strerror(errno));
    }
    return 0;
}

static int token_read(int fd, const char *path, char *tok, char *err, size_t cap)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return ternd_errf(err, cap, "%s: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return ternd_errf(err, cap, "%s is not a regular file", path);
    }
    if (st.st_mode & 077) {
        return ternd_errf(err, cap,
                          "%s has mode %04o: group or others may access the API token "
                          "(chmod 600 it, or delete it to get a new token)",
                          path, (unsigned)(st.st_mode & 07777));
    }
    if (st.st_uid != geteuid()) {
        return ternd_errf(err, cap, "%s belongs to uid %u, not to this user (uid %u)", path,
                          (unsigned)st.st_uid, (unsigned)geteuid());
    }
    char buf[TERND_API_TOKEN_LEN + 8];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return ternd_errf(err, cap, "%s: %s", path, strerror(errno));
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
        if (len == sizeof buf) {
            break; /* too long to be a token: refused below */
        }
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) {
        len--; /* a line end an editor added */
    }
    bool ok = len == TERND_API_TOKEN_LEN;
    for (size_t i = 0; ok && i < len; i++) {
        ok = is_hex(buf[i]);
    }
    if (!ok) {
        return ternd_errf(err, cap,
                          "%s is not %d hex characters (delete it to get a new token at the next "
                          "start)",
                          path, TERND_API_TOKEN_LEN);
    }
    memcpy(tok, buf, TERND_API_TOKEN_LEN);
    tok[TERND_API_TOKEN_LEN] = '\0';
    return 0;
}

static int token_load(const char *dir, char *tok, char *err, size_t cap)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/token", dir) >= sizeof path) {
        return ternd_errf(err, cap, "state directory path too long");
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
        int rc = token_create(fd, path, tok, err, cap);
        close(fd);
        if (rc != 0) {
            unlink(path);
        }
        return rc;
    }
    if (errno != EEXIST) {
        return ternd_errf(err, cap, "%s: %s", path, strerror(errno));
    }
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return ternd_errf(err, cap, "%s: %s", path, strerror(errno));
    }
    int rc = token_read(fd, path, tok, err, cap);
    close(fd);
    return rc;
}

/* "Bearer <token>" with the right token; the comparison takes the same time for every
 * wrong token of any content (only the length, which is public, changes the path). */
static bool token_ok(const ternd_api_t *a, const char *auth)
{
    if (auth == NULL) {
        return false;
    }
    while (*auth == ' ') {
        auth++;
    }
    if (strncasecmp(auth, "Bearer ", 7) != 0) {
        return false;
    }
    auth += 7;
    while (*auth == ' ') {
        auth++;
    }
    size_t n = strlen(auth);
    while (n > 0 && auth[n - 1] == ' ') {
        n--;
    }
    volatile unsigned char diff = n != TERND_API_TOKEN_LEN;
    for (size_t i = 0; i < TERND_API_TOKEN_LEN; i++) {
        unsigned char c = i < n ? (unsigned char)auth[i] : 0;
        diff |= (unsigned char)(c ^ (unsigned char)a->token[i]);
    }
    return diff == 0;
}

/* ------------------------------------------------------------- devices -- */

static json_t *device_json(const ternd_device_t *d)
{
    return json_pack("{s:s, s:b, s:I, s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "id", d->id,
                     "online", d->online, "first_seen_ms", (json_int_t)d->first_seen_ms,
                     "last_seen_ms", (json_int_t)d->last_seen_ms, "fw", d->fw, "link", d->link,
                     "region", d->region, "epoch", (json_int_t)d->epoch, "max_seq",
                     (json_int_t)d->max_seq, "messages", (json_int_t)d->messages, "readings",
                     (json_int_t)d->readings);
}

typedef struct list_ctx {
    json_t *arr;
    bool oom;
} list_ctx_t;

static void on_device(void *ctx, const ternd_device_t *d)
{
    list_ctx_t *l = ctx;
    json_t *j = device_json(d);
    if (j == NULL || json_array_append_new(l->arr, j) != 0) {
        l->oom = true;
    }
}

static answer_t get_devices(ternd_api_t *a)
{
    list_ctx_t l = { .arr = json_array() };
    if (l.arr == NULL) {
        return ok_answer(NULL);
    }
    if (ternd_store_devices(a->store, on_device, &l) != 0) {
        json_decref(l.arr);
        return store_failed(a);
    }
    if (l.oom) {
        json_decref(l.arr);
        return ok_answer(NULL);
    }
    return ok_answer(json_pack("{s:o}", "devices", l.arr));
}

/* ---------------------------------------------------------------- twin -- */

typedef struct twin_ctx {
    json_t *obj;
    const char *which; /* "desired", "reported" */
    char err[512];     /* the first failure: which, a key (128 bytes at most) and why */
} twin_ctx_t;

static void on_twin_kv(void *ctx, const ternd_twin_kv_t *kv)
{
    twin_ctx_t *t = ctx;
    if (t->err[0] != '\0' || kv->deleted) {
        return;
    }
    char why[200];
    json_t *v;
    if (ternd_cbor_to_json(kv->value, kv->len, &v, why, sizeof why) != 0) {
        snprintf(t->err, sizeof t->err, "%s key \"%s\": %s", t->which, kv->key, why);
        return;
    }
    if (json_object_set_new(t->obj, kv->key, v) != 0) {
        snprintf(t->err, sizeof t->err, "%s key \"%s\": out of memory", t->which, kv->key);
    }
}

/* The twin of @p id as docs/api.md shows it, or NULL with *ans the error. */
static json_t *twin_json(ternd_api_t *a, const char *id, answer_t *ans)
{
    uint64_t dv, rv, av;
    if (ternd_store_twin_versions(a->store, id, &dv, &rv, &av) != 0) {
        *ans = store_failed(a);
        return NULL;
    }
    twin_ctx_t d = { .obj = json_object(), .which = "desired" };
    twin_ctx_t r = { .obj = json_object(), .which = "reported" };
    if (d.obj == NULL || r.obj == NULL) {
        json_decref(d.obj);
        json_decref(r.obj);
        *ans = ok_answer(NULL);
        return NULL;
    }
    if (ternd_store_twin_desired(a->store, id, 0, on_twin_kv, &d) != 0 ||
        ternd_store_twin_reported(a->store, id, on_twin_kv, &r) != 0) {
        json_decref(d.obj);
        json_decref(r.obj);
        *ans = store_failed(a);
        return NULL;
    }
    if (d.err[0] != '\0' || r.err[0] != '\0') {
        *ans = error_answer(MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", d.err[0] ? d.err : r.err);
        json_decref(d.obj);
        json_decref(r.obj);
        return NULL;
    }
    json_t *j = json_pack("{s:o, s:I, s:o, s:I, s:I, s:b}", "desired", d.obj, "desired_version",
                          (json_int_t)dv, "reported", r.obj, "reported_version", (json_int_t)rv,
                          "applied_version", (json_int_t)av, "in_sync", av == dv);
    if (j == NULL) {
        *ans = ok_answer(NULL);
    }
    return j;
}

/* 1 known, 0 unknown (*ans the 404), -1 store failure (*ans the 500). */
static int known_device(ternd_api_t *a, const char *id, ternd_device_t *d, answer_t *ans)
{
    int rc = ternd_store_device(a->store, id, d);
    if (rc < 0) {
        *ans = store_failed(a);
    } else if (rc == 0) {
        *ans = error_answer(MHD_HTTP_NOT_FOUND, "no such device");
    }
    return rc;
}

/* The device's latest certificate and trust store (JSON null for none), or -1 (*ans the 500). */
static int certs_json(ternd_api_t *a, const char *id, json_t **cert, json_t **trust, answer_t *ans)
{
    ternd_cert_row_t c;
    ternd_trust_row_t t;
    *cert = *trust = NULL;
    int rc = ternd_store_cert_latest(a->store, id, &c);
    if (rc < 0) {
        *ans = store_failed(a);
        return -1;
    }
    *cert = rc == 0
                ? json_null()
                : json_pack("{s:s, s:I, s:I, s:I, s:I, s:b}", "serial", c.serial, "request",
                            (json_int_t)c.request, "not_before_ms", (json_int_t)c.not_before * 1000,
                            "not_after_ms", (json_int_t)c.not_after * 1000, "issued_ms",
                            (json_int_t)c.issued_ms, "published", c.published);
    rc = ternd_store_trust_latest(a->store, id, &t);
    if (rc < 0) {
        json_decref(*cert);
        *cert = NULL;
        *ans = store_failed(a);
        return -1;
    }
    *trust = rc == 0 ? json_null()
                     : json_pack("{s:I, s:I, s:b}", "version", (json_int_t)t.version, "created_ms",
                                 (json_int_t)t.created_ms, "published", t.published);
    if (*cert == NULL || *trust == NULL) {
        json_decref(*cert);
        json_decref(*trust);
        *ans = ok_answer(NULL);
        return -1;
    }
    return 0;
}

static answer_t get_device(ternd_api_t *a, const char *id)
{
    ternd_device_t d;
    answer_t ans;
    if (known_device(a, id, &d, &ans) != 1) {
        return ans;
    }
    json_t *cert, *trust;
    if (certs_json(a, id, &cert, &trust, &ans) != 0) {
        return ans;
    }
    json_t *twin = twin_json(a, id, &ans);
    if (twin == NULL) {
        json_decref(cert);
        json_decref(trust);
        return ans;
    }
    json_t *j = device_json(&d);
    if (j == NULL) {
        json_decref(cert);
        json_decref(trust);
        json_decref(twin);
        return ok_answer(NULL);
    }
    int bad = json_object_set_new(j, "certificate", cert);
    bad |= json_object_set_new(j, "trust", trust);
    bad |= json_object_set_new(j, "twin", twin);
    if (bad) {
        json_decref(j);
        return ok_answer(NULL);
    }
    return ok_answer(j);
}

/* ---------------------------------------------------------------- trust -- */

/* What a trust/new message adds around the PEM: the map, two keys, the text's head (up to
 * 5 bytes), the version (up to 9). */
#define TRUST_MSG_OVERHEAD 17

static answer_t put_trust(ternd_api_t *a, const char *id, req_t *r)
{
    if (r->too_big) {
        return error_answer(MHD_HTTP_BAD_REQUEST, "body larger than %u bytes",
                            (unsigned)TERND_API_BODY_MAX);
    }
    if (r->body == NULL || r->len == 0) {
        return error_answer(MHD_HTTP_BAD_REQUEST,
                            "the body must be a trust store: PEM CA certificates");
    }
    char why[300];
    char *pem = NULL;
    size_t pem_len = 0, n = 0;
    if (ternd_ca_trust_check(r->body, r->len, &n, &pem, &pem_len, why, sizeof why) != 0) {
        return error_answer(MHD_HTTP_BAD_REQUEST, "not a trust store: %s", why);
    }
    answer_t ans;
    if (pem_len > TERN_WIRE_CERT_MAX - TRUST_MSG_OVERHEAD) {
        ans = error_answer(MHD_HTTP_BAD_REQUEST,
                           "the trust store's %zu certificates take %zu bytes as PEM; a trust "
                           "update holds at most %u",
                           n, pem_len, (unsigned)(TERN_WIRE_CERT_MAX - TRUST_MSG_OVERHEAD));
        free(pem);
        return ans;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    uint64_t version = 0;
    if (ternd_store_trust_put(a->store, id, pem, pem_len, now, &version) != 0) {
        free(pem);
        return store_failed(a);
    }
    free(pem);
    if (a->hooks.trust_changed != NULL) {
        a->hooks.trust_changed(a->hooks.trust_ctx, id);
    }
    ternd_log("api: %s: trust store version %llu (%zu certificates) stored", id,
              (unsigned long long)version, n);
    return ok_answer(
        json_pack("{s:I, s:I}", "version", (json_int_t)version, "certificates", (json_int_t)n));
}

static answer_t get_twin(ternd_api_t *a, const char *id)
{
    ternd_device_t d;
    answer_t ans;
    if (known_device(a, id, &d, &ans) != 1) {
        return ans;
    }
    json_t *twin = twin_json(a, id, &ans);
    return twin != NULL ? ok_answer(twin) : ans;
}

/* The CBOR text string header's length for @p n bytes. */
static size_t text_head(size_t n)
{
    return n < 24 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5;
}

static void on_desired_size(void *ctx, const ternd_twin_kv_t *kv)
{
    json_t *sizes = ctx;
    if (!kv->deleted) {
        json_object_set_new(sizes, kv->key, json_integer((json_int_t)kv->len));
    }
}

/* A delta's bytes besides its desired keys: {1: version, 2: from, 3: {keys}}, the map heads
 * and two 9-byte integers at most. */
#define DELTA_HEAD (1 + 2 * (1 + 9) + 1 + 9)

/*
 * A device takes twin messages of at most TERN_WIRE_TWIN_MAX bytes, and a device
 * that starts from nothing gets the whole desired state in one delta: refuse a
 * change after which that delta would not fit (it could never be delivered).
 */
static answer_t check_delta_size(ternd_api_t *a, const char *id, const ternd_twin_kv_t *kv,
                                 size_t n, bool *ok)
{
    *ok = false;
    json_t *sizes = json_object();
    if (sizes == NULL) {
        return ok_answer(NULL);
    }
    if (ternd_store_twin_desired(a->store, id, 0, on_desired_size, sizes) != 0) {
        json_decref(sizes);
        return store_failed(a);
    }
    for (size_t i = 0; i < n; i++) {
        if (kv[i].deleted) {
            json_object_del(sizes, kv[i].key);
        } else {
            json_object_set_new(sizes, kv[i].key, json_integer((json_int_t)kv[i].len));
        }
    }
    size_t total = DELTA_HEAD;
    const char *key;
    json_t *v;
    json_object_foreach(sizes, key, v)
    {
        size_t kl = strlen(key);
        total += text_head(kl) + kl + (size_t)json_integer_value(v);
    }
    json_decref(sizes);
    if (total > TERN_WIRE_TWIN_MAX) {
        return error_answer(MHD_HTTP_BAD_REQUEST,
                            "the desired state would take %zu bytes of CBOR; a device takes at "
                            "most %u (TERN_WIRE_TWIN_MAX)",
                            total, (unsigned)TERN_WIRE_TWIN_MAX);
    }
    *ok = true;
    return (answer_t){ 0 };
}

static void free_kvs(ternd_twin_kv_t *kv, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        free((void *)(uintptr_t)kv[k].value);
    }
    free(kv);
}

/*
 * The body of a desired-state PATCH (a JSON object of keys, null deleting one) as
 * keys to change: 0 with *kv_out (free_kvs()) and *n_out, or -1 with *ans the
 * answer (400 with the reason).
 */
static int desired_body(const req_t *r, ternd_twin_kv_t **kv_out, size_t *n_out, answer_t *ans)
{
    *kv_out = NULL;
    *n_out = 0;
    if (r->too_big) {
        *ans = error_answer(MHD_HTTP_BAD_REQUEST, "body larger than %u bytes",
                            (unsigned)TERND_API_BODY_MAX);
        return -1;
    }
    json_error_t jerr;
    json_t *body = json_loadb(r->body != NULL ? r->body : "", r->len,
                              JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (body == NULL) {
        *ans = error_answer(MHD_HTTP_BAD_REQUEST, "invalid JSON: %s (line %d, column %d)",
                            jerr.text, jerr.line, jerr.column);
        return -1;
    }
    if (!json_is_object(body)) {
        json_decref(body);
        *ans = error_answer(MHD_HTTP_BAD_REQUEST, "the body must be a JSON object");
        return -1;
    }
    size_t n = json_object_size(body);
    ternd_twin_kv_t *kv = calloc(n ? n : 1, sizeof *kv);
    if (kv == NULL) {
        json_decref(body);
        *ans = ok_answer(NULL);
        return -1;
    }
    size_t i = 0;
    int rc = 0;
    for (void *it = json_object_iter(body); it != NULL; it = json_object_iter_next(body, it)) {
        const char *key = json_object_iter_key(it);
        size_t kl = json_object_iter_key_len(it);
        json_t *v = json_object_iter_value(it);
        if (kl > TWIN_KEY_MAX) {
            *ans = error_answer(MHD_HTTP_BAD_REQUEST, "key \"%.40s...\" longer than %d bytes", key,
                                TWIN_KEY_MAX);
            rc = -1;
            break;
        }
        if (memchr(key, '\0', kl) != NULL) {
            *ans = error_answer(MHD_HTTP_BAD_REQUEST, "key with a NUL character");
            rc = -1;
            break;
        }
        memcpy(kv[i].key, key, kl);
        kv[i].key[kl] = '\0';
        if (json_is_null(v)) {
            kv[i].deleted = true;
        } else {
            char why[200];
            uint8_t *cbor;
            size_t len;
            if (ternd_json_to_cbor(v, &cbor, &len, why, sizeof why) != 0) {
                *ans = error_answer(MHD_HTTP_BAD_REQUEST, "key \"%s\": %s", kv[i].key, why);
                rc = -1;
                break;
            }
            kv[i].value = cbor;
            kv[i].len = len;
        }
        i++;
    }
    json_decref(body);
    if (rc != 0) {
        free_kvs(kv, n); /* calloc'd: the keys not reached have no value */
        return -1;
    }
    *kv_out = kv;
    *n_out = n;
    return 0;
}

static answer_t patch_desired(ternd_api_t *a, const char *id, req_t *r)
{
    ternd_twin_kv_t *kv;
    size_t n;
    answer_t ans;
    if (desired_body(r, &kv, &n, &ans) != 0) {
        return ans;
    }
    bool ok;
    ans = check_delta_size(a, id, kv, n, &ok);
    if (!ok) {
        goto out;
    }
    uint64_t version;
    if (ternd_store_twin_set_desired(a->store, id, kv, n, &version) != 0) {
        ans = store_failed(a);
        goto out;
    }
    if (a->hooks.twin_changed != NULL) {
        a->hooks.twin_changed(a->hooks.ctx, id);
    }
    ans = ok_answer(json_pack("{s:I}", "desired_version", (json_int_t)version));
out:
    free_kvs(kv, n);
    return ans;
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/*
 * PATCH /v1/fleet/twin/desired: the same change for every device in the
 * registry, each in its next desired version, in one transaction of a few
 * set-wise statements (the store's). Refused, with nothing changed, if any
 * device's desired state would no longer fit in one delta. The MQTT loop is
 * told once; it sweeps the online devices that are behind.
 */
static answer_t patch_fleet_desired(ternd_api_t *a, req_t *r)
{
    ternd_twin_kv_t *kv;
    size_t n;
    answer_t ans;
    if (desired_body(r, &kv, &n, &ans) != 0) {
        return ans;
    }
    ternd_fleet_change_t fc;
    int64_t t0 = mono_ms();
    int rc =
        ternd_store_twin_set_desired_all(a->store, kv, n, TERN_WIRE_TWIN_MAX - DELTA_HEAD, &fc);
    free_kvs(kv, n);
    if (rc < 0) {
        return store_failed(a);
    }
    if (rc == 1) {
        return error_answer(MHD_HTTP_BAD_REQUEST,
                            "the desired state of %s would take %zu bytes of CBOR; a device takes "
                            "at most %u (TERN_WIRE_TWIN_MAX)",
                            fc.largest, fc.largest_bytes + DELTA_HEAD,
                            (unsigned)TERN_WIRE_TWIN_MAX);
    }
    if (fc.devices > 0 && a->hooks.fleet_changed != NULL) {
        a->hooks.fleet_changed(a->hooks.ctx);
    }
    ternd_log("api: fleet change of %zu keys: desired versions %llu..%llu of %llu devices, "
              "stored in %lld ms",
              n, (unsigned long long)fc.version_min, (unsigned long long)fc.version_max,
              (unsigned long long)fc.devices, (long long)(mono_ms() - t0));
    return ok_answer(json_pack("{s:I, s:I, s:I}", "devices", (json_int_t)fc.devices, "version_min",
                               (json_int_t)fc.version_min, "version_max",
                               (json_int_t)fc.version_max));
}

/* GET /v1/fleet/stats: SQL aggregates over the registry and the twins. */
static answer_t get_fleet_stats(ternd_api_t *a)
{
    ternd_fleet_stats_t f;
    if (ternd_store_fleet_stats(a->store, &f) != 0) {
        return store_failed(a);
    }
    return ok_answer(json_pack("{s:I, s:I, s:I, s:{s:I, s:I}}", "devices", (json_int_t)f.devices,
                               "online", (json_int_t)f.online, "messages", (json_int_t)f.messages,
                               "twin", "desired_version_max", (json_int_t)f.desired_version_max,
                               "in_sync", (json_int_t)f.in_sync));
}

/* ----------------------------------------------------------- telemetry -- */

typedef struct read_ctx {
    json_t *arr;
    bool oom;
} read_ctx_t;

/* A number JSON can hold: NaN and the infinities are null. */
static json_t *number(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static void on_reading(void *ctx, const char *device, uint64_t seq, const ternd_reading_t *r)
{
    (void)device;
    read_ctx_t *c = ctx;
    if (c->oom) {
        return;
    }
    json_t *j = json_pack("{s:I, s:s}", "seq", (json_int_t)seq, "n", r->name);
    if (j == NULL) {
        c->oom = true;
        return;
    }
    int bad = 0;
    if (r->unit[0] != '\0') {
        bad |= json_object_set_new(j, "u", json_string(r->unit));
    }
    bad |= json_object_set_new(j, "t", number(r->t));
    switch (r->kind) {
    case TERND_V_NUM:
        bad |= json_object_set_new(j, "v", number(r->v));
        break;
    case TERND_V_BOOL:
        bad |= json_object_set_new(j, "vb", json_boolean(r->vb));
        break;
    case TERND_V_STR:
        bad |= json_object_set_new(j, "vs", json_string(r->vs));
        break;
    case TERND_V_DATA: {
        char *b = ternd_base64_encode(r->vd, r->vd_len, true);
        bad |= json_object_set_new(j, "vd", b != NULL ? json_string(b) : NULL);
        free(b);
        break;
    }
    }
    if (bad || json_array_append_new(c->arr, j) != 0) {
        c->oom = true;
    }
}

static answer_t get_telemetry(ternd_api_t *a, struct MHD_Connection *conn, const char *id)
{
    const char *since_s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
    const char *name = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "name");
    const char *limit_s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
    double since = -INFINITY;
    if (since_s != NULL && since_s[0] != '\0') {
        char *end;
        errno = 0;
        since = strtod(since_s, &end);
        if (*end != '\0' || end == since_s || !isfinite(since)) {
            return error_answer(MHD_HTTP_BAD_REQUEST, "since must be a Unix time in seconds");
        }
    }
    size_t limit = LIMIT_DEFAULT;
    if (limit_s != NULL && limit_s[0] != '\0') {
        unsigned long long l = 0;
        bool ok = true;
        for (const char *p = limit_s; *p != '\0' && ok; p++) {
            ok = *p >= '0' && *p <= '9' && l <= LIMIT_MAX;
            l = l * 10 + (unsigned)(*p - '0');
        }
        if (!ok || l < 1 || l > LIMIT_MAX) {
            return error_answer(MHD_HTTP_BAD_REQUEST, "limit must be 1..%d", LIMIT_MAX);
        }
        limit = (size_t)l;
    }
    if (name != NULL && name[0] == '\0') {
        name = NULL;
    }
    ternd_device_t d;
    answer_t ans;
    if (known_device(a, id, &d, &ans) != 1) {
        return ans;
    }
    read_ctx_t c = { .arr = json_array() };
    if (c.arr == NULL) {
        return ok_answer(NULL);
    }
    if (ternd_store_readings(a->store, id, since, name, limit, on_reading, &c) != 0) {
        json_decref(c.arr);
        return store_failed(a);
    }
    if (c.oom) {
        json_decref(c.arr);
        return ok_answer(NULL);
    }
    return ok_answer(json_pack("{s:o}", "readings", c.arr));
}

/* ------------------------------------------------------------- routing -- */

static bool is_get(const char *m)
{
    return strcmp(m, MHD_HTTP_METHOD_GET) == 0 || strcmp(m, MHD_HTTP_METHOD_HEAD) == 0;
}

static answer_t wrong_method(const char *allow)
{
    answer_t ans = error_answer(MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed (%s)", allow);
    ans.allow = allow;
    return ans;
}

static answer_t route(ternd_api_t *a, struct MHD_Connection *conn, const char *url,
                      const char *method, req_t *r)
{
    if (strcmp(url, "/healthz") == 0) {
        return is_get(method) ? ok_answer(json_pack("{s:b}", "ok", 1)) : wrong_method("GET, HEAD");
    }
    if (strcmp(url, "/v1") != 0 && strncmp(url, "/v1/", 4) != 0) {
        return error_answer(MHD_HTTP_NOT_FOUND, "not found");
    }
    if (!r->authed) {
        answer_t ans = error_answer(MHD_HTTP_UNAUTHORIZED, "unauthorized");
        ans.challenge = true;
        return ans;
    }
    if (strcmp(url, "/v1/fleet/stats") == 0) {
        return is_get(method) ? get_fleet_stats(a) : wrong_method("GET, HEAD");
    }
    if (strcmp(url, "/v1/fleet/twin/desired") == 0) {
        return strcmp(method, MHD_HTTP_METHOD_PATCH) == 0 ? patch_fleet_desired(a, r)
                                                          : wrong_method("PATCH");
    }
    static const char k_devices[] = "/v1/devices";
    if (strncmp(url, k_devices, sizeof k_devices - 1) != 0) {
        return error_answer(MHD_HTTP_NOT_FOUND, "not found");
    }
    const char *rest = url + sizeof k_devices - 1;
    if (rest[0] == '\0') {
        return is_get(method) ? get_devices(a) : wrong_method("GET, HEAD");
    }
    if (rest[0] != '/') {
        return error_answer(MHD_HTTP_NOT_FOUND, "not found");
    }
    rest++;
    const char *slash = strchr(rest, '/');
    size_t id_len = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
    const char *sub = rest + id_len;
    enum { R_DEVICE, R_TWIN, R_DESIRED, R_TELEMETRY, R_TRUST } which;
    if (sub[0] == '\0') {
        which = R_DEVICE;
    } else if (strcmp(sub, "/twin") == 0) {
        which = R_TWIN;
    } else if (strcmp(sub, "/twin/desired") == 0) {
        which = R_DESIRED;
    } else if (strcmp(sub, "/telemetry") == 0) {
        which = R_TELEMETRY;
    } else if (strcmp(sub, "/trust") == 0) {
        which = R_TRUST;
    } else {
        return error_answer(MHD_HTTP_NOT_FOUND, "not found");
    }
    if (which == R_DESIRED ? strcmp(method, MHD_HTTP_METHOD_PATCH) != 0
        : which == R_TRUST ? strcmp(method, MHD_HTTP_METHOD_PUT) != 0
                           : !is_get(method)) {
        return wrong_method(which == R_DESIRED ? "PATCH" : which == R_TRUST ? "PUT" : "GET, HEAD");
    }
    if (!tern_wire_id_ok(rest, id_len)) {
        return error_answer(MHD_HTTP_BAD_REQUEST,
                            "invalid device id (1..%d characters of A-Z a-z 0-9 _ . -)",
                            TERN_WIRE_ID_MAX);
    }
    char id[TERN_WIRE_ID_MAX + 1];
    memcpy(id, rest, id_len);
    id[id_len] = '\0';
    switch (which) {
    case R_DEVICE:
        return get_device(a, id);
    case R_TWIN:
        return get_twin(a, id);
    case R_DESIRED:
        return patch_desired(a, id, r);
    case R_TELEMETRY:
        return get_telemetry(a, conn, id);
    case R_TRUST:
        return put_trust(a, id, r);
    }
    return error_answer(MHD_HTTP_NOT_FOUND, "not found");
}

static enum MHD_Result send_answer(struct MHD_Connection *conn, answer_t ans)
{
    static const char k_oom[] = "{\"error\":\"out of memory\"}\n";
    size_t len = 0;
    char *text = ans.body != NULL ? ternd_json_dump(ans.body, &len) : NULL;
    json_decref(ans.body);
    struct MHD_Response *resp = NULL;
    if (text != NULL) {
        char *t2 = realloc(text, len + 2); /* a line end, for people reading with curl */
        if (t2 != NULL) {
            t2[len++] = '\n';
            t2[len] = '\0';
            text = t2;
        }
        resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        if (resp == NULL) {
            free(text);
        }
    }
    if (resp == NULL) {
        ans.status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        ans.allow = NULL;
        ans.challenge = false;
        resp = MHD_create_response_from_buffer(sizeof k_oom - 1, (void *)(uintptr_t)k_oom,
                                               MHD_RESPMEM_PERSISTENT);
        if (resp == NULL) {
            return MHD_NO;
        }
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (ans.allow != NULL) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, ans.allow);
    }
    if (ans.challenge) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    }
    enum MHD_Result rc = MHD_queue_response(conn, ans.status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)version;
    ternd_api_t *a = cls;
    req_t *r = *con_cls;
    if (r == NULL) { /* the headers are in: check the token before any body is read */
        r = calloc(1, sizeof *r);
        if (r == NULL) {
            return MHD_NO;
        }
        r->authed = token_ok(
            a, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION));
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (!r->authed || r->too_big) {
            return MHD_YES; /* read and dropped: the answer says why */
        }
        if (n > TERND_API_BODY_MAX - r->len) {
            r->too_big = true;
            free(r->body);
            r->body = NULL;
            r->len = 0;
            return MHD_YES;
        }
        char *nb = realloc(r->body, r->len + n + 1);
        if (nb == NULL) {
            return MHD_NO;
        }
        memcpy(nb + r->len, upload, n);
        r->body = nb;
        r->len += n;
        r->body[r->len] = '\0';
        return MHD_YES;
    }
    pthread_mutex_lock(&a->lock);
    answer_t ans = route(a, conn, url, method, r);
    pthread_mutex_unlock(&a->lock);
    return send_answer(conn, ans);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)conn;
    (void)why;
    req_t *r = *con_cls;
    if (r != NULL) {
        free(r->body);
        free(r);
        *con_cls = NULL;
    }
}

/* ---------------------------------------------------------- start, stop -- */

static int write_url(const char *dir, uint16_t port, char *err, size_t cap)
{
    char path[4096], tmp[4096 + 32], text[64];
    if ((size_t)snprintf(path, sizeof path, "%s/api.url", dir) >= sizeof path) {
        return ternd_errf(err, cap, "state directory path too long");
    }
    /* a temporary name of this process's own: two ternd sharing a state directory (and its
     * database) may start at once; the last rename wins, each file whole */
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    int len = snprintf(text, sizeof text, "http://127.0.0.1:%u\n", (unsigned)port);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        return ternd_errf(err, cap, "%s: %s", tmp, strerror(errno));
    }
    bool ok = write(fd, text, (size_t)len) == len;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        ternd_errf(err, cap, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

ternd_api_t *ternd_api_start(const char *state_dir, uint16_t port, const char *db_path,
                             const ternd_api_hooks_t *hooks, char *err, size_t cap)
{
    if (state_dir == NULL || db_path == NULL) {
        ternd_errf(err, cap, "no state directory or database");
        return NULL;
    }
    if (mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
        ternd_errf(err, cap, "%s: %s", state_dir, strerror(errno));
        return NULL;
    }
    ternd_api_t *a = calloc(1, sizeof *a);
    if (a == NULL) {
        ternd_errf(err, cap, "out of memory");
        return NULL;
    }
    if (hooks != NULL) {
        a->hooks = *hooks;
    }
    if (pthread_mutex_init(&a->lock, NULL) != 0) {
        free(a);
        ternd_errf(err, cap, "mutex: %s", strerror(errno));
        return NULL;
    }
    if (token_load(state_dir, a->token, err, cap) != 0) {
        goto fail;
    }
    char serr[512];
    a->store = ternd_store_open_sqlite(db_path, serr, sizeof serr);
    if (a->store == NULL) {
        ternd_errf(err, cap, "api store: %s", serr);
        goto fail;
    }
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    errno = 0;
    a->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, port, NULL, NULL,
                              handle, a, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
                              MHD_OPTION_NOTIFY_COMPLETED, completed, a,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64, MHD_OPTION_END);
    if (a->mhd == NULL) {
        ternd_errf(err, cap, "cannot serve on 127.0.0.1:%u: %s", (unsigned)port,
                   errno != 0 ? strerror(errno) : "libmicrohttpd refused to start");
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL || info->port == 0) {
        ternd_errf(err, cap, "cannot tell which port the API listens on");
        goto fail;
    }
    a->port = info->port;
    if (write_url(state_dir, a->port, err, cap) != 0) {
        goto fail;
    }
    return a;
fail:
    ternd_api_stop(a);
    return NULL;
}

uint16_t ternd_api_port(const ternd_api_t *api)
{
    return api->port;
}

void ternd_api_stop(ternd_api_t *api)
{
    if (api == NULL) {
        return;
    }
    if (api->mhd != NULL) {
        MHD_stop_daemon(api->mhd);
    }
    if (api->store != NULL) {
        ternd_store_close(api->store);
    }
    pthread_mutex_destroy(&api->lock);
    explicit_bzero(api->token, sizeof api->token);
    free(api);
}
