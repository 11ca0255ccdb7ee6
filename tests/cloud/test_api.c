/* SPDX-License-Identifier: Apache-2.0 */
/* ternd's operator API (cloud/ternd/api.h, docs/api.md) over real HTTP on
 * 127.0.0.1: the token file (created 0600, reused, refused when others may read
 * it or it is malformed), api.url, the bearer check, every endpoint's JSON, the
 * PATCH that bumps the desired version and calls the hook, the fleet-wide PATCH
 * (every device its next version, one hook call, refused whole when a device's
 * state would not fit), the fleet's counts, the PUT of a trust store (versions,
 * its hook, refusals), a device's certificate, and each error. */
#define _XOPEN_SOURCE 700 /* nftw, mkdtemp */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "api.h"
#include "cloud_test.h"
#include "store.h"
#include "tern_test.h"

/* ------------------------------------------------------ a tiny client -- */

typedef struct resp {
    int status;
    char headers[2048];
    char *body;
    json_t *json; /* the body parsed, NULL if it is not JSON */
} resp_t;

static void resp_free(resp_t *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

/* One request on a new connection (Connection: close): the whole answer in *r. */
static void http(uint16_t port, const char *method, const char *path, const char *auth,
                 const char *body, size_t body_len, resp_t *r)
{
    memset(r, 0, sizeof *r);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = { .tv_sec = 20 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", method, path);
    if (auth != NULL) {
        n += snprintf(head + n, sizeof head - (size_t)n, "Authorization: %s\r\n", auth);
    }
    if (body != NULL) {
        n += snprintf(head + n, sizeof head - (size_t)n,
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n", body_len);
    }
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    send_all(fd, head, (size_t)n);
    if (body != NULL) {
        send_all(fd, body, body_len);
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        ssize_t got = recv(fd, buf + len, cap - len - 1, 0);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        assert_true(got >= 0);
        if (got == 0) {
            break;
        }
        len += (size_t)got;
    }
    close(fd);
    buf[len] = '\0';
    assert_int_equal(sscanf(buf, "HTTP/1.1 %d", &r->status), 1);
    char *end = strstr(buf, "\r\n\r\n");
    assert_non_null(end);
    size_t hl = (size_t)(end - buf);
    assert_true(hl < sizeof r->headers);
    memcpy(r->headers, buf, hl);
    r->headers[hl] = '\0';
    r->body = strdup(end + 4);
    free(buf);
    r->json = json_loads(r->body, 0, NULL);
}

static void get(uint16_t port, const char *path, const char *auth, resp_t *r)
{
    http(port, "GET", path, auth, NULL, 0, r);
}

/* A JSON answer with @p status and, for errors, an "error" containing @p why. */
static void expect(const resp_t *r, int status, const char *why)
{
    if (r->status != status) {
        fail_msg("status %d, want %d: %s", r->status, status, r->body);
    }
    if (strstr(r->headers, "Content-Type: application/json") == NULL) {
        fail_msg("no JSON content type in\n%s", r->headers);
    }
    if (r->json == NULL) {
        fail_msg("body is not JSON: %s", r->body);
    }
    if (why != NULL) {
        const char *e = json_string_value(json_object_get(r->json, "error"));
        if (e == NULL || strstr(e, why) == NULL) {
            fail_msg("error \"%s\" does not say \"%s\"", e != NULL ? e : "(none)", why);
        }
    }
}

/* ------------------------------------------------------------- fixture -- */

typedef struct hook_log {
    pthread_mutex_t lock;
    int calls;
    char last[65];
    int fleet_calls; /* fleet_changed */
} hook_log_t;

static void twin_changed(void *ctx, const char *id)
{
    hook_log_t *h = ctx;
    pthread_mutex_lock(&h->lock);
    h->calls++;
    snprintf(h->last, sizeof h->last, "%s", id);
    pthread_mutex_unlock(&h->lock);
}

static void fleet_changed(void *ctx)
{
    hook_log_t *h = ctx;
    pthread_mutex_lock(&h->lock);
    h->fleet_calls++;
    pthread_mutex_unlock(&h->lock);
}

static int fleet_calls(hook_log_t *h)
{
    pthread_mutex_lock(&h->lock);
    int n = h->fleet_calls;
    pthread_mutex_unlock(&h->lock);
    return n;
}

static int hook_calls(hook_log_t *h, char *last)
{
    pthread_mutex_lock(&h->lock);
    int n = h->calls;
    if (last != NULL) {
        memcpy(last, h->last, sizeof h->last);
    }
    pthread_mutex_unlock(&h->lock);
    return n;
}

typedef struct fixture {
    char dir[256], db[300], token_path[300], auth[128];
    ternd_api_t *api;
    uint16_t port;
    hook_log_t hook;
    hook_log_t trust_hook;
} fixture_t;

/* A store with dev-1 (online, two messages, three readings, a reported twin) and dev-2. */
static void fill_store(const char *db)
{
    char err[256];
    ternd_store_t *s = ternd_store_open_sqlite(db, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(
        ternd_store_presence(s, "dev-1", true, "1.4.2", "eth0", "eu", true, 0, 1764300000000), 0);
    assert_int_equal(ternd_store_begin(s), 0);
    assert_int_equal(ternd_store_message(s, "dev-1", 40, 1764300001000), 1);
    ternd_reading_t r1 = { .name = "urn:dev:tern:dev-1:temp",
                           .unit = "Cel",
                           .t = 1764300001.0,
                           .kind = TERND_V_NUM,
                           .v = 21.53 };
    ternd_reading_t r2 = { .name = "urn:dev:tern:dev-1:door",
                           .unit = "",
                           .t = 1764300001.0,
                           .kind = TERND_V_BOOL,
                           .vb = false };
    assert_int_equal(ternd_store_reading(s, "dev-1", 40, &r1), 0);
    assert_int_equal(ternd_store_reading(s, "dev-1", 40, &r2), 0);
    assert_int_equal(ternd_store_message(s, "dev-1", 41, 1764300002000), 1);
    static const uint8_t data[] = { 0xfb, 0xff };
    ternd_reading_t r3 = { .name = "urn:dev:tern:dev-1:raw",
                           .unit = "",
                           .t = 1764300002.5,
                           .kind = TERND_V_DATA,
                           .vd = data,
                           .vd_len = 2 };
    ternd_reading_t r4 = { .name = "urn:dev:tern:dev-1:temp",
                           .unit = "Cel",
                           .t = 1764300003.0,
                           .kind = TERND_V_NUM,
                           .v = 21.75 };
    ternd_reading_t r5 = { .name = "urn:dev:tern:dev-1:state",
                           .unit = "",
                           .t = 1764300004.0,
                           .kind = TERND_V_STR,
                           .vs = "idle" };
    assert_int_equal(ternd_store_reading(s, "dev-1", 41, &r3), 0);
    assert_int_equal(ternd_store_reading(s, "dev-1", 41, &r4), 0);
    assert_int_equal(ternd_store_reading(s, "dev-1", 41, &r5), 0);
    assert_int_equal(ternd_store_commit(s), 0);
    /* reported {temp_offset: 0.5, blob: h'01'} at version 7 */
    ternd_twin_kv_t kv[2];
    memset(kv, 0, sizeof kv);
    strcpy(kv[0].key, "temp_offset");
    kv[0].value = (const uint8_t *)"\xf9\x38\x00";
    kv[0].len = 3;
    strcpy(kv[1].key, "blob");
    kv[1].value = (const uint8_t *)"\x41\x01";
    kv[1].len = 2;
    assert_int_equal(ternd_store_twin_report(s, "dev-1", 7, 0, true, kv, 2), 1);
    assert_int_equal(ternd_store_seen(s, "dev-2", 1764300500000), 0);
    ternd_store_close(s);
}

static void start(fixture_t *f)
{
    char err[256] = "";
    ternd_api_hooks_t hooks = { .ctx = &f->hook,
                                .twin_changed = twin_changed,
                                .fleet_changed = fleet_changed,
                                .trust_ctx = &f->trust_hook,
                                .trust_changed = twin_changed };
    f->api = ternd_api_start(f->dir, 0, f->db, &hooks, err, sizeof err);
    if (f->api == NULL) {
        fail_msg("start: %s", err);
    }
    f->port = ternd_api_port(f->api);
    assert_true(f->port != 0);
    FILE *fp = fopen(f->token_path, "r");
    assert_non_null(fp);
    char tok[80] = "";
    assert_non_null(fgets(tok, sizeof tok, fp));
    fclose(fp);
    snprintf(f->auth, sizeof f->auth, "Bearer %s", tok);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (f == NULL || cloud_test_tmpdir(f->dir, sizeof f->dir, "api") == NULL) {
        free(f);
        return -1;
    }
    pthread_mutex_init(&f->hook.lock, NULL);
    pthread_mutex_init(&f->trust_hook.lock, NULL);
    snprintf(f->db, sizeof f->db, "%s/ternd.db", f->dir);
    snprintf(f->token_path, sizeof f->token_path, "%s/token", f->dir);
    fill_store(f->db);
    start(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    ternd_api_stop(f->api);
    pthread_mutex_destroy(&f->hook.lock);
    pthread_mutex_destroy(&f->trust_hook.lock);
    cloud_test_rmdir(f->dir);
    free(f);
    return 0;
}

/* --------------------------------------------------------------- tests -- */

static void test_token_and_url_files(void **state)
{
    fixture_t *f = *state;
    struct stat st;
    assert_int_equal(stat(f->token_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 64);
    const char *tok = f->auth + 7;
    assert_int_equal(strlen(tok), 64);
    for (size_t i = 0; i < 64; i++) {
        assert_non_null(strchr("0123456789abcdef", tok[i]));
    }
    char path[300], url[64], want[64];
    snprintf(path, sizeof path, "%s/api.url", f->dir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = fread(url, 1, sizeof url - 1, fp);
    fclose(fp);
    url[n] = '\0';
    snprintf(want, sizeof want, "http://127.0.0.1:%u\n", (unsigned)f->port);
    assert_string_equal(url, want);

    /* a restart keeps the token and writes the new port */
    char old_auth[128];
    strcpy(old_auth, f->auth);
    ternd_api_stop(f->api);
    start(f);
    assert_string_equal(f->auth, old_auth);
    fp = fopen(path, "r");
    assert_non_null(fp);
    n = fread(url, 1, sizeof url - 1, fp);
    fclose(fp);
    url[n] = '\0';
    snprintf(want, sizeof want, "http://127.0.0.1:%u\n", (unsigned)f->port);
    assert_string_equal(url, want);
    resp_t r;
    get(f->port, "/v1/devices", f->auth, &r);
    expect(&r, 200, NULL);
    resp_free(&r);
}

static void test_token_file_refused(void **state)
{
    fixture_t *f = *state;
    ternd_api_stop(f->api);
    f->api = NULL;
    char err[256] = "";
    /* readable by the group: refused, saying why */
    assert_int_equal(chmod(f->token_path, 0640), 0);
    ternd_api_t *a = ternd_api_start(f->dir, 0, f->db, NULL, err, sizeof err);
    assert_null(a);
    assert_non_null(strstr(err, "mode 0640"));
    /* not 64 hex characters */
    assert_int_equal(chmod(f->token_path, 0600), 0);
    FILE *fp = fopen(f->token_path, "w");
    assert_non_null(fp);
    fputs("not-a-token\n", fp);
    fclose(fp);
    a = ternd_api_start(f->dir, 0, f->db, NULL, err, sizeof err);
    assert_null(a);
    assert_non_null(strstr(err, "64 hex"));
    /* deleted: a new one is made */
    assert_int_equal(unlink(f->token_path), 0);
    start(f);
    /* a store that cannot be opened is refused too */
    char bad_db[400];
    snprintf(bad_db, sizeof bad_db, "%s/no/such/dir/x.db", f->dir);
    char dir2[300];
    snprintf(dir2, sizeof dir2, "%s/second", f->dir);
    a = ternd_api_start(dir2, 0, bad_db, NULL, err, sizeof err);
    assert_null(a);
    assert_non_null(strstr(err, "store"));
}

static void test_auth(void **state)
{
    fixture_t *f = *state;
    resp_t r;
    get(f->port, "/healthz", NULL, &r); /* no token needed */
    expect(&r, 200, NULL);
    assert_true(json_is_true(json_object_get(r.json, "ok")));
    resp_free(&r);

    get(f->port, "/v1/devices", NULL, &r);
    expect(&r, 401, "unauthorized");
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "unauthorized");
    assert_non_null(strstr(r.headers, "WWW-Authenticate: Bearer"));
    resp_free(&r);

    char wrong[128];
    strcpy(wrong, f->auth);
    wrong[strlen(wrong) - 1] = wrong[strlen(wrong) - 1] == '0' ? '1' : '0'; /* last char off */
    get(f->port, "/v1/devices", wrong, &r);
    expect(&r, 401, "unauthorized");
    resp_free(&r);
    wrong[strlen(wrong) - 1] = '\0'; /* a prefix of the token */
    get(f->port, "/v1/devices", wrong, &r);
    expect(&r, 401, "unauthorized");
    resp_free(&r);
    char longer[160];
    snprintf(longer, sizeof longer, "%s0", f->auth);
    get(f->port, "/v1/devices", longer, &r);
    expect(&r, 401, "unauthorized");
    resp_free(&r);
    get(f->port, "/v1/devices", f->auth + 7, &r); /* the token without "Bearer" */
    expect(&r, 401, "unauthorized");
    resp_free(&r);
    get(f->port, "/v1/devices/nope/twin", NULL, &r); /* even unknown paths under /v1 */
    expect(&r, 401, "unauthorized");
    resp_free(&r);

    /* a PATCH without the token changes nothing */
    http(f->port, "PATCH", "/v1/devices/dev-1/twin/desired", NULL, "{\"a\":1}", 7, &r);
    expect(&r, 401, "unauthorized");
    resp_free(&r);
    assert_int_equal(hook_calls(&f->hook, NULL), 0);

    get(f->port, "/v1/devices", f->auth, &r);
    expect(&r, 200, NULL);
    resp_free(&r);
    char lower[128];
    snprintf(lower, sizeof lower, "bearer %s", f->auth + 7); /* the scheme is case-blind */
    get(f->port, "/v1/devices", lower, &r);
    expect(&r, 200, NULL);
    resp_free(&r);
}

static void test_devices(void **state)
{
    fixture_t *f = *state;
    resp_t r;
    get(f->port, "/v1/devices", f->auth, &r);
    expect(&r, 200, NULL);
    json_t *devs = json_object_get(r.json, "devices");
    assert_int_equal(json_array_size(devs), 2);
    json_t *d = json_array_get(devs, 0);
    assert_string_equal(json_string_value(json_object_get(d, "id")), "dev-1");
    assert_true(json_is_true(json_object_get(d, "online")));
    assert_int_equal(json_integer_value(json_object_get(d, "first_seen_ms")), 1764300000000);
    assert_string_equal(json_string_value(json_object_get(d, "fw")), "1.4.2");
    assert_string_equal(json_string_value(json_object_get(d, "link")), "eth0");
    assert_string_equal(json_string_value(json_object_get(d, "region")), "eu");
    assert_int_equal(json_integer_value(json_object_get(d, "epoch")), 0);
    assert_int_equal(json_integer_value(json_object_get(d, "max_seq")), 41);
    assert_int_equal(json_integer_value(json_object_get(d, "messages")), 2);
    assert_int_equal(json_integer_value(json_object_get(d, "readings")), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(devs, 1), "id")), "dev-2");
    resp_free(&r);

    get(f->port, "/v1/devices/dev-1", f->auth, &r);
    expect(&r, 200, NULL);
    assert_string_equal(json_string_value(json_object_get(r.json, "id")), "dev-1");
    json_t *twin = json_object_get(r.json, "twin");
    assert_non_null(twin);
    assert_int_equal(json_integer_value(json_object_get(twin, "reported_version")), 7);
    resp_free(&r);

    get(f->port, "/v1/devices/nope", f->auth, &r);
    expect(&r, 404, "no such device");
    resp_free(&r);
    get(f->port, "/v1/devices/nope/twin", f->auth, &r);
    expect(&r, 404, "no such device");
    resp_free(&r);
    get(f->port, "/v1/devices/nope/telemetry", f->auth, &r);
    expect(&r, 404, "no such device");
    resp_free(&r);
    get(f->port, "/v1/devices/bad%2Bid", f->auth, &r); /* "bad+id" */
    expect(&r, 400, "invalid device id");
    resp_free(&r);
    get(f->port, "/v1/devices/dev-1/unknown", f->auth, &r);
    expect(&r, 404, "not found");
    resp_free(&r);
    get(f->port, "/v1/nothing", f->auth, &r);
    expect(&r, 404, "not found");
    resp_free(&r);
    get(f->port, "/nothing", NULL, &r);
    expect(&r, 404, "not found");
    resp_free(&r);
    http(f->port, "POST", "/v1/devices", f->auth, "{}", 2, &r);
    expect(&r, 405, "not allowed");
    assert_non_null(strstr(r.headers, "Allow: GET"));
    resp_free(&r);
    get(f->port, "/v1/devices/dev-1/twin/desired", f->auth, &r);
    expect(&r, 405, "not allowed");
    resp_free(&r);
}

static void test_twin_and_patch(void **state)
{
    fixture_t *f = *state;
    resp_t r;
    get(f->port, "/v1/devices/dev-1/twin", f->auth, &r);
    expect(&r, 200, NULL);
    char *text = json_dumps(r.json, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"applied_version\":0,\"desired\":{},\"desired_version\":0,"
                              "\"in_sync\":true,\"reported\":{\"blob\":{\"$bytes\":\"AQ==\"},"
                              "\"temp_offset\":0.5},\"reported_version\":7}");
    free(text);
    resp_free(&r);

    const char *body = "{\"interval\": 60, \"led\": \"on\", \"cfg\": {\"k\": [1, 2.5, true]}}";
    http(f->port, "PATCH", "/v1/devices/dev-1/twin/desired", f->auth, body, strlen(body), &r);
    expect(&r, 200, NULL);
    assert_int_equal(json_integer_value(json_object_get(r.json, "desired_version")), 1);
    resp_free(&r);
    char last[65];
    assert_int_equal(hook_calls(&f->hook, last), 1);
    assert_string_equal(last, "dev-1");

    body = "{\"led\": null, \"raw\": {\"$bytes\": \"AQID\"}}";
    http(f->port, "PATCH", "/v1/devices/dev-1/twin/desired", f->auth, body, strlen(body), &r);
    expect(&r, 200, NULL);
    assert_int_equal(json_integer_value(json_object_get(r.json, "desired_version")), 2);
    resp_free(&r);
    assert_int_equal(hook_calls(&f->hook, NULL), 2);

    get(f->port, "/v1/devices/dev-1/twin", f->auth, &r);
    expect(&r, 200, NULL);
    text = json_dumps(json_object_get(r.json, "desired"), JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(
        text, "{\"cfg\":{\"k\":[1,2.5,true]},\"interval\":60,\"raw\":{\"$bytes\":\"AQID\"}}");
    free(text);
    assert_int_equal(json_integer_value(json_object_get(r.json, "desired_version")), 2);
    assert_false(json_is_true(json_object_get(r.json, "in_sync")));
    resp_free(&r);

    /* the store the MQTT side reads has the CBOR */
    char err[256];
    ternd_store_t *s = ternd_store_open_sqlite(f->db, err, sizeof err);
    assert_non_null(s);
    uint64_t dv, rv, av;
    assert_int_equal(ternd_store_twin_versions(s, "dev-1", &dv, &rv, &av), 0);
    assert_int_equal(dv, 2);
    ternd_store_close(s);

    /* refusals: nothing stored, no hook */
    static const struct {
        const char *body, *why;
    } bad[] = {
        { "{not json", "invalid JSON" },
        { "[1, 2]", "JSON object" },
        { "42", "JSON object" },
        { "", "invalid JSON" },
        { "{\"a\": 1, \"a\": 2}", "invalid JSON" },
        { "{\"b\": {\"$bytes\": \"***\"}}", "base64" },
        { "{\"d\": [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}", "deeper" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http(f->port, "PATCH", "/v1/devices/dev-1/twin/desired", f->auth, bad[i].body,
             strlen(bad[i].body), &r);
        expect(&r, 400, bad[i].why);
        resp_free(&r);
    }
    char key_body[300];
    char key[130];
    memset(key, 'k', 129);
    key[129] = '\0';
    snprintf(key_body, sizeof key_body, "{\"%s\": 1}", key);
    http(f->port, "PATCH", "/v1/devices/dev-1/twin/desired", f->auth, key_body, strlen(key_body),
         &r);
    expect(&r, 400, "longer than 128");
    resp_free(&r);
    /* a desired state a device could not take in one message */
    char *big = malloc(8000);
    assert_non_null(big);
    memset(big, 'x', 8000);
    memcpy(big, "{\"big\": \"", 9);
    memcpy(big + 7990, "\"}", 3);
    http(f->port, "PATCH", "/v1/devices/dev-1/twin/desired", f->auth, big, strlen(big), &r);
    expect(&r, 400, "TERN_WIRE_TWIN_MAX");
    resp_free(&r);
    free(big);
    /* a body over 64 KiB */
    size_t huge_len = TERND_API_BODY_MAX + 100;
    char *huge = malloc(huge_len);
    assert_non_null(huge);
    memset(huge, ' ', huge_len);
    huge[0] = '{';
    huge[huge_len - 1] = '}';
    http(f->port, "PATCH", "/v1/devices/dev-1/twin/desired", f->auth, huge, huge_len, &r);
    expect(&r, 400, "larger than");
    resp_free(&r);
    free(huge);
    assert_int_equal(hook_calls(&f->hook, NULL), 2);
    get(f->port, "/v1/devices/dev-1/twin", f->auth, &r);
    assert_int_equal(json_integer_value(json_object_get(r.json, "desired_version")), 2);
    resp_free(&r);

    /* a device not seen yet can be given its desired state ahead of its first connect */
    body = "{\"interval\": 10}";
    http(f->port, "PATCH", "/v1/devices/dev-new/twin/desired", f->auth, body, strlen(body), &r);
    expect(&r, 200, NULL);
    assert_int_equal(json_integer_value(json_object_get(r.json, "desired_version")), 1);
    resp_free(&r);
    assert_int_equal(hook_calls(&f->hook, last), 3);
    assert_string_equal(last, "dev-new");
    get(f->port, "/v1/devices/dev-new", f->auth, &r);
    expect(&r, 200, NULL);
    assert_int_equal(json_integer_value(json_object_get(r.json, "first_seen_ms")), 0);
    assert_false(json_is_true(json_object_get(r.json, "online")));
    resp_free(&r);
}

static json_int_t jint(json_t *obj, const char *path)
{
    json_t *v = obj;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *k = strtok(buf, "."); k != NULL; k = strtok(NULL, ".")) {
        v = json_object_get(v, k);
    }
    if (!json_is_integer(v)) {
        fail_msg("%s is not an integer", path);
    }
    return json_integer_value(v);
}

static void test_fleet(void **state)
{
    fixture_t *f = *state;
    resp_t r;
    /* the counts: dev-1 online with 2 messages, dev-2 seen; no twin: both in sync at 0 */
    get(f->port, "/v1/fleet/stats", f->auth, &r);
    expect(&r, 200, NULL);
    char *text = json_dumps(r.json, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"devices\":2,\"messages\":2,\"online\":1,"
                              "\"twin\":{\"desired_version_max\":0,\"in_sync\":2}}");
    free(text);
    resp_free(&r);

    /* dev-1 at desired version 1 first: the fleet change gives each device its next one */
    const char *body = "{\"a\": 1}";
    http(f->port, "PATCH", "/v1/devices/dev-1/twin/desired", f->auth, body, strlen(body), &r);
    expect(&r, 200, NULL);
    resp_free(&r);
    assert_int_equal(hook_calls(&f->hook, NULL), 1);
    body = "{\"interval\": 60, \"led\": \"on\", \"a\": null}";
    http(f->port, "PATCH", "/v1/fleet/twin/desired", f->auth, body, strlen(body), &r);
    expect(&r, 200, NULL);
    text = json_dumps(r.json, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"devices\":2,\"version_max\":2,\"version_min\":1}");
    free(text);
    resp_free(&r);
    assert_int_equal(fleet_calls(&f->hook), 1);      /* once for the fleet, */
    assert_int_equal(hook_calls(&f->hook, NULL), 1); /* not once per device */
    for (int i = 1; i <= 2; i++) {
        char path[64];
        snprintf(path, sizeof path, "/v1/devices/dev-%d/twin", i);
        get(f->port, path, f->auth, &r);
        expect(&r, 200, NULL);
        text = json_dumps(json_object_get(r.json, "desired"), JSON_COMPACT | JSON_SORT_KEYS);
        assert_string_equal(text, "{\"interval\":60,\"led\":\"on\"}");
        free(text);
        assert_int_equal(jint(r.json, "desired_version"), i == 1 ? 2 : 1);
        assert_false(json_is_true(json_object_get(r.json, "in_sync")));
        resp_free(&r);
    }
    get(f->port, "/v1/fleet/stats", f->auth, &r);
    expect(&r, 200, NULL);
    assert_int_equal(jint(r.json, "devices"), 2);
    assert_int_equal(jint(r.json, "twin.desired_version_max"), 2);
    assert_int_equal(jint(r.json, "twin.in_sync"), 0);
    resp_free(&r);
    /* a device that says it applied its version is in sync */
    char err[256];
    ternd_store_t *s = ternd_store_open_sqlite(f->db, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(ternd_store_twin_report(s, "dev-2", 1, 1, false, NULL, 0), 1);
    ternd_store_close(s);
    get(f->port, "/v1/fleet/stats", f->auth, &r);
    expect(&r, 200, NULL);
    assert_int_equal(jint(r.json, "twin.in_sync"), 1);
    resp_free(&r);

    /* refused whole if one device's desired state would not fit in a delta: dev-1 holds a
     * 3000-byte value, so 2000 more would not fit there (it would on dev-2) */
    char *big = malloc(4000);
    assert_non_null(big);
    snprintf(big, 4000, "{\"blob\": \"%03000d\"}", 0);
    http(f->port, "PATCH", "/v1/devices/dev-1/twin/desired", f->auth, big, strlen(big), &r);
    expect(&r, 200, NULL);
    assert_int_equal(jint(r.json, "desired_version"), 3);
    resp_free(&r);
    snprintf(big, 4000, "{\"more\": \"%02000d\"}", 0);
    http(f->port, "PATCH", "/v1/fleet/twin/desired", f->auth, big, strlen(big), &r);
    expect(&r, 400, "the desired state of dev-1 would take");
    expect(&r, 400, "TERN_WIRE_TWIN_MAX");
    resp_free(&r);
    /* replacing the big value in the same change makes it fit */
    snprintf(big, 4000, "{\"more\": \"%02000d\", \"blob\": null}", 0);
    http(f->port, "PATCH", "/v1/fleet/twin/desired", f->auth, big, strlen(big), &r);
    expect(&r, 200, NULL);
    assert_int_equal(jint(r.json, "version_min"), 2);
    assert_int_equal(jint(r.json, "version_max"), 4);
    resp_free(&r);
    free(big);
    assert_int_equal(fleet_calls(&f->hook), 2);

    /* refusals: nothing changed, no hook */
    static const struct {
        const char *body, *why;
    } bad[] = {
        { "{not json", "invalid JSON" },
        { "[1]", "JSON object" },
        { "{\"b\": {\"$bytes\": \"***\"}}", "base64" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http(f->port, "PATCH", "/v1/fleet/twin/desired", f->auth, bad[i].body, strlen(bad[i].body),
             &r);
        expect(&r, 400, bad[i].why);
        resp_free(&r);
    }
    http(f->port, "PATCH", "/v1/fleet/twin/desired", NULL, "{\"a\":1}", 7, &r);
    expect(&r, 401, "unauthorized");
    resp_free(&r);
    get(f->port, "/v1/fleet/stats", NULL, &r);
    expect(&r, 401, "unauthorized");
    resp_free(&r);
    get(f->port, "/v1/fleet/twin/desired", f->auth, &r);
    expect(&r, 405, "not allowed");
    assert_non_null(strstr(r.headers, "Allow: PATCH"));
    resp_free(&r);
    http(f->port, "POST", "/v1/fleet/stats", f->auth, "{}", 2, &r);
    expect(&r, 405, "not allowed");
    assert_non_null(strstr(r.headers, "Allow: GET"));
    resp_free(&r);
    get(f->port, "/v1/fleet", f->auth, &r);
    expect(&r, 404, "not found");
    resp_free(&r);
    get(f->port, "/v1/fleet/twin", f->auth, &r);
    expect(&r, 404, "not found");
    resp_free(&r);
    assert_int_equal(fleet_calls(&f->hook), 2);
    get(f->port, "/v1/fleet/stats", f->auth, &r);
    assert_int_equal(jint(r.json, "twin.desired_version_max"), 4);
    resp_free(&r);
}

/* A fleet change on an empty registry changes nothing and tells no one. */
static void test_fleet_empty(void **state)
{
    fixture_t *f = *state;
    ternd_api_stop(f->api);
    f->api = NULL;
    assert_int_equal(unlink(f->db), 0);
    start(f);
    resp_t r;
    const char *body = "{\"interval\": 60}";
    http(f->port, "PATCH", "/v1/fleet/twin/desired", f->auth, body, strlen(body), &r);
    expect(&r, 200, NULL);
    char *text = json_dumps(r.json, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"devices\":0,\"version_max\":0,\"version_min\":0}");
    free(text);
    resp_free(&r);
    assert_int_equal(fleet_calls(&f->hook), 0);
    get(f->port, "/v1/fleet/stats", f->auth, &r);
    expect(&r, 200, NULL);
    text = json_dumps(r.json, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"devices\":0,\"messages\":0,\"online\":0,"
                              "\"twin\":{\"desired_version_max\":0,\"in_sync\":0}}");
    free(text);
    resp_free(&r);
}

static void test_telemetry(void **state)
{
    fixture_t *f = *state;
    resp_t r;
    get(f->port, "/v1/devices/dev-1/telemetry", f->auth, &r);
    expect(&r, 200, NULL);
    json_t *rs = json_object_get(r.json, "readings");
    assert_int_equal(json_array_size(rs), 5);
    /* printed as short as it reads back */
    assert_non_null(strstr(r.body, "{\"seq\":40,\"n\":\"urn:dev:tern:dev-1:temp\",\"u\":\"Cel\","
                                   "\"t\":1764300001.0,\"v\":21.53}"));
    assert_non_null(strstr(r.body, "{\"seq\":40,\"n\":\"urn:dev:tern:dev-1:door\","
                                   "\"t\":1764300001.0,\"vb\":false}"));
    assert_non_null(strstr(r.body, "\"vd\":\"-_8\""));
    assert_non_null(strstr(r.body, "\"vs\":\"idle\""));
    resp_free(&r);

    get(f->port, "/v1/devices/dev-1/telemetry?name=urn:dev:tern:dev-1:temp", f->auth, &r);
    expect(&r, 200, NULL);
    rs = json_object_get(r.json, "readings");
    assert_int_equal(json_array_size(rs), 2);
    assert_true(json_real_value(json_object_get(json_array_get(rs, 1), "v")) == 21.75);
    resp_free(&r);

    get(f->port, "/v1/devices/dev-1/telemetry?since=1764300002.5&limit=2", f->auth, &r);
    expect(&r, 200, NULL);
    rs = json_object_get(r.json, "readings");
    assert_int_equal(json_array_size(rs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rs, 0), "n")),
                        "urn:dev:tern:dev-1:raw");
    resp_free(&r);

    get(f->port, "/v1/devices/dev-1/telemetry?limit=1", f->auth, &r);
    expect(&r, 200, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "readings")), 1);
    resp_free(&r);

    get(f->port, "/v1/devices/dev-2/telemetry", f->auth, &r);
    expect(&r, 200, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "readings")), 0);
    resp_free(&r);

    static const char *const bad[] = { "?limit=0",   "?limit=100001", "?limit=x", "?limit=-1",
                                       "?since=abc", "?since=1e999",  "?since=1x" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "/v1/devices/dev-1/telemetry%s", bad[i]);
        get(f->port, path, f->auth, &r);
        expect(&r, 400, bad[i][1] == 'l' ? "limit" : "since");
        resp_free(&r);
    }
}

/* A CA certificate and one that is not a CA (openssl, P-256; validity does not matter). */
static const char k_ca_pem[] = "-----BEGIN CERTIFICATE-----\n"
                               "MIIBmzCCAUGgAwIBAgIUf3fKmrOGXXBausOtTycsAkDIQJgwCgYIKoZIzj0EAwIw\n"
                               "GzEZMBcGA1UEAwwQdGVybiBhcGkgdGVzdCBDQTAeFw0yNjExMjgwNDEyMjdaFw0z\n"
                               "NjExMjUwNDEyMjdaMBsxGTAXBgNVBAMMEHRlcm4gYXBpIHRlc3QgQ0EwWTATBgcq\n"
                               "hkjOPQIBBggqhkjOPQMBBwNCAARUXsRzlYk63BWr46RObPjAemL6G48sJO+CIMyT\n"
                               "gR7MCAX2ajPdiFNJ332S96HTUfLfcRoLGFqFbVNnvOrnyZ8ao2MwYTAdBgNVHQ4E\n"
                               "FgQUOoeDpjT/KJx6oSNRbUcc2TAADrQwHwYDVR0jBBgwFoAUOoeDpjT/KJx6oSNR\n"
                               "bUcc2TAADrQwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAgQwCgYIKoZI\n"
                               "zj0EAwIDSAAwRQIgN0y05GTTQwSh9uA5pRWWXVPvbLYUwbFzUFvzb1fnJxwCIQDa\n"
                               "KVGZmH+XxqZlPbYuq2/Y0htlI6qgpzhCsQC2K7gVXw==\n"
                               "-----END CERTIFICATE-----\n";
static const char k_leaf_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBdzCCAR6gAwIBAgIUHFbNqLCQMTD/G7CNmK0QvTqKr30wCgYIKoZIzj0EAwIw\n"
    "EzERMA8GA1UEAwwIbm90IGEgQ0EwHhcNMjYxMTI4MDQxMjI3WhcNMzYxMTI1MDQx\n"
    "MjI3WjATMREwDwYDVQQDDAhub3QgYSBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEH\n"
    "A0IABPjlHXLYhKyX4jQNaW36i38A0s4TVIzW78U3sCnEJNP6cdiR1HlaQvRDechu\n"
    "k2Zluuu6ZGfWbbe4uaQY/tWAjjCjUDBOMB0GA1UdDgQWBBQtbzr52SKiUhYFEPnO\n"
    "NZMXh2mlSzAfBgNVHSMEGDAWgBQtbzr52SKiUhYFEPnONZMXh2mlSzAMBgNVHRMB\n"
    "Af8EAjAAMAoGCCqGSM49BAMCA0cAMEQCIBte7LsdOgJcu8IiVfqwns52nEEDYS6t\n"
    "G0sxDfSsV8+lAiAI9jTfUxsKY013hpSu+OsHdj3nQ/ZF5iGjhqWTUsOA+w==\n"
    "-----END CERTIFICATE-----\n";

static void test_trust_and_certificate(void **state)
{
    fixture_t *f = *state;
    resp_t r;
    /* no certificate, no trust store yet */
    get(f->port, "/v1/devices/dev-1", f->auth, &r);
    expect(&r, 200, NULL);
    assert_true(json_is_null(json_object_get(r.json, "certificate")));
    assert_true(json_is_null(json_object_get(r.json, "trust")));
    resp_free(&r);

    /* without the token: nothing */
    http(f->port, "PUT", "/v1/devices/dev-1/trust", NULL, k_ca_pem, strlen(k_ca_pem), &r);
    expect(&r, 401, "unauthorized");
    resp_free(&r);
    /* versions 1, 2, each announced to the MQTT side */
    for (int v = 1; v <= 2; v++) {
        http(f->port, "PUT", "/v1/devices/dev-1/trust", f->auth, k_ca_pem, strlen(k_ca_pem), &r);
        expect(&r, 200, NULL);
        assert_int_equal(json_integer_value(json_object_get(r.json, "version")), v);
        assert_int_equal(json_integer_value(json_object_get(r.json, "certificates")), 1);
        resp_free(&r);
        char last[65];
        assert_int_equal(hook_calls(&f->trust_hook, last), v);
        assert_string_equal(last, "dev-1");
    }
    assert_int_equal(hook_calls(&f->hook, NULL), 0); /* not the twin's hook */
    /* refusals: nothing stored, no hook */
    static const struct {
        const char *body, *why;
    } bad[] = {
        { "", "trust store" },
        { "hello", "no PEM certificate" },
        { "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "parse" },
        { k_leaf_pem, "not a CA certificate" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http(f->port, "PUT", "/v1/devices/dev-1/trust", f->auth, bad[i].body, strlen(bad[i].body),
             &r);
        expect(&r, 400, bad[i].why);
        resp_free(&r);
    }
    /* more certificates than a trust update holds (TERN_WIRE_CERT_MAX) */
    size_t one = strlen(k_ca_pem), many = 14;
    char *big = malloc(one * many + 1);
    assert_non_null(big);
    for (size_t i = 0; i < many; i++) {
        memcpy(big + i * one, k_ca_pem, one);
    }
    big[one * many] = '\0';
    http(f->port, "PUT", "/v1/devices/dev-1/trust", f->auth, big, strlen(big), &r);
    expect(&r, 400, "a trust update holds at most");
    resp_free(&r);
    free(big);
    assert_int_equal(hook_calls(&f->trust_hook, NULL), 2);
    http(f->port, "GET", "/v1/devices/dev-1/trust", f->auth, NULL, 0, &r);
    expect(&r, 405, "not allowed");
    assert_non_null(strstr(r.headers, "Allow: PUT"));
    resp_free(&r);
    http(f->port, "PUT", "/v1/devices/bad%2Bid/trust", f->auth, k_ca_pem, strlen(k_ca_pem), &r);
    expect(&r, 400, "invalid device id");
    resp_free(&r);

    /* the store has it, as ternd publishes it */
    char err[256];
    ternd_store_t *s = ternd_store_open_sqlite(f->db, err, sizeof err);
    assert_non_null(s);
    ternd_trust_row_t t;
    assert_int_equal(ternd_store_trust_latest(s, "dev-1", &t), 1);
    assert_int_equal(t.version, 2);
    assert_string_equal(t.pem, k_ca_pem);
    /* and a certificate issued to the device shows in GET */
    ternd_cert_row_t c = { .device = "dev-1",
                           .request = 3,
                           .key_id = "00ff",
                           .serial = "4a5b",
                           .not_before = 1764300000,
                           .not_after = 1772076000,
                           .issued_ms = 1764300060000,
                           .chain = k_ca_pem,
                           .chain_len = strlen(k_ca_pem) };
    assert_int_equal(ternd_store_cert_put(s, &c), 0);
    ternd_store_close(s);
    get(f->port, "/v1/devices/dev-1", f->auth, &r);
    expect(&r, 200, NULL);
    char *text = json_dumps(json_object_get(r.json, "certificate"), JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"issued_ms\":1764300060000,\"not_after_ms\":1772076000000,"
                              "\"not_before_ms\":1764300000000,\"published\":false,"
                              "\"request\":3,\"serial\":\"4a5b\"}");
    free(text);
    json_t *trust = json_object_get(r.json, "trust");
    assert_int_equal(json_integer_value(json_object_get(trust, "version")), 2);
    assert_false(json_is_true(json_object_get(trust, "published")));
    resp_free(&r);

    /* a device not seen yet can be given its trust store ahead of its first connect */
    http(f->port, "PUT", "/v1/devices/dev-new/trust", f->auth, k_ca_pem, strlen(k_ca_pem), &r);
    expect(&r, 200, NULL);
    assert_int_equal(json_integer_value(json_object_get(r.json, "version")), 1);
    resp_free(&r);
    get(f->port, "/v1/devices/dev-new", f->auth, &r);
    expect(&r, 200, NULL);
    resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_token_and_url_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_file_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_twin_and_patch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fleet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fleet_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_telemetry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trust_and_certificate, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
