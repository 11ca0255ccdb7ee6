/* SPDX-License-Identifier: Apache-2.0 */
/* ternd's SQLite store (cloud/ternd/store.h): the registry and its epochs, telemetry
 * stored once per (device, epoch, seq), readings queries, the twin's versions and
 * stale-report rule, fleet-wide desired changes, the devices behind and the fleet's
 * counts, transactions, and everything still there after a reopen. */
#define _XOPEN_SOURCE 700 /* nftw, mkdtemp */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cloud_test.h"
#include "store.h"
#include "tern_test.h"

typedef struct fixture {
    char dir[256];
    char db[300];
    ternd_store_t *s;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return -1;
    }
    f->s = cloud_test_store_open(f->dir, sizeof f->dir, f->db, sizeof f->db, "store");
    if (f->s == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    cloud_test_store_close(f->s, f->dir);
    free(f);
    return 0;
}

static void reopen(fixture_t *f)
{
    ternd_store_close(f->s);
    char err[256];
    f->s = ternd_store_open_sqlite(f->db, err, sizeof err);
    assert_non_null(f->s);
}

static ternd_device_t get_device(ternd_store_t *s, const char *id)
{
    ternd_device_t d;
    assert_int_equal(ternd_store_device(s, id, &d), 1);
    return d;
}

static void test_presence_creates_and_updates(void **state)
{
    fixture_t *f = *state;
    ternd_device_t d;
    assert_int_equal(ternd_store_device(f->s, "dev-1", &d), 0);
    assert_int_equal(
        ternd_store_presence(f->s, "dev-1", true, "1.4.2", "eth0", "eu", true, 0, 1000), 0);
    d = get_device(f->s, "dev-1");
    assert_string_equal(d.id, "dev-1");
    assert_true(d.online);
    assert_string_equal(d.fw, "1.4.2");
    assert_string_equal(d.link, "eth0");
    assert_string_equal(d.region, "eu");
    assert_int_equal(d.first_seen_ms, 1000);
    assert_int_equal(d.last_seen_ms, 1000);
    assert_int_equal(d.epoch, 0);
    assert_int_equal(d.messages, 0);

    /* NULL fields keep their value; the will says offline */
    assert_int_equal(
        ternd_store_presence(f->s, "dev-1", false, NULL, "wlan0", NULL, false, 0, 2000), 0);
    d = get_device(f->s, "dev-1");
    assert_false(d.online);
    assert_string_equal(d.fw, "1.4.2");
    assert_string_equal(d.link, "wlan0");
    assert_string_equal(d.region, "eu");
    assert_int_equal(d.first_seen_ms, 1000);
    assert_int_equal(d.last_seen_ms, 2000);

    /* seen: creates, then only moves last_seen */
    assert_int_equal(ternd_store_seen(f->s, "dev-2", 3000), 0);
    d = get_device(f->s, "dev-2");
    assert_int_equal(d.first_seen_ms, 3000);
    assert_string_equal(d.fw, "");
    assert_int_equal(ternd_store_seen(f->s, "dev-2", 4000), 0);
    d = get_device(f->s, "dev-2");
    assert_int_equal(d.first_seen_ms, 3000);
    assert_int_equal(d.last_seen_ms, 4000);

    /* refused: bad ids, a field longer than the registry holds (never cut) */
    assert_int_equal(ternd_store_presence(f->s, "a/b", true, NULL, NULL, NULL, false, 0, 1), -1);
    assert_non_null(strstr(ternd_store_error(f->s), "device id"));
    assert_int_equal(ternd_store_seen(f->s, "", 1), -1);
    assert_int_equal(ternd_store_device(f->s, "a+b", &d), -1);
    assert_int_equal(ternd_store_presence(f->s, "dev-1", true, "0123456789012345678901234567890123",
                                          NULL, NULL, false, 0, 5000),
                     -1);
    assert_non_null(strstr(ternd_store_error(f->s), "fw"));
    d = get_device(f->s, "dev-1");
    assert_string_equal(d.fw, "1.4.2");
}

static void test_messages_dedupe_and_epochs(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(ternd_store_presence(f->s, "dev-1", true, "1.0", NULL, NULL, true, 0, 1000),
                     0);
    assert_int_equal(ternd_store_message(f->s, "dev-1", 5, 1001), 1);
    assert_int_equal(ternd_store_message(f->s, "dev-1", 5, 1002), 0); /* redelivered */
    assert_int_equal(ternd_store_message(f->s, "dev-1", 7, 1003), 1);
    assert_int_equal(ternd_store_message(f->s, "dev-1", 6, 1004), 1); /* late, still new */
    ternd_device_t d = get_device(f->s, "dev-1");
    assert_int_equal(d.max_seq, 7);
    assert_int_equal(d.messages, 3);
    assert_int_equal(d.epoch, 0);

    /* a reconnect that goes on where it was: same epoch */
    assert_int_equal(ternd_store_presence(f->s, "dev-1", true, NULL, NULL, NULL, true, 8, 1100), 0);
    d = get_device(f->s, "dev-1");
    assert_int_equal(d.epoch, 0);
    assert_int_equal(d.max_seq, 7);

    /* the outbox was erased: seq restarts below the highest, a new epoch */
    assert_int_equal(ternd_store_presence(f->s, "dev-1", true, NULL, NULL, NULL, true, 0, 1200), 0);
    d = get_device(f->s, "dev-1");
    assert_int_equal(d.epoch, 1);
    assert_int_equal(d.max_seq, 0);
    assert_int_equal(ternd_store_message(f->s, "dev-1", 5, 1201), 1); /* new in epoch 1 */
    assert_int_equal(ternd_store_message(f->s, "dev-1", 5, 1202), 0);
    d = get_device(f->s, "dev-1");
    assert_int_equal(d.max_seq, 5);
    assert_int_equal(d.messages, 4);

    /* a presence without seq never starts an epoch */
    assert_int_equal(ternd_store_presence(f->s, "dev-1", false, NULL, NULL, NULL, false, 0, 1300),
                     0);
    assert_int_equal(get_device(f->s, "dev-1").epoch, 1);

    /* a message from a device never seen creates it */
    assert_int_equal(ternd_store_message(f->s, "dev-new", 0, 2000), 1);
    assert_int_equal(ternd_store_message(f->s, "dev-new", 0, 2001), 0);
    d = get_device(f->s, "dev-new");
    assert_int_equal(d.messages, 1);
    assert_int_equal(d.first_seen_ms, 2000);

    /* SQLite cannot hold seq >= 2^63: refused, not wrapped */
    assert_int_equal(ternd_store_message(f->s, "dev-1", UINT64_MAX, 3000), -1);

    /* persisted */
    reopen(f);
    d = get_device(f->s, "dev-1");
    assert_int_equal(d.epoch, 1);
    assert_int_equal(d.messages, 4);
    assert_int_equal(ternd_store_message(f->s, "dev-1", 5, 4000), 0);
}

typedef struct got_reading {
    uint64_t seq;
    char name[64], unit[16], vs[32];
    double t, v;
    int kind;
    bool vb;
    uint8_t vd[8];
    size_t vd_len;
} got_reading_t;

typedef struct got_readings {
    got_reading_t r[16];
    size_t n;
} got_readings_t;

static void on_reading(void *ctx, const char *device, uint64_t seq, const ternd_reading_t *r)
{
    got_readings_t *g = ctx;
    assert_string_equal(device, "dev-1");
    assert_true(g->n < 16);
    got_reading_t *o = &g->r[g->n++];
    memset(o, 0, sizeof *o);
    o->seq = seq;
    snprintf(o->name, sizeof o->name, "%s", r->name);
    snprintf(o->unit, sizeof o->unit, "%s", r->unit);
    o->t = r->t;
    o->kind = (int)r->kind;
    o->v = r->v;
    o->vb = r->vb;
    if (r->kind == TERND_V_STR) {
        snprintf(o->vs, sizeof o->vs, "%s", r->vs);
    }
    if (r->kind == TERND_V_DATA) {
        assert_true(r->vd_len <= sizeof o->vd);
        memcpy(o->vd, r->vd, r->vd_len);
        o->vd_len = r->vd_len;
    }
}

static void put_readings(fixture_t *f)
{
    static const uint8_t data[] = { 0xde, 0xad, 0xbe, 0xef };
    ternd_reading_t rs[] = {
        { .name = "urn:dev:tern:dev-1:temp",
          .unit = "Cel",
          .t = 100.0,
          .kind = TERND_V_NUM,
          .v = 21.5 },
        { .name = "urn:dev:tern:dev-1:door",
          .unit = "",
          .t = 100.0,
          .kind = TERND_V_BOOL,
          .vb = true },
        { .name = "urn:dev:tern:dev-1:temp",
          .unit = "Cel",
          .t = 101.5,
          .kind = TERND_V_NUM,
          .v = 22.25 },
        { .name = "urn:dev:tern:dev-1:state",
          .unit = NULL,
          .t = 102.0,
          .kind = TERND_V_STR,
          .vs = "idle" },
        { .name = "urn:dev:tern:dev-1:blob",
          .t = 103.0,
          .kind = TERND_V_DATA,
          .vd = data,
          .vd_len = sizeof data },
    };
    assert_int_equal(ternd_store_begin(f->s), 0);
    assert_int_equal(ternd_store_message(f->s, "dev-1", 41, 5000), 1);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ternd_store_reading(f->s, "dev-1", 41, &rs[i]), 0);
    }
    assert_int_equal(ternd_store_message(f->s, "dev-1", 42, 5001), 1);
    for (size_t i = 3; i < 5; i++) {
        assert_int_equal(ternd_store_reading(f->s, "dev-1", 42, &rs[i]), 0);
    }
    assert_int_equal(ternd_store_commit(f->s), 0);
}

static void test_readings_query(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(ternd_store_presence(f->s, "dev-1", true, NULL, NULL, NULL, true, 0, 1000), 0);
    put_readings(f);
    ternd_device_t d = get_device(f->s, "dev-1");
    assert_int_equal(d.readings, 5);
    assert_int_equal(d.messages, 2);

    got_readings_t g = { .n = 0 };
    assert_int_equal(ternd_store_readings(f->s, "dev-1", 0, NULL, 0, on_reading, &g), 0);
    assert_int_equal(g.n, 5);
    /* oldest first; equal times in the order they were stored */
    assert_string_equal(g.r[0].name, "urn:dev:tern:dev-1:temp");
    assert_string_equal(g.r[0].unit, "Cel");
    assert_int_equal(g.r[0].kind, TERND_V_NUM);
    assert_true(g.r[0].v == 21.5);
    assert_int_equal(g.r[0].seq, 41);
    assert_string_equal(g.r[1].name, "urn:dev:tern:dev-1:door");
    assert_string_equal(g.r[1].unit, "");
    assert_int_equal(g.r[1].kind, TERND_V_BOOL);
    assert_true(g.r[1].vb);
    assert_true(g.r[2].t == 101.5);
    assert_int_equal(g.r[3].kind, TERND_V_STR);
    assert_string_equal(g.r[3].vs, "idle");
    assert_int_equal(g.r[3].seq, 42);
    assert_int_equal(g.r[4].kind, TERND_V_DATA);
    assert_int_equal(g.r[4].vd_len, 4);
    assert_memory_equal(g.r[4].vd, "\xde\xad\xbe\xef", 4);

    g.n = 0;
    assert_int_equal(ternd_store_readings(f->s, "dev-1", 101.0, NULL, 0, on_reading, &g), 0);
    assert_int_equal(g.n, 3);
    assert_true(g.r[0].t == 101.5);

    g.n = 0;
    assert_int_equal(
        ternd_store_readings(f->s, "dev-1", 0, "urn:dev:tern:dev-1:temp", 0, on_reading, &g), 0);
    assert_int_equal(g.n, 2);
    assert_true(g.r[1].v == 22.25);

    g.n = 0;
    assert_int_equal(ternd_store_readings(f->s, "dev-1", 0, NULL, 2, on_reading, &g), 0);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.r[1].name, "urn:dev:tern:dev-1:door");

    g.n = 0;
    assert_int_equal(ternd_store_readings(f->s, "dev-1", 200.0, NULL, 0, on_reading, &g), 0);
    assert_int_equal(g.n, 0);

    /* a rolled-back batch leaves nothing: the message may come again */
    assert_int_equal(ternd_store_begin(f->s), 0);
    assert_int_equal(ternd_store_message(f->s, "dev-1", 43, 6000), 1);
    ternd_reading_t r = { .name = "x", .t = 300, .kind = TERND_V_NUM, .v = 1 };
    assert_int_equal(ternd_store_reading(f->s, "dev-1", 43, &r), 0);
    assert_int_equal(ternd_store_rollback(f->s), 0);
    assert_int_equal(ternd_store_rollback(f->s), 0); /* nothing open: nothing to do */
    d = get_device(f->s, "dev-1");
    assert_int_equal(d.readings, 5);
    assert_int_equal(d.messages, 2);
    assert_int_equal(ternd_store_message(f->s, "dev-1", 43, 6001), 1);

    /* outside a transaction each reading counts at once */
    assert_int_equal(ternd_store_reading(f->s, "dev-1", 43, &r), 0);
    assert_int_equal(get_device(f->s, "dev-1").readings, 6);

    /* one transaction with readings of two devices: each counted on its own */
    assert_int_equal(ternd_store_begin(f->s), 0);
    assert_int_equal(ternd_store_message(f->s, "dev-1", 44, 6002), 1);
    assert_int_equal(ternd_store_reading(f->s, "dev-1", 44, &r), 0);
    assert_int_equal(ternd_store_reading(f->s, "dev-1", 44, &r), 0);
    assert_int_equal(ternd_store_message(f->s, "dev-9", 1, 6003), 1);
    assert_int_equal(ternd_store_reading(f->s, "dev-9", 1, &r), 0);
    assert_int_equal(get_device(f->s, "dev-1").readings, 8); /* seen inside it too */
    assert_int_equal(ternd_store_reading(f->s, "dev-9", 1, &r), 0);
    assert_int_equal(ternd_store_commit(f->s), 0);
    assert_int_equal(get_device(f->s, "dev-1").readings, 8);
    assert_int_equal(get_device(f->s, "dev-9").readings, 2);

    /* persisted */
    reopen(f);
    g.n = 0;
    assert_int_equal(ternd_store_readings(f->s, "dev-1", 0, NULL, 0, on_reading, &g), 0);
    assert_int_equal(g.n, 8);
    assert_string_equal(g.r[3].vs, "idle");
    assert_int_equal(get_device(f->s, "dev-1").readings, 8);
    assert_int_equal(get_device(f->s, "dev-9").readings, 2);
}

typedef struct got_kv {
    ternd_twin_kv_t kv[8];
    size_t n;
} got_kv_t;

/* Keeps the structs as they are: the values must stay valid until the next store call. */
static void on_kv(void *ctx, const ternd_twin_kv_t *kv)
{
    got_kv_t *g = ctx;
    assert_true(g->n < 8);
    g->kv[g->n++] = *kv;
}

static ternd_twin_kv_t kv_set(const char *key, const char *cbor, size_t len)
{
    ternd_twin_kv_t kv;
    memset(&kv, 0, sizeof kv);
    snprintf(kv.key, sizeof kv.key, "%s", key);
    kv.value = (const uint8_t *)cbor;
    kv.len = len;
    return kv;
}

static ternd_twin_kv_t kv_del(const char *key)
{
    ternd_twin_kv_t kv;
    memset(&kv, 0, sizeof kv);
    snprintf(kv.key, sizeof kv.key, "%s", key);
    kv.deleted = true;
    return kv;
}

static void expect_versions(ternd_store_t *s, const char *id, uint64_t d, uint64_t r, uint64_t a)
{
    uint64_t dv = 99, rv = 99, av = 99;
    assert_int_equal(ternd_store_twin_versions(s, id, &dv, &rv, &av), 0);
    assert_int_equal(dv, d);
    assert_int_equal(rv, r);
    assert_int_equal(av, a);
}

static void test_twin(void **state)
{
    fixture_t *f = *state;
    expect_versions(f->s, "dev-1", 0, 0, 0); /* never seen: all 0 */

    /* desired: {interval: 30, led: "on"} in version 1, led deleted in version 2 */
    ternd_twin_kv_t set1[] = { kv_set("interval", "\x18\x1e", 2), kv_set("led", "\x62on", 3) };
    uint64_t v = 0;
    assert_int_equal(ternd_store_twin_set_desired(f->s, "dev-1", set1, 2, &v), 0);
    assert_int_equal(v, 1);
    ternd_twin_kv_t set2[] = { kv_del("led"), kv_set("mode", "\x01", 1) };
    assert_int_equal(ternd_store_twin_set_desired(f->s, "dev-1", set2, 2, &v), 0);
    assert_int_equal(v, 2);
    expect_versions(f->s, "dev-1", 2, 0, 0);

    /* a device created by the operator is "never seen" until it connects */
    ternd_device_t d = get_device(f->s, "dev-1");
    assert_int_equal(d.first_seen_ms, 0);
    assert_int_equal(ternd_store_presence(f->s, "dev-1", true, NULL, NULL, NULL, true, 0, 7000), 0);
    d = get_device(f->s, "dev-1");
    assert_int_equal(d.first_seen_ms, 7000);

    got_kv_t g = { .n = 0 };
    assert_int_equal(ternd_store_twin_desired(f->s, "dev-1", 0, on_kv, &g), 0);
    assert_int_equal(g.n, 2); /* since 0: the whole state, no tombstones */
    assert_string_equal(g.kv[0].key, "interval");
    assert_int_equal(g.kv[0].len, 2);
    assert_memory_equal(g.kv[0].value, "\x18\x1e", 2);
    assert_int_equal(g.kv[0].version, 1);
    assert_string_equal(g.kv[1].key, "mode");
    assert_int_equal(g.kv[1].version, 2);

    g.n = 0;
    assert_int_equal(ternd_store_twin_desired(f->s, "dev-1", 1, on_kv, &g), 0);
    assert_int_equal(g.n, 2); /* since 1: what changed in 2, the deletion included */
    assert_string_equal(g.kv[0].key, "led");
    assert_true(g.kv[0].deleted);
    assert_null(g.kv[0].value);
    assert_int_equal(g.kv[0].version, 2);
    assert_string_equal(g.kv[1].key, "mode");
    assert_false(g.kv[1].deleted);
    assert_memory_equal(g.kv[1].value, "\x01", 1);

    g.n = 0;
    assert_int_equal(ternd_store_twin_desired(f->s, "dev-1", 2, on_kv, &g), 0);
    assert_int_equal(g.n, 0);

    /* reports: stored only above the stored version; applied kept if higher either way */
    ternd_twin_kv_t rep1[] = { kv_set("temp_offset", "\xf9\x38\x00", 3), kv_set("fw", "\x61x", 2) };
    assert_int_equal(ternd_store_twin_report(f->s, "dev-1", 1, 1, false, rep1, 2), 1);
    expect_versions(f->s, "dev-1", 2, 1, 1);
    ternd_twin_kv_t stale[] = { kv_set("fw", "\x61y", 2) };
    assert_int_equal(ternd_store_twin_report(f->s, "dev-1", 1, 2, false, stale, 1), 0);
    expect_versions(f->s, "dev-1", 2, 1, 2);
    assert_int_equal(ternd_store_twin_report(f->s, "dev-1", 2, 1, false, NULL, 0), 1);
    expect_versions(f->s, "dev-1", 2, 2, 2); /* applied never goes back */

    g.n = 0;
    assert_int_equal(ternd_store_twin_reported(f->s, "dev-1", on_kv, &g), 0);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.kv[0].key, "fw");
    assert_memory_equal(g.kv[0].value, "\x61x", 2); /* not the stale y */
    assert_string_equal(g.kv[1].key, "temp_offset");

    /* a partial report deletes with a tombstone entry, a full one replaces everything */
    ternd_twin_kv_t rep3[] = { kv_del("fw"), kv_set("b", "\x02", 1) };
    assert_int_equal(ternd_store_twin_report(f->s, "dev-1", 3, 2, false, rep3, 2), 1);
    g.n = 0;
    assert_int_equal(ternd_store_twin_reported(f->s, "dev-1", on_kv, &g), 0);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.kv[0].key, "b");
    assert_string_equal(g.kv[1].key, "temp_offset");
    ternd_twin_kv_t rep4[] = { kv_set("only", "\xf5", 1) };
    assert_int_equal(ternd_store_twin_report(f->s, "dev-1", 4, 2, true, rep4, 1), 1);
    g.n = 0;
    assert_int_equal(ternd_store_twin_reported(f->s, "dev-1", on_kv, &g), 0);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.kv[0].key, "only");
    assert_int_equal(g.kv[0].version, 4);

    /* a hello of version 0 after reports: the device's twin started over; its reported state
     * is forgotten and its applied version taken as it is, even lower */
    assert_int_equal(ternd_store_twin_report(f->s, "dev-1", 0, 1, false, NULL, 0), 1);
    expect_versions(f->s, "dev-1", 2, 0, 1);
    g.n = 0;
    assert_int_equal(ternd_store_twin_reported(f->s, "dev-1", on_kv, &g), 0);
    assert_int_equal(g.n, 0);
    assert_int_equal(ternd_store_twin_report(f->s, "dev-1", 0, 1, false, NULL, 0),
                     0); /* again: nothing new */
    assert_int_equal(ternd_store_twin_report(f->s, "dev-1", 1, 2, false, rep4, 1), 1);
    expect_versions(f->s, "dev-1", 2, 1, 2);
    assert_int_equal(ternd_store_twin_report(f->s, "dev-1", 4, 2, true, rep4, 1), 1);

    /* refused: a key without a value; nothing of the call is kept */
    ternd_twin_kv_t bad[] = { kv_set("ok", "\x01", 1), kv_set("empty", NULL, 0) };
    assert_int_equal(ternd_store_twin_set_desired(f->s, "dev-1", bad, 2, &v), -1);
    expect_versions(f->s, "dev-1", 2, 4, 2);

    /* inside the caller's transaction the savepoint nests */
    assert_int_equal(ternd_store_begin(f->s), 0);
    assert_int_equal(ternd_store_twin_set_desired(f->s, "dev-1", set1, 1, &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(ternd_store_rollback(f->s), 0);
    expect_versions(f->s, "dev-1", 2, 4, 2);

    /* persisted */
    reopen(f);
    expect_versions(f->s, "dev-1", 2, 4, 2);
    g.n = 0;
    assert_int_equal(ternd_store_twin_desired(f->s, "dev-1", 1, on_kv, &g), 0);
    assert_int_equal(g.n, 2);
    assert_true(g.kv[0].deleted);
    g.n = 0;
    assert_int_equal(ternd_store_twin_reported(f->s, "dev-1", on_kv, &g), 0);
    assert_int_equal(g.n, 1);
    assert_memory_equal(g.kv[0].value, "\xf5", 1);
}

typedef struct behind_list {
    ternd_twin_behind_t b[8];
    size_t n;
} behind_list_t;

static void on_behind(void *ctx, const ternd_twin_behind_t *b)
{
    behind_list_t *l = ctx;
    assert_true(l->n < 8);
    l->b[l->n++] = *b;
}

static ternd_fleet_stats_t get_stats(ternd_store_t *s)
{
    ternd_fleet_stats_t st;
    assert_int_equal(ternd_store_fleet_stats(s, &st), 0);
    return st;
}

/* The fleet: one desired change for every device (its own next version each, tombstones
 * like a per-device change), refused whole when one device's state would get too large,
 * the online devices that are behind, page by page, and the counts. */
static void test_fleet(void **state)
{
    fixture_t *f = *state;
    ternd_fleet_change_t fc;
    ternd_twin_kv_t set[] = { kv_set("interval", "\x18\x1e", 2), kv_del("led") };

    /* no devices: nothing to change, all counts 0 */
    assert_int_equal(ternd_store_twin_set_desired_all(f->s, set, 2, 0, &fc), 0);
    assert_int_equal(fc.devices, 0);
    assert_int_equal(fc.version_min, 0);
    assert_int_equal(fc.version_max, 0);
    ternd_fleet_stats_t st = get_stats(f->s);
    assert_int_equal(st.devices, 0);
    assert_int_equal(st.in_sync, 0);
    assert_int_equal(st.desired_version_max, 0);

    /* a: online, one message of two readings; b: seen once, offline; c: made by an operator's
     * change ({big: 10 bytes}, then led), desired version 2, never seen */
    assert_int_equal(ternd_store_presence(f->s, "a", true, "1.0", NULL, NULL, true, 1, 1000), 0);
    assert_int_equal(ternd_store_begin(f->s), 0);
    assert_int_equal(ternd_store_message(f->s, "a", 1, 1000), 1);
    ternd_reading_t r = { .name = "urn:dev:tern:a:t", .unit = "", .t = 1, .kind = TERND_V_NUM };
    assert_int_equal(ternd_store_reading(f->s, "a", 1, &r), 0);
    assert_int_equal(ternd_store_reading(f->s, "a", 1, &r), 0);
    assert_int_equal(ternd_store_commit(f->s), 0);
    assert_int_equal(ternd_store_seen(f->s, "b", 2000), 0);
    uint64_t v = 0;
    ternd_twin_kv_t big[] = { kv_set("big",
                                     "\x69"
                                     "abcdefghi",
                                     10) };
    assert_int_equal(ternd_store_twin_set_desired(f->s, "c", big, 1, &v), 0);
    ternd_twin_kv_t led[] = { kv_set("led", "\x62on", 3) };
    assert_int_equal(ternd_store_twin_set_desired(f->s, "c", led, 1, &v), 0);
    assert_int_equal(v, 2);
    st = get_stats(f->s);
    assert_int_equal(st.devices, 3);
    assert_int_equal(st.online, 1);
    assert_int_equal(st.messages, 1);
    assert_int_equal(st.readings, 2);
    assert_int_equal(st.desired_version_max, 2);
    assert_int_equal(st.in_sync, 2); /* a and b: no twin, 0 == 0; c: 0 != 2 */

    /* the change: every device its next version, in one call */
    assert_int_equal(ternd_store_twin_set_desired_all(f->s, set, 2, 0, &fc), 0);
    assert_int_equal(fc.devices, 3);
    assert_int_equal(fc.version_min, 1);
    assert_int_equal(fc.version_max, 3);
    expect_versions(f->s, "a", 1, 0, 0);
    expect_versions(f->s, "b", 1, 0, 0);
    expect_versions(f->s, "c", 3, 0, 0);
    got_kv_t g = { .n = 0 };
    assert_int_equal(ternd_store_twin_desired(f->s, "a", 0, on_kv, &g), 0);
    assert_int_equal(g.n, 1); /* the whole state: led's tombstone is not part of it */
    assert_string_equal(g.kv[0].key, "interval");
    assert_memory_equal(g.kv[0].value, "\x18\x1e", 2);
    g.n = 0;
    assert_int_equal(ternd_store_twin_desired(f->s, "c", 2, on_kv, &g), 0);
    assert_int_equal(g.n, 2); /* the delta 2 -> 3: interval set, led deleted */
    assert_string_equal(g.kv[0].key, "interval");
    assert_int_equal(g.kv[0].version, 3);
    assert_string_equal(g.kv[1].key, "led");
    assert_true(g.kv[1].deleted);
    assert_int_equal(g.kv[1].version, 3);
    g.n = 0;
    assert_int_equal(ternd_store_twin_desired(f->s, "c", 0, on_kv, &g), 0);
    assert_int_equal(g.n, 2); /* big (version 1) stays */
    assert_string_equal(g.kv[0].key, "big");
    assert_int_equal(g.kv[0].version, 1);

    /* sizes, in bytes of CBOR entries: c holds big (1 + 3 + 10) and interval (1 + 8 + 2) = 25;
     * a new y of 20 bytes adds 1 + 1 + 20 = 22: c would have 47, a and b 33 */
    static const char y20[] = "\x73"
                              "abcdefghijklmnopqrs";
    ternd_twin_kv_t add_y[] = { kv_set("y", y20, 20) };
    assert_int_equal(ternd_store_twin_set_desired_all(f->s, add_y, 1, 40, &fc), 1);
    assert_string_equal(fc.largest, "c");
    assert_int_equal(fc.largest_bytes, 47);
    expect_versions(f->s, "a", 1, 0, 0); /* nothing changed */
    expect_versions(f->s, "c", 3, 0, 0);
    /* replacing big with one byte in the same change: c's would be 11 + 5 + 22 = 38 */
    ternd_twin_kv_t y_small_big[] = { kv_set("y", y20, 20), kv_set("big", "\x01", 1) };
    assert_int_equal(ternd_store_twin_set_desired_all(f->s, y_small_big, 2, 40, &fc), 0);
    assert_int_equal(fc.largest_bytes, 38);
    assert_int_equal(fc.version_min, 2);
    assert_int_equal(fc.version_max, 4);
    /* deleting every key a device has: all end up with only what the change sets */
    ternd_twin_kv_t clear[] = { kv_del("y"), kv_del("big"), kv_del("interval") };
    assert_int_equal(ternd_store_twin_set_desired_all(f->s, clear, 3, 40, &fc), 0);
    assert_int_equal(fc.largest_bytes, 0);
    assert_string_equal(fc.largest, "a"); /* any device then: the first */
    assert_int_equal(fc.version_max, 5);
    g.n = 0;
    assert_int_equal(ternd_store_twin_desired(f->s, "c", 0, on_kv, &g), 0);
    assert_int_equal(g.n, 0);
    /* refused without a value, like a per-device change; nothing kept */
    ternd_twin_kv_t bad[] = { kv_set("ok", "\x01", 1), kv_set("empty", NULL, 0) };
    assert_int_equal(ternd_store_twin_set_desired_all(f->s, bad, 2, 0, &fc), -1);
    expect_versions(f->s, "c", 5, 0, 0);
    /* inside the caller's transaction: a savepoint, gone with its rollback */
    assert_int_equal(ternd_store_begin(f->s), 0);
    assert_int_equal(ternd_store_twin_set_desired_all(f->s, set, 2, 0, &fc), 0);
    assert_int_equal(fc.version_max, 6);
    assert_int_equal(ternd_store_rollback(f->s), 0);
    expect_versions(f->s, "c", 5, 0, 0);

    /* behind: the online devices whose applied version is below their desired one, by id */
    assert_int_equal(ternd_store_presence(f->s, "c", true, NULL, NULL, NULL, false, 0, 3000), 0);
    assert_int_equal(ternd_store_presence(f->s, "d", true, NULL, NULL, NULL, false, 0, 3000), 0);
    behind_list_t l = { .n = 0 };
    assert_int_equal(ternd_store_twin_behind(f->s, "", 0, on_behind, &l), 0);
    assert_int_equal(l.n, 2); /* a and c; b is offline; d has no desired state */
    assert_string_equal(l.b[0].id, "a");
    assert_int_equal(l.b[0].desired, 3);
    assert_int_equal(l.b[0].applied, 0);
    assert_string_equal(l.b[1].id, "c");
    assert_int_equal(l.b[1].desired, 5);
    l.n = 0;
    assert_int_equal(ternd_store_twin_behind(f->s, NULL, 1, on_behind, &l), 0);
    assert_int_equal(l.n, 1); /* a page of one */
    assert_string_equal(l.b[0].id, "a");
    l.n = 0;
    assert_int_equal(ternd_store_twin_behind(f->s, "a", 1, on_behind, &l), 0);
    assert_int_equal(l.n, 1); /* the next page */
    assert_string_equal(l.b[0].id, "c");
    l.n = 0;
    assert_int_equal(ternd_store_twin_behind(f->s, "c", 1, on_behind, &l), 0);
    assert_int_equal(l.n, 0);
    /* a says (a hello, nothing new reported) it applied 3: in sync, no longer behind */
    assert_int_equal(ternd_store_twin_report(f->s, "a", 0, 3, false, NULL, 0), 0);
    l.n = 0;
    assert_int_equal(ternd_store_twin_behind(f->s, "", 0, on_behind, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.b[0].id, "c");

    st = get_stats(f->s);
    assert_int_equal(st.devices, 4);
    assert_int_equal(st.online, 3);
    assert_int_equal(st.messages, 1);
    assert_int_equal(st.desired_version_max, 5);
    assert_int_equal(st.in_sync, 2); /* a (3 == 3) and d (no twin); b at 0 of 3, c at 0 of 5 */
    reopen(f);
    ternd_fleet_stats_t again = get_stats(f->s);
    assert_memory_equal(&again, &st, sizeof st);
}

typedef struct ids {
    char id[4][65];
    size_t n;
} ids_t;

static void on_device(void *ctx, const ternd_device_t *d)
{
    ids_t *l = ctx;
    assert_true(l->n < 4);
    snprintf(l->id[l->n++], 65, "%s", d->id);
}

static void test_devices_and_schema(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(ternd_store_seen(f->s, "b", 1), 0);
    assert_int_equal(ternd_store_seen(f->s, "a", 2), 0);
    assert_int_equal(ternd_store_seen(f->s, "c", 3), 0);
    ids_t l = { .n = 0 };
    assert_int_equal(ternd_store_devices(f->s, on_device, &l), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.id[0], "a");
    assert_string_equal(l.id[2], "c");

    /* a second connection on the same file (the API's) sees it */
    char err[256];
    ternd_store_t *s2 = ternd_store_open_sqlite(f->db, err, sizeof err);
    assert_non_null(s2);
    l.n = 0;
    assert_int_equal(ternd_store_devices(s2, on_device, &l), 0);
    assert_int_equal(l.n, 3);
    ternd_store_close(s2);

    /* the schema version and journal mode on the file */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2); /* certificates and trust stores */
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* a file from a newer ternd is refused, with the reason */
    char newer[300];
    snprintf(newer, sizeof newer, "%s/newer.db", f->dir);
    assert_int_equal(sqlite3_open(newer, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_null(ternd_store_open_sqlite(newer, err, sizeof err));
    assert_non_null(strstr(err, "schema version 99"));

    /* and a path that cannot be opened */
    snprintf(newer, sizeof newer, "%s/no/such/dir/x.db", f->dir);
    assert_null(ternd_store_open_sqlite(newer, err, sizeof err));
    assert_non_null(strstr(err, "x.db"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_presence_creates_and_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_messages_dedupe_and_epochs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readings_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_twin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fleet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices_and_schema, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
