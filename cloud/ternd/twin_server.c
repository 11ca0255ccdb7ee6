/* SPDX-License-Identifier: Apache-2.0 */
/* The fleet side of the device twin: deltas built from the store, published from the MQTT loop. */
#include "twin_server.h"

#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "tern/cbor.h"
#include "tern/wire.h"

int ternd_twin_server_init(ternd_twin_server_t *ts, ternd_store_t *store, ternd_publish_fn publish,
                           void *publish_ctx, bool verbose)
{
    memset(ts, 0, sizeof *ts);
    ts->store = store;
    ts->publish = publish;
    ts->publish_ctx = publish_ctx;
    ts->verbose = verbose;
    return pthread_mutex_init(&ts->lock, NULL) == 0 ? 0 : -1;
}

void ternd_twin_server_free(ternd_twin_server_t *ts)
{
    pthread_mutex_destroy(&ts->lock);
    free(ts->jobs);
    ts->jobs = NULL;
    ts->n = ts->cap = 0;
}

/* Add @p job under the lock. One job per device: a report's answer (it knows where the device
 * is) replaces an operator's change; an operator's change adds nothing to a queued job, since
 * the delta is computed from the store when the job runs. */
static void push_locked(ternd_twin_server_t *ts, const ternd_twin_job_t *job, bool older)
{
    for (size_t i = 0; i < ts->n; i++) {
        if (strcmp(ts->jobs[i].id, job->id) == 0) {
            if (job->has_from && !older) {
                ts->jobs[i] = *job;
            }
            return;
        }
    }
    if (ts->n == ts->cap) {
        size_t cap = ts->cap ? ts->cap * 2 : 16;
        ternd_twin_job_t *j = realloc(ts->jobs, cap * sizeof *j);
        if (j == NULL) {
            ternd_log("out of memory: twin delta for %s not queued", job->id);
            return;
        }
        ts->jobs = j;
        ts->cap = cap;
    }
    ts->jobs[ts->n++] = *job;
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
    static uint8_t delta[TERN_WIRE_TWIN_MAX];
    size_t len = 0;
    int rc = ternd_twin_delta_build(ts->store, job->id, from, desired, delta, sizeof delta, &len);
    if (rc == -1) {
        ternd_log("%s: twin: store failed: %s", job->id, ternd_store_error(ts->store));
        return -1;
    }
    if (rc == -2) {
        ternd_log("%s: twin: the delta %llu -> %llu is larger than %u bytes: not sent", job->id,
                  (unsigned long long)from, (unsigned long long)desired,
                  (unsigned)TERN_WIRE_TWIN_MAX);
        return 0;
    }
    char topic[TERN_WIRE_TOPIC_MAX];
    if (tern_wire_topic(topic, sizeof topic, job->id, TERN_WIRE_TWIN_DESIRED, NULL) != TERN_OK) {
        return 0; /* ids are checked when queued */
    }
    rc = ts->publish(ts->publish_ctx, topic, delta, len);
    if (rc > 0) {
        return 1;
    }
    if (rc < 0) {
        ternd_log("%s: twin: the delta %llu -> %llu was refused: dropped", job->id,
                  (unsigned long long)from, (unsigned long long)desired);
        return 0;
    }
    ts->sent++;
    ternd_log("%s: twin: delta %llu -> %llu sent (%zu bytes)", job->id, (unsigned long long)from,
              (unsigned long long)desired, len);
    return 0;
}

long ternd_twin_server_drain(ternd_twin_server_t *ts)
{
    pthread_mutex_lock(&ts->lock);
    ternd_twin_job_t *jobs = ts->jobs;
    size_t n = ts->n;
    ts->jobs = NULL;
    ts->n = ts->cap = 0;
    pthread_mutex_unlock(&ts->lock);
    if (n == 0) {
        free(jobs);
        return 0;
    }
    size_t i = 0;
    int rc = 0;
    for (; i < n; i++) {
        rc = answer(ts, &jobs[i]);
        if (rc != 0) {
            break; /* not now, or the store failed: this job and the rest wait */
        }
    }
    pthread_mutex_lock(&ts->lock);
    for (size_t k = i; k < n; k++) {
        push_locked(ts, &jobs[k], true); /* a job queued meanwhile is newer: it wins */
    }
    long left = (long)ts->n;
    pthread_mutex_unlock(&ts->lock);
    free(jobs);
    return rc < 0 ? -1 : left;
}
