/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file twin.h
 * @brief Layer 4: the device twin. Desired state from the fleet (deltas) is
 * applied through the application's handlers; reported state is kept in a
 * caller buffer, persisted in flash, and sent as reports (tern/wire.h has the
 * schemas and the version rules).
 *
 * No I/O but the flash: the application (or the uplink) passes in the payloads
 * received on `tern/<id>/twin/desired` (tern_twin_on_delta()) and publishes the
 * bytes built here on `tern/<id>/twin/reported`. A typical loop:
 *
 *   on connect:   tern_twin_build_hello() and send it; if tern_twin_wants() has
 *                 TERN_TWIN_UNACKED, tern_twin_build_report() and send it too
 *   on a delta:   tern_twin_on_delta()
 *   when tern_twin_wants() has TERN_TWIN_WANT_HELLO or TERN_TWIN_WANT_REPORT:
 *                 tern_twin_build_report(.., false, ..) and send it
 *   on a PUBACK:  tern_twin_report_sent(its version)
 *
 * Deltas. {1: version, 2: from, 3: {key: value or null}}. Applied only if
 * from <= applied < version (then applied = version); version <= applied is
 * stale and ignored, so an old delta arriving late never overwrites a newer
 * one; from > applied is a gap: nothing changes and the twin wants a report
 * of its versions (TERN_TWIN_WANT_HELLO), to which ternd answers with the
 * delta from there. A delta is checked whole before any handler runs: bad CBOR
 * (not well-formed and valid, or a map key given twice) gives the decoder's
 * TERN_ERR_CBOR_* error, a wrong schema (a top-level key that is not an
 * unsigned integer, 1 or 2 missing or not one, version <= from or above
 * 2^32-1, 3 not a map of text keys, an indefinite length anywhere)
 * TERN_ERR_MALFORMED; both leave the twin as it was. Unknown unsigned keys are
 * ignored (a newer ternd may add some), and 3 may be absent.
 *
 * Handlers. For each key of an applied delta, the handler registered for it
 * (else the default one, else none: refused) is called with the value's CBOR
 * bytes, or with deleted = true for null. TERN_OK accepts: the key's reported
 * value becomes the same value (or is deleted) and it is reported as changed.
 * Any error refuses: the key is not reported changed. The desired version
 * counts as applied either way: a refused value is the application's answer
 * to it (the reported state shows what the device runs), and asking ternd for
 * the same delta again would only be refused again.
 *
 * Reported state. A map of text keys to CBOR values. Each value is stored
 * re-encoded deterministically (RFC 8949 section 4.2.1: shortest integers and
 * floats, sorted map keys); values with indefinite lengths are refused
 * (TERN_ERR_MALFORMED). A null value is a deletion: the key is kept as a
 * tombstone until ternd has acknowledged a report carrying it. Every change
 * is durable when its call returns TERN_OK; if the save fails, the call
 * returns the flash error, the change stays in RAM, and it is saved again
 * before any report is built.
 *
 * Versions. The device numbers its reports 1, 2, ...: changes made since the
 * last report built carry the next version; building a report closes it, and
 * the next change opens a new one. A report built again before its
 * acknowledgement (a resend) keeps its version, since it can only carry the
 * same changes or fewer. A hello carries the newest version ternd is known to
 * hold (the last acknowledged), so ternd never mistakes it for a report with
 * changes. Nothing is built that is not durable first.
 *
 * On flash (little-endian): the first two sectors of the region are two slots.
 * The newest copy of the state is in one of them; a save erases the other and
 * writes there a 32-byte header {magic "TWN1", CRC-32 of header bytes 8..31
 * and the payload, generation, payload length, next reported version,
 * acknowledged version, applied desired version, reserved (0xFFFFFFFF)} and
 * the payload: the entries, a CBOR sequence of (key text, version of its last
 * change, value or null), sorted by key as deterministic maps are. Mount takes
 * the valid copy with the higher generation; a copy cut short fails its CRC
 * and the older one is used. Flash is untrusted: a bad magic, length or CRC,
 * or a bad entry (not deterministic CBOR, keys out of order or twice, versions
 * out of range) discards a copy; with none valid the twin starts empty. Each
 * program unit is written once per erase; the program unit must divide 32.
 *
 * No heap: the state buffer is the caller's, and bounds everything (with the
 * sector size: the payload must fit in a sector after the header). A change
 * needs room for its new entry while the old one is still there;
 * TERN_ERR_TOO_SMALL if it has none. Stack: about 1.6 KiB on a Cortex-M4 at
 * most (two CBOR decoders and an encoder), plus what the handlers use.
 */
#ifndef TERN_TWIN_H
#define TERN_TWIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/err.h"
#include "tern/hal.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A handler of desired key @p key (@p key_len bytes, not NUL-terminated): @p value is
 * its CBOR value (@p len bytes; NULL and 0 if @p deleted). TERN_OK accepts the value
 * as reported state; any error refuses it.
 */
typedef tern_err_t (*tern_twin_handler_fn)(void *ctx, const char *key, size_t key_len,
                                           const uint8_t *value, size_t len, bool deleted);

/** One entry of the handler table: the desired key it serves and its function. */
typedef struct tern_twin_handler {
    const char *key;
    tern_twin_handler_fn fn;
} tern_twin_handler_t;

/** What tern_twin_mount() needs; the caller keeps the buffer and the table alive. */
typedef struct tern_twin_config {
    tern_flash_t flash;                  /* at least 2 sectors; the first two are used */
    uint8_t *state_buf;                  /* the reported state; owned by the twin while mounted */
    size_t state_cap;                    /* its bytes */
    const tern_twin_handler_t *handlers; /* may be NULL if n_handlers is 0 */
    size_t n_handlers;
    tern_twin_handler_fn default_handler; /* optional: keys without a handler */
    void *ctx;                            /* passed to every handler */
} tern_twin_config_t;

/** The twin. Caller-owned; fields are private. */
typedef struct tern_twin {
    tern_twin_config_t cfg;
    size_t cap;       /* usable bytes of state_buf (it and the sector bound it) */
    size_t used;      /* bytes of entries in state_buf */
    uint32_t next;    /* the version of the changes not yet in a built report */
    uint32_t acked;   /* the newest report version acknowledged */
    uint32_t applied; /* the desired version applied */
    uint32_t gen;     /* generation of the newest copy on flash */
    uint32_t sector;  /* sector size */
    uint8_t prog;     /* program unit */
    uint8_t slot;     /* the slot holding the newest copy */
    uint8_t flags;
} tern_twin_t;

/** What tern_twin_on_delta() did with a well-formed delta. */
typedef enum tern_twin_outcome {
    TERN_TWIN_APPLIED = 0, /* from <= applied < version: applied, applied = version */
    TERN_TWIN_STALE,       /* version <= applied: ignored */
    TERN_TWIN_GAP,         /* from > applied: ignored, a report of the versions is wanted */
} tern_twin_outcome_t;

/* What tern_twin_wants() may say. */
#define TERN_TWIN_WANT_HELLO  0x1u /* ternd should hear the versions (a gap, a delta applied) */
#define TERN_TWIN_WANT_REPORT 0x2u /* changes that no report built since carries */
#define TERN_TWIN_UNACKED     0x4u /* changes not acknowledged yet (resend after a reconnect) */

/**
 * Mount the twin on cfg->flash: load the newest valid copy of the state into
 * cfg->state_buf, or start empty. TERN_ERR_INVAL on a bad config or a region of
 * fewer than 2 sectors, TERN_ERR_UNSUPPORTED if the program unit does not divide 32.
 */
tern_err_t tern_twin_mount(tern_twin_t *t, const tern_twin_config_t *cfg);

/**
 * Take delta @p payload (@p len bytes, untrusted) from the fleet; *outcome (may be
 * NULL) says what was done with it. TERN_ERR_TOO_SMALL if an accepted value did not
 * fit in the state (the delta is applied anyway); see the file comment for the rest.
 */
tern_err_t tern_twin_on_delta(tern_twin_t *t, const uint8_t *payload, size_t len,
                              tern_twin_outcome_t *outcome);

/**
 * Set reported key @p key (NUL-terminated UTF-8) to the CBOR item @p value (@p len
 * bytes; null deletes), durably. The decoder's error if it is not one valid item.
 */
tern_err_t tern_twin_report_set(tern_twin_t *t, const char *key, const uint8_t *value, size_t len);

/** Delete reported key @p key, durably (reported as null until acknowledged). */
tern_err_t tern_twin_report_delete(tern_twin_t *t, const char *key);

/**
 * The reported value of @p key: *value (a view into the state buffer, valid until
 * the next change) and *len. TERN_ERR_NOT_FOUND if absent or deleted.
 */
tern_err_t tern_twin_report_get(const tern_twin_t *t, const char *key, const uint8_t **value,
                                size_t *len);

/**
 * Build a report into @p buf (@p cap bytes): the changes not yet acknowledged, or with
 * @p full the whole state; with nothing to carry and not @p full, a hello. *len its
 * bytes, *version (may be NULL) its version for tern_twin_report_sent().
 * TERN_ERR_TOO_SMALL (nothing changed) if it does not fit.
 */
tern_err_t tern_twin_build_report(tern_twin_t *t, uint8_t *buf, size_t cap, size_t *len, bool full,
                                  uint32_t *version);

/** Build a hello (versions only, sent on every connect) into @p buf; as above. */
tern_err_t tern_twin_build_hello(tern_twin_t *t, uint8_t *buf, size_t cap, size_t *len);

/**
 * The transport delivered report @p version: changes it carried stop being pending,
 * durably. TERN_ERR_RANGE if no report of that version can have been built.
 */
tern_err_t tern_twin_report_sent(tern_twin_t *t, uint32_t version);

/** TERN_TWIN_WANT_* and TERN_TWIN_UNACKED bits: what the application should send. */
unsigned tern_twin_wants(const tern_twin_t *t);

/** The desired version applied. */
uint32_t tern_twin_applied(const tern_twin_t *t);

#ifdef __cplusplus
}
#endif
#endif /* TERN_TWIN_H */
