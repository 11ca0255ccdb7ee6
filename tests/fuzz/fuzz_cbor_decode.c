/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The strict CBOR decoder and diagnostic notation on arbitrary bytes, with
 * each combination of TERN_CBOR_DETERMINISTIC and TERN_CBOR_CHECK_DUPLICATES.
 * Every walk is checked as it goes: strings lie inside the buffer, item
 * offsets never go back, no more ENDs than containers opened (and as many
 * when the walk completes), the nesting stays within TERN_CBOR_MAX_DEPTH.
 * Then: tern_cbor_validate() agrees with the walk (error and byte); a walk
 * that skips containers ends the same way; a flag only adds its own errors,
 * never earlier than the fault without it; tern_cbor_diag() succeeds exactly
 * when the walk does, else returns the walk's error, and on a short buffer
 * gives TERN_ERR_TOO_SMALL with a NUL-terminated prefix of the full text.
 * The decoder's short way (TERN_CBOR_FAST) gives item for item what the
 * whole way gives (cbor_dec_whole.c: the same source without it), also as a
 * CBOR sequence. The input is a heap block of exactly its size, so ASan sees
 * any read past the end.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

#include "tern/cbor.h"

typedef struct {
    tern_err_t err; /* TERN_ERR_EMPTY: well-formed and valid */
    size_t offset;
    size_t items;
} result_t;

/* Walk every item; skip containers where @p skip_mask says so (bit i of the item count). */
static result_t walk(const uint8_t *b, size_t n, unsigned flags, uint32_t skip_mask)
{
    tern_cbor_dec_t d;
    tern_cbor_item_t it;
    tern_err_t e;
    size_t opened = 0, ends = 0, last = 0, items = 0;
    unsigned depth = 0; /* containers and indefinite strings, as the walk sees them */
    tern_cbor_dec_init(&d, b, n, flags);
    while ((e = tern_cbor_dec_next(&d, &it)) == TERN_OK) {
        CHECK(it.offset >= last && it.offset < n + (it.type == TERN_CBOR_END));
        CHECK(it.offset <= tern_cbor_dec_offset(&d) && tern_cbor_dec_offset(&d) <= n);
        last = it.offset;
        items++;
        CHECK(d.depth <= TERN_CBOR_MAX_DEPTH);
        switch (it.type) {
        case TERN_CBOR_BYTES:
        case TERN_CBOR_TEXT:
            if (it.indefinite) {
                CHECK(it.ptr == NULL && it.len == 0);
                goto opens;
            }
            CHECK(it.ptr > b + it.offset && it.len <= n && it.ptr + it.len <= b + n);
            CHECK((size_t)(it.ptr + it.len - b) == tern_cbor_dec_offset(&d));
            if (it.type == TERN_CBOR_TEXT) {
                CHECK(memchr(it.ptr, 0xFF, it.len) == NULL); /* never in UTF-8 */
            }
            break;
        case TERN_CBOR_ARRAY:
        case TERN_CBOR_MAP:
        opens:
            opened++;
            depth++;
            if (skip_mask & (1u << (items % 32))) {
                size_t before = d.depth;
                e = tern_cbor_dec_skip(&d, &it);
                if (e) {
                    goto out;
                }
                CHECK(d.depth < before);
                ends++; /* its END went by inside skip() */
                depth--;
            }
            break;
        case TERN_CBOR_END:
            ends++;
            CHECK(ends <= opened && depth > 0);
            depth--;
            break;
        case TERN_CBOR_FLOAT:
            CHECK(it.bits == 16 || it.bits == 32 || it.bits == 64);
            break;
        case TERN_CBOR_SIMPLE:
            CHECK(it.u < 24 || (it.u >= 32 && it.u <= 255));
            break;
        case TERN_CBOR_TAG:
            if (skip_mask & (1u << (items % 32))) {
                e = tern_cbor_dec_skip(&d, &it);
                if (e) {
                    goto out;
                }
            }
            break;
        default:
            CHECK(it.type == TERN_CBOR_UINT || it.type == TERN_CBOR_NEGINT);
            break;
        }
        CHECK(depth <= TERN_CBOR_MAX_DEPTH);
    }
out:
    /* Sticky, and the same byte either way it is asked. */
    CHECK(tern_cbor_dec_next(&d, &it) == e);
    CHECK(it.offset == tern_cbor_dec_offset(&d));
    CHECK(tern_cbor_dec_skip(&d, &it) == (e == TERN_ERR_EMPTY ? TERN_OK : e));
    CHECK(tern_cbor_dec_offset(&d) <= n);
    if (e == TERN_ERR_EMPTY) {
        CHECK(ends == opened && depth == 0 && tern_cbor_dec_offset(&d) == n);
    } else {
        CHECK(e < 0 && e != TERN_ERR_TOO_SMALL);
    }
    return (result_t){ e, tern_cbor_dec_offset(&d), items };
}

void whole_dec_setup(tern_cbor_dec_t *d, const uint8_t *buf, size_t len, unsigned flags);
tern_err_t whole_dec_next(tern_cbor_dec_t *d, tern_cbor_item_t *it);
size_t whole_dec_offset(const tern_cbor_dec_t *d);

/* The short way and the whole way agree on every item, the end and its byte. */
static void same_both_ways(const uint8_t *b, size_t n, unsigned flags)
{
    tern_cbor_dec_t fast, whole;
    tern_cbor_item_t x, y;
    tern_err_t e;
    tern_cbor_dec_init(&fast, b, n, flags);
    whole_dec_setup(&whole, b, n, flags);
    if (flags & (TERN_CBOR_DETERMINISTIC | TERN_CBOR_CHECK_DUPLICATES)) {
        whole.check = tern_cbor_dec_check;
    }
    do {
        e = tern_cbor_dec_next(&fast, &x);
        CHECK(whole_dec_next(&whole, &y) == e);
        CHECK(memcmp(&x, &y, sizeof x) == 0); /* every field, as both zero the padding */
        CHECK(tern_cbor_dec_offset(&fast) == whole_dec_offset(&whole));
        CHECK(fast.depth == whole.depth);
    } while (e == TERN_OK);
}

static bool flag_error(tern_err_t e)
{
    return e == TERN_ERR_CBOR_DUPLICATE_KEY || e == TERN_ERR_CBOR_NOT_DETERMINISTIC;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192) {
        return 0;
    }
    uint8_t *b = malloc(size ? size : 1);
    CHECK(b != NULL);
    memcpy(b, data, size);
    uint32_t mask = 0;
    for (size_t i = 0; i < size && i < 4; i++) {
        mask = mask << 8 | data[size - 1 - i];
    }

    same_both_ways(b, size, 0);
    same_both_ways(b, size, TERN_CBOR_SEQUENCE);
    same_both_ways(b, size, TERN_CBOR_CHECK_DUPLICATES);
    result_t plain = walk(b, size, 0, 0);
    for (unsigned flags = 0; flags < 4; flags++) { /* 1 DET, 2 DUP, 3 both */
        result_t r = flags ? walk(b, size, flags, 0) : plain;
        size_t off = (size_t)-1;
        tern_err_t v = tern_cbor_validate(b, size, flags, &off);
        CHECK(v == (r.err == TERN_ERR_EMPTY ? TERN_OK : r.err) && off == r.offset);
        /* Skipping sees the same faults at the same bytes. */
        if (flags == 0 || flags == 3) {
            result_t s = walk(b, size, flags, mask);
            CHECK(s.err == r.err && s.offset == r.offset && s.items <= r.items);
        }
        /* A flag adds its own errors only, never past the plain walk's fault. */
        if (flag_error(r.err)) {
            CHECK(flags != 0 && r.offset <= plain.offset);
        } else {
            CHECK(r.err == plain.err && r.offset == plain.offset);
        }
        if (flags == 0) {
            CHECK(!flag_error(r.err));
        }
    }

    /* Diagnostic notation: at most 12 characters per input byte, plus a few. */
    size_t cap = 12 * size + 16, len = 0, len2 = 0;
    char *out = malloc(cap), *small = malloc(cap);
    CHECK(out != NULL && small != NULL);
    tern_err_t e = tern_cbor_diag(b, size, out, cap, &len);
    CHECK(e == (plain.err == TERN_ERR_EMPTY ? TERN_OK : plain.err));
    CHECK(len < cap && strlen(out) == len);
    if (e == TERN_OK) {
        size_t c = len ? (data[0] * (size_t)31) % len : 0; /* too small by at least 1 */
        memset(small, 'x', cap);
        CHECK(tern_cbor_diag(b, size, small, c, &len2) == TERN_ERR_TOO_SMALL && len2 == len);
        if (c) {
            CHECK(strlen(small) == c - 1 && memcmp(small, out, c - 1) == 0);
        }
        CHECK(small[c] == 'x');
        CHECK(tern_cbor_diag(b, size, small, len + 1, &len2) == TERN_OK && len2 == len);
        CHECK(strcmp(small, out) == 0);
    }
    free(small);
    free(out);
    free(b);
    return 0;
}
