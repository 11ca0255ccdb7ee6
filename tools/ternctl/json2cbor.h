/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON (RFC 8259) to deterministic CBOR (RFC 8949 section 4.2.1) for
 * `ternctl cbor encode`: a recursive-descent parser that feeds tern's encoder.
 *
 * Mapping: object -> map with text keys, array -> array, string -> text (every
 * escape decoded, \uXXXX surrogate pairs combined, lone surrogates refused),
 * true/false/null -> simple values, an integer literal that fits in
 * -2^64..2^64-1 -> integer, any other number -> float (preferred
 * serialization). The encoder sorts the keys of each map; an object with the
 * same key twice is refused (deterministic CBOR has no room for it).
 *
 * The input is parsed twice: once to validate it (so every syntax error names
 * its byte), once to encode it, counting the members of each container ahead
 * of its header (tern_cbor_enc_map() needs the count). Containers nested
 * deeper than the encoder's TERN_CBOR_MAX_DEPTH are encoded by a second
 * encoder into a segment of the work area and copied in whole with
 * tern_cbor_enc_raw(), so JSON2CBOR_MAX_DEPTH levels fit whatever the library
 * was configured with.
 */
#ifndef TERNCTL_JSON2CBOR_H
#define TERNCTL_JSON2CBOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/cbor.h"

/** The deepest nesting of arrays and objects accepted. */
#define JSON2CBOR_MAX_DEPTH 64

/** Extra encoders needed for JSON2CBOR_MAX_DEPTH levels. */
#define JSON2CBOR_SEGMENTS ((JSON2CBOR_MAX_DEPTH - 1) / TERN_CBOR_MAX_DEPTH)

/** Work area for @p in_max bytes of JSON into at most @p out_max bytes of CBOR. */
#define JSON2CBOR_WORK_SIZE(in_max, out_max) ((in_max) + JSON2CBOR_SEGMENTS * (out_max))

typedef struct json2cbor_error {
    const char *what; /* "unexpected character", "duplicate key", ... */
    size_t offset;    /* the byte of the JSON input it is about */
} json2cbor_error_t;

/**
 * Encode the JSON text @p json (@p len bytes; json[len] must be readable and
 * '\0') into @p out (@p cap bytes); *out_len gets the CBOR length. @p work
 * (@p work_cap bytes, JSON2CBOR_WORK_SIZE(len, cap) is enough) is scratch.
 * False and *err on any error.
 */
bool json2cbor(const char *json, size_t len, uint8_t *out, size_t cap, size_t *out_len,
               uint8_t *work, size_t work_cap, json2cbor_error_t *err);

#endif /* TERNCTL_JSON2CBOR_H */
