/* SPDX-License-Identifier: Apache-2.0 */
/* The link manager over two real TCP links from distinct loopback sources to a
 * mosquitto: the preferred one is cut with the fault-injecting wrapper, the
 * manager switches to the other, then fails back once the first is healed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "tern/backoff.h"
#include "tern/link.h"
#include "tern/port/posix_link.h"
#include "tern_broker.h"
#include "tern_test.h"
#include "tern_test_net.h"

static tern_err_t zero_fill(void *ctx, void *buf, size_t len)
{
    (void)ctx;
    memset(buf, 0, len);
    return TERN_OK;
}

static const tern_rng_ops_t zero_rng_ops = { "zero", zero_fill };

/* -------------------------------------------------------------- the events -- */

typedef struct rec {
    int n;
    char line[16][64];
} rec_t;

static void on_event(void *arg, const tern_link_event_t *ev)
{
    rec_t *r = arg;
    static const char *const types[] = { "up", "down", "switched" };
    if (r->n < 16) {
        snprintf(r->line[r->n], sizeof r->line[0], "%s %s%s%s %s", types[ev->type], ev->link->name,
                 ev->from != NULL ? " from " : "", ev->from != NULL ? ev->from->name : "",
                 tern_err_name(ev->err));
    }
    r->n++;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Poll @p m until @p want is the active link (within @p timeout_ms). */
static bool poll_until_active(tern_link_mgr_t *m, const tern_link_t *want, uint32_t timeout_ms)
{
    tern_ms_t end = tern_deadline_in(tern_test_now_ms(), timeout_ms);
    while (!tern_deadline_passed(tern_test_now_ms(), end)) {
        (void)tern_link_poll(m, tern_test_now_ms());
        if (tern_link_active(m) == want) {
            return true;
        }
        sleep_ms(5);
    }
    return false;
}

/* MQTT CONNECT/CONNACK as @p id over the active link; the broker must see it come
 * from @p source. */
static void hello(tern_broker_t *b, tern_link_mgr_t *m, tern_posix_link_t *tl, const char *source,
                  const char *id)
{
    tern_transport_t tr;
    assert_int_equal(tern_link_transport(m, &tr), TERN_OK);
    int fd = tern_posix_link_fd(tl);
    assert_true(fd >= 0);
    tern_err_t err = tern_test_mqtt_hello(&tr, fd, id);
    struct sockaddr_in me;
    socklen_t len = sizeof me;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &len), 0);
    char needle[128];
    snprintf(needle, sizeof needle, "New client connected from %s:%u as %s", source,
             (unsigned)ntohs(me.sin_port), id);
    bool seen = err == TERN_OK && tern_broker_log_wait(b, needle, 2000);
    if (!seen) {
        tern_broker_print_log(b);
        fail_msg("hello as %s: %s, '%s' %s", id, tern_err_name(err), needle,
                 seen ? "seen" : "not seen");
    }
}

static void test_cut_switch_failback(void **state)
{
    (void)state;
    tern_test_net_init();
    static tern_broker_t broker;
    assert_int_equal(tern_broker_start(&broker, NULL), TERN_OK);

    static tern_posix_link_t tl[2];
    static const char *const sources[2] = { "127.0.0.1", "127.0.0.2" };
    tern_rng_t rng = { &zero_rng_ops, NULL };
    tern_backoff_config_t bc = { TERN_BACKOFF_ADDITIVE, 200, 2000, 0, 0 };
    tern_backoff_t bo[2];
    tern_link_t links[2];
    memset(links, 0, sizeof links);
    static const char *const names[2] = { "primary", "backup" };
    for (int i = 0; i < 2; i++) {
        tern_posix_link_init(&tl[i], "127.0.0.1", broker.port, sources[i], 2000, NULL, NULL);
        assert_int_equal(tern_backoff_init(&bo[i], &bc, &rng), TERN_OK);
        links[i].name = names[i];
        links[i].kind = i == 0 ? TERN_LINK_ETHERNET : TERN_LINK_CELLULAR;
        links[i].cost = i == 0 ? TERN_LINK_COST_FREE : TERN_LINK_COST_METERED;
        links[i].mtu = 1500;
        links[i].rank = (uint8_t)i;
        links[i].ops = &tern_posix_link_ops;
        links[i].ctx = &tl[i];
        links[i].backoff = &bo[i];
    }
    rec_t rec;
    memset(&rec, 0, sizeof rec);
    tern_link_config_t cfg = { 500, on_event, &rec };
    tern_link_mgr_t m;
    assert_int_equal(tern_link_init(&m, links, 2, &cfg), TERN_OK);

    /* the preferred link comes up and carries MQTT */
    assert_true(poll_until_active(&m, &links[0], 3000));
    assert_true(tern_link_bulk_allowed(&m));
    hello(&broker, &m, &tl[0], "127.0.0.1", "tern-link-a");

    /* cut it: the next write fails, the caller reports it, one poll starts the backup */
    assert_int_equal(tern_posix_link_fault(&tl[0], TERN_POSIX_FAULTY_CUT, 0), TERN_OK);
    tern_transport_t tr;
    assert_int_equal(tern_link_transport(&m, &tr), TERN_OK);
    uint8_t ping[2] = { 0xC0, 0x00 };
    size_t sent = 0;
    tern_err_t err = tr.ops->send(tr.ctx, ping, sizeof ping, &sent);
    assert_int_equal(err, TERN_ERR_IO);
    assert_int_equal(tern_link_report_failure(&m, err), TERN_OK);
    tern_err_t r = tern_link_poll(&m, tern_test_now_ms());
    assert_true(r == TERN_OK || r == TERN_ERR_AGAIN);
    assert_true(tern_posix_link_fd(&tl[1]) >= 0); /* backup under way in the same poll */
    assert_int_equal(tern_posix_link_fd(&tl[0]), -1);
    assert_true(poll_until_active(&m, &links[1], 3000));
    assert_false(tern_link_bulk_allowed(&m));
    hello(&broker, &m, &tl[1], "127.0.0.2", "tern-link-b");

    /* healed: after its backoff and 500 ms of stable trial connection, back to primary */
    assert_int_equal(tern_posix_link_fault(&tl[0], TERN_POSIX_FAULTY_PASS, 0), TERN_OK);
    tern_ms_t t0 = tern_test_now_ms();
    assert_true(poll_until_active(&m, &links[0], 5000));
    assert_true(tern_time_elapsed(tern_test_now_ms(), t0) >= 500);
    assert_int_equal(tern_posix_link_fd(&tl[1]), -1);
    hello(&broker, &m, &tl[0], "127.0.0.1", "tern-link-a2");

    static const char *const want[] = {
        "up primary TERN_OK",  "down primary TERN_ERR_IO",
        "up backup TERN_OK",   "switched backup from primary TERN_OK",
        "up primary TERN_OK",  "switched primary from backup TERN_OK",
        "down backup TERN_OK",
    };
    assert_int_equal(rec.n, 7);
    for (int i = 0; i < 7; i++) {
        if (strcmp(rec.line[i], want[i]) != 0) {
            fail_msg("event %d: '%s', want '%s'", i, rec.line[i], want[i]);
        }
    }
    tern_link_close_all(&m);
    tern_broker_close(&broker);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cut_switch_failback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
