/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file certs.h
 * @brief The fleet side of device certificates and trust stores
 * (tern/wire.h): requests on cert/csr answered by ternd's CA (ca.h) on
 * cert/new, and trust stores an operator gives a device published on
 * trust/new. Both answers are retained QoS 1 messages, so a device that is
 * offline finds its latest one when it subscribes.
 *
 * Idempotence. Every certificate issued is stored (device, request serial,
 * key id, the chain) before it is published. A request that comes again with
 * the same serial and the same key (the device missed the answer, or the
 * broker delivered the request twice) gets the stored chain again, not a new
 * certificate; a request older than the latest one answered is ignored, so a
 * late duplicate never replaces a newer retained answer.
 *
 * Publishing, like the twin's deltas, happens on the MQTT loop's thread only:
 * requests arrive there (ingest.c), and the API's thread only queues the id
 * of a device whose trust store changed. The loop drains the queue after each
 * poll and publishes each device's latest row from the store. A row is marked
 * published when the broker acknowledges it; on every connect the rows the
 * broker has not taken are queued again (ternd_certs_resume()), so an answer
 * committed just before ternd stopped still goes out.
 */
#ifndef TERND_CERTS_H
#define TERND_CERTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ca.h"
#include "devqueue.h"
#include "store.h"

/**
 * How answers are published (QoS 1, retained): 0 queued, with the session's
 * token for it in *token; 1 not now (not connected, window or buffer full:
 * the job stays queued); -1 refused for good (logged, dropped).
 */
typedef int (*ternd_retain_fn)(void *ctx, const char *topic, const uint8_t *payload, size_t len,
                               uint32_t *token);

typedef struct ternd_certs_job {
    char id[65];
    ternd_pub_kind_t kind;
} ternd_certs_job_t;

/** A published answer waiting for the broker's acknowledgement. */
typedef struct ternd_certs_flight {
    uint32_t token;
    char id[65];
    ternd_pub_kind_t kind;
    char serial[65];  /* TERND_PUB_CERT */
    uint64_t version; /* TERND_PUB_TRUST */
} ternd_certs_flight_t;

typedef struct ternd_certs_stats {
    uint64_t issued;    /* certificates issued */
    uint64_t again;     /* requests answered again with a stored certificate */
    uint64_t refused;   /* requests refused (the CA's checks, stale) */
    uint64_t published; /* answers the broker acknowledged (cert/new and trust/new) */
} ternd_certs_stats_t;

/** The certificate service. Caller-owned; the queue is the only part other threads touch.
 * Queueing costs O(log n) and a drain takes jobs from the head, so a queue of the whole
 * fleet (a rotation wave, a trust store for every device, all of it again on a connect)
 * stays cheap while the QoS 1 window paces the publishing. */
typedef struct ternd_certs {
    ternd_store_t *store; /* the MQTT loop's store */
    ternd_ca_t *ca;       /* NULL: no CA, requests are refused */
    uint32_t lifetime_s;
    ternd_retain_fn publish;
    void *publish_ctx;
    bool verbose;
    pthread_mutex_t lock;          /* guards the queue */
    ternd_devqueue_t queue;        /* ternd_certs_job_t, one per (device, kind), oldest first */
    ternd_certs_flight_t *flights; /* the loop's only */
    size_t n_flights, cap_flights;
    ternd_certs_stats_t stats;
} ternd_certs_t;

/** Set @p c up over @p store (and @p ca, kept, not owned; may be NULL). 0, or -1 (mutex). */
int ternd_certs_init(ternd_certs_t *c, ternd_store_t *store, ternd_ca_t *ca, uint32_t lifetime_s,
                     ternd_retain_fn publish, void *publish_ctx, bool verbose);

/** Free the queues and the mutex (not the store or the CA). */
void ternd_certs_free(ternd_certs_t *c);

/**
 * A certificate request from @p id (its topic's device): the PKCS#10 DER
 * @p csr (@p len bytes) with the device's request serial @p request, at Unix
 * ms @p now_ms. Issues and stores a certificate (or finds the one stored for
 * the same serial and key) and queues its publication. 0 handled; 1 refused
 * (the reason in @p why, nothing stored); 2 a late duplicate of a request
 * already superseded (ignored, @p why says which); -1 the store failed (the
 * reason in @p why; nothing was stored, the message must not be acknowledged).
 */
int ternd_certs_request(ternd_certs_t *c, const char *id, const uint8_t *csr, size_t len,
                        uint64_t request, int64_t now_ms, char *why, size_t cap);

/** The API's hook (any thread): @p device_id has a new trust store; @p ctx is the ternd_certs_t. */
void ternd_certs_trust_changed(void *ctx, const char *device_id);

/** On every connect: queue every answer the broker has not acknowledged. 0, or -1 (store). */
int ternd_certs_resume(ternd_certs_t *c);

/**
 * The MQTT loop, after each poll: publish the queued answers. Returns how many
 * are still queued (publish said "not now"), or -1 if the store failed.
 */
long ternd_certs_drain(ternd_certs_t *c);

/**
 * The session finished our QoS 1 publish @p token (@p ok: acknowledged).
 * True if it was one of ours (then it is logged and, if acknowledged, marked
 * published in the store); false for anyone else's token.
 */
bool ternd_certs_published(ternd_certs_t *c, uint32_t token, bool ok);

/**
 * Encode a cert/new or trust/new message, {1: @p text (@p len bytes, as a
 * text string), 2: @p number}, into @p buf (@p cap bytes): its size, or 0 if
 * it does not fit.
 */
size_t ternd_certs_encode(const char *text, size_t len, uint64_t number, uint8_t *buf, size_t cap);

#endif /* TERND_CERTS_H */
