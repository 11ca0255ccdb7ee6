/* SPDX-License-Identifier: Apache-2.0 */
/* The fleet side of the device twin: deltas built from the store, published from the MQTT loop. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "twin_server.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "tern/cbor.h"
#include "tern/wire.h"

/* One job per device. */
static int job_cmp(const void *a, const void *b)
{
    return strcmp(((const ternd_twin_job_t *)a)->id, ((const ternd_twin_job_t *)b)->id);
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int ternd_twin_server_init(ternd_twin_server_t *ts, ternd_store_t *store, ternd_publish_fn publish,
                           void *publish_ctx, bool verbose)
{
    memset(ts, 0, sizeof *ts);
    ts->store = store;
    ts->publish = publish;
    ts->publish_ctx = publish_ctx;
    ts->verbose = verbose;
    ternd_devqueue_init(&ts->queue, sizeof(ternd_twin_job_t), job_cmp);
    ts->batch = malloc(TERND_TWIN_SWEEP_BATCH * sizeof *ts->batch);
    if (ts->batch == NULL) {
        return -1;
    }
    if (pthread_mutex_init(&ts->lock, NULL) != 0) {
        free(ts->batch);
        ts->batch = NULL;
        return -1;
    }
    return 0;
}

void ternd_twin_server_free(ternd_twin_server_t *ts)
{
    pthread_mutex_destroy(&ts->lock);
    ternd_devqueue_free(&ts->queue);
    free(ts->batch);
    ts->batch = NULL;
}

/* Add @p job under the lock, at the tail (at the head if @p back: a job the drain took and
 * puts back). One job per device: a report's answer (it knows where the device is) replaces
 * an operator's change; an operator's change adds nothing to a queued job, since the delta
 * is computed from the store when the job runs; a job put back loses to one queued
 * meanwhile, which is newer. */
static void push_locked(ternd_twin_server_t *ts, const ternd_twin_job_t *job, bool back)
{
    void *queued;
    int rc = ternd_devqueue_push(&ts->queue, job, back, &queued);
    if (rc == 0 && job->has_from && !back) {
        *(ternd_twin_job_t *)queued = *job;
    } else if (rc < 0) {
        ternd_log("out of memory: twin delta for %s not queued", job->id);
    }
}

static void push(ternd_twin_server_t *ts, const char *id, bool has_from, uint64_t from)
{
    ternd_twin_job_t job;
    size_t len = id ? strlen(id) : 0;
    if (!tern_wire_id_ok(id, len)) {
        ternd_log("twin: ignoring a change for the invalid device id '%.64s'", id ? id : "");
        return;
    }
    memset(&job, 0, sizeof job);
    memcpy(job.id, id, len + 1);
    job.has_from = has_from;
    job.from = from;
    pthread_mutex_lock(&ts->lock);
    push_locked(ts, &job, false);
    pthread_mutex_unlock(&ts->lock);
}

void ternd_twin_server_changed(void *ctx, const char *device_id)
{
    push(ctx, device_id, false, 0);
}

void ternd_twin_server_fleet_changed(void *ctx)
{
    ternd_twin_server_t *ts = ctx;
    pthread_mutex_lock(&ts->lock);
    ts->sweep_requested = true;
    pthread_mutex_unlock(&ts->lock);
}

void ternd_twin_server_report(ternd_twin_server_t *ts, const char *device_id, uint64_t applied)
{
    push(ts, device_id, true, applied);
}

/* The desired keys of a delta, copied out of the store's callback. */
typedef struct {
    ternd_twin_kv_t *kv;
    uint8_t **val;
    size_t n, cap;
    bool oom;
} kv_list_t;

static void collect(void *ctx, const ternd_twin_kv_t *kv)
{
    kv_list_t *l = ctx;
    if (l->oom) {
        return;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        ternd_twin_kv_t *k = realloc(l->kv, cap * sizeof *k);
        if (k != NULL) {
            l->kv = k;
        }
        uint8_t **v = k ? realloc(l->val, cap * sizeof *v) : NULL;
        if (v == NULL) {
            l->oom = true;
            return;
        }
        l->val = v;
        l->cap = cap;
    }
    ternd_twin_kv_t *k = &l->kv[l->n];
    *k = *kv;
    k->key[sizeof k->key - 1] = '\0';
    l->val[l->n] = NULL;
    if (!kv->deleted && kv->value != NULL) {
        if ((l->val[l->n] = malloc(kv->len ? kv->len : 1)) == NULL) {
            l->oom = true;
            return;
        }
        memcpy(l->val[l->n], kv->value, kv->len);
        k->value = l->val[l->n];
    } else {
        k->deleted = true;
        k->value = NULL;
        k->len = 0;
    }
    l->n++;
}

int ternd_twin_delta_build(ternd_store_t *store, const char *device_id, uint64_t from,
                           uint64_t version, uint8_t *buf, size_t cap, size_t *len)
{
    kv_list_t l;
    memset(&l, 0, sizeof l);
    int rc = ternd_store_twin_desired(store, device_id, from, collect, &l);
    if (rc == 0 && l.oom) {
        rc = -1;
    }
    if (rc == 0) {
        tern_cbor_enc_t e;
        tern_cbor_enc_init(&e, buf, cap, 0);
        (void)tern_cbor_enc_map(&e, 3);
        (void)tern_cbor_enc_uint(&e, TERN_WIRE_D_VERSION);
        (void)tern_cbor_enc_uint(&e, version);
        (void)tern_cbor_enc_uint(&e, TERN_WIRE_D_FROM);
        (void)tern_cbor_enc_uint(&e, from);
        (void)tern_cbor_enc_uint(&e, TERN_WIRE_D_STATE);
        (void)tern_cbor_enc_map(&e, l.n);
        for (size_t i = 0; i < l.n; i++) {
            (void)tern_cbor_enc_str(&e, l.kv[i].key);
            if (l.kv[i].deleted) {
                (void)tern_cbor_enc_null(&e);
            } else {
                (void)tern_cbor_enc_raw(&e, l.kv[i].value, l.kv[i].len);
            }
        }
        rc = tern_cbor_enc_finish(&e, len) == TERN_OK ? 0 : -2;
    }
    for (size_t i = 0; i < l.n; i++) {
        free(l.val[i]);
    }
    free(l.val);
    free(l.kv);
    return rc;
}

/* Publish the delta that brings @p id from desired version @p from to @p desired: 0 done
 * (sent, or dropped for good: logged), 1 not now, -1 the store failed. @p quiet: no log line
 * for a delta sent (a sweep's, unless verbose). */
static int send_delta(ternd_twin_server_t *ts, const char *id, uint64_t from, uint64_t desired,
                      bool quiet)
{
    static uint8_t delta[TERN_WIRE_TWIN_MAX];
    size_t len = 0;
    int rc = ternd_twin_delta_build(ts->store, id, from, desired, delta, sizeof delta, &len);
    if (rc == -1) {
        ternd_log("%s: twin: store failed: %s", id, ternd_store_error(ts->store));
        return -1;
    }
    if (rc == -2) {
        ternd_log("%s: twin: the delta %llu -> %llu is larger than %u bytes: not sent", id,
                  (unsigned long long)from, (unsigned long long)desired,
                  (unsigned)TERN_WIRE_TWIN_MAX);
        return 0;
    }
    char topic[TERN_WIRE_TOPIC_MAX];
    if (tern_wire_topic(topic, sizeof topic, id, TERN_WIRE_TWIN_DESIRED, NULL) != TERN_OK) {
        return 0; /* ids are checked when queued, and by the store */
    }
    rc = ts->publish(ts->publish_ctx, topic, delta, len);
    if (rc > 0) {
        return 1;
    }
    if (rc < 0) {
        ternd_log("%s: twin: the delta %llu -> %llu was refused: dropped", id,
                  (unsigned long long)from, (unsigned long long)desired);
        return 0;
    }
    ts->sent++;
    if (!quiet) {
        ternd_log("%s: twin: delta %llu -> %llu sent (%zu bytes)", id, (unsigned long long)from,
                  (unsigned long long)desired, len);
    }
    return 0;
}

/* Answer one job: 0 done (sent or nothing to send), 1 not now, -1 the store failed. */
static int answer(ternd_twin_server_t *ts, const ternd_twin_job_t *job)
{
    uint64_t desired = 0, reported = 0, applied = 0;
    if (ternd_store_twin_versions(ts->store, job->id, &desired, &reported, &applied) != 0) {
        ternd_log("%s: twin: store failed: %s", job->id, ternd_store_error(ts->store));
        return -1;
    }
    uint64_t from = job->has_from ? job->from : applied;
    if (!job->has_from) {
        ternd_device_t d;
        int found = ternd_store_device(ts->store, job->id, &d);
        if (found < 0) {
            ternd_log("%s: twin: store failed: %s", job->id, ternd_store_error(ts->store));
            return -1;
        }
        if (found == 0 || !d.online) {
            if (from < desired) {
                ternd_log("%s: twin: desired version %llu waits for the device to connect", job->id,
                          (unsigned long long)desired);
            }
            return 0;
        }
    }
    if (from >= desired) {
        if (from > desired) {
            ternd_log("%s: twin: the device says it applied desired version %llu, but the "
                      "latest is %llu",
                      job->id, (unsigned long long)from, (unsigned long long)desired);
        } else if (ts->verbose) {
            ternd_log("%s: twin: in sync at desired version %llu", job->id,
                      (unsigned long long)desired);
        }
        return 0;
    }
    return send_delta(ts, job->id, from, desired, false);
}

/* ---------------------------------------------------------------- sweep -- */

static void sweep_start(ternd_twin_server_t *ts)
{
    if (ts->sweeping) {
        ternd_log("twin: fleet change: starting the sweep again from the first device (%llu "
                  "deltas sent so far)",
                  (unsigned long long)ts->sweep_sent);
    }
    ts->sweeping = true;
    ts->cursor[0] = '\0';
    ts->batch_n = ts->batch_i = 0;
    ts->batch_last = false;
    ts->sweep_start_ms = mono_ms();
    ts->sweep_sent = 0;
}

static void on_behind(void *ctx, const ternd_twin_behind_t *b)
{
    ternd_twin_server_t *ts = ctx;
    if (ts->batch_n < TERND_TWIN_SWEEP_BATCH) {
        ts->batch[ts->batch_n++] = *b;
    }
}

/* Go on with the sweep within the drain's budget (*done jobs so far, started at @p t0): 0
 * finished or out of budget (*more), 1 not now, -1 the store failed. */
static int sweep(ternd_twin_server_t *ts, size_t *done, int64_t t0, bool *more)
{
    while (ts->sweeping) {
        if (*done >= TERND_TWIN_DRAIN_JOBS || mono_ms() - t0 >= TERND_TWIN_DRAIN_MS) {
            *more = true;
            return 0;
        }
        if (ts->batch_i == ts->batch_n) {
            if (ts->batch_last) {
                ts->sweeping = false;
                ts->sweeps++;
                int64_t ms = mono_ms() - ts->sweep_start_ms;
                ternd_log("twin: fleet change: deltas sent to the %llu online devices that were "
                          "behind, in %lld.%03lld s",
                          (unsigned long long)ts->sweep_sent, (long long)(ms / 1000),
                          (long long)(ms % 1000));
                return 0;
            }
            ts->batch_n = ts->batch_i = 0;
            if (ternd_store_twin_behind(ts->store, ts->cursor, TERND_TWIN_SWEEP_BATCH, on_behind,
                                        ts) != 0) {
                ternd_log("twin: fleet change: store failed: %s", ternd_store_error(ts->store));
                ts->batch_n = 0;
                return -1;
            }
            ts->batch_last = ts->batch_n < TERND_TWIN_SWEEP_BATCH;
            (*done)++;
            continue;
        }
        const ternd_twin_behind_t *b = &ts->batch[ts->batch_i];
        uint64_t sent = ts->sent;
        int rc = send_delta(ts, b->id, b->applied, b->desired, !ts->verbose);
        if (rc != 0) {
            return rc; /* not now: this row again next time; the store failed: likewise */
        }
        ts->sweep_sent += ts->sent - sent;
        memcpy(ts->cursor, b->id, sizeof ts->cursor);
        ts->batch_i++;
        (*done)++;
    }
    return 0;
}

long ternd_twin_server_drain(ternd_twin_server_t *ts, bool *again)
{
    int64_t t0 = mono_ms();
    size_t done = 0;
    bool more = false;
    int rc = 0;
    pthread_mutex_lock(&ts->lock);
    bool restart = ts->sweep_requested;
    ts->sweep_requested = false;
    pthread_mutex_unlock(&ts->lock);
    if (restart) {
        sweep_start(ts);
    }
    /* the queue first: a report's answer is what a device that just connected waits for */
    for (;;) {
        ternd_twin_job_t job;
        pthread_mutex_lock(&ts->lock);
        bool got = ternd_devqueue_pop(&ts->queue, &job);
        if (got && (done >= TERND_TWIN_DRAIN_JOBS || mono_ms() - t0 >= TERND_TWIN_DRAIN_MS)) {
            push_locked(ts, &job, true);
            more = true;
            got = false;
        }
        pthread_mutex_unlock(&ts->lock);
        if (!got) {
            break;
        }
        rc = answer(ts, &job);
        done++;
        if (rc != 0) { /* not now, or the store failed: it waits at the head */
            pthread_mutex_lock(&ts->lock);
            push_locked(ts, &job, true);
            pthread_mutex_unlock(&ts->lock);
            break;
        }
    }
    if (rc == 0 && !more && ts->sweeping) {
        rc = sweep(ts, &done, t0, &more);
    }
    pthread_mutex_lock(&ts->lock);
    long left = (long)ts->queue.n + (ts->sweeping || ts->sweep_requested ? 1 : 0);
    pthread_mutex_unlock(&ts->lock);
    if (again != NULL) {
        *again = more && rc == 0;
    }
    return rc < 0 ? -1 : left;
}
