/* SPDX-License-Identifier: Apache-2.0 */
/* The link manager over two real TCP links from distinct loopback sources to a
 * mosquitto: the preferred one is cut with the fault-injecting wrapper, the
 * manager switches to the other, then fails back once the first is healed. And a TLS
 * link whose handshake fails still says why after the manager closed it. */
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
#include "tern_testpki.h"

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

/* What the application sees when the link goes down: the link's own account. */
typedef struct why {
    int downs;
    tern_err_t err;
    tern_posix_tls_failure_t failure;
    char text[TERN_POSIX_CONN_DESCRIBE_MAX];
} why_t;

static void on_down(void *arg, const tern_link_event_t *ev)
{
    why_t *w = arg;
    if (ev->type == TERN_LINK_EVENT_DOWN) {
        w->downs++;
        w->err = ev->err;
        /* the manager closed the link before telling us: the account survived that */
        w->failure = tern_posix_link_failure(ev->link->ctx);
        assert_int_equal(tern_posix_link_describe(ev->link->ctx, w->text, sizeof w->text), TERN_OK);
    }
}

/* A TLS link to a server whose CA we do not trust: the manager gives it up, and the
 * link tells which check failed and on which certificate; trusting the right CA, it
 * comes up and has nothing to tell. */
static void test_tls_failure_described(void **state)
{
    (void)state;
    tern_test_net_init();
    static tern_testpki_t pki;
    static tern_broker_t broker;
    assert_int_equal(tern_testpki_make(&pki), TERN_OK);
    tern_broker_config_t bcfg;
    tern_broker_config_default(&bcfg);
    bcfg.ntls = 1;
    bcfg.tls[0] = (tern_broker_tls_t){ pki.ca.crt, pki.server.crt, pki.server.key, false };
    assert_int_equal(tern_broker_start(&broker, &bcfg), TERN_OK);

    tern_posix_tls_config_t tls = { .ca_file = pki.other_ca.crt, .hostname = "localhost" };
    static tern_posix_link_t tl;
    tern_posix_link_init(&tl, "127.0.0.1", broker.tls_port[0], "127.0.0.1", 2000, &tls, NULL);
    char text[64];
    assert_int_equal(tern_posix_link_describe(&tl, text, sizeof text), TERN_OK);
    assert_string_equal(text, ""); /* nothing tried yet */
    assert_int_equal(tern_posix_link_failure(&tl), TERN_POSIX_TLS_FAIL_NONE);

    tern_rng_t rng = { &zero_rng_ops, NULL };
    tern_backoff_config_t bc = { TERN_BACKOFF_ADDITIVE, 100, 1000, 0, 0 };
    tern_backoff_t bo;
    assert_int_equal(tern_backoff_init(&bo, &bc, &rng), TERN_OK);
    tern_link_t link;
    memset(&link, 0, sizeof link);
    link.name = "tls";
    link.kind = TERN_LINK_ETHERNET;
    link.mtu = 1500;
    link.ops = &tern_posix_link_ops;
    link.ctx = &tl;
    link.backoff = &bo;
    why_t w;
    memset(&w, 0, sizeof w);
    tern_link_config_t cfg = { 0, on_down, &w };
    tern_link_mgr_t m;
    assert_int_equal(tern_link_init(&m, &link, 1, &cfg), TERN_OK);
    tern_ms_t end = tern_deadline_in(tern_test_now_ms(), 5000);
    while (w.downs == 0 && !tern_deadline_passed(tern_test_now_ms(), end)) {
        (void)tern_link_poll(&m, tern_test_now_ms());
        tern_posix_link_wait(&tl, false, 20);
    }
    assert_int_equal(w.downs, 1);
    assert_int_equal(w.err, TERN_ERR_CERT);
    assert_int_equal(w.failure, TERN_POSIX_TLS_FAIL_UNKNOWN_CA);
    printf("  link down: %s\n", w.text);
    assert_non_null(strstr(w.text, tern_posix_tls_failure_str(TERN_POSIX_TLS_FAIL_UNKNOWN_CA)));
    assert_non_null(strstr(w.text, "subject \"CN=localhost\", issuer \"CN=tern test CA\""));
    assert_int_equal(tern_posix_link_describe(&tl, text, sizeof text), TERN_ERR_TOO_SMALL);
    assert_int_equal(strlen(text), sizeof text - 1); /* cut, terminated */

    /* the right CA: the next attempt comes up, and the account is gone */
    tls.ca_file = pki.ca.crt;
    assert_true(poll_until_active(&m, &link, 3000));
    assert_int_equal(tern_posix_link_failure(&tl), TERN_POSIX_TLS_FAIL_NONE);
    assert_int_equal(tern_posix_link_describe(&tl, text, sizeof text), TERN_OK);
    assert_string_equal(text, "");
    tern_link_close_all(&m);
    tern_broker_close(&broker);
    tern_testpki_remove(&pki);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cut_switch_failback),
        cmocka_unit_test(test_tls_failure_described),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
