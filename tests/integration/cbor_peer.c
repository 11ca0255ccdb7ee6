/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The C side of the round trip against Python's cbor2 (cbor_roundtrip.py): reads a
 * CBOR sequence (RFC 8742) on stdin, decodes each item with tern's decoder and
 * encodes it again with tern's encoder (with -d: deterministically, and the output
 * is checked to pass the decoder's deterministic validation), writing the new
 * sequence to stdout. Indefinite lengths, tags, simple values and floats are kept
 * as what they are (floats in preferred serialization). Exit 1 with the error and
 * its byte offset on anything it cannot decode.
 *
 * usage: cbor_peer [-d] < in.cbor > out.cbor
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/cbor.h"

static uint8_t g_in[8u << 20], g_out[16u << 20];

/* Re-encode one decoded item; containers and strings open or close as they come. */
static tern_err_t transcode(tern_cbor_enc_t *e, const tern_cbor_item_t *it)
{
    switch (it->type) {
    case TERN_CBOR_UINT:
        return tern_cbor_enc_uint(e, it->u);
    case TERN_CBOR_NEGINT:
        return tern_cbor_enc_negative(e, it->u);
    case TERN_CBOR_BYTES:
        return it->indefinite ? tern_cbor_enc_bytes_indef(e)
                              : tern_cbor_enc_bytes(e, it->ptr, it->len);
    case TERN_CBOR_TEXT:
        return it->indefinite ? tern_cbor_enc_text_indef(e)
                              : tern_cbor_enc_text(e, (const char *)it->ptr, it->len);
    case TERN_CBOR_ARRAY:
        return it->indefinite ? tern_cbor_enc_array_indef(e) : tern_cbor_enc_array(e, it->u);
    case TERN_CBOR_MAP:
        return it->indefinite ? tern_cbor_enc_map_indef(e) : tern_cbor_enc_map(e, it->u);
    case TERN_CBOR_TAG:
        return tern_cbor_enc_tag(e, it->u);
    case TERN_CBOR_SIMPLE:
        return tern_cbor_enc_simple(e, (uint8_t)it->u);
    case TERN_CBOR_FLOAT:
        return tern_cbor_enc_float(e, it->f);
    case TERN_CBOR_END:
        return TERN_OK; /* closed by the caller when the container was indefinite */
    }
    return TERN_ERR_INVAL;
}

int main(int argc, char **argv)
{
    unsigned flags = argc > 1 && strcmp(argv[1], "-d") == 0 ? TERN_CBOR_DETERMINISTIC : 0;
    size_t n = fread(g_in, 1, sizeof g_in, stdin);
    tern_cbor_enc_t e;
    tern_cbor_enc_init(&e, g_out, sizeof g_out, flags);
    size_t pos = 0, items = 0;
    while (pos < n) {
        tern_cbor_dec_t d;
        tern_cbor_item_t it;
        /* which open containers were indefinite: their END is a break */
        bool indef[TERN_CBOR_MAX_DEPTH + 1];
        unsigned depth = 0;
        tern_cbor_dec_init(&d, g_in + pos, n - pos, 0);
        tern_err_t err;
        while ((err = tern_cbor_dec_next(&d, &it)) == TERN_OK) {
            if (it.type == TERN_CBOR_END) {
                if (depth == 0) {
                    err = TERN_ERR_STATE;
                    break;
                }
                if (indef[--depth]) {
                    err = tern_cbor_enc_break(&e);
                }
            } else {
                err = transcode(&e, &it);
                bool opens =
                    it.type == TERN_CBOR_ARRAY || it.type == TERN_CBOR_MAP ||
                    ((it.type == TERN_CBOR_BYTES || it.type == TERN_CBOR_TEXT) && it.indefinite);
                if (opens && depth <= TERN_CBOR_MAX_DEPTH) {
                    indef[depth++] = it.indefinite;
                }
            }
            if (err != TERN_OK) {
                break;
            }
        }
        if (err != TERN_ERR_EMPTY && err != TERN_ERR_CBOR_TRAILING) {
            fprintf(stderr, "cbor_peer: item %u: %s at byte %u\n", (unsigned)items,
                    tern_strerror(err), (unsigned)(pos + tern_cbor_dec_offset(&d)));
            return 1;
        }
        pos += tern_cbor_dec_offset(&d);
        items++;
    }
    size_t len = 0;
    tern_err_t err = tern_cbor_enc_finish(&e, &len);
    if (err != TERN_OK) {
        fprintf(stderr, "cbor_peer: encode: %s\n", tern_strerror(err));
        return 1;
    }
    if (flags) { /* what we wrote deterministically must validate as deterministic */
        for (size_t at = 0; at < len;) {
            size_t off = 0;
            err = tern_cbor_validate(g_out + at, len - at, TERN_CBOR_DETERMINISTIC, &off);
            if (err != TERN_OK && err != TERN_ERR_CBOR_TRAILING) {
                fprintf(stderr, "cbor_peer: own output not deterministic: %s at byte %u\n",
                        tern_strerror(err), (unsigned)(at + off));
                return 1;
            }
            at += err == TERN_OK ? len - at : off;
        }
    }
    fwrite(g_out, 1, len, stdout);
    fprintf(stderr, "cbor_peer: %u items, %u bytes in, %u bytes out\n", (unsigned)items,
            (unsigned)n, (unsigned)len);
    return 0;
}
