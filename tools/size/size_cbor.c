/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A firmware image for the size table that calls every public function of
 * the CBOR encoder and decoder (the diagnostic printer apart). The flags come
 * from TERN_SIZE_CBOR_FLAGS as a constant, as firmware writes them: 0 links
 * the codec with its strict validation only; TERN_CBOR_DETERMINISTIC |
 * TERN_CBOR_CHECK_DUPLICATES also links the map sorting and the optional
 * checks (cbor_det.c). make size sums, from the link map, what was kept of
 * the CBOR objects.
 */
#include "tern/cbor.h"

#ifndef TERN_SIZE_CBOR_FLAGS
#define TERN_SIZE_CBOR_FLAGS 0u
#endif

/* volatile so the compiler cannot drop or fold any call. */
static volatile uintptr_t g_sink;

int main(void)
{
    static uint8_t buf[64];
    static tern_cbor_enc_t e;
    static tern_cbor_dec_t d;
    tern_cbor_item_t it;
    size_t n = 0;
    tern_cbor_enc_init(&e, buf, sizeof buf, TERN_SIZE_CBOR_FLAGS);
    g_sink += (uintptr_t)tern_cbor_enc_map(&e, 2);
    g_sink += (uintptr_t)tern_cbor_enc_uint(&e, g_sink);
    g_sink += (uintptr_t)tern_cbor_enc_negative(&e, g_sink);
    g_sink += (uintptr_t)tern_cbor_enc_text(&e, "t", 1);
    g_sink += (uintptr_t)tern_cbor_enc_array(&e, 5);
    g_sink += (uintptr_t)tern_cbor_enc_bytes(&e, buf, 1);
    g_sink += (uintptr_t)tern_cbor_enc_tag(&e, 1);
    g_sink += (uintptr_t)tern_cbor_enc_float(&e, (double)g_sink);
    g_sink += (uintptr_t)tern_cbor_enc_simple(&e, (uint8_t)g_sink);
    g_sink += (uintptr_t)tern_cbor_enc_array_of(&e, 1, buf, 1);
    g_sink += (uintptr_t)tern_cbor_enc_indef(&e, (unsigned)g_sink);
    g_sink += (uintptr_t)tern_cbor_enc_break(&e);
    g_sink += (uintptr_t)tern_cbor_enc_raw(&e, buf, 1);
    g_sink += (uintptr_t)tern_cbor_enc_finish(&e, &n);
    tern_cbor_dec_init(&d, buf, n, TERN_SIZE_CBOR_FLAGS);
    g_sink += (uintptr_t)tern_cbor_dec_next(&d, &it);
    g_sink += (uintptr_t)tern_cbor_dec_skip(&d, &it);
    g_sink += (uintptr_t)tern_cbor_dec_offset(&d);
    g_sink += (uintptr_t)tern_cbor_validate(buf, n, TERN_SIZE_CBOR_FLAGS, &n);
    return (int)g_sink;
}
