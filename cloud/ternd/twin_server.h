/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file twin_server.h
 * @brief The fleet side of the device twin: the deltas ternd sends on
 * tern/<id>/twin/desired (tern/wire.h: {1: version, 2: from, 3: {changed
 * keys, null deleting one}}), built from the store.
 *
 * Two things ask for a delta: a device's report (it says which desired
 * version it applied; ingest.c queues the answer from there), and an
 * operator's change through the HTTP API, whose thread calls
 * ternd_twin_server_changed(). Both only queue the device id under a mutex;
 * the MQTT loop drains the queue after each poll, so every publish happens on
 * the loop's thread. A device that is offline gets nothing then: it reports
 * its versions when it next connects, and that report is answered.
 */
#ifndef TERND_TWIN_SERVER_H
#define TERND_TWIN_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/**
 * How the twin server publishes (QoS 1, not retained): 0 queued, 1 not now
 * (not connected, tx buffer or in-flight window full: the delta stays queued
 * and is tried again), -1 refused for good (logged, dropped).
 */
typedef int (*ternd_publish_fn)(void *ctx, const char *topic, const uint8_t *payload, size_t len);

/** One queued answer. */
typedef struct ternd_twin_job {
    char id[65];
    bool has_from; /* from a report: the delta starts at @p from */
    uint64_t from; /* else: at the stored applied version, if the device is online */
} ternd_twin_job_t;

/** The twin server. Caller-owned; the queue is the only part other threads touch. */
typedef struct ternd_twin_server {
    ternd_store_t *store; /* the MQTT loop's store */
    ternd_publish_fn publish;
    void *publish_ctx;
    bool verbose;
    pthread_mutex_t lock; /* guards the queue */
    ternd_twin_job_t *jobs;
    size_t n, cap;
    uint64_t sent; /* deltas published */
} ternd_twin_server_t;

/** Set @p ts up. 0, or -1 if the mutex cannot be made. */
int ternd_twin_server_init(ternd_twin_server_t *ts, ternd_store_t *store, ternd_publish_fn publish,
                           void *publish_ctx, bool verbose);

/** Free the queue and the mutex. */
void ternd_twin_server_free(ternd_twin_server_t *ts);

/**
 * The API's hook (any thread): desired state of @p device_id changed; its
 * delta goes out from the loop (if the device is online). @p ctx is the
 * ternd_twin_server_t.
 */
void ternd_twin_server_changed(void *ctx, const char *device_id);

/**
 * Queue the answer to a report of @p device_id that says it applied desired
 * version @p applied (any thread): a delta from there if it is behind.
 */
void ternd_twin_server_report(ternd_twin_server_t *ts, const char *device_id, uint64_t applied);

/**
 * The MQTT loop, after each poll: answer the queued devices. Returns how many
 * are still queued (publish said "not now"), or -1 if the store failed (the
 * job stays queued).
 */
long ternd_twin_server_drain(ternd_twin_server_t *ts);

/**
 * Encode the delta that brings @p device_id from desired version @p from to
 * @p version into @p buf (@p cap bytes): *len its size. 0 ok, -1 store
 * failure, -2 it does not fit (TERN_WIRE_TWIN_MAX is the wire's limit).
 */
int ternd_twin_delta_build(ternd_store_t *store, const char *device_id, uint64_t from,
                           uint64_t version, uint8_t *buf, size_t cap, size_t *len);

#endif /* TERND_TWIN_SERVER_H */
