/* SPDX-License-Identifier: Apache-2.0 */
/* The fleet side of device certificates and trust stores (certs.h). */
#define _GNU_SOURCE /* strnlen */
#include "certs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tern/cbor.h"
#include "tern/wire.h"

#define FLIGHTS_MAX 1024 /* answers awaiting their PUBACK; older ones are forgotten */

/* One job per (device, kind). */
static int job_cmp(const void *pa, const void *pb)
{
    const ternd_certs_job_t *a = pa, *b = pb;
    int c = strcmp(a->id, b->id);
    return c != 0 ? c : (int)a->kind - (int)b->kind;
}

int ternd_certs_init(ternd_certs_t *c, ternd_store_t *store, ternd_ca_t *ca, uint32_t lifetime_s,
                     ternd_retain_fn publish, void *publish_ctx, bool verbose)
{
    memset(c, 0, sizeof *c);
    c->store = store;
    c->ca = ca;
    c->lifetime_s = lifetime_s ? lifetime_s : TERND_CA_LIFETIME_DEFAULT;
    c->publish = publish;
    c->publish_ctx = publish_ctx;
    c->verbose = verbose;
    ternd_devqueue_init(&c->queue, sizeof(ternd_certs_job_t), job_cmp);
    return pthread_mutex_init(&c->lock, NULL) == 0 ? 0 : -1;
}

void ternd_certs_free(ternd_certs_t *c)
{
    pthread_mutex_destroy(&c->lock);
    ternd_devqueue_free(&c->queue);
    free(c->flights);
    c->flights = NULL;
    c->n_flights = c->cap_flights = 0;
}

/* ---------------------------------------------------------------- queue -- */

/* One job per (device, kind): it publishes the latest row when it runs. At the tail, or at
 * the head if @p back (a job the drain took and could not answer now). */
static void push_locked(ternd_certs_t *c, const ternd_certs_job_t *job, bool back)
{
    if (ternd_devqueue_push(&c->queue, job, back, NULL) < 0) {
        ternd_log("out of memory: %s for %s not queued (sent on the next connect)",
                  job->kind == TERND_PUB_CERT ? "certificate" : "trust store", job->id);
    }
}

static void push(ternd_certs_t *c, const char *id, ternd_pub_kind_t kind)
{
    size_t len = id ? strnlen(id, TERN_WIRE_ID_MAX + 1) : 0;
    if (!tern_wire_id_ok(id, len)) {
        ternd_log("certs: ignoring the invalid device id '%.64s'", id ? id : "");
        return;
    }
    ternd_certs_job_t job;
    memset(&job, 0, sizeof job);
    memcpy(job.id, id, len);
    job.kind = kind;
    pthread_mutex_lock(&c->lock);
    push_locked(c, &job, false);
    pthread_mutex_unlock(&c->lock);
}

void ternd_certs_trust_changed(void *ctx, const char *device_id)
{
    push(ctx, device_id, TERND_PUB_TRUST);
}

static void on_pending(void *ctx, const char *device, ternd_pub_kind_t kind)
{
    push(ctx, device, kind);
}

int ternd_certs_resume(ternd_certs_t *c)
{
    if (ternd_store_pending(c->store, on_pending, c) != 0) {
        ternd_log("certs: store failed: %s", ternd_store_error(c->store));
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------- requests -- */

static int why_f(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int why_f(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return 1;
}

static int store_failed(ternd_certs_t *c, const char *what, char *why, size_t cap)
{
    snprintf(why, cap, "%s: %s", what, ternd_store_error(c->store));
    (void)ternd_store_rollback(c->store);
    return -1;
}

int ternd_certs_request(ternd_certs_t *c, const char *id, const uint8_t *csr, size_t len,
                        uint64_t request, int64_t now_ms, char *why, size_t cap)
{
    if (c->ca == NULL) {
        c->stats.refused++;
        return why_f(why, cap, "ternd has no CA (start it with --ca-cert and --ca-key)");
    }
    ternd_csr_info_t info;
    ternd_ca_result_t r = ternd_ca_check(csr, len, id, &info, why, cap);
    if (r != TERND_CA_OK) {
        c->stats.refused++;
        return 1;
    }
    int64_t now = now_ms / 1000;
    ternd_cert_row_t latest, found;
    int have = ternd_store_cert_latest(c->store, id, &latest);
    if (have < 0) {
        return store_failed(c, "latest certificate", why, cap);
    }
    char latest_serial[sizeof latest.serial] = "";
    uint64_t latest_request = 0;
    if (have) {
        memcpy(latest_serial, latest.serial, sizeof latest_serial);
        latest_request = latest.request;
    }
    int f = ternd_store_cert_find(c->store, id, request, info.key_id, &found);
    if (f < 0) {
        return store_failed(c, "find certificate", why, cap);
    }
    if (have && request < latest_request && f == 1) {
        c->stats.refused++;
        why_f(why, cap,
              "request %llu is older than request %llu, already answered (certificate %s): a "
              "late duplicate, ignored",
              (unsigned long long)request, (unsigned long long)latest_request, latest_serial);
        return 2;
    }
    if (have && request < latest_request) {
        /* A key never seen, numbered below the last answer: the device lost its identity
         * state (a factory reset, a new flash) and counts from 1 again. Refusing would leave
         * it on its factory certificate for good. */
        ternd_log("%s: request %llu with a new key is below request %llu: the device's "
                  "identity state was reset; answering it",
                  id, (unsigned long long)request, (unsigned long long)latest_request);
    }
    if (f == 1 && strcmp(found.serial, latest_serial) != 0) {
        c->stats.refused++;
        why_f(why, cap,
              "request %llu with this key was answered by certificate %s, since replaced by "
              "certificate %s for another key: a late duplicate, ignored",
              (unsigned long long)request, found.serial, latest_serial);
        return 2;
    }
    if (f == 1 && found.not_after > now) {
        /* The device asks again for what it was given: the same answer, published again. */
        char until[32];
        ternd_iso_time(found.not_after, until, sizeof until);
        if (ternd_store_begin(c->store) != 0 || ternd_store_seen(c->store, id, now_ms) != 0 ||
            ternd_store_commit(c->store) != 0) {
            return store_failed(c, "seen", why, cap);
        }
        c->stats.again++;
        ternd_log("%s: request %llu answered again with certificate %s (issued before, valid "
                  "until %s)",
                  id, (unsigned long long)request, found.serial, until);
        push(c, id, TERND_PUB_CERT);
        return 0;
    }

    ternd_cert_t cert;
    r = ternd_ca_issue(c->ca, id, csr, len, c->lifetime_s, now, &cert, why, cap);
    if (r != TERND_CA_OK) {
        c->stats.refused++;
        return 1;
    }
    ternd_cert_row_t row;
    memset(&row, 0, sizeof row);
    memcpy(row.device, id, strlen(id) + 1); /* checked by ternd_ca_check() */
    row.request = request;
    memcpy(row.key_id, cert.key_id, sizeof row.key_id);
    memcpy(row.serial, cert.serial, sizeof cert.serial);
    row.not_before = cert.not_before;
    row.not_after = cert.not_after;
    row.issued_ms = now_ms;
    row.chain = cert.chain;
    row.chain_len = cert.chain_len;
    int rc = ternd_store_begin(c->store);
    if (rc == 0) {
        rc = ternd_store_seen(c->store, id, now_ms);
    }
    if (rc == 0) {
        rc = ternd_store_cert_put(c->store, &row);
    }
    if (rc == 0) {
        rc = ternd_store_commit(c->store);
    }
    if (rc != 0) {
        ternd_cert_free(&cert);
        return store_failed(c, "certificate", why, cap);
    }
    char until[32];
    ternd_iso_time(cert.not_after, until, sizeof until);
    ternd_log("issued certificate %s to %s (request %llu), valid until %s", cert.serial, id,
              (unsigned long long)request, until);
    c->stats.issued++;
    ternd_cert_free(&cert);
    push(c, id, TERND_PUB_CERT);
    return 0;
}

/* ------------------------------------------------------------- publish -- */

size_t ternd_certs_encode(const char *text, size_t len, uint64_t number, uint8_t *buf, size_t cap)
{
    tern_cbor_enc_t e;
    size_t n = 0;
    tern_cbor_enc_init(&e, buf, cap, 0);
    (void)tern_cbor_enc_map(&e, 2);
    (void)tern_cbor_enc_uint(&e, TERN_WIRE_C_DATA);
    (void)tern_cbor_enc_text(&e, text, len);
    (void)tern_cbor_enc_uint(&e, TERN_WIRE_C_SERIAL);
    (void)tern_cbor_enc_uint(&e, number);
    return tern_cbor_enc_finish(&e, &n) == TERN_OK ? n : 0;
}

static void flight_add(ternd_certs_t *c, const ternd_certs_flight_t *f)
{
    if (c->n_flights == FLIGHTS_MAX) { /* acknowledgements that never came (links lost) */
        memmove(c->flights, c->flights + 1, (c->n_flights - 1) * sizeof *c->flights);
        c->n_flights--;
    }
    if (c->n_flights == c->cap_flights) {
        size_t cap = c->cap_flights ? c->cap_flights * 2 : 16;
        ternd_certs_flight_t *p = realloc(c->flights, cap * sizeof *p);
        if (p == NULL) {
            return; /* not marked published: sent again on the next connect */
        }
        c->flights = p;
        c->cap_flights = cap;
    }
    c->flights[c->n_flights++] = *f;
}

/* Publish one job: 0 done (sent, or nothing to send), 1 not now, -1 the store failed. */
static int answer(ternd_certs_t *c, const ternd_certs_job_t *job)
{
    static uint8_t msg[TERN_WIRE_CERT_MAX];
    ternd_certs_flight_t fl;
    memset(&fl, 0, sizeof fl);
    memcpy(fl.id, job->id, sizeof fl.id);
    fl.kind = job->kind;
    size_t len = 0;
    const char *what;
    if (job->kind == TERND_PUB_CERT) {
        ternd_cert_row_t row;
        int rc = ternd_store_cert_latest(c->store, job->id, &row);
        if (rc < 0) {
            ternd_log("%s: certificate: store failed: %s", job->id, ternd_store_error(c->store));
            return -1;
        }
        if (rc == 0) {
            return 0;
        }
        len = ternd_certs_encode(row.chain, row.chain_len, row.request, msg, sizeof msg);
        memcpy(fl.serial, row.serial, sizeof fl.serial);
        fl.version = row.request;
        what = "certificate";
    } else {
        ternd_trust_row_t row;
        int rc = ternd_store_trust_latest(c->store, job->id, &row);
        if (rc < 0) {
            ternd_log("%s: trust store: store failed: %s", job->id, ternd_store_error(c->store));
            return -1;
        }
        if (rc == 0) {
            return 0;
        }
        len = ternd_certs_encode(row.pem, row.len, row.version, msg, sizeof msg);
        fl.version = row.version;
        what = "trust store";
    }
    if (len == 0) {
        ternd_log("%s: %s: larger than a message may be (%u bytes): not sent", job->id, what,
                  (unsigned)TERN_WIRE_CERT_MAX);
        return 0;
    }
    char topic[TERN_WIRE_TOPIC_MAX];
    tern_wire_kind_t kind = job->kind == TERND_PUB_CERT ? TERN_WIRE_CERT_NEW : TERN_WIRE_TRUST_NEW;
    if (tern_wire_topic(topic, sizeof topic, job->id, kind, NULL) != TERN_OK) {
        return 0; /* ids are checked when queued */
    }
    int rc = c->publish(c->publish_ctx, topic, msg, len, &fl.token);
    if (rc > 0) {
        return 1;
    }
    if (rc < 0) {
        ternd_log("%s: %s refused by the session: dropped (sent again on the next connect)",
                  job->id, what);
        return 0;
    }
    flight_add(c, &fl);
    if (job->kind == TERND_PUB_CERT) {
        ternd_log("%s: certificate %s sent on %s (request %llu, %zu bytes, retained)", job->id,
                  fl.serial, topic, (unsigned long long)fl.version, len);
    } else {
        ternd_log("%s: trust store version %llu sent on %s (%zu bytes, retained)", job->id,
                  (unsigned long long)fl.version, topic, len);
    }
    return 0;
}

long ternd_certs_drain(ternd_certs_t *c)
{
    int rc = 0;
    for (;;) {
        ternd_certs_job_t job;
        pthread_mutex_lock(&c->lock);
        bool got = ternd_devqueue_pop(&c->queue, &job);
        pthread_mutex_unlock(&c->lock);
        if (!got) {
            break;
        }
        rc = answer(c, &job);
        if (rc != 0) { /* not now, or the store failed: it waits at the head, the rest after it */
            pthread_mutex_lock(&c->lock);
            push_locked(c, &job, true);
            pthread_mutex_unlock(&c->lock);
            break;
        }
    }
    pthread_mutex_lock(&c->lock);
    long left = (long)c->queue.n;
    pthread_mutex_unlock(&c->lock);
    return rc < 0 ? -1 : left;
}

bool ternd_certs_published(ternd_certs_t *c, uint32_t token, bool ok)
{
    size_t i = 0;
    while (i < c->n_flights && c->flights[i].token != token) {
        i++;
    }
    if (i == c->n_flights) {
        return false;
    }
    ternd_certs_flight_t f = c->flights[i];
    memmove(c->flights + i, c->flights + i + 1, (c->n_flights - i - 1) * sizeof *c->flights);
    c->n_flights--;
    const char *what = f.kind == TERND_PUB_CERT ? "certificate" : "trust store";
    if (!ok) {
        ternd_log("%s: the broker refused the %s message (check its ACL for ternd's user); "
                  "sent again on the next connect",
                  f.id, what);
        return true;
    }
    int rc = f.kind == TERND_PUB_CERT ? ternd_store_cert_published(c->store, f.id, f.serial)
                                      : ternd_store_trust_published(c->store, f.id, f.version);
    if (rc != 0) {
        ternd_log("%s: %s: store failed: %s (it is sent again on the next connect)", f.id, what,
                  ternd_store_error(c->store));
    }
    c->stats.published++;
    if (c->verbose) {
        ternd_log("%s: the broker took the %s", f.id, what);
    }
    return true;
}
