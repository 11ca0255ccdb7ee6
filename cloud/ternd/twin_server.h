/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file twin_server.h
 * @brief The fleet side of the device twin: the deltas ternd sends on
 * tern/<id>/twin/desired (tern/wire.h: {1: version, 2: from, 3: {changed
 * keys, null deleting one}}), built from the store.
 *
 * Three things ask for deltas: a device's report (it says which desired
 * version it applied; ingest.c queues the answer from there), an operator's
 * change of one device through the HTTP API, whose thread calls
 * ternd_twin_server_changed(), and an operator's change of the whole fleet
 * (ternd_twin_server_fleet_changed()). The first two only queue the device id
 * under a mutex (one job per device: the queue is indexed by id, so queueing
 * costs O(log n) however long the queue grows); the third only raises a flag.
 * The MQTT loop drains the queue after each poll, so every publish happens on
 * the loop's thread. A device that is offline gets nothing then: it reports
 * its versions when it next connects, and that report is answered.
 *
 * A fleet change is answered by a sweep: the loop walks the online devices
 * whose applied version is behind their desired version, by id, a batch of
 * rows from the store at a time, and publishes each one's delta. The QoS 1
 * window and the send buffer pace it: when the session says "not now" the
 * sweep stops where it is and goes on after the next poll, once PUBACKs have
 * made room. A second fleet change during a sweep starts it again from the
 * first device. Every drain does a bounded amount of work (DRAIN_JOBS jobs or
 * DRAIN_MS of time), so neither a long queue nor a sweep keeps the loop from
 * reading what devices send for long.
 */
#ifndef TERND_TWIN_SERVER_H
#define TERND_TWIN_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devqueue.h"
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

/** The twin server. Caller-owned; the queue and the sweep request are the only parts other
 * threads touch. */
typedef struct ternd_twin_server {
    ternd_store_t *store; /* the MQTT loop's store */
    ternd_publish_fn publish;
    void *publish_ctx;
    bool verbose;
    pthread_mutex_t lock;   /* guards the queue and sweep_requested */
    ternd_devqueue_t queue; /* ternd_twin_job_t, one per device, oldest first */
    bool sweep_requested;   /* a fleet change since the last drain */
    /* the sweep, the loop's only */
    bool sweeping;
    char cursor[65];            /* the last device the sweep is done with ("": none yet) */
    ternd_twin_behind_t *batch; /* rows from the store, answered in order */
    size_t batch_n, batch_i;    /* rows in it, the next one to answer */
    bool batch_last;            /* the store had no rows after this batch */
    int64_t sweep_start_ms;     /* monotonic */
    uint64_t sweep_sent;        /* deltas this sweep published */
    uint64_t sent;              /* deltas published */
    uint64_t sweeps;            /* sweeps finished */
} ternd_twin_server_t;

/** Jobs answered by one drain at most, and its time budget (the sweep included). */
#define TERND_TWIN_DRAIN_JOBS  512
#define TERND_TWIN_DRAIN_MS    20
/** Devices read from the store at a time by a sweep. */
#define TERND_TWIN_SWEEP_BATCH 256

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
 * The API's hook (any thread) after a fleet change: every device's desired
 * state changed; the loop sweeps the online devices that are behind (see
 * above). @p ctx is the ternd_twin_server_t.
 */
void ternd_twin_server_fleet_changed(void *ctx);

/**
 * Queue the answer to a report of @p device_id that says it applied desired
 * version @p applied (any thread): a delta from there if it is behind.
 */
void ternd_twin_server_report(ternd_twin_server_t *ts, const char *device_id, uint64_t applied);

/**
 * The MQTT loop, after each poll: answer the queued devices, then go on with
 * the sweep if one is running. Returns how much is left: the jobs still
 * queued, plus 1 while a sweep runs (0: nothing to do); -1 if the store failed
 * (the job stays queued, the sweep stays where it was). *again (may be NULL)
 * is true when the drain stopped at its budget rather than at a full window:
 * poll and drain again without waiting.
 */
long ternd_twin_server_drain(ternd_twin_server_t *ts, bool *again);

/**
 * Encode the delta that brings @p device_id from desired version @p from to
 * @p version into @p buf (@p cap bytes): *len its size. 0 ok, -1 store
 * failure, -2 it does not fit (TERN_WIRE_TWIN_MAX is the wire's limit).
 */
int ternd_twin_delta_build(ternd_store_t *store, const char *device_id, uint64_t from,
                           uint64_t version, uint8_t *buf, size_t cap, size_t *len);

#endif /* TERND_TWIN_SERVER_H */
