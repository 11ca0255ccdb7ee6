/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file senml.h
 * @brief Layer 4: SenML (RFC 8428) packs in their CBOR representation, to write
 * on the device and to read anywhere.
 *
 * A pack is a CBOR array of records; each record is a map keyed by the RFC's
 * integer labels (section 6: bn -2, bt -3, bu -4, bv -5, n 0, u 1, v 2, vs 3,
 * vb 4, t 6, vd 8). The writer compresses with the base fields: the first
 * record carries the base name (the device's prefix, e.g. "urn:dev:tern:dev-1:")
 * and the base time (the first reading's time), later records only their own
 * name and their time relative to it; a unit is written once per record. Times
 * are seconds (floats when they have a fraction: a reading at 1.5 s after the
 * base is t 1.5); values are floats in preferred serialization (21.5 takes 3
 * bytes, 21.53 takes 9).
 *
 * The writer needs no count up front: records go into the caller's buffer after
 * room kept for the array head, and tern_senml_finish() writes the shortest head
 * in front of them (the pack then starts at *out, inside the buffer).
 *
 * The reader walks a pack record by record and resolves what RFC 8428 section
 * 4.6 says a reader must: the full name is base name + name (given as the two
 * parts, no copy), the time is base time + time, the value is base value + value,
 * the unit falls back to the base unit. It refuses what the RFC forbids: a record
 * with no name at all, more than one value, a name with characters outside
 * [A-Za-z0-9-:./_] or not starting with a letter or digit, a label it does not
 * know that ends with "_" (must-understand), and a base version above 10.
 */
#ifndef TERN_SENML_H
#define TERN_SENML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/cbor.h"
#include "tern/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/** RFC 8428 section 6 labels. */
enum {
    TERN_SENML_BVER = -1,
    TERN_SENML_BN = -2,
    TERN_SENML_BT = -3,
    TERN_SENML_BU = -4,
    TERN_SENML_BV = -5,
    TERN_SENML_BS = -6,
    TERN_SENML_N = 0,
    TERN_SENML_U = 1,
    TERN_SENML_V = 2,
    TERN_SENML_VS = 3,
    TERN_SENML_VB = 4,
    TERN_SENML_S = 5,
    TERN_SENML_T = 6,
    TERN_SENML_UT = 7,
    TERN_SENML_VD = 8,
};

typedef enum tern_senml_kind {
    TERN_SENML_NONE = 0, /* no value (a record with only a sum or a name) */
    TERN_SENML_NUM,
    TERN_SENML_BOOL,
    TERN_SENML_STR,
    TERN_SENML_DATA,
} tern_senml_kind_t;

/** A string view (not NUL-terminated on read). */
typedef struct tern_senml_str {
    const char *ptr;
    size_t len;
} tern_senml_str_t;

/** One reading. */
typedef struct tern_senml_rec {
    tern_senml_str_t base_name; /* read: the base name in force (may be empty) */
    tern_senml_str_t name;      /* write: the name after the base name; read: the same */
    tern_senml_str_t unit;      /* SenML unit ("Cel", "%RH", "Pa", "V", "dBm" ...), or empty */
    tern_senml_kind_t kind;
    double v;            /* NUM */
    bool vb;             /* BOOL */
    tern_senml_str_t vs; /* STR */
    const uint8_t *vd;   /* DATA */
    size_t vd_len;
    double t; /* absolute time, seconds since 1970 (read: resolved) */
} tern_senml_rec_t;

/* ----------------------------------------------------------------- writer -- */

typedef struct tern_senml_writer {
    tern_cbor_enc_t enc;
    uint8_t *buf;
    size_t records;
    double bt;
    const char *bn;
} tern_senml_writer_t;

/** Bytes kept in front of the records for the pack's array head. */
#define TERN_SENML_HEAD_ROOM 9u

/**
 * Start a pack in @p buf (@p cap bytes) with base name @p bn (NUL-terminated,
 * may be NULL) and base time @p bt (seconds since 1970; the first record's time
 * if you pass its own).
 */
void tern_senml_begin(tern_senml_writer_t *w, uint8_t *buf, size_t cap, const char *bn, double bt);

/** Add @p r (its name and unit NUL-terminated or with lengths, its time absolute). */
tern_err_t tern_senml_add(tern_senml_writer_t *w, const tern_senml_rec_t *r);

/** Bytes the pack would take if it were finished now. */
size_t tern_senml_size(const tern_senml_writer_t *w);

/** Close the pack: *out its first byte (inside buf), *len its size. TERN_ERR_EMPTY if no record. */
tern_err_t tern_senml_finish(tern_senml_writer_t *w, const uint8_t **out, size_t *len);

/* ----------------------------------------------------------------- reader -- */

typedef struct tern_senml_reader {
    tern_cbor_dec_t dec;
    tern_senml_str_t bn, bu;
    double bt, bv;
    bool started;
} tern_senml_reader_t;

/** Start reading the pack in @p buf (@p len bytes). */
void tern_senml_read_begin(tern_senml_reader_t *r, const uint8_t *buf, size_t len);

/**
 * The next record, resolved, in *rec (views into the buffer). TERN_ERR_EMPTY after
 * the last; TERN_ERR_MALFORMED for a pack that breaks RFC 8428, or the CBOR
 * decoder's error; tern_cbor_dec_offset(&r->dec) says where.
 */
tern_err_t tern_senml_read_next(tern_senml_reader_t *r, tern_senml_rec_t *rec);

#ifdef __cplusplus
}
#endif
#endif /* TERN_SENML_H */
