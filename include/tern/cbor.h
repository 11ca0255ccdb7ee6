/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cbor.h
 * @brief Core: CBOR (RFC 8949) without a heap. A streaming encoder into a
 * caller buffer, a strict pull decoder over a caller buffer, and a printer of
 * diagnostic notation (RFC 8949 section 8).
 *
 * Encoder. tern_cbor_enc_init() over a buffer, then one call per item; array
 * and map headers open containers that the following items fill (a map of n
 * pairs takes 2n items). Errors are sticky: the first one (TERN_ERR_TOO_SMALL
 * when the buffer is full) is kept and every later call returns it, so a
 * caller may encode a whole message and check once, with
 * tern_cbor_enc_finish(), which also checks that every container is complete.
 * Integers and lengths always take their shortest form; floats take the
 * shortest of half, single and double precision that keeps the value exactly
 * (preferred serialization; NaN is f97e00). With TERN_CBOR_DETERMINISTIC
 * (RFC 8949 section 4.2.1, "core deterministic encoding") indefinite lengths
 * are refused (TERN_ERR_UNSUPPORTED) and the pairs of each map are sorted by
 * the bytewise order of their encoded keys when its last pair is complete
 * (in place, no extra memory), so the same data always gives the same bytes.
 *
 * Decoder. tern_cbor_dec_init() over a buffer, then tern_cbor_dec_next()
 * returns the items in order (pre-order: a container's header, then its
 * contents, then a TERN_CBOR_END item that closes it, for definite and
 * indefinite lengths alike; an indefinite-length string is a header, its
 * chunks, then END). Strings are views into the buffer. Validation is strict
 * and each fault has its own error (TERN_ERR_CBOR_*): truncated input,
 * reserved additional information (28..30), indefinite length where none is
 * allowed, a chunk of the wrong type or itself indefinite, a break outside an
 * indefinite container, a two-byte simple value below 32, invalid UTF-8 in a
 * text string, nesting deeper than TERN_CBOR_MAX_DEPTH, a map missing its last
 * value; with flags, duplicate map keys (TERN_CBOR_CHECK_DUPLICATES) and any
 * encoding that is not deterministic (TERN_CBOR_DETERMINISTIC). After an error
 * the decoder stays failed; tern_cbor_dec_offset() says at which byte.
 *
 * Diagnostic notation. tern_cbor_diag() prints one item as RFC 8949 section
 * 8 writes it (with the section 8.1 extensions for indefinite lengths and
 * the encoding indicators never shown): 1.5, -4.1, Infinity, NaN, h'0102',
 * "text", [_ 1, 2], {"a": 1}, 0("2013-03-21T20:04:00Z"), simple(16), undefined.
 * It is for debugging and tools; it is a separate object, so firmware that
 * does not call it does not link it.
 *
 * Speed. Builds that optimize for speed get the decoder's short way for
 * common items (TERN_CBOR_FAST in tern/tern_config.h, 0.5 KiB more on a
 * Cortex-M4); -Os builds leave it out. Both ways give the same items and
 * errors.
 */
#ifndef TERN_CBOR_H
#define TERN_CBOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/err.h"
#include "tern/tern_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Flags of the encoder and decoder. */
#define TERN_CBOR_DETERMINISTIC    0x01u /* enc: sort map keys, no indefinite; dec: check it */
#define TERN_CBOR_CHECK_DUPLICATES 0x02u /* dec: refuse a map with the same key twice */
#define TERN_CBOR_SEQUENCE         0x04u /* dec: a CBOR sequence (RFC 8742), items back to back */

/** The simple values with a name. */
#define TERN_CBOR_FALSE     20u
#define TERN_CBOR_TRUE      21u
#define TERN_CBOR_NULL      22u
#define TERN_CBOR_UNDEFINED 23u

/* ------------------------------------------------------------- encoder -- */

/** One open container of the encoder (private). */
typedef struct tern_cbor_frame {
    uint64_t left; /* items still to come; UINT64_MAX: indefinite */
    size_t start;  /* offset of its first item (maps: for sorting) */
    uint8_t kind;  /* major type of the container (4 array, 5 map, 2/3 indefinite string) */
} tern_cbor_frame_t;

typedef struct tern_cbor_enc {
    uint8_t *buf;
    size_t cap, len;
    size_t lim; /* cap; len after an error, so that nothing more fits */
    /* TERN_CBOR_DETERMINISTIC: sorts the pairs of a map whose contents are buf[start, end) */
    tern_err_t (*sort)(uint8_t *buf, size_t start, size_t end);
    tern_err_t err; /* sticky */
    uint8_t flags;
    uint8_t depth;         /* containers open */
    tern_cbor_frame_t top; /* the innermost open container; at depth 0 the top level */
    tern_cbor_frame_t stack[TERN_CBOR_MAX_DEPTH]; /* the containers around it, outermost first */
} tern_cbor_enc_t;

/** tern_cbor_enc_init() without the map sorting (private: call tern_cbor_enc_init()). */
void tern_cbor_enc_setup(tern_cbor_enc_t *e, uint8_t *buf, size_t cap, unsigned flags);
/** Deterministic encoding's map sorting, in its own object (private). */
tern_err_t tern_cbor_sort_pairs(uint8_t *buf, size_t start, size_t end);

/**
 * Start encoding into @p buf (@p cap bytes) with @p flags. The map sorting of
 * TERN_CBOR_DETERMINISTIC lives in an object of its own that a firmware links
 * only if it may ask for it (a constant 0 here leaves it out).
 */
static inline void tern_cbor_enc_init(tern_cbor_enc_t *e, uint8_t *buf, size_t cap, unsigned flags)
{
    tern_cbor_enc_setup(e, buf, cap, flags);
    if (flags & TERN_CBOR_DETERMINISTIC) {
        e->sort = tern_cbor_sort_pairs;
    }
}

tern_err_t tern_cbor_enc_uint(tern_cbor_enc_t *e, uint64_t v);
/** The negative integer -1 - @p n (down to -2^64, which int64_t cannot hold). */
tern_err_t tern_cbor_enc_negative(tern_cbor_enc_t *e, uint64_t n);
/** Any int64_t: major type 0 or 1 as its sign says. */
static inline tern_err_t tern_cbor_enc_int(tern_cbor_enc_t *e, int64_t v)
{
    return v >= 0 ? tern_cbor_enc_uint(e, (uint64_t)v)
                  : tern_cbor_enc_negative(e, (uint64_t)(-(v + 1)));
}
/** A byte string. */
tern_err_t tern_cbor_enc_bytes(tern_cbor_enc_t *e, const void *p, size_t len);
/** A text string; the caller vouches that it is UTF-8. */
tern_err_t tern_cbor_enc_text(tern_cbor_enc_t *e, const char *s, size_t len);
/** An array of @p n items (the next @p n calls fill it). */
tern_err_t tern_cbor_enc_array(tern_cbor_enc_t *e, uint64_t n);
/** A map of @p n pairs (the next 2n calls: key, value, key, value ...). */
tern_err_t tern_cbor_enc_map(tern_cbor_enc_t *e, uint64_t n);
/**
 * An indefinite-length item of major type @p major (2 bytes, 3 text, 4 array, 5
 * map), closed by tern_cbor_enc_break(). Chunks of an indefinite string must be
 * definite strings of its type. Use the named forms below.
 */
tern_err_t tern_cbor_enc_indef(tern_cbor_enc_t *e, unsigned major);
tern_err_t tern_cbor_enc_break(tern_cbor_enc_t *e);
/** A tag; the next item is its content. */
tern_err_t tern_cbor_enc_tag(tern_cbor_enc_t *e, uint64_t tag);
/** Simple value @p v (0..23, 32..255: 20..23 are false, true, null, undefined). */
tern_err_t tern_cbor_enc_simple(tern_cbor_enc_t *e, uint8_t v);

/** A NUL-terminated text string. */
static inline tern_err_t tern_cbor_enc_str(tern_cbor_enc_t *e, const char *s)
{
    return tern_cbor_enc_text(e, s, s != NULL ? strlen(s) : 0);
}
static inline tern_err_t tern_cbor_enc_array_indef(tern_cbor_enc_t *e)
{
    return tern_cbor_enc_indef(e, 4);
}
static inline tern_err_t tern_cbor_enc_map_indef(tern_cbor_enc_t *e)
{
    return tern_cbor_enc_indef(e, 5);
}
static inline tern_err_t tern_cbor_enc_bytes_indef(tern_cbor_enc_t *e)
{
    return tern_cbor_enc_indef(e, 2);
}
static inline tern_err_t tern_cbor_enc_text_indef(tern_cbor_enc_t *e)
{
    return tern_cbor_enc_indef(e, 3);
}
static inline tern_err_t tern_cbor_enc_bool(tern_cbor_enc_t *e, bool v)
{
    return tern_cbor_enc_simple(e, v ? TERN_CBOR_TRUE : TERN_CBOR_FALSE);
}
static inline tern_err_t tern_cbor_enc_null(tern_cbor_enc_t *e)
{
    return tern_cbor_enc_simple(e, TERN_CBOR_NULL);
}
static inline tern_err_t tern_cbor_enc_undefined(tern_cbor_enc_t *e)
{
    return tern_cbor_enc_simple(e, TERN_CBOR_UNDEFINED);
}
/** A float in preferred serialization: the shortest of 16, 32 or 64 bits that is exact. */
tern_err_t tern_cbor_enc_float(tern_cbor_enc_t *e, double v);
/** An array of @p n items given already encoded, back to back, in @p items (@p len bytes,
 * not checked): one item for the container it is in. */
tern_err_t tern_cbor_enc_array_of(tern_cbor_enc_t *e, uint64_t n, const void *items, size_t len);
/** Bytes already encoded as one whole CBOR item (counted as one item, not checked). */
tern_err_t tern_cbor_enc_raw(tern_cbor_enc_t *e, const void *item, size_t len);
/**
 * TERN_OK and *len (may be NULL) the bytes written if everything went in and
 * every container is complete; else the sticky error, or TERN_ERR_STATE for
 * an open container.
 */
tern_err_t tern_cbor_enc_finish(const tern_cbor_enc_t *e, size_t *len);

/**
 * Take back everything after byte @p len (a length the encoder had at the top
 * level, between items) and any error: for a caller that encodes top-level
 * items one by one and drops one that did not fit.
 */
void tern_cbor_enc_rewind(tern_cbor_enc_t *e, size_t len);

/* ------------------------------------------------------------- decoder -- */

typedef enum tern_cbor_type {
    TERN_CBOR_UINT = 0, /* u: the value */
    TERN_CBOR_NEGINT,   /* u: n, the value is -1 - n */
    TERN_CBOR_BYTES,    /* ptr, len (definite); indefinite: chunks follow, then END */
    TERN_CBOR_TEXT,     /* ptr, len: valid UTF-8 (definite); indefinite as BYTES */
    TERN_CBOR_ARRAY,    /* u: items (definite); its items follow, then END */
    TERN_CBOR_MAP,      /* u: pairs (definite); keys and values follow, then END */
    TERN_CBOR_TAG,      /* u: the tag number; its content follows */
    TERN_CBOR_SIMPLE,   /* u: the simple value (false, true, null, undefined included) */
    TERN_CBOR_FLOAT,    /* f: the value, bits: 16, 32 or 64 */
    TERN_CBOR_END,      /* closes the innermost container or indefinite string */
} tern_cbor_type_t;

typedef struct tern_cbor_item {
    tern_cbor_type_t type;
    bool indefinite;
    uint8_t bits; /* FLOAT: 16, 32, 64 */
    uint64_t u;   /* see the type; definite strings: their length; indefinite items: 0 */
    double f;
    const uint8_t *ptr;
    size_t len;
    size_t offset; /* of the item's first byte */
} tern_cbor_item_t;

/** One open container of the decoder (private). */
typedef struct tern_cbor_dframe {
    uint64_t left; /* items still to come (maps: 2 per pair); indefinite: a count never reached */
    size_t start;  /* offset of the container's first item */
    size_t prev_key, prev_key_len; /* maps: the last key, for the order and duplicate checks */
    uint8_t kind;                  /* major type (4, 5, 6 for a tag; 2 or 3: indefinite string) */
} tern_cbor_dframe_t;

typedef struct tern_cbor_dec tern_cbor_dec_t;
struct tern_cbor_dec {
    const uint8_t *buf;
    size_t len, pos;
    size_t lim; /* len while tern_cbor_dec_next() may take its short way; 0 after an error or with
                   checks */
    /* the optional checks (flags), run on the head at @p at before the item is taken */
    tern_err_t (*check)(tern_cbor_dec_t *d, size_t at);
    tern_err_t err; /* sticky */
    size_t err_offset;
    uint8_t flags;
    uint8_t depth;          /* containers open */
    tern_cbor_dframe_t top; /* the innermost open container; at depth 0, the top level (1 item) */
    tern_cbor_dframe_t stack[TERN_CBOR_MAX_DEPTH]; /* the containers around it, outermost first */
};

/** tern_cbor_dec_init() without the optional checks (private: call tern_cbor_dec_init()). */
void tern_cbor_dec_setup(tern_cbor_dec_t *d, const uint8_t *buf, size_t len, unsigned flags);
/** The duplicate-key and deterministic-encoding checks, in their own object (private). */
tern_err_t tern_cbor_dec_check(tern_cbor_dec_t *d, size_t at);

/**
 * Start decoding the one CBOR item in @p buf (@p len bytes) with @p flags
 * (with TERN_CBOR_SEQUENCE: any number of top-level items, none included, and
 * TERN_ERR_EMPTY where the input ends between two of them). The
 * checks that TERN_CBOR_CHECK_DUPLICATES and TERN_CBOR_DETERMINISTIC ask for
 * live in an object of their own, linked only by a firmware that may ask for
 * them (a constant 0 here leaves them out).
 */
static inline void tern_cbor_dec_init(tern_cbor_dec_t *d, const uint8_t *buf, size_t len,
                                      unsigned flags)
{
    tern_cbor_dec_setup(d, buf, len, flags);
    if (flags & (TERN_CBOR_DETERMINISTIC | TERN_CBOR_CHECK_DUPLICATES)) {
        d->check = tern_cbor_dec_check;
    }
}

/**
 * The next item in *it. TERN_ERR_EMPTY once the top-level item is complete;
 * TERN_ERR_CBOR_TRAILING if bytes follow it; a TERN_ERR_CBOR_* for malformed
 * input (sticky).
 */
tern_err_t tern_cbor_dec_next(tern_cbor_dec_t *d, tern_cbor_item_t *it);

/**
 * Skip the rest of the item @p it that tern_cbor_dec_next() just returned: for
 * a container, tag or indefinite string, everything up to and including its
 * END (or the tag's content); for anything else, nothing.
 */
tern_err_t tern_cbor_dec_skip(tern_cbor_dec_t *d, const tern_cbor_item_t *it);

/** The offset the decoder stopped at (the faulty byte after an error). */
size_t tern_cbor_dec_offset(const tern_cbor_dec_t *d);

/** Run @p d to the end of its input (private: call tern_cbor_validate()). */
tern_err_t tern_cbor_dec_walk(tern_cbor_dec_t *d, size_t *err_offset);

/**
 * Check that @p buf holds exactly one well-formed, valid item (with @p flags);
 * TERN_OK, or the error and *err_offset (may be NULL) its byte.
 */
static inline tern_err_t tern_cbor_validate(const uint8_t *buf, size_t len, unsigned flags,
                                            size_t *err_offset)
{
    tern_cbor_dec_t d;
    tern_cbor_dec_init(&d, buf, len, flags);
    return tern_cbor_dec_walk(&d, err_offset);
}

/* ----------------------------------------------------- diagnostic notation -- */

/**
 * Print the item in @p buf as diagnostic notation into @p out (@p cap bytes,
 * NUL-terminated); *out_len (may be NULL) gets the length without the NUL
 * (on TERN_ERR_TOO_SMALL: the length it needs, and out holds what fitted).
 * The decoder's error for malformed input, TERN_ERR_TOO_SMALL if it does not
 * fit.
 */
tern_err_t tern_cbor_diag(const uint8_t *buf, size_t len, char *out, size_t cap, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif /* TERN_CBOR_H */
