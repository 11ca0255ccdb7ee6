/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to src/app: reading the expected items of a CBOR format (SenML, the
 * compact batch) with the core decoder. A format readers refuses anything of
 * another type with TERN_ERR_MALFORMED; the decoder's own errors pass through.
 */
#ifndef TERN_APP_CBOR_READ_H
#define TERN_APP_CBOR_READ_H

#include "tern/cbor.h"
#include "tern/senml.h"

/** The next item in *it; TERN_ERR_MALFORMED unless it is a @p want. */
static inline tern_err_t app_cbor_expect(tern_cbor_dec_t *d, tern_cbor_type_t want,
                                         tern_cbor_item_t *it)
{
    tern_err_t err = tern_cbor_dec_next(d, it);
    return err == TERN_OK && it->type != want ? TERN_ERR_MALFORMED : err;
}

/**
 * The next item as a view: a definite string of type @p want (TERN_CBOR_TEXT or
 * TERN_CBOR_BYTES), or, if @p nullable, null (an empty view).
 */
static inline tern_err_t app_cbor_string(tern_cbor_dec_t *d, tern_cbor_type_t want, bool nullable,
                                         tern_senml_str_t *out)
{
    tern_cbor_item_t it;
    tern_err_t err = tern_cbor_dec_next(d, &it);
    if (err != TERN_OK) {
        return err;
    }
    out->ptr = NULL;
    out->len = 0;
    if (nullable && it.type == TERN_CBOR_SIMPLE && it.u == TERN_CBOR_NULL) {
        return TERN_OK;
    }
    if (it.type != want || it.indefinite) {
        return TERN_ERR_MALFORMED; /* these formats write their strings whole */
    }
    out->ptr = (const char *)it.ptr;
    out->len = it.len;
    return TERN_OK;
}

#endif /* TERN_APP_CBOR_READ_H */
