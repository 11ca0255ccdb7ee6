/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file store.h
 * @brief ternd's storage interface: the device registry, telemetry readings
 * (stored once per (device, epoch, seq)), device twins, and the certificates
 * and trust stores ternd gave devices. SQLite (store_sqlite.c) is the
 * default backend; another one (PostgreSQL) is a new ternd_store_ops_t and an
 * open function, nothing else changes.
 *
 * Threads: a ternd_store_t is used by one thread at a time. ternd opens one
 * for its MQTT loop (the only writer of telemetry) and one for its HTTP API.
 * All calls return 0 on success and -1 on failure, with a message in
 * ternd_store_error(); where noted, 1 means "done" and 0 "nothing to do".
 */
#ifndef TERND_STORE_H
#define TERND_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ternd_store ternd_store_t;

/** A device as the registry knows it (text fields NUL-terminated, "" if unknown). */
typedef struct ternd_device {
    char id[65];
    int64_t first_seen_ms, last_seen_ms; /* Unix ms */
    bool online;
    char fw[33], link[33], region[33];
    uint32_t epoch;    /* sequence restarts seen (presence with a seq below the highest) */
    uint64_t max_seq;  /* highest telemetry seq stored in this epoch */
    uint64_t messages; /* telemetry messages stored (all epochs) */
    uint64_t readings; /* readings stored */
} ternd_device_t;

/** One reading, as stored (one row). */
typedef struct ternd_reading {
    const char *name; /* resolved SenML name (base name + name) */
    const char *unit; /* "" if none */
    double t;         /* Unix seconds */
    enum { TERND_V_NUM, TERND_V_BOOL, TERND_V_STR, TERND_V_DATA } kind;
    double v;
    bool vb;
    const char *vs;    /* TERND_V_STR: NUL-terminated */
    const uint8_t *vd; /* TERND_V_DATA */
    size_t vd_len;
} ternd_reading_t;

/** A twin key and its CBOR value (deleted: value NULL), with the version it changed in. */
typedef struct ternd_twin_kv {
    char key[129];
    const uint8_t *value; /* CBOR, valid until the next call on the store */
    size_t len;
    uint64_t version;
    bool deleted;
} ternd_twin_kv_t;

/** A certificate ternd's CA issued (one row per issuance). */
typedef struct ternd_cert_row {
    char device[65];
    uint64_t request; /* the serial of the request it answers (the device's rotation count) */
    char key_id[65];  /* SHA-256 of the device's public key, hex (ca.h) */
    char serial[65];  /* the certificate's serial, hex */
    int64_t not_before, not_after; /* Unix seconds */
    int64_t issued_ms;             /* Unix ms */
    const char *chain;             /* PEM, leaf first; valid until the next call on the store */
    size_t chain_len;
    bool published; /* the broker acknowledged it on cert/new (or a newer one replaced it) */
} ternd_cert_row_t;

/** A trust store an operator gave a device (one row per version). */
typedef struct ternd_trust_row {
    uint64_t version; /* 1, 2, ... per device */
    const char *pem;  /* valid until the next call on the store */
    size_t len;
    int64_t created_ms;
    bool published; /* the broker acknowledged it on trust/new (or a newer one replaced it) */
} ternd_trust_row_t;

/** The outcome of a fleet-wide desired-state change (ternd_store_twin_set_desired_all()). */
typedef struct ternd_fleet_change {
    uint64_t devices;                  /* devices changed: every one in the registry */
    uint64_t version_min, version_max; /* their new desired versions (0 with no devices) */
    char largest[65];     /* the device whose desired state is (or would be) the largest */
    size_t largest_bytes; /* its size: bytes of its entries as CBOR (key text, value) */
} ternd_fleet_change_t;

/** A device behind on its twin (ternd_store_twin_behind()). */
typedef struct ternd_twin_behind {
    char id[65];
    uint64_t desired, applied; /* applied < desired */
} ternd_twin_behind_t;

/** The fleet in numbers (ternd_store_fleet_stats()), from SQL aggregates. */
typedef struct ternd_fleet_stats {
    uint64_t devices, online;
    uint64_t messages, readings;  /* telemetry stored, all devices */
    uint64_t desired_version_max; /* the highest desired version of any device */
    uint64_t in_sync;             /* devices whose applied version is their desired version */
} ternd_fleet_stats_t;

/** What to publish: a device's latest certificate (cert/new) or trust store (trust/new). */
typedef enum { TERND_PUB_CERT = 0, TERND_PUB_TRUST = 1 } ternd_pub_kind_t;

typedef void (*ternd_twin_kv_fn)(void *ctx, const ternd_twin_kv_t *kv);
typedef void (*ternd_pending_fn)(void *ctx, const char *device, ternd_pub_kind_t kind);
typedef void (*ternd_device_fn)(void *ctx, const ternd_device_t *d);
typedef void (*ternd_reading_fn)(void *ctx, const char *device, uint64_t seq,
                                 const ternd_reading_t *r);
typedef void (*ternd_behind_fn)(void *ctx, const ternd_twin_behind_t *b);

/** The operations a backend implements (see the functions below for each one's contract). */
typedef struct ternd_store_ops {
    void (*close)(ternd_store_t *s);
    const char *(*error)(ternd_store_t *s);
    int (*begin)(ternd_store_t *s);
    int (*commit)(ternd_store_t *s);
    int (*rollback)(ternd_store_t *s);
    int (*presence)(ternd_store_t *s, const char *id, bool online, const char *fw, const char *link,
                    const char *region, bool has_seq, uint64_t next_seq, int64_t now_ms);
    int (*seen)(ternd_store_t *s, const char *id, int64_t now_ms);
    int (*message)(ternd_store_t *s, const char *id, uint64_t seq, int64_t now_ms);
    int (*reading)(ternd_store_t *s, const char *id, uint64_t seq, const ternd_reading_t *r);
    int (*device)(ternd_store_t *s, const char *id, ternd_device_t *out);
    int (*devices)(ternd_store_t *s, ternd_device_fn fn, void *ctx);
    int (*readings)(ternd_store_t *s, const char *id, double since, const char *name, size_t limit,
                    ternd_reading_fn fn, void *ctx);
    int (*twin_set_desired)(ternd_store_t *s, const char *id, const ternd_twin_kv_t *kv, size_t n,
                            uint64_t *version);
    int (*twin_versions)(ternd_store_t *s, const char *id, uint64_t *desired, uint64_t *reported,
                         uint64_t *applied);
    int (*twin_desired)(ternd_store_t *s, const char *id, uint64_t since, ternd_twin_kv_fn fn,
                        void *ctx);
    int (*twin_reported)(ternd_store_t *s, const char *id, ternd_twin_kv_fn fn, void *ctx);
    int (*twin_report)(ternd_store_t *s, const char *id, uint64_t version, uint64_t applied,
                       bool full, const ternd_twin_kv_t *kv, size_t n);
    int (*cert_put)(ternd_store_t *s, const ternd_cert_row_t *row);
    int (*cert_latest)(ternd_store_t *s, const char *id, ternd_cert_row_t *out);
    int (*cert_find)(ternd_store_t *s, const char *id, uint64_t request, const char *key_id,
                     ternd_cert_row_t *out);
    int (*cert_published)(ternd_store_t *s, const char *id, const char *serial);
    int (*trust_put)(ternd_store_t *s, const char *id, const char *pem, size_t len, int64_t now_ms,
                     uint64_t *version);
    int (*trust_latest)(ternd_store_t *s, const char *id, ternd_trust_row_t *out);
    int (*trust_published)(ternd_store_t *s, const char *id, uint64_t version);
    int (*pending)(ternd_store_t *s, ternd_pending_fn fn, void *ctx);
    int (*twin_set_desired_all)(ternd_store_t *s, const ternd_twin_kv_t *kv, size_t n,
                                size_t max_state, ternd_fleet_change_t *out);
    int (*twin_behind)(ternd_store_t *s, const char *after, size_t limit, ternd_behind_fn fn,
                       void *ctx);
    int (*fleet_stats)(ternd_store_t *s, ternd_fleet_stats_t *out);
} ternd_store_ops_t;

struct ternd_store {
    const ternd_store_ops_t *ops;
};

/**
 * Open (creating if needed) the SQLite store at @p path: WAL journal,
 * synchronous=NORMAL (a commit survives a ternd crash or SIGKILL), a busy
 * timeout so the API's connection and the MQTT loop's can share the file.
 * NULL on failure, with the reason in @p err (@p cap bytes).
 */
ternd_store_t *ternd_store_open_sqlite(const char *path, char *err, size_t cap);

static inline void ternd_store_close(ternd_store_t *s)
{
    s->ops->close(s);
}
/** The last failure's message. */
static inline const char *ternd_store_error(ternd_store_t *s)
{
    return s->ops->error(s);
}
/** A transaction around several calls (ternd batches a message's readings in one). */
static inline int ternd_store_begin(ternd_store_t *s)
{
    return s->ops->begin(s);
}
static inline int ternd_store_commit(ternd_store_t *s)
{
    return s->ops->commit(s);
}
static inline int ternd_store_rollback(ternd_store_t *s)
{
    return s->ops->rollback(s);
}
/**
 * Birth or will: create the device if new (first_seen), set online and the
 * given non-NULL fields, last_seen. With @p has_seq, a @p next_seq below the
 * device's max_seq starts a new epoch (its outbox was erased) with max_seq 0.
 */
static inline int ternd_store_presence(ternd_store_t *s, const char *id, bool online,
                                       const char *fw, const char *link, const char *region,
                                       bool has_seq, uint64_t next_seq, int64_t now_ms)
{
    return s->ops->presence(s, id, online, fw, link, region, has_seq, next_seq, now_ms);
}
/** Create the device if new and set last_seen (any message from it). */
static inline int ternd_store_seen(ternd_store_t *s, const char *id, int64_t now_ms)
{
    return s->ops->seen(s, id, now_ms);
}
/**
 * Record telemetry message @p seq of @p id in the device's current epoch:
 * 1 if new (then store its readings), 0 if already stored (drop it).
 */
static inline int ternd_store_message(ternd_store_t *s, const char *id, uint64_t seq,
                                      int64_t now_ms)
{
    return s->ops->message(s, id, seq, now_ms);
}
/** Store one reading of message @p seq (after ternd_store_message() said 1). */
static inline int ternd_store_reading(ternd_store_t *s, const char *id, uint64_t seq,
                                      const ternd_reading_t *r)
{
    return s->ops->reading(s, id, seq, r);
}
/** The registry entry of @p id: 1 found, 0 unknown. */
static inline int ternd_store_device(ternd_store_t *s, const char *id, ternd_device_t *out)
{
    return s->ops->device(s, id, out);
}
/** Every device, by id. */
static inline int ternd_store_devices(ternd_store_t *s, ternd_device_fn fn, void *ctx)
{
    return s->ops->devices(s, fn, ctx);
}
/** Readings of @p id with t >= @p since (and name == @p name unless NULL), oldest first,
 * at most @p limit (0: no limit). */
static inline int ternd_store_readings(ternd_store_t *s, const char *id, double since,
                                       const char *name, size_t limit, ternd_reading_fn fn,
                                       void *ctx)
{
    return s->ops->readings(s, id, since, name, limit, fn, ctx);
}
/**
 * Operator change: set (or delete) @p n desired keys of @p id in one new
 * desired version (its number in *version; the device is created if new).
 */
static inline int ternd_store_twin_set_desired(ternd_store_t *s, const char *id,
                                               const ternd_twin_kv_t *kv, size_t n,
                                               uint64_t *version)
{
    return s->ops->twin_set_desired(s, id, kv, n, version);
}
/** The twin's versions: desired (latest set), reported (latest stored report), applied
 * (the desired version the device says it applied); 0 for a device never seen. */
static inline int ternd_store_twin_versions(ternd_store_t *s, const char *id, uint64_t *desired,
                                            uint64_t *reported, uint64_t *applied)
{
    return s->ops->twin_versions(s, id, desired, reported, applied);
}
/** Desired keys changed after version @p since (deleted ones too: value NULL); since 0:
 * the whole desired state. */
static inline int ternd_store_twin_desired(ternd_store_t *s, const char *id, uint64_t since,
                                           ternd_twin_kv_fn fn, void *ctx)
{
    return s->ops->twin_desired(s, id, since, fn, ctx);
}
/** The reported state (no deleted keys). */
static inline int ternd_store_twin_reported(ternd_store_t *s, const char *id, ternd_twin_kv_fn fn,
                                            void *ctx)
{
    return s->ops->twin_reported(s, id, fn, ctx);
}
/**
 * A device's report: 1 stored (its version above the stored one; @p full
 * replaces the whole reported state, else the @p n keys change), 0 stale
 * (dropped). The applied version is stored either way if higher. A hello
 * (no keys, not full) of version 0 after reports means the device's twin
 * started over (a factory reset): the reported state is forgotten and the
 * applied version taken as it is, even if lower (1).
 */
static inline int ternd_store_twin_report(ternd_store_t *s, const char *id, uint64_t version,
                                          uint64_t applied, bool full, const ternd_twin_kv_t *kv,
                                          size_t n)
{
    return s->ops->twin_report(s, id, version, applied, full, kv, n);
}

/**
 * Fleet change: set (or delete) @p n desired keys of every device in the
 * registry, each in one new desired version of its own (its previous one + 1),
 * all in one transaction (a savepoint inside the caller's). @p max_state
 * bounds every device's desired state afterwards, in bytes of its entries as
 * CBOR (each key as a text string, then its value; 0: no bound): 0 done
 * (*out says how many devices and their versions), 1 refused because a device
 * would go over (*out names the largest one; nothing changed), -1 failed.
 */
static inline int ternd_store_twin_set_desired_all(ternd_store_t *s, const ternd_twin_kv_t *kv,
                                                   size_t n, size_t max_state,
                                                   ternd_fleet_change_t *out)
{
    return s->ops->twin_set_desired_all(s, kv, n, max_state, out);
}
/**
 * Online devices whose applied desired version is below their desired version,
 * by id, from the first id above @p after ("" or NULL: from the start), at most
 * @p limit (0: no limit): the twin server's sweep after a fleet change.
 */
static inline int ternd_store_twin_behind(ternd_store_t *s, const char *after, size_t limit,
                                          ternd_behind_fn fn, void *ctx)
{
    return s->ops->twin_behind(s, after, limit, fn, ctx);
}
/** The fleet's counts (SQL aggregates over the registry and the twins). */
static inline int ternd_store_fleet_stats(ternd_store_t *s, ternd_fleet_stats_t *out)
{
    return s->ops->fleet_stats(s, out);
}

/**
 * Record a certificate issued (the device is created if new). A later
 * issuance to the same device replaces it as the latest (and as the one to
 * publish); the same (device, request, key_id) again replaces that row.
 */
static inline int ternd_store_cert_put(ternd_store_t *s, const ternd_cert_row_t *row)
{
    return s->ops->cert_put(s, row);
}
/** The latest certificate of @p id (highest request serial, then the newest): 1, or 0 none. */
static inline int ternd_store_cert_latest(ternd_store_t *s, const char *id, ternd_cert_row_t *out)
{
    return s->ops->cert_latest(s, id, out);
}
/** The certificate issued to @p id for request @p request and key @p key_id: 1, or 0 none. */
static inline int ternd_store_cert_find(ternd_store_t *s, const char *id, uint64_t request,
                                        const char *key_id, ternd_cert_row_t *out)
{
    return s->ops->cert_find(s, id, request, key_id, out);
}
/** The broker took certificate @p serial of @p id on cert/new. */
static inline int ternd_store_cert_published(ternd_store_t *s, const char *id, const char *serial)
{
    return s->ops->cert_published(s, id, serial);
}
/**
 * A new trust store for @p id (PEM, @p len bytes): its version (the
 * device's previous one + 1, from 1) in *version. The device is created if new.
 */
static inline int ternd_store_trust_put(ternd_store_t *s, const char *id, const char *pem,
                                        size_t len, int64_t now_ms, uint64_t *version)
{
    return s->ops->trust_put(s, id, pem, len, now_ms, version);
}
/** The latest trust store of @p id: 1, or 0 none. */
static inline int ternd_store_trust_latest(ternd_store_t *s, const char *id, ternd_trust_row_t *out)
{
    return s->ops->trust_latest(s, id, out);
}
/** The broker took trust version @p version of @p id (and so every older one) on trust/new. */
static inline int ternd_store_trust_published(ternd_store_t *s, const char *id, uint64_t version)
{
    return s->ops->trust_published(s, id, version);
}
/** Every device whose latest certificate or trust store the broker has not taken yet. */
static inline int ternd_store_pending(ternd_store_t *s, ternd_pending_fn fn, void *ctx)
{
    return s->ops->pending(s, fn, ctx);
}

#endif /* TERND_STORE_H */
