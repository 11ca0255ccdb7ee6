/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ingest.h
 * @brief ternd's intake: every MQTT message from a device, checked against
 * the wire contract (tern/wire.h) and written to the store, or refused with a
 * reason (logged with the device and the topic). A refused message is still
 * acknowledged, so one bad message never blocks a device's queue; only a
 * store failure leaves a message unacknowledged (see ingest.c).
 */
#ifndef TERND_INGEST_H
#define TERND_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certs.h"
#include "log.h"
#include "store.h"
#include "tern/wire.h"
#include "twin_server.h"

/** Counters, for the log at shutdown (and tests). */
typedef struct ternd_ingest_stats {
    uint64_t messages;   /* whole messages handled */
    uint64_t telemetry;  /* telemetry messages stored */
    uint64_t readings;   /* readings stored */
    uint64_t duplicates; /* telemetry messages already stored (dropped) */
    uint64_t presence, reports, stale, cmd_resp;
    uint64_t csr; /* certificate requests answered (issued, or answered again) */
    uint64_t rejected[TERN_WIRE_REJECT_STORE + 1]; /* by reason */
} ternd_ingest_stats_t;

/** The intake's state. Caller-owned; use it from one thread (the MQTT loop). */
typedef struct ternd_ingest {
    ternd_store_t *store;
    ternd_twin_server_t *twin; /* answers twin reports; may be NULL (tests) */
    ternd_certs_t *certs;      /* answers certificate requests; NULL: refused (set after init) */
    bool verbose;              /* a log line per message */
    ternd_ingest_stats_t stats;
    /* a message delivered in chunks, assembled here (heap, up to TERN_WIRE_TELEMETRY_MAX) */
    uint8_t *part;
    size_t part_len, part_total;
    bool part_skip; /* too big: its chunks are dropped and it is refused at the last one */
    /* NUL-terminated copies of a reading's strings (heap, grows) */
    char *text;
    size_t text_cap;
} ternd_ingest_t;

/** Set @p in up over @p store (kept, not owned) and @p twin (may be NULL). */
void ternd_ingest_init(ternd_ingest_t *in, ternd_store_t *store, ternd_twin_server_t *twin,
                       bool verbose);

/** Free the buffers of @p in (not the store). */
void ternd_ingest_free(ternd_ingest_t *in);

/**
 * One whole message: @p topic (@p topic_len bytes, not NUL-terminated), the
 * value of its MQTT 5 user property "seq" (@p seq_len bytes; NULL if it has
 * none: then a 4-byte sequence number may lead the payload, tern_wire_body())
 * and its payload. TERN_WIRE_OK when handled (stored, or a duplicate
 * dropped), else the reason it was refused (logged). TERN_WIRE_REJECT_STORE
 * means nothing was stored and the message must not be acknowledged.
 * @p now_ms is Unix ms. @p retained: the broker delivered it from its retained
 * messages (a new subscription's), not as it was published: a presence
 * replayed that way is an old snapshot, whose next seq says nothing about the
 * device's outbox now, so it never starts a new epoch.
 */
tern_wire_reject_t ternd_ingest_message(ternd_ingest_t *in, const char *topic, size_t topic_len,
                                        const char *seq_prop, size_t seq_len, bool retained,
                                        const uint8_t *payload, size_t len, int64_t now_ms);

/**
 * One MESSAGE event's piece of a message: @p chunk (@p chunk_len bytes) at
 * @p offset of a payload of @p total bytes. A whole message (offset 0, the
 * chunk is all of it) goes straight to ternd_ingest_message(); chunks are
 * assembled first (a message above TERN_WIRE_TELEMETRY_MAX is refused as
 * oversize at its last chunk, its pieces dropped). TERN_WIRE_OK for a chunk
 * that is not the last.
 */
tern_wire_reject_t ternd_ingest_chunk(ternd_ingest_t *in, const char *topic, size_t topic_len,
                                      const char *seq_prop, size_t seq_len, bool retained,
                                      const uint8_t *chunk, size_t chunk_len, size_t offset,
                                      size_t total, int64_t now_ms);

#endif /* TERND_INGEST_H */
