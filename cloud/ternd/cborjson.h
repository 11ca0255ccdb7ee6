/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cborjson.h
 * @brief CBOR <-> JSON (jansson) for ternd's API and ternctl: twin values are
 * CBOR on the wire and JSON for the operator.
 *
 * CBOR to JSON: unsigned and negative integers become JSON integers (beyond
 * int64_t: the nearest double), floats doubles, text strings strings, booleans
 * and null themselves (undefined: null), arrays arrays, maps objects. A map key
 * that is not a text string becomes the text of its diagnostic notation (1 ->
 * "1", h'01' -> "h'01'"); two keys giving the same text are refused. A byte
 * string becomes {"$bytes": "<base64>"} (RFC 4648 section 4, padded); a tag
 * becomes its content. Refused: NaN and infinities, simple values other than
 * false, true, null and undefined, malformed CBOR.
 *
 * JSON to CBOR: the reverse, in deterministic encoding (RFC 8949 section
 * 4.2.1, map keys sorted): a JSON integer becomes a CBOR integer, a JSON real
 * a float (shortest exact form), an object of the one key "$bytes" with a
 * base64 string (either alphabet, padding optional) a byte string.
 *
 * Both ways refuse nesting deeper than TERND_CBORJSON_MAX_DEPTH containers
 * (arrays, maps, tags). Errors return -1 with a one-line reason in @p err
 * (@p cap bytes).
 */
#ifndef TERND_CBORJSON_H
#define TERND_CBORJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The deepest nesting of containers either way converts. */
#define TERND_CBORJSON_MAX_DEPTH 16

/** Format an error into @p err (@p cap bytes, may be NULL) and return -1 (the convention of
 * ternd's pieces: 0 success, -1 failure with a message). */
int ternd_errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/**
 * Convert the one CBOR item in @p buf (@p len bytes) to a new JSON value in
 * *out (the caller json_decref()s it). 0, or -1 with the reason in @p err.
 */
int ternd_cbor_to_json(const uint8_t *buf, size_t len, json_t **out, char *err, size_t cap);

/**
 * Encode @p j as one deterministic CBOR item in a new malloc()ed buffer *out
 * of *out_len bytes (the caller free()s it). 0, or -1 with the reason in @p err.
 */
int ternd_json_to_cbor(const json_t *j, uint8_t **out, size_t *out_len, char *err, size_t cap);

/**
 * @p j as compact JSON text in a new malloc()ed NUL-terminated string (*len,
 * may be NULL, its length), each real in the shortest form that reads back as
 * the same double (21.53, where jansson's own json_dumps() writes
 * 21.530000000000001). NULL if out of memory or nested deeper than 1024.
 */
char *ternd_json_dump(const json_t *j, size_t *len);

/**
 * @p n bytes at @p p as base64 in a new malloc()ed NUL-terminated string:
 * the standard alphabet, padded, or with @p url the URL-safe alphabet
 * without padding (RFC 4648 section 5, as SenML's JSON "vd" uses). NULL if out
 * of memory.
 */
char *ternd_base64_encode(const uint8_t *p, size_t n, bool url);

/**
 * Decode @p n characters of base64 at @p s (either alphabet, '=' padding
 * optional) into a new malloc()ed buffer *out of *out_len bytes (the caller
 * free()s it). 0, or -1 for a character outside the alphabet, misplaced
 * padding or an impossible length.
 */
int ternd_base64_decode(const char *s, size_t n, uint8_t **out, size_t *out_len);

#endif /* TERND_CBORJSON_H */
