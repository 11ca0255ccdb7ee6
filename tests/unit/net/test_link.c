/* SPDX-License-Identifier: Apache-2.0 */
/* The link manager against fake links on virtual time: ranking, failover within one
 * poll, fail back after the stable time and not while flapping, backoff, events. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tern/backoff.h"
#include "tern/link.h"

#include "tern_test.h"

/* ------------------------------------------------------------ fake links -- */

typedef struct fake {
    tern_err_t start_result;   /* what start answers */
    tern_err_t connect_result; /* what poll answers once connect_ms passed */
    uint32_t connect_ms;
    tern_err_t fail;         /* poll answers this while set (the link went down) */
    tern_err_t probe_result; /* what probe answers */
    bool open;
    tern_ms_t started_at;
    int starts, closes, probes;
} fake_t;

static tern_err_t fake_start(void *ctx, tern_ms_t now)
{
    fake_t *f = ctx;
    f->starts++;
    if (f->start_result != TERN_OK) {
        return f->start_result;
    }
    if (f->open) {
        fail_msg("started while open");
    }
    f->open = true;
    f->started_at = now;
    return TERN_OK;
}

static tern_err_t fake_poll(void *ctx, tern_ms_t now)
{
    fake_t *f = ctx;
    if (!f->open) {
        fail_msg("polled while closed");
    }
    if (f->fail != TERN_OK) {
        return f->fail;
    }
    if (tern_time_elapsed(now, f->started_at) < f->connect_ms) {
        return TERN_ERR_AGAIN;
    }
    return f->connect_result;
}

static tern_transport_t fake_transport(void *ctx)
{
    tern_transport_t t = { NULL, ctx };
    return t;
}

static void fake_close(void *ctx)
{
    fake_t *f = ctx;
    f->open = false;
    f->closes++;
}

static tern_err_t fake_probe(void *ctx, tern_ms_t now)
{
    (void)now;
    fake_t *f = ctx;
    f->probes++;
    return f->probe_result;
}

static const tern_link_ops_t fake_ops = { "fake",         fake_start, fake_poll,
                                          fake_transport, fake_close, NULL };
static const tern_link_ops_t fake_probe_ops = { "fake-probe",   fake_start, fake_poll,
                                                fake_transport, fake_close, fake_probe };

/* An RNG of zeros: the backoff below uses no jitter, so delays are exact. */
static tern_err_t zero_fill(void *ctx, void *buf, size_t len)
{
    (void)ctx;
    memset(buf, 0, len);
    return TERN_OK;
}

static const tern_rng_ops_t zero_rng_ops = { "zero", zero_fill };

/* ---------------------------------------------------------------- events -- */

#define MAX_EVENTS 32

typedef struct rec {
    int n;
    tern_link_event_type_t type[MAX_EVENTS];
    const char *link[MAX_EVENTS];
    const char *from[MAX_EVENTS];
    tern_err_t err[MAX_EVENTS];
} rec_t;

static void on_event(void *arg, const tern_link_event_t *ev)
{
    rec_t *r = arg;
    if (r->n >= MAX_EVENTS) {
        fail_msg("too many events");
        return;
    }
    r->type[r->n] = ev->type;
    r->link[r->n] = ev->link->name;
    r->from[r->n] = ev->from != NULL ? ev->from->name : NULL;
    r->err[r->n] = ev->err;
    r->n++;
}

static void expect_event(const rec_t *r, int i, tern_link_event_type_t type, const char *link,
                         const char *from, tern_err_t err)
{
    if (i >= r->n) {
        fail_msg("event %d missing (%d recorded)", i, r->n);
        return;
    }
    assert_int_equal(r->type[i], type);
    assert_true(strcmp(r->link[i], link) == 0);
    if (from == NULL) {
        assert_null(r->from[i]);
    } else {
        assert_non_null(r->from[i]);
        assert_true(strcmp(r->from[i], from) == 0);
    }
    assert_int_equal(r->err[i], err);
}

/* --------------------------------------------------------------- fixture -- */

/* eth (rank 0, free), wifi (rank 1, metered), lte (rank 2, expensive); stable 5 s;
 * backoff 100, 200, 400 ... ms, capped at 1600. */
typedef struct fx {
    fake_t f[3];
    tern_link_t links[3];
    tern_backoff_t bo[3];
    tern_rng_t rng;
    tern_link_mgr_t m;
    rec_t rec;
    tern_ms_t now;
} fx_t;

#define ETH  0
#define WIFI 1
#define LTE  2

static void fx_init(fx_t *x, uint32_t max_attempts)
{
    memset(x, 0, sizeof *x);
    x->rng.ops = &zero_rng_ops;
    tern_backoff_config_t bc = { TERN_BACKOFF_ADDITIVE, 100, 1600, 0, max_attempts };
    static const char *const names[3] = { "eth0", "wlan0", "lte0" };
    static const tern_link_kind_t kinds[3] = { TERN_LINK_ETHERNET, TERN_LINK_WIFI,
                                               TERN_LINK_CELLULAR };
    static const tern_link_cost_t costs[3] = { TERN_LINK_COST_FREE, TERN_LINK_COST_METERED,
                                               TERN_LINK_COST_EXPENSIVE };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tern_backoff_init(&x->bo[i], &bc, &x->rng), TERN_OK);
        x->links[i].name = names[i];
        x->links[i].kind = kinds[i];
        x->links[i].cost = costs[i];
        x->links[i].mtu = 1500;
        x->links[i].rank = (uint8_t)i;
        x->links[i].ops = &fake_ops;
        x->links[i].ctx = &x->f[i];
        x->links[i].backoff = &x->bo[i];
    }
    x->now = 0xFFFFF000u; /* close to the wrap: every comparison must be wrap-safe */
}

static void fx_start(fx_t *x)
{
    tern_link_config_t cfg = { 5000, on_event, &x->rec };
    assert_int_equal(tern_link_init(&x->m, x->links, 3, &cfg), TERN_OK);
}

static const char *active_name(const fx_t *x)
{
    const tern_link_t *l = tern_link_active(&x->m);
    return l != NULL ? l->name : "";
}

static tern_err_t poll_at(fx_t *x, uint32_t advance)
{
    x->now += advance;
    return tern_link_poll(&x->m, x->now);
}

/* ----------------------------------------------------------------- tests -- */

static void test_init_checks(void **state)
{
    (void)state;
    fx_t x;
    fx_init(&x, 0);
    tern_link_config_t cfg = { 5000, NULL, NULL };
    assert_int_equal(tern_link_init(&x.m, x.links, 0, &cfg), TERN_ERR_INVAL);
    assert_int_equal(tern_link_init(&x.m, NULL, 3, &cfg), TERN_ERR_INVAL);
    assert_int_equal(tern_link_init(&x.m, x.links, 3, NULL), TERN_ERR_INVAL);
    x.links[1].backoff = NULL; /* no backoff, no retry timing: refused */
    assert_int_equal(tern_link_init(&x.m, x.links, 3, &cfg), TERN_ERR_INVAL);
    x.links[1].backoff = &x.bo[1];
    x.links[2].ops = NULL;
    assert_int_equal(tern_link_init(&x.m, x.links, 3, &cfg), TERN_ERR_INVAL);
    x.links[2].ops = &fake_ops;
    assert_int_equal(tern_link_init(&x.m, x.links, 3, &cfg), TERN_OK);
    assert_null(tern_link_active(&x.m));
    tern_transport_t t;
    assert_int_equal(tern_link_transport(&x.m, &t), TERN_ERR_STATE);
    assert_false(tern_link_bulk_allowed(&x.m));
    assert_int_equal(tern_link_report_failure(&x.m, TERN_ERR_IO), TERN_ERR_STATE);
    assert_true(strcmp(tern_link_kind_name(TERN_LINK_LORA), "lora") == 0);
}

static void test_ranking(void **state)
{
    (void)state;
    fx_t x;
    fx_init(&x, 0);
    /* eth and wifi tie on rank: the cheaper wins, whatever the array order */
    x.links[LTE].rank = 3;
    x.links[WIFI].rank = 1;
    x.links[ETH].rank = 1;
    x.f[ETH].connect_ms = 30;
    fx_start(&x);
    assert_int_equal(poll_at(&x, 0), TERN_ERR_AGAIN);
    assert_int_equal(x.f[ETH].starts, 1);
    assert_int_equal(x.f[WIFI].starts, 0);
    assert_int_equal(x.f[LTE].starts, 0);
    assert_null(tern_link_active(&x.m));
    assert_int_equal(poll_at(&x, 29), TERN_ERR_AGAIN);
    assert_int_equal(poll_at(&x, 1), TERN_OK);
    assert_true(strcmp(active_name(&x), "eth0") == 0);
    assert_int_equal(tern_link_active(&x.m)->mtu, 1500);
    assert_true(tern_link_bulk_allowed(&x.m));
    tern_transport_t t;
    assert_int_equal(tern_link_transport(&x.m, &t), TERN_OK);
    assert_true(t.ctx == &x.f[ETH]);
    assert_int_equal(x.rec.n, 1);
    expect_event(&x.rec, 0, TERN_LINK_EVENT_UP, "eth0", NULL, TERN_OK);
    /* nothing else is opened while the best link is up */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(poll_at(&x, 1000), TERN_OK);
    }
    assert_int_equal(x.f[WIFI].starts + x.f[LTE].starts, 0);
    tern_link_close_all(&x.m);
    assert_false(x.f[ETH].open);
    assert_null(tern_link_active(&x.m));
}

static void test_failover_within_one_poll(void **state)
{
    (void)state;
    fx_t x;
    fx_init(&x, 0);
    fx_start(&x);
    assert_int_equal(poll_at(&x, 0), TERN_OK);
    assert_true(strcmp(active_name(&x), "eth0") == 0);
    /* eth drops: wifi is up again before the poll returns */
    x.f[ETH].fail = TERN_ERR_IO;
    assert_int_equal(poll_at(&x, 10), TERN_OK);
    assert_true(strcmp(active_name(&x), "wlan0") == 0);
    assert_false(x.f[ETH].open);
    assert_false(tern_link_bulk_allowed(&x.m)); /* metered */
    assert_int_equal(x.rec.n, 4);
    expect_event(&x.rec, 1, TERN_LINK_EVENT_DOWN, "eth0", NULL, TERN_ERR_IO);
    expect_event(&x.rec, 2, TERN_LINK_EVENT_UP, "wlan0", NULL, TERN_OK);
    expect_event(&x.rec, 3, TERN_LINK_EVENT_SWITCHED, "wlan0", "eth0", TERN_OK);
    /* a keepalive timeout seen above: reported, acted on at the next poll; eth is still
     * waiting for its retry, so lte takes over */
    assert_int_equal(tern_link_report_failure(&x.m, TERN_OK), TERN_ERR_INVAL);
    assert_int_equal(tern_link_report_failure(&x.m, TERN_ERR_TIMEOUT), TERN_OK);
    /* and a caller asking how long it may sleep is told to poll now, not to sleep until
     * the link's own socket wakes it (a broker that vanished never will) */
    assert_int_equal(tern_link_next_timeout(&x.m, x.now), 0);
    assert_int_equal(poll_at(&x, 10), TERN_OK);
    assert_true(strcmp(active_name(&x), "lte0") == 0);
    assert_false(x.f[WIFI].open);
    expect_event(&x.rec, 4, TERN_LINK_EVENT_DOWN, "wlan0", NULL, TERN_ERR_TIMEOUT);
    expect_event(&x.rec, 5, TERN_LINK_EVENT_UP, "lte0", NULL, TERN_OK);
    expect_event(&x.rec, 6, TERN_LINK_EVENT_SWITCHED, "lte0", "wlan0", TERN_OK);
}

static void test_connect_failures_fall_through(void **state)
{
    (void)state;
    fx_t x;
    fx_init(&x, 0);
    x.f[ETH].start_result = TERN_ERR_IO;         /* cannot even start */
    x.f[WIFI].connect_result = TERN_ERR_CONNECT; /* starts, refused at once */
    fx_start(&x);
    assert_int_equal(poll_at(&x, 0), TERN_OK);
    assert_true(strcmp(active_name(&x), "lte0") == 0);
    assert_int_equal(x.f[ETH].starts, 1);
    assert_int_equal(x.f[WIFI].starts, 1);
    assert_false(x.f[WIFI].open);
    assert_int_equal(x.rec.n, 3);
    expect_event(&x.rec, 0, TERN_LINK_EVENT_DOWN, "eth0", NULL, TERN_ERR_IO);
    expect_event(&x.rec, 1, TERN_LINK_EVENT_DOWN, "wlan0", NULL, TERN_ERR_CONNECT);
    expect_event(&x.rec, 2, TERN_LINK_EVENT_UP, "lte0", NULL, TERN_OK);
}

static void test_backoff_times_retries(void **state)
{
    (void)state;
    fx_t x;
    fx_init(&x, 4);
    for (int i = 0; i < 3; i++) {
        x.f[i].connect_result = TERN_ERR_CONNECT;
    }
    fx_start(&x);
    assert_int_equal(poll_at(&x, 0), TERN_ERR_CONNECT);
    assert_int_equal(tern_link_next_timeout(&x.m, x.now), 100);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(x.f[i].starts, 1);
    }
    /* the backoff gives 100, 200, 400, 800 ms, then gives up (max_attempts 4) */
    static const uint32_t delays[4] = { 100, 200, 400, 800 };
    for (int k = 0; k < 4; k++) {
        for (uint32_t t = 1; t < delays[k]; t++) {
            assert_int_equal(poll_at(&x, 1), TERN_ERR_CONNECT);
        }
        for (int i = 0; i < 3; i++) {
            assert_int_equal(x.f[i].starts, k + 1);
        }
        assert_int_equal(poll_at(&x, 1), TERN_ERR_CONNECT);
        for (int i = 0; i < 3; i++) {
            assert_int_equal(x.f[i].starts, k + 2);
        }
    }
    for (int t = 0; t < 100; t++) {
        assert_int_equal(poll_at(&x, 1000), TERN_ERR_CONNECT);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(x.f[i].starts, 5);
        assert_false(x.f[i].open);
    }
    assert_int_equal(tern_link_next_timeout(&x.m, x.now), UINT32_MAX); /* all gave up */
    /* close_all forgives: the links are tried again, and lte now connects */
    tern_link_close_all(&x.m);
    x.f[LTE].connect_result = TERN_OK;
    assert_int_equal(poll_at(&x, 0), TERN_OK);
    assert_true(strcmp(active_name(&x), "lte0") == 0);
}

/* eth fails, wifi takes over; eth comes back in a background trial after its backoff. */
static void failover_to_wifi(fx_t *x)
{
    fx_start(x);
    assert_int_equal(poll_at(x, 0), TERN_OK);
    x->f[ETH].fail = TERN_ERR_IO;
    assert_int_equal(poll_at(x, 0), TERN_OK);
    assert_true(strcmp(active_name(x), "wlan0") == 0);
    x->f[ETH].fail = TERN_OK;
    x->rec.n = 0;
}

static void test_failback_after_stable_time(void **state)
{
    (void)state;
    fx_t x;
    fx_init(&x, 0);
    failover_to_wifi(&x);
    assert_int_equal(tern_link_next_timeout(&x.m, x.now), 100);
    assert_int_equal(poll_at(&x, 99), TERN_OK);
    assert_int_equal(tern_link_next_timeout(&x.m, x.now), 1);
    assert_int_equal(x.f[ETH].starts, 1); /* the backoff's 100 ms not over */
    assert_int_equal(poll_at(&x, 1), TERN_OK);
    assert_int_equal(x.f[ETH].starts, 2); /* trial connection in the background */
    assert_true(x.f[ETH].open);
    assert_true(strcmp(active_name(&x), "wlan0") == 0);
    assert_int_equal(tern_link_next_timeout(&x.m, x.now), 5000); /* the stable time */
    /* up, but not yet stable: wifi stays */
    for (int i = 0; i < 49; i++) {
        assert_int_equal(poll_at(&x, 100), TERN_OK);
        assert_true(strcmp(active_name(&x), "wlan0") == 0);
    }
    assert_int_equal(poll_at(&x, 99), TERN_OK);
    assert_true(strcmp(active_name(&x), "wlan0") == 0);
    assert_int_equal(x.rec.n, 0);
    assert_int_equal(poll_at(&x, 1), TERN_OK); /* 5000 ms up */
    assert_true(strcmp(active_name(&x), "eth0") == 0);
    assert_int_equal(x.f[ETH].starts, 2); /* the trial connection is the one kept */
    assert_false(x.f[WIFI].open);
    assert_true(tern_link_bulk_allowed(&x.m));
    assert_int_equal(tern_link_next_timeout(&x.m, x.now), UINT32_MAX); /* the best is up */
    assert_int_equal(x.rec.n, 3);
    expect_event(&x.rec, 0, TERN_LINK_EVENT_UP, "eth0", NULL, TERN_OK);
    expect_event(&x.rec, 1, TERN_LINK_EVENT_SWITCHED, "eth0", "wlan0", TERN_OK);
    expect_event(&x.rec, 2, TERN_LINK_EVENT_DOWN, "wlan0", NULL, TERN_OK);
    /* lte was never touched */
    assert_int_equal(x.f[LTE].starts, 0);
}

static void test_no_failback_while_flapping(void **state)
{
    (void)state;
    fx_t x;
    fx_init(&x, 0);
    failover_to_wifi(&x);
    /* eth comes up for 2 s at a time and drops again, each time after its backoff:
     * 200, 400, 800, 1600, 1600 ms (attempt 0's 100 ms was used by the first failure) */
    static const uint32_t waits[6] = { 100, 200, 400, 800, 1600, 1600 };
    for (int k = 0; k < 6; k++) {
        for (uint32_t t = 1; t < waits[k]; t++) {
            assert_int_equal(poll_at(&x, 1), TERN_OK);
        }
        assert_int_equal(x.f[ETH].starts, k + 1);
        assert_int_equal(poll_at(&x, 1), TERN_OK);
        assert_int_equal(x.f[ETH].starts, k + 2);
        assert_true(x.f[ETH].open);
        for (int i = 0; i < 20; i++) {
            assert_int_equal(poll_at(&x, 100), TERN_OK);
        }
        x.f[ETH].fail = TERN_ERR_IO;
        assert_int_equal(poll_at(&x, 0), TERN_OK);
        assert_false(x.f[ETH].open);
        x.f[ETH].fail = TERN_OK;
    }
    assert_true(strcmp(active_name(&x), "wlan0") == 0);
    assert_int_equal(x.rec.n, 0); /* wifi never left */
    /* once eth holds for the stable time, it wins */
    for (uint32_t t = 1; t < 1600; t++) {
        assert_int_equal(poll_at(&x, 1), TERN_OK);
    }
    assert_int_equal(poll_at(&x, 1), TERN_OK);
    assert_true(x.f[ETH].open);
    assert_int_equal(poll_at(&x, 5000), TERN_OK);
    assert_true(strcmp(active_name(&x), "eth0") == 0);
}

static void test_failback_with_probe(void **state)
{
    (void)state;
    fx_t x;
    fx_init(&x, 0);
    x.links[ETH].ops = &fake_probe_ops;
    x.f[ETH].probe_result = TERN_ERR_TIMEOUT;
    failover_to_wifi(&x);
    assert_int_equal(poll_at(&x, 100), TERN_OK);
    assert_int_equal(x.f[ETH].probes, 1); /* probed after the backoff, not connected */
    assert_int_equal(x.f[ETH].starts, 1);
    assert_false(x.f[ETH].open);
    assert_int_equal(poll_at(&x, 199), TERN_OK);
    assert_int_equal(x.f[ETH].probes, 1);
    x.f[ETH].probe_result = TERN_ERR_AGAIN; /* an answer is on its way */
    assert_int_equal(poll_at(&x, 1), TERN_OK);
    assert_int_equal(x.f[ETH].probes, 2);
    x.f[ETH].probe_result = TERN_OK;
    assert_int_equal(poll_at(&x, 10), TERN_OK); /* reachable from here */
    assert_int_equal(poll_at(&x, 3000), TERN_OK);
    x.f[ETH].probe_result = TERN_ERR_TIMEOUT; /* flaps: the stable time starts over */
    assert_int_equal(poll_at(&x, 1000), TERN_OK);
    x.f[ETH].probe_result = TERN_OK;
    assert_int_equal(poll_at(&x, 400), TERN_OK); /* backoff: 400 ms */
    assert_int_equal(poll_at(&x, 4999), TERN_OK);
    assert_true(strcmp(active_name(&x), "wlan0") == 0);
    assert_int_equal(x.f[ETH].starts, 1);
    x.f[ETH].connect_ms = 50;
    assert_int_equal(poll_at(&x, 1), TERN_OK); /* stable: connect it in the background */
    assert_int_equal(x.f[ETH].starts, 2);
    assert_true(strcmp(active_name(&x), "wlan0") == 0);
    assert_int_equal(poll_at(&x, 50), TERN_OK); /* up: proven already, switch at once */
    assert_true(strcmp(active_name(&x), "eth0") == 0);
    assert_false(x.f[WIFI].open);
    assert_int_equal(x.rec.n, 3);
    expect_event(&x.rec, 0, TERN_LINK_EVENT_UP, "eth0", NULL, TERN_OK);
    expect_event(&x.rec, 1, TERN_LINK_EVENT_SWITCHED, "eth0", "wlan0", TERN_OK);
    expect_event(&x.rec, 2, TERN_LINK_EVENT_DOWN, "wlan0", NULL, TERN_OK);
}

static void test_failover_uses_background_link(void **state)
{
    (void)state;
    fx_t x;
    fx_init(&x, 0);
    x.links[ETH].rank = 0;
    failover_to_wifi(&x);
    x.f[ETH].connect_ms = 1000;
    assert_int_equal(poll_at(&x, 100), TERN_OK); /* eth trial connecting */
    assert_true(x.f[ETH].open);
    /* wifi dies while eth is still connecting: eth becomes the active attempt */
    x.f[WIFI].fail = TERN_ERR_CLOSED;
    assert_int_equal(poll_at(&x, 100), TERN_ERR_AGAIN);
    assert_null(tern_link_active(&x.m));
    assert_int_equal(x.f[ETH].starts, 2); /* not restarted */
    assert_int_equal(x.f[LTE].starts, 0);
    assert_int_equal(poll_at(&x, 899), TERN_ERR_AGAIN);
    assert_int_equal(poll_at(&x, 1), TERN_OK); /* 1000 ms after the trial began */
    assert_true(strcmp(active_name(&x), "eth0") == 0);
    assert_int_equal(x.rec.n, 3);
    expect_event(&x.rec, 0, TERN_LINK_EVENT_DOWN, "wlan0", NULL, TERN_ERR_CLOSED);
    expect_event(&x.rec, 1, TERN_LINK_EVENT_UP, "eth0", NULL, TERN_OK);
    expect_event(&x.rec, 2, TERN_LINK_EVENT_SWITCHED, "eth0", "wlan0", TERN_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_checks),
        cmocka_unit_test(test_ranking),
        cmocka_unit_test(test_failover_within_one_poll),
        cmocka_unit_test(test_connect_failures_fall_through),
        cmocka_unit_test(test_backoff_times_retries),
        cmocka_unit_test(test_failback_after_stable_time),
        cmocka_unit_test(test_no_failback_while_flapping),
        cmocka_unit_test(test_failback_with_probe),
        cmocka_unit_test(test_failover_uses_background_link),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
