/* SPDX-License-Identifier: Apache-2.0 */
/* ternd's twin server (cloud/ternd/twin_server.h) over a real store and a fake publisher
 * with a QoS 1 window: one job per device (a report's answer replaces an operator's
 * change), the queue in order however long, "not now" keeping a job at the head, the
 * drain's budget, and the sweep after a fleet change (every online device that is behind
 * gets its delta once, page after page of the store, paced by the window; offline and
 * in-sync devices get nothing; a second change starts it again). */
#define _XOPEN_SOURCE 700 /* nftw, mkdtemp */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cloud_test.h"
#include "store.h"
#include "tern/cbor.h"
#include "tern/wire.h"
#include "tern_test.h"
#include "twin_server.h"

enum { MAX_PUBS = 8192 };

/* A delta as published: the device and its versions. */
typedef struct pub {
    char id[65];
    uint64_t version, from;
    size_t keys;
} pub_t;

typedef struct fixture {
    char dir[256], db[300];
    ternd_store_t *s;
    ternd_twin_server_t ts;
    pub_t pubs[MAX_PUBS];
    size_t n;
    long room; /* publishes the window takes before "not now"; -1: no limit */
} fixture_t;

static int publish(void *ctx, const char *topic, const uint8_t *payload, size_t len)
{
    fixture_t *f = ctx;
    if (f->room == 0) {
        return 1;
    }
    const char *id;
    size_t id_len;
    tern_wire_kind_t kind;
    assert_int_equal(tern_wire_topic_parse(topic, strlen(topic), &id, &id_len, &kind), TERN_OK);
    assert_int_equal(kind, TERN_WIRE_TWIN_DESIRED);
    assert_true(f->n < MAX_PUBS);
    pub_t *p = &f->pubs[f->n++];
    memcpy(p->id, id, id_len);
    p->id[id_len] = '\0';
    /* {1: version, 2: from, 3: {keys}} */
    tern_cbor_dec_t d;
    tern_cbor_item_t it;
    tern_cbor_dec_init(&d, payload, len, 0);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(it.type, TERN_CBOR_MAP);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
        uint64_t key = it.u;
        assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
        *(key == TERN_WIRE_D_VERSION ? &p->version : &p->from) = it.u;
    }
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(it.type, TERN_CBOR_MAP);
    p->keys = (size_t)it.u; /* pairs */
    if (f->room > 0) {
        f->room--;
    }
    return 0;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return -1;
    }
    f->s = cloud_test_store_open(f->dir, sizeof f->dir, f->db, sizeof f->db, "twin");
    if (f->s == NULL) {
        free(f);
        return -1;
    }
    if (ternd_twin_server_init(&f->ts, f->s, publish, f, false) != 0) {
        fprintf(stderr, "twin server: no memory or mutex\n");
        cloud_test_store_close(f->s, f->dir);
        free(f);
        return -1;
    }
    f->room = -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    ternd_twin_server_free(&f->ts);
    cloud_test_store_close(f->s, f->dir);
    free(f);
    return 0;
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

/* Drain until nothing is left, opening the window by @p window before each round (a PUBACK
 * per publish of the round before); the rounds it took. */
static int drain_all(fixture_t *f, long window)
{
    int rounds = 0;
    for (;;) {
        f->room = window;
        bool again = true;
        long left = ternd_twin_server_drain(&f->ts, &again);
        assert_true(left >= 0);
        rounds++;
        if (left == 0) {
            assert_false(again);
            return rounds;
        }
        assert_true(rounds < 100000);
    }
}

/* Devices d0000.. d(n-1): online unless @p offline_every divides the index. */
static void make_devices(fixture_t *f, int n, int offline_every)
{
    assert_int_equal(ternd_store_begin(f->s), 0);
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "d%04d", i);
        bool online = offline_every == 0 || i % offline_every != 0;
        assert_int_equal(
            ternd_store_presence(f->s, id, online, NULL, NULL, NULL, false, 0, 1000 + i), 0);
    }
    assert_int_equal(ternd_store_commit(f->s), 0);
}

static void test_queue(void **state)
{
    fixture_t *f = *state;
    make_devices(f, 3, 0);
    assert_int_equal(ternd_store_presence(f->s, "off", false, NULL, NULL, NULL, false, 0, 1), 0);
    ternd_twin_kv_t a = kv_set("a", "\x01", 1), b = kv_set("b", "\x02", 1);
    uint64_t v;
    assert_int_equal(ternd_store_twin_set_desired(f->s, "d0000", &a, 1, &v), 0);
    assert_int_equal(ternd_store_twin_set_desired(f->s, "d0000", &b, 1, &v), 0);
    assert_int_equal(ternd_store_twin_set_desired(f->s, "off", &a, 1, &v), 0);

    /* an operator's change of an online device: the delta from its applied version (0) */
    ternd_twin_server_changed(&f->ts, "d0000");
    ternd_twin_server_changed(&f->ts, "off"); /* offline: waits for its hello */
    assert_int_equal(ternd_twin_server_drain(&f->ts, NULL), 0);
    assert_int_equal(f->n, 1);
    assert_string_equal(f->pubs[0].id, "d0000");
    assert_int_equal(f->pubs[0].version, 2);
    assert_int_equal(f->pubs[0].from, 0);
    assert_int_equal(f->pubs[0].keys, 2);

    /* one job per device: the report's answer (it says where the device is) wins */
    ternd_twin_server_changed(&f->ts, "d0000");
    ternd_twin_server_report(&f->ts, "d0000", 1);
    ternd_twin_server_changed(&f->ts, "d0000");
    ternd_twin_server_report(&f->ts, "d0001", 0); /* in sync at 0: nothing to send */
    ternd_twin_server_changed(&f->ts, "bad/id");  /* refused when queued */
    assert_int_equal(f->ts.queue.n, 2);
    assert_int_equal(ternd_twin_server_drain(&f->ts, NULL), 0);
    assert_int_equal(f->n, 2);
    assert_int_equal(f->pubs[1].from, 1);
    assert_int_equal(f->pubs[1].keys, 1);

    /* "not now": the job stays at the head; a job queued meanwhile for it is newer and wins */
    ternd_twin_server_report(&f->ts, "d0000", 0);
    ternd_twin_server_report(&f->ts, "off", 0); /* a report is answered, online or not */
    f->room = 0;
    bool again = true;
    assert_int_equal(ternd_twin_server_drain(&f->ts, &again), 2);
    assert_false(again); /* stopped by the window, not the budget: wait for PUBACKs */
    ternd_twin_server_report(&f->ts, "d0000", 1);
    f->room = -1;
    assert_int_equal(ternd_twin_server_drain(&f->ts, NULL), 0);
    assert_int_equal(f->n, 4);
    assert_string_equal(f->pubs[2].id, "d0000"); /* still first */
    assert_int_equal(f->pubs[2].from, 1);
    assert_string_equal(f->pubs[3].id, "off");
}

/* Thousands of jobs: each answered once, in order, paced by the window; the budget. */
static void test_long_queue(void **state)
{
    fixture_t *f = *state;
    enum { N = 3000 };
    make_devices(f, N, 0);
    ternd_twin_kv_t a = kv_set("a", "\x01", 1);
    ternd_fleet_change_t fc;
    assert_int_equal(ternd_store_twin_set_desired_all(f->s, &a, 1, 0, &fc), 0);
    assert_int_equal(fc.devices, N);
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "d%04d", i);
        ternd_twin_server_report(&f->ts, id, 0);
        ternd_twin_server_changed(&f->ts, id); /* adds nothing */
    }
    assert_int_equal(f->ts.queue.n, N);
    /* no window limit: the budget stops each drain, and says so */
    bool again = false;
    long left = ternd_twin_server_drain(&f->ts, &again);
    assert_true(left > 0);
    assert_true(again);
    assert_true(f->n <= TERND_TWIN_DRAIN_JOBS);
    int rounds = drain_all(f, 64);
    assert_true(rounds >= (int)((N - f->n) / 64));
    assert_int_equal(f->n, N);
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "d%04d", i);
        assert_string_equal(f->pubs[i].id, id);
        assert_int_equal(f->pubs[i].version, 1);
    }
    assert_int_equal(f->ts.queue.n, 0);
    assert_null(f->ts.queue.head);
}

static void test_sweep(void **state)
{
    fixture_t *f = *state;
    enum { N = 700 };      /* more than two pages of TERND_TWIN_SWEEP_BATCH */
    make_devices(f, N, 7); /* every 7th offline: 100 of them */
    ternd_twin_kv_t a = kv_set("a", "\x01", 1);
    uint64_t v;
    /* d0001 at version 1 before: it gets 2 */
    assert_int_equal(ternd_store_twin_set_desired(f->s, "d0001", &a, 1, &v), 0);
    ternd_fleet_change_t fc;
    assert_int_equal(ternd_store_twin_set_desired_all(f->s, &a, 1, 0, &fc), 0);
    assert_int_equal(fc.version_max, 2);
    /* d0002 already says it applied it: in sync, nothing to send */
    assert_int_equal(ternd_store_twin_report(f->s, "d0002", 0, 1, false, NULL, 0), 0);

    ternd_twin_server_fleet_changed(&f->ts);
    assert_true(drain_all(f, 64) > 1);
    assert_int_equal(f->ts.sweeps, 1);
    assert_false(f->ts.sweeping);
    size_t want = 0;
    for (int i = 0; i < N; i++) {
        want += i % 7 != 0 && i != 2;
    }
    assert_int_equal(f->n, want);
    size_t k = 0;
    for (int i = 0; i < N; i++) {
        if (i % 7 == 0 || i == 2) {
            continue;
        }
        char id[16];
        snprintf(id, sizeof id, "d%04d", i);
        assert_string_equal(f->pubs[k].id, id); /* by id, each once */
        assert_int_equal(f->pubs[k].version, i == 1 ? 2 : 1);
        assert_int_equal(f->pubs[k].from, 0);
        k++;
    }

    /* a second change halfway through: the sweep starts again and every online device that
     * is behind ends with the newest version */
    f->n = 0;
    assert_int_equal(ternd_store_twin_set_desired_all(f->s, &a, 1, 0, &fc), 0);
    ternd_twin_server_fleet_changed(&f->ts);
    for (int i = 0; i < 4; i++) {
        f->room = 64;
        assert_true(ternd_twin_server_drain(&f->ts, NULL) > 0);
    }
    assert_true(f->ts.sweeping);
    size_t first = f->n;
    assert_int_equal(first, 4 * 64);
    assert_int_equal(ternd_store_twin_set_desired_all(f->s, &a, 1, 0, &fc), 0);
    ternd_twin_server_fleet_changed(&f->ts);
    drain_all(f, 64);
    assert_int_equal(f->ts.sweeps, 2);
    assert_int_equal(f->n, first + want + 1); /* d0002 is behind now too */
    assert_int_equal(fc.version_max, 4);      /* d0001; the others are at 3 */
    for (size_t i = first; i < f->n; i++) {
        assert_int_equal(f->pubs[i].version, strcmp(f->pubs[i].id, "d0001") == 0 ? 4 : 3);
    }
    /* every online device says it applied its version: a sweep then sends nothing */
    assert_int_equal(ternd_store_begin(f->s), 0);
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "d%04d", i);
        assert_int_equal(ternd_store_twin_report(f->s, id, 0, i == 1 ? 4 : 3, false, NULL, 0), 0);
    }
    assert_int_equal(ternd_store_commit(f->s), 0);
    f->n = 0;
    ternd_twin_server_fleet_changed(&f->ts);
    assert_int_equal(ternd_twin_server_drain(&f->ts, NULL), 0);
    assert_int_equal(f->n, 0);
    assert_int_equal(f->ts.sweeps, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
